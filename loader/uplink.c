// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Attach, detach and inspect the uplink XDP program. Its maps live pinned by name in its own
 * subdirectory of the pin directory, <pin_dir>/uplink/ (maps/wgxdp.h); wgx_ifaces records each
 * attached interface so that any later invocation (status, re-attach, detach, the daemon)
 * finds what the first one set up.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <linux/if_link.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "loader/uplink.h"
#include "uplink.skel.h"

#define UPLINK_PROG_NAME "wgxdp_uplink"

/* The maps the uplink program owns, all pinned in <pin_dir>/uplink/. */
static const char *const map_names[] = { "wgx_counters", "wgx_events", "wgx_ifaces" };

static const char *const class_names[WGX_C__MAX] = {
	[WGX_C_OTHER] = "other",	   [WGX_C_INITIATION] = "initiation",
	[WGX_C_RESPONSE] = "response",	   [WGX_C_COOKIE] = "cookie",
	[WGX_C_DATA] = "data",		   [WGX_C_KEEPALIVE] = "keepalive",
	[WGX_C_UNKNOWN] = "unknown",
};

static const char *const reason_names[WGX_R__MAX] = {
	[WGX_R_OK] = "ok",
	[WGX_R_NOT_IP] = "not_ip",
	[WGX_R_NOT_UDP] = "not_udp",
	[WGX_R_OTHER_PORT] = "other_port",
	[WGX_R_FRAGMENT] = "fragment",
	[WGX_R_TRUNCATED] = "truncated",
	[WGX_R_BAD_IP] = "bad_ip",
	[WGX_R_VLAN_DEPTH] = "vlan_depth",
	[WGX_R_EXTHDR_DEPTH] = "exthdr_depth",
	[WGX_R_BAD_SIZE] = "bad_size",
	[WGX_R_BAD_RESERVED] = "bad_reserved",
	[WGX_R_BAD_TYPE] = "bad_type",
	[WGX_R_BAD_UDP_LEN] = "bad_udp_len",
	[WGX_R_EVENT_LOST] = "event_lost",
};

const char *wgx_class_name(int class)
{
	return class >= 0 && class < WGX_C__MAX ? class_names[class] : "?";
}

const char *wgx_reason_name(int reason)
{
	return reason >= 0 && reason < WGX_R__MAX ? reason_names[reason] : "?";
}

const char *wgx_mode_name(int mode)
{
	switch (mode) {
	case WGX_MODE_NATIVE:
		return "native";
	case WGX_MODE_SKB:
		return "skb";
	}
	return "none";
}

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

int wgx_pin_dir_prepare(const char *pin_dir)
{
	char parent[PATH_MAX], *slash;

	if (strlen(pin_dir) >= sizeof(parent) - 32)
		return -ENAMETOOLONG;
	strcpy(parent, pin_dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -EINVAL;
	*slash = '\0';
	if (!on_bpffs(parent)) {
		/* Only the standard location is ours to mount. */
		if (strcmp(parent, "/sys/fs/bpf"))
			return -ENOTDIR;
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
			return -errno;
	}
	if (mkdir(pin_dir, 0700) && errno != EEXIST)
		return -errno;
	return on_bpffs(pin_dir) ? 0 : -ENOTDIR;
}

int wgx_lock(const char *pin_dir)
{
	struct stat a, b;
	int fd, i;

	/* detach may remove the directory while we wait: then take the new one */
	for (i = 0; i < 10; i++) {
		fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX)) {
			close(fd);
			return -errno;
		}
		if (fstat(fd, &a) == 0 && stat(pin_dir, &b) == 0 && a.st_ino == b.st_ino)
			return fd;
		close(fd);
		if (mkdir(pin_dir, 0700) && errno != EEXIST)
			return -errno;
	}
	return -EAGAIN;
}

void wgx_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

