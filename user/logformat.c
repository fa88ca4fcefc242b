#include "logformat.h"
#include "bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum var {
	V_SKIP = 0,                     /* a variable we do not read */
	V_REMOTE_ADDR,
	V_REMOTE_USER,
	V_TIME_LOCAL,
	V_TIME_ISO8601,
	V_MSEC,
	V_REQUEST,
	V_REQUEST_METHOD,
	V_REQUEST_URI,
	V_STATUS,
	V_BODY_BYTES_SENT,
	V_BYTES_SENT,
	V_HTTP_REFERER,
	V_HTTP_USER_AGENT,
	V_HTTP_X_FORWARDED_FOR,
	V_HTTP_FORWARDED,
	V_COUNT,
};

static const char *const var_names[V_COUNT] = {
	[V_REMOTE_ADDR] = "remote_addr",
	[V_REMOTE_USER] = "remote_user",
	[V_TIME_LOCAL] = "time_local",
	[V_TIME_ISO8601] = "time_iso8601",
	[V_MSEC] = "msec",
	[V_REQUEST] = "request",
	[V_REQUEST_METHOD] = "request_method",
	[V_REQUEST_URI] = "request_uri",
	[V_STATUS] = "status",
	[V_BODY_BYTES_SENT] = "body_bytes_sent",
	[V_BYTES_SENT] = "bytes_sent",
	[V_HTTP_REFERER] = "http_referer",
	[V_HTTP_USER_AGENT] = "http_user_agent",
	[V_HTTP_X_FORWARDED_FOR] = "http_x_forwarded_for",
	[V_HTTP_FORWARDED] = "http_forwarded",
};

enum step_kind { STEP_LITERAL, STEP_FIELD };

struct step {
	uint8_t kind;
	uint8_t var;                    /* enum var, for fields */
	bool quoted;                    /* field between quotes: backslash escapes a char */
	char stop;                      /* first byte of the next literal; NUL = end of line */
	uint32_t lit_off, lit_len;      /* literal text in fmt->text */
	uint64_t lit_word, lit_mask;    /* literals up to 8 bytes, for one compare; else mask 0 */
};

struct json_key {
	const char *name;               /* into fmt->text */
	size_t len;
};

/* The last date converted: most lines of a log share it. */
struct date_cache {
	char key[16];
	size_t key_len;
	int64_t base_s;                 /* epoch seconds at 00:00:00 of the date, minus offset */
};

/* Formats with a one-pass parser of their own in front of the general one. */
enum fast_format { FAST_NONE, FAST_COMBINED, FAST_COMMON };

struct cs_logformat {
	bool json;
	uint8_t fast;                   /* enum fast_format */
	struct step *steps;
	size_t n_steps;
	char *text;                     /* literals, and JSON key names */
	struct json_key keys[V_COUNT];
	struct date_cache local_cache;
	struct date_cache iso_cache;
};

/* A field's text in the line; valid when its bit is in the parse's set mask. */
struct span {
	char *p;
	size_t len;
};

static inline bool has(uint32_t set, enum var v)
{
	return set & (1u << v);
}

/* memcmp() == 0 for the few bytes of a literal, without a call. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static inline uint64_t load64(const char *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
	return x;
}

/*
 * memchr() for unquoted fields, which are short (address, date, status):
 * a word at a time without a call. The zero-byte test has no carries
 * between bytes, so each flag is exact in either byte order.
 */
static inline char *find_byte(char *p, char *end, char c)
{
	const uint64_t ones = 0x0101010101010101ull, low7 = ones * 0x7f;

	for (; end - p >= 8; p += 8) {
		uint64_t x = load64(p) ^ (ones * (unsigned char)c);
		uint64_t zero = ~(((x & low7) + low7) | x | low7);

		if (zero) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
			return p + __builtin_clzll(zero) / 8;
#else
			return p + __builtin_ctzll(zero) / 8;
#endif
		}
	}
	for (; p < end; p++)
		if (*p == c)
			return p;
	return NULL;
}

bool cs_logformat_var_known(const char *name)
{
	for (int v = 1; v < V_COUNT; v++)
		if (!strcmp(var_names[v], name))
			return true;
	return false;
}

static enum var var_lookup(const char *name, size_t len)
{
	for (int v = 1; v < V_COUNT; v++)
		if (strlen(var_names[v]) == len && !memcmp(var_names[v], name, len))
			return v;
	return V_SKIP;
}

