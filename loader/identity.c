// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loader/http.h"
#include "loader/identity.h"
#include "loader/log.h"
#include "loader/wipe.h"

#define UNKNOWN_TTL_NS	(60ull * 1000000000ull)
#define NS		1000000000ull
#define DEFAULT_AGE_S	60		/* a user's answer without max-age */
#define FAIL_LOG_NS	(10 * NS)	/* one failure line per 10 s at most */
#define PROBE		8		/* cache slots looked at per key */

/* A request in flight (asynchronous). */
struct wgx_id_req {
	struct wgx_identity *id;
	uint8_t key[WG_KEY_LEN];
	struct wgx_id_req *next;
};


int wgx_identity_init(struct wgx_identity *id, char *why, size_t len)
{
	int err;

	id->unknown_key = wgx_table_new(16);
	if (!id->unknown_key) {
		snprintf(why, len, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	if (!id->api_url)
		return 0;
	id->cache = calloc(WGX_ID_CACHE_SLOTS, sizeof(*id->cache));
	if (!id->cache) {
		snprintf(why, len, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	err = wgx_http_new(&id->http, &id->api, why, len);
	return err;
}

static void cached_drop(struct wgx_id_cached *c)
{
	if (c->body)
		wgx_free_wipe(c->body, c->len + 1);
	memset(c, 0, sizeof(*c));
}

void wgx_identity_detach(struct wgx_identity *id)
{
	wgx_http_free(id->api);
	id->api = NULL;
	while (id->reqs) {	/* their requests went with the http handle */
		struct wgx_id_req *q = id->reqs;

		id->reqs = q->next;
		free(q);
	}
	id->nr_reqs = 0;
}

void wgx_identity_free(struct wgx_identity *id)
{
	unsigned int i;

	wgx_policy_free(id->policy);
	id->policy = NULL;
	free(id->groups_body);
	id->groups_body = NULL;
	wgx_table_free(id->unknown_key);
	id->unknown_key = NULL;
	wgx_identity_detach(id);
	for (i = 0; id->cache && i < WGX_ID_CACHE_SLOTS; i++)
		cached_drop(&id->cache[i]);
	free(id->cache);
	id->cache = NULL;
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
	const uint64_t one = NS, cap = (uint64_t)id->api_rate * one;

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

/* A failure of the API: logged if none was in the last 10 s, else counted for the next. */
__attribute__((format(printf, 3, 4)))
static void api_fail(struct wgx_identity *id, uint64_t now, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (id->fail_logged_ns && now - id->fail_logged_ns < FAIL_LOG_NS) {
		id->fail_quiet++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (id->fail_quiet)
		wgx_log(WGX_LOG_WARN, "run", "peer API %s: %s (and %llu failures not logged in "
			"the last %llu s)", id->api_url, msg, (unsigned long long)id->fail_quiet,
			(unsigned long long)((now - id->fail_logged_ns) / NS));
	else
		wgx_log(WGX_LOG_WARN, "run", "peer API %s: %s", id->api_url, msg);
	id->fail_logged_ns = now;
	id->fail_quiet = 0;
}

/* The cache slot of key: its own, else NULL (find), or a slot to fill (make). */
static struct wgx_id_cached *cached(struct wgx_identity *id, const uint8_t key[WG_KEY_LEN],
				    bool make, uint64_t now)
{
	uint32_t h;
	struct wgx_id_cached *c, *victim = NULL;
	unsigned int i;

	if (!id->cache)
		return NULL;
	memcpy(&h, key, sizeof(h));	/* a public key's bytes are uniform */
	for (i = 0; i < PROBE; i++) {
		c = &id->cache[(h + i) & (WGX_ID_CACHE_SLOTS - 1)];
		if (c->fresh_until && !memcmp(c->key, key, WG_KEY_LEN))
			return c;
		if (!make)
			continue;
		if (!c->fresh_until || (c->stale_until <= now && c->fresh_until <= now))
			victim = victim && !victim->fresh_until ? victim : c;
		else if (!victim || (victim->fresh_until && c->stale_until < victim->stale_until))
			victim = c;
	}
	if (victim)
		cached_drop(victim);
	return victim;
}

static void cache_answer(struct wgx_identity *id, const uint8_t pub[WG_KEY_LEN],
			 const struct wgx_http_resp *r, uint64_t now)
{
	struct wgx_id_cached *c;
	uint64_t age = r->max_age < 0 ? DEFAULT_AGE_S : (uint64_t)r->max_age;

	c = cached(id, pub, false, now);
	if (c)
		cached_drop(c);
	if ((!age && !id->api_stale) || r->len > WGX_ID_CACHE_MAX_BODY)
		return;		/* no-store, and nothing kept for a failing API either */
	c = cached(id, pub, true, now);
	if (!c)
		return;
	c->body = malloc(r->len + 1);
	if (!c->body)
		return;
	memcpy(c->body, r->body, r->len + 1);
	c->len = r->len;
	memcpy(c->key, pub, WG_KEY_LEN);
	c->fresh_until = now + age * NS;
	c->stale_until = c->fresh_until + (uint64_t)id->api_stale * NS;
	if (!c->fresh_until)
		c->fresh_until = 1;
}

/* A user from an answer body: FOUND (*out), or API_ERROR (logged). */
static enum wgx_ident user_of_logged(struct wgx_identity *id, const uint8_t pub[WG_KEY_LEN],
				     const char *body, const char *k64, uint64_t now,
				     struct wgx_user **out, bool fresh)
{
	struct wgx_policy_err perr = {};

	/* about one user, not the API's health: each logged (the API's rate bounds them) */
	(void)now;
	static const struct wgx_policy no_groups;
	/* groups from the API not fetched yet: every group is unknown until they are */
	const struct wgx_policy *p = id->policy ? id->policy : id->api_groups ? &no_groups : NULL;
	int err = wgx_user_from_json_opts(body, p, &id->limits, out, &perr);

	if (err == -ENOENT) {
		/* logged for an answer, not for each initiation its cached copy refuses */
		if (fresh)
			wgx_log(WGX_LOG_WARN, "run", "peer API %s/%s: %s: %s: no peer until the "
				"gateway has that group (%s)", id->api_url, k64, perr.where,
				perr.why, id->api_groups ? "GET URL/groups" : "the policy file");
		return WGX_ID_UNKNOWN_GROUP;
	}
	if (err) {
		wgx_log(WGX_LOG_WARN, "run", "peer API %s/%s: %s: %s", id->api_url, k64,
			perr.where, perr.why);
		return WGX_ID_API_ERROR;
	}
	if (memcmp((*out)->public_key, pub, WG_KEY_LEN)) {
		wgx_log(WGX_LOG_WARN, "run", "peer API %s/%s: answered for another key", id->api_url,
			k64);
		wgx_user_free(*out);
		*out = NULL;
		return WGX_ID_API_ERROR;
	}
	return WGX_ID_FOUND;
}

/* A cached answer's user (not logged again when its group is unknown). */
static enum wgx_ident user_of(struct wgx_identity *id, const uint8_t pub[WG_KEY_LEN],
			      const char *body, const char *k64, uint64_t now, struct wgx_user **out)
{
	return user_of_logged(id, pub, body, k64, now, out, false);
}

/* The API failed for pub: a cached answer within api_stale, or API_ERROR. */
static enum wgx_ident stale(struct wgx_identity *id, const uint8_t pub[WG_KEY_LEN],
			    const char *k64, uint64_t now, struct wgx_user **out)
{
	struct wgx_id_cached *c = cached(id, pub, false, now);

	if (!c || now >= c->stale_until || user_of(id, pub, c->body, k64, now, out))
		return WGX_ID_API_ERROR;
	id->api_stale_used++;
	id->last_source = WGX_IDS_STALE;
	return WGX_ID_FOUND;
}

/* What an answer (or a failure, err) says about pub: 404 and 410 are unknown. */
static enum wgx_ident answered(struct wgx_identity *id, const uint8_t pub[WG_KEY_LEN],
			       uint64_t now, int err, struct wgx_http_resp *r, const char *why,
			       struct wgx_user **out)
{
	enum wgx_ident ret;
	uint8_t ck[16];
	char k64[45];

	wgx_key_to_base64url(k64, pub);
	if (err) {
		api_fail(id, now, "%s", why);
		return stale(id, pub, k64, now, out);
	}
	if (r->status == 404 || r->status == 410) {
		struct wgx_id_cached *c = cached(id, pub, false, now);

		if (c)
			cached_drop(c);
		wgx_key_pubkey(ck, pub);
		wgx_cache_put(id->unknown_key, ck, now, UNKNOWN_TTL_NS);
		return WGX_ID_UNKNOWN;
	}
	if (r->status != 200) {
		api_fail(id, now, "%s: HTTP %ld", k64, r->status);
		return stale(id, pub, k64, now, out);
	}
	ret = user_of_logged(id, pub, r->body, k64, now, out, true);
	if (ret == WGX_ID_FOUND) {
		cache_answer(id, pub, r, now);
		id->last_source = WGX_IDS_API;
	} else if (ret == WGX_ID_UNKNOWN_GROUP) {
		cache_answer(id, pub, r, now);	/* asked again after max-age, not per initiation */
	} else {
		ret = stale(id, pub, k64, now, out);
	}
	return ret;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static void on_answer(void *ctx, int err, struct wgx_http_resp *r, const char *why)
{
	struct wgx_id_req *q = ctx, **pp;
	struct wgx_identity *id = q->id;
	struct wgx_user *owned = NULL;
	enum wgx_ident ret;

	for (pp = &id->reqs; *pp && *pp != q; pp = &(*pp)->next)
		;
	if (*pp) {
		*pp = q->next;
		id->nr_reqs--;
	}
	ret = answered(id, q->key, mono_ns(), err, r, why, &owned);
	if (!err)
		wgx_http_resp_free(r);
	id->done(id->done_ctx, q->key, ret, owned);
	free(q);
}

int wgx_identity_attach(struct wgx_identity *id, struct wgx_loop *l,
			void (*done)(void *ctx, const uint8_t pub[32], enum wgx_ident r,
				     struct wgx_user *owned),
			void *ctx)
{
	int err;

	if (!id->api)
		return 0;
	err = wgx_http_attach(id->api, l);
	if (err)
		return err;
	id->done = done;
	id->done_ctx = ctx;
	return 0;
}

/* The peer API about pub: asked now and answered (not attached), or PENDING. */
static enum wgx_ident api_get(struct wgx_identity *id, const uint8_t pub[WG_KEY_LEN],
			      uint64_t now, struct wgx_user **out)
{
	struct wgx_http_resp r;
	char k64[45], url[1024], why[512];
	struct wgx_id_req *q;
	enum wgx_ident ret;
	int err;

	for (q = id->reqs; q; q = q->next)
		if (!memcmp(q->key, pub, WG_KEY_LEN))
			return WGX_ID_PENDING;	/* one request per key */
	wgx_key_to_base64url(k64, pub);
	if (!api_allow(id, now))
		return stale(id, pub, k64, now, out);
	if ((size_t)snprintf(url, sizeof(url), "%s/%s", id->api_url, k64) >= sizeof(url))
		return WGX_ID_API_ERROR;
	if (id->done) {
		if (id->nr_reqs >= WGX_ID_MAX_IN_FLIGHT) {
			api_fail(id, now, "%u requests in flight: not asking about more",
				 id->nr_reqs);
			return stale(id, pub, k64, now, out);
		}
		q = calloc(1, sizeof(*q));
		if (!q)
			return WGX_ID_API_ERROR;
		q->id = id;
		memcpy(q->key, pub, WG_KEY_LEN);
		err = wgx_http_start(id->api, url, NULL, on_answer, q);
		if (err) {
			free(q);
			api_fail(id, now, "start a request: %s", strerror(-err));
			return stale(id, pub, k64, now, out);
		}
		q->next = id->reqs;
		id->reqs = q;
		id->nr_reqs++;
		id->api_requests++;
		return WGX_ID_PENDING;
	}
	id->api_requests++;
	err = wgx_http_get(id->api, url, NULL, &r, why, sizeof(why));
	ret = answered(id, pub, now, err, &r, why, out);
	if (!err)
		wgx_http_resp_free(&r);
	return ret;
}

enum wgx_ident wgx_identity_lookup(struct wgx_identity *id, const uint8_t pub[WG_KEY_LEN],
				   uint64_t now, const struct wgx_user **u,
				   struct wgx_user **owned)
{
	struct wgx_id_cached *c;
	enum wgx_ident r;
	uint8_t ck[16];
	char k64[45];

	*u = NULL;
	*owned = NULL;
	id->last_source = WGX_IDS_POLICY;
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
	c = cached(id, pub, false, now);
	if (c && now < c->fresh_until) {
		wgx_key_to_base64url(k64, pub);
		r = user_of(id, pub, c->body, k64, now, owned);
		if (r == WGX_ID_FOUND) {
			id->api_cached++;
			id->last_source = WGX_IDS_CACHED;
			*u = *owned;
			return WGX_ID_FOUND;
		}
		if (r == WGX_ID_UNKNOWN_GROUP) {
			id->api_cached++;
			return r;
		}
	}
	r = api_get(id, pub, now, owned);
	if (r == WGX_ID_FOUND)
		*u = *owned;
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

/* ---- the groups: GET api_url/groups ---- */

#define GROUPS_RETRY_NS	(5 * NS)

/* What the groups' answer (or failure, err) says: 0 new groups, 1 the same, -errno. */
static int groups_answered(struct wgx_identity *id, uint64_t now, int err,
			   struct wgx_http_resp *r, const char *why_in, char *why, size_t len)
{
	struct wgx_policy_err perr = {};
	struct wgx_policy *p = NULL;

	id->groups_in_flight = false;
	id->groups_due = now + GROUPS_RETRY_NS;
	if (err) {
		snprintf(why, len, "%s", why_in);
		goto fail;
	}
	if (r->status == 304 && id->policy) {
		id->groups_due = now + (uint64_t)id->api_refresh * NS;
		id->groups_unchanged++;
		return 1;
	}
	if (r->status != 200) {
		snprintf(why, len, "HTTP %ld", r->status);
		id->groups_etag[0] = 0;	/* ask without it next time */
		err = -EPROTO;
		goto fail;
	}
	if (id->policy && id->groups_body && r->len == id->groups_len &&
	    !memcmp(r->body, id->groups_body, r->len)) {
		snprintf(id->groups_etag, sizeof(id->groups_etag), "%s", r->etag);
		id->groups_due = now + (uint64_t)id->api_refresh * NS;
		id->groups_unchanged++;
		return 1;
	}
	err = wgx_policy_groups_from_json(r->body, &id->limits, &p, &perr);
	if (err) {
		snprintf(why, len, "%s%s%s", perr.where, perr.where[0] ? ": " : "",
			 perr.why[0] ? perr.why : strerror(-err));
		goto fail;
	}
	id->groups_due = now + (uint64_t)id->api_refresh * NS;
	snprintf(id->groups_etag, sizeof(id->groups_etag), "%s", r->etag);
	free(id->groups_body);
	id->groups_body = r->body;	/* taken */
	id->groups_len = r->len;
	r->body = NULL;
	r->len = 0;
	wgx_policy_free(id->policy);
	id->policy = p;
	id->groups_fetched++;
	return 0;
fail:
	id->groups_errors++;
	return err < 0 ? err : -EIO;
}

static void groups_url(const struct wgx_identity *id, char *url, size_t len)
{
	snprintf(url, len, "%s/groups", id->api_url);
}

int wgx_identity_groups_fetch(struct wgx_identity *id, uint64_t now, char *why, size_t len)
{
	struct wgx_http_resp r;
	char url[1024], e[512] = "";
	int err;

	if (!id->api_groups || !id->api)
		return -EINVAL;
	groups_url(id, url, sizeof(url));
	err = wgx_http_get(id->api, url, id->policy ? id->groups_etag : NULL, &r, e, sizeof(e));
	err = groups_answered(id, now, err, &r, e, why, len);
	wgx_http_resp_free(&r);
	return err;
}

static void on_groups(void *ctx, int err, struct wgx_http_resp *r, const char *why_in)
{
	struct wgx_identity *id = ctx;
	char why[512];
	uint64_t now = mono_ns();

	err = groups_answered(id, now, err, r, why_in, why, sizeof(why));
	if (r)
		wgx_http_resp_free(r);
	if (err < 0)
		api_fail(id, now, "GET groups: %s (the groups in force stay)", why);
	else if (!err && id->groups_changed)
		id->groups_changed(id->done_ctx);
}

void wgx_identity_groups_forget(struct wgx_identity *id, uint64_t now)
{
	id->groups_etag[0] = 0;
	free(id->groups_body);
	id->groups_body = NULL;
	id->groups_len = 0;
	id->groups_due = now + GROUPS_RETRY_NS;
}

void wgx_identity_groups_tick(struct wgx_identity *id, uint64_t now)
{
	char url[1024];
	int err;

	if (!id->api_groups || !id->api || !id->done || id->groups_in_flight ||
	    now < id->groups_due)
		return;
	groups_url(id, url, sizeof(url));
	err = wgx_http_start(id->api, url, id->policy ? id->groups_etag : NULL, on_groups, id);
	if (err) {
		id->groups_due = now + GROUPS_RETRY_NS;
		id->groups_errors++;
		api_fail(id, now, "GET groups: start a request: %s", strerror(-err));
		return;
	}
	id->groups_in_flight = true;
}
