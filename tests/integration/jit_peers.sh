#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# vm: every kernel
# wgxdp run end to end: a gateway (wireguard-go on the host, kernel WireGuard in the VM) with
# no peers, the uplink program attached, the daemon installing peers from the policy file.
# A known client gets in on its first attempt; unknown, disabled and expired users get
# nothing; an idle peer goes and comes back on its next handshake; a hand-configured peer is
# never touched; kill -9 and restart lose nothing; a reload that removes a user removes the
# peer; a broken reload keeps the old policy; a user's preshared key is installed; a user who
# expires loses the peer.
# No step assumes how long another takes: the daemons that run the policy steps have an idle
# timeout far longer than the scenario, and the idle step gets a daemon of its own with a short
# timeout, started when the step begins; waits are for the expected state, with generous bounds.
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx ping

IDLE=8		# the idle step's timeout: longer than a first ping's wait (WAIT), nothing more
WAIT=3		# how long a client that must not get in is given
LONG=36000	# every other daemon: no peer goes idle while the scenario runs
wgx_uplinks 81 a b d e x

kg=$(lab_genkey); pg=$(lab_pubkey "$kg")
GW=${LAB_ID}g
lab_wg gw "$GW" "$kg" 51820 100.64.0.1/24
declare -A key pub
i=1
for c in a b d e x; do
	key[$c]=$(lab_genkey); pub[$c]=$(lab_pubkey "${key[$c]}")
	lab_wg "c$c" "${LAB_ID}$c" "${key[$c]}" $((41000 + i)) "100.64.0.1$i/24"
	lab_wg_peer "c$c" "${LAB_ID}$c" "$pg" endpoint "10.81.$i.2:51820" allowed-ips 100.64.0.0/24
	i=$((i + 1))
done
# a hand-configured peer: never touched by the daemon
hand=$(lab_pubkey "$(lab_genkey)")
lab_wg_peer gw "$GW" "$hand" allowed-ips 100.64.0.99/32

# erin's client and the policy share a preshared key: her handshake needs the daemon to set it
PSK=$(wg genpsk)
printf '%s\n' "$PSK" >"$LAB_TMP/psk"
lab_wg_peer ce "${LAB_ID}e" "$pg" psk "$LAB_TMP/psk"

policy() {	# policy FILE USERS...: a=alice b=bob(disabled) d=dave(expired) e=erin(psk) A=alice expired
	local f=$1 u sep= out
	shift
	out='{"groups": {"dev": {"allow": ["10.10.0.0/16", "fd00:10::/48"]}}, "users": ['
	for u in "$@"; do
		case $u in
		a) out+="$sep"'{"name": "alice", "public_key": "'"${pub[a]}"'", "addresses": ["100.64.0.11/32"], "groups": ["dev"], "expires": "2099-01-01T00:00:00Z"}' ;;
		b) out+="$sep"'{"name": "bob", "public_key": "'"${pub[b]}"'", "addresses": ["100.64.0.12/32"], "groups": ["dev"], "disabled": true}' ;;
		d) out+="$sep"'{"name": "dave", "public_key": "'"${pub[d]}"'", "addresses": ["100.64.0.13/32"], "groups": ["dev"], "expires": "2020-01-01T00:00:00Z"}' ;;
		e) out+="$sep"'{"name": "erin", "public_key": "'"${pub[e]}"'", "addresses": ["100.64.0.14/32"], "groups": ["dev"], "preshared_key": "'"$PSK"'"}' ;;
		A) out+="$sep"'{"name": "alice", "public_key": "'"${pub[a]}"'", "addresses": ["100.64.0.11/32"], "groups": ["dev"], "expires": "2020-01-01T00:00:00Z"}' ;;
		esac
		sep=', '
	done
	printf '%s]}\n' "$out" >"$f"
}
P=$LAB_TMP/policy.json
policy "$P" a b d e
"$WGXDP" policy check "$P" || lab_fail "policy check of the test policy"

start_daemon() { wgx_daemon gw --wg "$GW" --policy "$P" --idle-timeout "${1:-$LONG}"; }
has_peer() { lab_nsenter gw wg show "$GW" peers | grep -qx "$1"; }
no_peer() { ! has_peer "$1"; }
# first_ping C: the client's first attempt gets in (one initiation, its ping answered)
first_ping() { wgx_first_attempt gw "g${1}u" "c$1" 100.64.0.1; }
# gets_in C: the client's ping is answered (within 20 s, retries or not)
gets_in() { lab_nsenter "c$1" ping -c 1 -W 20 100.64.0.1 >/dev/null; }
# no_entry C: the client's ping gets no answer within WAIT s
no_entry() { ! lab_nsenter "c$1" ping -c 1 -W "$WAIT" 100.64.0.1 >/dev/null; }
# hup: reload the policy; wait_log TEXT: until the daemon's log says TEXT (30 s at most)
hup() { kill -HUP "$DAEMON"; }
wait_log() { lab_wait_until 30 grep -q "$1" "$LAB_TMP/run.log"; }
stat() { wgx_stat gw "$1"; }

