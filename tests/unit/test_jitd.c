// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The daemon's decisions, driven directly: admission (port, mac1, per-source rate, decryption,
 * replay), the peers' lifecycle against a fake WireGuard device (install, conflicts, sweep),
 * the removal rule, and what may be re-injected. BPF maps are real (unpinned), so it runs
 * as root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <jansson.h>

#include "check.h"
#include "wg_initiator.h"
#include "loader/admission.h"
#include "loader/enforce.h"
#include "loader/jit_state.h"
#include "loader/lifecycle.h"
#include "loader/log.h"
#include "loader/policy.h"
#include "loader/reinject.h"
#include "loader/wgdev_peers.h"

static uint8_t resp_priv[32], resp_pub[32];
static struct wgx_noise noise;

static void event(struct wgx_hs_event *ev, const uint8_t msg[148], const char *src, uint16_t dport)
{
	memset(ev, 0, sizeof(*ev));
	ev->family = 4;
	inet_pton(AF_INET, src, ev->saddr);
	inet_pton(AF_INET, "192.0.2.1", ev->daddr);
	ev->sport = htons(40000);
	ev->dport = htons(dport);
	memcpy(ev->msg, msg, 148);
}

static void test_admission(void)
{
	struct wgx_jit_state s;
	struct wgx_admission a, b, other_if;
	struct wgx_hs_event ev;
	uint8_t cpriv[32], cpub[32], mpriv[32], mpub[32], msg[148], tai[12], pub[32], t[12];
	uint64_t now = 1000000000ull;
	int i, throttled = 0;

	if (!CHECK(!wgx_jit_state_anon(&s), "BPF maps (needs root)"))
		return;
	wgi_keypair(cpriv, cpub);
	wgi_keypair(mpriv, mpub);
	CHECK(!wgx_admission_init(&a, &noise, "wg0", 51820, 20, 5, s.replay_fd), "init");

	wgi_tai64n(tai, 1000, 0);
	wgi_make_initiation(msg, cpriv, resp_pub, 1, tai);
	event(&ev, msg, "198.51.100.7", 51821);
	CHECK(wgx_admit(&a, &ev, now, pub, t) == WGX_ADMIT_OTHER_PORT, "another port");

	event(&ev, msg, "127.0.0.1", 51820);
	CHECK(wgx_admit(&a, &ev, now, pub, t) == WGX_ADMIT_BAD_SOURCE, "from 127.0.0.1");
	event(&ev, msg, "224.0.0.5", 51820);
	CHECK(wgx_admit(&a, &ev, now, pub, t) == WGX_ADMIT_BAD_SOURCE, "from a multicast address");
	event(&ev, msg, "198.51.100.7", 51820);
	CHECK(wgx_admit(&a, &ev, now, pub, t) == WGX_ADMIT_OK, "a valid initiation");
	CHECK(!memcmp(pub, cpub, 32) && !memcmp(t, tai, 12), "its key and timestamp");

	/* junk with a bad mac1 from a user's address spends none of that address's budget */
	for (i = 0; i < 100; i++) {
		struct wgx_hs_event junk;
		uint8_t m[148];

		memcpy(m, msg, 148);
		m[120] ^= 1;	/* mac1 */
		event(&junk, m, "198.51.100.8", 51820);
		CHECK(wgx_admit(&a, &junk, now, pub, t) == WGX_ADMIT_BAD_MAC1, "junk %d", i);
	}
	event(&ev, msg, "198.51.100.8", 51820);
	CHECK(wgx_admit(&a, &ev, now, pub, t) == WGX_ADMIT_OK,
	      "100 spoofed junk packets do not lock the source out");

	/* valid mac1s from one source: the burst, then throttled (before any X25519) */
	for (i = 0; i < 20; i++) {
		event(&ev, msg, "198.51.100.9", 51820);
		throttled += wgx_admit(&a, &ev, now, pub, t) == WGX_ADMIT_THROTTLED;
	}
	CHECK(throttled == 15, "burst 5 of 20 at one instant: %d throttled", throttled);
	event(&ev, msg, "198.51.100.9", 51820);
	CHECK(wgx_admit(&a, &ev, now + 100000000ull, pub, t) == WGX_ADMIT_OK,
	      "100 ms later (20/s): one more token");

	/* a valid mac1 over a static made for another responder */
	wgi_make_initiation(msg, cpriv, mpub, 1, tai);
	wgi_set_mac1(msg, resp_pub);
	event(&ev, msg, "198.51.100.10", 51820);
	CHECK(wgx_admit(&a, &ev, now, pub, t) == WGX_ADMIT_NOT_FOR_US, "not for us");

	/* claims cpub without its private key: the timestamp does not open */
	wgi_make_initiation_ex(msg, mpriv, cpub, resp_pub, 1, tai);
	event(&ev, msg, "198.51.100.11", 51820);
	CHECK(wgx_admit(&a, &ev, now, pub, t) == WGX_ADMIT_UNAUTHENTICATED, "impostor");

	/* replay: once the key's timestamp is recorded, the same or older never passes */
	wgi_make_initiation(msg, cpriv, resp_pub, 1, tai);
	event(&ev, msg, "198.51.100.12", 51820);
	CHECK(wgx_admit(&a, &ev, now, pub, t) == WGX_ADMIT_OK, "before the commit");
	CHECK(!wgx_admit_commit(&a, pub, t), "commit");
	CHECK(wgx_admit(&a, &ev, now, pub, t) == WGX_ADMIT_REPLAYED, "the same initiation again");
	wgi_tai64n(t, 999, 999999999);
	wgi_make_initiation(msg, cpriv, resp_pub, 2, t);
	event(&ev, msg, "203.0.113.5", 51820);
	CHECK(wgx_admit(&a, &ev, now, pub, t) == WGX_ADMIT_REPLAYED, "an older one, elsewhere");
	CHECK(!wgx_admit_commit(&a, pub, t), "commit of an older one is a no-op");
	wgi_tai64n(t, 1000, 1);
	wgi_make_initiation(msg, cpriv, resp_pub, 3, t);
	event(&ev, msg, "203.0.113.6", 51820);
	CHECK(wgx_admit(&a, &ev, now, pub, t) == WGX_ADMIT_OK, "a newer one");

	/* a restarted daemon (new admission, same pinned map) still refuses the old one */
	CHECK(!wgx_admission_init(&b, &noise, "wg0", 51820, 20, 5, s.replay_fd), "init b");
	wgi_make_initiation(msg, cpriv, resp_pub, 1, tai);
	event(&ev, msg, "198.51.100.13", 51820);
	CHECK(wgx_admit(&b, &ev, now, pub, t) == WGX_ADMIT_REPLAYED, "replay after a restart");
	/* another interface's daemon keeps its own timestamps */
	CHECK(!wgx_admission_init(&other_if, &noise, "wg1", 51820, 20, 5, s.replay_fd), "init");
	CHECK(wgx_admit(&other_if, &ev, now, pub, t) == WGX_ADMIT_OK, "wg1 has no record");

	wgx_admission_free(&a);
	wgx_admission_free(&b);
	wgx_admission_free(&other_if);
	wgx_jit_state_close(&s);
}

