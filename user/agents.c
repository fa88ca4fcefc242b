/*
 * Bot agent patterns. File syntax (data/bot-agents.txt):
 * - one pattern per line, matched as a case-insensitive substring of the
 *   user agent (ASCII case folding); leading and trailing blanks are trimmed;
 * - blank lines and lines whose first non-blank byte is '#' are skipped;
 * - "\b" at the start and/or end of a pattern anchors it at a word boundary:
 *   the neighbouring byte must not be an ASCII letter or digit (or must be
 *   the start/end of the string). "\bbot\b" matches "Bot/1.0" and "a bot"
 *   but not "Cubot" or "robots".
 *
 * All patterns compile into one Aho-Corasick automaton over byte classes
 * (bytes that occur in no pattern share class 0), stored as a dense DFA, so
 * a user agent is matched in one pass with one table load per byte. A
 * transition holds the target's row offset (state * n_classes), with the
 * top bit set when the target ends some pattern.
 */
#include "agents.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CS_DATADIR
#define CS_DATADIR "/usr/local/share/clicksieve"
#endif

#define CS_AGENT_PATTERN_MAX 255

#define ANCHOR_START 1u
#define ANCHOR_END   2u

/* State flags. */
#define ST_MATCH    1u                  /* an unanchored pattern ends here */
#define ST_ANCHORED 2u                  /* an anchored pattern ends here */

#define DELTA_FLAGGED (1u << 31)        /* transition into a state with flags */

struct cs_agent_pattern {
	uint32_t len;
	uint8_t anchors;
	int32_t next;                   /* next anchored pattern ending at the same state */
};

struct cs_agents {
	uint32_t n_states;
	uint32_t n_classes;
	uint8_t byte_class[256];        /* fits: controls and upper case are never used */
	uint32_t *delta;                /* n_states * n_classes transitions */
	uint8_t *flags;                 /* per state */
	int32_t *anchored_head;         /* per state: first anchored pattern, or -1 */
	int32_t *anchored_link;         /* per state: nearest fail-chain state with anchored
					   patterns (itself included), or -1 */
	int32_t *anchored_next;         /* per state: the same, itself excluded */
	struct cs_agent_pattern *patterns;
	uint32_t n_patterns;
};

/* The trie while loading, one child slot per byte; compiled into the DFA. */
struct trie {
	uint32_t n_states, cap_states;
	uint32_t (*next)[256];          /* 0 = none (root is never a child) */
	int32_t *anchored_head;
	uint8_t *flags;
	struct cs_agent_pattern *patterns;
	uint32_t n_patterns, cap_patterns;
};

static char default_path[PATH_MAX + sizeof("/../data/bot-agents.txt")];

const char *cs_agents_default_path(void)
{
	static const char installed[] = CS_DATADIR "/bot-agents.txt";
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (access(installed, R_OK) == 0)
		return installed;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return installed;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(default_path, sizeof(default_path), "%s/../data/bot-agents.txt", exe);
	return default_path;
}

static int trie_add_state(struct trie *t)
{
	if (t->n_states == t->cap_states) {
		uint32_t cap = t->cap_states ? 2 * t->cap_states : 256;
		void *next = realloc(t->next, cap * sizeof(*t->next));
		void *head, *flags;

		if (!next)
			return -1;
		t->next = next;
		head = realloc(t->anchored_head, cap * sizeof(*t->anchored_head));
		if (!head)
			return -1;
		t->anchored_head = head;
		flags = realloc(t->flags, cap * sizeof(*t->flags));
		if (!flags)
			return -1;
		t->flags = flags;
		t->cap_states = cap;
	}
	memset(t->next[t->n_states], 0, sizeof(t->next[0]));
	t->anchored_head[t->n_states] = -1;
	t->flags[t->n_states] = 0;
	return t->n_states++;
}

