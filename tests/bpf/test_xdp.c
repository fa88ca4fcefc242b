// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The XDP program under BPF_PROG_TEST_RUN: verdicts, counters, provider
 * statistics and ring-buffer events for fixture packets. Needs root.
 */
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "clicksieve.skel.h"
#include "packet_parse.h"
#include "source_xdp.h"
#include "bpf/packet_fixtures.h"

_Static_assert(sizeof(struct cs_event) == 1568, "cs_event layout changed");
_Static_assert(offsetof(struct cs_event, payload) == 64, "cs_event header changed");
_Static_assert(sizeof(struct cs_lpm_v4) == 8, "cs_lpm_v4 layout changed");
_Static_assert(sizeof(struct cs_lpm_v6) == 20, "cs_lpm_v6 layout changed");
_Static_assert(sizeof(struct cs_range_value) == 4, "cs_range_value layout changed");
_Static_assert(sizeof(struct cs_provider_stats) == 24, "cs_provider_stats layout changed");
_Static_assert(sizeof(struct cs_provider_name) == CS_PROVIDER_NAME_LEN, "provider name");
_Static_assert(sizeof(struct cs_counters) == 8 * CS_CNT__MAX, "cs_counters layout changed");
_Static_assert(CS_CNT__MAX == 15, "counter indexes are documented in the README (Kernel maps)");

#define TRACKED_PORT  80
#define LO_IFINDEX    1
#define MAX_EVENTS    (2 * CS_EVENT_BATCH)

struct fixture {
	struct clicksieve *skel;
	struct ring_buffer *ring;
	struct cs_event events[MAX_EVENTS];
	size_t sizes[MAX_EVENTS];       /* record sizes; a batched event's is its header */
	int n_events;
	int n_records;
	int ncpus;
	struct cs_counters before;
};

static __u8 frame[FX_MAX_FRAME];

#define HEADER_BYTES offsetof(struct cs_event, payload)

/* Keeps each event; a malformed record fails the drain. */
static int keep_event(void *ctx, const struct cs_event *e, size_t size)
{
	struct fixture *f = ctx;

	if (f->n_events == MAX_EVENTS)
		return -1;
	memset(&f->events[f->n_events], 0, sizeof(*e));
	memcpy(&f->events[f->n_events], e, size);
	f->sizes[f->n_events++] = size;
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct fixture *f = ctx;

	f->n_records++;
	return cs_event_record_split(data, size, keep_event, f);
}

static int open_program(struct fixture *f, __u32 ringbuf_bytes)
{
	f->ncpus = libbpf_num_possible_cpus();
	f->skel = clicksieve__open();
	if (!f->skel)
		return -1;
	f->skel->rodata->tracked_ports[TRACKED_PORT / 64] |= 1ull << (TRACKED_PORT % 64);
	if (ringbuf_bytes && bpf_map__set_max_entries(f->skel->maps.events, ringbuf_bytes))
		return -1;
	if (clicksieve__load(f->skel))
		return -1;
	f->ring = ring_buffer__new(bpf_map__fd(f->skel->maps.events), on_record, f, NULL);
	return f->ring ? 0 : -1;
}

static int setup_sized(void **state, __u32 ringbuf_bytes)
{
	struct fixture *f = calloc(1, sizeof(*f));
	cpu_set_t one;

	/*
	 * Events without payload wait in per-CPU batches: on one CPU, every
	 * test run's events share a batch and keep their order.
	 */
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		return -1;

	*state = f;
	if (!f || open_program(f, ringbuf_bytes)) {
		fprintf(stderr, "cannot load clicksieve XDP program (root needed)\n");
		return -1;
	}
	return 0;
}

static int setup(void **state)
{
	return setup_sized(state, 0);
}

/* A ring buffer that holds two events. */
static int setup_small_ring(void **state)
{
	return setup_sized(state, 4096);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f) {
		ring_buffer__free(f->ring);
		clicksieve__destroy(f->skel);
		free(f);
	}
	return 0;
}

static struct cs_counters counters(struct fixture *f)
{
	struct cs_counters sum;

	assert_int_equal(cs_counters_read(bpf_map__fd(f->skel->maps.counters), &sum), 0);
	return sum;
}

static struct cs_provider_stats provider(struct fixture *f, __u16 id)
{
	struct cs_provider_stats sum;

	assert_int_equal(cs_provider_stats_read(bpf_map__fd(f->skel->maps.provider_stats), id,
						&sum), 0);
	return sum;
}

