/* Log line parsers: combined, json, nginx log_format strings, bad lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "logformat.h"

#define SEED_TS_US 1551654393000000ull  /* 2019-03-03T23:06:33Z = 22:06:33 -0100 */

static const char seed_line[] =
	"1.2.3.4 - - [03/Mar/2019:22:06:33 -0100] \"GET /redirect?link=kYhjd36684679Gopkfdgjhf_htwVylYcl"
	"&l=D0I3r8wfwlIrtfku43I0IEk3felfqy&s=RBMKHJZJHECCFGRAFOF HTTP/1.1\" 302 0 \"-\" "
	"\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36\"";

struct parsed {
	char buf[2048];
	struct cs_log_record rec;
	struct cs_log_error err;
	bool ok;
};

static struct cs_logformat *compile_ok(const char *spec)
{
	char err[256] = "";
	struct cs_logformat *f = cs_logformat_compile(spec, NULL, NULL, 0, err, sizeof(err));

	if (!f)
		fail_msg("compile '%s': %s", spec, err);
	return f;
}

static void parse(struct cs_logformat *f, const char *line, struct parsed *p)
{
	size_t len = strlen(line);

	assert_true(len < sizeof(p->buf));
	memcpy(p->buf, line, len + 1);
	memset(&p->rec, 0, sizeof(p->rec));
	memset(&p->err, 0, sizeof(p->err));
	p->ok = cs_logformat_parse(f, p->buf, len, &p->rec, &p->err);
}

static void assert_addr(const struct cs_addr *a, const char *want)
{
	char buf[CS_ADDR_STRLEN];

	assert_string_equal(cs_addr_format(a, buf), want);
}

