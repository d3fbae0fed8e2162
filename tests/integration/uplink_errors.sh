#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# Errors say what and why in one line, exit non-zero and leave no half-attached state:
# unknown interface, missing privileges, a pin directory not on bpffs, a driver without
# native XDP, bad arguments (numbers are checked whole). Also: skb mode and mode changes, and
# concurrent invocations.
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx

# expect_err WHAT EXIT PATTERN CMD...: CMD fails with EXIT and one stderr line matching PATTERN
expect_err() {
	local what=$1 want=$2 pat=$3 rc lines
	shift 3
	"$@" >"$LAB_TMP/out" 2>"$LAB_TMP/err"
	rc=$?
	lines=$(wc -l <"$LAB_TMP/err")
	[ "$rc" = "$want" ] || { cat "$LAB_TMP/err"; lab_fail "$what: exit $rc, expected $want"; }
	[ "$lines" = 1 ] || { cat "$LAB_TMP/err"; lab_fail "$what: $lines lines on stderr, expected 1"; }
	grep -qE "$pat" "$LAB_TMP/err" || { cat "$LAB_TMP/err"; lab_fail "$what: stderr does not say /$pat/"; }
	echo "ok: $what: $(cat "$LAB_TMP/err")"
}

no_pins() { [ ! -e "$WGXDP_PIN_DIR" ] || lab_fail "$1: $WGXDP_PIN_DIR left behind"; }

lab_netns a
lab_netns b
lab_veth a va b vb
lab_addr a va 10.78.0.1/24
lab_addr b vb 10.78.0.2/24

expect_err "unknown interface" 1 "nosuch0: no such interface" wgx b attach nosuch0
no_pins "unknown interface"
expect_err "port 0" 2 "not a port number" wgx b attach vb --port 0
expect_err "bad mode" 2 "expected native or skb" wgx b attach vb --mode fast
expect_err "pin dir not on bpffs" 1 "not on a bpffs" wgx b attach vb --pin-dir "$LAB_TMP/pins/wgxdp"
expect_err "detach when not attached" 1 "not attached" wgx b detach vb
expect_err "events when not attached" 1 "run wgxdp attach first" wgx b events --count 1
expect_err "unknown command" 2 "unknown command" "$WGXDP" frobnicate
expect_err "events --count abc" 2 "^wgxdp events: --count abc: expected a number$" wgx b events --count abc
expect_err "events --count 5x" 2 "events: --count 5x: expected a number$" wgx b events --count 5x
expect_err "events --count -1" 2 "events: --count -1: expected a number$" wgx b events --count -1
expect_err "events --count 0" 2 "events: --count 0: expected at least 1$" wgx b events --count 0
expect_err "events --count too big" 2 "events: --count 99999999999999999999999: too large$" \
	wgx b events --count 99999999999999999999999
expect_err "events --timeout 1.5" 2 "events: --timeout 1.5: expected a number$" wgx b events --timeout 1.5
expect_err "events --timeout empty" 2 "events: --timeout : expected a number$" wgx b events --timeout ""
expect_err "port with a sign" 2 "port \\+80: not a port number" wgx b attach vb --port +80
expect_err "port with a blank" 2 "not a port number" wgx b attach vb --port " 80"
expect_err "port too big" 2 "not a port number" wgx b attach vb --port 65536
lab_nsenter b ip link show vb | grep -q xdp && lab_fail "vb has an XDP program after failed attaches"
no_pins "failed attaches"

# Missing privileges: an unprivileged user gets one line and nothing changes.
if command -v setpriv >/dev/null; then
	expect_err "unprivileged attach" 1 "permission denied" \
		lab_nsenter b setpriv --reuid=65534 --regid=65534 --clear-groups "$WGXDP" attach vb
	no_pins "unprivileged attach"
fi

# A driver without native XDP (a bridge) gets the hint, and skb mode works on it.
modprobe -q bridge 2>/dev/null	# the kernel loads it on demand too; explicit is clearer
lab_nsenter b ip link add br0 type bridge || lab_fail "cannot create a bridge"
lab_nsenter b ip link set br0 up
expect_err "no native XDP" 1 "no native XDP: try --mode skb" wgx b attach br0
no_pins "no native XDP"
wgx b attach br0 --mode skb || lab_fail "attach br0 --mode skb"
expect_eq "br0 mode" "$(wgx_json b '[i["mode"] for i in s["interfaces"] if i["name"]=="br0"][0]')" skb

# skb mode on the veth, then a change to native: one program, the new mode.
wgx b attach vb --mode skb || lab_fail "attach vb --mode skb"
lab_nsenter a ping -q -c 2 -i 0.2 10.78.0.2 >/dev/null || lab_fail "ping with skb mode"
n=$(wgx_ctr b vb other not_udp pass)
expect_ge "skb mode counts" "$n" 2
wgx b attach vb --mode native || lab_fail "re-attach vb --mode native"
expect_eq "vb mode after change" "$(wgx_json b '[i["mode"] for i in s["interfaces"] if i["name"]=="vb"][0]')" native
expect_eq "vb programs" "$(wgx_json b '[len(i["prog_ids"]) for i in s["interfaces"] if i["name"]=="vb"][0]')" 1
expect_ge "counters kept across the mode change" "$(wgx_ctr b vb other not_udp pass)" "$n"
lab_nsenter b ip -d link show vb | grep -q "xdpgeneric" && lab_fail "vb still has a generic XDP program"

# Concurrent invocations are serialised by the lock: all succeed, nothing is lost.
for i in 1 2 3 4 5 6; do lab_nsenter b ip link add "d$i" type veth peer name "e$i"; lab_nsenter b ip link set "d$i" up; lab_nsenter b ip link set "e$i" up; done
pids=()
for i in 1 2 3 4 5 6; do
	wgx b attach "d$i" --port $((51820 + i)) >"$LAB_TMP/c$i.out" 2>&1 &
	pids+=($!)
	wgx b status --json >/dev/null 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || { cat "$LAB_TMP"/c*.out; lab_fail "a concurrent invocation failed"; }; done
expect_eq "interfaces after concurrent attaches" "$(wgx_json b 'len(s["interfaces"])')" 8
expect_eq "distinct counter slots" "$(wgx_json b 'len(set(i["counter_slot"] for i in s["interfaces"]))')" 8
pids=()
for i in 1 2 3 4 5 6; do wgx b detach "d$i" >/dev/null & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || lab_fail "a concurrent detach failed"; done
expect_eq "interfaces after concurrent detaches" "$(wgx_json b 'len(s["interfaces"])')" 2

# An interface that disappears while attached: status says so, detach by name cleans up.
lab_nsenter b ip link del br0
wgx b status | grep -q "^br0 .*interface gone" || lab_fail "status does not report br0 gone"
wgx b detach br0 || lab_fail "detach of a vanished interface"
wgx b detach vb | grep -q "pins removed" || lab_fail "last detach"
no_pins "after the last detach"
echo "uplink_errors: all checks passed"
