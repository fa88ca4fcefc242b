/*
 * gen_pcap: writes a capture of tracked-link clicks and, optionally, the
 * access log a server would have written for the same requests (same µs
 * times, addresses, methods, targets and agents), so that `replay` and
 * `classify` can be compared verdict for verdict.
 *
 * Traffic: handshakes, keep-alive connections with several requests,
 * requests split over segments, reordered, retransmitted and overlapping
 * with conflicting bytes (the first copy is the one logged), POST bodies
 * (Content-Length and chunked) and untracked requests between clicks,
 * 302 responses, IPv4 and IPv6, 0-2 VLAN tags per connection.
 *
 * The log format is LOG_FORMAT below (nginx log_format syntax).
 */
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

#define LOG_FORMAT "$msec $remote_addr \"$request\" $status \"$http_user_agent\" \"$http_x_forwarded_for\""
#define T0_US 1794816000000000ull       /* 2026-11-16T08:00:00Z */
#define SERVER_V4 "192.0.2.80"
#define SERVER_V6 "2001:db8::80"
#define LB_V4 "192.0.2.1"               /* load balancer: PROXY protocol or XFF */
#define LB_V6 "2001:db8::1"
#define MAX_FRAME 2048

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

static void rnd_id(char *out, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

	for (size_t i = 0; i < len; i++)
		out[i] = abc[rnd_below(sizeof(abc) - 1)];
	out[len] = '\0';
}

/* ---- options ---- */

static struct {
	const char *pcap_path, *log_path;
	unsigned clicks;
	int linktype;
	bool vlan, proxy_protocol, xff, simple;
	uint32_t snaplen;
	uint16_t port;
} opt = { .clicks = 200, .linktype = DLT_EN10MB, .snaplen = 65535, .port = 80 };

/* ---- frames, collected then written in time order ---- */

struct frame {
	uint64_t ts_us;
	uint64_t order;                 /* ties keep generation order */
	uint32_t off, len;
};

static struct frame *frames;
static size_t n_frames, cap_frames;
static uint8_t *arena;
static size_t arena_len, arena_cap;

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	p = realloc(p, n * elem);
	if (!p) {
		fprintf(stderr, "gen_pcap: out of memory\n");
		exit(1);
	}
	*cap = n;
	return p;
}

static uint8_t *frame_new(uint64_t ts, size_t len)
{
	frames = grow(frames, &cap_frames, n_frames + 1, sizeof(*frames));
	arena = grow(arena, &arena_cap, arena_len + len, 1);
	frames[n_frames] = (struct frame){ .ts_us = ts, .order = n_frames, .off = (uint32_t)arena_len,
					   .len = (uint32_t)len };
	n_frames++;
	arena_len += len;
	return arena + arena_len - len;
}

