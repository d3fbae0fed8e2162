// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Bounded tables for the daemon's rate limits and negative caches. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loader/table.h"

#define PROBE 8

struct slot {
	uint8_t key[16];
	uint64_t a;	/* token bucket: tokens * 1e9 (fixed point); cache: expiry */
	uint64_t b;	/* last refill / insert time */
	bool used;
};

struct wgx_table {
	struct slot *s;
	uint32_t mask;
};

struct wgx_table *wgx_table_new(unsigned int size_pow2)
{
	struct wgx_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->s = calloc(1u << size_pow2, sizeof(*t->s));
	if (!t->s) {
		free(t);
		return NULL;
	}
	t->mask = (1u << size_pow2) - 1;
	return t;
}

void wgx_table_free(struct wgx_table *t)
{
	if (t) {
		free(t->s);
		free(t);
	}
}

static uint32_t hash16(const uint8_t k[16])
{
	uint64_t h = 0xcbf29ce484222325ull;
	int i;

	/* FNV-1a; the keys come from the network, but eviction bounds any collision attack */
	for (i = 0; i < 16; i++)
		h = (h ^ k[i]) * 0x100000001b3ull;
	return (uint32_t)(h ^ (h >> 32));
}

/* The slot holding key, or the one to reuse for it (free, else the oldest in the window). */
static struct slot *find(struct wgx_table *t, const uint8_t key[16], bool *found)
{
	uint32_t h = hash16(key), i;
	struct slot *victim = NULL;

	for (i = 0; i < PROBE; i++) {
		struct slot *s = &t->s[(h + i) & t->mask];

		if (s->used && !memcmp(s->key, key, 16)) {
			*found = true;
			return s;
		}
		if (!s->used) {
			if (!victim || victim->used)
				victim = s;
		} else if (!victim || (victim->used && s->b < victim->b)) {
			victim = s;
		}
	}
	*found = false;
	return victim;
}

bool wgx_ratelimit_allow(struct wgx_table *t, int family, const uint8_t addr[16], uint64_t now,
			 unsigned int rate, unsigned int burst)
{
	const uint64_t one = 1000000000ull;
	uint8_t key[16] = {};
	struct slot *s;
	bool found;

	key[15] = family;
	memcpy(key, addr, family == 6 ? 8 : 4);	/* IPv6 per /64 */
	s = find(t, key, &found);
	if (!found) {
		memcpy(s->key, key, 16);
		s->used = true;
		s->a = (uint64_t)burst * one;
		s->b = now;
	}
	/* refill: rate tokens per second, up to burst */
	if (now > s->b) {
		uint64_t add = (now - s->b) * rate;

		s->a = s->a + add > (uint64_t)burst * one ? (uint64_t)burst * one : s->a + add;
		s->b = now;
	}
	if (s->a < one)
		return false;
	s->a -= one;
	return true;
}

void wgx_cache_put(struct wgx_table *t, const uint8_t key[16], uint64_t now, uint64_t ttl)
{
	struct slot *s;
	bool found;

	s = find(t, key, &found);
	memcpy(s->key, key, 16);
	s->used = true;
	s->a = now + ttl;
	s->b = now;
}

bool wgx_cache_has(struct wgx_table *t, const uint8_t key[16], uint64_t now)
{
	struct slot *s;
	bool found;

	s = find(t, key, &found);
	if (!found)
		return false;
	if (s->a <= now) {
		s->used = false;
		return false;
	}
	return true;
}

void wgx_key_pubkey(uint8_t out[16], const uint8_t pub[32])
{
	int i;

	for (i = 0; i < 16; i++)
		out[i] = pub[i] ^ pub[i + 16];
}

