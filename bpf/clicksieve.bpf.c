// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * clicksieve XDP program. Counts every packet, looks up the source address
 * in the provider ranges only where the answer is used (SYNs, events), and
 * sends events for TCP to the tracked ports to userspace. It never changes
 * traffic: every packet, malformed or not, is passed.
 *
 * A ring-buffer write costs two helper calls (~40 ns here), more than the
 * rest of a SYN's work, so events without payload (SYN, FIN, RST) are
 * collected per CPU and written CS_EVENT_BATCH at a time (README, "Kernel
 * maps"). A CPU's batch goes out when full, before any payload event of
 * that CPU (so a flow's SYN precedes its request), and at the latest
 * CS_EVENT_BATCH_DELAY_NS after its first event, from a timer pinned to
 * that CPU. Batch and timer callback run in softirq on their own CPU, so
 * they never run at the same time.
 */
#include <linux/bpf.h>
#include <linux/time.h>
#include <bpf/bpf_helpers.h>

#include "clicksieve_abi.h"
#include "packet_parse.h"
#include "range_maps.bpf.h"

/* Bit p set: destination port p is tracked. Set by the loader before load. */
const volatile __u64 tracked_ports[CS_PORT_BITMAP_WORDS] = {};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CS_MAX_PROVIDERS);
	__type(key, __u32);
	__type(value, struct cs_provider_name);
} providers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CS_MAX_PROVIDERS);
	__type(key, __u32);
	__type(value, struct cs_provider_stats);
} provider_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cs_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CS_RINGBUF_BYTES);
} events SEC(".maps");

#define EVENT_HEADER_BYTES __builtin_offsetof(struct cs_event, payload)

/* One CPU's events without payload, waiting to be written together. */
struct event_batch {
	struct bpf_timer flush_timer;
	__u64 tick;                     /* jiffies when tick_ns was read */
	__u64 tick_ns;                  /* the coarse clock in that tick */
	__u32 count;
	__u8 timer_ready;
	__u8 timer_armed;
	__u8 records[CS_EVENT_BATCH][EVENT_HEADER_BYTES];
};

/* Indexed by CPU; the loader sizes it to the possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct event_batch);
} event_batches SEC(".maps");

static __always_inline int port_tracked(__u16 port)
{
	return (tracked_ports[port / 64] >> (port % 64)) & 1;
}

static __always_inline struct cs_range_value lookup_range(const struct cs_pkt *pkt)
{
	struct cs_range_value none = {}, *match;

	if (pkt->family == 4) {
		struct cs_lpm_v4 key = { .prefixlen = 32 };

		__builtin_memcpy(key.addr, pkt->saddr, sizeof(key.addr));
		match = bpf_map_lookup_elem(&ranges_v4, &key);
	} else {
		struct cs_lpm_v6 key = { .prefixlen = 128 };

		__builtin_memcpy(key.addr, pkt->saddr, sizeof(key.addr));
		match = bpf_map_lookup_elem(&ranges_v6, &key);
	}
	return match ? *match : none;
}

static __always_inline struct cs_provider_stats *provider_stats_of(__u16 provider_id)
{
	__u32 key = provider_id;

	return bpf_map_lookup_elem(&provider_stats, &key);
}

/*
 * Copies the head of the payload into room bytes. The verifier must see the
 * length in (0, room] in the very register passed to the helper: 64-bit so
 * clang 14 does not test a zero-extended copy, and masked behind an asm
 * barrier so the bound is recomputed on that register.
 */
static __always_inline __u16 capture_payload(struct xdp_md *ctx, struct cs_event *e,
					     const struct cs_pkt *pkt, const __u32 room)
{
	__u64 len = pkt->payload_len;

	if (len > room)
		len = room;
	asm volatile("%[len] &= 0x7ff" : [len] "+r"(len));
	if (len == 0 || len > room)
		return 0;
	if (bpf_xdp_load_bytes(ctx, pkt->payload_off, e->payload, len))
		return 0;
	return len;
}

/* The header fields every event carries, but the clock and the flags. */
static __always_inline void fill_header(struct xdp_md *ctx, struct cs_event *e,
					const struct cs_pkt *pkt, __u8 kind,
					struct cs_range_value range)
{
	e->ifindex = ctx->ingress_ifindex;
	e->seq = pkt->seq;
	e->sport = pkt->sport;
	e->dport = pkt->dport;
	e->family = pkt->family;
	e->kind = kind;
	e->tcp_flags = pkt->tcp_flags;
	e->provider_id = range.provider_id;
	e->range_flags = range.flags;
	e->payload_len = pkt->payload_len > 0xffff ? 0xffff : pkt->payload_len;
	__builtin_memcpy(e->saddr, pkt->saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, pkt->daddr, sizeof(e->daddr));
}

/*
 * The reader also polls on a timer: wake it only for the first of every
 * CS_EVENTS_WAKEUP_EVERY events of a CPU, here for n events from "before".
 */
