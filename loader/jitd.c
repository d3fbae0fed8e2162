// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include "loader/admission.h"
#include "loader/enforce.h"
#include "loader/flowlog.h"
#include "loader/flows.h"
#include "loader/fmt.h"
#include "loader/identity.h"
#include "loader/jit_state.h"
#include "loader/jitd.h"
#include "loader/lifecycle.h"
#include "loader/log.h"
#include "loader/loop.h"
#include "loader/metrics.h"
#include "loader/prom.h"
#include "loader/reinject.h"
#include "loader/uplink.h"
#include "loader/wgdev.h"

#define LOG(lvl, ...) wgx_log(WGX_LOG_##lvl, "run", __VA_ARGS__)

struct jitd {
	const struct wgx_jitd_opts *o;
	struct wgx_loop *loop;
	struct wgx_noise noise;
	struct wgx_jit_state state;
	struct wgx_jit_stats st;
	struct wgx_admission adm;
	struct wgx_identity id;
	struct wgx_lifecycle lc;
	struct wgx_reinject rj;
	enum wgx_answer answer;
	struct wgx_events *events;
	__u32 events_id;
	struct wgx_enforce *enf;	/* the tunnel's policy maps; NULL while not attached */
	uint32_t enf_id;
	bool enf_warned;		/* said once that the tunnel is not attached */
	struct wgx_policy *empty;	/* the policy without users, when there is no file */
	struct wgx_user **api_users;	/* the peer API's users with a peer: their rules */
	unsigned int nr_api_users;
	bool uplink_gone;		/* said once that the ring buffer went away */
	bool stats_dirty;
	int sfd;
	struct wgx_flowlog *flowlog;	/* NULL: no --flow-log */
	unsigned int gc_ticks;		/* without a flow log: ticks since ended flows went */
	uint64_t groups_seen[3];	/* identity's groups counters already in st */
	struct wgx_prom_hist install_time;	/* initiation (uplink's ktime) to peer installed */
	struct wgx_metrics_src msrc;
	struct wgx_metrics *metrics;		/* NULL without --metrics */
	struct waiting *waiting;	/* initiations whose key the peer API is asked about */
	struct verdict *verdicts;	/* the API's answers to revalidations, for the sweep */
};

/*
 * An initiation waiting for the peer API's answer about its key: the newest one per key (a
 * retry or a move replaces the one before; one request either way).
 */
#define WAIT_SLOTS	1024		/* a power of 2; > WGX_ID_MAX_IN_FLIGHT */
struct waiting {
	bool used;
	uint8_t pub[WG_KEY_LEN];
	uint8_t tai[WG_TAI64N_LEN];
	struct wgx_hs_event ev;
};

/* The API's answer to a revalidation, kept until the sweep's judge takes it. */
#define VERDICT_SLOTS	1024
struct verdict {
	bool used;
	uint8_t pub[WG_KEY_LEN];
	enum wgx_ident r;
	struct wgx_user *owned;
};

/* The slot of pub in t[n] (n a power of 2): its own, or a free one if make; NULL if none. */
#define SLOT_OF(t, n, key, make) ({						\
	typeof(&(t)[0]) __s = NULL;						\
	uint32_t __h;								\
	unsigned int __i;							\
	memcpy(&__h, (key), sizeof(__h));					\
	for (__i = 0; __i < 16 && !__s; __i++) {				\
		typeof(&(t)[0]) __c = &(t)[(__h + __i) & ((n) - 1)];		\
		if (__c->used ? !memcmp(__c->pub, (key), WG_KEY_LEN) : (make))	\
			__s = __c;						\
	}									\
	__s;									\
})

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void flush_stats(struct jitd *d)
{
	int err;

	if (!d->stats_dirty)
		return;
	err = wgx_jit_stats_write(&d->state, d->o->wg_ifname, &d->st);
	if (err)
		LOG(WARN, "write wgx_jit_stats: %s", strerror(-err));
	d->stats_dirty = false;
}

static void reinject(struct jitd *d, const struct wgx_hs_event *ev, const char *user)
{
	const char *why = NULL;
	char ep[64];
	int err;

	err = wgx_reinject(&d->rj, ev, &why);
	if (!err) {
		d->st.reinjected++;
		return;
	}
	wgx_fmt_endpoint(ep, sizeof(ep), ev->family, ev->saddr, ntohs(ev->sport));
	if (err == -EPERM) {
		d->st.reinject_refused++;
		LOG(WARN, "not re-injecting the initiation of %s from %s: %s", user, ep, why);
	} else {
		LOG(WARN, "re-inject the initiation of %s from %s: %s: %s (the client's retry gets "
		    "in)", user, ep, why ? why : "", strerror(-err));
	}
}

/* ---- the peer API's users with a peer, whose rules a whole apply must keep ---- */

static int api_user_find(const struct jitd *d, const uint8_t pub[WG_KEY_LEN])
{
	unsigned int i;

	for (i = 0; i < d->nr_api_users; i++)
		if (!memcmp(d->api_users[i]->public_key, pub, WG_KEY_LEN))
			return i;
	return -1;
}

