/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Structures shared by the BPF programs (bpf/) and userspace (loader/, tools/, tests/).
 * Included by both sides; BPF includes vmlinux.h first, userspace <linux/types.h>.
 * Declare a shared type here once and nowhere else.
 */
#ifndef WGXDP_MAPS_H
#define WGXDP_MAPS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/*
 * Default bpffs directory. Its layout: one subdirectory per owner, each map pinned by name in
 * its owner's subdirectory; nobody removes what another owner pinned. The lock that serialises
 * wgxdp invocations stays on the pin directory itself (flock).
 *   <pin_dir>/uplink/	the uplink program's maps: wgx_counters, wgx_events, wgx_ifaces
 *   <pin_dir>/jit/	the daemon's (`wgxdp run`) state: wgx_peers, wgx_replay, wgx_jit_stats
 *   <pin_dir>/tunnel/	the tunnel (tc) programs' maps: users, policies, flows, counters,
 *			deny events (created by `wgxdp attach --wg`; the daemon writes the
 *			users and policies into them)
 */
#define WGX_PIN_DIR_DEFAULT "/sys/fs/bpf/wgxdp"
#define WGX_PIN_SUB_UPLINK	"uplink"
#define WGX_PIN_SUB_JIT		"jit"
#define WGX_PIN_SUB_TUNNEL	"tunnel"

#define WGX_MAX_PORTS	8	/* WireGuard listen ports per attached interface */
#define WGX_MAX_IFACES	32	/* interfaces attached at once (counter slots) */
#define WGX_MAX_VLANS	2	/* 802.1Q / 802.1ad tags parsed */
#define WGX_MAX_EXTHDR	4	/* IPv6 extension headers skipped before giving up */

/* WireGuard message types and their exact UDP payload sizes (../shared/WIREGUARD.md). */
enum {
	WG_MSG_INITIATION = 1,
	WG_MSG_RESPONSE = 2,
	WG_MSG_COOKIE = 3,
	WG_MSG_DATA = 4,
};
#define WG_LEN_INITIATION	148
#define WG_LEN_RESPONSE		92
#define WG_LEN_COOKIE		64
#define WG_LEN_DATA_MIN		32	/* header 16 + tag 16; exactly this is a keepalive */
#define WG_LEN_KEEPALIVE	32
/*
 * A data message's length is not checked beyond its minimum: the kernel and wireguard-go pad
 * the plaintext to 16 bytes but never past the MTU (a full packet on a 1420-byte MTU is 1452
 * bytes), and boringtun does not pad at all. WireGuard authenticates every data message.
 */

/*
 * Counters: every packet the uplink program sees is counted exactly once, in
 * wgx_counters[slot][class][reason][verdict] (flattened, see WGX_CTR_INDEX).
 */
enum wgx_class {
	WGX_C_OTHER = 0,	/* not WireGuard: not IP/UDP, another port, fragment, ... */
	WGX_C_INITIATION,
	WGX_C_RESPONSE,
	WGX_C_COOKIE,
	WGX_C_DATA,
	WGX_C_KEEPALIVE,
	WGX_C_UNKNOWN,		/* on a WireGuard port, but no valid message type */
	WGX_C__MAX,
};

enum wgx_reason {
	WGX_R_OK = 0,		/* WireGuard message of the right shape */
	WGX_R_NOT_IP,		/* ethertype neither IPv4 nor IPv6 (ARP, LLDP, ...) */
	WGX_R_NOT_UDP,		/* IP, but not UDP */
	WGX_R_OTHER_PORT,	/* UDP to a port that is not a WireGuard listen port */
	WGX_R_FRAGMENT,		/* IPv4 non-first fragment or IPv6 fragment: passed untouched */
	WGX_R_TRUNCATED,	/* a header (L2-L4) runs past the end of the packet */
	WGX_R_BAD_IP,		/* IPv4 IHL < 5 or IP version mismatch */
	WGX_R_VLAN_DEPTH,	/* more VLAN tags than WGX_MAX_VLANS */
	WGX_R_EXTHDR_DEPTH,	/* more IPv6 extension headers than WGX_MAX_EXTHDR */
	WGX_R_BAD_SIZE,		/* WireGuard: size wrong for the type (malformed) */
	WGX_R_BAD_RESERVED,	/* WireGuard: reserved bytes not zero (malformed) */
	WGX_R_BAD_TYPE,		/* WireGuard: type not 1..4 (malformed) */
	WGX_R_BAD_UDP_LEN,	/* UDP length disagrees with the packet (malformed) */
	WGX_R_EVENT_LOST,	/* initiation passed, but the ring buffer was full */
	WGX_R__MAX,
};

