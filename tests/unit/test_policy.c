// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * loader/policy.c: the policy file of issue 4 parsed into what the daemon uses, every
 * problem reported with where and why, lookup by public key over 100,000 users, one user
 * object from the peer API, and why a user is denied.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loader/policy.h"

#include "check.h"

/* Keys as wg genkey | wg pubkey printed them. */
#define KA "XJoD3fiVsVXMCrimIUOpLSXolZG6RUZj10xat7txgUk="
#define KB "hr3jqmdJ1uPJUICAHoCiWbi+ZsopPOBO++t65AF9qyk="
#define KC "wDShgCcYSJ6L7vXX8J7PhWdXeTTtaCFHBS7NEEAtVBY="
#define PSK "mVb1/IjoLIaBGi+a0au6Nif7zASsGUwbuTG/kzi6zAw="

/* The example of issue 4, with bob disabled and carol in two groups. */
static const char good_policy[] =
	"{\n"
	"  \"groups\": {\n"
	"    \"dev\":   {\"allow\": [\"10.10.0.0/16\", \"fd00:10::/48\",\n"
	"                        {\"cidr\": \"10.20.1.5/32\", \"proto\": \"tcp\",\n"
	"                         \"ports\": \"22\"},\n"
	"                        {\"cidr\": \"10.20.1.6/32\", \"proto\": \"udp\",\n"
	"                         \"ports\": \"8000-8999\"}]},\n"
	"    \"admin\": {\"allow\": [\"0.0.0.0/0\", \"::/0\"]}\n"
	"  },\n"
	"  \"users\": [\n"
	"    {\"name\": \"alice\", \"public_key\": \"" KA "\",\n"
	"     \"addresses\": [\"100.64.0.2/32\", \"fd7a:115c::2/128\"],\n"
	"     \"groups\": [\"dev\"], \"expires\": \"2027-01-01T00:00:00Z\"},\n"
	"    {\"name\": \"bob\", \"public_key\": \"" KB "\", \"addresses\": [\"100.64.0.3/32\"],\n"
	"     \"disabled\": true, \"preshared_key\": \"" PSK "\"},\n"
	"    {\"name\": \"carol\", \"public_key\": \"" KC "\",\n"
	"     \"addresses\": [\"100.64.1.0/24\"],\n"
	"     \"groups\": [\"admin\", \"dev\"]}\n"
	"  ]\n"
	"}\n";

static void fmt_prefix(const struct wgx_prefix *p, char *buf, size_t len)
{
	wgx_prefix_format(p, buf, len);
}

static bool check_prefix(const struct wgx_prefix *p, const char *want, const char *what)
{
	char got[64];

	fmt_prefix(p, got, sizeof(got));
	return CHECK(!strcmp(got, want), "%s: expected %s, got %s", what, want, got);
}

static void test_good(void)
{
	struct wgx_policy_err err = {};
	struct wgx_policy *p = NULL;
	const struct wgx_user *u;
	const struct wgx_group *g;
	uint8_t key[32];
	int ret;

	ret = wgx_policy_load_string(good_policy, &p, &err);
	if (!CHECK(ret == 0 && p, "good policy: expected 0, got %d: %s: %s", ret, err.where,
		   err.why))
		return;
	CHECK(p->nr_groups == 2 && p->nr_users == 3, "expected 2 groups, 3 users, got %u, %u",
	      p->nr_groups, p->nr_users);

	g = &p->groups[0];
	CHECK(!strcmp(g->name, "dev") && g->nr_allow == 4, "groups[0]: expected dev with 4 "
	      "entries, got %s with %u", g->name, g->nr_allow);
	if (g->nr_allow == 4) {
		check_prefix(&g->allow[0], "10.10.0.0/16", "dev allow[0]");
		CHECK(g->allow[0].family == 4 && g->allow[0].proto == 0 && !g->allow[0].port_lo &&
		      !g->allow[0].port_hi, "dev allow[0]: expected IPv4, any proto, any port");
		check_prefix(&g->allow[1], "fd00:10::/48", "dev allow[1]");
		CHECK(g->allow[1].family == 6, "dev allow[1]: expected family 6, got %u",
		      g->allow[1].family);
		check_prefix(&g->allow[2], "10.20.1.5/32", "dev allow[2]");
		CHECK(g->allow[2].proto == IPPROTO_TCP && g->allow[2].port_lo == 22 &&
		      g->allow[2].port_hi == 22, "dev allow[2]: expected tcp 22-22, got %u %u-%u",
		      g->allow[2].proto, g->allow[2].port_lo, g->allow[2].port_hi);
		CHECK(g->allow[3].proto == IPPROTO_UDP && g->allow[3].port_lo == 8000 &&
		      g->allow[3].port_hi == 8999, "dev allow[3]: expected udp 8000-8999, got "
		      "%u %u-%u", g->allow[3].proto, g->allow[3].port_lo, g->allow[3].port_hi);
	}
	CHECK(!strcmp(p->groups[1].name, "admin") && p->groups[1].nr_allow == 2,
	      "groups[1]: expected admin with 2 entries, got %s with %u", p->groups[1].name,
	      p->groups[1].nr_allow);

	wgx_key_from_base64(key, KA);
	u = wgx_policy_find(p, key);
	if (CHECK(u && !strcmp(u->name, "alice"), "find(KA): expected alice, got %s",
		  u ? u->name : "NULL")) {
		CHECK(u->nr_addresses == 2, "alice: expected 2 addresses, got %u", u->nr_addresses);
		if (u->nr_addresses == 2) {
			check_prefix(&u->addresses[0], "100.64.0.2/32", "alice addresses[0]");
			check_prefix(&u->addresses[1], "fd7a:115c::2/128", "alice addresses[1]");
		}
		/* 2027-01-01T00:00:00Z: date -u -d 2027-01-01T00:00:00Z +%s */
		CHECK(u->expires == 1798761600, "alice expires: expected 1798761600, got %lld",
		      (long long)u->expires);
		CHECK(u->nr_groups == 1 && u->groups[0] == 0, "alice groups: expected [0 (dev)]");
		CHECK(!u->disabled && !u->has_psk, "alice: not disabled, no psk");
		CHECK(!wgx_user_denied(u, 1798761599), "alice a second before expiry: allowed, "
		      "got %s", wgx_user_denied(u, 1798761599));
		CHECK(wgx_user_denied(u, 1798761600) &&
		      !strcmp(wgx_user_denied(u, 1798761600), "expired"),
		      "alice at expiry: expected \"expired\", got %s",
		      wgx_user_denied(u, 1798761600));
	}
	wgx_key_from_base64(key, KB);
	u = wgx_policy_find(p, key);
	if (CHECK(u && !strcmp(u->name, "bob"), "find(KB): expected bob")) {
		uint8_t psk[32];

		wgx_key_from_base64(psk, PSK);
		CHECK(u->has_psk && !memcmp(u->psk, psk, 32), "bob: expected the preshared key");
		CHECK(u->disabled && u->expires == 0, "bob: expected disabled, never expires");
		CHECK(wgx_user_denied(u, time(NULL)) &&
		      !strcmp(wgx_user_denied(u, time(NULL)), "disabled"),
		      "bob: expected \"disabled\", got %s", wgx_user_denied(u, time(NULL)));
	}
	wgx_key_from_base64(key, KC);
	u = wgx_policy_find(p, key);
	if (CHECK(u && !strcmp(u->name, "carol"), "find(KC): expected carol")) {
		CHECK(u->nr_groups == 2 && u->groups[0] == 1 && u->groups[1] == 0,
		      "carol groups: expected [1 (admin), 0 (dev)]");
		CHECK(!wgx_user_denied(u, time(NULL)), "carol: expected allowed, got %s",
		      wgx_user_denied(u, time(NULL)));
	}
	key[0] ^= 1;
	CHECK(!wgx_policy_find(p, key), "find(unknown key): expected NULL");
	wgx_policy_free(p);
}

