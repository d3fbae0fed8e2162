#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Time from a client's first initiation to its first packet through the tunnel, with the
# daemon's immediate answer (re-injecting the initiation) and without it (--answer none: the client
# gets in on its retry, REKEY_TIMEOUT = 5 s later). Each connect is a client with a new key:
# its first ping queues behind the handshake, so ping's first RTT is exactly that time.
# JIT_CONNECTS (default 100) with the answer, JIT_CONNECTS_SLOW (default 5) without it.
# Every connect comes from the same source address, faster than the daemon's default
# per-source limit (20/s), so the limit is raised here (--rate).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/lab.sh
. tests/lib/wgx.sh
. tests/lib/connect.sh
lab_init
wgx_init
lab_require ping
N=${JIT_CONNECTS:-100}
NS=${JIT_CONNECTS_SLOW:-5}

conn_lab 85
addr() { conn_addr "$1"; }
keys=() users=()
for ((i = 0; i < N + NS; i++)); do
	k=$(lab_genkey); keys+=("$k")
	users+=("{\"name\": \"u$i\", \"public_key\": \"$(lab_pubkey "$k")\", \"addresses\": [\"$(addr "$i")/32\"], \"groups\": []}")
done
( IFS=,; printf '{"groups": {}, "users": [%s]}\n' "${users[*]}" ) >"$LAB_TMP/policy.json"

daemon() { wgx_daemon gw --wg "$GW" --policy "$LAB_TMP/policy.json" --rate 10000 "$@"; }

connect() { conn_one "${keys[$1]}" "$1"; }

[ -n "${JIT_PCAP:-}" ] && { lab_spawn --log /dev/null nsenter --net="$(lab_ns_path gw)" tcpdump -i gwu -n -tt -l udp -w "$JIT_PCAP"; sleep 0.5; }
daemon
for ((i = 0; i < N; i++)); do connect "$i"; done >"$LAB_TMP/fast"
lab_reap "$DAEMON"
daemon --answer none
for ((i = N; i < N + NS; i++)); do connect "$i"; done >"$LAB_TMP/slow"
[ -n "${JIT_VERBOSE:-}" ] && tr "\n" " " <"$LAB_TMP/slow" && echo
lab_reap "$DAEMON"

[ -n "${JIT_VERBOSE:-}" ] && tr "\n" " " <"$LAB_TMP/fast" && echo
got=$(wc -l <"$LAB_TMP/fast"); gots=$(wc -l <"$LAB_TMP/slow")
echo "jit_latency: $LAB_WG_IMPL WireGuard gateway; first initiation to first packet through the tunnel"
echo "jit_latency: immediate answer: $got of $N connects: p50 $(pct "$LAB_TMP/fast" 50) ms, p99 $(pct "$LAB_TMP/fast" 99) ms, max $(pct "$LAB_TMP/fast" 100) ms (targets p50 < 10, p99 < 50)"
echo "jit_latency: without it:       $gots of $NS connects: p50 $(pct "$LAB_TMP/slow" 50) ms, p99 $(pct "$LAB_TMP/slow" 99) ms"
[ "$got" = "$N" ] && [ "$gots" = "$NS" ]
