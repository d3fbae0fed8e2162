// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * wgxdp run: the just-in-time peer daemon. Reads handshake initiations from the uplink ring
 * buffer, recovers the initiator's static key (Noise IK, first message), looks the user up
 * in the policy (file, or peer API) and installs the peer at once with the initiation's
 * source as endpoint, then hands the initiation to WireGuard again so that it answers the
 * client's first attempt. Removes idle, expired, disabled and removed users' peers. The set of
 * peers it installed lives in the pinned map wgx_peers, so a restart adopts them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <bpf/bpf.h>

#include "loader/jit.h"
#include "loader/noise.h"
#include "loader/policy.h"
#include "loader/uplink.h"
#include "loader/wgdev.h"
#include "tools/wgxdp.h"

#define KEEPALIVE_S		25	/* --answer keepalive: the gateway initiates at once */
#define UNKNOWN_TTL_NS		(60ull * 1000000000ull)
#define SWEEP_MS		1000

struct daemon {
	const char *wg_ifname, *policy_path, *api_url, *pin_dir;
	unsigned int idle_timeout, rate, burst, api_rate;
	struct wgx_noise noise;
	uint16_t listen_port;
	struct wgx_policy *policy;
	struct wgx_events *events;
	struct wgx_jit_maps maps;
	struct wgx_jit_stats st;
	struct wgx_table *rl, *unknown_ep, *unknown_key;
	uint64_t api_tokens, api_last;	/* the peer API's token bucket (tokens * 1e9) */
	/* device snapshot from the last sweep: keys of every peer (ours or not) */
	uint8_t (*dev_keys)[WG_KEY_LEN];
	unsigned int nr_dev_keys;
	bool stats_dirty;
	enum { ANSWER_REINJECT, ANSWER_KEEPALIVE, ANSWER_NONE } answer;
	int raw4, raw6;		/* for ANSWER_REINJECT */
};

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "wgxdp run: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int keycmp(const void *a, const void *b)
{
	return memcmp(a, b, WG_KEY_LEN);
}

static bool dev_has(const struct daemon *d, const uint8_t key[WG_KEY_LEN])
{
	return d->nr_dev_keys &&
	       bsearch(key, d->dev_keys, d->nr_dev_keys, WG_KEY_LEN, keycmp) != NULL;
}

/* The keys of every peer on the device (ours or not), from a device sorted by key. */
static void snapshot(struct daemon *d, const struct wgx_wg_device *dev)
{
	unsigned int i;

	free(d->dev_keys);
	d->dev_keys = NULL;
	d->nr_dev_keys = 0;
	if (!dev->nr_peers)
		return;
	d->dev_keys = malloc((size_t)dev->nr_peers * WG_KEY_LEN);
	if (!d->dev_keys)
		return;
	for (i = 0; i < dev->nr_peers; i++)
		memcpy(d->dev_keys[i], dev->peers[i].public_key, WG_KEY_LEN);
	d->nr_dev_keys = dev->nr_peers;
}