/* Keep u (ownership moves here), replacing what was kept for its key. */
static void api_user_keep(struct jitd *d, struct wgx_user *u)
{
	int i = api_user_find(d, u->public_key);
	void *n;

	if (i >= 0) {
		wgx_user_free(d->api_users[i]);
		d->api_users[i] = u;
		return;
	}
	n = reallocarray(d->api_users, d->nr_api_users + 1, sizeof(*d->api_users));
	if (!n) {
		wgx_user_free(u);
		return;
	}
	d->api_users = n;
	d->api_users[d->nr_api_users++] = u;
}

static void api_user_drop(struct jitd *d, const uint8_t pub[WG_KEY_LEN])
{
	int i = api_user_find(d, pub);

	if (i < 0)
		return;
	wgx_user_free(d->api_users[i]);
	d->api_users[i] = d->api_users[--d->nr_api_users];
}

static void on_peer_left(void *ctx, const struct wgx_peer_key *k, const struct wgx_peer_rec *r,
			 const char *reason)
{
	struct jitd *d = ctx;
	char ep[64];

	wgx_fmt_endpoint(ep, sizeof(ep), r->family, r->addr, ntohs(r->port));
	wgx_flowlog_peer(d->flowlog, "peer_removed", reason, r->user, k->public_key, ep);
	api_user_drop(ctx, k->public_key);
}

static bool policy_has_group(const struct wgx_policy *p, const char *name)
{
	unsigned int i;

	for (i = 0; i < p->nr_groups; i++)
		if (!strcmp(p->groups[i].name, name))
			return true;
	return false;
}

/*
 * A new policy file: the kept API users' group indexes point into the old one. Resolve them
 * by name instead; a user whose group is gone is dropped (her rules go, fail closed) until
 * the API is asked again, rather than failing the whole apply.
 */
static void api_users_rebind(struct jitd *d)
{
	const struct wgx_policy *p = d->id.policy ? d->id.policy : d->empty;
	unsigned int i, g;

	for (i = 0; i < d->nr_api_users;) {
		struct wgx_user *u = d->api_users[i];
		bool ok = u->group_names != NULL || !u->nr_groups;

		for (g = 0; ok && g < u->nr_groups; g++)
			ok = policy_has_group(p, u->group_names[g]);
		if (!ok) {
			LOG(WARN, "%s: a group of the peer API's answer is not in the new policy: "
			    "no rules until the API is asked again", u->name);
			wgx_user_free(u);
			d->api_users[i] = d->api_users[--d->nr_api_users];
			continue;
		}
		free(u->groups);
		u->groups = NULL;
		i++;
	}
}

/*
 * A new policy: the API's answers to revalidations not yet judged were read against the old
 * one (group ids): dropped, the next sweep asks again.
 */
static void verdicts_drop(struct jitd *d)
{
	unsigned int i;

	for (i = 0; d->verdicts && i < VERDICT_SLOTS; i++) {
		wgx_user_free(d->verdicts[i].owned);
		memset(&d->verdicts[i], 0, sizeof(d->verdicts[i]));
	}
}

static const struct wgx_policy *policy_now(const struct jitd *d)
{
	return d->id.policy ? d->id.policy : d->empty;
}

/* ---- the tunnel's policy maps ---- */

/* The whole policy (the file's users and the API's users with a peer) into the tunnel. */
static int enforce_apply(struct jitd *d)
{
	struct wgx_policy_err perr = {};
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	int err;

	if (!d->enf)
		return 0;
	err = wgx_enforce_apply(d->enf, policy_now(d),
				(const struct wgx_user *const *)d->api_users, d->nr_api_users,
				&perr);
	if (err) {
		d->st.policy_errors++;
		LOG(ERR, "apply the policy to the tunnel: %s%s%s; the policy in force there stays, "
		    "and new peer API users get no rules until a policy applies",
		    perr.where, perr.where[0] ? ": " : "", perr.why[0] ? perr.why : strerror(-err));
		/*
		 * What was applied may be freed already (a reload): never use it again. The
		 * maps stay open for removals, so a user whose peer goes loses her entries.
		 */
		d->lc.enf = d->enf;
		d->lc.enf_policy = NULL;
		/* the API's groups: the same answer must not pass for applied at the next fetch */
		if (d->id.api_groups)
			wgx_identity_groups_forget(&d->id, now_ns(CLOCK_MONOTONIC));
		return err;
	}
	d->st.policy_applied++;
	d->lc.enf = d->enf;
	d->lc.enf_policy = policy_now(d);
	LOG(INFO, "policy applied to the tunnel: %u users from the file, %u from the peer API, "
	    "in %llu ms", policy_now(d)->nr_users, d->nr_api_users,
	    (unsigned long long)((now_ns(CLOCK_MONOTONIC) - t0) / 1000000));
	return 0;
}

