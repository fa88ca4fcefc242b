/*
 * Prometheus text exposition over libmicrohttpd. The server runs in the
 * caller's event loop (no thread): add cs_metrics_fd() to epoll and call
 * cs_metrics_run() when it is readable, so rendering reads the pipeline's
 * counters without locks.
 */
#ifndef CS_METRICS_H
#define CS_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* A text buffer that one scrape renders into. */
struct cs_prom {
	char *buf;
	size_t len, cap;
	int failed;                     /* out of memory: the scrape answers 500 */
};

enum cs_prom_type { CS_PROM_COUNTER, CS_PROM_GAUGE, CS_PROM_HISTOGRAM };

/* HELP and TYPE lines; once per metric family, before its samples. */
void cs_prom_family(struct cs_prom *p, const char *name, enum cs_prom_type type, const char *help);
/* One sample; labels is "" or a pre-rendered 'key="value",...' list. */
void cs_prom_sample(struct cs_prom *p, const char *name, const char *labels, double value);
/* A whole cumulative histogram from per-bucket counts (not cumulative). */
void cs_prom_histogram(struct cs_prom *p, const char *name, const char *help,
		       const double *upper_bounds, const uint64_t *bucket_counts, size_t n_buckets,
		       uint64_t count_over, double sum);

typedef void (*cs_metrics_render_fn)(void *ctx, struct cs_prom *p);

struct cs_metrics_server;

/* listen is "ADDR:PORT", "[V6ADDR]:PORT" or "PORT" (then 127.0.0.1). */
struct cs_metrics_server *cs_metrics_start(const char *listen, cs_metrics_render_fn fn, void *ctx,
					   char *err, size_t errlen);
int cs_metrics_fd(const struct cs_metrics_server *s);
void cs_metrics_run(struct cs_metrics_server *s);
void cs_metrics_stop(struct cs_metrics_server *s);

#endif