enum wgx_verdict {
	WGX_V_PASS = 0,
	WGX_V_DROP = 1,
	WGX_V__MAX,
};

#define WGX_CTR_PER_SLOT	(WGX_C__MAX * WGX_R__MAX * WGX_V__MAX)
#define WGX_CTR_INDEX(slot, class, reason, verdict) \
	((((slot) * WGX_C__MAX + (class)) * WGX_R__MAX + (reason)) * WGX_V__MAX + (verdict))
#define WGX_CTR_ENTRIES		(WGX_MAX_IFACES * WGX_CTR_PER_SLOT)

/* Value of wgx_counters (BPF_MAP_TYPE_PERCPU_ARRAY): sum over CPUs in userspace. */
struct wgx_counter {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct wgx_counter) == 16, "wgx_counter layout");

/* Ring-buffer record for every handshake initiation seen on a WireGuard port. */
#define WGX_EV_HANDSHAKE 1

struct wgx_hs_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u32 ifindex;		/* ingress interface */
	__u32 rx_queue;
	__u8 type;		/* WGX_EV_HANDSHAKE */
	__u8 family;		/* 4 or 6 */
	__be16 sport;		/* network byte order */
	__be16 dport;
	__u16 pad;
	__u8 saddr[16];		/* IPv4 in the first 4 bytes, rest zero */
	__u8 daddr[16];
	__u8 msg[WG_LEN_INITIATION];	/* the whole UDP payload */
	__u8 pad2[4];
};
_Static_assert(sizeof(struct wgx_hs_event) == 208, "wgx_hs_event layout");

/*
 * wgx_ifaces (BPF_MAP_TYPE_HASH, key: __u32 ifindex): what `wgxdp attach` set up, so that
 * status, re-attach and detach work from any later invocation. Written by userspace only.
 */
enum wgx_mode {
	WGX_MODE_NATIVE = 1,
	WGX_MODE_SKB = 2,
};

#define WGX_IF_F_DISPATCHER	(1u << 0)	/* attached through libxdp's multi-prog dispatcher */
#define WGX_IF_F_PASS_MALFORMED	(1u << 1)	/* --no-drop-malformed */

struct wgx_iface {
	__u32 slot;		/* counter slot, 0..WGX_MAX_IFACES-1 */
	__u32 mode;		/* enum wgx_mode */
	__u32 flags;		/* WGX_IF_F_* */
	__u32 prog_id;		/* our XDP program */
	__u32 nr_ports;
	__u16 ports[WGX_MAX_PORTS];	/* host byte order */
	char name[16];		/* IFNAMSIZ, for status when the ifindex is gone */
	__u32 pad;
	__u64 attached_ns;	/* CLOCK_REALTIME at the first attach */
};
_Static_assert(sizeof(struct wgx_iface) == 64, "wgx_iface layout");

/*
 * The just-in-time daemon's state, owned by `wgxdp run` and pinned under <pin_dir>/jit/ (the
 * uplink's detach never touches it). Written by userspace only; two daemons on two WireGuard
 * interfaces share the maps without overwriting each other: every key names the interface.
 *
 * wgx_peers (BPF_MAP_TYPE_HASH, key: struct wgx_peer_key): the peers `wgxdp run` installed,
 * so that a restarted daemon adopts them and never touches a peer configured by hand.
 */
#define WGX_MAX_PEERS		(1 << 20)	/* WireGuard's own limit per device */
#define WGX_PEER_F_KEEPALIVE	(1u << 0)	/* installed with keepalive, not yet cleared */
#define WGX_PEER_F_API		(1u << 1)	/* the user came from the peer API */

struct wgx_peer_key {
	char wg_ifname[16];
	__u8 public_key[32];
};
_Static_assert(sizeof(struct wgx_peer_key) == 48, "wgx_peer_key layout");

