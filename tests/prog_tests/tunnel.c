// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * BPF_PROG_TEST_RUN cases for the tunnel programs (tc, run with l2_len 14: the test run
 * pushes an Ethernet header). The policy is written straight into the maps, as the daemon's
 * compiler would write it (each trie entry holds the union of every covering prefix's rules).
 * Each packet checks the verdict, that exactly one counter moved (one packet, its L3 bytes),
 * and for a denial the user's deny counter and the ring-buffer event byte for byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps/wgxdp.h"
#include "loader/tunnel.h"
#include "loader/uplink.h"
#include "tunnel.skel.h"
#include "pkt.h"
#include "test_progs.h"

#define ETH_IP 0x0800
#define ETH_IP6 0x86DD
#define ETH_ARP 0x0806
#define P_ICMP 1
#define P_TCP 6
#define P_UDP 17
#define P_GRE 47
#define P_ICMP6 58
#define TC_OK 0
#define TC_SHOT 2
#define IN WGX_TD_INGRESS
#define EG WGX_TD_EGRESS
#define USER_A 1
#define USER_B 2
#define USER_C 3
#define POL_A 100
#define POL_B 200
#define POL_C 300
#define G_WEB 1
#define G_OPS 2
#define G_PING 3
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* Users' tunnel addresses: A and B exact, C inside the tunnel prefixes 10.9.0.0/24, fd09::/64. */
static const uint8_t A4[4] = { 10, 8, 0, 2 }, B4[4] = { 10, 8, 0, 3 }, C4[4] = { 10, 9, 0, 5 };
static const uint8_t SPOOF4[4] = { 10, 66, 0, 1 };
static const uint8_t A6[16] = { 0xfd, 0x08, [15] = 2 }, B6[16] = { 0xfd, 0x08, [15] = 3 };
static const uint8_t C6[16] = { 0xfd, 0x09, [15] = 5 };
/* Remote addresses. */
static const uint8_t WEB4[4] = { 192, 0, 2, 100 }, NEST4[4] = { 192, 0, 2, 5 };
static const uint8_t HOST4[4] = { 192, 0, 2, 7 }, NEST8_4[4] = { 192, 0, 2, 8 };
static const uint8_t ROUTER4[4] = { 192, 0, 2, 1 }, ANY4[4] = { 198, 51, 100, 9 };
static const uint8_t OUT4[4] = { 8, 8, 8, 8 }, INB4[4] = { 203, 0, 113, 5 };
static const uint8_t WEB6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 9 };
static const uint8_t HOST6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 5 };
static const uint8_t INB6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x99, [15] = 7 };
static const uint8_t OUT6[16] = { 0x20, 0x01, 0x48, 0x60, [14] = 0x88, 0x88 };
static const uint8_t ROUTER6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 1 };

struct tenv {
	struct tunnel *skel;
	struct ring_buffer *rb;
	struct wgx_deny_event ev[4];
	int nr_ev;
	int inner_fds[16];
	int nr_inner;
};

static int on_ev(void *ctx, void *data, size_t len)
{
	struct tenv *e = ctx;

	if (len != sizeof(struct wgx_deny_event))
		test_fail(__FILE__, __LINE__, "%s: event of %zu bytes, expected %zu", test_case,
			  len, sizeof(struct wgx_deny_event));
	if (e->nr_ev < 4)
		memcpy(&e->ev[e->nr_ev], data, sizeof(struct wgx_deny_event));
	e->nr_ev++;
	return 0;
}

/* ---- writing the policy into the maps ---- */

static int mfd(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

static void set_cfg(struct tenv *e, bool loaded)
{
	struct wgx_tun_cfg cfg = {
		.policy_loaded = loaded, .generation = 1, .tcp_timeout_s = WGX_TUN_TCP_TIMEOUT_S,
		.tcp_close_s = WGX_TUN_TCP_CLOSE_S, .udp_timeout_s = WGX_TUN_UDP_TIMEOUT_S,
		.icmp_timeout_s = WGX_TUN_ICMP_TIMEOUT_S,
	};
	__u32 k = 0;

	ASSERT_OK(bpf_map_update_elem(mfd(e->skel->maps.wgx_tun_cfg), &k, &cfg, BPF_ANY), "cfg");
}

static void add_user(struct tenv *e, int family, const uint8_t *addr, int plen, __u32 user,
		     __u32 policy)
{
	struct wgx_tun_user u = { .user_id = user, .policy_id = policy };
	struct wgx_lpm6 k6 = { .prefixlen = plen };
	struct wgx_lpm4 k4 = { .prefixlen = plen };
	int err;

	if (family == 4 && plen == 32) {
		err = bpf_map_update_elem(mfd(e->skel->maps.wgx_tun_addr4), addr, &u, BPF_ANY);
	} else if (family == 6 && plen == 128) {
		err = bpf_map_update_elem(mfd(e->skel->maps.wgx_tun_addr6), addr, &u, BPF_ANY);
	} else if (family == 4) {
		memcpy(&k4.addr, addr, 4);
		err = bpf_map_update_elem(mfd(e->skel->maps.wgx_tun_net4), &k4, &u, BPF_ANY);
	} else {
		memcpy(k6.addr, addr, 16);
		err = bpf_map_update_elem(mfd(e->skel->maps.wgx_tun_net6), &k6, &u, BPF_ANY);
	}
	ASSERT_OK(err, "add user");
}

/* The inner trie of policy in outer, created (like the template) and inserted if missing. */
static int inner_trie(struct tenv *e, int outer_fd, int family, __u32 policy)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
	__u32 id;
	int fd;

	if (!bpf_map_lookup_elem(outer_fd, &policy, &id)) {
		fd = bpf_map_get_fd_by_id(id);
		if (fd >= 0 && e->nr_inner < 16)
			e->inner_fds[e->nr_inner++] = fd;
		return fd;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "wgx_test_trie",
			    family == 4 ? sizeof(struct wgx_lpm4) : sizeof(struct wgx_lpm6),
			    sizeof(struct wgx_tun_rules), WGX_TUN_MAX_PREFIXES, &mo);
	if (!ASSERT_TRUE(fd >= 0, "create inner trie"))
		return -1;
	if (!ASSERT_OK(bpf_map_update_elem(outer_fd, &policy, &fd, BPF_ANY), "insert inner trie"))
		return -1;
	if (e->nr_inner < 16)
		e->inner_fds[e->nr_inner++] = fd;
	return fd;
}

#define RULE(p, lo, hi, g, i) { .proto = p, .port_lo = lo, .port_hi = hi, .group_id = g, .rule_idx = i }
#define RULE_ANY(p, g, i) { .proto = p, .flags = WGX_RULE_F_ANY_PORT, .port_hi = 65535, .group_id = g, .rule_idx = i }

static void add_rules(struct tenv *e, bool inbound, int family, __u32 policy, const uint8_t *pfx,
		      int plen, const struct wgx_tun_rule *rules, int nr)
{
	struct bpf_map *outer = family == 4 ? (inbound ? e->skel->maps.wgx_tun_in4 :
							 e->skel->maps.wgx_tun_pol4) :
					      (inbound ? e->skel->maps.wgx_tun_in6 :
							 e->skel->maps.wgx_tun_pol6);
	struct wgx_tun_rules v = { .nr = nr };
	struct wgx_lpm6 k6 = { .prefixlen = plen };
	struct wgx_lpm4 k4 = { .prefixlen = plen };
	int fd = inner_trie(e, mfd(outer), family, policy);

	if (fd < 0)
		return;
	memcpy(v.rule, rules, nr * sizeof(*rules));
	if (family == 4)
		memcpy(&k4.addr, pfx, 4);
	else
		memcpy(k6.addr, pfx, 16);
	ASSERT_OK(bpf_map_update_elem(fd, family == 4 ? (void *)&k4 : (void *)&k6, &v, BPF_ANY),
		  "add rules");
}

/* The world every test runs in (see the top of the file). */
static void load_policy(struct tenv *e)
{
	static const uint8_t n24[4] = { 192, 0, 2, 0 }, any24[4] = { 198, 51, 100, 0 };
	static const uint8_t in24[4] = { 203, 0, 113, 0 }, zero4[4] = {};
	static const uint8_t n48[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1 };
	static const uint8_t in48[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x99 }, zero6[16] = {};
	static const uint8_t cnet4[4] = { 10, 9, 0, 0 }, cnet6[16] = { 0xfd, 0x09 };
	const struct wgx_tun_rule web[] = { RULE(P_TCP, 80, 443, G_WEB, 0) };
	const struct wgx_tun_rule web_dns[] = { RULE(P_TCP, 80, 443, G_WEB, 0),
						RULE(P_UDP, 53, 53, G_OPS, 1) };
	const struct wgx_tun_rule web_dns_ssh[] = { RULE(P_TCP, 80, 443, G_WEB, 0),
						    RULE(P_UDP, 53, 53, G_OPS, 1),
						    RULE(P_TCP, 22, 22, G_OPS, 2) };
	const struct wgx_tun_rule anything[] = { RULE_ANY(0, G_OPS, 3) };
	const struct wgx_tun_rule https6[] = { RULE(P_TCP, 443, 443, G_WEB, 1) };
	const struct wgx_tun_rule https6_udp[] = { RULE(P_TCP, 443, 443, G_WEB, 1),
						   RULE_ANY(P_UDP, G_OPS, 4) };
	const struct wgx_tun_rule ssh_in[] = { RULE(P_TCP, 22, 22, G_OPS, 0) };
	const struct wgx_tun_rule ping6_in[] = { RULE_ANY(P_ICMP6, G_OPS, 1) };
	const struct wgx_tun_rule ping4[] = { RULE_ANY(P_ICMP, G_PING, 0) };
	const struct wgx_tun_rule ping6[] = { RULE_ANY(P_ICMP6, G_PING, 1) };

	add_user(e, 4, A4, 32, USER_A, POL_A);
	add_user(e, 6, A6, 128, USER_A, POL_A);
	add_user(e, 4, B4, 32, USER_B, POL_B);
	add_user(e, 6, B6, 128, USER_B, POL_B);
	add_user(e, 4, cnet4, 24, USER_C, POL_C);
	add_user(e, 6, cnet6, 64, USER_C, POL_C);

	/* A: web (tcp 80-443 to 192.0.2.0/24) + ops (udp 53 to 192.0.2.0/28, ssh to .7,
	 * anything to 198.51.100.0/24); nested entries hold the union */
	add_rules(e, false, 4, POL_A, n24, 24, web, 1);
	add_rules(e, false, 4, POL_A, n24, 28, web_dns, 2);
	add_rules(e, false, 4, POL_A, HOST4, 32, web_dns_ssh, 3);
	add_rules(e, false, 4, POL_A, any24, 24, anything, 1);
	add_rules(e, false, 6, POL_A, n48, 48, https6, 1);
	add_rules(e, false, 6, POL_A, HOST6, 128, https6_udp, 2);
	add_rules(e, true, 4, POL_A, in24, 24, ssh_in, 1);
	add_rules(e, true, 6, POL_A, in48, 48, ping6_in, 1);
	/* B: web over IPv4 only */
	add_rules(e, false, 4, POL_B, n24, 24, web, 1);
	/* C: ping anywhere (/0) */
	add_rules(e, false, 4, POL_C, zero4, 0, ping4, 1);
	add_rules(e, false, 6, POL_C, zero6, 0, ping6, 1);
}

