/*
 * Learned scanners: clients that the burst rule convicts
 * for several distinct recipients within a window are remembered for a
 * while, so that their next clicks are machine at once (reason
 * learned_range, provider "learned"), even a lone click on a one-link mail.
 * Pure: no clocks, no I/O, no globals; times are event time, µs since the
 * Unix epoch.
 *
 * client     the source address masked to v4_prefix / v6_prefix (the
 *            classifier's client prefixes), IPv4-mapped IPv6 as IPv4.
 * evidence   a verdict whose reasons include burst, and neither
 *            scanner_range (the range already says it) nor an allow-listed
 *            range (operators vouched for it). multi_ip alone is no
 *            evidence: a person's second device behind a carrier's or an
 *            office's shared address re-clicks from "another client", and
 *            learning that address would convict everyone behind it. Each counts for its
 *            recipient id as the tracking URL gives it (a 64-bit hash):
 *            a person double-tapping links of their own mails is one
 *            recipient however often, a gateway scanning mail for a whole
 *            company is many. Per client the last `threshold` distinct
 *            recipients are kept with their latest conviction time.
 * learning   when a conviction at time t leaves the client with at least
 *            `threshold` distinct recipients convicted in (t - window, t],
 *            it is learned: expiry t + ttl, evidence = that count. Later
 *            convictions while the threshold holds renew it (expiry never
 *            shortened) and add to evidence when their recipient is not one
 *            of the last `threshold` kept.
 * applying   the classifier asks cs_learned_lookup() when it judges a
 *            click: an entry applies while expiry > the click's time.
 *            Verdicts come out in event-time order, so an entry affects the
 *            clicks judged after the conviction that made it, and the same
 *            input gives the same verdicts.
 * bounds     at most max_entries learned clients (beyond: the one expiring
 *            soonest is evicted) and max_clients clients with evidence
 *            (beyond: the least recently convicted is forgotten).
 */
#ifndef CS_LEARNED_H
#define CS_LEARNED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "click.h"

#define CS_LEARN_MAX_THRESHOLD 64
#define CS_LEARNED_PROVIDER "learned"

struct cs_learned_entry {
	struct cs_addr client;          /* masked */
	uint64_t expiry_us;
	uint64_t first_us;              /* first conviction that made it learned */
	uint64_t last_us;               /* latest conviction */
	uint32_t evidence;              /* distinct recipients convicted (see above) */
	uint8_t prefixlen;              /* client is masked to it */
};

enum cs_learned_change {
	CS_LEARNED_ADDED,
	CS_LEARNED_RENEWED,
	CS_LEARNED_EXPIRED,
	CS_LEARNED_EVICTED,
};

/* Told about every change, e.g. to write it through to the pinned maps. */
typedef void (*cs_learned_change_fn)(void *ctx, enum cs_learned_change change,
				     const struct cs_learned_entry *e);

struct cs_learned_config {
	bool enabled;                   /* default true */
	uint32_t threshold;             /* distinct recipients; default 3, 1..CS_LEARN_MAX_THRESHOLD */
	uint64_t window_us;             /* default 1 h */
	uint64_t ttl_us;                /* default 7 days */
	uint32_t max_entries;           /* default 65536 */
	uint32_t max_clients;           /* clients with evidence; default 65536 */
	uint8_t v4_prefix;              /* default 32 */
	uint8_t v6_prefix;              /* default 64 */
	cs_learned_change_fn on_change; /* may be NULL */
	void *on_change_ctx;
};

struct cs_learned_stats {
	uint64_t additions;
	uint64_t renewals;
	uint64_t expiries;
	uint64_t evictions;             /* max_entries hit */
	uint64_t active;                /* learned clients held */
	uint64_t convictions;           /* verdicts counted as evidence */
	uint64_t clients;               /* clients with evidence held */
	uint64_t clients_evicted;       /* max_clients hit */
};

void cs_learned_config_defaults(struct cs_learned_config *cfg);

/* NULL with errno EINVAL on a bad config, ENOMEM. */
struct cs_learned *cs_learned_new(const struct cs_learned_config *cfg);
void cs_learned_free(struct cs_learned *l);

/*
 * A verdict as it comes out of the classifier, in event-time order. Expires
 * entries up to the click's time first. Returns true when the verdict
 * added or renewed an entry.
 */
bool cs_learned_observe(struct cs_learned *l, const struct cs_click *click,
			const struct cs_verdict *verdict);

/* The entry holding client (masked here), or NULL when none or expired at now_us. */
const struct cs_learned_entry *cs_learned_lookup(const struct cs_learned *l,
						 const struct cs_addr *client, uint64_t now_us);

/* Drops the entries with expiry <= now_us; returns how many. */
size_t cs_learned_expire(struct cs_learned *l, uint64_t now_us);

/*
 * Restores an entry (e.g. from the pinned maps): client is masked, an entry
 * already held keeps the later expiry. No change callback, except for an
 * entry evicted to make room. 0, or -1 with errno (EINVAL: no family).
 */
int cs_learned_add(struct cs_learned *l, const struct cs_learned_entry *e);

/* Forgets a client's entry and evidence (no change callback); true when it had an entry. */
bool cs_learned_forget(struct cs_learned *l, const struct cs_addr *client);

/* Sets (or with NULL clears) the change callback. */
void cs_learned_set_change_fn(struct cs_learned *l, cs_learned_change_fn fn, void *ctx);

/* Calls fn for every entry held, in no particular order. */
void cs_learned_foreach(const struct cs_learned *l,
			void (*fn)(void *ctx, const struct cs_learned_entry *e), void *ctx);

void cs_learned_get_stats(const struct cs_learned *l, struct cs_learned_stats *out);

#endif