static int trie_insert(struct trie *t, const unsigned char *pat, size_t len, uint8_t anchors)
{
	uint32_t s = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = pat[i];
		int child;

		if (!t->next[s][c]) {
			child = trie_add_state(t);
			if (child < 0)
				return -1;
			t->next[s][c] = child;
		}
		s = t->next[s][c];
	}
	if (!anchors) {
		t->flags[s] |= ST_MATCH;
		return 0;
	}
	if (t->n_patterns == t->cap_patterns) {
		uint32_t cap = t->cap_patterns ? 2 * t->cap_patterns : 16;
		void *p = realloc(t->patterns, cap * sizeof(*t->patterns));

		if (!p)
			return -1;
		t->patterns = p;
		t->cap_patterns = cap;
	}
	t->patterns[t->n_patterns] = (struct cs_agent_pattern){
		.len = len, .anchors = anchors, .next = t->anchored_head[s],
	};
	t->anchored_head[s] = t->n_patterns++;
	t->flags[s] |= ST_ANCHORED;
	return 0;
}

static void trie_free(struct trie *t)
{
	free(t->next);
	free(t->anchored_head);
	free(t->flags);
	free(t->patterns);
}

/* Turns the trie into the byte-class DFA. Takes the pattern array over. */
static struct cs_agents *compile(struct trie *t)
{
	struct cs_agents *a = calloc(1, sizeof(*a));
	uint32_t *fail = NULL, *queue = NULL;
	uint32_t head = 0, tail = 0;
	bool used[256] = { false };

	if (!a)
		return NULL;
	/* Byte classes: every byte that labels a trie edge gets its own. */
	for (uint32_t s = 0; s < t->n_states; s++)
		for (int c = 0; c < 256; c++)
			if (t->next[s][c])
				used[c] = true;
	a->n_classes = 1;
	for (int c = 0; c < 256; c++)
		if (used[c])
			a->byte_class[c] = a->n_classes++;
	/* Case folding: upper-case bytes read as their lower-case class. */
	for (int c = 'A'; c <= 'Z'; c++)
		a->byte_class[c] = a->byte_class[c | 0x20];

	a->n_states = t->n_states;
	if ((uint64_t)a->n_states * a->n_classes >= DELTA_FLAGGED)
		goto fail;
	a->delta = calloc((size_t)a->n_states * a->n_classes, sizeof(*a->delta));
	a->flags = malloc(a->n_states);
	a->anchored_head = malloc(a->n_states * sizeof(*a->anchored_head));
	a->anchored_link = malloc(a->n_states * sizeof(*a->anchored_link));
	a->anchored_next = malloc(a->n_states * sizeof(*a->anchored_next));
	fail = calloc(a->n_states, sizeof(*fail));
	queue = malloc(a->n_states * sizeof(*queue));
	if (!a->delta || !a->flags || !a->anchored_head || !a->anchored_link ||
	    !a->anchored_next || !fail || !queue)
		goto fail;
	memcpy(a->flags, t->flags, a->n_states);
	memcpy(a->anchored_head, t->anchored_head, a->n_states * sizeof(*a->anchored_head));

