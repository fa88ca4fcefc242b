/* JSON verdict sink: exact records, escaping, always-valid output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "sinks.h"

/* Renders one record into a malloc'ed string. */
static char *render(const struct cs_click *click, const struct cs_verdict *v)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	cs_sink_json_write(f, click, v);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static struct cs_click design_click(void)
{
	struct cs_click c = {
		.ts_us = 1794816418217110ull,           /* 2026-11-16T08:06:58.217110Z */
		.method = "GET",
		.message = "aXjHqEOdqoGrJrXXIg3",
		.recipient = "3eVtERFhrerye8fqx35VjMiBGst7AC",
		.link = "28L4VcsZppCfojE6m2XGDIPKceJvJWDh",
		.user_agent = "Mozilla/5.0 ...",
		.pos = { .file = "access.log", .line = 1 },
	};

	assert_true(cs_addr_parse("18.153.8.104", &c.client));
	return c;
}

static void test_design_record(void **state)
{
	struct cs_click c = design_click();
	struct cs_verdict v = {
		.kind = CS_MACHINE, .reasons = CS_R_BURST | CS_R_SCANNER_RANGE, .provider = "aws",
	};
	char *out = render(&c, &v);

	/* reasons in alphabetical order, as in DESIGN §3 */
	assert_string_equal(out,
		"{\"ts\":\"2026-11-16T08:06:58.217110Z\",\"ip\":\"18.153.8.104\",\"method\":\"GET\","
		"\"message\":\"aXjHqEOdqoGrJrXXIg3\",\"recipient\":\"3eVtERFhrerye8fqx35VjMiBGst7AC\","
		"\"link\":\"28L4VcsZppCfojE6m2XGDIPKceJvJWDh\",\"user_agent\":\"Mozilla/5.0 ...\","
		"\"verdict\":\"machine\",\"reasons\":[\"burst\",\"scanner_range\"],\"provider\":\"aws\","
		"\"file\":\"access.log\",\"line\":1}\n");
	free(out);
}

static void test_live_record_ipv6_no_reasons(void **state)
{
	struct cs_click c = design_click();
	struct cs_verdict v = { .kind = CS_HUMAN };
	char *out;

	c.pos.file = NULL;
	c.ts_us = 0;
	c.user_agent = "";
	strcpy(c.method, "HEAD");
	assert_true(cs_addr_parse("2001:db8::1", &c.client));
	out = render(&c, &v);
	assert_string_equal(out,
		"{\"ts\":\"1970-01-01T00:00:00.000000Z\",\"ip\":\"2001:db8::1\",\"method\":\"HEAD\","
		"\"message\":\"aXjHqEOdqoGrJrXXIg3\",\"recipient\":\"3eVtERFhrerye8fqx35VjMiBGst7AC\","
		"\"link\":\"28L4VcsZppCfojE6m2XGDIPKceJvJWDh\",\"user_agent\":\"\","
		"\"verdict\":\"human\",\"reasons\":[],\"provider\":null}\n");
	free(out);
}

static void test_missing_fields_are_null(void **state)
{
	struct cs_click c = design_click();
	struct cs_verdict v = { .kind = CS_HUMAN };
	char *out;

	memset(&c.client, 0, sizeof(c.client));
	c.user_agent = NULL;
	c.pos.file = NULL;
	out = render(&c, &v);
	assert_non_null(strstr(out, "\"ip\":null,\"method\":\"GET\","));
	assert_non_null(strstr(out, "\"user_agent\":\"\","));
	assert_non_null(strstr(out, "\"provider\":null}\n"));
	free(out);
}

static void test_all_reasons_and_suspect(void **state)
{
	struct cs_click c = design_click();
	struct cs_verdict v = { .kind = CS_SUSPECT, .reasons = (1u << CS_R_COUNT) - 1 };
	char *out = render(&c, &v);

	assert_non_null(strstr(out,
		"\"verdict\":\"suspect\",\"reasons\":[\"bot_agent\",\"burst\",\"head_request\","
		"\"honeypot\",\"learned_range\",\"multi_ip\",\"scanner_range\",\"weak_range\"],"
		"\"provider\":null,"));
	free(out);
}

