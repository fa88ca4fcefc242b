/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one packet header parser, compiled into the XDP program (clang -target
 * bpf) and into userspace (pcap replay, unit tests). Plain C over a frame's
 * (data, data_end) pointers with a bounds-checked cursor; no BPF or libc
 * networking headers, so it builds anywhere <linux/types.h> exists.
 *
 *	struct cs_pkt pkt;
 *	int rc = cs_parse_packet(frame, frame + frame_len, &pkt);
 *
 * (The XDP program first tries cs_parse_plain_ipv4 and _ipv6, which decide
 * the common frames in a few instructions, then cs_parse_headers_general, and
 * copies the addresses with cs_pkt_copy_addrs only for packets it looks up
 * or reports.)
 *
 * The frame starts at the Ethernet header. Up to two VLAN tags (802.1Q,
 * 802.1ad), IPv4 with options, IPv6 with up to CS_MAX_IPV6_EXT extension
 * headers (hop-by-hop, routing, fragment, destination options, AH), TCP
 * with options.
 *
 * rc == CS_PARSE_OK: a TCP segment; every field of pkt is valid and
 * payload_off + payload_len <= frame_len (Ethernet padding excluded).
 * Otherwise rc is the enum cs_counter index that says why not: CS_CNT_NON_IP,
 * CS_CNT_NON_TCP, CS_CNT_FRAGMENT (non-first fragment) or CS_CNT_ERR_*. The
 * error names the header a truncated frame ends in; a frame whose headers
 * are whole but which is shorter than the IP length says (truncated payload)
 * is CS_CNT_ERR_IPV4 / CS_CNT_ERR_IPV6. On error only family is valid, and
 * the addresses once an IP header was read (family != 0).
 */
#ifndef CS_PACKET_PARSE_H
#define CS_PACKET_PARSE_H

#include <linux/types.h>

#include "clicksieve_abi.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define CS_PARSE_OK 0
_Static_assert(CS_CNT_PACKETS == 0, "no parse error may share CS_PARSE_OK");

#define CS_MAX_VLAN_TAGS 2
#define CS_MAX_IPV6_EXT  6

#define CS_ETH_HLEN      14
#define CS_ETH_P_IP      0x0800
#define CS_ETH_P_IPV6    0x86DD
#define CS_ETH_P_8021Q   0x8100
#define CS_ETH_P_8021AD  0x88A8
#define CS_VLAN_HLEN     4
#define CS_IPV4_MIN_HLEN 20
#define CS_IPV6_HLEN     40
#define CS_TCP_MIN_HLEN  20

#define CS_IPPROTO_HOPOPTS  0
#define CS_IPPROTO_TCP      6
#define CS_IPPROTO_ROUTING  43
#define CS_IPPROTO_FRAGMENT 44
#define CS_IPPROTO_AH       51
#define CS_IPPROTO_DSTOPTS  60

struct cs_pkt {
	__u8 family;            /* 4 or 6; 0 until an IP header was read */
	__u8 tcp_flags;         /* CS_TCP_* */
	__u8 vlan_tags;         /* VLAN tags skipped (0..2) */
	__u8 first_fragment;    /* offset 0 of a fragmented datagram */
	__u16 sport;            /* host order */
	__u16 dport;
	__u32 seq;              /* host order */
	__u32 l3_off;           /* offsets from the start of the frame */
	__u32 l4_off;
	__u32 payload_off;
	__u32 payload_len;      /* TCP payload bytes, from the IP length */
	__u8 saddr[16];         /* network order; IPv4 in the first 4 bytes */
	__u8 daddr[16];
};

/*
 * Unaligned loads. clang splits a memcpy from a byte pointer into single
 * bytes for BPF, so BPF loads directly: the verifier allows unaligned packet
 * access where the JIT handles it (x86, arm64). Userspace uses memcpy,
 * which compiles to one load.
 */
#ifdef __bpf__
static __always_inline __u16 cs_load16(const __u8 *p)
{
	return *(const __u16 *)p;
}

