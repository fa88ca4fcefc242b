/* Per-flow reassembly and request framing (user/flows.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "clicksieve_abi.h"
#include "flows.h"

#define MAX_SEEN 64

struct seen {
	uint64_t ts_us;
	char client[CS_ADDR_STRLEN];
	char peer[CS_ADDR_STRLEN];
	char method[16];
	char target[256];
	char ua[128];
	char xff[128];
	bool proxied;
};

static struct seen seen[MAX_SEEN];
static size_t n_seen;
static struct cs_flows *flows;
static struct cs_flows_config cfg;
static struct cs_flow_stats st;

static void on_request(void *ctx, const struct cs_request *r)
{
	struct seen *s = &seen[n_seen < MAX_SEEN ? n_seen : MAX_SEEN - 1];

	n_seen++;
	s->ts_us = r->ts_us;
	cs_addr_format(&r->client, s->client);
	cs_addr_format(&r->peer, s->peer);
	snprintf(s->method, sizeof(s->method), "%s", r->method);
	snprintf(s->target, sizeof(s->target), "%s", r->target);
	snprintf(s->ua, sizeof(s->ua), "%s", r->user_agent);
	snprintf(s->xff, sizeof(s->xff), "%s", r->xff);
	s->proxied = r->proxied;
}

static void start(void)
{
	n_seen = 0;
	flows = cs_flows_new(&cfg, on_request, NULL);
	assert_non_null(flows);
}

static int setup(void **state)
{
	cs_flows_config_defaults(&cfg);
	return 0;
}

static int teardown(void **state)
{
	cs_flows_free(flows);
	flows = NULL;
	return 0;
}

static void stats(void)
{
	cs_flows_get_stats(flows, &st);
}

/* Client 192.0.2.<host>:<sport> -> 198.51.100.1:80. */
static void seg_full(uint8_t host, uint16_t sport, uint32_t seq, uint8_t flags, const char *data,
		     uint32_t captured, uint32_t len, uint64_t ts)
{
	struct cs_segment s = {
		.ts_us = ts, .sport = sport, .dport = 80, .seq = seq, .flags = flags,
		.data = (const uint8_t *)data, .len = len, .captured = captured,
	};

	s.src.family = s.dst.family = 4;
	memcpy(s.src.bytes, (uint8_t[]){ 192, 0, 2, host }, 4);
	memcpy(s.dst.bytes, (uint8_t[]){ 198, 51, 100, 1 }, 4);
	cs_flows_segment(flows, &s);
}

static void syn(uint16_t sport, uint32_t isn, uint64_t ts)
{
	seg_full(10, sport, isn, CS_TCP_SYN, NULL, 0, 0, ts);
}

/* Data at stream offset off (ISN 1000: the first byte is seq 1001). */
static void data(uint16_t sport, uint32_t off, const char *text, uint64_t ts)
{
	uint32_t n = (uint32_t)strlen(text);

	seg_full(10, sport, 1001 + off, CS_TCP_ACK | CS_TCP_PSH, text, n, n, ts);
}

static void fin(uint16_t sport, uint32_t off, uint64_t ts)
{
	seg_full(10, sport, 1001 + off, CS_TCP_FIN | CS_TCP_ACK, NULL, 0, 0, ts);
}

#define REQ1 "GET /redirect?link=L1&l=R1&s=M1 HTTP/1.1\r\nHost: t.example\r\nUser-Agent: UA-one\r\n\r\n"
#define REQ2 "GET /redirect?link=L2&l=R2&s=M2 HTTP/1.1\r\nHost: t.example\r\nUser-Agent: UA-two\r\n\r\n"
#define REQ3 "HEAD /three HTTP/1.1\r\nHost: t.example\r\n\r\n"

static void test_single_segment(void **state)
{
	start();
	syn(40000, 1000, 100);
	data(40000, 0, REQ1, 200);
	assert_int_equal(n_seen, 1);
	assert_int_equal(seen[0].ts_us, 200);
	assert_string_equal(seen[0].method, "GET");
	assert_string_equal(seen[0].target, "/redirect?link=L1&l=R1&s=M1");
	assert_string_equal(seen[0].ua, "UA-one");
	assert_string_equal(seen[0].client, "192.0.2.10");
	assert_string_equal(seen[0].peer, "192.0.2.10");
	assert_false(seen[0].proxied);
	stats();
	assert_int_equal(st.requests, 1);
	assert_int_equal(st.flows_midstream, 0);
	assert_int_equal(st.desyncs, 0);
}

