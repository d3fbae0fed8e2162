// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The tunnel's policy maps (enforce.h): opened from the pins or created for tests, a whole
 * policy applied generation by generation, one user set or removed, and what they hold read
 * back (dump, explain). One writer at a time: the daemon.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "loader/enforce.h"
#include "loader/mapio.h"

const char *const wgx_enforce_map_names[WGX_EM__MAX] = {
	[WGX_EM_ADDR4] = "wgx_tun_addr4",	[WGX_EM_ADDR6] = "wgx_tun_addr6",
	[WGX_EM_NET4] = "wgx_tun_net4",		[WGX_EM_NET6] = "wgx_tun_net6",
	[WGX_EM_POL4] = "wgx_tun_pol4",		[WGX_EM_POL6] = "wgx_tun_pol6",
	[WGX_EM_IN4] = "wgx_tun_in4",		[WGX_EM_IN6] = "wgx_tun_in6",
	[WGX_EM_NAMES] = "wgx_tun_names",	[WGX_EM_GROUPS] = "wgx_tun_groups",
	[WGX_EM_PSETS] = "wgx_tun_psets",	[WGX_EM_CFG] = "wgx_tun_cfg",
};

static const struct map_def {
	enum bpf_map_type type;
	uint32_t key, value, max, flags;
	uint8_t inner;			/* family of the inner tries of an outer map */
} defs[WGX_EM__MAX] = {
	[WGX_EM_ADDR4] = { BPF_MAP_TYPE_HASH, 4, sizeof(struct wgx_tun_user), WGX_TUN_MAX_USERS,
			   BPF_F_NO_PREALLOC },
	[WGX_EM_ADDR6] = { BPF_MAP_TYPE_HASH, sizeof(struct wgx_in6), sizeof(struct wgx_tun_user),
			   WGX_TUN_MAX_USERS, BPF_F_NO_PREALLOC },
	[WGX_EM_NET4] = { BPF_MAP_TYPE_LPM_TRIE, sizeof(struct wgx_lpm4),
			  sizeof(struct wgx_tun_user), WGX_TUN_MAX_NETS, BPF_F_NO_PREALLOC },
	[WGX_EM_NET6] = { BPF_MAP_TYPE_LPM_TRIE, sizeof(struct wgx_lpm6),
			  sizeof(struct wgx_tun_user), WGX_TUN_MAX_NETS, BPF_F_NO_PREALLOC },
	[WGX_EM_POL4] = { BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, WGX_TUN_MAX_POLICIES, 0, 4 },
	[WGX_EM_POL6] = { BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, WGX_TUN_MAX_POLICIES, 0, 6 },
	[WGX_EM_IN4] = { BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, WGX_TUN_MAX_POLICIES, 0, 4 },
	[WGX_EM_IN6] = { BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, WGX_TUN_MAX_POLICIES, 0, 6 },
	[WGX_EM_NAMES] = { BPF_MAP_TYPE_HASH, 4, sizeof(struct wgx_tun_name), WGX_TUN_MAX_USERS,
			   BPF_F_NO_PREALLOC },
	[WGX_EM_GROUPS] = { BPF_MAP_TYPE_HASH, 4, sizeof(struct wgx_tun_group),
			    WGX_TUN_MAX_GROUPS, BPF_F_NO_PREALLOC },
	[WGX_EM_PSETS] = { BPF_MAP_TYPE_HASH, 4, sizeof(struct wgx_tun_pset),
			   WGX_TUN_MAX_POLICIES, BPF_F_NO_PREALLOC },
	[WGX_EM_CFG] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct wgx_tun_cfg), 1, 0 },
};

/* The outer maps by trie slot: allow 4, allow 6, inbound 4, inbound 6. */
static const enum wgx_enforce_map trie_maps[4] = {
	WGX_EM_POL4, WGX_EM_POL6, WGX_EM_IN4, WGX_EM_IN6,
};

/* Each set of groups at most this often per generation: old and new fit in the maps. */
#define MAX_SETS	(WGX_TUN_MAX_POLICIES / 2)

struct set_rec {
	uint32_t policy_id;
	unsigned int nr;
	unsigned int groups[WGX_TUN_MAX_USER_GROUPS];	/* sorted, distinct */
};

struct user_rec {
	bool used;
	uint32_t policy_id;
	struct wgx_tun_name name;
	struct wgx_prefix *addrs;
	unsigned int nr_addrs;
};

struct wgx_enforce {
	int fd[WGX_EM__MAX];
	uint32_t id;
	/* what the maps hold (after an apply, or read back for user_set) */
	bool have_state;
	uint32_t generation;
	struct set_rec *sets;
	unsigned int nr_sets;
	struct user_rec *users;		/* by user id */
	unsigned int nr_users;
	char **groups;			/* the applied policy's group names, by group id */
	unsigned int nr_groups;
	/* spare sets: see wgx_enforce_refill() */
	uint32_t spare[WGX_ENFORCE_SPARE_SETS];
	unsigned int nr_spare;
	int acct_fd;			/* the tunnel's wgx_tun_acct (read only), or -1 */
	uint8_t *accounted;		/* ids that held an account (WGX_TUN_MAX_USERS flags):
					 * read once, then kept (an id never loses its account) */
};

__attribute__((format(printf, 3, 4)))
static int seterr(struct wgx_policy_err *err, const char *where, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return 0;
	snprintf(err->where, sizeof(err->where), "%s", where);
	va_start(ap, fmt);
	vsnprintf(err->why, sizeof(err->why), fmt, ap);
	va_end(ap);
	return 0;
}

/* ---- map helpers ---- */

static int create_inner(uint8_t family)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);

	return bpf_map_create(BPF_MAP_TYPE_LPM_TRIE,
			      family == 4 ? "wgx_tun_trie4" : "wgx_tun_trie6",
			      family == 4 ? sizeof(struct wgx_lpm4) : sizeof(struct wgx_lpm6),
			      sizeof(struct wgx_tun_rules), WGX_TUN_MAX_PREFIXES, &o);
}

void wgx_enforce_fds_close(struct wgx_enforce_fds *fds)
{
	unsigned int i;

	for (i = 0; i < WGX_EM__MAX; i++) {
		if (fds->fd[i] >= 0)
			close(fds->fd[i]);
		fds->fd[i] = -1;
	}
}

int wgx_enforce_create_maps(struct wgx_enforce_fds *fds)
{
	unsigned int i;
	int tmpl;

	for (i = 0; i < WGX_EM__MAX; i++)
		fds->fd[i] = -1;
	for (i = 0; i < WGX_EM__MAX; i++) {
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = defs[i].flags);

		tmpl = -1;
		if (defs[i].inner) {
			tmpl = create_inner(defs[i].inner);
			if (tmpl < 0)
				goto fail;
			o.inner_map_fd = tmpl;
		}
		fds->fd[i] = bpf_map_create(defs[i].type, wgx_enforce_map_names[i], defs[i].key,
					    defs[i].value, defs[i].max, &o);
		if (tmpl >= 0)
			close(tmpl);
		if (fds->fd[i] < 0) {
			tmpl = fds->fd[i];
			goto fail;
		}
	}
	return 0;
fail:
	wgx_enforce_fds_close(fds);
	return tmpl;
}

static int check_map(int fd, unsigned int i, uint32_t *id, struct wgx_policy_err *err)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != defs[i].type || info.key_size != defs[i].key ||
	    info.value_size != defs[i].value) {
		seterr(err, wgx_enforce_map_names[i], "map type %u, key %u, value %u bytes; "
		       "expected type %u, key %u, value %u (maps/wgxdp.h)", info.type,
		       info.key_size, info.value_size, defs[i].type, defs[i].key, defs[i].value);
		return -EPROTO;
	}
	if (id)
		*id = info.id;
	return 0;
}

static int open_fds(int *fd, struct wgx_enforce **out, struct wgx_policy_err *err)
{
	struct wgx_enforce *e;
	unsigned int i;
	int ret;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (!e) {
		for (i = 0; i < WGX_EM__MAX; i++)
			close(fd[i]);
		return -ENOMEM;
	}
	memcpy(e->fd, fd, sizeof(e->fd));
	e->acct_fd = -1;
	for (i = 0; i < WGX_EM__MAX; i++) {
		ret = check_map(e->fd[i], i, i == WGX_EM_CFG ? &e->id : NULL, err);
		if (ret) {
			wgx_enforce_close(e);
			return ret;
		}
	}
	*out = e;
	return 0;
}

int wgx_enforce_from_fds(const struct wgx_enforce_fds *fds, struct wgx_enforce **out,
			 struct wgx_policy_err *err)
{
	int fd[WGX_EM__MAX];
	unsigned int i, j;

	for (i = 0; i < WGX_EM__MAX; i++) {
		fd[i] = dup(fds->fd[i]);
		if (fd[i] < 0) {
			int ret = -errno;

			for (j = 0; j < i; j++)
				close(fd[j]);
			return ret;
		}
	}
	return open_fds(fd, out, err);
}

