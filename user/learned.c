/*
 * Learned scanners (see learned.h for the rules).
 *
 * Two sets keyed by the masked client, each in an open-addressing table of
 * record indexes (linear probing, backward-shift deletion) over a record
 * array with a free list:
 *   suspects  clients with evidence, in an LRU list by latest conviction:
 *             the tail is the first to age out of the window or to give
 *             way at max_clients;
 *   entries   learned clients, in a min-heap by expiry: the top is the next
 *             to expire and the one evicted at max_entries.
 */
#include "learned.h"
#include "bytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

struct conviction {
	uint64_t recipient;             /* hash of the recipient id */
	uint64_t ts_us;                 /* latest conviction for it */
};

struct suspect {
	struct cs_addr client;          /* first: the tables key records by it */
	uint64_t last_us;
	uint32_t lru_prev, lru_next;    /* lru_next links free records too */
	uint32_t n;
	struct conviction convictions[];        /* threshold of them */
};

struct entry {
	struct cs_learned_entry e;      /* first: e.client is the key */
	uint32_t heap_pos;
	uint32_t next_free;
};

/* Record indexes by client; records start with their struct cs_addr. */
struct table {
	uint32_t *slots;                /* NIL = empty */
	size_t mask;
	size_t count;
};

struct cs_learned {
	struct cs_learned_config cfg;

	struct table suspect_table;
	unsigned char *suspects;        /* records of suspect_size bytes */
	size_t suspect_size;
	uint32_t suspects_used, suspects_cap, suspects_free;
	uint32_t lru_head, lru_tail;    /* head: latest conviction */

	struct table entry_table;
	struct entry *entries;
	uint32_t entries_used, entries_cap, entries_free;
	uint32_t *heap;                 /* entry indexes by expiry */

	struct cs_learned_stats stats;
};

void cs_learned_config_defaults(struct cs_learned_config *cfg)
{
	*cfg = (struct cs_learned_config){
		.enabled = true,
		.threshold = 3,
		.window_us = 3600ull * 1000000,
		.ttl_us = 7ull * 24 * 3600 * 1000000,
		.max_entries = 65536,
		.max_clients = 65536,
		.v4_prefix = 32,
		.v6_prefix = 64,
	};
}

static uint8_t prefix_of(const struct cs_learned *l, const struct cs_addr *a)
{
	return a->family == 4 ? l->cfg.v4_prefix : l->cfg.v6_prefix;
}

/* The classifier's client: IPv4-mapped IPv6 as IPv4, then masked. */
static struct cs_addr client_key(const struct cs_learned *l, const struct cs_addr *a)
{
	struct cs_addr k = *a;

