#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host vm
# vm: every kernel
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

# udp_filtered WHEN: udp/9999 from a to b is dropped (by xdp-filter) while udp/9998 passes.
# No clock in it: the sender sends a datagram to 9999 then one to 9998, round after round,
# until the listener has its answer; the listener waits (for as long as python needs to start
# under the VM's emulation, 120 s at most) for the first datagram on 9998: the 9999 datagrams
# sent before it on the same path have arrived by then, unless dropped. Fails saying why.
udp_filtered() {
	local when=$1 rx=$LAB_TMP/rx lpid spid
	rm -f "$rx" "$rx.stop"
	lab_nsenter b python3 - "$rx" <<'PY' &
import select, socket, sys, time
out = sys.argv[1]
socks = {}
for port in (9998, 9999):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.79.0.2", port))
    socks[s.fileno()] = (port, s)
got = {9998: 0, 9999: 0}
end = time.monotonic() + 120
while not got[9998] and time.monotonic() < end:
    for fd in select.select(list(socks), [], [], 1)[0]:
        port, s = socks[fd]
        s.recvfrom(100)
        got[port] += 1
# what is still queued on 9999 arrived before that first 9998
s = socks[[fd for fd in socks if socks[fd][0] == 9999][0]][1]
s.setblocking(False)
try:
    while True:
        s.recvfrom(100); got[9999] += 1
except BlockingIOError:
    pass
open(out, "w").write("9998 %d 9999 %d\n" % (got[9998], got[9999]))
open(out + ".stop", "w").close()
PY
	lpid=$!
	lab_nsenter a python3 - "$rx.stop" <<'PY' &
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + 150
while not os.path.exists(sys.argv[1]) and time.monotonic() < end:
    s.sendto(b"x", ("10.79.0.2", 9999))
    s.sendto(b"x", ("10.79.0.2", 9998))
    time.sleep(0.1)
PY
	spid=$!
	wait "$lpid"
	wait "$spid"
	read -r _ n98 _ n99 <"$rx" 2>/dev/null || lab_fail "$when: the UDP listener reported nothing"
	[ "$n98" -ge 1 ] || lab_fail "$when: udp/9998 blocked (nothing in 120 s)"
	[ "$n99" = 0 ] || lab_fail "$when: $n99 datagrams to udp/9999 got through xdp-filter"
	echo "ok: $when: udp/9999 dropped, udp/9998 passed"
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
udp_filtered "before wgxdp"

wgx b attach vb --port 51820 >"$LAB_TMP/attach.out" || lab_fail "attach vb beside xdp-filter"
cat "$LAB_TMP/attach.out"
grep -q "libxdp dispatcher" "$LAB_TMP/attach.out" || lab_fail "attach does not say dispatcher"
expect_eq "other programs on vb" "$(wgx_json b '[i["other_programs"] for i in s["interfaces"] if i["name"]=="vb"][0]')" 1
lab_nsenter b xdp-loader status vb | tee "$LAB_TMP/xl"
grep -q wgxdp_uplink "$LAB_TMP/xl" || lab_fail "xdp-loader does not list wgxdp_uplink"
grep -q xdpfilt "$LAB_TMP/xl" || lab_fail "xdp-loader does not list xdp-filter"
udp_filtered "with wgxdp beside xdp-filter"
expect_ge "wgxdp counts beside xdp-filter" "$(wgx_ctr b vb other other_port pass)" 1

# Re-attach in the dispatcher, then detach: xdp-filter stays and keeps working.
wgx b attach vb --port 51820 --port 51821 >/dev/null || lab_fail "re-attach in the dispatcher"
expect_eq "one wgxdp program after re-attach" "$(lab_nsenter b xdp-loader status vb | grep -c wgxdp_uplink)" 1
wgx b detach vb || lab_fail "detach vb"
lab_nsenter b xdp-loader status vb | tee "$LAB_TMP/xl"
grep -q wgxdp_uplink "$LAB_TMP/xl" && lab_fail "wgxdp_uplink still attached after detach"
grep -q xdpfilt "$LAB_TMP/xl" || lab_fail "xdp-filter gone after our detach"
udp_filtered "after our detach"
[ -e "$WGXDP_PIN_DIR" ] && lab_fail "pins left after the last detach"
echo "uplink_share: dispatcher checks passed"
