// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * wgxdp top: a live terminal view of the tunnel (ncurses), from the pinned maps only: the
 * tunnel's totals and the daemon's counters per second, then the users by rate, and one
 * user's flows. --once [--json] prints one snapshot for scripts. The computation is
 * loader/top.c's; this file reads keys and draws.
 */
#include <curses.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <netinet/in.h>

#include "loader/enforce.h"
#include "loader/jit_state.h"
#include "loader/top.h"
#include "tools/wgxdp.h"

#define J(field) (offsetof(struct wgx_jit_stats, field) / sizeof(__u64))

/* The daemon's counters in the header: the outcomes an operator looks at first. */
static const struct {
	const char *label;
	unsigned int idx[2];	/* summed; idx[1] 0 (events) means none */
} jit_shown[] = {
	{ "events", { J(events) } },
	{ "installed", { J(installed) } },
	{ "existing", { J(existing) } },
	{ "unknown", { J(unknown_key), J(unknown_cached) } },
	{ "throttled", { J(throttled) } },
	{ "replayed", { J(replayed) } },
	{ "bad_mac1", { J(bad_mac1) } },
	{ "not_for_us", { J(not_for_us) } },
	{ "api_errors", { J(api_errors) } },
	{ "install_errors", { J(install_errors) } },
};

