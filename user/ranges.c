/*
 * Range sets: parser for the list format, provider table, and a
 * longest-prefix matcher.
 *
 * The matcher flattens the nested prefixes of each family into disjoint
 * intervals of the address space, each carrying the longest prefix that
 * covers it (or none), and indexes the interval starts with a multibit
 * trie of 32-bit entries, each a leaf (one interval covers the block), a
 * bucket (up to four starts compared in one cache line), a node (a direct
 * table on the next bits; strides vary with the starts below, from a root
 * of 18 bits for IPv4 and 16 for IPv6 up to 16 bits) or a skip (over the
 * bits that all starts of a block share: deep IPv6 clusters). Node strides
 * are picked so that entries below are leaves or buckets wherever that
 * costs at most 16 entries a start: most lookups then read the root entry,
 * one node entry and one bucket, and take the same branches, which lets
 * consecutive lookups overlap their cache misses. The cloud feeds padded
 * to 100k prefixes take under 10 MiB, in huge pages where allowed.
 */
#include "ranges.h"
#include "learned.h"

#include <endian.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clicksieve_abi.h"

#ifndef CS_DATADIR
#define CS_DATADIR "/usr/local/share/clicksieve"
#endif

/* An address as a 128-bit number; IPv4 occupies the top 32 bits. */
struct key128 {
	uint64_t hi, lo;
};

typedef unsigned __int128 u128;

/*
 * Index entries (32 bits): a leaf (range + 1, 0 = no range), a bucket, a
 * node (2^stride entries, one per value of the next stride bits), or a
 * skip over bits that all starts of a block share.
 */
#define ENTRY_LEAF   0u
#define ENTRY_BUCKET 1u
#define ENTRY_NODE   2u
#define ENTRY_SKIP   3u
#define ENTRY_TYPE(e) ((e) >> 30)
#define ENTRY_INDEX_MASK 0x3fffffffu
#define NODE_OFFSET_BITS 25             /* node entries: 5 bits of stride - 1 */
#define NODE_MAX_STRIDE 16
#define SKIP_MIN_BITS 8                 /* shorter shared runs: a node does as well */

/* Bits resolved by the root node: IPv4 /18s in one read, IPv6 /16s. */
static const unsigned root_bits[2] = { 18, 16 };

#define BUCKET_KEYS 4

/*
 * Up to BUCKET_KEYS interval starts of one block, in one cache line. All
 * share their first `common` bits (at most 64), stored in prefix; their
 * next 64 bits are the keys, and no start has bits set past those. An
 * address whose first `common` bits differ lies before or after all of them.
 */
struct bucket {
	uint64_t prefix;
	uint64_t key[BUCKET_KEYS];      /* ascending; unused ones UINT64_MAX */
	int32_t range[BUCKET_KEYS + 1]; /* range[j]: past j starts; unused repeat the last */
	uint8_t common;
	uint8_t count;
};

/* One cache line each, as the arena places them at a 64-byte boundary. */
_Static_assert(sizeof(struct bucket) == 64, "a bucket is one cache line");

/*
 * The starts of a block all begin with the first `bits` bits of prefix:
 * addresses that do not lie before or after all of them; those that do go
 * on to child, past those bits.
 */
struct skip {
	u128 prefix;                    /* the shared bits, as a number */
	int32_t below, above;           /* ranges before and after all starts */
	uint32_t child;
	uint8_t bits;
};

/* Interval i covers [start of i, start of i + 1). */
struct interval {
	u128 start;
	int32_t range;                  /* index into cs_ranges.ranges, or -1 */
};

/*
 * Lookups read only the arena: node entries, buckets and skips, in one
 * mapping backed by huge pages where the kernel allows, as lookups jump
 * around it.
 */
struct lpm_index {
	void *arena;
	size_t arena_size;
	uint32_t root;
	const uint32_t *entries;
	const struct bucket *buckets;
	const struct skip *skips;
};

