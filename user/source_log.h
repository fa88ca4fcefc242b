/*
 * Access-log input: a file, '-' for stdin, gzip files (by magic bytes), and
 * following a growing file across rotation (rename + recreate, or
 * truncation), as `tail -F` does. Lines come out NUL-terminated in a
 * buffer the caller may modify until the next call.
 */
#ifndef CS_SOURCE_LOG_H
#define CS_SOURCE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CS_LOG_LINE_MAX (64 * 1024)     /* longer lines are reported, not parsed */

struct cs_log_source;

enum cs_log_read {
	CS_LOG_LINE = 1,                /* a line is ready */
	CS_LOG_LONG_LINE,               /* a line over CS_LOG_LINE_MAX was skipped; *lineno is set */
	CS_LOG_AGAIN,                   /* following: no complete line yet */
	CS_LOG_EOF,                     /* not following: input is over */
	CS_LOG_ERROR,                   /* I/O error; cs_log_source_error() says what */
};

/* Opens path ("-" = stdin). follow is for regular files only. */
struct cs_log_source *cs_log_source_open(const char *path, bool follow, char *err, size_t errlen);
void cs_log_source_close(struct cs_log_source *s);

/*
 * Reads the next line into *line (without the newline, NUL-terminated,
 * writable up to and including line[len]) and its 1-based number. When
 * following, a rotated or truncated file is detected at end of data: the
 * old file is read to its end first, then the path is reopened and line
 * numbers restart at 1.
 */
enum cs_log_read cs_log_source_next(struct cs_log_source *s, char **line, size_t *len,
				    uint64_t *lineno);

const char *cs_log_source_path(const struct cs_log_source *s);
const char *cs_log_source_error(const struct cs_log_source *s);
/* Size of the file when opened (0 for stdin and pipes), and bytes consumed. */
uint64_t cs_log_source_size(const struct cs_log_source *s);
uint64_t cs_log_source_offset(const struct cs_log_source *s);
/* Times a followed path was reopened after rotation or truncation. */
unsigned cs_log_source_reopens(const struct cs_log_source *s);

#endif
