/*
 * Kernel sync: range sets written into real (unpinned) LPM maps by
 * difference. Needs root (CAP_BPF); skipped otherwise.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "needs_root.h"

#include "clicksieve_abi.h"
#include "ranges.h"
#include "ranges_sync.h"

struct maps {
	int v4, v6, prov;
};

static int maps_setup(void **state)
{
	LIBBPF_OPTS(bpf_map_create_opts, lpm, .map_flags = BPF_F_NO_PREALLOC);
	struct maps *m = calloc(1, sizeof(*m));

	m->v4 = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "ranges_v4", sizeof(struct cs_lpm_v4),
			       sizeof(struct cs_range_value), CS_MAX_RANGES_V4, &lpm);
	m->v6 = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "ranges_v6", sizeof(struct cs_lpm_v6),
			       sizeof(struct cs_range_value), CS_MAX_RANGES_V6, &lpm);
	m->prov = bpf_map_create(BPF_MAP_TYPE_ARRAY, "providers", sizeof(__u32),
				 sizeof(struct cs_provider_name), CS_MAX_PROVIDERS, NULL);
	*state = m;
	return 0;
}

static int maps_teardown(void **state)
{
	struct maps *m = *state;

	if (m->v4 >= 0)
		close(m->v4);
	if (m->v6 >= 0)
		close(m->v6);
	if (m->prov >= 0)
		close(m->prov);
	free(m);
	return 0;
}

static struct maps *need_maps(void **state)
{
	struct maps *m = *state;

	if (m->v4 < 0 || m->v6 < 0 || m->prov < 0) {
		print_message("creating BPF maps failed (%s): skipped, needs root\n", strerror(errno));
		skip_or_fail_in_ci();
	}
	return m;
}

static struct cs_ranges *set_of(const char *text)
{
	struct cs_ranges *r = cs_ranges_new();
	char err[256];

	assert_non_null(r);
	if (cs_ranges_load_buffer(r, "set", text, strlen(text), err, sizeof(err)))
		fail_msg("%s", err);
	return r;
}

/* The set in list format, for comparisons. */
static char *text_of(const struct cs_ranges *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_int_equal(cs_ranges_write(r, f), 0);
	fclose(f);
	return text;
}

static void expect_kernel_equals(struct maps *m, const struct cs_ranges *want)
{
	struct cs_ranges *got = cs_ranges_new();
	char err[256], *a, *b;

	if (cs_ranges_read_kernel(got, m->v4, m->v6, m->prov, "kernel", err, sizeof(err)))
		fail_msg("%s", err);
	a = text_of(want);
	b = text_of(got);
	assert_string_equal(b, a);
	free(a);
	free(b);
	cs_ranges_free(got);
}

static void put_name(struct maps *m, __u32 id, const char *name)
{
	struct cs_provider_name v = { 0 };

	snprintf(v.name, sizeof(v.name), "%s", name);
	assert_int_equal(bpf_map_update_elem(m->prov, &id, &v, BPF_ANY), 0);
}

static void expect_name(struct maps *m, __u32 id, const char *name)
{
	struct cs_provider_name v;

	assert_int_equal(bpf_map_lookup_elem(m->prov, &id, &v), 0);
	assert_string_equal(v.name, name);
}

static struct cs_range_value kernel_value_v4(struct maps *m, const char *cidr)
{
	struct cs_lpm_v4 key;
	struct cs_range_value v = { 0, 0 };
	struct cs_addr a;
	char addr[32];
	unsigned plen;

	assert_int_equal(sscanf(cidr, "%31[^/]/%u", addr, &plen), 2);
	assert_true(cs_addr_parse(addr, &a));
	key.prefixlen = plen;
	memcpy(key.addr, a.bytes, 4);
	assert_int_equal(bpf_map_lookup_elem(m->v4, &key, &v), 0);
	return v;
}

