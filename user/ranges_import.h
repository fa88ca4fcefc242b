/*
 * Provider feed importers: the providers' own machine-readable range feeds
 * (AWS, Google, Azure, Microsoft 365, Oracle, RFC 8805 geofeeds, plain
 * prefix lists) turned into a range set in the list format of DESIGN §3.
 */
#ifndef CS_RANGES_IMPORT_H
#define CS_RANGES_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "ranges.h"

enum cs_feed_format {
	CS_FEED_AWS,            /* ip-ranges.json */
	CS_FEED_GCP,            /* Google cloud.json */
	CS_FEED_GOOG,           /* Google goog.json: no service fields */
	CS_FEED_AZURE,          /* Azure Service Tags */
	CS_FEED_M365,           /* Microsoft 365 endpoints web service */
	CS_FEED_ORACLE,         /* Oracle Cloud public_ip_ranges.json */
	CS_FEED_CSV,            /* RFC 8805 geofeed */
	CS_FEED_PLAIN,          /* one prefix a line, '#' comments */
};

/* "aws", "gcp", ... to a format; -1 for an unknown name. */
int cs_feed_format_parse(const char *name, enum cs_feed_format *out);
const char *cs_feed_format_name(enum cs_feed_format f);
/* Human description, e.g. "AWS ip-ranges.json". */
const char *cs_feed_format_title(enum cs_feed_format f);
/* Provider name used without --provider; NULL when the format has none. */
const char *cs_feed_default_provider(enum cs_feed_format f);
/* Which fields --service matches, e.g. "service, region"; NULL if none. */
const char *cs_feed_service_fields(enum cs_feed_format f);

/* True for a provider name the list format accepts ([a-z0-9_-]{1,31}). */
bool cs_import_provider_valid(const char *name);

struct cs_import_opts {
	enum cs_feed_format format;
	const char *provider;           /* NULL: the format's default */
	const char *const *services;    /* keep entries with any of these (case-insensitive) */
	size_t service_count;           /* 0: keep every entry */
	bool weak;                      /* flag every range weak */
	bool mask_host_bits;            /* accept 'ADDR/LEN' with host bits set, masked */
	/*
	 * Leave out prefixes that this set lists with another provider or other
	 * flags, so that both lists load together. NULL: leave out nothing.
	 */
	const struct cs_ranges *exclude;
	/* Called once per masked entry; NULL: silent. */
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
};

struct cs_import {
	struct cs_ranges *ranges;       /* the imported, de-duplicated set */
	size_t entries;                 /* selected feed entries, before merging */
	size_t masked;                  /* entries with host bits set, masked */
	size_t excluded;                /* entries left out because of opts.exclude */
	char version[256];              /* the feed's own stamps, e.g. "syncToken 1, ..." */
};

/*
 * Imports one feed held in memory; name stands for the file in errors. On
 * a malformed feed or entry returns -1, writes "NAME: where: reason" into
 * err and leaves *out empty. Selecting no entry at all is an error too: a
 * wrong --service or an empty download must not yield an empty list.
 */
int cs_import_buffer(const struct cs_import_opts *o, const char *name, const char *text,
		     size_t len, struct cs_import *out, char *err, size_t errlen);

/* Same for a file; path "-" reads stdin. */
int cs_import_file(const struct cs_import_opts *o, const char *path, struct cs_import *out,
		   char *err, size_t errlen);

void cs_import_release(struct cs_import *imp);

/*
 * Writes a provenance header (format, the feed's version stamps, selection,
 * counts, import time) followed by the ranges in list format.
 */
int cs_import_write(const struct cs_import_opts *o, const struct cs_import *imp,
		    const char *source, time_t now, FILE *f);

#endif