static __always_inline __u64 wakeup_flag(__u64 before, __u64 n)
{
	__u64 into = before & (CS_EVENTS_WAKEUP_EVERY - 1);

	return into == 0 || into + n > CS_EVENTS_WAKEUP_EVERY ? BPF_RB_FORCE_WAKEUP :
								 BPF_RB_NO_WAKEUP;
}

static __always_inline struct event_batch *this_cpu_batch(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&event_batches, &cpu);
}

/* Writes the batch to the ring as one record and empties it. */
static __always_inline void flush_batch(struct event_batch *b, struct cs_counters *cnt)
{
	__u64 n = b->count, size, before = cnt->v[CS_CNT_EVENTS];

	b->count = 0;
	if (n > CS_EVENT_BATCH)
		n = CS_EVENT_BATCH;
	size = n * EVENT_HEADER_BYTES;
	/* a bound the verifier sees on the very register passed */
	asm volatile("%[size] &= 0xffff" : [size] "+r"(size));
	if (size == 0 || size > sizeof(b->records))
		return;
	if (bpf_ringbuf_output(&events, b->records, size, wakeup_flag(before, n)))
		cnt->v[CS_CNT_EVENTS_DROPPED] += n;
	else
		cnt->v[CS_CNT_EVENTS] = before + n;
}

static int flush_on_timer(void *map, __u32 *cpu, struct event_batch *b)
{
	struct cs_counters *cnt;
	__u32 zero = 0;

	b->timer_armed = 0;
	cnt = bpf_map_lookup_elem(&counters, &zero);
	/* Pinned, the timer fires on the batch's CPU; elsewhere it must not touch it. */
	if (cnt && *cpu == bpf_get_smp_processor_id())
		flush_batch(b, cnt);
	return 0;
}

static __always_inline void arm_flush_timer(struct event_batch *b, struct cs_counters *cnt)
{
	if (!b->timer_ready) {
		bpf_timer_init(&b->flush_timer, &event_batches, CLOCK_MONOTONIC);
		bpf_timer_set_callback(&b->flush_timer, flush_on_timer);
		b->timer_ready = 1;
	}
	if (bpf_timer_start(&b->flush_timer, CS_EVENT_BATCH_DELAY_NS, CS_BPF_F_TIMER_CPU_PIN)) {
		flush_batch(b, cnt);    /* no timer, no waiting */
		return;
	}
	b->timer_armed = 1;
}

/*
 * The coarse clock, read once per tick and CPU: jiffies cost ~1 ns (the
 * verifier inlines them), the coarse clock helper ~25 ns.
 */
static __always_inline __u64 tick_clock(struct event_batch *b)
{
	__u64 now = bpf_jiffies64();

	if (now != b->tick) {
		b->tick_ns = bpf_ktime_get_coarse_ns();
		b->tick = now;
	}
	return b->tick_ns;
}

/* An event without payload (SYN, FIN, RST) into this CPU's batch. */
static __always_inline void batch_event(struct xdp_md *ctx, const struct cs_pkt *pkt,
					__u8 kind, struct cs_range_value range,
					struct cs_counters *cnt)
{
	struct event_batch *b = this_cpu_batch();
	struct cs_event *e;

	if (!b) {
		cnt->v[CS_CNT_EVENTS_DROPPED]++;        /* a CPU the loader did not count */
		return;
	}
	e = (struct cs_event *)b->records[b->count & (CS_EVENT_BATCH - 1)];
	fill_header(ctx, e, pkt, kind, range);
	e->ts_ns = tick_clock(b);
	e->ev_flags = CS_EVF_BATCHED;
	e->captured_len = 0;
	if (++b->count >= CS_EVENT_BATCH)
		flush_batch(b, cnt);
	else if (!b->timer_armed)
		arm_flush_timer(b, cnt);
}

/* One record of the header and room payload bytes (a constant at each call). */
static __always_inline void emit_record(struct xdp_md *ctx, const struct cs_pkt *pkt,
					__u8 kind, struct cs_range_value range,
					struct cs_counters *cnt, const __u32 room)
{
	struct event_batch *b = this_cpu_batch();
	struct cs_event *e;

	/* This CPU's earlier events first: a flow's SYN before its request. */
	if (b && b->count)
		flush_batch(b, cnt);
	e = bpf_ringbuf_reserve(&events, EVENT_HEADER_BYTES + room, 0);
	if (!e) {
		cnt->v[CS_CNT_EVENTS_DROPPED]++;
		return;
	}
	fill_header(ctx, e, pkt, kind, range);
	/* the click's time, printed to the µs, which orders a message's clicks */
	e->ts_ns = bpf_ktime_get_ns();
	e->ev_flags = 0;
	e->captured_len = capture_payload(ctx, e, pkt, room);
	if (e->captured_len < pkt->payload_len) {
		e->ev_flags |= CS_EVF_TRUNCATED;
		cnt->v[CS_CNT_PAYLOAD_TRUNCATED]++;
	}
	bpf_ringbuf_submit(e, wakeup_flag(cnt->v[CS_CNT_EVENTS], 1));
	cnt->v[CS_CNT_EVENTS]++;
}

