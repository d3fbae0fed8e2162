// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The kernel's WireGuard over generic netlink (family "wireguard", <linux/wireguard.h>):
 * WG_CMD_GET_DEVICE as a dump, WG_CMD_SET_DEVICE split over as many messages as needed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/time_types.h>
#include <linux/wireguard.h>
#include <libmnl/libmnl.h>
#include "loader/wgdev.h"
#include "loader/wgdev_internal.h"
#include "loader/wgdev_peers.h"
#include "loader/wipe.h"

/* A dump message is at most 32 KiB (the kernel caps its allocation there). */
#define NL_RECV_SIZE	65536
/* A dump interrupted by a change of the peer set (NLM_F_DUMP_INTR) is started again. */
#define NL_DUMP_TRIES	8

struct wg_nl {
	struct mnl_socket *nl;
	unsigned int portid;
	unsigned int seq;
	uint16_t family;
	char *buf;
};

static void wg_nl_close(struct wg_nl *s)
{
	if (s->nl)
		mnl_socket_close(s->nl);
	/* A dump carries the private key and every preshared key. */
	wgx_free_wipe(s->buf, NL_RECV_SIZE);
	memset(s, 0, sizeof(*s));
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *attr;
	uint16_t *family = data;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID &&
		    !mnl_attr_validate(attr, MNL_TYPE_U16))
			*family = mnl_attr_get_u16(attr);
	}
	return MNL_CB_OK;
}

/* Runs the replies to request seq through cb until the ACK, NLMSG_DONE or an error. */
static int wg_nl_run(struct wg_nl *s, unsigned int seq, mnl_cb_t cb, void *data)
{
	ssize_t len;
	int ret;

	do {
		len = mnl_socket_recvfrom(s->nl, s->buf, NL_RECV_SIZE);
		if (len < 0)
			return -errno;
		ret = mnl_cb_run(s->buf, len, seq, s->portid, cb, data);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

static int wg_nl_open(struct wg_nl *s)
{
	char req[256];
	struct nlmsghdr *nlh;
	struct genlmsghdr *genl;
	int one = 1, ret;

	memset(s, 0, sizeof(*s));
	s->buf = malloc(NL_RECV_SIZE);
	if (!s->buf)
		return -ENOMEM;
	s->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!s->nl) {
		ret = -errno;
		goto err;
	}
	if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto err;
	}
	/* Errors need not echo our (large) request back. */
	mnl_socket_setsockopt(s->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = time(NULL);

	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++s->seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = CTRL_CMD_GETFAMILY;
	genl->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto err;
	}
	ret = wg_nl_run(s, s->seq, family_cb, &s->family);
	if (ret == -ENOENT)
		ret = -EPROTONOSUPPORT;	/* no WireGuard in this kernel */
	if (!ret && !s->family)
		ret = -EPROTO;
	if (ret)
		goto err;
	return 0;
err:
	wg_nl_close(s);
	return ret;
}

static struct nlmsghdr *wg_nl_put_cmd(void *buf, uint16_t family, uint8_t cmd, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = flags;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = WG_GENL_VERSION;
	return nlh;
}

/* ---- WG_CMD_SET_DEVICE ---- */

static int check_peer(const struct wgx_wg_peer *p)
{
	unsigned int i;

	switch (p->endpoint.sa.sa_family) {
	case 0:
	case AF_INET:
	case AF_INET6:
		break;
	default:
		return -EAFNOSUPPORT;
	}
	for (i = 0; i < p->nr_allowed; i++) {
		const struct wgx_prefix *a = &p->allowed[i];

		if (!((a->family == 4 && a->plen <= 32) || (a->family == 6 && a->plen <= 128)))
			return -EINVAL;
	}
	return 0;
}

enum put_result { PUT_NOTHING, PUT_PARTIAL, PUT_DONE };

/* Where the build stands in the current peer. */
struct set_cursor {
	unsigned int peer;
	unsigned int allowed;	/* next allowed IP to put */
	bool started;		/* key, flags, psk, endpoint and keepalive already sent */
};

static bool put_allowed(struct nlmsghdr *nlh, size_t budget, const struct wgx_prefix *a)
{
	struct nlattr *nest = mnl_attr_nest_start_check(nlh, budget, 0);
	bool v4 = a->family == 4;

	if (!nest)
		return false;
	if (!mnl_attr_put_u16_check(nlh, budget, WGALLOWEDIP_A_FAMILY, v4 ? AF_INET : AF_INET6) ||
	    !mnl_attr_put_check(nlh, budget, WGALLOWEDIP_A_IPADDR, v4 ? 4 : 16, a->addr) ||
	    !mnl_attr_put_u8_check(nlh, budget, WGALLOWEDIP_A_CIDR_MASK, a->plen)) {
		mnl_attr_nest_cancel(nlh, nest);
		return false;
	}
	mnl_attr_nest_end(nlh, nest);
	return true;
}

