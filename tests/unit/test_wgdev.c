// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * loader/wgdev without a device: the UAPI text (parsing "get", formatting "set"), the
 * WG_CMD_SET_DEVICE batch builder (10,000 peers split under a size budget, each peer once)
 * and the merging of a GET_DEVICE dump whose peer spans two messages.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/time_types.h>
#include <linux/wireguard.h>
#include <libmnl/libmnl.h>
#include <malloc.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "loader/wgdev.h"
#include "loader/wgdev_internal.h"
#include "loader/wipe.h"

static int failures;

#define ASSERT_TRUE(cond, fmt, ...)                                                        \
	({                                                                                 \
		bool ok_ = (cond);                                                         \
		if (!ok_) {                                                                \
			fprintf(stderr, "%s:%d: %s: " fmt "\n", __FILE__, __LINE__, #cond, \
				##__VA_ARGS__);                                            \
			failures++;                                                        \
		}                                                                          \
		ok_;                                                                       \
	})
#define ASSERT_EQ(a, b)                                                                     \
	({                                                                                  \
		long long a_ = (long long)(a), b_ = (long long)(b);                         \
		ASSERT_TRUE(a_ == b_, "expected %lld, got %lld", b_, a_);                   \
	})
#define ASSERT_MEM(a, b, n) ASSERT_TRUE(!memcmp((a), (b), (n)), "bytes differ")
#define ASSERT_STR(a, b)                                                                    \
	ASSERT_TRUE(!strcmp((a), (b)), "expected\n---\n%s\n---\ngot\n---\n%s\n---", (b), (a))

static void hex_key(uint8_t key[32], const char *hex)
{
	for (int i = 0; i < 32; i++)
		sscanf(hex + 2 * i, "%2hhx", &key[i]);
}

/* RFC 7748 section 6.1: Alice's X25519 key pair. */
#define ALICE_PRIV "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define ALICE_PUB  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
#define PEER1 "1111111111111111111111111111111111111111111111111111111111111111"
#define PEER2 "2222222222222222222222222222222222222222222222222222222222222222"
#define PSK1  "abababababababababababababababababababababababababababababababab"
#define ZERO  "0000000000000000000000000000000000000000000000000000000000000000"

static struct wgx_prefix pfx(const char *s)
{
	struct wgx_prefix a = { 0 };
	char host[64];
	const char *slash = strchr(s, '/');

	snprintf(host, sizeof(host), "%.*s", (int)(slash - s), s);
	a.family = strchr(host, ':') ? 6 : 4;
	inet_pton(a.family == 4 ? AF_INET : AF_INET6, host, a.addr);
	a.plen = atoi(slash + 1);
	return a;
}

static void test_uapi_parse_get(void)
{
	/* What wireguard-go answers (device/uapi.go order), two peers. */
	static const char text[] =
		"private_key=" ALICE_PRIV "\n"
		"listen_port=51820\n"
		"fwmark=0\n"
		"public_key=" PEER1 "\n"
		"preshared_key=" PSK1 "\n"
		"protocol_version=1\n"
		"endpoint=192.0.2.7:40000\n"
		"last_handshake_time_sec=1700000000\n"
		"last_handshake_time_nsec=5\n"
		"tx_bytes=1234\n"
		"rx_bytes=5678\n"
		"persistent_keepalive_interval=25\n"
		"allowed_ip=100.64.0.2/32\n"
		"allowed_ip=fd7a:115c::2/128\n"
		"public_key=" PEER2 "\n"
		"preshared_key=" ZERO "\n"
		"protocol_version=1\n"
		"endpoint=[2001:db8::9]:51000\n"
		"last_handshake_time_sec=0\n"
		"last_handshake_time_nsec=0\n"
		"tx_bytes=0\n"
		"rx_bytes=0\n"
		"persistent_keepalive_interval=0\n"
		"errno=0\n\n";
	struct wgx_wg_device dev = { 0 };
	uint8_t key[32], psk[32];
	struct wgx_prefix a;
	const struct wgx_wg_peer *p;

	if (!ASSERT_EQ(wgx_uapi_parse_get(text, sizeof(text) - 1, &dev), 0))
		return;
	hex_key(key, ALICE_PRIV);
	ASSERT_MEM(dev.private_key, key, 32);
	hex_key(key, ALICE_PUB);
	ASSERT_TRUE(!memcmp(dev.public_key, key, 32), "public key not derived from private key");
	ASSERT_EQ(dev.listen_port, 51820);
	if (!ASSERT_EQ(dev.nr_peers, 2))
		return;

	p = &dev.peers[0];
	hex_key(key, PEER1);
	hex_key(psk, PSK1);
	ASSERT_MEM(p->public_key, key, 32);
	ASSERT_TRUE(p->has_psk, "psk of peer 1");
	ASSERT_MEM(p->psk, psk, 32);
	ASSERT_EQ(p->endpoint.sa.sa_family, AF_INET);
	ASSERT_EQ(ntohl(p->endpoint.in4.sin_addr.s_addr), 0xc0000207);
	ASSERT_EQ(ntohs(p->endpoint.in4.sin_port), 40000);
	ASSERT_EQ(p->last_handshake_sec, 1700000000);
	ASSERT_EQ(p->tx_bytes, 1234);
	ASSERT_EQ(p->rx_bytes, 5678);
	ASSERT_EQ(p->keepalive, 25);
	if (ASSERT_EQ(p->nr_allowed, 2)) {
		a = pfx("100.64.0.2/32");
		ASSERT_MEM(&p->allowed[0], &a, sizeof(a));
		a = pfx("fd7a:115c::2/128");
		ASSERT_MEM(&p->allowed[1], &a, sizeof(a));
	}

	p = &dev.peers[1];
	hex_key(key, PEER2);
	ASSERT_MEM(p->public_key, key, 32);
	ASSERT_TRUE(!p->has_psk, "an all-zero psk is no psk");
	ASSERT_EQ(p->endpoint.sa.sa_family, AF_INET6);
	ASSERT_EQ(ntohs(p->endpoint.in6.sin6_port), 51000);
	ASSERT_EQ(p->endpoint.in6.sin6_addr.s6_addr[15], 9);
	ASSERT_EQ(p->nr_allowed, 0);
	ASSERT_EQ(p->keepalive, 0);
	for (unsigned int i = 0; i < dev.nr_peers; i++)
		free(dev.peers[i].allowed);
	free(dev.peers);
}

static int parse_get_str(const char *text)
{
	struct wgx_wg_device dev = { 0 };
	int ret = wgx_uapi_parse_get(text, strlen(text), &dev);

	for (unsigned int i = 0; i < dev.nr_peers; i++)
		free(dev.peers[i].allowed);
	free(dev.peers);
	return ret;
}

static void test_uapi_parse_errors(void)
{
	struct wgx_wg_device dev = { 0 };

	/* A device with no key yet: no public key either. */
	ASSERT_EQ(wgx_uapi_parse_get("listen_port=0\nerrno=0\n\n", 23, &dev), 0);
	ASSERT_MEM(dev.public_key, (uint8_t[32]){ 0 }, 32);

	ASSERT_EQ(parse_get_str("errno=19\n\n"), -19);
	ASSERT_EQ(parse_get_str("listen_port=1\n\n"), -EPROTO);		/* no errno */
	ASSERT_EQ(parse_get_str("private_key=abc\nerrno=0\n\n"), -EPROTO);
	ASSERT_EQ(parse_get_str("public_key=" PEER1 "\nallowed_ip=10.0.0.0/33\nerrno=0\n\n"),
		  -EPROTO);
	ASSERT_EQ(parse_get_str("public_key=" PEER1 "\nendpoint=10.0.0.1\nerrno=0\n\n"), -EPROTO);
	ASSERT_EQ(parse_get_str("listen_port=70000\nerrno=0\n\n"), -EPROTO);
	ASSERT_EQ(parse_get_str("no equals sign\nerrno=0\n\n"), -EPROTO);

	ASSERT_EQ(wgx_uapi_parse_errno("errno=0\n\n", 9), 0);
	ASSERT_EQ(wgx_uapi_parse_errno("errno=22\n\n", 10), -22);
	ASSERT_EQ(wgx_uapi_parse_errno("hello=1\n\n", 9), -EPROTO);
	ASSERT_EQ(wgx_uapi_parse_errno("\n", 1), -EPROTO);
}

static void test_uapi_format_set(void)
{
	struct wgx_prefix ips[2] = { pfx("100.64.0.2/32"), pfx("fd7a:115c::/64") };
	struct wgx_wg_peer peers[2] = { 0 };
	uint8_t keys[2][32];
	char *out;
	size_t len;

	hex_key(peers[0].public_key, PEER1);
	peers[0].has_psk = true;
	hex_key(peers[0].psk, PSK1);
	peers[0].endpoint.in4.sin_family = AF_INET;
	peers[0].endpoint.in4.sin_port = htons(40000);
	inet_pton(AF_INET, "192.0.2.7", &peers[0].endpoint.in4.sin_addr);
	peers[0].keepalive = 25;
	peers[0].allowed = ips;
	peers[0].nr_allowed = 2;
	hex_key(peers[1].public_key, PEER2);
	peers[1].endpoint.in6.sin6_family = AF_INET6;
	peers[1].endpoint.in6.sin6_port = htons(51000);
	inet_pton(AF_INET6, "2001:db8::9", &peers[1].endpoint.in6.sin6_addr);

	if (ASSERT_EQ(wgx_uapi_format_set(peers, NULL, 2, &out, &len), 0)) {
		ASSERT_STR(out, "set=1\n"
				"public_key=" PEER1 "\n"
				"preshared_key=" PSK1 "\n"
				"endpoint=192.0.2.7:40000\n"
				"persistent_keepalive_interval=25\n"
				"replace_allowed_ips=true\n"
				"allowed_ip=100.64.0.2/32\n"
				"allowed_ip=fd7a:115c::/64\n"
				"public_key=" PEER2 "\n"
				"endpoint=[2001:db8::9]:51000\n"
				"persistent_keepalive_interval=0\n"
				"replace_allowed_ips=true\n"
				"\n");
		ASSERT_EQ(len, strlen(out));
		free(out);
	}

	hex_key(keys[0], PEER1);
	hex_key(keys[1], PEER2);
	if (ASSERT_EQ(wgx_uapi_format_set(NULL, keys, 2, &out, &len), 0)) {
		ASSERT_STR(out, "set=1\n"
				"public_key=" PEER1 "\nremove=true\n"
				"public_key=" PEER2 "\nremove=true\n"
				"\n");
		free(out);
	}

	/* has_psk with an all-zero psk: the psk removed; nothing else given but keepalive. */
	memset(&peers[1], 0, sizeof(peers[1]));
	hex_key(peers[1].public_key, PEER2);
	peers[1].has_psk = true;
	if (ASSERT_EQ(wgx_uapi_format_set(&peers[1], NULL, 1, &out, &len), 0)) {
		ASSERT_STR(out, "set=1\n"
				"public_key=" PEER2 "\n"
				"preshared_key=" ZERO "\n"
				"persistent_keepalive_interval=0\n"
				"replace_allowed_ips=true\n"
				"\n");
		free(out);
	}

	/* update_only: right after public_key, where wireguard-go looks for it. */
	peers[1].has_psk = false;
	peers[1].update_only = true;
	peers[1].keepalive = 25;
	if (ASSERT_EQ(wgx_uapi_format_set(&peers[1], NULL, 1, &out, &len), 0)) {
		ASSERT_STR(out, "set=1\n"
				"public_key=" PEER2 "\n"
				"update_only=true\n"
				"persistent_keepalive_interval=25\n"
				"replace_allowed_ips=true\n"
				"\n");
		free(out);
	}

	ips[1].family = 5;
	ASSERT_EQ(wgx_uapi_format_set(peers, NULL, 2, &out, &len), -EINVAL);
	ASSERT_EQ(wgx_uapi_format_set(peers, keys, 2, &out, &len), -EINVAL);
}

/* ---- netlink SET_DEVICE batches ---- */

#define NR_PEERS	10000
#define BIG_PEER	4321	/* has BIG_ALLOWED allowed IPs: more than one message holds */
#define BIG_ALLOWED	3000
#define FAMILY_ID	0x1234

struct collected {
	char **msgs;
	unsigned int nr;
	size_t budget;
	bool over_budget;
};

static int collect(struct nlmsghdr *nlh, void *ctx)
{
	struct collected *c = ctx;

	if (nlh->nlmsg_len > c->budget)
		c->over_budget = true;
	c->msgs = realloc(c->msgs, (c->nr + 1) * sizeof(*c->msgs));
	c->msgs[c->nr] = malloc(nlh->nlmsg_len);
	memcpy(c->msgs[c->nr++], nlh, nlh->nlmsg_len);
	return 0;
}

static void collected_free(struct collected *c)
{
	for (unsigned int i = 0; i < c->nr; i++)
		free(c->msgs[i]);
	free(c->msgs);
	memset(c, 0, sizeof(*c));
}

static void make_key(uint8_t key[32], unsigned int i)
{
	memset(key, 0x5a, 32);
	memcpy(key, &i, sizeof(i));
}

static struct wgx_wg_peer *make_peers(void)
{
	struct wgx_wg_peer *peers = calloc(NR_PEERS, sizeof(*peers));
	unsigned int i, j;

	for (i = 0; i < NR_PEERS; i++) {
		struct wgx_wg_peer *p = &peers[i];

		make_key(p->public_key, i);
		/* A psk, an explicit removal of the psk (all zero), the psk left as it is. */
		p->has_psk = i % 3 != 2;
		memset(p->psk, i % 3 == 0 ? 0x77 : 0, 32);
		if (i % 2) {
			p->endpoint.in4.sin_family = AF_INET;
			p->endpoint.in4.sin_addr.s_addr = htonl(0xc0000000 | i);
			p->endpoint.in4.sin_port = htons(1000 + i % 5000);
		} else if (i % 4 == 0) {
			p->endpoint.in6.sin6_family = AF_INET6;
			p->endpoint.in6.sin6_addr.s6_addr[0] = 0x20;
			memcpy(&p->endpoint.in6.sin6_addr.s6_addr[12], &i, 4);
			p->endpoint.in6.sin6_port = htons(2000);
		}
		p->keepalive = i % 26;
		p->update_only = i % 7 == 2;	/* BIG_PEER among them */
		p->nr_allowed = i == BIG_PEER ? BIG_ALLOWED : 1 + i % 3;
		p->allowed = calloc(p->nr_allowed, sizeof(*p->allowed));
		for (j = 0; j < p->nr_allowed; j++) {
			struct wgx_prefix *a = &p->allowed[j];
			uint32_t v4 = htonl(0x64400000 | (i << 2 | j % 4));

			if (j % 2 == 0) {
				a->family = 4;
				a->plen = 32;
				memcpy(a->addr, &v4, 4);
			} else {
				a->family = 6;
				a->plen = 128;
				a->addr[0] = 0xfd;
				memcpy(&a->addr[8], &i, 4);
				memcpy(&a->addr[12], &j, 4);
			}
		}
	}
	return peers;
}

/* What one peer nest of a message carried. */
struct seen_peer {
	uint8_t key[32];
	bool has_flags;
	uint32_t flags;
	bool has_psk, has_endpoint, has_keepalive;
	uint8_t psk[32];
	struct wgx_endpoint ep;
	uint16_t keepalive;
	struct wgx_prefix allowed[BIG_ALLOWED];
	unsigned int nr_allowed;
};

static bool parse_set_peer(const struct nlattr *nest, struct seen_peer *sp)
{
	const struct nlattr *attr, *ip, *f;

	memset(sp, 0, sizeof(*sp));
	mnl_attr_for_each_nested(attr, nest) {
		unsigned int len = mnl_attr_get_payload_len(attr);
		const void *v = mnl_attr_get_payload(attr);

		switch (mnl_attr_get_type(attr)) {
		case WGPEER_A_PUBLIC_KEY:
			memcpy(sp->key, v, 32);
			break;
		case WGPEER_A_FLAGS:
			sp->has_flags = true;
			sp->flags = mnl_attr_get_u32(attr);
			break;
		case WGPEER_A_PRESHARED_KEY:
			sp->has_psk = true;
			memcpy(sp->psk, v, 32);
			break;
		case WGPEER_A_ENDPOINT:
			sp->has_endpoint = true;
			memcpy(&sp->ep, v, len);
			break;
		case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
			sp->has_keepalive = true;
			sp->keepalive = mnl_attr_get_u16(attr);
			break;
		case WGPEER_A_ALLOWEDIPS:
			mnl_attr_for_each_nested(ip, attr) {
				struct wgx_prefix *a = &sp->allowed[sp->nr_allowed++];

				memset(a, 0, sizeof(*a));
				mnl_attr_for_each_nested(f, ip) {
					if (mnl_attr_get_type(f) == WGALLOWEDIP_A_FAMILY)
						a->family = mnl_attr_get_u16(f) == AF_INET ? 4 : 6;
					if (mnl_attr_get_type(f) == WGALLOWEDIP_A_IPADDR)
						memcpy(a->addr, mnl_attr_get_payload(f),
						       mnl_attr_get_payload_len(f));
					if (mnl_attr_get_type(f) == WGALLOWEDIP_A_CIDR_MASK)
						a->plen = mnl_attr_get_u8(f);
				}
			}
			break;
		default:
			return false;
		}
	}
	return true;
}

struct batch_state {
	unsigned int first_seen[NR_PEERS];	/* first parts (with flags) seen, per peer */
	unsigned int allowed_seen[NR_PEERS];	/* allowed IPs seen so far, per peer */
	unsigned int last;			/* the peer of the previous nest */
	unsigned int nr_first, big_parts;
};

/* One peer nest of a SET_DEVICE message against what was asked. false stops the check. */
static bool check_set_peer(const struct seen_peer *sp, const struct wgx_wg_peer *peers,
			   struct batch_state *st)
{
	const struct wgx_wg_peer *p;
	unsigned int idx, i, k;

	memcpy(&idx, sp->key, sizeof(idx));
	if (!ASSERT_TRUE(idx < NR_PEERS, "unknown key"))
		return false;
	p = &peers[idx];
	if (sp->has_flags && (sp->flags & WGPEER_F_REPLACE_ALLOWEDIPS)) {
		/* The first part of a peer: everything but what did not fit. */
		st->nr_first++;
		st->first_seen[idx]++;
		ASSERT_EQ(sp->flags, WGPEER_F_REPLACE_ALLOWEDIPS |
				     (p->update_only ? WGPEER_F_UPDATE_ONLY : 0));
		ASSERT_TRUE(sp->has_keepalive, "peer %u", idx);
		ASSERT_EQ(sp->keepalive, p->keepalive);
		ASSERT_EQ(sp->has_psk, p->has_psk);
		if (sp->has_psk)
			ASSERT_MEM(sp->psk, p->psk, 32);
		ASSERT_EQ(sp->has_endpoint, p->endpoint.sa.sa_family != 0);
		if (sp->has_endpoint) {
			bool v4 = p->endpoint.sa.sa_family == AF_INET;

			ASSERT_MEM(&sp->ep, &p->endpoint,
				   v4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
		}
	} else {
		/* A continuation: the peer just before, allowed IPs only, never creating it. */
		ASSERT_EQ(idx, st->last);
		ASSERT_EQ(sp->has_flags, p->update_only);
		if (sp->has_flags)
			ASSERT_EQ(sp->flags, WGPEER_F_UPDATE_ONLY);
		ASSERT_TRUE(!sp->has_psk && !sp->has_endpoint && !sp->has_keepalive,
			    "continuation of peer %u repeats its settings", idx);
		ASSERT_TRUE(sp->nr_allowed > 0, "empty continuation");
	}
	if (idx == BIG_PEER)
		st->big_parts++;
	for (i = 0; i < sp->nr_allowed; i++) {
		k = st->allowed_seen[idx]++;
		if (!ASSERT_TRUE(k < p->nr_allowed, "peer %u: more allowed IPs than set", idx))
			return false;
		ASSERT_MEM(&sp->allowed[i], &p->allowed[k], sizeof(struct wgx_prefix));
	}
	st->last = idx;
	return true;
}

static void check_set_batch(size_t budget)
{
	struct wgx_wg_peer *peers = make_peers();
	struct collected c = { .budget = budget };
	struct batch_state *st = calloc(1, sizeof(*st));
	static struct seen_peer sp;
	void *buf = malloc(budget);
	unsigned int m, i;

	st->last = ~0u;
	if (!ASSERT_EQ(wgx_nl_build_set(buf, budget, FAMILY_ID, "wg0", peers, NULL, NR_PEERS,
					collect, &c), 0))
		goto out;
	ASSERT_TRUE(!c.over_budget, "a message is larger than the budget of %zu", budget);
	/* Not one message per peer, nor one for all. */
	ASSERT_TRUE(c.nr > 1 && c.nr < NR_PEERS / 10, "%u messages for budget %zu", c.nr, budget);

	for (m = 0; m < c.nr; m++) {
		const struct nlmsghdr *nlh = (const void *)c.msgs[m];
		const struct genlmsghdr *genl = mnl_nlmsg_get_payload(nlh);
		const struct nlattr *attr, *peer;
		bool ifname = false;

		ASSERT_EQ(nlh->nlmsg_type, FAMILY_ID);
		ASSERT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
		ASSERT_EQ(genl->cmd, WG_CMD_SET_DEVICE);
		ASSERT_EQ(genl->version, WG_GENL_VERSION);
		mnl_attr_for_each(attr, nlh, sizeof(*genl)) {
			if (mnl_attr_get_type(attr) == WGDEVICE_A_IFNAME)
				ifname = !strcmp(mnl_attr_get_str(attr), "wg0");
			if (mnl_attr_get_type(attr) != WGDEVICE_A_PEERS)
				continue;
			mnl_attr_for_each_nested(peer, attr) {
				if (!ASSERT_TRUE(parse_set_peer(peer, &sp), "unknown attribute") ||
				    !check_set_peer(&sp, peers, st))
					goto out;
			}
		}
		ASSERT_TRUE(ifname, "message %u names no interface", m);
	}
	ASSERT_EQ(st->nr_first, NR_PEERS);
	for (i = 0; i < NR_PEERS; i++) {
		if (!ASSERT_EQ(st->first_seen[i], 1) ||
		    !ASSERT_EQ(st->allowed_seen[i], peers[i].nr_allowed))
			break;
	}
	ASSERT_TRUE(st->big_parts > 1, "peer with %u allowed IPs in %u part(s)", BIG_ALLOWED,
		    st->big_parts);
	ASSERT_TRUE(peers[BIG_PEER].update_only, "the big peer's continuations: update_only");
	printf("  budget %zu: %u peers in %u messages, big peer in %u parts\n", budget,
	       NR_PEERS, c.nr, st->big_parts);
out:
	collected_free(&c);
	for (i = 0; i < NR_PEERS; i++)
		free(peers[i].allowed);
	free(peers);
	free(st);
	free(buf);
}

static void test_nl_set_batch_16k(void)
{
	check_set_batch(WGX_NL_SET_BUDGET);
}

static void test_nl_set_batch_4k(void)
{
	check_set_batch(4096);
}

static void test_nl_remove_batch(void)
{
	uint8_t (*keys)[32] = calloc(NR_PEERS, 32);
	unsigned int *seen = calloc(NR_PEERS, sizeof(*seen));
	struct collected c = { .budget = WGX_NL_SET_BUDGET };
	char buf[WGX_NL_SET_BUDGET];
	unsigned int i, m, idx, total = 0;

	for (i = 0; i < NR_PEERS; i++)
		make_key(keys[i], i);
	if (!ASSERT_EQ(wgx_nl_build_set(buf, sizeof(buf), FAMILY_ID, "wg0", NULL,
					(const uint8_t(*)[32])keys, NR_PEERS, collect, &c), 0))
		goto out;
	ASSERT_TRUE(!c.over_budget, "over budget");
	for (m = 0; m < c.nr; m++) {
		const struct nlmsghdr *nlh = (const void *)c.msgs[m];
		const struct nlattr *attr, *peer, *a;

		mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
			if (mnl_attr_get_type(attr) != WGDEVICE_A_PEERS)
				continue;
			mnl_attr_for_each_nested(peer, attr) {
				uint32_t flags = 0;

				idx = ~0u;
				mnl_attr_for_each_nested(a, peer) {
					if (mnl_attr_get_type(a) == WGPEER_A_PUBLIC_KEY)
						memcpy(&idx, mnl_attr_get_payload(a), sizeof(idx));
					else if (mnl_attr_get_type(a) == WGPEER_A_FLAGS)
						flags = mnl_attr_get_u32(a);
					else
						ASSERT_TRUE(false, "remove carries attribute %u",
							    mnl_attr_get_type(a));
				}
				if (!ASSERT_TRUE(idx < NR_PEERS, "bad key"))
					goto out;
				ASSERT_EQ(flags, WGPEER_F_REMOVE_ME);
				seen[idx]++;
				total++;
			}
		}
	}
	ASSERT_EQ(total, NR_PEERS);
	for (i = 0; i < NR_PEERS; i++)
		if (!ASSERT_EQ(seen[i], 1))
			break;
	printf("  remove: %u keys in %u messages\n", NR_PEERS, c.nr);
out:
	collected_free(&c);
	free(keys);
	free(seen);
}

static void test_nl_build_errors(void)
{
	struct wgx_prefix bad = pfx("10.0.0.0/8");
	struct wgx_wg_peer p = { .allowed = &bad, .nr_allowed = 1 };
	struct collected c = { .budget = 4096 };
	char buf[4096];

	bad.plen = 33;
	ASSERT_EQ(wgx_nl_build_set(buf, sizeof(buf), 1, "wg0", &p, NULL, 1, collect, &c), -EINVAL);
	bad.plen = 8;
	p.endpoint.sa.sa_family = AF_UNIX;
	ASSERT_EQ(wgx_nl_build_set(buf, sizeof(buf), 1, "wg0", &p, NULL, 1, collect, &c),
		  -EAFNOSUPPORT);
	ASSERT_EQ(c.nr, 0);	/* nothing half-sent */
	p.endpoint.sa.sa_family = 0;
	ASSERT_EQ(wgx_nl_build_set(buf, 64, 1, "wg0", &p, NULL, 1, collect, &c), -EMSGSIZE);
	ASSERT_EQ(wgx_nl_build_set(buf, sizeof(buf), 1, "wg0", &p, NULL, 0, collect, &c), 0);
	ASSERT_EQ(c.nr, 0);
	collected_free(&c);
}

/* ---- GET_DEVICE dump merging ---- */

static void put_dump_allowed(struct nlmsghdr *nlh, const char *s)
{
	struct wgx_prefix a = pfx(s);
	struct nlattr *n = mnl_attr_nest_start(nlh, 0);

	mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, a.family == 4 ? AF_INET : AF_INET6);
	mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, a.family == 4 ? 4 : 16, a.addr);
	mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, a.plen);
	mnl_attr_nest_end(nlh, n);
}

