// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * wgxdp policy check FILE: validate a policy file, as the daemon would load it;
 * policy show / explain: what the tunnel's maps hold, and their verdict for one packet.
 */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include <netinet/in.h>

#include "loader/enforce.h"
#include "loader/policy.h"
#include "tools/wgxdp.h"

#define MAX_PROBLEMS 20

/* The usage text, without "Usage: ", also for the command table in tools/main.c. */
const char wgx_policy_usage[] =
	"wgxdp policy check FILE [--json]\n"
	"       wgxdp policy show [--json] [--pin-dir DIR]\n"
	"       wgxdp policy explain USER|ADDRESS DESTINATION [PROTO] [PORT] [--inbound]\n"
	"                            [--json] [--pin-dir DIR]\n"
	"\n"
	"check validates a JSON policy file the way `wgxdp run --policy FILE` loads it: groups\n"
	"with their allowed destinations (allow) and allowed remote sources (inbound), users with\n"
	"public key, tunnel addresses, groups, expiry. Prints \"FILE: N groups, N users, ok\"\n"
	"and exits 0, or one line per problem (\"wgxdp policy: FILE: WHERE: WHY\", at most 20)\n"
	"on stderr and exits 1.\n"
	"\n"
	"show prints what the tunnel enforces now, read from its maps (not from a file): whether\n"
	"a policy is loaded, its generation, every group set (policy id, groups, trie entries)\n"
	"and every user (id, name, key, tunnel addresses, policy id).\n"
	"\n"
	"explain gives the verdict of the tunnel's maps for one packet: from the user (a name or\n"
	"one of its tunnel addresses) to DESTINATION, or with --inbound from DESTINATION (the\n"
	"remote source) to the user. PROTO: tcp, udp, sctp, icmp, icmpv6 or a number (default\n"
	"tcp); PORT: the destination port (for --inbound the user's). Prints the group and rule\n"
	"that allow it, or why it is denied; exits 0 allowed, 1 denied.\n"
	"\n"
	"  --json          one JSON object on stdout instead; check: {\"file\", \"ok\",\n"
	"                  \"groups\", \"users\"} or {\"file\", \"ok\": false, \"problems\":\n"
	"                  [{\"where\", \"why\"}], \"nr_problems\"}\n"
	"  --pin-dir DIR   the bpffs directory (default $WGXDP_PIN_DIR or /sys/fs/bpf/wgxdp)\n"
	"  --inbound       explain a connection opened by the remote side\n"
	"  -h, --help      this text\n"
	"\n"
	"Exit status: 0 valid / allowed, 1 invalid, unreadable, denied or not attached,\n"
	"2 usage error.\n";

static int usage(FILE *f)
{
	fprintf(f, "Usage: %s", wgx_policy_usage);
	return f == stderr ? 2 : 0;
}

static int print_json(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);

	json_decref(obj);
	if (!s)
		return -ENOMEM;
	puts(s);
	free(s);
	return 0;
}

static int check(const char *path, bool json)
{
	struct wgx_policy_err errs[MAX_PROBLEMS];
	struct wgx_policy *p = NULL;
	unsigned int nr = 0, i;
	json_t *obj, *arr;
	int ret;

	ret = wgx_policy_load_file_errs(path, &p, errs, MAX_PROBLEMS, &nr);
	if (ret && ret != -EINVAL) {
		/* not a problem in the file: it could not be read */
		if (json)
			print_json(json_pack("{s:s, s:b, s:s}", "file", path, "ok", 0, "error",
					     strerror(-ret)));
		else
			wgx_err("policy", "%s: %s", path, strerror(-ret));
		return 1;
	}
	if (!ret) {
		if (json)
			print_json(json_pack("{s:s, s:b, s:I, s:I}", "file", path, "ok", 1,
					     "groups", (json_int_t)p->nr_groups, "users",
					     (json_int_t)p->nr_users));
		else
			printf("%s: %u groups, %u users, ok\n", path, p->nr_groups, p->nr_users);
		wgx_policy_free(p);
		return 0;
	}
	if (json) {
		arr = json_array();
		for (i = 0; i < nr && i < MAX_PROBLEMS; i++)
			json_array_append_new(arr, json_pack("{s:s, s:s}", "where", errs[i].where,
							     "why", errs[i].why));
		obj = json_pack("{s:s, s:b, s:o, s:I}", "file", path, "ok", 0, "problems", arr,
				"nr_problems", (json_int_t)nr);
		print_json(obj);
		return 1;
	}
	for (i = 0; i < nr && i < MAX_PROBLEMS; i++)
		wgx_err("policy", "%s: %s: %s", path, errs[i].where, errs[i].why);
	if (nr > MAX_PROBLEMS)
		wgx_err("policy", "%s: %u more problems not shown", path, nr - MAX_PROBLEMS);
	return 1;
}

