// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* wgxdp flows: the tunnel's flows now, from the pinned maps (the daemon may be stopped). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <netinet/in.h>

#include "loader/denies.h"
#include "loader/enforce.h"
#include "loader/flows.h"
#include "loader/noise.h"
#include "tools/wgxdp.h"

static const char *state_of(const struct wgx_flow_rec *r)
{
	return wgx_flow_state(&r->key, &r->v);
}

static json_t *rec_json(const struct wgx_flow_rec *r)
{
	char ua[64], ra[64], first[40], last[40], key64[45] = "", proto[16];
	static const uint8_t zero[32];

	wgx_fmt_endpoint(ua, sizeof(ua), r->key.family, r->key.uaddr, ntohs(r->key.uport));
	wgx_fmt_endpoint(ra, sizeof(ra), r->key.family, r->key.raddr, ntohs(r->key.rport));
	wgx_fmt_time_ns(first, sizeof(first), r->first_real_ns);
	wgx_fmt_time_ns(last, sizeof(last), r->last_real_ns);
	if (memcmp(r->public_key, zero, 32))
		wgx_key_to_base64(key64, r->public_key);
	return json_pack("{s:s,s:s?,s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s,s:s,s:s,s:s?,s:I,"
			 "s:s,s:b}",
			 "user", r->user, "public_key", key64[0] ? key64 : NULL,
			 "user_id", (json_int_t)r->v.user_id,
			 "proto", wgx_proto_name(r->key.proto, proto, sizeof(proto)),
			 "direction", r->v.flags & WGX_FLOW_F_INBOUND ? "inbound" : "outbound",
			 "user_end", ua, "remote_end", ra,
			 "tx_packets", (json_int_t)r->v.pkts_out, "tx_bytes",
			 (json_int_t)r->v.bytes_out, "rx_packets", (json_int_t)r->v.pkts_in,
			 "rx_bytes", (json_int_t)r->v.bytes_in, "first_seen", first,
			 "last_seen", last, "state", state_of(r),
			 "group", r->group[0] ? r->group : NULL, "rule", (json_int_t)r->v.rule_idx,
			 "family", r->key.family == 6 ? "ipv6" : "ipv4", "live", r->live);
}

/* A user's totals and overflow (wgx_tun_acct): her flows plus overflow add up to them. */
static json_t *acct_json(const struct wgx_acct_rec *r)
{
	static const uint8_t zero[32];
	char key64[45] = "";

	if (memcmp(r->public_key, zero, 32))
		wgx_key_to_base64(key64, r->public_key);
	return json_pack("{s:s?,s:s?,s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I},s:I,s:I,s:I,s:I,s:I,"
			 "s:I}",
			 "user", r->user[0] ? r->user : NULL,
			 "public_key", key64[0] ? key64 : NULL, "user_id", (json_int_t)r->user_id,
			 "tx_packets", (json_int_t)r->a.pkts_out,
			 "tx_bytes", (json_int_t)r->a.bytes_out,
			 "rx_packets", (json_int_t)r->a.pkts_in, "rx_bytes", (json_int_t)r->a.bytes_in,
			 "overflow", "tx_packets", (json_int_t)r->a.ovf_pkts_out,
			 "tx_bytes", (json_int_t)r->a.ovf_bytes_out,
			 "rx_packets", (json_int_t)r->a.ovf_pkts_in,
			 "rx_bytes", (json_int_t)r->a.ovf_bytes_in,
			 "flows_refused", (json_int_t)r->a.refused,
			 "flow_entries", (json_int_t)r->entries, "flow_quota", (json_int_t)r->quota,
			 "inbound_flow_entries", (json_int_t)r->entries_in,
			 "inbound_flow_quota", (json_int_t)r->quota_in,
			 "flow_starts_lost", (json_int_t)r->a.starts_lost);
}

/* Each user's denied packets (wgx_tun_denies) and her groups now. */
static json_t *denies_json(const struct wgx_user_denies *dn, const char *user)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < dn->nr; i++) {
		const struct wgx_user_denied *d = &dn->u[i];
		json_t *groups = json_array();
		unsigned int k;

		if (user && (!d->name || strncmp(user, d->name, 48)))
			continue;
		for (k = 0; k < d->nr_groups; k++)
			json_array_append_new(groups, json_stringn(d->groups[k],
								   strnlen(d->groups[k], 64)));
		json_array_append_new(arr, json_pack("{s:o,s:I,s:o,s:I,s:I}",
						     "user", d->name ? json_stringn(d->name,
								strnlen(d->name, 48)) : json_null(),
						     "user_id", (json_int_t)d->user_id,
						     "groups", groups,
						     "denied", (json_int_t)d->denied,
						     "deny_events_held", (json_int_t)d->events_held));
	}
	return arr;
}

