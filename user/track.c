/*
 * Tracking URL matching. Called for every request line, so it works in one
 * pass over the target without allocating.
 *
 * Readings we chose, all covered by tests/unit/test_track.c:
 * - The target is origin-form ("/path?query") or absolute-form
 *   ("http://host/path?query", any scheme); anything else is not a click.
 *   A "#fragment" is ignored.
 * - The path and the parameter names are compared byte for byte, before
 *   decoding: "/redirect" does not match "/redirect/" or "/%72edirect".
 * - Query parameters are split on '&' and may come in any order; when a
 *   parameter repeats, the first occurrence wins (later ones are not even
 *   decoded). A parameter without '=' has an empty value.
 * - Ids are percent-decoded as RFC 3986 reads URIs: '+' stays '+' (ids are
 *   opaque tokens; form encoding does not apply). A '%' not followed by two
 *   hex digits, a decoded NUL, an empty id or an id longer than
 *   CS_TRACK_ID_MAX - 1 bytes after decoding: not a click.
 * - Template placeholders each fill one whole path segment ("/c/{link}",
 *   not "/c/x{link}"); they match one or more bytes other than '/'. The query
 *   string is ignored for templates.
 */
#include "track.h"
#include "bytes.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cs_track_field {
	CS_FIELD_MESSAGE = 0,
	CS_FIELD_RECIPIENT,
	CS_FIELD_LINK,
	CS_FIELD_COUNT,
};

static const char *const field_names[CS_FIELD_COUNT] = { "message", "recipient", "link" };

/* A template element: a literal run, or a placeholder filling one segment. */
struct cs_track_part {
	int field;                      /* enum cs_track_field, or -1 for a literal */
	size_t len;                     /* literal length */
	const char *text;               /* literal bytes, inside cs_track.storage */
};

#define CS_TRACK_MAX_PARTS (2 * CS_FIELD_COUNT + 1)

struct cs_track {
	bool is_template;
	/* Query form. */
	const char *path;
	size_t path_len;
	const char *param[CS_FIELD_COUNT];
	size_t param_len[CS_FIELD_COUNT];
	/* Template form. */
	struct cs_track_part parts[CS_TRACK_MAX_PARTS];
	size_t n_parts;
	char storage[];                 /* copies of the configured strings */
};

static void set_err(char *err, size_t errlen, const char *msg, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "%s%s%s", msg, what ? ": " : "", what ? what : "");
}

struct cs_track *cs_track_new_default(void)
{
	return cs_track_new_query("/redirect", "s", "l", "link", NULL, 0);
}

static bool param_name_ok(const char *name)
{
	/* Names are compared raw, so bytes that split or encode the query
	 * would make a name that can never match. */
	return name && *name && !strpbrk(name, "&=#%? ");
}

struct cs_track *cs_track_new_query(const char *path, const char *message_param,
				    const char *recipient_param, const char *link_param,
				    char *err, size_t errlen)
{
	const char *names[CS_FIELD_COUNT] = { message_param, recipient_param, link_param };
	struct cs_track *t;
	size_t total, off;
	char *p;

	if (!path || path[0] != '/' || strpbrk(path, "?# ")) {
		set_err(err, errlen, "tracking path must start with '/' and have no '?', '#' or space",
			path);
		return NULL;
	}
	total = strlen(path) + 1;
	for (int i = 0; i < CS_FIELD_COUNT; i++) {
		if (!param_name_ok(names[i])) {
			set_err(err, errlen, "bad parameter name (empty, or has one of &=#%? or space)",
				names[i] ? names[i] : field_names[i]);
			return NULL;
		}
		for (int j = 0; j < i; j++) {
			if (!strcmp(names[i], names[j])) {
				set_err(err, errlen, "two ids use the same parameter", names[i]);
				return NULL;
			}
		}
		total += strlen(names[i]) + 1;
	}

	t = calloc(1, sizeof(*t) + total);
	if (!t) {
		set_err(err, errlen, "out of memory", NULL);
		return NULL;
	}
	p = t->storage;
	off = strlen(path);
	memcpy(p, path, off + 1);
	t->path = p;
	t->path_len = off;
	p += off + 1;
	for (int i = 0; i < CS_FIELD_COUNT; i++) {
		size_t n = strlen(names[i]);

		memcpy(p, names[i], n + 1);
		t->param[i] = p;
		t->param_len[i] = n;
		p += n + 1;
	}
	return t;
}

static int placeholder_field(const char *name, size_t len)
{
	for (int i = 0; i < CS_FIELD_COUNT; i++)
		if (strlen(field_names[i]) == len && !memcmp(field_names[i], name, len))
			return i;
	return -1;
}

