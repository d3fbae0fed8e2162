// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The tunnel's flows with their names (flows.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "loader/flows.h"
#include "loader/mapio.h"
#include "loader/uplink.h"

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t wgx_mono_to_real_ns(uint64_t mono_ns)
{
	uint64_t real = clock_ns(CLOCK_REALTIME), mono = clock_ns(CLOCK_MONOTONIC);

	return mono_ns > mono ? real + (mono_ns - mono) : real - (mono - mono_ns);
}

const char *wgx_flow_state(const struct wgx_flow_key *k, const struct wgx_flow *v)
{
	uint32_t f = v->flags;

	if (k->proto != 6)	/* IPPROTO_TCP */
		return "-";
	if (f & WGX_FLOW_F_RST)
		return "reset";
	if ((f & (WGX_FLOW_F_FIN_OUT | WGX_FLOW_F_FIN_IN)) ==
	    (WGX_FLOW_F_FIN_OUT | WGX_FLOW_F_FIN_IN))
		return "closed";
	if (f & (WGX_FLOW_F_FIN_OUT | WGX_FLOW_F_FIN_IN))
		return "closing";
	return "open";
}

static int rec_cmp(const void *x, const void *y)
{
	const struct wgx_flow_rec *a = x, *b = y;
	int c = strcmp(a->user, b->user);

	if (c)
		return c;
	if (a->v.user_id != b->v.user_id)
		return a->v.user_id < b->v.user_id ? -1 : 1;
	return a->v.last_ns > b->v.last_ns ? -1 : a->v.last_ns < b->v.last_ns;
}

void wgx_flows_free(struct wgx_flows *f)
{
	free(f->recs);
	memset(f, 0, sizeof(*f));
}

int wgx_flows_read(const char *pin_dir, const char *user, bool all, struct wgx_flows *out)
{
	struct wgx_flow_key *keys = NULL;
	struct wgx_flow *vals = NULL;
	struct bpf_map_info info = {};
	uint32_t info_len = sizeof(info), zero = 0;
	struct wgx_tun_name nm;
	struct wgx_tun_group grp;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	int fd, names_fd = -1, groups_fd = -1, cfg_fd = -1, ret;
	size_t n = 0, i, k;

	memset(out, 0, sizeof(*out));
	fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_flows");
	if (fd < 0)
		return fd;
	names_fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_names");
	groups_fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_groups");
	cfg_fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_cfg");
	if (cfg_fd < 0 || bpf_map_lookup_elem(cfg_fd, &zero, &out->cfg)) {
		ret = cfg_fd < 0 ? cfg_fd : -errno;
		goto out;
	}
	if (!bpf_obj_get_info_by_fd(fd, &info, &info_len))
		out->capacity = info.max_entries;
	ret = wgx_map_read_all(fd, sizeof(*keys), sizeof(*vals), (void **)&keys, (void **)&vals,
			       &n);
	if (ret)
		goto out;
	out->nr_entries = n;
	out->recs = calloc(n + 1, sizeof(*out->recs));
	if (!out->recs) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = k = 0; i < n; i++) {
		struct wgx_flow_rec *r = &out->recs[k];
		uint64_t idle = now > vals[i].last_ns ? now - vals[i].last_ns : 0;

		r->key = keys[i];
		r->v = vals[i];
		r->live = idle <= (uint64_t)wgx_flow_timeout_s(&out->cfg, keys[i].proto,
							       vals[i].flags) * 1000000000ull;
		if (!r->live && !all)
			continue;
		if (names_fd >= 0 && !bpf_map_lookup_elem(names_fd, &vals[i].user_id, &nm)) {
			memcpy(r->user, nm.user, sizeof(r->user) - 1);
			memcpy(r->public_key, nm.public_key, sizeof(r->public_key));
		}
		if (user && strcmp(user, r->user))
			continue;
		k++;	/* kept: the rest only for the kept */
		grp.name[0] = 0;
		if (groups_fd >= 0) {
			uint32_t g = vals[i].group_id;

			if (!bpf_map_lookup_elem(groups_fd, &g, &grp))
				memcpy(r->group, grp.name, sizeof(r->group) - 1);
		}
		r->first_real_ns = wgx_mono_to_real_ns(vals[i].first_ns);
		r->last_real_ns = wgx_mono_to_real_ns(vals[i].last_ns);
	}
	out->nr = k;
	qsort(out->recs, k, sizeof(*out->recs), rec_cmp);
	ret = 0;
out:
	if (ret)
		wgx_flows_free(out);
	free(keys);
	free(vals);
	close(fd);
	if (names_fd >= 0)
		close(names_fd);
	if (groups_fd >= 0)
		close(groups_fd);
	if (cfg_fd >= 0)
		close(cfg_fd);
	return ret;
}
