/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The wgxdp CLI: one file per subcommand (tools/cmd_*.c), registered in tools/main.c. */
#ifndef WGXDP_TOOLS_H
#define WGXDP_TOOLS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

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
/* "1.2.3.4:51820", "[2001:db8::1]:51820"; family 4 or 6 (else "none"), port in host order */
void wgx_fmt_endpoint(char *buf, size_t len, int family, const void *addr, uint16_t port);
/* A decimal number, digits only, in [min, max]: 0, -EINVAL (not a number) or -ERANGE. */
int wgx_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);
/* "2026-11-22T04:20:00Z" */
void wgx_fmt_time(char *buf, size_t len, int64_t sec);

int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_peers(int argc, char **argv);
int cmd_policy(int argc, char **argv);
extern const char wgx_policy_usage[];

#endif /* WGXDP_TOOLS_H */
