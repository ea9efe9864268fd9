/*
 * data/store.h - the chunk store: the chunks of persisted arrays
 * (dtx_array_persist), which outlive computations.
 *
 * A keeper holds one persisted array's chunks, a slot each. A slot's chunk
 * lives on a GPU (dev >= 0: device memory, charged to that device by the GPU
 * executor) or in host memory (dev -1: a chunk of the cluster's host memory
 * accounting, data/mem.h, one reference the slot's: past the host limit it
 * spills to disk like any task output and comes back when read). Past a
 * device's memory limit, device chunks that no computation uses spill to a
 * host copy (dtxi_kspill), least recently used first, and come back to their
 * GPU when next read there.
 *
 * The store keeps the slots' state and, per device, the list of the chunks
 * held there (least recently used first, with their bytes). It makes no
 * copies and charges no device memory: the GPU executor does, and calls in
 * here for the bookkeeping. An executor attaches to the store with a small
 * table of callbacks (dtxi_store_ops) so that a keeper freed while it runs
 * can give its device memory back; data sits below the scheduler and
 * includes none of it.
 *
 * Locks: the store lock (store.c, process-wide) guards every store's keepers
 * list, its owner and ops, and each keeper's `st`; it is taken before any of
 * the owner's locks. A device slot's ptr, spill, users and list links, and
 * the per-device lists, are guarded by the owner's lock (the GPU executor's
 * res_mu): the functions marked "owner's lock" take no lock themselves.
 * Invariants (per device d, under the owner's lock):
 *   dev[d] lists exactly the slots with dev == d and ptr != NULL, each once,
 *     linked both ways, flagged `listed`; dev[d].bytes = the sum of their sizes;
 *   a slot's dev and size are set once; users >= 0; a slot's device memory is
 *     not freed or spilled while users > 0;
 *   a spilled copy lives while its slot or a reader holds a reference.
 */
#ifndef DTXI_STORE_H
#define DTXI_STORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "data/mem.h"
#include "device/backend.h"
#include "device/device.h"

/* A device chunk's copy in host memory while it is spilled, shared by its
 * slot and by the jobs reading it back (the last reference frees it). */
typedef struct dtxi_kspill {
  _Atomic int32_t refs;
  dtx_chunk *host;
  dtxi_event *ready; /* completes when `host` holds the data; NULL: it does */
} dtxi_kspill;

/* One reference to a new spilled copy; it takes host and ready. NULL when out
 * of memory (nothing taken). */
dtxi_kspill *dtxi_kspill_new(dtx_chunk *host, dtxi_event *ready);
void dtxi_kspill_ref(dtxi_kspill *s);
/* Drops a reference (accepts NULL); the last one waits for `ready` and frees
 * the host chunk. Not under the owner's lock (it may wait). */
void dtxi_kspill_unref(dtxi_kspill *s);

/* One persisted chunk. */
typedef struct dtxi_kept {
  int dev;          /* set once, when first kept; -1: host memory (or empty) */
  void *ptr;        /* device slots: NULL while spilled (or empty) */
  dtx_chunk *chunk; /* host slots: the chunk (flagged kept), one reference; NULL: empty */
  size_t size;      /* set once */
  /* device slots: the owner's lock */
  dtxi_kspill *spill; /* the spilled copy */
  int32_t users;      /* residency copies and jobs referring to ptr now */
  uint8_t listed;
  struct dtxi_kept *prev, *next; /* the device's chunks, least recently used first */
} dtxi_kept;

/* The chunks held on one device, least recently used first. */
typedef struct dtxi_kept_list {
  dtxi_kept *head, *tail;
  int64_t bytes; /* the sum of their sizes */
} dtxi_kept_list;

/* What an attached executor does for the store; called with the store lock
 * held (so before any of the owner's locks). */
typedef struct dtxi_store_ops {
  /* Gives back device slot s's memory (uncharged, freed) and its spilled
   * copy: s->ptr and s->spill are NULL after, s is off its list. */
  void (*give_back)(void *owner, dtxi_kept *s);
  /* Device memory was given back: work waiting for room may go now. */
  void (*room)(void *owner);
} dtxi_store_ops;

