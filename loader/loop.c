// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include "loader/loop.h"

struct source {
	int fd;
	bool dead;		/* removed; freed after the current batch */
	bool timer;		/* a timerfd the loop made and closes */
	wgx_loop_fn fn;
	void *ctx;
	struct source *next;
};

struct wgx_loop {
	int epfd;
	bool stop;
	int rc;
	struct source *sources;
};

int wgx_loop_new(struct wgx_loop **out)
{
	struct wgx_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int err = -errno;

		free(l);
		return err;
	}
	*out = l;
	return 0;
}

static void reap(struct wgx_loop *l)
{
	struct source **pp = &l->sources, *s;

	while ((s = *pp)) {
		if (s->dead) {
			*pp = s->next;
			if (s->timer)
				close(s->fd);
			free(s);
		} else {
			pp = &s->next;
		}
	}
}

void wgx_loop_free(struct wgx_loop *l)
{
	struct source *s;

	if (!l)
		return;
	for (s = l->sources; s; s = s->next)
		s->dead = true;
	reap(l);
	close(l->epfd);
	free(l);
}

int wgx_loop_add(struct wgx_loop *l, int fd, uint32_t events, wgx_loop_fn fn, void *ctx)
{
	struct source *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = events };

	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->fn = fn;
	s->ctx = ctx;
	ev.data.ptr = s;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int err = -errno;

		free(s);
		return err;
	}
	s->next = l->sources;
	l->sources = s;
	return 0;
}

int wgx_loop_del(struct wgx_loop *l, int fd)
{
	struct source *s;

	for (s = l->sources; s; s = s->next) {
		if (s->fd == fd && !s->dead) {
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
			s->dead = true;	/* an event for it may still be in this batch */
			return 0;
		}
	}
	return -ENOENT;
}

int wgx_loop_timer(struct wgx_loop *l, unsigned int interval_ms, wgx_loop_fn fn, void *ctx)
{
	struct itimerspec its = {
		.it_interval = { interval_ms / 1000, interval_ms % 1000 * 1000000l },
		.it_value = { interval_ms / 1000, interval_ms % 1000 * 1000000l },
	};
	int fd, err;

	if (!interval_ms)
		return -EINVAL;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &its, NULL)) {
		err = -errno;
		close(fd);
		return err;
	}
	err = wgx_loop_add(l, fd, EPOLLIN, fn, ctx);
	if (err) {
		close(fd);
		return err;
	}
	l->sources->timer = true;
	return 0;
}

int wgx_loop_oneshot(struct wgx_loop *l, wgx_loop_fn fn, void *ctx, int *id)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK), err;

	if (fd < 0)
		return -errno;
	err = wgx_loop_add(l, fd, EPOLLIN, fn, ctx);
	if (err) {
		close(fd);
		return err;
	}
	l->sources->timer = true;
	*id = fd;
	return 0;
}

int wgx_loop_arm(struct wgx_loop *l, int id, uint64_t ms)
{
	struct itimerspec its = {};

	if (ms != WGX_LOOP_DISARM) {
		if (ms > 86400000ull)
			ms = 86400000ull;	/* a day: it is armed again long before */
		its.it_value.tv_sec = ms / 1000;
		/* an all-zero it_value disarms: "now" is one nanosecond */
		its.it_value.tv_nsec = ms ? (long)(ms % 1000) * 1000000l : 1;
	}
	return timerfd_settime(id, 0, &its, NULL) ? -errno : 0;
}

void wgx_loop_stop(struct wgx_loop *l, int rc)
{
	l->stop = true;
	l->rc = rc;
}

int wgx_loop_run(struct wgx_loop *l)
{
	struct epoll_event evs[16];
	int n, i;

	l->stop = false;
	while (!l->stop) {
		n = epoll_wait(l->epfd, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n && !l->stop; i++) {
			struct source *s = evs[i].data.ptr;

			if (s->dead)
				continue;
			if (s->timer) {
				uint64_t ticks;

				if (read(s->fd, &ticks, sizeof(ticks)) != sizeof(ticks))
					continue;
			}
			s->fn(s->ctx, s->fd, evs[i].events);
		}
		reap(l);
	}
	return l->rc;
}
