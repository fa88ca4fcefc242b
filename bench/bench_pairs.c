/*
 * Classifier benchmark: heap bytes per active message × recipient pair at
 * 1,000,000 active pairs (mallinfo2 and RSS deltas), and clicks per second
 * through feed + advance for a synthetic stream.
 *
 * Usage: bench_pairs [--pairs N] [--clicks N] [--ranges FILE] [--agents FILE]
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agents.h"
#include "ranges.h"
#include "verdicts.h"

#define T0 (1763280000ull * 1000000)
#define SEC 1000000ull

static void count_verdict(void *ctx, const struct cs_click *k, const struct cs_verdict *v)
{
	(*(uint64_t *)ctx)++;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static long rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * sysconf(_SC_PAGESIZE);
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* One click per pair, all final, every pair holding its multi_ip window. */
static int bench_memory(const struct cs_classifier_config *base, size_t n_pairs)
{
	struct cs_classifier_config cfg = *base;
	struct cs_classifier_stats st;
	struct cs_classifier *c;
	uint64_t verdicts = 0;
	size_t heap0, heap1;
	long rss0, rss1;
	char rcpt[48];
	size_t i;

	cfg.max_pairs = 2 * n_pairs;
	malloc_trim(0);
	heap0 = heap_bytes();
	rss0 = rss_bytes();
	c = cs_classifier_new(&cfg, count_verdict, &verdicts);
	if (!c)
		return -1;
	for (i = 0; i < n_pairs; i++) {
		struct cs_click k = {
			.ts_us = T0 + i * 50,   /* 20,000 clicks per second */
			.client = { .family = 4, .bytes = { 198, 51, 100, (uint8_t)i } },
			.method = "GET",
			.message = "aXjHqEOdqoGrJrXXIg3",
			.recipient = rcpt,
			.link = "28L4VcsZppCfojE6m2XGDIPKceJvJWDh",
			.user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
		};

		snprintf(rcpt, sizeof(rcpt), "3eVtERFhrerye8fq%014zu", i);
		cs_classifier_feed(c, &k);
	}
	cs_classifier_advance(c, T0 + n_pairs * 50 + 60 * SEC);
	cs_classifier_get_stats(c, &st);
	heap1 = heap_bytes();
	rss1 = rss_bytes();
	printf("memory: %zu active pairs, %llu pending, %llu verdicts\n", n_pairs,
	       (unsigned long long)st.pending, (unsigned long long)verdicts);
	printf("  %-34s %8.1f bytes/pair\n", "heap delta (mallinfo2)",
	       (double)(heap1 - heap0) / n_pairs);
	printf("  %-34s %8.1f bytes/pair\n", "RSS delta", (double)(rss1 - rss0) / n_pairs);
	printf("  %-34s %8.1f bytes/pair\n", "state_bytes (classifier stats)",
	       (double)st.state_bytes / st.pairs_active);
	cs_classifier_finish(c);
	cs_classifier_free(c);
	return st.pairs_active == n_pairs && verdicts == n_pairs ? 0 : -1;
}

static int by_ts(const void *a, const void *b)
{
	const struct cs_click *x = a, *y = b;

	return x->ts_us < y->ts_us ? -1 : x->ts_us > y->ts_us;
}

/*
 * A day of mail compressed: 50,000 recipients of 20 messages; per event a
 * person's click (sometimes twice), a pre-scan burst of 3-5 links, or a
 * Safe Links re-fetch; 5,000 clicks per second of event time, in timestamp
 * order but for 2% swapped with a click up to 64 places later (workers'
 * logs interleaving); event time advanced every 1,000 clicks as a log
 * reader would.
 */
