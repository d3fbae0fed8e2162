// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The flow log (flowlog.h): the tunnel's flows, denies and the daemon's peers as JSON lines. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#include "loader/enforce.h"
#include "loader/flowlog.h"
#include "loader/flows.h"
#include "loader/fmt.h"
#include "loader/log.h"
#include "loader/loop.h"
#include "loader/mapio.h"
#include "loader/noise.h"
#include "loader/tunnel.h"
#include "loader/uplink.h"
#include "loader/wgdev.h"

#define LOG(lvl, ...) wgx_log(WGX_LOG_##lvl, "flow-log", __VA_ARGS__)

/* A flow as last reported: its identity (key, first_ns) and the counts reported so far. */
struct tracked {
	struct wgx_flow_key key;
	uint64_t first_ns;
	uint64_t pkts_out, bytes_out, pkts_in, bytes_in;
	uint32_t user_id, flags;
	uint16_t group_id, rule_idx;
	bool ended;			/* its flow_end record is written */
	char user[48];			/* as first seen: an id may pass to another user */
	uint8_t public_key[32];
};

/* A user's deny counters as last reported. */
struct deny_sum {
	uint32_t user_id;
	uint64_t denied, held;
};

#define START_SLOTS	4096		/* users counted apart per interval (a power of 2) */

struct wgx_flowlog {
	struct wgx_flowlog_opts o;
	char *path;
	int fd;				/* O_APPEND; -1: none */
	bool partial;			/* the last write was cut short: start on a new line */
	struct wgx_loop *loop;
	struct tracked *prev;
	size_t nr_prev;
	struct deny_sum *denies;	/* sorted by user id */
	size_t nr_denies;
	uint64_t deny_records;		/* this interval's, against WGX_FLOWLOG_DENY_CAP */
	uint64_t deny_dropped;		/* ... over the cap: in the interval's summary */
	uint64_t outcomes[WGX_FLOWLOG_NR_OUTCOMES];	/* folded handshake outcomes */
	bool baseline;			/* the first look: what is there is not news */
	uint64_t interval_start_ns;	/* CLOCK_REALTIME */
	struct ring_buffer *rb;		/* the tunnel's deny and flow-start events */
	uint32_t rb_map_id;
	int names_fd;			/* the tunnel's wgx_tun_names, for deny records */
	int groups_fd;			/* wgx_tun_groups, for flow-start records */
	uint64_t start_records;		/* this interval's, against WGX_FLOWLOG_DENY_CAP */
	uint64_t start_dropped;		/* ... over the cap: in the interval's summary */
	struct { uint32_t user_id, n; } start_users[START_SLOTS];	/* this interval's, by
					 * user (open addressing; n 0: free) */
	struct wgx_acct_rec *accts;	/* the users' accounts as last reported, by user id */
	size_t nr_accts;
	int last_errno;
	size_t buf_len, buf_lines;	/* records gathered, not yet written */
	char buf[1 << 16];
	uint64_t lost_reported;
	struct wgx_wg_device *dev;	/* endpoints, read once per interval */
	struct wgx_flowlog_stats st;
};

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void set_time(json_t *o, const char *name, uint64_t real_ns)
{
	char t[40];

	wgx_fmt_time_ns(t, sizeof(t), real_ns);
	json_object_set_new(o, name, json_string(t));
}

/*
 * Records are gathered in fl->buf, whole lines only, and written with one write(2) (O_APPEND:
 * never interleaved with another writer) when it is full and at the end of every batch: an
 * interval, a ring buffer's events, a daemon record. What a short write leaves out is counted
 * as lost, line by line; a line cut short (a full disk) is ended before the next one.
 */
static void write_out(struct wgx_flowlog *fl)
{
	ssize_t n;
	size_t done = 0, i;

	if (!fl->buf_len)
		return;
	n = fl->fd >= 0 ? write(fl->fd, fl->buf, fl->buf_len) : -1;
	if (n == (ssize_t)fl->buf_len) {
		fl->st.records += fl->buf_lines;
		fl->partial = false;
	} else {
		fl->last_errno = n < 0 ? errno : ENOSPC;
		for (i = 0; n > 0 && i < (size_t)n; i++)
			done += fl->buf[i] == '\n';
		if (fl->partial && done)
			done--;		/* the newline that ended the cut line before */
		fl->st.records += done;
		fl->st.lost += fl->buf_lines - done;
		if (n > 0)	/* nothing written: a cut line before stays cut */
			fl->partial = fl->buf[n - 1] != '\n';
	}
	fl->buf_len = 0;
	fl->buf_lines = 0;
}

