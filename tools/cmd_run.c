// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * wgxdp run: the just-in-time peer daemon. Parses the options and starts the daemon's core,
 * loader/jitd.c, which does the rest (see loader/jitd.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

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

#define WGX_TOKEN_MAX	4096

/*
 * The bearer token from path: one line of visible ASCII (no spaces or control bytes, which
 * would let the file add HTTP headers), at most WGX_TOKEN_MAX bytes. Never printed.
 */
static int read_token(const char *path, char *out)
{
	char buf[WGX_TOKEN_MAX + 2];
	struct stat st;
	ssize_t n;
	size_t i;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st)) {
		wgx_err("run", "--api-token-file %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		wgx_err("run", "--api-token-file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & 0077)
		wgx_err("run", "warning: --api-token-file %s can be read by others (mode %03o): "
			"chmod 600 it", path, (unsigned int)(st.st_mode & 0777));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		wgx_err("run", "--api-token-file %s: %s", path, strerror(errno));
		return -1;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	for (i = 0; i < (size_t)n && buf[i] > 0x20 && buf[i] < 0x7f; i++)
		;
	if (!n || n > WGX_TOKEN_MAX || i != (size_t)n) {
		wgx_err("run", "--api-token-file %s: expected one line of visible ASCII, at most "
			"%d bytes", path, WGX_TOKEN_MAX);
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	memcpy(out, buf, n);
	out[n] = 0;
	explicit_bzero(buf, sizeof(buf));
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
		{ "api-ca", required_argument, NULL, 'C' },
		{ "api-cert", required_argument, NULL, 'E' },
		{ "api-key", required_argument, NULL, 'K' },
		{ "api-token-file", required_argument, NULL, 'T' },
		{ "api-insecure", no_argument, NULL, 'S' },
		{ "api-timeout", required_argument, NULL, 'O' },
		{ "api-stale", required_argument, NULL, 'G' },
		{ "api-refresh", required_argument, NULL, 'H' },
		{}
	};
	static char token[WGX_TOKEN_MAX + 1];
	unsigned int timeout_ms = 5000;
	struct wgx_jitd_opts o = { .pin_dir = wgx_pin_dir_default(), .idle_timeout = 600,
				   .rate = 20, .burst = 5, .api_rate = 50,
				   .api_revalidate = 300, .sweep_ms = 1000,
				   .min_plen4 = 24, .min_plen6 = 64, .flow_interval = 10,
				   .api_stale = 3600, .api_refresh = 60 };
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
		case 'C':
			o.api_http.ca_file = optarg;
			break;
		case 'E':
			o.api_http.cert_file = optarg;
			break;
		case 'K':
			o.api_http.key_file = optarg;
			break;
		case 'T':
			if (read_token(optarg, token))
				return 2;
			o.api_http.token = token;
			break;
		case 'S':
			o.api_http.insecure = true;
			break;
		case 'O':
			if (parse_uint("--api-timeout", optarg, 100, &timeout_ms))
				return 2;
			break;
		case 'G':
			if (parse_uint("--api-stale", optarg, 0, &o.api_stale))
				return 2;
			break;
		case 'H':
			if (parse_uint("--api-refresh", optarg, 1, &o.api_refresh))
				return 2;
			break;
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
	err = o.api_url ? wgx_http_url_check(o.api_url, o.api_http.insecure) : 0;
	if (err == -EPROTONOSUPPORT) {
		wgx_err("run", "--peer-api %s: plain http sends users' keys in the clear and lets "
			"anyone on the path answer; use https://, or --api-insecure to accept that",
			o.api_url);
		return 2;
	}
	if (err) {
		wgx_err("run", "--peer-api %s: expected https://host[:port][/path]", o.api_url);
		return 2;
	}
	if (!!o.api_http.cert_file != !!o.api_http.key_file) {
		wgx_err("run", "--api-cert and --api-key go together");
		return 2;
	}
	o.api_http.timeout_ms = timeout_ms;
	o.api_http.connect_timeout_ms = timeout_ms < 2000 ? timeout_ms : 2000;
	wgx_log_setup(stderr, fmt, level);
	err = wgx_jitd_run(&o);
	explicit_bzero(token, sizeof(token));
	return err ? 1 : 0;
}
