/* Tracking URL extraction: default, query and template forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "track.h"

static struct cs_track_ids ids;

static bool extract(const struct cs_track *t, const char *target)
{
	memset(&ids, 0x55, sizeof(ids));
	return cs_track_extract(t, target, strlen(target), &ids);
}

static void expect_ids(const char *message, const char *recipient, const char *link)
{
	assert_string_equal(ids.message, message);
	assert_string_equal(ids.recipient, recipient);
	assert_string_equal(ids.link, link);
	/* the lengths handed on with the ids, decoded or not */
	assert_int_equal(ids.message_len, strlen(message));
	assert_int_equal(ids.recipient_len, strlen(recipient));
	assert_int_equal(ids.link_len, strlen(link));
}

static int setup_default(void **state)
{
	*state = cs_track_new_default();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	cs_track_free(*state);
	return 0;
}

static void test_design_example(void **state)
{
	assert_true(extract(*state, "/redirect?link=kYhjd36684679Gopkfdgjhf_htwVylYcl"
			    "&l=D0I3r8wfwlIrtfku43I0IEk3felfqy&s=RBMKHJZJHECCFGRAFOF"));
	expect_ids("RBMKHJZJHECCFGRAFOF", "D0I3r8wfwlIrtfku43I0IEk3felfqy",
		   "kYhjd36684679Gopkfdgjhf_htwVylYcl");
}

static void test_any_order_and_extra_params(void **state)
{
	assert_true(extract(*state, "/redirect?utm_source=x&s=M&foo&l=R&link=L&z=1"));
	expect_ids("M", "R", "L");
	assert_true(extract(*state, "/redirect?l=R&link=L&s=M"));
	expect_ids("M", "R", "L");
}

static void test_duplicate_first_wins(void **state)
{
	assert_true(extract(*state, "/redirect?s=first&l=R&s=second&link=L&l=other"));
	expect_ids("first", "R", "L");
	/* a later duplicate is not even decoded: its bad escape does not matter */
	assert_true(extract(*state, "/redirect?s=M&l=R&link=L&s=%zz"));
	expect_ids("M", "R", "L");
	/* an empty first occurrence decides: not a click */
	assert_false(extract(*state, "/redirect?s=&l=R&link=L&s=M"));
}

static void test_percent_decoding(void **state)
{
	assert_true(extract(*state, "/redirect?s=a%2Fb%3d&l=%41%62&link=x%20y%25"));
	expect_ids("a/b=", "Ab", "x y%");
	/* RFC 3986 reading: '+' is a literal plus, not a space */
	assert_true(extract(*state, "/redirect?s=a+b&l=R&link=L"));
	expect_ids("a+b", "R", "L");
	/* UTF-8 passes through as bytes */
	assert_true(extract(*state, "/redirect?s=%C3%A9t%C3%A9&l=R&link=L"));
	expect_ids("\xc3\xa9t\xc3\xa9", "R", "L");
}

static void test_absolute_form_and_fragment(void **state)
{
	assert_true(extract(*state, "http://track.example.com/redirect?s=M&l=R&link=L"));
	expect_ids("M", "R", "L");
	assert_true(extract(*state, "HTTPS://track.example.com:8443/redirect?s=M&l=R&link=L"));
	expect_ids("M", "R", "L");
	assert_true(extract(*state, "/redirect?s=M&l=R&link=L#frag&s=x"));
	expect_ids("M", "R", "L");
	assert_true(extract(*state, "/redirect?s=M&l=R&link=L#"));
	expect_ids("M", "R", "L");
}

