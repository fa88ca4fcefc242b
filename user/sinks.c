/*
 * JSON-lines verdict sink. A record is built in a stack buffer and written
 * with one fwrite; only records with very long strings (kilobytes of user
 * agent) take more than one. Every string is escaped so that the output is
 * always valid JSON whatever bytes the input held: '"', '\\' and control
 * characters are escaped (controls as \u00XX), and each byte that is not
 * part of a well-formed UTF-8 sequence becomes \ufffd.
 *
 * One record per click makes this the hottest code of `classify`: the
 * write position is passed around as a pointer (kept in a register, not
 * in the buffer struct), plain runs are copied 16 or 8 bytes at a time,
 * numbers are formatted by hand, and the last user agent and file name
 * are kept escaped (per thread). A struct cs_json_sink collects records
 * in its own buffer, so that stdio is called once per SINK_OUT bytes, not
 * once per record.
 */
#include "sinks.h"
#include "bytes.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define SINK_BUF 4096                   /* the most any single step reserves */
#define SINK_OUT (64 * 1024)            /* a cs_json_sink's buffer */

struct jbuf {
	FILE *f;
	char *buf, *end;                /* end - buf >= SINK_BUF */
};

struct cs_json_sink {
	struct jbuf j;
	size_t used;                    /* bytes of finished records in j.buf */
	char out[SINK_OUT];
};

/* Writes out buf[0..o); returns where writing starts again. */
static char *jflush(struct jbuf *j, char *o)
{
	if (o > j->buf)
		fwrite(j->buf, 1, (size_t)(o - j->buf), j->f);
	return j->buf;
}

/* Makes room for n more bytes (n <= SINK_BUF) at o. */
static inline char *jreserve(struct jbuf *j, char *o, size_t n)
{
	if (__builtin_expect(o + n > j->end, 0))
		return jflush(j, o);
	return o;
}

static char *jput_slow(struct jbuf *j, char *o, const char *s, size_t n)
{
	while (n) {
		size_t room, chunk;

		o = jreserve(j, o, 1);
		room = (size_t)(j->end - o);
		chunk = n < room ? n : room;
		memcpy(o, s, chunk);
		o += chunk;
		s += chunk;
		n -= chunk;
	}
	return o;
}

static inline char *jput(struct jbuf *j, char *o, const char *s, size_t n)
{
	if (__builtin_expect(o + n > j->end, 0))
		return jput_slow(j, o, s, n);
	memcpy(o, s, n);
	return o + n;
}

#define JPUT_LIT(j, o, lit) jput((j), (o), (lit), sizeof(lit) - 1)

const unsigned char cs_reasons_by_name[CS_R_COUNT] = {
	4, /* bot_agent */
	2, /* burst */
	5, /* head_request */
	6, /* honeypot */
	7, /* learned_range */
	3, /* multi_ip */
	0, /* scanner_range */
	1, /* weak_range */
};

/*
 * Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF), or 0 if there is none.
 */
static size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/*
 * Flags (high bit of each byte) the bytes of a little-endian word that need
 * more than a copy: controls, '"', '\\', DEL and everything above ASCII.
 * Borrows can flag bytes above a flagged one, never below: the lowest flag
 * is exact, which is all the caller uses.
 */
static inline uint64_t special_bytes(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\'), del = x ^ (ones * 0x7f);

	return (x | (x - ones * 0x20) | ((quote - ones) & ~quote) |
		((backslash - ones) & ~backslash) | ((del - ones) & ~del)) & (ones * 0x80);
}

#ifdef __SSE2__
/* special_bytes() for 16 bytes: bit k of the result flags s[k]. */
static inline unsigned special_mask16(const unsigned char *s)
{
	__m128i x = _mm_loadu_si128((const __m128i *)s);
	/* signed: bytes from 0x80 up count as negative, below 0x20 */
	__m128i low = _mm_cmplt_epi8(x, _mm_set1_epi8(0x20));
	__m128i quote = _mm_cmpeq_epi8(x, _mm_set1_epi8('"'));
	__m128i backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'));
	__m128i del = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f));

	return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(low, quote),
							_mm_or_si128(backslash, del)));
}
#endif

