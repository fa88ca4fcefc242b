/*
 * Per-flow reassembly and request framing. See flows.h for the policy.
 *
 * Each flow delivers its bytes in sequence order to a small framing state
 * machine: an optional PROXY header at the start, then request heads
 * (buffered up to the header budget and parsed whole), then bodies
 * (skipped by Content-Length or chunk framing), and so on for every
 * request of a keep-alive connection.
 */
#include "flows.h"

#include <stdlib.h>
#include <string.h>

#include "clicksieve_abi.h"

/* Enough of a connection's start to decide on a PROXY header (v2 + AF_UNIX). */
#define PROXY_PEEK (CS_PROXY_V2_HDR + 216)

enum frame_state {
	FS_PROXY = 0,                   /* start of the stream: PROXY header? */
	FS_HEAD,                        /* request line and headers */
	FS_BODY,                        /* skipping body_left bytes */
	FS_CHUNKED,
};

struct flow_key {
	struct cs_addr src, dst;
	uint16_t sport, dport;
};

/* A byte range queued above a hole; data is NULL for bytes never captured. */
struct ooo_seg {
	struct ooo_seg *next;
	uint32_t seq, len;
	uint64_t ts_us;
	uint8_t *data;
};

struct flow {
	struct flow *hash_next;
	struct flow *lru_prev, *lru_next;
	struct flow_key key;
	uint64_t hash;
	uint64_t last_ts;
	uint32_t first_seq;             /* the first byte seen */
	uint32_t next_seq;
	uint32_t fin_seq;
	bool syn_seen, fin_seen;

	enum frame_state state;
	bool candidate;                 /* the current line began at a line start */
	bool at_boundary;               /* a request line is due (desync if not) */
	bool in_request;                /* first line of buf is a request line */
	bool seg_start_only;            /* after a hole: requests start segments */
	bool proxied;
	struct cs_addr proxy_src;
	uint64_t req_ts;
	uint64_t body_left;
	struct cs_chunked chunked;

	uint8_t *buf;                   /* request head (or PROXY peek) so far */
	uint32_t buf_len, buf_cap;
	uint32_t line_start;            /* offset of the current line in buf */

	struct ooo_seg *ooo;            /* sorted by seq, disjoint */
	uint32_t ooo_bytes;             /* queued data plus its bookkeeping */
};

struct cs_flows {
	struct cs_flows_config cfg;
	cs_request_fn fn;
	void *ctx;
	struct flow **buckets;
	size_t n_buckets;               /* power of two */
	size_t n_flows;
	struct flow *lru_head, *lru_tail;       /* head = least recently active */
	struct cs_flow_stats stats;
	struct cs_http_head head;       /* parse scratch */
};

void cs_flows_config_defaults(struct cs_flows_config *cfg)
{
	cfg->header_budget = 16384;
	cfg->ooo_cap = 256 * 1024;
	cfg->memcap = 256ull << 20;
	cfg->idle_timeout_us = 120ull * 1000000;
	cfg->hash_seed = 0;
	cs_http_limits_defaults(&cfg->http);
}

/* Sequence-space comparisons (RFC 1982 serial arithmetic). */
static bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static bool seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

static void mem_add(struct cs_flows *f, size_t n)
{
	f->stats.mem_bytes += n;
	if (f->stats.mem_bytes > f->stats.mem_peak)
		f->stats.mem_peak = f->stats.mem_bytes;
}

static void mem_sub(struct cs_flows *f, size_t n)
{
	f->stats.mem_bytes -= n;
}

