/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet fixtures for the XDP tests and the userspace parser tests: builds
 * Ethernet frames byte by byte from a description, and records where each
 * header starts so that truncation tests know which error a cut must give.
 */
#ifndef CS_TEST_PACKET_FIXTURES_H
#define CS_TEST_PACKET_FIXTURES_H

#include <arpa/inet.h>
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "clicksieve_abi.h"

#define FX_MAX_FRAME 4096
#define FX_MAX_EXT   8

struct fx_desc {
	int family;                     /* 4 or 6; 0 = ARP frame */
	int vlan_tags;                  /* 0..3; odd tags 802.1ad, even 802.1Q */
	int ipv4_opts_len;              /* multiple of 4, <= 40 */
	int ipv4_ihl_override;          /* nonzero: write this IHL instead */
	__u8 ext[FX_MAX_EXT];           /* IPv6 extension header kinds, in order */
	int ext_count;
	int frag_offset;                /* in 8-byte units */
	int more_fragments;
	__u8 l4_proto;                  /* 0 = TCP */
	__u8 tcp_flags;
	__u16 sport, dport;
	__u32 seq;
	int tcp_opts_len;               /* multiple of 4, <= 40 */
	int tcp_doff_override;          /* nonzero: write this data offset */
	const char *saddr, *daddr;      /* default: documentation addresses */
	const void *payload;
	size_t payload_len;
	size_t pad_to;                  /* Ethernet padding up to this frame size */
};

/* Where each header of a built frame lies: [start, end) byte offsets. */
struct fx_layout {
	size_t eth_end;
	size_t vlan_end;                /* == eth_end without tags */
	size_t l3_off, l3_hdr_end;      /* fixed IP header incl. IPv4 options */
	size_t ext_end;                 /* == l3_hdr_end without extensions */
	size_t l4_off, l4_hdr_end;
	size_t payload_off, ip_end;
	size_t frame_len;
};

static inline void fx_put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void fx_put32(__u8 *p, __u32 v)
{
	fx_put16(p, v >> 16);
	fx_put16(p + 2, v & 0xffff);
}

