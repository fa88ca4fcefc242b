/*
 * The classifier: DESIGN §1 rules in event time. Pure: no clocks, no I/O,
 * no globals. Feed clicks, advance event time, verdicts come out through
 * the callback exactly once per click.
 */
#ifndef CS_VERDICTS_H
#define CS_VERDICTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "click.h"

struct cs_ranges;
struct cs_agents;
struct cs_learned;

struct cs_classifier_config {
	uint64_t burst_window_us;       /* default 2 s */
	uint64_t multi_ip_window_us;    /* default 10 min */
	uint64_t double_click_us;       /* default 1 s */
	uint64_t reorder_window_us;     /* default 5 s */
	uint8_t v4_client_prefix;       /* default 32 */
	uint8_t v6_client_prefix;       /* default 64 */
	size_t max_pairs;               /* LRU cap on message x recipient state; 0 = none */
	const struct cs_ranges *ranges; /* may be NULL */
	/*
	 * Optional, used instead of ranges: looks up the client's range
	 * elsewhere (run: the kernel maps, which operators change with
	 * bpftool). False when no range holds a; else fills *flags
	 * (CS_RANGE_*) and *provider, a string that must outlive the
	 * classifier (NULL: unnamed).
	 */
	bool (*range_lookup)(void *ctx, const struct cs_addr *a, uint16_t *flags,
			     const char **provider);
	void *range_lookup_ctx;
	const struct cs_agents *agents; /* may be NULL */
	/*
	 * May be NULL. Every verdict is shown to it (cs_learned_observe), and
	 * a click whose client it holds, unexpired at the click's time, gets
	 * learned_range unless its range is allow-listed. See learned.h.
	 */
	struct cs_learned *learned;
	const char *const *honeypot_links;
	size_t n_honeypot_links;
};

struct cs_classifier_stats {
	uint64_t clicks;
	uint64_t verdicts[3];           /* by enum cs_verdict_kind */
	uint64_t reasons[CS_R_COUNT];   /* by reason bit index */
	uint64_t late_clicks;           /* older than the reorder window allows */
	uint64_t pairs_active;
	uint64_t pairs_expired;         /* dropped once no rule could use them */
	uint64_t pairs_evicted;         /* LRU cap hit */
	uint64_t pending;               /* clicks awaiting a final verdict */
	uint64_t unqueued;              /* judged at once: no memory to wait for finality */
	uint64_t state_bytes;           /* pair state: table, slots, expiry queue, timelines */
	uint64_t pending_bytes;         /* pending clicks with their strings */
};

/* Called once per click, in the order verdicts become final. */
typedef void (*cs_verdict_fn)(void *ctx, const struct cs_click *click,
			      const struct cs_verdict *verdict);

void cs_classifier_config_defaults(struct cs_classifier_config *cfg);

/*
 * NULL with errno EINVAL on a bad config (prefix too long, NULL callback or
 * honeypot). Honeypot links are copied; ranges and agents are borrowed and
 * must outlive the classifier.
 */
struct cs_classifier *cs_classifier_new(const struct cs_classifier_config *cfg,
					cs_verdict_fn fn, void *ctx);
/* Pending clicks get no verdict: call cs_classifier_finish() first. */
void cs_classifier_free(struct cs_classifier *c);

/* Copies what it keeps of the click; feeding also advances event time. */
void cs_classifier_feed(struct cs_classifier *c, const struct cs_click *click);
/* Event time has reached now_us: emit every verdict that is final. */
void cs_classifier_advance(struct cs_classifier *c, uint64_t now_us);
/* End of input: emit every pending verdict. */
void cs_classifier_finish(struct cs_classifier *c);

void cs_classifier_get_stats(const struct cs_classifier *c, struct cs_classifier_stats *out);

#endif
