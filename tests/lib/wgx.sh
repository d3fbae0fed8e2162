# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# shellcheck shell=bash
# wgxdp helpers for the integration tests, on top of tests/lib/lab.sh.
#
#   wgx_init                       a pin directory of the test's own, removed at cleanup
#   wgx NS ARGS...                 run wgxdp in namespace NS
#   wgx_ctr NS IFACE CLASS [REASON] [pass|drop]   a counter from `status --json`
#   wgx_json NS EXPR               evaluate a python expression on `status --json` (as s)

WGXDP=${WGXDP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/wgxdp}

wgx_init() {
	[ -x "$WGXDP" ] || lab_fail "$WGXDP not built (make)"
	lab_require python3
	export WGXDP_PIN_DIR=/sys/fs/bpf/wgxdp-$LAB_ID
	lab_defer rm -rf "$WGXDP_PIN_DIR"
	lab_on_fail _wgx_report
}

# wgxdp's part of a failure report (lab_on_fail): the daemon's peers in its namespace, and
# the uplink's state and counters in each namespace with an interface attached.
_wgx_report() {
	local ns ifs
	[ -d "$WGXDP_PIN_DIR" ] || { echo "---- no pin directory $WGXDP_PIN_DIR"; return 0; }
	if [ -n "${WGX_DAEMON_NS:-}" ]; then
		echo "---- wgxdp peers (namespace $WGX_DAEMON_NS; daemon pid ${DAEMON:-?}$(kill -0 "${DAEMON:-0}" 2>/dev/null || echo ', not running'))"
		wgx "$WGX_DAEMON_NS" peers 2>&1 | head -n 60
		wgx "$WGX_DAEMON_NS" peers --json 2>&1 |
			python3 -c 'import json,sys; print("daemon:", json.load(sys.stdin)["daemon"])' 2>&1
	fi
	for ns in $(lab_netns_names); do
		ifs=$(lab_nsenter "$ns" ip -o link show 2>/dev/null | grep -c ' prog/xdp\| xdp')
		[ "$ifs" -gt 0 ] || continue
		echo "---- wgxdp status (namespace $ns)"
		wgx "$ns" status 2>&1 | head -n 60
	done
}

wgx() {
	local ns=$1
	shift
	lab_nsenter "$ns" "$WGXDP" "$@"
}

wgx_json() {
	local ns=$1 expr=$2
	wgx "$ns" status --json | python3 -c "import json,sys; s=json.load(sys.stdin); print($expr)"
}

# wgx_ctr NS IFACE CLASS [REASON] [VERDICT]: packets; without REASON, pass+drop of the class.
wgx_ctr() {
	local ns=$1 ifname=$2 class=$3 reason=${4:-} verdict=${5:-pass}
	wgx "$ns" status --json | python3 -c '
import json, sys
ifname, cls, reason, verdict = sys.argv[1:5]
s = json.load(sys.stdin)
i = [i for i in s["interfaces"] if i["name"] == ifname]
if not i:
    print(-1); sys.exit()
c = i[0]["counters"][cls]
if reason:
    print(c["reasons"].get(reason, {}).get(verdict, 0))
else:
    print(c["pass"] + c["drop"])
' "$ifname" "$class" "$reason" "$verdict"
}

# expect_eq WHAT GOT WANT / expect_ge WHAT GOT MIN
expect_eq() { [ "$2" = "$3" ] || lab_fail "$1: expected $3, got $2"; echo "ok: $1 = $2"; }
expect_ge() { [ "$2" -ge "$3" ] 2>/dev/null || lab_fail "$1: expected >= $3, got $2"; echo "ok: $1 = $2 (>= $3)"; }

# wgx_uplinks NET C...: a gateway namespace gw and, for each C, a client namespace cC joined
# to it by a veth cCu <-> gCu, addressed 10.NET.I.1/24 <-> 10.NET.I.2/24 (I = 1, 2, ... in
# order), with the uplink program attached to gCu for port 51820.
wgx_uplinks() {
	local net=$1 c i=1
	shift
	lab_netns gw
	for c in "$@"; do
		lab_netns "c$c"
		lab_veth "c$c" "c${c}u" gw "g${c}u"
		lab_addr "c$c" "c${c}u" "10.$net.$i.1/24"
		lab_addr gw "g${c}u" "10.$net.$i.2/24"
		wgx gw attach "g${c}u" --port 51820 >/dev/null || lab_fail "attach g${c}u"
		i=$((i + 1))
	done
}

