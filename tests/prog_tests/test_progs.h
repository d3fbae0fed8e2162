/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A small prog_tests-style harness: ASSERT_* print what was expected and what came. */
#ifndef WGXDP_TEST_PROGS_H
#define WGXDP_TEST_PROGS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

extern int test_failures;	/* failed assertions in the current test */
extern const char *test_case;	/* the case being run, printed with each failure */

#define ASSERT_OK(err, what) ({						\
	long long __e = (err);						\
	if (__e)							\
		test_fail(__FILE__, __LINE__, "%s: %s: unexpected error %lld", \
			  test_case, (what), __e);			\
	!__e; })

#define ASSERT_EQ(got, exp, what) ({					\
	long long __g = (long long)(got), __x = (long long)(exp);	\
	if (__g != __x)							\
		test_fail(__FILE__, __LINE__, "%s: %s: expected %lld, got %lld", \
			  test_case, (what), __x, __g);			\
	__g == __x; })

#define ASSERT_TRUE(cond, what) ({					\
	bool __c = (cond);						\
	if (!__c)							\
		test_fail(__FILE__, __LINE__, "%s: %s", test_case, (what)); \
	__c; })

#define ASSERT_MEMEQ(got, exp, len, what) ({				\
	bool __m = !memcmp((got), (exp), (len));			\
	if (!__m)							\
		test_fail_mem(__FILE__, __LINE__, (what), (got), (exp), (len)); \
	__m; })

void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void test_fail_mem(const char *file, int line, const char *what, const void *got,
		   const void *exp, size_t len);

struct prog_test {
	const char *name;
	void (*fn)(void);
};

/* Each test file defines its tests and lists them in main.c. */
void test_uplink_parse(void);
void test_uplink_malformed_pass(void);
void test_uplink_ringbuf_full(void);
void test_uplink_counters_total(void);
void test_tunnel_policy(void);
void test_tunnel_flows(void);
void test_tunnel_accounting(void);
void test_tunnel_no_policy(void);
void test_tunnel_deny_rate(void);
void test_tunnel_fragments(void);
void test_tunnel_policy_change(void);
void test_jit_stats_grow(void);

#endif