static void test_sync_and_resync(void **state)
{
	struct maps *m = need_maps(state);
	struct cs_ranges *a = set_of("192.0.2.0/24 alpha\n192.0.2.128/25 beta weak\n"
				     "2001:db8::/32 alpha\n2001:db8:1::1/128 gamma allow\n");
	struct cs_ranges *b = set_of("192.0.2.0/24 alpha\n192.0.2.128/25 beta\n"
				     "198.51.100.0/24 delta\n2001:db8:1::1/128 gamma allow\n");
	struct cs_sync_stats st;
	char err[256];

	assert_int_equal(cs_ranges_sync_fds(a, m->v4, m->v6, m->prov, 0, &st, err, sizeof(err)), 0);
	assert_int_equal(st.added, 4);
	assert_int_equal(st.changed + st.removed + st.unchanged, 0);
	assert_int_equal(st.providers_added, 3);
	expect_kernel_equals(m, a);
	expect_name(m, 1, "alpha");
	expect_name(m, 3, "gamma");

	assert_int_equal(cs_ranges_sync_fds(a, m->v4, m->v6, m->prov, 0, &st, err, sizeof(err)), 0);
	assert_int_equal(st.unchanged, 4);
	assert_int_equal(st.added + st.changed + st.removed + st.providers_added, 0);

	assert_int_equal(cs_ranges_sync_fds(b, m->v4, m->v6, m->prov, 0, &st, err, sizeof(err)), 0);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.changed, 1);
	assert_int_equal(st.removed, 1);
	assert_int_equal(st.unchanged, 2);
	assert_int_equal(st.providers_added, 1);
	expect_kernel_equals(m, b);
	struct cs_range_value v = kernel_value_v4(m, "192.0.2.128/25");

	assert_int_equal(v.provider_id, 2);
	assert_int_equal(v.flags, 0);
	assert_int_equal(kernel_value_v4(m, "198.51.100.0/24").provider_id, 4);

	/* Emptying the set empties the maps; names stay for the counters. */
	struct cs_ranges *none = cs_ranges_new();

	assert_int_equal(cs_ranges_sync_fds(none, m->v4, m->v6, m->prov, 0, &st, err, sizeof(err)), 0);
	assert_int_equal(st.removed, 4);
	expect_kernel_equals(m, none);
	expect_name(m, 4, "delta");
	cs_ranges_free(none);
	cs_ranges_free(a);
	cs_ranges_free(b);
}

static void test_provider_ids_kept(void **state)
{
	struct maps *m = need_maps(state);
	/* The set numbers alpha 1, beta 2; the kernel already has beta at 5. */
	struct cs_ranges *r = set_of("192.0.2.0/24 alpha\n198.51.100.0/24 beta\n");
	struct cs_sync_stats st;
	char err[256];

	put_name(m, 1, "retired");
	put_name(m, 5, "beta");
	assert_int_equal(cs_ranges_sync_fds(r, m->v4, m->v6, m->prov, 0, &st, err, sizeof(err)), 0);
	assert_int_equal(st.kernel_id[1], 2);   /* alpha: first unused id */
	assert_int_equal(st.kernel_id[2], 5);   /* beta: kept */
	assert_int_equal(st.providers_added, 1);
	expect_name(m, 1, "retired");
	expect_name(m, 2, "alpha");
	expect_name(m, 5, "beta");
	assert_int_equal(kernel_value_v4(m, "198.51.100.0/24").provider_id, 5);
	assert_int_equal(kernel_value_v4(m, "192.0.2.0/24").provider_id, 2);
	expect_kernel_equals(m, r);
	cs_ranges_free(r);
}

/* Every id named by providers no longer listed: their ids are reused. */
static void test_full_provider_table(void **state)
{
	struct maps *m = need_maps(state);
	size_t cap = 64 * CS_MAX_PROVIDERS, len = 0;
	char *text = malloc(cap), err[256], name[32];
	struct cs_ranges *old, *r;
	struct cs_sync_stats st;

	for (int i = 1; i < CS_MAX_PROVIDERS; i++)
		len += snprintf(text + len, cap - len, "10.%d.0.0/16 old%d\n", i, i);
	old = set_of(text);
	assert_int_equal(cs_ranges_sync_fds(old, m->v4, m->v6, m->prov, 0, &st, err, sizeof(err)), 0);
	assert_int_equal(st.providers_added, CS_MAX_PROVIDERS - 1);

	/* 10.1.0.0/16 changes hands; old7 stays; new-b is new. */
	r = set_of("10.1.0.0/16 new-a\n10.7.0.0/16 old7\n203.0.113.0/24 new-b\n");
	assert_int_equal(cs_ranges_sync_fds(r, m->v4, m->v6, m->prov, 0, &st, err, sizeof(err)), 0);
	assert_int_equal(st.changed, 1);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.unchanged, 1);
	assert_int_equal(st.removed, CS_MAX_PROVIDERS - 3);
	assert_int_equal(st.providers_added, 2);
	assert_int_equal(st.kernel_id[cs_ranges_provider_id(r, "old7")], 7);
	expect_kernel_equals(m, r);
	snprintf(name, sizeof(name), "old%d", 200);
	expect_name(m, 200, name);
	free(text);
	cs_ranges_free(old);
	cs_ranges_free(r);
}

