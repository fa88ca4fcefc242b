/* Bot agent patterns: file syntax, word anchors, the shipped list. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "agents.h"

/* Unit tests run from the repository root (tests/run.sh). */
#define SHIPPED_LIST "data/bot-agents.txt"

static char tmp_path[64];

/* Writes text to a temporary file and loads it; err receives load errors. */
static struct cs_agents *load_text(const char *text, char *err, size_t errlen)
{
	struct cs_agents *a;
	FILE *f;
	int fd;

	strcpy(tmp_path, "/tmp/test_agents.XXXXXX");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	a = cs_agents_load(tmp_path, err, errlen);
	unlink(tmp_path);
	return a;
}

static void test_substring_case_insensitive(void **state)
{
	char err[256] = "";
	struct cs_agents *a = load_text("# comment\n\n  Python-Requests  \ncurl/\r\n\t# indented comment\n",
					err, sizeof(err));

	assert_non_null(a);
	assert_true(cs_agents_match(a, "python-requests/2.31.0"));
	assert_true(cs_agents_match(a, "PYTHON-REQUESTS/2.31.0"));
	assert_true(cs_agents_match(a, "x curl/8.0 y"));
	assert_true(cs_agents_match(a, "CURL/"));
	assert_false(cs_agents_match(a, "curl"));
	assert_false(cs_agents_match(a, "python-request"));
	assert_false(cs_agents_match(a, "# comment"));
	assert_false(cs_agents_match(a, ""));
	assert_false(cs_agents_match(a, NULL));
	cs_agents_free(a);
}

static void test_overlapping_patterns(void **state)
{
	char err[256];
	/* Aho-Corasick fail links: "abcd" fails over into "bce" and "cd" */
	struct cs_agents *a = load_text("abcx\nbce\ncd\nzzzzy\n", err, sizeof(err));

	assert_non_null(a);
	assert_true(cs_agents_match(a, "abce"));
	assert_true(cs_agents_match(a, "abcd"));
	assert_true(cs_agents_match(a, "zzzzzzy"));
	assert_false(cs_agents_match(a, "abc"));
	assert_false(cs_agents_match(a, "zzzz"));
	assert_false(cs_agents_match(a, "bcx"));
	cs_agents_free(a);
}

static void test_word_anchors(void **state)
{
	char err[256];
	struct cs_agents *a = load_text("\\bbot\\b\n\\bspider\nslurp\\b\n", err, sizeof(err));

	assert_non_null(a);
	assert_true(cs_agents_match(a, "bot"));
	assert_true(cs_agents_match(a, "Bot/1.0"));
	assert_true(cs_agents_match(a, "a bot."));
	assert_true(cs_agents_match(a, "(bot)"));
	assert_false(cs_agents_match(a, "Cubot P40"));
	assert_false(cs_agents_match(a, "robots"));
	assert_false(cs_agents_match(a, "bots"));
	/* a miss on the first occurrence must not hide a later one */
	assert_true(cs_agents_match(a, "CUBOT bot"));
	assert_true(cs_agents_match(a, "Spider-Man"));
	assert_false(cs_agents_match(a, "Baiduspider"));
	assert_true(cs_agents_match(a, "Yahoo! Slurp"));
	assert_false(cs_agents_match(a, "slurpy"));
	cs_agents_free(a);

	/* anchored and unanchored patterns ending at the same state */
	a = load_text("\\bab\nxab\\b\n", err, sizeof(err));
	assert_non_null(a);
	assert_true(cs_agents_match(a, "ab"));
	assert_true(cs_agents_match(a, "-xab-"));
	assert_false(cs_agents_match(a, "cxabc"));
	assert_false(cs_agents_match(a, "cab"));
	cs_agents_free(a);
}

/* Reference matcher for the random test: the documented semantics, slowly. */
static bool naive_match(char pats[][8], const int *anchors, int n, const char *ua)
{
	size_t ua_len = strlen(ua);

	for (int p = 0; p < n; p++) {
		size_t len = strlen(pats[p]);

		for (size_t at = 0; at + len <= ua_len; at++) {
			bool word_before = at > 0 && isalnum((unsigned char)ua[at - 1]);
			bool word_after = isalnum((unsigned char)ua[at + len]);

			if (strncasecmp(ua + at, pats[p], len))
				continue;
			if ((anchors[p] & 1 && word_before) || (anchors[p] & 2 && word_after))
				continue;
			return true;
		}
	}
	return false;
}

