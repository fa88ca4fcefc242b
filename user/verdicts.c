/*
 * The click classifier: DESIGN §1 in event time.
 *
 * Definitions (B = burst_window, D = double_click, M = multi_ip_window,
 * R = reorder_window; all intervals in event time, µs):
 *
 * pair      message × recipient. Keyed by a 128-bit MurmurHash3 of
 *           le64(len(message)) ‖ message ‖ recipient, an injective encoding.
 *           Two pairs merge only on a 128-bit collision: with n pairs alive
 *           the chance is about n²/2^129, 1.5e-24 at a million pairs. The
 *           hash is not keyed: someone who could send clicks that collide
 *           on purpose already controls both pairs' tracking URLs. The same
 *           hash of the user agent keys a small memo of agent-pattern
 *           matches (logs repeat a few thousand agents).
 * client    the source address masked to v4_client_prefix / v6_client_prefix
 *           (default /32 and /64: privacy addresses of one /64 are one client).
 *           IPv4-mapped IPv6 (::ffff:a.b.c.d, dual-stack listeners) counts as
 *           the IPv4 address, for the client and the range lookup alike:
 *           masked to /64 every IPv4 client would merge into one.
 * evidence  what a click shows on its own: scanner_range (longest-prefix
 *           match without WEAK/ALLOW flag), weak_range (WEAK flag), none for
 *           an ALLOW match; bot_agent; head_request (method HEAD or OPTIONS);
 *           honeypot (the link is a configured honeypot). The provider of the
 *           matching range, whatever its flags, goes into the verdict.
 * double    y repeats x when both have the same link, client, user agent and
 *           method and no more than D apart. A double-click group is a chain
 *           of such repeats: each within D of the previous same-key click.
 *           (Method too: a person's second click is the same request; a GET
 *           next to a HEAD from one client is a probe, not a double click.)
 * burst     x is in a burst when another click of its pair that is not in
 *           x's double-click group lies within B of x (inclusive), whatever
 *           its source or verdict. Equivalently: x is not in a burst iff
 *           every click of the pair in [x-B, x+B] shares x's group key and no
 *           two neighbours there are more than D apart. Each click is judged
 *           on its own neighbourhood: a double click followed 1.6 s after
 *           the repeat (2.5 s after the first) by another link leaves the
 *           first human and makes the repeat and the other link machine.
 * final     x is final when event time T (the latest timestamp fed or
 *           advanced to) passes x + B + R, strictly; or at finish, or when
 *           its pair is evicted. Clicks become final in (timestamp, content
 *           hash) order, so everything before x in its pair is decided
 *           first.
 * window    when a click becomes final with verdict human or suspect and
 *           its pair has no window covering its timestamp (none yet, or
 *           x > F + M), it opens one: F = x. Machine clicks (range, agent,
 *           head, honeypot, burst, multi_ip) open none, so a pre-scan leaves
 *           the person's later click human. Re-clicks by F's client neither
 *           extend nor reopen the window.
 * multi_ip  x is multi_ip when its pair's window has F < x <= F + M and x's
 *           client differs from F's (another family is another client).
 * learned   with cfg.learned: a click whose client it holds, unexpired at
 *           the click's time, gets learned_range unless its range is
 *           allow-listed; provider: the matching range's, else "learned".
 *           Every verdict is shown to it once emitted (see learned.h).
 *           Verdicts come out in time order, so an entry applies to the
 *           clicks judged after the conviction that made it.
 * verdict   machine when any of scanner_range, burst, multi_ip, bot_agent,
 *           head_request, honeypot, learned_range; else suspect when
 *           weak_range; else human. Reasons list every rule that fired
 *           (weak + burst: machine with both reasons).
 * late      a click older than T - R when fed. Clicks up to R out of order
 *           get exactly the verdicts of in-order input (every click within B
 *           of them is still pending, and windows are decided in timestamp
 *           order). A late click is counted and judged at once, against
 *           what its pair still holds: burst against the pair's pending
 *           clicks (and the final ones they still need), multi_ip against
 *           the pair's window, opening one under the same rule. It is then
 *           held as a final neighbour for the pair's pending clicks.
 * expiry    a pair's state is dropped as soon as no in-order click can use
 *           it: no pending click and no window reaching T - R. Beyond
 *           max_pairs (0 = no cap) the least recently fed pair is evicted:
 *           its pending clicks are judged at once (out of timestamp order)
 *           and it starts afresh if clicked again.
 *
 * Verdicts come out through the callback, exactly once per click, with the
 * click's strings valid during the call. The callback must not call back
 * into the classifier.
 */
#include "verdicts.h"
#include "bytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agents.h"
#include "clicksieve_abi.h"
#include "learned.h"
#include "ranges.h"

#define NIL UINT32_MAX
#define INLINE_CLICKS 2                 /* timeline entries held in the pair itself */
#define RING_SHIFT_MAX 64               /* pending clicks passed by an insertion into the ring */
#define PENDING_BLOCK 512               /* bytes of a recycled pending-click block */
#define AGENT_MEMO_SLOTS 4096           /* user agents whose pattern match is remembered */

#define MACHINE_REASONS (CS_R_SCANNER_RANGE | CS_R_BURST | CS_R_MULTI_IP | CS_R_BOT_AGENT | \
			 CS_R_HEAD_REQUEST | CS_R_HONEYPOT | CS_R_LEARNED_RANGE)
/* Not a reason: marks an allow-listed client's evidence until its verdict. */
#define ALLOWED (1u << 31)

/* A click awaiting its final verdict, with its own copy of the strings. */
struct pending_click {
	uint64_t ts_us;
	uint64_t group_key;             /* link, client, agent, method */
	uint32_t pair;                  /* NIL once judged early (pair evicted) */
	uint32_t evidence;              /* reasons known from the click alone */
	uint32_t size;                  /* bytes allocated, for the stats */
	const char *provider;
	struct cs_addr client;
	struct cs_addr client_key;
	char method[CS_METHOD_LEN];
	uint64_t line;
	const char *file, *message, *recipient, *link, *user_agent;
	char text[];
};

/* One click in its pair's timeline, sorted by timestamp. */
struct pair_click {
	uint64_t ts_us;
	uint64_t group_key;
	struct pending_click *pending;  /* NULL once final */
};

