/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The backends of loader/wgdev.c: loader/wg_netlink.c and loader/wg_uapi.c, with their
 * message builders and parsers (which need no device) exposed for tests/unit/test_wgdev.c.
 * Included by the backends, by wgdev.c (which dispatches to them) and by the tests only.
 * The backends build devices with the containers of loader/wgdev_peers.h.
 */
#ifndef WGXDP_WGDEV_INTERNAL_H
#define WGXDP_WGDEV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>
#include "loader/wgdev.h"
#include "loader/wgdev_peers.h"

/* Directory of the UAPI sockets of wireguard-go and boringtun (global, not per netns). */
#define WGX_UAPI_DIR		"/var/run/wireguard"

/* Default size budget of one WG_CMD_SET_DEVICE message. */
#define WGX_NL_SET_BUDGET	16384

/* ---- generic netlink ---- */

/* Called with each complete message; a negative return stops the build and is returned. */
typedef int (*wgx_nl_emit_fn)(struct nlmsghdr *nlh, void *ctx);

/*
 * Builds WG_CMD_SET_DEVICE messages for ifname into buf (at least budget bytes), each at
 * most budget bytes, and passes each to emit. Exactly one of peers (add or update, allowed
 * IPs replaced) and remove_keys (WGPEER_F_REMOVE_ME) is non-NULL. A peer whose allowed IPs
 * do not fit is continued in the next message(s): its key again and the remaining allowed
 * IPs, without WGPEER_F_REPLACE_ALLOWEDIPS, so that they are appended (with
 * WGPEER_F_UPDATE_ONLY again for an update_only peer). The messages carry
 * NLM_F_REQUEST | NLM_F_ACK; seq is left for emit to fill. -EMSGSIZE if budget cannot hold
 * one peer.
 */
int wgx_nl_build_set(void *buf, size_t budget, uint16_t family_id, const char *ifname,
		     const struct wgx_wg_peer *peers, const uint8_t (*remove_keys)[WG_KEY_LEN],
		     unsigned int nr, wgx_nl_emit_fn emit, void *ctx);

/*
 * Parses one message of a WG_CMD_GET_DEVICE dump into dev. A peer continued from the
 * previous message (same public key as dev's last peer) gets its allowed IPs appended.
 * 0 or -errno (-EBADMSG on a malformed message, -ENOMEM).
 */
int wgx_nl_parse_get(const struct nlmsghdr *nlh, struct wgx_wg_device *dev);

int wgx_nl_get_device(const char *ifname, struct wgx_wg_device *dev);
int wgx_nl_set(const char *ifname, const struct wgx_wg_peer *peers,
	       const uint8_t (*remove_keys)[WG_KEY_LEN], unsigned int nr);

/* ---- UAPI (cross-platform text protocol) ---- */

/* Endpoints as "192.0.2.1:51820" or "[2001:db8::1]:51820"; allowed IPs as "10.0.0.0/8". */
int wgx_parse_endpoint(const char *s, struct wgx_endpoint *ep);
int wgx_format_endpoint(const struct wgx_endpoint *ep, char *buf, size_t len);
int wgx_parse_allowed(const char *s, struct wgx_prefix *a);
int wgx_format_allowed(const struct wgx_prefix *a, char *buf, size_t len);

/*
 * Formats a "set=1" request, blank line included, into a malloc'd string (*out, *len).
 * Exactly one of peers and remove_keys is non-NULL, as for wgx_nl_build_set. An update_only
 * peer has "update_only=true" right after its public_key line (wireguard-go creates the peer
 * at public_key and drops it again there). The text holds preshared keys: free it with
 * wgx_free_wipe(*out, *len).
 */
int wgx_uapi_format_set(const struct wgx_wg_peer *peers,
			const uint8_t (*remove_keys)[WG_KEY_LEN], unsigned int nr, char **out,
			size_t *len);

/*
 * Parses the answer to "get=1" (up to and including its errno= line) into dev and derives
 * dev->public_key from the private key. -N for errno=N, -EPROTO if no errno line or a bad
 * line, -ENOMEM.
 */
int wgx_uapi_parse_get(const char *text, size_t len, struct wgx_wg_device *dev);

/* Parses the answer to "set=1": 0 for errno=0, -N for errno=N, -EPROTO otherwise. */
int wgx_uapi_parse_errno(const char *text, size_t len);

int wgx_uapi_get_device(const char *ifname, struct wgx_wg_device *dev);
int wgx_uapi_set(const char *ifname, const struct wgx_wg_peer *peers,
		 const uint8_t (*remove_keys)[WG_KEY_LEN], unsigned int nr);

#endif /* WGXDP_WGDEV_INTERNAL_H */
