/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The daemon's one event loop (epoll): every source — the handshake ring buffer, timers,
 * signals, the metrics server (libmicrohttpd's own epoll descriptor, loader/metrics.h) — is
 * a file descriptor with a callback. Single-threaded: callbacks run one at a time and may add
 * or remove sources.
 */
#ifndef WGXDP_LOOP_H
#define WGXDP_LOOP_H

#include <stdint.h>

struct wgx_loop;
/* events: EPOLLIN etc. as epoll reported them. */
typedef void (*wgx_loop_fn)(void *ctx, int fd, uint32_t events);

int wgx_loop_new(struct wgx_loop **out);
void wgx_loop_free(struct wgx_loop *l);	/* closes the timers it made, not other fds */
int wgx_loop_add(struct wgx_loop *l, int fd, uint32_t events, wgx_loop_fn fn, void *ctx);
int wgx_loop_del(struct wgx_loop *l, int fd);
/* A periodic timer (CLOCK_MONOTONIC) owned by the loop; fn is called once per tick. */
int wgx_loop_timer(struct wgx_loop *l, unsigned int interval_ms, wgx_loop_fn fn, void *ctx);
/*
 * A one-shot timer owned by the loop, disarmed until wgx_loop_arm: *id names it (remove it
 * with wgx_loop_del(l, *id)). Arming again replaces the deadline: fn is called once, ms
 * milliseconds from now (0: at the loop's next turn); WGX_LOOP_DISARM cancels it.
 */
#define WGX_LOOP_DISARM UINT64_MAX
int wgx_loop_oneshot(struct wgx_loop *l, wgx_loop_fn fn, void *ctx, int *id);
int wgx_loop_arm(struct wgx_loop *l, int id, uint64_t ms);
/* Run until wgx_loop_stop; returns its rc, or -errno if epoll fails. */
int wgx_loop_run(struct wgx_loop *l);
void wgx_loop_stop(struct wgx_loop *l, int rc);

#endif /* WGXDP_LOOP_H */
