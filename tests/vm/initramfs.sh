#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Builds (and caches) the QEMU lab's initramfs for one unpacked kernel and prints its path:
#   tests/vm/initramfs.sh KVER KDIR
# Contents: busybox-static, tests/vm/init, and the modules needed to mount the host over 9p
# (virtio_pci, 9pnet_virtio, 9p and their dependencies, decompressed, in insertion order).
set -euo pipefail

kver=${1:?usage: initramfs.sh KVER KDIR}
kdir=${2:?usage: initramfs.sh KVER KDIR}
here=$(cd "$(dirname "$0")" && pwd)
cache=${WGXDP_VM_CACHE:-$here/cache}/initrd
busybox=${BUSYBOX:-/bin/busybox}

case $(ldd "$busybox" 2>&1) in
*'not a dynamic'*) ;;
*) echo "initramfs.sh: $busybox is not statically linked (apt-get install busybox-static)" >&2; exit 1 ;;
esac

key=$( { cat "$here/init" "$0" "$busybox"; echo "$kver"; } | sha256sum | cut -c1-16)
out=$cache/$kver-$key.cpio.gz
if [ -s "$out" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$cache"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,dev,proc,sys,newroot,modules}
cp "$busybox" "$tmp/bin/busybox"
install -m 0755 "$here/init" "$tmp/init"

n=0
: >"$tmp/modules/order"
for m in virtio_pci 9pnet_virtio 9p; do
	modprobe -d "$kdir" -S "$kver" --show-depends "$m"
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r ko; do
	n=$((n + 1))
	name=$(printf '%02d-%s' "$n" "$(basename "$ko")")
	case $ko in
	*.xz) name=${name%.xz}; xz -dc "$ko" >"$tmp/modules/$name" ;;
	*.zst) name=${name%.zst}; zstd -qdc "$ko" >"$tmp/modules/$name" ;;
	*.gz) name=${name%.gz}; gzip -dc "$ko" >"$tmp/modules/$name" ;;
	*) cp "$ko" "$tmp/modules/$name" ;;
	esac
	echo "$name" >>"$tmp/modules/order"
done
grep -q 9p "$tmp/modules/order" || { echo "initramfs.sh: no 9p modules in $kdir" >&2; exit 1; }

rm -f "$cache/$kver"-*.cpio.gz
(cd "$tmp" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
