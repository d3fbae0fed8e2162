// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Commands whose implementation lands with issue 4; they say so instead of pretending. */
#include "tools/wgxdp.h"

__attribute__((weak)) int cmd_run(int argc, char **argv)
{
	wgx_err("run", "not built yet (issue 4: just-in-time peers)");
	return 1;
}

__attribute__((weak)) int cmd_peers(int argc, char **argv)
{
	wgx_err("peers", "not built yet (issue 4: just-in-time peers)");
	return 1;
}

__attribute__((weak)) int cmd_policy(int argc, char **argv)
{
	wgx_err("policy", "not built yet (issue 4: just-in-time peers)");
	return 1;
}