	/* Breadth-first: a state's fail target is finished before the state. */
	a->anchored_link[0] = -1;       /* patterns are never empty */
	a->anchored_next[0] = -1;
	queue[tail++] = 0;
	while (head < tail) {
		uint32_t s = queue[head++];
		uint32_t *row = &a->delta[(size_t)s * a->n_classes];
		const uint32_t *fail_row = &a->delta[(size_t)fail[s] * a->n_classes];

		for (int c = 0; c < 256; c++) {
			uint32_t child = t->next[s][c];
			uint8_t cls = a->byte_class[c];

			if (!used[c])
				continue;
			if (!child) {
				row[cls] = s ? fail_row[cls] : 0;
				continue;
			}
			row[cls] = child;
			fail[child] = s ? fail_row[cls] : 0;
			a->flags[child] |= a->flags[fail[child]] & ST_MATCH;
			a->anchored_next[child] = a->anchored_link[fail[child]];
			a->anchored_link[child] = a->anchored_head[child] >= 0 ?
				(int32_t)child : a->anchored_next[child];
			if (a->anchored_link[child] >= 0)
				a->flags[child] |= ST_ANCHORED;
			queue[tail++] = child;
		}
	}
	for (size_t i = 0; i < (size_t)a->n_states * a->n_classes; i++) {
		uint32_t target = a->delta[i];

		a->delta[i] = target * a->n_classes | (a->flags[target] ? DELTA_FLAGGED : 0);
	}
	a->patterns = t->patterns;
	a->n_patterns = t->n_patterns;
	t->patterns = NULL;
	free(fail);
	free(queue);
	return a;
fail:
	free(fail);
	free(queue);
	cs_agents_free(a);
	return NULL;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int add_line(struct trie *t, char *line, const char **why)
{
	char *end = line + strlen(line);
	uint8_t anchors = 0;
	size_t len;

	while (is_blank(*line))
		line++;
	while (end > line && is_blank(end[-1]))
		*--end = '\0';
	if (*line == '\0' || *line == '#')
		return 0;
	if (!strncmp(line, "\\b", 2)) {
		anchors |= ANCHOR_START;
		line += 2;
	}
	if (end - line >= 2 && !strcmp(end - 2, "\\b")) {
		anchors |= ANCHOR_END;
		end -= 2;
	}
	len = end - line;
	if (len == 0) {
		*why = "empty pattern";
		return -1;
	}
	if (len > CS_AGENT_PATTERN_MAX) {
		*why = "pattern longer than 255 bytes";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = line[i];

		if (c < 0x20 || c == 0x7f) {
			*why = "control character in pattern";
			return -1;
		}
		if ('A' <= c && c <= 'Z')
			line[i] = c | 0x20;
	}
	if (trie_insert(t, (unsigned char *)line, len, anchors) < 0) {
		*why = "out of memory";
		return -1;
	}
	return 0;
}

struct cs_agents *cs_agents_load(const char *path, char *err, size_t errlen)
{
	struct trie t = { 0 };
	struct cs_agents *a = NULL;
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	const char *why = NULL;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (trie_add_state(&t) < 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		if (add_line(&t, line, &why) < 0) {
			snprintf(err, errlen, "%s:%lu: %s", path, lineno, why);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	a = compile(&t);
	if (!a)
		snprintf(err, errlen, "%s: out of memory", path);
out:
	free(line);
	fclose(f);
	trie_free(&t);
	return a;
}

void cs_agents_free(struct cs_agents *a)
{
	if (!a)
		return;
	free(a->delta);
	free(a->flags);
	free(a->anchored_head);
	free(a->anchored_link);
	free(a->anchored_next);
	free(a->patterns);
	free(a);
}

static bool is_word(unsigned char c)
{
	return ('0' <= c && c <= '9') || ('a' <= (c | 0x20) && (c | 0x20) <= 'z');
}

/* Checks the anchored patterns ending at byte index i (inclusive). */
static bool anchored_match(const struct cs_agents *a, int32_t state, const unsigned char *ua,
			   size_t i)
{
	while (state >= 0) {
		for (int32_t p = a->anchored_head[state]; p >= 0; p = a->patterns[p].next) {
			const struct cs_agent_pattern *pat = &a->patterns[p];
			size_t start = i + 1 - pat->len;

			if (pat->anchors & ANCHOR_START && start > 0 && is_word(ua[start - 1]))
				continue;
			if (pat->anchors & ANCHOR_END && is_word(ua[i + 1]))
				continue;   /* ua[i + 1] is at worst the NUL */
			return true;
		}
		/* Shorter suffixes ending at the same byte. */
		state = a->anchored_next[state];
	}
	return false;
}

bool cs_agents_match(const struct cs_agents *a, const char *user_agent)
{
	const unsigned char *ua = (const unsigned char *)user_agent;
	uint32_t row = 0;

	if (!a || !ua)
		return false;
	for (size_t i = 0; ua[i]; i++) {
		uint32_t next = a->delta[row + a->byte_class[ua[i]]];
		uint32_t s;

		row = next & ~DELTA_FLAGGED;
		if (__builtin_expect(!(next & DELTA_FLAGGED), 1))
			continue;
		s = row / a->n_classes;
		if (a->flags[s] & ST_MATCH)
			return true;
		if (anchored_match(a, a->anchored_link[s], ua, i))
			return true;
	}
	return false;
}