/* ---- a fake WireGuard device ---- */

struct fake {
	struct wgx_wg_device dev;
	int sets, removes, gets;
	struct wgx_wg_peer last;	/* shallow: what the last set carried */
	const uint8_t *race_key;	/* removed "by hand" just before the next set */
};

static void copy_peer(struct wgx_wg_device *to, const struct wgx_wg_peer *p)
{
	struct wgx_wg_peer *q = wgx_wgdev_add_peer(to);
	unsigned int i;

	memcpy(q->public_key, p->public_key, 32);
	q->keepalive = p->keepalive;
	q->endpoint = p->endpoint;
	q->last_handshake_sec = p->last_handshake_sec;
	for (i = 0; i < p->nr_allowed; i++)
		wgx_wgdev_add_allowed(q, &p->allowed[i]);
}

static int fake_get(void *ctx, const char *ifname, struct wgx_wg_device **out)
{
	struct fake *f = ctx;
	struct wgx_wg_device *d = calloc(1, sizeof(*d));
	unsigned int i;

	f->gets++;
	for (i = 0; i < f->dev.nr_peers; i++)
		copy_peer(d, &f->dev.peers[i]);
	*out = d;
	return 0;
}

static struct wgx_wg_peer *fake_find(struct fake *f, const uint8_t key[32])
{
	unsigned int i;

