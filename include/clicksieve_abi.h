/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one ABI shared by the XDP program and userspace: event records, map
 * keys and values, counter indexes, limits. Nothing here is defined twice.
 * Multi-byte fields are host byte order unless named *_be.
 */
#ifndef CLICKSIEVE_ABI_H
#define CLICKSIEVE_ABI_H

#include <linux/types.h>

#define CS_PIN_DIR "/sys/fs/bpf/clicksieve"

/* Map names; pinned as CS_PIN_DIR "/" name. */
#define CS_MAP_RANGES_V4   "ranges_v4"
#define CS_MAP_RANGES_V6   "ranges_v6"
#define CS_MAP_PROVIDERS   "providers"
#define CS_MAP_PROV_STATS  "provider_stats"
#define CS_MAP_COUNTERS    "counters"
#define CS_MAP_EVENTS      "events"

#define CS_MAX_RANGES_V4   (1u << 18)
#define CS_MAX_RANGES_V6   (1u << 18)
#define CS_MAX_PROVIDERS   256          /* provider id 0 means "no match" */
#define CS_PROVIDER_NAME_LEN 32
#define CS_RINGBUF_BYTES   (16u << 20)

/*
 * Ring-buffer wakeups. Waking the reader costs the XDP program ~50 ns per
 * event (irq_work, then a wakeup of the reader's epoll) and the reader a
 * context switch per event, so the program wakes it only for every
 * CS_EVENTS_WAKEUP_EVERY-th event of a CPU, and the reader also polls every
 * CS_EVENTS_POLL_MS: a trickle of events waits at most that long, a flood
 * wakes the reader long before the ring (CS_RINGBUF_BYTES) can fill.
 */
#define CS_EVENTS_WAKEUP_EVERY 512      /* a power of 2 */
#define CS_EVENTS_POLL_MS      50

/*
 * Events without payload (SYN, FIN, RST) reach the ring in batches of up to
 * CS_EVENT_BATCH per CPU, at most CS_EVENT_BATCH_DELAY_NS after the first
 * (see struct cs_event). Kernels before 6.7 lack CS_BPF_F_TIMER_CPU_PIN:
 * there each such event goes out alone.
 */
#define CS_EVENT_BATCH          32      /* a power of 2 */
#define CS_EVENT_BATCH_DELAY_NS 1000000
#define CS_BPF_F_TIMER_CPU_PIN  (1ull << 1)     /* BPF_F_TIMER_CPU_PIN, Linux 6.7 */

/*
 * Payload bytes copied into each event. 1500 covers a whole segment at the
 * standard Ethernet MTU, so a tracking request (request line, Host,
 * User-Agent, X-Forwarded-For: typically 300-900 bytes) arrives whole in
 * one event; larger segments (jumbo frames, GRO in generic mode) are
 * truncated and flagged, and reassembly sees the hole.
 */
#define CS_CAPTURE_BYTES   1500

/* Tracked destination ports: a bitmap in .rodata, one bit per port. */
#define CS_PORT_BITMAP_WORDS (65536 / 64)