static void snapshot(struct fixture *f)
{
	f->before = counters(f);
}

static __u64 delta(struct fixture *f, __u32 index)
{
	return counters(f).v[index] - f->before.v[index];
}

/* Runs one frame through the program; the verdict must be XDP_PASS. */
static void run(struct fixture *f, const void *data, size_t len)
{
	struct xdp_md ctx_in = { .data_end = len, .ingress_ifindex = LO_IFINDEX };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = data,
		.data_size_in = len,
		.ctx_in = &ctx_in,
		.ctx_size_in = sizeof(ctx_in),
		.repeat = 1,
	);
	int err = bpf_prog_test_run_opts(bpf_program__fd(f->skel->progs.clicksieve_xdp), &opts);

	assert_int_equal(err, 0);
	assert_int_equal(opts.retval, XDP_PASS);
}

/* What is in the ring now, without waiting for batches. */
static int consume_now(struct fixture *f)
{
	f->n_events = 0;
	f->n_records = 0;
	assert_true(ring_buffer__consume(f->ring) >= 0);
	return f->n_events;
}

/* Every event so far: waits out the batch timer first. */
static int drain(struct fixture *f)
{
	struct timespec wait = { .tv_nsec = 3 * CS_EVENT_BATCH_DELAY_NS };

	nanosleep(&wait, NULL);
	return consume_now(f);
}

static void insert_v4_range(struct fixture *f, const char *addr, __u32 plen,
			    __u16 provider_id, __u16 flags)
{
	struct cs_lpm_v4 key = { .prefixlen = plen };
	struct cs_range_value value = { .provider_id = provider_id, .flags = flags };

	assert_int_equal(inet_pton(AF_INET, addr, key.addr), 1);
	assert_int_equal(bpf_map__update_elem(f->skel->maps.ranges_v4, &key, sizeof(key),
					      &value, sizeof(value), BPF_ANY), 0);
}

static void insert_v6_range(struct fixture *f, const char *addr, __u32 plen,
			    __u16 provider_id, __u16 flags)
{
	struct cs_lpm_v6 key = { .prefixlen = plen };
	struct cs_range_value value = { .provider_id = provider_id, .flags = flags };

	assert_int_equal(inet_pton(AF_INET6, addr, key.addr), 1);
	assert_int_equal(bpf_map__update_elem(f->skel->maps.ranges_v6, &key, sizeof(key),
					      &value, sizeof(value), BPF_ANY), 0);
}

/*
 * The counters are one struct per CPU at key 0 (README.md, Kernel maps), and
 * the reader sums every CPU's copy of every counter.
 */
static void test_counters_layout(void **state)
{
	struct fixture *f = *state;
	const struct bpf_map *map = f->skel->maps.counters;
	struct cs_counters values[f->ncpus], sum;
	__u32 key = 0;
	int cpu, i;

	assert_int_equal(bpf_map__type(map), BPF_MAP_TYPE_PERCPU_ARRAY);
	assert_int_equal(bpf_map__max_entries(map), 1);
	assert_int_equal(bpf_map__key_size(map), sizeof(__u32));
	assert_int_equal(bpf_map__value_size(map), sizeof(struct cs_counters));

	for (cpu = 0; cpu < f->ncpus; cpu++)
		for (i = 0; i < CS_CNT__MAX; i++)
			values[cpu].v[i] = (cpu + 1) * 1000 + i;
	assert_int_equal(bpf_map__update_elem(map, &key, sizeof(key), values, sizeof(values),
					      BPF_ANY), 0);
	sum = counters(f);
	for (i = 0; i < CS_CNT__MAX; i++)
		assert_int_equal(sum.v[i], 1000ull * f->ncpus * (f->ncpus + 1) / 2 + i * f->ncpus);

	/* A packet moves its CPU's copy, and the sum sees it. */
	run(f, frame, fx_build(&(struct fx_desc){ .family = 4, .l4_proto = 17 }, frame, NULL));
	assert_int_equal(counters(f).v[CS_CNT_PACKETS], sum.v[CS_CNT_PACKETS] + 1);
	assert_int_equal(counters(f).v[CS_CNT_NON_TCP], sum.v[CS_CNT_NON_TCP] + 1);
	assert_int_equal(counters(f).v[CS_CNT_SYNS], sum.v[CS_CNT_SYNS]);
}