void cs_logformat_free(struct cs_logformat *f)
{
	if (!f)
		return;
	free(f->steps);
	free(f->text);
	free(f);
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int compile_nginx(struct cs_logformat *f, const char *spec, char *err, size_t errlen)
{
	size_t spec_len = strlen(spec), text_len = 0;
	bool has_addr = false, has_time = false, has_target = false;
	const char *s = spec;

	/* At most one step per byte, and literal text never outgrows the spec. */
	f->steps = calloc(spec_len + 1, sizeof(*f->steps));
	f->text = malloc(spec_len + 1);
	if (!f->steps || !f->text) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (*s) {
		const char *name = NULL;
		size_t name_len = 0;

		if (s[0] == '$' && s[1] == '{') {
			const char *close = strchr(s + 2, '}');

			if (!close || close == s + 2) {
				snprintf(err, errlen, "unterminated ${...} at column %zu", (size_t)(s - spec) + 1);
				return -1;
			}
			name = s + 2;
			name_len = (size_t)(close - name);
			s = close + 1;
		} else if (s[0] == '$' && is_name_char(s[1])) {
			name = s + 1;
			while (is_name_char(name[name_len]))
				name_len++;
			s = name + name_len;
		}
		if (name) {
			struct step *st = &f->steps[f->n_steps];

			if (f->n_steps && st[-1].kind == STEP_FIELD) {
				snprintf(err, errlen, "variables at column %zu follow another without text between them",
					 (size_t)(name - spec));
				return -1;
			}
			st->kind = STEP_FIELD;
			st->var = var_lookup(name, name_len);
			has_addr |= st->var == V_REMOTE_ADDR;
			has_time |= st->var == V_TIME_LOCAL || st->var == V_TIME_ISO8601 || st->var == V_MSEC;
			has_target |= st->var == V_REQUEST || st->var == V_REQUEST_URI;
			f->n_steps++;
			continue;
		}
		if (!f->n_steps || f->steps[f->n_steps - 1].kind != STEP_LITERAL) {
			f->steps[f->n_steps].kind = STEP_LITERAL;
			f->steps[f->n_steps].lit_off = (uint32_t)text_len;
			f->n_steps++;
		}
		f->text[text_len++] = *s++;
		f->steps[f->n_steps - 1].lit_len++;
	}
	f->text[text_len] = '\0';
	if (!has_addr || !has_time || !has_target) {
		snprintf(err, errlen, "format lacks %s", !has_addr ? "$remote_addr" :
			 !has_time ? "a time ($time_local, $time_iso8601 or $msec)" :
			 "the request ($request or $request_uri)");
		return -1;
	}
	for (size_t i = 0; i < f->n_steps; i++) {
		struct step *st = &f->steps[i];

		if (st->kind == STEP_LITERAL && st->lit_len <= 8) {
			memcpy(&st->lit_word, f->text + st->lit_off, st->lit_len);
			memset(&st->lit_mask, 0xff, st->lit_len);
		}
		if (st->kind != STEP_FIELD)
			continue;
		if (i + 1 < f->n_steps)
			st->stop = f->text[st[1].lit_off];
		st->quoted = i > 0 && i + 1 < f->n_steps && st->stop == '"' &&
			     f->text[st[-1].lit_off + st[-1].lit_len - 1] == '"';
	}
	return 0;
}

static int compile_json(struct cs_logformat *f, const char *const *vars, const char *const *keys,
			size_t n, char *err, size_t errlen)
{
	size_t text_len = 0, off = 0;

	for (size_t i = 0; i < n; i++)
		text_len += strlen(keys[i]) + 1;
	f->text = malloc(text_len + 1);
	if (!f->text) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	f->json = true;
	for (int v = 1; v < V_COUNT; v++) {
		f->keys[v].name = var_names[v];
		f->keys[v].len = strlen(var_names[v]);
	}
	for (size_t i = 0; i < n; i++) {
		enum var v = var_lookup(vars[i], strlen(vars[i]));

		if (v == V_SKIP) {
			snprintf(err, errlen, "[json] %s: not an nginx variable clicksieve reads", vars[i]);
			return -1;
		}
		strcpy(f->text + off, keys[i]);
		f->keys[v].name = f->text + off;
		f->keys[v].len = strlen(keys[i]);
		off += f->keys[v].len + 1;
	}
	return 0;
}

struct cs_logformat *cs_logformat_compile(const char *spec, const char *const *json_vars,
					  const char *const *json_keys, size_t n_json,
					  char *err, size_t errlen)
{
	struct cs_logformat *f = calloc(1, sizeof(*f));
	int rc;

	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!strcmp(spec, "json"))
		rc = compile_json(f, json_vars, json_keys, n_json, err, errlen);
	else if (!strcmp(spec, "combined"))
		rc = compile_nginx(f, CS_LOGFORMAT_COMBINED, err, errlen);
	else if (!strcmp(spec, "common"))
		rc = compile_nginx(f, CS_LOGFORMAT_COMMON, err, errlen);
	else if (strchr(spec, '$'))
		rc = compile_nginx(f, spec, err, errlen);
	else {
		snprintf(err, errlen, "unknown format '%s' (combined, common, json, or an nginx log_format string)",
			 spec);
		rc = -1;
	}
	if (rc) {
		cs_logformat_free(f);
		return NULL;
	}
	/* also when the log_format string is spelled out */
	if (!strcmp(spec, "combined") || !strcmp(spec, CS_LOGFORMAT_COMBINED))
		f->fast = FAST_COMBINED;
	else if (!strcmp(spec, "common") || !strcmp(spec, CS_LOGFORMAT_COMMON))
		f->fast = FAST_COMMON;
	return f;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool valid_date(int y, unsigned m, unsigned d)
{
	static const unsigned char mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (y < 1970 || m < 1 || m > 12 || d < 1)
		return false;
	return d <= (unsigned)(mdays[m - 1] + (m == 2 && leap));
}

static bool digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* "+hhmm" / "-hhmm" or, with colon, "+hh:mm"; returns seconds east of UTC. */
static bool parse_offset(const char *s, size_t len, int64_t *out)
{
	unsigned h, m;
	size_t mpos = len == 6 ? 4 : 3;

	if ((len != 5 && len != 6) || (s[0] != '+' && s[0] != '-') || (len == 6 && s[3] != ':'))
		return false;
	if (!digits(s + 1, 2, &h) || !digits(s + mpos, 2, &m) || h > 23 || m > 59)
		return false;
	*out = (s[0] == '-' ? -1 : 1) * (int64_t)(h * 3600 + m * 60);
	return true;
}

static bool parse_hms(const char *s, int64_t *out)
{
	unsigned h, m, sec;

	if (s[2] != ':' || s[5] != ':' || !digits(s, 2, &h) || !digits(s + 3, 2, &m) ||
	    !digits(s + 6, 2, &sec) || h > 23 || m > 59 || sec > 60)
		return false;
	*out = h * 3600 + m * 60 + sec;
	return true;
}

static int month_index(const char *s)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++)
		if (!memcmp(names + 3 * i, s, 3))
			return i + 1;
	return 0;
}

