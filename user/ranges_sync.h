/*
 * Makes the kernel range maps (ranges_v4, ranges_v6, providers) equal a
 * range set, by difference, so that a running XDP program never misses a
 * prefix present in both the old and the new set.
 *
 * Order of writes:
 *   1. names of providers new to the kernel, into unused ids (nothing
 *      references those ids yet, so readers never see a nameless match);
 *   2. added and changed prefixes;
 *   3. removal of prefixes no longer listed;
 *   4. only if the provider table was full: names reusing the ids of
 *      providers no longer listed, then their prefixes.
 *
 * Provider ids: a provider already named in the kernel keeps its id, even
 * when the set numbers it differently, so the per-provider counters of a
 * running program keep their meaning across reloads. The names of providers
 * that are no longer listed stay in the providers map (their counters keep
 * their label) until their id is needed for a new provider.
 *
 * Unlisted entries: by default the set is the truth and every other prefix
 * is removed. With CS_SYNC_KEEP_UNLISTED, prefixes whose kernel provider is
 * not a provider of the set (an operator's, added with bpftool under a name
 * of their own, or under an id without a name) are never touched, and their
 * provider ids are never given to another provider. A prefix that the set
 * lists too is the set's, whatever its provider in the kernel.
 */
#ifndef CS_RANGES_SYNC_H
#define CS_RANGES_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "clicksieve_abi.h"
#include "ranges.h"

/* Flags of cs_ranges_sync_fds(). */
#define CS_SYNC_KEEP_UNLISTED (1u << 0)  /* leave prefixes of unlisted providers alone */

struct cs_sync_stats {
	size_t added;                   /* prefixes new to the kernel */
	size_t changed;                 /* same prefix, new provider or flags */
	size_t removed;                 /* prefixes no longer listed */
	size_t unchanged;
	size_t kept;                    /* unlisted providers' prefixes left (KEEP_UNLISTED) */
	size_t providers_added;         /* names written into the providers map */
	/* Kernel provider id of each set provider id (index: set id; 0 unused). */
	uint16_t kernel_id[CS_MAX_PROVIDERS];
};

/*
 * Syncs into already open maps (e.g. from a loaded skeleton: pass
 * bpf_map__fd()). flags: 0 or CS_SYNC_*. st may be NULL. Returns 0, or -1
 * with a message in err; the maps then hold a mix of old and new entries
 * but never lose a prefix that both sets hold.
 */
int cs_ranges_sync_fds(const struct cs_ranges *r, int v4_fd, int v6_fd, int providers_fd,
		       unsigned flags, struct cs_sync_stats *st, char *err, size_t errlen);

/*
 * Same, without flags (the set is the truth), on the maps pinned under
 * pin_dir (NULL: CS_PIN_DIR). Fails with a clear message when no instance
 * has pinned them.
 */
int cs_ranges_sync_pinned(const struct cs_ranges *r, const char *pin_dir,
			  struct cs_sync_stats *st, char *err, size_t errlen);

/* Opens the three pinned maps; fds[] = { v4, v6, providers }. */
int cs_ranges_open_pinned(const char *pin_dir, int fds[3], char *err, size_t errlen);

/*
 * Reads the providers map into names (CS_MAX_PROVIDERS entries, "" for
 * unused ids). Returns 0, or -1 with a message in err.
 */
int cs_ranges_read_provider_names(int providers_fd, char names[][CS_PROVIDER_NAME_LEN],
				  char *err, size_t errlen);

/*
 * Adds the kernel maps' ranges to r, as if read from a list named by
 * source (for errors). Prefixes whose provider id has no name get the
 * name "id-N".
 */
int cs_ranges_read_kernel(struct cs_ranges *r, int v4_fd, int v6_fd, int providers_fd,
			  const char *source, char *err, size_t errlen);

#endif
