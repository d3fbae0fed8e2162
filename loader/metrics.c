// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The daemon's Prometheus endpoint on libmicrohttpd, in the daemon's loop (metrics.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <microhttpd.h>

#include "loader/denies.h"
#include "loader/flows.h"
#include "loader/fmt.h"
#include "loader/log.h"
#include "loader/metrics.h"
#include "loader/tunnel.h"
#include "loader/uplink.h"

#define LOG(lvl, ...) wgx_log(WGX_LOG_##lvl, "metrics", __VA_ARGS__)

#define CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

const double wgx_install_buckets[] = {
	0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
const unsigned int wgx_nr_install_buckets =
	sizeof(wgx_install_buckets) / sizeof(wgx_install_buckets[0]);

struct wgx_metrics {
	const struct wgx_metrics_src *src;
	char addr[64];
	struct MHD_Daemon *mhd;
	struct wgx_loop *loop;
	int mhd_epfd;
	int timer;			/* one-shot loop timer for MHD_get_timeout; -1 none */
	char *body;			/* the last exposition, served again within a second */
	size_t body_len;
	uint64_t body_ns;
	struct wgx_flows_count flows;	/* the last walk of wgx_flows */
	int flows_err;
	uint64_t flows_ns;
	struct wgx_deny_groups denies;	/* denied packets by group, added up at each walk */
	int denies_err;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- the exposition ---- */

static bool always(int class, int reason, int verdict)
{
	return class != WGX_C_OTHER && class != WGX_C_UNKNOWN && reason == WGX_R_OK &&
	       verdict == WGX_V_PASS;
}

static void uplink_metrics(struct wgx_prom *p, const char *pin_dir)
{
	struct wgx_iface_status *st = NULL;
	int n = 0, i, c, r, v;

	if (wgx_status(pin_dir, &st, &n) || !n) {
		free(st);
		return;		/* not attached: no uplink metrics */
	}
	wgx_prom_family(p, "wgxdp_uplink_attached", WGX_PROM_GAUGE,
			"1 while the uplink XDP program is attached to the interface, else 0.");
	for (i = 0; i < n; i++)
		wgx_prom_sample(p, "wgxdp_uplink_attached", st[i].attached, "interface",
				st[i].cfg.name, NULL);
	/*
	 * Of the 196 (class, reason, verdict) series per interface, most cannot happen: those
	 * that did, and always the ok/pass of each WireGuard message class.
	 */
	wgx_prom_family(p, "wgxdp_uplink_packets_total", WGX_PROM_COUNTER,
			"Packets the uplink XDP program saw, by class, reason and verdict.");
	for (i = 0; i < n; i++)
		for (c = 0; c < WGX_C__MAX; c++)
			for (r = 0; r < WGX_R__MAX; r++)
				for (v = 0; v < WGX_V__MAX; v++) {
					const struct wgx_counter *k = &st[i].ctr[c][r][v];

					if (!k->packets && !always(c, r, v))
						continue;
					wgx_prom_sample(p, "wgxdp_uplink_packets_total", k->packets,
							"interface", st[i].cfg.name,
							"class", wgx_class_name(c),
							"reason", wgx_reason_name(r),
							"verdict", v == WGX_V_DROP ? "drop" : "pass",
							NULL);
				}
	wgx_prom_family(p, "wgxdp_uplink_bytes_total", WGX_PROM_COUNTER,
			"Bytes of the packets the uplink XDP program saw, by class, reason and "
			"verdict.");
	for (i = 0; i < n; i++)
		for (c = 0; c < WGX_C__MAX; c++)
			for (r = 0; r < WGX_R__MAX; r++)
				for (v = 0; v < WGX_V__MAX; v++) {
					const struct wgx_counter *k = &st[i].ctr[c][r][v];

					if (!k->packets && !always(c, r, v))
						continue;
					wgx_prom_sample(p, "wgxdp_uplink_bytes_total", k->bytes,
							"interface", st[i].cfg.name,
							"class", wgx_class_name(c),
							"reason", wgx_reason_name(r),
							"verdict", v == WGX_V_DROP ? "drop" : "pass",
							NULL);
				}
	wgx_prom_family(p, "wgxdp_handshake_events_lost_total", WGX_PROM_COUNTER,
			"Handshake initiations the uplink could not hand to the daemon: its ring "
			"buffer was full (reason event_lost).");
	for (i = 0; i < n; i++) {
		uint64_t lost = 0;

		for (c = 0; c < WGX_C__MAX; c++)
			for (v = 0; v < WGX_V__MAX; v++)
				lost += st[i].ctr[c][WGX_R_EVENT_LOST][v].packets;
		wgx_prom_sample(p, "wgxdp_handshake_events_lost_total", lost, "interface",
				st[i].cfg.name, NULL);
	}
	free(st);
}

static void tunnel_metrics(struct wgx_prom *p, const char *pin_dir,
			   const struct wgx_flows_count *flows)
{
	struct wgx_tunnel_status t;
	int i, d, r;

	if (wgx_tunnel_status(pin_dir, &t))
		return;		/* not attached: no tunnel metrics */
	wgx_prom_family(p, "wgxdp_tunnel_attached", WGX_PROM_GAUGE,
			"1 while both tunnel tc programs are attached to the interface, else 0.");
	for (i = 0; i < t.nr_ifaces; i++)
		wgx_prom_sample(p, "wgxdp_tunnel_attached", t.ifaces[i].ingress &&
				t.ifaces[i].egress, "interface", t.ifaces[i].rec.name, NULL);
	wgx_prom_family(p, "wgxdp_tunnel_policy_loaded", WGX_PROM_GAUGE,
			"1 once a policy is in the tunnel's maps; 0: every packet from a user is "
			"dropped (fail closed).");
	wgx_prom_sample(p, "wgxdp_tunnel_policy_loaded", t.cfg.policy_loaded ? 1 : 0, NULL);
	wgx_prom_family(p, "wgxdp_tunnel_packets_total", WGX_PROM_COUNTER,
			"Packets the tunnel tc programs saw, by direction, verdict and reason "
			"(verdict drop: the denies).");
	for (d = 0; d < WGX_TD__MAX; d++)
		for (r = 0; r < WGX_TR__MAX; r++)
			wgx_prom_sample(p, "wgxdp_tunnel_packets_total", t.ctr[d][r].packets,
					"direction", wgx_tun_dir_name(d),
					"verdict", r < WGX_TR_PASS_MAX ? "pass" : "drop",
					"reason", wgx_tun_reason_name(r), NULL);
	wgx_prom_family(p, "wgxdp_tunnel_bytes_total", WGX_PROM_COUNTER,
			"Bytes (IP) of the packets the tunnel tc programs saw, by direction, "
			"verdict and reason.");
	for (d = 0; d < WGX_TD__MAX; d++)
		for (r = 0; r < WGX_TR__MAX; r++)
			wgx_prom_sample(p, "wgxdp_tunnel_bytes_total", t.ctr[d][r].bytes,
					"direction", wgx_tun_dir_name(d),
					"verdict", r < WGX_TR_PASS_MAX ? "pass" : "drop",
					"reason", wgx_tun_reason_name(r), NULL);
	wgx_prom_family(p, "wgxdp_tunnel_deny_events_held_total", WGX_PROM_COUNTER,
			"Deny events not sent to the ring buffer (per-user rate limit, or the "
			"ring was full).");
	wgx_prom_sample(p, "wgxdp_tunnel_deny_events_held_total", t.events_held, NULL);
	wgx_tunnel_status_free(&t);

	if (!flows)
		return;
	wgx_prom_family(p, "wgxdp_tunnel_flows", WGX_PROM_GAUGE,
			"Flows in the flow table within their idle timeout.");
	wgx_prom_sample(p, "wgxdp_tunnel_flows", flows->live, NULL);
	wgx_prom_family(p, "wgxdp_tunnel_flow_entries", WGX_PROM_GAUGE,
			"Entries in the flow table, ended ones included (the daemon removes them "
			"once their last counts are read).");
	wgx_prom_sample(p, "wgxdp_tunnel_flow_entries", flows->entries, NULL);
	wgx_prom_family(p, "wgxdp_tunnel_flow_capacity", WGX_PROM_GAUGE,
			"Entries the flow table holds at most.");
	wgx_prom_sample(p, "wgxdp_tunnel_flow_capacity", flows->capacity, NULL);
	wgx_prom_family(p, "wgxdp_tunnel_overflow_packets_total", WGX_PROM_COUNTER,
			"Packets that passed but were counted in no flow (the user over her flow "
			"quota, or the table full), by direction.");
	wgx_prom_sample(p, "wgxdp_tunnel_overflow_packets_total", flows->ovf_pkts_out,
			"direction", "ingress", NULL);
	wgx_prom_sample(p, "wgxdp_tunnel_overflow_packets_total", flows->ovf_pkts_in,
			"direction", "egress", NULL);
	wgx_prom_family(p, "wgxdp_tunnel_overflow_bytes_total", WGX_PROM_COUNTER,
			"Bytes (IP) of those packets, by direction.");
	wgx_prom_sample(p, "wgxdp_tunnel_overflow_bytes_total", flows->ovf_bytes_out,
			"direction", "ingress", NULL);
	wgx_prom_sample(p, "wgxdp_tunnel_overflow_bytes_total", flows->ovf_bytes_in,
			"direction", "egress", NULL);
	wgx_prom_family(p, "wgxdp_tunnel_flows_refused_total", WGX_PROM_COUNTER,
			"Times a new flow got no entry in the flow table (quota or table full).");
	wgx_prom_sample(p, "wgxdp_tunnel_flows_refused_total", flows->refused, NULL);
	wgx_prom_family(p, "wgxdp_tunnel_flow_start_events_lost_total", WGX_PROM_COUNTER,
			"Flow-start events not sent: the ring buffer was full.");
	wgx_prom_sample(p, "wgxdp_tunnel_flow_start_events_lost_total", flows->starts_lost, NULL);
}

#define JS(f) offsetof(struct wgx_jit_stats, f)

/* Every initiation the daemon read ends in exactly one of these (wgx_jit_stats). */
static const struct {
	const char *outcome;
	size_t off;
} outcomes[] = {
	{ "installed", JS(installed) },
	{ "existing", JS(existing) },
	{ "other_port", JS(other_port) },
	{ "bad_source", JS(bad_source) },
	{ "bad_mac1", JS(bad_mac1) },
	{ "throttled", JS(throttled) },
	{ "not_for_us", JS(not_for_us) },
	{ "unauthenticated", JS(unauthenticated) },
	{ "replayed", JS(replayed) },
	{ "unknown_key", JS(unknown_key) },
	{ "unknown_cached", JS(unknown_cached) },
	{ "unknown_group", JS(unknown_group) },
	{ "disabled", JS(disabled) },
	{ "expired", JS(expired) },
	{ "address_conflict", JS(address_conflict) },
	{ "api_errors", JS(api_errors) },
	{ "install_errors", JS(install_errors) },
};

static uint64_t stat_at(const struct wgx_jit_stats *st, size_t off)
{
	return *(const __u64 *)((const char *)st + off);
}

static void daemon_metrics(struct wgx_prom *p, const struct wgx_metrics_src *src)
{
	const struct wgx_jit_stats *st = src->st;
	unsigned int i;

	if (!st)
		return;
	wgx_prom_family(p, "wgxdp_handshake_initiations_total", WGX_PROM_COUNTER,
			"Handshake initiations the daemon read, by what became of them "
			"(api_errors also counts failed revalidations).");
	for (i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
		wgx_prom_sample(p, "wgxdp_handshake_initiations_total", stat_at(st, outcomes[i].off),
				"outcome", outcomes[i].outcome, NULL);
	wgx_prom_family(p, "wgxdp_handshake_reinjections_total", WGX_PROM_COUNTER,
			"Initiations handed to WireGuard again after their peer's install, and "
			"those refused by the address checks.");
	wgx_prom_sample(p, "wgxdp_handshake_reinjections_total", st->reinjected, "result",
			"reinjected", NULL);
	wgx_prom_sample(p, "wgxdp_handshake_reinjections_total", st->reinject_refused, "result",
			"refused", NULL);
	if (src->install) {
		wgx_prom_family(p, "wgxdp_peer_install_seconds", WGX_PROM_HISTOGRAM,
				"Time from a handshake initiation reaching the uplink to its peer "
				"installed on the WireGuard device (since the daemon started).");
		wgx_prom_histogram(p, "wgxdp_peer_install_seconds", src->install);
	}
	if (src->managed_peers) {
		wgx_prom_family(p, "wgxdp_managed_peers", WGX_PROM_GAUGE,
				"Peers the daemon installed that are on the WireGuard device.");
		wgx_prom_sample(p, "wgxdp_managed_peers", *src->managed_peers, NULL);
	}
	wgx_prom_family(p, "wgxdp_peers_adopted_total", WGX_PROM_COUNTER,
			"Managed peers found again on the device at a start.");
	wgx_prom_sample(p, "wgxdp_peers_adopted_total", st->adopted, NULL);
	wgx_prom_family(p, "wgxdp_peers_removed_total", WGX_PROM_COUNTER,
			"Managed peers the daemon removed, by reason (idle; policy: left the "
			"policy, disabled or expired; api: the peer API no longer knows the user).");
	wgx_prom_sample(p, "wgxdp_peers_removed_total", st->removed_idle, "reason", "idle", NULL);
	wgx_prom_sample(p, "wgxdp_peers_removed_total", st->removed_policy, "reason", "policy",
			NULL);
	wgx_prom_sample(p, "wgxdp_peers_removed_total", st->removed_api, "reason", "api", NULL);
	wgx_prom_family(p, "wgxdp_policy_applies_total", WGX_PROM_COUNTER,
			"Whole policies written to the tunnel's maps (result applied), or refused "
			"(result error: the one in force there stays).");
	wgx_prom_sample(p, "wgxdp_policy_applies_total", st->policy_applied, "result", "applied",
			NULL);
	wgx_prom_sample(p, "wgxdp_policy_applies_total", st->policy_errors, "result", "error",
			NULL);
	wgx_prom_family(p, "wgxdp_api_groups_fetches_total", WGX_PROM_COUNTER,
			"GET URL/groups of the peer API (without --policy): new groups (fetched), "
			"the same (unchanged: 304 or the same text), or failed (error: the groups in "
			"force stay).");
	wgx_prom_sample(p, "wgxdp_api_groups_fetches_total", st->groups_fetched, "result",
			"fetched", NULL);
	wgx_prom_sample(p, "wgxdp_api_groups_fetches_total", st->groups_unchanged, "result",
			"unchanged", NULL);
	wgx_prom_sample(p, "wgxdp_api_groups_fetches_total", st->groups_errors, "result", "error",
			NULL);
}

static void deny_metrics(struct wgx_prom *p, const struct wgx_deny_groups *dg)
{
	size_t i;

	if (!dg)
		return;
	wgx_prom_family(p, "wgxdp_tunnel_denied_packets_total", WGX_PROM_COUNTER,
			"Packets of known users the tunnel denied (either direction) since the "
			"daemon started, by the user's group: each user's new denies added to the "
			"groups she is in when they are read (every few seconds); a user in several "
			"groups counts in each, group \"\" is a user in none. Reasons: "
			"wgxdp_tunnel_packets_total.");
	for (i = 0; i < dg->nr_g; i++)
		wgx_prom_sample(p, "wgxdp_tunnel_denied_packets_total", dg->g[i].denied, "group",
				dg->g[i].name, NULL);
}

static void render(const struct wgx_metrics_src *src, const struct wgx_flows_count *flows,
		   const struct wgx_deny_groups *dg, struct wgx_prom *p)
{
	wgx_prom_family(p, "wgxdp_build_info", WGX_PROM_GAUGE,
			"Always 1: the version of wgxdp serving these metrics.");
	wgx_prom_sample(p, "wgxdp_build_info", 1, "version", WGXDP_VERSION, NULL);
	daemon_metrics(p, src);
	uplink_metrics(p, src->pin_dir);
	tunnel_metrics(p, src->pin_dir, flows);
	deny_metrics(p, dg);
}

void wgx_metrics_render(const struct wgx_metrics_src *src, struct wgx_prom *p)
{
	struct wgx_deny_groups dg = {};
	struct wgx_flows_count f;
	bool have = !wgx_flows_count(src->pin_dir, &f);
	bool have_dg = !wgx_deny_groups_update(&dg, src->pin_dir);

	render(src, have ? &f : NULL, have_dg ? &dg : NULL, p);
	wgx_deny_groups_free(&dg);
}

/* The exposition, built again only when the last one is older than a second. */
static int snapshot(struct wgx_metrics *m)
{
	uint64_t now = mono_ns();
	struct wgx_prom p;

	if (m->body && now - m->body_ns < WGX_METRICS_BODY_CACHE_MS * 1000000ull)
		return 0;
	if (!m->flows_ns || now - m->flows_ns >= WGX_METRICS_FLOWS_CACHE_MS * 1000000ull) {
		/* the one walk of a map that may hold 2^18 flows: every few seconds at most */
		m->flows_err = wgx_flows_count(m->src->pin_dir, &m->flows);
		m->denies_err = wgx_deny_groups_update(&m->denies, m->src->pin_dir);
		m->flows_ns = now;
	}
	wgx_prom_init(&p);
	/* like every tunnel series, absent while the tunnel is not attached */
	render(m->src, m->flows_err ? NULL : &m->flows, m->denies_err ? NULL : &m->denies, &p);
	if (p.err) {
		wgx_prom_free(&p);
		return -ENOMEM;
	}
	free(m->body);
	m->body = p.buf;
	m->body_len = p.len;
	m->body_ns = now;
	LOG(DEBUG, "exposition of %zu bytes built in %llu us", p.len,
	    (unsigned long long)((mono_ns() - now) / 1000));
	return 0;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *text,
			     size_t len, bool copy, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)text,
					    copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				status == MHD_HTTP_OK ? CONTENT_TYPE : "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

#define STATIC_REPLY(c, status, s, allow) reply(c, status, s, sizeof(s) - 1, false, allow)

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **req)
{
	struct wgx_metrics *m = cls;

	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return STATIC_REPLY(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed: GET or "
				    "HEAD\n", "GET, HEAD");
	if (strcmp(url, "/metrics"))
		return STATIC_REPLY(c, MHD_HTTP_NOT_FOUND, "Not Found: the metrics are at "
				    "/metrics\n", NULL);
	if (snapshot(m))
		return STATIC_REPLY(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	return reply(c, MHD_HTTP_OK, m->body, m->body_len, true, NULL);
}

/* libmicrohttpd's messages (a refused or timed-out connection...): debug lines. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = 0;
	LOG(DEBUG, "libmicrohttpd: %s", msg);
}

/* After every MHD_run: when MHD must run again even without socket activity. */
static void rearm(struct wgx_metrics *m)
{
	MHD_UNSIGNED_LONG_LONG ms;
	int err;

	if (m->timer < 0)
		return;
	if (MHD_get_timeout(m->mhd, &ms) != MHD_YES)
		ms = WGX_LOOP_DISARM;	/* no timeout in use, no data pending */
	err = wgx_loop_arm(m->loop, m->timer, ms);
	if (err)
		LOG(WARN, "arm the timer: %s", strerror(-err));
}

static void run_mhd(struct wgx_metrics *m)
{
	if (MHD_run(m->mhd) != MHD_YES)
		LOG(WARN, "libmicrohttpd: MHD_run failed");
	rearm(m);
}

static void on_epoll(void *ctx, int fd, uint32_t events)
{
	run_mhd(ctx);
}

static void on_timer(void *ctx, int fd, uint32_t events)
{
	run_mhd(ctx);
}

/* ---- set-up ---- */

int wgx_metrics_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *port;
	unsigned long p;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		hl = end - s - 1;
		if (!hl || hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hl);
		host[hl] = 0;
		port = end + 2;
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		*len = sizeof(*in6);
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = colon - s;
		if (!hl || hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hl);
		host[hl] = 0;
		port = colon + 1;
		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			return -EINVAL;
		in4->sin_family = AF_INET;
		*len = sizeof(*in4);
	}
	if (wgx_parse_ulong(port, 1, 65535, &p))
		return -EINVAL;
	if (ss->ss_family == AF_INET6)
		in6->sin6_port = htons(p);
	else
		in4->sin_port = htons(p);
	return 0;
}

static int listen_on(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	/* a restart binds again while the last run's connections sit in TIME_WAIT */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) || listen(fd, 128)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int wgx_metrics_open(const char *addr, const struct wgx_metrics_src *src,
		     struct wgx_metrics **out, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	struct wgx_metrics *m;
	const union MHD_DaemonInfo *info;
	socklen_t len;
	int fd;

	*out = NULL;
	if (wgx_metrics_addr_parse(addr, &ss, &len)) {
		snprintf(why, whylen, "%s: expected IPV4:PORT or [IPV6]:PORT", addr);
		return -EINVAL;
	}
	fd = listen_on(&ss, len);
	if (fd < 0) {
		snprintf(why, whylen, "%s: %s%s", addr, strerror(-fd),
			 fd == -EADDRINUSE ? " (another process listens there)" :
			 fd == -EADDRNOTAVAIL ? " (no such address on this host)" : "");
		return fd;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		close(fd);
		snprintf(why, whylen, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	m->src = src;
	m->timer = -1;
	snprintf(m->addr, sizeof(m->addr), "%s", addr);
	/* no MHD_USE_INTERNAL_POLLING_THREAD: MHD_run from our loop, on our thread */
	m->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
				  (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
				  0, NULL, NULL, on_request, m,
				  MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, m,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)WGX_METRICS_CONN_LIMIT,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				  (unsigned int)WGX_METRICS_PER_IP_LIMIT,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)WGX_METRICS_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
				  MHD_OPTION_END);
	if (!m->mhd) {
		close(fd);
		free(m);
		snprintf(why, whylen, "%s: libmicrohttpd did not start (epoll mode)", addr);
		return -EIO;
	}
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		wgx_metrics_close(m);
		snprintf(why, whylen, "%s: libmicrohttpd has no epoll descriptor", addr);
		return -EIO;
	}
	m->mhd_epfd = info->epoll_fd;
	*out = m;
	return 0;
}

int wgx_metrics_attach(struct wgx_metrics *m, struct wgx_loop *l)
{
	int err;

	m->loop = l;
	err = wgx_loop_add(l, m->mhd_epfd, EPOLLIN, on_epoll, m);
	if (err) {
		m->loop = NULL;
		return err;
	}
	err = wgx_loop_oneshot(l, on_timer, m, &m->timer);
	if (err) {
		wgx_loop_del(l, m->mhd_epfd);
		m->loop = NULL;
		return err;
	}
	rearm(m);
	LOG(INFO, "serving Prometheus metrics at http://%s/metrics", m->addr);
	return 0;
}

void wgx_metrics_close(struct wgx_metrics *m)
{
	if (!m)
		return;
	if (m->loop) {
		wgx_loop_del(m->loop, m->mhd_epfd);
		if (m->timer >= 0)
			wgx_loop_del(m->loop, m->timer);	/* the loop closes it */
	}
	MHD_stop_daemon(m->mhd);	/* closes the listening socket and the connections */
	free(m->body);
	wgx_deny_groups_free(&m->denies);
	free(m);
}
