/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The wgxdp CLI: one file per subcommand (tools/cmd_*.c), registered in tools/main.c. */
#ifndef WGXDP_TOOLS_H
#define WGXDP_TOOLS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "loader/fmt.h"

struct wgx_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);	/* argv[0] is the command name */
	const char *summary;
	const char *usage;			/* printed by `wgxdp COMMAND --help` */
};

/* Every subcommand prints errors as one line: "wgxdp COMMAND: what: why". */
void wgx_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int wgx_usage(const char *cmd, FILE *f);	/* prints usage, returns 2 when f is stderr */
const char *wgx_pin_dir_default(void);		/* $WGXDP_PIN_DIR or /sys/fs/bpf/wgxdp */

int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_peers(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_flows(int argc, char **argv);
int cmd_top(int argc, char **argv);
extern const char wgx_policy_usage[];

#endif /* WGXDP_TOOLS_H */