/* Open the tunnel's maps when it is (again) attached, and apply the whole policy there. */
static void enforce_check(struct jitd *d)
{
	struct wgx_policy_err perr = {};
	uint32_t id = 0;
	int err = wgx_enforce_maps_id(d->o->pin_dir, &id);

	if (err) {
		if (d->enf) {
			LOG(WARN, "the tunnel was detached: no enforcement until wgxdp attach --wg");
			wgx_enforce_close(d->enf);
			d->enf = NULL;
			d->lc.enf = NULL;
		} else if (!d->enf_warned) {
			LOG(WARN, "the tunnel is not attached (wgxdp attach --wg %s): peers are "
			    "installed, but nothing enforces the groups' rules", d->o->wg_ifname);
		}
		d->enf_warned = true;
		return;
	}
	if (d->enf && id == d->enf_id)
		return;
	wgx_enforce_close(d->enf);
	d->lc.enf = NULL;
	d->enf = NULL;
	err = wgx_enforce_open(d->o->pin_dir, &d->enf, &perr);
	if (err) {
		LOG(ERR, "open the tunnel's maps: %s%s%s", perr.where, perr.where[0] ? ": " : "",
		    perr.why[0] ? perr.why : strerror(-err));
		return;
	}
	d->enf_id = wgx_enforce_id(d->enf);
	d->enf_warned = false;
	enforce_apply(d);
}

/* The key has a peer already: WireGuard answers it, unless it came before we installed it. */
static void on_existing(struct jitd *d, const struct wgx_hs_event *ev,
			const uint8_t pub[WG_KEY_LEN])
{
	struct wgx_peer_rec rec;
	char ep[64];

	d->st.existing++;
	if (d->flowlog) {
		const struct wgx_user *u = d->id.policy ? wgx_policy_find(d->id.policy, pub) : NULL;
		int i = u ? -1 : api_user_find(d, pub);

		wgx_fmt_endpoint(ep, sizeof(ep), ev->family, ev->saddr, ntohs(ev->sport));
		wgx_flowlog_peer(d->flowlog, "handshake", "existing",
				 u ? u->name : i >= 0 ? d->api_users[i]->name : NULL, pub, ep);
	}
	if (d->answer != WGX_ANSWER_REINJECT || wgx_lc_record(&d->lc, pub, &rec))
		return;
	/*
	 * An initiation that reached WireGuard before its peer existed was dropped there: a
	 * client's retry that waited in the ring while the install ran, or a backlog across a
	 * restart. Hand it over again; one WireGuard already took is a replay it ignores.
	 */
	if (wgx_mono_to_realtime(ev->ts_ns) < rec.installed_ns)
		reinject(d, ev, rec.user);
}

/*
 * An API user's name and addresses against the policy file's users and the API's other users
 * (the device is checked at install): a name is how logs, records and the tunnel's maps know
 * a user, so an answer cannot take over someone else's.
 */
static bool api_user_conflict(struct jitd *d, const struct wgx_user *u, char *why, size_t len)
{
	unsigned int i;

	for (i = 0; d->id.policy && i < d->id.policy->nr_users; i++) {
		const struct wgx_user *o = &d->id.policy->users[i];

		if (!strcmp(o->name, u->name) && memcmp(o->public_key, u->public_key, WG_KEY_LEN)) {
			snprintf(why, len, "the name %s belongs to another key in the policy file",
				 u->name);
			return true;
		}
	}
	for (i = 0; i < d->nr_api_users; i++) {
		const struct wgx_user *o = d->api_users[i];

		if (!strcmp(o->name, u->name) && memcmp(o->public_key, u->public_key, WG_KEY_LEN)) {
			snprintf(why, len, "the name %s belongs to another key of the peer API",
				 u->name);
			return true;
		}
	}

	for (i = 0; d->id.policy && i < u->nr_addresses; i++) {
		const struct wgx_user *o = wgx_policy_addr_owner(d->id.policy, &u->addresses[i],
								 u->public_key);
		char pa[64];

		if (o) {
			wgx_prefix_format(&u->addresses[i], pa, sizeof(pa));
			snprintf(why, len, "%s belongs to %s in the policy file", pa, o->name);
			return true;
		}
	}
	return false;
}

/* A "handshake" record in the flow log: an authenticated initiation and what came of it. */
static void hs_record(struct jitd *d, const struct wgx_hs_event *ev, const char *outcome,
		      const struct wgx_user *u, const uint8_t pub[WG_KEY_LEN])
{
	char ep[64];

	if (!d->flowlog)
		return;
	wgx_fmt_endpoint(ep, sizeof(ep), ev->family, ev->saddr, ntohs(ev->sport));
	wgx_flowlog_peer(d->flowlog, "handshake", outcome, u ? u->name : NULL, pub, ep);
}

static void identified(struct jitd *d, const struct wgx_hs_event *ev, const uint8_t *pub,
		       const uint8_t *tai, enum wgx_ident r, const struct wgx_user *u,
		       struct wgx_user *owned);

