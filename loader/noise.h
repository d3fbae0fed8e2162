/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Noise IKpsk2 responder side, first message only: recover the initiator's static public
 * key and TAI64N timestamp from a WireGuard handshake initiation (../shared/WIREGUARD.md).
 * OpenSSL libcrypto: X25519, BLAKE2s, HMAC-BLAKE2s, ChaCha20-Poly1305. Never prints.
 */
#ifndef WGXDP_NOISE_H
#define WGXDP_NOISE_H

#include <stddef.h>
#include <stdint.h>

#define WG_KEY_LEN	32
#define WG_TAI64N_LEN	12

/* Per-interface responder state, computed once from the private key. */
struct wgx_noise {
	uint8_t priv[WG_KEY_LEN];
	uint8_t pub[WG_KEY_LEN];
	uint8_t h1[32];		/* BLAKE2s(H0 || S_pub) */
	uint8_t mac1_key[32];	/* BLAKE2s("mac1----" || S_pub) */
	void *pkey;		/* EVP_PKEY of priv, reused for every X25519 */
};

/* Returns 0 or -errno. Derives pub, h1 and mac1_key. */
int wgx_noise_init(struct wgx_noise *n, const uint8_t priv[WG_KEY_LEN]);
void wgx_noise_free(struct wgx_noise *n);

/* Cheap check (no X25519): mac1 of msg[0:116] under n->mac1_key. 0 or -EBADMSG. */
int wgx_noise_check_mac1(const struct wgx_noise *n, const uint8_t msg[148]);

/*
 * Full consumption of an initiation (type 1, 148 bytes): mac1, then steps 1-5.
 * On success 0 with *static_pub and *tai64n filled. -EBADMSG: bad type/mac1;
 * -ENOKEY: not made for this responder (AEAD of the static failed); -EKEYREJECTED: the
 * timestamp did not decrypt (the initiator does not hold the private key of static_pub).
 */
int wgx_noise_consume_initiation(const struct wgx_noise *n, const uint8_t msg[148],
				 uint8_t static_pub[WG_KEY_LEN], uint8_t tai64n[WG_TAI64N_LEN]);

/*
 * Key helpers. base64 keys are 44 characters with one '=' as wg(8) prints them.
 * wgx_pubkey_from_priv: the X25519 public key of priv (also what wgx_noise_init derives, and
 * the device's public key for the UAPI, which does not report it). 0 or -EINVAL.
 */
int wgx_pubkey_from_priv(uint8_t pub[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN]);
int wgx_key_from_base64(uint8_t key[WG_KEY_LEN], const char *b64);
void wgx_key_to_base64(char out[45], const uint8_t key[WG_KEY_LEN]);
void wgx_key_to_base64url(char out[45], const uint8_t key[WG_KEY_LEN]); /* no padding */

#endif /* WGXDP_NOISE_H */