int wgx_pin_path(char *buf, size_t len, const char *pin_dir, const char *sub, const char *name)
{
	int n;

	if (name)
		n = snprintf(buf, len, "%s/%s/%s", pin_dir, sub, name);
	else
		n = snprintf(buf, len, "%s/%s", pin_dir, sub);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int wgx_pinned_map_fd(const char *pin_dir, const char *sub, const char *name)
{
	char path[PATH_MAX];
	int fd, err;

	err = wgx_pin_path(path, sizeof(path), pin_dir, sub, name);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

/* <pin_dir>/uplink, or <pin_dir>/uplink/NAME with a name. */
static int uplink_path(char *buf, size_t len, const char *pin_dir, const char *name)
{
	return wgx_pin_path(buf, len, pin_dir, WGX_PIN_SUB_UPLINK, name);
}

static int pinned_map_fd(const char *pin_dir, const char *name)
{
	return wgx_pinned_map_fd(pin_dir, WGX_PIN_SUB_UPLINK, name);
}

static int map_id_of(int fd, __u32 *id)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*id = info.id;
	return 0;
}

/*
 * Remove the uplink's pins and its subdirectory, then the pin directory if that is empty now:
 * what other owners pinned there (the daemon's jit/) stays.
 */
static void unpin_all(const char *pin_dir)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(map_names) / sizeof(map_names[0]); i++)
		if (!uplink_path(path, sizeof(path), pin_dir, map_names[i]))
			unlink(path);
	if (!uplink_path(path, sizeof(path), pin_dir, NULL))
		rmdir(path);
	rmdir(pin_dir);
}

static bool pins_exist(const char *pin_dir)
{
	char path[PATH_MAX];

	return !uplink_path(path, sizeof(path), pin_dir, "wgx_ifaces") && access(path, F_OK) == 0;
}

/* Our program on ifindex, from libxdp's view: the program and whether others share it. */
struct live_xdp {
	struct xdp_multiprog *mp;
	struct xdp_program *ours;
	bool dispatcher;
	enum xdp_attach_mode mode;
	int nr_others;
};

static bool is_ours(struct xdp_program *p)
{
	const char *name = xdp_program__name(p);

	return name && !strcmp(name, UPLINK_PROG_NAME);
}

static int live_xdp_get(int ifindex, struct live_xdp *lx)
{
	struct xdp_program *p;

	memset(lx, 0, sizeof(*lx));
	lx->mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (libxdp_get_error(lx->mp)) {
		int err = libxdp_get_error(lx->mp);

		lx->mp = NULL;
		return err == -ENOENT ? 0 : err;
	}
	lx->mode = xdp_multiprog__attach_mode(lx->mp);
	lx->dispatcher = !xdp_multiprog__is_legacy(lx->mp);
	if (!lx->dispatcher) {
		p = xdp_multiprog__main_prog(lx->mp);
		if (p && is_ours(p))
			lx->ours = p;
		else if (p)
			lx->nr_others++;
		return 0;
	}
	for (p = xdp_multiprog__next_prog(NULL, lx->mp); p; p = xdp_multiprog__next_prog(p, lx->mp)) {
		if (is_ours(p) && !lx->ours)
			lx->ours = p;
		else
			lx->nr_others++;
	}
	return 0;
}

static void live_xdp_put(struct live_xdp *lx)
{
	if (lx->mp)
		xdp_multiprog__close(lx->mp);
	memset(lx, 0, sizeof(*lx));
}

/* A counter slot: the interface's own if it has one, else the first free one. */
static int pick_slot(int ifaces_fd, __u32 ifindex, struct wgx_iface *old, bool *had_old)
{
	bool used[WGX_MAX_IFACES] = {};
	struct wgx_iface v;
	__u32 key, next;
	int err, i;

	*had_old = false;
	if (!bpf_map_lookup_elem(ifaces_fd, &ifindex, old)) {
		*had_old = true;
		return old->slot;
	}
	err = bpf_map_get_next_key(ifaces_fd, NULL, &next);
	while (!err) {
		key = next;
		if (!bpf_map_lookup_elem(ifaces_fd, &key, &v) && v.slot < WGX_MAX_IFACES)
			used[v.slot] = true;
		err = bpf_map_get_next_key(ifaces_fd, &key, &next);
	}
	for (i = 0; i < WGX_MAX_IFACES; i++)
		if (!used[i])
			return i;
	return -ENOSPC;
}

