// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The containers of a WireGuard device (loader/wgdev_peers.h): peers and their allowed IPs
 * in arrays that grow by doubling, sorted and searched by public key, freed with the keys
 * wiped.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "loader/wgdev_peers.h"
#include "loader/wipe.h"

/*
 * Arrays grow by doubling: a count that is 0 or a power of two is also the capacity. The
 * old array is wiped (a peer array holds preshared keys).
 */
static int grow(void **arr, unsigned int nr, size_t elem)
{
	size_t cap = nr ? 2 * (size_t)nr : 1;
	void *p;

	if (nr & (nr - 1))
		return 0;
	if (nr > UINT32_MAX / 2 || cap > SIZE_MAX / elem)
		return -ENOMEM;
	p = wgx_realloc_wipe(*arr, nr * elem, cap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

struct wgx_wg_peer *wgx_wgdev_add_peer(struct wgx_wg_device *dev)
{
	struct wgx_wg_peer *peer;

	if (grow((void **)&dev->peers, dev->nr_peers, sizeof(*dev->peers)))
		return NULL;
	peer = &dev->peers[dev->nr_peers++];
	memset(peer, 0, sizeof(*peer));
	return peer;
}

int wgx_wgdev_add_allowed(struct wgx_wg_peer *peer, const struct wgx_prefix *pfx)
{
	if (grow((void **)&peer->allowed, peer->nr_allowed, sizeof(*peer->allowed)))
		return -ENOMEM;
	peer->allowed[peer->nr_allowed++] = *pfx;
	return 0;
}

void wgx_wgdev_clear_peers(struct wgx_wg_device *dev)
{
	unsigned int i;

	for (i = 0; i < dev->nr_peers; i++)
		free(dev->peers[i].allowed);
	wgx_free_wipe(dev->peers, dev->nr_peers * sizeof(*dev->peers));
	dev->peers = NULL;
	dev->nr_peers = 0;
}

void wgx_wg_device_free(struct wgx_wg_device *dev)
{
	if (!dev)
		return;
	wgx_wgdev_clear_peers(dev);
	/* The private key: do not leave it in freed memory. */
	wgx_free_wipe(dev, sizeof(*dev));
}

/* public_key is the first member of struct wgx_wg_peer: compare peers or a bare key alike */
_Static_assert(offsetof(struct wgx_wg_peer, public_key) == 0, "public_key first");
static int peer_keycmp(const void *a, const void *b)
{
	return memcmp(a, b, WG_KEY_LEN);
}

void wgx_wg_device_sort(struct wgx_wg_device *dev)
{
	if (dev->nr_peers > 1)
		qsort(dev->peers, dev->nr_peers, sizeof(*dev->peers), peer_keycmp);
}

const struct wgx_wg_peer *wgx_wg_device_find(const struct wgx_wg_device *dev,
					     const uint8_t key[WG_KEY_LEN])
{
	if (!dev->nr_peers)
		return NULL;
	return bsearch(key, dev->peers, dev->nr_peers, sizeof(*dev->peers), peer_keycmp);
}
