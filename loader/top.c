// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `wgxdp top`'s snapshots and rates (top.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader/jit_state.h"
#include "loader/top.h"
#include "loader/uplink.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void wgx_top_snap_free(struct wgx_top_snap *s)
{
	free(s->flows);
	free(s->denies);
	memset(s, 0, sizeof(*s));
}

static int read_denies(const char *pin_dir, struct wgx_top_snap *s)
{
	int fd, names_fd, ncpu = libbpf_num_possible_cpus(), i, err;
	struct wgx_tun_deny_count *v;
	struct wgx_top_deny *d;
	struct wgx_tun_name nm;
	__u32 key, next;

	fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_denies");
	if (fd < 0)
		return fd;
	if (ncpu <= 0) {
		close(fd);
		return ncpu ?: -EINVAL;
	}
	v = calloc(ncpu, sizeof(*v));
	if (!v) {
		close(fd);
		return -ENOMEM;
	}
	names_fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_names");
	err = bpf_map_get_next_key(fd, NULL, &next);
	while (!err) {
		key = next;
		err = bpf_map_get_next_key(fd, &key, &next);
		if (bpf_map_lookup_elem(fd, &key, v))
			continue;	/* evicted meanwhile */
		d = realloc(s->denies, (s->nr_denies + 1) * sizeof(*d));
		if (!d) {
			err = -ENOMEM;
			goto out;
		}
		s->denies = d;
		d = &d[s->nr_denies++];
		memset(d, 0, sizeof(*d));
		d->user_id = key;
		for (i = 0; i < ncpu; i++)
			d->denied += v[i].denied;
		if (names_fd >= 0 && !bpf_map_lookup_elem(names_fd, &key, &nm))
			memcpy(d->user, nm.user, sizeof(d->user) - 1);
	}
	err = 0;
out:
	free(v);
	close(fd);
	if (names_fd >= 0)
		close(names_fd);
	return err;
}

static int read_tunnel(const char *pin_dir, struct wgx_top_snap *s)
{
	struct wgx_flows f;
	int fd, d, r, err;

	err = wgx_flows_read(pin_dir, NULL, true, &f);
	if (err)
		return err;
	s->cfg = f.cfg;
	s->flow_capacity = f.capacity;
	s->flow_entries = f.nr_entries;
	s->flows = f.recs;
	s->nr_flows = f.nr;
	fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_counters");
	if (fd < 0)
		return fd;
	for (d = 0; d < WGX_TD__MAX; d++)
		for (r = 0; r < WGX_TR__MAX; r++)
			wgx_counter_read(fd, WGX_TUN_CTR(d, r), &s->ctr[d][r]);
	close(fd);
	return read_denies(pin_dir, s);
}

static int read_jit(const char *pin_dir, struct wgx_top_snap *s)
{
	struct wgx_jit_state m;
	struct wgx_jit_key k, next;
	struct wgx_jit_stats st;
	__u64 *sum = (__u64 *)&s->jit;
	const __u64 *one = (const __u64 *)&st;
	unsigned int i;
	int err;

	err = wgx_jit_state_open(pin_dir, false, &m);
	if (err)
		return err;
	err = bpf_map_get_next_key(m.stats_fd, NULL, &next);
	while (!err) {
		k = next;
		err = bpf_map_get_next_key(m.stats_fd, &k, &next);
		memset(&st, 0, sizeof(st));	/* an older daemon's map has fewer counters */
		if (bpf_map_lookup_elem(m.stats_fd, &k, &st))
			continue;
		for (i = 0; i < WGX_TOP_NR_JIT; i++)
			sum[i] += one[i];
	}
	wgx_jit_state_close(&m);
	return 0;
}

int wgx_top_read(const char *pin_dir, struct wgx_top_snap *s)
{
	memset(s, 0, sizeof(*s));
	s->t_ns = mono_ns();	/* before the reads: a flow created during them is newer */
	s->tunnel_err = read_tunnel(pin_dir, s);
	if (s->tunnel_err) {
		free(s->flows);
		free(s->denies);
		s->flows = NULL;
		s->denies = NULL;
		s->nr_flows = s->nr_denies = 0;
	}
	s->jit_err = read_jit(pin_dir, s);
	if (s->tunnel_err == -ENOMEM || s->jit_err == -ENOMEM) {
		wgx_top_snap_free(s);
		return -ENOMEM;
	}
	return 0;
}