static int open_pin(const char *pin_dir, unsigned int i)
{
	char path[512];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", pin_dir, WGX_PIN_SUB_TUNNEL,
			     wgx_enforce_map_names[i]) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int wgx_enforce_open(const char *pin_dir, struct wgx_enforce **out, struct wgx_policy_err *err)
{
	int fd[WGX_EM__MAX], ret;
	unsigned int i, j;

	*out = NULL;
	for (i = 0; i < WGX_EM__MAX; i++) {
		fd[i] = open_pin(pin_dir, i);
		if (fd[i] < 0) {
			ret = fd[i];
			seterr(err, wgx_enforce_map_names[i], "%s", ret == -ENOENT ?
			       "not pinned: the tunnel is not attached" : strerror(-ret));
			for (j = 0; j < i; j++)
				close(fd[j]);
			return ret;
		}
	}
	ret = open_fds(fd, out, err);
	if (!ret) {
		char path[512];

		/* ids with an account are given to new users last (assign_ids) */
		if ((size_t)snprintf(path, sizeof(path), "%s/%s/wgx_tun_acct", pin_dir,
				     WGX_PIN_SUB_TUNNEL) < sizeof(path))
			(*out)->acct_fd = bpf_obj_get_opts(path, &(struct bpf_obj_get_opts){
				.sz = sizeof(struct bpf_obj_get_opts),
				.file_flags = BPF_F_RDONLY });
	}
	return ret;
}

int wgx_enforce_maps_id(const char *pin_dir, uint32_t *id)
{
	int fd = open_pin(pin_dir, WGX_EM_CFG), ret;

	if (fd < 0)
		return fd;
	ret = check_map(fd, WGX_EM_CFG, id, NULL);
	close(fd);
	return ret;
}

uint32_t wgx_enforce_id(const struct wgx_enforce *e)
{
	return e->id;
}

static void state_clear(struct wgx_enforce *e)
{
	unsigned int i;

	for (i = 0; i < e->nr_users; i++)
		free(e->users[i].addrs);
	free(e->users);
	for (i = 0; i < e->nr_groups; i++)
		free(e->groups[i]);
	free(e->groups);
	free(e->sets);
	e->users = NULL;
	e->groups = NULL;
	e->sets = NULL;
	e->nr_users = e->nr_groups = e->nr_sets = e->nr_spare = 0;
	e->have_state = false;
}

void wgx_enforce_close(struct wgx_enforce *e)
{
	unsigned int i;

	if (!e)
		return;
	for (i = 0; i < WGX_EM__MAX; i++)
		if (e->fd[i] >= 0)
			close(e->fd[i]);
	if (e->acct_fd >= 0)
		close(e->acct_fd);
	free(e->accounted);
	state_clear(e);
	free(e);
}

/* n elements into fd (each update atomic): batched where the map type allows it. */
static int update_many(int fd, const void *keys, const void *vals, size_t n, size_t ksz,
		       size_t vsz)
{
	const char *k = keys, *v = vals;
	size_t done = 0, i;
	uint32_t count;
	int ret;

	while (done < n) {
		count = n - done > 8192 ? 8192 : n - done;
		ret = bpf_map_update_batch(fd, k + done * ksz, v + done * vsz, &count, NULL);
		if (!ret) {
			done += count;
			continue;
		}
		if (!wgx_map_batch_unsupported(ret) || count)
			return ret;
		for (i = done; i < n; i++) {
			ret = bpf_map_update_elem(fd, k + i * ksz, v + i * vsz, BPF_ANY);
			if (ret)
				return ret;
		}
		return 0;
	}
	return 0;
}

/* Deletes n keys from fd, batched where the map type allows it; a missing key is skipped. */
static void delete_many(int fd, const void *keys, size_t n, size_t ksz)
{
	const char *k = keys;
	size_t done = 0;
	uint32_t count;
	int ret;

	while (done < n) {
		count = n - done > 8192 ? 8192 : n - done;
		ret = bpf_map_delete_batch(fd, k + done * ksz, &count, NULL);
		done += count;
		if (!ret)
			continue;
		if (!count && wgx_map_batch_unsupported(ret))
			break;
		done++;		/* the key that failed (gone already) */
	}
	for (; done < n; done++)
		bpf_map_delete_elem(fd, k + done * ksz);
}

/*
 * Updating or deleting in a map of maps waits for an RCU grace period (the kernel's
 * maybe_wait_bpf_programs), once per syscall: batch, and run the outer maps in parallel so
 * that their waits overlap.
 */
struct outer_op {
	pthread_t thread;
	int fd, ret;
	const uint32_t *keys;
	const int *fds;			/* NULL: delete */
	size_t n;
	bool started;
};

static void *outer_run(void *arg)
{
	struct outer_op *op = arg;

	if (op->fds)
		op->ret = update_many(op->fd, op->keys, op->fds, op->n, 4, 4);
	else
		delete_many(op->fd, op->keys, op->n, 4);
	return NULL;
}

/* ops[0..4) at once; 0 or the first error. */
static int outer_ops(struct outer_op *ops)
{
	unsigned int t, busy = 0;
	int ret = 0;

	for (t = 0; t < 4; t++)
		busy += !!ops[t].n;
	for (t = 0; t < 4; t++) {
		if (!ops[t].n)
			continue;
		ops[t].started = busy > 1 && !pthread_create(&ops[t].thread, NULL, outer_run,
							     &ops[t]);
		if (!ops[t].started)
			outer_run(&ops[t]);
	}
	for (t = 0; t < 4; t++) {
		if (ops[t].started)
			pthread_join(ops[t].thread, NULL);
		if (ops[t].n && ops[t].ret && !ret)
			ret = ops[t].ret;
	}
	return ret;
}


static uint16_t gen16(uint32_t policy_id)
{
	return policy_id >> 16;
}

static int read_cfg(struct wgx_enforce *e, struct wgx_tun_cfg *cfg)
{
	uint32_t zero = 0;

	return bpf_map_lookup_elem(e->fd[WGX_EM_CFG], &zero, cfg);
}

/*
 * The keys of a __u32-keyed map, into *out (malloc'ed, *nr of them): with other_gen, those
 * whose generation is not arg; else those from arg on.
 */
static int keys_where(int fd, size_t vsz, bool other_gen, uint32_t arg, uint32_t **out,
		      size_t *nr)
{
	uint32_t *keys;
	void *vals;
	size_t n, i, k;
	int ret;

	*out = NULL;
	*nr = 0;
	ret = wgx_map_read_all(fd, 4, vsz, (void **)&keys, &vals, &n);
	if (ret)
		return ret;
	for (i = k = 0; i < n; i++)
		if (other_gen ? gen16(keys[i]) != arg : keys[i] >= arg)
			keys[k++] = keys[i];
	*out = keys;
	*nr = k;
	free(vals);
	return 0;
}

/* Deletes the elements of a __u32-keyed map with a key from "from" on. */
static void delete_ids_from(int fd, size_t vsz, uint32_t from)
{
	uint32_t *keys;
	size_t n;

	if (!keys_where(fd, vsz, false, from, &keys, &n))
		delete_many(fd, keys, n, 4);
	free(keys);
}

/* ---- group sets ---- */

/* The groups of u as a sorted set of indexes into p->groups. */
static int user_set_of(const struct wgx_policy *p, const struct wgx_user *u, struct set_rec *s,
		       const char *where, struct wgx_policy_err *err)
{
	unsigned int i, j, g;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < u->nr_groups; i++) {
		if (u->groups) {
			g = u->groups[i];
		} else {
			for (g = 0; g < p->nr_groups; g++)
				if (!strcmp(p->groups[g].name, u->group_names[i]))
					break;
			if (g == p->nr_groups) {
				seterr(err, where, "%s: unknown group \"%s\"", u->name,
				       u->group_names[i]);
				return -EINVAL;
			}
		}
		if (g >= p->nr_groups) {
			seterr(err, where, "%s: group index %u out of range", u->name, g);
			return -EINVAL;
		}
		for (j = 0; j < s->nr && s->groups[j] < g; j++)
			;
		if (j < s->nr && s->groups[j] == g)
			continue;
		if (s->nr == WGX_TUN_MAX_USER_GROUPS) {
			seterr(err, where, "%s: more than %u groups", u->name,
			       WGX_TUN_MAX_USER_GROUPS);
			return -E2BIG;
		}
		memmove(&s->groups[j + 1], &s->groups[j], (s->nr - j) * sizeof(s->groups[0]));
		s->groups[j] = g;
		s->nr++;
	}
	return 0;
}

static bool same_set(const struct set_rec *a, const struct set_rec *b)
{
	return a->nr == b->nr && !memcmp(a->groups, b->groups, a->nr * sizeof(a->groups[0]));
}

static uint32_t set_hash(const struct set_rec *s)
{
	uint32_t h = 2166136261u;
	unsigned int i;

	for (i = 0; i < s->nr; i++)
		h = (h ^ s->groups[i]) * 16777619u;
	return h ^ s->nr;
}

static void pset_of(const struct set_rec *s, struct wgx_tun_pset *ps)
{
	unsigned int i;

	memset(ps, 0, sizeof(*ps));
	ps->nr = s->nr;
	for (i = 0; i < s->nr; i++)
		ps->group_id[i] = s->groups[i];
}

/* Deletes the tries and psets of the policy ids pids[0..n) (a clean-up: errors ignored). */
static void drop_sets(struct wgx_enforce *e, const uint32_t *pids, size_t n)
{
	struct outer_op ops[4] = {};
	unsigned int t;

	for (t = 0; t < 4; t++)
		ops[t] = (struct outer_op){ .fd = e->fd[trie_maps[t]], .keys = pids, .n = n };
	outer_ops(ops);
	delete_many(e->fd[WGX_EM_PSETS], pids, n, 4);
}

static void lpm_key(const struct wgx_prefix *p, void *key)
{
	if (p->family == 4) {
		struct wgx_lpm4 *k = key;

		k->prefixlen = p->plen;
		memcpy(&k->addr, p->addr, 4);
	} else {
		struct wgx_lpm6 *k = key;

		k->prefixlen = p->plen;
		memcpy(k->addr, p->addr, 16);
	}
}

