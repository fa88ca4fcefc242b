/* Writes a range set into the kernel LPM maps by difference (see ranges_sync.h). */
#include "ranges_sync.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clicksieve_abi.h"

#define KEY_MAX sizeof(struct cs_lpm_v6)

/* One LPM entry, key bytes as the kernel holds them. */
struct kentry {
	uint8_t key[KEY_MAX];           /* zero past the family's key size */
	struct cs_range_value value;
	bool seen;                      /* old entry still listed */
};

/* Entries to write or delete, laid out for the batch calls. */
struct batch {
	uint8_t *keys;
	struct cs_range_value *values;
	size_t count, cap;
	size_t key_size;
};

static int batch_add(struct batch *b, const uint8_t *key, const struct cs_range_value *value)
{
	if (b->count == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		uint8_t *k = realloc(b->keys, cap * b->key_size);

		if (!k)
			return -1;
		b->keys = k;
		struct cs_range_value *v = realloc(b->values, cap * sizeof(*v));

		if (!v)
			return -1;
		b->values = v;
		b->cap = cap;
	}
	memcpy(b->keys + b->count * b->key_size, key, b->key_size);
	if (value)
		b->values[b->count] = *value;
	b->count++;
	return 0;
}

static void batch_free(struct batch *b)
{
	free(b->keys);
	free(b->values);
}

/* Kernels without batch support for a map type say so with these. */
static bool batch_unsupported(int err)
{
	return err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUP || err == -524;
}

static int write_entries(int fd, const struct batch *b, const char *map, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	__u32 done = b->count;
	int ret = 0;

	if (b->count == 0)
		return 0;
	ret = bpf_map_update_batch(fd, b->keys, b->values, &done, &opts);
	if (ret == 0)
		return 0;
	if (!batch_unsupported(ret) || done > b->count)
		done = 0;
	for (size_t i = done; i < b->count; i++) {
		ret = bpf_map_update_elem(fd, b->keys + i * b->key_size, &b->values[i], BPF_ANY);
		if (ret) {
			snprintf(err, errlen, "updating %s: %s%s", map, strerror(-ret),
				 ret == -E2BIG || ret == -ENOSPC ? " (map full)" : "");
			return -1;
		}
	}
	return 0;
}

static int delete_entries(int fd, const struct batch *b, const char *map, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 done = b->count;
	int ret;

	if (b->count == 0)
		return 0;
	ret = bpf_map_delete_batch(fd, b->keys, &done, &opts);
	if (ret == 0)
		return 0;
	if (!batch_unsupported(ret) || done > b->count)
		done = 0;
	for (size_t i = done; i < b->count; i++) {
		ret = bpf_map_delete_elem(fd, b->keys + i * b->key_size);
		if (ret && ret != -ENOENT) {
			snprintf(err, errlen, "deleting from %s: %s", map, strerror(-ret));
			return -1;
		}
	}
	return 0;
}

/* Entries read from one map, with a hash index on their keys. */
struct kmap {
	struct kentry *entries;
	size_t count, cap;
	uint32_t *slots;                /* entry index + 1, 0 = empty */
	size_t mask;                    /* slot count - 1 */
};

static size_t key_hash(const uint8_t key[KEY_MAX])
{
	uint64_t a, b;
	uint32_t c;

	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	memcpy(&c, key + 16, 4);
	a = (a ^ b * 0x9e3779b97f4a7c15ull ^ (uint64_t)c << 29) * 0xff51afd7ed558ccdull;
	return (size_t)(a ^ a >> 31);
}

/* Slot holding key, or the empty one where it belongs. */
static size_t kmap_slot(const struct kmap *km, const uint8_t key[KEY_MAX])
{
	size_t s = key_hash(key) & km->mask;

	while (km->slots[s] && memcmp(km->entries[km->slots[s] - 1].key, key, KEY_MAX))
		s = (s + 1) & km->mask;
	return s;
}

static struct kentry *kmap_find(const struct kmap *km, const uint8_t key[KEY_MAX])
{
	size_t s;

	if (!km->slots)
		return NULL;
	s = kmap_slot(km, key);
	return km->slots[s] ? &km->entries[km->slots[s] - 1] : NULL;
}