static int on_event(void *ctx, const struct wgx_hs_event *ev)
{
	struct jitd *d = ctx;
	uint8_t pub[WG_KEY_LEN], tai[WG_TAI64N_LEN];
	struct wgx_user *owned = NULL;
	const struct wgx_user *u = NULL;
	enum wgx_ident r;

	d->st.events++;
	d->stats_dirty = true;
	switch (wgx_admit(&d->adm, ev, now_ns(CLOCK_MONOTONIC), pub, tai)) {
	case WGX_ADMIT_OK:
		break;
	case WGX_ADMIT_OTHER_PORT:
		d->st.other_port++;
		return 0;
	case WGX_ADMIT_BAD_SOURCE:
		d->st.bad_source++;
		return 0;
	case WGX_ADMIT_BAD_MAC1:
		d->st.bad_mac1++;
		return 0;
	case WGX_ADMIT_THROTTLED:
		d->st.throttled++;
		return 0;
	case WGX_ADMIT_NOT_FOR_US:
		d->st.not_for_us++;
		return 0;
	case WGX_ADMIT_UNAUTHENTICATED:
		d->st.unauthenticated++;
		return 0;
	case WGX_ADMIT_REPLAYED:
		d->st.replayed++;
		wgx_flowlog_count(d->flowlog, WGX_FO_REPLAYED);
		return 0;
	}
	if (wgx_lc_on_device(&d->lc, pub)) {
		wgx_admit_commit(&d->adm, pub, tai);
		on_existing(d, ev, pub);
		return 0;
	}
	r = wgx_identity_lookup(&d->id, pub, now_ns(CLOCK_MONOTONIC), &u, &owned);
	if (r == WGX_ID_PENDING) {
		struct waiting *w = SLOT_OF(d->waiting, WAIT_SLOTS, pub, true);

		if (!w) {
			d->st.api_errors++;	/* more keys waiting than slots: not held */
			wgx_flowlog_count(d->flowlog, WGX_FO_API_ERROR);
			return 0;
		}
		w->used = true;
		memcpy(w->pub, pub, WG_KEY_LEN);
		memcpy(w->tai, tai, WG_TAI64N_LEN);
		w->ev = *ev;
		return 0;
	}
	identified(d, ev, pub, tai, r, u, owned);
	return 0;
}

/* The peer API's answer about pub: to the initiation waiting for it, or to a revalidation. */
static void on_ident(void *ctx, const uint8_t pub[32], enum wgx_ident r, struct wgx_user *owned)
{
	struct jitd *d = ctx;
	struct waiting *w = SLOT_OF(d->waiting, WAIT_SLOTS, pub, false);
	struct verdict *v;

	if (w) {
		struct waiting held = *w;

		w->used = false;
		identified(d, &held.ev, held.pub, held.tai, r, owned, owned);
		return;
	}
	/* a revalidation is about a peer on the device; anything else has nobody to go to */
	v = wgx_lc_on_device(&d->lc, pub) ? SLOT_OF(d->verdicts, VERDICT_SLOTS, pub, true) : NULL;
	if (!v) {
		wgx_user_free(owned);	/* (the sweep asks again if it is due) */
		return;
	}
	wgx_user_free(v->owned);
	v->used = true;
	memcpy(v->pub, pub, WG_KEY_LEN);
	v->r = r;
	v->owned = owned;
}

/* An initiation whose key identity has answered for: u (owned if from the API), or none. */
static void identified(struct jitd *d, const struct wgx_hs_event *ev, const uint8_t *pub,
		       const uint8_t *tai, enum wgx_ident r, const struct wgx_user *u,
		       struct wgx_user *owned)
{
	char ep[64], k64[45], why[256];
	const char *denied;
	int err;

