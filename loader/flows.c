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

/*
 * Whether the user id of a flow still owns the flow's tunnel address: ids are reused after a
 * user leaves, and a departed user's flows must not carry the next one's name.
 */
static bool owner_ok(const int *addr_fd, const struct wgx_flow_key *k, uint32_t user_id)
{
	struct wgx_tun_user v;
	struct wgx_lpm6 l6 = { .prefixlen = 128 };
	struct wgx_lpm4 l4 = { .prefixlen = 32 };

	if (k->family == 4) {
		memcpy(&l4.addr, k->uaddr, 4);
		if (addr_fd[0] >= 0 && !bpf_map_lookup_elem(addr_fd[0], k->uaddr, &v))
			return v.user_id == user_id;
		return addr_fd[2] >= 0 && !bpf_map_lookup_elem(addr_fd[2], &l4, &v) &&
		       v.user_id == user_id;
	}
	memcpy(l6.addr, k->uaddr, 16);
	if (addr_fd[1] >= 0 && !bpf_map_lookup_elem(addr_fd[1], k->uaddr, &v))
		return v.user_id == user_id;
	return addr_fd[3] >= 0 && !bpf_map_lookup_elem(addr_fd[3], &l6, &v) &&
	       v.user_id == user_id;
}

/*
 * Lookups of names, owners and groups, remembered for one read: a table of 100,000 flows has
 * far fewer users and groups, and every lookup is a system call. Direct-mapped by id.
 */
#define MEMO_USERS	4096
#define MEMO_GROUPS	512

struct memo {
	struct {
		uint32_t id;
		uint8_t family, valid, found, owner;
		uint8_t addr[16];
		struct wgx_tun_name nm;
	} u[MEMO_USERS];
	struct {
		uint16_t id;
		uint8_t valid, found;
		char name[64];
	} g[MEMO_GROUPS];
};

/* The name of user id for a flow whose user address is k->uaddr; false if none or not hers. */
static bool memo_user(struct memo *m, const int *addr_fd, int names_fd,
		      const struct wgx_flow_key *k, uint32_t id, struct wgx_tun_name *nm)
{
	unsigned int h = (id * 2654435761u ^ k->uaddr[15] ^ k->uaddr[3] << 8) % MEMO_USERS;
	typeof(m->u[0]) *e = &m->u[h];

	if (!e->valid || e->id != id || e->family != k->family || memcmp(e->addr, k->uaddr, 16)) {
		e->valid = 1;
		e->id = id;
		e->family = k->family;
		memcpy(e->addr, k->uaddr, 16);
		e->owner = owner_ok(addr_fd, k, id);
		e->found = e->owner && names_fd >= 0 && !bpf_map_lookup_elem(names_fd, &id, &e->nm);
	}
	if (e->found)
		*nm = e->nm;
	return e->found;
}

static const char *memo_group(struct memo *m, int groups_fd, uint16_t gid)
{
	typeof(m->g[0]) *e = &m->g[gid % MEMO_GROUPS];
	struct wgx_tun_group grp;
	uint32_t g = gid;

	if (!e->valid || e->id != gid) {
		e->valid = 1;
		e->id = gid;
		e->found = groups_fd >= 0 && !bpf_map_lookup_elem(groups_fd, &g, &grp);
		if (e->found) {
			memcpy(e->name, grp.name, sizeof(e->name) - 1);
			e->name[sizeof(e->name) - 1] = 0;
		}
	}
	return e->found ? e->name : NULL;
}

static int flows_read(const char *pin_dir, const char *user, bool all, bool sorted,
		      struct wgx_flows *out)
{
	static const char *const addr_maps[4] = { "wgx_tun_addr4", "wgx_tun_addr6",
						  "wgx_tun_net4", "wgx_tun_net6" };
	int addr_fd[4];
	unsigned int m;
	struct wgx_flow_key *keys = NULL;
	struct wgx_flow *vals = NULL;
	struct bpf_map_info info = {};
	uint32_t info_len = sizeof(info), zero = 0;
	struct wgx_tun_name nm;
	struct memo *memo = NULL;
	const char *gname;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	int fd, names_fd = -1, groups_fd = -1, cfg_fd = -1, ret;
	size_t n = 0, i, k;

