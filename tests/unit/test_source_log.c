// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Following a log file (user/source_log.c) through the ways logs rotate:
 * rename and recreate, and copytruncate (cut to zero in place, refilled to
 * less, the same or more than was read).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "source_log.h"

static char dir[64], path[96];

static int setup(void **state)
{
	strcpy(dir, "/tmp/cs-test-source-log.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/access.log", dir);
	return 0;
}

static int teardown(void **state)
{
	char old[128];

	snprintf(old, sizeof(old), "%s.1", path);
	unlink(old);
	unlink(path);
	rmdir(dir);
	return 0;
}

static void write_file(const char *mode, const char *text)
{
	FILE *f = fopen(path, mode);

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* The next line, which must be there now. */
static void expect_line(struct cs_log_source *s, const char *want)
{
	char *line;
	size_t len;
	uint64_t lineno;
	enum cs_log_read r = cs_log_source_next(s, &line, &len, &lineno);

	if (r != CS_LOG_LINE)
		fail_msg("want line '%s', got result %d", want, r);
	assert_string_equal(line, want);
}

static void expect_again(struct cs_log_source *s)
{
	char *line;
	size_t len;
	uint64_t lineno;

	assert_int_equal(cs_log_source_next(s, &line, &len, &lineno), CS_LOG_AGAIN);
}

static struct cs_log_source *follow(void)
{
	char err[256];
	struct cs_log_source *s = cs_log_source_open(path, true, err, sizeof(err));

	assert_non_null(s);
	return s;
}

static void test_growing_and_renamed(void **state)
{
	struct cs_log_source *s;
	char old[128];

	write_file("w", "one\n");
	s = follow();
	expect_line(s, "one");
	expect_again(s);
	write_file("a", "two\n");
	expect_line(s, "two");
	expect_again(s);
	snprintf(old, sizeof(old), "%s.1", path);
	assert_int_equal(rename(path, old), 0);
	write_file("w", "fresh\n");
	expect_line(s, "fresh");
	assert_int_equal(cs_log_source_reopens(s), 1);
	cs_log_source_close(s);
}

/* Cut and refilled with fewer bytes than were read: the size tells. */
static void test_copytruncate_shorter(void **state)
{
	struct cs_log_source *s;

	write_file("w", "first line\nsecond line\n");
	s = follow();
	expect_line(s, "first line");
	expect_line(s, "second line");
	expect_again(s);
	write_file("w", "new\n");
	expect_line(s, "new");
	cs_log_source_close(s);
}

/* Refilled to exactly the size read: only the bytes tell. */
static void test_copytruncate_same_size(void **state)
{
	struct cs_log_source *s;

	write_file("w", "aaaa\nbbbb\n");
	s = follow();
	expect_line(s, "aaaa");
	expect_line(s, "bbbb");
	expect_again(s);
	write_file("w", "cccc\ndddd\n");
	expect_line(s, "cccc");
	expect_line(s, "dddd");
	expect_again(s);
	assert_int_equal(cs_log_source_reopens(s), 1);
	cs_log_source_close(s);
}

/* Refilled past the size read: reading on would start inside a new line. */
static void test_copytruncate_longer(void **state)
{
	struct cs_log_source *s;

	write_file("w", "aaaa\n");
	s = follow();
	expect_line(s, "aaaa");
	expect_again(s);
	write_file("w", "first new line\nsecond new line\n");
	expect_line(s, "first new line");
	expect_line(s, "second new line");
	expect_again(s);
	cs_log_source_close(s);
}

/* Appending the same bytes as before is growth, not a rotation. */
static void test_append_is_not_rotation(void **state)
{
	struct cs_log_source *s;

	write_file("w", "same\n");
	s = follow();
	expect_line(s, "same");
	expect_again(s);
	write_file("a", "same\n");
	expect_line(s, "same");
	expect_again(s);
	assert_int_equal(cs_log_source_reopens(s), 0);
	cs_log_source_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_growing_and_renamed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copytruncate_shorter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copytruncate_same_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copytruncate_longer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_is_not_rotation, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
