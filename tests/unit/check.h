/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The unit tests' one assertion: counts, and prints what failed where. Included once per test. */
#ifndef WGXDP_UNIT_CHECK_H
#define WGXDP_UNIT_CHECK_H

#include <stdbool.h>
#include <stdio.h>

static int passed, failed;

#define CHECK(cond, fmt, ...)                                                                   \
	({                                                                                      \
		bool __ok = (cond);                                                             \
		if (__ok) {                                                                     \
			passed++;                                                               \
		} else {                                                                        \
			failed++;                                                               \
			fprintf(stderr, "FAIL %s:%d: " fmt "\n", __func__, __LINE__,            \
				##__VA_ARGS__);                                                 \
		}                                                                               \
		__ok;                                                                           \
	})

#endif