struct wgx_peer_rec {
	char user[48];
	char wg_ifname[16];
	__u32 wg_ifindex;
	__u32 flags;		/* WGX_PEER_F_* */
	__u64 installed_ns;	/* CLOCK_REALTIME */
	__s64 expires_s;	/* the user's expiry (0 = never), for `wgxdp peers` */
	__u32 idle_timeout_s;
	__u8 family;		/* endpoint at install: 4 or 6 */
	__u8 pad;
	__be16 port;
	__u8 addr[16];
	__s64 validated_s;	/* CLOCK_REALTIME: last time the policy source confirmed the user */
};
_Static_assert(sizeof(struct wgx_peer_rec) == 120, "wgx_peer_rec layout");

/*
 * wgx_replay (BPF_MAP_TYPE_HASH, key: struct wgx_peer_key): the newest TAI64N timestamp seen
 * in an authenticated initiation of each known user's key, kept across peer removal and
 * daemon restarts, so that a captured initiation can never re-install a peer.
 */
#define WGX_MAX_REPLAY		(1 << 20)

struct wgx_replay_rec {
	__u8 tai64n[12];	/* big-endian seconds and nanoseconds: memcmp orders them */
	__u32 pad;
	__u64 seen_ns;		/* CLOCK_REALTIME of the initiation that set it */
};
_Static_assert(sizeof(struct wgx_replay_rec) == 24, "wgx_replay_rec layout");

/*
 * wgx_jit_stats (BPF_MAP_TYPE_HASH, key: struct wgx_jit_key): what the daemon of each
 * WireGuard interface did with each initiation, kept across restarts.
 */
#define WGX_MAX_JIT_IFACES	64

struct wgx_jit_key {
	char wg_ifname[16];
};

struct wgx_jit_stats {
	__u64 events;		/* initiations read from the ring buffer */
	__u64 other_port;	/* for another WireGuard port (another interface's daemon) */
	__u64 bad_source;	/* from 127/8, 0/8, multicast, link-local...: no endpoint to give */
	__u64 installed;	/* peers installed */
	__u64 existing;		/* the key already has a peer (ours or by hand): nothing to do */
	__u64 reinjected;	/* initiations handed to WireGuard again after the install */
	__u64 reinject_refused;	/* ... not re-injected: the event's addresses failed the check */
	__u64 throttled;	/* source over its rate (after mac1, before any X25519) */
	__u64 bad_mac1;		/* mac1 wrong: not for this interface, or junk */
	__u64 not_for_us;	/* the static did not decrypt: made for another key */
	__u64 unauthenticated;	/* the timestamp did not decrypt: no private key for the static */
	__u64 replayed;		/* timestamp not newer than the key's newest: a replay */
	__u64 unknown_key;	/* no such user */
	__u64 unknown_cached;	/* a key recently found unknown: not looked up again */
	__u64 disabled;
	__u64 expired;
	__u64 address_conflict;	/* the user's addresses overlap another peer or user */
	__u64 api_errors;	/* the peer API failed or was rate-limited */
	__u64 install_errors;	/* the WireGuard device refused */
	__u64 removed_idle;
	__u64 removed_policy;	/* user gone, disabled or expired */
	__u64 removed_api;	/* the peer API no longer knows the user, at revalidation */
	__u64 adopted;		/* managed peers found again at start */
	__u64 policy_applied;	/* whole policies written to the tunnel's maps */
	__u64 policy_errors;	/* ... refused (the one in force there stays) */
	/* counters below were added later: an older daemon's map is grown (zeros) at start */
	__u64 unknown_group;	/* the peer API's answer names a group the gateway lacks */
	__u64 groups_fetched;	/* GET URL/groups answered with new groups */
	__u64 groups_unchanged;	/* ... 304 Not Modified (ETag) or the same groups */
	__u64 groups_errors;	/* ... failed or answered nonsense (the groups in force stay) */
};


