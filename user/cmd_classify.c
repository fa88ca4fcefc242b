/*
 * clicksieve classify: access logs -> clicks -> verdicts as JSON lines.
 * Pipeline: source_log -> logformat -> proxy -> track -> verdicts -> sinks.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agents.h"
#include "commands.h"
#include "config.h"
#include "logformat.h"
#include "proxy.h"
#include "ranges.h"
#include "sinks.h"
#include "source_log.h"
#include "track.h"
#include "verdicts.h"

#define BAD_LINES_SHOWN 5
#define FOLLOW_POLL_NS (200 * 1000 * 1000)
#define FOLLOW_BATCH 4096               /* lines per file before looking at the others */

/* Per-message counts for --summary. */
struct message_stats {
	char *message;
	uint64_t clicks;
	uint64_t verdicts[3];
	uint64_t reasons[CS_R_COUNT];
};

struct summary {
	struct message_stats *slots;    /* open addressing, power-of-two size */
	size_t cap, used;
};

struct classify {
	struct cs_logformat *format;
	struct cs_proxies *proxies;
	struct cs_track *track;
	struct cs_classifier *classifier;
	bool strict;
	bool want_summary;
	bool progress;
	struct summary summary;
	uint64_t lines, clicks, untracked, bad_lines, via_proxy;
	uint64_t last_ts_us;            /* newest event time seen */
	int exit_code;
};

static volatile sig_atomic_t stop_requested;

static void usage(FILE *f)
{
	fprintf(f,
"Usage: clicksieve classify [OPTIONS] FILE...|-\n"
"\n"
"Classifies the clicks on tracked links in access logs and prints one JSON\n"
"verdict per click on stdout. FILE may be gzip-compressed; '-' reads stdin.\n"
"Requests that are not tracking URLs are counted, not printed.\n"
"\n"
"Options:\n"
"  -f, --format FMT         combined (default), common, json, or an nginx\n"
"                           log_format string such as\n"
"                           '$remote_addr [$time_iso8601] \"$request\" \"$http_user_agent\"'\n"
"  -r, --ranges FILE        scanner range list (repeatable; default: the shipped list)\n"
"  -c, --config FILE        INI configuration (see clicksieve.conf.example)\n"
"      --trust-proxy CIDR   take the client from X-Forwarded-For / Forwarded when\n"
"                           the logged peer is in CIDR (repeatable)\n"
"      --honeypot LINK      a hidden link id no person can see (repeatable)\n"
"      --burst-window D     clicks of one message x recipient within D are a burst (2s)\n"
"      --multi-ip-window D  other addresses within D after a click are machines (10m)\n"
"      --reorder-window D   how far out of time order lines may be (5s)\n"
"      --idle-advance D     with --follow: after D without lines, event time\n"
"                           follows the wall clock (1s)\n"
"  -F, --follow             keep reading growing files across rotation\n"
"      --strict             a bad line is fatal (exit 2)\n"
"  -s, --summary            per-message table on stderr at the end\n"
"  -h, --help               this help\n"
"\n"
"Durations: 500ms, 2s, 10m, 1h; a bare number is seconds.\n"
"Exit status: 0 ok, 1 I/O error, 2 bad arguments, configuration, range file\n"
"or (with --strict) log line.\n");
}

static uint64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static struct message_stats *summary_get(struct summary *sum, const char *message)
{
	size_t i;

	if ((sum->used + 1) * 4 > sum->cap * 3) {
		size_t cap = sum->cap ? sum->cap * 2 : 1024;
		struct message_stats *slots = calloc(cap, sizeof(*slots));

		if (!slots)
			return NULL;
		for (size_t k = 0; k < sum->cap; k++) {
			if (!sum->slots[k].message)
				continue;
			for (i = hash_str(sum->slots[k].message) & (cap - 1); slots[i].message;
			     i = (i + 1) & (cap - 1))
				;
			slots[i] = sum->slots[k];
		}
		free(sum->slots);
		sum->slots = slots;
		sum->cap = cap;
	}
	for (i = hash_str(message) & (sum->cap - 1); sum->slots[i].message; i = (i + 1) & (sum->cap - 1))
		if (!strcmp(sum->slots[i].message, message))
			return &sum->slots[i];
	sum->slots[i].message = strdup(message);
	if (!sum->slots[i].message)
		return NULL;
	sum->used++;
	return &sum->slots[i];
}

static void summary_free(struct summary *sum)
{
	for (size_t i = 0; i < sum->cap; i++)
		free(sum->slots[i].message);
	free(sum->slots);
}

