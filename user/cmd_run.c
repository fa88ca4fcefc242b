/*
 * clicksieve run: the live path. XDP events -> flows -> requests -> clicks
 * -> classifier -> JSON verdict lines, with Prometheus metrics, all driven
 * from one epoll loop (ring buffer, signals, a timer, the metrics server).
 *
 * Event time is the packets' time. A timer moves it on with the clock, so a
 * lone click gets its verdict burst_window + reorder_window after it and
 * idle flows close even when no traffic arrives.
 *
 * Range lookups for clicks go to the kernel maps, not to the lists as read:
 * the maps hold the lists (synced at start and on SIGHUP) and whatever the
 * operator added with bpftool, and verdicts must follow both.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clicks.h"
#include "commands.h"
#include "flows.h"
#include "learned.h"
#include "learned_maps.h"
#include "metrics.h"
#include "options.h"
#include "ranges.h"
#include "run_metrics.h"
#include "sinks.h"
#include "source_xdp.h"
#include "verdicts.h"

#ifndef CS_VERSION
#define CS_VERSION "dev"
#endif

#define TICK_NS (200 * 1000000)         /* event time follows the clock this often */
#define DROP_WARN_EVERY_US (10 * 1000000ull)
#define LEARNED_SYNC_US (5 * 1000000ull)   /* operators' edits of the learned maps apply */

struct run {
	struct cs_judge_opts opts;
	struct cs_judge judge;
	struct cs_xdp *xdp;
	struct cs_flows *flows;
	struct cs_classifier *classifier;
	struct cs_clicks clicks;
	struct cs_metrics_server *metrics;
	char *ifname, *output_path, *metrics_listen;
	FILE *out;
	bool print_events;              /* --events: decoded events instead of verdicts */
	int v4_fd, v6_fd, providers_fd;
	/* Provider names handed to the classifier: kept until exit, never moved. */
	char **names;
	size_t n_names;
	size_t ranges_v4, ranges_v6;
	struct cs_delay_hist delay;
	uint64_t write_errors;
	uint64_t drops_seen, drops_warned_us;
	struct cs_learned_maps *learned_maps;   /* NULL when learning is off */
	uint64_t learned_synced_us;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: clicksieve run -i IFACE [OPTIONS]\n"
"\n"
"Attaches the XDP program to IFACE, reassembles the HTTP requests to the\n"
"tracked ports, classifies the clicks on tracked links and writes one JSON\n"
"verdict per click (as `clicksieve classify` does, without file and line). A\n"
"click's verdict is written once it is final: burst window + reorder window\n"
"after it. Logs go to stderr. Metrics are listed in docs/metrics.md.\n"
"\n"
"Options:\n"
"  -i, --interface IFACE    interface to attach to (required; or [run] interface)\n"
"  -p, --ports PORTS        tracked destination ports, e.g. 80,8080-8090 (80)\n"
"      --xdp-mode MODE      auto (native, else generic; the default), native, generic\n"
"  -o, --output FILE        append verdicts to FILE instead of stdout\n"
"      --metrics ADDR:PORT  serve Prometheus metrics at http://ADDR:PORT/metrics\n"
"                           (PORT alone: 127.0.0.1; [V6ADDR]:PORT for IPv6)\n"
CS_JUDGE_USAGE
"      --events             write one line per TCP event instead of verdicts (for\n"
"                           debugging): time, kind, src:port -> dst:port, [tcp\n"
"                           flags], sequence number, captured/total payload bytes,\n"
"                           provider of the source range (or -), the payload's\n"
"                           first line\n"
"  -h, --help               show this help\n"
"\n"
"Signals: SIGHUP reopens the output file (for logrotate), re-reads the\n"
"configuration and the range lists and syncs them into the kernel without\n"
"detaching (a bad file leaves everything as it was; changes to the windows\n"
"and to [run] need a restart). SIGINT and SIGTERM write the verdicts of every\n"
"pending click, then detach and exit. The program is attached through an\n"
"unpinned bpf_link, so it is detached even when the process is killed.\n"
"\n"
"Range maps are pinned in " CS_PIN_DIR "/ and kept across restarts; ranges\n"
"added there with bpftool apply to the next click and survive restarts and\n"
"reloads when no list names their provider. See the README, Kernel maps.\n"
"Learned scanners (--learn-threshold) are kept in " CS_PIN_DIR "/" CS_MAP_LEARNED_V4 "\n"
"and " CS_MAP_LEARNED_V6 " across restarts; 'clicksieve ranges learned' lists them.\n"
"\n"
"Exit status: 0 after SIGINT/SIGTERM, 1 runtime failure (no permission,\n"
"interface busy, load failure), 2 bad arguments, configuration or range file.\n");
}

