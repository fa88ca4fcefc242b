#include "source_xdp.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "clicksieve.skel.h"
#include "flows.h"

struct cs_xdp {
	struct clicksieve *skel;
	char ifname[IF_NAMESIZE];
	int ifindex;
	enum cs_xdp_mode mode;
	enum cs_xdp_mode attached;
	int link_fd;
	char pin_dir[PATH_MAX / 2];
	char instance_dir[PATH_MAX / 2 + IF_NAMESIZE + 1];      /* pin_dir/IFNAME */
	bool stats_pinned;
	struct ring_buffer *rb;
	int poll_timer_fd;              /* in rb's epoll set: see CS_EVENTS_POLL_MS */
	cs_xdp_event_fn fn;
	void *fn_ctx;
	int64_t mono_to_wall_ns;
};

/* Maps shared by every instance and kept across restarts. */
static const char *const shared_maps[] = { CS_MAP_RANGES_V4, CS_MAP_RANGES_V6, CS_MAP_PROVIDERS };
/* Maps pinned per instance for bpftool, removed on exit. */
static const char *const instance_maps[] = { CS_MAP_COUNTERS, CS_MAP_PROV_STATS };

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int cs_ports_parse(const char *text, struct cs_ports *out, char *err, size_t errlen)
{
	const char *p = text;

	memset(out, 0, sizeof(*out));
	for (;;) {
		unsigned long lo, hi;
		char *end;

		if (*p < '0' || *p > '9')
			goto bad;
		lo = strtoul(p, &end, 10);
		hi = lo;
		if (*end == '-') {
			p = end + 1;
			if (*p < '0' || *p > '9')
				goto bad;
			hi = strtoul(p, &end, 10);
		}
		if (lo < 1 || hi > 65535 || lo > hi)
			goto bad;
		for (unsigned long port = lo; port <= hi; port++)
			out->bits[port / 64] |= 1ull << (port % 64);
		if (*end == '\0')
			return 0;
		if (*end != ',')
			goto bad;
		p = end + 1;
	}
bad:
	set_err(err, errlen, "bad port list '%s': want ports 1-65535 like 80,8080-8090", text);
	return -1;
}

bool cs_ports_has(const struct cs_ports *p, uint16_t port)
{
	return p->bits[port / 64] & (1ull << (port % 64));
}

static const char *const mode_names[] = {
	[CS_XDP_AUTO] = "auto",
	[CS_XDP_NATIVE] = "native",
	[CS_XDP_GENERIC] = "generic",
};

bool cs_xdp_mode_parse(const char *text, enum cs_xdp_mode *out)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (!strcmp(text, mode_names[i])) {
			*out = (enum cs_xdp_mode)i;
			return true;
		}
	}
	return false;
}

const char *cs_xdp_mode_name(enum cs_xdp_mode mode)
{
	return mode_names[mode];
}

int64_t cs_mono_to_wall_ns(void)
{
	struct timespec mono1, wall, mono2;

	/*
	 * bpf_ktime_get_ns() is CLOCK_MONOTONIC. One offset taken at start
	 * keeps event times monotonic for the classifier's windows even if the
	 * wall clock is stepped later; bracketing the wall-clock read between
	 * two monotonic reads halves the error of the sample.
	 */
	clock_gettime(CLOCK_MONOTONIC, &mono1);
	clock_gettime(CLOCK_REALTIME, &wall);
	clock_gettime(CLOCK_MONOTONIC, &mono2);
	int64_t m1 = mono1.tv_sec * 1000000000ll + mono1.tv_nsec;
	int64_t m2 = mono2.tv_sec * 1000000000ll + mono2.tv_nsec;
	int64_t w = wall.tv_sec * 1000000000ll + wall.tv_nsec;
	return w - (m1 + (m2 - m1) / 2);
}

