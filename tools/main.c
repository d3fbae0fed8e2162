// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* wgxdp: the command table, help and version. One file per subcommand beside this one. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "loader/log.h"
#include "maps/wgxdp.h"
#include "tools/wgxdp.h"

static const struct wgx_cmd cmds[] = {
	{ "attach", cmd_attach, "attach the uplink XDP program and/or the tunnel tc programs",
	  "wgxdp attach <iface> [--port N]... [--mode native|skb] [--no-drop-malformed]\n"
	  "             [--wg <wg-iface>] [--pin-dir DIR]\n"
	  "wgxdp attach --wg <wg-iface> [--max-flows N] [--flow-quota N] [--pin-dir DIR]\n"
	  "  Attach (or replace) the uplink XDP program on <iface>, classifying WireGuard\n"
	  "  traffic to the given listen ports (default 51820; up to 8). Maps are pinned under\n"
	  "  the pin directory (default /sys/fs/bpf/wgxdp) and survive re-attach.\n"
	  "  --mode native   driver-level XDP (default)\n"
	  "  --mode skb      generic XDP, for drivers without native support\n"
	  "  --no-drop-malformed  let malformed WireGuard packets pass (still counted)\n"
	  "  --wg <wg-iface> also (or, without <iface>, only) attach the tunnel programs to the\n"
	  "                  WireGuard interface: tc (clsact) ingress and egress filters, handle\n"
	  "                  0x5747 priority 1, enforcing each user's allowed destinations. Until\n"
	  "                  `wgxdp run` loads a policy they drop every packet (fail closed).\n"
	  "  --max-flows N   the flow table's size when the tunnel's maps are made (default\n"
	  "                  262144); a pinned table keeps its size until the last detach\n"
	  "  --flow-quota N  flow entries one user may hold (default 4096); her flows beyond it\n"
	  "                  are counted in her overflow record, and their replies find no flow\n" },
	{ "detach", cmd_detach, "detach what wgxdp attached to an interface",
	  "wgxdp detach <iface> [--pin-dir DIR]\n"
	  "  Remove what attach added to <iface> and only that: the uplink XDP program, or the\n"
	  "  tunnel's two tc filters (other filters and the clsact qdisc stay). The last detach\n"
	  "  of each removes its pinned maps (<pin-dir>/uplink, <pin-dir>/tunnel); the daemon's\n"
	  "  state (<pin-dir>/jit) stays.\n" },
	{ "status", cmd_status, "show attached interfaces and counters",
	  "wgxdp status [--json] [--all] [--pin-dir DIR]\n"
	  "  Per uplink interface: attached or not, mode, program ids, ports, and the counters by\n"
	  "  message class and verdict. Then the tunnel: whether a policy is loaded, its\n"
	  "  interfaces and programs, and its counters by direction and reason (pass or drop).\n"
	  "  --all also prints counters that are zero.\n" },
	{ "events", cmd_events, "print handshake initiations as they arrive",
	  "wgxdp events [--json] [--count N] [--timeout SEC] [--pin-dir DIR]\n"
	  "  Print each handshake initiation the uplink program captured: time, source,\n"
	  "  destination, interface and sender index. --count N exits after N events,\n"
	  "  --timeout SEC after SEC seconds without one (exit 1 if fewer than N arrived).\n" },
	{ "run", cmd_run, "run the just-in-time peer daemon",
	  "wgxdp run --wg <wg-iface> [--policy <file>] [--peer-api URL] [--idle-timeout SEC]\n"
	  "          [--rate N] [--api-rate N] [--api-revalidate SEC] [--answer MODE]\n"
	  "          [--api-ca FILE] [--api-cert FILE --api-key FILE] [--api-token-file FILE]\n"
	  "          [--api-timeout MS] [--api-stale SEC] [--api-refresh SEC] [--api-insecure]\n"
	  "          [--max-tunnel-prefix V4,V6] [--log-format human|json]\n"
	  "          [--log-level err|warn|info|debug] [--flow-log FILE|-]\n"
	  "          [--flow-interval SEC] [--metrics ADDR:PORT] [--pin-dir DIR]\n"
	  "  In the foreground: reads handshake initiations captured by the uplink program\n"
	  "  (wgxdp attach first), decrypts the initiator's key with the WireGuard interface's\n"
	  "  own private key, and installs a peer for each known, enabled, unexpired user at\n"
	  "  once. Removes peers idle for --idle-timeout seconds (default 600) and those of\n"
	  "  users who expire, are disabled or leave the policy; peers configured by hand are\n"
	  "  never touched. SIGHUP reloads the policy (a bad file keeps the old one);\n"
	  "  SIGTERM/SIGINT stop, leaving the peers for the next start to adopt.\n"
	  "  --peer-api URL   look unknown keys up at URL/<base64url key> (404 = unknown);\n"
	  "                   https:// (http:// only with --api-insecure)\n"
	  "  --api-ca FILE    the CA(s) the API's certificate must chain to (default: system)\n"
	  "  --api-cert FILE --api-key FILE  a client certificate for the API (PEM)\n"
	  "  --api-token-file FILE  send the bearer token in FILE (one line)\n"
	  "  --api-timeout MS  bound on one API request (default 5000)\n"
	  "  --api-stale SEC  while the API fails, users it answered within SEC get in\n"
	  "                   (default 3600; 0: never)\n"
	  "  --api-refresh SEC  without --policy the groups come from URL/groups: fetched\n"
	  "                   again this often, with If-None-Match (default 60)\n"
	  "  --rate N         initiations per second per source before any X25519 (default 20)\n"
	  "  --api-rate N     peer API calls per second (default 50)\n"
	  "  --max-tunnel-prefix V4,V6  the widest tunnel address a user may have\n"
	  "                   (default 24,64: at most a /24 and a /64)\n"
	  "  --flow-log FILE|-  append the flow log (JSON lines): per flow each interval,\n"
	  "                   flow ends, denies, handshakes, installs and removals\n"
	  "  --flow-interval SEC  the flow log's interval (default 10)\n"
	  "  --api-revalidate SEC  ask the API again about each of its users this often\n"
	  "                   (default 300): a user it no longer knows loses the peer\n"
	  "  --answer reinject   answer the client's first attempt by handing its captured\n"
	  "                      initiation to WireGuard again once the peer exists (default)\n"
	  "  --answer keepalive  install with a persistent keepalive: the gateway initiates\n"
	  "  --answer none       install only: the client gets in on its retry, 5 s later\n"
	  "  --metrics ADDR:PORT serve Prometheus metrics at http://ADDR:PORT/metrics\n"
	  "                   (127.0.0.1:9586 or [::1]:9586; see wgxdp(8) for the list)\n" },
	{ "peers", cmd_peers, "list the peers the daemon manages",
	  "wgxdp peers [--json] [--wg IFACE] [--pin-dir DIR]\n"
	  "  User, key, endpoint, last handshake, rx/tx bytes, installed since and what would\n"
	  "  remove each peer; then what the daemon did with the initiations it read.\n" },
	{ "flows", cmd_flows, "list the tunnel's flows: who talks to what, how much",
	  "wgxdp flows [--json] [--user NAME] [--all] [--pin-dir DIR]\n"
	  "  Each flow the tunnel programs track now, from the pinned maps (the daemon may be\n"
	  "  stopped): user, protocol, direction (out: the user opened it; in: an inbound rule\n"
	  "  let it in), both ends, packets and bytes each way (L3: the IP packet as it crosses\n"
	  "  the WireGuard interface), TCP state, last seen, and the group and rule that allowed\n"
	  "  it. Flows past their idle timeout are left out unless --all. Then, per user with an\n"
	  "  overflow, the packets counted in no flow (over her --flow-quota, or the table full);\n"
	  "  --json: each user's totals, overflow, flow entries and quota under \"users\".\n"
	  "  --user NAME  only that user's flows\n" },
	{ "top", cmd_top, "a live view of the tunnel: users by rate, their flows, denies",
	  "wgxdp top [--interval SEC] [--sort rate|flows|denies|name] [--filter TEXT]\n"
	  "          [--pin-dir DIR]\n"
	  "wgxdp top --once [--json] [--interval SEC] [--sort KEY] [--filter TEXT]\n"
	  "          [--pin-dir DIR]\n"
	  "  A terminal view refreshed every --interval seconds (default 1), from the pinned\n"
	  "  maps only (the daemon may be stopped): the tunnel's packets and bytes per second\n"
	  "  each way, allowed and denied per second, flows in the table, the policy\n"
	  "  generation and the daemon's handshake outcomes per second; then the users by\n"
	  "  rate (bytes per second both ways, summed over their flows) with their flows,\n"
	  "  denies per second and last packet. Keys: q quit, s next sort, / filter by name\n"
	  "  (Enter apply, Esc clear), Enter or u a user's flows (Esc or Backspace back),\n"
	  "  up/down/PgUp/PgDn scroll, ^L redraw.\n"
	  "  --once    print one snapshot, taken one interval after a first one (so the rates\n"
	  "            exist), and exit: 1 if the tunnel is not attached\n"
	  "  --json    with --once: as JSON\n" },
	{ "policy", cmd_policy, "check a policy file; show, explain what the tunnel enforces",
	  wgx_policy_usage },
};