/* ==== The tunnel: tc (clsact) ingress and egress on the WireGuard interface ====
 *
 * Ingress (user -> network): the source must be a user's tunnel address (wgx_tun_addr4/6,
 * exact, then wgx_tun_net4/6, wider prefixes), which gives the user's policy id; the
 * destination must be covered by an entry of that policy's trie (wgx_tun_pol4/6: an outer
 * HASH_OF_MAPS keyed by policy id, inner LPM tries keyed by destination) whose rules admit
 * the protocol and port. Allowed packets create or refresh a flow (wgx_flows).
 * Egress (network -> user): a reply to a flow the user opened passes; so do ICMP/ICMPv6
 * errors about such a flow (parsed from the quoted header); anything else only if an inbound
 * rule of the user's policy (wgx_tun_in4/6, keyed by the remote source) admits it.
 *
 * A policy id stands for one distinct set of groups; the daemon compiles each set into one
 * trie whose entries already hold the union of the rules of every covering prefix, so the
 * longest match alone decides (a /32 with tcp/22 under a /8 allowing everything still
 * allows everything). Policy ids are never reused while referenced: a new policy gets new
 * ids and new inner maps, the users are switched over one by one (each switch atomic), then
 * the old inner maps are deleted. A packet is judged by one whole policy, old or new.
 * policy_id = (generation & 0xffff) << 16 | index of the group set in that generation.
 */
#define WGX_TUN_MAX_RULES	8	/* rules in one trie entry, after the union */
#define WGX_TUN_MAX_USERS	(1 << 20)
#define WGX_TUN_MAX_NETS	65536	/* tunnel prefixes wider than /32 and /128 */
#define WGX_TUN_MAX_POLICIES	65536	/* distinct group sets */
#define WGX_TUN_MAX_PREFIXES	(1 << 20) /* entries of one inner trie */
#define WGX_TUN_MAX_FLOWS	(1 << 18)	/* the flow table's default size (attach --max-flows) */
#define WGX_TUN_MAX_FLOWS_LIMIT	(1 << 24)

/* LPM keys: prefixlen counts the bits after itself that must match. */
struct wgx_lpm4 {
	__u32 prefixlen;
	__be32 addr;
};

struct wgx_lpm6 {
	__u32 prefixlen;
	__u8 addr[16];
};

struct wgx_in6 {
	__u8 addr[16];
};

/* Value of wgx_tun_addr4/6 (HASH, key __be32 / struct wgx_in6) and wgx_tun_net4/6 (LPM). */
struct wgx_tun_user {
	__u32 user_id;		/* index of the user in wgx_tun_names */
	__u32 policy_id;	/* key of wgx_tun_pol4/6 and wgx_tun_in4/6 */
};

/* One rule: the protocol (0 = any) and the port range (host order; 0-65535 = any port). */
#define WGX_RULE_F_ANY_PORT	(1u << 0)
struct wgx_tun_rule {
	__u8 proto;
	__u8 flags;		/* WGX_RULE_F_* */
	__u16 port_lo;
	__u16 port_hi;
	__u16 group_id;		/* the group it came from (wgx_tun_groups) */
	__u16 rule_idx;		/* its index in the group's allow (or inbound) list */
	__u16 pad;
};
_Static_assert(sizeof(struct wgx_tun_rule) == 12, "wgx_tun_rule layout");

/* Value of the inner tries: the rules of the longest matching prefix (union included). */
struct wgx_tun_rules {
	__u32 nr;
	__u32 pad;
	struct wgx_tun_rule rule[WGX_TUN_MAX_RULES];
};
_Static_assert(sizeof(struct wgx_tun_rules) == 104, "wgx_tun_rules layout");

/* wgx_tun_names (HASH, key __u32 user_id): who a user id is, for events, show and explain. */
struct wgx_tun_name {
	char user[48];
	__u8 public_key[32];
};

/* wgx_tun_groups (HASH, key __u32 group_id): group names, for explain and events. */
struct wgx_tun_group {
	char name[64];
};

/* wgx_tun_psets (HASH, key __u32 policy_id): the groups a policy id stands for. */
#define WGX_TUN_MAX_USER_GROUPS	31
struct wgx_tun_pset {
	__u16 nr;
	__u16 group_id[WGX_TUN_MAX_USER_GROUPS];
};
_Static_assert(sizeof(struct wgx_tun_pset) == 64, "wgx_tun_pset layout");

/*
 * wgx_tun_cfg (ARRAY, one entry): written by userspace. Until policy_loaded is set every
 * packet from a user is dropped (no_policy): the tunnel fails closed.
 */