bool cs_event_valid(const void *record, size_t size)
{
	const struct cs_event *ev = record;
	size_t header = offsetof(struct cs_event, payload);

	return size >= header && ev->captured_len <= CS_CAPTURE_BYTES &&
	       size >= header + ev->captured_len && ev->captured_len <= ev->payload_len &&
	       (ev->family == 4 || ev->family == 6) &&
	       ev->kind >= CS_EV_SYN && ev->kind <= CS_EV_RST;
}

/* A batch record: every event header-only, flagged, and without payload. */
static bool batch_valid(const uint8_t *record, size_t size)
{
	size_t header = offsetof(struct cs_event, payload);

	if (size == 0 || size % header || size / header > CS_EVENT_BATCH)
		return false;
	for (size_t off = 0; off < size; off += header) {
		const struct cs_event *ev = (const void *)(record + off);

		if (!(ev->ev_flags & CS_EVF_BATCHED) || ev->captured_len ||
		    !cs_event_valid(ev, header))
			return false;
	}
	return true;
}

/* One batch per possible CPU (before load); 0 or -errno. */
static int size_batches(struct bpf_map *event_batches)
{
	int ncpus = libbpf_num_possible_cpus();

	if (ncpus < 0)
		return ncpus;
	return bpf_map__set_max_entries(event_batches, ncpus);
}

int cs_event_record_split(const void *record, size_t size, cs_event_fn fn, void *ctx)
{
	const struct cs_event *first = record;
	size_t header = offsetof(struct cs_event, payload);
	int rc = 0;

	if (size < header)
		return -1;
	if (!(first->ev_flags & CS_EVF_BATCHED))
		return cs_event_valid(record, size) ? fn(ctx, first, size) : -1;
	if (!batch_valid(record, size))
		return -1;
	for (size_t off = 0; off < size && !rc; off += header)
		rc = fn(ctx, (const void *)((const uint8_t *)record + off), header);
	return rc;
}

static const char *kind_name(enum cs_event_kind kind)
{
	switch (kind) {
	case CS_EV_SYN: return "SYN";
	case CS_EV_PAYLOAD: return "PAYLOAD";
	case CS_EV_FIN: return "FIN";
	case CS_EV_RST: return "RST";
	}
	return "?";
}

static void print_endpoint(FILE *f, const struct cs_addr *a, uint16_t port)
{
	char buf[CS_ADDR_STRLEN];

	cs_addr_format(a, buf);
	fprintf(f, a->family == 6 ? "[%s]:%u" : "%s:%u", buf, port);
}

