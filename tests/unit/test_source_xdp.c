/* The loader's pure parts: port lists, XDP modes, event checks and the event line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "source_xdp.h"

static void test_ports_single_and_ranges(void **state)
{
	struct cs_ports p;
	char err[128];

	assert_int_equal(cs_ports_parse("80,8080-8090", &p, err, sizeof(err)), 0);
	assert_true(cs_ports_has(&p, 80));
	assert_true(cs_ports_has(&p, 8080));
	assert_true(cs_ports_has(&p, 8085));
	assert_true(cs_ports_has(&p, 8090));
	assert_false(cs_ports_has(&p, 79));
	assert_false(cs_ports_has(&p, 81));
	assert_false(cs_ports_has(&p, 8091));
	assert_false(cs_ports_has(&p, 443));
}

static void test_ports_edges(void **state)
{
	struct cs_ports p;
	char err[128];

	assert_int_equal(cs_ports_parse("1-65535", &p, err, sizeof(err)), 0);
	assert_false(cs_ports_has(&p, 0));
	assert_true(cs_ports_has(&p, 1));
	assert_true(cs_ports_has(&p, 63));
	assert_true(cs_ports_has(&p, 64));
	assert_true(cs_ports_has(&p, 65535));
	assert_int_equal(cs_ports_parse("65535", &p, err, sizeof(err)), 0);
	assert_true(cs_ports_has(&p, 65535));
	assert_false(cs_ports_has(&p, 65534));
}

static void test_ports_rejects(void **state)
{
	static const char *const bad[] = {
		"", "0", "65536", "90-80", "80,", ",80", "80-", "-5", "a", "80 ", " 80",
		"80,,81", "80-90-100", "99999999999999999999", "8o",
	};
	struct cs_ports p;
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (cs_ports_parse(bad[i], &p, err, sizeof(err)) != -1)
			fail_msg("accepted bad port list '%s'", bad[i]);
		assert_non_null(strstr(err, "bad port list"));
	}
}

static void test_xdp_modes(void **state)
{
	enum cs_xdp_mode m;

	assert_true(cs_xdp_mode_parse("native", &m));
	assert_int_equal(m, CS_XDP_NATIVE);
	assert_true(cs_xdp_mode_parse("generic", &m));
	assert_int_equal(m, CS_XDP_GENERIC);
	assert_true(cs_xdp_mode_parse("auto", &m));
	assert_int_equal(m, CS_XDP_AUTO);
	assert_false(cs_xdp_mode_parse("skb", &m));
	assert_false(cs_xdp_mode_parse("Native", &m));
	assert_string_equal(cs_xdp_mode_name(CS_XDP_GENERIC), "generic");
}

static void test_wall_clock_offset(void **state)
{
	struct timespec mono, wall;
	int64_t offset = cs_mono_to_wall_ns();

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &wall);
	int64_t from_mono = mono.tv_sec * 1000000000ll + mono.tv_nsec + offset;
	int64_t real = wall.tv_sec * 1000000000ll + wall.tv_nsec;
	assert_true(llabs(real - from_mono) < 50 * 1000000ll);
}

static struct cs_event *event_v4(const char *payload)
{
	struct cs_event *ev = calloc(1, sizeof(*ev));
	static const uint8_t src[4] = { 198, 51, 100, 7 }, dst[4] = { 192, 0, 2, 2 };

	ev->family = 4;
	ev->kind = payload ? CS_EV_PAYLOAD : CS_EV_SYN;
	ev->tcp_flags = payload ? CS_TCP_PSH | CS_TCP_ACK : CS_TCP_SYN;
	ev->sport = 41234;
	ev->dport = 80;
	ev->seq = 3000000000u;
	memcpy(ev->saddr, src, 4);
	memcpy(ev->daddr, dst, 4);
	if (payload) {
		ev->payload_len = ev->captured_len = (uint16_t)strlen(payload);
		memcpy(ev->payload, payload, ev->captured_len);
	}
	return ev;
}

static char *print_to_string(const struct cs_event *ev, uint64_t ts_us, const char *provider)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cs_event_print(f, ev, ts_us, provider);
	fclose(f);
	return buf;
}

/* 2026-11-16T08:06:58.217110Z */
#define TS_US 1794816418217110ull

static void test_print_syn(void **state)
{
	struct cs_event *ev = event_v4(NULL);
	char *line = print_to_string(ev, TS_US, "mimecast");

	assert_string_equal(line, "2026-11-16T08:06:58.217110Z SYN 198.51.100.7:41234 -> "
			    "192.0.2.2:80 [S] seq=3000000000 len=0/0 mimecast \"\"\n");
	free(line);
	ev->provider_id = 0;
	line = print_to_string(ev, TS_US, "");
	assert_non_null(strstr(line, " len=0/0 - \"\"\n"));
	free(line);
	free(ev);
}

static void test_print_payload_first_line_escaped(void **state)
{
	struct cs_event *ev = event_v4("GET /r?a=\"x\\y\"\x01\x7f HTTP/1.1\r\nHost: example\r\n\r\n");
	char *line = print_to_string(ev, TS_US, NULL);

	assert_non_null(strstr(line, " PAYLOAD 198.51.100.7:41234 -> 192.0.2.2:80 [P.] "));
	assert_non_null(strstr(line, " len=44/44 - \"GET /r?a=\\\"x\\\\y\\\"\\x01\\x7f HTTP/1.1\"\n"));
	free(line);

	ev->payload_len = 3000;
	ev->ev_flags = CS_EVF_TRUNCATED;
	line = print_to_string(ev, TS_US, NULL);
	assert_non_null(strstr(line, " len=44/3000+ - \"GET "));
	free(line);
	free(ev);
}

