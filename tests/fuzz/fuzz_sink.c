/*
 * libFuzzer harness for the JSON verdict sink. The input is cut into a
 * record (verdict, reasons, timestamp, then NUL-separated strings); the
 * rendered line must be one line of strictly valid JSON (RFC 8259) and valid
 * UTF-8, with the keys in the documented order, and ASCII strings must
 * decode back to exactly what went in.
 */
/* fuzz-sources: user/sinks.c user/addr.c user/verdicts.c user/ranges.c user/agents.c user/learned.c */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks.h"

#define MAX_KEYS 16

struct parser {
	const unsigned char *s, *end;
	int depth;
	/* top-level members, in order */
	int n_keys;
	char *keys[MAX_KEYS];
	char *values[MAX_KEYS];         /* decoded string value, or NULL */
};

static bool parse_value(struct parser *p, char **str_out);

static void skip_ws(struct parser *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
		p->s++;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* Length of a well-formed UTF-8 sequence (Unicode Table 3-7), or 0. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	static const struct { unsigned char lo, hi, lo2, hi2; size_t n; } rows[] = {
		{ 0xc2, 0xdf, 0x80, 0xbf, 2 }, { 0xe0, 0xe0, 0xa0, 0xbf, 3 },
		{ 0xe1, 0xec, 0x80, 0xbf, 3 }, { 0xed, 0xed, 0x80, 0x9f, 3 },
		{ 0xee, 0xef, 0x80, 0xbf, 3 }, { 0xf0, 0xf0, 0x90, 0xbf, 4 },
		{ 0xf1, 0xf3, 0x80, 0xbf, 4 }, { 0xf4, 0xf4, 0x80, 0x8f, 4 },
	};

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		if (s[0] < rows[r].lo || s[0] > rows[r].hi)
			continue;
		if (avail < rows[r].n || s[1] < rows[r].lo2 || s[1] > rows[r].hi2)
			return 0;
		for (size_t i = 2; i < rows[r].n; i++)
			if (s[i] < 0x80 || s[i] > 0xbf)
				return 0;
		return rows[r].n;
	}
	return 0;
}

static bool parse_string(struct parser *p, char **out)
{
	size_t cap = p->end - p->s + 1, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		abort();
	p->s++;                         /* opening quote */
	while (p->s < p->end && *p->s != '"') {
		unsigned char c = *p->s;

		if (c < 0x20)
			goto bad;
		if (c >= 0x80) {
			size_t len = utf8_len(p->s, p->end - p->s);

			if (!len)
				goto bad;
			memcpy(buf + n, p->s, len);
			n += len;
			p->s += len;
			continue;
		}
		p->s++;
		if (c != '\\') {
			buf[n++] = c;
			continue;
		}
		if (p->s >= p->end)
			goto bad;
		c = *p->s++;
		switch (c) {
		case '"': case '\\': case '/':
			buf[n++] = c;
			break;
		case 'b': buf[n++] = '\b'; break;
		case 'f': buf[n++] = '\f'; break;
		case 'n': buf[n++] = '\n'; break;
		case 'r': buf[n++] = '\r'; break;
		case 't': buf[n++] = '\t'; break;
		case 'u': {
			unsigned cp = 0;

			if (p->end - p->s < 4)
				goto bad;
			for (int i = 0; i < 4; i++) {
				int h = hexval(*p->s++);

				if (h < 0)
					goto bad;
				cp = cp << 4 | h;
			}
			/* the sink never needs surrogate pairs: it emits raw UTF-8 */
			if (cp >= 0xd800 && cp <= 0xdfff)
				goto bad;
			if (cp < 0x80) {
				buf[n++] = cp;
			} else if (cp < 0x800) {
				buf[n++] = 0xc0 | cp >> 6;
				buf[n++] = 0x80 | (cp & 0x3f);
			} else {
				buf[n++] = 0xe0 | cp >> 12;
				buf[n++] = 0x80 | (cp >> 6 & 0x3f);
				buf[n++] = 0x80 | (cp & 0x3f);
			}
			break;
		}
		default:
			goto bad;
		}
	}
	if (p->s >= p->end)
		goto bad;
	p->s++;
	buf[n] = '\0';
	if (out)
		*out = buf;
	else
		free(buf);
	return true;
bad:
	free(buf);
	return false;
}

static bool parse_number(struct parser *p)
{
	const unsigned char *start;

	if (*p->s == '-')
		p->s++;
	start = p->s;
	while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
		p->s++;
	/* integers only are emitted; no leading zeros */
	return p->s > start && !(start[0] == '0' && p->s - start > 1);
}

static bool parse_literal(struct parser *p, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(p->end - p->s) < n || memcmp(p->s, lit, n))
		return false;
	p->s += n;
	return true;
}

