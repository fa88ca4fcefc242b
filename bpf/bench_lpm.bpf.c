// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark baseline: the least a range lookup costs. Untagged Ethernet +
 * IPv4 only, source address looked up in an LPM trie keyed like ranges_v4.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "clicksieve_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CS_MAX_RANGES_V4);
	__type(key, struct cs_lpm_v4);
	__type(value, struct cs_range_value);
} lpm_v4 SEC(".maps");

/* Matches seen, so the lookup's result is used. */
__u64 matches;

SEC("xdp")
int bench_lpm(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct cs_lpm_v4 key = { .prefixlen = 32 };
	__u8 *ip = (__u8 *)data + 14;

	if (ip + 20 > (__u8 *)data_end || ((__u8 *)data)[12] != 0x08 || ((__u8 *)data)[13] != 0)
		return XDP_PASS;
	__builtin_memcpy(key.addr, ip + 12, sizeof(key.addr));
	if (bpf_map_lookup_elem(&lpm_v4, &key))
		matches++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