static int compare_messages(const void *a, const void *b)
{
	const struct message_stats *x = a, *y = b;

	if (!x->message || !y->message)
		return !x->message - !y->message;
	return strcmp(x->message, y->message);
}

static void print_summary(struct classify *c)
{
	struct summary *sum = &c->summary;
	struct message_stats total = { .message = "TOTAL" };
	struct cs_classifier_stats st;

	qsort(sum->slots, sum->cap, sizeof(*sum->slots), compare_messages);
	fprintf(stderr, "%-32s %8s %8s %8s %8s", "message", "clicks", "human", "machine", "suspect");
	for (unsigned r = 0; r < CS_R_COUNT; r++)
		fprintf(stderr, " %*s", (int)(strlen(cs_reason_name(r)) > 8 ? strlen(cs_reason_name(r)) : 8),
			cs_reason_name(r));
	fputc('\n', stderr);
	for (size_t i = 0; i <= sum->used; i++) {
		struct message_stats *m = i < sum->used ? &sum->slots[i] : &total;

		if (m != &total) {
			total.clicks += m->clicks;
			for (int k = 0; k < 3; k++)
				total.verdicts[k] += m->verdicts[k];
			for (unsigned r = 0; r < CS_R_COUNT; r++)
				total.reasons[r] += m->reasons[r];
		}
		fprintf(stderr, "%-32s %8llu %8llu %8llu %8llu", m->message,
			(unsigned long long)m->clicks, (unsigned long long)m->verdicts[CS_HUMAN],
			(unsigned long long)m->verdicts[CS_MACHINE], (unsigned long long)m->verdicts[CS_SUSPECT]);
		for (unsigned r = 0; r < CS_R_COUNT; r++)
			fprintf(stderr, " %*llu",
				(int)(strlen(cs_reason_name(r)) > 8 ? strlen(cs_reason_name(r)) : 8),
				(unsigned long long)m->reasons[r]);
		fputc('\n', stderr);
	}
	cs_classifier_get_stats(c->classifier, &st);
	fprintf(stderr, "lines %llu, clicks %llu, not tracking URLs %llu, bad lines %llu, "
		"client from proxy header %llu, late clicks %llu, pairs evicted %llu\n",
		(unsigned long long)c->lines, (unsigned long long)c->clicks,
		(unsigned long long)c->untracked, (unsigned long long)c->bad_lines,
		(unsigned long long)c->via_proxy, (unsigned long long)st.late_clicks,
		(unsigned long long)st.pairs_evicted);
}

static void on_verdict(void *ctx, const struct cs_click *click, const struct cs_verdict *v)
{
	struct classify *c = ctx;
	struct message_stats *m;

	cs_sink_json_write(stdout, click, v);
	if (!c->want_summary)
		return;
	m = summary_get(&c->summary, click->message);
	if (!m)
		return;
	m->clicks++;
	m->verdicts[v->kind]++;
	for (unsigned r = 0; r < CS_R_COUNT; r++)
		if (v->reasons & (1u << r))
			m->reasons[r]++;
}

/* Returns false when a bad line must stop the run (--strict). */
static bool bad_line(struct classify *c, const char *file, uint64_t line, const char *reason,
		     size_t column)
{
	c->bad_lines++;
	if (c->strict || c->bad_lines <= BAD_LINES_SHOWN) {
		if (column)
			fprintf(stderr, "%s:%llu:%zu: %s\n", file, (unsigned long long)line, column, reason);
		else
			fprintf(stderr, "%s:%llu: %s\n", file, (unsigned long long)line, reason);
	}
	if (c->strict) {
		c->exit_code = 2;
		return false;
	}
	return true;
}

static bool handle_line(struct classify *c, const char *file, char *text, size_t len, uint64_t line)
{
	struct cs_log_record rec;
	struct cs_log_error err;
	struct cs_track_ids ids;
	struct cs_click click;
	size_t mlen;

	c->lines++;
	if (!cs_logformat_parse(c->format, text, len, &rec, &err))
		return bad_line(c, file, line, err.reason, err.column);
	if (rec.ts_us > c->last_ts_us)
		c->last_ts_us = rec.ts_us;
	if (!cs_track_extract(c->track, rec.target, rec.target_len, &ids)) {
		c->untracked++;
		return true;
	}
	memset(&click, 0, sizeof(click));
	click.ts_us = rec.ts_us;
	if (cs_proxy_client(c->proxies, &rec.remote, rec.xff, rec.xff_len, rec.forwarded,
			    rec.forwarded_len, &click.client))
		c->via_proxy++;
	mlen = strlen(rec.method);
	if (mlen >= CS_METHOD_LEN)
		mlen = CS_METHOD_LEN - 1;
	memcpy(click.method, rec.method, mlen);
	click.message = ids.message;
	click.recipient = ids.recipient;
	click.link = ids.link;
	click.user_agent = rec.user_agent;
	click.pos.file = file;
	click.pos.line = line;
	c->clicks++;
	cs_classifier_feed(c->classifier, &click);
	return true;
}