static bool to_us(int64_t secs, uint64_t frac_us, uint64_t *out)
{
	if (secs < 0)
		return false;
	*out = (uint64_t)secs * 1000000 + frac_us;
	return true;
}

/* $time_local: "03/Mar/2019:22:06:33 -0100". */
static bool parse_time_local(struct date_cache *c, const char *s, size_t len, uint64_t *out)
{
	int64_t hms;

	if (len != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[20] != ' ')
		return false;
	/* date "03/Mar/2019" and zone "-0100" against the cache, in overlapping words */
	if (c->key_len != 16 || load64(c->key) != load64(s) ||
	    load64(c->key + 3) != load64(s + 3) || memcmp(c->key + 11, s + 21, 4) ||
	    c->key[15] != s[25]) {
		unsigned d, y;
		int m = month_index(s + 3);
		int64_t off;

		if (!digits(s, 2, &d) || !m || !digits(s + 7, 4, &y) || !valid_date((int)y, (unsigned)m, d) ||
		    !parse_offset(s + 21, 5, &off))
			return false;
		memcpy(c->key, s, 11);
		memcpy(c->key + 11, s + 21, 5);
		c->key_len = 16;
		c->base_s = days_from_civil(y, (unsigned)m, d) * 86400 - off;
	}
	return parse_hms(s + 12, &hms) && to_us(c->base_s + hms, 0, out);
}