/* One whole line into the batch; a line longer than the batch is lost, and counted. */
static void emit_line(struct wgx_flowlog *fl, const char *s, size_t n)
{
	if (fl->buf_len + n + 2 > sizeof(fl->buf))
		write_out(fl);
	if (!fl->buf_len && fl->partial)
		fl->buf[fl->buf_len++] = '\n';
	if (fl->buf_len + n + 1 > sizeof(fl->buf)) {
		fl->st.lost++;
		fl->last_errno = EMSGSIZE;
		return;
	}
	memcpy(fl->buf + fl->buf_len, s, n);
	fl->buf_len += n;
	fl->buf[fl->buf_len++] = '\n';
	fl->buf_lines++;
}

/* One record (takes o). */
static void emit(struct wgx_flowlog *fl, json_t *o)
{
	char *line = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	if (!line) {
		fl->st.lost++;
		fl->last_errno = ENOMEM;
		return;
	}
	emit_line(fl, line, strlen(line));
	free(line);
}

static void flush(struct wgx_flowlog *fl)
{
	write_out(fl);
	if (fl->st.lost > fl->lost_reported) {
		LOG(WARN, "%s: %llu records lost (%s); enforcement goes on", fl->path,
		    (unsigned long long)(fl->st.lost - fl->lost_reported),
		    strerror(fl->last_errno));
		fl->lost_reported = fl->st.lost;
	}
}

static json_t *record(const struct wgx_flowlog *fl, const char *type, uint64_t real_ns)
{
	json_t *o = json_object();

	set_time(o, "time", real_ns);
	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "interface", json_string(fl->o.wg_ifname));
	return o;
}

static void set_user(json_t *o, const char *user, const uint8_t key[32])
{
	static const uint8_t zero[32];
	char k64[45];

	json_object_set_new(o, "user", user && user[0] ? json_string(user) : json_null());
	if (key && memcmp(key, zero, 32)) {
		wgx_key_to_base64(k64, key);
		json_object_set_new(o, "public_key", json_string(k64));
	} else {
		json_object_set_new(o, "public_key", json_null());
	}
}

static void set_addr(json_t *o, const char *name, int family, const uint8_t *addr)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, ip, sizeof(ip));
	json_object_set_new(o, name, json_string(ip));
}

/*
 * Flow records are most of the log (one per flow per interval): they are written without
 * jansson, straight into a line, with the same fields (bytes outside printable ASCII as \u00XX).
 */
struct line {
	char b[2048];
	size_t n;
	bool over;		/* did not fit: the record is lost (and counted) */
};

static void l_raw(struct line *l, const char *s, size_t n)
{
	if (l->n + n >= sizeof(l->b)) {
		l->over = true;
		return;
	}
	memcpy(l->b + l->n, s, n);
	l->n += n;
}

static void l_key(struct line *l, const char *key)
{
	l_raw(l, l->n > 1 ? ",\"" : "\"", l->n > 1 ? 2 : 1);
	l_raw(l, key, strlen(key));
	l_raw(l, "\":", 2);
}

static bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* A JSON string: quotes and backslashes escaped, control and non-ASCII bytes as \u00XX. */
static void l_str(struct line *l, const char *key, const char *v)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *c, *run;
	char esc[6] = { '\\', 'u', '0', '0' };

	l_key(l, key);
	if (!v) {
		l_raw(l, "null", 4);
		return;
	}
	l_raw(l, "\"", 1);
	for (c = (const unsigned char *)v; *c; c++) {
		for (run = c; plain(*c); c++)
			;
		l_raw(l, (const char *)run, c - run);	/* the plain bytes at once */
		if (!*c)
			break;
		if (*c == '"' || *c == '\\') {
			esc[1] = *c;
			l_raw(l, esc, 2);
			esc[1] = 'u';
		} else {
			esc[4] = hex[*c >> 4];
			esc[5] = hex[*c & 15];
			l_raw(l, esc, 6);
		}
	}
	l_raw(l, "\"", 1);
}

static void l_u64(struct line *l, const char *key, uint64_t v)
{
	char num[24], *p = num + sizeof(num);

	do
		*--p = '0' + v % 10;
	while (v /= 10);
	l_key(l, key);
	l_raw(l, p, num + sizeof(num) - p);
}

/*
 * RFC 3339 UTC with microseconds, as wgx_fmt_time_ns, the date and time of day formatted once
 * per second: a record's times fall in a few seconds, and gmtime_r and strftime cost more than
 * the rest of a record.
 */
