// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* wgxdp attach / detach: the uplink XDP program and the tunnel tc programs */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "loader/tunnel.h"
#include "loader/uplink.h"
#include "tools/wgxdp.h"

static const char *pin_dir_error(int err)
{
	switch (err) {
	case -ENOTDIR:
		return "not on a bpffs (mount -t bpf bpf <dir> first)";
	case -EPERM:
	case -EACCES:
		return "permission denied (run as root: CAP_SYS_ADMIN, CAP_BPF, CAP_NET_ADMIN)";
	}
	return strerror(-err);
}

/* Takes the lock on the pin directory, creating it (and mounting bpffs) if needed. */
static int prepare_and_lock(const char *cmd, const char *pin_dir, bool create)
{
	int err, fd;

	if (create) {
		err = wgx_pin_dir_prepare(pin_dir);
		if (err) {
			wgx_err(cmd, "pin directory %s: %s", pin_dir, pin_dir_error(err));
			return err;
		}
	}
	fd = wgx_lock(pin_dir);
	if (fd < 0 && !(fd == -ENOENT && !create))
		wgx_err(cmd, "lock %s: %s", pin_dir, pin_dir_error(fd));
	return fd;
}

static void attach_error(const struct wgx_attach_opts *o, int err)
{
	char buf[256];

	switch (err) {
	case -ENODEV:
		wgx_err("attach", "%s: no such interface", o->ifname);
		return;
	case -EPERM:
	case -EACCES:
		wgx_err("attach", "%s: permission denied (needs root: CAP_BPF, CAP_NET_ADMIN)",
			o->ifname);
		return;
	case -EOPNOTSUPP:
		if (o->mode == WGX_MODE_NATIVE) {
			wgx_err("attach", "%s: the driver has no native XDP: try --mode skb",
				o->ifname);
			return;
		}
		break;
	case -EEXIST:
	case -EBUSY:
		wgx_err("attach", "%s: another XDP program is attached that cannot share the "
			"interface (not loaded through libxdp, or in another mode)", o->ifname);
		return;
	case -ENOSPC:
		wgx_err("attach", "%s: already %d interfaces attached", o->ifname, WGX_MAX_IFACES);
		return;
	}
	libxdp_strerror(err, buf, sizeof(buf));
	wgx_err("attach", "%s: %s", o->ifname, buf);
}

static void tunnel_error(const char *cmd, const char *ifname, int err)
{
	char buf[256];

	switch (err) {
	case -ENODEV:
		wgx_err(cmd, "%s: no such interface", ifname);
		return;
	case -EPERM:
	case -EACCES:
		wgx_err(cmd, "%s: permission denied (needs root: CAP_BPF, CAP_NET_ADMIN)", ifname);
		return;
	case -EBUSY:
		wgx_err(cmd, "%s: another tc filter holds handle 0x%x priority %d on clsact: "
			"remove it first", ifname, WGX_TUN_TC_HANDLE, WGX_TUN_TC_PRIO);
		return;
	case -EPFNOSUPPORT:
		wgx_err(cmd, "%s: not a WireGuard, TUN or Ethernet device: the tunnel programs "
			"do not know its link-layer header", ifname);
		return;
	}
	libbpf_strerror(err, buf, sizeof(buf));
	wgx_err(cmd, "%s: tunnel programs: %s", ifname, buf);
}