struct wgx_tun_cfg {
	__u32 policy_loaded;
	__u32 generation;	/* bumped by every apply, for `policy show` */
	__u32 tcp_timeout_s;	/* established TCP flow idle timeout (default 7440) */
	__u32 tcp_close_s;	/* after FIN or RST (default 10) */
	__u32 udp_timeout_s;	/* default 120; also for protocols other than TCP and ICMP */
	__u32 icmp_timeout_s;	/* default 30 */
	__u64 loaded_ns;	/* CLOCK_REALTIME of the last apply */
	__u32 flow_quota;	/* flow entries one user may hold at once (0: the default) */
	__u32 pad;
};
_Static_assert(sizeof(struct wgx_tun_cfg) == 40, "wgx_tun_cfg layout");

/*
 * Defaults `wgxdp attach --wg` writes when it creates wgx_tun_cfg (policy_loaded 0). A timeout
 * of 0 in the map also means the default (the programs fall back to these).
 */
#define WGX_TUN_TCP_TIMEOUT_S	7440
#define WGX_TUN_TCP_CLOSE_S	10
#define WGX_TUN_UDP_TIMEOUT_S	120
#define WGX_TUN_ICMP_TIMEOUT_S	30
#define WGX_TUN_FLOW_QUOTA	4096	/* flow entries per user */

/* Of a user's flow quota, what the flows the remote side opened may hold: half, at least 1. */
static inline __u64 wgx_flow_quota_in(__u64 quota)
{
	return quota / 2 ?: 1;
}

/*
 * wgx_tun_ifaces (HASH, key __u32 ifindex): the WireGuard interfaces `wgxdp attach --wg`
 * attached the tunnel programs to, for status, re-attach and detach. Written by userspace only.
 * Both programs are tc (clsact) filters with handle WGX_TUN_TC_HANDLE and priority
 * WGX_TUN_TC_PRIO on ingress and egress; detach removes exactly those two filters and never
 * the clsact qdisc (other filters may use it; an empty clsact costs nothing).
 */
#define WGX_TUN_TC_HANDLE	0x5747	/* "WG" */
#define WGX_TUN_TC_PRIO		1
#define WGX_TUN_IF_F_CREATED_QDISC (1u << 0)	/* the first attach created the clsact qdisc */

struct wgx_tun_iface {
	char name[16];		/* IFNAMSIZ, for status when the ifindex is gone */
	__u32 ingress_prog_id;
	__u32 egress_prog_id;
	__u32 l2_len;		/* bytes before the IP header (0 on WireGuard and TUN devices) */
	__u32 flags;		/* WGX_TUN_IF_F_* */
	__u64 attached_ns;	/* CLOCK_REALTIME at the first attach */
};
_Static_assert(sizeof(struct wgx_tun_iface) == 40, "wgx_tun_iface layout");

/*
 * wgx_flows (HASH, --max-flows entries): one entry per flow a user opened (or an inbound rule
 * let in), keyed from the user's side, holding what the flow accounting counts.
 * ICMP echo: uport = the echo identifier, rport = 0.
 *
 * The kernel never deletes an entry: a flow past its idle timeout (or revoked by a policy
 * change) stays until the daemon has read its last counts and removed it (lookup and delete
 * in one step, so nothing counted in between is lost). An entry belongs to one user for its
 * whole life (user_id never changes) and its counts only grow: a user's new flow under the key
 * of her own ended entry opened the same way (by her, or by the remote side) revives it, the
 * counts going on from where they were; a flow under the key of another user's entry (her
 * address passed to this user) or of one opened the other way gets no entry until the daemon
 * has removed that one. Each user may hold flow_quota entries (wgx_tun_cfg), and of them at
 * most half opened by the remote side (an inbound rule: a host outside cannot fill her quota
 * for her); a flow that cannot get an entry (over the quota, or the table full) still passes
 * where its rule allows it, and its packets are counted in the user's overflow record
 * (wgx_tun_acct). A reply to it finds no flow: over her quota a user's new connections wait
 * for her old flows to end.
 */
struct wgx_flow_key {
	__u8 family;		/* 4 or 6 */
	__u8 proto;
	__be16 uport;		/* the user's port */
	__be16 rport;		/* the remote port */
	__u16 pad;
	__u8 uaddr[16];		/* the user's address (IPv4 in the first 4 bytes) */
	__u8 raddr[16];		/* the remote address */
};
_Static_assert(sizeof(struct wgx_flow_key) == 40, "wgx_flow_key layout");

