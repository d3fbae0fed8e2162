#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# The peer API as a source of abuse and of revocation:
#  - a user the API drops (404) loses the peer at the next revalidation, although she stays
#    active (removed_api)
#  - an API user with 0.0.0.0/0 as tunnel address (which would take every route of the
#    interface) gets no peer; the reason is logged and counted
#  - an API user claiming an address of a policy-file user gets no peer (address_conflict),
#    and so does one answering with a policy-file user's name for another key
#  - a reload that reorders the file's groups keeps an API user's rules as her groups say
#    (the tunnel's explain), and a reload that loads but cannot be applied changes nothing
#    and breaks nothing
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx ping python3

lab_netns gw
i=1
for c in a w h; do
	lab_netns "c$c"
	lab_veth "c$c" "c${c}u" gw "g${c}u"
	lab_addr "c$c" "c${c}u" "10.88.$i.1/24"
	lab_addr gw "g${c}u" "10.88.$i.2/24"
	wgx gw attach "g${c}u" --port 51820 >/dev/null || lab_fail "attach g${c}u"
	i=$((i + 1))
done
kg=$(lab_genkey); pg=$(lab_pubkey "$kg")
GW=${LAB_ID}g
lab_wg gw "$GW" "$kg" 51820 100.64.0.1/24
wgx gw attach --wg "$GW" >/dev/null || lab_fail "attach --wg $GW"
declare -A pub
i=1
for c in a w h; do
	k=$(lab_genkey); pub[$c]=$(lab_pubkey "$k")
	lab_wg "c$c" "${LAB_ID}$c" "$k" $((41000 + i)) "100.64.0.1$i/24"
	lab_wg_peer "c$c" "${LAB_ID}$c" "$pg" endpoint "10.88.$i.2:51820" allowed-ips 100.64.0.0/24 \
		keepalive 1
	i=$((i + 1))
done
# The policy file: groups, and bob, who holds 100.64.0.50.
bob=$(lab_pubkey "$(lab_genkey)")
# policy FILE FIRST: FIRST is a group before dev in the file
policy() {
	cat >"$1" <<J
{"groups": {$2 "dev": {"allow": ["10.10.0.0/16", "100.64.0.1/32"]}}, "users": [
 {"name": "bob", "public_key": "$bob", "addresses": ["100.64.0.50/32"], "groups": ["dev"]}]}
J
}
policy "$LAB_TMP/policy.json" ""
# The API's users, read at every request: the test edits the file to drop alice.
users() {
	python3 - "$@" >"$LAB_TMP/users.json.new" <<'PY'
import base64, json, sys
u = lambda k: base64.urlsafe_b64encode(base64.b64decode(k)).decode().rstrip("=")
out = {}
for spec in sys.argv[1:]:
    name, key, addr = spec.split(",")
    out[u(key)] = {"name": name, "public_key": key, "addresses": [addr], "groups": ["dev"]}
print(json.dumps(out))
PY
	mv "$LAB_TMP/users.json.new" "$LAB_TMP/users.json"
}
users "alice,${pub[a]},100.64.0.11/32" "wide,${pub[w]},0.0.0.0/0" "hijack,${pub[h]},100.64.0.50/32"
cat >"$LAB_TMP/api.py" <<'PY'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        users = json.load(open(sys.argv[1]))
        key = self.path.rsplit("/", 1)[-1]
        if key not in users:
            self.send_response(404); self.end_headers(); return
        body = json.dumps(users[key]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", 8098), H).serve_forever()
PY
lab_spawn --log "$LAB_TMP/api.err" nsenter --net="$(lab_ns_path gw)" python3 "$LAB_TMP/api.py" "$LAB_TMP/users.json"
for _ in $(seq 100); do lab_nsenter gw python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8098), 1)' 2>/dev/null && break; sleep 0.1; done

wgx_daemon gw --wg "$GW" --policy "$LAB_TMP/policy.json" --peer-api http://127.0.0.1:8098/v1/users --api-insecure \
	--api-revalidate 2
has_peer() { lab_nsenter gw wg show "$GW" peers | grep -qx "$1"; }
stat() { wgx_stat gw "$1"; }
stat_ge() { [ "$(stat "$1")" -ge "$2" ]; }

lab_nsenter ca ping -c 1 -W 3 100.64.0.1 >/dev/null || lab_fail "alice (from the API) did not get in"
has_peer "${pub[a]}" || lab_fail "no peer for alice"
echo "ok: alice got in"