static uint64_t key_hash(const struct flow_key *k, uint64_t seed)
{
	const uint8_t *parts[2] = { k->src.bytes, k->dst.bytes };
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (int p = 0; p < 2; p++)
		for (int i = 0; i < 16; i++)
			h = (h ^ parts[p][i]) * 0x100000001b3ull;
	h = (h ^ k->sport) * 0x100000001b3ull;
	h = (h ^ k->dport) * 0x100000001b3ull;
	h = (h ^ k->src.family) * 0x100000001b3ull;
	/* Final avalanche (splitmix64) so that the seed reaches every bit. */
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

static bool key_equal(const struct flow_key *a, const struct flow_key *b)
{
	return a->sport == b->sport && a->dport == b->dport &&
	       cs_addr_equal(&a->src, &b->src) && cs_addr_equal(&a->dst, &b->dst);
}

static struct flow *flow_lookup(struct cs_flows *f, const struct flow_key *k, uint64_t h)
{
	for (struct flow *fl = f->buckets[h & (f->n_buckets - 1)]; fl; fl = fl->hash_next)
		if (fl->hash == h && key_equal(&fl->key, k))
			return fl;
	return NULL;
}

static void lru_unlink(struct cs_flows *f, struct flow *fl)
{
	if (fl->lru_prev)
		fl->lru_prev->lru_next = fl->lru_next;
	else
		f->lru_head = fl->lru_next;
	if (fl->lru_next)
		fl->lru_next->lru_prev = fl->lru_prev;
	else
		f->lru_tail = fl->lru_prev;
	fl->lru_prev = fl->lru_next = NULL;
}

static void lru_append(struct cs_flows *f, struct flow *fl)
{
	fl->lru_prev = f->lru_tail;
	fl->lru_next = NULL;
	if (f->lru_tail)
		f->lru_tail->lru_next = fl;
	else
		f->lru_head = fl;
	f->lru_tail = fl;
}

/* Doubles the bucket array when flows outnumber buckets; failure is harmless. */
static void maybe_grow(struct cs_flows *f)
{
	size_t n = f->n_buckets * 2;
	struct flow **b;

	if (f->n_flows <= f->n_buckets)
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < f->n_buckets; i++) {
		struct flow *fl = f->buckets[i], *next;

		for (; fl; fl = next) {
			next = fl->hash_next;
			fl->hash_next = b[fl->hash & (n - 1)];
			b[fl->hash & (n - 1)] = fl;
		}
	}
	mem_sub(f, f->n_buckets * sizeof(*b));
	mem_add(f, n * sizeof(*b));
	free(f->buckets);
	f->buckets = b;
	f->n_buckets = n;
}

/* ---- framing: bytes in sequence order -> requests ---- */

static void buf_reset(struct flow *fl)
{
	fl->buf_len = 0;
	fl->line_start = 0;
	fl->in_request = false;
}

/* Appends to the flow's buffer; the caller has checked the budget. */
static bool buf_append(struct cs_flows *f, struct flow *fl, const uint8_t *p, size_t n)
{
	if (fl->buf_len + n > fl->buf_cap) {
		size_t cap = fl->buf_cap ? fl->buf_cap : 512;
		uint8_t *nb;

		while (cap < fl->buf_len + n)
			cap *= 2;
		nb = realloc(fl->buf, cap);
		if (!nb)
			return false;
		mem_add(f, cap - fl->buf_cap);
		fl->buf = nb;
		fl->buf_cap = (uint32_t)cap;
	}
	memcpy(fl->buf + fl->buf_len, p, n);
	fl->buf_len += (uint32_t)n;
	return true;
}

/* Next bytes may begin a request: after a request, a hole or at the start. */
static void expect_request(struct flow *fl, bool due)
{
	fl->state = FS_HEAD;
	fl->candidate = true;
	fl->at_boundary = due;
	buf_reset(fl);
}

/* Lost track of framing: skip to the next line start, then look for a request line. */
static void resync(struct flow *fl)
{
	fl->state = FS_HEAD;
	fl->candidate = false;
	fl->at_boundary = false;
	buf_reset(fl);
}

static void emit_request(struct cs_flows *f, struct flow *fl)
{
	const struct cs_http_head *h = &f->head;
	struct cs_request req = {
		.ts_us = fl->req_ts,
		.client = fl->proxied ? fl->proxy_src : fl->key.src,
		.peer = fl->key.src,
		.server = fl->key.dst,
		.peer_port = fl->key.sport,
		.server_port = fl->key.dport,
		.proxied = fl->proxied,
		.method = h->method,
		.target = h->target,
		.target_len = h->target_len,
		.host = h->host,
		.user_agent = h->user_agent,
		.xff = h->xff,
		.forwarded = h->forwarded,
	};

	f->stats.requests++;
	f->fn(f->ctx, &req);
}

/* A whole head is in buf: parse it, hand it on, set up the body. */
static void finish_head(struct cs_flows *f, struct flow *fl)
{
	enum cs_http_status st = cs_http_parse_head(fl->buf, fl->buf_len, &f->cfg.http, &f->head);

	if (st != CS_HTTP_OK) {
		f->stats.requests_malformed++;
		/* The body length is unknown: find the next request line. */
		expect_request(fl, false);
		return;
	}
	emit_request(f, fl);
	expect_request(fl, true);
	if (f->head.body == CS_BODY_LENGTH) {
		f->stats.bodies_length++;
		fl->state = FS_BODY;
		fl->body_left = f->head.content_length;
	} else if (f->head.body == CS_BODY_CHUNKED) {
		f->stats.bodies_chunked++;
		fl->state = FS_CHUNKED;
		memset(&fl->chunked, 0, sizeof(fl->chunked));
	}
}

