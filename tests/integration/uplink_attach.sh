#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# Attach has no counting gap and does no damage when it fails: a new interface's first packets
# are counted (its counter slot is cleared before its program goes on, not after), a reused
# slot starts at zero, and an attach that fails once the old program was replaced or taken off
# leaves the interface as it was (the old program, its ports, counting on). Pauses and
# failures are injected with WGXDP_TEST_HOOK (loader/uplink.c, test_hook).
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx

lab_netns a
lab_netns b
lab_veth a va b vb
lab_veth a va2 b vb2
lab_addr a va 10.80.0.1/24
lab_addr b vb 10.80.0.2/24
lab_addr a va2 10.80.1.1/24
lab_addr b vb2 10.80.1.2/24

# udp_to ADDR N: N datagrams from a to ADDR port 9 (not a WireGuard port: other/other_port)
udp_to() {
	lab_nsenter a python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[2])):
    s.sendto(b"x", (sys.argv[1], 9))
    time.sleep(0.02)
' "$1" "$2"
	sleep 0.2
}
field() { wgx_json b "[i['$2'] for i in s['interfaces'] if i['name']=='$1'][0]"; }

wgx b attach vb --port 51820 || lab_fail "attach vb"

# No gap: packets that arrive while the attach is still at work (paused right after the
# program went on the interface) are counted, not wiped by a late clear of the slot.
WGXDP_TEST_HOOK=pause:attached wgx b attach vb2 --port 51820 >"$LAB_TMP/attach.out" 2>&1 &
apid=$!
for _ in $(seq 100); do lab_nsenter b ip link show vb2 | grep -q xdp && break; sleep 0.05; done
lab_nsenter b ip link show vb2 | grep -q xdp || lab_fail "vb2 has no XDP program during the attach"
udp_to 10.80.1.2 5
wait $apid || { cat "$LAB_TMP/attach.out"; lab_fail "attach vb2 with a pause"; }
expect_eq "vb2 counter slot" "$(field vb2 counter_slot)" 1
expect_eq "packets during the attach counted" "$(wgx_ctr b vb2 other other_port pass)" 5

# A reused slot starts at zero: vb2 goes with 5 counts in slot 1, and comes back to slot 1.
wgx b detach vb2 >/dev/null || lab_fail "detach vb2"
wgx b attach vb2 --port 51820 || lab_fail "attach vb2 again"
expect_eq "vb2 slot again" "$(field vb2 counter_slot)" 1
expect_eq "reused slot cleared" "$(wgx_ctr b vb2 other other_port pass)" 0

# A re-attach that fails at its last step (after the replace, before it was reordered) leaves
# the old program: same id, same ports, still counting.
udp_to 10.80.0.2 3
id=$(field vb prog_ids)
n=$(wgx_ctr b vb other other_port pass)
WGXDP_TEST_HOOK=fail:last wgx b attach vb --port 51999 2>"$LAB_TMP/err" &&
	lab_fail "attach with an injected failure succeeded"
echo "ok: injected failure: $(cat "$LAB_TMP/err")"
expect_eq "vb program after a failed re-attach" "$(field vb prog_ids)" "$id"
expect_eq "vb attached after a failed re-attach" "$(field vb attached)" True
expect_eq "vb ports after a failed re-attach" "$(field vb ports)" "[51820]"
udp_to 10.80.0.2 3
expect_eq "vb counts after a failed re-attach" "$(wgx_ctr b vb other other_port pass)" $((n + 3))

# The same through a mode change (libxdp: the old program is taken off first): it goes back.
WGXDP_TEST_HOOK=fail:last wgx b attach vb --mode skb 2>/dev/null &&
	lab_fail "mode change with an injected failure succeeded"
expect_eq "vb program after a failed mode change" "$(field vb prog_ids)" "$id"
expect_eq "vb mode after a failed mode change" "$(field vb mode)" native
udp_to 10.80.0.2 3
expect_eq "vb counts after a failed mode change" "$(wgx_ctr b vb other other_port pass)" $((n + 6))

# And a real failure, no hook: a bridge in skb mode asked for native XDP keeps its program.
modprobe -q bridge 2>/dev/null	# the VM's guest does not autoload modules
lab_nsenter b ip link add br0 type bridge || lab_fail "cannot create a bridge"
lab_nsenter b ip link set br0 up
wgx b attach br0 --mode skb >/dev/null || lab_fail "attach br0 --mode skb"
id=$(field br0 prog_ids)
wgx b attach br0 --mode native 2>"$LAB_TMP/err" && lab_fail "native XDP on a bridge"
grep -q "no native XDP" "$LAB_TMP/err" || { cat "$LAB_TMP/err"; lab_fail "no hint for br0"; }
expect_eq "br0 program after a failed mode change" "$(field br0 prog_ids)" "$id"
expect_eq "br0 mode after a failed mode change" "$(field br0 mode)" skb

for i in br0 vb2 vb; do wgx b detach "$i" >/dev/null || lab_fail "detach $i"; done
[ -e "$WGXDP_PIN_DIR" ] && lab_fail "$WGXDP_PIN_DIR left behind"
echo "uplink_attach: all checks passed"