/* Every problem: where and a word of the why. */
static const struct bad_case {
	const char *what, *json, *where, *why;
} bad_cases[] = {
	{ "bad JSON", "{\"users\": [\n  {\"name\": \"x\",}\n]}", "line 2, column 16", "expected" },
	{ "duplicate JSON key", "{\"users\": [], \"users\": []}", "line 1, column 21",
	  "duplicate" },
	{ "top level not an object", "[]", "top level", "object" },
	{ "unknown top-level field", "{\"user\": []}", "top level", "unknown field \"user\"" },
	{ "users not an array", "{\"users\": {}}", "users", "array" },
	{ "short key", "{\"users\": [{\"name\": \"a\", \"public_key\": \"abcd=\", "
	  "\"addresses\": [\"10.0.0.1/32\"]}]}", "users[0].public_key", "not a key" },
	{ "key of 33 bytes", "{\"users\": [{\"name\": \"a\", \"public_key\": "
	  "\"XJoD3fiVsVXMCrimIUOpLSXolZG6RUZj10xat7txgUkA\", "
	  "\"addresses\": [\"10.0.0.1/32\"]}]}", "users[0].public_key", "not a key" },
	{ "missing key", "{\"users\": [{\"name\": \"a\", \"addresses\": [\"10.0.0.1/32\"]}]}",
	  "users[0].public_key", "missing" },
	{ "bad preshared key", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA "\", "
	  "\"preshared_key\": \"x\", \"addresses\": [\"10.0.0.1/32\"]}]}",
	  "users[0].preshared_key", "not a key" },
	{ "host bits set", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA "\", "
	  "\"addresses\": [\"10.0.0.0/24\"]}, {\"name\": \"b\", \"public_key\": \"" KB "\", "
	  "\"addresses\": [\"10.0.1.1/24\"]}]}", "users[1].addresses[0]",
	  "10.0.1.1/24: host bits set (the network is 10.0.1.0/24)" },
	{ "IPv6 host bits set", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA "\", "
	  "\"addresses\": [\"fd00::1/64\"]}]}", "users[0].addresses[0]", "host bits set" },
	{ "not a prefix", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA "\", "
	  "\"addresses\": [\"10.0.0.256/32\"]}]}", "users[0].addresses[0]", "not an IPv4" },
	{ "prefix length 33", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA "\", "
	  "\"addresses\": [\"10.0.0.1/33\"]}]}", "users[0].addresses[0]", "not an IPv4" },
	{ "no addresses", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA "\", "
	  "\"addresses\": []}]}", "users[0].addresses", "non-empty" },
	{ "address given to two users", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA
	  "\", \"addresses\": [\"10.0.0.1/32\"]}, {\"name\": \"b\", \"public_key\": \"" KB "\", "
	  "\"addresses\": [\"10.0.0.2/32\", \"10.0.0.1/32\"]}]}", "users[1].addresses[1]",
	  "10.0.0.1/32: also given to users[0] (a)" },
	{ "overlapping tunnel prefixes", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA
	  "\", \"addresses\": [\"10.0.0.128/25\"]}, {\"name\": \"b\", \"public_key\": \"" KB "\", "
	  "\"addresses\": [\"10.0.0.0/24\"]}]}", "users[1].addresses[0]",
	  "10.0.0.0/24: overlaps 10.0.0.128/25 of users[0] (a)" },
	{ "overlap within one user", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA
	  "\", \"addresses\": [\"fd00::/64\", \"fd00::5/128\"]}]}", "users[0].addresses[1]",
	  "same user" },
	{ "public key given to two users", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA
	  "\", \"addresses\": [\"10.0.0.1/32\"]}, {\"name\": \"b\", \"public_key\": \"" KA "\", "
	  "\"addresses\": [\"10.0.0.2/32\"]}]}", "users[1].public_key",
	  KA ": also the key of users[0] (a)" },
	{ "name given to two users", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA
	  "\", \"addresses\": [\"10.0.0.1/32\"]}, {\"name\": \"a\", \"public_key\": \"" KB "\", "
	  "\"addresses\": [\"10.0.0.2/32\"]}]}", "users[1].name", "also the name of users[0]" },
	{ "unknown group", "{\"groups\": {\"dev\": {\"allow\": []}}, \"users\": [{\"name\": \"a\", "
	  "\"public_key\": \"" KA "\", \"addresses\": [\"10.0.0.1/32\"], "
	  "\"groups\": [\"dev\", \"ops\"]}]}", "users[0].groups[1]", "unknown group \"ops\"" },
	{ "bad date (Feb 30)", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA "\", "
	  "\"addresses\": [\"10.0.0.1/32\"], \"expires\": \"2027-02-30T00:00:00Z\"}]}",
	  "users[0].expires", "not an RFC 3339 time" },
	{ "bad date (no zone)", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA "\", "
	  "\"addresses\": [\"10.0.0.1/32\"], \"expires\": \"2027-01-01T00:00:00\"}]}",
	  "users[0].expires", "not an RFC 3339 time" },
	{ "bad date (number)", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA "\", "
	  "\"addresses\": [\"10.0.0.1/32\"], \"expires\": 1798761600}]}",
	  "users[0].expires", "got an integer" },
	{ "disabled not a boolean", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA "\", "
	  "\"addresses\": [\"10.0.0.1/32\"], \"disabled\": \"yes\"}]}",
	  "users[0].disabled", "true or false" },
	{ "unknown user field", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA "\", "
	  "\"addresses\": [\"10.0.0.1/32\"], \"expire\": \"2027-01-01T00:00:00Z\"}]}",
	  "users[0]", "unknown field \"expire\"" },
	{ "missing name", "{\"users\": [{\"public_key\": \"" KA "\", "
	  "\"addresses\": [\"10.0.0.1/32\"]}]}", "users[0].name", "missing" },
	{ "unknown proto", "{\"groups\": {\"dev\": {\"allow\": [{\"cidr\": \"10.0.0.0/8\", "
	  "\"proto\": \"tcpp\"}]}}}", "groups.dev.allow[0].proto", "unknown proto \"tcpp\"" },
	{ "port 0", "{\"groups\": {\"dev\": {\"allow\": [{\"cidr\": \"10.0.0.0/8\", "
	  "\"proto\": \"tcp\", \"ports\": \"0\"}]}}}", "groups.dev.allow[0].ports", "not a port" },
	{ "port 65536", "{\"groups\": {\"dev\": {\"allow\": [{\"cidr\": \"10.0.0.0/8\", "
	  "\"proto\": \"tcp\", \"ports\": \"65536\"}]}}}", "groups.dev.allow[0].ports",
	  "not a port" },
	{ "reversed port range", "{\"groups\": {\"dev\": {\"allow\": [{\"cidr\": \"10.0.0.0/8\", "
	  "\"proto\": \"udp\", \"ports\": \"9000-8000\"}]}}}", "groups.dev.allow[0].ports",
	  "ends before it starts" },
	{ "port junk", "{\"groups\": {\"dev\": {\"allow\": [{\"cidr\": \"10.0.0.0/8\", "
	  "\"proto\": \"udp\", \"ports\": \"22,80\"}]}}}", "groups.dev.allow[0].ports",
	  "not a port" },
	{ "ports without tcp/udp", "{\"groups\": {\"dev\": {\"allow\": [{\"cidr\": \"10.0.0.0/8\", "
	  "\"ports\": \"22\"}]}}}", "groups.dev.allow[0].ports", "need \"proto\"" },
	{ "allow host bits", "{\"groups\": {\"dev\": {\"allow\": [\"10.1.2.3/16\"]}}}",
	  "groups.dev.allow[0]", "host bits set" },
	{ "allow cidr host bits",
	  "{\"groups\": {\"dev\": {\"allow\": [{\"cidr\": \"10.1.2.3/16\"}]}}}",
	  "groups.dev.allow[0].cidr", "host bits set" },
	{ "unknown allow field", "{\"groups\": {\"dev\": {\"allow\": [{\"cidr\": \"10.0.0.0/8\", "
	  "\"port\": \"22\"}]}}}", "groups.dev.allow[0]", "unknown field \"port\"" },
	{ "unknown group field", "{\"groups\": {\"dev\": {\"allow\": [], \"deny\": []}}}",
	  "groups.dev", "unknown field \"deny\"" },
	{ "group without allow", "{\"groups\": {\"dev\": {}}}", "groups.dev", "missing \"allow\"" },
	{ "inbound not an array", "{\"groups\": {\"dev\": {\"allow\": [], \"inbound\": {}}}}",
	  "groups.dev", "\"inbound\" must be an array" },
	{ "inbound host bits", "{\"groups\": {\"dev\": {\"allow\": [], "
	  "\"inbound\": [\"10.0.0.1/8\"]}}}", "groups.dev.inbound[0]", "host bits set" },
	{ "inbound ports without proto", "{\"groups\": {\"dev\": {\"allow\": [], "
	  "\"inbound\": [{\"cidr\": \"::/0\", \"ports\": \"22\"}]}}}",
	  "groups.dev.inbound[0].ports", "need \"proto\"" },
	{ "32 groups for one user", "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA "\", "
	  "\"addresses\": [\"10.0.0.1/32\"], \"groups\": [\"g\", \"g\", \"g\", \"g\", \"g\", "
	  "\"g\", \"g\", \"g\", \"g\", \"g\", \"g\", \"g\", \"g\", \"g\", \"g\", \"g\", \"g\", "
	  "\"g\", \"g\", \"g\", \"g\", \"g\", \"g\", \"g\", \"g\", \"g\", \"g\", \"g\", \"g\", "
	  "\"g\", \"g\", \"g\"]}]}", "users[0].groups", "32 groups, more than 31" },
};