/* One complete line (ending in LF) is at buf[line_start..buf_len). */
static void end_of_line(struct cs_flows *f, struct flow *fl)
{
	uint32_t len = fl->buf_len - fl->line_start - 1;
	const uint8_t *line = fl->buf + fl->line_start;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (fl->in_request) {
		if (len == 0)
			finish_head(f, fl);
		else
			fl->line_start = fl->buf_len;
		return;
	}
	/* First line: empty lines between requests are allowed (RFC 9112 2.2). */
	if (len == 0) {
		buf_reset(fl);
		return;
	}
	if (cs_http_is_request_line(line, len)) {
		fl->in_request = true;
		fl->seg_start_only = false;
		fl->at_boundary = false;
		fl->line_start = fl->buf_len;
		return;
	}
	if (fl->at_boundary)
		f->stats.desyncs++;
	fl->at_boundary = false;
	buf_reset(fl);
}

/* FS_HEAD: consumes bytes up to and including the next LF; returns the count. */
static size_t consume_head(struct cs_flows *f, struct flow *fl, const uint8_t *p, size_t n,
			   uint64_t ts, bool seg_start)
{
	const uint8_t *nl = memchr(p, '\n', n);
	size_t take = nl ? (size_t)(nl - p) + 1 : n;

	/*
	 * Lost framing (a hole, or a flow picked up mid-stream): body bytes
	 * may hold request lines, so only take one that starts a segment, as
	 * clients start requests.
	 */
	if (fl->candidate && fl->buf_len == 0 && fl->seg_start_only && !seg_start)
		fl->candidate = false;
	if (!fl->candidate) {
		/* Mid-line: drop bytes up to the next line start. */
		if (nl)
			fl->candidate = true;
		return take;
	}
	if (fl->buf_len + take > f->cfg.header_budget) {
		if (fl->in_request || (fl->buf_len ? cs_http_may_start_request(fl->buf, fl->buf_len)
						   : cs_http_may_start_request(p, take)))
			f->stats.requests_over_budget++;
		resync(fl);
		if (nl)
			fl->candidate = true;
		return take;
	}
	if (fl->buf_len == 0)
		fl->req_ts = ts;
	if (!buf_append(f, fl, p, take)) {
		resync(fl);
		return take;
	}
	if (nl) {
		end_of_line(f, fl);
	} else if (!fl->in_request && !cs_http_may_start_request(fl->buf, fl->buf_len)) {
		if (fl->at_boundary)
			f->stats.desyncs++;
		resync(fl);
	}
	return take;
}

static void consume(struct cs_flows *f, struct flow *fl, const uint8_t *p, size_t n, uint64_t ts);

/*
 * Feeds buf[from..len) through the framing again. The caller has reset the
 * buffer (only its length), so the bytes are copied out first.
 */
static void replay_peek(struct cs_flows *f, struct flow *fl, size_t from, size_t len, uint64_t ts)
{
	uint8_t peek[PROXY_PEEK];

	memcpy(peek, fl->buf + from, len - from);
	consume(f, fl, peek, len - from, ts);
}

/* FS_PROXY: the first bytes of a connection. */
static size_t consume_proxy(struct cs_flows *f, struct flow *fl, const uint8_t *p, size_t n,
			    uint64_t ts)
{
	size_t take = n < PROXY_PEEK - fl->buf_len ? n : PROXY_PEEK - fl->buf_len;
	struct cs_proxy_info info;
	size_t len;

	if (!buf_append(f, fl, p, take)) {
		resync(fl);
		return take;
	}
	len = fl->buf_len;
	switch (cs_proxy_parse(fl->buf, len, &info)) {
	case CS_PROXY_NEED_MORE:
		return take;
	case CS_PROXY_INVALID:
		/* Look for a request line from the next line on. */
		f->stats.proxy_invalid++;
		resync(fl);
		replay_peek(f, fl, 0, len, ts);
		return take;
	case CS_PROXY_OK:
		if (info.version == 1)
			f->stats.proxy_v1++;
		else
			f->stats.proxy_v2++;
		fl->proxied = info.has_addr;
		fl->proxy_src = info.src;
		break;
	case CS_PROXY_NONE:
		info.header_len = 0;
		break;
	}
	expect_request(fl, fl->syn_seen);
	if (info.header_len > len) {
		fl->state = FS_BODY;    /* v2 TLVs beyond the peek: skip them */
		fl->body_left = info.header_len - len;
	} else {
		replay_peek(f, fl, info.header_len, len, ts);
	}
	return take;
}

