/* Learned scanners: evidence, threshold, window, expiry, bounds, restore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "learned.h"

#define T0 (1763280000ull * 1000000)    /* 2025-11-16 08:00:00 UTC */
#define SEC 1000000ull
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

struct changes {
	unsigned n[4];
	struct cs_learned_entry last;
};

static void on_change(void *ctx, enum cs_learned_change change, const struct cs_learned_entry *e)
{
	struct changes *c = ctx;

	c->n[change]++;
	c->last = *e;
}

static struct cs_learned *learned_new(struct changes *changes)
{
	struct cs_learned_config cfg;
	struct cs_learned *l;

	cs_learned_config_defaults(&cfg);
	cfg.on_change = on_change;
	cfg.on_change_ctx = changes;
	l = cs_learned_new(&cfg);
	assert_non_null(l);
	return l;
}

static struct cs_addr addr(const char *text)
{
	struct cs_addr a;

	assert_true(cs_addr_parse(text, &a));
	return a;
}

/* Feeds one verdict of a click by ip for recipient at ts. */
static bool observe(struct cs_learned *l, const char *ip, const char *recipient, uint64_t ts,
		    uint32_t reasons)
{
	struct cs_click k = {
		.ts_us = ts, .client = addr(ip), .method = "GET", .message = "m1",
		.recipient = recipient, .link = "L1", .user_agent = "",
	};
	struct cs_verdict v = { .kind = reasons ? CS_MACHINE : CS_HUMAN, .reasons = reasons };

	return cs_learned_observe(l, &k, &v);
}

static bool learned_at(const struct cs_learned *l, const char *ip, uint64_t ts)
{
	struct cs_addr a = addr(ip);

	return cs_learned_lookup(l, &a, ts) != NULL;
}

static void test_defaults(void **state)
{
	struct cs_learned_config cfg;

	cs_learned_config_defaults(&cfg);
	assert_true(cfg.enabled);
	assert_int_equal(cfg.threshold, 3);
	assert_int_equal(cfg.window_us, HOUR);
	assert_int_equal(cfg.ttl_us, 7 * DAY);
	assert_int_equal(cfg.max_entries, 65536);
}

static void test_threshold_distinct_recipients(void **state)
{
	struct changes ch = { 0 };
	struct cs_learned *l = learned_new(&ch);
	const struct cs_learned_entry *e;
	struct cs_learned_stats st;

	assert_false(observe(l, "203.0.113.9", "r1", T0, CS_R_BURST));
	assert_false(observe(l, "203.0.113.9", "r1", T0 + 1 * SEC, CS_R_BURST));
	assert_false(observe(l, "203.0.113.9", "r2", T0 + 10 * MIN, CS_R_MULTI_IP));
	/* the same recipients again and again: still two */
	for (int k = 0; k < 20; k++)
		assert_false(observe(l, "203.0.113.9", k % 2 ? "r1" : "r2", T0 + 11 * MIN + k * SEC,
				     CS_R_BURST));
	assert_false(learned_at(l, "203.0.113.9", T0 + 12 * MIN));
	assert_true(observe(l, "203.0.113.9", "r3", T0 + 20 * MIN, CS_R_BURST));
	assert_true(learned_at(l, "203.0.113.9", T0 + 20 * MIN));
	e = cs_learned_lookup(l, &(struct cs_addr){ .family = 4, .bytes = { 203, 0, 113, 9 } },
			      T0 + 21 * MIN);
	assert_non_null(e);
	assert_int_equal(e->evidence, 3);
	assert_int_equal(e->first_us, T0 + 20 * MIN);
	assert_int_equal(e->last_us, T0 + 20 * MIN);
	assert_int_equal(e->expiry_us, T0 + 20 * MIN + 7 * DAY);
	assert_int_equal(ch.n[CS_LEARNED_ADDED], 1);
	/* another client is not learned by it */
	assert_false(learned_at(l, "203.0.113.10", T0 + 21 * MIN));
	cs_learned_get_stats(l, &st);
	assert_int_equal(st.additions, 1);
	assert_int_equal(st.active, 1);
	assert_int_equal(st.convictions, 23);      /* the multi_ip click is none */
	cs_learned_free(l);
}

