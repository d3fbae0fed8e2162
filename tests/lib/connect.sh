#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Connects of one client with ever new keys, for the latency benchmarks (tests/bench): a
# gateway namespace gw (uplink gwu attached, WireGuard $GW at 100.64.0.1/16, public key $pg)
# and a client namespace cl (WireGuard $CL), on 10.NET.0.0/24. Needs lab.sh and wgx.sh.

# conn_lab NET
conn_lab() {
	CONN_NET=$1
	lab_netns gw
	lab_netns cl
	lab_veth cl clu gw gwu
	lab_addr cl clu "10.$1.0.1/24"
	lab_addr gw gwu "10.$1.0.2/24"
	wgx gw attach gwu --port 51820 >/dev/null || lab_fail "attach"
	local kg
	kg=$(lab_genkey)
	pg=$(lab_pubkey "$kg")
	GW=${LAB_ID}g
	CL=${LAB_ID}c
	lab_wg gw "$GW" "$kg" 51820 100.64.0.1/16
	lab_wg cl "$CL" "$(lab_genkey)" 41000
}

# conn_addr I: the tunnel address of the I-th user
conn_addr() { echo "100.64.$(($1 / 250 + 1)).$(($1 % 250 + 2))"; }

# conn_one KEY I: the client takes KEY and user I's address, forgets its session, pings once;
# prints the RTT in ms (its first ping waits for the handshake: that is the connect's time)
conn_one() {
	printf '%s\n' "$1" >"$LAB_TMP/k"
	lab_nsenter cl wg set "$CL" private-key "$LAB_TMP/k" peer "$pg" remove
	lab_nsenter cl wg set "$CL" peer "$pg" endpoint "10.$CONN_NET.0.2:51820" allowed-ips 100.64.0.1/32
	lab_nsenter cl ip addr flush dev "$CL"
	lab_nsenter cl ip addr add "$(conn_addr "$2")/32" dev "$CL"
	lab_nsenter cl ip route add 100.64.0.1/32 dev "$CL"
	lab_nsenter cl ping -c 1 -W 12 100.64.0.1 | sed -n 's/.*time=\([0-9.]*\) ms/\1/p'
}

# pct FILE P: the P-th percentile of the numbers in FILE
pct() {
	sort -n "$1" | awk -v p="$2" '{ a[NR] = $1 } END { i = int((NR * p + 99) / 100); if (i < 1) i = 1; print a[i] }'
}