/* Indexes the entries, dropping repeats. */
static int kmap_index(struct kmap *km)
{
	size_t n = 64, kept = 0;

	while (n < km->count * 2)
		n *= 2;
	km->slots = calloc(n, sizeof(*km->slots));
	if (!km->slots)
		return -1;
	km->mask = n - 1;
	for (size_t i = 0; i < km->count; i++) {
		size_t s = kmap_slot(km, km->entries[i].key);

		if (km->slots[s])
			continue;
		km->entries[kept] = km->entries[i];
		km->slots[s] = (uint32_t)++kept;
	}
	km->count = kept;
	return 0;
}

static void kmap_free(struct kmap *km)
{
	free(km->entries);
	free(km->slots);
	memset(km, 0, sizeof(*km));
}

/* Appends one entry read from the kernel. */
static int kmap_add(struct kmap *km, const uint8_t *key, size_t key_size,
		    const struct cs_range_value *value)
{
	if (km->count == km->cap) {
		size_t c = km->cap ? km->cap * 2 : 1024;
		struct kentry *e = realloc(km->entries, c * sizeof(*e));

		if (!e)
			return -1;
		km->entries = e;
		km->cap = c;
	}
	memset(&km->entries[km->count], 0, sizeof(*km->entries));
	memcpy(km->entries[km->count].key, key, key_size);
	km->entries[km->count].value = *value;
	km->count++;
	return 0;
}

#define READ_CHUNK 8192
#define READ_CHUNK_SPLIT 1024           /* reading up to a key: overshoot little */

/* A part of an LPM map to read: after `from` (NULL: the first key) up to
 * `until` (NULL: the end; else reading stops within a chunk past it). */
struct read_part {
	int fd;
	size_t key_size;
	const char *map;
	const uint8_t *from, *until;
	struct kmap *km;
};

/*
 * One BPF_MAP_LOOKUP_BATCH call per chunk of entries (LPM tries have it
 * since 5.6 through the generic implementation): a few syscalls instead of
 * two per entry. A `from` key missing from the map makes the kernel start
 * over from the first key: more work, same result. Returns 0, 1 when the
 * kernel has no batch lookup for the map (nothing was read), or a negative
 * errno.
 */
static int read_lpm_batch(const struct read_part *part)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	size_t key_size = part->key_size, chunk = part->until ? READ_CHUNK_SPLIT : READ_CHUNK;
	uint8_t *keys = malloc(chunk * key_size);
	struct cs_range_value *values = malloc(chunk * sizeof(*values));
	uint8_t in[KEY_MAX], out[KEY_MAX];
	bool first_call = true, reached = false;
	int ret = -ENOMEM;

	if (!keys || !values)
		goto out;
	if (part->from)
		memcpy(in, part->from, key_size);
	while (!reached) {
		__u32 count = (__u32)chunk;

		ret = bpf_map_lookup_batch(part->fd, part->from || !first_call ? in : NULL, out,
					   keys, values, &count, &opts);
		if (ret == -EINTR)      /* an entry vanished under a concurrent writer: retry */
			continue;
		if (ret && ret != -ENOENT) {
			if (first_call && batch_unsupported(ret))
				ret = 1;
			goto out;
		}
		first_call = false;
		for (__u32 i = 0; i < count; i++) {
			if (kmap_add(part->km, keys + i * key_size, key_size, &values[i])) {
				ret = -ENOMEM;
				goto out;
			}
			reached |= part->until && !memcmp(keys + i * key_size, part->until, key_size);
		}
		if (ret == -ENOENT || count == 0)
			break;
		memcpy(in, out, key_size);
	}
	ret = 0;
out:
	free(keys);
	free(values);
	return ret;
}

/* The walk that works on every kernel: get_next_key and a lookup per entry. */
static int read_lpm_walk(int fd, size_t key_size, struct kmap *km)
{
	uint8_t key[KEY_MAX], next[KEY_MAX];
	struct cs_range_value value;
	void *prev = NULL;
	int ret;

	while ((ret = bpf_map_get_next_key(fd, prev, next)) == 0) {
		ret = bpf_map_lookup_elem(fd, next, &value);
		if (ret == 0 && kmap_add(km, next, key_size, &value))
			return -ENOMEM;
		if (ret && ret != -ENOENT)      /* ENOENT: deleted meanwhile */
			return ret;
		memcpy(key, next, key_size);
		prev = key;
	}
	return ret == -ENOENT ? 0 : ret;
}

/* Parts read one after the other by one thread. */
struct read_job {
	const struct read_part *parts;
	size_t count;
	size_t failed;                  /* the part that failed */
	int ret;
};