static __u32 tenv_max_flows;	/* the flow table's size for the next tenv_open (0: default) */

static bool tenv_open(struct tenv *e)
{
	struct bpf_map *m;

	memset(e, 0, sizeof(*e));
	e->skel = tunnel__open();
	if (!ASSERT_TRUE(e->skel != NULL, "tunnel__open"))
		return false;
	bpf_object__for_each_map(m, e->skel->obj)
		bpf_map__set_pin_path(m, NULL);	/* never touch the real pin directory */
	e->skel->rodata->l2_len = 14;		/* the test run pushes an Ethernet header */
	if (tenv_max_flows)
		bpf_map__set_max_entries(e->skel->maps.wgx_flows, tenv_max_flows);
	if (!ASSERT_OK(tunnel__load(e->skel), "tunnel__load"))
		return false;
	e->rb = ring_buffer__new(mfd(e->skel->maps.wgx_tun_events), on_ev, e, NULL);
	if (!ASSERT_TRUE(e->rb != NULL, "ring_buffer__new"))
		return false;
	load_policy(e);
	set_cfg(e, true);
	return true;
}

static void tenv_close(struct tenv *e)
{
	int i;

	for (i = 0; i < e->nr_inner; i++)
		close(e->inner_fds[i]);
	ring_buffer__free(e->rb);
	tunnel__destroy(e->skel);
}

/* ---- running packets ---- */

static void read_ctrs(struct tenv *e, struct wgx_counter *out)
{
	__u32 k;

	for (k = 0; k < WGX_TUN_CTR_ENTRIES; k++)
		wgx_counter_read(mfd(e->skel->maps.wgx_tun_counters), k, &out[k]);
}

static struct wgx_tun_deny_count read_denies(struct tenv *e, __u32 user)
{
	struct wgx_tun_deny_count sum = {}, v[512];
	int ncpu = libbpf_num_possible_cpus(), i;

	if (ncpu > 512 || bpf_map_lookup_elem(mfd(e->skel->maps.wgx_tun_denies), &user, v))
		return sum;
	for (i = 0; i < ncpu; i++) {
		sum.denied += v[i].denied;
		sum.events_held += v[i].events_held;
	}
	return sum;
}

static void clear_map(int fd, size_t key_size)
{
	char key[64], next[64];

	while (!bpf_map_get_next_key(fd, NULL, next)) {
		memcpy(key, next, key_size);
		if (bpf_map_delete_elem(fd, key))
			break;
	}
}

static int run_prog(struct tenv *e, const struct pkt *p, int dir, int repeat, int *retval)
{
	struct bpf_program *prog = dir == IN ? e->skel->progs.wgx_tun_ingress :
					       e->skel->progs.wgx_tun_egress;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->buf, .data_size_in = p->len,
		    .repeat = repeat);
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &o);
	*retval = o.retval;
	return err ? -errno : 0;
}

/* The event a denied packet should give, from the packet as built. */
static void expect_event(const struct pkt *p, int dir, int reason, __u32 user,
			 struct wgx_deny_event *x)
{
	const uint8_t *ip = p->buf + p->l3_off, *l4 = p->buf + p->l4_off;
	bool frag = false;

	memset(x, 0, sizeof(*x));
	x->user_id = user;
	x->dir = dir;
	x->reason = reason;
	if (ip[0] >> 4 == 4) {
		x->family = 4;
		x->proto = ip[9];
		frag = ((ip[6] << 8 | ip[7]) & 0x1fff) != 0;
		memcpy(x->saddr, ip + 12, 4);
		memcpy(x->daddr, ip + 16, 4);
	} else {
		x->family = 6;
		x->proto = p->l4_off >= 0 ? p->l4_proto : ip[6];
		memcpy(x->saddr, ip + 8, 16);
		memcpy(x->daddr, ip + 24, 16);
	}
	if (p->l4_off < 0 || frag)
		return;
	if (x->proto == P_TCP || x->proto == P_UDP) {
		memcpy(&x->sport, l4, 2);
		memcpy(&x->dport, l4 + 2, 2);
	} else if (x->proto == P_ICMP || x->proto == P_ICMP6) {
		x->sport = htons(l4[0] << 8 | l4[1]);
		if (l4[0] == 0 || l4[0] == 8 || l4[0] == 128 || l4[0] == 129)
			memcpy(&x->dport, l4 + 4, 2);
	}
}

/*
 * Aging an entry by sec seconds needs its timestamp (CLOCK_MONOTONIC, as bpf_ktime_get_ns)
 * past sec: in a guest booted a few seconds ago it is not, and the age would wrap. Wait,
 * before the entry is made.
 */
static void clock_past(unsigned int sec)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	if (t.tv_sec < (time_t)sec + 1)
		sleep(sec + 1 - t.tv_sec);
}

/*
 * Send one packet in direction dir; it must land in reason's counter (and nowhere else) with
 * the matching verdict; a denial must count for user and send its event.
 */
static bool send_pkt(struct tenv *e, struct pkt *p, int dir, int reason, __u32 user)
{
	static struct wgx_counter before[WGX_TUN_CTR_ENTRIES], after[WGX_TUN_CTR_ENTRIES];
	bool deny = reason == WGX_TR_DENIED || reason == WGX_TR_UNSOLICITED ||
		    reason == WGX_TR_UNKNOWN_SOURCE || reason == WGX_TR_UNKNOWN_DEST;
	struct wgx_tun_deny_count d0, d1;
	struct wgx_deny_event x;
	__u32 k, want = WGX_TUN_CTR(dir, reason);
	int retval, ok = test_failures;
	struct timespec now;

	pkt_finish(p);
	clear_map(mfd(e->skel->maps.wgx_tun_evrl), 4);	/* a full bucket for every case */
	read_ctrs(e, before);
	d0 = read_denies(e, user);
	e->nr_ev = 0;
	if (!ASSERT_OK(run_prog(e, p, dir, 1, &retval), "bpf_prog_test_run_opts"))
		return false;
	ASSERT_EQ(retval, reason < WGX_TR_PASS_MAX ? TC_OK : TC_SHOT, "verdict");
	read_ctrs(e, after);
	for (k = 0; k < WGX_TUN_CTR_ENTRIES; k++) {
		__u64 dp = after[k].packets - before[k].packets;
		__u64 db = after[k].bytes - before[k].bytes;

		if (k == want) {
			ASSERT_EQ(dp, 1, "packets in the expected counter");
			ASSERT_EQ(db, p->len - 14, "L3 bytes in the expected counter");
		} else if (dp || db) {
			test_fail(__FILE__, __LINE__, "%s: counter %s/%s moved by %llu (expected %s/%s)",
				  test_case, wgx_tun_dir_name(k / WGX_TR__MAX),
				  wgx_tun_reason_name(k % WGX_TR__MAX), (unsigned long long)dp,
				  wgx_tun_dir_name(dir), wgx_tun_reason_name(reason));
		}
	}
	d1 = read_denies(e, user);
	ASSERT_EQ(d1.denied - d0.denied, deny ? 1 : 0, "user's deny counter");
	ASSERT_EQ(d1.events_held - d0.events_held, 0, "events held back");
	ring_buffer__consume(e->rb);
	ASSERT_EQ(e->nr_ev, deny ? 1 : 0, "ring-buffer events");
	if (deny && e->nr_ev == 1) {
		expect_event(p, dir, reason, user, &x);
		clock_gettime(CLOCK_MONOTONIC, &now);
		ASSERT_TRUE(e->ev[0].ts_ns > 0 &&
			    e->ev[0].ts_ns <= (__u64)now.tv_sec * 1000000000ull + now.tv_nsec,
			    "event timestamp is CLOCK_MONOTONIC and in the past");
		x.ts_ns = e->ev[0].ts_ns;
		ASSERT_MEMEQ(&e->ev[0], &x, sizeof(x), "event bytes");
	}
	return test_failures == ok;
}

/* ---- packets ---- */

static void ip4(struct pkt *p, uint8_t proto, const uint8_t *src, const uint8_t *dst)
{
	pkt_eth(p, ETH_IP);
	pkt_ipv4(p, proto, 0, 0);
	pkt_addrs4(p, src, dst);
}

static void ip6(struct pkt *p, uint8_t proto, const uint8_t *src, const uint8_t *dst)
{
	pkt_eth(p, ETH_IP6);
	pkt_ipv6(p, proto);
	pkt_addrs6(p, src, dst);
}

static void tcp4(struct pkt *p, const uint8_t *src, uint16_t sp, const uint8_t *dst, uint16_t dp)
{
	pkt_init(p);
	ip4(p, P_TCP, src, dst);
	pkt_tcp(p, sp, dp);
	pkt_bytes(p, "GET / HTTP/1.1\r\n", 16);
}

static void udp4(struct pkt *p, const uint8_t *src, uint16_t sp, const uint8_t *dst, uint16_t dp)
{
	pkt_init(p);
	ip4(p, P_UDP, src, dst);
	pkt_udp(p, sp, dp);
	pkt_bytes(p, "query", 5);
}

static void icmp4(struct pkt *p, const uint8_t *src, const uint8_t *dst, uint8_t type, uint16_t id)
{
	pkt_init(p);
	ip4(p, P_ICMP, src, dst);
	pkt_icmp(p, type, 0, id);
	pkt_bytes(p, "ping-payload", 12);
}

static void tcp6(struct pkt *p, const uint8_t *src, uint16_t sp, const uint8_t *dst, uint16_t dp)
{
	pkt_init(p);
	ip6(p, P_TCP, src, dst);
	pkt_tcp(p, sp, dp);
}

