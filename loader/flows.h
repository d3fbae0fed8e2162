/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The tunnel's flows (wgx_flows, pinned in <pin_dir>/tunnel/) read from userspace, with the
 * names the kernel's ids stand for: the user (wgx_tun_names) and the group whose rule let
 * the flow in (wgx_tun_groups). Works with the daemon stopped. Library code: never prints.
 */
#ifndef WGXDP_FLOWS_H
#define WGXDP_FLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "maps/wgxdp.h"

struct wgx_flow_rec {
	struct wgx_flow_key key;
	struct wgx_flow v;
	char user[48];			/* "" if the user id has no name now, or the id no
					 * longer owns the flow's tunnel address (reused) */
	uint8_t public_key[32];		/* zero if no name */
	char group[64];			/* "" if the group id has no name now */
	uint64_t first_real_ns;		/* first_ns and last_ns as CLOCK_REALTIME */
	uint64_t last_real_ns;
	bool live;			/* not past its idle timeout (the kernel's rule) */
};

struct wgx_flows {
	struct wgx_flow_rec *recs;
	size_t nr;			/* sorted by user, then last seen, newest first */
	uint32_t capacity;		/* the map's max_entries */
	size_t nr_entries;		/* entries in the map, live or not */
	struct wgx_tun_cfg cfg;
};

/*
 * The flows of the tunnel under pin_dir; user: only that user's (NULL: all); all: also
 * those past their idle timeout that the LRU map still holds. 0 and *out (free with
 * wgx_flows_free); -ENOENT if the tunnel is not attached; -errno.
 */
int wgx_flows_read(const char *pin_dir, const char *user, bool all, struct wgx_flows *out);
void wgx_flows_free(struct wgx_flows *f);

/* How full the flow table is, without names or copies (for metrics). */
struct wgx_flows_count {
	uint64_t live;			/* not past their idle timeout (the kernel's rule) */
	uint64_t entries;		/* entries in the map, live or not (the LRU evicts) */
	uint32_t capacity;		/* the map's max_entries */
};

/* 0; -ENOENT if the tunnel is not attached; -errno. Walks the whole map, in batches. */
int wgx_flows_count(const char *pin_dir, struct wgx_flows_count *out);

/* What the kernel knows of a TCP flow's end: "open", "closing", "closed", "reset"; "-" if not TCP. */
const char *wgx_flow_state(const struct wgx_flow_key *k, const struct wgx_flow *v);

/* CLOCK_MONOTONIC ns (bpf_ktime_get_ns) as CLOCK_REALTIME ns, by the clocks' offset now. */
uint64_t wgx_mono_to_real_ns(uint64_t mono_ns);

#endif /* WGXDP_FLOWS_H */
