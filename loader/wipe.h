/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Heap buffers that hold key material (private and preshared keys, as bytes or as text):
 * grown and freed without leaving a copy in freed memory. realloc() may move a buffer and
 * free the old one as it was, so such buffers never go through it. Included by loader/ files
 * that handle keys and by tests/unit/test_wgdev.c.
 */
#ifndef WGXDP_WIPE_H
#define WGXDP_WIPE_H

#include <stddef.h>

/*
 * Like realloc(old, new_size) for a buffer holding secrets: allocates the new buffer, copies
 * min(old_size, new_size) bytes, wipes the old_size bytes of old and frees it. NULL on ENOMEM,
 * old then left as it was (the caller still owns it).
 */
void *wgx_realloc_wipe(void *old, size_t old_size, size_t new_size);
/* Wipes size bytes of p, then frees it. p may be NULL. */
void wgx_free_wipe(void *p, size_t size);

#endif /* WGXDP_WIPE_H */
