/*
 * Range sets: the list format of DESIGN §3, one parser, a userspace
 * longest-prefix matcher, and the provider name table shared with the
 * kernel maps.
 */
#ifndef CS_RANGES_H
#define CS_RANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"

struct cs_ranges;                       /* opaque, immutable once built */

struct cs_range {
	struct cs_addr prefix;          /* host bits zero */
	uint8_t plen;
	uint16_t provider_id;           /* 1..CS_MAX_PROVIDERS-1 */
	uint16_t flags;                 /* CS_RANGE_* from clicksieve_abi.h */
};

/* Path of the shipped default list (installed, or the source tree's data/). */
const char *cs_ranges_default_path(void);

struct cs_ranges *cs_ranges_new(void);
void cs_ranges_free(struct cs_ranges *r);

/*
 * Adds every range of one list file, or none: on a bad line returns -1 and
 * writes "FILE:LINE: reason" into err. path "-" reads stdin.
 */
int cs_ranges_load_file(struct cs_ranges *r, const char *path, char *err, size_t errlen);

/* Same for a list held in memory; name stands for the file in errors. */
int cs_ranges_load_buffer(struct cs_ranges *r, const char *name, const char *text, size_t len,
			  char *err, size_t errlen);

/* Longest-prefix match; NULL when no range holds the address. */
const struct cs_range *cs_ranges_lookup(const struct cs_ranges *r, const struct cs_addr *a);

/* Provider name for an id ("" for unknown), and id for a name (0 = none). */
const char *cs_ranges_provider_name(const struct cs_ranges *r, uint16_t id);
uint16_t cs_ranges_provider_id(const struct cs_ranges *r, const char *name);

/* Ranges of one family (4 or 6), or of both when family is 0. */
size_t cs_ranges_count(const struct cs_ranges *r, int family);

/*
 * The i-th range (i < cs_ranges_count(r, 0)), ordered by family (IPv4
 * first), address, then prefix length.
 */
const struct cs_range *cs_ranges_at(const struct cs_ranges *r, size_t i);

/* Writes the set in list format, one range a line, in cs_ranges_at() order. */
int cs_ranges_write(const struct cs_ranges *r, FILE *f);

/* " weak", " allow", " weak allow" or "": the flags as written in a list. */
const char *cs_ranges_flags_text(uint16_t flags);

/* Highest provider id in use (ids run 1..n, in order of first appearance). */
unsigned cs_ranges_provider_count(const struct cs_ranges *r);

#endif
