#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host
# `wgxdp run --metrics`: a gateway with the uplink and the tunnel attached and the daemon
# serving Prometheus metrics on 127.0.0.1 in its namespace. A client gets its peer just in
# time and pings (allowed and denied); every value scraped equals the counter it comes from
# (`status --json`, `peers --json`, `flows --json`, tests/lib/metrics_check.py) and promtool
# accepts the exposition. Another path is 404, another method 405, HEAD has no body; a taken
# or foreign address fails the start in one line. 200 idle connections held open against the
# port: a second client still gets in on its first attempt, a scrape from another address is
# answered at once, the daemon does not spin, and the idle connections are closed after the
# timeout. With the tunnel detached its metrics are absent; after a restart on [::1] the
# peers are adopted and counted.
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx ping
# promtool (Debian package prometheus) and curl are part of the test dependencies: a machine
# without them is not set up (tools/deps.sh), a failure rather than a skip.
for c in promtool curl; do
	command -v "$c" >/dev/null ||
		lab_fail "$c is missing: tools/deps.sh installs it (apt-get install ${c/promtool/prometheus})"
done

PORT=9586
URL=http://127.0.0.1:$PORT/metrics
CHECK=tests/lib/metrics_check.py
wgx_uplinks 83 a b
kg=$(lab_genkey); pg=$(lab_pubkey "$kg")
GW=${LAB_ID}g
lab_wg gw "$GW" "$kg" 51820 100.64.0.1/24
declare -A pub
i=1
for c in a b; do
	k=$(lab_genkey); pub[$c]=$(lab_pubkey "$k")
	lab_wg "c$c" "${LAB_ID}$c" "$k" $((41000 + i)) "100.64.0.1$i/24"
	lab_wg_peer "c$c" "${LAB_ID}$c" "$pg" endpoint "10.83.$i.2:51820" allowed-ips 100.64.0.0/24
	i=$((i + 1))
done
wgx gw attach --wg "$GW" >/dev/null || lab_fail "attach --wg $GW"
P=$LAB_TMP/policy.json
cat >"$P" <<J
{"groups": {"gw": {"allow": ["100.64.0.1/32"]}},
 "users": [{"name": "alice", "public_key": "${pub[a]}", "addresses": ["100.64.0.11/32"], "groups": ["gw"]},
           {"name": "bob", "public_key": "${pub[b]}", "addresses": ["100.64.0.12/32"], "groups": ["gw"]}]}
J

