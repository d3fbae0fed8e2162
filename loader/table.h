/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A fixed-size table of 16-byte keys with a small value, open addressing over a bounded
 * probe window; when the window is full the oldest entry is evicted, so memory stays
 * bounded whatever a flood of sources does. Used for the per-source rate limit and the
 * negative caches. Library code: never prints.
 */
#ifndef WGXDP_TABLE_H
#define WGXDP_TABLE_H

#include <stdbool.h>
#include <stdint.h>

struct wgx_table;
struct wgx_table *wgx_table_new(unsigned int size_pow2);
void wgx_table_free(struct wgx_table *t);

/*
 * Token bucket per source address (IPv6 counted per /64, as the kernel does): true when the
 * source may have one more initiation now. rate per second, burst tokens.
 */
bool wgx_ratelimit_allow(struct wgx_table *t, int family, const uint8_t addr[16], uint64_t now_ns,
			 unsigned int rate, unsigned int burst);

/* Negative cache: remember a key as unknown until now + ttl. */
void wgx_cache_put(struct wgx_table *t, const uint8_t key[16], uint64_t now_ns, uint64_t ttl_ns);
bool wgx_cache_has(struct wgx_table *t, const uint8_t key[16], uint64_t now_ns);
/* Fold a 32-byte public key into a 16-byte table key. */
void wgx_key_pubkey(uint8_t out[16], const uint8_t pub[32]);

#endif /* WGXDP_TABLE_H */