static int frame_cmp(const void *a, const void *b)
{
	const struct frame *x = a, *y = b;

	if (x->ts_us != y->ts_us)
		return x->ts_us < y->ts_us ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* ---- packets ---- */

struct conn {
	struct cs_addr client, server;
	uint16_t cport;
	uint32_t cseq, sseq;            /* next sequence numbers */
	uint16_t vlan[2];
	int n_vlan;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* One TCP segment; to_server picks the direction. */
static void packet(const struct conn *c, bool to_server, uint8_t flags, uint32_t seq, uint32_t ack,
		   const uint8_t *payload, size_t len, uint64_t ts)
{
	uint8_t buf[MAX_FRAME + 128];
	const struct cs_addr *src = to_server ? &c->client : &c->server;
	const struct cs_addr *dst = to_server ? &c->server : &c->client;
	bool v6 = c->client.family == 6;
	size_t l2 = 0, ip_len = v6 ? 40 : 20, total;
	uint16_t ethertype = v6 ? 0x86dd : 0x0800;
	uint8_t *ip, *tcp;
	uint32_t s;

	switch (opt.linktype) {
	case DLT_EN10MB:
		memcpy(buf, to_server ? "\x02\0\0\0\0\x80" : "\x02\0\0\0\0\x01", 6);
		memcpy(buf + 6, to_server ? "\x02\0\0\0\0\x01" : "\x02\0\0\0\0\x80", 6);
		l2 = 12;
		for (int i = 0; i < c->n_vlan; i++) {
			put16(buf + l2, i == 0 && c->n_vlan == 2 ? 0x88a8 : 0x8100);
			put16(buf + l2 + 2, c->vlan[i]);
			l2 += 4;
		}
		put16(buf + l2, ethertype);
		l2 += 2;
		break;
	case DLT_LINUX_SLL:
		memset(buf, 0, 16);
		put16(buf, to_server ? 0 : 4);  /* to us / outgoing */
		put16(buf + 2, 1);              /* ARPHRD_ETHER */
		put16(buf + 4, 6);
		memcpy(buf + 6, "\x02\0\0\0\0\x01", 6);
		put16(buf + 14, ethertype);
		l2 = 16;
		break;
	case DLT_LINUX_SLL2:
		memset(buf, 0, 20);
		put16(buf, ethertype);
		put32(buf + 4, 2);              /* ifindex */
		put16(buf + 8, 1);
		buf[10] = to_server ? 0 : 4;
		buf[11] = 6;
		memcpy(buf + 12, "\x02\0\0\0\0\x01", 6);
		l2 = 20;
		break;
	default:                        /* DLT_RAW */
		break;
	}

	ip = buf + l2;
	tcp = ip + ip_len;
	total = ip_len + 20 + len;
	memset(ip, 0, ip_len + 20);
	if (v6) {
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)(20 + len));
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, src->bytes, 16);
		memcpy(ip + 24, dst->bytes, 16);
	} else {
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)total);
		put16(ip + 6, 0x4000);  /* DF */
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, src->bytes, 4);
		memcpy(ip + 16, dst->bytes, 4);
		put16(ip + 10, fold(sum16(ip, 20, 0)));
	}
	put16(tcp, to_server ? c->cport : opt.port);
	put16(tcp + 2, to_server ? opt.port : c->cport);
	put32(tcp + 4, seq);
	put32(tcp + 8, ack);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put16(tcp + 14, 64240);
	memcpy(tcp + 20, payload, len);
	/* Pseudo-header checksum. */
	s = sum16(src->bytes, v6 ? 16 : 4, 0);
	s = sum16(dst->bytes, v6 ? 16 : 4, s);
	s += 6 + (uint32_t)(20 + len);
	put16(tcp + 16, fold(sum16(tcp, 20 + len, s)));

	memcpy(frame_new(ts, l2 + total), buf, l2 + total);
}

#define F_FIN 0x01
#define F_SYN 0x02
#define F_PSH 0x08
#define F_ACK 0x10

static void conn_open(struct conn *c, uint64_t ts)
{
	uint32_t cisn = (uint32_t)rnd(), sisn = (uint32_t)rnd();

	packet(c, true, F_SYN, cisn, 0, NULL, 0, ts);
	packet(c, false, F_SYN | F_ACK, sisn, cisn + 1, NULL, 0, ts + 150);
	packet(c, true, F_ACK, cisn + 1, sisn + 1, NULL, 0, ts + 300);
	c->cseq = cisn + 1;
	c->sseq = sisn + 1;
}

static void conn_close(struct conn *c, uint64_t ts)
{
	packet(c, true, F_FIN | F_ACK, c->cseq, c->sseq, NULL, 0, ts);
	packet(c, false, F_FIN | F_ACK, c->sseq, c->cseq + 1, NULL, 0, ts + 100);
	packet(c, true, F_ACK, c->cseq + 1, c->sseq + 1, NULL, 0, ts + 200);
}

static void respond(struct conn *c, uint64_t ts)
{
	static const char resp[] = "HTTP/1.1 302 Found\r\nLocation: https://example.com/\r\n"
				   "Content-Length: 0\r\n\r\n";

	packet(c, false, F_ACK | F_PSH, c->sseq, c->cseq, (const uint8_t *)resp, sizeof(resp) - 1, ts);
	c->sseq += sizeof(resp) - 1;
}

/*
 * Sends one request as the client: whole, or split, with some of the
 * segments reordered, retransmitted, or overlapped by conflicting bytes.
 * The segment carrying the first byte is stamped ts exactly.
 */