/* Writes t's entries into the inner trie fd of family, for outer map m. 0 or -errno. */
static int put_trie(int fd, enum wgx_enforce_map m, const struct wgx_enforce_trie *t,
		    uint8_t family, struct wgx_policy_err *err)
{
	size_t ksz = family == 4 ? sizeof(struct wgx_lpm4) : sizeof(struct wgx_lpm6), i;
	struct wgx_tun_rules *vals;
	char *keys;
	int ret;

	keys = calloc(t->nr + 1, ksz);
	vals = calloc(t->nr + 1, sizeof(*vals));
	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < t->nr; i++) {
		lpm_key(&t->entries[i].key, keys + i * ksz);
		vals[i] = t->entries[i].rules;
	}
	ret = update_many(fd, keys, vals, t->nr, ksz, sizeof(*vals));
out:
	if (ret)
		seterr(err, wgx_enforce_map_names[m], "filling an inner trie: %s", strerror(-ret));
	free(keys);
	free(vals);
	return ret;
}

/* A new inner trie of family filled from t, for outer map m: its fd, or -errno. */
static int fill_trie(enum wgx_enforce_map m, const struct wgx_enforce_trie *t, uint8_t family,
		     struct wgx_policy_err *err)
{
	int fd, ret;

	fd = create_inner(family);
	if (fd < 0) {
		seterr(err, wgx_enforce_map_names[m], "creating an inner trie: %s", strerror(-fd));
		return fd;
	}
	ret = put_trie(fd, m, t, family, err);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* Sets installed per round: their inner tries' fds stay open until the round's insert. */
#define SETS_PER_ROUND	128

/*
 * Compiles sets[0..n) (their policy ids set) and installs their tries and psets, a round of
 * sets at a time (one batch per outer map, the four at once). Nothing left behind on error.
 */
static int install_sets(struct wgx_enforce *e, const struct wgx_policy *p,
			const struct set_rec *sets, size_t n, struct wgx_policy_err *err)
{
	uint32_t keys[4][SETS_PER_ROUND], pids[SETS_PER_ROUND];
	int fds[4][SETS_PER_ROUND];
	struct wgx_tun_pset ps[SETS_PER_ROUND];
	struct outer_op ops[4];
	struct wgx_enforce_trie tr;
	size_t done, i, k, nr[4];
	unsigned int t;
	int ret = 0, fd;

	for (done = 0; done < n && !ret; done += k) {
		memset(nr, 0, sizeof(nr));
		for (k = 0; k < SETS_PER_ROUND && done + k < n && !ret; k++) {
			const struct set_rec *s = &sets[done + k];

			pids[k] = s->policy_id;
			pset_of(s, &ps[k]);
			for (t = 0; t < 4 && !ret; t++) {
				uint8_t family = t & 1 ? 6 : 4;

				ret = wgx_enforce_compile(p, s->groups, s->nr, family, t >= 2, &tr,
							  err);
				if (!ret && tr.nr) {
					fd = fill_trie(trie_maps[t], &tr, family, err);
					if (fd < 0) {
						ret = fd;
					} else {
						keys[t][nr[t]] = s->policy_id;
						fds[t][nr[t]++] = fd;
					}
				}
				wgx_enforce_trie_free(&tr);
			}
		}
		if (!ret) {
			ret = update_many(e->fd[WGX_EM_PSETS], pids, ps, k, 4, sizeof(ps[0]));
			if (ret)
				seterr(err, "wgx_tun_psets", "%s", strerror(-ret));
		}
		if (!ret) {
			for (t = 0; t < 4; t++)
				ops[t] = (struct outer_op){ .fd = e->fd[trie_maps[t]],
							    .keys = keys[t], .fds = fds[t],
							    .n = nr[t] };
			ret = outer_ops(ops);
			for (t = 0; t < 4 && ret; t++)
				if (ops[t].n && ops[t].ret)
					seterr(err, wgx_enforce_map_names[trie_maps[t]],
					       "inserting the inner tries: %s%s", strerror(-ret),
					       ret == -EINVAL ? " (are the inner maps LPM "
					       "tries with BPF_F_NO_PREALLOC and "
					       "WGX_TUN_MAX_PREFIXES entries?)" : "");
		}
		for (t = 0; t < 4; t++)
			for (i = 0; i < nr[t]; i++)
				close(fds[t][i]);
	}
	if (ret) {
		uint32_t *all = calloc(done + 1, sizeof(*all));

		if (all) {
			for (i = 0; i < done && i < n; i++)
				all[i] = sets[i].policy_id;
			drop_sets(e, all, i);
		}
		free(all);
	}
	return ret;
}

/* ---- apply ---- */

struct addr_ref {
	const struct wgx_prefix *a;
	unsigned int user;
};

static int addr_ref_cmp(const void *x, const void *y)
{
	const struct wgx_prefix *a = ((const struct addr_ref *)x)->a;
	const struct wgx_prefix *b = ((const struct addr_ref *)y)->a;
	int r;

	if (a->family != b->family)
		return a->family - b->family;
	r = memcmp(a->addr, b->addr, 16);
	return r ? r : a->plen - b->plen;
}

static bool is_host(const struct wgx_prefix *a)
{
	return a->plen == (a->family == 4 ? 32 : 128);
}

struct name_ref {
	const char *name;
	unsigned int user;
};

static int name_ref_cmp(const void *x, const void *y)
{
	return strcmp(((const struct name_ref *)x)->name, ((const struct name_ref *)y)->name);
}

static const char *user_where(const struct wgx_policy *p, unsigned int i, char *buf, size_t len)
{
	if (i < p->nr_users)
		snprintf(buf, len, "users[%u]", i);
	else
		snprintf(buf, len, "extra[%u]", i - p->nr_users);
	return buf;
}

/* Names distinct, no address shared or nested between users: O(n log n). */
static int check_users(const struct wgx_policy *p, const struct wgx_user *const *u,
		       unsigned int n, size_t *nr_nets, struct wgx_policy_err *err)
{
	struct name_ref *names = calloc(n + 1, sizeof(*names));
	struct addr_ref *refs = NULL, **stack = NULL;
	size_t nr = 0, top = 0, i;
	unsigned int k, a;
	char w[32], pa[64], pb[64];
	int ret = 0;

	*nr_nets = 0;
	for (k = 0; k < n; k++)
		nr += u[k]->nr_addresses;
	refs = calloc(nr + 1, sizeof(*refs));
	stack = calloc(nr + 1, sizeof(*stack));
	if (!names || !refs || !stack) {
		ret = -ENOMEM;
		goto out;
	}
	for (k = 0; k < n; k++)
		names[k] = (struct name_ref){ u[k]->name, k };
	qsort(names, n, sizeof(*names), name_ref_cmp);
	for (k = 1; k < n; k++) {
		if (strcmp(names[k].name, names[k - 1].name))
			continue;
		a = names[k].user > names[k - 1].user ? names[k].user : names[k - 1].user;
		seterr(err, user_where(p, a, w, sizeof(w)), "%s: a second user of that name",
		       names[k].name);
		ret = -EINVAL;
		goto out;
	}
	nr = 0;
	for (k = 0; k < n; k++)
		for (a = 0; a < u[k]->nr_addresses; a++) {
			refs[nr++] = (struct addr_ref){ &u[k]->addresses[a], k };
			*nr_nets += !is_host(&u[k]->addresses[a]);
		}
	qsort(refs, nr, sizeof(*refs), addr_ref_cmp);
	for (i = 0; i < nr; i++) {
		while (top && !wgx_prefix_overlap(stack[top - 1]->a, refs[i].a))
			top--;
		if (top) {
			wgx_prefix_format(refs[i].a, pa, sizeof(pa));
			wgx_prefix_format(stack[top - 1]->a, pb, sizeof(pb));
			seterr(err, user_where(p, refs[i].user, w, sizeof(w)),
			       "%s: address %s overlaps %s of %s", u[refs[i].user]->name, pa, pb,
			       u[stack[top - 1]->user]->name);
			ret = -EINVAL;
			goto out;
		}
		stack[top++] = &refs[i];
	}
out:
	free(names);
	free(refs);
	free(stack);
	return ret;
}

/* The address entries of users, by map: keys and values to write. */
struct addr_batch {
	void *keys[4];
	struct wgx_tun_user *vals[4];
	size_t n[4];
};

static const size_t addr_ksz[4] = { 4, sizeof(struct wgx_in6), sizeof(struct wgx_lpm4),
				    sizeof(struct wgx_lpm6) };

/* Which of ADDR4, ADDR6, NET4, NET6 (0..3, the enum's order) holds address a. */
static unsigned int addr_map(const struct wgx_prefix *a)
{
	return (a->family == 6) + 2 * !is_host(a);
}

static void addr_key(const struct wgx_prefix *a, void *key)
{
	if (is_host(a))
		memcpy(key, a->addr, a->family == 4 ? 4 : 16);
	else
		lpm_key(a, key);
}

static void addr_batch_free(struct addr_batch *b)
{
	unsigned int m;

	for (m = 0; m < 4; m++) {
		free(b->keys[m]);
		free(b->vals[m]);
	}
}

struct addr_item {
	char key[sizeof(struct wgx_lpm6)];
	struct wgx_tun_user v;
};

static int addr_item_cmp(const void *x, const void *y, void *ksz)
{
	return memcmp(((const struct addr_item *)x)->key, ((const struct addr_item *)y)->key,
		      *(const size_t *)ksz);
}

static int addr_batch_build(struct addr_batch *b, const struct wgx_user *const *u,
			    unsigned int n, const uint32_t *pids, const uint32_t *uid)
{
	struct addr_item *items;
	size_t cap[4] = {};
	unsigned int k, a, m;

	memset(b, 0, sizeof(*b));
	for (k = 0; k < n; k++)
		for (a = 0; a < u[k]->nr_addresses; a++)
			cap[addr_map(&u[k]->addresses[a])]++;
	for (m = 0; m < 4; m++) {
		b->keys[m] = calloc(cap[m] + 1, addr_ksz[m]);
		b->vals[m] = calloc(cap[m] + 1, sizeof(struct wgx_tun_user));
		if (!b->keys[m] || !b->vals[m]) {
			addr_batch_free(b);
			return -ENOMEM;
		}
	}
	items = calloc(cap[0] + cap[1] + cap[2] + cap[3] + 1, sizeof(*items));
	if (!items) {
		addr_batch_free(b);
		return -ENOMEM;
	}
	for (m = 0; m < 4; m++) {
		size_t nr = 0, i;

		for (k = 0; k < n; k++)
			for (a = 0; a < u[k]->nr_addresses; a++) {
				if (addr_map(&u[k]->addresses[a]) != m)
					continue;
				memset(&items[nr], 0, sizeof(items[nr]));
				addr_key(&u[k]->addresses[a], items[nr].key);
				items[nr++].v = (struct wgx_tun_user){ uid[k], pids[k] };
			}
		/* sorted by key bytes, for in_batch */
		qsort_r(items, nr, sizeof(*items), addr_item_cmp, (void *)&addr_ksz[m]);
		for (i = 0; i < nr; i++) {
			memcpy((char *)b->keys[m] + i * addr_ksz[m], items[i].key, addr_ksz[m]);
			b->vals[m][i] = items[i].v;
		}
		b->n[m] = nr;
	}
	free(items);
	return 0;
}

/* Whether key is among the new entries of address map m (sorted by key bytes). */
static bool in_batch(const struct addr_batch *b, unsigned int m, const void *key)
{
	size_t lo = 0, hi = b->n[m], mid;
	int r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = memcmp((const char *)b->keys[m] + mid * addr_ksz[m], key, addr_ksz[m]);
		if (!r)
			return true;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* The old entries, to put back if the switch fails. */
struct snapshot {
	void *keys[4], *vals[4];
	size_t n[4];
	void *nkeys, *nvals;
	size_t nn;
};

static void snapshot_free(struct snapshot *s)
{
	unsigned int m;

	for (m = 0; m < 4; m++) {
		free(s->keys[m]);
		free(s->vals[m]);
	}
	free(s->nkeys);
	free(s->nvals);
}

static int snapshot_take(struct wgx_enforce *e, struct snapshot *s)
{
	unsigned int m;
	int ret = 0;

	memset(s, 0, sizeof(*s));
	for (m = 0; m < 4 && !ret; m++)
		ret = wgx_map_read_all(e->fd[WGX_EM_ADDR4 + m], addr_ksz[m], sizeof(struct wgx_tun_user),
			       &s->keys[m], &s->vals[m], &s->n[m]);
	if (!ret)
		ret = wgx_map_read_all(e->fd[WGX_EM_NAMES], 4, sizeof(struct wgx_tun_name), &s->nkeys,
			       &s->nvals, &s->nn);
	if (ret)
		snapshot_free(s);
	return ret;
}

/* Puts the old entries back and removes the new ones (of generation gen) no old one hid. */
static void snapshot_restore(struct wgx_enforce *e, struct snapshot *s,
			     const struct addr_batch *b, uint16_t gen)
{
	struct wgx_tun_user v;
	unsigned int m;
	size_t i;

	for (m = 0; m < 4; m++) {
		int fd = e->fd[WGX_EM_ADDR4 + m];

		update_many(fd, s->keys[m], s->vals[m], s->n[m], addr_ksz[m], sizeof(v));
		for (i = 0; i < b->n[m]; i++) {
			const char *k = (const char *)b->keys[m] + i * addr_ksz[m];

			if (!bpf_map_lookup_elem(fd, k, &v) && gen16(v.policy_id) == gen)
				bpf_map_delete_elem(fd, k);
		}
	}
	update_many(e->fd[WGX_EM_NAMES], s->nkeys, s->nvals, s->nn, 4,
		    sizeof(struct wgx_tun_name));
}

static void name_of(const struct wgx_user *u, struct wgx_tun_name *n)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->user, sizeof(n->user), "%s", u->name);
	memcpy(n->public_key, u->public_key, sizeof(n->public_key));
}

