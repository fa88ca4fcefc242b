#include "config.h"

#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logformat.h"
#include "proxy.h"
#include "track.h"

/* libinih is built with a 200-byte line buffer; longer lines would be cut. */
#define INI_LINE_MAX 199

struct load_ctx {
	struct cs_config *cfg;
	const char *dir;                /* of the config file, for relative paths */
	bool format_seen;               /* continuation lines append to [log] format */
	char reason[256];               /* first error; inih gives its line */
};

void cs_config_init(struct cs_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cs_classifier_config_defaults(&cfg->classifier);
	cs_learned_config_defaults(&cfg->learn);
	cfg->idle_advance_us = 1000000;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void cs_config_free(struct cs_config *cfg)
{
	free(cfg->track_path);
	free(cfg->track_message_param);
	free(cfg->track_recipient_param);
	free(cfg->track_link_param);
	free(cfg->track_template);
	free_list(cfg->honeypots, cfg->n_honeypots);
	free_list(cfg->range_files, cfg->n_range_files);
	free_list(cfg->trusted_proxies, cfg->n_trusted_proxies);
	free(cfg->log_format);
	for (size_t i = 0; i < cfg->n_json_keys; i++) {
		free(cfg->json_keys[i].var);
		free(cfg->json_keys[i].key);
	}
	free(cfg->json_keys);
	free(cfg->run_interface);
	free(cfg->run_ports);
	free(cfg->run_xdp_mode);
	free(cfg->run_metrics);
	free(cfg->run_output);
	memset(cfg, 0, sizeof(*cfg));
}

static int list_append(char ***list, size_t *n, const char *value)
{
	char **grown = realloc(*list, (*n + 1) * sizeof(**list));
	char *copy = strdup(value);

	if (!grown || !copy) {
		free(copy);
		if (grown)
			*list = grown;
		return -1;
	}
	grown[(*n)++] = copy;
	*list = grown;
	return 0;
}

int cs_config_add_honeypot(struct cs_config *cfg, const char *link)
{
	if (list_append(&cfg->honeypots, &cfg->n_honeypots, link))
		return -1;
	cfg->classifier.honeypot_links = (const char *const *)cfg->honeypots;
	cfg->classifier.n_honeypot_links = cfg->n_honeypots;
	return 0;
}

int cs_config_add_trusted_proxy(struct cs_config *cfg, const char *cidr)
{
	return list_append(&cfg->trusted_proxies, &cfg->n_trusted_proxies, cidr);
}

int cs_config_add_range_file(struct cs_config *cfg, const char *path)
{
	return list_append(&cfg->range_files, &cfg->n_range_files, path);
}

static int set_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

bool cs_parse_duration(const char *text, uint64_t *out_us)
{
	static const struct {
		const char *unit;
		double us;
	} units[] = {
		{ "us", 1 }, { "ms", 1e3 }, { "s", 1e6 }, { "", 1e6 }, { "m", 60e6 }, { "h", 3600e6 },
		{ "d", 86400e6 },
	};
	char *end;
	double v;

	if (*text < '0' || *text > '9')
		return false;
	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text)
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		v *= units[i].us;
		if (v > 1e18)
			return false;
		*out_us = (uint64_t)(v + 0.5);
		return true;
	}
	return false;
}

static bool parse_uint(const char *text, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (*text < '0' || *text > '9')
		return false;
	errno = 0;
	*out = strtoull(text, &end, 10);
	return !errno && !*end && *out <= max;
}

static int fail(struct load_ctx *ctx, const char *fmt, const char *a, const char *b)
{
	if (!ctx->reason[0])
		snprintf(ctx->reason, sizeof(ctx->reason), fmt, a, b);
	return 0;
}

static int on_duration(struct load_ctx *ctx, const char *name, const char *value, uint64_t *out)
{
	if (!cs_parse_duration(value, out))
		return fail(ctx, "%s: bad duration '%s' (use e.g. 2s, 500ms, 10m)", name, value);
	return 1;
}