static void *read_job_main(void *arg)
{
	struct read_job *job = arg;

	job->ret = 0;
	for (job->failed = 0; job->failed < job->count && !job->ret; job->failed++)
		job->ret = read_lpm_batch(&job->parts[job->failed]);
	if (job->ret)
		job->failed--;
	return NULL;
}

/*
 * Reads both LPM maps, indexed, without repeats (a walk restarts from the
 * first key when a concurrent writer deletes its cursor). The kernel walks
 * its trie from the root for every entry, which makes these reads most of a
 * sync: two threads share them, the IPv4 map split at split_key (a key of
 * the set, NULL: not split) when it holds most entries.
 */
static int read_maps(struct read_part maps[2], const uint8_t *split_key, char *err, size_t errlen)
{
	struct kmap upper = { 0 };
	struct read_part parts[3] = { maps[0], maps[0], maps[1] };
	struct read_job jobs[2] = { { .parts = parts, .count = 1 }, { .parts = parts + 1, .count = 2 } };
	bool threaded, fallback = false;
	pthread_t thread;
	int ret = 0;

	if (split_key) {
		parts[0].until = split_key;
		parts[1].from = split_key;
		parts[1].km = &upper;
	} else {
		jobs[1] = (struct read_job){ .parts = parts + 2, .count = 1 };
	}
	threaded = pthread_create(&thread, NULL, read_job_main, &jobs[1]) == 0;
	read_job_main(&jobs[0]);
	if (threaded)
		pthread_join(thread, NULL);
	else
		read_job_main(&jobs[1]);
	for (int j = 0; j < 2 && !ret; j++) {
		ret = jobs[j].ret;
		if (ret == 1) {
			fallback = true;
			ret = 0;
		} else if (ret) {
			snprintf(err, errlen, "reading %s: %s", jobs[j].parts[jobs[j].failed].map,
				 strerror(-ret));
		}
	}
	for (size_t i = 0; i < upper.count && !ret; i++)
		if (kmap_add(maps[0].km, upper.entries[i].key, maps[0].key_size, &upper.entries[i].value))
			ret = -ENOMEM;
	for (int m = 0; m < 2 && !ret; m++) {
		if (fallback) {
			maps[m].km->count = 0;
			ret = read_lpm_walk(maps[m].fd, maps[m].key_size, maps[m].km);
			if (ret)
				snprintf(err, errlen, "reading %s: %s", maps[m].map, strerror(-ret));
		}
		if (!ret && kmap_index(maps[m].km))
			ret = -ENOMEM;
	}
	if (ret == -ENOMEM)
		snprintf(err, errlen, "reading the range maps: out of memory");
	kmap_free(&upper);
	return ret ? -1 : 0;
}

static int check_map(int fd, enum bpf_map_type type, __u32 key_size, __u32 value_size,
		     const char *map, __u32 *max_entries, char *err, size_t errlen)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		snprintf(err, errlen, "%s: not a BPF map: %s", map, strerror(errno));
		return -1;
	}
	if (info.type != type || info.key_size != key_size || info.value_size != value_size) {
		snprintf(err, errlen, "%s: unexpected map layout (type %u, key %u, value %u bytes; "
			 "want type %u, key %u, value %u)", map, info.type, info.key_size,
			 info.value_size, type, key_size, value_size);
		return -1;
	}
	if (max_entries)
		*max_entries = info.max_entries;
	return 0;
}

int cs_ranges_read_provider_names(int providers_fd, char names[][CS_PROVIDER_NAME_LEN],
				  char *err, size_t errlen)
{
	struct cs_provider_name v;
	__u32 max;

	if (check_map(providers_fd, BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(v), CS_MAP_PROVIDERS,
		      &max, err, errlen))
		return -1;
	for (__u32 id = 0; id < CS_MAX_PROVIDERS; id++) {
		names[id][0] = '\0';
		if (id >= max)
			continue;
		int ret = bpf_map_lookup_elem(providers_fd, &id, &v);

		if (ret) {
			snprintf(err, errlen, "reading %s: %s", CS_MAP_PROVIDERS, strerror(-ret));
			return -1;
		}
		v.name[CS_PROVIDER_NAME_LEN - 1] = '\0';
		strcpy(names[id], v.name);
	}
	return 0;
}

static int write_name(int fd, __u32 id, const char *name, char *err, size_t errlen)
{
	struct cs_provider_name v = { 0 };
	int ret;

	snprintf(v.name, sizeof(v.name), "%s", name);
	ret = bpf_map_update_elem(fd, &id, &v, BPF_ANY);
	if (ret)
		snprintf(err, errlen, "writing %s[%u]: %s", CS_MAP_PROVIDERS, id, strerror(-ret));
	return ret ? -1 : 0;
}

