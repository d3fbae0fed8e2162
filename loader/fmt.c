// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* How wgxdp writes addresses and times and reads numbers, the same everywhere. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "loader/fmt.h"

void wgx_fmt_endpoint(char *buf, size_t len, int family, const void *addr, uint16_t port)
{
	char ip[INET6_ADDRSTRLEN];

	if (family != 4 && family != 6) {
		snprintf(buf, len, "none");
		return;
	}
	inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, ip, sizeof(ip));
	snprintf(buf, len, family == 6 ? "[%s]:%u" : "%s:%u", ip, port);
}

int wgx_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	/* strtoul takes leading blanks and a sign (and negates "-1"): digits only */
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

void wgx_fmt_time(char *buf, size_t len, int64_t sec)
{
	time_t t = sec;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void wgx_fmt_time_ns(char *buf, size_t len, uint64_t ns)
{
	time_t t = ns / 1000000000ull;
	struct tm tm;
	char sec[32];

	gmtime_r(&t, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06uZ", sec, (unsigned int)(ns % 1000000000ull / 1000));
}