static void test_reason_order_table(void **state)
{
	unsigned seen = 0;

	for (size_t i = 0; i < CS_R_COUNT; i++) {
		seen |= 1u << cs_reasons_by_name[i];
		if (i > 0)
			assert_true(strcmp(cs_reason_name(cs_reasons_by_name[i - 1]),
					   cs_reason_name(cs_reasons_by_name[i])) < 0);
	}
	assert_int_equal(seen, (1u << CS_R_COUNT) - 1);
}

static void test_timestamps(void **state)
{
	static const struct {
		uint64_t ts_us;
		const char *text;
	} cases[] = {
		{ 951782400000001ull, "2000-02-29T00:00:00.000001Z" },     /* leap day */
		{ 1709251199999999ull, "2024-02-29T23:59:59.999999Z" },
		{ 1735689599123456ull, "2024-12-31T23:59:59.123456Z" },
		{ 4102444800000000ull, "2100-01-01T00:00:00.000000Z" },
		{ 253402300799000000ull, "9999-12-31T23:59:59.000000Z" },
	};
	struct cs_click c = design_click();
	struct cs_verdict v = { .kind = CS_HUMAN };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[64], *out;

		c.ts_us = cases[i].ts_us;
		out = render(&c, &v);
		snprintf(want, sizeof(want), "{\"ts\":\"%s\",", cases[i].text);
		if (strncmp(out, want, strlen(want)))
			fail_msg("ts %llu: got %.40s, want %s", (unsigned long long)cases[i].ts_us,
				 out, want);
		free(out);
	}
	/* cross-check against gmtime over a spread of times */
	for (uint64_t secs = 0; secs < 8000000000ull; secs += 86399 * 97 + 13) {
		char want[64], *out;
		time_t t = secs;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(want, sizeof(want), "{\"ts\":\"%Y-%m-%dT%H:%M:%S.000042Z\",", &tm);
		c.ts_us = secs * 1000000 + 42;
		out = render(&c, &v);
		if (strncmp(out, want, strlen(want)))
			fail_msg("ts %llu: got %.40s, want %s", (unsigned long long)secs, out, want);
		free(out);
	}
	/* second by second across midnight and a month end: the kept date must follow */
	for (uint64_t secs = 1798761600 - 3; secs < 1798761600 + 3; secs++) {
		for (uint64_t us = 0; us < 2000000; us += 999999) {
			char want[64], *out;
			time_t t = secs + us / 1000000;
			struct tm tm;

			gmtime_r(&t, &tm);
			snprintf(want, sizeof(want), "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06uZ\",",
				 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
				 tm.tm_sec, (unsigned)(us % 1000000));
			c.ts_us = secs * 1000000 + us;
			out = render(&c, &v);
			if (strncmp(out, want, strlen(want)))
				fail_msg("ts %llu: got %.40s, want %s", (unsigned long long)c.ts_us,
					 out, want);
			free(out);
		}
	}
}

/* Lengths given by the producer (0 = not given) change nothing in the record. */
static void test_given_lengths(void **state)
{
	struct cs_click c = design_click();
	struct cs_verdict v = { .kind = CS_SUSPECT, .reasons = CS_R_WEAK_RANGE };
	char *unknown, *given;

	unknown = render(&c, &v);
	c.message_len = strlen(c.message);
	c.recipient_len = strlen(c.recipient);
	c.link_len = strlen(c.link);
	c.user_agent_len = strlen(c.user_agent);
	c.pos.file_len = strlen(c.pos.file);
	given = render(&c, &v);
	assert_string_equal(given, unknown);
	assert_non_null(strstr(given, "\"file\":\"access.log\",\"line\":1}"));
	free(unknown);
	free(given);
}

/* The escaped user_agent as rendered, between "user_agent": and ,"verdict". */
static char *render_agent(const char *agent)
{
	struct cs_click c = design_click();
	struct cs_verdict v = { .kind = CS_HUMAN };
	char *out, *start, *end, *res;

	c.user_agent = agent;
	out = render(&c, &v);
	start = strstr(out, "\"user_agent\":");
	end = strstr(out, ",\"verdict\":");
	assert_non_null(start);
	assert_non_null(end);
	start += strlen("\"user_agent\":");
	res = strndup(start, end - start);
	free(out);
	return res;
}

static void expect_agent(const char *agent, const char *json)
{
	char *got = render_agent(agent);

	if (strcmp(got, json))
		fail_msg("escaping \"%s\": got %s, want %s", agent, got, json);
	free(got);
}

