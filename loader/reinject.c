// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <ifaddrs.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "loader/reinject.h"

int wgx_reinject_open(struct wgx_reinject *r)
{
	r->fd4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (r->fd4 < 0)
		return -errno;
	/* IPPROTO_RAW on AF_INET6 means the header is ours (Linux >= 4.5) */
	r->fd6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (r->fd6 < 0) {
		int err = -errno;

		close(r->fd4);
		r->fd4 = -1;
		return err;
	}
	return 0;
}

void wgx_reinject_close(struct wgx_reinject *r)
{
	if (r->fd4 >= 0)
		close(r->fd4);
	if (r->fd6 >= 0)
		close(r->fd6);
	r->fd4 = r->fd6 = -1;
}

bool wgx_addr_routable_unicast(int family, const uint8_t a[16])
{
	static const uint8_t zero[16], v4mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (family == 4) {
		if (a[0] == 0 || a[0] == 127 || a[0] >= 224)
			return false;
		return !(a[0] == 169 && a[1] == 254);
	}
	if (family != 6)
		return false;
	if (!memcmp(a, zero, 16) || a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
		return false;
	if (!memcmp(a, zero, 15) && a[15] == 1)
		return false;	/* ::1 */
	return memcmp(a, v4mapped, 12) != 0;
}

/* Does any interface have addr (ifindex 0), or does ifindex have it? */
static bool host_has(const struct ifaddrs *ifa, int family, const uint8_t addr[16],
		     unsigned int ifindex)
{
	for (; ifa; ifa = ifa->ifa_next) {
		const struct sockaddr *sa = ifa->ifa_addr;
		const void *p;

		if (!sa || (family == 4 && sa->sa_family != AF_INET) ||
		    (family == 6 && sa->sa_family != AF_INET6))
			continue;
		p = family == 4 ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr :
				  (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (memcmp(p, addr, family == 4 ? 4 : 16))
			continue;
		if (!ifindex || if_nametoindex(ifa->ifa_name) == ifindex)
			return true;
	}
	return false;
}

int wgx_reinject_check(const struct wgx_hs_event *ev, const char **why)
{
	struct ifaddrs *ifa = NULL;
	int err = 0;

	if (ev->family != 4 && ev->family != 6) {
		*why = "not IPv4 or IPv6";
		return -EPERM;
	}
	if (!wgx_addr_routable_unicast(ev->family, ev->saddr)) {
		*why = "the source is not a routable unicast address";
		return -EPERM;
	}
	if (getifaddrs(&ifa)) {
		*why = "cannot read the host's addresses";
		return -errno;
	}
	if (host_has(ifa, ev->family, ev->saddr, 0)) {
		*why = "the source is one of this host's addresses";
		err = -EPERM;
	} else if (!host_has(ifa, ev->family, ev->daddr, ev->ifindex)) {
		*why = "the destination is not an address of the interface it came in on";
		err = -EPERM;
	}
	freeifaddrs(ifa);
	return err;
}

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int wgx_reinject(const struct wgx_reinject *r, const struct wgx_hs_event *ev, const char **why)
{
	uint8_t pkt[40 + 8 + WG_LEN_INITIATION] = {};
	size_t ulen = 8 + WG_LEN_INITIATION, hlen = ev->family == 6 ? 40 : 20;
	uint8_t *ip = pkt, *udp = pkt + hlen;
	union {
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} dst = {};
	uint32_t sum = 0;
	uint16_t c;
	ssize_t n;
	int err;

	err = wgx_reinject_check(ev, why);
	if (err)
		return err;

	memcpy(udp, &ev->sport, 2);
	memcpy(udp + 2, &ev->dport, 2);
	udp[4] = ulen >> 8;
	udp[5] = ulen & 0xff;
	memcpy(udp + 8, ev->msg, WG_LEN_INITIATION);
	if (ev->family == 6) {
		ip[0] = 0x60;
		ip[4] = ulen >> 8;
		ip[5] = ulen & 0xff;
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		memcpy(ip + 8, ev->saddr, 16);
		memcpy(ip + 24, ev->daddr, 16);
		/* the UDP checksum is mandatory over IPv6: pseudo-header, then the datagram */
		sum = csum_add(sum, ev->saddr, 16);
		sum = csum_add(sum, ev->daddr, 16);
		sum += ulen + IPPROTO_UDP;
		sum = csum_add(sum, udp, ulen);
		c = csum_fold(sum);
		c = c ? c : 0xffff;
		udp[6] = c >> 8;
		udp[7] = c & 0xff;
		dst.in6.sin6_family = AF_INET6;
		memcpy(&dst.in6.sin6_addr, ev->daddr, 16);
		n = sendto(r->fd6, pkt, hlen + ulen, 0, (struct sockaddr *)&dst.in6, sizeof(dst.in6));
	} else {
		ip[0] = 0x45;
		ip[2] = (hlen + ulen) >> 8;
		ip[3] = (hlen + ulen) & 0xff;
		ip[8] = 64;
		ip[9] = IPPROTO_UDP;
		memcpy(ip + 12, ev->saddr, 4);
		memcpy(ip + 16, ev->daddr, 4);
		/* the kernel fills the IPv4 header checksum; UDP checksum 0 = none */
		dst.in4.sin_family = AF_INET;
		memcpy(&dst.in4.sin_addr, ev->daddr, 4);
		n = sendto(r->fd4, pkt, hlen + ulen, 0, (struct sockaddr *)&dst.in4, sizeof(dst.in4));
	}
	if (n < 0) {
		*why = "send";
		return -errno;
	}
	return n == (ssize_t)(hlen + ulen) ? 0 : -EIO;
}
