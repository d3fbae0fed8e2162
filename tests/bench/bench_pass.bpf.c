// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The baselines for `make bench`: the least an XDP program and a tc program can do. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int bench_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int bench_tc_pass(struct __sk_buff *skb)
{
	return 0;	/* TC_ACT_OK */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
