// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Tunnel programs, tc (clsact) on the WireGuard interface: per-user allowed destinations.
 * wgx_tun_ingress sees the packets users send (source = a user's tunnel address), and
 * admits those a rule of the user's policy allows; wgx_tun_egress sees the packets towards
 * users, and admits replies to their flows, ICMP errors about them, and what an inbound
 * rule allows. Every packet lands in exactly one counter of wgx_tun_counters; denials are
 * counted per user and reported in wgx_tun_events, at most WGX_DENY_EV_RATE/s per user.
 * Without a loaded policy every packet is dropped (no_policy): the tunnel fails closed.
 * A later fragment is judged with the ports its first fragment left in wgx_tun_frags, and
 * dropped (frag_unknown) if its first fragment did not pass.
 * Every packet of a user that passes is counted in her account (wgx_tun_acct): in a flow
 * entry, or in her overflow record when it has none; each new flow is reported in
 * wgx_tun_fevents.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "maps/wgxdp.h"
#include "tun_maps.h"
#include "tun_parse.h"
#include "policy.h"
#include "flow.h"
#include "frag.h"

/*
 * Bytes before the IP header: 0 on a WireGuard interface or wireguard-go's TUN (no link-layer
 * header); 14 where a test or a benchmark runs the program behind an Ethernet header.
 */
const volatile __u32 l2_len = 0;

#define TC_ACT_OK	0
#define TC_ACT_SHOT	2

/* Linear bytes wanted: outer IP (up to 60, or 40 + extension headers), ICMP, the quoted IP. */
#define TUN_PULL_LEN	256

static __always_inline int tun_count(__u32 dir, __u32 reason, __u32 len)
{
	__u32 key = WGX_TUN_CTR(dir, reason);
	struct wgx_counter *c;

	c = bpf_map_lookup_elem(&wgx_tun_counters, &key);
	if (c) {
		c->packets++;
		c->bytes += len;
	}
	return reason < WGX_TR_PASS_MAX ? TC_ACT_OK : TC_ACT_SHOT;
}

/* Token bucket per user: true when an event may go out now. */
static __always_inline bool evrl_take(__u32 user_id, __u64 now)
{
	const __u64 unit = NSEC_PER_SEC, full = WGX_DENY_EV_BURST * NSEC_PER_SEC;
	struct wgx_tun_evrl *b, nb;
	__u64 tokens, elapsed;

	b = bpf_map_lookup_elem(&wgx_tun_evrl, &user_id);
	if (!b) {
		nb.tokens = full - unit;
		nb.last_ns = now;
		bpf_map_update_elem(&wgx_tun_evrl, &user_id, &nb, BPF_ANY);
		return true;
	}
	/* racing CPUs may lose a token or gain one: a rate limit, not an account */
	elapsed = now > b->last_ns ? now - b->last_ns : 0;
	tokens = b->tokens;
	if (elapsed >= full / WGX_DENY_EV_RATE)
		tokens = full;
	else
		tokens += elapsed * WGX_DENY_EV_RATE;
	if (tokens > full)
		tokens = full;
	b->last_ns = now;
	if (tokens < unit) {
		b->tokens = tokens;
		return false;
	}
	b->tokens = tokens - unit;
	return true;
}

/* A denied packet: the user's deny counter, and an event unless the bucket is empty. */
static __always_inline void tun_deny(const struct tun_pkt *p, __u32 user_id, __u32 dir,
				     __u32 reason, __u64 now)
{
	struct wgx_tun_deny_count *d, zero = {};
	struct wgx_deny_event *ev;

	d = bpf_map_lookup_elem(&wgx_tun_denies, &user_id);
	if (!d) {
		bpf_map_update_elem(&wgx_tun_denies, &user_id, &zero, BPF_NOEXIST);
		d = bpf_map_lookup_elem(&wgx_tun_denies, &user_id);
	}
	if (d)
		d->denied++;
	if (!evrl_take(user_id, now)) {
		if (d)
			d->events_held++;
		return;
	}
	ev = bpf_ringbuf_reserve(&wgx_tun_events, sizeof(*ev), 0);
	if (!ev) {
		/* the ring buffer is full (nobody reads it): held back as well */
		if (d)
			d->events_held++;
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ts_ns = now;
	ev->user_id = user_id;
	ev->family = p->family;
	ev->proto = p->proto;
	ev->dir = dir;
	ev->reason = reason;
	if (p->l4 == TUN_L4_PORTS) {
		ev->sport = p->sport;
		ev->dport = p->dport;
	} else if (p->l4 >= TUN_L4_ECHO) {
		/* ICMP: type and code in sport, the echo id in dport */
		ev->sport = bpf_htons((__u16)p->icmp_type << 8 | p->icmp_code);
		ev->dport = p->echo_id;
	}
	__builtin_memcpy(ev->saddr, p->saddr, 16);
	__builtin_memcpy(ev->daddr, p->daddr, 16);
	bpf_ringbuf_submit(ev, 0);
}

/* User -> network. */
static __always_inline __u32 tun_ingress(const struct tun_pkt *p, const struct wgx_tun_cfg *cfg,
					 __u32 len, __u64 now, __u32 *user_id, bool *in_flow)
{
	struct wgx_flow_key k __attribute__((aligned(8)));
	struct wgx_tun_user u;
	struct wgx_tun_rule r = {};	/* written by a global function: initialised for 6.1 */
	struct wgx_flow *f = NULL;
	__u32 fl;

	if (!tun_user_of(p->family, p->saddr, &u))
		return WGX_TR_UNKNOWN_SOURCE;
	*user_id = u.user_id;
	fl = flow_tcp_flags(p, true);
	if (p->l4 == TUN_L4_ICMP_ERR) {
		/* the user's stack reports an error about a packet of one of its flows; an
		 * error opens no flow of its own, it is counted in the one it is about */
		if (flow_key_quoted(&k, p, false) && (f = flow_get(&k, cfg, &u, now))) {
			flow_touch(f, now, len, true, 0);
			*in_flow = true;
			return WGX_TR_ALLOWED;
		}
	} else {
		flow_key_of(&k, p, true);
		f = flow_mine(flow_lookup(&k, cfg, now), &u);
	}
	/* the user's side of a flow an inbound rule let in (and still lets in) */
	if (f && (f->flags & WGX_FLOW_F_INBOUND)) {
		if (flow_current(f, &u) || flow_rejudge(&k, f, &u)) {
			flow_touch(f, now, len, true, fl);
			*in_flow = true;
			return WGX_TR_ALLOWED;
		}
		f = NULL;	/* removed */
	}
	/*
	 * A flow the user opened under the policy in force: its key (destination, protocol,
	 * port) was admitted by the same tries, and a policy id's tries never change. One hash
	 * lookup instead of the trie walk, whose cache misses dominate on a busy gateway.
	 */
	if (f && flow_current(f, &u)) {
		flow_touch(f, now, len, true, fl);
		*in_flow = true;
		return WGX_TR_ALLOWED;
	}
	/* anything else is judged: a new flow, or one from another policy id */
	if (!tun_policy_admits(false, u.policy_id, p, p->daddr, &r))
		return WGX_TR_DENIED;
	if (p->l4 == TUN_L4_ICMP_ERR)
		return WGX_TR_ALLOWED;	/* an error opens no flow */
	if (f) {
		flow_touch(f, now, len, true, fl);
		flow_stamp(f, &u, &r);	/* the rule that admits the flow's key now */
		*in_flow = true;
	} else {
		*in_flow = flow_create(&k, cfg, now, len, true, &u, &r, fl);
	}
	return WGX_TR_ALLOWED;
}

/* Network -> user. */
static __always_inline __u32 tun_egress(const struct tun_pkt *p, const struct wgx_tun_cfg *cfg,
					__u32 len, __u64 now, __u32 *user_id, bool *in_flow)
{
	struct wgx_flow_key k __attribute__((aligned(8)));
	struct wgx_tun_user u;
	struct wgx_tun_rule r = {};	/* written by a global function: initialised for 6.1 */
	struct wgx_flow *f;
	__u32 fl;

	if (!tun_user_of(p->family, p->daddr, &u))
		return WGX_TR_UNKNOWN_DEST;
	*user_id = u.user_id;
	fl = flow_tcp_flags(p, false);
	if (p->l4 == TUN_L4_ICMP_ERR) {
		if (flow_key_quoted(&k, p, true) && (f = flow_get(&k, cfg, &u, now))) {
			flow_touch(f, now, len, false, 0);
			*in_flow = true;
			return WGX_TR_RELATED;
		}
	}
	flow_key_of(&k, p, false);
	if (p->l4 != TUN_L4_ICMP_ERR) {
		/* a flow of an older policy passes only if the policy in force still admits it */
		f = flow_get(&k, cfg, &u, now);
		if (f) {
			flow_touch(f, now, len, false, fl);
			*in_flow = true;
			/* later packets of a flow the remote side opened stay inbound */
			return f->flags & WGX_FLOW_F_INBOUND ? WGX_TR_INBOUND : WGX_TR_REPLY;
		}
	}
	if (!tun_policy_admits(true, u.policy_id, p, p->saddr, &r))
		return WGX_TR_UNSOLICITED;
	if (p->l4 != TUN_L4_ICMP_ERR)
		*in_flow = flow_create(&k, cfg, now, len, false, &u, &r, fl | WGX_FLOW_F_INBOUND);
	return WGX_TR_INBOUND;
}

static __always_inline int tun_run(struct __sk_buff *skb, const __u32 dir)
{
	struct tun_pkt p = {};
	struct wgx_tun_cfg *cfg;
	struct cursor c;
	__u32 zero = 0, len = skb->len - l2_len, user_id = WGX_USER_NONE, reason, linear, want;
	bool in_flow = false;
	void *data;
	__u64 now;

	cfg = bpf_map_lookup_elem(&wgx_tun_cfg, &zero);
	if (!cfg || !cfg->policy_loaded)
		return tun_count(dir, WGX_TR_NO_POLICY, len);

	/* headers in paged data (GSO, forwarded packets): make the first bytes linear */
	linear = skb->data_end - skb->data;
	want = l2_len + TUN_PULL_LEN;
	if (linear < skb->len && linear < want)
		bpf_skb_pull_data(skb, skb->len < want ? skb->len : want);
	/* keep clang from merging the loads of skb->data into one computed ctx pointer */
	asm volatile("" ::: "memory");
	data = (void *)(long)skb->data;
	c.end = (void *)(long)skb->data_end;
	c.pos = data + l2_len;
	reason = tun_parse(&c, skb->protocol, &p);
	if (reason)
		return tun_count(dir, reason, len);

	now = bpf_ktime_get_ns();
	if (p.frag && !frag_resolve(&p, dir, now))
		return tun_count(dir, WGX_TR_FRAG_UNKNOWN, len);
	if (dir == WGX_TD_INGRESS)
		reason = tun_ingress(&p, cfg, len, now, &user_id, &in_flow);
	else
		reason = tun_egress(&p, cfg, len, now, &user_id, &in_flow);
	if (p.frag_first)
		frag_remember(&p, dir, now, reason < WGX_TR_PASS_MAX);
	if (reason >= WGX_TR_PASS_MAX)
		tun_deny(&p, user_id, dir, reason, now);
	else if (!no_acct)
		acct_count(user_id, dir == WGX_TD_INGRESS, len, in_flow);
	return tun_count(dir, reason, len);
}

SEC("tc")
int wgx_tun_ingress(struct __sk_buff *skb)
{
	return tun_run(skb, WGX_TD_INGRESS);
}

SEC("tc")
int wgx_tun_egress(struct __sk_buff *skb)
{
	return tun_run(skb, WGX_TD_EGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