int cmd_flows(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "user", required_argument, NULL, 'u' },
		{ "all", no_argument, NULL, 'a' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *pin_dir = wgx_pin_dir_default(), *user = NULL;
	bool json = false, all = false;
	struct wgx_user_denies dn;
	struct wgx_acct_rec *accts;
	struct wgx_flows f;
	size_t i, nr_accts;
	int c, err;

	while ((c = getopt_long(argc, argv, "ju:ad:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'u':
			user = optarg;
			break;
		case 'a':
			all = true;
			break;
		case 'd':
			pin_dir = optarg;
			break;
		case 'h':
			return wgx_usage("flows", stdout);
		default:
			return wgx_usage("flows", stderr);
		}
	}
	if (optind < argc)
		return wgx_usage("flows", stderr);
	err = wgx_flows_read(pin_dir, user, all, &f);
	if (err) {
		wgx_err("flows", "%s/%s: %s", pin_dir, WGX_PIN_SUB_TUNNEL, err == -ENOENT ?
			"the tunnel is not attached (wgxdp attach --wg IFACE)" : strerror(-err));
		return 1;
	}
	if (wgx_flows_accounts(pin_dir, &accts, &nr_accts)) {
		accts = NULL;
		nr_accts = 0;
	}
	wgx_user_denies_read(pin_dir, &dn);	/* none if it fails: zeroed */
	if (json) {
		json_t *root = json_object(), *arr = json_array(), *users = json_array();

		for (i = 0; i < f.nr; i++)
			json_array_append_new(arr, rec_json(&f.recs[i]));
		json_object_set_new(root, "flows", arr);
		for (i = 0; i < nr_accts; i++)
			if (!user || !strcmp(user, accts[i].user))
				json_array_append_new(users, acct_json(&accts[i]));
		json_object_set_new(root, "users", users);
		json_object_set_new(root, "denies", denies_json(&dn, user));
		json_object_set_new(root, "entries", json_integer(f.nr_entries));
		json_object_set_new(root, "capacity", json_integer(f.capacity));
		json_dumpf(root, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(root);
		wgx_flows_free(&f);
		free(accts);
		wgx_user_denies_free(&dn);
		return 0;
	}
	for (i = 0; i < f.nr; i++) {
		const struct wgx_flow_rec *r = &f.recs[i];
		char ua[64], ra[64], last[40], proto[16], who[64];

		wgx_fmt_endpoint(ua, sizeof(ua), r->key.family, r->key.uaddr, ntohs(r->key.uport));
		wgx_fmt_endpoint(ra, sizeof(ra), r->key.family, r->key.raddr, ntohs(r->key.rport));
		wgx_fmt_time_ns(last, sizeof(last), r->last_real_ns);
		snprintf(who, sizeof(who), "%s", r->user[0] ? r->user : "?");
		if (!i)
			printf("%-16s %-6s %-3s %-41s %-41s %9s %11s %9s %11s  %-8s %-27s %s\n",
			       "user", "proto", "dir", "user end", "remote end", "tx pkts", "tx bytes",
			       "rx pkts", "rx bytes", "state", "last seen", "allowed by");
		printf("%-16s %-6s %-3s %-41s %-41s %9llu %11llu %9llu %11llu  %-8s %-27s %s[%u]%s\n",
		       who, wgx_proto_name(r->key.proto, proto, sizeof(proto)), r->v.flags & WGX_FLOW_F_INBOUND ? "in" : "out", ua, ra,
		       (unsigned long long)r->v.pkts_out, (unsigned long long)r->v.bytes_out,
		       (unsigned long long)r->v.pkts_in, (unsigned long long)r->v.bytes_in,
		       state_of(r), last, r->group[0] ? r->group : "?",
		       (unsigned int)r->v.rule_idx, r->live ? "" : " (ended)");
	}
	printf("%zu flow%s%s; the table holds %zu of %u entries\n", f.nr, f.nr == 1 ? "" : "s",
	       user ? " of that user" : "", f.nr_entries, f.capacity);
	for (i = 0; i < nr_accts; i++) {
		const struct wgx_acct_rec *r = &accts[i];

		if ((user && strcmp(user, r->user)) || (!r->a.ovf_pkts_out && !r->a.ovf_pkts_in))
			continue;
		printf("%s: %llu packets out and %llu in counted in no flow (over her quota of %u "
		       "entries, or the table full); a new flow got no entry %llu times\n",
		       r->user[0] ? r->user : "?", (unsigned long long)r->a.ovf_pkts_out,
		       (unsigned long long)r->a.ovf_pkts_in, r->quota,
		       (unsigned long long)r->a.refused);
	}
	for (i = 0; i < dn.nr; i++) {
		const struct wgx_user_denied *d = &dn.u[i];
		unsigned int k;

		if (!d->denied || (user && (!d->name || strncmp(user, d->name, 48))))
			continue;
		printf("%.48s: %llu packets denied (%llu deny events held back), groups:",
		       d->name ? d->name : "?", (unsigned long long)d->denied,
		       (unsigned long long)d->events_held);
		for (k = 0; k < d->nr_groups; k++)
			printf(" %.64s", d->groups[k]);
		printf("%s\n", d->nr_groups ? "" : " none");
	}
	wgx_flows_free(&f);
	free(accts);
	wgx_user_denies_free(&dn);
	return 0;
}
