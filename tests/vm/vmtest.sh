#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# The QEMU kernel lab: boots Debian kernels (with the real WireGuard module) under QEMU and runs
# one script as root inside each, with the host root shared read-only and the repo read-write
# at its own path, so the guest runs what the host built.
#   tests/vm/vmtest.sh [--kernels "6.1 6.12"] [--timeout SEC] -- SCRIPT [ARGS...]
# SCRIPT is relative to the repo (or absolute under it). Exit 0 when SCRIPT passed on every
# kernel. The console log of each kernel is kept in build/vm/<kernel>.log and its tail printed
# on failure.
# The last kernel of the list runs every integration scenario marked vm; the others run
# test_progs (every program loads and passes there too) and the scenarios that also say
# "# vm: every kernel" (kernel WireGuard, tc, the dispatcher, just-in-time peers): the rest
# exercises nothing that differs between kernels. WGXDP_VM_SCOPE=all runs everything on every
# kernel.
# Environment: WGXDP_VM_TIMEOUT (seconds per kernel, default 3800: see below), WGXDP_VM_MEM (MiB, 2048),
# WGXDP_VM_SMP (2), WGXDP_VM_ACCEL (tcg; kvm where nested KVM works), WGXDP_VM_CACHE.
# CI, V and every WGXDP_* / LIBXDP_* / LIBBPF_* variable are passed to the guest script.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
kernels="6.1 6.12"
# Per kernel, boot to power-off. Measured (2 cores, TCG, a CPU hog on one core, other work and
# at times a second vmtest beside it): 6.1 took 1490 s for the whole guest-suite (jit_scale
# 347 s, uplink_wg 221 s, jit_peers 209 s, wgdev_netlink 188 s, uplink_errors 130 s, jit_bad
# 126 s, jit_api 108 s, uplink_share 72 s, vm_kernel_wg 54 s). 3800 s is about 2.5 times that;
# a run that needs more has a problem worth seeing.
timeout_s=${WGXDP_VM_TIMEOUT:-3800}

usage() { echo "usage: $0 [--kernels \"6.1 6.12\"] [--timeout SEC] -- SCRIPT [ARGS...]" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--kernels) kernels=$2; shift 2 ;;
	--kernels=*) kernels=${1#*=}; shift ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--) shift; break ;;
	-h | --help) usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
