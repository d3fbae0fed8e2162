#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# vm: every kernel
# Per-user enforcement end to end: alice (group dev) reaches the hosts of an allowed subnet and
# not those of another, over IPv4 and IPv6, tcp to an allowed port and not to another; replies
# come back; a host behind the gateway cannot open a connection to her; `policy explain`
# agrees with what the packets did; a reload takes effect without restarting anything; a
# ping stream allowed by both policies loses nothing across up to 100 reloads; kill -9 of the
# daemon keeps the last policy enforced.
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx ping python3 tc

# shellcheck source=tests/lib/tunlab.sh
. tests/lib/tunlab.sh
tunlab_up

# policy FILE EXTRA: dev allows 10.91.1.0/24, fd91:1::/64 and tcp/8080 on 10.91.2.10 (+ EXTRA)
P=$LAB_TMP/policy.json
policy() {
	cat >"$1" <<J
{"groups": {"dev": {"allow": ["10.91.1.0/24", "fd91:1::/64",
                             {"cidr": "10.91.2.10/32", "proto": "tcp", "ports": "8080"}$2]}},
 "users": [{"name": "alice", "public_key": "$pa", "addresses": ["100.64.0.11/32", "fd64::11/128"],
            "groups": ["dev"]}]}
J
}
policy "$P" ""
# tcp listeners on srv: 8080 and 8081 on every address
cat >"$LAB_TMP/listen.py" <<'PY'
import socket, threading
def serve(port, fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(16)
    while True:
        c, _ = s.accept(); c.sendall(b"hello\n"); c.close()
for port in (8080, 8081):
    threading.Thread(target=serve, args=(port, socket.AF_INET, "0.0.0.0"), daemon=True).start()
threading.Event().wait()
PY
lab_spawn nsenter --net="$(lab_ns_path srv)" python3 "$LAB_TMP/listen.py"
tunlab_sink
wgx_daemon gw --wg "$GW" --policy "$P"
tunlab_handshake

reaches() { lab_nsenter ca ping -c 1 -W 2 "$1" >/dev/null 2>&1; }
tcp() {
	lab_nsenter ca python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)
assert s.recv(16) == b"hello\n"' "$1" "$2" 2>/dev/null
}
# explain WHO DST [PROTO PORT]: "allowed" or "denied"
explain() {
	wgx gw policy explain "$@" --json | python3 -c 'import json,sys; print("allowed" if json.load(sys.stdin)["allowed"] else "denied")'
}
tun_ctr() {
	wgx_json gw "s['tunnel']['counters']['$1']['reasons'].get('$2', {}).get('packets', 0)"
}

reaches 10.91.1.10 || lab_fail "alice cannot reach 10.91.1.10 (allowed)"
reaches 10.91.2.10 && lab_fail "alice reached 10.91.2.10 (not allowed)"
reaches fd91:1::10 || lab_fail "alice cannot reach fd91:1::10 (allowed)"
reaches fd91:2::10 && lab_fail "alice reached fd91:2::10 (not allowed)"
tcp 10.91.2.10 8080 || lab_fail "alice cannot reach tcp/8080 on 10.91.2.10 (allowed)"
tcp 10.91.2.10 8081 && lab_fail "alice reached tcp/8081 on 10.91.2.10 (not allowed)"
echo "ok: allowed destinations reached, denied ones not (IPv4, IPv6, tcp ports)"
expect_ge "ingress allowed" "$(tun_ctr ingress allowed)" 4
expect_ge "egress reply" "$(tun_ctr egress reply)" 4
expect_ge "ingress denied" "$(tun_ctr ingress denied)" 3