/* Every fixture: passed, counted once under the parser's verdict. */
static void test_fixture_counters(void **state)
{
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < FX_NUM_CASES; i++) {
		const struct fx_case *c = &fx_cases[i];
		size_t len = fx_build(&c->desc, frame, NULL);
		__u32 k;

		snapshot(f);
		run(f, frame, len);
		/* events count once written to the ring, a SYN's with its batch */
		assert_int_equal(drain(f), c->want == 0);
		assert_int_equal(delta(f, CS_CNT_PACKETS), 1);
		assert_int_equal(delta(f, CS_CNT_BYTES), len);
		for (k = CS_CNT_NON_IP; k < CS_CNT__MAX; k++) {
			__u64 want = k == (__u32)c->want;

			if (k == CS_CNT_SYNS)
				want = c->want == 0 && c->desc.tcp_flags == CS_TCP_SYN;
			else if (k == CS_CNT_EVENTS)
				want = c->want == 0;
			if (delta(f, k) != want)
				fail_msg("%s: counter %u moved by %llu, want %llu", c->name, k,
					 (unsigned long long)delta(f, k), (unsigned long long)want);
		}
	}
}

static void test_syn_events(void **state)
{
	struct fixture *f = *state;
	struct fx_desc v4 = { .family = 4, .vlan_tags = 2, .tcp_flags = CS_TCP_SYN, .seq = 42,
			      .sport = 51000, .saddr = "192.0.2.33", .daddr = "198.51.100.80" };
	struct fx_desc v6 = { .family = 6, .ext = { 0 }, .ext_count = 1, .tcp_flags = CS_TCP_SYN,
			      .seq = 43, .saddr = "2001:db8::33", .daddr = "2001:db8:1::80" };
	__u8 s4[16] = {}, d4[16] = {}, s6[16], d6[16];
	struct cs_event *e;

	inet_pton(AF_INET, v4.saddr, s4);
	inet_pton(AF_INET, v4.daddr, d4);
	inet_pton(AF_INET6, v6.saddr, s6);
	inet_pton(AF_INET6, v6.daddr, d6);
	run(f, frame, fx_build(&v4, frame, NULL));
	run(f, frame, fx_build(&v6, frame, NULL));
	assert_int_equal(drain(f), 2);

	e = &f->events[0];
	assert_int_equal(f->sizes[0], HEADER_BYTES);
	assert_int_equal(e->kind, CS_EV_SYN);
	assert_int_equal(e->family, 4);
	assert_int_equal(e->sport, 51000);
	assert_int_equal(e->dport, TRACKED_PORT);
	assert_int_equal(e->seq, 42);
	assert_int_equal(e->tcp_flags, CS_TCP_SYN);
	assert_int_equal(e->ifindex, LO_IFINDEX);
	assert_int_equal(e->payload_len, 0);
	assert_int_equal(e->captured_len, 0);
	assert_int_equal(e->ev_flags, CS_EVF_BATCHED);
	assert_int_equal(e->provider_id, 0);
	assert_true(e->ts_ns > 0);
	assert_memory_equal(e->saddr, s4, 16);
	assert_memory_equal(e->daddr, d4, 16);

	e = &f->events[1];
	assert_int_equal(e->kind, CS_EV_SYN);
	assert_int_equal(e->family, 6);
	assert_int_equal(e->seq, 43);
	assert_memory_equal(e->saddr, s6, 16);
	assert_memory_equal(e->daddr, d6, 16);
	assert_true(e->ts_ns >= f->events[0].ts_ns);
}

static void test_payload_event(void **state)
{
	struct fixture *f = *state;
	struct fx_desc d = { .family = 4, .vlan_tags = 1, .ipv4_opts_len = 12, .tcp_opts_len = 12,
			     .tcp_flags = CS_TCP_ACK | CS_TCP_PSH, .seq = 0xdeadbeef,
			     .sport = 50123, .payload = fx_request,
			     .payload_len = sizeof(fx_request) - 1, .pad_to = 0 };
	struct cs_event *e;

	snapshot(f);
	run(f, frame, fx_build(&d, frame, NULL));
	assert_int_equal(drain(f), 1);
	e = &f->events[0];
	assert_int_equal(f->sizes[0], 256);     /* the smallest record class that holds it */
	assert_int_equal(e->kind, CS_EV_PAYLOAD);
	assert_int_equal(e->seq, 0xdeadbeef);
	assert_int_equal(e->sport, 50123);
	assert_int_equal(e->tcp_flags, CS_TCP_ACK | CS_TCP_PSH);
	assert_int_equal(e->ev_flags, 0);
	assert_int_equal(e->payload_len, d.payload_len);
	assert_int_equal(e->captured_len, d.payload_len);
	assert_memory_equal(e->payload, fx_request, d.payload_len);
	assert_int_equal(delta(f, CS_CNT_EVENTS), 1);
	assert_int_equal(delta(f, CS_CNT_SYNS), 0);
	assert_int_equal(delta(f, CS_CNT_PAYLOAD_TRUNCATED), 0);
}

