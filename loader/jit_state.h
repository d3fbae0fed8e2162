/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The just-in-time daemon's pinned state (maps/wgxdp.h: wgx_peers, wgx_replay, wgx_jit_stats)
 * under <pin_dir>/jit/. Its one owner is `wgxdp run`, which creates the maps on first start;
 * `wgxdp peers` reads them. Never prints; returns 0 or -errno.
 */
#ifndef WGXDP_JIT_STATE_H
#define WGXDP_JIT_STATE_H

#include <stdbool.h>
#include "maps/wgxdp.h"

#define WGX_JIT_SUBDIR	WGX_PIN_SUB_JIT

struct wgx_jit_state {
	int peers_fd;
	int replay_fd;
	int stats_fd;
};

/*
 * Open the pinned maps; with create, make (and pin) the ones that do not exist yet.
 * -ENOENT without create when nothing is pinned; -EPROTO when a pinned map has another
 * layout (left by another version of wgxdp: remove <pin_dir>/jit to start afresh).
 */
int wgx_jit_state_open(const char *pin_dir, bool create, struct wgx_jit_state *s);
/* Maps that are not pinned anywhere (unit tests). */
int wgx_jit_state_anon(struct wgx_jit_state *s);
void wgx_jit_state_close(struct wgx_jit_state *s);

/* One interface's counters (zero if never written). */
int wgx_jit_stats_read(const struct wgx_jit_state *s, const char *wg_ifname,
		       struct wgx_jit_stats *st);
int wgx_jit_stats_write(const struct wgx_jit_state *s, const char *wg_ifname,
			const struct wgx_jit_stats *st);
/* The counters of struct wgx_jit_stats by name, in declaration order (for --json, metrics). */
struct wgx_jit_stat_field {
	const char *name;
	unsigned int offset;
};
extern const struct wgx_jit_stat_field wgx_jit_stat_fields[];
extern const unsigned int wgx_jit_nr_stat_fields;
static inline __u64 wgx_jit_stat(const struct wgx_jit_stats *st, unsigned int i)
{
	return *(const __u64 *)((const char *)st + wgx_jit_stat_fields[i].offset);
}

void wgx_peer_key_make(struct wgx_peer_key *k, const char *wg_ifname, const __u8 pub[32]);

#endif /* WGXDP_JIT_STATE_H */
