#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# Each pinned map has one owner, in its own subdirectory of the pin directory: the uplink's in
# uplink/. The last detach removes uplink/ and nothing else: a map another owner pinned in jit/
# survives, and the pin directory stays while it is not empty. `wgxdp events` follows a detach
# and re-attach (a new ring buffer, a new map id).
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx bpftool

lab_netns a
lab_netns b
lab_veth a va b vb
lab_addr a va 10.81.0.1/24
lab_addr b vb 10.81.0.2/24

P=$WGXDP_PIN_DIR
# initiation: a handshake initiation of the right shape (148 bytes) to the WireGuard port
initiation() {
	lab_nsenter a python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"\x01\x00\x00\x00" + bytes(144), ("10.81.0.2", 51820))
'
}
map_id() { bpftool -j map show pinned "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

wgx b attach vb --port 51820 || lab_fail "attach vb"
for m in wgx_counters wgx_events wgx_ifaces; do
	[ -e "$P/uplink/$m" ] || lab_fail "$P/uplink/$m not pinned"
done
expect_eq "pins in the uplink's subdirectory" "$(ls "$P/uplink" | tr '\n' ' ')" "wgx_counters wgx_events wgx_ifaces "
expect_eq "entries of the pin directory" "$(ls "$P" | tr '\n' ' ')" "uplink "

# Another owner's map, as the daemon pins its own in jit/.
mkdir "$P/jit" || lab_fail "mkdir $P/jit"
bpftool map create "$P/jit/x" type hash key 4 value 4 entries 1 name x || lab_fail "bpftool map create"
x_id=$(map_id "$P/jit/x")

# a generous timeout: between its two events come a detach and an attach, slow on a busy VM
lab_spawn --log "$LAB_TMP/events.txt" lab_nsenter b "$WGXDP" events --count 2 --timeout 600
events_pid=$LAB_PID
sleep 0.3
initiation
ev_id=$(map_id "$P/uplink/wgx_events")

# The last detach: uplink/ goes, jit/x and the pin directory stay.
wgx b detach vb | grep -q "pins removed" || lab_fail "last detach did not say pins removed"
[ -e "$P/uplink" ] && lab_fail "$P/uplink left behind"
[ -d "$P" ] || lab_fail "$P removed while jit/ was in it"
expect_eq "jit/x after the last detach" "$(map_id "$P/jit/x")" "$x_id"
expect_eq "entries of the pin directory after the detach" "$(ls "$P" | tr '\n' ' ')" "jit "

# Attach again: a new ring buffer; the running `wgxdp events` reads it.
wgx b attach vb --port 51820 >/dev/null || lab_fail "attach vb again"
new_id=$(map_id "$P/uplink/wgx_events")
[ "$new_id" != "$ev_id" ] || lab_fail "the ring buffer kept id $ev_id across detach + attach"
# events looks at the pinned id after each poll: initiations until it has seen one more (it
# exits after its second), however long noticing takes
for _ in $(seq 120); do
	kill -0 "$events_pid" 2>/dev/null || break
	initiation
	sleep 0.5
done
wait "$events_pid" || { cat "$LAB_TMP/events.txt"; lab_fail "events did not see an initiation on each ring buffer"; }
expect_eq "events seen" "$(grep -c initiation "$LAB_TMP/events.txt")" 2

# The pin directory goes with the last detach once nothing else is in it.
wgx b detach vb >/dev/null || lab_fail "detach vb"
expect_eq "jit/x after another detach" "$(map_id "$P/jit/x")" "$x_id"
rm "$P/jit/x" && rmdir "$P/jit" || lab_fail "cannot remove jit/"
wgx b attach vb --port 51820 >/dev/null || lab_fail "attach vb a third time"
wgx b detach vb >/dev/null || lab_fail "detach vb a third time"
[ -e "$P" ] && lab_fail "$P left behind, empty"
echo "uplink_pins: all checks passed"