void cs_event_print(FILE *f, const struct cs_event *ev, uint64_t ts_us, const char *provider)
{
	time_t secs = (time_t)(ts_us / 1000000);
	struct cs_segment seg;
	char flags[8], *fp = flags;
	struct tm tm;

	cs_segment_from_event(ev, ts_us, &seg);
	/* tcpdump's notation: S F R P, "." for ACK. */
	if (seg.flags & CS_TCP_SYN)
		*fp++ = 'S';
	if (seg.flags & CS_TCP_FIN)
		*fp++ = 'F';
	if (seg.flags & CS_TCP_RST)
		*fp++ = 'R';
	if (seg.flags & CS_TCP_PSH)
		*fp++ = 'P';
	if (seg.flags & CS_TCP_ACK)
		*fp++ = '.';
	*fp = '\0';

	gmtime_r(&secs, &tm);
	fprintf(f, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ %s ", tm.tm_year + 1900, tm.tm_mon + 1,
		tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ts_us % 1000000),
		kind_name(ev->kind));
	print_endpoint(f, &seg.src, seg.sport);
	fputs(" -> ", f);
	print_endpoint(f, &seg.dst, seg.dport);
	fprintf(f, " [%s] seq=%u len=%u/%u%s %s \"", flags, seg.seq, seg.captured, seg.len,
		ev->ev_flags & CS_EVF_TRUNCATED ? "+" : "", provider && *provider ? provider : "-");
	for (uint32_t i = 0; i < seg.captured; i++) {
		uint8_t c = seg.data[i];

		if (c == '\r' || c == '\n')
			break;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
	fputs("\"\n", f);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static bool is_permission_error(int e)
{
	return e == EPERM || e == EACCES;
}

static void set_permission_err(char *err, size_t errlen, const char *what)
{
	set_err(err, errlen,
		"%s: permission denied (run as root, or with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)",
		what);
}

/* Answers "not root / no BPF" before anything is created. */
static int probe_xdp(char *err, size_t errlen)
{
	const struct bpf_insn pass[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, NULL, "GPL", pass, 2, NULL);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (is_permission_error(errno))
		set_permission_err(err, errlen, "loading BPF programs");
	else
		set_err(err, errlen, "this kernel cannot load XDP programs: %s", strerror(errno));
	return 1;
}

/* The directory that will hold the pins must be on a bpf filesystem. */
static int check_bpffs(const char *pin_dir, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct statfs st;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", pin_dir);
	/* The pin directory itself may not exist yet: then look at its parent. */
	if (statfs(dir, &st) && errno == ENOENT && (slash = strrchr(dir, '/')) && slash != dir)
		*slash = '\0';
	if (statfs(dir, &st)) {
		if (is_permission_error(errno))
			set_permission_err(err, errlen, dir);
		else
			set_err(err, errlen, "%s: %s", dir, strerror(errno));
		return 1;
	}
	if (st.f_type != BPF_FS_MAGIC) {
		set_err(err, errlen, "%s is not on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)",
			dir);
		return 1;
	}
	return 0;
}

/*
 * libbpf reuses a pinned map only when it matches the program's definition;
 * check first so that a pin left by an incompatible version gets a message
 * that says what to do.
 */
static int check_pinned_map(const struct bpf_map *map, const char *path, char *err, size_t errlen)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd, ret = 0;

	fd = bpf_obj_get(path);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (is_permission_error(errno))
			set_permission_err(err, errlen, path);
		else
			set_err(err, errlen, "%s: %s", path, strerror(errno));
		return 1;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		ret = 1;
		goto out;
	}
	if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
	    info.value_size != bpf_map__value_size(map) ||
	    info.max_entries != bpf_map__max_entries(map) ||
	    info.map_flags != bpf_map__map_flags(map)) {
		set_err(err, errlen,
			"pinned map %s does not match this clicksieve's layout; remove it "
			"(rm %s, which drops the ranges it holds) and start again", path, path);
		ret = 1;
	}
out:
	close(fd);
	return ret;
}