	memset(out, 0, sizeof(*out));
	fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_flows");
	if (fd < 0)
		return fd;
	for (m = 0; m < 4; m++)
		addr_fd[m] = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, addr_maps[m]);
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
	memo = calloc(1, sizeof(*memo));
	if (!out->recs || !memo) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = k = 0; i < n; i++) {
		struct wgx_flow_rec *r = &out->recs[k];

		r->key = keys[i];
		r->v = vals[i];
		r->live = wgx_flow_live(&out->cfg, keys[i].proto, &vals[i], now);
		if (!r->live && !all)
			continue;
		if (memo_user(memo, addr_fd, names_fd, &keys[i], vals[i].user_id, &nm)) {
			memcpy(r->user, nm.user, sizeof(r->user) - 1);
			memcpy(r->public_key, nm.public_key, sizeof(r->public_key));
		}
		if (user && strcmp(user, r->user))
			continue;
		k++;	/* kept: the rest only for the kept */
		gname = memo_group(memo, groups_fd, vals[i].group_id);
		if (gname)
			memcpy(r->group, gname, sizeof(r->group) - 1);
		r->first_real_ns = wgx_mono_to_real_ns(vals[i].first_ns);
		r->last_real_ns = wgx_mono_to_real_ns(vals[i].last_ns);
	}
	out->nr = k;
	if (sorted)
		qsort(out->recs, k, sizeof(*out->recs), rec_cmp);
	ret = 0;
out:
	if (ret)
		wgx_flows_free(out);
	free(memo);
	free(keys);
	free(vals);
	close(fd);
	if (names_fd >= 0)
		close(names_fd);
	if (groups_fd >= 0)
		close(groups_fd);
	if (cfg_fd >= 0)
		close(cfg_fd);
	for (m = 0; m < 4; m++)
		if (addr_fd[m] >= 0)
			close(addr_fd[m]);
	return ret;
}

struct count_ctx {
	struct wgx_flows_count *out;
	const struct wgx_tun_cfg *cfg;
	uint64_t now;
};

static int count_one(void *ctx, const void *key, const void *val)
{
	struct count_ctx *c = ctx;
	const struct wgx_flow_key *k = key;
	const struct wgx_flow *v = val;

	c->out->entries++;
	if (wgx_flow_live(c->cfg, k->proto, v, c->now))
		c->out->live++;
	return 0;
}

static int acct_one(void *ctx, const void *key, const void *val)
{
	struct wgx_flows_count *o = ctx;
	const struct wgx_tun_acct *a = val;

	o->ovf_pkts_out += a->ovf_pkts_out;
	o->ovf_bytes_out += a->ovf_bytes_out;
	o->ovf_pkts_in += a->ovf_pkts_in;
	o->ovf_bytes_in += a->ovf_bytes_in;
	o->refused += a->refused;
	o->starts_lost += a->starts_lost;
	return 0;
}

int wgx_flows_count(const char *pin_dir, struct wgx_flows_count *out)
{
	struct bpf_map_info info = {};
	uint32_t info_len = sizeof(info), zero = 0;
	struct wgx_tun_cfg cfg;
	struct count_ctx c = { .out = out, .cfg = &cfg };
	int fd, cfg_fd, ret;

	memset(out, 0, sizeof(*out));
	fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_flows");
	if (fd < 0)
		return fd;
	cfg_fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_cfg");
	if (cfg_fd < 0 || bpf_map_lookup_elem(cfg_fd, &zero, &cfg)) {
		ret = cfg_fd < 0 ? cfg_fd : -errno;
		goto out;
	}
	if (!bpf_obj_get_info_by_fd(fd, &info, &info_len))
		out->capacity = info.max_entries;
	c.now = clock_ns(CLOCK_MONOTONIC);
	ret = wgx_map_for_each(fd, sizeof(struct wgx_flow_key), sizeof(struct wgx_flow), count_one,
			       &c);
	if (!ret) {
		int acct_fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_acct");

		if (acct_fd >= 0) {
			ret = wgx_map_for_each(acct_fd, sizeof(__u32), sizeof(struct wgx_tun_acct),
					       acct_one, out);
			close(acct_fd);
		}
	}
out:
	close(fd);
	if (cfg_fd >= 0)
		close(cfg_fd);
	return ret;
}

