#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Regenerates tests/unit/testdata/initiations-wggo.txt: real WireGuard handshake initiations
# sent by wireguard-go, for test_noise. Not run by the tests (it needs root, netns and
# wireguard-go); run it by hand, as root, from anywhere:
#
#   tests/unit/testdata/capture.sh [NUM_CLIENTS]          (default 3)
#   tests/unit/testdata/capture.sh --check-initiator BIN  (see below)
#
# Lab: two network namespaces joined by a veth pair. The "gw" namespace runs wireguard-go as
# the responder with no peers (it only has to receive); the "cl" namespace runs wireguard-go
# as the initiator with the gateway as its peer. For each client key pair the client is
# given that private key and sends a UDP packet through the tunnel, which sends one initiation; tcpdump
# on the gateway's veth records it. Output, one block per initiation:
#
#   responder_private <base64>     the gateway's key (same for every block)
#   client_public <base64>         the key the initiation must decrypt to
#   captured_at <unix seconds>     TAI64N in the message must be close to this
#   initiation <296 hex digits>    the 148-byte UDP payload
#
# --check-initiator BIN: instead, checks the test-side initiator (tests/unit/wg_initiator.h)
# against wireguard-go: BIN --emit-initiation CLIENT_PRIV RESPONDER_PUB must print the hex of
# an initiation; it is sent to a wireguard-go gateway that has the client as a peer, and the
# check passes if the gateway answers with a handshake response (type 2, 92 bytes).
# (BIN is build/unit/test_noise.) CAPTURE_DEBUG=1 copies the work directory (keys, pcap,
# wireguard-go logs) to /tmp/capture-debug when the script ends.
#
# wireguard-go's UAPI socket path (/var/run/wireguard/<if>.sock) is global, not per
# namespace, so the interface names carry this script's PID.
set -eu
umask 077

OUT_DIR=$(cd "$(dirname "$0")" && pwd)
N=3
CHECK_BIN=
if [ "${1:-}" = --check-initiator ]; then
	CHECK_BIN=$(realpath "$2")
elif [ -n "${1:-}" ]; then
	N=$1
fi

for c in wireguard-go wg tcpdump ip; do
	command -v $c >/dev/null || { echo "capture.sh: $c not found" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "capture.sh: must run as root (netns, tun)" >&2; exit 1; }

TAG=$$
NS_GW=wgxcap-gw-$TAG
NS_CL=wgxcap-cl-$TAG
IF_GW=wgxg$TAG
IF_CL=wgxc$TAG
TMP=$(mktemp -d)
PIDS=()

cleanup() {
	set +e
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ip netns del "$NS_GW" 2>/dev/null
	ip netns del "$NS_CL" 2>/dev/null
	rm -f "/var/run/wireguard/$IF_GW.sock" "/var/run/wireguard/$IF_CL.sock"
	rm -rf "$TMP"
}
trap cleanup EXIT
[ -n "${CAPTURE_DEBUG:-}" ] && trap "cp -r \"\$TMP\" /tmp/capture-debug; cleanup" EXIT

ip netns add "$NS_GW"
ip netns add "$NS_CL"
ip link add veth-gw netns "$NS_GW" type veth peer name veth-cl netns "$NS_CL"
ip -n "$NS_GW" addr add 10.99.0.1/24 dev veth-gw
ip -n "$NS_CL" addr add 10.99.0.2/24 dev veth-cl
ip -n "$NS_GW" link set veth-gw up
ip -n "$NS_CL" link set veth-cl up
ip -n "$NS_GW" link set lo up
ip -n "$NS_CL" link set lo up

start_wg() {	# ns ifname
	WG_PROCESS_FOREGROUND=1 ip netns exec "$1" wireguard-go "$2" >"$TMP/$2.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 50); do
		[ -S "/var/run/wireguard/$2.sock" ] && return 0
		sleep 0.1
	done
	echo "capture.sh: wireguard-go $2 did not start: $(cat "$TMP/$2.log")" >&2
	exit 1
}
start_wg "$NS_GW" "$IF_GW"
start_wg "$NS_CL" "$IF_CL"

wg genkey >"$TMP/gw.key"
GW_PUB=$(wg pubkey <"$TMP/gw.key")
ip netns exec "$NS_GW" wg set "$IF_GW" private-key "$TMP/gw.key" listen-port 51820
ip -n "$NS_GW" addr add 10.200.0.1/24 dev "$IF_GW"
ip -n "$NS_GW" link set "$IF_GW" up
ip -n "$NS_CL" addr add 10.200.0.2/24 dev "$IF_CL"
ip -n "$NS_CL" link set "$IF_CL" up

