#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Handshake initiations per second through the daemon's path to a user (Noise consume, then
# the lookup), one core: users from the policy file, from the peer API uncached (one GET each)
# and cached (within max-age), in one run (build/bench/bench_api). The API is a local python3
# server (http.server, HTTP/1.1 keep-alive) on loopback, plain http: its own speed bounds the
# uncached rate, as a real API's would.
set -u
cd "$(dirname "$0")/../.." || exit 1
N=${API_USERS:-1000}
tmp=$(mktemp -d /tmp/wgx-api-rate.XXXXXX)
trap 'kill $srv 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
cat >"$tmp/api.py" <<'PY'
import http.server, json, os, socketserver, sys
path = sys.argv[1]
state = {"mtime": None, "users": {}}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_GET(self):
        try:
            m = os.stat(path).st_mtime_ns
            if m != state["mtime"]:
                state["users"], state["mtime"] = json.load(open(path)), m
        except (OSError, ValueError):
            pass
        u = state["users"].get(self.path.rsplit("/", 1)[-1])
        body = json.dumps(u).encode() if u else b""
        self.send_response(200 if u else 404)
        self.send_header("Cache-Control", "max-age=600")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$tmp/api.py" "$tmp/users.json" >"$tmp/port" 2>"$tmp/api.err" &
srv=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { cat "$tmp/api.err"; echo "api_rate: the server did not start"; exit 1; }
build/bench/bench_api --url "http://127.0.0.1:$(cat "$tmp/port")/v1" --users-file "$tmp/users.json" -u "$N"
