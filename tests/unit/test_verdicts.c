/* The classifier's rules and careful readings (DESIGN §1), in virtual time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agents.h"
#include "learned.h"
#include "ranges.h"
#include "verdicts.h"

#define T0 (1763280000ull * 1000000)    /* 2025-11-16 08:00:00 UTC */
#define SEC 1000000ull
#define AT(seconds) (T0 + (uint64_t)((seconds) * 1e6 + 0.5))
#define MAX_LINES 8192

#define ALL_MACHINE (CS_R_SCANNER_RANGE | CS_R_BURST | CS_R_MULTI_IP | CS_R_BOT_AGENT | \
		     CS_R_HEAD_REQUEST | CS_R_HONEYPOT)

static const char range_list[] =
	"# test ranges (offline input only)\n"
	"205.139.110.0/24   mimecast\n"
	"40.92.0.0/15       microsoft\n"
	"40.92.7.0/24       mycorp     allow\n"
	"2a01:111:f403::/48 microsoft\n"
	"38.0.0.0/8         cogent     weak\n";

static const char agent_list[] =
	"python-requests\n"
	"HeadlessChrome\n";

static const char *const honeypots[] = { "trap-link" };

/*
 * Allocation failures on demand: while fail_every is set, every
 * fail_every-th malloc or realloc returns NULL. Not under ASan, which owns
 * malloc.
 */
#ifndef __SANITIZE_ADDRESS__
#define FAULT_INJECTION 1
extern void *__libc_malloc(size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
static unsigned fail_every, alloc_calls, alloc_failed;

static bool fail_now(void)
{
	if (!fail_every || ++alloc_calls % fail_every)
		return false;
	alloc_failed++;
	return true;
}

void *malloc(size_t size)
{
	return fail_now() ? NULL : __libc_malloc(size);
}

void *realloc(void *ptr, size_t size)
{
	return fail_now() ? NULL : __libc_realloc(ptr, size);
}
#endif

struct record {
	unsigned seen;
	uint64_t ts_us;
	enum cs_verdict_kind kind;
	uint32_t reasons;
	char provider[32];
	char link[64];
	char user_agent[64];
	char message[32];
	char file[32];
};

struct fixture {
	struct cs_classifier_config cfg;
	struct cs_classifier *c;
	struct cs_ranges *ranges;
	struct cs_agents *agents;
	struct record rec[MAX_LINES + 1];
	uint64_t line;                  /* last line fed */
	unsigned calls;
	unsigned bad_calls;             /* callback with a line never fed */
};

/* What a test feeds: unset fields take defaults in feed(). */
struct spec {
	double t;                       /* seconds after T0 */
	const char *ip;
	const char *link;
	const char *ua;
	const char *method;
	const char *message;
	const char *recipient;
};

static void collect(void *ctx, const struct cs_click *k, const struct cs_verdict *v)
{
	struct fixture *fx = ctx;
	struct record *r;

	fx->calls++;
	if (k->pos.line == 0 || k->pos.line > fx->line) {
		fx->bad_calls++;
		return;
	}
	/* lengths, when given, are the strings' */
	if ((k->message_len && k->message_len != strlen(k->message)) ||
	    (k->recipient_len && k->recipient_len != strlen(k->recipient)) ||
	    (k->link_len && k->link_len != strlen(k->link)) ||
	    (k->user_agent_len && k->user_agent_len != strlen(k->user_agent))) {
		fx->bad_calls++;
		return;
	}
	r = &fx->rec[k->pos.line];
	r->seen++;
	r->ts_us = k->ts_us;
	r->kind = v->kind;
	r->reasons = v->reasons;
	snprintf(r->provider, sizeof(r->provider), "%s", v->provider ? v->provider : "");
	snprintf(r->link, sizeof(r->link), "%s", k->link);
	snprintf(r->user_agent, sizeof(r->user_agent), "%s", k->user_agent);
	snprintf(r->message, sizeof(r->message), "%s", k->message);
	snprintf(r->file, sizeof(r->file), "%s", k->pos.file ? k->pos.file : "");
}

static char *temp_file(const char *text)
{
	char *path = strdup("/tmp/test_verdicts.XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[256] = "";
	char *ranges_path = temp_file(range_list), *agents_path = temp_file(agent_list);

	fx->ranges = cs_ranges_new();
	if (cs_ranges_load_file(fx->ranges, ranges_path, err, sizeof(err)) != 0)
		fail_msg("ranges: %s", err);
	fx->agents = cs_agents_load(agents_path, err, sizeof(err));
	if (!fx->agents)
		fail_msg("agents: %s", err);
	unlink(ranges_path);
	unlink(agents_path);
	free(ranges_path);
	free(agents_path);

	cs_classifier_config_defaults(&fx->cfg);
	fx->cfg.ranges = fx->ranges;
	fx->cfg.agents = fx->agents;
	fx->cfg.honeypot_links = honeypots;
	fx->cfg.n_honeypot_links = 1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	cs_classifier_free(fx->c);
	cs_agents_free(fx->agents);
	cs_ranges_free(fx->ranges);
	free(fx);
	return 0;
}

/* Builds the classifier from fx->cfg (tests tweak the config first). */
static struct fixture *start(void **state)
{
	struct fixture *fx = *state;

	fx->c = cs_classifier_new(&fx->cfg, collect, fx);
	assert_non_null(fx->c);
	return fx;
}

static uint64_t feed(struct fixture *fx, struct spec s)
{
	struct cs_click k = {
		.ts_us = AT(s.t),
		.message = s.message ? s.message : "msg-1",
		.recipient = s.recipient ? s.recipient : "rcpt-1",
		.link = s.link ? s.link : "link-a",
		.user_agent = s.ua ? s.ua : "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
		.pos = { .file = "access.log", .line = ++fx->line },
	};

	assert_true(fx->line <= MAX_LINES);
	assert_true(cs_addr_parse(s.ip ? s.ip : "198.51.100.7", &k.client));
	snprintf(k.method, sizeof(k.method), "%s", s.method ? s.method : "GET");
	cs_classifier_feed(fx->c, &k);
	return fx->line;
}

#define FEED(fx, ...) feed((fx), (struct spec){ __VA_ARGS__ })

static const struct record *finished(struct fixture *fx, uint64_t line)
{
	cs_classifier_finish(fx->c);
	assert_int_equal(fx->rec[line].seen, 1);
	return &fx->rec[line];
}

static void assert_verdict(struct fixture *fx, uint64_t line, enum cs_verdict_kind kind,
			   uint32_t reasons, const char *provider)
{
	const struct record *r = finished(fx, line);

	if (r->kind != kind || r->reasons != reasons || strcmp(r->provider, provider) != 0)
		fail_msg("line %llu: got %s reasons 0x%x provider '%s', want %s 0x%x '%s'",
			 (unsigned long long)line, cs_verdict_name(r->kind), r->reasons,
			 r->provider, cs_verdict_name(kind), reasons, provider);
}

static void assert_all_once(struct fixture *fx)
{
	uint64_t line;

	cs_classifier_finish(fx->c);
	assert_int_equal(fx->bad_calls, 0);
	assert_int_equal(fx->calls, fx->line);
	for (line = 1; line <= fx->line; line++)
		assert_int_equal(fx->rec[line].seen, 1);
}

/* ---- range rules ---- */

static void test_scanner_range_machine_with_provider(void **state)
{
	struct fixture *fx = start(state);
	uint64_t l = FEED(fx, .t = 0, .ip = "205.139.110.24");

	assert_verdict(fx, l, CS_MACHINE, CS_R_SCANNER_RANGE, "mimecast");
}

static void test_weak_range_only_suspect(void **state)
{
	struct fixture *fx = start(state);
	uint64_t l = FEED(fx, .t = 0, .ip = "38.104.5.9");

	assert_verdict(fx, l, CS_SUSPECT, CS_R_WEAK_RANGE, "cogent");
}

static void test_weak_plus_burst_machine(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0, .ip = "38.104.5.9", .link = "link-a");
	uint64_t b = FEED(fx, .t = 0.5, .ip = "38.104.5.9", .link = "link-b");

	assert_verdict(fx, a, CS_MACHINE, CS_R_WEAK_RANGE | CS_R_BURST, "cogent");
	assert_verdict(fx, b, CS_MACHINE, CS_R_WEAK_RANGE | CS_R_BURST, "cogent");
}

static void test_allow_inside_scanner_range_human(void **state)
{
	struct fixture *fx = start(state);
	uint64_t allowed = FEED(fx, .t = 0, .ip = "40.92.7.20", .recipient = "r1");
	uint64_t scanner = FEED(fx, .t = 0, .ip = "40.92.8.20", .recipient = "r2");

	assert_verdict(fx, allowed, CS_HUMAN, 0, "mycorp");
	assert_verdict(fx, scanner, CS_MACHINE, CS_R_SCANNER_RANGE, "microsoft");
}

/* ---- burst and double clicks ---- */

static void test_burst_three_links_all_machine(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0, .link = "link-a");
	uint64_t b = FEED(fx, .t = 0.4, .link = "link-b", .ip = "192.0.2.10");
	uint64_t c = FEED(fx, .t = 0.9, .link = "link-c", .ip = "192.0.2.11");

	assert_verdict(fx, a, CS_MACHINE, CS_R_BURST, "");
	assert_verdict(fx, b, CS_MACHINE, CS_R_BURST, "");
	assert_verdict(fx, c, CS_MACHINE, CS_R_BURST, "");
}