int wgx_flows_reap(const char *pin_dir, struct wgx_flows *f)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	int fd, gone_fd, n = 0, err = 0;
	size_t i;

	fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_flows");
	if (fd < 0)
		return fd;
	gone_fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_fgone");
	if (gone_fd < 0) {
		close(fd);
		return gone_fd;
	}
	for (i = 0; i < f->nr; i++) {
		struct wgx_flow_rec *r = &f->recs[i];
		struct wgx_tun_fgone gone = {};
		struct wgx_flow v;

		if (r->live || r->reaped)
			continue;
		/* the last counts and the removal in one step: a packet is in v or in a new entry */
		if (bpf_map_lookup_and_delete_elem(fd, &r->key, &v))
			continue;	/* gone already (another daemon) */
		r->v = v;
		r->last_real_ns = wgx_mono_to_real_ns(v.last_ns);
		/*
		 * Revived since the read: put back, the flow goes on. Unless a packet made a new
		 * entry in between (then v is final like any removed entry, and the new one is
		 * another flow, counted against the quota on its own).
		 */
		if (wgx_flow_live(&f->cfg, r->key.proto, &v, now) &&
		    !bpf_map_update_elem(fd, &r->key, &v, BPF_NOEXIST)) {
			r->live = true;
			continue;
		}
		r->reaped = true;
		/* one reaper per pin dir (the daemon): a read, then a write */
		bpf_map_lookup_elem(gone_fd, &v.user_id, &gone);
		gone.flows++;
		if (v.flags & WGX_FLOW_F_INBOUND)
			gone.flows_in++;
		if (bpf_map_update_elem(gone_fd, &v.user_id, &gone, BPF_ANY))
			err = -errno;	/* her quota stays taken by this entry: said */
		n++;
	}
	close(gone_fd);
	close(fd);
	return err ? err : n;
}

int wgx_flows_gc(const char *pin_dir)
{
	struct wgx_flows f;
	int err = wgx_flows_read(pin_dir, NULL, true, &f);

	if (err)
		return err;
	err = wgx_flows_reap(pin_dir, &f);
	wgx_flows_free(&f);
	return err;
}

int wgx_flows_read(const char *pin_dir, const char *user, bool all, struct wgx_flows *out)
{
	return flows_read(pin_dir, user, all, true, out);
}

int wgx_flows_read_unsorted(const char *pin_dir, const char *user, bool all,
			    struct wgx_flows *out)
{
	return flows_read(pin_dir, user, all, false, out);
}

static int acct_cmp(const void *x, const void *y)
{
	const struct wgx_acct_rec *a = x, *b = y;

	return a->user_id < b->user_id ? -1 : a->user_id > b->user_id;
}

int wgx_flows_accounts(const char *pin_dir, struct wgx_acct_rec **out, size_t *nr)
{
	uint32_t *ids = NULL, zero = 0;
	struct wgx_tun_acct *vals = NULL;
	struct wgx_tun_cfg cfg = {};
	struct wgx_tun_name nm;
	struct wgx_acct_rec *recs;
	int fd, gone_fd, names_fd, cfg_fd, err;
	size_t n = 0, i;

	*out = NULL;
	*nr = 0;
	fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_acct");
	if (fd < 0)
		return fd;
	err = wgx_map_read_all(fd, sizeof(*ids), sizeof(*vals), (void **)&ids, (void **)&vals,
			       &n);
	close(fd);
	if (err)
		return err;
	recs = calloc(n + 1, sizeof(*recs));
	if (!recs) {
		free(ids);
		free(vals);
		return -ENOMEM;
	}
	gone_fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_fgone");
	names_fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_names");
	cfg_fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_cfg");
	if (cfg_fd >= 0)
		bpf_map_lookup_elem(cfg_fd, &zero, &cfg);
	for (i = 0; i < n; i++) {
		struct wgx_tun_fgone gone = {};

		recs[i].user_id = ids[i];
		recs[i].a = vals[i];
		if (gone_fd >= 0)
			bpf_map_lookup_elem(gone_fd, &ids[i], &gone);
		recs[i].entries = vals[i].flows > gone.flows ? vals[i].flows - gone.flows : 0;
		recs[i].entries_in = vals[i].flows_in > gone.flows_in ?
					     vals[i].flows_in - gone.flows_in : 0;
		recs[i].quota = cfg.flow_quota ?: WGX_TUN_FLOW_QUOTA;
		recs[i].quota_in = wgx_flow_quota_in(recs[i].quota);
		if (names_fd >= 0 && !bpf_map_lookup_elem(names_fd, &ids[i], &nm)) {
			memcpy(recs[i].user, nm.user, sizeof(recs[i].user) - 1);
			memcpy(recs[i].public_key, nm.public_key, 32);
		}
	}
	qsort(recs, n, sizeof(*recs), acct_cmp);
	if (gone_fd >= 0)
		close(gone_fd);
	if (names_fd >= 0)
		close(names_fd);
	if (cfg_fd >= 0)
		close(cfg_fd);
	free(ids);
	free(vals);
	*out = recs;
	*nr = n;
	return 0;
}
