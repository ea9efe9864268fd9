/*
 * base/costcache.c - learned durations per kind of name and sizes per name,
 * in two lock-free open-addressing tables (costcache.h says what they hold).
 *
 * Owns: the two tables of one cache. No knowledge of what the names are.
 * Threads: any, with no lock. A key lives in the `hash` field of its entry;
 * keys are odd (dtxi_costcache_hash), 0 is an empty entry, and an entry being
 * taken over holds KEY_BUSY (even) until its other fields are cleared, so a
 * reader never matches a half-cleared entry.
 * Invariants: a key is found at most DTXI_COSTCACHE_PROBES places from its
 * home (hash % n); an entry is only evicted when its table says it may be
 * (a size entry with a probe running may not).
 */
#include "base/costcache.h"

#include <stdatomic.h>
#include <stdlib.h>

/* Keys are odd; a slot being taken over holds this even value until its
 * fields are cleared, so nobody reads them meanwhile. */
#define KEY_BUSY 2u

typedef struct kind_entry {
  _Atomic uint64_t hash;
  _Atomic int64_t ns[DTXI_COSTCACHE_SIDES][DTXI_COSTCACHE_CLASSES]; /* [side][size class] */
} kind_entry;

typedef struct name_entry {
  _Atomic uint64_t hash;
  _Atomic int64_t out_bytes;  /* 1 + the largest output seen; 0: none yet */
  _Atomic int probing;        /* a probe runs to learn this name's output size */
  _Atomic int64_t data_bytes; /* what readers get, when not out_bytes (data lent, not made) */
} name_entry;

struct dtxi_costcache {
  int nkinds, nnames;
  kind_entry *kinds;
  name_entry *names;
};

dtxi_costcache *dtxi_costcache_new(int kinds, int names) {
  dtxi_costcache *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->nkinds = kinds > 0 ? kinds : 1;
  c->nnames = names > 0 ? names : 1;
  c->kinds = calloc((size_t)c->nkinds, sizeof *c->kinds);
  c->names = calloc((size_t)c->nnames, sizeof *c->names);
  if (c->kinds == NULL || c->names == NULL) {
    dtxi_costcache_free(c);
    return NULL;
  }
  return c;
}

void dtxi_costcache_free(dtxi_costcache *c) {
  if (c == NULL) return;
  free(c->kinds);
  free(c->names);
  free(c);
}

uint64_t dtxi_costcache_hash(const char *s, int kind) {
  uint64_t h = 1469598103934665603ull;
  for (const char *p = s; *p; p++) {
    if (kind && p > s && p[-1] == '-')
      while (*p >= '0' && *p <= '9') p++; /* a serial: the kind is the same */
    if (*p == '\0') break;
    h = (h ^ (unsigned char)*p) * 1099511628211ull;
  }
  return h | 1;
}

int dtxi_costcache_size_class(size_t bytes) {
  return bytes < ((size_t)64 << 10) ? 0 : bytes < ((size_t)1 << 20) ? 1 : bytes < ((size_t)16 << 20) ? 2 : 3;
}

/* ---- the open-addressing slot search, shared by both tables -------------------------- */

/* One table: entry i's key at (char *)base + i * stride. */
typedef struct table {
  dtxi_costcache *c;
  void *base;
  size_t stride;
  int n;
  int (*evictable)(dtxi_costcache *c, int i);
  void (*clear)(dtxi_costcache *c, int i); /* empties entry i's fields before a new key shows */
} table;

/* The slot of key h, claiming one when `claim`; -1 if none. A full window
 * gives up the first entry the table lets go. */
static int table_slot(const table *t, uint64_t h, int claim) {
  int n = t->n;
  int home = (int)(h % (uint64_t)n);
  for (int k = 0, i = home; k < DTXI_COSTCACHE_PROBES && k < n; k++, i = (i + 1) % n) {
    _Atomic uint64_t *hp = (_Atomic uint64_t *)((char *)t->base + (size_t)i * t->stride);
    uint64_t cur = atomic_load(hp);
    if (cur == h) return i;
    if (cur == 0) {
      if (!claim) return -1;
      uint64_t zero = 0;
      if (atomic_compare_exchange_strong(hp, &zero, h) || zero == h) return i;
    }
  }
  if (!claim) return -1;
  for (int k = 0, i = home; k < DTXI_COSTCACHE_PROBES && k < n; k++, i = (i + 1) % n) {
    _Atomic uint64_t *hp = (_Atomic uint64_t *)((char *)t->base + (size_t)i * t->stride);
    uint64_t cur = atomic_load(hp);
    if (cur == KEY_BUSY || !t->evictable(t->c, i)) continue;
    if (!atomic_compare_exchange_strong(hp, &cur, KEY_BUSY)) {
      if (cur == h) return i; /* another thread took it for this key */
      continue;
    }
    if (!t->evictable(t->c, i)) { /* a probe started meanwhile: the key stays */
      atomic_store(hp, cur);
      continue;
    }
    t->clear(t->c, i);
    atomic_store(hp, h);
    return i;
  }
  return -1;
}