static bool parse_fraction(const char **p, const char *end, uint64_t *us)
{
	const char *s = *p;
	uint64_t scale = 100000;

	*us = 0;
	if (s == end || *s != '.')
		return true;
	s++;
	if (s == end || *s < '0' || *s > '9')
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; s++, scale /= 10)
		*us += (uint64_t)(*s - '0') * scale;
	*p = s;
	return true;
}

/* $time_iso8601: "2019-03-03T22:06:33-01:00", also with ".fff" and "Z". */
static bool parse_time_iso(struct date_cache *c, const char *s, size_t len, uint64_t *out)
{
	const char *p = s + 19, *end = s + len;
	int64_t hms, off = 0;
	uint64_t frac;

	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' '))
		return false;
	if (c->key_len != 10 || memcmp(c->key, s, 10)) {
		unsigned y, m, d;

		if (!digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d) ||
		    !valid_date((int)y, m, d))
			return false;
		memcpy(c->key, s, 10);
		c->key_len = 10;
		c->base_s = days_from_civil(y, m, d) * 86400;
	}
	if (!parse_hms(s + 11, &hms) || !parse_fraction(&p, end, &frac))
		return false;
	if (end - p == 1 && *p == 'Z')
		off = 0;
	else if (!parse_offset(p, (size_t)(end - p), &off))
		return false;
	return to_us(c->base_s + hms - off, frac, out);
}

/* $msec: "1551654393.123". */
static bool parse_msec(const char *s, size_t len, uint64_t *out)
{
	const char *p = s, *end = s + len;
	uint64_t secs = 0, frac;

	if (len == 0)
		return false;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		secs = secs * 10 + (uint64_t)(*p - '0');
		if (secs > 100000000000ull)
			return false;
	}
	if (p == s || !parse_fraction(&p, end, &frac) || p != end)
		return false;
	*out = secs * 1000000 + frac;
	return true;
}

static bool hex_n(const char *s, const char *end, int n, unsigned *out)
{
	unsigned v = 0;

	if (end - s < n)
		return false;
	for (int i = 0; i < n; i++) {
		int h = cs_hex_digit((unsigned char)s[i]);

		if (h < 0)
			return false;
		v = v << 4 | (unsigned)h;
	}
	*out = v;
	return true;
}

static char *put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/*
 * Undoes nginx's escapes in place: \xHH (escape=default), \uXXXX and the
 * JSON short forms (escape=json), and \" \\ as Apache writes them. Output
 * never outgrows input. Unknown escapes are kept as they are. An escape
 * that decodes to NUL would cut the C string short of its length: the
 * first one is reported in *nul_at (a position in the original text).
 */
static size_t unescape(char *s, size_t len, char **nul_at)
{
	char *in = s, *out = s, *end = s + len;

	while (in < end) {
		unsigned v, lo;

		if (*in != '\\' || in + 1 == end) {
			*out++ = *in++;
			continue;
		}
		switch (in[1]) {
		case 'x':
			if (!hex_n(in + 2, end, 2, &v))
				goto keep;
			if (!v && !*nul_at)
				*nul_at = in;
			*out++ = (char)v;
			in += 4;
			continue;
		case 'u':
			if (!hex_n(in + 2, end, 4, &v))
				goto keep;
			if (!v && !*nul_at)
				*nul_at = in;
			in += 6;
			if (v >= 0xd800 && v < 0xdc00 && end - in >= 6 && in[0] == '\\' && in[1] == 'u' &&
			    hex_n(in + 2, end, 4, &lo) && lo >= 0xdc00 && lo < 0xe000) {
				v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
				in += 6;
			}
			out = put_utf8(out, v);
			continue;
		case '"': case '\\': case '/':
			*out++ = in[1];
			break;
		case 'n': *out++ = '\n'; break;
		case 't': *out++ = '\t'; break;
		case 'r': *out++ = '\r'; break;
		case 'b': *out++ = '\b'; break;
		case 'f': *out++ = '\f'; break;
		default:
			goto keep;
		}
		in += 2;
		continue;
keep:
		*out++ = *in++;
	}
	return (size_t)(out - s);
}

/* memchr() for '\\', without the call for the many one-byte "-" fields. */
static inline bool has_backslash(const char *s, size_t len)
{
	if (len > 8)
		return memchr(s, '\\', len) != NULL;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\\')
			return true;
	return false;
}

