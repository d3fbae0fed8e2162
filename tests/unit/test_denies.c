// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * loader/denies.c: denied packets by group, from each user's count at each look (the first
 * look is the baseline: nothing before it is added). The counts
 * only grow whatever users do: a user who changes groups leaves what she was denied in her old
 * ones; a user in several groups counts in each, in none under ""; a count that went back (her
 * entry evicted and made again) adds what it holds; a user gone from the map and back adds
 * only what is new; too many groups fold into "".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/denies.h"

#include "check.h"

static uint64_t denied(const struct wgx_deny_groups *dg, const char *group)
{
	size_t i;

	for (i = 0; i < dg->nr_g; i++)
		if (!strcmp(dg->g[i].name, group))
			return dg->g[i].denied;
	return (uint64_t)-1;	/* no such series */
}

#define CHECK_DENIED(dg, group, want)                                                           \
	CHECK(denied(dg, group) == (uint64_t)(want), "group \"%s\": expected %llu, got %lld",    \
	      group, (unsigned long long)(want), (long long)denied(dg, group))

static struct wgx_user_denied user(uint32_t id, uint64_t n, const char *g1, const char *g2)
{
	struct wgx_user_denied u = { .user_id = id, .denied = n };

	if (g1)
		u.groups[u.nr_groups++] = g1;
	if (g2)
		u.groups[u.nr_groups++] = g2;
	return u;
}

static void test_groups(void)
{
	struct wgx_deny_groups dg = {};
	struct wgx_user_denied u[3];

	/* the first look is the baseline: what was denied before it is not this process's */
	u[0] = user(1, 100, "ops", "dev");
	u[1] = user(2, 50, "dev", NULL);
	u[2] = user(3, 70, NULL, NULL);
	CHECK(!wgx_deny_groups_add(&dg, u, 3), "baseline");
	CHECK_DENIED(&dg, "ops", 0);
	CHECK_DENIED(&dg, "dev", 0);
	CHECK_DENIED(&dg, "", 0);
	CHECK(dg.nr_g == 3, "three series, got %zu", dg.nr_g);

	/* then each user's new denies, in each of her groups */
	u[0] = user(1, 110, "ops", "dev");
	u[1] = user(2, 55, "dev", NULL);
	u[2] = user(3, 77, NULL, NULL);
	CHECK(!wgx_deny_groups_add(&dg, u, 3), "first look");
	CHECK_DENIED(&dg, "ops", 10);
	CHECK_DENIED(&dg, "dev", 15);
	CHECK_DENIED(&dg, "", 7);

	/* user 1 moves from ops+dev to sales: her new denies only go there */
	u[0] = user(1, 114, "sales", NULL);
	CHECK(!wgx_deny_groups_add(&dg, u, 3), "second look");
	CHECK_DENIED(&dg, "ops", 10);
	CHECK_DENIED(&dg, "dev", 15);
	CHECK_DENIED(&dg, "sales", 4);
	CHECK_DENIED(&dg, "", 7);

	/* user 2's entry evicted and made again (count went back): what it holds is new */
	u[1] = user(2, 3, "dev", NULL);
	CHECK(!wgx_deny_groups_add(&dg, u, 3), "third look");
	CHECK_DENIED(&dg, "dev", 18);

	/* user 3 gone from the map, then back with a count of 2: 2 more */
	CHECK(!wgx_deny_groups_add(&dg, u, 2), "user 3 gone");
	CHECK_DENIED(&dg, "", 7);
	u[2] = user(3, 2, NULL, NULL);
	CHECK(!wgx_deny_groups_add(&dg, u, 3), "user 3 back");
	CHECK_DENIED(&dg, "", 9);

	/* nothing new: nothing added */
	CHECK(!wgx_deny_groups_add(&dg, u, 3), "same counts");
	CHECK_DENIED(&dg, "ops", 10);
	CHECK_DENIED(&dg, "dev", 18);
	CHECK_DENIED(&dg, "sales", 4);
	CHECK_DENIED(&dg, "", 9);
	wgx_deny_groups_free(&dg);
}

/* More groups than WGX_DENY_GROUPS_MAX: the series stay bounded, the rest counted in "". */
static void test_bounded(void)
{
	size_t n = WGX_DENY_GROUPS_MAX + 10, i;
	struct wgx_user_denied *u = calloc(n, sizeof(*u));
	char (*names)[16] = calloc(n, sizeof(*names));
	struct wgx_deny_groups dg = {};

	if (!CHECK(u && names, "calloc"))
		goto out;
	for (i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "g%05zu", i);
		u[i] = user(i, 1, names[i], NULL);
	}
	CHECK(!wgx_deny_groups_add(&dg, NULL, 0), "baseline");
	CHECK(!wgx_deny_groups_add(&dg, u, n), "many groups");
	CHECK(dg.nr_g == WGX_DENY_GROUPS_MAX + 1, "series: %d groups and \"\", got %zu",
	      WGX_DENY_GROUPS_MAX, dg.nr_g);
	CHECK_DENIED(&dg, "", 10);
	CHECK_DENIED(&dg, "g00000", 1);
out:
	wgx_deny_groups_free(&dg);
	free(u);
	free(names);
}

int main(void)
{
	test_groups();
	test_bounded();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
