# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# shellcheck shell=bash
# wgxdp helpers for the integration tests, on top of tests/lib/lab.sh.
#
#   wgx_init                       a pin directory of the test's own, removed at cleanup
#   wgx NS ARGS...                 run wgxdp in namespace NS
#   wgx_ctr NS IFACE CLASS [REASON] [pass|drop]   a counter from `status --json`
#   wgx_json NS EXPR               evaluate a python expression on `status --json` (as s)

WGXDP=${WGXDP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/wgxdp}

wgx_init() {
	[ -x "$WGXDP" ] || lab_fail "$WGXDP not built (make)"
	lab_require python3
	export WGXDP_PIN_DIR=/sys/fs/bpf/wgxdp-$LAB_ID
	lab_defer rm -rf "$WGXDP_PIN_DIR"
}

wgx() {
	local ns=$1
	shift
	lab_nsenter "$ns" "$WGXDP" "$@"
}

wgx_json() {
	local ns=$1 expr=$2
	wgx "$ns" status --json | python3 -c "import json,sys; s=json.load(sys.stdin); print($expr)"
}

# wgx_ctr NS IFACE CLASS [REASON] [VERDICT]: packets; without REASON, pass+drop of the class.
wgx_ctr() {
	local ns=$1 ifname=$2 class=$3 reason=${4:-} verdict=${5:-pass}
	wgx "$ns" status --json | python3 -c '
import json, sys
ifname, cls, reason, verdict = sys.argv[1:5]
s = json.load(sys.stdin)
i = [i for i in s["interfaces"] if i["name"] == ifname]
if not i:
    print(-1); sys.exit()
c = i[0]["counters"][cls]
if reason:
    print(c["reasons"].get(reason, {}).get(verdict, 0))
else:
    print(c["pass"] + c["drop"])
' "$ifname" "$class" "$reason" "$verdict"
}

# expect_eq WHAT GOT WANT / expect_ge WHAT GOT MIN
expect_eq() { [ "$2" = "$3" ] || lab_fail "$1: expected $3, got $2"; echo "ok: $1 = $2"; }
expect_ge() { [ "$2" -ge "$3" ] 2>/dev/null || lab_fail "$1: expected >= $3, got $2"; echo "ok: $1 = $2 (>= $3)"; }