/* Growing arrays while an index is built. */
struct index_builder {
	struct interval *iv;
	size_t count, cap;
	uint32_t *entries;
	size_t entry_count, entry_cap;
	struct bucket *buckets;
	size_t bucket_count, bucket_cap;
	struct skip *skips;
	size_t skip_count, skip_cap;
	bool oom;
};

struct cs_ranges {
	struct cs_range *ranges;        /* sorted, see cs_ranges_at() */
	size_t count, cap;
	size_t family_count[2];         /* IPv4, IPv6 */
	char names[CS_MAX_PROVIDERS][CS_PROVIDER_NAME_LEN];
	unsigned provider_count;
	uint32_t *slots;                /* hash of prefixes: range index + 1, 0 = empty */
	size_t slot_count;              /* power of two */
	struct lpm_index index[2];
};

static struct key128 key_from_bytes(const uint8_t b[16])
{
	struct key128 k;

	memcpy(&k.hi, b, 8);
	memcpy(&k.lo, b + 8, 8);
	k.hi = be64toh(k.hi);
	k.lo = be64toh(k.lo);
	return k;
}

static bool key_le(struct key128 a, struct key128 b)
{
	return a.hi < b.hi || (a.hi == b.hi && a.lo <= b.lo);
}

/* Last address of the prefix starting at k, plen counted from the top. */
static struct key128 key_prefix_end(struct key128 k, unsigned plen)
{
	if (plen < 64) {
		k.hi |= plen ? UINT64_MAX >> plen : UINT64_MAX;
		k.lo = UINT64_MAX;
	} else if (plen < 128) {
		k.lo |= UINT64_MAX >> (plen - 64);
	}
	return k;
}

/* k + 1; false past the end of the address space. */
static bool key_inc(struct key128 *k)
{
	if (++k->lo == 0 && ++k->hi == 0)
		return false;
	return true;
}

static bool key_is_max(struct key128 k)
{
	return k.hi == UINT64_MAX && k.lo == UINT64_MAX;
}

static int family_slot(int family)
{
	return family == 6 ? 1 : 0;
}

static void index_clear(struct lpm_index *ix)
{
	if (ix->arena)
		munmap(ix->arena, ix->arena_size);
	memset(ix, 0, sizeof(*ix));
}

/* Starts a new interval at k, or relabels the last one when it starts at k. */
static void interval_emit(struct index_builder *b, struct key128 k, int32_t range)
{
	u128 start = (u128)k.hi << 64 | k.lo;

	if (b->count && b->iv[b->count - 1].start == start)
		b->count--;
	if (b->count && b->iv[b->count - 1].range == range)
		return;
	if (b->count == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct interval *iv = realloc(b->iv, cap * sizeof(*iv));

		if (!iv) {
			b->oom = true;
			return;
		}
		b->iv = iv;
		b->cap = cap;
	}
	b->iv[b->count].start = start;
	b->iv[b->count].range = range;
	b->count++;
}

static int grow(void **array, size_t *cap, size_t want, size_t size)
{
	size_t c = *cap ? *cap : 1024;
	void *p;

	if (want <= *cap)
		return 0;
	while (c < want)
		c *= 2;
	p = realloc(*array, c * size);
	if (!p)
		return -1;
	*array = p;
	*cap = c;
	return 0;
}

/* Number of significant bits of a start: 128 less its trailing zeros. */
static unsigned key_bits(u128 k)
{
	uint64_t lo = (uint64_t)k, hi = (uint64_t)(k >> 64);

	if (lo)
		return 128 - (unsigned)__builtin_ctzll(lo);
	return hi ? 64 - (unsigned)__builtin_ctzll(hi) : 0;
}

/* First bits shared by a and b. */
static unsigned common_bits(u128 a, u128 b)
{
	u128 x = a ^ b;
	uint64_t hi = (uint64_t)(x >> 64), lo = (uint64_t)x;

	if (hi)
		return (unsigned)__builtin_clzll(hi);
	return lo ? 64 + (unsigned)__builtin_clzll(lo) : 128;
}

