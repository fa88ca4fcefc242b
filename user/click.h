/*
 * Clicks and verdicts: what the tracking-URL stage hands the classifier and
 * what the classifier hands the sinks.
 */
#ifndef CS_CLICK_H
#define CS_CLICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"

#define CS_METHOD_LEN 16

/* Where a request came from, for the verdict record. */
struct cs_source_pos {
	const char *file;               /* NULL for live input */
	uint64_t line;                  /* 1-based; 0 = none */
	size_t file_len;                /* as the lengths in struct cs_click: 0 = not given */
};

/*
 * A tracked click. Strings are borrowed: the classifier copies what it keeps.
 * A string's length, when the producer knows it, saves its readers a
 * strlen() each; 0 means not given (strlen() tells).
 */
struct cs_click {
	uint64_t ts_us;                 /* event time, µs since the Unix epoch (UTC) */
	struct cs_addr client;
	char method[CS_METHOD_LEN];
	const char *message;            /* decoded ids from the tracking URL */
	const char *recipient;
	const char *link;
	const char *user_agent;         /* "" when absent */
	size_t message_len, recipient_len, link_len, user_agent_len;
	struct cs_source_pos pos;
};

/* The length of a click's string s given as len (0 = not given). */
static inline size_t cs_click_strlen(const char *s, size_t len)
{
	return len || !s ? len : strlen(s);
}

/* strnlen(method, CS_METHOD_LEN) without a call: the array is always there whole. */
static inline size_t cs_click_method_len(const char method[CS_METHOD_LEN])
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t w[2], zero;

	_Static_assert(CS_METHOD_LEN == sizeof(w), "two words hold the method");
	memcpy(w, method, sizeof(w));
	for (int i = 0; i < 2; i++) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w[i] = __builtin_bswap64(w[i]);
#endif
		/* the lowest flagged byte is the first NUL (borrows only flag bytes above it) */
		zero = (w[i] - ones) & ~w[i] & (ones * 0x80);
		if (zero)
			return 8 * (size_t)i + (size_t)__builtin_ctzll(zero) / 8;
	}
	return CS_METHOD_LEN;
}

enum cs_verdict_kind {
	CS_HUMAN = 0,
	CS_MACHINE,
	CS_SUSPECT,
};

/* Reasons: a bit each; names in cs_reason_name(). Never renamed. */
enum cs_reason {
	CS_R_SCANNER_RANGE = 1u << 0,
	CS_R_WEAK_RANGE    = 1u << 1,
	CS_R_BURST         = 1u << 2,
	CS_R_MULTI_IP      = 1u << 3,
	CS_R_BOT_AGENT     = 1u << 4,
	CS_R_HEAD_REQUEST  = 1u << 5,
	CS_R_HONEYPOT      = 1u << 6,
	CS_R_LEARNED_RANGE = 1u << 7,
};
#define CS_R_COUNT 8

struct cs_verdict {
	enum cs_verdict_kind kind;
	uint32_t reasons;               /* CS_R_* */
	const char *provider;           /* matching range's provider, or NULL */
	bool allowed;                   /* the client's range is allow-listed */
};

const char *cs_verdict_name(enum cs_verdict_kind k);
const char *cs_reason_name(unsigned bit_index);   /* by bit index 0..CS_R_COUNT-1 */

#endif
