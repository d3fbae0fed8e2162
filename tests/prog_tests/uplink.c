// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * BPF_PROG_TEST_RUN cases for the uplink XDP program. Each case builds one packet and
 * checks the verdict, that the packet came out unchanged, that exactly one counter moved
 * (by one packet and the packet's bytes), and the ring-buffer event byte for byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps/wgxdp.h"
#include "loader/uplink.h"
#include "uplink.skel.h"
#include "pkt.h"
#include "test_progs.h"

#define WG_PORT  51820
#define WG_PORT2 51821
#define P_TCP 6
#define P_UDP 17
#define ETH_IP 0x0800
#define ETH_IP6 0x86DD
#define ETH_ARP 0x0806
#define ETH_8021Q 0x8100
#define ETH_8021AD 0x88A8

struct env {
	struct uplink *skel;
	struct ring_buffer *rb;
	struct wgx_hs_event ev[4];
	int nr_ev;
	long long total_runs;	/* packets run through the program, for the grand total */
};

static int on_ev(void *ctx, void *data, size_t len)
{
	struct env *e = ctx;

	if (len != sizeof(struct wgx_hs_event))
		test_fail(__FILE__, __LINE__, "%s: event of %zu bytes, expected %zu", test_case,
			  len, sizeof(struct wgx_hs_event));
	if (e->nr_ev < 4)
		memcpy(&e->ev[e->nr_ev], data, sizeof(struct wgx_hs_event));
	e->nr_ev++;
	return 0;
}

/* Open and load the program for testing: not pinned, with the given configuration. */
static bool env_open(struct env *e, bool drop_malformed, __u32 slot)
{
	struct bpf_map *m;

	memset(e, 0, sizeof(*e));
	e->skel = uplink__open();
	if (!ASSERT_TRUE(e->skel != NULL, "uplink__open"))
		return false;
	bpf_object__for_each_map(m, e->skel->obj)
		bpf_map__set_pin_path(m, NULL);	/* never touch the real pin directory */
	e->skel->rodata->cfg_ports[0] = htons(WG_PORT);
	e->skel->rodata->cfg_ports[1] = htons(WG_PORT2);
	e->skel->rodata->cfg_nr_ports = 2;
	e->skel->rodata->cfg_slot = slot;
	e->skel->rodata->cfg_drop_malformed = drop_malformed;
	if (!ASSERT_OK(uplink__load(e->skel), "uplink__load"))
		return false;
	e->rb = ring_buffer__new(bpf_map__fd(e->skel->maps.wgx_events), on_ev, e, NULL);
	return ASSERT_TRUE(e->rb != NULL, "ring_buffer__new");
}

static void env_close(struct env *e)
{
	ring_buffer__free(e->rb);
	uplink__destroy(e->skel);
}

static void read_all(struct env *e, __u32 slot, struct wgx_counter *out)
{
	int fd = bpf_map__fd(e->skel->maps.wgx_counters);
	__u32 k;

	for (k = 0; k < WGX_CTR_PER_SLOT; k++)
		wgx_counter_read(fd, slot * WGX_CTR_PER_SLOT + k, &out[k]);
}

/* Run one packet `repeat` times through the program on lo, rx queue 0. */
static int run(struct env *e, const struct pkt *p, int repeat, int *retval, void *out,
	       __u32 *out_len)
{
	/* the kernel wants data_end = the packet's size when a context is given */
	struct xdp_md ctx = { .data_end = p->len, .ingress_ifindex = 1, .rx_queue_index = 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->buf, .data_size_in = p->len,
		    .data_out = out, .data_size_out = out ? sizeof(p->buf) : 0,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(e->skel->progs.wgxdp_uplink), &o);
	*retval = o.retval;
	if (out_len)
		*out_len = o.data_size_out;
	e->total_runs += repeat > 0 ? repeat : 1;
	return err ? -errno : 0;
}

struct ucase {
	const char *name;
	void (*build)(struct pkt *p);
	int cls, reason, verdict;	/* the one counter that must move */
	bool event;			/* an initiation event is expected */
};

/* ---- packets ---- */
static void ip4_udp(struct pkt *p, uint16_t dport)
{
	pkt_eth(p, ETH_IP);
	pkt_ipv4(p, P_UDP, 0, 0);
	pkt_udp(p, PKT_SPORT, dport);
}

static void ip6_udp(struct pkt *p, uint16_t dport)
{
	pkt_eth(p, ETH_IP6);
	pkt_ipv6(p, P_UDP);
	pkt_udp(p, PKT_SPORT, dport);
}

static void b_arp(struct pkt *p) { pkt_eth(p, ETH_ARP); pkt_bytes(p, "arp-who-has-1234567890", 28); }
/* BPF_PROG_TEST_RUN refuses XDP packets shorter than an Ethernet header: start there */
static void b_eth_only(struct pkt *p) { pkt_eth(p, ETH_IP); }
static void b_ip4_tcp(struct pkt *p) { pkt_eth(p, ETH_IP); pkt_ipv4(p, P_TCP, 0, 0); pkt_tcp(p, 1, WG_PORT); }
static void b_ip4_other_port(struct pkt *p) { ip4_udp(p, 53); pkt_wg(p, 1, 0, 148); }
static void b_ip4_src_wg_port(struct pkt *p)
{
	pkt_eth(p, ETH_IP); pkt_ipv4(p, P_UDP, 0, 0); pkt_udp(p, WG_PORT, 40001); pkt_wg(p, 2, 0, 92);
}
static void b_ip4_short(struct pkt *p) { pkt_eth(p, ETH_IP); pkt_ipv4(p, P_UDP, 0, 0); pkt_finish(p); pkt_truncate(p, 14 + 19); }
static void b_ip4_ihl4(struct pkt *p) { ip4_udp(p, WG_PORT); pkt_wg(p, 1, 0, 148); pkt_finish(p); pkt_ipv4_ihl(p, 4); }
static void b_ip4_bad_version(struct pkt *p) { ip4_udp(p, WG_PORT); pkt_wg(p, 1, 0, 148); pkt_finish(p); p->buf[14] = 0x65; }
static void b_ip4_opts_init(struct pkt *p)
{
	pkt_eth(p, ETH_IP); pkt_ipv4(p, P_UDP, 12, 0); pkt_udp(p, PKT_SPORT, WG_PORT); pkt_wg(p, 1, 0, 148);
}
static void b_ip4_opts_short(struct pkt *p) { pkt_eth(p, ETH_IP); pkt_ipv4(p, P_UDP, 40, 0); pkt_finish(p); pkt_truncate(p, 14 + 40); }
static void b_udp_short(struct pkt *p) { ip4_udp(p, WG_PORT); pkt_finish(p); pkt_truncate(p, 14 + 20 + 7); }
static void b_ip4_frag_later(struct pkt *p)
{
	pkt_eth(p, ETH_IP); pkt_ipv4(p, P_UDP, 0, 0x2000 | 20); pkt_wg(p, 1, 0, 100);
}
static void b_ip4_frag_last(struct pkt *p) { pkt_eth(p, ETH_IP); pkt_ipv4(p, P_UDP, 0, 185); pkt_wg(p, 4, 0, 64); }
static void b_ip4_frag_first(struct pkt *p)
{
	pkt_eth(p, ETH_IP); pkt_ipv4(p, P_UDP, 0, 0x2000); pkt_udp(p, PKT_SPORT, WG_PORT);
	pkt_wg(p, 1, 0, 96); p->udp_len_override = 8 + 148;
}
static void b_vlan1_init(struct pkt *p)
{
	pkt_eth(p, ETH_8021Q); pkt_vlan(p, 100, ETH_IP); pkt_ipv4(p, P_UDP, 0, 0);
	pkt_udp(p, PKT_SPORT, WG_PORT); pkt_wg(p, 1, 0, 148);
}
static void b_vlan2_init(struct pkt *p)
{
	pkt_eth(p, ETH_8021AD); pkt_vlan(p, 200, ETH_8021Q); pkt_vlan(p, 100, ETH_IP6);
	pkt_ipv6(p, P_UDP); pkt_udp(p, PKT_SPORT, WG_PORT); pkt_wg(p, 1, 0, 148);
}
static void b_vlan3(struct pkt *p)
{
	pkt_eth(p, ETH_8021AD); pkt_vlan(p, 1, ETH_8021Q); pkt_vlan(p, 2, ETH_8021Q);
	pkt_vlan(p, 3, ETH_IP); pkt_ipv4(p, P_UDP, 0, 0); pkt_udp(p, PKT_SPORT, WG_PORT);
	pkt_wg(p, 1, 0, 148);
}
static void b_vlan_short(struct pkt *p) { pkt_eth(p, ETH_8021Q); pkt_bytes(p, "\x00\x64", 2); }
static void b_vlan2_short(struct pkt *p) { pkt_eth(p, ETH_8021AD); pkt_vlan(p, 1, ETH_8021Q); pkt_bytes(p, "\x00", 1); }
static void b_vlan_arp(struct pkt *p) { pkt_eth(p, ETH_8021Q); pkt_vlan(p, 5, ETH_ARP); pkt_wg(p, 1, 0, 28); }
static void b_ip6_init(struct pkt *p) { ip6_udp(p, WG_PORT); pkt_wg(p, 1, 0, 148); }
static void b_ip6_ext3_init(struct pkt *p)
{
	pkt_eth(p, ETH_IP6); pkt_ipv6(p, 0); pkt_ipv6_ext(p, 60, 0); pkt_ipv6_ext(p, 43, 1);
	pkt_ipv6_ext(p, P_UDP, 2); pkt_udp(p, PKT_SPORT, WG_PORT); pkt_wg(p, 1, 0, 148);
}
static void b_ip6_ext4_resp(struct pkt *p)
{
	pkt_eth(p, ETH_IP6); pkt_ipv6(p, 0); pkt_ipv6_ext(p, 60, 0); pkt_ipv6_ext(p, 43, 0);
	pkt_ipv6_ext(p, 60, 0); pkt_ipv6_ext(p, P_UDP, 0); pkt_udp(p, PKT_SPORT, WG_PORT);
	pkt_wg(p, 2, 0, 92);
}
static void b_ip6_ext5(struct pkt *p)
{
	pkt_eth(p, ETH_IP6); pkt_ipv6(p, 0); pkt_ipv6_ext(p, 60, 0); pkt_ipv6_ext(p, 43, 0);
	pkt_ipv6_ext(p, 60, 0); pkt_ipv6_ext(p, 60, 0); pkt_ipv6_ext(p, P_UDP, 0);
	pkt_udp(p, PKT_SPORT, WG_PORT); pkt_wg(p, 1, 0, 148);
}
static void b_ip6_frag(struct pkt *p)
{
	pkt_eth(p, ETH_IP6); pkt_ipv6(p, 44); pkt_ipv6_frag(p, P_UDP, 0x0001);
	pkt_udp(p, PKT_SPORT, WG_PORT); pkt_wg(p, 1, 0, 100);
}
static void b_ip6_ext_frag(struct pkt *p)
{
	pkt_eth(p, ETH_IP6); pkt_ipv6(p, 0); pkt_ipv6_ext(p, 44, 0); pkt_ipv6_frag(p, P_UDP, 0x0100);
	pkt_wg(p, 4, 0, 64);
}
static void b_ip6_ext_short(struct pkt *p) { pkt_eth(p, ETH_IP6); pkt_ipv6(p, 0); pkt_bytes(p, "\x11", 1); }
static void b_ip6_ext_len_short(struct pkt *p)
{
	/* hop-by-hop claims 16 bytes, 8 are there: the UDP header check catches it */
	pkt_eth(p, ETH_IP6); pkt_ipv6(p, 0); pkt_ipv6_ext(p, P_UDP, 0); p->buf[p->len - 7] = 1;
}
static void b_ip6_short(struct pkt *p) { pkt_eth(p, ETH_IP6); pkt_ipv6(p, P_UDP); pkt_truncate(p, 14 + 39); }
static void b_ip6_tcp(struct pkt *p) { pkt_eth(p, ETH_IP6); pkt_ipv6(p, P_TCP); pkt_tcp(p, 1, WG_PORT); }
static void b_ip6_icmp(struct pkt *p) { pkt_eth(p, ETH_IP6); pkt_ipv6(p, 58); pkt_bytes(p, "\x80\x00\x00\x00\x00\x01\x00\x01", 8); }
static void b_ip6_udp_short(struct pkt *p) { ip6_udp(p, WG_PORT); pkt_finish(p); pkt_truncate(p, 14 + 40 + 5); }

#define WG4(fn, type, res, len) static void fn(struct pkt *p) { ip4_udp(p, WG_PORT); pkt_wg(p, type, res, len); }
#define WG6(fn, type, res, len) static void fn(struct pkt *p) { ip6_udp(p, WG_PORT); pkt_wg(p, type, res, len); }
WG4(b_init, 1, 0, 148)
WG4(b_resp, 2, 0, 92)
WG4(b_cookie, 3, 0, 64)
WG4(b_data48, 4, 0, 48)
WG4(b_data1440, 4, 0, 1440)
WG4(b_keepalive, 4, 0, 32)
WG6(b_resp6, 2, 0, 92)
WG6(b_cookie6, 3, 0, 64)
WG6(b_data6, 4, 0, 80)
WG6(b_keepalive6, 4, 0, 32)
WG4(b_init147, 1, 0, 147)
WG4(b_init149, 1, 0, 149)
WG4(b_init164, 1, 0, 164)
WG4(b_resp91, 2, 0, 91)
WG4(b_resp96, 2, 0, 96)
WG4(b_cookie63, 3, 0, 63)
WG4(b_cookie80, 3, 0, 80)
WG4(b_data33, 4, 0, 33)
WG4(b_data40, 4, 0, 40)
WG4(b_data99, 4, 0, 99)
WG4(b_data100, 4, 0, 100)
WG4(b_data1452, 4, 0, 1452)
WG6(b_data6_1312, 4, 0, 1312)
WG4(b_data16, 4, 0, 16)
WG6(b_init6_150, 1, 0, 150)
WG4(b_init_res1, 1, 0x01, 148)
WG4(b_init_res3, 1, 0x010000, 148)
WG4(b_resp_res, 2, 0x0100, 92)
WG4(b_cookie_res, 3, 0xff, 64)
WG4(b_data_res, 4, 0x80, 64)
WG6(b_keep6_res, 4, 0x01, 32)
WG4(b_type0, 0, 0, 148)
WG4(b_type5, 5, 0, 92)
WG4(b_type255, 255, 0, 64)
WG6(b_type6_9, 9, 0, 32)
WG4(b_tiny, 4, 0, 2)
WG4(b_empty, 4, 0, 0)
static void b_port2_init(struct pkt *p) { ip4_udp(p, WG_PORT2); pkt_wg(p, 1, 0, 148); }
static void b_port3_init(struct pkt *p) { ip4_udp(p, WG_PORT2 + 1); pkt_wg(p, 1, 0, 148); }
static void b_udp_len_long(struct pkt *p) { ip4_udp(p, WG_PORT); pkt_wg(p, 1, 0, 100); p->udp_len_override = 156; }
static void b_udp_len_lt8(struct pkt *p) { ip4_udp(p, WG_PORT); pkt_wg(p, 1, 0, 148); p->udp_len_override = 4; }
static void b_udp_len_short_type(struct pkt *p) { ip4_udp(p, WG_PORT); pkt_wg(p, 4, 0, 2); p->udp_len_override = 20; }
static void b_resp_padded(struct pkt *p) { ip4_udp(p, WG_PORT); pkt_wg(p, 2, 0, 92); pkt_pad(p, 6); }
static void b_keep_min_frame(struct pkt *p) { ip4_udp(p, WG_PORT); pkt_wg(p, 4, 0, 2); pkt_pad(p, 16); }

#define OK(cls) WGX_C_##cls, WGX_R_OK, WGX_V_PASS
#define OTHER(r) WGX_C_OTHER, WGX_R_##r, WGX_V_PASS
#define BAD(cls, r) WGX_C_##cls, WGX_R_##r, WGX_V_DROP

static const struct ucase cases[] = {
	/* not WireGuard */
	{ "arp", b_arp, OTHER(NOT_IP) },
	{ "ethernet header only", b_eth_only, OTHER(TRUNCATED) },
	{ "ipv4 tcp to the wg port", b_ip4_tcp, OTHER(NOT_UDP) },
	{ "ipv4 udp other port", b_ip4_other_port, OTHER(OTHER_PORT) },
	{ "ipv4 udp from the wg port", b_ip4_src_wg_port, OTHER(OTHER_PORT) },
	{ "ipv4 header truncated", b_ip4_short, OTHER(TRUNCATED) },
	{ "ipv4 ihl 4", b_ip4_ihl4, OTHER(BAD_IP) },
	{ "ipv4 version 6 in ipv4 ethertype", b_ip4_bad_version, OTHER(BAD_IP) },
	{ "ipv4 options truncated", b_ip4_opts_short, OTHER(TRUNCATED) },
	{ "udp header truncated", b_udp_short, OTHER(TRUNCATED) },
	{ "ipv4 middle fragment", b_ip4_frag_later, OTHER(FRAGMENT) },
	{ "ipv4 last fragment", b_ip4_frag_last, OTHER(FRAGMENT) },
	{ "vlan header truncated", b_vlan_short, OTHER(TRUNCATED) },
	{ "second vlan header truncated", b_vlan2_short, OTHER(TRUNCATED) },
	{ "vlan arp", b_vlan_arp, OTHER(NOT_IP) },
	{ "three vlan tags", b_vlan3, OTHER(VLAN_DEPTH) },
	{ "ipv6 header truncated", b_ip6_short, OTHER(TRUNCATED) },
	{ "ipv6 tcp", b_ip6_tcp, OTHER(NOT_UDP) },
	{ "ipv6 icmp", b_ip6_icmp, OTHER(NOT_UDP) },
	{ "ipv6 extension header truncated", b_ip6_ext_short, OTHER(TRUNCATED) },
	{ "ipv6 extension length past the end", b_ip6_ext_len_short, OTHER(TRUNCATED) },
	{ "ipv6 five extension headers", b_ip6_ext5, OTHER(EXTHDR_DEPTH) },
	{ "ipv6 fragment", b_ip6_frag, OTHER(FRAGMENT) },
	{ "ipv6 fragment after hop-by-hop", b_ip6_ext_frag, OTHER(FRAGMENT) },
	{ "ipv6 udp header truncated", b_ip6_udp_short, OTHER(TRUNCATED) },
	{ "third port is not ours", b_port3_init, OTHER(OTHER_PORT) },
	/* WireGuard, well formed */
	{ "ipv4 initiation", b_init, OK(INITIATION), true },
	{ "ipv4 initiation, ip options", b_ip4_opts_init, OK(INITIATION), true },
	{ "ipv4 initiation, one vlan", b_vlan1_init, OK(INITIATION), true },
	{ "ipv6 initiation, two vlans (802.1ad, 802.1Q)", b_vlan2_init, OK(INITIATION), true },
	{ "ipv6 initiation", b_ip6_init, OK(INITIATION), true },
	{ "ipv6 initiation after three extension headers", b_ip6_ext3_init, OK(INITIATION), true },
	{ "ipv6 response after four extension headers", b_ip6_ext4_resp, OK(RESPONSE) },
	{ "initiation on the second port", b_port2_init, OK(INITIATION), true },
	{ "ipv4 response", b_resp, OK(RESPONSE) },
	{ "ipv4 cookie reply", b_cookie, OK(COOKIE) },
	{ "ipv4 data 48", b_data48, OK(DATA) },
	{ "ipv4 data 1440", b_data1440, OK(DATA) },
	{ "ipv4 data 1452 (a full packet on a 1420 MTU: padding stops at the MTU)", b_data1452,
	  OK(DATA) },
	{ "ipv4 data 100 (68 bytes of plaintext: a 68-byte MTU)", b_data100, OK(DATA) },
	{ "ipv4 data 33 (boringtun does not pad)", b_data33, OK(DATA) },
	{ "ipv4 data 40", b_data40, OK(DATA) },
	{ "ipv4 data 99", b_data99, OK(DATA) },
	{ "ipv6 data 1312 (a full packet on a 1280 MTU)", b_data6_1312, OK(DATA) },
	{ "ipv4 keepalive", b_keepalive, OK(KEEPALIVE) },
	{ "ipv6 response", b_resp6, OK(RESPONSE) },
	{ "ipv6 cookie reply", b_cookie6, OK(COOKIE) },
	{ "ipv6 data", b_data6, OK(DATA) },
	{ "ipv6 keepalive", b_keepalive6, OK(KEEPALIVE) },
	{ "response with ethernet padding", b_resp_padded, OK(RESPONSE) },
	{ "ipv4 first fragment of an initiation", b_ip4_frag_first, WGX_C_INITIATION,
	  WGX_R_FRAGMENT, WGX_V_PASS },
	/* WireGuard, malformed */
	{ "initiation 147", b_init147, BAD(INITIATION, BAD_SIZE) },
	{ "initiation 149", b_init149, BAD(INITIATION, BAD_SIZE) },
	{ "initiation 164", b_init164, BAD(INITIATION, BAD_SIZE) },
	{ "ipv6 initiation 150", b_init6_150, BAD(INITIATION, BAD_SIZE) },
	{ "response 91", b_resp91, BAD(RESPONSE, BAD_SIZE) },
	{ "response 96", b_resp96, BAD(RESPONSE, BAD_SIZE) },
	{ "cookie 63", b_cookie63, BAD(COOKIE, BAD_SIZE) },
	{ "cookie 80", b_cookie80, BAD(COOKIE, BAD_SIZE) },
	{ "data 16 (below the minimum)", b_data16, BAD(DATA, BAD_SIZE) },
	{ "initiation reserved byte 1", b_init_res1, BAD(INITIATION, BAD_RESERVED) },
	{ "initiation reserved byte 3", b_init_res3, BAD(INITIATION, BAD_RESERVED) },
	{ "response reserved", b_resp_res, BAD(RESPONSE, BAD_RESERVED) },
	{ "cookie reserved", b_cookie_res, BAD(COOKIE, BAD_RESERVED) },
	{ "data reserved", b_data_res, BAD(DATA, BAD_RESERVED) },
	{ "ipv6 keepalive reserved", b_keep6_res, BAD(KEEPALIVE, BAD_RESERVED) },
	{ "type 0", b_type0, BAD(UNKNOWN, BAD_TYPE) },
	{ "type 5", b_type5, BAD(UNKNOWN, BAD_TYPE) },
	{ "type 255", b_type255, BAD(UNKNOWN, BAD_TYPE) },
	{ "ipv6 type 9", b_type6_9, BAD(UNKNOWN, BAD_TYPE) },
	{ "two-byte payload", b_tiny, BAD(UNKNOWN, BAD_SIZE) },
	{ "empty payload", b_empty, BAD(UNKNOWN, BAD_SIZE) },
	{ "two-byte payload in a padded minimum frame", b_keep_min_frame, BAD(UNKNOWN, BAD_SIZE) },
	{ "udp length past the packet", b_udp_len_long, BAD(INITIATION, BAD_UDP_LEN) },
	{ "udp length below 8", b_udp_len_lt8, BAD(UNKNOWN, BAD_UDP_LEN) },
	{ "udp length says 12, packet has 2", b_udp_len_short_type, BAD(UNKNOWN, BAD_UDP_LEN) },
};

/* The UDP payload of a built packet, for comparing with the event. */
static const uint8_t *payload_of(const struct pkt *p)
{
	return p->buf + p->udp_off + 8;
}

static void check_event(const struct env *e, const struct pkt *p)
{
	const struct wgx_hs_event *ev = &e->ev[0];
	struct wgx_hs_event exp = {};
	struct timespec now;

	exp.ifindex = 1;
	exp.rx_queue = 0;
	exp.type = WGX_EV_HANDSHAKE;
	exp.sport = htons(PKT_SPORT);
	exp.dport = *(const __be16 *)(p->buf + p->udp_off + 2);
	if (p->ip6_off >= 0) {
		exp.family = 6;
		memcpy(exp.saddr, PKT_SRC6, 16);
		memcpy(exp.daddr, PKT_DST6, 16);
	} else {
		exp.family = 4;
		memcpy(exp.saddr, PKT_SRC4, 4);
		memcpy(exp.daddr, PKT_DST4, 4);
	}
	memcpy(exp.msg, payload_of(p), WG_LEN_INITIATION);
	exp.ts_ns = ev->ts_ns;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ASSERT_TRUE(ev->ts_ns > 0 && ev->ts_ns <= (__u64)now.tv_sec * 1000000000ull + now.tv_nsec,
		    "event timestamp is CLOCK_MONOTONIC and in the past");
	ASSERT_EQ(ev->family, exp.family, "event family");
	ASSERT_EQ(ntohs(ev->dport), ntohs(exp.dport), "event dport");
	ASSERT_MEMEQ(ev, &exp, sizeof(exp), "event bytes");
}

static void run_case(struct env *e, const struct ucase *c, __u32 slot)
{
	static struct wgx_counter before[WGX_CTR_PER_SLOT], after[WGX_CTR_PER_SLOT];
	uint8_t out[2048];
	struct pkt p;
	__u32 out_len = 0, k, want;
	int retval, err;

	test_case = c->name;
	pkt_init(&p);
	c->build(&p);
	pkt_finish(&p);
	read_all(e, slot, before);
	e->nr_ev = 0;
	err = run(e, &p, 1, &retval, out, &out_len);
	if (!ASSERT_OK(err, "bpf_prog_test_run_opts"))
		return;
	ASSERT_EQ(retval, c->verdict == WGX_V_DROP ? XDP_DROP : XDP_PASS, "verdict");
	if (retval == XDP_PASS) {
		ASSERT_EQ(out_len, p.len, "packet out length");
		ASSERT_MEMEQ(out, p.buf, p.len, "packet out is the packet in");
	}
	read_all(e, slot, after);
	want = WGX_CTR_INDEX(0, c->cls, c->reason, c->verdict);
	for (k = 0; k < WGX_CTR_PER_SLOT; k++) {
		__u64 dp = after[k].packets - before[k].packets;
		__u64 db = after[k].bytes - before[k].bytes;
		int cl = k / (WGX_R__MAX * WGX_V__MAX), r = k / WGX_V__MAX % WGX_R__MAX;

		if (k == want) {
			ASSERT_EQ(dp, 1, "packets in the expected counter");
			ASSERT_EQ(db, p.len, "bytes in the expected counter");
		} else if (dp || db) {
			test_fail(__FILE__, __LINE__,
				  "%s: counter %s/%s/%s moved by %llu (expected %s/%s/%s)",
				  c->name, wgx_class_name(cl), wgx_reason_name(r),
				  k % 2 ? "drop" : "pass", (unsigned long long)dp,
				  wgx_class_name(c->cls), wgx_reason_name(c->reason),
				  c->verdict ? "drop" : "pass");
		}
	}
	ring_buffer__consume(e->rb);
	ASSERT_EQ(e->nr_ev, c->event ? 1 : 0, "ring-buffer events");
	if (c->event && e->nr_ev == 1)
		check_event(e, &p);
}

static struct env shared_env;
static bool shared_ready;

void test_uplink_parse(void)
{
	size_t i;

	/* slot 3: the counter index must honour the slot the loader gives */
	if (!env_open(&shared_env, true, 3))
		return;
	shared_ready = true;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ucase c = cases[i];

		run_case(&shared_env, &c, 3);
	}
}