static void test_three_seconds_apart_not_burst(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0, .link = "link-a");
	uint64_t b = FEED(fx, .t = 3, .link = "link-b");

	assert_verdict(fx, a, CS_HUMAN, 0, "");
	assert_verdict(fx, b, CS_HUMAN, 0, "");
}

static void test_burst_window_is_inclusive(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0, .link = "link-a");
	uint64_t b = FEED(fx, .t = 2, .link = "link-b");
	uint64_t c = FEED(fx, .t = 4.000001, .link = "link-c");

	assert_verdict(fx, a, CS_MACHINE, CS_R_BURST, "");
	assert_verdict(fx, b, CS_MACHINE, CS_R_BURST, "");
	assert_verdict(fx, c, CS_HUMAN, 0, "");
}

static void test_double_click_both_human(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0);
	uint64_t b = FEED(fx, .t = 0.6);

	assert_verdict(fx, a, CS_HUMAN, 0, "");
	assert_verdict(fx, b, CS_HUMAN, 0, "");
}

/* A repeat more than 1 s later is no double click: both are a burst. */
static void test_repeat_after_double_click_window_is_burst(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0);
	uint64_t b = FEED(fx, .t = 1.5);
	uint64_t c = FEED(fx, .t = 10, .recipient = "r2");
	uint64_t d = FEED(fx, .t = 11, .recipient = "r2");

	assert_verdict(fx, a, CS_MACHINE, CS_R_BURST, "");
	assert_verdict(fx, b, CS_MACHINE, CS_R_BURST, "");
	assert_verdict(fx, c, CS_HUMAN, 0, "");
	assert_verdict(fx, d, CS_HUMAN, 0, "");
}

static void test_double_click_ipv6_privacy_address(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0, .ip = "2001:db8:1:2::10");
	uint64_t b = FEED(fx, .t = 0.5, .ip = "2001:db8:1:2:a::99");

	assert_verdict(fx, a, CS_HUMAN, 0, "");
	assert_verdict(fx, b, CS_HUMAN, 0, "");
}

static void test_double_click_other_agent_is_burst(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0, .ua = "Mozilla/5.0 (Windows NT 10.0)");
	uint64_t b = FEED(fx, .t = 0.6, .ua = "Mozilla/5.0 (Macintosh)");

	assert_verdict(fx, a, CS_MACHINE, CS_R_BURST, "");
	assert_verdict(fx, b, CS_MACHINE, CS_R_BURST, "");
}

static void test_double_click_other_address_is_burst(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0, .ip = "198.51.100.7");
	uint64_t b = FEED(fx, .t = 0.6, .ip = "198.51.100.8");

	assert_verdict(fx, a, CS_MACHINE, CS_R_BURST, "");
	assert_verdict(fx, b, CS_MACHINE, CS_R_BURST, "");
}

/* A probe next to a GET is not a person clicking twice. */
static void test_head_then_get_is_burst(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0, .method = "HEAD");
	uint64_t b = FEED(fx, .t = 0.3, .method = "GET");

	assert_verdict(fx, a, CS_MACHINE, CS_R_HEAD_REQUEST | CS_R_BURST, "");
	assert_verdict(fx, b, CS_MACHINE, CS_R_BURST, "");
}

/* Repeats chain: each within 1 s of the previous is still one person. */
static void test_triple_click_chain_human(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0);
	uint64_t b = FEED(fx, .t = 0.8);
	uint64_t c = FEED(fx, .t = 1.6);

	assert_verdict(fx, a, CS_HUMAN, 0, "");
	assert_verdict(fx, b, CS_HUMAN, 0, "");
	assert_verdict(fx, c, CS_HUMAN, 0, "");
}

/* Each click is judged on its own 2 s neighbourhood (see verdicts.c). */
static void test_double_click_then_other_link(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0, .link = "link-a");
	uint64_t b = FEED(fx, .t = 0.9, .link = "link-a");
	uint64_t c = FEED(fx, .t = 2.5, .link = "link-b");

	assert_verdict(fx, a, CS_HUMAN, 0, "");
	assert_verdict(fx, b, CS_MACHINE, CS_R_BURST, "");
	assert_verdict(fx, c, CS_MACHINE, CS_R_BURST, "");
}

static void test_burst_is_per_pair(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0, .recipient = "r1");
	uint64_t b = FEED(fx, .t = 0.2, .recipient = "r2", .ip = "203.0.113.5");
	uint64_t c = FEED(fx, .t = 0.4, .message = "msg-2", .recipient = "r1",
			  .ip = "203.0.113.6");

	assert_verdict(fx, a, CS_HUMAN, 0, "");
	assert_verdict(fx, b, CS_HUMAN, 0, "");
	assert_verdict(fx, c, CS_HUMAN, 0, "");
}

/* ---- multi_ip window ---- */