struct top {
	const char *pin_dir;
	double interval;
	struct wgx_top_snap snap[2];
	int cur;			/* snap[cur] is the newest */
	int nr_snaps;
	struct wgx_top_view view;
	enum wgx_top_sort sort;
	char filter[48];
	/* interactive */
	bool editing;			/* typing a filter */
	char edit[48];
	bool detail;			/* one user's flows */
	uint32_t sel_id;		/* the selected user */
	size_t sel, first;		/* cursor and first row shown, in the user list */
	size_t dfirst;			/* first flow shown, in the detail */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static uint64_t now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* 950, 1.2k, 34.5M, 1.2G */
static const char *si(char *buf, size_t len, double v)
{
	static const char units[] = " kMGTP";
	int u = 0;

	while (v >= 999.5 && u < 5) {
		v /= 1000;
		u++;
	}
	if (!u)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.*f%c", v < 9.95 ? 2 : v < 99.5 ? 1 : 0, v, units[u]);
	return buf;
}

/* "4s", "3m", "2h", "5d" since a CLOCK_MONOTONIC time; "-" for none */
static const char *ago(char *buf, size_t len, uint64_t mono_ns)
{
	uint64_t now = now_mono(), s;

	if (!mono_ns)
		return "-";
	s = now > mono_ns ? (now - mono_ns) / 1000000000ull : 0;
	if (s < 120)
		snprintf(buf, len, "%llus", (unsigned long long)s);
	else if (s < 7200)
		snprintf(buf, len, "%llum", (unsigned long long)s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%lluh", (unsigned long long)s / 3600);
	else
		snprintf(buf, len, "%llud", (unsigned long long)s / 86400);
	return buf;
}

static const char *user_label(char *buf, size_t len, const struct wgx_top_user *u)
{
	if (u->user[0])
		snprintf(buf, len, "%s", u->user);
	else
		snprintf(buf, len, "(id %u)", u->user_id);
	return buf;
}

static const char *tunnel_problem(const struct wgx_top_snap *s)
{
	if (s->tunnel_err == -ENOENT)
		return "not attached (wgxdp attach --wg IFACE)";
	if (s->tunnel_err)
		return strerror(-s->tunnel_err);
	return NULL;
}

static const char *jit_problem(const struct wgx_top_snap *s)
{
	if (s->jit_err == -ENOENT)
		return "no daemon state (wgxdp run never ran with this pin dir)";
	if (s->jit_err)
		return strerror(-s->jit_err);
	return NULL;
}

/* Recompute the view from the last two snapshots, with the sort and filter in force. */
static int rebuild(struct top *t)
{
	const struct wgx_top_snap *prev = t->nr_snaps > 1 ? &t->snap[!t->cur] : NULL;
	int err;

	wgx_top_view_free(&t->view);
	err = wgx_top_compute(prev, &t->snap[t->cur], &t->view);
	if (err)
		return err;
	wgx_top_sort(&t->view, t->sort);
	wgx_top_filter(&t->view, t->filter);
	return 0;
}

static int take_snapshot(struct top *t)
{
	int next = t->nr_snaps ? !t->cur : 0, err;

	wgx_top_view_free(&t->view);	/* it points into the snapshot about to go */
	wgx_top_snap_free(&t->snap[next]);
	err = wgx_top_read(t->pin_dir, &t->snap[next]);
	if (err)
		return err;
	t->cur = next;
	if (t->nr_snaps < 2)
		t->nr_snaps++;
	return rebuild(t);
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR && !stop)
		;
}

/* ---- --once: one snapshot, after one interval ---- */

static json_t *flow_json(const struct wgx_top_flow *f)
{
	const struct wgx_flow_rec *r = f->rec;
	char ua[64], ra[64], last[40], proto[16];

	wgx_fmt_endpoint(ua, sizeof(ua), r->key.family, r->key.uaddr, ntohs(r->key.uport));
	wgx_fmt_endpoint(ra, sizeof(ra), r->key.family, r->key.raddr, ntohs(r->key.rport));
	wgx_fmt_time_ns(last, sizeof(last), wgx_mono_to_real_ns(r->v.last_ns));
	return json_pack("{s:s,s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:s,s:s?,s:I,s:s}",
			 "proto", wgx_proto_name(r->key.proto, proto, sizeof(proto)),
			 "direction", r->v.flags & WGX_FLOW_F_INBOUND ? "inbound" : "outbound",
			 "user_end", ua, "remote_end", ra,
			 "tx_bytes_per_s", f->tx_bps, "rx_bytes_per_s", f->rx_bps,
			 "tx_packets_per_s", f->tx_pps, "rx_packets_per_s", f->rx_pps,
			 "tx_bytes", (json_int_t)r->v.bytes_out,
			 "rx_bytes", (json_int_t)r->v.bytes_in,
			 "tx_packets", (json_int_t)r->v.pkts_out,
			 "rx_packets", (json_int_t)r->v.pkts_in,
			 "state", wgx_flow_state(&r->key, &r->v),
			 "group", r->group[0] ? r->group : NULL, "rule", (json_int_t)r->v.rule_idx,
			 "last_seen", last);
}

static void print_json(const struct top *t)
{
	const struct wgx_top_snap *s = &t->snap[t->cur];
	const struct wgx_top_view *v = &t->view;
	json_t *root = json_object(), *tun, *users = json_array(), *daemon = json_null();
	size_t i, j;

	json_object_set_new(root, "interval_s", json_real(v->interval_s));
	json_object_set_new(root, "sort", json_string(wgx_top_sort_name(t->sort)));
	json_object_set_new(root, "filter", json_string(t->filter));
	if (s->tunnel_err) {
		tun = json_pack("{s:b,s:s}", "attached", 0, "error", tunnel_problem(s));
	} else {
		tun = json_pack("{s:b,s:b,s:I,s:I,s:I,s:{s:f,s:f},s:{s:f,s:f},s:f,s:f}",
				"attached", 1, "policy_loaded", s->cfg.policy_loaded != 0,
				"generation", (json_int_t)s->cfg.generation,
				"flows", (json_int_t)s->flow_entries,
				"capacity", (json_int_t)s->flow_capacity,
				"ingress", "packets_per_s", v->pps[WGX_TD_INGRESS],
				"bytes_per_s", v->bps[WGX_TD_INGRESS],
				"egress", "packets_per_s", v->pps[WGX_TD_EGRESS],
				"bytes_per_s", v->bps[WGX_TD_EGRESS],
				"allowed_per_s", v->allowed_ps, "denied_per_s", v->denied_ps);
	}
	json_object_set_new(root, "tunnel", tun);
	if (!s->jit_err) {
		json_decref(daemon);
		daemon = json_object();
		for (i = 0; i < wgx_jit_nr_stat_fields; i++)
			json_object_set_new(daemon, wgx_jit_stat_fields[i].name,
					    json_real(v->jit_ps[wgx_jit_stat_fields[i].offset /
								sizeof(__u64)]));
	} else {
		json_object_set_new(root, "daemon_error", json_string(jit_problem(s)));
	}
	json_object_set_new(root, "daemon_per_s", daemon);
	for (i = 0; i < v->nr_users; i++) {
		const struct wgx_top_user *u = &v->users[i];
		json_t *fl = json_array(), *uj;
		char last[40];

		for (j = 0; j < u->nr_flows; j++)
			json_array_append_new(fl, flow_json(&v->flows[u->flow0 + j]));
		if (u->last_ns)
			wgx_fmt_time_ns(last, sizeof(last), wgx_mono_to_real_ns(u->last_ns));
		uj = json_pack("{s:s?,s:I,s:I,s:f,s:f,s:f,s:f,s:I,s:s?,s:o}",
			       "user", u->user[0] ? u->user : NULL,
			       "user_id", (json_int_t)u->user_id,
			       "nr_flows", (json_int_t)u->nr_flows,
			       "bytes_per_s", u->tx_bps + u->rx_bps, "tx_bytes_per_s", u->tx_bps,
			       "rx_bytes_per_s", u->rx_bps, "denies_per_s", u->denies_ps,
			       "denied", (json_int_t)u->denied,
			       "last_seen", u->last_ns ? last : NULL, "flows", fl);
		json_array_append_new(users, uj);
	}
	json_object_set_new(root, "users", users);
	json_dumpf(root, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(root);
}

/* The header lines, for --once and the screen: n lines into buf[n][len]. */
static void header(const struct top *t, char (*buf)[512], int n)
{
	const struct wgx_top_snap *s = &t->snap[t->cur];
	const struct wgx_top_view *v = &t->view;
	char a[16], b[16], c[16], d[16], e[16], f[16];
	size_t i, o;

	if (tunnel_problem(s))
		snprintf(buf[0], 512, "tunnel: %s", tunnel_problem(s));
	else
		snprintf(buf[0], 512,
			 "tunnel: in %s pkt/s %sB/s, out %s pkt/s %sB/s; allowed %s/s, denied %s/s",
			 si(a, 16, v->pps[WGX_TD_INGRESS]), si(b, 16, v->bps[WGX_TD_INGRESS]),
			 si(c, 16, v->pps[WGX_TD_EGRESS]), si(d, 16, v->bps[WGX_TD_EGRESS]),
			 si(e, 16, v->allowed_ps), si(f, 16, v->denied_ps));
	if (n < 2)
		return;
	if (tunnel_problem(s))
		snprintf(buf[1], 512, "flows: -");
	else
		snprintf(buf[1], 512, "flows: %zu of %u in the table; policy %s",
			 s->flow_entries, s->flow_capacity,
			 s->cfg.policy_loaded ? "loaded" : "none loaded (fail closed)");
	if (!tunnel_problem(s) && s->cfg.policy_loaded)
		snprintf(buf[1] + strlen(buf[1]), 512 - strlen(buf[1]), ", generation %u",
			 s->cfg.generation);
	if (n < 3)
		return;
	if (jit_problem(s)) {
		snprintf(buf[2], 512, "daemon: %s", jit_problem(s));
		return;
	}
	o = snprintf(buf[2], 512, "daemon/s:");
	for (i = 0; i < sizeof(jit_shown) / sizeof(jit_shown[0]) && o < 512; i++) {
		double x = v->jit_ps[jit_shown[i].idx[0]];

		if (jit_shown[i].idx[1])
			x += v->jit_ps[jit_shown[i].idx[1]];
		o += snprintf(buf[2] + o, 512 - o, " %s %s", jit_shown[i].label, si(a, 16, x));
	}
}

#define USER_HDR "%-24s %6s %8s %8s %8s %9s %9s"
#define FLOW_HDR "%-6s %-3s %-*s %-*s %8s %8s %9s %9s %-7s %-16s %s"

static void user_row(char *buf, size_t len, const struct wgx_top_user *u)
{
	char name[64], a[16], b[16], c[16], d[16], e[16], last[16];

	snprintf(buf, len, USER_HDR, user_label(name, sizeof(name), u),
		 si(a, 16, u->nr_flows), si(b, 16, u->tx_bps + u->rx_bps), si(c, 16, u->tx_bps),
		 si(d, 16, u->rx_bps), si(e, 16, u->denies_ps),
		 ago(last, sizeof(last), u->last_ns));
}

/* The endpoint columns' width: the longest of these flows' ends ("[v6]:port" up to 47). */
static int ends_width(const struct wgx_top_flow *f, size_t n)
{
	char ep[64];
	int w = 10;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct wgx_flow_rec *r = f[i].rec;
		int l;

		wgx_fmt_endpoint(ep, sizeof(ep), r->key.family, r->key.uaddr, ntohs(r->key.uport));
		l = strlen(ep);
		w = l > w ? l : w;
		wgx_fmt_endpoint(ep, sizeof(ep), r->key.family, r->key.raddr, ntohs(r->key.rport));
		l = strlen(ep);
		w = l > w ? l : w;
	}
	return w;
}

static void flow_row(char *buf, size_t len, const struct wgx_top_flow *f, int w)
{
	const struct wgx_flow_rec *r = f->rec;
	char ua[64], ra[64], proto[16], a[16], b[16], c[16], d[16], by[80], last[16];

	wgx_fmt_endpoint(ua, sizeof(ua), r->key.family, r->key.uaddr, ntohs(r->key.uport));
	wgx_fmt_endpoint(ra, sizeof(ra), r->key.family, r->key.raddr, ntohs(r->key.rport));
	snprintf(by, sizeof(by), "%s[%u]", r->group[0] ? r->group : "?",
		 (unsigned int)r->v.rule_idx);
	snprintf(buf, len, FLOW_HDR, wgx_proto_name(r->key.proto, proto, sizeof(proto)),
		 r->v.flags & WGX_FLOW_F_INBOUND ? "in" : "out", w, ua, w, ra, si(a, 16, f->tx_bps),
		 si(b, 16, f->rx_bps), si(c, 16, r->v.bytes_out), si(d, 16, r->v.bytes_in),
		 wgx_flow_state(&r->key, &r->v), by, ago(last, sizeof(last), r->v.last_ns));
}

static char user_hdr[128];

static void make_headers(void)
{
	snprintf(user_hdr, sizeof(user_hdr), USER_HDR, "USER", "FLOWS", "B/s", "TX B/s",
		 "RX B/s", "DENIES/s", "LAST SEEN");
}

static void flow_hdr(char *buf, size_t len, int w)
{
	snprintf(buf, len, FLOW_HDR, "PROTO", "DIR", w, "USER END", w, "REMOTE END", "TX B/s",
		 "RX B/s", "TX BYTES", "RX BYTES", "STATE", "ALLOWED BY", "LAST");
}

static void print_text(const struct top *t)
{
	const struct wgx_top_view *v = &t->view;
	char hdr[3][512], row[512];
	size_t i, j;
	int w = ends_width(v->flows, v->nr_flows);

	header(t, hdr, 3);
	for (i = 0; i < 3; i++)
		printf("%s\n", hdr[i]);
	printf("\n%s\n", user_hdr);
	for (i = 0; i < v->nr_users; i++) {
		user_row(row, sizeof(row), &v->users[i]);
		printf("%s\n", row);
		if (v->users[i].nr_flows) {
			flow_hdr(row, sizeof(row), w);
			printf("    %s\n", row);
		}
		for (j = 0; j < v->users[i].nr_flows; j++) {
			flow_row(row, sizeof(row), &v->flows[v->users[i].flow0 + j], w);
			printf("    %s\n", row);
		}
	}
	if (!v->nr_users)
		printf("(no user with a flow or a deny)\n");
}

/* ---- the terminal ---- */

/* Line y: fmt, cut at the screen's width, the rest of the line cleared. */
static void line(int y, int attr, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (y >= LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	attrset(attr);
	mvaddnstr(y, 0, buf, COLS);
	clrtoeol();
	if (attr & A_REVERSE) {	/* a bar across the whole width */
		int x = (int)strlen(buf);

		for (; x < COLS; x++)
			mvaddch(y, x, ' ');
	}
	attrset(A_NORMAL);
}

static const struct wgx_top_user *find_user(const struct top *t, uint32_t id, size_t *at)
{
	size_t i;

	for (i = 0; i < t->view.nr_users; i++) {
		if (t->view.users[i].user_id == id) {
			if (at)
				*at = i;
			return &t->view.users[i];
		}
	}
	return NULL;
}

/* Rows for the list below the header (at least 1). */
static size_t list_rows(void)
{
	return LINES > 7 ? (size_t)LINES - 7 : 1;
}

/* After a refresh or a key: keep the cursor on the selected user, in view. */
static void settle(struct top *t)
{
	size_t n = t->view.nr_users, rows = list_rows(), at;

	if (n && find_user(t, t->sel_id, &at))
		t->sel = at;
	if (t->sel >= n)
		t->sel = n ? n - 1 : 0;
	if (n)
		t->sel_id = t->view.users[t->sel].user_id;
	if (t->sel < t->first)
		t->first = t->sel;
	if (t->sel >= t->first + rows)
		t->first = t->sel - rows + 1;
}

static void draw(struct top *t)
{
	const struct wgx_top_view *v = &t->view;
	char hdr[3][512], row[512];
	size_t i, rows = list_rows();
	int y;

	erase();
	header(t, hdr, 3);
	line(0, A_BOLD, "wgxdp top  %s  every %gs  sort: %s%s%s   q quit  s sort  / filter  "
	     "Enter flows", t->pin_dir, t->interval, wgx_top_sort_name(t->sort),
	     t->filter[0] ? "  filter: " : "", t->filter);
	for (i = 0; i < 3; i++)
		line(1 + i, A_NORMAL, "%s", hdr[i]);
	if (t->editing)
		line(4, A_BOLD, "filter (Enter apply, Esc clear): %s_", t->edit);
	if (!t->detail) {
		line(5, A_REVERSE, "%s", user_hdr);
		if (!v->nr_users)
			line(6, A_NORMAL, "%s%s", t->snap[t->cur].tunnel_err ? "tunnel: " : "",
			     t->snap[t->cur].tunnel_err ? tunnel_problem(&t->snap[t->cur]) :
			     t->filter[0] ? "(no user matches the filter)" :
			     "(no user with a flow or a deny)");
		for (i = t->first, y = 6; i < v->nr_users && i < t->first + rows; i++, y++) {
			user_row(row, sizeof(row), &v->users[i]);
			line(y, i == t->sel ? A_REVERSE : A_NORMAL, "%s", row);
		}
	} else {
		const struct wgx_top_user *u = find_user(t, t->sel_id, NULL);
		char name[64], a[16], b[16];
		int w;

		if (!u) {
			line(5, A_BOLD, "user id %u: no flow and no deny now   Esc back",
			     t->sel_id);
		} else {
			line(5, A_BOLD, "%s: %zu flow%s, %sB/s, %s denies/s   Esc back",
			     user_label(name, sizeof(name), u), u->nr_flows,
			     u->nr_flows == 1 ? "" : "s", si(a, 16, u->tx_bps + u->rx_bps),
			     si(b, 16, u->denies_ps));
			w = ends_width(&v->flows[u->flow0], u->nr_flows);
			flow_hdr(row, sizeof(row), w);
			line(6, A_REVERSE, "%s", row);
			if (t->dfirst >= u->nr_flows)
				t->dfirst = u->nr_flows ? u->nr_flows - 1 : 0;
			for (i = t->dfirst, y = 7; i < u->nr_flows && y < LINES; i++, y++) {
				flow_row(row, sizeof(row), &v->flows[u->flow0 + i], w);
				line(y, A_NORMAL, "%s", row);
			}
		}
	}
	refresh();
}

/* A key: 1 to quit, 2 if the view must be rebuilt (sort, filter), else 0. */
static int on_key(struct top *t, int ch)
{
	size_t rows = list_rows(), len;

	if (t->editing) {
		len = strlen(t->edit);
		if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
			memcpy(t->filter, t->edit, sizeof(t->filter));
			t->editing = false;
			t->sel = t->first = 0;
			return 2;
		} else if (ch == 27) {
			t->filter[0] = t->edit[0] = 0;
			t->editing = false;
			return 2;
		} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
			if (len)
				t->edit[len - 1] = 0;
		} else if (ch >= 0x20 && ch < 0x7f && len + 1 < sizeof(t->edit)) {
			t->edit[len] = (char)ch;
			t->edit[len + 1] = 0;
		}
		return 0;
	}
	if (ch == 'q' || ch == 'Q')
		return 1;
	if (t->detail) {
		switch (ch) {
		case 27: case KEY_BACKSPACE: case 127: case 8: case KEY_LEFT:
			t->detail = false;
			break;
		case KEY_UP: case 'k':
			if (t->dfirst)
				t->dfirst--;
			break;
		case KEY_DOWN: case 'j':
			t->dfirst++;
			break;
		case KEY_PPAGE:
			t->dfirst = t->dfirst > rows ? t->dfirst - rows : 0;
			break;
		case KEY_NPAGE:
			t->dfirst += rows;
			break;
		case KEY_HOME:
			t->dfirst = 0;
			break;
		}
		return 0;	/* draw() clamps dfirst */
	}
	switch (ch) {
	case 's':
		t->sort = (t->sort + 1) % WGX_TOP_SORT__MAX;
		return 2;
	case '/':
		t->editing = true;
		memcpy(t->edit, t->filter, sizeof(t->edit));
		return 0;
	case 27:
		if (!t->filter[0])
			return 0;
		t->filter[0] = 0;
		return 2;
	case '\n': case '\r': case KEY_ENTER: case 'u': case KEY_RIGHT:
		if (t->view.nr_users) {
			t->detail = true;
			t->dfirst = 0;
		}
		return 0;
	case KEY_UP: case 'k':
		if (t->sel)
			t->sel--;
		break;
	case KEY_DOWN: case 'j':
		t->sel++;
		break;
	case KEY_PPAGE:
		t->sel = t->sel > rows ? t->sel - rows : 0;
		break;
	case KEY_NPAGE:
		t->sel += rows;
		break;
	case KEY_HOME:
		t->sel = 0;
		break;
	case KEY_END:
		t->sel = t->view.nr_users ? t->view.nr_users - 1 : 0;
		break;
	default:
		return 0;
	}
	if (t->sel >= t->view.nr_users)
		t->sel = t->view.nr_users ? t->view.nr_users - 1 : 0;
	if (t->view.nr_users)
		t->sel_id = t->view.users[t->sel].user_id;
	return 0;
}

