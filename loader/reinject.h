/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Re-inject a captured initiation to the local WireGuard port, with the client's address and
 * port as source (raw sockets; the packet goes through loopback), so that WireGuard answers
 * the client's own first attempt once its peer exists.
 *
 * What the ring buffer says is checked first: the destination must be a local address of the
 * interface the initiation came in on (the uplink), and the source a routable unicast address
 * that is not the host's own. Anything else (127.0.0.1, a multicast or link-local source, a
 * transit packet's destination) is refused with -EPERM and never sent. Never prints.
 */
#ifndef WGXDP_REINJECT_H
#define WGXDP_REINJECT_H

#include <stdbool.h>
#include <stdint.h>
#include "maps/wgxdp.h"

struct wgx_reinject {
	int fd4, fd6;
};

int wgx_reinject_open(struct wgx_reinject *r);
void wgx_reinject_close(struct wgx_reinject *r);

/* true for a unicast address routable beyond this host: not 0/8, 127/8, 169.254/16,
 * 224/4, 240/4 (255.255.255.255 included); not ::, ::1, fe80::/10, ff00::/8, ::ffff:0:0/96. */
bool wgx_addr_routable_unicast(int family, const uint8_t addr[16]);

/*
 * 0 if ev may be re-injected; -EPERM with *why set if not. Looks up the host's addresses
 * (getifaddrs) in the caller's network namespace.
 */
int wgx_reinject_check(const struct wgx_hs_event *ev, const char **why);
/* Check, then send. */
int wgx_reinject(const struct wgx_reinject *r, const struct wgx_hs_event *ev, const char **why);

#endif /* WGXDP_REINJECT_H */