/* The first common bits of k (common <= 64), as the top bits of a word. */
static uint64_t key_window_prefix(u128 k, unsigned common)
{
	return common ? (uint64_t)(k >> 64) & ~0ull << (64 - common) : 0;
}

/*
 * A bucket for the starts first + 1 .. last of a block (interval first
 * holds the block's first address), if they fit one: few enough, and all
 * significant bits within 64 bits after their common prefix.
 */
/*
 * The `common` bits of a bucket for the starts first + 1 .. last (interval
 * first holds the block's first address): -1 unless they fit one, few
 * enough, all significant bits within 64 bits after their common prefix.
 */
static int bucket_common(const struct index_builder *b, size_t first, size_t last)
{
	unsigned need = 0;

	if (last - first > BUCKET_KEYS)
		return -1;
	for (size_t i = first + 1; i <= last; i++)
		if (key_bits(b->iv[i].start) > need)
			need = key_bits(b->iv[i].start);
	if (need <= 64)
		return 0;
	if (last - first > 1 && common_bits(b->iv[first + 1].start, b->iv[last].start) < need - 64)
		return -1;
	return (int)need - 64;
}

/* A bucket for the starts first + 1 .. last; 1 when they do not fit one. */
static int bucket_try(struct index_builder *b, size_t first, size_t last, uint32_t *entry)
{
	size_t n = last - first;
	int common = bucket_common(b, first, last);
	struct bucket *bk;

	if (common < 0)
		return 1;
	if (b->bucket_count > ENTRY_INDEX_MASK ||
	    grow((void **)&b->buckets, &b->bucket_cap, b->bucket_count + 1, sizeof(*bk)))
		return -1;
	bk = &b->buckets[b->bucket_count];
	memset(bk, 0, sizeof(*bk));
	bk->prefix = key_window_prefix(b->iv[first + 1].start, (unsigned)common);
	bk->common = (uint8_t)common;
	bk->count = (uint8_t)n;
	for (size_t j = 0; j < BUCKET_KEYS; j++)
		bk->key[j] = j < n ? (uint64_t)(b->iv[first + 1 + j].start << common >> 64) : UINT64_MAX;
	for (size_t j = 0; j <= BUCKET_KEYS; j++)
		bk->range[j] = b->iv[first + (j < n ? j : n)].range;
	*entry = ENTRY_BUCKET << 30 | (uint32_t)b->bucket_count++;
	return 0;
}

/* Whether every entry of a node of this stride would be a leaf or a bucket. */
static bool children_terminal(const struct index_builder *b, unsigned pos, unsigned stride,
			      size_t first, size_t last)
{
	unsigned shift = 128 - pos - stride;

	for (size_t g0 = first + 1, g1; g0 <= last; g0 = g1 + 1) {
		u128 child = b->iv[g0].start >> shift;

		for (g1 = g0; g1 < last && b->iv[g1 + 1].start >> shift == child; g1++)
			;
		/* A start at the entry's first address begins it rather than splits it. */
		size_t lo = b->iv[g0].start == child << shift ? g0 : g0 - 1;

		if (lo < g1 && bucket_common(b, lo, g1) < 0)
			return false;
	}
	return true;
}

/*
 * Bits for a node over starts first + 1 .. last: the fewest, from about
 * log2 of their number, that leave only leaves and buckets below, so that
 * most lookups take the same path length; denser spots get nodes below
 * rather than more than 16 entries a start.
 */
static unsigned node_stride(const struct index_builder *b, unsigned pos, size_t first, size_t last)
{
	unsigned base = 4, widest;

	while (base < NODE_MAX_STRIDE && (size_t)1 << (base + 1) < last - first)
		base++;
	if (base > 128 - pos)
		base = 128 - pos;
	widest = base + 4 < NODE_MAX_STRIDE ? base + 4 : NODE_MAX_STRIDE;
	if (widest > 128 - pos)
		widest = 128 - pos;
	for (unsigned stride = base; stride <= widest; stride++)
		if (children_terminal(b, pos, stride, first, last))
			return stride;
	return base;
}

