/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A WireGuard device, whichever implementation serves it: the kernel's over generic
 * netlink (libmnl, family "wireguard"), or a userspace one (wireguard-go, boringtun) over
 * its UAPI socket /var/run/wireguard/<iface>.sock. The backend is chosen by the interface's
 * kind. Never prints; returns 0 or -errno.
 */
#ifndef WGXDP_WGDEV_H
#define WGXDP_WGDEV_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include "loader/noise.h"
#include "loader/policy.h"

enum wgx_wg_backend {
	WGX_WG_NETLINK = 1,
	WGX_WG_UAPI = 2,
};

struct wgx_endpoint {
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	};
};

struct wgx_wg_peer {
	uint8_t public_key[WG_KEY_LEN];
	bool has_psk;
	uint8_t psk[WG_KEY_LEN];
	struct wgx_endpoint endpoint;		/* sa_family 0 = none */
	uint16_t keepalive;			/* persistent keepalive seconds, 0 = off */
	bool update_only;			/* set only: never create the peer */
	struct wgx_prefix *allowed;		/* proto/ports unused here */
	unsigned int nr_allowed;
	uint64_t last_handshake_sec;		/* CLOCK_REALTIME, 0 = never */
	uint64_t rx_bytes, tx_bytes;
};

struct wgx_wg_device {
	char ifname[16];
	int ifindex;
	enum wgx_wg_backend backend;
	uint8_t private_key[WG_KEY_LEN];
	uint8_t public_key[WG_KEY_LEN];
	uint16_t listen_port;
	struct wgx_wg_peer *peers;
	unsigned int nr_peers;
};

/*
 * Which backend serves ifname: -ENODEV if no such interface, -EOPNOTSUPP if not WireGuard.
 * The interface is looked up in the caller's network namespace, but the UAPI socket path is
 * global: for wireguard-go in another namespace, run in that namespace (nsenter --net=).
 */
int wgx_wg_backend_of(const char *ifname, enum wgx_wg_backend *out);

/*
 * Read the whole device, private key included (needs CAP_NET_ADMIN). The UAPI does not report
 * the device's public key: it is derived from the private key (all zero when there is none).
 * Free with wgx_wg_device_free (which wipes the private key).
 */
int wgx_wg_get_device(const char *ifname, struct wgx_wg_device **out);
void wgx_wg_device_free(struct wgx_wg_device *dev);
/* Sort dev->peers by public key (once), then find one in O(log n); NULL if absent. */
void wgx_wg_device_sort(struct wgx_wg_device *dev);
const struct wgx_wg_peer *wgx_wg_device_find(const struct wgx_wg_device *dev,
					     const uint8_t key[WG_KEY_LEN]);

/*
 * Add or update peers (allowed IPs replaced, endpoint, psk, keepalive as given).
 * Many peers are split over as many netlink messages as the kernel needs.
 * Exactly: allowed IPs are replaced by peers[i].allowed (none = none); the preshared key is
 * set to psk when has_psk (an all-zero psk removes it) and left as it is otherwise; keepalive
 * is set (0 = off); the endpoint is set when its sa_family is AF_INET or AF_INET6 and left as
 * it is when 0. So a peer read by wgx_wg_get_device writes back unchanged, and a new peer
 * without has_psk has none. last_handshake_sec and the byte counts are ignored.
 * A peer with update_only is changed only if the interface has it, never created
 * (WGPEER_F_UPDATE_ONLY, UAPI update_only=true): a peer removed meanwhile stays removed.
 * Peers are checked before anything is sent (-EINVAL for a bad prefix, -EAFNOSUPPORT for an
 * endpoint of another family); a failure midway (netlink: one message refused) leaves the
 * peers of the messages before it applied.
 */
int wgx_wg_set_peers(const char *ifname, const struct wgx_wg_peer *peers, unsigned int nr);
/*
 * Remove peers by public key; a key the interface does not have is no error. The kernel waits
 * for an RCU grace period for each removed peer.
 */
int wgx_wg_remove_peers(const char *ifname, const uint8_t (*keys)[WG_KEY_LEN], unsigned int nr);

#endif /* WGXDP_WGDEV_H */
