/* What `run` exposes at /metrics: names, labels and values of a snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "run_metrics.h"

static char *render(const struct cs_run_metrics *m)
{
	struct cs_prom p = { 0 };

	cs_run_metrics_render(&p, m);
	assert_false(p.failed);
	/* NUL-terminated for strstr; the buffer has room past len. */
	p.buf = realloc(p.buf, p.len + 1);
	assert_non_null(p.buf);
	p.buf[p.len] = '\0';
	return p.buf;
}

/* True when text holds line as a whole line. */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

static void test_kernel_counters_and_providers(void **state)
{
	struct cs_provider_sample samples[4];
	struct cs_provider_stats a = { .syns = 2, .event_packets = 10, .bytes = 1000 };
	struct cs_provider_stats b = { .syns = 1, .event_packets = 3, .bytes = 300 };
	struct cs_run_metrics m = { .version = "1.2-test", .have_kernel = true, .providers = samples };
	size_t n = 0;
	char *text;

	cs_provider_sample_add(samples, &n, 4, "", &a);
	cs_provider_sample_add(samples, &n, 4, "aws", &a);
	/* Two ids named alike (bpftool can do it) are one series. */
	cs_provider_sample_add(samples, &n, 4, "aws", &b);
	cs_provider_sample_add(samples, &n, 4, "we\"ird\\", &b);
	assert_int_equal(n, 3);
	m.n_providers = n;
	m.counters.v[CS_CNT_PACKETS] = 1234;
	m.counters.v[CS_CNT_EVENTS_DROPPED] = 7;
	m.counters.v[CS_CNT_ERR_IPV6_EXT] = 5;
	m.counters.v[CS_CNT_FRAGMENT] = 2;

	text = render(&m);
	assert_true(has_line(text, "clicksieve_packets_total 1234"));
	assert_true(has_line(text, "clicksieve_events_dropped_total 7"));
	assert_true(has_line(text, "clicksieve_parse_errors_total{kind=\"ipv6_ext\"} 5"));
	assert_true(has_line(text, "clicksieve_parse_errors_total{kind=\"tcp\"} 0"));
	assert_true(has_line(text, "clicksieve_packets_ignored_total{kind=\"fragment\"} 2"));
	assert_true(has_line(text, "clicksieve_provider_syns_total{provider=\"none\"} 2"));
	assert_true(has_line(text, "clicksieve_provider_syns_total{provider=\"aws\"} 3"));
	assert_true(has_line(text, "clicksieve_provider_packets_total{provider=\"aws\"} 13"));
	assert_true(has_line(text, "clicksieve_provider_bytes_total{provider=\"aws\"} 1300"));
	assert_true(has_line(text, "clicksieve_provider_bytes_total{provider=\"we\\\"ird\\\\\"} 300"));
	assert_true(has_line(text, "# TYPE clicksieve_provider_syns_total counter"));
	assert_true(has_line(text, "clicksieve_build_info{version=\"1.2-test\"} 1"));
	free(text);
}

static void test_without_kernel_maps(void **state)
{
	struct cs_run_metrics m = { .version = "x" };
	char *text = render(&m);

	/* Unreadable maps: no made-up zeros for kernel series. */
	assert_null(strstr(text, "clicksieve_packets_total"));
	assert_null(strstr(text, "clicksieve_provider_syns_total"));
	assert_true(has_line(text, "clicksieve_requests_total 0"));
	free(text);
}

