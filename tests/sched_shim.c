/*
 * tests/sched_shim.c - the C side of tests/sched_shim.h: wraps the deque and
 * the notifier so the C++ tests can drive them. Compiled as C against the
 * real headers, so a changed signature breaks this file's build rather than
 * the tests' behaviour. Threads: whatever the caller's contract allows.
 */
#include "sched_shim.h"

#include <stdlib.h>

#include "scheduler/deque.h"
#include "scheduler/notifier.h"

struct dtxt_deque {
  dtxi_deque d;
};

struct dtxt_notifier {
  dtxi_notifier n;
};

dtxt_deque *dtxt_deque_new(int64_t capacity) {
  dtxt_deque *d = malloc(sizeof *d);
  if (d == NULL) return NULL;
  if (dtxi_deque_init(&d->d, capacity) != 0) {
    free(d);
    return NULL;
  }
  return d;
}

void dtxt_deque_free(dtxt_deque *d) {
  if (d == NULL) return;
  dtxi_deque_destroy(&d->d);
  free(d);
}

int dtxt_deque_push(dtxt_deque *d, uintptr_t item) { return dtxi_deque_push(&d->d, item); }
uintptr_t dtxt_deque_pop(dtxt_deque *d) { return dtxi_deque_pop(&d->d); }
uintptr_t dtxt_deque_steal(dtxt_deque *d) { return dtxi_deque_steal(&d->d); }
int64_t dtxt_deque_size(dtxt_deque *d) { return dtxi_deque_size(&d->d); }

int64_t dtxt_deque_capacity(dtxt_deque *d) {
  return atomic_load_explicit(&d->d.array, memory_order_relaxed)->mask + 1;
}

dtxt_notifier *dtxt_notifier_new(void) {
  dtxt_notifier *n = malloc(sizeof *n);
  if (n != NULL) dtxi_notifier_init(&n->n);
  return n;
}

void dtxt_notifier_free(dtxt_notifier *n) {
  if (n == NULL) return;
  dtxi_notifier_destroy(&n->n);
  free(n);
}

uint64_t dtxt_notifier_prepare(dtxt_notifier *n) { return dtxi_notifier_prepare(&n->n); }
void dtxt_notifier_cancel(dtxt_notifier *n) { dtxi_notifier_cancel(&n->n); }
void dtxt_notifier_commit(dtxt_notifier *n, uint64_t epoch) { dtxi_notifier_commit(&n->n, epoch); }
void dtxt_notifier_notify(dtxt_notifier *n, int all) { dtxi_notifier_notify(&n->n, all); }
uint64_t dtxt_notifier_epoch(dtxt_notifier *n) { return atomic_load(&n->n.epoch); }
int dtxt_notifier_waiters(dtxt_notifier *n) { return atomic_load(&n->n.waiters); }
