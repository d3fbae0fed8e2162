#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host
# `wgxdp top`: while alice pings an allowed host (a stream of 1000-byte pings) and a denied one,
# `top --once --json` shows her first with a non-zero rate, denies per second and her flow
# (both ends, allowed by dev), and the tunnel's totals and the daemon's counters per second;
# the interactive view starts under a pseudo-terminal, filters, shows her flows, survives a
# resize and quits on q; without a terminal it says so; a pin directory without the tunnel
# says "not attached"; with the daemon stopped it still shows her flow.
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
wgx_daemon gw --wg "$GW" --policy "$P"
tunlab_handshake

# A pin directory without the tunnel: said, exit 1, no hang.
out=$(timeout 20 "$WGXDP" top --once --json --interval 0.2 --pin-dir "$LAB_TMP/none")
rc=$?
expect_eq "top --once without the tunnel: exit status" "$rc" 1
expect_eq "top --once without the tunnel: tunnel.error" \
	"$(printf '%s' "$out" | python3 -c 'import json,sys; t=json.load(sys.stdin)["tunnel"]; print(t["attached"], t["error"].split(" (")[0])')" \
	"False not attached"

# Traffic: pings allowed (10.91.1.10, 1000 bytes, 50/s) and denied (10.91.2.10, 10/s).
lab_spawn nsenter --net="$(lab_ns_path ca)" ping -i 0.02 -s 1000 -c 3000 10.91.1.10
PING_OK=$LAB_PID
lab_spawn nsenter --net="$(lab_ns_path ca)" ping -i 0.1 -c 600 10.91.2.10
PING_DENIED=$LAB_PID
lab_ping ca 10.91.1.10 1 || lab_fail "alice cannot reach 10.91.1.10"

J=$LAB_TMP/top.json
timeout 20 "$WGXDP" top --once --json >"$J" || lab_fail "top --once --json failed"
check() {
	python3 - "$J" "$1" <<'PY' || lab_fail "top --once --json: $2 (see above)"
import json, sys
t = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print(json.dumps(t, indent=1)[:4000])
sys.exit(0 if ok else 1)
PY
	echo "ok: $2"
}
check 't["interval_s"] > 0.5' "one interval between the two snapshots"
check 't["users"][0]["user"] == "alice"' "alice first"
check 't["users"][0]["bytes_per_s"] > 10000 and t["users"][0]["tx_bytes_per_s"] > 0 and t["users"][0]["rx_bytes_per_s"] > 0' \
	"alice's rate is over 10 kB/s, both ways"
check 't["users"][0]["denies_per_s"] > 0' "alice's denies per second"
check 'any(f["proto"] == "icmp" and f["remote_end"].startswith("10.91.1.10") and
	f["user_end"].startswith("100.64.0.11") and f["group"] == "dev" and f["tx_bytes_per_s"] > 0
	and f["tx_packets"] > 0 for f in t["users"][0]["flows"])' "her icmp flow to 10.91.1.10, allowed by dev"
check 't["users"][0]["nr_flows"] == len(t["users"][0]["flows"]) >= 1' "her number of flows"
check 't["tunnel"]["attached"] and t["tunnel"]["policy_loaded"] and t["tunnel"]["generation"] >= 1' \
	"the tunnel: attached, a policy loaded"
check 't["tunnel"]["ingress"]["packets_per_s"] > 0 and t["tunnel"]["egress"]["bytes_per_s"] > 0' \
	"the tunnel's packets and bytes per second"
check 't["tunnel"]["allowed_per_s"] > 0 and t["tunnel"]["denied_per_s"] > 0' "allowed and denied per second"
check '1 <= t["tunnel"]["flows"] <= t["tunnel"]["capacity"]' "flows in the table and its capacity"
check 't["daemon_per_s"] is not None and "installed" in t["daemon_per_s"]' "the daemon's counters per second"

"$WGXDP" top --once >"$LAB_TMP/top.txt"
cat "$LAB_TMP/top.txt"
grep -q '^alice ' "$LAB_TMP/top.txt" || lab_fail "top --once (text) does not list alice"
echo "ok: top --once (text) lists alice"

# Without a terminal: a clear error.
"$WGXDP" top </dev/null >"$LAB_TMP/notty.out" 2>&1
rc=$?
expect_eq "top without a terminal: exit status" "$rc" 1
grep -q "not a terminal" "$LAB_TMP/notty.out" || { cat "$LAB_TMP/notty.out"; lab_fail "top without a terminal: no clear error"; }
echo "ok: top without a terminal says so"

# The interactive view under a pseudo-terminal (TERM=xterm, 40x160).
cat >"$LAB_TMP/top_tty.py" <<'PY'
import fcntl, os, pty, select, signal, struct, sys, termios, time
wgxdp = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm"
    os.execv(wgxdp, [wgxdp, "top", "--interval", "1"])
def winsize(rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
winsize(40, 160)
seen = b""
def expect(pattern, what, timeout=15):
    global seen
    end = time.time() + timeout
    while pattern not in seen:
        left = end - time.time()
        if left <= 0:
            sys.stderr.write("screen so far: %r\n" % seen[-3000:])
            sys.exit("FAIL: %s: %r did not appear within %d s" % (what, pattern, timeout))
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                sys.exit("FAIL: %s: top exited (screen: %r)" % (what, seen[-2000:]))
            seen += data
    print("ok: interactive: " + what)
def send(b):
    global seen
    seen = b""  # what the key brings comes after it
    os.write(fd, b)
expect(b"alice", "alice listed")
expect(b"daemon/s", "the daemon's counters in the header")
# ncurses sends only what changed on the screen: ^L after a key has it drawn whole
def key(b, pattern, what):
    send(b + b"\x0c")
    expect(pattern, what)
key(b"s", b"sort: flows", "s: the next sort")
key(b"/ali", b"filter (Enter apply, Esc clear): ali_", "typing a filter")
key(b"\r", b"filter: ali ", "the filter applied")
key(b"\r", b"10.91.1.10", "Enter: alice's flows")
key(b"", b"ALLOWED BY", "the flows' columns")
seen = b""
winsize(30, 120)
expect(b"10.91.1.10", "a resize: drawn again")
key(b"\x1b", b"LAST SEEN", "Esc: back to the users")
key(b"\x1b", b"sort: flows   q quit", "Esc again: the filter cleared")
send(b"q")
end = time.time() + 10
while time.time() < end:
    wpid, status = os.waitpid(pid, os.WNOHANG)
    if wpid:
        break
    try:
        os.read(fd, 65536)  # drain: it may block writing to the terminal
    except OSError:
        pass
    time.sleep(0.05)
else:
    os.kill(pid, signal.SIGKILL)
    sys.exit("FAIL: q did not quit within 10 s")
if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
    sys.exit("FAIL: top exited with status %d" % status)
print("ok: interactive: q quits, exit status 0")
PY
python3 "$LAB_TMP/top_tty.py" "$WGXDP" || lab_fail "the interactive view"

# The daemon stopped: top reads the pinned maps alone.
lab_reap "$DAEMON"
lab_reap "$PING_DENIED"
timeout 20 "$WGXDP" top --once --json >"$J" || lab_fail "top --once --json with the daemon stopped"
check 't["users"][0]["user"] == "alice" and t["users"][0]["bytes_per_s"] > 0' \
	"the daemon stopped: alice still listed, with her rate"
lab_reap "$PING_OK"
echo "top: all checks passed"
