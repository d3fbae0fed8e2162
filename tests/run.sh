#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Runs a test tier: unit | progs | integration | host (all three).
# Integration scripts: tests/integration/*.sh, each says the tiers it runs in with a line
# "# tiers: host vm". Exit 0 = pass, 77 = cannot run here (the script printed why), other = fail.
# With CI=true an unexpected skip fails the run (WGXDP_ALLOW_SKIP=1 to accept).
set -u
cd "$(dirname "$0")/.."
TIER=${1:-host}
IMPL=${WGXDP_TIER:-host}	# host or vm: which integration scripts apply
export WGXDP=${WGXDP:-$PWD/build/wgxdp}
pass=0 fail=0 skip=0 failed=()

run_one() {
	local name=$1; shift
	local start=$SECONDS rc
	printf '== %s\n' "$name"
	"$@"
	rc=$?
	case $rc in
	0) pass=$((pass + 1)); printf 'ok   %s (%ds)\n' "$name" $((SECONDS - start)) ;;
	77) skip=$((skip + 1)); printf 'skip %s\n' "$name"
	    if [ "${CI:-}" = true ] && [ -z "${WGXDP_ALLOW_SKIP:-}" ]; then failed+=("$name (skipped in CI)"); fi ;;
	*) fail=$((fail + 1)); failed+=("$name"); printf 'FAIL %s (exit %d)\n' "$name" $rc ;;
	esac
}

if [ "$TIER" = unit ] || [ "$TIER" = host ]; then
	for t in build/unit/test_*; do
		[ -x "$t" ] || continue
		run_one "unit/$(basename "$t")" "$t"
	done
fi
if [ "$TIER" = progs ] || [ "$TIER" = host ]; then
	run_one prog_tests build/test_progs
fi
if [ "$TIER" = integration ] || [ "$TIER" = host ]; then
	for t in tests/integration/*.sh; do
		[ -e "$t" ] || continue
		grep -qE "^# tiers:.*\b$IMPL\b" "$t" || continue
		run_one "integration/$(basename "$t" .sh)" bash "$t"
	done
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
	printf 'failed: %s\n' "${failed[@]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ ${#failed[@]} -eq 0 ]