static void test_multi_ip_refetch_after_human(void **state)
{
	struct fixture *fx = start(state);
	uint64_t person = FEED(fx, .t = 0, .ip = "198.51.100.7");
	uint64_t refetch = FEED(fx, .t = 30, .ip = "203.0.113.50");

	assert_verdict(fx, person, CS_HUMAN, 0, "");
	assert_verdict(fx, refetch, CS_MACHINE, CS_R_MULTI_IP, "");
}

static void test_multi_ip_from_scanner_range_lists_both(void **state)
{
	struct fixture *fx = start(state);
	uint64_t person = FEED(fx, .t = 0);
	uint64_t safelinks = FEED(fx, .t = 45, .ip = "40.92.8.1");

	assert_verdict(fx, person, CS_HUMAN, 0, "");
	assert_verdict(fx, safelinks, CS_MACHINE, CS_R_SCANNER_RANGE | CS_R_MULTI_IP, "microsoft");
}

static void test_same_client_reclick_after_5_min_human(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0);
	uint64_t b = FEED(fx, .t = 300, .link = "link-b");

	assert_verdict(fx, a, CS_HUMAN, 0, "");
	assert_verdict(fx, b, CS_HUMAN, 0, "");
}

static void test_refetch_after_11_min_human(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0);
	uint64_t b = FEED(fx, .t = 660, .ip = "203.0.113.50");

	assert_verdict(fx, a, CS_HUMAN, 0, "");
	assert_verdict(fx, b, CS_HUMAN, 0, "");
}

static void test_multi_ip_window_edges(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0, .recipient = "r1");
	uint64_t at_end = FEED(fx, .t = 600, .ip = "203.0.113.50", .recipient = "r1");
	uint64_t b = FEED(fx, .t = 0, .recipient = "r2");
	uint64_t after = FEED(fx, .t = 600.000001, .ip = "203.0.113.50", .recipient = "r2");

	assert_verdict(fx, a, CS_HUMAN, 0, "");
	assert_verdict(fx, at_end, CS_MACHINE, CS_R_MULTI_IP, "");
	assert_verdict(fx, b, CS_HUMAN, 0, "");
	assert_verdict(fx, after, CS_HUMAN, 0, "");
}

/* Past its window, the next non-machine click opens a new one. */
static void test_window_reopens_after_expiry(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0);
	uint64_t b = FEED(fx, .t = 660, .ip = "203.0.113.50");
	uint64_t c = FEED(fx, .t = 700, .ip = "198.51.100.7");
	uint64_t d = FEED(fx, .t = 720, .ip = "192.0.2.77");

	assert_verdict(fx, a, CS_HUMAN, 0, "");
	assert_verdict(fx, b, CS_HUMAN, 0, "");
	assert_verdict(fx, c, CS_MACHINE, CS_R_MULTI_IP, "");
	assert_verdict(fx, d, CS_MACHINE, CS_R_MULTI_IP, "");
}

static void test_prescan_then_person_1h_human(void **state)
{
	struct fixture *fx = start(state);
	uint64_t scan_a = FEED(fx, .t = 0, .ip = "205.139.110.24", .link = "link-a");
	uint64_t scan_b = FEED(fx, .t = 0.1, .ip = "205.139.110.24", .link = "link-b");
	uint64_t person = FEED(fx, .t = 3600, .ip = "198.51.100.7");

	assert_verdict(fx, scan_a, CS_MACHINE, CS_R_SCANNER_RANGE | CS_R_BURST, "mimecast");
	assert_verdict(fx, scan_b, CS_MACHINE, CS_R_SCANNER_RANGE | CS_R_BURST, "mimecast");
	assert_verdict(fx, person, CS_HUMAN, 0, "");
}

/* The pre-scan opened no window; the person's click opens it. */
static void test_prescan_then_person_1min_human(void **state)
{
	struct fixture *fx = start(state);
	uint64_t scan = FEED(fx, .t = 0, .ip = "205.139.110.24");
	uint64_t person = FEED(fx, .t = 60, .ip = "198.51.100.7");
	uint64_t refetch = FEED(fx, .t = 90, .ip = "203.0.113.50");

	assert_verdict(fx, scan, CS_MACHINE, CS_R_SCANNER_RANGE, "mimecast");
	assert_verdict(fx, person, CS_HUMAN, 0, "");
	assert_verdict(fx, refetch, CS_MACHINE, CS_R_MULTI_IP, "");
}

/* A burst from plain addresses is machine too and opens no window. */
static void test_burst_opens_no_window(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0, .ip = "192.0.2.1", .link = "link-a");
	uint64_t b = FEED(fx, .t = 0.3, .ip = "192.0.2.2", .link = "link-b");
	uint64_t person = FEED(fx, .t = 60, .ip = "198.51.100.7");

	assert_verdict(fx, a, CS_MACHINE, CS_R_BURST, "");
	assert_verdict(fx, b, CS_MACHINE, CS_R_BURST, "");
	assert_verdict(fx, person, CS_HUMAN, 0, "");
}

/* A suspect click is not machine: it opens the window. */
static void test_suspect_opens_window(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0, .ip = "38.104.5.9");
	uint64_t b = FEED(fx, .t = 30, .ip = "198.51.100.7");

	assert_verdict(fx, a, CS_SUSPECT, CS_R_WEAK_RANGE, "cogent");
	assert_verdict(fx, b, CS_MACHINE, CS_R_MULTI_IP, "");
}

/* Re-fetches in the window still count for bursts. */
static void test_multi_ip_clicks_burst(void **state)
{
	struct fixture *fx = start(state);
	uint64_t person = FEED(fx, .t = 0);
	uint64_t r1 = FEED(fx, .t = 30, .ip = "203.0.113.50", .link = "link-a");
	uint64_t r2 = FEED(fx, .t = 31, .ip = "203.0.113.51", .link = "link-b");

	assert_verdict(fx, person, CS_HUMAN, 0, "");
	assert_verdict(fx, r1, CS_MACHINE, CS_R_MULTI_IP | CS_R_BURST, "");
	assert_verdict(fx, r2, CS_MACHINE, CS_R_MULTI_IP | CS_R_BURST, "");
}

static void test_ipv6_rotation_within_64_human(void **state)
{
	struct fixture *fx = start(state);
	uint64_t a = FEED(fx, .t = 0, .ip = "2001:db8:1:2::10");
	uint64_t b = FEED(fx, .t = 120, .ip = "2001:db8:1:2:8a3f:1ff:fe00:42");
	uint64_t other = FEED(fx, .t = 180, .ip = "2001:db8:1:3::10");

	assert_verdict(fx, a, CS_HUMAN, 0, "");
	assert_verdict(fx, b, CS_HUMAN, 0, "");
	assert_verdict(fx, other, CS_MACHINE, CS_R_MULTI_IP, "");
}

/* Dual-stack listeners log IPv4 clients as ::ffff:a.b.c.d. */
static void test_ipv4_mapped_is_ipv4(void **state)
{
	struct fixture *fx = start(state);
	uint64_t person = FEED(fx, .t = 0, .ip = "::ffff:198.51.100.7");
	uint64_t refetch = FEED(fx, .t = 30, .ip = "::ffff:203.0.113.50");
	uint64_t same = FEED(fx, .t = 60, .ip = "198.51.100.7", .link = "link-b");
	uint64_t scan = FEED(fx, .t = 0, .ip = "::ffff:205.139.110.24", .recipient = "r2");

	assert_verdict(fx, person, CS_HUMAN, 0, "");
	assert_verdict(fx, refetch, CS_MACHINE, CS_R_MULTI_IP, "");
	assert_verdict(fx, same, CS_HUMAN, 0, "");
	assert_verdict(fx, scan, CS_MACHINE, CS_R_SCANNER_RANGE, "mimecast");
}

