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
	bool reaped;			/* ended, and removed by wgx_flows_reap: v is final */
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
 * the ended ones the table still holds (the daemon removes them). 0 and *out (free with
 * wgx_flows_free); -ENOENT if the tunnel is not attached; -errno.
 */
int wgx_flows_read(const char *pin_dir, const char *user, bool all, struct wgx_flows *out);
/* The same in the table's order (not sorted), for a reader that sorts them its own way. */
int wgx_flows_read_unsorted(const char *pin_dir, const char *user, bool all,
			    struct wgx_flows *out);
void wgx_flows_free(struct wgx_flows *f);

/*
 * Remove the ended flows of f from the table (the kernel never does): each is read and
 * deleted in one step, so its record in f gets its final counts (reaped); one revived since
 * the read is put back (live again) unless a packet made a new entry under its key meanwhile
 * (then it is removed like the others). The user's count of removed entries (wgx_tun_fgone)
 * goes up, which frees her quota. The number removed, or -errno.
 */
int wgx_flows_reap(const char *pin_dir, struct wgx_flows *f);
/* Read and reap, for a daemon without a flow log. */
int wgx_flows_gc(const char *pin_dir);

/* A user's account (wgx_tun_acct) with her name. */
struct wgx_acct_rec {
	uint32_t user_id;
	char user[48];			/* "" if the id has no name now */
	uint8_t public_key[32];
	struct wgx_tun_acct a;
	uint64_t entries;		/* flow entries she holds now */
	uint64_t entries_in;		/* ... of them, opened by the remote side */
	uint32_t quota;
	uint32_t quota_in;		/* what those may hold */
};

/* Every user's account, sorted by user id (free *out). 0, -ENOENT, -errno. */
int wgx_flows_accounts(const char *pin_dir, struct wgx_acct_rec **out, size_t *nr);

/* How full the flow table is, without names or copies (for metrics). */
struct wgx_flows_count {
	uint64_t live;			/* not past their idle timeout (the kernel's rule) */
	uint64_t entries;		/* entries in the map, live or ended (not yet removed) */
	uint32_t capacity;		/* the map's max_entries */
	/* summed over the users' accounts (wgx_tun_acct) */
	uint64_t ovf_pkts_out, ovf_bytes_out, ovf_pkts_in, ovf_bytes_in;
	uint64_t refused;		/* a new flow got no entry */
	uint64_t starts_lost;		/* flow-start events lost (ring buffer full) */
};

/* 0; -ENOENT if the tunnel is not attached; -errno. Walks the whole map, in batches. */
int wgx_flows_count(const char *pin_dir, struct wgx_flows_count *out);

/* What the kernel knows of a TCP flow's end: "open", "closing", "closed", "reset"; "-" if not TCP. */
const char *wgx_flow_state(const struct wgx_flow_key *k, const struct wgx_flow *v);

/* CLOCK_MONOTONIC ns (bpf_ktime_get_ns) as CLOCK_REALTIME ns, by the clocks' offset now. */
uint64_t wgx_mono_to_real_ns(uint64_t mono_ns);

#endif /* WGXDP_FLOWS_H */
