// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <string.h>
#include "pkt.h"

const uint8_t PKT_SRC4[4] = { 198, 51, 100, 7 };
const uint8_t PKT_DST4[4] = { 203, 0, 113, 1 };
const uint8_t PKT_SRC6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7 };
const uint8_t PKT_DST6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

static uint8_t *put(struct pkt *p, size_t n)
{
	uint8_t *at = p->buf + p->len;

	memset(at, 0, n);
	p->len += n;
	return at;
}

static void put16(uint8_t *at, uint16_t v)
{
	v = htons(v);
	memcpy(at, &v, 2);
}

void pkt_init(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->ip4_off = p->ip6_off = p->udp_off = -1;
	p->udp_len_override = -1;
	p->l3_off = p->l4_off = p->tcp_off = p->outer4_off = p->outer6_off = -1;
	p->frag6_off = -1;
}

static void mark_l3(struct pkt *p, int off)
{
	if (p->l3_off < 0)
		p->l3_off = off;
}

static void mark_l4(struct pkt *p, int off, uint8_t proto)
{
	if (p->l4_off < 0) {
		p->l4_off = off;
		p->l4_proto = proto;
	}
}

void pkt_eth(struct pkt *p, uint16_t ethertype)
{
	uint8_t *h = put(p, 14);
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 1 }, src[6] = { 0x02, 0, 0, 0, 0, 2 };

	memcpy(h, dst, 6);
	memcpy(h + 6, src, 6);
	put16(h + 12, ethertype);
}

void pkt_vlan(struct pkt *p, uint16_t vid, uint16_t inner_proto)
{
	uint8_t *h = put(p, 4);

	put16(h, vid & 0x0fff);
	put16(h + 2, inner_proto);
}

void pkt_ipv4(struct pkt *p, uint8_t proto, int opt_len, uint16_t frag_off)
{
	uint8_t *h = put(p, 20 + opt_len);

	p->ip4_off = h - p->buf;
	mark_l3(p, p->ip4_off);
	h[0] = 0x40 | ((20 + opt_len) / 4);
	h[8] = 64;
	h[9] = proto;
	put16(h + 6, frag_off);
	memcpy(h + 12, PKT_SRC4, 4);
	memcpy(h + 16, PKT_DST4, 4);
	if (opt_len)
		memset(h + 20, 1, opt_len);	/* NOP options */
}

void pkt_ipv4_ihl(struct pkt *p, uint8_t ihl)
{
	p->buf[p->ip4_off] = 0x40 | (ihl & 0xf);
}

void pkt_ipv6(struct pkt *p, uint8_t nexthdr)
{
	uint8_t *h = put(p, 40);

	p->ip6_off = h - p->buf;
	mark_l3(p, p->ip6_off);
	h[0] = 0x60;
	h[6] = nexthdr;
	h[7] = 64;
	memcpy(h + 8, PKT_SRC6, 16);
	memcpy(h + 24, PKT_DST6, 16);
}

void pkt_ipv6_ext(struct pkt *p, uint8_t nexthdr, uint8_t hdrlen)
{
	uint8_t *h = put(p, (hdrlen + 1) * 8);

	h[0] = nexthdr;
	h[1] = hdrlen;
	h[2] = 1;	/* PadN */
	h[3] = (hdrlen + 1) * 8 - 4;
}

void pkt_ipv6_frag(struct pkt *p, uint8_t nexthdr, uint16_t off_mf)
{
	uint8_t *h = put(p, 8);

	p->frag6_off = h - p->buf;
	h[0] = nexthdr;
	put16(h + 2, off_mf);
	memset(h + 4, 0xab, 4);
}

void pkt_frag_id(struct pkt *p, uint32_t id)
{
	uint32_t be = htonl(id);

	if (p->frag6_off >= 0)
		memcpy(p->buf + p->frag6_off + 4, &be, 4);
	else
		put16(p->buf + p->ip4_off + 4, (uint16_t)id);
}

void pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport)
{
	uint8_t *h = put(p, 8);

	p->udp_off = h - p->buf;
	mark_l4(p, p->udp_off, 17);
	put16(h, sport);
	put16(h + 2, dport);
}

void pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport)
{
	uint8_t *h = put(p, 20);

	p->tcp_off = h - p->buf;
	mark_l4(p, p->tcp_off, 6);
	put16(h, sport);
	put16(h + 2, dport);
	h[12] = 5 << 4;
	h[13] = 0x10;	/* ACK */
}

void pkt_tcp_flags(struct pkt *p, uint8_t flags)
{
	p->buf[p->tcp_off + 13] = flags;
}

void pkt_addrs4(struct pkt *p, const uint8_t src[4], const uint8_t dst[4])
{
	memcpy(p->buf + p->ip4_off + 12, src, 4);
	memcpy(p->buf + p->ip4_off + 16, dst, 4);
}

void pkt_addrs6(struct pkt *p, const uint8_t src[16], const uint8_t dst[16])
{
	memcpy(p->buf + p->ip6_off + 8, src, 16);
	memcpy(p->buf + p->ip6_off + 24, dst, 16);
}

void pkt_icmp(struct pkt *p, uint8_t type, uint8_t code, uint16_t id)
{
	uint8_t *h = put(p, 8);

	mark_l4(p, h - p->buf, p->ip6_off >= 0 ? 58 : 1);
	h[0] = type;
	h[1] = code;
	put16(h + 4, id);
	put16(h + 6, 1);	/* sequence */
}

void pkt_icmp_error(struct pkt *p, uint8_t type, uint8_t code)
{
	bool v6 = p->ip6_off >= 0;

	pkt_icmp(p, type, code, 0);
	if ((!v6 && type == 3 && code == 4) || (v6 && type == 2))
		put16(p->buf + p->len - 2, 1280);	/* the MTU */
	p->outer4_off = p->ip4_off;
	p->outer6_off = p->ip6_off;
}

void pkt_wg(struct pkt *p, uint8_t type, uint32_t reserved, size_t len)
{
	uint8_t *h = put(p, len);
	size_t i;

	for (i = 0; i < len; i++)
		h[i] = (uint8_t)(i * 7 + 3);
	if (len >= 1)
		h[0] = type;
	for (i = 1; i < 4 && i < len; i++)
		h[i] = reserved >> (8 * (i - 1));
}

void pkt_bytes(struct pkt *p, const void *data, size_t len)
{
	memcpy(put(p, len), data, len);
}

void pkt_pad(struct pkt *p, size_t n)
{
	put(p, n);
	p->trailer += n;
}

void pkt_finish(struct pkt *p)
{
	size_t end = p->len - p->trailer;

	if (p->ip4_off >= 0)
		put16(p->buf + p->ip4_off + 2, end - p->ip4_off);
	if (p->ip6_off >= 0)
		put16(p->buf + p->ip6_off + 4, end - p->ip6_off - 40);
	if (p->outer4_off >= 0)
		put16(p->buf + p->outer4_off + 2, end - p->outer4_off);
	if (p->outer6_off >= 0)
		put16(p->buf + p->outer6_off + 4, end - p->outer6_off - 40);
	if (p->udp_off >= 0)
		put16(p->buf + p->udp_off + 4, p->udp_len_override >= 0 ?
		      (uint16_t)p->udp_len_override : (uint16_t)(end - p->udp_off));
}

void pkt_truncate(struct pkt *p, size_t len)
{
	if (len < p->len)
		p->len = len;
}
