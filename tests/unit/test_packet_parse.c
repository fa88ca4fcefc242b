// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The XDP program's packet parser (include/packet_parse.h), compiled by the
 * host compiler, on the same fixtures as tests/bpf/test_xdp.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "packet_parse.h"
#include "bpf/packet_fixtures.h"

static __u8 frame[FX_MAX_FRAME];

static void test_cases(void **state)
{
	size_t i;

	for (i = 0; i < FX_NUM_CASES; i++) {
		const struct fx_case *c = &fx_cases[i];
		struct fx_layout lay;
		size_t len = fx_build(&c->desc, frame, &lay);
		struct cs_pkt pkt;
		int rc = cs_parse_packet(frame, frame + len, &pkt);

		if (rc != c->want)
			fail_msg("%s: parse gave %d, want %d", c->name, rc, c->want);
		if (rc != CS_PARSE_OK)
			continue;
		assert_int_equal(pkt.family, c->desc.family);
		assert_int_equal(pkt.vlan_tags, c->desc.vlan_tags);
		assert_int_equal(pkt.l3_off, lay.l3_off);
		assert_int_equal(pkt.l4_off, lay.l4_off);
		assert_int_equal(pkt.payload_off, lay.payload_off);
		assert_int_equal(pkt.payload_len, c->desc.payload_len);
		assert_int_equal(pkt.tcp_flags, c->desc.tcp_flags);
		assert_int_equal(pkt.sport, 40000);
		assert_int_equal(pkt.dport, 80);
		assert_int_equal(pkt.seq, c->desc.seq);
		assert_int_equal(pkt.first_fragment, c->desc.more_fragments);
		assert_memory_equal(frame + pkt.payload_off, c->desc.payload ? c->desc.payload : "",
				    pkt.payload_len);
	}
}

static void test_addresses(void **state)
{
	struct fx_desc v4 = { .family = 4, .saddr = "203.0.113.7", .daddr = "198.51.100.1" };
	struct fx_desc v6 = { .family = 6, .vlan_tags = 2, .ext = { 0, 43 }, .ext_count = 2,
			      .saddr = "2001:db8:5::1", .daddr = "2001:db8:6::2" };
	__u8 want_s[16] = {}, want_d[16] = {};
	struct cs_pkt pkt;
	size_t len;

	len = fx_build(&v4, frame, NULL);
	assert_int_equal(cs_parse_packet(frame, frame + len, &pkt), CS_PARSE_OK);
	inet_pton(AF_INET, "203.0.113.7", want_s);
	inet_pton(AF_INET, "198.51.100.1", want_d);
	assert_memory_equal(pkt.saddr, want_s, 16);
	assert_memory_equal(pkt.daddr, want_d, 16);

	len = fx_build(&v6, frame, NULL);
	assert_int_equal(cs_parse_packet(frame, frame + len, &pkt), CS_PARSE_OK);
	inet_pton(AF_INET6, "2001:db8:5::1", want_s);
	inet_pton(AF_INET6, "2001:db8:6::2", want_d);
	assert_memory_equal(pkt.saddr, want_s, 16);
	assert_memory_equal(pkt.daddr, want_d, 16);
}

/* Every proper prefix of a valid frame is an error, of the header it cuts. */
static void check_every_cut(const struct fx_desc *d)
{
	struct fx_layout lay;
	size_t len = fx_build(d, frame, &lay), cut;
	struct cs_pkt pkt;

	for (cut = 0; cut < len; cut++) {
		int rc = cs_parse_packet(frame, frame + cut, &pkt);
		int want = fx_truncation_error(d, &lay, cut);

		if (rc != want)
			fail_msg("cut at %zu of %zu: parse gave %d, want %d", cut, len, rc, want);
	}
	assert_int_equal(cs_parse_packet(frame, frame + len, &pkt), CS_PARSE_OK);
}

static void test_truncation_ipv4(void **state)
{
	struct fx_desc d = { .family = 4, .vlan_tags = 2, .ipv4_opts_len = 8, .tcp_opts_len = 12,
			     .tcp_flags = CS_TCP_ACK, .payload = fx_request, .payload_len = 40 };

	check_every_cut(&d);
}

static void test_truncation_ipv6(void **state)
{
	struct fx_desc d = { .family = 6, .vlan_tags = 1, .ext = { 0, 44, 51, 60 }, .ext_count = 4,
			     .tcp_opts_len = 12, .tcp_flags = CS_TCP_ACK, .payload = fx_request,
			     .payload_len = 40 };

	check_every_cut(&d);
}

