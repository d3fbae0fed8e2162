// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* wgxdp status: attached interfaces (uplink and tunnel) and their counters, text or --json. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "loader/tunnel.h"
#include "loader/uplink.h"
#include "tools/wgxdp.h"

static json_t *iface_json(const struct wgx_iface_status *s)
{
	json_t *o = json_object(), *ports = json_array(), *ids = json_array(), *ctr = json_object();
	__u64 total_p = 0, total_b = 0;
	char since[32];
	unsigned int i;
	int c, r;

	for (i = 0; i < s->cfg.nr_ports && i < WGX_MAX_PORTS; i++)
		json_array_append_new(ports, json_integer(s->cfg.ports[i]));
	if (s->live_prog_id)
		json_array_append_new(ids, json_integer(s->live_prog_id));
	for (c = 0; c < WGX_C__MAX; c++) {
		json_t *cl = json_object(), *reasons = json_object();
		__u64 pass = 0, drop = 0, bytes = 0;

		for (r = 0; r < WGX_R__MAX; r++) {
			const struct wgx_counter *p = &s->ctr[c][r][WGX_V_PASS];
			const struct wgx_counter *d = &s->ctr[c][r][WGX_V_DROP];

			pass += p->packets;
			drop += d->packets;
			bytes += p->bytes + d->bytes;
			if (p->packets || d->packets)
				json_object_set_new(reasons, wgx_reason_name(r),
						    json_pack("{s:I,s:I}", "pass", (json_int_t)p->packets,
							      "drop", (json_int_t)d->packets));
		}
		total_p += pass + drop;
		total_b += bytes;
		json_object_set_new(cl, "pass", json_integer(pass));
		json_object_set_new(cl, "drop", json_integer(drop));
		json_object_set_new(cl, "bytes", json_integer(bytes));
		json_object_set_new(cl, "reasons", reasons);
		json_object_set_new(ctr, wgx_class_name(c), cl);
	}
	wgx_fmt_time(since, sizeof(since), s->cfg.attached_ns / 1000000000ull);
	json_object_set_new(o, "name", json_string(s->cfg.name));
	json_object_set_new(o, "ifindex", json_integer(s->ifindex));
	json_object_set_new(o, "counter_slot", json_integer(s->cfg.slot));
	json_object_set_new(o, "present", json_boolean(s->present));
	json_object_set_new(o, "attached", json_boolean(s->attached));
	json_object_set_new(o, "mode", json_string(wgx_mode_name(s->attached ? s->live_mode :
									  s->cfg.mode)));
	json_object_set_new(o, "dispatcher", json_boolean(s->live_dispatcher));
	json_object_set_new(o, "prog_ids", ids);
	json_object_set_new(o, "other_programs", json_integer(s->nr_other_progs));
	json_object_set_new(o, "ports", ports);
	json_object_set_new(o, "drop_malformed",
			    json_boolean(!(s->cfg.flags & WGX_IF_F_PASS_MALFORMED)));
	json_object_set_new(o, "attached_since", json_string(since));
	json_object_set_new(o, "counters", ctr);
	json_object_set_new(o, "total", json_pack("{s:I,s:I}", "packets", (json_int_t)total_p,
						  "bytes", (json_int_t)total_b));
	return o;
}