static int on_track(struct load_ctx *ctx, const char *name, const char *value)
{
	struct cs_config *cfg = ctx->cfg;
	char **field = !strcmp(name, "path") ? &cfg->track_path :
		       !strcmp(name, "message_param") ? &cfg->track_message_param :
		       !strcmp(name, "recipient_param") ? &cfg->track_recipient_param :
		       !strcmp(name, "link_param") ? &cfg->track_link_param :
		       !strcmp(name, "template") ? &cfg->track_template : NULL;

	if (!field)
		return fail(ctx, "unknown key '%s' in [%s]", name, "track");
	if (!*value)
		return fail(ctx, "%s: empty value%s", name, "");
	return set_string(field, value) ? fail(ctx, "%s%s: out of memory", name, "") : 1;
}

static int on_classify(struct load_ctx *ctx, const char *name, const char *value)
{
	struct cs_classifier_config *cc = &ctx->cfg->classifier;
	unsigned long long n;

	if (!strcmp(name, "burst_window"))
		return on_duration(ctx, name, value, &cc->burst_window_us);
	if (!strcmp(name, "multi_ip_window"))
		return on_duration(ctx, name, value, &cc->multi_ip_window_us);
	if (!strcmp(name, "double_click_window"))
		return on_duration(ctx, name, value, &cc->double_click_us);
	if (!strcmp(name, "reorder_window"))
		return on_duration(ctx, name, value, &cc->reorder_window_us);
	if (!strcmp(name, "idle_advance"))
		return on_duration(ctx, name, value, &ctx->cfg->idle_advance_us);
	if (!strcmp(name, "v4_client_prefix")) {
		if (!parse_uint(value, 32, &n))
			return fail(ctx, "%s: '%s' is not a prefix length 0..32", name, value);
		cc->v4_client_prefix = (uint8_t)n;
		return 1;
	}
	if (!strcmp(name, "v6_client_prefix")) {
		if (!parse_uint(value, 128, &n))
			return fail(ctx, "%s: '%s' is not a prefix length 0..128", name, value);
		cc->v6_client_prefix = (uint8_t)n;
		return 1;
	}
	if (!strcmp(name, "max_pairs")) {
		if (!parse_uint(value, SIZE_MAX, &n) || n == 0)
			return fail(ctx, "%s: '%s' is not a positive count", name, value);
		cc->max_pairs = (size_t)n;
		return 1;
	}
	if (!strcmp(name, "honeypot")) {
		if (!*value)
			return fail(ctx, "%s: empty value%s", name, "");
		return cs_config_add_honeypot(ctx->cfg, value) ? fail(ctx, "%s%s: out of memory", name, "") : 1;
	}
	return fail(ctx, "unknown key '%s' in [%s]", name, "classify");
}

static int on_learn(struct load_ctx *ctx, const char *name, const char *value)
{
	struct cs_learned_config *lc = &ctx->cfg->learn;
	unsigned long long n;

	if (!strcmp(name, "enabled")) {
		if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
			lc->enabled = true;
		else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
			lc->enabled = false;
		else
			return fail(ctx, "%s: '%s' is not yes or no", name, value);
		return 1;
	}
	if (!strcmp(name, "threshold")) {
		if (!parse_uint(value, CS_LEARN_MAX_THRESHOLD, &n) || n == 0)
			return fail(ctx, "%s: '%s' is not a count 1..64", name, value);
		lc->threshold = (uint32_t)n;
		return 1;
	}
	if (!strcmp(name, "window") || !strcmp(name, "ttl")) {
		uint64_t *field = name[0] == 'w' ? &lc->window_us : &lc->ttl_us;

		if (!on_duration(ctx, name, value, field))
			return 0;
		return *field ? 1 : fail(ctx, "%s: '%s' must be longer than 0", name, value);
	}
	if (!strcmp(name, "max_entries")) {
		if (!parse_uint(value, UINT32_MAX - 1, &n) || n == 0)
			return fail(ctx, "%s: '%s' is not a positive count", name, value);
		lc->max_entries = (uint32_t)n;
		return 1;
	}
	return fail(ctx, "unknown key '%s' in [%s]", name, "learn");
}