static void consume(struct cs_flows *f, struct flow *fl, const uint8_t *p, size_t n, uint64_t ts)
{
	const uint8_t *start = p;

	while (n > 0) {
		size_t used = 0;

		switch (fl->state) {
		case FS_PROXY:
			used = consume_proxy(f, fl, p, n, ts);
			break;
		case FS_HEAD:
			used = consume_head(f, fl, p, n, ts, p == start);
			break;
		case FS_BODY:
			used = n < fl->body_left ? n : (size_t)fl->body_left;
			fl->body_left -= used;
			if (fl->body_left == 0)
				expect_request(fl, true);
			break;
		case FS_CHUNKED:
			switch (cs_chunked_skip(&fl->chunked, p, n, &used)) {
			case CS_CHUNKED_MORE:
				break;
			case CS_CHUNKED_DONE:
				expect_request(fl, true);
				break;
			case CS_CHUNKED_ERROR:
				/* Rescan from the offending byte: it may end a line. */
				f->stats.chunked_errors++;
				resync(fl);
				break;
			}
			break;
		}
		p += used;
		n -= used;
	}
}

/* n bytes of the stream will never be seen. */
static void consume_gap(struct cs_flows *f, struct flow *fl, uint64_t n)
{
	f->stats.holes++;
	f->stats.hole_bytes += n;
	switch (fl->state) {
	case FS_BODY:
		/* The length is known: framing survives a hole inside the body. */
		if (n < fl->body_left) {
			fl->body_left -= n;
			return;
		}
		if (n == fl->body_left) {
			expect_request(fl, true);
			return;
		}
		break;
	case FS_HEAD:
		if (fl->candidate && fl->buf_len > 0)
			f->stats.requests_lost++;
		break;
	case FS_PROXY:
	case FS_CHUNKED:
		break;
	}
	/* Data after a hole starts a segment, which may start a request. */
	expect_request(fl, false);
	fl->seg_start_only = true;
}

/* ---- reassembly ---- */

static void deliver(struct cs_flows *f, struct flow *fl, const uint8_t *data, uint32_t len,
		    uint64_t ts)
{
	if (data)
		consume(f, fl, data, len, ts);
	else
		consume_gap(f, fl, len);
	fl->next_seq += len;
}

static size_t ooo_size(const struct ooo_seg *s)
{
	return sizeof(*s) + (s->data ? s->len : 0);
}

static void ooo_free(struct cs_flows *f, struct ooo_seg *s)
{
	mem_sub(f, ooo_size(s));
	free(s);
}

/* Delivers queued ranges that have become contiguous. */
static void drain(struct cs_flows *f, struct flow *fl)
{
	while (fl->ooo && fl->ooo->seq == fl->next_seq) {
		struct ooo_seg *s = fl->ooo;

		fl->ooo = s->next;
		fl->ooo_bytes -= (uint32_t)ooo_size(s);
		deliver(f, fl, s->data, s->len, s->ts_us);
		ooo_free(f, s);
	}
}

/* Gives up the hole below the first queued range. */
static void skip_hole(struct cs_flows *f, struct flow *fl)
{
	uint32_t gap = fl->ooo->seq - fl->next_seq;

	consume_gap(f, fl, gap);
	fl->next_seq = fl->ooo->seq;
	drain(f, fl);
}

/*
 * Queues [seq, seq+len) except where queued ranges already cover it (first
 * data wins). data is NULL for bytes that were never captured.
 */
