#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Packets per second forwarded through a gateway namespace, src -> gw -> dst over veth pairs,
# with (a) wgxdp's tunnel tc programs on the gw's veth facing src (an Ethernet device: the
# link-layer length is 14, so no WireGuard crypto hides the filter's cost), (b) nftables as a
# careful operator writes the same policy (one concatenated interval set "source block .
# destination prefix", one rule looking it up, policy drop, established/related first),
# (c) iptables, one rule per (user, prefix) in FORWARD, (d) no filtering; at 1,000 and 100,000
# users x 100 and 100,000 prefixes (100,000 both in one group and over 1,000 groups).
# Every packet is allowed by every filter: this is the cost of allowing.
#
# Each filter has a src/gw/dst topology of its own (namespaces), loaded once per size, so that
# the configurations can be interleaved run by run and none of them sees another's hooks
# (conntrack, which nftables and iptables turn on, is per namespace). The sender
# (build/bench/udpblast: raw socket, sendmmsg, FWD_PPS_FLOWS flows from users' tunnel
# addresses to hosts in their allowed prefixes, 60-byte frames) is pinned to one core
# (FWD_PPS_CPU, default 0); a veth hands the packet to the next namespace on the same core, so
# the sender, the gateway's forwarding and filter and the sink (a blackhole route in dst) all
# run on that core: the pps is what one core does end to end. Counted: the dst veth's rx
# packets. Each configuration runs FWD_PPS_RUNS times (default 5) for FWD_PPS_SECS seconds
# (default 2), the configurations interleaved (order rotated each round); the median is
# reported, and its ratio to no filtering at the same size: per second of wall time, and per
# CPU second the path used (the sender's user+system time, which holds the forwarding done in
# its context, plus ksoftirqd's on that core), which other work on the machine disturbs less.
# Besides (a)-(d), "tc pass": the tc hook alone with a trivial program (tests/bench/
# bench_pass.bpf.c), where wgxdp's ingress program goes: what the hook costs before wgxdp.
#
# wgxdp's policy is loaded with build/unit/enforce_tool (what `wgxdp run` does to the maps;
# the daemon itself needs a WireGuard interface). nftables and iptables (Debian's, the nft
# backend) are installed with apt-get if missing. The nftables set's source is each group's
# block of tunnel addresses (a CIDR, the layout an operator who writes source intervals
# chooses): one element per (group, prefix), as one per (user, prefix) would be up to 10^10;
# its elements are added with `nft -f` in chunks of 10,000, so that the bound below can be
# kept between two chunks (one nft batch cannot be interrupted). A load that takes more than
# FWD_PPS_LOAD_TIMEOUT seconds (default 120) is abandoned and reported; iptables is skipped
# when users x prefixes-per-user is above FWD_PPS_IPT_MAX rules (default 100,000).
# FWD_PPS_QUICK=1: small sizes, 2 runs of 1 s (a smoke test). Exit 0 when it ran, 1 on a
# setup failure.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/lab.sh
lab_init