static int block_build(struct index_builder *b, u128 base, unsigned pos, unsigned stride,
		       size_t first, size_t last, uint32_t *entry);

/* A skip over the bits that starts first + 1 .. last all share. */
static int skip_build(struct index_builder *b, unsigned shared, size_t first, size_t last,
		      uint32_t *entry)
{
	u128 sub = b->iv[first + 1].start & ~(u128)0 << (128 - shared);
	size_t lo = first, id = b->skip_count;
	uint32_t child;

	if (id >= ENTRY_INDEX_MASK ||
	    grow((void **)&b->skips, &b->skip_cap, id + 1, sizeof(*b->skips)))
		return -1;
	b->skip_count++;
	while (lo < last && b->iv[lo + 1].start <= sub)
		lo++;
	if (block_build(b, sub, shared, 0, lo, last, &child))
		return -1;
	b->skips[id] = (struct skip){
		.prefix = sub >> (128 - shared), .below = b->iv[first].range,
		.above = b->iv[last].range, .child = child, .bits = (uint8_t)shared,
	};
	*entry = ENTRY_SKIP << 30 | (uint32_t)id;
	return 0;
}

/*
 * Entry for the block of addresses whose first pos bits are those of base:
 * intervals first .. last meet it, first holding its first address.
 */
static int block_build(struct index_builder *b, u128 base, unsigned pos, unsigned stride,
		       size_t first, size_t last, uint32_t *entry)
{
	size_t offset = b->entry_count, lo = first, hi = first;
	int ret;

	if (first == last) {
		*entry = ENTRY_LEAF << 30 | (uint32_t)(b->iv[first].range + 1);
		return 0;
	}
	if (!stride) {
		ret = bucket_try(b, first, last, entry);
		if (ret <= 0)
			return ret;
		unsigned shared = common_bits(b->iv[first + 1].start, b->iv[last].start);

		if (shared >= pos + SKIP_MIN_BITS)
			return skip_build(b, shared, first, last, entry);
		stride = node_stride(b, pos, first, last);
	}
	if (offset + ((size_t)1 << stride) >= (size_t)1 << NODE_OFFSET_BITS)
		return -1;
	if (grow((void **)&b->entries, &b->entry_cap, offset + ((size_t)1 << stride),
		 sizeof(*b->entries)))
		return -1;
	b->entry_count = offset + ((size_t)1 << stride);
	for (size_t c = 0; c < (size_t)1 << stride; c++) {
		unsigned shift = 128 - pos - stride;
		u128 start = base | (u128)c << shift;
		u128 end = start + ((u128)1 << shift) - 1;
		uint32_t child;

		while (lo < last && b->iv[lo + 1].start <= start)
			lo++;
		if (hi < lo)
			hi = lo;
		while (hi < last && b->iv[hi + 1].start <= end)
			hi++;
		if (block_build(b, start, pos + stride, 0, lo, hi, &child))
			return -1;
		b->entries[offset + c] = child;
	}
	*entry = ENTRY_NODE << 30 | (stride - 1) << NODE_OFFSET_BITS | (uint32_t)offset;
	return 0;
}

/* Copies the built index into one huge-page-backed mapping. */
static int index_freeze(struct lpm_index *ix, const struct index_builder *b, uint32_t root)
{
	size_t entries = (b->entry_count * sizeof(*b->entries) + 63) / 64 * 64;
	size_t buckets = b->bucket_count * sizeof(*b->buckets);
	size_t skips = b->skip_count * sizeof(*b->skips);
	size_t huge = 2u << 20, size = (entries + buckets + skips + huge) / huge * huge;
	char *arena = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (arena == MAP_FAILED)
		return -1;
	madvise(arena, size, MADV_HUGEPAGE);    /* a hint: fine if refused */
	if (entries)
		memcpy(arena, b->entries, b->entry_count * sizeof(*b->entries));
	if (buckets)
		memcpy(arena + entries, b->buckets, buckets);
	if (skips)
		memcpy(arena + entries + buckets, b->skips, skips);
	mprotect(arena, size, PROT_READ);
	ix->arena = arena;
	ix->arena_size = size;
	ix->root = root;
	ix->entries = (const uint32_t *)arena;
	ix->buckets = (const struct bucket *)(arena + entries);
	ix->skips = (const struct skip *)(arena + entries + buckets);
	return 0;
}

