// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Test driver for loader/enforce without the tunnel's BPF object: the maps created as the
 * object declares them (wgx_enforce_create_maps), pinned, and a policy applied, so that
 * `wgxdp policy show/explain` can be run against them.
 *
 *   enforce_tool pin PIN_DIR            creates the maps and pins them in PIN_DIR/tunnel/
 *   enforce_tool apply PIN_DIR FILE     applies the policy FILE to the pinned maps
 *   enforce_tool unpin PIN_DIR          removes the pins (and the directory if empty)
 *
 * Exit 0, or 1 with one line on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "loader/enforce.h"

static int pin(const char *dir)
{
	struct wgx_enforce_fds fds;
	char path[512];
	unsigned int i;
	int ret;

	ret = wgx_enforce_create_maps(&fds);
	if (ret) {
		fprintf(stderr, "enforce_tool: creating the maps: %s\n", strerror(-ret));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, WGX_PIN_SUB_TUNNEL);
	if ((mkdir(dir, 0700) && errno != EEXIST) || (mkdir(path, 0700) && errno != EEXIST)) {
		fprintf(stderr, "enforce_tool: %s: %s\n", path, strerror(errno));
		wgx_enforce_fds_close(&fds);
		return 1;
	}
	for (i = 0; i < WGX_EM__MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", dir, WGX_PIN_SUB_TUNNEL,
			 wgx_enforce_map_names[i]);
		if (bpf_obj_pin(fds.fd[i], path)) {
			fprintf(stderr, "enforce_tool: pin %s: %s\n", path, strerror(errno));
			wgx_enforce_fds_close(&fds);
			return 1;
		}
	}
	wgx_enforce_fds_close(&fds);
	return 0;
}

static int unpin(const char *dir)
{
	char path[512];
	unsigned int i;

	for (i = 0; i < WGX_EM__MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", dir, WGX_PIN_SUB_TUNNEL,
			 wgx_enforce_map_names[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, WGX_PIN_SUB_TUNNEL);
	rmdir(path);
	rmdir(dir);
	return 0;
}

static int apply(const char *dir, const char *file)
{
	struct wgx_policy_err err = {};
	struct wgx_policy *p;
	struct wgx_enforce *e;
	int ret;

	ret = wgx_policy_load_file(file, &p, &err);
	if (ret) {
		fprintf(stderr, "enforce_tool: %s: %s: %s\n", file, err.where, err.why);
		return 1;
	}
	ret = wgx_enforce_open(dir, &e, &err);
	if (!ret) {
		ret = wgx_enforce_apply(e, p, NULL, 0, &err);
		wgx_enforce_close(e);
	}
	wgx_policy_free(p);
	if (ret)
		fprintf(stderr, "enforce_tool: %s: %s: %s\n", strerror(-ret), err.where, err.why);
	return !!ret;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "pin"))
		return pin(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "unpin"))
		return unpin(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "apply"))
		return apply(argv[2], argv[3]);
	fprintf(stderr, "usage: enforce_tool pin|unpin PIN_DIR | apply PIN_DIR FILE\n");
	return 2;
}
