// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The peer API's transport on libcurl (http.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "loader/http.h"
#include "loader/wipe.h"

struct wgx_http {
	CURL *c;
	struct curl_slist *headers;	/* Authorization (wiped when freed), Accept */
	size_t max_body;
};

/* What one transfer gathers. */
struct xfer {
	struct wgx_http_resp *r;
	size_t cap, max;
	bool over;
	char cache_control[256];
};

int wgx_http_url_check(const char *url, bool insecure)
{
	const char *host;

	if (!strncmp(url, "https://", 8))
		host = url + 8;
	else if (!strncmp(url, "http://", 7))
		host = url + 7;
	else
		return -EINVAL;
	if (!*host || *host == '/' || strpbrk(url, " \t\r\n"))
		return -EINVAL;
	if (host == url + 7 && !insecure)
		return -EPROTONOSUPPORT;
	return 0;
}

long wgx_http_max_age(const char *cc)
{
	long age = -1;
	const char *p;

	for (p = cc; p && *p;) {
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		n = strcspn(p, ",");
		if ((n == 8 && !strncasecmp(p, "no-store", 8)) ||
		    (n == 8 && !strncasecmp(p, "no-cache", 8)))
			return 0;
		if (n > 8 && !strncasecmp(p, "max-age=", 8) && isdigit((unsigned char)p[8])) {
			char *end;
			long v = strtol(p + 8, &end, 10);

			if (end == p + n || *end == ' ' || *end == '\t')
				age = v < 0 ? 0 : v > 86400 * 365 ? 86400 * 365 : v;
		}
		p += n;
	}
	return age;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct xfer *x = ctx;
	size_t n = size * nmemb;
	char *b;

	if (x->r->len + n > x->max) {
		x->over = true;
		return 0;	/* aborts the transfer (CURLE_WRITE_ERROR) */
	}
	if (x->r->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;

		while (cap < x->r->len + n + 1)
			cap *= 2;
		b = wgx_realloc_wipe(x->r->body, x->cap, cap);	/* a preshared key */
		if (!b)
			return 0;
		x->r->body = b;
		x->cap = cap;
	}
	memcpy(x->r->body + x->r->len, data, n);
	x->r->len += n;
	x->r->body[x->r->len] = 0;
	return n;
}