/* An IP length that claims less than the headers is malformed, not a short read. */
static void test_short_ip_length(void **state)
{
	struct fx_desc d = { .family = 4, .tcp_flags = CS_TCP_SYN };
	struct fx_layout lay;
	size_t len = fx_build(&d, frame, &lay);
	struct cs_pkt pkt;

	fx_put16(frame + lay.l3_off + 2, 30);   /* IP length ends inside the TCP header */
	assert_int_equal(cs_parse_packet(frame, frame + len, &pkt), CS_CNT_ERR_TCP);
	fx_put16(frame + lay.l3_off + 2, 12);   /* less than the IPv4 header */
	assert_int_equal(cs_parse_packet(frame, frame + len, &pkt), CS_CNT_ERR_IPV4);

	d.family = 6;
	len = fx_build(&d, frame, &lay);
	fx_put16(frame + lay.l3_off + 4, 10);
	assert_int_equal(cs_parse_packet(frame, frame + len, &pkt), CS_CNT_ERR_TCP);
	frame[lay.l3_off] = 0x40;               /* version 4 in an IPv6 ethertype */
	assert_int_equal(cs_parse_packet(frame, frame + len, &pkt), CS_CNT_ERR_IPV6);
}

/*
 * Where the fast path answers, it agrees with the general parser: same
 * result, and for a segment the same pkt. Returns 1 if it answered.
 */
static int check_plain_agrees(const __u8 *f, size_t len, const char *what)
{
	struct cs_pkt plain, general;
	__u32 payload_len = 0;
	__u8 *tcp = NULL, family;
	int rc, want;

	memset(&plain, 0, sizeof(plain));
	memset(&general, 0, sizeof(general));
	rc = cs_parse_plain_ipv4((void *)f, (void *)(f + len), &tcp, &payload_len);
	family = 4;
	if (rc == -1) {
		rc = cs_parse_plain_ipv6((void *)f, (void *)(f + len), &tcp, &payload_len);
		family = 6;
	}
	if (rc == -1)
		return 0;
	want = cs_parse_headers_general((void *)f, (void *)(f + len), &general);
	if (rc != want)
		fail_msg("%s: fast path gave %d, general parser %d", what, rc, want);
	if (rc == CS_PARSE_OK) {
		cs_pkt_from_plain(tcp, payload_len, family, &plain);
		if (memcmp(&plain, &general, sizeof(plain)))
			fail_msg("%s: fast path and general parser fill pkt differently", what);
	}
	return 1;
}

static void test_plain_path_agrees(void **state)
{
	struct fx_desc plain_frames[] = {
		{ .family = 4, .tcp_flags = CS_TCP_SYN, .seq = 1000 },
		{ .family = 4, .tcp_flags = CS_TCP_ACK, .tcp_opts_len = 12, .pad_to = 60 },
		{ .family = 4, .tcp_flags = CS_TCP_ACK | CS_TCP_PSH, .seq = 7777,
		  .payload = fx_request, .payload_len = sizeof(fx_request) - 1 },
		{ .family = 4, .l4_proto = 17 },
		{ .family = 6, .tcp_flags = CS_TCP_SYN, .seq = 1000 },
		{ .family = 6, .tcp_flags = CS_TCP_ACK | CS_TCP_PSH, .tcp_opts_len = 12, .seq = 7777,
		  .payload = fx_request, .payload_len = sizeof(fx_request) - 1 },
	};
	int answered = 0, segments = 0;
	char what[96];
	size_t i, len, cut;

	/* Every fixture: the plain ones are answered, the others left alone. */
	for (i = 0; i < FX_NUM_CASES; i++)
		answered += check_plain_agrees(frame, fx_build(&fx_cases[i].desc, frame, NULL),
					       fx_cases[i].name);
	assert_true(answered >= 6);

	for (i = 0; i < sizeof(plain_frames) / sizeof(plain_frames[0]); i++) {
		struct fx_layout lay;
		__u32 payload_len;
		__u8 *tcp;
		size_t b;
		int bit;

		len = fx_build(&plain_frames[i], frame, &lay);
		if (plain_frames[i].family == 4)
			assert_int_equal(cs_parse_plain_ipv4(frame, frame + len, &tcp, &payload_len),
					 plain_frames[i].l4_proto ? CS_CNT_NON_TCP : CS_PARSE_OK);
		else
			assert_int_equal(cs_parse_plain_ipv6(frame, frame + len, &tcp, &payload_len),
					 CS_PARSE_OK);
		for (cut = 0; cut <= len; cut++) {
			snprintf(what, sizeof(what), "frame %zu cut at %zu", i, cut);
			check_plain_agrees(frame, cut, what);
		}
		/* Every bit of the headers flipped: lengths, versions, flags, ports. */
		for (b = 0; b < lay.payload_off; b++) {
			for (bit = 0; bit < 8; bit++) {
				frame[b] ^= 1u << bit;
				snprintf(what, sizeof(what), "frame %zu, bit %d of byte %zu flipped",
					 i, bit, b);
				segments += check_plain_agrees(frame, len, what);
				frame[b] ^= 1u << bit;
			}
		}
	}
	assert_true(segments > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_truncation_ipv4),
		cmocka_unit_test(test_truncation_ipv6),
		cmocka_unit_test(test_short_ip_length),
		cmocka_unit_test(test_plain_path_agrees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