void wgx_top_view_free(struct wgx_top_view *v)
{
	free(v->flows);
	free(v->users);
	memset(v, 0, sizeof(*v));
}

/* A counter that went back started again from zero: what it holds now is the delta. */
static uint64_t delta(uint64_t prev, uint64_t cur)
{
	return cur >= prev ? cur - prev : cur;
}

/* Flows of a snapshot in (key, first_ns) order, to find a flow of cur in prev. */
static int flow_id_cmp(const void *x, const void *y)
{
	const struct wgx_flow_rec *a = *(const struct wgx_flow_rec *const *)x;
	const struct wgx_flow_rec *b = *(const struct wgx_flow_rec *const *)y;
	int c = memcmp(&a->key, &b->key, sizeof(a->key));

	if (c)
		return c;
	return a->v.first_ns < b->v.first_ns ? -1 : a->v.first_ns > b->v.first_ns;
}

static int flow_view_cmp(const void *x, const void *y)
{
	const struct wgx_top_flow *a = x, *b = y;
	double ra = a->tx_bps + a->rx_bps, rb = b->tx_bps + b->rx_bps;

	if (a->rec->v.user_id != b->rec->v.user_id)
		return a->rec->v.user_id < b->rec->v.user_id ? -1 : 1;
	if (ra != rb)
		return ra > rb ? -1 : 1;
	if (a->rec->v.last_ns != b->rec->v.last_ns)
		return a->rec->v.last_ns > b->rec->v.last_ns ? -1 : 1;
	return memcmp(&a->rec->key, &b->rec->key, sizeof(a->rec->key));
}

static int deny_cmp(const void *x, const void *y)
{
	const struct wgx_top_deny *a = x, *b = y;

	return a->user_id < b->user_id ? -1 : a->user_id > b->user_id;
}

static int user_id_cmp(const void *x, const void *y)
{
	const struct wgx_top_user *a = x, *b = y;

	return a->user_id < b->user_id ? -1 : a->user_id > b->user_id;
}

static const struct wgx_top_deny *find_deny(const struct wgx_top_deny *d, size_t n, uint32_t id)
{
	struct wgx_top_deny k = { .user_id = id };

	return n ? bsearch(&k, d, n, sizeof(*d), deny_cmp) : NULL;
}

/* The user id's entry of v->users, added if new. */
static struct wgx_top_user *user_of(struct wgx_top_view *v, size_t *cap, uint32_t id,
				    const char *name)
{
	struct wgx_top_user *u;

	if (v->nr_users && v->users[v->nr_users - 1].user_id == id)
		return &v->users[v->nr_users - 1];
	if (v->nr_users == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		u = realloc(v->users, *cap * sizeof(*u));
		if (!u)
			return NULL;
		v->users = u;
	}
	u = &v->users[v->nr_users++];
	memset(u, 0, sizeof(*u));
	u->user_id = id;
	memcpy(u->user, name, sizeof(u->user) - 1);
	return u;
}

static int flows_compute(const struct wgx_top_snap *prev, const struct wgx_top_snap *cur,
			 struct wgx_top_view *v)
{
	const struct wgx_flow_rec **idx = NULL;
	size_t i, np = prev ? prev->nr_flows : 0;
	double dt = v->interval_s;