static void clear_slot(int counters_fd, __u32 slot)
{
	int ncpu = libbpf_num_possible_cpus();
	struct wgx_counter *zero;
	__u32 k;

	if (ncpu <= 0)
		return;
	zero = calloc(ncpu, sizeof(*zero));
	if (!zero)
		return;
	for (k = 0; k < WGX_CTR_PER_SLOT; k++) {
		__u32 key = slot * WGX_CTR_PER_SLOT + k;

		bpf_map_update_elem(counters_fd, &key, zero, BPF_ANY);
	}
	free(zero);
}

static enum xdp_attach_mode xdp_mode(enum wgx_mode m)
{
	return m == WGX_MODE_SKB ? XDP_MODE_SKB : XDP_MODE_NATIVE;
}

static __u32 xdp_mode_flags(enum xdp_attach_mode m)
{
	return m == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

/*
 * Test hook, for tests/integration/uplink_attach.sh only (unset in normal use):
 * WGXDP_TEST_HOOK=fail:STEP makes wgx_attach fail with -EIO at STEP, pause:STEP sleeps two
 * seconds there. Steps: "attached" (the new program is on the interface), "last" (the last
 * step that can fail).
 */
static int test_hook(const char *step)
{
	const char *h = secure_getenv("WGXDP_TEST_HOOK");

	if (!h)
		return 0;
	if (!strncmp(h, "fail:", 5) && !strcmp(h + 5, step))
		return -EIO;
	if (!strncmp(h, "pause:", 6) && !strcmp(h + 6, step))
		sleep(2);
	return 0;
}

/* Put the interface's record back as it was before a failed attach. */
static void restore_cfg(int ifaces_fd, __u32 ifindex, const struct wgx_iface *old, bool had_old)
{
	if (had_old)
		bpf_map_update_elem(ifaces_fd, &ifindex, old, BPF_ANY);
	else
		bpf_map_delete_elem(ifaces_fd, &ifindex);
}

/* Put back the wgxdp program that a failed attach had taken off the interface. */
static void restore_prog(__u32 ifindex, const struct live_xdp *before)
{
	if (!before->ours)
		return;
	if (before->dispatcher)
		xdp_program__attach(before->ours, ifindex, before->mode, 0);
	else
		bpf_xdp_attach(ifindex, xdp_program__fd(before->ours),
			       xdp_mode_flags(before->mode) | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
}

static void fill_cfg(struct wgx_iface *cfg, const struct wgx_attach_opts *o,
		     const struct wgx_attach_info *info, __u32 slot, const struct wgx_iface *old,
		     bool had_old)
{
	struct timespec ts;

	memset(cfg, 0, sizeof(*cfg));
	cfg->slot = slot;
	cfg->mode = o->mode;
	cfg->flags = (info->dispatcher ? WGX_IF_F_DISPATCHER : 0) |
		     (o->pass_malformed ? WGX_IF_F_PASS_MALFORMED : 0);
	cfg->prog_id = info->prog_id;
	cfg->nr_ports = o->nr_ports;
	memcpy(cfg->ports, o->ports, sizeof(cfg->ports));
	snprintf(cfg->name, sizeof(cfg->name), "%s", o->ifname);
	if (had_old) {
		cfg->attached_ns = old->attached_ns;
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		cfg->attached_ns = (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	}
}

/*
 * Single-program mode, same mode as before: swap atomically with XDP_FLAGS_REPLACE so that no
 * packet goes uncounted. libxdp 1.3 has no replace, so load the skeleton here. The swap is the
 * last step: nothing can fail after it, so the old program never has to be put back.
 */
static int attach_replace(struct uplink *skel, const struct wgx_attach_opts *o,
			  struct wgx_attach_info *info, const struct live_xdp *before, __u32 slot,
			  const struct wgx_iface *old, bool had_old)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, aopts);
	struct bpf_prog_info pinfo = {};
	__u32 plen = sizeof(pinfo);
	struct wgx_iface cfg;
	int pfd, ifaces_fd, err;

	err = uplink__load(skel);
	if (err)
		return err;
	pfd = bpf_program__fd(skel->progs.wgxdp_uplink);
	if (bpf_obj_get_info_by_fd(pfd, &pinfo, &plen))
		return -errno;
	info->prog_id = pinfo.id;
	info->dispatcher = false;
	ifaces_fd = bpf_map__fd(skel->maps.wgx_ifaces);
	fill_cfg(&cfg, o, info, slot, old, had_old);
	if (bpf_map_update_elem(ifaces_fd, &info->ifindex, &cfg, BPF_ANY))
		return -errno;
	err = test_hook("last");
	if (!err) {
		aopts.old_prog_fd = xdp_program__fd(before->ours);
		err = bpf_xdp_attach(info->ifindex, pfd, XDP_FLAGS_REPLACE |
				     xdp_mode_flags(before->mode), &aopts);
	}
	if (err) {
		restore_cfg(ifaces_fd, info->ifindex, old, had_old);
		return err;
	}
	info->replaced = true;
	return 0;
}

/*
 * Through libxdp (the dispatcher, or a mode change): take the old program out, then put the
 * new in. On any failure the interface is left as it was: the old program goes back.
 */
static int attach_libxdp(struct uplink *skel, const struct wgx_attach_opts *o,
			 struct wgx_attach_info *info, const struct live_xdp *before, __u32 slot,
			 const struct wgx_iface *old, bool had_old)
{
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xopts, .obj = skel->obj,
			    .prog_name = UPLINK_PROG_NAME);
	struct live_xdp after = {};
	struct xdp_program *xprog;
	struct wgx_iface cfg;
	int err;

	xprog = xdp_program__create(&xopts);
	err = libxdp_get_error(xprog);
	if (err)
		return err;
	if (before->ours) {
		err = xdp_program__detach(before->ours, info->ifindex, before->mode, 0);
		if (err)
			goto out;
	}
	err = xdp_program__attach(xprog, info->ifindex, xdp_mode(o->mode), 0);
	if (err)
		goto out_restore;
	test_hook("attached");
	info->prog_id = xdp_program__id(xprog);
	err = live_xdp_get(info->ifindex, &after);
	if (err)
		goto out_detach;
	info->dispatcher = after.dispatcher;
	live_xdp_put(&after);
	fill_cfg(&cfg, o, info, slot, old, had_old);
	err = test_hook("last");
	if (err)
		goto out_detach;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.wgx_ifaces), &info->ifindex, &cfg,
				BPF_ANY)) {
		err = -errno;
		goto out_detach;
	}
	info->replaced = before->ours != NULL;
	goto out;

