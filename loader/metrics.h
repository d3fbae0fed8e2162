/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The daemon's Prometheus endpoint (`wgxdp run --metrics ADDR:PORT`): GET or HEAD /metrics
 * serves the text exposition (format 0.0.4, loader/prom.h) of the uplink's and the tunnel's
 * pinned counters (absent while not attached), the flow table's fill, and the daemon's own
 * counters, managed peers and install-time histogram. Another path is 404, another method
 * 405.
 *
 * HTTP is libmicrohttpd's, without threads of its own: MHD_USE_EPOLL, its epoll descriptor
 * a source of the daemon's one loop (loader/loop.h), MHD_run when it is readable, and a
 * one-shot loop timer armed after every run with MHD_get_timeout (idle connections time out,
 * data MHD holds gets processed). Every callback runs on the loop's thread: the daemon's
 * counters are read in place, no lock. Bounded: 64 connections, 8 per client address, 10 s
 * of inactivity, 16 KiB of request memory each; a body is built at most once a second and
 * the flow table walked at most every 5 seconds, whatever the rate of scrapes.
 * Logs through loader/log.h (component "metrics"; libmicrohttpd's own messages at debug).
 */
#ifndef WGXDP_METRICS_H
#define WGXDP_METRICS_H

#include <stddef.h>
#include <sys/socket.h>
#include "loader/loop.h"
#include "loader/prom.h"
#include "maps/wgxdp.h"

#define WGX_METRICS_CONN_LIMIT		64
#define WGX_METRICS_PER_IP_LIMIT	8
#define WGX_METRICS_TIMEOUT_S		10
#define WGX_METRICS_BODY_CACHE_MS	1000
#define WGX_METRICS_FLOWS_CACHE_MS	5000

/* What the daemon shares with its metrics: read at each scrape, on the loop's thread. */
struct wgx_metrics_src {
	const char *pin_dir;
	const struct wgx_jit_stats *st;		/* NULL: no daemon counters */
	const unsigned int *managed_peers;
	const struct wgx_prom_hist *install;	/* initiation to installed peer, seconds */
};

/* "127.0.0.1:9586" or "[::1]:9586" (numeric only, port 1-65535): 0 or -EINVAL. */
int wgx_metrics_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/*
 * Bind and listen on addr and start libmicrohttpd on that socket (no threads). 0, or -errno
 * with why filled ("127.0.0.1:9586: Address already in use"). src must outlive *out.
 */
struct wgx_metrics;
int wgx_metrics_open(const char *addr, const struct wgx_metrics_src *src,
		     struct wgx_metrics **out, char *why, size_t whylen);
/* Serve from loop l: 0 or -errno. */
int wgx_metrics_attach(struct wgx_metrics *m, struct wgx_loop *l);
/* Leaves the loop (if attached), stops libmicrohttpd, closes its sockets. NULL is fine. */
void wgx_metrics_close(struct wgx_metrics *m);

/* The exposition of src now into p (no cache): what a scrape gets. */
void wgx_metrics_render(const struct wgx_metrics_src *src, struct wgx_prom *p);

/* The buckets of wgxdp_peer_install_seconds. */
extern const double wgx_install_buckets[];
extern const unsigned int wgx_nr_install_buckets;

#endif /* WGXDP_METRICS_H */
