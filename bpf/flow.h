/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Flows in wgx_flows, keyed from the user's side: build the key of a packet (or of the packet
 * an ICMP error quotes), tell whether a flow is still live and judged under the user's policy
 * in force (else judge it again), create and refresh it.
 * Included by bpf/tunnel.bpf.c after bpf/tun_maps.h.
 */
#ifndef WGXDP_BPF_FLOW_H
#define WGXDP_BPF_FLOW_H

#include "tun_parse.h"
#include "policy.h"

#define NSEC_PER_SEC 1000000000ull

/* from_user: the packet goes user -> network (ingress), else network -> user (egress). */
static __always_inline void flow_key_of(struct wgx_flow_key *k, const struct tun_pkt *p,
					bool from_user)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = p->family;
	k->proto = p->proto;
	if (from_user) {
		__builtin_memcpy(k->uaddr, p->saddr, 16);
		__builtin_memcpy(k->raddr, p->daddr, 16);
		k->uport = p->sport;
		k->rport = p->dport;
	} else {
		__builtin_memcpy(k->uaddr, p->daddr, 16);
		__builtin_memcpy(k->raddr, p->saddr, 16);
		k->uport = p->dport;
		k->rport = p->sport;
	}
	if (p->l4 == TUN_L4_ECHO)
		k->uport = p->echo_id;	/* echo: the id is the user's "port" either way */
}

/*
 * The flow an ICMP error is about. The quoted packet went the other way: an error towards
 * the user quotes a packet from the user (user_is_src), whose source must be the error's
 * destination, so an error can only reach the user whose flow it names. An error from the
 * user quotes a packet the user received: its destination must be the error's source, and
 * the error must go back to that packet's sender (else a user could send "errors" quoting an
 * allowed flow to any host).
 */
static __always_inline bool flow_key_quoted(struct wgx_flow_key *k, const struct tun_pkt *p,
					    bool user_is_src)
{
	if (!p->in_ok)
		return false;
	if (user_is_src ? !addr_eq(p->in_saddr, p->daddr) :
			  !addr_eq(p->in_daddr, p->saddr) || !addr_eq(p->in_saddr, p->daddr))
		return false;
	__builtin_memset(k, 0, sizeof(*k));
	k->family = p->family;
	k->proto = p->in_proto;
	if (user_is_src) {
		__builtin_memcpy(k->uaddr, p->in_saddr, 16);
		__builtin_memcpy(k->raddr, p->in_daddr, 16);
		k->uport = p->in_sport;
		k->rport = p->in_dport;
	} else {
		__builtin_memcpy(k->uaddr, p->in_daddr, 16);
		__builtin_memcpy(k->raddr, p->in_saddr, 16);
		k->uport = p->in_dport;
		k->rport = p->in_sport;
	}
	if (p->in_echo) {
		k->uport = p->in_sport;
		k->rport = 0;
	}
	return true;
}

/* Idle timeout of a flow; a timeout of 0 in wgx_tun_cfg means the default. */
static __always_inline __u64 flow_timeout_ns(const struct wgx_tun_cfg *cfg, __u8 proto,
					     __u32 flags)
{
	return (__u64)wgx_flow_timeout_s(cfg, proto, flags) * NSEC_PER_SEC;
}

static __always_inline bool flow_live(const struct wgx_flow *f, const struct wgx_tun_cfg *cfg,
				      __u8 proto, __u64 now)
{
	__u64 last = f->last_ns;

	/* another CPU may have stamped a later time than ours */
	return now < last || now - last <= flow_timeout_ns(cfg, proto, f->flags);
}

/* The live flow of key k, or NULL. */
static __always_inline struct wgx_flow *flow_lookup(const struct wgx_flow_key *k,
						    const struct wgx_tun_cfg *cfg, __u64 now)
{
	struct wgx_flow *f = bpf_map_lookup_elem(&wgx_flows, k);

	return f && flow_live(f, cfg, k->proto, now) ? f : NULL;
}

/*
 * The fast path: the flow was judged for the user who holds its address now, under her
 * policy id in force (maps/wgxdp.h, struct wgx_flow, says why that covers every change).
 */