static void l_time(struct line *l, const char *key, uint64_t real_ns)
{
	static __thread struct { uint64_t sec; char t[32]; size_t n; } memo[4] = {
		{ .sec = ~0ull }, { .sec = ~0ull }, { .sec = ~0ull }, { .sec = ~0ull } };
	uint64_t sec = real_ns / 1000000000ull;
	unsigned int us = real_ns % 1000000000ull / 1000, i;
	typeof(&memo[0]) m = &memo[sec % 4];	/* now, a flow's start and last packet */
	char t[48];

	if (sec != m->sec) {
		time_t tt = sec;
		struct tm tm;

		gmtime_r(&tt, &tm);
		m->n = strftime(m->t, sizeof(m->t), "%Y-%m-%dT%H:%M:%S", &tm);
		m->sec = sec;
	}
	memcpy(t, m->t, m->n);
	t[m->n] = '.';
	for (i = 6; i > 0; i--, us /= 10)
		t[m->n + i] = '0' + us % 10;
	t[m->n + 7] = 'Z';
	t[m->n + 8] = 0;
	l_str(l, key, t);
}

static void l_addr(struct line *l, const char *key, int family, const uint8_t *addr)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, ip, sizeof(ip));
	l_str(l, key, ip);
}

/*
 * A "flow" record (the interval's counts d) or a "flow_end" record (the totals, reason).
 * tx: from the user; rx: towards the user.
 */
static void emit_flow(struct wgx_flowlog *fl, const struct wgx_flow_rec *r,
		      const struct tracked *d, uint64_t now_real, const char *end_reason)
{
	static const uint8_t zero[32];
	const struct wgx_wg_peer *p = fl->dev ? wgx_wg_device_find(fl->dev, r->public_key) : NULL;
	struct line l = { .b = "{", .n = 1 };
	char proto[16], k64[45], ep[64];

	l_time(&l, "time", now_real);
	l_str(&l, "type", end_reason ? "flow_end" : "flow");
	l_str(&l, "interface", fl->o.wg_ifname);
	l_str(&l, "user", r->user[0] ? r->user : NULL);
	if (memcmp(r->public_key, zero, 32))
		wgx_key_to_base64(k64, r->public_key);
	l_str(&l, "public_key", memcmp(r->public_key, zero, 32) ? k64 : NULL);
	l_u64(&l, "user_id", r->v.user_id);
	l_addr(&l, "tunnel_address", r->key.family, r->key.uaddr);
	ep[0] = 0;
	if (p && p->endpoint.sa.sa_family == AF_INET6)
		wgx_fmt_endpoint(ep, sizeof(ep), 6, &p->endpoint.in6.sin6_addr,
				 ntohs(p->endpoint.in6.sin6_port));
	else if (p && p->endpoint.sa.sa_family == AF_INET)
		wgx_fmt_endpoint(ep, sizeof(ep), 4, &p->endpoint.in4.sin_addr,
				 ntohs(p->endpoint.in4.sin_port));
	l_str(&l, "peer_endpoint", ep[0] ? ep : NULL);
	l_str(&l, "direction", r->v.flags & WGX_FLOW_F_INBOUND ? "inbound" : "outbound");
	l_str(&l, "family", r->key.family == 6 ? "ipv6" : "ipv4");
	l_str(&l, "proto", wgx_proto_name(r->key.proto, proto, sizeof(proto)));
	l_u64(&l, "user_port", ntohs(r->key.uport));
	l_addr(&l, "remote_address", r->key.family, r->key.raddr);
	l_u64(&l, "remote_port", ntohs(r->key.rport));
	l_u64(&l, "tx_packets", d->pkts_out);
	l_u64(&l, "tx_bytes", d->bytes_out);
	l_u64(&l, "rx_packets", d->pkts_in);
	l_u64(&l, "rx_bytes", d->bytes_in);
	if (!end_reason) {
		l_time(&l, "interval_start", fl->interval_start_ns);
		l_time(&l, "interval_end", now_real);
	}
	l_time(&l, "flow_start", r->first_real_ns);
	l_time(&l, end_reason ? "flow_end" : "last_seen", r->last_real_ns);
	if (end_reason)
		l_str(&l, "end_reason", end_reason);
	l_str(&l, "group", r->group[0] ? r->group : NULL);
	l_u64(&l, "rule", r->v.rule_idx);
	l_raw(&l, "}", 1);
	if (l.over) {
		fl->st.lost++;
		fl->last_errno = EMSGSIZE;
		return;
	}
	emit_line(fl, l.b, l.n);
}

static int tracked_cmp(const struct tracked *a, const struct tracked *b)
{
	int c = memcmp(&a->key, &b->key, sizeof(a->key));

	if (c)
		return c;
	return a->first_ns < b->first_ns ? -1 : a->first_ns > b->first_ns;
}

static int rec_cmp(const void *x, const void *y)
{
	const struct wgx_flow_rec *a = x, *b = y;
	int c = memcmp(&a->key, &b->key, sizeof(a->key));

	if (c)
		return c;
	return a->v.first_ns < b->v.first_ns ? -1 : a->v.first_ns > b->v.first_ns;
}