#define WGX_FLOW_F_INBOUND	(1u << 0)	/* opened by the remote side (inbound rule) */
#define WGX_FLOW_F_FIN_OUT	(1u << 1)	/* TCP FIN seen from the user */
#define WGX_FLOW_F_FIN_IN	(1u << 2)	/* TCP FIN seen towards the user */
#define WGX_FLOW_F_RST		(1u << 3)	/* TCP RST either way */
#define WGX_FLOW_F_REVOKED	(1u << 4)	/* judged again, no longer admitted: ended */

/*
 * user_id: the user whose flow it is; an address passed to another user ends her flows under
 * it (revoked) and the new holder's wait for the daemon to remove them. policy_id: her policy
 * id (wgx_tun_user) when the flow was last judged. Every apply gives every user a new policy
 * id (the generation is in its high 16 bits), and a single-user update that changes her
 * groups gives her another one (never a new generation: comparing wgx_tun_cfg.generation would
 * miss it); the tries of a policy id never change. So a packet whose user entry holds the same
 * pair, compared on the fast path, is judged by the rules that admitted its flow; another
 * policy id has the flow judged again from its key against the rules in force: re-stamped if
 * they still admit it, ended (revoked) if not (the packet is then judged as one without a
 * flow). Policy ids come back after 65,535 applies: a flow idle through that many has expired
 * unless they came faster than 8 a second (TCP's 7440 s).
 */
struct wgx_flow {
	__u64 first_ns;		/* bpf_ktime_get_ns() */
	__u64 last_ns;
	__u64 pkts_out;		/* user -> network: packets and L3 bytes */
	__u64 bytes_out;
	__u64 pkts_in;		/* network -> user */
	__u64 bytes_in;
	__u32 user_id;
	__u32 policy_id;	/* the user's policy id when the flow was last judged */
	__u32 flags;		/* WGX_FLOW_F_* */
	__u16 group_id;		/* the rule that let the flow in (or, judged again, admits it) */
	__u16 rule_idx;
};
_Static_assert(sizeof(struct wgx_flow) == 64, "wgx_flow layout");

/*
 * A flow's idle timeout in seconds: the kernel judges a flow with it on every packet, and
 * userspace (wgxdp flows, the flow log) shows a flow as ended with the same rule. A timeout
 * of 0 in wgx_tun_cfg means the default. proto: 6 TCP, 1 ICMP, 58 ICMPv6, else UDP's.
 */
static inline __u32 wgx_flow_timeout_s(const struct wgx_tun_cfg *cfg, __u8 proto, __u32 flags)
{
	if (proto == 6) {
		if ((flags & WGX_FLOW_F_RST) ||
		    (flags & (WGX_FLOW_F_FIN_OUT | WGX_FLOW_F_FIN_IN)) ==
			    (WGX_FLOW_F_FIN_OUT | WGX_FLOW_F_FIN_IN))
			return cfg->tcp_close_s ?: WGX_TUN_TCP_CLOSE_S;
		return cfg->tcp_timeout_s ?: WGX_TUN_TCP_TIMEOUT_S;
	}
	if (proto == 1 || proto == 58)
		return cfg->icmp_timeout_s ?: WGX_TUN_ICMP_TIMEOUT_S;
	return cfg->udp_timeout_s ?: WGX_TUN_UDP_TIMEOUT_S;
}

/* Whether a flow is live at now (ns, CLOCK_MONOTONIC): the kernel's rule, and userspace's. */
static inline int wgx_flow_live(const struct wgx_tun_cfg *cfg, __u8 proto,
				const struct wgx_flow *f, __u64 now)
{
	__u64 last = f->last_ns;

	if (f->flags & WGX_FLOW_F_REVOKED)
		return 0;
	/* another CPU may have stamped a later time than ours */
	return now < last ||
	       now - last <= (__u64)wgx_flow_timeout_s(cfg, proto, f->flags) * 1000000000ull;
}

