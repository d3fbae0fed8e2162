#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Fetches and caches a Debian kernel image for the QEMU lab, and prints "KVER DIR":
# DIR/boot/vmlinuz-KVER and DIR/lib/modules/KVER (depmod'ed).
#   tests/vm/kernel.sh 6.1     bookworm's default kernel (meta package linux-image-amd64)
#   tests/vm/kernel.sh 6.12    linux-image-6.12-amd64 (generic flavour: -cloud- has no 9p)
# Versions rotate in the archive, so the image is resolved through its meta package each run;
# with no archive at hand the last image fetched for that series is used.
# Cache: tests/vm/cache/kernels/ (WGXDP_VM_CACHE overrides tests/vm/cache).
set -euo pipefail

series=${1:?usage: kernel.sh SERIES (6.1, 6.12, ...)}
here=$(cd "$(dirname "$0")" && pwd)
cache=${WGXDP_VM_CACHE:-$here/cache}/kernels
mkdir -p "$cache"

log() { printf 'kernel.sh: %s\n' "$*" >&2; }

# The versioned image package that META's candidate version depends on.
meta_depends() {
	apt-cache show --no-all-versions "$1" 2>/dev/null |
		sed -n 's/^Depends: *//p' | tr ',' '\n' | sed 's/^ *//; s/ .*//' |
		grep -E '^linux-image-[0-9]' | grep -vE -- '-(cloud|rt)-' | head -n1
}

resolve() {
	local pkg
	for meta in "linux-image-$series-amd64" linux-image-amd64; do
		pkg=$(meta_depends "$meta") || true
		case $pkg in
		"linux-image-$series".*-amd64 | "linux-image-$series"-*-amd64) echo "$pkg"; return 0 ;;
		esac
	done
	return 1
}

pkg=$(resolve) || pkg=
if [ -z "$pkg" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	log "no package for $series in the apt lists: apt-get update"
	apt-get update -qq >&2 || true
	pkg=$(resolve) || pkg=
fi
if [ -z "$pkg" ]; then
	if [ -s "$cache/$series.current" ]; then
		log "cannot resolve $series through apt: using the cached $(cat "$cache/$series.current")"
		pkg=$(cat "$cache/$series.current")
	else
		log "cannot resolve a Debian kernel for $series (no meta package linux-image-$series-amd64 or linux-image-amd64 pointing at $series)"
		exit 1
	fi
fi

kver=${pkg#linux-image-}
dir=$cache/$pkg
# Another run may be fetching the same image.
exec 9>"$cache/.lock"
flock 9
if [ ! -e "$dir/.ok" ]; then
	start=$SECONDS
	rm -rf "$dir" "$dir.dl"
	mkdir -p "$dir.dl"
	log "fetching $pkg"
	# apt's _apt user cannot write into most directories: download where it can.
	chmod 0777 "$dir.dl"
	(cd "$dir.dl" && apt-get download -q "$pkg" >&2 2>&1) ||
		{ log "apt-get download $pkg failed"; exit 1; }
	mkdir -p "$dir"
	dpkg-deb -x "$dir.dl"/*.deb "$dir"
	rm -rf "$dir.dl"
	[ -e "$dir/boot/vmlinuz-$kver" ] || { log "$pkg has no boot/vmlinuz-$kver"; exit 1; }
	[ -d "$dir/lib/modules/$kver" ] || { log "$pkg has no lib/modules/$kver"; exit 1; }
	depmod -b "$dir" "$kver"
	touch "$dir/.ok"
	log "$pkg fetched and unpacked in $((SECONDS - start)) s"
fi
echo "$pkg" > "$cache/$series.current"
echo "$kver $dir"