#define NR_CMDS (sizeof(cmds) / sizeof(cmds[0]))

void wgx_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wgx_vlog(WGX_LOG_ERR, cmd, fmt, ap);
	va_end(ap);
}

int wgx_usage(const char *cmd, FILE *f)
{
	size_t i;

	for (i = 0; i < NR_CMDS; i++) {
		if (!strcmp(cmds[i].name, cmd)) {
			fprintf(f, "Usage: %s", cmds[i].usage);
			break;
		}
	}
	return f == stderr ? 2 : 0;
}

const char *wgx_pin_dir_default(void)
{
	const char *d = getenv("WGXDP_PIN_DIR");

	return d && *d ? d : WGX_PIN_DIR_DEFAULT;
}

static void help(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: wgxdp <command> [options]\n\n"
		   "wgxdp: an XDP/tc data path for WireGuard gateways.\n\nCommands:\n");
	for (i = 0; i < NR_CMDS; i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n`wgxdp <command> --help` for a command's options; wgxdp(8) for the rest.\n");
}

/* libbpf and libxdp print warnings on their own: only with WGXDP_DEBUG=1. */
static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (getenv("WGXDP_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

int main(int argc, char **argv)
{
	size_t i;
	int j;

	libbpf_set_print(quiet_print);
	libxdp_set_print((libxdp_print_fn_t)quiet_print);
	if (argc < 2) {
		help(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		if (argc > 2)
			return wgx_usage(argv[2], stdout);
		help(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("wgxdp %s (libbpf %s)\n", WGXDP_VERSION, libbpf_version_string());
		return 0;
	}
	for (i = 0; i < NR_CMDS; i++) {
		if (strcmp(cmds[i].name, argv[1]))
			continue;
		for (j = 2; j < argc; j++)
			if (!strcmp(argv[j], "--help") || !strcmp(argv[j], "-h"))
				return wgx_usage(argv[1], stdout);
		return cmds[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "wgxdp: unknown command '%s' (see wgxdp help)\n", argv[1]);
	return 2;
}