struct pair {
	uint64_t key[2];
	uint64_t window_start_us;       /* F */
	struct cs_addr window_client;
	bool has_window;
	bool queued;                    /* has an expiry entry */
	uint32_t lru_prev, lru_next;    /* lru_next links free slots too */
	uint32_t generation;            /* of the slot: tells stale expiry entries */
	uint32_t n_pending;
	uint32_t n_clicks, cap_clicks;  /* the timeline, only while clicks are pending */
	union {
		struct pair_click *heap;                /* cap_clicks > INLINE_CLICKS */
		struct pair_click inline_clicks[INLINE_CLICKS];
	} timeline;
};

/* Pending ring or heap entry: keys inline, so that ordering touches only the queue. */
struct pending_ref {
	uint64_t ts_us;
	uint64_t order;                 /* tie-break between equal timestamps */
	struct pending_click *pc;
};

/* Expiry heap entry; stale once the slot's generation moved on. */
struct expiry_ref {
	uint64_t end_us;
	uint32_t pair;
	uint32_t generation;
};

struct table_slot {
	uint32_t tag;
	uint32_t pair;                  /* NIL = empty */
};

/*
 * A user agent's pattern match, by the agent's 128-bit hash: logs repeat a
 * few thousand agents, and hashing is far cheaper than matching.
 */
struct agent_memo {
	uint64_t hash[2];
	bool known;
	bool bot;
};

/* What the classifier learns about a click before looking at its pair. */
struct click_facts {
	uint64_t pair_key[2];
	uint64_t group_key;
	struct cs_addr client_key;
	uint32_t evidence;
	const char *provider;
	const char *message, *recipient, *link, *user_agent;
	size_t message_len, recipient_len, link_len, user_agent_len;
};

struct cs_classifier {
	struct cs_classifier_config cfg;
	char **honeypots;               /* own copies */
	size_t *honeypot_lens;
	struct agent_memo *agent_memo;  /* AGENT_MEMO_SLOTS, direct-mapped; NULL without agents */
	uint64_t final_delay_us;        /* B + R, saturated */
	cs_verdict_fn fn;
	void *ctx;
	uint64_t now_us;                /* T */

	struct pair *pairs;
	uint32_t cap_pairs, used_pairs, free_pairs;
	uint32_t lru_head, lru_tail;

	struct table_slot *table;
	size_t table_mask;

	struct expiry_ref *expiry;      /* min-heap of pairs by window end */
	size_t n_expiry, cap_expiry;

	/* Pending clicks by (ts, order): arrivals in order queue in a ring, the rest in a heap. */
	struct pending_ref *ring;
	size_t ring_head, ring_len, ring_cap;   /* ring_cap: power of two */
	struct pending_ref *pending;
	size_t n_pending, cap_pending;

	uint64_t clicks_bytes;          /* pair timelines */
	uint64_t pending_bytes;         /* pending clicks */
	void *spare;                    /* recycled pending-click blocks, linked through their first word */
	struct cs_classifier_stats stats;
};

static const char *const verdict_names[] = { "human", "machine", "suspect" };
static const char *const reason_names[CS_R_COUNT] = {
	"scanner_range", "weak_range", "burst", "multi_ip",
	"bot_agent", "head_request", "honeypot", "learned_range",
};

const char *cs_verdict_name(enum cs_verdict_kind k)
{
	return (unsigned)k < sizeof(verdict_names) / sizeof(verdict_names[0]) ?
	       verdict_names[k] : "unknown";
}

const char *cs_reason_name(unsigned bit_index)
{
	return bit_index < CS_R_COUNT ? reason_names[bit_index] : "unknown";
}

void cs_classifier_config_defaults(struct cs_classifier_config *cfg)
{
	*cfg = (struct cs_classifier_config){
		.burst_window_us = 2000000,
		.multi_ip_window_us = 600000000,
		.double_click_us = 1000000,
		.reorder_window_us = 5000000,
		.v4_client_prefix = 32,
		.v6_client_prefix = 64,
		.max_pairs = 1000000,
	};
}

/* ---- MurmurHash3 x64 128, streaming ---- */

/*
 * Inlined, so that the state stays in registers across the few fields of
 * a key. The tail collects bytes in two little-endian words, zero past
 * tail_len: bytes stored one by one and then loaded as a word would stall
 * store forwarding.
 */
struct hasher {
	uint64_t h1, h2;
	uint64_t total;
	uint64_t tail[2];
	unsigned tail_len;
};

static inline uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

#define MM_C1 0x87c37b91114253d5ULL
#define MM_C2 0x4cf5ad432745937fULL

static inline void mm_block(struct hasher *h, uint64_t k1, uint64_t k2)
{
	k1 *= MM_C1;
	k1 = rotl64(k1, 31);
	k1 *= MM_C2;
	h->h1 ^= k1;
	h->h1 = rotl64(h->h1, 27);
	h->h1 += h->h2;
	h->h1 = h->h1 * 5 + 0x52dce729;
	k2 *= MM_C2;
	k2 = rotl64(k2, 33);
	k2 *= MM_C1;
	h->h2 ^= k2;
	h->h2 = rotl64(h->h2, 31);
	h->h2 += h->h1;
	h->h2 = h->h2 * 5 + 0x38495ab5;
}

/*
 * Adds the n (1..8) low bytes of v, little-endian (higher bytes zero) to
 * the tail, mixing in a block when it fills. Shifts in registers only.
 */
static inline __attribute__((always_inline)) void tail_add(struct hasher *h, uint64_t v,
							   unsigned n)
{
	unsigned shift = 8 * (h->tail_len & 7);
	uint64_t spill = shift ? v >> (64 - shift) : 0;

	if (h->tail_len < 8) {
		h->tail[0] |= v << shift;
		h->tail[1] = spill;
		h->tail_len += n;
		return;
	}
	/* spill is zero unless the tail fills */
	h->tail[1] |= v << shift;
	h->tail_len += n;
	if (h->tail_len < 16)
		return;
	mm_block(h, h->tail[0], h->tail[1]);
	h->tail[0] = spill;
	h->tail[1] = 0;
	h->tail_len -= 16;
}

