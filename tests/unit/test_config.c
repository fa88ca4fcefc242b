/* INI configuration: every key, repeatable keys, errors with line numbers, durations. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "proxy.h"
#include "track.h"

static char path[64];

static const char *write_conf(const char *text)
{
	int fd;

	strcpy(path, "/tmp/cs-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* Loads text; returns the error ("" on success). */
static const char *load(struct cs_config *cfg, const char *text)
{
	static char err[512];

	err[0] = '\0';
	cs_config_init(cfg);
	if (cs_config_load(cfg, write_conf(text), err, sizeof(err)) == 0)
		assert_string_equal(err, "");
	else
		assert_true(err[0] != '\0');
	unlink(path);
	return err;
}

static void test_every_key(void **state)
{
	struct cs_config cfg;
	const char *err = load(&cfg,
		"# comment\n"
		"[track]\n"
		"path = /go\n"
		"message_param = m\n"
		"recipient_param = r\n"
		"link_param = u\n"
		"\n"
		"[classify]\n"
		"burst_window = 1500ms\n"
		"multi_ip_window = 5m\n"
		"double_click_window = 2s\n"
		"reorder_window = 10s\n"
		"idle_advance = 250ms\n"
		"v4_client_prefix = 24\n"
		"v6_client_prefix = 56\n"
		"max_pairs = 1000\n"
		"honeypot = trap1\n"
		"honeypot = trap2\n"
		"[ranges]\n"
		"file = /etc/clicksieve/extra.txt\n"
		"file = local.txt\n"
		"[proxy]\n"
		"trusted = 192.0.2.0/24\n"
		"trusted = 2001:db8::/32\n"
		"[log]\n"
		"format = $remote_addr [$time_local] \"$request\"\n"
		"[json]\n"
		"remote_addr = client\n"
		"msec = ts\n"
		"[run]\n"
		"interface = eth0\n"
		"ports = 80,8080\n"
		"xdp_mode = generic\n"
		"metrics = 127.0.0.1:9200\n"
		"output = /var/log/clicksieve.jsonl\n");

	assert_string_equal(err, "");
	assert_string_equal(cfg.track_path, "/go");
	assert_string_equal(cfg.track_message_param, "m");
	assert_string_equal(cfg.track_recipient_param, "r");
	assert_string_equal(cfg.track_link_param, "u");
	assert_null(cfg.track_template);
	assert_int_equal(cfg.classifier.burst_window_us, 1500000);
	assert_int_equal(cfg.classifier.multi_ip_window_us, 300000000);
	assert_int_equal(cfg.classifier.double_click_us, 2000000);
	assert_int_equal(cfg.classifier.reorder_window_us, 10000000);
	assert_int_equal(cfg.idle_advance_us, 250000);
	assert_int_equal(cfg.classifier.v4_client_prefix, 24);
	assert_int_equal(cfg.classifier.v6_client_prefix, 56);
	assert_int_equal(cfg.classifier.max_pairs, 1000);
	assert_int_equal(cfg.n_honeypots, 2);
	assert_int_equal(cfg.classifier.n_honeypot_links, 2);
	assert_string_equal(cfg.classifier.honeypot_links[1], "trap2");
	assert_int_equal(cfg.n_range_files, 2);
	assert_string_equal(cfg.range_files[0], "/etc/clicksieve/extra.txt");
	/* Relative to the config file's directory. */
	assert_string_equal(cfg.range_files[1], "/tmp/local.txt");
	assert_int_equal(cfg.n_trusted_proxies, 2);
	assert_string_equal(cfg.trusted_proxies[1], "2001:db8::/32");
	assert_string_equal(cfg.log_format, "$remote_addr [$time_local] \"$request\"");
	assert_int_equal(cfg.n_json_keys, 2);
	assert_string_equal(cfg.json_keys[0].var, "remote_addr");
	assert_string_equal(cfg.json_keys[0].key, "client");
	assert_string_equal(cfg.run_interface, "eth0");
	assert_string_equal(cfg.run_ports, "80,8080");
	assert_string_equal(cfg.run_xdp_mode, "generic");
	assert_string_equal(cfg.run_metrics, "127.0.0.1:9200");
	assert_string_equal(cfg.run_output, "/var/log/clicksieve.jsonl");
	cs_config_free(&cfg);
}

static void test_defaults_untouched(void **state)
{
	struct cs_config cfg, defaults;
	char err[128];
	struct cs_track *t;
	struct cs_track_ids ids;
	const char *target = "/redirect?s=M1&l=R1&link=L1";

	cs_config_init(&defaults);
	assert_string_equal(load(&cfg, "[classify]\nburst_window = 3s\n"), "");
	assert_int_equal(cfg.classifier.burst_window_us, 3000000);
	assert_int_equal(cfg.classifier.multi_ip_window_us, defaults.classifier.multi_ip_window_us);
	assert_int_equal(cfg.classifier.v6_client_prefix, defaults.classifier.v6_client_prefix);
	assert_null(cfg.log_format);
	/* Unset tracking URL: the default one. */
	t = cs_config_track_new(&cfg, err, sizeof(err));
	assert_non_null(t);
	assert_true(cs_track_extract(t, target, strlen(target), &ids));
	assert_string_equal(ids.message, "M1");
	assert_string_equal(ids.link, "L1");
	cs_track_free(t);
	cs_config_free(&cfg);
	cs_config_free(&defaults);
}