/* Ethernet padding after a short segment is not payload. */
static void test_padding_is_not_payload(void **state)
{
	struct fixture *f = *state;
	struct fx_desc d = { .family = 4, .tcp_flags = CS_TCP_ACK | CS_TCP_PSH,
			     .payload = "GET", .payload_len = 3, .pad_to = 64 };

	run(f, frame, fx_build(&d, frame, NULL));
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->events[0].payload_len, 3);
	assert_int_equal(f->events[0].captured_len, 3);
	assert_memory_equal(f->events[0].payload, "GET", 3);
}

static void test_long_payload_truncated(void **state)
{
	struct fixture *f = *state;
	static char payload[2000];
	struct fx_desc d = { .family = 6, .tcp_flags = CS_TCP_ACK, .payload = payload,
			     .payload_len = sizeof(payload) };
	size_t i;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = 'a' + i % 26;
	snapshot(f);
	run(f, frame, fx_build(&d, frame, NULL));
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->sizes[0], HEADER_BYTES + CS_CAPTURE_BYTES);
	assert_int_equal(f->events[0].payload_len, sizeof(payload));
	assert_int_equal(f->events[0].captured_len, CS_CAPTURE_BYTES);
	assert_int_equal(f->events[0].ev_flags, CS_EVF_TRUNCATED);
	assert_memory_equal(f->events[0].payload, payload, CS_CAPTURE_BYTES);
	assert_int_equal(delta(f, CS_CNT_PAYLOAD_TRUNCATED), 1);
}

/* Each payload goes whole into the smallest record class that holds it. */
static void test_record_classes(void **state)
{
	struct fixture *f = *state;
	static const struct { size_t payload, record; } classes[] = {
		{ 1, 256 }, { 192, 256 }, { 193, 512 }, { 448, 512 }, { 449, 1024 },
		{ 960, 1024 }, { 961, HEADER_BYTES + CS_CAPTURE_BYTES },
		{ CS_CAPTURE_BYTES, HEADER_BYTES + CS_CAPTURE_BYTES },
	};
	static char payload[CS_CAPTURE_BYTES];
	size_t i;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = 'A' + i % 26;
	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		struct fx_desc d = { .family = 6, .tcp_flags = CS_TCP_ACK, .payload = payload,
				     .payload_len = classes[i].payload };

		run(f, frame, fx_build(&d, frame, NULL));
		assert_int_equal(drain(f), 1);
		assert_int_equal(f->sizes[0], classes[i].record);
		assert_int_equal(f->events[0].captured_len, classes[i].payload);
		assert_int_equal(f->events[0].ev_flags, 0);
		assert_memory_equal(f->events[0].payload, payload, classes[i].payload);
	}
}

static void test_fin_rst_events(void **state)
{
	struct fixture *f = *state;
	struct fx_desc fin = { .family = 4, .tcp_flags = CS_TCP_FIN | CS_TCP_ACK, .seq = 5 };
	struct fx_desc rst = { .family = 6, .tcp_flags = CS_TCP_RST, .seq = 6 };
	struct fx_desc ack = { .family = 4, .tcp_flags = CS_TCP_ACK, .seq = 7 };
	struct fx_desc synack = { .family = 4, .tcp_flags = CS_TCP_SYN | CS_TCP_ACK, .seq = 8 };

	snapshot(f);
	run(f, frame, fx_build(&fin, frame, NULL));
	run(f, frame, fx_build(&ack, frame, NULL));
	run(f, frame, fx_build(&synack, frame, NULL));
	run(f, frame, fx_build(&rst, frame, NULL));
	assert_int_equal(drain(f), 2);
	assert_int_equal(f->events[0].kind, CS_EV_FIN);
	assert_int_equal(f->events[0].seq, 5);
	assert_int_equal(f->events[1].kind, CS_EV_RST);
	assert_int_equal(f->events[1].seq, 6);
	assert_int_equal(delta(f, CS_CNT_SYNS), 0);
}