lab_nsenter cw ping -c 1 -W 3 100.64.0.1 >/dev/null && lab_fail "a user with 0.0.0.0/0 got in"
has_peer "${pub[w]}" && lab_fail "a peer for a user with 0.0.0.0/0"
grep -q "wider than /24" "$LAB_TMP/run.log" || lab_fail "the log does not say why 0.0.0.0/0 was refused"
expect_ge "api_errors (an API answer with 0.0.0.0/0)" "$(stat api_errors)" 1

lab_nsenter ch ping -c 1 -W 3 100.64.0.1 >/dev/null && lab_fail "an API user took bob's address"
has_peer "${pub[h]}" && lab_fail "a peer for the API user with bob's address"
grep -q "refused hijack .*100.64.0.50/32 belongs to bob" "$LAB_TMP/run.log" ||
	lab_fail "the log does not say why hijack was refused"
expect_ge "address_conflict" "$(stat address_conflict)" 1

# The same key answered as "bob" (a policy-file user's name): refused.
users "alice,${pub[a]},100.64.0.11/32" "bob,${pub[h]},100.64.0.13/32"
lab_nsenter ch ping -c 1 -W 3 100.64.0.1 >/dev/null && lab_fail "an API answer took bob's name"
has_peer "${pub[h]}" && lab_fail "a peer for the API user named bob"
lab_wait_until 60 grep -q "refused bob .*the name bob belongs to another key in the policy file" \
	"$LAB_TMP/run.log" || lab_fail "the log does not say why the second bob was refused"
has_peer "${pub[h]}" && lab_fail "a peer for the API user named bob"

# explain WHO DST: allowed or denied, from the tunnel's live maps
explain() {
	wgx gw policy explain "$@" --json | python3 -c 'import json,sys; print("allowed" if json.load(sys.stdin)["allowed"] else "denied")'
}
expect_eq "alice (API, dev) to 10.10.1.1" "$(explain alice 10.10.1.1 icmp)" allowed
expect_eq "alice (API, dev) to 8.8.8.8" "$(explain alice 8.8.8.8 icmp)" denied
# A group before dev in the file: alice's rules are still dev's, not the new first group's.
applied() { [ "$(grep -c "policy applied to the tunnel" "$LAB_TMP/run.log")" -ge "$1" ]; }
n=$(grep -c "policy applied to the tunnel" "$LAB_TMP/run.log")
policy "$LAB_TMP/policy.json" '"all": {"allow": ["0.0.0.0/0"]},'
kill -HUP "$DAEMON"
lab_wait_until 60 applied $((n + 1)) || lab_fail "the reload was not applied"
expect_eq "alice to 8.8.8.8 after a reload that put a group before dev" "$(explain alice 8.8.8.8 icmp)" denied
expect_eq "alice to 10.10.1.1 after that reload" "$(explain alice 10.10.1.1 icmp)" allowed
# A file that loads but cannot be applied (9 rules for one prefix, the tunnel holds 8).
rules=$(for p in 1 2 3 4 5 6 7 8 9; do printf '{"cidr": "10.20.9.9/32", "proto": "tcp", "ports": "%s"}, ' $p; done)
cat >"$LAB_TMP/policy.json" <<J
{"groups": {"dev": {"allow": [$rules "10.10.0.0/16", "100.64.0.1/32"]}}, "users": [
 {"name": "bob", "public_key": "$bob", "addresses": ["100.64.0.50/32"], "groups": ["dev"]}]}
J
kill -HUP "$DAEMON"
lab_wait_until 60 stat_ge policy_errors 1 || lab_fail "the unappliable reload was not counted"
sleep 3	# two revalidations of alice (--api-revalidate 2) with no policy applied
kill -0 "$DAEMON" || lab_fail "the daemon died after a reload it could not apply"
expect_eq "alice to 10.10.1.1 after an unappliable reload" "$(explain alice 10.10.1.1 icmp)" allowed
expect_eq "alice to 8.8.8.8 after an unappliable reload" "$(explain alice 8.8.8.8 icmp)" denied

# alice stays active (keepalive 1 s); the API drops her: she goes at the next revalidation.
users "wide,${pub[w]},0.0.0.0/0"
for _ in $(seq 600); do has_peer "${pub[a]}" || break; sleep 0.1; done
has_peer "${pub[a]}" && lab_fail "alice kept her peer after the API dropped her"
expect_eq "removed_api" "$(stat removed_api)" 1
grep -q "removing alice: the peer API no longer knows the user" "$LAB_TMP/run.log" ||
	lab_fail "the log does not say why alice went"
echo "jit_api_abuse: all checks passed ($LAB_WG_IMPL WireGuard)"