static struct nlmsghdr *dump_msg(char *buf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));

	nlh->nlmsg_type = FAMILY_ID;
	nlh->nlmsg_flags = NLM_F_MULTI;
	g->cmd = WG_CMD_GET_DEVICE;
	g->version = 1;
	mnl_attr_put_u32(nlh, WGDEVICE_A_IFINDEX, 7);
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "wg0");
	return nlh;
}

static void test_nl_parse_dump(void)
{
	char buf1[4096], buf2[4096];
	struct wgx_wg_device dev = { 0 };
	struct nlattr *peers, *peer, *ips;
	struct nlmsghdr *nlh;
	struct __kernel_timespec ts = { .tv_sec = 1700000001 };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(9) };
	uint8_t priv[32], pub[32], k1[32], k2[32], k3[32];

	hex_key(priv, ALICE_PRIV);
	hex_key(pub, ALICE_PUB);
	make_key(k1, 1);
	make_key(k2, 2);
	make_key(k3, 3);

	/* First message: the device, peer 1, and the start of peer 2. */
	nlh = dump_msg(buf1);
	mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, 32, priv);
	mnl_attr_put(nlh, WGDEVICE_A_PUBLIC_KEY, 32, pub);
	mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, 51820);
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, 32, k1);
	mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(sin), &sin);
	mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
	mnl_attr_nest_end(nlh, peer);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, 32, k2);
	mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof(ts), &ts);
	mnl_attr_put_u64(nlh, WGPEER_A_RX_BYTES, 100);
	mnl_attr_put_u64(nlh, WGPEER_A_TX_BYTES, 200);
	ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	put_dump_allowed(nlh, "10.0.0.1/32");
	put_dump_allowed(nlh, "fd00::1/128");
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);
	if (!ASSERT_EQ(wgx_nl_parse_get(nlh, &dev), 0))
		goto out;

	/* Second message: the rest of peer 2 (key and allowed IPs only), then peer 3. */
	nlh = dump_msg(buf2);
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, 32, k2);
	ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	put_dump_allowed(nlh, "10.0.0.2/32");
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, peer);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, 32, k3);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);
	if (!ASSERT_EQ(wgx_nl_parse_get(nlh, &dev), 0))
		goto out;

	ASSERT_MEM(dev.private_key, priv, 32);
	ASSERT_MEM(dev.public_key, pub, 32);
	ASSERT_EQ(dev.listen_port, 51820);
	ASSERT_EQ(dev.ifindex, 7);
	if (!ASSERT_EQ(dev.nr_peers, 3))
		goto out;
	ASSERT_MEM(dev.peers[0].public_key, k1, 32);
	ASSERT_EQ(dev.peers[0].keepalive, 25);
	ASSERT_MEM(&dev.peers[0].endpoint.in4, &sin, sizeof(sin));
	ASSERT_MEM(dev.peers[1].public_key, k2, 32);
	ASSERT_EQ(dev.peers[1].last_handshake_sec, 1700000001);
	ASSERT_EQ(dev.peers[1].rx_bytes, 100);
	ASSERT_EQ(dev.peers[1].tx_bytes, 200);
	if (ASSERT_EQ(dev.peers[1].nr_allowed, 3)) {
		struct wgx_prefix a = pfx("10.0.0.2/32");

		ASSERT_MEM(&dev.peers[1].allowed[2], &a, sizeof(a));
	}
	ASSERT_MEM(dev.peers[2].public_key, k3, 32);
	ASSERT_EQ(dev.peers[2].nr_allowed, 0);

	/* A peer without a key is a broken message. */
	nlh = dump_msg(buf2);
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);
	ASSERT_EQ(wgx_nl_parse_get(nlh, &dev), -EBADMSG);