	for (i = 0; i < f->dev.nr_peers; i++)
		if (!memcmp(f->dev.peers[i].public_key, key, 32))
			return &f->dev.peers[i];
	return NULL;
}

static void fake_del(struct fake *f, const uint8_t key[32]);

static int fake_set(void *ctx, const char *ifname, const struct wgx_wg_peer *p, unsigned int nr)
{
	struct fake *f = ctx;
	struct wgx_wg_peer *q;

	f->sets++;
	f->last = *p;
	if (f->race_key && !memcmp(f->race_key, p->public_key, 32)) {
		fake_del(f, f->race_key);
		f->race_key = NULL;
	}
	q = fake_find(f, p->public_key);
	if (q) {
		q->keepalive = p->keepalive;
		return 0;
	}
	if (p->update_only)
		return 0;	/* as WireGuard: update-only never creates */
	copy_peer(&f->dev, p);
	return 0;
}

static void fake_del(struct fake *f, const uint8_t key[32])
{
	struct wgx_wg_peer *q = fake_find(f, key);

	if (!q)
		return;
	free(q->allowed);
	*q = f->dev.peers[--f->dev.nr_peers];
}

static int fake_remove(void *ctx, const char *ifname, const uint8_t (*keys)[32], unsigned int nr)
{
	struct fake *f = ctx;
	unsigned int i;

	f->removes++;
	for (i = 0; i < nr; i++)
		fake_del(f, keys[i]);
	return 0;
}

static void user(struct wgx_user *u, struct wgx_prefix *addr, const char *name, const char *pfx)
{
	uint8_t priv[32];

	memset(u, 0, sizeof(*u));
	u->name = (char *)name;
	wgi_keypair(priv, u->public_key);
	wgx_prefix_parse(pfx, addr);
	u->addresses = addr;
	u->nr_addresses = 1;
}

static int count_records(int fd, const char *ifname)
{
	struct wgx_peer_key k, next;
	int n = 0, err = bpf_map_get_next_key(fd, NULL, &next);

	while (!err) {
		k = next;
		err = bpf_map_get_next_key(fd, &k, &next);
		n += !strcmp(k.wg_ifname, ifname);
	}
	return n;
}

/* The judge of the tests: everyone is in the policy unless named in gone_key. */
static const uint8_t *gone_key;
static enum wgx_removal test_judge(void *ctx, const struct wgx_peer_key *k,
				   struct wgx_peer_rec *r, const struct wgx_wg_peer *p,
				   uint64_t now_s, const char **why, bool *changed)
{
	struct wgx_user u = { .name = r->user };

	return wgx_lc_removal(r, gone_key && !memcmp(gone_key, k->public_key, 32) ? NULL : &u,
			      false, p->last_handshake_sec, now_s, why);
}

