// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Handshake initiations consumed per second on one core: wgx_noise_consume_initiation
 * (mac1, two X25519, the AEADs) then wgx_policy_find, over initiations made up front by the
 * test initiator for a policy of N users. Also what rejecting costs: a bad mac1 (no
 * X25519) and a forged mac1 on a message for another key (one X25519). The baseline, in the
 * same run since these machines are noisy: two bare X25519 on a reused EVP_PKEY_CTX, the
 * floor of what consuming an initiation can cost with libcrypto.
 *
 *   bench_noise [-u USERS] [-n INITIATIONS] [--min RATE]
 *
 * Prints "bench_noise: consume+lookup: N/s (X us each)" and the like; with --min, exits 1
 * if consume+lookup is slower than RATE per second (issue 4's target: 10000).
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loader/noise.h"
#include "loader/policy.h"
#include "tests/unit/wg_initiator.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Two X25519 per "initiation", on one context made up front: no parsing, no hashing. */
static double baseline_2x25519(const uint8_t priv[32], const uint8_t (*pubs)[32], unsigned int n)
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	EVP_PKEY_CTX *ctx = k ? EVP_PKEY_CTX_new(k, NULL) : NULL;
	EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pubs[0], 32);
	uint8_t out[32];
	size_t len;
	unsigned int i;
	double t0, t1 = 0;

	if (ctx && peer && EVP_PKEY_derive_init(ctx) > 0 &&
	    EVP_PKEY_derive_set_peer(ctx, peer) > 0) {
		t0 = now_s();
		for (i = 0; i < 2 * n; i++) {
			len = sizeof(out);
			EVP_PKEY_derive(ctx, out, &len);
		}
		t1 = now_s() - t0;
	}
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(k);
	return t1;
}

static void report(const char *what, unsigned int n, double secs)
{
	printf("bench_noise: %s: %.0f/s (%.1f us each)\n", what, n / secs, secs * 1e6 / n);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "users", required_argument, NULL, 'u' },
		{ "initiations", required_argument, NULL, 'n' },
		{ "min", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	unsigned int nr_users = 1000, nr_msgs = 10000, i, ok = 0, found = 0, rejected = 0;
	uint8_t resp_priv[32], resp_pub[32], other_priv[32], other_pub[32], spub[32], ts[12];
	uint8_t (*privs)[32], (*pubs)[32], (*msgs)[148], (*bad)[148];
	struct wgx_policy_err err;
	struct wgx_policy *p = NULL;
	struct wgx_noise n;
	double min_rate = 0, t0, t1, rate;
	size_t len, o;
	char *json, b64[45];
	cpu_set_t cpus;
	int c;

	while ((c = getopt_long(argc, argv, "u:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			nr_users = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			nr_msgs = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			min_rate = strtod(optarg, NULL);
			break;
		default:
			fprintf(c == 'h' ? stdout : stderr,
				"usage: bench_noise [-u USERS] [-n INITIATIONS] [--min RATE]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!nr_users || !nr_msgs || nr_users > 60000) {
		fprintf(stderr, "bench_noise: users 1-60000, initiations > 0\n");
		return 2;
	}

	/* one core: the one we start on */
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);

	privs = calloc(nr_users, 32);
	pubs = calloc(nr_users, 32);
	msgs = calloc(nr_msgs, 148);
	bad = calloc(nr_msgs, 148);
	len = 64 + (size_t)nr_users * 160;
	json = malloc(len);
	if (!privs || !pubs || !msgs || !bad || !json) {
		fprintf(stderr, "bench_noise: out of memory\n");
		return 1;
	}
	wgi_keypair(resp_priv, resp_pub);
	wgi_keypair(other_priv, other_pub);
	o = snprintf(json, len, "{\"users\": [");
	for (i = 0; i < nr_users; i++) {
		wgi_keypair(privs[i], pubs[i]);
		wgx_key_to_base64(b64, pubs[i]);
		o += snprintf(json + o, len - o, "%s{\"name\": \"u%u\", \"public_key\": \"%s\", "
			      "\"addresses\": [\"100.64.%u.%u/32\"]}", i ? "," : "", i, b64,
			      i >> 8, i & 255);
	}
	snprintf(json + o, len - o, "]}");
	if (wgx_policy_load_string(json, &p, &err)) {
		fprintf(stderr, "bench_noise: policy: %s: %s\n", err.where, err.why);
		return 1;
	}
	if (wgx_noise_init(&n, resp_priv)) {
		fprintf(stderr, "bench_noise: wgx_noise_init failed\n");
		return 1;
	}

	t0 = now_s();
	for (i = 0; i < nr_msgs; i++) {
		wgi_tai64n_now(ts);
		/* users in turn; every 10th initiation from a key not in the policy */
		if (i % 10 == 9) {
			uint8_t stranger[32], spriv[32];

			wgi_keypair(spriv, stranger);
			c = wgi_make_initiation(msgs[i], spriv, resp_pub, i, ts);
		} else {
			c = wgi_make_initiation(msgs[i], privs[i % nr_users], resp_pub, i, ts);
		}
		/* the same for another responder, with our mac1 forged on half of them */
		c |= wgi_make_initiation(bad[i], privs[i % nr_users], other_pub, i, ts);
		if (i & 1)
			c |= wgi_set_mac1(bad[i], resp_pub);
		if (c) {
			fprintf(stderr, "bench_noise: the test initiator failed\n");
			return 1;
		}
	}
	printf("bench_noise: %u users, %u initiations (made in %.1f s), one core\n", nr_users,
	       nr_msgs, now_s() - t0);

	report("baseline 2 x X25519", nr_msgs, baseline_2x25519(resp_priv, pubs, nr_msgs));

	t0 = now_s();
	for (i = 0; i < nr_msgs; i++) {
		if (wgx_noise_consume_initiation(&n, msgs[i], spub, ts))
			continue;
		ok++;
		if (wgx_policy_find(p, spub))
			found++;
	}
	t1 = now_s();
	rate = nr_msgs / (t1 - t0);
	report("consume+lookup", nr_msgs, t1 - t0);
	printf("bench_noise: consumed %u, found %u users (expected %u, %u)\n", ok, found, nr_msgs,
	       nr_msgs - nr_msgs / 10);
	if (ok != nr_msgs || found != nr_msgs - nr_msgs / 10) {
		fprintf(stderr, "bench_noise: wrong results\n");
		return 1;
	}

	t0 = now_s();
	for (i = 0; i < nr_msgs; i += 2)
		rejected += wgx_noise_consume_initiation(&n, bad[i], spub, ts) == -EBADMSG;
	t1 = now_s();
	report("mac1 reject", (nr_msgs + 1) / 2, t1 - t0);

	t0 = now_s();
	for (i = 1; i < nr_msgs; i += 2)
		rejected += wgx_noise_consume_initiation(&n, bad[i], spub, ts) == -ENOKEY;
	t1 = now_s();
	report("forged mac1 reject", nr_msgs / 2, t1 - t0);
	if (rejected != nr_msgs) {
		fprintf(stderr, "bench_noise: %u of %u bad initiations rejected\n", rejected,
			nr_msgs);
		return 1;
	}

	wgx_noise_free(&n);
	wgx_policy_free(p);
	free(json);
	free(privs);
	free(pubs);
	free(msgs);
	free(bad);
	if (min_rate && rate < min_rate) {
		fprintf(stderr, "bench_noise: consume+lookup %.0f/s, below --min %.0f/s\n", rate,
			min_rate);
		return 1;
	}
	return 0;
}
