#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# How the just-in-time daemon is abused, and that each abuse fails and is counted:
#  - replay: alice's initiation, captured on the wire, sent again from another host after her
#    peer went idle, and again after a kill -9 and restart of the daemon: no peer (replayed)
#  - a spoofed 127.0.0.1 source carrying a real initiation: nothing (bad_source)
#  - address hijack: carol's tunnel address lies inside a hand-made peer's allowed IPs: carol
#    gets no peer and the hand-made peer keeps its prefix (address_conflict)
#  - the uplink detached under a running daemon: the daemon's state stays (its pins, its
#    peers, which it still removes when idle), and after a re-attach the next initiation
#    reaches it
#  - a backlog: initiations that waited in the ring while no daemon ran are all handed to
#    WireGuard once the peer exists (reinjected), so the client's latest attempt is answered
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx ping python3

lab_netns gw
lab_netns ca
lab_netns cc
lab_netns cx
i=1
for c in a c x; do
	lab_veth "c$c" "c${c}u" gw "g${c}u"
	lab_addr "c$c" "c${c}u" "10.87.$i.1/24"
	lab_addr gw "g${c}u" "10.87.$i.2/24"
	wgx gw attach "g${c}u" --port 51820 >/dev/null || lab_fail "attach g${c}u"
	i=$((i + 1))
done
kg=$(lab_genkey); pg=$(lab_pubkey "$kg")
GW=${LAB_ID}g
lab_wg gw "$GW" "$kg" 51820 100.64.0.1/24
declare -A pub key
for c in a c; do key[$c]=$(lab_genkey); pub[$c]=$(lab_pubkey "${key[$c]}"); done
lab_wg ca "${LAB_ID}a" "${key[a]}" 41001 100.64.0.11/24
lab_wg cc "${LAB_ID}c" "${key[c]}" 41003 100.64.0.40/24
for c in a c; do
	n=$([ $c = a ] && echo 1 || echo 2)
	lab_wg_peer "c$c" "${LAB_ID}$c" "$pg" endpoint "10.87.$n.2:51820" allowed-ips 100.64.0.0/24
done
# A peer configured by hand on the gateway, holding 100.64.0.32/28.
hand=$(lab_pubkey "$(lab_genkey)")
lab_wg_peer gw "$GW" "$hand" allowed-ips 100.64.0.32/28
cat >"$LAB_TMP/policy.json" <<J
{"groups": {}, "users": [
 {"name": "alice", "public_key": "${pub[a]}", "addresses": ["100.64.0.11/32"], "groups": []},
 {"name": "carol", "public_key": "${pub[c]}", "addresses": ["100.64.0.40/32"], "groups": []}]}
J
cp "$LAB_TMP/policy.json" "$LAB_TMP/both.json"
# The idle phase waits for alice's peer to go; the later phases must not lose it to a slow
# machine (a handshake that takes longer than the idle timeout), so they run with 600 s.
IDLE=4
start_daemon() {
	wgx_daemon gw --wg "$GW" --policy "$LAB_TMP/policy.json" --idle-timeout "${1:-$IDLE}"
}
has_peer() { lab_nsenter gw wg show "$GW" peers | grep -qx "$1"; }
stat() { wgx_stat gw "$1"; }
# wait_for WHAT SECONDS CMD...: until CMD succeeds, at most SECONDS
wait_for() {
	local what=$1 max=$2 i
	shift 2
	for ((i = 0; i < max * 10; i++)); do "$@" && return 0; sleep 0.1; done
	lab_fail "$what: not within ${max}s"
}
events_past() { [ "$(stat events)" -gt "$1" ]; }
stat_ge() { [ "$(stat "$1")" -ge "$2" ]; }
no_peer() { ! has_peer "$1"; }

