// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The daemon's pinned state across versions: a wgx_jit_stats pinned by an older daemon (fewer
 * counters) is read by the tools as it is (the new counters read 0) and grown in place, its
 * counts kept, when a daemon opens it to write.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <bpf/bpf.h>

#include "loader/jit_state.h"
#include "test_progs.h"

/* the counters of the first wgxdp that pinned wgx_jit_stats: events .. policy_errors */
#define OLD_COUNTERS	25

static __u32 value_size(const char *path)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.value_size = 0;
	close(fd);
	return info.value_size;
}

static int pin_new(const char *dir, const char *name, __u32 ks, __u32 vs, __u32 max)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	char path[160];
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, ks, vs, max, &o), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (bpf_obj_pin(fd, path))
		err = -errno;
	close(fd);
	return err;
}

void test_jit_stats_grow(void)
{
	char dir[] = "/tmp/wgx-grow-XXXXXX", pin[64], sub[80], path[128];
	struct wgx_jit_key k = {};
	struct wgx_jit_state s;
	struct wgx_jit_stats st;
	__u64 old[OLD_COUNTERS];
	unsigned int i;
	int fd;

	test_case = "jit_stats_grow";
	if (!ASSERT_TRUE(mkdtemp(dir) != NULL, "mkdtemp"))
		return;
	if (!ASSERT_OK(mount("bpf", dir, "bpf", 0, "mode=0700") ? -errno : 0,
		       "mount a bpffs to pin in"))
		goto out_dir;
	snprintf(pin, sizeof(pin), "%s/wgxdp", dir);
	snprintf(sub, sizeof(sub), "%s/%s", pin, WGX_JIT_SUBDIR);
	snprintf(path, sizeof(path), "%s/wgx_jit_stats", sub);
	mkdir(pin, 0700);
	mkdir(sub, 0700);
	/* the other two as that daemon left them */
	ASSERT_OK(pin_new(sub, "wgx_peers", sizeof(struct wgx_peer_key),
			  sizeof(struct wgx_peer_rec), WGX_MAX_PEERS), "pin wgx_peers");
	ASSERT_OK(pin_new(sub, "wgx_replay", sizeof(struct wgx_peer_key),
			  sizeof(struct wgx_replay_rec), WGX_MAX_REPLAY), "pin wgx_replay");
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "wgx_jit_stats", sizeof(k), sizeof(old),
			    WGX_MAX_JIT_IFACES, NULL);
	if (!ASSERT_TRUE(fd >= 0, "create the old layout"))
		goto out_mount;
	strcpy(k.wg_ifname, "wg7");
	for (i = 0; i < OLD_COUNTERS; i++)
		old[i] = 1000 + i;
	ASSERT_OK(bpf_map_update_elem(fd, &k, old, BPF_ANY), "an old entry");
	ASSERT_OK(bpf_obj_pin(fd, path), "pin the old map");
	close(fd);
	_Static_assert(sizeof(struct wgx_jit_stats) > sizeof(old), "counters were added");

	/* a tool (no create): reads it as it is */
	if (ASSERT_OK(wgx_jit_state_open(pin, false, &s), "open the old map to read")) {
		ASSERT_OK(wgx_jit_stats_read(&s, "wg7", &st), "read through the old map");
		ASSERT_EQ(st.events, 1000, "events from the old map");
		ASSERT_EQ(st.policy_errors, 1024, "the last old counter");
		ASSERT_EQ(st.unknown_group, 0, "a new counter reads 0");
		wgx_jit_state_close(&s);
	}
	ASSERT_EQ(value_size(path), sizeof(old), "reading did not touch the pin");

	/* the daemon (create): grown in place, the counts kept */
	if (ASSERT_OK(wgx_jit_state_open(pin, true, &s), "open the old map to write")) {
		ASSERT_EQ(value_size(path), sizeof(struct wgx_jit_stats), "the pin grew");
		ASSERT_OK(wgx_jit_stats_read(&s, "wg7", &st), "read the grown map");
		ASSERT_EQ(st.events, 1000, "events kept");
		ASSERT_EQ(st.policy_errors, 1024, "the last old counter kept");
		ASSERT_EQ(st.groups_errors, 0, "the last new counter is 0");
		st.unknown_group = 7;
		ASSERT_OK(wgx_jit_stats_write(&s, "wg7", &st), "write a new counter");
		wgx_jit_state_close(&s);
	}
	if (ASSERT_OK(wgx_jit_state_open(pin, false, &s), "open again")) {
		ASSERT_OK(wgx_jit_stats_read(&s, "wg7", &st), "read again");
		ASSERT_EQ(st.unknown_group, 7, "the new counter was kept in the pin");
		wgx_jit_state_close(&s);
	}

	/* a layout that is not an older one of ours is still refused */
	unlink(path);
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "wgx_jit_stats", sizeof(k), 12,
			    WGX_MAX_JIT_IFACES, NULL);
	if (ASSERT_TRUE(fd >= 0, "create a foreign layout")) {
		ASSERT_OK(bpf_obj_pin(fd, path), "pin it");
		close(fd);
		ASSERT_EQ(wgx_jit_state_open(pin, true, &s), -EPROTO, "a foreign layout");
	}
out_mount:
	umount2(dir, MNT_DETACH);	/* the pins go with the mount */
out_dir:
	rmdir(dir);
}