expect_eq "explain alice 10.91.1.10 icmp" "$(explain alice 10.91.1.10 icmp)" allowed
expect_eq "explain alice 10.91.2.10 icmp" "$(explain alice 10.91.2.10 icmp)" denied
expect_eq "explain 100.64.0.11 fd91:1::10 icmpv6" "$(explain 100.64.0.11 fd91:1::10 icmpv6)" allowed
expect_eq "explain alice fd91:2::10 icmpv6" "$(explain alice fd91:2::10 icmpv6)" denied
expect_eq "explain alice 10.91.2.10 tcp 8080" "$(explain alice 10.91.2.10 tcp 8080)" allowed
expect_eq "explain alice 10.91.2.10 tcp 8081" "$(explain alice 10.91.2.10 tcp 8081)" denied
wgx gw policy explain alice 10.91.2.10 tcp 8081 || true

# A host behind the gateway cannot open a connection to alice.
u0=$(tun_ctr egress unsolicited)
lab_nsenter srv ping -c 1 -W 2 100.64.0.11 >/dev/null 2>&1 && lab_fail "srv reached alice unsolicited"
expect_ge "egress unsolicited" "$(tun_ctr egress unsolicited)" $((u0 + 1))

# A reload that allows 10.91.2.0/24: in force at once, nothing restarted.
policy "$P" ', "10.91.2.0/24"'
kill -HUP "$DAEMON"
lab_wait_until 20 reaches 10.91.2.10 || lab_fail "the reload did not allow 10.91.2.10"
expect_eq "explain after the reload" "$(explain alice 10.91.2.10 icmp)" allowed
echo "ok: a reload took effect without a restart"

# Reloads between two policies that both allow 10.91.1.0/24 while a ping stream runs: the
# stream loses nothing. Each reload waits until the daemon applied the last one (signals sent
# faster than it applies would merge), at most 100; at least 20 must fall in the stream, which
# is sized from one timed reload to hold 40 (20 s at least).
cp "$P" "$LAB_TMP/p2.json"
policy "$LAB_TMP/p1.json" ""
applied_log() { grep -c "policy applied to the tunnel" "$LAB_TMP/run.log"; }
a0=$(applied_log)
_applied_one() { [ "$(applied_log)" -gt "$a0" ]; }
t0=$(date +%s%N)
cp "$LAB_TMP/p2.json" "$P"
kill -HUP "$DAEMON"
lab_wait_until 60 _applied_one || lab_fail "a reload was not applied within 60 s"
reload_ms=$((($(date +%s%N) - t0) / 1000000))
count=$((reload_ms * 40 / 10 + 1))
[ "$count" -ge 2000 ] || count=2000
[ "$count" -le 60000 ] || count=60000
echo "one reload took $reload_ms ms: a stream of $count pings, 10 ms apart"
lab_spawn --log "$LAB_TMP/stream.log" nsenter --net="$(lab_ns_path ca)" ping -c "$count" -i 0.01 -W 5 10.91.1.10
STREAM=$LAB_PID
a0=$(applied_log)
i=0
_applied_i() { [ "$(applied_log)" -ge $((a0 + i)) ]; }
while [ $i -lt 100 ] && kill -0 "$STREAM" 2>/dev/null; do
	i=$((i + 1))
	cp "$LAB_TMP/p$((i % 2 + 1)).json" "$P"
	kill -HUP "$DAEMON"
	lab_wait_until 30 _applied_i || lab_fail "reload $i was not applied within 30 s"
done
wait "$STREAM"
grep -q " 0% packet loss" "$LAB_TMP/stream.log" || { cat "$LAB_TMP/stream.log"; lab_fail "the stream lost packets across $i reloads"; }
expect_ge "reloads applied while the stream ran" "$i" 20
echo "ok: $count pings across $i reloads, none lost"

# kill -9: the programs enforce the last policy from the pinned maps.
cp "$LAB_TMP/p1.json" "$P"
kill -HUP "$DAEMON"
denied_again() { ! reaches 10.91.2.10; }
lab_wait_until 20 denied_again || lab_fail "the reload back did not deny 10.91.2.10"
kill -9 "$DAEMON"; wait "$DAEMON" 2>/dev/null
reaches 10.91.1.10 || lab_fail "after kill -9: alice lost an allowed destination"
reaches 10.91.2.10 && lab_fail "after kill -9: alice reached a denied destination"
echo "ok: kill -9 of the daemon keeps the policy enforced"

