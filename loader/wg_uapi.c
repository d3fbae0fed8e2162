// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Userspace WireGuard (wireguard-go, boringtun) over the cross-platform UAPI: a text
 * protocol of key=value lines on the unix socket /var/run/wireguard/<iface>.sock.
 * "get=1\n\n" answers the device and its peers then "errno=N\n\n"; "set=1\n...\n\n" answers
 * "errno=N\n\n". Keys are in hex.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include "loader/wgdev.h"
#include "loader/wgdev_internal.h"
#include "loader/wgdev_peers.h"
#include "loader/wipe.h"

/* wireguard-go may take a while on a set of thousands of peers. */
#define UAPI_TIMEOUT_SEC	30

static const uint8_t zero_key[WG_KEY_LEN];

static void key_to_hex(char out[2 * WG_KEY_LEN + 1], const uint8_t key[WG_KEY_LEN])
{
	static const char digits[] = "0123456789abcdef";
	unsigned int i;

	for (i = 0; i < WG_KEY_LEN; i++) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 0xf];
	}
	out[2 * WG_KEY_LEN] = '\0';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int key_from_hex(uint8_t key[WG_KEY_LEN], const char *hex)
{
	unsigned int i;
	int hi, lo;

	if (strlen(hex) != 2 * WG_KEY_LEN)
		return -EINVAL;
	for (i = 0; i < WG_KEY_LEN; i++) {
		hi = hex_digit(hex[2 * i]);
		lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		key[i] = hi << 4 | lo;
	}
	return 0;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "1.2.3.4:51820" or "[fd00::1]:51820" (a scope "%eth0" is accepted and dropped). */
int wgx_parse_endpoint(const char *s, struct wgx_endpoint *ep)
{
	char host[INET6_ADDRSTRLEN + IFNAMSIZ + 2];
	const char *colon, *port_s;
	uint64_t port;
	size_t hlen;
	char *pct;

	memset(ep, 0, sizeof(*ep));
	if (*s == '[') {
		colon = strstr(s, "]:");
		if (!colon)
			return -EINVAL;
		hlen = colon - s - 1;
		port_s = colon + 2;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hlen = colon - s;
		port_s = colon + 1;
	}
	if (hlen >= sizeof(host) || parse_u64(port_s, 65535, &port))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	pct = strchr(host, '%');
	if (pct)
		*pct = '\0';
	if (inet_pton(AF_INET, host, &ep->in4.sin_addr) == 1) {
		ep->in4.sin_family = AF_INET;
		ep->in4.sin_port = htons(port);
	} else if (inet_pton(AF_INET6, host, &ep->in6.sin6_addr) == 1) {
		ep->in6.sin6_family = AF_INET6;
		ep->in6.sin6_port = htons(port);
	} else {
		return -EINVAL;
	}
	return 0;
}

int wgx_format_endpoint(const struct wgx_endpoint *ep, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ep->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &ep->in4.sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(ep->in4.sin_port));
	} else if (ep->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &ep->in6.sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(ep->in6.sin6_port));
	} else {
		return -EAFNOSUPPORT;
	}
	return 0;
}

int wgx_parse_allowed(const char *s, struct wgx_prefix *a)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	uint64_t plen;
	size_t hlen;

	memset(a, 0, sizeof(*a));
	if (!slash)
		return -EINVAL;
	hlen = slash - s;
	if (hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, a->addr) == 1) {
		a->family = 4;
		if (parse_u64(slash + 1, 32, &plen))
			return -EINVAL;
	} else if (inet_pton(AF_INET6, host, a->addr) == 1) {
		a->family = 6;
		if (parse_u64(slash + 1, 128, &plen))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	a->plen = plen;
	return 0;
}

int wgx_format_allowed(const struct wgx_prefix *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (a->family == 4 && a->plen <= 32)
		inet_ntop(AF_INET, a->addr, host, sizeof(host));
	else if (a->family == 6 && a->plen <= 128)
		inet_ntop(AF_INET6, a->addr, host, sizeof(host));
	else
		return -EINVAL;
	snprintf(buf, len, "%s/%u", host, a->plen);
	return 0;
}

/* ---- formatting "set=1" ---- */

/* A growing text that holds key material: grown with wgx_realloc_wipe, never realloc. */
struct text {
	char *buf;
	size_t len, cap;
	int err;
};

__attribute__((format(printf, 2, 3)))
static void text_add(struct text *t, const char *fmt, ...)
{
	size_t cap;
	va_list ap;
	char *nb;
	int n;

	while (!t->err) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->err = -EINVAL;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += n;
			return;
		}
		/* Too long: the cut-off copy in the old buffer is wiped with it. */
		for (cap = t->cap; cap - t->len <= (size_t)n; cap *= 2)
			;
		nb = wgx_realloc_wipe(t->buf, t->cap, cap);
		if (!nb) {
			t->err = -ENOMEM;
			return;
		}
		t->buf = nb;
		t->cap = cap;
	}
}

