/*
 * clicksieve replay: pcap files -> clicks -> verdicts as JSON lines.
 * Pipeline: source_pcap (packet_parse.h) -> flows -> requests -> proxy ->
 * track -> verdicts -> sinks. Capture timestamps are event time.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "agents.h"
#include "clicksieve_abi.h"
#include "commands.h"
#include "config.h"
#include "flows.h"
#include "proxy.h"
#include "ranges.h"
#include "sinks.h"
#include "source_pcap.h"
#include "track.h"
#include "verdicts.h"

/* Event time moves flows and classifier on at most this often. */
#define ADVANCE_EVERY_US 1000000

struct replay {
	uint64_t *port_bitmap;          /* CS_PORT_BITMAP_WORDS words */
	struct cs_track *track;
	struct cs_proxies *proxies;
	struct cs_classifier *classifier;
	uint64_t requests, clicks, untracked, via_proxy, proxy_untrusted, other_ports;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: clicksieve replay [OPTIONS] FILE.pcap...\n"
"\n"
"Reassembles the HTTP requests to the tracked ports in capture files (pcap or\n"
"pcapng; Ethernet with VLAN tags, Linux cooked v1/v2, raw IP, loopback),\n"
"classifies the clicks on tracked links and prints one JSON verdict per click\n"
"on stdout. Capture timestamps are event time; files are read in order as one\n"
"capture; '-' reads one from stdin. Requests that are not tracking URLs are\n"
"counted, not printed.\n"
"\n"
"Options:\n"
"  -p, --ports LIST         tracked server ports, e.g. 80,8080,8000-8010 (80)\n"
"  -r, --ranges FILE        scanner range list (repeatable; default: the shipped list)\n"
"  -c, --config FILE        INI configuration (see clicksieve.conf.example)\n"
"      --trust-proxy CIDR   believe PROXY protocol headers from peers in CIDR, and\n"
"                           take the client from X-Forwarded-For / Forwarded when\n"
"                           the peer (or PROXY source) is in CIDR (repeatable)\n"
"      --honeypot LINK      a hidden link id no person can see (repeatable)\n"
"      --burst-window D     clicks of one message x recipient within D are a burst (2s)\n"
"      --multi-ip-window D  other addresses within D after a click are machines (10m)\n"
"      --reorder-window D   how far out of time order requests may complete (5s)\n"
"  -s, --stats              packet, flow and request counters on stderr at the end\n"
"  -h, --help               this help\n"
"\n"
"Reassembly keeps the first copy of overlapping data; requests with bytes\n"
"missing from the capture are counted and skipped (--stats).\n"
"Exit status: 0 ok, 1 read error, 2 bad arguments, configuration, range file\n"
"or input that is not a capture file.\n");
}

/* "80,8080,8000-8010" into the port bitmap; false on a bad list. */
static bool parse_ports(const char *text, uint64_t *bitmap)
{
	const char *p = text;

	memset(bitmap, 0, CS_PORT_BITMAP_WORDS * sizeof(*bitmap));
	for (;;) {
		char *end;
		unsigned long lo, hi;

		errno = 0;
		lo = strtoul(p, &end, 10);
		if (end == p || errno || lo == 0 || lo > 65535)
			return false;
		hi = lo;
		p = end;
		if (*p == '-') {
			hi = strtoul(++p, &end, 10);
			if (end == p || errno || hi < lo || hi > 65535)
				return false;
			p = end;
		}
		for (unsigned long port = lo; port <= hi; port++)
			bitmap[port / 64] |= 1ull << (port % 64);
		if (*p == '\0')
			return true;
		if (*p++ != ',')
			return false;
	}
}

static void on_verdict(void *ctx, const struct cs_click *click, const struct cs_verdict *v)
{
	cs_sink_json_write(stdout, click, v);
}

static void on_request(void *ctx, const struct cs_request *req)
{
	struct replay *r = ctx;
	struct cs_track_ids ids;
	struct cs_click click;
	struct cs_addr hop;
	size_t mlen;

	r->requests++;
	if (!cs_track_extract(r->track, req->target, req->target_len, &ids)) {
		r->untracked++;
		return;
	}
	memset(&click, 0, sizeof(click));
	click.ts_us = req->ts_us;
	/* Anyone can write a PROXY header: believe it only from a trusted peer. */
	hop = req->client;
	if (req->proxied && !cs_proxies_trusted(r->proxies, &req->peer)) {
		hop = req->peer;
		r->proxy_untrusted++;
	}
	cs_proxy_client(r->proxies, &hop, req->xff, strlen(req->xff), req->forwarded,
			strlen(req->forwarded), &click.client);
	if (!cs_addr_equal(&click.client, &req->peer))
		r->via_proxy++;
	mlen = strlen(req->method);
	if (mlen >= CS_METHOD_LEN)
		mlen = CS_METHOD_LEN - 1;
	memcpy(click.method, req->method, mlen);
	click.message = ids.message;
	click.recipient = ids.recipient;
	click.link = ids.link;
	click.user_agent = req->user_agent;
	r->clicks++;
	cs_classifier_feed(r->classifier, &click);
}

