/*
 * scheduler/notifier.h - an event count: idle workers sleep, producers wake them.
 *
 * A worker that finds no work calls prepare (announcing itself as a waiter and
 * reading the epoch), checks the queues once more, then either cancels or
 * commits. A producer publishes its work, then calls notify, which bumps the
 * epoch under the mutex only when someone is waiting. Either the waiter's
 * re-check sees the work, or the producer sees the waiter (both sides use
 * sequentially consistent operations between publishing and checking), so no
 * wake-up is lost. Sleeping is on a condition variable: an idle pool uses no CPU.
 */
#ifndef DTXI_NOTIFIER_H
#define DTXI_NOTIFIER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct dtxi_notifier {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  _Atomic uint64_t epoch;
  _Atomic int waiters;
} dtxi_notifier;

static inline void dtxi_notifier_init(dtxi_notifier *n) {
  pthread_mutex_init(&n->mu, NULL);
  pthread_cond_init(&n->cv, NULL);
  atomic_init(&n->epoch, 0);
  atomic_init(&n->waiters, 0);
}

static inline void dtxi_notifier_destroy(dtxi_notifier *n) {
  pthread_cond_destroy(&n->cv);
  pthread_mutex_destroy(&n->mu);
}

static inline uint64_t dtxi_notifier_prepare(dtxi_notifier *n) {
  atomic_fetch_add(&n->waiters, 1);
  return atomic_load(&n->epoch);
}

static inline void dtxi_notifier_cancel(dtxi_notifier *n) { atomic_fetch_sub(&n->waiters, 1); }

static inline void dtxi_notifier_commit(dtxi_notifier *n, uint64_t epoch) {
  pthread_mutex_lock(&n->mu);
  while (atomic_load(&n->epoch) == epoch) pthread_cond_wait(&n->cv, &n->mu);
  pthread_mutex_unlock(&n->mu);
  atomic_fetch_sub(&n->waiters, 1);
}

/* all: wake every waiter (shutdown), else one. */
static inline void dtxi_notifier_notify(dtxi_notifier *n, int all) {
  /* A read-modify-write orders the caller's publishing before this check
   * (a full barrier that thread sanitizers understand, unlike a fence). */
  if (atomic_fetch_add(&n->waiters, 0) == 0) return;
  pthread_mutex_lock(&n->mu);
  atomic_fetch_add(&n->epoch, 1);
  if (all)
    pthread_cond_broadcast(&n->cv);
  else
    pthread_cond_signal(&n->cv);
  pthread_mutex_unlock(&n->mu);
}

#endif /* DTXI_NOTIFIER_H */