out_detach:
	xdp_program__detach(xprog, info->ifindex, xdp_mode(o->mode), 0);
out_restore:
	restore_prog(info->ifindex, before);
out:
	xdp_program__close(xprog);
	return err;
}

int wgx_attach(const struct wgx_attach_opts *o, struct wgx_attach_info *info)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts);
	char root[PATH_MAX];
	struct live_xdp before = {};
	struct wgx_iface old = {};
	struct uplink *skel = NULL;
	bool had_old = false, fresh;
	int ifindex, slot, err, fd;
	unsigned int i;

	memset(info, 0, sizeof(*info));
	ifindex = if_nametoindex(o->ifname);
	if (!ifindex)
		return -ENODEV;
	if (o->nr_ports == 0 || o->nr_ports > WGX_MAX_PORTS)
		return -EINVAL;
	info->ifindex = ifindex;
	err = uplink_path(root, sizeof(root), o->pin_dir, NULL);
	if (err)
		return err;
	fresh = !pins_exist(o->pin_dir);
	if (mkdir(root, 0700) && errno != EEXIST)
		return -errno;
	open_opts.pin_root_path = root;

	skel = uplink__open_opts(&open_opts);
	if (!skel) {
		err = -errno ?: -EINVAL;
		goto out;
	}
	for (i = 0; i < o->nr_ports; i++)
		skel->rodata->cfg_ports[i] = htons(o->ports[i]);
	skel->rodata->cfg_nr_ports = o->nr_ports;
	skel->rodata->cfg_drop_malformed = !o->pass_malformed;

	/* The slot must be known before load: it is rodata. Read the pinned map if any. */
	fd = pinned_map_fd(o->pin_dir, "wgx_ifaces");
	if (fd >= 0) {
		slot = pick_slot(fd, ifindex, &old, &had_old);
		close(fd);
		if (slot < 0) {
			err = slot;
			goto out;
		}
	} else {
		slot = 0;
	}
	skel->rodata->cfg_slot = slot;
	/*
	 * A new interface's slot may hold the counts of one detached earlier: clear it now,
	 * while no program counts into it, not after the attach (that would wipe its first
	 * packets). Without pins the map is created empty.
	 */
	fd = had_old ? -ENOENT : pinned_map_fd(o->pin_dir, "wgx_counters");
	if (fd >= 0) {
		clear_slot(fd, slot);
		close(fd);
	}

	err = live_xdp_get(ifindex, &before);
	if (err)
		goto out;
	if (before.ours && !before.dispatcher &&
	    (before.mode == XDP_MODE_SKB) == (o->mode == WGX_MODE_SKB))
		err = attach_replace(skel, o, info, &before, slot, &old, had_old);
	else
		err = attach_libxdp(skel, o, info, &before, slot, &old, had_old);
	info->created_pins = fresh;
