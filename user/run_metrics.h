/*
 * What `clicksieve run` exposes at /metrics: a snapshot of every stage's
 * counters, taken at scrape time, rendered in the Prometheus text format.
 * Labels are bounded sets only (provider, kind, verdict, reason, family).
 */
#ifndef CS_RUN_METRICS_H
#define CS_RUN_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clicks.h"
#include "clicksieve_abi.h"
#include "flows.h"
#include "learned.h"
#include "metrics.h"
#include "verdicts.h"

/* Verdict delay: a click's event time to the wall time its verdict is written. */
#define CS_DELAY_BUCKETS 11
extern const double cs_delay_bounds_s[CS_DELAY_BUCKETS];

struct cs_delay_hist {
	uint64_t buckets[CS_DELAY_BUCKETS];     /* not cumulative */
	uint64_t over;                          /* above the last bound */
	double sum_s;
};

void cs_delay_hist_add(struct cs_delay_hist *h, double seconds);

/* One provider's kernel counters; name "" is the sources in no range. */
struct cs_provider_sample {
	char name[CS_PROVIDER_NAME_LEN];
	struct cs_provider_stats stats;
};

struct cs_run_metrics {
	const char *version;
	bool have_kernel;                       /* counters and providers were readable */
	struct cs_counters counters;            /* summed over CPUs */
	const struct cs_provider_sample *providers;
	size_t n_providers;                     /* distinct names */
	struct cs_flow_stats flows;
	struct cs_clicks_stats clicks;
	struct cs_classifier_stats classifier;
	size_t ranges_v4, ranges_v6;
	const struct cs_delay_hist *delay;
	uint64_t write_errors;                  /* verdict lines that could not be written */
	const struct cs_learned_stats *learned; /* NULL: learning is off */
	uint64_t learned_write_errors;          /* changes not written to the pinned maps */
};

void cs_run_metrics_render(struct cs_prom *p, const struct cs_run_metrics *m);

/*
 * Adds one provider id's stats to samples[], merging ids that share a name
 * (bpftool may name two ids alike; a series must be unique). *n grows up to
 * cap.
 */
void cs_provider_sample_add(struct cs_provider_sample *samples, size_t *n, size_t cap,
			    const char *name, const struct cs_provider_stats *st);

#endif
