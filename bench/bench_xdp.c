// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-packet cost of the XDP program under BPF_PROG_TEST_RUN, against an
 * empty XDP_PASS program and a bare IPv4 LPM lookup, with a real range list
 * loaded into the tries. Needs root.
 *
 * usage: bench_xdp [--repeat N] [--rounds N] RANGES_FILE
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_empty.skel.h"
#include "bench_lpm.skel.h"
#include "clicksieve.skel.h"
#include "packet_parse.h"
#include "ranges.h"
#include "../tests/bpf/packet_fixtures.h"

#define TRACKED_PORT 80
/* Events per test run when every event must reach the ring (16 MiB holds ~10.6k). */
#define EVENT_CHUNK 8192

struct bench {
	struct bench_empty *empty;
	struct bench_lpm *lpm;
	struct clicksieve *cs;
	struct ring_buffer *ring;
	__u64 events_read;
	unsigned long repeat;
	int rounds;
};

struct bench_case {
	const char *name;
	int prog_fd;
	struct fx_desc desc;
	int drain;                      /* drain the ring between chunks */
};

static int count_event(void *ctx, void *data, size_t size)
{
	struct bench *b = ctx;

	b->events_read++;
	return 0;
}

static __u64 counter(struct bench *b, __u32 index)
{
	int ncpus = libbpf_num_possible_cpus(), i;
	__u64 values[ncpus], sum = 0;

	if (bpf_map__lookup_elem(b->cs->maps.counters, &index, sizeof(index), values,
				 sizeof(values), 0))
		return 0;
	for (i = 0; i < ncpus; i++)
		sum += values[i];
	return sum;
}

/*
 * Runs the frame repeat times; returns the kernel's time for the run in ns,
 * or -1. Wall time would also count the fixed cost of each test run (the
 * XDP dispatcher update waits for an RCU grace period: ~20 ms here).
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

/* ns per packet over b->repeat packets. */
static double measure(struct bench *b, const struct bench_case *c)
{
	static __u8 frame[FX_MAX_FRAME];
	size_t len = fx_build(&c->desc, frame, NULL);
	__u64 dropped;
	unsigned long done = 0;
	double total = 0;

	if (c->drain)
		ring_buffer__consume(b->ring);
	dropped = counter(b, CS_CNT_EVENTS_DROPPED);
	while (done < b->repeat) {
		__u32 chunk = c->drain ? EVENT_CHUNK : b->repeat;
		double ns = run_chunk(c->prog_fd, frame, len, chunk);

		if (ns < 0)
			return -1;
		total += ns;
		done += chunk;
		if (c->drain)
			ring_buffer__consume(b->ring);
	}
	if (c->drain && counter(b, CS_CNT_EVENTS_DROPPED) != dropped) {
		fprintf(stderr, "bench_xdp: %s: events dropped despite draining\n", c->name);
		return -1;
	}
	return total / done;
}

