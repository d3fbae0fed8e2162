// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench_xdp: ns/packet of the uplink program under BPF_PROG_TEST_RUN, beside a trivial
 * XDP_PASS program measured in the same run on the same packet. Prints one line per packet
 * (non-WireGuard, transport data of 128 and of 1,424 bytes, an initiation) and the ratio.
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

/* One packet: IPv4 to 203.0.113.1, TCP or UDP to the WireGuard port with a payload. */
struct bcase {
	const char *name;
	__u8 proto;		/* 6 TCP (not WireGuard), 17 UDP */
	__u8 wg_type;		/* first byte of the UDP payload */
	size_t payload;		/* bytes after the L4 header */
	bool events;		/* emits ring-buffer events: drain between batches */
	const char *target;
};

static const struct bcase cases[] = {
	{ "non-WireGuard (TCP)", 6, 0, 64, false, "target <= 2x" },
	{ "transport data 128 B", 17, WG_MSG_DATA, 128, false, "target <= 2x" },
	{ "transport data 1424 B", 17, WG_MSG_DATA, 1424, false, "target <= 2x" },
	{ "initiation + ring event", 17, WG_MSG_INITIATION, WG_LEN_INITIATION, true,
	  "target < 300 ns" },
};

static unsigned char pkt[1514];

static size_t build(const struct bcase *bc)
{
	unsigned char *ip = pkt + 14, *l4 = ip + 20;
	size_t l4hdr = bc->proto == 6 ? 20 : 8, len = 14 + 20 + l4hdr + bc->payload;

	memset(pkt, 0, sizeof(pkt));
	pkt[12] = 0x08;		/* IPv4 */
	ip[0] = 0x45;
	ip[2] = (len - 14) >> 8, ip[3] = (len - 14) & 0xff;
	ip[8] = 64;
	ip[9] = bc->proto;
	ip[12] = 198, ip[13] = 51, ip[14] = 100, ip[15] = 7;
	ip[16] = 203, ip[17] = 0, ip[18] = 113, ip[19] = 1;
	l4[0] = 0x9c, l4[1] = 0x40;
	l4[2] = 51820 >> 8, l4[3] = 51820 & 0xff;
	if (bc->proto == 17) {
		l4[4] = (8 + bc->payload) >> 8, l4[5] = (8 + bc->payload) & 0xff;
		l4[8] = bc->wg_type;
	}
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

static unsigned long long counter(struct uplink *up, __u32 key, int ncpu)
{
	struct wgx_counter *c = calloc(ncpu, sizeof(*c));
	unsigned long long n = 0;
	int i;

	if (!c || bpf_map_lookup_elem(bpf_map__fd(up->maps.wgx_counters), &key, c))
		ncpu = 0;
	for (i = 0; i < ncpu; i++)
		n += c[i].packets;
	free(c);
	return n;
}

int main(int argc, char **argv)
{
	int pass_fd, up_fd, ncpu = libbpf_num_possible_cpus(), repeat = 1000000;
	struct bench_pass *pass;
	struct uplink *up;
	struct ring_buffer *rb;
	struct bpf_map *m;
	unsigned int i;
	char *end;

	if (argc > 1) {
		long v = strtol(argv[1], &end, 10);

		if (*end || v < 1 || v > 1000000000) {
			fprintf(stderr, "bench_xdp: %s: expected a repeat count (1-1000000000)\n",
				argv[1]);
			return 2;
		}
		repeat = v;
	}
	pass = bench_pass__open_and_load();
	up = uplink__open();
	if (!pass || !up || ncpu <= 0) {
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
	pass_fd = bpf_program__fd(pass->progs.bench_pass);
	up_fd = bpf_program__fd(up->progs.wgxdp_uplink);

	printf("bench_xdp: repeat %d, median of %d runs, ns/packet; the baseline is a trivial\n"
	       "bench_xdp: XDP_PASS program run on the same packet\n", repeat, RUNS);
	printf("bench_xdp: %-24s %6s %9s %9s %6s\n", "packet", "bytes", "uplink", "baseline",
	       "ratio");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bcase *bc = &cases[i];
		size_t len = build(bc);
		int batch = bc->events && repeat > 1000000 ? 1000000 : repeat;
		double base, ns;

		base = measure(pass_fd, len, repeat, repeat, NULL);
		ns = measure(up_fd, len, repeat, batch, bc->events ? rb : NULL);
		printf("bench_xdp: %-24s %6zu %6.1f ns %6.1f ns %5.2fx  (%s)\n", bc->name, len, ns,
		       base, ns / base, bc->target);
	}
	printf("bench_xdp: initiations: %llu events, %llu lost\n",
	       counter(up, WGX_CTR_INDEX(0, WGX_C_INITIATION, WGX_R_OK, WGX_V_PASS), ncpu),
	       counter(up, WGX_CTR_INDEX(0, WGX_C_INITIATION, WGX_R_EVENT_LOST, WGX_V_PASS), ncpu));
	ring_buffer__free(rb);
	uplink__destroy(up);
	bench_pass__destroy(pass);
	return 0;
}
