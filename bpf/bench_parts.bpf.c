// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark probes: one XDP program per building block of the clicksieve
 * program (clock reads, ring-buffer writes, a per-CPU counter bump), so that
 * bench_xdp can price each against the empty program in the same run.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "clicksieve_abi.h"

/* The size of a SYN record: the event header without payload. */
#define SYN_RECORD_BYTES __builtin_offsetof(struct cs_event, payload)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CS_RINGBUF_BYTES);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cs_counters);
} counters SEC(".maps");

/* Clock readings land here, so that no read is optimized away. */
__u64 sink;

SEC("xdp")
int bench_ktime(struct xdp_md *ctx)
{
	sink += bpf_ktime_get_ns();
	return XDP_PASS;
}

SEC("xdp")
int bench_ktime_coarse(struct xdp_md *ctx)
{
	sink += bpf_ktime_get_coarse_ns();
	return XDP_PASS;
}

/* Inlined by the verifier on 64-bit JITs: a load of jiffies_64. */
SEC("xdp")
int bench_jiffies64(struct xdp_md *ctx)
{
	sink += bpf_jiffies64();
	return XDP_PASS;
}

SEC("xdp")
int bench_counters(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct cs_counters *c = bpf_map_lookup_elem(&counters, &key);

	if (c)
		c->v[CS_CNT_PACKETS]++;
	return XDP_PASS;
}

/* A SYN-sized record, header fields written as the real program does. */
static __always_inline int reserve_submit(__u64 flags)
{
	struct cs_event *e = bpf_ringbuf_reserve(&ring, SYN_RECORD_BYTES, 0);

	if (!e)
		return XDP_PASS;
	__builtin_memset(e, 0, SYN_RECORD_BYTES);
	e->kind = CS_EV_SYN;
	bpf_ringbuf_submit(e, flags);
	return XDP_PASS;
}

SEC("xdp")
int bench_ringbuf_reserve(struct xdp_md *ctx)
{
	return reserve_submit(0);
}

SEC("xdp")
int bench_ringbuf_reserve_nowakeup(struct xdp_md *ctx)
{
	return reserve_submit(BPF_RB_NO_WAKEUP);
}

/* The same record built on the stack and copied in by bpf_ringbuf_output. */
SEC("xdp")
int bench_ringbuf_output(struct xdp_md *ctx)
{
	struct {
		__u8 bytes[SYN_RECORD_BYTES];
	} record = {};

	((struct cs_event *)&record)->kind = CS_EV_SYN;
	bpf_ringbuf_output(&ring, &record, sizeof(record), 0);
	return XDP_PASS;
}

/*
 * The clicksieve program's per-CPU batch of records without payload, bare:
 * SYN-sized records, and 32-byte ones (too small for an IPv6 4-tuple) for
 * the floor below any record that could carry a SYN.
 */
#define SMALL_RECORD_BYTES 32

struct batch {
	__u32 count;
	__u8 records[CS_EVENT_BATCH][SYN_RECORD_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct batch);
} batches SEC(".maps");

static __always_inline int batch_record(int output, const __u32 record_bytes)
{
	__u32 key = 0;
	struct batch *b = bpf_map_lookup_elem(&batches, &key);
	struct cs_event *e;

	if (!b)
		return XDP_PASS;
	e = (struct cs_event *)(b->records[0] + (b->count & (CS_EVENT_BATCH - 1)) * record_bytes);
	__builtin_memset(e, 0, record_bytes);
	e->kind = CS_EV_SYN;
	if (++b->count < CS_EVENT_BATCH)
		return XDP_PASS;
	b->count = 0;
	if (output)
		bpf_ringbuf_output(&ring, b->records, CS_EVENT_BATCH * record_bytes,
				   BPF_RB_NO_WAKEUP);
	return XDP_PASS;
}

/* A SYN-sized record written into a per-CPU batch: the floor of any event. */
SEC("xdp")
int bench_batch_write(struct xdp_md *ctx)
{
	return batch_record(0, SYN_RECORD_BYTES);
}

/* The same, each full batch copied to the ring by one bpf_ringbuf_output. */
SEC("xdp")
int bench_batch_output(struct xdp_md *ctx)
{
	return batch_record(1, SYN_RECORD_BYTES);
}

SEC("xdp")
int bench_batch_output_small(struct xdp_md *ctx)
{
	return batch_record(1, SMALL_RECORD_BYTES);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
