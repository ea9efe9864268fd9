/*
 * host/cluster.h - the cluster's internal state, shared by the scheduler.
 */
#ifndef DTXI_CLUSTER_H
#define DTXI_CLUSTER_H

#include <pthread.h>
#include <stdatomic.h>

#include "dtx/cluster.h"
#include "host/mem.h"
#include "host/trace.h"
#include "scheduler/pool.h"

struct dtx_future;

struct dtx_cluster {
  dtx_scheduler scheduler;
  int nthreads;
  char *trace_path;
  dtxi_trace *trace; /* NULL when not tracing */
  int nvtx;          /* emit NVTX ranges per task (a tool is attached, or tracing) */
  dtxi_mem *mem;
  dtxi_pool *pool;
  _Atomic int64_t caller_tasks_run; /* tasks run on non-worker threads (sync) */
  _Atomic int64_t caller_tasks_failed;

  /* Futures: every unfinished future is on the `live` list. Waiters sleep on
   * fcv; a finishing future broadcasts when fwaiters > 0. */
  pthread_mutex_t fmu;
  pthread_cond_t fcv;
  _Atomic int fwaiters;
  struct dtx_future *live;
  int closing;
};

/* Adds n executions (and f failures) to the stats of the calling thread. */
void dtxi_cluster_count(dtx_cluster *cl, int64_t n, int64_t f);

#endif /* DTXI_CLUSTER_H */