static void print_stats(const struct replay *r, const struct cs_pcap_stats *p,
			const struct cs_flows *flows)
{
	struct cs_flow_stats f;

	cs_flows_get_stats(flows, &f);
	fprintf(stderr,
		"packets %" PRIu64 ", tcp segments %" PRIu64 " (other ports %" PRIu64 "), "
		"non-ip %" PRIu64 ", non-tcp %" PRIu64 ", fragments %" PRIu64 ", malformed %" PRIu64
		", cut by snaplen %" PRIu64 "\n",
		p->packets, p->segments, r->other_ports, p->non_ip, p->non_tcp, p->fragments,
		p->malformed, p->truncated);
	fprintf(stderr,
		"flows %" PRIu64 " (mid-stream %" PRIu64 "), closed by fin %" PRIu64 ", rst %" PRIu64
		", idle %" PRIu64 ", evicted %" PRIu64 ", replaced %" PRIu64 ", open at end %" PRIu64
		"\n",
		f.flows_created, f.flows_midstream, f.flows_closed_fin, f.flows_closed_rst,
		f.flows_timed_out, f.flows_evicted, f.flows_replaced, f.flows_flushed);
	fprintf(stderr,
		"reassembly: out of order %" PRIu64 ", retransmitted bytes %" PRIu64
		", overlap conflicts %" PRIu64 ", holes %" PRIu64 " (%" PRIu64 " bytes), "
		"out-of-order cap hits %" PRIu64 ", peak memory %" PRIu64 " bytes\n",
		f.ooo_segments, f.retransmitted_bytes, f.overlap_conflicts, f.holes, f.hole_bytes,
		f.ooo_cap_hits, f.mem_peak);
	fprintf(stderr,
		"requests %" PRIu64 ", clicks %" PRIu64 ", not tracking URLs %" PRIu64
		", client from proxy header %" PRIu64 ", PROXY header from untrusted peer %" PRIu64
		"; lost to holes %" PRIu64
		", over header budget %" PRIu64 ", malformed %" PRIu64 ", incomplete %" PRIu64
		", desyncs %" PRIu64 ", PROXY v1 %" PRIu64 " v2 %" PRIu64 " invalid %" PRIu64 "\n",
		r->requests, r->clicks, r->untracked, r->via_proxy, r->proxy_untrusted, f.requests_lost,
		f.requests_over_budget, f.requests_malformed, f.requests_incomplete, f.desyncs,
		f.proxy_v1, f.proxy_v2, f.proxy_invalid);
}

struct options {
	struct cs_config cfg;
	const char *ports;
	char **config_files, **cli_ranges, **cli_proxies, **cli_honeypots;
	size_t n_config_files, n_cli_ranges, n_cli_proxies, n_cli_honeypots;
	bool burst_set, multi_ip_set, reorder_set, stats;
	uint64_t burst_us, multi_ip_us, reorder_us;
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
		fprintf(stderr, "clicksieve replay: %s: bad duration '%s' (use e.g. 2s, 500ms, 10m)\n",
			opt, value);
		return false;
	}
	*set = true;
	return true;
}

enum { OPT_TRUST_PROXY = 256, OPT_HONEYPOT, OPT_BURST, OPT_MULTI_IP, OPT_REORDER };

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "ports", required_argument, NULL, 'p' },
		{ "ranges", required_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'c' },
		{ "trust-proxy", required_argument, NULL, OPT_TRUST_PROXY },
		{ "honeypot", required_argument, NULL, OPT_HONEYPOT },
		{ "burst-window", required_argument, NULL, OPT_BURST },
		{ "multi-ip-window", required_argument, NULL, OPT_MULTI_IP },
		{ "reorder-window", required_argument, NULL, OPT_REORDER },
		{ "stats", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;
	bool ok = true;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:r:c:sh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p': o->ports = optarg; break;
		case 'r': ok = push(&o->cli_ranges, &o->n_cli_ranges, optarg); break;
		case 'c': ok = push(&o->config_files, &o->n_config_files, optarg); break;
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
		case 's': o->stats = true; break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'clicksieve replay --help'.\n");
			return 2;
		}
		if (!ok) {
			fprintf(stderr, "clicksieve replay: out of memory\n");
			return 1;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "clicksieve replay: no input (give FILE.pcap...)\n"
			"Try 'clicksieve replay --help'.\n");
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
			fprintf(stderr, "clicksieve replay: %s\n", err);
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
	if (!o->ports)
		o->ports = cfg->run_ports ? cfg->run_ports : "80";
	return -1;
}

/* Reads one capture to its end; returns 0 or 1 on a read error. */
static int replay_file(struct replay *r, struct cs_pcap_source *src, const char *path,
		       struct cs_flows *flows, uint64_t *next_advance)
{
	struct cs_segment seg;
	int rc;

