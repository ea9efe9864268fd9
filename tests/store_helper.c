/*
 * tests/store_helper.c - C side of store_test.cc: the chunk store's structs
 * use C11 atomics, which the C++ test cannot include, so the test drives the
 * store through these functions. The store gets a fake executor (its
 * callbacks only count and do the bookkeeping a real one does); device
 * pointers are fake and never dereferenced.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/mem.h"
#include "data/store.h"
#include "scheduler/graph.h"

typedef struct sth {
  dtxi_store st;
  int give_backs; /* give_back calls */
  int rooms;      /* room calls */
  int64_t freed;  /* device bytes given back */
} sth;

static void fake_give_back(void *owner, dtxi_kept *s) {
  sth *h = owner;
  h->give_backs++;
  if (dtxi_kept_release(&h->st, s) != NULL) h->freed += (int64_t)s->size;
  dtxi_kspill *sp = s->spill;
  s->spill = NULL;
  dtxi_kspill_unref(sp);
}

static void fake_room(void *owner) { ((sth *)owner)->rooms++; }

static const dtxi_store_ops fake_ops = {fake_give_back, fake_room};

sth *sth_new(int attach) {
  sth *h = calloc(1, sizeof *h);
  if (h == NULL) return NULL;
  dtxi_store_init(&h->st);
  if (attach) dtxi_store_attach(&h->st, &fake_ops, h);
  return h;
}
void sth_detach(sth *h) { dtxi_store_detach(&h->st); }
void sth_free(sth *h) { free(h); }
int sth_give_backs(const sth *h) { return h->give_backs; }
int sth_rooms(const sth *h) { return h->rooms; }
int64_t sth_freed(const sth *h) { return h->freed; }

/* ---- keepers and slots ---- */

void *sth_keeper_new(sth *h, int64_t n) { return dtxi_keeper_new(h != NULL ? &h->st : NULL, n); }
void sth_keeper_clear(void *k) { dtxi_keeper_clear(k); }
void sth_keeper_free(void *k) { dtxi_keeper_free(k); }
int sth_keeper_registered(void *k) { return ((dtxi_keeper *)k)->st != NULL; }

static dtxi_kept *slot(void *k, int64_t b) { return &((dtxi_keeper *)k)->slot[b]; }

int sth_slot_dev(void *k, int64_t b) { return slot(k, b)->dev; }
const void *sth_slot_ptr(void *k, int64_t b) {
  dtxi_kept *s = slot(k, b);
  return s->dev >= 0 ? s->ptr : s->chunk != NULL ? s->chunk->data : NULL;
}
size_t sth_slot_size(void *k, int64_t b) { return slot(k, b)->size; }
int sth_slot_users(void *k, int64_t b) { return slot(k, b)->users; }
int sth_slot_listed(void *k, int64_t b) { return slot(k, b)->listed; }

/* Slot b holds a new chunk of m with the n bytes at src; the slot's
 * reference is the chunk's only one. */
int sth_hold_new(void *k, int64_t b, void *m, const void *src, size_t n) {
  dtx_chunk *c = dtxi_chunk_new(m, n, 1);
  if (c == NULL) return 0;
  if (n > 0) memcpy(c->data, src, n);
  dtx_status rc = dtxi_kept_hold(slot(k, b), m, c);
  dtxi_chunk_unref(c);
  return rc == DTX_OK;
}
/* Slot b of k holds the chunk slot a of ka holds (in m's accounting). */
int sth_hold_slot(void *k, int64_t b, void *ka, int64_t a, void *m) {
  return dtxi_kept_hold(slot(k, b), m, slot(ka, a)->chunk) == DTX_OK;
}
int sth_slot_chunk_refs(void *k, int64_t b) {
  return slot(k, b)->chunk != NULL ? atomic_load(&slot(k, b)->chunk->refs) : 0;
}

/* A fake device pointer for slot b (distinct per slot, never dereferenced). */
static void *fake_ptr(void *k, int64_t b) { return (char *)k + 0x100000 + 0x1000 * b; }