int wgx_uapi_format_set(const struct wgx_wg_peer *peers,
			const uint8_t (*remove_keys)[WG_KEY_LEN], unsigned int nr, char **out,
			size_t *len)
{
	struct text t = { .cap = 4096 };
	char hex[2 * WG_KEY_LEN + 1], addr[64];
	const struct wgx_wg_peer *p;
	unsigned int i, j;

	*out = NULL;
	if (!peers == !remove_keys)
		return -EINVAL;
	t.buf = malloc(t.cap);
	if (!t.buf)
		return -ENOMEM;
	text_add(&t, "set=1\n");
	for (i = 0; i < nr && !t.err; i++) {
		if (remove_keys) {
			key_to_hex(hex, remove_keys[i]);
			text_add(&t, "public_key=%s\nremove=true\n", hex);
			continue;
		}
		p = &peers[i];
		key_to_hex(hex, p->public_key);
		text_add(&t, "public_key=%s\n", hex);
		if (p->update_only)
			text_add(&t, "update_only=true\n");
		if (p->has_psk) {
			/* An all-zero preshared key removes it. */
			key_to_hex(hex, p->psk);
			text_add(&t, "preshared_key=%s\n", hex);
		}
		if (p->endpoint.sa.sa_family) {
			t.err = t.err ?: wgx_format_endpoint(&p->endpoint, addr, sizeof(addr));
			text_add(&t, "endpoint=%s\n", addr);
		}
		text_add(&t, "persistent_keepalive_interval=%u\nreplace_allowed_ips=true\n",
			 p->keepalive);
		for (j = 0; j < p->nr_allowed; j++) {
			t.err = t.err ?: wgx_format_allowed(&p->allowed[j], addr, sizeof(addr));
			text_add(&t, "allowed_ip=%s\n", addr);
		}
	}
	text_add(&t, "\n");
	explicit_bzero(hex, sizeof(hex));
	if (t.err) {
		wgx_free_wipe(t.buf, t.cap);
		return t.err;
	}
	*out = t.buf;
	*len = t.len;
	return 0;
}

/* ---- parsing answers ---- */

/* Calls line(key, value) for each "key=value" line up to the blank line or the end. */
static int for_each_line(const char *text, size_t len,
			 int (*line)(const char *key, const char *value, void *ctx), void *ctx)
{
	const char *p = text, *end = text + len, *nl, *eq;
	char buf[256];
	size_t n;
	int ret;

	while (p < end) {
		nl = memchr(p, '\n', end - p);
		n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (!n)
			break;
		if (n >= sizeof(buf))
			return -EPROTO;
		memcpy(buf, p, n);
		buf[n] = '\0';
		eq = strchr(buf, '=');
		if (!eq)
			return -EPROTO;
		buf[eq - buf] = '\0';
		ret = line(buf, eq + 1, ctx);
		explicit_bzero(buf, sizeof(buf));
		if (ret)
			return ret;
		p += n + 1;
	}
	return 0;
}

struct get_state {
	struct wgx_wg_device *dev;
	struct wgx_wg_peer *peer;
	bool have_errno;
	int err;
};

static int get_line(const char *key, const char *value, void *data)
{
	struct get_state *st = data;
	struct wgx_wg_peer *p = st->peer;
	struct wgx_prefix a;
	uint64_t v;
	int ret;

	if (st->have_errno)
		return -EPROTO;	/* nothing may follow errno= */
	if (!strcmp(key, "errno")) {
		if (parse_u64(value, INT_MAX, &v))
			return -EPROTO;
		st->have_errno = true;
		st->err = v;
		return 0;
	}
	if (!strcmp(key, "public_key")) {
		p = wgx_wgdev_add_peer(st->dev);
		if (!p)
			return -ENOMEM;
		st->peer = p;
		return key_from_hex(p->public_key, value) ? -EPROTO : 0;
	}
	if (!p) {
		/* Device lines come before the first peer. */
		if (!strcmp(key, "private_key"))
			return key_from_hex(st->dev->private_key, value) ? -EPROTO : 0;
		if (!strcmp(key, "listen_port")) {
			if (parse_u64(value, 65535, &v))
				return -EPROTO;
			st->dev->listen_port = v;
		}
		return 0;
	}
	if (!strcmp(key, "preshared_key")) {
		if (key_from_hex(p->psk, value))
			return -EPROTO;
		p->has_psk = memcmp(p->psk, zero_key, WG_KEY_LEN) != 0;
	} else if (!strcmp(key, "endpoint")) {
		if (wgx_parse_endpoint(value, &p->endpoint))
			return -EPROTO;
	} else if (!strcmp(key, "allowed_ip")) {
		if (wgx_parse_allowed(value, &a))
			return -EPROTO;
		ret = wgx_wgdev_add_allowed(p, &a);
		if (ret)
			return ret;
	} else if (!strcmp(key, "persistent_keepalive_interval")) {
		if (parse_u64(value, 65535, &v))
			return -EPROTO;
		p->keepalive = v;
	} else if (!strcmp(key, "last_handshake_time_sec")) {
		if (parse_u64(value, UINT64_MAX, &p->last_handshake_sec))
			return -EPROTO;
	} else if (!strcmp(key, "rx_bytes")) {
		if (parse_u64(value, UINT64_MAX, &p->rx_bytes))
			return -EPROTO;
	} else if (!strcmp(key, "tx_bytes")) {
		if (parse_u64(value, UINT64_MAX, &p->tx_bytes))
			return -EPROTO;
	}
	return 0;
}

