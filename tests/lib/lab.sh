# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# shellcheck shell=bash disable=SC2034
# The integration tests' lab, sourced by tests/integration/*.sh in both tiers (host: wireguard-go
# on the machine's kernel; vm: the kernel's WireGuard under QEMU). Network namespaces, veth
# pairs, WireGuard interfaces and background processes, all removed on exit whatever happens.
#
#   . tests/lib/lab.sh; lab_init
#   lab_netns a; lab_netns b                      namespaces, named by a short NAME
#   lab_veth a ua b ub                            veth pair ua (in a) <-> ub (in b), up
#   lab_addr a ua 10.0.0.1/24 fd00::1/64          addresses (v4 or v6, no DAD)
#   k=$(lab_genkey); p=$(lab_pubkey "$k")
#   lab_wg a "${LAB_ID}a" "$k" 51820 10.1.0.1/24  WireGuard interface, up; LAB_WG_IMPL says which
#   lab_wg_peer a "${LAB_ID}a" "$p" endpoint 10.0.0.2:51820 allowed-ips 10.1.0.2/32 keepalive 1
#   lab_wait_handshake a "${LAB_ID}a" "$p" 10 || lab_fail "no handshake"
#   lab_nsenter a ping -c1 10.1.0.2               run in a namespace, bpffs pins still visible
#   lab_spawn CMD...; lab_reap "$LAB_PID"         background processes
#   lab_wait_until 30 CMD... || lab_fail "..."    poll CMD until it succeeds (bound in seconds)
#   lab_defer CMD...                              run CMD at cleanup (last deferred runs first)
#   lab_on_fail CMD...                            run CMD first at cleanup when the exit status
#                                                 is a failure (not 0, not 77): a report
#   lab_skip "why" (exit 77), lab_fail "why" (exit 1), lab_require CMD...
#
# WireGuard implementation: the kernel's when `ip link add type wireguard` works, else
# wireguard-go; WGXDP_WG_IMPL=kernel|go forces one. wireguard-go's UAPI socket path is global
# (/var/run/wireguard/IFNAME.sock), so WireGuard interface names must be unique on the machine:
# build them from LAB_ID (at most 15 characters in all).
# `ip netns exec` remounts /sys and hides /sys/fs/bpf; lab_nsenter only changes the network
# namespace, so pins under /sys/fs/bpf stay visible.

export WG_COLOR_MODE=never
export WG_HIDE_KEYS=never

LAB_ID=
LAB_TMP=
LAB_PID=
LAB_WG_IMPL=
_lab_netns=()
_lab_pids=()
_lab_deferred=()
_lab_on_fail=(_lab_report)

