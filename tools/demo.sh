#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# The lab demo (`make demo`): a self-contained gateway in network namespaces with real
# WireGuard peers (the kernel's if it has WireGuard, else wireguard-go), the uplink XDP
# program attached in front of it, a client's handshake, the counters and the event; then a
# second client that the gateway has never heard of connects just in time through `wgxdp run`;
# last, the tunnel programs enforce its groups: an allowed and a denied destination, and
# `wgxdp policy explain` for both.
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
lab_netns laptop
lab_veth client eth0c gw eth0g
lab_veth laptop eth0l gw eth1g
lab_addr client eth0c 192.0.2.2/24 2001:db8::2/64
lab_addr gw eth0g 192.0.2.1/24 2001:db8::1/64
lab_addr laptop eth0l 198.51.100.2/24
lab_addr gw eth1g 198.51.100.1/24
echo "client 192.0.2.2 <-> gateway 192.0.2.1 (uplink eth0g), IPv6 2001:db8::/64"
echo "laptop 198.51.100.2 <-> gateway 198.51.100.1 (uplink eth1g)"

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
show bpftool map dump pinned "$WGXDP_PIN_DIR/uplink/wgx_ifaces"

step "Just in time: the gateway has no peer for the laptop, only a policy that names its key"
gw attach eth1g --port 51820 >/dev/null || lab_fail "attach eth1g"
kl=$(lab_genkey); pl=$(lab_pubkey "$kl")
lab_wg laptop "${LAB_ID}l" "$kl" 40001 100.64.0.3/24
lab_wg_peer laptop "${LAB_ID}l" "$pg" endpoint 198.51.100.1:51820 allowed-ips 100.64.0.0/24
cat >"$LAB_TMP/policy.json" <<J
{
  "groups": {"dev": {"allow": ["10.10.0.0/16", {"cidr": "10.20.1.5/32", "proto": "tcp", "ports": "22"}]}},
  "users": [{"name": "laptop-carol", "public_key": "$pl", "addresses": ["100.64.0.3/32"],
             "groups": ["dev"], "expires": "2099-01-01T00:00:00Z"}]
}
J
cat "$LAB_TMP/policy.json"
gw policy check "$LAB_TMP/policy.json"
echo "peers on the gateway before:"; lab_nsenter gw wg show "${LAB_ID}g" peers
wgx_daemon gw --wg "${LAB_ID}g" --policy "$LAB_TMP/policy.json"
echo "$ wgxdp run --wg ${LAB_ID}g --policy policy.json &"

step "The laptop pings through the tunnel: its very first attempt gets through"
show lab_nsenter laptop ping -c 2 -i 0.3 100.64.0.1 || lab_fail "the laptop did not get in"
echo; echo "the daemon's log:"; cat "$LAB_TMP/run.log"
gw peers

step "Per-user enforcement: the tunnel programs on the gateway's WireGuard interface"
lab_netns office
lab_veth office eth0o gw eth2g
lab_addr gw eth2g 10.10.1.1/24 10.30.0.1/24
lab_addr office eth0o 10.10.1.5/24 10.30.0.5/24
lab_nsenter office ip route add 100.64.0.0/24 via 10.10.1.1
lab_nsenter gw sysctl -qw net.ipv4.ip_forward=1
lab_wg_peer laptop "${LAB_ID}l" "$pg" endpoint 198.51.100.1:51820 \
	allowed-ips 100.64.0.0/24,10.10.0.0/16,10.30.0.0/16
lab_nsenter laptop ip route add 10.10.0.0/16 dev "${LAB_ID}l"
lab_nsenter laptop ip route add 10.30.0.0/16 dev "${LAB_ID}l"
echo "behind the gateway: office 10.10.1.5 (group dev allows 10.10.0.0/16) and 10.30.0.5 (no rule)"
gw attach --wg "${LAB_ID}g" || lab_fail "attach --wg"
lab_wait_until 20 grep -q "policy applied to the tunnel" "$LAB_TMP/run.log" ||
	lab_fail "the daemon did not apply the policy to the tunnel"
grep "policy applied" "$LAB_TMP/run.log"
show lab_nsenter laptop ping -c 2 -i 0.3 10.10.1.5 || lab_fail "an allowed destination"
show lab_nsenter laptop ping -c 2 -i 0.3 -W 1 10.30.0.5 && lab_fail "a denied destination answered"
gw policy explain laptop-carol 10.10.1.5 icmp
gw policy explain laptop-carol 10.30.0.5 icmp
gw policy explain laptop-carol 10.20.1.5 tcp 22
gw policy show
gw status

step "wgxdp flows: who talks to what, in the kernel's flow table (packets and bytes each way)"
gw flows

step "wgxdp detach: the programs and the pins go"
gw detach "${LAB_ID}g"
gw detach eth1g
gw detach eth0g
echo
echo "demo: done"