/*
 * Unescapes and terminates a span; "-" (nginx's empty value) becomes "".
 * Five calls a line: inlined.
 */
static inline __attribute__((always_inline))
const char *finish_text(struct span *sp, bool present, size_t *len_out, char **nul_at)
{
	size_t len = 0;

	if (present) {
		len = sp->len;
		if (has_backslash(sp->p, len))
			len = unescape(sp->p, len, nul_at);
		sp->p[len] = '\0';
		if (len == 1 && sp->p[0] == '-')
			len = 0;
	}
	if (len_out)
		*len_out = len;
	return len ? sp->p : "";
}

static bool reject(struct cs_log_error *e, const char *reason, const char *line, const char *at)
{
	e->reason = reason;
	e->column = (size_t)(at - line) + 1;
	return false;
}

/* Some servers and proxies log an IPv6 peer in brackets, as in a URL (no port). */
static bool parse_remote(const char *p, size_t len, struct cs_addr *out)
{
	if (len >= 2 && p[0] == '[' && p[len - 1] == ']')
		return cs_addr_parse_n(p + 1, len - 2, out) && out->family == 6;
	return cs_addr_parse_n(p, len, out);
}

static bool fill_record(struct cs_logformat *f, struct span *sp, uint32_t set, const char *line,
			struct cs_log_record *rec, struct cs_log_error *e)
{
	struct span *t;
	char *nul_at = NULL;
	bool ok;

	/* every field is set below: no memset, which costs a "rep stos" per line */
	t = &sp[V_REMOTE_ADDR];
	if (!has(set, V_REMOTE_ADDR))
		return reject(e, "missing remote address", line, line);
	if (!parse_remote(t->p, t->len, &rec->remote))
		return reject(e, "bad remote address", line, t->p);

	if (has(set, V_MSEC)) {
		t = &sp[V_MSEC];
		ok = parse_msec(t->p, t->len, &rec->ts_us);
	} else if (has(set, V_TIME_ISO8601)) {
		t = &sp[V_TIME_ISO8601];
		ok = parse_time_iso(&f->iso_cache, t->p, t->len, &rec->ts_us);
	} else if (has(set, V_TIME_LOCAL)) {
		t = &sp[V_TIME_LOCAL];
		ok = parse_time_local(&f->local_cache, t->p, t->len, &rec->ts_us);
	} else {
		return reject(e, "missing time", line, line);
	}
	if (!ok)
		return reject(e, "bad date", line, t->p);

	rec->status = -1;
	if (has(set, V_STATUS) && !(sp[V_STATUS].len == 1 && sp[V_STATUS].p[0] == '-')) {
		unsigned status;

		t = &sp[V_STATUS];
		if (t->len != 3 || !digits(t->p, 3, &status))
			return reject(e, "bad status", line, t->p);
		rec->status = (int)status;
	}

	if (has(set, V_REQUEST_METHOD) && has(set, V_REQUEST_URI)) {
		rec->method = finish_text(&sp[V_REQUEST_METHOD], true, NULL, &nul_at);
		rec->target = finish_text(&sp[V_REQUEST_URI], true, &rec->target_len, &nul_at);
	} else if (has(set, V_REQUEST)) {
		/* "METHOD TARGET HTTP/x.y", or "METHOD TARGET" (HTTP/0.9). */
		size_t len;
		char *req = (char *)finish_text(&sp[V_REQUEST], true, &len, &nul_at);
		char *sp1 = memchr(req, ' ', len), *sp2;

		rec->method = rec->target = "";
		rec->target_len = 0;
		if (sp1) {
			*sp1 = '\0';
			rec->method = req;
			rec->target = sp1 + 1;
			sp2 = memrchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - req));
			if (sp2 && (size_t)(req + len - sp2) > 5 && same_bytes(sp2 + 1, "HTTP/", 5))
				*sp2 = '\0';
			rec->target_len = strlen(rec->target);
		}
	} else if (has(set, V_REQUEST_URI)) {
		rec->method = "";
		rec->target = finish_text(&sp[V_REQUEST_URI], true, &rec->target_len, &nul_at);
	} else {
		return reject(e, "missing request", line, line);
	}

	rec->user_agent = finish_text(&sp[V_HTTP_USER_AGENT], has(set, V_HTTP_USER_AGENT),
				      &rec->user_agent_len, &nul_at);
	rec->referer = finish_text(&sp[V_HTTP_REFERER], has(set, V_HTTP_REFERER), NULL, &nul_at);
	rec->xff = finish_text(&sp[V_HTTP_X_FORWARDED_FOR], has(set, V_HTTP_X_FORWARDED_FOR),
			       &rec->xff_len, &nul_at);
	rec->forwarded = finish_text(&sp[V_HTTP_FORWARDED], has(set, V_HTTP_FORWARDED),
				     &rec->forwarded_len, &nul_at);
	if (nul_at)
		return reject(e, "escaped NUL byte in field", line, nul_at);
	/* The address is parsed; terminate it for readers of the line. */
	sp[V_REMOTE_ADDR].p[sp[V_REMOTE_ADDR].len] = '\0';
	return true;
}