static void put_v4(struct maps *m, const char *addr, unsigned plen, uint16_t id)
{
	struct cs_lpm_v4 key = { .prefixlen = plen };
	struct cs_range_value v = { .provider_id = id };
	struct cs_addr a;

	assert_true(cs_addr_parse(addr, &a));
	memcpy(key.addr, a.bytes, 4);
	assert_int_equal(bpf_map_update_elem(m->v4, &key, &v, BPF_ANY), 0);
}

/*
 * An operator's prefixes (a provider no list names, or an id without a
 * name) survive a KEEP_UNLISTED sync and keep their ids; a plain sync,
 * where the set is the truth, removes them.
 */
static void test_keep_unlisted(void **state)
{
	struct maps *m = need_maps(state);
	struct cs_ranges *a = set_of("192.0.2.0/24 alpha\n2001:db8::/32 alpha\n");
	struct cs_ranges *b = set_of("192.0.2.0/24 alpha\n2001:db8::/32 alpha\n"
				     "198.51.100.128/25 beta\n");
	struct cs_ranges *with_operator = set_of("192.0.2.0/24 alpha\n2001:db8::/32 alpha\n"
						 "198.51.100.128/25 beta\n"
						 "198.51.100.0/24 operator\n"
						 "203.0.113.0/24 id-2\n"
						 "2001:db8:ffff::/48 operator weak\n");
	struct cs_lpm_v6 key6 = { .prefixlen = 48 };
	struct cs_range_value v6 = { .provider_id = 200, .flags = CS_RANGE_WEAK };
	struct cs_sync_stats st;
	char err[256];

	assert_int_equal(cs_ranges_sync_fds(a, m->v4, m->v6, m->prov, 0, &st, err, sizeof(err)), 0);
	expect_name(m, 1, "alpha");
	/* bpftool-style additions: named id 200, unnamed id 2 (the next free one). */
	put_name(m, 200, "operator");
	put_v4(m, "198.51.100.0", 24, 200);
	put_v4(m, "198.51.100.128", 25, 200);   /* the set will claim this one */
	put_v4(m, "203.0.113.0", 24, 2);
	memcpy(key6.addr, (const uint8_t[]){ 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff }, 6);
	assert_int_equal(bpf_map_update_elem(m->v6, &key6, &v6, BPF_ANY), 0);

	assert_int_equal(cs_ranges_sync_fds(b, m->v4, m->v6, m->prov, CS_SYNC_KEEP_UNLISTED, &st,
					    err, sizeof(err)), 0);
	assert_int_equal(st.kept, 3);
	assert_int_equal(st.removed, 0);
	assert_int_equal(st.changed, 1);        /* 198.51.100.128/25: now beta's */
	assert_int_equal(st.unchanged, 2);
	/* beta skips id 2: a kept prefix uses it, nameless. */
	assert_int_equal(st.kernel_id[cs_ranges_provider_id(b, "beta")], 3);
	expect_name(m, 2, "");
	assert_int_equal(kernel_value_v4(m, "203.0.113.0/24").provider_id, 2);
	assert_int_equal(kernel_value_v4(m, "198.51.100.0/24").provider_id, 200);
	assert_int_equal(kernel_value_v4(m, "198.51.100.128/25").provider_id, 3);
	expect_kernel_equals(m, with_operator);

	/* Again: nothing to do, the operator's prefixes still kept. */
	assert_int_equal(cs_ranges_sync_fds(b, m->v4, m->v6, m->prov, CS_SYNC_KEEP_UNLISTED, &st,
					    err, sizeof(err)), 0);
	assert_int_equal(st.kept, 3);
	assert_int_equal(st.unchanged, 3);
	assert_int_equal(st.added + st.changed + st.removed, 0);

	/* Without the flag the set is the truth. */
	assert_int_equal(cs_ranges_sync_fds(b, m->v4, m->v6, m->prov, 0, &st, err, sizeof(err)), 0);
	assert_int_equal(st.kept, 0);
	assert_int_equal(st.removed, 3);
	assert_int_equal(st.unchanged, 3);
	expect_kernel_equals(m, b);
	expect_name(m, 200, "operator");        /* names stay for the counters */

	assert_int_equal(cs_ranges_sync_fds(b, m->v4, m->v6, m->prov, 0x80, &st, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "unknown sync flags"));
	cs_ranges_free(a);
	cs_ranges_free(b);
	cs_ranges_free(with_operator);
}

