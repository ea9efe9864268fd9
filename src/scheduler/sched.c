/*
 * scheduler/sched.c - the scheduler's per-cluster state: set-up, the
 * planning scratch free list, the caller-thread counters and the executors
 * registered for the cluster scheduler.
 *
 * Threads: init and fini by the thread creating or destroying the cluster;
 * the scratch list under scratch_mu, the counters atomic, from any thread.
 */
#include "scheduler/sched.h"

#include <stdlib.h>
#include <time.h>

#include "base/error.h"

#define SCRATCH_KEEP ((size_t)256 << 20) /* sets larger than this are freed, not kept */

void dtxi_sched_init(dtxi_sched *s) {
  pthread_mutex_init(&s->fmu, NULL);
  pthread_mutex_init(&s->scratch_mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->fcv, &ca);
  pthread_condattr_destroy(&ca);
  atomic_init(&s->fwaiters, 0);
  atomic_init(&s->live_lock, 0);
  atomic_init(&s->caller_tasks_run, 0);
  atomic_init(&s->caller_tasks_failed, 0);
  dtxi_store_init(&s->store);
}

static void scratch_free(dtxi_scratch *sc) {
  for (int i = 0; i < DTXI_SCRATCH_SLOTS; i++) free(sc->buf[i]);
  free(sc);
}

void dtxi_sched_fini(dtxi_sched *s) {
  for (dtxi_scratch *sc = s->scratch, *next; sc != NULL; sc = next) {
    next = sc->next;
    scratch_free(sc);
  }
  s->scratch = NULL;
  pthread_mutex_destroy(&s->scratch_mu);
  pthread_cond_destroy(&s->fcv);
  pthread_mutex_destroy(&s->fmu);
}

dtx_status dtxi_sched_add_executor(dtx_cluster *cl, const dtxi_executor *e) {
  if (cl == NULL || e == NULL)
    return dtxi_fail(DTX_EINVAL, "dtxi_sched_add_executor: cluster or executor is NULL");
  dtxi_sched *s = dtxi_sched_of(cl);
  if (s->nexecutors == DTXI_MAX_REGISTERED)
    return dtxi_fail(DTX_EINVAL, "dtxi_sched_add_executor: a cluster takes at most %d executors",
                     DTXI_MAX_REGISTERED);
  s->executors[s->nexecutors++] = e;
  return DTX_OK;
}

void dtxi_sched_count(dtxi_sched *s, int64_t n, int64_t f) {
  atomic_fetch_add_explicit(&s->caller_tasks_run, n, memory_order_relaxed);
  if (f != 0) atomic_fetch_add_explicit(&s->caller_tasks_failed, f, memory_order_relaxed);
}

dtxi_scratch *dtxi_scratch_take(dtxi_sched *s) {
  pthread_mutex_lock(&s->scratch_mu);
  dtxi_scratch *sc = s->scratch;
  if (sc != NULL) s->scratch = sc->next;
  pthread_mutex_unlock(&s->scratch_mu);
  return sc != NULL ? sc : calloc(1, sizeof *sc);
}

void dtxi_scratch_give(dtxi_sched *s, dtxi_scratch *sc) {
  if (sc == NULL) return;
  size_t total = 0;
  for (int i = 0; i < DTXI_SCRATCH_SLOTS; i++) total += sc->cap[i];
  if (total > SCRATCH_KEEP) {
    scratch_free(sc);
    return;
  }
  pthread_mutex_lock(&s->scratch_mu);
  sc->next = s->scratch;
  s->scratch = sc;
  pthread_mutex_unlock(&s->scratch_mu);
}

void *dtxi_scratch_get(dtxi_scratch *s, int slot, size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (s->cap[slot] < bytes) {
    free(s->buf[slot]);
    size_t cap = bytes + bytes / 4;
    s->buf[slot] = malloc(cap);
    s->cap[slot] = s->buf[slot] != NULL ? cap : 0;
  }
  return s->buf[slot];
}