static inline void store_le64(char *p, uint64_t x)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	memcpy(p, &x, 8);
}

/*
 * The next (up to) 8 bytes of s[i..n) as a little-endian word, without
 * reading past s + n; bytes past the end read as 'A', which is plain.
 */
#define PLAIN_FILL 0x4141414141414141ull    /* "AAAAAAAA" */

static inline uint64_t next_word(const unsigned char *s, size_t i, size_t n)
{
	size_t r = n - i;
	uint64_t w;

	if (r >= 8)
		return cs_load_le64(s + i);
	if (n >= 8) {
		/* the last 8 bytes of s, shifted down past those already done */
		w = cs_load_le64(s + n - 8) >> (8 * (8 - r));
	} else if (r >= 4) {
		/* two overlapping 4-byte loads: the shared bytes are the same */
		w = cs_load_le32(s + i) | (uint64_t)cs_load_le32(s + i + r - 4) << (8 * (r - 4));
	} else {
		/* 1 to 3 bytes: first, middle and last cover them all */
		w = s[i] | (uint64_t)s[i + r / 2] << (8 * (r / 2)) |
		    (uint64_t)s[i + r - 1] << (8 * (r - 1));
	}
	return w | PLAIN_FILL << (8 * r);
}

static char *jstring_any(struct jbuf *j, char *o, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	/* every step below writes at most 16 bytes; the closing quote one more */
	char *limit = j->end - 17;

	o = jreserve(j, o, 17);
	*o++ = '"';
	for (size_t i = 0; i < n;) {
		unsigned char c;
		size_t seq;

		if (__builtin_expect(o > limit, 0))
			o = jflush(j, o);
#ifdef __SSE2__
		/* long plain runs, 16 bytes at a time */
		if (n - i >= 16) {
			unsigned special = special_mask16(s + i);
			size_t plain = special ? (size_t)__builtin_ctz(special) : 16;

			_mm_storeu_si128((__m128i *)o, _mm_loadu_si128((const __m128i *)(s + i)));
			o += plain;
			i += plain;
			if (plain)
				continue;       /* back past the room check */
		}
#endif
		/* plain runs, a word at a time */
		{
			uint64_t w = next_word(s, i, n), special = special_bytes(w);
			size_t take = n - i < 8 ? n - i : 8;
			size_t plain = special ? (size_t)__builtin_ctzll(special) / 8 : take;

			store_le64(o, w);
			o += plain;
			i += plain;
			if (plain)
				continue;       /* back past the room check */
		}
		/* s[i] needs more than a copy */
		c = s[i];
		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = c;
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 0xf];
			o += 6;
			i++;
		} else if ((seq = utf8_seq_len(s + i, n - i))) {
			memcpy(o, s + i, seq);
			o += seq;
			i += seq;
		} else {
			memcpy(o, "\\ufffd", 6);
			o += 6;
			i++;
		}
	}
	*o++ = '"';
	return o;
}

/*
 * A JSON string. Inlined for the fields that are mostly short and plain
 * (ids, method, provider): one or two tests and two stores, no call, no loop.
 */
static inline __attribute__((always_inline)) char *jstring_n(struct jbuf *j, char *o,
								   const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;

	if (n && n <= 16 && o + 18 <= j->end) {
		uint64_t lo = next_word(s, 0, n), hi = n > 8 ? next_word(s, 8, n) : PLAIN_FILL;

		if (!(special_bytes(lo) | special_bytes(hi))) {
			*o++ = '"';
			store_le64(o, lo);
			store_le64(o + 8, hi);
			o += n;
			*o++ = '"';
			return o;
		}
	}
#ifdef __SSE2__
	/* up to 32 bytes (long ids): the first and the last 16, overlapping */
	if (n > 16 && n <= 32 && o + 34 <= j->end &&
	    !(special_mask16(s) | special_mask16(s + n - 16))) {
		*o++ = '"';
		_mm_storeu_si128((__m128i *)o, _mm_loadu_si128((const __m128i *)s));
		_mm_storeu_si128((__m128i *)(o + n - 16), _mm_loadu_si128((const __m128i *)(s + n - 16)));
		o += n;
		*o++ = '"';
		return o;
	}
#endif
	return jstring_any(j, o, s, n);
}