static int interactive(struct top *t)
{
	uint64_t next = 0, now, ms, step = (uint64_t)(t->interval * 1e9);
	const char *term = getenv("TERM");
	struct sigaction sa = { .sa_handler = on_signal };
	SCREEN *scr;
	int err = 0, ch, k;

	if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
		wgx_err("top", "%s is not a terminal: use `wgxdp top --once [--json]` in scripts",
			isatty(STDOUT_FILENO) ? "stdin" : "stdout");
		return 1;
	}
	scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		wgx_err("top", "cannot drive the terminal (TERM=%s): set TERM, or use --once",
			term ? term : "");
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	set_escdelay(25);
	while (!stop) {
		now = now_mono();
		if (now >= next) {
			err = take_snapshot(t);
			if (err)
				break;
			next = next && now - next < step ? next + step : now + step;
			settle(t);
		}
		draw(t);
		now = now_mono();
		/* at most 1 s without looking at stop; never a negative (blocking) timeout */
		ms = next > now ? (next - now) / 1000000 + 1 : 0;
		timeout(ms > 1000 ? 1000 : (int)ms);
		ch = getch();
		if (ch == ERR)
			continue;
		if (ch == 12) {		/* ^L: draw the whole screen again */
			clearok(curscr, TRUE);
			continue;
		}
		k = on_key(t, ch);
		if (k == 1)
			break;
		if (k == 2) {
			err = rebuild(t);
			if (err)
				break;
		}
		settle(t);
	}
	endwin();
	delscreen(scr);
	if (err) {
		wgx_err("top", "reading %s: %s", t->pin_dir, strerror(-err));
		return 1;
	}
	return 0;
}

