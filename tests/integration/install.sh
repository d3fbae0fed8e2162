#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tiers: host
# `make install`: into a DESTDIR, the binary, the man page, the systemd unit wgxdp@.service
# with the binary's path in its Exec lines, the logrotate file and /etc/default/wgxdp (kept
# when it exists); `make uninstall` removes them. Installed under a temporary prefix (so that
# its ExecStart binary exists), the unit passes `systemd-analyze verify` without a word, with
# the hardening that leaves BPF and netlink working; logrotate accepts its file and rotates
# a log by copytruncate.
# shellcheck source=tests/lib/prelude.sh disable=SC2016 # ($ in patterns is literal)
. "$(dirname "$0")/../lib/prelude.sh"
# systemd (systemd-analyze) and logrotate are test dependencies: missing, the machine is not
# set up (tools/deps.sh), a failure rather than a skip.
for c in systemd-analyze logrotate make; do
	command -v "$c" >/dev/null || lab_fail "$c is missing: tools/deps.sh installs it"
done
expect_eq() { [ "$2" = "$3" ] || lab_fail "$1: expected $3, got $2"; echo "ok: $1 = $2"; }

# 1. DESTDIR, default PREFIX (/usr/local)
D=$LAB_TMP/destdir
make -s install DESTDIR="$D" >"$LAB_TMP/install.log" 2>&1 || { cat "$LAB_TMP/install.log"; lab_fail "make install DESTDIR=$D"; }
got=$(cd "$D" && find . -type f -printf '%m %p\n' | sort)
want="644 ./etc/default/wgxdp
644 ./etc/logrotate.d/wgxdp
644 ./usr/local/lib/systemd/system/wgxdp@.service
644 ./usr/local/share/man/man8/wgxdp.8
755 ./usr/local/sbin/wgxdp"
[ "$got" = "$want" ] || lab_fail "installed files:
$got
expected:
$want"
echo "ok: make install DESTDIR= installs the binary, the man page, the unit, logrotate, defaults"
U=$D/usr/local/lib/systemd/system/wgxdp@.service
grep -q '@SBINDIR@' "$U" && lab_fail "the unit still says @SBINDIR@"
grep -q '^ExecStart=/usr/local/sbin/wgxdp run --wg %i \$WGXDP_RUN_OPTS$' "$U" ||
	lab_fail "ExecStart is not /usr/local/sbin/wgxdp run: $(grep ^ExecStart "$U")"
grep -q '^ExecStartPre=/usr/local/sbin/wgxdp attach ' "$U" || lab_fail "no ExecStartPre attach"
for line in '^CapabilityBoundingSet=.*CAP_BPF' '^CapabilityBoundingSet=.*CAP_NET_ADMIN' \
	'^CapabilityBoundingSet=.*CAP_NET_RAW' '^ProtectSystem=strict$' \
	'^ReadWritePaths=/sys/fs/bpf' '^NoNewPrivileges=yes$' '^ProtectHome=yes$' \
	'^PrivateTmp=yes$' '^SystemCallArchitectures=native$' '^Restart=on-failure$' \
	'^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET$' \
	'^EnvironmentFile=/etc/default/wgxdp$' '^ExecReload=/bin/kill -HUP \$MAINPID$'; do
	grep -q "$line" "$U" || lab_fail "the unit has no line matching $line"
done
for line in '^ProtectKernelTunables=' '^PrivateNetwork=' '^PrivateUsers=' '^ExecStopPost='; do
	grep -q "$line" "$U" && lab_fail "the unit sets ${line#^}, which breaks the data path"
done
echo "ok: the unit's Exec lines and hardening"
# a local setting survives a second install; uninstall leaves it
echo 'WGXDP_UPLINK=ens3' >>"$D/etc/default/wgxdp"
make -s install DESTDIR="$D" >/dev/null 2>&1 || lab_fail "second make install"
grep -q '^WGXDP_UPLINK=ens3$' "$D/etc/default/wgxdp" || lab_fail "make install overwrote /etc/default/wgxdp"
make -s uninstall DESTDIR="$D" >/dev/null 2>&1 || lab_fail "make uninstall"
expect_eq "files left after uninstall" "$(cd "$D" && find . -type f | sort | tr '\n' ' ')" "./etc/default/wgxdp "
echo "ok: /etc/default/wgxdp is never overwritten, uninstall removes the rest"

# 2. systemd-analyze verify: under a temporary prefix the Exec binaries exist, and man finds
# wgxdp(8) for Documentation=; a template is verified through an instance (wg0)
R=$LAB_TMP/root
make -s install PREFIX="$R/usr" SYSCONFDIR="$R/etc" >/dev/null 2>&1 || lab_fail "make install PREFIX=$R/usr"
ln -s 'wgxdp@.service' "$R/usr/lib/systemd/system/wgxdp@wg0.service"
out=$(MANPATH=$R/usr/share/man systemd-analyze verify "$R/usr/lib/systemd/system/wgxdp@wg0.service" 2>&1)
rc=$?
if [ "$rc" != 0 ] || [ -n "$out" ]; then
	lab_fail "systemd-analyze verify (exit $rc): $out"
fi
echo "ok: systemd-analyze verify wgxdp@wg0.service: no complaint"
exposure=$(MANPATH=$R/usr/share/man systemd-analyze security --offline=yes \
	"$R/usr/lib/systemd/system/wgxdp@wg0.service" 2>/dev/null |
	sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || lab_fail "systemd-analyze security gave no exposure level"
awk -v e="$exposure" 'BEGIN { exit !(e < 5.0) }' ||
	lab_fail "systemd-analyze security: exposure $exposure (expected below 5.0, 'OK')"
echo "ok: systemd-analyze security --offline: exposure $exposure"

# 3. logrotate: the installed file parses; a copy aimed at a scratch directory rotates a log
# in place (copytruncate: the daemon's standard error goes on in the same file)
out=$(logrotate -d -s "$LAB_TMP/state" "$R/etc/logrotate.d/wgxdp" 2>&1) ||
	lab_fail "logrotate -d: $out"
grep -qi 'error' <<<"$out" && lab_fail "logrotate -d: $out"
mkdir -p "$LAB_TMP/log"
sed "s|/var/log/wgxdp/|$LAB_TMP/log/|" "$R/etc/logrotate.d/wgxdp" >"$LAB_TMP/lr.conf"
chmod 0644 "$LAB_TMP/lr.conf"
printf 'wgxdp run: line %d\n' 1 2 3 >"$LAB_TMP/log/wg0.log"
exec 9>>"$LAB_TMP/log/wg0.log"	# the daemon's descriptor, as systemd opened it (append)
logrotate -f -s "$LAB_TMP/state" "$LAB_TMP/lr.conf" || lab_fail "logrotate -f"
[ -s "$LAB_TMP/log/wg0.log.1" ] || lab_fail "no rotated copy: $(ls "$LAB_TMP/log")"
expect_eq "the rotated copy" "$(wc -l <"$LAB_TMP/log/wg0.log.1")" 3
expect_eq "the live log after rotation (bytes)" "$(stat -c %s "$LAB_TMP/log/wg0.log")" 0
echo 'wgxdp run: after' >&9
exec 9>&-
expect_eq "the live log after a write on the old descriptor" "$(cat "$LAB_TMP/log/wg0.log")" "wgxdp run: after"
echo "install: all checks passed"
