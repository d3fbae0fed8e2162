/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Packet parsing with a cursor: one bounds check per header, each helper returns the next
 * protocol (or a wgx_reason as a negative value). Included by the BPF programs only.
 */
#ifndef WGXDP_BPF_PARSING_H
#define WGXDP_BPF_PARSING_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "maps/wgxdp.h"

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define ETH_P_8021Q	0x8100
#define ETH_P_8021AD	0x88A8
#define IP_MF		0x2000
#define IP_OFFSET	0x1FFF

#ifndef IPPROTO_HOPOPTS
#define IPPROTO_HOPOPTS		0
#endif
#define IPPROTO_ROUTING_	43
#define IPPROTO_FRAGMENT_	44
#define IPPROTO_DSTOPTS_	60

struct cursor {
	void *pos;
	void *end;
};

struct vlan_hdr_ {
	__be16 tci;
	__be16 proto;
};

struct ipv6_opt_hdr_ {
	__u8 nexthdr;
	__u8 hdrlen;	/* in 8-byte units, not counting the first 8 */
};

/* Ethernet and up to WGX_MAX_VLANS tags. Returns the ethertype (network order) or -reason. */
static __always_inline int parse_eth(struct cursor *c)
{
	struct ethhdr *eth = c->pos;
	struct vlan_hdr_ *vh;
	__be16 proto;
	int i;

	if ((void *)(eth + 1) > c->end)
		return -WGX_R_TRUNCATED;
	c->pos = eth + 1;
	proto = eth->h_proto;

#pragma unroll
	for (i = 0; i < WGX_MAX_VLANS; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			return proto;
		vh = c->pos;
		if ((void *)(vh + 1) > c->end)
			return -WGX_R_TRUNCATED;
		c->pos = vh + 1;
		proto = vh->proto;
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return -WGX_R_VLAN_DEPTH;
	return proto;
}

/*
 * IPv4 with options. Non-first fragments have no UDP header: -WGX_R_FRAGMENT.
 * A first fragment is parsed on (its UDP header is present). Returns the L4 protocol.
 */
static __always_inline int parse_ipv4(struct cursor *c, struct iphdr **iphp)
{
	struct iphdr *iph = c->pos;
	__u32 hlen;

	if ((void *)(iph + 1) > c->end)
		return -WGX_R_TRUNCATED;
	if (iph->version != 4 || iph->ihl < 5)
		return -WGX_R_BAD_IP;
	hlen = iph->ihl * 4;
	if (c->pos + hlen > c->end)
		return -WGX_R_TRUNCATED;
	if (iph->frag_off & bpf_htons(IP_OFFSET))
		return -WGX_R_FRAGMENT;
	c->pos += hlen;
	*iphp = iph;
	return iph->protocol;
}

/* IPv6, skipping hop-by-hop, routing and destination options; fragments pass. */
static __always_inline int parse_ipv6(struct cursor *c, struct ipv6hdr **ip6hp)
{
	struct ipv6hdr *ip6h = c->pos;
	struct ipv6_opt_hdr_ *oh;
	__u8 nexthdr;
	int i;

	if ((void *)(ip6h + 1) > c->end)
		return -WGX_R_TRUNCATED;
	if (ip6h->version != 6)
		return -WGX_R_BAD_IP;
	c->pos = ip6h + 1;
	*ip6hp = ip6h;
	nexthdr = ip6h->nexthdr;

#pragma unroll
	for (i = 0; i < WGX_MAX_EXTHDR; i++) {
		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING_:
		case IPPROTO_DSTOPTS_:
			break;
		case IPPROTO_FRAGMENT_:
			return -WGX_R_FRAGMENT;
		default:
			return nexthdr;
		}
		oh = c->pos;
		if ((void *)(oh + 1) > c->end)
			return -WGX_R_TRUNCATED;
		nexthdr = oh->nexthdr;
		/* hdrlen <= 255, so the cursor moves at most 2048 bytes: the verifier can bound it */
		c->pos += ((__u32)oh->hdrlen + 1) * 8;
	}
	switch (nexthdr) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING_:
	case IPPROTO_DSTOPTS_:
		return -WGX_R_EXTHDR_DEPTH;
	case IPPROTO_FRAGMENT_:
		return -WGX_R_FRAGMENT;
	}
	return nexthdr;
}

#endif /* WGXDP_BPF_PARSING_H */