static void test_lifecycle(void)
{
	struct fake f = {}, g = {};
	struct wgx_dev_ops ops = { fake_get, fake_set, fake_remove, &f };
	struct wgx_dev_ops ops_g = { fake_get, fake_set, fake_remove, &g };
	struct wgx_jit_state s;
	struct wgx_jit_stats st = {}, st_g = {};
	struct wgx_lifecycle lc, lc_g;
	struct wgx_user alice, bob, mallory;
	struct wgx_prefix a1, b1, m1, hand_pfx;
	struct wgx_wg_peer hand = {};
	struct wgx_peer_rec rec;
	uint8_t ep[16] = { 198, 51, 100, 7 }, hand_priv[32];
	char why[256];
	uint64_t now = time(NULL);

	if (!CHECK(!wgx_jit_state_anon(&s), "BPF maps (needs root)"))
		return;
	wgx_lc_init(&lc, "wg0", &ops, s.peers_fd, &st, 600, false);
	wgx_lc_init(&lc_g, "wg1", &ops_g, s.peers_fd, &st_g, 600, true);
	user(&alice, &a1, "alice", "100.64.0.2/32");
	user(&bob, &b1, "bob", "100.64.0.3/32");
	user(&mallory, &m1, "mallory", "100.64.0.0/24");

	/* a peer configured by hand, holding 100.64.0.9/32 */
	wgi_keypair(hand_priv, hand.public_key);
	wgx_prefix_parse("100.64.0.9/32", &hand_pfx);
	hand.allowed = &hand_pfx;
	hand.nr_allowed = 1;
	copy_peer(&f.dev, &hand);

	CHECK(!wgx_lc_install(&lc, &alice, false, 4, ep, htons(40000), why, sizeof(why)),
	      "install alice: %s", why);
	CHECK(f.dev.nr_peers == 2 && fake_find(&f, alice.public_key), "alice on the device");
	CHECK(f.last.nr_allowed == 1 && f.last.keepalive == 0, "her address, no keepalive");
	CHECK(!wgx_lc_record(&lc, alice.public_key, &rec) && !strcmp(rec.user, "alice") &&
	      rec.port == htons(40000) && !(rec.flags & WGX_PEER_F_API), "her record");
	CHECK(wgx_lc_on_device(&lc, alice.public_key), "the snapshot knows her");
	CHECK(lc.nr_managed == 1, "one managed peer after the install (%u)", lc.nr_managed);

	/* the hand-made peer's address, another key: refused */
	{
		struct wgx_user h = { .name = "h", .addresses = &hand_pfx, .nr_addresses = 1 };

		CHECK(wgx_lc_install(&lc, &h, false, 4, ep, 1, why, sizeof(why)) == -EADDRINUSE,
		      "100.64.0.9/32 is the hand-made peer's: %s", why);
	}
	/* a key the device has, by hand: never overwritten, never recorded */
	{
		struct wgx_user h = bob;

		memcpy(h.public_key, hand.public_key, 32);
		CHECK(wgx_lc_install(&lc, &h, false, 4, ep, 1, why, sizeof(why)) == -EEXIST,
		      "a hand-made peer's key: -EEXIST (%s)", why);
		CHECK(wgx_lc_record(&lc, hand.public_key, &rec) == -ENOENT, "and no record");
	}
	/* a prefix over alice's address and the hand-made peer's: refused, nothing set */
	f.sets = 0;
	CHECK(wgx_lc_install(&lc, &mallory, false, 4, ep, 1, why, sizeof(why)) == -EADDRINUSE,
	      "100.64.0.0/24 overlaps: %s", why);
	CHECK(f.sets == 0 && !fake_find(&f, mallory.public_key), "mallory got nothing");
	CHECK(strstr(why, "100.64.0.0/24") != NULL, "the reason names the prefix: %s", why);

	/* the other interface: its own device, its own records */
	CHECK(!wgx_lc_install(&lc_g, &bob, true, 4, ep, 2, why, sizeof(why)), "bob on wg1");
	CHECK(g.last.keepalive == 25, "wg1 installs with a keepalive");
	CHECK(count_records(s.peers_fd, "wg0") == 1 && count_records(s.peers_fd, "wg1") == 1,
	      "records per interface");
	CHECK(!wgx_lc_record(&lc_g, bob.public_key, &rec) && (rec.flags & WGX_PEER_F_API),
	      "bob came from the API");
	CHECK(wgx_lc_record(&lc, bob.public_key, &rec) == -ENOENT, "wg0 does not manage bob");

	/* sweep: nothing to do */
	CHECK(!wgx_lc_sweep(&lc, now, true, test_judge, NULL), "sweep");
	CHECK(st.adopted == 1 && f.dev.nr_peers == 2, "adopted alice, kept everything");
	CHECK(lc.nr_managed == 1, "the sweep counts alice, not the hand-made peer (%u)",
	      lc.nr_managed);
	/* the keepalive goes once a handshake happened, update-only */
	fake_find(&g, bob.public_key)->last_handshake_sec = now;
	CHECK(!wgx_lc_sweep(&lc_g, now, false, test_judge, NULL), "sweep wg1");
	CHECK(g.last.update_only && g.last.keepalive == 0, "keepalive cleared, update-only");
	CHECK(!wgx_lc_record(&lc_g, bob.public_key, &rec) && !(rec.flags & WGX_PEER_F_KEEPALIVE),
	      "flag cleared");
	/* removed by hand between the sweep's read and its write: not created again */
	rec.flags |= WGX_PEER_F_KEEPALIVE;
	{
		struct wgx_peer_key k;

		wgx_peer_key_make(&k, "wg1", bob.public_key);
		bpf_map_update_elem(s.peers_fd, &k, &rec, BPF_EXIST);
	}
	g.race_key = bob.public_key;
	CHECK(!wgx_lc_sweep(&lc_g, now, false, test_judge, NULL), "sweep wg1 (race)");
	CHECK(!fake_find(&g, bob.public_key), "the keepalive clear did not re-create bob");
	copy_peer(&g.dev, &(struct wgx_wg_peer){ .last_handshake_sec = now });
	memcpy(g.dev.peers[g.dev.nr_peers - 1].public_key, bob.public_key, 32);
	/* idle: alice's install was 700 s ago with no handshake */
	CHECK(!wgx_lc_sweep(&lc, now + 700, false, test_judge, NULL), "sweep later");
	CHECK(!fake_find(&f, alice.public_key) && st.removed_idle == 1, "alice removed idle");
	CHECK(fake_find(&f, hand.public_key) != NULL, "the hand-made peer stays");
	CHECK(count_records(s.peers_fd, "wg0") == 0, "her record gone");
	CHECK(lc.nr_managed == 0, "no managed peer after the idle removal (%u)", lc.nr_managed);
	/* left the policy */
	CHECK(!wgx_lc_install(&lc, &alice, false, 4, ep, 1, why, sizeof(why)), "alice again");
	gone_key = alice.public_key;
	CHECK(!wgx_lc_sweep(&lc, now, false, test_judge, NULL), "sweep");
	CHECK(!fake_find(&f, alice.public_key) && st.removed_policy == 1, "removed by policy");
	gone_key = NULL;
	/* someone removed bob by hand: his record is forgotten, nothing re-created */
	fake_del(&g, bob.public_key);
	CHECK(!wgx_lc_sweep(&lc_g, now, false, test_judge, NULL), "sweep wg1");
	CHECK(!fake_find(&g, bob.public_key) && count_records(s.peers_fd, "wg1") == 0,
	      "bob's record forgotten, his peer not re-created");
	CHECK(lc_g.nr_managed == 0, "a peer removed by hand is no longer counted (%u)",
	      lc_g.nr_managed);

	wgx_lc_free(&lc);
	wgx_lc_free(&lc_g);
	wgx_jit_state_close(&s);
	free(f.dev.peers);
	free(g.dev.peers);
}

