# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# shellcheck shell=bash
# The enforcement lab of the tunnel scenarios (tunnel_policy, flow_log), after prelude.sh wgx:
#
#   ca (alice, 100.64.0.11, fd64::11) --WireGuard-- gw (100.64.0.1) --veth-- srv
#
# srv holds 10.91.1.10, 10.91.2.10, fd91:1::10 and fd91:2::10 and routes the tunnel's
# addresses back through gw, which forwards. The uplink and tunnel programs are attached on
# gw (gau, $GW); no daemon runs yet. Sets GW, pg (gw's public key), pa (alice's).
# TUNLAB_ATTACH: more options for the tunnel's attach (--max-flows N, --flow-quota N).
tunlab_up() {
	lab_netns gw
	lab_netns ca
	lab_netns srv
	lab_veth ca cau gw gau
	lab_addr ca cau 10.89.1.1/24
	lab_addr gw gau 10.89.1.2/24
	lab_veth srv srvu gw gsu
	lab_addr gw gsu 10.91.1.1/24 10.91.2.1/24 fd91:1::1/64 fd91:2::1/64
	lab_addr srv srvu 10.91.1.10/24 10.91.2.10/24 fd91:1::10/64 fd91:2::10/64
	lab_nsenter srv ip route add 100.64.0.0/24 via 10.91.1.1 || lab_fail "route on srv"
	lab_nsenter srv ip -6 route add fd64::/64 via fd91:1::1 || lab_fail "route6 on srv"
	lab_nsenter gw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 ||
		lab_fail "forwarding on gw"

	local kg ka
	kg=$(lab_genkey); pg=$(lab_pubkey "$kg")
	ka=$(lab_genkey); pa=$(lab_pubkey "$ka")
	GW=${LAB_ID}g
	lab_wg gw "$GW" "$kg" 51820 100.64.0.1/24 fd64::1/64
	lab_wg ca "${LAB_ID}a" "$ka" 41001 100.64.0.11/24 fd64::11/64
	lab_wg_peer ca "${LAB_ID}a" "$pg" endpoint 10.89.1.2:51820 \
		allowed-ips 100.64.0.0/24,10.91.0.0/16,fd64::/64,fd91::/16 keepalive 1
	lab_nsenter ca ip route add 10.91.0.0/16 dev "${LAB_ID}a" || lab_fail "route on ca"
	lab_nsenter ca ip -6 route add fd91::/16 dev "${LAB_ID}a" || lab_fail "route6 on ca"
	# shellcheck disable=SC2086
	wgx gw attach gau --port 51820 --wg "$GW" ${TUNLAB_ATTACH:-} >/dev/null ||
		lab_fail "attach gau --wg $GW"
}

# tunlab_bob: a second client, bob (100.64.0.12, fd64::12), in namespace cb, joined to gw by
# its own veth (10.89.2.0/24), with the uplink program on gw's end. Sets pb (bob's public key).
tunlab_bob() {
	local kb
	lab_netns cb
	lab_veth cb cbu gw gbu
	lab_addr cb cbu 10.89.2.1/24
	lab_addr gw gbu 10.89.2.2/24
	kb=$(lab_genkey); pb=$(lab_pubkey "$kb")
	lab_wg cb "${LAB_ID}b" "$kb" 41002 100.64.0.12/24 fd64::12/64
	lab_wg_peer cb "${LAB_ID}b" "$pg" endpoint 10.89.2.2:51820 \
		allowed-ips 100.64.0.0/24,10.91.0.0/16,fd64::/64,fd91::/16 keepalive 1
	lab_nsenter cb ip route add 10.91.0.0/16 dev "${LAB_ID}b" || lab_fail "route on cb"
	wgx gw attach gbu --port 51820 >/dev/null || lab_fail "attach gbu"
}

# tunlab_handshake: alice's first packet (to the gateway itself, which no rule allows) makes
# the daemon install her peer; returns when the handshake is done.
tunlab_handshake() {
	lab_nsenter ca ping -c 1 -W 5 100.64.0.1 >/dev/null 2>&1
	lab_wait_handshake ca "${LAB_ID}a" "$pg" 20 || lab_fail "no handshake"
}

# tunlab_sink: a TCP sink on srv, port 9000: reads to the end, answers the byte count.
tunlab_sink() {
	cat >"$LAB_TMP/sink.py" <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000)); s.listen(16)
while True:
    c, _ = s.accept(); n = 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        n += len(b)
    c.sendall(b"%d\n" % n); c.close()
PY
	lab_spawn nsenter --net="$(lab_ns_path srv)" python3 "$LAB_TMP/sink.py"
}

# tunlab_send_tcp N: alice sends N bytes to the sink (10.91.1.10:9000), which must count N.
tunlab_send_tcp() {
	lab_nsenter ca python3 -c '
import socket, sys
n = int(sys.argv[1])
for _ in range(50):
    try:
        s = socket.create_connection(("10.91.1.10", 9000), 3)
        break
    except ConnectionRefusedError:  # the sink is not listening yet
        import time; time.sleep(0.1)
s.sendall(b"x" * n)
s.shutdown(socket.SHUT_WR)
assert s.recv(16) == b"%d\n" % n
s.close()' "$1"
}
