/*
 * The clicks stage: a request seen by any source (access-log line, HTTP
 * request reassembled from packets) becomes a click when its target is a
 * tracking URL; the client is the peer, or the address a trusted proxy
 * forwarded. Clicks go to the classifier; other requests are counted.
 */
#ifndef CS_CLICKS_H
#define CS_CLICKS_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "click.h"

struct cs_track;
struct cs_proxies;
struct cs_classifier;

/* A request as any source sees it. Strings are borrowed; "" when absent. */
struct cs_seen_request {
	uint64_t ts_us;
	struct cs_addr peer;            /* logged peer, PROXY source or TCP peer */
	const char *method;
	const char *target;
	size_t target_len;
	const char *user_agent;
	size_t user_agent_len;          /* 0: not given */
	const char *xff;
	size_t xff_len;
	const char *forwarded;
	size_t forwarded_len;
	struct cs_source_pos pos;
};

struct cs_clicks_stats {
	uint64_t requests;
	uint64_t clicks;
	uint64_t untracked;             /* target is not a tracking URL */
	uint64_t via_proxy;             /* client is not the peer: PROXY or forwarding header */
	uint64_t proxy_untrusted;       /* PROXY header from an untrusted peer, ignored */
};

struct cs_clicks {
	const struct cs_track *track;
	const struct cs_proxies *proxies;
	struct cs_classifier *classifier;
	struct cs_clicks_stats stats;
};

struct cs_request;

void cs_clicks_feed(struct cs_clicks *c, const struct cs_seen_request *req);
/* A request reassembled from packets; its PROXY header counts only from a trusted peer. */
void cs_clicks_feed_http(struct cs_clicks *c, const struct cs_request *req);

#endif
