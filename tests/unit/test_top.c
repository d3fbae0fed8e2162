// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * loader/top.c: `wgxdp top`'s rates from two fixed snapshots: per flow, per user and the
 * tunnel's totals; a flow evicted and created again under the same key, and counters that
 * went back, give no negative rate; ties sort by name, then id; the name filter; users
 * without a name; deny-only users; the first snapshot has no rates.
 */
#include <endian.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/top.h"

#include "check.h"

#define S(x) ((uint64_t)(x) * 1000000000ull)

static bool near(double got, double want)
{
	return got - want < 1e-6 && want - got < 1e-6;
}

#define CHECK_RATE(got, want, what) CHECK(near(got, want), "%s: expected %g, got %g", what, \
					  (double)(want), (double)(got))

/* A flow of user id uid (name, "" for none) to 10.0.0.<host>:port, first seen at first. */
static void flow(struct wgx_top_snap *s, uint32_t uid, const char *name, int host, int port,
		 uint64_t first, uint64_t out, uint64_t in)
{
	struct wgx_flow_rec *r;

	s->flows = realloc(s->flows, (s->nr_flows + 1) * sizeof(*r));
	r = &s->flows[s->nr_flows++];
	memset(r, 0, sizeof(*r));
	r->key.family = 4;
	r->key.proto = 6;
	r->key.uport = htobe16(40000);
	r->key.rport = htobe16(port);
	r->key.uaddr[0] = 100, r->key.uaddr[1] = 64, r->key.uaddr[3] = uid & 0xff;
	r->key.raddr[0] = 10, r->key.raddr[3] = host;
	r->v.user_id = uid;
	r->v.first_ns = first;
	r->v.last_ns = first + 1;
	r->v.bytes_out = out;
	r->v.bytes_in = in;
	r->v.pkts_out = out / 100;
	r->v.pkts_in = in / 100;
	r->live = true;
	snprintf(r->user, sizeof(r->user), "%s", name);
}

static void deny(struct wgx_top_snap *s, uint32_t uid, const char *name, uint64_t n)
{
	struct wgx_top_deny *d;

	s->denies = realloc(s->denies, (s->nr_denies + 1) * sizeof(*d));
	d = &s->denies[s->nr_denies++];
	memset(d, 0, sizeof(*d));
	d->user_id = uid;
	d->denied = n;
	snprintf(d->user, sizeof(d->user), "%s", name);
}

static const struct wgx_top_user *user(const struct wgx_top_view *v, uint32_t id)
{
	size_t i;

	for (i = 0; i < v->nr_users; i++)
		if (v->users[i].user_id == id)
			return &v->users[i];
	return NULL;
}

/* The index of a counter of struct wgx_jit_stats in view.jit_ps */
#define J(field) (offsetof(struct wgx_jit_stats, field) / sizeof(__u64))

/* Rates over 2 s: per flow, per user, the tunnel's totals and the daemon's counters. */
static void test_rates(void)
{
	struct wgx_top_snap p = { .t_ns = S(100) }, c = { .t_ns = S(102) };
	struct wgx_top_view v;
	const struct wgx_top_user *a, *b;

	flow(&p, 1, "alice", 1, 22, S(50), 1000, 2000);
	flow(&p, 2, "bob", 2, 80, S(60), 500, 500);
	flow(&c, 1, "alice", 1, 22, S(50), 3000, 6000);		/* +2000, +4000 */
	flow(&c, 1, "alice", 3, 443, S(101), 400, 0);		/* new since p: all of it */
	flow(&c, 2, "bob", 2, 80, S(60), 500, 500);		/* idle */
	p.ctr[WGX_TD_INGRESS][WGX_TR_ALLOWED].packets = 10;
	c.ctr[WGX_TD_INGRESS][WGX_TR_ALLOWED].packets = 30;
	c.ctr[WGX_TD_INGRESS][WGX_TR_ALLOWED].bytes = 2000;
	c.ctr[WGX_TD_INGRESS][WGX_TR_DENIED].packets = 4;
	c.ctr[WGX_TD_EGRESS][WGX_TR_REPLY].packets = 6;
	p.jit.installed = 1;
	c.jit.installed = 5;
	c.jit.throttled = 10;

	if (!CHECK(!wgx_top_compute(&p, &c, &v), "compute"))
		return;
	CHECK_RATE(v.interval_s, 2, "interval");
	CHECK(v.nr_users == 2 && v.nr_flows == 3, "2 users, 3 flows: got %zu, %zu", v.nr_users,
	      v.nr_flows);
	a = user(&v, 1);
	b = user(&v, 2);
	if (!CHECK(a && b, "alice and bob are users"))
		goto out;
	CHECK(v.users[0].user_id == 1, "alice first (the highest rate)");
	CHECK_RATE(a->tx_bps, 1000 + 200, "alice tx B/s");
	CHECK_RATE(a->rx_bps, 2000, "alice rx B/s");
	CHECK(a->nr_flows == 2, "alice has 2 flows, got %zu", a->nr_flows);
	CHECK(a->last_ns == S(101) + 1, "alice last seen: her newest flow");
	CHECK_RATE(b->tx_bps + b->rx_bps, 0, "bob idle");
	CHECK(b->nr_flows == 1, "bob has 1 flow");
	/* alice's flows, fastest first */
	CHECK(v.flows[a->flow0].rec->key.raddr[3] == 1, "alice's fastest flow first");
	CHECK_RATE(v.flows[a->flow0].tx_pps, 10, "flow tx packets/s");
	CHECK_RATE(v.flows[a->flow0 + 1].tx_bps, 200, "the new flow's tx B/s");
	CHECK(v.flows[b->flow0].rec->v.user_id == 2, "bob's flow is his");
	CHECK_RATE(v.allowed_ps, 10 + 3, "allowed/s (ingress allowed, egress reply)");
	CHECK_RATE(v.denied_ps, 2, "denied/s");
	CHECK_RATE(v.pps[WGX_TD_INGRESS], 12, "ingress packets/s");
	CHECK_RATE(v.pps[WGX_TD_EGRESS], 3, "egress packets/s");
	CHECK_RATE(v.bps[WGX_TD_INGRESS], 1000, "ingress bytes/s");
	CHECK_RATE(v.jit_ps[J(installed)], 2, "installed/s");
	CHECK_RATE(v.jit_ps[J(throttled)], 5, "throttled/s");
out:
	wgx_top_view_free(&v);
	wgx_top_snap_free(&p);
	wgx_top_snap_free(&c);
}