static void test_only_timing_rules_count(void **state)
{
	struct changes ch = { 0 };
	struct cs_learned *l = learned_new(&ch);
	const char *r[] = { "r1", "r2", "r3", "r4" };
	struct cs_click k = {
		.ts_us = T0, .client = addr("203.0.113.9"), .method = "GET", .message = "m",
		.link = "L1", .user_agent = "",
	};
	struct cs_verdict allowed = { .kind = CS_MACHINE, .reasons = CS_R_BURST, .provider = "corp",
				      .allowed = true };

	for (int i = 0; i < 4; i++) {
		assert_false(observe(l, "203.0.113.9", r[i], T0 + i * SEC, 0));
		assert_false(observe(l, "203.0.113.9", r[i], T0 + i * SEC,
				     CS_R_BOT_AGENT | CS_R_HEAD_REQUEST | CS_R_HONEYPOT | CS_R_WEAK_RANGE));
		/* a listed range already says it */
		assert_false(observe(l, "203.0.113.9", r[i], T0 + i * SEC,
				     CS_R_SCANNER_RANGE | CS_R_BURST));
		/* an allow-listed client never becomes learned */
		k.recipient = r[i];
		assert_false(cs_learned_observe(l, &k, &allowed));
	}
	assert_false(learned_at(l, "203.0.113.9", T0 + 10 * SEC));
	/* weak range plus burst is evidence */
	for (int i = 0; i < 3; i++)
		observe(l, "38.1.2.3", r[i], T0 + 20 * SEC + i * SEC, CS_R_WEAK_RANGE | CS_R_BURST);
	assert_true(learned_at(l, "38.1.2.3", T0 + 30 * SEC));
	cs_learned_free(l);
}

static void test_window(void **state)
{
	struct changes ch = { 0 };
	struct cs_learned *l = learned_new(&ch);

	/* three recipients, but spread over more than an hour */
	observe(l, "203.0.113.9", "r1", T0, CS_R_BURST);
	observe(l, "203.0.113.9", "r2", T0 + 30 * MIN, CS_R_BURST);
	assert_false(observe(l, "203.0.113.9", "r3", T0 + HOUR, CS_R_BURST));
	assert_false(learned_at(l, "203.0.113.9", T0 + HOUR));
	/* r2 and r3 are in the window now: one more does it */
	assert_true(observe(l, "203.0.113.9", "r4", T0 + HOUR + MIN, CS_R_BURST));
	/* a recipient convicted again counts at its latest time */
	observe(l, "198.51.100.4", "a", T0, CS_R_BURST);
	observe(l, "198.51.100.4", "b", T0 + 10 * MIN, CS_R_BURST);
	observe(l, "198.51.100.4", "a", T0 + 50 * MIN, CS_R_BURST);
	assert_true(observe(l, "198.51.100.4", "c", T0 + 65 * MIN, CS_R_BURST));
	cs_learned_free(l);
}

static void test_ipv6_client_is_64(void **state)
{
	struct changes ch = { 0 };
	struct cs_learned *l = learned_new(&ch);

	observe(l, "2001:db8:1:2::1", "r1", T0, CS_R_BURST);
	observe(l, "2001:db8:1:2:aaaa::7", "r2", T0 + SEC, CS_R_BURST);
	assert_true(observe(l, "2001:db8:1:2:ffff::1", "r3", T0 + 2 * SEC, CS_R_BURST));
	assert_true(learned_at(l, "2001:db8:1:2::99", T0 + 3 * SEC));
	assert_false(learned_at(l, "2001:db8:1:3::1", T0 + 3 * SEC));
	assert_int_equal(ch.last.client.family, 6);
	assert_int_equal(ch.last.client.bytes[8], 0);
	/* IPv4-mapped IPv6 is the IPv4 client */
	observe(l, "::ffff:192.0.2.7", "r1", T0, CS_R_BURST);
	observe(l, "192.0.2.7", "r2", T0 + SEC, CS_R_BURST);
	assert_true(observe(l, "::ffff:192.0.2.7", "r3", T0 + 2 * SEC, CS_R_BURST));
	assert_true(learned_at(l, "192.0.2.7", T0 + 3 * SEC));
	cs_learned_free(l);
}

