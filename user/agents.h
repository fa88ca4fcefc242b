/* Bot agent patterns: declared tools, libraries, headless browsers, bots,
 * link previewers and security-vendor agents. */
#ifndef CS_AGENTS_H
#define CS_AGENTS_H

#include <stdbool.h>
#include <stddef.h>

struct cs_agents;

/* Path of the shipped pattern list (installed, or the source tree's data/). */
const char *cs_agents_default_path(void);
/*
 * Loads a pattern file: one case-insensitive substring per line, '#'
 * comment lines, "\b" at either end of a pattern = word boundary (the
 * neighbouring byte is not an ASCII letter or digit). On error returns NULL
 * with "FILE:LINE: reason" (or "FILE: reason") in err.
 */
struct cs_agents *cs_agents_load(const char *path, char *err, size_t errlen);
void cs_agents_free(struct cs_agents *a);
/* True when the user agent matches a pattern (case-insensitive). */
bool cs_agents_match(const struct cs_agents *a, const char *user_agent);

#endif
