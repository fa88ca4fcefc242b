// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * clicksieve XDP program. Counts every packet, looks up the source address
 * in the provider ranges only where the answer is used (SYNs, events), and
 * sends events for TCP to the tracked ports to userspace. It never changes
 * traffic: every packet, malformed or not, is passed.
 */
#include <linux/bpf.h>
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

#define EVENT_HEADER_BYTES __builtin_offsetof(struct cs_event, payload)

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

/* One record of the header and room payload bytes (a constant at each call). */
static __always_inline void emit_record(struct xdp_md *ctx, const struct cs_pkt *pkt,
					__u8 kind, struct cs_range_value range,
					struct cs_counters *cnt, const __u32 room)
{
	struct cs_event *e;

	e = bpf_ringbuf_reserve(&events, EVENT_HEADER_BYTES + room, 0);
	if (!e) {
		cnt->v[CS_CNT_EVENTS_DROPPED]++;
		return;
	}
	/*
	 * Payload carries the click, whose time the verdict prints to the µs
	 * and which orders clicks of one message: the precise clock. A bare
	 * SYN/FIN/RST only feeds flow bookkeeping (idle timeouts of minutes):
	 * the coarse clock, one tick (1-10 ms) behind, costs ~20 ns instead of
	 * ~45 (bench_xdp's probes).
	 */
	e->ts_ns = room ? bpf_ktime_get_ns() : bpf_ktime_get_coarse_ns();
	e->ifindex = ctx->ingress_ifindex;
	e->seq = pkt->seq;
	e->sport = pkt->sport;
	e->dport = pkt->dport;
	e->family = pkt->family;
	e->kind = kind;
	e->tcp_flags = pkt->tcp_flags;
	e->ev_flags = 0;
	e->provider_id = range.provider_id;
	e->range_flags = range.flags;
	e->payload_len = pkt->payload_len > 0xffff ? 0xffff : pkt->payload_len;
	__builtin_memcpy(e->saddr, pkt->saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, pkt->daddr, sizeof(e->daddr));
	e->captured_len = room ? capture_payload(ctx, e, pkt, room) : 0;
	if (e->captured_len < pkt->payload_len) {
		e->ev_flags |= CS_EVF_TRUNCATED;
		cnt->v[CS_CNT_PAYLOAD_TRUNCATED]++;
	}
	/* The reader also polls on a timer: wake it only now and then. */
	bpf_ringbuf_submit(e, cnt->v[CS_CNT_EVENTS] % CS_EVENTS_WAKEUP_EVERY ?
			      BPF_RB_NO_WAKEUP : BPF_RB_FORCE_WAKEUP);
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
		emit_record(ctx, pkt, kind, range, cnt, 0);
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

	kind = port_tracked(pkt->dport) ? event_kind(pkt, syn) : 0;
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
	__u8 *tcp;
	int rc;

	cnt = bpf_map_lookup_elem(&counters, &zero);
	if (!cnt)
		return XDP_PASS;
	cnt->v[CS_CNT_PACKETS]++;
	cnt->v[CS_CNT_BYTES] += data_end - data;

	/* Most packets are decided here, before the general parser. */
	rc = cs_parse_plain_ipv4(data, data_end, &tcp, &payload_len);
	if (rc == CS_PARSE_OK) {
		if (!needs_answer(tcp[13], cs_get_be16(tcp + 2), payload_len))
			return XDP_PASS;
		cs_pkt_from_plain_ipv4(tcp, payload_len, &pkt);
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
