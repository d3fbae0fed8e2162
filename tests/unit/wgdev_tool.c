// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Test driver for loader/wgdev (tests/integration/wgdev_*.sh, tests/bench/wgdev_peers.sh).
 *
 *   wgdev_tool backend IFACE        prints "netlink" or "uapi"
 *   wgdev_tool show IFACE           the device as `wg show IFACE dump` prints it
 *   wgdev_tool set IFACE < PEERS    adds/updates every peer of PEERS in one call
 *   wgdev_tool update IFACE < PEERS the same with update_only: updates the peers IFACE
 *                                   has, creates none
 *   wgdev_tool remove IFACE < KEYS  removes every key (base64, one a line) in one call
 *   wgdev_tool gen N                prints N random peers in the PEERS format
 *
 * PEERS: one peer a line, the first fields of a `wg show dump` peer line and the last:
 *   public-key preshared-key|(none)|- endpoint|(none) allowed-ips|(none) keepalive|off
 * A psk of (none) removes the peer's psk, - leaves it as it is; an endpoint of (none) leaves
 * the peer's endpoint as it is (there is no removing one).
 * set and remove print "wgdev: set N peers in S.SSSSSS s" (the library call only) on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "loader/wgdev.h"
#include "loader/wgdev_internal.h"

static const char *prog = "wgdev_tool";

static void key_b64(char out[45], const uint8_t key[WG_KEY_LEN])
{
	EVP_EncodeBlock((unsigned char *)out, key, WG_KEY_LEN);
}

static int key_from_b64(uint8_t key[WG_KEY_LEN], const char *s)
{
	unsigned char buf[33];

	if (strlen(s) != 44 || s[43] != '=' ||
	    EVP_DecodeBlock(buf, (const unsigned char *)s, 44) != 33)
		return -EINVAL;
	memcpy(key, buf, WG_KEY_LEN);
	return 0;
}