out:
	for (unsigned int i = 0; i < dev.nr_peers; i++)
		free(dev.peers[i].allowed);
	free(dev.peers);
}

/* ---- backend choice, on interfaces every namespace has ---- */

static void test_backend_of(void)
{
	enum wgx_wg_backend b;

	ASSERT_EQ(wgx_wg_backend_of("lo", &b), -EOPNOTSUPP);
	ASSERT_EQ(wgx_wg_backend_of("wgxdp-nonesuch", &b), -ENODEV);
	ASSERT_EQ(wgx_wg_backend_of("../etc", &b), -EINVAL);
	ASSERT_EQ(wgx_wg_backend_of("", &b), -EINVAL);
}

/* ---- key material not left in freed memory (hole 9) ---- */

/*
 * This binary's free and realloc: while secrets are watched, a buffer freed, or handed to
 * realloc (which may move it and free the old one as it is), with one of them in it counts
 * as a leak. Everything else of the process (libcrypto, libc) goes through them too.
 */
void __libc_free(void *p);
void *__libc_realloc(void *p, size_t size);

static struct {
	const void *p;
	size_t len;
} watched[4];
static unsigned int nr_watched, leaks;

static void check_free(void *p)
{
	size_t size = p && nr_watched ? malloc_usable_size(p) : 0;
	unsigned int i;

	for (i = 0; i < nr_watched && size; i++)
		if (memmem(p, size, watched[i].p, watched[i].len)) {
			leaks++;
			return;
		}
}