static void test_escaping(void **state)
{
	expect_agent("plain", "\"plain\"");
	expect_agent("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
	expect_agent("\x01\t\n\r\x1f\x7f", "\"\\u0001\\u0009\\u000a\\u000d\\u001f\\u007f\"");
	/* valid UTF-8 passes through: 2, 3 and 4 byte sequences */
	expect_agent("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	/* invalid bytes: lone continuation, truncated, overlong, surrogate, > U+10FFFF */
	expect_agent("a\x80z", "\"a\\ufffdz\"");
	expect_agent("\xc3", "\"\\ufffd\"");
	expect_agent("\xe2\x82", "\"\\ufffd\\ufffd\"");
	expect_agent("\xc0\xaf", "\"\\ufffd\\ufffd\"");
	expect_agent("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");
	expect_agent("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
	expect_agent("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	expect_agent("\xff\xfe", "\"\\ufffd\\ufffd\"");
	expect_agent("\xc3\xa9\xc3", "\"\xc3\xa9\\ufffd\"");
}

/*
 * Plain runs are copied a word at a time: every escape must come out the
 * same at every offset inside a long agent, next to plain bytes that sit
 * at the edges of what the word test lets through.
 */
static void test_escaping_at_every_offset(void **state)
{
	static const struct {
		const char *raw, *escaped;
	} cases[] = {
		{ "\"", "\\\"" }, { "\\", "\\\\" }, { "\x1f", "\\u001f" }, { "\x7f", "\\u007f" },
		{ "\x01", "\\u0001" }, { "\xc3\xa9", "\xc3\xa9" },
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
		{ "\x80", "\\ufffd" }, { "\xff", "\\ufffd" }, { "\xe2\x82", "\\ufffd\\ufffd" },
	};
	/* neighbours of the special bytes: space, '!', '#', '[', ']', '~' */
	static const char pad[] = " !#[]~ab !#[]~ab !#[]~ab !#[]~ab";

	/* plain strings of every length around the 8- and 16-byte steps */
	for (size_t len = 0; len <= 33; len++) {
		char agent[64], want[80];

		snprintf(agent, sizeof(agent), "%.*s", (int)len, pad);
		snprintf(want, sizeof(want), "\"%s\"", agent);
		expect_agent(agent, want);
	}
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		for (size_t before = 0; before <= 17; before++) {
			for (size_t after = 0; after <= 9; after++) {
				char agent[128], want[160];

				snprintf(agent, sizeof(agent), "%.*s%s%.*s", (int)before, pad,
					 cases[k].raw, (int)after, pad);
				snprintf(want, sizeof(want), "\"%.*s%s%.*s\"", (int)before, pad,
					 cases[k].escaped, (int)after, pad);
				expect_agent(agent, want);
			}
		}
	}
}

/* The last agent and file are reused as escaped: repeats and near-repeats stay exact. */
static void test_repeated_strings(void **state)
{
	static const char *const agents[] = {
		"curl/8.4.0", "curl/8.4.0", "curl/8.4.1", "curl/8.4.0", "curl\"8.4.0", "curl/8.4",
		"", "", "curl/8.4.0",
	};
	static const char *const escaped[] = {
		"\"curl/8.4.0\"", "\"curl/8.4.0\"", "\"curl/8.4.1\"", "\"curl/8.4.0\"",
		"\"curl\\\"8.4.0\"", "\"curl/8.4\"", "\"\"", "\"\"", "\"curl/8.4.0\"",
	};
	struct cs_click c = design_click();
	struct cs_verdict v = { .kind = CS_HUMAN };

	for (size_t i = 0; i < sizeof(agents) / sizeof(agents[0]); i++)
		expect_agent(agents[i], escaped[i]);
	for (int i = 0; i < 3; i++) {
		char *out;

		c.pos.file = i == 1 ? "b\"log" : "a\"log";
		out = render(&c, &v);
		assert_non_null(strstr(out, i == 1 ? "\"file\":\"b\\\"log\"," :
					       "\"file\":\"a\\\"log\","));
		free(out);
	}
}

static void test_ids_and_file_escaped(void **state)
{
	struct cs_click c = design_click();
	struct cs_verdict v = { .kind = CS_MACHINE, .reasons = CS_R_HONEYPOT, .provider = "a\"b" };
	char *out;

	c.message = "m\"1";
	c.recipient = "r\\2";
	c.link = "l\n3";
	c.pos.file = "dir/\"odd\".log";
	c.pos.line = 18446744073709551615ull;
	memcpy(c.method, "0123456789ABCDEF", CS_METHOD_LEN);     /* no NUL */
	out = render(&c, &v);
	assert_non_null(strstr(out, "\"method\":\"0123456789ABCDEF\","));
	assert_non_null(strstr(out, "\"message\":\"m\\\"1\",\"recipient\":\"r\\\\2\","
				    "\"link\":\"l\\u000a3\","));
	assert_non_null(strstr(out, "\"provider\":\"a\\\"b\",\"file\":\"dir/\\\"odd\\\".log\","
				    "\"line\":18446744073709551615}\n"));
	free(out);
}

static void test_long_strings(void **state)
{
	/* far beyond the stack buffer, worst-case escaping: still one whole line */
	const size_t n = 100000;
	char *agent = malloc(n + 1), *want = malloc(6 * n + 3), *got;

	assert_non_null(agent);
	assert_non_null(want);
	memset(agent, '\x01', n);
	agent[n] = '\0';
	want[0] = '"';
	for (size_t i = 0; i < n; i++)
		memcpy(want + 1 + 6 * i, "\\u0001", 6);
	strcpy(want + 1 + 6 * n, "\"");
	got = render_agent(agent);
	assert_int_equal(strlen(got), 6 * n + 2);
	assert_string_equal(got, want);
	free(got);

	memset(agent, 'x', n);
	got = render_agent(agent);
	assert_int_equal(strlen(got), n + 2);
	free(got);
	free(agent);
	free(want);
}

/*
 * A collecting sink writes exactly what one-record writes would, across
 * its buffer's end and with records larger than the buffer; lengths given
 * with the strings give the same text as lengths left to strlen().
 */
static void test_json_sink_blocks(void **state)
{
	const size_t long_agent = 100000;
	char *want = NULL, *got = NULL, *agent = malloc(long_agent + 1);
	size_t want_len = 0, got_len = 0;
	FILE *want_f = open_memstream(&want, &want_len), *got_f = open_memstream(&got, &got_len);
	struct cs_json_sink *sink = cs_json_sink_new(got_f);
	struct cs_click c = design_click();

	assert_non_null(agent);
	assert_non_null(want_f);
	assert_non_null(got_f);
	assert_non_null(sink);
	memset(agent, 'a', long_agent);
	agent[long_agent] = '\0';
	for (unsigned i = 0; i < 3000; i++) {
		struct cs_verdict v = { .kind = i % 3, .reasons = i % 256,
					.provider = i % 5 ? NULL : "aws" };
		struct cs_click given;

		c.ts_us += 1234567;
		c.pos.line = i + 1;
		c.user_agent = i == 1500 ? agent : i % 2 ? "curl/8.4.0" : "Mozilla/5.0 \"x\"";
		cs_sink_json_write(want_f, &c, &v);
		given = c;
		given.message_len = strlen(c.message);
		given.recipient_len = strlen(c.recipient);
		given.link_len = strlen(c.link);
		given.user_agent_len = strlen(c.user_agent);
		cs_json_sink_write(sink, i % 2 ? &given : &c, &v);
		if (i == 0) {
			/* collected, not written */
			assert_int_equal(fflush(got_f), 0);
			assert_int_equal(got_len, 0);
		}
	}
	assert_int_equal(cs_json_sink_flush(sink), 0);
	assert_int_equal(cs_json_sink_flush(sink), 0);
	assert_int_equal(fclose(want_f), 0);
	assert_int_equal(fclose(got_f), 0);
	assert_true(want_len > long_agent + 64 * 1024);
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
	cs_json_sink_free(sink);
	free(agent);
	free(want);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_design_record),
		cmocka_unit_test(test_live_record_ipv6_no_reasons),
		cmocka_unit_test(test_missing_fields_are_null),
		cmocka_unit_test(test_all_reasons_and_suspect),
		cmocka_unit_test(test_reason_order_table),
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_given_lengths),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_escaping_at_every_offset),
		cmocka_unit_test(test_repeated_strings),
		cmocka_unit_test(test_ids_and_file_escaped),
		cmocka_unit_test(test_long_strings),
		cmocka_unit_test(test_json_sink_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
