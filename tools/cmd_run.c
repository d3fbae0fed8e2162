// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * wgxdp run: the just-in-time peer daemon. Parses the options and starts the daemon's core,
 * loader/jitd.c, which does the rest (see loader/jitd.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "loader/http.h"
#include "loader/jitd.h"
#include "loader/log.h"
#include "loader/metrics.h"
#include "tools/wgxdp.h"

static int parse_uint(const char *opt, const char *s, unsigned int min, unsigned int *out)
{
	unsigned long v;

	if (wgx_parse_ulong(s, min, 1000000000ul, &v)) {
		wgx_err("run", "%s %s: expected a number from %u to 1000000000", opt, s, min);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "wg", required_argument, NULL, 'w' },
		{ "policy", required_argument, NULL, 'p' },
		{ "peer-api", required_argument, NULL, 'a' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "api-rate", required_argument, NULL, 'A' },
		{ "api-revalidate", required_argument, NULL, 'R' },
		{ "answer", required_argument, NULL, 'N' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "max-tunnel-prefix", required_argument, NULL, 'M' },
		{ "flow-log", required_argument, NULL, 'f' },
		{ "flow-interval", required_argument, NULL, 'I' },
		{ "metrics", required_argument, NULL, 'm' },
		{}
	};
	struct wgx_jitd_opts o = { .pin_dir = wgx_pin_dir_default(), .idle_timeout = 600,
				   .rate = 20, .burst = 5, .api_rate = 50,
				   .api_revalidate = 300, .sweep_ms = 1000,
				   .min_plen4 = 24, .min_plen6 = 64, .flow_interval = 10 };
	enum wgx_log_format fmt = WGX_LOG_HUMAN;
	int level = WGX_LOG_INFO;
	int c, err;

	while ((c = getopt_long(argc, argv, "w:p:a:i:d:", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			o.wg_ifname = optarg;
			break;
		case 'p':
			o.policy_path = optarg;
			break;
		case 'a':
			o.api_url = optarg;
			break;
		case 'i':
			if (parse_uint("--idle-timeout", optarg, 1, &o.idle_timeout))
				return 2;
			break;
		case 'r':
			if (parse_uint("--rate", optarg, 1, &o.rate))
				return 2;
			o.burst = o.rate < 5 ? o.rate : 5;
			break;
		case 'A':
			if (parse_uint("--api-rate", optarg, 1, &o.api_rate))
				return 2;
			break;
		case 'R':
			if (parse_uint("--api-revalidate", optarg, 1, &o.api_revalidate))
				return 2;
			break;
		case 'd':
			o.pin_dir = optarg;
			break;
		case 'f':
			o.flow_log = optarg;
			break;
		case 'I':
			if (parse_uint("--flow-interval", optarg, 1, &o.flow_interval))
				return 2;
			break;
		case 'N':
			if (!strcmp(optarg, "reinject")) {
				o.answer = WGX_ANSWER_REINJECT;
			} else if (!strcmp(optarg, "keepalive")) {
				o.answer = WGX_ANSWER_KEEPALIVE;
			} else if (!strcmp(optarg, "none")) {
				o.answer = WGX_ANSWER_NONE;
			} else {
				wgx_err("run", "--answer %s: expected reinject, keepalive or none",
					optarg);
				return 2;
			}
			break;
		case 'F':
			if (!strcmp(optarg, "human")) {
				fmt = WGX_LOG_HUMAN;
			} else if (!strcmp(optarg, "json")) {
				fmt = WGX_LOG_JSON;
			} else {
				wgx_err("run", "--log-format %s: expected human or json", optarg);
				return 2;
			}
			break;
		case 'M': {
			unsigned int v4, v6;
			int n = 0;

			if (sscanf(optarg, "%u,%u%n", &v4, &v6, &n) != 2 || optarg[n] || v4 > 32 ||
			    v6 > 128) {
				wgx_err("run", "--max-tunnel-prefix %s: expected IPV4LEN,IPV6LEN "
					"(e.g. 24,64)", optarg);
				return 2;
			}
			o.min_plen4 = v4;
			o.min_plen6 = v6;
			break;
		}
		case 'm': {
			struct sockaddr_storage ss;
			socklen_t len;

			if (wgx_metrics_addr_parse(optarg, &ss, &len)) {
				wgx_err("run", "--metrics %s: expected IPV4:PORT or [IPV6]:PORT "
					"(e.g. 127.0.0.1:9586, [::1]:9586)", optarg);
				return 2;
			}
			o.metrics_addr = optarg;
			break;
		}
		case 'L':
			level = wgx_log_level_parse(optarg);
			if (level < 0) {
				wgx_err("run", "--log-level %s: expected err, warn, info or debug",
					optarg);
				return 2;
			}
			break;
		default:
			return wgx_usage("run", stderr);
		}
	}
	if (optind != argc || !o.wg_ifname || (!o.policy_path && !o.api_url))
		return wgx_usage("run", stderr);
	if (o.api_url && wgx_http_url_check(o.api_url)) {
		wgx_err("run", "--peer-api %s: expected http://host[:port][/path]", o.api_url);
		return 2;
	}
	wgx_log_setup(stderr, fmt, level);
	err = wgx_jitd_run(&o);
	return err ? 1 : 0;
}