static void test_pipeline(void **state)
{
	struct cs_delay_hist delay = { 0 };
	struct cs_run_metrics m = {
		.version = "x",
		.delay = &delay,
		.ranges_v4 = 40,
		.ranges_v6 = 6,
		.flows = { .flows_active = 3, .mem_bytes = 4096, .ooo_cap_hits = 1,
			   .requests_lost = 2 },
		.clicks = { .requests = 9, .untracked = 4, .clicks = 5 },
		.classifier = { .clicks = 5, .verdicts = { 2, 2, 1 }, .pairs_evicted = 8,
				.pending = 1 },
		.write_errors = 1,
	};
	char *text;

	m.classifier.reasons[0] = 2;            /* scanner_range */
	m.classifier.reasons[2] = 1;            /* burst */
	cs_delay_hist_add(&delay, 2.5);
	cs_delay_hist_add(&delay, 0.25);
	cs_delay_hist_add(&delay, 1000);
	cs_delay_hist_add(&delay, -3);          /* clock stepped back: counts as 0 */
	text = render(&m);
	assert_true(has_line(text, "clicksieve_clicks_total{verdict=\"human\"} 2"));
	assert_true(has_line(text, "clicksieve_clicks_total{verdict=\"machine\"} 2"));
	assert_true(has_line(text, "clicksieve_clicks_total{verdict=\"suspect\"} 1"));
	assert_true(has_line(text, "clicksieve_click_reasons_total{reason=\"scanner_range\"} 2"));
	assert_true(has_line(text, "clicksieve_click_reasons_total{reason=\"burst\"} 1"));
	assert_true(has_line(text, "clicksieve_click_reasons_total{reason=\"honeypot\"} 0"));
	assert_true(has_line(text, "clicksieve_requests_total 9"));
	assert_true(has_line(text, "clicksieve_untracked_requests_total 4"));
	assert_true(has_line(text, "clicksieve_flows_active 3"));
	assert_true(has_line(text, "clicksieve_reassembly_bytes 4096"));
	assert_true(has_line(text, "clicksieve_request_errors_total{kind=\"lost_to_hole\"} 2"));
	assert_true(has_line(text, "clicksieve_cap_hits_total{cap=\"out_of_order\"} 1"));
	assert_true(has_line(text, "clicksieve_cap_hits_total{cap=\"click_pairs\"} 8"));
	assert_true(has_line(text, "clicksieve_pending_clicks 1"));
	assert_true(has_line(text, "clicksieve_write_errors_total 1"));
	assert_true(has_line(text, "clicksieve_ranges{family=\"ipv4\"} 40"));
	assert_true(has_line(text, "clicksieve_ranges{family=\"ipv6\"} 6"));
	assert_true(has_line(text, "clicksieve_verdict_delay_seconds_bucket{le=\"0.5\"} 2"));
	assert_true(has_line(text, "clicksieve_verdict_delay_seconds_bucket{le=\"2\"} 2"));
	assert_true(has_line(text, "clicksieve_verdict_delay_seconds_bucket{le=\"3\"} 3"));
	assert_true(has_line(text, "clicksieve_verdict_delay_seconds_bucket{le=\"300\"} 3"));
	assert_true(has_line(text, "clicksieve_verdict_delay_seconds_bucket{le=\"+Inf\"} 4"));
	assert_true(has_line(text, "clicksieve_verdict_delay_seconds_count 4"));
	assert_true(has_line(text, "clicksieve_verdict_delay_seconds_sum 1002.75"));
	free(text);
}

/* Every family is declared once, and every counter ends in _total. */
static void test_families_well_formed(void **state)
{
	struct cs_provider_sample sample = { .name = "aws" };
	struct cs_delay_hist delay = { 0 };
	struct cs_run_metrics m = { .version = "x", .have_kernel = true, .providers = &sample,
				    .n_providers = 1, .delay = &delay };
	char *text = render(&m), *save = NULL, *names[128];
	size_t n = 0;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], type[32];

		if (sscanf(line, "# TYPE %127s %31s", name, type) != 2)
			continue;
		for (size_t i = 0; i < n; i++)
			assert_string_not_equal(names[i], name);
		assert_true(n < 128);
		names[n] = strdup(name);
		if (!strcmp(type, "counter")) {
			size_t len = strlen(name);

			assert_true(len > 6 && !strcmp(name + len - 6, "_total"));
		}
		assert_int_equal(strncmp(name, "clicksieve_", 11), 0);
		n++;
	}
	assert_true(n >= 25);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_counters_and_providers),
		cmocka_unit_test(test_without_kernel_maps),
		cmocka_unit_test(test_pipeline),
		cmocka_unit_test(test_families_well_formed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