static void test_track_template_and_proxies(void **state)
{
	struct cs_config cfg;
	struct cs_track *t;
	struct cs_proxies *p;
	struct cs_track_ids ids;
	struct cs_addr a;
	char err[128];
	const char *target = "/c/MSG/RCP/LNK";

	assert_string_equal(load(&cfg, "[track]\ntemplate = /c/{message}/{recipient}/{link}\n"
				 "[proxy]\ntrusted = 198.51.100.0/24\n"), "");
	t = cs_config_track_new(&cfg, err, sizeof(err));
	assert_non_null(t);
	assert_true(cs_track_extract(t, target, strlen(target), &ids));
	assert_string_equal(ids.recipient, "RCP");
	cs_track_free(t);
	p = cs_config_proxies_new(&cfg, err, sizeof(err));
	assert_non_null(p);
	assert_true(cs_addr_parse("198.51.100.77", &a));
	assert_true(cs_proxies_trusted(p, &a));
	cs_proxies_free(p);
	cs_config_free(&cfg);
}

static void test_continued_format(void **state)
{
	struct cs_config cfg;

	assert_string_equal(load(&cfg, "[log]\nformat = $remote_addr - $remote_user [$time_local]\n"
				 "  \"$request\" $status\n"), "");
	assert_string_equal(cfg.log_format, "$remote_addr - $remote_user [$time_local] \"$request\" $status");
	cs_config_free(&cfg);
}

static void expect_error(const char *text, const char *line_prefix, const char *reason)
{
	struct cs_config cfg;
	const char *err = load(&cfg, text);
	char want[128];

	snprintf(want, sizeof(want), "%s:%s", path, line_prefix);
	if (strncmp(err, want, strlen(want)) || !strstr(err, reason))
		fail_msg("got '%s', want '%s...%s'", err, want, reason);
	cs_config_free(&cfg);
}

static void test_errors_name_the_line(void **state)
{
	expect_error("[classify]\nburst_window = 2s\nburst_window = soon\n", "3:", "bad duration");
	expect_error("[classify]\nv4_client_prefix = 33\n", "2:", "prefix length");
	expect_error("[classify]\nv6_client_prefix = -1\n", "2:", "prefix length");
	expect_error("[classify]\nmax_pairs = 0\n", "2:", "positive count");
	expect_error("[classify]\nbogus = 1\n", "2:", "unknown key 'bogus' in [classify]");
	expect_error("# c\n[nope]\nx = 1\n", "3:", "unknown section [nope]");
	expect_error("x = 1\n", "1:", "outside any section");
	expect_error("[proxy]\n\ntrusted = 192.0.2.1/24\n", "3:", "host bits");
	expect_error("[json]\nupstream_addr = up\n", "2:", "not an nginx variable");
	expect_error("[track]\npath =\n", "2:", "empty value");
	expect_error("[track]\nthis line has no equals sign\n", "2:", "syntax error");
	{
		char text[400] = "[log]\nformat = ";

		memset(text + strlen(text), 'x', 250);
		strcat(text, "\n");
		expect_error(text, "2:", "longer than");
	}
}

static void test_missing_file(void **state)
{
	struct cs_config cfg;
	char err[256];

	cs_config_init(&cfg);
	assert_int_equal(cs_config_load(&cfg, "/nonexistent/clicksieve.conf", err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/clicksieve.conf: No such file or directory");
	cs_config_free(&cfg);
}

static void test_durations(void **state)
{
	static const struct {
		const char *text;
		uint64_t us;
	} good[] = {
		{ "2s", 2000000 }, { "500ms", 500000 }, { "10m", 600000000 }, { "1h", 3600000000ull },
		{ "250us", 250 }, { "1.5s", 1500000 }, { "3", 3000000 }, { "0s", 0 },
		{ "7d", 7 * 86400000000ull },
	};
	static const char *const bad[] = { "", "s", "-1s", "2 s", "2x", "2sec", "1e30h", ".5s" };
	uint64_t us;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(cs_parse_duration(good[i].text, &us));
		assert_int_equal(us, good[i].us);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cs_parse_duration(bad[i], &us))
			fail_msg("accepted '%s'", bad[i]);
}

static void test_learn_section(void **state)
{
	struct cs_config cfg;
	const char *err = load(&cfg, "[learn]\nenabled = no\nthreshold = 5\nwindow = 30m\n"
				     "ttl = 2d\nmax_entries = 1000\n");

	assert_string_equal(err, "");
	assert_false(cfg.learn.enabled);
	assert_int_equal(cfg.learn.threshold, 5);
	assert_int_equal(cfg.learn.window_us, 30 * 60000000ull);
	assert_int_equal(cfg.learn.ttl_us, 2 * 86400000000ull);
	assert_int_equal(cfg.learn.max_entries, 1000);
	cs_config_free(&cfg);
	/* untouched: the module's defaults */
	assert_string_equal(load(&cfg, "[learn]\n"), "");
	assert_true(cfg.learn.enabled);
	assert_int_equal(cfg.learn.threshold, 3);
	assert_int_equal(cfg.learn.ttl_us, 7 * 86400000000ull);
	cs_config_free(&cfg);
	expect_error("[learn]\nthreshold = 0\n", "2:", "not a count");
	expect_error("[learn]\nthreshold = 65\n", "2:", "not a count");
	expect_error("[learn]\nenabled = maybe\n", "2:", "not yes or no");
	expect_error("[learn]\nttl = 0s\n", "2:", "longer than 0");
	expect_error("[learn]\nwindow = soon\n", "2:", "bad duration");
	expect_error("[learn]\nmax_entries = 0\n", "2:", "positive count");
	expect_error("[learn]\nbogus = 1\n", "2:", "unknown key 'bogus' in [learn]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_defaults_untouched),
		cmocka_unit_test(test_track_template_and_proxies),
		cmocka_unit_test(test_continued_format),
		cmocka_unit_test(test_errors_name_the_line),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_learn_section),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