static inline __u16 fx_checksum(const __u8 *p, size_t len)
{
	__u32 sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* Builds the frame into buf (FX_MAX_FRAME bytes); returns its length. */
static inline size_t fx_build(const struct fx_desc *d, __u8 *buf, struct fx_layout *lay)
{
	static const __u8 dst_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const __u8 src_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	size_t off = 0, l4_len, i;
	__u8 l4_proto = d->l4_proto ? d->l4_proto : 6;
	struct fx_layout scratch;
	__u16 ethertype;
	__u8 *ip;

	if (!lay)
		lay = &scratch;
	memset(buf, 0, FX_MAX_FRAME);
	memset(lay, 0, sizeof(*lay));
	memcpy(buf, dst_mac, 6);
	memcpy(buf + 6, src_mac, 6);
	ethertype = d->family == 4 ? 0x0800 : d->family == 6 ? 0x86DD : 0x0806;
	off = 12;
	for (i = 0; i < (size_t)d->vlan_tags; i++) {
		fx_put16(buf + off, i % 2 == 0 && d->vlan_tags > 1 ? 0x88A8 : 0x8100);
		fx_put16(buf + off + 2, 100 + i);       /* TCI: VLAN id */
		off += 4;
	}
	fx_put16(buf + off, ethertype);
	off += 2;
	lay->eth_end = 14;
	lay->vlan_end = off;
	lay->l3_off = off;
	ip = buf + off;

	if (d->family == 0) {
		/* ARP request: enough bytes to look real. */
		memset(buf + off, 0x11, 28);
		lay->frame_len = off + 28;
		return lay->frame_len;
	}

	if (d->family == 4) {
		size_t hlen = 20 + d->ipv4_opts_len;

		ip[0] = 0x40 | (d->ipv4_ihl_override ? (size_t)d->ipv4_ihl_override : hlen / 4);
		fx_put16(ip + 4, 0x1234);
		fx_put16(ip + 6, (d->more_fragments ? 0x2000 : 0) | d->frag_offset);
		ip[8] = 64;
		ip[9] = l4_proto;
		assert(inet_pton(AF_INET, d->saddr ? d->saddr : "192.0.2.10", ip + 12) == 1);
		assert(inet_pton(AF_INET, d->daddr ? d->daddr : "198.51.100.80", ip + 16) == 1);
		/* Options: NOPs ending in End of Options list. */
		memset(ip + 20, 0x01, d->ipv4_opts_len);
		if (d->ipv4_opts_len)
			ip[hlen - 1] = 0x00;
		off += hlen;
		lay->l3_hdr_end = off;
		lay->ext_end = off;
	} else {
		__u8 *nexthdr = ip + 6;

		ip[0] = 0x60;
		ip[7] = 64;
		assert(inet_pton(AF_INET6, d->saddr ? d->saddr : "2001:db8::10", ip + 8) == 1);
		assert(inet_pton(AF_INET6, d->daddr ? d->daddr : "2001:db8:1::80", ip + 24) == 1);
		off += 40;
		lay->l3_hdr_end = off;
		for (i = 0; i < (size_t)d->ext_count; i++) {
			__u8 *ext = buf + off;
			size_t len;

			*nexthdr = d->ext[i];
			nexthdr = ext;
			switch (d->ext[i]) {
			case 44:        /* fragment */
				len = 8;
				fx_put16(ext + 2, d->frag_offset << 3 | d->more_fragments);
				fx_put32(ext + 4, 0xabcd);
				break;
			case 51:        /* AH: 12 bytes of header + 12 of ICV */
				len = 24;
				ext[1] = len / 4 - 2;
				fx_put32(ext + 4, 0x100);
				break;
			default:        /* hop-by-hop, routing, dest opts: 16 bytes */
				len = 16;
				ext[1] = len / 8 - 1;
				if (d->ext[i] == 43)
					ext[2] = 4;     /* routing type: reserved, no segments left */
				else
					ext[2] = 1, ext[3] = 12; /* PadN over the rest */
				break;
			}
			off += len;
		}
		*nexthdr = l4_proto;
		lay->ext_end = off;
	}

	lay->l4_off = off;
	if (l4_proto == 6) {
		__u8 *tcp = buf + off;
		size_t hlen = 20 + d->tcp_opts_len;

		fx_put16(tcp, d->sport ? d->sport : 40000);
		fx_put16(tcp + 2, d->dport ? d->dport : 80);
		fx_put32(tcp + 4, d->seq);
		fx_put32(tcp + 8, d->tcp_flags & CS_TCP_ACK ? 0x1000 : 0);
		tcp[12] = (d->tcp_doff_override ? (size_t)d->tcp_doff_override : hlen / 4) << 4;
		tcp[13] = d->tcp_flags;
		fx_put16(tcp + 14, 65535);
		memset(tcp + 20, 0x01, d->tcp_opts_len);
		off += hlen;
	} else {
		/* UDP or anything else: 8 bytes of header. */
		fx_put16(buf + off, d->sport ? d->sport : 40000);
		fx_put16(buf + off + 2, d->dport ? d->dport : 53);
		fx_put16(buf + off + 4, 8 + d->payload_len);
		off += 8;
	}
	lay->l4_hdr_end = off;
	lay->payload_off = off;
	assert(off + d->payload_len <= FX_MAX_FRAME);
	if (d->payload_len)
		memcpy(buf + off, d->payload, d->payload_len);
	off += d->payload_len;
	lay->ip_end = off;

	l4_len = off - lay->l3_off;
	if (d->family == 4) {
		fx_put16(ip + 2, l4_len);
		fx_put16(ip + 10, fx_checksum(ip, lay->l3_hdr_end - lay->l3_off));
	} else {
		fx_put16(ip + 4, l4_len - 40);
	}
	if (d->pad_to > off)
		off = d->pad_to;
	lay->frame_len = off;
	return off;
}

/*
 * The error counter a frame cut to cut_len bytes must give: the one of the
 * header the cut lands in, and for a cut in the payload the IP header whose
 * length no longer fits.
 */
static inline int fx_truncation_error(const struct fx_desc *d, const struct fx_layout *lay,
				      size_t cut_len)
{
	if (cut_len < lay->eth_end)
		return CS_CNT_ERR_ETH;
	if (cut_len < lay->vlan_end)
		return CS_CNT_ERR_VLAN;
	if (cut_len < lay->l3_hdr_end)
		return d->family == 4 ? CS_CNT_ERR_IPV4 : CS_CNT_ERR_IPV6;
	if (cut_len < lay->ext_end)
		return CS_CNT_ERR_IPV6_EXT;
	if (cut_len < lay->l4_hdr_end)
		return CS_CNT_ERR_TCP;
	return d->family == 4 ? CS_CNT_ERR_IPV4 : CS_CNT_ERR_IPV6;
}

static const char fx_request[] =
	"GET /redirect?link=kYhjd36684679Gopkfdgjhf_htwVylYcl&l=D0I3r8wfwlIrtfku43I0IEk3felfqy"
	"&s=RBMKHJZJHECCFGRAFOF HTTP/1.1\r\n"
	"Host: click.example.com\r\n"
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n\r\n";

/* Parse cases shared by the userspace parser test and the XDP test. */
struct fx_case {
	const char *name;
	struct fx_desc desc;
	int want;                       /* CS_PARSE_OK (0) or a counter index */
};

#define FX_SYN(...) { .tcp_flags = CS_TCP_SYN, .seq = 1000, __VA_ARGS__ }

static const struct fx_case fx_cases[] = {
	{ "ipv4 syn", FX_SYN(.family = 4), 0 },
	{ "ipv6 syn", FX_SYN(.family = 6), 0 },
	{ "ipv4 syn, padded frame", FX_SYN(.family = 4, .pad_to = 60), 0 },
	{ "ipv4 802.1Q", FX_SYN(.family = 4, .vlan_tags = 1), 0 },
	{ "ipv6 802.1Q", FX_SYN(.family = 6, .vlan_tags = 1), 0 },
	{ "ipv4 QinQ", FX_SYN(.family = 4, .vlan_tags = 2), 0 },
	{ "ipv6 QinQ", FX_SYN(.family = 6, .vlan_tags = 2), 0 },
	{ "three VLAN tags", FX_SYN(.family = 4, .vlan_tags = 3), CS_CNT_ERR_VLAN },
	{ "ipv4 options 4", FX_SYN(.family = 4, .ipv4_opts_len = 4), 0 },
	{ "ipv4 options 40", FX_SYN(.family = 4, .ipv4_opts_len = 40), 0 },
	{ "ipv4 IHL 4", FX_SYN(.family = 4, .ipv4_ihl_override = 4), CS_CNT_ERR_IPV4 },
	{ "tcp options 40", FX_SYN(.family = 4, .tcp_opts_len = 40), 0 },
	{ "tcp data offset 4", FX_SYN(.family = 4, .tcp_doff_override = 4), CS_CNT_ERR_TCP },
	{ "tcp data offset past frame", FX_SYN(.family = 6, .tcp_doff_override = 15),
	  CS_CNT_ERR_TCP },
	{ "ipv6 hop-by-hop", FX_SYN(.family = 6, .ext = { 0 }, .ext_count = 1), 0 },
	{ "ipv6 routing", FX_SYN(.family = 6, .ext = { 43 }, .ext_count = 1), 0 },
	{ "ipv6 destination options", FX_SYN(.family = 6, .ext = { 60 }, .ext_count = 1), 0 },
	{ "ipv6 AH", FX_SYN(.family = 6, .ext = { 51 }, .ext_count = 1), 0 },
	{ "ipv6 first fragment", FX_SYN(.family = 6, .ext = { 44 }, .ext_count = 1,
					.more_fragments = 1), 0 },
	{ "ipv6 six extension headers",
	  FX_SYN(.family = 6, .ext = { 0, 60, 43, 44, 51, 60 }, .ext_count = 6), 0 },
	{ "ipv6 seven extension headers",
	  FX_SYN(.family = 6, .ext = { 0, 60, 43, 44, 51, 60, 60 }, .ext_count = 7),
	  CS_CNT_ERR_IPV6_EXT },
	{ "ipv6 non-first fragment", FX_SYN(.family = 6, .ext = { 44 }, .ext_count = 1,
					    .frag_offset = 185), CS_CNT_FRAGMENT },
	{ "ipv4 first fragment", FX_SYN(.family = 4, .more_fragments = 1), 0 },
	{ "ipv4 non-first fragment", FX_SYN(.family = 4, .frag_offset = 185), CS_CNT_FRAGMENT },
	{ "ipv4 last fragment", FX_SYN(.family = 4, .frag_offset = 185, .more_fragments = 0,
				       .l4_proto = 17), CS_CNT_FRAGMENT },
	{ "arp", { .family = 0 }, CS_CNT_NON_IP },
	{ "ipv4 udp", { .family = 4, .l4_proto = 17 }, CS_CNT_NON_TCP },
	{ "ipv6 udp after hop-by-hop", { .family = 6, .l4_proto = 17, .ext = { 0 },
					 .ext_count = 1 }, CS_CNT_NON_TCP },
	{ "ipv6 esp", { .family = 6, .l4_proto = 50 }, CS_CNT_NON_TCP },
	{ "ipv4 request segment", { .family = 4, .tcp_flags = CS_TCP_ACK | CS_TCP_PSH,
				    .seq = 7777, .payload = fx_request,
				    .payload_len = sizeof(fx_request) - 1 }, 0 },
	{ "ipv6 request segment after AH", { .family = 6, .tcp_flags = CS_TCP_ACK | CS_TCP_PSH,
					     .ext = { 51 }, .ext_count = 1, .seq = 7777,
					     .payload = fx_request,
					     .payload_len = sizeof(fx_request) - 1 }, 0 },
};

#define FX_NUM_CASES (sizeof(fx_cases) / sizeof(fx_cases[0]))

#endif /* CS_TEST_PACKET_FIXTURES_H */
