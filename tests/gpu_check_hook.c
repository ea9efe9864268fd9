/*
 * tests/gpu_check_hook.c - reaches the GPU executor's state through its
 * internal header (C only: it has _Atomic fields) for gpu_check_test.cc:
 * fake device copies and persisted chunks, and deliberate corruptions of the
 * accounting. The fake pointers are never dereferenced: the checker only
 * compares them; tests remove their fakes before any computation runs.
 */
#include <stdint.h>
#include <stdlib.h>

#include "base/error.h"
#include "scheduler/gpu/gpu_internal.h"

static dtxi_gpus *gpus(dtx_cluster *cl) { return dtxi_sched_of(cl)->gpus; }

static void *fake_ptr(void) {
  static _Atomic uintptr_t next = 0x10000;
  return (void *)atomic_fetch_add(&next, 0x1000);
}

int gct_check(dtx_cluster *cl, char *why, size_t n) { return dtxi_gpus_check(gpus(cl), why, n); }
void gct_assert(dtx_cluster *cl) { dtxi_gpus_assert_consistent(gpus(cl)); }

/* ---- a fake copy: a residency record with a copy of `size` bytes on dev ---- */

void *gct_copy_new(dtx_cluster *cl, int dev, size_t size, int pins) {
  dtxi_gpus *g = gpus(cl);
  rtask *t = calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  t->nrefs = 1;
  gres *res = dtxi_gres_new(g, NULL, t, dev, size, 1);
  if (res == NULL) {
    free(t);
    return NULL;
  }
  pthread_mutex_lock(&g->res_mu);
  dtxi_copy_add(g, res, dev, fake_ptr(), NULL, pins);
  g->dev[dev].used += (int64_t)size; /* as a job's reservation handed to the copy */
  if (g->dev[dev].used > g->dev[dev].peak) g->dev[dev].peak = g->dev[dev].used;
  pthread_mutex_unlock(&g->res_mu);
  return res;
}

void gct_copy_pin(dtx_cluster *cl, void *h, int dev) {
  dtxi_gpus *g = gpus(cl);
  pthread_mutex_lock(&g->res_mu);
  dtxi_copy_pin(&((gres *)h)->copy[dev]);
  pthread_mutex_unlock(&g->res_mu);
}

void gct_copy_unpin(dtx_cluster *cl, void *h, int dev) { dtxi_copy_unpin(gpus(cl), &((gres *)h)->copy[dev]); }

void gct_copy_free(dtx_cluster *cl, void *h, int dev) {
  dtxi_gpus *g = gpus(cl);
  gres *res = h;
  gcopy *c = &res->copy[dev];
  rtask *t = res->t;
  pthread_mutex_lock(&g->res_mu);
  if (c->pins == 0) dtxi_copy_pin(c); /* off the LRU */
  c->pins = 0;
  c->ptr = NULL;
  atomic_fetch_and(&res->resident, ~(1u << dev));
  g->dev[dev].used -= (int64_t)res->size;
  pthread_mutex_unlock(&g->res_mu);
  dtxi_gres_release(res); /* no memory left to free */
  free(t);
}

/* ---- a fake persisted chunk on dev ---- */

void *gct_kept_new(dtx_cluster *cl, int dev, size_t size) {
  dtxi_gpus *g = gpus(cl);
  dtxi_kept *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  pthread_mutex_lock(&g->res_mu);
  dtxi_kept_set(g->store, s, dev, fake_ptr(), size, 0);
  g->dev[dev].used += (int64_t)size;
  if (g->dev[dev].used > g->dev[dev].peak) g->dev[dev].peak = g->dev[dev].used;
  pthread_mutex_unlock(&g->res_mu);
  return s;
}

void gct_kept_free(dtx_cluster *cl, void *h, int dev) {
  dtxi_gpus *g = gpus(cl);
  dtxi_kept *s = h;
  pthread_mutex_lock(&g->res_mu);
  DTX_ASSERT(s->dev == dev);
  dtxi_kept_release(g->store, s);
  g->dev[dev].used -= (int64_t)s->size;
  pthread_mutex_unlock(&g->res_mu);
  free(s);
}

/* ---- corruptions (each undone by calling it again with the opposite) ---- */

void gct_add_used(dtx_cluster *cl, int dev, int64_t delta) {
  dtxi_gpus *g = gpus(cl);
  pthread_mutex_lock(&g->res_mu);
  g->dev[dev].used += delta;
  pthread_mutex_unlock(&g->res_mu);
}

void gct_add_kept(dtx_cluster *cl, int dev, int64_t delta) {
  dtxi_gpus *g = gpus(cl);
  pthread_mutex_lock(&g->res_mu);
  g->store->dev[dev].bytes += delta;
  pthread_mutex_unlock(&g->res_mu);
}

/* Sets dev's limit; returns the old one. */
int64_t gct_set_limit(dtx_cluster *cl, int dev, int64_t limit) {
  dtxi_gpus *g = gpus(cl);
  pthread_mutex_lock(&g->res_mu);
  int64_t old = g->dev[dev].limit;
  g->dev[dev].limit = limit;
  pthread_mutex_unlock(&g->res_mu);
  return old;
}

/* A reservation the proper way (dtxi_charge / dtxi_uncharge). */
void gct_charge(dtx_cluster *cl, int dev, int64_t bytes) {
  dtxi_gpus *g = gpus(cl);
  if (bytes >= 0)
    dtxi_charge(g, &g->dev[dev], bytes);
  else
    dtxi_uncharge(g, &g->dev[dev], -bytes);
}

/* Pretends a job is in flight on dev (delta 1) or not any more (-1). */
void gct_add_inflight(dtx_cluster *cl, int dev, int delta) {
  atomic_fetch_add(&gpus(cl)->dev[dev].inflight, delta);
}

void gct_flip_in_lru(dtx_cluster *cl, void *h, int dev) {
  dtxi_gpus *g = gpus(cl);
  pthread_mutex_lock(&g->res_mu);
  gcopy *c = &((gres *)h)->copy[dev];
  c->in_lru = !c->in_lru;
  pthread_mutex_unlock(&g->res_mu);
}

void gct_flip_resident(dtx_cluster *cl, void *h, int dev) {
  (void)cl;
  atomic_fetch_xor(&((gres *)h)->resident, 1u << dev);
}

/* Swaps dev's LRU head and tail pointers (a no-op on lists of one). */
void gct_swap_lru_ends(dtx_cluster *cl, int dev) {
  dtxi_gpus *g = gpus(cl);
  pthread_mutex_lock(&g->res_mu);
  gcopy *h = g->dev[dev].lru_head;
  g->dev[dev].lru_head = g->dev[dev].lru_tail;
  g->dev[dev].lru_tail = h;
  pthread_mutex_unlock(&g->res_mu);
}

void gct_flip_listed(dtx_cluster *cl, void *h) {
  dtxi_gpus *g = gpus(cl);
  pthread_mutex_lock(&g->res_mu);
  dtxi_kept *s = h;
  s->listed = !s->listed;
  pthread_mutex_unlock(&g->res_mu);
}
