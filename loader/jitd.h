/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The just-in-time peer daemon's core (`wgxdp run`): one event loop (loader/loop.h) over the
 * handshake ring buffer, the sweep timer and the signals, and the modules it wires together
 * for each initiation:
 *   admission (loader/admission.h)  port, mac1, per-source rate, decryption, replay
 *   identity  (loader/identity.h)   policy file, peer API
 *   lifecycle (loader/lifecycle.h)  the WireGuard device and wgx_peers: install, sweep
 *   reinject  (loader/reinject.h)   the client's own first initiation, to WireGuard again
 * State that must outlive the process is pinned under <pin_dir>/jit/ (loader/jit_state.h).
 * A detach and re-attach of the uplink gives a new ring buffer: the daemon notices within a
 * sweep and reads the new one. With metrics_addr, loader/metrics.h serves Prometheus metrics
 * from the same loop. Logs through loader/log.h (component "run").
 */
#ifndef WGXDP_JITD_H
#define WGXDP_JITD_H

#include "loader/http.h"

#include <stdbool.h>

enum wgx_answer {
	WGX_ANSWER_REINJECT = 0,	/* hand the client's initiation to WireGuard again */
	WGX_ANSWER_KEEPALIVE,		/* install with a persistent keepalive */
	WGX_ANSWER_NONE,		/* install only: the client's retry gets in */
};

struct wgx_jitd_opts {
	const char *wg_ifname;
	const char *policy_path;	/* at least one of policy_path and api_url */
	const char *api_url;
	const char *pin_dir;
	unsigned int idle_timeout;	/* seconds (600) */
	unsigned int rate, burst;	/* initiations per source (20/s, 5) */
	unsigned int api_rate;		/* peer API calls per second (50) */
	unsigned int api_revalidate;	/* seconds between revalidations of an API user (300) */
	unsigned int api_stale;		/* seconds a cached answer serves while the API fails */
	unsigned int api_refresh;	/* seconds between GET URL/groups (60); without a policy
					 * file the groups come from there */
	struct wgx_http_opts api_http;	/* TLS, token, timeouts (loader/http.h) */
	unsigned int sweep_ms;		/* 1000 */
	enum wgx_answer answer;
	unsigned int min_plen4, min_plen6; /* widest tunnel prefix a user may have (24, 64) */
	const char *flow_log;		/* NULL: none; "-": standard output (loader/flowlog.h) */
	unsigned int flow_interval;	/* seconds (10) */
	const char *metrics_addr;	/* "127.0.0.1:9586", "[::1]:9586"; NULL: no metrics */
};

/*
 * Run until SIGTERM or SIGINT: 0. A failure to start is logged with its reason and returned
 * as -errno (-ENODEV: no such interface, -EOPNOTSUPP: not WireGuard, -ENOENT: the uplink is
 * not attached, -EINVAL: the policy file is wrong, -EADDRINUSE: the metrics address is
 * taken; the metrics address is bound first, before anything else is touched).
 */
int wgx_jitd_run(const struct wgx_jitd_opts *o);

#endif /* WGXDP_JITD_H */
