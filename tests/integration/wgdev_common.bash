# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# shellcheck shell=bash
# The body of wgdev_uapi.sh (wireguard-go, host) and wgdev_netlink.sh (kernel WireGuard, VM):
# loader/wgdev through build/unit/wgdev_tool against a real WireGuard interface, every result
# checked against what `wg show` says. The caller sets WGXDP_WG_IMPL (go | kernel) and
# WGDEV_BACKEND (uapi | netlink). No "tiers:" line: tests/run.sh does not run this file itself.
# shellcheck source=tests/lib/prelude.sh
. "$(dirname "$0")/../lib/prelude.sh" strict wg python3
TOOL=${WGXDP_WGDEV_TOOL:-$PWD/build/unit/wgdev_tool}
if [ ! -x "$TOOL" ]; then
	[ "${CI:-}" = true ] && lab_fail "no $TOOL (make)"
	lab_skip "no $TOOL (make)"
fi

lab_netns g
ifname=${LAB_ID}g
key=$(lab_genkey)
lab_wg g "$ifname" "$key" 51820 10.200.0.1/24
[ "$LAB_WG_IMPL" = "$WGXDP_WG_IMPL" ] || lab_fail "lab gave $LAB_WG_IMPL WireGuard, not $WGXDP_WG_IMPL"
echo "wireguard: $LAB_WG_IMPL ($ifname)"

tool() { lab_nsenter g "$TOOL" "$@"; }
say() { printf '%s (%ds)\n' "$*" "$SECONDS"; }
wgs() { lab_nsenter g wg "$@"; }
# Peer lines as key, psk, endpoint, sorted allowed IPs, keepalive; sorted. Reads `wg show
# dump` peer lines (8 fields), the tool's (the same) and its input (5 fields).
norm() {
	python3 -c '
import sys
for line in sys.stdin:
    f = line.rstrip("\n").split("\t")
    print("\t".join([f[0], f[1], f[2], ",".join(sorted(f[3].split(","))), f[-1]]))
' | sort
}
peers_wg() { wgs show "$ifname" dump | tail -n +2 | norm; }
peers_tool() { tool show "$ifname" | tail -n +2 | norm; }
# expect FILE WHAT: the interface holds exactly the peers of FILE, as wg and as we read it.
# (Files, not <(...): the QEMU guest has no /dev/fd.)
expect() {
	norm <"$1" >"$LAB_TMP/expected"
	peers_wg >"$LAB_TMP/wg"
	peers_tool >"$LAB_TMP/wgdev" || lab_fail "$2: show $ifname"
	diff -u "$LAB_TMP/expected" "$LAB_TMP/wg" ||
		lab_fail "$2: wg show differs from what was set (- expected, + wg)"
	diff -u "$LAB_TMP/wg" "$LAB_TMP/wgdev" ||
		lab_fail "$2: wgdev reads differently from wg show (- wg, + wgdev)"
}

# The backend, by the interface's kind, in this namespace only.
got=$(tool backend "$ifname") || lab_fail "backend $ifname"
[ "$got" = "$WGDEV_BACKEND" ] || lab_fail "backend of $ifname: $got, expected $WGDEV_BACKEND"
if err=$("$TOOL" backend "$ifname" 2>&1); then
	lab_fail "backend of $ifname outside its namespace: $err (expected no such device)"
fi
case $err in *"No such device"*) ;; *) lab_fail "outside its namespace: '$err', expected No such device" ;; esac
lab_nsenter g ip tuntap add dev "${LAB_ID}t" mode tun || lab_fail "ip tuntap add"
if err=$(tool backend "${LAB_ID}t" 2>&1); then lab_fail "a plain tun device taken for WireGuard: $err"; fi
case $err in *"not supported"*) ;; *) lab_fail "plain tun: '$err', expected Operation not supported" ;; esac
say "backend: $got; per namespace; a plain tun is refused"

# The device: keys and port as wg reports them.
dev=$(tool show "$ifname") || lab_fail "show $ifname"
read -r priv pub port <<<"$dev"
[ "$priv" = "$(wgs show "$ifname" private-key)" ] || lab_fail "private key $priv, wg says otherwise"
[ "$pub" = "$(wgs show "$ifname" public-key)" ] || lab_fail "public key $pub, wg says $(wgs show "$ifname" public-key)"
[ "$pub" = "$(lab_pubkey "$key")" ] || lab_fail "public key $pub is not that of the private key"
[ "$port" = 51820 ] || lab_fail "listen port $port, expected 51820"
[ "$(wc -l <<<"$dev")" = 1 ] || lab_fail "a new interface with peers"
say "device: private key, public key and port match wg show"

