#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# Sharing the interface with another XDP program through libxdp. Where the kernel loads
# freplace programs (the VM's Debian kernels), xdp-filter and wgxdp run side by side in
# libxdp's dispatcher, and xdp-filter keeps working before and after our detach. Where it
# does not (the host's kernel refuses BPF trampolines), libxdp falls back to a single program:
# attach must still work and `status` must say so.
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" wgx xdp-filter xdp-loader

lab_netns a
lab_netns b
lab_veth a va b vb
lab_addr a va 10.79.0.1/24
lab_addr b vb 10.79.0.2/24

# udp_reaches PORT: does a datagram from a to b:PORT arrive? The listener says when it is
# bound (python starts slowly under the VM's emulation), the sender tries for a few seconds.
udp_reaches() {
	local port=$1 pid i
	rm -f "$LAB_TMP/rx"
	lab_nsenter b python3 - "$port" "$LAB_TMP/rx" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.79.0.2", int(sys.argv[1])))
s.settimeout(4)
open(sys.argv[2], "w").write("ready\n")
try:
    s.recvfrom(100); r = "got"
except socket.timeout:
    r = "timeout"
open(sys.argv[2], "a").write(r + "\n")
PY
	pid=$!
	for ((i = 0; i < 100; i++)); do grep -q ready "$LAB_TMP/rx" 2>/dev/null && break; sleep 0.1; done
	lab_nsenter a python3 -c "import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(10):
    s.sendto(b'x', ('10.79.0.2', $port)); time.sleep(0.2)"
	wait "$pid"
	grep -q got "$LAB_TMP/rx"
}

# Does this kernel load freplace programs? libxdp's dispatcher is made of them.
wgx b attach vb || lab_fail "attach vb"
dispatcher=$(wgx_json b '[i["dispatcher"] for i in s["interfaces"] if i["name"]=="vb"][0]')
wgx b detach vb >/dev/null || lab_fail "detach vb"

if [ "$dispatcher" != True ]; then
	echo "this kernel refuses freplace: libxdp's single-program fallback"
	wgx b attach vb >"$LAB_TMP/attach.out" || lab_fail "attach vb (fallback)"
	grep -q "single program: no dispatcher" "$LAB_TMP/attach.out" || lab_fail "attach does not say it fell back"
	wgx b status | grep -q "single program (no dispatcher)" || lab_fail "status does not say single program"
	expect_eq "status --json dispatcher" "$(wgx_json b '[i["dispatcher"] for i in s["interfaces"] if i["name"]=="vb"][0]')" False
	# Another program cannot join us here: it fails, and ours keeps running.
	lab_nsenter b xdp-filter load vb -m native >/dev/null 2>&1 && lab_fail "xdp-filter loaded beside a single program"
	expect_eq "still attached" "$(wgx_json b '[i["attached"] for i in s["interfaces"] if i["name"]=="vb"][0]')" True
	lab_nsenter a ping -q -c 2 -i 0.2 10.79.0.2 >/dev/null || lab_fail "ping with wgxdp attached"
	expect_ge "counting" "$(wgx_ctr b vb other not_udp pass)" 2
	wgx b detach vb >/dev/null || lab_fail "detach"
	echo "uplink_share: fallback checks passed (dispatcher sharing runs in the VM tier)"
	[ "${WGXDP_TIER:-host}" = vm ] && lab_fail "the VM kernel should load the dispatcher"
	exit 0
fi

# The dispatcher: xdp-filter first, blocking UDP port 9999.
lab_nsenter b xdp-filter load vb -m native || lab_fail "xdp-filter load"
lab_defer lab_nsenter b xdp-filter unload vb
lab_nsenter b xdp-filter port 9999 -m dst -p udp || lab_fail "xdp-filter port 9999"
udp_reaches 9999 && lab_fail "xdp-filter did not drop udp/9999 before wgxdp"
udp_reaches 9998 || lab_fail "udp/9998 blocked before wgxdp"

wgx b attach vb --port 51820 >"$LAB_TMP/attach.out" || lab_fail "attach vb beside xdp-filter"
cat "$LAB_TMP/attach.out"
grep -q "libxdp dispatcher" "$LAB_TMP/attach.out" || lab_fail "attach does not say dispatcher"
expect_eq "other programs on vb" "$(wgx_json b '[i["other_programs"] for i in s["interfaces"] if i["name"]=="vb"][0]')" 1
lab_nsenter b xdp-loader status vb | tee "$LAB_TMP/xl"
grep -q wgxdp_uplink "$LAB_TMP/xl" || lab_fail "xdp-loader does not list wgxdp_uplink"
grep -q xdpfilt "$LAB_TMP/xl" || lab_fail "xdp-loader does not list xdp-filter"
udp_reaches 9999 && lab_fail "xdp-filter stopped dropping with wgxdp beside it"
udp_reaches 9998 || lab_fail "udp/9998 blocked with both programs"
expect_ge "wgxdp counts beside xdp-filter" "$(wgx_ctr b vb other other_port pass)" 1

# Re-attach in the dispatcher, then detach: xdp-filter stays and keeps working.
wgx b attach vb --port 51820 --port 51821 >/dev/null || lab_fail "re-attach in the dispatcher"
expect_eq "one wgxdp program after re-attach" "$(lab_nsenter b xdp-loader status vb | grep -c wgxdp_uplink)" 1
wgx b detach vb || lab_fail "detach vb"
lab_nsenter b xdp-loader status vb | tee "$LAB_TMP/xl"
grep -q wgxdp_uplink "$LAB_TMP/xl" && lab_fail "wgxdp_uplink still attached after detach"
grep -q xdpfilt "$LAB_TMP/xl" || lab_fail "xdp-filter gone after our detach"
udp_reaches 9999 && lab_fail "xdp-filter stopped dropping after our detach"
udp_reaches 9998 || lab_fail "udp/9998 blocked after our detach"
[ -e "$WGXDP_PIN_DIR" ] && lab_fail "pins left after the last detach"
echo "uplink_share: dispatcher checks passed"