QUICK=${FWD_PPS_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	SIZES=${FWD_PPS_SIZES:-"100:20:1 100:1000:10 1000:100:1"}
	RUNS=${FWD_PPS_RUNS:-2}
	SECS=${FWD_PPS_SECS:-1}
else
	SIZES=${FWD_PPS_SIZES:-"1000:100:1 1000:100000:1 1000:100000:1000 100000:100:1 100000:100000:1 100000:100000:1000"}
	RUNS=${FWD_PPS_RUNS:-5}
	SECS=${FWD_PPS_SECS:-2}
fi
CPU=${FWD_PPS_CPU:-0}
FLOWS=${FWD_PPS_FLOWS:-256}
LOAD_TIMEOUT=${FWD_PPS_LOAD_TIMEOUT:-120}
IPT_MAX=${FWD_PPS_IPT_MAX:-100000}
NFT_CHUNK=10000
CONFIGS=${FWD_PPS_CONFIGS:-"none tcpass wgxdp nft ipt"}

WGXDP=$PWD/build/wgxdp
ENFORCE=$PWD/build/unit/enforce_tool
BLAST=$PWD/build/bench/udpblast
for b in "$WGXDP" "$ENFORCE" "$BLAST" build/bench_pass.bpf.o; do
	[ -e "$b" ] || lab_fail "$b not built (make)"
done
lab_require python3 taskset timeout
if ! command -v nft >/dev/null || ! command -v iptables-restore >/dev/null; then
	echo "installing nftables and iptables (apt-get)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nftables iptables \
		>"$LAB_TMP/apt.log" 2>&1 || { tail -n 20 "$LAB_TMP/apt.log" >&2; lab_fail "apt-get install nftables iptables"; }
fi
lab_require nft iptables iptables-restore

PIN=/sys/fs/bpf/wgx-bench-pps-$LAB_ID
lab_defer rm -rf "$PIN"

ns() { lab_nsenter "$@"; }
has() { [[ " $CONFIGS " == *" $1 "* ]]; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(now)"; }
# rx NS IF: the interface's rx packets (ip netns exec mounts the namespace's /sys)
rx() { ip netns exec "$LAB_ID-$1" cat "/sys/class/net/$2/statistics/rx_packets"; }

# One topology per configuration: ${c}s (s0: 192.168.1.1) <-> ${c}g (g0: .1.2, g1: 192.168.2.1)
# <-> ${c}d (d1: .2.2). No ARP (wgxdp drops what is not IP on g0): static neighbours. No IPv6.
topo() {
	local c=$1 n
	for n in s g d; do
		lab_netns "$c$n"
		ns "$c$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
			net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || lab_fail "sysctl in $c$n"
	done
	lab_veth "${c}s" s0 "${c}g" g0
	lab_veth "${c}g" g1 "${c}d" d1
	lab_addr "${c}s" s0 192.168.1.1/24
	lab_addr "${c}g" g0 192.168.1.2/24
	lab_addr "${c}g" g1 192.168.2.1/24
	lab_addr "${c}d" d1 192.168.2.2/24
	ns "${c}s" ip neigh replace 192.168.1.2 lladdr "$(ip netns exec "$LAB_ID-${c}g" cat /sys/class/net/g0/address)" dev s0 nud permanent &&
	ns "${c}g" ip neigh replace 192.168.1.1 lladdr "$(ip netns exec "$LAB_ID-${c}s" cat /sys/class/net/s0/address)" dev g0 nud permanent &&
	ns "${c}g" ip neigh replace 192.168.2.2 lladdr "$(ip netns exec "$LAB_ID-${c}d" cat /sys/class/net/d1/address)" dev g1 nud permanent &&
	ns "${c}s" ip route add 10.0.0.0/8 via 192.168.1.2 &&
	ns "${c}g" ip route add 10.0.0.0/8 via 192.168.2.2 &&
	ns "${c}g" ip route add 100.64.0.0/10 via 192.168.1.1 &&
	ns "${c}g" sysctl -qw net.ipv4.ip_forward=1 &&
	ns "${c}d" sysctl -qw net.ipv4.ip_forward=1 &&
	ns "${c}d" ip route add blackhole 10.0.0.0/8 || lab_fail "topology $c"
}
for c in $CONFIGS; do
	case $c in none|tcpass|wgxdp|nft|ipt) ;; *) lab_fail "FWD_PPS_CONFIGS: unknown $c" ;; esac
	topo "$c"
done
# tcpass: the tc hook alone, a trivial program (returns TC_ACT_OK) where wgxdp's ingress goes
if has tcpass; then
	ns tcpassg tc qdisc add dev g0 clsact &&
	ns tcpassg tc filter add dev g0 ingress prio 1 bpf da obj build/bench_pass.bpf.o sec tc ||
		lab_fail "tc filter (bench_pass) on g0"
fi
has wgxdp && lab_defer ns wgxdpg "$WGXDP" detach g0 --pin-dir "$PIN"

