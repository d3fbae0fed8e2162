/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Who a tunnel address belongs to, and whether that user's policy admits a packet: the
 * user's policy id selects an inner LPM trie (allow rules by destination, or inbound rules by
 * remote source), the longest match gives the rules, the first rule that fits admits.
 * Included by bpf/tunnel.bpf.c after bpf/tun_maps.h.
 */
#ifndef WGXDP_BPF_POLICY_H
#define WGXDP_BPF_POLICY_H

#include "tun_parse.h"

/* The user of a tunnel address: exact (/32, /128) first, then the wider tunnel prefixes. */
static __always_inline bool tun_user_of(__u8 family, const __u8 *addr, struct wgx_tun_user *out)
{
	struct wgx_tun_user *u;

	if (family == 4) {
		struct wgx_lpm4 k4 = { .prefixlen = 32 };

		__builtin_memcpy(&k4.addr, addr, 4);
		u = bpf_map_lookup_elem(&wgx_tun_addr4, &k4.addr);
		if (!u)
			u = bpf_map_lookup_elem(&wgx_tun_net4, &k4);
	} else {
		struct wgx_lpm6 k6 = { .prefixlen = 128 };

		__builtin_memcpy(k6.addr, addr, 16);
		/* struct wgx_in6 is the address alone: the LPM key's bytes after prefixlen */
		u = bpf_map_lookup_elem(&wgx_tun_addr6, k6.addr);
		if (!u)
			u = bpf_map_lookup_elem(&wgx_tun_net6, &k6);
	}
	if (!u)
		return false;
	*out = *u;
	return true;
}

/* The port a rule is judged on: the destination port, 0 without one (ICMP, GRE, ...). */
static __always_inline __u16 tun_rule_port(const struct tun_pkt *p)
{
	return p->l4 == TUN_L4_PORTS ? bpf_ntohs(p->dport) : 0;
}

/*
 * The first rule in r that admits proto/port, copied to *out: 1, else 0. A global function:
 * the verifier checks it once, not once per path into each of its callers (it takes a pointer
 * to memory of the argument's BTF size, which may be NULL; Linux 5.12 and later).
 */
__noinline int tun_rules_match(const struct wgx_tun_rules *r, __u32 proto, __u32 port,
			       struct wgx_tun_rule *out)
{
	__u32 nr;
	int i;

	if (!r || !out)
		return 0;
	nr = r->nr;
#pragma unroll
	for (i = 0; i < WGX_TUN_MAX_RULES; i++) {
		const struct wgx_tun_rule *x = &r->rule[i];

		if (i >= nr)
			break;
		if (x->proto && x->proto != proto)
			continue;
		if (x->proto && !(x->flags & WGX_RULE_F_ANY_PORT) &&
		    (port < x->port_lo || port > x->port_hi))
			continue;
		*out = *x;
		return 1;
	}
	return 0;
}

/*
 * The rule of policy_id that admits proto/port: allow rules keyed by the remote destination
 * (inbound == false), or inbound rules keyed by the remote source (inbound == true); addr is
 * the remote address either way, port the destination port of the packet that opens a flow
 * (the remote's for an allow rule, the user's for an inbound rule), 0 without one.
 */
static __always_inline bool tun_rules_admit(bool inbound, __u32 policy_id, __u8 family, __u8 proto,
					    __u16 port, const __u8 *addr, struct wgx_tun_rule *out)
{
	struct wgx_tun_rules *r;
	void *trie;

	if (family == 4) {
		struct wgx_lpm4 k4 = { .prefixlen = 32 };

		trie = inbound ? bpf_map_lookup_elem(&wgx_tun_in4, &policy_id) :
				 bpf_map_lookup_elem(&wgx_tun_pol4, &policy_id);
		if (!trie)
			return false;
		__builtin_memcpy(&k4.addr, addr, 4);
		r = bpf_map_lookup_elem(trie, &k4);
	} else {
		struct wgx_lpm6 k6 = { .prefixlen = 128 };

		trie = inbound ? bpf_map_lookup_elem(&wgx_tun_in6, &policy_id) :
				 bpf_map_lookup_elem(&wgx_tun_pol6, &policy_id);
		if (!trie)
			return false;
		__builtin_memcpy(k6.addr, addr, 16);
		r = bpf_map_lookup_elem(trie, &k6);
	}
	return r && tun_rules_match(r, proto, port, out);
}

/*
 * The rule of policy_id that admits a packet: allow rules (inbound == false, addr = the
 * remote destination) or inbound rules (inbound == true, addr = the remote source).
 */
static __always_inline bool tun_policy_admits(bool inbound, __u32 policy_id,
					      const struct tun_pkt *p, const __u8 *addr,
					      struct wgx_tun_rule *out)
{
	return tun_rules_admit(inbound, policy_id, p->family, p->proto, tun_rule_port(p), addr,
			       out);
}

#endif /* WGXDP_BPF_POLICY_H */