static int kind_evictable(dtxi_costcache *c, int i) {
  (void)c;
  (void)i;
  return 1;
}
static void kind_clear(dtxi_costcache *c, int i) {
  for (int a = 0; a < DTXI_COSTCACHE_SIDES; a++)
    for (int k = 0; k < DTXI_COSTCACHE_CLASSES; k++)
      atomic_store_explicit(&c->kinds[i].ns[a][k], 0, memory_order_relaxed);
}
static int name_evictable(dtxi_costcache *c, int i) {
  return atomic_load(&c->names[i].probing) == 0; /* a probe running keeps its name */
}
static void name_clear(dtxi_costcache *c, int i) {
  atomic_store_explicit(&c->names[i].out_bytes, 0, memory_order_relaxed);
  atomic_store_explicit(&c->names[i].data_bytes, 0, memory_order_relaxed);
  atomic_store_explicit(&c->names[i].probing, 0, memory_order_relaxed);
}

static int kind_slot(dtxi_costcache *c, const char *name, int claim) {
  table t = {c, c->kinds, sizeof c->kinds[0], c->nkinds, kind_evictable, kind_clear};
  return table_slot(&t, dtxi_costcache_hash(name, 1), claim);
}

int dtxi_costcache_slot(dtxi_costcache *c, const char *name, int claim) {
  table t = {c, c->names, sizeof c->names[0], c->nnames, name_evictable, name_clear};
  return table_slot(&t, dtxi_costcache_hash(name, 0), claim);
}

/* ---- durations ---------------------------------------------------------------------- */

int64_t dtxi_costcache_estimate(dtxi_costcache *c, const char *name, int side, size_t bytes) {
  int i = kind_slot(c, name, 0);
  if (i < 0) return 0;
  int cl = dtxi_costcache_size_class(bytes);
  /* The class itself, else the nearest class measured, scaled by size. */
  for (int k = 0; k < DTXI_COSTCACHE_CLASSES; k++)
    for (int s = -1; s <= 1; s += 2) {
      int cc = cl + s * k;
      if (cc < 0 || cc >= DTXI_COSTCACHE_CLASSES || (k == 0 && s == 1)) continue;
      int64_t ns = atomic_load_explicit(&c->kinds[i].ns[side != 0][cc], memory_order_relaxed);
      if (ns == 0) continue;
      for (int step = cc; step < cl; step++) ns *= 16; /* the classes are 16x apart */
      for (int step = cl; step < cc; step++) ns /= 16;
      return ns > 0 ? ns : 1;
    }
  return 0;
}

void dtxi_costcache_learn(dtxi_costcache *c, const char *name, int side, size_t bytes, int64_t ns) {
  int i = kind_slot(c, name, 1);
  if (i < 0) return;
  if (ns < 1) ns = 1;
  _Atomic int64_t *e = &c->kinds[i].ns[side != 0][dtxi_costcache_size_class(bytes)];
  int64_t old = atomic_load_explicit(e, memory_order_relaxed);
  /* A racing update may be lost; an estimate, not an account. */
  atomic_store_explicit(e, old == 0 ? ns : old + (ns - old) / 4, memory_order_relaxed);
}

/* ---- sizes -------------------------------------------------------------------------- */

int64_t dtxi_costcache_output_at(dtxi_costcache *c, int slot) {
  return slot >= 0 ? atomic_load_explicit(&c->names[slot].out_bytes, memory_order_relaxed) : 0;
}

int64_t dtxi_costcache_output(dtxi_costcache *c, const char *name) {
  return dtxi_costcache_output_at(c, dtxi_costcache_slot(c, name, 0));
}

void dtxi_costcache_learn_output(dtxi_costcache *c, const char *name, size_t bytes) {
  int i = dtxi_costcache_slot(c, name, 1);
  if (i < 0) return;
  _Atomic int64_t *e = &c->names[i].out_bytes;
  int64_t old = atomic_load_explicit(e, memory_order_relaxed);
  while ((int64_t)bytes + 1 > old &&
         !atomic_compare_exchange_weak_explicit(e, &old, (int64_t)bytes + 1, memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

void dtxi_costcache_learn_data(dtxi_costcache *c, const char *name, size_t bytes) {
  int i = dtxi_costcache_slot(c, name, 1);
  if (i >= 0) atomic_store_explicit(&c->names[i].data_bytes, (int64_t)bytes, memory_order_relaxed);
}

size_t dtxi_costcache_data_bytes(dtxi_costcache *c, const char *name) {
  int i = dtxi_costcache_slot(c, name, 0);
  if (i < 0) return 0;
  int64_t d = atomic_load_explicit(&c->names[i].data_bytes, memory_order_relaxed);
  int64_t o = atomic_load_explicit(&c->names[i].out_bytes, memory_order_relaxed) - 1;
  return (size_t)(d > o ? d : o > 0 ? o : 0);
}

int dtxi_costcache_probe_begin(dtxi_costcache *c, int slot, const char *name, int64_t *out) {
  name_entry *e = &c->names[slot];
  int idle = 0;
  if (!atomic_compare_exchange_strong(&e->probing, &idle, 1)) return DTXI_COSTCACHE_PROBE_BUSY;
  if (atomic_load(&e->hash) != dtxi_costcache_hash(name, 0)) {
    atomic_store(&e->probing, 0);
    return DTXI_COSTCACHE_PROBE_LOST;
  }
  int64_t o = atomic_load(&e->out_bytes);
  if (o > 0) {
    atomic_store(&e->probing, 0); /* learned by the probe that just ended */
    *out = o;
    return DTXI_COSTCACHE_PROBE_KNOWN;
  }
  return DTXI_COSTCACHE_PROBE_STARTED;
}

void dtxi_costcache_probe_end(dtxi_costcache *c, int slot, const char *name) {
  if (atomic_load(&c->names[slot].hash) == dtxi_costcache_hash(name, 0))
    atomic_store(&c->names[slot].probing, 0);
}