static void iface_text(const struct wgx_iface_status *s, bool all)
{
	__u64 total = 0;
	char since[32];
	unsigned int i;
	int c, r, v;

	wgx_fmt_time(since, sizeof(since), s->cfg.attached_ns / 1000000000ull);
	printf("%s (ifindex %u): ", s->cfg.name, s->ifindex);
	if (!s->present)
		printf("interface gone\n");
	else if (!s->attached)
		printf("NOT attached (program removed by someone else)\n");
	else
		printf("attached, %s mode, %s, prog %u%s\n", wgx_mode_name(s->live_mode),
		       s->live_dispatcher ? "libxdp dispatcher" : "single program (no dispatcher)",
		       s->live_prog_id, s->nr_other_progs ? ", shared with other XDP programs" : "");
	printf("  ports");
	for (i = 0; i < s->cfg.nr_ports && i < WGX_MAX_PORTS; i++)
		printf("%s%u", i ? "," : " ", s->cfg.ports[i]);
	printf("; malformed WireGuard packets %s; since %s\n",
	       s->cfg.flags & WGX_IF_F_PASS_MALFORMED ? "pass" : "dropped", since);
	printf("  %-11s %-13s %-5s %14s %16s\n", "class", "reason", "verdict", "packets", "bytes");
	for (c = 0; c < WGX_C__MAX; c++)
		for (r = 0; r < WGX_R__MAX; r++)
			for (v = 0; v < WGX_V__MAX; v++) {
				const struct wgx_counter *k = &s->ctr[c][r][v];

				total += k->packets;
				if (!k->packets && !(all && r == WGX_R_OK && v == WGX_V_PASS))
					continue;
				printf("  %-11s %-13s %-7s %12llu %16llu\n", wgx_class_name(c),
				       wgx_reason_name(r), v == WGX_V_DROP ? "drop" : "pass",
				       (unsigned long long)k->packets,
				       (unsigned long long)k->bytes);
			}
	printf("  total %llu packets\n", (unsigned long long)total);
}

static json_t *tunnel_json(const struct wgx_tunnel_status *t)
{
	json_t *o = json_object(), *ifs = json_array(), *ctr = json_object();
	char since[32];
	int i, d, r;

	for (i = 0; i < t->nr_ifaces; i++) {
		const struct wgx_tun_iface_status *s = &t->ifaces[i];

		wgx_fmt_time(since, sizeof(since), s->rec.attached_ns / 1000000000ull);
		json_array_append_new(ifs, json_pack(
			"{s:s,s:i,s:b,s:b,s:b,s:b,s:i,s:i,s:i,s:s}", "name", s->rec.name,
			"ifindex", (int)s->ifindex, "present", s->present,
			"attached", s->ingress && s->egress, "ingress", s->ingress,
			"egress", s->egress, "ingress_prog_id", (int)s->live_ingress_id,
			"egress_prog_id", (int)s->live_egress_id, "l2_len", (int)s->rec.l2_len,
			"attached_since", since));
	}
	for (d = 0; d < WGX_TD__MAX; d++) {
		json_t *dir = json_object(), *reasons = json_object();
		__u64 pass = 0, drop = 0, bytes = 0;

		for (r = 0; r < WGX_TR__MAX; r++) {
			const struct wgx_counter *c = &t->ctr[d][r];
			bool is_pass = r < WGX_TR_PASS_MAX;

			*(is_pass ? &pass : &drop) += c->packets;
			bytes += c->bytes;
			if (c->packets)
				json_object_set_new(reasons, wgx_tun_reason_name(r),
						    json_pack("{s:I,s:I,s:s}", "packets",
							      (json_int_t)c->packets, "bytes",
							      (json_int_t)c->bytes, "verdict",
							      is_pass ? "pass" : "drop"));
		}
		json_object_set_new(dir, "pass", json_integer(pass));
		json_object_set_new(dir, "drop", json_integer(drop));
		json_object_set_new(dir, "bytes", json_integer(bytes));
		json_object_set_new(dir, "reasons", reasons);
		json_object_set_new(ctr, wgx_tun_dir_name(d), dir);
	}
	json_object_set_new(o, "policy_loaded", json_boolean(t->cfg.policy_loaded));
	json_object_set_new(o, "generation", json_integer(t->cfg.generation));
	json_object_set_new(o, "timeouts", json_pack("{s:i,s:i,s:i,s:i}",
		"tcp", (int)t->cfg.tcp_timeout_s, "tcp_close", (int)t->cfg.tcp_close_s,
		"udp", (int)t->cfg.udp_timeout_s, "icmp", (int)t->cfg.icmp_timeout_s));
	json_object_set_new(o, "flow_quota", json_integer(t->cfg.flow_quota ?: WGX_TUN_FLOW_QUOTA));
	json_object_set_new(o, "interfaces", ifs);
	json_object_set_new(o, "counters", ctr);
	json_object_set_new(o, "denied", json_integer(t->denied));
	json_object_set_new(o, "deny_events_held", json_integer(t->events_held));
	return o;
}