void sth_set(sth *h, void *k, int64_t b, int dev, size_t size, int users) {
  dtxi_kept_set(&h->st, slot(k, b), dev, fake_ptr(k, b), size, users);
}
void sth_touch(sth *h, void *k, int64_t b) { dtxi_kept_touch(&h->st, slot(k, b)); }
int sth_use(sth *h, void *k, int64_t b) { return dtxi_kept_use(&h->st, slot(k, b)) == fake_ptr(k, b); }
void sth_unuse(void *k, int64_t b) { dtxi_kept_unuse(slot(k, b)); }
int sth_release(sth *h, void *k, int64_t b) {
  return dtxi_kept_release(&h->st, slot(k, b)) == fake_ptr(k, b);
}
/* Attaches spilled copy sp to slot b (the slot takes the caller's reference). */
void sth_set_spill(void *k, int64_t b, void *sp) { slot(k, b)->spill = sp; }
/* Slot b back at its device; returns the spilled copy it let go of. */
void *sth_back(sth *h, void *k, int64_t b, int users) {
  return dtxi_kept_back(&h->st, slot(k, b), fake_ptr(k, b), users);
}

/* The slot indexes of keeper k on dev's list, least recently used first (at
 * most max); the count. */
int sth_order(sth *h, int dev, void *k, int64_t *out, int max) {
  int n = 0;
  for (dtxi_kept *s = h->st.dev[dev].head; s != NULL && n < max; s = s->next)
    out[n++] = s - ((dtxi_keeper *)k)->slot;
  return n;
}
int64_t sth_bytes(sth *h, int dev) { return dtxi_store_bytes(&h->st, dev); }
/* The index of the next slot of k to spill on dev, or -1. */
int64_t sth_idle(sth *h, int dev, void *k) {
  dtxi_kept *s = dtxi_store_idle(&h->st, dev);
  return s != NULL ? s - ((dtxi_keeper *)k)->slot : -1;
}
int sth_check(sth *h, int dev, char *why, size_t n) { return dtxi_store_check(&h->st, dev, why, n); }
void sth_corrupt_bytes(sth *h, int dev, int64_t delta) { h->st.dev[dev].bytes += delta; }
void sth_flip_listed(void *k, int64_t b) { slot(k, b)->listed = !slot(k, b)->listed; }

/* ---- spilled copies ---- */

void *sth_mem_new(void) { return dtxi_mem_create(0, NULL); }
int64_t sth_mem_used(void *m) { return dtxi_mem_used(m); }
void sth_mem_free(void *m) { dtxi_mem_release(m); }
/* A spilled copy holding a new host chunk of n bytes of m (one reference). */
void *sth_spill_new(void *m, size_t n) {
  dtx_chunk *c = dtxi_chunk_new(m, n, 1);
  if (c == NULL) return NULL;
  dtxi_kspill *s = dtxi_kspill_new(c, NULL);
  if (s == NULL) dtxi_chunk_unref(c);
  return s;
}
void sth_spill_ref(void *s) { dtxi_kspill_ref(s); }
void sth_spill_unref(void *s) { dtxi_kspill_unref(s); }
int sth_spill_refs(void *s) { return atomic_load(&((dtxi_kspill *)s)->refs); }

/* ---- the chunk store's task flags ---- */

unsigned sth_flag_keeps(void) { return DTXI_TASK_KEEPS_INPUT; }
unsigned sth_flag_lends(void) { return DTXI_TASK_LENDS_STORED; }
int sth_graph_add(dtx_graph *g, const dtx_task_desc *d, unsigned flags, dtx_task_id *id) {
  return dtxi_graph_add_ex(g, d, flags, id);
}
unsigned sth_graph_flags(const dtx_graph *g, dtx_task_id id) { return g->tasks[id].flags; }
size_t sth_graph_output_size(const dtx_graph *g, dtx_task_id id) { return dtxi_gt_output_size(g, id); }
