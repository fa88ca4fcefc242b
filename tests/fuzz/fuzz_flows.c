/*
 * libFuzzer harness for the flow reassembler (user/flows.c).
 *
 * Even first byte: differential. The rest of the input is one client
 * stream; it is fed once whole, and once cut into pieces sent in a
 * shuffled order with duplicates. Without loss the requests (and their
 * order) must be the same: reassembly may not depend on segmentation.
 *
 * Odd first byte: random segments (any seq, flags, truncation, several
 * flows, tiny caps) under event time. Every flow must close cleanly and
 * all memory accounting must return to the bucket array.
 */
/* fuzz-sources: user/flows.c user/requests.c user/addr.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clicksieve_abi.h"
#include "flows.h"

#define MAX_PIECES 64

struct digest {
	uint64_t hash;
	uint64_t count;
};

static uint64_t mix(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
}

static void on_request(void *ctx, const struct cs_request *r)
{
	struct digest *d = ctx;

	if (strlen(r->target) != r->target_len)
		abort();
	d->hash = mix(d->hash, r->method);
	d->hash = mix(d->hash, r->target);
	d->hash = mix(d->hash, r->host);
	d->hash = mix(d->hash, r->user_agent);
	d->hash = mix(d->hash, r->xff);
	d->hash = mix(d->hash, r->forwarded);
	d->hash ^= r->client.bytes[0] | (uint64_t)r->client.family << 8 | (uint64_t)r->proxied << 16;
	d->count++;
}

static void check_clean(struct cs_flows *f)
{
	struct cs_flow_stats st;

	cs_flows_finish(f);
	cs_flows_get_stats(f, &st);
	if (st.flows_active != 0 || st.mem_bytes > st.mem_peak)
		abort();
	/* Only the bucket array is left. */
	if (st.mem_bytes % sizeof(void *) || st.mem_bytes > (1u << 20))
		abort();
	cs_flows_free(f);
}

static struct cs_segment segment(uint32_t seq, uint8_t flags, const uint8_t *data, uint32_t len)
{
	struct cs_segment s = { .sport = 40000, .dport = 80, .seq = seq, .flags = flags,
				.data = data, .len = len, .captured = len, .ts_us = 1 };

	s.src.family = s.dst.family = 4;
	s.src.bytes[0] = 192;
	s.dst.bytes[0] = 198;
	return s;
}

static void differential(const uint8_t *data, size_t size, uint8_t seed)
{
	struct cs_flows_config cfg;
	struct digest whole = { 0 }, pieces = { 0 };
	struct cs_flows *f;
	struct cs_segment s;
	size_t cut[MAX_PIECES + 1], n = 0, order[MAX_PIECES];
	uint32_t isn = 0xfffff000u + seed * 17u;        /* crosses the wrap often */
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + size;

	cs_flows_config_defaults(&cfg);

	f = cs_flows_new(&cfg, on_request, &whole);
	s = segment(isn, CS_TCP_SYN, NULL, 0);
	cs_flows_segment(f, &s);
	s = segment(isn + 1, CS_TCP_ACK, data, (uint32_t)size);
	cs_flows_segment(f, &s);
	check_clean(f);

	cut[n++] = 0;
	while (n < MAX_PIECES && cut[n - 1] < size) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		cut[n] = cut[n - 1] + 1 + (x >> 33) % 97;
		if (cut[n] > size)
			cut[n] = size;
		n++;
	}
	cut[n - 1] = size;
	for (size_t i = 0; i + 1 < n; i++)
		order[i] = i;
	for (size_t i = n - 1; i > 1; i--) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		size_t j = (x >> 33) % i, t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}

	f = cs_flows_new(&cfg, on_request, &pieces);
	s = segment(isn, CS_TCP_SYN, NULL, 0);
	cs_flows_segment(f, &s);
	for (size_t k = 0; k + 1 < n; k++) {
		size_t i = order[k];

		s = segment(isn + 1 + (uint32_t)cut[i], CS_TCP_ACK, data + cut[i],
			    (uint32_t)(cut[i + 1] - cut[i]));
		cs_flows_segment(f, &s);
		if (k % 3 == 1)         /* a duplicate now and then */
			cs_flows_segment(f, &s);
	}
	check_clean(f);

	if (whole.hash != pieces.hash || whole.count != pieces.count)
		abort();
}

static void random_segments(const uint8_t *data, size_t size)
{
	struct cs_flows_config cfg;
	struct digest d = { 0 };
	struct cs_flows *f;
	uint64_t now = 0;

	cs_flows_config_defaults(&cfg);
	cfg.header_budget = 256;
	cfg.ooo_cap = 512;
	cfg.memcap = 1024 * sizeof(void *) + 6000;
	cfg.idle_timeout_us = 50;
	f = cs_flows_new(&cfg, on_request, &d);

	/* Op: flags, flow, seq delta (2 bytes), length, captured, then payload. */
	while (size >= 6) {
		uint8_t flags = data[0], flow = data[1] & 7;
		uint32_t seq = 1000u * flow + (uint32_t)(data[2] << 8 | data[3]);
		size_t len = data[4] % 64, captured = data[5] % 65;
		struct cs_segment s;

		data += 6;
		size -= 6;
		if (len > size)
			len = size;
		if (captured > len)
			captured = len;
		s = segment(seq, flags & (CS_TCP_SYN | CS_TCP_FIN | CS_TCP_RST | CS_TCP_ACK), data,
			    (uint32_t)len);
		s.captured = (uint32_t)captured;
		s.sport = (uint16_t)(40000 + flow);
		s.src.family = s.dst.family = flow & 4 ? 6 : 4;
		now += flags >> 5;
		s.ts_us = now;
		cs_flows_segment(f, &s);
		cs_flows_advance(f, now);
		data += len;
		size -= len;
	}
	check_clean(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		random_segments(data + 1, size - 1);
	else
		differential(data + 1, size - 1, data[0]);
	return 0;
}
