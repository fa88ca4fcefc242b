/* Range lists: parser, provider table and the longest-prefix matcher. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "clicksieve_abi.h"
#include "ranges.h"

static int load(struct cs_ranges *r, const char *name, const char *text, char *err, size_t errlen)
{
	return cs_ranges_load_buffer(r, name, text, strlen(text), err, errlen);
}

/* Asserts the address's longest match, or no match when want_cidr is NULL. */
static void expect_match(const struct cs_ranges *r, const char *ip, const char *want_cidr,
			 const char *want_provider, uint16_t want_flags)
{
	struct cs_addr a;
	char buf[CS_ADDR_STRLEN], got[CS_ADDR_STRLEN + 4];
	const struct cs_range *rg;

	assert_true(cs_addr_parse(ip, &a));
	rg = cs_ranges_lookup(r, &a);
	if (!want_cidr) {
		if (rg)
			fail_msg("%s: want no match, got %s/%u", ip, cs_addr_format(&rg->prefix, buf),
				 rg->plen);
		return;
	}
	if (!rg)
		fail_msg("%s: want %s, got no match", ip, want_cidr);
	snprintf(got, sizeof(got), "%s/%u", cs_addr_format(&rg->prefix, buf), rg->plen);
	assert_string_equal(got, want_cidr);
	assert_string_equal(cs_ranges_provider_name(r, rg->provider_id), want_provider);
	assert_int_equal(rg->flags, want_flags);
}

static void test_v4_v6_and_nesting(void **state)
{
	struct cs_ranges *r = cs_ranges_new();
	char err[256];

	assert_non_null(r);
	assert_int_equal(load(r, "t.txt",
			      "# source: test\n"
			      "\n"
			      "10.0.0.0/8        outer\n"
			      "10.1.0.0/16       middle   weak   # trailing comment\n"
			      "10.1.2.0/24       inner\n"
			      "10.1.2.3/32       host     allow\n"
			      "   \t\n"
			      "2001:db8::/32     outer\r\n"
			      "2001:db8:1::/48   inner\n"
			      "2001:db8:1::1/128 host\n",
			      err, sizeof(err)), 0);
	assert_int_equal(cs_ranges_count(r, 4), 4);
	assert_int_equal(cs_ranges_count(r, 6), 3);
	assert_int_equal(cs_ranges_count(r, 0), 7);

	expect_match(r, "10.200.0.1", "10.0.0.0/8", "outer", 0);
	expect_match(r, "10.1.200.1", "10.1.0.0/16", "middle", CS_RANGE_WEAK);
	expect_match(r, "10.1.2.4", "10.1.2.0/24", "inner", 0);
	expect_match(r, "10.1.2.3", "10.1.2.3/32", "host", CS_RANGE_ALLOW);
	expect_match(r, "10.1.2.255", "10.1.2.0/24", "inner", 0);
	expect_match(r, "10.1.3.0", "10.1.0.0/16", "middle", CS_RANGE_WEAK);
	expect_match(r, "10.255.255.255", "10.0.0.0/8", "outer", 0);
	expect_match(r, "11.0.0.0", NULL, NULL, 0);
	expect_match(r, "9.255.255.255", NULL, NULL, 0);
	expect_match(r, "0.0.0.0", NULL, NULL, 0);
	expect_match(r, "255.255.255.255", NULL, NULL, 0);

	expect_match(r, "2001:db8:ffff::1", "2001:db8::/32", "outer", 0);
	expect_match(r, "2001:db8:1:ffff::", "2001:db8:1::/48", "inner", 0);
	expect_match(r, "2001:db8:1::1", "2001:db8:1::1/128", "host", 0);
	expect_match(r, "2001:db8:1::2", "2001:db8:1::/48", "inner", 0);
	expect_match(r, "2001:db9::", NULL, NULL, 0);
	expect_match(r, "::", NULL, NULL, 0);
	/* An IPv4 address never matches IPv6 ranges with the same leading bytes. */
	expect_match(r, "32.1.13.184", NULL, NULL, 0);
	cs_ranges_free(r);
}

