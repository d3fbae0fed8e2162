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

/*
 * Set by the benchmark only (tests/bench/bench_tc.c), to measure what the accounting costs:
 * a flow's counters and the user's account are left alone (the flow's timestamp, which the
 * enforcement needs, is not).
 */
const volatile bool no_acct = false;

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

/* The live flow of key k, or NULL (an ended entry waits for the daemon to remove it). */
static __always_inline struct wgx_flow *flow_lookup(const struct wgx_flow_key *k,
						    const struct wgx_tun_cfg *cfg, __u64 now)
{
	struct wgx_flow *f = bpf_map_lookup_elem(&wgx_flows, k);

	return f && wgx_flow_live(cfg, k->proto, f, now) ? f : NULL;
}

/*
 * The fast path: the flow was judged for the user who holds its address now, under her
 * policy id in force (maps/wgxdp.h, struct wgx_flow, says why that covers every change).
 */
static __always_inline bool flow_current(const struct wgx_flow *f, const struct wgx_tun_user *u)
{
	return f->policy_id == u->policy_id && f->user_id == u->user_id;
}

/*
 * f if it is u's flow. Else it was the flow of the user who held u's address before: it ended
 * there (revoked; the daemon reports and removes it) and is nobody's now: NULL.
 */
static __always_inline struct wgx_flow *flow_mine(struct wgx_flow *f, const struct wgx_tun_user *u)
{
	if (!f || f->user_id == u->user_id)
		return f;
	if (!(f->flags & WGX_FLOW_F_REVOKED))
		__sync_fetch_and_or(&f->flags, WGX_FLOW_F_REVOKED);
	return NULL;
}

/* The rule that admits u's flow f now (its user never changes). */
static __always_inline void flow_stamp(struct wgx_flow *f, const struct wgx_tun_user *u,
				       const struct wgx_tun_rule *r)
{
	f->policy_id = u->policy_id;
	f->group_id = r->group_id;
	f->rule_idx = r->rule_idx;
}

/*
 * A flow judged under another policy id, judged again from its key as the packet that opened
 * it was: an allow rule for the remote address and port, or an inbound rule for the remote
 * address and the user's port. Still admitted: stamped with the policy in force and the rule
 * that admits it now. Not: ended (revoked; the entry keeps its counts for the daemon to
 * report), and the packet is judged as one without a flow.
 */