void free(void *p)
{
	check_free(p);
	__libc_free(p);
}

void *realloc(void *p, size_t size)
{
	check_free(p);
	return __libc_realloc(p, size);
}

static void watch(const void *p, size_t len)
{
	watched[nr_watched].p = p;
	watched[nr_watched++].len = len;
}

/* Stops watching; the leaks counted since the first watch(). */
static unsigned int unwatch(void)
{
	unsigned int n = leaks;

	nr_watched = 0;
	leaks = 0;
	return n;
}

#define WIPE_PEERS	200	/* peer arrays grow 8 times; the texts pass 4 KiB and 8 KiB */

/* Watches the private key and psk of the wipe tests' devices, as bytes and as hex. */
static void watch_keys(void)
{
	static uint8_t priv[32], psk[32];

	hex_key(priv, ALICE_PRIV);
	hex_key(psk, PSK1);
	watch(priv, 32);
	watch(psk, 32);
	watch(ALICE_PRIV, 64);
	watch(PSK1, 64);
}

/* The device read while watch_keys(): all its peers there, none of its keys left once freed. */
static void check_freed(struct wgx_wg_device *dev, int ret)
{
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(dev->nr_peers, WIPE_PEERS);
	wgx_wg_device_free(dev);
	ASSERT_EQ(unwatch(), 0);
}

