// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * loader/noise.c against real initiations from wireguard-go (testdata/initiations-wggo.txt,
 * made by testdata/capture.sh) and against the test-side initiator (wg_initiator.h).
 *
 *   test_noise                                      run the tests (from the repository root,
 *                                                   or with WGXDP_TESTDATA=dir)
 *   test_noise --emit-initiation CLIENT_PRIV RESP_PUB
 *                                                   print one initiation in hex (base64 keys),
 *                                                   for capture.sh --check-initiator
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/noise.h"
#include "wg_initiator.h"

#include "check.h"

#define CHECK_RET(got, want, what)                                                              \
	({                                                                                      \
		int __g = (got), __w = (want);                                                  \
		CHECK(__g == __w, "%s: expected %d (%s), got %d (%s)", what, __w,               \
		      strerror(-__w), __g, strerror(-__g));                                     \
	})

static bool check_key(const uint8_t got[32], const uint8_t want[32], const char *what)
{
	char g[45], w[45];

	wgx_key_to_base64(g, got);
	wgx_key_to_base64(w, want);
	return CHECK(!memcmp(got, want, 32), "%s: expected %s, got %s", what, w, g);
}

static int unhex(uint8_t *out, size_t len, const char *s)
{
	size_t i;
	unsigned int b;

	if (strlen(s) != 2 * len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return -EINVAL;
		out[i] = b;
	}
	return 0;
}

/* ---- fixtures ---- */

struct capture {
	uint8_t client_pub[32];
	uint64_t captured_at;
	uint8_t msg[148];
};

static uint8_t resp_priv[32], resp_pub[32];
static struct capture caps[16];
static int nr_caps;

static int load_captures(void)
{
	const char *dir = getenv("WGXDP_TESTDATA") ?: "tests/unit/testdata";
	char path[512], line[1024], word[32], val[512];
	FILE *f;
	int bad = 0;

	snprintf(path, sizeof(path), "%s/initiations-wggo.txt", dir);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "FAIL: cannot open %s: %s (run from the repository root)\n", path,
			strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || sscanf(line, "%31s %511s", word, val) != 2)
			continue;
		if (!strcmp(word, "responder_private")) {
			bad |= wgx_key_from_base64(resp_priv, val);
		} else if (!strcmp(word, "responder_public")) {
			bad |= wgx_key_from_base64(resp_pub, val);
		} else if (!strcmp(word, "client_public")) {
			if (nr_caps == (int)(sizeof(caps) / sizeof(caps[0])))
				break;
			bad |= wgx_key_from_base64(caps[nr_caps++].client_pub, val);
		} else if (nr_caps && !strcmp(word, "captured_at")) {
			caps[nr_caps - 1].captured_at = strtoull(val, NULL, 10);
		} else if (nr_caps && !strcmp(word, "initiation")) {
			bad |= unhex(caps[nr_caps - 1].msg, 148, val);
		}
	}
	fclose(f);
	if (bad || nr_caps == 0) {
		fprintf(stderr, "FAIL: %s: unreadable fixture (%d captures)\n", path, nr_caps);
		return -EINVAL;
	}
	return 0;
}

static uint64_t tai64n_unix_sec(const uint8_t t[12])
{
	uint64_t s = 0;
	int i;

	for (i = 0; i < 8; i++)
		s = (s << 8) | t[i];
	return s - 0x400000000000000aULL;
}

static uint32_t tai64n_nsec(const uint8_t t[12])
{
	return (uint32_t)t[8] << 24 | t[9] << 16 | t[10] << 8 | t[11];
}

/* ---- tests ---- */

