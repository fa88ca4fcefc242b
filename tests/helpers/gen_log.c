/*
 * Writes an access log of tracked clicks with known answers, for the
 * end-to-end test and the benchmark.
 *
 *   gen_log [-n INSTANCES] [-f combined|json] [-b] LOG EXPECTED RANGES
 *
 * Each instance plays every scenario of DESIGN §1 on its own message ×
 * recipient pairs: pre-scan bursts from a listed scanner range and from
 * unlisted addresses, post-click re-fetches from other (also cloud)
 * addresses, a person clicking links minutes apart, a double click, IPv6
 * privacy-address rotation, a Mimecast pre-scan followed an hour later by
 * the person, weak-range, bot-agent, HEAD and honeypot clicks, plus lines
 * that are not clicks. -b adds bad lines. EXPECTED gets one line per click:
 * "LINE VERDICT REASONS PROVIDER" (reasons comma-separated in bit order,
 * "-" for none and for no provider). RANGES gets the range list the
 * answers assume. Lines come out in time order, in the +0100 zone.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T0_S 1794816000ull              /* 2026-11-16T08:00:00Z */
#define INSTANCE_GAP_MS 7000
#define HONEYPOT_LINK "hp-trap"

static const char browser_ua[] =
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Chrome/120.0.0.0 Safari/537.36";
static const char bot_ua[] = "curl/8.4.0";

enum kind { CLICK, NOISE, BAD };

enum reason {
	SCANNER = 1 << 0, WEAK = 1 << 1, BURST = 1 << 2, MULTI_IP = 1 << 3,
	BOT = 1 << 4, HEAD = 1 << 5, HONEYPOT = 1 << 6,
};

static const char *const reason_names[] = {
	"scanner_range", "weak_range", "burst", "multi_ip", "bot_agent", "head_request", "honeypot",
};

struct event {
	uint64_t ts_ms;
	uint32_t seq;                   /* keeps insertion order among equal times */
	uint8_t kind;
	uint8_t reasons;
	char verdict[8];
	char provider[12];
	char ip[40];
	char method[8];
	char target[96];
	const char *ua;
};

static struct event *events;
static size_t n_events, cap_events;

static struct event *add(uint64_t ts_ms, const char *ip, const char *method, const char *target,
			 const char *ua)
{
	struct event *e;

	if (n_events == cap_events) {
		cap_events = cap_events ? cap_events * 2 : 4096;
		events = realloc(events, cap_events * sizeof(*events));
		if (!events) {
			perror("gen_log");
			exit(1);
		}
	}
	e = &events[n_events];
	memset(e, 0, sizeof(*e));
	e->ts_ms = ts_ms;
	e->seq = (uint32_t)n_events++;
	e->kind = NOISE;
	snprintf(e->ip, sizeof(e->ip), "%s", ip);
	snprintf(e->method, sizeof(e->method), "%s", method);
	snprintf(e->target, sizeof(e->target), "%s", target);
	e->ua = ua;
	return e;
}

/* A click on link of pair (message, recipient) with its expected verdict. */
static void click(uint64_t ts_ms, const char *ip, const char *method, unsigned inst, unsigned pair,
		  const char *link, const char *ua, const char *verdict, unsigned reasons,
		  const char *provider)
{
	char target[96];
	struct event *e;

	snprintf(target, sizeof(target), "/redirect?link=%s&l=r%us%u&s=m%u", link, inst, pair, inst);
	e = add(ts_ms, ip, method, target, ua);
	e->kind = CLICK;
	e->reasons = (uint8_t)reasons;
	snprintf(e->verdict, sizeof(e->verdict), "%s", verdict);
	snprintf(e->provider, sizeof(e->provider), "%s", provider ? provider : "-");
}