static void ooo_insert(struct cs_flows *f, struct flow *fl, uint32_t seq, uint32_t len,
		       const uint8_t *data, uint64_t ts)
{
	struct ooo_seg **link = &fl->ooo;
	uint32_t end = seq + len;
	bool conflict = false;

	while (seq_lt(seq, end)) {
		struct ooo_seg *cur = *link, *s;
		uint32_t piece_end;

		if (cur && seq_le(cur->seq + cur->len, seq)) {
			link = &cur->next;
			continue;
		}
		if (cur && seq_le(cur->seq, seq)) {
			uint32_t cur_end = cur->seq + cur->len;
			uint32_t o_end = seq_lt(end, cur_end) ? end : cur_end;
			uint32_t n = o_end - seq;

			f->stats.retransmitted_bytes += n;
			if (data && cur->data && memcmp(cur->data + (seq - cur->seq), data, n))
				conflict = true;
			if (data)
				data += n;
			seq = o_end;
			link = &cur->next;
			continue;
		}
		piece_end = cur && seq_lt(cur->seq, end) ? cur->seq : end;
		s = malloc(sizeof(*s) + (data ? piece_end - seq : 0));
		if (!s)
			break;
		s->seq = seq;
		s->len = piece_end - seq;
		s->ts_us = ts;
		s->data = data ? (uint8_t *)(s + 1) : NULL;
		if (data) {
			memcpy(s->data, data, s->len);
			data += s->len;
		}
		fl->ooo_bytes += (uint32_t)ooo_size(s);
		mem_add(f, ooo_size(s));
		s->next = cur;
		*link = s;
		link = &s->next;
		seq = piece_end;
	}
	if (conflict)
		f->stats.overlap_conflicts++;
}

/* One segment's payload starting at sequence number seq. */
static void add_data(struct cs_flows *f, struct flow *fl, uint32_t seq, const uint8_t *data,
		     uint32_t captured, uint32_t len, uint64_t ts)
{
	if (seq_lt(seq, fl->next_seq)) {
		uint32_t old = fl->next_seq - seq;

		if (old >= len) {
			f->stats.retransmitted_bytes += len;
			return;
		}
		f->stats.retransmitted_bytes += old;
		seq += old;
		len -= old;
		data += old < captured ? old : captured;
		captured = old < captured ? captured - old : 0;
	}
	if (seq == fl->next_seq && !fl->ooo) {
		if (captured)
			deliver(f, fl, data, captured, ts);
		if (len > captured)
			deliver(f, fl, NULL, len - captured, ts);
		return;
	}
	if (seq != fl->next_seq)
		f->stats.ooo_segments++;
	if (captured)
		ooo_insert(f, fl, seq, captured, data, ts);
	if (len > captured)
		ooo_insert(f, fl, seq + captured, len - captured, NULL, ts);
	drain(f, fl);
	while (fl->ooo && fl->ooo_bytes > f->cfg.ooo_cap) {
		f->stats.ooo_cap_hits++;
		skip_hole(f, fl);
	}
}

/* ---- flow lifetime ---- */

static struct flow *flow_new(struct cs_flows *f, const struct flow_key *k, uint64_t h,
			     uint32_t next_seq, bool syn)
{
	struct flow *fl = calloc(1, sizeof(*fl));

	if (!fl)
		return NULL;
	fl->key = *k;
	fl->hash = h;
	fl->first_seq = next_seq;
	fl->next_seq = next_seq;
	fl->syn_seen = syn;
	fl->seg_start_only = !syn;
	fl->state = FS_PROXY;
	fl->hash_next = f->buckets[h & (f->n_buckets - 1)];
	f->buckets[h & (f->n_buckets - 1)] = fl;
	lru_append(f, fl);
	f->n_flows++;
	f->stats.flows_created++;
	f->stats.flows_active++;
	if (!syn)
		f->stats.flows_midstream++;
	mem_add(f, sizeof(*fl));
	maybe_grow(f);
	return fl;
}

/* Delivers what can still be delivered (holes given up), then frees the flow. */
static void flow_close(struct cs_flows *f, struct flow *fl, uint64_t *counter)
{
	struct flow **link = &f->buckets[fl->hash & (f->n_buckets - 1)];

	while (fl->ooo)
		skip_hole(f, fl);
	if (fl->state == FS_HEAD && fl->in_request)
		f->stats.requests_incomplete++;
	(*counter)++;

	while (*link != fl)
		link = &(*link)->hash_next;
	*link = fl->hash_next;
	lru_unlink(f, fl);
	f->n_flows--;
	f->stats.flows_active--;
	mem_sub(f, sizeof(*fl) + fl->buf_cap);
	free(fl->buf);
	free(fl);
}

struct cs_flows *cs_flows_new(const struct cs_flows_config *cfg, cs_request_fn fn, void *ctx)
{
	struct cs_flows *f;

	if (cfg->header_budget > CS_HTTP_HEAD_MAX)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->cfg = *cfg;
	f->fn = fn;
	f->ctx = ctx;
	f->n_buckets = 1024;
	f->buckets = calloc(f->n_buckets, sizeof(*f->buckets));
	if (!f->buckets) {
		free(f);
		return NULL;
	}
	mem_add(f, f->n_buckets * sizeof(*f->buckets));
	return f;
}