static void test_print_v6_fin(void **state)
{
	struct cs_event *ev = event_v4(NULL);
	static const uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 5, [15] = 7 };
	static const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	char *line;

	ev->family = 6;
	ev->kind = CS_EV_FIN;
	ev->tcp_flags = CS_TCP_FIN | CS_TCP_ACK;
	memcpy(ev->saddr, src, 16);
	memcpy(ev->daddr, dst, 16);
	line = print_to_string(ev, TS_US, "testscan");
	assert_non_null(strstr(line, "Z FIN [2001:db8:5::7]:41234 -> [2001:db8::2]:80 [F.] "));
	assert_non_null(strstr(line, " testscan \"\"\n"));
	free(line);
	free(ev);
}

static void test_event_valid(void **state)
{
	struct cs_event *ev = event_v4("GET / HTTP/1.1\r\n");
	size_t header = offsetof(struct cs_event, payload);

	assert_true(cs_event_valid(ev, sizeof(*ev)));
	/* A record may end right after the captured bytes. */
	assert_true(cs_event_valid(ev, header + ev->captured_len));
	assert_false(cs_event_valid(ev, header + ev->captured_len - 1));
	assert_false(cs_event_valid(ev, header - 1));

	ev->captured_len = ev->payload_len + 1;
	assert_false(cs_event_valid(ev, sizeof(*ev)));
	ev->payload_len = 60000;
	ev->captured_len = CS_CAPTURE_BYTES + 1;
	assert_false(cs_event_valid(ev, sizeof(*ev) + 8));
	ev->captured_len = CS_CAPTURE_BYTES;
	assert_true(cs_event_valid(ev, sizeof(*ev)));

	ev->family = 5;
	assert_false(cs_event_valid(ev, sizeof(*ev)));
	ev->family = 6;
	ev->kind = 0;
	assert_false(cs_event_valid(ev, sizeof(*ev)));
	ev->kind = CS_EV_RST + 1;
	assert_false(cs_event_valid(ev, sizeof(*ev)));
	ev->kind = CS_EV_RST;
	assert_true(cs_event_valid(ev, sizeof(*ev)));
	free(ev);
}

static int collect_seq(void *ctx, const struct cs_event *ev, size_t size)
{
	uint32_t *seqs = ctx;

	seqs[++seqs[0]] = ev->seq;
	return 0;
}

/* A record is one payload event or a batch of flagged header-only events. */
static void test_record_split(void **state)
{
	const size_t header = offsetof(struct cs_event, payload);
	uint8_t batch[(CS_EVENT_BATCH + 1) * sizeof(struct cs_event)];
	struct cs_event *ev = event_v4("GET / HTTP/1.1\r\n"), *syn = event_v4(NULL);
	uint32_t seqs[CS_EVENT_BATCH + 2];
	unsigned i;

	seqs[0] = 0;
	assert_int_equal(cs_event_record_split(ev, header + ev->captured_len, collect_seq, seqs), 0);
	assert_int_equal(seqs[0], 1);

	syn->ev_flags = CS_EVF_BATCHED;
	for (i = 0; i < CS_EVENT_BATCH + 1; i++) {
		syn->seq = 10 + i;
		memcpy(batch + i * header, syn, header);
	}
	seqs[0] = 0;
	assert_int_equal(cs_event_record_split(batch, 3 * header, collect_seq, seqs), 0);
	assert_int_equal(seqs[0], 3);
	assert_int_equal(seqs[1], 10);
	assert_int_equal(seqs[3], 12);
	seqs[0] = 0;
	assert_int_equal(cs_event_record_split(batch, CS_EVENT_BATCH * header, collect_seq, seqs),
			 0);
	assert_int_equal(seqs[0], CS_EVENT_BATCH);

	/* Malformed: nothing is delivered. */
	seqs[0] = 0;
	assert_int_equal(cs_event_record_split(batch, (CS_EVENT_BATCH + 1) * header, collect_seq,
					       seqs), -1);
	assert_int_equal(cs_event_record_split(batch, 2 * header + 1, collect_seq, seqs), -1);
	assert_int_equal(cs_event_record_split(batch, header - 1, collect_seq, seqs), -1);
	((struct cs_event *)(batch + header))->ev_flags = 0;
	assert_int_equal(cs_event_record_split(batch, 2 * header, collect_seq, seqs), -1);
	((struct cs_event *)(batch + header))->ev_flags = CS_EVF_BATCHED;
	((struct cs_event *)(batch + header))->captured_len = 1;
	assert_int_equal(cs_event_record_split(batch, 2 * header, collect_seq, seqs), -1);
	((struct cs_event *)(batch + header))->captured_len = 0;
	((struct cs_event *)(batch + header))->kind = 0;
	assert_int_equal(cs_event_record_split(batch, 2 * header, collect_seq, seqs), -1);
	assert_int_equal(seqs[0], 0);
	free(ev);
	free(syn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ports_single_and_ranges),
		cmocka_unit_test(test_ports_edges),
		cmocka_unit_test(test_ports_rejects),
		cmocka_unit_test(test_xdp_modes),
		cmocka_unit_test(test_wall_clock_offset),
		cmocka_unit_test(test_print_syn),
		cmocka_unit_test(test_print_payload_first_line_escaped),
		cmocka_unit_test(test_print_v6_fin),
		cmocka_unit_test(test_event_valid),
		cmocka_unit_test(test_record_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
