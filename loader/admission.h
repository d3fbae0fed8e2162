/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Admission: may this handshake initiation go any further? The cheap checks run before the
 * expensive ones, so that a flood costs as little as it can:
 *   1. the destination port is this interface's (else another daemon's business), and the
 *      source a routable unicast address (no peer gets 127.0.0.1 or a multicast endpoint)
 *   2. mac1 (one keyed BLAKE2s, no X25519): junk and packets for another key stop here
 *      before they can spend any source's budget
 *   3. the source's token bucket (IPv6 per /64): a source that floods valid mac1s
 *      (anyone who knows the gateway's public key can make one) is held to its rate
 *   4. the decryption of the static (one X25519) and of the timestamp (a second one), which
 *      proves the initiator holds the private key of the static it claims
 *   5. the replay check: the timestamp must be newer than the newest one seen for that key
 *      (wgx_replay, kept across peer removal and daemon restarts), as WireGuard does for the
 *      peers it has; wgx_admit_commit records it once the key is known to be a user's.
 * Never prints.
 */
#ifndef WGXDP_ADMISSION_H
#define WGXDP_ADMISSION_H

#include <stdint.h>
#include "loader/noise.h"
#include "loader/table.h"
#include "maps/wgxdp.h"

enum wgx_admit {
	WGX_ADMIT_OK = 0,
	WGX_ADMIT_OTHER_PORT,
	WGX_ADMIT_BAD_SOURCE,
	WGX_ADMIT_BAD_MAC1,
	WGX_ADMIT_THROTTLED,
	WGX_ADMIT_NOT_FOR_US,
	WGX_ADMIT_UNAUTHENTICATED,
	WGX_ADMIT_REPLAYED,
};

struct wgx_admission {
	const struct wgx_noise *noise;
	char wg_ifname[16];
	uint16_t port;			/* host order */
	unsigned int rate, burst;	/* per source */
	int replay_fd;			/* wgx_replay */
	struct wgx_table *rl;
};

int wgx_admission_init(struct wgx_admission *a, const struct wgx_noise *n, const char *wg_ifname,
		       uint16_t port, unsigned int rate, unsigned int burst, int replay_fd);
void wgx_admission_free(struct wgx_admission *a);

/* The verdict on ev at now_ns (CLOCK_MONOTONIC); with WGX_ADMIT_OK, pub and tai are set. */
enum wgx_admit wgx_admit(struct wgx_admission *a, const struct wgx_hs_event *ev, uint64_t now_ns,
			 uint8_t pub[WG_KEY_LEN], uint8_t tai[WG_TAI64N_LEN]);
/* Remember tai as pub's newest timestamp (if it is newer). 0 or -errno. */
int wgx_admit_commit(struct wgx_admission *a, const uint8_t pub[WG_KEY_LEN],
		     const uint8_t tai[WG_TAI64N_LEN]);
const char *wgx_admit_name(enum wgx_admit v);

#endif /* WGXDP_ADMISSION_H */