# scrape FILE [URL [CURL ARGS...]]: GET /metrics in gw into FILE
scrape() {
	local f=$1 url=${2:-$URL}
	shift $(($# < 2 ? $# : 2))
	lab_nsenter gw curl -sS -g -m 10 --fail "$@" -o "$f" "$url"
}
# consistent [ARGS...]: a scrape equals the sources read right after it (metrics_check.py)
consistent() {
	scrape "$LAB_TMP/m.txt" "${URL_NOW:-$URL}" || return 1
	wgx gw status --json >"$LAB_TMP/status.json" || return 1
	wgx gw peers --json --wg "$GW" >"$LAB_TMP/peers.json" || return 1
	wgx gw flows --json >"$LAB_TMP/flows.json" 2>/dev/null || : >"$LAB_TMP/flows.json"
	python3 "$CHECK" "$LAB_TMP/m.txt" "$LAB_TMP/status.json" "$LAB_TMP/peers.json" \
		"$LAB_TMP/flows.json" "$@" >"$LAB_TMP/check.out"
}
expect_consistent() {
	lab_wait_until 30 consistent "$@" && { echo "ok: every metric equals its source"; return; }
	cat "$LAB_TMP/check.out" >&2
	lab_fail "the metrics did not come to equal their sources within 30 s"
}
promtool_ok() {
	local out
	out=$(promtool check metrics <"$1" 2>&1) || lab_fail "promtool check metrics: $out"
	[ -z "$out" ] || lab_fail "promtool check metrics found problems: $out"
	echo "ok: promtool check metrics accepts $(grep -vc '^#' "$1") samples"
}
# metric FILE SERIES: the value of one series (exact text before the value), or "none"
metric() { awk -v s="$2" 'index($0, s " ") == 1 { print $NF; f = 1 } END { if (!f) print "none" }' "$1"; }

wgx_daemon gw --wg "$GW" --policy "$P" --metrics "127.0.0.1:$PORT"
grep -q "serving Prometheus metrics at http://127.0.0.1:$PORT/metrics" "$LAB_TMP/run.log" ||
	lab_fail "the daemon's log does not say where the metrics are"
scrape "$LAB_TMP/m0.txt" || lab_fail "GET $URL"
expect_eq "build info" "$(metric "$LAB_TMP/m0.txt" "wgxdp_build_info{version=\"$("$WGXDP" --version | awk '{print $2}')\"}")" 1
expect_eq "managed peers at the start" "$(metric "$LAB_TMP/m0.txt" wgxdp_managed_peers)" 0
promtool_ok "$LAB_TMP/m0.txt"

# traffic: alice's first attempt gets in, a few pings, two denied by the tunnel's policy
wgx_first_attempt gw gau ca 100.64.0.1 || lab_fail "alice's first attempt did not get in (exit $?)"
echo "ok: alice got in on her first attempt ($WGX_MS ms)"
lab_ping ca 100.64.0.1 5 || lab_fail "alice's pings to the gateway"
lab_nsenter ca ping -c 2 -i 0.2 -W 1 100.64.0.77 >/dev/null && lab_fail "a denied ping was answered"
expect_consistent --installs 1
M=$LAB_TMP/m.txt
promtool_ok "$M"
expect_eq "managed peers" "$(metric "$M" wgxdp_managed_peers)" 1
expect_eq "installed" "$(metric "$M" 'wgxdp_handshake_initiations_total{outcome="installed"}')" 1
expect_eq "install histogram count" "$(metric "$M" wgxdp_peer_install_seconds_count)" 1
expect_ge "tunnel allowed" "$(metric "$M" 'wgxdp_tunnel_packets_total{direction="ingress",verdict="pass",reason="allowed"}')" 6
expect_ge "tunnel denied" "$(metric "$M" 'wgxdp_tunnel_packets_total{direction="ingress",verdict="drop",reason="denied"}')" 2
expect_ge "denied in alice's group" "$(metric "$M" 'wgxdp_tunnel_denied_packets_total{group="gw"}')" 2
expect_ge "live flows" "$(metric "$M" wgxdp_tunnel_flows)" 1
grep -q '^wgxdp_peer_install_seconds_bucket{le="+Inf"} 1$' "$M" || lab_fail "no +Inf bucket"

# HTTP: paths, methods, headers
code() { lab_nsenter gw curl -s -m 10 -o /dev/null -w '%{http_code}' "$@"; }
expect_eq "GET /" "$(code http://127.0.0.1:$PORT/)" 404
expect_eq "GET /metricsx" "$(code http://127.0.0.1:$PORT/metricsx)" 404
expect_eq "GET /metrics/" "$(code http://127.0.0.1:$PORT/metrics/)" 404
for m in POST PUT DELETE OPTIONS; do
	expect_eq "$m /metrics" "$(code -X "$m" "$URL")" 405
done
expect_eq "POST with a body" "$(code --data-binary 'x=1' "$URL")" 405
lab_nsenter gw curl -s -m 10 -X POST -D - -o /dev/null "$URL" | tr -d '\r' | grep -qi '^allow: GET, HEAD$' ||
	lab_fail "405 without Allow: GET, HEAD"
hdrs=$(lab_nsenter gw curl -s -m 10 -I "$URL" | tr -d '\r')
grep -q '^HTTP/1.1 200' <<<"$hdrs" || lab_fail "HEAD /metrics: $hdrs"
grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8$' <<<"$hdrs" ||
	lab_fail "HEAD /metrics: no Prometheus content type: $hdrs"
body=$(lab_nsenter gw curl -s -m 10 -X HEAD "$URL" 2>/dev/null | wc -c)
expect_eq "HEAD body bytes" "$body" 0
echo "ok: 404 for other paths, 405 (Allow: GET, HEAD) for other methods, HEAD without a body"

# start failures: one line and a non-zero exit, before anything is touched
fails() {	# fails WANT_RC TEXT ADDR
	local out rc
	out=$(timeout 30 nsenter --net="$(lab_ns_path gw)" "$WGXDP" run --wg "$GW" --policy "$P" \
		--metrics "$3" 2>&1)
	rc=$?
	[ "$rc" = "$1" ] || lab_fail "--metrics $3: exit $rc, expected $1 ($out)"
	[ "$(wc -l <<<"$out")" = 1 ] || lab_fail "--metrics $3: not one line: $out"
	grep -q "$2" <<<"$out" || lab_fail "--metrics $3: '$out' does not say '$2'"
	echo "ok: --metrics $3: exit $rc: $out"
}
fails 1 "Address already in use" "127.0.0.1:$PORT"
fails 1 "Cannot assign requested address" "[2001:db8::1]:$PORT"
fails 2 "expected IPV4:PORT" "127.0.0.1"
fails 2 "expected IPV4:PORT" "localhost:$PORT"
fails 2 "expected IPV4:PORT" "127.0.0.1:70000"
kill -0 "$DAEMON" || lab_fail "the running daemon died"

# abuse: 200 idle connections from 127.0.0.1, held as long as the daemon lets them
cat >"$LAB_TMP/hold.py" <<'PY'
import json, selectors, socket, sys, time
port, n, report = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sel = selectors.DefaultSelector()
socks = []
for _ in range(n):
    s = socket.socket(); s.setblocking(False)
    s.connect_ex(("127.0.0.1", port)); socks.append(s)
    sel.register(s, selectors.EVENT_WRITE)
connected, t0 = set(), time.monotonic()
while len(connected) < n and time.monotonic() - t0 < 20:
    for k, _ in sel.select(0.5):
        sel.unregister(k.fileobj)
        if k.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            connected.add(k.fileobj)
for s in connected:
    sel.register(s, selectors.EVENT_READ)
closed, t0, held3 = set(), time.monotonic(), None
while len(closed) < len(connected) and time.monotonic() - t0 < 40:
    for k, _ in sel.select(0.2):
        try:
            if k.fileobj.recv(1) == b"":
                closed.add(k.fileobj); sel.unregister(k.fileobj)
        except OSError:
            closed.add(k.fileobj); sel.unregister(k.fileobj)
    if held3 is None and time.monotonic() - t0 >= 3:
        held3 = len(connected) - len(closed)
        open(report + ".3s", "w").write(str(held3))
if held3 is None:
    open(report + ".3s", "w").write(str(len(connected) - len(closed)))
json.dump({"connected": len(connected), "closed": len(closed), "held_after_3s": held3,
           "closed_after_s": round(time.monotonic() - t0, 1)}, open(report, "w"))
PY
cpu() { awk '{ print $14 + $15 }' "/proc/$DAEMON/stat"; }
lab_spawn nsenter --net="$(lab_ns_path gw)" python3 "$LAB_TMP/hold.py" "$PORT" 200 "$LAB_TMP/hold.json"
HOLD=$LAB_PID
lab_wait_until 30 test -e "$LAB_TMP/hold.json.3s" || lab_fail "the idle connections did not open"
held=$(cat "$LAB_TMP/hold.json.3s")
[ "$held" -le 8 ] || lab_fail "$held idle connections from one address held by the daemon (at most 8)"
echo "ok: the daemon holds $held of the 200 idle connections from one address"
c0=$(cpu)
wgx_first_attempt gw gbu cb 100.64.0.1 ||
	lab_fail "bob's first attempt did not get in while the metrics port was held (exit $?)"
echo "ok: bob got in on his first attempt while the metrics port was held ($WGX_MS ms)"
t0=$(date +%s%N)
scrape "$LAB_TMP/m2.txt" "$URL" --interface 127.0.0.2 ||
	lab_fail "no scrape from 127.0.0.2 while 127.0.0.1 holds connections"
echo "ok: a scrape from another address answered in $((($(date +%s%N) - t0) / 1000000)) ms"
promtool_ok "$LAB_TMP/m2.txt"
sleep 2
c1=$(cpu)
[ $((c1 - c0)) -le 100 ] || lab_fail "the daemon used $((c1 - c0)) ticks of CPU in ~3 s with idle connections open (spinning?)"
echo "ok: $((c1 - c0)) CPU ticks while the idle connections were open"
wait "$HOLD"
python3 - "$LAB_TMP/hold.json" <<'PY' || lab_fail "idle connections: $(cat "$LAB_TMP/hold.json")"
import json, sys
r = json.load(open(sys.argv[1]))
print("idle connections:", r)
assert r["connected"] > 0 and r["closed"] == r["connected"], r
assert r["closed_after_s"] <= 10 + 15, r	# the 10 s connection timeout, and some slack
PY
echo "ok: the daemon closed every idle connection (timeout 10 s)"
expect_consistent --installs 2

# the tunnel detached: its metrics go, the rest stays
wgx gw detach "$GW" >/dev/null || lab_fail "detach $GW"
expect_consistent --no-tunnel --installs 2
grep -q '^wgxdp_tunnel_' "$M" && lab_fail "tunnel metrics while the tunnel is detached"
grep -q '^wgxdp_uplink_packets_total' "$M" || lab_fail "no uplink metrics"
promtool_ok "$M"
echo "ok: no tunnel metrics while it is detached"

# restart on [::1]: both peers adopted and counted
kill -TERM "$DAEMON"; wait "$DAEMON"
expect_eq "daemon exit on SIGTERM" "$?" 0
cat "$LAB_TMP/run.log" >>"$LAB_TMP/run.old.log"
wgx_daemon gw --wg "$GW" --policy "$P" --metrics "[::1]:$PORT"
URL_NOW="http://[::1]:$PORT/metrics" expect_consistent --no-tunnel --installs 0
expect_eq "managed peers after the restart" "$(metric "$M" wgxdp_managed_peers)" 2
expect_eq "adopted" "$(metric "$M" wgxdp_peers_adopted_total)" 2
promtool_ok "$M"
[ "$(code "http://127.0.0.1:$PORT/metrics")" = 000 ] ||
	lab_fail "the daemon listens on 127.0.0.1 too when told [::1]"
kill -TERM "$DAEMON"; wait "$DAEMON"
expect_eq "daemon exit on SIGTERM" "$?" 0
echo "metrics: all checks passed ($LAB_WG_IMPL WireGuard)"
