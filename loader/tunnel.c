// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Attach, detach and inspect the tunnel programs: two tc filters (clsact ingress and egress)
 * on a WireGuard interface, with handle WGX_TUN_TC_HANDLE and priority WGX_TUN_TC_PRIO, and
 * their maps pinned by name in <pin_dir>/tunnel/. wgx_tun_ifaces records each interface so
 * that status, re-attach and detach work from any later invocation.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <net/if_arp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader/tunnel.h"
#include "loader/uplink.h"
#include "tunnel.skel.h"

static const char *const reason_names[WGX_TR__MAX] = {
	[WGX_TR_ALLOWED] = "allowed",
	[WGX_TR_REPLY] = "reply",
	[WGX_TR_INBOUND] = "inbound",
	[WGX_TR_RELATED] = "related",
	[WGX_TR_NO_POLICY] = "no_policy",
	[WGX_TR_UNKNOWN_SOURCE] = "unknown_source",
	[WGX_TR_UNKNOWN_DEST] = "unknown_dest",
	[WGX_TR_DENIED] = "denied",
	[WGX_TR_UNSOLICITED] = "unsolicited",
	[WGX_TR_NOT_IP] = "not_ip",
	[WGX_TR_TRUNCATED] = "truncated",
	[WGX_TR_BAD_IP] = "bad_ip",
	[WGX_TR_FRAG_UNKNOWN] = "frag_unknown",
};

const char *wgx_tun_reason_name(int reason)
{
	return reason >= 0 && reason < WGX_TR__MAX ? reason_names[reason] : "?";
}

const char *wgx_tun_dir_name(int dir)
{
	return dir == WGX_TD_INGRESS ? "ingress" : dir == WGX_TD_EGRESS ? "egress" : "?";
}

/* <pin_dir>/tunnel, or <pin_dir>/tunnel/NAME with a name. */
static int tunnel_path(char *buf, size_t len, const char *pin_dir, const char *name)
{
	return wgx_pin_path(buf, len, pin_dir, WGX_PIN_SUB_TUNNEL, name);
}

static int pinned_map_fd(const char *pin_dir, const char *name)
{
	return wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, name);
}

/*
 * Remove every pin of the tunnel's maps (the skeleton names them: no list to keep in step),
 * <pin_dir>/tunnel/, and pin_dir if nothing else is in it.
 */
static void unpin_all(const char *pin_dir)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	char root[PATH_MAX], path[PATH_MAX];
	struct tunnel *skel;
	struct bpf_map *m;

	if (tunnel_path(root, sizeof(root), pin_dir, NULL))
		return;
	skel = tunnel__open_opts(&oo);
	if (skel) {
		bpf_object__for_each_map(m, skel->obj) {
			if (bpf_map__is_internal(m))
				continue;
			if (!tunnel_path(path, sizeof(path), pin_dir, bpf_map__name(m)))
				unlink(path);
		}
		tunnel__destroy(skel);
	}
	rmdir(root);
	rmdir(pin_dir);
}

static bool pins_exist(const char *pin_dir)
{
	char path[PATH_MAX];

	return !tunnel_path(path, sizeof(path), pin_dir, "wgx_tun_ifaces") &&
	       access(path, F_OK) == 0;
}

static void tc_hook_init(struct bpf_tc_hook *h, int ifindex, enum bpf_tc_attach_point ap)
{
	memset(h, 0, sizeof(*h));
	h->sz = sizeof(*h);
	h->ifindex = ifindex;
	h->attach_point = ap;
}

static void tc_opts_init(struct bpf_tc_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->handle = WGX_TUN_TC_HANDLE;
	o->priority = WGX_TUN_TC_PRIO;
}

static const char *prog_name_of(enum bpf_tc_attach_point ap)
{
	return ap == BPF_TC_INGRESS ? "wgx_tun_ingress" : "wgx_tun_egress";
}

/*
 * The filter at our handle and priority on one hook: 0 and *id = 0 if there is none,
 * *id and *ours otherwise (ours: the program has our program's name for that hook).
 */