static inline __attribute__((always_inline)) void hash_bytes(struct hasher *h, const void *data,
							     size_t len)
{
	const uint8_t *p = data, *end = p + len;

	h->total += len;
	/* after a length prefix: its word and the first 8 bytes make a block */
	if (h->tail_len == 8 && end - p >= 8) {
		mm_block(h, h->tail[0], cs_load_le64(p));
		p += 8;
		h->tail[0] = h->tail[1] = 0;
		h->tail_len = 0;
	}
	if (h->tail_len == 0)
		for (; end - p >= 16; p += 16)
			mm_block(h, cs_load_le64(p), cs_load_le64(p + 8));
	for (; end - p >= 8; p += 8)
		tail_add(h, cs_load_le64(p), 8);
	if (p < end) {
		unsigned n = (unsigned)(end - p);
		uint64_t v;

		if (len >= 8) {
			/* the last 8 bytes, shifted down past those already added */
			v = cs_load_le64(end - 8) >> (8 * (8 - n));
		} else if (n >= 4) {
			/* two overlapping words: the shared bytes land on themselves */
			v = cs_load_le32(p) | (uint64_t)cs_load_le32(end - 4) << (8 * (n - 4));
		} else {
			v = p[0] | (uint64_t)p[n / 2] << (8 * (n / 2)) |
			    (uint64_t)p[n - 1] << (8 * (n - 1));
		}
		tail_add(h, v, n);
	}
}

/* hash_bytes() of the 8 little-endian bytes of v. */
static inline __attribute__((always_inline)) void hash_u64(struct hasher *h, uint64_t v)
{
	h->total += 8;
	tail_add(h, v, 8);
}

/* Length-prefixed, so that the concatenation of fields stays injective. */
static inline __attribute__((always_inline)) void hash_string(struct hasher *h, const char *s,
							      uint64_t len)
{
	hash_u64(h, len);
	hash_bytes(h, s, len);
}

static inline __attribute__((always_inline)) void hash_final(struct hasher *h, uint64_t out[2])
{
	uint64_t k1 = h->tail[0], k2 = h->tail[1];

	if (h->tail_len > 8) {
		k2 *= MM_C2;
		k2 = rotl64(k2, 33);
		k2 *= MM_C1;
		h->h2 ^= k2;
	}
	if (h->tail_len > 0) {
		k1 *= MM_C1;
		k1 = rotl64(k1, 31);
		k1 *= MM_C2;
		h->h1 ^= k1;
	}
	h->h1 ^= h->total;
	h->h2 ^= h->total;
	h->h1 += h->h2;
	h->h2 += h->h1;
	h->h1 = fmix64(h->h1);
	h->h2 = fmix64(h->h2);
	h->h1 += h->h2;
	h->h2 += h->h1;
	out[0] = h->h1;
	out[1] = h->h2;
}

/* ---- what a click shows on its own ---- */

static const char *nonempty(const char *s)
{
	return s ? s : "";
}

/* name is a literal: its bytes and NUL compare as one inlined memcmp */
#define method_is(k, name) (memcmp((k)->method, name, sizeof(name)) == 0)

static bool bot_agent(struct cs_classifier *c, const char *agent, const uint64_t hash[2])
{
	struct agent_memo *m = &c->agent_memo[hash[0] & (AGENT_MEMO_SLOTS - 1)];

	if (!m->known || m->hash[0] != hash[0] || m->hash[1] != hash[1]) {
		m->hash[0] = hash[0];
		m->hash[1] = hash[1];
		m->known = true;
		m->bot = cs_agents_match(c->cfg.agents, agent);
	}
	return m->bot;
}

/* The range holding a: flags and provider name (NULL when unnamed). */
static bool range_of(const struct cs_classifier_config *cfg, const struct cs_addr *a,
		     uint16_t *flags, const char **provider)
{
	const struct cs_range *r;
	const char *name;

	if (cfg->range_lookup)
		return cfg->range_lookup(cfg->range_lookup_ctx, a, flags, provider);
	if (!cfg->ranges || !(r = cs_ranges_lookup(cfg->ranges, a)))
		return false;
	name = cs_ranges_provider_name(cfg->ranges, r->provider_id);
	*flags = r->flags;
	*provider = name && *name ? name : NULL;
	return true;
}

static void examine(struct cs_classifier *c, const struct cs_click *k, struct click_facts *f)
{
	const struct cs_classifier_config *cfg = &c->cfg;
	struct cs_addr client = k->client;
	uint16_t range_flags = 0;
	struct hasher h = { 0 };
	uint64_t agent_hash[2], group[2];
	size_t i;

	f->message = nonempty(k->message);
	f->recipient = nonempty(k->recipient);
	f->link = nonempty(k->link);
	f->user_agent = nonempty(k->user_agent);
	f->message_len = cs_click_strlen(k->message, k->message_len);
	f->recipient_len = cs_click_strlen(k->recipient, k->recipient_len);
	f->link_len = cs_click_strlen(k->link, k->link_len);
	f->user_agent_len = cs_click_strlen(k->user_agent, k->user_agent_len);

	hash_string(&h, f->message, f->message_len);
	hash_bytes(&h, f->recipient, f->recipient_len);
	hash_final(&h, f->pair_key);

	/* ranges and client prefixes are per family: ::ffff:a.b.c.d is IPv4 */
	cs_addr_unmap(&client);
	f->client_key = client;
	cs_addr_mask(&f->client_key, client.family == 4 ? cfg->v4_client_prefix :
							  cfg->v6_client_prefix);
	h = (struct hasher){ 0 };
	hash_bytes(&h, f->user_agent, f->user_agent_len);
	hash_final(&h, agent_hash);
	h = (struct hasher){ 0 };
	hash_string(&h, f->link, f->link_len);
	hash_u64(&h, agent_hash[0]);
	hash_u64(&h, agent_hash[1]);
	hash_bytes(&h, k->method, cs_click_method_len(k->method));
	/* the bytes of struct cs_addr: family, then the address */
	hash_bytes(&h, &f->client_key.family, 1);
	hash_u64(&h, cs_load_le64(f->client_key.bytes));
	hash_u64(&h, cs_load_le64(f->client_key.bytes + 8));
	hash_final(&h, group);
	f->group_key = group[0];

	f->evidence = 0;
	f->provider = NULL;
	if (client.family && range_of(cfg, &client, &range_flags, &f->provider)) {
		if (range_flags & CS_RANGE_ALLOW)
			f->evidence |= ALLOWED; /* no range evidence */
		else if (range_flags & CS_RANGE_WEAK)
			f->evidence |= CS_R_WEAK_RANGE;
		else
			f->evidence |= CS_R_SCANNER_RANGE;
	}
	if (cfg->agents && bot_agent(c, f->user_agent, agent_hash))
		f->evidence |= CS_R_BOT_AGENT;
	if (method_is(k, "HEAD") || method_is(k, "OPTIONS"))
		f->evidence |= CS_R_HEAD_REQUEST;
	for (i = 0; i < c->cfg.n_honeypot_links; i++) {
		if (f->link_len == c->honeypot_lens[i] &&
		    memcmp(f->link, c->honeypots[i], f->link_len) == 0) {
			f->evidence |= CS_R_HONEYPOT;
			break;
		}
	}
}

