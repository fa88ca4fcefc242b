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

#include "clicks.h"
#include "commands.h"
#include "config.h"
#include "options.h"
#include "logformat.h"
#include "proxy.h"
#include "ranges.h"
#include "sinks.h"
#include "source_log.h"
#include "track.h"
#include "verdicts.h"

#define BAD_LINES_SHOWN 5
/*
 * A line dated this far past the wall clock is a clock glitch or a corrupt
 * line: taken as event time it would make every later click "late" and
 * switch the timing rules off for the rest of the input.
 */
#define FUTURE_SLACK_US (24ull * 3600 * 1000000)
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
	struct cs_clicks clicks;
	struct cs_json_sink *sink;
	bool strict;
	bool want_summary;
	bool progress;
	struct summary summary;
	uint64_t lines, bad_lines;
	uint64_t latest_plausible_us;   /* wall clock at start + FUTURE_SLACK_US */
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
CS_JUDGE_USAGE
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
	cs_classifier_get_stats(c->clicks.classifier, &st);
	fprintf(stderr, "lines %llu, clicks %llu, not tracking URLs %llu, bad lines %llu, "
		"client from proxy header %llu, late clicks %llu, pairs evicted %llu\n",
		(unsigned long long)c->lines, (unsigned long long)c->clicks.stats.clicks,
		(unsigned long long)c->clicks.stats.untracked, (unsigned long long)c->bad_lines,
		(unsigned long long)c->clicks.stats.via_proxy, (unsigned long long)st.late_clicks,
		(unsigned long long)st.pairs_evicted);
}

/* Late clicks lose burst and multi_ip evidence: say so, and what to do. */
static void warn_late_clicks(const struct classify *c)
{
	struct cs_classifier_stats st;

	cs_classifier_get_stats(c->clicks.classifier, &st);
	if (!st.late_clicks)
		return;
	fprintf(stderr,
		"clicksieve classify: warning: %llu click%s arrived later than the reorder window "
		"allows and were judged without the clicks before them; give files oldest first "
		"or raise --reorder-window\n",
		(unsigned long long)st.late_clicks, st.late_clicks == 1 ? "" : "s");
}