static int tc_query(int ifindex, enum bpf_tc_attach_point ap, __u32 *id, bool *ours)
{
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);
	struct bpf_tc_hook h;
	struct bpf_tc_opts o;
	int fd, err;

	*id = 0;
	*ours = false;
	tc_hook_init(&h, ifindex, ap);
	tc_opts_init(&o);
	err = bpf_tc_query(&h, &o);
	if (err)	/* no clsact qdisc (EINVAL) or no such filter (ENOENT) */
		return err == -ENOENT || err == -EINVAL ? 0 : err;
	*id = o.prog_id;
	fd = bpf_prog_get_fd_by_id(o.prog_id);
	if (fd < 0)
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &pi, &len))
		*ours = !strcmp(pi.name, prog_name_of(ap));
	close(fd);
	return 0;
}

static int tc_detach_ours(int ifindex, enum bpf_tc_attach_point ap)
{
	struct bpf_tc_hook h;
	struct bpf_tc_opts o;

	tc_hook_init(&h, ifindex, ap);
	tc_opts_init(&o);
	return bpf_tc_detach(&h, &o);
}

/* Attach (or swap in place: BPF_TC_F_REPLACE) prog_fd at our handle and priority. */
static int tc_attach_ours(int ifindex, enum bpf_tc_attach_point ap, int prog_fd, __u32 *id)
{
	struct bpf_tc_hook h;
	struct bpf_tc_opts o;
	int err;

	tc_hook_init(&h, ifindex, ap);
	tc_opts_init(&o);
	o.prog_fd = prog_fd;
	o.flags = BPF_TC_F_REPLACE;
	err = bpf_tc_attach(&h, &o);
	if (!err)
		*id = o.prog_id;
	return err;
}

/* Put back what a failed attach changed on one hook: the old program, or nothing. */
static void tc_restore(int ifindex, enum bpf_tc_attach_point ap, __u32 old_id)
{
	__u32 id;
	int fd;

	if (!old_id) {
		tc_detach_ours(ifindex, ap);
		return;
	}
	fd = bpf_prog_get_fd_by_id(old_id);
	if (fd < 0)
		return;
	tc_attach_ours(ifindex, ap, fd, &id);
	close(fd);
}

static __u64 realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The size of the pinned flow table, if there is one. */
static int flows_size(const char *pin_dir, __u32 *size)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_TUNNEL, "wgx_flows"), err = 0;

	if (fd < 0)
		return fd;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		err = -errno;
	else
		*size = info.max_entries;
	close(fd);
	return err;
}

/* -EEXIST if the flow table is pinned at another size than want (a map is never resized). */
static int flows_size_check(const char *pin_dir, __u32 want)
{
	__u32 cur = 0;

	if (flows_size(pin_dir, &cur))
		return 0;
	return cur == want ? 0 : -EEXIST;
}

/*
 * A new wgx_tun_cfg (all zero) gets the default timeouts; policy_loaded stays 0. quota (if
 * not 0) is set either way.
 */
static int cfg_init(int cfg_fd, __u32 quota)
{
	struct wgx_tun_cfg cfg, zero = {};
	__u32 key = 0;

	if (bpf_map_lookup_elem(cfg_fd, &key, &cfg))
		return -errno;
	if (memcmp(&cfg, &zero, sizeof(cfg))) {
		if (!quota || cfg.flow_quota == quota)
			return 0;
		cfg.flow_quota = quota;
		return bpf_map_update_elem(cfg_fd, &key, &cfg, BPF_EXIST) ? -errno : 0;
	}
	cfg.flow_quota = quota ?: WGX_TUN_FLOW_QUOTA;
	cfg.tcp_timeout_s = WGX_TUN_TCP_TIMEOUT_S;
	cfg.tcp_close_s = WGX_TUN_TCP_CLOSE_S;
	cfg.udp_timeout_s = WGX_TUN_UDP_TIMEOUT_S;
	cfg.icmp_timeout_s = WGX_TUN_ICMP_TIMEOUT_S;
	return bpf_map_update_elem(cfg_fd, &key, &cfg, BPF_EXIST) ? -errno : 0;
}

