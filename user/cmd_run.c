/* clicksieve run: attach XDP to an interface and print its events. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "ranges.h"
#include "source_xdp.h"

struct run_state {
	struct cs_xdp *xdp;
	const struct cs_config *cfg;
	FILE *out;
	int failed;                     /* the event output went away */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: clicksieve run -i IFACE [-p PORTS] [--xdp-mode auto|native|generic]\n"
		"                      [-r FILE]... [-c FILE] [-o FILE]\n"
		"\n"
		"Attaches the XDP program to IFACE and prints one line per TCP event to a\n"
		"tracked port: time, kind, src:port -> dst:port, [tcp flags], sequence number,\n"
		"captured/total payload bytes, provider of the source range (or -), and the\n"
		"payload's first line.\n"
		"\n"
		"Options:\n"
		"  -i, --interface IFACE   interface to attach to (required)\n"
		"  -p, --ports PORTS       tracked destination ports, e.g. 80,8080-8090 (default 80)\n"
		"      --xdp-mode MODE     auto (native, else generic; the default), native, generic\n"
		"  -r, --ranges FILE       scanner range list (repeatable; default: the shipped list)\n"
		"  -c, --config FILE       INI configuration; options given here override it\n"
		"  -o, --output FILE       append events to FILE instead of stdout\n"
		"  -h, --help              show this help\n"
		"\n"
		"Signals: SIGHUP reloads the range lists; SIGINT and SIGTERM detach and exit.\n"
		"The program is attached through an unpinned bpf_link, so it is detached even\n"
		"when the process is killed.\n"
		"\n"
		"Range maps are pinned in " CS_PIN_DIR "/ and kept across restarts;\n"
		"ranges added there with bpftool for providers that no list names survive\n"
		"restarts and reloads. See docs/kernel-maps.md for layouts and examples.\n"
		"\n"
		"Exit status: 0 after SIGINT/SIGTERM, 1 runtime failure (no permission,\n"
		"interface busy, load failure), 2 bad arguments, configuration or range file.\n");
}

/* The configured range lists as one set; NULL after saying why. */
static struct cs_ranges *load_ranges(const struct cs_config *cfg)
{
	struct cs_ranges *ranges = cs_ranges_new();
	char err[512];

	if (!ranges) {
		fprintf(stderr, "clicksieve run: out of memory\n");
		return NULL;
	}
	for (size_t i = 0; i < cfg->n_range_files; i++) {
		if (cs_ranges_load_file(ranges, cfg->range_files[i], err, sizeof(err))) {
			fprintf(stderr, "clicksieve run: %s\n", err);
			cs_ranges_free(ranges);
			return NULL;
		}
	}
	return ranges;
}

static int sync_ranges(struct run_state *st, const struct cs_ranges *ranges)
{
	struct cs_sync_stats stats;
	char err[512];
	size_t kept = 0;

	if (cs_xdp_sync_ranges(st->xdp, ranges, &stats, &kept, err, sizeof(err))) {
		fprintf(stderr, "clicksieve run: %s\n", err);
		return 1;
	}
	fprintf(stderr,
		"clicksieve: ranges: %zu IPv4, %zu IPv6 (%zu added, %zu changed, %zu removed; "
		"%zu operator ranges kept)\n",
		cs_ranges_count(ranges, 4), cs_ranges_count(ranges, 6), stats.added, stats.changed,
		stats.removed, kept);
	return 0;
}

/* SIGHUP: a bad list leaves the ranges in place. */
static void reload_ranges(struct run_state *st)
{
	struct cs_ranges *ranges;

	fprintf(stderr, "clicksieve: SIGHUP, reloading range lists\n");
	ranges = load_ranges(st->cfg);
	if (!ranges)
		return;
	sync_ranges(st, ranges);
	cs_ranges_free(ranges);
}

static int on_event(void *ctx, const struct cs_event *ev, uint64_t ts_us)
{
	struct run_state *st = ctx;
	char provider[CS_PROVIDER_NAME_LEN];

	cs_xdp_provider_name(st->xdp, ev->provider_id, provider);
	cs_event_print(st->out, ev, ts_us, provider);
	if (fflush(st->out) == EOF) {
		st->failed = 1;
		return -EPIPE;
	}
	return 0;
}

/* Waits for events until SIGINT/SIGTERM; returns the exit status. */
static int event_loop(struct run_state *st, int events_fd, int signal_fd)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };
	int ret = 1;

	if (epfd < 0) {
		perror("clicksieve run: epoll");
		return 1;
	}
	ev.data.fd = events_fd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, events_fd, &ev)) {
		perror("clicksieve run: epoll_ctl");
		goto out;
	}
	ev.data.fd = signal_fd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, signal_fd, &ev)) {
		perror("clicksieve run: epoll_ctl");
		goto out;
	}

	for (;;) {
		struct epoll_event ready[2];
		int n = epoll_wait(epfd, ready, 2, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("clicksieve run: epoll_wait");
			goto out;
		}
		for (int i = 0; i < n; i++) {
			if (ready[i].data.fd == signal_fd) {
				struct signalfd_siginfo si;

				if (read(signal_fd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP) {
					reload_ranges(st);
					continue;
				}
				fprintf(stderr, "clicksieve: %s, detaching\n",
					strsignal((int)si.ssi_signo));
				ret = 0;
				goto out;
			}
			if (cs_xdp_events_consume(st->xdp) < 0 && st->failed) {
				fprintf(stderr, "clicksieve run: writing events: %s\n",
					strerror(errno));
				goto out;
			}
		}
	}
out:
	close(epfd);
	return ret;
}