/*
 * Records are sized to the payload, in a few classes (the reserve size must
 * be a constant): small records keep the ring's memory traffic down and let
 * more events fit. Consumers get captured_len payload bytes after the header.
 */
static __always_inline void emit_event(struct xdp_md *ctx, const struct cs_pkt *pkt,
				       __u8 kind, struct cs_range_value range,
				       struct cs_counters *cnt)
{
	__u32 len = pkt->payload_len;

	if (len == 0)
		batch_event(ctx, pkt, kind, range, cnt);
	else if (len <= 256 - EVENT_HEADER_BYTES)
		emit_record(ctx, pkt, kind, range, cnt, 256 - EVENT_HEADER_BYTES);
	else if (len <= 512 - EVENT_HEADER_BYTES)
		emit_record(ctx, pkt, kind, range, cnt, 512 - EVENT_HEADER_BYTES);
	else if (len <= 1024 - EVENT_HEADER_BYTES)
		emit_record(ctx, pkt, kind, range, cnt, 1024 - EVENT_HEADER_BYTES);
	else
		emit_record(ctx, pkt, kind, range, cnt, CS_CAPTURE_BYTES);
}

static __always_inline __u8 event_kind(const struct cs_pkt *pkt, int syn)
{
	if (syn)
		return CS_EV_SYN;
	if (pkt->payload_len)
		return CS_EV_PAYLOAD;
	if (pkt->tcp_flags & CS_TCP_RST)
		return CS_EV_RST;
	if (pkt->tcp_flags & CS_TCP_FIN)
		return CS_EV_FIN;
	return 0;
}

/* A connection attempt: SYN without ACK, on any port. */
static __always_inline int is_syn(__u8 tcp_flags)
{
	return (tcp_flags & (CS_TCP_SYN | CS_TCP_ACK)) == CS_TCP_SYN;
}

/*
 * Whether a segment is looked up: a SYN, or an event (payload, FIN or RST)
 * on a tracked port. Most traffic is neither: bare ACKs, other ports.
 */
static __always_inline int needs_answer(__u8 tcp_flags, __u16 dport, __u32 payload_len)
{
	if (is_syn(tcp_flags))
		return 1;
	if (!payload_len && !(tcp_flags & (CS_TCP_FIN | CS_TCP_RST)))
		return 0;
	return port_tracked(dport);
}

/* A segment that needs the range answer: a SYN on any port, or an event. */
static __always_inline void handle_segment(struct xdp_md *ctx, struct cs_pkt *pkt,
					   struct cs_counters *cnt)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	int syn = is_syn(pkt->tcp_flags);
	struct cs_provider_stats *stats;
	struct cs_range_value range;
	__u8 kind;

	/* needs_answer() let other segments in only on a tracked port */
	kind = !syn || port_tracked(pkt->dport) ? event_kind(pkt, syn) : 0;
	if (cs_pkt_copy_addrs(data, data_end, pkt))
		return;
	range = lookup_range(pkt);
	stats = provider_stats_of(range.provider_id);
	if (syn) {
		cnt->v[CS_CNT_SYNS]++;
		if (stats)
			stats->syns++;
	}
	if (kind) {
		if (stats) {
			stats->event_packets++;
			stats->bytes += data_end - data;
		}
		emit_event(ctx, pkt, kind, range, cnt);
	}
}

SEC("xdp")
int clicksieve_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct cs_counters *cnt;
	__u32 zero = 0, payload_len;
	struct cs_pkt pkt;
	__u8 *tcp, family;
	int rc;

	cnt = bpf_map_lookup_elem(&counters, &zero);
	if (!cnt)
		return XDP_PASS;
	cnt->v[CS_CNT_PACKETS]++;
	cnt->v[CS_CNT_BYTES] += data_end - data;

	/* Most packets are decided here, before the general parser. */
	family = 4;
	rc = cs_parse_plain_ipv4(data, data_end, &tcp, &payload_len);
	if (rc == -1) {
		family = 6;
		rc = cs_parse_plain_ipv6(data, data_end, &tcp, &payload_len);
	}
	if (rc == CS_PARSE_OK) {
		if (!needs_answer(tcp[13], cs_get_be16(tcp + 2), payload_len))
			return XDP_PASS;
		cs_pkt_from_plain(tcp, payload_len, family, &pkt);
	} else if (rc == CS_CNT_NON_TCP) {
		cnt->v[CS_CNT_NON_TCP]++;
		return XDP_PASS;
	} else {
		rc = cs_parse_headers_general(data, data_end, &pkt);
		if (rc) {
			if (rc > 0 && rc < CS_CNT__MAX)
				cnt->v[rc]++;
			return XDP_PASS;
		}
		if (!needs_answer(pkt.tcp_flags, pkt.dport, pkt.payload_len))
			return XDP_PASS;
	}
	handle_segment(ctx, &pkt, cnt);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
