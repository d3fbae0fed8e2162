// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "loader/log.h"

static struct {
	FILE *f;
	enum wgx_log_format fmt;
	enum wgx_log_level max;
} log_cfg = { NULL, WGX_LOG_HUMAN, WGX_LOG_INFO };

static const char *const level_names[] = { "err", "warn", "info", "debug" };

void wgx_log_setup(FILE *f, enum wgx_log_format fmt, enum wgx_log_level max)
{
	log_cfg.f = f;
	log_cfg.fmt = fmt;
	log_cfg.max = max;
}

int wgx_log_level_parse(const char *s)
{
	unsigned int i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (!strcmp(s, level_names[i]))
			return i;
	return -1;
}

void wgx_vlog(enum wgx_log_level lvl, const char *component, const char *fmt, va_list ap)
{
	FILE *f = log_cfg.f ? log_cfg.f : stderr;
	char msg[1024], *p;

	if (lvl > log_cfg.max)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (log_cfg.fmt == WGX_LOG_JSON) {
		struct timespec ts;
		struct tm tm;
		char t[96];
		json_t *o;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 ts.tv_nsec / 1000);
		o = json_pack("{s:s,s:s,s:s,s:s}", "time", t, "level", level_names[lvl],
			      "component", component, "msg", msg);
		if (o) {
			/* JSON_ENSURE_ASCII: whatever the bytes, the line stays one valid line */
			json_dumpf(o, f, JSON_COMPACT | JSON_ENSURE_ASCII);
			json_decref(o);
			fputc('\n', f);
		}
	} else {
		fprintf(f, "wgxdp %s: %s\n", component, msg);
	}
	fflush(f);
}

void wgx_log(enum wgx_log_level lvl, const char *component, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wgx_vlog(lvl, component, fmt, ap);
	va_end(ap);
}
