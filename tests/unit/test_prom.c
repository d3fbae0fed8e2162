// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The Prometheus exposition (loader/prom.c): HELP and TYPE lines, label escaping, histograms
 * (cumulative buckets ending at +Inf, _sum, _count); the daemon's part of the metrics
 * (loader/metrics.c) without anything pinned; --metrics addresses; and the HTTP server in
 * the daemon's loop (libmicrohttpd on its epoll descriptor, loader/loop.c's one-shot timer):
 * GET, HEAD, 404, 405, from a client thread on 127.0.0.1 while the loop runs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "loader/log.h"
#include "loader/loop.h"
#include "loader/metrics.h"
#include "loader/prom.h"

#include "check.h"

#define CHECK_TEXT(got, want, what)                                                             \
	CHECK((got) && !strcmp((got), (want)), "%s:\n--- expected\n%s--- got\n%s---", what,     \
	      want, (got) ? (got) : "(null)")

static void test_family_and_labels(void)
{
	struct wgx_prom p;

	wgx_prom_init(&p);
	wgx_prom_family(&p, "wgxdp_x_total", WGX_PROM_COUNTER, "Back\\slash, new\nline, \"quote\".");
	wgx_prom_sample(&p, "wgxdp_x_total", 0, NULL);
	wgx_prom_sample(&p, "wgxdp_x_total", 18446744073709551615ull, "a", "1", "b", "two", NULL);
	wgx_prom_sample(&p, "wgxdp_x_total", 7, "interface", "we\"ird\\na\nme", NULL);
	wgx_prom_family(&p, "wgxdp_g", WGX_PROM_GAUGE, "A gauge.");
	wgx_prom_sample(&p, "wgxdp_g", 3, "empty", "", NULL);
	CHECK(!p.err, "no error");
	CHECK_TEXT(p.buf,
		   "# HELP wgxdp_x_total Back\\\\slash, new\\nline, \"quote\".\n"
		   "# TYPE wgxdp_x_total counter\n"
		   "wgxdp_x_total 0\n"
		   "wgxdp_x_total{a=\"1\",b=\"two\"} 18446744073709551615\n"
		   "wgxdp_x_total{interface=\"we\\\"ird\\\\na\\nme\"} 7\n"
		   "# HELP wgxdp_g A gauge.\n"
		   "# TYPE wgxdp_g gauge\n"
		   "wgxdp_g{empty=\"\"} 3\n",
		   "HELP escapes backslash and newline, label values also the double quote");
	CHECK(p.len == strlen(p.buf), "len %zu = strlen %zu", p.len, strlen(p.buf));
	wgx_prom_free(&p);
}

static void test_growth(void)
{
	struct wgx_prom p;
	char want[64];
	int i;

	wgx_prom_init(&p);
	for (i = 0; i < 5000; i++)
		wgx_prom_sample(&p, "wgxdp_many", i, "i", "x", NULL);
	CHECK(!p.err && p.len == strlen(p.buf), "5000 samples: err %d, len %zu", p.err, p.len);
	snprintf(want, sizeof(want), "wgxdp_many{i=\"x\"} 4999\n");
	CHECK(p.len > strlen(want) && !strcmp(p.buf + p.len - strlen(want), want),
	      "the last sample ends the buffer");
	wgx_prom_free(&p);
}

