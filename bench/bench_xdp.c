// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-packet cost of the XDP program under BPF_PROG_TEST_RUN, side by side
 * in one run with its baselines (an empty XDP_PASS program; the same parser
 * plus one LPM lookup) and with probes that price its building blocks
 * (clock reads, ring-buffer writes, the counter lookup). A real range list
 * is loaded into the tries. Needs root.
 *
 * usage: bench_xdp [--repeat N] [--rounds N] [--only TEXT] RANGES_FILE
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_empty.skel.h"
#include "bench_lpm.skel.h"
#include "bench_parts.skel.h"
#include "clicksieve.skel.h"
#include "packet_parse.h"
#include "ranges.h"
#include "source_xdp.h"
#include "../tests/bpf/packet_fixtures.h"

#define TRACKED_PORT 80
/*
 * A ring larger than the daemon's, so that event cases run in few test runs
 * (each has a fixed cost of ~20 ms outside the timing: the XDP dispatcher
 * update waits for an RCU grace period). EVENT_CHUNK records of the request
 * case (264 bytes with the ring's header) fit with room to spare.
 */
#define BENCH_RING_BYTES (128u << 20)
#define EVENT_CHUNK      (1u << 18)

enum drain_mode {
	DRAIN_NONE,                     /* no events, or drops wanted */
	DRAIN_BETWEEN,                  /* consume between test runs, untimed */
	DRAIN_LIVE,                     /* a thread waits in epoll and consumes */
	DRAIN_FILL_FIRST,               /* fill the ring untimed, then time drops */
};

struct bench {
	struct bench_empty *empty;
	struct bench_lpm *lpm;
	struct bench_parts *parts;
	struct clicksieve *cs;
	struct ring_buffer *cs_ring;
	struct ring_buffer *parts_ring;
	atomic_ullong events_read;
	unsigned long repeat;
	int rounds;
	const char *only;               /* run only cases whose name holds this */
};

enum {
	CASE_EMPTY, CASE_LPM4, CASE_LPM6,
};

struct bench_case {
	const char *name;
	int prog_fd;
	struct ring_buffer *ring;       /* the ring the program writes, if any */
	struct fx_desc desc;
	enum drain_mode drain;
	int baseline;                   /* index of the case to subtract */
};

static int count_event(void *ctx, const struct cs_event *ev, size_t size)
{
	struct bench *b = ctx;

	atomic_fetch_add_explicit(&b->events_read, 1, memory_order_relaxed);
	return 0;
}

static int count_record(void *ctx, void *data, size_t size)
{
	return cs_event_record_split(data, size, count_event, ctx) < 0 ? -1 : 0;
}

/* The probes' records are bare, not events. */
static int count_probe_record(void *ctx, void *data, size_t size)
{
	struct bench *b = ctx;

	atomic_fetch_add_explicit(&b->events_read, 1, memory_order_relaxed);
	return 0;
}

static __u64 counter(struct bench *b, enum cs_counter index)
{
	struct cs_counters sum;

	if (cs_counters_read(bpf_map__fd(b->cs->maps.counters), &sum))
		return 0;
	return sum.v[index];
}

/*
 * Runs the frame repeat times; returns the kernel's time for the run in ns,
 * or -1. The kernel reports whole ns per packet and leaves out the time the
 * run was scheduled away; wall time would also count each run's fixed cost.
 */
static double run_chunk(int prog_fd, const void *frame, size_t len, __u32 repeat)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = frame,
		.data_size_in = len,
		.repeat = repeat,
	);

	if (bpf_prog_test_run_opts(prog_fd, &opts)) {
		fprintf(stderr, "bench_xdp: test run: %s\n", strerror(errno));
		return -1;
	}
	if (opts.retval != XDP_PASS) {
		fprintf(stderr, "bench_xdp: verdict %u, want XDP_PASS\n", opts.retval);
		return -1;
	}
	return (double)opts.duration * repeat;
}

struct live_consumer {
	struct ring_buffer *ring;
	atomic_int stop;
};