static void show_progress(struct classify *c, struct cs_log_source *src, uint64_t start_us,
			  uint64_t start_lines)
{
	uint64_t now = wall_us(), size = cs_log_source_size(src);
	double secs = (double)(now - start_us) / 1e6;

	fprintf(stderr, "\r%s: %llu lines, %.0f lines/s", cs_log_source_path(src),
		(unsigned long long)(c->lines - start_lines),
		secs > 0 ? (double)(c->lines - start_lines) / secs : 0.0);
	if (size)
		fprintf(stderr, ", %.0f%%", 100.0 * (double)cs_log_source_offset(src) / (double)size);
	fprintf(stderr, "\033[K");
}

/*
 * Reads up to max lines (0 = all). Returns true when it stopped at max,
 * so that more lines may be ready.
 */
static bool drain(struct classify *c, struct cs_log_source *src, uint64_t max)
{
	const char *file = cs_log_source_path(src);
	uint64_t start_us = wall_us(), start_lines = c->lines, last_shown = start_us, n = 0;
	enum cs_log_read r;
	char *text;
	size_t len;
	uint64_t line;

	while ((r = cs_log_source_next(src, &text, &len, &line)) == CS_LOG_LINE ||
	       r == CS_LOG_LONG_LINE) {
		bool go_on = r == CS_LOG_LINE ? handle_line(c, file, text, len, line) :
			     (c->lines++, bad_line(c, file, line, "line too long", 0));

		if (!go_on || stop_requested)
			return false;
		if (c->progress && (++n & 0xffff) == 0 && wall_us() - last_shown > 1000000) {
			last_shown = wall_us();
			show_progress(c, src, start_us, start_lines);
		}
		if (max && n >= max)
			return true;
	}
	if (c->progress && last_shown != start_us)
		fprintf(stderr, "\r\033[K");
	if (r == CS_LOG_ERROR) {
		fprintf(stderr, "clicksieve classify: %s\n", cs_log_source_error(src));
		c->exit_code = 1;
	}
	return false;
}

static void on_stop_signal(int sig)
{
	stop_requested = 1;
}

static void follow(struct classify *c, struct cs_log_source **srcs, size_t n, uint64_t idle_advance_us)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	uint64_t last_line_wall = 0, last_lines = c->lines;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop_requested && !c->exit_code) {
		bool busy = false;

		for (size_t i = 0; i < n && !c->exit_code; i++)
			busy |= drain(c, srcs[i], FOLLOW_BATCH);
		if (c->lines != last_lines) {
			last_lines = c->lines;
			last_line_wall = wall_us();
		}
		if (busy)
			continue;
		/* Idle: event time moves on with the wall clock so verdicts do not stall. */
		if (last_line_wall && wall_us() - last_line_wall >= idle_advance_us)
			cs_classifier_advance(c->classifier, c->last_ts_us + (wall_us() - last_line_wall));
		fflush(stdout);
		nanosleep(&(struct timespec){ .tv_nsec = FOLLOW_POLL_NS }, NULL);
	}
}

struct options {
	struct cs_config cfg;
	const char *format;
	const char **config_files;
	size_t n_config_files;
	char **cli_ranges, **cli_proxies, **cli_honeypots;
	size_t n_cli_ranges, n_cli_proxies, n_cli_honeypots;
	bool burst_set, multi_ip_set, reorder_set, idle_set;
	uint64_t burst_us, multi_ip_us, reorder_us, idle_us;
	bool follow, strict, summary;
};

static bool push(char ***list, size_t *n, char *value)
{
	char **grown = realloc(*list, (*n + 1) * sizeof(**list));

	if (!grown)
		return false;
	grown[(*n)++] = value;
	*list = grown;
	return true;
}

static bool duration_arg(const char *opt, const char *value, uint64_t *out, bool *set)
{
	if (!cs_parse_duration(value, out)) {
		fprintf(stderr, "clicksieve classify: %s: bad duration '%s' (use e.g. 2s, 500ms, 10m)\n",
			opt, value);
		return false;
	}
	*set = true;
	return true;
}

