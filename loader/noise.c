// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Noise IKpsk2, responder side of the first message (../shared/WIREGUARD.md), on OpenSSL 3
 * libcrypto. Algorithms are fetched once per process; the per-interface part (h1, the mac1
 * key, the EVP_PKEY of the private key) once per wgx_noise_init. Thread-safe: the hot path
 * only reads struct wgx_noise.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "loader/noise.h"

#define WG_MSG_INIT_LEN		148
#define WG_MAC1_OFF		116
#define WG_HASH_LEN		32
#define WG_AEAD_TAG_LEN		16
#define BLAKE2S_BLOCK_LEN	64

/* Offsets in the initiation message. */
#define OFF_EPHEMERAL	8
#define OFF_STATIC	40
#define OFF_TIMESTAMP	88

static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
static const char mac1_label[] = "mac1----";

static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_blake2s;
static EVP_MAC *mac_blake2s;
static EVP_CIPHER *cipher_chachapoly;
static uint8_t c0[WG_HASH_LEN], h0[WG_HASH_LEN];
static int algs_err;
static pthread_key_t fromdata_key;	/* per thread: EVP_PKEY_CTX for X25519 fromdata */

static void fromdata_ctx_free(void *ctx)
{
	EVP_PKEY_CTX_free(ctx);
}

static int blake2s(uint8_t out[WG_HASH_LEN], const void *a, size_t alen, const void *b,
		   size_t blen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, md_blake2s, NULL) && EVP_DigestUpdate(ctx, a, alen) &&
	     (!blen || EVP_DigestUpdate(ctx, b, blen)) && EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

static void fetch_algs(void)
{
	md_blake2s = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
	mac_blake2s = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	cipher_chachapoly = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	if (!md_blake2s || !mac_blake2s || !cipher_chachapoly ||
	    pthread_key_create(&fromdata_key, fromdata_ctx_free)) {
		algs_err = -EOPNOTSUPP;
		return;
	}
	algs_err = blake2s(c0, construction, strlen(construction), NULL, 0);
	if (!algs_err)
		algs_err = blake2s(h0, c0, sizeof(c0), identifier, strlen(identifier));
}

static int algs_ready(void)
{
	pthread_once(&algs_once, fetch_algs);
	return algs_err;
}

/* HMAC-BLAKE2s (RFC 2104 over BLAKE2s-256, 64-byte blocks), key at most one block. */
static int hmac_blake2s(uint8_t out[WG_HASH_LEN], const uint8_t *key, size_t keylen,
			const uint8_t *in, size_t inlen)
{
	uint8_t pad[BLAKE2S_BLOCK_LEN], inner[WG_HASH_LEN];
	size_t i;
	int ret;

	memset(pad, 0, sizeof(pad));
	memcpy(pad, key, keylen);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36;
	ret = blake2s(inner, pad, sizeof(pad), in, inlen);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36 ^ 0x5c;
	if (!ret)
		ret = blake2s(out, pad, sizeof(pad), inner, sizeof(inner));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
	return ret;
}

/* KDF2: c = T1, k = T2 (k may be NULL for KDF1). c is both the chaining key in and out. */
static int kdf(uint8_t c[WG_HASH_LEN], uint8_t k[WG_HASH_LEN], const uint8_t *in, size_t inlen)
{
	uint8_t t0[WG_HASH_LEN], t1[WG_HASH_LEN + 1], t2[WG_HASH_LEN];
	int ret;

	ret = hmac_blake2s(t0, c, WG_HASH_LEN, in, inlen);
	if (!ret) {
		t1[0] = 0x01;
		ret = hmac_blake2s(t1, t0, sizeof(t0), t1, 1);
	}
	if (!ret && k) {
		t1[WG_HASH_LEN] = 0x02;
		ret = hmac_blake2s(t2, t0, sizeof(t0), t1, sizeof(t1));
		memcpy(k, t2, WG_HASH_LEN);
	}
	if (!ret)
		memcpy(c, t1, WG_HASH_LEN);
	OPENSSL_cleanse(t0, sizeof(t0));
	OPENSSL_cleanse(t1, sizeof(t1));
	OPENSSL_cleanse(t2, sizeof(t2));
	return ret;
}