static void test_random_against_reference(void **state)
{
	static const char alphabet[] = "abAB-c";
	enum { N_PATTERNS = 12, N_ROUNDS = 300, N_AGENTS = 200 };
	char pats[N_PATTERNS][8], text[N_PATTERNS * 16], ua[24], err[256];
	int anchors[N_PATTERNS];

	srand(12345);
	for (int round = 0; round < N_ROUNDS; round++) {
		struct cs_agents *a;
		char *o = text;

		for (int p = 0; p < N_PATTERNS; p++) {
			int len = 1 + rand() % 4;

			for (int i = 0; i < len; i++)
				pats[p][i] = alphabet[rand() % (sizeof(alphabet) - 1)];
			pats[p][len] = '\0';
			anchors[p] = rand() % 4;
			o += sprintf(o, "%s%s%s\n", anchors[p] & 1 ? "\\b" : "", pats[p],
				     anchors[p] & 2 ? "\\b" : "");
		}
		a = load_text(text, err, sizeof(err));
		if (!a)
			fail_msg("%s", err);
		for (int k = 0; k < N_AGENTS; k++) {
			int len = rand() % (sizeof(ua) - 1);

			for (int i = 0; i < len; i++)
				ua[i] = alphabet[rand() % (sizeof(alphabet) - 1)];
			ua[len] = '\0';
			if (cs_agents_match(a, ua) != naive_match(pats, anchors, N_PATTERNS, ua))
				fail_msg("patterns:\n%sagent \"%s\": automaton says %d", text, ua,
					 cs_agents_match(a, ua));
		}
		cs_agents_free(a);
	}
}

