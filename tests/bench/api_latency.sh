#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# What the peer API adds to a client's first initiation to its first packet through the tunnel,
# beside the policy file in the same run: API_CONNECTS (default 50) clients with new keys known
# to the policy file, as many known only to the API (uncached: one request each), and the
# same API users again within their answers' max-age (cached: no request). The API is a local
# python3 server (http.server, threads) on loopback in the gateway's namespace, plain http
# (--api-insecure; TLS costs one handshake per connection, which libcurl keeps). Each connect
# is a client with a new key, its first ping queued behind the handshake (jit_latency.sh).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/lab.sh
. tests/lib/wgx.sh
. tests/lib/connect.sh
lab_init
wgx_init
lab_require ping python3
N=${API_CONNECTS:-50}

conn_lab 87
addr() { conn_addr "$1"; }
keys=() pubs=() file_users=()
for ((i = 0; i < 2 * N; i++)); do
	k=$(lab_genkey); keys+=("$k"); pubs+=("$(lab_pubkey "$k")")
	[ "$i" -lt "$N" ] &&
		file_users+=("{\"name\": \"f$i\", \"public_key\": \"${pubs[i]}\", \"addresses\": [\"$(addr "$i")/32\"], \"groups\": []}")
done
( IFS=,; printf '{"groups": {}, "users": [%s]}\n' "${file_users[*]}" ) >"$LAB_TMP/policy.json"
printf '%s\n' "${pubs[@]:N}" >"$LAB_TMP/api_pubs"
python3 - "$LAB_TMP/api_pubs" "$N" >"$LAB_TMP/users.json" <<'PY'
import base64, json, sys
pubs = open(sys.argv[1]).read().split()
n = int(sys.argv[2])
addr = lambda i: "100.64.%d.%d/32" % (i // 250 + 1, i % 250 + 2)
u = lambda k: base64.urlsafe_b64encode(base64.b64decode(k)).decode().rstrip("=")
print(json.dumps({u(k): {"name": "a%d" % j, "public_key": k, "addresses": [addr(n + j)],
                         "groups": []} for j, k in enumerate(pubs)}))
PY
cat >"$LAB_TMP/api.py" <<'PY'
import http.server, json, socketserver, sys
users = json.load(open(sys.argv[1]))
log = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one answer, not 40 ms of delayed ACK
    def do_GET(self):
        key = self.path.rsplit("/", 1)[-1]
        log.write(key + "\n")
        body = json.dumps(users[key]).encode() if key in users else b""
        self.send_response(200 if key in users else 404)
        self.send_header("Cache-Control", "max-age=600")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
S(("127.0.0.1", 8097), H).serve_forever()
PY
lab_spawn --log "$LAB_TMP/api.err" nsenter --net="$(lab_ns_path gw)" python3 "$LAB_TMP/api.py" \
	"$LAB_TMP/users.json" "$LAB_TMP/api.log"
# shellcheck disable=SC2016
api_up() { lab_nsenter gw python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8097), 1)' 2>/dev/null; }
lab_wait_until 60 api_up || lab_fail "the API server did not listen"
wgx_daemon gw --wg "$GW" --policy "$LAB_TMP/policy.json" --rate 10000 --api-rate 10000 \
	--peer-api http://127.0.0.1:8097/v1/users --api-insecure

connect() { conn_one "${keys[$1]}" "$1"; }
# the API users' peers go from the gateway, and the daemon sees them gone
none_managed() { [ "$(wgx gw peers --json | python3 -c 'import json,sys; print(len([p for p in json.load(sys.stdin)["peers"] if p["user"].startswith("a")]))')" = 0 ]; }

for ((i = 0; i < N; i++)); do connect "$i"; done >"$LAB_TMP/file"
for ((i = N; i < 2 * N; i++)); do connect "$i"; done >"$LAB_TMP/uncached"
requests=$(wc -l <"$LAB_TMP/api.log")
for ((i = N; i < 2 * N; i++)); do lab_nsenter gw wg set "$GW" peer "${pubs[i]}" remove; done
lab_wait_until 30 none_managed || lab_fail "the daemon still manages the API users' peers"
for ((i = N; i < 2 * N; i++)); do connect "$i"; done >"$LAB_TMP/cached"
requests2=$(($(wc -l <"$LAB_TMP/api.log") - requests))
lab_reap "$DAEMON"

line() {	# line WHAT FILE
	printf 'api_latency: %-34s %3d of %d connects: p50 %s ms, p99 %s ms\n' "$1" \
		"$(wc -l <"$2")" "$N" "$(pct "$2" 50)" "$(pct "$2" 99)"
}
echo "api_latency: $LAB_WG_IMPL WireGuard gateway; first initiation to first packet through the tunnel"
line "policy file" "$LAB_TMP/file"
line "peer API, uncached ($requests requests)" "$LAB_TMP/uncached"
line "peer API, cached ($requests2 requests)" "$LAB_TMP/cached"
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
echo "api_latency: added by an uncached lookup: p50 $(diff_ms "$(pct "$LAB_TMP/uncached" 50)" "$(pct "$LAB_TMP/file" 50)") ms, p99 $(diff_ms "$(pct "$LAB_TMP/uncached" 99)" "$(pct "$LAB_TMP/file" 99)") ms"
[ "$(wc -l <"$LAB_TMP/uncached")" = "$N" ] && [ "$(wc -l <"$LAB_TMP/cached")" = "$N" ] &&
	[ "$(wc -l <"$LAB_TMP/file")" = "$N" ]
