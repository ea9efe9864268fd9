/*
 * host/cluster.h - the cluster's internal state, shared by the scheduler.
 */
#ifndef DTXI_CLUSTER_H
#define DTXI_CLUSTER_H

#include <pthread.h>
#include <stdatomic.h>

#include "dtx/cluster.h"
#include "host/device.h"
#include "host/links.h"
#include "host/mem.h"
#include "host/trace.h"
#include "scheduler/pool.h"

struct dtx_future;
struct dtxi_backend;
struct dtxi_gpus;

/* Reusable planning buffers: computations take a set from the cluster's free
 * list and give it back, so steady-state computes do not fault in fresh pages. */
#define DTXI_SCRATCH_SLOTS 8
typedef struct dtxi_scratch {
  struct dtxi_scratch *next;
  void *buf[DTXI_SCRATCH_SLOTS];
  size_t cap[DTXI_SCRATCH_SLOTS];
} dtxi_scratch;

struct dtx_cluster {
  dtx_scheduler scheduler;
  int scheduler_given; /* by the config (not the default) */
  int nthreads;
  char *trace_path;
  dtxi_trace *trace; /* NULL when not tracing */
  char *report_path; /* performance report (DTX_REPORT) written by each computation, or NULL;
                        then `trace` is open too (a temporary one without trace_path) */
  int nvtx;          /* emit NVTX ranges per task (a tool is attached, or tracing) */
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

  /* GPUs (DTX_GPUS): the backend and the cluster scheduler's per-device
   * state; both NULL when the cluster runs on CPU threads only. */
  struct dtxi_backend *backend;
  struct dtxi_gpus *gpus;
  char gpu_why[256]; /* why there are none */
  dtxi_links links;  /* measured at start-up */
  size_t gpu_limits[DTXI_MAX_GPUS];
  int streams_per_gpu;

  pthread_mutex_t scratch_mu;
  dtxi_scratch *scratch; /* free list */
};

dtxi_scratch *dtxi_scratch_take(dtx_cluster *cl);
void dtxi_scratch_give(dtx_cluster *cl, dtxi_scratch *s);
/* Buffer `slot` of at least `bytes` bytes (contents undefined); NULL when out of memory. */
void *dtxi_scratch_get(dtxi_scratch *s, int slot, size_t bytes);

/* Adds n executions (and f failures) to the stats of the calling thread. */
void dtxi_cluster_count(dtx_cluster *cl, int64_t n, int64_t f);

#endif /* DTXI_CLUSTER_H */