static void test_split_request(void **state)
{
	const char *r = REQ1;

	start();
	syn(40000, 1000, 100);
	/* Split inside the method, the target and the final CRLF. */
	char a[8], b[64], c[128];
	snprintf(a, sizeof(a), "%.2s", r);
	snprintf(b, sizeof(b), "%.30s", r + 2);
	snprintf(c, sizeof(c), "%.*s", (int)strlen(r) - 33, r + 32);
	data(40000, 0, a, 200);
	data(40000, 2, b, 210);
	data(40000, 32, c, 220);
	assert_int_equal(n_seen, 0);
	data(40000, (uint32_t)strlen(r) - 1, "\n", 230);
	assert_int_equal(n_seen, 1);
	assert_int_equal(seen[0].ts_us, 200);  /* the first byte's segment */
	assert_string_equal(seen[0].target, "/redirect?link=L1&l=R1&s=M1");
}

static void test_reordered(void **state)
{
	const char *r = REQ1;
	char a[32], b[32], c[128];

	start();
	syn(40000, 1000, 100);
	snprintf(a, sizeof(a), "%.20s", r);
	snprintf(b, sizeof(b), "%.20s", r + 20);
	snprintf(c, sizeof(c), "%s", r + 40);
	data(40000, 40, c, 150);
	data(40000, 20, b, 160);
	assert_int_equal(n_seen, 0);
	data(40000, 0, a, 170);
	assert_int_equal(n_seen, 1);
	assert_int_equal(seen[0].ts_us, 170);
	assert_string_equal(seen[0].ua, "UA-one");
	stats();
	assert_int_equal(st.ooo_segments, 2);
	assert_int_equal(st.holes, 0);
}

static void test_retransmission(void **state)
{
	const char *r = REQ1;
	char a[32];

	start();
	syn(40000, 1000, 100);
	syn(40000, 1000, 101);          /* retransmitted SYN: same flow */
	snprintf(a, sizeof(a), "%.20s", r);
	data(40000, 0, a, 200);
	data(40000, 0, a, 300);
	data(40000, 20, r + 20, 400);
	data(40000, 20, r + 20, 500);
	assert_int_equal(n_seen, 1);
	stats();
	assert_int_equal(st.flows_created, 1);
	assert_int_equal(st.retransmitted_bytes, strlen(r));
}

static void test_overlap_first_wins(void **state)
{
	start();
	syn(40000, 1000, 100);
	/* Delivered bytes win over a conflicting retransmission. */
	data(40000, 0, "GET /aaaa", 200);
	data(40000, 5, "bbbb HTTP/1.1\r\n", 210);
	/* Queued bytes win over a later overlapping segment. */
	data(40000, 26, "User-Agent: first\r\n\r\n", 220);
	data(40000, 20, "X: 1\r\nUser-Agent: SECOND\r\n\r\n", 230);
	assert_int_equal(n_seen, 1);
	assert_string_equal(seen[0].target, "/aaaa");
	assert_string_equal(seen[0].ua, "first");
	stats();
	assert_int_equal(st.overlap_conflicts, 1);
	assert_true(st.retransmitted_bytes >= 4 + 21);
}

static void test_pipelined_and_keepalive(void **state)
{
	char both[512];
	const char *r3 = REQ3;

	start();
	syn(40000, 1000, 100);
	snprintf(both, sizeof(both), "%s%s%.10s", REQ1, REQ2, r3);
	data(40000, 0, both, 200);
	assert_int_equal(n_seen, 2);
	data(40000, (uint32_t)strlen(both), r3 + 10, 300);
	assert_int_equal(n_seen, 3);
	assert_string_equal(seen[1].ua, "UA-two");
	assert_string_equal(seen[2].method, "HEAD");
	assert_int_equal(seen[2].ts_us, 200);
	stats();
	assert_int_equal(st.desyncs, 0);
}

