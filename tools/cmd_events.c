// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* wgxdp events: handshake initiations from the uplink ring buffer, as text or --json lines. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "loader/uplink.h"
#include "tools/wgxdp.h"

struct ev_ctx {
	bool json;
	unsigned long count, seen;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int on_event(void *ctx, const struct wgx_hs_event *ev)
{
	struct ev_ctx *c = ctx;
	char src[64], dst[64], ts[48], ifname[IF_NAMESIZE] = "?";
	__u64 real = wgx_mono_to_realtime(ev->ts_ns);
	time_t t = real / 1000000000ull;
	__u32 sender;

	if (c->count && c->seen >= c->count)
		return 1;
	memcpy(&sender, ev->msg + 4, 4);	/* little-endian on the wire */
	sender = le32toh(sender);
	wgx_fmt_endpoint(src, sizeof(src), ev->family, ev->saddr, ntohs(ev->sport));
	wgx_fmt_endpoint(dst, sizeof(dst), ev->family, ev->daddr, ntohs(ev->dport));
	wgx_fmt_time(ts, sizeof(ts), t);
	/* with microseconds: ...:SS.uuuuuuZ */
	snprintf(ts + strlen(ts) - 1, sizeof(ts) - strlen(ts) + 1, ".%06lluZ",
		 (unsigned long long)(real % 1000000000ull) / 1000);
	if_indextoname(ev->ifindex, ifname);
	if (c->json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:I}", "time", ts, "type",
				      "initiation", "src", src, "dst", dst, "ifindex",
				      (int)ev->ifindex, "rx_queue", (int)ev->rx_queue, "sender",
				      (json_int_t)sender);

		json_object_set_new(o, "ifname", json_string(ifname));
		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
	} else {
		printf("%s initiation %s -> %s on %s (queue %u) sender %08x\n", ts, src, dst, ifname,
		       ev->rx_queue, sender);
	}
	fflush(stdout);
	c->seen++;
	return c->count && c->seen >= c->count ? 1 : 0;
}

/* --NAME S: a number in [min, max] in *out, else one line and false. */
static bool parse_num(const char *name, const char *s, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	int err = wgx_parse_ulong(s, 0, max, out);

	if (err == -EINVAL)
		wgx_err("events", "--%s %s: expected a number", name, s);
	else if (err)
		wgx_err("events", "--%s %s: too large", name, s);
	else if (*out < min)
		wgx_err("events", "--%s %s: expected at least %lu", name, s, min);
	return !err && *out >= min;
}

/* The uplink was detached and attached again: the ring buffer pinned now is a new one. */
static bool ring_replaced(struct wgx_events *ev, const char *pin_dir)
{
	__u32 ours, now;

	return !wgx_events_map_id(ev, &ours) && !wgx_events_pinned_id(pin_dir, &now) &&
	       ours != now;
}

static int events_open(const char *pin_dir, struct ev_ctx *ctx, struct wgx_events **ev)
{
	int err = wgx_events_open(pin_dir, on_event, ctx, ev);

	if (err == -ENOENT)
		wgx_err("events", "nothing pinned in %s: run wgxdp attach first", pin_dir);
	else if (err)
		wgx_err("events", "%s/%s/wgx_events: %s", pin_dir, WGX_PIN_SUB_UPLINK,
			strerror(-err));
	return err;
}

int cmd_events(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{}
	};
	const char *pin_dir = wgx_pin_dir_default();
	struct ev_ctx ctx = {};
	struct wgx_events *ev;
	struct timespec last, now;
	unsigned long timeout = 0;
	int c, err;

	while ((c = getopt_long(argc, argv, "jc:t:d:", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			ctx.json = true;
			break;
		case 'c':
			if (!parse_num("count", optarg, 1, ULONG_MAX, &ctx.count))
				return 2;
			break;
		case 't':
			if (!parse_num("timeout", optarg, 0, LONG_MAX, &timeout))
				return 2;
			break;
		case 'd':
			pin_dir = optarg;
			break;
		default:
			return wgx_usage("events", stderr);
		}
	}
	if (optind != argc)
		return wgx_usage("events", stderr);
	if (events_open(pin_dir, &ctx, &ev))
		return 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	clock_gettime(CLOCK_MONOTONIC, &last);
	while (!stop && !(ctx.count && ctx.seen >= ctx.count)) {
		unsigned long before = ctx.seen;

		err = wgx_events_poll(ev, 200);
		if (err < 0 && err != -EINTR) {
			wgx_err("events", "ring buffer: %s", strerror(-err));
			break;
		}
		if (ring_replaced(ev, pin_dir)) {
			wgx_events_close(ev);
			if (events_open(pin_dir, &ctx, &ev))
				return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (ctx.seen != before)
			last = now;
		else if (timeout && now.tv_sec - last.tv_sec >= (long)timeout)
			break;
	}
	wgx_events_close(ev);
	if (ctx.count && ctx.seen < ctx.count) {
		wgx_err("events", "%lu of %lu events before the timeout", ctx.seen, ctx.count);
		return 1;
	}
	return 0;
}
