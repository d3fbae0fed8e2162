// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Uplink XDP program: classify WireGuard traffic on the listen port(s), drop what is
 * malformed, and hand every handshake initiation to userspace through a ring buffer.
 * Every packet lands in exactly one counter of wgx_counters.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "maps/wgxdp.h"
#include "parsing.h"
#include "wg.h"

/* Set by the loader before load (one program instance per attached interface). */
const volatile __be16 cfg_ports[WGX_MAX_PORTS] = {};
const volatile __u32 cfg_nr_ports = 0;
const volatile __u32 cfg_slot = 0;
const volatile bool cfg_drop_malformed = true;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WGX_CTR_ENTRIES);
	__type(key, __u32);
	__type(value, struct wgx_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WGX_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct wgx_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_ifaces SEC(".maps");

/* libxdp run config: default priority, chain on XDP_PASS. */
struct {
	__uint(priority, 20);
	__uint(XDP_PASS, 1);
} _wgxdp_uplink SEC(".xdp_run_config");

static __always_inline int count(struct xdp_md *ctx, __u32 class, __u32 reason, __u32 verdict)
{
	__u32 key = WGX_CTR_INDEX(cfg_slot, class, reason, verdict);
	struct wgx_counter *c;

	c = bpf_map_lookup_elem(&wgx_counters, &key);
	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	return verdict == WGX_V_DROP ? XDP_DROP : XDP_PASS;
}

static __always_inline bool is_wg_port(__be16 port)
{
	int i;

#pragma unroll
	for (i = 0; i < WGX_MAX_PORTS; i++) {
		if (i >= cfg_nr_ports)
			return false;
		if (cfg_ports[i] == port)
			return true;
	}
	return false;
}

/* Returns false when the ring buffer is full (the packet still passes). */
static __always_inline bool emit_initiation(struct xdp_md *ctx, void *payload, struct udphdr *uh,
					    struct iphdr *iph, struct ipv6hdr *ip6h)
{
	struct wgx_hs_event *ev;

	ev = bpf_ringbuf_reserve(&wgx_events, sizeof(*ev), 0);
	if (!ev)
		return false;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->ifindex = ctx->ingress_ifindex;
	ev->rx_queue = ctx->rx_queue_index;
	ev->type = WGX_EV_HANDSHAKE;
	ev->sport = uh->source;
	ev->dport = uh->dest;
	ev->pad = 0;
	__builtin_memset(ev->pad2, 0, sizeof(ev->pad2));
	__builtin_memset(ev->saddr, 0, sizeof(ev->saddr));
	__builtin_memset(ev->daddr, 0, sizeof(ev->daddr));
	if (iph) {
		ev->family = 4;
		__builtin_memcpy(ev->saddr, &iph->saddr, 4);
		__builtin_memcpy(ev->daddr, &iph->daddr, 4);
	} else if (ip6h) {
		ev->family = 6;
		__builtin_memcpy(ev->saddr, &ip6h->saddr, 16);
		__builtin_memcpy(ev->daddr, &ip6h->daddr, 16);
	} else {
		ev->family = 0;
	}
	/* The caller checked payload + 148 <= data_end: a constant-size copy from the packet. */
	__builtin_memcpy(ev->msg, payload, WG_LEN_INITIATION);
	bpf_ringbuf_submit(ev, 0);
	return true;
}

SEC("xdp")
int wgxdp_uplink(struct xdp_md *ctx)
{
	struct cursor c = { .pos = (void *)(long)ctx->data, .end = (void *)(long)ctx->data_end };
	struct iphdr *iph = NULL;
	struct ipv6hdr *ip6h = NULL;
	struct udphdr *uh;
	struct wg_class wc;
	bool first_frag = false;
	__u32 udp_len, verdict;
	__u8 *payload;
	int proto;

	proto = parse_eth(&c);
	if (proto < 0)
		return count(ctx, WGX_C_OTHER, -proto, WGX_V_PASS);
	if (proto == bpf_htons(ETH_P_IP)) {
		proto = parse_ipv4(&c, &iph);
		if (proto >= 0)
			first_frag = iph->frag_off & bpf_htons(IP_MF);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		proto = parse_ipv6(&c, &ip6h);
	} else {
		return count(ctx, WGX_C_OTHER, WGX_R_NOT_IP, WGX_V_PASS);
	}
	if (proto < 0)
		return count(ctx, WGX_C_OTHER, -proto, WGX_V_PASS);
	if (proto != IPPROTO_UDP)
		return count(ctx, WGX_C_OTHER, WGX_R_NOT_UDP, WGX_V_PASS);

	uh = c.pos;
	if ((void *)(uh + 1) > c.end)
		return count(ctx, WGX_C_OTHER, WGX_R_TRUNCATED, WGX_V_PASS);
	if (!is_wg_port(uh->dest))
		return count(ctx, WGX_C_OTHER, WGX_R_OTHER_PORT, WGX_V_PASS);

	/* From here on the packet is addressed to WireGuard: its size comes from the UDP header. */
	verdict = cfg_drop_malformed ? WGX_V_DROP : WGX_V_PASS;
	payload = (void *)(uh + 1);
	udp_len = bpf_ntohs(uh->len);
	if (udp_len < sizeof(*uh) + 4 || payload + 4 > (__u8 *)c.end) {
		/* Not even a type word: too short for any message. */
		if (udp_len >= sizeof(*uh) && (void *)payload + (udp_len - sizeof(*uh)) <= c.end)
			return count(ctx, WGX_C_UNKNOWN, WGX_R_BAD_SIZE, verdict);
		return count(ctx, WGX_C_UNKNOWN, WGX_R_BAD_UDP_LEN, verdict);
	}
	udp_len -= sizeof(*uh);
	/*
	 * Fast path for the bulk of the traffic, a whole transport data message: type 4 with zero
	 * reserved bytes is one 32-bit compare (an unaligned packet load: fine on x86 and arm64).
	 */
	if (*(__u32 *)payload == wg_type_word(WG_MSG_DATA) && udp_len > WG_LEN_KEEPALIVE &&
	    (void *)payload + udp_len <= c.end)
		return count(ctx, WGX_C_DATA, WGX_R_OK, WGX_V_PASS);
	wc = wg_classify(payload, udp_len);
	if ((void *)payload + udp_len > c.end) {
		/* The kernel reassembles a first fragment before WireGuard sees it. */
		if (first_frag)
			return count(ctx, wc.class, WGX_R_FRAGMENT, WGX_V_PASS);
		return count(ctx, wc.class, WGX_R_BAD_UDP_LEN, verdict);
	}
	if (wc.reason != WGX_R_OK)
		return count(ctx, wc.class, wc.reason, verdict);

	if (wc.class == WGX_C_INITIATION) {
		if ((void *)payload + WG_LEN_INITIATION > c.end)	/* for the verifier */
			return count(ctx, wc.class, WGX_R_BAD_UDP_LEN, verdict);
		if (!emit_initiation(ctx, payload, uh, iph, ip6h))
			return count(ctx, wc.class, WGX_R_EVENT_LOST, WGX_V_PASS);
	}
	return count(ctx, wc.class, WGX_R_OK, WGX_V_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