int cs_xdp_open(const struct cs_xdp_config *cfg, struct cs_xdp **out, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, query);
	struct bpf_map *map;
	struct cs_xdp *x;
	int ret;

	*out = NULL;
	x = calloc(1, sizeof(*x));
	if (!x) {
		set_err(err, errlen, "out of memory");
		return 1;
	}
	x->link_fd = -1;
	x->poll_timer_fd = -1;
	x->mode = cfg->mode;
	snprintf(x->ifname, sizeof(x->ifname), "%s", cfg->ifname);
	if (strlen(cfg->pin_dir) >= sizeof(x->pin_dir)) {
		set_err(err, errlen, "pin directory name too long");
		ret = 2;
		goto fail;
	}
	strcpy(x->pin_dir, cfg->pin_dir);
	snprintf(x->instance_dir, sizeof(x->instance_dir), "%s/%s", x->pin_dir, x->ifname);

	x->ifindex = strlen(cfg->ifname) < IF_NAMESIZE ? (int)if_nametoindex(cfg->ifname) : 0;
	if (!x->ifindex) {
		set_err(err, errlen, "interface '%s' not found", cfg->ifname);
		ret = 2;
		goto fail;
	}
	ret = probe_xdp(err, errlen);
	if (ret)
		goto fail;
	ret = check_bpffs(x->pin_dir, err, errlen);
	if (ret)
		goto fail;

	/* Refuse before touching the shared maps; the attach re-checks atomically. */
	if (bpf_xdp_query(x->ifindex, 0, &query) == 0 && query.attach_mode != XDP_ATTACHED_NONE) {
		set_err(err, errlen, "clicksieve (or another XDP program) is already attached to %s",
			x->ifname);
		ret = 1;
		goto fail;
	}

	libbpf_set_print(libbpf_print);
	x->skel = clicksieve__open();
	if (!x->skel) {
		set_err(err, errlen, "opening the BPF object failed: %s", strerror(errno));
		ret = 1;
		goto fail;
	}
	memcpy((void *)x->skel->rodata->tracked_ports, cfg->ports->bits, sizeof(cfg->ports->bits));
	ret = size_batches(x->skel->maps.event_batches);
	if (ret) {
		set_err(err, errlen, "sizing the event batches: %s", strerror(-ret));
		ret = 1;
		goto fail;
	}

	bpf_object__for_each_map(map, x->skel->obj) {
		char path[PATH_MAX];
		bool shared = false;

		for (size_t i = 0; i < sizeof(shared_maps) / sizeof(shared_maps[0]); i++)
			shared |= !strcmp(bpf_map__name(map), shared_maps[i]);
		if (!shared) {
			/* Whatever the BPF source asks for, only the loader decides pins. */
			bpf_map__set_pin_path(map, NULL);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", x->pin_dir, bpf_map__name(map));
		ret = check_pinned_map(map, path, err, errlen);
		if (ret)
			goto fail;
		/* Reused at load when pinned, else created and pinned there. */
		if (bpf_map__set_pin_path(map, path)) {
			set_err(err, errlen, "%s: %s", path, strerror(errno));
			ret = 1;
			goto fail;
		}
	}
	if (mkdir(x->pin_dir, 0700) && errno != EEXIST) {
		if (is_permission_error(errno))
			set_permission_err(err, errlen, x->pin_dir);
		else
			set_err(err, errlen, "%s: %s", x->pin_dir, strerror(errno));
		ret = 1;
		goto fail;
	}

	ret = clicksieve__load(x->skel);
	if (ret) {
		/* EACCES here is the verifier's rejection, logged above by libbpf. */
		if (ret == -EPERM)
			set_permission_err(err, errlen, "loading the XDP program");
		else if (ret == -EACCES)
			set_err(err, errlen, "the kernel's verifier rejected the XDP program");
		else
			set_err(err, errlen, "loading the XDP program failed: %s", strerror(-ret));
		ret = 1;
		goto fail;
	}
	x->mono_to_wall_ns = cs_mono_to_wall_ns();
	*out = x;
	return 0;
fail:
	cs_xdp_close(x);
	return ret;
}

int cs_xdp_map_fd(const struct cs_xdp *x, const char *map_name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(x->skel->obj, map_name);

	return map ? bpf_map__fd(map) : -1;
}

int cs_xdp_sync_ranges(struct cs_xdp *x, const struct cs_ranges *r, struct cs_sync_stats *st,
		       size_t *kept_count, char *err, size_t errlen)
{
	struct cs_sync_stats local;

	if (!st)
		st = &local;
	/* The operator's ranges (providers no list names) are never touched. */
	if (cs_ranges_sync_fds(r, bpf_map__fd(x->skel->maps.ranges_v4),
			       bpf_map__fd(x->skel->maps.ranges_v6),
			       bpf_map__fd(x->skel->maps.providers), CS_SYNC_KEEP_UNLISTED, st,
			       err, errlen))
		return -1;
	if (kept_count)
		*kept_count = st->kept;
	return 0;
}

/* Counters and provider stats of this instance, for bpftool. */
static void pin_instance_maps(struct cs_xdp *x)
{
	if (mkdir(x->instance_dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "clicksieve: warning: %s: %s; counters not pinned\n",
			x->instance_dir, strerror(errno));
		return;
	}
	x->stats_pinned = true;
	for (size_t i = 0; i < sizeof(instance_maps) / sizeof(instance_maps[0]); i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(x->skel->obj, instance_maps[i]);
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", x->instance_dir, instance_maps[i]);
		/* Left by an instance that was killed: this interface is ours now. */
		unlink(path);
		if (bpf_map__pin(map, path))
			fprintf(stderr, "clicksieve: warning: pinning %s: %s\n", path, strerror(errno));
	}
}