static void tunnel_text(const struct wgx_tunnel_status *t, bool all)
{
	char since[32];
	__u64 total = 0;
	int i, d, r;

	printf("tunnel: ");
	if (t->cfg.policy_loaded) {
		wgx_fmt_time(since, sizeof(since), t->cfg.loaded_ns / 1000000000ull);
		printf("policy loaded (generation %u, %s)\n", t->cfg.generation, since);
	} else {
		printf("NO policy loaded: every packet is dropped (no_policy) until `wgxdp run` "
		       "loads one\n");
	}
	for (i = 0; i < t->nr_ifaces; i++) {
		const struct wgx_tun_iface_status *s = &t->ifaces[i];

		wgx_fmt_time(since, sizeof(since), s->rec.attached_ns / 1000000000ull);
		printf("%s (ifindex %u): ", s->rec.name, s->ifindex);
		if (!s->present)
			printf("interface gone\n");
		else if (!s->ingress || !s->egress)
			printf("NOT attached (%s filter removed by someone else)\n",
			       !s->ingress ? "ingress" : "egress");
		else
			printf("tunnel programs attached, tc ingress prog %u, egress prog %u; since %s\n",
			       s->live_ingress_id, s->live_egress_id, since);
	}
	printf("  %-8s %-15s %-7s %12s %16s\n", "dir", "reason", "verdict", "packets", "bytes");
	for (d = 0; d < WGX_TD__MAX; d++)
		for (r = 0; r < WGX_TR__MAX; r++) {
			const struct wgx_counter *c = &t->ctr[d][r];

			total += c->packets;
			if (!c->packets && !all)
				continue;
			printf("  %-8s %-15s %-7s %12llu %16llu\n", wgx_tun_dir_name(d),
			       wgx_tun_reason_name(r), r < WGX_TR_PASS_MAX ? "pass" : "drop",
			       (unsigned long long)c->packets, (unsigned long long)c->bytes);
		}
	printf("  total %llu packets; %llu denied, %llu deny events held back\n",
	       (unsigned long long)total, (unsigned long long)t->denied,
	       (unsigned long long)t->events_held);
}

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{}
	};
	const char *pin_dir = wgx_pin_dir_default();
	struct wgx_iface_status *st;
	struct wgx_tunnel_status tun;
	bool json = false, all = false, have_tun;
	int c, i, n, err;

	while ((c = getopt_long(argc, argv, "jad:", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'a':
			all = true;
			break;
		case 'd':
			pin_dir = optarg;
			break;
		default:
			return wgx_usage("status", stderr);
		}
	}
	if (optind != argc)
		return wgx_usage("status", stderr);
	err = wgx_status(pin_dir, &st, &n);
	if (err == -ENOENT) {
		st = NULL;
		n = 0;
	} else if (err) {
		wgx_err("status", "%s: %s%s", pin_dir, strerror(-err),
			err == -EPERM || err == -EACCES ? " (run as root)" : "");
		return 1;
	}
	err = wgx_tunnel_status(pin_dir, &tun);
	if (err && err != -ENOENT) {
		wgx_err("status", "%s/%s: %s%s", pin_dir, WGX_PIN_SUB_TUNNEL, strerror(-err),
			err == -EPERM || err == -EACCES ? " (run as root)" : "");
		free(st);
		return 1;
	}
	have_tun = !err;
	if (json) {
		json_t *root = json_object(), *arr = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(arr, iface_json(&st[i]));
		json_object_set_new(root, "pin_dir", json_string(pin_dir));
		json_object_set_new(root, "interfaces", arr);
		json_object_set_new(root, "tunnel", have_tun ? tunnel_json(&tun) : json_null());
		json_dumpf(root, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(root);
	} else if (!n && !have_tun) {
		printf("no interface attached (nothing pinned in %s)\n", pin_dir);
	} else {
		for (i = 0; i < n; i++)
			iface_text(&st[i], all);
		if (have_tun)
			tunnel_text(&tun, all);
	}
	if (have_tun)
		wgx_tunnel_status_free(&tun);
	free(st);
	return 0;
}