static void send_request(struct conn *c, const char *req, size_t len, uint64_t ts)
{
	size_t cut[5], n_cut = 0;
	uint32_t base = c->cseq;
	uint32_t mode = opt.simple ? 0 : rnd_below(10);

	cut[n_cut++] = 0;
	if (mode >= 4) {
		size_t parts = 2 + rnd_below(3);

		for (size_t i = 1; i < parts; i++) {
			size_t at = cut[n_cut - 1] + 1 + rnd_below((uint32_t)(len - cut[n_cut - 1] - 1) / 2 + 1);

			if (at >= len)
				break;
			cut[n_cut++] = at;
		}
	}
	cut[n_cut] = len;

	for (size_t i = 0; i < n_cut; i++) {
		size_t a = cut[i], b = cut[i + 1];
		uint64_t t = ts + i * 20;

		/* mode 6-7: every later segment goes out before the first one. */
		if ((mode == 6 || mode == 7) && i > 0)
			t = ts - (n_cut - i) * 5;
		packet(c, true, F_ACK | F_PSH, base + (uint32_t)a, c->sseq, (const uint8_t *)req + a, b - a, t);
		/* mode 8: a segment sent twice. */
		if (mode == 8 && i == n_cut - 1)
			packet(c, true, F_ACK | F_PSH, base + (uint32_t)a, c->sseq,
			       (const uint8_t *)req + a, b - a, t + 3000);
		/*
		 * mode 9: a later copy overlapping this segment with different
		 * bytes, and the next one with the right ones (first copy wins).
		 */
		if (mode == 9 && i + 1 < n_cut && b - a >= 2) {
			uint8_t tmp[MAX_FRAME];
			size_t o0 = a + (b - a) / 2, o1 = cut[i + 2];

			if (o1 - o0 > sizeof(tmp))
				o1 = o0 + sizeof(tmp);
			memcpy(tmp, req + o0, o1 - o0);
			memset(tmp, 'Z', b - o0);
			packet(c, true, F_ACK | F_PSH, base + (uint32_t)o0, c->sseq, tmp, o1 - o0,
			       ts + 2000);
		}
	}
	c->cseq += (uint32_t)len;
}

/* ---- clicks ---- */

struct click {
	uint64_t ts_us;
	struct cs_addr client;
	const char *method;
	char message[24], recipient[32], link[40];
	const char *ua;
};

static const char *const browser_uas[] = {
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
};
static const char *const bot_uas[] = { "python-requests/2.31.0", "curl/8.5.0", "Go-http-client/1.1" };

/* Log lines, written sorted by time at the end as a server would have. */
struct log_line {
	uint64_t ts_us;
	uint64_t order;
	char *text;
};

static struct log_line *log_lines;
static size_t n_log_lines, cap_log_lines;

static void log_request(const struct click *k, const char *method, const char *target,
			int status, const char *ua)
{
	char addr[CS_ADDR_STRLEN], client[CS_ADDR_STRLEN];
	struct log_line *l;
	struct cs_addr lb;

	if (!opt.log_path)
		return;
	/* Behind XFF the server logs the balancer as the peer. */
	cs_addr_parse(k->client.family == 6 ? LB_V6 : LB_V4, &lb);
	log_lines = grow(log_lines, &cap_log_lines, n_log_lines + 1, sizeof(*log_lines));
	l = &log_lines[n_log_lines];
	l->ts_us = k->ts_us;
	l->order = n_log_lines++;
	if (asprintf(&l->text, "%llu.%06llu %s \"%s %s HTTP/1.1\" %d \"%s\" \"%s\"\n",
		     (unsigned long long)(k->ts_us / 1000000), (unsigned long long)(k->ts_us % 1000000),
		     cs_addr_format(opt.xff ? &lb : &k->client, addr), method, target, status, ua,
		     opt.xff ? cs_addr_format(&k->client, client) : "-") < 0) {
		fprintf(stderr, "gen_pcap: out of memory\n");
		exit(1);
	}
}

