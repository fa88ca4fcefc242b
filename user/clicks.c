#include "clicks.h"

#include <string.h>

#include "proxy.h"
#include "requests.h"
#include "track.h"
#include "verdicts.h"

/* peer_seen: the address the source itself saw (TCP peer or logged peer). */
static void feed(struct cs_clicks *c, const struct cs_seen_request *req,
		 const struct cs_addr *peer_seen)
{
	struct cs_track_ids ids;
	struct cs_click click;
	size_t mlen;

	c->stats.requests++;
	if (!cs_track_extract(c->track, req->target, req->target_len, &ids)) {
		c->stats.untracked++;
		return;
	}
	/* Every field is set below; zeroing the whole struct cost a rep stos per click. */
	click.ts_us = req->ts_us;
	cs_proxy_client(c->proxies, &req->peer, req->xff, req->xff_len, req->forwarded,
			req->forwarded_len, &click.client);
	if (!cs_addr_equal(&click.client, peer_seen))
		c->stats.via_proxy++;
	/* a few bytes: copied in a loop, not by two calls (strnlen and memcpy) */
	memset(click.method, 0, sizeof(click.method));
	for (mlen = 0; mlen < CS_METHOD_LEN - 1 && req->method[mlen]; mlen++)
		click.method[mlen] = req->method[mlen];
	click.message = ids.message;
	click.recipient = ids.recipient;
	click.link = ids.link;
	click.user_agent = req->user_agent;
	click.message_len = ids.message_len;
	click.recipient_len = ids.recipient_len;
	click.link_len = ids.link_len;
	click.user_agent_len = req->user_agent_len;
	click.pos = req->pos;
	c->stats.clicks++;
	cs_classifier_feed(c->classifier, &click);
}

void cs_clicks_feed(struct cs_clicks *c, const struct cs_seen_request *req)
{
	feed(c, req, &req->peer);
}

void cs_clicks_feed_http(struct cs_clicks *c, const struct cs_request *req)
{
	struct cs_seen_request seen = {
		.ts_us = req->ts_us,
		.peer = req->client,
		.method = req->method,
		.target = req->target,
		.target_len = req->target_len,
		.user_agent = req->user_agent,
		.xff = req->xff,
		.xff_len = strlen(req->xff),
		.forwarded = req->forwarded,
		.forwarded_len = strlen(req->forwarded),
	};

	/* Anyone can write a PROXY header: believe it only from a trusted peer. */
	if (req->proxied && !cs_proxies_trusted(c->proxies, &req->peer)) {
		seen.peer = req->peer;
		c->stats.proxy_untrusted++;
	}
	feed(c, &seen, &req->peer);
}
