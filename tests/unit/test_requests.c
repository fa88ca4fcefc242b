/* HTTP request heads, chunked bodies and PROXY headers (user/requests.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "requests.h"

static struct cs_http_head head;
static struct cs_http_limits lim;

static enum cs_http_status parse(const char *text)
{
	cs_http_limits_defaults(&lim);
	return cs_http_parse_head((const uint8_t *)text, strlen(text), &lim, &head);
}

static void test_basic_get(void **state)
{
	assert_int_equal(parse("GET /redirect?link=a&l=b&s=c HTTP/1.1\r\n"
			       "Host: t.example\r\n"
			       "User-Agent: Mozilla/5.0 (X11)  \r\n"
			       "Accept: */*\r\n\r\n"), CS_HTTP_OK);
	assert_string_equal(head.method, "GET");
	assert_string_equal(head.target, "/redirect?link=a&l=b&s=c");
	assert_int_equal(head.target_len, strlen("/redirect?link=a&l=b&s=c"));
	assert_int_equal(head.version_minor, 1);
	assert_string_equal(head.host, "t.example");
	assert_string_equal(head.user_agent, "Mozilla/5.0 (X11)");
	assert_string_equal(head.xff, "");
	assert_string_equal(head.forwarded, "");
	assert_int_equal(head.body, CS_BODY_NONE);
}

static void test_bare_lf_and_case(void **state)
{
	assert_int_equal(parse("HEAD /x HTTP/1.0\nhOsT:h\nuser-AGENT:\tcurl/8.0\n\n"), CS_HTTP_OK);
	assert_string_equal(head.method, "HEAD");
	assert_int_equal(head.version_minor, 0);
	assert_string_equal(head.host, "h");
	assert_string_equal(head.user_agent, "curl/8.0");
}

static void test_xff_forwarded_joined(void **state)
{
	assert_int_equal(parse("GET / HTTP/1.1\r\n"
			       "X-Forwarded-For: 203.0.113.7, 198.51.100.1\r\n"
			       "Forwarded: for=192.0.2.60\r\n"
			       "User-Agent: a\r\n"
			       "X-Forwarded-For: 192.0.2.9\r\n"
			       "Forwarded: for=\"[2001:db8::1]\"\r\n"
			       "User-Agent: second\r\n\r\n"), CS_HTTP_OK);
	assert_string_equal(head.xff, "203.0.113.7, 198.51.100.1, 192.0.2.9");
	assert_string_equal(head.forwarded, "for=192.0.2.60, for=\"[2001:db8::1]\"");
	assert_string_equal(head.user_agent, "a");
}

static void test_bad_request_lines(void **state)
{
	static const char *bad[] = {
		"get / HTTP/1.1\r\n\r\n",
		"GET  HTTP/1.1\r\n\r\n",
		"GET /\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.1x\r\n\r\n",
		"GET /a b HTTP/1.1\r\n\r\n",
		"VERYLONGMETHODNAME / HTTP/1.1\r\n\r\n",
		"\r\n\r\n",
		"GET / HTTP/1.1",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i]), CS_HTTP_BAD_REQUEST_LINE);
	assert_true(cs_http_is_request_line((const uint8_t *)"OPTIONS * HTTP/1.1", 18));
	assert_false(cs_http_is_request_line((const uint8_t *)"PRI * HTTP/2.0", 14));
}

