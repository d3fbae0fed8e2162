/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Identity: who is behind a public key. The policy file first (a hash lookup), then the
 * peer API if one is configured: one rate-limited GET per unknown key, whose 404 answers
 * are cached by key for a minute (a throwaway key cannot make the daemon ask again and
 * again, and a spoofed source cannot block anyone: the cache is keyed by key, not address).
 * Also revalidates the users that came from the API, so that an API user is never valid
 * forever. Logs API failures (wgx_log, component "run").
 */
#ifndef WGXDP_IDENTITY_H
#define WGXDP_IDENTITY_H

#include <stdint.h>
#include "loader/noise.h"
#include "loader/policy.h"
#include "loader/table.h"

enum wgx_ident {
	WGX_ID_FOUND = 0,
	WGX_ID_UNKNOWN,		/* neither the policy nor the API knows the key */
	WGX_ID_UNKNOWN_CACHED,	/* the API said so less than a minute ago */
	WGX_ID_API_ERROR,	/* the API failed, answered nonsense, or is rate-limited */
};

struct wgx_identity {
	const char *policy_path;	/* NULL: none */
	const char *api_url;		/* NULL: none */
	unsigned int api_rate;		/* calls per second (burst the same) */
	int api_timeout_ms;
	struct wgx_addr_limits limits;	/* how wide a tunnel address may be */
	struct wgx_policy *policy;
	struct wgx_table *unknown_key;
	uint64_t api_tokens, api_last;	/* token bucket: tokens * 1e9 */
};

int wgx_identity_init(struct wgx_identity *id);
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
/* Ask the API again (no negative cache): FOUND (*owned to free), UNKNOWN or API_ERROR. */
enum wgx_ident wgx_identity_revalidate(struct wgx_identity *id, const uint8_t pub[WG_KEY_LEN],
				       uint64_t now_ns, struct wgx_user **owned);

#endif /* WGXDP_IDENTITY_H */