static void test_base64(void)
{
	static const char *bad[] = {
		"",
		"hr3jqmdJ1uPJUICAHoCiWbi+ZsopPOBO++t65AF9qyk",	/* 43: no '=' */
		"hr3jqmdJ1uPJUICAHoCiWbi+ZsopPOBO++t65AF9qyk==",
		"hr3jqmdJ1uPJUICAHoCiWbi+ZsopPOBO++t65AF9qy!=",
		"hr3jqmdJ1uPJUICAHoCiWbi+ZsopPOBO++t65AF9qyl=",	/* low bits set */
		"hr3jqmdJ1uPJUICAHoCiWbi-ZsopPOBO++t65AF9qyk=",	/* base64url char */
		"hr3jqmdJ1uPJUICAHoCiWbi+ZsopPOBO++t65AF9q=k=",
	};
	const char *good = "hr3jqmdJ1uPJUICAHoCiWbi+ZsopPOBO++t65AF9qyk=";
	uint8_t key[32], key2[32];
	char out[45];
	size_t i;

	CHECK_RET(wgx_key_from_base64(key, good), 0, good);
	wgx_key_to_base64(out, key);
	CHECK(!strcmp(out, good), "round trip: expected %s, got %s", good, out);
	wgx_key_to_base64url(out, key);
	CHECK(!strcmp(out, "hr3jqmdJ1uPJUICAHoCiWbi-ZsopPOBO--t65AF9qyk"),
	      "base64url: expected hr3jqmdJ1uPJUICAHoCiWbi-ZsopPOBO--t65AF9qyk, got %s", out);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(key2, key, 32);
		CHECK_RET(wgx_key_from_base64(key2, bad[i]), -EINVAL, bad[i]);
		CHECK(!memcmp(key, key2, 32), "%s: key overwritten on error", bad[i]);
	}
}

/* The responder's public key as wg(8) printed it. */
static void test_init(struct wgx_noise *n)
{
	uint8_t pub[32];

	CHECK_RET(wgx_pubkey_from_priv(pub, resp_priv), 0, "wgx_pubkey_from_priv");
	check_key(pub, resp_pub, "public key of responder_private (wg pubkey)");
	check_key(n->pub, resp_pub, "wgx_noise_init: n->pub");
}

static void test_real_captures(const struct wgx_noise *n)
{
	uint8_t spub[32], ts[12];
	char what[64];
	int i;

	for (i = 0; i < nr_caps; i++) {
		snprintf(what, sizeof(what), "capture %d: mac1", i);
		CHECK_RET(wgx_noise_check_mac1(n, caps[i].msg), 0, what);
		snprintf(what, sizeof(what), "capture %d: consume", i);
		memset(spub, 0, sizeof(spub));
		if (!CHECK_RET(wgx_noise_consume_initiation(n, caps[i].msg, spub, ts), 0, what))
			continue;
		snprintf(what, sizeof(what), "capture %d: client public key", i);
		check_key(spub, caps[i].client_pub, what);
		/* The client's clock and the capture's are the same host's: within seconds. */
		CHECK(tai64n_unix_sec(ts) + 5 >= caps[i].captured_at &&
			      tai64n_unix_sec(ts) <= caps[i].captured_at + 5,
		      "capture %d: TAI64N: expected about %" PRIu64 " (captured_at), got %" PRIu64,
		      i, caps[i].captured_at, tai64n_unix_sec(ts));
		CHECK(tai64n_nsec(ts) < 1000000000, "capture %d: TAI64N nanoseconds %u >= 1e9",
		      i, tai64n_nsec(ts));
	}
}