static void test_histogram(void)
{
	static const double le[] = { 0.00025, 0.001, 0.1, 1, 10 };
	static const double bad1[] = { 1, 1 }, bad2[] = { 2, 1 };
	static const double many[WGX_PROM_MAX_BUCKETS + 1] = { 0 };
	struct wgx_prom_hist h;
	struct wgx_prom p;

	CHECK(wgx_prom_hist_init(&h, bad1, 2) == -EINVAL, "equal bounds refused");
	CHECK(wgx_prom_hist_init(&h, bad2, 2) == -EINVAL, "descending bounds refused");
	CHECK(wgx_prom_hist_init(&h, many, WGX_PROM_MAX_BUCKETS + 1) == -EINVAL,
	      "too many bounds refused");
	if (!CHECK(wgx_prom_hist_init(&h, le, 5) == 0, "init"))
		return;

	wgx_prom_init(&p);
	wgx_prom_histogram(&p, "wgxdp_t_seconds", &h);
	CHECK_TEXT(p.buf,
		   "wgxdp_t_seconds_bucket{le=\"0.00025\"} 0\n"
		   "wgxdp_t_seconds_bucket{le=\"0.001\"} 0\n"
		   "wgxdp_t_seconds_bucket{le=\"0.1\"} 0\n"
		   "wgxdp_t_seconds_bucket{le=\"1\"} 0\n"
		   "wgxdp_t_seconds_bucket{le=\"10\"} 0\n"
		   "wgxdp_t_seconds_bucket{le=\"+Inf\"} 0\n"
		   "wgxdp_t_seconds_sum 0\n"
		   "wgxdp_t_seconds_count 0\n",
		   "an empty histogram: every bucket, +Inf, _sum and _count at 0");
	wgx_prom_free(&p);

	/* 0.001 lands in le="0.001" (less or equal); 100 only in +Inf */
	wgx_prom_hist_observe(&h, 0.0001);
	wgx_prom_hist_observe(&h, 0.001);
	wgx_prom_hist_observe(&h, 0.0011);
	wgx_prom_hist_observe(&h, 0.5);
	wgx_prom_hist_observe(&h, 0.75);
	wgx_prom_hist_observe(&h, 100);
	wgx_prom_init(&p);
	wgx_prom_histogram(&p, "wgxdp_t_seconds", &h);
	CHECK_TEXT(p.buf,
		   "wgxdp_t_seconds_bucket{le=\"0.00025\"} 1\n"
		   "wgxdp_t_seconds_bucket{le=\"0.001\"} 2\n"
		   "wgxdp_t_seconds_bucket{le=\"0.1\"} 3\n"
		   "wgxdp_t_seconds_bucket{le=\"1\"} 5\n"
		   "wgxdp_t_seconds_bucket{le=\"10\"} 5\n"
		   "wgxdp_t_seconds_bucket{le=\"+Inf\"} 6\n"
		   "wgxdp_t_seconds_sum 101.2522\n"
		   "wgxdp_t_seconds_count 6\n",
		   "buckets are cumulative, +Inf counts all, the sum reads back exactly");
	wgx_prom_free(&p);
}

/* Every line a comment or "name{labels} value", each family's HELP before its TYPE. */
static void check_wellformed(const char *text, const char *what)
{
	char help[128] = "", *copy = strdup(text), *save, *line;
	int lines = 0, bad = 0;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128];

		lines++;
		if (sscanf(line, "# HELP %127s", name) == 1) {
			snprintf(help, sizeof(help), "%s", name);
		} else if (sscanf(line, "# TYPE %127s", name) == 1) {
			if (strcmp(name, help) && !bad++)
				fprintf(stderr, "%s: TYPE %s without its HELP\n", what, name);
		} else if (line[0] == '#' || !strchr(line, ' ') ||
			   strncmp(line, help, strlen(help))) {
			if (!bad++)
				fprintf(stderr, "%s: line \"%s\" outside its family %s\n", what, line,
					help);
		}
	}
	CHECK(lines > 0 && !bad, "%s: %d lines, %d bad", what, lines, bad);
	free(copy);
}

