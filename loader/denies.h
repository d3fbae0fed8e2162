/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the tunnel denied, by group: the kernel counts denied packets per user
 * (wgx_tun_denies); the groups are the user's (her policy id's set, wgx_tun_psets). A
 * counter by group must only grow whatever users do, so it is kept here, not read: each look
 * adds every user's denies since the last look to each of her groups then (a user in several
 * groups counts in each; "" for a user in none, or no longer known). Label sets stay bounded
 * by the policy's groups whatever the number of users. Library code: never prints.
 */
#ifndef WGXDP_DENIES_H
#define WGXDP_DENIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "maps/wgxdp.h"

#define WGX_DENY_GROUPS_MAX	4096	/* groups counted apart; more fold into "" */

struct wgx_deny_group {
	char name[64];
	uint64_t denied;
};

struct wgx_deny_groups {
	struct wgx_deny_seen *seen;	/* each user's count at the last look, by user id */
	size_t nr_seen;
	struct wgx_deny_group *g;	/* by name */
	size_t nr_g;
	bool primed;			/* the first look was taken as the baseline */
};

/* One user's denies now (the kernel's count since her entry was made) and her groups. */
struct wgx_user_denied {
	uint32_t user_id;
	const char *name;		/* NULL: the id has no user now */
	uint64_t denied;
	uint64_t events_held;		/* deny events the per-user rate limit held back */
	unsigned int nr_groups;
	const char *groups[WGX_TUN_MAX_USER_GROUPS];
};

/* Every user the kernel counts denies for, from the pinned maps (names point into st). */
struct wgx_enforce_state;
struct wgx_user_denies {
	struct wgx_user_denied *u;
	size_t nr;
	struct wgx_enforce_state *st;
};
/* 0, -ENOENT (not attached), -errno. */
int wgx_user_denies_read(const char *pin_dir, struct wgx_user_denies *out);
void wgx_user_denies_free(struct wgx_user_denies *d);

/*
 * Adds what u[0..n) (every user the kernel counts now) were denied since the last look:
 * her count minus the last one, or all of it if the count is new or went back (her entry was
 * evicted and made again). The first look is the baseline: what was denied before it (an
 * earlier daemon, users in other groups then) is not added, so the counters start at 0 with
 * each process, as Prometheus expects of a restart. 0 or -ENOMEM (nothing changed).
 */
int wgx_deny_groups_add(struct wgx_deny_groups *dg, const struct wgx_user_denied *u, size_t n);
/* The same from the pinned maps under pin_dir: 0, -ENOENT (not attached), -errno. */
int wgx_deny_groups_update(struct wgx_deny_groups *dg, const char *pin_dir);
void wgx_deny_groups_free(struct wgx_deny_groups *dg);

#endif /* WGXDP_DENIES_H */