/* ChaCha20-Poly1305 open, counter 0: ct is len plaintext bytes followed by the 16-byte tag. */
static int aead_open0(uint8_t *out, const uint8_t key[32], const uint8_t *ct, size_t len,
		      const uint8_t aad[WG_HASH_LEN])
{
	static const uint8_t nonce[12];	/* 4 zero bytes || counter 0 (little-endian) */
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl, ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DecryptInit_ex2(ctx, cipher_chachapoly, key, nonce, NULL) &&
	     EVP_DecryptUpdate(ctx, NULL, &outl, aad, WG_HASH_LEN) &&
	     EVP_DecryptUpdate(ctx, out, &outl, ct, (int)len) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, WG_AEAD_TAG_LEN,
				 (void *)(ct + len)) &&
	     EVP_DecryptFinal_ex(ctx, out + outl, &outl);
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -EBADMSG;
}

/*
 * Each thread keeps an EVP_PKEY_CTX ready to build X25519 public keys: the peer key is
 * made with EVP_PKEY_fromdata on it, 1 us, where EVP_PKEY_new_raw_public_key looks the
 * algorithm up again every time, 12 us (OpenSSL 3.0; an X25519 itself is about 30 us).
 */
static EVP_PKEY *x25519_public(const uint8_t pub[32])
{
	EVP_PKEY_CTX *ctx = pthread_getspecific(fromdata_key);
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, 32),
		OSSL_PARAM_construct_end(),
	};

	if (!ctx) {
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
		if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
		    pthread_setspecific(fromdata_key, ctx)) {
			EVP_PKEY_CTX_free(ctx);
			return NULL;
		}
	}
	if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		return NULL;
	return pkey;
}

/* X25519(priv, peer). OpenSSL fails on an all-zero result (a low-order point). */
static int x25519(uint8_t out[32], EVP_PKEY *priv, const uint8_t peer_pub[32])
{
	EVP_PKEY *peer;
	EVP_PKEY_CTX *ctx;
	size_t len = 32;
	int ok;

	peer = x25519_public(peer_pub);
	if (!peer)
		return -EINVAL;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	ok = ctx && EVP_PKEY_derive_init(ctx) > 0 && EVP_PKEY_derive_set_peer(ctx, peer) > 0 &&
	     EVP_PKEY_derive(ctx, out, &len) > 0 && len == 32;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	return ok ? 0 : -EINVAL;
}

/* The X25519 key of priv, with its public half in pub: the one place a public key is derived. */
static EVP_PKEY *x25519_private(uint8_t pub[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN])
{
	EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, WG_KEY_LEN);
	size_t len = WG_KEY_LEN;

	if (pkey && (EVP_PKEY_get_raw_public_key(pkey, pub, &len) <= 0 || len != WG_KEY_LEN)) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	return pkey;
}

int wgx_pubkey_from_priv(uint8_t pub[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN])
{
	EVP_PKEY *pkey = x25519_private(pub, priv);

	if (!pkey)
		return -EINVAL;
	EVP_PKEY_free(pkey);
	return 0;
}

int wgx_noise_init(struct wgx_noise *n, const uint8_t priv[WG_KEY_LEN])
{
	EVP_PKEY *pkey;
	int ret;

	memset(n, 0, sizeof(*n));
	ret = algs_ready();
	if (ret)
		return ret;
	pkey = x25519_private(n->pub, priv);
	if (!pkey)
		return -EINVAL;
	memcpy(n->priv, priv, WG_KEY_LEN);
	n->pkey = pkey;
	ret = blake2s(n->h1, h0, sizeof(h0), n->pub, WG_KEY_LEN);
	if (!ret)
		ret = blake2s(n->mac1_key, mac1_label, strlen(mac1_label), n->pub, WG_KEY_LEN);
	if (ret)
		wgx_noise_free(n);
	return ret;
}

void wgx_noise_free(struct wgx_noise *n)
{
	EVP_PKEY_free(n->pkey);
	OPENSSL_cleanse(n, sizeof(*n));
}

int wgx_noise_check_mac1(const struct wgx_noise *n, const uint8_t msg[148])
{
	uint8_t mac[16];
	size_t outl = 0;
	size_t size = sizeof(mac);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *ctx;
	int ok;

	if (!n->pkey || algs_ready())
		return -EINVAL;
	ctx = EVP_MAC_CTX_new(mac_blake2s);
	if (!ctx)
		return -ENOMEM;
	/* The output size is part of the BLAKE2s parameter block: set it, do not truncate. */
	ok = EVP_MAC_init(ctx, n->mac1_key, sizeof(n->mac1_key), params) &&
	     EVP_MAC_update(ctx, msg, WG_MAC1_OFF) &&
	     EVP_MAC_final(ctx, mac, &outl, sizeof(mac)) && outl == sizeof(mac);
	EVP_MAC_CTX_free(ctx);
	if (!ok)
		return -EIO;
	return CRYPTO_memcmp(mac, msg + WG_MAC1_OFF, sizeof(mac)) ? -EBADMSG : 0;
}