/* ---- pair timelines ---- */

static struct pair_click *timeline(struct pair *p)
{
	return p->cap_clicks > INLINE_CLICKS ? p->timeline.heap : p->timeline.inline_clicks;
}

static void timeline_free(struct cs_classifier *c, struct pair *p)
{
	if (p->cap_clicks > INLINE_CLICKS) {
		c->clicks_bytes -= (uint64_t)p->cap_clicks * sizeof(*p->timeline.heap);
		free(p->timeline.heap);
	}
	p->n_clicks = 0;
	p->cap_clicks = INLINE_CLICKS;
}

/* Adds a click to the pair's timeline; returns its index, or -1. */
static long timeline_insert(struct cs_classifier *c, struct pair *p, uint64_t ts,
			    uint64_t group_key, struct pending_click *pc)
{
	struct pair_click *e = timeline(p);
	uint32_t i;

	if (p->n_clicks == p->cap_clicks) {
		uint32_t cap = 2 * p->cap_clicks;
		struct pair_click *grown;

		if (p->cap_clicks > INLINE_CLICKS) {
			grown = realloc(e, cap * sizeof(*grown));
			if (!grown)
				return -1;
			c->clicks_bytes += (uint64_t)(cap - p->cap_clicks) * sizeof(*grown);
		} else {
			grown = malloc(cap * sizeof(*grown));
			if (!grown)
				return -1;
			memcpy(grown, e, p->n_clicks * sizeof(*grown));
			c->clicks_bytes += (uint64_t)cap * sizeof(*grown);
		}
		p->timeline.heap = e = grown;
		p->cap_clicks = cap;
	}
	for (i = p->n_clicks; i > 0 && e[i - 1].ts_us > ts; i--)
		e[i] = e[i - 1];
	e[i] = (struct pair_click){ .ts_us = ts, .group_key = group_key, .pending = pc };
	p->n_clicks++;
	return i;
}

/* ---- verdicts ---- */

static void emit(struct cs_classifier *c, const struct cs_click *k, const struct cs_verdict *v)
{
	c->stats.verdicts[v->kind]++;
	for (uint32_t r = v->reasons & ((1u << CS_R_COUNT) - 1); r; r &= r - 1)
		c->stats.reasons[__builtin_ctz(r)]++;
	c->fn(c->ctx, k, v);
	if (c->cfg.learned)
		cs_learned_observe(c->cfg.learned, k, v);
}

static void emit_pending(struct cs_classifier *c, const struct pending_click *pc,
			 const struct cs_verdict *v)
{
	/* the strings lie back to back in pc->text, each with its NUL */
	const char *text_end = pc->file ? pc->file : (const char *)pc + pc->size;
	struct cs_click k = {
		.ts_us = pc->ts_us,
		.client = pc->client,
		.message = pc->message,
		.recipient = pc->recipient,
		.link = pc->link,
		.user_agent = pc->user_agent,
		.message_len = (size_t)(pc->recipient - pc->message - 1),
		.recipient_len = (size_t)(pc->link - pc->recipient - 1),
		.link_len = (size_t)(pc->user_agent - pc->link - 1),
		.user_agent_len = (size_t)(text_end - pc->user_agent - 1),
		.pos = { .file = pc->file, .line = pc->line,
			 .file_len = pc->file ? (size_t)((const char *)pc + pc->size - pc->file - 1) : 0 },
	};

	memcpy(k.method, pc->method, sizeof(k.method));
	emit(c, &k, v);
}

static struct cs_verdict verdict_of(uint32_t reasons, const char *provider)
{
	struct cs_verdict v = { .kind = CS_HUMAN, .reasons = reasons & ~ALLOWED,
				.provider = provider, .allowed = reasons & ALLOWED };

	if (reasons & MACHINE_REASONS)
		v.kind = CS_MACHINE;
	else if (reasons & CS_R_WEAK_RANGE)
		v.kind = CS_SUSPECT;
	return v;
}

/* Burst test for the click at index i of its pair's timeline (see top). */
static bool in_burst(const struct cs_classifier *c, struct pair *p, size_t i)
{
	const struct pair_click *e = timeline(p);
	uint64_t burst = c->cfg.burst_window_us, dbl = c->cfg.double_click_us;
	uint64_t key = e[i].group_key;
	size_t j;

	for (j = i; j-- > 0;) {
		if (e[i].ts_us - e[j].ts_us > burst)
			break;
		if (e[j].group_key != key || e[j + 1].ts_us - e[j].ts_us > dbl)
			return true;
	}
	for (j = i + 1; j < p->n_clicks; j++) {
		if (e[j].ts_us - e[i].ts_us > burst)
			break;
		if (e[j].group_key != key || e[j].ts_us - e[j - 1].ts_us > dbl)
			return true;
	}
	return false;
}

/* Applies the pair rules to a click and moves the pair's window. */
static struct cs_verdict judge(struct cs_classifier *c, struct pair *p, bool burst, uint64_t ts,
			       const struct cs_addr *client_key, uint32_t evidence,
			       const char *provider)
{
	uint64_t window_end = cs_add_sat(p->window_start_us, c->cfg.multi_ip_window_us);
	bool window_covers = p->has_window && ts > p->window_start_us && ts <= window_end;
	struct cs_verdict v;

	if (burst)
		evidence |= CS_R_BURST;
	if (window_covers && !cs_addr_equal(client_key, &p->window_client))
		evidence |= CS_R_MULTI_IP;
	if (c->cfg.learned && !(evidence & ALLOWED) &&
	    cs_learned_lookup(c->cfg.learned, client_key, ts)) {
		evidence |= CS_R_LEARNED_RANGE;
		if (!provider)
			provider = CS_LEARNED_PROVIDER;
	}
	v = verdict_of(evidence, provider);
	if (v.kind != CS_MACHINE && (!p->has_window || ts > window_end)) {
		p->has_window = true;
		p->window_start_us = ts;
		p->window_client = *client_key;
	}
	return v;
}

