/* Trusted proxies: the client is the rightmost address that is not a trusted proxy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proxy.h"

static struct cs_proxies *proxies(const char *const *cidrs)
{
	struct cs_proxies *p = cs_proxies_new();
	char err[128];

	assert_non_null(p);
	for (; *cidrs; cidrs++)
		if (cs_proxies_add(p, *cidrs, err, sizeof(err)))
			fail_msg("%s: %s", *cidrs, err);
	return p;
}

static struct cs_addr addr(const char *text)
{
	struct cs_addr a;

	assert_true(cs_addr_parse(text, &a));
	return a;
}

/* Client picked for peer + headers, formatted. */
static const char *pick(const struct cs_proxies *p, const char *peer, const char *xff,
			const char *fwd, bool *changed)
{
	static char buf[CS_ADDR_STRLEN];
	struct cs_addr a = addr(peer), client;

	*changed = cs_proxy_client(p, &a, xff, xff ? strlen(xff) : 0, fwd, fwd ? strlen(fwd) : 0, &client);
	return cs_addr_format(&client, buf);
}

static void test_cidr_list(void **state)
{
	struct cs_proxies *p = cs_proxies_new();
	struct cs_addr a;
	char err[128];

	assert_int_equal(cs_proxies_add(p, "192.0.2.0/24", err, sizeof(err)), 0);
	assert_int_equal(cs_proxies_add(p, "2001:db8:1::/48", err, sizeof(err)), 0);
	assert_int_equal(cs_proxies_add(p, "198.51.100.7", err, sizeof(err)), 0);
	assert_int_equal(cs_proxies_count(p), 3);
	a = addr("192.0.2.200");
	assert_true(cs_proxies_trusted(p, &a));
	a = addr("192.0.3.1");
	assert_false(cs_proxies_trusted(p, &a));
	a = addr("2001:db8:1:ffff::1");
	assert_true(cs_proxies_trusted(p, &a));
	a = addr("2001:db8:2::1");
	assert_false(cs_proxies_trusted(p, &a));
	a = addr("198.51.100.8");
	assert_false(cs_proxies_trusted(p, &a));

	assert_int_equal(cs_proxies_add(p, "192.0.2.1/24", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "host bits"));
	assert_int_equal(cs_proxies_add(p, "192.0.2.0/33", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "prefix length"));
	assert_int_equal(cs_proxies_add(p, "192.0.2.0/", err, sizeof(err)), -1);
	assert_int_equal(cs_proxies_add(p, "proxy.example", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an IPv4 or IPv6 address"));
	assert_int_equal(cs_proxies_count(p), 3);
	assert_false(cs_proxies_trusted(NULL, &a));
	cs_proxies_free(p);
}

static void test_parse_node(void **state)
{
	static const struct {
		const char *text;
		const char *want;       /* NULL = rejected */
	} cases[] = {
		{ "192.0.2.1", "192.0.2.1" },
		{ " 192.0.2.1 ", "192.0.2.1" },
		{ "192.0.2.1:8080", "192.0.2.1" },
		{ "2001:db8::1", "2001:db8::1" },
		{ "[2001:db8::1]", "2001:db8::1" },
		{ "[2001:db8::1]:443", "2001:db8::1" },
		{ "\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17" },
		{ "unknown", NULL },
		{ "_hidden", NULL },
		{ "192.0.2.1:", NULL },
		{ "192.0.2.1:80x", NULL },
		{ "[192.0.2.1]", NULL },
		{ "[2001:db8::1]x", NULL },
		{ "", NULL },
	};
	char buf[CS_ADDR_STRLEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cs_addr a;
		bool ok = cs_proxy_parse_node(cases[i].text, strlen(cases[i].text), &a);

		if (ok != (cases[i].want != NULL))
			fail_msg("'%s': parsed=%d", cases[i].text, ok);
		if (ok)
			assert_string_equal(cs_addr_format(&a, buf), cases[i].want);
	}
}

static void test_xff_rightmost_untrusted(void **state)
{
	const char *cidrs[] = { "192.0.2.0/24", "2001:db8:1::/48", NULL };
	struct cs_proxies *p = proxies(cidrs);
	bool changed;

	/* An untrusted peer's headers are ignored: anyone can write them. */
	assert_string_equal(pick(p, "203.0.113.5", "198.51.100.1", NULL, &changed), "203.0.113.5");
	assert_false(changed);
	/* Trusted peer: the spoofed leftmost entry is not believed. */
	assert_string_equal(pick(p, "192.0.2.10", "6.6.6.6, 198.51.100.1, 192.0.2.11", NULL, &changed),
			    "198.51.100.1");
	assert_true(changed);
	assert_string_equal(pick(p, "192.0.2.10", "198.51.100.1", NULL, &changed), "198.51.100.1");
	/* Every hop trusted: the leftmost is the client. */
	assert_string_equal(pick(p, "192.0.2.10", "192.0.2.50, 192.0.2.11", NULL, &changed), "192.0.2.50");
	/* No header: the peer. */
	assert_string_equal(pick(p, "192.0.2.10", "", NULL, &changed), "192.0.2.10");
	assert_false(changed);
	assert_string_equal(pick(p, "192.0.2.10", NULL, NULL, &changed), "192.0.2.10");
	/* Garbage stops the walk at the proxy that passed it on. */
	assert_string_equal(pick(p, "192.0.2.10", "198.51.100.1, junk, 192.0.2.11", NULL, &changed),
			    "192.0.2.11");
	assert_string_equal(pick(p, "192.0.2.10", "unknown", NULL, &changed), "192.0.2.10");
	/* IPv6 peers and entries, with ports. */
	assert_string_equal(pick(p, "2001:db8:1::9", "2001:db8:2::5, [2001:db8:1::7]:443", NULL, &changed),
			    "2001:db8:2::5");
	/* NULL list: never trusted. */
	assert_string_equal(pick(NULL, "192.0.2.10", "198.51.100.1", NULL, &changed), "192.0.2.10");
	cs_proxies_free(p);
}

static void test_forwarded_header(void **state)
{
	const char *cidrs[] = { "192.0.2.0/24", NULL };
	struct cs_proxies *p = proxies(cidrs);
	bool changed;

	assert_string_equal(pick(p, "192.0.2.10", NULL, "for=198.51.100.60;proto=http;by=192.0.2.10",
				 &changed), "198.51.100.60");
	assert_string_equal(pick(p, "192.0.2.10", NULL,
				 "for=198.51.100.1, For=\"[2001:db8:cafe::17]:4711\", for=192.0.2.43", &changed),
			    "2001:db8:cafe::17");
	assert_string_equal(pick(p, "192.0.2.10", NULL, "proto=https;for=198.51.100.2", &changed),
			    "198.51.100.2");
	/* Forwarded wins over X-Forwarded-For when both are present. */
	assert_string_equal(pick(p, "192.0.2.10", "203.0.113.1", "for=198.51.100.3", &changed),
			    "198.51.100.3");
	/* An element without for= or with an obfuscated node stops the walk. */
	assert_string_equal(pick(p, "192.0.2.10", NULL, "for=198.51.100.4, by=192.0.2.1", &changed),
			    "192.0.2.10");
	assert_string_equal(pick(p, "192.0.2.10", NULL, "for=_secret", &changed), "192.0.2.10");
	assert_false(changed);
	cs_proxies_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_list),
		cmocka_unit_test(test_parse_node),
		cmocka_unit_test(test_xff_rightmost_untrusted),
		cmocka_unit_test(test_forwarded_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