static void test_bad_headers(void **state)
{
	assert_int_equal(parse("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), CS_HTTP_BAD_HEADER);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), CS_HTTP_BAD_HEADER);
	assert_int_equal(parse("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"), CS_HTTP_BAD_HEADER);
	assert_int_equal(parse("GET / HTTP/1.1\r\nA: b\r\n"), CS_HTTP_BAD_HEADER);
	{
		static const uint8_t nul[] = "GET / HTTP/1.1\r\nUser-Agent: a\0b\r\n\r\n";

		cs_http_limits_defaults(&lim);
		assert_int_equal(cs_http_parse_head(nul, sizeof(nul) - 1, &lim, &head),
				 CS_HTTP_BAD_HEADER);
	}
}

static void test_limits(void **state)
{
	char text[4096];
	size_t n = 0;

	n += (size_t)snprintf(text + n, sizeof(text) - n, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 5; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "X-%d: v\r\n", i);
	snprintf(text + n, sizeof(text) - n, "\r\n");

	cs_http_limits_defaults(&lim);
	lim.max_headers = 5;
	assert_int_equal(cs_http_parse_head((uint8_t *)text, strlen(text), &lim, &head), CS_HTTP_OK);
	lim.max_headers = 4;
	assert_int_equal(cs_http_parse_head((uint8_t *)text, strlen(text), &lim, &head),
			 CS_HTTP_TOO_MANY_HEADERS);
	lim.max_headers = 100;
	lim.max_line = 13;              /* "GET / HTTP/1.1" is 14 */
	assert_int_equal(cs_http_parse_head((uint8_t *)text, strlen(text), &lim, &head),
			 CS_HTTP_LINE_TOO_LONG);
	{
		static uint8_t big[CS_HTTP_HEAD_MAX + 1];

		memcpy(big, text, strlen(text));
		assert_int_equal(cs_http_parse_head(big, sizeof(big), &lim, &head), CS_HTTP_TOO_BIG);
	}
}

static void test_bodies(void **state)
{
	assert_int_equal(parse("POST /f HTTP/1.1\r\nContent-Length: 12\r\n\r\n"), CS_HTTP_OK);
	assert_int_equal(head.body, CS_BODY_LENGTH);
	assert_int_equal(head.content_length, 12);
	assert_int_equal(parse("POST /f HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), CS_HTTP_OK);
	assert_int_equal(head.body, CS_BODY_NONE);
	assert_int_equal(parse("POST /f HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"),
			 CS_HTTP_OK);
	assert_int_equal(parse("POST /f HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"),
			 CS_HTTP_BAD_LENGTH);
	assert_int_equal(parse("POST /f HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), CS_HTTP_BAD_LENGTH);
	assert_int_equal(parse("POST /f HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"),
			 CS_HTTP_BAD_LENGTH);
	assert_int_equal(parse("POST /f HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n"
			       "Content-Length: 5\r\n\r\n"), CS_HTTP_OK);
	assert_int_equal(head.body, CS_BODY_CHUNKED);
	assert_int_equal(parse("POST /f HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
			 CS_HTTP_BAD_ENCODING);
}

static enum cs_chunked_result chunk_all(const char *text, size_t step, size_t *total_used)
{
	struct cs_chunked c = { 0 };
	size_t len = strlen(text), off = 0;
	enum cs_chunked_result r = CS_CHUNKED_MORE;

	while (off < len) {
		size_t n = len - off < step ? len - off : step, used = 0;

		r = cs_chunked_skip(&c, (const uint8_t *)text + off, n, &used);
		off += used;
		if (r != CS_CHUNKED_MORE)
			break;
	}
	*total_used = off;
	return r;
}

static void test_chunked(void **state)
{
	static const char body[] = "5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n"
				   "0\r\nTrailer: x\r\n\r\nGET /next";
	size_t used;

	/* Any split of the input gives the same end of body. */
	for (size_t step = 1; step <= sizeof(body); step++) {
		assert_int_equal(chunk_all(body, step, &used), CS_CHUNKED_DONE);
		assert_int_equal(used, strlen(body) - strlen("GET /next"));
	}
	assert_int_equal(chunk_all("0\n\nX", 100, &used), CS_CHUNKED_DONE);
	assert_int_equal(used, 3);
	assert_int_equal(chunk_all("zz\r\n", 100, &used), CS_CHUNKED_ERROR);
	/* On error, used counts the bytes before the bad one. */
	assert_int_equal(chunk_all("3\r\nabcX\r\n", 100, &used), CS_CHUNKED_ERROR);
	assert_int_equal(used, 6);
	assert_int_equal(chunk_all("3\r\nabcX\r\n", 1, &used), CS_CHUNKED_ERROR);
	assert_int_equal(used, 6);
	assert_int_equal(chunk_all("0\r\n\rX", 100, &used), CS_CHUNKED_ERROR);
	assert_int_equal(used, 4);
	assert_int_equal(chunk_all("ffffffffffffffff\r\n", 100, &used), CS_CHUNKED_ERROR);
	assert_int_equal(chunk_all("5\r\nhel", 100, &used), CS_CHUNKED_MORE);
}

static enum cs_proxy_status proxy(const void *p, size_t len, struct cs_proxy_info *info)
{
	return cs_proxy_parse(p, len, info);
}

static void test_proxy_v1(void **state)
{
	struct cs_proxy_info info;
	const char *v4 = "PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\nGET /";
	const char *v6 = "PROXY TCP6 2001:db8::7 2001:db8::1 1 80\r\n";
	char buf[64];

	assert_int_equal(proxy(v4, strlen(v4), &info), CS_PROXY_OK);
	assert_int_equal(info.version, 1);
	assert_true(info.has_addr);
	assert_int_equal(info.header_len, strlen(v4) - strlen("GET /"));
	assert_string_equal(cs_addr_format(&info.src, buf), "192.0.2.10");
	assert_string_equal(cs_addr_format(&info.dst, buf), "198.51.100.1");
	assert_int_equal(info.sport, 56324);
	assert_int_equal(info.dport, 443);

	assert_int_equal(proxy(v6, strlen(v6), &info), CS_PROXY_OK);
	assert_string_equal(cs_addr_format(&info.src, buf), "2001:db8::7");

	assert_int_equal(proxy("PROXY UNKNOWN\r\n", 15, &info), CS_PROXY_OK);
	assert_false(info.has_addr);
	assert_int_equal(info.header_len, 15);

	/* Prefixes wait for more; everything else is not PROXY. */
	assert_int_equal(proxy("PRO", 3, &info), CS_PROXY_NEED_MORE);
	assert_int_equal(proxy(v4, 30, &info), CS_PROXY_NEED_MORE);
	assert_int_equal(proxy("GET / HTTP/1.1\r\n", 16, &info), CS_PROXY_NONE);
	assert_int_equal(proxy("POST", 4, &info), CS_PROXY_NONE);

	static const char *bad[] = {
		"PROXY TCP4 192.0.2.10 198.51.100.1 56324\r\n",
		"PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n",
		"PROXY TCP4 192.0.2.10 198.51.100.1 65536 80\r\n",
		"PROXY TCP4 192.0.2.10 198.51.100.1 080 80\r\n",
		"PROXY TCP4 192.0.2.10  198.51.100.1 1 80\r\n",
		"PROXY TCP5 192.0.2.10 198.51.100.1 1 80\r\n",
		"PROXY TCP4 192.0.2.10 198.51.100.1 1 80\n",
		"PROXY TCP4 192.0.2.10 198.51.100.1 1 80 extra\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(proxy(bad[i], strlen(bad[i]), &info), CS_PROXY_INVALID);

	/* No CRLF within the 107-byte maximum. */
	char longer[200];
	memset(longer, 'x', sizeof(longer));
	memcpy(longer, "PROXY ", 6);
	assert_int_equal(proxy(longer, sizeof(longer), &info), CS_PROXY_INVALID);
}

static const uint8_t v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

static size_t v2_header(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *addr,
			size_t addr_len, size_t tlv_len)
{
	size_t body = addr_len + tlv_len;

	memcpy(out, v2_sig, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(body >> 8);
	out[15] = (uint8_t)body;
	memcpy(out + 16, addr, addr_len);
	memset(out + 16 + addr_len, 0xee, tlv_len);
	return 16 + body;
}

static void test_proxy_v2(void **state)
{
	static const uint8_t a4[12] = { 203, 0, 113, 5, 198, 51, 100, 1, 0x1f, 0x90, 0, 80 };
	uint8_t a6[36] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x42, [16] = 0x20, [17] = 0x01,
			   [18] = 0x0d, [19] = 0xb8, [31] = 1, [32] = 0x12, [33] = 0x34, [35] = 80 };
	uint8_t buf[512];
	struct cs_proxy_info info;
	char text[CS_ADDR_STRLEN];
	size_t n;

	n = v2_header(buf, 0x21, 0x11, a4, sizeof(a4), 0);
	assert_int_equal(proxy(buf, n, &info), CS_PROXY_OK);
	assert_int_equal(info.version, 2);
	assert_true(info.has_addr);
	assert_string_equal(cs_addr_format(&info.src, text), "203.0.113.5");
	assert_int_equal(info.sport, 8080);
	assert_int_equal(info.dport, 80);
	assert_int_equal(info.header_len, 28);

	/* TLVs after the addresses: OK before they arrive; header_len covers them. */
	n = v2_header(buf, 0x21, 0x21, a6, sizeof(a6), 300);
	assert_int_equal(proxy(buf, 16 + 36, &info), CS_PROXY_OK);
	assert_string_equal(cs_addr_format(&info.src, text), "2001:db8::42");
	assert_int_equal(info.sport, 0x1234);
	assert_int_equal(info.header_len, n);
	assert_int_equal(proxy(buf, 16 + 20, &info), CS_PROXY_NEED_MORE);
	assert_int_equal(proxy(buf, 10, &info), CS_PROXY_NEED_MORE);

	/* LOCAL: no address, the peer stays the client. */
	n = v2_header(buf, 0x20, 0x11, a4, sizeof(a4), 0);
	assert_int_equal(proxy(buf, n, &info), CS_PROXY_OK);
	assert_false(info.has_addr);

	n = v2_header(buf, 0x11, 0x11, a4, sizeof(a4), 0);      /* version 1 */
	assert_int_equal(proxy(buf, n, &info), CS_PROXY_INVALID);
	n = v2_header(buf, 0x23, 0x11, a4, sizeof(a4), 0);      /* command 3 */
	assert_int_equal(proxy(buf, n, &info), CS_PROXY_INVALID);
	n = v2_header(buf, 0x21, 0x41, a4, sizeof(a4), 0);      /* family 4 */
	assert_int_equal(proxy(buf, n, &info), CS_PROXY_INVALID);
	n = v2_header(buf, 0x21, 0x21, a4, sizeof(a4), 0);      /* IPv6 with 12 bytes */
	assert_int_equal(proxy(buf, n, &info), CS_PROXY_INVALID);
}

static void test_garbage_never_crashes(void **state)
{
	uint8_t buf[2048];
	struct cs_proxy_info info;
	struct cs_chunked c = { 0 };
	uint32_t x = 12345;

	cs_http_limits_defaults(&lim);
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(x % sizeof(buf)), used;

		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245 + 12345;
			/* Bias towards the bytes the parsers care about. */
			buf[i] = "GET / HTTP/1.1\r\n:PROXY\t\0"[(x >> 16) % 24] ^ ((x >> 8) % 7 == 0 ? (uint8_t)x : 0);
		}
		cs_http_parse_head(buf, len, &lim, &head);
		cs_proxy_parse(buf, len, &info);
		cs_chunked_skip(&c, buf, len, &used);
		assert_true(used <= len);
		cs_http_may_start_request(buf, len);
		x = x * 1103515245 + 12345;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_get),
		cmocka_unit_test(test_bare_lf_and_case),
		cmocka_unit_test(test_xff_forwarded_joined),
		cmocka_unit_test(test_bad_request_lines),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_proxy_v1),
		cmocka_unit_test(test_proxy_v2),
		cmocka_unit_test(test_garbage_never_crashes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