static int attach_tunnel(const char *pin_dir, const char *wg, __u32 max_flows, __u32 quota)
{
	struct wgx_tunnel_opts o = { .ifname = wg, .pin_dir = pin_dir, .l2_len = WGX_TUN_L2_AUTO,
				     .max_flows = max_flows, .flow_quota = quota };
	struct wgx_tunnel_info info;
	struct wgx_tunnel_status st;
	bool loaded = false;
	int err, lock;

	lock = prepare_and_lock("attach", pin_dir, true);
	if (lock < 0)
		return 1;
	err = wgx_tunnel_attach(&o, &info);
	if (!err && !wgx_tunnel_status(pin_dir, &st)) {
		loaded = st.cfg.policy_loaded;
		wgx_tunnel_status_free(&st);
	}
	wgx_unlock(lock);
	if (err == -EEXIST && max_flows) {
		wgx_err("attach", "%s: --max-flows %u: the flow table is pinned at another size; "
			"`wgxdp detach --wg` every interface of the tunnel to resize it", wg,
			max_flows);
		return 1;
	}
	if (err) {
		tunnel_error("attach", wg, err);
		return 1;
	}
	printf("%s: %s tunnel programs (tc ingress %u, egress %u; clsact handle 0x%x prio %d); "
	       "maps in %s/%s\n", wg, info.replaced ? "replaced the" : "attached",
	       info.ingress_prog_id, info.egress_prog_id, WGX_TUN_TC_HANDLE, WGX_TUN_TC_PRIO,
	       pin_dir, WGX_PIN_SUB_TUNNEL);
	if (!loaded)
		printf("%s: no policy loaded: every packet through %s is dropped until `wgxdp run` "
		       "loads one\n", wg, wg);
	return 0;
}

static int parse_port(const char *s, __u16 *out)
{
	unsigned long v;
	int err;

	err = wgx_parse_ulong(s, 1, 65535, &v);
	if (!err)
		*out = v;
	return err;
}

int cmd_attach(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'm' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "no-drop-malformed", no_argument, NULL, 'M' },
		{ "wg", required_argument, NULL, 'w' },
		{ "max-flows", required_argument, NULL, 'F' },
		{ "flow-quota", required_argument, NULL, 'Q' },
		{}
	};
	unsigned long max_flows = 0, quota = 0;
	struct wgx_attach_opts o = { .pin_dir = wgx_pin_dir_default(), .mode = WGX_MODE_NATIVE };
	const char *wg = NULL;
	struct wgx_attach_info info;
	unsigned int i;
	int c, err, lock;

	while ((c = getopt_long(argc, argv, "p:m:d:", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (o.nr_ports == WGX_MAX_PORTS) {
				wgx_err("attach", "at most %d ports", WGX_MAX_PORTS);
				return 2;
			}
			if (parse_port(optarg, &o.ports[o.nr_ports])) {
				wgx_err("attach", "--port %s: not a port number (1-65535)", optarg);
				return 2;
			}
			for (i = 0; i < o.nr_ports; i++)
				if (o.ports[i] == o.ports[o.nr_ports])
					break;
			if (i == o.nr_ports)
				o.nr_ports++;
			break;
		case 'm':
			if (!strcmp(optarg, "native") || !strcmp(optarg, "drv")) {
				o.mode = WGX_MODE_NATIVE;
			} else if (!strcmp(optarg, "skb") || !strcmp(optarg, "generic")) {
				o.mode = WGX_MODE_SKB;
			} else {
				wgx_err("attach", "--mode %s: expected native or skb", optarg);
				return 2;
			}
			break;
		case 'd':
			o.pin_dir = optarg;
			break;
		case 'M':
			o.pass_malformed = true;
			break;
		case 'w':
			wg = optarg;
			break;
		case 'F':
			if (wgx_parse_ulong(optarg, 16, WGX_TUN_MAX_FLOWS_LIMIT, &max_flows)) {
				wgx_err("attach", "--max-flows %s: expected 16-%u", optarg,
					WGX_TUN_MAX_FLOWS_LIMIT);
				return 2;
			}
			break;
		case 'Q':
			if (wgx_parse_ulong(optarg, 1, WGX_TUN_MAX_FLOWS_LIMIT, &quota)) {
				wgx_err("attach", "--flow-quota %s: expected 1-%u", optarg,
					WGX_TUN_MAX_FLOWS_LIMIT);
				return 2;
			}
			break;
		default:
			return wgx_usage("attach", stderr);
		}
	}
	if (wg && (strlen(wg) >= IF_NAMESIZE || !if_nametoindex(wg))) {
		wgx_err("attach", "--wg %s: no such interface", wg);
		return 1;
	}
	/* `attach --wg IFACE` alone: the tunnel programs only */
	if ((max_flows || quota) && !wg) {
		wgx_err("attach", "--max-flows and --flow-quota are for the tunnel: add --wg IFACE");
		return 2;
	}
	if (wg && optind == argc)
		return attach_tunnel(o.pin_dir, wg, max_flows, quota);
	if (optind != argc - 1)
		return wgx_usage("attach", stderr);
	o.ifname = argv[optind];
	if (strlen(o.ifname) >= IF_NAMESIZE || !if_nametoindex(o.ifname)) {
		wgx_err("attach", "%s: no such interface", o.ifname);
		return 1;
	}
	if (!o.nr_ports)
		o.ports[o.nr_ports++] = 51820;

	lock = prepare_and_lock("attach", o.pin_dir, true);
	if (lock < 0)
		return 1;
	err = wgx_attach(&o, &info);
	wgx_unlock(lock);
	if (err) {
		attach_error(&o, err);
		return 1;
	}
	printf("%s: %s uplink program %u (%s mode, %s), ports", o.ifname,
	       info.replaced ? "replaced with" : "attached", info.prog_id,
	       wgx_mode_name(o.mode),
	       info.dispatcher ? "libxdp dispatcher" : "single program: no dispatcher");
	for (i = 0; i < o.nr_ports; i++)
		printf("%s%u", i ? "," : " ", o.ports[i]);
	printf("; maps in %s\n", o.pin_dir);
	return wg ? attach_tunnel(o.pin_dir, wg, max_flows, quota) : 0;
}

