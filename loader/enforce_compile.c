// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A group set's rules compiled into the entries of one inner trie (enforce.h): every
 * distinct prefix with the union of the rules of the prefixes covering it. The rule
 * prefixes are sorted by address, then length, so a prefix's containers come before it;
 * one walk with a stack of the open containers gives each entry from its parent's: O(n log n).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/enforce.h"

struct rule_ref {
	const struct wgx_prefix *p;
	struct wgx_tun_rule rule;
};

static int ref_cmp(const void *a, const void *b)
{
	const struct rule_ref *x = a, *y = b;
	int r = memcmp(x->p->addr, y->p->addr, 16);

	if (r)
		return r;
	if (x->p->plen != y->p->plen)
		return x->p->plen - y->p->plen;
	if (x->rule.group_id != y->rule.group_id)
		return x->rule.group_id - y->rule.group_id;
	return x->rule.rule_idx - y->rule.rule_idx;
}

static bool contains(const struct wgx_prefix *outer, const struct wgx_prefix *inner)
{
	unsigned int i, bits;

	if (outer->plen > inner->plen)
		return false;
	for (i = 0; i < 16 && 8 * i < outer->plen; i++) {
		bits = outer->plen - 8 * i;
		if ((outer->addr[i] ^ inner->addr[i]) & (bits >= 8 ? 0xff : 0xff00 >> bits))
			return false;
	}
	return true;
}

static bool same_prefix(const struct wgx_prefix *a, const struct wgx_prefix *b)
{
	return a->plen == b->plen && !memcmp(a->addr, b->addr, 16);
}

static struct wgx_tun_rule to_rule(const struct wgx_prefix *p, unsigned int group,
				   unsigned int idx)
{
	struct wgx_tun_rule r = { .proto = p->proto, .group_id = group, .rule_idx = idx };

	if (!p->port_lo && !p->port_hi) {
		r.flags = WGX_RULE_F_ANY_PORT;
		r.port_hi = 65535;
	} else {
		r.port_lo = p->port_lo;
		r.port_hi = p->port_hi;
	}
	return r;
}

/* Whether every packet b admits, a admits too. */
static bool covers(const struct wgx_tun_rule *a, const struct wgx_tun_rule *b)
{
	if (a->proto && a->proto != b->proto)
		return false;
	if (a->flags & WGX_RULE_F_ANY_PORT)
		return true;
	return !(b->flags & WGX_RULE_F_ANY_PORT) && a->port_lo <= b->port_lo &&
	       b->port_hi <= a->port_hi;
}

static bool rule_before(const struct wgx_tun_rule *a, const struct wgx_tun_rule *b)
{
	return a->group_id < b->group_id ||
	       (a->group_id == b->group_id && a->rule_idx < b->rule_idx);
}

/*
 * The rules in[0..n) without those another one covers (of two equal ones the earlier stays),
 * in (group_id, rule_idx) order, into out (n slots); returns how many.
 */
static unsigned int reduce(const struct wgx_tun_rule *in, unsigned int n, struct wgx_tun_rule *out)
{
	unsigned int i, j, k = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++) {
			if (j == i || !covers(&in[j], &in[i]))
				continue;
			if (!covers(&in[i], &in[j]) || rule_before(&in[j], &in[i]))
				break;
		}
		if (j < n)
			continue;
		for (j = k; j > 0 && rule_before(&in[i], &out[j - 1]); j--)
			out[j] = out[j - 1];
		out[j] = in[i];
		k++;
	}
	return k;
}

/* The groups that gave rules[0..n), for an error: "dev, ops". */
static void group_list(const struct wgx_policy *p, const struct wgx_tun_rule *rules,
		       unsigned int n, char *buf, size_t len)
{
	size_t off = 0;
	unsigned int i, j;

	buf[0] = '\0';
	for (i = 0; i < n && off < len; i++) {
		for (j = 0; j < i; j++)
			if (rules[j].group_id == rules[i].group_id)
				break;
		if (j < i)
			continue;
		off += snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
				p->groups[rules[i].group_id].name);
	}
}

const char *wgx_proto_name(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case 0: return "any";
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	}
	snprintf(buf, len, "%u", proto);
	return buf;
}