/* The daemon's way: sleep in epoll until the kernel wakes us, then consume. */
static void *consume_live(void *arg)
{
	struct live_consumer *lc = arg;

	while (!atomic_load(&lc->stop))
		ring_buffer__poll(lc->ring, 10);
	ring_buffer__consume(lc->ring);
	return NULL;
}

/*
 * Runs until the ring refuses a record, outside the timing. A chunk holds
 * at least 8 bytes of ring per packet, so a ring that is not full after
 * that many chunks never fills: the program writes no events.
 */
static int fill_ring(struct bench *b, const struct bench_case *c, const void *frame,
		     size_t len)
{
	__u64 dropped = counter(b, CS_CNT_EVENTS_DROPPED);
	unsigned chunks = 0;

	while (counter(b, CS_CNT_EVENTS_DROPPED) == dropped) {
		if (++chunks > BENCH_RING_BYTES / (8 * EVENT_CHUNK)) {
			fprintf(stderr, "bench_xdp: %s: the ring does not fill\n", c->name);
			return -1;
		}
		if (run_chunk(c->prog_fd, frame, len, EVENT_CHUNK) < 0)
			return -1;
	}
	return 0;
}

/* The baselines always run: every other case is printed against them. */
static int selected(const struct bench *b, const struct bench_case *c, size_t index)
{
	return index <= CASE_LPM6 || !b->only || strstr(c->name, b->only);
}

/* ns per packet over b->repeat packets, or -1. */
static double measure(struct bench *b, const struct bench_case *c)
{
	static __u8 frame[FX_MAX_FRAME];
	size_t len = fx_build(&c->desc, frame, NULL);
	struct live_consumer lc = { .ring = c->ring };
	__u32 chunk = c->drain == DRAIN_BETWEEN ? EVENT_CHUNK : b->repeat;
	unsigned long done = 0;
	pthread_t consumer;
	double total = 0;

	if (c->ring)
		ring_buffer__consume(c->ring);
	if (c->drain == DRAIN_FILL_FIRST && fill_ring(b, c, frame, len))
		return -1;
	if (c->drain == DRAIN_LIVE && pthread_create(&consumer, NULL, consume_live, &lc)) {
		fprintf(stderr, "bench_xdp: cannot start the consumer thread\n");
		return -1;
	}
	while (done < b->repeat) {
		double ns = run_chunk(c->prog_fd, frame, len, chunk);

		if (ns < 0)
			break;
		total += ns;
		done += chunk;
		if (c->drain == DRAIN_BETWEEN)
			ring_buffer__consume(c->ring);
	}
	if (c->drain == DRAIN_LIVE) {
		atomic_store(&lc.stop, 1);
		pthread_join(consumer, NULL);
	}
	if (c->ring)
		ring_buffer__consume(c->ring);
	return done < b->repeat ? -1 : total / done;
}

static int load_programs(struct bench *b)
{
	b->empty = bench_empty__open_and_load();
	b->lpm = bench_lpm__open_and_load();
	b->parts = bench_parts__open();
	b->cs = clicksieve__open();
	if (!b->empty || !b->lpm || !b->parts || !b->cs)
		goto fail;
	b->cs->rodata->tracked_ports[TRACKED_PORT / 64] |= 1ull << (TRACKED_PORT % 64);
	if (bpf_map__set_max_entries(b->cs->maps.events, BENCH_RING_BYTES) ||
	    bpf_map__set_max_entries(b->parts->maps.ring, BENCH_RING_BYTES) ||
	    clicksieve__load(b->cs) || bench_parts__load(b->parts))
		goto fail;
	b->cs_ring = ring_buffer__new(bpf_map__fd(b->cs->maps.events), count_record, b, NULL);
	b->parts_ring = ring_buffer__new(bpf_map__fd(b->parts->maps.ring), count_probe_record, b,
					 NULL);
	if (!b->cs_ring || !b->parts_ring)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "bench_xdp: cannot load the BPF programs (root needed)\n");
	return -1;
}