lab_log() { printf 'lab: %s\n' "$*" >&2; }
lab_skip() { printf 'SKIP: %s\n' "$*"; exit 77; }
lab_fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# lab_require CMD...: skip the test (saying which) when a command is missing.
lab_require() {
	local c missing=()
	for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
	[ ${#missing[@]} -eq 0 ] || lab_skip "needs ${missing[*]} (tools/deps.sh installs them)"
}

lab_init() {
	[ "$(id -u)" = 0 ] || lab_skip "needs root (network namespaces)"
	lab_require ip nsenter
	# Short and unique: names built from it must fit 15 characters.
	LAB_ID=wx$(printf '%04x' $(( ($$ ^ RANDOM) & 0xffff )))
	LAB_TMP=$(mktemp -d "/tmp/$LAB_ID.XXXXXX")
	trap '_lab_cleanup' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

_lab_cleanup() {
	local rc=$? i pid
	set +e +o pipefail
	trap - EXIT INT TERM HUP
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		printf '\n==== exit %s: the lab as the scenario left it (tests/lib/lab.sh) ====\n' "$rc" >&2
		for i in "${_lab_on_fail[@]}"; do
			eval "$i" >&2 2>&1
		done
		printf '==== end of the report ====\n' >&2
	fi
	for ((i = ${#_lab_deferred[@]} - 1; i >= 0; i--)); do
		eval "${_lab_deferred[i]}" >/dev/null 2>&1
	done
	for pid in "${_lab_pids[@]}"; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	for i in "${_lab_netns[@]}"; do
		ip netns del "$i" 2>/dev/null
	done
	[ -n "$LAB_TMP" ] && rm -rf "$LAB_TMP"
	exit "$rc"
}

# lab_defer CMD [ARGS...]: run at cleanup, before processes and namespaces go.
lab_defer() {
	local q
	printf -v q '%q ' "$@"
	_lab_deferred+=("$q")
}

# lab_on_fail CMD [ARGS...]: run at cleanup after a failure, before anything is torn down; its
# output (stdout and stderr) goes to stderr. tests/lib/wgx.sh adds the daemon's view.
lab_on_fail() {
	local q
	printf -v q '%q ' "$@"
	_lab_on_fail+=("$q")
}

# _lab_report_head TITLE: one heading of the failure report.
_lab_report_head() { printf -- '---- %s\n' "$*"; }

# The lab's part of the failure report: the daemon's log, then per namespace its links and
# each WireGuard interface in it as `wg show` sees it (wireguard-go's UAPI sockets are
# global: only the interfaces that are in the namespace).
_lab_report() {
	local ns name wgs i
	if [ -n "$LAB_TMP" ] && [ -s "$LAB_TMP/run.log" ]; then
		_lab_report_head "daemon log ($LAB_TMP/run.log, last 80 lines)"
		tail -n 80 "$LAB_TMP/run.log"
	fi
	for ns in "${_lab_netns[@]}"; do
		name=${ns#"$LAB_ID"-}
		[ -e "/run/netns/$ns" ] || continue
		_lab_report_head "namespace $name: links"
		nsenter --net="/run/netns/$ns" ip -br addr 2>&1 | head -n 20
		wgs=$( {
			nsenter --net="/run/netns/$ns" ip -o link show 2>/dev/null |
				awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'
			echo --
			nsenter --net="/run/netns/$ns" wg show interfaces 2>/dev/null | tr ' ' '\n'
		} | awk '$0 == "--" { wg = 1; next } !wg { link[$0]; next } $0 in link')
		i=0
		for name in $wgs; do
			i=$((i + 1))
			if [ "$i" -gt 3 ]; then
				echo "(and $(($(wc -w <<<"$wgs") - 3)) more WireGuard interfaces)"
				break
			fi
			_lab_report_head "wg show $name (namespace ${ns#"$LAB_ID"-}, first 40 lines)"
			nsenter --net="/run/netns/$ns" wg show "$name" 2>&1 | head -n 40
		done
	done
}

_lab_ns() { printf '%s-%s' "$LAB_ID" "$1"; }

# lab_netns_names: the NAMEs of the scenario's namespaces, one a line.
lab_netns_names() {
	local ns
	for ns in "${_lab_netns[@]}"; do printf '%s\n' "${ns#"$LAB_ID"-}"; done
}

# lab_ns_path NAME: the namespace's file, for nsenter --net=.
lab_ns_path() { printf '/run/netns/%s' "$(_lab_ns "$1")"; }

lab_netns() {
	local ns
	ns=$(_lab_ns "$1")
	ip netns add "$ns" || lab_fail "ip netns add $ns"
	_lab_netns+=("$ns")
	lab_nsenter "$1" ip link set lo up
}

# lab_nsenter NS CMD...: CMD in the network namespace NS only (unlike `ip netns exec`).
lab_nsenter() {
	local p
	p=$(lab_ns_path "$1"); shift
	nsenter --net="$p" "$@"
}

lab_veth() {
	local ns1=$1 if1=$2 ns2=$3 if2=$4
	ip link add "$if1" netns "$(_lab_ns "$ns1")" type veth peer name "$if2" netns "$(_lab_ns "$ns2")" ||
		lab_fail "veth $if1 ($ns1) <-> $if2 ($ns2)"
	lab_nsenter "$ns1" ip link set "$if1" up
	lab_nsenter "$ns2" ip link set "$if2" up
}

# lab_addr NS IF CIDR...: v4 or v6 addresses (v6 without duplicate address detection).
lab_addr() {
	local ns=$1 ifname=$2 a
	shift 2
	for a in "$@"; do
		case $a in
		*:*) lab_nsenter "$ns" ip -6 addr add "$a" dev "$ifname" nodad ;;
		*) lab_nsenter "$ns" ip addr add "$a" dev "$ifname" ;;
		esac || lab_fail "address $a on $ifname ($ns)"
	done
}
lab_addr4() { lab_addr "$@"; }
lab_addr6() { lab_addr "$@"; }

lab_genkey() { wg genkey; }
lab_pubkey() { printf '%s\n' "$1" | wg pubkey; }

_lab_wg_kernel() {
	lab_nsenter "$1" ip link add "$2" type wireguard 2>/dev/null
}

_lab_wg_go() {
	lab_wg_go_start "$1" "$2"
	lab_wg_go_wait "$2"
}

# lab_wg_go_start NS IFNAME: starts wireguard-go for IFNAME in NS (not waiting for it; many
# start side by side, then lab_wg_go_wait for each). Unconfigured and down: lab_wg does both.
lab_wg_go_start() {
	local ns=$1 ifname=$2 sock=/var/run/wireguard/$2.sock
	lab_require wireguard-go
	[ -e "$sock" ] && lab_fail "$sock exists: WireGuard interface names must be unique (use LAB_ID)"
	# wireguard-go refuses to run where the kernel has WireGuard unless told.
	lab_spawn --log "$LAB_TMP/wireguard-go-$ifname.log" \
		nsenter --net="$(lab_ns_path "$ns")" \
		env WG_PROCESS_FOREGROUND=1 WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
		wireguard-go "$ifname"
}

# lab_wg_go_wait IFNAME: until wireguard-go's UAPI socket for IFNAME is there (60 s at most).
lab_wg_go_wait() {
	local sock=/var/run/wireguard/$1.sock
	lab_wait_until 60 test -S "$sock" && return 0
	cat "$LAB_TMP/wireguard-go-$1.log" >&2
	lab_fail "wireguard-go $1 did not open $sock (within 60 s)"
}

# lab_wg NS IFNAME PRIVKEY LISTENPORT [CIDR...]: a WireGuard interface, configured and up.
lab_wg() {
	local ns=$1 ifname=$2 key=$3 port=$4 impl=${WGXDP_WG_IMPL:-}
	shift 4
	lab_require wg
	[ ${#ifname} -le 15 ] || lab_fail "interface name $ifname is longer than 15 characters"
	case $impl in
	kernel) _lab_wg_kernel "$ns" "$ifname" || lab_skip "no kernel WireGuard here (ip link add type wireguard failed)" ;;
	go) _lab_wg_go "$ns" "$ifname" ;;
	'') if _lab_wg_kernel "$ns" "$ifname"; then impl=kernel; else impl=go; _lab_wg_go "$ns" "$ifname"; fi ;;
	*) lab_fail "WGXDP_WG_IMPL=$impl: kernel or go" ;;
	esac
	LAB_WG_IMPL=$impl
	printf '%s\n' "$key" >"$LAB_TMP/$ifname.key"
	lab_nsenter "$ns" wg set "$ifname" private-key "$LAB_TMP/$ifname.key" listen-port "$port" ||
		lab_fail "wg set $ifname private-key ... listen-port $port"
	[ $# -gt 0 ] && lab_addr "$ns" "$ifname" "$@"
	lab_nsenter "$ns" ip link set "$ifname" up || lab_fail "ip link set $ifname up"
	lab_log "$ifname in $ns: $impl WireGuard, port $port"
}

# lab_wg_peer NS IF PUBKEY [endpoint E] [allowed-ips A] [keepalive N] [psk FILE]
lab_wg_peer() {
	local ns=$1 ifname=$2 pub=$3 args=()
	shift 3
	while [ $# -gt 0 ]; do
		case $1 in
		endpoint) args+=(endpoint "$2") ;;
		allowed-ips) args+=(allowed-ips "$2") ;;
		keepalive) args+=(persistent-keepalive "$2") ;;
		psk) args+=(preshared-key "$2") ;;
		remove) args+=(remove); shift; continue ;;
		*) lab_fail "lab_wg_peer: unknown option $1" ;;
		esac
		shift 2
	done
	lab_nsenter "$ns" wg set "$ifname" peer "$pub" "${args[@]}" ||
		lab_fail "wg set $ifname peer $pub ${args[*]}"
}