/* Whether the tunnel's maps hold a user of that name (explain finds her). */
static bool enforced(struct wgx_enforce *e, const char *name)
{
	struct wgx_prefix dst;
	struct wgx_explain x;

	wgx_prefix_parse("10.0.0.1", &dst);
	return !wgx_enforce_explain(e, name, &dst, IPPROTO_TCP, 22, false, &x) &&
	       x.verdict != WGX_EX_UNKNOWN_USER;
}

/*
 * A peer API user's rules go into the tunnel's maps before her peer and out after it; when
 * the last apply failed (enf_policy NULL) no new rules go in, and a leaving user's still go.
 */
static void test_lifecycle_enforce(void)
{
	static const char json[] = "{\"groups\": {\"ssh\": {\"allow\": [{\"cidr\": "
				   "\"10.0.0.0/8\", \"proto\": \"tcp\", \"ports\": \"22\"}]}}, "
				   "\"users\": []}";
	struct fake f = {};
	struct wgx_dev_ops ops = { fake_get, fake_set, fake_remove, &f };
	struct wgx_enforce_fds fds;
	struct wgx_enforce *e = NULL;
	struct wgx_policy *p = NULL;
	struct wgx_policy_err err = {};
	struct wgx_jit_state s;
	struct wgx_jit_stats st = {};
	struct wgx_lifecycle lc;
	struct wgx_user carol, dave;
	struct wgx_prefix c1, d1;
	unsigned int ssh = 0;
	uint8_t ep[16] = { 198, 51, 100, 7 };
	char why[256];

	if (!CHECK(!wgx_jit_state_anon(&s), "BPF maps (needs root)"))
		return;
	if (!CHECK(!wgx_enforce_create_maps(&fds), "the tunnel's maps (needs root)"))
		goto out_state;
	if (!CHECK(!wgx_policy_load_string(json, &p, &err) &&
		   !wgx_enforce_from_fds(&fds, &e, &err) &&
		   !wgx_enforce_apply(e, p, NULL, 0, &err), "a policy applied: %s", err.why))
		goto out;
	wgx_lc_init(&lc, "wg0", &ops, s.peers_fd, &st, 600, false);
	lc.enf = e;
	lc.enf_policy = p;
	user(&carol, &c1, "carol", "100.64.0.2/32");
	user(&dave, &d1, "dave", "100.64.0.3/32");
	carol.groups = dave.groups = &ssh;
	carol.nr_groups = dave.nr_groups = 1;

	CHECK(!wgx_lc_install(&lc, &carol, true, 4, ep, 1, why, sizeof(why)) &&
	      enforced(e, "carol"), "carol from the API: her peer and her rules (%s)", why);
	/* an apply failed: the policy it had is gone, so no new rules... */
	lc.enf_policy = NULL;
	CHECK(!wgx_lc_install(&lc, &dave, true, 4, ep, 2, why, sizeof(why)) &&
	      fake_find(&f, dave.public_key) && !enforced(e, "dave"),
	      "dave after a failed apply: a peer, no rules (the tunnel drops him: fail closed)");
	/* ...but a user who leaves loses hers */
	gone_key = carol.public_key;
	CHECK(!wgx_lc_sweep(&lc, time(NULL), false, test_judge, NULL), "sweep");
	gone_key = NULL;
	CHECK(!fake_find(&f, carol.public_key) && !enforced(e, "carol"),
	      "carol removed: her peer and her rules gone");
	wgx_lc_free(&lc);
	free(f.dev.peers);
out:
	wgx_enforce_close(e);
	wgx_policy_free(p);
	wgx_enforce_fds_close(&fds);
out_state:
	wgx_jit_state_close(&s);
}

