#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host
# The peer API over TLS, as an operator deploys it and as an attacker on the path or a broken
# API would have it. A test CA and certificates made here with openssl; the API is python3's
# http.server behind ssl on loopback in the gateway's namespace, asking for a bearer token.
# - Refused, with a clear log line and no peer: a certificate from another CA, an expired one,
#   one for another host name; no token, a wrong token (401); http:// without --api-insecure
#   (exit 2, nothing started); a token file that would add a header.
# - Failing within --api-timeout, counted (api_errors): a 10 MB answer, malformed JSON, a
#   server that never answers; while that one waits, a user of the policy file gets in on her
#   first attempt (the lookup is in the daemon's loop, not in its way), and the waiting key's
#   retry makes no second request.
# - Working: the right CA and token: alice gets in on her first attempt; she reconnects within
#   the answer's max-age without a second request; with the API stopped she (cached, within
#   --api-stale) still gets in, a key never seen does not, and the failures are logged once
#   per 10 s, not per initiation. The token never appears in the daemon's log or command line.
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx ping python3 openssl

wgx_uplinks 86 a n p
wgx_wg_clients 86 a n p

# alice (a) and nina (n) live behind the API; pat (p) is in the policy file.
cat >"$LAB_TMP/policy.json" <<J
{"groups": {"dev": {"allow": ["10.10.0.0/16"]}},
 "users": [{"name": "pat", "public_key": "${pub[p]}", "addresses": ["100.64.0.13/32"], "groups": ["dev"]}]}
J
TOKEN=tok-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" >"$LAB_TMP/token"
chmod 600 "$LAB_TMP/token"
python3 - "${pub[a]}" "${pub[n]}" >"$LAB_TMP/users.json" <<'PY'
import base64, json, sys
a, n = sys.argv[1:3]
u = lambda k: base64.urlsafe_b64encode(base64.b64decode(k)).decode().rstrip("=")
print(json.dumps({
    u(a): {"name": "alice", "public_key": a, "addresses": ["100.64.0.11/32"], "groups": ["dev"]},
    u(n): {"name": "nina", "public_key": n, "addresses": ["100.64.0.12/32"], "groups": ["dev"]},
}))
PY

# The certificates: ca signs the good one (IP 127.0.0.1), an expired one and one for another
# name; other-ca signs one that is right in every other way.
D=$LAB_TMP/pki
mkdir -p "$D"
ossl() { openssl "$@" >>"$D/openssl.log" 2>&1 || lab_fail "openssl $1 (see $D/openssl.log)"; }
newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
ossl req -x509 "${newkey[@]}" -keyout "$D/ca.key" -out "$D/ca.pem" -days 30 -subj /CN=wgxdp-test-ca
ossl req -x509 "${newkey[@]}" -keyout "$D/other.key" -out "$D/other.pem" -days 30 -subj /CN=other-ca
ossl req "${newkey[@]}" -keyout "$D/srv.key" -out "$D/srv.csr" -subj /CN=api
printf 'subjectAltName=IP:127.0.0.1\n' >"$D/ip.ext"
printf 'subjectAltName=DNS:api.wrong.example\n' >"$D/name.ext"
sign() {	# sign OUT CA DAYS EXT
	ossl x509 -req -in "$D/srv.csr" -CA "$D/$2.pem" -CAkey "$D/$2.key" -CAcreateserial \
		-out "$D/$1.pem" -days "$3" -extfile "$D/$4.ext"
}
sign good ca 30 ip
sign expired ca -1 ip
sign wrongname ca 30 name
sign othersigned other 30 ip