/* A provider name the classifier may keep pointing at until exit. */
static const char *intern(struct run *r, const char *name)
{
	char **grown, *copy;

	for (size_t i = 0; i < r->n_names; i++)
		if (!strcmp(r->names[i], name))
			return r->names[i];
	grown = realloc(r->names, (r->n_names + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	r->names = grown;
	copy = strdup(name);
	if (!copy)
		return NULL;
	r->names[r->n_names++] = copy;
	return copy;
}

/* The classifier's range lookup: a full-length LPM key finds the longest prefix. */
static bool kernel_range(void *ctx, const struct cs_addr *a, uint16_t *flags,
			 const char **provider)
{
	struct run *r = ctx;
	struct cs_range_value value;
	struct cs_provider_name name;
	__u32 id;
	int err;

	if (a->family == 4) {
		struct cs_lpm_v4 key = { .prefixlen = 32 };

		memcpy(key.addr, a->bytes, 4);
		err = bpf_map_lookup_elem(r->v4_fd, &key, &value);
	} else {
		struct cs_lpm_v6 key = { .prefixlen = 128 };

		memcpy(key.addr, a->bytes, 16);
		err = bpf_map_lookup_elem(r->v6_fd, &key, &value);
	}
	if (err)
		return false;
	*flags = value.flags;
	*provider = NULL;
	id = value.provider_id;
	if (id && !bpf_map_lookup_elem(r->providers_fd, &id, &name) && name.name[0]) {
		name.name[CS_PROVIDER_NAME_LEN - 1] = '\0';
		*provider = intern(r, name.name);
	}
	return true;
}

static uint64_t wall_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void on_verdict(void *ctx, const struct cs_click *click, const struct cs_verdict *v)
{
	struct run *r = ctx;

	cs_sink_json_write(r->out, click, v);
	/* Line by line: whoever tails the output sees verdicts as they come. */
	if (fflush(r->out) == EOF || ferror(r->out)) {
		if (!r->write_errors)
			fprintf(stderr, "clicksieve: writing verdicts: %s\n", strerror(errno));
		r->write_errors++;
		clearerr(r->out);
	}
	cs_delay_hist_add(&r->delay, ((double)wall_now_us() - (double)click->ts_us) / 1e6);
}

static void on_request(void *ctx, const struct cs_request *req)
{
	struct run *r = ctx;

	cs_clicks_feed_http(&r->clicks, req);
}

static int on_event(void *ctx, const struct cs_event *ev, uint64_t ts_us)
{
	struct run *r = ctx;
	struct cs_segment seg;

	if (r->print_events) {
		char provider[CS_PROVIDER_NAME_LEN];

		cs_event_print(r->out, ev, ts_us, cs_xdp_provider_name(r->xdp, ev->provider_id,
								       provider));
		fflush(r->out);
		return 0;
	}
	cs_segment_from_event(ev, ts_us, &seg);
	cs_flows_segment(r->flows, &seg);
	return 0;
}

/* Kernel counters per provider name, for the metrics. */
static size_t gather_providers(struct run *r, struct cs_provider_sample *samples, size_t cap)
{
	int stats_fd = cs_xdp_map_fd(r->xdp, CS_MAP_PROV_STATS);
	size_t n = 0;

	for (uint16_t id = 0; id < CS_MAX_PROVIDERS; id++) {
		char name[CS_PROVIDER_NAME_LEN], unnamed[16];
		struct cs_provider_stats st;

		if (cs_provider_stats_read(stats_fd, id, &st))
			continue;
		cs_xdp_provider_name(r->xdp, id, name);
		if (id && !*name) {
			/* An operator's range under an id without a name. */
			if (!st.syns && !st.event_packets)
				continue;
			snprintf(unnamed, sizeof(unnamed), "id-%u", id);
			cs_provider_sample_add(samples, &n, cap, unnamed, &st);
			continue;
		}
		cs_provider_sample_add(samples, &n, cap, name, &st);
	}
	return n;
}

static void render_metrics(void *ctx, struct cs_prom *p)
{
	static struct cs_provider_sample samples[CS_MAX_PROVIDERS];
	struct run *r = ctx;
	struct cs_learned_stats learned;
	struct cs_run_metrics m = {
		.version = CS_VERSION,
		.providers = samples,
		.clicks = r->clicks.stats,
		.ranges_v4 = r->ranges_v4,
		.ranges_v6 = r->ranges_v6,
		.delay = &r->delay,
		.write_errors = r->write_errors,
	};

	m.have_kernel = !cs_counters_read(cs_xdp_map_fd(r->xdp, CS_MAP_COUNTERS), &m.counters);
	if (m.have_kernel)
		m.n_providers = gather_providers(r, samples, CS_MAX_PROVIDERS);
	cs_flows_get_stats(r->flows, &m.flows);
	cs_classifier_get_stats(r->classifier, &m.classifier);
	if (r->judge.learned) {
		cs_learned_get_stats(r->judge.learned, &learned);
		m.learned = &learned;
		m.learned_write_errors = cs_learned_maps_write_errors(r->learned_maps);
	}
	cs_run_metrics_render(p, &m);
}

static int sync_ranges(struct run *r, const struct cs_ranges *ranges)
{
	struct cs_sync_stats stats;
	char err[512];
	size_t kept = 0;

	if (cs_xdp_sync_ranges(r->xdp, ranges, &stats, &kept, err, sizeof(err))) {
		fprintf(stderr, "clicksieve run: %s\n", err);
		return 1;
	}
	r->ranges_v4 = cs_ranges_count(ranges, 4);
	r->ranges_v6 = cs_ranges_count(ranges, 6);
	fprintf(stderr,
		"clicksieve: ranges: %zu IPv4, %zu IPv6 (%zu added, %zu changed, %zu removed; "
		"%zu operator ranges kept)\n",
		r->ranges_v4, r->ranges_v6, stats.added, stats.changed, stats.removed, kept);
	return 0;
}

static bool same_judging(const struct cs_classifier_config *a, const struct cs_config *b)
{
	const struct cs_classifier_config *n = &b->classifier;

	if (a->burst_window_us != n->burst_window_us ||
	    a->multi_ip_window_us != n->multi_ip_window_us ||
	    a->double_click_us != n->double_click_us ||
	    a->reorder_window_us != n->reorder_window_us ||
	    a->v4_client_prefix != n->v4_client_prefix ||
	    a->v6_client_prefix != n->v6_client_prefix || a->max_pairs != n->max_pairs ||
	    a->n_honeypot_links != n->n_honeypot_links)
		return false;
	for (size_t i = 0; i < a->n_honeypot_links; i++)
		if (strcmp(a->honeypot_links[i], n->honeypot_links[i]))
			return false;
	return true;
}

/* SIGHUP: the output file anew, then configuration and range lists. */
static void reload(struct run *r)
{
	struct cs_judge fresh = { 0 }, old;
	struct cs_agents *agents;
	struct cs_learned *learned;

	fprintf(stderr, "clicksieve: SIGHUP: reopening output, reloading configuration and ranges\n");
	if (r->output_path) {
		FILE *f = fopen(r->output_path, "a");

		if (f) {
			fclose(r->out);
			r->out = f;
		} else {
			fprintf(stderr, "clicksieve: %s: %s; still writing to the old file\n",
				r->output_path, strerror(errno));
		}
	}
	if (cs_judge_build(&fresh, &r->opts)) {
		fprintf(stderr, "clicksieve: reload failed; configuration and ranges unchanged\n");
		cs_judge_free(&fresh);
		return;
	}
	if (sync_ranges(r, fresh.ranges)) {
		cs_judge_free(&fresh);
		return;
	}
	if (!same_judging(&r->judge.cfg.classifier, &fresh.cfg))
		fprintf(stderr, "clicksieve: classifier settings (windows, prefixes, honeypots) "
			"changed: they apply after a restart\n");
	/* The classifier keeps the agents it started with; track and proxies switch now. */
	old = r->judge;
	r->judge = fresh;
	agents = r->judge.agents;
	r->judge.agents = old.agents;
	old.agents = agents;
	/* So do the learned scanners it holds. */
	learned = r->judge.learned;
	r->judge.learned = old.learned;
	old.learned = learned;
	r->clicks.track = r->judge.track;
	r->clicks.proxies = r->judge.proxies;
	cs_judge_free(&old);
}

/* Event time has moved on: close idle flows, write verdicts that are final. */
static void advance(struct run *r)
{
	uint64_t now = cs_xdp_now_us(r->xdp);
	struct cs_counters c;

	cs_flows_advance(r->flows, now);
	cs_classifier_advance(r->classifier, now);
	if (r->learned_maps) {
		cs_learned_expire(r->judge.learned, now);
		if (now - r->learned_synced_us >= LEARNED_SYNC_US) {
			char err[256];

			if (cs_learned_maps_reconcile(r->learned_maps, r->judge.learned, err,
						      sizeof(err)))
				fprintf(stderr, "clicksieve: learned scanners: %s\n", err);
			r->learned_synced_us = now;
		}
	}
	if (!cs_counters_read(cs_xdp_map_fd(r->xdp, CS_MAP_COUNTERS), &c) &&
	    c.v[CS_CNT_EVENTS_DROPPED] > r->drops_seen &&
	    now - r->drops_warned_us >= DROP_WARN_EVERY_US) {
		fprintf(stderr, "clicksieve: ring buffer full: %llu events lost so far\n",
			(unsigned long long)c.v[CS_CNT_EVENTS_DROPPED]);
		r->drops_seen = c.v[CS_CNT_EVENTS_DROPPED];
		r->drops_warned_us = now;
	}
}

static int watch(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)) {
		perror("clicksieve run: epoll_ctl");
		return -1;
	}
	return 0;
}