# Capture alice's first initiation as it arrives on the gateway.
cat >"$LAB_TMP/sniff.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((sys.argv[2], 0))
open(sys.argv[1] + ".ready", "w").close()
while True:
    f = s.recv(2048)
    ip = f[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 17:
        continue
    udp = ip[ihl:]
    if int.from_bytes(udp[2:4], "big") == 51820 and len(udp) == 8 + 148 and udp[8] == 1:
        open(sys.argv[1], "wb").write(udp[8:])
        break
PY
lab_spawn --log "$LAB_TMP/sniff.err" nsenter --net="$(lab_ns_path gw)" python3 "$LAB_TMP/sniff.py" "$LAB_TMP/init.bin" gau
wait_for "the sniffer" 20 test -e "$LAB_TMP/init.bin.ready"

start_daemon
lab_nsenter ca ping -c 1 -W 3 100.64.0.1 >/dev/null || lab_fail "alice's first ping"
has_peer "${pub[a]}" || lab_fail "no peer for alice"
wait_for "the captured initiation" 10 test -s "$LAB_TMP/init.bin"
echo "ok: alice got in; her initiation was captured"

# alice leaves (no traffic, no keepalive): her peer goes idle and is removed.
lab_nsenter ca ip link set "${LAB_ID}a" down
wait_for "alice's idle peer removed" $((IDLE + 30)) no_peer "${pub[a]}"
expect_ge "removed_idle" "$(stat removed_idle)" 1

# replay(): the captured bytes, sent from cx (10.87.3.1) to the gateway
replay() {
	lab_nsenter cx python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.87.3.1", 45000))
s.sendto(open(sys.argv[1], "rb").read(), ("10.87.3.2", 51820))' "$LAB_TMP/init.bin"
}
ev=$(stat events)
replay
wait_for "the replay read" 20 events_past "$ev"
sleep 0.5
has_peer "${pub[a]}" && lab_fail "a replayed initiation re-installed alice's peer"
expect_eq "replayed" "$(stat replayed)" 1

# The daemon killed and restarted: the newest timestamp is pinned, the replay still fails.
kill -9 "$DAEMON"; wait "$DAEMON" 2>/dev/null
start_daemon
ev=$(stat events)
replay
wait_for "the replay read after the restart" 20 events_past "$ev"
sleep 0.5
has_peer "${pub[a]}" && lab_fail "a replay after a restart re-installed alice's peer"
expect_eq "replayed after kill -9 and restart" "$(stat replayed)" 2

# The same initiation with a spoofed 127.0.0.1 source (a raw frame to the gateway's veth).
gmac=$(lab_nsenter gw ip -o link show gxu | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
lab_nsenter cx python3 - "$LAB_TMP/init.bin" "$gmac" cxu <<'PY'
import socket, struct, sys
msg = open(sys.argv[1], "rb").read()
dst = bytes.fromhex(sys.argv[2].replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[3], 0))
udp = struct.pack("!HHHH", 45001, 51820, 8 + len(msg), 0) + msg
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                 socket.inet_aton("127.0.0.1"), socket.inet_aton("10.87.3.2"))
c = sum(struct.unpack("!10H", ip)); c = (c & 0xffff) + (c >> 16); c = ~((c & 0xffff) + (c >> 16)) & 0xffff
ip = ip[:10] + struct.pack("!H", c) + ip[12:]
s.send(dst + s.getsockname()[4] + b"\x08\x00" + ip + udp)
PY
wait_for "bad_source counted" 20 stat_ge bad_source 1
expect_eq "bad_source (a real initiation from 127.0.0.1)" "$(stat bad_source)" 1
has_peer "${pub[a]}" && lab_fail "a spoofed loopback source installed a peer"

# carol's address is inside the hand-made peer's 100.64.0.32/28.
lab_nsenter cc ping -c 1 -W 3 100.64.0.1 >/dev/null && lab_fail "carol got in over a hand-made peer's prefix"
has_peer "${pub[c]}" && lab_fail "a peer for carol"
expect_ge "address_conflict" "$(stat address_conflict)" 1
expect_eq "the hand-made peer's allowed IPs" \
	"$(lab_nsenter gw wg show "$GW" allowed-ips | awk -v k="$hand" '$1 == k { print $2 }')" 100.64.0.32/28
