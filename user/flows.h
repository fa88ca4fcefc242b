/*
 * Per-TCP-flow reassembly of the client-to-server direction, and the HTTP
 * request framing on top of it (requests.h parses each head).
 *
 * Policy, in the style of an IDS stream engine:
 * - Overlaps: first data wins. Bytes already delivered, or already queued
 *   above a hole, are kept; retransmitted or overlapping copies are dropped
 *   (counted, and counted as a conflict when the queued bytes differ).
 * - Holes: out-of-order data waits above a hole up to ooo_cap bytes per
 *   flow; past that, and when the flow ends (FIN, RST, idle timeout,
 *   eviction), the hole is given up. Bytes not captured (captured < len)
 *   are a hole from the start. A request containing a hole is counted and
 *   skipped; parsing resumes at the next line that is a request line.
 * - Mid-stream pickup: a flow whose SYN was not seen starts at its first
 *   segment with data, which may begin a request (or a PROXY header).
 * - Bounds: a per-request header budget, a per-flow cap on queued data, a
 *   global memory cap that evicts the least recently active flows first.
 *   Every bound hit is counted in struct cs_flow_stats.
 * - Time is event time: segment timestamps and cs_flows_advance(); no
 *   clock is read.
 */
#ifndef CS_FLOWS_H
#define CS_FLOWS_H

#include <stdint.h>

#include "addr.h"
#include "requests.h"

struct cs_event;

/* One TCP segment in the client-to-server direction. */
struct cs_segment {
	uint64_t ts_us;                 /* event time, µs since the Unix epoch */
	struct cs_addr src, dst;
	uint16_t sport, dport;
	uint32_t seq;
	uint8_t flags;                  /* CS_TCP_* */
	const uint8_t *data;
	uint32_t len;                   /* payload bytes on the wire */
	uint32_t captured;              /* bytes at data, <= len */
};

struct cs_flows_config {
	uint32_t header_budget;         /* bytes of one request head; <= CS_HTTP_HEAD_MAX */
	uint32_t ooo_cap;               /* bytes queued above a hole (with bookkeeping), per flow */
	uint64_t memcap;                /* all flow state, bytes */
	uint64_t idle_timeout_us;
	uint64_t hash_seed;             /* random per process: chains attackers cannot predict */
	struct cs_http_limits http;
};

struct cs_flow_stats {
	uint64_t segments;
	uint64_t payload_bytes;
	uint64_t truncated_segments;    /* captured < len */
	uint64_t flows_created;
	uint64_t flows_midstream;       /* created without a SYN */
	uint64_t flows_active;
	uint64_t flows_closed_fin;
	uint64_t flows_closed_rst;
	uint64_t flows_timed_out;
	uint64_t flows_evicted;         /* memory cap hit */
	uint64_t flows_replaced;        /* a SYN with a new ISN on a known tuple */
	uint64_t flows_flushed;         /* still open at cs_flows_finish() */
	uint64_t retransmitted_bytes;   /* dropped copies of kept bytes */
	uint64_t overlap_conflicts;     /* segments whose overlap differed from kept bytes */
	uint64_t ooo_segments;          /* queued above a hole */
	uint64_t ooo_cap_hits;          /* hole given up: too much data above it */
	uint64_t holes;
	uint64_t hole_bytes;
	uint64_t requests;              /* handed to the callback */
	uint64_t requests_malformed;    /* head failed to parse */
	uint64_t requests_lost;         /* partial head dropped at a hole */
	uint64_t requests_over_budget;  /* head longer than header_budget */
	uint64_t requests_incomplete;   /* flow ended inside a head */
	uint64_t desyncs;               /* no request line where one was due */
	uint64_t bodies_length;
	uint64_t bodies_chunked;
	uint64_t chunked_errors;
	uint64_t proxy_v1;
	uint64_t proxy_v2;
	uint64_t proxy_invalid;
	uint64_t mem_bytes;
	uint64_t mem_peak;
};

struct cs_flows;

void cs_flows_config_defaults(struct cs_flows_config *cfg);

/* NULL on allocation failure or a header budget above CS_HTTP_HEAD_MAX. */
struct cs_flows *cs_flows_new(const struct cs_flows_config *cfg, cs_request_fn fn, void *ctx);
void cs_flows_free(struct cs_flows *f);

/* Feeds one segment; requests it completes come out through the callback. */
void cs_flows_segment(struct cs_flows *f, const struct cs_segment *seg);
/* Event time has reached now_us: closes flows idle for idle_timeout_us. */
void cs_flows_advance(struct cs_flows *f, uint64_t now_us);
/* End of input: flushes and closes every flow. */
void cs_flows_finish(struct cs_flows *f);

void cs_flows_get_stats(const struct cs_flows *f, struct cs_flow_stats *out);

/* A ring-buffer event as a segment; ts_us is its time converted to the epoch. */
void cs_segment_from_event(const struct cs_event *ev, uint64_t ts_us, struct cs_segment *out);

#endif
