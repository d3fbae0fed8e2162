// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* How the CLI writes addresses and times, the same in every command. */
#include <arpa/inet.h>
#include <stdio.h>
#include <time.h>

#include "tools/wgxdp.h"

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

void wgx_fmt_time(char *buf, size_t len, int64_t sec)
{
	time_t t = sec;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
