// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <bpf/bpf.h>

#include "loader/jit_state.h"
#include "loader/uplink.h"

struct map_def {
	const char *name;
	__u32 key_size, value_size, max_entries;
	size_t fd_off;
	bool grows;		/* values of __u64 counters, new ones added at the end */
};

static const struct map_def defs[] = {
	{ "wgx_peers", sizeof(struct wgx_peer_key), sizeof(struct wgx_peer_rec), WGX_MAX_PEERS,
	  offsetof(struct wgx_jit_state, peers_fd) },
	{ "wgx_replay", sizeof(struct wgx_peer_key), sizeof(struct wgx_replay_rec),
	  WGX_MAX_REPLAY, offsetof(struct wgx_jit_state, replay_fd) },
	{ "wgx_jit_stats", sizeof(struct wgx_jit_key), sizeof(struct wgx_jit_stats),
	  WGX_MAX_JIT_IFACES, offsetof(struct wgx_jit_state, stats_fd), true },
};

#define NR_DEFS (sizeof(defs) / sizeof(defs[0]))

static int *fd_of(struct wgx_jit_state *s, const struct map_def *d)
{
	return (int *)((char *)s + d->fd_off);
}

static int create_map(const struct map_def *d)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, d->name, d->key_size, d->value_size,
				d->max_entries, &o);

	return fd < 0 ? -errno : fd;
}

static int check_layout(int fd, const struct map_def *d)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_HASH || info.key_size != d->key_size ||
	    info.value_size != d->value_size)
		return -EPROTO;
	return 0;
}

/* Readable as ours: the counters it lacks read as 0. */
static int smaller(int fd, const struct map_def *d)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	return info.type == BPF_MAP_TYPE_HASH && info.key_size == d->key_size &&
	       info.value_size < d->value_size && !(info.value_size % sizeof(__u64)) ? 0 :
										      -EPROTO;
}

/*
 * An older daemon's map of counters has fewer of them: copy every entry into one with all of
 * them (the new ones 0) and pin it in the old one's place in one step (rename). 0, or -errno
 * with the old map left as it was.
 */
static int grow(int *fd, const struct map_def *d, const char *path)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char tmp[PATH_MAX + 40], key[64], next[64];
	__u64 val[64];
	void *prev = NULL;
	int nfd, err = 0;

	_Static_assert(sizeof(struct wgx_jit_stats) <= sizeof(val), "room for the counters");
	if (bpf_obj_get_info_by_fd(*fd, &info, &len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_HASH || info.key_size != d->key_size ||
	    info.key_size > sizeof(key) || info.value_size > d->value_size ||
	    info.value_size % sizeof(__u64))
		return -EPROTO;
	nfd = create_map(d);
	if (nfd < 0)
		return nfd;
	while (!bpf_map_get_next_key(*fd, prev, next)) {
		memcpy(key, next, d->key_size);
		prev = key;
		memset(val, 0, sizeof(val));
		if (bpf_map_lookup_elem(*fd, key, val))
			continue;	/* gone meanwhile */
		if (bpf_map_update_elem(nfd, key, val, BPF_ANY)) {
			err = -errno;
			break;
		}
	}
	snprintf(tmp, sizeof(tmp), "%s_grow_%d", path, (int)getpid());	/* no dots in bpffs */
	if (!err && bpf_obj_pin(nfd, tmp))
		err = -errno;
	if (!err && rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
	}
	if (err) {
		close(nfd);
		return err;
	}
	close(*fd);
	*fd = nfd;
	return 0;
}

