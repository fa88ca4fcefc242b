#include "source_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define READ_CHUNK (128 * 1024)       /* lines are still in L2 when parsed */

/* Bytes compared to see a followed file cut to zero and refilled in place. */
#define TAIL_BYTES 64

struct cs_log_source {
	char *path;
	int fd;
	gzFile gz;                      /* set for gzip input and stdin */
	bool follow;
	bool skipping;                  /* inside an over-long line */
	char *buf;                      /* READ_CHUNK + CS_LOG_LINE_MAX + 1 bytes */
	size_t start, end;              /* unread data is buf[start..end) */
	uint64_t lineno;
	dev_t dev;
	ino_t ino;
	uint64_t size;
	uint64_t offset;                /* bytes of the file consumed (compressed for gzip) */
	unsigned reopens;
	bool reopen_pending;             /* rotated: reopen the path on the next call */
	bool idle;                       /* following, at the end of the file */
	uint8_t tail[TAIL_BYTES];        /* the tail_len bytes before tail_offset */
	uint8_t tail_len;
	uint64_t tail_offset;
	char error[256];
};

#define BUF_BYTES (READ_CHUNK + CS_LOG_LINE_MAX + 1)

static bool is_gzip(int fd)
{
	unsigned char magic[2];

	return pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

/* Opens (or reopens) s->path into s->fd / s->gz. */
static int open_path(struct cs_log_source *s, char *err, size_t errlen)
{
	struct stat st;
	bool use_gz;

	if (!strcmp(s->path, "-")) {
		s->fd = STDIN_FILENO;
		use_gz = true;          /* zlib reads plain input transparently */
	} else {
		s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
		if (s->fd < 0) {
			snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
			return -1;
		}
		use_gz = is_gzip(s->fd);
	}
	if (fstat(s->fd, &st) == 0) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
		s->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	}
	s->offset = 0;
	s->idle = false;
	s->tail_len = 0;
	s->lineno = 0;
	s->start = s->end = 0;
	s->skipping = false;
	if (use_gz) {
		int fd = dup(s->fd);

		s->gz = fd >= 0 ? gzdopen(fd, "rb") : NULL;
		if (!s->gz) {
			if (fd >= 0)
				close(fd);
			snprintf(err, errlen, "%s: cannot set up decompression", s->path);
			return -1;
		}
		gzbuffer(s->gz, 256 * 1024);
	}
	return 0;
}

static void close_input(struct cs_log_source *s)
{
	if (s->gz)
		gzclose(s->gz);
	s->gz = NULL;
	if (s->fd > STDIN_FILENO)
		close(s->fd);
	s->fd = -1;
}

struct cs_log_source *cs_log_source_open(const char *path, bool follow, char *err, size_t errlen)
{
	struct cs_log_source *s = calloc(1, sizeof(*s));

	if (!s || !(s->path = strdup(path)) || !(s->buf = malloc(BUF_BYTES))) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	s->fd = -1;
	s->follow = follow;
	if (open_path(s, err, errlen))
		goto fail;
	if (follow && s->gz) {
		snprintf(err, errlen, "%s: cannot follow %s", path,
			 strcmp(path, "-") ? "a gzip file" : "stdin");
		goto fail;
	}
	return s;
fail:
	cs_log_source_close(s);
	return NULL;
}

void cs_log_source_close(struct cs_log_source *s)
{
	if (!s)
		return;
	close_input(s);
	free(s->buf);
	free(s->path);
	free(s);
}

/* zlib's message without the "<fd:N>: " that gzdopen() puts in front. */
static const char *gz_reason(gzFile gz)
{
	int errnum;
	const char *msg = gzerror(gz, &errnum);
	const char *after_name = strstr(msg, ">: ");

	return !strncmp(msg, "<fd:", 4) && after_name ? after_name + 3 : msg;
}

static ssize_t read_more(struct cs_log_source *s)
{
	size_t room = BUF_BYTES - 1 - s->end;
	ssize_t n;

	if (room > READ_CHUNK)
		room = READ_CHUNK;
	if (s->gz) {
		int errnum = Z_OK;

		n = gzread(s->gz, s->buf + s->end, (unsigned)room);
		if (n <= 0)
			gzerror(s->gz, &errnum);
		/* zlib reports a cut-off stream as Z_BUF_ERROR at an apparent end of file. */
		if (errnum == Z_BUF_ERROR) {
			snprintf(s->error, sizeof(s->error), "%s: unexpected end of gzip stream",
				 s->path);
			return -1;
		}
		if (n < 0 || errnum != Z_OK || (n == 0 && !gzeof(s->gz))) {
			snprintf(s->error, sizeof(s->error), "%s: %s", s->path, gz_reason(s->gz));
			return -1;
		}
		s->offset = (uint64_t)gzoffset(s->gz);
	} else {
		do
			n = read(s->fd, s->buf + s->end, room);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			snprintf(s->error, sizeof(s->error), "%s: %s", s->path, strerror(errno));
			return -1;
		}
		s->offset += (uint64_t)n;
	}
	s->end += (size_t)n;
	return n;
}

