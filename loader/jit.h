/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Pieces of the just-in-time peer daemon that are not the daemon's loop: bounded tables for
 * rate limiting and negative caching, the peer API client, and the pinned state maps.
 * Library code: returns 0 or -errno and never prints.
 */
#ifndef WGXDP_JIT_H
#define WGXDP_JIT_H

#include <stdbool.h>
#include <stdint.h>
#include "maps/wgxdp.h"

/*
 * A fixed-size table of 16-byte keys with a small value, open addressing over a bounded
 * probe window; when the window is full the oldest entry is evicted, so memory stays
 * bounded whatever a flood of sources does.
 */
struct wgx_table;
struct wgx_table *wgx_table_new(unsigned int size_pow2);
void wgx_table_free(struct wgx_table *t);

/*
 * Token bucket per source address (IPv6 counted per /64, as the kernel does): true when the
 * source may have one more initiation now. rate per second, burst tokens.
 */
bool wgx_ratelimit_allow(struct wgx_table *t, int family, const uint8_t addr[16], uint64_t now_ns,
			 unsigned int rate, unsigned int burst);

/* Negative cache: remember a key (endpoint or public key) as unknown until now + ttl. */
void wgx_cache_put(struct wgx_table *t, const uint8_t key[16], uint64_t now_ns, uint64_t ttl_ns);
bool wgx_cache_has(struct wgx_table *t, const uint8_t key[16], uint64_t now_ns);
/* Fold an endpoint or a 32-byte public key into a 16-byte table key. */
void wgx_key_endpoint(uint8_t out[16], int family, const uint8_t addr[16], uint16_t port);
void wgx_key_pubkey(uint8_t out[16], const uint8_t pub[32]);

/* GET base_url + "/" + suffix over HTTP/1.0 (http:// only). *body is malloc'd, NUL-ended. */
int wgx_http_get(const char *base_url, const char *suffix, int timeout_ms, int *status,
		 char **body);
/* 0 if url is an http:// URL this client can use. */
int wgx_http_url_check(const char *url);

/* The daemon's pinned maps (created by the uplink object at attach). */
struct wgx_jit_maps {
	int peers_fd;
	int stats_fd;
};
int wgx_jit_maps_open(const char *pin_dir, struct wgx_jit_maps *m);
void wgx_jit_maps_close(struct wgx_jit_maps *m);
int wgx_jit_stats_read(const struct wgx_jit_maps *m, struct wgx_jit_stats *s);
int wgx_jit_stats_write(const struct wgx_jit_maps *m, const struct wgx_jit_stats *s);

/*
 * Re-inject a captured initiation to the local WireGuard port, with the client's address and
 * port as source (raw sockets; the packet goes through loopback), so that WireGuard answers
 * the client's own first attempt once its peer exists. fd4/fd6: from wgx_reinject_open.
 */
int wgx_reinject_open(int *fd4, int *fd6);
int wgx_reinject(int fd4, int fd6, const struct wgx_hs_event *ev);

#endif /* WGXDP_JIT_H */