static void test_client_prefix_configurable(void **state)
{
	struct fixture *fx = *state;
	uint64_t a, b, v6;

	fx->cfg.v4_client_prefix = 24;
	fx->cfg.v6_client_prefix = 128;
	start(state);
	a = FEED(fx, .t = 0, .ip = "198.51.100.7");
	b = FEED(fx, .t = 30, .ip = "198.51.100.200");
	FEED(fx, .t = 0, .ip = "2001:db8::1", .recipient = "r6");
	v6 = FEED(fx, .t = 30, .ip = "2001:db8::2", .recipient = "r6");

	assert_verdict(fx, a, CS_HUMAN, 0, "");
	assert_verdict(fx, b, CS_HUMAN, 0, "");
	assert_verdict(fx, v6, CS_MACHINE, CS_R_MULTI_IP, "");
}

/* ---- evidence from the click alone ---- */

static void test_bot_agent(void **state)
{
	struct fixture *fx = start(state);
	uint64_t l = FEED(fx, .t = 0, .ua = "python-requests/2.31.0");
	uint64_t h = FEED(fx, .t = 0, .ua = "Mozilla/5.0 HeadlessChrome/120.0", .recipient = "r2");

	assert_verdict(fx, l, CS_MACHINE, CS_R_BOT_AGENT, "");
	assert_verdict(fx, h, CS_MACHINE, CS_R_BOT_AGENT, "");
}

/* The classifier remembers agents' matches: more agents than it remembers, twice over. */
static void test_bot_agent_memo(void **state)
{
	struct fixture *fx = start(state);
	char agent[64], rcpt[32];
	unsigned i, bots = 0;

	for (i = 0; i < 6000; i++) {
		unsigned id = i % 3000;
		struct cs_click k = {
			.ts_us = AT(i * 10), .message = "msg-1", .recipient = rcpt, .link = "link-a",
			.user_agent = agent, .method = "GET", .pos = { .line = ++fx->line },
		};

		snprintf(agent, sizeof(agent), id % 7 ? "Mozilla/5.0 (build %u)" :
			 "python-requests/2.%u", id);
		snprintf(rcpt, sizeof(rcpt), "r%u", i);
		assert_true(cs_addr_parse("198.51.100.7", &k.client));
		cs_classifier_feed(fx->c, &k);
		bots += id % 7 == 0;
	}
	assert_all_once(fx);
	for (i = 0; i < 6000; i++) {
		bool bot = (i % 3000) % 7 == 0;

		assert_int_equal(fx->rec[i + 1].reasons, bot ? CS_R_BOT_AGENT : 0);
	}
	assert_int_equal(bots, 858);
}

/*
 * The agent match memo is keyed by the agent's content, not its buffer: a
 * buffer rewritten in place with other text of the same length is matched anew.
 */
static void test_agent_rewritten_in_place(void **state)
{
	static const char *const agents[] = {
		"python-requests/2", "Mozilla-request/2", "python-requests/2", "python-requests/2",
	};
	struct fixture *fx = start(state);
	char agent[32], rcpt[16];

	for (unsigned i = 0; i < 4; i++) {
		struct cs_click k = {
			.ts_us = AT(i * 10), .message = "msg-1", .recipient = rcpt, .link = "link-a",
			.user_agent = agent, .method = "GET", .pos = { .line = ++fx->line },
		};

		strcpy(agent, agents[i]);
		snprintf(rcpt, sizeof(rcpt), "r%u", i);
		assert_true(cs_addr_parse("198.51.100.7", &k.client));
		cs_classifier_feed(fx->c, &k);
	}
	cs_classifier_finish(fx->c);
	assert_all_once(fx);
	assert_int_equal(fx->rec[1].reasons, CS_R_BOT_AGENT);
	assert_int_equal(fx->rec[2].reasons, 0);
	assert_int_equal(fx->rec[3].reasons, CS_R_BOT_AGENT);
	assert_int_equal(fx->rec[4].reasons, CS_R_BOT_AGENT);
}

/* Lengths given with the strings are used as given, and handed on with the verdict. */
static void test_lengths_given(void **state)
{
	struct fixture *fx = start(state);
	struct cs_click k = {
		.ts_us = AT(0), .message = "msg-1", .recipient = "rcpt-1", .link = "link-a",
		.user_agent = "python-requests/2.31.0", .method = "GET",
		.message_len = 5, .recipient_len = 6, .link_len = 6, .user_agent_len = 22,
		.pos = { .file = "a.log", .line = ++fx->line },
	};

	assert_true(cs_addr_parse("198.51.100.7", &k.client));
	cs_classifier_feed(fx->c, &k);
	k.ts_us = AT(1);
	k.link = "link-b";
	k.pos.line = ++fx->line;
	cs_classifier_feed(fx->c, &k);
	cs_classifier_finish(fx->c);
	assert_all_once(fx);
	assert_string_equal(fx->rec[2].link, "link-b");
	assert_verdict(fx, 1, CS_MACHINE, CS_R_BOT_AGENT | CS_R_BURST, "");
	assert_verdict(fx, 2, CS_MACHINE, CS_R_BOT_AGENT | CS_R_BURST, "");
}

static void test_head_and_options(void **state)
{
	struct fixture *fx = start(state);
	uint64_t head = FEED(fx, .t = 0, .method = "HEAD", .recipient = "r1");
	uint64_t options = FEED(fx, .t = 0, .method = "OPTIONS", .recipient = "r2");
	uint64_t post = FEED(fx, .t = 0, .method = "POST", .recipient = "r3");

	assert_verdict(fx, head, CS_MACHINE, CS_R_HEAD_REQUEST, "");
	assert_verdict(fx, options, CS_MACHINE, CS_R_HEAD_REQUEST, "");
	assert_verdict(fx, post, CS_HUMAN, 0, "");
}

static void test_honeypot(void **state)
{
	struct fixture *fx = start(state);
	uint64_t trap = FEED(fx, .t = 0, .link = "trap-link");
	uint64_t near = FEED(fx, .t = 0, .link = "trap-link2", .recipient = "r2");
	uint64_t prefix = FEED(fx, .t = 0, .link = "trap-lin", .recipient = "r3");
	uint64_t same_len = FEED(fx, .t = 0, .link = "trap-linK", .recipient = "r4");

	assert_verdict(fx, trap, CS_MACHINE, CS_R_HONEYPOT, "");
	assert_verdict(fx, near, CS_HUMAN, 0, "");
	assert_verdict(fx, prefix, CS_HUMAN, 0, "");
	assert_verdict(fx, same_len, CS_HUMAN, 0, "");
}

/* A bot-agent click is machine and opens no window. */
static void test_agent_opens_no_window(void **state)
{
	struct fixture *fx = start(state);
	uint64_t bot = FEED(fx, .t = 0, .ua = "python-requests/2.31.0", .ip = "192.0.2.9");
	uint64_t person = FEED(fx, .t = 20);

	assert_verdict(fx, bot, CS_MACHINE, CS_R_BOT_AGENT, "");
	assert_verdict(fx, person, CS_HUMAN, 0, "");
}

