/*
 * libFuzzer harness for the bot-agent matcher: the input is a pattern file,
 * a NUL byte, then a user agent. Whenever the file loads, the compiled
 * automaton must agree with a naive reading of the documented syntax.
 */
/* fuzz-sources: user/agents.c */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agents.h"

static bool is_word(unsigned char c)
{
	return isascii(c) && isalnum(c);
}

/* The documented semantics, one pattern line at a time. */
static bool naive_line(const char *line, size_t len, const char *ua)
{
	size_t ua_len = strlen(ua);
	bool start = false, end = false;

	while (len && strchr(" \t\r\n", line[0])) {
		line++;
		len--;
	}
	while (len && strchr(" \t\r\n", line[len - 1]))
		len--;
	if (!len || line[0] == '#')
		return false;
	if (len >= 2 && !memcmp(line, "\\b", 2)) {
		start = true;
		line += 2;
		len -= 2;
	}
	if (len >= 2 && !memcmp(line + len - 2, "\\b", 2)) {
		end = true;
		len -= 2;
	}
	for (size_t at = 0; at + len <= ua_len; at++) {
		if (strncasecmp(ua + at, line, len))
			continue;
		if (start && at > 0 && is_word(ua[at - 1]))
			continue;
		if (end && is_word(ua[at + len]))
			continue;
		return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	char path[64], err[512], *ua;
	struct cs_agents *a;
	bool want = false;
	size_t text_len;
	int fd;

	if (!nul)
		return 0;
	text_len = nul - data;
	ua = strndup((const char *)nul + 1, size - text_len - 1);
	fd = memfd_create("agents", 0);
	if (!ua || fd < 0 || write(fd, data, text_len) != (ssize_t)text_len)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	a = cs_agents_load(path, err, sizeof(err));
	if (a) {
		const char *line = (const char *)data, *text_end = line + text_len;

		while (line < text_end && !want) {
			const char *nl = memchr(line, '\n', text_end - line);
			size_t len = (nl ? nl : text_end) - line;

			want = naive_line(line, len, ua);
			line += len + 1;
		}
		if (cs_agents_match(a, ua) != want)
			abort();
		cs_agents_free(a);
	} else if (!strstr(err, path)) {
		abort();                /* errors name the file */
	}
	close(fd);
	free(ua);
	return 0;
}
