/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Identity: who is behind a public key. The policy file first (a hash lookup), then the
 * peer API if one is configured (loader/http.h: https, verified, authenticated): one
 * rate-limited GET per key not known, whose 404 and 410 answers are cached by key for a
 * minute (a throwaway key cannot make the daemon ask again and again, and a spoofed source
 * cannot block anyone: the cache is keyed by key, not address). A user's answer is cached
 * for its Cache-Control max-age (60 s if none; never with no-store), and while the API fails
 * (down, slow, an error status, nonsense) a user answered within api_stale seconds still
 * gets in; a key never answered does not. Also revalidates the users that came from the API,
 * so that an API user is never valid forever. Logs API failures (wgx_log, component "run"),
 * at most one line per 10 seconds with the count of the others. In the daemon, requests run
 * in its loop (wgx_identity_attach); without it (tools, tests) they are made in place.
 */
#ifndef WGXDP_IDENTITY_H
#define WGXDP_IDENTITY_H

#include <stddef.h>
#include <stdint.h>
#include "loader/http.h"
#include "loader/noise.h"
#include "loader/policy.h"
#include "loader/table.h"

enum wgx_ident {
	WGX_ID_FOUND = 0,
	WGX_ID_UNKNOWN,		/* neither the policy nor the API knows the key */
	WGX_ID_UNKNOWN_CACHED,	/* the API said so less than a minute ago */
	WGX_ID_API_ERROR,	/* the API failed, answered nonsense, or is rate-limited */
	WGX_ID_PENDING,		/* asked (or being asked): the answer comes through the
				 * callback of wgx_identity_attach */
	WGX_ID_UNKNOWN_GROUP,	/* the API's answer names a group the gateway does not have
				 * (logged; cached like a user's answer) */
};

/* How a found user was known (wgx_identity.last_source). */
enum wgx_id_source {
	WGX_IDS_POLICY,
	WGX_IDS_API,		/* a request now */
	WGX_IDS_CACHED,		/* a cached answer within its max-age: no request */
	WGX_IDS_STALE,		/* the API failed; an answer within api_stale */
};

#define WGX_ID_CACHE_SLOTS	4096	/* users' answers kept (a power of 2) */
#define WGX_ID_CACHE_MAX_BODY	16384	/* a longer answer is not kept */

struct wgx_id_cached {
	uint8_t key[32];
	char *body;			/* the API's answer (wiped when dropped) */
	size_t len;
	uint64_t fresh_until, stale_until;	/* CLOCK_MONOTONIC ns; 0: free slot */
};

struct wgx_identity {
	const char *policy_path;	/* NULL: none */
	const char *api_url;		/* NULL: none */
	unsigned int api_rate;		/* calls per second (burst the same) */
	unsigned int api_stale;		/* seconds an answer serves while the API fails */
	struct wgx_http_opts http;	/* TLS, token, timeouts (loader/http.h) */
	struct wgx_addr_limits limits;	/* how wide a tunnel address may be */
	struct wgx_policy *policy;
	struct wgx_table *unknown_key;
	struct wgx_http *api;
	struct wgx_id_cached *cache;	/* WGX_ID_CACHE_SLOTS */
	uint64_t api_tokens, api_last;	/* token bucket: tokens * 1e9 */
	uint64_t fail_logged_ns;	/* the last failure logged, and those since */
	uint64_t fail_quiet;
	enum wgx_id_source last_source;	/* of the last FOUND */
	uint64_t api_requests, api_cached, api_stale_used;	/* counters */
	/* asynchronous (wgx_identity_attach): the requests in flight, one per key */
	struct wgx_id_req *reqs;
	unsigned int nr_reqs;
	void (*done)(void *ctx, const uint8_t pub[32], enum wgx_ident r, struct wgx_user *owned);
	void *done_ctx;
	/*
	 * The groups from GET api_url/groups (api_groups: no policy file), refreshed every
	 * api_refresh seconds with If-None-Match; groups_changed(done_ctx) after new ones
	 * replaced the policy. A failed fetch is tried again after 5 s (the groups in force
	 * stay).
	 */
	bool api_groups;
	unsigned int api_refresh;
	void (*groups_changed)(void *ctx);
	char groups_etag[128];
	char *groups_body;		/* the text in force: the same again changes nothing */
	size_t groups_len;
	uint64_t groups_due;		/* CLOCK_MONOTONIC ns of the next fetch; 0: now */
	bool groups_in_flight;
	uint64_t groups_fetched, groups_unchanged, groups_errors;	/* counters */
};

/*
 * GET api_url/groups now and wait for it (at start, before the loop runs): 0 new groups in
 * force, 1 the same as before (304, or the same text), or -errno with why filled (the groups
 * in force stay).
 */
int wgx_identity_groups_fetch(struct wgx_identity *id, uint64_t now_ns, char *why, size_t len);
/*
 * The groups in force could not be applied: forget their ETag and text, so that the next
 * fetch (in 5 s) gets them whole and they are applied again.
 */
void wgx_identity_groups_forget(struct wgx_identity *id, uint64_t now_ns);
/* In the loop: start a fetch if one is due (attached; api_groups). */
void wgx_identity_groups_tick(struct wgx_identity *id, uint64_t now_ns);

#define WGX_ID_MAX_IN_FLIGHT	256	/* more lookups at once fail (API_ERROR) */

/* 0, or -errno with why filled (the API's TLS options are unusable). */
int wgx_identity_init(struct wgx_identity *id, char *why, size_t len);
void wgx_identity_free(struct wgx_identity *id);
/*
 * (Re)load the policy file. On failure the policy in force stays and err says why
 * (-EINVAL: the file is wrong; -errno: it could not be read).
 */
int wgx_identity_load(struct wgx_identity *id, struct wgx_policy_err *err);

/*
 * Look pub up at now_ns (CLOCK_MONOTONIC). WGX_ID_FOUND: *u is the user; if it came from
 * the API, *owned is the same pointer and the caller frees it (wgx_user_free).
 */
enum wgx_ident wgx_identity_lookup(struct wgx_identity *id, const uint8_t pub[WG_KEY_LEN],
				   uint64_t now_ns, const struct wgx_user **u,
				   struct wgx_user **owned);
/*
 * Look keys up without waiting: lookup and revalidate answer WGX_ID_PENDING where they would
 * ask the API, and done(ctx, pub, r, owned) gets the answer from the loop later (FOUND with
 * owned, the callee's to free; UNKNOWN; API_ERROR, or FOUND from a stale answer). A key
 * asked about while its request is in flight makes no second one. 0 or -errno.
 */
int wgx_identity_attach(struct wgx_identity *id, struct wgx_loop *l,
			void (*done)(void *ctx, const uint8_t pub[32], enum wgx_ident r,
				     struct wgx_user *owned),
			void *ctx);

/* Stops the asynchronous requests (before the loop goes): answers in flight are dropped. */
void wgx_identity_detach(struct wgx_identity *id);

/* Ask the API again (no negative cache): FOUND (*owned to free), UNKNOWN or API_ERROR. */
enum wgx_ident wgx_identity_revalidate(struct wgx_identity *id, const uint8_t pub[WG_KEY_LEN],
				       uint64_t now_ns, struct wgx_user **owned);

#endif /* WGXDP_IDENTITY_H */