static int user_rec_set(struct user_rec *r, const struct wgx_user *u, uint32_t pid)
{
	struct wgx_prefix *a = calloc(u->nr_addresses + 1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	memcpy(a, u->addresses, u->nr_addresses * sizeof(*a));
	free(r->addrs);
	r->addrs = a;
	r->nr_addrs = u->nr_addresses;
	r->used = true;
	r->policy_id = pid;
	name_of(u, &r->name);
	return 0;
}

struct old_id {
	const char *name;
	const uint8_t *key;
	uint32_t id;
};

static int old_id_cmp(const void *x, const void *y)
{
	return strcmp(((const struct old_id *)x)->name, ((const struct old_id *)y)->name);
}

/*
 * The ids that held an account in the tunnel (wgx_tun_acct: traffic counted under them), as
 * WGX_TUN_MAX_USERS flags: the map's keys read once (a key-only walk), then kept up to date
 * by marking every id handed out. NULL if there is no account map (or no memory).
 */
static const uint8_t *accounted_ids(struct wgx_enforce *e)
{
	uint32_t key, next;
	int ret;

	if (e->accounted || e->acct_fd < 0)
		return e->accounted;
	e->accounted = calloc(WGX_TUN_MAX_USERS, 1);
	if (!e->accounted)
		return NULL;
	for (ret = bpf_map_get_next_key(e->acct_fd, NULL, &next); !ret;
	     ret = bpf_map_get_next_key(e->acct_fd, &key, &next)) {
		if (next < WGX_TUN_MAX_USERS)
			e->accounted[next] = 1;
		key = next;
	}
	return e->accounted;
}

static void id_taken(struct wgx_enforce *e, uint32_t id)
{
	if (e->accounted && id < WGX_TUN_MAX_USERS)
		e->accounted[id] = 1;
}

/*
 * The user ids of u[0..n) into uid[]: a user the maps already hold (same name, same key)
 * keeps her id, so that what is counted by user id (flows, denies) stays hers across
 * reloads and restarts; the others get the lowest free ids that never held an account (the
 * tunnel's totals of an id are never reset: a new user under an old user's id would take
 * them over), or once all have, the lowest free ones. 0 or -ENOMEM.
 */
static int assign_ids(struct wgx_enforce *e, const struct wgx_user *const *u,
		      unsigned int n, uint32_t *uid)
{
	struct old_id *old = NULL, q, *hit;
	unsigned int nr_old = 0, i, k;
	uint8_t *taken = NULL;
	const uint8_t *accounted;
	uint32_t next = 0, fresh = 0;

	taken = calloc(WGX_TUN_MAX_USERS, 1);
	old = calloc(e->nr_users + 1, sizeof(*old));
	if (!taken || !old) {
		free(taken);
		free(old);
		return -ENOMEM;
	}
	for (i = 0; e->have_state && i < e->nr_users && i < WGX_TUN_MAX_USERS; i++)
		if (e->users[i].used)
			old[nr_old++] = (struct old_id){ e->users[i].name.user,
							 e->users[i].name.public_key, i };
	qsort(old, nr_old, sizeof(*old), old_id_cmp);
	for (k = 0; k < n; k++) {
		uid[k] = WGX_USER_NONE;
		q.name = u[k]->name;
		hit = nr_old ? bsearch(&q, old, nr_old, sizeof(*old), old_id_cmp) : NULL;
		if (hit && !memcmp(hit->key, u[k]->public_key, 32) && !taken[hit->id]) {
			uid[k] = hit->id;
			taken[hit->id] = 1;
		}
	}
	accounted = accounted_ids(e);
	for (k = 0; k < n; k++) {
		if (uid[k] != WGX_USER_NONE)
			continue;
		while (fresh < WGX_TUN_MAX_USERS &&
		       (taken[fresh] || (accounted && accounted[fresh])))
			fresh++;
		if (fresh < WGX_TUN_MAX_USERS) {
			uid[k] = fresh;
			taken[fresh] = 1;
			continue;
		}
		while (next < WGX_TUN_MAX_USERS && taken[next])
			next++;
		uid[k] = next;		/* n <= WGX_TUN_MAX_USERS: always one free */
		taken[next] = 1;
	}
	for (k = 0; k < n; k++)
		id_taken(e, uid[k]);
	free(taken);
	free(old);
	return 0;
}

static int remember(struct wgx_enforce *e, const struct wgx_policy *p,
		    const struct wgx_user *const *u, unsigned int n, const uint32_t *pids,
		    const uint32_t *uid, struct set_rec *sets, unsigned int nr_sets, uint32_t gen)
{
	unsigned int i, max = 0;

	state_clear(e);
	e->generation = gen;
	e->sets = sets;
	e->nr_sets = nr_sets;
	for (i = 0; i < n; i++)
		if (uid[i] + 1 > max)
			max = uid[i] + 1;
	e->users = calloc(max + 1, sizeof(*e->users));
	e->groups = calloc(p->nr_groups + 1, sizeof(*e->groups));
	if (!e->users || !e->groups)
		goto nomem;
	e->nr_users = max;
	for (i = 0; i < n; i++)
		if (user_rec_set(&e->users[uid[i]], u[i], pids[i]))
			goto nomem;
	for (e->nr_groups = 0; e->nr_groups < p->nr_groups; e->nr_groups++) {
		e->groups[e->nr_groups] = strdup(p->groups[e->nr_groups].name);
		if (!e->groups[e->nr_groups])
			goto nomem;
	}
	e->have_state = true;
	return 0;
nomem:
	state_clear(e);		/* read back from the maps when needed */
	return 0;
}

static int load_state(struct wgx_enforce *e);

/* Deletes the names of every user id but uid[0..n). */
static void delete_names_except(struct wgx_enforce *e, const uint32_t *uid, unsigned int n)
{
	uint8_t *keep = calloc(WGX_TUN_MAX_USERS, 1);
	uint32_t *keys = NULL;
	size_t nr = 0, i, k;
	unsigned int j;

	if (!keep || keys_where(e->fd[WGX_EM_NAMES], sizeof(struct wgx_tun_name), false, 0, &keys,
				&nr)) {
		free(keep);
		return;
	}
	for (j = 0; j < n; j++)
		keep[uid[j]] = 1;
	for (i = k = 0; i < nr; i++)
		if (keys[i] >= WGX_TUN_MAX_USERS || !keep[keys[i]])
			keys[k++] = keys[i];
	delete_many(e->fd[WGX_EM_NAMES], keys, k, 4);
	free(keys);
	free(keep);
}

int wgx_enforce_apply(struct wgx_enforce *e, const struct wgx_policy *p,
		      const struct wgx_user *const *extra, unsigned int nr_extra,
		      struct wgx_policy_err *err)
{
	const struct wgx_user **u = NULL;
	struct set_rec *sets = NULL, s;
	uint32_t *pids = NULL, *table = NULL, *uid = NULL, mask, h, gen, i, k, g;
	unsigned int n = p->nr_users + nr_extra, nr_sets = 0, m;
	struct addr_batch b = {};
	struct snapshot snap = {};
	struct wgx_tun_group grp;
	struct wgx_tun_name *names = NULL;
	uint32_t *ids = NULL, *old[5] = {};
	struct outer_op ops[4];
	struct wgx_tun_cfg cfg;
	struct timespec ts;
	size_t nr_nets, nr_old;
	char w[32];
	int ret;

	if (err)
		memset(err, 0, sizeof(*err));
	if (n > WGX_TUN_MAX_USERS || p->nr_groups > WGX_TUN_MAX_GROUPS) {
		seterr(err, "policy", "%u users, %u groups: more than the tunnel's %u, %u", n,
		       p->nr_groups, WGX_TUN_MAX_USERS, WGX_TUN_MAX_GROUPS);
		return -E2BIG;
	}
	ret = read_cfg(e, &cfg);
	if (ret) {
		seterr(err, "wgx_tun_cfg", "%s", strerror(-ret));
		return ret;
	}
	gen = cfg.generation + 1;
	if (!(gen & 0xffff))
		gen++;			/* policy ids never 0 */

	for (mask = 15; mask < 2 * n; mask = 2 * mask + 1)
		;
	u = calloc(n + 1, sizeof(*u));
	pids = calloc(n + 1, sizeof(*pids));
	uid = calloc(n + 1, sizeof(*uid));
	table = calloc(mask + 1, sizeof(*table));
	sets = calloc(n + 1, sizeof(*sets));
	if (!u || !pids || !uid || !table || !sets) {
		ret = -ENOMEM;
		goto out;
	}
	for (k = 0; k < n; k++)
		u[k] = k < p->nr_users ? &p->users[k] : extra[k - p->nr_users];
	ret = check_users(p, u, n, &nr_nets, err);
	if (ret)
		goto out;
	/* the ids the maps hold now (a restarted daemon reads them back) stay their users' */
	if (!e->have_state)
		load_state(e);
	ret = assign_ids(e, u, n, uid);
	if (ret)
		goto out;
	if (nr_nets > WGX_TUN_MAX_NETS) {
		seterr(err, "policy", "%zu tunnel prefixes wider than a host: more than the "
		       "tunnel's %u", nr_nets, WGX_TUN_MAX_NETS);
		ret = -E2BIG;
		goto out;
	}

	/* users to sets, a set's index in order of its first user */
	for (k = 0; k < n; k++) {
		ret = user_set_of(p, u[k], &s, user_where(p, k, w, sizeof(w)), err);
		if (ret)
			goto out;
		for (h = set_hash(&s) & mask; table[h]; h = (h + 1) & mask)
			if (same_set(&sets[table[h] - 1], &s))
				break;
		if (!table[h]) {
			if (nr_sets == MAX_SETS) {
				seterr(err, user_where(p, k, w, sizeof(w)), "more than %u distinct "
				       "sets of groups", MAX_SETS);
				ret = -E2BIG;
				goto out;
			}
			s.policy_id = (gen & 0xffff) << 16 | nr_sets;
			sets[nr_sets++] = s;
			table[h] = nr_sets;
		}
		pids[k] = sets[table[h] - 1].policy_id;
	}

	/* the new generation's tries and psets, beside the old */
	ret = install_sets(e, p, sets, nr_sets, err);
	if (ret)
		goto out;
	for (g = 0; g < p->nr_groups; g++) {
		memset(&grp, 0, sizeof(grp));
		snprintf(grp.name, sizeof(grp.name), "%s", p->groups[g].name);
		ret = bpf_map_update_elem(e->fd[WGX_EM_GROUPS], &g, &grp, BPF_ANY);
		if (ret) {
			seterr(err, "wgx_tun_groups", "%s", strerror(-ret));
			goto drop_new;
		}
	}

	/* the switch: names, then every address (each update atomic), then cfg */
	ret = snapshot_take(e, &snap);
	if (!ret)
		ret = addr_batch_build(&b, u, n, pids, uid);
	if (ret) {
		seterr(err, "policy", "reading the maps: %s", strerror(-ret));
		goto drop_new;
	}
	names = calloc(n + 1, sizeof(*names));
	ids = calloc(n + 1, sizeof(*ids));
	if (!names || !ids) {
		ret = -ENOMEM;
		snapshot_restore(e, &snap, &b, gen & 0xffff);
		goto drop_new;
	}
	for (k = 0; k < n; k++) {
		name_of(u[k], &names[k]);
		ids[k] = uid[k];
	}
	ret = update_many(e->fd[WGX_EM_NAMES], ids, names, n, 4, sizeof(*names));
	if (ret)
		seterr(err, "wgx_tun_names", "%s", strerror(-ret));
	for (m = 0; m < 4 && !ret; m++) {
		ret = update_many(e->fd[WGX_EM_ADDR4 + m], b.keys[m], b.vals[m], b.n[m],
				  addr_ksz[m], sizeof(struct wgx_tun_user));
		if (ret)
			seterr(err, wgx_enforce_map_names[WGX_EM_ADDR4 + m], "%s", strerror(-ret));
	}
	if (!ret) {
		clock_gettime(CLOCK_REALTIME, &ts);
		cfg.policy_loaded = 1;
		cfg.generation = gen;
		cfg.loaded_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
		i = 0;
		ret = bpf_map_update_elem(e->fd[WGX_EM_CFG], &i, &cfg, BPF_ANY);
		if (ret)
			seterr(err, "wgx_tun_cfg", "%s", strerror(-ret));
	}
	if (ret) {
		snapshot_restore(e, &snap, &b, gen & 0xffff);
		goto drop_new;
	}

	/* done: what the old generation left behind goes (users first, then their tries) */
	for (m = 0; m < 4; m++) {
		struct wgx_tun_user *v = snap.vals[m];
		char *keys = snap.keys[m];
		size_t j, nr = 0;

		/* the new keys were all written: an old value not overwritten is stale */
		for (j = 0; j < snap.n[m]; j++)
			if (gen16(v[j].policy_id) != (gen & 0xffff) &&
			    !in_batch(&b, m, keys + j * addr_ksz[m]))
				memmove(keys + nr++ * addr_ksz[m], keys + j * addr_ksz[m],
					addr_ksz[m]);
		delete_many(e->fd[WGX_EM_ADDR4 + m], keys, nr, addr_ksz[m]);
	}
	delete_names_except(e, uid, n);
	for (m = 0; m < 4; m++) {
		ops[m] = (struct outer_op){ .fd = e->fd[trie_maps[m]] };
		keys_where(ops[m].fd, 4, true, gen & 0xffff, &old[m], &ops[m].n);
		ops[m].keys = old[m];
	}
	outer_ops(ops);
	if (!keys_where(e->fd[WGX_EM_PSETS], sizeof(struct wgx_tun_pset), true, gen & 0xffff,
			&old[4], &nr_old))
		delete_many(e->fd[WGX_EM_PSETS], old[4], nr_old, 4);
	delete_ids_from(e->fd[WGX_EM_GROUPS], sizeof(struct wgx_tun_group), p->nr_groups);
	ret = remember(e, p, u, n, pids, uid, sets, nr_sets, gen);
	sets = NULL;
	wgx_enforce_refill(e);		/* an optimisation: user_set works without spares */
	goto out;

drop_new:
	for (i = 0; i < nr_sets; i++)
		pids[i] = sets[i].policy_id;
	drop_sets(e, pids, nr_sets);
out:
	for (m = 0; m < 5; m++)
		free(old[m]);
	free(names);
	free(ids);
	snapshot_free(&snap);
	addr_batch_free(&b);
	free(u);
	free(pids);
	free(uid);
	free(table);
	free(sets);
	return ret;
}

/* ---- reading back ---- */

void wgx_enforce_state_free(struct wgx_enforce_state *s)
{
	unsigned int i;

	if (!s)
		return;
	for (i = 0; i < s->nr_users; i++)
		free(s->users[i].addresses);
	free(s->users);
	free(s->sets);
	free(s->groups);
	free(s);
}

static int user_info_cmp(const void *x, const void *y)
{
	const struct wgx_enforce_user_info *a = x, *b = y;

	return a->user_id < b->user_id ? -1 : a->user_id > b->user_id;
}

static int set_info_cmp(const void *x, const void *y)
{
	const struct wgx_enforce_set_info *a = x, *b = y;

	return a->policy_id < b->policy_id ? -1 : a->policy_id > b->policy_id;
}

static struct wgx_enforce_user_info *find_user(struct wgx_enforce_state *s, uint32_t id)
{
	struct wgx_enforce_user_info key = { .user_id = id };

	return bsearch(&key, s->users, s->nr_users, sizeof(key), user_info_cmp);
}

static struct wgx_enforce_set_info *find_set(struct wgx_enforce_state *s, uint32_t pid)
{
	struct wgx_enforce_set_info key = { .policy_id = pid };

	return bsearch(&key, s->sets, s->nr_sets, sizeof(key), set_info_cmp);
}

/* The prefix of an address map's key. */
static void prefix_of_key(unsigned int m, const void *key, struct wgx_prefix *a)
{
	memset(a, 0, sizeof(*a));
	a->family = m & 1 ? 6 : 4;
	if (m < 2) {
		memcpy(a->addr, key, m ? 16 : 4);
		a->plen = m ? 128 : 32;
	} else if (m == 2) {
		const struct wgx_lpm4 *k = key;

		a->plen = k->prefixlen;
		memcpy(a->addr, &k->addr, 4);
	} else {
		const struct wgx_lpm6 *k = key;

		a->plen = k->prefixlen;
		memcpy(a->addr, k->addr, 16);
	}
}

/* Entries of the trie in outer map fd under pid; -ENOENT without a trie. */
static int trie_fd(int outer, uint32_t pid)
{
	uint32_t id;
	int fd;

	if (bpf_map_lookup_elem(outer, &pid, &id))
		return -errno;
	fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

static int count_entries(int fd, uint32_t *n)
{
	char key[32];
	int ret;

	*n = 0;
	for (ret = bpf_map_get_next_key(fd, NULL, key); !ret;
	     ret = bpf_map_get_next_key(fd, key, key))
		(*n)++;
	return ret == -ENOENT ? 0 : ret;
}

static int dump(struct wgx_enforce *e, bool entries, struct wgx_enforce_state **out)
{
	struct wgx_enforce_state *s;
	struct wgx_enforce_user_info *ui;
	struct wgx_enforce_set_info *si;
	struct wgx_tun_name *names = NULL;
	struct wgx_tun_pset *psets = NULL;
	struct wgx_tun_group *groups = NULL;
	uint32_t *nkeys = NULL, *pkeys = NULL, *gkeys = NULL;
	void *keys[4] = {}, *vals[4] = {};
	size_t nn = 0, np = 0, ng = 0, na[4] = {}, i, j;
	unsigned int m, t;
	int ret, fd;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	ret = read_cfg(e, &s->cfg);
	if (!ret)
		ret = wgx_map_read_all(e->fd[WGX_EM_NAMES], 4, sizeof(*names), (void **)&nkeys,
			       (void **)&names, &nn);
	if (!ret)
		ret = wgx_map_read_all(e->fd[WGX_EM_PSETS], 4, sizeof(*psets), (void **)&pkeys,
			       (void **)&psets, &np);
	if (!ret)
		ret = wgx_map_read_all(e->fd[WGX_EM_GROUPS], 4, sizeof(*groups), (void **)&gkeys,
			       (void **)&groups, &ng);
	for (m = 0; m < 4 && !ret; m++)
		ret = wgx_map_read_all(e->fd[WGX_EM_ADDR4 + m], addr_ksz[m], sizeof(struct wgx_tun_user),
			       &keys[m], &vals[m], &na[m]);
	if (ret)
		goto out;

	ret = -ENOMEM;
	s->users = calloc(nn + 1, sizeof(*s->users));
	s->sets = calloc(np + 1, sizeof(*s->sets));
	for (i = 0; i < ng; i++)
		if (gkeys[i] + 1 > s->nr_groups)
			s->nr_groups = gkeys[i] + 1;
	s->groups = calloc(s->nr_groups + 1, sizeof(*s->groups));
	if (!s->users || !s->sets || !s->groups)
		goto out;
	for (i = 0; i < ng; i++)
		memcpy(s->groups[gkeys[i]], groups[i].name, sizeof(groups[i].name));
	for (i = 0; i < nn; i++) {
		s->users[i].user_id = nkeys[i];
		s->users[i].name = names[i];
		s->users[i].policy_id = WGX_USER_NONE;
	}
	s->nr_users = nn;
	qsort(s->users, nn, sizeof(*s->users), user_info_cmp);
	for (i = 0; i < np; i++) {
		s->sets[i].policy_id = pkeys[i];
		s->sets[i].pset = psets[i];
	}
	s->nr_sets = np;
	qsort(s->sets, np, sizeof(*s->sets), set_info_cmp);

	/* addresses to their users, then users to their sets */
	for (m = 0; m < 4; m++) {
		struct wgx_tun_user *v = vals[m];

		for (i = 0; i < na[m]; i++) {
			struct wgx_prefix *a;

			ui = find_user(s, v[i].user_id);
			if (!ui)
				continue;	/* between two updates of an apply */
			a = realloc(ui->addresses, (ui->nr_addresses + 1) * sizeof(*a));
			if (!a)
				goto out;
			ui->addresses = a;
			prefix_of_key(m, (char *)keys[m] + i * addr_ksz[m],
				      &a[ui->nr_addresses++]);
			ui->policy_id = v[i].policy_id;
		}
	}
	for (i = 0; i < s->nr_users; i++) {
		si = find_set(s, s->users[i].policy_id);
		if (si)
			si->nr_users++;
	}
	for (j = 0; entries && j < s->nr_sets; j++) {
		for (t = 0; t < 4; t++) {
			fd = trie_fd(e->fd[trie_maps[t]], s->sets[j].policy_id);
			if (fd < 0)
				continue;
			ret = count_entries(fd, &s->sets[j].entries[t]);
			close(fd);
			if (ret)
				goto out;
			/* an empty trie (a spare filled with no rule of that kind) is none */
			s->sets[j].present[t] = s->sets[j].entries[t] > 0;
		}
	}
	ret = 0;
	*out = s;
	s = NULL;
out:
	wgx_enforce_state_free(s);
	free(nkeys);
	free(names);
	free(pkeys);
	free(psets);
	free(gkeys);
	free(groups);
	for (m = 0; m < 4; m++) {
		free(keys[m]);
		free(vals[m]);
	}
	return ret;
}

int wgx_enforce_dump(struct wgx_enforce *e, struct wgx_enforce_state **out)
{
	return dump(e, true, out);
}

int wgx_enforce_dump_users(struct wgx_enforce *e, struct wgx_enforce_state **out)
{
	return dump(e, false, out);
}

const struct wgx_tun_pset *wgx_enforce_state_pset(const struct wgx_enforce_state *s,
						  uint32_t policy_id)
{
	const struct wgx_enforce_set_info *si = find_set((struct wgx_enforce_state *)s, policy_id);

	return si ? &si->pset : NULL;
}

/* The compiled sets and users, from the maps (a daemon restarted, or a CLI). */
static void find_spares(struct wgx_enforce *e);

static int load_state(struct wgx_enforce *e)
{
	struct wgx_enforce_state *s;
	unsigned int i, k;
	uint32_t max_id = 0;
	int ret;

	ret = wgx_enforce_dump(e, &s);
	if (ret)
		return ret;
	state_clear(e);
	ret = -ENODATA;
	if (!s->cfg.policy_loaded)
		goto out;
	ret = -ENOMEM;
	e->generation = s->cfg.generation;
	for (i = 0; i < s->nr_users; i++)
		if (s->users[i].user_id + 1 > max_id)
			max_id = s->users[i].user_id + 1;
	e->users = calloc(max_id + 1, sizeof(*e->users));
	e->sets = calloc(s->nr_sets + 1, sizeof(*e->sets));
	e->groups = calloc(s->nr_groups + 1, sizeof(*e->groups));
	if (!e->users || !e->sets || !e->groups)
		goto fail;
	e->nr_users = max_id;
	for (i = 0; i < s->nr_users; i++) {
		struct user_rec *r = &e->users[s->users[i].user_id];

		r->used = true;
		r->name = s->users[i].name;
		r->policy_id = s->users[i].policy_id;
		r->addrs = s->users[i].addresses;
		r->nr_addrs = s->users[i].nr_addresses;
		s->users[i].addresses = NULL;
	}
	for (i = 0; i < s->nr_sets; i++) {
		struct set_rec *r = &e->sets[e->nr_sets];

		if (gen16(s->sets[i].policy_id) != (e->generation & 0xffff))
			continue;
		r->policy_id = s->sets[i].policy_id;
		r->nr = s->sets[i].pset.nr;
		for (k = 0; k < r->nr && k < WGX_TUN_MAX_USER_GROUPS; k++)
			r->groups[k] = s->sets[i].pset.group_id[k];
		e->nr_sets++;
	}
	for (e->nr_groups = 0; e->nr_groups < s->nr_groups; e->nr_groups++) {
		e->groups[e->nr_groups] = strndup(s->groups[e->nr_groups], 63);
		if (!e->groups[e->nr_groups])
			goto fail;
	}
	e->have_state = true;
	find_spares(e);
	ret = 0;
	goto out;
fail:
	state_clear(e);
out:
	wgx_enforce_state_free(s);
	return ret;
}

/* Whether p is the policy whose groups were applied (group ids mean the same groups). */
static bool same_groups(const struct wgx_enforce *e, const struct wgx_policy *p)
{
	unsigned int g;

	if (p->nr_groups != e->nr_groups)
		return false;
	for (g = 0; g < p->nr_groups; g++)
		if (strcmp(p->groups[g].name, e->groups[g]))
			return false;
	return true;
}

static int find_user_rec(const struct wgx_enforce *e, const char *name)
{
	unsigned int i;

	for (i = 0; i < e->nr_users; i++)
		if (e->users[i].used && !strcmp(e->users[i].name.user, name))
			return i;
	return -1;
}

static bool has_addr(const struct wgx_prefix *list, unsigned int n, const struct wgx_prefix *a)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (list[i].family == a->family && list[i].plen == a->plen &&
		    !memcmp(list[i].addr, a->addr, 16))
			return true;
	return false;
}

static int del_addr(struct wgx_enforce *e, const struct wgx_prefix *a)
{
	char key[32];

	addr_key(a, key);
	return bpf_map_delete_elem(e->fd[WGX_EM_ADDR4 + addr_map(a)], key);
}

/* ---- spare sets ---- */

/*
 * A policy id of this generation that no set or spare has (nor more[0..n_more)), 0 if
 * the generation has used them all.
 */
static uint32_t next_pid(const struct wgx_enforce *e, const uint32_t *more, unsigned int n_more)
{
	uint32_t lo = 0, i;

	for (i = 0; i < e->nr_sets; i++)
		if ((e->sets[i].policy_id & 0xffff) + 1 > lo)
			lo = (e->sets[i].policy_id & 0xffff) + 1;
	for (i = 0; i < e->nr_spare; i++)
		if ((e->spare[i] & 0xffff) + 1 > lo)
			lo = (e->spare[i] & 0xffff) + 1;
	for (i = 0; i < n_more; i++)
		if ((more[i] & 0xffff) + 1 > lo)
			lo = (more[i] & 0xffff) + 1;
	if (lo >= MAX_SETS)
		return 0;
	return lo | (e->generation & 0xffff) << 16;
}

/* Whether the inner trie of pid in outer map fd exists and is empty. */
static bool empty_trie(int outer, uint32_t pid)
{
	char key[sizeof(struct wgx_lpm6)];
	bool empty;
	int fd;

	fd = trie_fd(outer, pid);
	if (fd < 0)
		return false;
	empty = bpf_map_get_next_key(fd, NULL, key) && errno == ENOENT;
	close(fd);
	return empty;
}

/* The spares a previous writer left (after a restart): ids of this generation, no pset. */
static void find_spares(struct wgx_enforce *e)
{
	struct wgx_tun_pset ps;
	uint32_t *keys;
	void *vals;
	size_t n, i;
	unsigned int t;

	e->nr_spare = 0;
	if (wgx_map_read_all(e->fd[WGX_EM_POL4], 4, 4, (void **)&keys, &vals, &n))
		return;
	for (i = 0; i < n && e->nr_spare < WGX_ENFORCE_SPARE_SETS; i++) {
		if (gen16(keys[i]) != (e->generation & 0xffff) ||
		    !bpf_map_lookup_elem(e->fd[WGX_EM_PSETS], &keys[i], &ps))
			continue;
		for (t = 0; t < 4 && empty_trie(e->fd[trie_maps[t]], keys[i]); t++)
			;
		if (t == 4)
			e->spare[e->nr_spare++] = keys[i];
	}
	free(keys);
	free(vals);
}

/*
 * Fills the spare pid with the tries of s, then its pset: no user points at pid yet, so no
 * packet sees it half filled. On error the spare is left out of use (the next apply
 * removes it).
 */
static int fill_spare(struct wgx_enforce *e, const struct wgx_policy *p,
		      const struct set_rec *s, uint32_t pid, struct wgx_policy_err *err)
{
	struct wgx_enforce_trie tr;
	struct wgx_tun_pset ps;
	unsigned int t;
	int ret = 0, fd;

	for (t = 0; t < 4 && !ret; t++) {
		uint8_t family = t & 1 ? 6 : 4;

		ret = wgx_enforce_compile(p, s->groups, s->nr, family, t >= 2, &tr, err);
		if (!ret && tr.nr) {
			fd = trie_fd(e->fd[trie_maps[t]], pid);
			if (fd < 0) {
				ret = fd;
				seterr(err, wgx_enforce_map_names[trie_maps[t]], "a spare trie: %s",
				       strerror(-fd));
			} else {
				ret = put_trie(fd, trie_maps[t], &tr, family, err);
				close(fd);
			}
		}
		wgx_enforce_trie_free(&tr);
	}
	if (ret)
		return ret;
	pset_of(s, &ps);
	ret = bpf_map_update_elem(e->fd[WGX_EM_PSETS], &pid, &ps, BPF_ANY);
	if (ret)
		seterr(err, "wgx_tun_psets", "%s", strerror(-ret));
	return ret;
}

int wgx_enforce_refill(struct wgx_enforce *e)
{
	uint32_t pids[WGX_ENFORCE_SPARE_SETS];
	int fds[4][WGX_ENFORCE_SPARE_SETS];
	struct outer_op ops[4];
	unsigned int n, i, t;
	int ret = 0;

	if (!e->have_state)
		return 0;	/* nothing applied by this writer yet: user_set reads the maps */
	for (n = 0; e->nr_spare + n < WGX_ENFORCE_SPARE_SETS; n++) {
		pids[n] = next_pid(e, pids, n);
		if (!pids[n])
			break;
	}
	if (!n)
		return 0;
	for (t = 0; t < 4; t++)
		for (i = 0; i < n; i++)
			fds[t][i] = -1;
	for (t = 0; t < 4 && !ret; t++)
		for (i = 0; i < n && !ret; i++) {
			fds[t][i] = create_inner(t & 1 ? 6 : 4);
			if (fds[t][i] < 0)
				ret = fds[t][i];
		}
	if (!ret) {
		for (t = 0; t < 4; t++)
			ops[t] = (struct outer_op){ .fd = e->fd[trie_maps[t]], .keys = pids,
						    .fds = fds[t], .n = n };
		ret = outer_ops(ops);
		if (ret)
			drop_sets(e, pids, n);
	}
	for (t = 0; t < 4; t++)
		for (i = 0; i < n; i++)
			if (fds[t][i] >= 0)
				close(fds[t][i]);
	if (ret)
		return ret;
	for (i = 0; i < n; i++)
		e->spare[e->nr_spare++] = pids[i];
	return 0;
}

int wgx_enforce_user_set(struct wgx_enforce *e, const struct wgx_policy *p,
			 const struct wgx_user *u, struct wgx_policy_err *err)
{
	struct wgx_tun_user v;
	struct wgx_tun_name nm;
	struct set_rec s, *ns;
	struct user_rec *r, old;
	uint32_t pid = 0, id, i, k, a;
	char key[32], pa[64], pb[64];
	int ret, idx;

	if (err)
		memset(err, 0, sizeof(*err));
	if (!e->have_state) {
		ret = load_state(e);
		if (ret) {
			seterr(err, "policy", ret == -ENODATA ? "no policy applied yet" :
			       "reading the maps: %s", strerror(-ret));
			return ret;
		}
	}
	if (!same_groups(e, p)) {
		seterr(err, "policy", "not the policy last applied (its groups differ)");
		return -ESTALE;
	}
	ret = user_set_of(p, u, &s, u->name, err);
	if (ret)
		return ret;
	idx = find_user_rec(e, u->name);
	if (idx >= 0 && memcmp(e->users[idx].name.public_key, u->public_key, 32)) {
		/* a name is one user's: another key may not take over its entries */
		seterr(err, u->name, "the name belongs to another key");
		return -EADDRINUSE;
	}
	for (i = 0; i < e->nr_users; i++) {
		if (!e->users[i].used || (int)i == idx)
			continue;
		for (k = 0; k < e->users[i].nr_addrs; k++)
			for (a = 0; a < u->nr_addresses; a++) {
				if (!wgx_prefix_overlap(&e->users[i].addrs[k], &u->addresses[a]))
					continue;
				wgx_prefix_format(&u->addresses[a], pa, sizeof(pa));
				wgx_prefix_format(&e->users[i].addrs[k], pb, sizeof(pb));
				seterr(err, u->name, "address %s overlaps %s of %s", pa, pb,
				       e->users[i].name.user);
				return -EADDRINUSE;
			}
	}

	for (i = 0; i < e->nr_sets; i++)
		if (same_set(&e->sets[i], &s))
			break;
	if (i < e->nr_sets) {
		pid = e->sets[i].policy_id;
	} else {
		ns = realloc(e->sets, (e->nr_sets + 1) * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		e->sets = ns;
		if (e->nr_spare) {
			/* tries already in the outer maps: no grace period to wait for */
			pid = e->spare[--e->nr_spare];
			ret = fill_spare(e, p, &s, pid, err);
		} else {
			pid = next_pid(e, NULL, 0);
			if (!pid) {
				seterr(err, u->name, "more than %u distinct sets of groups: apply "
				       "the policy again", MAX_SETS);
				return -E2BIG;
			}
			s.policy_id = pid;
			ret = install_sets(e, p, &s, 1, err);
		}
		if (ret)
			return ret;
		s.policy_id = pid;
		e->sets[e->nr_sets++] = s;
	}

	if (idx >= 0) {
		id = idx;
	} else {
		/* the lowest free id that never held an account, else the lowest free one */
		const uint8_t *acc = accounted_ids(e);

		for (id = 0; id < WGX_TUN_MAX_USERS; id++)
			if ((id >= e->nr_users || !e->users[id].used) && !(acc && acc[id]))
				break;
		if (id == WGX_TUN_MAX_USERS)
			for (id = 0; id < e->nr_users && e->users[id].used; id++)
				;
		if (id >= e->nr_users) {
			r = realloc(e->users, (id + 1) * sizeof(*r));
			if (!r)
				return -ENOMEM;
			e->users = r;
			memset(&e->users[e->nr_users], 0, (id + 1 - e->nr_users) * sizeof(*r));
			e->nr_users = id + 1;
		}
	}
	r = &e->users[id];
	id_taken(e, id);
	name_of(u, &nm);
	ret = bpf_map_update_elem(e->fd[WGX_EM_NAMES], &id, &nm, BPF_ANY);
	if (ret) {
		seterr(err, "wgx_tun_names", "%s", strerror(-ret));
		return ret;
	}
	v = (struct wgx_tun_user){ id, pid };
	for (a = 0; a < u->nr_addresses; a++) {
		addr_key(&u->addresses[a], key);
		ret = bpf_map_update_elem(e->fd[WGX_EM_ADDR4 + addr_map(&u->addresses[a])], key,
					  &v, BPF_ANY);
		if (ret) {
			wgx_prefix_format(&u->addresses[a], pa, sizeof(pa));
			seterr(err, u->name, "address %s: %s", pa, strerror(-ret));
			/* what is in stays: the user's entries are all valid ones */
			return ret;
		}
	}
	old = *r;
	for (a = 0; a < old.nr_addrs; a++)
		if (!has_addr(u->addresses, u->nr_addresses, &old.addrs[a]))
			del_addr(e, &old.addrs[a]);
	r->addrs = NULL;
	ret = user_rec_set(r, u, pid);
	free(old.addrs);
	if (ret)
		e->have_state = false;	/* read back next time */
	return 0;
}

int wgx_enforce_user_del(struct wgx_enforce *e, const char *name)
{
	struct user_rec *r;
	uint32_t id;
	unsigned int a;
	int idx, ret;

	if (!e->have_state) {
		ret = load_state(e);
		if (ret)
			return ret == -ENODATA ? -ENOENT : ret;
	}
	idx = find_user_rec(e, name);
	if (idx < 0)
		return -ENOENT;
	r = &e->users[idx];
	for (a = 0; a < r->nr_addrs; a++) {
		ret = del_addr(e, &r->addrs[a]);
		if (ret && ret != -ENOENT)
			return ret;
	}
	id = idx;
	bpf_map_delete_elem(e->fd[WGX_EM_NAMES], &id);
	free(r->addrs);
	memset(r, 0, sizeof(*r));
	return 0;
}

/* ---- explain ---- */

__attribute__((format(printf, 3, 4)))
static int verdict(struct wgx_explain *out, enum wgx_explain_verdict v, const char *fmt, ...)
{
	va_list ap;

	out->verdict = v;
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
	return 0;
}

static int find_user_rec(const struct wgx_enforce *e, const char *name);

/* The user entry of who (a name or a tunnel address); -ENOENT if none. */
static int find_who(struct wgx_enforce *e, const char *who, struct wgx_tun_user *v)
{
	struct wgx_prefix a;
	struct wgx_tun_name *names;
	uint32_t *ids, target = WGX_USER_NONE;
	void *keys, *vals;
	size_t n, i;
	unsigned int m;
	char key[32];
	int ret;

	if (!wgx_prefix_parse(who, &a) && is_host(&a)) {
		addr_key(&a, key);
		m = a.family == 4 ? WGX_EM_ADDR4 : WGX_EM_ADDR6;
		if (!bpf_map_lookup_elem(e->fd[m], key, v))
			return 0;
		lpm_key(&a, key);	/* the exact entries first, then the wider ones */
		if (!bpf_map_lookup_elem(e->fd[a.family == 4 ? WGX_EM_NET4 : WGX_EM_NET6], key, v))
			return 0;
		return -ENOENT;
	}
	if (e->have_state) {
		/* known here: look up its first address as the tunnel would */
		ret = find_user_rec(e, who);
		if (ret < 0 || !e->users[ret].nr_addrs)
			return ret < 0 ? -ENOENT : -ENODATA;
		a = e->users[ret].addrs[0];
		addr_key(&a, key);
		m = WGX_EM_ADDR4 + addr_map(&a);
		return bpf_map_lookup_elem(e->fd[m], key, v) ? -ENOENT : 0;
	}
	ret = wgx_map_read_all(e->fd[WGX_EM_NAMES], 4, sizeof(*names), (void **)&ids, (void **)&names,
		       &n);
	if (ret)
		return ret;
	for (i = 0; i < n; i++)
		if (!strncmp(names[i].user, who, sizeof(names[i].user)))
			target = ids[i];
	free(ids);
	free(names);
	if (target == WGX_USER_NONE)
		return -ENOENT;
	for (m = 0; m < 4; m++) {
		ret = wgx_map_read_all(e->fd[WGX_EM_ADDR4 + m], addr_ksz[m], sizeof(*v), &keys, &vals, &n);
		if (ret)
			return ret;
		for (i = 0; i < n; i++)
			if (((struct wgx_tun_user *)vals)[i].user_id == target)
				break;
		if (i < n)
			*v = ((struct wgx_tun_user *)vals)[i];
		free(keys);
		free(vals);
		if (i < n)
			return 0;
	}
	return -ENODATA;	/* a name without an address */
}

int wgx_enforce_explain(struct wgx_enforce *e, const char *who, const struct wgx_prefix *addr,
			uint8_t proto, uint16_t port, bool inbound, struct wgx_explain *out)
{
	const char *fam = addr->family == 4 ? "IPv4" : "IPv6";
	const char *dir = inbound ? "inbound" : "allow";
	struct wgx_tun_rules r;
	struct wgx_tun_name nm;
	struct wgx_tun_group grp;
	struct wgx_tun_cfg cfg;
	struct wgx_tun_user v;
	struct wgx_prefix a = *addr;
	unsigned int full = addr->family == 4 ? 32 : 128, k;
	char key[32], pfx[64], pb[8];
	uint32_t gid;
	int ret, fd;

	memset(out, 0, sizeof(*out));
	out->rule = -1;
	out->user_id = out->policy_id = WGX_USER_NONE;
	ret = read_cfg(e, &cfg);
	if (ret)
		return ret;
	if (!cfg.policy_loaded)
		return verdict(out, WGX_EX_NO_POLICY, "denied: no policy loaded (the tunnel drops "
			       "every packet until the daemon applies one)");
	ret = find_who(e, who, &v);
	if (ret == -ENOENT || ret == -ENODATA)
		return verdict(out, WGX_EX_UNKNOWN_USER, "denied: %s is %s", who, ret == -ENOENT ?
			       "not a user or a user's tunnel address" :
			       "a user without a tunnel address");
	if (ret)
		return ret;
	out->user_id = v.user_id;
	out->policy_id = v.policy_id;
	if (!bpf_map_lookup_elem(e->fd[WGX_EM_NAMES], &v.user_id, &nm))
		snprintf(out->user, sizeof(out->user), "%s", nm.user);

	fd = trie_fd(e->fd[trie_maps[(addr->family == 6) + 2 * inbound]], v.policy_id);
	if (fd >= 0 && empty_trie(e->fd[trie_maps[(addr->family == 6) + 2 * inbound]],
				  v.policy_id)) {
		close(fd);
		fd = -ENOENT;
	}
	if (fd == -ENOENT)
		return verdict(out, WGX_EX_NO_FAMILY, "denied: the groups of %s have no %s rule "
			       "for %s", out->user, dir, fam);
	if (fd < 0)
		return fd;
	a.plen = full;
	lpm_key(&a, key);
	ret = bpf_map_lookup_elem(fd, key, &out->rules);
	if (ret) {
		close(fd);
		if (ret != -ENOENT)
			return ret;
		wgx_prefix_format(addr, pfx, sizeof(pfx));
		return verdict(out, WGX_EX_NO_PREFIX, "denied: no %s prefix of the groups of %s "
			       "covers %s", dir, out->user, pfx);
	}
	/* the widest prefix of the address giving the same entry */
	for (k = full; k > 0; k--) {
		a.plen = k - 1;
		lpm_key(&a, key);
		if (bpf_map_lookup_elem(fd, key, &r) || memcmp(&r, &out->rules, sizeof(r)))
			break;
	}
	close(fd);
	out->matched = true;
	out->entry = *addr;
	out->entry.plen = k;
	out->entry.proto = out->entry.port_lo = out->entry.port_hi = 0;
	for (k = 0; k < 16; k++) {
		unsigned int bits = out->entry.plen > 8 * k ? out->entry.plen - 8 * k : 0;

		out->entry.addr[k] &= bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
	}
	wgx_prefix_format(&out->entry, pfx, sizeof(pfx));
	out->rule = wgx_enforce_rules_match(&out->rules, proto, port);
	if (out->rule < 0)
		return verdict(out, WGX_EX_NO_RULE, "denied: %s matches %s, but none of its %u "
			       "rules admits %s port %u", out->user, pfx, out->rules.nr,
			       wgx_proto_name(proto, pb, sizeof(pb)), port);
	gid = out->rules.rule[out->rule].group_id;
	if (!bpf_map_lookup_elem(e->fd[WGX_EM_GROUPS], &gid, &grp))
		snprintf(out->group, sizeof(out->group), "%s", grp.name);
	return verdict(out, WGX_EX_ALLOWED, "allowed: %s matches %s, group %s %s[%u]", out->user,
		       pfx, out->group, dir, out->rules.rule[out->rule].rule_idx);
}