/* Corrupted real initiations: each fails at the step that should catch it. */
static void test_corrupted(const struct wgx_noise *n)
{
	static const struct {
		const char *what;
		int off;		/* byte to flip, -1 for none */
		bool remac;		/* recompute mac1 after the flip, as anyone can */
		int want;
	} cases[] = {
		{ "untouched", -1, false, 0 },
		{ "mac2 flipped (not checked)", 140, false, 0 },
		{ "type 2", 0, false, -EBADMSG },
		{ "reserved byte", 2, true, -EBADMSG },
		{ "mac1 flipped", 120, false, -EBADMSG },
		{ "sender index flipped, mac1 not redone", 5, false, -EBADMSG },
		{ "encrypted_static flipped, mac1 not redone", 50, false, -EBADMSG },
		{ "ephemeral flipped, mac1 redone", 10, true, -ENOKEY },
		{ "encrypted_static flipped, mac1 redone", 50, true, -ENOKEY },
		{ "encrypted_static tag flipped, mac1 redone", 80, true, -ENOKEY },
		{ "encrypted_timestamp flipped, mac1 redone", 90, true, -EKEYREJECTED },
		{ "encrypted_timestamp tag flipped, mac1 redone", 110, true, -EKEYREJECTED },
	};
	uint8_t msg[148], spub[32], ts[12];
	char what[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(msg, caps[0].msg, sizeof(msg));
		if (cases[i].off == 0)
			msg[0] = 2;
		else if (cases[i].off > 0)
			msg[cases[i].off] ^= 0x01;
		if (cases[i].remac)
			wgi_set_mac1(msg, n->pub);
		memset(spub, 0xaa, sizeof(spub));
		snprintf(what, sizeof(what), "real capture, %s", cases[i].what);
		CHECK_RET(wgx_noise_consume_initiation(n, msg, spub, ts), cases[i].want, what);
		if (cases[i].want)
			CHECK(spub[0] == 0xaa && spub[31] == 0xaa,
			      "%s: static_pub written on failure", what);
	}

	/* A low-order ephemeral (all zero): X25519 gives zero, which must not pass. */
	memcpy(msg, caps[0].msg, sizeof(msg));
	memset(msg + 8, 0, 32);
	wgi_set_mac1(msg, n->pub);
	CHECK_RET(wgx_noise_consume_initiation(n, msg, spub, ts), -ENOKEY,
		  "zero ephemeral, mac1 redone");
}

/* Made for another responder: our mac1 fails; with our mac1 forged, the static does not open. */
static void test_other_responder(const struct wgx_noise *n)
{
	uint8_t other_priv[32], other_pub[32], cpriv[32], cpub[32], msg[148], spub[32], ts[12];
	struct wgx_noise other;

	wgi_keypair(other_priv, other_pub);
	wgi_keypair(cpriv, cpub);
	wgi_tai64n_now(ts);
	if (!CHECK_RET(wgi_make_initiation(msg, cpriv, other_pub, 7, ts), 0, "initiator"))
		return;
	CHECK_RET(wgx_noise_consume_initiation(n, msg, spub, ts), -EBADMSG,
		  "initiation for another responder key");
	wgi_set_mac1(msg, n->pub);
	CHECK_RET(wgx_noise_consume_initiation(n, msg, spub, ts), -ENOKEY,
		  "initiation for another responder key, with our mac1");

	/* The real captures, seen by another responder. */
	if (CHECK_RET(wgx_noise_init(&other, other_priv), 0, "wgx_noise_init(other)")) {
		CHECK_RET(wgx_noise_consume_initiation(&other, caps[0].msg, spub, ts), -EBADMSG,
			  "real capture at another responder");
		wgx_noise_free(&other);
	}
}

/* The test initiator round trip; an impostor claiming a key without its private half. */
static void test_initiator(const struct wgx_noise *n)
{
	uint8_t cpriv[32], cpub[32], vpriv[32], vpub[32], msg[148], spub[32], ts[12], got[12];
	uint32_t idx;
	int i;

	for (i = 0; i < 20; i++) {
		wgi_keypair(cpriv, cpub);
		wgi_tai64n(ts, 1700000000u + i, 123456789u * i % 1000000000u);
		idx = 0x01020304u * (i + 1);
		if (!CHECK_RET(wgi_make_initiation(msg, cpriv, n->pub, idx, ts), 0, "initiator"))
			return;
		CHECK(msg[4] == (idx & 0xff) && msg[7] == idx >> 24,
		      "sender index %#x not little-endian at bytes 4-7", idx);
		if (!CHECK_RET(wgx_noise_consume_initiation(n, msg, spub, got), 0,
			       "test initiator's initiation"))
			continue;
		check_key(spub, cpub, "test initiator's static key");
		CHECK(!memcmp(ts, got, 12), "timestamp: expected %" PRIu64 ".%09u, got %" PRIu64
		      ".%09u", tai64n_unix_sec(ts), tai64n_nsec(ts), tai64n_unix_sec(got),
		      tai64n_nsec(got));
	}

	/* Impostor: knows the victim's public key only. Step 4 opens, step 5 does not. */
	wgi_keypair(vpriv, vpub);
	wgi_keypair(cpriv, cpub);
	wgi_tai64n_now(ts);
	wgi_make_initiation_ex(msg, cpriv, vpub, n->pub, 1, ts);
	CHECK_RET(wgx_noise_consume_initiation(n, msg, spub, got), -EKEYREJECTED,
		  "impostor claiming another client's public key");
}