static int bench_throughput(const struct cs_classifier_config *cfg, size_t n_clicks)
{
	enum { N_RCPT = 50000, N_MSG = 20, N_LINK = 6 };
	static const char *const agents[] = {
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
		"python-requests/2.31.0",
	};
	char (*rcpt)[48] = malloc(N_RCPT * sizeof(*rcpt)), msg[N_MSG][24], link[N_LINK][36];
	struct cs_click *clicks = malloc(n_clicks * sizeof(*clicks));
	struct cs_classifier_stats st;
	struct cs_classifier *c;
	uint64_t verdicts = 0, s = 88172645463325252ull, t = T0;
	double wall, cpu;
	size_t i = 0, j;
	int ret = -1;

	if (!rcpt || !clicks)
		goto out;
	for (j = 0; j < N_RCPT; j++)
		snprintf(rcpt[j], sizeof(rcpt[j]), "3eVtERFhrerye8fq%014zu", j);
	for (j = 0; j < N_MSG; j++)
		snprintf(msg[j], sizeof(msg[j]), "aXjHqEOdqoGr%07zu", j);
	for (j = 0; j < N_LINK; j++)
		snprintf(link[j], sizeof(link[j]), "28L4VcsZppCfojE6m2XGDIPK%08zu", j);
	while (i < n_clicks) {
		unsigned kind = rng_next(&s) % 10, count, k;
		const char *m = msg[rng_next(&s) % N_MSG], *r = rcpt[rng_next(&s) % N_RCPT];
		uint32_t ip = (uint32_t)rng_next(&s);

		count = kind < 2 ? 3 + kind : kind == 2 ? 2 : 1;
		for (k = 0; k < count && i < n_clicks; k++, i++) {
			struct cs_click *ck = &clicks[i];

			t += 200;
			*ck = (struct cs_click){
				.ts_us = t + (kind == 2 ? k * 400000 : 0),
				.client = { .family = 4 },
				.method = "GET",
				.message = m,
				.recipient = r,
				.link = link[kind < 2 ? k : rng_next(&s) % N_LINK],
				.user_agent = agents[kind == 9 ? 2 : kind % 2],
				.pos = { .file = "access.log" },
			};
			memcpy(ck->client.bytes, &ip, 4);
		}
	}
	qsort(clicks, n_clicks, sizeof(*clicks), by_ts);
	for (i = 0; i + 64 < n_clicks; i++) {
		if (rng_next(&s) % 50 == 0) {
			struct cs_click tmp = clicks[i];
			size_t j = i + 1 + rng_next(&s) % 64;

			clicks[i] = clicks[j];
			clicks[j] = tmp;
		}
	}
	for (i = 0; i < n_clicks; i++)
		clicks[i].pos.line = i + 1;

	c = cs_classifier_new(cfg, count_verdict, &verdicts);
	if (!c)
		goto out;
	wall = clock_s(CLOCK_MONOTONIC);
	cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	for (i = 0; i < n_clicks; i++) {
		cs_classifier_feed(c, &clicks[i]);
		if (i % 1000 == 999)
			cs_classifier_advance(c, clicks[i].ts_us);
	}
	cs_classifier_finish(c);
	cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu;
	wall = clock_s(CLOCK_MONOTONIC) - wall;
	cs_classifier_get_stats(c, &st);
	printf("throughput (%s): %zu clicks, %.3f s CPU (%.3f s wall): %.2f M clicks/s per core\n",
	       cfg->ranges || cfg->agents ? "with range and agent lists" : "no lists", n_clicks,
	       cpu, wall, n_clicks / cpu / 1e6);
	printf("  human %llu, machine %llu, suspect %llu; burst %llu, multi_ip %llu; "
	       "peak pairs %llu, expired %llu\n",
	       (unsigned long long)st.verdicts[CS_HUMAN], (unsigned long long)st.verdicts[CS_MACHINE],
	       (unsigned long long)st.verdicts[CS_SUSPECT], (unsigned long long)st.reasons[2],
	       (unsigned long long)st.reasons[3],
	       (unsigned long long)(st.pairs_active + st.pairs_expired + st.pairs_evicted),
	       (unsigned long long)st.pairs_expired);
	cs_classifier_free(c);
	ret = verdicts == n_clicks ? 0 : -1;
out:
	free(rcpt);
	free(clicks);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_pairs [--pairs N] [--clicks N] [--ranges FILE] [--agents FILE]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pairs", required_argument, NULL, 'p' },
		{ "clicks", required_argument, NULL, 'c' },
		{ "ranges", required_argument, NULL, 'r' },
		{ "agents", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cs_classifier_config cfg;
	struct cs_ranges *ranges = NULL;
	struct cs_agents *agents = NULL;
	size_t n_pairs = 1000000, n_clicks = 4000000;
	char err[512];
	int opt, ret = 1;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': n_pairs = strtoul(optarg, NULL, 10); break;
		case 'c': n_clicks = strtoul(optarg, NULL, 10); break;
		case 'r':
			ranges = cs_ranges_new();
			if (!ranges || cs_ranges_load_file(ranges, optarg, err, sizeof(err))) {
				fprintf(stderr, "bench_pairs: %s\n", ranges ? err : "out of memory");
				goto out;
			}
			break;
		case 'a':
			agents = cs_agents_load(optarg, err, sizeof(err));
			if (!agents) {
				fprintf(stderr, "bench_pairs: %s\n", err);
				goto out;
			}
			break;
		case 'h': usage(stdout); ret = 0; goto out;
		default: usage(stderr); ret = 2; goto out;
		}
	}
	if (n_pairs == 0 || n_clicks == 0) {
		usage(stderr);
		ret = 2;
		goto out;
	}
	cs_classifier_config_defaults(&cfg);
	if (bench_memory(&cfg, n_pairs))
		goto out;
	if (bench_throughput(&cfg, n_clicks))
		goto out;
	cfg.ranges = ranges;
	cfg.agents = agents;
	if ((ranges || agents) && bench_throughput(&cfg, n_clicks))
		goto out;
	ret = 0;
out:
	cs_agents_free(agents);
	cs_ranges_free(ranges);
	return ret;
}
