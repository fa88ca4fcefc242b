/*
 * Access-log line parsers: `combined`, nginx `escape=json` lines, and any
 * nginx log_format string. A format is compiled once into a short program
 * of literal and field steps; parsing a line runs it in place on the line
 * buffer (fields are unescaped and NUL-terminated there), without
 * allocating.
 */
#ifndef CS_LOGFORMAT_H
#define CS_LOGFORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define CS_LOGFORMAT_COMBINED \
	"$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent " \
	"\"$http_referer\" \"$http_user_agent\""
#define CS_LOGFORMAT_COMMON \
	"$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent"

/* One parsed line. Strings point into the line buffer and end in NUL. */
struct cs_log_record {
	uint64_t ts_us;                 /* µs since the Unix epoch, UTC */
	struct cs_addr remote;          /* $remote_addr: the logged peer */
	const char *method;             /* "" when the request line has none */
	const char *target;             /* request target as logged ("" if none) */
	size_t target_len;
	int status;                     /* -1 when absent */
	const char *user_agent;         /* "" for absent or "-" */
	size_t user_agent_len;
	const char *referer;            /* "" for absent or "-" */
	const char *xff;                /* $http_x_forwarded_for; "" for absent or "-" */
	size_t xff_len;
	const char *forwarded;          /* $http_forwarded; "" for absent or "-" */
	size_t forwarded_len;
};

/* Why a line was rejected: a fixed reason and the 1-based column. */
struct cs_log_error {
	const char *reason;
	size_t column;
};

struct cs_logformat;

/* True for the nginx variables the parser understands (name without '$'). */
bool cs_logformat_var_known(const char *name);

/*
 * Compiles "combined", "common", "json", or an nginx log_format string
 * (variables as $name or ${name}; unknown variables are skipped fields).
 * For "json", json_vars[i] (an nginx variable name) is read from the JSON
 * key json_keys[i]; unmapped variables are read from the key of the same
 * name. Returns NULL with a reason in err.
 */
struct cs_logformat *cs_logformat_compile(const char *spec,
					  const char *const *json_vars,
					  const char *const *json_keys, size_t n_json,
					  char *err, size_t errlen);
void cs_logformat_free(struct cs_logformat *f);

/*
 * Parses one line (without its newline) in place; line[len] must be
 * writable (it becomes a NUL). On failure returns false and fills *error.
 * Not thread-safe: the compiled format caches the last date it converted.
 */
bool cs_logformat_parse(struct cs_logformat *f, char *line, size_t len,
			struct cs_log_record *rec, struct cs_log_error *error);

/*
 * The same without the one-pass parser that combined and common lines
 * take first; for the tests that prove both give the same records.
 */
bool cs_logformat_parse_general(struct cs_logformat *f, char *line, size_t len,
				struct cs_log_record *rec, struct cs_log_error *error);

#endif
