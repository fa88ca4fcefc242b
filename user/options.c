#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents.h"
#include "learned.h"
#include "proxy.h"
#include "ranges.h"
#include "track.h"

static int push(const char ***list, size_t *n, const char *value)
{
	const char **grown = realloc(*list, (*n + 1) * sizeof(**list));

	if (!grown)
		return 1;
	grown[(*n)++] = value;
	*list = grown;
	return 0;
}

static int duration(const struct cs_judge_opts *o, const char *opt, const char *arg,
		    uint64_t *out, bool *set)
{
	if (!cs_parse_duration(arg, out)) {
		fprintf(stderr, "clicksieve %s: %s: bad duration '%s' (use e.g. 2s, 500ms, 10m)\n",
			o->cmd, opt, arg);
		return 2;
	}
	*set = true;
	return 0;
}

int cs_judge_opt(struct cs_judge_opts *o, int opt, const char *arg)
{
	int rc;

	switch (opt) {
	case 'r': rc = push(&o->range_files, &o->n_range_files, arg); break;
	case 'c': rc = push(&o->config_files, &o->n_config_files, arg); break;
	case CS_OPT_TRUST_PROXY: rc = push(&o->proxies, &o->n_proxies, arg); break;
	case CS_OPT_HONEYPOT: rc = push(&o->honeypots, &o->n_honeypots, arg); break;
	case CS_OPT_BURST_WINDOW:
		return duration(o, "--burst-window", arg, &o->burst_us, &o->burst_set) ?: 1;
	case CS_OPT_MULTI_IP_WINDOW:
		return duration(o, "--multi-ip-window", arg, &o->multi_ip_us, &o->multi_ip_set) ?: 1;
	case CS_OPT_REORDER_WINDOW:
		return duration(o, "--reorder-window", arg, &o->reorder_us, &o->reorder_set) ?: 1;
	case CS_OPT_LEARN_WINDOW:
		return duration(o, "--learn-window", arg, &o->learn_window_us,
				&o->learn_window_set) ?: 1;
	case CS_OPT_LEARN_TTL:
		return duration(o, "--learn-ttl", arg, &o->learn_ttl_us, &o->learn_ttl_set) ?: 1;
	case CS_OPT_LEARN_THRESHOLD: {
		char *end;
		unsigned long n = strtoul(arg, &end, 10);

		if (*arg < '0' || *arg > '9' || *end || n < 1 || n > CS_LEARN_MAX_THRESHOLD) {
			fprintf(stderr, "clicksieve %s: --learn-threshold: '%s' is not a count "
				"1..%d\n", o->cmd, arg, CS_LEARN_MAX_THRESHOLD);
			return 2;
		}
		o->learn_threshold = (uint32_t)n;
		return 1;
	}
	case CS_OPT_NO_LEARN:
		o->no_learn = true;
		return 1;
	default:
		return 0;
	}
	if (rc) {
		fprintf(stderr, "clicksieve %s: out of memory\n", o->cmd);
		return 2;
	}
	return 1;
}

void cs_judge_opts_free(struct cs_judge_opts *o)
{
	free(o->config_files);
	free(o->range_files);
	free(o->proxies);
	free(o->honeypots);
}