/* Opens the tunnel's maps, or prints why not. */
static struct wgx_enforce *open_tunnel(const char *pin_dir)
{
	struct wgx_policy_err err = {};
	struct wgx_enforce *e;
	int ret;

	ret = wgx_enforce_open(pin_dir, &e, &err);
	if (ret == -ENOENT)
		wgx_err("policy", "the tunnel is not attached (no %s/%s/%s): run wgxdp attach "
			"--wg IFACE", pin_dir, WGX_PIN_SUB_TUNNEL, err.where);
	else if (ret == -EPROTO)
		wgx_err("policy", "%s: %s (a wgxdp of another version attached it?)", err.where,
			err.why);
	else if (ret)
		wgx_err("policy", "%s/%s: %s", pin_dir, WGX_PIN_SUB_TUNNEL, strerror(-ret));
	return ret ? NULL : e;
}

static const char *const trie_label[4] = { "allow4", "allow6", "inbound4", "inbound6" };

static void key_b64(const uint8_t *key, char *b64)
{
	wgx_key_to_base64(b64, key);
}

static int show(const char *pin_dir, bool json)
{
	struct wgx_enforce_state *s;
	struct wgx_enforce *e;
	char buf[64], b64[45], t[32];
	unsigned int i, k, g;
	json_t *root, *arr, *o, *a;
	int ret;

	e = open_tunnel(pin_dir);
	if (!e)
		return 1;
	ret = wgx_enforce_dump(e, &s);
	wgx_enforce_close(e);
	if (ret) {
		wgx_err("policy", "show: reading the tunnel's maps: %s", strerror(-ret));
		return 1;
	}
	if (json) {
		root = json_pack("{s:s, s:b, s:I, s:I}", "pin_dir", pin_dir, "policy_loaded",
				 s->cfg.policy_loaded, "generation", (json_int_t)s->cfg.generation,
				 "loaded_ns", (json_int_t)s->cfg.loaded_ns);
		arr = json_array();
		for (i = 0; i < s->nr_sets; i++) {
			struct wgx_enforce_set_info *si = &s->sets[i];

			a = json_array();
			for (g = 0; g < si->pset.nr && g < WGX_TUN_MAX_USER_GROUPS; g++)
				json_array_append_new(a, json_string(si->pset.group_id[g] <
					s->nr_groups ? s->groups[si->pset.group_id[g]] : "?"));
			o = json_pack("{s:I, s:o, s:I}", "policy_id", (json_int_t)si->policy_id,
				      "groups", a, "users", (json_int_t)si->nr_users);
			for (k = 0; k < 4; k++)
				json_object_set_new(o, trie_label[k], si->present[k] ?
						    json_integer(si->entries[k]) : json_null());
			json_array_append_new(arr, o);
		}
		json_object_set_new(root, "sets", arr);
		arr = json_array();
		for (i = 0; i < s->nr_users; i++) {
			struct wgx_enforce_user_info *ui = &s->users[i];

			a = json_array();
			for (k = 0; k < ui->nr_addresses; k++) {
				wgx_prefix_format(&ui->addresses[k], buf, sizeof(buf));
				json_array_append_new(a, json_string(buf));
			}
			key_b64(ui->name.public_key, b64);
			json_array_append_new(arr, json_pack("{s:I, s:s%, s:s, s:o, s:I}",
				"user_id", (json_int_t)ui->user_id, "name", ui->name.user,
				strnlen(ui->name.user, sizeof(ui->name.user)), "public_key", b64,
				"addresses", a, "policy_id", (json_int_t)ui->policy_id));
		}
		json_object_set_new(root, "users", arr);
		print_json(root);
		wgx_enforce_state_free(s);
		return 0;
	}
	if (!s->cfg.policy_loaded) {
		printf("no policy loaded: the tunnel drops every packet from users\n");
	} else {
		wgx_fmt_time(t, sizeof(t), s->cfg.loaded_ns / 1000000000);
		printf("policy loaded: generation %u, at %s; %u group sets, %u users\n",
		       s->cfg.generation, t, s->nr_sets, s->nr_users);
	}
	for (i = 0; i < s->nr_sets; i++) {
		struct wgx_enforce_set_info *si = &s->sets[i];

		printf("set %#010x: %u users, entries", si->policy_id, si->nr_users);
		for (k = 0; k < 4; k++)
			if (si->present[k])
				printf(" %s %u", trie_label[k], si->entries[k]);
		printf("; groups:");
		for (g = 0; g < si->pset.nr && g < WGX_TUN_MAX_USER_GROUPS; g++)
			printf(" %s", si->pset.group_id[g] < s->nr_groups ?
			       s->groups[si->pset.group_id[g]] : "?");
		printf("%s\n", si->pset.nr ? "" : " (none: everything denied)");
	}
	for (i = 0; i < s->nr_users; i++) {
		struct wgx_enforce_user_info *ui = &s->users[i];

		key_b64(ui->name.public_key, b64);
		printf("user %u %.48s %s set %#010x:", ui->user_id, ui->name.user, b64,
		       ui->policy_id);
		for (k = 0; k < ui->nr_addresses; k++) {
			wgx_prefix_format(&ui->addresses[k], buf, sizeof(buf));
			printf(" %s", buf);
		}
		printf("\n");
	}
	wgx_enforce_state_free(s);
	return 0;
}

