#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# 200 clients connecting at once all get in: each has its own key and WireGuard interface in
# one client namespace, all start their handshake together, and each must get a ping through
# the tunnel, and a peer. How many made their first attempt's window (before the retry, 5 s
# later) is reported, not asserted: that is a matter of the machine's speed (the VM tier's
# software emulation, other work beside it); jit_peers, jit_api and jit_bad assert the first
# attempt for one client. All clients share one source address, as behind a carrier-grade
# NAT, so the daemon's per-source limit is raised for this test (--rate).
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx ping
N=${JIT_CLIENTS:-200}
# each wireguard-go takes two inotify instances (UAPI socket, TUN), counted per user on the
# whole machine (128 by default), where other wireguard-go processes may run (other tests):
# room for ours on top of all that. Restored at the end unless someone changed it since.
old=$(sysctl -n fs.inotify.max_user_instances)
want=$(( $(find /proc/[0-9]*/fd -lname 'anon_inode:inotify' 2>/dev/null | wc -l) + 2 * N + 1024 ))
if [ "$old" -lt "$want" ]; then
	sysctl -qw fs.inotify.max_user_instances="$want"
	# shellcheck disable=SC2016
	lab_defer sh -c '[ "$(sysctl -n fs.inotify.max_user_instances)" != "$1" ] || sysctl -qw fs.inotify.max_user_instances="$2"' - "$want" "$old"
fi

lab_netns gw
lab_netns cl
lab_veth cl clu gw gwu
lab_addr cl clu 10.84.0.1/24
lab_addr gw gwu 10.84.0.2/24
wgx gw attach gwu --port 51820 >/dev/null || lab_fail "attach"
kg=$(lab_genkey); pg=$(lab_pubkey "$kg")
GW=${LAB_ID}g
lab_wg gw "$GW" "$kg" 51820 100.64.0.1/16

# The clients in batches (under the VM's emulation every process start counts, through the
# guest's 9p root): key pairs from one python3 (X25519 of RFC 7748, checked against wg pubkey),
# the interfaces with their addresses, routes and state in one `ip -batch`, one `wg set` per
# client (key, port and the gateway as its peer, four at a time). Ports 20001 on,
# below the ephemeral range: wireguard-go instances not yet configured hold random ones.
echo "creating $N clients ($LAB_WG_IMPL WireGuard)"
t0=$SECONDS
C=$LAB_TMP/clients
mkdir -p "$C"
python3 - "$N" "$C" <<'PY' || lab_fail "client keys"
import base64, os, sys
P = 2**255 - 19
def x25519_base(k):	# RFC 7748, u = 9
    k = int.from_bytes(k, "little")
    x1, x2, z2, x3, z3, swap = 9, 1, 0, 9, 1, 0
    for t in reversed(range(255)):
        b = (k >> t) & 1
        swap ^= b
        if swap: x2, x3, z2, z3 = x3, x2, z3, z2
        swap = b
        A = x2 + z2; AA = A * A; B = x2 - z2; BB = B * B; E = AA - BB
        C = x3 + z3; D = x3 - z3; DA = D * A % P; CB = C * B % P
        x3 = (DA + CB) ** 2 % P; z3 = x1 * (DA - CB) ** 2 % P
        x2 = AA * BB % P; z2 = E * (AA + 121665 * E) % P
    if swap: x2, x3, z2, z3 = x3, x2, z3, z2
    return (x2 * pow(z2, P - 2, P) % P).to_bytes(32, "little")
n, d = int(sys.argv[1]), sys.argv[2]
with open(d + "/pubs", "w") as pubs:
    for i in range(1, n + 1):
        k = bytearray(os.urandom(32))
        k[0] &= 248; k[31] = (k[31] & 127) | 64
        open("%s/%d.key" % (d, i), "w").write(base64.b64encode(bytes(k)).decode() + "\n")
        pubs.write(base64.b64encode(x25519_base(bytes(k))).decode() + "\n")
PY
mapfile -t pubs <"$C/pubs"
[ "$(lab_pubkey "$(cat "$C/1.key")")" = "${pubs[0]}" ] || lab_fail "the test's X25519 disagrees with wg pubkey"
ifn() { printf '%sc%d' "$LAB_ID" "$1"; }
addr() { printf '100.64.%d.%d' $(($1 / 250 + 1)) $(($1 % 250 + 1)); }
# wireguard-go: its TUN devices are made (persistent) and configured before the instances
# start and take them over; every instance listens to the namespace's rtnetlink events, and
# 600 changes at once while 200 of them listen overflow their sockets (ENOBUFS, which
# wireguard-go takes for the end of its TUN device).
if [ "$LAB_WG_IMPL" = kernel ]; then
	for ((i = 1; i <= N; i++)); do echo "link add $(ifn $i) type wireguard"; done
else
	for ((i = 1; i <= N; i++)); do echo "tuntap add dev $(ifn $i) mode tun"; done
fi >"$C/links"
for ((i = 1; i <= N; i++)); do
	echo "addr add $(addr $i)/32 dev $(ifn $i)"
	echo "link set $(ifn $i) up"
	echo "route add 100.64.0.1/32 dev $(ifn $i) src $(addr $i) metric $i"
done >>"$C/links"
lab_nsenter cl ip -batch "$C/links" || lab_fail "ip -batch: the $N clients' interfaces, addresses and routes"
if [ "$LAB_WG_IMPL" != kernel ]; then
	for ((i = 1; i <= N; i++)); do lab_wg_go_start cl "$(ifn $i)"; done
	socks_up() { local i; for ((i = 1; i <= N; i++)); do [ -S "/var/run/wireguard/$(ifn $i).sock" ] || return 1; done; }
	lab_wait_until 120 socks_up || lab_fail "not all $N wireguard-go instances opened their UAPI socket within 120 s"
