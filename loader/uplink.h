/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The uplink XDP program: attach, detach and inspect it, with its maps pinned in the
 * subdirectory <pin_dir>/uplink/ of a bpffs directory (maps/wgxdp.h: one subdirectory per
 * owner). Library code: returns 0 or -errno and never prints.
 */
#ifndef WGXDP_UPLINK_H
#define WGXDP_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "maps/wgxdp.h"

struct wgx_attach_opts {
	const char *ifname;
	const char *pin_dir;
	__u16 ports[WGX_MAX_PORTS];
	unsigned int nr_ports;
	enum wgx_mode mode;
	bool pass_malformed;
};

struct wgx_attach_info {
	__u32 ifindex;
	__u32 prog_id;
	bool dispatcher;	/* libxdp's multi-prog dispatcher (false: single-program fallback) */
	bool replaced;		/* an earlier wgxdp program on this interface was replaced */
	bool created_pins;	/* the maps were created by this call (first attach) */
};

/* One interface as status reports it. */
struct wgx_iface_status {
	__u32 ifindex;
	struct wgx_iface cfg;
	bool attached;		/* our program is attached to the interface right now */
	bool present;		/* the interface exists */
	enum wgx_mode live_mode;
	bool live_dispatcher;
	__u32 live_prog_id;
	int nr_other_progs;	/* other XDP programs sharing the interface */
	struct wgx_counter ctr[WGX_C__MAX][WGX_R__MAX][WGX_V__MAX];
};

/* Mounts bpffs on /sys/fs/bpf if needed and creates pin_dir (not its subdirectories). */
int wgx_pin_dir_prepare(const char *pin_dir);
/*
 * <pin_dir>/<sub>, or <pin_dir>/<sub>/<name> with a name (sub: WGX_PIN_SUB_*): -ENAMETOOLONG
 * if it does not fit in len. wgx_pinned_map_fd opens the map pinned there (-errno if none).
 */
int wgx_pin_path(char *buf, size_t len, const char *pin_dir, const char *sub, const char *name);
int wgx_pinned_map_fd(const char *pin_dir, const char *sub, const char *name);
/* Serialise wgxdp invocations: flock on the pin directory. Returns an fd to close. */
int wgx_lock(const char *pin_dir);
void wgx_unlock(int fd);

int wgx_attach(const struct wgx_attach_opts *opts, struct wgx_attach_info *info);
/*
 * Detach from ifname. The last detach removes the uplink's pins and <pin_dir>/uplink/, then
 * pin_dir if it is empty; other owners' pins stay. -ENOENT if not attached.
 */
int wgx_detach(const char *ifname, const char *pin_dir, bool *removed_pins);

/* All interfaces recorded in pin_dir; *out is malloc'd. -ENOENT if nothing is pinned. */
int wgx_status(const char *pin_dir, struct wgx_iface_status **out, int *nr);

/* Names for counters and modes. */
const char *wgx_class_name(int class);
const char *wgx_reason_name(int reason);
const char *wgx_mode_name(int mode);
/* Sum a per-CPU counter array entry. */
int wgx_counter_read(int map_fd, __u32 key, struct wgx_counter *sum);

/* Ring buffer of handshake initiations from the pinned map. */
struct wgx_events;
typedef int (*wgx_event_fn)(void *ctx, const struct wgx_hs_event *ev);
int wgx_events_open(const char *pin_dir, wgx_event_fn fn, void *ctx, struct wgx_events **out);
int wgx_events_poll(struct wgx_events *ev, int timeout_ms);	/* events handled, or -errno */
int wgx_events_fd(struct wgx_events *ev);
/*
 * The kernel id of the ring buffer ev reads, and of the one pinned now (-ENOENT: none). They
 * differ once the uplink was detached and attached again: a new ring buffer, reopen it.
 */
int wgx_events_map_id(struct wgx_events *ev, __u32 *id);
int wgx_events_pinned_id(const char *pin_dir, __u32 *id);
void wgx_events_close(struct wgx_events *ev);
/* CLOCK_MONOTONIC ns (bpf_ktime_get_ns) to CLOCK_REALTIME ns. */
__u64 wgx_mono_to_realtime(__u64 mono_ns);

#endif /* WGXDP_UPLINK_H */