script=$1; shift
case $script in /*) ;; *) script=$repo/$script ;; esac
[ -f "$script" ] || { echo "vmtest: no script $script" >&2; exit 2; }
case $script in "$repo"/*) ;; *) echo "vmtest: $script is not under $repo" >&2; exit 2 ;; esac
# The kernel command line takes no quotes: the paths it carries must be plain.
case $repo in *[!A-Za-z0-9/._+-]*) echo "vmtest: the repo path '$repo' has characters the kernel command line cannot carry" >&2; exit 2 ;; esac

# --- host tools -------------------------------------------------------------------------
busybox_static() {
	[ -x /bin/busybox ] || return 1
	case $(ldd /bin/busybox 2>&1) in *'not a dynamic'*) return 0 ;; esac
	return 1
}
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
busybox_static || missing+=(busybox-static)
command -v cpio >/dev/null || missing+=(cpio)
command -v depmod >/dev/null || missing+=(kmod)
command -v xz >/dev/null || missing+=(xz-utils)
command -v zstd >/dev/null || missing+=(zstd)
if [ ${#missing[@]} -gt 0 ]; then
	sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	if command -v apt-get >/dev/null &&
		{ [ "$(id -u)" = 0 ] || { [ "${CI:-}" = true ] && command -v sudo >/dev/null; }; }; then
		echo "vmtest: installing ${missing[*]}"
		$sudo apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
				"${missing[@]}" >/dev/null ||
			{ echo "vmtest: could not install ${missing[*]}" >&2; exit 1; }
	else
		echo "vmtest: the VM tier needs ${missing[*]}: sudo apt-get install --no-install-recommends ${missing[*]} (or run tools/deps.sh)" >&2
		exit 1
	fi
fi

accel=${WGXDP_VM_ACCEL:-tcg}
case $accel in
kvm) cpu=host ;;
*) cpu=max ;;
esac

vmdir=$repo/build/vm
mkdir -p "$vmdir"

now() { echo "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The script the guest's init runs in the chroot: environment, modules, then SCRIPT.
write_run() {
	local run=$1 scope=$2 v
	shift
	{
		echo '#!/bin/bash'
		# The system's tools, not a developer's PATH (pyenv shims and the like need $HOME);
		# first the modprobe of the unpacked kernel's modules (tests/vm/init).
		echo 'export PATH=/run/wgxdp-vm/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
		echo 'export HOME=/tmp TERM=dumb LANG=C.UTF-8 WG_COLOR_MODE=never WGXDP_TIER=vm'
		printf 'export WGXDP_VM_SCOPE=%q\n' "$scope"
		for v in $(compgen -e); do
			case $v in
			WGXDP_VM_* | WGXDP_TIER) ;;
			CI | V | WGXDP_* | LIBXDP_* | LIBBPF_*) printf 'export %s=%q\n' "$v" "${!v}" ;;
			esac
		done
		printf 'cd %q || exit 125\n' "$repo"
		echo 'echo "kernel: $(uname -r) ($(uname -v))"'
		echo 'for m in wireguard veth tun sch_ingress cls_bpf act_bpf; do'
		echo '	modprobe "$m" || echo "vmtest: modprobe $m failed"'
		echo 'done'
		printf 'exec %q' "$script"
		[ $# -gt 2 ] && printf ' %q' "${@:3}"
		echo
	} >"$run"
}

# One VM at a time on this machine: concurrent runs would share build/vm/<kernel>.log and
# starve each other's software-emulated CPUs.
exec 8>"$vmdir/.lock"
if ! flock -n 8; then
	echo "vmtest: another vmtest is running here: waiting for it"
	flock 8
fi

trap 'rm -f "$vmdir"/*."$$".run "$vmdir"/*."$$".run.rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

declare -A result steps
failed=0
for k in $kernels; do
	log=$vmdir/$k.log
	: >"$log"
	echo "== vm $k"
	t0=$(now)
	if ! kinfo=$("$here/kernel.sh" "$k" 2> >(tee -a "$log" >&2)); then
		echo "FAIL vm $k: no kernel (see above)"
		result[$k]="FAIL (no kernel)"; failed=1; continue
	fi
	read -r kver kdir <<<"$kinfo"
	echo "vm $k: kernel package ready in $(elapsed "$t0") s: $kdir"
	if ! initrd=$("$here/initramfs.sh" "$kver" "$kdir" 2> >(tee -a "$log" >&2)); then
		echo "FAIL vm $k: no initramfs"
		result[$k]="FAIL (no initramfs)"; failed=1; continue
	fi
	case $kdir in *[!A-Za-z0-9/._+-]*) echo "FAIL vm $k: odd path $kdir"; failed=1; continue ;; esac

	run=$vmdir/$k.$$.run
	rm -f "$run.rc"
	scope=${WGXDP_VM_SCOPE:-}
	[ -n "$scope" ] || { [ "$k" = "${kernels##* }" ] && scope=all || scope=every; }
	echo "vm $k: scenarios: $scope"
	write_run "$run" "$scope" "$script" "$@"
	t1=$(now)
	up=
	rm -f "$vmdir/$k.steps"
	# --foreground: QEMU stays in our process group, so Ctrl-C or killing us stops it too.
	timeout --foreground -k 10 "$timeout_s" qemu-system-x86_64 \
		-accel "$accel" -cpu "$cpu" -smp "${WGXDP_VM_SMP:-2}" -m "${WGXDP_VM_MEM:-2048}" \
		-nographic -no-reboot -nic none \
		-kernel "$kdir/boot/vmlinuz-$kver" -initrd "$initrd" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$repo,mount_tag=repo,security_model=none,multidevs=remap" \
		-append "console=ttyS0 quiet panic=-1 rdinit=/init mitigations=off wgxdp_repo=$repo wgxdp_kroot=$kdir wgxdp_run=$run" \
		</dev/null 2>&1 |
		while IFS= read -r line || [ -n "$line" ]; do
			line=${line//$'\r'/}
			printf '%s\n' "$line" >>"$log"
			case $line in
			*WGXDP-VM-UP*) up=1; echo "vm $k: guest up in $(elapsed "$t1") s (guest uptime ${line#*WGXDP-VM-UP } s)"
				echo "boot: guest up in $(elapsed "$t1") s" >>"$vmdir/$k.steps" ;;
			WGXDP-VM-EXIT* | *'reboot: Power down') ;;
			*) [ -n "$up" ] && printf '  %s\n' "$line" ;;
			esac
		done
	qrc=${PIPESTATUS[0]}
	secs=$(elapsed "$t1")
	# The result line of each step the guest ran (each says how long it took), for the summary.
	steps[$k]=$( { cat "$vmdir/$k.steps" 2>/dev/null
		grep -aE '^(ok   |FAIL |skip )[^ ]+ \(.*s\)$|^guest-suite total' "$log"; } | sed 's/^/    /')
	rm -f "$vmdir/$k.steps"
	if [ -s "$run.rc" ]; then
		rc=$(cat "$run.rc")
	elif grep -q '^WGXDP-VM-EXIT ' "$log"; then
		rc=$(sed -n 's/^WGXDP-VM-EXIT //p' "$log" | tail -n1)
	elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		rc="timeout after ${timeout_s} s"
	else
		rc="no exit status (qemu exit $qrc)"
	fi
	rm -f "$run" "$run.rc"
	if [ "$rc" = 0 ]; then
		echo "ok   vm $k ($kver) in $secs s"
		result[$k]="ok ($kver, $secs s)"
	else
		echo "FAIL vm $k ($kver): $rc, in $secs s; last 150 lines of $log:"
		tail -n 150 "$log" | sed 's/^/  | /'
		result[$k]="FAIL ($kver: $rc)"
		failed=1
	fi
done

echo
for k in $kernels; do
	echo "vm $k: ${result[$k]:-not run}"
	[ -n "${steps[$k]:-}" ] && printf '%s\n' "${steps[$k]}"
done
exit $failed