static void test_load_errors(void **state)
{
	char err[512], long_line[400];

	assert_null(load_text("ok\n\\b\n", err, sizeof(err)));
	assert_non_null(strstr(err, tmp_path));
	assert_non_null(strstr(err, ":2: "));
	assert_null(load_text("a\nb\n\\b\\b\n", err, sizeof(err)));
	assert_non_null(strstr(err, ":3: empty pattern"));
	assert_null(load_text("a\x01b\n", err, sizeof(err)));
	assert_non_null(strstr(err, ":1: control character"));

	memset(long_line, 'x', sizeof(long_line) - 2);
	long_line[sizeof(long_line) - 2] = '\n';
	long_line[sizeof(long_line) - 1] = '\0';
	assert_null(load_text(long_line, err, sizeof(err)));
	assert_non_null(strstr(err, ":1: pattern longer"));

	assert_null(cs_agents_load("/nonexistent/agents.txt", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/agents.txt: "));
}

static void test_empty_list(void **state)
{
	char err[256];
	struct cs_agents *a = load_text("# nothing\n", err, sizeof(err));

	assert_non_null(a);
	assert_false(cs_agents_match(a, "python-requests/2.31"));
	cs_agents_free(a);
}

static const char *const bot_agents[] = {
	"python-requests/2.31.0",
	"Python-urllib/3.11",
	"curl/8.4.0",
	"Wget/1.21.3",
	"Go-http-client/1.1",
	"Java/17.0.8",
	"okhttp/4.12.0",
	"Apache-HttpClient/4.5.14 (Java/17.0.8)",
	"libwww-perl/6.72",
	"node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
	"axios/1.6.2",
	"Python/3.11 aiohttp/3.9.1",
	"python-httpx/0.25.2",
	"Scrapy/2.11.0 (+https://scrapy.org)",
	"PHP/8.2",
	"Ruby",
	"PostmanRuntime/7.36.0",
	"Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.3570",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
	"HeadlessChrome/120.0.6099.71 Safari/537.36",
	"Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
	"PhantomJS/2.1.1 Safari/538.1",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
	"Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
	"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
	"Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Mobile Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
	"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
	"Twitterbot/1.0",
	"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
	"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
	"WhatsApp/2.23.20.0 A",
	"TelegramBot (like TwitterBot)",
	"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
	"Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
	"Microsoft Office Existence Discovery",
	"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)",
	"Barracuda Sentinel (EE)",
	"Mozilla/5.0 (compatible; Mimecast URL Protect)",
	"Proofpoint URL Defense",
	"Bitdefender",
	"TrendMicro",
	"Symantec Email Security",
	"Mozilla/5.0 (compatible; Google-Safety; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
	"Bot",
	"Some Crawler 1.0",
};

/* Real browsers and mail-client web views: none may match. */
static const char *const browser_agents[] = {
	/* Chrome, Windows */
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Chrome/120.0.0.0 Safari/537.36",
	/* Chrome, Android */
	"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Chrome/120.0.0.0 Mobile Safari/537.36",
	/* Firefox, Linux and Windows */
	"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
	/* Safari, iOS and macOS */
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
	"(KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
	"Version/17.1 Safari/605.1.15",
	/* Edge */
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.61",
	/* Samsung Internet */
	"Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
	"SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
	/* Outlook desktop HTML view (Word renderer) */
	"Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; WOW64; Trident/7.0; .NET4.0C; "
	".NET4.0E; .NET CLR 2.0.50727; .NET CLR 3.0.30729; .NET CLR 3.5.30729; "
	"Microsoft Outlook 16.0.5295; ms-office; MSOffice 16)",
	/* new Outlook / Outlook desktop WebView2 */
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0 OneOutlook/1.2023.1130.200",
	/* Gmail app web view, Android and iOS */
	"Mozilla/5.0 (Linux; Android 14; Pixel 7 Build/UQ1A.231205.015; wv) AppleWebKit/537.36 "
	"(KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.43 Mobile Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
	"(KHTML, like Gecko) Mobile/15E148",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
	"(KHTML, like Gecko) GSA/295.0.590048842 Mobile/15E148 Safari/604.1",
	/* Cubot phone (the "bot" trap) */
	"Mozilla/5.0 (Linux; Android 11; CUBOT P50 Build/RP1A.201005.001) AppleWebKit/537.36 "
	"(KHTML, like Gecko) Chrome/119.0.6045.163 Mobile Safari/537.36",
	"Mozilla/5.0 (Linux; Android 9; CUBOT_X19) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Chrome/119.0.6045.163 Mobile Safari/537.36",
	/* Opera, Yandex Browser, Facebook and Instagram in-app browsers */
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Chrome/118.0.0.0 YaBrowser/23.11.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
	"(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/443.0.0.32.114;FBBV/541066718;"
	"FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
	"Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
	"(KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile Safari/537.36 "
	"Instagram 309.1.0.41.113 Android (33/13; 450dpi; 1080x2177; samsung; SM-A536B; a53x; "
	"s5e8825; en_GB; 541635890)",
};

static void test_shipped_list(void **state)
{
	char err[512];
	struct cs_agents *a = cs_agents_load(SHIPPED_LIST, err, sizeof(err));

	if (!a)
		fail_msg("%s", err);
	for (size_t i = 0; i < sizeof(bot_agents) / sizeof(bot_agents[0]); i++)
		if (!cs_agents_match(a, bot_agents[i]))
			fail_msg("bot agent not matched: %s", bot_agents[i]);
	for (size_t i = 0; i < sizeof(browser_agents) / sizeof(browser_agents[0]); i++)
		if (cs_agents_match(a, browser_agents[i]))
			fail_msg("browser agent matched: %s", browser_agents[i]);
	cs_agents_free(a);
}

static void test_default_path(void **state)
{
	const char *path = cs_agents_default_path();

	assert_non_null(path);
	assert_non_null(strstr(path, "bot-agents.txt"));
	/* installed copy, or relative to the executable */
	assert_true(strncmp(path, CS_DATADIR "/", strlen(CS_DATADIR) + 1) == 0 ||
		    strstr(path, "/../data/bot-agents.txt") != NULL);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_substring_case_insensitive),
		cmocka_unit_test(test_overlapping_patterns),
		cmocka_unit_test(test_word_anchors),
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_empty_list),
		cmocka_unit_test(test_shipped_list),
		cmocka_unit_test(test_default_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