static __always_inline __u32 cs_load32(const __u8 *p)
{
	return *(const __u32 *)p;
}
#else
static __always_inline __u16 cs_load16(const __u8 *p)
{
	__u16 v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

static __always_inline __u32 cs_load32(const __u8 *p)
{
	__u32 v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define cs_be16_to_host(x) __builtin_bswap16(x)
#define cs_be32_to_host(x) __builtin_bswap32(x)
#else
#define cs_be16_to_host(x) (x)
#define cs_be32_to_host(x) (x)
#endif

static __always_inline __u16 cs_get_be16(const __u8 *p)
{
	return cs_be16_to_host(cs_load16(p));
}

static __always_inline __u32 cs_get_be32(const __u8 *p)
{
	return cs_be32_to_host(cs_load32(p));
}

/* Copies n32 32-bit words, e.g. an address, from the packet. */
static __always_inline void cs_copy_words(__u8 *dst, const __u8 *src, int n32)
{
	int i;

	for (i = 0; i < n32; i++) {
		__u32 w = cs_load32(src + 4 * i);

		__builtin_memcpy(dst + 4 * i, &w, sizeof(w));
	}
}

static __always_inline int cs_is_ipv6_ext(__u8 nexthdr)
{
	return nexthdr == CS_IPPROTO_HOPOPTS || nexthdr == CS_IPPROTO_ROUTING ||
	       nexthdr == CS_IPPROTO_FRAGMENT || nexthdr == CS_IPPROTO_AH ||
	       nexthdr == CS_IPPROTO_DSTOPTS;
}

/*
 * Each parse step takes the cursor *pos, checks the header against
 * data_end before reading it, and advances the cursor past it.
 */
static __always_inline int cs_parse_eth(__u8 **pos, const __u8 *data_end,
					struct cs_pkt *pkt, __u16 *proto)
{
	__u8 *p = *pos;
	int i;

	if (p + CS_ETH_HLEN > data_end)
		return CS_CNT_ERR_ETH;
	*proto = cs_get_be16(p + 12);
	p += CS_ETH_HLEN;

	for (i = 0; i < CS_MAX_VLAN_TAGS; i++) {
		if (*proto != CS_ETH_P_8021Q && *proto != CS_ETH_P_8021AD)
			break;
		if (p + CS_VLAN_HLEN > data_end)
			return CS_CNT_ERR_VLAN;
		*proto = cs_get_be16(p + 2);
		p += CS_VLAN_HLEN;
		pkt->vlan_tags++;
	}
	if (*proto == CS_ETH_P_8021Q || *proto == CS_ETH_P_8021AD)
		return CS_CNT_ERR_VLAN;
	*pos = p;
	return CS_PARSE_OK;
}

static __always_inline int cs_parse_ipv4(__u8 **pos, const __u8 *data_end,
					 struct cs_pkt *pkt, __u8 **ip_end)
{
	__u8 *p = *pos;
	__u32 hlen, tot_len;
	__u16 frag;

	if (p + CS_IPV4_MIN_HLEN > data_end || p[0] >> 4 != 4)
		return CS_CNT_ERR_IPV4;
	hlen = (p[0] & 0x0f) * 4;
	if (hlen < CS_IPV4_MIN_HLEN || p + hlen > data_end)
		return CS_CNT_ERR_IPV4;
	tot_len = cs_get_be16(p + 2);
	if (tot_len < hlen)
		return CS_CNT_ERR_IPV4;

	pkt->family = 4;
	frag = cs_get_be16(p + 6);
	if (frag & 0x1fff)
		return CS_CNT_FRAGMENT;
	pkt->first_fragment = (frag & 0x2000) != 0;
	if (p[9] != CS_IPPROTO_TCP)
		return CS_CNT_NON_TCP;

	*ip_end = p + tot_len;
	*pos = p + hlen;
	return CS_PARSE_OK;
}

static __always_inline int cs_parse_ipv6(__u8 **pos, const __u8 *data_end,
					 struct cs_pkt *pkt, __u8 **ip_end)
{
	__u8 *p = *pos;
	__u8 *end;
	__u32 len;
	__u8 nexthdr;
	int i;

	if (p + CS_IPV6_HLEN > data_end || p[0] >> 4 != 6)
		return CS_CNT_ERR_IPV6;
	pkt->family = 6;
	nexthdr = p[6];
	end = p + CS_IPV6_HLEN + cs_get_be16(p + 4);
	p += CS_IPV6_HLEN;

	for (i = 0; i < CS_MAX_IPV6_EXT; i++) {
		if (!cs_is_ipv6_ext(nexthdr))
			break;
		/* Every extension header is at least 8 bytes. */
		if (p + 8 > data_end || p + 8 > end)
			return CS_CNT_ERR_IPV6_EXT;
		if (nexthdr == CS_IPPROTO_FRAGMENT) {
			if (cs_get_be16(p + 2) & 0xfff8)
				return CS_CNT_FRAGMENT;
			pkt->first_fragment = p[3] & 1;
			len = 8;
		} else if (nexthdr == CS_IPPROTO_AH) {
			len = (p[1] + 2) * 4;
		} else {
			len = (p[1] + 1) * 8;
		}
		nexthdr = p[0];
		if (p + len > data_end || p + len > end)
			return CS_CNT_ERR_IPV6_EXT;
		p += len;
	}
	if (cs_is_ipv6_ext(nexthdr))
		return CS_CNT_ERR_IPV6_EXT;
	if (nexthdr != CS_IPPROTO_TCP)
		return CS_CNT_NON_TCP;

	*ip_end = end;
	*pos = p;
	return CS_PARSE_OK;
}

static __always_inline int cs_parse_tcp(__u8 **pos, const __u8 *data_end,
					const __u8 *ip_end, struct cs_pkt *pkt)
{
	__u8 *p = *pos;
	__u32 hlen;

	if (p + CS_TCP_MIN_HLEN > data_end)
		return CS_CNT_ERR_TCP;
	hlen = (p[12] >> 4) * 4;
	if (hlen < CS_TCP_MIN_HLEN || p + hlen > data_end || p + hlen > ip_end)
		return CS_CNT_ERR_TCP;
	pkt->sport = cs_get_be16(p);
	pkt->dport = cs_get_be16(p + 2);
	pkt->seq = cs_get_be32(p + 4);
	pkt->tcp_flags = p[13];
	*pos = p + hlen;
	return CS_PARSE_OK;
}

/* Any frame: the general parser behind cs_parse_headers. */
static __always_inline int cs_parse_headers_general(void *data, void *data_end,
						    struct cs_pkt *pkt)
{
	__u8 *pos = data, *end = data_end, *ip_end = end;
	__u16 proto = 0;
	int rc;

	/* Every other field is written on the way to CS_PARSE_OK. */
	pkt->family = 0;
	pkt->vlan_tags = 0;
	pkt->first_fragment = 0;
	rc = cs_parse_eth(&pos, end, pkt, &proto);
	if (rc)
		return rc;
	pkt->l3_off = pos - (__u8 *)data;
	if (proto == CS_ETH_P_IP)
		rc = cs_parse_ipv4(&pos, end, pkt, &ip_end);
	else if (proto == CS_ETH_P_IPV6)
		rc = cs_parse_ipv6(&pos, end, pkt, &ip_end);
	else
		rc = CS_CNT_NON_IP;
	if (rc)
		return rc;
	pkt->l4_off = pos - (__u8 *)data;
	rc = cs_parse_tcp(&pos, end, ip_end, pkt);
	if (rc)
		return rc;
	/* Headers are whole; the payload must be too. */
	if (ip_end > end)
		return pkt->family == 4 ? CS_CNT_ERR_IPV4 : CS_CNT_ERR_IPV6;
	pkt->payload_off = pos - (__u8 *)data;
	pkt->payload_len = ip_end - pos;
	return CS_PARSE_OK;
}

/*
 * The common frame in few instructions: untagged Ethernet, IPv4 without
 * options, not fragmented, headers and payload whole. CS_PARSE_OK: a TCP
 * segment, *tcp set to its header and *payload_len to its payload;
 * CS_CNT_NON_TCP: another protocol; -1: any other frame, for which
 * cs_parse_headers decides. Where this returns CS_PARSE_OK or
 * CS_CNT_NON_TCP, cs_parse_headers_general returns the same, and for a
 * segment the same pkt as cs_pkt_from_plain (test_packet_parse checks
 * every fixture, every truncation and every single-bit header flip).
 */
static __always_inline int cs_parse_plain_ipv4(void *data, void *data_end, __u8 **tcp,
					       __u32 *payload_len)
{
	__u8 *ip = (__u8 *)data + CS_ETH_HLEN;
	__u8 *th = ip + CS_IPV4_MIN_HLEN;
	__u32 tot_len, tcp_hlen;

	if (th > (__u8 *)data_end)
		return -1;
	/* 0x0800 and the fragment bits compared in network order: no swaps */
	if (cs_load16((__u8 *)data + 12) != cs_be16_to_host(CS_ETH_P_IP) || ip[0] != 0x45 ||
	    cs_load16(ip + 6) & cs_be16_to_host(0x3fff))
		return -1;
	tot_len = cs_get_be16(ip + 2);
	if (tot_len < CS_IPV4_MIN_HLEN)
		return -1;
	if (ip[9] != CS_IPPROTO_TCP)
		return CS_CNT_NON_TCP;
	if (th + CS_TCP_MIN_HLEN > (__u8 *)data_end)
		return -1;
	tcp_hlen = (th[12] >> 4) * 4;
	if (tcp_hlen < CS_TCP_MIN_HLEN || tot_len < CS_IPV4_MIN_HLEN + tcp_hlen ||
	    ip + tot_len > (__u8 *)data_end)
		return -1;
	*tcp = th;
	*payload_len = tot_len - CS_IPV4_MIN_HLEN - tcp_hlen;
	return CS_PARSE_OK;
}

/*
 * The same for untagged IPv6 whose next header is TCP (no extension
 * headers): CS_PARSE_OK with *tcp and *payload_len, or -1.
 */
static __always_inline int cs_parse_plain_ipv6(void *data, void *data_end, __u8 **tcp,
					       __u32 *payload_len)
{
	__u8 *ip = (__u8 *)data + CS_ETH_HLEN;
	__u8 *th = ip + CS_IPV6_HLEN;
	__u32 plen, tcp_hlen;

	if (th + CS_TCP_MIN_HLEN > (__u8 *)data_end)
		return -1;
	if (cs_load16((__u8 *)data + 12) != cs_be16_to_host(CS_ETH_P_IPV6) || ip[0] >> 4 != 6 ||
	    ip[6] != CS_IPPROTO_TCP)
		return -1;
	plen = cs_get_be16(ip + 4);
	tcp_hlen = (th[12] >> 4) * 4;
	if (tcp_hlen < CS_TCP_MIN_HLEN || plen < tcp_hlen || th + plen > (__u8 *)data_end)
		return -1;
	*tcp = th;
	*payload_len = plen - tcp_hlen;
	return CS_PARSE_OK;
}

/* The pkt of a TCP segment cs_parse_plain_ipv4 (family 4) or _ipv6 (6) accepted. */
static __always_inline void cs_pkt_from_plain(const __u8 *tcp, __u32 payload_len, __u8 family,
					      struct cs_pkt *pkt)
{
	__u32 l4_off = CS_ETH_HLEN + (family == 4 ? CS_IPV4_MIN_HLEN : CS_IPV6_HLEN);

	pkt->family = family;
	pkt->vlan_tags = 0;
	pkt->first_fragment = 0;
	pkt->tcp_flags = tcp[13];
	pkt->sport = cs_get_be16(tcp);
	pkt->dport = cs_get_be16(tcp + 2);
	pkt->seq = cs_get_be32(tcp + 4);
	pkt->l3_off = CS_ETH_HLEN;
	pkt->l4_off = l4_off;
	pkt->payload_off = l4_off + (tcp[12] >> 4) * 4;
	pkt->payload_len = payload_len;
}

/*
 * Every header but the IP addresses, which the XDP program copies only for
 * the packets that need them (cs_pkt_copy_addrs).
 */
static __always_inline int cs_parse_headers(void *data, void *data_end, struct cs_pkt *pkt)
{
	__u32 payload_len;
	__u8 *tcp;

	if (cs_parse_plain_ipv4(data, data_end, &tcp, &payload_len) == CS_PARSE_OK) {
		cs_pkt_from_plain(tcp, payload_len, 4, pkt);
		return CS_PARSE_OK;
	}
	if (cs_parse_plain_ipv6(data, data_end, &tcp, &payload_len) == CS_PARSE_OK) {
		cs_pkt_from_plain(tcp, payload_len, 6, pkt);
		return CS_PARSE_OK;
	}
	return cs_parse_headers_general(data, data_end, pkt);
}

/* Fills saddr and daddr once family and l3_off are known; 0 or -1. */
static __always_inline int cs_pkt_copy_addrs(void *data, void *data_end, struct cs_pkt *pkt)
{
	__u32 l3_off = pkt->l3_off;
	__u8 *ip;

	/* Re-bounds the offset for the verifier; it never exceeds this. */
	if (l3_off > CS_ETH_HLEN + CS_MAX_VLAN_TAGS * CS_VLAN_HLEN)
		return -1;
	ip = (__u8 *)data + l3_off;
	if (pkt->family == 4) {
		if (ip + CS_IPV4_MIN_HLEN > (__u8 *)data_end)
			return -1;
		cs_copy_words(pkt->saddr, ip + 12, 1);
		cs_copy_words(pkt->daddr, ip + 16, 1);
		__builtin_memset(pkt->saddr + 4, 0, 12);
		__builtin_memset(pkt->daddr + 4, 0, 12);
	} else if (pkt->family == 6) {
		if (ip + CS_IPV6_HLEN > (__u8 *)data_end)
			return -1;
		cs_copy_words(pkt->saddr, ip + 8, 4);
		cs_copy_words(pkt->daddr, ip + 24, 4);
	} else {
		return -1;
	}
	return 0;
}

static __always_inline int cs_parse_packet(void *data, void *data_end, struct cs_pkt *pkt)
{
	int rc = cs_parse_headers(data, data_end, pkt);

	if (pkt->family)
		cs_pkt_copy_addrs(data, data_end, pkt);
	return rc;
}

#endif /* CS_PACKET_PARSE_H */
