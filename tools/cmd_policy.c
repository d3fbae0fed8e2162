// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* wgxdp policy check FILE [--json]: validate a policy file, as the daemon would load it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "loader/policy.h"
#include "tools/wgxdp.h"

#define MAX_PROBLEMS 20

/* The usage text, without "Usage: ", also for the command table in tools/main.c. */
const char wgx_policy_usage[] =
	"wgxdp policy check FILE [--json]\n"
	"\n"
	"Validates a JSON policy file the way `wgxdp run --policy FILE` loads it: groups with\n"
	"their allowed destinations, users with public key, tunnel addresses, groups, expiry.\n"
	"Prints \"FILE: N groups, N users, ok\" and exits 0, or one line per problem\n"
	"(\"wgxdp policy: FILE: WHERE: WHY\", at most 20) on stderr and exits 1.\n"
	"\n"
	"  --json      print the result as one JSON object on stdout instead:\n"
	"              {\"file\", \"ok\", \"groups\", \"users\"} or {\"file\", \"ok\": false,\n"
	"              \"problems\": [{\"where\", \"why\"}], \"nr_problems\"}\n"
	"  -h, --help  this text\n"
	"\n"
	"Exit status: 0 valid, 1 invalid or unreadable, 2 usage error.\n";

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

int cmd_policy(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	bool json = false;
	int c;

	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return usage(stdout);
	if (strcmp(argv[1], "check")) {
		wgx_err("policy", "%s: unknown subcommand (try: wgxdp policy check FILE)", argv[1]);
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
		case 'h':
			return usage(stdout);
		default:
			return usage(stderr);
		}
	}
	if (argc - optind != 1) {
		wgx_err("policy", "check: %s", argc == optind ? "no policy file given" :
			"give one policy file");
		return 2;
	}
	return check(argv[optind], json);
}
