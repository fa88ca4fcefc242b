/*
 * Addresses: the fast parse and format paths must give exactly what
 * inet_pton / inet_ntop give, so they are checked against libc on fixed
 * edge cases and on many generated addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "addr.h"

/* Deterministic generator, so that a failure repeats. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Parses text both ways and requires the same verdict and bytes. */
static void expect_parse_like_libc(const char *text)
{
	struct cs_addr a;
	uint8_t want[16] = { 0 };
	bool ok = cs_addr_parse(text, &a);
	int family = strchr(text, ':') ? AF_INET6 : AF_INET;
	bool libc_ok = strlen(text) > 0 && strlen(text) < CS_ADDR_STRLEN &&
		       inet_pton(family, text, want) == 1;

	if (ok != libc_ok)
		fail_msg("'%s': parsed %s, inet_pton %s", text, ok ? "ok" : "bad",
			 libc_ok ? "ok" : "bad");
	if (!ok) {
		assert_int_equal(a.family, 0);
		return;
	}
	assert_int_equal(a.family, family == AF_INET ? 4 : 6);
	assert_memory_equal(a.bytes, want, 16);
}

static void test_parse_edge_cases(void **state)
{
	static const char *const cases[] = {
		"0.0.0.0", "255.255.255.255", "1.2.3.4", "192.0.2.1", "10.0.0.255",
		"256.1.1.1", "1.2.3.256", "01.2.3.4", "1.2.3.04", "1.2.3.00", "1.2.3.0",
		"1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4 ", " 1.2.3.4",
		"1.2.3.-4", "a.b.c.d", "", "1", "999.999.999.999", "1.2.3.4a", "1234.1.1.1",
		"2001:db8::1", "::", "::1", "::ffff:192.0.2.1", "2001:db8::g", "1:2:3:4:5:6:7:8:9",
		":", ":::", "1::2::3", ":1::", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
		"1:2:3:4:5:6:7:8::", "1:2:3:4:5:6::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "::1.2.3.4", "::01.2.3.4",
		"::1.2.3", "::1.2.3.4:5", "::1.2.3.4.5", "1:2:3:4:5:6:7:1.2.3.4", "::ffff:1.2.3.256",
		"12345::", "0001:0002::", "::FFFF:192.0.2.1", "1:", "1:2:3:4:5:6:7:8:", "a1.2.3.4::",
		"::a1.2.3.4", "2001:db8::1%eth0",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_parse_like_libc(cases[i]);
}

static void test_parse_generated(void **state)
{
	char text[64];

	for (int i = 0; i < 200000; i++) {
		uint64_t r = next_random();
		/* mostly valid quads, some with out-of-range or zero-padded octets */
		switch (r & 3) {
		case 0:
			snprintf(text, sizeof(text), "%u.%u.%u.%u", (unsigned)(r >> 8) & 0xff,
				 (unsigned)(r >> 16) & 0xff, (unsigned)(r >> 24) & 0xff,
				 (unsigned)(r >> 32) & 0xff);
			break;
		case 1:
			snprintf(text, sizeof(text), "%u.%u.%u.%u", (unsigned)(r >> 8) & 0x1ff,
				 (unsigned)(r >> 20) & 0x1ff, (unsigned)(r >> 32) & 0x3ff,
				 (unsigned)(r >> 44) & 0x1ff);
			break;
		case 2:
			snprintf(text, sizeof(text), "%02u.%u.%03u.%u", (unsigned)(r >> 8) & 0xff,
				 (unsigned)(r >> 16) & 0xff, (unsigned)(r >> 24) & 0xff,
				 (unsigned)(r >> 32) & 0xff);
			break;
		default: {
			/* random bytes from the address alphabet */
			static const char alphabet[] = "0123456789.:";
			size_t n = (r >> 2) % 17;

			for (size_t k = 0; k < n; k++)
				text[k] = alphabet[(next_random() >> 5) % (sizeof(alphabet) - 1)];
			text[n] = '\0';
		}
		}
		expect_parse_like_libc(text);
	}
}

/* IPv6 text as inet_ntop writes it, then bent: case, zero padding, edits from the alphabet. */
static void test_parse_v6_generated(void **state)
{
	static const char alphabet[] = "0123456789abcdefABCDEF:.:::";
	char text[128];

	for (int i = 0; i < 300000; i++) {
		uint64_t r = next_random(), s = next_random();
		uint8_t bytes[16];
		size_t n;

		for (int k = 0; k < 16; k++)
			bytes[k] = (uint8_t)(next_random() >> 11);
		/* zero runs, for "::" in all places, and ::ffff:a.b.c.d */
		for (int k = 0; k < 8; k++)
			if ((s >> k) & 1)
				bytes[2 * k] = bytes[2 * k + 1] = 0;
		if ((r & 15) == 0) {
			memset(bytes, 0, 10);
			bytes[10] = bytes[11] = 0xff;
		}
		inet_ntop(AF_INET6, bytes, text, sizeof(text));
		n = strlen(text);
		switch ((r >> 4) & 7) {
		case 0:
		case 1:
			break;
		case 2:
			/* upper case */
			for (size_t k = 0; k < n; k++)
				if (text[k] >= 'a' && text[k] <= 'f')
					text[k] -= 32;
			break;
		case 3:
			/* a byte replaced */
			text[(r >> 8) % n] = alphabet[(r >> 16) % (sizeof(alphabet) - 1)];
			break;
		case 4:
			/* a byte inserted */
			if (n + 1 < sizeof(text)) {
				size_t at = (r >> 8) % (n + 1);

				memmove(text + at + 1, text + at, n - at + 1);
				text[at] = alphabet[(r >> 16) % (sizeof(alphabet) - 1)];
			}
			break;
		case 5:
			/* a byte removed */
			memmove(text + (r >> 8) % n, text + (r >> 8) % n + 1, n - (r >> 8) % n);
			break;
		case 6:
			/* every group padded to four digits, or one group to five */
			snprintf(text, sizeof(text), "%04x:%04x:%x:%x:%x:%x:%x:%05x", bytes[0] << 8 | bytes[1],
				 bytes[2] << 8 | bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8],
				 (unsigned)(r >> 16) & 0x1ffff);
			break;
		default: {
			/* random text from the alphabet */
			size_t len = (r >> 8) % 48;

			for (size_t k = 0; k < len; k++)
				text[k] = alphabet[(next_random() >> 5) % (sizeof(alphabet) - 1)];
			text[len] = '\0';
		}
		}
		expect_parse_like_libc(text);
	}
}

