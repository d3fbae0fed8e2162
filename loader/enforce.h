/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Per-user enforcement on the WireGuard interface (issue 8): the policy compiled into the
 * tunnel programs' maps (maps/wgxdp.h, the tunnel section) and read back from them.
 * Library code: 0 or a negative errno, never prints; -EINVAL and a few others come with
 * where and why in struct wgx_policy_err.
 *
 * Compiling. Users with the same set of groups share a policy id (policy_id = (generation &
 * 0xffff) << 16 | set index, set indexes in order of the set's first user). Each set gets,
 * per family and direction (allow: keyed by destination; inbound: keyed by remote source),
 * one LPM trie whose entry for each distinct rule prefix holds the union of the rules of
 * every rule prefix covering it (itself included), so the longest match alone decides. A
 * rule another rule of the entry covers is dropped (tcp/22 beside tcp any port; anything
 * beside proto any), so an entry under an allow-everything prefix is that one rule. A family
 * without a rule in the set has no trie at all: its packets are denied.
 *
 * Rule scan (what the BPF program does with the entry of the longest match): the first
 * rule r of rules[0..nr) with (r.proto == 0 || r.proto == proto) && ((r.flags &
 * WGX_RULE_F_ANY_PORT) || (r.port_lo <= port && port <= r.port_hi)) admits the packet
 * (port: the destination port, host order; 0 for protocols without ports). Rules are kept
 * in (group_id, rule_idx) order. wgx_enforce_rules_match() is that scan.
 *
 * Ids. group_id = index of the group in the policy (wgx_tun_groups); rule_idx = index in its
 * allow or inbound list. user_id = index of the user in the list apply was given (the file's
 * users in file order, then the extra users in order): the same policy gives the same ids.
 * Users added later by wgx_enforce_user_set() get the next free ids.
 */
#ifndef WGXDP_ENFORCE_H
#define WGXDP_ENFORCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "loader/policy.h"
#include "maps/wgxdp.h"

/* ---- compiling (pure: no maps) ---- */

/* One entry of an inner trie: the prefix (family, plen, addr) and the rules of its match. */
struct wgx_enforce_entry {
	struct wgx_prefix key;		/* proto and ports unused */
	struct wgx_tun_rules rules;
};

struct wgx_enforce_trie {
	struct wgx_enforce_entry *entries;	/* sorted by address, then prefix length */
	size_t nr;
};

/*
 * The trie of family (4 or 6) of the group set group_ids[0..nr_groups) (indexes into
 * p->groups), from their allow rules or (inbound) their inbound rules. O(n log n) in the
 * rules. 0 (out->nr == 0: no entry for the family); -EINVAL with err when an entry would hold
 * more than WGX_TUN_MAX_RULES rules (err names the prefix and the groups); -ENOMEM.
 */
int wgx_enforce_compile(const struct wgx_policy *p, const unsigned int *group_ids,
			unsigned int nr_groups, uint8_t family, bool inbound,
			struct wgx_enforce_trie *out, struct wgx_policy_err *err);
void wgx_enforce_trie_free(struct wgx_enforce_trie *t);

/* "tcp", "udp", "sctp", "icmp", "icmpv6", "any" (0), else the number, in buf. */
const char *wgx_proto_name(uint8_t proto, char *buf, size_t len);

/* The rule scan above: the index of the admitting rule in r->rule[], or -1. */
int wgx_enforce_rules_match(const struct wgx_tun_rules *r, uint8_t proto, uint16_t port);

/* ---- the maps ---- */

enum wgx_enforce_map {
	WGX_EM_ADDR4,		/* wgx_tun_addr4 */
	WGX_EM_ADDR6,
	WGX_EM_NET4,		/* wgx_tun_net4 */
	WGX_EM_NET6,
	WGX_EM_POL4,		/* wgx_tun_pol4 (outer) */
	WGX_EM_POL6,
	WGX_EM_IN4,		/* wgx_tun_in4 (outer) */
	WGX_EM_IN6,
	WGX_EM_NAMES,		/* wgx_tun_names */
	WGX_EM_GROUPS,		/* wgx_tun_groups */
	WGX_EM_PSETS,		/* wgx_tun_psets */
	WGX_EM_CFG,		/* wgx_tun_cfg */
	WGX_EM__MAX,
};

/* The pinned names, by enum wgx_enforce_map (<pin_dir>/tunnel/<name>). */
extern const char *const wgx_enforce_map_names[WGX_EM__MAX];

/*
 * How the BPF object declares these maps (the BPF side must match it: key and value sizes
 * and types are checked at open). Inner tries: BPF_MAP_TYPE_LPM_TRIE, BPF_F_NO_PREALLOC, key
 * struct wgx_lpm4/6, value struct wgx_tun_rules, max_entries WGX_TUN_MAX_PREFIXES.
 *   ADDR4/6  HASH          key __be32 / struct wgx_in6, value struct wgx_tun_user, max USERS
 *   NET4/6   LPM_TRIE      key struct wgx_lpm4/6, value struct wgx_tun_user, max NETS,
 *                          BPF_F_NO_PREALLOC
 *   POL, IN  HASH_OF_MAPS  key __u32 policy_id, max POLICIES, inner trie as above
 *   NAMES    HASH          key __u32 user_id, value struct wgx_tun_name, max USERS
 *   GROUPS   HASH          key __u32 group_id, value struct wgx_tun_group, max 65536
 *   PSETS    HASH          key __u32 policy_id, value struct wgx_tun_pset, max POLICIES
 *   CFG      ARRAY         key __u32, value struct wgx_tun_cfg, 1 entry
 */
#define WGX_TUN_MAX_GROUPS	65536

struct wgx_enforce_fds {
	int fd[WGX_EM__MAX];
};

/*
 * Test helper: creates every map above with bpf_map_create (as root), exactly as declared.
 * 0 and fds->fd[] (close with wgx_enforce_fds_close); -errno.
 */
int wgx_enforce_create_maps(struct wgx_enforce_fds *fds);
void wgx_enforce_fds_close(struct wgx_enforce_fds *fds);

struct wgx_enforce;

/*
 * Opens the maps pinned under <pin_dir>/tunnel/. -ENOENT: the tunnel is not attached;
 * -EPROTO: a map is not what maps/wgxdp.h declares (err says which). The daemon keeps one
 * open for its lifetime (it remembers the compiled sets for wgx_enforce_user_set).
 */
int wgx_enforce_open(const char *pin_dir, struct wgx_enforce **out, struct wgx_policy_err *err);
/* The same on given maps (dup'ed: the caller keeps its fds). */
int wgx_enforce_from_fds(const struct wgx_enforce_fds *fds, struct wgx_enforce **out,
			 struct wgx_policy_err *err);
void wgx_enforce_close(struct wgx_enforce *e);

/*
 * Which maps: the kernel's id of wgx_tun_cfg, new at every attach. When
 * wgx_enforce_maps_id(pin_dir) differs from wgx_enforce_id(e) the tunnel was detached and
 * attached again: open again and re-apply. wgx_enforce_maps_id: 0 or -ENOENT / -errno.
 */
int wgx_enforce_maps_id(const char *pin_dir, uint32_t *id);
uint32_t wgx_enforce_id(const struct wgx_enforce *e);

/*
 * A whole new policy: p's users and the extra users (extra[i]->groups: indexes into
 * p->groups, or, when NULL, extra[i]->group_names resolved against p). Atomic: new inner
 * tries under new policy ids; psets, groups and names written; every user's address entry
 * switched (each update atomic); users no longer present removed after that; cfg set
 * (policy_loaded, generation + 1, loaded_ns); the old generation's tries and psets deleted.
 * Any failure before the switch is complete leaves the old policy in force, its entries
 * restored, the new tries deleted. 0; -EINVAL (err: a compile error, a duplicate user or
 * address, an unknown group of an extra user); -E2BIG (err: over a limit of maps/wgxdp.h);
 * -errno from the kernel (err: which map).
 */
int wgx_enforce_apply(struct wgx_enforce *e, const struct wgx_policy *p,
		      const struct wgx_user *const *extra, unsigned int nr_extra,
		      struct wgx_policy_err *err);

/*
 * Spare sets: empty inner tries already in the outer maps under unused policy ids of the
 * current generation. wgx_enforce_user_set() fills one for a user with a new set of groups,
 * which costs map updates only: inserting into a map of maps waits for an RCU grace period
 * (10-25 ms here). Apply leaves WGX_ENFORCE_SPARE_SETS of them; the daemon refills them
 * from its timer. 0 or -errno (and then user_set inserts the slow way).
 */
#define WGX_ENFORCE_SPARE_SETS	4
int wgx_enforce_refill(struct wgx_enforce *e);

/*
 * One user added or changed (before its peer is installed): its groups (as for extra users
 * of apply, against p, which must be the policy last applied: -ESTALE otherwise) get the
 * policy id of the current generation's set with the same groups, or a new set compiled
 * now. The user keeps its user id if its name is known (else the next free one); addresses
 * it no longer has are removed after the new ones are in. -EADDRINUSE (err): an address of
 * another user. -ENODATA: no policy applied yet.
 */
int wgx_enforce_user_set(struct wgx_enforce *e, const struct wgx_policy *p,
			 const struct wgx_user *u, struct wgx_policy_err *err);
/* Removes the user's address entries and name (after its peer is removed). -ENOENT. */
int wgx_enforce_user_del(struct wgx_enforce *e, const char *name);

/* ---- reading back ---- */

enum wgx_explain_verdict {
	WGX_EX_ALLOWED = 0,
	WGX_EX_NO_POLICY,	/* cfg.policy_loaded is 0: every packet dropped */
	WGX_EX_UNKNOWN_USER,	/* no such user name or tunnel address */
	WGX_EX_NO_FAMILY,	/* the user's groups have no rule for the family */
	WGX_EX_NO_PREFIX,	/* no prefix of the user's groups covers the address */
	WGX_EX_NO_RULE,		/* a prefix covers it, but no rule admits proto and port */
};

struct wgx_explain {
	enum wgx_explain_verdict verdict;
	char why[192];			/* one line, e.g. "denied: no rule for IPv6" */
	char user[48];
	uint32_t user_id, policy_id;
	/*
	 * The trie entry that matched: its prefix is the widest prefix of the address whose
	 * lookup gives the same entry (the entry's own prefix unless an entry covering it
	 * holds the very same rules, as under an allow-everything prefix).
	 */
	bool matched;
	struct wgx_prefix entry;	/* family, plen, addr */
	struct wgx_tun_rules rules;
	int rule;			/* index in rules.rule[] that admits it, or -1 */
	char group[64];			/* name of rules.rule[rule].group_id */
};

/*
 * The verdict the tunnel programs give a packet, computed from the live maps as they do
 * (the user's entry, the LPM lookup in its trie, the rule scan). who: a user name or a
 * tunnel address of the user; addr: the other end (a host, family 4 or 6); inbound: a
 * packet from addr to the user opening a connection (port: the user's port), else from the
 * user to addr (port: addr's). 0 with out filled (allowed or not); -errno on a map error.
 */
int wgx_enforce_explain(struct wgx_enforce *e, const char *who, const struct wgx_prefix *addr,
			uint8_t proto, uint16_t port, bool inbound, struct wgx_explain *out);

struct wgx_enforce_user_info {
	uint32_t user_id, policy_id;
	struct wgx_tun_name name;
	struct wgx_prefix *addresses;
	unsigned int nr_addresses;
};

struct wgx_enforce_set_info {
	uint32_t policy_id;
	struct wgx_tun_pset pset;
	unsigned int nr_users;
	uint32_t entries[4];		/* trie entries: allow 4, 6, inbound 4, 6 */
	bool present[4];		/* whether that trie exists */
};

struct wgx_enforce_state {
	struct wgx_tun_cfg cfg;
	struct wgx_enforce_user_info *users;	/* by user id */
	unsigned int nr_users;
	struct wgx_enforce_set_info *sets;	/* by policy id */
	unsigned int nr_sets;
	char (*groups)[64];			/* by group id, "" if none */
	unsigned int nr_groups;
};

/* What the maps hold now, for `wgxdp policy show`. 0 or -errno. */
int wgx_enforce_dump(struct wgx_enforce *e, struct wgx_enforce_state **out);
/* The same without the tries' entry counts (sets[].entries and present stay 0): users, their
 * policy ids, the sets' groups and the group names, for what is counted by group. */
int wgx_enforce_dump_users(struct wgx_enforce *e, struct wgx_enforce_state **out);
/* The groups policy_id stands for in s, or NULL. */
const struct wgx_tun_pset *wgx_enforce_state_pset(const struct wgx_enforce_state *s,
						  uint32_t policy_id);
void wgx_enforce_state_free(struct wgx_enforce_state *s);

#endif /* WGXDP_ENFORCE_H */