	switch (r) {
	case WGX_ID_FOUND:
		break;
	case WGX_ID_UNKNOWN:
		d->st.unknown_key++;
		d->stats_dirty = true;
		wgx_flowlog_count(d->flowlog, WGX_FO_UNKNOWN);
		return;
	case WGX_ID_UNKNOWN_CACHED:
		d->st.unknown_cached++;	/* asked less than a minute ago: recorded then */
		d->stats_dirty = true;
		return;
	case WGX_ID_UNKNOWN_GROUP:
		d->st.unknown_group++;	/* logged by identity with the group's name */
		d->stats_dirty = true;
		wgx_flowlog_count(d->flowlog, WGX_FO_UNKNOWN_GROUP);
		return;
	case WGX_ID_API_ERROR:
	case WGX_ID_PENDING:
		d->st.api_errors++;
		d->stats_dirty = true;
		wgx_flowlog_count(d->flowlog, WGX_FO_API_ERROR);
		return;
	}
	d->stats_dirty = true;
	/* a user's key: its newest timestamp is what a replay must beat from now on */
	err = wgx_admit_commit(&d->adm, pub, tai);
	if (err)
		LOG(WARN, "record the timestamp of %s in wgx_replay: %s", u->name, strerror(-err));
	denied = wgx_user_denied(u, time(NULL));
	if (denied) {
		if (!strcmp(denied, "disabled"))
			d->st.disabled++;
		else
			d->st.expired++;
		hs_record(d, ev, !strcmp(denied, "disabled") ? "disabled" : "expired", u, pub);
		goto out;
	}
	wgx_fmt_endpoint(ep, sizeof(ep), ev->family, ev->saddr, ntohs(ev->sport));
	wgx_key_to_base64(k64, u->public_key);
	if (owned && api_user_conflict(d, owned, why, sizeof(why))) {
		d->st.address_conflict++;
		hs_record(d, ev, "address_conflict", u, pub);
		LOG(WARN, "refused %s (%s) at %s: %s", u->name, k64, ep, why);
		goto out;
	}
	err = wgx_lc_install(&d->lc, u, owned != NULL, ev->family, ev->saddr, ev->sport, why,
			     sizeof(why));
	if (err == -EEXIST) {
		on_existing(d, ev, pub);
	} else if (err == -EADDRINUSE) {
		d->st.address_conflict++;
		hs_record(d, ev, "address_conflict", u, pub);
		LOG(WARN, "refused %s (%s) at %s: %s", u->name, k64, ep, why);
	} else if (err) {
		d->st.install_errors++;
		hs_record(d, ev, "install_error", u, pub);
		LOG(ERR, "install %s (%s) at %s: %s", u->name, k64, ep, why);
	} else {
		uint64_t now = now_ns(CLOCK_MONOTONIC);

		/* ts_ns is bpf_ktime_get_ns(): the same clock, from the packet's arrival */
		wgx_prom_hist_observe(&d->install_time,
				      now > ev->ts_ns ? (now - ev->ts_ns) / 1e9 : 0);
		d->st.installed++;
		LOG(INFO, "installed %s (%s) at %s on %s", u->name, k64, ep, d->o->wg_ifname);
		hs_record(d, ev, "installed", u, pub);
		wgx_flowlog_peer(d->flowlog, "peer_installed", owned ? "peer_api" : "policy",
				 u->name, pub, ep);
		if (owned) {
			api_user_keep(d, owned);
			owned = NULL;
		}
		/*
		 * Answer the client's own first attempt: hand its initiation to WireGuard again
		 * now that the peer exists. Had WireGuard not yet read the original, the copy is
		 * a replay of the same timestamp and is ignored; the gateway never initiates, so
		 * handshakes cannot cross.
		 */
		if (d->answer == WGX_ANSWER_REINJECT)
			reinject(d, ev, u->name);
	}
out:
	wgx_user_free(owned);
}

/* An API user confirmed again: her rules as the API says now (groups may have changed). */
static void revalidated(struct jitd *d, struct wgx_user **owned)
{
	struct wgx_policy_err perr = {};
	int err;

	if (d->lc.enf && d->lc.enf_policy) {
		err = wgx_enforce_user_set(d->lc.enf, d->lc.enf_policy, *owned, &perr);
		if (err) {
			/* her old rules may be wider than the API's answer: none, until one fits */
			wgx_enforce_user_del(d->lc.enf, (*owned)->name);
			LOG(WARN, "update the rules of %s: %s%s%s; her traffic is dropped until "
			    "they can be", (*owned)->name, perr.where, perr.where[0] ? ": " : "",
			    perr.why[0] ? perr.why : strerror(-err));
		}
	}
	api_user_keep(d, *owned);
	*owned = NULL;
}

/* The sweep's decision for one managed peer: identity's view of the user, then the rule. */
static enum wgx_removal judge(void *ctx, const struct wgx_peer_key *k, struct wgx_peer_rec *r,
			      const struct wgx_wg_peer *p, uint64_t now_s, const char **why,
			      bool *changed)
{
	struct jitd *d = ctx;
	const struct wgx_user *u = NULL;
	struct wgx_user *owned = NULL;
	enum wgx_removal what;
	bool api = d->o->api_url != NULL;

	if (d->id.policy)
		u = wgx_policy_find(d->id.policy, k->public_key);
	/* due, or not known since a restart (her rules are not kept yet) */
	if (!u && api && ((int64_t)now_s - r->validated_s >= (int64_t)d->o->api_revalidate ||
			  api_user_find(d, k->public_key) < 0)) {
		struct verdict *v = SLOT_OF(d->verdicts, VERDICT_SLOTS, k->public_key, false);
		enum wgx_ident res;

		/* the answer to the question asked at an earlier sweep, or ask it now */
		if (v) {
			res = v->r;
			owned = v->owned;
			v->owned = NULL;
			v->used = false;
		} else {
			res = wgx_identity_revalidate(&d->id, k->public_key,
						      now_ns(CLOCK_MONOTONIC), &owned);
		}
		switch (res) {
		case WGX_ID_PENDING:
			break;		/* keep it; the answer comes for a later sweep */
		case WGX_ID_FOUND:
			u = owned;
			r->validated_s = now_s;
			r->expires_s = owned->expires;
			*changed = true;
			if (!wgx_user_denied(owned, now_s))
				revalidated(d, &owned);
			break;
		case WGX_ID_UNKNOWN:
		case WGX_ID_UNKNOWN_CACHED:
			*why = "the peer API no longer knows the user";
			return WGX_REMOVE_API;
		case WGX_ID_API_ERROR:
			d->st.api_errors++;	/* keep it; ask again at the next sweep */
			break;
		case WGX_ID_UNKNOWN_GROUP:
			/* as at an install: no peer while a group of hers is not here */
			d->st.unknown_group++;
			*why = "a group the peer API gives her is not on this gateway";
			return WGX_REMOVE_API;
		}
	}
	if (!u && owned == NULL && api) {
		/* kept from the install or the last revalidation */
		int i = api_user_find(d, k->public_key);

		if (i >= 0)
			u = d->api_users[i];
	}
	what = wgx_lc_removal(r, u, api, p->last_handshake_sec, now_s, why);
	wgx_user_free(owned);
	return what;
}

