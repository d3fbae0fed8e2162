#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# A fleet of two gateways on one peer API, as behind anycast: both have the same WireGuard
# key and no policy file; users and the groups' rules come from the API (GET URL/<key>,
# GET URL/groups with an ETag). alice connects to gateway A at her first attempt and gets her
# group's rules there; her endpoint moves to gateway B (a failover: her tunnel comes up again
# there) and she connects at her first attempt too, with the same rules; A removes her stale
# peer after its idle timeout. carol's answer names a group the API's groups lack: no peer,
# counted. B starts while the API's groups are broken: dave (group web) gets no peer there
# until B has them (tried again every 5 s), then gets in from his cached answer. New groups
# on the API reach B at its next refresh (304s meanwhile), and apply; hostile groups do not.
#
#   c1 (alice) --veth-- gwa --veth-- api (users, groups)
#        \------veth-- gwb ---veth--/
#   c3 (carol) --veth-- gwa
#   c4 (dave)  --veth-- gwb
# Each gateway holds 10.91.1.10 and 10.91.2.10 on its loopback: group web allows 10.91.1.0/24 only.
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx ping python3

N=87
PA=/sys/fs/bpf/wgxdp-${LAB_ID}a
PB=/sys/fs/bpf/wgxdp-${LAB_ID}b
lab_defer rm -rf "$PA" "$PB"
ga() { WGXDP_PIN_DIR=$PA wgx gwa "$@"; }
gb() { WGXDP_PIN_DIR=$PB wgx gwb "$@"; }
GWA=${LAB_ID}ga
GWB=${LAB_ID}gb
IDLE=60		# A's idle timeout; the steps on A before the move are checked against it

fleet_report() {
	local x
	for x in a b; do
		echo "---- gateway $x: daemon log"
		tail -n 40 "$LAB_TMP/run$x.log" 2>/dev/null
		echo "---- gateway $x: wgxdp peers"
		"g$x" peers 2>&1 | tail -n 5
		echo "---- gateway $x: wg show"
		lab_nsenter "gw$x" wg show 2>&1 | head -n 20
	done
	echo "---- the API's log"
	tail -n 30 "$LAB_TMP/api.log" 2>/dev/null
}
lab_on_fail fleet_report

lab_netns api
lab_netns c1
lab_netns c3
lab_netns c4
for x in a b; do
	lab_netns "gw$x"
	lab_nsenter "gw$x" ip link set lo up
	lab_nsenter "gw$x" ip addr add 10.91.1.10/32 dev lo || lab_fail "10.91.1.10 on gw$x"
	lab_nsenter "gw$x" ip addr add 10.91.2.10/32 dev lo || lab_fail "10.91.2.10 on gw$x"
done
lab_veth c1 c1a gwa ga1
lab_addr c1 c1a 10.$N.1.1/24
lab_addr gwa ga1 10.$N.1.2/24
lab_veth c1 c1b gwb gb1
lab_addr c1 c1b 10.$N.2.1/24
lab_addr gwb gb1 10.$N.2.2/24
lab_veth c3 c3a gwa ga3
lab_addr c3 c3a 10.$N.3.1/24
lab_addr gwa ga3 10.$N.3.2/24
lab_veth c4 c4b gwb gb4
lab_addr c4 c4b 10.$N.4.1/24
lab_addr gwb gb4 10.$N.4.2/24
lab_veth api apa gwa gaapi
lab_addr api apa 10.$N.9.1/24
lab_addr gwa gaapi 10.$N.9.2/24
lab_veth api apb gwb gbapi
lab_addr api apb 10.$N.10.1/24
lab_addr gwb gbapi 10.$N.10.2/24

# one WireGuard key for the fleet (anycast: the client has one peer for all of it)
kg=$(lab_genkey); pg=$(lab_pubkey "$kg")
lab_wg gwa "$GWA" "$kg" 51820 100.64.0.1/24
lab_wg gwb "$GWB" "$kg" 51820 100.64.0.1/24
k1=$(lab_genkey); p1=$(lab_pubkey "$k1")
k3=$(lab_genkey); p3=$(lab_pubkey "$k3")
k4=$(lab_genkey); p4=$(lab_pubkey "$k4")
lab_wg c1 "${LAB_ID}1" "$k1" 41001 100.64.0.11/24
lab_wg c3 "${LAB_ID}3" "$k3" 41003 100.64.0.13/24
lab_wg c4 "${LAB_ID}4" "$k4" 41004 100.64.0.14/24
alice_to() {	# alice's tunnel (re)made with gateway $1's address as the endpoint
	lab_wg_peer c1 "${LAB_ID}1" "$pg" remove
	lab_wg_peer c1 "${LAB_ID}1" "$pg" endpoint "$1:51820" allowed-ips 100.64.0.0/24,10.91.0.0/16
}
alice_to 10.$N.1.2
lab_nsenter c1 ip route add 10.91.0.0/16 dev "${LAB_ID}1" || lab_fail "route on c1"
lab_wg_peer c3 "${LAB_ID}3" "$pg" endpoint 10.$N.3.2:51820 allowed-ips 100.64.0.0/24,10.91.0.0/16
lab_nsenter c3 ip route add 10.91.0.0/16 dev "${LAB_ID}3" || lab_fail "route on c3"
lab_wg_peer c4 "${LAB_ID}4" "$pg" endpoint 10.$N.4.2:51820 allowed-ips 100.64.0.0/24,10.91.0.0/16
lab_nsenter c4 ip route add 10.91.0.0/16 dev "${LAB_ID}4" || lab_fail "route on c4"

