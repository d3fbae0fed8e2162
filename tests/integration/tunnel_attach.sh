#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# The tunnel programs on a real WireGuard interface (wireguard-go on the host, the kernel's in
# the VM): `attach --wg` alone puts two tc filters on it and status shows them; with no policy
# loaded a peer's pings are dropped and counted (no_policy); a foreign tc filter on the same
# interface survives our re-attach and detach; re-attach keeps the counters; the last detach
# removes <pin_dir>/tunnel/ and the tunnel works again.
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx ping tc

lab_netns gw
lab_netns c1
lab_veth c1 c1u gw gwu
lab_addr c1 c1u 10.78.1.1/24
lab_addr gw gwu 10.78.1.2/24

kg=$(lab_genkey); pg=$(lab_pubkey "$kg")
k1=$(lab_genkey); p1=$(lab_pubkey "$k1")
WG=${LAB_ID}g
lab_wg gw "$WG" "$kg" 51820 10.2.0.1/24
lab_wg c1 "${LAB_ID}1" "$k1" 41001 10.2.0.2/24
lab_wg_peer gw "$WG" "$p1" allowed-ips 10.2.0.2/32
lab_wg_peer c1 "${LAB_ID}1" "$pg" endpoint 10.78.1.2:51820 allowed-ips 10.2.0.0/24
lab_ping c1 10.2.0.1 3 || lab_fail "ping through the tunnel before wgxdp"

P=$WGXDP_PIN_DIR
# tun_ctr DIR REASON: packets of a tunnel counter from `status --json`
tun_ctr() {
	wgx_json gw "s['tunnel']['counters']['$1']['reasons'].get('$2', {}).get('packets', 0)"
}
tc_ours() { lab_nsenter gw tc filter show dev "$WG" "$1" | grep -c "handle 0x5747 .*wgx_tun_$1"; }

# A filter that is not ours (classic BPF, matches nothing), added before and after attach.
lab_nsenter gw tc qdisc add dev "$WG" clsact || lab_fail "tc qdisc add clsact"
lab_nsenter gw tc filter add dev "$WG" ingress prio 20 protocol all bpf bytecode '1,6 0 0 0,' ||
	lab_fail "tc filter add (foreign ingress filter)"

wgx gw attach --wg "$WG" | tee "$LAB_TMP/attach.txt" || lab_fail "attach --wg $WG"
grep -q "no policy loaded" "$LAB_TMP/attach.txt" || lab_fail "attach did not say no policy is loaded"
lab_nsenter gw tc filter add dev "$WG" egress prio 30 protocol all bpf bytecode '1,6 0 0 0,' ||
	lab_fail "tc filter add (foreign egress filter)"
expect_eq "our ingress filter" "$(tc_ours ingress)" 1
expect_eq "our egress filter" "$(tc_ours egress)" 1
for m in wgx_tun_cfg wgx_tun_counters wgx_flows wgx_tun_pol4 wgx_tun_ifaces wgx_tun_events; do
	[ -e "$P/tunnel/$m" ] || lab_fail "$P/tunnel/$m not pinned"
done
[ -e "$P/uplink" ] && lab_fail "attach --wg alone created uplink/ pins"

expect_eq "status: tunnel interface" "$(wgx_json gw "[i['name'] for i in s['tunnel']['interfaces']]")" "['$WG']"
expect_eq "status: attached" "$(wgx_json gw "s['tunnel']['interfaces'][0]['attached']")" True
expect_eq "status: no link layer on WireGuard" "$(wgx_json gw "s['tunnel']['interfaces'][0]['l2_len']")" 0
expect_eq "status: policy_loaded" "$(wgx_json gw "s['tunnel']['policy_loaded']")" False
expect_eq "status: tcp timeout default" "$(wgx_json gw "s['tunnel']['timeouts']['tcp']")" 7440
expect_eq "status: no uplink interfaces" "$(wgx_json gw "len(s['interfaces'])")" 0
wgx gw status | tee "$LAB_TMP/status.txt"
grep -q "NO policy loaded" "$LAB_TMP/status.txt" || lab_fail "status text does not say no policy"
grep -q "^$WG (ifindex [0-9]*): tunnel programs attached" "$LAB_TMP/status.txt" ||
	lab_fail "status text for $WG"