static void on_verdict(void *ctx, const struct cs_click *click, const struct cs_verdict *v)
{
	struct classify *c = ctx;
	struct message_stats *m;

	cs_json_sink_write(c->sink, click, v);
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

static bool handle_line(struct classify *c, const char *file, size_t file_len, char *text,
			size_t len, uint64_t line)
{
	struct cs_log_record rec;
	struct cs_log_error err;

	c->lines++;
	if (!cs_logformat_parse(c->format, text, len, &rec, &err))
		return bad_line(c, file, line, err.reason, err.column);
	if (rec.ts_us > c->latest_plausible_us)
		return bad_line(c, file, line, "time more than a day in the future", 0);
	if (rec.ts_us > c->last_ts_us)
		c->last_ts_us = rec.ts_us;
	cs_clicks_feed(&c->clicks, &(struct cs_seen_request){
		.ts_us = rec.ts_us,
		.peer = rec.remote,
		.method = rec.method,
		.target = rec.target,
		.target_len = rec.target_len,
		.user_agent = rec.user_agent,
		.user_agent_len = rec.user_agent_len,
		.xff = rec.xff,
		.xff_len = rec.xff_len,
		.forwarded = rec.forwarded,
		.forwarded_len = rec.forwarded_len,
		.pos = { .file = file, .line = line, .file_len = file_len },
	});
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
	size_t file_len = strlen(file);
	uint64_t start_us = wall_us(), start_lines = c->lines, last_shown = start_us, n = 0;
	enum cs_log_read r;
	char *text;
	size_t len;
	uint64_t line;

	while ((r = cs_log_source_next(src, &text, &len, &line)) == CS_LOG_LINE ||
	       r == CS_LOG_LONG_LINE) {
		bool go_on = r == CS_LOG_LINE ? handle_line(c, file, file_len, text, len, line) :
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
			cs_classifier_advance(c->clicks.classifier, c->last_ts_us + (wall_us() - last_line_wall));
		cs_json_sink_flush(c->sink);
		fflush(stdout);
		nanosleep(&(struct timespec){ .tv_nsec = FOLLOW_POLL_NS }, NULL);
	}
}

struct options {
	struct cs_judge_opts judge;
	const char *format;
	bool idle_set;
	uint64_t idle_us;
	bool follow, strict, summary;
};

enum { OPT_IDLE = 256, OPT_STRICT };

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		CS_JUDGE_LONGOPTS,
		{ "format", required_argument, NULL, 'f' },
		{ "idle-advance", required_argument, NULL, OPT_IDLE },
		{ "follow", no_argument, NULL, 'F' },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "summary", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt, rc;

	optind = 1;
	o->judge.cmd = "classify";
	while ((opt = getopt_long(argc, argv, CS_JUDGE_SHORTOPTS "f:Fsh", longopts, NULL)) != -1) {
		rc = cs_judge_opt(&o->judge, opt, optarg);
		if (rc > 1)
			return rc;
		if (rc == 1)
			continue;
		switch (opt) {
		case 'f': o->format = optarg; break;
		case OPT_IDLE:
			if (!cs_parse_duration(optarg, &o->idle_us)) {
				fprintf(stderr, "clicksieve classify: --idle-advance: bad duration '%s' "
					"(use e.g. 2s, 500ms, 10m)\n", optarg);
				return 2;
			}
			o->idle_set = true;
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
	}
	if (optind == argc) {
		fprintf(stderr, "clicksieve classify: no input (give FILE... or '-')\n"
			"Try 'clicksieve classify --help'.\n");
		return 2;
	}
	return -1;
}

int cmd_classify(int argc, char **argv)
{
	struct options o = { 0 };
	struct classify c = { 0 };
	struct cs_judge judge = { 0 };
	struct cs_log_source **srcs = NULL;
	size_t n_files = 0;
	const char *format;
	char err[512];
	int rc;

	/*
	 * Only the sink writes stdout, in 64 KiB blocks (--follow flushes it when
	 * idle): a stdio buffer on top would copy every byte once more.
	 */
	setvbuf(stdout, NULL, _IONBF, 0);
	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		goto out;
	rc = cs_judge_build(&judge, &o.judge);
	if (rc)
		goto out;
	if (o.idle_set)
		judge.cfg.idle_advance_us = o.idle_us;
	rc = 2;
	format = o.format ? o.format : judge.cfg.log_format ? judge.cfg.log_format : "combined";
	{
		const char *vars[judge.cfg.n_json_keys + 1], *keys[judge.cfg.n_json_keys + 1];

		for (size_t i = 0; i < judge.cfg.n_json_keys; i++) {
			vars[i] = judge.cfg.json_keys[i].var;
			keys[i] = judge.cfg.json_keys[i].key;
		}
		c.format = cs_logformat_compile(format, vars, keys, judge.cfg.n_json_keys, err,
						sizeof(err));
	}
	if (!c.format) {
		fprintf(stderr, "clicksieve classify: --format: %s\n", err);
		goto out;
	}
	c.clicks.track = judge.track;
	c.clicks.proxies = judge.proxies;

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
	{
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		c.latest_plausible_us = (uint64_t)now.tv_sec * 1000000 + FUTURE_SLACK_US;
	}
	c.want_summary = o.summary;
	c.progress = !o.follow && isatty(STDERR_FILENO);
	c.sink = cs_json_sink_new(stdout);
	c.clicks.classifier = cs_classifier_new(&judge.cfg.classifier, on_verdict, &c);
	if (!c.sink || !c.clicks.classifier) {
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
		follow(&c, srcs, n_files, judge.cfg.idle_advance_us);
	cs_classifier_finish(c.clicks.classifier);
	if ((cs_json_sink_flush(c.sink) | fflush(stdout)) && !c.exit_code) {
		fprintf(stderr, "clicksieve classify: writing output: %s\n", strerror(errno));
		c.exit_code = 1;
	}
	if (o.summary)
		print_summary(&c);
	else if (c.bad_lines && !c.strict)
		fprintf(stderr, "clicksieve classify: %llu bad line%s skipped\n",
			(unsigned long long)c.bad_lines, c.bad_lines == 1 ? "" : "s");
	warn_late_clicks(&c);
	rc = c.exit_code;
out:
	for (size_t i = 0; i < n_files; i++)
		cs_log_source_close(srcs ? srcs[i] : NULL);
	free(srcs);
	if (c.clicks.classifier)
		cs_classifier_free(c.clicks.classifier);
	cs_json_sink_free(c.sink);
	summary_free(&c.summary);
	cs_logformat_free(c.format);
	cs_judge_free(&judge);
	cs_judge_opts_free(&o.judge);
	return rc;
}