/* First stop byte in [p, end) not escaped by an odd run of backslashes. */
static char *quoted_end(char *p, char *end, char stop)
{
	char *q = p;

	while ((q = memchr(q, stop, (size_t)(end - q)))) {
		char *b = q;

		while (b > p && b[-1] == '\\')
			b--;
		if ((q - b) % 2 == 0)
			return q;
		q++;
	}
	return end;
}

static bool parse_nginx(struct cs_logformat *f, char *line, size_t len, struct span *sp,
			uint32_t *set, struct cs_log_error *e)
{
	char *p = line, *end = line + len;

	for (size_t i = 0; i < f->n_steps; i++) {
		const struct step *st = &f->steps[i];
		char *q;

		if (st->kind == STEP_LITERAL) {
			if (st->lit_mask && end - p >= 8) {
				if ((load64(p) ^ st->lit_word) & st->lit_mask)
					return reject(e, "line does not match the format", line, p);
				p += st->lit_len;
				continue;
			}
			if ((size_t)(end - p) < st->lit_len) {
				if (memcmp(p, f->text + st->lit_off, (size_t)(end - p)))
					return reject(e, "line does not match the format", line, p);
				return reject(e, "truncated line", line, end);
			}
			if (!same_bytes(p, f->text + st->lit_off, st->lit_len))
				return reject(e, "line does not match the format", line, p);
			p += st->lit_len;
			continue;
		}
		if (!st->stop) {
			q = end;
		} else if (st->quoted) {
			q = quoted_end(p, end, st->stop);
		} else {
			q = find_byte(p, end, st->stop);
			if (!q)
				q = end;
		}
		if (q == end && st->stop)
			return reject(e, "truncated line", line, end);
		sp[st->var].p = p;
		sp[st->var].len = (size_t)(q - p);
		*set |= 1u << st->var;
		p = q;
	}
	if (p != end)
		return reject(e, "unexpected text after the last field", line, p);
	return true;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	return p;
}

/* Scans a JSON string starting after its opening quote; returns its closing quote. */
static char *json_string_end(char *p, char *end)
{
	for (; p < end; p++) {
		if (*p == '"')
			return p;
		if (*p == '\\')
			p++;
	}
	return NULL;
}

/* One flat JSON object as nginx's escape=json log_format writes it. */
static bool parse_json(struct cs_logformat *f, char *line, size_t len, struct span *sp,
		       uint32_t *set, struct cs_log_error *e)
{
	char *p = line, *end = line + len;

	p = (char *)skip_ws(p, end);
	if (p == end || *p != '{')
		return reject(e, p == end ? "empty line" : "not a JSON object", line, p);
	p = (char *)skip_ws(p + 1, end);
	if (p < end && *p == '}')
		goto close;
	for (;;) {
		char *key, *key_end, *val, *val_end;
		bool quoted = false;

		if (p == end)
			return reject(e, "truncated line", line, end);
		if (*p != '"')
			return reject(e, "expected a JSON key", line, p);
		key = p + 1;
		key_end = json_string_end(key, end);
		if (!key_end)
			return reject(e, "truncated line", line, end);
		p = (char *)skip_ws(key_end + 1, end);
		if (p == end)
			return reject(e, "truncated line", line, end);
		if (*p != ':')
			return reject(e, "expected ':' in JSON", line, p);
		p = (char *)skip_ws(p + 1, end);
		if (p == end)
			return reject(e, "truncated line", line, end);
		if (*p == '"') {
			quoted = true;
			val = p + 1;
			val_end = json_string_end(val, end);
			if (!val_end)
				return reject(e, "truncated line", line, end);
			p = val_end + 1;
		} else if (*p == '{' || *p == '[') {
			return reject(e, "nested JSON value", line, p);
		} else {
			val = p;
			while (p < end && *p != ',' && *p != '}' && *p != ' ' && *p != '\t')
				p++;
			val_end = p;
			if (val_end == val)
				return reject(e, "expected a JSON value", line, p);
		}
		if (quoted || !(val_end - val == 4 && !memcmp(val, "null", 4))) {
			size_t key_len = (size_t)(key_end - key);

			for (int v = 1; v < V_COUNT; v++) {
				if (f->keys[v].len == key_len && !memcmp(f->keys[v].name, key, key_len)) {
					sp[v].p = val;
					sp[v].len = (size_t)(val_end - val);
					*set |= 1u << v;
					break;
				}
			}
		}
		p = (char *)skip_ws(p, end);
		if (p == end)
			return reject(e, "truncated line", line, end);
		if (*p == '}')
			break;
		if (*p != ',')
			return reject(e, "expected ',' or '}' in JSON", line, p);
		p = (char *)skip_ws(p + 1, end);
	}
close:
	p = (char *)skip_ws(p + 1, end);
	if (p != end)
		return reject(e, "unexpected text after the JSON object", line, p);
	return true;
}