p1=$(lab_pubkey "$(lab_genkey)"); p2=$(lab_pubkey "$(lab_genkey)"); p3=$(lab_pubkey "$(lab_genkey)")
s1=$(wg genpsk); s3=$(wg genpsk)
T=$LAB_TMP
{
	printf '%s\t%s\t192.0.2.1:51001\t10.201.0.1/32,fd00:201::1/128\t25\n' "$p1" "$s1"
	printf '%s\t(none)\t[2001:db8::2]:51002\t10.201.0.2/32\toff\n' "$p2"
	printf '%s\t%s\t192.0.2.3:51003\t10.201.0.3/32,10.202.0.0/16\toff\n' "$p3" "$s3"
} >"$T/three"
tool set "$ifname" <"$T/three" || lab_fail "set 3 peers"
expect "$T/three" "3 peers added"
say "3 peers added: keys, psk, v4/v6 endpoints, allowed IPs, keepalive as set"

echo "$p2" | tool remove "$ifname" || lab_fail "remove p2"
grep -v "^$p2" "$T/three" >"$T/two"
expect "$T/two" "p2 removed"
say "1 peer removed, the others untouched"
lab_pubkey "$(lab_genkey)" | tool remove "$ifname" || lab_fail "removing a key the interface does not have"
expect "$T/two" "unknown key removed"
say "removing an unknown key is no error and changes nothing"

# Update: p1's psk removed, endpoint moved (to v6), allowed IPs replaced, keepalive off; p3's
# keepalive on, with neither psk nor endpoint given ("-", "(none)"): it keeps those it has.
{
	printf '%s\t(none)\t[2001:db8::1]:4000\t10.209.0.1/32\toff\n' "$p1"
	printf '%s\t-\t(none)\t10.201.0.3/32,10.202.0.0/16\t10\n' "$p3"
} >"$T/update"
tool set "$ifname" <"$T/update" || lab_fail "update"
awk -F'\t' -v OFS='\t' -v p="$p3" -v s="$s3" '$1 == p { $2 = s; $3 = "192.0.2.3:51003" } 1' \
	"$T/update" >"$T/updated"
expect "$T/updated" "2 peers updated"
say "2 peers updated: psk removed, endpoint, allowed IPs replaced, keepalive; psk and endpoint kept when not given"

# One peer with 3000 allowed IPs: more than one netlink message holds, both ways.
ips=$(python3 -c 'print(",".join("10.%d.%d.%d/32" % (210 + i // 65536, i // 256 % 256, i % 256) for i in range(3000)))')
big=$(lab_pubkey "$(lab_genkey)")
printf '%s\t(none)\t(none)\t%s\toff\n' "$big" "$ips" >"$T/big"
tool set "$ifname" <"$T/big" 2>>"$T/times" || lab_fail "set a peer with 3000 allowed IPs"
n=$(wgs show "$ifname" allowed-ips | awk -v p="$big" '$1 == p { print NF - 1 }')
[ "$n" = 3000 ] || lab_fail "the big peer has $n allowed IPs, expected 3000"
cat "$T/updated" "$T/big" >"$T/with_big"
expect "$T/with_big" "peer with 3000 allowed IPs"
say "a peer with 3000 allowed IPs set and read back whole"

# 2000 peers in one call.
tool gen 2000 >"$T/many" || lab_fail "gen"
tool set "$ifname" <"$T/many" 2>>"$T/times" || lab_fail "set 2000 peers"
n=$(wgs show "$ifname" peers | wc -l)
[ "$n" = 2003 ] || lab_fail "$n peers after adding 2000 to 3, expected 2003"
cat "$T/with_big" "$T/many" >"$T/all"
expect "$T/all" "2000 peers added"
say "2000 peers added in one call, all as set"

cut -f1 "$T/many" | tool remove "$ifname" 2>>"$T/times" || lab_fail "remove 2000 peers"
expect "$T/with_big" "2000 peers removed"
say "2000 peers removed in one call, the others untouched"
sed 's/^/  /' "$T/times"