struct family_sync {
	int fd;
	int family;
	const char *map;
	size_t key_size;
	struct kmap old;
	struct batch put;               /* additions and changes */
	struct batch put_deferred;      /* same, for providers waiting for an id */
	struct batch del;
};

static void lpm_key(const struct cs_range *rg, uint8_t key[KEY_MAX])
{
	__u32 plen = rg->plen;

	memset(key, 0, KEY_MAX);
	memcpy(key, &plen, sizeof(plen));
	memcpy(key + sizeof(plen), rg->prefix.bytes, rg->prefix.family == 4 ? 4 : 16);
}

/*
 * Sorts the set's ranges of one family into put / put_deferred / del.
 * Deferred values carry the set's provider id; the kernel's is not known yet.
 * Old entries of kernel ids outside listed[] stay when keep_unlisted.
 */
static int plan_family(const struct cs_ranges *r, struct family_sync *fs, const uint16_t *kid,
		       const bool *listed, bool keep_unlisted, struct cs_sync_stats *st)
{
	size_t n = cs_ranges_count(r, 0);

	for (size_t i = 0; i < n; i++) {
		const struct cs_range *rg = cs_ranges_at(r, i);
		struct kentry probe;
		struct cs_range_value v;
		bool deferred;

		if (rg->prefix.family != fs->family)
			continue;
		lpm_key(rg, probe.key);
		v.provider_id = kid[rg->provider_id];
		v.flags = rg->flags;
		deferred = v.provider_id == 0;
		struct kentry *old = kmap_find(&fs->old, probe.key);

		if (old) {
			old->seen = true;
			if (!deferred && old->value.provider_id == v.provider_id &&
			    old->value.flags == v.flags) {
				st->unchanged++;
				continue;
			}
			st->changed++;
		} else {
			st->added++;
		}
		if (deferred)
			v.provider_id = rg->provider_id;
		if (batch_add(deferred ? &fs->put_deferred : &fs->put, probe.key, &v))
			return -1;
	}
	for (size_t i = 0; i < fs->old.count; i++) {
		const struct kentry *e = &fs->old.entries[i];
		uint16_t id = e->value.provider_id;

		if (e->seen)
			continue;
		if (keep_unlisted && (id == 0 || id >= CS_MAX_PROVIDERS || !listed[id])) {
			st->kept++;
			continue;
		}
		st->removed++;
		if (batch_add(&fs->del, e->key, NULL))
			return -1;
	}
	return 0;
}