static const char *end_reason(const struct wgx_flow_rec *r)
{
	if (r->v.flags & WGX_FLOW_F_REVOKED)
		return "revoked";
	if (r->key.proto == 6 && (r->v.flags & WGX_FLOW_F_RST))
		return "reset";
	if (r->key.proto == 6 && (r->v.flags & (WGX_FLOW_F_FIN_OUT | WGX_FLOW_F_FIN_IN)) ==
				 (WGX_FLOW_F_FIN_OUT | WGX_FLOW_F_FIN_IN))
		return "closed";
	return "idle";
}

/* A flow gone from the table before we saw it end: its last known totals. */
static void emit_evicted(struct wgx_flowlog *fl, const struct tracked *t, uint64_t now_real)
{
	struct wgx_flow_rec r = { .key = t->key };

	r.v.first_ns = t->first_ns;
	r.v.user_id = t->user_id;
	r.v.flags = t->flags;
	r.v.group_id = t->group_id;
	r.v.rule_idx = t->rule_idx;
	memcpy(r.user, t->user, sizeof(r.user));
	memcpy(r.public_key, t->public_key, sizeof(r.public_key));
	r.first_real_ns = wgx_mono_to_real_ns(t->first_ns);
	r.last_real_ns = now_real;
	emit_flow(fl, &r, t, now_real, "evicted");
	fl->st.flows_ended++;
}

/* 0, or -errno when the table could not be read (-ENOENT: not attached is 0). */
static int flows_tick(struct wgx_flowlog *fl, uint64_t now_real)
{
	struct wgx_flows f;
	struct tracked *cur;
	size_t i, j = 0;
	int err;

	err = wgx_flows_read_unsorted(fl->o.pin_dir, NULL, true, &f);	/* sorted below */
	if (err == -ENOENT)
		return 0;	/* not attached: nothing moved; what we track stays */
	if (err) {
		LOG(WARN, "read the flows: %s", strerror(-err));
		return err;
	}
	/* the ended ones leave the table with their final counts, reported below */
	err = wgx_flows_reap(fl->o.pin_dir, &f);
	if (err < 0)
		LOG(WARN, "remove the ended flows: %s", strerror(-err));
	qsort(f.recs, f.nr, sizeof(*f.recs), rec_cmp);
	cur = calloc(f.nr + 1, sizeof(*cur));
	if (!cur) {
		wgx_flows_free(&f);
		return -ENOMEM;
	}
	wgx_wg_device_free(fl->dev);
	fl->dev = NULL;
	if (!fl->baseline && f.nr && !wgx_wg_get_device(fl->o.wg_ifname, &fl->dev))
		wgx_wg_device_sort(fl->dev);
	for (i = 0; i < f.nr; i++) {
		struct wgx_flow_rec *r = &f.recs[i];
		struct tracked *c = &cur[i], d;
		const struct tracked *p = NULL;

		*c = (struct tracked){ r->key, r->v.first_ns, r->v.pkts_out, r->v.bytes_out,
				       r->v.pkts_in, r->v.bytes_in, r->v.user_id, r->v.flags,
				       r->v.group_id, r->v.rule_idx, false };
		memcpy(c->user, r->user, sizeof(c->user));
		memcpy(c->public_key, r->public_key, sizeof(c->public_key));
		/* both sorted: the old ones before this one are gone from the table */
		while (j < fl->nr_prev && tracked_cmp(&fl->prev[j], c) < 0) {
			if (!fl->prev[j].ended && !fl->baseline)
				emit_evicted(fl, &fl->prev[j], now_real);
			j++;
		}
		if (j < fl->nr_prev && !tracked_cmp(&fl->prev[j], c))
			p = &fl->prev[j++];
		/* counts never go back for one flow; if they did, it is a new one */
		if (p && (c->pkts_out < p->pkts_out || c->bytes_out < p->bytes_out ||
			  c->pkts_in < p->pkts_in || c->bytes_in < p->bytes_in))
			p = NULL;
		if (p && p->user[0]) {	/* the name it had when first seen */
			memcpy(c->user, p->user, sizeof(c->user));
			memcpy(c->public_key, p->public_key, sizeof(c->public_key));
			memcpy(r->user, p->user, sizeof(r->user));
			memcpy(r->public_key, p->public_key, sizeof(r->public_key));
		}
		if (fl->baseline) {
			c->ended = !r->live;
			continue;
		}
		d = (struct tracked){ .pkts_out = c->pkts_out - (p ? p->pkts_out : 0),
				      .bytes_out = c->bytes_out - (p ? p->bytes_out : 0),
				      .pkts_in = c->pkts_in - (p ? p->pkts_in : 0),
				      .bytes_in = c->bytes_in - (p ? p->bytes_in : 0) };
		if (d.pkts_out || d.pkts_in)
			emit_flow(fl, r, &d, now_real, NULL);
		c->ended = p && p->ended;
		if (!r->live && !c->ended) {
			emit_flow(fl, r, c, now_real, end_reason(r));
			fl->st.flows_ended++;
			c->ended = true;
		}
	}
	for (; j < fl->nr_prev; j++)
		if (!fl->prev[j].ended && !fl->baseline)
			emit_evicted(fl, &fl->prev[j], now_real);
	free(fl->prev);
	fl->prev = cur;
	fl->nr_prev = f.nr;		/* sorted as f.recs */
	wgx_flows_free(&f);
	return 0;
}

