#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Runs a test tier: unit | progs | integration | host (all three).
# Integration scripts: tests/integration/*.sh, each says the tiers it runs in with a line
# "# tiers: host vm"; in the VM tier, a kernel other than the last of the list runs only those
# that also say "# vm: every kernel" (WGXDP_VM_SCOPE=every, set by tests/vm/vmtest.sh). Exit 0 = pass, 77 = cannot run here (the script printed why), other = fail.
# With CI=true an unexpected skip fails the run (WGXDP_ALLOW_SKIP=1 to accept).
# Each test's result line says how long it took ("ok   NAME (12s)", "FAIL NAME (exit 1, 30s)");
# a table of them all ends the run (tests/vm/vmtest.sh prints it again per kernel).
set -u
cd "$(dirname "$0")/.." || exit 1
TIER=${1:-host}
IMPL=${WGXDP_TIER:-host}	# host or vm: which integration scripts apply
export WGXDP=${WGXDP:-$PWD/build/wgxdp}
pass=0 fail=0 skip=0 failed=() times=()

run_one() {
	local name=$1; shift
	local start=$SECONDS rc s
	printf '== %s\n' "$name"
	"$@"
	rc=$?
	s=$((SECONDS - start))
	case $rc in
	0) pass=$((pass + 1)); printf 'ok   %s (%ds)\n' "$name" "$s"; times+=("$(printf 'ok   %-28s %4ds' "$name" "$s")") ;;
	77) skip=$((skip + 1)); printf 'skip %s (%ds)\n' "$name" "$s"; times+=("$(printf 'skip %-28s %4ds' "$name" "$s")")
	    if [ "${CI:-}" = true ] && [ -z "${WGXDP_ALLOW_SKIP:-}" ]; then failed+=("$name (skipped in CI)"); fi ;;
	*) fail=$((fail + 1)); failed+=("$name"); printf 'FAIL %s (exit %d, %ds)\n' "$name" "$rc" "$s"
	   times+=("$(printf 'FAIL %-28s %4ds' "$name" "$s")") ;;
	esac
}
run_start=$SECONDS

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
		# a VM that is not the last kernel of the list: only what differs between kernels
		if [ "$IMPL" = vm ] && [ "${WGXDP_VM_SCOPE:-all}" = every ]; then
			grep -q "^# vm: every kernel" "$t" || continue
		fi
		run_one "integration/$(basename "$t" .sh)" bash "$t"
	done
fi

echo
echo "times ($TIER tier, $IMPL):"
printf '  %s\n' "${times[@]}"
printf '  %-33s %4ds\n' total $((SECONDS - run_start))
if [ ${#failed[@]} -gt 0 ]; then
	printf 'failed: %s\n' "${failed[@]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ ${#failed[@]} -eq 0 ]