# Prints the UDP payloads of the captured WireGuard initiations in FILE as hex, one a line.
initiations_hex() {
	tcpdump -r "$1" -nn -x 2>/dev/null | awk '
		function flush() {
			if (hex != "") {
				ihl = (index("0123456789abcdef", substr(hex, 2, 1)) - 1) * 4
				p = substr(hex, (ihl + 8) * 2 + 1)
				if (length(p) == 296 && substr(p, 1, 8) == "01000000")
					print p
			}
			hex = ""
		}
		/^[0-9]/ { flush(); next }
		/^\t0x/ { for (i = 2; i <= NF; i++) hex = hex $i }
		END { flush() }'
}

if [ -n "$CHECK_BIN" ]; then
	wg genkey >"$TMP/cl.key"
	CL_PUB=$(wg pubkey <"$TMP/cl.key")
	ip netns exec "$NS_GW" wg set "$IF_GW" peer "$CL_PUB" allowed-ips 10.200.0.2/32
	msg=$("$CHECK_BIN" --emit-initiation "$(cat "$TMP/cl.key")" "$GW_PUB")
	[ ${#msg} = 296 ] || { echo "capture.sh: $CHECK_BIN printed no initiation" >&2; exit 1; }
	ip netns exec "$NS_GW" tcpdump -i veth-gw -nn -U -w "$TMP/check.pcap" udp 2>/dev/null &
	PIDS+=($!)
	sleep 1
	# Send from the client namespace, 10.99.0.2:40000, with bash's /dev/udp.
	ip netns exec "$NS_CL" bash -c \
		"exec 3<>/dev/udp/10.99.0.1/51820; printf '$(echo "$msg" | sed 's/../\\x&/g')' >&3"
	sleep 1
	kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
	if tcpdump -r "$TMP/check.pcap" -nn 2>/dev/null | grep -q '10.99.0.1.51820 > .*UDP, length 92'; then
		echo "capture.sh: wireguard-go answered the test initiator's initiation (92-byte response)"
		exit 0
	fi
	echo "capture.sh: wireguard-go did not answer the test initiator's initiation:" >&2
	tcpdump -r "$TMP/check.pcap" -nn 2>/dev/null >&2
	exit 1
fi

ip netns exec "$NS_GW" tcpdump -i veth-gw -nn -U -w "$TMP/cap.pcap" udp port 51820 2>/dev/null &
TCPDUMP=$!
PIDS+=($TCPDUMP)
sleep 1

out="$OUT_DIR/initiations-wggo.txt"
{
	echo "# Real WireGuard handshake initiations, sent by $(wireguard-go --version | head -1)"
	echo "# on $(date -u +%Y-%m-%dT%H:%M:%SZ); regenerate with capture.sh in this directory."
	echo "responder_private $(cat "$TMP/gw.key")"
	echo "responder_public $GW_PUB"
} >"$TMP/out.txt"

for i in $(seq "$N"); do
	wg genkey >"$TMP/cl$i.key"
	pub=$(wg pubkey <"$TMP/cl$i.key")
	# A new private key drops the old sessions: the next packet starts a new handshake.
	ip netns exec "$NS_CL" wg set "$IF_CL" private-key "$TMP/cl$i.key" \
		peer "$GW_PUB" endpoint 10.99.0.1:51820 allowed-ips 10.200.0.0/24
	# Any packet into the tunnel starts a handshake (bash /dev/udp: no ping needed).
	ip netns exec "$NS_CL" bash -c "echo x >/dev/udp/10.200.0.1/9"
	sleep 0.5
	echo "$pub $(date +%s)" >>"$TMP/clients.txt"
done
sleep 1
kill $TCPDUMP; wait $TCPDUMP 2>/dev/null || true

# The client sends one initiation per key (its retry comes after 5 s); take the first per key
# in order: a key's initiations all come before the next key's.
mapfile -t msgs < <(initiations_hex "$TMP/cap.pcap")
mapfile -t clients <"$TMP/clients.txt"
if [ ${#msgs[@]} -lt "$N" ]; then
	echo "capture.sh: captured ${#msgs[@]} initiations, expected $N" >&2
	exit 1
fi
[ ${#msgs[@]} = "$N" ] || echo "capture.sh: note: ${#msgs[@]} initiations for $N clients" >&2
for i in $(seq 0 $((N - 1))); do
	set -- ${clients[$i]}
	{
		echo
		echo "client_public $1"
		echo "captured_at $2"
		echo "initiation ${msgs[$i]}"
	} >>"$TMP/out.txt"
done
cp "$TMP/out.txt" "$out"
echo "capture.sh: wrote $N initiations to $out"
