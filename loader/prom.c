// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Prometheus text exposition (prom.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/prom.h"

void wgx_prom_init(struct wgx_prom *p)
{
	memset(p, 0, sizeof(*p));
}

void wgx_prom_free(struct wgx_prom *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

static int reserve(struct wgx_prom *p, size_t more)
{
	size_t cap = p->cap ? p->cap : 4096;
	char *n;

	if (p->err)
		return p->err;
	while (cap - p->len < more + 1)
		cap *= 2;
	if (cap == p->cap)
		return 0;
	n = realloc(p->buf, cap);
	if (!n)
		return p->err = -ENOMEM;
	p->buf = n;
	p->cap = cap;
	return 0;
}

static void put(struct wgx_prom *p, const char *s, size_t n)
{
	if (reserve(p, n))
		return;
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	p->buf[p->len] = 0;
}

static void puts_(struct wgx_prom *p, const char *s)
{
	put(p, s, strlen(s));
}

/*
 * Escaped text: a label value escapes backslash, double quote and newline; HELP text
 * backslash and newline only (the format's two rules).
 */
static void put_escaped(struct wgx_prom *p, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			put(p, "\\\\", 2);
		else if (*s == '\n')
			put(p, "\\n", 2);
		else if (*s == '"' && quote)
			put(p, "\\\"", 2);
		else
			put(p, s, 1);
	}
}

/*
 * The shortest decimal that reads back as the same double: plain digits from 1e-4 to 1e15
 * ("10", "0.00025", as bucket bounds are usually written), exponent form outside.
 */
static void fmt_double(char *buf, size_t len, double v)
{
	double a = v < 0 ? -v : v;
	int prec;

	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (a == 0 || (a >= 1e-4 && a < 1e15)) {
		for (prec = 0; prec <= 20; prec++) {
			snprintf(buf, len, "%.*f", prec, v);
			if (strtod(buf, NULL) == v)
				return;
		}
	}
	for (prec = 1; prec < 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
	snprintf(buf, len, "%.17g", v);
}

void wgx_prom_family(struct wgx_prom *p, const char *name, enum wgx_prom_type type,
		     const char *help)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };

	puts_(p, "# HELP ");
	puts_(p, name);
	puts_(p, " ");
	put_escaped(p, help, 0);
	puts_(p, "\n# TYPE ");
	puts_(p, name);
	puts_(p, " ");
	puts_(p, types[type]);
	puts_(p, "\n");
}

static void labels_v(struct wgx_prom *p, va_list ap)
{
	const char *k, *v;
	int n = 0;

	while ((k = va_arg(ap, const char *))) {
		v = va_arg(ap, const char *);
		puts_(p, n++ ? "," : "{");
		puts_(p, k);
		puts_(p, "=\"");
		put_escaped(p, v ? v : "", 1);
		puts_(p, "\"");
	}
	if (n)
		puts_(p, "}");
}

void wgx_prom_sample(struct wgx_prom *p, const char *name, uint64_t value, ...)
{
	char num[24];
	va_list ap;

	puts_(p, name);
	va_start(ap, value);
	labels_v(p, ap);
	va_end(ap);
	snprintf(num, sizeof(num), " %llu\n", (unsigned long long)value);
	puts_(p, num);
}

int wgx_prom_hist_init(struct wgx_prom_hist *h, const double *le, unsigned int nr)
{
	unsigned int i;

	memset(h, 0, sizeof(*h));
	if (nr > WGX_PROM_MAX_BUCKETS)
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		if (isnan(le[i]) || isinf(le[i]) || (i && le[i] <= le[i - 1]))
			return -EINVAL;
		h->le[i] = le[i];
	}
	h->nr = nr;
	return 0;
}

void wgx_prom_hist_observe(struct wgx_prom_hist *h, double v)
{
	unsigned int i;

	/* the first bucket whose upper bound holds it (le: less or equal); none: only +Inf */
	for (i = 0; i < h->nr; i++) {
		if (v <= h->le[i]) {
			h->bucket[i]++;
			break;
		}
	}
	h->count++;
	h->sum += v;
}

void wgx_prom_histogram(struct wgx_prom *p, const char *name, const struct wgx_prom_hist *h)
{
	char series[128], le[32], sum[40];
	uint64_t cum = 0;
	unsigned int i;

	snprintf(series, sizeof(series), "%s_bucket", name);
	for (i = 0; i < h->nr; i++) {
		cum += h->bucket[i];
		fmt_double(le, sizeof(le), h->le[i]);
		wgx_prom_sample(p, series, cum, "le", le, NULL);
	}
	wgx_prom_sample(p, series, h->count, "le", "+Inf", NULL);
	fmt_double(sum, sizeof(sum), h->sum);
	puts_(p, name);
	puts_(p, "_sum ");
	puts_(p, sum);
	puts_(p, "\n");
	snprintf(series, sizeof(series), "%s_count", name);
	wgx_prom_sample(p, series, h->count, NULL);
}
