/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* WireGuard message classification by type, reserved bytes and exact size. BPF only. */
#ifndef WGXDP_BPF_WG_H
#define WGXDP_BPF_WG_H

#include "vmlinux.h"
#include "maps/wgxdp.h"

struct wg_class {
	__u8 class;	/* enum wgx_class */
	__u8 reason;	/* enum wgx_reason */
};

/* The 32-bit type word of a message of this type, as loaded from the packet (little-endian). */
static __always_inline __u32 wg_type_word(__u8 type)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return type;
#else
	return (__u32)type << 24;
#endif
}

static __always_inline enum wgx_class wg_type_class(__u8 type, __u32 len)
{
	switch (type) {
	case WG_MSG_INITIATION:
		return WGX_C_INITIATION;
	case WG_MSG_RESPONSE:
		return WGX_C_RESPONSE;
	case WG_MSG_COOKIE:
		return WGX_C_COOKIE;
	case WG_MSG_DATA:
		return len == WG_LEN_KEEPALIVE ? WGX_C_KEEPALIVE : WGX_C_DATA;
	}
	return WGX_C_UNKNOWN;
}

static __always_inline bool wg_size_ok(__u8 type, __u32 len)
{
	switch (type) {
	case WG_MSG_INITIATION:
		return len == WG_LEN_INITIATION;
	case WG_MSG_RESPONSE:
		return len == WG_LEN_RESPONSE;
	case WG_MSG_COOKIE:
		return len == WG_LEN_COOKIE;
	case WG_MSG_DATA:
		return len >= WG_LEN_DATA_MIN;
	}
	return false;
}

/*
 * Classify a UDP payload of len bytes (len from the UDP header; the caller checked that
 * the first four bytes are in the packet). The type word is little-endian: byte 0 is the
 * type, bytes 1-3 are reserved and must be zero.
 */
static __always_inline struct wg_class wg_classify(const __u8 *hdr, __u32 len)
{
	struct wg_class r;
	__u8 type = hdr[0];

	r.class = wg_type_class(type, len);
	if (r.class == WGX_C_UNKNOWN)
		r.reason = WGX_R_BAD_TYPE;
	else if (hdr[1] | hdr[2] | hdr[3])
		r.reason = WGX_R_BAD_RESERVED;
	else if (!wg_size_ok(type, len))
		r.reason = WGX_R_BAD_SIZE;
	else
		r.reason = WGX_R_OK;
	return r;
}

#endif /* WGXDP_BPF_WG_H */