/* len: as in struct cs_click, 0 when not given. Four calls a record: inlined. */
static inline __attribute__((always_inline)) char *jstring_or_null(struct jbuf *j, char *o, const char *s, size_t len)
{
	if (!s)
		return JPUT_LIT(j, o, "null");
	return jstring_n(j, o, s, cs_click_strlen(s, len));
}

/*
 * The last string written through a cache, as escaped: every record of a
 * log names the same file, and scanner bursts repeat one user agent.
 * Compared by content, so a hit is exact whatever the caller's pointers.
 */
#define CACHED_RAW_MAX 256

struct escape_cache {
	size_t raw_len;                 /* SIZE_MAX: empty */
	size_t out_len;
	char raw[CACHED_RAW_MAX];
	char out[6 * CACHED_RAW_MAX + 2];
};

static char *jstring_cached(struct jbuf *j, char *o, struct escape_cache *c, const char *s,
			    size_t len)
{
	size_t n = cs_click_strlen(s, len);
	char *start;

	if (n > CACHED_RAW_MAX)
		return jstring_n(j, o, s, n);
	if (n == c->raw_len && !memcmp(s, c->raw, n))
		return jput(j, o, c->out, c->out_len);
	/* room for the worst case, so that the escaped text stays in one piece */
	o = jreserve(j, o, sizeof(c->out) + 17);
	start = o;
	o = jstring_n(j, o, s, n);
	c->out_len = (size_t)(o - start);
	memcpy(c->out, start, c->out_len);
	memcpy(c->raw, s, n);
	c->raw_len = n;
	return o;
}

/*
 * Verdict and reason names: our own vocabulary, plain ASCII, never
 * escaped. Quoted once per thread, then copied as a fixed-size block.
 */
#define NAME_TOKEN 32

struct name_token {
	const char *name;
	uint8_t len;                    /* 0: too long for a token */
	char text[NAME_TOKEN];          /* "name" with its quotes */
};

struct names {
	struct name_token tokens[3 + CS_R_COUNT];   /* the verdicts, then the reasons by bit */
	uint16_t by_name[1u << CS_R_COUNT];         /* reason bits -> the same in name order */
};

static void name_token_init(struct name_token *t, const char *name)
{
	size_t n = strlen(name);

	t->name = name;
	t->len = 0;
	if (n + 2 > NAME_TOKEN)
		return;
	t->text[0] = '"';
	memcpy(t->text + 1, name, n);
	t->text[n + 1] = '"';
	t->len = (uint8_t)(n + 2);
}

static const struct names *names_get(void)
{
	static __thread struct names names;
	static __thread bool ready;

	if (!ready) {
		for (unsigned k = 0; k < 3; k++)
			name_token_init(&names.tokens[k], cs_verdict_name(k));
		for (unsigned r = 0; r < CS_R_COUNT; r++)
			name_token_init(&names.tokens[3 + r], cs_reason_name(r));
		for (unsigned bits = 0; bits < 1u << CS_R_COUNT; bits++)
			for (unsigned i = 0; i < CS_R_COUNT; i++)
				names.by_name[bits] |= ((bits >> cs_reasons_by_name[i]) & 1u) << i;
		ready = true;
	}
	return &names;
}

