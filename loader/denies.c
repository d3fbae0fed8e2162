// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* What the tunnel denied, by group (denies.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "loader/denies.h"
#include "loader/enforce.h"
#include "loader/mapio.h"
#include "loader/uplink.h"

struct wgx_deny_seen {
	uint32_t user_id;
	uint64_t denied;
};

static int seen_cmp(const void *x, const void *y)
{
	uint32_t a = ((const struct wgx_deny_seen *)x)->user_id;
	uint32_t b = ((const struct wgx_deny_seen *)y)->user_id;

	return a < b ? -1 : a > b;
}

static int group_cmp(const void *x, const void *y)
{
	return strcmp(((const struct wgx_deny_group *)x)->name,
		      ((const struct wgx_deny_group *)y)->name);
}

/* The group called name (made if new; "" once there are too many), or NULL on -ENOMEM. */
static struct wgx_deny_group *group_of(struct wgx_deny_groups *dg, const char *name)
{
	struct wgx_deny_group q = {}, *g;
	size_t i;

	strncpy(q.name, name, sizeof(q.name) - 1);
	g = dg->nr_g ? bsearch(&q, dg->g, dg->nr_g, sizeof(q), group_cmp) : NULL;
	if (g)
		return g;
	if (dg->nr_g >= WGX_DENY_GROUPS_MAX && q.name[0])
		return group_of(dg, "");
	g = realloc(dg->g, (dg->nr_g + 1) * sizeof(*g));
	if (!g)
		return NULL;
	dg->g = g;
	for (i = dg->nr_g; i > 0 && group_cmp(&g[i - 1], &q) > 0; i--)
		g[i] = g[i - 1];
	g[i] = q;
	dg->nr_g++;
	return &g[i];
}

int wgx_deny_groups_add(struct wgx_deny_groups *dg, const struct wgx_user_denied *u, size_t n)
{
	struct wgx_deny_seen *seen = calloc(n + 1, sizeof(*seen)), *old;
	struct wgx_deny_group *g;
	unsigned int k;
	size_t i;

	if (!seen)
		return -ENOMEM;
	/* every group first: the adding below cannot fail half way */
	for (i = 0; i < n; i++) {
		for (k = 0; k < u[i].nr_groups && k < WGX_TUN_MAX_USER_GROUPS; k++)
			if (!group_of(dg, u[i].groups[k]))
				goto nomem;
		if (!u[i].nr_groups && !group_of(dg, ""))
			goto nomem;
	}
	for (i = 0; i < n; i++) {
		uint64_t d = u[i].denied;

		seen[i] = (struct wgx_deny_seen){ u[i].user_id, u[i].denied };
		old = dg->nr_seen ? bsearch(&seen[i], dg->seen, dg->nr_seen, sizeof(*old),
					    seen_cmp) : NULL;
		if (old && old->denied <= d)
			d -= old->denied;
		if (!d || !dg->primed)
			continue;
		for (k = 0; k < u[i].nr_groups && k < WGX_TUN_MAX_USER_GROUPS; k++) {
			g = group_of(dg, u[i].groups[k]);
			g->denied += d;
		}
		if (!u[i].nr_groups)
			group_of(dg, "")->denied += d;
	}
	dg->primed = true;
	qsort(seen, n, sizeof(*seen), seen_cmp);
	free(dg->seen);
	dg->seen = seen;
	dg->nr_seen = n;
	return 0;
nomem:
	free(seen);
	return -ENOMEM;
}

static int user_cmp(const void *x, const void *y)
{
	uint32_t a = ((const struct wgx_enforce_user_info *)x)->user_id;
	uint32_t b = ((const struct wgx_enforce_user_info *)y)->user_id;

	return a < b ? -1 : a > b;
}

int wgx_user_denies_read(const char *pin_dir, struct wgx_user_denies *out)
{
	int ncpu = libbpf_num_possible_cpus(), fd, c, err;
	struct wgx_tun_deny_count *vals = NULL;
	struct wgx_enforce *e = NULL;
	uint32_t *keys = NULL;
	size_t n = 0, i;

	memset(out, 0, sizeof(*out));
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_denies");
	if (fd < 0)
		return fd;
	err = wgx_map_read_all(fd, 4, (size_t)ncpu * sizeof(*vals), (void **)&keys, (void **)&vals,
			       &n);
	close(fd);
	if (err)
		return err;
	err = wgx_enforce_open(pin_dir, &e, NULL);
	if (!err)
		err = wgx_enforce_dump_users(e, &out->st);
	wgx_enforce_close(e);
	if (err)
		goto out;
	err = -ENOMEM;
	out->u = calloc(n + 1, sizeof(*out->u));
	if (!out->u)
		goto out;
	for (i = 0; i < n; i++) {
		const struct wgx_enforce_state *st = out->st;
		const struct wgx_enforce_user_info *ui;
		const struct wgx_tun_pset *ps = NULL;
		struct wgx_user_denied *u = &out->u[i];
		unsigned int k;

		u->user_id = keys[i];
		for (c = 0; c < ncpu; c++) {
			u->denied += vals[i * ncpu + c].denied;
			u->events_held += vals[i * ncpu + c].events_held;
		}
		ui = bsearch(&(struct wgx_enforce_user_info){ .user_id = keys[i] }, st->users,
			     st->nr_users, sizeof(*ui), user_cmp);	/* sorted by id */
		if (ui) {
			u->name = ui->name.user;
			ps = wgx_enforce_state_pset(st, ui->policy_id);
		}
		for (k = 0; ps && k < ps->nr && k < WGX_TUN_MAX_USER_GROUPS; k++)
			if (ps->group_id[k] < st->nr_groups && st->groups[ps->group_id[k]][0])
				u->groups[u->nr_groups++] = st->groups[ps->group_id[k]];
	}
	out->nr = n;
	err = 0;
out:
	if (err)
		wgx_user_denies_free(out);
	free(keys);
	free(vals);
	return err;
}

void wgx_user_denies_free(struct wgx_user_denies *d)
{
	free(d->u);
	wgx_enforce_state_free(d->st);
	memset(d, 0, sizeof(*d));
}

int wgx_deny_groups_update(struct wgx_deny_groups *dg, const char *pin_dir)
{
	struct wgx_user_denies d;
	int err = wgx_user_denies_read(pin_dir, &d);

	if (err)
		return err;
	err = wgx_deny_groups_add(dg, d.u, d.nr);
	wgx_user_denies_free(&d);
	return err;
}

void wgx_deny_groups_free(struct wgx_deny_groups *dg)
{
	free(dg->seen);
	free(dg->g);
	memset(dg, 0, sizeof(*dg));
}
