#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host
# loader/wgdev's UAPI backend against wireguard-go in a network namespace: device keys and
# port, 3 peers added, one removed, two updated, a peer with 3000 allowed IPs, 2000 peers in
# one call, each step checked against `wg show dump` (tests/integration/wgdev_common.bash);
# then update_only (hole 7): an existing peer updated, a missing one not created.
export WGXDP_WG_IMPL=go WGDEV_BACKEND=uapi
. "$(dirname "$0")/wgdev_common.bash"

# The interface now holds the peers of $T/with_big. p3 gets keepalive 15 (psk and endpoint
# kept), ghost, which it does not have, must not appear.
ghost=$(lab_pubkey "$(lab_genkey)")
{
	printf '%s\t-\t(none)\t10.201.0.3/32,10.202.0.0/16\t15\n' "$p3"
	printf '%s\t(none)\t192.0.2.9:51009\t10.201.0.9/32\t25\n' "$ghost"
} >"$T/update_only"
tool update "$ifname" <"$T/update_only" 2>>"$T/times" || lab_fail "update_only set"
awk -F'\t' -v OFS='\t' -v p="$p3" '$1 == p { $5 = 15 } 1' "$T/with_big" >"$T/updated_only"
wgs show "$ifname" peers | grep -qxF "$ghost" && lab_fail "update_only created a new peer"
expect "$T/updated_only" "update_only"
say "update_only: an existing peer updated, a missing one not created"
