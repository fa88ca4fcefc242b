/*
 * JSON-lines verdict sink. A record is built in a stack buffer and written
 * with one fwrite; only records with very long strings (kilobytes of user
 * agent) take more than one. Every string is escaped so that the output is
 * always valid JSON whatever bytes the input held: '"', '\\' and control
 * characters are escaped (controls as \u00XX), and each byte that is not
 * part of a well-formed UTF-8 sequence becomes \ufffd.
 */
#include "sinks.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#define SINK_BUF 4096

struct jbuf {
	FILE *f;
	size_t len;
	char buf[SINK_BUF];
};

static void jflush(struct jbuf *j)
{
	if (j->len)
		fwrite(j->buf, 1, j->len, j->f);
	j->len = 0;
}

/* Makes room for n more bytes (n <= SINK_BUF). */
static inline void jreserve(struct jbuf *j, size_t n)
{
	if (j->len + n > SINK_BUF)
		jflush(j);
}

static void jput_slow(struct jbuf *j, const char *s, size_t n)
{
	while (n) {
		size_t room, chunk;

		jreserve(j, 1);
		room = SINK_BUF - j->len;
		chunk = n < room ? n : room;
		memcpy(j->buf + j->len, s, chunk);
		j->len += chunk;
		s += chunk;
		n -= chunk;
	}
}

static inline void jput(struct jbuf *j, const char *s, size_t n)
{
	if (__builtin_expect(j->len + n > SINK_BUF, 0)) {
		jput_slow(j, s, n);
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
}

#define JPUT_LIT(j, lit) jput((j), (lit), sizeof(lit) - 1)

/* Bytes copied as they are: printable ASCII other than '"' and '\\'. */
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

static const bool plain_byte[256] = {
	[0x20 ... 0x21] = true, [0x23 ... 0x5b] = true, [0x5d ... 0x7e] = true,
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

static void jstring(struct jbuf *j, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);
	char *o, *limit = j->buf + SINK_BUF - 8;        /* room for the longest escape */

	jreserve(j, 8);
	o = j->buf + j->len;
	*o++ = '"';
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t seq;

		if (__builtin_expect(o > limit, 0)) {
			j->len = o - j->buf;
			jflush(j);
			o = j->buf;
		}
		if (plain_byte[c]) {
			*o++ = c;
			i++;
		} else if (c == '"' || c == '\\') {
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
	j->len = o - j->buf;
}

static void jstring_or_null(struct jbuf *j, const char *s)
{
	if (s)
		jstring(j, s);
	else
		JPUT_LIT(j, "null");
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
static char *digits(char *o, uint64_t value, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		o[i] = '0' + value % 10;
		value /= 10;
	}
	return o + width;
}

/* RFC 3339 UTC with microseconds: 2026-11-16T08:06:58.217110Z */
static void jtimestamp(struct jbuf *j, uint64_t ts_us)
{
	uint64_t secs = ts_us / 1000000;
	unsigned sod = secs % 86400;
	int64_t year;
	unsigned month, day;
	char tmp[40], *o = tmp;

	civil_from_days(secs / 86400, &year, &month, &day);
	*o++ = '"';
	/* years past 9999 take more digits; the µs clock cannot go below 1970 */
	o = digits(o, year, year > 9999 ? (year > 99999 ? 6 : 5) : 4);
	*o++ = '-';
	o = digits(o, month, 2);
	*o++ = '-';
	o = digits(o, day, 2);
	*o++ = 'T';
	o = digits(o, sod / 3600, 2);
	*o++ = ':';
	o = digits(o, sod / 60 % 60, 2);
	*o++ = ':';
	o = digits(o, sod % 60, 2);
	*o++ = '.';
	o = digits(o, ts_us % 1000000, 6);
	*o++ = 'Z';
	*o++ = '"';
	jput(j, tmp, o - tmp);
}

void cs_sink_json_write(FILE *f, const struct cs_click *click, const struct cs_verdict *v)
{
	struct jbuf j;
	char addr[CS_ADDR_STRLEN];
	bool first = true;

	/* not "= { .f = f }": that would zero the whole buffer on every record */
	j.f = f;
	j.len = 0;
	JPUT_LIT(&j, "{\"ts\":");
	jtimestamp(&j, click->ts_us);
	JPUT_LIT(&j, ",\"ip\":");
	jstring_or_null(&j, click->client.family ? cs_addr_format(&click->client, addr) : NULL);
	JPUT_LIT(&j, ",\"method\":");
	/* method is a fixed array that a parser may have filled to the brim */
	{
		char method[CS_METHOD_LEN + 1];

		memcpy(method, click->method, CS_METHOD_LEN);
		method[CS_METHOD_LEN] = '\0';
		jstring(&j, method);
	}
	JPUT_LIT(&j, ",\"message\":");
	jstring_or_null(&j, click->message);
	JPUT_LIT(&j, ",\"recipient\":");
	jstring_or_null(&j, click->recipient);
	JPUT_LIT(&j, ",\"link\":");
	jstring_or_null(&j, click->link);
	JPUT_LIT(&j, ",\"user_agent\":");
	jstring(&j, click->user_agent ? click->user_agent : "");
	JPUT_LIT(&j, ",\"verdict\":");
	jstring_or_null(&j, cs_verdict_name(v->kind));
	JPUT_LIT(&j, ",\"reasons\":[");
	for (size_t i = 0; i < CS_R_COUNT; i++) {
		unsigned bit = cs_reasons_by_name[i];
		const char *name;

		if (!(v->reasons & (1u << bit)) || !(name = cs_reason_name(bit)))
			continue;
		if (!first)
			JPUT_LIT(&j, ",");
		jstring(&j, name);
		first = false;
	}
	JPUT_LIT(&j, "],\"provider\":");
	jstring_or_null(&j, v->provider);
	if (click->pos.file) {
		char line[32];
		int n = snprintf(line, sizeof(line), ",\"line\":%" PRIu64, click->pos.line);

		JPUT_LIT(&j, ",\"file\":");
		jstring(&j, click->pos.file);
		jput(&j, line, n);
	}
	JPUT_LIT(&j, "}\n");
	jflush(&j);
}
