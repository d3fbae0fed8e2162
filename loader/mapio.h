/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Reading whole maps from userspace: batched where the kernel allows, key by key if not. */
#ifndef WGXDP_MAPIO_H
#define WGXDP_MAPIO_H

#include <stdbool.h>
#include <stddef.h>

/* Whether a batch operation failed because the kernel or map type has none. */
bool wgx_map_batch_unsupported(int ret);
/*
 * Every element of the map fd (keys of ksz, values of vsz bytes, at most 64-byte keys) into
 * *keys and *vals (malloc'ed, *n of them). 0 or -errno.
 */
int wgx_map_read_all(int fd, size_t ksz, size_t vsz, void **keys, void **vals, size_t *n);
/*
 * fn for every element of the map fd, in the same batches (key by key if the kernel has
 * none), with memory for one batch only: for a count over a large map. fn returning
 * non-zero stops the walk with that value. 0 or -errno.
 */
typedef int (*wgx_map_elem_fn)(void *ctx, const void *key, const void *val);
int wgx_map_for_each(int fd, size_t ksz, size_t vsz, wgx_map_elem_fn fn, void *ctx);

#endif /* WGXDP_MAPIO_H */