static void test_not_clicks(void **state)
{
	static const char *const targets[] = {
		"",
		"/",
		"*",
		"track.example.com:80",                         /* authority-form */
		"/redirect",                                    /* no query */
		"/redirect?",
		"/redirect/?s=M&l=R&link=L",                    /* wrong path */
		"/Redirect?s=M&l=R&link=L",
		"/redirec?s=M&l=R&link=L",
		"/redirectx?s=M&l=R&link=L",
		"/%72edirect?s=M&l=R&link=L",                   /* path compared raw */
		"/other/redirect?s=M&l=R&link=L",
		"/redirect?l=R&link=L",                         /* missing parameter */
		"/redirect?s=M&link=L",
		"/redirect?s=M&l=R",
		"/redirect?s=M&l=R&links=L",
		"/redirect?S=M&l=R&link=L",                     /* names are case-sensitive */
		"/redirect?s=&l=R&link=L",                      /* empty id */
		"/redirect?s&l=R&link=L",
		"/redirect?s=M&l=R&link=",
		"/redirect?s=%&l=R&link=L",                     /* bad escapes */
		"/redirect?s=%4&l=R&link=L",
		"/redirect?s=%4g&l=R&link=L",
		"/redirect?s=M&l=R&link=L%",
		"/redirect?s=M&l=R&link=L%2",
		"/redirect?s=M%00&l=R&link=L",                  /* NUL */
		"/redirect#?s=M&l=R&link=L",                    /* query inside the fragment */
		"http://host?s=M&l=R&link=L",                   /* empty path */
		"http://host",
		"http:/redirect?s=M&l=R&link=L",
		"://host/redirect?s=M&l=R&link=L",
		"1http://host/redirect?s=M&l=R&link=L",
		"redirect?s=M&l=R&link=L",
	};

	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		if (extract(*state, targets[i]))
			fail_msg("matched: \"%s\"", targets[i]);
	}
}

static void test_length_limit(void **state)
{
	char target[4 * CS_TRACK_ID_MAX + 64];
	char id[3 * CS_TRACK_ID_MAX + 1];

	/* longest id: CS_TRACK_ID_MAX - 1 bytes after decoding */
	memset(id, 'a', CS_TRACK_ID_MAX - 1);
	id[CS_TRACK_ID_MAX - 1] = '\0';
	snprintf(target, sizeof(target), "/redirect?s=%s&l=R&link=L", id);
	assert_true(extract(*state, target));
	assert_string_equal(ids.message, id);

	id[CS_TRACK_ID_MAX - 1] = 'a';
	id[CS_TRACK_ID_MAX] = '\0';
	snprintf(target, sizeof(target), "/redirect?s=M&l=R&link=%s", id);
	assert_false(extract(*state, target));

	/* the limit is on the decoded length: 255 escapes decode to 255 bytes */
	id[0] = '\0';
	for (int i = 0; i < CS_TRACK_ID_MAX - 1; i++)
		strcat(id, "%41");
	snprintf(target, sizeof(target), "/redirect?s=M&l=%s&link=L", id);
	assert_true(extract(*state, target));
	assert_int_equal(strlen(ids.recipient), CS_TRACK_ID_MAX - 1);
	strcat(id, "%41");
	snprintf(target, sizeof(target), "/redirect?s=M&l=%s&link=L", id);
	assert_false(extract(*state, target));
}

static void test_length_delimited(void **state)
{
	/* the target need not be NUL-terminated: bytes after len are not read */
	const char line[] = "/redirect?s=M&l=R&link=LONGER&s=x HTTP/1.1";
	size_t len = strlen("/redirect?s=M&l=R&link=L");

	memset(&ids, 0, sizeof(ids));
	assert_true(cs_track_extract(*state, line, len, &ids));
	expect_ids("M", "R", "L");
	assert_false(cs_track_extract(*state, line, len - 1, &ids));
	assert_false(cs_track_extract(*state, line, 0, &ids));
}

/*
 * Long ids are copied a word at a time up to the first '%', '&' or NUL:
 * each must be seen at every offset of a word.
 */
static void test_escapes_at_every_offset(void **state)
{
	const char *plain = "abcdefghijklmnopqrstuvwxyz0123456789";

	for (int k = 0; k <= 24; k++) {
		char target[256], want[64];

		/* an escape at offset k */
		snprintf(target, sizeof(target), "/redirect?s=%.*s%%41%s&l=r&link=x", k, plain,
			 plain + k);
		snprintf(want, sizeof(want), "%.*sA%s", k, plain, plain + k);
		assert_true(extract(*state, target));
		expect_ids(want, "r", "x");
		/* the value ends at offset k */
		snprintf(target, sizeof(target), "/redirect?l=r&link=%.*s&s=%s", k + 1, plain,
			 plain);
		snprintf(want, sizeof(want), "%.*s", k + 1, plain);
		assert_true(extract(*state, target));
		expect_ids(plain, "r", want);
		/* an encoded NUL at offset k is no id */
		snprintf(target, sizeof(target), "/redirect?s=%.*s%%00%s&l=r&link=x", k, plain,
			 plain + k);
		assert_false(extract(*state, target));
	}
}