static int load_programs(struct bench *b)
{
	b->empty = bench_empty__open_and_load();
	b->lpm = bench_lpm__open_and_load();
	b->cs = clicksieve__open();
	if (!b->empty || !b->lpm || !b->cs)
		goto fail;
	b->cs->rodata->tracked_ports[TRACKED_PORT / 64] |= 1ull << (TRACKED_PORT % 64);
	if (clicksieve__load(b->cs))
		goto fail;
	b->ring = ring_buffer__new(bpf_map__fd(b->cs->maps.events), count_event, b, NULL);
	if (!b->ring)
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
			err = bpf_map__update_elem(b->lpm->maps.lpm_v4, &key, sizeof(key), &value,
						   sizeof(value), BPF_ANY);
	} else {
		struct cs_lpm_v6 key = { .prefixlen = range->plen };

		memcpy(key.addr, range->prefix.bytes, sizeof(key.addr));
		err = bpf_map__update_elem(b->cs->maps.ranges_v6, &key, sizeof(key), &value,
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

/* Prints the table: every case, in ns/packet and as a ratio to the empty program. */
static int run_cases(struct bench *b, const char *src4, const char *src6)
{
	size_t i;
	int empty_fd = bpf_program__fd(b->empty->progs.bench_empty);
	int lpm_fd = bpf_program__fd(b->lpm->progs.bench_lpm);
	int cs_fd = bpf_program__fd(b->cs->progs.clicksieve_xdp);
	const struct bench_case cases[] = {
		{ .name = "empty XDP_PASS program", .prog_fd = empty_fd,
		  .desc = { .family = 4, .saddr = src4, .tcp_flags = CS_TCP_SYN } },
		{ .name = "bare IPv4 LPM lookup program", .prog_fd = lpm_fd,
		  .desc = { .family = 4, .saddr = src4, .tcp_flags = CS_TCP_SYN } },
		{ .name = "clicksieve: non-TCP (UDP)", .prog_fd = cs_fd,
		  .desc = { .family = 4, .saddr = src4, .l4_proto = 17 } },
		{ .name = "clicksieve: untracked-port ACK", .prog_fd = cs_fd,
		  .desc = { .family = 4, .saddr = src4, .dport = 443, .tcp_flags = CS_TCP_ACK } },
		{ .name = "clicksieve: tracked-port ACK", .prog_fd = cs_fd,
		  .desc = { .family = 4, .saddr = src4, .tcp_flags = CS_TCP_ACK } },
		{ .name = "clicksieve: tracked SYN (event)", .prog_fd = cs_fd,
		  .desc = { .family = 4, .saddr = src4, .tcp_flags = CS_TCP_SYN }, .drain = 1 },
		{ .name = "clicksieve: tracked SYN, IPv6 (event)", .prog_fd = cs_fd,
		  .desc = { .family = 6, .saddr = src6, .tcp_flags = CS_TCP_SYN }, .drain = 1 },
		{ .name = "clicksieve: tracked request (event)", .prog_fd = cs_fd,
		  .desc = { .family = 4, .saddr = src4, .tcp_flags = CS_TCP_ACK | CS_TCP_PSH,
		    .payload = fx_request, .payload_len = sizeof(fx_request) - 1 }, .drain = 1 },
		{ .name = "clicksieve: tracked request, ring full", .prog_fd = cs_fd,
		  .desc = { .family = 4, .saddr = src4, .tcp_flags = CS_TCP_ACK | CS_TCP_PSH,
		    .payload = fx_request, .payload_len = sizeof(fx_request) - 1 } },
	};

	const size_t n = sizeof(cases) / sizeof(cases[0]);
	double best[sizeof(cases) / sizeof(cases[0])];
	int round;

	printf("%lu packets per measurement, best of %d; request payload %zu bytes\n\n",
	       b->repeat, b->rounds, sizeof(fx_request) - 1);
	/* Rounds go over all cases in turn, so that a busy moment skews one
	 * round of every case rather than every round of one case. */
	for (round = 0; round < b->rounds; round++) {
		for (i = 0; i < n; i++) {
			double ns = measure(b, &cases[i]);

			if (ns < 0)
				return -1;
			if (round == 0 || ns < best[i])
				best[i] = ns;
		}
	}
	printf("%-42s %10s %10s\n", "case", "ns/packet", "x empty");
	for (i = 0; i < n; i++)
		printf("%-42s %10.1f %10.2f\n", cases[i].name, best[i], best[i] / best[0]);
	return 0;
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
		"usage: bench_xdp [--repeat N] [--rounds N] RANGES_FILE\n"
		"Measures ns/packet of the clicksieve XDP program with BPF_PROG_TEST_RUN\n"
		"against an empty program and a bare LPM lookup. Needs root.\n"
		"  --repeat N  packets per measurement (default 1000000)\n"
		"  --rounds N  measurements per case; the best is kept (default 5)\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "repeat", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct bench b = { .repeat = 1000000, .rounds = 5 };
	unsigned long rounds;
	char err[256], src4[CS_ADDR_STRLEN], src6[CS_ADDR_STRLEN];
	struct cs_ranges *ranges = NULL;
	__u64 dropped;
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

	dropped = counter(&b, CS_CNT_EVENTS_DROPPED);
	printf("\nEvent cases run in test runs of %d packets and drain the ring buffer\n"
	       "(%u bytes) between runs, outside the timing; no event was dropped.\n"
	       "\"ring full\" runs all packets in one test run without draining: the\n"
	       "ring fills, and the rest of the events are dropped and counted\n"
	       "(%llu events read in all, %llu dropped).\n",
	       EVENT_CHUNK, bpf_map__max_entries(b.cs->maps.events),
	       (unsigned long long)b.events_read, (unsigned long long)dropped);
	rc = 0;
out:
	ring_buffer__free(b.ring);
	clicksieve__destroy(b.cs);
	bench_lpm__destroy(b.lpm);
	bench_empty__destroy(b.empty);
	cs_ranges_free(ranges);
	return rc;
}