enum {
	OPT_TRUST_PROXY = 256, OPT_HONEYPOT, OPT_BURST, OPT_MULTI_IP, OPT_REORDER, OPT_IDLE, OPT_STRICT,
};

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "ranges", required_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'c' },
		{ "trust-proxy", required_argument, NULL, OPT_TRUST_PROXY },
		{ "honeypot", required_argument, NULL, OPT_HONEYPOT },
		{ "burst-window", required_argument, NULL, OPT_BURST },
		{ "multi-ip-window", required_argument, NULL, OPT_MULTI_IP },
		{ "reorder-window", required_argument, NULL, OPT_REORDER },
		{ "idle-advance", required_argument, NULL, OPT_IDLE },
		{ "follow", no_argument, NULL, 'F' },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "summary", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;
	bool ok = true;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:r:c:Fsh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f': o->format = optarg; break;
		case 'r': ok = push(&o->cli_ranges, &o->n_cli_ranges, optarg); break;
		case 'c': ok = push((char ***)&o->config_files, &o->n_config_files, optarg); break;
		case OPT_TRUST_PROXY: ok = push(&o->cli_proxies, &o->n_cli_proxies, optarg); break;
		case OPT_HONEYPOT: ok = push(&o->cli_honeypots, &o->n_cli_honeypots, optarg); break;
		case OPT_BURST:
			if (!duration_arg("--burst-window", optarg, &o->burst_us, &o->burst_set))
				return 2;
			break;
		case OPT_MULTI_IP:
			if (!duration_arg("--multi-ip-window", optarg, &o->multi_ip_us, &o->multi_ip_set))
				return 2;
			break;
		case OPT_REORDER:
			if (!duration_arg("--reorder-window", optarg, &o->reorder_us, &o->reorder_set))
				return 2;
			break;
		case OPT_IDLE:
			if (!duration_arg("--idle-advance", optarg, &o->idle_us, &o->idle_set))
				return 2;
			break;
		case 'F': o->follow = true; break;
		case OPT_STRICT: o->strict = true; break;
		case 's': o->summary = true; break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'clicksieve classify --help'.\n");
			return 2;
		}
		if (!ok) {
			fprintf(stderr, "clicksieve classify: out of memory\n");
			return 1;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "clicksieve classify: no input (give FILE... or '-')\n"
			"Try 'clicksieve classify --help'.\n");
		return 2;
	}
	return -1;
}

/* Config files first, then the command line on top. Returns -1 or an exit code. */
static int build_config(struct options *o)
{
	struct cs_config *cfg = &o->cfg;
	char err[512];

	for (size_t i = 0; i < o->n_config_files; i++) {
		if (cs_config_load(cfg, o->config_files[i], err, sizeof(err))) {
			fprintf(stderr, "clicksieve classify: %s\n", err);
			return 2;
		}
	}
	for (size_t i = 0; i < o->n_cli_ranges; i++)
		if (cs_config_add_range_file(cfg, o->cli_ranges[i]))
			return 1;
	for (size_t i = 0; i < o->n_cli_proxies; i++)
		if (cs_config_add_trusted_proxy(cfg, o->cli_proxies[i]))
			return 1;
	for (size_t i = 0; i < o->n_cli_honeypots; i++)
		if (cs_config_add_honeypot(cfg, o->cli_honeypots[i]))
			return 1;
	if (o->burst_set)
		cfg->classifier.burst_window_us = o->burst_us;
	if (o->multi_ip_set)
		cfg->classifier.multi_ip_window_us = o->multi_ip_us;
	if (o->reorder_set)
		cfg->classifier.reorder_window_us = o->reorder_us;
	if (o->idle_set)
		cfg->idle_advance_us = o->idle_us;
	return -1;
}