/*
 * The first '"', '\\' or NUL in [p, end): the end of a quoted field, or
 * something that sends the line to the general parser. The line must be
 * at least 16 bytes long and end at end: the last load is the line's
 * last 16 bytes, overlapping bytes already seen.
 */
#ifdef __SSE2__
static inline unsigned quote_or_unusual_mask(const char *at)
{
	__m128i v = _mm_loadu_si128((const __m128i *)at);
	__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
						_mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
				   _mm_cmpeq_epi8(v, _mm_setzero_si128()));

	return (unsigned)_mm_movemask_epi8(hit);
}

static inline char *find_quote_or_unusual(char *p, char *end)
{
	unsigned mask;

	for (; end - p >= 16; p += 16)
		if ((mask = quote_or_unusual_mask(p)))
			return p + __builtin_ctz(mask);
	if (p == end)
		return end;
	/* the bytes before p in the last 16 were seen: shift them out */
	mask = quote_or_unusual_mask(end - 16) >> (16 - (end - p));
	return mask ? p + __builtin_ctz(mask) : end;
}
#else
static inline char *find_quote_or_unusual(char *p, char *end)
{
	for (; p < end; p++)
		if (*p == '"' || *p == '\\' || !*p)
			return p;
	return end;
}
#endif

/* True when one of the 8 bytes at p is a space (exact: no carries between bytes). */
static inline bool has_space8(const char *p)
{
	const uint64_t ones = 0x0101010101010101ull, low7 = ones * 0x7f;
	uint64_t x = load64(p) ^ (ones * ' ');

	return ~(((x & low7) + low7) | x | low7) != 0;
}

/* An unquoted field up to the next space; NULL at a NUL byte or the end of the line. */
static inline char *plain_field_end(char *p, char *end)
{
	for (; p < end; p++) {
		if (*p == ' ')
			return p;
		if (!*p)
			return NULL;
	}
	return NULL;
}

/* A quoted text field, as finish_text() leaves it for a field without escapes. */
static inline const char *plain_text(char *p, char *close, size_t *len_out)
{
	size_t len = (size_t)(close - p);

	*close = '\0';
	if (len == 1 && p[0] == '-')
		len = 0;
	*len_out = len;
	return len ? p : "";
}

/*
 * combined and common in one forward pass, without the step interpreter.
 * Anything unusual (an escape, a NUL, a "-" request or status, a line
 * that does not match) returns false before anything is written to the
 * line, and the general parser takes the line, errors and all: the two
 * give the same record for every line (tests/unit/test_logformat.c and
 * tests/fuzz/fuzz_logformat.c compare them).
 */
static bool parse_combined_fast(struct cs_logformat *f, char *line, size_t len,
				struct cs_log_record *rec)
{
	char *p = line, *end = line + len, *addr_end, *req, *req_end, *sp1, *sp2;
	char *ref = NULL, *ref_end = NULL, *ua = NULL, *ua_end = NULL;
	unsigned status;
	size_t ignored;