static void instance(unsigned i, bool bad_lines)
{
	uint64_t t = T0_S * 1000 + (uint64_t)i * INSTANCE_GAP_MS;
	const uint64_t s = 1000, min = 60 * s;
	char mimecast[40], person[40], other[40], cloud[40], v6a[40], v6b[40], v6c[40], weak[40];
	unsigned lo = i % 250 + 1, mid = (i / 250) % 250 + 1;

	snprintf(mimecast, sizeof(mimecast), "205.139.110.%u", lo);
	snprintf(person, sizeof(person), "198.51.100.%u", lo);
	snprintf(other, sizeof(other), "203.0.113.%u", lo);
	snprintf(cloud, sizeof(cloud), "3.5.%u.%u", mid, lo);
	snprintf(weak, sizeof(weak), "38.1.%u.%u", mid, lo);
	snprintf(v6a, sizeof(v6a), "2001:db8:a:%x::1", i & 0xffff);
	snprintf(v6b, sizeof(v6b), "2001:db8:a:%x:5c2e:77ff:fe01:beef", i & 0xffff);
	snprintf(v6c, sizeof(v6c), "2001:db8:b:%x::1", i & 0xffff);

	/* 1: a listed scanner fetches every link of the mail at once. */
	for (unsigned k = 0; k < 3; k++) {
		char link[8];

		snprintf(link, sizeof(link), "L%u", k + 1);
		click(t + k * 300, mimecast, "GET", i, 1, link, browser_ua, "machine", SCANNER | BURST,
		      "mimecast");
	}
	/* 2: an unlisted gateway does the same. */
	click(t, other, "GET", i, 2, "L1", browser_ua, "machine", BURST, NULL);
	click(t + 800, other, "GET", i, 2, "L2", browser_ua, "machine", BURST, NULL);
	/* 3: a person reads the mail and clicks three links minutes apart. */
	click(t + 1 * s, person, "GET", i, 3, "L1", browser_ua, "human", 0, NULL);
	click(t + 1 * s + 3 * min, person, "GET", i, 3, "L2", browser_ua, "human", 0, NULL);
	click(t + 1 * s + 7 * min, person, "GET", i, 3, "L3", browser_ua, "human", 0, NULL);
	/* 4: post-click re-fetches from other addresses inside the 10 minutes, not after. */
	click(t + 2 * s, person, "GET", i, 4, "L1", browser_ua, "human", 0, NULL);
	click(t + 27 * s, other, "GET", i, 4, "L1", browser_ua, "machine", MULTI_IP, NULL);
	click(t + 2 * s + 4 * min, cloud, "GET", i, 4, "L1", browser_ua, "machine", MULTI_IP | SCANNER,
	      "aws");
	click(t + 2 * s + 6 * min, person, "GET", i, 4, "L2", browser_ua, "human", 0, NULL);
	click(t + 2 * s + 11 * min, other, "GET", i, 4, "L1", browser_ua, "human", 0, NULL);
	/* 5: a double click is one person. */
	click(t + 5 * s, person, "GET", i, 5, "L1", browser_ua, "human", 0, NULL);
	click(t + 5 * s + 400, person, "GET", i, 5, "L1", browser_ua, "human", 0, NULL);
	/* 6: IPv6 privacy addresses of one /64 are one client; another /64 is not. */
	click(t + 10 * s, v6a, "GET", i, 6, "L1", browser_ua, "human", 0, NULL);
	click(t + 10 * s + 2 * min, v6b, "GET", i, 6, "L2", browser_ua, "human", 0, NULL);
	click(t + 10 * s + 4 * min, v6c, "GET", i, 6, "L3", browser_ua, "machine", MULTI_IP, NULL);
	/* 7: a Mimecast pre-scan opens no window: the person an hour later is human. */
	click(t + 20 * s, mimecast, "GET", i, 7, "L1", browser_ua, "machine", SCANNER | BURST, "mimecast");
	click(t + 20 * s + 500, mimecast, "GET", i, 7, "L2", browser_ua, "machine", SCANNER | BURST,
	      "mimecast");
	click(t + 20 * s + 60 * min, person, "GET", i, 7, "L1", browser_ua, "human", 0, NULL);
	click(t + 20 * s + 62 * min, person, "GET", i, 7, "L2", browser_ua, "human", 0, NULL);
	/* 8-12: evidence a single click carries. */
	click(t + 30 * s, mimecast, "GET", i, 8, "L1", browser_ua, "machine", SCANNER, "mimecast");
	click(t + 31 * s, weak, "GET", i, 9, "L1", browser_ua, "suspect", WEAK, "cogent");
	click(t + 32 * s, other, "GET", i, 10, "L1", bot_ua, "machine", BOT, NULL);
	click(t + 33 * s, other, "HEAD", i, 11, "L1", browser_ua, "machine", HEAD, NULL);
	click(t + 34 * s, person, "GET", i, 12, HONEYPOT_LINK, browser_ua, "machine", HONEYPOT, NULL);
	/* Not clicks. */
	add(t + 1 * s, person, "GET", "/index.html", browser_ua);
	add(t + 1 * s + 100, person, "GET", "/favicon.ico", browser_ua);
	if (bad_lines && i % 2 == 0)
		add(t + 3 * s, person, "GET", "", browser_ua)->kind = BAD;
}

