#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Installing N peers (default 10,000) on a fresh WireGuard interface: loader/wgdev
# (build/unit/wgdev_tool set, one call) against `wg setconf` with the same peers, in the same
# run, ROUNDS times each, alternating. Issue 4's target: wgdev no slower than wg setconf.
# Meant for the QEMU lab (the kernel's WireGuard, netlink backend):
#   tests/vm/vmtest.sh --kernels 6.12 -- tests/bench/wgdev_peers.sh [N [ROUNDS]]
# On the host it measures wireguard-go (UAPI) instead. Each peer: random key, a psk on every
# other one, an IPv4 endpoint, one /32; the interface has a private key and is up.
# Prints one line per install and a summary; "wgdev lib" is the library call alone, "wgdev"
# and "wg setconf" are whole processes (reading and parsing their input included).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/lab.sh
lab_init
lab_require wg
N=${1:-10000}
ROUNDS=${2:-1}
TOOL=${WGXDP_WGDEV_TOOL:-$PWD/build/unit/wgdev_tool}
[ -x "$TOOL" ] || lab_skip "no $TOOL (make)"
lab_netns b
T=$LAB_TMP

"$TOOL" gen "$N" >"$T/peers"
awk -F'\t' '{
	printf "[Peer]\nPublicKey = %s\n", $1
	if ($2 != "(none)") printf "PresharedKey = %s\n", $2
	printf "Endpoint = %s\nAllowedIPs = %s\n\n", $3, $4
}' "$T/peers" >"$T/peers.conf"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
count() { lab_nsenter b wg show "$1" peers | wc -l; }

declare -a t_lib t_tool t_wg
run_wgdev() {
	local t0 t1
	t0=$(now)
	lab_nsenter b "$TOOL" set "$ifa" <"$T/peers" 2>"$T/lib" || lab_fail "wgdev set $N peers"
	t1=$(now)
	t_tool+=("$(elapsed "$t0" "$t1")")
	t_lib+=("$(awk '/^wgdev: set/ { print $(NF - 1) }' "$T/lib")")
	[ "$(count "$ifa")" = "$N" ] || lab_fail "$ifa has $(count "$ifa") peers, expected $N"
}
run_wg() {
	local t0 t1
	{ printf '[Interface]\nPrivateKey = %s\nListenPort = %d\n\n' "$key" "$portb"
	  cat "$T/peers.conf"; } >"$T/b.conf"
	t0=$(now)
	lab_nsenter b wg setconf "$ifb" "$T/b.conf" || lab_fail "wg setconf $N peers"
	t1=$(now)
	t_wg+=("$(elapsed "$t0" "$t1")")
	[ "$(count "$ifb")" = "$N" ] || lab_fail "$ifb has $(count "$ifb") peers, expected $N"
}
for ((r = 0; r < ROUNDS; r++)); do
	key=$(lab_genkey)
	ifa=${LAB_ID}a$r
	ifb=${LAB_ID}b$r
	portb=$((52001 + 2 * r))
	lab_wg b "$ifa" "$key" $((52000 + 2 * r))
	lab_wg b "$ifb" "$key" "$portb"
	# Alternate which goes first. The interfaces stay until the end: with `ip link del` of
	# both after each round, a round took minutes under emulation instead of seconds.
	if ((r % 2 == 0)); then run_wgdev; run_wg; else run_wg; run_wgdev; fi
	printf 'round %d (%s WireGuard, %d peers): wgdev %s s (lib %s s), wg setconf %s s\n' \
		"$r" "$LAB_WG_IMPL" "$N" "${t_tool[r]}" "${t_lib[r]}" "${t_wg[r]}"
done
med() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf 'median of %d: wgdev %s s (lib %s s), wg setconf %s s, %s WireGuard, %d peers\n' \
	"$ROUNDS" "$(med "${t_tool[@]}")" "$(med "${t_lib[@]}")" "$(med "${t_wg[@]}")" \
	"$LAB_WG_IMPL" "$N"
