/*
 * scheduler/deque.h - per-worker Chase-Lev work-stealing deque.
 *
 * The owner pushes and pops at bottom; thieves steal at top.
 * Invariant: top <= bottom + 1; size = bottom - top <= capacity.
 * Items are nonzero uintptr_t job words; 0 means "empty".
 * Memory order follows Le et al., PPoPP'13, with the publishing store of
 * bottom made a release so that thread sanitizers see the hand-over.
 * The array grows by doubling; retired arrays are kept until destroy because
 * a thief may still be reading one.
 */
#ifndef DTXI_DEQUE_H
#define DTXI_DEQUE_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct dtxi_dq_array {
  int64_t mask; /* capacity - 1, capacity a power of two */
  struct dtxi_dq_array *retired_next;
  _Atomic uintptr_t slot[];
} dtxi_dq_array;

typedef struct dtxi_deque {
  _Alignas(64) _Atomic int64_t top;
  _Alignas(64) _Atomic int64_t bottom;
  _Atomic(dtxi_dq_array *) array;
  dtxi_dq_array *retired;
} dtxi_deque;

int dtxi_deque_init(dtxi_deque *d, int64_t capacity);
void dtxi_deque_destroy(dtxi_deque *d);
/* Owner only. Returns 0, or -1 when growing failed (out of memory). */
int dtxi_deque_push(dtxi_deque *d, uintptr_t item);
/* Owner only. 0 when empty. */
uintptr_t dtxi_deque_pop(dtxi_deque *d);
/* Any thread. 0 when empty or when it lost a race (try again later). */
uintptr_t dtxi_deque_steal(dtxi_deque *d);
/* Approximate size, any thread. */
static inline int64_t dtxi_deque_size(dtxi_deque *d) {
  int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
  int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
  return b > t ? b - t : 0;
}

#endif /* DTXI_DEQUE_H */