/* "inbound": the same rules as "allow", kept apart, in file order. */
static void test_inbound(void)
{
	static const char json[] =
		"{\"groups\": {\"srv\": {\"allow\": [\"10.0.0.0/8\"], \"inbound\": "
		"[\"192.0.2.0/24\", {\"cidr\": \"2001:db8::/32\", \"proto\": \"tcp\", "
		"\"ports\": \"443\"}]}, \"plain\": {\"allow\": []}}}";
	struct wgx_policy_err err = {};
	struct wgx_policy *p = NULL;
	const struct wgx_group *g;
	int ret;

	ret = wgx_policy_load_string(json, &p, &err);
	if (!CHECK(ret == 0, "inbound policy: expected 0, got %d: %s: %s", ret, err.where, err.why))
		return;
	g = &p->groups[0];
	CHECK(g->nr_allow == 1 && g->nr_inbound == 2,
	      "srv: expected 1 allow, 2 inbound, got %u, %u", g->nr_allow, g->nr_inbound);
	check_prefix(&g->inbound[0], "192.0.2.0/24", "inbound[0]");
	check_prefix(&g->inbound[1], "2001:db8::/32", "inbound[1]");
	CHECK(g->inbound[1].proto == IPPROTO_TCP && g->inbound[1].port_lo == 443 &&
	      g->inbound[1].port_hi == 443, "inbound[1]: expected tcp/443");
	CHECK(p->groups[1].nr_inbound == 0 && !p->groups[1].inbound,
	      "plain: expected no inbound rules");
	wgx_policy_free(p);
}

