#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Build and test dependencies on Debian/Ubuntu.
#   tools/deps.sh --check       silent and exit 0 when everything needed to build is here; else
#                               one line naming what is missing and how to get it, exit 1
#   tools/deps.sh --check-test  the same for the test dependencies (host and VM tiers)
#   tools/deps.sh               installs whatever is missing (build and test) with apt-get when
#                               root; otherwise prints the one-line command
set -uo pipefail

mode=install
case ${1:-} in
--check) mode=check ;;
--check-test) mode=check-test ;;
'') ;;
-h | --help) sed -n '3,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) echo "usage: $0 [--check | --check-test]" >&2; exit 2 ;;
esac

missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }

# bpftool is its own package on Debian (bookworm on) and part of linux-tools on Ubuntu.
bpftool_pkg() {
	if [ -r /etc/os-release ] && grep -q '^ID=ubuntu' /etc/os-release &&
		! apt-cache show bpftool >/dev/null 2>&1; then
		echo "linux-tools-common linux-tools-generic"
	else
		echo bpftool
	fi
}

check_build() {
	local pc
	need_cmd clang clang
	need_cmd llvm-strip llvm
	need_cmd make make
	need_cmd gcc gcc
	if ! command -v pkg-config >/dev/null 2>&1; then
		missing+=(pkg-config libbpf-dev libxdp-dev libelf-dev zlib1g-dev libmnl-dev
			libjansson-dev libssl-dev libmicrohttpd-dev libncurses-dev
			libcurl4-openssl-dev)
	elif ! pkg-config --exists libbpf libxdp libelf zlib libmnl jansson libcrypto \
		libmicrohttpd libcurl 2>/dev/null; then
		for pc in libbpf:libbpf-dev libxdp:libxdp-dev libelf:libelf-dev zlib:zlib1g-dev \
			libmnl:libmnl-dev jansson:libjansson-dev libcrypto:libssl-dev \
			libmicrohttpd:libmicrohttpd-dev libcurl:libcurl4-openssl-dev; do
			pkg-config --exists "${pc%%:*}" 2>/dev/null || missing+=("${pc#*:}")
		done
	fi
	# wgxdp top: ncursesw or ncurses (Debian's libncurses-dev has both)
	if command -v pkg-config >/dev/null 2>&1 && ! pkg-config --exists ncursesw 2>/dev/null &&
		! pkg-config --exists ncurses 2>/dev/null; then
		missing+=(libncurses-dev)
	fi
	if ! command -v bpftool >/dev/null 2>&1; then
		read -ra bt <<<"$(bpftool_pkg)"
		missing+=("${bt[@]}")
	fi
}

busybox_static() {
	[ -x /bin/busybox ] || return 1
	case $(ldd /bin/busybox 2>&1) in *'not a dynamic'*) return 0 ;; esac
	return 1
}

check_test() {
	need_cmd ip iproute2
	need_cmd nsenter util-linux
	need_cmd wireguard-go wireguard-go
	need_cmd wg wireguard-tools
	need_cmd xdp-loader xdp-tools
	need_cmd tcpdump tcpdump
	need_cmd openssl openssl		# the peer API tests' CA and certificates
	need_cmd python3 python3
	need_cmd curl curl
	need_cmd promtool prometheus		# promtool check metrics (tests/integration/metrics.sh)
	need_cmd systemd-analyze systemd	# systemd-analyze verify (tests/integration/install.sh)
	need_cmd man man-db			# ... which looks up Documentation=man:wgxdp(8)
	need_cmd logrotate logrotate
	need_cmd ping iputils-ping
	need_cmd sysctl procps
	need_cmd setpriv util-linux
	need_cmd qemu-system-x86_64 qemu-system-x86
	busybox_static || missing+=(busybox-static)
	need_cmd cpio cpio
	need_cmd depmod kmod
	need_cmd xz xz-utils
	need_cmd zstd zstd
}

case $mode in
check) check_build ;;
check-test) check_test ;;
install) check_build; check_test ;;
esac
[ ${#missing[@]} -eq 0 ] && exit 0

# Unique, in order.
pkgs=$(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++' | tr '\n' ' ')
pkgs=${pkgs% }
if ! command -v apt-get >/dev/null 2>&1; then
	echo "missing: $pkgs (Debian/Ubuntu package names; install them with your distribution's tools)" >&2
	exit 1
fi
# --no-install-recommends: wireguard-tools recommends a kernel image.
cmd="apt-get install -y --no-install-recommends $pkgs"
if [ "$mode" != install ]; then
	echo "missing: $pkgs; get them with: sudo $cmd (or: sudo make deps)" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "missing: $pkgs; run: sudo apt-get update && sudo $cmd" >&2
	exit 1
fi
echo "deps: installing $pkgs"
apt-get update -qq || { echo "deps: apt-get update failed" >&2; exit 1; }
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkgs ||
	{ echo "deps: apt-get install failed" >&2; exit 1; }
