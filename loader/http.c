// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The peer API's transport on libcurl (http.h). */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include <sys/epoll.h>

#include "loader/http.h"
#include "loader/loop.h"
#include "loader/wipe.h"

struct wgx_http {
	CURL *c;			/* the options every request starts from */
	struct curl_slist *headers;	/* Authorization (wiped when freed), Accept */
	size_t max_body;
	CURLM *multi;			/* asynchronous requests (wgx_http_attach) */
	struct wgx_loop *loop;
	int timer;
	unsigned int in_flight;
	struct req *reqs;		/* in flight */
};

/* What one transfer gathers. */
struct xfer {
	struct wgx_http_resp *r;
	size_t cap, max;
	bool over;
	char cache_control[256];
};

/* One asynchronous request. */
struct req {
	CURL *c;
	struct xfer x;
	struct wgx_http_resp r;
	char err[CURL_ERROR_SIZE];
	wgx_http_done_fn fn;
	void *ctx;
	struct curl_slist *inm;		/* If-None-Match, then the shared headers (borrowed) */
	struct req *next, **pprev;	/* wgx_http.reqs */
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

/*
 * An entity tag as RFC 9110 has it, (W/)"..." of visible bytes but '"' (and obs-text): it
 * goes back in If-None-Match, so nothing else (a CR, a space) may come from the server.
 */
static bool etag_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (n >= 2 && s[0] == 'W' && s[1] == '/')
		i = 2;
	if (n < i + 2 || s[i] != '"' || s[n - 1] != '"')
		return false;
	for (i++; i < n - 1; i++) {
		unsigned char c = s[i];

		if (c < 0x21 || c == '"' || c == 0x7f)
			return false;
	}
	return true;
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
		if (n - v < sizeof(x->r->etag) && etag_ok(data + v, n - v))
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

static void req_free(struct req *q)
{
	wgx_http_resp_free(&q->r);
	if (q->c)
		curl_easy_cleanup(q->c);
	if (q->inm) {
		q->inm->next = NULL;	/* the shared headers are not ours */
		curl_slist_free_all(q->inm);
	}
	free(q);
}

void wgx_http_free(struct wgx_http *h)
{
	if (!h)
		return;
	if (h->multi) {
		while (h->reqs) {	/* never answered: the daemon is stopping */
			struct req *q = h->reqs;

			h->reqs = q->next;
			curl_multi_remove_handle(h->multi, q->c);
			req_free(q);
		}
		curl_multi_cleanup(h->multi);
		if (h->loop && h->timer >= 0)
			wgx_loop_del(h->loop, h->timer);
	}
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

/* ---- asynchronous: libcurl's sockets and timer in the loop ---- */

static void check_done(struct wgx_http *h)
{
	struct CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left))) {
		struct req *q = NULL;
		char why[512] = "";
		int err = 0;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&q);
		curl_multi_remove_handle(h->multi, m->easy_handle);
		if (!q)
			continue;
		h->in_flight--;
		*q->pprev = q->next;
		if (q->next)
			q->next->pprev = q->pprev;
		if (m->data.result != CURLE_OK) {
			err = map_error(m->data.result, &q->x, q->err[0] ? q->err :
					curl_easy_strerror(m->data.result), why, sizeof(why));
			wgx_http_resp_free(&q->r);
		} else {
			curl_easy_getinfo(q->c, CURLINFO_RESPONSE_CODE, &q->r.status);
			q->r.max_age = wgx_http_max_age(q->x.cache_control);
			if (!q->r.body && !(q->r.body = strdup(""))) {
				err = -ENOMEM;
				snprintf(why, sizeof(why), "%s", strerror(ENOMEM));
			}
		}
		q->fn(q->ctx, err, &q->r, why);	/* takes q->r when err is 0 */
		memset(&q->r, 0, sizeof(q->r));
		req_free(q);
	}
}

static void on_sock(void *ctx, int fd, uint32_t events)
{
	struct wgx_http *h = ctx;
	int running, flags = 0;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(h->multi, fd, flags, &running);
	check_done(h);
}

static void on_timer(void *ctx, int fd, uint32_t events)
{
	struct wgx_http *h = ctx;
	int running;

	(void)fd;
	(void)events;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

static int sock_cb(CURL *c, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct wgx_http *h = userp;
	uint32_t ev = 0;

	(void)c;
	(void)socketp;
	wgx_loop_del(h->loop, s);	/* not there yet is fine */
	if (what == CURL_POLL_REMOVE)
		return 0;
	if (what & CURL_POLL_IN)
		ev |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev |= EPOLLOUT;
	return wgx_loop_add(h->loop, s, ev, on_sock, h) ? -1 : 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct wgx_http *h = userp;

	(void)m;
	return wgx_loop_arm(h->loop, h->timer, timeout_ms < 0 ? WGX_LOOP_DISARM :
						      (uint64_t)timeout_ms) ? -1 : 0;
}

int wgx_http_attach(struct wgx_http *h, struct wgx_loop *l)
{
	int err;

	h->multi = curl_multi_init();
	if (!h->multi)
		return -ENOMEM;
	h->loop = l;
	h->timer = -1;
	err = wgx_loop_oneshot(l, on_timer, h, &h->timer);
	if (err)
		return err;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
	return 0;
}

int wgx_http_start(struct wgx_http *h, const char *url, const char *etag, wgx_http_done_fn fn,
		   void *ctx)
{
	char inm[160];
	struct req *q;

	if (!h->multi)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->c = curl_easy_duphandle(h->c);
	if (!q->c) {
		free(q);
		return -ENOMEM;
	}
	q->fn = fn;
	q->ctx = ctx;
	q->r.max_age = -1;
	q->x.r = &q->r;
	q->x.max = h->max_body;
	if (etag && etag[0]) {
		snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
		q->inm = curl_slist_append(NULL, inm);
		if (!q->inm) {
			req_free(q);
			return -ENOMEM;
		}
		q->inm->next = h->headers;
	}
	curl_easy_setopt(q->c, CURLOPT_URL, url);
	curl_easy_setopt(q->c, CURLOPT_HTTPHEADER, q->inm ? q->inm : h->headers);
	curl_easy_setopt(q->c, CURLOPT_WRITEDATA, &q->x);
	curl_easy_setopt(q->c, CURLOPT_HEADERDATA, &q->x);
	curl_easy_setopt(q->c, CURLOPT_ERRORBUFFER, q->err);
	curl_easy_setopt(q->c, CURLOPT_PRIVATE, q);
	if (curl_multi_add_handle(h->multi, q->c) != CURLM_OK) {
		req_free(q);
		return -EIO;
	}
	h->in_flight++;
	q->next = h->reqs;
	if (q->next)
		q->next->pprev = &q->next;
	q->pprev = &h->reqs;
	h->reqs = q;
	return 0;
}

unsigned int wgx_http_in_flight(const struct wgx_http *h)
{
	return h->in_flight;
}

void wgx_http_resp_free(struct wgx_http_resp *r)
{
	if (r->body)
		wgx_free_wipe(r->body, r->len + 1);	/* a user's preshared key */
	r->body = NULL;
	r->len = 0;
}