/*
 * Bytes before the IP header on ifname, from its link type: 0 on WireGuard and TUN devices
 * (ARPHRD_NONE) and raw-IP ones, 14 on Ethernet (a veth in a benchmark or a lab).
 * -EPFNOSUPPORT for any other link type, whose header we do not know.
 */
int wgx_tunnel_l2_len(const char *ifname, __u32 *len)
{
	struct ifreq ifr = {};
	int fd, err = 0;

	if (strlen(ifname) >= IF_NAMESIZE)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = errno == ENODEV ? -ENODEV : -errno;
	close(fd);
	if (err)
		return err;
	switch (ifr.ifr_hwaddr.sa_family) {
	case ARPHRD_NONE:
	case ARPHRD_RAWIP:
		*len = 0;
		return 0;
	case ARPHRD_ETHER:
		*len = 14;
		return 0;
	default:
		return -EPFNOSUPPORT;
	}
}

int wgx_tunnel_attach(const struct wgx_tunnel_opts *o, struct wgx_tunnel_info *info)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts);
	struct bpf_tc_hook hook;
	struct wgx_tun_iface rec = {}, old = {};
	struct tunnel *skel = NULL;
	__u32 old_in = 0, old_eg = 0;
	bool ours_in, ours_eg, had_old, fresh;
	char root[PATH_MAX];
	int ifindex, err, ifaces_fd;
	__u32 l2_len;

	memset(info, 0, sizeof(*info));
	if (!o->ifname || strlen(o->ifname) >= IF_NAMESIZE)
		return -EINVAL;
	ifindex = if_nametoindex(o->ifname);
	if (!ifindex)
		return -ENODEV;
	info->ifindex = ifindex;
	if (o->l2_len == WGX_TUN_L2_AUTO) {
		err = wgx_tunnel_l2_len(o->ifname, &l2_len);
		if (err)
			return err;
	} else {
		l2_len = o->l2_len;
	}

	/* Someone else's filter at our handle and priority is not ours to replace. */
	err = tc_query(ifindex, BPF_TC_INGRESS, &old_in, &ours_in);
	if (!err)
		err = tc_query(ifindex, BPF_TC_EGRESS, &old_eg, &ours_eg);
	if (err)
		return err;
	if ((old_in && !ours_in) || (old_eg && !ours_eg))
		return -EBUSY;

	err = tunnel_path(root, sizeof(root), o->pin_dir, NULL);
	if (err)
		return err;
	fresh = !pins_exist(o->pin_dir);
	if (mkdir(root, 0700) && errno != EEXIST)
		return -errno;
	open_opts.pin_root_path = root;
	skel = tunnel__open_opts(&open_opts);
	if (!skel) {
		err = -errno ?: -EINVAL;
		goto out;
	}
	skel->rodata->l2_len = l2_len;
	if (o->max_flows) {
		err = flows_size_check(o->pin_dir, o->max_flows);
		if (err)
			goto out;
		bpf_map__set_max_entries(skel->maps.wgx_flows, o->max_flows);
	} else if (!fresh) {
		/* the size it was made with, so that the pinned table is reused */
		__u32 cur = 0;

		if (!flows_size(o->pin_dir, &cur) && cur)
			bpf_map__set_max_entries(skel->maps.wgx_flows, cur);
	}
	/* the pinned maps are reused (libbpf checks they match), so counters and flows stay */
	err = tunnel__load(skel);
	if (err)
		goto out;
	info->created_pins = fresh;
	err = cfg_init(bpf_map__fd(skel->maps.wgx_tun_cfg), o->flow_quota);
	if (err)
		goto out;
	ifaces_fd = bpf_map__fd(skel->maps.wgx_tun_ifaces);
	had_old = !bpf_map_lookup_elem(ifaces_fd, &ifindex, &old);

	tc_hook_init(&hook, ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS);
	err = bpf_tc_hook_create(&hook);	/* the clsact qdisc */
	if (err && err != -EEXIST)
		goto out;
	info->created_qdisc = !err;

	err = tc_attach_ours(ifindex, BPF_TC_INGRESS, bpf_program__fd(skel->progs.wgx_tun_ingress),
			     &info->ingress_prog_id);
	if (err)
		goto out;
	err = tc_attach_ours(ifindex, BPF_TC_EGRESS, bpf_program__fd(skel->progs.wgx_tun_egress),
			     &info->egress_prog_id);
	if (err) {
		tc_restore(ifindex, BPF_TC_INGRESS, old_in);
		goto out;
	}
	info->replaced = old_in || old_eg;

	snprintf(rec.name, sizeof(rec.name), "%s", o->ifname);
	rec.ingress_prog_id = info->ingress_prog_id;
	rec.egress_prog_id = info->egress_prog_id;
	rec.l2_len = l2_len;
	rec.flags = (had_old ? old.flags : 0) |
		    (info->created_qdisc ? WGX_TUN_IF_F_CREATED_QDISC : 0);
	rec.attached_ns = had_old ? old.attached_ns : realtime_ns();
	if (bpf_map_update_elem(ifaces_fd, &ifindex, &rec, BPF_ANY)) {
		err = -errno;
		tc_restore(ifindex, BPF_TC_INGRESS, old_in);
		tc_restore(ifindex, BPF_TC_EGRESS, old_eg);
	}
