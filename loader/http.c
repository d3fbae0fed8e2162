// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A minimal HTTP/1.0 GET for the peer API (http:// only). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "loader/http.h"

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