int cmd_detach(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pin-dir", required_argument, NULL, 'd' },
		{}
	};
	const char *pin_dir = wgx_pin_dir_default(), *ifname;
	bool removed, removed_tun;
	int c, err, err_tun, lock;

	while ((c = getopt_long(argc, argv, "d:", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			pin_dir = optarg;
			break;
		default:
			return wgx_usage("detach", stderr);
		}
	}
	if (optind != argc - 1)
		return wgx_usage("detach", stderr);
	ifname = argv[optind];
	if (geteuid() != 0 && access(pin_dir, W_OK)) {
		wgx_err("detach", "%s: permission denied (run as root)", ifname);
		return 1;
	}
	lock = prepare_and_lock("detach", pin_dir, false);
	if (lock == -ENOENT) {
		wgx_err("detach", "%s: not attached (nothing pinned in %s)", ifname, pin_dir);
		return 1;
	}
	if (lock < 0)
		return 1;
	/* whatever wgxdp attached to ifname: the uplink XDP program, the tunnel tc filters */
	err = wgx_detach(ifname, pin_dir, &removed);
	err_tun = wgx_tunnel_detach(ifname, pin_dir, &removed_tun);
	wgx_unlock(lock);
	if (!err)
		printf("%s: uplink program detached%s\n", ifname,
		       removed ? "; last interface, the uplink's pins removed" : "");
	if (!err_tun)
		printf("%s: tunnel programs detached%s\n", ifname,
		       removed_tun ? "; last interface, the tunnel's pins removed" : "");
	if (err && err != -ENOENT && err != -ENODEV) {
		char buf[256];

		libxdp_strerror(err, buf, sizeof(buf));
		wgx_err("detach", "%s: %s", ifname, buf);
		return 1;
	}
	if (err_tun && err_tun != -ENOENT && err_tun != -ENODEV) {
		tunnel_error("detach", ifname, err_tun);
		return 1;
	}
	if (!err || !err_tun)
		return 0;
	if (err == -ENODEV && err_tun == -ENODEV)
		wgx_err("detach", "%s: no such interface", ifname);
	else
		wgx_err("detach", "%s: not attached", ifname);
	return 1;
}