/* Where key is, or would go, in the sorted snapshot. */
static unsigned int dev_pos(const struct daemon *d, const uint8_t key[WG_KEY_LEN])
{
	unsigned int lo = 0, hi = d->nr_dev_keys;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (memcmp(d->dev_keys[mid], key, WG_KEY_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void dev_add(struct daemon *d, const uint8_t key[WG_KEY_LEN])
{
	uint8_t(*k)[WG_KEY_LEN];
	unsigned int at;

	k = realloc(d->dev_keys, ((size_t)d->nr_dev_keys + 1) * WG_KEY_LEN);
	if (!k)
		return;
	d->dev_keys = k;
	at = dev_pos(d, key);
	memmove(d->dev_keys[at + 1], d->dev_keys[at], (size_t)(d->nr_dev_keys - at) * WG_KEY_LEN);
	memcpy(d->dev_keys[at], key, WG_KEY_LEN);
	d->nr_dev_keys++;
}

static void dev_remove(struct daemon *d, const uint8_t key[WG_KEY_LEN])
{
	unsigned int at = dev_pos(d, key);

	if (at == d->nr_dev_keys || memcmp(d->dev_keys[at], key, WG_KEY_LEN))
		return;
	memmove(d->dev_keys[at], d->dev_keys[at + 1],
		(size_t)(d->nr_dev_keys - at - 1) * WG_KEY_LEN);
	d->nr_dev_keys--;
}

/* One token bucket for all peer API calls: api_rate per second, burst api_rate. */
static bool api_allow(struct daemon *d, uint64_t now)
{
	const uint64_t one = 1000000000ull, cap = (uint64_t)d->api_rate * one;

	if (!d->api_last)
		d->api_tokens = cap;
	else if (now > d->api_last)
		d->api_tokens += (now - d->api_last) * d->api_rate;
	if (d->api_tokens > cap)
		d->api_tokens = cap;
	d->api_last = now;
	if (d->api_tokens < one)
		return false;
	d->api_tokens -= one;
	return true;
}

/* The peer API: one user object per key; 404 is unknown. Rate-limited. */
static int api_lookup(struct daemon *d, const uint8_t pub[WG_KEY_LEN], struct wgx_user **out)
{
	struct wgx_policy_err perr = {};
	char k64[45], *body = NULL;
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	int status, err;

	if (!api_allow(d, now))
		return -EBUSY;
	wgx_key_to_base64url(k64, pub);
	err = wgx_http_get(d->api_url, k64, 2000, &status, &body);
	if (err) {
		logf_("peer API %s: %s", d->api_url, strerror(-err));
		return err;
	}
	if (status == 404) {
		free(body);
		return -ENOENT;
	}
	if (status != 200) {
		logf_("peer API %s/%s: HTTP %d", d->api_url, k64, status);
		free(body);
		return -EPROTO;
	}
	err = wgx_user_from_json(body, d->policy, out, &perr);
	free(body);
	if (err) {
		logf_("peer API %s/%s: %s: %s", d->api_url, k64, perr.where, perr.why);
		return -EPROTO;
	}
	if (memcmp((*out)->public_key, pub, WG_KEY_LEN)) {
		logf_("peer API %s/%s: answered for another key", d->api_url, k64);
		wgx_user_free(*out);
		return -EPROTO;
	}
	return 0;
}

static int install(struct daemon *d, const struct wgx_user *u, const struct wgx_hs_event *ev)
{
	struct wgx_wg_peer p = {};
	struct wgx_peer_key key = {};
	struct wgx_peer_rec rec = {};
	char ep[64], k64[45];
	int err;

	memcpy(p.public_key, u->public_key, WG_KEY_LEN);
	p.has_psk = u->has_psk;
	memcpy(p.psk, u->psk, WG_KEY_LEN);
	if (ev->family == 6) {
		p.endpoint.in6.sin6_family = AF_INET6;
		memcpy(&p.endpoint.in6.sin6_addr, ev->saddr, 16);
		p.endpoint.in6.sin6_port = ev->sport;
	} else {
		p.endpoint.in4.sin_family = AF_INET;
		memcpy(&p.endpoint.in4.sin_addr, ev->saddr, 4);
		p.endpoint.in4.sin_port = ev->sport;
	}
	p.keepalive = d->answer == ANSWER_KEEPALIVE ? KEEPALIVE_S : 0;
	p.allowed = u->addresses;
	p.nr_allowed = u->nr_addresses;
	err = wgx_wg_set_peers(d->wg_ifname, &p, 1);
	wgx_fmt_endpoint(ep, sizeof(ep), ev->family, ev->saddr, ntohs(ev->sport));
	wgx_key_to_base64(k64, u->public_key);
	if (err) {
		d->st.install_errors++;
		logf_("install %s (%s) at %s on %s: %s", u->name, k64, ep, d->wg_ifname,
		      strerror(-err));
		return err;
	}
	memcpy(key.public_key, u->public_key, WG_KEY_LEN);
	snprintf(rec.user, sizeof(rec.user), "%s", u->name);
	snprintf(rec.wg_ifname, sizeof(rec.wg_ifname), "%s", d->wg_ifname);
	rec.wg_ifindex = if_nametoindex(d->wg_ifname);
	rec.flags = d->answer == ANSWER_KEEPALIVE ? WGX_PEER_F_KEEPALIVE : 0;
	rec.installed_ns = now_ns(CLOCK_REALTIME);
	rec.expires_s = u->expires;
	rec.idle_timeout_s = d->idle_timeout;
	rec.family = ev->family;
	rec.port = ev->sport;
	memcpy(rec.addr, ev->saddr, 16);
	if (bpf_map_update_elem(d->maps.peers_fd, &key, &rec, BPF_ANY))
		logf_("record %s in wgx_peers: %s (the peer is installed)", u->name,
		      strerror(errno));
	dev_add(d, u->public_key);
	d->st.installed++;
	/*
	 * Answer the client's own first attempt: hand its initiation to WireGuard again now that
	 * the peer exists. Had WireGuard not yet read the original, the copy is a replay of the
	 * same timestamp and is ignored; the gateway never initiates, so handshakes cannot cross.
	 */
	if (d->answer == ANSWER_REINJECT) {
		err = wgx_reinject(d->raw4, d->raw6, ev);
		if (err)
			logf_("re-inject the initiation of %s: %s (the client's retry gets in)",
			      u->name, strerror(-err));
	}
	logf_("installed %s (%s) at %s on %s", u->name, k64, ep, d->wg_ifname);
	return 0;
}

static int on_event(void *ctx, const struct wgx_hs_event *ev)
{
	struct daemon *d = ctx;
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	uint8_t pub[WG_KEY_LEN], tai[WG_TAI64N_LEN], epkey[16], pkey[16];
	struct wgx_user *api_user = NULL;
	const struct wgx_user *u = NULL;
	const char *why;
	int err;

	d->st.events++;
	d->stats_dirty = true;
	if (ntohs(ev->dport) != d->listen_port)
		return 0;	/* another WireGuard interface's port */
	if (!wgx_ratelimit_allow(d->rl, ev->family, ev->saddr, now, d->rate, d->burst)) {
		d->st.throttled++;
		return 0;
	}
	wgx_key_endpoint(epkey, ev->family, ev->saddr, ntohs(ev->sport));
	if (wgx_cache_has(d->unknown_ep, epkey, now)) {
		d->st.unknown_cached++;
		return 0;
	}
	/* mac1 first (cheap, no X25519), then the decryption */
	err = wgx_noise_consume_initiation(&d->noise, ev->msg, pub, tai);
	if (err == -EBADMSG) {
		d->st.bad_mac1++;
		return 0;
	} else if (err == -EKEYREJECTED) {
		d->st.bad_timestamp++;
		return 0;
	} else if (err) {
		d->st.not_for_us++;
		return 0;
	}
	if (dev_has(d, pub)) {
		d->st.existing++;	/* WireGuard answers it itself */
		return 0;
	}
	wgx_key_pubkey(pkey, pub);
	if (d->policy)
		u = wgx_policy_find(d->policy, pub);
	if (!u && d->api_url && !wgx_cache_has(d->unknown_key, pkey, now)) {
		err = api_lookup(d, pub, &api_user);
		if (!err) {
			u = api_user;
		} else if (err != -ENOENT) {
			d->st.api_errors++;
			return 0;
		}
	}
	if (!u) {
		d->st.unknown_key++;
		wgx_cache_put(d->unknown_ep, epkey, now, UNKNOWN_TTL_NS);
		wgx_cache_put(d->unknown_key, pkey, now, UNKNOWN_TTL_NS);
		return 0;
	}
	why = wgx_user_denied(u, time(NULL));
	if (why) {
		if (!strcmp(why, "disabled"))
			d->st.disabled++;
		else
			d->st.expired++;
	} else {
		install(d, u, ev);
	}
	wgx_user_free(api_user);
	return 0;
}

/* Why a managed peer should go now, or NULL. */
static const char *removal_reason(struct daemon *d, const struct wgx_peer_key *k,
				  const struct wgx_peer_rec *r, const struct wgx_wg_peer *p,
				  uint64_t now_s, bool *idle)
{
	const struct wgx_user *u = d->policy ? wgx_policy_find(d->policy, k->public_key) : NULL;
	uint64_t last = p->last_handshake_sec;
	const char *why;

	*idle = false;
	if (u) {
		why = wgx_user_denied(u, now_s);
		if (why)
			return why;
	} else if (!d->api_url) {
		return "left the policy";
	} else if (r->expires_s && (int64_t)now_s >= r->expires_s) {
		return "expired";
	}
	if (last < r->installed_ns / 1000000000ull)
		last = r->installed_ns / 1000000000ull;
	if (now_s > last + r->idle_timeout_s) {
		*idle = true;
		return "idle";
	}
	return NULL;
}

/*
 * Compare the device with wgx_peers: forget records whose peer is gone, clear the keepalive
 * once a handshake happened, remove idle peers and those the policy no longer allows.
 * adopt: first sweep after start (count what is found again).
 */
static int sweep(struct daemon *d, bool adopt)
{
	struct wgx_wg_device *dev = NULL;
	struct wgx_peer_key k, next, *gone = NULL;
	struct wgx_peer_rec r;
	uint8_t(*rm)[WG_KEY_LEN] = NULL;
	unsigned int nr_rm = 0, nr_gone = 0, i;
	uint64_t now_s = time(NULL);
	int err;

	err = wgx_wg_get_device(d->wg_ifname, &dev);
	if (err) {
		logf_("read %s: %s", d->wg_ifname, strerror(-err));
		return err;
	}
	wgx_wg_device_sort(dev);
	snapshot(d, dev);
	err = bpf_map_get_next_key(d->maps.peers_fd, NULL, &next);
	while (!err) {
		const struct wgx_wg_peer *p;
		const char *why;
		bool idle;

		k = next;
		err = bpf_map_get_next_key(d->maps.peers_fd, &k, &next);
		if (bpf_map_lookup_elem(d->maps.peers_fd, &k, &r) ||
		    strncmp(r.wg_ifname, d->wg_ifname, sizeof(r.wg_ifname)))
			continue;
		p = wgx_wg_device_find(dev, k.public_key);
		if (!p) {
			/* removed by someone else: forget it */
			void *g = realloc(gone, (nr_gone + 1) * sizeof(*gone));

			if (g) {
				gone = g;
				gone[nr_gone++] = k;
			}
			continue;
		}
		if (adopt)
			d->st.adopted++;
		why = removal_reason(d, &k, &r, p, now_s, &idle);
		if (why) {
			void *g = realloc(rm, (nr_rm + 1) * WG_KEY_LEN);

			if (!g)
				continue;
			rm = g;
			memcpy(rm[nr_rm++], k.public_key, WG_KEY_LEN);
			if (idle)
				d->st.removed_idle++;
			else
				d->st.removed_policy++;
			logf_("removing %s: %s", r.user, why);
			continue;
		}
		if ((r.flags & WGX_PEER_F_KEEPALIVE) && p->last_handshake_sec) {
			/* the session is up: no keepalive, so that idleness shows */
			struct wgx_wg_peer q = *p;

			q.keepalive = 0;
			q.has_psk = false;	/* unchanged */
			if (!wgx_wg_set_peers(d->wg_ifname, &q, 1)) {
				r.flags &= ~WGX_PEER_F_KEEPALIVE;
				bpf_map_update_elem(d->maps.peers_fd, &k, &r, BPF_EXIST);
			}
		}
	}
	if (nr_rm) {
		err = wgx_wg_remove_peers(d->wg_ifname, (const uint8_t(*)[WG_KEY_LEN])rm, nr_rm);
		if (err)
			logf_("remove %u peers from %s: %s", nr_rm, d->wg_ifname, strerror(-err));
		for (i = 0; i < nr_rm && !err; i++) {
			bpf_map_delete_elem(d->maps.peers_fd, rm[i]);
			dev_remove(d, rm[i]);
		}
	}
	for (i = 0; i < nr_gone; i++)
		bpf_map_delete_elem(d->maps.peers_fd, &gone[i]);
	if (nr_rm || nr_gone || adopt)
		d->stats_dirty = true;
	free(rm);
	free(gone);
	wgx_wg_device_free(dev);
	return 0;
}

static int load_policy(struct daemon *d, bool initial)
{
	struct wgx_policy_err perr = {};
	struct wgx_policy *p = NULL;
	int err;

	if (!d->policy_path)
		return 0;
	err = wgx_policy_load_file(d->policy_path, &p, &perr);
	if (err) {
		if (err == -EINVAL)
			logf_("%s %s: %s: %s%s", initial ? "policy" : "reload rejected:",
			      d->policy_path, perr.where, perr.why,
			      initial ? "" : "; the previous policy stays in force");
		else
			logf_("%s %s: %s%s", initial ? "policy" : "reload rejected:",
			      d->policy_path, strerror(-err),
			      initial ? "" : "; the previous policy stays in force");
		return err;
	}
	wgx_policy_free(d->policy);
	d->policy = p;
	logf_("policy %s: %u users, %u groups", d->policy_path, p->nr_users, p->nr_groups);
	return 0;
}

static int parse_uint(const char *opt, const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v > 1000000000ul) {
		wgx_err("run", "%s %s: expected a number", opt, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "wg", required_argument, NULL, 'w' },
		{ "policy", required_argument, NULL, 'p' },
		{ "peer-api", required_argument, NULL, 'a' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "api-rate", required_argument, NULL, 'A' },
		{ "answer", required_argument, NULL, 'N' },
		{}
	};
	struct daemon d = { .pin_dir = wgx_pin_dir_default(), .idle_timeout = 600, .rate = 20,
			    .burst = 5, .api_rate = 50, .maps = { -1, -1 }, .raw4 = -1, .raw6 = -1 };
	struct wgx_wg_device *dev = NULL;
	struct pollfd pfd[3];
	struct itimerspec its = { .it_interval = { SWEEP_MS / 1000, SWEEP_MS % 1000 * 1000000l },
				  .it_value = { SWEEP_MS / 1000, SWEEP_MS % 1000 * 1000000l } };
	sigset_t mask;
	int c, err, sfd = -1, tfd = -1, rc = 1;

	while ((c = getopt_long(argc, argv, "w:p:a:i:d:", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			d.wg_ifname = optarg;
			break;
		case 'p':
			d.policy_path = optarg;
			break;
		case 'a':
			d.api_url = optarg;
			break;
		case 'i':
			if (parse_uint("--idle-timeout", optarg, &d.idle_timeout))
				return 2;
			break;
		case 'r':
			if (parse_uint("--rate", optarg, &d.rate) || !d.rate)
				return 2;
			d.burst = d.rate < 5 ? d.rate : 5;
			break;
		case 'A':
			if (parse_uint("--api-rate", optarg, &d.api_rate) || !d.api_rate)
				return 2;
			break;
		case 'd':
			d.pin_dir = optarg;
			break;
		case 'N':
			if (!strcmp(optarg, "reinject")) {
				d.answer = ANSWER_REINJECT;
			} else if (!strcmp(optarg, "keepalive")) {
				d.answer = ANSWER_KEEPALIVE;
			} else if (!strcmp(optarg, "none")) {
				d.answer = ANSWER_NONE;
			} else {
				wgx_err("run", "--answer %s: expected reinject, keepalive or none",
					optarg);
				return 2;
			}
			break;
		default:
			return wgx_usage("run", stderr);
		}
	}
	if (optind != argc || !d.wg_ifname || (!d.policy_path && !d.api_url))
		return wgx_usage("run", stderr);
	if (d.api_url && wgx_http_url_check(d.api_url)) {
		wgx_err("run", "--peer-api %s: expected http://host[:port][/path]", d.api_url);
		return 2;
	}

	err = wgx_wg_get_device(d.wg_ifname, &dev);
	if (err) {
		wgx_err("run", "%s: %s", d.wg_ifname,
			err == -ENODEV ? "no such interface" :
			err == -EOPNOTSUPP ? "not a WireGuard interface" :
			err == -EPERM || err == -EACCES ? "permission denied (needs CAP_NET_ADMIN)" :
			strerror(-err));
		return 1;
	}
	err = wgx_noise_init(&d.noise, dev->private_key);
	d.listen_port = dev->listen_port;
	wgx_wg_device_free(dev);
	if (err) {
		wgx_err("run", "%s: no usable private key: %s", d.wg_ifname, strerror(-err));
		return 1;
	}
	if (load_policy(&d, true))
		goto out;
	err = wgx_jit_maps_open(d.pin_dir, &d.maps);
	if (!err)
		err = wgx_events_open(d.pin_dir, on_event, &d, &d.events);
	if (err) {
		wgx_err("run", "%s: %s", d.pin_dir, err == -ENOENT ?
			"nothing pinned: run wgxdp attach <uplink> first" : strerror(-err));
		goto out;
	}
	wgx_jit_stats_read(&d.maps, &d.st);
	if (d.answer == ANSWER_REINJECT) {
		err = wgx_reinject_open(&d.raw4, &d.raw6);
		if (err) {
			logf_("raw sockets: %s: answering with a keepalive instead", strerror(-err));
			d.answer = ANSWER_KEEPALIVE;
		}
	}
	d.rl = wgx_table_new(16);
	d.unknown_ep = wgx_table_new(16);
	d.unknown_key = wgx_table_new(16);
	if (!d.rl || !d.unknown_ep || !d.unknown_key) {
		wgx_err("run", "out of memory");
		goto out;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (sfd < 0 || tfd < 0 || timerfd_settime(tfd, 0, &its, NULL)) {
		wgx_err("run", "signalfd/timerfd: %s", strerror(errno));
		goto out;
	}
	{
		char pub[45];

		wgx_key_to_base64(pub, d.noise.pub);
		logf_("%s: public key %s, port %u, idle timeout %us, answer %s%s%s", d.wg_ifname,
		      pub, d.listen_port, d.idle_timeout,
		      d.answer == ANSWER_REINJECT ? "reinject" :
		      d.answer == ANSWER_KEEPALIVE ? "keepalive" : "none",
		      d.api_url ? ", peer API " : "", d.api_url ? d.api_url : "");
	}
	sweep(&d, true);
	if (d.st.adopted)
		logf_("adopted the peers installed before the restart (%llu in all)",
		      (unsigned long long)d.st.adopted);
	wgx_jit_stats_write(&d.maps, &d.st);

	pfd[0] = (struct pollfd){ .fd = wgx_events_fd(d.events), .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[2] = (struct pollfd){ .fd = tfd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			logf_("poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN)
			wgx_events_poll(d.events, 0);
		if (pfd[2].revents & POLLIN) {
			uint64_t n;

			if (read(tfd, &n, sizeof(n)) < 0)
				continue;
			sweep(&d, false);
		}
		if (d.stats_dirty) {
			wgx_jit_stats_write(&d.maps, &d.st);
			d.stats_dirty = false;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				if (!load_policy(&d, false))
					sweep(&d, false);
				continue;
			}
			logf_("%s: stopping; the installed peers stay (a restart adopts them)",
			      strsignal(si.ssi_signo));
			rc = 0;
			break;
		}
	}
out:
	if (d.maps.stats_fd >= 0)
		wgx_jit_stats_write(&d.maps, &d.st);
	if (sfd >= 0)
		close(sfd);
	if (d.raw4 >= 0)
		close(d.raw4);
	if (d.raw6 >= 0)
		close(d.raw6);
	if (tfd >= 0)
		close(tfd);
	wgx_events_close(d.events);
	wgx_jit_maps_close(&d.maps);
	wgx_policy_free(d.policy);
	wgx_noise_free(&d.noise);
	wgx_table_free(d.rl);
	wgx_table_free(d.unknown_ep);
	wgx_table_free(d.unknown_key);
	free(d.dev_keys);
	return rc;
}
