#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# vm: every kernel
# The uplink program on a veth in front of a real WireGuard gateway (wireguard-go on the
# host, the kernel's in the VM): handshakes over IPv4 and IPv6 and traffic are counted by
# class, `wgxdp events` prints each initiation with the right addresses, malformed packets to
# the port are dropped and counted, re-attach keeps the counters, detach leaves nothing.
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx ping

lab_netns gw
lab_netns c1
lab_netns c2
lab_veth c1 c1u gw gwu1
lab_veth c2 c2u gw gwu2
lab_addr c1 c1u 10.77.1.1/24
lab_addr gw gwu1 10.77.1.2/24
lab_addr c2 c2u fd77:2::1/64
lab_addr gw gwu2 fd77:2::2/64

wgx gw attach gwu1 --port 51820 || lab_fail "attach gwu1"
wgx gw attach gwu2 --port 51820 || lab_fail "attach gwu2"
mode=$(wgx_json gw '[i["mode"] for i in s["interfaces"] if i["name"]=="gwu1"][0]')
expect_eq "gwu1 mode" "$mode" native

# The ring buffer keeps the events until they are read: no need to wait for the reader. Its
# timeout only bounds a failure (it returns at the second event).
lab_spawn --log "$LAB_TMP/events.json" lab_nsenter gw "$WGXDP" events --json --count 2 --timeout 600
events_pid=$LAB_PID

kg=$(lab_genkey); pg=$(lab_pubkey "$kg")
k1=$(lab_genkey); p1=$(lab_pubkey "$k1")
k2=$(lab_genkey); p2=$(lab_pubkey "$k2")
lab_wg gw "${LAB_ID}g" "$kg" 51820 10.1.0.1/24 fd01::1/64
lab_wg c1 "${LAB_ID}1" "$k1" 41001 10.1.0.2/24
lab_wg c2 "${LAB_ID}2" "$k2" 41002 fd01::3/64
lab_wg_peer gw "${LAB_ID}g" "$p1" allowed-ips 10.1.0.2/32
lab_wg_peer gw "${LAB_ID}g" "$p2" allowed-ips fd01::3/128
lab_wg_peer c1 "${LAB_ID}1" "$pg" endpoint 10.77.1.2:51820 allowed-ips 10.1.0.0/24
lab_wg_peer c2 "${LAB_ID}2" "$pg" endpoint "[fd77:2::2]:51820" allowed-ips fd01::/64

lab_ping c1 10.1.0.1 5 || lab_fail "ping through the tunnel over IPv4"
lab_ping c2 fd01::1 5 || lab_fail "ping through the tunnel over IPv6"
lab_wait_handshake gw "${LAB_ID}g" "$p1" 30 || lab_fail "handshake c1"
lab_wait_handshake gw "${LAB_ID}g" "$p2" 30 || lab_fail "handshake c2"

# The gateway's uplink sees the clients' initiations and data; responses go the other way.
for ifc in gwu1 gwu2; do
	expect_ge "$ifc initiation ok" "$(wgx_ctr gw $ifc initiation ok pass)" 1
	expect_ge "$ifc data ok" "$(wgx_ctr gw $ifc data ok pass)" 5
	expect_eq "$ifc response" "$(wgx_ctr gw $ifc response)" 0
	expect_eq "$ifc malformed drops" "$(wgx_json gw "sum(c['drop'] for i in s['interfaces'] if i['name']=='$ifc' for c in i['counters'].values())")" 0
done
expect_ge "gwu1 other (arp) packets" "$(wgx_ctr gw gwu1 other not_ip pass)" 1
expect_ge "gwu2 other (icmpv6 nd) packets" "$(wgx_ctr gw gwu2 other not_udp pass)" 1

# Events: both initiations, with the clients' addresses and ports.
wait "$events_pid" || { cat "$LAB_TMP/events.json"; lab_fail "wgxdp events --count 2 did not see two initiations"; }
cat "$LAB_TMP/events.json"
python3 - "$LAB_TMP/events.json" <<'PY' || lab_fail "events do not match the handshakes"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
src = sorted(e["src"] for e in ev)
dst = sorted(e["dst"] for e in ev)
assert src == ["10.77.1.1:41001", "[fd77:2::1]:41002"], src
assert dst == ["10.77.1.2:51820", "[fd77:2::2]:51820"], dst
assert all(e["type"] == "initiation" and e["sender"] >= 0 for e in ev), ev
print("ok: events", src, "->", dst)
PY

