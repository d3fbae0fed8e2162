# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# shellcheck shell=bash
# The start of every integration script (tests/integration/*.sh), in place of its own preamble:
#
#   #!/bin/bash
#   # SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#   # tiers: host vm
#   # What the scenario shows, in a few lines.
#   . "$(dirname "$0")/../lib/prelude.sh" wgx ping
#
# It sets -u, goes to the top of the repo, sources tests/lib/lab.sh and runs lab_init (root,
# namespaces, cleanup on exit, the failure report of tests/lib/lab.sh). Its words:
#   wgx      also tests/lib/wgx.sh and wgx_init (a pin directory of the scenario's own)
#   strict   also -e and -o pipefail (for scripts written for them: `cmd && lab_fail` is fine,
#            a bare command that may fail is not, nor `producer | grep -q` under pipefail)
#   CMD...   any other word is a command the scenario needs (lab_require: skip without it)
# A scenario's own variables and helpers come after it.

set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
# shellcheck source=tests/lib/lab.sh
. tests/lib/lab.sh
_prelude_wgx=
_prelude_req=()
for _prelude_w in "$@"; do
	case $_prelude_w in
	wgx) _prelude_wgx=1 ;;
	strict) set -eo pipefail ;;
	*) _prelude_req+=("$_prelude_w") ;;
	esac
done
lab_init
if [ -n "$_prelude_wgx" ]; then
	# shellcheck source=tests/lib/wgx.sh
	. tests/lib/wgx.sh
	wgx_init
fi
[ ${#_prelude_req[@]} -eq 0 ] || lab_require "${_prelude_req[@]}"
unset _prelude_w _prelude_wgx _prelude_req