	v->flows = calloc(cur->nr_flows + 1, sizeof(*v->flows));
	if (np)
		idx = malloc(np * sizeof(*idx));
	if (!v->flows || (np && !idx)) {
		free(idx);
		return -ENOMEM;
	}
	for (i = 0; i < np; i++)
		idx[i] = &prev->flows[i];
	if (np)
		qsort(idx, np, sizeof(*idx), flow_id_cmp);
	for (i = 0; i < cur->nr_flows; i++) {
		const struct wgx_flow_rec *c = &cur->flows[i], *const *found = NULL;
		struct wgx_top_flow *f = &v->flows[v->nr_flows];
		struct wgx_flow base = {};

		if (np)
			found = bsearch(&c, idx, np, sizeof(*idx), flow_id_cmp);
		if (found)
			base = (*found)->v;
		else if (prev && c->v.first_ns < prev->t_ns)
			base = c->v;	/* older than prev, which missed it: no baseline */
		/* else new since prev (or created again under the same key): all of it is new */
		f->rec = c;
		if (dt > 0) {
			f->tx_bps = delta(base.bytes_out, c->v.bytes_out) / dt;
			f->rx_bps = delta(base.bytes_in, c->v.bytes_in) / dt;
			f->tx_pps = delta(base.pkts_out, c->v.pkts_out) / dt;
			f->rx_pps = delta(base.pkts_in, c->v.pkts_in) / dt;
		}
		/* an ended flow still in the table (the daemon removes it) is left out, unless it just moved */
		if (c->live || f->tx_bps + f->rx_bps > 0)
			v->nr_flows++;
	}
	free(idx);
	qsort(v->flows, v->nr_flows, sizeof(*v->flows), flow_view_cmp);
	return 0;
}

int wgx_top_compute(const struct wgx_top_snap *prev, const struct wgx_top_snap *cur,
		    struct wgx_top_view *v)
{
	struct wgx_top_deny *pd = NULL, *cd = NULL;
	size_t i, cap = 0, np = 0, n0;
	const __u64 *pj, *cj;
	int d, r, err = -ENOMEM;
	double dt;

	memset(v, 0, sizeof(*v));
	if (prev && cur->t_ns > prev->t_ns)
		v->interval_s = (cur->t_ns - prev->t_ns) / 1e9;
	else
		prev = NULL;
	dt = v->interval_s;

	if (prev && !prev->tunnel_err && !cur->tunnel_err) {
		for (d = 0; d < WGX_TD__MAX; d++) {
			for (r = 0; r < WGX_TR__MAX; r++) {
				uint64_t p = delta(prev->ctr[d][r].packets, cur->ctr[d][r].packets);
				uint64_t b = delta(prev->ctr[d][r].bytes, cur->ctr[d][r].bytes);

				v->pps[d] += p / dt;
				v->bps[d] += b / dt;
				if (r < WGX_TR_PASS_MAX)
					v->allowed_ps += p / dt;
				else
					v->denied_ps += p / dt;
			}
		}
	}
	if (prev && !prev->jit_err && !cur->jit_err) {
		pj = (const __u64 *)&prev->jit;
		cj = (const __u64 *)&cur->jit;
		for (i = 0; i < WGX_TOP_NR_JIT; i++)
			v->jit_ps[i] = delta(pj[i], cj[i]) / dt;
	}