/* A get=1 answer: the private key, then WIPE_PEERS peers with the same psk. malloc'd. */
static char *get_answer(size_t *len)
{
	size_t cap = 512 + WIPE_PEERS * 256, o;
	char *text = malloc(cap), pk[65];
	unsigned int i, j;

	o = snprintf(text, cap, "private_key=" ALICE_PRIV "\nlisten_port=51820\n");
	for (i = 0; i < WIPE_PEERS; i++) {
		for (j = 0; j < 32; j++)
			sprintf(pk + 2 * j, "%02x", (i + j) & 0xff);
		o += snprintf(text + o, cap - o, "public_key=%s\npreshared_key=" PSK1 "\n"
			      "allowed_ip=100.64.%u.%u/32\npersistent_keepalive_interval=0\n",
			      pk, i >> 8, i & 0xff);
	}
	o += snprintf(text + o, cap - o, "errno=0\n\n");
	*len = o;
	return text;
}

/* The detector itself, then the helper on a buffer of ours. */
static void test_wipe_helper(void)
{
	uint8_t psk[32];
	char *b, *c;

	hex_key(psk, PSK1);
	watch(psk, 32);
	b = malloc(100);
	memcpy(b + 10, psk, 32);
	free(b);
	ASSERT_EQ(unwatch(), 1);	/* a plain free is seen */
	watch(psk, 32);
	b = malloc(100);
	memcpy(b + 10, psk, 32);
	b = realloc(b, 1 << 20);	/* moves it: glibc mmaps this size */
	ASSERT_EQ(unwatch(), 1);	/* so is a realloc */
	free(b);

	watch(psk, 32);
	b = malloc(100);
	memcpy(b + 10, psk, 32);
	c = wgx_realloc_wipe(b, 100, 1 << 20);
	if (ASSERT_TRUE(c != NULL, "ENOMEM")) {
		ASSERT_MEM(c + 10, psk, 32);
		c = wgx_realloc_wipe(c, 1 << 20, 50);	/* shrinking copies what fits */
		ASSERT_MEM(c + 10, psk, 32);
		wgx_free_wipe(c, 50);
	}
	wgx_free_wipe(NULL, 10);
	ASSERT_EQ(unwatch(), 0);
}