static void test_bad(void)
{
	struct wgx_policy *p;
	struct wgx_policy_err err;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];

		memset(&err, 0, sizeof(err));
		p = (void *)1;
		ret = wgx_policy_load_string(c->json, &p, &err);
		CHECK(ret == -EINVAL && !p, "%s: expected -EINVAL and no policy, got %d", c->what,
		      ret);
		CHECK(!strcmp(err.where, c->where) && strstr(err.why, c->why),
		      "%s: expected \"%s: ...%s...\", got \"%s: %s\"", c->what, c->where, c->why,
		      err.where, err.why);
		if (ret == 0)
			wgx_policy_free(p);
	}
}

/* All problems at once, and a count beyond what fits. */
static void test_many_errors(void)
{
	static const char json[] =
		"{\"groups\": {\"dev\": {\"allow\": [\"10.1.2.3/16\"]}},"
		" \"users\": [{\"name\": \"a\", \"public_key\": \"bad\", \"addresses\": [\"x\"]},"
		"             {\"name\": \"b\", \"public_key\": \"" KB "\", \"addresses\": "
		"[\"10.0.0.1/32\"], \"groups\": [\"nope\"]}]}";
	struct wgx_policy_err errs[2];
	struct wgx_policy *p;
	unsigned int nr = 0;
	int ret;

	ret = wgx_policy_load_string_errs(json, &p, errs, 2, &nr);
	CHECK(ret == -EINVAL && nr == 4, "expected -EINVAL with 4 problems, got %d with %u", ret,
	      nr);
	CHECK(!strcmp(errs[0].where, "groups.dev.allow[0]") &&
	      !strcmp(errs[1].where, "users[0].public_key"),
	      "expected the first two in file order, got %s, %s", errs[0].where, errs[1].where);
}

/* Writes text to a new file named from path ("...XXXXXX"), to unlink. false on failure. */
static bool write_temp(char *path, const char *text)
{
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!CHECK(f, "mkstemp %s", path))
		return false;
	fputs(text, f);
	return CHECK(!fclose(f), "write %s", path);
}

static void test_file(void)
{
	struct wgx_policy_err err = {};
	struct wgx_policy *p = NULL;
	char path[] = "/tmp/test_policy.XXXXXX";
	int ret;

	ret = wgx_policy_load_file("/nonexistent/policy.json", &p, &err);
	CHECK(ret == -ENOENT, "missing file: expected -ENOENT, got %d", ret);
	if (!write_temp(path, good_policy))
		return;
	ret = wgx_policy_load_file(path, &p, &err);
	CHECK(ret == 0 && p && p->nr_users == 3, "file: expected 3 users, got %d: %s: %s", ret,
	      err.where, err.why);
	wgx_policy_free(p);
	unlink(path);
}

static void test_prefix(void)
{
	static const struct {
		const char *in, *out;
		int ret;
	} cases[] = {
		{ "10.0.0.0/8", "10.0.0.0/8", 0 },
		{ "10.1.2.3", "10.1.2.3/32", 0 },
		{ "0.0.0.0/0", "0.0.0.0/0", 0 },
		{ "::/0", "::/0", 0 },
		{ "fd7a:115c::2/128", "fd7a:115c::2/128", 0 },
		{ "fd00:10::/48", "fd00:10::/48", 0 },
		{ "fd00:10:1::/47", "fd00:10::/47", -EDOM },
		{ "10.0.0.1/31", "10.0.0.0/31", -EDOM },
		{ "10.0.0.0/", NULL, -EINVAL },
		{ "10.0.0.0/08", NULL, -EINVAL },
		{ "10.0.0.0/-1", NULL, -EINVAL },
		{ "fd00::/129", NULL, -EINVAL },
		{ "10.0.0/8", NULL, -EINVAL },
		{ "", NULL, -EINVAL },
	};
	struct wgx_prefix p;
	char buf[64];
	size_t i;
	int ret;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ret = wgx_prefix_parse(cases[i].in, &p);
		CHECK(ret == cases[i].ret, "parse \"%s\": expected %d, got %d", cases[i].in,
		      cases[i].ret, ret);
		if (cases[i].out && ret == cases[i].ret) {
			wgx_prefix_format(&p, buf, sizeof(buf));
			CHECK(!strcmp(buf, cases[i].out), "parse \"%s\": expected %s, got %s",
			      cases[i].in, cases[i].out, buf);
		}
	}
}