static void learn(struct cs_learned *l, const char *ip, uint64_t ts)
{
	observe(l, ip, "r1", ts, CS_R_BURST);
	observe(l, ip, "r2", ts, CS_R_BURST);
	assert_true(observe(l, ip, "r3", ts, CS_R_BURST));
}

static void test_expiry_and_renewal(void **state)
{
	struct changes ch = { 0 };
	struct cs_learned *l = learned_new(&ch);
	struct cs_learned_stats st;

	learn(l, "203.0.113.9", T0);
	learn(l, "203.0.113.10", T0 + DAY);
	assert_true(learned_at(l, "203.0.113.9", T0 + 7 * DAY - 1));
	/* expiry is event time: no match from it on, even before expire() */
	assert_false(learned_at(l, "203.0.113.9", T0 + 7 * DAY));
	assert_int_equal(cs_learned_expire(l, T0 + 7 * DAY - 1), 0);
	assert_int_equal(cs_learned_expire(l, T0 + 7 * DAY), 1);
	assert_int_equal(ch.n[CS_LEARNED_EXPIRED], 1);
	assert_true(learned_at(l, "203.0.113.10", T0 + 7 * DAY));
	/* a later conviction renews; its evidence still in the window counts */
	assert_true(observe(l, "203.0.113.10", "r9", T0 + DAY + 10 * MIN, CS_R_BURST));
	assert_int_equal(ch.n[CS_LEARNED_RENEWED], 1);
	assert_int_equal(ch.last.expiry_us, T0 + 8 * DAY + 10 * MIN);
	assert_int_equal(ch.last.first_us, T0 + DAY);
	assert_int_equal(ch.last.evidence, 4);
	assert_true(learned_at(l, "203.0.113.10", T0 + 8 * DAY));
	/* observing expires what the click's time has passed */
	observe(l, "192.0.2.1", "x", T0 + 9 * DAY, 0);
	cs_learned_get_stats(l, &st);
	assert_int_equal(st.expiries, 2);
	assert_int_equal(st.active, 0);
	assert_int_equal(st.additions, 2);
	assert_int_equal(st.renewals, 1);
	/* evidence that aged out is gone with it */
	assert_int_equal(st.clients, 0);
	cs_learned_free(l);
}

static void test_cap_evicts_soonest_expiring(void **state)
{
	struct cs_learned_config cfg;
	struct changes ch = { 0 };
	struct cs_learned_stats st;
	struct cs_learned *l;
	char ip[32];

	cs_learned_config_defaults(&cfg);
	cfg.max_entries = 4;
	cfg.max_clients = 8;
	cfg.on_change = on_change;
	cfg.on_change_ctx = &ch;
	l = cs_learned_new(&cfg);
	assert_non_null(l);
	/* .1 learned first but renewed last: .2 expires soonest */
	for (int i = 1; i <= 4; i++) {
		snprintf(ip, sizeof(ip), "203.0.113.%d", i);
		learn(l, ip, T0 + (uint64_t)i * MIN);
	}
	observe(l, "203.0.113.1", "r4", T0 + 10 * MIN, CS_R_BURST);
	learn(l, "203.0.113.5", T0 + 11 * MIN);
	cs_learned_get_stats(l, &st);
	assert_int_equal(st.active, 4);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(ch.n[CS_LEARNED_EVICTED], 1);
	assert_false(learned_at(l, "203.0.113.2", T0 + 12 * MIN));
	assert_true(learned_at(l, "203.0.113.1", T0 + 12 * MIN));
	assert_true(learned_at(l, "203.0.113.5", T0 + 12 * MIN));
	/* clients with evidence are bounded too: the least recently convicted goes */
	for (int i = 0; i < 20; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i);
		observe(l, ip, "r1", T0 + 12 * MIN + (uint64_t)i * SEC, CS_R_BURST);
	}
	cs_learned_get_stats(l, &st);
	assert_int_equal(st.clients, 8);
	assert_true(st.clients_evicted > 0);
	/* many entries through a small cap: the heap stays consistent */
	for (int i = 0; i < 200; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i);
		learn(l, ip, T0 + HOUR + (uint64_t)((i * 37) % 200) * SEC);
	}
	cs_learned_get_stats(l, &st);
	assert_int_equal(st.active, 4);
	assert_int_equal(cs_learned_expire(l, UINT64_MAX - 1), 4);
	cs_learned_free(l);
}