/* Header lines: Cache-Control and ETag of the final answer. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct xfer *x = ctx;
	size_t n = size * nmemb, v;

	if (n > 14 && !strncasecmp(data, "Cache-Control:", 14)) {
		for (v = 14; v < n && (data[v] == ' ' || data[v] == '\t'); v++)
			;
		snprintf(x->cache_control, sizeof(x->cache_control), "%.*s", (int)(n - v), data + v);
		x->cache_control[strcspn(x->cache_control, "\r\n")] = 0;
	} else if (n > 5 && !strncasecmp(data, "ETag:", 5)) {
		for (v = 5; v < n && (data[v] == ' ' || data[v] == '\t'); v++)
			;
		while (n > v && (data[n - 1] == '\r' || data[n - 1] == '\n' || data[n - 1] == ' '))
			n--;
		if (n - v < sizeof(x->r->etag))
			snprintf(x->r->etag, sizeof(x->r->etag), "%.*s", (int)(n - v), data + v);
	}
	return size * nmemb;
}

static void wipe_headers(struct curl_slist *h)
{
	for (; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
}

int wgx_http_new(const struct wgx_http_opts *o, struct wgx_http **out, char *why, size_t len)
{
	static bool global;
	struct wgx_http *h;
	struct curl_slist *l;
	char *auth = NULL;
	int ret = -ENOMEM;

	*out = NULL;
	if (!global) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
			snprintf(why, len, "libcurl could not start");
			return -EIO;
		}
		global = true;
	}
	h = calloc(1, sizeof(*h));
	if (!h || !(h->c = curl_easy_init()))
		goto fail;
	h->max_body = o->max_body ? o->max_body : WGX_HTTP_MAX_BODY;
	l = curl_slist_append(NULL, "Accept: application/json");
	if (!l)
		goto fail;
	h->headers = l;
	if (o->token) {
		if (asprintf(&auth, "Authorization: Bearer %s", o->token) < 0) {
			auth = NULL;
			goto fail;
		}
		l = curl_slist_append(h->headers, auth);
		wgx_free_wipe(auth, strlen(auth));
		if (!l)
			goto fail;
		h->headers = l;
	}
	curl_easy_setopt(h->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->c, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h->c, CURLOPT_PROTOCOLS_STR, o->insecure ? "http,https" : "https");
	curl_easy_setopt(h->c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h->c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h->c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h->c, CURLOPT_CONNECTTIMEOUT_MS,
			 o->connect_timeout_ms ? o->connect_timeout_ms : 2000L);
	curl_easy_setopt(h->c, CURLOPT_TIMEOUT_MS, o->timeout_ms ? o->timeout_ms : 5000L);
	curl_easy_setopt(h->c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->max_body);
	curl_easy_setopt(h->c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h->c, CURLOPT_USERAGENT, "wgxdp");
	curl_easy_setopt(h->c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->c, CURLOPT_HEADERFUNCTION, on_header);
	if (o->ca_file && curl_easy_setopt(h->c, CURLOPT_CAINFO, o->ca_file) != CURLE_OK) {
		snprintf(why, len, "--api-ca %s: not usable by libcurl", o->ca_file);
		ret = -EINVAL;
		goto fail;
	}
	if (o->cert_file) {
		curl_easy_setopt(h->c, CURLOPT_SSLCERT, o->cert_file);
		curl_easy_setopt(h->c, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h->c, CURLOPT_SSLKEY, o->key_file ? o->key_file : o->cert_file);
		curl_easy_setopt(h->c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	*out = h;
	return 0;
fail:
	if (ret == -ENOMEM)
		snprintf(why, len, "%s", strerror(ENOMEM));
	wgx_http_free(h);
	return ret;
}

void wgx_http_free(struct wgx_http *h)
{
	if (!h)
		return;
	if (h->c)
		curl_easy_cleanup(h->c);
	wipe_headers(h->headers);
	curl_slist_free_all(h->headers);
	free(h);
}

static int map_error(CURLcode rc, const struct xfer *x, const char *msg, char *why, size_t len)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(why, len, "timed out (%s)", msg);
		return -ETIMEDOUT;
	case CURLE_FILESIZE_EXCEEDED:
		snprintf(why, len, "the answer is over %zu bytes", x->max);
		return -EMSGSIZE;
	case CURLE_WRITE_ERROR:
		snprintf(why, len, x->over ? "the answer is over %zu bytes" : "out of memory",
			 x->max);
		return x->over ? -EMSGSIZE : -ENOMEM;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(why, len, "cannot connect (%s)", msg);
		return -ECONNREFUSED;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
		snprintf(why, len, "TLS: %s", msg);
		return -EPROTO;
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(why, len, "%s (http:// needs --api-insecure)", msg);
		return -EPROTO;
	default:
		snprintf(why, len, "%s", msg);
		return -EIO;
	}
}

int wgx_http_get(struct wgx_http *h, const char *url, const char *etag, struct wgx_http_resp *r,
		 char *why, size_t len)
{
	char err[CURL_ERROR_SIZE] = "", inm[160];
	struct xfer x = { .r = r, .max = h->max_body };
	struct curl_slist *hdr = h->headers, *extra = NULL;
	CURLcode rc;
	int ret;

	memset(r, 0, sizeof(*r));
	r->max_age = -1;
	if (etag && etag[0]) {
		snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
		extra = curl_slist_append(NULL, inm);
		if (!extra) {
			snprintf(why, len, "%s", strerror(ENOMEM));
			return -ENOMEM;
		}
		extra->next = h->headers;	/* borrowed: unlinked below */
		hdr = extra;
	}
	curl_easy_setopt(h->c, CURLOPT_URL, url);
	curl_easy_setopt(h->c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h->c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h->c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h->c, CURLOPT_ERRORBUFFER, err);
	rc = curl_easy_perform(h->c);
	curl_easy_setopt(h->c, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h->c, CURLOPT_HTTPHEADER, h->headers);
	if (extra) {
		extra->next = NULL;
		curl_slist_free_all(extra);
	}
	if (rc != CURLE_OK) {
		ret = map_error(rc, &x, err[0] ? err : curl_easy_strerror(rc), why, len);
		wgx_http_resp_free(r);
		return ret;
	}
	curl_easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &r->status);
	r->max_age = wgx_http_max_age(x.cache_control);
	if (!r->body) {
		r->body = strdup("");
		if (!r->body) {
			snprintf(why, len, "%s", strerror(ENOMEM));
			return -ENOMEM;
		}
	}
	return 0;
}

void wgx_http_resp_free(struct wgx_http_resp *r)
{
	if (r->body)
		wgx_free_wipe(r->body, r->len + 1);	/* a user's preshared key */
	r->body = NULL;
	r->len = 0;
}