/* Index of one family over ranges[first .. first + n), sorted. */
static int index_build(struct lpm_index *ix, const struct cs_range *ranges, size_t first, size_t n,
		       unsigned bits)
{
	struct index_builder b = { 0 };
	struct { struct key128 end; int32_t range; } stack[129];
	uint32_t root;
	size_t depth = 0;
	int ret = -1;

	index_clear(ix);
	interval_emit(&b, (struct key128){ 0, 0 }, -1);
	for (size_t i = first; i < first + n; i++) {
		struct key128 start = key_from_bytes(ranges[i].prefix.bytes);

		/* Close the prefixes that end before this one starts. */
		while (depth && !key_le(start, stack[depth - 1].end)) {
			struct key128 next = stack[depth - 1].end;

			depth--;
			key_inc(&next);
			interval_emit(&b, next, depth ? stack[depth - 1].range : -1);
		}
		interval_emit(&b, start, (int32_t)i);
		stack[depth].end = key_prefix_end(start, ranges[i].plen);
		stack[depth].range = (int32_t)i;
		depth++;
	}
	while (depth) {
		struct key128 next = stack[depth - 1].end;

		depth--;
		if (key_is_max(next) || !key_inc(&next))
			break;
		interval_emit(&b, next, depth ? stack[depth - 1].range : -1);
	}
	if (b.oom ||
	    block_build(&b, 0, 0, bits, 0, b.count - 1, &root) ||
	    index_freeze(ix, &b, root))
		goto out;
	ret = 0;
out:
	free(b.iv);
	free(b.entries);
	free(b.buckets);
	free(b.skips);
	return ret;
}

static int32_t bucket_lookup(const struct bucket *bk, u128 k)
{
	uint64_t prefix = key_window_prefix(k, bk->common);
	uint64_t window;
	unsigned past = 0;

	if (prefix != bk->prefix)
		return bk->range[prefix < bk->prefix ? 0 : bk->count];
	window = (uint64_t)(k << bk->common >> 64);
	for (unsigned j = 0; j < BUCKET_KEYS; j++)
		past += bk->key[j] <= window;
	return bk->range[past];
}

static int32_t index_lookup(const struct lpm_index *ix, u128 k)
{
	uint32_t e = ix->root;
	unsigned pos = 0;

	for (;;) {
		switch (ENTRY_TYPE(e)) {
		case ENTRY_LEAF:
			return (int32_t)(e & ENTRY_INDEX_MASK) - 1;
		case ENTRY_BUCKET:
			return bucket_lookup(&ix->buckets[e & ENTRY_INDEX_MASK], k);
		case ENTRY_SKIP: {
			const struct skip *sk = &ix->skips[e & ENTRY_INDEX_MASK];
			u128 prefix = k >> (128 - sk->bits);

			if (prefix != sk->prefix)
				return prefix < sk->prefix ? sk->below : sk->above;
			e = sk->child;
			pos = sk->bits;
			break;
		}
		default: {
			unsigned stride = (e >> NODE_OFFSET_BITS & 31) + 1;

			e = ix->entries[(e & ((1u << NODE_OFFSET_BITS) - 1)) +
					(size_t)(k << pos >> (128 - stride))];
			pos += stride;
		}
		}
	}
}