static void test_render_daemon(void)
{
	struct wgx_jit_stats st = { .installed = 3, .bad_mac1 = 2, .removed_idle = 1,
				    .policy_applied = 4, .reinjected = 3 };
	struct wgx_prom_hist h;
	unsigned int managed = 2;
	struct wgx_metrics_src src = { .pin_dir = "/nonexistent/wgxdp-unit", .st = &st,
				       .managed_peers = &managed, .install = &h };
	struct wgx_prom p;

	wgx_prom_hist_init(&h, wgx_install_buckets, wgx_nr_install_buckets);
	wgx_prom_hist_observe(&h, 0.0009);
	wgx_prom_init(&p);
	wgx_metrics_render(&src, &p);
	if (!CHECK(!p.err && p.buf, "render"))
		return;
	check_wellformed(p.buf, "daemon metrics");
	CHECK(strstr(p.buf, "\nwgxdp_build_info{version=\"" WGXDP_VERSION "\"} 1\n"), "build info");
	CHECK(strstr(p.buf, "\nwgxdp_handshake_initiations_total{outcome=\"installed\"} 3\n"),
	      "installed");
	CHECK(strstr(p.buf, "\nwgxdp_handshake_initiations_total{outcome=\"bad_mac1\"} 2\n"),
	      "bad_mac1");
	CHECK(strstr(p.buf, "\nwgxdp_managed_peers 2\n"), "managed peers");
	CHECK(strstr(p.buf, "\nwgxdp_peers_removed_total{reason=\"idle\"} 1\n"), "removed idle");
	CHECK(strstr(p.buf, "\nwgxdp_policy_applies_total{result=\"applied\"} 4\n"), "applied");
	CHECK(strstr(p.buf, "\nwgxdp_peer_install_seconds_bucket{le=\"0.001\"} 1\n"), "bucket");
	CHECK(strstr(p.buf, "\n# TYPE wgxdp_peer_install_seconds histogram\n"), "histogram type");
	CHECK(!strstr(p.buf, "wgxdp_uplink_") && !strstr(p.buf, "wgxdp_tunnel_"),
	      "nothing pinned: no uplink or tunnel metrics");
	wgx_prom_free(&p);
}