static char *jname(struct jbuf *j, char *o, const struct name_token *t)
{
	if (__builtin_expect(!t->len, 0))
		return jstring_or_null(j, o, t->name, 0);
	o = jreserve(j, o, NAME_TOKEN);
	memcpy(o, t->text, NAME_TOKEN);
	return o + t->len;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	yoe = z - era * 146097;
	yoe = (yoe - yoe / 1460 + yoe / 36524 - yoe / 146096) / 365;
	doy = z - era * 146097 - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

/* Writes value as exactly width decimal digits (leading zeros). */
static char *digits(char *o, uint32_t value, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		o[i] = '0' + value % 10;
		value /= 10;
	}
	return o + width;
}

static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* The six digits of the microseconds, two at a time. */
static char *put_micros(char *o, uint32_t us)
{
	memcpy(o, digit_pairs + 2 * (us / 10000), 2);
	memcpy(o + 2, digit_pairs + 2 * (us / 100 % 100), 2);
	memcpy(o + 4, digit_pairs + 2 * (us % 100), 2);
	return o + 6;
}

/* Two decimal digits of v (< 100). */
static char *put_2digits(char *o, unsigned v)
{
	memcpy(o, digit_pairs + 2 * v, 2);
	return o + 2;
}

/*
 * RFC 3339 UTC with microseconds: 2026-11-16T08:06:58.217110Z. Records
 * come in time order, many per second: the text up to the second is kept
 * per thread and only the microseconds are written anew; the date part,
 * which changes once a day, is kept when the second moves on.
 */
static char *jtimestamp(struct jbuf *j, char *o, uint64_t ts_us)
{
	static __thread struct {
		uint64_t secs, days;
		size_t len, date_len;
		char text[32];                  /* '"' through the seconds */
	} cache = { .secs = UINT64_MAX, .days = UINT64_MAX };
	uint64_t secs = ts_us / 1000000;

	if (secs != cache.secs) {
		uint64_t days = secs / 86400;
		unsigned sod = (unsigned)(secs % 86400);
		char *t;

		if (days != cache.days) {
			unsigned month, day;
			int64_t year;

			civil_from_days((int64_t)days, &year, &month, &day);
			t = cache.text;
			*t++ = '"';
			/* years past 9999 take more digits; the µs clock cannot go below 1970 */
			t = digits(t, (uint32_t)year, year > 9999 ? (year > 99999 ? 6 : 5) : 4);
			*t++ = '-';
			t = digits(t, month, 2);
			*t++ = '-';
			t = digits(t, day, 2);
			*t++ = 'T';
			cache.date_len = (size_t)(t - cache.text);
			cache.days = days;
		}
		t = cache.text + cache.date_len;
		t = put_2digits(t, sod / 3600);
		*t++ = ':';
		t = put_2digits(t, sod / 60 % 60);
		*t++ = ':';
		t = put_2digits(t, sod % 60);
		cache.len = (size_t)(t - cache.text);
		cache.secs = secs;
	}
	o = jreserve(j, o, sizeof(cache.text) + 10);
	memcpy(o, cache.text, sizeof(cache.text));
	o += cache.len;
	*o++ = '.';
	o = put_micros(o, (uint32_t)(ts_us % 1000000));
	*o++ = 'Z';
	*o++ = '"';
	return o;
}

/* Decimal digits of value, without leading zeros. */
static char *jdecimal(struct jbuf *j, char *o, uint64_t value)
{
	char tmp[20], *t = tmp + sizeof(tmp);

	for (; value >= 100; value /= 100) {
		t -= 2;
		memcpy(t, digit_pairs + 2 * (value % 100), 2);
	}
	if (value >= 10) {
		t -= 2;
		memcpy(t, digit_pairs + 2 * value, 2);
	} else {
		*--t = (char)('0' + value);
	}
	return jput(j, o, t, (size_t)(tmp + sizeof(tmp) - t));
}