/* Removes a pin only while it still names our map. */
static void unpin_if_ours(struct bpf_map *map)
{
	struct bpf_map_info ours = {}, pinned = {};
	__u32 len = sizeof(ours);
	const char *path = bpf_map__pin_path(map);
	int fd;

	if (!path || !bpf_map__is_pinned(map))
		return;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(bpf_map__fd(map), &ours, &len) &&
	    (len = sizeof(pinned), !bpf_obj_get_info_by_fd(fd, &pinned, &len)) &&
	    ours.id == pinned.id)
		unlink(path);
	close(fd);
}

static int try_attach(struct cs_xdp *x, __u32 flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
	int fd = bpf_link_create(bpf_program__fd(x->skel->progs.clicksieve_xdp), x->ifindex,
				 BPF_XDP, &opts);

	if (fd < 0)
		return -errno;
	x->link_fd = fd;
	return 0;
}

int cs_xdp_attach(struct cs_xdp *x, char *err, size_t errlen)
{
	int e;

	/*
	 * An unpinned bpf_link: the kernel detaches the program when the last
	 * fd closes, so a crashed or killed daemon leaves nothing behind.
	 */
	if (x->mode == CS_XDP_GENERIC) {
		e = try_attach(x, XDP_FLAGS_SKB_MODE);
		x->attached = CS_XDP_GENERIC;
	} else {
		e = try_attach(x, XDP_FLAGS_DRV_MODE);
		x->attached = CS_XDP_NATIVE;
		if (e && x->mode == CS_XDP_AUTO && e != -EBUSY && e != -EEXIST &&
		    !is_permission_error(-e)) {
			fprintf(stderr, "clicksieve: native XDP on %s failed (%s), trying generic\n",
				x->ifname, strerror(-e));
			e = try_attach(x, XDP_FLAGS_SKB_MODE);
			x->attached = CS_XDP_GENERIC;
		}
	}
	if (e == -EBUSY || e == -EEXIST) {
		set_err(err, errlen, "clicksieve (or another XDP program) is already attached to %s",
			x->ifname);
		return 1;
	}
	if (e && is_permission_error(-e)) {
		set_permission_err(err, errlen, "attaching XDP");
		return 1;
	}
	if (e) {
		set_err(err, errlen, "attaching XDP to %s in %s mode failed: %s", x->ifname,
			cs_xdp_mode_name(x->attached), strerror(-e));
		return 1;
	}
	pin_instance_maps(x);
	return 0;
}

enum cs_xdp_mode cs_xdp_attached_mode(const struct cs_xdp *x)
{
	return x->attached;
}

static int on_event(void *ctx, const struct cs_event *ev, size_t size)
{
	struct cs_xdp *x = ctx;

	return x->fn(x->fn_ctx, ev, (uint64_t)((int64_t)ev->ts_ns + x->mono_to_wall_ns) / 1000);
}

static int on_record(void *ctx, void *data, size_t size)
{
	int rc = cs_event_record_split(data, size, on_event, ctx);

	if (rc == -1) {
		fprintf(stderr, "clicksieve: malformed event record of %zu bytes ignored\n", size);
		return 0;
	}
	return rc;
}