static int log_cmp(const void *a, const void *b)
{
	const struct log_line *x = a, *y = b;

	if (x->ts_us != y->ts_us)
		return x->ts_us < y->ts_us ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int write_log(void)
{
	FILE *f = fopen(opt.log_path, "w");
	int rc = 0;

	if (!f) {
		perror(opt.log_path);
		return 1;
	}
	qsort(log_lines, n_log_lines, sizeof(*log_lines), log_cmp);
	for (size_t i = 0; i < n_log_lines; i++) {
		fputs(log_lines[i].text, f);
		free(log_lines[i].text);
	}
	free(log_lines);
	if (fclose(f)) {
		perror(opt.log_path);
		rc = 1;
	}
	return rc;
}

static void addr_in(struct cs_addr *a, const char *prefix_text, uint32_t host_bits)
{
	cs_addr_parse(prefix_text, a);
	if (a->family == 4) {
		uint32_t host = rnd_below(1u << host_bits);

		a->bytes[3] |= (uint8_t)host;
		a->bytes[2] |= (uint8_t)(host >> 8);
	} else {
		a->bytes[15] = (uint8_t)(1 + rnd_below(250));
		a->bytes[14] = (uint8_t)rnd_below(256);
	}
}

/* Client addresses: documentation ranges for people, listed ranges for scanners. */
enum who { HUMAN_V4, HUMAN_V6, MICROSOFT, MIMECAST, PROOFPOINT, MICROSOFT_V6, COGENT };

static void pick_client(struct cs_addr *a, enum who w)
{
	switch (w) {
	case HUMAN_V4: addr_in(a, rnd_below(2) ? "198.51.100.0" : "203.0.113.0", 8); break;
	case HUMAN_V6: addr_in(a, "2001:db8:1:2::", 0); break;
	case MICROSOFT: addr_in(a, "40.92.0.0", 12); break;
	case MIMECAST: addr_in(a, "205.139.110.0", 8); break;
	case PROOFPOINT: addr_in(a, "67.231.144.0", 12); break;
	case MICROSOFT_V6: addr_in(a, "2a01:111:f403::", 0); break;
	case COGENT: addr_in(a, "38.0.0.0", 16); break;
	}
}

/*
 * One connection from one client carrying clicks (and, now and then, an
 * untracked GET, a POST with a body) on keep-alive.
 */
static void connection(struct click *k, size_t n)
{
	/* Body bytes that look like a click: framing must skip them. */
	static const char fake_request[] = "GET /redirect?link=fake&l=x&s=y HTTP/1.1\r\n\r\n";
	struct conn c = { .client = k[0].client };
	struct cs_addr lb;
	uint64_t ts = k[0].ts_us - 2000;

	cs_addr_parse(k[0].client.family == 6 ? SERVER_V6 : SERVER_V4, &c.server);
	if (opt.proxy_protocol || opt.xff) {
		cs_addr_parse(k[0].client.family == 6 ? LB_V6 : LB_V4, &lb);
		c.client = lb;
	}
	c.cport = (uint16_t)(1024 + rnd_below(64000));
	if (opt.vlan && opt.linktype == DLT_EN10MB) {
		c.n_vlan = (int)rnd_below(3);
		c.vlan[0] = (uint16_t)(100 + rnd_below(100));
		c.vlan[1] = (uint16_t)(200 + rnd_below(100));
	}
	conn_open(&c, ts);
	if (opt.proxy_protocol) {
		char hdr[160], a[CS_ADDR_STRLEN], b[CS_ADDR_STRLEN];
		int len = snprintf(hdr, sizeof(hdr), "PROXY TCP%c %s %s %u %u\r\n",
				   k[0].client.family == 6 ? '6' : '4', cs_addr_format(&k[0].client, a),
				   cs_addr_format(&c.server, b), 1024 + rnd_below(60000), opt.port);

		packet(&c, true, F_ACK | F_PSH, c.cseq, c.sseq, (const uint8_t *)hdr, (size_t)len, ts + 400);
		c.cseq += (uint32_t)len;
	}
	for (size_t i = 0; i < n; i++) {
		char target[256], req[1024], xff[80] = "", client[CS_ADDR_STRLEN];
		int len;

		if (opt.xff)
			snprintf(xff, sizeof(xff), "X-Forwarded-For: %s\r\n", cs_addr_format(&k[i].client, client));

		snprintf(target, sizeof(target), "/redirect?link=%s&l=%s&s=%s", k[i].link,
			 k[i].recipient, k[i].message);
		len = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: t.example.com\r\nUser-Agent: %s\r\n"
			       "Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.9\r\n"
			       "%sConnection: keep-alive\r\n\r\n", k[i].method, target, k[i].ua, xff);
		send_request(&c, req, (size_t)len, k[i].ts_us);
		respond(&c, k[i].ts_us + 900);
		log_request(&k[i], k[i].method, target, 302, k[i].ua);

		if (opt.simple || i + 1 == n)
			continue;
		/* Between clicks: untracked requests the classifier must count, not print. */
		struct click extra = k[i];
		extra.ts_us = k[i].ts_us + 1000 + rnd_below(100);
		if (extra.ts_us + 1000 >= k[i + 1].ts_us)
			continue;
		switch (rnd_below(4)) {
		case 0:
			len = snprintf(req, sizeof(req), "GET /favicon.ico HTTP/1.1\r\nHost: t.example.com\r\n"
				       "User-Agent: %s\r\n\r\n", k[i].ua);
			send_request(&c, req, (size_t)len, extra.ts_us);
			log_request(&extra, "GET", "/favicon.ico", 404, k[i].ua);
			break;
		case 1:
			len = snprintf(req, sizeof(req), "POST /api/open HTTP/1.1\r\nHost: t.example.com\r\n"
				       "User-Agent: %s\r\nContent-Length: %zu\r\n\r\n%s",
				       k[i].ua, strlen(fake_request), fake_request);
			send_request(&c, req, (size_t)len, extra.ts_us);
			log_request(&extra, "POST", "/api/open", 204, k[i].ua);
			break;
		case 2:
			len = snprintf(req, sizeof(req), "POST /api/beacon HTTP/1.1\r\nHost: t.example.com\r\n"
				       "User-Agent: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
				       "5\r\nhello\r\n%zx\r\n%s\r\n0\r\n\r\n",
				       k[i].ua, strlen(fake_request), fake_request);
			send_request(&c, req, (size_t)len, extra.ts_us);
			log_request(&extra, "POST", "/api/beacon", 204, k[i].ua);
			break;
		default:
			break;
		}
		respond(&c, extra.ts_us + 500);
	}
	conn_close(&c, k[n - 1].ts_us + 5000);
}

