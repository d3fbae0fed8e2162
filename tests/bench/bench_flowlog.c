// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench_flowlog: flow records the daemon writes per second, one core. The tunnel's maps are
 * made and pinned in a scratch bpffs directory and filled with N live flows of 1,000 users;
 * every flow moves, and one interval of the flow log (wgx_flowlog_tick: read the table, diff,
 * build and write the records) is timed. Beside it, in the same run, the floor: N lines of
 * the same length written with one write(2) each, as the log does. `bench_flowlog [N]`
 * (default 100,000). The log goes to a file in /tmp (then removed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader/flowlog.h"
#include "loader/flows.h"
#include "loader/log.h"
#include "loader/loop.h"
#include "maps/wgxdp.h"
#include "tunnel.skel.h"

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_flowlog: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Every flow one more packet each way, stamped now (outside the timed part). */
static void move_all(int fd, int n)
{
	struct timespec t;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &t);
	for (i = 0; i < n; i++) {
		struct wgx_flow_key k = { .family = 4, .proto = 17, .uport = htons(10000 + i % 50000),
					  .rport = htons(53) };
		struct wgx_flow f;
		__u32 u = htonl(0x64400000u + i / 100), r = htonl(0x0a5b0000u + i % 100);

		memcpy(k.uaddr, &u, 4);
		memcpy(k.raddr, &r, 4);
		if (bpf_map_lookup_elem(fd, &k, &f)) {
			memset(&f, 0, sizeof(f));
			f.first_ns = (__u64)t.tv_sec * 1000000000ull + t.tv_nsec;
			f.user_id = i / 100;
			f.group_id = 1;
		}
		f.last_ns = (__u64)t.tv_sec * 1000000000ull + t.tv_nsec;
		f.pkts_out++;
		f.bytes_out += 100;
		f.pkts_in++;
		f.bytes_in += 120;
		if (bpf_map_update_elem(fd, &k, &f, BPF_ANY))
			die("fill wgx_flows");
	}
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	char pin[] = "/sys/fs/bpf/wgxdp-bench-XXXXXX", root[64], logp[] = "/tmp/wgxdp-bench-log-XXXXXX";
	struct wgx_flowlog_opts fo = { .interval_s = 3600 };
	struct wgx_flowlog *fl;
	struct wgx_loop *loop;
	struct tunnel *t;
	struct stat st;
	int n = 100000, fd, names_fd, lfd, i;
	double t0, t_log, t_floor, t_read;
	uint64_t recs;
	char *line;
	size_t avg;

	if (argc > 1)
		n = atoi(argv[1]);
	if (n < 1000 || n > 1000000) {
		fprintf(stderr, "bench_flowlog: N from 1000 to 1000000\n");
		return 2;
	}
	wgx_log_setup(stderr, WGX_LOG_HUMAN, WGX_LOG_ERR);
	if (!mkdtemp(pin))
		die("mkdtemp on bpffs");
	snprintf(root, sizeof(root), "%s/%s", pin, WGX_PIN_SUB_TUNNEL);
	if (mkdir(root, 0700))
		die("mkdir");
	oo.pin_root_path = root;
	t = tunnel__open_opts(&oo);
	if (!t)
		die("open the tunnel programs");
	bpf_map__set_max_entries(t->maps.wgx_flows, n);
	if (tunnel__load(t))
		die("load the tunnel programs");
	fd = bpf_map__fd(t->maps.wgx_flows);
	names_fd = bpf_map__fd(t->maps.wgx_tun_names);
	for (i = 0; i < n / 100 + 1; i++) {
		struct wgx_tun_name nm = {};
		__u32 id = i;

		snprintf(nm.user, sizeof(nm.user), "user%05d@example.com", i);
		memset(nm.public_key, i & 0xff, 32);
		bpf_map_update_elem(names_fd, &id, &nm, BPF_ANY);
	}
	{
		struct wgx_tun_cfg cfg = { .policy_loaded = 1 };
		__u32 zero = 0;

		bpf_map_update_elem(bpf_map__fd(t->maps.wgx_tun_cfg), &zero, &cfg, BPF_ANY);
	}
	move_all(fd, n);
	lfd = mkstemp(logp);
	if (lfd < 0)
		die("mkstemp");
	close(lfd);
	fo.path = logp;
	fo.pin_dir = pin;
	fo.wg_ifname = "wgxbench0";	/* none: endpoints are null */
	if (wgx_loop_new(&loop) || wgx_flowlog_open(&fo, loop, &fl))
		die("open the flow log");
	wgx_flowlog_tick(fl);		/* the first look: what is there is not news */
	move_all(fd, n);
	recs = wgx_flowlog_stats(fl)->records;
	t0 = now_s();
	wgx_flowlog_tick(fl);
	t_log = now_s() - t0;
	recs = wgx_flowlog_stats(fl)->records - recs;
	wgx_flowlog_close(fl);
	wgx_loop_free(loop);
	{	/* of which: reading the table with the names */
		struct wgx_flows f;

		t0 = now_s();
		if (wgx_flows_read_unsorted(pin, NULL, true, &f))
			die("read the flows");
		t_read = now_s() - t0;
		wgx_flows_free(&f);
	}
	if (stat(logp, &st))
		die("stat the log");
	avg = recs ? (size_t)st.st_size / recs : 200;

	/* the floor: as many lines of that length, one write(2) each */
	line = malloc(avg + 1);
	memset(line, 'x', avg);
	line[avg - 1] = '\n';
	lfd = open(logp, O_WRONLY | O_TRUNC | O_APPEND);
	if (lfd < 0)
		die("open");
	t0 = now_s();
	for (i = 0; i < (int)recs; i++)
		if (write(lfd, line, avg) != (ssize_t)avg)
			die("write");
	t_floor = now_s() - t0;
	close(lfd);
	unlink(logp);
	free(line);
	tunnel__destroy(t);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pin);	/* the pins and their directory */
		if (system(cmd))
			fprintf(stderr, "bench_flowlog: could not remove %s\n", pin);
	}
	printf("bench_flowlog: %d flows, one interval: %llu records of %zu bytes in %.3f s: "
	       "%.0f records/s\n", n, (unsigned long long)recs, avg, t_log, recs / t_log);
	printf("bench_flowlog: of which reading the table and the names: %.3f s\n", t_read);
	printf("bench_flowlog: the floor (write(2) of as many lines): %.3f s: %.0f lines/s; "
	       "ratio %.2fx\n", t_floor, recs / t_floor, t_log / t_floor);
	return recs == (uint64_t)n ? 0 : 1;
}
