/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The peer API's transport, on libcurl: GET over https:// with the server's certificate
 * verified (the system's CAs, or a CA file), optionally a client certificate and a bearer
 * token; http:// only when the caller allows it. Connect and total timeouts, a cap on the
 * answer's size, no redirects, and one easy handle kept so that its connections are reused
 * across lookups. Never prints; the token never appears in an error text.
 */
#ifndef WGXDP_HTTP_H
#define WGXDP_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define WGX_HTTP_MAX_BODY	(1u << 20)	/* default cap on an answer */

struct wgx_http_opts {
	const char *ca_file;		/* NULL: the system's CAs */
	const char *cert_file;		/* client certificate (PEM), with key_file; or NULL */
	const char *key_file;
	const char *token;		/* bearer token; copied, wiped when freed */
	bool insecure;			/* allow http:// */
	long connect_timeout_ms;	/* 0: 2000 */
	long timeout_ms;		/* the whole request; 0: 5000 */
	size_t max_body;		/* 0: WGX_HTTP_MAX_BODY */
};

struct wgx_http_resp {
	long status;			/* HTTP status */
	char *body;			/* NUL-ended, len bytes */
	size_t len;
	long max_age;			/* Cache-Control max-age (s); 0 for no-store or no-cache;
					 * -1 if the answer gave none */
	char etag[128];			/* "" if none (or longer than this) */
};

struct wgx_http;

/* 0, or -errno with why filled (a CA file that cannot be read, a bad certificate...). */
int wgx_http_new(const struct wgx_http_opts *o, struct wgx_http **out, char *why, size_t len);
void wgx_http_free(struct wgx_http *h);

/*
 * GET url (If-None-Match: etag when not NULL). 0: an answer, whatever its status (r filled;
 * free with wgx_http_resp_free). Else, with why filled: -ETIMEDOUT (connect or total timeout),
 * -EMSGSIZE (the answer is over the cap), -ECONNREFUSED (no connection), -EPROTO (TLS: the
 * certificate was refused, the handshake failed), -EIO (anything else).
 */
int wgx_http_get(struct wgx_http *h, const char *url, const char *etag, struct wgx_http_resp *r,
		 char *why, size_t len);
void wgx_http_resp_free(struct wgx_http_resp *r);

/*
 * Asynchronous requests in the daemon's loop (loader/loop.h): libcurl's sockets and timer
 * become loop sources, and a request's end calls its fn on the loop's thread. Requests share
 * the connection cache (reused). wgx_http_attach once, before wgx_http_start.
 */
struct wgx_loop;
typedef void (*wgx_http_done_fn)(void *ctx, int err, struct wgx_http_resp *r, const char *why);
int wgx_http_attach(struct wgx_http *h, struct wgx_loop *l);
/*
 * Start GET url (If-None-Match: etag when not NULL); fn(ctx, err, r, why) is called once when
 * it ends, as wgx_http_get returns (r is fn's to free with wgx_http_resp_free when err is 0).
 * 0, or -errno (fn not called).
 */
int wgx_http_start(struct wgx_http *h, const char *url, const char *etag, wgx_http_done_fn fn,
		   void *ctx);
/* Requests in flight. */
unsigned int wgx_http_in_flight(const struct wgx_http *h);

/* 0 if url is https://host..., or http://host... with insecure (-EPROTONOSUPPORT without);
 * -EINVAL for anything else. */
int wgx_http_url_check(const char *url, bool insecure);

/* Cache-Control's max-age of a header value: seconds, 0 for no-store/no-cache, -1 if none. */
long wgx_http_max_age(const char *cache_control);

#endif /* WGXDP_HTTP_H */