	if (len < 16)
		return false;
	addr_end = find_byte(p, end, ' ');
	if (!addr_end || !parse_remote(p, (size_t)(addr_end - p), &rec->remote))
		return false;
	p = addr_end;
	if (end - p < 3 || !same_bytes(p, " - ", 3))
		return false;
	/* $remote_user, then " [": ' ' ends the user, as in the general parser */
	p = plain_field_end(p + 3, end);
	if (!p || end - p < 2 + 26 + 3 || p[1] != '[')
		return false;
	/* a valid $time_local holds no ']', so the first ']' is the one after it */
	p += 2;
	if (!parse_time_local(&f->local_cache, p, 26, &rec->ts_us))
		return false;
	p += 26;
	if (!same_bytes(p, "] \"", 3))
		return false;
	req = p + 3;
	req_end = find_quote_or_unusual(req, end);
	if (req_end == end || *req_end != '"')
		return false;
	p = req_end + 1;
	if (end - p < 5 || p[0] != ' ' || !digits(p + 1, 3, &status) || p[4] != ' ')
		return false;
	p += 5;
	if (f->fast == FAST_COMMON) {
		/* $body_bytes_sent runs to the end of the line */
		for (; p < end; p++)
			if (!*p)
				return false;
	} else {
		p = plain_field_end(p, end);
		if (!p || end - p < 2 || p[1] != '"')
			return false;
		ref = p + 2;
		ref_end = find_quote_or_unusual(ref, end);
		if (ref_end == end || *ref_end != '"' || end - ref_end < 3 ||
		    !same_bytes(ref_end, "\" \"", 3))
			return false;
		ua = ref_end + 3;
		ua_end = find_quote_or_unusual(ua, end);
		if (ua_end != end - 1 || *ua_end != '"')
			return false;
	}
	/* "METHOD TARGET HTTP/x.y", or "METHOD TARGET" (HTTP/0.9) */
	if (req_end - req == 1 && req[0] == '-')
		return false;
	for (sp1 = req; sp1 < req_end && *sp1 != ' '; sp1++)
		;
	/* the last space; mostly the one before "HTTP/1.1" */
	if (req_end - sp1 > 9 && req_end[-9] == ' ' && !has_space8(req_end - 8))
		sp2 = req_end - 9;
	else
		for (sp2 = req_end - 1; sp1 < req_end && sp2 > sp1 && *sp2 != ' '; sp2--)
			;

	/* The line is ours: terminate the fields in place. */
	rec->status = (int)status;
	*req_end = '\0';
	if (sp1 == req_end) {
		rec->method = rec->target = "";
		rec->target_len = 0;
	} else {
		*sp1 = '\0';
		rec->method = req;
		rec->target = sp1 + 1;
		if (sp2 > sp1 && req_end - sp2 > 5 && same_bytes(sp2 + 1, "HTTP/", 5)) {
			*sp2 = '\0';
			req_end = sp2;
		}
		rec->target_len = (size_t)(req_end - (sp1 + 1));
	}
	if (ua) {
		rec->referer = plain_text(ref, ref_end, &ignored);
		rec->user_agent = plain_text(ua, ua_end, &rec->user_agent_len);
	} else {
		rec->referer = rec->user_agent = "";
		rec->user_agent_len = 0;
	}
	rec->xff = rec->forwarded = "";
	rec->xff_len = rec->forwarded_len = 0;
	*addr_end = '\0';
	return true;
}

bool cs_logformat_parse_general(struct cs_logformat *f, char *line, size_t len,
				struct cs_log_record *rec, struct cs_log_error *error)
{
	struct span sp[V_COUNT];       /* not cleared: the set mask tells which are filled */
	uint32_t set = 0;

	line[len] = '\0';
	/* Fields become C strings: an embedded NUL would cut one silently. */
	if (memchr(line, '\0', len))
		return reject(error, "NUL byte in line", line, memchr(line, '\0', len));
	if (!(f->json ? parse_json(f, line, len, sp, &set, error) :
			parse_nginx(f, line, len, sp, &set, error)))
		return false;
	return fill_record(f, sp, set, line, rec, error);
}

bool cs_logformat_parse(struct cs_logformat *f, char *line, size_t len,
			struct cs_log_record *rec, struct cs_log_error *error)
{
	if (f->fast) {
		line[len] = '\0';
		if (parse_combined_fast(f, line, len, rec))
			return true;
	}
	return cs_logformat_parse_general(f, line, len, rec, error);
}