enum rotation { NOT_ROTATED, RENAMED, TRUNCATED };

/*
 * copytruncate: logrotate copies the file and cuts it to zero, and new
 * lines may refill it to our offset or past it before we look again. The
 * bytes just before the offset, kept when we went idle, then differ.
 */
static void remember_tail(struct cs_log_source *s)
{
	size_t n = s->offset < TAIL_BYTES ? (size_t)s->offset : TAIL_BYTES;

	s->idle = true;
	if (s->tail_offset == s->offset && s->tail_len == n)
		return;         /* checked unchanged just now */
	s->tail_len = pread(s->fd, s->tail, n, (off_t)(s->offset - n)) == (ssize_t)n ? n : 0;
	s->tail_offset = s->offset;
}

static bool tail_changed(const struct cs_log_source *s)
{
	uint8_t now[TAIL_BYTES];
	size_t n = s->tail_len;

	if (!n || s->tail_offset != s->offset)
		return false;
	return pread(s->fd, now, n, (off_t)(s->offset - n)) != (ssize_t)n ||
	       memcmp(now, s->tail, n);
}

/* While following: whether the path now names another file, or this one was cut. */
static enum rotation check_rotation(struct cs_log_source *s)
{
	struct stat st;

	if (stat(s->path, &st))
		return NOT_ROTATED;     /* renamed away, not recreated yet */
	if (st.st_dev != s->dev || st.st_ino != s->ino)
		return RENAMED;
	if ((uint64_t)st.st_size < s->offset || tail_changed(s))
		return TRUNCATED;
	return NOT_ROTATED;
}

static enum cs_log_read take_line(struct cs_log_source *s, char *nl, char **line, size_t *len,
				  uint64_t *lineno)
{
	char *begin = s->buf + s->start;
	size_t n = (size_t)(nl - begin);

	s->start += n + (nl < s->buf + s->end);
	s->lineno++;
	*lineno = s->lineno;
	if (s->skipping) {
		s->skipping = false;
		return CS_LOG_LONG_LINE;
	}
	if (n && begin[n - 1] == '\r')
		n--;
	begin[n] = '\0';
	*line = begin;
	*len = n;
	return CS_LOG_LINE;
}

enum cs_log_read cs_log_source_next(struct cs_log_source *s, char **line, size_t *len,
				    uint64_t *lineno)
{
	if (s->reopen_pending) {
		/* After rotation: the old file is done; a missing path is retried later. */
		close_input(s);
		if (open_path(s, s->error, sizeof(s->error)))
			return CS_LOG_AGAIN;
		s->reopen_pending = false;
		s->reopens++;
	}
	for (;;) {
		char *nl = memchr(s->buf + s->start, '\n', s->end - s->start);
		enum rotation rotation;
		bool checked;
		ssize_t n;

		if (nl)
			return take_line(s, nl, line, len, lineno);
		if (s->end - s->start > CS_LOG_LINE_MAX)
			s->skipping = true;
		if (s->skipping)
			s->start = s->end;
		memmove(s->buf, s->buf + s->start, s->end - s->start);
		s->end -= s->start;
		s->start = 0;

		/* Back from idle: new bytes may belong to a refilled file. */
		rotation = NOT_ROTATED;
		checked = s->idle;
		if (s->idle) {
			rotation = check_rotation(s);
			s->idle = false;
		}
		if (rotation != TRUNCATED) {
			n = read_more(s);
			if (n < 0)
				return CS_LOG_ERROR;
			if (n > 0)
				continue;
		}
		if (s->follow) {
			if (!checked)
				rotation = check_rotation(s);
			if (rotation == NOT_ROTATED) {
				remember_tail(s);
				return CS_LOG_AGAIN;
			}
			/* Lines written just before a rename are still in the old file. */
			if (rotation == RENAMED) {
				n = read_more(s);
				if (n < 0)
					return CS_LOG_ERROR;
				if (n > 0)
					continue;
			}
			s->reopen_pending = true;
		}
		if (s->end == 0 && !s->skipping)
			return s->follow ? cs_log_source_next(s, line, len, lineno) : CS_LOG_EOF;
		/* The file ended without a newline: its last line is complete. */
		return take_line(s, s->buf + s->end, line, len, lineno);
	}
}

const char *cs_log_source_path(const struct cs_log_source *s)
{
	return s->path;
}

const char *cs_log_source_error(const struct cs_log_source *s)
{
	return s->error;
}

uint64_t cs_log_source_size(const struct cs_log_source *s)
{
	return s->size;
}

uint64_t cs_log_source_offset(const struct cs_log_source *s)
{
	return s->offset;
}

unsigned cs_log_source_reopens(const struct cs_log_source *s)
{
	return s->reopens;
}