/* A message x recipient and the clicks its scenario produces, in time order. */
static size_t scenario(struct click *k, uint64_t t)
{
	char message[24], recipient[32];
	size_t n = 0;
	uint32_t kind = rnd_below(8);

	rnd_id(message, 19);
	rnd_id(recipient, 30);
	for (size_t i = 0; i < 4; i++) {
		memcpy(k[i].message, message, sizeof(message));
		memcpy(k[i].recipient, recipient, sizeof(recipient));
		rnd_id(k[i].link, 32);
		k[i].method = "GET";
		k[i].ua = browser_uas[rnd_below(3)];
	}
	switch (kind) {
	case 0:                         /* a person, once */
	case 1:
		pick_client(&k[0].client, rnd_below(3) ? HUMAN_V4 : HUMAN_V6);
		k[0].ts_us = t;
		n = 1;
		break;
	case 2:                         /* pre-delivery scan: every link at once, one address */
		pick_client(&k[0].client, rnd_below(2) ? MIMECAST : PROOFPOINT);
		for (n = 0; n < 3; n++) {
			k[n].client = k[0].client;
			k[n].ts_us = t + n * (100000 + rnd_below(200000));
		}
		break;
	case 3:                         /* a person, then Safe Links from Microsoft */
		pick_client(&k[0].client, HUMAN_V4);
		k[0].ts_us = t;
		pick_client(&k[1].client, rnd_below(2) ? MICROSOFT : MICROSOFT_V6);
		memcpy(k[1].link, k[0].link, sizeof(k[0].link));
		k[1].ts_us = t + 30000000 + rnd_below(1000000);
		n = 2;
		break;
	case 4:                         /* a declared tool */
		pick_client(&k[0].client, HUMAN_V4);
		k[0].ua = bot_uas[rnd_below(3)];
		k[0].ts_us = t;
		n = 1;
		break;
	case 5:                         /* a HEAD probe, then the person */
		pick_client(&k[0].client, HUMAN_V6);
		k[0].method = "HEAD";
		k[0].ts_us = t;
		k[1] = k[0];
		k[1].method = "GET";
		k[1].ts_us = t + 700000;
		n = 2;
		break;
	case 6:                         /* a double click */
		pick_client(&k[0].client, HUMAN_V4);
		k[0].ts_us = t;
		k[1] = k[0];
		k[1].ts_us = t + 400000;
		n = 2;
		break;
	default:                        /* weak range only */
		pick_client(&k[0].client, COGENT);
		k[0].ts_us = t;
		n = 1;
		break;
	}
	return n;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: gen_pcap [OPTIONS] OUT.pcap\n"
"  -n, --clicks N       tracked clicks (default 200)\n"
"  -l, --log FILE       also write the equivalent access log, format:\n"
"                       " LOG_FORMAT "\n"
"  -t, --linktype T     en10mb (default), sll, sll2, raw\n"
"      --vlan           0-2 VLAN tags per connection (en10mb)\n"
"      --proxy-protocol connections come from a load balancer with PROXY v1\n"
"      --xff            connections come from a load balancer with X-Forwarded-For\n"
"      --simple         whole requests, no untracked requests in between\n"
"      --snaplen N      cut frames to N bytes\n"
"  -p, --port P         server port (default 80)\n"
"  -s, --seed N\n"
"      --print-format   print the log format and exit\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "clicks", required_argument, NULL, 'n' },
		{ "log", required_argument, NULL, 'l' },
		{ "linktype", required_argument, NULL, 't' },
		{ "vlan", no_argument, NULL, 'V' },
		{ "proxy-protocol", no_argument, NULL, 'P' },
		{ "xff", no_argument, NULL, 'X' },
		{ "simple", no_argument, NULL, 'S' },
		{ "snaplen", required_argument, NULL, 'L' },
		{ "port", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },
		{ "print-format", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct click k[4];
	pcap_t *dead = NULL;
	pcap_dumper_t *dump = NULL;
	unsigned produced = 0;
	uint64_t t = T0_US;
	int o, rc = 1;

	while ((o = getopt_long(argc, argv, "n:l:t:p:s:h", longopts, NULL)) != -1) {
		switch (o) {
		case 'n': opt.clicks = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'l': opt.log_path = optarg; break;
		case 't':
			if (!strcmp(optarg, "en10mb"))
				opt.linktype = DLT_EN10MB;
			else if (!strcmp(optarg, "sll"))
				opt.linktype = DLT_LINUX_SLL;
			else if (!strcmp(optarg, "sll2"))
				opt.linktype = DLT_LINUX_SLL2;
			else if (!strcmp(optarg, "raw"))
				opt.linktype = DLT_RAW;
			else {
				fprintf(stderr, "gen_pcap: unknown link type '%s'\n", optarg);
				return 2;
			}
			break;
		case 'V': opt.vlan = true; break;
		case 'P': opt.proxy_protocol = true; break;
		case 'X': opt.xff = true; break;
		case 'S': opt.simple = true; break;
		case 'L': opt.snaplen = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'p': opt.port = (uint16_t)strtoul(optarg, NULL, 10); break;
		case 's': rng_state ^= strtoull(optarg, NULL, 10) * 0x2545f4914f6cdd1dull; break;
		case 'F': puts(LOG_FORMAT); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	opt.pcap_path = argv[optind];

	while (produced < opt.clicks) {
		size_t n = scenario(k, t);

		if (produced + n > opt.clicks)
			n = opt.clicks - produced;
		/* Clicks from one address within 5 s share a keep-alive connection. */
		for (size_t i = 0; i < n;) {
			size_t j = i + 1;

			while (j < n && cs_addr_equal(&k[j].client, &k[i].client) &&
			       k[j].ts_us - k[j - 1].ts_us < 5000000)
				j++;
			connection(k + i, j - i);
			i = j;
		}
		produced += (unsigned)n;
		t += 20000 + rnd_below(60000);
	}

	qsort(frames, n_frames, sizeof(*frames), frame_cmp);
	dead = pcap_open_dead_with_tstamp_precision(opt.linktype, (int)opt.snaplen,
						    PCAP_TSTAMP_PRECISION_MICRO);
	dump = dead ? pcap_dump_open(dead, opt.pcap_path) : NULL;
	if (!dump) {
		fprintf(stderr, "gen_pcap: %s: %s\n", opt.pcap_path, dead ? pcap_geterr(dead) : "pcap");
		goto out;
	}
	for (size_t i = 0; i < n_frames; i++) {
		struct pcap_pkthdr h = {
			.ts = { .tv_sec = (time_t)(frames[i].ts_us / 1000000),
				.tv_usec = (suseconds_t)(frames[i].ts_us % 1000000) },
			.len = frames[i].len,
			.caplen = frames[i].len < opt.snaplen ? frames[i].len : opt.snaplen,
		};

		pcap_dump((u_char *)dump, &h, arena + frames[i].off);
	}
	rc = opt.log_path ? write_log() : 0;
out:
	if (dump)
		pcap_dump_close(dump);
	if (dead)
		pcap_close(dead);
	free(frames);
	free(arena);
	return rc;
}
