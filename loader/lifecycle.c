// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "loader/jit_state.h"
#include "loader/lifecycle.h"
#include "loader/log.h"

#define KEEPALIVE_S	25	/* --answer keepalive: the gateway initiates at once */

static int real_get(void *ctx, const char *ifname, struct wgx_wg_device **out)
{
	return wgx_wg_get_device(ifname, out);
}

static int real_set(void *ctx, const char *ifname, const struct wgx_wg_peer *p, unsigned int nr)
{
	return wgx_wg_set_peers(ifname, p, nr);
}

static int real_remove(void *ctx, const char *ifname, const uint8_t (*keys)[WG_KEY_LEN],
		       unsigned int nr)
{
	return wgx_wg_remove_peers(ifname, keys, nr);
}

const struct wgx_dev_ops wgx_dev_ops_real = { real_get, real_set, real_remove, NULL };

int wgx_lc_init(struct wgx_lifecycle *lc, const char *ifname, const struct wgx_dev_ops *dev,
		int peers_fd, struct wgx_jit_stats *st, unsigned int idle_timeout, bool keepalive)
{
	memset(lc, 0, sizeof(*lc));
	if (strlen(ifname) >= sizeof(lc->ifname))
		return -EINVAL;
	strcpy(lc->ifname, ifname);
	lc->dev = dev;
	lc->peers_fd = peers_fd;
	lc->st = st;
	lc->idle_timeout = idle_timeout;
	lc->keepalive = keepalive;
	return 0;
}

void wgx_lc_free(struct wgx_lifecycle *lc)
{
	free(lc->keys);
	lc->keys = NULL;
	lc->nr_keys = 0;
}

