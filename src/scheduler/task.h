/*
 * scheduler/task.h - what a running task sees (the dtx_task_ctx), shared by
 * graph computations and futures.
 */
#ifndef DTXI_TASK_H
#define DTXI_TASK_H

#include <stdint.h>

#include "data/mem.h"
#include "dtx/future.h"
#include "dtx/graph.h"
#include "scheduler/graph.h"

struct run;
struct rtask;

struct dtx_task_ctx {
  dtx_cluster *cl;
  int worker;
  int attempt;
  /* graph task */
  struct run *run;
  struct rtask *rt;
  const gtask *gt;
  /* future */
  struct dtx_future *fut;
  /* GPU task (cluster scheduler): inputs and output are device memory */
  struct gjob *gpu;
  /* results */
  dtx_chunk *out;
  int32_t out_refs;                     /* references a new output starts with */
  char *error;                          /* set by dtx_task_fail (malloc'd) */
  dtx_chunk *scratch[DTX_TASK_SCRATCH]; /* dtx_task_scratch's, released when the implementation returns */
  int nscratch;
};

dtx_status dtxi_desc_check(const char *fn, const dtx_task_desc *d, int graph_task);
/* Runs the implementation. On failure returns 1 with *msg a malloc'd
 * "key: message" (NULL when out of memory) and the output dropped. */
int dtxi_task_invoke(dtx_task_ctx *ctx, dtx_task_fn fn, const char *prefix, int nidx, const int64_t *idx,
                     char **msg);
/* A graph task on a host thread: the chunk of input i (NULL: none). */
dtx_chunk *dtxi_task_input_chunk(const dtx_task_ctx *ctx, int i);
/* A graph task on a host thread outputs chunk c itself (a persisted one,
 * lent): pinned like a new output until the task is over, with the output's
 * references added to c's. The task's last step on success: DTX_OK, or
 * DTX_EIO when c cannot be read back from disk. */
dtx_status dtxi_task_lend(dtx_task_ctx *ctx, dtx_chunk *c);
/* The cluster's current thread worker index or -1. */
int dtxi_current_worker(dtx_cluster *cl);
/* Runs a future job (future.c). */
void dtxi_future_exec(dtxi_worker *w, struct dtx_future *f);
/* A future's inputs and arguments, for dtx_task_input & co (future.c). */
int dtxi_future_ninputs(const struct dtx_future *f);
const dtx_chunk *dtxi_future_input(const struct dtx_future *f, int i);
const void *dtxi_future_args(const struct dtx_future *f, size_t *size);
void dtxi_future_key(const struct dtx_future *f, char *buf, size_t n);
/* Finishes every future of the cluster at destroy (future.c). */
void dtxi_futures_shutdown(dtx_cluster *cl);

#endif /* DTXI_TASK_H */