/* Puts what fits of one peer, from where the cursor stands. */
static enum put_result put_peer(struct nlmsghdr *nlh, size_t budget, const struct wgx_wg_peer *p,
				const uint8_t *remove_key, struct set_cursor *c)
{
	struct nlattr *nest, *ips;
	const struct sockaddr *sa;
	unsigned int put = 0;
	bool first = !c->started;

	nest = mnl_attr_nest_start_check(nlh, budget, 0);
	if (!nest)
		return PUT_NOTHING;
	if (remove_key) {
		if (!mnl_attr_put_check(nlh, budget, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, remove_key) ||
		    !mnl_attr_put_u32_check(nlh, budget, WGPEER_A_FLAGS, WGPEER_F_REMOVE_ME))
			goto cancel;
		mnl_attr_nest_end(nlh, nest);
		return PUT_DONE;
	}
	if (!mnl_attr_put_check(nlh, budget, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, p->public_key))
		goto cancel;
	/* A continuation too: one must not create a peer removed since the first part. */
	if (!first && p->update_only &&
	    !mnl_attr_put_u32_check(nlh, budget, WGPEER_A_FLAGS, WGPEER_F_UPDATE_ONLY))
		goto cancel;
	if (first) {
		sa = &p->endpoint.sa;
		if (!mnl_attr_put_u32_check(nlh, budget, WGPEER_A_FLAGS,
					    WGPEER_F_REPLACE_ALLOWEDIPS |
					    (p->update_only ? WGPEER_F_UPDATE_ONLY : 0)) ||
		    !mnl_attr_put_u16_check(nlh, budget, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
					    p->keepalive))
			goto cancel;
		/* An all-zero preshared key removes it. */
		if (p->has_psk &&
		    !mnl_attr_put_check(nlh, budget, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN, p->psk))
			goto cancel;
		if (sa->sa_family == AF_INET &&
		    !mnl_attr_put_check(nlh, budget, WGPEER_A_ENDPOINT, sizeof(struct sockaddr_in),
					&p->endpoint.in4))
			goto cancel;
		if (sa->sa_family == AF_INET6 &&
		    !mnl_attr_put_check(nlh, budget, WGPEER_A_ENDPOINT, sizeof(struct sockaddr_in6),
					&p->endpoint.in6))
			goto cancel;
	}
	if (c->allowed < p->nr_allowed) {
		ips = mnl_attr_nest_start_check(nlh, budget, WGPEER_A_ALLOWEDIPS);
		if (ips) {
			for (; c->allowed < p->nr_allowed; c->allowed++, put++)
				if (!put_allowed(nlh, budget, &p->allowed[c->allowed]))
					break;
			if (put)
				mnl_attr_nest_end(nlh, ips);
			else
				mnl_attr_nest_cancel(nlh, ips);
		}
		if (c->allowed < p->nr_allowed) {
			/* Not all fit: keep what went in, if anything did. */
			if (!put && !first)
				goto cancel;
			mnl_attr_nest_end(nlh, nest);
			c->started = true;
			return PUT_PARTIAL;
		}
	}
	mnl_attr_nest_end(nlh, nest);
	return PUT_DONE;
cancel:
	mnl_attr_nest_cancel(nlh, nest);
	return PUT_NOTHING;
}

int wgx_nl_build_set(void *buf, size_t budget, uint16_t family_id, const char *ifname,
		     const struct wgx_wg_peer *peers, const uint8_t (*remove_keys)[WG_KEY_LEN],
		     unsigned int nr, wgx_nl_emit_fn emit, void *ctx)
{
	struct set_cursor c = { 0 };
	struct nlmsghdr *nlh;
	struct nlattr *list;
	unsigned int i, in_msg;
	enum put_result r;
	int ret;

	if (!peers == !remove_keys)
		return -EINVAL;
	for (i = 0; peers && i < nr; i++) {
		ret = check_peer(&peers[i]);
		if (ret)
			return ret;
	}
	while (c.peer < nr) {
		nlh = wg_nl_put_cmd(buf, family_id, WG_CMD_SET_DEVICE, NLM_F_REQUEST | NLM_F_ACK);
		if (!mnl_attr_put_strz_check(nlh, budget, WGDEVICE_A_IFNAME, ifname))
			return -EMSGSIZE;
		list = mnl_attr_nest_start_check(nlh, budget, WGDEVICE_A_PEERS);
		if (!list)
			return -EMSGSIZE;
		for (in_msg = 0; c.peer < nr; in_msg++) {
			r = put_peer(nlh, budget, peers ? &peers[c.peer] : NULL,
				     remove_keys ? remove_keys[c.peer] : NULL, &c);
			if (r == PUT_NOTHING) {
				if (!in_msg)
					return -EMSGSIZE;
				break;
			}
			if (r == PUT_PARTIAL)
				break;
			c.peer++;
			c.allowed = 0;
			c.started = false;
		}
		mnl_attr_nest_end(nlh, list);
		ret = emit(nlh, ctx);
		if (ret < 0)
			return ret;
	}
	return 0;
}

