// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A WireGuard device whichever implementation serves it: the backend is chosen by the
 * interface's kind (rtnetlink IFLA_INFO_KIND), then the work is done by wg_netlink.c or
 * wg_uapi.c. The top of the device code: containers (wgdev_peers.c) <- backends <- this.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include "loader/wgdev.h"
#include "loader/wgdev_internal.h"

static int check_ifname(const char *ifname)
{
	size_t len = ifname ? strlen(ifname) : 0;

	if (!len || len >= IFNAMSIZ || strchr(ifname, '/'))
		return -EINVAL;
	return 0;
}

/* One RTM_NEWLINK message with its statistics fits with room to spare. */
#define LINK_RECV_SIZE	32768

struct link_kind {
	int ifindex;
	char kind[32];
};

static int linkinfo_cb(const struct nlattr *attr, void *data)
{
	struct link_kind *lk = data;

	if (mnl_attr_get_type(attr) == IFLA_INFO_KIND && !mnl_attr_validate(attr, MNL_TYPE_STRING))
		snprintf(lk->kind, sizeof(lk->kind), "%.*s", (int)mnl_attr_get_payload_len(attr),
			 (const char *)mnl_attr_get_payload(attr));
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == IFLA_LINKINFO && !mnl_attr_validate(attr, MNL_TYPE_NESTED))
		return mnl_attr_parse_nested(attr, linkinfo_cb, data);
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct link_kind *lk = data;

	if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifm)))
		return MNL_CB_OK;
	lk->ifindex = ifm->ifi_index;
	return mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, data);
}

/* The interface's index and kind ("" for a device without one, e.g. a physical NIC). */
static int get_link_kind(const char *ifname, struct link_kind *lk)
{
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	unsigned int portid, seq = time(NULL);
	ssize_t len;
	char *buf;
	int ret;

	memset(lk, 0, sizeof(*lk));
	buf = malloc(LINK_RECV_SIZE);
	if (!buf)
		return -ENOMEM;
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl) {
		ret = -errno;
		free(buf);
		return ret;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	/* The link message, then the ACK (MNL_CB_STOP) or an error. */
	do {
		len = mnl_socket_recvfrom(nl, buf, LINK_RECV_SIZE);
		if (len < 0) {
			ret = -errno;
			goto out;
		}
		ret = mnl_cb_run(buf, len, seq, portid, link_cb, lk);
	} while (ret > 0);
	if (ret < 0)
		ret = -errno;
out:
	mnl_socket_close(nl);
	free(buf);
	return ret;
}

int wgx_wg_backend_of(const char *ifname, enum wgx_wg_backend *out)
{
	char path[sizeof(WGX_UAPI_DIR) + IFNAMSIZ + 8];
	struct link_kind lk;
	struct stat st;
	int ret;

	ret = check_ifname(ifname);
	if (ret)
		return ret;
	ret = get_link_kind(ifname, &lk);
	if (ret)
		return ret;
	if (!strcmp(lk.kind, "wireguard")) {
		*out = WGX_WG_NETLINK;
		return 0;
	}
	if (!strcmp(lk.kind, "tun")) {
		snprintf(path, sizeof(path), "%s/%s.sock", WGX_UAPI_DIR, ifname);
		if (!stat(path, &st) && S_ISSOCK(st.st_mode)) {
			*out = WGX_WG_UAPI;
			return 0;
		}
	}
	return -EOPNOTSUPP;
}

int wgx_wg_get_device(const char *ifname, struct wgx_wg_device **out)
{
	struct wgx_wg_device *dev;
	enum wgx_wg_backend backend;
	int ret;

	ret = wgx_wg_backend_of(ifname, &backend);
	if (ret)
		return ret;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	snprintf(dev->ifname, sizeof(dev->ifname), "%s", ifname);
	dev->backend = backend;
	dev->ifindex = if_nametoindex(ifname);
	if (backend == WGX_WG_NETLINK)
		ret = wgx_nl_get_device(ifname, dev);
	else
		ret = wgx_uapi_get_device(ifname, dev);
	if (ret) {
		wgx_wg_device_free(dev);
		return ret;
	}
	*out = dev;
	return 0;
}

static int set_or_remove(const char *ifname, const struct wgx_wg_peer *peers,
			 const uint8_t (*keys)[WG_KEY_LEN], unsigned int nr)
{
	enum wgx_wg_backend backend;
	int ret;

	if (!nr)
		return check_ifname(ifname);
	ret = wgx_wg_backend_of(ifname, &backend);
	if (ret)
		return ret;
	if (backend == WGX_WG_NETLINK)
		return wgx_nl_set(ifname, peers, keys, nr);
	return wgx_uapi_set(ifname, peers, keys, nr);
}

int wgx_wg_set_peers(const char *ifname, const struct wgx_wg_peer *peers, unsigned int nr)
{
	if (nr && !peers)
		return -EINVAL;
	return set_or_remove(ifname, peers, NULL, nr);
}

int wgx_wg_remove_peers(const char *ifname, const uint8_t (*keys)[WG_KEY_LEN], unsigned int nr)
{
	if (nr && !keys)
		return -EINVAL;
	return set_or_remove(ifname, NULL, keys, nr);
}