	while ((rc = cs_pcap_next(src, &seg)) == 1) {
		if (!(r->port_bitmap[seg.dport / 64] & (1ull << (seg.dport % 64)))) {
			r->other_ports++;
			continue;
		}
		cs_flows_segment(flows, &seg);
		if (seg.ts_us >= *next_advance) {
			cs_flows_advance(flows, seg.ts_us);
			cs_classifier_advance(r->classifier, seg.ts_us);
			*next_advance = seg.ts_us + ADVANCE_EVERY_US;
		}
	}
	if (rc < 0) {
		fprintf(stderr, "clicksieve replay: %s: %s\n", path, cs_pcap_error(src));
		return 1;
	}
	return 0;
}

int cmd_replay(int argc, char **argv)
{
	static uint64_t port_bitmap[CS_PORT_BITMAP_WORDS];
	struct options o = { 0 };
	struct replay r = { .port_bitmap = port_bitmap };
	struct cs_flows_config flows_cfg;
	struct cs_flows *flows = NULL;
	struct cs_ranges *ranges = NULL;
	struct cs_agents *agents = NULL;
	struct cs_pcap_source **srcs = NULL;
	struct cs_pcap_stats total = { 0 };
	uint64_t next_advance = 0;
	size_t n_files = 0;
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
	if (!parse_ports(o.ports, port_bitmap)) {
		fprintf(stderr, "clicksieve replay: --ports: bad port list '%s' "
			"(use e.g. 80,8080,8000-8010)\n", o.ports);
		goto out;
	}
	r.proxies = cs_config_proxies_new(&o.cfg, err, sizeof(err));
	if (!r.proxies) {
		fprintf(stderr, "clicksieve replay: --trust-proxy %s\n", err);
		goto out;
	}
	r.track = cs_config_track_new(&o.cfg, err, sizeof(err));
	if (!r.track) {
		fprintf(stderr, "clicksieve replay: tracking URL: %s\n", err);
		goto out;
	}
	ranges = cs_ranges_new();
	if (!ranges || (o.cfg.n_range_files == 0 &&
			cs_config_add_range_file(&o.cfg, cs_ranges_default_path()))) {
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < o.cfg.n_range_files; i++) {
		if (cs_ranges_load_file(ranges, o.cfg.range_files[i], err, sizeof(err))) {
			fprintf(stderr, "clicksieve replay: %s\n", err);
			goto out;
		}
	}
	agents = cs_agents_load(cs_agents_default_path(), err, sizeof(err));
	if (!agents) {
		fprintf(stderr, "clicksieve replay: %s\n", err);
		goto out;
	}
	o.cfg.classifier.ranges = ranges;
	o.cfg.classifier.agents = agents;

	/* Every input must be a capture before anything is printed. */
	n_files = (size_t)(argc - optind);
	srcs = calloc(n_files, sizeof(*srcs));
	if (!srcs) {
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < n_files; i++) {
		srcs[i] = cs_pcap_open(argv[optind + i], err, sizeof(err));
		if (!srcs[i]) {
			fprintf(stderr, "clicksieve replay: %s\n", err);
			goto out;
		}
	}

	cs_flows_config_defaults(&flows_cfg);
	if (getrandom(&flows_cfg.hash_seed, sizeof(flows_cfg.hash_seed), 0) < 0)
		flows_cfg.hash_seed = (uint64_t)getpid();
	r.classifier = cs_classifier_new(&o.cfg.classifier, on_verdict, &r);
	flows = cs_flows_new(&flows_cfg, on_request, &r);
	if (!r.classifier || !flows) {
		fprintf(stderr, "clicksieve replay: cannot set up the pipeline\n");
		rc = 1;
		goto out;
	}
	rc = 0;
	for (size_t i = 0; i < n_files && !rc; i++) {
		struct cs_pcap_stats st;

		rc = replay_file(&r, srcs[i], argv[optind + i], flows, &next_advance);
		cs_pcap_get_stats(srcs[i], &st);
		total.packets += st.packets;
		total.segments += st.segments;
		total.non_ip += st.non_ip;
		total.non_tcp += st.non_tcp;
		total.fragments += st.fragments;
		total.malformed += st.malformed;
		total.truncated += st.truncated;
	}
	cs_flows_finish(flows);
	cs_classifier_finish(r.classifier);
	if (fflush(stdout) && !rc) {
		fprintf(stderr, "clicksieve replay: writing output: %s\n", strerror(errno));
		rc = 1;
	}
	if (o.stats)
		print_stats(&r, &total, flows);
out:
	for (size_t i = 0; i < n_files; i++)
		cs_pcap_close(srcs ? srcs[i] : NULL);
	free(srcs);
	cs_flows_free(flows);
	if (r.classifier)
		cs_classifier_free(r.classifier);
	if (agents)
		cs_agents_free(agents);
	if (ranges)
		cs_ranges_free(ranges);
	if (r.track)
		cs_track_free(r.track);
	cs_proxies_free(r.proxies);
	free(o.config_files);
	free(o.cli_ranges);
	free(o.cli_proxies);
	free(o.cli_honeypots);
	cs_config_free(&o.cfg);
	return rc;
}
