#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: vm
# vm: every kernel
# loader/wgdev's generic netlink backend against the kernel's WireGuard (the QEMU lab:
# tests/vm/vmtest.sh --kernels 6.12 -- bash tests/integration/wgdev_netlink.sh): the same
# steps as wgdev_uapi.sh (tests/integration/wgdev_common.bash); the peer with 3000 allowed
# IPs spans several SET_DEVICE messages and several dump messages.
export WGXDP_WG_IMPL=kernel WGDEV_BACKEND=netlink
. "$(dirname "$0")/wgdev_common.bash"