static char *numbered_list(int count, const char *extra)
{
	size_t cap = 64 * CS_MAX_PROVIDERS, len = 0;
	char *text = malloc(cap);

	for (int i = 1; i <= count; i++)
		len += snprintf(text + len, cap - len, "10.%d.0.0/16 old%d\n", i, i);
	snprintf(text + len, cap - len, "%s", extra);
	return text;
}

/*
 * A full provider table: new providers take the ids of names without
 * prefixes, never an id that a kept prefix uses, named or not.
 */
static void test_keep_unlisted_full_table(void **state)
{
	struct maps *m = need_maps(state);
	char *all = numbered_list(CS_MAX_PROVIDERS - 2, "");
	char *fewer = numbered_list(CS_MAX_PROVIDERS - 6, "");
	char *more = numbered_list(CS_MAX_PROVIDERS - 6, "192.0.2.0/24 new-a\n192.0.2.128/25 new-b\n");
	char *too_many = numbered_list(CS_MAX_PROVIDERS - 6, "192.0.2.0/24 new-a\n192.0.2.128/25 "
				       "new-b\n198.51.100.0/25 new-c\n198.51.100.128/25 new-d\n");
	struct cs_ranges *r_all = set_of(all), *r_fewer = set_of(fewer), *r_more = set_of(more);
	struct cs_ranges *r_too_many = set_of(too_many);
	const unsigned operator_id = CS_MAX_PROVIDERS - 1, retired_id = CS_MAX_PROVIDERS - 4;
	struct cs_sync_stats st;
	char err[256];

	/* old1..old254; then old251..old254 retire: their names stay, prefixes go. */
	assert_int_equal(cs_ranges_sync_fds(r_all, m->v4, m->v6, m->prov, 0, &st, err,
					    sizeof(err)), 0);
	assert_int_equal(cs_ranges_sync_fds(r_fewer, m->v4, m->v6, m->prov, 0, &st, err,
					    sizeof(err)), 0);
	assert_int_equal(st.removed, 4);
	put_name(m, operator_id, "operator");
	put_v4(m, "203.0.113.0", 24, operator_id);
	put_v4(m, "203.0.113.128", 25, (uint16_t)retired_id);   /* under old252's id */

	assert_int_equal(cs_ranges_sync_fds(r_more, m->v4, m->v6, m->prov, CS_SYNC_KEEP_UNLISTED,
					    &st, err, sizeof(err)), 0);
	assert_int_equal(st.kept, 2);
	assert_int_equal(st.added, 2);
	assert_int_equal(st.removed, 0);
	for (const char *const *name = (const char *const[]){ "new-a", "new-b", NULL }; *name; name++) {
		uint16_t id = st.kernel_id[cs_ranges_provider_id(r_more, *name)];

		assert_true(id == CS_MAX_PROVIDERS - 5 || id == CS_MAX_PROVIDERS - 3 ||
			    id == CS_MAX_PROVIDERS - 2);
	}
	expect_name(m, retired_id, "old252");
	expect_name(m, operator_id, "operator");
	assert_int_equal(kernel_value_v4(m, "203.0.113.128/25").provider_id, retired_id);
	assert_int_equal(kernel_value_v4(m, "203.0.113.0/24").provider_id, operator_id);

	/* Two more new providers, one free id left: refused. */
	assert_int_equal(cs_ranges_sync_fds(r_too_many, m->v4, m->v6, m->prov,
					    CS_SYNC_KEEP_UNLISTED, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too few"));
	free(all);
	free(fewer);
	free(more);
	free(too_many);
	cs_ranges_free(r_all);
	cs_ranges_free(r_fewer);
	cs_ranges_free(r_more);
	cs_ranges_free(r_too_many);
}

struct reader {
	int v4_fd;
	struct cs_lpm_v4 *keys;         /* host addresses inside the kept prefixes */
	size_t count;
	uint16_t want_provider;
	atomic_bool stop;
	atomic_size_t lookups, misses;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;

	for (size_t i = 0; !atomic_load(&rd->stop); i = (i + 1) % rd->count) {
		struct cs_range_value v;

		if (bpf_map_lookup_elem(rd->v4_fd, &rd->keys[i], &v) || v.provider_id != rd->want_provider)
			atomic_fetch_add(&rd->misses, 1);
		atomic_fetch_add(&rd->lookups, 1);
	}
	return NULL;
}

/* Two sets of about 100k prefixes that share 1000: those never go missing. */
static char *big_list(int half)
{
	size_t cap = 120000 * 40, len = 0;
	char *text = malloc(cap);

	for (int i = 0; i < 1000; i++)
		len += snprintf(text + len, cap - len, "100.64.%d.%d/28 kept\n", i / 16, i % 16 * 16);
	/* /25s of 10.0.0.0/9 or 10.128.0.0/9 */
	for (int i = 0; i < 65536; i++)
		len += snprintf(text + len, cap - len, "10.%d.%d.%d/25 fill%d\n", half * 128 + i / 512,
				i / 2 % 256, i % 2 * 128, half);
	for (int i = 0; i < 34000; i++)
		len += snprintf(text + len, cap - len, "2001:db8:%x:%x::/64 fill%d\n", half, i, half);
	return text;
}

static void test_reader_during_reload(void **state)
{
	struct maps *m = need_maps(state);
	char *ta = big_list(0), *tb = big_list(1), err[256];
	struct cs_ranges *a = set_of(ta), *b = set_of(tb);
	struct reader rd = { .v4_fd = m->v4, .count = 1000 };
	struct cs_sync_stats st;
	pthread_t thread;

	assert_true(cs_ranges_count(a, 0) > 100000);
	assert_int_equal(cs_ranges_sync_fds(a, m->v4, m->v6, m->prov, 0, &st, err, sizeof(err)), 0);
	rd.want_provider = st.kernel_id[cs_ranges_provider_id(a, "kept")];
	rd.keys = calloc(rd.count, sizeof(*rd.keys));
	for (size_t i = 0; i < rd.count; i++) {
		rd.keys[i].prefixlen = 32;
		rd.keys[i].addr[0] = 100;
		rd.keys[i].addr[1] = 64;
		rd.keys[i].addr[2] = (uint8_t)(i / 16);
		rd.keys[i].addr[3] = (uint8_t)(i % 16 * 16 + 5);
	}
	assert_int_equal(pthread_create(&thread, NULL, reader_main, &rd), 0);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(cs_ranges_sync_fds(b, m->v4, m->v6, m->prov, 0, &st, err, sizeof(err)), 0);
		assert_int_equal(st.unchanged, 1000);
		assert_int_equal(st.removed, cs_ranges_count(a, 0) - 1000);
		assert_int_equal(cs_ranges_sync_fds(a, m->v4, m->v6, m->prov, 0, &st, err, sizeof(err)), 0);
	}
	atomic_store(&rd.stop, true);
	pthread_join(thread, NULL);
	print_message("# %zu lookups of kept prefixes during 4 syncs of %zu prefixes, %zu missed\n",
		      atomic_load(&rd.lookups), cs_ranges_count(a, 0), atomic_load(&rd.misses));
	assert_true(atomic_load(&rd.lookups) > 1000);
	assert_int_equal(atomic_load(&rd.misses), 0);
	expect_kernel_equals(m, a);
	free(rd.keys);
	free(ta);
	free(tb);
	cs_ranges_free(a);
	cs_ranges_free(b);
}

static void test_bad_maps(void **state)
{
	struct maps *m = need_maps(state);
	struct cs_ranges *r = set_of("192.0.2.0/24 alpha\n");
	char err[256];

	/* v4 and v6 swapped: the key sizes tell. */
	assert_int_equal(cs_ranges_sync_fds(r, m->v6, m->v4, m->prov, 0, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ranges_v4: unexpected map layout"));
	assert_int_equal(cs_ranges_sync_pinned(r, "/sys/fs/bpf/clicksieve-no-such-dir", NULL,
					       err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not pinned"));
	cs_ranges_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sync_and_resync, maps_setup, maps_teardown),
		cmocka_unit_test_setup_teardown(test_provider_ids_kept, maps_setup, maps_teardown),
		cmocka_unit_test_setup_teardown(test_full_provider_table, maps_setup, maps_teardown),
		cmocka_unit_test_setup_teardown(test_keep_unlisted, maps_setup, maps_teardown),
		cmocka_unit_test_setup_teardown(test_keep_unlisted_full_table, maps_setup,
						maps_teardown),
		cmocka_unit_test_setup_teardown(test_reader_during_reload, maps_setup, maps_teardown),
		cmocka_unit_test_setup_teardown(test_bad_maps, maps_setup, maps_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