out:
	tunnel__destroy(skel);
	/* Leave nothing behind: a first attach that failed takes its pins away again. */
	if (err && fresh)
		unpin_all(o->pin_dir);
	return err;
}

/* The ifindex recorded under name ifname (the interface is gone). */
static int ifindex_by_name(int ifaces_fd, const char *ifname)
{
	struct wgx_tun_iface rec;
	__u32 key, next;
	int err;

	err = bpf_map_get_next_key(ifaces_fd, NULL, &next);
	while (!err) {
		key = next;
		if (!bpf_map_lookup_elem(ifaces_fd, &key, &rec) &&
		    !strncmp(rec.name, ifname, sizeof(rec.name)))
			return key;
		err = bpf_map_get_next_key(ifaces_fd, &key, &next);
	}
	return 0;
}

int wgx_tunnel_detach(const char *ifname, const char *pin_dir, bool *removed_pins)
{
	struct wgx_tun_iface rec;
	__u32 id_in = 0, id_eg = 0, next;
	bool ours_in = false, ours_eg = false, recorded;
	char name[IF_NAMESIZE];
	int ifindex, fd, err = 0;

	*removed_pins = false;
	ifindex = if_nametoindex(ifname);
	fd = pinned_map_fd(pin_dir, "wgx_tun_ifaces");
	if (!ifindex) {
		if (fd >= 0)
			ifindex = ifindex_by_name(fd, ifname);
		if (!ifindex) {
			err = -ENODEV;
			goto out;
		}
	}
	recorded = fd >= 0 && !bpf_map_lookup_elem(fd, &ifindex, &rec);
	if (if_indextoname(ifindex, name)) {
		err = tc_query(ifindex, BPF_TC_INGRESS, &id_in, &ours_in);
		if (!err)
			err = tc_query(ifindex, BPF_TC_EGRESS, &id_eg, &ours_eg);
		if (err)
			goto out;
	}
	if (!ours_in && !ours_eg && !recorded && fd >= 0) {
		/* the interface went and one of the same name came: forget the old record */
		int old = ifindex_by_name(fd, ifname);

		if (old && old != ifindex && !bpf_map_lookup_elem(fd, &old, &rec)) {
			ifindex = old;
			recorded = true;
		}
	}
	if (!ours_in && !ours_eg && !recorded) {
		err = -ENOENT;
		goto out;
	}
	if (ours_in)
		err = tc_detach_ours(ifindex, BPF_TC_INGRESS);
	if (!err && ours_eg)
		err = tc_detach_ours(ifindex, BPF_TC_EGRESS);
	if (err)
		goto out;
	if (recorded)
		bpf_map_delete_elem(fd, &ifindex);
	if (fd >= 0 && bpf_map_get_next_key(fd, NULL, &next) && errno == ENOENT) {
		close(fd);
		fd = -1;
		unpin_all(pin_dir);
		*removed_pins = true;
	}
out:
	if (fd >= 0)
		close(fd);
	return err;
}

