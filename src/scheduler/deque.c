/*
 * scheduler/deque.c - per-worker Chase-Lev work-stealing deque.
 *
 * The owner pushes and pops at bottom; thieves steal at top.
 * Invariant: top <= bottom + 1 (bottom dips one below top during a pop that
 * finds the deque empty); size = bottom - top <= capacity.
 * Memory order follows Le et al., PPoPP'13, with its fences expressed as
 * sequentially consistent accesses. No locks; allocation only when the array
 * grows.
 */
#include "scheduler/deque.h"

#include <stdlib.h>

static dtxi_dq_array *array_new(int64_t cap) {
  dtxi_dq_array *a = malloc(sizeof *a + (size_t)cap * sizeof(_Atomic uintptr_t));
  if (a == NULL) return NULL;
  a->mask = cap - 1;
  a->retired_next = NULL;
  for (int64_t i = 0; i < cap; i++) atomic_init(&a->slot[i], 0);
  return a;
}

int dtxi_deque_init(dtxi_deque *d, int64_t capacity) {
  int64_t cap = 64;
  while (cap < capacity) cap <<= 1;
  dtxi_dq_array *a = array_new(cap);
  if (a == NULL) return -1;
  atomic_init(&d->top, 0);
  atomic_init(&d->bottom, 0);
  atomic_init(&d->array, a);
  d->retired = NULL;
  return 0;
}

void dtxi_deque_destroy(dtxi_deque *d) {
  free(atomic_load_explicit(&d->array, memory_order_relaxed));
  for (dtxi_dq_array *r = d->retired, *next; r != NULL; r = next) {
    next = r->retired_next;
    free(r);
  }
  d->retired = NULL;
}

static dtxi_dq_array *grow(dtxi_deque *d, dtxi_dq_array *a, int64_t b, int64_t t) {
  dtxi_dq_array *na = array_new((a->mask + 1) * 2);
  if (na == NULL) return NULL;
  for (int64_t i = t; i < b; i++) {
    uintptr_t x = atomic_load_explicit(&a->slot[i & a->mask], memory_order_relaxed);
    atomic_store_explicit(&na->slot[i & na->mask], x, memory_order_relaxed);
  }
  a->retired_next = d->retired;
  d->retired = a;
  atomic_store_explicit(&d->array, na, memory_order_release);
  return na;
}

int dtxi_deque_push(dtxi_deque *d, uintptr_t item) {
  int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
  int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
  dtxi_dq_array *a = atomic_load_explicit(&d->array, memory_order_relaxed);
  if (b - t > a->mask) {
    a = grow(d, a, b, t);
    if (a == NULL) return -1;
  }
  atomic_store_explicit(&a->slot[b & a->mask], item, memory_order_relaxed);
  atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
  return 0;
}

uintptr_t dtxi_deque_pop(dtxi_deque *d) {
  int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
  dtxi_dq_array *a = atomic_load_explicit(&d->array, memory_order_relaxed);
  /* Sequentially consistent store and load (in place of a fence, which
   * thread sanitizers do not model): the store of bottom is ordered before
   * the load of top, as in the paper. */
  atomic_store_explicit(&d->bottom, b, memory_order_seq_cst);
  int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
  uintptr_t x = 0;
  if (t <= b) {
    x = atomic_load_explicit(&a->slot[b & a->mask], memory_order_relaxed);
    if (t == b) {
      /* Last item: race the thieves for it. */
      if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                   memory_order_relaxed))
        x = 0;
      atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
    }
  } else {
    atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
  }
  return x;
}

uintptr_t dtxi_deque_steal(dtxi_deque *d) {
  int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
  int64_t b = atomic_load_explicit(&d->bottom, memory_order_seq_cst);
  if (t >= b) return 0;
  dtxi_dq_array *a = atomic_load_explicit(&d->array, memory_order_acquire);
  uintptr_t x = atomic_load_explicit(&a->slot[t & a->mask], memory_order_relaxed);
  if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                               memory_order_relaxed))
    return 0;
  return x;
}