void cs_flows_free(struct cs_flows *f)
{
	if (!f)
		return;
	while (f->lru_head) {
		struct flow *fl = f->lru_head;

		while (fl->ooo) {
			struct ooo_seg *s = fl->ooo;

			fl->ooo = s->next;
			free(s);
		}
		lru_unlink(f, fl);
		free(fl->buf);
		free(fl);
	}
	free(f->buckets);
	free(f);
}

static void enforce_memcap(struct cs_flows *f)
{
	while (f->stats.mem_bytes > f->cfg.memcap && f->lru_head)
		flow_close(f, f->lru_head, &f->stats.flows_evicted);
}

void cs_flows_segment(struct cs_flows *f, const struct cs_segment *seg)
{
	struct flow_key k = { .src = seg->src, .dst = seg->dst, .sport = seg->sport, .dport = seg->dport };
	uint64_t h = key_hash(&k, f->cfg.hash_seed);
	struct flow *fl = flow_lookup(f, &k, h);
	uint32_t seq = seg->seq;
	uint32_t captured = seg->captured < seg->len ? seg->captured : seg->len;

	f->stats.segments++;
	f->stats.payload_bytes += seg->len;
	if (captured < seg->len)
		f->stats.truncated_segments++;

	if (seg->flags & CS_TCP_RST) {
		if (fl)
			flow_close(f, fl, &f->stats.flows_closed_rst);
		return;
	}
	if (seg->flags & CS_TCP_SYN) {
		/*
		 * The SYN of a flow whose data came first: the XDP program
		 * batches SYNs per CPU, so another CPU's data can overtake
		 * them by up to CS_EVENT_BATCH_DELAY_NS. Same connection.
		 */
		if (fl && !fl->syn_seen && fl->first_seq == seq + 1) {
			fl->syn_seen = true;
			return;
		}
		/* A SYN with a new ISN on a known tuple starts a new connection. */
		if (fl && (!fl->syn_seen || fl->next_seq != seq + 1)) {
			flow_close(f, fl, &f->stats.flows_replaced);
			fl = NULL;
		}
		seq++;                  /* the SYN takes one sequence number */
		if (!fl)
			fl = flow_new(f, &k, h, seq, true);
	} else if (!fl) {
		if (seg->len == 0)
			return;         /* bare ACK or FIN of a flow we do not track */
		fl = flow_new(f, &k, h, seq, false);
	}
	if (!fl)
		return;

	fl->last_ts = seg->ts_us;
	lru_unlink(f, fl);
	lru_append(f, fl);

	if (seg->len)
		add_data(f, fl, seq, seg->data, captured, seg->len, seg->ts_us);
	if (seg->flags & CS_TCP_FIN) {
		fl->fin_seen = true;
		fl->fin_seq = seq + seg->len;
	}
	if (fl->fin_seen && seq_le(fl->fin_seq, fl->next_seq))
		flow_close(f, fl, &f->stats.flows_closed_fin);
	enforce_memcap(f);
}

void cs_flows_advance(struct cs_flows *f, uint64_t now_us)
{
	while (f->lru_head && f->lru_head->last_ts + f->cfg.idle_timeout_us <= now_us)
		flow_close(f, f->lru_head, &f->stats.flows_timed_out);
}

void cs_flows_finish(struct cs_flows *f)
{
	while (f->lru_head)
		flow_close(f, f->lru_head, &f->stats.flows_flushed);
}

void cs_flows_get_stats(const struct cs_flows *f, struct cs_flow_stats *out)
{
	*out = f->stats;
}

void cs_segment_from_event(const struct cs_event *ev, uint64_t ts_us, struct cs_segment *out)
{
	memset(out, 0, sizeof(*out));
	out->ts_us = ts_us;
	out->src.family = out->dst.family = ev->family;
	memcpy(out->src.bytes, ev->saddr, ev->family == 4 ? 4 : 16);
	memcpy(out->dst.bytes, ev->daddr, ev->family == 4 ? 4 : 16);
	out->sport = ev->sport;
	out->dport = ev->dport;
	out->seq = ev->seq;
	out->flags = ev->tcp_flags;
	out->data = ev->payload;
	out->len = ev->payload_len;
	out->captured = ev->captured_len < CS_CAPTURE_BYTES ? ev->captured_len : CS_CAPTURE_BYTES;
}