/* ---- denies ---- */

static void name_of_id(const struct wgx_flowlog *fl, uint32_t id, struct wgx_tun_name *nm)
{
	memset(nm, 0, sizeof(*nm));
	if (id != WGX_USER_NONE && fl->names_fd >= 0)
		bpf_map_lookup_elem(fl->names_fd, &id, nm);
}

static int on_deny(void *ctx, void *data, size_t len)
{
	struct wgx_flowlog *fl = ctx;
	const struct wgx_deny_event *ev = data;
	struct wgx_tun_name nm;
	char proto[16];
	json_t *o;

	if (len < sizeof(*ev))
		return 0;
	/* the kernel limits each user; this limits all of them (an interval's summary says) */
	if (fl->deny_records >= WGX_FLOWLOG_DENY_CAP) {
		fl->deny_dropped++;
		return 0;
	}
	fl->deny_records++;
	o = record(fl, "deny", wgx_mono_to_real_ns(ev->ts_ns));
	name_of_id(fl, ev->user_id, &nm);
	nm.user[sizeof(nm.user) - 1] = 0;
	set_user(o, nm.user, nm.public_key);
	json_object_set_new(o, "user_id", ev->user_id == WGX_USER_NONE ? json_null() :
					  json_integer(ev->user_id));
	json_object_set_new(o, "direction", json_string(ev->dir == WGX_TD_INGRESS ?
							 "from_user" : "to_user"));
	json_object_set_new(o, "reason", json_string(wgx_tun_reason_name(ev->reason)));
	json_object_set_new(o, "family", json_string(ev->family == 6 ? "ipv6" : "ipv4"));
	json_object_set_new(o, "proto", json_string(wgx_proto_name(ev->proto, proto,
								     sizeof(proto))));
	set_addr(o, "src", ev->family, ev->saddr);
	json_object_set_new(o, "src_port", json_integer(ntohs(ev->sport)));
	set_addr(o, "dst", ev->family, ev->daddr);
	json_object_set_new(o, "dst_port", json_integer(ntohs(ev->dport)));
	emit(fl, o);
	fl->st.denies++;
	return 0;
}

/* A "flow_start" record: the kernel's event for a new flow (or an ended entry revived). */
/*
 * Whether user_id may have one more flow_start record this interval (one more counted). Once
 * START_SLOTS users have had some, the others only have the overall cap.
 */
static bool start_share(struct wgx_flowlog *fl, uint32_t user_id)
{
	uint32_t h = user_id * 2654435761u, i;

	for (i = 0; i < START_SLOTS; i++) {
		typeof(&fl->start_users[0]) s = &fl->start_users[(h + i) & (START_SLOTS - 1)];

		if (s->n && s->user_id != user_id)
			continue;
		if (s->n >= WGX_FLOWLOG_START_USER_CAP)
			return false;
		s->user_id = user_id;
		s->n++;
		return true;
	}
	return true;
}

static int on_fstart(void *ctx, void *data, size_t len)
{
	struct wgx_flowlog *fl = ctx;
	const struct wgx_flow_event *ev = data;
	struct wgx_tun_group grp = {};
	struct wgx_tun_name nm;
	uint32_t g;
	char proto[16];
	json_t *o;

	if (len < sizeof(*ev))
		return 0;
	if (fl->start_records >= WGX_FLOWLOG_DENY_CAP || !start_share(fl, ev->user_id)) {
		fl->start_dropped++;
		return 0;
	}
	fl->start_records++;
	o = record(fl, "flow_start", wgx_mono_to_real_ns(ev->ts_ns));
	name_of_id(fl, ev->user_id, &nm);
	nm.user[sizeof(nm.user) - 1] = 0;
	set_user(o, nm.user, nm.public_key);
	json_object_set_new(o, "user_id", json_integer(ev->user_id));
	set_addr(o, "tunnel_address", ev->key.family, ev->key.uaddr);
	json_object_set_new(o, "direction", json_string(ev->flags & WGX_FLOW_F_INBOUND ?
							 "inbound" : "outbound"));
	json_object_set_new(o, "family", json_string(ev->key.family == 6 ? "ipv6" : "ipv4"));
	json_object_set_new(o, "proto", json_string(wgx_proto_name(ev->key.proto, proto,
								     sizeof(proto))));
	json_object_set_new(o, "user_port", json_integer(ntohs(ev->key.uport)));
	set_addr(o, "remote_address", ev->key.family, ev->key.raddr);
	json_object_set_new(o, "remote_port", json_integer(ntohs(ev->key.rport)));
	json_object_set_new(o, "first_packet_bytes", json_integer(ev->len));
	g = ev->group_id;
	if (fl->groups_fd >= 0)
		bpf_map_lookup_elem(fl->groups_fd, &g, &grp);
	grp.name[sizeof(grp.name) - 1] = 0;
	json_object_set_new(o, "group", grp.name[0] ? json_string(grp.name) : json_null());
	json_object_set_new(o, "rule", json_integer(ev->rule_idx));
	emit(fl, o);
	return 0;
}

