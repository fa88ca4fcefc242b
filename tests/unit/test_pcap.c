/* Capture files as TCP segments (user/source_pcap.c), per link type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <pcap/pcap.h>

#include "source_pcap.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

static char path[64];

/* IPv4/TCP 192.0.2.7:40000 -> 198.51.100.1:80, seq 1000, payload "GET /". */
static size_t ipv4_tcp(uint8_t *p, uint16_t frag)
{
	static const uint8_t hdr[40] = {
		0x45, 0, 0, 45, 0, 1, 0, 0, 64, 6, 0, 0, 192, 0, 2, 7, 198, 51, 100, 1,
		0x9c, 0x40, 0, 80, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
	};

	memcpy(p, hdr, sizeof(hdr));
	p[6] = (uint8_t)(frag >> 8);
	p[7] = (uint8_t)frag;
	memcpy(p + 40, "GET /", 5);
	return 45;
}

/* Writes frames of one link type: each is (link header, IPv4 frame, caplen cut). */
struct frame_spec {
	const uint8_t *link;
	size_t link_len;
	uint16_t frag;
	size_t cut;                     /* bytes dropped from the end; 0 = whole */
	bool arp;
};

static void write_pcap(int linktype, const struct frame_spec *f, size_t n)
{
	pcap_t *dead = pcap_open_dead(linktype, 65535);
	pcap_dumper_t *d;

	snprintf(path, sizeof(path), "/tmp/cs_test_pcap_%d.pcap", (int)getpid());
	assert_non_null(dead);
	d = pcap_dump_open(dead, path);
	assert_non_null(d);
	for (size_t i = 0; i < n; i++) {
		uint8_t buf[256];
		size_t len = f[i].link_len;
		struct pcap_pkthdr h = { .ts = { .tv_sec = 1794816000, .tv_usec = 123456 } };

		if (len)
			memcpy(buf, f[i].link, len);
		if (f[i].arp) {
			memset(buf + len, 0, 28);
			len += 28;
		} else {
			len += ipv4_tcp(buf + len, f[i].frag);
		}
		h.len = (uint32_t)len;
		h.caplen = (uint32_t)(len - f[i].cut);
		pcap_dump((u_char *)d, &h, buf);
	}
	pcap_dump_close(d);
	pcap_close(dead);
}

static struct cs_pcap_source *open_written(void)
{
	char err[256];
	struct cs_pcap_source *s = cs_pcap_open(path, err, sizeof(err));

	assert_non_null(s);
	return s;
}

static void expect_get(struct cs_pcap_source *s, uint32_t captured)
{
	struct cs_segment seg;
	char a[CS_ADDR_STRLEN];

	assert_int_equal(cs_pcap_next(s, &seg), 1);
	assert_int_equal(seg.ts_us, 1794816000123456ull);
	assert_string_equal(cs_addr_format(&seg.src, a), "192.0.2.7");
	assert_string_equal(cs_addr_format(&seg.dst, a), "198.51.100.1");
	assert_int_equal(seg.sport, 40000);
	assert_int_equal(seg.dport, 80);
	assert_int_equal(seg.seq, 1000);
	assert_int_equal(seg.flags, 0x18);
	assert_int_equal(seg.len, 5);
	assert_int_equal(seg.captured, captured);
	assert_memory_equal(seg.data, "GET /", captured);
}

static void test_ethernet_vlan(void **state)
{
	static const uint8_t eth[] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00 };
	static const uint8_t qinq[] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x88, 0xa8, 0, 10,
					0x81, 0x00, 0, 20, 0x08, 0x00 };
	static const uint8_t arp[] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x06 };
	const struct frame_spec f[] = {
		{ .link = eth, .link_len = sizeof(eth) },
		{ .link = qinq, .link_len = sizeof(qinq) },
		{ .link = arp, .link_len = sizeof(arp), .arp = true },
		{ .link = eth, .link_len = sizeof(eth), .frag = 0x0010 },    /* offset 128: not the first fragment */
		{ .link = eth, .link_len = sizeof(eth), .cut = 2 },          /* snaplen cut the payload */
		{ .link = eth, .link_len = sizeof(eth), .cut = 30 },         /* ... and the TCP header */
	};
	struct cs_pcap_stats st;
	struct cs_segment seg;
	struct cs_pcap_source *s;

	write_pcap(DLT_EN10MB, f, 6);
	s = open_written();
	expect_get(s, 5);
	expect_get(s, 5);
	expect_get(s, 3);
	assert_int_equal(cs_pcap_next(s, &seg), 0);
	cs_pcap_get_stats(s, &st);
	assert_int_equal(st.packets, 6);
	assert_int_equal(st.segments, 3);
	assert_int_equal(st.non_ip, 1);
	assert_int_equal(st.fragments, 1);
	assert_int_equal(st.truncated, 1);
	assert_int_equal(st.malformed, 1);
	cs_pcap_close(s);
	unlink(path);
}

static void test_cooked_and_raw(void **state)
{
	static const uint8_t sll[16] = { 0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00 };
	static const uint8_t sll2[20] = { 0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6 };
	static const uint8_t loop[4] = { 0, 0, 0, 2 };
	static const struct { int dlt; const uint8_t *hdr; size_t len; } types[] = {
		{ DLT_LINUX_SLL, sll, sizeof(sll) },
		{ DLT_LINUX_SLL2, sll2, sizeof(sll2) },
		{ DLT_RAW, NULL, 0 },
		{ DLT_LOOP, loop, sizeof(loop) },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const struct frame_spec f[] = {
			{ .link = types[i].hdr, .link_len = types[i].len },
			{ .link = types[i].hdr, .link_len = types[i].len, .cut = 1 },
		};
		struct cs_segment seg;
		struct cs_pcap_source *s;

		write_pcap(types[i].dlt, f, 2);
		s = open_written();
		expect_get(s, 5);
		expect_get(s, 4);
		assert_int_equal(cs_pcap_next(s, &seg), 0);
		cs_pcap_close(s);
		unlink(path);
	}
}

static void test_open_errors(void **state)
{
	char err[256];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/cs_test_pcap_%d.txt", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("GET / HTTP/1.1\r\n\r\n", f);
	fclose(f);
	assert_null(cs_pcap_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	unlink(path);

	/* A link type the parser has no way into. */
	write_pcap(DLT_IEEE802_11, NULL, 0);
	assert_null(cs_pcap_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, "unsupported link type"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ethernet_vlan),
		cmocka_unit_test(test_cooked_and_raw),
		cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