/* Counters that went back count from zero; a flow without a baseline counts nothing. */
static void test_reset(void)
{
	struct wgx_top_snap p = { .t_ns = S(100) }, c = { .t_ns = S(101) };
	struct wgx_top_view v;
	const struct wgx_top_user *a;
	size_t i;

	flow(&p, 1, "alice", 1, 22, S(10), 5000, 7000);
	flow(&c, 1, "alice", 1, 22, S(100) + 5, 300, 100);	/* evicted, created again */
	flow(&c, 1, "alice", 9, 25, S(20), 1000000, 1000000);	/* p missed it: no baseline */
	p.ctr[WGX_TD_INGRESS][WGX_TR_ALLOWED].packets = 100;	/* the tunnel attached again */
	c.ctr[WGX_TD_INGRESS][WGX_TR_ALLOWED].packets = 40;
	p.jit.installed = 9;					/* pins removed: a new daemon */
	c.jit.installed = 1;
	deny(&p, 1, "alice", 50);
	deny(&c, 1, "alice", 6);				/* evicted, counting again */

	if (!CHECK(!wgx_top_compute(&p, &c, &v), "compute"))
		return;
	for (i = 0; i < v.nr_flows; i++)
		CHECK(v.flows[i].tx_bps >= 0 && v.flows[i].rx_bps >= 0, "no negative rate");
	a = user(&v, 1);
	if (CHECK(a != NULL, "alice is a user")) {
		CHECK_RATE(a->tx_bps, 300, "alice tx: the new flow's counters");
		CHECK_RATE(a->rx_bps, 100, "alice rx: the new flow's counters");
		CHECK_RATE(a->denies_ps, 6, "denies/s after the entry came back");
		CHECK(a->nr_flows == 2, "both flows are hers");
	}
	CHECK_RATE(v.allowed_ps, 40, "tunnel counter reset");
	CHECK_RATE(v.jit_ps[J(installed)], 1, "daemon counter reset");
	wgx_top_view_free(&v);
	wgx_top_snap_free(&p);
	wgx_top_snap_free(&c);
}

/* Equal rates: by name, users without one last, by id; every sort key. */
static void test_sort(void)
{
	struct wgx_top_snap p = { .t_ns = S(1) }, c = { .t_ns = S(2) };
	static const char *const want_rate[] = { "dave", "alice", "carol", "#3", "#9" };
	static const char *const want_flows[] = { "carol", "alice", "dave", "#3", "#9" };
	static const char *const want_denies[] = { "#9", "alice", "carol", "dave", "#3" };
	static const char *const want_name[] = { "alice", "carol", "dave", "#3", "#9" };
	static const char *const *const want[WGX_TOP_SORT__MAX] = {
		want_rate, want_flows, want_denies, want_name,
	};
	struct wgx_top_view v;
	int by;
	size_t i;

	/* all at 100 B/s but dave (200); carol has 2 flows; #9 denies */
	flow(&c, 5, "carol", 1, 1, S(1) + 1, 50, 0);
	flow(&c, 5, "carol", 2, 1, S(1) + 1, 50, 0);
	flow(&c, 9, "", 3, 1, S(1) + 1, 100, 0);
	flow(&c, 1, "alice", 4, 1, S(1) + 1, 0, 100);
	flow(&c, 3, "", 5, 1, S(1) + 1, 100, 0);
	flow(&c, 7, "dave", 6, 1, S(1) + 1, 100, 100);
	deny(&c, 9, "", 3);
	for (by = 0; by < WGX_TOP_SORT__MAX; by++) {
		if (!CHECK(!wgx_top_compute(&p, &c, &v), "compute"))
			return;
		wgx_top_sort(&v, by);
		CHECK(v.nr_users == 5, "5 users, got %zu", v.nr_users);
		for (i = 0; i < v.nr_users && i < 5; i++) {
			char got[48];

			snprintf(got, sizeof(got), "%s", v.users[i].user);
			if (!got[0])
				snprintf(got, sizeof(got), "#%u", v.users[i].user_id);
			CHECK(!strcmp(got, want[by][i]), "sort by %s, #%zu: expected %s, got %s",
			      wgx_top_sort_name(by), i, want[by][i], got);
		}
		wgx_top_view_free(&v);
	}
	wgx_top_snap_free(&p);
	wgx_top_snap_free(&c);
}

