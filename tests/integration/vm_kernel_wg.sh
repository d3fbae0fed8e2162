#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# vm: every kernel
# Two namespaces joined by veth, a WireGuard interface in each (the kernel's in the VM,
# wireguard-go on the host), the uplink XDP program attached natively to the responder's veth:
# a handshake, v4 and v6 pings through the tunnel, and the program's counters afterwards.
#   client (ns a): ua 10.99.0.1, fd00:99::1    tunnel 10.100.0.1, fd00:100::1
#   gateway (ns b): ub 10.99.0.2, fd00:99::2   tunnel 10.100.0.2, fd00:100::2, port 51820
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" strict wg ping python3
WGXDP=${WGXDP:-$PWD/build/wgxdp}
port=51820
start=$(date +%s.%N)

lab_netns a
lab_netns b
lab_veth a ua b ub
lab_addr a ua 10.99.0.1/24 fd00:99::1/64
lab_addr b ub 10.99.0.2/24 fd00:99::2/64

wga=${LAB_ID}a
wgb=${LAB_ID}b
ka=$(lab_genkey); pa=$(lab_pubkey "$ka")
kb=$(lab_genkey); pb=$(lab_pubkey "$kb")
lab_wg a "$wga" "$ka" 0 10.100.0.1/24 fd00:100::1/64
lab_wg b "$wgb" "$kb" "$port" 10.100.0.2/24 fd00:100::2/64
echo "wireguard: $LAB_WG_IMPL"
lab_wg_peer a "$wga" "$pb" endpoint 10.99.0.2:$port allowed-ips 10.100.0.2/32,fd00:100::2/128
lab_wg_peer b "$wgb" "$pa" allowed-ips 10.100.0.1/32,fd00:100::1/128

xdp=
if [ -x "$WGXDP" ]; then
	xdp=1
	lab_defer lab_nsenter b "$WGXDP" detach ub
	lab_nsenter b "$WGXDP" attach ub --port "$port" || lab_fail "wgxdp attach ub --port $port"
	echo "uplink XDP attached to ub"
elif [ "${CI:-}" = true ]; then
	lab_fail "no $WGXDP (build it first: make)"
else
	echo "note: no $WGXDP yet: WireGuard part only"
fi

# The first ping starts the handshake; it may be lost while the handshake runs.
lab_nsenter a ping -q -c 1 -W 5 10.100.0.2 >/dev/null || true
lab_wait_handshake a "$wga" "$pb" 60 || lab_fail "no handshake from a to b"
lab_wait_handshake b "$wgb" "$pa" 30 || lab_fail "b saw no handshake from a"
echo "handshake ok"
lab_ping a 10.100.0.2 5 || lab_fail "v4 ping through the tunnel"
lab_ping a fd00:100::2 5 || lab_fail "v6 ping through the tunnel"
lab_ping b 10.100.0.1 3 || lab_fail "v4 ping back from b"
echo "pings ok (v4 and v6)"

if [ -n "$xdp" ]; then
	json=$(lab_nsenter b "$WGXDP" status --json) || lab_fail "wgxdp status --json"
	python3 - "$json" <<-'EOF' || lab_fail "uplink counters on ub (status: $json)"
	import json, sys
	st = json.loads(sys.argv[1])
	ifs = [i for i in st.get("interfaces", []) if i.get("name") == "ub"]
	if not ifs:
	    sys.exit("ub is not in wgxdp status")
	i = ifs[0]
	c = i.get("counters", {})
	print("ub: attached=%s mode=%s ports=%s" % (i.get("attached"), i.get("mode"), i.get("ports")))
	for k in ("initiation", "response", "cookie", "data"):
	    if k in c:
	        print("  %-10s pass %s drop %s" % (k, c[k].get("pass"), c[k].get("drop")))
	ok = i.get("attached") is True
	ok &= c.get("initiation", {}).get("pass", 0) >= 1
	ok &= c.get("data", {}).get("pass", 0) >= 1
	sys.exit(0 if ok else 1)
	EOF
	lab_nsenter b "$WGXDP" detach ub || lab_fail "wgxdp detach ub"
	lab_nsenter b ip -d link show ub | grep -q 'prog/xdp' && lab_fail "an XDP program is still on ub after detach"
	echo "uplink XDP counted initiations and data, detached"
fi
awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "scenario done in %.1f s\n", b - a }'