static void test_untracked_port(void **state)
{
	struct fixture *f = *state;
	__u16 flags[] = { CS_TCP_SYN, CS_TCP_ACK | CS_TCP_PSH, CS_TCP_FIN, CS_TCP_RST };
	struct cs_provider_stats unlisted = provider(f, 0);
	size_t i;

	snapshot(f);
	for (i = 0; i < 4; i++) {
		struct fx_desc d = { .family = 4 + 2 * (i % 2), .dport = 8080,
				     .tcp_flags = flags[i], .payload = "GET / HTTP/1.1\r\n",
				     .payload_len = 16 };

		run(f, frame, fx_build(&d, frame, NULL));
	}
	assert_int_equal(drain(f), 0);
	assert_int_equal(delta(f, CS_CNT_EVENTS), 0);
	/* The SYN is still counted, for the unlisted provider. */
	assert_int_equal(delta(f, CS_CNT_SYNS), 1);
	assert_int_equal(provider(f, 0).syns, unlisted.syns + 1);
	assert_int_equal(provider(f, 0).event_packets, unlisted.event_packets);
}

static void test_scanner_range(void **state)
{
	struct fixture *f = *state;
	struct fx_desc syn_other_port = { .family = 4, .saddr = "203.0.113.77", .dport = 443,
					  .tcp_flags = CS_TCP_SYN };
	struct fx_desc request = { .family = 4, .saddr = "203.0.113.77",
				   .tcp_flags = CS_TCP_ACK | CS_TCP_PSH, .payload = fx_request,
				   .payload_len = sizeof(fx_request) - 1 };
	struct fx_desc weak6 = { .family = 6, .saddr = "2001:db8:5:1::9",
				 .tcp_flags = CS_TCP_SYN };
	struct fx_desc outside6 = { .family = 6, .saddr = "2001:db8:6::9",
				    .tcp_flags = CS_TCP_SYN };
	struct cs_provider_stats s8;
	size_t request_len;

	insert_v4_range(f, "203.0.113.0", 24, 7, 0);
	insert_v4_range(f, "203.0.113.64", 26, 8, 0);   /* longest prefix wins */
	insert_v6_range(f, "2001:db8:5::", 48, 9, CS_RANGE_WEAK);

	run(f, frame, fx_build(&syn_other_port, frame, NULL));
	request_len = fx_build(&request, frame, NULL);
	run(f, frame, request_len);
	run(f, frame, fx_build(&weak6, frame, NULL));
	run(f, frame, fx_build(&outside6, frame, NULL));

	assert_int_equal(drain(f), 3);
	assert_int_equal(f->events[0].kind, CS_EV_PAYLOAD);
	assert_int_equal(f->events[0].provider_id, 8);
	assert_int_equal(f->events[1].provider_id, 9);
	assert_int_equal(f->events[1].range_flags, CS_RANGE_WEAK);
	assert_int_equal(f->events[2].provider_id, 0);

	assert_int_equal(provider(f, 7).syns, 0);
	s8 = provider(f, 8);
	assert_int_equal(s8.syns, 1);
	assert_int_equal(s8.event_packets, 1);
	assert_int_equal(s8.bytes, request_len);
	assert_int_equal(provider(f, 9).syns, 1);
	assert_int_equal(provider(f, 9).event_packets, 1);
}

/* Cut a frame at every offset the kernel accepts (>= ETH_HLEN). */
static void check_every_cut(struct fixture *f, const struct fx_desc *d)
{
	struct fx_layout lay;
	static __u8 full[FX_MAX_FRAME];
	size_t len = fx_build(d, full, &lay), cut;

	for (cut = CS_ETH_HLEN; cut < len; cut++) {
		int want = fx_truncation_error(d, &lay, cut);

		snapshot(f);
		memcpy(frame, full, cut);
		run(f, frame, cut);
		if (delta(f, want) != 1 || delta(f, CS_CNT_EVENTS) != 0 ||
		    delta(f, CS_CNT_SYNS) != 0)
			fail_msg("cut at %zu of %zu: counter %d moved by %llu, events %llu",
				 cut, len, want, (unsigned long long)delta(f, want),
				 (unsigned long long)delta(f, CS_CNT_EVENTS));
	}
	assert_int_equal(drain(f), 0);
}

