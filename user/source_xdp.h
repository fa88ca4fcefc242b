/*
 * The live source: loads the XDP program, pins and reuses the range maps,
 * attaches to one interface with an unpinned bpf_link (the program goes
 * away with the process, even on SIGKILL) and decodes ring-buffer events.
 *
 * Pins (see README.md, Kernel maps):
 *   PIN_DIR/ranges_v4, ranges_v6, providers  shared by every instance and
 *       reused on restart, so operator updates made with bpftool survive;
 *   PIN_DIR/IFNAME/counters, provider_stats  per instance, pinned once the
 *       program is attached and removed on exit.
 */
#ifndef CS_SOURCE_XDP_H
#define CS_SOURCE_XDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "clicksieve_abi.h"
#include "ranges_sync.h"

/* Tracked destination ports, one bit per port (bit p % 64 of word p / 64). */
struct cs_ports {
	uint64_t bits[CS_PORT_BITMAP_WORDS];
};

/* Parses "80,8080-8090" (ports 1-65535); on error writes a reason into err. */
int cs_ports_parse(const char *text, struct cs_ports *out, char *err, size_t errlen);
bool cs_ports_has(const struct cs_ports *p, uint16_t port);

enum cs_xdp_mode {
	CS_XDP_AUTO = 0,                /* native, falling back to generic */
	CS_XDP_NATIVE,
	CS_XDP_GENERIC,
};

/* "auto", "native" or "generic"; false for anything else. */
bool cs_xdp_mode_parse(const char *text, enum cs_xdp_mode *out);
const char *cs_xdp_mode_name(enum cs_xdp_mode mode);

/*
 * Offset that turns CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns) into
 * nanoseconds since the Unix epoch; take it once at start.
 */
int64_t cs_mono_to_wall_ns(void);

/* True when a ring-buffer record of size bytes is a well-formed event. */
bool cs_event_valid(const void *record, size_t size);

/*
 * Calls fn for each event of a ring-buffer record: one payload event or a
 * batch (struct cs_event in clicksieve_abi.h). Returns -1 without calling
 * fn when the record is malformed, else 0 or the first nonzero fn result.
 */
typedef int (*cs_event_fn)(void *ctx, const struct cs_event *ev, size_t size);
int cs_event_record_split(const void *record, size_t size, cs_event_fn fn, void *ctx);

/*
 * One line for `run`'s event print (with newline): time, kind,
 * src:port -> dst:port, [tcp flags], seq, captured/total payload bytes
 * ("+" when truncated), provider or "-", the payload's first line escaped
 * and quoted.
 */
void cs_event_print(FILE *f, const struct cs_event *ev, uint64_t ts_us, const char *provider);

struct cs_xdp_config {
	const char *ifname;
	enum cs_xdp_mode mode;
	const struct cs_ports *ports;
	const char *pin_dir;            /* CS_PIN_DIR unless testing */
};

struct cs_xdp;

/*
 * Opens, configures, loads and pins; refuses an interface that already has
 * an XDP program. Returns 0, or the exit status of the failure (2: bad
 * argument such as an unknown interface; 1: no permission, no bpffs, load
 * failure) with a message in err.
 */
int cs_xdp_open(const struct cs_xdp_config *cfg, struct cs_xdp **out, char *err, size_t errlen);

/* Map fds, valid until cs_xdp_close(). */
int cs_xdp_map_fd(const struct cs_xdp *x, const char *map_name);

/*
 * Makes the range maps hold r plus the operator's prefixes: those whose
 * provider r does not name (added with bpftool, see README.md, Kernel maps)
 * are left in place (CS_SYNC_KEEP_UNLISTED). kept, when not NULL, gets
 * their number.
 * Returns 0, or -1 with a message in err.
 */
int cs_xdp_sync_ranges(struct cs_xdp *x, const struct cs_ranges *r, struct cs_sync_stats *st,
		       size_t *kept, char *err, size_t errlen);

/* Attaches (call once the ranges are synced); same return as cs_xdp_open. */
int cs_xdp_attach(struct cs_xdp *x, char *err, size_t errlen);
/* Mode actually attached: CS_XDP_NATIVE or CS_XDP_GENERIC. */
enum cs_xdp_mode cs_xdp_attached_mode(const struct cs_xdp *x);

/*
 * Called per well-formed event, with its time on the wall clock (µs since
 * the Unix epoch); cs_segment_from_event() (flows.h) turns it into the flow
 * stage's input. A negative return stops the current consume.
 */
typedef int (*cs_xdp_event_fn)(void *ctx, const struct cs_event *ev, uint64_t ts_us);

/*
 * Starts the ring-buffer consumer; returns an fd to wait on, or -1. The fd
 * is readable when the program wakes the reader (every
 * CS_EVENTS_WAKEUP_EVERY events of a CPU) and every CS_EVENTS_POLL_MS;
 * call cs_xdp_events_consume() each time it is.
 */
int cs_xdp_events_start(struct cs_xdp *x, cs_xdp_event_fn fn, void *ctx, char *err, size_t errlen);
/* Delivers every pending event; returns how many, or a negative errno. */
int cs_xdp_events_consume(struct cs_xdp *x);

/*
 * Reads a per-CPU map of the program, summed over every CPU: the "counters"
 * map (its one struct cs_counters), or one provider's entry of
 * "provider_stats". Take the fd from cs_xdp_map_fd() or a pin. 0 or -errno.
 */
int cs_counters_read(int counters_fd, struct cs_counters *sum);
int cs_provider_stats_read(int provider_stats_fd, uint16_t id, struct cs_provider_stats *sum);

/* Provider name from the kernel "providers" map; "" when unnamed. */
const char *cs_xdp_provider_name(const struct cs_xdp *x, uint16_t id, char buf[CS_PROVIDER_NAME_LEN]);

/*
 * Event time now, in µs since the Unix epoch: CLOCK_MONOTONIC on the same
 * offset as the events' times, so that timers and events never disagree.
 */
uint64_t cs_xdp_now_us(const struct cs_xdp *x);

/* Detaches, removes this instance's pins and frees everything. */
void cs_xdp_close(struct cs_xdp *x);

#endif
