/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Small byte and number helpers that several stages share, all inline. */
#ifndef CS_BYTES_H
#define CS_BYTES_H

#include <stdint.h>
#include <string.h>

/* Unaligned little-endian loads. */
static inline uint64_t cs_load_le64(const void *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

static inline uint32_t cs_load_le32(const void *p)
{
	uint32_t x;

	memcpy(&x, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap32(x);
#endif
	return x;
}

/* A hex digit's value, or -1. */
static inline int cs_hex_digit(unsigned char c)
{
	if ((unsigned)(c - '0') <= 9)
		return c - '0';
	c |= 0x20;
	return (unsigned)(c - 'a') <= 5 ? c - 'a' + 10 : -1;
}

/* The byte two hex digits at p spell (as in "%2F"), or -1. */
static inline int cs_hex_byte(const char *p)
{
	int hi = cs_hex_digit((unsigned char)p[0]), lo = cs_hex_digit((unsigned char)p[1]);

	return (hi | lo) < 0 ? -1 : hi << 4 | lo;
}

/* a + b, or UINT64_MAX when that overflows: "never" stays never. */
static inline uint64_t cs_add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

#endif