static bool parse_container(struct parser *p, bool object)
{
	bool top = object && p->depth == 0;

	p->depth++;
	p->s++;
	skip_ws(p);
	if (p->s < p->end && *p->s == (object ? '}' : ']')) {
		p->s++;
		p->depth--;
		return true;
	}
	for (;;) {
		char *key = NULL, *value = NULL;

		skip_ws(p);
		if (object) {
			if (p->s >= p->end || *p->s != '"' || !parse_string(p, &key))
				return false;
			skip_ws(p);
			if (p->s >= p->end || *p->s++ != ':') {
				free(key);
				return false;
			}
			skip_ws(p);
		}
		if (!parse_value(p, top ? &value : NULL)) {
			free(key);
			return false;
		}
		if (top && p->n_keys < MAX_KEYS) {
			p->keys[p->n_keys] = key;
			p->values[p->n_keys++] = value;
		} else {
			free(key);
			free(value);
		}
		skip_ws(p);
		if (p->s >= p->end)
			return false;
		if (*p->s == ',') {
			p->s++;
			continue;
		}
		if (*p->s++ != (object ? '}' : ']'))
			return false;
		p->depth--;
		return true;
	}
}

static bool parse_value(struct parser *p, char **str_out)
{
	if (p->s >= p->end || p->depth > 8)
		return false;
	switch (*p->s) {
	case '{':
		return parse_container(p, true);
	case '[':
		return parse_container(p, false);
	case '"':
		return parse_string(p, str_out);
	case 'n':
		return parse_literal(p, "null");
	case 't':
		return parse_literal(p, "true");
	case 'f':
		return parse_literal(p, "false");
	default:
		return parse_number(p);
	}
}

/* Next NUL-separated field of the input, or NULL when it has run out. */
static char *next_field(const uint8_t **data, size_t *size)
{
	const uint8_t *nul;
	size_t len;
	char *field;

	if (!*size)
		return NULL;
	nul = memchr(*data, '\0', *size);
	len = nul ? (size_t)(nul - *data) : *size;
	field = strndup((const char *)*data, len);
	if (!field)
		abort();
	*data += len + (nul != NULL);
	*size -= len + (nul != NULL);
	return field;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static void expect_string(const struct parser *p, int idx, const char *key, const char *in)
{
	if (idx >= p->n_keys || strcmp(p->keys[idx], key))
		abort();
	if (!in) {
		if (p->values[idx])
			abort();
		return;
	}
	if (!p->values[idx] || (is_ascii(in) && strcmp(in, p->values[idx])))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const order[] = {
		"ts", "ip", "method", "message", "recipient", "link", "user_agent",
		"verdict", "reasons", "provider", "file", "line",
	};
	struct cs_click click = { 0 };
	struct cs_verdict verdict = { 0 };
	char *fields[7] = { NULL }, *out = NULL;
	size_t out_len = 0;
	struct parser p = { 0 };
	FILE *f;
	int n_expected;

	if (size < 12)
		return 0;
	verdict.kind = data[0] % 3;
	verdict.reasons = data[1];
	memcpy(&click.ts_us, data + 2, 8);
	click.client.family = data[10] & 1 ? 6 : 4;
	memcpy(click.client.bytes, data + 11, size - 11 < 16 ? size - 11 : 16);
	if (click.client.family == 4)
		memset(click.client.bytes + 4, 0, 12);
	data += 11;
	size -= 11;
	for (int i = 0; i < 7; i++)
		fields[i] = next_field(&data, &size);
	strncpy(click.method, fields[0] ? fields[0] : "GET", CS_METHOD_LEN);
	click.message = fields[1] ? fields[1] : "m";
	click.recipient = fields[2] ? fields[2] : "r";
	click.link = fields[3] ? fields[3] : "l";
	click.user_agent = fields[4] ? fields[4] : "";
	verdict.provider = fields[5];
	click.pos.file = fields[6];
	click.pos.line = size;

	f = open_memstream(&out, &out_len);
	if (!f)
		abort();
	cs_sink_json_write(f, &click, &verdict);
	if (fclose(f))
		abort();

	/* exactly one line */
	if (out_len == 0 || out[out_len - 1] != '\n' || memchr(out, '\n', out_len - 1))
		abort();
	p.s = (const unsigned char *)out;
	p.end = p.s + out_len - 1;
	if (*p.s != '{' || !parse_value(&p, NULL))
		abort();
	skip_ws(&p);
	if (p.s != p.end)
		abort();
	n_expected = click.pos.file ? 12 : 10;
	if (p.n_keys != n_expected)
		abort();
	for (int i = 0; i < n_expected; i++)
		if (strcmp(p.keys[i], order[i]))
			abort();
	expect_string(&p, 3, "message", click.message);
	expect_string(&p, 4, "recipient", click.recipient);
	expect_string(&p, 5, "link", click.link);
	expect_string(&p, 6, "user_agent", click.user_agent);
	expect_string(&p, 9, "provider", verdict.provider);
	if (click.pos.file)
		expect_string(&p, 10, "file", click.pos.file);

	for (int i = 0; i < p.n_keys; i++) {
		free(p.keys[i]);
		free(p.values[i]);
	}
	for (int i = 0; i < 7; i++)
		free(fields[i]);
	free(out);
	return 0;
}
