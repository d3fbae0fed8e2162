// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Growing and freeing buffers that hold key material (loader/wipe.h). */
#include <stdlib.h>
#include <string.h>
#include "loader/wipe.h"

void *wgx_realloc_wipe(void *old, size_t old_size, size_t new_size)
{
	void *p = malloc(new_size ? new_size : 1);

	if (!p)
		return NULL;
	if (old)
		memcpy(p, old, old_size < new_size ? old_size : new_size);
	wgx_free_wipe(old, old_size);
	return p;
}

void wgx_free_wipe(void *p, size_t size)
{
	if (!p)
		return;
	explicit_bzero(p, size);
	free(p);
}