grep -q "refused carol .*100.64.0.40/32 overlaps 100.64.0.32/28" "$LAB_TMP/run.log" ||
	lab_fail "the log does not say why carol was refused"

# A backlog: no daemon while alice tries twice (her retry comes 5 s after her first attempt).
kill -9 "$DAEMON"; wait "$DAEMON" 2>/dev/null
lab_wg_peer ca "${LAB_ID}a" "$pg" remove	# a new session on her side
lab_nsenter ca ip link set "${LAB_ID}a" up
lab_wg_peer ca "${LAB_ID}a" "$pg" endpoint 10.87.1.2:51820 allowed-ips 100.64.0.0/24
init_count() { wgx_ctr gw gau initiation; }
ev=$(init_count)
lab_spawn --log "$LAB_TMP/ping.log" nsenter --net="$(lab_ns_path ca)" ping -c 1 -W 90 100.64.0.1
PING=$LAB_PID
two_waiting() { [ "$(init_count)" -ge $((ev + 2)) ]; }
wait_for "alice's two attempts" 60 two_waiting
re=$(stat reinjected)
start_daemon 600
wait "$PING" || { cat "$LAB_TMP/ping.log"; lab_fail "alice's ping across the daemon's start"; }
expect_ge "reinjected: the backlog's every initiation" "$(stat reinjected)" $((re + 2))

# Detach every uplink under the running daemon: its state and its peers stay its own.
for c in a c x; do wgx gw detach "g${c}u" >/dev/null || lab_fail "detach g${c}u"; done
[ -e "$WGXDP_PIN_DIR/jit/wgx_peers" ] || lab_fail "the last detach removed the daemon's state"
[ -e "$WGXDP_PIN_DIR/uplink" ] && lab_fail "the last detach left the uplink's pins"
expect_eq "managed peers after the detach" "$(wgx gw peers --json | python3 -c 'import json,sys; print([p["user"] for p in json.load(sys.stdin)["peers"]])')" "['alice']"
# While detached the daemon still manages its peers: alice leaves the policy, her peer goes.
python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); p["users"]=[u for u in p["users"] if u["name"]!="alice"]; json.dump(p, open(sys.argv[2], "w"))' \
	"$LAB_TMP/both.json" "$LAB_TMP/policy.json"
kill -HUP "$DAEMON"
wait_for "alice's peer removed while detached" 60 no_peer "${pub[a]}"
grep -q "removing alice: left the policy" "$LAB_TMP/run.log" || lab_fail "the log does not say why alice went"
wait_for "the daemon noticing the detach" 60 grep -q "ring buffer is gone" "$LAB_TMP/run.log"
wgx gw attach gau --port 51820 >/dev/null || lab_fail "re-attach gau"
wait_for "the daemon reading the new ring buffer" 60 grep -q "attached again" "$LAB_TMP/run.log"
cp "$LAB_TMP/both.json" "$LAB_TMP/policy.json"
kill -HUP "$DAEMON"
reloaded_with_alice() { [ "$(grep -c "policy .*: 2 users" "$LAB_TMP/run.log")" -ge 2 ]; }
wait_for "the policy with alice again" 60 reloaded_with_alice
lab_wg_peer ca "${LAB_ID}a" "$pg" remove
lab_wg_peer ca "${LAB_ID}a" "$pg" endpoint 10.87.1.2:51820 allowed-ips 100.64.0.0/24
lab_nsenter ca ping -c 1 -W 4 100.64.0.1 >/dev/null ||
	lab_fail "alice's first ping after the uplink's detach and re-attach"
echo "ok: after detach and re-attach, alice's first initiation reached the daemon"
echo "jit_abuse: all checks passed ($LAB_WG_IMPL WireGuard)"
