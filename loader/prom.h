/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Prometheus text exposition (format 0.0.4) into a growing buffer: a family's HELP and TYPE
 * lines, then its samples, each with its labels (values escaped: backslash, double quote,
 * newline). A histogram keeps cumulative-ready bucket counts and renders _bucket (with le,
 * ending at +Inf), _sum and _count. Pure code, no I/O: loader/metrics.c serves what it
 * writes; tests/unit/test_prom.c checks it. An allocation failure is remembered in err and
 * makes later calls do nothing.
 */
#ifndef WGXDP_PROM_H
#define WGXDP_PROM_H

#include <stddef.h>
#include <stdint.h>

struct wgx_prom {
	char *buf;		/* NUL-terminated text so far */
	size_t len, cap;
	int err;		/* 0, or -ENOMEM once an append failed */
};

void wgx_prom_init(struct wgx_prom *p);
void wgx_prom_free(struct wgx_prom *p);	/* frees buf (unless taken: set it NULL first) */

enum wgx_prom_type {
	WGX_PROM_COUNTER,
	WGX_PROM_GAUGE,
	WGX_PROM_HISTOGRAM,
};

/* "# HELP name help" and "# TYPE name type": once per family, before its samples. */
void wgx_prom_family(struct wgx_prom *p, const char *name, enum wgx_prom_type type,
		     const char *help);
/*
 * One sample: name{l1="v1",l2="v2"} value. The variadic part is label name and value
 * pairs (strings), ended by NULL; no pair gives a sample without braces.
 */
void wgx_prom_sample(struct wgx_prom *p, const char *name, uint64_t value, ...)
	__attribute__((sentinel));

#define WGX_PROM_MAX_BUCKETS 24

struct wgx_prom_hist {
	unsigned int nr;			/* upper bounds, ascending, without +Inf */
	double le[WGX_PROM_MAX_BUCKETS];
	uint64_t bucket[WGX_PROM_MAX_BUCKETS];	/* observations in (le[i-1], le[i]] */
	uint64_t count;				/* all of them: the +Inf bucket */
	double sum;
};

/* Bounds must be ascending; -EINVAL if not, or more than WGX_PROM_MAX_BUCKETS. */
int wgx_prom_hist_init(struct wgx_prom_hist *h, const double *le, unsigned int nr);
void wgx_prom_hist_observe(struct wgx_prom_hist *h, double v);
/* name_bucket{le=...} cumulative, name_bucket{le="+Inf"}, name_sum, name_count. */
void wgx_prom_histogram(struct wgx_prom *p, const char *name, const struct wgx_prom_hist *h);

#endif /* WGXDP_PROM_H */