static int on_ranges(struct load_ctx *ctx, const char *name, const char *value)
{
	char path[PATH_MAX];

	if (strcmp(name, "file"))
		return fail(ctx, "unknown key '%s' in [%s]", name, "ranges");
	if (!*value)
		return fail(ctx, "%s: empty value%s", name, "");
	/* Relative paths are relative to the config file, like include paths. */
	if (value[0] == '/' || !strcmp(value, "-"))
		snprintf(path, sizeof(path), "%s", value);
	else
		snprintf(path, sizeof(path), "%s/%s", ctx->dir, value);
	return cs_config_add_range_file(ctx->cfg, path) ? fail(ctx, "%s%s: out of memory", name, "") : 1;
}

static int on_proxy(struct load_ctx *ctx, const char *name, const char *value)
{
	struct cs_proxies *check;
	char err[160];
	int ok;

	if (strcmp(name, "trusted"))
		return fail(ctx, "unknown key '%s' in [%s]", name, "proxy");
	check = cs_proxies_new();
	if (!check)
		return fail(ctx, "%s%s: out of memory", name, "");
	ok = cs_proxies_add(check, value, err, sizeof(err)) == 0;
	cs_proxies_free(check);
	if (!ok)
		return fail(ctx, "trusted: %s%s", err, "");
	return cs_config_add_trusted_proxy(ctx->cfg, value) ? fail(ctx, "%s%s: out of memory", name, "") : 1;
}

static int on_log(struct load_ctx *ctx, const char *name, const char *value)
{
	struct cs_config *cfg = ctx->cfg;
	char *joined;

	if (strcmp(name, "format"))
		return fail(ctx, "unknown key '%s' in [%s]", name, "log");
	if (!ctx->format_seen || !cfg->log_format) {
		ctx->format_seen = true;
		return set_string(&cfg->log_format, value) ? fail(ctx, "%s%s: out of memory", name, "") : 1;
	}
	/* An indented continuation line: joined with one space. */
	if (asprintf(&joined, "%s %s", cfg->log_format, value) < 0)
		return fail(ctx, "%s%s: out of memory", name, "");
	free(cfg->log_format);
	cfg->log_format = joined;
	return 1;
}

static int on_json(struct load_ctx *ctx, const char *name, const char *value)
{
	struct cs_config *cfg = ctx->cfg;
	struct cs_config_json_key *grown;

	if (!cs_logformat_var_known(name))
		return fail(ctx, "[json] %s: not an nginx variable clicksieve reads%s", name, "");
	if (!*value)
		return fail(ctx, "%s: empty JSON key%s", name, "");
	for (size_t i = 0; i < cfg->n_json_keys; i++)
		if (!strcmp(cfg->json_keys[i].var, name))
			return set_string(&cfg->json_keys[i].key, value) ?
			       fail(ctx, "%s%s: out of memory", name, "") : 1;
	grown = realloc(cfg->json_keys, (cfg->n_json_keys + 1) * sizeof(*grown));
	if (!grown)
		return fail(ctx, "%s%s: out of memory", name, "");
	cfg->json_keys = grown;
	grown[cfg->n_json_keys].var = strdup(name);
	grown[cfg->n_json_keys].key = strdup(value);
	cfg->n_json_keys++;
	if (!grown[cfg->n_json_keys - 1].var || !grown[cfg->n_json_keys - 1].key)
		return fail(ctx, "%s%s: out of memory", name, "");
	return 1;
}

