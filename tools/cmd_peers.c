// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* wgxdp peers: the peers `wgxdp run` manages, from wgx_peers and the WireGuard device. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <bpf/bpf.h>

#include "loader/jit_state.h"
#include "loader/noise.h"
#include "loader/wgdev.h"
#include "tools/wgxdp.h"

static void fmt_sa(char *buf, size_t len, const struct wgx_endpoint *e)
{
	if (e->sa.sa_family == AF_INET6)
		wgx_fmt_endpoint(buf, len, 6, &e->in6.sin6_addr, ntohs(e->in6.sin6_port));
	else if (e->sa.sa_family == AF_INET)
		wgx_fmt_endpoint(buf, len, 4, &e->in4.sin_addr, ntohs(e->in4.sin_port));
	else
		wgx_fmt_endpoint(buf, len, 0, NULL, 0);
}

/* What removes the peer next: idle at a time, or the user's expiry, whichever is first. */
static void removal(char *buf, size_t len, const struct wgx_peer_rec *r, uint64_t last_hs)
{
	int64_t base = last_hs > r->installed_ns / 1000000000ull ? (int64_t)last_hs :
			(int64_t)(r->installed_ns / 1000000000ull);
	int64_t idle_at = base + r->idle_timeout_s;
	char t[32];

	if (r->expires_s && r->expires_s < idle_at) {
		wgx_fmt_time(t, sizeof(t), r->expires_s);
		snprintf(buf, len, "expires %s", t);
	} else {
		wgx_fmt_time(t, sizeof(t), idle_at);
		snprintf(buf, len, "idle after %s (no handshake for %us)", t, r->idle_timeout_s);
	}
}

static json_t *stats_json(const struct wgx_jit_stats *st)
{
	json_t *o = json_object();
	unsigned int i;

	for (i = 0; i < wgx_jit_nr_stat_fields; i++)
		json_object_set_new(o, wgx_jit_stat_fields[i].name,
				    json_integer(wgx_jit_stat(st, i)));
	return o;
}

/* The counters of every daemon (or only wg's), summed into *sum and listed per interface. */
static void sum_stats(const struct wgx_jit_state *m, const char *wg, struct wgx_jit_stats *sum,
		      json_t *per_if)
{
	struct wgx_jit_key k, next;
	struct wgx_jit_stats st;
	__u64 *a = (__u64 *)sum;
	const __u64 *b = (const __u64 *)&st;
	unsigned int i;
	int err;

	memset(sum, 0, sizeof(*sum));
	err = bpf_map_get_next_key(m->stats_fd, NULL, &next);
	while (!err) {
		k = next;
		err = bpf_map_get_next_key(m->stats_fd, &k, &next);
		memset(&st, 0, sizeof(st));	/* an older daemon's map has fewer counters */
		if ((wg && strncmp(k.wg_ifname, wg, sizeof(k.wg_ifname))) ||
		    bpf_map_lookup_elem(m->stats_fd, &k, &st))
			continue;
		for (i = 0; i < sizeof(st) / sizeof(__u64); i++)
			a[i] += b[i];
		json_object_set_new(per_if, k.wg_ifname, stats_json(&st));
	}
}