static int range_cmp(const void *pa, const void *pb)
{
	const struct cs_range *a = pa, *b = pb;
	int c;

	if (a->prefix.family != b->prefix.family)
		return a->prefix.family < b->prefix.family ? -1 : 1;
	c = memcmp(a->prefix.bytes, b->prefix.bytes, 16);
	if (c)
		return c;
	return (int)a->plen - (int)b->plen;
}

static uint64_t range_hash(const struct cs_addr *prefix, unsigned plen)
{
	uint64_t h = 1469598103934665603ull ^ (prefix->family * 131u + plen);

	for (int i = 0; i < 16; i++)
		h = (h ^ prefix->bytes[i]) * 1099511628211ull;
	return h ^ h >> 29;
}

/* Slot of the prefix: holding it, or the empty one where it belongs. */
static size_t slot_find(const struct cs_ranges *r, const struct cs_addr *prefix, unsigned plen)
{
	size_t mask = r->slot_count - 1, s = range_hash(prefix, plen) & mask;

	while (r->slots[s]) {
		const struct cs_range *x = &r->ranges[r->slots[s] - 1];

		if (x->plen == plen && cs_addr_equal(&x->prefix, prefix))
			break;
		s = (s + 1) & mask;
	}
	return s;
}

/* Rebuilds the hash for ranges[0 .. count) with room for want entries. */
static int slots_rebuild(struct cs_ranges *r, size_t want)
{
	size_t n = 64;

	while (n < want * 2)
		n *= 2;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -1;
	free(r->slots);
	r->slots = slots;
	r->slot_count = n;
	for (size_t i = 0; i < r->count; i++)
		r->slots[slot_find(r, &r->ranges[i].prefix, r->ranges[i].plen)] = (uint32_t)i + 1;
	return 0;
}

/* Sorts, rehashes and reindexes after a file's ranges were appended. */
static int ranges_commit(struct cs_ranges *r)
{
	if (r->count)   /* ranges is NULL while the set is empty */
		qsort(r->ranges, r->count, sizeof(*r->ranges), range_cmp);
	if (slots_rebuild(r, r->count))
		return -1;
	r->family_count[0] = r->family_count[1] = 0;
	for (size_t i = 0; i < r->count; i++)
		r->family_count[family_slot(r->ranges[i].prefix.family)]++;
	if (index_build(&r->index[0], r->ranges, 0, r->family_count[0], root_bits[0]))
		return -1;
	return index_build(&r->index[1], r->ranges, r->family_count[0], r->family_count[1],
			   root_bits[1]);
}

struct cs_ranges *cs_ranges_new(void)
{
	struct cs_ranges *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (slots_rebuild(r, 0) || ranges_commit(r)) {
		cs_ranges_free(r);
		return NULL;
	}
	return r;
}

void cs_ranges_free(struct cs_ranges *r)
{
	if (!r)
		return;
	index_clear(&r->index[0]);
	index_clear(&r->index[1]);
	free(r->slots);
	free(r->ranges);
	free(r);
}

struct parse_ctx {
	struct cs_ranges *r;
	const char *name;
	unsigned long line;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3)))
static int parse_fail(struct parse_ctx *p, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->errlen, "%s:%lu: ", p->name, p->line);

	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static bool provider_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= CS_PROVIDER_NAME_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

const char *cs_ranges_flags_text(uint16_t flags)
{
	switch (flags & (CS_RANGE_WEAK | CS_RANGE_ALLOW)) {
	case CS_RANGE_WEAK: return " weak";
	case CS_RANGE_ALLOW: return " allow";
	case CS_RANGE_WEAK | CS_RANGE_ALLOW: return " weak allow";
	default: return "";
	}
}