static void test_truncated_frames(void **state)
{
	struct fixture *f = *state;
	struct fx_desc v4 = { .family = 4, .vlan_tags = 2, .ipv4_opts_len = 8, .tcp_opts_len = 12,
			      .tcp_flags = CS_TCP_SYN, .payload = fx_request, .payload_len = 40 };
	struct fx_desc v6 = { .family = 6, .vlan_tags = 1, .ext = { 0, 44, 51, 43, 60 },
			      .ext_count = 5, .tcp_opts_len = 12, .tcp_flags = CS_TCP_SYN,
			      .payload = fx_request, .payload_len = 40 };

	check_every_cut(f, &v4);
	check_every_cut(f, &v6);
}

static __u64 clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Records with payload carry the precise clock; bare SYN/FIN/RST the coarse
 * one, which equals CLOCK_MONOTONIC_COARSE read in the same tick.
 */
static void test_event_clocks(void **state)
{
	struct fixture *f = *state;
	struct fx_desc syn = { .family = 4, .tcp_flags = CS_TCP_SYN };
	struct fx_desc fin = { .family = 6, .tcp_flags = CS_TCP_FIN | CS_TCP_ACK };
	struct fx_desc request = { .family = 4, .tcp_flags = CS_TCP_ACK | CS_TCP_PSH,
				   .payload = fx_request, .payload_len = sizeof(fx_request) - 1 };
	__u64 before, after, coarse;
	int same_tick = 0, tries;

	before = clock_ns(CLOCK_MONOTONIC);
	run(f, frame, fx_build(&request, frame, NULL));
	after = clock_ns(CLOCK_MONOTONIC);
	assert_int_equal(drain(f), 1);
	assert_in_range(f->events[0].ts_ns, before, after);

	for (tries = 0; tries < 100 && same_tick < 2; tries++) {
		struct fx_desc *d = same_tick ? &fin : &syn;

		coarse = clock_ns(CLOCK_MONOTONIC_COARSE);
		run(f, frame, fx_build(d, frame, NULL));
		after = clock_ns(CLOCK_MONOTONIC_COARSE);
		assert_int_equal(drain(f), 1);
		if (coarse != after)
			continue;       /* a tick in between: try again */
		assert_int_equal(f->events[0].ts_ns, coarse);
		same_tick++;
	}
	assert_int_equal(same_tick, 2);
}

/* Ready to read without waiting: what an epoll waiter would be woken for. */
static int ring_ready(struct fixture *f)
{
	return ring_buffer__poll(f->ring, 0);
}

/*
 * The program wakes the reader for the first event of a CPU and then every
 * CS_EVENTS_WAKEUP_EVERY-th; events in between wait for the reader's timer.
 * (setup keeps the test on one CPU: the counters that pick wakeups are per CPU.)
 */
static void test_wakeup_every(void **state)
{
	struct fixture *f = *state;
	struct fx_desc request = { .family = 4, .tcp_flags = CS_TCP_ACK | CS_TCP_PSH,
				   .payload = fx_request, .payload_len = sizeof(fx_request) - 1 };
	size_t len = fx_build(&request, frame, NULL);
	int i;

	run(f, frame, len);
	assert_int_equal(ring_ready(f), 1);
	/* Level-triggered epoll looks once more, finds it empty, and forgets it. */
	assert_int_equal(ring_ready(f), 0);

	for (i = 1; i < CS_EVENTS_WAKEUP_EVERY; i++) {
		run(f, frame, len);
		if (ring_ready(f) != 0)
			fail_msg("woken by event %d of %d", i + 1, CS_EVENTS_WAKEUP_EVERY);
		assert_int_equal(consume_now(f), 1);
	}
	run(f, frame, len);
	f->n_events = 0;
	assert_int_equal(ring_ready(f), 1);
}

/*
 * Events without payload wait in the CPU's batch: written as one record
 * when CS_EVENT_BATCH are there, before the CPU's next payload event, or by
 * the timer CS_EVENT_BATCH_DELAY_NS after the first.
 */
