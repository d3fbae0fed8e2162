#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host
# loader/wgdev's UAPI backend against wireguard-go in a network namespace: device keys and
# port, 3 peers added, one removed, two updated, a peer with 3000 allowed IPs, 2000 peers in
# one call, each step checked against `wg show dump` (tests/integration/wgdev_common.bash).
export WGXDP_WG_IMPL=go WGDEV_BACKEND=uapi
. "$(dirname "$0")/wgdev_common.bash"
