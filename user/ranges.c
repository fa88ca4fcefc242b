/*
 * Range sets: parser for the list format, provider table, and a
 * longest-prefix matcher.
 *
 * The matcher flattens the nested prefixes of each family into disjoint
 * intervals of the address space, each carrying the longest prefix that
 * covers it (or none), and finds an address's interval through a radix
 * index: a 16-bit first level, then 4-bit levels only where many intervals
 * crowd into one slot, then a short binary search. A lookup touches a few
 * cache lines whatever the number or lengths of prefixes.
 */
#include "ranges.h"

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

/* Slots holding more intervals than this get a finer index level. */
#define INDEX_CROWDED 16

/* An address as a 128-bit number; IPv4 occupies the top 32 bits. */
struct key128 {
	uint64_t hi, lo;
};

/* One slot of an index level: its first interval, and a finer level. */
struct index_slot {
	uint32_t bound;                 /* interval holding the slot's first address */
	int32_t child;                  /* node of the next NODE_BITS bits, or -1 */
};

#define TOP_SLOTS 65536                 /* first level: 16 bits */
#define NODE_BITS 4                     /* small nodes: fewer cache misses than 8 */
#define NODE_SLOTS (1u << NODE_BITS)    /* further levels */

/* Interval i covers [start of i, start of i + 1). */
struct interval {
	struct key128 start;
	int32_t range;                  /* index into cs_ranges.ranges, or -1 */
};

/*
 * Lookups read only the arena: the first level (TOP_SLOTS + 1 slots), the
 * nodes (NODE_SLOTS + 1 slots each) and the intervals, in one mapping
 * backed by huge pages where the kernel allows, as lookups jump around it.
 */
struct lpm_index {
	void *arena;
	size_t arena_size;
	const struct index_slot *top;
	const struct index_slot *nodes;
	/* Intervals, split so that searches read only the dense start words. */
	const uint64_t *start_hi;
	const uint64_t *start_lo;
	const int32_t *range;
};

/* Growing arrays while an index is built. */
struct index_builder {
	struct interval *iv;
	size_t count, cap;
	struct index_slot *top;
	struct index_slot *nodes;
	size_t node_count, node_cap;
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
	struct key128 k = { 0, 0 };

