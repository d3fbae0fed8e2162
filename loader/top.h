/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * `wgxdp top`'s computation, without the terminal: a snapshot of the pinned maps (the
 * tunnel's counters, flows and per-user denies, the daemon's wgx_jit_stats), and from two
 * snapshots the rates per second: the tunnel's totals, per flow, per user (summed over her
 * flows), sorted and filtered. Works with the daemon stopped. Library code: never prints.
 */
#ifndef WGXDP_TOP_H
#define WGXDP_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "loader/flows.h"
#include "maps/wgxdp.h"

/* One key of wgx_tun_denies, summed over CPUs, with the user's name ("" if none). */
struct wgx_top_deny {
	uint32_t user_id;
	uint64_t denied;
	char user[48];
};

struct wgx_top_snap {
	uint64_t t_ns;			/* CLOCK_MONOTONIC just before the maps were read */
	int tunnel_err;			/* 0 or -errno (-ENOENT: tunnel not attached) */
	int jit_err;			/* 0, or -errno: -ENOENT the daemon never ran here */
	struct wgx_tun_cfg cfg;
	uint32_t flow_capacity;		/* wgx_flows' max_entries */
	size_t flow_entries;		/* entries in it, live or not */
	struct wgx_counter ctr[WGX_TD__MAX][WGX_TR__MAX];	/* wgx_tun_counters */
	struct wgx_flow_rec *flows;	/* every entry of wgx_flows, live or not */
	size_t nr_flows;
	struct wgx_top_deny *denies;	/* every key of wgx_tun_denies */
	size_t nr_denies;
	struct wgx_jit_stats jit;	/* summed over the daemon's interfaces */
};

/* Read the maps under pin_dir. 0 (errors of each part in tunnel_err, jit_err) or -ENOMEM. */
int wgx_top_read(const char *pin_dir, struct wgx_top_snap *s);
void wgx_top_snap_free(struct wgx_top_snap *s);

#define WGX_TOP_NR_JIT	(sizeof(struct wgx_jit_stats) / sizeof(__u64))

/* One live flow (or one that moved since the last snapshot), with its rates. */
struct wgx_top_flow {
	const struct wgx_flow_rec *rec;	/* points into the current snapshot */
	double tx_bps, rx_bps;		/* bytes/s: tx from the user, rx towards her */
	double tx_pps, rx_pps;
};

struct wgx_top_user {
	uint32_t user_id;
	char user[48];			/* "" if the id has no name now */
	size_t nr_flows;		/* her live flows */
	size_t flow0;			/* her flows: view.flows[flow0 .. flow0 + nr_flows) */
	double tx_bps, rx_bps;		/* summed over her flows */
	double denies_ps;		/* wgx_tun_denies */
	uint64_t denied;		/* total, as the kernel holds it now */
	uint64_t last_ns;		/* CLOCK_MONOTONIC of her newest packet; 0: no flow */
};

struct wgx_top_view {
	double interval_s;		/* between the two snapshots; 0: only one, no rates */
	double pps[WGX_TD__MAX];	/* the tunnel's packets and bytes per second by direction */
	double bps[WGX_TD__MAX];
	double allowed_ps, denied_ps;	/* packets passed and dropped per second, both ways */
	double jit_ps[WGX_TOP_NR_JIT];	/* the daemon's counters per second, by field */
	struct wgx_top_flow *flows;	/* by user id, then rate, newest first */
	size_t nr_flows;
	struct wgx_top_user *users;	/* by rate (wgx_top_sort() to change) */
	size_t nr_users;
};

/*
 * The rates from prev (NULL: none yet) to cur. A counter that went back (the tunnel attached
 * again, a deny entry evicted) counts from zero: its value now is the delta. A flow is the same
 * flow only with the same key and first_ns: one evicted or expired and created again under the
 * same key counts its counters now, and one that prev did not see although older than prev
 * counts nothing this time (no baseline). Users: those with a live flow or a deny since prev
 * (WGX_USER_NONE, the unknown sources, is not a user). cur must outlive the view.
 * 0 or -ENOMEM.
 */
int wgx_top_compute(const struct wgx_top_snap *prev, const struct wgx_top_snap *cur,
		    struct wgx_top_view *v);
void wgx_top_view_free(struct wgx_top_view *v);

enum wgx_top_sort {
	WGX_TOP_SORT_RATE,	/* bytes per second in + out, highest first */
	WGX_TOP_SORT_FLOWS,	/* most flows first */
	WGX_TOP_SORT_DENIES,	/* most denies per second first */
	WGX_TOP_SORT_NAME,	/* by name; users without one last, by id */
	WGX_TOP_SORT__MAX,
};
const char *wgx_top_sort_name(enum wgx_top_sort by);
/* Ties: by name, then id (the order stays put between refreshes). */
void wgx_top_sort(struct wgx_top_view *v, enum wgx_top_sort by);
/* Keep the users whose name contains sub (case-insensitive); NULL or "": all. The number kept. */
size_t wgx_top_filter(struct wgx_top_view *v, const char *sub);

#endif /* WGXDP_TOP_H */
