/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The tunnel programs' maps (maps/wgxdp.h, the tunnel section, says what each holds), all
 * pinned by name in <pin_dir>/tunnel/. Included once, by bpf/tunnel.bpf.c.
 * The big hashes are not preallocated: a gateway with ten users should not pay for a million.
 */
#ifndef WGXDP_BPF_TUN_MAPS_H
#define WGXDP_BPF_TUN_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps/wgxdp.h"

/*
 * The inner maps' templates: userspace creates each policy's tries exactly like these (the
 * kernel compares type, flags, key, value size and max_entries). Sizes, not __type: clang
 * leaves the types of an inner definition as forward declarations in BTF.
 */
struct wgx_tun_trie4 {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WGX_TUN_MAX_PREFIXES);
	__uint(key_size, sizeof(struct wgx_lpm4));
	__uint(value_size, sizeof(struct wgx_tun_rules));
};

struct wgx_tun_trie6 {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WGX_TUN_MAX_PREFIXES);
	__uint(key_size, sizeof(struct wgx_lpm6));
	__uint(value_size, sizeof(struct wgx_tun_rules));
};

/* Outer maps, keyed by policy id: allow rules by destination, inbound rules by source. */
#define TUN_OUTER(name, inner)						\
	struct {							\
		__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);		\
		__uint(max_entries, WGX_TUN_MAX_POLICIES);		\
		__type(key, __u32);					\
		__uint(pinning, LIBBPF_PIN_BY_NAME);			\
		__array(values, struct inner);	/* last: a flexible array */ \
	} name SEC(".maps")

TUN_OUTER(wgx_tun_pol4, wgx_tun_trie4);
TUN_OUTER(wgx_tun_pol6, wgx_tun_trie6);
TUN_OUTER(wgx_tun_in4, wgx_tun_trie4);
TUN_OUTER(wgx_tun_in6, wgx_tun_trie6);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WGX_TUN_MAX_USERS);
	__type(key, __be32);
	__type(value, struct wgx_tun_user);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_addr4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WGX_TUN_MAX_USERS);
	__type(key, struct wgx_in6);
	__type(value, struct wgx_tun_user);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_addr6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WGX_TUN_MAX_NETS);
	__type(key, struct wgx_lpm4);
	__type(value, struct wgx_tun_user);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_net4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WGX_TUN_MAX_NETS);
	__type(key, struct wgx_lpm6);
	__type(value, struct wgx_tun_user);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_net6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WGX_TUN_MAX_USERS);
	__type(key, __u32);
	__type(value, struct wgx_tun_name);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);	/* group_id is 16 bits */
	__type(key, __u32);
	__type(value, struct wgx_tun_group);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_groups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WGX_TUN_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct wgx_tun_pset);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_psets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wgx_tun_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WGX_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct wgx_tun_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_ifaces SEC(".maps");

/* max_entries: `wgxdp attach --max-flows` sets it before the first load */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WGX_TUN_MAX_FLOWS);
	__type(key, struct wgx_flow_key);
	__type(value, struct wgx_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WGX_TUN_MAX_USERS);
	__type(key, __u32);
	__type(value, struct wgx_tun_acct);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_acct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WGX_TUN_MAX_USERS);
	__type(key, __u32);
	__type(value, struct wgx_tun_fgone);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_fgone SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_fevents SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WGX_TUN_MAX_FRAGS);
	__type(key, struct wgx_frag_key);
	__type(value, struct wgx_frag);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_frags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WGX_TUN_CTR_ENTRIES);
	__type(key, __u32);
	__type(value, struct wgx_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, WGX_TUN_MAX_DENY_USERS);
	__type(key, __u32);
	__type(value, struct wgx_tun_deny_count);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_denies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WGX_TUN_MAX_DENY_USERS);
	__type(key, __u32);
	__type(value, struct wgx_tun_evrl);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgx_tun_evrl SEC(".maps");

#endif /* WGXDP_BPF_TUN_MAPS_H */