/* ---- pending heap: (ts, order) ---- */

static bool pending_before(const struct pending_ref *a, const struct pending_ref *b)
{
	return a->ts_us < b->ts_us || (a->ts_us == b->ts_us && a->order < b->order);
}

static size_t pending_count(const struct cs_classifier *c)
{
	return c->ring_len + c->n_pending;
}

/* The earliest pending click; pending_count() must be non-zero. */
static const struct pending_ref *pending_peek(const struct cs_classifier *c)
{
	const struct pending_ref *ring = c->ring_len ? &c->ring[c->ring_head] : NULL;

	if (!c->n_pending || (ring && pending_before(ring, &c->pending[0])))
		return ring;
	return &c->pending[0];
}

static int ring_grow(struct cs_classifier *c)
{
	size_t cap = c->ring_cap ? 2 * c->ring_cap : 1024, i;
	struct pending_ref *ring = malloc(cap * sizeof(*ring));

	if (!ring)
		return -1;
	for (i = 0; i < c->ring_len; i++)
		ring[i] = c->ring[(c->ring_head + i) & (c->ring_cap - 1)];
	free(c->ring);
	c->ring = ring;
	c->ring_cap = cap;
	c->ring_head = 0;
	return 0;
}

static int pending_push(struct cs_classifier *c, struct pending_click *pc, uint64_t order)
{
	struct pending_ref ref = { .ts_us = pc->ts_us, .order = order, .pc = pc };
	size_t pos, mask, back;

	/* Slightly out of order: insertion into the ring; far: the heap. */
	mask = c->ring_cap - 1;
	for (back = 0; back < c->ring_len && back < RING_SHIFT_MAX; back++) {
		if (!pending_before(&ref, &c->ring[(c->ring_head + c->ring_len - 1 - back) & mask]))
			break;
	}
	if (back == c->ring_len || back < RING_SHIFT_MAX) {
		if (c->ring_len == c->ring_cap && ring_grow(c))
			return -1;
		mask = c->ring_cap - 1;
		for (pos = c->ring_len; pos > c->ring_len - back; pos--)
			c->ring[(c->ring_head + pos) & mask] = c->ring[(c->ring_head + pos - 1) & mask];
		c->ring[(c->ring_head + pos) & mask] = ref;
		c->ring_len++;
		return 0;
	}
	if (c->n_pending == c->cap_pending) {
		size_t cap = c->cap_pending ? 2 * c->cap_pending : 256;
		struct pending_ref *grown = realloc(c->pending, cap * sizeof(*grown));

		if (!grown)
			return -1;
		c->pending = grown;
		c->cap_pending = cap;
	}
	for (pos = c->n_pending++; pos > 0 && pending_before(&ref, &c->pending[(pos - 1) / 2]);
	     pos = (pos - 1) / 2)
		c->pending[pos] = c->pending[(pos - 1) / 2];
	c->pending[pos] = ref;
	return 0;
}

static struct pending_click *pending_pop(struct cs_classifier *c)
{
	struct pending_click *top;
	struct pending_ref last;
	size_t pos = 0;

	if (pending_peek(c) != c->pending) {
		top = c->ring[c->ring_head].pc;
		c->ring_head = (c->ring_head + 1) & (c->ring_cap - 1);
		c->ring_len--;
		return top;
	}
	top = c->pending[0].pc;
	last = c->pending[--c->n_pending];

	for (;;) {
		size_t child = 2 * pos + 1;

		if (child >= c->n_pending)
			break;
		if (child + 1 < c->n_pending &&
		    pending_before(&c->pending[child + 1], &c->pending[child]))
			child++;
		if (!pending_before(&c->pending[child], &last))
			break;
		c->pending[pos] = c->pending[child];
		pos = child;
	}
	if (c->n_pending)
		c->pending[pos] = last;
	return top;
}

/*
 * Pending clicks that fit in PENDING_BLOCK bytes (nearly all) live in
 * blocks of that size that are recycled, not freed: one click in, one
 * out, and malloc() stays out of the way.
 */
static struct pending_click *pending_alloc(struct cs_classifier *c, size_t size)
{
	void *block = c->spare;

	if (size > PENDING_BLOCK)
		return malloc(size);
	if (!block)
		return malloc(PENDING_BLOCK);
	c->spare = *(void **)block;
	return block;
}

/* pc->size must be set. */
static void pending_release(struct cs_classifier *c, struct pending_click *pc)
{
	if (pc->size > PENDING_BLOCK) {
		free(pc);
		return;
	}
	*(void **)pc = c->spare;
	c->spare = pc;
}

static void pending_free(struct cs_classifier *c, struct pending_click *pc)
{
	c->pending_bytes -= pc->size;
	pending_release(c, pc);
}

/* ---- expiry heap: pairs without pending clicks, by window end ---- */

static uint64_t window_end(const struct cs_classifier *c, const struct pair *p)
{
	return cs_add_sat(p->window_start_us, c->cfg.multi_ip_window_us);
}

static int expiry_push(struct cs_classifier *c, uint32_t pi)
{
	struct expiry_ref ref = {
		.end_us = window_end(c, &c->pairs[pi]),
		.pair = pi,
		.generation = c->pairs[pi].generation,
	};
	size_t pos;

	if (c->n_expiry == c->cap_expiry) {
		size_t cap = c->cap_expiry ? 2 * c->cap_expiry : 1024;
		struct expiry_ref *grown = realloc(c->expiry, cap * sizeof(*grown));

		if (!grown)
			return -1;
		c->expiry = grown;
		c->cap_expiry = cap;
	}
	for (pos = c->n_expiry++; pos > 0 && ref.end_us < c->expiry[(pos - 1) / 2].end_us;
	     pos = (pos - 1) / 2)
		c->expiry[pos] = c->expiry[(pos - 1) / 2];
	c->expiry[pos] = ref;
	return 0;
}