/* ---- event time ---- */

static void test_verdict_waits_for_burst_window(void **state)
{
	struct fixture *fx = start(state);
	uint64_t delay = fx->cfg.burst_window_us + fx->cfg.reorder_window_us;

	FEED(fx, .t = 0);
	cs_classifier_advance(fx->c, AT(0) + delay);
	assert_int_equal(fx->calls, 0);
	cs_classifier_advance(fx->c, AT(0) + delay + 1);
	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx->rec[1].kind, CS_HUMAN);
}

static void test_verdict_waits_burst_window_no_reorder(void **state)
{
	struct fixture *fx = *state;

	fx->cfg.reorder_window_us = 0;
	start(state);
	FEED(fx, .t = 0);
	cs_classifier_advance(fx->c, AT(2));
	assert_int_equal(fx->calls, 0);
	/* a click at the window's edge still turns the first into a burst */
	FEED(fx, .t = 2, .link = "link-b");
	assert_int_equal(fx->calls, 0);
	cs_classifier_advance(fx->c, AT(2) + 1);
	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx->rec[1].reasons, CS_R_BURST);
	/* feeding moves event time too */
	FEED(fx, .t = 10, .recipient = "r2");
	assert_int_equal(fx->calls, 2);
	assert_int_equal(fx->rec[2].reasons, CS_R_BURST);
	assert_all_once(fx);
}

static void test_advance_backwards_is_ignored(void **state)
{
	struct fixture *fx = start(state);
	struct cs_classifier_stats st;

	FEED(fx, .t = 100);
	cs_classifier_advance(fx->c, AT(200));
	assert_int_equal(fx->calls, 1);
	cs_classifier_advance(fx->c, AT(50));
	/* still 6 s behind event time 200: late, judged at once */
	FEED(fx, .t = 194, .recipient = "r2");
	assert_int_equal(fx->calls, 2);
	cs_classifier_get_stats(fx->c, &st);
	assert_int_equal(st.late_clicks, 1);
}

/* Strings reach the callback intact, copied from buffers the caller reuses. */
static void test_verdict_carries_full_click(void **state)
{
	struct fixture *fx = start(state);
	char message[32] = "msg-77", link[32] = "link-q", agent[64] = "Mozilla/5.0 Test";
	struct cs_click k = {
		.ts_us = AT(0), .message = message, .recipient = "rcpt-9", .link = link,
		.user_agent = agent, .method = "GET", .pos = { .file = "a.log", .line = 1 },
	};

	assert_true(cs_addr_parse("198.51.100.7", &k.client));
	fx->line = 1;
	cs_classifier_feed(fx->c, &k);
	strcpy(message, "XXXXXX");
	strcpy(link, "YYYYYY");
	strcpy(agent, "ZZZZZZ");
	cs_classifier_finish(fx->c);
	assert_int_equal(fx->rec[1].seen, 1);
	assert_string_equal(fx->rec[1].message, "msg-77");
	assert_string_equal(fx->rec[1].link, "link-q");
	assert_string_equal(fx->rec[1].user_agent, "Mozilla/5.0 Test");
	assert_string_equal(fx->rec[1].file, "a.log");
	assert_true(fx->rec[1].ts_us == AT(0));
}

/* ---- generated streams ---- */

struct gen_click {
	uint64_t ts_us;
	uint64_t arrival;
	char ip[48];
	char link[16];
	char message[16];
	char recipient[16];
	const char *ua;
	const char *method;
};

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int by_ts(const void *a, const void *b)
{
	const struct gen_click *x = a, *y = b;

	return x->ts_us < y->ts_us ? -1 : x->ts_us > y->ts_us;
}

static int by_arrival(const void *a, const void *b)
{
	const struct gen_click *x = a, *y = b;

	return x->arrival < y->arrival ? -1 : x->arrival > y->arrival;
}

/*
 * Mail to a few recipients over span_s seconds: pre-scans bursting from scanner
 * ranges, people clicking (sometimes twice, from rotating IPv6 addresses),
 * Safe Links re-fetching, cloud gateways, bots. Timestamps on a 100 ms grid
 * so that equal timestamps occur.
 */
static size_t generate(struct gen_click *out, size_t max, uint64_t seed, unsigned span_s)
{
	static const char *const agents[] = { "Mozilla/5.0 (Windows)", "Mozilla/5.0 (iPhone)",
					      "python-requests/2.31" };
	uint64_t s = seed | 1;
	size_t n = 0;

	while (n + 4 <= max) {
		unsigned pair = rng_next(&s) % 12, kind = rng_next(&s) % 6, k, count;
		uint64_t t = T0 + (rng_next(&s) % (span_s * 10)) * 100000;

		count = kind == 0 ? 2 + rng_next(&s) % 3 : 1 + (kind == 1);
		for (k = 0; k < count; k++) {
			struct gen_click *g = &out[n++];

			memset(g, 0, sizeof(*g));
			g->ts_us = t + (kind == 1 ? k * 500000 : k * (rng_next(&s) % 8) * 100000);
			snprintf(g->message, sizeof(g->message), "m%u", pair % 3);
			snprintf(g->recipient, sizeof(g->recipient), "r%u", pair / 3);
			snprintf(g->link, sizeof(g->link), "l%u",
				 kind == 1 ? 0 : (unsigned)(rng_next(&s) % 4));
			g->ua = agents[kind == 5 ? 2 : rng_next(&s) % 2];
			g->method = kind == 4 && k == 0 ? "HEAD" : "GET";
			switch (kind) {
			case 0: snprintf(g->ip, sizeof(g->ip), "205.139.110.%u", k); break;
			case 1: snprintf(g->ip, sizeof(g->ip), "2001:db8:%u::%u", pair,
					 (unsigned)(rng_next(&s) % 3)); break;
			case 2: snprintf(g->ip, sizeof(g->ip), "40.92.%u.1",
					 (unsigned)(rng_next(&s) % 10)); break;
			case 3: snprintf(g->ip, sizeof(g->ip), "38.1.1.%u", pair); break;
			default: snprintf(g->ip, sizeof(g->ip), "198.51.100.%u",
					  (unsigned)(rng_next(&s) % 3)); break;
			}
		}
	}
	qsort(out, n, sizeof(*out), by_ts);
	return n;
}

static void feed_gen(struct fixture *fx, const struct gen_click *g, uint64_t line)
{
	struct cs_click k = {
		.ts_us = g->ts_us, .message = g->message, .recipient = g->recipient,
		.link = g->link, .user_agent = g->ua, .pos = { .line = line },
	};

	assert_true(cs_addr_parse(g->ip, &k.client));
	snprintf(k.method, sizeof(k.method), "%s", g->method);
	cs_classifier_feed(fx->c, &k);
}

