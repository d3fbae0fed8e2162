#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# The VM tier, run inside each QEMU guest by `make vmtest` (tests/vm/vmtest.sh): the whole
# BPF_PROG_TEST_RUN suite, then the integration tests whose "# tiers:" line names vm.
#   guest-suite.sh              all of them
#   guest-suite.sh NAME...      test_progs and only tests/integration/NAME.sh (e.g. vm_kernel_wg)
# Exit non-zero on any failure (with CI=true, a missing build/test_progs is one).
# Every result line says how long the step took, "ok   NAME (12s)", and the guest's total ends
# the output: tests/vm/vmtest.sh gathers them into its per-kernel summary.
set -u
cd "$(dirname "$0")/../.." || exit 1
export WGXDP_TIER=vm WG_COLOR_MODE=never
fail=0

echo "guest-suite on $(uname -r)"
suite_start=$SECONDS
# shellcheck disable=SC2317  # run by the EXIT trap
suite_total() { echo "guest-suite total ($((SECONDS - suite_start))s)"; }
trap suite_total EXIT
start=$SECONDS
if [ -x build/test_progs ]; then
	if build/test_progs; then
		echo "ok   vm/test_progs ($((SECONDS - start))s)"
	else
		echo "FAIL vm/test_progs (exit $?, $((SECONDS - start))s)"
		fail=1
	fi
elif [ "${CI:-}" = true ]; then
	echo "FAIL vm/test_progs: build/test_progs is missing (make all)"
	fail=1
else
	echo "skip vm/test_progs: build/test_progs is missing (make all)"
fi

if [ $# -eq 0 ]; then
	tests/run.sh integration || fail=1
	exit $fail
fi
for name in "$@"; do
	t=tests/integration/${name%.sh}.sh
	echo "== integration/${name%.sh}"
	start=$SECONDS
	bash "$t"
	rc=$?
	case $rc in
	0) echo "ok   integration/${name%.sh} ($((SECONDS - start))s)" ;;
	77) echo "skip integration/${name%.sh} ($((SECONDS - start))s)"
	    [ "${CI:-}" = true ] && [ -z "${WGXDP_ALLOW_SKIP:-}" ] && fail=1 ;;
	*) echo "FAIL integration/${name%.sh} (exit $rc, $((SECONDS - start))s)"; fail=1 ;;
	esac
done
exit $fail