struct run_args {
	const char *ifname, *ports, *xdp_mode, *output;
	const char **ranges, **configs;
	size_t n_ranges, n_configs;
};

static int push(const char ***list, size_t *n, const char *item)
{
	const char **grown = realloc(*list, (*n + 1) * sizeof(**list));

	if (!grown)
		return -1;
	grown[(*n)++] = item;
	*list = grown;
	return 0;
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct run_args *a)
{
	static const struct option long_opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "ports", required_argument, NULL, 'p' },
		{ "xdp-mode", required_argument, NULL, 'm' },
		{ "ranges", required_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "+i:p:r:c:o:h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'i': a->ifname = optarg; break;
		case 'p': a->ports = optarg; break;
		case 'm': a->xdp_mode = optarg; break;
		case 'o': a->output = optarg; break;
		case 'r':
			if (push(&a->ranges, &a->n_ranges, optarg))
				goto oom;
			break;
		case 'c':
			if (push(&a->configs, &a->n_configs, optarg))
				goto oom;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'clicksieve run --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "clicksieve run: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return -1;
oom:
	fprintf(stderr, "clicksieve run: out of memory\n");
	return 1;
}

/*
 * Config file first, command line over it; range files from both. Fills
 * xcfg and ports; returns -1 to go on, else the exit status.
 */
static int build_config(const struct run_args *a, struct cs_config *cfg,
			struct cs_xdp_config *xcfg, struct cs_ports *ports, const char **output)
{
	const char *ports_text, *mode;
	char err[512];

	for (size_t i = 0; i < a->n_configs; i++) {
		if (cs_config_load(cfg, a->configs[i], err, sizeof(err))) {
			fprintf(stderr, "clicksieve run: %s\n", err);
			return 2;
		}
	}
	for (size_t i = 0; i < a->n_ranges; i++)
		if (cs_config_add_range_file(cfg, a->ranges[i]))
			goto oom;
	if (cfg->n_range_files == 0 && cs_config_add_range_file(cfg, cs_ranges_default_path()))
		goto oom;
	if (cfg->run_metrics)
		fprintf(stderr, "clicksieve run: warning: metrics are not served yet; ignored\n");

	xcfg->ifname = a->ifname ? a->ifname : cfg->run_interface;
	if (!xcfg->ifname) {
		fprintf(stderr, "clicksieve run: -i IFACE is required\n");
		return 2;
	}
	ports_text = a->ports ? a->ports : cfg->run_ports ? cfg->run_ports : "80";
	if (cs_ports_parse(ports_text, ports, err, sizeof(err))) {
		fprintf(stderr, "clicksieve run: %s\n", err);
		return 2;
	}
	xcfg->ports = ports;
	mode = a->xdp_mode ? a->xdp_mode : cfg->run_xdp_mode ? cfg->run_xdp_mode : "auto";
	if (!cs_xdp_mode_parse(mode, &xcfg->mode)) {
		fprintf(stderr, "clicksieve run: bad --xdp-mode '%s': want auto, native or generic\n",
			mode);
		return 2;
	}
	xcfg->pin_dir = CS_PIN_DIR;
	*output = a->output ? a->output : cfg->run_output;
	return -1;
oom:
	fprintf(stderr, "clicksieve run: out of memory\n");
	return 1;
}

int cmd_run(int argc, char **argv)
{
	struct cs_xdp_config xcfg = { 0 };
	struct run_state st = { .out = stdout };
	struct run_args args = { 0 };
	struct cs_ranges *ranges = NULL;
	const char *output = NULL;
	struct cs_config cfg;
	struct cs_ports ports;
	sigset_t signals;
	char err[512];
	int signal_fd = -1, events_fd, ret;

	cs_config_init(&cfg);
	st.cfg = &cfg;
	ret = parse_args(argc, argv, &args);
	if (ret >= 0)
		goto out;
	ret = build_config(&args, &cfg, &xcfg, &ports, &output);
	if (ret >= 0)
		goto out;
	ranges = load_ranges(&cfg);
	if (!ranges) {
		ret = 2;
		goto out;
	}
	if (output) {
		st.out = fopen(output, "a");
		if (!st.out) {
			fprintf(stderr, "clicksieve run: %s: %s\n", output, strerror(errno));
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

	ret = cs_xdp_open(&xcfg, &st.xdp, err, sizeof(err));
	if (ret)
		goto fail;
	/* Ranges before attach: the first packet already sees them. */
	ret = sync_ranges(&st, ranges);
	if (ret)
		goto out;
	ret = cs_xdp_attach(st.xdp, err, sizeof(err));
	if (ret)
		goto fail;
	events_fd = cs_xdp_events_start(st.xdp, on_event, &st, err, sizeof(err));
	if (events_fd < 0) {
		ret = 1;
		goto fail;
	}
	fprintf(stderr, "clicksieve: attached to %s in %s mode\n", xcfg.ifname,
		cs_xdp_mode_name(cs_xdp_attached_mode(st.xdp)));

	ret = event_loop(&st, events_fd, signal_fd);
	goto out;
fail:
	fprintf(stderr, "clicksieve run: %s\n", err);
out:
	cs_xdp_close(st.xdp);
	if (signal_fd >= 0)
		close(signal_fd);
	if (st.out && st.out != stdout)
		fclose(st.out);
	cs_ranges_free(ranges);
	free(args.ranges);
	free(args.configs);
	cs_config_free(&cfg);
	return ret;
}