static void test_user_from_json(void)
{
	static const char user[] =
		"{\"name\": \"dave\", \"public_key\": \"" KA "\", \"addresses\": "
		"[\"100.64.9.9/32\"], \"groups\": [\"admin\"], "
		"\"expires\": \"2030-06-01T12:00:00+02:00\"}";
	struct wgx_policy_err err = {};
	struct wgx_policy *p = NULL;
	struct wgx_user *u = NULL;
	uint8_t key[32];
	int ret;

	ret = wgx_user_from_json(user, NULL, &u, &err);
	if (CHECK(ret == 0 && u, "user without policy: expected 0, got %d: %s: %s", ret,
		  err.where, err.why)) {
		wgx_key_from_base64(key, KA);
		CHECK(!strcmp(u->name, "dave") && !memcmp(u->public_key, key, 32),
		      "user: expected dave with KA");
		CHECK(u->nr_groups == 1 && !strcmp(u->group_names[0], "admin") && !u->groups,
		      "user without policy: expected group name admin, unresolved");
		/* date -u -d 2030-06-01T10:00:00Z +%s */
		CHECK(u->expires == 1906538400, "expires with +02:00: expected 1906538400, got "
		      "%lld", (long long)u->expires);
		check_prefix(&u->addresses[0], "100.64.9.9/32", "user addresses[0]");
		wgx_user_free(u);
	}
	if (wgx_policy_load_string(good_policy, &p, &err))
		return;
	ret = wgx_user_from_json(user, p, &u, &err);
	if (CHECK(ret == 0 && u, "user with policy: expected 0, got %d", ret)) {
		CHECK(u->nr_groups == 1 && u->groups && u->groups[0] == 1,
		      "user with policy: expected groups [1 (admin)]");
		wgx_user_free(u);
	}
	ret = wgx_user_from_json("{\"name\": \"e\", \"public_key\": \"" KA "\", \"addresses\": "
				 "[\"10.0.0.1/32\"], \"groups\": [\"ops\"]}", p, &u, &err);
	CHECK(ret == -ENOENT && !u && !strcmp(err.where, "groups[0]") &&
	      strstr(err.why, "unknown group \"ops\""), "user with unknown group: expected "
	      "-ENOENT groups[0]: unknown group, got %d %s: %s", ret, err.where, err.why);
	/* a bad field before the unknown group: that is what is wrong (-EINVAL) */
	ret = wgx_user_from_json("{\"name\": \"e f\", \"public_key\": \"" KA "\", \"addresses\": "
				 "[\"10.0.0.1/32\"], \"groups\": [\"ops\"]}", p, &u, &err);
	CHECK(ret == -EINVAL && !u, "user with a bad name and an unknown group: expected "
	      "-EINVAL, got %d %s: %s", ret, err.where, err.why);
	ret = wgx_user_from_json("{\"name\": \"e\", \"public_key\": \"" KA "\", \"addresses\": "
				 "[\"10.0.0.0/24\", \"10.0.0.7/32\"]}", p, &u, &err);
	CHECK(ret == -EINVAL && !strcmp(err.where, "addresses[1]") && strstr(err.why, "overlaps"),
	      "user with overlapping addresses: expected addresses[1]: overlaps, got %d %s: %s",
	      ret, err.where, err.why);
	ret = wgx_user_from_json("{\"name\": \"e\"", p, &u, &err);
	CHECK(ret == -EINVAL && !strncmp(err.where, "line 1", 6), "user: bad JSON: expected "
	      "line 1..., got %d %s: %s", ret, err.where, err.why);
	ret = wgx_user_from_json("[]", p, &u, &err);
	CHECK(ret == -EINVAL && strstr(err.why, "user object"), "user: array: expected "
	      "-EINVAL, got %d %s: %s", ret, err.where, err.why);
	wgx_policy_free(p);
}

/* GET URL/groups: the policy file's groups object alone; users are refused there. */
static void test_groups_from_json(void)
{
	struct wgx_policy_err err = {};
	struct wgx_policy *p = NULL, *none = NULL;
	struct wgx_user *u = NULL;
	int ret;

	ret = wgx_policy_groups_from_json("{\"groups\": {\"web\": {\"allow\": [{\"cidr\": "
					  "\"10.1.0.0/16\", \"proto\": \"tcp\", \"ports\": \"443\"}]}, \"admin\": {\"allow\": [\"0.0.0.0/0\", "
					  "\"::/0\"]}}}", NULL, &p, &err);
	if (CHECK(ret == 0 && p, "groups: expected 0, got %d %s: %s", ret, err.where, err.why)) {
		CHECK(p->nr_groups == 2 && p->nr_users == 0 && !strcmp(p->groups[0].name, "web") &&
		      p->groups[0].nr_allow == 1 && p->groups[1].nr_allow == 2,
		      "groups: expected web (1 rule) and admin (2), no users");
		ret = wgx_user_from_json("{\"name\": \"e\", \"public_key\": \"" KA "\", "
					 "\"addresses\": [\"10.0.0.1/32\"], \"groups\": [\"admin\"]}",
					 p, &u, &err);
		CHECK(ret == 0 && u && u->nr_groups == 1 && u->groups[0] == 1,
		      "a user's groups resolve against the API's groups: got %d %s: %s", ret,
		      err.where, err.why);
		wgx_user_free(u);
		wgx_policy_free(p);
	}
	ret = wgx_policy_groups_from_json("{\"groups\": {}, \"users\": [{\"name\": \"x\", "
					  "\"public_key\": \"" KA "\", \"addresses\": "
					  "[\"10.0.0.1/32\"]}]}", NULL, &p, &err);
	CHECK(ret == -EINVAL && !p && !strcmp(err.where, "users"),
	      "groups with users: expected -EINVAL at users, got %d %s: %s", ret, err.where,
	      err.why);
	ret = wgx_policy_groups_from_json("{}", NULL, &p, &err);
	CHECK(ret == -EINVAL && !p, "no groups member: expected -EINVAL, got %d", ret);
	ret = wgx_policy_groups_from_json("[]", NULL, &p, &err);
	CHECK(ret == -EINVAL && !p, "an array: expected -EINVAL, got %d", ret);
	ret = wgx_policy_groups_from_json("{\"groups\": {\"bad name\": {\"allow\": []}}}", NULL,
					  &p, &err);
	CHECK(ret == -EINVAL && !p, "a bad group name: expected -EINVAL, got %d %s: %s", ret,
	      err.where, err.why);
	ret = wgx_policy_groups_from_json("{\"groups\": {\"w\": {\"allow\": [\"10.0.0.0/33\"]}}}",
					  NULL, &p, &err);
	CHECK(ret == -EINVAL && !p, "a bad prefix: expected -EINVAL, got %d %s: %s", ret,
	      err.where, err.why);
	/* an empty set of groups: every group a user names is unknown (-ENOENT), none is fine */
	ret = wgx_policy_groups_from_json("{\"groups\": {}}", NULL, &none, &err);
	if (CHECK(ret == 0 && none && !none->nr_groups, "empty groups: expected 0, got %d", ret)) {
		ret = wgx_user_from_json("{\"name\": \"e\", \"public_key\": \"" KA "\", "
					 "\"addresses\": [\"10.0.0.1/32\"], \"groups\": [\"web\"]}",
					 none, &u, &err);
		CHECK(ret == -ENOENT && !u, "a group against no groups: expected -ENOENT, got %d",
		      ret);
		ret = wgx_user_from_json("{\"name\": \"e\", \"public_key\": \"" KA "\", "
					 "\"addresses\": [\"10.0.0.1/32\"]}", none, &u, &err);
		CHECK(ret == 0 && u && !u->nr_groups, "no groups against no groups: expected 0, "
		      "got %d", ret);
		wgx_user_free(u);
		wgx_policy_free(none);
	}
}