/* Parses "ADDR/LEN" with host bits zero. */
static int parse_cidr(struct parse_ctx *p, const char *tok, struct cs_addr *prefix, uint8_t *plen)
{
	const char *slash = strchr(tok, '/');
	char *end;
	unsigned long len;
	struct cs_addr masked;

	if (!slash)
		return parse_fail(p, "'%s' is not a prefix (ADDRESS/LENGTH)", tok);
	if (!cs_addr_parse_n(tok, slash - tok, prefix))
		return parse_fail(p, "bad address in '%s'", tok);
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (slash[1] < '0' || slash[1] > '9' || *end || errno ||
	    len > (prefix->family == 4 ? 32u : 128u))
		return parse_fail(p, "bad prefix length in '%s' (IPv%d: 0-%u)", tok,
				  prefix->family, prefix->family == 4 ? 32 : 128);
	masked = *prefix;
	cs_addr_mask(&masked, len);
	if (!cs_addr_equal(&masked, prefix)) {
		char buf[CS_ADDR_STRLEN];

		return parse_fail(p, "host bits set in '%s' (did you mean %s/%lu?)", tok,
				  cs_addr_format(&masked, buf), len);
	}
	*plen = (uint8_t)len;
	return 0;
}

static uint16_t provider_intern(struct cs_ranges *r, const char *name)
{
	uint16_t id = cs_ranges_provider_id(r, name);

	if (id || r->provider_count >= CS_MAX_PROVIDERS - 1)
		return id;
	id = (uint16_t)++r->provider_count;
	strcpy(r->names[id], name);
	return id;
}

static int parse_line(struct parse_ctx *p, char *line)
{
	struct cs_ranges *r = p->r;
	struct cs_range range = { 0 };
	char *save = NULL, *cidr, *provider, *tok, *hash;

	hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	cidr = strtok_r(line, " \t\r\n\v\f", &save);
	if (!cidr)
		return 0;
	if (parse_cidr(p, cidr, &range.prefix, &range.plen))
		return -1;
	provider = strtok_r(NULL, " \t\r\n\v\f", &save);
	if (!provider)
		return parse_fail(p, "missing provider after '%s'", cidr);
	if (!provider_name_valid(provider))
		return parse_fail(p, "bad provider name '%s' (want [a-z0-9_-], 1-%d characters)",
				  provider, CS_PROVIDER_NAME_LEN - 1);
	/* verdicts of learned scanners name this provider: a list must not */
	if (!strcmp(provider, CS_LEARNED_PROVIDER))
		return parse_fail(p, "provider name '%s' is reserved for learned scanners",
				  provider);
	while ((tok = strtok_r(NULL, " \t\r\n\v\f", &save))) {
		if (!strcmp(tok, "weak"))
			range.flags |= CS_RANGE_WEAK;
		else if (!strcmp(tok, "allow"))
			range.flags |= CS_RANGE_ALLOW;
		else
			return parse_fail(p, "unknown flag '%s' (known: weak, allow)", tok);
	}
	if (range.flags == (CS_RANGE_WEAK | CS_RANGE_ALLOW))
		return parse_fail(p, "flags 'weak' and 'allow' contradict each other "
				  "(weak: suspect by range; allow: never by range)");
	range.provider_id = provider_intern(r, provider);
	if (!range.provider_id)
		return parse_fail(p, "too many providers (at most %d)", CS_MAX_PROVIDERS - 1);

	if (r->count * 2 >= r->slot_count && slots_rebuild(r, r->count + 1))
		return parse_fail(p, "out of memory");
	size_t s = slot_find(r, &range.prefix, range.plen);

	if (r->slots[s]) {
		const struct cs_range *old = &r->ranges[r->slots[s] - 1];

		if (old->provider_id == range.provider_id && old->flags == range.flags)
			return 0;
		return parse_fail(p, "%s conflicts with an earlier entry for the same prefix: %s%s",
				  cidr, r->names[old->provider_id], cs_ranges_flags_text(old->flags));
	}
	if (r->count == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct cs_range *n = realloc(r->ranges, cap * sizeof(*n));

		if (!n)
			return parse_fail(p, "out of memory");
		r->ranges = n;
		r->cap = cap;
	}
	r->ranges[r->count] = range;
	r->slots[s] = (uint32_t)++r->count;
	return 0;
}

