/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Parsing for the tunnel programs: the IP packet a WireGuard interface carries (no link-layer
 * header: the family comes from skb->protocol), its L4 ports, ICMP echo ids, and the packet an
 * ICMP error quotes. Fills a struct tun_pkt; returns 0 or a wgx_tun_reason to drop with.
 * Included by bpf/tunnel.bpf.c.
 */
#ifndef WGXDP_BPF_TUN_PARSE_H
#define WGXDP_BPF_TUN_PARSE_H

#include "parsing.h"

#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6		58
#endif
#define IPPROTO_SCTP_		132
#define IPPROTO_UDPLITE_	136
#define IP6_OFFSET		0xfff8	/* fragment offset bits of the IPv6 fragment header */
#define IP6_MF			0x0001	/* more fragments, in the IPv6 fragment header */
#define TCP_FL_FIN		0x01
#define TCP_FL_RST		0x04

/* What the L4 header gave. */
enum tun_l4 {
	TUN_L4_NONE = 0,	/* a protocol without ports (or a later fragment, until frag.h's
				 * frag_resolve gives it its first fragment's) */
	TUN_L4_PORTS,		/* TCP, UDP, UDP-Lite, SCTP: sport and dport */
	TUN_L4_ECHO,		/* ICMP/ICMPv6 echo request or reply: echo_id */
	TUN_L4_ICMP_ERR,	/* ICMP/ICMPv6 error: the quoted packet in in_* (if in_ok) */
	TUN_L4_ICMP,		/* other ICMP */
};

struct ipv6_frag_hdr_ {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 id;
};

/* One packet, addresses in 16 bytes (IPv4 in the first 4, the rest zero). */
struct tun_pkt {
	__u8 saddr[16];		/* 8-byte aligned: compared as two __u64 */
	__u8 daddr[16];
	__u8 in_saddr[16];	/* ICMP error: the quoted packet's addresses */
	__u8 in_daddr[16];
	__be16 sport;		/* TUN_L4_PORTS, network order; 0 otherwise */
	__be16 dport;
	__be16 echo_id;		/* TUN_L4_ECHO */
	__be16 in_sport;	/* quoted packet: its ports, or its echo id in in_sport */
	__be16 in_dport;
	__u32 frag_id;		/* a fragment's datagram id (host order), see frag_first, frag */
	__u8 family;		/* 4 or 6 */
	__u8 proto;
	__u8 l4;		/* enum tun_l4 */
	__u8 frag;		/* a non-first fragment: no L4 header */
	__u8 frag_first;	/* the first fragment of a datagram: offset 0, more fragments */
	__u8 frag_more;		/* more fragments follow this one */
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 in_proto;
	__u8 in_ok;		/* the quoted header and 8 bytes of its L4 are there */
	__u8 in_echo;
} __attribute__((aligned(8)));

static __always_inline bool addr_eq(const __u8 *a, const __u8 *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1];
}

static __always_inline bool is_icmp_echo(__u8 family, __u8 type)
{
	return family == 4 ? type == 8 || type == 0 : type == 128 || type == 129;
}

/* ICMP 3 (unreachable, incl. 4 = fragmentation needed), 11, 12; ICMPv6 1, 2 (too big), 3, 4. */
static __always_inline bool is_icmp_error(__u8 family, __u8 type)
{
	return family == 4 ? type == 3 || type == 11 || type == 12 : type >= 1 && type <= 4;
}

static __always_inline __u8 icmp_proto(__u8 family)
{
	return family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
}

/*
 * The packet an ICMP error quotes: its IP header (no IPv6 extension headers) and the first
 * 8 bytes of its L4 header. What is not there leaves in_ok 0: the error is then judged as
 * any other ICMP packet, never dropped as truncated.
 */
static __always_inline void tun_parse_quoted(struct cursor *c, struct tun_pkt *p)
{
	__u8 *l4;

	if (p->family == 4) {
		struct iphdr *iph = c->pos;

		if ((void *)(iph + 1) > c->end || iph->version != 4 || iph->ihl < 5)
			return;
		if (iph->frag_off & bpf_htons(IP_OFFSET))
			return;
		l4 = c->pos + iph->ihl * 4;
		if ((void *)(l4 + 8) > c->end)
			return;
		p->in_proto = iph->protocol;
		__builtin_memcpy(p->in_saddr, &iph->saddr, 4);
		__builtin_memcpy(p->in_daddr, &iph->daddr, 4);
	} else {
		struct ipv6hdr *ip6h = c->pos;

		if ((void *)(ip6h + 1) > c->end || ip6h->version != 6)
			return;
		l4 = (__u8 *)(ip6h + 1);
		if ((void *)(l4 + 8) > c->end)
			return;
		p->in_proto = ip6h->nexthdr;
		__builtin_memcpy(p->in_saddr, &ip6h->saddr, 16);
		__builtin_memcpy(p->in_daddr, &ip6h->daddr, 16);
	}
	switch (p->in_proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE_:
	case IPPROTO_SCTP_:
		__builtin_memcpy(&p->in_sport, l4, 2);
		__builtin_memcpy(&p->in_dport, l4 + 2, 2);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (p->in_proto == icmp_proto(p->family) && is_icmp_echo(p->family, l4[0])) {
			p->in_echo = 1;
			__builtin_memcpy(&p->in_sport, l4 + 4, 2);
		}
		break;
	}
	p->in_ok = 1;
}