static void test_removal_rule(void)
{
	struct wgx_peer_rec r = { .idle_timeout_s = 60 };
	struct wgx_user u = { .name = "u" };
	const uint64_t t0 = 1800000000ull;
	const char *why;

	r.installed_ns = t0 * 1000000000ull;
	CHECK(wgx_lc_removal(&r, &u, false, 0, t0 + 60, &why) == WGX_KEEP, "60 s: keep");
	CHECK(wgx_lc_removal(&r, &u, false, 0, t0 + 61, &why) == WGX_REMOVE_IDLE, "61 s: idle");
	CHECK(wgx_lc_removal(&r, &u, false, t0 + 30, t0 + 61, &why) == WGX_KEEP,
	      "a handshake 31 s ago: keep");
	u.disabled = true;
	CHECK(wgx_lc_removal(&r, &u, false, t0, t0, &why) == WGX_REMOVE_POLICY, "disabled");
	u.disabled = false;
	u.expires = t0 - 1;
	CHECK(wgx_lc_removal(&r, &u, false, t0, t0, &why) == WGX_REMOVE_POLICY, "expired");
	CHECK(wgx_lc_removal(&r, NULL, false, t0, t0, &why) == WGX_REMOVE_POLICY &&
	      !strcmp(why, "left the policy"), "not in the policy file, no API");
	CHECK(wgx_lc_removal(&r, NULL, true, t0, t0, &why) == WGX_KEEP,
	      "an API user between revalidations");
	r.expires_s = t0;
	CHECK(wgx_lc_removal(&r, NULL, true, t0, t0, &why) == WGX_REMOVE_POLICY,
	      "an API user past the expiry the API gave");
}