out:
	live_xdp_put(&before);
	uplink__destroy(skel);
	/* Leave nothing behind: a first attach that failed takes its pins away again. */
	if (err && fresh)
		unpin_all(o->pin_dir);
	return err;
}

int wgx_detach(const char *ifname, const char *pin_dir, bool *removed_pins)
{
	struct live_xdp lx = {};
	struct wgx_iface cfg;
	__u32 key, next;
	int ifindex, fd, err;
	bool recorded;

	*removed_pins = false;
	ifindex = if_nametoindex(ifname);
	fd = pinned_map_fd(pin_dir, "wgx_ifaces");
	if (!ifindex) {
		/* The interface is gone: forget it by name. */
		if (fd < 0)
			return -ENODEV;
		err = bpf_map_get_next_key(fd, NULL, &next);
		while (!err) {
			key = next;
			if (!bpf_map_lookup_elem(fd, &key, &cfg) && !strncmp(cfg.name, ifname, 16)) {
				ifindex = key;
				break;
			}
			err = bpf_map_get_next_key(fd, &key, &next);
		}
		if (!ifindex) {
			close(fd);
			return -ENODEV;
		}
	}
	recorded = fd >= 0 && !bpf_map_lookup_elem(fd, &ifindex, &cfg);

	err = live_xdp_get(ifindex, &lx);
	if (err && err != -ENODEV)
		goto out;
	err = 0;
	if (!lx.ours && !recorded) {
		err = -ENOENT;
		goto out;
	}
	if (lx.ours) {
		err = xdp_program__detach(lx.ours, ifindex, lx.mode, 0);
		if (err)
			goto out;
	}
	if (recorded)
		bpf_map_delete_elem(fd, &ifindex);
	if (fd >= 0 && bpf_map_get_next_key(fd, NULL, &next) && errno == ENOENT) {
		unpin_all(pin_dir);
		*removed_pins = true;
	}
out:
	live_xdp_put(&lx);
	if (fd >= 0)
		close(fd);
	return err;
}

int wgx_counter_read(int map_fd, __u32 key, struct wgx_counter *sum)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct wgx_counter *v;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return ncpu ?: -EINVAL;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(map_fd, &key, v)) {
		free(v);
		return -errno;
	}
	for (i = 0; i < ncpu; i++) {
		sum->packets += v[i].packets;
		sum->bytes += v[i].bytes;
	}
	free(v);
	return 0;
}

static enum wgx_mode wgx_mode_of(enum xdp_attach_mode m)
{
	return m == XDP_MODE_SKB ? WGX_MODE_SKB : m == XDP_MODE_NATIVE ? WGX_MODE_NATIVE : 0;
}