static void count_entry(void *ctx, const struct cs_learned_entry *e)
{
	(*(unsigned *)ctx)++;
}

static void test_restore_and_forget(void **state)
{
	struct changes ch = { 0 };
	struct cs_learned *l = learned_new(&ch);
	struct cs_learned_entry e = {
		.client = addr("203.0.113.77"), .expiry_us = T0 + DAY, .first_us = T0 - DAY,
		.last_us = T0 - HOUR, .evidence = 5,
	};
	const struct cs_learned_entry *got;
	unsigned n = 0;

	assert_int_equal(cs_learned_add(l, &e), 0);
	assert_int_equal(ch.n[CS_LEARNED_ADDED], 0);    /* restoring is no news */
	got = cs_learned_lookup(l, &e.client, T0);
	assert_non_null(got);
	assert_int_equal(got->evidence, 5);
	assert_int_equal(got->first_us, T0 - DAY);
	/* an older copy does not shorten it */
	e.expiry_us = T0 + HOUR;
	assert_int_equal(cs_learned_add(l, &e), 0);
	assert_true(learned_at(l, "203.0.113.77", T0 + 2 * HOUR));
	/* restored addresses are masked like observed ones */
	e.client = addr("2001:db8:5:6:7::8");
	e.expiry_us = T0 + DAY;
	assert_int_equal(cs_learned_add(l, &e), 0);
	assert_true(learned_at(l, "2001:db8:5:6::1", T0));
	e.client = (struct cs_addr){ 0 };
	assert_int_equal(cs_learned_add(l, &e), -1);
	cs_learned_foreach(l, count_entry, &n);
	assert_int_equal(n, 2);
	assert_true(cs_learned_forget(l, &(struct cs_addr){ .family = 4,
							   .bytes = { 203, 0, 113, 77 } }));
	assert_false(learned_at(l, "203.0.113.77", T0));
	assert_false(cs_learned_forget(l, &(struct cs_addr){ .family = 4,
							    .bytes = { 203, 0, 113, 77 } }));
	cs_learned_free(l);
}

static void test_bad_config(void **state)
{
	struct cs_learned_config cfg;

	cs_learned_config_defaults(&cfg);
	cfg.threshold = 0;
	assert_null(cs_learned_new(&cfg));
	cfg.threshold = CS_LEARN_MAX_THRESHOLD + 1;
	assert_null(cs_learned_new(&cfg));
	cs_learned_config_defaults(&cfg);
	cfg.max_entries = 0;
	assert_null(cs_learned_new(&cfg));
	cs_learned_config_defaults(&cfg);
	cfg.v6_prefix = 129;
	assert_null(cs_learned_new(&cfg));
	cs_learned_config_defaults(&cfg);
	cfg.threshold = 1;
	{
		struct cs_learned *l = cs_learned_new(&cfg);

		assert_non_null(l);
		/* multi_ip alone is no evidence: shared addresses re-click for people */
		assert_false(observe(l, "203.0.113.1", "r", T0, CS_R_MULTI_IP));
		assert_true(observe(l, "203.0.113.1", "r", T0, CS_R_BURST));
		cs_learned_free(l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_threshold_distinct_recipients),
		cmocka_unit_test(test_only_timing_rules_count),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_ipv6_client_is_64),
		cmocka_unit_test(test_expiry_and_renewal),
		cmocka_unit_test(test_cap_evicts_soonest_expiring),
		cmocka_unit_test(test_restore_and_forget),
		cmocka_unit_test(test_bad_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