/*
 * wgx_tun_acct (HASH, key __u32 user_id): each user's traffic, apart from the flow table.
 * Every packet of a user that passes is counted in her totals; those that are counted in no
 * flow entry (its flow got none, or an ICMP error from the user about no flow) also in her
 * overflow record. So for each user and direction: totals = the sum of her flows (over their
 * lives, as the flow log reports them) + overflow. Written by the kernel only, atomically,
 * and never reset: a new user gets an id that never held an account while there is one.
 * flows - wgx_tun_fgone[user] = the entries she holds now, against the quota.
 */
struct wgx_tun_acct {
	__u64 pkts_out;		/* user -> network, passed: packets and L3 bytes */
	__u64 bytes_out;
	__u64 pkts_in;		/* network -> user, passed */
	__u64 bytes_in;
	__u64 ovf_pkts_out;	/* ... of them, counted in no flow */
	__u64 ovf_bytes_out;
	__u64 ovf_pkts_in;
	__u64 ovf_bytes_in;
	__u64 flows;		/* flow entries made for the user */
	__u64 refused;		/* flows that got no entry: over the quota or the table full */
	__u64 starts_lost;	/* flow-start events not sent: the ring buffer was full */
	__u64 flows_in;		/* ... of the entries, those the remote side opened (INBOUND) */
};
_Static_assert(sizeof(struct wgx_tun_acct) == 96, "wgx_tun_acct layout");

/*
 * wgx_tun_fgone (HASH, key __u32 user_id): the user's flow entries the daemon removed.
 * Written by the daemon only (the kernel adds to wgx_tun_acct.flows, userspace here: neither
 * overwrites the other's count). An entry's INBOUND flag never changes, so flows_in here and
 * in wgx_tun_acct count the same entries.
 */
struct wgx_tun_fgone {
	__u64 flows;
	__u64 flows_in;		/* ... of them, those the remote side opened */
};

/*
 * wgx_tun_fevents (RINGBUF): one record per new flow (or new life of an entry). Not rate
 * limited: the quota bounds them per user. A full ring buffer is counted in starts_lost.
 */
struct wgx_flow_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns(), the flow's first_ns */
	struct wgx_flow_key key;
	__u32 user_id;
	__u32 flags;		/* WGX_FLOW_F_* (INBOUND) */
	__u16 group_id;		/* the rule that admitted it */
	__u16 rule_idx;
	__u32 len;		/* the first packet's L3 bytes */
};
_Static_assert(sizeof(struct wgx_flow_event) == 64, "wgx_flow_event layout");

/*
 * wgx_tun_frags (LRU_HASH, WGX_TUN_MAX_FRAGS entries): the L4 header of fragmented datagrams.
 * A later fragment has no L4 header; when the first fragment (offset 0, more fragments) of a
 * datagram passes, its ports (or ICMP type, code and echo id) are kept here, keyed by
 * direction, family, protocol, addresses and the datagram's id (IPv4 header id, or the IPv6
 * fragment header's identification); the later fragments are judged with them, the same way
 * as the first (the same rule, the same flow; TCP flags only from the first). A later fragment
 * without a live entry (its first was never seen, was denied, came after it, or more than
 * WGX_TUN_FRAG_TIMEOUT_S ago) is dropped: frag_unknown. A denied first fragment removes the
 * entry of an older datagram with the same id; the last fragment (no more fragments) removes
 * its datagram's entry, so a fragment reordered after the last one is dropped as well.
 */
#define WGX_TUN_MAX_FRAGS	8192	/* datagrams in flight at once (both directions) */
#define WGX_TUN_FRAG_TIMEOUT_S	30	/* the kernel's own IPv4 reassembly timeout */

struct wgx_frag_key {
	__u8 dir;		/* enum wgx_tun_dir: a user-to-user datagram is seen both ways */
	__u8 family;		/* 4 or 6 */
	__u8 proto;
	__u8 pad;
	__u32 id;		/* host order: the IPv4 id (16 bits) or the IPv6 identification */
	__u8 saddr[16];		/* as in the packet (IPv4 in the first 4 bytes) */
	__u8 daddr[16];
};
_Static_assert(sizeof(struct wgx_frag_key) == 40, "wgx_frag_key layout");