int cs_ranges_sync_fds(const struct cs_ranges *r, int v4_fd, int v6_fd, int providers_fd,
		       unsigned flags, struct cs_sync_stats *st, char *err, size_t errlen)
{
	struct family_sync fam[2] = {
		{ .fd = v4_fd, .family = 4, .map = CS_MAP_RANGES_V4, .key_size = sizeof(struct cs_lpm_v4) },
		{ .fd = v6_fd, .family = 6, .map = CS_MAP_RANGES_V6, .key_size = sizeof(struct cs_lpm_v6) },
	};
	char knames[CS_MAX_PROVIDERS][CS_PROVIDER_NAME_LEN];
	bool taken[CS_MAX_PROVIDERS] = { true };        /* id 0 is "no match" */
	bool listed[CS_MAX_PROVIDERS] = { true };
	bool keep_unlisted = flags & CS_SYNC_KEEP_UNLISTED;
	struct cs_sync_stats local;
	bool deferred_any = false;
	unsigned nprov = cs_ranges_provider_count(r);
	__u32 max_ids;
	int ret = -1;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (flags & ~CS_SYNC_KEEP_UNLISTED) {
		snprintf(err, errlen, "unknown sync flags 0x%x", flags);
		goto out;
	}
	for (int f = 0; f < 2; f++) {
		fam[f].put.key_size = fam[f].put_deferred.key_size = fam[f].del.key_size = fam[f].key_size;
		if (check_map(fam[f].fd, BPF_MAP_TYPE_LPM_TRIE, fam[f].key_size,
			      sizeof(struct cs_range_value), fam[f].map, NULL, err, errlen))
			goto out;
	}
	if (check_map(providers_fd, BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct cs_provider_name),
		      CS_MAP_PROVIDERS, &max_ids, err, errlen) ||
	    cs_ranges_read_provider_names(providers_fd, knames, err, errlen))
		goto out;
	if (max_ids > CS_MAX_PROVIDERS)
		max_ids = CS_MAX_PROVIDERS;
	struct read_part maps[2];
	size_t n4 = cs_ranges_count(r, 4), half = cs_ranges_count(r, 0) / 2;
	uint8_t split_key[KEY_MAX];

	for (int f = 0; f < 2; f++)
		maps[f] = (struct read_part){ .fd = fam[f].fd, .key_size = fam[f].key_size,
					      .map = fam[f].map, .km = &fam[f].old };
	/* The set says roughly how the kernel's entries divide. */
	if (n4 > half + READ_CHUNK_SPLIT)
		lpm_key(cs_ranges_at(r, half), split_key);
	if (read_maps(maps, n4 > half + READ_CHUNK_SPLIT ? split_key : NULL, err, errlen))
		goto out;

	/*
	 * Existing names keep their ids; new ones take ids that neither a name
	 * nor a prefix in the maps uses (an operator may use an id unnamed).
	 */
	for (unsigned k = 1; k < max_ids; k++)
		taken[k] = knames[k][0] != '\0';
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i < fam[f].old.count; i++)
			if (fam[f].old.entries[i].value.provider_id < CS_MAX_PROVIDERS)
				taken[fam[f].old.entries[i].value.provider_id] = true;
	for (unsigned id = 1; id <= nprov; id++) {
		const char *name = cs_ranges_provider_name(r, (uint16_t)id);

		for (unsigned k = 1; k < max_ids && !st->kernel_id[id]; k++)
			if (!strcmp(knames[k], name))
				st->kernel_id[id] = (uint16_t)k;
		listed[st->kernel_id[id]] = true;
	}
	for (unsigned id = 1, k = 1; id <= nprov; id++) {
		if (st->kernel_id[id])
			continue;
		while (k < max_ids && taken[k])
			k++;
		if (k == max_ids) {
			deferred_any = true;
			continue;
		}
		taken[k] = true;
		st->kernel_id[id] = (uint16_t)k;
		listed[k] = true;
		if (write_name(providers_fd, k, cs_ranges_provider_name(r, (uint16_t)id), err, errlen))
			goto out;
		st->providers_added++;
	}

	for (int f = 0; f < 2; f++) {
		if (plan_family(r, &fam[f], st->kernel_id, listed, keep_unlisted, st)) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	for (int f = 0; f < 2; f++)
		if (write_entries(fam[f].fd, &fam[f].put, fam[f].map, err, errlen))
			goto out;
	for (int f = 0; f < 2; f++)
		if (delete_entries(fam[f].fd, &fam[f].del, fam[f].map, err, errlen))
			goto out;

	if (deferred_any) {
		/*
		 * The table was full: reuse the ids of names no longer listed.
		 * Their prefixes are gone now, except those the new set gives to
		 * a waiting provider, which carry the old id until rewritten
		 * just below, and those kept as unlisted, whose ids stay theirs.
		 */
		bool in_use[CS_MAX_PROVIDERS];

		memcpy(in_use, listed, sizeof(in_use));
		for (int f = 0; f < 2 && keep_unlisted; f++)
			for (size_t i = 0; i < fam[f].old.count; i++) {
				const struct kentry *e = &fam[f].old.entries[i];

				if (!e->seen && e->value.provider_id < CS_MAX_PROVIDERS)
					in_use[e->value.provider_id] = true;
			}
		for (unsigned id = 1, k = 1; id <= nprov; id++) {
			if (st->kernel_id[id])
				continue;
			while (k < max_ids && in_use[k])
				k++;
			if (k == max_ids) {
				snprintf(err, errlen, "%s holds %u ids, too few for %u providers%s",
					 CS_MAP_PROVIDERS, max_ids - 1, nprov,
					 keep_unlisted ? " and the unlisted ones kept" : "");
				goto out;
			}
			in_use[k] = true;
			st->kernel_id[id] = (uint16_t)k;
			if (write_name(providers_fd, k, cs_ranges_provider_name(r, (uint16_t)id),
				       err, errlen))
				goto out;
			st->providers_added++;
		}
		for (int f = 0; f < 2; f++) {
			struct batch *b = &fam[f].put_deferred;

			/* Deferred values hold the set's provider id until now. */
			for (size_t i = 0; i < b->count; i++)
				b->values[i].provider_id = st->kernel_id[b->values[i].provider_id];
			if (write_entries(fam[f].fd, b, fam[f].map, err, errlen))
				goto out;
		}
	}
	ret = 0;
out:
	for (int f = 0; f < 2; f++) {
		kmap_free(&fam[f].old);
		batch_free(&fam[f].put);
		batch_free(&fam[f].put_deferred);
		batch_free(&fam[f].del);
	}
	return ret;
}

