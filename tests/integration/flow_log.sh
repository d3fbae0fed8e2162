#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# The flow log (`wgxdp run --flow-log FILE --flow-interval 1`): pings of known sizes (IPv4,
# IPv6), UDP datagrams and a TCP transfer through the tunnel give flow records whose
# interval counts add up to exactly those packets and L3 bytes, and a flow_end record whose
# totals equal that sum; a denied ping is a deny record; a port scan's deny events are held
# back by the kernel and the log says how many; the handshake and the install are records;
# SIGHUP after logrotate's move loses no record; a full disk loses records, says so, and the
# tunnel goes on enforcing.
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx ping python3 tc

# shellcheck source=tests/lib/tunlab.sh
. tests/lib/tunlab.sh
tunlab_up

P=$LAB_TMP/policy.json
cat >"$P" <<J
{"groups": {"dev": {"allow": ["10.91.1.0/24", "fd91:1::/64"]}},
 "users": [{"name": "alice", "public_key": "$pa", "addresses": ["100.64.0.11/32", "fd64::11/128"],
            "groups": ["dev"]}]}
J
tunlab_sink
LOG=$LAB_TMP/flows.jsonl
wgx_daemon gw --wg "$GW" --policy "$P" --flow-log "$LOG" --flow-interval 1
tunlab_handshake

# q EXPR: a python expression over R, the records of every log file so far (L: the list)
q() {
	python3 - "$1" "$LOG"* <<'PY'
import json, sys
R = []
for f in sorted(sys.argv[2:]):
    for line in open(f):
        R.append(json.loads(line))
def S(t, cond, k):
    return sum(r[k] for r in R if r["type"] == t and cond(r))
print(eval(sys.argv[1]))
PY
}
settle() { sleep 3; }	# two intervals: every packet so far is in a record

lab_nsenter ca ping -c 6 -i 0.4 -s 333 -W 2 10.91.1.10 >/dev/null || lab_fail "ping -s 333 10.91.1.10"
lab_nsenter ca ping -c 4 -i 0.4 -s 333 -W 2 fd91:1::10 >/dev/null || lab_fail "ping -s 333 fd91:1::10"
lab_nsenter ca python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(b"u" * 500, ("10.91.1.10", 9999))'
tunlab_send_tcp 100000 || lab_fail "a tcp transfer of 100000 bytes to 10.91.1.10:9000"
settle
icmp4='lambda r: r["proto"] == "icmp" and r["remote_address"] == "10.91.1.10"'
icmp6='lambda r: r["proto"] == "icmpv6" and r["remote_address"] == "fd91:1::10"'
udp='lambda r: r["proto"] == "udp" and r["remote_port"] == 9999'
tcp='lambda r: r["proto"] == "tcp" and r["remote_port"] == 9000'
expect_eq "icmp flow records: tx/rx packets and bytes, summed over intervals" \
	"$(q "[S('flow', $icmp4, k) for k in ('tx_packets', 'tx_bytes', 'rx_packets', 'rx_bytes')]")" \
	"[6, 2166, 6, 2166]"
expect_ge "the icmp flow spans more than one interval (records)" \
	"$(q "len([r for r in R if r['type'] == 'flow' and ($icmp4)(r)])")" 2
expect_eq "icmpv6 flow records" \
	"$(q "[S('flow', $icmp6, k) for k in ('tx_packets', 'tx_bytes', 'rx_packets', 'rx_bytes')]")" \
	"[4, 1524, 4, 1524]"
expect_eq "udp flow records (3 datagrams of 500 bytes: 528-byte packets)" \
	"$(q "[S('flow', $udp, k) for k in ('tx_packets', 'tx_bytes')]")" "[3, 1584]"
expect_eq "the records name the user, her key, tunnel address and endpoint" \
	"$(q "sorted(set((r['user'], r['public_key'], r['tunnel_address'], r['peer_endpoint'], r['group']) for r in R if r['type'] == 'flow' and ($icmp4)(r)))")" \
	"[('alice', '$pa', '100.64.0.11', '10.89.1.1:41001', 'dev')]"

# The TCP flow ends (both FINs, then the kernel's close timeout, 10 s): its flow_end totals
# equal the sum of its interval records.
tcp_ended() { [ "$(q "len([r for r in R if r['type'] == 'flow_end' and ($tcp)(r)])")" = 1 ]; }
lab_wait_until 40 tcp_ended || lab_fail "no flow_end record for the tcp flow"
expect_eq "tcp flow_end: closed (both FINs, or a RST after them)" \
	"$(q "[r['end_reason'] in ('closed', 'reset') for r in R if r['type'] == 'flow_end' and ($tcp)(r)]")" "[True]"
expect_eq "tcp flow_end totals = the sum of its interval records" \
	"$(q "[S('flow_end', $tcp, k) for k in ('tx_packets', 'tx_bytes', 'rx_packets', 'rx_bytes')]")" \
	"$(q "[S('flow', $tcp, k) for k in ('tx_packets', 'tx_bytes', 'rx_packets', 'rx_bytes')]")"
expect_ge "tcp flow: more than the 100000 bytes sent" "$(q "S('flow_end', $tcp, 'tx_bytes')")" 100001

expect_eq "handshake record" "$(q "[(r['user'], r['outcome'], r['endpoint']) for r in R if r['type'] == 'handshake'][:1]")" \
	"[('alice', 'installed', '10.89.1.1:41001')]"
expect_eq "peer_installed record" "$(q "[(r['user'], r['reason']) for r in R if r['type'] == 'peer_installed']")" \
	"[('alice', 'policy')]"