int cmd_peers(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "wg", required_argument, NULL, 'w' },
		{}
	};
	const char *wg = NULL;
	const char *pin_dir = wgx_pin_dir_default();
	struct wgx_jit_state m;
	struct wgx_jit_stats st = {};
	struct wgx_peer_key k, next;
	struct wgx_peer_rec r;
	struct wgx_wg_device *dev = NULL;
	char dev_name[16] = "";
	json_t *arr = json_array(), *per_if;
	bool json = false;
	int c, err, n = 0;

	while ((c = getopt_long(argc, argv, "jd:w:", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			wg = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'd':
			pin_dir = optarg;
			break;
		default:
			json_decref(arr);
			return wgx_usage("peers", stderr);
		}
	}
	err = wgx_jit_state_open(pin_dir, false, &m);
	if (err) {
		json_decref(arr);
		wgx_err("peers", "%s/%s: %s", pin_dir, WGX_JIT_SUBDIR, err == -ENOENT ?
			"nothing pinned: wgxdp run has never run with this pin directory" :
			err == -EPROTO ? "pinned by another version of wgxdp" : strerror(-err));
		return 1;
	}
	err = bpf_map_get_next_key(m.peers_fd, NULL, &next);
	while (!err) {
		const struct wgx_wg_peer *p = NULL;
		char key64[45], ep[64] = "none", hs[32], since[32], rm[96];

		k = next;
		err = bpf_map_get_next_key(m.peers_fd, &k, &next);
		if ((wg && strncmp(k.wg_ifname, wg, sizeof(k.wg_ifname))) ||
		    bpf_map_lookup_elem(m.peers_fd, &k, &r))
			continue;
		if (strncmp(dev_name, r.wg_ifname, sizeof(dev_name))) {
			wgx_wg_device_free(dev);
			dev = NULL;
			snprintf(dev_name, sizeof(dev_name), "%s", r.wg_ifname);
			if (!wgx_wg_get_device(dev_name, &dev))
				wgx_wg_device_sort(dev);
		}
		if (dev)
			p = wgx_wg_device_find(dev, k.public_key);
		wgx_key_to_base64(key64, k.public_key);
		if (p)
			fmt_sa(ep, sizeof(ep), &p->endpoint);
		if (p && p->last_handshake_sec)
			wgx_fmt_time(hs, sizeof(hs), p->last_handshake_sec);
		else
			snprintf(hs, sizeof(hs), "never");
		wgx_fmt_time(since, sizeof(since), r.installed_ns / 1000000000ull);
		removal(rm, sizeof(rm), &r, p ? p->last_handshake_sec : 0);
		if (json) {
			json_array_append_new(arr, json_pack(
				"{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:b}", "user", r.user,
				"public_key", key64, "interface", r.wg_ifname, "endpoint", ep,
				"last_handshake", hs, "rx_bytes", (json_int_t)(p ? p->rx_bytes : 0),
				"tx_bytes", (json_int_t)(p ? p->tx_bytes : 0), "installed", since,
				"removal", rm, "present", p != NULL));
		} else {
			if (!n)
				printf("%-16s %-44s %-24s %-20s %10s %10s  %s\n", "user", "public key",
				       "endpoint", "last handshake", "rx", "tx", "removal");
			printf("%-16s %-44s %-24s %-20s %10llu %10llu  %s%s\n", r.user, key64, ep,
			       hs, (unsigned long long)(p ? p->rx_bytes : 0),
			       (unsigned long long)(p ? p->tx_bytes : 0), rm,
			       p ? "" : " (not on the device)");
		}
		n++;
	}
	wgx_wg_device_free(dev);
	per_if = json_object();
	sum_stats(&m, wg, &st, per_if);
	if (json) {
		json_t *root = json_object();

		json_object_set_new(root, "peers", arr);
		json_object_set_new(root, "daemon", stats_json(&st));
		json_object_set_new(root, "interfaces", per_if);
		json_dumpf(root, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(root);
	} else {
		json_decref(arr);
		json_decref(per_if);
		if (!n)
			printf("no managed peers\n");
		printf("initiations %llu: installed %llu, had a peer %llu, unknown %llu "
		       "(+%llu cached), "
		       "unknown group %llu, "
		       "disabled %llu, expired %llu, address conflicts %llu, throttled %llu, "
		       "bad mac1 %llu, not for us %llu, unauthenticated %llu, replayed %llu, "
		       "errors %llu; removed idle %llu, by policy %llu, by the API %llu\n",
		       (unsigned long long)st.events, (unsigned long long)st.installed,
		       (unsigned long long)st.existing, (unsigned long long)st.unknown_key,
		       (unsigned long long)st.unknown_cached, (unsigned long long)st.unknown_group,
		       (unsigned long long)st.disabled,
		       (unsigned long long)st.expired, (unsigned long long)st.address_conflict,
		       (unsigned long long)st.throttled, (unsigned long long)st.bad_mac1,
		       (unsigned long long)st.not_for_us, (unsigned long long)st.unauthenticated,
		       (unsigned long long)st.replayed,
		       (unsigned long long)(st.api_errors + st.install_errors),
		       (unsigned long long)st.removed_idle, (unsigned long long)st.removed_policy,
		       (unsigned long long)st.removed_api);
	}
	wgx_jit_state_close(&m);
	return 0;
}
