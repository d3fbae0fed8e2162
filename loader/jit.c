// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include "loader/jit.h"

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

void wgx_key_endpoint(uint8_t out[16], int family, const uint8_t addr[16], uint16_t port)
{
	memset(out, 0, 16);
	if (family == 6) {
		/* the /64 and the interface id folded, then the port */
		memcpy(out, addr, 16);
		out[14] ^= port >> 8;
		out[15] ^= port & 0xff;
		out[0] ^= 0x80;
	} else {
		memcpy(out, addr, 4);
		out[4] = port >> 8;
		out[5] = port & 0xff;
		out[15] = 4;
	}
}

void wgx_key_pubkey(uint8_t out[16], const uint8_t pub[32])
{
	int i;

	for (i = 0; i < 16; i++)
		out[i] = pub[i] ^ pub[i + 16];
}

int wgx_http_url_check(const char *url)
{
	const char *host = url + 7;

	if (strncmp(url, "http://", 7) || !*host || *host == '/')
		return -EINVAL;
	return 0;
}

/* Split http://host[:port][/path] */
static int parse_url(const char *url, char *host, size_t hlen, char *port, size_t plen,
		     char *path, size_t pathlen)
{
	const char *h = url + 7, *slash, *colon, *end;

	if (wgx_http_url_check(url))
		return -EINVAL;
	slash = strchr(h, '/');
	end = slash ? slash : h + strlen(h);
	if (*h == '[') {	/* [v6]:port */
		const char *rb = memchr(h, ']', end - h);

		if (!rb || (size_t)(rb - h - 1) >= hlen)
			return -EINVAL;
		snprintf(host, hlen, "%.*s", (int)(rb - h - 1), h + 1);
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(h, ':', end - h);
		if ((size_t)((colon ? colon : end) - h) >= hlen)
			return -EINVAL;
		snprintf(host, hlen, "%.*s", (int)((colon ? colon : end) - h), h);
	}
	if (colon)
		snprintf(port, plen, "%.*s", (int)(end - colon - 1), colon + 1);
	else
		snprintf(port, plen, "80");
	snprintf(path, pathlen, "%s", slash ? slash : "");
	return 0;
}

static int wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int n = poll(&p, 1, timeout_ms);

	return n > 0 ? 0 : n == 0 ? -ETIMEDOUT : -errno;
}

int wgx_http_get(const char *base_url, const char *suffix, int timeout_ms, int *status,
		 char **body)
{
	char host[256], port[16], path[512], req[1024], *buf = NULL, *p;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	size_t len = 0, cap = 0;
	int fd = -1, err, n;

	*status = 0;
	*body = NULL;
	err = parse_url(base_url, host, sizeof(host), port, sizeof(port), path, sizeof(path));
	if (err)
		return err;
	while (*path && path[strlen(path) - 1] == '/')
		path[strlen(path) - 1] = '\0';
	if (getaddrinfo(host, port, &hints, &ai))
		return -EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
		err = -errno;
		goto out;
	}
	err = wait_fd(fd, POLLOUT, timeout_ms);
	if (err)
		goto out;
	{
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			err = -soerr;
			goto out;
		}
	}
	n = snprintf(req, sizeof(req), "GET %s/%s HTTP/1.0\r\nHost: %s\r\nUser-Agent: wgxdp\r\n"
		     "Accept: application/json\r\nConnection: close\r\n\r\n", path, suffix, host);
	if (n >= (int)sizeof(req)) {
		err = -E2BIG;
		goto out;
	}
	if (send(fd, req, n, MSG_NOSIGNAL) != n) {
		err = -EIO;
		goto out;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			if (cap >= (1u << 20)) {	/* a user object is small */
				err = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 8192;
			p = realloc(buf, cap);
			if (!p) {
				err = -ENOMEM;
				goto out;
			}
			buf = p;
		}
		err = wait_fd(fd, POLLIN, timeout_ms);
		if (err)
			goto out;
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/%*d.%*d %d", status) != 1) {
		err = -EPROTO;
		goto out;
	}
	p = strstr(buf, "\r\n\r\n");
	if (!p) {
		err = -EPROTO;
		goto out;
	}
	*body = strdup(p + 4);
	err = *body ? 0 : -ENOMEM;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	if (ai)
		freeaddrinfo(ai);
	return err;
}

int wgx_jit_maps_open(const char *pin_dir, struct wgx_jit_maps *m)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/wgx_peers", pin_dir);
	m->peers_fd = bpf_obj_get(path);
	if (m->peers_fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/wgx_jit_stats", pin_dir);
	m->stats_fd = bpf_obj_get(path);
	if (m->stats_fd < 0) {
		int err = -errno;

		close(m->peers_fd);
		return err;
	}
	return 0;
}

void wgx_jit_maps_close(struct wgx_jit_maps *m)
{
	if (m->peers_fd >= 0)
		close(m->peers_fd);
	if (m->stats_fd >= 0)
		close(m->stats_fd);
	m->peers_fd = m->stats_fd = -1;
}

int wgx_jit_stats_read(const struct wgx_jit_maps *m, struct wgx_jit_stats *s)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(m->stats_fd, &k, s) ? -errno : 0;
}

int wgx_jit_stats_write(const struct wgx_jit_maps *m, const struct wgx_jit_stats *s)
{
	__u32 k = 0;

	return bpf_map_update_elem(m->stats_fd, &k, s, BPF_ANY) ? -errno : 0;
}