static uint64_t now_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Where key is, or would go, in the sorted snapshot. */
static unsigned int key_pos(const struct wgx_lifecycle *lc, const uint8_t key[WG_KEY_LEN])
{
	unsigned int lo = 0, hi = lc->nr_keys;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (memcmp(lc->keys[mid], key, WG_KEY_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool wgx_lc_on_device(const struct wgx_lifecycle *lc, const uint8_t pub[WG_KEY_LEN])
{
	unsigned int at = key_pos(lc, pub);

	return at < lc->nr_keys && !memcmp(lc->keys[at], pub, WG_KEY_LEN);
}

/* Replace the snapshot with the keys of dev (sorted by wgx_wg_device_sort). */
static void snapshot(struct wgx_lifecycle *lc, const struct wgx_wg_device *dev)
{
	uint8_t(*k)[WG_KEY_LEN] = NULL;
	unsigned int i;

	if (dev->nr_peers) {
		k = malloc((size_t)dev->nr_peers * WG_KEY_LEN);
		if (!k)
			return;	/* keep the old one: on_device is a hint, install re-checks */
		for (i = 0; i < dev->nr_peers; i++)
			memcpy(k[i], dev->peers[i].public_key, WG_KEY_LEN);
	}
	free(lc->keys);
	lc->keys = k;
	lc->nr_keys = dev->nr_peers;
}

static void snapshot_add(struct wgx_lifecycle *lc, const uint8_t key[WG_KEY_LEN])
{
	uint8_t(*k)[WG_KEY_LEN];
	unsigned int at = key_pos(lc, key);

	if (at < lc->nr_keys && !memcmp(lc->keys[at], key, WG_KEY_LEN))
		return;
	k = realloc(lc->keys, ((size_t)lc->nr_keys + 1) * WG_KEY_LEN);
	if (!k)
		return;
	lc->keys = k;
	memmove(lc->keys[at + 1], lc->keys[at], (size_t)(lc->nr_keys - at) * WG_KEY_LEN);
	memcpy(lc->keys[at], key, WG_KEY_LEN);
	lc->nr_keys++;
}

static void snapshot_remove(struct wgx_lifecycle *lc, const uint8_t key[WG_KEY_LEN])
{
	unsigned int at = key_pos(lc, key);

	if (at == lc->nr_keys || memcmp(lc->keys[at], key, WG_KEY_LEN))
		return;
	memmove(lc->keys[at], lc->keys[at + 1], (size_t)(lc->nr_keys - at - 1) * WG_KEY_LEN);
	lc->nr_keys--;
}

int wgx_lc_record(const struct wgx_lifecycle *lc, const uint8_t pub[WG_KEY_LEN],
		  struct wgx_peer_rec *rec)
{
	struct wgx_peer_key k;

	wgx_peer_key_make(&k, lc->ifname, pub);
	return bpf_map_lookup_elem(lc->peers_fd, &k, rec) ? -errno : 0;
}

/* The first peer of dev (other than u's key) with an allowed IP overlapping u's addresses. */
static bool find_conflict(const struct wgx_wg_device *dev, const struct wgx_user *u, char *why,
			  size_t whylen)
{
	unsigned int i, j, a;

	for (i = 0; i < dev->nr_peers; i++) {
		const struct wgx_wg_peer *p = &dev->peers[i];

		if (!memcmp(p->public_key, u->public_key, WG_KEY_LEN))
			continue;
		for (j = 0; j < p->nr_allowed; j++) {
			for (a = 0; a < u->nr_addresses; a++) {
				char pa[64], pb[64], k64[45];

				if (!wgx_prefix_overlap(&p->allowed[j], &u->addresses[a]))
					continue;
				wgx_prefix_format(&u->addresses[a], pa, sizeof(pa));
				wgx_prefix_format(&p->allowed[j], pb, sizeof(pb));
				wgx_key_to_base64(k64, p->public_key);
				snprintf(why, whylen, "%s overlaps %s of peer %s", pa, pb, k64);
				return true;
			}
		}
	}
	return false;
}

int wgx_lc_install(struct wgx_lifecycle *lc, const struct wgx_user *u, bool from_api,
		   int family, const uint8_t addr[16], uint16_t port_be, char *why,
		   size_t whylen)
{
	struct wgx_wg_device *dev = NULL;
	struct wgx_wg_peer p = {};
	struct wgx_peer_key key;
	struct wgx_peer_rec rec = {};
	int err;

	snprintf(why, whylen, "-");
	/* the device as it is now: a snapshot may be a second old */
	err = lc->dev->get(lc->dev->ctx, lc->ifname, &dev);
	if (err) {
		snprintf(why, whylen, "read %s: %s", lc->ifname, strerror(-err));
		return err;
	}
	wgx_wg_device_sort(dev);
	snapshot(lc, dev);
	if (wgx_wg_device_find(dev, u->public_key)) {
		snprintf(why, whylen, "the device has a peer with this key already");
		err = -EEXIST;
	} else if (find_conflict(dev, u, why, whylen)) {
		err = -EADDRINUSE;
	}
	wgx_wg_device_free(dev);
	if (err)
		return err;

	if (from_api && lc->enf && lc->enf_policy) {
		struct wgx_policy_err perr = {};

		/* the user's rules first: from the first packet on, the user is enforced */
		err = wgx_enforce_user_set(lc->enf, lc->enf_policy, u, &perr);
		if (err) {
			snprintf(why, whylen, "policy maps: %s%s%s", perr.where,
				 perr.where[0] ? ": " : "", perr.why[0] ? perr.why : strerror(-err));
			return err == -EADDRINUSE ? -EADDRINUSE : err;
		}
	}
	memcpy(p.public_key, u->public_key, WG_KEY_LEN);
	p.has_psk = u->has_psk;
	memcpy(p.psk, u->psk, WG_KEY_LEN);
	if (family == 6) {
		p.endpoint.in6.sin6_family = AF_INET6;
		memcpy(&p.endpoint.in6.sin6_addr, addr, 16);
		p.endpoint.in6.sin6_port = port_be;
	} else {
		p.endpoint.in4.sin_family = AF_INET;
		memcpy(&p.endpoint.in4.sin_addr, addr, 4);
		p.endpoint.in4.sin_port = port_be;
	}
	p.keepalive = lc->keepalive ? KEEPALIVE_S : 0;
	p.allowed = u->addresses;
	p.nr_allowed = u->nr_addresses;
	err = lc->dev->set(lc->dev->ctx, lc->ifname, &p, 1);
	explicit_bzero(p.psk, sizeof(p.psk));
	if (err) {
		snprintf(why, whylen, "%s refused the peer: %s", lc->ifname, strerror(-err));
		if (from_api && lc->enf && lc->enf_policy)
			wgx_enforce_user_del(lc->enf, u->name);
		return err;
	}
	wgx_peer_key_make(&key, lc->ifname, u->public_key);
	snprintf(rec.user, sizeof(rec.user), "%s", u->name);
	snprintf(rec.wg_ifname, sizeof(rec.wg_ifname), "%s", lc->ifname);
	rec.wg_ifindex = if_nametoindex(lc->ifname);
	rec.flags = (lc->keepalive ? WGX_PEER_F_KEEPALIVE : 0) | (from_api ? WGX_PEER_F_API : 0);
	rec.installed_ns = now_real_ns();
	rec.validated_s = rec.installed_ns / 1000000000ull;
	rec.expires_s = u->expires;
	rec.idle_timeout_s = lc->idle_timeout;
	rec.family = family;
	rec.port = port_be;
	memcpy(rec.addr, addr, 16);
	if (bpf_map_update_elem(lc->peers_fd, &key, &rec, BPF_ANY))
		wgx_log(WGX_LOG_ERR, "run", "record %s in wgx_peers: %s (the peer is installed "
			"but will not be managed)", u->name, strerror(errno));
	snapshot_add(lc, u->public_key);
	lc->nr_managed++;
	return 0;
}

enum wgx_removal wgx_lc_removal(const struct wgx_peer_rec *r, const struct wgx_user *u,
				bool api, uint64_t last, uint64_t now_s, const char **why)
{
	const char *d;

	*why = NULL;
	if (u) {
		d = wgx_user_denied(u, now_s);
		if (d) {
			*why = d;
			return WGX_REMOVE_POLICY;
		}
	} else if (!api) {
		*why = "left the policy";
		return WGX_REMOVE_POLICY;
	} else if (r->expires_s && (int64_t)now_s >= r->expires_s) {
		*why = "expired";
		return WGX_REMOVE_POLICY;
	}
	if (last < r->installed_ns / 1000000000ull)
		last = r->installed_ns / 1000000000ull;
	if (now_s > last + r->idle_timeout_s) {
		*why = "idle";
		return WGX_REMOVE_IDLE;
	}
	return WGX_KEEP;
}

struct pending {
	struct wgx_peer_key *keys;
	enum wgx_removal *what;
	struct wgx_peer_rec *recs;
	unsigned int nr;
};

/* A managed peer left the device: an API user's rules go after it. */
static void left(struct wgx_lifecycle *lc, const struct wgx_peer_key *k,
		 const struct wgx_peer_rec *r, const char *reason)
{
	if ((r->flags & WGX_PEER_F_API) && lc->enf) {
		int err = wgx_enforce_user_del(lc->enf, r->user);

		if (err && err != -ENOENT)
			wgx_log(WGX_LOG_WARN, "run", "remove %s from the policy maps: %s", r->user,
				strerror(-err));
	}
	if (lc->removed)
		lc->removed(lc->removed_ctx, k, r, reason);
}

static int pending_add(struct pending *p, const struct wgx_peer_key *k, enum wgx_removal what,
		       const struct wgx_peer_rec *r)
{
	void *n = reallocarray(p->keys, p->nr + 1, sizeof(*p->keys));

	if (!n)
		return -ENOMEM;
	p->keys = n;
	n = reallocarray(p->recs, p->nr + 1, sizeof(*p->recs));
	if (!n)
		return -ENOMEM;
	p->recs = n;
	p->recs[p->nr] = *r;
	n = reallocarray(p->what, p->nr + 1, sizeof(*p->what));
	if (!n)
		return -ENOMEM;
	p->what = n;
	p->keys[p->nr] = *k;
	p->what[p->nr++] = what;
	return 0;
}

/* Clear the keepalive once the session is up, so that idleness shows. */
static void clear_keepalive(struct wgx_lifecycle *lc, const struct wgx_peer_key *k,
			    struct wgx_peer_rec *r, const struct wgx_wg_peer *p)
{
	struct wgx_wg_peer q = *p;
	int err;

	q.keepalive = 0;
	q.has_psk = false;	/* unchanged */
	q.update_only = true;	/* never re-create a peer removed by hand meanwhile */
	err = lc->dev->set(lc->dev->ctx, lc->ifname, &q, 1);
	if (err) {
		wgx_log(WGX_LOG_WARN, "run", "clear the keepalive of %s: %s", r->user,
			strerror(-err));
		return;
	}
	r->flags &= ~WGX_PEER_F_KEEPALIVE;
	if (bpf_map_update_elem(lc->peers_fd, k, r, BPF_EXIST))
		wgx_log(WGX_LOG_WARN, "run", "update the record of %s: %s", r->user,
			strerror(errno));
}

int wgx_lc_sweep(struct wgx_lifecycle *lc, uint64_t now_s, bool adopt, wgx_lc_judge_fn judge,
		 void *ctx)
{
	struct wgx_wg_device *dev = NULL;
	struct wgx_peer_key k, next;
	struct wgx_peer_rec r;
	struct pending gone = {}, rm = {};
	uint8_t(*rmkeys)[WG_KEY_LEN] = NULL;
	unsigned int i, managed = 0;
	int err;

	err = lc->dev->get(lc->dev->ctx, lc->ifname, &dev);
	if (err)
		return err;
	wgx_wg_device_sort(dev);
	snapshot(lc, dev);
	err = bpf_map_get_next_key(lc->peers_fd, NULL, &next);
	while (!err) {
		const struct wgx_wg_peer *p;
		enum wgx_removal what;
		const char *why = NULL;
		bool changed = false;

		k = next;
		err = bpf_map_get_next_key(lc->peers_fd, &k, &next);
		if (strncmp(k.wg_ifname, lc->ifname, sizeof(k.wg_ifname)) ||
		    bpf_map_lookup_elem(lc->peers_fd, &k, &r))
			continue;
		p = wgx_wg_device_find(dev, k.public_key);
		if (!p) {
			/* removed by someone else: forget it */
			if (pending_add(&gone, &k, WGX_KEEP, &r))
				break;
			continue;
		}
		if (adopt)
			lc->st->adopted++;
		what = judge(ctx, &k, &r, p, now_s, &why, &changed);
		if (what != WGX_KEEP) {
			if (pending_add(&rm, &k, what, &r))
				break;
			wgx_log(WGX_LOG_INFO, "run", "removing %s: %s", r.user, why ? why : "-");
			continue;
		}
		managed++;
		if (changed && bpf_map_update_elem(lc->peers_fd, &k, &r, BPF_EXIST))
			wgx_log(WGX_LOG_WARN, "run", "update the record of %s: %s", r.user,
				strerror(errno));
		if ((r.flags & WGX_PEER_F_KEEPALIVE) && p->last_handshake_sec)
			clear_keepalive(lc, &k, &r, p);
	}
	err = 0;
	if (rm.nr) {
		rmkeys = calloc(rm.nr, WG_KEY_LEN);
		if (!rmkeys) {
			err = -ENOMEM;
			goto out;
		}
		for (i = 0; i < rm.nr; i++)
			memcpy(rmkeys[i], rm.keys[i].public_key, WG_KEY_LEN);
		err = lc->dev->remove(lc->dev->ctx, lc->ifname,
				      (const uint8_t(*)[WG_KEY_LEN])rmkeys, rm.nr);
		if (err) {
			/* the records stay: the next sweep tries again */
			managed += rm.nr;
			wgx_log(WGX_LOG_ERR, "run", "remove %u peers from %s: %s", rm.nr,
				lc->ifname, strerror(-err));
		} else {
			for (i = 0; i < rm.nr; i++) {
				if (bpf_map_delete_elem(lc->peers_fd, &rm.keys[i]) &&
				    errno != ENOENT)
					wgx_log(WGX_LOG_WARN, "run", "forget a removed peer: %s",
						strerror(errno));
				snapshot_remove(lc, rm.keys[i].public_key);
				if (rm.what[i] == WGX_REMOVE_IDLE)
					lc->st->removed_idle++;
				else if (rm.what[i] == WGX_REMOVE_API)
					lc->st->removed_api++;
				else
					lc->st->removed_policy++;
				left(lc, &rm.keys[i], &rm.recs[i],
				     rm.what[i] == WGX_REMOVE_IDLE ? "idle" :
				     rm.what[i] == WGX_REMOVE_API ? "api" : "policy");
			}
		}
	}
	lc->nr_managed = managed;
	for (i = 0; i < gone.nr; i++) {
		bpf_map_delete_elem(lc->peers_fd, &gone.keys[i]);
		left(lc, &gone.keys[i], &gone.recs[i], "gone");
	}
out:
	free(rmkeys);
	free(rm.keys);
	free(rm.what);
	free(rm.recs);
	free(gone.keys);
	free(gone.what);
	free(gone.recs);
	wgx_wg_device_free(dev);
	return err;
}