	cs_addr_unmap(&k);
	if (k.family == 4 || k.family == 6)
		cs_addr_mask(&k, prefix_of(l, &k));
	return k;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t addr_hash(const struct cs_addr *a)
{
	uint64_t w[2];

	memcpy(w, a->bytes, sizeof(w));
	return mix64(w[0] ^ mix64(w[1] ^ a->family));
}

/* FNV-1a: recipient ids are short, and 64 bits make collisions moot. */
static uint64_t string_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* ---- tables ---- */

static const struct cs_addr *record_key(const void *base, size_t stride, uint32_t i)
{
	return (const struct cs_addr *)((const char *)base + (size_t)i * stride);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t table_find(const struct table *t, const void *base, size_t stride,
			 const struct cs_addr *key)
{
	size_t pos = addr_hash(key) & t->mask;

	for (;; pos = (pos + 1) & t->mask) {
		uint32_t i = t->slots[pos];

		if (i == NIL || cs_addr_equal(record_key(base, stride, i), key))
			return pos;
	}
}

static uint32_t table_get(const struct table *t, const void *base, size_t stride,
			  const struct cs_addr *key)
{
	return t->slots ? t->slots[table_find(t, base, stride, key)] : NIL;
}

/* Room for one more index at half load at most. */
static int table_reserve(struct table *t, const void *base, size_t stride)
{
	size_t size = t->slots ? 2 * (t->mask + 1) : 1024, i;
	struct table grown = { .mask = size - 1, .count = t->count };

	if (t->slots && (t->count + 1) * 2 <= t->mask + 1)
		return 0;
	grown.slots = malloc(size * sizeof(*grown.slots));
	if (!grown.slots)
		return -1;
	for (i = 0; i < size; i++)
		grown.slots[i] = NIL;
	for (i = 0; t->slots && i <= t->mask; i++) {
		if (t->slots[i] != NIL)
			grown.slots[table_find(&grown, base, stride,
					       record_key(base, stride, t->slots[i]))] = t->slots[i];
	}
	free(t->slots);
	*t = grown;
	return 0;
}

static void table_insert(struct table *t, const void *base, size_t stride, uint32_t i)
{
	t->slots[table_find(t, base, stride, record_key(base, stride, i))] = i;
	t->count++;
}

static void table_remove(struct table *t, const void *base, size_t stride,
			 const struct cs_addr *key)
{
	size_t hole = table_find(t, base, stride, key), j;

	for (j = (hole + 1) & t->mask; t->slots[j] != NIL; j = (j + 1) & t->mask) {
		size_t home = addr_hash(record_key(base, stride, t->slots[j])) & t->mask;

		if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
			t->slots[hole] = t->slots[j];
			hole = j;
		}
	}
	t->slots[hole] = NIL;
	t->count--;
}

/* ---- learned entries: heap by expiry ---- */

static void heap_set(struct cs_learned *l, size_t pos, uint32_t i)
{
	l->heap[pos] = i;
	l->entries[i].heap_pos = (uint32_t)pos;
}

static bool expires_before(const struct cs_learned *l, uint32_t a, uint32_t b)
{
	return l->entries[a].e.expiry_us < l->entries[b].e.expiry_us;
}

static void heap_up(struct cs_learned *l, size_t pos)
{
	uint32_t i = l->heap[pos];

	for (; pos > 0 && expires_before(l, i, l->heap[(pos - 1) / 2]); pos = (pos - 1) / 2)
		heap_set(l, pos, l->heap[(pos - 1) / 2]);
	heap_set(l, pos, i);
}

static void heap_down(struct cs_learned *l, size_t pos)
{
	size_t n = l->stats.active;
	uint32_t i = l->heap[pos];

	for (;;) {
		size_t child = 2 * pos + 1;

		if (child >= n)
			break;
		if (child + 1 < n && expires_before(l, l->heap[child + 1], l->heap[child]))
			child++;
		if (!expires_before(l, l->heap[child], i))
			break;
		heap_set(l, pos, l->heap[child]);
		pos = child;
	}
	heap_set(l, pos, i);
}

static void tell(struct cs_learned *l, enum cs_learned_change change, const struct entry *en)
{
	if (l->cfg.on_change)
		l->cfg.on_change(l->cfg.on_change_ctx, change, &en->e);
}

static void entry_remove(struct cs_learned *l, uint32_t i)
{
	struct entry *en = &l->entries[i];
	size_t pos = en->heap_pos, last = --l->stats.active;

	table_remove(&l->entry_table, l->entries, sizeof(*l->entries), &en->e.client);
	if (pos != last) {
		uint32_t moved = l->heap[last];

		heap_set(l, pos, moved);
		heap_down(l, pos);
		heap_up(l, l->entries[moved].heap_pos);
	}
	en->next_free = l->entries_free;
	l->entries_free = i;
}

/* A fresh entry record for e, making room by eviction; NIL when out of memory. */
static uint32_t entry_new(struct cs_learned *l, const struct cs_learned_entry *e)
{
	uint32_t i;

	if (l->stats.active >= l->cfg.max_entries) {
		tell(l, CS_LEARNED_EVICTED, &l->entries[l->heap[0]]);
		entry_remove(l, l->heap[0]);
		l->stats.evictions++;
	}
	if (table_reserve(&l->entry_table, l->entries, sizeof(*l->entries)))
		return NIL;
	if (l->entries_free != NIL) {
		i = l->entries_free;
		l->entries_free = l->entries[i].next_free;
	} else {
		if (l->entries_used == l->entries_cap) {
			uint32_t cap = l->entries_cap ? 2 * l->entries_cap : 256;
			struct entry *grown;
			uint32_t *heap;

			if (cap > l->cfg.max_entries)
				cap = l->cfg.max_entries;
			grown = realloc(l->entries, cap * sizeof(*grown));
			if (!grown)
				return NIL;
			l->entries = grown;
			heap = realloc(l->heap, cap * sizeof(*heap));
			if (!heap)
				return NIL;
			l->heap = heap;
			l->entries_cap = cap;
		}
		i = l->entries_used++;
	}
	l->entries[i].e = *e;
	table_insert(&l->entry_table, l->entries, sizeof(*l->entries), i);
	l->heap[l->stats.active] = i;
	heap_up(l, l->stats.active++);
	return i;
}

size_t cs_learned_expire(struct cs_learned *l, uint64_t now_us)
{
	size_t n = 0;

	while (l->stats.active && l->entries[l->heap[0]].e.expiry_us <= now_us) {
		tell(l, CS_LEARNED_EXPIRED, &l->entries[l->heap[0]]);
		entry_remove(l, l->heap[0]);
		l->stats.expiries++;
		n++;
	}
	return n;
}

/*
 * A conviction left the client with `evidence` distinct recipients in the
 * window; fresh: its recipient was not among those kept.
 */
static bool learn(struct cs_learned *l, const struct cs_addr *client, uint64_t ts,
		  uint32_t evidence, bool fresh)
{
	uint32_t i = table_get(&l->entry_table, l->entries, sizeof(*l->entries), client);
	uint64_t expiry = cs_add_sat(ts, l->cfg.ttl_us);
	struct entry *en;

	if (i == NIL) {
		struct cs_learned_entry e = {
			.client = *client, .expiry_us = expiry, .first_us = ts, .last_us = ts,
			.evidence = evidence, .prefixlen = prefix_of(l, client),
		};

		i = entry_new(l, &e);
		if (i == NIL)
			return false;
		l->stats.additions++;
		tell(l, CS_LEARNED_ADDED, &l->entries[i]);
		return true;
	}
	en = &l->entries[i];
	if (ts > en->e.last_us)
		en->e.last_us = ts;
	if (fresh && en->e.evidence < UINT32_MAX)
		en->e.evidence++;
	if (expiry > en->e.expiry_us) {
		en->e.expiry_us = expiry;
		heap_down(l, en->heap_pos);
	}
	l->stats.renewals++;
	tell(l, CS_LEARNED_RENEWED, en);
	return true;
}

/* ---- suspects: evidence per client ---- */

static struct suspect *suspect_at(const struct cs_learned *l, uint32_t i)
{
	return (struct suspect *)(l->suspects + (size_t)i * l->suspect_size);
}

static void lru_unlink(struct cs_learned *l, uint32_t i)
{
	struct suspect *s = suspect_at(l, i);

	if (s->lru_prev != NIL)
		suspect_at(l, s->lru_prev)->lru_next = s->lru_next;
	else
		l->lru_head = s->lru_next;
	if (s->lru_next != NIL)
		suspect_at(l, s->lru_next)->lru_prev = s->lru_prev;
	else
		l->lru_tail = s->lru_prev;
}

static void lru_push_front(struct cs_learned *l, uint32_t i)
{
	struct suspect *s = suspect_at(l, i);

	s->lru_prev = NIL;
	s->lru_next = l->lru_head;
	if (l->lru_head != NIL)
		suspect_at(l, l->lru_head)->lru_prev = i;
	else
		l->lru_tail = i;
	l->lru_head = i;
}

static void suspect_remove(struct cs_learned *l, uint32_t i)
{
	struct suspect *s = suspect_at(l, i);

	table_remove(&l->suspect_table, l->suspects, l->suspect_size, &s->client);
	lru_unlink(l, i);
	s->lru_next = l->suspects_free;
	l->suspects_free = i;
	l->stats.clients--;
}

/* The client's evidence record, made when missing; NIL when out of memory. */
static uint32_t suspect_get(struct cs_learned *l, const struct cs_addr *client)
{
	uint32_t i = table_get(&l->suspect_table, l->suspects, l->suspect_size, client);
	struct suspect *s;

	if (i != NIL) {
		lru_unlink(l, i);
		lru_push_front(l, i);
		return i;
	}
	if (l->stats.clients >= l->cfg.max_clients) {
		suspect_remove(l, l->lru_tail);
		l->stats.clients_evicted++;
	}
	if (table_reserve(&l->suspect_table, l->suspects, l->suspect_size))
		return NIL;
	if (l->suspects_free != NIL) {
		i = l->suspects_free;
		l->suspects_free = suspect_at(l, i)->lru_next;
	} else {
		if (l->suspects_used == l->suspects_cap) {
			uint32_t cap = l->suspects_cap ? 2 * l->suspects_cap : 256;
			unsigned char *grown;

			if (cap > l->cfg.max_clients)
				cap = l->cfg.max_clients;
			grown = realloc(l->suspects, cap * l->suspect_size);
			if (!grown)
				return NIL;
			l->suspects = grown;
			l->suspects_cap = cap;
		}
		i = l->suspects_used++;
	}
	s = suspect_at(l, i);
	s->client = *client;
	s->last_us = 0;
	s->n = 0;
	table_insert(&l->suspect_table, l->suspects, l->suspect_size, i);
	lru_push_front(l, i);
	l->stats.clients++;
	return i;
}

/*
 * Adds a conviction; returns the distinct recipients convicted in
 * (ts - window, ts], *fresh when this one was not among them before.
 */
static uint32_t convict(struct cs_learned *l, struct suspect *s, uint64_t recipient, uint64_t ts,
			bool *fresh)
{
	uint64_t window = l->cfg.window_us;
	uint32_t k, kept = 0, oldest = 0;
	bool found = false;

	/* Forget what aged out; the rest stays in order of arrival. */
	for (k = 0; k < s->n; k++) {
		struct conviction *c = &s->convictions[k];

		if (cs_add_sat(c->ts_us, window) <= ts)
			continue;
		if (c->recipient == recipient) {
			if (ts > c->ts_us)
				c->ts_us = ts;
			found = true;
		}
		s->convictions[kept++] = *c;
	}
	s->n = kept;
	if (!found) {
		if (s->n == l->cfg.threshold) {
			for (k = 1; k < s->n; k++)
				if (s->convictions[k].ts_us < s->convictions[oldest].ts_us)
					oldest = k;
			s->convictions[oldest] = (struct conviction){ recipient, ts };
		} else {
			s->convictions[s->n++] = (struct conviction){ recipient, ts };
		}
	}
	if (ts > s->last_us)
		s->last_us = ts;
	*fresh = !found;
	return s->n;
}

bool cs_learned_observe(struct cs_learned *l, const struct cs_click *click,
			const struct cs_verdict *verdict)
{
	struct cs_addr client;
	uint64_t ts = click->ts_us;
	uint32_t i, evidence;
	bool fresh;

	cs_learned_expire(l, ts);
	/* Suspects whose latest conviction left the window hold nothing. */
	while (l->lru_tail != NIL && cs_add_sat(suspect_at(l, l->lru_tail)->last_us, l->cfg.window_us) <= ts)
		suspect_remove(l, l->lru_tail);
	if (!(verdict->reasons & CS_R_BURST) ||
	    (verdict->reasons & CS_R_SCANNER_RANGE) || verdict->allowed)
		return false;
	client = client_key(l, &click->client);
	if (client.family != 4 && client.family != 6)
		return false;
	i = suspect_get(l, &client);
	if (i == NIL)
		return false;
	l->stats.convictions++;
	evidence = convict(l, suspect_at(l, i), string_hash(click->recipient), ts, &fresh);
	return evidence >= l->cfg.threshold && learn(l, &client, ts, evidence, fresh);
}

const struct cs_learned_entry *cs_learned_lookup(const struct cs_learned *l,
						 const struct cs_addr *client, uint64_t now_us)
{
	struct cs_addr key;
	uint32_t i;

	if (!l->stats.active)
		return NULL;
	key = client_key(l, client);
	i = table_get(&l->entry_table, l->entries, sizeof(*l->entries), &key);
	if (i == NIL || l->entries[i].e.expiry_us <= now_us)
		return NULL;
	return &l->entries[i].e;
}

int cs_learned_add(struct cs_learned *l, const struct cs_learned_entry *e)
{
	struct cs_learned_entry fresh = *e;
	struct entry *en;
	uint32_t i;

	if (e->client.family != 4 && e->client.family != 6) {
		errno = EINVAL;
		return -1;
	}
	fresh.client = client_key(l, &e->client);
	fresh.prefixlen = prefix_of(l, &fresh.client);
	i = table_get(&l->entry_table, l->entries, sizeof(*l->entries), &fresh.client);
	if (i == NIL) {
		if (entry_new(l, &fresh) == NIL) {
			errno = ENOMEM;
			return -1;
		}
		return 0;
	}
	en = &l->entries[i];
	if (fresh.expiry_us > en->e.expiry_us) {
		en->e = fresh;
		heap_down(l, en->heap_pos);
	}
	return 0;
}

bool cs_learned_forget(struct cs_learned *l, const struct cs_addr *client)
{
	struct cs_addr key = client_key(l, client);
	uint32_t i = table_get(&l->suspect_table, l->suspects, l->suspect_size, &key);

	if (i != NIL)
		suspect_remove(l, i);
	i = table_get(&l->entry_table, l->entries, sizeof(*l->entries), &key);
	if (i == NIL)
		return false;
	entry_remove(l, i);
	return true;
}

void cs_learned_set_change_fn(struct cs_learned *l, cs_learned_change_fn fn, void *ctx)
{
	l->cfg.on_change = fn;
	l->cfg.on_change_ctx = ctx;
}

void cs_learned_foreach(const struct cs_learned *l,
			void (*fn)(void *ctx, const struct cs_learned_entry *e), void *ctx)
{
	for (uint64_t k = 0; k < l->stats.active; k++)
		fn(ctx, &l->entries[l->heap[k]].e);
}

void cs_learned_get_stats(const struct cs_learned *l, struct cs_learned_stats *out)
{
	*out = l->stats;
}

struct cs_learned *cs_learned_new(const struct cs_learned_config *cfg)
{
	struct cs_learned *l;

	if (!cfg || cfg->threshold < 1 || cfg->threshold > CS_LEARN_MAX_THRESHOLD ||
	    !cfg->window_us || !cfg->ttl_us || !cfg->max_entries || !cfg->max_clients ||
	    cfg->max_entries >= NIL || cfg->max_clients >= NIL ||
	    cfg->v4_prefix > 32 || cfg->v6_prefix > 128) {
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		errno = ENOMEM;
		return NULL;
	}
	l->cfg = *cfg;
	l->suspect_size = sizeof(struct suspect) + cfg->threshold * sizeof(struct conviction);
	l->suspects_free = l->entries_free = NIL;
	l->lru_head = l->lru_tail = NIL;
	return l;
}

void cs_learned_free(struct cs_learned *l)
{
	if (!l)
		return;
	free(l->suspect_table.slots);
	free(l->suspects);
	free(l->entry_table.slots);
	free(l->entries);
	free(l->heap);
	free(l);
}