static const uint8_t protos[] = {
	IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_ICMP, IPPROTO_ICMPV6,
};

static const char *const verdict_names[] = {
	[WGX_EX_ALLOWED] = "allowed", [WGX_EX_NO_POLICY] = "no_policy",
	[WGX_EX_UNKNOWN_USER] = "unknown_user", [WGX_EX_NO_FAMILY] = "no_family",
	[WGX_EX_NO_PREFIX] = "no_prefix", [WGX_EX_NO_RULE] = "no_rule",
};

static int explain(const char *pin_dir, char **args, int nr, bool inbound, bool json)
{
	unsigned long port = 0, pr;
	struct wgx_prefix dst;
	struct wgx_explain x;
	struct wgx_enforce *e;
	uint8_t proto = IPPROTO_TCP;
	const struct wgx_tun_rule *r;
	char pfx[64], pb[8], rb[8], ports[16];
	json_t *o;
	size_t i;
	int ret;

	if (nr < 2 || nr > 4) {
		wgx_err("policy", "explain: give USER|ADDRESS DESTINATION [PROTO] [PORT]");
		return 2;
	}
	ret = wgx_prefix_parse(args[1], &dst);
	if (ret || dst.plen != (dst.family == 4 ? 32 : 128)) {
		wgx_err("policy", "explain: %s: not an IPv4 or IPv6 address", args[1]);
		return 2;
	}
	if (nr >= 3) {
		for (i = 0; i < sizeof(protos); i++)
			if (!strcmp(args[2], wgx_proto_name(protos[i], pb, sizeof(pb))))
				break;
		if (i < sizeof(protos)) {
			proto = protos[i];
		} else if (!wgx_parse_ulong(args[2], 1, 255, &pr)) {
			proto = pr;
		} else {
			wgx_err("policy", "explain: %s: not a protocol (tcp, udp, sctp, icmp, "
				"icmpv6 or 1-255)", args[2]);
			return 2;
		}
	}
	if (nr == 4 && wgx_parse_ulong(args[3], 0, 65535, &port)) {
		wgx_err("policy", "explain: %s: not a port (0-65535)", args[3]);
		return 2;
	}
	e = open_tunnel(pin_dir);
	if (!e)
		return 1;
	ret = wgx_enforce_explain(e, args[0], &dst, proto, port, inbound, &x);
	wgx_enforce_close(e);
	if (ret) {
		wgx_err("policy", "explain: reading the tunnel's maps: %s", strerror(-ret));
		return 1;
	}
	r = x.rule >= 0 ? &x.rules.rule[x.rule] : NULL;
	if (r && (r->flags & WGX_RULE_F_ANY_PORT))
		snprintf(ports, sizeof(ports), "any");
	else if (r && r->port_lo == r->port_hi)
		snprintf(ports, sizeof(ports), "%u", r->port_lo);
	else if (r)
		snprintf(ports, sizeof(ports), "%u-%u", r->port_lo, r->port_hi);
	wgx_prefix_format(&x.entry, pfx, sizeof(pfx));
	if (json) {
		o = json_pack("{s:s, s:s, s:s, s:I, s:b, s:b, s:s, s:s}", "who", args[0],
			      "destination", args[1], "proto", wgx_proto_name(proto, pb,
									     sizeof(pb)),
			      "port", (json_int_t)port, "inbound", inbound, "allowed",
			      x.verdict == WGX_EX_ALLOWED, "verdict", verdict_names[x.verdict],
			      "why", x.why);
		if (x.user_id != WGX_USER_NONE)
			json_object_set_new(o, "user", json_pack("{s:s, s:I, s:I}", "name", x.user,
					    "user_id", (json_int_t)x.user_id, "policy_id",
					    (json_int_t)x.policy_id));
		if (x.matched)
			json_object_set_new(o, "entry", json_pack("{s:s, s:I}", "prefix", pfx,
					    "rules", (json_int_t)x.rules.nr));
		if (r)
			json_object_set_new(o, "rule", json_pack("{s:s, s:I, s:s, s:s}", "group",
					    x.group, "rule_idx", (json_int_t)r->rule_idx, "proto",
					    wgx_proto_name(r->proto, rb, sizeof(rb)), "ports",
					    ports));
		print_json(o);
	} else if (r) {
		printf("allowed: %s (user %u) -> %s %s/%lu: group %s %s[%u] (%s, proto %s, "
		       "ports %s)\n", x.user, x.user_id, args[1],
		       wgx_proto_name(proto, pb, sizeof(pb)), port, x.group,
		       inbound ? "inbound" : "allow", r->rule_idx, pfx,
		       wgx_proto_name(r->proto, rb, sizeof(rb)), ports);
	} else {
		printf("%s\n", x.why);
	}
	return x.verdict == WGX_EX_ALLOWED ? 0 : 1;
}