/* --no-drop-malformed: the same malformed packets pass, counted under their reason. */
void test_uplink_malformed_pass(void)
{
	struct env e;
	size_t i;

	if (!env_open(&e, false, 0))
		return;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ucase c = cases[i];

		c.verdict = WGX_V_PASS;
		run_case(&e, &c, 0);
	}
	env_close(&e);
}

/* A full ring buffer: the initiation still passes, counted as event_lost. */
void test_uplink_ringbuf_full(void)
{
	struct wgx_counter ok, lost;
	struct env e;
	struct pkt p;
	int retval, fd;
	const int n = 6000;	/* more than a 1 MiB ring holds (about 4,800 events) */

	test_case = "ring buffer full";
	if (!env_open(&e, true, 0))
		return;
	pkt_init(&p);
	b_init(&p);
	pkt_finish(&p);
	if (!ASSERT_OK(run(&e, &p, n, &retval, NULL, NULL), "test run x6000"))
		goto out;
	ASSERT_EQ(retval, XDP_PASS, "verdict with the ring full");
	fd = bpf_map__fd(e.skel->maps.wgx_counters);
	wgx_counter_read(fd, WGX_CTR_INDEX(0, WGX_C_INITIATION, WGX_R_OK, WGX_V_PASS), &ok);
	wgx_counter_read(fd, WGX_CTR_INDEX(0, WGX_C_INITIATION, WGX_R_EVENT_LOST, WGX_V_PASS),
			 &lost);
	ASSERT_EQ(ok.packets + lost.packets, n, "ok + event_lost = packets run");
	ASSERT_TRUE(lost.packets > 0, "some events were lost");
	e.nr_ev = 0;
	ring_buffer__consume(e.rb);
	ASSERT_EQ(e.nr_ev, ok.packets, "events in the ring = initiations counted ok");
	/* drained: the next one gets through again */
	e.nr_ev = 0;
	run(&e, &p, 1, &retval, NULL, NULL);
	ring_buffer__consume(e.rb);
	ASSERT_EQ(e.nr_ev, 1, "event after draining");
out:
	env_close(&e);
}

/* Every packet the program saw is in exactly one counter: the counters add up. */
void test_uplink_counters_total(void)
{
	static struct wgx_counter all[WGX_CTR_PER_SLOT];
	__u64 sum = 0;
	__u32 k;

	test_case = "counters add up";
	if (!shared_ready)
		return;
	read_all(&shared_env, 3, all);
	for (k = 0; k < WGX_CTR_PER_SLOT; k++)
		sum += all[k].packets;
	ASSERT_EQ(sum, shared_env.total_runs, "sum of all counters = packets run");
	read_all(&shared_env, 0, all);
	for (k = 0, sum = 0; k < WGX_CTR_PER_SLOT; k++)
		sum += all[k].packets;
	ASSERT_EQ(sum, 0, "other slots untouched");
	env_close(&shared_env);
	shared_ready = false;
}