static void test_parse_n_stops_at_length(void **state)
{
	struct cs_addr a;

	assert_true(cs_addr_parse_n("192.0.2.17 - -", 10, &a));
	assert_int_equal(a.family, 4);
	assert_memory_equal(a.bytes, ((uint8_t[16]){ 192, 0, 2, 17 }), 16);
	assert_false(cs_addr_parse_n("192.0.2.17", 8, &a));        /* "192.0.2." */
	assert_int_equal(a.family, 0);
	/* a NUL inside the length is not the end of the address */
	assert_false(cs_addr_parse_n("2001:db8::\0001", 12, &a));
	assert_false(cs_addr_parse_n("192.0.2.1\0009", 11, &a));
	assert_false(cs_addr_parse_n("::ffff:192.0.2.1\0", 17, &a));
}

static void expect_format_like_libc(const struct cs_addr *a)
{
	char want[INET6_ADDRSTRLEN], got[CS_ADDR_STRLEN];

	assert_non_null(inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->bytes, want,
				  sizeof(want)));
	assert_string_equal(cs_addr_format(a, got), want);
}

static void test_format_edge_cases(void **state)
{
	static const char *const cases[] = {
		"0.0.0.0", "255.255.255.255", "192.0.2.1", "10.20.30.40", "1.0.0.9",
		"::", "::1", "1::", "2001:db8::", "2001:db8::1", "2001:db8:0:0:1:0:0:1",
		"2001:0:0:1:0:0:0:1", "2001:db8:0:1:1:1:1:1", "1:0:1:0:1:0:1:0",
		"::ffff:192.0.2.1", "::192.0.2.1", "::ffff:0:192.0.2.1", "::1:0:0:0:1",
		"0:0:0:0:0:1:c000:201", "fe80::1:2", "2001:db8:abcd:12:ffff:ffff:ffff:ffff",
		"::ffff:0.0.0.0", "0:0:0:0:ffff:0:0:1",
	};
	struct cs_addr a;
	char buf[CS_ADDR_STRLEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_true(cs_addr_parse(cases[i], &a));
		expect_format_like_libc(&a);
	}
	a = (struct cs_addr){ 0 };
	assert_string_equal(cs_addr_format(&a, buf), "-");
}

