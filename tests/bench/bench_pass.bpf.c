// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The baseline for `make bench`: the least an XDP program can do. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int bench_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
