/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The flow log of `wgxdp run --flow-log FILE|-`: JSON lines, one record each, for audit.
 * Every interval, a "flow" record per flow of the tunnel's table that moved in that interval
 * (that interval's packets and bytes each way) and a "flow_end" record with the totals once
 * a flow ends (TCP closed or reset, idle past its timeout, or evicted); "deny" records from
 * the tunnel's deny events and a "deny_summary" per user with what the kernel's rate limit
 * held back; "handshake", "peer_installed" and "peer_removed" records from the daemon.
 * The schema is in README.md and wgxdp(8); field names are stable.
 *
 * Counting is the kernel's (wgx_flows): a restart starts from what the table holds then, so
 * a flow's interval records after a restart begin at the restart, and its flow_end record
 * still carries the kernel's totals. A write that fails (a full disk) loses that record,
 * is counted and reported once per interval, and never stops the daemon.
 */
#ifndef WGXDP_FLOWLOG_H
#define WGXDP_FLOWLOG_H

#include <stdbool.h>
#include <stdint.h>

struct wgx_loop;
struct wgx_flowlog;

struct wgx_flowlog_opts {
	const char *path;		/* "-": standard output */
	unsigned int interval_s;	/* 10 */
	const char *pin_dir;
	const char *wg_ifname;
};

/* Deny records per interval; more are counted in the interval's summary, not written. */
#define WGX_FLOWLOG_DENY_CAP	10000
/*
 * flow_start records per interval: WGX_FLOWLOG_DENY_CAP in all, and at most this many of one
 * user, so that one user opening flows fast cannot take every other user's flow_start
 * records (her flows are still in the interval's flow records, counted; the interval's summary
 * says how many flow_start records were not written).
 */
#define WGX_FLOWLOG_START_USER_CAP	1000

/*
 * Handshake outcomes anyone can cause without a user's key (an unknown key, a replay, the
 * API failing): counted per interval into one "interval_summary" record, not one each.
 */
enum wgx_flowlog_outcome {
	WGX_FO_UNKNOWN,
	WGX_FO_API_ERROR,
	WGX_FO_REPLAYED,
	WGX_FO_UNKNOWN_GROUP,
	WGX_FLOWLOG_NR_OUTCOMES
};

struct wgx_flowlog_stats {
	uint64_t records;		/* written */
	uint64_t lost;			/* not written: the write failed */
	uint64_t flows_ended;
	uint64_t denies;		/* deny records */
};

/* Opens the log (appending) and adds its timer and the deny ring buffer to loop. 0, -errno. */
int wgx_flowlog_open(const struct wgx_flowlog_opts *o, struct wgx_loop *loop,
		     struct wgx_flowlog **out);
/* Writes what the current interval holds so far, and closes. */
void wgx_flowlog_close(struct wgx_flowlog *fl);
/* SIGHUP: the file again by its name (logrotate moved it). 0 or -errno (the old one stays). */
int wgx_flowlog_reopen(struct wgx_flowlog *fl);
/* One interval now (the timer's work; tests call it directly). */
void wgx_flowlog_tick(struct wgx_flowlog *fl);
const struct wgx_flowlog_stats *wgx_flowlog_stats(const struct wgx_flowlog *fl);

/*
 * The daemon's records. event: "handshake" (outcome: installed, existing, unknown, disabled,
 * expired, replayed, address_conflict, ...), "peer_installed", "peer_removed" (reason: idle,
 * policy, api, by hand ...). user may be NULL (an unknown key); endpoint "ip:port".
 */
void wgx_flowlog_peer(struct wgx_flowlog *fl, const char *event, const char *what,
		      const char *user, const uint8_t key[32], const char *endpoint);

/* One more of outcome o in this interval's summary. */
void wgx_flowlog_count(struct wgx_flowlog *fl, enum wgx_flowlog_outcome o);

#endif /* WGXDP_FLOWLOG_H */
