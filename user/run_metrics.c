#include "run_metrics.h"

#include <stdio.h>
#include <string.h>

#include "click.h"

const double cs_delay_bounds_s[CS_DELAY_BUCKETS] = {
	0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60, 300,
};

void cs_delay_hist_add(struct cs_delay_hist *h, double seconds)
{
	size_t i;

	if (seconds < 0)
		seconds = 0;        /* wall clock stepped back: not a negative delay */
	h->sum_s += seconds;
	for (i = 0; i < CS_DELAY_BUCKETS; i++) {
		if (seconds <= cs_delay_bounds_s[i]) {
			h->buckets[i]++;
			return;
		}
	}
	h->over++;
}

void cs_provider_sample_add(struct cs_provider_sample *samples, size_t *n, size_t cap,
			    const char *name, const struct cs_provider_stats *st)
{
	struct cs_provider_sample *s = NULL;

	for (size_t i = 0; i < *n && !s; i++)
		if (!strncmp(samples[i].name, name, CS_PROVIDER_NAME_LEN))
			s = &samples[i];
	if (!s) {
		if (*n >= cap)
			return;
		s = &samples[(*n)++];
		memset(s, 0, sizeof(*s));
		snprintf(s->name, sizeof(s->name), "%s", name);
	}
	s->stats.syns += st->syns;
	s->stats.event_packets += st->event_packets;
	s->stats.bytes += st->bytes;
}

/* A label value as the exposition format wants it: \\, \" and \n escaped. */
static void label(char *buf, size_t len, const char *key, const char *value)
{
	size_t o = (size_t)snprintf(buf, len, "%s=\"", key);

	for (; *value && o + 3 < len; value++) {
		if (*value == '\\' || *value == '"') {
			buf[o++] = '\\';
			buf[o++] = *value;
		} else if (*value == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = *value;
		}
	}
	snprintf(buf + o, len - o, "\"");
}

static void counter(struct cs_prom *p, const char *name, const char *help, uint64_t v)
{
	cs_prom_family(p, name, CS_PROM_COUNTER, help);
	cs_prom_sample(p, name, "", (double)v);
}

static void gauge(struct cs_prom *p, const char *name, const char *help, uint64_t v)
{
	cs_prom_family(p, name, CS_PROM_GAUGE, help);
	cs_prom_sample(p, name, "", (double)v);
}

struct kinded {
	const char *kind;
	uint64_t value;
};