/* Appends one record at o; returns where it ends. */
static char *put_record(struct jbuf *j, char *o, const struct cs_click *click,
			const struct cs_verdict *v)
{
	static __thread struct escape_cache agent_cache = { .raw_len = SIZE_MAX };
	static __thread struct escape_cache file_cache = { .raw_len = SIZE_MAX };
	const struct names *names = names_get();
	bool first = true;
	unsigned by_name;

	o = JPUT_LIT(j, o, "{\"ts\":");
	o = jtimestamp(j, o, click->ts_us);
	o = JPUT_LIT(j, o, ",\"ip\":");
	if (click->client.family) {
		/* address text never needs escaping */
		o = jreserve(j, o, CS_ADDR_STRLEN + 2);
		*o++ = '"';
		o = cs_addr_write(&click->client, o);
		*o++ = '"';
	} else {
		o = JPUT_LIT(j, o, "null");
	}
	o = JPUT_LIT(j, o, ",\"method\":");
	/* method is a fixed array that a parser may have filled to the brim */
	o = jstring_n(j, o, click->method, cs_click_method_len(click->method));
	o = JPUT_LIT(j, o, ",\"message\":");
	o = jstring_or_null(j, o, click->message, click->message_len);
	o = JPUT_LIT(j, o, ",\"recipient\":");
	o = jstring_or_null(j, o, click->recipient, click->recipient_len);
	o = JPUT_LIT(j, o, ",\"link\":");
	o = jstring_or_null(j, o, click->link, click->link_len);
	o = JPUT_LIT(j, o, ",\"user_agent\":");
	o = jstring_cached(j, o, &agent_cache, click->user_agent ? click->user_agent : "",
			   click->user_agent_len);
	o = JPUT_LIT(j, o, ",\"verdict\":");
	o = (unsigned)v->kind < 3 ? jname(j, o, &names->tokens[v->kind]) :
				    jstring_or_null(j, o, cs_verdict_name(v->kind), 0);
	o = JPUT_LIT(j, o, ",\"reasons\":[");
	for (by_name = names->by_name[v->reasons & ((1u << CS_R_COUNT) - 1)]; by_name;
	     by_name &= by_name - 1) {
		unsigned bit = cs_reasons_by_name[__builtin_ctz(by_name)];

		if (!first)
			o = JPUT_LIT(j, o, ",");
		o = jname(j, o, &names->tokens[3 + bit]);
		first = false;
	}
	o = JPUT_LIT(j, o, "],\"provider\":");
	o = jstring_or_null(j, o, v->provider, 0);
	if (click->pos.file) {
		o = JPUT_LIT(j, o, ",\"file\":");
		o = jstring_cached(j, o, &file_cache, click->pos.file, click->pos.file_len);
		o = JPUT_LIT(j, o, ",\"line\":");
		o = jdecimal(j, o, click->pos.line);
	}
	return JPUT_LIT(j, o, "}\n");
}

void cs_sink_json_write(FILE *f, const struct cs_click *click, const struct cs_verdict *v)
{
	char buf[SINK_BUF];
	struct jbuf j = { .f = f, .buf = buf, .end = buf + sizeof(buf) };

	jflush(&j, put_record(&j, j.buf, click, v));
}

struct cs_json_sink *cs_json_sink_new(FILE *f)
{
	struct cs_json_sink *s = malloc(sizeof(*s));

	if (!s)
		return NULL;
	s->j = (struct jbuf){ .f = f, .buf = s->out, .end = s->out + sizeof(s->out) };
	s->used = 0;
	return s;
}

void cs_json_sink_write(struct cs_json_sink *s, const struct cs_click *click,
			const struct cs_verdict *v)
{
	s->used = (size_t)(put_record(&s->j, s->j.buf + s->used, click, v) - s->j.buf);
}

int cs_json_sink_flush(struct cs_json_sink *s)
{
	size_t n = s->used;

	s->used = 0;
	return n && fwrite(s->j.buf, 1, n, s->j.f) != n ? -1 : 0;
}

void cs_json_sink_free(struct cs_json_sink *s)
{
	free(s);
}