static void sweep(struct jitd *d, bool adopt)
{
	int err = wgx_lc_sweep(&d->lc, time(NULL), adopt, judge, d);

	if (err)
		LOG(ERR, "sweep %s: %s", d->o->wg_ifname, strerror(-err));
	d->stats_dirty = true;
}

static void on_ring(void *ctx, int fd, uint32_t events)
{
	struct jitd *d = ctx;

	wgx_events_poll(d->events, 0);
	flush_stats(d);
}

static int events_attach(struct jitd *d)
{
	int err = wgx_events_open(d->o->pin_dir, on_event, d, &d->events);

	if (err)
		return err;
	err = wgx_events_map_id(d->events, &d->events_id);
	if (!err)
		err = wgx_loop_add(d->loop, wgx_events_fd(d->events), EPOLLIN, on_ring, d);
	if (err) {
		wgx_events_close(d->events);
		d->events = NULL;
	}
	return err;
}

/* The uplink detached and attached again: a new ring buffer. Read that one. */
static void events_check(struct jitd *d)
{
	__u32 id = 0;
	int err = wgx_events_pinned_id(d->o->pin_dir, &id);

	if (err == -ENOENT) {
		if (!d->uplink_gone)
			LOG(WARN, "the uplink's ring buffer is gone (wgxdp detach?): no new "
			    "initiations until wgxdp attach");
		d->uplink_gone = true;
		return;
	}
	if (err || id == d->events_id)
		return;
	if (d->events) {
		/* what the old one still holds first */
		wgx_events_poll(d->events, 0);
		wgx_loop_del(d->loop, wgx_events_fd(d->events));
		wgx_events_close(d->events);
		d->events = NULL;
	}
	err = events_attach(d);
	if (err) {
		LOG(ERR, "read the new ring buffer: %s", strerror(-err));
		return;
	}
	LOG(INFO, "the uplink was attached again: reading its new ring buffer");
	d->uplink_gone = false;
}

static void groups_count(struct jitd *d);

static void on_tick(void *ctx, int fd, uint32_t events)
{
	struct jitd *d = ctx;

	events_check(d);
	enforce_check(d);
	wgx_identity_groups_tick(&d->id, now_ns(CLOCK_MONOTONIC));
	groups_count(d);
	sweep(d, false);
	if (d->lc.enf && d->lc.enf_policy)
		wgx_enforce_refill(d->lc.enf);	/* spare sets for the next new set of groups */
	/* the kernel leaves ended flows in the table; the flow log removes them, or we do */
	if (!d->flowlog && ++d->gc_ticks >= 10) {
		int n = wgx_flows_gc(d->o->pin_dir);

		d->gc_ticks = 0;
		if (n < 0 && n != -ENOENT)
			LOG(WARN, "remove the ended flows: %s", strerror(-n));
	}
	flush_stats(d);
}

static void load_policy_logged(struct jitd *d, bool initial, int *rc)
{
	struct wgx_policy_err perr = {};
	int err;

	*rc = 0;
	if (!d->o->policy_path)
		return;
	err = wgx_identity_load(&d->id, &perr);
	if (err) {
		const char *tail = initial ? "" : "; the previous policy stays in force";

		if (err == -EINVAL)
			LOG(ERR, "%s %s: %s: %s%s", initial ? "policy" : "reload rejected:",
			    d->o->policy_path, perr.where, perr.why, tail);
		else
			LOG(ERR, "%s %s: %s%s", initial ? "policy" : "reload rejected:",
			    d->o->policy_path, strerror(-err), tail);
		*rc = err;
		return;
	}
	LOG(INFO, "policy %s: %u users, %u groups", d->o->policy_path, d->id.policy->nr_users,
	    d->id.policy->nr_groups);
}

/* A new policy (file) or new groups (the API) are in force in identity: apply them. 0/-errno. */
static int policy_changed(struct jitd *d)
{
	int err;

	/* the applied policy is freed already: nothing may use it until the next apply */
	d->lc.enf_policy = NULL;
	api_users_rebind(d);
	verdicts_drop(d);
	err = enforce_apply(d);
	sweep(d, false);
	return err;
}

/* identity's groups counters into the pinned ones */
static void groups_count(struct jitd *d)
{
	const uint64_t now[3] = { d->id.groups_fetched, d->id.groups_unchanged,
				  d->id.groups_errors };
	__u64 *st[3] = { &d->st.groups_fetched, &d->st.groups_unchanged, &d->st.groups_errors };
	unsigned int i;

	for (i = 0; i < 3; i++) {
		if (now[i] != d->groups_seen[i])
			d->stats_dirty = true;
		*st[i] += now[i] - d->groups_seen[i];
		d->groups_seen[i] = now[i];
	}
}