# A denied destination: a deny record. A scan of 300 ports: the kernel holds most events back
# (10/s, burst 20 per user) and the log's deny_summary says how many.
lab_nsenter ca ping -c 1 -W 1 10.91.2.10 >/dev/null 2>&1 && lab_fail "alice reached 10.91.2.10 (denied)"
settle
expect_eq "deny record" "$(q "[(r['user'], r['reason'], r['direction'], r['dst']) for r in R if r['type'] == 'deny' and r['user'] == 'alice' and r['dst'] == '10.91.2.10'][:1]")" \
	"[('alice', 'denied', 'from_user', '10.91.2.10')]"
# the kernel's own count of what it denied from users (alice is the only one)
denied_in() { wgx_json gw "s['tunnel']['counters']['ingress']['reasons'].get('denied', {}).get('packets', 0)"; }
log_denies() { q "len([r for r in R if r['type'] == 'deny' and r['user'] == 'alice']) + sum(r['held_back'] for r in R if r['type'] == 'deny_summary' and r['user'] == 'alice')"; }
settle
k0=$(denied_in)
l0=$(log_denies)
d0=$(q "len([r for r in R if r['type'] == 'deny' and r['user'] == 'alice'])")
lab_nsenter ca python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in range(1000, 1300):
    s.sendto(b"s", ("10.91.2.10", p))'
settle
k1=$(denied_in)
# the log has caught up when its deny records plus what it says was held back account for
# every packet the kernel denied (a loaded sender may lose a few of the 300 before the tunnel)
_log_caught_up() { [ $(($(log_denies) - l0)) -ge $((k1 - k0)) ]; }
lab_wait_until 30 _log_caught_up
d1=$(q "len([r for r in R if r['type'] == 'deny' and r['user'] == 'alice'])")
held=$(($(log_denies) - l0 - (d1 - d0)))
echo "ok: the scan of 300: the tunnel denied $((k1 - k0)); $((d1 - d0)) deny records, $held held back by the kernel"
expect_ge "the scan's packets that reached the tunnel" "$((k1 - k0))" 100
[ $((d1 - d0)) -le 60 ] || lab_fail "the scan gave $((d1 - d0)) deny records: the kernel's limit (burst 20, 10/s) did not hold"
expect_eq "deny records + held back = what the tunnel denied" "$((d1 - d0 + held))" "$((k1 - k0))"

# logrotate: move the file, SIGHUP, nothing lost
mv "$LOG" "$LOG.1"
kill -HUP "$DAEMON"
lab_wait_until 10 test -e "$LOG" || lab_fail "no new $LOG after SIGHUP"
lab_nsenter ca ping -c 3 -i 0.4 -s 222 -W 2 10.91.1.10 >/dev/null || lab_fail "ping -s 222"
settle
got=$(q "[S('flow', lambda r: r['proto'] == 'icmp' and r['tx_bytes'] % 250 == 0 and r['tx_bytes'] > 0, k) for k in ('tx_packets', 'tx_bytes')]")
[ "$got" = "[3, 750]" ] || { tail -4 "$LOG.1"; echo ...; cat "$LOG"; }
expect_eq "after the move: the 250-byte pings, none lost" "$got" "[3, 750]"

# every time a record gives: RFC 3339 UTC with microseconds, within a day of now (the
# formatting memo of loader/flowlog.c against Python's reading of it), and in order
T='("time", "interval_start", "interval_end", "flow_start", "last_seen", "flow_end")'
expect_eq "times not RFC 3339 UTC with microseconds, or not today" "$(q "[(r['type'], k, r[k]) for r in R for k in $T if r.get(k) is not None and (not __import__('re').fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z', r[k]) or abs(__import__('calendar').timegm(__import__('time').strptime(r[k][:19], '%Y-%m-%dT%H:%M:%S')) - __import__('time').time()) > 86400)][:3]")" "[]"
expect_eq "flows whose start is after their last packet or end" "$(q "len([r for r in R if r['type'] in ('flow', 'flow_end') and r['flow_start'] > (r.get('last_seen') or r.get('flow_end'))])")" 0
expect_ge "flow records with their times checked" "$(q "len([r for r in R if r['type'] == 'flow'])")" 4
grep -q '"tx_bytes":\(250\|500\|750\),' "$LOG" ||
	lab_fail "the new file has no record of the pings after SIGHUP"

# A full disk: records are lost and counted, the daemon and the tunnel go on.
kill "$DAEMON"; wait "$DAEMON" 2>/dev/null
mkdir "$LAB_TMP/full"
mount -t tmpfs -o size=64k tmpfs "$LAB_TMP/full" || lab_fail "mount a small tmpfs"
lab_defer umount -l "$LAB_TMP/full"
dd if=/dev/zero of="$LAB_TMP/full/fill" bs=4k count=64 2>/dev/null
wgx_daemon gw --wg "$GW" --policy "$P" --flow-log "$LAB_TMP/full/flows.jsonl" --flow-interval 1
lab_nsenter ca ping -c 3 -i 0.3 -W 2 10.91.1.10 >/dev/null || lab_fail "ping with the flow log's disk full"
lab_nsenter ca ping -c 1 -W 1 10.91.2.10 >/dev/null 2>&1 && lab_fail "denied reached with the disk full"
lost_said() { grep -q "records lost" "$LAB_TMP/run.log"; }
lab_wait_until 10 lost_said || lab_fail "the daemon did not say records were lost"
kill -0 "$DAEMON" || lab_fail "the daemon died of a full disk"
echo "ok: a full disk: $(grep -c "records lost" "$LAB_TMP/run.log") lost-record warnings, enforcement on"
echo "flow_log: all checks passed ($LAB_WG_IMPL WireGuard)"
