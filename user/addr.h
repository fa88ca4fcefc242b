/* Client addresses as both IPv4 and IPv6, in network byte order. */
#ifndef CS_ADDR_H
#define CS_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CS_ADDR_STRLEN 46               /* INET6_ADDRSTRLEN */

struct cs_addr {
	uint8_t family;                 /* 4 or 6; 0 = none */
	uint8_t bytes[16];              /* IPv4 in the first 4 bytes, rest zero */
};

/* Parses a textual IPv4 or IPv6 address (no brackets, no port). */
bool cs_addr_parse(const char *text, struct cs_addr *out);
/* Same, for a length-delimited string. */
bool cs_addr_parse_n(const char *text, size_t len, struct cs_addr *out);
/* Formats into buf (at least CS_ADDR_STRLEN bytes); returns buf. */
const char *cs_addr_format(const struct cs_addr *a, char *buf);
/* The same text without the NUL; returns its end. Bytes past the end may change. */
char *cs_addr_write(const struct cs_addr *a, char *buf);
/* True when the first plen bits of a and b are equal (same family). */
bool cs_addr_same_prefix(const struct cs_addr *a, const struct cs_addr *b, unsigned plen);

/* The small helpers below run several times per click: inlined. */

static inline bool cs_addr_equal(const struct cs_addr *a, const struct cs_addr *b)
{
	uint64_t a0, a1, b0, b1;

	/* two word compares, no branch on the first differing byte */
	memcpy(&a0, a->bytes, 8);
	memcpy(&a1, a->bytes + 8, 8);
	memcpy(&b0, b->bytes, 8);
	memcpy(&b1, b->bytes + 8, 8);
	return a->family == b->family && ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* Keeps the first plen bits, zeroes the rest. */
static inline void cs_addr_mask(struct cs_addr *a, unsigned plen)
{
	unsigned max = a->family == 4 ? 32 : 128;

	if (plen >= max)
		return;
	a->bytes[plen / 8] &= (uint8_t)(0xff00 >> (plen % 8));
	memset(a->bytes + plen / 8 + 1, 0, 15 - plen / 8);
	if (plen % 8 == 0)
		a->bytes[plen / 8] = 0;
}

/* Turns IPv4-mapped IPv6 (::ffff:a.b.c.d) into the IPv4 address; others unchanged. */
static inline void cs_addr_unmap(struct cs_addr *a)
{
	static const uint8_t v4_mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (a->family != 6 || memcmp(a->bytes, v4_mapped, sizeof(v4_mapped)) != 0)
		return;
	memmove(a->bytes, a->bytes + 12, 4);
	memset(a->bytes + 4, 0, 12);
	a->family = 4;
}

#endif