static struct expiry_ref expiry_pop(struct cs_classifier *c)
{
	struct expiry_ref top = c->expiry[0], last = c->expiry[--c->n_expiry];
	size_t pos = 0;

	for (;;) {
		size_t child = 2 * pos + 1;

		if (child >= c->n_expiry)
			break;
		if (child + 1 < c->n_expiry && c->expiry[child + 1].end_us < c->expiry[child].end_us)
			child++;
		if (c->expiry[child].end_us >= last.end_us)
			break;
		c->expiry[pos] = c->expiry[child];
		pos = child;
	}
	if (c->n_expiry)
		c->expiry[pos] = last;
	return top;
}

/* ---- pair table, slots and LRU ---- */

static size_t table_find(const struct cs_classifier *c, const uint64_t key[2])
{
	size_t pos = key[0] & c->table_mask;
	uint32_t tag = (uint32_t)key[1];

	for (;; pos = (pos + 1) & c->table_mask) {
		const struct table_slot *s = &c->table[pos];

		if (s->pair == NIL)
			return pos;
		if (s->tag == tag && c->pairs[s->pair].key[0] == key[0] &&
		    c->pairs[s->pair].key[1] == key[1])
			return pos;
	}
}

static int table_grow(struct cs_classifier *c)
{
	size_t old_size = c->table_mask + 1, size = 2 * old_size, i;
	struct table_slot *old = c->table, *t = malloc(size * sizeof(*t));

	if (!t)
		return -1;
	for (i = 0; i < size; i++)
		t[i].pair = NIL;
	c->table = t;
	c->table_mask = size - 1;
	for (i = 0; i < old_size; i++) {
		if (old[i].pair != NIL)
			c->table[table_find(c, c->pairs[old[i].pair].key)] = old[i];
	}
	free(old);
	return 0;
}

/* Linear probing with backward-shift deletion: no tombstones. */
static void table_remove(struct cs_classifier *c, size_t hole)
{
	size_t mask = c->table_mask, j;

	for (j = (hole + 1) & mask; c->table[j].pair != NIL; j = (j + 1) & mask) {
		size_t home = c->pairs[c->table[j].pair].key[0] & mask;

		if (((j - home) & mask) >= ((j - hole) & mask)) {
			c->table[hole] = c->table[j];
			hole = j;
		}
	}
	c->table[hole].pair = NIL;
}

static void lru_unlink(struct cs_classifier *c, uint32_t pi)
{
	struct pair *p = &c->pairs[pi];

	if (p->lru_prev != NIL)
		c->pairs[p->lru_prev].lru_next = p->lru_next;
	else
		c->lru_head = p->lru_next;
	if (p->lru_next != NIL)
		c->pairs[p->lru_next].lru_prev = p->lru_prev;
	else
		c->lru_tail = p->lru_prev;
}

static void lru_push_front(struct cs_classifier *c, uint32_t pi)
{
	struct pair *p = &c->pairs[pi];

	p->lru_prev = NIL;
	p->lru_next = c->lru_head;
	if (c->lru_head != NIL)
		c->pairs[c->lru_head].lru_prev = pi;
	else
		c->lru_tail = pi;
	c->lru_head = pi;
}

static void pair_free(struct cs_classifier *c, uint32_t pi)
{
	struct pair *p = &c->pairs[pi];

	p->generation++;
	table_remove(c, table_find(c, p->key));
	lru_unlink(c, pi);
	timeline_free(c, p);
	p->lru_next = c->free_pairs;
	c->free_pairs = pi;
	c->stats.pairs_active--;
}

/* Makes room for one more pair slot. */
static int pairs_reserve(struct cs_classifier *c)
{
	struct pair *pairs;
	size_t cap;

	if (c->free_pairs != NIL || c->used_pairs < c->cap_pairs)
		return 0;
	if (c->cap_pairs == NIL - 1)
		return -1;
	cap = c->cap_pairs ? 2 * (size_t)c->cap_pairs : 1024;
	if (c->cfg.max_pairs && cap > c->cfg.max_pairs)
		cap = c->cfg.max_pairs;
	if (cap >= NIL)
		cap = NIL - 1;
	pairs = realloc(c->pairs, cap * sizeof(*pairs));
	if (!pairs)
		return -1;
	c->pairs = pairs;
	c->cap_pairs = (uint32_t)cap;
	return 0;
}

/*
 * Judges the evicted pair's pending clicks at once, then drops it. The
 * clicks stay in the pending heap, marked, until their turn comes.
 */
static void pair_evict(struct cs_classifier *c, uint32_t pi)
{
	struct pair *p = &c->pairs[pi];
	struct pair_click *e = timeline(p);
	uint32_t i;

	for (i = 0; i < p->n_clicks; i++) {
		struct pending_click *pc = e[i].pending;
		struct cs_verdict v;

		if (!pc)
			continue;
		v = judge(c, p, in_burst(c, p, i), pc->ts_us, &pc->client_key, pc->evidence,
			  pc->provider);
		e[i].pending = NULL;
		p->n_pending--;
		c->stats.pending--;
		emit_pending(c, pc, &v);
		pc->pair = NIL;         /* freed when the heap reaches it */
	}
	pair_free(c, pi);
	c->stats.pairs_evicted++;
}

/* Finds or creates the pair's state; NIL when memory runs out. */
static uint32_t pair_get(struct cs_classifier *c, const uint64_t key[2])
{
	size_t pos = table_find(c, key);
	uint32_t pi = c->table[pos].pair;
	struct pair *p;

	if (pi != NIL) {
		lru_unlink(c, pi);
		lru_push_front(c, pi);
		return pi;
	}
	if (c->cfg.max_pairs && c->stats.pairs_active >= c->cfg.max_pairs)
		pair_evict(c, c->lru_tail);
	if (pairs_reserve(c))
		return NIL;
	if ((c->stats.pairs_active + 1) * 2 > c->table_mask + 1 && table_grow(c))
		return NIL;
	if (c->free_pairs != NIL) {
		pi = c->free_pairs;
		c->free_pairs = c->pairs[pi].lru_next;
	} else {
		pi = c->used_pairs++;
		c->pairs[pi].generation = 0;
	}
	/* field by field: a compound literal this size compiles to a slow "rep stos" */
	p = &c->pairs[pi];
	p->key[0] = key[0];
	p->key[1] = key[1];
	p->window_start_us = 0;
	memset(&p->window_client, 0, sizeof(p->window_client));
	p->has_window = false;
	p->queued = false;
	p->n_pending = 0;
	p->n_clicks = 0;
	p->cap_clicks = INLINE_CLICKS;
	c->table[table_find(c, key)] = (struct table_slot){ .tag = (uint32_t)key[1], .pair = pi };
	lru_push_front(c, pi);
	c->stats.pairs_active++;
	return pi;
}