/* New groups from GET URL/groups (in the loop). */
static void on_groups_changed(void *ctx)
{
	struct jitd *d = ctx;

	LOG(INFO, "groups from the peer API: %u groups%s%s", d->id.policy->nr_groups,
	    d->id.groups_etag[0] ? ", ETag " : "", d->id.groups_etag);
	groups_count(d);
	if (policy_changed(d)) {
		d->st.groups_errors++;	/* not in the tunnel (logged); fetched again in 5 s */
		d->stats_dirty = true;
	}
	flush_stats(d);
}

static void on_signal(void *ctx, int fd, uint32_t events)
{
	struct jitd *d = ctx;
	struct signalfd_siginfo si;
	int rc;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		rc = wgx_flowlog_reopen(d->flowlog);
		if (rc)
			LOG(ERR, "reopen the flow log %s: %s (writing on to the old one)",
			    d->o->flow_log, strerror(-rc));
		if (d->id.api_groups)
			d->id.groups_due = 0;	/* fetched again at the next tick */
		/* the applied policy is freed by the reload: nothing may use it until the next apply */
		load_policy_logged(d, false, &rc);
		if (!rc && d->o->policy_path)
			policy_changed(d);
		flush_stats(d);
		return;
	}
	LOG(INFO, "%s: stopping; the installed peers stay (a restart adopts them)",
	    strsignal(si.ssi_signo));
	wgx_loop_stop(d->loop, 0);
}

static const char *answer_name(enum wgx_answer a)
{
	return a == WGX_ANSWER_REINJECT ? "reinject" : a == WGX_ANSWER_KEEPALIVE ? "keepalive" :
										  "none";
}