/* Hole 4: tunnel addresses no wider than /24 and /64 by default, or the limits given. */
static void test_addr_limits(void)
{
	static const struct wgx_addr_limits wide = { .min_plen4 = 8, .min_plen6 = 48 };
	static const struct wgx_addr_limits any = { 0, 0 };
	static const struct {
		const char *addr;
		const struct wgx_addr_limits *lim;
		const char *why;	/* NULL: accepted */
	} cases[] = {
		{ "10.0.0.0/8", NULL,
		  "address 10.0.0.0/8 is wider than /24 (raise with --max-tunnel-prefix)" },
		{ "0.0.0.0/0", NULL, "address 0.0.0.0/0 is wider than /24" },
		{ "::/0", NULL, "address ::/0 is wider than /64" },
		{ "fd00::/48", NULL, "address fd00::/48 is wider than /64" },
		{ "10.0.2.0/23", NULL, "wider than /24" },
		{ "10.0.1.0/24", NULL, NULL },
		{ "fd00::/64", NULL, NULL },
		{ "10.0.0.0/8", &wide, NULL },
		{ "fd00::/48", &wide, NULL },
		{ "0.0.0.0/0", &wide, "address 0.0.0.0/0 is wider than /8" },
		{ "0.0.0.0/0", &any, NULL },
		{ "::/0", &any, NULL },
	};
	struct wgx_policy_err err;
	struct wgx_policy *p;
	struct wgx_user *u;
	char json[512], path[] = "/tmp/test_policy.XXXXXX";
	size_t i;
	int ret;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(json, sizeof(json), "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA
			 "\", \"addresses\": [\"%s\"]}]}", cases[i].addr);
		memset(&err, 0, sizeof(err));
		ret = wgx_policy_load_string_opts(json, cases[i].lim, &p, &err, 1, NULL);
		if (!cases[i].why)
			CHECK(ret == 0, "%s: expected 0, got %d: %s: %s", cases[i].addr, ret,
			      err.where, err.why);
		else
			CHECK(ret == -EINVAL && !strcmp(err.where, "users[0].addresses[0]") &&
			      strstr(err.why, cases[i].why), "%s: expected users[0].addresses[0]: "
			      "...%s..., got %d %s: %s", cases[i].addr, cases[i].why, ret,
			      err.where, err.why);
		wgx_policy_free(p);

		/* The same for the peer API's user object. */
		snprintf(json, sizeof(json), "{\"name\": \"a\", \"public_key\": \"" KA "\", "
			 "\"addresses\": [\"%s\"]}", cases[i].addr);
		ret = wgx_user_from_json_opts(json, NULL, cases[i].lim, &u, &err);
		if (!cases[i].why)
			CHECK(ret == 0, "API %s: expected 0, got %d: %s: %s", cases[i].addr, ret,
			      err.where, err.why);
		else
			CHECK(ret == -EINVAL && !strcmp(err.where, "addresses[0]") &&
			      strstr(err.why, cases[i].why), "API %s: expected addresses[0]: "
			      "...%s..., got %d %s: %s", cases[i].addr, cases[i].why, ret,
			      err.where, err.why);
		if (!ret)
			wgx_user_free(u);
		if (cases[i].lim)
			continue;
		/* The old functions use the defaults. */
		ret = wgx_user_from_json(json, NULL, &u, &err);
		CHECK(!ret == !cases[i].why, "API %s, default limits: got %d", cases[i].addr, ret);
		if (!ret)
			wgx_user_free(u);
	}

	/* From a file, with a raised limit; refused with the default one. */
	if (!write_temp(path, "{\"users\": [{\"name\": \"a\", \"public_key\": \"" KA "\", "
			"\"addresses\": [\"10.0.0.0/8\"]}]}"))
		return;
	ret = wgx_policy_load_file(path, &p, &err);
	CHECK(ret == -EINVAL && strstr(err.why, "wider than /24"), "file, default limits: "
	      "expected wider than /24, got %d %s", ret, err.why);
	ret = wgx_policy_load_file_opts(path, &wide, &p, &err, 1, NULL);
	CHECK(ret == 0 && p, "file, limit /8: expected 0, got %d %s: %s", ret, err.where,
	      err.why);
	wgx_policy_free(p);
	unlink(path);
}

static void test_prefix_overlap(void)
{
	static const struct {
		const char *a, *b;
		bool overlap;
	} cases[] = {
		{ "10.0.0.0/24", "10.0.0.0/24", true },
		{ "10.0.0.0/24", "10.0.0.7/32", true },
		{ "10.0.0.7/32", "10.0.0.0/24", true },
		{ "10.0.0.0/25", "10.0.0.128/25", false },
		{ "10.0.0.0/24", "10.0.1.0/24", false },
		{ "0.0.0.0/0", "192.0.2.1/32", true },
		{ "10.0.0.0/8", "11.0.0.0/8", false },
		{ "fd00::/64", "fd00::1/128", true },
		{ "fd00::/64", "fd00:0:0:1::/64", false },
		{ "::/0", "10.0.0.0/8", false },	/* families never overlap */
		{ "0.0.0.0/0", "::/0", false },
	};
	struct wgx_prefix a, b;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		wgx_prefix_parse(cases[i].a, &a);
		wgx_prefix_parse(cases[i].b, &b);
		CHECK(wgx_prefix_overlap(&a, &b) == cases[i].overlap, "%s and %s: expected %s",
		      cases[i].a, cases[i].b, cases[i].overlap ? "overlap" : "no overlap");
	}
}

