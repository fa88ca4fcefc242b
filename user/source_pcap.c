/*
 * Capture files -> TCP segments. Frames that do not start with an Ethernet
 * header get a synthetic one in a scratch buffer, so that every link type
 * goes through the one packet parser; frames cut by the snapshot length
 * are zero-padded to their wire length there, so that the parser sees whole
 * headers and the segment reports how much of its payload was captured.
 */
#include "source_pcap.h"

#include <pcap/pcap.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clicksieve_abi.h"
#include "packet_parse.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

#define SLL_HDR_LEN 16
#define SLL2_HDR_LEN 20
#define LOOP_HDR_LEN 4
/* Padding beyond what was captured: at most one IP datagram. */
#define MAX_PAD (65535 + 64)

struct cs_pcap_source {
	pcap_t *pcap;
	int linktype;
	uint8_t *scratch;
	size_t scratch_cap;
	struct cs_pcap_stats stats;
	char error[PCAP_ERRBUF_SIZE + 64];
};

struct cs_pcap_source *cs_pcap_open(const char *path, char *err, size_t errlen)
{
	char pcap_err[PCAP_ERRBUF_SIZE] = "";
	struct cs_pcap_source *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	s->pcap = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, pcap_err);
	if (!s->pcap) {
		snprintf(err, errlen, "%s: not a readable pcap or pcapng file (%s)", path, pcap_err);
		goto fail;
	}
	s->linktype = pcap_datalink(s->pcap);
	switch (s->linktype) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_NULL:
	case DLT_LOOP:
		break;
	default:
		snprintf(err, errlen, "%s: unsupported link type %s (%d)", path,
			 pcap_datalink_val_to_name(s->linktype) ?: "unknown", s->linktype);
		goto fail;
	}
	return s;
fail:
	if (s->pcap)
		pcap_close(s->pcap);
	free(s);
	return NULL;
}

void cs_pcap_close(struct cs_pcap_source *s)
{
	if (!s)
		return;
	pcap_close(s->pcap);
	free(s->scratch);
	free(s);
}

const char *cs_pcap_error(const struct cs_pcap_source *s)
{
	return s->error;
}

void cs_pcap_get_stats(const struct cs_pcap_source *s, struct cs_pcap_stats *out)
{
	*out = s->stats;
}

static uint8_t *scratch(struct cs_pcap_source *s, size_t n)
{
	if (n > s->scratch_cap) {
		uint8_t *p = realloc(s->scratch, n);

		if (!p)
			return NULL;
		s->scratch = p;
		s->scratch_cap = n;
	}
	return s->scratch;
}

/* EtherType of the network header after a link header; 0 = not IP. */
static uint16_t link_proto(int linktype, const uint8_t *d, uint32_t caplen, uint32_t *hdr_len)
{
	uint32_t family;

	switch (linktype) {
	case DLT_LINUX_SLL:
		*hdr_len = SLL_HDR_LEN;
		return caplen < SLL_HDR_LEN ? 0 : cs_get_be16(d + 14);
	case DLT_LINUX_SLL2:
		*hdr_len = SLL2_HDR_LEN;
		return caplen < SLL2_HDR_LEN ? 0 : cs_get_be16(d);
	case DLT_NULL:
	case DLT_LOOP:
		*hdr_len = LOOP_HDR_LEN;
		if (caplen < LOOP_HDR_LEN)
			return 0;
		/* DLT_NULL is in the writer's byte order, DLT_LOOP in network order. */
		memcpy(&family, d, 4);
		if (linktype == DLT_LOOP || family > 0xffff)
			family = cs_get_be32(d);
		if (family == 2)
			return CS_ETH_P_IP;
		return family == 10 || family == 24 || family == 28 || family == 30 ? CS_ETH_P_IPV6 : 0;
	default:                        /* raw IP */
		*hdr_len = 0;
		if (caplen < 1)
			return 0;
		return d[0] >> 4 == 4 ? CS_ETH_P_IP : d[0] >> 4 == 6 ? CS_ETH_P_IPV6 : 0;
	}
}