static __always_inline bool flow_current(const struct wgx_flow *f, const struct wgx_tun_user *u)
{
	return f->policy_id == u->policy_id && f->user_id == u->user_id;
}

static __always_inline void flow_stamp(struct wgx_flow *f, const struct wgx_tun_user *u,
				       const struct wgx_tun_rule *r)
{
	f->user_id = u->user_id;
	f->policy_id = u->policy_id;
	f->group_id = r->group_id;
	f->rule_idx = r->rule_idx;
}

/*
 * A flow judged under another policy id, judged again from its key as the packet that opened
 * it was: an allow rule for the remote address and port, or an inbound rule for the remote
 * address and the user's port. Still admitted: stamped with the policy in force and the rule
 * that admits it now. Not: removed, and the packet is judged as one without a flow.
 */
static __always_inline bool flow_rejudge(const struct wgx_flow_key *k, struct wgx_flow *f,
					 const struct wgx_tun_user *u)
{
	bool inbound = f->flags & WGX_FLOW_F_INBOUND;
	struct wgx_tun_rule r = {};	/* written by a global function: initialised for 6.1 */
	__u16 port = 0;

	switch (k->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE_:
	case IPPROTO_SCTP_:
		port = bpf_ntohs(inbound ? k->uport : k->rport);
		break;
	}
	if (!tun_rules_admit(inbound, u->policy_id, k->family, k->proto, port, k->raddr, &r)) {
		bpf_map_delete_elem(&wgx_flows, k);
		return false;
	}
	flow_stamp(f, u, &r);
	return true;
}

/* The live flow of key k, judged again first if judged under another policy id; or NULL. */
static __always_inline struct wgx_flow *flow_get(const struct wgx_flow_key *k,
						 const struct wgx_tun_cfg *cfg,
						 const struct wgx_tun_user *u, __u64 now)
{
	struct wgx_flow *f = flow_lookup(k, cfg, now);

	if (f && !flow_current(f, u) && !flow_rejudge(k, f, u))
		return NULL;
	return f;
}

/* The WGX_FLOW_F_* a TCP packet's FIN and RST give. */
static __always_inline __u32 flow_tcp_flags(const struct tun_pkt *p, bool from_user)
{
	__u32 fl = 0;

	/* a later fragment has its first fragment's ports, not its flags */
	if (p->proto != IPPROTO_TCP || p->l4 != TUN_L4_PORTS || p->frag)
		return 0;
	if (p->tcp_flags & TCP_FL_RST)
		fl |= WGX_FLOW_F_RST;
	if (p->tcp_flags & TCP_FL_FIN)
		fl |= from_user ? WGX_FLOW_F_FIN_OUT : WGX_FLOW_F_FIN_IN;
	return fl;
}

static __always_inline void flow_touch(struct wgx_flow *f, __u64 now, __u32 len, bool from_user,
				       __u32 fl)
{
	f->last_ns = now;
	if (from_user) {
		__sync_fetch_and_add(&f->pkts_out, 1);
		__sync_fetch_and_add(&f->bytes_out, len);
	} else {
		__sync_fetch_and_add(&f->pkts_in, 1);
		__sync_fetch_and_add(&f->bytes_in, len);
	}
	if ((f->flags & fl) != fl)
		__sync_fetch_and_or(&f->flags, fl);
}

/*
 * A new flow (or a new life for an expired one under the same key). Two CPUs creating the
 * same flow at once: the later write wins and the other's first packet is not in the flow's
 * counts (the tunnel counters have it).
 */
static __always_inline void flow_create(const struct wgx_flow_key *k, __u64 now, __u32 len,
					bool from_user, const struct wgx_tun_user *u,
					const struct wgx_tun_rule *r, __u32 fl)
{
	struct wgx_flow f = {
		.first_ns = now,
		.last_ns = now,
		.user_id = u->user_id,
		.policy_id = u->policy_id,
		.flags = fl,
		.group_id = r->group_id,
		.rule_idx = r->rule_idx,
	};

	if (from_user) {
		f.pkts_out = 1;
		f.bytes_out = len;
	} else {
		f.pkts_in = 1;
		f.bytes_in = len;
	}
	bpf_map_update_elem(&wgx_flows, k, &f, BPF_ANY);
}

#endif /* WGXDP_BPF_FLOW_H */
