/*
 * scheduler/sched.h - the state the scheduler runs a cluster's work on.
 *
 * Owns nothing itself: the runtime (runtime/cluster.c) creates a dtx_cluster
 * whose first member is this struct, fills it once at creation (the worker
 * pool, the host memory accounting, the chunk store, the trace, the GPUs) and
 * tears it down at destroy. The scheduler layer reaches it from any dtx_cluster handle through
 * dtxi_sched_of, and knows nothing else of the cluster: settings arrive here
 * already resolved, so nothing below the runtime reads the environment.
 *
 * Threads: the fields set at creation are read-only afterwards; the futures'
 * list and wake-up state follow the rules written beside them.
 */
#ifndef DTXI_SCHED_H
#define DTXI_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "data/mem.h"
#include "data/store.h"
#include "device/links.h"
#include "dtx/cluster.h"
#include "scheduler/executor.h"
#include "scheduler/pool.h"
#include "trace/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dtx_future;
struct dtxi_gpus;

/* Reusable planning buffers: computations take a set from the cluster's free
 * list and give it back, so steady-state computes do not fault in fresh pages. */
#define DTXI_SCRATCH_SLOTS 8
typedef struct dtxi_scratch {
  struct dtxi_scratch *next;
  void *buf[DTXI_SCRATCH_SLOTS];
  size_t cap[DTXI_SCRATCH_SLOTS];
} dtxi_scratch;

typedef struct dtxi_sched {
  dtx_scheduler scheduler; /* the cluster's default scheduler */
  int nthreads;
  dtxi_trace *trace;       /* NULL when not tracing */
  const char *report_path; /* performance report (DTX_REPORT) written by each computation, or NULL;
                        then `trace` is open too (a temporary one without a trace path) */
  int nvtx;                /* emit NVTX ranges per task (a tool is attached, or tracing) */
  dtx_progress progress;   /* progress bars (DTX_PROGRESS): DTX_PROGRESS_AUTO, _ON or _OFF */
  dtxi_mem *mem;
  dtxi_pool *pool;
  _Atomic int64_t caller_tasks_run; /* tasks run on non-worker threads (sync) */
  _Atomic int64_t caller_tasks_failed;

  /* Futures: every unfinished future is on the `live` list (guarded by the
   * spin lock live_lock: a few pointer moves). Waiters sleep on fcv under fmu;
   * a finishing future broadcasts when fwaiters > 0 or the cluster closes. */
  pthread_mutex_t fmu;
  pthread_cond_t fcv;
  _Atomic int fwaiters;
  _Atomic int live_lock;
  struct dtx_future *live;
  int closing; /* guarded by live_lock */

  /* The chunk store: persisted arrays' chunks; the GPU executor attaches to
   * it while it runs (their device memory is its to charge and give back). */
  dtxi_store store;

  /* The GPU executor's state; NULL when the cluster runs on CPU threads only. */
  struct dtxi_gpus *gpus;
  dtxi_links links; /* measured at start-up */

  /* Executors registered for the cluster scheduler (dtxi_sched_add_executor),
   * offered tasks before the GPUs; set before computations, then read-only. */
  const dtxi_executor *executors[DTXI_MAX_REGISTERED];
  int nexecutors;

  pthread_mutex_t scratch_mu;
  dtxi_scratch *scratch; /* free list */
} dtxi_sched;

/* The scheduler state of a cluster: a dtx_cluster begins with its dtxi_sched
 * (runtime/cluster.h checks this at compile time). */
static inline dtxi_sched *dtxi_sched_of(const dtx_cluster *cl) { return (dtxi_sched *)(void *)cl; }
/* The cluster's chunk store (NULL for a NULL cluster). */
static inline dtxi_store *dtxi_sched_store(const dtx_cluster *cl) {
  return cl != NULL ? &dtxi_sched_of(cl)->store : NULL;
}

/* Sets up the locks and counters of a zeroed s; dtxi_sched_fini undoes it
 * and frees the scratch sets. */
void dtxi_sched_init(dtxi_sched *s);
void dtxi_sched_fini(dtxi_sched *s);

dtxi_scratch *dtxi_scratch_take(dtxi_sched *s);
void dtxi_scratch_give(dtxi_sched *s, dtxi_scratch *sc);
/* Buffer `slot` of at least `bytes` bytes (contents undefined); NULL when out of memory. */
void *dtxi_scratch_get(dtxi_scratch *s, int slot, size_t bytes);

/* Adds n executions (and f failures) to the stats of the calling thread. */
void dtxi_sched_count(dtxi_sched *s, int64_t n, int64_t f);

#ifdef __cplusplus
}
#endif

#endif /* DTXI_SCHED_H */
