/*
 * Learned scanners in pinned maps (root): created and pinned once, reused,
 * layout checked, changes written through, restored after a "restart"
 * without the expired ones, operator deletions and additions followed.
 * Pins go to a directory of this process's own under /sys/fs/bpf.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "needs_root.h"

#include "clicksieve_abi.h"
#include "learned_maps.h"

#define T0 (1763280000ull * 1000000)
#define SEC 1000000ull
#define DAY (86400 * SEC)

static char pin_dir[64];

static void unpin_all(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, CS_MAP_LEARNED_V4);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, CS_MAP_LEARNED_V6);
	unlink(path);
}

static int setup(void **state)
{
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/cs-test-learned-%d", (int)getpid());
	return 0;
}

static int teardown(void **state)
{
	unpin_all();
	rmdir(pin_dir);
	return 0;
}

static struct cs_learned *learned_with(struct cs_learned_maps *m)
{
	struct cs_learned_config cfg;
	struct cs_learned *l;

	cs_learned_config_defaults(&cfg);
	cfg.on_change = cs_learned_maps_on_change;
	cfg.on_change_ctx = m;
	l = cs_learned_new(&cfg);
	assert_non_null(l);
	return l;
}

static void convict(struct cs_learned *l, const char *ip, uint64_t ts)
{
	static const char *const recipients[] = { "r1", "r2", "r3" };
	struct cs_verdict v = { .kind = CS_MACHINE, .reasons = CS_R_BURST };
	struct cs_click k = { .ts_us = ts, .method = "GET", .message = "m", .link = "L" };

	assert_true(cs_addr_parse(ip, &k.client));
	for (int i = 0; i < 3; i++) {
		k.recipient = recipients[i];
		cs_learned_observe(l, &k, &v);
	}
}

static bool held(const struct cs_learned *l, const char *ip, uint64_t now)
{
	struct cs_addr a;

	assert_true(cs_addr_parse(ip, &a));
	return cs_learned_lookup(l, &a, now) != NULL;
}

static void test_missing_without_create(void **state)
{
	char err[256];

	assert_null(cs_learned_maps_open(pin_dir, false, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "not pinned"));
}

static void test_write_through_and_restore(void **state)
{
	struct cs_learned_entry *list;
	struct cs_learned_maps *m;
	struct cs_learned *l;
	char err[256];
	size_t n;

	skip_unless_root();
	m = cs_learned_maps_open(pin_dir, true, 1024, err, sizeof(err));
	assert_non_null(m);
	l = learned_with(m);
	convict(l, "203.0.113.9", T0);
	convict(l, "2001:db8:9:9::1", T0 + 10 * SEC);
	convict(l, "192.0.2.1", T0 - 6 * DAY);          /* expires at T0 + DAY */
	assert_int_equal(cs_learned_maps_read(m, &list, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	/* sorted: IPv4 first */
	assert_int_equal(list[0].client.family, 4);
	assert_int_equal(list[0].client.bytes[0], 192);
	assert_int_equal(list[1].client.bytes[0], 203);
	assert_int_equal(list[1].evidence, 3);
	assert_int_equal(list[1].prefixlen, 32);
	assert_int_equal(list[1].first_us, T0);
	assert_int_equal(list[1].expiry_us, T0 + 7 * DAY);
	assert_int_equal(list[2].client.family, 6);
	assert_int_equal(list[2].prefixlen, 64);
	assert_int_equal(list[2].client.bytes[15], 0);  /* masked to the /64 */
	free(list);
	/* an expiry is written through as a delete */
	assert_int_equal(cs_learned_expire(l, T0 + DAY), 1);
	assert_int_equal(cs_learned_maps_read(m, &list, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	free(list);
	assert_int_equal(cs_learned_maps_write_errors(m), 0);
	cs_learned_free(l);
	cs_learned_maps_close(m);

	/* restart: the pinned maps are reused and restored, expired ones dropped */
	m = cs_learned_maps_open(pin_dir, true, 1024, err, sizeof(err));
	assert_non_null(m);
	l = learned_with(m);
	assert_int_equal(cs_learned_maps_load(m, l, T0 + 7 * DAY + 5 * SEC, err, sizeof(err)), 1);
	assert_false(held(l, "203.0.113.9", T0 + 7 * DAY + 5 * SEC));
	assert_true(held(l, "2001:db8:9:9::abcd", T0 + 7 * DAY + 5 * SEC));
	assert_int_equal(cs_learned_maps_read(m, &list, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	free(list);
	cs_learned_free(l);
	cs_learned_maps_close(m);
}

static void test_operator_changes_followed(void **state)
{
	struct cs_learned_maps *m;
	struct cs_learned *l;
	struct cs_addr a;
	struct cs_learned_value v = { .expiry_unix_us = T0 + DAY, .first_us = T0, .last_us = T0,
				      .evidence = 9, .prefixlen = 32 };
	uint8_t key[4] = { 198, 51, 100, 77 };
	char err[256], path[128];
	int fd;

	skip_unless_root();
	m = cs_learned_maps_open(pin_dir, true, 1024, err, sizeof(err));
	assert_non_null(m);
	l = learned_with(m);
	convict(l, "203.0.113.50", T0);
	assert_true(cs_addr_parse("203.0.113.50", &a));
	assert_int_equal(cs_learned_maps_delete(m, &a, err, sizeof(err)), 0);
	assert_int_equal(cs_learned_maps_delete(m, &a, err, sizeof(err)), 1);
	/* as `bpftool map update pinned .../learned_v4` would */
	snprintf(path, sizeof(path), "%s/%s", pin_dir, CS_MAP_LEARNED_V4);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	assert_int_equal(bpf_map_update_elem(fd, key, &v, BPF_ANY), 0);
	close(fd);
	assert_true(held(l, "203.0.113.50", T0 + SEC));
	assert_int_equal(cs_learned_maps_reconcile(m, l, err, sizeof(err)), 0);
	assert_false(held(l, "203.0.113.50", T0 + SEC));
	assert_true(held(l, "198.51.100.77", T0 + SEC));
	cs_learned_free(l);
	cs_learned_maps_close(m);
	unpin_all();
}

/* More entries than one batch lookup reads: all come back, once, sorted. */
static void test_read_many(void **state)
{
	struct cs_learned_value v = { .expiry_unix_us = T0 + DAY, .first_us = T0, .last_us = T0,
				      .evidence = 3, .prefixlen = 32 };
	struct cs_learned_maps *m;
	struct cs_learned_entry *list;
	char err[256], path[128];
	int fd4, fd6;
	size_t n, i;

	skip_unless_root();
	m = cs_learned_maps_open(pin_dir, true, 8192, err, sizeof(err));
	assert_non_null(m);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, CS_MAP_LEARNED_V4);
	fd4 = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, CS_MAP_LEARNED_V6);
	fd6 = bpf_obj_get(path);
	assert_true(fd4 >= 0 && fd6 >= 0);
	for (i = 0; i < 2500; i++) {
		uint8_t key4[4] = { 198, 51, (uint8_t)(i >> 8), (uint8_t)i };
		uint8_t key6[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = (uint8_t)(i >> 8), [15] = (uint8_t)i };

		v.evidence = (uint32_t)i;
		assert_int_equal(bpf_map_update_elem(fd4, key4, &v, BPF_ANY), 0);
		if (i < 1100)
			assert_int_equal(bpf_map_update_elem(fd6, key6, &v, BPF_ANY), 0);
	}
	assert_int_equal(cs_learned_maps_read(m, &list, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2500 + 1100);
	for (i = 0; i < 2500; i++) {
		assert_int_equal(list[i].client.family, 4);
		assert_int_equal(list[i].client.bytes[2] << 8 | list[i].client.bytes[3], i);
		assert_int_equal(list[i].evidence, i);
	}
	for (i = 0; i < 1100; i++) {
		assert_int_equal(list[2500 + i].client.family, 6);
		assert_int_equal(list[2500 + i].evidence, i);
	}
	free(list);
	close(fd4);
	close(fd6);
	cs_learned_maps_close(m);
	unpin_all();
}

static void test_wrong_layout_refused(void **state)
{
	char err[256], path[128];
	int fd;

	skip_unless_root();
	unpin_all();
	mkdir(pin_dir, 0700);
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "learned_v4", 4, 8, 16, NULL);
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, CS_MAP_LEARNED_V4);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	close(fd);
	assert_null(cs_learned_maps_open(pin_dir, true, 1024, err, sizeof(err)));
	assert_non_null(strstr(err, "unexpected map layout"));
	unpin_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_without_create),
		cmocka_unit_test(test_write_through_and_restore),
		cmocka_unit_test(test_operator_changes_followed),
		cmocka_unit_test(test_read_many),
		cmocka_unit_test(test_wrong_layout_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
