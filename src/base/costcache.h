/*
 * base/costcache.h - a fixed-size, lock-free cache of learned costs per name.
 *
 * Two open-addressing tables keyed by a hash of a name:
 *  - durations per *kind* of name (the name with the serial numbers after
 *    dashes left out: "add-17" and "add-18" are one kind), per side (two ways
 *    of running the same thing, say a CPU thread and a GPU) and per size class
 *    of the input bytes (four classes, 16x apart): an EWMA in ns;
 *  - sizes per exact name: the largest output seen, the size of the data a
 *    name lends (rather than makes), and a probe flag: a measurement of the
 *    name's output size is under way, so its entry is not evicted meanwhile.
 * Both are caches: a key looks DTXI_COSTCACHE_PROBES places from its home; a
 * new key finding them all taken replaces the first evictable one (any
 * duration entry; a size entry with no probe running), so programs that keep
 * making new names (arrays) keep learning and never fill the tables up.
 *
 * Threads: any; every field is atomic, no locks. Racing updates of one
 * estimate may lose one (an estimate, not an account); a reader racing an
 * eviction may read the new key's cleared fields (0: unknown).
 */
#ifndef DTXI_COSTCACHE_H
#define DTXI_COSTCACHE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DTXI_COSTCACHE_SIDES 2
#define DTXI_COSTCACHE_CLASSES 4
/* How many places from its home a key is looked for. */
#define DTXI_COSTCACHE_PROBES 16

typedef struct dtxi_costcache dtxi_costcache;

/* A cache with `kinds` duration entries and `names` size entries (each at
 * least 1); NULL when out of memory. dtxi_costcache_free accepts NULL. */
dtxi_costcache *dtxi_costcache_new(int kinds, int names);
void dtxi_costcache_free(dtxi_costcache *c);

/* The key of a name (odd, never 0); `kind`: serial numbers right after a
 * dash are left out ("add-17" and "add-18" hash the same). */
uint64_t dtxi_costcache_hash(const char *name, int kind);
/* Size class of input bytes: < 64 KiB, < 1 MiB, < 16 MiB, more. */
int dtxi_costcache_size_class(size_t bytes);

/* ---- durations per kind ---- */

/* What a name of this kind took on `side` (0 or 1) with inputs of this many
 * bytes: the EWMA of its size class, else of the nearest class measured,
 * scaled 16x per class; 0 when never measured on that side. */
int64_t dtxi_costcache_estimate(dtxi_costcache *c, const char *name, int side, size_t bytes);
/* Adds a measurement (ns, at least 1): the first one is taken as is, later
 * ones move the EWMA a quarter of the way. */
void dtxi_costcache_learn(dtxi_costcache *c, const char *name, int side, size_t bytes, int64_t ns);

/* ---- sizes per exact name ---- */

/* The size entry of name, claiming one (possibly evicting) when `claim`; -1
 * when there is none. */
int dtxi_costcache_slot(dtxi_costcache *c, const char *name, int claim);
/* 1 + the largest output learned at slot; 0 when none yet. */
int64_t dtxi_costcache_output_at(dtxi_costcache *c, int slot);
/* The same by name (no claim); 0 when the name has no entry. */
int64_t dtxi_costcache_output(dtxi_costcache *c, const char *name);
/* A name made an output of this size (kept: the largest). */
void dtxi_costcache_learn_output(dtxi_costcache *c, const char *name, size_t bytes);
/* A name lends data of this size to its readers (kept: the latest). */
void dtxi_costcache_learn_data(dtxi_costcache *c, const char *name, size_t bytes);
/* What a name gives its readers as far as is known: the larger of the data
 * it lends and its largest output; 0 when unknown. */
size_t dtxi_costcache_data_bytes(dtxi_costcache *c, const char *name);

/* Measuring a name's output size (its entry at `slot` is not evicted while a
 * probe runs). dtxi_costcache_probe_begin returns: */
enum {
  DTXI_COSTCACHE_PROBE_STARTED, /* this caller measures; end with dtxi_costcache_probe_end */
  DTXI_COSTCACHE_PROBE_BUSY,    /* another probe runs for the name */
  DTXI_COSTCACHE_PROBE_LOST,    /* the slot went to another name meanwhile: no probe */
  DTXI_COSTCACHE_PROBE_KNOWN    /* learned meanwhile: *out = 1 + the largest output */
};
int dtxi_costcache_probe_begin(dtxi_costcache *c, int slot, const char *name, int64_t *out);
/* Ends the probe at slot, if name still has that slot. */
void dtxi_costcache_probe_end(dtxi_costcache *c, int slot, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* DTXI_COSTCACHE_H */