static void test_default_routes_and_edges(void **state)
{
	struct cs_ranges *r = cs_ranges_new();
	char err[256];

	assert_int_equal(load(r, "d.txt",
			      "0.0.0.0/0 any4\n"
			      "255.255.255.255/32 top\n"
			      "0.0.0.0/32 bottom\n"
			      "::/0 any6\n"
			      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128 top\n"
			      "8000::/1 half\n",
			      err, sizeof(err)), 0);
	expect_match(r, "1.2.3.4", "0.0.0.0/0", "any4", 0);
	expect_match(r, "255.255.255.255", "255.255.255.255/32", "top", 0);
	expect_match(r, "255.255.255.254", "0.0.0.0/0", "any4", 0);
	expect_match(r, "0.0.0.0", "0.0.0.0/32", "bottom", 0);
	expect_match(r, "0.0.0.1", "0.0.0.0/0", "any4", 0);
	expect_match(r, "::1", "::/0", "any6", 0);
	expect_match(r, "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0", "any6", 0);
	expect_match(r, "8000::", "8000::/1", "half", 0);
	expect_match(r, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "8000::/1", "half", 0);
	expect_match(r, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "top", 0);
	cs_ranges_free(r);
}

/*
 * Many long prefixes packed deep inside a short one, in both families: the
 * matcher indexes them by skipping the bits they share, so addresses of the
 * short prefix on either side of that run, or right at its ends, must still
 * find the short prefix, and addresses beside the short one nothing.
 */