fi
for ((i = 1; i <= N; i++)); do
	echo "set $(ifn $i) private-key $C/$i.key listen-port $((20000 + i)) peer $pg endpoint 10.84.0.2:51820 allowed-ips 100.64.0.1/32"
done >"$C/wg"
lab_nsenter cl xargs -P 4 -L 1 wg <"$C/wg" || lab_fail "wg set for the $N clients"
users=()
for ((i = 1; i <= N; i++)); do
	p=${pubs[i - 1]}
	users+=("{\"name\": \"u$i\", \"public_key\": \"$p\", \"addresses\": [\"$(addr $i)/32\"], \"groups\": []}")
done
( IFS=,; printf '{"groups": {}, "users": [%s]}\n' "${users[*]}" ) >"$LAB_TMP/policy.json"
"$WGXDP" policy check "$LAB_TMP/policy.json" || lab_fail "policy"
echo "$N clients created in $((SECONDS - t0)) s"

wgx_daemon gw --wg "$GW" --policy "$LAB_TMP/policy.json" --rate 10000

# Every client must get in: a peer installed, a handshake completed and an echo answered
# through the tunnel. How long that takes is the machine's business (under the VM's emulation
# 200 handshakes at once take far longer than the 5 s before a client's retry); how many made
# their first attempt's window, and how many initiations it took, is reported. One echo request
# each: WireGuard stages it until its handshake completes and drops it if that takes more than
# 90 s (REKEY_ATTEMPT_TIME), so the wait is 90 s. An echo request or reply can also be lost on
# the way (200 at once through veth queues under emulation, a packet ICMP never resends): a
# client whose echo went unanswered but whose handshake completed asks again, up to three
# times, and is reported. A client with no handshake at all is the product's fault, and fails.
WAIT=${PING_WAIT:-90}
init0=$(wgx_ctr gw gwu initiation)
echo "all $N clients ping at once (one echo request each, answered within $WAIT s)"
start=$(date +%s%N)
pings() {	# pings WAIT TRIES CLIENT...: in parallel, each client until answered or TRIES asked
	# shellcheck disable=SC2016
	lab_nsenter cl bash -c '
		w=$1 n=$2 id=$3 d=$4; shift 4
		for i in "$@"; do
			{ for ((t = 1; t <= n; t++)); do
				ping -c 1 -W "$w" -I "${id}c$i" 100.64.0.1 >"$d/p$i" 2>&1 && break
			done; echo $? >"$d/rc$i"; } &
		done
		wait' - "$1" "$2" "$LAB_ID" "$C" "${@:3}"
}
mapfile -t all < <(seq 1 "$N")
pings "$WAIT" 1 "${all[@]}"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
first=0 late=()
for ((i = 1; i <= N; i++)); do
	if [ "$(cat "$C/rc$i" 2>/dev/null)" != 0 ]; then
		late+=("$i")
		continue
	fi
	t=$(sed -n 's/.*time=\([0-9]*\).*/\1/p' "$C/p$i")
	[ -n "$t" ] && [ "$t" -lt 5000 ] && first=$((first + 1))
done
inits=$(( $(wgx_ctr gw gwu initiation) - init0 ))
echo "$first of $N answered within the first attempt's window (5 s); $inits initiations for $N clients"
peers=$(lab_nsenter gw wg show "$GW" peers | wc -l)
wgx gw peers --json | python3 -c 'import json,sys; print("daemon:", json.load(sys.stdin)["daemon"])'
echo "$((N - ${#late[@]})) of $N first echo requests answered, $peers peers installed, all done in $ms ms"
# A client's state: its handshake (0: never), what it sent and received, and the gateway's view
# of its key.
client_state() {
	local i=$1 hs tx
	hs=$(lab_nsenter cl wg show "$(ifn "$i")" latest-handshakes | awk '{print $2}')
	tx=$(lab_nsenter cl wg show "$(ifn "$i")" transfer | awk '{print "rx " $2 " tx " $3}')
	echo "client $i: handshake ${hs:-none}, $tx; gateway: $(lab_nsenter gw wg show "$GW" dump | awk -v k="${pubs[i - 1]}" '$1 == k {print "endpoint " $3 ", handshake " $5 ", rx " $6 " tx " $7; f = 1} END {if (!f) print "no peer"}')"
}
nohs=0
for i in "${late[@]}"; do
	echo "client $i unanswered: $(tr '\n' ' ' <"$C/p$i")"
	client_state "$i"
	[ "$(lab_nsenter cl wg show "$(ifn "$i")" latest-handshakes | awk '{print $2}')" != 0 ] || nohs=$((nohs + 1))
done
[ "$nohs" = 0 ] || lab_fail "$nohs clients had no handshake within $WAIT s of their first packet"
if [ "${#late[@]}" -gt 0 ]; then
	pings 10 3 "${late[@]}"
	fail=0
	for i in "${late[@]}"; do
		[ "$(cat "$C/rc$i")" = 0 ] && continue
		fail=$((fail + 1)); client_state "$i"
	done
	echo "${#late[@]} echo requests lost after a completed handshake; $((${#late[@]} - fail)) of them answered when asked again"
	[ "$fail" = 0 ] || lab_fail "$fail clients with a handshake got no echo through in three more tries"
fi
expect_eq "peers installed" "$peers" "$N"
echo "jit_scale: all checks passed ($LAB_WG_IMPL WireGuard, $N clients)"