static int acct_id_cmp(const void *x, const void *y)
{
	uint32_t a = ((const struct wgx_acct_rec *)x)->user_id;
	uint32_t b = ((const struct wgx_acct_rec *)y)->user_id;

	return a < b ? -1 : a > b;
}

/*
 * An "overflow" record per user whose packets went into no flow entry in this interval (over
 * her quota, the table full): those packets and bytes each way, and how often a new flow got
 * no entry. With the flow records they add up to her totals.
 */
static void overflow_tick(struct wgx_flowlog *fl, uint64_t now_real)
{
	struct wgx_acct_rec *cur, *old;
	size_t n, i;

	if (wgx_flows_accounts(fl->o.pin_dir, &cur, &n))
		return;
	for (i = 0; i < n; i++) {
		const struct wgx_tun_acct *a = &cur[i].a;
		struct wgx_tun_acct z = {};
		const struct wgx_tun_acct *b = &z;
		json_t *o;

		old = fl->nr_accts ? bsearch(&cur[i], fl->accts, fl->nr_accts, sizeof(cur[i]),
					     acct_id_cmp) : NULL;
		if (old && old->a.ovf_pkts_out <= a->ovf_pkts_out &&
		    old->a.ovf_pkts_in <= a->ovf_pkts_in && old->a.refused <= a->refused)
			b = &old->a;
		if (fl->baseline || (a->ovf_pkts_out == b->ovf_pkts_out &&
				     a->ovf_pkts_in == b->ovf_pkts_in && a->refused == b->refused))
			continue;
		o = record(fl, "overflow", now_real);
		set_user(o, cur[i].user, cur[i].public_key);
		json_object_set_new(o, "user_id", json_integer(cur[i].user_id));
		json_object_set_new(o, "tx_packets", json_integer(a->ovf_pkts_out - b->ovf_pkts_out));
		json_object_set_new(o, "tx_bytes", json_integer(a->ovf_bytes_out - b->ovf_bytes_out));
		json_object_set_new(o, "rx_packets", json_integer(a->ovf_pkts_in - b->ovf_pkts_in));
		json_object_set_new(o, "rx_bytes", json_integer(a->ovf_bytes_in - b->ovf_bytes_in));
		json_object_set_new(o, "flows_refused", json_integer(a->refused - b->refused));
		json_object_set_new(o, "flow_entries", json_integer(cur[i].entries));
		json_object_set_new(o, "flow_quota", json_integer(cur[i].quota));
		set_time(o, "interval_start", fl->interval_start_ns);
		set_time(o, "interval_end", now_real);
		emit(fl, o);
	}
	free(fl->accts);
	fl->accts = cur;
	fl->nr_accts = n;
}

static void on_rb(void *ctx, int fd, uint32_t events)
{
	struct wgx_flowlog *fl = ctx;

	ring_buffer__consume(fl->rb);
	write_out(fl);
}

static void rb_close(struct wgx_flowlog *fl)
{
	if (!fl->rb)
		return;
	wgx_loop_del(fl->loop, ring_buffer__epoll_fd(fl->rb));
	ring_buffer__free(fl->rb);
	fl->rb = NULL;
	fl->rb_map_id = 0;
}