static void udp6(struct pkt *p, const uint8_t *src, uint16_t sp, const uint8_t *dst, uint16_t dp)
{
	pkt_init(p);
	ip6(p, P_UDP, src, dst);
	pkt_udp(p, sp, dp);
	pkt_bytes(p, "query6", 6);
}

static void icmp6(struct pkt *p, const uint8_t *src, const uint8_t *dst, uint8_t type, uint16_t id)
{
	pkt_init(p);
	ip6(p, P_ICMP6, src, dst);
	pkt_icmp(p, type, 0, id);
	pkt_bytes(p, "ping6", 5);
}

/* An ICMP error from `from` to `to`, quoting a UDP or TCP packet qsrc:qsp -> qdst:qdp. */
static void icmp4_err(struct pkt *p, const uint8_t *from, const uint8_t *to, uint8_t type,
		      uint8_t code, uint8_t qproto, const uint8_t *qsrc, uint16_t qsp,
		      const uint8_t *qdst, uint16_t qdp)
{
	pkt_init(p);
	ip4(p, P_ICMP, from, to);
	pkt_icmp_error(p, type, code);
	pkt_ipv4(p, qproto, 0, 0);
	pkt_addrs4(p, qsrc, qdst);
	if (qproto == P_TCP)
		pkt_tcp(p, qsp, qdp);
	else
		pkt_udp(p, qsp, qdp);
}

static void icmp6_err(struct pkt *p, const uint8_t *from, const uint8_t *to, uint8_t type,
		      uint8_t qproto, const uint8_t *qsrc, uint16_t qsp, const uint8_t *qdst,
		      uint16_t qdp)
{
	pkt_init(p);
	ip6(p, P_ICMP6, from, to);
	pkt_icmp_error(p, type, 0);
	pkt_ipv6(p, qproto);
	pkt_addrs6(p, qsrc, qdst);
	if (qproto == P_TCP)
		pkt_tcp(p, qsp, qdp);
	else
		pkt_udp(p, qsp, qdp);
}

/* ---- table: single packets, no state needed ---- */

struct tcase {
	const char *name;
	void (*build)(struct pkt *p);
	int dir, reason;
	__u32 user;		/* whose deny counter and event (WGX_USER_NONE if unknown) */
};

static void b_web_lo(struct pkt *p) { tcp4(p, A4, 41000, WEB4, 80); }
static void b_web_hi(struct pkt *p) { tcp4(p, A4, 41001, WEB4, 443); }
static void b_web_past(struct pkt *p) { tcp4(p, A4, 41002, WEB4, 444); }
static void b_web_below(struct pkt *p) { tcp4(p, A4, 41003, WEB4, 79); }
static void b_web_udp(struct pkt *p) { udp4(p, A4, 41004, WEB4, 80); }
static void b_dns_nested(struct pkt *p) { udp4(p, A4, 41005, NEST4, 53); }
static void b_dns_outside28(struct pkt *p) { udp4(p, A4, 41006, WEB4, 53); }
static void b_dns_port54(struct pkt *p) { udp4(p, A4, 41007, NEST4, 54); }
static void b_ssh_host32(struct pkt *p) { tcp4(p, A4, 41008, HOST4, 22); }
static void b_web_host32(struct pkt *p) { tcp4(p, A4, 41009, HOST4, 8080); }
static void b_ssh_nest(struct pkt *p) { tcp4(p, A4, 41010, NEST8_4, 22); }
static void b_web_nest_host(struct pkt *p) { tcp4(p, A4, 41011, HOST4, 443); }
static void b_any_gre(struct pkt *p) { pkt_init(p); ip4(p, P_GRE, A4, ANY4); pkt_bytes(p, "\0\0\x08\0", 4); }
static void b_any_udp(struct pkt *p) { udp4(p, A4, 41012, ANY4, 9999); }
static void b_outside(struct pkt *p) { tcp4(p, A4, 41013, OUT4, 443); }
static void b_ping_a(struct pkt *p) { icmp4(p, A4, WEB4, 8, 7); }
static void b_ping_c_any(struct pkt *p) { icmp4(p, C4, OUT4, 8, 8); }
static void b_udp_c_any(struct pkt *p) { udp4(p, C4, 41014, OUT4, 53); }
static void b_frag_dns(struct pkt *p)
{
	pkt_init(p); pkt_eth(p, ETH_IP); pkt_ipv4(p, P_UDP, 0, 185); pkt_addrs4(p, A4, NEST4);
	pkt_bytes(p, "rest of the datagram", 20);
}
static void b_frag_any(struct pkt *p)
{
	pkt_init(p); pkt_eth(p, ETH_IP); pkt_ipv4(p, P_UDP, 0, 185); pkt_addrs4(p, A4, ANY4);
	pkt_bytes(p, "rest of the datagram", 20);
}
static void b_first_frag_dns(struct pkt *p)
{
	pkt_init(p); pkt_eth(p, ETH_IP); pkt_ipv4(p, P_UDP, 0, 0x2000); pkt_addrs4(p, A4, NEST4);
	pkt_udp(p, 41015, 53); pkt_bytes(p, "first part", 10); p->udp_len_override = 500;
}
static void b_spoof(struct pkt *p) { tcp4(p, SPOOF4, 41016, WEB4, 80); }
static void b_spoof6(struct pkt *p) { udp6(p, OUT6, 41017, WEB6, 443); }
static void b_web6(struct pkt *p) { tcp6(p, A6, 41018, WEB6, 443); }
static void b_web6_80(struct pkt *p) { tcp6(p, A6, 41019, WEB6, 80); }
static void b_udp6_host(struct pkt *p) { udp6(p, A6, 41020, HOST6, 5000); }
static void b_udp6_net(struct pkt *p) { udp6(p, A6, 41021, WEB6, 5000); }
static void b_ping6_c(struct pkt *p) { icmp6(p, C6, OUT6, 128, 9); }
static void b_ping6_a(struct pkt *p) { icmp6(p, A6, OUT6, 128, 10); }
static void b_b_v6(struct pkt *p) { tcp6(p, B6, 41022, WEB6, 443); }
static void b_b_v4(struct pkt *p) { tcp4(p, B4, 41023, WEB4, 443); }
static void b_web6_ext(struct pkt *p)
{
	pkt_init(p); pkt_eth(p, ETH_IP6); pkt_ipv6(p, 0); pkt_addrs6(p, A6, WEB6);
	pkt_ipv6_ext(p, 60, 0); pkt_ipv6_ext(p, P_TCP, 1); pkt_tcp(p, 41024, 443);
}
static void b_frag6_first(struct pkt *p)
{
	pkt_init(p); pkt_eth(p, ETH_IP6); pkt_ipv6(p, 44); pkt_addrs6(p, A6, HOST6);
	pkt_ipv6_frag(p, P_UDP, 0x0001); pkt_udp(p, 41025, 5000);
}
static void b_frag6_later_any(struct pkt *p)
{
	pkt_init(p); pkt_eth(p, ETH_IP6); pkt_ipv6(p, 44); pkt_addrs6(p, A6, HOST6);
	pkt_ipv6_frag(p, P_UDP, 0x0100); pkt_bytes(p, "more", 4);
}
static void b_frag6_later_alone(struct pkt *p)
{
	b_frag6_later_any(p); pkt_frag_id(p, 0x0badf00d);
}
static void b_arp(struct pkt *p) { pkt_init(p); pkt_eth(p, ETH_ARP); pkt_bytes(p, "arp-who-has-1234567890123456", 28); }
/* the test run refuses IP headers shorter than their fixed part: truncate what follows */
static void b_trunc4(struct pkt *p)
{
	pkt_init(p); pkt_eth(p, ETH_IP); pkt_ipv4(p, P_TCP, 40, 0); pkt_addrs4(p, A4, WEB4);
	pkt_finish(p); pkt_truncate(p, 14 + 40);
}
static void b_trunc_tcp(struct pkt *p) { tcp4(p, A4, 41027, WEB4, 80); pkt_finish(p); pkt_truncate(p, 14 + 20 + 10); }
static void b_ihl4(struct pkt *p) { tcp4(p, A4, 41028, WEB4, 80); pkt_finish(p); pkt_ipv4_ihl(p, 4); }
static void b_v6_in_v4(struct pkt *p) { tcp4(p, A4, 41029, WEB4, 80); pkt_finish(p); p->buf[14] = 0x65; }
static void b_trunc6(struct pkt *p)
{
	pkt_init(p); pkt_eth(p, ETH_IP6); pkt_ipv6(p, 0); pkt_addrs6(p, A6, WEB6);
	pkt_bytes(p, "\x06", 1);
}
static void b_eg_unknown(struct pkt *p) { tcp4(p, WEB4, 80, SPOOF4, 41031); }
static void b_eg_unknown6(struct pkt *p) { tcp6(p, WEB6, 443, OUT6, 41032); }
static void b_eg_unsolicited(struct pkt *p) { tcp4(p, WEB4, 80, A4, 41033); }
static void b_eg_unsolicited6(struct pkt *p) { udp6(p, HOST6, 53, A6, 41034); }
static void b_eg_ssh_in(struct pkt *p) { tcp4(p, INB4, 50000, A4, 22); }
static void b_eg_telnet_in(struct pkt *p) { tcp4(p, INB4, 50001, A4, 23); }
static void b_eg_ping6_in(struct pkt *p) { icmp6(p, INB6, A6, 128, 11); }
static void b_eg_ping4_in(struct pkt *p) { icmp4(p, INB4, A4, 8, 12); }
static void b_eg_net_c(struct pkt *p) { icmp4(p, OUT4, C4, 0, 999); }

#define DENY(d, r, u) d, WGX_TR_##r, u
#define PASS(d, r) d, WGX_TR_##r, 0

