#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# Initiations that must install nothing, each counted by its reason: a real client that
# configured another responder key (mac1 fails), random bytes (mac1 fails), a message with a
# valid mac1 whose encrypted static does not open (not for us), and a flood from one source
# (throttled before any X25519). A known client still gets in afterwards.
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx ping

lab_netns gw
lab_netns c1
lab_netns c2
lab_veth c1 c1u gw g1u
lab_veth c2 c2u gw g2u
lab_addr c1 c1u 10.86.1.1/24
lab_addr gw g1u 10.86.1.2/24
lab_addr c2 c2u 10.86.2.1/24
lab_addr gw g2u 10.86.2.2/24
wgx gw attach g1u --port 51820 >/dev/null || lab_fail "attach"
wgx gw attach g2u --port 51820 >/dev/null || lab_fail "attach"
kg=$(lab_genkey); pg=$(lab_pubkey "$kg")
GW=${LAB_ID}g
lab_wg gw "$GW" "$kg" 51820 100.64.0.1/24
k1=$(lab_genkey); p1=$(lab_pubkey "$k1")
k2=$(lab_genkey); p2=$(lab_pubkey "$k2")
other=$(lab_pubkey "$(lab_genkey)")
lab_wg c1 "${LAB_ID}1" "$k1" 41001 100.64.0.11/24
lab_wg c2 "${LAB_ID}2" "$k2" 41002 100.64.0.12/24
# c1 is a known user, but it believes the gateway's key is another one
lab_wg_peer c1 "${LAB_ID}1" "$other" endpoint 10.86.1.2:51820 allowed-ips 100.64.0.0/24
lab_wg_peer c2 "${LAB_ID}2" "$pg" endpoint 10.86.2.2:51820 allowed-ips 100.64.0.0/24
cat >"$LAB_TMP/policy.json" <<J
{"groups": {}, "users": [
 {"name": "one", "public_key": "$p1", "addresses": ["100.64.0.11/32"], "groups": []},
 {"name": "two", "public_key": "$p2", "addresses": ["100.64.0.12/32"], "groups": []}]}
J
wgx_daemon gw --wg "$GW" --policy "$LAB_TMP/policy.json"
stat() { wgx_stat gw "$1"; }

lab_nsenter c1 ping -c 1 -W 2 100.64.0.1 >/dev/null && lab_fail "a client with the wrong responder key got in"
expect_ge "bad_mac1 (initiation made for another responder key)" "$(stat bad_mac1)" 1

# Crafted from c1 (10.86.1.1): random bytes; then a valid mac1 over a corrupted message.
lab_nsenter c1 python3 - "$pg" <<'PY'
import base64, hashlib, os, socket, struct, sys
spub = base64.b64decode(sys.argv[1])
mac1key = hashlib.blake2s(b"mac1----" + spub).digest()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.86.1.1", 41999))
rnd = b"\x01\x00\x00\x00" + os.urandom(144)
s.sendto(rnd, ("10.86.1.2", 51820))                               # bad mac1
body = b"\x01\x00\x00\x00" + struct.pack("<I", 7) + os.urandom(108)  # ephemeral, static, ts: noise
mac1 = hashlib.blake2s(body, key=mac1key, digest_size=16).digest()
s.sendto(body + mac1 + bytes(16), ("10.86.1.2", 51820))         # mac1 ok, does not open
PY
sleep 1
expect_ge "bad_mac1 after random bytes" "$(stat bad_mac1)" 2
expect_ge "not_for_us (valid mac1, static does not open)" "$(stat not_for_us)" 1

# A flood from one source: over the limit, throttled before any X25519 work.
lab_nsenter c1 python3 - "$pg" <<'PY'
import base64, hashlib, os, socket, struct, sys
spub = base64.b64decode(sys.argv[1])
mac1key = hashlib.blake2s(b"mac1----" + spub).digest()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(300):
    body = b"\x01\x00\x00\x00" + struct.pack("<I", i) + os.urandom(108)
    s.sendto(body + hashlib.blake2s(body, key=mac1key, digest_size=16).digest() + bytes(16),
             ("10.86.1.2", 51820))
PY
sleep 1
thr=$(stat throttled); nfu=$(stat not_for_us)
expect_ge "throttled in a flood of 300 from one source" "$thr" 250
echo "ok: not_for_us = $nfu: only the burst reached X25519"
[ "$nfu" -le 40 ] || lab_fail "$nfu flood initiations were decrypted; the limit is 20/s, burst 5"
expect_eq "peers installed by all of that" "$(lab_nsenter gw wg show "$GW" peers | wc -l)" 0
expect_eq "installed" "$(stat installed)" 0

# The other source is not affected: a known client gets in on its first attempt.
lab_nsenter c2 ping -c 1 -W 3 100.64.0.1 >/dev/null || { cat "$LAB_TMP/run.log"; lab_fail "a known client did not get in after the abuse"; }
expect_eq "installed" "$(stat installed)" 1
echo "jit_bad: all checks passed ($LAB_WG_IMPL WireGuard)"