static int by_time(const void *a, const void *b)
{
	const struct event *x = a, *y = b;

	if (x->ts_ms != y->ts_ms)
		return x->ts_ms < y->ts_ms ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void write_line(FILE *f, const struct event *e, bool json)
{
	time_t local = (time_t)(e->ts_ms / 1000) + 3600;
	struct tm tm;
	char when[32];

	if (e->kind == BAD) {
		/* A line cut short, as after a crash mid-write. */
		fprintf(f, "%s - - [16/Nov/2026:09:00", e->ip);
		fputc('\n', f);
		return;
	}
	if (json) {
		fprintf(f, "{\"msec\":\"%llu.%03llu\",\"remote_addr\":\"%s\",\"request\":\"%s %s HTTP/1.1\","
			"\"status\":\"302\",\"http_user_agent\":\"%s\"}\n",
			(unsigned long long)(e->ts_ms / 1000), (unsigned long long)(e->ts_ms % 1000),
			e->ip, e->method, e->target, e->ua);
		return;
	}
	gmtime_r(&local, &tm);
	strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S +0100", &tm);
	fprintf(f, "%s - - [%s] \"%s %s HTTP/1.1\" 302 0 \"-\" \"%s\"\n", e->ip, when, e->method,
		e->target, e->ua);
}

static void write_expected(FILE *f, uint64_t line, const struct event *e)
{
	bool any = false;

	fprintf(f, "%llu %s ", (unsigned long long)line, e->verdict);
	for (unsigned r = 0; r < sizeof(reason_names) / sizeof(reason_names[0]); r++) {
		if (!(e->reasons & (1u << r)))
			continue;
		fprintf(f, "%s%s", any ? "," : "", reason_names[r]);
		any = true;
	}
	fprintf(f, "%s %s\n", any ? "" : "-", e->provider);
}

int main(int argc, char **argv)
{
	unsigned instances = 4;
	bool json = false, bad_lines = false;
	FILE *log, *expected, *ranges;
	int opt;

	while ((opt = getopt(argc, argv, "n:f:bh")) != -1) {
		switch (opt) {
		case 'n': instances = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'f': json = !strcmp(optarg, "json"); break;
		case 'b': bad_lines = true; break;
		case 'h':
			printf("Usage: gen_log [-n INSTANCES] [-f combined|json] [-b] LOG EXPECTED RANGES\n");
			return 0;
		default:
			return 2;
		}
	}
	if (argc - optind != 3 || instances == 0) {
		fprintf(stderr, "Usage: gen_log [-n INSTANCES] [-f combined|json] [-b] LOG EXPECTED RANGES\n");
		return 2;
	}
	log = fopen(argv[optind], "w");
	expected = fopen(argv[optind + 1], "w");
	ranges = fopen(argv[optind + 2], "w");
	if (!log || !expected || !ranges) {
		perror("gen_log");
		return 1;
	}
	fprintf(ranges, "# ranges the answers of gen_log assume\n"
		"205.139.110.0/24 mimecast\n3.0.0.0/9 aws\n38.0.0.0/8 cogent weak\n");
	for (unsigned i = 0; i < instances; i++)
		instance(i, bad_lines);
	qsort(events, n_events, sizeof(*events), by_time);
	for (size_t k = 0; k < n_events; k++) {
		write_line(log, &events[k], json);
		if (events[k].kind == CLICK)
			write_expected(expected, k + 1, &events[k]);
	}
	free(events);
	if (fclose(log) | fclose(expected) | fclose(ranges)) {
		perror("gen_log");
		return 1;
	}
	return 0;
}