ga attach ga1 --port 51820 --wg "$GWA" >/dev/null || lab_fail "attach ga1 --wg $GWA"
ga attach ga3 --port 51820 >/dev/null || lab_fail "attach ga3"
gb attach gb1 --port 51820 --wg "$GWB" >/dev/null || lab_fail "attach gb1 --wg $GWB"
gb attach gb4 --port 51820 >/dev/null || lab_fail "attach gb4"

# The API: users by base64url key, the groups with a strong ETag (the file's hash), 304 for
# a matching If-None-Match. Each request is a line of its log.
groups() {
	cat >"$LAB_TMP/groups.tmp" <<J
{"groups": {"web": {"allow": ["10.91.1.0/24"$1]}$2}}
J
	mv "$LAB_TMP/groups.tmp" "$LAB_TMP/groups.json"
}
groups "" ""
python3 - "$p1" "$p3" "$p4" >"$LAB_TMP/users.json" <<'PY'
import base64, json, sys
a, c, d = sys.argv[1:4]
u = lambda k: base64.urlsafe_b64encode(base64.b64decode(k)).decode().rstrip("=")
print(json.dumps({
    u(a): {"name": "alice", "public_key": a, "addresses": ["100.64.0.11/32"], "groups": ["web"]},
    u(c): {"name": "carol", "public_key": c, "addresses": ["100.64.0.13/32"], "groups": ["web", "ops"]},
    u(d): {"name": "dave", "public_key": d, "addresses": ["100.64.0.14/32"], "groups": ["web"]},
}))
PY
cat >"$LAB_TMP/api.py" <<'PY'
import hashlib, http.server, json, os, socketserver, sys
users_path, groups_path, logp = sys.argv[1:4]
log = open(logp, "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        who = self.client_address[0]
        if self.headers.get("X-Evil") or any(ord(c) < 0x21 for c in self.headers.get("If-None-Match", "x")):
            log.write("%s EVIL header came back\n" % who)
        if self.path == "/v1/groups":
            body = open(groups_path, "rb").read()
            tag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
            if os.path.exists(groups_path + ".evil"):  # an ETag that would add a header
                tag = '"e"\rX-Evil: 1'
            if self.headers.get("If-None-Match") == tag:
                log.write("%s groups 304\n" % who)
                return self.answer(304, headers=[("ETag", tag)])
            log.write("%s groups 200\n" % who)
            return self.answer(200, body, [("ETag", tag), ("Content-Type", "application/json")])
        key = self.path.rsplit("/", 1)[-1]
        users = json.load(open(users_path))
        log.write("%s user %s\n" % (who, key))
        if not self.path.startswith("/v1/") or key not in users:
            return self.answer(404)
        self.answer(200, json.dumps(users[key]).encode(), [("Content-Type", "application/json")])
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
S(("0.0.0.0", 8099), H).serve_forever()
PY
: >"$LAB_TMP/api.log"
lab_spawn --log "$LAB_TMP/api.err" nsenter --net="$(lab_ns_path api)" python3 "$LAB_TMP/api.py" \
	"$LAB_TMP/users.json" "$LAB_TMP/groups.json" "$LAB_TMP/api.log"
api_up() { lab_nsenter gwa python3 -c "import socket; socket.create_connection(('10.$N.9.1', 8099), 1)" 2>/dev/null; }
lab_wait_until 60 api_up || { cat "$LAB_TMP/api.err"; lab_fail "the API server did not listen within 60 s"; }

# daemon X PIN URL ARGS...: wgxdp run on gateway X, its log in $LAB_TMP/runX.log
daemon() {
	local x=$1 pin=$2 url=$3
	shift 3
	lab_spawn --log "$LAB_TMP/run$x.log" env WGXDP_PIN_DIR="$pin" \
		nsenter --net="$(lab_ns_path "gw$x")" "$WGXDP" run --peer-api "$url" --api-insecure "$@"
	eval "DAEMON_$x=\$LAB_PID"
	lab_wait_until 60 grep -q "public key" "$LAB_TMP/run$x.log" ||
		lab_fail "wgxdp run on gateway $x did not start within 60 s"
}
has_peer() { lab_nsenter "$1" wg show "$2" peers | grep -qx "$3"; }
reaches() { lab_nsenter "$1" ping -c 1 -W 3 "$2" >/dev/null 2>&1; }

daemon a "$PA" "http://10.$N.9.1:8099/v1" --wg "$GWA" --idle-timeout $IDLE
grep -q "groups from the peer API: 1 groups, ETag" "$LAB_TMP/runa.log" ||
	lab_fail "gateway A: no groups from the API at its start"
echo "ok: A took the groups from GET URL/groups (with its ETag)"

# B starts while the API's groups are broken
printf '{"groups": ' >"$LAB_TMP/groups.tmp"
mv "$LAB_TMP/groups.tmp" "$LAB_TMP/groups.json"
daemon b "$PB" "http://10.$N.10.1:8099/v1" --wg "$GWB" --api-refresh 2
grep -q "peer API .*/groups: .*users with groups get no peer until they can be fetched" "$LAB_TMP/runb.log" ||
	lab_fail "B's log does not say its groups could not be fetched"
reaches c4 10.91.1.10 && lab_fail "dave got in at B before B had any groups"
has_peer gwb "$GWB" "$p4" && lab_fail "a peer for dave at B before B had any groups"
WGXDP_PIN_DIR=$PB wgx_wait_stat gwb unknown_group 1 "dave's initiations refused at B (no groups yet)"
grep -q 'groups\[0\]: unknown group "web"' "$LAB_TMP/runb.log" ||
	lab_fail "B's log does not say dave's group web is unknown"
echo "ok: without groups, B gave dave (group web) no peer"
groups "" ""
b_groups() { grep -q "groups from the peer API: 1 groups, ETag" "$LAB_TMP/runb.log"; }
lab_wait_until 30 b_groups || lab_fail "B did not fetch the groups within 30 s of their repair"
dave_in() { reaches c4 10.91.1.10; }
lab_wait_until 30 dave_in || lab_fail "dave did not get in at B once it had the groups"
has_peer gwb "$GWB" "$p4" || lab_fail "no peer for dave at B"
echo "ok: B fetched the groups again and dave got in (his cached answer, now resolved)"

# alice at A, first attempt; A's rules are her group's, from the API
t_a=$(date +%s)
WGXDP_PIN_DIR=$PA wgx_first_attempt gwa ga1 c1 10.91.1.10 ||
	lab_fail "alice did not get in at gateway A on her first attempt (exit $?)"
echo "ok: alice connected to gateway A at her first attempt ($WGX_MS ms)"
reaches c1 10.91.2.10 && lab_fail "alice reached 10.91.2.10 through A: group web does not allow it"
echo "ok: A enforces her group from the API (10.91.1.10 yes, 10.91.2.10 no)"

# carol: the API names a group (ops) the API's groups lack
reaches c3 10.91.1.10 && lab_fail "carol got in at A with an unknown group"
has_peer gwa "$GWA" "$p3" && lab_fail "a peer for carol, whose group ops is unknown"
WGXDP_PIN_DIR=$PA wgx_wait_stat gwa unknown_group 1 "carol's initiations refused for an unknown group (A)"
grep -q 'groups\[1\]: unknown group "ops"' "$LAB_TMP/runa.log" ||
	lab_fail "A's log does not say carol's group ops is unknown"
echo "ok: carol (group ops, unknown) got no peer; logged and counted"

# the failover: alice's tunnel comes up again, at B's address
has_peer gwa "$GWA" "$p1" ||
	lab_fail "A removed alice before the move: the steps since her connect took $(( $(date +%s) - t_a )) s, more than the idle timeout of $IDLE s (a test fault)"
t_move=$(date +%s)
alice_to 10.$N.2.2
WGXDP_PIN_DIR=$PB wgx_first_attempt gwb gb1 c1 10.91.1.10 ||
	lab_fail "alice did not get in at gateway B on her first attempt (exit $?)"
echo "ok: alice's endpoint moved to gateway B and she connected at her first attempt ($WGX_MS ms)"
reaches c1 10.91.2.10 && lab_fail "alice reached 10.91.2.10 through B: group web does not allow it"
echo "ok: B enforces her group from the API too"

# the groups change on the API: B (refresh 2 s) gets them, with 304s before
n304() { grep -c "^10.$N.10.2 groups 304$" "$LAB_TMP/api.log"; }
more_304() { [ "$(n304)" -ge "$1" ]; }
lab_wait_until 30 more_304 1 || lab_fail "B never revalidated the groups with If-None-Match (no 304)"
n200=$(grep -c "^10.$N.10.2 groups 200$" "$LAB_TMP/api.log")
lab_wait_until 30 more_304 $(($(n304) + 2)) || lab_fail "B stopped revalidating the groups"
expect_eq "groups answers with a body to B while they did not change" \
	"$(grep -c "^10.$N.10.2 groups 200$" "$LAB_TMP/api.log")" "$n200"
groups ', "10.91.2.0/24"' ', "ops": {"allow": ["10.91.2.0/24"]}'
b_new() { grep -q "groups from the peer API: 2 groups" "$LAB_TMP/runb.log"; }
lab_wait_until 30 b_new || lab_fail "B did not take the new groups within 30 s"
b_applied() { reaches c1 10.91.2.10; }
lab_wait_until 20 b_applied || lab_fail "the new groups did not apply at B: alice cannot reach 10.91.2.10"
echo "ok: new groups on the API reached B at its refresh and apply to alice"
WGXDP_PIN_DIR=$PB wgx_wait_stat gwb groups_fetched 2 "B's groups fetches with new groups"
WGXDP_PIN_DIR=$PB wgx_wait_stat gwb groups_unchanged 1 "B's groups fetches answered 304"
errs=$(WGXDP_PIN_DIR=$PB wgx_stat gwb groups_errors)
expect_ge "B's groups fetches that failed (while broken)" "$errs" 1

# a hostile or broken groups answer changes nothing: the groups in force stay
printf '{"groups": {"web": {"allow": ["0.0.0.0/0"]}}, "users": [{"name": "mallory"}]}' >"$LAB_TMP/groups.tmp"
mv "$LAB_TMP/groups.tmp" "$LAB_TMP/groups.json"
WGXDP_PIN_DIR=$PB wgx_wait_stat gwb groups_errors $((errs + 1)) "B's groups fetches refused (users in the groups' answer)"
said_users() { grep -q "GET groups: users: the groups' answer holds groups only (the groups in force stay)" "$LAB_TMP/runb.log"; }
lab_wait_until 30 said_users || lab_fail "B's log does not say why it refused groups with users"
printf '{"groups": {"web": ' >"$LAB_TMP/groups.tmp"
mv "$LAB_TMP/groups.tmp" "$LAB_TMP/groups.json"
WGXDP_PIN_DIR=$PB wgx_wait_stat gwb groups_errors $((errs + 2)) "B's groups fetches refused (malformed JSON)"
reaches c1 10.91.2.10 || lab_fail "alice lost 10.91.2.10 at B after a refused groups answer"
reaches c1 10.91.1.10 || lab_fail "alice lost 10.91.1.10 at B after a refused groups answer"
echo "ok: refused groups answers (users inside, malformed) left B's groups in force"

# an ETag that would add a request header if echoed as it came: not kept, never sent back
touch "$LAB_TMP/groups.json.evil"
groups ', "10.91.2.0/24"' ', "ops": {"allow": ["10.91.2.0/24"]}'
n200() { grep -c "^10.$N.10.2 groups 200$" "$LAB_TMP/api.log"; }
more_200() { [ "$(n200)" -ge "$1" ]; }
lab_wait_until 30 more_200 $(($(n200) + 3)) || lab_fail "B stopped fetching the groups"
grep -q "EVIL" "$LAB_TMP/api.log" && lab_fail "B sent the server's hostile ETag back as a header"
reaches c1 10.91.2.10 || lab_fail "alice lost 10.91.2.10 at B after a hostile ETag"
rm -f "$LAB_TMP/groups.json.evil"
echo "ok: a hostile ETag (CR, another header) was not sent back; the same groups stayed"

# A removes alice's stale peer once idle (measured from her last handshake with A)
gone_a() { ! has_peer gwa "$GWA" "$p1"; }
lab_wait_until $((IDLE + 60)) gone_a ||
	lab_fail "A kept alice's stale peer more than $((IDLE + 60)) s after the move"
echo "ok: A removed alice's stale peer $(( $(date +%s) - t_move )) s after the move (idle timeout $IDLE s)"
grep -q "alice.*idle" "$LAB_TMP/runa.log" || lab_fail "A's log does not say alice went for idleness"
WGXDP_PIN_DIR=$PA wgx_wait_stat gwa removed_idle 1 "peers A removed for idleness"
has_peer gwb "$GWB" "$p1" || lab_fail "B lost alice's peer"
reaches c1 10.91.1.10 || lab_fail "alice lost her tunnel through B"
echo "fleet: all checks passed ($LAB_WG_IMPL WireGuard)"