static __always_inline int tun_parse_l4(struct cursor *c, struct tun_pkt *p)
{
	__u8 *h = c->pos;

	if (p->frag)
		return 0;
	switch (p->proto) {
	case IPPROTO_TCP:
		if ((void *)(h + sizeof(struct tcphdr)) > c->end)
			return WGX_TR_TRUNCATED;
		p->tcp_flags = h[13];
		break;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE_:
		if ((void *)(h + sizeof(struct udphdr)) > c->end)
			return WGX_TR_TRUNCATED;
		break;
	case IPPROTO_SCTP_:
		if ((void *)(h + 12) > c->end)	/* the common header */
			return WGX_TR_TRUNCATED;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (p->proto != icmp_proto(p->family))
			return 0;	/* ICMPv4 in IPv6 or the reverse: no ports */
		if ((void *)(h + 8) > c->end)
			return WGX_TR_TRUNCATED;
		p->icmp_type = h[0];
		p->icmp_code = h[1];
		if (is_icmp_echo(p->family, h[0])) {
			p->l4 = TUN_L4_ECHO;
			__builtin_memcpy(&p->echo_id, h + 4, 2);
		} else if (is_icmp_error(p->family, h[0])) {
			p->l4 = TUN_L4_ICMP_ERR;
			c->pos = h + 8;
			tun_parse_quoted(c, p);
		} else {
			p->l4 = TUN_L4_ICMP;
		}
		return 0;
	default:
		return 0;
	}
	p->l4 = TUN_L4_PORTS;
	__builtin_memcpy(&p->sport, h, 2);
	__builtin_memcpy(&p->dport, h + 2, 2);
	return 0;
}

static __always_inline int tun_parse_ipv4(struct cursor *c, struct tun_pkt *p)
{
	struct iphdr *iph = c->pos;
	__u32 hlen;

	if ((void *)(iph + 1) > c->end)
		return WGX_TR_TRUNCATED;
	if (iph->version != 4 || iph->ihl < 5)
		return WGX_TR_BAD_IP;
	hlen = iph->ihl * 4;
	if (c->pos + hlen > c->end)
		return WGX_TR_TRUNCATED;
	p->family = 4;
	p->proto = iph->protocol;
	p->frag = !!(iph->frag_off & bpf_htons(IP_OFFSET));
	p->frag_more = !!(iph->frag_off & bpf_htons(IP_MF));
	p->frag_first = !p->frag && p->frag_more;
	p->frag_id = bpf_ntohs(iph->id);
	__builtin_memcpy(p->saddr, &iph->saddr, 4);
	__builtin_memcpy(p->daddr, &iph->daddr, 4);
	c->pos += hlen;
	return tun_parse_l4(c, p);
}

/*
 * IPv6, skipping hop-by-hop, routing, destination options and a first fragment's header.
 * More than WGX_MAX_EXTHDR extension headers: bad_ip (no legitimate stack sends that many).
 */
static __always_inline int tun_parse_ipv6(struct cursor *c, struct tun_pkt *p)
{
	struct ipv6hdr *ip6h = c->pos;
	struct ipv6_opt_hdr_ *oh;
	struct ipv6_frag_hdr_ *fh;
	__u8 nexthdr;
	int i;

	if ((void *)(ip6h + 1) > c->end)
		return WGX_TR_TRUNCATED;
	if (ip6h->version != 6)
		return WGX_TR_BAD_IP;
	p->family = 6;
	__builtin_memcpy(p->saddr, &ip6h->saddr, 16);
	__builtin_memcpy(p->daddr, &ip6h->daddr, 16);
	c->pos = ip6h + 1;
	nexthdr = ip6h->nexthdr;

#pragma unroll
	for (i = 0; i < WGX_MAX_EXTHDR; i++) {
		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING_:
		case IPPROTO_DSTOPTS_:
			oh = c->pos;
			if ((void *)(oh + 1) > c->end)
				return WGX_TR_TRUNCATED;
			nexthdr = oh->nexthdr;
			/* hdrlen <= 255: the cursor moves at most 2048 bytes, the verifier bounds it */
			c->pos += ((__u32)oh->hdrlen + 1) * 8;
			continue;
		case IPPROTO_FRAGMENT_:
			fh = c->pos;
			if ((void *)(fh + 1) > c->end)
				return WGX_TR_TRUNCATED;
			nexthdr = fh->nexthdr;
			c->pos = fh + 1;
			p->frag_id = bpf_ntohl(fh->id);
			p->frag_more = !!(fh->frag_off & bpf_htons(IP6_MF));
			if (fh->frag_off & bpf_htons(IP6_OFFSET)) {
				p->frag = 1;
				goto done;
			}
			/* offset 0 without M is an atomic fragment: a whole datagram */
			p->frag_first = p->frag_more;
			continue;
		}
		goto done;
	}
	switch (nexthdr) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING_:
	case IPPROTO_DSTOPTS_:
	case IPPROTO_FRAGMENT_:
		return WGX_TR_BAD_IP;
	}
done:
	p->proto = nexthdr;
	return tun_parse_l4(c, p);
}

/* skb->protocol gives the family (the device has no link-layer header, l2_len is 0). */
static __always_inline int tun_parse(struct cursor *c, __u32 protocol, struct tun_pkt *p)
{
	if (protocol == bpf_htons(ETH_P_IP))
		return tun_parse_ipv4(c, p);
	if (protocol == bpf_htons(ETH_P_IPV6))
		return tun_parse_ipv6(c, p);
	return WGX_TR_NOT_IP;
}

#endif /* WGXDP_BPF_TUN_PARSE_H */