static void test_format_generated(void **state)
{
	struct cs_addr a;

	for (int i = 0; i < 200000; i++) {
		uint64_t r = next_random(), s = next_random();

		a = (struct cs_addr){ .family = (r & 1) ? 4 : 6 };
		memcpy(a.bytes, &s, 8);
		memcpy(a.bytes + 8, &r, 8);
		if (a.family == 4) {
			memset(a.bytes + 4, 0, 12);
		} else {
			/* zero groups at random, so that runs of every length occur */
			for (int g = 0; g < 8; g++)
				if ((r >> (8 + g)) & (r >> (20 + g)) & 1)
					a.bytes[2 * g] = a.bytes[2 * g + 1] = 0;
			if ((r & 0x1e) == 0x1e)         /* and the IPv4-compatible shapes */
				memset(a.bytes, 0, 10 + ((r >> 5) & 2));
			if ((r & 0x3e) == 0x3c) {
				memset(a.bytes, 0, 10);
				a.bytes[10] = a.bytes[11] = 0xff;
			}
		}
		expect_format_like_libc(&a);
	}
}

static void test_equal(void **state)
{
	struct cs_addr a, b;

	assert_true(cs_addr_parse("2001:db8::1", &a));
	b = a;
	assert_true(cs_addr_equal(&a, &b));
	/* a difference in any one byte, or in the family alone, tells them apart */
	for (int i = 0; i < 16; i++) {
		b = a;
		b.bytes[i] ^= 0x40;
		assert_false(cs_addr_equal(&a, &b));
	}
	b = a;
	b.family = 4;
	assert_false(cs_addr_equal(&a, &b));
}

static void expect_unmap(const char *text, const char *want)
{
	struct cs_addr a, b;
	char buf[CS_ADDR_STRLEN];

	assert_true(cs_addr_parse(text, &a));
	assert_true(cs_addr_parse(want, &b));
	cs_addr_unmap(&a);
	if (!cs_addr_equal(&a, &b))
		fail_msg("unmap '%s': got '%s' family %u, want '%s'", text, cs_addr_format(&a, buf),
			 a.family, want);
}

static void test_unmap(void **state)
{
	struct cs_addr none = { 0 }, zero = { 0 };

	expect_unmap("::ffff:205.139.110.5", "205.139.110.5");
	expect_unmap("::ffff:0.0.0.0", "0.0.0.0");
	expect_unmap("::ffff:255.255.255.255", "255.255.255.255");
	/* only the ::ffff:0:0/96 prefix is IPv4; near misses stay IPv6 */
	expect_unmap("::192.0.2.1", "::192.0.2.1");
	expect_unmap("::fffe:192.0.2.1", "::fffe:192.0.2.1");
	expect_unmap("::1:ffff:192.0.2.1", "::1:ffff:192.0.2.1");
	expect_unmap("64:ff9b::192.0.2.1", "64:ff9b::192.0.2.1");
	expect_unmap("2001:db8::ffff:c000:201", "2001:db8::ffff:c000:201");
	expect_unmap("192.0.2.1", "192.0.2.1");
	cs_addr_unmap(&none);
	assert_memory_equal(&none, &zero, sizeof(none));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_edge_cases),
		cmocka_unit_test(test_parse_generated),
		cmocka_unit_test(test_parse_v6_generated),
		cmocka_unit_test(test_parse_n_stops_at_length),
		cmocka_unit_test(test_format_edge_cases),
		cmocka_unit_test(test_format_generated),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_unmap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