/* Config files first, then the command line on top. */
static int build_config(struct cs_judge *j, const struct cs_judge_opts *o)
{
	struct cs_config *cfg = &j->cfg;
	char err[512];
	int oom = 0;

	for (size_t i = 0; i < o->n_config_files; i++) {
		if (cs_config_load(cfg, o->config_files[i], err, sizeof(err))) {
			fprintf(stderr, "clicksieve %s: %s\n", o->cmd, err);
			return 2;
		}
	}
	for (size_t i = 0; i < o->n_range_files; i++)
		oom |= cs_config_add_range_file(cfg, o->range_files[i]);
	for (size_t i = 0; i < o->n_proxies; i++)
		oom |= cs_config_add_trusted_proxy(cfg, o->proxies[i]);
	for (size_t i = 0; i < o->n_honeypots; i++)
		oom |= cs_config_add_honeypot(cfg, o->honeypots[i]);
	if (cfg->n_range_files == 0)
		oom |= cs_config_add_range_file(cfg, cs_ranges_default_path());
	if (oom) {
		fprintf(stderr, "clicksieve %s: out of memory\n", o->cmd);
		return 1;
	}
	if (o->burst_set)
		cfg->classifier.burst_window_us = o->burst_us;
	if (o->multi_ip_set)
		cfg->classifier.multi_ip_window_us = o->multi_ip_us;
	if (o->reorder_set)
		cfg->classifier.reorder_window_us = o->reorder_us;
	if (o->learn_threshold)
		cfg->learn.threshold = o->learn_threshold;
	if (o->learn_window_set)
		cfg->learn.window_us = o->learn_window_us;
	if (o->learn_ttl_set)
		cfg->learn.ttl_us = o->learn_ttl_us;
	if (o->no_learn)
		cfg->learn.enabled = false;
	/* a learned client is the classifier's client */
	cfg->learn.v4_prefix = cfg->classifier.v4_client_prefix;
	cfg->learn.v6_prefix = cfg->classifier.v6_client_prefix;
	if (cfg->learn.enabled && (!cfg->learn.window_us || !cfg->learn.ttl_us)) {
		fprintf(stderr, "clicksieve %s: learn window and ttl must be longer than 0\n",
			o->cmd);
		return 2;
	}
	return 0;
}

struct cs_ranges *cs_judge_load_ranges(const struct cs_judge *j, const char *cmd)
{
	struct cs_ranges *ranges = cs_ranges_new();
	char err[512];

	if (!ranges) {
		fprintf(stderr, "clicksieve %s: out of memory\n", cmd);
		return NULL;
	}
	for (size_t i = 0; i < j->cfg.n_range_files; i++) {
		if (cs_ranges_load_file(ranges, j->cfg.range_files[i], err, sizeof(err))) {
			fprintf(stderr, "clicksieve %s: %s\n", cmd, err);
			cs_ranges_free(ranges);
			return NULL;
		}
	}
	return ranges;
}

int cs_judge_build(struct cs_judge *j, const struct cs_judge_opts *o)
{
	char err[512];
	int rc;

	cs_config_init(&j->cfg);
	rc = build_config(j, o);
	if (rc)
		return rc;
	j->proxies = cs_config_proxies_new(&j->cfg, err, sizeof(err));
	if (!j->proxies) {
		fprintf(stderr, "clicksieve %s: --trust-proxy %s\n", o->cmd, err);
		return 2;
	}
	j->track = cs_config_track_new(&j->cfg, err, sizeof(err));
	if (!j->track) {
		fprintf(stderr, "clicksieve %s: tracking URL: %s\n", o->cmd, err);
		return 2;
	}
	j->ranges = cs_judge_load_ranges(j, o->cmd);
	if (!j->ranges)
		return 2;
	j->agents = cs_agents_load(cs_agents_default_path(), err, sizeof(err));
	if (!j->agents) {
		fprintf(stderr, "clicksieve %s: %s\n", o->cmd, err);
		return 2;
	}
	if (j->cfg.learn.enabled) {
		j->learned = cs_learned_new(&j->cfg.learn);
		if (!j->learned) {
			fprintf(stderr, "clicksieve %s: learned scanners: %s\n", o->cmd,
				strerror(errno));
			return 1;
		}
	}
	j->cfg.classifier.ranges = j->ranges;
	j->cfg.classifier.agents = j->agents;
	j->cfg.classifier.learned = j->learned;
	return 0;
}

void cs_judge_free(struct cs_judge *j)
{
	cs_proxies_free(j->proxies);
	cs_track_free(j->track);
	cs_ranges_free(j->ranges);
	cs_agents_free(j->agents);
	cs_learned_free(j->learned);
	cs_config_free(&j->cfg);
}