# Malformed WireGuard packets: dropped and counted; the tunnel keeps working.
lab_nsenter c1 python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"\x01\x00\x00\x00" + b"\x00" * 96, ("10.77.1.2", 51820))    # initiation, 100 bytes
s.sendto(b"\x04\x01\x00\x00" + b"\x00" * 60, ("10.77.1.2", 51820))    # data, reserved byte set
s.sendto(b"\x07\x00\x00\x00" + b"\x00" * 28, ("10.77.1.2", 51820))    # type 7
PY
# counted when they reach the program, a moment after the send: wait for all three
malformed_counted() {
	[ "$(wgx_ctr gw gwu1 initiation bad_size drop)" -ge 1 ] &&
		[ "$(wgx_ctr gw gwu1 data bad_reserved drop)" -ge 1 ] &&
		[ "$(wgx_ctr gw gwu1 unknown bad_type drop)" -ge 1 ]
}
lab_wait_until 30 malformed_counted
expect_eq "initiation bad_size drop" "$(wgx_ctr gw gwu1 initiation bad_size drop)" 1
expect_eq "data bad_reserved drop" "$(wgx_ctr gw gwu1 data bad_reserved drop)" 1
expect_eq "unknown bad_type drop" "$(wgx_ctr gw gwu1 unknown bad_type drop)" 1
lab_ping c1 10.1.0.1 2 || lab_fail "tunnel after malformed packets"

# Re-attach with another port list: a new program, the same counters.
before=$(wgx_ctr gw gwu1 data ok pass)
id_before=$(wgx_json gw '[i["prog_ids"][0] for i in s["interfaces"] if i["name"]=="gwu1"][0]')
wgx gw attach gwu1 --port 51820 --port 51999 || lab_fail "re-attach gwu1"
id_after=$(wgx_json gw '[i["prog_ids"][0] for i in s["interfaces"] if i["name"]=="gwu1"][0]')
[ "$id_before" != "$id_after" ] || lab_fail "re-attach kept program $id_before"
expect_eq "ports after re-attach" "$(wgx_json gw '[i["ports"] for i in s["interfaces"] if i["name"]=="gwu1"][0]')" "[51820, 51999]"
after=$(wgx_ctr gw gwu1 data ok pass)
expect_ge "data counter survives re-attach" "$after" "$before"
lab_ping c1 10.1.0.1 2 || lab_fail "tunnel after re-attach"
expect_ge "counting goes on after re-attach" "$(wgx_ctr gw gwu1 data ok pass)" $((before + 2))

# Text status shows both interfaces.
wgx gw status | tee "$LAB_TMP/status.txt"
grep -q "^gwu1 .*attached, native mode" "$LAB_TMP/status.txt" || lab_fail "status text for gwu1"

# The XDP programs on the interfaces now (dispatchers in the VM, ours on the host).
xdp_ids=$(for i in gwu1 gwu2; do lab_nsenter gw ip -d link show "$i" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p'; done)
[ -n "$xdp_ids" ] || lab_fail "no XDP program id on gwu1/gwu2"

# Detach: the first keeps the pins for the other interface; the last removes them.
wgx gw detach gwu1 || lab_fail "detach gwu1"
lab_nsenter gw ip link show gwu1 | grep -q xdp && lab_fail "gwu1 still has an XDP program"
[ -e "$WGXDP_PIN_DIR/uplink/wgx_ifaces" ] || lab_fail "pins gone while gwu2 is attached"
lab_ping c2 fd01::1 2 || lab_fail "tunnel c2 after detaching gwu1"
wgx gw detach gwu2 | grep -q "pins removed" || lab_fail "last detach did not say pins removed"
lab_nsenter gw ip link show gwu2 | grep -q xdp && lab_fail "gwu2 still has an XDP program"
[ -e "$WGXDP_PIN_DIR" ] && lab_fail "$WGXDP_PIN_DIR left behind"
# libxdp pins a dispatcher as /sys/fs/bpf/xdp/dispatch-IFINDEX-PROGID (global, while
# ifindexes are per namespace): none of the ones we used may stay.
for id in $xdp_ids; do
	ls -d /sys/fs/bpf/xdp/dispatch-*-"$id" 2>/dev/null && lab_fail "dispatcher pin of program $id left behind"
done
lab_ping c1 10.1.0.1 2 || lab_fail "tunnel without wgxdp"
echo "uplink_wg: all checks passed ($LAB_WG_IMPL WireGuard)"