/* Runs a generated stream in a fresh classifier; arrival order as given. */
static void run_stream(struct fixture *fx, const struct gen_click *gs, const uint64_t *lines,
		       size_t n)
{
	size_t i;

	cs_classifier_free(fx->c);
	memset(fx->rec, 0, sizeof(fx->rec));
	fx->calls = fx->bad_calls = 0;
	fx->line = n;
	fx->c = cs_classifier_new(&fx->cfg, collect, fx);
	assert_non_null(fx->c);
	for (i = 0; i < n; i++)
		feed_gen(fx, &gs[i], lines[i]);
	cs_classifier_finish(fx->c);
	assert_int_equal(fx->calls, n);
	assert_int_equal(fx->bad_calls, 0);
}

static void test_reorder_within_window_same_verdicts(void **state)
{
	struct fixture *fx = *state;
	size_t max = 2000, n, i;
	struct gen_click *gs = calloc(max, sizeof(*gs));
	struct record *in_order = calloc(MAX_LINES + 1, sizeof(*in_order));
	uint64_t *lines = calloc(max, sizeof(*lines)), seed;
	unsigned kinds_seen = 0, reasons_seen = 0;
	struct cs_classifier_stats st;

	for (seed = 1; seed <= 20; seed++) {
		uint64_t s = seed * 0x9e3779b97f4a7c15ull;

		/* an hour: slight disorder; a minute: clicks pass hundreds of others */
		n = generate(gs, max, seed, seed % 2 ? 3600 : 60);
		for (i = 0; i < n; i++) {
			gs[i].arrival = gs[i].ts_us + rng_next(&s) % (fx->cfg.reorder_window_us + 1);
			lines[i] = i + 1;
		}
		run_stream(fx, gs, lines, n);
		memcpy(in_order, fx->rec, (n + 1) * sizeof(*in_order));

		/* stable sort keeps the line ids attached to their clicks */
		for (i = 0; i < n; i++)
			gs[i].arrival = gs[i].arrival * 4096 + i;
		qsort(gs, n, sizeof(*gs), by_arrival);
		for (i = 0; i < n; i++)
			lines[i] = gs[i].arrival % 4096 + 1;
		run_stream(fx, gs, lines, n);
		cs_classifier_get_stats(fx->c, &st);
		assert_int_equal(st.late_clicks, 0);
		for (i = 1; i <= n; i++) {
			if (in_order[i].kind != fx->rec[i].kind ||
			    in_order[i].reasons != fx->rec[i].reasons)
				fail_msg("seed %llu line %zu: in order %s 0x%x, shuffled %s 0x%x",
					 (unsigned long long)seed, i, cs_verdict_name(in_order[i].kind),
					 in_order[i].reasons, cs_verdict_name(fx->rec[i].kind),
					 fx->rec[i].reasons);
			kinds_seen |= 1u << in_order[i].kind;
			reasons_seen |= in_order[i].reasons;
		}
	}
	/* the scenario exercises every verdict and every rule */
	assert_int_equal(kinds_seen, 7);
	assert_int_equal(reasons_seen & ALL_MACHINE & ~CS_R_HONEYPOT,
			 ALL_MACHINE & ~CS_R_HONEYPOT);
	assert_true(reasons_seen & CS_R_WEAK_RANGE);
	free(gs);
	free(in_order);
	free(lines);
}

static void test_late_click_counted_and_deterministic(void **state)
{
	struct fixture *fx = *state;
	struct record first[6];
	struct cs_classifier_stats st;
	int run;

	for (run = 0; run < 2; run++) {
		cs_classifier_free(fx->c);
		memset(fx->rec, 0, sizeof(fx->rec));
		fx->calls = 0;
		fx->line = 0;
		start(state);
		FEED(fx, .t = 0);                               /* person: window */
		FEED(fx, .t = 14, .link = "link-b");            /* stays pending */
		FEED(fx, .t = 20, .recipient = "rcpt-2");       /* event time 20 */
		assert_int_equal(fx->calls, 1);
		/* 7 s behind: late, judged at once, next to the pending click */
		FEED(fx, .t = 13, .ip = "203.0.113.50", .link = "link-c");
		assert_int_equal(fx->calls, 2);
		assert_int_equal(fx->rec[4].seen, 1);
		assert_int_equal(fx->rec[4].kind, CS_MACHINE);
		assert_int_equal(fx->rec[4].reasons, CS_R_MULTI_IP | CS_R_BURST);
		/* late, from the window's client, alone: human */
		FEED(fx, .t = 5, .link = "link-e");
		assert_int_equal(fx->calls, 3);
		assert_int_equal(fx->rec[5].kind, CS_HUMAN);
		assert_int_equal(fx->rec[5].reasons, 0);
		assert_all_once(fx);
		/* the pending click saw the late one */
		assert_int_equal(fx->rec[2].reasons, CS_R_BURST);
		assert_int_equal(fx->rec[3].reasons, 0);
		cs_classifier_get_stats(fx->c, &st);
		assert_int_equal(st.late_clicks, 2);
		if (run == 0)
			memcpy(first, fx->rec, sizeof(first));
		else
			assert_memory_equal(first, fx->rec, sizeof(first));
	}
}

static void test_late_click_of_expired_pair(void **state)
{
	struct fixture *fx = start(state);
	struct cs_classifier_stats st;

	FEED(fx, .t = 0, .ip = "205.139.110.24");       /* scan: no window */
	FEED(fx, .t = 100, .recipient = "other");
	FEED(fx, .t = 50);                              /* late, fresh pair state */
	assert_int_equal(fx->calls, 2);
	assert_int_equal(fx->rec[3].kind, CS_HUMAN);
	cs_classifier_get_stats(fx->c, &st);
	assert_int_equal(st.late_clicks, 1);
	/* the late human click opened a window for the pair */
	FEED(fx, .t = 101, .ip = "203.0.113.9");
	assert_all_once(fx);
	assert_int_equal(fx->rec[4].reasons, CS_R_MULTI_IP);
}

static void test_every_click_one_verdict(void **state)
{
	struct fixture *fx = *state;
	size_t max = 4000, n, i;
	struct gen_click *gs = calloc(max, sizeof(*gs));
	uint64_t *lines = calloc(max, sizeof(*lines)), s = 42;
	struct cs_classifier_stats st;

	fx->cfg.max_pairs = 5;          /* evictions too */
	n = generate(gs, max, 7, 3600);
	/* some clicks far out of order */
	for (i = 0; i < n; i++) {
		gs[i].arrival = gs[i].ts_us + (rng_next(&s) % 50 == 0 ? 60 * SEC : 0);
		gs[i].arrival = gs[i].arrival * 4096 + i;
		lines[i] = i + 1;
	}
	qsort(gs, n, sizeof(*gs), by_arrival);
	for (i = 0; i < n; i++)
		lines[i] = gs[i].arrival % 4096 + 1;
	run_stream(fx, gs, lines, n);
	for (i = 1; i <= n; i++)
		assert_int_equal(fx->rec[i].seen, 1);
	cs_classifier_get_stats(fx->c, &st);
	assert_int_equal(st.clicks, n);
	assert_int_equal(st.verdicts[0] + st.verdicts[1] + st.verdicts[2], n);
	assert_int_equal(st.pending, 0);
	assert_true(st.late_clicks > 0);
	assert_true(st.pairs_evicted > 0);
	assert_true(st.pairs_active <= 5);
	free(gs);
	free(lines);
}