# Fail closed: the peer's pings die at the gateway's WireGuard interface.
lab_ping c1 10.2.0.1 3 && lab_fail "ping passed with no policy loaded"
n=$(tun_ctr ingress no_policy)
expect_ge "ingress no_policy" "$n" 3
expect_eq "ingress allowed" "$(tun_ctr ingress allowed)" 0

# Re-attach: programs swapped in place, counters kept, the foreign filters untouched.
id_before=$(wgx_json gw "s['tunnel']['interfaces'][0]['ingress_prog_id']")
wgx gw attach --wg "$WG" | grep -q "replaced" || lab_fail "re-attach did not say replaced"
id_after=$(wgx_json gw "s['tunnel']['interfaces'][0]['ingress_prog_id']")
[ "$id_before" != "$id_after" ] || lab_fail "re-attach kept program $id_before"
expect_eq "ingress filters after re-attach" "$(tc_ours ingress)" 1
expect_ge "no_policy survives re-attach" "$(tun_ctr ingress no_policy)" "$n"
lab_ping c1 10.2.0.1 2 && lab_fail "ping passed after re-attach with no policy"
expect_ge "counting goes on after re-attach" "$(tun_ctr ingress no_policy)" $((n + 2))

# Detach: ours go, the foreign filters and the qdisc stay, the last detach takes tunnel/.
wgx gw detach "$WG" | tee "$LAB_TMP/detach.txt" || lab_fail "detach $WG"
grep -q "tunnel's pins removed" "$LAB_TMP/detach.txt" || lab_fail "last detach did not say pins removed"
expect_eq "our ingress filter after detach" "$(tc_ours ingress)" 0
expect_eq "our egress filter after detach" "$(tc_ours egress)" 0
lab_nsenter gw tc filter show dev "$WG" ingress | grep -q "pref 20 bpf" || lab_fail "foreign ingress filter removed"
lab_nsenter gw tc filter show dev "$WG" egress | grep -q "pref 30 bpf" || lab_fail "foreign egress filter removed"
[ -e "$P/tunnel" ] && lab_fail "$P/tunnel left behind"
[ -e "$P" ] && lab_fail "$P left behind"
wgx gw detach "$WG" 2>/dev/null && lab_fail "second detach succeeded"
lab_ping c1 10.2.0.1 3 || lab_fail "ping through the tunnel after detach"

# The link layer comes from the device: 14 bytes on Ethernet, and a device whose header we
# do not know (loopback) is refused with nothing left behind.
E=${LAB_ID}e
lab_nsenter gw ip link add "$E" type veth peer name "${LAB_ID}f" || lab_fail "ip link add $E"
wgx gw attach --wg "$E" >/dev/null || lab_fail "attach --wg $E (a veth)"
expect_eq "status: Ethernet link layer" "$(wgx_json gw "s['tunnel']['interfaces'][0]['l2_len']")" 14
wgx gw attach --wg lo 2>"$LAB_TMP/lo.txt" && lab_fail "attach --wg lo succeeded"
grep -q "not a WireGuard, TUN or Ethernet device" "$LAB_TMP/lo.txt" ||
	lab_fail "attach --wg lo: $(cat "$LAB_TMP/lo.txt")"
expect_eq "tunnel interfaces after the refused lo" \
	"$(wgx_json gw "[i['name'] for i in s['tunnel']['interfaces']]")" "['$E']"
# The interface goes and one of the same name comes: detach by name forgets the old one.
lab_nsenter gw ip link del "$E"
lab_nsenter gw ip link add "$E" type veth peer name "${LAB_ID}f" || lab_fail "ip link add $E again"
wgx gw detach "$E" | grep -q "tunnel's pins removed" ||
	lab_fail "detach of a re-created $E did not remove the pins"
[ -e "$P/tunnel" ] && lab_fail "$P/tunnel left behind by a re-created interface's record"
echo "tunnel_attach: all checks passed ($LAB_WG_IMPL WireGuard)"
