/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The managed peers' lifecycle: the one module that changes the WireGuard device and the
 * daemon's record of what it installed (wgx_peers), and keeps the two consistent: install,
 * remove, reconcile (the sweep). Later the per-user policy maps join here, so that a user's
 * rules go in before their peer and out after it.
 *
 * Install checks against the device as it is at that moment, not a snapshot: a peer someone
 * added by hand is never overwritten (-EEXIST), and a user whose tunnel addresses overlap any
 * other peer's allowed IPs gets no peer (-EADDRINUSE), since WireGuard would move the prefix
 * away from its holder. A peer's keepalive is cleared with WireGuard's update-only flag, so a
 * peer removed by hand in the meantime is not created again.
 * Device access goes through struct wgx_dev_ops so that unit tests can drive every decision.
 * Logs what it does (wgx_log, component "run").
 */
#ifndef WGXDP_LIFECYCLE_H
#define WGXDP_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "loader/enforce.h"
#include "loader/policy.h"
#include "loader/wgdev.h"
#include "maps/wgxdp.h"

struct wgx_dev_ops {
	int (*get)(void *ctx, const char *ifname, struct wgx_wg_device **out);
	int (*set)(void *ctx, const char *ifname, const struct wgx_wg_peer *peers,
		   unsigned int nr);
	int (*remove)(void *ctx, const char *ifname, const uint8_t (*keys)[WG_KEY_LEN],
		      unsigned int nr);
	void *ctx;
};
/* The real device (wgx_wg_get_device, wgx_wg_set_peers, wgx_wg_remove_peers). */
extern const struct wgx_dev_ops wgx_dev_ops_real;

enum wgx_removal {
	WGX_KEEP = 0,
	WGX_REMOVE_IDLE,
	WGX_REMOVE_POLICY,	/* left the policy, disabled, expired */
	WGX_REMOVE_API,		/* the peer API no longer knows the user */
};

struct wgx_lifecycle {
	char ifname[16];
	const struct wgx_dev_ops *dev;
	int peers_fd;			/* wgx_peers */
	struct wgx_jit_stats *st;	/* counters it updates */
	unsigned int idle_timeout;	/* seconds, for new records */
	bool keepalive;			/* install with a persistent keepalive */
	uint8_t (*keys)[WG_KEY_LEN];	/* every peer on the device at the last look, sorted */
	unsigned int nr_keys;
	unsigned int nr_managed;	/* our peers on the device: at the last sweep, + installs */
	/*
	 * The tunnel's policy maps (NULL: not attached) and the policy last applied to them: a
	 * peer API user's rules go in before the peer, and out after it. enf_policy NULL (the
	 * last apply failed): no new rules go in, a removed user's still go out.
	 */
	struct wgx_enforce *enf;
	const struct wgx_policy *enf_policy;
	/*
	 * called after a managed peer left the device; reason: "idle", "policy" (left the
	 * policy, disabled, expired), "api" (the peer API dropped the user), "gone" (removed
	 * by someone else)
	 */
	void (*removed)(void *ctx, const struct wgx_peer_key *k, const struct wgx_peer_rec *r,
			const char *reason);
	void *removed_ctx;
};

int wgx_lc_init(struct wgx_lifecycle *lc, const char *ifname, const struct wgx_dev_ops *dev,
		int peers_fd, struct wgx_jit_stats *st, unsigned int idle_timeout, bool keepalive);
void wgx_lc_free(struct wgx_lifecycle *lc);

/* Had the device a peer with this key at the last look (install or sweep)? */
bool wgx_lc_on_device(const struct wgx_lifecycle *lc, const uint8_t pub[WG_KEY_LEN]);
/* Our record of a managed peer: 0, or -ENOENT if we did not install it. */
int wgx_lc_record(const struct wgx_lifecycle *lc, const uint8_t pub[WG_KEY_LEN],
		  struct wgx_peer_rec *rec);

/*
 * Install u's peer with endpoint (family, addr, port network order), recording it in
 * wgx_peers with from_api in its flags. 0; -EEXIST the device has that key now; -EADDRINUSE
 * an address overlaps another peer (why says which); other -errno the device refused.
 */
int wgx_lc_install(struct wgx_lifecycle *lc, const struct wgx_user *u, bool from_api,
		   int family, const uint8_t addr[16], uint16_t port_be, char *why,
		   size_t whylen);

/*
 * Why a managed peer should go now (pure; the sweep's rule):
 *   u: the user as the policy source knows it now, NULL if it does not (left the policy
 *      file, or the API no longer knows it); api: u came from the API (or r is an API
 *      user whose revalidation is not due, u NULL and api true: only expiry and idleness).
 *   last_handshake_s: the device's, 0 = never.
 * Returns WGX_KEEP or the kind of removal, *why a human reason.
 */
enum wgx_removal wgx_lc_removal(const struct wgx_peer_rec *r, const struct wgx_user *u,
				bool api, uint64_t last_handshake_s, uint64_t now_s,
				const char **why);

/*
 * The sweep's judge: the decision for one managed peer. It may change *r (the user's new
 * expiry after a revalidation, say) and sets *changed to have it written back.
 */
typedef enum wgx_removal (*wgx_lc_judge_fn)(void *ctx, const struct wgx_peer_key *k,
					     struct wgx_peer_rec *r, const struct wgx_wg_peer *p,
					     uint64_t now_s, const char **why, bool *changed);

/*
 * Compare the device with wgx_peers: forget records whose peer is gone, clear the keepalive
 * once a handshake happened, remove the peers judge says must go, refresh the key snapshot.
 * adopt: the first sweep after start (counts what it finds again). 0 or -errno (the device
 * could not be read; nothing changed).
 */
int wgx_lc_sweep(struct wgx_lifecycle *lc, uint64_t now_s, bool adopt, wgx_lc_judge_fn judge,
		 void *ctx);

#endif /* WGXDP_LIFECYCLE_H */