	for (int i = 0; i < 8; i++) {
		k.hi = k.hi << 8 | b[i];
		k.lo = k.lo << 8 | b[8 + i];
	}
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

/* The NODE_BITS bits of k starting at bit pos (a multiple of NODE_BITS) from the top. */
static unsigned key_chunk(struct key128 k, unsigned pos)
{
	unsigned mask = NODE_SLOTS - 1;

	return pos < 64 ? (k.hi >> (64 - NODE_BITS - pos)) & mask
			: (k.lo >> (128 - NODE_BITS - pos)) & mask;
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
	if (b->count && b->iv[b->count - 1].start.hi == k.hi && b->iv[b->count - 1].start.lo == k.lo)
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
	b->iv[b->count].start = k;
	b->iv[b->count].range = range;
	b->count++;
}

/* Last interval in [lo, hi] starting at or before k (interval lo does). */
static uint32_t interval_find(const struct lpm_index *ix, uint32_t lo, uint32_t hi, struct key128 k)
{
	uint32_t n = hi - lo + 1;

	/* Branch-free: the answer stays in [lo, lo + n). */
	while (n > 1) {
		uint32_t half = n / 2, mid = lo + half;
		bool le = ix->start_hi[mid] < k.hi ||
			  (ix->start_hi[mid] == k.hi && ix->start_lo[mid] <= k.lo);

		lo = le ? mid : lo;
		n -= half;
	}
	return lo;
}

/*
 * Fills slots[0 .. n] for the n sub-slots of [base, ...), each 2^(128 - pos
 * - bits) addresses wide, over intervals lo..hi; then builds finer nodes
 * for crowded slots. Returns -1 when out of memory.
 */
static int index_fill(struct index_builder *b, bool top, size_t first, uint32_t lo, uint32_t hi,
		      struct key128 base, unsigned pos, unsigned bits)
{
	unsigned n = 1u << bits;
	uint32_t i = lo;

#define SLOT(c) (top ? &b->top[first + (c)] : &b->nodes[first + (c)])
	for (unsigned c = 0; c < n; c++) {
		struct key128 k = base;
		unsigned shift = 128 - pos - bits;

		if (shift >= 64)
			k.hi |= (uint64_t)c << (shift - 64);
		else
			k.lo |= (uint64_t)c << shift;
		while (i < hi && key_le(b->iv[i + 1].start, k))
			i++;
		SLOT(c)->bound = i;
		SLOT(c)->child = -1;
	}
	SLOT(n)->bound = hi;
	SLOT(n)->child = -1;
	for (unsigned c = 0; c < n; c++) {
		uint32_t b0 = SLOT(c)->bound, b1 = SLOT(c + 1)->bound;

		if (b1 - b0 <= INDEX_CROWDED || pos + bits + NODE_BITS > 128)
			continue;
		if (b->node_count == b->node_cap) {
			size_t cap = b->node_cap ? b->node_cap * 2 : 16;
			struct index_slot *nodes = realloc(b->nodes, cap * (NODE_SLOTS + 1) * sizeof(*nodes));

			if (!nodes)
				return -1;
			b->nodes = nodes;
			b->node_cap = cap;
		}
		size_t id = b->node_count++;
		struct key128 k = base;
		unsigned shift = 128 - pos - bits;

		if (shift >= 64)
			k.hi |= (uint64_t)c << (shift - 64);
		else
			k.lo |= (uint64_t)c << shift;
		SLOT(c)->child = (int32_t)id;
		if (index_fill(b, false, id * (NODE_SLOTS + 1), b0, b1, k, pos + bits, NODE_BITS))
			return -1;
	}
#undef SLOT
	return 0;
}

/* Copies the built index into one huge-page-backed mapping. */
static int index_freeze(struct lpm_index *ix, const struct index_builder *b)
{
	size_t top = (TOP_SLOTS + 1) * sizeof(struct index_slot);
	size_t nodes = b->node_count * (NODE_SLOTS + 1) * sizeof(struct index_slot);
	size_t words = b->count * sizeof(uint64_t), ranges = b->count * sizeof(int32_t);
	size_t huge = 2u << 20, size = (top + nodes + 2 * words + ranges + huge - 1) / huge * huge;
	char *arena = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (arena == MAP_FAILED)
		return -1;
	madvise(arena, size, MADV_HUGEPAGE);    /* a hint: fine if refused */
	memcpy(arena, b->top, top);
	memcpy(arena + top, b->nodes, nodes);
	uint64_t *hi = (uint64_t *)(arena + top + nodes), *lo = hi + b->count;
	int32_t *range = (int32_t *)(lo + b->count);

	for (size_t i = 0; i < b->count; i++) {
		hi[i] = b->iv[i].start.hi;
		lo[i] = b->iv[i].start.lo;
		range[i] = b->iv[i].range;
	}
	mprotect(arena, size, PROT_READ);
	ix->arena = arena;
	ix->arena_size = size;
	ix->top = (const struct index_slot *)arena;
	ix->nodes = (const struct index_slot *)(arena + top);
	ix->start_hi = hi;
	ix->start_lo = lo;
	ix->range = range;
	return 0;
}

/* Index of one family over ranges[first .. first + n), sorted. */
static int index_build(struct lpm_index *ix, const struct cs_range *ranges, size_t first, size_t n)
{
	struct index_builder b = { 0 };
	struct { struct key128 end; int32_t range; } stack[129];
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
	b.top = malloc((TOP_SLOTS + 1) * sizeof(*b.top));
	if (b.oom || !b.top ||
	    index_fill(&b, true, 0, 0, (uint32_t)b.count - 1, (struct key128){ 0, 0 }, 0, 16) ||
	    index_freeze(ix, &b))
		goto out;
	ret = 0;
out:
	free(b.iv);
	free(b.top);
	free(b.nodes);
	return ret;
}

static int32_t index_lookup(const struct lpm_index *ix, struct key128 k)
{
	const struct index_slot *slot = &ix->top[k.hi >> 48];
	uint32_t lo = slot[0].bound, hi = slot[1].bound;
	int32_t child = slot[0].child;

	for (unsigned pos = 16; child >= 0; pos += NODE_BITS) {
		slot = &ix->nodes[(size_t)child * (NODE_SLOTS + 1) + key_chunk(k, pos)];
		lo = slot[0].bound;
		hi = slot[1].bound;
		child = slot[0].child;
	}
	return ix->range[interval_find(ix, lo, hi, k)];
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
	qsort(r->ranges, r->count, sizeof(*r->ranges), range_cmp);
	if (slots_rebuild(r, r->count))
		return -1;
	r->family_count[0] = r->family_count[1] = 0;
	for (size_t i = 0; i < r->count; i++)
		r->family_count[family_slot(r->ranges[i].prefix.family)]++;
	if (index_build(&r->index[0], r->ranges, 0, r->family_count[0]))
		return -1;
	return index_build(&r->index[1], r->ranges, r->family_count[0], r->family_count[1]);
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
	while ((tok = strtok_r(NULL, " \t\r\n\v\f", &save))) {
		if (!strcmp(tok, "weak"))
			range.flags |= CS_RANGE_WEAK;
		else if (!strcmp(tok, "allow"))
			range.flags |= CS_RANGE_ALLOW;
		else
			return parse_fail(p, "unknown flag '%s' (known: weak, allow)", tok);
	}
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
	i = index_lookup(&r->index[family_slot(a->family)], key_from_bytes(a->bytes));
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