#ifdef FAULT_INJECTION
/* Out of memory anywhere: every click still gets exactly one verdict. */
static void test_allocation_failures(void **state)
{
	struct fixture *fx = *state;
	size_t max = 4000, n, i;
	struct gen_click *gs = calloc(max, sizeof(*gs));
	uint64_t *lines = calloc(max, sizeof(*lines));
	struct cs_classifier_stats st;
	unsigned every;

	/* a dense burst of clicks (the queues grow), then many pairs (the table grows) */
	n = generate(gs, max / 2, 11, 5);
	for (i = n; i < max; i++) {
		struct gen_click *g = &gs[i];

		*g = (struct gen_click){ .ts_us = AT(10) + i * 1000, .ua = "Mozilla/5.0",
					 .method = "GET", .ip = "198.51.100.7", .link = "l0",
					 .message = "m0" };
		snprintf(g->recipient, sizeof(g->recipient), "u%zu", i);
	}
	n = max;
	for (i = 0; i < n; i++)
		lines[i] = i + 1;
	for (every = 2; every <= 64; every *= 2) {
		cs_classifier_free(fx->c);
		memset(fx->rec, 0, sizeof(fx->rec));
		fx->calls = fx->bad_calls = 0;
		fx->line = n;
		fx->c = cs_classifier_new(&fx->cfg, collect, fx);
		assert_non_null(fx->c);
		alloc_calls = alloc_failed = 0;
		fail_every = every;
		for (i = 0; i < n; i++)
			feed_gen(fx, &gs[i], lines[i]);
		cs_classifier_finish(fx->c);
		fail_every = 0;
		assert_true(alloc_failed > 0);
		assert_int_equal(fx->calls, n);
		assert_int_equal(fx->bad_calls, 0);
		for (i = 1; i <= n; i++)
			assert_int_equal(fx->rec[i].seen, 1);
		cs_classifier_get_stats(fx->c, &st);
		assert_true(st.unqueued > 0);
		assert_int_equal(st.pending, 0);
	}
	free(gs);
	free(lines);
}
#endif

/* ---- state ---- */

static void test_lru_eviction(void **state)
{
	struct fixture *fx = *state;
	struct cs_classifier_stats st;

	fx->cfg.max_pairs = 2;
	start(state);
	FEED(fx, .t = 0, .recipient = "r1");
	FEED(fx, .t = 0.1, .recipient = "r2");
	FEED(fx, .t = 0.2, .recipient = "r1", .link = "link-b");  /* touches r1 */
	FEED(fx, .t = 0.3, .recipient = "r3");                    /* evicts r2 */
	cs_classifier_get_stats(fx->c, &st);
	assert_int_equal(st.pairs_evicted, 1);
	assert_int_equal(st.pairs_active, 2);
	/* the evicted pair's pending click got its verdict at once */
	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx->rec[2].seen, 1);
	assert_int_equal(fx->rec[2].kind, CS_HUMAN);
	assert_all_once(fx);
	assert_int_equal(fx->rec[1].reasons, CS_R_BURST);
	assert_int_equal(fx->rec[3].reasons, CS_R_BURST);
}

static void test_state_expiry(void **state)
{
	struct fixture *fx = start(state);
	uint64_t hold = fx->cfg.multi_ip_window_us + fx->cfg.reorder_window_us;
	struct cs_classifier_stats st;

	FEED(fx, .t = 0, .recipient = "person");
	FEED(fx, .t = 0, .recipient = "scanned", .ip = "205.139.110.24");
	cs_classifier_get_stats(fx->c, &st);
	assert_int_equal(st.pairs_active, 2);
	assert_int_equal(st.pending, 2);
	cs_classifier_advance(fx->c, AT(10));
	cs_classifier_get_stats(fx->c, &st);
	/* the scanned pair has no window: nothing can use it any more */
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.pairs_active, 1);
	assert_int_equal(st.pairs_expired, 1);
	cs_classifier_advance(fx->c, AT(0) + hold);
	cs_classifier_get_stats(fx->c, &st);
	assert_int_equal(st.pairs_active, 1);
	cs_classifier_advance(fx->c, AT(0) + hold + 1);
	cs_classifier_get_stats(fx->c, &st);
	assert_int_equal(st.pairs_active, 0);
	assert_int_equal(st.pairs_expired, 2);
	assert_int_equal(st.pairs_evicted, 0);
}

static void test_memory_per_pair(void **state)
{
	struct fixture *fx = start(state);
	struct cs_classifier_stats st;
	char rcpt[32];
	unsigned i;

	for (i = 0; i < 30000; i++) {
		struct cs_click k = {
			.ts_us = AT(i / 1000.0), .message = "msg-1", .recipient = rcpt,
			.link = "link-a", .user_agent = "Mozilla/5.0", .method = "GET",
		};

		snprintf(rcpt, sizeof(rcpt), "rcpt-%u", i);
		assert_true(cs_addr_parse("198.51.100.7", &k.client));
		cs_classifier_feed(fx->c, &k);
	}
	cs_classifier_advance(fx->c, AT(60));
	cs_classifier_get_stats(fx->c, &st);
	assert_int_equal(st.pairs_active, 30000);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.verdicts[CS_HUMAN], 30000);
	assert_true(st.state_bytes > 0);
	assert_true(st.state_bytes / st.pairs_active <= 256);
}

/* Freeing drops pending clicks without verdicts (and without leaks: ASan). */
static void test_free_with_pending(void **state)
{
	struct fixture *fx = start(state);
	unsigned i;

	for (i = 0; i < 5; i++)
		FEED(fx, .t = i * 0.1, .link = i % 2 ? "link-a" : "link-b");
	FEED(fx, .t = 0, .recipient = "r2");
	cs_classifier_free(fx->c);
	fx->c = NULL;
	assert_int_equal(fx->calls, 0);
}

static void test_stats(void **state)
{
	struct fixture *fx = start(state);
	struct cs_classifier_stats st;

	FEED(fx, .t = 0, .ip = "38.104.5.9", .recipient = "r1");
	FEED(fx, .t = 0, .ip = "205.139.110.1", .recipient = "r2", .method = "HEAD");
	FEED(fx, .t = 0, .recipient = "r3");
	cs_classifier_finish(fx->c);
	cs_classifier_get_stats(fx->c, &st);
	assert_int_equal(st.clicks, 3);
	assert_int_equal(st.verdicts[CS_HUMAN], 1);
	assert_int_equal(st.verdicts[CS_MACHINE], 1);
	assert_int_equal(st.verdicts[CS_SUSPECT], 1);
	assert_int_equal(st.reasons[0], 1);     /* scanner_range */
	assert_int_equal(st.reasons[1], 1);     /* weak_range */
	assert_int_equal(st.reasons[5], 1);     /* head_request */
	assert_int_equal(st.reasons[2], 0);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.pending_bytes > 0, 1);     /* the heap stays allocated */
}

static void test_names(void **state)
{
	static const char *const want[CS_R_COUNT] = {
		"scanner_range", "weak_range", "burst", "multi_ip",
		"bot_agent", "head_request", "honeypot", "learned_range",
	};
	unsigned i;

	assert_string_equal(cs_verdict_name(CS_HUMAN), "human");
	assert_string_equal(cs_verdict_name(CS_MACHINE), "machine");
	assert_string_equal(cs_verdict_name(CS_SUSPECT), "suspect");
	for (i = 0; i < CS_R_COUNT; i++)
		assert_string_equal(cs_reason_name(i), want[i]);
	assert_true(CS_R_LEARNED_RANGE == 1u << 7);
}

