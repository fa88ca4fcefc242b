// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark baseline: what a range lookup costs at clicksieve's parse depth.
 * The same parser as the clicksieve program (Ethernet, VLAN, IPv4/IPv6 with
 * extension headers, TCP), the source address copied the same way, then one
 * LPM lookup in a trie keyed like ranges_v4/ranges_v6. No counters, no
 * events, no clock: the difference to clicksieve is exactly those.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "clicksieve_abi.h"
#include "packet_parse.h"

#include "range_maps.bpf.h"

/* Matches seen, so the lookup's result is used. */
__u64 matches;

SEC("xdp")
int bench_lpm(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct cs_range_value *match;
	struct cs_pkt pkt;

	if (cs_parse_headers(data, data_end, &pkt) || cs_pkt_copy_addrs(data, data_end, &pkt))
		return XDP_PASS;
	if (pkt.family == 4) {
		struct cs_lpm_v4 key = { .prefixlen = 32 };

		__builtin_memcpy(key.addr, pkt.saddr, sizeof(key.addr));
		match = bpf_map_lookup_elem(&ranges_v4, &key);
	} else {
		struct cs_lpm_v6 key = { .prefixlen = 128 };

		__builtin_memcpy(key.addr, pkt.saddr, sizeof(key.addr));
		match = bpf_map_lookup_elem(&ranges_v6, &key);
	}
	if (match)
		matches++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
