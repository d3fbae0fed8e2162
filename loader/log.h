/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The one logger: every line wgxdp prints about what it did or why it failed goes through
 * wgx_log, the CLI's one-line errors ("wgxdp COMMAND: what: why") as well as the daemon's
 * records. Human lines by default ("wgxdp COMPONENT: message"), JSON lines on request
 * ({"time":"...","level":"info","component":"run","msg":"..."}).
 * Library code that is not a long-running service (loader/uplink.c, wgdev, policy) returns
 * errors instead of logging; the daemon (loader/jitd.c and its modules) logs through here.
 * Control characters in a message are printed as '?': a name from outside cannot forge a line.
 */
#ifndef WGXDP_LOG_H
#define WGXDP_LOG_H

#include <stdarg.h>
#include <stdio.h>

enum wgx_log_level {
	WGX_LOG_ERR = 0,
	WGX_LOG_WARN,
	WGX_LOG_INFO,
	WGX_LOG_DEBUG,
};

enum wgx_log_format {
	WGX_LOG_HUMAN = 0,
	WGX_LOG_JSON,
};

/* Where lines go (default stderr), in which format, and the most verbose level printed. */
void wgx_log_setup(FILE *f, enum wgx_log_format fmt, enum wgx_log_level max);
/* "err", "warn", "info", "debug" -> level; -1 if none of them. */
int wgx_log_level_parse(const char *s);

void wgx_log(enum wgx_log_level lvl, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void wgx_vlog(enum wgx_log_level lvl, const char *component, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif /* WGXDP_LOG_H */