/* Whose tunnel address a prefix overlaps, with the index and without (a hand-made policy). */
static void test_addr_owner(void)
{
	static const struct {
		const char *addr, *except, *owner;
	} cases[] = {
		{ "100.64.0.2/32", NULL, "alice" },
		{ "100.64.0.2/32", KA, NULL },
		{ "100.64.1.7/32", NULL, "carol" },	/* inside carol's /24 */
		{ "100.64.1.128/25", NULL, "carol" },
		{ "100.64.1.0/24", KC, NULL },
		{ "100.64.1.0/24", KA, "carol" },
		{ "100.64.0.0/24", NULL, "alice" },	/* holds alice's and bob's */
		{ "100.64.0.0/24", KA, "bob" },
		{ "100.64.0.0/16", NULL, "alice" },
		{ "100.64.0.0/16", KA, "bob" },
		{ "100.64.2.1/32", NULL, NULL },
		{ "100.64.0.4/30", NULL, NULL },
		{ "100.63.255.255/32", NULL, NULL },
		{ "fd7a:115c::/64", NULL, "alice" },
		{ "fd7a:115c::2/128", KA, NULL },
		{ "fd7a:115c::3/128", NULL, NULL },
		{ "0.0.0.0/0", KB, "alice" },
	};
	struct wgx_policy_err err = {};
	struct wgx_policy *p = NULL, hand = {};
	const struct wgx_user *u;
	struct wgx_prefix a;
	uint8_t key[32];
	size_t i;
	int pass;

	if (!CHECK(wgx_policy_load_string(good_policy, &p, &err) == 0, "good policy"))
		return;
	hand.users = p->users;
	hand.nr_users = p->nr_users;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			if (cases[i].except)
				wgx_key_from_base64(key, cases[i].except);
			wgx_prefix_parse(cases[i].addr, &a);
			u = wgx_policy_addr_owner(pass ? &hand : p, &a,
						  cases[i].except ? key : NULL);
			CHECK(cases[i].owner ? u && !strcmp(u->name, cases[i].owner) : !u,
			      "%s%s, except %s: expected %s, got %s", pass ? "no index: " : "",
			      cases[i].addr, cases[i].except ? cases[i].except : "none",
			      cases[i].owner ? cases[i].owner : "none", u ? u->name : "none");
		}
	}
	wgx_policy_free(p);
}