int cmd_policy(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "inbound", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *pin_dir = wgx_pin_dir_default(), *sub;
	bool json = false, inbound = false;
	int c;

	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return usage(stdout);
	sub = argv[1];
	if (strcmp(sub, "check") && strcmp(sub, "show") && strcmp(sub, "explain")) {
		wgx_err("policy", "%s: unknown subcommand (check, show or explain)", sub);
		return 2;
	}
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'd':
			pin_dir = optarg;
			break;
		case 'i':
			inbound = true;
			break;
		case 'h':
			return usage(stdout);
		default:
			return usage(stderr);
		}
	}
	if (strcmp(sub, "explain") && inbound) {
		wgx_err("policy", "%s: --inbound is for explain", sub);
		return 2;
	}
	if (!strcmp(sub, "show")) {
		if (argc != optind) {
			wgx_err("policy", "show: %s: unexpected argument", argv[optind]);
			return 2;
		}
		return show(pin_dir, json);
	}
	if (!strcmp(sub, "explain"))
		return explain(pin_dir, argv + optind, argc - optind, inbound, json);
	if (argc - optind != 1) {
		wgx_err("policy", "check: %s", argc == optind ? "no policy file given" :
			"give one policy file");
		return 2;
	}
	return check(argv[optind], json);
}
