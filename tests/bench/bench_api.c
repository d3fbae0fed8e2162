// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Handshake initiations per second through the daemon's path to a user, one core: the Noise
 * consume (mac1, two X25519, the AEADs) then wgx_identity_lookup, for users from the policy
 * file (the baseline, in the same run), from the peer API uncached (one GET each, over the one
 * reused connection) and from the API again within max-age (cached: no request). Installing
 * the peer is not in it (tests/bench/wgdev_peers.sh measures that).
 *
 *   bench_api --url URL --users-file FILE [-u USERS]
 *
 * Writes FILE, the API's users by base64url key (the server, tests/bench/api_rate.sh, reads it
 * when it changes), then measures. The lookups are made in place, as the tools do; the daemon
 * makes the same requests from its loop.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loader/identity.h"
#include "loader/log.h"
#include "tests/unit/wg_initiator.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* consume + look up msgs[0..n): initiations per second; *found: users found */
static double run(struct wgx_noise *nz, struct wgx_identity *id, uint8_t (*msgs)[148],
		  unsigned int n, unsigned int *found)
{
	uint8_t spub[32], ts[12];
	const struct wgx_user *u;
	struct wgx_user *owned;
	unsigned int i;
	double t0 = now_s();

	*found = 0;
	for (i = 0; i < n; i++) {
		if (wgx_noise_consume_initiation(nz, msgs[i], spub, ts))
			continue;
		if (wgx_identity_lookup(id, spub, mono_ns(), &u, &owned) == WGX_ID_FOUND)
			(*found)++;
		wgx_user_free(owned);
	}
	return n / (now_s() - t0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'U' },
		{ "users-file", required_argument, NULL, 'f' },
		{ "users", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	unsigned int n = 1000, i, f_file, f_api, f_cached;
	uint8_t resp_priv[32], resp_pub[32], priv[32], pub[32], ts[12];
	uint8_t (*file_msgs)[148], (*api_msgs)[148];
	struct wgx_identity file = {}, api = {};
	struct wgx_policy_err err;
	const char *url = NULL, *users_path = NULL;
	char b64[45], b64u[45], why[256], tmp[4200];
	double r_file, r_file2, r_api, r_cached;
	struct wgx_noise nz;
	cpu_set_t cpus;
	size_t len, o;
	char *json;
	FILE *fp;
	int c;

	while ((c = getopt_long(argc, argv, "u:h", opts, NULL)) != -1) {
		switch (c) {
		case 'U':
			url = optarg;
			break;
		case 'f':
			users_path = optarg;
			break;
		case 'u':
			n = strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(c == 'h' ? stdout : stderr,
				"usage: bench_api --url URL --users-file FILE [-u USERS]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!url || !users_path || !n || n > WGX_ID_CACHE_SLOTS / 2) {
		fprintf(stderr, "bench_api: --url and --users-file, users 1-%u (half the cache)\n",
			WGX_ID_CACHE_SLOTS / 2);
		return 2;
	}
	wgx_log_setup(stderr, WGX_LOG_HUMAN, WGX_LOG_ERR);
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);

	file_msgs = calloc(n, 148);
	api_msgs = calloc(n, 148);
	len = 64 + (size_t)n * 200;
	json = malloc(len);
	if (!file_msgs || !api_msgs || !json)
		return 1;
	wgi_keypair(resp_priv, resp_pub);
	/* the policy file's users (the baseline) */
	o = snprintf(json, len, "{\"users\": [");
	for (i = 0; i < n; i++) {
		wgi_keypair(priv, pub);
		wgx_key_to_base64(b64, pub);
		o += snprintf(json + o, len - o, "%s{\"name\": \"f%u\", \"public_key\": \"%s\", "
			      "\"addresses\": [\"100.64.%u.%u/32\"]}", i ? "," : "", i, b64,
			      i >> 8, i & 255);
		wgi_tai64n_now(ts);
		if (wgi_make_initiation(file_msgs[i], priv, resp_pub, i, ts))
			return 1;
	}
	snprintf(json + o, len - o, "]}");
	if (wgx_policy_load_string(json, &file.policy, &err)) {
		fprintf(stderr, "bench_api: policy: %s: %s\n", err.where, err.why);
		return 1;
	}
	/* the API's users, written for the server */
	snprintf(tmp, sizeof(tmp), "%s.tmp", users_path);
	fp = fopen(tmp, "w");
	if (!fp) {
		perror(tmp);
		return 1;
	}
	fputc('{', fp);
	for (i = 0; i < n; i++) {
		wgi_keypair(priv, pub);
		wgx_key_to_base64(b64, pub);
		wgx_key_to_base64url(b64u, pub);
		fprintf(fp, "%s\"%s\": {\"name\": \"a%u\", \"public_key\": \"%s\", "
			"\"addresses\": [\"100.65.%u.%u/32\"]}", i ? "," : "", b64u, i, b64,
			i >> 8, i & 255);
		wgi_tai64n_now(ts);
		if (wgi_make_initiation(api_msgs[i], priv, resp_pub, i, ts))
			return 1;
	}
	fputs("}\n", fp);
	if (fclose(fp) || rename(tmp, users_path)) {
		perror(users_path);
		return 1;
	}

	api.api_url = url;
	api.api_rate = 1000000000;
	api.http.insecure = true;
	api.limits = WGX_ADDR_LIMITS_DEFAULT;
	file.limits = WGX_ADDR_LIMITS_DEFAULT;
	if (wgx_identity_init(&file, why, sizeof(why)) ||
	    wgx_identity_init(&api, why, sizeof(why))) {
		fprintf(stderr, "bench_api: %s\n", why);
		return 1;
	}
	if (wgx_noise_init(&nz, resp_priv))
		return 1;

	printf("bench_api: %u users each, one core, peer API %s\n", n, url);
	run(&nz, &file, file_msgs, n, &f_file);		/* warm-up */
	r_file = run(&nz, &file, file_msgs, n, &f_file);
	r_api = run(&nz, &api, api_msgs, n, &f_api);
	r_cached = run(&nz, &api, api_msgs, n, &f_cached);
	r_file2 = run(&nz, &file, file_msgs, n, &f_file);	/* before and after: the mean */
	printf("bench_api: policy file        %8.0f initiations/s (%.1f us each; %.0f and %.0f/s "
	       "before and after)\n", (r_file + r_file2) / 2, 2e6 / (r_file + r_file2), r_file,
	       r_file2);
	r_file = (r_file + r_file2) / 2;
	printf("bench_api: peer API uncached  %8.0f initiations/s (%.1f us each; %.2fx the file's "
	       "time)\n", r_api, 1e6 / r_api, r_file / r_api);
	printf("bench_api: peer API cached    %8.0f initiations/s (%.1f us each; %.2fx the file's "
	       "time)\n", r_cached, 1e6 / r_cached, r_file / r_cached);
	/* the cache probes 8 slots per key: a key may find them all taken (then asked again) */
	printf("bench_api: requests %llu, cached answers %llu of %u\n",
	       (unsigned long long)api.api_requests, (unsigned long long)api.api_cached, n);
	if (f_file != n || f_api != n || f_cached != n || api.api_requests + api.api_cached != 2 * n ||
	    api.api_cached < n * 9 / 10) {
		fprintf(stderr, "bench_api: wrong results: found %u, %u, %u of %u\n", f_file, f_api,
			f_cached, n);
		return 1;
	}
	wgx_noise_free(&nz);
	wgx_identity_free(&file);
	wgx_identity_free(&api);
	free(json);
	free(file_msgs);
	free(api_msgs);
	return 0;
}
