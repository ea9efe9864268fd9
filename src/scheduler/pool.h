/*
 * scheduler/pool.h - the CPU worker threads of a cluster.
 *
 * Jobs are tagged pointers (low 3 bits: what the pointer is). Each worker owns
 * a Chase-Lev deque; other threads hand jobs in through a mutex-protected
 * injection queue. Idle workers steal, then sleep on the notifier.
 */
#ifndef DTXI_POOL_H
#define DTXI_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "dtx/status.h"
#include "scheduler/deque.h"
#include "scheduler/notifier.h"

typedef uintptr_t dtxi_job;
#define DTXI_JOB_TAG_MASK ((uintptr_t)7)
#define DTXI_JOB_TASK ((uintptr_t)0)   /* a graph task (struct rtask) */
#define DTXI_JOB_RANGE ((uintptr_t)1)  /* a range of a graph's root tasks */
#define DTXI_JOB_FUTURE ((uintptr_t)2) /* a future (struct dtx_future) */

typedef struct dtxi_pool dtxi_pool;

/* A pause inside polling loops (eases the core for its hyperthread sibling). */
static inline void dtxi_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

typedef struct dtxi_worker {
  dtxi_deque dq;
  dtxi_pool *pool;
  int index;
  uint64_t rng;
  _Atomic int64_t tasks_run; /* written by this worker only */
  _Atomic int64_t tasks_failed;
  pthread_t thread;
  char pad[64];
} dtxi_worker;

struct dtxi_pool {
  int n;
  dtxi_worker *workers;
  dtxi_notifier notifier;
  _Atomic int stop;
  _Atomic int spinning; /* workers polling for work right now (at most one polls) */
  pthread_mutex_t inject_mu;
  dtxi_job *inject; /* ring buffer */
  size_t inject_cap, inject_head, inject_len;
  _Atomic size_t inject_count;
  void *owner; /* the dtx_cluster, for job callbacks */
};

dtx_status dtxi_pool_create(int nthreads, void *owner, dtxi_pool **out);
/* Runs every job still queued, then stops and joins the workers. */
void dtxi_pool_destroy(dtxi_pool *p);
/* Queues a job from any thread: on the caller's own deque when it is a
 * worker of this pool, else on the injection queue. Wakes a sleeper. */
void dtxi_pool_submit(dtxi_pool *p, dtxi_job job);
/* The calling thread's worker in this pool, or NULL. */
dtxi_worker *dtxi_pool_self(const dtxi_pool *p);
/* Runs one queued job on behalf of worker w if one can be found. 1 if it ran one. */
int dtxi_pool_help(dtxi_pool *p, dtxi_worker *w);
/* Pushes onto w's own deque (w must be the calling thread's worker). */
void dtxi_worker_push(dtxi_worker *w, dtxi_job job);

/* Defined by the scheduler: runs one job on worker w. */
void dtxi_job_exec(dtxi_worker *w, dtxi_job job);

#endif /* DTXI_POOL_H */