static int insert_range(struct bench *b, const struct cs_range *range)
{
	struct cs_range_value value = { .provider_id = range->provider_id,
					.flags = range->flags };
	int err;

	if (range->prefix.family == 4) {
		struct cs_lpm_v4 key = { .prefixlen = range->plen };

		memcpy(key.addr, range->prefix.bytes, sizeof(key.addr));
		err = bpf_map__update_elem(b->cs->maps.ranges_v4, &key, sizeof(key), &value,
					   sizeof(value), BPF_ANY);
		if (!err)
			err = bpf_map__update_elem(b->lpm->maps.ranges_v4, &key, sizeof(key), &value,
						   sizeof(value), BPF_ANY);
	} else {
		struct cs_lpm_v6 key = { .prefixlen = range->plen };

		memcpy(key.addr, range->prefix.bytes, sizeof(key.addr));
		err = bpf_map__update_elem(b->cs->maps.ranges_v6, &key, sizeof(key), &value,
					   sizeof(value), BPF_ANY);
		if (!err)
			err = bpf_map__update_elem(b->lpm->maps.ranges_v6, &key, sizeof(key), &value,
						   sizeof(value), BPF_ANY);
	}
	return err;
}

/* A host inside the middle range of one family, as text. */
static void pick_source(const struct cs_ranges *r, int family, char *out)
{
	size_t n4 = cs_ranges_count(r, 4), n6 = cs_ranges_count(r, 6);
	struct cs_addr host;

	host = cs_ranges_at(r, family == 4 ? n4 / 2 : n4 + n6 / 2)->prefix;
	host.bytes[family == 4 ? 3 : 15] |= 1;
	cs_addr_format(&host, out);
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts v in place. */
static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), compare_doubles);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Prints the table: min and median over the rounds in ns/packet, then the
 * case against the empty program and against its baseline, each the median
 * over rounds of a ratio or difference taken within the round: cases of one
 * round run back to back, so the other load on the machine mostly cancels.
 */