int cmd_classify(int argc, char **argv)
{
	struct options o = { 0 };
	struct classify c = { 0 };
	struct cs_ranges *ranges = NULL;
	struct cs_agents *agents = NULL;
	struct cs_log_source **srcs = NULL;
	size_t n_files = 0;
	const char *format;
	char err[512];
	int rc;

	cs_config_init(&o.cfg);
	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		goto out;
	rc = build_config(&o);
	if (rc >= 0)
		goto out;
	rc = 2;
	format = o.format ? o.format : o.cfg.log_format ? o.cfg.log_format : "combined";
	{
		const char *vars[o.cfg.n_json_keys + 1], *keys[o.cfg.n_json_keys + 1];

		for (size_t i = 0; i < o.cfg.n_json_keys; i++) {
			vars[i] = o.cfg.json_keys[i].var;
			keys[i] = o.cfg.json_keys[i].key;
		}
		c.format = cs_logformat_compile(format, vars, keys, o.cfg.n_json_keys, err, sizeof(err));
	}
	if (!c.format) {
		fprintf(stderr, "clicksieve classify: --format: %s\n", err);
		goto out;
	}
	c.proxies = cs_config_proxies_new(&o.cfg, err, sizeof(err));
	if (!c.proxies) {
		fprintf(stderr, "clicksieve classify: --trust-proxy %s\n", err);
		goto out;
	}
	c.track = cs_config_track_new(&o.cfg, err, sizeof(err));
	if (!c.track) {
		fprintf(stderr, "clicksieve classify: tracking URL: %s\n", err);
		goto out;
	}
	ranges = cs_ranges_new();
	if (!ranges) {
		rc = 1;
		goto out;
	}
	if (o.cfg.n_range_files == 0 && cs_config_add_range_file(&o.cfg, cs_ranges_default_path())) {
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < o.cfg.n_range_files; i++) {
		if (cs_ranges_load_file(ranges, o.cfg.range_files[i], err, sizeof(err))) {
			fprintf(stderr, "clicksieve classify: %s\n", err);
			goto out;
		}
	}
	agents = cs_agents_load(cs_agents_default_path(), err, sizeof(err));
	if (!agents) {
		fprintf(stderr, "clicksieve classify: %s\n", err);
		goto out;
	}
	o.cfg.classifier.ranges = ranges;
	o.cfg.classifier.agents = agents;

	/* Check every input before printing anything. */
	n_files = (size_t)(argc - optind);
	srcs = calloc(n_files, sizeof(*srcs));
	if (!srcs) {
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < n_files; i++) {
		const char *path = argv[optind + i];

		if (o.follow && !strcmp(path, "-")) {
			fprintf(stderr, "clicksieve classify: --follow needs files, not '-'\n");
			goto out;
		}
		if (strcmp(path, "-") && access(path, R_OK)) {
			fprintf(stderr, "clicksieve classify: %s: %s\n", path, strerror(errno));
			rc = 1;
			goto out;
		}
	}

	c.strict = o.strict;
	c.want_summary = o.summary;
	c.progress = !o.follow && isatty(STDERR_FILENO);
	c.classifier = cs_classifier_new(&o.cfg.classifier, on_verdict, &c);
	if (!c.classifier) {
		fprintf(stderr, "clicksieve classify: cannot set up the classifier\n");
		rc = 1;
		goto out;
	}
	rc = 0;
	/* Following holds every file open; otherwise one at a time. */
	for (size_t i = 0; i < n_files && !c.exit_code && !stop_requested; i++) {
		srcs[i] = cs_log_source_open(argv[optind + i], o.follow, err, sizeof(err));
		if (!srcs[i]) {
			fprintf(stderr, "clicksieve classify: %s\n", err);
			c.exit_code = o.follow && strstr(err, "cannot follow") ? 2 : 1;
			break;
		}
		if (o.follow)
			continue;
		drain(&c, srcs[i], 0);
		cs_log_source_close(srcs[i]);
		srcs[i] = NULL;
	}
	if (o.follow && !c.exit_code)
		follow(&c, srcs, n_files, o.cfg.idle_advance_us);
	cs_classifier_finish(c.classifier);
	if (fflush(stdout) && !c.exit_code) {
		fprintf(stderr, "clicksieve classify: writing output: %s\n", strerror(errno));
		c.exit_code = 1;
	}
	if (o.summary)
		print_summary(&c);
	else if (c.bad_lines && !c.strict)
		fprintf(stderr, "clicksieve classify: %llu bad line%s skipped\n",
			(unsigned long long)c.bad_lines, c.bad_lines == 1 ? "" : "s");
	rc = c.exit_code;
out:
	for (size_t i = 0; i < n_files; i++)
		cs_log_source_close(srcs ? srcs[i] : NULL);
	free(srcs);
	if (c.classifier)
		cs_classifier_free(c.classifier);
	summary_free(&c.summary);
	if (agents)
		cs_agents_free(agents);
	if (ranges)
		cs_ranges_free(ranges);
	if (c.track)
		cs_track_free(c.track);
	cs_proxies_free(c.proxies);
	cs_logformat_free(c.format);
	free(o.config_files);
	free(o.cli_ranges);
	free(o.cli_proxies);
	free(o.cli_honeypots);
	cs_config_free(&o.cfg);
	return rc;
}
