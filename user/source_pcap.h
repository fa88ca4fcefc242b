/*
 * pcap and pcapng files (libpcap) as TCP segments, through the same packet
 * parser as the XDP program (include/packet_parse.h). Link types: Ethernet,
 * Linux cooked v1 and v2 (SLL, SLL2), raw IP and BSD loopback; VLAN tags
 * wherever the parser finds them. Frames cut short by the snapshot length
 * become segments with captured < len, which reassembly treats as a hole.
 */
#ifndef CS_SOURCE_PCAP_H
#define CS_SOURCE_PCAP_H

#include <stddef.h>
#include <stdint.h>

#include "flows.h"

struct cs_pcap_stats {
	uint64_t packets;
	uint64_t segments;              /* TCP segments handed out */
	uint64_t non_ip;
	uint64_t non_tcp;
	uint64_t fragments;             /* non-first fragments */
	uint64_t malformed;             /* truncated or invalid headers */
	uint64_t truncated;             /* snapshot length cut the payload */
};

struct cs_pcap_source;

/* NULL with "FILE: reason" in err (unreadable, not a capture, unsupported link type). */
struct cs_pcap_source *cs_pcap_open(const char *path, char *err, size_t errlen);
void cs_pcap_close(struct cs_pcap_source *s);

/*
 * Next TCP segment: 1, with seg->data valid until the next call; 0 at the
 * end of the file; -1 on a read error (cs_pcap_error() says what).
 */
int cs_pcap_next(struct cs_pcap_source *s, struct cs_segment *seg);
const char *cs_pcap_error(const struct cs_pcap_source *s);
void cs_pcap_get_stats(const struct cs_pcap_source *s, struct cs_pcap_stats *out);

#endif
