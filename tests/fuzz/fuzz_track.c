/*
 * libFuzzer harness for cs_track_extract. The first input byte picks the
 * configuration (default query form, a custom query form, a template), the
 * rest is the request target. Beyond memory safety it checks the contract:
 * extracted ids are non-empty, NUL-free and short enough, and re-encoding
 * them into a fresh tracking URL extracts the same ids again.
 */
/* fuzz-sources: user/track.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track.h"

static struct cs_track *configs[3];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	configs[0] = cs_track_new_default();
	configs[1] = cs_track_new_query("/t", "m", "r", "k", NULL, 0);
	configs[2] = cs_track_new_template("/c/{message}/{recipient}/{link}", NULL, 0);
	if (!configs[0] || !configs[1] || !configs[2])
		abort();
	return 0;
}

static void check_id(const char *id)
{
	size_t len = strnlen(id, CS_TRACK_ID_MAX);

	if (len == 0 || len >= CS_TRACK_ID_MAX)
		abort();
}

/* Percent-encodes every byte, so the id survives any configuration. */
static char *encode(char *o, const char *id)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *id; id++) {
		unsigned char c = *id;

		*o++ = '%';
		*o++ = hex[c >> 4];
		*o++ = hex[c & 0xf];
	}
	return o;
}

static void check_round_trip(const struct cs_track_ids *ids, int which)
{
	static const char *const forms[3][4] = {
		{ "/redirect?s=", "&l=", "&link=", "" },
		{ "/t?k=", "&r=", "&m=", "" },     /* other order: link, recipient, message */
		{ "/c/", "/", "/", "" },
	};
	const char *order[3] = { ids->message, ids->recipient, ids->link };
	char url[3 * 3 * CS_TRACK_ID_MAX + 64], *o = url;
	struct cs_track_ids again;

	if (which == 1) {
		order[0] = ids->link;
		order[2] = ids->message;
	}
	for (int i = 0; i < 3; i++) {
		o = stpcpy(o, forms[which][i]);
		o = encode(o, order[i]);
	}
	if (!cs_track_extract(configs[which], url, o - url, &again) ||
	    strcmp(again.message, ids->message) || strcmp(again.recipient, ids->recipient) ||
	    strcmp(again.link, ids->link))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_track_ids ids;
	int which;

	if (size < 1)
		return 0;
	which = data[0] % 3;
	/* data + 1 is not NUL-terminated: ASan catches reads past size */
	if (!cs_track_extract(configs[which], (const char *)data + 1, size - 1, &ids))
		return 0;
	check_id(ids.message);
	check_id(ids.recipient);
	check_id(ids.link);
	check_round_trip(&ids, which);
	return 0;
}