# wgx_wg_clients NET C...: after wgx_uplinks NET C..., the gateway's WireGuard device $GW
# (port 51820, 100.64.0.1/24, its public key in $pg) and one client per C in namespace cC
# (device ${LAB_ID}C, port 41000+i, 100.64.0.1i/24, the gateway its peer at 10.NET.i.2:51820);
# the clients' public keys in pub[C].
wgx_wg_clients() {
	local net=$1 c k kg i=1
	shift
	kg=$(lab_genkey)
	pg=$(lab_pubkey "$kg")
	GW=${LAB_ID}g
	lab_wg gw "$GW" "$kg" 51820 100.64.0.1/24
	# shellcheck disable=SC2034 # used by the caller
	declare -gA pub
	for c in "$@"; do
		k=$(lab_genkey)
		# shellcheck disable=SC2034 # used by the caller
		pub[$c]=$(lab_pubkey "$k")
		lab_wg "c$c" "${LAB_ID}$c" "$k" $((41000 + i)) "100.64.0.1$i/24"
		lab_wg_peer "c$c" "${LAB_ID}$c" "$pg" endpoint "10.$net.$i.2:51820" allowed-ips 100.64.0.0/24
		i=$((i + 1))
	done
}

# wgx_daemon NS ARGS...: `wgxdp run ARGS` in namespace NS, in the background, its log in
# $LAB_TMP/run.log; returns once it is ready. DAEMON is its pid (nsenter execs wgxdp, so
# kill -9 $DAEMON hits the daemon itself).
wgx_daemon() {
	local ns=$1
	shift
	# a previous daemon's log would pass for this one's until the redirection truncates it
	rm -f "$LAB_TMP/run.log"
	lab_spawn --log "$LAB_TMP/run.log" nsenter --net="$(lab_ns_path "$ns")" "$WGXDP" run "$@"
	DAEMON=$LAB_PID
	WGX_DAEMON_NS=$ns
	lab_wait_until 60 _wgx_daemon_up && grep -q "public key" "$LAB_TMP/run.log" && return 0
	lab_fail "wgxdp run $* did not start (within 60 s)"
}
_wgx_daemon_up() { grep -q "public key" "$LAB_TMP/run.log" || ! kill -0 "$DAEMON" 2>/dev/null; }

# wgx_first_attempt GWNS IFACE CLIENTNS ADDR: a ping from CLIENTNS to ADDR (through the
# tunnel) is answered after exactly one handshake initiation counted by the uplink on IFACE
# (in GWNS): the client's first attempt got in. An outcome, not a speed: the ping may take as
# long as the machine needs (up to 20 s), but a retry (5 s later) would be a second initiation.
# Returns 1 when no answer, 2 when answered after a retry (saying so).
wgx_first_attempt() {
	local ns=$1 ifname=$2 cns=$3 addr=$4 n0 n1 t0
	n0=$(wgx_ctr "$ns" "$ifname" initiation)
	t0=$(date +%s%N)
	lab_nsenter "$cns" ping -c 1 -W 20 "$addr" >/dev/null || return 1
	WGX_MS=$((($(date +%s%N) - t0) / 1000000))
	n1=$(wgx_ctr "$ns" "$ifname" initiation)
	[ "$n1" -eq $((n0 + 1)) ] && return 0
	lab_log "$cns: answered in $WGX_MS ms after $((n1 - n0)) initiations on $ifname: not on its first attempt"
	return 2
}

# wgx_stat NS FIELD: one of the daemon's counters (wgx_jit_stats) from `wgxdp peers --json`
wgx_stat() {
	wgx "$1" peers --json | python3 -c "import json,sys; print(json.load(sys.stdin)['daemon']['$2'])"
}

_wgx_stat_ge() { [ "$(wgx_stat "$1" "$2")" -ge "$3" ]; }

# wgx_wait_stat NS FIELD MIN [WHAT]: expect_ge on the daemon's counter once it reached MIN, or
# after 30 s: the daemon counts an event when it has handled it, a moment after the packet.
wgx_wait_stat() {
	lab_wait_until 30 _wgx_stat_ge "$1" "$2" "$3"
	expect_ge "${4:-$2}" "$(wgx_stat "$1" "$2")" "$3"
}