# The CPU time (clock ticks) of ksoftirqd on the sender's CPU: softirq work it takes over
# from the sender is part of the path's cost too.
KSOFTIRQD=$(ps -eo pid=,comm= | awk -v n="ksoftirqd/$CPU" '$2 == n { print $1 }')
[ -n "$KSOFTIRQD" ] || lab_fail "no ksoftirqd/$CPU"
HZ=$(getconf CLK_TCK)
ksoft() { awk '{ print $14 + $15 }' "/proc/$KSOFTIRQD/stat"; }

# blast C SECS: the sender in C's src namespace; prints "PPS CPUPPS SENT RECEIVED": PPS as
# received by dst per second of the sender's run, CPUPPS per CPU second spent by the sender
# (with the softirq work in its context: the whole path) and by ksoftirqd on its CPU
blast() {
	local c=$1 secs=$2 a b k0 k1 out
	a=$(rx "${c}d" d1) || return 1
	k0=$(ksoft)
	out=$(ns "${c}s" taskset -c "$CPU" "$BLAST" "$LAB_TMP/flows" "$secs") || return 1
	k1=$(ksoft)
	b=$(rx "${c}d" d1) || return 1
	python3 -c '
import sys
a, b, k0, k1, hz = map(int, sys.argv[1:6])
kv = dict(x.split("=") for x in sys.argv[6].split())
n = b - a
print("%.0f %.0f %s %d" % (n / float(kv["seconds"]),
                           n / (float(kv["cpu"]) + (k1 - k0) / hz), kv["sent"], n))' \
		"$a" "$b" "$k0" "$k1" "$HZ" "$out"
}

# wgxdp's tunnel counters: "allowed other" packets on ingress
wgx_counts() {
	ns wgxdpg "$WGXDP" status --json --pin-dir "$PIN" | python3 -c '
import json, sys
t = json.load(sys.stdin)["tunnel"]["counters"]["ingress"]["reasons"]
ok = t.get("allowed", {}).get("packets", 0)
print(ok, sum(v.get("packets", 0) for v in t.values()) - ok)'
}

# load_nft DIR: the ruleset, then its elements chunk by chunk until done or LOAD_TIMEOUT
load_nft() {
	local d=$1 t0 f
	ns nftg nft flush ruleset
	t0=$(now)
	ns nftg nft -f "$d/nft.conf" || return 1
	for f in "$d"/nft.elem.*; do
		[ -e "$f" ] || continue
		if python3 -c "import sys; sys.exit(float(sys.argv[2]) - float(sys.argv[1]) <= $LOAD_TIMEOUT)" "$t0" "$(now)"; then
			echo "timeout $(since "$t0") $(( $(basename "$f" | sed 's/nft.elem.0*//;s/^$/0/') * NFT_CHUNK ))"
			return 0
		fi
		ns nftg nft -f "$f" || return 1
	done
	echo "ok $(since "$t0")"
}

RESULTS=$LAB_TMP/results
: >"$RESULTS"
NOTES=$LAB_TMP/notes
: >"$NOTES"
note() { echo "$*" | tee -a "$NOTES"; }
t_all=$(now)

echo "fwd_pps: sender on CPU $CPU (taskset), ${RUNS} x ${SECS}s per configuration, $FLOWS flows," \
	"60-byte frames; load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