int cmd_top(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "once", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' },
		{ "sort", required_argument, NULL, 's' },
		{ "filter", required_argument, NULL, 'f' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct top t = { .pin_dir = wgx_pin_dir_default(), .interval = 1 };
	bool once = false, json = false;
	char *end;
	int c, err, i;

	while ((c = getopt_long(argc, argv, "oji:s:f:d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			once = true;
			break;
		case 'j':
			json = true;
			break;
		case 'i':
			errno = 0;
			t.interval = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(t.interval >= 0.1) ||
			    t.interval > 3600) {
				wgx_err("top", "--interval %s: seconds from 0.1 to 3600", optarg);
				return 2;
			}
			break;
		case 's':
			for (i = 0; i < WGX_TOP_SORT__MAX; i++)
				if (!strcmp(optarg, wgx_top_sort_name(i)))
					break;
			if (i == WGX_TOP_SORT__MAX) {
				wgx_err("top", "--sort %s: rate, flows, denies or name", optarg);
				return 2;
			}
			t.sort = i;
			break;
		case 'f':
			snprintf(t.filter, sizeof(t.filter), "%s", optarg);
			break;
		case 'd':
			t.pin_dir = optarg;
			break;
		case 'h':
			return wgx_usage("top", stdout);
		default:
			return wgx_usage("top", stderr);
		}
	}
	if (optind < argc)
		return wgx_usage("top", stderr);
	if (json && !once) {
		wgx_err("top", "--json goes with --once");
		return 2;
	}
	make_headers();
	if (!once) {
		err = interactive(&t);
		goto out;
	}
	err = take_snapshot(&t);
	if (!err) {
		sleep_s(t.interval);
		err = take_snapshot(&t);
	}
	if (err) {
		wgx_err("top", "reading %s: %s", t.pin_dir, strerror(-err));
		err = 1;
		goto out;
	}
	if (json)
		print_json(&t);
	else
		print_text(&t);
	err = 0;
	if (tunnel_problem(&t.snap[t.cur])) {
		wgx_err("top", "%s/%s: %s", t.pin_dir, WGX_PIN_SUB_TUNNEL,
			tunnel_problem(&t.snap[t.cur]));
		err = 1;
	}
out:
	wgx_top_view_free(&t.view);
	wgx_top_snap_free(&t.snap[0]);
	wgx_top_snap_free(&t.snap[1]);
	return err;
}