/* One frame -> segment; returns false for frames that are not TCP segments. */
static bool frame_to_segment(struct cs_pcap_source *s, const struct pcap_pkthdr *h,
			     const uint8_t *d, struct cs_segment *seg)
{
	uint32_t caplen = h->caplen, wire = h->len < h->caplen ? h->caplen : h->len;
	uint8_t *frame = (uint8_t *)d;
	size_t frame_len = caplen, padded;
	struct cs_pkt pkt;
	int rc;

	if (s->linktype != DLT_EN10MB) {
		uint32_t hdr_len;
		uint16_t proto = link_proto(s->linktype, d, caplen, &hdr_len);

		if (caplen < hdr_len) {
			s->stats.malformed++;
			return false;
		}
		if (!proto) {
			s->stats.non_ip++;
			return false;
		}
		caplen -= hdr_len;
		wire -= hdr_len;
		d += hdr_len;
		frame_len = CS_ETH_HLEN + caplen;
		wire += CS_ETH_HLEN;
		if (!scratch(s, frame_len)) {
			s->stats.malformed++;
			return false;
		}
		memset(s->scratch, 0, 12);
		s->scratch[12] = (uint8_t)(proto >> 8);
		s->scratch[13] = (uint8_t)proto;
		memcpy(s->scratch + CS_ETH_HLEN, d, caplen);
		frame = s->scratch;
	}
	padded = frame_len;
	if (wire > frame_len) {
		bool in_scratch = frame == s->scratch;

		padded = wire - frame_len > MAX_PAD ? frame_len + MAX_PAD : wire;
		if (!scratch(s, padded)) {
			s->stats.malformed++;
			return false;
		}
		if (!in_scratch)
			memcpy(s->scratch, frame, frame_len);
		frame = s->scratch;
		memset(frame + frame_len, 0, padded - frame_len);
	}

	rc = cs_parse_packet(frame, frame + padded, &pkt);
	switch (rc) {
	case CS_PARSE_OK:
		break;
	case CS_CNT_NON_IP:
		s->stats.non_ip++;
		return false;
	case CS_CNT_NON_TCP:
		s->stats.non_tcp++;
		return false;
	case CS_CNT_FRAGMENT:
		s->stats.fragments++;
		return false;
	default:
		s->stats.malformed++;
		return false;
	}
	if (pkt.payload_off > frame_len) {
		s->stats.malformed++;   /* the TCP header itself was cut */
		return false;
	}

	memset(seg, 0, sizeof(*seg));
	seg->ts_us = (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec;
	seg->src.family = seg->dst.family = pkt.family;
	memcpy(seg->src.bytes, pkt.saddr, pkt.family == 4 ? 4 : 16);
	memcpy(seg->dst.bytes, pkt.daddr, pkt.family == 4 ? 4 : 16);
	seg->sport = pkt.sport;
	seg->dport = pkt.dport;
	seg->seq = pkt.seq;
	seg->flags = pkt.tcp_flags;
	seg->data = frame + pkt.payload_off;
	seg->len = pkt.payload_len;
	seg->captured = frame_len - pkt.payload_off < pkt.payload_len ?
			(uint32_t)(frame_len - pkt.payload_off) : pkt.payload_len;
	if (seg->captured < seg->len)
		s->stats.truncated++;
	s->stats.segments++;
	return true;
}

int cs_pcap_next(struct cs_pcap_source *s, struct cs_segment *seg)
{
	struct pcap_pkthdr *h;
	const u_char *d;
	int rc;

	while ((rc = pcap_next_ex(s->pcap, &h, &d)) == 1) {
		s->stats.packets++;
		if (frame_to_segment(s, h, d, seg))
			return 1;
	}
	if (rc == PCAP_ERROR_BREAK)
		return 0;
	snprintf(s->error, sizeof(s->error), "%s", pcap_geterr(s->pcap));
	return -1;
}