struct cs_track *cs_track_new_template(const char *tmpl, char *err, size_t errlen)
{
	bool seen[CS_FIELD_COUNT] = { false };
	struct cs_track *t;
	const char *s, *lit;
	size_t len;

	if (!tmpl || tmpl[0] != '/' || strpbrk(tmpl, "?# %")) {
		set_err(err, errlen, "template must start with '/' and have no '?', '#', '%' or space",
			tmpl);
		return NULL;
	}
	len = strlen(tmpl);
	t = calloc(1, sizeof(*t) + len + 1);
	if (!t) {
		set_err(err, errlen, "out of memory", NULL);
		return NULL;
	}
	memcpy(t->storage, tmpl, len + 1);
	t->is_template = true;

	s = lit = t->storage;
	while (*s) {
		const char *close;
		int field;

		if (*s == '}') {
			set_err(err, errlen, "unbalanced '}' in template", tmpl);
			goto fail;
		}
		if (*s != '{') {
			s++;
			continue;
		}
		close = strchr(s, '}');
		if (!close) {
			set_err(err, errlen, "unbalanced '{' in template", tmpl);
			goto fail;
		}
		field = placeholder_field(s + 1, close - s - 1);
		if (field < 0) {
			set_err(err, errlen,
				"unknown placeholder (use {message}, {recipient}, {link})", tmpl);
			goto fail;
		}
		if (seen[field]) {
			set_err(err, errlen, "placeholder appears twice", field_names[field]);
			goto fail;
		}
		if (s[-1] != '/' || (close[1] != '/' && close[1] != '\0')) {
			set_err(err, errlen, "a placeholder must be a whole path segment", tmpl);
			goto fail;
		}
		seen[field] = true;
		t->parts[t->n_parts++] = (struct cs_track_part){ -1, s - lit, lit };
		t->parts[t->n_parts++] = (struct cs_track_part){ field, 0, NULL };
		s = lit = close + 1;
	}
	if (s > lit)
		t->parts[t->n_parts++] = (struct cs_track_part){ -1, s - lit, lit };
	for (int i = 0; i < CS_FIELD_COUNT; i++) {
		if (!seen[i]) {
			set_err(err, errlen, "template lacks placeholder", field_names[i]);
			goto fail;
		}
	}
	return t;
fail:
	free(t);
	return NULL;
}

void cs_track_free(struct cs_track *t)
{
	free(t);
}

/* Percent-decodes src into a NUL-terminated id of *dst_len bytes; false if it is no valid id. */
static bool decode_id(const char *src, size_t len, char *dst, size_t *dst_len)
{
	size_t o = 0;

	if (len == 0)
		return false;
	/* Most ids have no escapes: copy them whole. */
	if (len < CS_TRACK_ID_MAX && !memchr(src, '%', len)) {
		if (memchr(src, '\0', len))
			return false;
		memcpy(dst, src, len);
		dst[len] = '\0';
		*dst_len = len;
		return true;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = src[i];

		if (c == '%') {
			int byte;

			if (len - i < 3 || (byte = cs_hex_byte(src + i + 1)) < 0)
				return false;
			c = (unsigned char)byte;
			i += 2;
		}
		if (c == '\0' || o == CS_TRACK_ID_MAX - 1)
			return false;
		dst[o++] = c;
	}
	dst[o] = '\0';
	*dst_len = o;
	return true;
}

/* Where a field's id and its length go. */
static char *field_dst(struct cs_track_ids *out, int field, size_t **len)
{
	switch (field) {
	case CS_FIELD_MESSAGE:
		*len = &out->message_len;
		return out->message;
	case CS_FIELD_RECIPIENT:
		*len = &out->recipient_len;
		return out->recipient;
	default:
		*len = &out->link_len;
		return out->link;
	}
}

/* Non-zero when some byte of x is c (byte order does not matter for "any"). */
static inline uint64_t has_byte(uint64_t x, unsigned char c)
{
	const uint64_t ones = 0x0101010101010101ull;

	x ^= ones * c;
	return (x - ones) & ~x & (ones * 0x80);
}

/*
 * Decodes a query value up to the next '&' (or end) into dst as
 * decode_id() would; returns where the value ends, or NULL when it is no
 * valid id. One pass: ids are short, and a call per byte class costs more
 * than the bytes.
 */