int wgx_uapi_parse_get(const char *text, size_t len, struct wgx_wg_device *dev)
{
	struct get_state st = { .dev = dev };
	int ret;

	ret = for_each_line(text, len, get_line, &st);
	if (ret)
		return ret;
	if (!st.have_errno)
		return -EPROTO;
	if (st.err)
		return -st.err;
	if (!memcmp(dev->private_key, zero_key, WG_KEY_LEN)) {
		memset(dev->public_key, 0, WG_KEY_LEN);
		return 0;
	}
	/* The UAPI does not report the device's public key. */
	return wgx_pubkey_from_priv(dev->public_key, dev->private_key);
}

static int errno_line(const char *key, const char *value, void *data)
{
	struct get_state *st = data;
	uint64_t v;

	if (strcmp(key, "errno") || st->have_errno || parse_u64(value, INT_MAX, &v))
		return -EPROTO;
	st->have_errno = true;
	st->err = v;
	return 0;
}

int wgx_uapi_parse_errno(const char *text, size_t len)
{
	struct get_state st = { 0 };
	int ret;

	ret = for_each_line(text, len, errno_line, &st);
	if (ret)
		return ret;
	if (!st.have_errno)
		return -EPROTO;
	return -st.err;
}

/* ---- the socket ---- */

static int uapi_connect(const char *ifname)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = UAPI_TIMEOUT_SEC };
	int fd, ret;

	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", WGX_UAPI_DIR,
			     ifname) >= sizeof(sun.sun_path))
		return -EINVAL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Sends req and reads the answer up to its blank line into a malloc'd *ans. */
static int uapi_call(const char *ifname, const char *req, size_t req_len, char **ans,
		     size_t *ans_len)
{
	size_t cap = 0, len = 0;
	char *buf = NULL, *nbuf;
	ssize_t n;
	int fd, ret;

	fd = uapi_connect(ifname);
	if (fd < 0)
		return fd;
	while (req_len) {
		n = send(fd, req, req_len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto err;
		}
		req += n;
		req_len -= n;
	}
	for (;;) {
		if (len + 1 >= cap) {
			/* The answer to get=1 holds the private key: no realloc. */
			nbuf = wgx_realloc_wipe(buf, cap, cap ? 2 * cap : 8192);
			if (!nbuf) {
				ret = -ENOMEM;
				goto err;
			}
			buf = nbuf;
			cap = cap ? 2 * cap : 8192;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto err;
		}
		if (!n) {
			ret = -EPROTO;	/* closed before the blank line */
			goto err;
		}
		len += n;
		if ((len == 1 && buf[0] == '\n') ||
		    (len >= 2 && buf[len - 1] == '\n' && buf[len - 2] == '\n'))
			break;
	}
	close(fd);
	buf[len] = '\0';
	*ans = buf;
	*ans_len = len;
	return 0;
err:
	close(fd);
	wgx_free_wipe(buf, cap);
	return ret;
}

int wgx_uapi_get_device(const char *ifname, struct wgx_wg_device *dev)
{
	static const char req[] = "get=1\n\n";
	size_t len;
	char *ans;
	int ret;

	ret = uapi_call(ifname, req, sizeof(req) - 1, &ans, &len);
	if (ret)
		return ret;
	ret = wgx_uapi_parse_get(ans, len, dev);
	wgx_free_wipe(ans, len);
	return ret;
}

int wgx_uapi_set(const char *ifname, const struct wgx_wg_peer *peers,
		 const uint8_t (*remove_keys)[WG_KEY_LEN], unsigned int nr)
{
	size_t req_len, len;
	char *req, *ans;
	int ret;

	ret = wgx_uapi_format_set(peers, remove_keys, nr, &req, &req_len);
	if (ret)
		return ret;
	ret = uapi_call(ifname, req, req_len, &ans, &len);
	wgx_free_wipe(req, req_len);
	if (ret)
		return ret;
	ret = wgx_uapi_parse_errno(ans, len);
	wgx_free_wipe(ans, len);
	return ret;
}