static int start(struct jitd *d)
{
	const struct wgx_jitd_opts *o = d->o;
	struct wgx_wg_device *dev = NULL;
	sigset_t mask;
	char pub[45], why[160];
	int err, rc;

	if (o->metrics_addr) {
		/* first: a taken port fails the start before anything is touched */
		d->msrc.pin_dir = o->pin_dir;
		d->msrc.st = &d->st;
		d->msrc.managed_peers = &d->lc.nr_managed;
		d->msrc.install = &d->install_time;
		err = wgx_metrics_open(o->metrics_addr, &d->msrc, &d->metrics, why, sizeof(why));
		if (err) {
			LOG(ERR, "--metrics %s", why);
			return err;
		}
	}
	err = wgx_wg_get_device(o->wg_ifname, &dev);
	if (err) {
		LOG(ERR, "%s: %s", o->wg_ifname,
		    err == -ENODEV ? "no such interface" :
		    err == -EOPNOTSUPP ? "not a WireGuard interface" :
		    err == -EPERM || err == -EACCES ? "permission denied (needs CAP_NET_ADMIN)" :
		    strerror(-err));
		return err;
	}
	err = wgx_noise_init(&d->noise, dev->private_key);
	rc = dev->listen_port;
	wgx_wg_device_free(dev);
	if (err) {
		LOG(ERR, "%s: no usable private key: %s", o->wg_ifname, strerror(-err));
		return err;
	}
	d->id.policy_path = o->policy_path;
	d->id.api_url = o->api_url;
	d->id.api_rate = o->api_rate;
	d->id.api_stale = o->api_stale;
	d->id.http = o->api_http;
	d->id.limits.min_plen4 = o->min_plen4;
	d->id.limits.min_plen6 = o->min_plen6;
	err = wgx_identity_init(&d->id, why, sizeof(why));
	if (err) {
		LOG(ERR, "--peer-api %s: %s", o->api_url, why);
		return err;
	}
	if (o->api_url && !strncmp(o->api_url, "http://", 7))
		LOG(WARN, "--peer-api %s: plain http (--api-insecure): users' keys and addresses "
		    "cross the network in the clear and anyone on the path can answer", o->api_url);
	load_policy_logged(d, true, &err);
	if (err)
		return err;
	if (!o->policy_path) {
		struct wgx_policy_err perr = {};

		/* the API's users then have no groups to get rules from: they reach nothing */
		err = wgx_policy_load_string("{\"groups\": {}, \"users\": []}", &d->empty, &perr);
		if (err)
			return err;
	}
	err = wgx_jit_state_open(o->pin_dir, true, &d->state);
	if (err) {
		LOG(ERR, "%s/%s: %s", o->pin_dir, WGX_JIT_SUBDIR, err == -EPROTO ?
		    "pinned by another version of wgxdp (remove that directory to start afresh)" :
		    strerror(-err));
		return err;
	}
	wgx_jit_stats_read(&d->state, o->wg_ifname, &d->st);
	if (o->api_url && !o->policy_path) {
		/* the groups' rules from the API: before the adoption applies users' rules */
		d->id.api_groups = true;
		d->id.api_refresh = o->api_refresh ? o->api_refresh : 60;
		d->id.groups_changed = on_groups_changed;
		err = wgx_identity_groups_fetch(&d->id, now_ns(CLOCK_MONOTONIC), why, sizeof(why));
		if (err < 0)
			LOG(ERR, "peer API %s/groups: %s: users with groups get no peer until they "
			    "can be fetched (tried again every 5 s)", o->api_url, why);
		else
			LOG(INFO, "groups from the peer API: %u groups%s%s", d->id.policy->nr_groups,
			    d->id.groups_etag[0] ? ", ETag " : "", d->id.groups_etag);
		groups_count(d);
	}
	err = wgx_admission_init(&d->adm, &d->noise, o->wg_ifname, rc, o->rate, o->burst,
				 d->state.replay_fd);
	if (!err)
		err = wgx_lc_init(&d->lc, o->wg_ifname, &wgx_dev_ops_real, d->state.peers_fd,
				  &d->st, o->idle_timeout, o->answer == WGX_ANSWER_KEEPALIVE);
	d->lc.removed = on_peer_left;
	d->lc.removed_ctx = d;
	if (!err)
		err = wgx_loop_new(&d->loop);
	if (err)
		return err;
	err = events_attach(d);
	if (err) {
		LOG(ERR, "%s: %s", o->pin_dir, err == -ENOENT ?
		    "nothing pinned: run wgxdp attach <uplink> first" : strerror(-err));
		return err;
	}
	d->answer = o->answer;
	if (d->answer == WGX_ANSWER_REINJECT) {
		err = wgx_reinject_open(&d->rj);
		if (err) {
			LOG(WARN, "raw sockets: %s: answering with a keepalive instead",
			    strerror(-err));
			d->answer = WGX_ANSWER_KEEPALIVE;
			d->lc.keepalive = true;
		}
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	d->sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (d->sfd < 0)
		return -errno;
	err = wgx_loop_add(d->loop, d->sfd, EPOLLIN, on_signal, d);
	if (!err)
		err = wgx_loop_timer(d->loop, o->sweep_ms ? o->sweep_ms : 1000, on_tick, d);
	if (!err && d->metrics)
		err = wgx_metrics_attach(d->metrics, d->loop);
	if (!err && o->api_url) {
		/* the peer API's sockets in the loop: a lookup never holds the rest */
		d->waiting = calloc(WAIT_SLOTS, sizeof(*d->waiting));
		d->verdicts = calloc(VERDICT_SLOTS, sizeof(*d->verdicts));
		err = !d->waiting || !d->verdicts ? -ENOMEM :
			wgx_identity_attach(&d->id, d->loop, on_ident, d);
	}
	if (err)
		return err;
	wgx_key_to_base64(pub, d->noise.pub);
	LOG(INFO, "%s: public key %s, port %u, idle timeout %us, answer %s%s%s", o->wg_ifname,
	    pub, d->adm.port, o->idle_timeout, answer_name(d->answer),
	    o->api_url ? ", peer API " : "", o->api_url ? o->api_url : "");
	sweep(d, true);
	if (d->st.adopted)
		LOG(INFO, "adopted the peers installed before the restart (%llu in all)",
		    (unsigned long long)d->st.adopted);
	enforce_check(d);
	if (o->flow_log) {
		struct wgx_flowlog_opts fo = { o->flow_log, o->flow_interval, o->pin_dir,
					       o->wg_ifname };

		err = wgx_flowlog_open(&fo, d->loop, &d->flowlog);
		if (err) {
			LOG(ERR, "flow log %s: %s", o->flow_log, strerror(-err));
			return err;
		}
	}
	flush_stats(d);
	return 0;
}

int wgx_jitd_run(const struct wgx_jitd_opts *o)
{
	struct jitd d = { .o = o, .sfd = -1, .rj = { -1, -1 },
			  .state = { -1, -1, -1 } };
	unsigned int i;
	int err;

	wgx_prom_hist_init(&d.install_time, wgx_install_buckets, wgx_nr_install_buckets);
	err = start(&d);
	if (!err) {
		err = wgx_loop_run(d.loop);
		if (err < 0)
			LOG(ERR, "event loop: %s", strerror(-err));
	}
	if (d.state.stats_fd >= 0) {
		d.stats_dirty = true;
		flush_stats(&d);
	}
	if (d.sfd >= 0)
		close(d.sfd);
	wgx_reinject_close(&d.rj);
	wgx_flowlog_close(d.flowlog);
	wgx_enforce_close(d.enf);
	while (d.nr_api_users)
		wgx_user_free(d.api_users[--d.nr_api_users]);
	free(d.api_users);
	wgx_policy_free(d.empty);
	wgx_events_close(d.events);
	wgx_metrics_close(d.metrics);	/* leaves the loop before it goes */
	wgx_identity_detach(&d.id);	/* the peer API's requests, too */
	for (i = 0; d.verdicts && i < VERDICT_SLOTS; i++)
		wgx_user_free(d.verdicts[i].owned);
	free(d.verdicts);
	free(d.waiting);
	wgx_loop_free(d.loop);
	wgx_jit_state_close(&d.state);
	wgx_lc_free(&d.lc);
	wgx_admission_free(&d.adm);
	wgx_identity_free(&d.id);
	wgx_noise_free(&d.noise);
	return err;
}
