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
#include <netinet/in.h>
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

int wgx_reinject_open(int *fd4, int *fd6)
{
	*fd4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (*fd4 < 0)
		return -errno;
	/* IPPROTO_RAW on AF_INET6 means the header is ours (Linux >= 4.5) */
	*fd6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (*fd6 < 0) {
		int err = -errno;

		close(*fd4);
		*fd4 = -1;
		return err;
	}
	return 0;
}

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int wgx_reinject(int fd4, int fd6, const struct wgx_hs_event *ev)
{
	uint8_t pkt[40 + 8 + WG_LEN_INITIATION] = {};
	size_t ulen = 8 + WG_LEN_INITIATION, hlen = ev->family == 6 ? 40 : 20;
	uint8_t *ip = pkt, *udp = pkt + hlen;
	union {
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} dst = {};
	uint32_t sum = 0;
	uint16_t c;
	ssize_t n;

	memcpy(udp, &ev->sport, 2);
	memcpy(udp + 2, &ev->dport, 2);
	udp[4] = ulen >> 8;
	udp[5] = ulen & 0xff;
	memcpy(udp + 8, ev->msg, WG_LEN_INITIATION);
	if (ev->family == 6) {
		ip[0] = 0x60;
		ip[4] = ulen >> 8;
		ip[5] = ulen & 0xff;
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		memcpy(ip + 8, ev->saddr, 16);
		memcpy(ip + 24, ev->daddr, 16);
		/* the UDP checksum is mandatory over IPv6: pseudo-header, then the datagram */
		sum = csum_add(sum, ev->saddr, 16);
		sum = csum_add(sum, ev->daddr, 16);
		sum += ulen + IPPROTO_UDP;
		sum = csum_add(sum, udp, ulen);
		c = csum_fold(sum);
		c = c ? c : 0xffff;
		udp[6] = c >> 8;
		udp[7] = c & 0xff;
		dst.in6.sin6_family = AF_INET6;
		memcpy(&dst.in6.sin6_addr, ev->daddr, 16);
		n = sendto(fd6, pkt, hlen + ulen, 0, (struct sockaddr *)&dst.in6, sizeof(dst.in6));
	} else {
		ip[0] = 0x45;
		ip[2] = (hlen + ulen) >> 8;
		ip[3] = (hlen + ulen) & 0xff;
		ip[8] = 64;
		ip[9] = IPPROTO_UDP;
		memcpy(ip + 12, ev->saddr, 4);
		memcpy(ip + 16, ev->daddr, 4);
		/* the kernel fills the IPv4 header checksum; UDP checksum 0 = none */
		dst.in4.sin_family = AF_INET;
		memcpy(&dst.in4.sin_addr, ev->daddr, 4);
		n = sendto(fd4, pkt, hlen + ulen, 0, (struct sockaddr *)&dst.in4, sizeof(dst.in4));
	}
	if (n < 0)
		return -errno;
	return n == (ssize_t)(hlen + ulen) ? 0 : -EIO;
}
