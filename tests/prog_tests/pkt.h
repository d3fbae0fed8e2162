/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Packet builder for BPF_PROG_TEST_RUN cases: one function per header, so that a case reads
 * like the packet it sends. Lengths (IPv4 total length, IPv6 payload length, UDP length)
 * are filled in by pkt_finish() unless a case set them by hand.
 */
#ifndef WGXDP_PKT_H
#define WGXDP_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pkt {
	uint8_t buf[2048];
	size_t len;
	int ip4_off, ip6_off, udp_off;	/* -1 when absent */
	int udp_len_override;		/* >= 0: UDP length field as given */
	size_t trailer;			/* bytes after the UDP payload (Ethernet padding) */
	int l3_off, l4_off;		/* the first (outer) IP and L4 headers, -1 when absent */
	int tcp_off;			/* the last TCP header */
	int frag6_off;			/* the last IPv6 fragment header, -1 when absent */
	int outer4_off, outer6_off;	/* the IP header an ICMP error is in (pkt_icmp_error) */
	uint8_t l4_proto;		/* the outer L4 protocol (pkt_tcp, pkt_udp, pkt_icmp*) */
};

void pkt_init(struct pkt *p);
void pkt_eth(struct pkt *p, uint16_t ethertype);
/* A VLAN tag; its TPID is the ethertype before it. */
void pkt_vlan(struct pkt *p, uint16_t vid, uint16_t inner_proto);
void pkt_ipv4(struct pkt *p, uint8_t proto, int opt_len, uint16_t frag_off);
void pkt_ipv4_ihl(struct pkt *p, uint8_t ihl);	/* overwrite IHL after pkt_ipv4 */
void pkt_ipv6(struct pkt *p, uint8_t nexthdr);
void pkt_ipv6_ext(struct pkt *p, uint8_t nexthdr, uint8_t hdrlen);
void pkt_ipv6_frag(struct pkt *p, uint8_t nexthdr, uint16_t off_mf);
/* The datagram id of the last IPv6 fragment header if there is one, else of the last IPv4
 * header (16 bits). */
void pkt_frag_id(struct pkt *p, uint32_t id);
void pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport);
void pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport);
/* A WireGuard message: type word (type, reserved[3]), then len - 4 bytes of pattern. */
/* TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10) of the last TCP header. */
void pkt_tcp_flags(struct pkt *p, uint8_t flags);
/* Addresses of the last IPv4 / IPv6 header (the builder's defaults are PKT_SRC*, PKT_DST*). */
void pkt_addrs4(struct pkt *p, const uint8_t src[4], const uint8_t dst[4]);
void pkt_addrs6(struct pkt *p, const uint8_t src[16], const uint8_t dst[16]);
/* ICMP (v4: proto 1) or ICMPv6 (v6: 58) header: type, code, then the echo id (or 0). */
void pkt_icmp(struct pkt *p, uint8_t type, uint8_t code, uint16_t id);
/*
 * An ICMP/ICMPv6 error header (frag needed and packet too big carry MTU 1280); the IP header
 * and L4 header built next are the quoted packet. pkt_finish fills both IP lengths.
 */
void pkt_icmp_error(struct pkt *p, uint8_t type, uint8_t code);
void pkt_wg(struct pkt *p, uint8_t type, uint32_t reserved, size_t len);
void pkt_bytes(struct pkt *p, const void *data, size_t len);
void pkt_pad(struct pkt *p, size_t n);	/* trailing bytes not counted by the UDP length */
void pkt_finish(struct pkt *p);
void pkt_truncate(struct pkt *p, size_t len);

/* The addresses and ports the builder uses, for checking ring-buffer events. */
extern const uint8_t PKT_SRC4[4], PKT_DST4[4], PKT_SRC6[16], PKT_DST6[16];
#define PKT_SPORT 40000

#endif
