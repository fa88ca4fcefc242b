/*
 * Learned scanners kept in pinned BPF hash maps (CS_MAP_LEARNED_V4/_V6,
 * layout in clicksieve_abi.h) so that they survive restarts: `run` loads
 * them at start and writes every change through; `clicksieve ranges
 * learned` lists and deletes them. Userspace creates and pins the maps;
 * the XDP program does not read them.
 */
#ifndef CS_LEARNED_MAPS_H
#define CS_LEARNED_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "learned.h"

struct cs_learned_maps;

/*
 * Opens the maps pinned under pin_dir (NULL: CS_PIN_DIR); with create,
 * creates and pins missing ones with max_entries (a pinned map keeps its
 * own size). A map of another layout is an error. NULL with the reason in
 * err.
 */
struct cs_learned_maps *cs_learned_maps_open(const char *pin_dir, bool create,
					     uint32_t max_entries, char *err, size_t errlen);
void cs_learned_maps_close(struct cs_learned_maps *m);

/*
 * Every entry held; sorted by family and address. *out is malloc'ed.
 * 0, or -1 with the reason in err.
 */
int cs_learned_maps_read(struct cs_learned_maps *m, struct cs_learned_entry **out, size_t *n,
			 char *err, size_t errlen);

/*
 * Restores the entries unexpired at now_us into l and deletes the expired
 * ones from the maps. Returns how many were restored, or -1 with err.
 */
long cs_learned_maps_load(struct cs_learned_maps *m, struct cs_learned *l, uint64_t now_us,
			  char *err, size_t errlen);

/*
 * Makes l follow what operators changed in the maps: entries deleted there
 * are forgotten, entries added there (or given a later expiry) are taken.
 * 0, or -1 with err.
 */
int cs_learned_maps_reconcile(struct cs_learned_maps *m, struct cs_learned *l, char *err,
			      size_t errlen);

/*
 * For `run`: opens (creating and pinning) the maps, restores what they hold
 * unexpired at now_us into l and writes l's changes through from then on.
 * *restored: how many. NULL with the reason in err.
 */
struct cs_learned_maps *cs_learned_maps_attach(struct cs_learned *l, const char *pin_dir,
					       uint32_t max_entries, uint64_t now_us,
					       long *restored, char *err, size_t errlen);

/* A cs_learned change callback (ctx: the maps): writes the change through. */
void cs_learned_maps_on_change(void *ctx, enum cs_learned_change change,
			       const struct cs_learned_entry *e);

/* Deletes a client's entry (address masked by the caller); 0, 1 when absent, -1 with err. */
int cs_learned_maps_delete(struct cs_learned_maps *m, const struct cs_addr *client, char *err,
			   size_t errlen);

/* Writes that failed in the change callback (counted, not fatal). */
uint64_t cs_learned_maps_write_errors(const struct cs_learned_maps *m);

#endif
