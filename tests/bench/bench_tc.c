// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench_tc: ns/packet of the tunnel's ingress program under BPF_PROG_TEST_RUN, beside a
 * trivial tc program measured in the same run on the same packet, for 1,000 and 100,000
 * users and policies of 100 prefixes, of 100,000 prefixes in one policy id, and of 100,000
 * prefixes spread over 1,000 policy ids. The maps are filled directly (as the daemon would).
 * The packet: TCP from the last user added to a /24 of its policy, allowed by the second
 * rule of the entry (so a flow is refreshed on every packet). Then, on the smallest setup,
 * an egress reply, a denial (events held back by the rate limit) and an unknown source.
 * `bench_tc [repeat]` (default 1,000,000). Each number is the median of 5 runs.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps/wgxdp.h"
#include "tunnel.skel.h"
#include "bench_pass.skel.h"

#define RUNS 5
#define MAX_INNER 1000

static unsigned char pkt[128];
static int inner_fds[MAX_INNER];
static int nr_inner;

/* IPv4 TCP src:sport -> dst:dport behind an Ethernet header (the test run pushes one). */
static size_t build(__u32 src, __u16 sport, __u32 dst, __u16 dport)
{
	unsigned char *ip = pkt + 14, *tcp = ip + 20;
	size_t len = 14 + 20 + 20 + 64;

	memset(pkt, 0, sizeof(pkt));
	pkt[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (len - 14) >> 8, ip[3] = (len - 14) & 0xff;
	ip[8] = 64;
	ip[9] = 6;
	src = htonl(src), dst = htonl(dst);
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	tcp[0] = sport >> 8, tcp[1] = sport & 0xff;
	tcp[2] = dport >> 8, tcp[3] = dport & 0xff;
	tcp[12] = 5 << 4;
	tcp[13] = 0x10;
	return len;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double measure(int prog_fd, size_t len, int repeat, int expect)
{
	double r[RUNS];
	int i;

	for (i = 0; i < RUNS; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
			    .repeat = repeat);

		if (bpf_prog_test_run_opts(prog_fd, &o)) {
			perror("bench_tc: bpf_prog_test_run_opts");
			exit(1);
		}
		if ((int)o.retval != expect) {
			fprintf(stderr, "bench_tc: verdict %u, expected %d\n", o.retval, expect);
			exit(1);
		}
		r[i] = o.duration;
	}
	qsort(r, RUNS, sizeof(r[0]), cmp);
	return r[RUNS / 2];
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

#define USER_BASE 0x0a000001u	/* 10.0.0.1, 10.0.0.2, ... */
#define PFX_BASE  0x64000000u	/* 100.0.0.0/24, 100.0.1.0/24, ... */

/* Users 0..nr-1: user i has policy i % nr_pol. */
static void fill_users(struct tunnel *t, int nr, int nr_pol)
{
	int fd = bpf_map__fd(t->maps.wgx_tun_addr4), i;

	for (i = 0; i < nr; i++) {
		struct wgx_tun_user u = { .user_id = i, .policy_id = i % nr_pol };
		__be32 a = htonl(USER_BASE + i);

		if (bpf_map_update_elem(fd, &a, &u, BPF_ANY))
			die("bench_tc: users");
	}
}

/* nr_pfx /24s over nr_pol policies: prefix j goes to policy j % nr_pol. */
static void fill_policies(struct tunnel *t, int nr_pfx, int nr_pol)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
	int outer = bpf_map__fd(t->maps.wgx_tun_pol4), i;
	struct wgx_tun_rules r = { .nr = 2, .rule = {
		{ .proto = 17, .port_lo = 53, .port_hi = 53, .group_id = 1 },
		{ .proto = 6, .port_lo = 80, .port_hi = 443, .group_id = 2, .rule_idx = 1 },
	} };
	__u32 p;

	for (i = 0; i < nr_inner; i++)
		close(inner_fds[i]);
	nr_inner = 0;
	for (p = 0; p < (__u32)nr_pol; p++) {
		int fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "bench_trie", sizeof(struct wgx_lpm4),
					sizeof(struct wgx_tun_rules), WGX_TUN_MAX_PREFIXES, &mo);

		if (fd < 0 || bpf_map_update_elem(outer, &p, &fd, BPF_ANY))
			die("bench_tc: inner trie");
		inner_fds[nr_inner++] = fd;
	}
	for (i = 0; i < nr_pfx; i++) {
		struct wgx_lpm4 k = { .prefixlen = 24, .addr = htonl(PFX_BASE + (i << 8)) };

		if (bpf_map_update_elem(inner_fds[i % nr_pol], &k, &r, BPF_ANY))
			die("bench_tc: prefixes");
	}
}