int cs_ranges_open_pinned(const char *pin_dir, int fds[3], char *err, size_t errlen)
{
	static const char *const maps[3] = { CS_MAP_RANGES_V4, CS_MAP_RANGES_V6, CS_MAP_PROVIDERS };
	char path[4096];

	if (!pin_dir)
		pin_dir = CS_PIN_DIR;
	for (int i = 0; i < 3; i++)
		fds[i] = -1;
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, maps[i]);
		fds[i] = bpf_obj_get(path);
		if (fds[i] < 0) {
			int e = errno;

			if (e == ENOENT)
				snprintf(err, errlen, "%s: not pinned; no clicksieve instance has "
					 "pinned its maps under %s (start `clicksieve run` first)",
					 path, pin_dir);
			else
				snprintf(err, errlen, "%s: %s%s", path, strerror(e),
					 e == EPERM || e == EACCES ? " (run as root)" : "");
			for (int j = 0; j < i; j++)
				close(fds[j]);
			fds[0] = fds[1] = fds[2] = -1;
			return -1;
		}
	}
	return 0;
}

int cs_ranges_sync_pinned(const struct cs_ranges *r, const char *pin_dir,
			  struct cs_sync_stats *st, char *err, size_t errlen)
{
	int fds[3], ret;

	if (cs_ranges_open_pinned(pin_dir, fds, err, errlen))
		return -1;
	ret = cs_ranges_sync_fds(r, fds[0], fds[1], fds[2], 0, st, err, errlen);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	return ret;
}

int cs_ranges_read_kernel(struct cs_ranges *r, int v4_fd, int v6_fd, int providers_fd,
			  const char *source, char *err, size_t errlen)
{
	char names[CS_MAX_PROVIDERS][CS_PROVIDER_NAME_LEN];
	struct kmap km[2] = { { 0 } };
	struct read_part maps[2] = {
		{ .fd = v4_fd, .key_size = sizeof(struct cs_lpm_v4), .map = CS_MAP_RANGES_V4, .km = &km[0] },
		{ .fd = v6_fd, .key_size = sizeof(struct cs_lpm_v6), .map = CS_MAP_RANGES_V6, .km = &km[1] },
	};
	char *text = NULL;
	size_t text_len = 0;
	FILE *f = NULL;
	int ret = -1;

	for (int fam = 0; fam < 2; fam++)
		if (check_map(maps[fam].fd, BPF_MAP_TYPE_LPM_TRIE, maps[fam].key_size,
			      sizeof(struct cs_range_value), maps[fam].map, NULL, err, errlen))
			goto out;
	if (cs_ranges_read_provider_names(providers_fd, names, err, errlen) ||
	    read_maps(maps, NULL, err, errlen))
		goto out;
	f = open_memstream(&text, &text_len);
	if (!f) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int fam = 0; fam < 2; fam++) {
		size_t key_size = maps[fam].key_size;

		for (size_t i = 0; i < km[fam].count; i++) {
			const struct kentry *e = &km[fam].entries[i];
			struct cs_addr a = { .family = fam ? 6 : 4 };
			char buf[CS_ADDR_STRLEN];
			uint16_t id = e->value.provider_id;
			__u32 plen;

			memcpy(&plen, e->key, sizeof(plen));
			memcpy(a.bytes, e->key + sizeof(plen), key_size - sizeof(plen));
			fprintf(f, "%s/%u ", cs_addr_format(&a, buf), plen);
			if (id < CS_MAX_PROVIDERS && names[id][0])
				fprintf(f, "%s", names[id]);
			else
				fprintf(f, "id-%u", id);
			fprintf(f, "%s\n", cs_ranges_flags_text(e->value.flags));
		}
	}
	if (fclose(f)) {
		f = NULL;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	f = NULL;
	ret = cs_ranges_load_buffer(r, source, text, text_len, err, errlen);
out:
	if (f)
		fclose(f);
	kmap_free(&km[0]);
	kmap_free(&km[1]);
	free(text);
	return ret;
}
