// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Benchmark baseline: the cheapest XDP program there is. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int bench_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
