/*
 * Range matcher and kernel sync benchmark.
 *
 * usage: bench_ranges LIST [TOTAL]
 *
 * Loads LIST (padded with random IPv4 /20-/32 and IPv6 /32-/64 prefixes up
 * to TOTAL when given), then measures on one core (thread CPU time, best
 * of 3 rounds of 4M): userspace lookups/s of
 * random addresses and of addresses inside listed ranges, per family; the
 * time of a full sync into fresh unpinned LPM maps (needs root); and of a
 * re-sync after 1% of the prefixes were removed, 1% changed provider and
 * 1% added. Prints one "name value unit" row each.
 */
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clicksieve_abi.h"
#include "ranges.h"
#include "ranges_sync.h"

#define LOOKUPS (1u << 22)

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static double clock_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* Lookups count this thread's CPU time, so other load on the machine does not. */
static double cpu_now(void)
{
	return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		return NULL;
	do {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			char *b = realloc(buf, cap + 1);

			if (!b) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = b;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * Appends random prefixes until the text holds total lines, inside
 * 240.0.0.0/4 and 3000::/4 where no feed has any, under one provider so
 * that a repeated prefix merges instead of conflicting.
 */
static char *pad_list(char *text, size_t *len, size_t lines, size_t total)
{
	size_t cap = *len + (total > lines ? total - lines : 0) * 64 + 1;
	char *t = realloc(text, cap);

	if (!t)
		return NULL;
	for (size_t i = lines; i < total; i++) {
		if (i % 4) {
			unsigned plen = 20 + rng() % 13;
			uint32_t a = (0xf0000000u | ((uint32_t)rng() >> 4)) & ~0u << (32 - plen);

			*len += snprintf(t + *len, cap - *len, "%u.%u.%u.%u/%u pad\n", a >> 24,
					 a >> 16 & 0xff, a >> 8 & 0xff, a & 0xff, plen);
		} else {
			unsigned plen = 32 + rng() % 33;
			uint64_t hi = (0x3000000000000000ull | (rng() >> 4)) & ~0ull << (64 - plen);

			*len += snprintf(t + *len, cap - *len, "%x:%x:%x:%x::/%u pad\n",
					 (unsigned)(hi >> 48), (unsigned)(hi >> 32 & 0xffff),
					 (unsigned)(hi >> 16 & 0xffff), (unsigned)(hi & 0xffff), plen);
		}
	}
	return t;
}

/* The 1% change: every 100th line removed, every 100th (offset 50) changed, 1% added. */
static char *churn_list(const char *text, size_t len, size_t lines, size_t *out_len)
{
	size_t cap = len + lines / 100 * 48 + lines + 64, n = 0, line = 0;
	char *out = malloc(cap);
	const char *p = text;

	if (!out)
		return NULL;
	while (p < text + len) {
		const char *nl = memchr(p, '\n', text + len - p);
		size_t l = nl ? (size_t)(nl - p) : (size_t)(text + len - p);

		if (line % 100 == 50) {
			const char *sp = memchr(p, ' ', l);

			n += snprintf(out + n, cap - n, "%.*s churned\n", sp ? (int)(sp - p) : (int)l, p);
		} else if (line % 100) {
			memcpy(out + n, p, l);
			out[n + l] = '\n';
			n += l + 1;
		}
		line++;
		p += l + 1;
	}
	/* 100.64.0.0/10 (shared address space) is in no cloud feed. */
	for (size_t i = 0; i < lines / 100; i++)
		n += snprintf(out + n, cap - n, "100.%zu.%zu.0/24 churned\n", 64 + i / 256 % 64, i % 256);
	*out_len = n;
	return out;
}

static void random_inside(const struct cs_ranges *r, struct cs_addr *a, int family)
{
	size_t first = family == 4 ? 0 : cs_ranges_count(r, 4), n = cs_ranges_count(r, family);
	const struct cs_range *rg = cs_ranges_at(r, first + rng() % n);
	unsigned max = family == 4 ? 32 : 128;

	*a = rg->prefix;
	for (unsigned bit = rg->plen; bit < max; bit++)
		if (rng() & 1)
			a->bytes[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
}

static void bench_lookups(const struct cs_ranges *r, const char *name, int family, bool inside)
{
	struct cs_addr *addrs = calloc(LOOKUPS, sizeof(*addrs));
	size_t hits = 0;
	double best = 0;

	if (!addrs || !cs_ranges_count(r, family))
		goto out;
	for (size_t i = 0; i < LOOKUPS; i++) {
		if (inside) {
			random_inside(r, &addrs[i], family);
			continue;
		}
		addrs[i].family = (uint8_t)family;
		for (int b = 0; b < (family == 4 ? 4 : 16); b++)
			addrs[i].bytes[b] = (uint8_t)rng();
		if (family == 6)   /* global unicast, where the listed ranges live */
			addrs[i].bytes[0] = 0x20 | (addrs[i].bytes[0] & 0x1f);
	}
	for (int round = 0; round < 3; round++) {
		double t0 = cpu_now();

		hits = 0;
		for (size_t i = 0; i < LOOKUPS; i++)
			hits += cs_ranges_lookup(r, &addrs[i]) != NULL;
		double rate = LOOKUPS / (cpu_now() - t0);

		if (rate > best)
			best = rate;
	}
	printf("%-34s %12.1f M/s   (%.1f%% matched)\n", name, best / 1e6, 100.0 * hits / LOOKUPS);
out:
	free(addrs);
}

static int bench_sync(const struct cs_ranges *full, const struct cs_ranges *churned)
{
	LIBBPF_OPTS(bpf_map_create_opts, lpm, .map_flags = BPF_F_NO_PREALLOC);
	int v4 = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "ranges_v4", sizeof(struct cs_lpm_v4),
				sizeof(struct cs_range_value), CS_MAX_RANGES_V4, &lpm);
	int v6 = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "ranges_v6", sizeof(struct cs_lpm_v6),
				sizeof(struct cs_range_value), CS_MAX_RANGES_V6, &lpm);
	int prov = bpf_map_create(BPF_MAP_TYPE_ARRAY, "providers", sizeof(__u32),
				  sizeof(struct cs_provider_name), CS_MAX_PROVIDERS, NULL);
	struct cs_sync_stats st;
	char err[256];
	int ret = -1;
	double t0;

	if (v4 < 0 || v6 < 0 || prov < 0) {
		printf("%-34s %12s      (creating maps needs root: skipped)\n", "sync", "-");
		ret = 0;
		goto out;
	}
	t0 = now();
	if (cs_ranges_sync_fds(full, v4, v6, prov, 0, &st, err, sizeof(err)))
		goto fail;
	printf("%-34s %12.1f ms    (%zu added)\n", "sync: full, into empty maps", (now() - t0) * 1e3,
	       st.added);
	t0 = now();
	if (cs_ranges_sync_fds(full, v4, v6, prov, 0, &st, err, sizeof(err)))
		goto fail;
	printf("%-34s %12.1f ms    (%zu unchanged)\n", "sync: again, nothing changed",
	       (now() - t0) * 1e3, st.unchanged);
	t0 = now();
	if (cs_ranges_sync_fds(churned, v4, v6, prov, 0, &st, err, sizeof(err)))
		goto fail;
	printf("%-34s %12.1f ms    (%zu added, %zu changed, %zu removed)\n", "sync: 1% churn",
	       (now() - t0) * 1e3, st.added, st.changed, st.removed);
	ret = 0;
	goto out;
fail:
	fprintf(stderr, "bench_ranges: sync: %s\n", err);
out:
	if (v4 >= 0)
		close(v4);
	if (v6 >= 0)
		close(v6);
	if (prov >= 0)
		close(prov);
	return ret;
}

int main(int argc, char **argv)
{
	struct cs_ranges *r = NULL, *churned = NULL;
	char *text = NULL, *churn_text = NULL, err[512];
	size_t len = 0, churn_len = 0, lines = 0, total;
	int ret = 1;
	double t0;

	if (argc < 2 || argc > 3 || !strcmp(argv[1], "--help")) {
		fprintf(argc == 2 ? stdout : stderr, "usage: bench_ranges LIST [TOTAL]\n");
		return argc == 2 ? 0 : 2;
	}
	text = read_all(argv[1], &len);
	if (!text) {
		perror(argv[1]);
		return 1;
	}
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	total = argc == 3 ? strtoul(argv[2], NULL, 10) : lines;
	if (total > lines)
		text = pad_list(text, &len, lines, total);
	churn_text = text ? churn_list(text, len, total > lines ? total : lines, &churn_len) : NULL;
	r = cs_ranges_new();
	churned = cs_ranges_new();
	if (!churn_text || !r || !churned) {
		fprintf(stderr, "bench_ranges: out of memory\n");
		goto out;
	}
	t0 = now();
	if (cs_ranges_load_buffer(r, argv[1], text, len, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	printf("%-34s %12zu prefixes (IPv4 %zu, IPv6 %zu)\n", "set", cs_ranges_count(r, 0),
	       cs_ranges_count(r, 4), cs_ranges_count(r, 6));
	printf("%-34s %12.1f ms\n", "parse + build matcher", (now() - t0) * 1e3);
	if (cs_ranges_load_buffer(churned, "churned", churn_text, churn_len, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	bench_lookups(r, "lookup IPv4, random addresses", 4, false);
	bench_lookups(r, "lookup IPv4, inside listed ranges", 4, true);
	bench_lookups(r, "lookup IPv6, random 2000::/3", 6, false);
	bench_lookups(r, "lookup IPv6, inside listed ranges", 6, true);
	if (bench_sync(r, churned))
		goto out;
	ret = 0;
out:
	cs_ranges_free(r);
	cs_ranges_free(churned);
	free(text);
	free(churn_text);
	return ret;
}
