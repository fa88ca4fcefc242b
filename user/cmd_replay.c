/*
 * clicksieve replay: pcap files -> clicks -> verdicts as JSON lines.
 * Pipeline: source_pcap (packet_parse.h) -> flows -> requests -> clicks
 * (proxy, track) -> verdicts -> sinks. Capture timestamps are event time.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "clicks.h"
#include "commands.h"
#include "flows.h"
#include "options.h"
#include "requests.h"
#include "sinks.h"
#include "source_pcap.h"
#include "source_xdp.h"
#include "verdicts.h"

/* Event time moves flows and classifier on at most this often. */
#define ADVANCE_EVERY_US 1000000

struct replay {
	struct cs_ports ports;
	struct cs_clicks clicks;
	uint64_t other_ports;
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
CS_JUDGE_USAGE
"  -s, --stats              packet, flow and request counters on stderr at the end\n"
"  -h, --help               this help\n"
"\n"
"Reassembly keeps the first copy of overlapping data; requests with bytes\n"
"missing from the capture are counted and skipped (--stats).\n"
"Exit status: 0 ok, 1 read error, 2 bad arguments, configuration, range file\n"
"or input that is not a capture file.\n");
}

static void on_verdict(void *ctx, const struct cs_click *click, const struct cs_verdict *v)
{
	cs_sink_json_write(stdout, click, v);
}

static void on_request(void *ctx, const struct cs_request *req)
{
	struct replay *r = ctx;

	cs_clicks_feed_http(&r->clicks, req);
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
		r->clicks.stats.requests, r->clicks.stats.clicks, r->clicks.stats.untracked,
		r->clicks.stats.via_proxy, r->clicks.stats.proxy_untrusted, f.requests_lost,
		f.requests_over_budget, f.requests_malformed, f.requests_incomplete, f.desyncs,
		f.proxy_v1, f.proxy_v2, f.proxy_invalid);
}

struct options {
	struct cs_judge_opts judge;
	const char *ports;
	bool stats;
};

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		CS_JUDGE_LONGOPTS,
		{ "ports", required_argument, NULL, 'p' },
		{ "stats", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt, rc;

	optind = 1;
	o->judge.cmd = "replay";
	while ((opt = getopt_long(argc, argv, CS_JUDGE_SHORTOPTS "p:sh", longopts, NULL)) != -1) {
		rc = cs_judge_opt(&o->judge, opt, optarg);
		if (rc > 1)
			return rc;
		if (rc == 1)
			continue;
		switch (opt) {
		case 'p': o->ports = optarg; break;
		case 's': o->stats = true; break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'clicksieve replay --help'.\n");
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "clicksieve replay: no input (give FILE.pcap...)\n"
			"Try 'clicksieve replay --help'.\n");
		return 2;
	}
	return -1;
}

/* Reads one capture to its end; returns 0 or 1 on a read error. */
static int replay_file(struct replay *r, struct cs_pcap_source *src, const char *path,
		       struct cs_flows *flows, uint64_t *next_advance)
{
	struct cs_segment seg;
	int rc;

	while ((rc = cs_pcap_next(src, &seg)) == 1) {
		if (!cs_ports_has(&r->ports, seg.dport)) {
			r->other_ports++;
			continue;
		}
		cs_flows_segment(flows, &seg);
		if (seg.ts_us >= *next_advance) {
			cs_flows_advance(flows, seg.ts_us);
			cs_classifier_advance(r->clicks.classifier, seg.ts_us);
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
	struct options o = { 0 };
	struct replay r = { 0 };
	struct cs_judge judge = { 0 };
	struct cs_flows_config flows_cfg;
	struct cs_flows *flows = NULL;
	struct cs_pcap_source **srcs = NULL;
	struct cs_pcap_stats total = { 0 };
	uint64_t next_advance = 0;
	size_t n_files = 0;
	const char *ports;
	char err[512];
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		goto out;
	rc = cs_judge_build(&judge, &o.judge);
	if (rc)
		goto out;
	rc = 2;
	ports = o.ports ? o.ports : judge.cfg.run_ports ? judge.cfg.run_ports : "80";
	if (cs_ports_parse(ports, &r.ports, err, sizeof(err))) {
		fprintf(stderr, "clicksieve replay: --ports: %s\n", err);
		goto out;
	}
	r.clicks.track = judge.track;
	r.clicks.proxies = judge.proxies;

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
	r.clicks.classifier = cs_classifier_new(&judge.cfg.classifier, on_verdict, &r);
	flows = cs_flows_new(&flows_cfg, on_request, &r);
	if (!r.clicks.classifier || !flows) {
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
	cs_classifier_finish(r.clicks.classifier);
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
	if (r.clicks.classifier)
		cs_classifier_free(r.clicks.classifier);
	cs_judge_free(&judge);
	cs_judge_opts_free(&o.judge);
	return rc;
}
