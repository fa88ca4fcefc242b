/*
 * The classifier's range_lookup hook, which `run` points at the kernel maps:
 * it wins over the range set, its flags decide the evidence and its provider
 * string goes into the verdict.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "clicksieve_abi.h"
#include "ranges.h"
#include "verdicts.h"

#define T0 (1763280000ull * 1000000)
#define SEC 1000000ull

struct seen {
	int n;
	struct cs_verdict v[8];
	char ip[8][CS_ADDR_STRLEN];
};

static void collect(void *ctx, const struct cs_click *k, const struct cs_verdict *v)
{
	struct seen *s = ctx;

	assert_true(s->n < 8);
	cs_addr_format(&k->client, s->ip[s->n]);
	s->v[s->n++] = *v;
}

static int lookups;

/* 198.51.100.0/24 scanner "kern-scan", 203.0.113.0/24 weak unnamed, else none. */
static bool fake_kernel(void *ctx, const struct cs_addr *a, uint16_t *flags, const char **provider)
{
	lookups++;
	assert_ptr_equal(ctx, &lookups);
	if (a->family != 4)
		return false;
	if (a->bytes[0] == 198 && a->bytes[1] == 51 && a->bytes[2] == 100) {
		*flags = 0;
		*provider = "kern-scan";
		return true;
	}
	if (a->bytes[0] == 203 && a->bytes[1] == 0 && a->bytes[2] == 113) {
		*flags = CS_RANGE_WEAK;
		*provider = NULL;
		return true;
	}
	return false;
}

static void feed(struct cs_classifier *c, const char *ip, const char *message, uint64_t ts)
{
	struct cs_click k = { .ts_us = ts, .method = "GET", .message = message,
			      .recipient = "r", .link = "l", .user_agent = "Mozilla/5.0" };

	assert_true(cs_addr_parse(ip, &k.client));
	cs_classifier_feed(c, &k);
}

static void test_hook_wins_over_ranges(void **state)
{
	static const char list[] = "192.0.2.0/24 listed\n";
	struct cs_classifier_config cfg;
	struct cs_ranges *ranges = cs_ranges_new();
	struct cs_classifier *c;
	struct seen s = { 0 };
	char err[256];

	assert_int_equal(cs_ranges_load_buffer(ranges, "list", list, strlen(list), err,
					       sizeof(err)), 0);
	cs_classifier_config_defaults(&cfg);
	cfg.ranges = ranges;
	cfg.range_lookup = fake_kernel;
	cfg.range_lookup_ctx = &lookups;
	c = cs_classifier_new(&cfg, collect, &s);
	assert_non_null(c);
	lookups = 0;
	/* One message each: no burst or window between them. */
	feed(c, "198.51.100.7", "m1", T0);
	feed(c, "203.0.113.9", "m2", T0 + SEC);
	feed(c, "192.0.2.5", "m3", T0 + 2 * SEC);
	feed(c, "::ffff:198.51.100.8", "m4", T0 + 3 * SEC);
	cs_classifier_finish(c);
	assert_int_equal(s.n, 4);
	assert_int_equal(lookups, 4);

	assert_int_equal(s.v[0].kind, CS_MACHINE);
	assert_int_equal(s.v[0].reasons, CS_R_SCANNER_RANGE);
	assert_string_equal(s.v[0].provider, "kern-scan");
	assert_int_equal(s.v[1].kind, CS_SUSPECT);
	assert_int_equal(s.v[1].reasons, CS_R_WEAK_RANGE);
	assert_null(s.v[1].provider);
	/* Listed in the set, but the hook is the truth. */
	assert_int_equal(s.v[2].kind, CS_HUMAN);
	assert_null(s.v[2].provider);
	/* IPv4-mapped clients are looked up as IPv4. */
	assert_int_equal(s.v[3].kind, CS_MACHINE);
	assert_string_equal(s.v[3].provider, "kern-scan");
	cs_classifier_free(c);
	cs_ranges_free(ranges);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hook_wins_over_ranges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