for size in $SIZES; do
	IFS=: read -r users prefixes groups <<<"$size"
	label="${users}u x ${prefixes}p/${groups}g"
	d=$LAB_TMP/$users-$prefixes-$groups
	mkdir -p "$d"
	t0=$(now)
	python3 tests/bench/fwd_pps_gen.py "$d" "$users" "$prefixes" "$groups" "$FLOWS" "$IPT_MAX" \
		"$NFT_CHUNK" || lab_fail "generating $label"
	cp "$d/flows" "$LAB_TMP/flows"
	read -r ipt_rules nft_elems < <(sed 's/[a-z_]*=//g' "$d/meta")
	echo "== $label: generated in $(since "$t0")s (nft: $nft_elems elements; iptables: $ipt_rules rules)"
	declare -A load=() state=()

	# (d) no filtering; the tc hook with a trivial program
	state[none]=ok load[none]=- state[tcpass]=ok load[tcpass]=-
	# (a) wgxdp: fresh maps, then the policy
	if has wgxdp; then
	ns wgxdpg "$WGXDP" detach g0 --pin-dir "$PIN" >/dev/null 2>&1
	ns wgxdpg "$WGXDP" attach --wg g0 --pin-dir "$PIN" >/dev/null || lab_fail "wgxdp attach --wg g0"
	l2=$(ns wgxdpg "$WGXDP" status --json --pin-dir "$PIN" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["tunnel"]["interfaces"][0]["l2_len"])')
	[ "$l2" = 14 ] || lab_fail "wgxdp: l2_len $l2 on a veth, expected 14"
	t0=$(now)
	if timeout "$LOAD_TIMEOUT" "$ENFORCE" apply "$PIN" "$d/policy.json" 2>"$LAB_TMP/enforce.err"; then
		load[wgxdp]=$(since "$t0") state[wgxdp]=ok
	else
		load[wgxdp]=$(since "$t0") state[wgxdp]=failed
		note "$label: wgxdp policy did not load: $(head -c 300 "$LAB_TMP/enforce.err")"
	fi
	fi
	# (b) nftables
	r=off
	has nft && { r=$(load_nft "$d") || r=failed; }
	case $r in
	off) ;;
	ok*) state[nft]=ok load[nft]=${r#ok } ;;
	timeout*)
		read -r _ took ndone <<<"$r"
		state[nft]=timeout load[nft]=">$took"
		ns nftg nft flush ruleset
		note "$label: nftables: not loaded within ${LOAD_TIMEOUT}s ($ndone of $nft_elems elements in $took s; the concatenated interval set's insertions cost more as it grows): not measured" ;;
	*)
		state[nft]=failed load[nft]=-
		ns nftg nft flush ruleset
		note "$label: nftables: the ruleset failed to load: not measured" ;;
	esac
	# (c) iptables
	has ipt && { ns iptg iptables -F FORWARD; ns iptg iptables -P FORWARD ACCEPT; } 2>/dev/null
	if ! has ipt; then
		:
	elif [ ! -e "$d/ipt.rules" ]; then
		state[ipt]=skipped load[ipt]=-
		note "$label: iptables: skipped: one rule per (user, prefix) is $ipt_rules rules, above FWD_PPS_IPT_MAX=$IPT_MAX (a linear walk per packet: see what the largest size it ran forwarded; and far longer to generate and load)"
	else
		t0=$(now)
		if timeout "$LOAD_TIMEOUT" nsenter --net="$(lab_ns_path iptg)" iptables-restore "$d/ipt.rules"; then
			state[ipt]=ok load[ipt]=$(since "$t0")
		else
			state[ipt]=failed load[ipt]=">$(since "$t0")"
			ns iptg iptables -F FORWARD; ns iptg iptables -P FORWARD ACCEPT
			note "$label: iptables: $ipt_rules rules did not load within ${LOAD_TIMEOUT}s: not measured"
		fi
	fi
	echo "   loads (s): wgxdp ${load[wgxdp]:--}, nft ${load[nft]:--}, iptables ${load[ipt]:--}"

	# warm-up (flows, conntrack entries), then the rounds
	declare -A pps=() cpps=() sent=() rcvd=()
	for c in $CONFIGS; do
		[ "${state[$c]:-}" = ok ] || continue
		blast "$c" 0.3 >/dev/null || lab_fail "udpblast in ${c}s"
	done
	[ "${state[wgxdp]:-}" = ok ] && read -r w_ok0 w_bad0 < <(wgx_counts)
	# shellcheck disable=SC2086 # a list of words
	set -- $CONFIGS
	for ((r = 0; r < RUNS; r++)); do
		for c in "$@"; do
			[ "${state[$c]:-}" = ok ] || continue
			out=$(blast "$c" "$SECS") || lab_fail "udpblast in ${c}s"
			read -r p q s n <<<"$out"
			pps[$c]="${pps[$c]:-} $p" cpps[$c]="${cpps[$c]:-} $q" sent[$c]=$(( ${sent[$c]:-0} + s )) rcvd[$c]=$(( ${rcvd[$c]:-0} + n ))
		done
		set -- "${@:2}" "$1"	# rotate the order
	done
	if [ "${state[wgxdp]:-}" = ok ]; then
		read -r w_ok w_bad < <(wgx_counts)
		w_ok=$((w_ok - w_ok0)) w_bad=$((w_bad - w_bad0))
		echo "   wgxdp ingress during the runs: $w_ok allowed, $w_bad dropped (of ${sent[wgxdp]} sent)"
		[ "$w_bad" -eq 0 ] && [ "$w_ok" -gt 0 ] ||
			note "$label: wgxdp: $w_bad packets dropped, $w_ok allowed: not every packet took the allowed path"
	fi
	for c in $CONFIGS; do
		echo "$label|$c|${state[$c]:-}|${load[$c]:--}|${pps[$c]:-}|${cpps[$c]:-}|${sent[$c]:-0}|${rcvd[$c]:-0}" >>"$RESULTS"
		[ -n "${pps[$c]:-}" ] && echo "   $c: pps per run:${pps[$c]}; per CPU second:${cpps[$c]}"
	done
	unset load state pps cpps sent rcvd