int cs_xdp_events_start(struct cs_xdp *x, cs_xdp_event_fn fn, void *ctx, char *err, size_t errlen)
{
	x->fn = fn;
	x->fn_ctx = ctx;
	x->rb = ring_buffer__new(bpf_map__fd(x->skel->maps.events), on_record, x, NULL);
	if (!x->rb) {
		set_err(err, errlen, "ring buffer: %s", strerror(errno));
		return -1;
	}
	/*
	 * The program wakes us only now and then (CS_EVENTS_WAKEUP_EVERY), so a
	 * timer in the ring's own epoll set makes the returned fd readable at
	 * least every CS_EVENTS_POLL_MS as well.
	 */
	struct itimerspec period = {
		.it_interval.tv_nsec = CS_EVENTS_POLL_MS * 1000000l,
		.it_value.tv_nsec = CS_EVENTS_POLL_MS * 1000000l,
	};
	struct epoll_event ev = { .events = EPOLLIN };

	x->poll_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (x->poll_timer_fd < 0 || timerfd_settime(x->poll_timer_fd, 0, &period, NULL) ||
	    epoll_ctl(ring_buffer__epoll_fd(x->rb), EPOLL_CTL_ADD, x->poll_timer_fd, &ev)) {
		set_err(err, errlen, "ring buffer poll timer: %s", strerror(errno));
		return -1;
	}
	return ring_buffer__epoll_fd(x->rb);
}

int cs_xdp_events_consume(struct cs_xdp *x)
{
	uint64_t expirations;

	/* Rearms the timer's readiness; EAGAIN when it has not fired. */
	if (read(x->poll_timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return -errno;
	return ring_buffer__consume(x->rb);
}

/*
 * Sums one key of a per-CPU array whose value is n_words u64 counters
 * (struct cs_counters, struct cs_provider_stats) over the CPUs.
 */
static int percpu_sum(int fd, __u32 key, __u64 *sum, size_t n_words)
{
	int ncpus = libbpf_num_possible_cpus();
	__u64 *percpu;
	int ret = 0;

	memset(sum, 0, n_words * sizeof(*sum));
	if (ncpus < 0)
		return ncpus;
	percpu = calloc((size_t)ncpus * n_words, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, percpu)) {
		ret = -errno;
		goto out;
	}
	for (int cpu = 0; cpu < ncpus; cpu++)
		for (size_t i = 0; i < n_words; i++)
			sum[i] += percpu[cpu * n_words + i];
out:
	free(percpu);
	return ret;
}

int cs_counters_read(int counters_fd, struct cs_counters *sum)
{
	return percpu_sum(counters_fd, 0, sum->v, CS_CNT__MAX);
}

_Static_assert(sizeof(struct cs_provider_stats) == 3 * sizeof(__u64),
	       "provider stats are three u64 counters");

int cs_provider_stats_read(int provider_stats_fd, uint16_t id, struct cs_provider_stats *sum)
{
	__u64 words[3];
	int ret = percpu_sum(provider_stats_fd, id, words, 3);

	memcpy(sum, words, sizeof(*sum));
	return ret;
}

const char *cs_xdp_provider_name(const struct cs_xdp *x, uint16_t id, char buf[CS_PROVIDER_NAME_LEN])
{
	struct cs_provider_name value;
	__u32 key = id;

	buf[0] = '\0';
	if (id && !bpf_map_lookup_elem(bpf_map__fd(x->skel->maps.providers), &key, &value)) {
		memcpy(buf, value.name, CS_PROVIDER_NAME_LEN);
		buf[CS_PROVIDER_NAME_LEN - 1] = '\0';
	}
	return buf;
}

uint64_t cs_xdp_now_us(const struct cs_xdp *x)
{
	struct timespec mono;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	return (uint64_t)(mono.tv_sec * 1000000000ll + mono.tv_nsec + x->mono_to_wall_ns) / 1000;
}

void cs_xdp_close(struct cs_xdp *x)
{
	if (!x)
		return;
	ring_buffer__free(x->rb);
	if (x->poll_timer_fd >= 0)
		close(x->poll_timer_fd);
	if (x->link_fd >= 0)
		close(x->link_fd);
	if (x->stats_pinned) {
		for (size_t i = 0; i < sizeof(instance_maps) / sizeof(instance_maps[0]); i++)
			unpin_if_ours(bpf_object__find_map_by_name(x->skel->obj, instance_maps[i]));
		rmdir(x->instance_dir);
	}
	clicksieve__destroy(x->skel);
	free(x);
}
