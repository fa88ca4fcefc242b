/* Client addresses as both IPv4 and IPv6, in network byte order. */
#ifndef CS_ADDR_H
#define CS_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
/* The same text without the NUL; returns its end. */
char *cs_addr_write(const struct cs_addr *a, char *buf);
bool cs_addr_equal(const struct cs_addr *a, const struct cs_addr *b);
/* Keeps the first plen bits, zeroes the rest. */
void cs_addr_mask(struct cs_addr *a, unsigned plen);
/* True when the first plen bits of a and b are equal (same family). */
bool cs_addr_same_prefix(const struct cs_addr *a, const struct cs_addr *b, unsigned plen);
/* Turns IPv4-mapped IPv6 (::ffff:a.b.c.d) into the IPv4 address; others unchanged. */
void cs_addr_unmap(struct cs_addr *a);

#endif
