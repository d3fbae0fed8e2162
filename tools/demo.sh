#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# The lab demo (`make demo`): a self-contained gateway in network namespaces with real
# WireGuard peers (the kernel's if it has WireGuard, else wireguard-go), the uplink XDP
# program attached in front of it, a client's handshake, the counters and the event.
# Everything it creates is removed when it ends.
set -u
cd "$(dirname "$0")/.."
. tests/lib/lab.sh
. tests/lib/wgx.sh
lab_init
wgx_init

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
# gw ARGS: wgxdp ARGS in the gateway's namespace, shown as the operator would type it
gw() { printf '$ wgxdp %s\n' "$*"; wgx gw "$@"; }

step "A gateway and a client in two network namespaces, joined by a veth pair"
lab_netns gw
lab_netns client
lab_veth client eth0c gw eth0g
lab_addr client eth0c 192.0.2.2/24 2001:db8::2/64
lab_addr gw eth0g 192.0.2.1/24 2001:db8::1/64
echo "client 192.0.2.2 <-> gateway 192.0.2.1 (uplink eth0g), IPv6 2001:db8::/64"

step "wgxdp attach: the uplink XDP program in front of the gateway's WireGuard port"
gw attach eth0g --port 51820 || lab_fail "attach"

lab_spawn --log "$LAB_TMP/events" lab_nsenter gw "$WGXDP" events --count 1 --timeout 20
ev_pid=$LAB_PID

step "WireGuard: gateway listening on 51820, client configured with the gateway as peer"
kg=$(lab_genkey); pg=$(lab_pubkey "$kg")
kc=$(lab_genkey); pc=$(lab_pubkey "$kc")
lab_wg gw "${LAB_ID}g" "$kg" 51820 100.64.0.1/24
lab_wg client "${LAB_ID}c" "$kc" 40000 100.64.0.2/24
lab_wg_peer gw "${LAB_ID}g" "$pc" allowed-ips 100.64.0.2/32
lab_wg_peer client "${LAB_ID}c" "$pg" endpoint 192.0.2.1:51820 allowed-ips 100.64.0.0/24
echo "WireGuard implementation: $LAB_WG_IMPL; client key $pc"

step "The client pings through the tunnel: a handshake, then data"
show lab_nsenter client ping -c 3 -i 0.3 100.64.0.1 || lab_fail "ping through the tunnel"

step "wgxdp events: the handshake initiation the XDP program captured"
wait "$ev_pid"
cat "$LAB_TMP/events"

step "A malformed packet to the WireGuard port is dropped and counted"
lab_nsenter client python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"\x01\x00\x00\x00" + bytes(60), ("192.0.2.1", 51820))'
sleep 0.2

step "wgxdp status: every packet the program saw, by class, reason and verdict"
gw status

step "The maps are pinned in bpffs: bpftool shows them with field names"
show bpftool map dump pinned "$WGXDP_PIN_DIR/wgx_ifaces"

step "wgxdp detach: the program and the pins go"
gw detach eth0g
echo
echo "demo: done"