static const struct tcase cases[] = {
	/* ports at the edges of a range, and one past */
	{ "tcp to the low edge of 80-443", b_web_lo, PASS(IN, ALLOWED) },
	{ "tcp to the high edge of 80-443", b_web_hi, PASS(IN, ALLOWED) },
	{ "tcp to 444, one past the range", b_web_past, DENY(IN, DENIED, USER_A) },
	{ "tcp to 79, one below the range", b_web_below, DENY(IN, DENIED, USER_A) },
	{ "udp to a tcp-only port", b_web_udp, DENY(IN, DENIED, USER_A) },
	/* nested and overlapping prefixes of two groups */
	{ "udp 53 in the nested /28 (ops)", b_dns_nested, PASS(IN, ALLOWED) },
	{ "udp 53 in the /24 outside the /28", b_dns_outside28, DENY(IN, DENIED, USER_A) },
	{ "udp 54 in the /28", b_dns_port54, DENY(IN, DENIED, USER_A) },
	{ "ssh to the /32", b_ssh_host32, PASS(IN, ALLOWED) },
	{ "the /32 keeps the wider web rule", b_web_nest_host, PASS(IN, ALLOWED) },
	{ "the /32 does not allow 8080", b_web_host32, DENY(IN, DENIED, USER_A) },
	{ "ssh to the /28 next to the /32", b_ssh_nest, DENY(IN, DENIED, USER_A) },
	{ "any protocol rule: gre", b_any_gre, PASS(IN, ALLOWED) },
	{ "any protocol rule: udp, any port", b_any_udp, PASS(IN, ALLOWED) },
	{ "destination in no prefix", b_outside, DENY(IN, DENIED, USER_A) },
	{ "icmp echo without an icmp rule", b_ping_a, DENY(IN, DENIED, USER_A) },
	/* /0 and a user found by its tunnel prefix */
	{ "icmp echo to /0 from a prefix user", b_ping_c_any, PASS(IN, ALLOWED) },
	{ "udp to /0 with an icmp-only rule", b_udp_c_any, DENY(IN, DENIED, USER_C) },
	{ "icmpv6 echo to ::/0", b_ping6_c, PASS(IN, ALLOWED) },
	{ "icmpv6 echo without a rule", b_ping6_a, DENY(IN, DENIED, USER_A) },
	/* fragments: a later fragment has no ports of its own (more in tunnel_fragments) */
	{ "ipv4 later fragment without its first, port rule", b_frag_dns, IN,
	  WGX_TR_FRAG_UNKNOWN, 0 },
	{ "ipv4 later fragment without its first, any-port rule", b_frag_any, IN,
	  WGX_TR_FRAG_UNKNOWN, 0 },
	{ "ipv4 first fragment has ports", b_first_frag_dns, PASS(IN, ALLOWED) },
	{ "ipv6 first fragment has ports", b_frag6_first, PASS(IN, ALLOWED) },
	{ "ipv6 later fragment after its first", b_frag6_later_any, PASS(IN, ALLOWED) },
	{ "ipv6 later fragment of another datagram", b_frag6_later_alone, IN,
	  WGX_TR_FRAG_UNKNOWN, 0 },
	/* IPv6 */
	{ "ipv6 tcp 443 in the /48", b_web6, PASS(IN, ALLOWED) },
	{ "ipv6 tcp 80 in the /48", b_web6_80, DENY(IN, DENIED, USER_A) },
	{ "ipv6 udp to the /128 (any port)", b_udp6_host, PASS(IN, ALLOWED) },
	{ "ipv6 udp to the /48", b_udp6_net, DENY(IN, DENIED, USER_A) },
	{ "ipv6 tcp 443 after two extension headers", b_web6_ext, PASS(IN, ALLOWED) },
	/* who sends */
	{ "spoofed ipv4 source", b_spoof, DENY(IN, UNKNOWN_SOURCE, WGX_USER_NONE) },
	{ "spoofed ipv6 source", b_spoof6, DENY(IN, UNKNOWN_SOURCE, WGX_USER_NONE) },
	{ "user with ipv4 rules only, over ipv4", b_b_v4, PASS(IN, ALLOWED) },
	{ "user with ipv4 rules only, over ipv6", b_b_v6, DENY(IN, DENIED, USER_B) },
	/* not judged */
	{ "arp", b_arp, IN, WGX_TR_NOT_IP, 0 },
	{ "ipv4 options run past the end", b_trunc4, IN, WGX_TR_TRUNCATED, 0 },
	{ "tcp header truncated", b_trunc_tcp, IN, WGX_TR_TRUNCATED, 0 },
	{ "ipv4 ihl 4", b_ihl4, IN, WGX_TR_BAD_IP, 0 },
	{ "version 6 in an ipv4 packet", b_v6_in_v4, IN, WGX_TR_BAD_IP, 0 },
	{ "ipv6 extension header truncated", b_trunc6, IN, WGX_TR_TRUNCATED, 0 },
	{ "egress arp", b_arp, EG, WGX_TR_NOT_IP, 0 },
	/* towards users, no flow */
	{ "egress to an unknown address", b_eg_unknown, DENY(EG, UNKNOWN_DEST, WGX_USER_NONE) },
	{ "egress to an unknown ipv6 address", b_eg_unknown6,
	  DENY(EG, UNKNOWN_DEST, WGX_USER_NONE) },
	{ "unsolicited tcp", b_eg_unsolicited, DENY(EG, UNSOLICITED, USER_A) },
	{ "unsolicited ipv6 udp", b_eg_unsolicited6, DENY(EG, UNSOLICITED, USER_A) },
	{ "inbound rule: ssh from 203.0.113.0/24", b_eg_ssh_in, PASS(EG, INBOUND) },
	{ "inbound rule does not cover port 23", b_eg_telnet_in, DENY(EG, UNSOLICITED, USER_A) },
	{ "inbound rule: icmpv6 echo", b_eg_ping6_in, PASS(EG, INBOUND) },
	{ "no inbound icmp rule over ipv4", b_eg_ping4_in, DENY(EG, UNSOLICITED, USER_A) },
	{ "echo reply to a prefix user, no flow", b_eg_net_c, DENY(EG, UNSOLICITED, USER_C) },
};

void test_tunnel_policy(void)
{
	struct tenv e;
	struct pkt p;
	size_t i;

	if (!tenv_open(&e))
		return;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];

		test_case = c->name;
		pkt_init(&p);
		c->build(&p);
		send_pkt(&e, &p, c->dir, c->reason, c->user);
	}
	tenv_close(&e);
}

/* ---- flows: replies, inbound, related ICMP errors, TCP flags, expiry ---- */

static void key4(struct wgx_flow_key *k, uint8_t proto, const uint8_t *u, uint16_t up,
		 const uint8_t *r, uint16_t rp)
{
	memset(k, 0, sizeof(*k));
	k->family = 4;
	k->proto = proto;
	k->uport = htons(up);
	k->rport = htons(rp);
	memcpy(k->uaddr, u, 4);
	memcpy(k->raddr, r, 4);
}

static bool get_flow(struct tenv *e, const struct wgx_flow_key *k, struct wgx_flow *f)
{
	return ASSERT_OK(bpf_map_lookup_elem(mfd(e->skel->maps.wgx_flows), k, f) ? -errno : 0,
			 "flow in wgx_flows");
}