void wgx_jit_state_close(struct wgx_jit_state *s)
{
	unsigned int i;

	for (i = 0; i < NR_DEFS; i++) {
		int *fd = fd_of(s, &defs[i]);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

int wgx_jit_state_open(const char *pin_dir, bool create, struct wgx_jit_state *s)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	unsigned int i;
	int err = 0, lock = -1;

	s->peers_fd = s->replay_fd = s->stats_fd = -1;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", pin_dir, WGX_JIT_SUBDIR) >= sizeof(dir))
		return -ENAMETOOLONG;
	if (create) {
		err = wgx_pin_dir_prepare(pin_dir);
		if (err)
			return err;
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -errno;
	}
	if (create) {
		/* daemons of other interfaces share these: one at a time creates or grows */
		lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (lock < 0 || flock(lock, LOCK_EX)) {
			err = -errno;
			if (lock >= 0)
				close(lock);
			return err;
		}
	}
	for (i = 0; i < NR_DEFS && !err; i++) {
		int *fd = fd_of(s, &defs[i]);

		snprintf(path, sizeof(path), "%s/%s", dir, defs[i].name);
		*fd = bpf_obj_get(path);
		if (*fd >= 0) {
			err = check_layout(*fd, &defs[i]);
			if (err == -EPROTO && defs[i].grows)	/* an older daemon's counters */
				err = create ? grow(fd, &defs[i], path) : smaller(*fd, &defs[i]);
			continue;
		}
		if (errno != ENOENT || !create) {
			err = -errno;
			continue;
		}
		*fd = create_map(&defs[i]);
		if (*fd < 0) {
			err = *fd;
			*fd = -1;
		} else if (bpf_obj_pin(*fd, path)) {
			err = -errno;
		}
	}
	if (lock >= 0)
		close(lock);
	if (err)
		wgx_jit_state_close(s);
	return err;
}

int wgx_jit_state_anon(struct wgx_jit_state *s)
{
	unsigned int i;

	s->peers_fd = s->replay_fd = s->stats_fd = -1;
	for (i = 0; i < NR_DEFS; i++) {
		int *fd = fd_of(s, &defs[i]);

		*fd = create_map(&defs[i]);
		if (*fd < 0) {
			int err = *fd;

			*fd = -1;
			wgx_jit_state_close(s);
			return err;
		}
	}
	return 0;
}

static void jit_key(struct wgx_jit_key *k, const char *wg_ifname)
{
	memset(k, 0, sizeof(*k));
	strncpy(k->wg_ifname, wg_ifname, sizeof(k->wg_ifname) - 1);
}

void wgx_peer_key_make(struct wgx_peer_key *k, const char *wg_ifname, const __u8 pub[32])
{
	memset(k, 0, sizeof(*k));
	strncpy(k->wg_ifname, wg_ifname, sizeof(k->wg_ifname) - 1);
	memcpy(k->public_key, pub, sizeof(k->public_key));
}

int wgx_jit_stats_read(const struct wgx_jit_state *s, const char *wg_ifname,
		       struct wgx_jit_stats *st)
{
	struct wgx_jit_key k;

	jit_key(&k, wg_ifname);
	memset(st, 0, sizeof(*st));	/* an older daemon's map has fewer counters */
	if (bpf_map_lookup_elem(s->stats_fd, &k, st)) {
		memset(st, 0, sizeof(*st));
		return errno == ENOENT ? 0 : -errno;
	}
	return 0;
}

int wgx_jit_stats_write(const struct wgx_jit_state *s, const char *wg_ifname,
			const struct wgx_jit_stats *st)
{
	struct wgx_jit_key k;

	jit_key(&k, wg_ifname);
	return bpf_map_update_elem(s->stats_fd, &k, st, BPF_ANY) ? -errno : 0;
}

#define F(n) { #n, offsetof(struct wgx_jit_stats, n) }
const struct wgx_jit_stat_field wgx_jit_stat_fields[] = {
	F(events),
	F(other_port),
	F(bad_source),
	F(installed),
	F(existing),
	F(reinjected),
	F(reinject_refused),
	F(throttled),
	F(bad_mac1),
	F(not_for_us),
	F(unauthenticated),
	F(replayed),
	F(unknown_key),
	F(unknown_cached),
	F(disabled),
	F(expired),
	F(address_conflict),
	F(api_errors),
	F(install_errors),
	F(removed_idle),
	F(removed_policy),
	F(removed_api),
	F(adopted),
	F(policy_applied),
	F(policy_errors),
	F(unknown_group),
	F(groups_fetched),
	F(groups_unchanged),
	F(groups_errors),
};
#undef F
const unsigned int wgx_jit_nr_stat_fields =
	sizeof(wgx_jit_stat_fields) / sizeof(wgx_jit_stat_fields[0]);
_Static_assert(sizeof(wgx_jit_stat_fields) / sizeof(wgx_jit_stat_fields[0]) ==
	       sizeof(struct wgx_jit_stats) / sizeof(__u64), "every counter has a name");