static void test_reinject_check(void)
{
	static const struct {
		int family;
		const char *addr;
		bool ok;
	} cases[] = {
		{ 4, "198.51.100.7", true },	{ 4, "10.0.0.1", true },
		{ 4, "127.0.0.1", false },	{ 4, "0.0.0.0", false },
		{ 4, "224.0.0.1", false },	{ 4, "255.255.255.255", false },
		{ 4, "169.254.1.1", false },	{ 6, "2001:db8::1", true },
		{ 6, "fd00::1", true },		{ 6, "::1", false },
		{ 6, "::", false },		{ 6, "fe80::1", false },
		{ 6, "ff02::1", false },	{ 6, "::ffff:127.0.0.1", false },
	};
	struct wgx_hs_event ev = {};
	const char *why = NULL;
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t a[16] = {};

		inet_pton(cases[i].family == 6 ? AF_INET6 : AF_INET, cases[i].addr, a);
		CHECK(wgx_addr_routable_unicast(cases[i].family, a) == cases[i].ok, "%s: %s",
		      cases[i].addr, cases[i].ok ? "routable" : "refused");
	}
	/* 127.0.0.1 as the source: refused whatever the destination */
	ev.family = 4;
	ev.ifindex = 1;
	inet_pton(AF_INET, "127.0.0.1", ev.saddr);
	inet_pton(AF_INET, "127.0.0.1", ev.daddr);
	CHECK(wgx_reinject_check(&ev, &why) == -EPERM, "loopback source: %s", why);
	/* a routable source to a destination that is not ours (a transit packet) */
	inet_pton(AF_INET, "198.51.100.7", ev.saddr);
	inet_pton(AF_INET, "203.0.113.99", ev.daddr);
	CHECK(wgx_reinject_check(&ev, &why) == -EPERM && strstr(why, "destination"),
	      "transit destination: %s", why);
	/* to lo's own 127.0.0.1 from a routable source: lo is interface 1 */
	inet_pton(AF_INET, "127.0.0.1", ev.daddr);
	CHECK(wgx_reinject_check(&ev, &why) == 0, "to a local address of the interface");
	ev.ifindex = 999999;
	CHECK(wgx_reinject_check(&ev, &why) == -EPERM,
	      "a local address, but of another interface than the one it came in on");
}

/* One logger: a hostile name cannot forge a line, in either format. */
static void test_log(void)
{
	char buf[1024] = "";
	FILE *f = tmpfile();
	json_t *o;

	wgx_log_setup(f, WGX_LOG_HUMAN, WGX_LOG_INFO);
	wgx_log(WGX_LOG_INFO, "run", "installed %s", "eve\nwgxdp run: installed root\x1b[2J");
	wgx_log(WGX_LOG_DEBUG, "run", "not printed at info");
	wgx_log_setup(f, WGX_LOG_JSON, WGX_LOG_INFO);
	wgx_log(WGX_LOG_WARN, "run", "refused %s", "mallory\r\n{\"x\":1}");
	rewind(f);
	CHECK(fgets(buf, sizeof(buf), f) &&
	      !strcmp(buf, "wgxdp run: installed eve?wgxdp run: installed root?[2J\n"),
	      "one human line, control characters as '?': %s", buf);
	CHECK(fgets(buf, sizeof(buf), f) != NULL, "the JSON line");
	o = json_loads(buf, 0, NULL);
	CHECK(o && !strcmp(json_string_value(json_object_get(o, "level")), "warn") &&
	      !strcmp(json_string_value(json_object_get(o, "component")), "run") &&
	      !strcmp(json_string_value(json_object_get(o, "msg")), "refused mallory??{\"x\":1}") &&
	      json_object_get(o, "time"), "JSON fields: %s", buf);
	CHECK(!fgets(buf, sizeof(buf), f), "nothing else (debug was filtered)");
	json_decref(o);
	fclose(f);
	wgx_log_setup(fopen("/dev/null", "w"), WGX_LOG_HUMAN, WGX_LOG_DEBUG);
}

int main(void)
{
	wgx_log_setup(fopen("/dev/null", "w"), WGX_LOG_HUMAN, WGX_LOG_DEBUG);
	if (wgi_keypair(resp_priv, resp_pub) || wgx_noise_init(&noise, resp_priv)) {
		fprintf(stderr, "test_jitd: OpenSSL X25519 failed\n");
		return 1;
	}
	test_admission();
	test_lifecycle();
	test_lifecycle_enforce();
	test_removal_rule();
	test_reinject_check();
	test_log();
	wgx_noise_free(&noise);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