void test_tunnel_flows(void)
{
	struct wgx_flow_key k;
	struct wgx_flow f;
	struct tenv e;
	struct pkt p;
	__u64 out_len, in_len;

	clock_past(12);		/* a flow is aged by 11 s below: its stamp must be past that */
	if (!tenv_open(&e))
		return;

	test_case = "reply to a tcp flow";
	tcp4(&p, A4, 42000, WEB4, 443);
	pkt_tcp_flags(&p, TCP_SYN);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	out_len = p.len - 14;
	tcp4(&p, WEB4, 443, A4, 42000);
	pkt_tcp_flags(&p, TCP_SYN | TCP_ACK);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_A);
	in_len = p.len - 14;
	key4(&k, P_TCP, A4, 42000, WEB4, 443);
	if (get_flow(&e, &k, &f)) {
		ASSERT_EQ(f.pkts_out, 1, "pkts_out");
		ASSERT_EQ(f.bytes_out, out_len, "bytes_out");
		ASSERT_EQ(f.pkts_in, 1, "pkts_in");
		ASSERT_EQ(f.bytes_in, in_len, "bytes_in");
		ASSERT_EQ(f.user_id, USER_A, "user_id");
		ASSERT_EQ(f.group_id, G_WEB, "group_id");
		ASSERT_EQ(f.rule_idx, 0, "rule_idx");
		ASSERT_EQ(f.flags, 0, "flags");
		ASSERT_TRUE(f.first_ns > 0 && f.first_ns <= f.last_ns, "first_ns <= last_ns");
	}
	test_case = "same port from another remote port is not a reply";
	tcp4(&p, WEB4, 444, A4, 42000);
	send_pkt(&e, &p, EG, WGX_TR_UNSOLICITED, USER_A);

	test_case = "tcp FIN and RST in the flow";
	tcp4(&p, A4, 42000, WEB4, 443);
	pkt_tcp_flags(&p, TCP_FIN | TCP_ACK);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	if (get_flow(&e, &k, &f)) {
		ASSERT_EQ(f.flags, WGX_FLOW_F_FIN_OUT, "flags after the user's FIN");
		ASSERT_EQ(f.pkts_out, 2, "pkts_out");
	}
	tcp4(&p, WEB4, 443, A4, 42000);
	pkt_tcp_flags(&p, TCP_FIN | TCP_ACK);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_A);
	if (get_flow(&e, &k, &f))
		ASSERT_EQ(f.flags, WGX_FLOW_F_FIN_OUT | WGX_FLOW_F_FIN_IN, "flags after both FINs");
	tcp4(&p, WEB4, 443, A4, 42000);
	pkt_tcp_flags(&p, TCP_RST);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_A);
	if (get_flow(&e, &k, &f)) {
		ASSERT_EQ(f.flags, WGX_FLOW_F_FIN_OUT | WGX_FLOW_F_FIN_IN | WGX_FLOW_F_RST,
			  "flags after RST");
		ASSERT_EQ(f.pkts_in, 3, "pkts_in");
		/* closed: tcp_close_s (10 s) after the last packet it is gone */
		test_case = "closed tcp flow expires after tcp_close_s";
		f.last_ns -= 11 * 1000000000ull;
		ASSERT_OK(bpf_map_update_elem(mfd(e.skel->maps.wgx_flows), &k, &f, BPF_EXIST),
			  "age the flow");
		tcp4(&p, WEB4, 443, A4, 42000);
		send_pkt(&e, &p, EG, WGX_TR_UNSOLICITED, USER_A);
	}
	test_case = "user RST";
	tcp4(&p, A4, 42003, WEB4, 80);
	pkt_tcp_flags(&p, TCP_RST);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	key4(&k, P_TCP, A4, 42003, WEB4, 80);
	if (get_flow(&e, &k, &f))
		ASSERT_EQ(f.flags, WGX_FLOW_F_RST, "flags after the user's RST");

	test_case = "udp reply";
	udp4(&p, A4, 42001, NEST4, 53);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	key4(&k, P_UDP, A4, 42001, NEST4, 53);
	if (get_flow(&e, &k, &f)) {
		ASSERT_EQ(f.group_id, G_OPS, "udp flow's group");
		ASSERT_EQ(f.rule_idx, 1, "udp flow's rule");
	}
	udp4(&p, NEST4, 53, A4, 42001);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_A);

	test_case = "icmp frag needed about a flow: related";
	icmp4_err(&p, ROUTER4, A4, 3, 4, P_UDP, A4, 42001, NEST4, 53);
	send_pkt(&e, &p, EG, WGX_TR_RELATED, USER_A);
	test_case = "icmp port unreachable about a tcp flow: related";
	tcp4(&p, A4, 42004, HOST4, 22);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	icmp4_err(&p, HOST4, A4, 3, 3, P_TCP, A4, 42004, HOST4, 22);
	send_pkt(&e, &p, EG, WGX_TR_RELATED, USER_A);
	test_case = "icmp frag needed about no flow: unsolicited";
	icmp4_err(&p, ROUTER4, A4, 3, 4, P_UDP, A4, 42999, NEST4, 53);
	send_pkt(&e, &p, EG, WGX_TR_UNSOLICITED, USER_A);
	test_case = "icmp error about another user's flow: unsolicited";
	icmp4_err(&p, ROUTER4, B4, 3, 4, P_UDP, A4, 42001, NEST4, 53);
	send_pkt(&e, &p, EG, WGX_TR_UNSOLICITED, USER_B);
	test_case = "icmp time exceeded about a flow: related";
	icmp4_err(&p, ROUTER4, A4, 11, 0, P_UDP, A4, 42001, NEST4, 53);
	send_pkt(&e, &p, EG, WGX_TR_RELATED, USER_A);
	test_case = "icmp error from the user to the flow's sender: allowed";
	icmp4_err(&p, A4, NEST4, 3, 3, P_UDP, NEST4, 53, A4, 42001);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	test_case = "icmp error from the user quoting a flow, to another host: denied";
	icmp4_err(&p, A4, OUT4, 3, 3, P_UDP, NEST4, 53, A4, 42001);
	send_pkt(&e, &p, IN, WGX_TR_DENIED, USER_A);

	test_case = "icmpv6 packet too big about a flow: related";
	tcp6(&p, A6, 42002, WEB6, 443);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	tcp6(&p, WEB6, 443, A6, 42002);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_A);
	icmp6_err(&p, ROUTER6, A6, 2, P_TCP, A6, 42002, WEB6, 443);
	send_pkt(&e, &p, EG, WGX_TR_RELATED, USER_A);
	test_case = "icmpv6 packet too big about no flow: unsolicited";
	icmp6_err(&p, ROUTER6, A6, 2, P_TCP, A6, 42998, WEB6, 443);
	send_pkt(&e, &p, EG, WGX_TR_UNSOLICITED, USER_A);

	test_case = "inbound rule opens a flow";
	tcp4(&p, INB4, 50010, A4, 22);
	pkt_tcp_flags(&p, TCP_SYN);
	send_pkt(&e, &p, EG, WGX_TR_INBOUND, USER_A);
	key4(&k, P_TCP, A4, 22, INB4, 50010);
	if (get_flow(&e, &k, &f)) {
		ASSERT_EQ(f.flags, WGX_FLOW_F_INBOUND, "inbound flow's flags");
		ASSERT_EQ(f.pkts_in, 1, "inbound flow's pkts_in");
		ASSERT_EQ(f.group_id, G_OPS, "inbound flow's group");
	}
	test_case = "the user answers an inbound flow";
	tcp4(&p, A4, 22, INB4, 50010);
	pkt_tcp_flags(&p, TCP_SYN | TCP_ACK);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	tcp4(&p, INB4, 50010, A4, 22);
	send_pkt(&e, &p, EG, WGX_TR_INBOUND, USER_A);
	if (get_flow(&e, &k, &f)) {
		ASSERT_EQ(f.pkts_in, 2, "inbound flow's pkts_in");
		ASSERT_EQ(f.pkts_out, 1, "inbound flow's pkts_out");
	}
	test_case = "the user's port 22 to a remote without an inbound flow";
	tcp4(&p, A4, 22, INB4, 50011);
	send_pkt(&e, &p, IN, WGX_TR_DENIED, USER_A);

	test_case = "icmp echo reply";
	icmp4(&p, C4, OUT4, 8, 77);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_C);
	icmp4(&p, OUT4, C4, 0, 77);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_C);
	icmp4(&p, OUT4, C4, 0, 78);
	send_pkt(&e, &p, EG, WGX_TR_UNSOLICITED, USER_C);
	test_case = "icmpv6 echo reply";
	icmp6(&p, C6, OUT6, 128, 5);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_C);
	icmp6(&p, OUT6, C6, 129, 5);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_C);
	tenv_close(&e);
}

/* Before the daemon loads a policy, everything is dropped, both ways. */
void test_tunnel_no_policy(void)
{
	struct tenv e;
	struct pkt p;

	if (!tenv_open(&e))
		return;
	set_cfg(&e, false);
	test_case = "no policy: ingress";
	b_web_lo(&p);
	send_pkt(&e, &p, IN, WGX_TR_NO_POLICY, USER_A);
	test_case = "no policy: ingress ipv6";
	b_web6(&p);
	send_pkt(&e, &p, IN, WGX_TR_NO_POLICY, USER_A);
	test_case = "no policy: egress";
	b_eg_ssh_in(&p);
	send_pkt(&e, &p, EG, WGX_TR_NO_POLICY, USER_A);
	test_case = "no policy: arp";
	b_arp(&p);
	send_pkt(&e, &p, EG, WGX_TR_NO_POLICY, USER_A);
	test_case = "policy loaded";
	set_cfg(&e, true);
	b_web_lo(&p);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	tenv_close(&e);
}

/* WGX_DENY_EV_BURST events at once per user, then WGX_DENY_EV_RATE per second. */
void test_tunnel_deny_rate(void)
{
	struct wgx_tun_deny_count d0, d1, n0, n1;
	const int n = WGX_DENY_EV_BURST + 5;
	struct tenv e;
	struct pkt p;
	int retval;

	test_case = "deny events: burst, then held back";
	if (!tenv_open(&e))
		return;
	clear_map(mfd(e.skel->maps.wgx_tun_evrl), 4);
	b_web_past(&p);
	pkt_finish(&p);
	d0 = read_denies(&e, USER_A);
	n0 = read_denies(&e, WGX_USER_NONE);
	if (!ASSERT_OK(run_prog(&e, &p, IN, n, &retval), "test run x25"))
		goto out;
	ASSERT_EQ(retval, TC_SHOT, "verdict");
	d1 = read_denies(&e, USER_A);
	ASSERT_EQ(d1.denied - d0.denied, n, "denied");
	e.nr_ev = 0;
	ring_buffer__consume(e.rb);
	ASSERT_TRUE(e.nr_ev == WGX_DENY_EV_BURST || e.nr_ev == WGX_DENY_EV_BURST + 1,
		    "a burst of events (one more if the test run took 100 ms)");
	ASSERT_EQ(d1.events_held - d0.events_held, n - e.nr_ev, "the rest held back");

	test_case = "deny events: another user has its own bucket";
	b_spoof(&p);
	pkt_finish(&p);
	run_prog(&e, &p, IN, 1, &retval);
	n1 = read_denies(&e, WGX_USER_NONE);
	e.nr_ev = 0;
	ring_buffer__consume(e.rb);
	ASSERT_EQ(e.nr_ev, 1, "event of the unknown source");
	ASSERT_EQ(n1.denied - n0.denied, 1, "unknown source denied");

	test_case = "deny events: the bucket refills at the rate";
	usleep(250 * 1000);	/* 2.5 tokens */
	b_web_past(&p);
	pkt_finish(&p);
	run_prog(&e, &p, IN, 3, &retval);
	d0 = read_denies(&e, USER_A);
	e.nr_ev = 0;
	ring_buffer__consume(e.rb);
	ASSERT_TRUE(e.nr_ev >= 2 && e.nr_ev <= 3, "two events after 250 ms");
	ASSERT_EQ(d0.events_held - d1.events_held, 3 - e.nr_ev, "held back after the refill");
out:
	tenv_close(&e);
}

/* ---- fragments: later fragments judged with their first fragment's ports ---- */

#define MF true
#define LAST false

/* An IPv4 fragment of datagram id: offset in 8-byte units, more fragments or the last. */
static void frag4(struct pkt *p, uint8_t proto, const uint8_t *src, const uint8_t *dst,
		  uint16_t id, uint16_t off, bool more)
{
	pkt_init(p);
	pkt_eth(p, ETH_IP);
	pkt_ipv4(p, proto, 0, off | (more ? 0x2000 : 0));
	pkt_addrs4(p, src, dst);
	pkt_frag_id(p, id);
}

/* An IPv6 fragment (a fragment header after the fixed header). */
static void frag6(struct pkt *p, uint8_t proto, const uint8_t *src, const uint8_t *dst,
		  uint32_t id, uint16_t off, bool more)
{
	pkt_init(p);
	pkt_eth(p, ETH_IP6);
	pkt_ipv6(p, 44);
	pkt_addrs6(p, src, dst);
	pkt_ipv6_frag(p, proto, off << 3 | more);
	pkt_frag_id(p, id);
}

/* The first fragment of a 1400-byte UDP datagram. */
static void udp4_first(struct pkt *p, const uint8_t *src, uint16_t sp, const uint8_t *dst,
		       uint16_t dp, uint16_t id)
{
	frag4(p, P_UDP, src, dst, id, 0, MF);
	pkt_udp(p, sp, dp);
	pkt_bytes(p, "first part of the datagram", 24);
	p->udp_len_override = 1400;
}

static void udp6_first(struct pkt *p, const uint8_t *src, uint16_t sp, const uint8_t *dst,
		       uint16_t dp, uint32_t id)
{
	frag6(p, P_UDP, src, dst, id, 0, MF);
	pkt_udp(p, sp, dp);
	pkt_bytes(p, "first part of the datagram", 24);
	p->udp_len_override = 1400;
}

/* A later fragment's payload: no L4 header. Its byte 13 would be a TCP header's FIN|RST. */
static void rest(struct pkt *p)
{
	pkt_bytes(p, "rest of the datag\x05m..", 20);
}