static void test_custom_query(void **state)
{
	char err[256];
	struct cs_track *t = cs_track_new_query("/t/c", "msg", "rcpt", "u", err, sizeof(err));

	assert_non_null(t);
	assert_true(extract(t, "/t/c?u=L&rcpt=R&msg=M"));
	expect_ids("M", "R", "L");
	assert_false(extract(t, "/redirect?s=M&l=R&link=L"));
	assert_false(extract(t, "/t/c?u=L&rcpt=R&ms=M"));
	cs_track_free(t);

	assert_null(cs_track_new_query("redirect", "s", "l", "link", err, sizeof(err)));
	assert_non_null(strstr(err, "path"));
	assert_null(cs_track_new_query("/r?x", "s", "l", "link", err, sizeof(err)));
	assert_null(cs_track_new_query("/r", "", "l", "link", err, sizeof(err)));
	assert_null(cs_track_new_query("/r", "s", "l=", "link", err, sizeof(err)));
	assert_null(cs_track_new_query("/r", "s", NULL, "link", err, sizeof(err)));
	assert_non_null(strstr(err, "recipient"));
	assert_null(cs_track_new_query("/r", "s", "l", "s", err, sizeof(err)));
	assert_non_null(strstr(err, "same parameter"));
	/* err may be omitted */
	assert_null(cs_track_new_query(NULL, "s", "l", "link", NULL, 0));
}

static void test_template(void **state)
{
	char err[256];
	struct cs_track *t = cs_track_new_template("/c/{message}/{recipient}/{link}", err,
						   sizeof(err));

	assert_non_null(t);
	assert_true(extract(t, "/c/M/R/L"));
	expect_ids("M", "R", "L");
	assert_true(extract(t, "/c/M%2Fx/R/L?utm=1#top"));
	expect_ids("M/x", "R", "L");
	assert_true(extract(t, "http://h.example/c/M/R/L"));
	expect_ids("M", "R", "L");
	assert_false(extract(t, "/c/M/R"));
	assert_false(extract(t, "/c/M/R/"));
	assert_false(extract(t, "/c/M/R/L/"));
	assert_false(extract(t, "/c/M/R/L/x"));
	assert_false(extract(t, "/c/M//L"));
	assert_false(extract(t, "/d/M/R/L"));
	assert_false(extract(t, "/cc/M/R/L"));
	assert_false(extract(t, "/c/M/R/%zz"));
	assert_false(extract(t, "/c/M/R/L%00"));
	assert_false(extract(t, "/redirect?s=M&l=R&link=L"));
	cs_track_free(t);

	/* placeholders in any order, literal suffix */
	t = cs_track_new_template("/go/{link}/{recipient}/{message}/r.html", err, sizeof(err));
	assert_non_null(t);
	assert_true(extract(t, "/go/L/R/M/r.html"));
	expect_ids("M", "R", "L");
	assert_false(extract(t, "/go/L/R/M/r.htm"));
	assert_false(extract(t, "/go/L/R/M"));
	cs_track_free(t);
}

static void test_template_errors(void **state)
{
	static const char *const bad[] = {
		"c/{message}/{recipient}/{link}",
		"/c/{message}/{recipient}",
		"/c/{message}/{recipient}/{link}/{link}",
		"/c/{message}/{recipient}/{lnk}",
		"/c/{message}/{recipient}/{link",
		"/c/{message}/{recipient}/link}",
		"/c/x{message}/{recipient}/{link}",
		"/c/{message}x/{recipient}/{link}",
		"/c/{message}{recipient}/{link}",
		"/c/{message}/{recipient}/{link}?x=1",
		"/c/%7B/{message}/{recipient}/{link}",
		"",
	};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (cs_track_new_template(bad[i], err, sizeof(err)))
			fail_msg("accepted template \"%s\"", bad[i]);
		assert_true(err[0] != '\0');
	}
	assert_null(cs_track_new_template(NULL, err, sizeof(err)));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_design_example, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_any_order_and_extra_params, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_first_wins, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_percent_decoding, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_absolute_form_and_fragment, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_not_clicks, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_length_limit, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_length_delimited, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_escapes_at_every_offset, setup_default, teardown),
		cmocka_unit_test(test_custom_query),
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_template_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