static void test_combined_seed_line(void **state)
{
	struct cs_logformat *f = compile_ok("combined");
	struct parsed p;

	parse(f, seed_line, &p);
	assert_true(p.ok);
	assert_int_equal(p.rec.ts_us, SEED_TS_US);
	assert_addr(&p.rec.remote, "1.2.3.4");
	assert_string_equal(p.rec.method, "GET");
	assert_string_equal(p.rec.target, "/redirect?link=kYhjd36684679Gopkfdgjhf_htwVylYcl"
			    "&l=D0I3r8wfwlIrtfku43I0IEk3felfqy&s=RBMKHJZJHECCFGRAFOF");
	assert_int_equal(p.rec.target_len, strlen(p.rec.target));
	assert_int_equal(p.rec.status, 302);
	assert_string_equal(p.rec.referer, "");
	assert_string_equal(p.rec.user_agent, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36");
	assert_string_equal(p.rec.xff, "");
	cs_logformat_free(f);
}

static void test_time_offsets_and_cache(void **state)
{
	struct cs_logformat *f = compile_ok("combined");
	struct parsed p;

	/* Same instant in three offsets; the cached date must not leak between them. */
	parse(f, "192.0.2.1 - - [03/Mar/2019:23:06:33 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"", &p);
	assert_true(p.ok);
	assert_int_equal(p.rec.ts_us, SEED_TS_US);
	parse(f, "192.0.2.1 - - [04/Mar/2019:00:36:33 +0130] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"", &p);
	assert_true(p.ok);
	assert_int_equal(p.rec.ts_us, SEED_TS_US);
	parse(f, "192.0.2.1 - - [03/Mar/2019:22:06:34 -0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"", &p);
	assert_true(p.ok);
	assert_int_equal(p.rec.ts_us, SEED_TS_US + 1000000);
	/* Leap day. */
	parse(f, "192.0.2.1 - - [29/Feb/2024:12:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"", &p);
	assert_true(p.ok);
	assert_int_equal(p.rec.ts_us, 1709208000000000ull);
	cs_logformat_free(f);
}

static void test_combined_ipv6_and_escaped_quotes(void **state)
{
	struct cs_logformat *f = compile_ok("combined");
	struct parsed p;

	parse(f, "2001:db8::17 - alice [03/Mar/2019:22:06:33 -0100] \"GET /a?x=\\\"q\\\" HTTP/1.1\" 200 5 "
		 "\"http://example.com/\" \"Agent \\\"quoted\\\" \\x22hex\\x22\"", &p);
	assert_true(p.ok);
	assert_addr(&p.rec.remote, "2001:db8::17");
	assert_string_equal(p.rec.target, "/a?x=\"q\"");
	assert_string_equal(p.rec.referer, "http://example.com/");
	assert_string_equal(p.rec.user_agent, "Agent \"quoted\" \"hex\"");
	cs_logformat_free(f);
}

static void test_request_forms(void **state)
{
	struct cs_logformat *f = compile_ok("combined");
	struct parsed p;

	/* HTTP/0.9 has no protocol; a target with spaces keeps them. */
	parse(f, "192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"HEAD /r?s=1\" 200 0 \"-\" \"-\"", &p);
	assert_true(p.ok);
	assert_string_equal(p.rec.method, "HEAD");
	assert_string_equal(p.rec.target, "/r?s=1");
	assert_string_equal(p.rec.user_agent, "");
	/* Garbage request lines are lines, just not clicks. */
	parse(f, "192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"\\x16\\x03\\x01\" 400 0 \"-\" \"-\"", &p);
	assert_true(p.ok);
	assert_string_equal(p.rec.method, "");
	assert_string_equal(p.rec.target, "");
	assert_int_equal(p.rec.target_len, 0);
	cs_logformat_free(f);
}

static void test_common_subset(void **state)
{
	struct cs_logformat *f = compile_ok("common");
	struct parsed p;

	parse(f, "192.0.2.9 - - [03/Mar/2019:22:06:33 -0100] \"GET /x HTTP/1.0\" 404 12", &p);
	assert_true(p.ok);
	assert_int_equal(p.rec.status, 404);
	assert_string_equal(p.rec.target, "/x");
	assert_string_equal(p.rec.user_agent, "");
	cs_logformat_free(f);
}

static void test_json_time_variants(void **state)
{
	struct cs_logformat *f = compile_ok("json");
	struct parsed p;

	parse(f, "{\"msec\":\"1551654393.123\",\"remote_addr\":\"198.51.100.7\","
		 "\"request\":\"GET /redirect?s=1 HTTP/1.1\",\"status\":\"302\","
		 "\"http_user_agent\":\"Mozilla\\/5.0 \\u00e9\\x22\"}", &p);
	assert_true(p.ok);
	assert_int_equal(p.rec.ts_us, SEED_TS_US + 123000);
	assert_addr(&p.rec.remote, "198.51.100.7");
	assert_string_equal(p.rec.method, "GET");
	assert_string_equal(p.rec.target, "/redirect?s=1");
	assert_int_equal(p.rec.status, 302);
	assert_string_equal(p.rec.user_agent, "Mozilla/5.0 \xc3\xa9\"");

	parse(f, "{ \"time_iso8601\": \"2019-03-03T22:06:33-01:00\", \"remote_addr\": \"2001:db8::1\", "
		 "\"request_method\": \"POST\", \"request_uri\": \"/c/1/2/3\", \"status\": 200 }", &p);
	assert_true(p.ok);
	assert_int_equal(p.rec.ts_us, SEED_TS_US);
	assert_string_equal(p.rec.method, "POST");
	assert_string_equal(p.rec.target, "/c/1/2/3");
	assert_int_equal(p.rec.status, 200);

	parse(f, "{\"time_iso8601\":\"2019-03-03T23:06:33.250Z\",\"remote_addr\":\"192.0.2.1\","
		 "\"request\":\"GET / HTTP/1.1\"}", &p);
	assert_true(p.ok);
	assert_int_equal(p.rec.ts_us, SEED_TS_US + 250000);

	parse(f, "{\"time_local\":\"03/Mar/2019:22:06:33 -0100\",\"remote_addr\":\"192.0.2.1\","
		 "\"request\":\"GET / HTTP/1.1\",\"http_x_forwarded_for\":\"203.0.113.5, 192.0.2.1\","
		 "\"unknown\":null,\"n\":12}", &p);
	assert_true(p.ok);
	assert_int_equal(p.rec.ts_us, SEED_TS_US);
	assert_string_equal(p.rec.xff, "203.0.113.5, 192.0.2.1");
	assert_int_equal(p.rec.xff_len, strlen("203.0.113.5, 192.0.2.1"));
	cs_logformat_free(f);
}

static void test_json_mapped_keys(void **state)
{
	const char *vars[] = { "remote_addr", "msec", "http_user_agent" };
	const char *keys[] = { "client", "ts", "ua" };
	char err[256];
	struct cs_logformat *f = cs_logformat_compile("json", vars, keys, 3, err, sizeof(err));
	struct parsed p;

	assert_non_null(f);
	parse(f, "{\"client\":\"192.0.2.3\",\"ts\":1551654393.5,\"request\":\"GET /x HTTP/1.1\",\"ua\":\"u\"}", &p);
	assert_true(p.ok);
	assert_addr(&p.rec.remote, "192.0.2.3");
	assert_int_equal(p.rec.ts_us, SEED_TS_US + 500000);
	assert_string_equal(p.rec.user_agent, "u");
	/* The variable's own name is no longer read once it is mapped. */
	parse(f, "{\"remote_addr\":\"192.0.2.3\",\"ts\":1551654393.5,\"request\":\"GET /x HTTP/1.1\"}", &p);
	assert_false(p.ok);
	assert_string_equal(p.err.reason, "missing remote address");
	cs_logformat_free(f);

	vars[0] = "no_such_variable";
	assert_null(cs_logformat_compile("json", vars, keys, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "no_such_variable"));
}

static void test_custom_log_format(void **state)
{
	struct cs_logformat *f = compile_ok(
		"time=${time_iso8601} peer=$remote_addr xff=\"$http_x_forwarded_for\" "
		"req=\"$request_method $request_uri\" rt=$request_time ua=\"$http_user_agent\"");
	struct parsed p;

	parse(f, "time=2019-03-03T23:06:33+00:00 peer=192.0.2.10 xff=\"203.0.113.9\" "
		 "req=\"GET /redirect?s=a&l=b&link=c\" rt=0.001 ua=\"curl/8.0\"", &p);
	assert_true(p.ok);
	assert_int_equal(p.rec.ts_us, SEED_TS_US);
	assert_addr(&p.rec.remote, "192.0.2.10");
	assert_string_equal(p.rec.xff, "203.0.113.9");
	assert_string_equal(p.rec.method, "GET");
	assert_string_equal(p.rec.target, "/redirect?s=a&l=b&link=c");
	assert_string_equal(p.rec.user_agent, "curl/8.0");

	/* Literal text between fields must match. */
	parse(f, "time=2019-03-03T23:06:33+00:00 host=192.0.2.10 xff=\"-\" req=\"GET /\" rt=0 ua=\"-\"", &p);
	assert_false(p.ok);
	assert_string_equal(p.err.reason, "line does not match the format");
	assert_int_equal(p.err.column, 31);
	cs_logformat_free(f);
}

static void test_compile_errors(void **state)
{
	char err[256];

	assert_null(cs_logformat_compile("apache", NULL, NULL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown format"));
	assert_null(cs_logformat_compile("$remote_addr$time_local \"$request\"", NULL, NULL, 0, err,
					 sizeof(err)));
	assert_non_null(strstr(err, "without text between"));
	assert_null(cs_logformat_compile("$remote_addr [$time_local]", NULL, NULL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "$request"));
	assert_null(cs_logformat_compile("$time_local \"$request\"", NULL, NULL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "$remote_addr"));
	assert_null(cs_logformat_compile("$remote_addr ${time_local \"$request\"", NULL, NULL, 0, err,
					 sizeof(err)));
	assert_non_null(strstr(err, "unterminated"));
	assert_true(cs_logformat_var_known("http_x_forwarded_for"));
	assert_false(cs_logformat_var_known("upstream_addr"));
}

static void expect_bad(struct cs_logformat *f, const char *line, const char *reason)
{
	struct parsed p;

	parse(f, line, &p);
	if (p.ok)
		fail_msg("accepted bad line: %s", line);
	assert_string_equal(p.err.reason, reason);
	assert_true(p.err.column >= 1 && p.err.column <= strlen(line) + 1);
}

static void test_combined_bracketed_ipv6(void **state)
{
	struct cs_logformat *f = compile_ok("combined");
	struct parsed p;

	parse(f, "[2001:db8::1] - - [16/Nov/2026:08:00:00 +0000] \"GET /redirect?link=L&l=R&s=S HTTP/1.1\" "
		 "302 0 \"-\" \"Mozilla/5.0\"", &p);
	assert_true(p.ok);
	assert_addr(&p.rec.remote, "2001:db8::1");
	assert_int_equal(p.rec.ts_us, 1794816000000000ull);
	assert_string_equal(p.rec.target, "/redirect?link=L&l=R&s=S");
	assert_int_equal(p.rec.status, 302);
	assert_string_equal(p.rec.user_agent, "Mozilla/5.0");
	/* brackets are for IPv6 only, and hold an address, not a port */
	expect_bad(f, "[192.0.2.1] - - [16/Nov/2026:08:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"",
		   "bad remote address");
	expect_bad(f, "[2001:db8::1]:443 - - [16/Nov/2026:08:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"",
		   "bad remote address");
	expect_bad(f, "[2001:db8::1 - - [16/Nov/2026:08:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"",
		   "bad remote address");
	expect_bad(f, "[] - - [16/Nov/2026:08:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"",
		   "bad remote address");
	cs_logformat_free(f);
}

static void test_bad_lines(void **state)
{
	struct cs_logformat *f = compile_ok("combined");
	struct cs_logformat *j = compile_ok("json");

	expect_bad(f, "192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /redirect?s=1", "truncated line");
	expect_bad(f, "192.0.2.1 - - [03/Mar/2019:22:06", "truncated line");
	expect_bad(f, "", "truncated line");
	expect_bad(f, "192.0.2.1 - - [31/Feb/2019:22:06:33 -0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"",
		   "bad date");
	expect_bad(f, "192.0.2.1 - - [03/Mrz/2019:22:06:33 -0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"",
		   "bad date");
	expect_bad(f, "192.0.2.1 - - [03/Mar/2019:25:06:33 -0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"",
		   "bad date");
	expect_bad(f, "192.0.2.1 - - [03/Mar/2019:22:06:33 -01] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"",
		   "bad date");
	expect_bad(f, "192.0.2.256 - - [03/Mar/2019:22:06:33 -0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"",
		   "bad remote address");
	expect_bad(f, "host.example - - [03/Mar/2019:22:06:33 -0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"",
		   "bad remote address");
	expect_bad(f, "192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET / HTTP/1.1\" 2x0 1 \"-\" \"a\"",
		   "bad status");
	expect_bad(f, "192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\" extra",
		   "unexpected text after the last field");
	expect_bad(j, "{\"msec\":\"1551654393.1\",\"remote_addr\":\"192.0.2.1\",\"request\":\"GET /", "truncated line");
	expect_bad(j, "{\"msec\":\"15516x\",\"remote_addr\":\"192.0.2.1\",\"request\":\"GET / HTTP/1.1\"}", "bad date");
	expect_bad(j, "{\"msec\":\"1551654393\",\"request\":\"GET / HTTP/1.1\"}", "missing remote address");
	expect_bad(j, "{\"remote_addr\":\"192.0.2.1\",\"request\":\"GET / HTTP/1.1\"}", "missing time");
	expect_bad(j, "{\"msec\":\"1551654393\",\"remote_addr\":\"192.0.2.1\"}", "missing request");
	expect_bad(j, "{\"msec\":\"1\",\"a\":{\"b\":1}}", "nested JSON value");
	expect_bad(j, "not json", "not a JSON object");
	expect_bad(j, "{\"msec\":\"1551654393\",\"remote_addr\":\"192.0.2.1\",\"request\":\"GET /\"} x",
		   "unexpected text after the JSON object");
	{
		/* Fields become C strings: a NUL inside would cut one silently. */
		char nul[] = "192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /\0x HTTP/1.1\" 200 1 \"-\" \"a\"";
		struct cs_log_record rec;
		struct cs_log_error e;

		assert_false(cs_logformat_parse(f, nul, sizeof(nul) - 1, &rec, &e));
		assert_string_equal(e.reason, "NUL byte in line");
		assert_int_equal(e.column, 50);
	}
	cs_logformat_free(f);
	cs_logformat_free(j);
}

/* An escape that decodes to NUL would cut a field's C string short of its length. */
static void test_escaped_nul_is_bad_line(void **state)
{
	struct cs_logformat *f = compile_ok("combined");
	struct cs_logformat *c = compile_ok("$remote_addr [$time_local] \"$request_method $request_uri\" "
					    "xff=\"$http_x_forwarded_for\" fwd=\"$http_forwarded\"");
	struct cs_logformat *j = compile_ok("json");
	struct parsed p;

	expect_bad(f, "192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r?s=\\x00a HTTP/1.1\" 200 1 \"-\" \"a\"",
		   "escaped NUL byte in field");
	parse(f, "192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r?s=\\x00a HTTP/1.1\" 200 1 \"-\" \"a\"", &p);
	assert_int_equal(p.err.column, 54);
	expect_bad(f, "192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\\x00b\"",
		   "escaped NUL byte in field");
	expect_bad(f, "192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET / HTTP/1.1\" 200 1 \"\\x00\" \"a\"",
		   "escaped NUL byte in field");
	expect_bad(c, "192.0.2.1 [03/Mar/2019:22:06:33 -0100] \"GET /r\\x00\" xff=\"-\" fwd=\"-\"",
		   "escaped NUL byte in field");
	expect_bad(c, "192.0.2.1 [03/Mar/2019:22:06:33 -0100] \"G\\x00T /r\" xff=\"-\" fwd=\"-\"",
		   "escaped NUL byte in field");
	expect_bad(c, "192.0.2.1 [03/Mar/2019:22:06:33 -0100] \"GET /r\" xff=\"198.51.100.7\\x00, 192.0.2.9\" "
		   "fwd=\"-\"", "escaped NUL byte in field");
	expect_bad(c, "192.0.2.1 [03/Mar/2019:22:06:33 -0100] \"GET /r\" xff=\"-\" fwd=\"for=\\x00\"",
		   "escaped NUL byte in field");
	expect_bad(j, "{\"msec\":\"1551654393\",\"remote_addr\":\"192.0.2.1\",\"request\":\"GET /\\u0000 HTTP/1.1\"}",
		   "escaped NUL byte in field");
	expect_bad(j, "{\"msec\":\"1551654393\",\"remote_addr\":\"192.0.2.1\",\"request\":\"GET / HTTP/1.1\","
		   "\"http_x_forwarded_for\":\"\\u0000\"}", "escaped NUL byte in field");
	/* other escapes still decode, and the lengths match the strings */
	parse(c, "192.0.2.1 [03/Mar/2019:22:06:33 -0100] \"GET /r\\x01\\x22\" xff=\"198.51.100.7\\x20\" fwd=\"-\"",
	      &p);
	assert_true(p.ok);
	assert_string_equal(p.rec.target, "/r\x01\"");
	assert_int_equal(p.rec.target_len, strlen(p.rec.target));
	assert_string_equal(p.rec.xff, "198.51.100.7 ");
	assert_int_equal(p.rec.xff_len, strlen(p.rec.xff));
	cs_logformat_free(f);
	cs_logformat_free(c);
	cs_logformat_free(j);
}

/*
 * The combined/common fast path against the general parser: same verdict,
 * same error, same record (strings at the same places in the line, same
 * lengths) and the same bytes left in the line.
 */
static void expect_same_parse(struct cs_logformat *f, const char *line, size_t len)
{
	static char fast_buf[4096], general_buf[4096];
	struct cs_log_record fast, general;
	struct cs_log_error fast_err = { 0 }, general_err = { 0 };
	bool fast_ok, general_ok;

	assert_true(len < sizeof(fast_buf));
	memset(&fast, 0, sizeof(fast));
	memset(&general, 0, sizeof(general));
	memcpy(fast_buf, line, len);
	memcpy(general_buf, line, len);
	fast_ok = cs_logformat_parse(f, fast_buf, len, &fast, &fast_err);
	general_ok = cs_logformat_parse_general(f, general_buf, len, &general, &general_err);
	if (fast_ok != general_ok)
		fail_msg("fast %d, general %d on: %.*s", fast_ok, general_ok, (int)len, line);
	if (!fast_ok) {
		assert_string_equal(fast_err.reason, general_err.reason);
		assert_int_equal(fast_err.column, general_err.column);
		return;
	}
	assert_memory_equal(fast_buf, general_buf, len + 1);
	assert_int_equal(fast.ts_us, general.ts_us);
	assert_int_equal(fast.remote.family, general.remote.family);
	assert_memory_equal(fast.remote.bytes, general.remote.bytes, 16);
	assert_int_equal(fast.status, general.status);
	assert_int_equal(fast.target_len, general.target_len);
	assert_int_equal(fast.user_agent_len, general.user_agent_len);
	assert_int_equal(fast.xff_len, general.xff_len);
	assert_int_equal(fast.forwarded_len, general.forwarded_len);
#define SAME_TEXT(field)                                                                         \
	do {                                                                                     \
		if (*fast.field || *general.field)                                               \
			assert_int_equal(fast.field - fast_buf, general.field - general_buf);    \
	} while (0)
	SAME_TEXT(method);
	SAME_TEXT(target);
	SAME_TEXT(user_agent);
	SAME_TEXT(referer);
	SAME_TEXT(xff);
	SAME_TEXT(forwarded);
#undef SAME_TEXT
	assert_int_equal(strlen(fast.target), fast.target_len);
	assert_int_equal(strlen(fast.user_agent), fast.user_agent_len);
}

static void test_fast_path_matches_general(void **state)
{
	static const char *const lines[] = {
		seed_line,
		"192.0.2.1 - - [16/Nov/2026:09:00:00 +0100] \"GET /redirect?link=L1&l=r0s1&s=m0 HTTP/1.1\" 302 0 "
		"\"-\" \"Mozilla/5.0 (Windows NT 10.0; Win64; x64)\"",
		"2001:db8::1 - alice [16/Nov/2026:09:00:00 -0530] \"HEAD /r HTTP/2.0\" 200 512 "
		"\"https://example.com/\" \"curl/8.0\"",
		"[2001:db8::1] - - [16/Nov/2026:08:00:00 +0000] \"GET /redirect?link=L&l=R&s=S HTTP/1.1\" 302 0 \"-\" \"a\"",
		"::ffff:192.0.2.7 - - [29/Feb/2024:23:59:60 +1400] \"GET /x HTTP/1.0\" 404 - \"-\" \"-\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r?a=\\\"q\\\" HTTP/1.1\" 200 1 \"-\" \"a \\\"b\\\" c\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 200 1 \"\\x41\" \"ua\\xE2\\x82\\xAC\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r\\x00 HTTP/1.1\" 200 1 \"-\" \"a\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"-\" 400 0 \"-\" \"-\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" - 0 \"-\" \"a\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r\" 200 0 \"-\" \"a\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET\" 200 0 \"-\" \"a\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"\" 200 0 \"\" \"\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET  HTTP/1.1\" 200 0 \"-\" \"a\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /a b HTTP/1.1\" 200 0 \"-\" \"a\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /a HTTP/\" 200 0 \"-\" \"a\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /a HTTP\" 200 0 \"-\" \"a\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /a HTTP/1.1 \" 200 0 \"-\" \"a\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 200 0 \"-\" \"a\"b\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 200 0 \"-\" \"a\" extra",
		"192.0.2.1 -  [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 200 0 \"-\" \"a\"",
		"192.0.2.1 - bob smith [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 200 0 \"-\" \"a\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 2000 0 \"-\" \"a\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 200 0 1 \"-\" \"a\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100]  \"GET /r HTTP/1.1\" 200 0 \"-\" \"a\"",
		"192.0.2.1 - - [3/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 200 0 \"-\" \"a\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100 ] \"GET /r HTTP/1.1\" 200 0 \"-\" \"a\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 200 0",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 200 0 extra \"text\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 200 ",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 200",
		"192.0.2.01 - - [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 200 0 \"-\" \"a\"",
		"192.0.2.1\t- - [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 200 0 \"-\" \"a\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 200 0 \"-\" \"0123456789abcdef\\\\\"",
		"192.0.2.1 - - [03/Mar/2019:22:06:33 -0100] \"GET /r HTTP/1.1\" 200 0 \"-\" \"0123456789abcdef0123456789\"",
	};
	/* bytes that end fields, escape, or do not belong in a line */
	static const char specials[] = { '"', '\\', ' ', '\0', '-', ']', '[', '\t', 'x', '/', ':' };
	struct cs_logformat *formats[] = {
		compile_ok("combined"), compile_ok("common"), compile_ok(CS_LOGFORMAT_COMBINED),
	};

	for (size_t fi = 0; fi < sizeof(formats) / sizeof(formats[0]); fi++) {
		for (size_t li = 0; li < sizeof(lines) / sizeof(lines[0]); li++) {
			char line[1024];
			size_t len = strlen(lines[li]);

			/* every truncation, and every byte replaced by each special */
			for (size_t cut = 0; cut <= len; cut++)
				expect_same_parse(formats[fi], lines[li], cut);
			for (size_t at = 0; at < len; at++) {
				for (size_t k = 0; k < sizeof(specials); k++) {
					memcpy(line, lines[li], len);
					line[at] = specials[k];
					expect_same_parse(formats[fi], line, len);
				}
			}
		}
		/* common lines are combined lines cut after the size */
		expect_same_parse(formats[fi], seed_line, strstr(seed_line, " 302 0") + 6 - seed_line);
		cs_logformat_free(formats[fi]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_combined_seed_line),
		cmocka_unit_test(test_time_offsets_and_cache),
		cmocka_unit_test(test_combined_ipv6_and_escaped_quotes),
		cmocka_unit_test(test_combined_bracketed_ipv6),
		cmocka_unit_test(test_request_forms),
		cmocka_unit_test(test_common_subset),
		cmocka_unit_test(test_json_time_variants),
		cmocka_unit_test(test_json_mapped_keys),
		cmocka_unit_test(test_custom_log_format),
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_escaped_nul_is_bad_line),
		cmocka_unit_test(test_fast_path_matches_general),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