static int on_run(struct load_ctx *ctx, const char *name, const char *value)
{
	struct cs_config *cfg = ctx->cfg;
	char **field = !strcmp(name, "interface") ? &cfg->run_interface :
		       !strcmp(name, "ports") ? &cfg->run_ports :
		       !strcmp(name, "xdp_mode") ? &cfg->run_xdp_mode :
		       !strcmp(name, "metrics") ? &cfg->run_metrics :
		       !strcmp(name, "output") ? &cfg->run_output : NULL;

	if (!field)
		return fail(ctx, "unknown key '%s' in [%s]", name, "run");
	if (!*value)
		return fail(ctx, "%s: empty value%s", name, "");
	return set_string(field, value) ? fail(ctx, "%s%s: out of memory", name, "") : 1;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *ctx = user;

	if (!strcmp(section, "track"))
		return on_track(ctx, name, value);
	if (!strcmp(section, "classify"))
		return on_classify(ctx, name, value);
	if (!strcmp(section, "learn"))
		return on_learn(ctx, name, value);
	if (!strcmp(section, "ranges"))
		return on_ranges(ctx, name, value);
	if (!strcmp(section, "proxy"))
		return on_proxy(ctx, name, value);
	if (!strcmp(section, "log"))
		return on_log(ctx, name, value);
	if (!strcmp(section, "json"))
		return on_json(ctx, name, value);
	if (!strcmp(section, "run"))
		return on_run(ctx, name, value);
	if (!*section)
		return fail(ctx, "key '%s' outside any section%s", name, "");
	return fail(ctx, "unknown section [%s]%s", section, "");
}

/* Returns the first line longer than libinih reads whole, or 0. */
static int find_long_line(FILE *f)
{
	int lineno = 1, c;
	size_t len = 0;

	while ((c = getc(f)) != EOF) {
		if (c == '\n') {
			lineno++;
			len = 0;
		} else if (++len > INI_LINE_MAX) {
			return lineno;
		}
	}
	return 0;
}

int cs_config_load(struct cs_config *cfg, const char *path, char *err, size_t errlen)
{
	struct load_ctx ctx = { .cfg = cfg };
	char *path_copy = strdup(path);
	FILE *f = fopen(path, "r");
	int rc = -1, line;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!path_copy) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	ctx.dir = dirname(path_copy);
	line = find_long_line(f);
	if (line) {
		snprintf(err, errlen, "%s:%d: line longer than %d characters "
			 "(continue a value on an indented line)", path, line, INI_LINE_MAX);
		goto out;
	}
	rewind(f);
	line = ini_parse_file(f, on_entry, &ctx);
	if (line) {
		snprintf(err, errlen, "%s:%d: %s", path, line,
			 ctx.reason[0] ? ctx.reason : "syntax error (expected [section] or key = value)");
		goto out;
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	free(path_copy);
	return rc;
}

struct cs_track *cs_config_track_new(const struct cs_config *cfg, char *err, size_t errlen)
{
	if (cfg->track_template)
		return cs_track_new_template(cfg->track_template, err, errlen);
	if (!cfg->track_path && !cfg->track_message_param && !cfg->track_recipient_param &&
	    !cfg->track_link_param)
		return cs_track_new_default();
	return cs_track_new_query(cfg->track_path ? cfg->track_path : "/redirect",
				  cfg->track_message_param ? cfg->track_message_param : "s",
				  cfg->track_recipient_param ? cfg->track_recipient_param : "l",
				  cfg->track_link_param ? cfg->track_link_param : "link",
				  err, errlen);
}

struct cs_proxies *cs_config_proxies_new(const struct cs_config *cfg, char *err, size_t errlen)
{
	struct cs_proxies *p = cs_proxies_new();

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < cfg->n_trusted_proxies; i++) {
		if (cs_proxies_add(p, cfg->trusted_proxies[i], err, errlen)) {
			cs_proxies_free(p);
			return NULL;
		}
	}
	return p;
}
