// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loader/http.h"
#include "loader/identity.h"
#include "loader/log.h"

#define UNKNOWN_TTL_NS	(60ull * 1000000000ull)

int wgx_identity_init(struct wgx_identity *id)
{
	id->unknown_key = wgx_table_new(16);
	if (!id->api_timeout_ms)
		id->api_timeout_ms = 2000;
	return id->unknown_key ? 0 : -ENOMEM;
}

void wgx_identity_free(struct wgx_identity *id)
{
	wgx_policy_free(id->policy);
	id->policy = NULL;
	wgx_table_free(id->unknown_key);
	id->unknown_key = NULL;
}

int wgx_identity_load(struct wgx_identity *id, struct wgx_policy_err *err)
{
	struct wgx_policy *p = NULL;
	int ret;

	if (!id->policy_path)
		return 0;
	ret = wgx_policy_load_file_opts(id->policy_path, &id->limits, &p, err, 1, NULL);
	if (ret)
		return ret;
	wgx_policy_free(id->policy);
	id->policy = p;
	return 0;
}

/* One token bucket for all peer API calls: api_rate per second, burst api_rate. */
static bool api_allow(struct wgx_identity *id, uint64_t now)
{
	const uint64_t one = 1000000000ull, cap = (uint64_t)id->api_rate * one;

	if (!id->api_last)
		id->api_tokens = cap;
	else if (now > id->api_last)
		id->api_tokens += (now - id->api_last) * id->api_rate;
	if (id->api_tokens > cap)
		id->api_tokens = cap;
	id->api_last = now;
	if (id->api_tokens < one)
		return false;
	id->api_tokens -= one;
	return true;
}

/* The peer API: one user object per key; 404 is unknown. */
static enum wgx_ident api_get(struct wgx_identity *id, const uint8_t pub[WG_KEY_LEN],
			      uint64_t now, struct wgx_user **out)
{
	struct wgx_policy_err perr = {};
	char k64[45], *body = NULL;
	int status, err;

	if (!api_allow(id, now))
		return WGX_ID_API_ERROR;
	wgx_key_to_base64url(k64, pub);
	err = wgx_http_get(id->api_url, k64, id->api_timeout_ms, &status, &body);
	if (err) {
		wgx_log(WGX_LOG_WARN, "run", "peer API %s: %s", id->api_url, strerror(-err));
		return WGX_ID_API_ERROR;
	}
	if (status == 404 || status == 410) {
		free(body);
		return WGX_ID_UNKNOWN;
	}
	if (status != 200) {
		wgx_log(WGX_LOG_WARN, "run", "peer API %s/%s: HTTP %d", id->api_url, k64, status);
		free(body);
		return WGX_ID_API_ERROR;
	}
	err = wgx_user_from_json_opts(body, id->policy, &id->limits, out, &perr);
	free(body);
	if (err) {
		wgx_log(WGX_LOG_WARN, "run", "peer API %s/%s: %s: %s", id->api_url, k64, perr.where,
			perr.why);
		return WGX_ID_API_ERROR;
	}
	if (memcmp((*out)->public_key, pub, WG_KEY_LEN)) {
		wgx_log(WGX_LOG_WARN, "run", "peer API %s/%s: answered for another key",
			id->api_url, k64);
		wgx_user_free(*out);
		*out = NULL;
		return WGX_ID_API_ERROR;
	}
	return WGX_ID_FOUND;
}

enum wgx_ident wgx_identity_lookup(struct wgx_identity *id, const uint8_t pub[WG_KEY_LEN],
				   uint64_t now, const struct wgx_user **u,
				   struct wgx_user **owned)
{
	enum wgx_ident r;
	uint8_t ck[16];

	*u = NULL;
	*owned = NULL;
	if (id->policy) {
		*u = wgx_policy_find(id->policy, pub);
		if (*u)
			return WGX_ID_FOUND;
	}
	if (!id->api_url)
		return WGX_ID_UNKNOWN;
	wgx_key_pubkey(ck, pub);
	if (wgx_cache_has(id->unknown_key, ck, now))
		return WGX_ID_UNKNOWN_CACHED;
	r = api_get(id, pub, now, owned);
	if (r == WGX_ID_FOUND)
		*u = *owned;
	else if (r == WGX_ID_UNKNOWN)
		wgx_cache_put(id->unknown_key, ck, now, UNKNOWN_TTL_NS);
	return r;
}

enum wgx_ident wgx_identity_revalidate(struct wgx_identity *id, const uint8_t pub[WG_KEY_LEN],
				       uint64_t now, struct wgx_user **owned)
{
	*owned = NULL;
	if (!id->api_url)
		return WGX_ID_UNKNOWN;
	return api_get(id, pub, now, owned);
}
