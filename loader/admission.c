// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "loader/admission.h"
#include "loader/jit_state.h"
#include "loader/reinject.h"

int wgx_admission_init(struct wgx_admission *a, const struct wgx_noise *n, const char *wg_ifname,
		       uint16_t port, unsigned int rate, unsigned int burst, int replay_fd)
{
	memset(a, 0, sizeof(*a));
	a->noise = n;
	strncpy(a->wg_ifname, wg_ifname, sizeof(a->wg_ifname) - 1);
	a->port = port;
	a->rate = rate;
	a->burst = burst;
	a->replay_fd = replay_fd;
	a->rl = wgx_table_new(16);
	return a->rl ? 0 : -ENOMEM;
}

void wgx_admission_free(struct wgx_admission *a)
{
	wgx_table_free(a->rl);
	a->rl = NULL;
}

enum wgx_admit wgx_admit(struct wgx_admission *a, const struct wgx_hs_event *ev, uint64_t now_ns,
			 uint8_t pub[WG_KEY_LEN], uint8_t tai[WG_TAI64N_LEN])
{
	struct wgx_replay_rec rr;
	struct wgx_peer_key k;
	int err;

	if (ntohs(ev->dport) != a->port)
		return WGX_ADMIT_OTHER_PORT;
	if (!wgx_addr_routable_unicast(ev->family, ev->saddr))
		return WGX_ADMIT_BAD_SOURCE;
	if (wgx_noise_check_mac1(a->noise, ev->msg))
		return WGX_ADMIT_BAD_MAC1;
	if (!wgx_ratelimit_allow(a->rl, ev->family, ev->saddr, now_ns, a->rate, a->burst))
		return WGX_ADMIT_THROTTLED;
	err = wgx_noise_consume_initiation(a->noise, ev->msg, pub, tai);
	if (err == -EBADMSG)
		return WGX_ADMIT_BAD_MAC1;
	if (err == -EKEYREJECTED)
		return WGX_ADMIT_UNAUTHENTICATED;
	if (err)
		return WGX_ADMIT_NOT_FOR_US;
	wgx_peer_key_make(&k, a->wg_ifname, pub);
	if (!bpf_map_lookup_elem(a->replay_fd, &k, &rr) &&
	    memcmp(tai, rr.tai64n, WG_TAI64N_LEN) <= 0)
		return WGX_ADMIT_REPLAYED;
	return WGX_ADMIT_OK;
}

int wgx_admit_commit(struct wgx_admission *a, const uint8_t pub[WG_KEY_LEN],
		     const uint8_t tai[WG_TAI64N_LEN])
{
	struct wgx_replay_rec rr = {};
	struct wgx_peer_key k;
	struct timespec ts;

	wgx_peer_key_make(&k, a->wg_ifname, pub);
	if (!bpf_map_lookup_elem(a->replay_fd, &k, &rr) &&
	    memcmp(tai, rr.tai64n, WG_TAI64N_LEN) <= 0)
		return 0;
	memcpy(rr.tai64n, tai, WG_TAI64N_LEN);
	clock_gettime(CLOCK_REALTIME, &ts);
	rr.seen_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	return bpf_map_update_elem(a->replay_fd, &k, &rr, BPF_ANY) ? -errno : 0;
}

const char *wgx_admit_name(enum wgx_admit v)
{
	switch (v) {
	case WGX_ADMIT_OK:
		return "ok";
	case WGX_ADMIT_OTHER_PORT:
		return "other_port";
	case WGX_ADMIT_BAD_SOURCE:
		return "bad_source";
	case WGX_ADMIT_BAD_MAC1:
		return "bad_mac1";
	case WGX_ADMIT_THROTTLED:
		return "throttled";
	case WGX_ADMIT_NOT_FOR_US:
		return "not_for_us";
	case WGX_ADMIT_UNAUTHENTICATED:
		return "unauthenticated";
	case WGX_ADMIT_REPLAYED:
		return "replayed";
	}
	return "?";
}
