#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# `make bench`: the benchmarks. Each measures against a baseline in the same run (these
# machines are noisy) and prints its numbers; none of them is a pass/fail test.
set -u
cd "$(dirname "$0")/../.."
rc=0
echo "== uplink XDP program (BPF_PROG_TEST_RUN, repeat 1,000,000)"
build/bench/bench_xdp 1000000 || rc=1
echo "== tunnel tc program (BPF_PROG_TEST_RUN, repeat 1,000,000)"
build/bench/bench_tc 1000000 || rc=1
echo "== flow log: records written per second, one core"
build/bench/bench_flowlog 100000 || rc=1
echo "== policy apply: 100,000 users, one user (the tunnel's maps, median of 5)"
build/unit/test_enforce --bench || rc=1
if [ -x build/bench/bench_noise ]; then
	echo "== handshake initiations: decrypt + lookup, one core"
	build/bench/bench_noise || rc=1
fi
for b in tests/bench/*.sh; do
	[ "$b" = tests/bench/run.sh ] && continue
	[ -e "$b" ] || continue
	echo "== $(basename "$b" .sh)"
	bash "$b" || rc=1
done
exit $rc