static void later4(struct pkt *p, uint8_t proto, const uint8_t *src, const uint8_t *dst,
		   uint16_t id, uint16_t off, bool more)
{
	frag4(p, proto, src, dst, id, off, more);
	rest(p);
}

static void later6(struct pkt *p, uint8_t proto, const uint8_t *src, const uint8_t *dst,
		   uint32_t id, uint16_t off, bool more)
{
	frag6(p, proto, src, dst, id, off, more);
	rest(p);
}

static void fkey(struct wgx_frag_key *k, int dir, int family, uint8_t proto, const uint8_t *src,
		 const uint8_t *dst, uint32_t id)
{
	memset(k, 0, sizeof(*k));
	k->dir = dir;
	k->family = family;
	k->proto = proto;
	k->id = id;
	memcpy(k->saddr, src, family == 4 ? 4 : 16);
	memcpy(k->daddr, dst, family == 4 ? 4 : 16);
}

static bool frag_entry(struct tenv *e, const struct wgx_frag_key *k, struct wgx_frag *v)
{
	return !bpf_map_lookup_elem(mfd(e->skel->maps.wgx_tun_frags), k, v);
}

void test_tunnel_fragments(void)
{
	struct wgx_frag_key fk;
	struct wgx_flow_key k;
	struct wgx_flow_key k6 = { .family = 6, .proto = P_TCP };
	struct wgx_frag v;
	struct wgx_flow f;
	struct tenv e;
	struct pkt p;
	__u64 bytes = 0;

	clock_past(WGX_TUN_FRAG_TIMEOUT_S + 2);	/* entries are aged by 31 s below */

	if (!tenv_open(&e))
		return;

	test_case = "ipv4: fragments of a udp reply to the user's flow";
	udp4(&p, A4, 42100, NEST4, 53);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	udp4_first(&p, NEST4, 53, A4, 42100, 0x1234);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_A);
	bytes += p.len - 14;
	fkey(&fk, EG, 4, P_UDP, NEST4, A4, 0x1234);
	if (ASSERT_TRUE(frag_entry(&e, &fk, &v), "the first fragment's entry")) {
		ASSERT_EQ(ntohs(v.sport), 53, "entry's sport");
		ASSERT_EQ(ntohs(v.dport), 42100, "entry's dport");
	}
	later4(&p, P_UDP, NEST4, A4, 0x1234, 185, MF);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_A);
	bytes += p.len - 14;
	later4(&p, P_UDP, NEST4, A4, 0x1234, 370, LAST);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_A);
	bytes += p.len - 14;
	key4(&k, P_UDP, A4, 42100, NEST4, 53);
	if (get_flow(&e, &k, &f)) {
		ASSERT_EQ(f.pkts_in, 3, "the flow counts every fragment");
		ASSERT_EQ(f.bytes_in, bytes, "and their bytes");
	}
	ASSERT_TRUE(!frag_entry(&e, &fk, &v), "the last fragment removed the entry");
	test_case = "ipv4: a fragment after the last one";
	later4(&p, P_UDP, NEST4, A4, 0x1234, 185, MF);
	send_pkt(&e, &p, EG, WGX_TR_FRAG_UNKNOWN, 0);

	test_case = "ipv6: fragments of a udp reply to the user's flow";
	udp6(&p, A6, 42101, HOST6, 5000);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	udp6_first(&p, HOST6, 5000, A6, 42101, 0x01020304);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_A);
	later6(&p, P_UDP, HOST6, A6, 0x01020304, 150, MF);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_A);
	later6(&p, P_UDP, HOST6, A6, 0x01020304, 300, LAST);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_A);
	fkey(&fk, EG, 6, P_UDP, HOST6, A6, 0x01020304);
	ASSERT_TRUE(!frag_entry(&e, &fk, &v), "the last fragment removed the entry");

	test_case = "ipv4: fragments to a port-restricted rule (udp/53)";
	udp4_first(&p, A4, 42102, NEST4, 53, 0x2222);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	later4(&p, P_UDP, A4, NEST4, 0x2222, 185, MF);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	later4(&p, P_UDP, A4, NEST4, 0x2222, 370, LAST);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	key4(&k, P_UDP, A4, 42102, NEST4, 53);
	if (get_flow(&e, &k, &f))
		ASSERT_EQ(f.pkts_out, 3, "one flow for the datagram");

	test_case = "ipv6: tcp fragments to a tcp/443 rule, no flags from a later fragment";
	frag6(&p, P_TCP, A6, WEB6, 0x3333, 0, MF);
	pkt_tcp(&p, 42103, 443);
	pkt_bytes(&p, "first part", 10);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	later6(&p, P_TCP, A6, WEB6, 0x3333, 4, LAST);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	memcpy(k6.uaddr, A6, 16);
	memcpy(k6.raddr, WEB6, 16);
	k6.uport = htons(42103);
	k6.rport = htons(443);
	if (get_flow(&e, &k6, &f)) {
		ASSERT_EQ(f.pkts_out, 2, "both fragments in the flow");
		ASSERT_EQ(f.flags, 0, "no FIN or RST from the later fragment's payload");
	}

	test_case = "icmp echo: fragments of a large ping and of its reply";
	frag4(&p, P_ICMP, C4, OUT4, 0x4242, 0, MF);
	pkt_icmp(&p, 8, 0, 91);
	pkt_bytes(&p, "big ping", 8);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_C);
	later4(&p, P_ICMP, C4, OUT4, 0x4242, 185, LAST);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_C);
	frag4(&p, P_ICMP, OUT4, C4, 0x4343, 0, MF);
	pkt_icmp(&p, 0, 0, 91);
	pkt_bytes(&p, "big pong", 8);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_C);
	later4(&p, P_ICMP, OUT4, C4, 0x4343, 185, LAST);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_C);
	key4(&k, P_ICMP, C4, 91, OUT4, 0);
	if (get_flow(&e, &k, &f)) {
		ASSERT_EQ(f.pkts_out, 2, "the echo flow has both fragments of the request");
		ASSERT_EQ(f.pkts_in, 2, "and both of the reply");
	}
	key4(&k, P_ICMP, C4, 0, OUT4, 0);
	ASSERT_TRUE(bpf_map_lookup_elem(mfd(e.skel->maps.wgx_flows), &k, &f) && errno == ENOENT,
		    "no flow without an echo id (it would pass any icmp from the host)");

	test_case = "a later fragment whose first was never seen";
	later4(&p, P_UDP, A4, NEST4, 0x5555, 185, MF);
	send_pkt(&e, &p, IN, WGX_TR_FRAG_UNKNOWN, 0);
	later4(&p, P_UDP, NEST4, A4, 0x5555, 185, MF);
	send_pkt(&e, &p, EG, WGX_TR_FRAG_UNKNOWN, 0);
	later6(&p, P_UDP, HOST6, A6, 0x5555, 150, LAST);
	send_pkt(&e, &p, EG, WGX_TR_FRAG_UNKNOWN, 0);
	test_case = "a later fragment to an any-port rule, without its first";
	later4(&p, P_UDP, A4, ANY4, 0x5556, 185, MF);
	send_pkt(&e, &p, IN, WGX_TR_FRAG_UNKNOWN, 0);

	test_case = "a denied first fragment: its later fragments are dropped";
	udp4_first(&p, A4, 42104, NEST4, 54, 0x6666);
	send_pkt(&e, &p, IN, WGX_TR_DENIED, USER_A);
	later4(&p, P_UDP, A4, NEST4, 0x6666, 185, LAST);
	send_pkt(&e, &p, IN, WGX_TR_FRAG_UNKNOWN, 0);
	test_case = "an unsolicited first fragment: its later fragments are dropped";
	udp4_first(&p, NEST4, 53, A4, 42999, 0x6667);
	send_pkt(&e, &p, EG, WGX_TR_UNSOLICITED, USER_A);
	later4(&p, P_UDP, NEST4, A4, 0x6667, 185, LAST);
	send_pkt(&e, &p, EG, WGX_TR_FRAG_UNKNOWN, 0);
	test_case = "a denied first fragment removes an older datagram's entry under its id";
	udp4_first(&p, A4, 42105, NEST4, 53, 0x7777);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	udp4_first(&p, A4, 42105, NEST4, 54, 0x7777);
	send_pkt(&e, &p, IN, WGX_TR_DENIED, USER_A);
	later4(&p, P_UDP, A4, NEST4, 0x7777, 185, LAST);
	send_pkt(&e, &p, IN, WGX_TR_FRAG_UNKNOWN, 0);

	test_case = "an entry younger than the timeout serves";
	udp4_first(&p, A4, 42106, NEST4, 53, 0x8888);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	fkey(&fk, IN, 4, P_UDP, A4, NEST4, 0x8888);
	if (ASSERT_TRUE(frag_entry(&e, &fk, &v), "the first fragment's entry")) {
		v.first_ns -= (WGX_TUN_FRAG_TIMEOUT_S - 1) * 1000000000ull;
		ASSERT_OK(bpf_map_update_elem(mfd(e.skel->maps.wgx_tun_frags), &fk, &v, BPF_EXIST),
			  "age the entry");
	}
	later4(&p, P_UDP, A4, NEST4, 0x8888, 185, MF);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	test_case = "an expired entry serves no more";
	if (ASSERT_TRUE(frag_entry(&e, &fk, &v), "the entry")) {
		v.first_ns -= 2 * 1000000000ull;
		ASSERT_OK(bpf_map_update_elem(mfd(e.skel->maps.wgx_tun_frags), &fk, &v, BPF_EXIST),
			  "age the entry past the timeout");
	}
	later4(&p, P_UDP, A4, NEST4, 0x8888, 370, LAST);
	send_pkt(&e, &p, IN, WGX_TR_FRAG_UNKNOWN, 0);
	ASSERT_TRUE(!frag_entry(&e, &fk, &v), "the expired entry was removed");
	tenv_close(&e);
}

/* ---- a new policy: flows of the old one judged again ---- */

#define POL_A2 101	/* policy B for A: no ssh to 192.0.2.7, no inbound rule over ipv4 */
#define POL_A3 102	/* A's set after a single-user update: web only */