static void test_addr(void)
{
	static const char *const good[] = { "127.0.0.1:9586", "0.0.0.0:1", "[::1]:9586",
					    "[::]:65535", "[fe80::1]:80" };
	static const char *const bad[] = { "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
					   "127.0.0.1:65536", ":9586", "localhost:9586",
					   "::1:9586", "[::1]", "[::1]9586", "[127.0.0.1]:80",
					   "1.2.3:80", "127.0.0.1:95x", "127.0.0.1:+80", "[]:80", "" };
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned int i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(!wgx_metrics_addr_parse(good[i], &ss, &len), "%s accepted", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(wgx_metrics_addr_parse(bad[i], &ss, &len) == -EINVAL, "\"%s\" refused",
		      bad[i]);
	CHECK(!wgx_metrics_addr_parse("[::1]:9586", &ss, &len) && ss.ss_family == AF_INET6 &&
	      ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == 9586, "[::1]:9586 is v6, 9586");
	CHECK(!wgx_metrics_addr_parse("127.0.0.1:80", &ss, &len) && ss.ss_family == AF_INET &&
	      len == sizeof(struct sockaddr_in), "127.0.0.1:80 is v4");
}

/* ---- the server in the loop, a client thread ---- */

struct client {
	int port;
	int done_fd;		/* eventfd: the loop stops when it is written */
	char get[8192];		/* responses, as received */
	char head[2048];
	char notfound[2048];
	char post[2048];
	char put_body[2048];
};

static void request(int port, const char *req, char *out, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	out[0] = 0;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		snprintf(out, len, "client error: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	/* Connection: close: read to the end */
	while (got + 1 < len && (n = read(fd, out + got, len - 1 - got)) > 0)
		got += n;
	out[got] = 0;
	close(fd);
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	uint64_t one = 1;

	request(c->port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", c->get,
		sizeof(c->get));
	request(c->port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		c->head, sizeof(c->head));
	request(c->port, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		c->notfound, sizeof(c->notfound));
	request(c->port, "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		"Content-Length: 3\r\n\r\nabc", c->post, sizeof(c->post));
	request(c->port, "PUT /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		"Content-Length: 0\r\n\r\n", c->put_body, sizeof(c->put_body));
	if (write(c->done_fd, &one, sizeof(one)) != sizeof(one))
		perror("eventfd");
	return NULL;
}

static void on_done(void *ctx, int fd, uint32_t events)
{
	wgx_loop_stop(ctx, 0);
}

static void on_deadline(void *ctx, int fd, uint32_t events)
{
	wgx_loop_stop(ctx, -ETIMEDOUT);
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static void test_server(void)
{
	struct wgx_jit_stats st = { .installed = 5 };
	struct wgx_metrics_src src = { .pin_dir = "/nonexistent/wgxdp-unit", .st = &st };
	struct client c = {};
	struct wgx_metrics *m = NULL, *m2 = NULL;
	struct wgx_loop *l = NULL;
	char addr[32], why[160];
	pthread_t th;
	int err, deadline;

	c.port = free_port();
	c.done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!CHECK(c.port > 0 && c.done_fd >= 0, "a free port and an eventfd"))
		return;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", c.port);
	err = wgx_metrics_open(addr, &src, &m, why, sizeof(why));
	if (!CHECK(!err, "open %s: %s", addr, why))
		goto out;
	/* the same address again: a clear error, not a second server */
	err = wgx_metrics_open(addr, &src, &m2, why, sizeof(why));
	CHECK(err == -EADDRINUSE && strstr(why, "Address already in use") && !m2,
	      "a second bind: %d (%s)", err, why);
	CHECK(!wgx_loop_new(&l), "loop");
	CHECK(!wgx_metrics_attach(m, l), "attach");
	CHECK(!wgx_loop_add(l, c.done_fd, EPOLLIN, on_done, l), "eventfd in the loop");
	CHECK(!wgx_loop_oneshot(l, on_deadline, l, &deadline), "a deadline");
	wgx_loop_arm(l, deadline, 20000);
	if (!CHECK(!pthread_create(&th, NULL, client_main, &c), "client thread"))
		goto out;
	err = wgx_loop_run(l);
	CHECK(err == 0, "the loop served the client (%s)", err ? strerror(-err) : "ok");
	pthread_join(th, NULL);

	CHECK(!strncmp(c.get, "HTTP/1.1 200", 12), "GET /metrics: %.40s", c.get);
	CHECK(strstr(c.get, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n") ||
	      strstr(c.get, "\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\n"),
	      "GET: the Prometheus content type");
	CHECK(strstr(c.get, "\r\n\r\n# HELP wgxdp_build_info ") &&
	      strstr(c.get, "\nwgxdp_handshake_initiations_total{outcome=\"installed\"} 5\n"),
	      "GET: the body is the exposition");
	CHECK(!strncmp(c.head, "HTTP/1.1 200", 12), "HEAD /metrics: %.40s", c.head);
	CHECK(strstr(c.head, "\r\n\r\n") && !strstr(c.head, "\r\n\r\n")[4], "HEAD: no body");
	CHECK(!strncmp(c.notfound, "HTTP/1.1 404", 12), "GET /nope: %.40s", c.notfound);
	CHECK(!strncmp(c.post, "HTTP/1.1 405", 12), "POST: %.40s", c.post);
	CHECK(strstr(c.post, "\r\nAllow: GET, HEAD\r\n") != NULL, "405 says Allow: GET, HEAD");
	CHECK(!strncmp(c.put_body, "HTTP/1.1 405", 12), "PUT: %.40s", c.put_body);
out:
	wgx_metrics_close(m);
	wgx_loop_free(l);
	close(c.done_fd);
}

static void test_oneshot(void)
{
	struct wgx_loop *l = NULL;
	int t, fired;

	if (!CHECK(!wgx_loop_new(&l), "loop"))
		return;
	CHECK(!wgx_loop_oneshot(l, on_done, l, &t), "one-shot timer");
	CHECK(!wgx_loop_arm(l, t, 0), "armed for now");
	fired = wgx_loop_run(l);
	CHECK(fired == 0, "an armed-for-now timer fires at the next turn");
	CHECK(!wgx_loop_arm(l, t, 10), "armed for 10 ms");
	CHECK(!wgx_loop_arm(l, t, WGX_LOOP_DISARM), "disarmed");
	CHECK(!wgx_loop_oneshot(l, on_deadline, l, &fired), "a second timer");
	CHECK(!wgx_loop_arm(l, fired, 50), "armed for 50 ms");
	CHECK(wgx_loop_run(l) == -ETIMEDOUT, "the disarmed timer did not fire, the other did");
	wgx_loop_free(l);
}

int main(void)
{
	wgx_log_setup(stderr, WGX_LOG_HUMAN, WGX_LOG_WARN);
	test_family_and_labels();
	test_growth();
	test_histogram();
	test_render_daemon();
	test_addr();
	test_oneshot();
	test_server();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