struct wgx_frag {
	__u64 first_ns;		/* bpf_ktime_get_ns() when the first fragment passed */
	__be16 sport;		/* the first fragment's ports (TCP, UDP, UDP-Lite, SCTP) */
	__be16 dport;
	__be16 echo_id;		/* ICMP echo */
	__u8 l4;		/* what the first fragment's L4 header gave (bpf/tun_parse.h) */
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 pad[7];
};
_Static_assert(sizeof(struct wgx_frag) == 24, "wgx_frag layout");

/*
 * Counters: every packet the tunnel programs see lands in exactly one entry of
 * wgx_tun_counters (PERCPU_ARRAY of struct wgx_counter), index WGX_TUN_CTR(dir, reason).
 * The verdict follows from the reason (WGX_TR_PASS_MAX: below it pass, from it drop).
 */
enum wgx_tun_dir {
	WGX_TD_INGRESS = 0,	/* from users (into the gateway from the tunnel) */
	WGX_TD_EGRESS = 1,	/* towards users */
	WGX_TD__MAX,
};

enum wgx_tun_reason {
	WGX_TR_ALLOWED = 0,	/* ingress: a rule of the user's groups admits it */
	WGX_TR_REPLY,		/* egress: part of a flow the user opened */
	WGX_TR_INBOUND,		/* egress: an inbound rule admits it */
	WGX_TR_RELATED,		/* egress: an ICMP error about a flow of the user */
	WGX_TR_PASS_MAX,
	WGX_TR_NO_POLICY = WGX_TR_PASS_MAX,	/* no policy loaded yet: fail closed */
	WGX_TR_UNKNOWN_SOURCE,	/* ingress: not a user's tunnel address */
	WGX_TR_UNKNOWN_DEST,	/* egress: not to a user's tunnel address */
	WGX_TR_DENIED,		/* ingress: no rule of the user's groups admits it */
	WGX_TR_UNSOLICITED,	/* egress: no flow, no inbound rule */
	WGX_TR_NOT_IP,		/* neither IPv4 nor IPv6 */
	WGX_TR_TRUNCATED,	/* a header runs past the end of the packet */
	WGX_TR_BAD_IP,		/* IPv4 IHL < 5, or the version disagrees with the family */
	WGX_TR_FRAG_UNKNOWN,	/* a later fragment whose first did not pass (wgx_tun_frags) */
	WGX_TR__MAX,
};

#define WGX_TUN_CTR(dir, reason)	((dir) * WGX_TR__MAX + (reason))
#define WGX_TUN_CTR_ENTRIES		(WGX_TD__MAX * WGX_TR__MAX)

/*
 * wgx_tun_denies (LRU_PERCPU_HASH, WGX_TUN_MAX_DENY_USERS entries): the users who denied most
 * recently keep their counts; WGX_USER_NONE (unknown source or destination) is one key.
 */
#define WGX_TUN_MAX_DENY_USERS	65536

struct wgx_tun_deny_count {
	__u64 denied;		/* packets denied (either direction) */
	__u64 events_held;	/* deny events not sent: held back by the per-user rate limit,
				 * or the ring buffer was full */
};

/*
 * wgx_tun_events (RINGBUF): one record per denied packet, at most WGX_DENY_EV_BURST at once
 * and WGX_DENY_EV_RATE per second per user (token bucket in wgx_tun_evrl, LRU_HASH key
 * user_id); what the bucket holds back is counted in wgx_tun_denies.events_held.
 * Packets from an unknown source have user_id WGX_USER_NONE and share one bucket.
 */
#define WGX_DENY_EV_RATE	10
#define WGX_DENY_EV_BURST	20
#define WGX_USER_NONE		0xffffffffu

struct wgx_deny_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns() */
	__u32 user_id;		/* WGX_USER_NONE if unknown */
	__u8 family;
	__u8 proto;
	__u8 dir;		/* enum wgx_tun_dir */
	__u8 reason;		/* enum wgx_tun_reason */
	__be16 sport;		/* ICMP: type and code in sport, echo id in dport */
	__be16 dport;
	__u32 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};
_Static_assert(sizeof(struct wgx_deny_event) == 56, "wgx_deny_event layout");

struct wgx_tun_evrl {
	__u64 tokens;		/* fixed point: tokens * 1e9 */
	__u64 last_ns;
};

#endif /* WGXDP_MAPS_H */