static void by_kind(struct cs_prom *p, const char *name, const char *key, const char *help,
		    const struct kinded *k, size_t n)
{
	char labels[96];

	cs_prom_family(p, name, CS_PROM_COUNTER, help);
	for (size_t i = 0; i < n; i++) {
		label(labels, sizeof(labels), key, k[i].kind);
		cs_prom_sample(p, name, labels, (double)k[i].value);
	}
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void render_kernel(struct cs_prom *p, const struct cs_run_metrics *m)
{
	const __u64 *c = m->counters.v;
	const struct kinded parse_errors[] = {
		{ "eth", c[CS_CNT_ERR_ETH] },
		{ "vlan", c[CS_CNT_ERR_VLAN] },
		{ "ipv4", c[CS_CNT_ERR_IPV4] },
		{ "ipv6", c[CS_CNT_ERR_IPV6] },
		{ "ipv6_ext", c[CS_CNT_ERR_IPV6_EXT] },
		{ "tcp", c[CS_CNT_ERR_TCP] },
	};
	const struct kinded ignored[] = {
		{ "non_ip", c[CS_CNT_NON_IP] },
		{ "non_tcp", c[CS_CNT_NON_TCP] },
		{ "fragment", c[CS_CNT_FRAGMENT] },
	};
	static const struct {
		const char *name, *help;
		size_t offset;
	} per_provider[] = {
		{ "clicksieve_provider_syns_total", "SYNs to tracked ports by source provider",
		  offsetof(struct cs_provider_stats, syns) },
		{ "clicksieve_provider_packets_total",
		  "Packets to tracked ports by source provider",
		  offsetof(struct cs_provider_stats, event_packets) },
		{ "clicksieve_provider_bytes_total",
		  "Bytes of packets to tracked ports by source provider",
		  offsetof(struct cs_provider_stats, bytes) },
	};
	char labels[96];

	counter(p, "clicksieve_packets_total", "Packets seen by the XDP program", c[CS_CNT_PACKETS]);
	counter(p, "clicksieve_bytes_total", "Bytes seen by the XDP program", c[CS_CNT_BYTES]);
	counter(p, "clicksieve_syns_total", "SYNs to tracked ports", c[CS_CNT_SYNS]);
	counter(p, "clicksieve_events_total", "Events written to the ring buffer", c[CS_CNT_EVENTS]);
	counter(p, "clicksieve_events_dropped_total", "Events lost because the ring buffer was full",
		c[CS_CNT_EVENTS_DROPPED]);
	counter(p, "clicksieve_payload_truncated_total",
		"Segments whose payload was longer than an event holds",
		c[CS_CNT_PAYLOAD_TRUNCATED]);
	by_kind(p, "clicksieve_parse_errors_total", "kind",
		"Malformed packets by the header that failed to parse", parse_errors,
		N(parse_errors));
	by_kind(p, "clicksieve_packets_ignored_total", "kind",
		"Packets passed without a TCP header to look at", ignored, N(ignored));

	for (size_t f = 0; f < N(per_provider); f++) {
		cs_prom_family(p, per_provider[f].name, CS_PROM_COUNTER, per_provider[f].help);
		for (size_t i = 0; i < m->n_providers; i++) {
			const struct cs_provider_sample *s = &m->providers[i];
			uint64_t v;

			memcpy(&v, (const char *)&s->stats + per_provider[f].offset, sizeof(v));
			label(labels, sizeof(labels), "provider", *s->name ? s->name : "none");
			cs_prom_sample(p, per_provider[f].name, labels, (double)v);
		}
	}
}

static void render_pipeline(struct cs_prom *p, const struct cs_run_metrics *m)
{
	const struct cs_flow_stats *f = &m->flows;
	const struct cs_classifier_stats *cl = &m->classifier;
	const struct kinded request_errors[] = {
		{ "malformed", f->requests_malformed },
		{ "lost_to_hole", f->requests_lost },
		{ "over_budget", f->requests_over_budget },
		{ "incomplete", f->requests_incomplete },
		{ "desync", f->desyncs },
		{ "chunked", f->chunked_errors },
		{ "proxy_header", f->proxy_invalid },
	};
	const struct kinded caps[] = {
		{ "out_of_order", f->ooo_cap_hits },
		{ "flow_memory", f->flows_evicted },
		{ "header_budget", f->requests_over_budget },
		{ "click_pairs", cl->pairs_evicted },
	};
	struct kinded verdicts[3], reasons[CS_R_COUNT];
	char labels[96];

	counter(p, "clicksieve_flows_total", "TCP flows reassembled", f->flows_created);
	gauge(p, "clicksieve_flows_active", "TCP flows being reassembled", f->flows_active);
	gauge(p, "clicksieve_reassembly_bytes", "Memory held by flow reassembly", f->mem_bytes);
	by_kind(p, "clicksieve_request_errors_total", "kind",
		"HTTP requests that could not be parsed, by cause", request_errors,
		N(request_errors));
	by_kind(p, "clicksieve_cap_hits_total", "cap", "Times a memory or size bound was hit",
		caps, N(caps));
	counter(p, "clicksieve_requests_total", "HTTP requests parsed", m->clicks.requests);
	counter(p, "clicksieve_untracked_requests_total",
		"Requests whose target is not a tracking URL", m->clicks.untracked);

	for (int v = 0; v < 3; v++)
		verdicts[v] = (struct kinded){ cs_verdict_name(v), cl->verdicts[v] };
	by_kind(p, "clicksieve_clicks_total", "verdict", "Clicks by final verdict", verdicts, 3);
	for (unsigned r = 0; r < CS_R_COUNT; r++)
		reasons[r] = (struct kinded){ cs_reason_name(r), cl->reasons[r] };
	by_kind(p, "clicksieve_click_reasons_total", "reason",
		"Reasons given in verdicts (a verdict may give several)", reasons, CS_R_COUNT);
	counter(p, "clicksieve_late_clicks_total",
		"Clicks that arrived later than the reorder window allows", cl->late_clicks);
	gauge(p, "clicksieve_pending_clicks", "Clicks awaiting a final verdict", cl->pending);
	gauge(p, "clicksieve_click_pairs", "Message x recipient pairs held by the classifier",
	      cl->pairs_active);
	counter(p, "clicksieve_write_errors_total", "Verdict lines that could not be written",
		m->write_errors);
	if (m->learned) {
		counter(p, "clicksieve_learned_additions_total",
			"Clients learned as scanners from repeated timing convictions",
			m->learned->additions);
		counter(p, "clicksieve_learned_renewals_total",
			"Convictions that renewed a learned scanner", m->learned->renewals);
		counter(p, "clicksieve_learned_expiries_total", "Learned scanners that expired",
			m->learned->expiries);
		counter(p, "clicksieve_learned_evictions_total",
			"Learned scanners dropped at the size cap", m->learned->evictions);
		gauge(p, "clicksieve_learned_active", "Learned scanners held", m->learned->active);
		counter(p, "clicksieve_learned_map_write_errors_total",
			"Learned scanner changes that could not be written to the pinned maps",
			m->learned_write_errors);
	}
	if (m->delay)
		cs_prom_histogram(p, "clicksieve_verdict_delay_seconds",
				  "Time from a click to its verdict being written",
				  cs_delay_bounds_s, m->delay->buckets, CS_DELAY_BUCKETS,
				  m->delay->over, m->delay->sum_s);

	cs_prom_family(p, "clicksieve_ranges", CS_PROM_GAUGE, "Ranges loaded from the range lists");
	cs_prom_sample(p, "clicksieve_ranges", "family=\"ipv4\"", (double)m->ranges_v4);
	cs_prom_sample(p, "clicksieve_ranges", "family=\"ipv6\"", (double)m->ranges_v6);
	cs_prom_family(p, "clicksieve_build_info", CS_PROM_GAUGE, "Version of this clicksieve");
	label(labels, sizeof(labels), "version", m->version ? m->version : "unknown");
	cs_prom_sample(p, "clicksieve_build_info", labels, 1);
}

void cs_run_metrics_render(struct cs_prom *p, const struct cs_run_metrics *m)
{
	if (m->have_kernel)
		render_kernel(p, m);
	render_pipeline(p, m);
}