cat >"$LAB_TMP/api.py" <<'PY'
import http.server, json, socketserver, ssl, sys, time
port, cert, key, token, users_f, log_f, max_age = sys.argv[1:8]
users = json.load(open(users_f))
log = open(log_f, "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def answer(self, code, body, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for h in extra:
            self.send_header(*h)
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        key = self.path.rsplit("/", 1)[-1]
        log.write("%s %s %s\n" % (port, self.path, self.headers.get("Authorization") == "Bearer " + token))
        if self.headers.get("Authorization") != "Bearer " + token:
            return self.answer(401, b'{"error": "unauthorized"}')
        if self.path.startswith("/hang/"):
            time.sleep(3600)
        if self.path.startswith("/big/"):
            return self.answer(200, b"[" + b"0," * (5 << 20) + b"0]")
        if self.path.startswith("/bad/"):
            return self.answer(200, b'{"name": "alice", "public_key": ')
        if not self.path.startswith("/v1/users/") or key not in users:
            return self.answer(404, b'{"error": "unknown"}')
        self.answer(200, json.dumps(users[key]).encode(), [("Cache-Control", "max-age=" + max_age)])
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
s = S(("127.0.0.1", int(port)), H)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
PY
# api PORT CERT [MAX_AGE]: the API on 127.0.0.1:PORT with that certificate, its users' answers
# cacheable for MAX_AGE seconds (120)
declare -A API_PID
# shellcheck disable=SC2016
api_listens() { lab_nsenter gw python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null; }
api() {
	lab_spawn --log "$LAB_TMP/api-$1.err" nsenter --net="$(lab_ns_path gw)" python3 \
		"$LAB_TMP/api.py" "$1" "$D/$2.pem" "$D/srv.key" "$TOKEN" "$LAB_TMP/users.json" \
		"$LAB_TMP/api.log" "${3:-120}"
	API_PID[$1]=$LAB_PID
	lab_wait_until 60 api_listens "$1" ||
		{ cat "$LAB_TMP/api-$1.err"; lab_fail "the API on port $1 did not listen within 60 s"; }
}
api 8443 good
api 8444 expired
api 8445 wrongname
api 8446 othersigned
api 8447 good 1

has_peer() { lab_nsenter gw wg show "$GW" peers | grep -qx "$1"; }
stop_daemon() { kill "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null; }
logged() { grep -q -- "$1" "$LAB_TMP/run.log"; }
TLS=(--api-ca "$D/ca.pem" --api-token-file "$LAB_TMP/token")

# refused PORT/PATH WHAT PATTERN [ARGS...]: a daemon on that API; alice tries; no peer, and
# the log says PATTERN.
refused() {
	local url=https://127.0.0.1:$1 what=$2 pat=$3
	shift 3
	wgx_daemon gw --wg "$GW" --policy "$LAB_TMP/policy.json" --peer-api "$url" \
		--api-timeout 10000 "$@"
	lab_nsenter ca ping -c 1 -W 1 100.64.0.1 >/dev/null 2>&1
	lab_wait_until 20 logged "$pat" || { tail -5 "$LAB_TMP/run.log"; lab_fail "$what: the log does not say '$pat'"; }
	has_peer "${pub[a]}" && lab_fail "$what: alice got a peer"
	echo "ok: $what: no peer; $(grep -m1 -- "$pat" "$LAB_TMP/run.log" | sed 's/^.*peer API/peer API/')"
	stop_daemon
}

# http:// without --api-insecure: refused before anything starts
out=$("$WGXDP" run --wg "$GW" --policy "$LAB_TMP/policy.json" --peer-api http://127.0.0.1:8443/v1/users 2>&1)
expect_eq "http:// without --api-insecure: exit" "$?" 2
echo "$out" | grep -q "in the clear" || lab_fail "http:// refused without saying why: $out"
# a token file that would add a header, and one others can read
printf 'abc\r\nX-Admin: 1\n' >"$LAB_TMP/badtoken"
out=$("$WGXDP" run --wg "$GW" --peer-api https://127.0.0.1:8443/v1/users --api-token-file "$LAB_TMP/badtoken" 2>&1)
expect_eq "a token with a line break: exit" "$?" 2
echo "ok: $out"

refused 8446/v1/users "another CA's certificate" "TLS" "${TLS[@]}"
refused 8444/v1/users "an expired certificate" "TLS" "${TLS[@]}"
refused 8445/v1/users "a certificate for another name" "TLS" "${TLS[@]}"
refused 8443/v1/users "the system's CAs (the test CA is not one)" "TLS" --api-token-file "$LAB_TMP/token"
refused 8443/v1/users "no token" "HTTP 401" --api-ca "$D/ca.pem"
printf 'wrong-token\n' >"$LAB_TMP/wrongtoken"
refused 8443/v1/users "a wrong token" "HTTP 401" --api-ca "$D/ca.pem" --api-token-file "$LAB_TMP/wrongtoken"
refused 8443/big "a 10 MB answer" "over 1048576 bytes" "${TLS[@]}"
refused 8443/bad "malformed JSON" "peer API https://127.0.0.1:8443/bad/" "${TLS[@]}"

# A server that never answers: alice's lookup waits out --api-timeout (8 s) in the daemon's
# loop; meanwhile pat, from the policy file, gets in on her first attempt (her peer is
# installed before alice's lookup ends), and alice's retry 5 s later makes no second request.
wgx_daemon gw --wg "$GW" --policy "$LAB_TMP/policy.json" --peer-api https://127.0.0.1:8443/hang \
	--api-timeout 8000 "${TLS[@]}"
hanging() { grep -q "^8443 /hang/" "$LAB_TMP/api.log"; }
i0=$(wgx_ctr gw gau initiation)
lab_nsenter ca ping -c 1 -W 12 100.64.0.1 >/dev/null 2>&1 &
lab_wait_until 20 hanging || lab_fail "alice's lookup did not reach the hanging API"
wgx_first_attempt gw gpu cp 100.64.0.1 || lab_fail "pat (policy file) did not get in on her first attempt while the API hung (exit $?)"
echo "ok: pat got in on her first attempt while alice's lookup hung ($WGX_MS ms)"
lab_wait_until 30 logged "timed out" || lab_fail "a hung API: the log does not say it timed out"
has_peer "${pub[a]}" && lab_fail "a hung API: alice got a peer"
echo "ok: a server that never answers: $(grep -m1 "timed out" "$LAB_TMP/run.log" | sed 's/^.*peer API/peer API/')"
first() { grep -n -m1 -- "$1" "$LAB_TMP/run.log" | cut -d: -f1; }
[ "$(first "installed pat")" -lt "$(first "timed out")" ] ||
	lab_fail "pat's peer was installed after alice's lookup ended: the lookup held the daemon"
echo "ok: pat's peer was installed while alice's lookup was still waiting"
expect_ge "alice's initiations while her lookup hung" "$(( $(wgx_ctr gw gau initiation) - i0 ))" 2
expect_eq "requests for alice to the hanging API" "$(grep -c "^8443 /hang/" "$LAB_TMP/api.log")" 1
expect_ge "api_errors (the lookup that timed out)" "$(wgx_stat gw api_errors)" 1
stop_daemon
lab_nsenter gw wg set "$GW" peer "${pub[p]}" remove

# The API as deployed: alice gets in on her first attempt.
wgx_daemon gw --wg "$GW" --policy "$LAB_TMP/policy.json" --peer-api https://127.0.0.1:8443/v1/users \
	--api-timeout 10000 "${TLS[@]}"
wgx_first_attempt gw gau ca 100.64.0.1 || lab_fail "alice did not get in on her first attempt over TLS (exit $?)"
echo "ok: alice got in on her first attempt over TLS ($WGX_MS ms)"
b64url() { python3 -c 'import base64,sys; print(base64.urlsafe_b64encode(base64.b64decode(sys.argv[1])).decode().rstrip("="))' "$1"; }
ka=$(b64url "${pub[a]}")
calls() { grep -c "^$1 /v1/users/$ka True$" "$LAB_TMP/api.log"; }
expect_eq "API requests for alice" "$(calls 8443)" 1

# reconnect: her peer goes from the gateway and the daemon's sweep sees it gone (her record
# leaves jit/wgx_peers); her client starts a new session with a new handshake
alice_managed() { wgx gw peers --json | python3 -c 'import json,sys; sys.exit(0 if [p for p in json.load(sys.stdin)["peers"] if p.get("user") == "alice"] else 1)'; }
alice_gone() { ! alice_managed; }
reconnect() {
	lab_nsenter gw wg set "$GW" peer "${pub[a]}" remove
	lab_wait_until 20 alice_gone || lab_fail "the daemon still sees alice's peer"
	lab_nsenter ca wg set "${LAB_ID}a" peer "$pg" remove
	lab_wg_peer ca "${LAB_ID}a" "$pg" endpoint 10.86.1.2:51820 allowed-ips 100.64.0.0/24
}
reconnect
wgx_first_attempt gw gau ca 100.64.0.1 || lab_fail "alice did not get in again (exit $?)"
expect_eq "API requests for alice after she reconnected within max-age" "$(calls 8443)" 1
stop_daemon
lab_nsenter gw wg set "$GW" peer "${pub[a]}" remove	# nothing to adopt (and revalidate)

# The API stopped: alice, answered within --api-stale (her answer's max-age of 1 s past),
# still gets in; nina, never seen, does not; the failures are logged once per 10 s.
wgx_daemon gw --wg "$GW" --policy "$LAB_TMP/policy.json" --peer-api https://127.0.0.1:8447/v1/users \
	--api-timeout 10000 --api-stale 600 "${TLS[@]}"
reconnect
lab_nsenter ca ping -c 1 -W 20 100.64.0.1 >/dev/null || lab_fail "alice did not get in on 8447"
expect_eq "API requests for alice on 8447" "$(calls 8447)" 1
sleep 2		# past her answer's max-age (1 s)
kill "${API_PID[8447]}"
wait "${API_PID[8447]}" 2>/dev/null
e0=$(wgx_stat gw api_errors)
t0=$SECONDS
reconnect
lab_nsenter ca ping -c 1 -W 20 100.64.0.1 >/dev/null || lab_fail "alice (answered within --api-stale) did not get in with the API down"
echo "ok: alice, answered within --api-stale, got in with the API down"
lab_nsenter cn ping -c 1 -W 8 100.64.0.1 >/dev/null && lab_fail "nina, never seen, got in with the API down"
has_peer "${pub[n]}" && lab_fail "a peer for nina with the API down"
echo "ok: nina, never seen, did not get in with the API down"
failed=$(( $(wgx_stat gw api_errors) - e0 + 1 ))	# nina's lookups, and alice's
lines=$(grep -c "peer API https://127.0.0.1:8447/v1/users: cannot connect" "$LAB_TMP/run.log")
expect_ge "lookups that failed with the API down" "$failed" 2
if [ "$lines" -lt 1 ] || [ "$lines" -gt $((1 + (SECONDS - t0) / 10)) ]; then
	lab_fail "$lines log lines for $failed failures in $((SECONDS - t0)) s: expected one per 10 s"
fi
echo "ok: $failed failed lookups, $lines log line(s) in $((SECONDS - t0)) s: $(grep -m1 "cannot connect" "$LAB_TMP/run.log" | sed 's/^.*peer API/peer API/')"

# the token is never in the log, nor on any command line
grep -q -- "$TOKEN" "$LAB_TMP/run.log" && lab_fail "the token is in the daemon's log"
grep -qa -- "$TOKEN" "/proc/$DAEMON/cmdline" && lab_fail "the token is on the daemon's command line"
echo "ok: the token is neither in the log nor on the command line"
echo "api_tls: all checks passed ($LAB_WG_IMPL WireGuard)"
