// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Reading whole maps from userspace (mapio.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "loader/mapio.h"

bool wgx_map_batch_unsupported(int ret)
{
	return ret == -EINVAL || ret == -ENOTSUP || ret == -EOPNOTSUPP || ret == -ENOSYS;
}

/* Doubles the arrays *k and *v of *cap keys and values (4096 at first). 0 or -ENOMEM. */
static int grow(char **k, char **v, size_t *cap, size_t ksz, size_t vsz)
{
	size_t n = *cap ? 2 * *cap : 4096;
	char *nk, *nv;

	nk = realloc(*k, n * ksz);
	if (nk)
		*k = nk;
	nv = realloc(*v, n * vsz);
	if (nv)
		*v = nv;
	if (!nk || !nv)
		return -ENOMEM;
	*cap = n;
	return 0;
}

int wgx_map_read_all(int fd, size_t ksz, size_t vsz, void **keys, void **vals, size_t *n)
{
	char in[64], outb[64], *k = NULL, *v = NULL;
	size_t cap = 0, got = 0;
	uint32_t count;
	bool first = true;
	int ret;

	*keys = *vals = NULL;
	*n = 0;
	for (;;) {
		if (cap - got < 1024 && grow(&k, &v, &cap, ksz, vsz)) {
			ret = -ENOMEM;
			goto fail;
		}
		count = 1024;
		ret = bpf_map_lookup_batch(fd, first ? NULL : in, outb, k + got * ksz,
					   v + got * vsz, &count, NULL);
		if (ret && ret != -ENOENT && first && wgx_map_batch_unsupported(ret))
			goto by_key;
		if (ret && ret != -ENOENT)
			goto fail;
		got += count;
		first = false;
		memcpy(in, outb, sizeof(in));
		if (ret == -ENOENT)
			break;
	}
	*keys = k;
	*vals = v;
	*n = got;
	return 0;
by_key:
	got = 0;
	for (ret = bpf_map_get_next_key(fd, NULL, in); !ret;
	     ret = bpf_map_get_next_key(fd, in, in)) {
		if (got == cap && grow(&k, &v, &cap, ksz, vsz)) {
			ret = -ENOMEM;
			goto fail;
		}
		if (bpf_map_lookup_elem(fd, in, v + got * vsz))
			continue;	/* deleted meanwhile */
		memcpy(k + got * ksz, in, ksz);
		got++;
	}
	if (ret != -ENOENT)
		goto fail;
	*keys = k;
	*vals = v;
	*n = got;
	return 0;
fail:
	free(k);
	free(v);
	return ret;
}

#define BATCH 1024

int wgx_map_for_each(int fd, size_t ksz, size_t vsz, wgx_map_elem_fn fn, void *ctx)
{
	char in[64], outb[64], *k = malloc(BATCH * ksz), *v = malloc(BATCH * vsz);
	bool first = true;
	uint32_t count, i;
	int ret;

	if (!k || !v || ksz > sizeof(in)) {
		ret = !k || !v ? -ENOMEM : -EINVAL;
		goto out;
	}
	for (;;) {
		count = BATCH;
		ret = bpf_map_lookup_batch(fd, first ? NULL : in, outb, k, v, &count, NULL);
		if (ret && ret != -ENOENT && first && wgx_map_batch_unsupported(ret))
			goto by_key;
		if (ret && ret != -ENOENT)
			goto out;
		for (i = 0; i < count; i++) {
			int r = fn(ctx, k + i * ksz, v + i * vsz);

			if (r) {
				ret = r;
				goto out;
			}
		}
		first = false;
		memcpy(in, outb, sizeof(in));
		if (ret == -ENOENT) {
			ret = 0;
			goto out;
		}
	}
by_key:
	for (ret = bpf_map_get_next_key(fd, NULL, in); !ret;
	     ret = bpf_map_get_next_key(fd, in, in)) {
		int r;

		if (bpf_map_lookup_elem(fd, in, v))
			continue;	/* deleted meanwhile */
		r = fn(ctx, in, v);
		if (r) {
			ret = r;
			goto out;
		}
	}
	ret = ret == -ENOENT ? 0 : ret;
out:
	free(k);
	free(v);
	return ret;
}
