#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# A flow table made small on purpose (--max-flows 64, --flow-quota 40): alice opens 1000 UDP
# flows; she gets 40 entries, the rest of her packets go into her overflow record, and the
# flow log reports it; bob still gets his flow; for alice, the flow records plus the overflow
# records equal her totals in the kernel and what the server received, packet for packet and
# byte for byte. The table's size cannot be changed while it is pinned.
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx ping python3 tc

# shellcheck source=tests/lib/tunlab.sh
. tests/lib/tunlab.sh
TUNLAB_ATTACH="--max-flows 64 --flow-quota 40"
tunlab_up
tunlab_bob

P=$LAB_TMP/policy.json
cat >"$P" <<J
{"groups": {"dev": {"allow": ["10.91.1.0/24", "fd91:1::/64"]}},
 "users": [{"name": "alice", "public_key": "$pa", "addresses": ["100.64.0.11/32", "fd64::11/128"],
            "groups": ["dev"]},
           {"name": "bob", "public_key": "$pb", "addresses": ["100.64.0.12/32", "fd64::12/128"],
            "groups": ["dev"]}]}
J

out=$(wgx gw attach --wg "$GW" --max-flows 128 2>&1) &&
	lab_fail "re-attach with another --max-flows succeeded: $out"
echo "$out" | grep -q "pinned at another size" || lab_fail "re-attach with another size: $out"
echo "ok: the pinned table's size is kept: $out"

# a UDP sink on srv:9999 that counts datagrams and bytes, answering nothing
cat >"$LAB_TMP/count.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE: keep up under emulation
s.bind(("0.0.0.0", 9999))
s.settimeout(0.2)
n = b = 0
def save():
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write("%d %d\n" % (n, b))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
save()
while True:
    try:
        d = s.recv(65536)
    except socket.timeout:
        save()  # written when idle: reading never waits for the disk
        continue
    n += 1; b += len(d)
PY
lab_spawn nsenter --net="$(lab_ns_path srv)" python3 "$LAB_TMP/count.py" "$LAB_TMP/count"

LOG=$LAB_TMP/flows.jsonl
wgx_daemon gw --wg "$GW" --policy "$P" --flow-log "$LOG" --flow-interval 1
tunlab_handshake
lab_nsenter cb ping -c 1 -W 5 100.64.0.1 >/dev/null 2>&1
lab_wait_handshake cb "${LAB_ID}b" "$pg" 20 || lab_fail "no handshake for bob"

q() {
	python3 - "$1" "$LOG" <<'PY'
import json, sys
R = [json.loads(l) for l in open(sys.argv[2])]
def S(t, cond, k):
    return sum(r[k] for r in R if r["type"] == t and cond(r))
print(eval(sys.argv[1]))
PY
}

# alice: 1000 datagrams of 100 bytes (128-byte packets), each from a new socket (a new port)
lab_nsenter ca python3 -c '
import socket, time
for i in range(1000):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"q" * 100, ("10.91.1.10", 9999))
    s.close()
    if i % 50 == 49:
        time.sleep(0.02)'
lab_nsenter cb ping -c 5 -i 0.3 -s 200 -W 2 10.91.1.10 >/dev/null || lab_fail "bob's pings with alice at her quota"
sleep 3	# two intervals: every packet is in a record (and the server idle: its count saved)

received=$(cut -d' ' -f1 "$LAB_TMP/count" 2>/dev/null)
# the sender may lose some under emulation; what reached the server is what is compared
expect_ge "datagrams the server received" "${received:-0}" 200
flows=$(wgx gw flows --json --user alice)
acct() { echo "$flows" | python3 -c "import json,sys; u=json.load(sys.stdin)['users'][0]; print($1)"; }
alice='lambda r: r.get("user") == "alice"'
expect_eq "alice's totals in the kernel: packets and bytes out" \
	"$(acct "[u['tx_packets'], u['tx_bytes']]")" "[$received, $((received * 128))]"
expect_eq "the log: her flow records + overflow records = what the server received" \
	"$(q "[S('flow', $alice, 'tx_packets') + S('overflow', $alice, 'tx_packets'), S('flow', $alice, 'tx_bytes') + S('overflow', $alice, 'tx_bytes')]")" \
	"[$received, $((received * 128))]"
expect_eq "her flow entries: the quota" "$(acct "u['flow_entries']")" 40
expect_eq "flow records of alice: one per entry" \
	"$(q "len(set((r['user_port'], r['flow_start']) for r in R if r['type'] == 'flow' and ($alice)(r)))")" 40
expect_eq "flow_start records of alice: one per entry" \
	"$(q "len([r for r in R if r['type'] == 'flow_start' and ($alice)(r)])")" 40
# (a port may come back for a later socket: that datagram is in the flow of its first)
expect_eq "the overflow is reported: the log's overflow records = her overflow in the kernel" \
	"$(q "[S('overflow', $alice, k) for k in ('tx_packets', 'tx_bytes')]")" \
	"$(acct "[u['overflow']['tx_packets'], u['overflow']['tx_bytes']]")"
expect_ge "her packets over the quota" "$(q "S('overflow', $alice, 'tx_packets')")" $((received / 2))
expect_eq "the overflow records count the refused flows" \
	"$(q "S('overflow', $alice, 'flows_refused')")" "$(acct "u['flows_refused']")"
bob='lambda r: r.get("user") == "bob" and r["proto"] == "icmp"'
expect_eq "bob got his flow: 5 pings each way, 228-byte packets" \
	"$(q "[S('flow', $bob, k) for k in ('tx_packets', 'tx_bytes', 'rx_packets', 'rx_bytes')]")" \
	"[5, 1140, 5, 1140]"
expect_eq "no overflow for bob" "$(q "len([r for r in R if r['type'] == 'overflow' and r['user'] == 'bob'])")" 0
wgx gw flows --user alice | tail -1

# Alice leaves and carol (another key) gets her addresses: carol gets an id that never held
# an account, so alice's totals are not carol's (the kernel never resets an id's account).
uid() { wgx gw policy show --json | python3 -c "import json,sys; print([u['user_id'] for u in json.load(sys.stdin)['users'] if u['name'] == '$1'])"; }
alice_id=$(uid alice)
pc=$(lab_pubkey "$(lab_genkey)")
sed -e "s|\"alice\"|\"carol\"|; s|$pa|$pc|" "$P" >"$P.new" && mv "$P.new" "$P"
applied() { [ "$(grep -c "policy applied to the tunnel" "$LAB_TMP/run.log")" -gt "$1" ]; }
a0=$(grep -c "policy applied to the tunnel" "$LAB_TMP/run.log")
kill -HUP "$DAEMON"
lab_wait_until 20 applied "$a0" || lab_fail "the reload without alice was not applied"
carol_id=$(uid carol)
[ "$carol_id" != "[]" ] && [ "$carol_id" != "$alice_id" ] ||
	lab_fail "carol got alice's id $alice_id: $carol_id"
echo "ok: carol got id $carol_id, not alice's $alice_id"
expect_eq "carol's account: none yet" \
	"$(wgx gw flows --json | python3 -c "import json,sys; print([u['tx_packets'] for u in json.load(sys.stdin)['users'] if u['user'] == 'carol'])")" "[]"
echo "flow_quota: all checks passed ($LAB_WG_IMPL WireGuard)"