# Exact accounting, read with the daemon stopped: pings of a known size, IPv4 and IPv6, give
# flows of exactly those packets and L3 bytes each way; a TCP transfer of 100,000 bytes
# (full-size packets: the uplink must pass WireGuard's MTU-capped data messages) gives a flow
# equal to what the tunnel's counters saw meanwhile.
# flow_of FILTER: "tx_packets tx_bytes rx_packets rx_bytes" of alice's one flow matching FILTER,
# ended ones included (a closed TCP flow is past its 10 s soon, and with the daemon stopped
# nothing removes it from the table)
flow_of() {
	wgx gw flows --user alice --all --json | python3 -c '
import json, sys
m = [f for f in json.load(sys.stdin)["flows"] if eval(sys.argv[1])]
print(" ".join(str(m[0][k]) for k in ("tx_packets", "tx_bytes", "rx_packets", "rx_bytes")) if len(m) == 1 else "%d flows" % len(m))' "$1"
}
lab_nsenter ca ping -c 5 -i 0.2 -s 333 -W 2 10.91.1.10 >/dev/null || lab_fail "ping -s 333 10.91.1.10"
lab_nsenter ca ping -c 4 -i 0.2 -s 333 -W 2 fd91:1::10 >/dev/null || lab_fail "ping -s 333 fd91:1::10"
expect_eq "flow of 5 pings of 333 bytes (IPv4: 361-byte packets)" \
	"$(flow_of 'f["proto"] == "icmp" and f["remote_end"].startswith("10.91.1.10:") and f["tx_bytes"] == 5 * 361')" "5 1805 5 1805"
expect_eq "flow of 4 pings of 333 bytes (IPv6: 381-byte packets)" \
	"$(flow_of 'f["proto"] == "icmpv6" and f["remote_end"].startswith("[fd91:1::10]:") and f["tx_bytes"] == 4 * 381')" "4 1524 4 1524"
ctr() { wgx_json gw "' '.join(str(s['tunnel']['counters']['$1']['reasons'].get('$2', {}).get(k, 0)) for k in ('packets', 'bytes'))"; }
read -r ip0 ib0 <<<"$(ctr ingress allowed)"
read -r ep0 eb0 <<<"$(ctr egress reply)"
tunlab_send_tcp 100000 || lab_fail "a tcp transfer of 100000 bytes to 10.91.1.10:9000"
# Both FINs must have crossed the tunnel (a loaded guest takes its time), then the last ACK:
# wait for the flow to close and the counters to settle, not for a guessed time. A RST may
# follow the FINs (a late segment to a socket already gone): "reset" is closed as well.
tcp9000='f["proto"] == "tcp" and f["state"] in ("closed", "reset") and f["remote_end"] == "10.91.1.10:9000"'
tcp_closed() { [ "$(flow_of "$tcp9000")" != "0 flows" ]; }
lab_wait_until 60 tcp_closed || { wgx gw flows --user alice; lab_fail "the tcp flow to 10.91.1.10:9000 did not close within 60 s"; }
settled() {
	local a b
	a="$(ctr ingress allowed) $(ctr egress reply)"
	sleep 1
	b="$(ctr ingress allowed) $(ctr egress reply)"
	[ "$a" = "$b" ]
}
lab_wait_until 60 settled || lab_fail "the tunnel's counters kept moving after the transfer"
read -r ip1 ib1 <<<"$(ctr ingress allowed)"
read -r ep1 eb1 <<<"$(ctr egress reply)"
expect_eq "tcp flow to 10.91.1.10:9000 = the tunnel's counters meanwhile" \
	"$(flow_of "$tcp9000")" \
	"$((ip1 - ip0)) $((ib1 - ib0)) $((ep1 - ep0)) $((eb1 - eb0))"
wgx gw flows --user alice
echo "tunnel_policy: all checks passed ($LAB_WG_IMPL WireGuard)"