static void load_policy_b(struct tenv *e)
{
	static const uint8_t n24[4] = { 192, 0, 2, 0 }, n48[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1 };
	static const uint8_t in48[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x99 };
	const struct wgx_tun_rule web[] = { RULE(P_TCP, 80, 443, G_WEB, 0) };
	const struct wgx_tun_rule web_dns[] = { RULE(P_TCP, 80, 443, G_WEB, 0),
						RULE(P_UDP, 53, 53, G_OPS, 1) };
	const struct wgx_tun_rule https6[] = { RULE(P_TCP, 443, 443, G_WEB, 1) };
	const struct wgx_tun_rule https6_udp[] = { RULE(P_TCP, 443, 443, G_WEB, 1),
						   RULE_ANY(P_UDP, G_OPS, 4) };
	const struct wgx_tun_rule ping6_in[] = { RULE_ANY(P_ICMP6, G_OPS, 1) };

	add_rules(e, false, 4, POL_A2, n24, 24, web, 1);
	add_rules(e, false, 4, POL_A2, n24, 28, web_dns, 2);
	add_rules(e, false, 4, POL_A2, HOST4, 32, web_dns, 2);
	add_rules(e, false, 6, POL_A2, n48, 48, https6, 1);
	add_rules(e, false, 6, POL_A2, HOST6, 128, https6_udp, 2);
	add_rules(e, true, 6, POL_A2, in48, 48, ping6_in, 1);
	add_rules(e, false, 4, POL_A3, n24, 24, web, 1);
	add_rules(e, false, 6, POL_A3, n48, 48, https6, 1);
}

/* Switch user A to policy: her addresses' entries, as the daemon rewrites them. */
static void move_a(struct tenv *e, __u32 policy)
{
	add_user(e, 4, A4, 32, USER_A, policy);
	add_user(e, 6, A6, 128, USER_A, policy);
}

static void set_generation(struct tenv *e, __u32 gen)
{
	struct wgx_tun_cfg cfg;
	__u32 k = 0;

	if (ASSERT_OK(bpf_map_lookup_elem(mfd(e->skel->maps.wgx_tun_cfg), &k, &cfg), "read cfg")) {
		cfg.generation = gen;
		ASSERT_OK(bpf_map_update_elem(mfd(e->skel->maps.wgx_tun_cfg), &k, &cfg, BPF_ANY),
			  "write cfg");
	}
}

/* The flow is over: revoked, its entry (and counts) left for the daemon to report and remove. */
static bool flow_revoked(struct tenv *e, const struct wgx_flow_key *k)
{
	struct wgx_flow f;

	return !bpf_map_lookup_elem(mfd(e->skel->maps.wgx_flows), k, &f) &&
	       (f.flags & WGX_FLOW_F_REVOKED);
}

void test_tunnel_policy_change(void)
{
	struct wgx_flow_key k, k6 = { .family = 6, .proto = P_ICMP6 };
	struct wgx_flow f;
	struct tenv e;
	struct pkt p;

	if (!tenv_open(&e))
		return;
	load_policy_b(&e);

	/* under policy A */
	test_case = "policy A: inbound ssh flows";
	tcp4(&p, INB4, 50020, A4, 22);
	pkt_tcp_flags(&p, TCP_SYN);
	send_pkt(&e, &p, EG, WGX_TR_INBOUND, USER_A);
	tcp4(&p, INB4, 50021, A4, 22);
	pkt_tcp_flags(&p, TCP_SYN);
	send_pkt(&e, &p, EG, WGX_TR_INBOUND, USER_A);
	key4(&k, P_TCP, A4, 22, INB4, 50020);
	if (get_flow(&e, &k, &f))
		ASSERT_EQ(f.policy_id, POL_A, "the flow's policy id");
	test_case = "policy A: the user's flows";
	tcp4(&p, A4, 42300, HOST4, 22);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	tcp4(&p, HOST4, 22, A4, 42300);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_A);
	tcp4(&p, A4, 42301, WEB4, 443);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	udp4(&p, A4, 42302, NEST4, 53);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	tcp4(&p, A4, 42304, HOST4, 22);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);

	/* policy B applied: a new generation, A's entries switched to her new policy id */
	move_a(&e, POL_A2);
	set_generation(&e, 2);
	test_case = "policy B: an inbound flow without its rule";
	tcp4(&p, INB4, 50020, A4, 22);
	send_pkt(&e, &p, EG, WGX_TR_UNSOLICITED, USER_A);
	ASSERT_TRUE(flow_revoked(&e, &k), "the stale flow was revoked");
	tcp4(&p, A4, 22, INB4, 50020);
	send_pkt(&e, &p, IN, WGX_TR_DENIED, USER_A);
	test_case = "policy B: the user's side of an inbound flow without its rule";
	tcp4(&p, A4, 22, INB4, 50021);
	send_pkt(&e, &p, IN, WGX_TR_DENIED, USER_A);
	key4(&k, P_TCP, A4, 22, INB4, 50021);
	ASSERT_TRUE(flow_revoked(&e, &k), "the stale flow was revoked");
	tcp4(&p, INB4, 50021, A4, 22);
	send_pkt(&e, &p, EG, WGX_TR_UNSOLICITED, USER_A);
	test_case = "policy B: replies on a user's flow to a destination no longer allowed";
	tcp4(&p, HOST4, 22, A4, 42300);
	send_pkt(&e, &p, EG, WGX_TR_UNSOLICITED, USER_A);
	key4(&k, P_TCP, A4, 42300, HOST4, 22);
	ASSERT_TRUE(flow_revoked(&e, &k), "the stale flow was revoked");
	test_case = "policy B: the user's next packet to it";
	tcp4(&p, A4, 42300, HOST4, 22);
	send_pkt(&e, &p, IN, WGX_TR_DENIED, USER_A);
	test_case = "policy B: a flow it still allows keeps passing, judged under it";
	tcp4(&p, WEB4, 443, A4, 42301);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_A);
	key4(&k, P_TCP, A4, 42301, WEB4, 443);
	if (get_flow(&e, &k, &f)) {
		ASSERT_EQ(f.policy_id, POL_A2, "the flow's policy id after the new judgement");
		ASSERT_EQ(f.pkts_in, 1, "the reply counted");
	}
	test_case = "policy B: an icmp error about a flow it still allows";
	icmp4_err(&p, ROUTER4, A4, 3, 4, P_UDP, A4, 42302, NEST4, 53);
	send_pkt(&e, &p, EG, WGX_TR_RELATED, USER_A);
	test_case = "policy B: an icmp error about a flow it no longer allows";
	icmp4_err(&p, HOST4, A4, 3, 3, P_TCP, A4, 42304, HOST4, 22);
	send_pkt(&e, &p, EG, WGX_TR_UNSOLICITED, USER_A);

	/* a single-user update: A's set changes, the generation does not */
	test_case = "policy B: an inbound icmpv6 echo";
	icmp6(&p, INB6, A6, 128, 21);
	send_pkt(&e, &p, EG, WGX_TR_INBOUND, USER_A);
	test_case = "single-user update: udp to a host";
	udp6(&p, A6, 42305, HOST6, 5000);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	move_a(&e, POL_A3);
	test_case = "single-user update: an inbound flow without its rule";
	icmp6(&p, INB6, A6, 128, 21);
	send_pkt(&e, &p, EG, WGX_TR_UNSOLICITED, USER_A);
	memcpy(k6.uaddr, A6, 16);
	memcpy(k6.raddr, INB6, 16);
	k6.uport = htons(21);
	ASSERT_TRUE(flow_revoked(&e, &k6), "the stale flow was revoked");
	test_case = "single-user update: replies to a destination no longer allowed";
	udp6(&p, HOST6, 5000, A6, 42305);
	send_pkt(&e, &p, EG, WGX_TR_UNSOLICITED, USER_A);
	test_case = "single-user update: a flow the new set allows";
	tcp4(&p, WEB4, 443, A4, 42301);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_A);
	key4(&k, P_TCP, A4, 42301, WEB4, 443);
	if (get_flow(&e, &k, &f))
		ASSERT_EQ(f.policy_id, POL_A3, "the flow's policy id after the new judgement");
	tenv_close(&e);
}

/* ---- accounting: every passed packet in a flow or in the user's overflow ---- */

struct fev_ctx {
	struct wgx_flow_event ev[8];
	int nr;
};

static int on_fev(void *ctx, void *data, size_t len)
{
	struct fev_ctx *c = ctx;

	if (len != sizeof(struct wgx_flow_event))
		test_fail(__FILE__, __LINE__, "%s: flow event of %zu bytes", test_case, len);
	else if (c->nr < 8)
		memcpy(&c->ev[c->nr], data, len);
	c->nr++;
	return 0;
}

static struct wgx_tun_acct read_acct(struct tenv *e, __u32 user)
{
	struct wgx_tun_acct a = {};

	ASSERT_OK(bpf_map_lookup_elem(mfd(e->skel->maps.wgx_tun_acct), &user, &a) ? -errno : 0,
		  "the user's account");
	return a;
}

/* What a user's flows in the table hold, plus what removed ones held (gone). */
static void check_sums(struct tenv *e, __u32 user, const struct wgx_flow *gone)
{
	struct wgx_flow_key k, next;
	struct wgx_flow f, sum = *gone;
	struct wgx_tun_acct a = read_acct(e, user);
	int fd = mfd(e->skel->maps.wgx_flows);
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &f) || f.user_id != user)
			continue;
		sum.pkts_out += f.pkts_out;
		sum.bytes_out += f.bytes_out;
		sum.pkts_in += f.pkts_in;
		sum.bytes_in += f.bytes_in;
	}
	ASSERT_EQ(sum.pkts_out + a.ovf_pkts_out, a.pkts_out, "flows + overflow = total packets out");
	ASSERT_EQ(sum.bytes_out + a.ovf_bytes_out, a.bytes_out, "flows + overflow = total bytes out");
	ASSERT_EQ(sum.pkts_in + a.ovf_pkts_in, a.pkts_in, "flows + overflow = total packets in");
	ASSERT_EQ(sum.bytes_in + a.ovf_bytes_in, a.bytes_in, "flows + overflow = total bytes in");
}

static void set_quota(struct tenv *e, __u32 quota)
{
	struct wgx_tun_cfg cfg;
	__u32 k = 0;

	if (ASSERT_OK(bpf_map_lookup_elem(mfd(e->skel->maps.wgx_tun_cfg), &k, &cfg), "read cfg")) {
		cfg.flow_quota = quota;
		ASSERT_OK(bpf_map_update_elem(mfd(e->skel->maps.wgx_tun_cfg), &k, &cfg, BPF_ANY),
			  "write cfg");
	}
}