static bool passed(const struct cs_classifier *c, uint64_t end_us)
{
	uint64_t watermark = c->now_us > c->cfg.reorder_window_us ?
			     c->now_us - c->cfg.reorder_window_us : 0;

	return end_us < watermark;
}

/*
 * After a click of the pair became final: forget what no pending click
 * needs, and drop the pair once no in-order click can use it.
 */
static void pair_settle(struct cs_classifier *c, uint32_t pi)
{
	struct pair *p = &c->pairs[pi];

	if (p->n_pending > 0) {
		struct pair_click *e = timeline(p);
		uint32_t first = 0, drop = 0;

		while (!e[first].pending)
			first++;
		while (drop < first && e[drop].ts_us + c->cfg.burst_window_us < e[first].ts_us)
			drop++;
		if (drop) {
			p->n_clicks -= drop;
			memmove(e, e + drop, p->n_clicks * sizeof(*e));
		}
		return;
	}
	timeline_free(c, p);
	if (p->has_window && !passed(c, window_end(c, p))) {
		if (p->queued)
			return;
		/* without an expiry entry the window cannot be kept */
		if (expiry_push(c, pi) == 0) {
			p->queued = true;
			return;
		}
	}
	pair_free(c, pi);
	c->stats.pairs_expired++;
}

static void finalize(struct cs_classifier *c, struct pending_click *pc)
{
	uint32_t pi = pc->pair;
	struct pair_click *e;
	struct pair *p;
	struct cs_verdict v;
	uint32_t lo = 0, hi, i;

	if (pi == NIL) {
		pending_free(c, pc);
		return;
	}
	p = &c->pairs[pi];
	e = timeline(p);
	hi = p->n_clicks;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (e[mid].ts_us < pc->ts_us)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; e[i].pending != pc; i++)
		;
	v = judge(c, p, in_burst(c, p, i), pc->ts_us, &pc->client_key, pc->evidence,
		  pc->provider);
	e[i].pending = NULL;
	p->n_pending--;
	c->stats.pending--;
	emit_pending(c, pc, &v);
	pending_free(c, pc);
	pair_settle(c, pi);
}

static bool is_final(const struct cs_classifier *c, uint64_t ts)
{
	return c->now_us > ts && c->now_us - ts > c->final_delay_us;
}

/*
 * Finalizing is bound by memory latency (click, pair, timeline: three
 * misses). The ring holds the next clicks in order, so fetch ahead in
 * stages: the click 16 places on, the pair of the click 8 places on (its
 * click is in cache by now), the rest of the pair and its timeline 4
 * places on.
 * Inlined by force: GCC finds the function free of effects and drops calls.
 */
static inline __attribute__((always_inline)) void prefetch_ahead(const struct cs_classifier *c)
{
	size_t mask = c->ring_cap - 1;
	const struct pending_click *pc;

	if (c->ring_len > 16)
		__builtin_prefetch(c->ring[(c->ring_head + 16) & mask].pc);
	if (c->ring_len > 8) {
		pc = c->ring[(c->ring_head + 8) & mask].pc;
		if (pc->pair != NIL)
			__builtin_prefetch(&c->pairs[pc->pair]);
	}
	if (c->ring_len > 4) {
		pc = c->ring[(c->ring_head + 4) & mask].pc;
		if (pc->pair != NIL) {
			struct pair *p = &c->pairs[pc->pair];

			__builtin_prefetch((const char *)p + 64);
			if (p->cap_clicks > INLINE_CLICKS)
				__builtin_prefetch(p->timeline.heap);
		}
	}
}

static void advance_to(struct cs_classifier *c, uint64_t now)
{
	c->now_us = now;
	while (pending_count(c) && is_final(c, pending_peek(c)->ts_us)) {
		prefetch_ahead(c);
		finalize(c, pending_pop(c));
	}
	while (c->n_expiry && passed(c, c->expiry[0].end_us)) {
		struct expiry_ref ref = expiry_pop(c);
		struct pair *p = &c->pairs[ref.pair];

		if (p->generation != ref.generation)
			continue;
		/* the entry is re-made when the pending clicks are done */
		p->queued = false;
		if (p->n_pending == 0)
			pair_settle(c, ref.pair);
	}
}

/* Late clicks, and clicks that found no memory to wait in: judged at once. */
static void judge_now(struct cs_classifier *c, uint32_t pi, const struct cs_click *k,
		      const struct click_facts *f)
{
	struct cs_verdict v;
	struct pair *p;
	long i;

	if (pi == NIL) {
		v = verdict_of(f->evidence, f->provider);
		emit(c, k, &v);
		return;
	}
	p = &c->pairs[pi];
	i = timeline_insert(c, p, k->ts_us, f->group_key, NULL);
	v = judge(c, p, i >= 0 && in_burst(c, p, (size_t)i), k->ts_us, &f->client_key,
		  f->evidence, f->provider);
	emit(c, k, &v);
	pair_settle(c, pi);
}

static const char *copy_string(char **dst, const char *s, size_t len)
{
	char *at = *dst;

	memcpy(at, s, len);
	at[len] = '\0';
	*dst += len + 1;
	return at;
}