struct set_ctx {
	struct wg_nl *s;
};

static int send_and_ack(struct nlmsghdr *nlh, void *data)
{
	struct set_ctx *ctx = data;
	struct wg_nl *s = ctx->s;

	nlh->nlmsg_seq = ++s->seq;
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return wg_nl_run(s, nlh->nlmsg_seq, NULL, NULL);
}

int wgx_nl_set(const char *ifname, const struct wgx_wg_peer *peers,
	       const uint8_t (*remove_keys)[WG_KEY_LEN], unsigned int nr)
{
	struct set_ctx ctx;
	struct wg_nl s;
	void *buf;
	int ret;

	buf = malloc(WGX_NL_SET_BUDGET);
	if (!buf)
		return -ENOMEM;
	ret = wg_nl_open(&s);
	if (ret) {
		free(buf);
		return ret;
	}
	ctx.s = &s;
	ret = wgx_nl_build_set(buf, WGX_NL_SET_BUDGET, s.family, ifname, peers, remove_keys, nr,
			       send_and_ack, &ctx);
	wg_nl_close(&s);
	wgx_free_wipe(buf, WGX_NL_SET_BUDGET);
	return ret;
}

/* ---- WG_CMD_GET_DEVICE ---- */

static int parse_allowed(const struct nlattr *nest, struct wgx_prefix *a)
{
	const struct nlattr *attr;
	unsigned int family = 0, alen = 0;
	int plen = -1;

	memset(a, 0, sizeof(*a));
	mnl_attr_for_each_nested(attr, nest) {
		switch (mnl_attr_get_type(attr)) {
		case WGALLOWEDIP_A_FAMILY:
			if (mnl_attr_validate(attr, MNL_TYPE_U16))
				return -EBADMSG;
			family = mnl_attr_get_u16(attr);
			break;
		case WGALLOWEDIP_A_IPADDR:
			alen = mnl_attr_get_payload_len(attr);
			if (alen != 4 && alen != 16)
				return -EBADMSG;
			memcpy(a->addr, mnl_attr_get_payload(attr), alen);
			break;
		case WGALLOWEDIP_A_CIDR_MASK:
			if (mnl_attr_validate(attr, MNL_TYPE_U8))
				return -EBADMSG;
			plen = mnl_attr_get_u8(attr);
			break;
		}
	}
	if (family == AF_INET && alen == 4 && plen >= 0 && plen <= 32)
		a->family = 4;
	else if (family == AF_INET6 && alen == 16 && plen >= 0 && plen <= 128)
		a->family = 6;
	else
		return -EBADMSG;
	a->plen = plen;
	return 0;
}

static int parse_peer(const struct nlattr *nest, struct wgx_wg_device *dev)
{
	static const uint8_t zero_key[WG_KEY_LEN];
	const struct nlattr *attr, *ip;
	const uint8_t *key = NULL;
	struct wgx_wg_peer *p;
	struct wgx_prefix a;
	struct __kernel_timespec ts;
	unsigned int len;
	int ret;

	mnl_attr_for_each_nested(attr, nest) {
		if (mnl_attr_get_type(attr) == WGPEER_A_PUBLIC_KEY &&
		    mnl_attr_get_payload_len(attr) == WG_KEY_LEN)
			key = mnl_attr_get_payload(attr);
	}
	if (!key)
		return -EBADMSG;
	/* The kernel continues a peer whose allowed IPs did not fit in the next message. */
	if (dev->nr_peers && !memcmp(dev->peers[dev->nr_peers - 1].public_key, key, WG_KEY_LEN)) {
		p = &dev->peers[dev->nr_peers - 1];
	} else {
		p = wgx_wgdev_add_peer(dev);
		if (!p)
			return -ENOMEM;
		memcpy(p->public_key, key, WG_KEY_LEN);
	}

	mnl_attr_for_each_nested(attr, nest) {
		len = mnl_attr_get_payload_len(attr);
		switch (mnl_attr_get_type(attr)) {
		case WGPEER_A_PRESHARED_KEY:
			if (len != WG_KEY_LEN)
				return -EBADMSG;
			memcpy(p->psk, mnl_attr_get_payload(attr), WG_KEY_LEN);
			p->has_psk = memcmp(p->psk, zero_key, WG_KEY_LEN) != 0;
			break;
		case WGPEER_A_ENDPOINT: {
			const struct sockaddr *sa = mnl_attr_get_payload(attr);

			if (len >= sizeof(sa->sa_family) && sa->sa_family == AF_INET &&
			    len == sizeof(struct sockaddr_in))
				memcpy(&p->endpoint.in4, sa, len);
			else if (len >= sizeof(sa->sa_family) && sa->sa_family == AF_INET6 &&
				 len == sizeof(struct sockaddr_in6))
				memcpy(&p->endpoint.in6, sa, len);
			else
				return -EBADMSG;
			break;
		}
		case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
			if (mnl_attr_validate(attr, MNL_TYPE_U16))
				return -EBADMSG;
			p->keepalive = mnl_attr_get_u16(attr);
			break;
		case WGPEER_A_LAST_HANDSHAKE_TIME:
			if (len != sizeof(ts))
				return -EBADMSG;
			memcpy(&ts, mnl_attr_get_payload(attr), sizeof(ts));
			p->last_handshake_sec = ts.tv_sec;
			break;
		case WGPEER_A_RX_BYTES:
			if (mnl_attr_validate(attr, MNL_TYPE_U64))
				return -EBADMSG;
			p->rx_bytes = mnl_attr_get_u64(attr);
			break;
		case WGPEER_A_TX_BYTES:
			if (mnl_attr_validate(attr, MNL_TYPE_U64))
				return -EBADMSG;
			p->tx_bytes = mnl_attr_get_u64(attr);
			break;
		case WGPEER_A_ALLOWEDIPS:
			mnl_attr_for_each_nested(ip, attr) {
				ret = parse_allowed(ip, &a);
				if (ret)
					return ret;
				ret = wgx_wgdev_add_allowed(p, &a);
				if (ret)
					return ret;
			}
			break;
		}
	}
	return 0;
}