static void test_bad_config(void **state)
{
	struct fixture *fx = *state;
	struct cs_classifier_config cfg = fx->cfg;

	cfg.v4_client_prefix = 33;
	assert_null(cs_classifier_new(&cfg, collect, fx));
	cfg = fx->cfg;
	cfg.v6_client_prefix = 129;
	assert_null(cs_classifier_new(&cfg, collect, fx));
	assert_null(cs_classifier_new(&fx->cfg, NULL, fx));
	cfg = fx->cfg;
	cfg.honeypot_links = (const char *const[]){ NULL };
	assert_null(cs_classifier_new(&cfg, collect, fx));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* ---- learned scanners ---- */

static void test_learned_range(void **state)
{
	struct fixture *fx = *state;
	struct cs_learned_config lcfg;
	struct cs_learned *learned;
	uint64_t gw1, gw2, early, lone, allow_lone, weak_lone, person, allowed_later;
	struct cs_learned_entry restored = { .expiry_us = AT(3600), .evidence = 9 };

	cs_learned_config_defaults(&lcfg);
	lcfg.threshold = 2;
	learned = cs_learned_new(&lcfg);
	assert_non_null(learned);
	/* learned before the operator allow-listed its range: the allow-list wins */
	assert_true(cs_addr_parse("40.92.7.2", &restored.client));
	assert_int_equal(cs_learned_add(learned, &restored), 0);
	fx->cfg.learned = learned;
	start(state);
	/* an unlisted gateway bursts for two recipients; mycorp (allow) and cogent (weak) too */
	gw1 = FEED(fx, .t = 0, .ip = "203.0.113.9", .recipient = "r1", .link = "a");
	FEED(fx, .t = 0.5, .ip = "203.0.113.9", .recipient = "r1", .link = "b");
	FEED(fx, .t = 1, .ip = "40.92.7.1", .recipient = "r1", .message = "m3", .link = "a");
	FEED(fx, .t = 1.5, .ip = "40.92.7.1", .recipient = "r1", .message = "m3", .link = "b");
	FEED(fx, .t = 2, .ip = "38.104.5.9", .recipient = "r1", .message = "m5", .link = "a");
	FEED(fx, .t = 2.5, .ip = "38.104.5.9", .recipient = "r1", .message = "m5", .link = "b");
	/* judged before the conviction that teaches it: not learned yet */
	early = FEED(fx, .t = 5, .ip = "203.0.113.9", .message = "m4");
	FEED(fx, .t = 10, .ip = "203.0.113.9", .recipient = "r2", .link = "a");
	gw2 = FEED(fx, .t = 10.5, .ip = "203.0.113.9", .recipient = "r2", .link = "b");
	FEED(fx, .t = 11, .ip = "40.92.7.1", .recipient = "r2", .message = "m3", .link = "a");
	FEED(fx, .t = 11.5, .ip = "40.92.7.1", .recipient = "r2", .message = "m3", .link = "b");
	FEED(fx, .t = 12, .ip = "38.104.5.9", .recipient = "r2", .message = "m5", .link = "a");
	FEED(fx, .t = 12.5, .ip = "38.104.5.9", .recipient = "r2", .message = "m5", .link = "b");
	/* later, lone clicks on one-link mails */
	lone = FEED(fx, .t = 60, .ip = "203.0.113.9", .message = "m2");
	allow_lone = FEED(fx, .t = 61, .ip = "40.92.7.1", .message = "m6");
	weak_lone = FEED(fx, .t = 62, .ip = "38.104.5.9", .message = "m7");
	person = FEED(fx, .t = 63, .ip = "198.51.100.7", .message = "m8");
	allowed_later = FEED(fx, .t = 64, .ip = "40.92.7.2", .message = "m9");
	assert_verdict(fx, gw1, CS_MACHINE, CS_R_BURST, "");
	assert_verdict(fx, early, CS_HUMAN, 0, "");
	assert_verdict(fx, gw2, CS_MACHINE, CS_R_BURST | CS_R_LEARNED_RANGE, "learned");
	assert_verdict(fx, lone, CS_MACHINE, CS_R_LEARNED_RANGE, "learned");
	assert_verdict(fx, allow_lone, CS_HUMAN, 0, "mycorp");
	assert_verdict(fx, weak_lone, CS_MACHINE, CS_R_WEAK_RANGE | CS_R_LEARNED_RANGE, "cogent");
	assert_verdict(fx, person, CS_HUMAN, 0, "");
	assert_verdict(fx, allowed_later, CS_HUMAN, 0, "mycorp");
	assert_all_once(fx);
	cs_classifier_free(fx->c);
	fx->c = NULL;
	cs_learned_free(learned);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_scanner_range_machine_with_provider),
		T(test_weak_range_only_suspect),
		T(test_weak_plus_burst_machine),
		T(test_allow_inside_scanner_range_human),
		T(test_burst_three_links_all_machine),
		T(test_three_seconds_apart_not_burst),
		T(test_burst_window_is_inclusive),
		T(test_double_click_both_human),
		T(test_repeat_after_double_click_window_is_burst),
		T(test_double_click_ipv6_privacy_address),
		T(test_double_click_other_agent_is_burst),
		T(test_double_click_other_address_is_burst),
		T(test_head_then_get_is_burst),
		T(test_triple_click_chain_human),
		T(test_double_click_then_other_link),
		T(test_burst_is_per_pair),
		T(test_multi_ip_refetch_after_human),
		T(test_multi_ip_from_scanner_range_lists_both),
		T(test_same_client_reclick_after_5_min_human),
		T(test_refetch_after_11_min_human),
		T(test_multi_ip_window_edges),
		T(test_window_reopens_after_expiry),
		T(test_prescan_then_person_1h_human),
		T(test_prescan_then_person_1min_human),
		T(test_burst_opens_no_window),
		T(test_suspect_opens_window),
		T(test_multi_ip_clicks_burst),
		T(test_ipv6_rotation_within_64_human),
		T(test_ipv4_mapped_is_ipv4),
		T(test_client_prefix_configurable),
		T(test_bot_agent),
		T(test_bot_agent_memo),
		T(test_agent_rewritten_in_place),
		T(test_lengths_given),
		T(test_head_and_options),
		T(test_honeypot),
		T(test_agent_opens_no_window),
		T(test_verdict_waits_for_burst_window),
		T(test_verdict_waits_burst_window_no_reorder),
		T(test_advance_backwards_is_ignored),
		T(test_verdict_carries_full_click),
		T(test_reorder_within_window_same_verdicts),
		T(test_late_click_counted_and_deterministic),
		T(test_late_click_of_expired_pair),
		T(test_every_click_one_verdict),
#ifdef FAULT_INJECTION
		T(test_allocation_failures),
#endif
		T(test_lru_eviction),
		T(test_state_expiry),
		T(test_memory_per_pair),
		T(test_free_with_pending),
		T(test_stats),
		T(test_names),
		T(test_bad_config),
		T(test_learned_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
