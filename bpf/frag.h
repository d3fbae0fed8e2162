/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Fragments (maps/wgxdp.h, wgx_tun_frags): a first fragment that passes leaves its L4 header's
 * ports for the later fragments of its datagram, which carry none; a later fragment takes
 * them, or is dropped (frag_unknown) if its first fragment did not pass.
 * Included by bpf/tunnel.bpf.c after bpf/tun_maps.h.
 */
#ifndef WGXDP_BPF_FRAG_H
#define WGXDP_BPF_FRAG_H

#include "tun_parse.h"

#define NSEC_PER_SEC 1000000000ull

static __always_inline void frag_key_of(struct wgx_frag_key *k, const struct tun_pkt *p,
					__u32 dir)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->dir = dir;
	k->family = p->family;
	k->proto = p->proto;
	k->id = p->frag_id;
	__builtin_memcpy(k->saddr, p->saddr, 16);
	__builtin_memcpy(k->daddr, p->daddr, 16);
}

/*
 * A later fragment: its first fragment's L4 header into p (never the TCP flags: it has none),
 * or false if no live entry has it. The last fragment removes the entry.
 */
static __always_inline bool frag_resolve(struct tun_pkt *p, __u32 dir, __u64 now)
{
	struct wgx_frag_key k __attribute__((aligned(8)));
	struct wgx_frag *e;
	__u64 first;

	frag_key_of(&k, p, dir);
	e = bpf_map_lookup_elem(&wgx_tun_frags, &k);
	if (!e)
		return false;
	first = e->first_ns;
	/* another CPU may have stamped a later time than ours */
	if (now > first && now - first > WGX_TUN_FRAG_TIMEOUT_S * NSEC_PER_SEC) {
		bpf_map_delete_elem(&wgx_tun_frags, &k);
		return false;
	}
	p->l4 = e->l4;
	p->sport = e->sport;
	p->dport = e->dport;
	p->echo_id = e->echo_id;
	p->icmp_type = e->icmp_type;
	p->icmp_code = e->icmp_code;
	if (!p->frag_more)
		bpf_map_delete_elem(&wgx_tun_frags, &k);
	return true;
}

/*
 * A first fragment, once judged: passed, its L4 header is kept for the rest of its datagram;
 * dropped, an older datagram's entry under the same id goes (its fragments would take
 * ports that are not theirs).
 */
static __always_inline void frag_remember(const struct tun_pkt *p, __u32 dir, __u64 now,
					  bool passed)
{
	struct wgx_frag_key k __attribute__((aligned(8)));
	struct wgx_frag e = {
		.first_ns = now,
		.sport = p->sport,
		.dport = p->dport,
		.echo_id = p->echo_id,
		.l4 = p->l4,
		.icmp_type = p->icmp_type,
		.icmp_code = p->icmp_code,
	};

	frag_key_of(&k, p, dir);
	if (passed)
		bpf_map_update_elem(&wgx_tun_frags, &k, &e, BPF_ANY);
	else
		bpf_map_delete_elem(&wgx_tun_frags, &k);
}

#endif /* WGXDP_BPF_FRAG_H */