/* Random messages: never a crash, never a success. */
static void test_garbage(const struct wgx_noise *n)
{
	uint8_t msg[148], spub[32], ts[12];
	int i, r, bad = 0;

	srand(42);
	for (i = 0; i < 2000; i++) {
		for (r = 0; r < 148; r++)
			msg[r] = rand();
		msg[0] = 1;
		msg[1] = msg[2] = msg[3] = 0;
		if (i & 1)
			wgi_set_mac1(msg, n->pub);
		r = wgx_noise_consume_initiation(n, msg, spub, ts);
		if (r != ((i & 1) ? -ENOKEY : -EBADMSG))
			bad++;
	}
	CHECK(!bad, "random initiations: %d of 2000 gave other than -EBADMSG (bad mac1) or "
	      "-ENOKEY (forged mac1)", bad);
}

/* The daemon may consume on several threads: one struct wgx_noise, read only. */
static void *consume_all(void *arg)
{
	const struct wgx_noise *n = arg;
	uint8_t spub[32], ts[12];
	long bad = 0;
	int round, i;

	for (round = 0; round < 50; round++)
		for (i = 0; i < nr_caps; i++)
			if (wgx_noise_consume_initiation(n, caps[i].msg, spub, ts) ||
			    memcmp(spub, caps[i].client_pub, 32))
				bad++;
	return (void *)bad;
}

static void test_threads(const struct wgx_noise *n)
{
	pthread_t t[4];
	void *bad;
	long total = 0;
	int i, started = 0;

	for (i = 0; i < 4; i++)
		if (!pthread_create(&t[i], NULL, consume_all, (void *)n))
			started++;
	for (i = 0; i < started; i++) {
		pthread_join(t[i], &bad);
		total += (long)bad;
	}
	CHECK(started == 4 && total == 0, "4 threads x 50 rounds of the captures: %d threads, "
	      "%ld wrong results", started, total);
}

static int emit(const char *priv_b64, const char *pub_b64)
{
	uint8_t priv[32], pub[32], msg[148], ts[12];
	int i;

	if (wgx_key_from_base64(priv, priv_b64) || wgx_key_from_base64(pub, pub_b64)) {
		fprintf(stderr, "test_noise: --emit-initiation: bad base64 key\n");
		return 2;
	}
	wgi_tai64n_now(ts);
	if (wgi_make_initiation(msg, priv, pub, 0x11223344, ts)) {
		fprintf(stderr, "test_noise: --emit-initiation: libcrypto failed\n");
		return 1;
	}
	for (i = 0; i < 148; i++)
		printf("%02x", msg[i]);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct wgx_noise n;

	if (argc == 4 && !strcmp(argv[1], "--emit-initiation"))
		return emit(argv[2], argv[3]);

	test_base64();
	if (load_captures()) {
		failed++;
	} else if (CHECK_RET(wgx_noise_init(&n, resp_priv), 0, "wgx_noise_init")) {
		test_init(&n);
		test_real_captures(&n);
		test_corrupted(&n);
		test_other_responder(&n);
		test_initiator(&n);
		test_garbage(&n);
		test_threads(&n);
		wgx_noise_free(&n);
	}
	printf("test_noise: %d captures from wireguard-go\n", nr_caps);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