done

echo
echo "fwd_pps: packets/s received through the gateway, median of $RUNS x ${SECS}s, sender and"
echo "forwarding on CPU $CPU: pps per second of wall time, and per CPU second the path used (the"
echo "sender's user+system time, which holds the forwarding done in its context, plus"
echo "ksoftirqd/$CPU): on a busy machine the second is the one to compare. Ratios: to no"
echo "filtering at the same size. Load: the filter's load time in seconds."
python3 - "$RESULTS" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("|") for l in open(sys.argv[1])]
def med(runs):
    v = [float(x) for x in runs.split()]
    return (statistics.median(v), 100 * (max(v) - min(v)) / statistics.median(v)) if v else (None, None)
base = {}
for size, c, st, load, pps, cpps, sent, rcvd in rows:
    if c == "none":
        base[size] = (med(pps)[0], med(cpps)[0])
fmt = "%-23s %-8s %7s %9s %6s %9s %6s %7s %6s %5s  %s"
print(fmt % ("users x prefixes/groups", "filter", "load s", "pps", "ratio", "pps/cpu", "ratio",
             "+ns/pkt", "spread", "lost", ""))
names = {"none": "none", "tcpass": "tc pass", "wgxdp": "wgxdp", "nft": "nftables",
         "ipt": "iptables"}
for size, c, st, load, pps, cpps, sent, rcvd in rows:
    (m, sp), (mc, spc) = med(pps), med(cpps)
    if m is None:
        print(fmt % (size, names[c], load, "-", "-", "-", "-", "-", "-", "-", st))
        continue
    b, bc = base.get(size, (None, None))
    lost = "%.1f%%" % (100 * (1 - int(rcvd) / int(sent))) if int(sent) else "-"
    print(fmt % (size, names[c], load, "%.0f" % m, "%.3f" % (m / b) if b else "-",
                 "%.0f" % mc, "%.3f" % (mc / bc) if bc else "-",
                 "%.0f" % (1e9 / mc - 1e9 / bc) if bc else "-", "%.0f%%" % spc, lost, ""))
print("(+ns/pkt: CPU time per packet over no filtering; spread: (max - min) / median of the")
print(" per-CPU-second runs; lost: sent by udpblast, not received by dst)")
EOF
if [ -s "$NOTES" ]; then
	echo "notes:"
	sed 's/^/  /' "$NOTES"
fi
echo "fwd_pps: done in $(since "$t_all")s; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
exit 0
