/*
 * What classify, replay and run share: the options that say how clicks are
 * judged (ranges, config, trusted proxies, honeypots, windows) and the
 * objects built from them. Where clicks come from does not change how they
 * are judged, so the three commands take these options alike.
 */
#ifndef CS_OPTIONS_H
#define CS_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum {
	CS_OPT_TRUST_PROXY = 1000,
	CS_OPT_HONEYPOT,
	CS_OPT_BURST_WINDOW,
	CS_OPT_MULTI_IP_WINDOW,
	CS_OPT_REORDER_WINDOW,
	CS_OPT_LEARN_THRESHOLD,
	CS_OPT_LEARN_WINDOW,
	CS_OPT_LEARN_TTL,
	CS_OPT_NO_LEARN,
};

/* getopt_long entries and short letters of the shared options. */
#define CS_JUDGE_LONGOPTS \
	{ "ranges", required_argument, NULL, 'r' }, \
	{ "config", required_argument, NULL, 'c' }, \
	{ "trust-proxy", required_argument, NULL, CS_OPT_TRUST_PROXY }, \
	{ "honeypot", required_argument, NULL, CS_OPT_HONEYPOT }, \
	{ "burst-window", required_argument, NULL, CS_OPT_BURST_WINDOW }, \
	{ "multi-ip-window", required_argument, NULL, CS_OPT_MULTI_IP_WINDOW }, \
	{ "reorder-window", required_argument, NULL, CS_OPT_REORDER_WINDOW }, \
	{ "learn-threshold", required_argument, NULL, CS_OPT_LEARN_THRESHOLD }, \
	{ "learn-window", required_argument, NULL, CS_OPT_LEARN_WINDOW }, \
	{ "learn-ttl", required_argument, NULL, CS_OPT_LEARN_TTL }, \
	{ "no-learn", no_argument, NULL, CS_OPT_NO_LEARN }
#define CS_JUDGE_SHORTOPTS "r:c:"

/* Their --help lines. */
#define CS_JUDGE_USAGE \
"  -r, --ranges FILE        scanner range list (repeatable; default: the shipped list)\n" \
"  -c, --config FILE        INI configuration (see clicksieve.conf.example); options\n" \
"                           given here override it\n" \
"      --trust-proxy CIDR   take the client from X-Forwarded-For / Forwarded when the\n" \
"                           peer is in CIDR (repeatable)\n" \
"      --honeypot LINK      a hidden link id no person can see (repeatable)\n" \
"      --burst-window D     clicks of one message x recipient within D are a burst (2s)\n" \
"      --multi-ip-window D  other clients within D after a click are machines (10m)\n" \
"      --reorder-window D   how far out of time order clicks may arrive (5s)\n" \
"      --learn-threshold N  a client that bursts or re-fetches for N distinct\n" \
"                           recipients within --learn-window is a learned scanner:\n" \
"                           its next clicks are machine, learned_range (3)\n" \
"      --learn-window D     the window of --learn-threshold (1h)\n" \
"      --learn-ttl D        how long a learned scanner stays learned (7d)\n" \
"      --no-learn           do not learn scanners\n"

struct cs_judge_opts {
	const char *cmd;                /* "classify", ... for messages */
	const char **config_files, **range_files, **proxies, **honeypots;
	size_t n_config_files, n_range_files, n_proxies, n_honeypots;
	bool burst_set, multi_ip_set, reorder_set;
	uint64_t burst_us, multi_ip_us, reorder_us;
	bool learn_window_set, learn_ttl_set, no_learn;
	uint64_t learn_window_us, learn_ttl_us;
	uint32_t learn_threshold;       /* 0 = not set */
};

/*
 * Takes one getopt_long result. Returns 1 when it was a shared option, 0
 * when it is the command's own, or an exit code >= 2 after saying why
 * (bad value: 2).
 */
int cs_judge_opt(struct cs_judge_opts *o, int opt, const char *arg);
void cs_judge_opts_free(struct cs_judge_opts *o);

/* Everything judging needs, built from config files with the command line on top. */
struct cs_judge {
	struct cs_config cfg;           /* cfg.classifier points at ranges and agents */
	struct cs_ranges *ranges;
	struct cs_agents *agents;
	struct cs_track *track;
	struct cs_proxies *proxies;
	struct cs_learned *learned;     /* NULL when learning is off; cfg.classifier.learned */
};

/* Returns 0, or an exit code (2 bad config/range file, 1 other) after saying why. */
int cs_judge_build(struct cs_judge *j, const struct cs_judge_opts *o);
/* Range lists again, for SIGHUP: NULL after saying why (the old set stays in use). */
struct cs_ranges *cs_judge_load_ranges(const struct cs_judge *j, const char *cmd);
void cs_judge_free(struct cs_judge *j);

#endif