static void denies_sum(int fd, __u64 *denied, __u64 *held)
{
	int ncpu = libbpf_num_possible_cpus(), i, err;
	struct wgx_tun_deny_count *v;
	__u32 key, next;

	*denied = *held = 0;
	if (ncpu <= 0)
		return;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return;
	err = bpf_map_get_next_key(fd, NULL, &next);
	while (!err) {
		key = next;
		if (!bpf_map_lookup_elem(fd, &key, v))
			for (i = 0; i < ncpu; i++) {
				*denied += v[i].denied;
				*held += v[i].events_held;
			}
		err = bpf_map_get_next_key(fd, &key, &next);
	}
	free(v);
}

int wgx_tunnel_status(const char *pin_dir, struct wgx_tunnel_status *st)
{
	int ifaces_fd = -1, ctr_fd = -1, cfg_fd = -1, den_fd = -1, err = 0, d, r;
	struct wgx_tun_iface_status *s;
	__u32 key = 0, next;

	memset(st, 0, sizeof(*st));
	ifaces_fd = pinned_map_fd(pin_dir, "wgx_tun_ifaces");
	ctr_fd = pinned_map_fd(pin_dir, "wgx_tun_counters");
	cfg_fd = pinned_map_fd(pin_dir, "wgx_tun_cfg");
	den_fd = pinned_map_fd(pin_dir, "wgx_tun_denies");
	if (ifaces_fd < 0 || ctr_fd < 0 || cfg_fd < 0 || den_fd < 0) {
		err = ifaces_fd < 0 ? ifaces_fd : ctr_fd < 0 ? ctr_fd : cfg_fd < 0 ? cfg_fd : den_fd;
		goto out;
	}
	if (bpf_map_lookup_elem(cfg_fd, &key, &st->cfg)) {
		err = -errno;
		goto out;
	}
	for (d = 0; d < WGX_TD__MAX; d++)
		for (r = 0; r < WGX_TR__MAX; r++)
			wgx_counter_read(ctr_fd, WGX_TUN_CTR(d, r), &st->ctr[d][r]);
	denies_sum(den_fd, &st->denied, &st->events_held);

	err = bpf_map_get_next_key(ifaces_fd, NULL, &next);
	while (!err) {
		char name[IF_NAMESIZE];
		bool ours;

		key = next;
		s = realloc(st->ifaces, (st->nr_ifaces + 1) * sizeof(*s));
		if (!s) {
			err = -ENOMEM;
			goto out;
		}
		st->ifaces = s;
		s = &st->ifaces[st->nr_ifaces];
		memset(s, 0, sizeof(*s));
		s->ifindex = key;
		if (!bpf_map_lookup_elem(ifaces_fd, &key, &s->rec)) {
			s->present = if_indextoname(key, name) != NULL;
			if (s->present) {
				if (!tc_query(key, BPF_TC_INGRESS, &s->live_ingress_id, &ours))
					s->ingress = ours;
				if (!tc_query(key, BPF_TC_EGRESS, &s->live_egress_id, &ours))
					s->egress = ours;
			}
			st->nr_ifaces++;
		}
		err = bpf_map_get_next_key(ifaces_fd, &key, &next);
	}
	err = 0;
out:
	if (err)
		wgx_tunnel_status_free(st);
	if (ifaces_fd >= 0)
		close(ifaces_fd);
	if (ctr_fd >= 0)
		close(ctr_fd);
	if (cfg_fd >= 0)
		close(cfg_fd);
	if (den_fd >= 0)
		close(den_fd);
	return err;
}

void wgx_tunnel_status_free(struct wgx_tunnel_status *st)
{
	free(st->ifaces);
	st->ifaces = NULL;
	st->nr_ifaces = 0;
}