static const char *decode_value(const char *p, const char *end, char *dst, size_t *dst_len)
{
	size_t o = 0;

	/* runs without '&', '%' or NUL (most of a long id), a word at a time */
	while (end - p >= 8 && o + 8 < CS_TRACK_ID_MAX) {
		uint64_t x, special;

		memcpy(&x, p, 8);
		special = has_byte(x, '&') | has_byte(x, '%') | has_byte(x, '\0');
		memcpy(dst + o, p, 8);
		if (special) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			/* the lowest flagged byte is exact: those before it are plain */
			size_t plain = (size_t)__builtin_ctzll(special) / 8;

			o += plain;
			p += plain;
#endif
			break;
		}
		o += 8;
		p += 8;
	}
	for (; p < end && *p != '&'; p++) {
		unsigned char c = *p;

		if (c == '%') {
			int byte;

			if (end - p < 3 || (byte = cs_hex_byte(p + 1)) < 0)
				return NULL;
			c = (unsigned char)byte;
			p += 2;
		}
		if (c == '\0' || o == CS_TRACK_ID_MAX - 1)
			return NULL;
		dst[o++] = c;
	}
	if (o == 0)
		return NULL;
	dst[o] = '\0';
	*dst_len = o;
	return p;
}

/* memcmp() == 0 for the few bytes of a parameter name, without a call. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* memcmp() == 0 without a call for paths of 8 to 16 bytes: two overlapping words. */
static inline bool same_path(const char *a, const char *b, size_t n)
{
	uint64_t a0, a1, b0, b1;

	if (n < 8 || n > 16)
		return memcmp(a, b, n) == 0;
	memcpy(&a0, a, 8);
	memcpy(&b0, b, 8);
	memcpy(&a1, a + n - 8, 8);
	memcpy(&b1, b + n - 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

static bool match_query(const struct cs_track *t, const char *path, size_t path_len,
			const char *query, size_t query_len, struct cs_track_ids *out)
{
	const char *p = query, *end = query + query_len;
	unsigned found = 0;

	if (path_len != t->path_len || !same_path(path, t->path, path_len))
		return false;
	while (p < end) {
		const char *name = p, *next;
		size_t name_len;
		int i;

		while (p < end && *p != '=' && *p != '&')
			p++;
		name_len = (size_t)(p - name);
		for (i = 0; i < CS_FIELD_COUNT; i++)
			if (!(found & (1u << i)) && name_len == t->param_len[i] &&
			    same_bytes(name, t->param[i], name_len))
				break;
		if (i < CS_FIELD_COUNT) {
			size_t *len;
			char *dst = field_dst(out, i, &len);

			/* "name" and "name=" alike have an empty value: no id */
			if (p == end || *p == '&')
				return false;
			next = decode_value(p + 1, end, dst, len);
			if (!next)
				return false;
			found |= 1u << i;
			if (found == (1u << CS_FIELD_COUNT) - 1)
				return true;
			p = next;
		} else if (p < end && *p == '=') {
			p = memchr(p, '&', (size_t)(end - p));
			if (!p)
				break;
		}
		p++;
	}
	return false;
}

static bool match_template(const struct cs_track *t, const char *path, size_t path_len,
			   struct cs_track_ids *out)
{
	const char *p = path, *end = path + path_len;

	for (size_t i = 0; i < t->n_parts; i++) {
		const struct cs_track_part *part = &t->parts[i];
		const char *seg_end;
		size_t *len;
		char *dst;

		if (part->field < 0) {
			if ((size_t)(end - p) < part->len || memcmp(p, part->text, part->len))
				return false;
			p += part->len;
			continue;
		}
		seg_end = memchr(p, '/', end - p);
		if (!seg_end)
			seg_end = end;
		dst = field_dst(out, part->field, &len);
		if (!decode_id(p, seg_end - p, dst, len))
			return false;
		p = seg_end;
	}
	return p == end;
}

/* RFC 3986 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static bool is_scheme(const char *s, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		bool alpha = ('a' <= (c | 0x20) && (c | 0x20) <= 'z');

		if (!alpha && (i == 0 || !(('0' <= c && c <= '9') || c == '+' || c == '-' || c == '.')))
			return false;
	}
	return true;
}

bool cs_track_extract(const struct cs_track *t, const char *target, size_t len,
		      struct cs_track_ids *out)
{
	const char *end, *path, *query;

	if (!len)
		return false;
	end = memchr(target, '#', len);
	if (!end)
		end = target + len;
	path = target;
	if (*path != '/') {
		/* absolute-form: scheme "://" authority, then the path */
		const char *colon = memchr(path, ':', end - path);

		if (!colon || end - colon < 3 || colon[1] != '/' || colon[2] != '/' ||
		    !is_scheme(path, colon - path))
			return false;
		path = memchr(colon + 3, '/', end - colon - 3);
		if (!path)
			return false;
		if (memchr(colon + 3, '?', path - colon - 3))
			return false;   /* "http://host?q/..." has an empty path */
	}
	query = memchr(path, '?', end - path);
	if (t->is_template)
		return match_template(t, path, (query ? query : end) - path, out);
	if (!query)
		return false;
	return match_query(t, path, query - path, query + 1, end - query - 1, out);
}