static void test_bodies_keep_sync(void **state)
{
	/* The bodies hold request lines that must not be taken for requests. */
	const char *fake = "GET /fake HTTP/1.1\r\n\r\nabcd";
	char post[256], chunked[256];
	uint32_t off = 0;

	snprintf(post, sizeof(post), "POST /form HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(fake), fake);
	snprintf(chunked, sizeof(chunked), "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "%zx\r\n%s\r\n0\r\n\r\n", strlen(fake), fake);

	start();
	syn(40000, 1000, 100);
	data(40000, off, post, 200);
	off += (uint32_t)strlen(post);
	data(40000, off, REQ1, 210);
	off += (uint32_t)strlen(REQ1);
	data(40000, off, chunked, 220);
	off += (uint32_t)strlen(chunked);
	data(40000, off, REQ2, 230);
	assert_int_equal(n_seen, 4);
	assert_string_equal(seen[0].target, "/form");
	assert_string_equal(seen[1].ua, "UA-one");
	assert_string_equal(seen[2].target, "/up");
	assert_string_equal(seen[3].ua, "UA-two");
	stats();
	assert_int_equal(st.bodies_length, 1);
	assert_int_equal(st.bodies_chunked, 1);
	assert_int_equal(st.desyncs, 0);
}

/*
 * Regression (fuzz_flows): after bad chunk framing, parsing resumed at the
 * start of the segment, not at the bad byte, so a request line inside the
 * body was taken for a request when the body arrived in one segment.
 */
static void test_chunked_error_resync_independent_of_segments(void **state)
{
	const char *stream = "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			     "3\r\nGET /in-body HTTP/1.1\r\n\r\n" REQ1;
	uint32_t len = (uint32_t)strlen(stream);

	for (int split = 0; split < 2; split++) {
		start();
		syn(40000, 1000, 100);
		if (split) {
			for (uint32_t i = 0; i < len; i++) {
				char one[2] = { stream[i], 0 };

				data(40000, i, one, 200);
			}
		} else {
			data(40000, 0, stream, 200);
		}
		assert_int_equal(n_seen, 2);
		assert_string_equal(seen[0].target, "/up");
		assert_string_equal(seen[1].ua, "UA-one");
		stats();
		assert_int_equal(st.chunked_errors, 1);
		cs_flows_free(flows);
		flows = NULL;
	}
}

static void test_fin_rst_cleanup(void **state)
{
	start();
	syn(40000, 1000, 100);
	data(40000, 0, REQ1, 200);
	fin(40000, (uint32_t)strlen(REQ1), 300);
	stats();
	assert_int_equal(st.flows_active, 0);
	assert_int_equal(st.flows_closed_fin, 1);

	/* A FIN above a hole waits for the hole; the flow closes when it fills. */
	syn(40001, 1000, 400);
	data(40001, 20, REQ1 + 20, 410);
	fin(40001, (uint32_t)strlen(REQ1), 420);
	stats();
	assert_int_equal(st.flows_active, 1);
	char a[32];
	snprintf(a, sizeof(a), "%.20s", REQ1);
	data(40001, 0, a, 430);
	stats();
	assert_int_equal(n_seen, 2);
	assert_int_equal(st.flows_active, 0);
	assert_int_equal(st.flows_closed_fin, 2);

	/* RST gives the hole up: what follows it is still parsed. */
	syn(40002, 1000, 500);
	data(40002, 0, "GET /lost", 510);
	data(40002, 40, REQ2, 520);
	seg_full(10, 40002, 1001 + 40 + (uint32_t)strlen(REQ2), CS_TCP_RST, NULL, 0, 0, 530);
	stats();
	assert_int_equal(n_seen, 3);
	assert_string_equal(seen[2].ua, "UA-two");
	assert_int_equal(st.flows_closed_rst, 1);
	assert_int_equal(st.flows_active, 0);
	assert_int_equal(st.requests_lost, 1);
	assert_int_equal(st.holes, 1);
	assert_int_equal(st.mem_bytes, 1024 * sizeof(void *));  /* only the bucket array */
}

static void test_idle_timeout(void **state)
{
	cfg.idle_timeout_us = 1000;
	start();
	syn(40000, 1000, 100);
	data(40000, 0, "GET /half HTTP/1.1\r\n", 200);
	cs_flows_advance(flows, 1199);
	stats();
	assert_int_equal(st.flows_active, 1);
	cs_flows_advance(flows, 1200);
	stats();
	assert_int_equal(st.flows_active, 0);
	assert_int_equal(st.flows_timed_out, 1);
	assert_int_equal(st.requests_incomplete, 1);
	assert_int_equal(n_seen, 0);
}

static void test_header_budget(void **state)
{
	char big[1200];

	cfg.header_budget = 512;
	start();
	syn(40000, 1000, 100);
	snprintf(big, sizeof(big), "GET /big HTTP/1.1\r\nCookie: %0900d\r\n\r\n", 0);
	data(40000, 0, big, 200);
	data(40000, (uint32_t)strlen(big), REQ1, 300);
	assert_int_equal(n_seen, 1);
	assert_string_equal(seen[0].ua, "UA-one");
	stats();
	assert_int_equal(st.requests_over_budget, 1);
	assert_true(st.mem_peak < 4096 + 1024 * sizeof(void *) + 512);
}

static void test_ooo_cap(void **state)
{
	char filler[300];
	uint32_t off = 0;

	cfg.ooo_cap = 520;             /* data plus per-range bookkeeping */
	start();
	syn(40000, 1000, 100);
	/* The first 10 bytes never arrive; the third segment above the hole overflows. */
	memset(filler, 'x', sizeof(filler));
	filler[sizeof(filler) - 1] = '\0';
	filler[sizeof(filler) - 2] = '\n';
	off = 10;
	data(40000, off, filler, 200);
	off += (uint32_t)strlen(filler);
	data(40000, off, REQ1, 210);
	off += (uint32_t)strlen(REQ1);
	assert_int_equal(n_seen, 0);
	data(40000, off, REQ2, 220);
	stats();
	assert_int_equal(st.ooo_cap_hits, 1);
	assert_int_equal(st.holes, 1);
	assert_int_equal(n_seen, 2);
	assert_string_equal(seen[0].ua, "UA-one");
	assert_string_equal(seen[1].ua, "UA-two");

	/* One-byte segments: the bookkeeping counts, not just the data. */
	syn(40001, 1000, 300);
	for (uint32_t i = 0; i < 100; i++)
		data(40001, 10 + 2 * i, "x", 300 + i);
	stats();
	assert_true(st.ooo_cap_hits > 2);
	assert_true(st.mem_bytes < 1024 * sizeof(void *) + 2 * 520 + 1024);
}

static void test_memcap_evicts_oldest(void **state)
{
	cfg.memcap = 1024 * sizeof(void *) + 20 * 1024;
	start();
	for (uint16_t i = 0; i < 100; i++) {
		syn(41000 + i, 1000, 100 + i);
		data(41000 + i, 0, "GET /partial HTTP/1.1\r\n", 100 + i);
	}
	stats();
	assert_true(st.flows_evicted > 0);
	assert_int_equal(st.flows_evicted + st.flows_active, 100);
	assert_true(st.mem_bytes <= cfg.memcap);
	assert_int_equal(st.requests_incomplete, st.flows_evicted);
	/* The newest flow survived and still completes its request. */
	data(41099, 23, "\r\n", 300);
	assert_int_equal(n_seen, 1);
	assert_string_equal(seen[0].target, "/partial");
}

static void test_truncated_capture(void **state)
{
	char seg[512];
	uint32_t len;

	start();
	syn(40000, 1000, 100);
	/* Request 1 loses its tail to truncation; request 2 starts the next segment. */
	snprintf(seg, sizeof(seg), "%s", REQ1);
	len = (uint32_t)strlen(seg);
	seg_full(10, 40000, 1001, CS_TCP_ACK, seg, 30, len, 200);
	data(40000, len, REQ2, 210);
	assert_int_equal(n_seen, 1);
	assert_string_equal(seen[0].ua, "UA-two");
	stats();
	assert_int_equal(st.truncated_segments, 1);
	assert_int_equal(st.requests_lost, 1);
	assert_int_equal(st.hole_bytes, len - 30);

	/* A hole inside a body of known length keeps the framing. */
	const char *post = "POST /p HTTP/1.1\r\nContent-Length: 100\r\n\r\n";
	uint32_t off = len + (uint32_t)strlen(REQ2);
	char body[101];
	memset(body, 'b', 100);
	body[100] = '\0';
	data(40000, off, post, 220);
	off += (uint32_t)strlen(post);
	seg_full(10, 40000, 1001 + off, CS_TCP_ACK, body, 10, 100, 230);
	off += 100;
	data(40000, off, REQ3, 240);
	assert_int_equal(n_seen, 3);
	assert_string_equal(seen[2].method, "HEAD");
	stats();
	assert_int_equal(st.desyncs, 0);
}

static void test_midstream_pickup(void **state)
{
	start();
	/* Starts at a request: parsed. */
	seg_full(10, 40000, 5000, CS_TCP_ACK, REQ1, (uint32_t)strlen(REQ1), (uint32_t)strlen(REQ1), 100);
	assert_int_equal(n_seen, 1);
	/*
	 * Starts inside a request (whose body may hold anything): request
	 * lines count from the next segment on.
	 */
	const char *tail = "ent: half\r\n\r\n" REQ3;
	uint32_t tail_len = (uint32_t)strlen(tail);
	seg_full(11, 40001, 9000, CS_TCP_ACK, tail, tail_len, tail_len, 200);
	assert_int_equal(n_seen, 1);
	seg_full(11, 40001, 9000 + tail_len, CS_TCP_ACK, REQ2, (uint32_t)strlen(REQ2),
		 (uint32_t)strlen(REQ2), 210);
	assert_int_equal(n_seen, 2);
	assert_string_equal(seen[1].ua, "UA-two");
	/* Bare ACKs and FINs of unknown flows create nothing. */
	seg_full(12, 40002, 1, CS_TCP_ACK, NULL, 0, 0, 300);
	seg_full(12, 40002, 1, CS_TCP_FIN, NULL, 0, 0, 300);
	stats();
	assert_int_equal(st.flows_midstream, 2);
	assert_int_equal(st.flows_created, 2);
}

static void test_desync_counted(void **state)
{
	start();
	syn(40000, 1000, 100);
	data(40000, 0, REQ1 "garbage here\r\n" REQ2, 200);
	assert_int_equal(n_seen, 2);
	stats();
	assert_int_equal(st.desyncs, 1);
	/* A malformed head is counted, and the next request is still found. */
	uint32_t off = (uint32_t)strlen(REQ1 "garbage here\r\n" REQ2);
	data(40000, off, "GET / HTTP/1.1\r\nbad header\r\n\r\n" REQ3, 300);
	assert_int_equal(n_seen, 3);
	stats();
	assert_int_equal(st.requests_malformed, 1);
}

static void test_proxy_protocol(void **state)
{
	uint8_t v2[64] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
			   0x21, 0x11, 0x00, 12, 203, 0, 113, 9, 198, 51, 100, 1, 0x30, 0x39, 0, 80 };

	start();
	syn(40000, 1000, 100);
	data(40000, 0, "PROXY TCP4 203.0.113.7 198.51.100.1 5555 80\r\n" REQ1 REQ2, 200);
	assert_int_equal(n_seen, 2);
	assert_string_equal(seen[0].client, "203.0.113.7");
	assert_string_equal(seen[1].client, "203.0.113.7");
	assert_string_equal(seen[0].peer, "192.0.2.10");
	assert_true(seen[0].proxied);

	/* v2, fed one byte at a time, then a request. */
	syn(40001, 1000, 300);
	memcpy(v2 + 28, "GET /v2 HTTP/1.1\r\n\r\n", 20);
	for (uint32_t i = 0; i < 48; i++) {
		char one[2] = { (char)v2[i], 0 };

		seg_full(10, 40001, 1001 + i, CS_TCP_ACK, one, 1, 1, 300 + i);
	}
	assert_int_equal(n_seen, 3);
	assert_string_equal(seen[2].target, "/v2");
	assert_string_equal(seen[2].client, "203.0.113.9");

	/* Broken PROXY header: counted, the connection is resynchronised. */
	syn(40002, 1000, 400);
	data(40002, 0, "PROXY TCP4 nonsense\r\n" REQ3, 400);
	assert_int_equal(n_seen, 4);
	assert_string_equal(seen[3].client, "192.0.2.10");
	stats();
	assert_int_equal(st.proxy_v1, 1);
	assert_int_equal(st.proxy_v2, 1);
	assert_int_equal(st.proxy_invalid, 1);
}

static void test_ipv6_and_wraparound(void **state)
{
	struct cs_segment s = { .dport = 80, .sport = 50000, .flags = CS_TCP_SYN, .seq = 0xfffffff0 };
	const char *r = REQ1;

	start();
	s.src.family = s.dst.family = 6;
	cs_addr_parse("2001:db8::5", &s.src);
	cs_addr_parse("2001:db8::1", &s.dst);
	cs_flows_segment(flows, &s);
	/* The request straddles the sequence number wrap, second half first. */
	s.flags = CS_TCP_ACK;
	s.seq = 0xfffffff1 + 20;
	s.data = (const uint8_t *)r + 20;
	s.len = s.captured = (uint32_t)strlen(r) - 20;
	s.ts_us = 10;
	cs_flows_segment(flows, &s);
	s.seq = 0xfffffff1;
	s.data = (const uint8_t *)r;
	s.len = s.captured = 20;
	s.ts_us = 20;
	cs_flows_segment(flows, &s);
	assert_int_equal(n_seen, 1);
	assert_string_equal(seen[0].client, "2001:db8::5");
	assert_int_equal(seen[0].ts_us, 20);
}

static void test_new_isn_replaces_flow(void **state)
{
	start();
	syn(40000, 1000, 100);
	data(40000, 0, "GET /old", 200);
	syn(40000, 777777, 300);
	seg_full(10, 40000, 777778, CS_TCP_ACK, REQ1, (uint32_t)strlen(REQ1), (uint32_t)strlen(REQ1), 400);
	assert_int_equal(n_seen, 1);
	stats();
	assert_int_equal(st.flows_replaced, 1);
	assert_int_equal(st.flows_active, 1);
	cs_flows_finish(flows);
	stats();
	assert_int_equal(st.flows_flushed, 1);
	assert_int_equal(st.flows_active, 0);
}

/*
 * Events of two CPUs: the first data segment overtook its SYN. The SYN joins
 * the flow instead of replacing it, so the request's rest still completes it.
 */
static void test_late_syn_joins_flow(void **state)
{
	start();
	data(40000, 0, "GET /redirect?link=L1&l=R1&s=M1 HTTP/1.1\r\n", 200);
	syn(40000, 1000, 100);
	data(40000, 42, "Host: t.example\r\nUser-Agent: UA-one\r\n\r\n", 210);
	assert_int_equal(n_seen, 1);
	assert_string_equal(seen[0].ua, "UA-one");
	stats();
	assert_int_equal(st.flows_replaced, 0);
	assert_int_equal(st.flows_created, 1);
	/* A SYN that does not precede the flow's first byte is a new connection. */
	syn(40000, 5000, 300);
	stats();
	assert_int_equal(st.flows_replaced, 1);
}

static void test_event_conversion(void **state)
{
	static struct cs_event ev;
	struct cs_segment s;

	ev.family = 4;
	memcpy(ev.saddr, (uint8_t[]){ 192, 0, 2, 1 }, 4);
	memcpy(ev.daddr, (uint8_t[]){ 192, 0, 2, 2 }, 4);
	ev.sport = 1234;
	ev.dport = 80;
	ev.seq = 42;
	ev.tcp_flags = CS_TCP_ACK;
	ev.payload_len = 3000;
	ev.captured_len = CS_CAPTURE_BYTES;
	cs_segment_from_event(&ev, 99, &s);
	assert_int_equal(s.ts_us, 99);
	assert_int_equal(s.src.family, 4);
	assert_int_equal(s.src.bytes[3], 1);
	assert_int_equal(s.dst.bytes[3], 2);
	assert_int_equal(s.len, 3000);
	assert_int_equal(s.captured, CS_CAPTURE_BYTES);
	assert_ptr_equal(s.data, ev.payload);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_single_segment),
		T(test_split_request),
		T(test_reordered),
		T(test_retransmission),
		T(test_overlap_first_wins),
		T(test_pipelined_and_keepalive),
		T(test_bodies_keep_sync),
		T(test_chunked_error_resync_independent_of_segments),
		T(test_fin_rst_cleanup),
		T(test_idle_timeout),
		T(test_header_budget),
		T(test_ooo_cap),
		T(test_memcap_evicts_oldest),
		T(test_truncated_capture),
		T(test_midstream_pickup),
		T(test_desync_counted),
		T(test_proxy_protocol),
		T(test_ipv6_and_wraparound),
		T(test_new_isn_replaces_flow),
		T(test_late_syn_joins_flow),
		T(test_event_conversion),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