static int run_cases(struct bench *b, const char *src4, const char *src6)
{
	int empty_fd = bpf_program__fd(b->empty->progs.bench_empty);
	int lpm_fd = bpf_program__fd(b->lpm->progs.bench_lpm);
	int cs_fd = bpf_program__fd(b->cs->progs.clicksieve_xdp);
	struct bench_parts *p = b->parts;
	struct fx_desc syn4 = { .family = 4, .saddr = src4, .tcp_flags = CS_TCP_SYN };
	struct fx_desc syn6 = { .family = 6, .saddr = src6, .tcp_flags = CS_TCP_SYN };
	struct fx_desc request = { .family = 4, .saddr = src4,
				   .tcp_flags = CS_TCP_ACK | CS_TCP_PSH, .payload = fx_request,
				   .payload_len = sizeof(fx_request) - 1 };
	const struct bench_case cases[] = {
		[CASE_EMPTY] = { "empty XDP_PASS program", empty_fd, .desc = syn4 },
		[CASE_LPM4] = { "parse + LPM lookup, IPv4 SYN", lpm_fd, .desc = syn4 },
		[CASE_LPM6] = { "parse + LPM lookup, IPv6 SYN", lpm_fd, .desc = syn6 },
		{ "probe: bpf_ktime_get_ns", bpf_program__fd(p->progs.bench_ktime), .desc = syn4 },
		{ "probe: bpf_ktime_get_coarse_ns", bpf_program__fd(p->progs.bench_ktime_coarse),
		  .desc = syn4 },
		{ "probe: bpf_jiffies64", bpf_program__fd(p->progs.bench_jiffies64), .desc = syn4 },
		{ "probe: counters lookup + add", bpf_program__fd(p->progs.bench_counters),
		  .desc = syn4 },
		{ "probe: ringbuf reserve+submit 64B",
		  bpf_program__fd(p->progs.bench_ringbuf_reserve), b->parts_ring, syn4,
		  DRAIN_BETWEEN },
		{ "probe: ringbuf output 64B", bpf_program__fd(p->progs.bench_ringbuf_output),
		  b->parts_ring, syn4, DRAIN_BETWEEN },
		{ "probe: reserve+submit, live reader",
		  bpf_program__fd(p->progs.bench_ringbuf_reserve), b->parts_ring, syn4,
		  DRAIN_LIVE },
		{ "probe: reserve+submit NO_WAKEUP, live",
		  bpf_program__fd(p->progs.bench_ringbuf_reserve_nowakeup), b->parts_ring, syn4,
		  DRAIN_LIVE },
		{ "probe: 64B record into a per-CPU batch", bpf_program__fd(p->progs.bench_batch_write),
		  .desc = syn4 },
		{ "probe: batch of 32 to the ring at once", bpf_program__fd(p->progs.bench_batch_output),
		  b->parts_ring, syn4, DRAIN_BETWEEN },
		{ "probe: the same with 32-byte records",
		  bpf_program__fd(p->progs.bench_batch_output_small), b->parts_ring, syn4,
		  DRAIN_BETWEEN },
		{ "clicksieve: non-TCP (UDP)", cs_fd,
		  .desc = { .family = 4, .saddr = src4, .l4_proto = 17 } },
		{ "clicksieve: untracked-port ACK", cs_fd,
		  .desc = { .family = 4, .saddr = src4, .dport = 443, .tcp_flags = CS_TCP_ACK } },
		{ "clicksieve: tracked-port ACK", cs_fd,
		  .desc = { .family = 4, .saddr = src4, .tcp_flags = CS_TCP_ACK } },
		{ "clicksieve: untracked-port ACK, IPv6", cs_fd,
		  .desc = { .family = 6, .saddr = src6, .dport = 443, .tcp_flags = CS_TCP_ACK } },
		{ "clicksieve: tracked-port ACK, IPv6", cs_fd,
		  .desc = { .family = 6, .saddr = src6, .tcp_flags = CS_TCP_ACK } },
		{ "clicksieve: untracked-port SYN", cs_fd,
		  .desc = { .family = 4, .saddr = src4, .dport = 443, .tcp_flags = CS_TCP_SYN },
		  .baseline = CASE_LPM4 },
		{ "clicksieve: tracked SYN (event)", cs_fd, b->cs_ring, syn4, DRAIN_BETWEEN,
		  CASE_LPM4 },
		{ "clicksieve: tracked SYN, IPv6 (event)", cs_fd, b->cs_ring, syn6, DRAIN_BETWEEN,
		  CASE_LPM6 },
		{ "clicksieve: tracked SYN, live reader", cs_fd, b->cs_ring, syn4, DRAIN_LIVE,
		  CASE_LPM4 },
		{ "clicksieve: tracked request (event)", cs_fd, b->cs_ring, request,
		  DRAIN_BETWEEN, CASE_LPM4 },
		{ "clicksieve: tracked request, ring full", cs_fd, b->cs_ring, request,
		  DRAIN_FILL_FIRST, CASE_LPM4 },
	};
	const size_t n = sizeof(cases) / sizeof(cases[0]);
	double *samples = calloc(n * b->rounds, sizeof(*samples));
	double ratio[b->rounds], diff[b->rounds], sorted[b->rounds];
	size_t i;
	int r, rc = -1;

	if (!samples)
		return -1;
	printf("%lu packets per measurement, %d rounds; request payload %zu bytes\n"
	       "baseline \"parse + LPM lookup\": clicksieve's parser (packet_parse.h) up to\n"
	       "the source address, then one LPM lookup in a trie holding the same ranges\n\n",
	       b->repeat, b->rounds, sizeof(fx_request) - 1);
	/* Rounds go over all cases in turn, so that a busy moment skews one
	 * round of every case rather than every round of one case. */
	for (r = 0; r < b->rounds; r++) {
		for (i = 0; i < n; i++) {
			double ns;

			if (!selected(b, &cases[i], i))
				continue;
			ns = measure(b, &cases[i]);

			if (ns < 0) {
				fprintf(stderr, "bench_xdp: %s failed\n", cases[i].name);
				goto out;
			}
			samples[i * b->rounds + r] = ns;
		}
	}
	printf("%-40s %6s %7s %8s %16s\n", "case (ns/packet)", "min", "median", "x empty",
	       "- baseline");
	for (i = 0; i < n; i++) {
		const double *s = &samples[i * b->rounds];
		const double *empty = &samples[CASE_EMPTY * b->rounds];
		const double *base = &samples[cases[i].baseline * b->rounds];
		double mid;

		if (!selected(b, &cases[i], i))
			continue;
		for (r = 0; r < b->rounds; r++) {
			sorted[r] = s[r];
			ratio[r] = s[r] / empty[r];
			diff[r] = s[r] - base[r];
		}
		mid = median(sorted, b->rounds);
		printf("%-40s %6.1f %7.1f %8.2f", cases[i].name, sorted[0], mid,
		       median(ratio, b->rounds));
		if (i != CASE_EMPTY)
			printf(" %+8.1f %-6s", median(diff, b->rounds),
			       cases[i].baseline == CASE_EMPTY ? "empty" : "LPM");
		printf("\n");
	}
	rc = 0;
out:
	free(samples);
	return rc;
}