static struct pending_click *pending_new(struct cs_classifier *c, const struct cs_click *k,
					 const struct click_facts *f, uint32_t pi)
{
	size_t file_len = cs_click_strlen(k->pos.file, k->pos.file_len);
	size_t text = f->message_len + f->recipient_len + f->link_len + f->user_agent_len + 4 +
		      (k->pos.file ? file_len + 1 : 0);
	struct pending_click *pc = pending_alloc(c, sizeof(*pc) + text);
	char *at;

	if (!pc)
		return NULL;
	at = pc->text;
	/* every field is set: no compound literal, which would cost a "rep stos" */
	pc->ts_us = k->ts_us;
	pc->group_key = f->group_key;
	pc->pair = pi;
	pc->evidence = f->evidence;
	pc->size = (uint32_t)(sizeof(*pc) + text);
	pc->provider = f->provider;
	pc->client = k->client;
	pc->client_key = f->client_key;
	pc->line = k->pos.line;
	memcpy(pc->method, k->method, CS_METHOD_LEN);
	pc->method[CS_METHOD_LEN - 1] = '\0';
	pc->message = copy_string(&at, f->message, f->message_len);
	pc->recipient = copy_string(&at, f->recipient, f->recipient_len);
	pc->link = copy_string(&at, f->link, f->link_len);
	pc->user_agent = copy_string(&at, f->user_agent, f->user_agent_len);
	pc->file = k->pos.file ? copy_string(&at, k->pos.file, file_len) : NULL;
	return pc;
}

void cs_classifier_feed(struct cs_classifier *c, const struct cs_click *click)
{
	struct pending_click *pc = NULL;
	struct click_facts f;
	uint32_t pi;
	bool late;
	long i;

	c->stats.clicks++;
	if (click->ts_us > c->now_us)
		advance_to(c, click->ts_us);
	late = c->now_us - click->ts_us > c->cfg.reorder_window_us;
	if (late)
		c->stats.late_clicks++;
	examine(c, click, &f);
	pi = pair_get(c, f.pair_key);
	if (pi == NIL)
		goto no_memory;
	if (late)
		goto at_once;
	pc = pending_new(c, click, &f, pi);
	if (!pc)
		goto no_memory;
	i = timeline_insert(c, &c->pairs[pi], click->ts_us, f.group_key, pc);
	if (i < 0)
		goto no_memory;
	if (pending_push(c, pc, f.pair_key[1] ^ f.group_key)) {
		struct pair *p = &c->pairs[pi];
		struct pair_click *e = timeline(p);

		p->n_clicks--;
		memmove(e + i, e + i + 1, (p->n_clicks - (size_t)i) * sizeof(*e));
		goto no_memory;
	}
	c->pairs[pi].n_pending++;
	c->stats.pending++;
	c->pending_bytes += pc->size;
	return;

no_memory:
	if (pc)
		pending_release(c, pc);
	c->stats.unqueued++;
at_once:
	judge_now(c, pi, click, &f);
}

void cs_classifier_advance(struct cs_classifier *c, uint64_t now_us)
{
	if (now_us > c->now_us)
		advance_to(c, now_us);
}

void cs_classifier_finish(struct cs_classifier *c)
{
	while (pending_count(c))
		finalize(c, pending_pop(c));
}

void cs_classifier_get_stats(const struct cs_classifier *c, struct cs_classifier_stats *out)
{
	*out = c->stats;
	out->state_bytes = (uint64_t)c->cap_pairs * sizeof(*c->pairs) +
			   (c->table_mask + 1) * sizeof(*c->table) +
			   c->cap_expiry * sizeof(*c->expiry) + c->clicks_bytes;
	out->pending_bytes = c->pending_bytes + c->cap_pending * sizeof(*c->pending) +
			     c->ring_cap * sizeof(*c->ring);
}

struct cs_classifier *cs_classifier_new(const struct cs_classifier_config *cfg,
					cs_verdict_fn fn, void *ctx)
{
	struct cs_classifier *c;
	size_t i;

	if (!cfg || !fn || cfg->v4_client_prefix > 32 || cfg->v6_client_prefix > 128 ||
	    (cfg->n_honeypot_links && !cfg->honeypot_links)) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < cfg->n_honeypot_links; i++) {
		if (!cfg->honeypot_links[i]) {
			errno = EINVAL;
			return NULL;
		}
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	c->fn = fn;
	c->ctx = ctx;
	c->final_delay_us = cs_add_sat(cfg->burst_window_us, cfg->reorder_window_us);
	c->lru_head = c->lru_tail = c->free_pairs = NIL;
	c->table_mask = 1023;
	c->table = malloc((c->table_mask + 1) * sizeof(*c->table));
	c->honeypots = calloc(cfg->n_honeypot_links + 1, sizeof(*c->honeypots));
	c->honeypot_lens = calloc(cfg->n_honeypot_links + 1, sizeof(*c->honeypot_lens));
	if (cfg->agents)
		c->agent_memo = calloc(AGENT_MEMO_SLOTS, sizeof(*c->agent_memo));
	if (!c->table || !c->honeypots || !c->honeypot_lens || (cfg->agents && !c->agent_memo))
		goto fail;
	for (i = 0; i <= c->table_mask; i++)
		c->table[i].pair = NIL;
	for (i = 0; i < cfg->n_honeypot_links; i++) {
		c->honeypots[i] = strdup(cfg->honeypot_links[i]);
		if (!c->honeypots[i])
			goto fail;
		c->honeypot_lens[i] = strlen(c->honeypots[i]);
	}
	c->cfg.honeypot_links = (const char *const *)c->honeypots;
	return c;

fail:
	cs_classifier_free(c);
	errno = ENOMEM;
	return NULL;
}

/* Pending clicks are dropped without verdicts: call finish first. */
void cs_classifier_free(struct cs_classifier *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n_pending; i++)
		free(c->pending[i].pc);
	for (i = 0; i < c->ring_len; i++)
		free(c->ring[(c->ring_head + i) & (c->ring_cap - 1)].pc);
	free(c->ring);
	while (c->spare) {
		void *next = *(void **)c->spare;

		free(c->spare);
		c->spare = next;
	}
	for (i = 0; i < c->used_pairs; i++) {
		if (c->pairs[i].cap_clicks > INLINE_CLICKS)
			free(c->pairs[i].timeline.heap);
	}
	if (c->honeypots) {
		for (i = 0; i < c->cfg.n_honeypot_links; i++)
			free(c->honeypots[i]);
	}
	free(c->honeypots);
	free(c->honeypot_lens);
	free(c->agent_memo);
	free(c->pending);
	free(c->expiry);
	free(c->table);
	free(c->pairs);
	free(c);
}
