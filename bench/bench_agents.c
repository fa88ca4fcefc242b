/*
 * Per-click parsing costs: bot-agent matching, tracking-URL extraction and
 * the JSON verdict line, each on one core over realistic inputs.
 *
 * usage: bench_agents AGENTS_FILE
 *
 * Prints one "name value unit" row each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agents.h"
#include "sinks.h"
#include "track.h"

static const char *const browsers[] = {
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Chrome/120.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
	"(KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
	"Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
	"SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
	"Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; WOW64; Trident/7.0; .NET4.0C; "
	".NET4.0E; Microsoft Outlook 16.0.5295; ms-office; MSOffice 16)",
};

static const char *const bots[] = {
	"python-requests/2.31.0",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
	"HeadlessChrome/120.0.6099.71 Safari/537.36",
};

#define N_BROWSERS (sizeof(browsers) / sizeof(browsers[0]))
#define N_BOTS (sizeof(bots) / sizeof(bots[0]))

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void bench_agents(const struct cs_agents *a)
{
	const int rounds = 200000;
	size_t bytes = 0, hits = 0;
	double t;

	for (size_t i = 0; i < N_BROWSERS; i++)
		bytes += strlen(browsers[i]);
	t = now();
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < N_BROWSERS; i++)
			hits += cs_agents_match(a, browsers[i]);
	t = now() - t;
	if (hits)
		fprintf(stderr, "bench_agents: a browser agent matched\n");
	printf("agents_browser_ns_per_agent %.0f ns\n", t * 1e9 / (rounds * N_BROWSERS));
	printf("agents_browser_ns_per_byte %.2f ns\n", t * 1e9 / (rounds * (double)bytes));

	t = now();
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < N_BOTS; i++)
			hits += cs_agents_match(a, bots[i]);
	t = now() - t;
	printf("agents_bot_ns_per_agent %.0f ns\n", t * 1e9 / (rounds * N_BOTS));
}

static void bench_track(const char *name, const struct cs_track *t, const char *target)
{
	const int rounds = 2000000;
	size_t len = strlen(target);
	struct cs_track_ids ids;
	int hits = 0;
	double s = now();

	for (int r = 0; r < rounds; r++)
		hits += cs_track_extract(t, target, len, &ids);
	s = now() - s;
	if (hits != rounds)
		fprintf(stderr, "bench_agents: %s did not match\n", name);
	printf("%s %.2f M/s\n", name, rounds / s / 1e6);
}

static void bench_sink(void)
{
	const int rounds = 500000;
	struct cs_click c = {
		.ts_us = 1794816418217110ull, .method = "GET",
		.message = "aXjHqEOdqoGrJrXXIg3", .recipient = "3eVtERFhrerye8fqx35VjMiBGst7AC",
		.link = "28L4VcsZppCfojE6m2XGDIPKceJvJWDh", .user_agent = browsers[0],
		.pos = { .file = "access.log", .line = 1 },
	};
	struct cs_verdict v = { .kind = CS_MACHINE, .reasons = CS_R_BURST, .provider = "aws" };
	FILE *f = fopen("/dev/null", "w");
	double t;

	if (!f)
		return;
	cs_addr_parse("18.153.8.104", &c.client);
	t = now();
	for (int r = 0; r < rounds; r++)
		cs_sink_json_write(f, &c, &v);
	t = now() - t;
	fclose(f);
	printf("sink_json_ns_per_record %.0f ns\n", t * 1e9 / rounds);
}

int main(int argc, char **argv)
{
	struct cs_track *def = NULL, *tmpl = NULL;
	struct cs_agents *a = NULL;
	char err[512];
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: bench_agents AGENTS_FILE\n");
		return 2;
	}
	a = cs_agents_load(argv[1], err, sizeof(err));
	if (!a) {
		fprintf(stderr, "bench_agents: %s\n", err);
		goto out;
	}
	def = cs_track_new_default();
	tmpl = cs_track_new_template("/c/{message}/{recipient}/{link}", err, sizeof(err));
	if (!def || !tmpl)
		goto out;
	bench_agents(a);
	bench_track("track_query_extract", def,
		    "/redirect?link=kYhjd36684679Gopkfdgjhf_htwVylYcl"
		    "&l=D0I3r8wfwlIrtfku43I0IEk3felfqy&s=RBMKHJZJHECCFGRAFOF");
	bench_track("track_template_extract", tmpl,
		    "/c/RBMKHJZJHECCFGRAFOF/D0I3r8wfwlIrtfku43I0IEk3felfqy/kYhjd36684679Gopkfdgjhf");
	bench_sink();
	rc = 0;
out:
	cs_track_free(def);
	cs_track_free(tmpl);
	cs_agents_free(a);
	return rc;
}
