// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench_xdp: ns/packet of the uplink program under BPF_PROG_TEST_RUN, beside a trivial
 * XDP_PASS program measured in the same run. Prints one line per case and the ratio.
 * `bench_xdp [repeat]` (default 1,000,000). Each number is the median of 5 runs; the kernel
 * reports whole nanoseconds per packet.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps/wgxdp.h"
#include "uplink.skel.h"
#include "bench_pass.skel.h"

#define RUNS 5

static unsigned char pkt[256];

static size_t build(int kind)
{
	unsigned char *ip = pkt + 14, *udp = ip + 20, *wg = udp + 8;
	size_t wglen = kind == 1 ? 128 : 148, len;

	memset(pkt, 0, sizeof(pkt));
	pkt[12] = 0x08;		/* IPv4 */
	ip[0] = 0x45;
	ip[8] = 64;
	ip[9] = kind == 0 ? 6 : 17;	/* non-WireGuard: TCP */
	ip[12] = 198, ip[13] = 51, ip[14] = 100, ip[15] = 7;
	ip[16] = 203, ip[17] = 0, ip[18] = 113, ip[19] = 1;
	udp[0] = 0x9c, udp[1] = 0x40;
	udp[2] = 51820 >> 8, udp[3] = 51820 & 0xff;
	if (kind == 0) {
		len = 14 + 20 + 20 + 64;
	} else {
		wg[0] = kind == 1 ? 4 : 1;
		udp[4] = (8 + wglen) >> 8, udp[5] = (8 + wglen) & 0xff;
		len = 14 + 20 + 8 + wglen;
	}
	ip[2] = (len - 14) >> 8, ip[3] = (len - 14) & 0xff;
	return len;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int drain(void *ctx, void *data, size_t len)
{
	return 0;
}

/* ns/packet: median of RUNS runs of `repeat`, in batches of `batch` (drained between). */
static double measure(int prog_fd, size_t len, int repeat, int batch, struct ring_buffer *rb)
{
	double r[RUNS];
	int i;

	for (i = 0; i < RUNS; i++) {
		unsigned long long ns = 0;
		int done = 0;

		while (done < repeat) {
			int n = repeat - done < batch ? repeat - done : batch;
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
				    .repeat = n);

			if (bpf_prog_test_run_opts(prog_fd, &o)) {
				perror("bpf_prog_test_run_opts");
				exit(1);
			}
			ns += (unsigned long long)o.duration * n;
			done += n;
			if (rb)
				ring_buffer__consume(rb);
		}
		r[i] = (double)ns / repeat;
	}
	qsort(r, RUNS, sizeof(r[0]), cmp);
	return r[RUNS / 2];
}

int main(int argc, char **argv)
{
	int repeat = argc > 1 ? atoi(argv[1]) : 1000000;
	struct bench_pass *pass;
	struct uplink *up;
	struct ring_buffer *rb;
	struct bpf_map *m;
	double base, other, data, init;
	__u32 key;
	struct wgx_counter *c;
	int ncpu = libbpf_num_possible_cpus(), i;
	unsigned long long lost = 0, ok = 0;

	pass = bench_pass__open_and_load();
	up = uplink__open();
	if (!pass || !up) {
		fprintf(stderr, "bench_xdp: cannot open the programs\n");
		return 1;
	}
	bpf_object__for_each_map(m, up->obj)
		bpf_map__set_pin_path(m, NULL);
	/* room for every event of a run: each initiation is reserved and submitted */
	bpf_map__set_max_entries(up->maps.wgx_events, 256u << 20);
	up->rodata->cfg_ports[0] = htons(51820);
	up->rodata->cfg_nr_ports = 1;
	if (uplink__load(up)) {
		fprintf(stderr, "bench_xdp: cannot load the uplink program\n");
		return 1;
	}
	rb = ring_buffer__new(bpf_map__fd(up->maps.wgx_events), drain, NULL, NULL);

	size_t l0 = build(0);
	base = measure(bpf_program__fd(pass->progs.bench_pass), l0, repeat, repeat, NULL);
	other = measure(bpf_program__fd(up->progs.wgxdp_uplink), l0, repeat, repeat, NULL);
	size_t l1 = build(1);
	data = measure(bpf_program__fd(up->progs.wgxdp_uplink), l1, repeat, repeat, NULL);
	size_t l2 = build(2);
	init = measure(bpf_program__fd(up->progs.wgxdp_uplink), l2, repeat,
		       repeat > 1000000 ? 1000000 : repeat, rb);

	c = calloc(ncpu, sizeof(*c));
	key = WGX_CTR_INDEX(0, WGX_C_INITIATION, WGX_R_OK, WGX_V_PASS);
	bpf_map_lookup_elem(bpf_map__fd(up->maps.wgx_counters), &key, c);
	for (i = 0; i < ncpu; i++)
		ok += c[i].packets;
	key = WGX_CTR_INDEX(0, WGX_C_INITIATION, WGX_R_EVENT_LOST, WGX_V_PASS);
	bpf_map_lookup_elem(bpf_map__fd(up->maps.wgx_counters), &key, c);
	for (i = 0; i < ncpu; i++)
		lost += c[i].packets;

	printf("bench_xdp: repeat %d, median of %d runs, ns/packet\n", repeat, RUNS);
	printf("bench_xdp: %-28s %7.1f ns\n", "trivial XDP_PASS (baseline)", base);
	printf("bench_xdp: %-28s %7.1f ns  %.2fx baseline (target <= 2x)\n", "non-WireGuard (TCP)",
	       other, other / base);
	printf("bench_xdp: %-28s %7.1f ns  %.2fx baseline (target <= 2x)\n", "transport data 128 B",
	       data, data / base);
	printf("bench_xdp: %-28s %7.1f ns  (target < 300 ns; %llu events, %llu lost)\n",
	       "initiation + ring event", init, ok, lost);
	ring_buffer__free(rb);
	uplink__destroy(up);
	bench_pass__destroy(pass);
	free(c);
	return 0;
}