/* LPM trie keys: prefixlen first, address bytes in network order. */
struct cs_lpm_v4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct cs_lpm_v6 {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Range flags. */
#define CS_RANGE_WEAK    (1u << 0)      /* transit network: weak evidence only */
#define CS_RANGE_ALLOW   (1u << 1)      /* operator allow-list: never machine by range */

struct cs_range_value {
	__u16 provider_id;
	__u16 flags;
};

/* Value of the pinned "providers" array map, indexed by provider id. */
struct cs_provider_name {
	char name[CS_PROVIDER_NAME_LEN];       /* NUL-terminated, empty = unused */
};

/* Per-CPU per-provider statistics, indexed by provider id (0 = unlisted). */
struct cs_provider_stats {
	__u64 syns;
	__u64 event_packets;
	__u64 bytes;
};

/* Global counters: indexes into struct cs_counters. */
enum cs_counter {
	CS_CNT_PACKETS = 0,
	CS_CNT_BYTES,
	CS_CNT_NON_IP,            /* not IPv4/IPv6 (ARP, LLDP, ...) */
	CS_CNT_NON_TCP,
	CS_CNT_SYNS,
	CS_CNT_EVENTS,            /* events written to the ring buffer */
	CS_CNT_EVENTS_DROPPED,    /* ring buffer full */
	CS_CNT_PAYLOAD_TRUNCATED, /* payload longer than CS_CAPTURE_BYTES */
	/* malformed or unparsed packets, by kind */
	CS_CNT_ERR_ETH,           /* truncated Ethernet header */
	CS_CNT_ERR_VLAN,          /* truncated VLAN tag or more than 2 tags */
	CS_CNT_ERR_IPV4,          /* truncated IPv4 header, IHL < 5, bad version */
	CS_CNT_ERR_IPV6,          /* truncated IPv6 header, bad version */
	CS_CNT_ERR_IPV6_EXT,      /* truncated extension header or chain too long */
	CS_CNT_ERR_TCP,           /* truncated TCP header or data offset < 5 */
	CS_CNT_FRAGMENT,          /* non-first fragment: no L4 header */
	CS_CNT__MAX
};

/*
 * The one value of the per-CPU "counters" array (key 0): every global
 * counter of a CPU, so that a packet costs one map lookup however many
 * counters it moves.
 */
struct cs_counters {
	__u64 v[CS_CNT__MAX];
};

/* Event kinds. */
enum cs_event_kind {
	CS_EV_SYN = 1,
	CS_EV_PAYLOAD = 2,
	CS_EV_FIN = 3,
	CS_EV_RST = 4,
};

/* TCP flag bits as in the TCP header's flags byte. */
#define CS_TCP_FIN 0x01
#define CS_TCP_SYN 0x02
#define CS_TCP_RST 0x04
#define CS_TCP_PSH 0x08
#define CS_TCP_ACK 0x10

#define CS_EVF_TRUNCATED (1u << 0)      /* payload_len > captured_len */
#define CS_EVF_BATCHED   (1u << 1)      /* one of a batch record's events */

/*
 * One event. A ring-buffer record holds either one payload event, or a
 * batch of events without payload:
 *
 * - a payload event: the header and only as much of payload[] as its size
 *   class: offsetof(struct cs_event, payload) plus 192, 448, 960 or
 *   CS_CAPTURE_BYTES bytes, the smallest that holds the segment's payload.
 *   Consumers read captured_len payload bytes and must check the record
 *   size covers them.
 * - a batch (the first event has CS_EVF_BATCHED): 1..CS_EVENT_BATCH
 *   headers back to back, each with CS_EVF_BATCHED and captured_len 0, in
 *   the order the CPU saw them. cs_event_record_split() (user/source_xdp.h)
 *   walks both kinds.
 *
 * ts_ns of a payload event is bpf_ktime_get_ns(); of an event without
 * payload (SYN, FIN, RST) bpf_ktime_get_coarse_ns() read once per tick and
 * CPU, CLOCK_MONOTONIC_COARSE: the same clock at tick precision, up to one
 * jiffy (4 ms at HZ=250) behind, so a FIN may carry a time slightly before
 * its flow's last payload.
 */
struct cs_event {
	__u64 ts_ns;              /* CLOCK_MONOTONIC; see below */
	__u32 ifindex;
	__u32 seq;                /* TCP sequence number */
	__u16 sport;
	__u16 dport;
	__u8 family;              /* 4 or 6 */
	__u8 kind;                /* enum cs_event_kind */
	__u8 tcp_flags;
	__u8 ev_flags;            /* CS_EVF_* */
	__u16 provider_id;        /* range match of saddr, 0 = none */
	__u16 range_flags;
	__u16 payload_len;        /* TCP payload bytes in the segment */
	__u16 captured_len;       /* bytes in payload[] */
	__u8 saddr[16];           /* network order; IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u8 payload[CS_CAPTURE_BYTES];
};

/*
 * Learned scanners (user/learned.h): pinned by `run` as CS_PIN_DIR "/" name
 * so that they survive restarts and operators can list (`clicksieve ranges
 * learned`) or delete them. Hash maps written by userspace only; key: the
 * client address masked to the client prefix (/32, /64 by default),
 * network order, 4 or 16 bytes.
 */
#define CS_MAP_LEARNED_V4  "learned_v4"
#define CS_MAP_LEARNED_V6  "learned_v6"

struct cs_learned_value {
	__u64 expiry_unix_us;     /* no longer learned from this time on */
	__u64 first_us;           /* conviction that made it learned */
	__u64 last_us;            /* latest conviction */
	__u32 evidence;           /* distinct recipients convicted */
	__u8 prefixlen;           /* the key is the client masked to this */
	__u8 flags;               /* none defined yet: 0 */
	__u16 reserved;           /* 0 */
};

#endif /* CLICKSIEVE_ABI_H */
