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

#include "loader/jit.h"
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

int cmd_peers(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{}
	};
	const char *pin_dir = wgx_pin_dir_default();
	struct wgx_jit_maps m;
	struct wgx_jit_stats st = {};
	struct wgx_peer_key k, next;
	struct wgx_peer_rec r;
	struct wgx_wg_device *dev = NULL;
	char dev_name[16] = "";
	json_t *arr = json_array();
	bool json = false;
	int c, err, n = 0;

	while ((c = getopt_long(argc, argv, "jd:", longopts, NULL)) != -1) {
		switch (c) {
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
	err = wgx_jit_maps_open(pin_dir, &m);
	if (err) {
		json_decref(arr);
		wgx_err("peers", "%s: %s", pin_dir, err == -ENOENT ?
			"nothing pinned: run wgxdp attach first" : strerror(-err));
		return 1;
	}
	wgx_jit_stats_read(&m, &st);
	err = bpf_map_get_next_key(m.peers_fd, NULL, &next);
	while (!err) {
		const struct wgx_wg_peer *p = NULL;
		char key64[45], ep[64] = "none", hs[32], since[32], rm[96];

		k = next;
		err = bpf_map_get_next_key(m.peers_fd, &k, &next);
		if (bpf_map_lookup_elem(m.peers_fd, &k, &r))
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
	if (json) {
		json_t *root = json_object(), *s = json_object();

#define STAT(f) json_object_set_new(s, #f, json_integer(st.f))
		STAT(events); STAT(installed); STAT(existing); STAT(throttled);
		STAT(bad_mac1); STAT(not_for_us); STAT(bad_timestamp); STAT(unknown_key);
		STAT(unknown_cached); STAT(disabled); STAT(expired); STAT(api_errors);
		STAT(install_errors); STAT(removed_idle); STAT(removed_policy); STAT(adopted);
#undef STAT
		json_object_set_new(root, "peers", arr);
		json_object_set_new(root, "daemon", s);
		json_dumpf(root, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(root);
	} else {
		json_decref(arr);
		if (!n)
			printf("no managed peers\n");
		printf("initiations %llu: installed %llu, had a peer %llu, unknown %llu (+%llu cached), "
		       "disabled %llu, expired %llu, throttled %llu, bad mac1 %llu, not for us %llu, "
		       "errors %llu; removed idle %llu, by policy %llu\n",
		       (unsigned long long)st.events, (unsigned long long)st.installed,
		       (unsigned long long)st.existing, (unsigned long long)st.unknown_key,
		       (unsigned long long)st.unknown_cached, (unsigned long long)st.disabled,
		       (unsigned long long)st.expired, (unsigned long long)st.throttled,
		       (unsigned long long)st.bad_mac1, (unsigned long long)st.not_for_us,
		       (unsigned long long)(st.api_errors + st.install_errors),
		       (unsigned long long)st.removed_idle, (unsigned long long)st.removed_policy);
	}
	wgx_jit_maps_close(&m);
	return 0;
}