int wgx_nl_parse_get(const struct nlmsghdr *nlh, struct wgx_wg_device *dev)
{
	const struct nlattr *attr, *peer;
	unsigned int len;
	int ret;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct genlmsghdr)))
		return -EBADMSG;
	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		len = mnl_attr_get_payload_len(attr);
		switch (mnl_attr_get_type(attr)) {
		case WGDEVICE_A_IFINDEX:
			if (mnl_attr_validate(attr, MNL_TYPE_U32))
				return -EBADMSG;
			dev->ifindex = mnl_attr_get_u32(attr);
			break;
		case WGDEVICE_A_PRIVATE_KEY:
			if (len != WG_KEY_LEN)
				return -EBADMSG;
			memcpy(dev->private_key, mnl_attr_get_payload(attr), WG_KEY_LEN);
			break;
		case WGDEVICE_A_PUBLIC_KEY:
			if (len != WG_KEY_LEN)
				return -EBADMSG;
			memcpy(dev->public_key, mnl_attr_get_payload(attr), WG_KEY_LEN);
			break;
		case WGDEVICE_A_LISTEN_PORT:
			if (mnl_attr_validate(attr, MNL_TYPE_U16))
				return -EBADMSG;
			dev->listen_port = mnl_attr_get_u16(attr);
			break;
		case WGDEVICE_A_PEERS:
			mnl_attr_for_each_nested(peer, attr) {
				ret = parse_peer(peer, dev);
				if (ret)
					return ret;
			}
			break;
		}
	}
	return 0;
}

struct get_ctx {
	struct wgx_wg_device *dev;
	int err;
};

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct get_ctx *ctx = data;

	ctx->err = wgx_nl_parse_get(nlh, ctx->dev);
	return ctx->err ? MNL_CB_ERROR : MNL_CB_OK;
}

static int get_once(const char *ifname, struct wgx_wg_device *dev)
{
	struct get_ctx ctx = { .dev = dev };
	char req[128];
	struct nlmsghdr *nlh;
	struct wg_nl s;
	int ret;

	ret = wg_nl_open(&s);
	if (ret)
		return ret;
	nlh = wg_nl_put_cmd(req, s.family, WG_CMD_GET_DEVICE, NLM_F_REQUEST | NLM_F_DUMP);
	nlh->nlmsg_seq = ++s.seq;
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
	if (mnl_socket_sendto(s.nl, nlh, nlh->nlmsg_len) < 0)
		ret = -errno;
	else
		ret = wg_nl_run(&s, nlh->nlmsg_seq, get_cb, &ctx);
	if (ctx.err)
		ret = ctx.err;
	wg_nl_close(&s);
	return ret;
}

int wgx_nl_get_device(const char *ifname, struct wgx_wg_device *dev)
{
	int ret = -EINTR, tries;

	for (tries = 0; tries < NL_DUMP_TRIES && ret == -EINTR; tries++) {
		wgx_wgdev_clear_peers(dev);
		ret = get_once(ifname, dev);
	}
	if (ret == -EINTR)
		ret = -EAGAIN;
	return ret;
}