static void test_dense_cluster(void **state)
{
	struct cs_ranges *r = cs_ranges_new();
	size_t cap = 64 * 64, len = 0;
	char *text = malloc(cap), err[256];

	len += snprintf(text + len, cap - len, "2001:db8::/32 cover\n198.51.0.0/16 cover\n");
	/* Unlike sides: a prefix up to the run, nothing after it. */
	len += snprintf(text + len, cap - len, "3fff::/20 low\n3fff:1000:0:1::1/128 one\n");
	for (int i = 0; i < 10; i++)
		len += snprintf(text + len, cap - len, "3ffe:1000:0:1::%x/128 run\n", i);
	len += snprintf(text + len, cap - len, "3ffe::/20 low\n3ffd::/20 low\n3ffd:1000::1/128 one\n");
	for (int i = 0; i < 40; i++) {
		len += snprintf(text + len, cap - len, "2001:db8:0:1::%x/128 dense\n", i * 5);
		len += snprintf(text + len, cap - len, "198.51.100.%d/32 dense\n", 64 + i * 3);
	}
	assert_int_equal(load(r, "dense.txt", text, err, sizeof(err)), 0);
	expect_match(r, "2001:db8:0:1::5", "2001:db8:0:1::5/128", "dense", 0);
	expect_match(r, "2001:db8:0:1::6", "2001:db8::/32", "cover", 0);
	expect_match(r, "2001:db8:0:1::", "2001:db8:0:1::/128", "dense", 0);
	expect_match(r, "2001:db8:0:1::c3", "2001:db8:0:1::c3/128", "dense", 0);
	expect_match(r, "2001:db8:0:1::c4", "2001:db8::/32", "cover", 0);
	expect_match(r, "2001:db8:0:0:ffff:ffff:ffff:ffff", "2001:db8::/32", "cover", 0);
	expect_match(r, "2001:db8::1", "2001:db8::/32", "cover", 0);
	expect_match(r, "2001:db8:0:2::", "2001:db8::/32", "cover", 0);
	expect_match(r, "2001:db8:ffff::", "2001:db8::/32", "cover", 0);
	expect_match(r, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", NULL, NULL, 0);
	expect_match(r, "2001:db9::", NULL, NULL, 0);
	expect_match(r, "3fff:fff:ffff::", "3fff::/20", "low", 0);
	expect_match(r, "3fff:1000::", NULL, NULL, 0);
	expect_match(r, "3fff:1000:0:1::1", "3fff:1000:0:1::1/128", "one", 0);
	expect_match(r, "3fff:1000:0:1::2", NULL, NULL, 0);
	expect_match(r, "3fff:2000::", NULL, NULL, 0);
	expect_match(r, "3ffd:fff:ffff::", "3ffd::/20", "low", 0);
	expect_match(r, "3ffd:1000::", NULL, NULL, 0);
	expect_match(r, "3ffd:1000::1", "3ffd:1000::1/128", "one", 0);
	expect_match(r, "3ffd:1000::2", NULL, NULL, 0);
	expect_match(r, "3ffd:2000::", NULL, NULL, 0);
	expect_match(r, "3ffe:fff:ffff::", "3ffe::/20", "low", 0);
	expect_match(r, "3ffe:1000::", NULL, NULL, 0);
	expect_match(r, "3ffe:1000:0:1::9", "3ffe:1000:0:1::9/128", "run", 0);
	expect_match(r, "3ffe:1000:0:1::a", NULL, NULL, 0);
	expect_match(r, "3ffe:2000::", NULL, NULL, 0);
	expect_match(r, "198.51.100.64", "198.51.100.64/32", "dense", 0);
	expect_match(r, "198.51.100.181", "198.51.100.181/32", "dense", 0);
	expect_match(r, "198.51.100.65", "198.51.0.0/16", "cover", 0);
	expect_match(r, "198.51.100.63", "198.51.0.0/16", "cover", 0);
	expect_match(r, "198.51.100.182", "198.51.0.0/16", "cover", 0);
	expect_match(r, "198.51.99.255", "198.51.0.0/16", "cover", 0);
	expect_match(r, "198.51.101.0", "198.51.0.0/16", "cover", 0);
	expect_match(r, "198.50.255.255", NULL, NULL, 0);
	expect_match(r, "198.52.0.0", NULL, NULL, 0);
	free(text);
	cs_ranges_free(r);
}

static void test_empty_set(void **state)
{
	struct cs_ranges *r = cs_ranges_new();
	char err[256];

	expect_match(r, "1.2.3.4", NULL, NULL, 0);
	expect_match(r, "2001:db8::1", NULL, NULL, 0);
	assert_int_equal(load(r, "empty.txt", "# nothing\n\n", err, sizeof(err)), 0);
	assert_int_equal(cs_ranges_count(r, 0), 0);
	expect_match(r, "1.2.3.4", NULL, NULL, 0);
	cs_ranges_free(r);
}

static void test_provider_ids(void **state)
{
	struct cs_ranges *r = cs_ranges_new();
	char err[256];

	assert_int_equal(load(r, "a.txt",
			      "192.0.2.0/24 zeta\n"
			      "198.51.100.0/24 alpha\n"
			      "203.0.113.0/24 zeta\n",
			      err, sizeof(err)), 0);
	assert_int_equal(load(r, "b.txt", "2001:db8::/32 mid-1_x\n198.51.100.7/32 alpha\n",
			      err, sizeof(err)), 0);
	assert_int_equal(cs_ranges_provider_count(r), 3);
	assert_int_equal(cs_ranges_provider_id(r, "zeta"), 1);
	assert_int_equal(cs_ranges_provider_id(r, "alpha"), 2);
	assert_int_equal(cs_ranges_provider_id(r, "mid-1_x"), 3);
	assert_int_equal(cs_ranges_provider_id(r, "nobody"), 0);
	assert_string_equal(cs_ranges_provider_name(r, 1), "zeta");
	assert_string_equal(cs_ranges_provider_name(r, 3), "mid-1_x");
	assert_string_equal(cs_ranges_provider_name(r, 0), "");
	assert_string_equal(cs_ranges_provider_name(r, 4), "");
	assert_string_equal(cs_ranges_provider_name(r, 65535), "");
	cs_ranges_free(r);
}

static void test_duplicates(void **state)
{
	struct cs_ranges *r = cs_ranges_new();
	char err[256];

	assert_int_equal(load(r, "a.txt",
			      "192.0.2.0/24 p weak\n"
			      "192.0.2.0/24   p   weak  # same again\n"
			      "192.0.2.0/25 p\n",
			      err, sizeof(err)), 0);
	assert_int_equal(cs_ranges_count(r, 4), 2);
	/* Identical across files: merged too. */
	assert_int_equal(load(r, "b.txt", "192.0.2.0/24 p weak\n", err, sizeof(err)), 0);
	assert_int_equal(cs_ranges_count(r, 4), 2);

	/* Conflicts within one file, and against an earlier file. */
	assert_int_equal(load(r, "c.txt", "203.0.113.0/24 p\n203.0.113.0/24 q\n", err, sizeof(err)), -1);
	assert_string_equal(err, "c.txt:2: 203.0.113.0/24 conflicts with an earlier entry for the "
			    "same prefix: p");
	assert_int_equal(load(r, "d.txt", "\n192.0.2.0/24 p\n", err, sizeof(err)), -1);
	assert_string_equal(err, "d.txt:2: 192.0.2.0/24 conflicts with an earlier entry for the "
			    "same prefix: p weak");
	assert_int_equal(load(r, "e.txt", "192.0.2.0/24 q weak\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "e.txt:1: "));
	assert_int_equal(cs_ranges_count(r, 0), 2);
	assert_int_equal(cs_ranges_provider_count(r), 1);
	expect_match(r, "203.0.113.1", NULL, NULL, 0);
	cs_ranges_free(r);
}

/* Each bad line: the error names file and line, and the file loads nothing. */
static void test_errors(void **state)
{
	static const struct {
		const char *line;
		const char *want;
	} cases[] = {
		{ "192.0.2.1/24 p", "t.txt:3: host bits set in '192.0.2.1/24' (did you mean 192.0.2.0/24?)" },
		{ "2001:db8::1/64 p", "t.txt:3: host bits set in '2001:db8::1/64' (did you mean 2001:db8::/64?)" },
		{ "192.0.2.0/33 p", "t.txt:3: bad prefix length in '192.0.2.0/33' (IPv4: 0-32)" },
		{ "2001:db8::/129 p", "t.txt:3: bad prefix length in '2001:db8::/129' (IPv6: 0-128)" },
		{ "192.0.2.0/ p", "t.txt:3: bad prefix length in '192.0.2.0/' (IPv4: 0-32)" },
		{ "192.0.2.0/-1 p", "t.txt:3: bad prefix length in '192.0.2.0/-1' (IPv4: 0-32)" },
		{ "192.0.2.0/2x p", "t.txt:3: bad prefix length in '192.0.2.0/2x' (IPv4: 0-32)" },
		{ "192.0.2.0 p", "t.txt:3: '192.0.2.0' is not a prefix (ADDRESS/LENGTH)" },
		{ "192.0.2.300/32 p", "t.txt:3: bad address in '192.0.2.300/32'" },
		{ "2001:db8:::/48 p", "t.txt:3: bad address in '2001:db8:::/48'" },
		{ "192.0.2.0/24", "t.txt:3: missing provider after '192.0.2.0/24'" },
		{ "192.0.2.0/24 # commented out provider", "t.txt:3: missing provider after '192.0.2.0/24'" },
		{ "192.0.2.0/24 Upper", "t.txt:3: bad provider name 'Upper' (want [a-z0-9_-], 1-31 characters)" },
		{ "192.0.2.0/24 a.b", "t.txt:3: bad provider name 'a.b' (want [a-z0-9_-], 1-31 characters)" },
		{ "192.0.2.0/24 abcdefghijklmnopqrstuvwxyz012345",
		  "t.txt:3: bad provider name 'abcdefghijklmnopqrstuvwxyz012345' (want [a-z0-9_-], 1-31 characters)" },
		{ "192.0.2.0/24 p strong", "t.txt:3: unknown flag 'strong' (known: weak, allow)" },
		{ "192.0.2.0/24 p weak WEAK", "t.txt:3: unknown flag 'WEAK' (known: weak, allow)" },
		{ "192.0.2.0/24 p weak allow",
		  "t.txt:3: flags 'weak' and 'allow' contradict each other (weak: suspect by range; allow: never by range)" },
		{ "192.0.2.0/24 learned", "t.txt:3: provider name 'learned' is reserved for learned scanners" },
	};
	char text[512], err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cs_ranges *r = cs_ranges_new();

		assert_int_equal(load(r, "base.txt", "203.0.113.0/24 base\n", err, sizeof(err)), 0);
		/* Good lines before and after the bad one: none of them may stay. */
		snprintf(text, sizeof(text), "198.51.100.0/24 before\n# c\n%s\n2001:db8::/32 after\n",
			 cases[i].line);
		err[0] = '\0';
		assert_int_equal(load(r, "t.txt", text, err, sizeof(err)), -1);
		assert_string_equal(err, cases[i].want);
		assert_int_equal(cs_ranges_count(r, 0), 1);
		assert_int_equal(cs_ranges_provider_count(r), 1);
		assert_int_equal(cs_ranges_provider_id(r, "before"), 0);
		expect_match(r, "198.51.100.1", NULL, NULL, 0);
		expect_match(r, "203.0.113.1", "203.0.113.0/24", "base", 0);
		/* The set is still usable: the same good lines load afterwards. */
		assert_int_equal(load(r, "t2.txt", "198.51.100.0/24 before\n", err, sizeof(err)), 0);
		assert_int_equal(cs_ranges_provider_id(r, "before"), 2);
		expect_match(r, "198.51.100.1", "198.51.100.0/24", "before", 0);
		cs_ranges_free(r);
	}
}

static void test_too_many_providers(void **state)
{
	struct cs_ranges *r = cs_ranges_new();
	size_t cap = 64 * CS_MAX_PROVIDERS, len = 0;
	char *text = malloc(cap), err[256];

	for (int i = 1; i < CS_MAX_PROVIDERS; i++)
		len += snprintf(text + len, cap - len, "10.%d.%d.0/24 p%d\n", i / 256, i % 256, i);
	assert_int_equal(cs_ranges_load_buffer(r, "max.txt", text, len, err, sizeof(err)), 0);
	assert_int_equal(cs_ranges_provider_count(r), CS_MAX_PROVIDERS - 1);
	assert_int_equal(load(r, "more.txt", "10.200.0.0/16 p1\n10.201.0.0/16 one-too-many\n",
			      err, sizeof(err)), -1);
	assert_string_equal(err, "more.txt:2: too many providers (at most 255)");
	assert_int_equal(cs_ranges_count(r, 0), CS_MAX_PROVIDERS - 1);
	free(text);
	cs_ranges_free(r);
}

static void test_files(void **state)
{
	char path[] = "/tmp/cs-test-ranges-XXXXXX", err[512];
	struct cs_ranges *r = cs_ranges_new();
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	assert_non_null(f);
	fputs("192.0.2.0/24 p\nbogus\n", f);
	fclose(f);
	assert_int_equal(cs_ranges_load_file(r, path, err, sizeof(err)), -1);
	char want[600];

	snprintf(want, sizeof(want), "%s:2: 'bogus' is not a prefix (ADDRESS/LENGTH)", path);
	assert_string_equal(err, want);
	unlink(path);
	assert_int_equal(cs_ranges_load_file(r, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);
	assert_int_equal(cs_ranges_count(r, 0), 0);
	cs_ranges_free(r);
}

static void test_write_round_trip(void **state)
{
	static const char list[] =
		"2001:db8::/32 b\n"
		"192.0.2.128/25 a allow\n"
		"192.0.2.0/24 a weak\n"
		"10.0.0.0/8 b\n";
	struct cs_ranges *r = cs_ranges_new(), *again = cs_ranges_new();
	char *text = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_int_equal(load(r, "l.txt", list, err, sizeof(err)), 0);
	assert_int_equal(cs_ranges_write(r, f), 0);
	fclose(f);
	assert_string_equal(text,
		"10.0.0.0/8                                  b\n"
		"192.0.2.0/24                                a weak\n"
		"192.0.2.128/25                              a allow\n"
		"2001:db8::/32                               b\n");
	assert_int_equal(cs_ranges_load_buffer(again, "w.txt", text, len, err, sizeof(err)), 0);
	assert_int_equal(cs_ranges_count(again, 0), 4);
	for (size_t i = 0; i < 4; i++) {
		const struct cs_range *x = cs_ranges_at(r, i), *y = cs_ranges_at(again, i);

		assert_true(cs_addr_equal(&x->prefix, &y->prefix));
		assert_int_equal(x->plen, y->plen);
		assert_int_equal(x->flags, y->flags);
		assert_string_equal(cs_ranges_provider_name(r, x->provider_id),
				    cs_ranges_provider_name(again, y->provider_id));
	}
	assert_null(cs_ranges_at(r, 4));
	free(text);
	cs_ranges_free(r);
	cs_ranges_free(again);
}

/* Small deterministic generator, so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

struct naive {
	struct cs_addr prefix;
	unsigned plen;
	int id;
};

static const struct naive *naive_lookup(const struct naive *list, size_t n, const struct cs_addr *a)
{
	const struct naive *best = NULL;

	for (size_t i = 0; i < n; i++)
		if (cs_addr_same_prefix(&list[i].prefix, a, list[i].plen) &&
		    (!best || list[i].plen > best->plen))
			best = &list[i];
	return best;
}

/*
 * A random address near the seeds, so prefixes nest and cluster: it keeps
 * at least min_keep of a seed's first bits.
 */
static void random_addr(struct cs_addr *a, int family, const struct cs_addr *seeds, size_t nseeds,
			unsigned min_keep)
{
	*a = seeds[rng() % nseeds];
	a->family = (uint8_t)family;
	unsigned len = family == 4 ? 4 : 16, keep = min_keep + rng() % (len * 8 + 1 - min_keep);

	for (unsigned bit = keep; bit < len * 8; bit++)
		if (rng() & 1)
			a->bytes[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
}

/*
 * The matcher against a linear scan, on PREFIXES random prefixes that keep
 * min_keep bits of one of SEEDS random seeds (with the first and last
 * address of the family among the seeds, when edges): a high min_keep packs
 * them into one small block, deep below the first bits.
 */
static void cross_check_family(int family, unsigned min_keep, bool edges, size_t prefixes,
			       size_t lookups)
{
	enum { SEEDS = 16 };
	struct naive *list = calloc(prefixes, sizeof(*list));
	struct cs_addr seeds[SEEDS];
	size_t cap = prefixes * 64, len = 0, n = 0;
	char *text = malloc(cap), err[256], buf[CS_ADDR_STRLEN];
	struct cs_ranges *r = cs_ranges_new();
	unsigned maxlen = family == 4 ? 32 : 128;

	for (int i = 0; i < SEEDS; i++) {
		memset(&seeds[i], 0, sizeof(seeds[i]));
		for (int b = 0; b < 16; b++)
			seeds[i].bytes[b] = (uint8_t)rng();
		if (edges && i < 2)
			memset(seeds[i].bytes, i ? 0 : 0xff, 16);
		if (family == 4)
			memset(seeds[i].bytes + 4, 0, 12);
	}
	/* Dense: every seed shares the first min_keep bits of seed 0 (the last address, with edges). */
	for (int i = 1; i < SEEDS && min_keep; i++)
		for (unsigned bit = 0; bit < min_keep; bit++) {
			uint8_t m = (uint8_t)(0x80 >> (bit % 8));

			seeds[i].bytes[bit / 8] = (uint8_t)((seeds[i].bytes[bit / 8] & ~m) |
							    (seeds[0].bytes[bit / 8] & m));
		}
	/* A dense block may hold fewer distinct prefixes: stop trying after a while. */
	for (size_t attempt = 0; n < prefixes && attempt < 20 * prefixes; attempt++) {
		struct naive p;
		bool dup = false;

		random_addr(&p.prefix, family, seeds, SEEDS, min_keep);
		/* Mostly long prefixes, some short ones covering them. */
		p.plen = rng() % 4 ? maxlen / 2 + rng() % (maxlen / 2 + 1) : rng() % (maxlen + 1);
		if (min_keep && rng() % 8)      /* dense: mostly inside the shared block */
			p.plen = min_keep + rng() % (maxlen - min_keep + 1);
		cs_addr_mask(&p.prefix, p.plen);
		for (size_t i = 0; i < n && !dup; i++)
			dup = list[i].plen == p.plen && cs_addr_equal(&list[i].prefix, &p.prefix);
		if (dup)
			continue;
		p.id = (int)(n % 7);
		list[n++] = p;
		len += snprintf(text + len, cap - len, "%s/%u p%d\n", cs_addr_format(&p.prefix, buf),
				p.plen, p.id);
	}
	assert_int_equal(cs_ranges_load_buffer(r, "random.txt", text, len, err, sizeof(err)), 0);
	assert_true(n > prefixes / 4);
	assert_int_equal(cs_ranges_count(r, family), n);

	for (size_t i = 0; i < lookups; i++) {
		struct cs_addr a;

		if (i % 2) {
			random_addr(&a, family, seeds, SEEDS, i % 4 == 1 ? min_keep : 0);
		} else {
			/* A listed prefix's first, last, a random, or its next-to-last+1 address. */
			const struct naive *p = &list[rng() % n];
			int kind = i / 2 % 4;

			a = p->prefix;
			for (unsigned bit = p->plen; bit < maxlen && kind; bit++)
				if (kind != 2 || (rng() & 1))
					a.bytes[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
			for (int b = maxlen / 8 - 1; kind == 3 && b >= 0 && ++a.bytes[b] == 0; b--)
				;
		}
		const struct naive *want = naive_lookup(list, n, &a);
		const struct cs_range *got = cs_ranges_lookup(r, &a);

		if (!want) {
			if (got)
				fail_msg("%s: want no match, got /%u", cs_addr_format(&a, buf), got->plen);
			continue;
		}
		if (!got)
			fail_msg("%s: want /%u, got no match", cs_addr_format(&a, buf), want->plen);
		assert_int_equal(got->plen, want->plen);
		assert_true(cs_addr_equal(&got->prefix, &want->prefix));
		char name[8];

		snprintf(name, sizeof(name), "p%d", want->id);
		assert_string_equal(cs_ranges_provider_name(r, got->provider_id), name);
	}
	free(text);
	free(list);
	cs_ranges_free(r);
}

static void test_cross_check_v4(void **state)
{
	cross_check_family(4, 0, false, 4000, 30000);
	cross_check_family(4, 0, true, 4000, 10000);
	/* Thousands of prefixes in one /20, one /21: nodes of every stride, buckets. */
	cross_check_family(4, 20, false, 2000, 6000);
	cross_check_family(4, 21, true, 2000, 6000);
}

static void test_cross_check_v6(void **state)
{
	cross_check_family(6, 0, false, 4000, 30000);
	cross_check_family(6, 0, true, 4000, 10000);
	/* Clusters below /64, /100, /116: skips over shared bits, windows past bit 64. */
	cross_check_family(6, 64, false, 2000, 6000);
	cross_check_family(6, 100, true, 2000, 6000);
	cross_check_family(6, 116, false, 2000, 6000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_v6_and_nesting),
		cmocka_unit_test(test_default_routes_and_edges),
		cmocka_unit_test(test_dense_cluster),
		cmocka_unit_test(test_empty_set),
		cmocka_unit_test(test_provider_ids),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_too_many_providers),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_write_round_trip),
		cmocka_unit_test(test_cross_check_v4),
		cmocka_unit_test(test_cross_check_v6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
