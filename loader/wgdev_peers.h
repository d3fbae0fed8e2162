/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The containers of a struct wgx_wg_device (loader/wgdev_peers.c): growing its peer and
 * allowed IP arrays, emptying them. The bottom layer of the device code: included by the
 * backends (wg_netlink.c, wg_uapi.c), by way of wgdev_internal.h by the dispatch (wgdev.c),
 * and by the tests; it includes nothing of theirs. wgx_wg_device_free, _sort and _find,
 * public, are declared in wgdev.h and defined in wgdev_peers.c too.
 * Peers hold preshared keys: arrays grow and are freed through loader/wipe.h.
 */
#ifndef WGXDP_WGDEV_PEERS_H
#define WGXDP_WGDEV_PEERS_H

#include "loader/wgdev.h"

/* Appends a zeroed peer to dev (the array grows by doubling). NULL on ENOMEM. */
struct wgx_wg_peer *wgx_wgdev_add_peer(struct wgx_wg_device *dev);
/* Appends an allowed IP to peer. 0 or -ENOMEM. */
int wgx_wgdev_add_allowed(struct wgx_wg_peer *peer, const struct wgx_prefix *pfx);
/* Frees dev's peers and their allowed IPs, preshared keys wiped; dev then has none. */
void wgx_wgdev_clear_peers(struct wgx_wg_device *dev);

#endif /* WGXDP_WGDEV_PEERS_H */