/* Runs until SIGINT/SIGTERM; returns the exit status. */
static int event_loop(struct run *r, int events_fd, int signal_fd)
{
	struct itimerspec tick = { .it_interval.tv_nsec = TICK_NS, .it_value.tv_nsec = TICK_NS };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	int timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	int metrics_fd = r->metrics ? cs_metrics_fd(r->metrics) : -1;
	int ret = 1;

	if (epfd < 0 || timer_fd < 0 || timerfd_settime(timer_fd, 0, &tick, NULL)) {
		perror("clicksieve run: epoll/timerfd");
		goto out;
	}
	if (watch(epfd, events_fd) || watch(epfd, signal_fd) || watch(epfd, timer_fd) ||
	    (metrics_fd >= 0 && watch(epfd, metrics_fd)))
		goto out;

	for (;;) {
		struct epoll_event ready[4];
		int n = epoll_wait(epfd, ready, 4, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("clicksieve run: epoll_wait");
			goto out;
		}
		for (int i = 0; i < n; i++) {
			int fd = ready[i].data.fd;

			if (fd == events_fd) {
				cs_xdp_events_consume(r->xdp);
			} else if (fd == timer_fd) {
				uint64_t expirations;

				if (read(timer_fd, &expirations, sizeof(expirations)) < 0 &&
				    errno != EAGAIN)
					perror("clicksieve run: timerfd");
				/* Events first: time must not pass them by. */
				cs_xdp_events_consume(r->xdp);
				advance(r);
				if (r->metrics)
					cs_metrics_run(r->metrics);
			} else if (fd == metrics_fd) {
				cs_metrics_run(r->metrics);
			} else if (fd == signal_fd) {
				struct signalfd_siginfo si;

				if (read(signal_fd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP) {
					reload(r);
					continue;
				}
				fprintf(stderr, "clicksieve: %s, writing pending verdicts\n",
					strsignal((int)si.ssi_signo));
				ret = 0;
				goto out;
			}
		}
	}
out:
	if (timer_fd >= 0)
		close(timer_fd);
	if (epfd >= 0)
		close(epfd);
	return ret;
}

/* End of input: every event still queued, every open flow, every pending click. */
static void drain(struct run *r)
{
	struct cs_classifier_stats st;

	cs_xdp_events_consume(r->xdp);
	cs_flows_finish(r->flows);
	cs_classifier_finish(r->classifier);
	fflush(r->out);
	cs_classifier_get_stats(r->classifier, &st);
	fprintf(stderr,
		"clicksieve: %llu requests, %llu clicks (%llu human, %llu machine, %llu suspect), "
		"%llu not tracking URLs; detaching\n",
		(unsigned long long)r->clicks.stats.requests, (unsigned long long)st.clicks,
		(unsigned long long)st.verdicts[CS_HUMAN], (unsigned long long)st.verdicts[CS_MACHINE],
		(unsigned long long)st.verdicts[CS_SUSPECT],
		(unsigned long long)r->clicks.stats.untracked);
}

struct run_args {
	const char *ifname, *ports, *xdp_mode, *output, *metrics;
	bool events;
};

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct run_args *a, struct cs_judge_opts *o)
{
	enum { OPT_XDP_MODE = 2000, OPT_METRICS, OPT_EVENTS };
	static const struct option long_opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "ports", required_argument, NULL, 'p' },
		{ "xdp-mode", required_argument, NULL, OPT_XDP_MODE },
		{ "output", required_argument, NULL, 'o' },
		{ "metrics", required_argument, NULL, OPT_METRICS },
		{ "events", no_argument, NULL, OPT_EVENTS },
		{ "help", no_argument, NULL, 'h' },
		CS_JUDGE_LONGOPTS,
		{ 0 }
	};
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+i:p:o:h" CS_JUDGE_SHORTOPTS, long_opts,
				  NULL)) != -1) {
		switch (opt) {
		case 'i': a->ifname = optarg; break;
		case 'p': a->ports = optarg; break;
		case OPT_XDP_MODE: a->xdp_mode = optarg; break;
		case 'o': a->output = optarg; break;
		case OPT_METRICS: a->metrics = optarg; break;
		case OPT_EVENTS: a->events = true; break;
		case 'h':
			usage(stdout);
			return 0;
		case '?':
			fprintf(stderr, "Try 'clicksieve run --help'.\n");
			return 2;
		default:
			rc = cs_judge_opt(o, opt, optarg);
			if (rc != 1)
				return rc ? rc : 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "clicksieve run: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return -1;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/*
 * The command line over the [run] section. Fills xcfg and ports; returns -1
 * to go on, else the exit status.
 */
static int run_settings(struct run *r, const struct run_args *a, struct cs_xdp_config *xcfg,
			struct cs_ports *ports)
{
	const struct cs_config *cfg = &r->judge.cfg;
	const char *ports_text, *mode, *ifname, *output, *metrics;
	char err[512];

	ifname = a->ifname ? a->ifname : cfg->run_interface;
	if (!ifname) {
		fprintf(stderr, "clicksieve run: -i IFACE is required\n");
		return 2;
	}
	ports_text = a->ports ? a->ports : cfg->run_ports ? cfg->run_ports : "80";
	if (cs_ports_parse(ports_text, ports, err, sizeof(err))) {
		fprintf(stderr, "clicksieve run: %s\n", err);
		return 2;
	}
	mode = a->xdp_mode ? a->xdp_mode : cfg->run_xdp_mode ? cfg->run_xdp_mode : "auto";
	if (!cs_xdp_mode_parse(mode, &xcfg->mode)) {
		fprintf(stderr, "clicksieve run: bad --xdp-mode '%s': want auto, native or generic\n",
			mode);
		return 2;
	}
	output = a->output ? a->output : cfg->run_output;
	metrics = a->metrics ? a->metrics : cfg->run_metrics;
	/* Copies: a SIGHUP reload frees the configuration these came from. */
	r->ifname = strdup(ifname);
	r->output_path = dup_or_null(output);
	r->metrics_listen = dup_or_null(metrics);
	if (!r->ifname || (output && !r->output_path) || (metrics && !r->metrics_listen)) {
		fprintf(stderr, "clicksieve run: out of memory\n");
		return 1;
	}
	r->print_events = a->events;
	xcfg->ifname = r->ifname;
	xcfg->ports = ports;
	xcfg->pin_dir = CS_PIN_DIR;
	return -1;
}

/* Flows and classifier; returns 0 or 1 after saying why. */
static int build_pipeline(struct run *r)
{
	struct cs_classifier_config ccfg = r->judge.cfg.classifier;
	struct cs_flows_config fcfg;

	r->v4_fd = cs_xdp_map_fd(r->xdp, CS_MAP_RANGES_V4);
	r->v6_fd = cs_xdp_map_fd(r->xdp, CS_MAP_RANGES_V6);
	r->providers_fd = cs_xdp_map_fd(r->xdp, CS_MAP_PROVIDERS);
	ccfg.ranges = NULL;
	ccfg.range_lookup = kernel_range;
	ccfg.range_lookup_ctx = r;
	r->classifier = cs_classifier_new(&ccfg, on_verdict, r);

	cs_flows_config_defaults(&fcfg);
	if (getrandom(&fcfg.hash_seed, sizeof(fcfg.hash_seed), 0) < 0)
		fcfg.hash_seed = (uint64_t)getpid() ^ wall_now_us();
	r->flows = cs_flows_new(&fcfg, on_request, r);
	if (!r->classifier || !r->flows) {
		fprintf(stderr, "clicksieve run: cannot set up the pipeline: %s\n", strerror(errno));
		return 1;
	}
	r->clicks.track = r->judge.track;
	r->clicks.proxies = r->judge.proxies;
	r->clicks.classifier = r->classifier;
	return 0;
}

/* Learned scanners live in pinned maps across restarts: 0, or 1 after saying why. */
static int attach_learned(struct run *r, const char *pin_dir)
{
	char err[512];
	long restored;

	if (!r->judge.learned)
		return 0;
	r->learned_maps = cs_learned_maps_attach(r->judge.learned, pin_dir,
						 r->judge.cfg.learn.max_entries, wall_now_us(),
						 &restored, err, sizeof(err));
	if (!r->learned_maps) {
		fprintf(stderr, "clicksieve run: learned scanners: %s\n", err);
		return 1;
	}
	fprintf(stderr, "clicksieve: learned scanners: %ld restored from %s\n", restored, pin_dir);
	r->learned_synced_us = wall_now_us();
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct run r = { .opts.cmd = "run", .out = stdout };
	struct cs_xdp_config xcfg = { 0 };
	struct run_args args = { 0 };
	struct cs_ports ports;
	sigset_t signals;
	char err[512];
	int signal_fd = -1, events_fd, ret;

	ret = parse_args(argc, argv, &args, &r.opts);
	if (ret >= 0)
		goto out;
	ret = cs_judge_build(&r.judge, &r.opts);
	if (ret)
		goto out;
	ret = run_settings(&r, &args, &xcfg, &ports);
	if (ret >= 0)
		goto out;
	if (r.output_path) {
		r.out = fopen(r.output_path, "a");
		if (!r.out) {
			fprintf(stderr, "clicksieve run: %s: %s\n", r.output_path, strerror(errno));
			ret = 1;
			goto out;
		}
	}

	/* Blocked from here on: a signal during startup waits for the loop. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGHUP);
	sigprocmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);
	if (signal_fd < 0) {
		perror("clicksieve run: signalfd");
		ret = 1;
		goto out;
	}

	/* Before the kernel is touched; scrapes are served from the loop only. */
	if (r.metrics_listen) {
		r.metrics = cs_metrics_start(r.metrics_listen, render_metrics, &r, err, sizeof(err));
		if (!r.metrics) {
			ret = strncmp(err, "bad ", 4) ? 1 : 2;
			goto fail;
		}
	}
	ret = cs_xdp_open(&xcfg, &r.xdp, err, sizeof(err));
	if (ret)
		goto fail;
	ret = build_pipeline(&r);
	if (ret)
		goto out;
	ret = attach_learned(&r, xcfg.pin_dir);
	if (ret)
		goto out;
	/* Ranges before attach: the first packet already sees them. */
	ret = sync_ranges(&r, r.judge.ranges);
	if (ret)
		goto out;
	ret = cs_xdp_attach(r.xdp, err, sizeof(err));
	if (ret)
		goto fail;
	events_fd = cs_xdp_events_start(r.xdp, on_event, &r, err, sizeof(err));
	if (events_fd < 0) {
		ret = 1;
		goto fail;
	}
	fprintf(stderr, "clicksieve: attached to %s in %s mode", r.ifname,
		cs_xdp_mode_name(cs_xdp_attached_mode(r.xdp)));
	if (r.metrics)
		fprintf(stderr, "; metrics at http://%s%s/metrics",
			strchr(r.metrics_listen, ':') ? "" : "127.0.0.1:", r.metrics_listen);
	fputc('\n', stderr);

	ret = event_loop(&r, events_fd, signal_fd);
	drain(&r);
	goto out;
fail:
	fprintf(stderr, "clicksieve run: %s\n", err);
out:
	cs_metrics_stop(r.metrics);
	cs_xdp_close(r.xdp);
	if (signal_fd >= 0)
		close(signal_fd);
	if (r.out && r.out != stdout)
		fclose(r.out);
	cs_flows_free(r.flows);
	if (r.classifier)
		cs_classifier_free(r.classifier);
	cs_judge_free(&r.judge);
	cs_learned_maps_close(r.learned_maps);
	cs_judge_opts_free(&r.opts);
	for (size_t i = 0; i < r.n_names; i++)
		free(r.names[i]);
	free(r.names);
	free(r.ifname);
	free(r.output_path);
	free(r.metrics_listen);
	return ret;
}
