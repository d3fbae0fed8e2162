// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_progs: BPF_PROG_TEST_RUN suite. `test_progs [-v] [NAME-SUBSTRING]`.
 * Prints a line per test and "N passed, N failed" at the end; exit 1 on any failure.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <bpf/libbpf.h>

#include "test_progs.h"

int test_failures;
const char *test_case = "";

static const struct prog_test tests[] = {
	{ "uplink_parse", test_uplink_parse },
	{ "uplink_counters_total", test_uplink_counters_total },
	{ "uplink_malformed_pass", test_uplink_malformed_pass },
	{ "uplink_ringbuf_full", test_uplink_ringbuf_full },
	{ "tunnel_policy", test_tunnel_policy },
	{ "tunnel_flows", test_tunnel_flows },
	{ "tunnel_accounting", test_tunnel_accounting },
	{ "tunnel_no_policy", test_tunnel_no_policy },
	{ "tunnel_deny_rate", test_tunnel_deny_rate },
	{ "tunnel_fragments", test_tunnel_fragments },
	{ "tunnel_policy_change", test_tunnel_policy_change },
	{ "jit_stats_grow", test_jit_stats_grow },
};

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	test_failures++;
	fprintf(stderr, "  FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void test_fail_mem(const char *file, int line, const char *what, const void *got,
		   const void *exp, size_t len)
{
	const unsigned char *g = got, *x = exp;
	size_t i;

	for (i = 0; i < len && g[i] == x[i]; i++)
		;
	test_fail(file, line, "%s: %s: first difference at byte %zu of %zu: expected %02x, got %02x",
		  test_case, what, i, len, i < len ? x[i] : 0, i < len ? g[i] : 0);
}

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (getenv("WGXDP_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	if (level == LIBBPF_DEBUG || strstr(fmt, "unrecognized data section"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	int passed = 0, failed = 0;
	struct utsname u;
	size_t i;

	libbpf_set_print(print_fn);
	uname(&u);
	printf("test_progs on %s %s\n", u.sysname, u.release);
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (filter && !strstr(tests[i].name, filter))
			continue;
		test_failures = 0;
		tests[i].fn();
		if (test_failures) {
			failed++;
			printf("#%zu %s: FAIL (%d assertions)\n", i + 1, tests[i].name, test_failures);
		} else {
			passed++;
			printf("#%zu %s: OK\n", i + 1, tests[i].name);
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