static int parse_count(const char *text, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(text, &end, 10);
	if (errno || end == text || *end || *out == 0 || *out > max) {
		fprintf(stderr, "bench_xdp: bad count '%s' (1..%lu)\n", text, max);
		return -1;
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bench_xdp [--repeat N] [--rounds N] [--only TEXT] RANGES_FILE\n"
		"Measures ns/packet of the clicksieve XDP program with BPF_PROG_TEST_RUN\n"
		"against an empty program, its parser plus one LPM lookup, and probes of\n"
		"its building blocks. Needs root.\n"
		"  --repeat N  packets per measurement (default 1048576)\n"
		"  --rounds N  measurements per case, interleaved; min and median are\n"
		"              printed (default 20)\n"
		"  --only TEXT run only the cases whose name contains TEXT (and the\n"
		"              baselines)\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "repeat", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "only", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct bench b = { .repeat = 1ul << 20, .rounds = 20 };
	unsigned long rounds;
	char err[256], src4[CS_ADDR_STRLEN], src6[CS_ADDR_STRLEN];
	struct cs_ranges *ranges = NULL;
	size_t i, n;
	int opt, rc = 1;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (parse_count(optarg, 1ul << 31, &b.repeat))
				return 2;
			break;
		case 'r':
			if (parse_count(optarg, 1000, &rounds))
				return 2;
			b.rounds = rounds;
			break;
		case 'o':
			b.only = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	/* Whole chunks, so that every case runs the same number of packets. */
	b.repeat += (EVENT_CHUNK - b.repeat % EVENT_CHUNK) % EVENT_CHUNK;

	ranges = cs_ranges_new();
	if (!ranges || cs_ranges_load_file(ranges, argv[optind], err, sizeof(err))) {
		fprintf(stderr, "bench_xdp: %s\n", ranges ? err : "out of memory");
		goto out;
	}
	if (load_programs(&b))
		goto out;
	n = cs_ranges_count(ranges, 0);
	for (i = 0; i < n; i++) {
		if (insert_range(&b, cs_ranges_at(ranges, i))) {
			fprintf(stderr, "bench_xdp: map update: %s\n", strerror(errno));
			goto out;
		}
	}
	pick_source(ranges, 4, src4);
	pick_source(ranges, 6, src6);

	printf("%zu IPv4 + %zu IPv6 prefixes loaded; sources %s, %s\n",
	       cs_ranges_count(ranges, 4), cs_ranges_count(ranges, 6), src4, src6);
	if (run_cases(&b, src4, src6))
		goto out;

	printf("\nEvent cases write to a %u MiB ring. \"drain\" cases run %u packets per\n"
	       "test run and consume between runs, outside the timing; \"live\" cases\n"
	       "have a thread sleep in epoll and consume as the daemon does; \"ring\n"
	       "full\" fills the ring first, then times packets whose event is dropped.\n"
	       "%llu events read, %llu dropped (ring full case only).\n",
	       BENCH_RING_BYTES >> 20, EVENT_CHUNK,
	       (unsigned long long)atomic_load(&b.events_read),
	       (unsigned long long)counter(&b, CS_CNT_EVENTS_DROPPED));
	rc = 0;
out:
	ring_buffer__free(b.parts_ring);
	ring_buffer__free(b.cs_ring);
	clicksieve__destroy(b.cs);
	bench_parts__destroy(b.parts);
	bench_lpm__destroy(b.lpm);
	bench_empty__destroy(b.empty);
	cs_ranges_free(ranges);
	return rc;
}