int wgx_status(const char *pin_dir, struct wgx_iface_status **out, int *nr)
{
	struct wgx_iface_status *st = NULL, *s;
	int ifaces_fd, ctr_fd, err, n = 0, c, r, v;
	__u32 key, next;

	*out = NULL;
	*nr = 0;
	ifaces_fd = pinned_map_fd(pin_dir, "wgx_ifaces");
	if (ifaces_fd < 0)
		return ifaces_fd;
	ctr_fd = pinned_map_fd(pin_dir, "wgx_counters");
	if (ctr_fd < 0) {
		close(ifaces_fd);
		return ctr_fd;
	}
	err = bpf_map_get_next_key(ifaces_fd, NULL, &next);
	while (!err) {
		struct live_xdp lx;
		char name[IF_NAMESIZE];

		key = next;
		s = realloc(st, (n + 1) * sizeof(*st));
		if (!s) {
			err = -ENOMEM;
			goto fail;
		}
		st = s;
		s = &st[n];
		memset(s, 0, sizeof(*s));
		s->ifindex = key;
		if (bpf_map_lookup_elem(ifaces_fd, &key, &s->cfg))
			goto next;
		s->present = if_indextoname(key, name) != NULL;
		if (s->present && !live_xdp_get(key, &lx)) {
			s->attached = lx.ours != NULL;
			s->live_mode = wgx_mode_of(lx.mode);
			s->live_dispatcher = lx.dispatcher;
			s->live_prog_id = lx.ours ? xdp_program__id(lx.ours) : 0;
			s->nr_other_progs = lx.nr_others;
			live_xdp_put(&lx);
		}
		for (c = 0; c < WGX_C__MAX; c++)
			for (r = 0; r < WGX_R__MAX; r++)
				for (v = 0; v < WGX_V__MAX; v++)
					wgx_counter_read(ctr_fd, WGX_CTR_INDEX(s->cfg.slot, c, r, v),
							 &s->ctr[c][r][v]);
		n++;
next:
		err = bpf_map_get_next_key(ifaces_fd, &key, &next);
	}
	close(ifaces_fd);
	close(ctr_fd);
	*out = st;
	*nr = n;
	return 0;
fail:
	free(st);
	close(ifaces_fd);
	close(ctr_fd);
	return err;
}

struct wgx_events {
	struct ring_buffer *rb;
	int map_fd;
	wgx_event_fn fn;
	void *ctx;
};

static int on_sample(void *ctx, void *data, size_t len)
{
	struct wgx_events *e = ctx;

	if (len < sizeof(struct wgx_hs_event))
		return 0;
	return e->fn(e->ctx, data);
}

int wgx_events_open(const char *pin_dir, wgx_event_fn fn, void *ctx, struct wgx_events **out)
{
	struct wgx_events *e;
	int err;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fn = fn;
	e->ctx = ctx;
	e->map_fd = pinned_map_fd(pin_dir, "wgx_events");
	if (e->map_fd < 0) {
		err = e->map_fd;
		free(e);
		return err;
	}
	e->rb = ring_buffer__new(e->map_fd, on_sample, e, NULL);
	if (!e->rb) {
		err = -errno;
		close(e->map_fd);
		free(e);
		return err;
	}
	*out = e;
	return 0;
}

int wgx_events_poll(struct wgx_events *e, int timeout_ms)
{
	int n = ring_buffer__poll(e->rb, timeout_ms);

	return n == -EINTR ? 0 : n;
}

int wgx_events_fd(struct wgx_events *e)
{
	return ring_buffer__epoll_fd(e->rb);
}

int wgx_events_map_id(struct wgx_events *e, __u32 *id)
{
	return map_id_of(e->map_fd, id);
}

int wgx_events_pinned_id(const char *pin_dir, __u32 *id)
{
	int fd = pinned_map_fd(pin_dir, "wgx_events"), err;

	if (fd < 0)
		return fd;
	err = map_id_of(fd, id);
	close(fd);
	return err;
}

void wgx_events_close(struct wgx_events *e)
{
	if (!e)
		return;
	ring_buffer__free(e->rb);
	close(e->map_fd);
	free(e);
}

__u64 wgx_mono_to_realtime(__u64 mono_ns)
{
	struct timespec m, r;
	__s64 off;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	off = ((__s64)r.tv_sec - m.tv_sec) * 1000000000ll + (r.tv_nsec - m.tv_nsec);
	return mono_ns + off;
}