/* A device read over the UAPI or netlink, then freed: no private key, no psk left behind. */
static void test_wipe_device(void)
{
	uint8_t priv[32], psk[32], key[32];
	struct wgx_wg_device *dev;
	struct nlattr *peers, *peer;
	struct nlmsghdr *nlh;
	char *text, *buf;
	unsigned int i;
	size_t len;

	hex_key(priv, ALICE_PRIV);
	hex_key(psk, PSK1);
	text = get_answer(&len);
	dev = calloc(1, sizeof(*dev));
	watch_keys();
	check_freed(dev, wgx_uapi_parse_get(text, len, dev));
	free(text);

	buf = calloc(1, 65536);
	nlh = dump_msg(buf);
	mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, 32, priv);
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	for (i = 0; i < WIPE_PEERS; i++) {
		make_key(key, i);
		peer = mnl_attr_nest_start(nlh, 0);
		mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, 32, key);
		mnl_attr_put(nlh, WGPEER_A_PRESHARED_KEY, 32, psk);
		mnl_attr_nest_end(nlh, peer);
	}
	mnl_attr_nest_end(nlh, peers);
	dev = calloc(1, sizeof(*dev));
	watch_keys();
	check_freed(dev, wgx_nl_parse_get(nlh, dev));
	free(buf);
}

