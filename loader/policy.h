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

/*
 * allow: destinations the group's users may open connections to (port: the destination's).
 * inbound: remote sources allowed to open connections to the group's users (port: the
 * user's destination port). Both in file order: a rule's index is its rule_idx.
 */
struct wgx_group {
	char *name;
	struct wgx_prefix *allow;
	unsigned int nr_allow;
	struct wgx_prefix *inbound;
	unsigned int nr_inbound;
};

struct wgx_user {
	char *name;
	uint8_t public_key[WG_KEY_LEN];
	bool has_psk;
	uint8_t psk[WG_KEY_LEN];
	struct wgx_prefix *addresses;	/* tunnel addresses: the peer's allowed IPs */
	unsigned int nr_addresses;
	unsigned int *groups;		/* indexes into policy->groups (at most 31) */
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
	void *addr_index;		/* tunnel addresses, sorted; private to policy.c */
};

/*
 * How wide a tunnel address (a user's "addresses") may be (hole 4): an IPv4 prefix at least
 * /min_plen4, an IPv6 one at least /min_plen6; a wider one, e.g. 0.0.0.0/0, is an error.
 * Group "allow" prefixes are not limited. The daemon may raise the limit (lower min_plen).
 */
struct wgx_addr_limits {
	uint8_t min_plen4;
	uint8_t min_plen6;
};

#define WGX_ADDR_LIMITS_DEFAULT ((struct wgx_addr_limits){ .min_plen4 = 24, .min_plen6 = 64 })

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
/*
 * The same with the tunnel address limits lim (NULL: WGX_ADDR_LIMITS_DEFAULT, which the
 * functions above use). Users' addresses never overlap, within a user or across users.
 */
int wgx_policy_load_file_opts(const char *path, const struct wgx_addr_limits *lim,
			      struct wgx_policy **out, struct wgx_policy_err *errs,
			      unsigned int max_errs, unsigned int *nr_errs);
int wgx_policy_load_string_opts(const char *json, const struct wgx_addr_limits *lim,
				struct wgx_policy **out, struct wgx_policy_err *errs,
				unsigned int max_errs, unsigned int *nr_errs);

const struct wgx_user *wgx_policy_find(const struct wgx_policy *p,
				       const uint8_t public_key[WG_KEY_LEN]);

/*
 * Parse one user object (the peer API's answer); groups resolved against p if non-NULL
 * (an unknown group is then an error), else only kept as names. group_names is set for
 * users from here only; a policy file's users have groups[] (use p->groups[i].name).
 */
int wgx_user_from_json(const char *json, const struct wgx_policy *p, struct wgx_user **out,
		       struct wgx_policy_err *err);
/*
 * The same with the tunnel address limits lim (NULL: the default, as above). -ENOENT (err
 * filled) when what is wrong is a group p does not have; -EINVAL for anything else.
 */
int wgx_user_from_json_opts(const char *json, const struct wgx_policy *p,
			    const struct wgx_addr_limits *lim, struct wgx_user **out,
			    struct wgx_policy_err *err);
void wgx_user_free(struct wgx_user *u);

/*
 * The groups of the peer API's GET URL/groups: {"groups": {...}}, the policy file's groups
 * object, checked the same way; users are not allowed there. A policy with no users.
 */
int wgx_policy_groups_from_json(const char *json, const struct wgx_addr_limits *lim,
				struct wgx_policy **out, struct wgx_policy_err *err);

/* Why a user may not have a peer right now: NULL if it may. */
const char *wgx_user_denied(const struct wgx_user *u, time_t now);

/*
 * "10.0.0.0/8", "fd00::/48"; no "/len" is a host (/32, /128). 0; -EINVAL not a prefix;
 * -EDOM host bits set (*out then holds the network, with them cleared, for a hint).
 */
int wgx_prefix_parse(const char *s, struct wgx_prefix *out);
void wgx_prefix_format(const struct wgx_prefix *p, char *buf, size_t len);

/* Whether a and b share an address: same family and one contains the other. */
bool wgx_prefix_overlap(const struct wgx_prefix *a, const struct wgx_prefix *b);

/*
 * The first user of p other than the one with public key except_key (NULL: none excepted)
 * with a tunnel address overlapping a (a network: host bits zero), or NULL. O(log n) for a
 * policy from the load functions (its addresses are sorted and never overlap).
 */
const struct wgx_user *wgx_policy_addr_owner(const struct wgx_policy *p,
					     const struct wgx_prefix *a, const uint8_t *except_key);

#endif /* WGXDP_POLICY_H */
