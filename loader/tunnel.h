/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The tunnel programs (bpf/tunnel.bpf.c): attach them to a WireGuard interface as tc (clsact)
 * filters, detach them, and inspect them, with their maps pinned in <pin_dir>/tunnel/
 * (maps/wgxdp.h). The filters have our own handle and priority (WGX_TUN_TC_HANDLE,
 * WGX_TUN_TC_PRIO): detach removes those two and nothing else, never the clsact qdisc.
 * Library code: returns 0 or -errno and never prints. Callers serialise with wgx_lock().
 */
#ifndef WGXDP_TUNNEL_H
#define WGXDP_TUNNEL_H

#include <stdbool.h>
#include <linux/types.h>
#include "maps/wgxdp.h"

struct wgx_tunnel_opts {
	const char *ifname;
	const char *pin_dir;
	__u32 l2_len;		/* bytes before the IP header: 0 (WireGuard, TUN), 14 on a veth;
				 * WGX_TUN_L2_AUTO: from the device's link type */
	__u32 max_flows;	/* the flow table's size when it is created (0: the default);
				 * -EEXIST if it is pinned at another size */
	__u32 flow_quota;	/* flow entries per user (0: keep what is set) */
};

#define WGX_TUN_L2_AUTO	0xffffffffu

/* 0 on a device without a link layer, 14 on Ethernet; -EPFNOSUPPORT for other link types. */
int wgx_tunnel_l2_len(const char *ifname, __u32 *len);

struct wgx_tunnel_info {
	__u32 ifindex;
	__u32 ingress_prog_id;
	__u32 egress_prog_id;
	bool replaced;		/* our filters were there: the programs were swapped in place */
	bool created_pins;	/* the maps were created (wgx_tun_cfg: defaults, no policy) */
	bool created_qdisc;	/* this call added the clsact qdisc */
};

/* One interface the tunnel programs were attached to. */
struct wgx_tun_iface_status {
	__u32 ifindex;
	struct wgx_tun_iface rec;
	bool present;		/* the interface exists */
	bool ingress;		/* our ingress filter is on it right now */
	bool egress;
	__u32 live_ingress_id;
	__u32 live_egress_id;
};

struct wgx_tunnel_status {
	struct wgx_tun_cfg cfg;
	struct wgx_counter ctr[WGX_TD__MAX][WGX_TR__MAX];
	__u64 denied;		/* wgx_tun_denies summed over users and CPUs */
	__u64 events_held;
	int nr_ifaces;
	struct wgx_tun_iface_status *ifaces;	/* malloc'd: wgx_tunnel_status_free() */
};

/*
 * Attach (or re-attach: the programs are replaced in place, the pinned maps and counters
 * stay) both programs to o->ifname. The first attach creates the maps and writes the
 * default timeouts with policy_loaded 0: until the daemon loads a policy, every packet is
 * dropped. -ENODEV no such interface, -EBUSY another filter holds our handle and priority.
 */
int wgx_tunnel_attach(const struct wgx_tunnel_opts *o, struct wgx_tunnel_info *info);
/*
 * Remove our two filters from ifname (other filters and the clsact qdisc stay). The last
 * detach removes <pin_dir>/tunnel/ with its pins, then pin_dir if it is empty.
 * -ENOENT if the tunnel programs are not attached to ifname.
 */
int wgx_tunnel_detach(const char *ifname, const char *pin_dir, bool *removed_pins);
/* Counters, configuration and interfaces. -ENOENT if nothing is pinned. */
int wgx_tunnel_status(const char *pin_dir, struct wgx_tunnel_status *st);
void wgx_tunnel_status_free(struct wgx_tunnel_status *st);

const char *wgx_tun_reason_name(int reason);
const char *wgx_tun_dir_name(int dir);

#endif /* WGXDP_TUNNEL_H */
