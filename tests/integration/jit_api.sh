#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# wgxdp run --peer-api: users come from an HTTP API (GET URL/<base64url key>, 404 = unknown),
# served by a small server the test starts on loopback in the gateway's namespace. A user the
# API knows gets in on the first attempt; an unknown key gets no peer, and its repeats cost no
# further API call (negative cache); a disabled user gets nothing.
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx ping

wgx_uplinks 83 a b x
wgx_wg_clients 83 a b x

# The policy file has the groups; the users live behind the API.
cat >"$LAB_TMP/policy.json" <<J
{"groups": {"dev": {"allow": ["10.10.0.0/16"]}}, "users": []}
J
python3 - "${pub[a]}" "${pub[b]}" >"$LAB_TMP/users.json" <<'PY'
import base64, json, sys
a, b = sys.argv[1:3]
u = lambda k: base64.urlsafe_b64encode(base64.b64decode(k)).decode().rstrip("=")
print(json.dumps({
    u(a): {"name": "alice", "public_key": a, "addresses": ["100.64.0.11/32"], "groups": ["dev"]},
    u(b): {"name": "bob", "public_key": b, "addresses": ["100.64.0.12/32"], "groups": ["dev"], "disabled": True},
}))
PY
cat >"$LAB_TMP/api.py" <<'PY'
import http.server, json, sys
users = json.load(open(sys.argv[1]))
log = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        key = self.path.rsplit("/", 1)[-1]
        log.write(key + "\n")
        if not self.path.startswith("/v1/users/") or key not in users:
            self.send_response(404); self.end_headers(); return
        body = json.dumps(users[key]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", 8099), H).serve_forever()
PY
lab_spawn --log "$LAB_TMP/api.err" nsenter --net="$(lab_ns_path gw)" python3 "$LAB_TMP/api.py" "$LAB_TMP/users.json" "$LAB_TMP/api.log"
api_up() { lab_nsenter gw python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8099), 1)' 2>/dev/null; }
lab_wait_until 60 api_up || { cat "$LAB_TMP/api.err"; lab_fail "the API server did not listen within 60 s"; }

wgx_daemon gw --wg "$GW" --policy "$LAB_TMP/policy.json" --peer-api http://127.0.0.1:8099/v1/users --api-insecure

has_peer() { lab_nsenter gw wg show "$GW" peers | grep -qx "$1"; }
b64url() { python3 -c 'import base64,sys; print(base64.urlsafe_b64encode(base64.b64decode(sys.argv[1])).decode().rstrip("="))' "$1"; }

wgx_first_attempt gw gau ca 100.64.0.1 || lab_fail "alice (from the API) did not get in on her first attempt (exit $?)"
has_peer "${pub[a]}" || lab_fail "no peer for alice"
echo "ok: alice, known to the API, got in on her first attempt"
lab_nsenter cb ping -c 1 -W 3 100.64.0.1 >/dev/null && lab_fail "bob (disabled in the API) got in"
has_peer "${pub[b]}" && lab_fail "a peer for disabled bob"
# The unknown client tries for 8 s: several initiations, one API call.
lab_nsenter cx ping -c 1 -W 8 100.64.0.1 >/dev/null && lab_fail "an unknown key got in"
has_peer "${pub[x]}" && lab_fail "a peer for the unknown key"
calls=$(grep -c "^$(b64url "${pub[x]}")$" "$LAB_TMP/api.log")
expect_eq "API calls for the unknown key over its retries" "$calls" 1
# the daemon counts an initiation once it has handled it: a moment after the packet
counters_ok() { wgx gw peers --json | python3 -c 'import json,sys; d=json.load(sys.stdin)["daemon"]; print(d); assert d["unknown_key"] == 1 and d["unknown_cached"] >= 1 and d["disabled"] >= 1 and d["installed"] == 1, d'; }
lab_wait_until 30 counters_ok >/dev/null 2>&1
counters_ok || lab_fail "daemon counters"
echo "jit_api: all checks passed ($LAB_WG_IMPL WireGuard)"