static __always_inline bool flow_rejudge(const struct wgx_flow_key *k, struct wgx_flow *f,
					 const struct wgx_tun_user *u)
{
	bool inbound = f->flags & WGX_FLOW_F_INBOUND;
	struct wgx_tun_rule r = {};	/* written by a global function: initialised for 6.1 */
	__u16 port = 0;

	if (!flow_mine(f, u))
		return false;
	switch (k->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE_:
	case IPPROTO_SCTP_:
		port = bpf_ntohs(inbound ? k->uport : k->rport);
		break;
	}
	if (!tun_rules_admit(inbound, u->policy_id, k->family, k->proto, port, k->raddr, &r)) {
		__sync_fetch_and_or(&f->flags, WGX_FLOW_F_REVOKED);
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
	if (no_acct)
		;
	else if (from_user) {
		__sync_fetch_and_add(&f->pkts_out, 1);
		__sync_fetch_and_add(&f->bytes_out, len);
	} else {
		__sync_fetch_and_add(&f->pkts_in, 1);
		__sync_fetch_and_add(&f->bytes_in, len);
	}
	if ((f->flags & fl) != fl)
		__sync_fetch_and_or(&f->flags, fl);
}

/* The user's account (wgx_tun_acct), made on her first counted packet; NULL if the map is full. */
static const volatile struct wgx_tun_acct acct_zero;	/* .rodata: off the stack */

static __always_inline struct wgx_tun_acct *acct_of(__u32 user_id)
{
	struct wgx_tun_acct *a = bpf_map_lookup_elem(&wgx_tun_acct, &user_id);

	if (a)
		return a;
	bpf_map_update_elem(&wgx_tun_acct, &user_id, (const void *)&acct_zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&wgx_tun_acct, &user_id);
}

/* A passed packet of a user: her totals, and her overflow if no flow entry counted it. */
static __always_inline void acct_count(__u32 user_id, bool from_user, __u32 len, bool in_flow)
{
	struct wgx_tun_acct *a = acct_of(user_id);

	if (!a)
		return;
	if (from_user) {
		__sync_fetch_and_add(&a->pkts_out, 1);
		__sync_fetch_and_add(&a->bytes_out, len);
		if (!in_flow) {
			__sync_fetch_and_add(&a->ovf_pkts_out, 1);
			__sync_fetch_and_add(&a->ovf_bytes_out, len);
		}
	} else {
		__sync_fetch_and_add(&a->pkts_in, 1);
		__sync_fetch_and_add(&a->bytes_in, len);
		if (!in_flow) {
			__sync_fetch_and_add(&a->ovf_pkts_in, 1);
			__sync_fetch_and_add(&a->ovf_bytes_in, len);
		}
	}
}

static __always_inline void flow_started(const struct wgx_flow_key *k, const struct wgx_flow *f,
					 __u64 now, __u32 len, struct wgx_tun_acct *a)
{
	struct wgx_flow_event *ev = bpf_ringbuf_reserve(&wgx_tun_fevents, sizeof(*ev), 0);

	if (!ev) {
		if (a)
			__sync_fetch_and_add(&a->starts_lost, 1);
		return;
	}
	ev->ts_ns = now;
	__builtin_memcpy(&ev->key, k, sizeof(*k));
	ev->user_id = f->user_id;
	ev->flags = f->flags;
	ev->group_id = f->group_id;
	ev->rule_idx = f->rule_idx;
	ev->len = len;
	bpf_ringbuf_submit(ev, 0);
}

/*
 * Takes one of the user's entries against her quota (and, for a flow the remote side opened,
 * against the part of it such flows may hold): the counts go up first and come back down if
 * that was over, so CPUs making flows at once never take more than the quota between them.
 */
static __always_inline bool quota_take(struct wgx_tun_acct *a, const struct wgx_tun_cfg *cfg,
				       __u32 user_id, bool inbound)
{
	struct wgx_tun_fgone *gone = bpf_map_lookup_elem(&wgx_tun_fgone, &user_id);
	__u64 quota = cfg->flow_quota ?: WGX_TUN_FLOW_QUOTA;
	__u64 held;

	/* the inbound part first: a flood at its cap never holds one of her own slots */
	if (inbound) {
		held = __sync_fetch_and_add(&a->flows_in, 1) - (gone ? gone->flows_in : 0);
		if ((__s64)held >= (__s64)wgx_flow_quota_in(quota)) {
			__sync_fetch_and_add(&a->flows_in, -1);
			return false;
		}
	}
	held = __sync_fetch_and_add(&a->flows, 1) - (gone ? gone->flows : 0);
	if ((__s64)held >= (__s64)quota) {
		__sync_fetch_and_add(&a->flows, -1);
		if (inbound)
			__sync_fetch_and_add(&a->flows_in, -1);
		return false;
	}
	return true;
}

static __always_inline void quota_give_back(struct wgx_tun_acct *a, bool inbound)
{
	__sync_fetch_and_add(&a->flows, -1);
	if (inbound)
		__sync_fetch_and_add(&a->flows_in, -1);
}

/*
 * A new flow, or her own ended entry under the same key revived. true: the packet is counted
 * in the flow. false: no entry for it (the user is at her quota, the table is full, or the key
 * holds an entry not hers to take until the daemon removes it); the caller counts the packet in
 * her overflow record.
 */
static __always_inline bool flow_create(const struct wgx_flow_key *k,
					const struct wgx_tun_cfg *cfg, __u64 now, __u32 len,
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
	bool inbound = fl & WGX_FLOW_F_INBOUND;
	struct wgx_flow *old, *raced;
	struct wgx_tun_acct *a;

	a = acct_of(u->user_id);
	old = bpf_map_lookup_elem(&wgx_flows, k);
	if (old) {
		/*
		 * Another user's (ended when her address passed on), or hers opened the other
		 * way: left for the daemon to report and remove. Live (another CPU made it a
		 * moment ago): the packet is counted there. Her own ended one: replaced in one
		 * step by a copy with its counts going on (the daemon reports what it has not
		 * yet); the kernel never writes into an ended entry, which the daemon may be
		 * removing. Gone meanwhile (the daemon removed it): a new entry below.
		 */
		if (old->user_id != u->user_id ||
		    (old->flags & WGX_FLOW_F_INBOUND) != (fl & WGX_FLOW_F_INBOUND))
			goto refused;
		if (wgx_flow_live(cfg, k->proto, old, now)) {
			flow_touch(old, now, len, from_user, fl & ~WGX_FLOW_F_INBOUND);
			return true;
		}
		__builtin_memcpy(&f, old, sizeof(f));
		f.last_ns = now;
		f.policy_id = u->policy_id;
		f.group_id = r->group_id;
		f.rule_idx = r->rule_idx;
		f.flags = fl;
		if (no_acct)
			;
		else if (from_user) {
			f.pkts_out++;
			f.bytes_out += len;
		} else {
			f.pkts_in++;
			f.bytes_in += len;
		}
		if (f.user_id == u->user_id &&
		    !bpf_map_update_elem(&wgx_flows, k, &f, BPF_EXIST)) {
			flow_started(k, &f, now, len, a);
			return true;
		}
		f.first_ns = now;	/* removed meanwhile: a new one */
		f.user_id = u->user_id;
		f.pkts_out = f.bytes_out = f.pkts_in = f.bytes_in = 0;
	}
	if (!a)
		return false;
	if (!quota_take(a, cfg, u->user_id, inbound))
		goto refused;
	f.first_ns = now;
	if (from_user) {
		f.pkts_out = 1;
		f.bytes_out = len;
	} else {
		f.pkts_in = 1;
		f.bytes_in = len;
	}
	if (bpf_map_update_elem(&wgx_flows, k, &f, BPF_NOEXIST)) {
		quota_give_back(a, inbound);
		/* made by another CPU at the same moment: count the packet there */
		raced = bpf_map_lookup_elem(&wgx_flows, k);
		if (raced && raced->user_id == u->user_id &&
		    !((raced->flags ^ fl) & WGX_FLOW_F_INBOUND)) {
			flow_touch(raced, now, len, from_user, fl & ~WGX_FLOW_F_INBOUND);
			return true;
		}
		goto refused;	/* the table is full */
	}
	flow_started(k, &f, now, len, a);
	return true;
refused:
	if (a)
		__sync_fetch_and_add(&a->refused, 1);
	return false;
}

#endif /* WGXDP_BPF_FLOW_H */
