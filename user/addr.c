/*
 * Address parsing and formatting. Both run once or twice per log line, so
 * the common cases avoid libc's inet_pton/inet_ntop (a copy and a pass for
 * ':' before parsing; a sprintf per address when formatting) while giving
 * exactly their results: dotted quads as inet_pton(AF_INET) reads them
 * (four decimal octets, no leading zeros), IPv6 as glibc's inet_pton6
 * reads it, and RFC 5952 text as glibc's inet_ntop writes it.
 */
#include "addr.h"
#include "bytes.h"

#include <arpa/inet.h>
#include <string.h>

/*
 * Strict dotted quad; false for anything else, which takes the libc path.
 * The text is copied into a zeroed 16-byte buffer first: a zero byte is
 * neither digit nor dot and ends it, so octets are read without bounds
 * checks. Each octet is one to three digits: no leading zero, at most 255.
 */
static bool parse_v4(const char *s, size_t len, uint8_t out[4])
{
	uint8_t b[16] = { 0 };
	const uint8_t *p = b;

	if (len < 7 || len > 15)
		return false;
	/* two overlapping words (or the 7 bytes of the shortest quad) */
	if (len >= 8) {
		memcpy(b, s, 8);
		memcpy(b + len - 8, s + len - 8, 8);
	} else {
		memcpy(b, s, 7);
	}
	for (int i = 0; i < 4; i++) {
		/* at most 4 bytes per octet: p[3] stays inside b */
		unsigned d0 = p[0] - '0', d1 = p[1] - '0', d2 = p[2] - '0', v;

		if (d0 > 9)
			return false;
		if (d1 > 9) {
			v = d0;
			p += 1;
		} else if (d0 == 0) {
			return false;
		} else if (d2 > 9) {
			v = d0 * 10 + d1;
			p += 2;
		} else {
			v = d0 * 100 + d1 * 10 + d2;
			if (v > 255 || (unsigned)(p[3] - '0') <= 9)
				return false;
			p += 3;
		}
		out[i] = (uint8_t)v;
		if (i < 3 && *p++ != '.')
			return false;
	}
	return p == b + len;
}

/*
 * IPv6 text exactly as glibc's inet_pton6 reads it: groups of one to four
 * hex digits, one "::" at most, an optional dotted quad as the last 32
 * bits; no zone, no brackets.
 */
static bool parse_v6(const char *s, size_t len, uint8_t out[16])
{
	const char *end = s + len, *group = s;
	uint8_t tmp[16] = { 0 };
	size_t o = 0, gap = SIZE_MAX, n;
	unsigned val = 0, seen = 0;

	if (s == end)
		return false;
	if (*s == ':' && (++s == end || *s != ':'))
		return false;
	while (s < end) {
		int d = cs_hex_digit((unsigned char)*s);

		if (d >= 0) {
			if (seen == 4)
				return false;
			val = val << 4 | (unsigned)d;
			seen++;
			s++;
			continue;
		}
		if (*s == ':') {
			group = ++s;
			if (!seen) {
				if (gap != SIZE_MAX)
					return false;
				gap = o;
				continue;
			}
			if (s == end || o + 2 > 16)
				return false;
			tmp[o++] = (uint8_t)(val >> 8);
			tmp[o++] = (uint8_t)val;
			seen = val = 0;
			continue;
		}
		/* a dotted quad from the start of its group to the end */
		if (*s != '.' || o + 4 > 16 || !parse_v4(group, (size_t)(end - group), tmp + o))
			return false;
		o += 4;
		seen = 0;
		break;
	}
	if (seen) {
		if (o + 2 > 16)
			return false;
		tmp[o++] = (uint8_t)(val >> 8);
		tmp[o++] = (uint8_t)val;
	}
	if (gap != SIZE_MAX) {
		if (o == 16)
			return false;   /* "::" must stand for at least one group */
		n = o - gap;
		memmove(tmp + 16 - n, tmp + gap, n);
		memset(tmp + gap, 0, 16 - n - gap);
		o = 16;
	}
	if (o != 16)
		return false;
	memcpy(out, tmp, 16);
	return true;
}