static bool key_zero(const uint8_t key[WG_KEY_LEN])
{
	static const uint8_t zero[WG_KEY_LEN];

	return !memcmp(key, zero, WG_KEY_LEN);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(const char *what, const char *ifname, int err)
{
	fprintf(stderr, "%s: %s %s: %s\n", prog, what, ifname, strerror(-err));
	return 1;
}

static int cmd_backend(const char *ifname)
{
	enum wgx_wg_backend b;
	int ret = wgx_wg_backend_of(ifname, &b);

	if (ret)
		return fail("backend", ifname, ret);
	printf("%s\n", b == WGX_WG_NETLINK ? "netlink" : "uapi");
	return 0;
}

static int cmd_show(const char *ifname)
{
	struct wgx_wg_device *dev;
	char k1[45], k2[45], buf[64];
	unsigned int i, j;
	int ret;

	ret = wgx_wg_get_device(ifname, &dev);
	if (ret)
		return fail("show", ifname, ret);
	key_b64(k1, dev->private_key);
	key_b64(k2, dev->public_key);
	printf("%s\t%s\t%u\n", key_zero(dev->private_key) ? "(none)" : k1,
	       key_zero(dev->public_key) ? "(none)" : k2, dev->listen_port);
	for (i = 0; i < dev->nr_peers; i++) {
		const struct wgx_wg_peer *p = &dev->peers[i];

		key_b64(k1, p->public_key);
		key_b64(k2, p->psk);
		printf("%s\t%s\t", k1, p->has_psk ? k2 : "(none)");
		if (wgx_format_endpoint(&p->endpoint, buf, sizeof(buf)))
			snprintf(buf, sizeof(buf), "(none)");
		printf("%s\t", buf);
		for (j = 0; j < p->nr_allowed; j++) {
			wgx_format_allowed(&p->allowed[j], buf, sizeof(buf));
			printf("%s%s", j ? "," : "", buf);
		}
		printf("%s\t%llu\t%llu\t%llu\t", p->nr_allowed ? "" : "(none)",
		       (unsigned long long)p->last_handshake_sec,
		       (unsigned long long)p->rx_bytes, (unsigned long long)p->tx_bytes);
		if (p->keepalive)
			printf("%u\n", p->keepalive);
		else
			printf("off\n");
	}
	wgx_wg_device_free(dev);
	return 0;
}

static int parse_peer_line(char *line, struct wgx_wg_peer *p, bool update_only)
{
	char *f[5], *save = NULL, *ip;
	struct wgx_prefix a;
	unsigned int n;

	memset(p, 0, sizeof(*p));
	for (n = 0; n < 5; n++) {
		f[n] = strtok_r(n ? NULL : line, " \t\n", &save);
		if (!f[n])
			return -EINVAL;
	}
	if (key_from_b64(p->public_key, f[0]))
		return -EINVAL;
	if (strcmp(f[1], "-")) {
		if (strcmp(f[1], "(none)") && key_from_b64(p->psk, f[1]))
			return -EINVAL;
		p->has_psk = true;	/* (none): all zero, which removes the psk */
	}
	if (strcmp(f[2], "(none)") && wgx_parse_endpoint(f[2], &p->endpoint))
		return -EINVAL;
	if (strcmp(f[3], "(none)")) {
		for (ip = strtok_r(f[3], ",", &save); ip; ip = strtok_r(NULL, ",", &save)) {
			if (wgx_parse_allowed(ip, &a) || wgx_wgdev_add_allowed(p, &a))
				return -EINVAL;
		}
	}
	p->keepalive = strcmp(f[4], "off") ? atoi(f[4]) : 0;
	p->update_only = update_only;
	return 0;
}

static int cmd_set(const char *ifname, bool update_only)
{
	struct wgx_wg_device list = { 0 };	/* only as a growing array of peers */
	struct wgx_wg_peer *p;
	char *line = NULL;
	size_t cap = 0;
	unsigned int lineno = 0, nr;
	double t;
	int ret;

	while (getline(&line, &cap, stdin) > 0) {
		lineno++;
		if (line[0] == '\n' || line[0] == '#')
			continue;
		p = wgx_wgdev_add_peer(&list);
		if (!p || parse_peer_line(line, p, update_only)) {
			fprintf(stderr, "%s: stdin line %u: not a peer line\n", prog, lineno);
			free(line);
			wgx_wgdev_clear_peers(&list);
			return 1;
		}
	}
	free(line);
	t = now();
	ret = wgx_wg_set_peers(ifname, list.peers, list.nr_peers);
	t = now() - t;
	nr = list.nr_peers;
	wgx_wgdev_clear_peers(&list);
	if (ret)
		return fail("set", ifname, ret);
	fprintf(stderr, "wgdev: set %u peers in %.6f s\n", nr, t);
	return 0;
}

static int cmd_remove(const char *ifname)
{
	uint8_t (*keys)[WG_KEY_LEN] = NULL, (*nk)[WG_KEY_LEN];
	char word[128];
	unsigned int nr = 0;
	double t;
	int ret;

	while (scanf("%127s", word) == 1) {
		nk = realloc(keys, (nr + 1) * sizeof(*keys));
		if (!nk || key_from_b64(nk[nr], word)) {
			fprintf(stderr, "%s: not a key: %s\n", prog, word);
			free(nk ? nk : keys);
			return 1;
		}
		keys = nk;
		nr++;
	}
	t = now();
	ret = wgx_wg_remove_peers(ifname, (const uint8_t(*)[WG_KEY_LEN])keys, nr);
	t = now() - t;
	free(keys);
	if (ret)
		return fail("remove", ifname, ret);
	fprintf(stderr, "wgdev: removed %u peers in %.6f s\n", nr, t);
	return 0;
}

/* N peers: random keys, every other one with a psk, 10.x.y.z/32 and an endpoint each. */
static int cmd_gen(unsigned int n)
{
	uint8_t key[WG_KEY_LEN], psk[WG_KEY_LEN];
	char k[45], s[45];
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (RAND_bytes(key, sizeof(key)) != 1 || RAND_bytes(psk, sizeof(psk)) != 1)
			return 1;
		key_b64(k, key);
		key_b64(s, psk);
		printf("%s\t%s\t192.0.2.%u:%u\t10.%u.%u.%u/32\toff\n", k, i % 2 ? s : "(none)",
		       1 + i % 254, 10000 + i % 50000, 100 + (i >> 16 & 0xff), i >> 8 & 0xff,
		       i & 0xff);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "backend"))
		return cmd_backend(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "show"))
		return cmd_show(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "set"))
		return cmd_set(argv[2], false);
	if (argc == 3 && !strcmp(argv[1], "update"))
		return cmd_set(argv[2], true);
	if (argc == 3 && !strcmp(argv[1], "remove"))
		return cmd_remove(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "gen"))
		return cmd_gen(strtoul(argv[2], NULL, 10));
	fprintf(stderr, "usage: %s backend|show|set|update|remove IFACE, or %s gen N\n", prog,
		prog);
	return 2;
}