/* The set=1 text, grown past its first 4 KiB, has the psk in hex. */
static void test_wipe_uapi_set(void)
{
	struct wgx_wg_peer *peers = calloc(WIPE_PEERS, sizeof(*peers));
	unsigned int i;
	size_t len;
	char *out;

	for (i = 0; i < WIPE_PEERS; i++) {
		make_key(peers[i].public_key, i);
		peers[i].has_psk = true;
		hex_key(peers[i].psk, PSK1);
	}
	watch(PSK1, 64);
	if (ASSERT_EQ(wgx_uapi_format_set(peers, NULL, WIPE_PEERS, &out, &len), 0)) {
		ASSERT_TRUE(len > 8192, "only %zu bytes", len);
		wgx_free_wipe(out, len);
	}
	ASSERT_EQ(unwatch(), 0);
	free(peers);
}

/*
 * The UAPI receive buffer, grown while reading a get=1 answer larger than its first size:
 * a fake wireguard-go on a socket of our own under WGX_UAPI_DIR.
 */
static void test_wipe_uapi_recv(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct wgx_wg_device *dev;
	char ifname[16], req[64];
	int fd, cfd, status;
	size_t len;
	char *text;
	pid_t pid;

	snprintf(ifname, sizeof(ifname), "wgxut%d", getpid() % 100000);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", WGX_UAPI_DIR, ifname);
	mkdir(WGX_UAPI_DIR, 0755);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, 1)) {
		printf("  skipped: cannot listen on %s: %s\n", sun.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	text = get_answer(&len);
	pid = fork();
	if (pid == 0) {
		cfd = accept(fd, NULL, NULL);
		if (cfd < 0 || read(cfd, req, sizeof(req)) <= 0 ||
		    write(cfd, text, len) != (ssize_t)len)
			_exit(1);
		_exit(0);
	}
	close(fd);
	dev = calloc(1, sizeof(*dev));
	watch_keys();
	check_freed(dev, wgx_uapi_get_device(ifname, dev));
	waitpid(pid, &status, 0);
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status), "fake server failed");
	unlink(sun.sun_path);
	free(text);
}

int main(void)
{
	struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{ "uapi_parse_get", test_uapi_parse_get },
		{ "uapi_parse_errors", test_uapi_parse_errors },
		{ "uapi_format_set", test_uapi_format_set },
		{ "nl_set_batch_16k", test_nl_set_batch_16k },
		{ "nl_set_batch_4k", test_nl_set_batch_4k },
		{ "nl_remove_batch", test_nl_remove_batch },
		{ "nl_build_errors", test_nl_build_errors },
		{ "nl_parse_dump", test_nl_parse_dump },
		{ "backend_of", test_backend_of },
		{ "wipe_helper", test_wipe_helper },
		{ "wipe_device", test_wipe_device },
		{ "wipe_uapi_set", test_wipe_uapi_set },
		{ "wipe_uapi_recv", test_wipe_uapi_recv },
	};
	unsigned int i;
	int before;

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		before = failures;
		tests[i].fn();
		printf("%s %s\n", failures == before ? "ok  " : "FAIL", tests[i].name);
	}
	return failures ? 1 : 0;
}