bool cs_addr_parse_n(const char *text, size_t len, struct cs_addr *out)
{
	char buf[CS_ADDR_STRLEN];
	uint8_t v4[4];

	memset(out, 0, sizeof(*out));
	if (len <= 15 && parse_v4(text, len, v4)) {
		memcpy(out->bytes, v4, 4);
		out->family = 4;
		return true;
	}
	if (memchr(text, ':', len)) {
		if (!parse_v6(text, len, out->bytes))
			return false;
		out->family = 6;
		return true;
	}
	/* inet_pton would stop at a NUL inside the text and accept what precedes it */
	if (len == 0 || len >= sizeof(buf) || memchr(text, '\0', len))
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, out->bytes) != 1)
		return false;
	out->family = 4;
	return true;
}

bool cs_addr_parse(const char *text, struct cs_addr *out)
{
	return cs_addr_parse_n(text, strlen(text), out);
}

/* Octet v as text: up to three digits, low byte first, and the length in the top byte. */
#define OCTET(v) \
	((v) >= 100 ? (3u << 24 | ('0' + (v) % 10u) << 16 | ('0' + (v) / 10u % 10u) << 8 | \
		       ('0' + (v) / 100u)) : \
	 (v) >= 10 ? (2u << 24 | ('0' + (v) % 10u) << 8 | ('0' + (v) / 10u)) : \
	 (1u << 24 | ('0' + (v))))
#define OCTETS4(v) OCTET(v), OCTET((v) + 1u), OCTET((v) + 2u), OCTET((v) + 3u)
#define OCTETS16(v) OCTETS4(v), OCTETS4((v) + 4u), OCTETS4((v) + 8u), OCTETS4((v) + 12u)
#define OCTETS64(v) OCTETS16(v), OCTETS16((v) + 16u), OCTETS16((v) + 32u), OCTETS16((v) + 48u)

static const uint32_t octet_text[256] = {
	OCTETS64(0u), OCTETS64(64u), OCTETS64(128u), OCTETS64(192u),
};

/*
 * Dotted quad without a branch per digit: each octet is one 4-byte store
 * of its digits (and its length byte, which the next '.' overwrites; after
 * the last octet it lies past the end, inside the CS_ADDR_STRLEN bytes).
 */
static char *put_v4(char *o, const uint8_t b[4])
{
	for (int i = 0; i < 4; i++) {
		uint32_t t = octet_text[b[i]], le = t;

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		le = __builtin_bswap32(t);
#endif
		memcpy(o, &le, 4);
		o += t >> 24;
		if (i < 3)
			*o++ = '.';
	}
	return o;
}

/* One 16-bit group in lowercase hex without leading zeros. */
static char *put_hex16(char *o, unsigned v)
{
	static const char hex[] = "0123456789abcdef";
	int shift = 12;

	while (shift > 0 && !(v >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		*o++ = hex[(v >> shift) & 0xf];
	return o;
}

/*
 * RFC 5952 as glibc writes it: the longest run of two or more zero groups
 * (the first of equal runs) becomes "::", and ::a.b.c.d / ::ffff:a.b.c.d
 * keep their IPv4 tail in dotted form.
 */
static char *put_v6(char *o, const uint8_t b[16])
{
	unsigned words[8];
	int best = -1, best_len = 0, cur = -1, cur_len = 0, i;

	for (i = 0; i < 8; i++) {
		words[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
		if (words[i] == 0) {
			if (cur < 0)
				cur = i, cur_len = 0;
			if (++cur_len > best_len)
				best = cur, best_len = cur_len;
		} else {
			cur = -1;
		}
	}
	if (best_len < 2)
		best = -1;
	for (i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + best_len) {
			if (i == best)
				*o++ = ':';
			continue;
		}
		if (i)
			*o++ = ':';
		if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff)))
			return put_v4(o, b + 12);
		o = put_hex16(o, words[i]);
	}
	if (best >= 0 && best + best_len == 8)
		*o++ = ':';
	return o;
}

char *cs_addr_write(const struct cs_addr *a, char *buf)
{
	if (a->family == 0) {
		*buf = '-';
		return buf + 1;
	}
	return a->family == 4 ? put_v4(buf, a->bytes) : put_v6(buf, a->bytes);
}

const char *cs_addr_format(const struct cs_addr *a, char *buf)
{
	*cs_addr_write(a, buf) = '\0';
	return buf;
}

bool cs_addr_same_prefix(const struct cs_addr *a, const struct cs_addr *b, unsigned plen)
{
	struct cs_addr x = *a, y = *b;

	if (a->family != b->family)
		return false;
	cs_addr_mask(&x, plen);
	cs_addr_mask(&y, plen);
	return memcmp(x.bytes, y.bytes, 16) == 0;
}