	if (flows_compute(prev, cur, v))
		goto out;
	/* users: one per user id of the flows (in id order), then those with denies alone */
	for (i = 0; i < v->nr_flows; i++) {
		const struct wgx_top_flow *f = &v->flows[i];
		struct wgx_top_user *u = user_of(v, &cap, f->rec->v.user_id, f->rec->user);

		if (!u)
			goto out;
		if (!u->nr_flows)
			u->flow0 = i;
		u->nr_flows++;
		u->tx_bps += f->tx_bps;
		u->rx_bps += f->rx_bps;
		if (f->rec->v.last_ns > u->last_ns)
			u->last_ns = f->rec->v.last_ns;
	}
	n0 = v->nr_users;	/* in id order so far */
	cd = malloc((cur->nr_denies + 1) * sizeof(*cd));
	if (prev)
		np = prev->nr_denies;
	pd = malloc((np + 1) * sizeof(*pd));
	if (!cd || !pd)
		goto out;
	memcpy(cd, cur->denies, cur->nr_denies * sizeof(*cd));
	qsort(cd, cur->nr_denies, sizeof(*cd), deny_cmp);
	if (np) {
		memcpy(pd, prev->denies, np * sizeof(*pd));
		qsort(pd, np, sizeof(*pd), deny_cmp);
	}
	for (i = 0; i < v->nr_users; i++) {
		struct wgx_top_user *u = &v->users[i];
		const struct wgx_top_deny *c = find_deny(cd, cur->nr_denies, u->user_id), *p;

		if (!c)
			continue;
		p = find_deny(pd, np, u->user_id);
		u->denied = c->denied;
		if (prev)
			u->denies_ps = delta(p ? p->denied : 0, c->denied) / dt;
	}
	for (i = 0; i < cur->nr_denies; i++) {
		const struct wgx_top_deny *c = &cd[i], *p = find_deny(pd, np, c->user_id);
		struct wgx_top_user *u, k = { .user_id = c->user_id };
		uint64_t dn;

		if (c->user_id == WGX_USER_NONE || !prev)
			continue;
		dn = delta(p ? p->denied : 0, c->denied);
		if (!dn)
			continue;
		if (n0 && bsearch(&k, v->users, n0, sizeof(k), user_id_cmp))
			continue;	/* she has flows: done above */
		u = user_of(v, &cap, c->user_id, c->user);
		if (!u)
			goto out;
		u->denied = c->denied;
		u->denies_ps = dn / dt;
	}
	wgx_top_sort(v, WGX_TOP_SORT_RATE);
	err = 0;
out:
	free(cd);
	free(pd);
	if (err)
		wgx_top_view_free(v);
	return err;
}

const char *wgx_top_sort_name(enum wgx_top_sort by)
{
	static const char *const names[WGX_TOP_SORT__MAX] = {
		[WGX_TOP_SORT_RATE] = "rate",
		[WGX_TOP_SORT_FLOWS] = "flows",
		[WGX_TOP_SORT_DENIES] = "denies",
		[WGX_TOP_SORT_NAME] = "name",
	};

	return by < WGX_TOP_SORT__MAX ? names[by] : "?";
}

/* By name, users without one last; then by id. */
static int by_name(const struct wgx_top_user *a, const struct wgx_top_user *b)
{
	int c;

	if (!a->user[0] != !b->user[0])
		return a->user[0] ? -1 : 1;
	c = strcmp(a->user, b->user);
	if (c)
		return c;
	return a->user_id < b->user_id ? -1 : a->user_id > b->user_id;
}

#define DESC(x, y) do { if ((x) != (y)) return (x) > (y) ? -1 : 1; } while (0)

static int cmp_rate(const void *x, const void *y)
{
	const struct wgx_top_user *a = x, *b = y;

	DESC(a->tx_bps + a->rx_bps, b->tx_bps + b->rx_bps);
	return by_name(a, b);
}

static int cmp_flows(const void *x, const void *y)
{
	const struct wgx_top_user *a = x, *b = y;

	DESC(a->nr_flows, b->nr_flows);
	return by_name(a, b);
}

static int cmp_denies(const void *x, const void *y)
{
	const struct wgx_top_user *a = x, *b = y;

	DESC(a->denies_ps, b->denies_ps);
	return by_name(a, b);
}

static int cmp_name(const void *x, const void *y)
{
	return by_name(x, y);
}

void wgx_top_sort(struct wgx_top_view *v, enum wgx_top_sort by)
{
	static int (*const cmp[WGX_TOP_SORT__MAX])(const void *, const void *) = {
		[WGX_TOP_SORT_RATE] = cmp_rate,
		[WGX_TOP_SORT_FLOWS] = cmp_flows,
		[WGX_TOP_SORT_DENIES] = cmp_denies,
		[WGX_TOP_SORT_NAME] = cmp_name,
	};

	if (by < WGX_TOP_SORT__MAX && v->nr_users)
		qsort(v->users, v->nr_users, sizeof(*v->users), cmp[by]);
}

size_t wgx_top_filter(struct wgx_top_view *v, const char *sub)
{
	size_t i, k = 0;

	if (!sub || !*sub)
		return v->nr_users;
	for (i = 0; i < v->nr_users; i++)
		if (strcasestr(v->users[i].user, sub))
			v->users[k++] = v->users[i];
	v->nr_users = k;
	return k;
}