static void test_syn_batches(void **state)
{
	struct fixture *f = *state;
	struct fx_desc syn = { .family = 4, .tcp_flags = CS_TCP_SYN };
	struct fx_desc request = { .family = 4, .tcp_flags = CS_TCP_ACK | CS_TCP_PSH, .seq = 99,
				   .payload = fx_request, .payload_len = sizeof(fx_request) - 1 };
	int i;

	snapshot(f);
	syn.seq = 1;
	run(f, frame, fx_build(&syn, frame, NULL));
	assert_int_equal(consume_now(f), 0);
	assert_int_equal(delta(f, CS_CNT_EVENTS), 0);
	/* the timer */
	assert_int_equal(drain(f), 1);
	assert_int_equal(f->events[0].seq, 1);
	assert_int_equal(delta(f, CS_CNT_EVENTS), 1);

	/* a full batch: one record, in order, at once */
	for (i = 0; i < CS_EVENT_BATCH; i++) {
		syn.seq = 100 + i;
		run(f, frame, fx_build(&syn, frame, NULL));
	}
	assert_int_equal(consume_now(f), CS_EVENT_BATCH);
	assert_int_equal(f->n_records, 1);
	for (i = 0; i < CS_EVENT_BATCH; i++) {
		assert_int_equal(f->events[i].seq, 100 + i);
		assert_int_equal(f->events[i].kind, CS_EV_SYN);
		assert_int_equal(f->events[i].ev_flags, CS_EVF_BATCHED);
	}

	/* a payload event sends the batch ahead of itself */
	syn.seq = 7;
	run(f, frame, fx_build(&syn, frame, NULL));
	syn.seq = 8;
	run(f, frame, fx_build(&syn, frame, NULL));
	run(f, frame, fx_build(&request, frame, NULL));
	assert_int_equal(consume_now(f), 3);
	assert_int_equal(f->n_records, 2);
	assert_int_equal(f->events[0].seq, 7);
	assert_int_equal(f->events[1].seq, 8);
	assert_int_equal(f->events[2].kind, CS_EV_PAYLOAD);
	assert_int_equal(f->events[2].seq, 99);
	assert_true(f->events[2].ts_ns >= f->events[1].ts_ns);
	assert_int_equal(delta(f, CS_CNT_EVENTS), 1 + CS_EVENT_BATCH + 3);
	assert_int_equal(delta(f, CS_CNT_EVENTS_DROPPED), 0);
}

/* Full-size records: two fit in the 4096-byte ring. */
static void test_full_ring_drops(void **state)
{
	struct fixture *f = *state;
	static char payload[1200];
	struct fx_desc d = { .family = 4, .tcp_flags = CS_TCP_ACK | CS_TCP_PSH,
			     .payload = payload, .payload_len = sizeof(payload) };
	size_t len = fx_build(&d, frame, NULL);
	int i;

	snapshot(f);
	for (i = 0; i < 5; i++)
		run(f, frame, len);
	assert_int_equal(delta(f, CS_CNT_EVENTS), 2);
	assert_int_equal(delta(f, CS_CNT_EVENTS_DROPPED), 3);
	assert_int_equal(drain(f), 2);

	/* Drained, it takes events again. */
	run(f, frame, len);
	assert_int_equal(drain(f), 1);
	assert_int_equal(delta(f, CS_CNT_EVENTS_DROPPED), 3);
}

/* A batch the full ring refuses counts each of its events as dropped. */
static void test_full_ring_drops_batch(void **state)
{
	struct fixture *f = *state;
	static char payload[1200];
	struct fx_desc big = { .family = 4, .tcp_flags = CS_TCP_ACK | CS_TCP_PSH,
			       .payload = payload, .payload_len = sizeof(payload) };
	struct fx_desc syn = { .family = 4, .tcp_flags = CS_TCP_SYN };
	size_t len = fx_build(&big, frame, NULL);
	int i;

	snapshot(f);
	for (i = 0; i < 2; i++)
		run(f, frame, len);
	len = fx_build(&syn, frame, NULL);
	for (i = 0; i < CS_EVENT_BATCH; i++)
		run(f, frame, len);
	assert_int_equal(delta(f, CS_CNT_EVENTS), 2);
	assert_int_equal(delta(f, CS_CNT_EVENTS_DROPPED), CS_EVENT_BATCH);
	assert_int_equal(drain(f), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_counters_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixture_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syn_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_payload_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_padding_is_not_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_payload_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_classes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fin_rst_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untracked_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scanner_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_ring_drops, setup_small_ring, teardown),
		cmocka_unit_test_setup_teardown(test_full_ring_drops_batch, setup_small_ring, teardown),
		cmocka_unit_test_setup_teardown(test_event_clocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wakeup_every, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syn_batches, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
