/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Test-side WireGuard initiator: builds a handshake initiation (Noise IKpsk2, message 1)
 * for a given initiator key pair, responder public key, sender index and TAI64N timestamp,
 * so tests and benchmarks can make any number of them. Written apart from loader/noise.c
 * on purpose (OpenSSL's own HMAC here, a hand-rolled one there), so that one checks the
 * other; tests/unit/testdata/capture.sh --check-initiator checks it against wireguard-go.
 * Header-only: included by tests/unit/test_noise.c and tests/bench/bench_noise.c.
 */
#ifndef WGXDP_WG_INITIATOR_H
#define WGXDP_WG_INITIATOR_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define WGI_MSG_LEN 148

static inline int wgi_hash(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_blake2s256(), NULL) &&
		 EVP_DigestUpdate(ctx, a, alen) && EVP_DigestUpdate(ctx, b, blen) &&
		 EVP_DigestFinal_ex(ctx, out, NULL);

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

/* MAC name "HMAC" or "BLAKE2SMAC"; outlen 32 or 16. */
static inline int wgi_mac(uint8_t *out, size_t outlen, const char *name, const uint8_t *key,
			  size_t keylen, const uint8_t *in, size_t inlen)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, name, NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[2];
	size_t got = 0;
	int ok;

	if (!strcmp(name, "HMAC"))
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
							     (char *)"BLAKE2S-256", 0);
	else
		params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outlen);
	params[1] = OSSL_PARAM_construct_end();
	ok = ctx && EVP_MAC_init(ctx, key, keylen, params) && EVP_MAC_update(ctx, in, inlen) &&
	     EVP_MAC_final(ctx, out, &got, outlen) && got == outlen;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok ? 0 : -EIO;
}

/* HKDF over HMAC-BLAKE2s: *c = T1, k = T2 (if k). */
static inline int wgi_kdf2(uint8_t c[32], uint8_t *k, const uint8_t *in, size_t inlen)
{
	uint8_t t0[32], t1[33];

	if (wgi_mac(t0, 32, "HMAC", c, 32, in, inlen))
		return -EIO;
	t1[0] = 1;
	if (wgi_mac(t1, 32, "HMAC", t0, 32, t1, 1))
		return -EIO;
	t1[32] = 2;
	if (k && wgi_mac(k, 32, "HMAC", t0, 32, t1, 33))
		return -EIO;
	memcpy(c, t1, 32);
	return 0;
}

static inline int wgi_seal0(uint8_t *out, const uint8_t key[32], const uint8_t *pt, int len,
			    const uint8_t aad[32])
{
	static const uint8_t nonce[12];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl, ok;

	ok = ctx && EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, nonce) &&
	     EVP_EncryptUpdate(ctx, NULL, &outl, aad, 32) &&
	     EVP_EncryptUpdate(ctx, out, &outl, pt, len) &&
	     EVP_EncryptFinal_ex(ctx, out + outl, &outl) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + len);
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

static inline int wgi_dh(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32])
{
	EVP_PKEY *a = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	EVP_PKEY *b = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
	EVP_PKEY_CTX *ctx = a ? EVP_PKEY_CTX_new(a, NULL) : NULL;
	size_t len = 32;
	int ok = ctx && b && EVP_PKEY_derive_init(ctx) > 0 &&
		 EVP_PKEY_derive_set_peer(ctx, b) > 0 && EVP_PKEY_derive(ctx, out, &len) > 0;

	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	return ok ? 0 : -EIO;
}

/* A fresh X25519 key pair (also for tests that need client keys). */
static inline int wgi_keypair(uint8_t priv[32], uint8_t pub[32])
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	size_t l1 = 32, l2 = 32;
	int ok = k && EVP_PKEY_get_raw_private_key(k, priv, &l1) > 0 &&
		 EVP_PKEY_get_raw_public_key(k, pub, &l2) > 0;

	EVP_PKEY_free(k);
	return ok ? 0 : -EIO;
}

/* TAI64N as WireGuard sends it: 2^62 + 10 + seconds (big-endian), then nanoseconds. */
static inline void wgi_tai64n(uint8_t out[12], uint64_t sec, uint32_t nsec)
{
	uint64_t t = 0x400000000000000aULL + sec;
	int i;

	for (i = 0; i < 8; i++)
		out[i] = t >> (56 - 8 * i);
	for (i = 0; i < 4; i++)
		out[8 + i] = nsec >> (24 - 8 * i);
}

static inline void wgi_tai64n_now(uint8_t out[12])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	wgi_tai64n(out, ts.tv_sec, ts.tv_nsec);
}

/* Recomputes mac1 for resp_pub, as anyone who knows the responder's public key can. */
static inline int wgi_set_mac1(uint8_t msg[WGI_MSG_LEN], const uint8_t resp_pub[32])
{
	uint8_t mac1_key[32];

	if (wgi_hash(mac1_key, "mac1----", 8, resp_pub, 32))
		return -EIO;
	return wgi_mac(msg + 116, 16, "BLAKE2SMAC", mac1_key, 32, msg, 116);
}

/*
 * Builds msg; mac2 is left zero (no cookie). claimed_pub NULL: the public key of init_priv,
 * as a real initiator sends; otherwise that key is sent as the static, which is what an
 * impostor without the key's private half can do. 0 or -EIO.
 */
static inline int wgi_make_initiation_ex(uint8_t msg[WGI_MSG_LEN], const uint8_t init_priv[32],
					 const uint8_t *claimed_pub, const uint8_t resp_pub[32],
					 uint32_t sender_index, const uint8_t tai64n[12])
{
	static const char proto[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
	static const char ident[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
	uint8_t c[32], h[32], k[32], dh[32], e_priv[32], init_pub[32];
	size_t len = 32;
	EVP_PKEY *ip;
	int i;

	ip = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, init_priv, 32);
	if (!ip || EVP_PKEY_get_raw_public_key(ip, init_pub, &len) <= 0) {
		EVP_PKEY_free(ip);
		return -EIO;
	}
	EVP_PKEY_free(ip);
	if (claimed_pub)
		memcpy(init_pub, claimed_pub, 32);

	memset(msg, 0, WGI_MSG_LEN);
	msg[0] = 1;
	for (i = 0; i < 4; i++)
		msg[4 + i] = sender_index >> (8 * i);	/* little-endian */
	if (wgi_hash(c, proto, strlen(proto), "", 0) ||
	    wgi_hash(h, c, 32, ident, strlen(ident)) || wgi_hash(h, h, 32, resp_pub, 32) ||
	    wgi_keypair(e_priv, msg + 8) || wgi_kdf2(c, NULL, msg + 8, 32) ||
	    wgi_hash(h, h, 32, msg + 8, 32) || wgi_dh(dh, e_priv, resp_pub) ||
	    wgi_kdf2(c, k, dh, 32) || wgi_seal0(msg + 40, k, init_pub, 32, h) ||
	    wgi_hash(h, h, 32, msg + 40, 48) || wgi_dh(dh, init_priv, resp_pub) ||
	    wgi_kdf2(c, k, dh, 32) || wgi_seal0(msg + 88, k, tai64n, 12, h) ||
	    wgi_set_mac1(msg, resp_pub))
		return -EIO;
	return 0;
}

static inline int wgi_make_initiation(uint8_t msg[WGI_MSG_LEN], const uint8_t init_priv[32],
				      const uint8_t resp_pub[32], uint32_t sender_index,
				      const uint8_t tai64n[12])
{
	return wgi_make_initiation_ex(msg, init_priv, NULL, resp_pub, sender_index, tai64n);
}

#endif /* WGXDP_WG_INITIATOR_H */
