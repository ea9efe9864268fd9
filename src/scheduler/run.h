/*
 * scheduler/run.h - the state of one graph computation, shared by the CPU
 * engine (compute.c) and the GPU executor (gpu/).
 */
#ifndef DTXI_RUN_H
#define DTXI_RUN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "scheduler/sched.h"
#include "scheduler/graph.h"

typedef struct rerr {
  struct rerr *next;
  char msg[];
} rerr;

typedef struct rtask {
  _Atomic int32_t pending; /* inputs not yet done */
  uint32_t gid;
  struct run *run;
  uint32_t dep_off, ndeps; /* dependents: run->deps[dep_off .. dep_off + ndeps) */
  int32_t nrefs;           /* dependents' reads + requested outputs */
  int32_t tid;             /* trace track that ran it */
  dtx_chunk *out;
  struct gres *res; /* a copy of out kept on the GPU that made it, or NULL */
  const char *err; /* "key: message" when it or an input failed */
  uint64_t t0, t1;
  uint8_t on_cpu; /* cluster scheduler: this dual (CPU + CUDA) task runs on the CPU */
  int16_t pid;    /* trace process of its slice: 0 = host (written at the end), else a GPU's */
  uint8_t ahead;  /* cluster: enqueued on a GPU behind an input still running (not dispatched again) */
  uint8_t gpu_done; /* cluster: its GPU job has finished (progress thread only) */
} rtask;

typedef struct range {
  struct run *run;
  uint32_t lo, hi; /* roots[lo .. hi) */
} range;

enum { S_MAP, S_POST, S_HEIGHT, S_STACK, S_RT, S_ROOTS, S_RANGES, S_DEPS };

typedef struct run {
  dtx_cluster *cl;
  dtxi_scratch *scratch;
  const dtx_graph *g;
  rtask *rt;
  uint32_t m;
  uint32_t *map;  /* graph id -> run index (for culled tasks) */
  uint32_t *deps; /* dependents, CSR */
  uint32_t *roots;
  uint32_t nroots;
  range *ranges;
  _Atomic uint32_t nranges;
  _Atomic int32_t remaining;
  _Atomic int any_error;
  _Atomic(rerr *) errors; /* every failure record; the first one pushed is `first` */
  _Atomic(rerr *) first;
  int trace;
  int nvtx;
  int threads; /* run by the threads or cluster scheduler (else sync) */
  int gpu;     /* run by the cluster scheduler on a cluster with GPUs */
  struct dtxi_rootq *rootq; /* cluster: root tasks waiting to start on a GPU (gpu/admit.c) */
  struct dtxi_watch *watch; /* progress bar / performance report (scheduler/progress.h), or NULL */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  _Atomic int done;
} run;

/* Drops one read of t's output (its host chunk and any device copy). */
void dtxi_run_release_output(run *r, rtask *t);
/* Marks t failed with msg (taking ownership of msg; NULL: no message). */
void dtxi_run_fail(run *r, rtask *t, char *msg);
/* A task finished off the CPU workers (on a GPU): drops its reads of its
 * inputs, readies its dependents (dispatching GPU ones, queueing CPU ones on
 * the pool) and counts it done (`ran`: its implementation ran, as opposed to
 * failing before it could start). Any thread. */
void dtxi_run_task_done(run *r, rtask *t, int ran);
/* Hands t to the CPU workers to be marked failed (an input failed) and to
 * pass that on to its dependents. Any thread. */
void dtxi_run_skip(run *r, rtask *t);
/* Hands ready task t (placed on a GPU, not started there) to the CPU workers
 * to run its CPU implementation. Any thread. */
void dtxi_run_on_cpu(run *r, rtask *t);

#endif /* DTXI_RUN_H */
