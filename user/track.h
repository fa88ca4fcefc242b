/*
 * Tracking URL: request target -> message, recipient and link ids.
 * Default: path /redirect, query parameters s (message), l (recipient),
 * link (link). Or a path template such as /c/{message}/{recipient}/{link}.
 */
#ifndef CS_TRACK_H
#define CS_TRACK_H

#include <stdbool.h>
#include <stddef.h>

#define CS_TRACK_ID_MAX 256             /* longest decoded id kept */

struct cs_track;                        /* opaque compiled config */

struct cs_track_ids {
	char message[CS_TRACK_ID_MAX];
	char recipient[CS_TRACK_ID_MAX];
	char link[CS_TRACK_ID_MAX];
	size_t message_len, recipient_len, link_len;    /* strlen() of each */
};

/* Default tracking URL. */
struct cs_track *cs_track_new_default(void);
/* Query-parameter form: path plus the three parameter names. */
struct cs_track *cs_track_new_query(const char *path, const char *message_param,
				    const char *recipient_param, const char *link_param,
				    char *err, size_t errlen);
/* Path-template form; every one of {message} {recipient} {link} must appear once. */
struct cs_track *cs_track_new_template(const char *tmpl, char *err, size_t errlen);
void cs_track_free(struct cs_track *t);

/*
 * Extracts the ids from a request target (origin-form "/path?query", or
 * absolute-form "http://host/path?query"), percent-decoded. Returns false
 * when the target is not a tracking URL (not a click): wrong path, missing
 * or empty id, bad '%' escape, decoded NUL, id longer than
 * CS_TRACK_ID_MAX - 1 bytes. '+' is a literal plus (RFC 3986, not form
 * encoding); a repeated parameter: the first wins; "#fragment" is ignored.
 * target need not be NUL-terminated; no allocation. out is undefined on false.
 */
bool cs_track_extract(const struct cs_track *t, const char *target, size_t len,
		      struct cs_track_ids *out);

#endif