/* A destination in the policy of the last user: its policy's last prefix. */
static __u32 dest_for(int nr_users, int nr_pfx, int nr_pol)
{
	int pol = (nr_users - 1) % nr_pol, j = nr_pfx - nr_pol + pol;

	return PFX_BASE + (j << 8) + 9;
}

int main(int argc, char **argv)
{
	static const struct { int users, pfx, pol; const char *what; } setups[] = {
		{ 1000, 100, 1, "100 prefixes, 1 policy" },
		{ 1000, 100000, 1, "100,000 prefixes, 1 policy" },
		{ 1000, 100000, 1000, "100,000 prefixes / 1,000 policies" },
		{ 100000, 100, 1, "100 prefixes, 1 policy" },
		{ 100000, 100000, 1, "100,000 prefixes, 1 policy" },
		{ 100000, 100000, 1000, "100,000 prefixes / 1,000 policies" },
	};
	struct wgx_tun_cfg cfg = { .policy_loaded = 1 };
	int repeat = 1000000, in_fd, eg_fd, pass_fd, last_pfx = -1, last_pol = -1;
	struct bench_pass *pass;
	struct tunnel *t;
	struct bpf_map *m;
	unsigned int i;
	__u32 zero = 0;
	size_t len;
	char *end;

	if (argc > 1) {
		long v = strtol(argv[1], &end, 10);

		if (*end || v < 1 || v > 100000000) {
			fprintf(stderr, "bench_tc: %s: expected a repeat count\n", argv[1]);
			return 2;
		}
		repeat = v;
	}
	pass = bench_pass__open_and_load();
	t = tunnel__open();
	if (!pass || !t) {
		fprintf(stderr, "bench_tc: cannot open the programs\n");
		return 1;
	}
	bpf_object__for_each_map(m, t->obj)
		bpf_map__set_pin_path(m, NULL);
	t->rodata->l2_len = 14;
	if (tunnel__load(t)) {
		fprintf(stderr, "bench_tc: cannot load the tunnel programs\n");
		return 1;
	}
	if (bpf_map_update_elem(bpf_map__fd(t->maps.wgx_tun_cfg), &zero, &cfg, BPF_ANY))
		die("bench_tc: cfg");
	in_fd = bpf_program__fd(t->progs.wgx_tun_ingress);
	eg_fd = bpf_program__fd(t->progs.wgx_tun_egress);
	pass_fd = bpf_program__fd(pass->progs.bench_tc_pass);

	printf("bench_tc: repeat %d, median of %d runs, ns/packet; the baseline is a trivial tc\n"
	       "bench_tc: program run on the same packet (IPv4 TCP, 104 bytes of L3)\n", repeat, RUNS);
	printf("bench_tc: %-8s %-34s %9s %9s %6s\n", "users", "policy", "ingress", "baseline",
	       "ratio");
	for (i = 0; i < sizeof(setups) / sizeof(setups[0]); i++) {
		double ns, base;

		if (setups[i].pfx != last_pfx || setups[i].pol != last_pol)
			fill_policies(t, setups[i].pfx, setups[i].pol);
		fill_users(t, setups[i].users, setups[i].pol);
		last_pfx = setups[i].pfx;
		last_pol = setups[i].pol;
		len = build(USER_BASE + setups[i].users - 1, 40000,
			    dest_for(setups[i].users, setups[i].pfx, setups[i].pol), 443);
		base = measure(pass_fd, len, repeat, 0);
		ns = measure(in_fd, len, repeat, 0);
		printf("bench_tc: %-8d %-34s %6.1f ns %6.1f ns %5.2fx\n", setups[i].users,
		       setups[i].what, ns, base, ns / base);
	}

	/* Other paths, on the smallest setup. */
	fill_policies(t, 100, 1);
	fill_users(t, 1000, 1);
	printf("bench_tc: other paths, 1,000 users, 100 prefixes:\n");
	{
		static const struct { const char *what; int eg, verdict; } paths[] = {
			{ "egress reply (flow lookup)", 1, 0 },
			{ "ingress denied (events held back)", 0, 2 },
			{ "ingress unknown source", 0, 2 },
		};
		__u32 user = USER_BASE + 999, dst = dest_for(1000, 100, 1);

		for (i = 0; i < 3; i++) {
			double ns, base;

			if (i == 0) {
				len = build(user, 40000, dst, 443);
				measure(in_fd, len, 1, 0);	/* open the flow */
				len = build(dst, 443, user, 40000);
			} else if (i == 1) {
				len = build(user, 40000, dst, 22);
			} else {
				len = build(0x0b000001, 40000, dst, 443);
			}
			base = measure(pass_fd, len, repeat, 0);
			ns = measure(paths[i].eg ? eg_fd : in_fd, len, repeat, paths[i].verdict);
			printf("bench_tc: %-43s %6.1f ns %6.1f ns %5.2fx\n", paths[i].what, ns, base,
			       ns / base);
		}
	}
	/*
	 * What the accounting costs: the same programs built without it (no_acct: no flow
	 * counters, no user account; the flow's timestamp stays), same maps, same packets.
	 */
	{
		struct tunnel *t2 = tunnel__open();
		double base, with_in, without_in, with_eg, without_eg;
		__u32 user = USER_BASE + 999, dst = dest_for(1000, 100, 1);
		int in2, eg2;
		size_t rlen;
		unsigned char fwd[128], rep[128];

		if (!t2)
			die("bench_tc: open");
		bpf_object__for_each_map(m, t2->obj)
			bpf_map__set_pin_path(m, NULL);
		t2->rodata->l2_len = 14;
		t2->rodata->no_acct = true;
		if (tunnel__load(t2) ||
		    bpf_map_update_elem(bpf_map__fd(t2->maps.wgx_tun_cfg), &zero, &cfg, BPF_ANY))
			die("bench_tc: load without accounting");
		fill_policies(t2, 100, 1);
		fill_users(t2, 1000, 1);
		in2 = bpf_program__fd(t2->progs.wgx_tun_ingress);
		eg2 = bpf_program__fd(t2->progs.wgx_tun_egress);
		len = build(user, 40100, dst, 443);
		memcpy(fwd, pkt, len);
		rlen = build(dst, 443, user, 40100);
		memcpy(rep, pkt, rlen);
		memcpy(pkt, fwd, len);
		measure(in_fd, len, 1, 0);	/* open the flow in both */
		measure(in2, len, 1, 0);
		base = measure(pass_fd, len, repeat, 0);
		with_in = measure(in_fd, len, repeat, 0);
		without_in = measure(in2, len, repeat, 0);
		memcpy(pkt, rep, rlen);
		with_eg = measure(eg_fd, rlen, repeat, 0);
		without_eg = measure(eg2, rlen, repeat, 0);
		printf("bench_tc: accounting (flow counters + the user's account), established flow:\n");
		printf("bench_tc: ingress with %6.1f ns, without %6.1f ns: %+5.1f ns/packet (baseline %.1f ns)\n",
		       with_in, without_in, with_in - without_in, base);
		printf("bench_tc: egress  with %6.1f ns, without %6.1f ns: %+5.1f ns/packet\n",
		       with_eg, without_eg, with_eg - without_eg);
		printf("bench_tc: memory per flow: key %zu + value %zu bytes + the hash table's element "
		       "header; per user account %zu bytes\n", sizeof(struct wgx_flow_key),
		       sizeof(struct wgx_flow), sizeof(struct wgx_tun_acct));
		tunnel__destroy(t2);
	}
	for (i = 0; i < (unsigned int)nr_inner; i++)
		close(inner_fds[i]);
	tunnel__destroy(t);
	bench_pass__destroy(pass);
	return 0;
}