int wgx_enforce_rules_match(const struct wgx_tun_rules *r, uint8_t proto, uint16_t port)
{
	unsigned int i;

	for (i = 0; i < r->nr && i < WGX_TUN_MAX_RULES; i++) {
		const struct wgx_tun_rule *x = &r->rule[i];

		if (x->proto && x->proto != proto)
			continue;
		if ((x->flags & WGX_RULE_F_ANY_PORT) || (x->port_lo <= port && port <= x->port_hi))
			return i;
	}
	return -1;
}

void wgx_enforce_trie_free(struct wgx_enforce_trie *t)
{
	free(t->entries);
	t->entries = NULL;
	t->nr = 0;
}

int wgx_enforce_compile(const struct wgx_policy *p, const unsigned int *group_ids,
			unsigned int nr_groups, uint8_t family, bool inbound,
			struct wgx_enforce_trie *out, struct wgx_policy_err *err)
{
	struct wgx_tun_rule *buf = NULL, *nb;
	struct rule_ref *refs;
	size_t n = 0, cap = 0, i, j, top = 0, *stack;
	unsigned int g, r, nr, k;
	int ret = 0;

	out->entries = NULL;
	out->nr = 0;
	for (g = 0; g < nr_groups; g++)
		n += inbound ? p->groups[group_ids[g]].nr_inbound :
			       p->groups[group_ids[g]].nr_allow;
	refs = calloc(n + 1, sizeof(*refs));
	stack = calloc(n + 1, sizeof(*stack));
	out->entries = calloc(n + 1, sizeof(*out->entries));
	if (!refs || !stack || !out->entries) {
		ret = -ENOMEM;
		goto out;
	}
	n = 0;
	for (g = 0; g < nr_groups; g++) {
		const struct wgx_group *grp = &p->groups[group_ids[g]];
		const struct wgx_prefix *list = inbound ? grp->inbound : grp->allow;

		nr = inbound ? grp->nr_inbound : grp->nr_allow;
		for (r = 0; r < nr; r++)
			if (list[r].family == family)
				refs[n++] = (struct rule_ref){ &list[r], to_rule(&list[r],
									 group_ids[g], r) };
	}
	qsort(refs, n, sizeof(*refs), ref_cmp);

	/* stack: indexes into out->entries of the open containers of the current prefix */
	for (i = 0; i < n; i = j) {
		struct wgx_enforce_entry *e = &out->entries[out->nr];

		for (j = i; j < n && same_prefix(refs[j].p, refs[i].p); j++)
			;
		while (top && !contains(&out->entries[stack[top - 1]].key, refs[i].p))
			top--;
		nr = (top ? out->entries[stack[top - 1]].rules.nr : 0) + (j - i);
		if (nr > cap) {
			cap = 2 * nr;
			nb = realloc(buf, 2 * cap * sizeof(*buf));
			if (!nb) {
				ret = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		k = 0;
		if (top)
			for (r = 0; r < out->entries[stack[top - 1]].rules.nr; r++)
				buf[k++] = out->entries[stack[top - 1]].rules.rule[r];
		for (r = 0; r < j - i; r++)
			buf[k++] = refs[i + r].rule;
		k = reduce(buf, k, buf + cap);
		if (k > WGX_TUN_MAX_RULES) {
			char pfx[64], groups[160];

			wgx_prefix_format(refs[i].p, pfx, sizeof(pfx));
			group_list(p, buf + cap, k, groups, sizeof(groups));
			snprintf(err->where, sizeof(err->where), "groups.%s.%s[%u]",
				 p->groups[refs[i].rule.group_id].name,
				 inbound ? "inbound" : "allow",
				 refs[i].rule.rule_idx);
			snprintf(err->why, sizeof(err->why), "%s: %u rules (of groups %s) apply to "
				 "it with the prefixes covering it, more than %u in one entry",
				 pfx, k, groups, WGX_TUN_MAX_RULES);
			ret = -EINVAL;
			goto out;
		}
		memset(e, 0, sizeof(*e));
		e->key.family = family;
		e->key.plen = refs[i].p->plen;
		memcpy(e->key.addr, refs[i].p->addr, 16);
		e->rules.nr = k;
		memcpy(e->rules.rule, buf + cap, k * sizeof(*buf));
		stack[top++] = out->nr++;
	}
out:
	free(buf);
	free(refs);
	free(stack);
	if (ret)
		wgx_enforce_trie_free(out);
	return ret;
}