typedef struct dtxi_store {
  /* the store lock */
  const dtxi_store_ops *ops; /* NULL: no executor attached */
  void *owner;
  struct dtxi_keeper *keepers; /* those registered here */
  /* the owner's lock */
  dtxi_kept_list dev[DTXI_MAX_GPUS];
} dtxi_store;

/* A zeroed store has nothing attached and no keepers. */
void dtxi_store_init(dtxi_store *st);
/* An executor holding device memory for the store's chunks attaches before
 * any keeper is made, and detaches when it stops: detaching gives back the
 * device memory of every registered keeper's slots (through ops) and
 * unregisters them; they keep their host slots. */
void dtxi_store_attach(dtxi_store *st, const dtxi_store_ops *ops, void *owner);
void dtxi_store_detach(dtxi_store *st);

/* The chunks of one persisted array. Registered with its store when an
 * executor is attached: if the executor stops first, the device memory goes
 * back then and the keeper's later release frees only the rest. */
typedef struct dtxi_keeper {
  dtxi_store *st; /* NULL when not registered (the store lock) */
  struct dtxi_keeper *prev, *next;
  int64_t n;
  dtxi_kept slot[];
} dtxi_keeper;

/* n empty slots (dev -1, ptr NULL); st may be NULL. NULL when out of memory
 * (error set). */
dtxi_keeper *dtxi_keeper_new(dtxi_store *st, int64_t n);
/* Gives back what the slots hold; the keeper stays, its slots empty. */
void dtxi_keeper_clear(dtxi_keeper *k);
/* Gives back what the slots hold, and frees the keeper. Accepts NULL. */
void dtxi_keeper_free(dtxi_keeper *k);

/* ---- slot state -------------------------------------------------------------------------- */

/* Keeps host chunk c (dev -1), taking one reference to it: c itself when no
 * other slot holds it, else a copy made in m (spillable past its limit).
 * DTX_ENOMEM (error set) when out of memory. The slot is empty before. */
dtx_status dtxi_kept_hold(dtxi_kept *s, dtxi_mem *m, dtx_chunk *c);
/* The owner's lock. Device memory ptr on device dev now holds s's chunk of
 * size bytes, referred to by `users`; s goes to the most recently used end
 * of dev's list. The first time, before anything else on a device slot. */
void dtxi_kept_set(dtxi_store *st, dtxi_kept *s, int dev, void *ptr, size_t size, int32_t users);
/* The owner's lock. A spilled s back on its device at ptr, `users` referring
 * to it: listed again; returns its spilled copy, no longer the slot's (the
 * caller drops that reference, outside the lock). */
dtxi_kspill *dtxi_kept_back(dtxi_store *st, dtxi_kept *s, void *ptr, int32_t users);
/* The owner's lock. One more user of s's device memory (it stays while
 * used): s becomes the most recently used; returns ptr. */
void *dtxi_kept_use(dtxi_store *st, dtxi_kept *s);
/* The owner's lock. One user fewer. */
void dtxi_kept_unuse(dtxi_kept *s);
/* The owner's lock. s becomes the most recently used of its device. */
void dtxi_kept_touch(dtxi_store *st, dtxi_kept *s);
/* The owner's lock. s lets go of its device memory: off its list, ptr NULL;
 * returns that memory for the caller to free and uncharge (NULL: none). */
void *dtxi_kept_release(dtxi_store *st, dtxi_kept *s);
/* The owner's lock. The least recently used chunk on dev that nobody uses
 * (the next to spill), or NULL. */
dtxi_kept *dtxi_store_idle(dtxi_store *st, int dev);
/* The owner's lock. Bytes of the chunks held on dev. */
static inline int64_t dtxi_store_bytes(const dtxi_store *st, int dev) { return st->dev[dev].bytes; }
/* The owner's lock. Checks dev's list against the invariants above: 0 when
 * they hold, else -1 with what does not in why (n bytes). */
int dtxi_store_check(const dtxi_store *st, int dev, char *why, size_t n);

#endif /* DTXI_STORE_H */
