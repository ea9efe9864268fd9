/*
 * scheduler/run.h - the state of one graph computation, shared by the plan
 * (plan.c), the engine (engine.c) and the executors (exec_cpu.c, exec_gpu.c,
 * gpu/).
 *
 * Owner: the thread calling dtx_compute, for the duration of the call.
 * Threads: what the plan writes is read-only while the tasks run, except the
 * fields whose comments say who writes them.
 */
#ifndef DTXI_RUN_H
#define DTXI_RUN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "scheduler/executor.h"
#include "scheduler/graph.h"
#include "scheduler/sched.h"

typedef struct rerr {
  struct rerr *next;
  char msg[];
} rerr;

/* The small fields sit beside `pending`, on its cache line: the thread that
 * brings pending to zero reads `exec` next. */
typedef struct rtask {
  _Atomic int32_t pending; /* inputs not yet done */
  uint32_t gid;
  uint8_t exec;      /* its executor: index into run.exec (set at plan time) */
  uint8_t time_host; /* time its CPU implementation (for a host_done hook; set by an executor) */
  uint8_t on_cpu;    /* cluster scheduler: this dual (CPU + CUDA) task runs on the CPU */
  uint8_t ahead;     /* claimed by its executor before it was ready (a GPU: enqueued behind an input
                        still running): the engine does not hand it over again */
  uint8_t gpu_done;  /* cluster: its GPU job has finished (progress thread only) */
  int16_t pid;       /* trace process of its slice: 0 = host (written at the end), else a GPU's */
  struct run *run;
  uint32_t dep_off, ndeps; /* dependents: run->deps[dep_off .. dep_off + ndeps) */
  int32_t nrefs;           /* dependents' reads + requested outputs */
  int32_t tid;             /* trace track that ran it */
  dtx_chunk *out;
  struct gres *res; /* copies of out on devices (released by run.release_copies), or NULL */
  const char *err;  /* "key: message" when it or an input failed */
  uint64_t t0, t1;
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

  /* The executors, in the order they claim tasks; the CPU threads last. */
  const dtxi_executor *exec[DTXI_MAX_EXECUTORS];
  const dtxi_executor *host[DTXI_MAX_EXECUTORS];
  uint8_t nexec;
  uint8_t cpu;   /* index of the CPU threads (nexec - 1) */
  uint8_t nhost; /* executors with a host_done hook: host[0 .. nhost) */
  uint8_t plain; /* no tracing, NVTX nor host_done hook: host threads run tasks bare (set when placing) */
  void (*release_copies)(struct gres *res); /* for rtask.res; NULL when no executor makes copies */
  /* What the executors offer tasks (set by their begin hooks): */
  int ndevices; /* GPUs a task's `where` may name */
  int cuda;     /* tasks with only a CUDA implementation can run */

  int gpu;                  /* the GPU executor takes part in this run (gpu/) */
  struct dtxi_rootq *rootq; /* cluster: root tasks waiting to start on a GPU (gpu/admit.c) */
  struct dtxi_watch *watch; /* progress bar / performance report (scheduler/progress.h), or NULL */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  _Atomic int done;
} run;

/* Drops one read of t's output (its host chunk and any device copy). */
static inline void dtxi_run_release_output(run *r, rtask *t) {
  if (t->out != NULL) dtxi_chunk_unref(t->out);
  if (t->res != NULL) r->release_copies(t->res);
}

/* Drops t's reads of its inputs. */
static inline void dtxi_run_release_inputs(run *r, const rtask *t) {
  const gtask *gt = &r->g->tasks[t->gid];
  const uint32_t *in = dtxi_gt_inputs(gt);
  for (uint32_t i = 0; i < gt->ninputs; i++) dtxi_run_release_output(r, &r->rt[r->map[in[i]]]);
}

/* Hands ready task t to its executor. Any thread. */
static inline void dtxi_run_ready(run *r, rtask *t) {
  const dtxi_executor *e = r->exec[t->exec];
  e->dispatch(e, r, t);
}

/* The key of graph task gid. */
static inline void dtxi_run_key(const dtx_graph *g, uint32_t gid, char *buf, size_t n) {
  const gtask *t = &g->tasks[gid];
  dtxi_key_format(g->prefixes[t->prefix], t->nidx, t->idx, buf, n);
}

#endif /* DTXI_RUN_H */
