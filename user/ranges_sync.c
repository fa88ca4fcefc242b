/* Writes a range set into the kernel LPM maps by difference (see ranges_sync.h). */
#include "ranges_sync.h"

#include <bpf/bpf.h>
#include <errno.h>
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

static int kentry_cmp(const void *pa, const void *pb)
{
	return memcmp(((const struct kentry *)pa)->key, ((const struct kentry *)pb)->key, KEY_MAX);
}

/* Reads every entry of an LPM map, sorted by key bytes. */
static int read_lpm(int fd, size_t key_size, struct kentry **out, size_t *count,
		    const char *map, char *err, size_t errlen)
{
	struct kentry *entries = NULL;
	size_t n = 0, cap = 0;
	uint8_t key[KEY_MAX], next[KEY_MAX];
	void *prev = NULL;
	int ret;

	/*
	 * get_next_key rather than a batch lookup: one walk that works on every
	 * kernel, and reads are not what takes time in a sync.
	 */
	while ((ret = bpf_map_get_next_key(fd, prev, next)) == 0) {
		if (n == cap) {
			size_t c = cap ? cap * 2 : 1024;
			struct kentry *e = realloc(entries, c * sizeof(*e));

			if (!e) {
				snprintf(err, errlen, "reading %s: out of memory", map);
				goto fail;
			}
			entries = e;
			cap = c;
		}
		memset(&entries[n], 0, sizeof(entries[n]));
		memcpy(entries[n].key, next, key_size);
		ret = bpf_map_lookup_elem(fd, next, &entries[n].value);
		if (ret == 0)
			n++;
		else if (ret != -ENOENT) {
			snprintf(err, errlen, "reading %s: %s", map, strerror(-ret));
			goto fail;
		}
		memcpy(key, next, key_size);
		prev = key;
	}
	if (ret != -ENOENT) {
		snprintf(err, errlen, "reading %s: %s", map, strerror(-ret));
		goto fail;
	}
	qsort(entries, n, sizeof(*entries), kentry_cmp);
	*out = entries;
	*count = n;
	return 0;
fail:
	free(entries);
	return -1;
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
	struct kentry *old;
	size_t old_count;
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
 */
static int plan_family(const struct cs_ranges *r, struct family_sync *fs, const uint16_t *kid,
		       struct cs_sync_stats *st)
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
		struct kentry *old = bsearch(&probe, fs->old, fs->old_count, sizeof(*fs->old),
					     kentry_cmp);

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
	for (size_t i = 0; i < fs->old_count; i++) {
		if (fs->old[i].seen)
			continue;
		st->removed++;
		if (batch_add(&fs->del, fs->old[i].key, NULL))
			return -1;
	}
	return 0;
}

int cs_ranges_sync_fds(const struct cs_ranges *r, int v4_fd, int v6_fd, int providers_fd,
		       struct cs_sync_stats *st, char *err, size_t errlen)
{
	struct family_sync fam[2] = {
		{ .fd = v4_fd, .family = 4, .map = CS_MAP_RANGES_V4, .key_size = sizeof(struct cs_lpm_v4) },
		{ .fd = v6_fd, .family = 6, .map = CS_MAP_RANGES_V6, .key_size = sizeof(struct cs_lpm_v6) },
	};
	char knames[CS_MAX_PROVIDERS][CS_PROVIDER_NAME_LEN];
	bool taken[CS_MAX_PROVIDERS] = { true };        /* id 0 is "no match" */
	bool listed[CS_MAX_PROVIDERS] = { true };
	struct cs_sync_stats local;
	bool deferred_any = false;
	unsigned nprov = cs_ranges_provider_count(r);
	__u32 max_ids;
	int ret = -1;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
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

	/* Existing names keep their ids; new ones take unused ids. */
	for (unsigned k = 1; k < max_ids; k++)
		taken[k] = knames[k][0] != '\0';
	for (unsigned id = 1; id <= nprov; id++) {
		const char *name = cs_ranges_provider_name(r, (uint16_t)id);

		for (unsigned k = 1; k < max_ids && !st->kernel_id[id]; k++)
			if (!strcmp(knames[k], name))
				st->kernel_id[id] = (uint16_t)k;
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
		if (write_name(providers_fd, k, cs_ranges_provider_name(r, (uint16_t)id), err, errlen))
			goto out;
		st->providers_added++;
	}

	for (int f = 0; f < 2; f++) {
		if (read_lpm(fam[f].fd, fam[f].key_size, &fam[f].old, &fam[f].old_count, fam[f].map,
			     err, errlen))
			goto out;
		if (plan_family(r, &fam[f], st->kernel_id, st)) {
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
		 * just below.
		 */
		for (unsigned id = 1; id <= nprov; id++)
			listed[st->kernel_id[id]] = true;
		for (unsigned id = 1, k = 1; id <= nprov; id++) {
			if (st->kernel_id[id])
				continue;
			while (k < max_ids && listed[k])
				k++;
			if (k == max_ids) {
				snprintf(err, errlen, "%s holds %u ids, too few for %u providers",
					 CS_MAP_PROVIDERS, max_ids - 1, nprov);
				goto out;
			}
			listed[k] = true;
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
		free(fam[f].old);
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
	ret = cs_ranges_sync_fds(r, fds[0], fds[1], fds[2], st, err, errlen);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	return ret;
}

int cs_ranges_read_kernel(struct cs_ranges *r, int v4_fd, int v6_fd, int providers_fd,
			  const char *source, char *err, size_t errlen)
{
	const int fds[2] = { v4_fd, v6_fd };
	char names[CS_MAX_PROVIDERS][CS_PROVIDER_NAME_LEN];
	struct kentry *entries = NULL;
	size_t count = 0;
	char *text = NULL;
	size_t text_len = 0;
	FILE *f = NULL;
	int ret = -1;

	if (cs_ranges_read_provider_names(providers_fd, names, err, errlen))
		goto out;
	f = open_memstream(&text, &text_len);
	if (!f) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int fam = 0; fam < 2; fam++) {
		size_t key_size = fam ? sizeof(struct cs_lpm_v6) : sizeof(struct cs_lpm_v4);
		const char *map = fam ? CS_MAP_RANGES_V6 : CS_MAP_RANGES_V4;

		if (check_map(fds[fam], BPF_MAP_TYPE_LPM_TRIE, key_size, sizeof(struct cs_range_value),
			      map, NULL, err, errlen) ||
		    read_lpm(fds[fam], key_size, &entries, &count, map, err, errlen))
			goto out;
		for (size_t i = 0; i < count; i++) {
			struct cs_addr a = { .family = fam ? 6 : 4 };
			char buf[CS_ADDR_STRLEN];
			uint16_t id = entries[i].value.provider_id;
			__u32 plen;

			memcpy(&plen, entries[i].key, sizeof(plen));
			memcpy(a.bytes, entries[i].key + sizeof(plen), key_size - sizeof(plen));
			fprintf(f, "%s/%u ", cs_addr_format(&a, buf), plen);
			if (id < CS_MAX_PROVIDERS && names[id][0])
				fprintf(f, "%s", names[id]);
			else
				fprintf(f, "id-%u", id);
			fprintf(f, "%s\n", cs_ranges_flags_text(entries[i].value.flags));
		}
		free(entries);
		entries = NULL;
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
	free(entries);
	free(text);
	return ret;
}