/* The filter: a substring of the name, any case; a user without a name matches only "". */
static void test_filter(void)
{
	struct wgx_top_snap c = { .t_ns = S(2) };
	struct wgx_top_view v;

	flow(&c, 1, "alice", 1, 1, S(1), 10, 0);
	flow(&c, 2, "malik", 2, 1, S(1), 10, 0);
	flow(&c, 3, "carol", 3, 1, S(1), 10, 0);
	flow(&c, 4, "", 4, 1, S(1), 10, 0);
	/* first snapshot: no rates yet, but the users */
	if (!CHECK(!wgx_top_compute(NULL, &c, &v), "compute"))
		return;
	CHECK_RATE(v.interval_s, 0, "first snapshot: no interval");
	CHECK_RATE(v.users[0].tx_bps, 0, "first snapshot: no rate");
	CHECK(wgx_top_filter(&v, "") == 4, "empty filter keeps all");
	CHECK(wgx_top_filter(&v, "LI") == 2, "LI: alice and malik, got %zu", v.nr_users);
	wgx_top_sort(&v, WGX_TOP_SORT_NAME);
	CHECK(v.nr_users == 2 && !strcmp(v.users[0].user, "alice") &&
	      !strcmp(v.users[1].user, "malik"), "the filter keeps alice and malik");
	CHECK(wgx_top_filter(&v, "zz") == 0, "zz: nobody");
	wgx_top_view_free(&v);
	wgx_top_snap_free(&c);
}

/*
 * A user without a name (her id has no wgx_tun_names entry now); a user with denies and no
 * flow; the unknown sources (WGX_USER_NONE) are not a user; an expired flow that did not move
 * is left out.
 */
static void test_no_name(void)
{
	struct wgx_top_snap p = { .t_ns = S(10) }, c = { .t_ns = S(11) };
	struct wgx_top_view v;
	const struct wgx_top_user *u, *e;

	flow(&p, 42, "", 1, 53, S(5), 100, 100);
	flow(&c, 42, "", 1, 53, S(5), 300, 100);
	flow(&c, 43, "erin", 2, 53, S(1), 100, 100);
	c.flows[c.nr_flows - 1].live = false;		/* expired, still in the LRU map */
	flow(&p, 43, "erin", 2, 53, S(1), 100, 100);
	deny(&p, 44, "frank", 10);
	deny(&c, 44, "frank", 30);
	deny(&c, 45, "gina", 8);			/* same as before: not listed */
	deny(&p, 45, "gina", 8);
	deny(&c, WGX_USER_NONE, "", 1000);
	if (!CHECK(!wgx_top_compute(&p, &c, &v), "compute"))
		return;
	u = user(&v, 42);
	if (CHECK(u != NULL, "the user without a name is listed"))
		CHECK(!u->user[0] && u->nr_flows == 1 && near(u->tx_bps, 200),
		      "no name, 1 flow, 200 B/s");
	CHECK(user(&v, 43) == NULL, "an expired flow that did not move is left out");
	e = user(&v, 44);
	if (CHECK(e != NULL, "a user with denies and no flow is listed"))
		CHECK(!strcmp(e->user, "frank") && e->nr_flows == 0 && near(e->denies_ps, 20),
		      "frank: 0 flows, 20 denies/s");
	CHECK(user(&v, 45) == NULL, "no deny since the last snapshot: not listed");
	CHECK(user(&v, WGX_USER_NONE) == NULL, "unknown sources are not a user");
	CHECK(v.nr_flows == 1, "one flow in the view, got %zu", v.nr_flows);
	wgx_top_view_free(&v);
	wgx_top_snap_free(&p);
	wgx_top_snap_free(&c);
}

int main(void)
{
	test_rates();
	test_reset();
	test_sort();
	test_filter();
	test_no_name();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
