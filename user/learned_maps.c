#include "learned_maps.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clicksieve_abi.h"

struct cs_learned_maps {
	int fd[2];                      /* v4, v6 */
	uint64_t write_errors;
};

static const char *const map_names[2] = { CS_MAP_LEARNED_V4, CS_MAP_LEARNED_V6 };
static const uint32_t key_sizes[2] = { 4, 16 };

static int check_layout(int fd, int fam, const char *path, char *err, size_t errlen)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		snprintf(err, errlen, "%s: not a BPF map: %s", path, strerror(errno));
		return -1;
	}
	if (info.type != BPF_MAP_TYPE_HASH || info.key_size != key_sizes[fam] ||
	    info.value_size != sizeof(struct cs_learned_value)) {
		snprintf(err, errlen, "%s: unexpected map layout (type %u, key %u, value %u bytes; "
			 "want type %u, key %u, value %zu)", path, info.type, info.key_size,
			 info.value_size, BPF_MAP_TYPE_HASH, key_sizes[fam],
			 sizeof(struct cs_learned_value));
		return -1;
	}
	return 0;
}

/* The pinned map, made and pinned when missing (and create); -1 with err. */
static int open_map(const char *pin_dir, int fam, bool create, uint32_t max_entries, char *err,
		    size_t errlen)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	char path[4096];
	int fd, e;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, map_names[fam]);
	fd = bpf_obj_get(path);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdir(pin_dir, 0700) && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", pin_dir, strerror(errno));
			return -1;
		}
		fd = bpf_map_create(BPF_MAP_TYPE_HASH, map_names[fam], key_sizes[fam],
				    sizeof(struct cs_learned_value), max_entries, &opts);
		if (fd < 0) {
			snprintf(err, errlen, "%s: cannot create map: %s", path, strerror(errno));
			return -1;
		}
		if (bpf_obj_pin(fd, path) == 0)
			return fd;
		e = errno;
		close(fd);
		/* another instance pinned one first: use it */
		fd = e == EEXIST ? bpf_obj_get(path) : -1;
		if (fd < 0) {
			snprintf(err, errlen, "%s: cannot pin: %s", path, strerror(e));
			return -1;
		}
	}
	if (fd < 0) {
		e = errno;
		if (e == ENOENT)
			snprintf(err, errlen, "%s: not pinned; no clicksieve instance has learned "
				 "scanners under %s", path, pin_dir);
		else
			snprintf(err, errlen, "%s: %s%s", path, strerror(e),
				 e == EPERM || e == EACCES ? " (run as root)" : "");
		return -1;
	}
	if (check_layout(fd, fam, path, err, errlen)) {
		close(fd);
		return -1;
	}
	return fd;
}

struct cs_learned_maps *cs_learned_maps_open(const char *pin_dir, bool create,
					     uint32_t max_entries, char *err, size_t errlen)
{
	struct cs_learned_maps *m = calloc(1, sizeof(*m));

	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->fd[0] = m->fd[1] = -1;
	if (!pin_dir)
		pin_dir = CS_PIN_DIR;
	for (int fam = 0; fam < 2; fam++) {
		m->fd[fam] = open_map(pin_dir, fam, create, max_entries, err, errlen);
		if (m->fd[fam] < 0) {
			cs_learned_maps_close(m);
			return NULL;
		}
	}
	return m;
}

void cs_learned_maps_close(struct cs_learned_maps *m)
{
	if (!m)
		return;
	for (int fam = 0; fam < 2; fam++)
		if (m->fd[fam] >= 0)
			close(m->fd[fam]);
	free(m);
}

static int family_index(const struct cs_addr *a)
{
	return a->family == 4 ? 0 : a->family == 6 ? 1 : -1;
}

static int compare_entries(const void *pa, const void *pb)
{
	const struct cs_learned_entry *a = pa, *b = pb;

	if (a->client.family != b->client.family)
		return a->client.family - b->client.family;
	return memcmp(a->client.bytes, b->client.bytes, sizeof(a->client.bytes));
}

/* Entries per batch lookup: one syscall reads this many. */
#define READ_BATCH 1024

static int append_entry(struct cs_learned_entry **list, size_t *count, size_t *cap, int fam,
			const uint8_t *key, const struct cs_learned_value *v)
{
	struct cs_learned_entry *e;

	if (*count == *cap) {
		size_t grown_cap = *cap ? 2 * *cap : 256;
		struct cs_learned_entry *grown = realloc(*list, grown_cap * sizeof(*grown));

		if (!grown)
			return -1;
		*list = grown;
		*cap = grown_cap;
	}
	e = &(*list)[(*count)++];
	memset(e, 0, sizeof(*e));
	e->client.family = fam ? 6 : 4;
	memcpy(e->client.bytes, key, key_sizes[fam]);
	e->expiry_us = v->expiry_unix_us;
	e->first_us = v->first_us;
	e->last_us = v->last_us;
	e->evidence = v->evidence;
	e->prefixlen = v->prefixlen;
	return 0;
}