/* The tunnel attached (again): read its deny events; its names for them. */
static void tunnel_check(struct wgx_flowlog *fl)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	int fd;

	if (fl->names_fd >= 0)
		close(fl->names_fd);
	fl->names_fd = wgx_pinned_map_fd(fl->o.pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_names");
	if (fl->groups_fd >= 0)
		close(fl->groups_fd);
	fl->groups_fd = wgx_pinned_map_fd(fl->o.pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_groups");
	fd = wgx_pinned_map_fd(fl->o.pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_events");
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		if (fd >= 0)
			close(fd);
		rb_close(fl);
		return;
	}
	if (info.id == fl->rb_map_id) {
		close(fd);
		return;
	}
	rb_close(fl);
	fl->rb = ring_buffer__new(fd, on_deny, fl, NULL);
	close(fd);
	if (!fl->rb) {
		LOG(WARN, "read the tunnel's deny events: %s", strerror(errno));
		return;
	}
	fd = wgx_pinned_map_fd(fl->o.pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_fevents");
	if (fd < 0 || ring_buffer__add(fl->rb, fd, on_fstart, fl))
		LOG(WARN, "read the tunnel's flow-start events: %s",
		    strerror(fd < 0 ? -fd : errno));
	if (fd >= 0)
		close(fd);
	if (wgx_loop_add(fl->loop, ring_buffer__epoll_fd(fl->rb), EPOLLIN, on_rb, fl)) {
		ring_buffer__free(fl->rb);
		fl->rb = NULL;
		return;
	}
	fl->rb_map_id = info.id;
}

static int deny_cmp(const void *x, const void *y)
{
	uint32_t a = ((const struct deny_sum *)x)->user_id, b = ((const struct deny_sum *)y)->user_id;

	return a < b ? -1 : a > b;
}

/*
 * Per user, what was denied and what the kernel's rate limit held back since last time: the
 * map's users, each looked up in last time's (sorted) sums; users gone from the map go.
 */
static void denies_tick(struct wgx_flowlog *fl, uint64_t now_real)
{
	int ncpu = libbpf_num_possible_cpus(), fd, c;
	size_t vsz = (size_t)(ncpu > 0 ? ncpu : 1) * sizeof(struct wgx_tun_deny_count), n = 0, i;
	struct wgx_tun_deny_count *vals = NULL;
	struct deny_sum *cur = NULL, *old, q;
	struct wgx_tun_name nm;
	uint32_t *keys = NULL;

	fd = wgx_pinned_map_fd(fl->o.pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_tun_denies");
	if (fd < 0 || ncpu <= 0)
		goto out;
	if (wgx_map_read_all(fd, 4, vsz, (void **)&keys, (void **)&vals, &n))
		goto out;
	cur = calloc(n + 1, sizeof(*cur));
	if (!cur)
		goto out;
	for (i = 0; i < n; i++) {
		uint64_t denied = 0, held = 0, d0 = 0, h0 = 0;
		json_t *o;

		for (c = 0; c < ncpu; c++) {
			denied += vals[i * ncpu + c].denied;
			held += vals[i * ncpu + c].events_held;
		}
		cur[i] = (struct deny_sum){ keys[i], denied, held };
		q.user_id = keys[i];
		old = fl->nr_denies ? bsearch(&q, fl->denies, fl->nr_denies, sizeof(q), deny_cmp) :
				      NULL;
		if (old && denied >= old->denied && held >= old->held) {
			d0 = old->denied;
			h0 = old->held;
		}
		/* new since the last look (or an LRU eviction restarted it): from zero */
		if (fl->baseline || held <= h0)
			continue;
		o = record(fl, "deny_summary", now_real);
		name_of_id(fl, keys[i], &nm);
		nm.user[sizeof(nm.user) - 1] = 0;
		set_user(o, nm.user, nm.public_key);
		json_object_set_new(o, "user_id", keys[i] == WGX_USER_NONE ? json_null() :
						   json_integer(keys[i]));
		set_time(o, "interval_start", fl->interval_start_ns);
		set_time(o, "interval_end", now_real);
		json_object_set_new(o, "denied", json_integer(denied - d0));
		json_object_set_new(o, "held_back", json_integer(held - h0));
		emit(fl, o);
	}
	qsort(cur, n, sizeof(*cur), deny_cmp);
	free(fl->denies);
	fl->denies = cur;
	fl->nr_denies = n;
out:
	if (fd >= 0)
		close(fd);
	free(keys);
	free(vals);
}

/* ---- the interval ---- */

/* What the interval counted instead of writing: folded handshakes, denies over the cap. */
static void summary(struct wgx_flowlog *fl, uint64_t now_real)
{
	static const char *const names[WGX_FLOWLOG_NR_OUTCOMES] = {
		[WGX_FO_UNKNOWN] = "unknown", [WGX_FO_API_ERROR] = "api_error",
		[WGX_FO_REPLAYED] = "replayed", [WGX_FO_UNKNOWN_GROUP] = "unknown_group",
	};
	uint64_t any = fl->deny_dropped | fl->start_dropped;
	unsigned int i;
	json_t *o, *h;

	for (i = 0; i < WGX_FLOWLOG_NR_OUTCOMES; i++)
		any |= fl->outcomes[i];
	if (any && !fl->baseline) {
		o = record(fl, "interval_summary", now_real);
		set_time(o, "interval_start", fl->interval_start_ns);
		set_time(o, "interval_end", now_real);
		h = json_object();
		for (i = 0; i < WGX_FLOWLOG_NR_OUTCOMES; i++)
			json_object_set_new(h, names[i], json_integer(fl->outcomes[i]));
		json_object_set_new(o, "handshakes", h);
		json_object_set_new(o, "deny_records_not_written", json_integer(fl->deny_dropped));
		json_object_set_new(o, "flow_start_records_not_written",
				    json_integer(fl->start_dropped));
		emit(fl, o);
	}
	memset(fl->outcomes, 0, sizeof(fl->outcomes));
	fl->deny_dropped = 0;
	fl->start_dropped = 0;
	fl->start_records = 0;
	memset(fl->start_users, 0, sizeof(fl->start_users));
	fl->deny_records = 0;
}

void wgx_flowlog_tick(struct wgx_flowlog *fl)
{
	uint64_t now_real = clock_ns(CLOCK_REALTIME);

	tunnel_check(fl);
	if (fl->rb)
		ring_buffer__consume(fl->rb);	/* the denies before the interval closes */
	if (flows_tick(fl, now_real))
		return;		/* the table could not be read: this interval goes on */
	denies_tick(fl, now_real);
	overflow_tick(fl, now_real);
	summary(fl, now_real);
	fl->baseline = false;
	fl->interval_start_ns = now_real;
	flush(fl);
}

void wgx_flowlog_count(struct wgx_flowlog *fl, enum wgx_flowlog_outcome o)
{
	if (fl && o < WGX_FLOWLOG_NR_OUTCOMES)
		fl->outcomes[o]++;
}

static void on_timer(void *ctx, int fd, uint32_t events)
{
	wgx_flowlog_tick(ctx);
}

void wgx_flowlog_peer(struct wgx_flowlog *fl, const char *event, const char *what,
		      const char *user, const uint8_t key[32], const char *endpoint)
{
	json_t *o;

	if (!fl)
		return;
	o = record(fl, event, clock_ns(CLOCK_REALTIME));
	set_user(o, user, key);
	json_object_set_new(o, "endpoint", endpoint ? json_string(endpoint) : json_null());
	if (what)
		json_object_set_new(o, !strcmp(event, "handshake") ? "outcome" : "reason",
				    json_string(what));
	emit(fl, o);
	flush(fl);
}

/* The log's fd: appending, readable by root and the group only (who talked to what). */
static int open_log(const char *path)
{
	int fd = strcmp(path, "-") ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640) :
				     fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

int wgx_flowlog_open(const struct wgx_flowlog_opts *o, struct wgx_loop *loop,
		     struct wgx_flowlog **out)
{
	struct wgx_flowlog *fl = calloc(1, sizeof(*fl));
	int err;

	if (!fl)
		return -ENOMEM;
	fl->o = *o;
	if (!fl->o.interval_s)
		fl->o.interval_s = 10;
	fl->loop = loop;
	fl->names_fd = -1;
	fl->groups_fd = -1;
	fl->path = strdup(o->path);
	fl->fd = fl->path ? open_log(fl->path) : -ENOMEM;
	if (fl->fd < 0) {
		err = fl->fd;
		free(fl->path);
		free(fl);
		return err;
	}
	fl->baseline = true;
	wgx_flowlog_tick(fl);		/* what the table holds now is the start */
	err = wgx_loop_timer(loop, fl->o.interval_s * 1000, on_timer, fl);
	if (err) {
		wgx_flowlog_close(fl);
		return err;
	}
	*out = fl;
	return 0;
}

int wgx_flowlog_reopen(struct wgx_flowlog *fl)
{
	int fd;

	if (!fl || !strcmp(fl->path, "-"))
		return 0;
	flush(fl);
	fd = open_log(fl->path);
	if (fd < 0)
		return fd;
	close(fl->fd);
	fl->fd = fd;
	fl->partial = false;
	return 0;
}

void wgx_flowlog_close(struct wgx_flowlog *fl)
{
	if (!fl)
		return;
	if (fl->rb)
		ring_buffer__consume(fl->rb);
	flush(fl);
	rb_close(fl);
	if (fl->names_fd >= 0)
		close(fl->names_fd);
	if (fl->groups_fd >= 0)
		close(fl->groups_fd);
	if (fl->fd >= 0)
		close(fl->fd);
	wgx_wg_device_free(fl->dev);
	free(fl->prev);
	free(fl->denies);
	free(fl->accts);
	free(fl->path);
	free(fl);
}

const struct wgx_flowlog_stats *wgx_flowlog_stats(const struct wgx_flowlog *fl)
{
	return &fl->st;
}