/* 100,000 users: every key found, unknown keys not, lookups in constant time. */
static void test_large(void)
{
	const unsigned int n = 100000;
	struct wgx_policy_err err = {};
	struct wgx_policy *p = NULL;
	uint8_t (*keys)[32];
	size_t len = 64 + (size_t)n * 160, o;
	struct timespec t0, t1, t2;
	const struct wgx_user *u;
	unsigned int i, j, wrong = 0, found_unknown = 0;
	struct wgx_prefix a = { .family = 4 };
	char *json, b64[45];
	double load_s, find_ns;
	uint64_t x = 88172645463325252ULL;
	int ret;

	json = malloc(len);
	keys = malloc((size_t)n * 32);
	if (!json || !keys)
		goto out;
	o = snprintf(json, len, "{\"users\": [");
	for (i = 0; i < n; i++) {
		for (j = 0; j < 32; j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;	/* xorshift */
			keys[i][j] = x >> 24;
		}
		wgx_key_to_base64(b64, keys[i]);
		o += snprintf(json + o, len - o, "%s{\"name\": \"u%u\", \"public_key\": \"%s\", "
			      "\"addresses\": [\"10.%u.%u.%u/32\"]}", i ? "," : "", i, b64,
			      i >> 16, (i >> 8) & 255, i & 255);
	}
	snprintf(json + o, len - o, "]}");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = wgx_policy_load_string(json, &p, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!CHECK(ret == 0, "100000 users: expected 0, got %d: %s: %s", ret, err.where, err.why))
		goto out;
	for (i = 0; i < n; i++) {
		u = wgx_policy_find(p, keys[i]);
		if (!u || u->name[0] != 'u' || (unsigned int)atoi(u->name + 1) != i)
			wrong++;
	}
	for (i = 0; i < n; i++) {
		keys[i][31] ^= 0x80;
		if (wgx_policy_find(p, keys[i]))
			found_unknown++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t2);
	CHECK(!wrong, "100000 users: %u keys not found or found the wrong user", wrong);
	CHECK(!found_unknown, "100000 users: %u unknown keys found", found_unknown);
	load_s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	find_ns = ((t2.tv_sec - t1.tv_sec) * 1e9 + (t2.tv_nsec - t1.tv_nsec)) / (2.0 * n);
	printf("test_policy: 100000 users: load %.2f s, lookup %.0f ns each\n", load_s, find_ns);
	/* A linear scan costs ~50 us per lookup at this size; a hash table well under 2. */
	CHECK(find_ns < 2000, "lookup: expected O(1) (< 2 us), took %.0f ns", find_ns);

	/* Whose address: O(log n) each, over the sorted addresses. */
	wrong = 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (i = 0; i < n; i++) {
		a.plen = 32;
		a.addr[0] = 10, a.addr[1] = i >> 16, a.addr[2] = i >> 8, a.addr[3] = i;
		u = wgx_policy_addr_owner(p, &a, NULL);
		if (!u || (unsigned int)atoi(u->name + 1) != i ||
		    wgx_policy_addr_owner(p, &a, u->public_key))
			wrong++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t2);
	find_ns = ((t2.tv_sec - t1.tv_sec) * 1e9 + (t2.tv_nsec - t1.tv_nsec)) / (2.0 * n);
	CHECK(!wrong, "100000 users: %u addresses without their owner", wrong);
	printf("test_policy: 100000 users: address owner %.0f ns each\n", find_ns);
	CHECK(find_ns < 2000, "address owner: expected O(log n) (< 2 us), took %.0f ns", find_ns);

	/* One more user whose /24 holds 256 others' addresses: found in O(n log n). */
	wgx_key_to_base64(b64, keys[0]);	/* flipped above: no user's key */
	snprintf(json + o, len - o, ", {\"name\": \"dup\", \"public_key\": \"%s\", "
		 "\"addresses\": [\"10.0.0.0/24\"]}]}", b64);
	wgx_policy_free(p);
	p = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = wgx_policy_load_string(json, &p, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	load_s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(ret == -EINVAL && !strcmp(err.where, "users[100000].addresses[0]") &&
	      strstr(err.why, "10.0.0.0/24: overlaps 10.0.0.0/32 of users[0] (u0)"),
	      "100001 users, one overlapping: got %d %s: %s", ret, err.where, err.why);
	printf("test_policy: 100001 users, an overlap found in %.2f s\n", load_s);
	/* Pairwise, 5e9 comparisons would take minutes. */
	CHECK(load_s < 10, "overlap check: expected O(n log n), took %.1f s", load_s);
out:
	wgx_policy_free(p);
	free(json);
	free(keys);
}

#define A10 "aaaaaaaaaa"
#define NAME47 A10 A10 A10 A10 "aaaaaaa"
#define NAME63 A10 A10 A10 A10 A10 A10 "aaa"

/* Policy text of one user named name (a JSON string body) in group group. */
static char *one_user(const char *name, const char *group)
{
	char *json;

	if (asprintf(&json, "{\"groups\": {\"%s\": {\"allow\": []}}, \"users\": [{\"name\": "
		     "\"%s\", \"public_key\": \"" KA "\", \"addresses\": [\"10.0.0.1/32\"], "
		     "\"groups\": [\"%s\"]}]}", group, name, group) < 0)
		return NULL;
	return json;
}

/* Hole 10: names restricted to [A-Za-z0-9._@+-], 1..47 bytes (groups 1..63). */
static void test_names(void)
{
	static const struct {
		const char *name, *group, *where, *why;
	} cases[] = {
		{ "alice", "dev", NULL, NULL },
		{ "Carol.Smith-2_x@example.org+vpn", "Dev-Ops_1.2@x+y", NULL, NULL },
		{ NAME47, NAME63, NULL, NULL },
		{ "a\\nb", "dev", "users[0].name", "name has a character outside A-Z a-z 0-9 . _ "
		  "@ + - (byte 1)" },
		{ "a\\tb", "dev", "users[0].name", "character outside" },
		{ "a\\u001b[31mb", "dev", "users[0].name", "character outside" },
		{ "a\\u0000b", "dev", "line 1, column 64", "not allowed" },	/* by jansson */
		{ "caf\\u00e9", "dev", "users[0].name", "character outside" },
		{ "caf\xc3\xa9", "dev", "users[0].name", "character outside" },
		{ "a b", "dev", "users[0].name", "character outside" },
		{ "a\\\"b", "dev", "users[0].name", "character outside" },
		{ "", "dev", "users[0].name", "name is empty" },
		{ NAME47 "a", "dev", "users[0].name", "name is 48 bytes, longer than 47" },
		{ "-alice", "dev", "users[0].name", "name starts with '-'" },
		{ ".alice", "dev", "users[0].name", "name starts with '.'" },
		{ "alice", "d\\nev", "groups.d?ev", "group name has a character outside" },
		{ "alice", NAME63 "a", "groups." NAME63 "a",
		  "group name is 64 bytes, longer than 63" },
		{ "alice", "-dev", "groups.-dev", "group name starts with '-'" },
		{ "alice", "", "groups.", "group name is empty" },
	};
	struct wgx_policy_err err;
	struct wgx_policy *p;
	struct wgx_user *u;
	char *json;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json = one_user(cases[i].name, cases[i].group);
		if (!json)
			return;
		memset(&err, 0, sizeof(err));
		p = NULL;
		ret = wgx_policy_load_string(json, &p, &err);
		if (!cases[i].where)
			CHECK(ret == 0, "name \"%s\", group \"%s\": expected 0, got %d: %s: %s",
			      cases[i].name, cases[i].group, ret, err.where, err.why);
		else
			CHECK(ret == -EINVAL && !strcmp(err.where, cases[i].where) &&
			      strstr(err.why, cases[i].why), "name \"%s\", group \"%s\": expected "
			      "%s: ...%s..., got %d %s: %s", cases[i].name, cases[i].group,
			      cases[i].where, cases[i].why, ret, err.where, err.why);
		CHECK(!strpbrk(err.where, "\n\t\x1b") && !strpbrk(err.why, "\n\t\x1b"),
		      "a control character in the error of case %zu", i);
		wgx_policy_free(p);
		free(json);
	}

	/* The peer API's user object: the same rules, for its name and group names. */
	ret = wgx_user_from_json("{\"name\": \"bad\\nname\", \"public_key\": \"" KA "\", "
				 "\"addresses\": [\"10.0.0.1/32\"]}", NULL, &u, &err);
	CHECK(ret == -EINVAL && !strcmp(err.where, "name") && strstr(err.why, "outside"),
	      "API user name with a newline: expected name: ...outside..., got %d %s: %s", ret,
	      err.where, err.why);
	ret = wgx_user_from_json("{\"name\": \"ok\", \"public_key\": \"" KA "\", "
				 "\"addresses\": [\"10.0.0.1/32\"], \"groups\": [\"x\\ry\"]}", NULL,
				 &u, &err);
	CHECK(ret == -EINVAL && !strcmp(err.where, "groups[0]") && strstr(err.why, "group name"),
	      "API group name with a CR: expected groups[0]: group name..., got %d %s: %s", ret,
	      err.where, err.why);
	/* Values echoed in other errors lose their control characters too. */
	ret = wgx_user_from_json("{\"name\": \"ok\", \"public_key\": \"a\\nb\", "
				 "\"addresses\": [\"10.0.0.1/32\"]}", NULL, &u, &err);
	CHECK(ret == -EINVAL && strstr(err.why, "\"a?b\""), "key with a newline: expected "
	      "\"a?b\" in the why, got %s", err.why);
}

int main(void)
{
	test_prefix();
	test_good();
	test_bad();
	test_inbound();
	test_many_errors();
	test_file();
	test_user_from_json();
	test_groups_from_json();
	test_names();
	test_addr_limits();
	test_prefix_overlap();
	test_addr_owner();
	test_large();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