int cs_learned_maps_read(struct cs_learned_maps *m, struct cs_learned_entry **out, size_t *n,
			 char *err, size_t errlen)
{
	uint8_t *keys = malloc(READ_BATCH * 16);
	struct cs_learned_value *values = malloc(READ_BATCH * sizeof(*values));
	struct cs_learned_entry *list = NULL;
	size_t count = 0, cap = 0;

	if (!keys || !values) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}

	for (int fam = 0; fam < 2; fam++) {
		__u32 token, got;
		void *from = NULL;
		int rc;

		/* a hash map's batch token is a bucket index */
		do {
			got = READ_BATCH;
			rc = bpf_map_lookup_batch(m->fd[fam], from, &token, keys, values, &got, NULL);
			if (rc && errno != ENOENT) {
				snprintf(err, errlen, "reading %s: %s", map_names[fam], strerror(errno));
				goto fail;
			}
			for (__u32 i = 0; i < got; i++)
				if (append_entry(&list, &count, &cap, fam, keys + i * key_sizes[fam],
						 &values[i])) {
					snprintf(err, errlen, "out of memory");
					goto fail;
				}
			from = &token;
		} while (rc == 0);
	}
	free(keys);
	free(values);
	if (count)
		qsort(list, count, sizeof(*list), compare_entries);
	*out = list;
	*n = count;
	return 0;
fail:
	free(keys);
	free(values);
	free(list);
	return -1;
}

long cs_learned_maps_load(struct cs_learned_maps *m, struct cs_learned *l, uint64_t now_us,
			  char *err, size_t errlen)
{
	struct cs_learned_entry *list;
	long restored = 0;
	size_t n;

	if (cs_learned_maps_read(m, &list, &n, err, errlen))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (list[i].expiry_us <= now_us) {
			bpf_map_delete_elem(m->fd[family_index(&list[i].client)],
					    list[i].client.bytes);
			continue;
		}
		if (cs_learned_add(l, &list[i])) {
			snprintf(err, errlen, "restoring learned scanners: %s", strerror(errno));
			free(list);
			return -1;
		}
		restored++;
	}
	free(list);
	return restored;
}

struct forget_ctx {
	const struct cs_learned_entry *in_maps;    /* sorted */
	size_t n_in_maps;
	struct cs_addr *gone;
	size_t n_gone, cap_gone;
	bool oom;
};

/* Learned here but no longer in the maps: an operator deleted it. */
static void collect_deleted(void *ctx, const struct cs_learned_entry *e)
{
	struct forget_ctx *f = ctx;
	struct cs_learned_entry probe = { .client = e->client };

	if (bsearch(&probe, f->in_maps, f->n_in_maps, sizeof(probe), compare_entries))
		return;
	if (f->n_gone == f->cap_gone) {
		size_t cap = f->cap_gone ? 2 * f->cap_gone : 16;
		struct cs_addr *grown = realloc(f->gone, cap * sizeof(*grown));

		if (!grown) {
			f->oom = true;
			return;
		}
		f->gone = grown;
		f->cap_gone = cap;
	}
	f->gone[f->n_gone++] = e->client;
}

int cs_learned_maps_reconcile(struct cs_learned_maps *m, struct cs_learned *l, char *err,
			      size_t errlen)
{
	struct forget_ctx f = { 0 };
	struct cs_learned_entry *list = NULL;
	size_t n = 0;
	int ret = -1;

	if (cs_learned_maps_read(m, &list, &n, err, errlen))
		goto out;
	f.in_maps = list;
	f.n_in_maps = n;
	/* Collected first: forgetting while iterating would move the entries. */
	cs_learned_foreach(l, collect_deleted, &f);
	if (f.oom) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < f.n_gone; i++)
		cs_learned_forget(l, &f.gone[i]);
	for (size_t i = 0; i < n; i++) {
		if (cs_learned_add(l, &list[i])) {
			snprintf(err, errlen, "learned scanners: %s", strerror(errno));
			goto out;
		}
	}
	ret = 0;
out:
	free(f.gone);
	free(list);
	return ret;
}

struct cs_learned_maps *cs_learned_maps_attach(struct cs_learned *l, const char *pin_dir,
					       uint32_t max_entries, uint64_t now_us,
					       long *restored, char *err, size_t errlen)
{
	struct cs_learned_maps *m = cs_learned_maps_open(pin_dir, true, max_entries, err, errlen);

	if (!m)
		return NULL;
	*restored = cs_learned_maps_load(m, l, now_us, err, errlen);
	if (*restored < 0) {
		cs_learned_maps_close(m);
		return NULL;
	}
	cs_learned_set_change_fn(l, cs_learned_maps_on_change, m);
	return m;
}

void cs_learned_maps_on_change(void *ctx, enum cs_learned_change change,
			       const struct cs_learned_entry *e)
{
	struct cs_learned_maps *m = ctx;
	int fam = family_index(&e->client);
	struct cs_learned_value v = {
		.expiry_unix_us = e->expiry_us,
		.first_us = e->first_us,
		.last_us = e->last_us,
		.evidence = e->evidence,
		.prefixlen = e->prefixlen,
	};

	if (fam < 0)
		return;
	if (change == CS_LEARNED_ADDED || change == CS_LEARNED_RENEWED) {
		if (bpf_map_update_elem(m->fd[fam], e->client.bytes, &v, BPF_ANY))
			m->write_errors++;
	} else if (bpf_map_delete_elem(m->fd[fam], e->client.bytes) && errno != ENOENT) {
		m->write_errors++;
	}
}

int cs_learned_maps_delete(struct cs_learned_maps *m, const struct cs_addr *client, char *err,
			   size_t errlen)
{
	int fam = family_index(client);

	if (fam < 0) {
		snprintf(err, errlen, "no address");
		return -1;
	}
	if (bpf_map_delete_elem(m->fd[fam], client->bytes) == 0)
		return 0;
	if (errno == ENOENT)
		return 1;
	snprintf(err, errlen, "%s: %s", map_names[fam], strerror(errno));
	return -1;
}

uint64_t cs_learned_maps_write_errors(const struct cs_learned_maps *m)
{
	return m->write_errors;
}
