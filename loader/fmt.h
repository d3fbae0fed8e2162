/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* How wgxdp writes addresses and times, the same in every command and log line. */
#ifndef WGXDP_FMT_H
#define WGXDP_FMT_H

#include <stddef.h>
#include <stdint.h>

/* "1.2.3.4:51820", "[2001:db8::1]:51820"; family 4 or 6 (else "none"), port in host order */
void wgx_fmt_endpoint(char *buf, size_t len, int family, const void *addr, uint16_t port);
/* A decimal number, digits only, in [min, max]: 0, -EINVAL (not a number) or -ERANGE. */
int wgx_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);
/* "2026-11-22T04:20:00Z" */
void wgx_fmt_time(char *buf, size_t len, int64_t sec);
/* "2026-11-22T04:20:00.123456Z" (RFC 3339, microseconds), from CLOCK_REALTIME ns */
void wgx_fmt_time_ns(char *buf, size_t len, uint64_t ns);

#endif /* WGXDP_FMT_H */
