/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The policy: groups with their allowed destinations, users with keys, tunnel addresses,
 * groups, expiry. Parsed from the JSON policy file (jansson) or one user object from the
 * peer API. Never prints: errors come back as text in struct wgx_policy_err.
 */
#ifndef WGXDP_POLICY_H
#define WGXDP_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include "loader/noise.h"

struct wgx_prefix {
	uint8_t family;		/* 4 or 6 */
	uint8_t plen;
	uint8_t proto;		/* 0 = any, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP... */
	uint8_t pad;
	uint16_t port_lo;	/* 0..65535; both 0 = any port */
	uint16_t port_hi;
	uint8_t addr[16];	/* network order; IPv4 in the first 4 bytes; host bits zero */
};

/*
 * Names go into logs, status output and the pinned per-peer record, so they are restricted
 * (hole 10): bytes of [A-Za-z0-9._@+-] only, the first not '-' or '.'; a user name 1..47
 * bytes (the pinned record keeps 48 with the NUL), a group name 1..63 bytes. A name with a
 * control character, a space, a quote or UTF-8 is refused, with where and why.
 */
#define WGX_USER_NAME_MAX	47
#define WGX_GROUP_NAME_MAX	63

struct wgx_group {
	char *name;
	struct wgx_prefix *allow;
	unsigned int nr_allow;
};

struct wgx_user {
	char *name;
	uint8_t public_key[WG_KEY_LEN];
	bool has_psk;
	uint8_t psk[WG_KEY_LEN];
	struct wgx_prefix *addresses;	/* tunnel addresses: the peer's allowed IPs */
	unsigned int nr_addresses;
	unsigned int *groups;		/* indexes into policy->groups */
	unsigned int nr_groups;
	char **group_names;		/* for a user from the peer API: names, resolved late */
	time_t expires;			/* 0 = never */
	bool disabled;
};

struct wgx_policy {
	struct wgx_group *groups;
	unsigned int nr_groups;
	struct wgx_user *users;
	unsigned int nr_users;
	void *index;			/* public key -> user, private to policy.c */
};

struct wgx_policy_err {
	char where[128];		/* e.g. "users[3].addresses[1]" or "line 12, column 4" */
	char why[256];
};

/* 0 and *out on success; -EINVAL (err filled) on a bad file; -errno on I/O. */
int wgx_policy_load_file(const char *path, struct wgx_policy **out, struct wgx_policy_err *err);
int wgx_policy_load_string(const char *json, struct wgx_policy **out,
			   struct wgx_policy_err *err);
void wgx_policy_free(struct wgx_policy *p);

/*
 * The same, collecting up to max_errs problems into errs[] (one per bad field; a broken
 * JSON text or top level is one). *nr_errs: how many problems were found in all, which may
 * be more than max_errs.
 */
int wgx_policy_load_file_errs(const char *path, struct wgx_policy **out,
			      struct wgx_policy_err *errs, unsigned int max_errs,
			      unsigned int *nr_errs);
int wgx_policy_load_string_errs(const char *json, struct wgx_policy **out,
				struct wgx_policy_err *errs, unsigned int max_errs,
				unsigned int *nr_errs);

const struct wgx_user *wgx_policy_find(const struct wgx_policy *p,
				       const uint8_t public_key[WG_KEY_LEN]);

/*
 * Parse one user object (the peer API's answer); groups resolved against p if non-NULL
 * (an unknown group is then an error), else only kept as names. group_names is set for
 * users from here only; a policy file's users have groups[] (use p->groups[i].name).
 */
int wgx_user_from_json(const char *json, const struct wgx_policy *p, struct wgx_user **out,
		       struct wgx_policy_err *err);
void wgx_user_free(struct wgx_user *u);

/* Why a user may not have a peer right now: NULL if it may. */
const char *wgx_user_denied(const struct wgx_user *u, time_t now);

/*
 * "10.0.0.0/8", "fd00::/48"; no "/len" is a host (/32, /128). 0; -EINVAL not a prefix;
 * -EDOM host bits set (*out then holds the network, with them cleared, for a hint).
 */
int wgx_prefix_parse(const char *s, struct wgx_prefix *out);
void wgx_prefix_format(const struct wgx_prefix *p, char *buf, size_t len);

#endif /* WGXDP_POLICY_H */