/* The daemon's count of user's removed entries (wgx_tun_fgone). */
static void reaped(struct tenv *e, __u32 user, __u64 flows, __u64 flows_in)
{
	struct wgx_tun_fgone g = { flows, flows_in };

	ASSERT_OK(bpf_map_update_elem(mfd(e->skel->maps.wgx_tun_fgone), &user, &g, BPF_ANY),
		  "fgone");
}

/* The daemon removes flow k, its counts added to gone. */
static void reap(struct tenv *e, const struct wgx_flow_key *k, struct wgx_flow *gone)
{
	struct wgx_flow f;

	if (!ASSERT_OK(bpf_map_lookup_and_delete_elem(mfd(e->skel->maps.wgx_flows), k, &f) ?
		       -errno : 0, "lookup and delete"))
		return;
	gone->pkts_out += f.pkts_out;
	gone->bytes_out += f.bytes_out;
	gone->pkts_in += f.pkts_in;
	gone->bytes_in += f.bytes_in;
}

static void a_udp(struct pkt *p, uint16_t sport, bool reply, int payload)
{
	static const char junk[64] = "0123456789012345678901234567890123456789";

	if (reply)
		udp4(p, ANY4, 9999, A4, sport);
	else
		udp4(p, A4, sport, ANY4, 9999);
	pkt_bytes(p, junk, payload);
}

void test_tunnel_accounting(void)
{
	struct wgx_flow_key k;
	struct wgx_flow f, f0 = {}, gone = {};
	struct wgx_tun_acct a;
	struct fev_ctx fc = {};
	struct ring_buffer *frb;
	struct tenv e;
	struct pkt p;
	__u64 len0 = 0;
	int i, j;

	tenv_max_flows = 0;
	if (!tenv_open(&e))
		return;
	frb = ring_buffer__new(mfd(e.skel->maps.wgx_tun_fevents), on_fev, &fc, NULL);
	if (!ASSERT_TRUE(frb != NULL, "ring_buffer__new(wgx_tun_fevents)"))
		goto out;
	set_quota(&e, 3);

	test_case = "a user's flows up to her quota, the rest in her overflow";
	for (i = 0; i < 5; i++)
		for (j = 0; j < 2; j++) {
			a_udp(&p, 42000 + i, false, 10 * i + j);
			send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
			if (i == 0 && j == 0)
				len0 = p.len - 14;
		}
	for (i = 0; i < 5; i++) {
		key4(&k, P_UDP, A4, 42000 + i, ANY4, 9999);
		if (i < 3)
			get_flow(&e, &k, &f);
		else
			ASSERT_TRUE(bpf_map_lookup_elem(mfd(e.skel->maps.wgx_flows), &k, &f) &&
				    errno == ENOENT, "no entry over the quota");
	}
	a = read_acct(&e, USER_A);
	ASSERT_EQ(a.pkts_out, 10, "her total: every packet that passed");
	ASSERT_EQ(a.ovf_pkts_out, 4, "her overflow: the two flows over the quota");
	ASSERT_EQ(a.flows, 3, "entries made for her");
	ASSERT_EQ(a.refused, 4, "packets whose flow got no entry");
	check_sums(&e, USER_A, &gone);

	test_case = "replies: to a flow counted in it; to an overflow flow unsolicited";
	a_udp(&p, 42000, true, 5);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_A);
	a_udp(&p, 42003, true, 5);
	send_pkt(&e, &p, EG, WGX_TR_UNSOLICITED, USER_A);
	a = read_acct(&e, USER_A);
	ASSERT_EQ(a.pkts_in, 1, "only the reply that passed is in her total");
	ASSERT_EQ(a.ovf_pkts_in, 0, "and it is in its flow");
	check_sums(&e, USER_A, &gone);

	test_case = "a flow-start event per new flow";
	ring_buffer__consume(frb);
	ASSERT_EQ(fc.nr, 3, "events: the three flows that got an entry");
	key4(&k, P_UDP, A4, 42000, ANY4, 9999);
	if (fc.nr >= 1) {
		ASSERT_MEMEQ(&fc.ev[0].key, &k, sizeof(k), "the first event's key");
		ASSERT_EQ(fc.ev[0].user_id, USER_A, "its user");
		ASSERT_EQ(fc.ev[0].group_id, G_OPS, "the group whose rule admitted it");
		ASSERT_EQ(fc.ev[0].len, len0, "its first packet's L3 bytes");
		ASSERT_EQ(fc.ev[0].flags & WGX_FLOW_F_INBOUND, 0, "opened by the user");
	}

	test_case = "another user is not held by her quota";
	b_ping_c_any(&p);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_C);
	key4(&k, P_ICMP, C4, 8, OUT4, 0);
	get_flow(&e, &k, &f);
	a = read_acct(&e, USER_C);
	ASSERT_EQ(a.ovf_pkts_out, 0, "C's packet is in her flow");

	test_case = "the daemon removes an ended flow: the user may open another";
	key4(&k, P_UDP, A4, 42001, ANY4, 9999);
	reap(&e, &k, &gone);
	reaped(&e, USER_A, 1, 0);
	a_udp(&p, 42004, false, 3);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	key4(&k, P_UDP, A4, 42004, ANY4, 9999);
	get_flow(&e, &k, &f);
	ASSERT_EQ(f.pkts_out, 1, "the new flow counts from its first packet");
	a_udp(&p, 42003, false, 3);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	a = read_acct(&e, USER_A);
	ASSERT_EQ(a.ovf_pkts_out, 5, "at the quota again: the next one overflows");
	check_sums(&e, USER_A, &gone);

	test_case = "an ended flow of her own revives, its counts going on";
	key4(&k, P_UDP, A4, 42000, ANY4, 9999);
	if (get_flow(&e, &k, &f)) {
		f0 = f;
		f.flags |= WGX_FLOW_F_REVOKED;
		ASSERT_OK(bpf_map_update_elem(mfd(e.skel->maps.wgx_flows), &k, &f, BPF_EXIST),
			  "end it");
	}
	a_udp(&p, 42000, false, 7);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	if (get_flow(&e, &k, &f)) {
		ASSERT_EQ(f.pkts_out, f0.pkts_out + 1, "the counts go on from where they were");
		ASSERT_EQ(f.first_ns, f0.first_ns, "the same entry");
		ASSERT_EQ(f.flags & WGX_FLOW_F_REVOKED, 0, "and is live");
	}
	a = read_acct(&e, USER_A);
	ASSERT_EQ(a.ovf_pkts_out, 5, "a revived entry needs no new entry: not over the quota");
	check_sums(&e, USER_A, &gone);

	test_case = "her address passes to another user: her flow ends there, counted as hers";
	add_user(&e, 4, A4, 32, USER_B, POL_A);
	a_udp(&p, 42002, false, 9);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_B);
	key4(&k, P_UDP, A4, 42002, ANY4, 9999);
	if (get_flow(&e, &k, &f)) {
		ASSERT_EQ(f.user_id, USER_A, "the entry stays hers");
		ASSERT_EQ(f.pkts_out, 2, "with her packets only");
		ASSERT_TRUE(f.flags & WGX_FLOW_F_REVOKED, "ended");
	}
	a = read_acct(&e, USER_B);
	ASSERT_EQ(a.ovf_pkts_out, 1, "the new holder's packet: in his overflow");
	a_udp(&p, 42002, true, 9);
	send_pkt(&e, &p, EG, WGX_TR_UNSOLICITED, USER_B);
	check_sums(&e, USER_A, &gone);
	check_sums(&e, USER_B, &(struct wgx_flow){});

	test_case = "... until the daemon has removed it; then his own flow";
	reap(&e, &k, &gone);
	reaped(&e, USER_A, 2, 0);
	a_udp(&p, 42002, false, 9);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_B);
	if (get_flow(&e, &k, &f)) {
		ASSERT_EQ(f.user_id, USER_B, "his entry");
		ASSERT_EQ(f.pkts_out, 1, "from his first packet");
	}
	a_udp(&p, 42002, true, 9);
	send_pkt(&e, &p, EG, WGX_TR_REPLY, USER_B);
	check_sums(&e, USER_A, &gone);
	check_sums(&e, USER_B, &(struct wgx_flow){});
	add_user(&e, 4, A4, 32, USER_A, POL_A);

	test_case = "flows the remote side opens hold at most half her quota";
	set_quota(&e, 8);	/* she holds 2 of her own */
	for (i = 0; i < 6; i++) {
		tcp4(&p, INB4, 50100 + i, A4, 22);
		pkt_tcp_flags(&p, TCP_SYN);
		send_pkt(&e, &p, EG, WGX_TR_INBOUND, USER_A);
	}
	a = read_acct(&e, USER_A);
	ASSERT_EQ(a.flows_in, 4, "inbound entries: half of 8");
	ASSERT_EQ(a.ovf_pkts_in, 2, "the rest passed, in her overflow");
	a_udp(&p, 42005, false, 1);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
	a = read_acct(&e, USER_A);
	ASSERT_EQ(a.ovf_pkts_out, 5, "her own next flow still gets an entry");
	check_sums(&e, USER_A, &gone);
	ring_buffer__free(frb);
	frb = NULL;
	tenv_close(&e);

	test_case = "the flow table full: later flows overflow, nothing uncounted";
	tenv_max_flows = 4;
	if (!tenv_open(&e))
		goto out_size;
	memset(&gone, 0, sizeof(gone));
	for (i = 0; i < 6; i++) {
		a_udp(&p, 43000 + i, false, i);
		send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_A);
		a_udp(&p, 43000 + i, true, i);
		send_pkt(&e, &p, EG, i < 4 ? WGX_TR_REPLY : WGX_TR_UNSOLICITED, USER_A);
	}
	a = read_acct(&e, USER_A);
	ASSERT_EQ(a.flows, 4, "entries: the table's size");
	ASSERT_EQ(a.ovf_pkts_out, 2, "two flows without an entry");
	ASSERT_EQ(a.pkts_in, 4, "replies: only those with a flow");
	check_sums(&e, USER_A, &gone);
	b_ping_c_any(&p);
	send_pkt(&e, &p, IN, WGX_TR_ALLOWED, USER_C);
	a = read_acct(&e, USER_C);
	ASSERT_EQ(a.ovf_pkts_out, 1, "another user's new flow overflows too, counted");
out_size:
	tenv_max_flows = 0;
out:
	ring_buffer__free(frb);
	tenv_close(&e);
}