int wgx_noise_consume_initiation(const struct wgx_noise *n, const uint8_t msg[148],
				 uint8_t static_pub[WG_KEY_LEN], uint8_t tai64n[WG_TAI64N_LEN])
{
	uint8_t c[WG_HASH_LEN], h[WG_HASH_LEN], k[32], dh[32];
	uint8_t spub[WG_KEY_LEN], ts[WG_TAI64N_LEN];
	const uint8_t *eph = msg + OFF_EPHEMERAL;
	int ret;

	if (msg[0] != 1 || msg[1] || msg[2] || msg[3])
		return -EBADMSG;
	ret = wgx_noise_check_mac1(n, msg);
	if (ret)
		return ret;

	/* 1-2: H = HASH(H1 || e), C = KDF1(C0, e) */
	memcpy(c, c0, sizeof(c));
	ret = kdf(c, NULL, eph, 32);
	if (!ret)
		ret = blake2s(h, n->h1, sizeof(n->h1), eph, 32);
	/* 3: (C, k) = KDF2(C, DH(S_priv, e)); a low-order e fails here: not for us */
	if (!ret && x25519(dh, n->pkey, eph))
		ret = -ENOKEY;
	if (!ret)
		ret = kdf(c, k, dh, sizeof(dh));
	/* 4: the initiator's static key; a failed tag means another responder's message */
	if (!ret && aead_open0(spub, k, msg + OFF_STATIC, WG_KEY_LEN, h))
		ret = -ENOKEY;
	if (!ret)
		ret = blake2s(h, h, sizeof(h), msg + OFF_STATIC, WG_KEY_LEN + WG_AEAD_TAG_LEN);
	/* 5: (C, k) = KDF2(C, DH(S_priv, S_init)); the timestamp proves the initiator's key */
	if (!ret && x25519(dh, n->pkey, spub))
		ret = -EKEYREJECTED;
	if (!ret)
		ret = kdf(c, k, dh, sizeof(dh));
	if (!ret && aead_open0(ts, k, msg + OFF_TIMESTAMP, WG_TAI64N_LEN, h))
		ret = -EKEYREJECTED;
	if (!ret) {
		memcpy(static_pub, spub, WG_KEY_LEN);
		memcpy(tai64n, ts, WG_TAI64N_LEN);
	}
	OPENSSL_cleanse(c, sizeof(c));
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(dh, sizeof(dh));
	return ret;
}

/* base64 (RFC 4648) of exactly 32 bytes: 43 characters then '=' (or nothing for base64url). */
static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void encode(char out[45], const uint8_t key[WG_KEY_LEN], const char *alphabet, bool pad)
{
	unsigned int i, o = 0, acc = 0, bits = 0;

	for (i = 0; i < WG_KEY_LEN; i++) {
		acc = (acc << 8) | key[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = alphabet[(acc >> bits) & 63];
		}
	}
	out[o++] = alphabet[(acc << (6 - bits)) & 63];	/* 256 = 42 * 6 + 4: 2 padding bits */
	if (pad)
		out[o++] = '=';
	out[o] = '\0';
}

void wgx_key_to_base64(char out[45], const uint8_t key[WG_KEY_LEN])
{
	encode(out, key, b64_std, true);
}

void wgx_key_to_base64url(char out[45], const uint8_t key[WG_KEY_LEN])
{
	encode(out, key, b64_url, false);
}

/* Strict: 44 characters, '=' last, and the unused low bits zero, so one key has one text. */
int wgx_key_from_base64(uint8_t key[WG_KEY_LEN], const char *b64)
{
	unsigned int i, o = 0, acc = 0, bits = 0;
	uint8_t tmp[WG_KEY_LEN];
	const char *p;

	if (!b64 || strlen(b64) != 44 || b64[43] != '=')
		return -EINVAL;
	for (i = 0; i < 43; i++) {
		p = b64[i] ? strchr(b64_std, b64[i]) : NULL;
		if (!p)
			return -EINVAL;
		acc = (acc << 6) | (unsigned int)(p - b64_std);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			tmp[o++] = (acc >> bits) & 0xff;
		}
	}
	if (acc & ((1u << bits) - 1))
		return -EINVAL;
	memcpy(key, tmp, WG_KEY_LEN);
	return 0;
}