start_daemon
first_ping a || lab_fail "alice's first attempt did not get in (exit $?)"
echo "ok: alice's first ping answered after $WGX_MS ms, on her first attempt"
has_peer "${pub[a]}" || lab_fail "no peer for alice"
wgx gw peers | tee "$LAB_TMP/peers.txt"
grep -q "^alice .*10.81.1.1:41001" "$LAB_TMP/peers.txt" || lab_fail "peers does not list alice at her endpoint"
no_entry x || lab_fail "an unknown client got through"
no_entry b || lab_fail "a disabled user got through"
no_entry d || lab_fail "an expired user got through"
for c in x b d; do has_peer "${pub[$c]}" && lab_fail "a peer was installed for c$c"; done
echo "ok: unknown, disabled and expired users got no peer"
wgx_wait_stat gw disabled 1
wgx_wait_stat gw expired 1
expect_ge "unknown_key + unknown_cached" $(( $(stat unknown_key) + $(stat unknown_cached) )) 1
expect_eq "installed" "$(stat installed)" 1

# kill -9 and restart: the peer stays, the new daemon adopts it, nothing doubles.
kill -9 "$DAEMON"; wait "$DAEMON" 2>/dev/null
no_entry e || lab_fail "erin got in with no daemon running"
start_daemon
# (her client has been retrying since the ping above: which of its attempts gets in is open)
gets_in e || lab_fail "erin did not get in after the restart (with her preshared key)"
psk_set=$(lab_nsenter gw wg show "$GW" preshared-keys | awk -v k="${pub[e]}" '$1 == k { print $2 }')
expect_eq "erin's preshared key on the gateway" "$psk_set" "$PSK"
expect_ge "adopted after kill -9" "$(stat adopted)" 1
expect_eq "managed peers after restart" "$(wgx gw peers --json | python3 -c 'import json,sys; print(sorted(p["user"] for p in json.load(sys.stdin)["peers"]))')" "['alice', 'erin']"
expect_eq "peers on the device" "$(lab_nsenter gw wg show "$GW" peers | wc -l)" 3

# A broken reload keeps the old policy.
cp "$P" "$LAB_TMP/good.json"
echo '{"users": [' >"$P"
hup
wait_log "reload rejected" || lab_fail "the daemon did not reject the broken policy"
has_peer "${pub[a]}" && has_peer "${pub[e]}" || lab_fail "a broken reload removed peers"
echo "ok: broken reload rejected, the old policy stays"

# A reload without erin removes her peer, and only hers.
policy "$P" a b d
hup
lab_wait_until 30 no_peer "${pub[e]}" || lab_fail "erin's peer stayed after she left the policy"
has_peer "${pub[a]}" || lab_fail "alice's peer went with erin's"
wgx_wait_stat gw removed_policy 1

# alice's expiry moves into the past: her peer goes at the reload.
policy "$P" A b d
hup
lab_wait_until 30 no_peer "${pub[a]}" || lab_fail "alice's peer stayed after she expired"
wait_log "removing alice: expired" || lab_fail "the log does not say alice expired"
echo "ok: an expired user's peer is removed"
kill -TERM "$DAEMON"; wait "$DAEMON"
expect_eq "daemon exit on SIGTERM" "$?" 0

# Idle: a daemon with a short idle timeout; alice (valid again) gets in on a new session, her
# peer goes once no handshake came for IDLE s (not before), and her next handshake brings it back.
cat "$LAB_TMP/run.log" >>"$LAB_TMP/run.old.log"
policy "$P" a b d
start_daemon "$IDLE"
new_session() {	# the client's next ping starts a handshake
	lab_wg_peer ca "${LAB_ID}a" "$pg" remove
	lab_wg_peer ca "${LAB_ID}a" "$pg" endpoint 10.81.1.2:51820 allowed-ips 100.64.0.0/24
}
new_session
t0=$SECONDS
first_ping a || lab_fail "alice (valid again) did not get in on her first attempt (exit $?)"
lab_wait_until $((IDLE * 3 + 60)) no_peer "${pub[a]}" ||
	lab_fail "alice's idle peer was not removed within $((IDLE * 3 + 60)) s of her handshake (idle timeout $IDLE s)"
idle_s=$((SECONDS - t0))
[ "$idle_s" -ge "$IDLE" ] || lab_fail "alice's peer went $idle_s s after her handshake, before the idle timeout ($IDLE s)"
wait_log "removing alice: idle" || lab_fail "the log does not say alice was idle"
wgx_wait_stat gw removed_idle 1
echo "ok: alice's idle peer removed $idle_s s after her handshake (idle timeout $IDLE s)"
has_peer "$hand" || lab_fail "the hand-configured peer was touched"
echo "ok: the hand-configured peer is still there"
new_session
first_ping a || lab_fail "alice did not come back on her next handshake (exit $?)"
echo "ok: alice is back"

kill -TERM "$DAEMON"; wait "$DAEMON"
expect_eq "daemon exit on SIGTERM" "$?" 0
cat "$LAB_TMP/run.old.log" "$LAB_TMP/run.log"
echo "jit_peers: all checks passed ($LAB_WG_IMPL WireGuard)"
