/*
 * scheduler/pool.c - the CPU worker threads of a cluster.
 *
 * Owns: the worker threads, their deques, the injection queue, the notifier.
 * Threads: each worker runs worker_main; any thread may submit; the thread
 * that created the pool destroys it.
 * A worker looks for work in this order: its own deque (LIFO, depth first),
 * the injection queue (FIFO), the other workers' deques (steal, oldest first).
 * With nothing found it tries a few more rounds, yielding the core between
 * them, then sleeps on the notifier until a producer wakes it.
 */
#include "scheduler/pool.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/error.h"
#include "trace/trace.h"

#define SPIN_ROUNDS 16
#define SPIN_NS 20000

static _Thread_local dtxi_worker *tls_worker;

dtxi_worker *dtxi_pool_self(const dtxi_pool *p) {
  dtxi_worker *w = tls_worker;
  return (w != NULL && w->pool == p) ? w : NULL;
}

static uint64_t next_rand(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

/* Takes a job from the injection queue, and with it up to a share of the
 * rest onto w's own deque (fewer trips through the lock when callers submit
 * many futures). */
static dtxi_job inject_take(dtxi_pool *p, dtxi_worker *w) {
  if (atomic_load_explicit(&p->inject_count, memory_order_acquire) == 0) return 0;
  dtxi_job j = 0, extra[32];
  size_t nextra = 0;
  pthread_mutex_lock(&p->inject_mu);
  if (p->inject_len > 0) {
    j = p->inject[p->inject_head];
    p->inject_head = (p->inject_head + 1) % p->inject_cap;
    p->inject_len--;
    size_t share = p->inject_len / (size_t)(p->n + 1);
    if (share > 32) share = 32;
    for (; nextra < share; nextra++) {
      extra[nextra] = p->inject[p->inject_head];
      p->inject_head = (p->inject_head + 1) % p->inject_cap;
      p->inject_len--;
    }
    atomic_store_explicit(&p->inject_count, p->inject_len, memory_order_release);
  }
  pthread_mutex_unlock(&p->inject_mu);
  /* Oldest first out of the deque's LIFO end: push newest first. */
  for (size_t i = nextra; i-- > 0;)
    if (dtxi_deque_push(&w->dq, extra[i]) != 0) dtxi_job_exec(w, extra[i]);
  return j;
}

static dtxi_job steal_any(dtxi_pool *p, dtxi_worker *w) {
  int n = p->n;
  int start = (int)(next_rand(&w->rng) % (uint64_t)n);
  for (int k = 0; k < n; k++) {
    dtxi_worker *v = &p->workers[(start + k) % n];
    if (v == w) continue;
    dtxi_job j = dtxi_deque_steal(&v->dq);
    if (j != 0) return j;
  }
  return 0;
}

static int work_visible(dtxi_pool *p);

/* Own deque first, then the injection queue, then the others' deques. A job
 * taken from a shared place, with more work in sight, wakes one more sleeper
 * (who does the same): producers skip wake-ups while a worker polls, and the
 * poller takes one job at a time, so the wake-up has to pass along. */
static dtxi_job find_job(dtxi_pool *p, dtxi_worker *w) {
  dtxi_job j = dtxi_deque_pop(&w->dq);
  if (j != 0) return j;
  j = inject_take(p, w);
  if (j == 0) j = steal_any(p, w);
  if (j != 0 && atomic_load_explicit(&p->notifier.waiters, memory_order_relaxed) > 0 && work_visible(p))
    dtxi_notifier_notify(&p->notifier, 0);
  return j;
}

static int work_visible(dtxi_pool *p) {
  if (atomic_load(&p->inject_count) > 0) return 1;
  for (int i = 0; i < p->n; i++)
    if (dtxi_deque_size(&p->workers[i].dq) > 0) return 1;
  return 0;
}

int dtxi_pool_help(dtxi_pool *p, dtxi_worker *w) {
  dtxi_job j = find_job(p, w);
  if (j == 0) return 0;
  dtxi_job_exec(w, j);
  return 1;
}

static void *worker_main(void *arg) {
  dtxi_worker *w = arg;
  dtxi_pool *p = w->pool;
  tls_worker = w;
  char name[32];
  snprintf(name, sizeof name, "dtx worker %d", w->index);
  dtxi_nvtx_name_thread(name);
  for (;;) {
    dtxi_job j = find_job(p, w);
    /* Idle: poll briefly (work often follows within microseconds), then
     * yield the core a few times, then sleep. */
    if (j == 0 && atomic_fetch_add(&p->spinning, 1) == 0) {
      /* One poller at a time, so pollers never crowd out the threads that
       * produce work (a caller waiting on a result, say). */
      /* It watches without taking, and stops polling before it takes: a
       * producer that skipped its wake-up because it saw a poller published
       * its job before the poller's decrement, so the find_job below sees
       * that job, and passes a wake-up along if more than one is waiting. */
      uint64_t until = dtxi_now_ns() + SPIN_NS;
      for (int k = 0; !work_visible(p); k++) {
        dtxi_cpu_relax();
        if ((k & 31) == 31 && (dtxi_now_ns() > until || atomic_load_explicit(&p->stop, memory_order_relaxed)))
          break;
      }
      atomic_fetch_sub(&p->spinning, 1);
      j = find_job(p, w);
    } else if (j == 0) {
      atomic_fetch_sub(&p->spinning, 1);
    }
    for (int round = 0; j == 0 && round < SPIN_ROUNDS; round++) {
      if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
      sched_yield();
      j = find_job(p, w);
    }
    if (j != 0) {
      dtxi_job_exec(w, j);
      continue;
    }
    uint64_t epoch = dtxi_notifier_prepare(&p->notifier);
    if (work_visible(p)) {
      dtxi_notifier_cancel(&p->notifier);
      continue;
    }
    if (atomic_load(&p->stop)) {
      dtxi_notifier_cancel(&p->notifier);
      break;
    }
    dtxi_notifier_commit(&p->notifier, epoch);
  }
  tls_worker = NULL;
  return NULL;
}

/* Wakes a sleeper unless a worker is polling, which will find the job. The
 * read-modify-write on `spinning` orders the job's publication before the
 * check: a poller that stops polling afterwards still sees the job before it
 * sleeps (it re-checks after announcing itself to the notifier). */
static void wake_for(dtxi_pool *p) {
  if (atomic_fetch_add(&p->spinning, 0) == 0) dtxi_notifier_notify(&p->notifier, 0);
}

void dtxi_worker_push(dtxi_worker *w, dtxi_job job) {
  if (dtxi_deque_push(&w->dq, job) != 0) {
    /* Out of memory growing the deque: run it here instead of losing it. */
    dtxi_job_exec(w, job);
    return;
  }
  wake_for(w->pool);
}

void dtxi_pool_submit(dtxi_pool *p, dtxi_job job) {
  dtxi_worker *w = dtxi_pool_self(p);
  if (w != NULL) {
    dtxi_worker_push(w, job);
    return;
  }
  pthread_mutex_lock(&p->inject_mu);
  if (p->inject_len == p->inject_cap) {
    size_t ncap = p->inject_cap ? p->inject_cap * 2 : 256;
    dtxi_job *nq = malloc(ncap * sizeof *nq);
    DTX_ASSERT(nq != NULL);
    for (size_t i = 0; i < p->inject_len; i++) nq[i] = p->inject[(p->inject_head + i) % p->inject_cap];
    free(p->inject);
    p->inject = nq;
    p->inject_cap = ncap;
    p->inject_head = 0;
  }
  p->inject[(p->inject_head + p->inject_len) % p->inject_cap] = job;
  p->inject_len++;
  atomic_store_explicit(&p->inject_count, p->inject_len, memory_order_release);
  pthread_mutex_unlock(&p->inject_mu);
  wake_for(p);
}

dtx_status dtxi_pool_create(int nthreads, void *owner, dtxi_pool **out) {
  if (nthreads < 1) return dtxi_fail(DTX_EINVAL, "worker thread count must be at least 1 (got %d)", nthreads);
  dtxi_pool *p = calloc(1, sizeof *p);
  if (p == NULL) return dtxi_fail(DTX_ENOMEM, "out of memory creating the worker pool");
  p->owner = owner;
  dtxi_notifier_init(&p->notifier);
  pthread_mutex_init(&p->inject_mu, NULL);
  atomic_init(&p->stop, 0);
  atomic_init(&p->spinning, 0);
  atomic_init(&p->inject_count, 0);
  p->workers = calloc((size_t)nthreads, sizeof *p->workers);
  if (p->workers == NULL) {
    dtxi_pool_destroy(p);
    return dtxi_fail(DTX_ENOMEM, "out of memory creating %d workers", nthreads);
  }
  for (int i = 0; i < nthreads; i++) {
    dtxi_worker *w = &p->workers[i];
    w->pool = p;
    w->index = i;
    w->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
    atomic_init(&w->tasks_run, 0);
    atomic_init(&w->tasks_failed, 0);
    if (dtxi_deque_init(&w->dq, 1024) != 0) {
      dtxi_pool_destroy(p);
      return dtxi_fail(DTX_ENOMEM, "out of memory creating worker deques");
    }
    p->n = i + 1;
  }
  for (int i = 0; i < nthreads; i++) {
    if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
      /* Stop and join the ones already started. */
      int started = i;
      p->n = nthreads;
      atomic_store(&p->stop, 1);
      dtxi_notifier_notify(&p->notifier, 1);
      for (int k = 0; k < started; k++) pthread_join(p->workers[k].thread, NULL);
      for (int k = 0; k < nthreads; k++) dtxi_deque_destroy(&p->workers[k].dq);
      free(p->workers);
      p->workers = NULL;
      p->n = 0;
      dtxi_pool_destroy(p);
      return dtxi_fail(DTX_ENOMEM, "cannot start worker thread %d of %d", i, nthreads);
    }
  }
  *out = p;
  return DTX_OK;
}

void dtxi_pool_destroy(dtxi_pool *p) {
  if (p == NULL) return;
  if (p->workers != NULL) {
    atomic_store(&p->stop, 1);
    dtxi_notifier_notify(&p->notifier, 1);
    for (int i = 0; i < p->n; i++) pthread_join(p->workers[i].thread, NULL);
    for (int i = 0; i < p->n; i++) dtxi_deque_destroy(&p->workers[i].dq);
    free(p->workers);
  }
  free(p->inject);
  pthread_mutex_destroy(&p->inject_mu);
  dtxi_notifier_destroy(&p->notifier);
  free(p);
}