# lab_handshake NS IF PUBKEY: the peer's latest handshake (seconds since the epoch, 0 = none).
lab_handshake() {
	lab_nsenter "$1" wg show "$2" latest-handshakes 2>/dev/null |
		awk -v k="$3" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
}

# lab_wait_handshake NS IF PUBKEY TIMEOUT: returns 1 (after saying so) when none in TIMEOUT s.
lab_wait_handshake() {
	local ns=$1 ifname=$2 pub=$3 t=${4:-10} end
	end=$(( $(date +%s) + t ))
	while [ "$(date +%s)" -le "$end" ]; do
		[ "$(lab_handshake "$ns" "$ifname" "$pub")" != 0 ] && return 0
		sleep 0.1
	done
	lab_log "no handshake on $ifname ($ns) with $pub within $t s"
	lab_nsenter "$ns" wg show "$ifname" >&2
	return 1
}

# lab_wait_until TIMEOUT CMD...: polls CMD (every 0.2 s) until it succeeds; 1 when it did not
# within TIMEOUT seconds. Wait for the expected state with a generous bound rather than sleep
# for as long as a step is guessed to take: the VM tier runs under software emulation, beside
# other work.
lab_wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# lab_spawn [--log FILE] CMD...: starts CMD in the background; its pid in LAB_PID, killed and
# reaped at cleanup.
lab_spawn() {
	local out=/dev/null
	if [ "$1" = --log ]; then out=$2; shift 2; fi
	"$@" </dev/null >"$out" 2>&1 &
	LAB_PID=$!
	_lab_pids+=("$LAB_PID")
}

# lab_reap PID: kill it and wait for it; returns its exit status.
lab_reap() {
	local pid=$1 rc i keep=()
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	for i in "${_lab_pids[@]}"; do [ "$i" = "$pid" ] || keep+=("$i"); done
	_lab_pids=("${keep[@]}")
	return "$rc"
}

# lab_ping NS ADDR [COUNT]: quick pings; fails when any is lost (each may take 10 s: a lost
# one is lost, a slow one under emulation is not).
lab_ping() {
	lab_nsenter "$1" ping -q -c "${3:-3}" -i 0.2 -W 10 "$2" >/dev/null
}