static int load_stream(struct cs_ranges *r, FILE *f, const char *name, char *err, size_t errlen)
{
	struct parse_ctx p = { .r = r, .name = name, .err = err, .errlen = errlen };
	size_t old_count = r->count;
	unsigned old_providers = r->provider_count;
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	while (getline(&line, &cap, f) >= 0) {
		p.line++;
		ret = parse_line(&p, line);
		if (ret)
			break;
	}
	if (!ret && ferror(f)) {
		snprintf(err, errlen, "%s: read error", name);
		ret = -1;
	}
	free(line);
	if (ret) {
		/* All or nothing: forget this file's ranges and providers. */
		r->count = old_count;
		for (unsigned id = old_providers + 1; id <= r->provider_count; id++)
			r->names[id][0] = '\0';
		r->provider_count = old_providers;
		if (slots_rebuild(r, r->count))
			ret = -1;
		return ret;
	}
	if (ranges_commit(r)) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	return 0;
}

int cs_ranges_load_file(struct cs_ranges *r, const char *path, char *err, size_t errlen)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	int ret;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	ret = load_stream(r, f, strcmp(path, "-") ? path : "<stdin>", err, errlen);
	if (f != stdin)
		fclose(f);
	return ret;
}

int cs_ranges_load_buffer(struct cs_ranges *r, const char *name, const char *text, size_t len,
			  char *err, size_t errlen)
{
	FILE *f;
	int ret;

	if (len == 0)
		return 0;
	f = fmemopen((void *)text, len, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	ret = load_stream(r, f, name, err, errlen);
	fclose(f);
	return ret;
}

const struct cs_range *cs_ranges_lookup(const struct cs_ranges *r, const struct cs_addr *a)
{
	int32_t i;

	if (a->family != 4 && a->family != 6)
		return NULL;
	struct key128 k = key_from_bytes(a->bytes);

	i = index_lookup(&r->index[family_slot(a->family)], (u128)k.hi << 64 | k.lo);
	return i < 0 ? NULL : &r->ranges[i];
}

const char *cs_ranges_provider_name(const struct cs_ranges *r, uint16_t id)
{
	return id >= 1 && id <= r->provider_count ? r->names[id] : "";
}

uint16_t cs_ranges_provider_id(const struct cs_ranges *r, const char *name)
{
	for (unsigned id = 1; id <= r->provider_count; id++)
		if (!strcmp(r->names[id], name))
			return (uint16_t)id;
	return 0;
}

unsigned cs_ranges_provider_count(const struct cs_ranges *r)
{
	return r->provider_count;
}

size_t cs_ranges_count(const struct cs_ranges *r, int family)
{
	if (family == 4 || family == 6)
		return r->family_count[family_slot(family)];
	return r->count;
}

const struct cs_range *cs_ranges_at(const struct cs_ranges *r, size_t i)
{
	return i < r->count ? &r->ranges[i] : NULL;
}

const char *cs_ranges_default_path(void)
{
	static char path[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n;

	if (access(CS_DATADIR "/default-ranges.txt", R_OK) == 0)
		return CS_DATADIR "/default-ranges.txt";
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return "data/default-ranges.txt";
	exe[n] = '\0';
	snprintf(path, sizeof(path), "%s/../data/default-ranges.txt", dirname(exe));
	return path;
}

int cs_ranges_write(const struct cs_ranges *r, FILE *f)
{
	char buf[CS_ADDR_STRLEN], cidr[CS_ADDR_STRLEN + 4];

	for (size_t i = 0; i < r->count; i++) {
		const struct cs_range *rg = &r->ranges[i];

		snprintf(cidr, sizeof(cidr), "%s/%u", cs_addr_format(&rg->prefix, buf), rg->plen);
		if (fprintf(f, "%-43s %s%s\n", cidr, r->names[rg->provider_id],
			    cs_ranges_flags_text(rg->flags)) < 0)
			return -1;
	}
	return 0;
}
