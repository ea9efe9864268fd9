/*
 * scheduler/exec_cpu.c - the CPU-thread executor: graph tasks on the
 * cluster's worker pool (and, under `sync`, on the calling thread).
 *
 * It is the last executor of every run and the run's host (executor.h): the
 * run starts as one job holding the whole range of root tasks; a worker
 * running a range splits off upper halves for thieves, runs its own roots
 * in order (after each, one of the dependents it made ready; the others go
 * on its deque for thieves) and hands the others' roots to their executors'
 * start_root. When a task completes, its worker runs its first newly ready
 * CPU dependent next (depth first) and pushes the others on its deque;
 * dependents of other executors go to their dispatch. Roots that feed one
 * dependent (a wide fan-in) pay one atomic per job, not one per root.
 *
 * Threads: the pool's workers run the jobs; any thread may submit one.
 * Per task, `pending` counts inputs not yet done (the thread that brings it
 * to zero hands the task on), and `remaining` counts the run's tasks not yet
 * done: a job subtracts what it ran as its very last touch of the run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "scheduler/engine.h"
#include "scheduler/progress.h"
#include "scheduler/task.h"

static inline dtxi_job task_job(rtask *t) { return (dtxi_job)t | DTXI_JOB_TASK; }

/* ---- one task ----------------------------------------------------------------- */

/* Brings t's inputs spilled to disk back, pinned while it runs: 0, or 1 with
 * *msg the failure ("key: why") and *npinned the inputs pinned so far. */
static int pin_inputs(run *r, const gtask *gt, const char *prefix, uint32_t *npinned, char **msg) {
  const uint32_t *in = dtxi_gt_inputs(gt);
  for (; *npinned < gt->ninputs; ++*npinned)
    if (dtxi_chunk_pin(r->rt[r->map[in[*npinned]]].out) != DTX_OK) {
      char key[DTX_MAX_KEY], buf[1024];
      dtxi_key_format(prefix, gt->nidx, gt->idx, key, sizeof key);
      snprintf(buf, sizeof buf, "%s: %s", key, dtx_last_error());
      *msg = strdup(buf);
      return 1;
    }
  return 0;
}

/* Runs t's CPU implementation (or marks t failed when an input failed) and
 * records the output or the failure; worker and tid: what the task and the
 * trace see. A `plain` run (no tracing, no NVTX, no host_done hook) skips
 * the extras with one test. */
static inline int exec_cpu(run *r, rtask *t, int worker, int tid) {
  if (atomic_load_explicit(&r->any_error, memory_order_relaxed)) (void)dtxi_run_input_failed(r, t);
  if (t->err != NULL) return DTXI_SKIPPED;
  const dtx_graph *g = r->g;
  const gtask *gt = &g->tasks[t->gid];
  dtx_task_ctx ctx = {.cl = r->cl, .worker = worker, .run = r, .rt = t, .gt = gt, .out_refs = t->nrefs};
  const char *prefix = g->prefixes[gt->prefix];
  const int plain = r->plain;
  int timed = 0;
  if (!plain) {
    if (r->nvtx) dtxi_nvtx_push(prefix, gt->nidx > 0 ? gt->idx[0] : 0);
    timed = r->trace || t->time_host;
    if (timed) t->t0 = dtxi_now_ns();
  }
  char *msg = NULL;
  uint32_t npinned = 0;
  int bad = dtxi_sched_of(r->cl)->mem->limit > 0 ? pin_inputs(r, gt, prefix, &npinned, &msg) : 0;
  if (!bad) bad = dtxi_task_invoke(&ctx, g->impls[gt->impl].cpu, prefix, gt->nidx, gt->idx, &msg);
  for (uint32_t i = 0; i < npinned; i++) dtxi_chunk_unpin(r->rt[r->map[dtxi_gt_inputs(gt)[i]]].out);
  if (!plain) {
    if (timed) {
      t->t1 = dtxi_now_ns();
      t->tid = tid;
    }
    if (r->nvtx) dtxi_nvtx_pop();
  }
  if (bad) {
    dtxi_run_fail(r, t, msg);
    return DTXI_RAN_FAILED;
  }
  t->out = ctx.out;
  dtxi_chunk_unpin(t->out); /* made: it may spill now */
  if (!plain && r->nhost) dtxi_run_host_done(r, t, timed ? (int64_t)(t->t1 - t->t0) : -1);
  return DTXI_RAN_OK;
}

int dtxi_run_exec_cpu(run *r, rtask *t, int worker) {
  dtxi_trace *tr = dtxi_sched_of(r->cl)->trace;
  int tid = worker >= 0 ? worker + 1 : (r->trace ? dtxi_trace_caller_tid(tr) : 0);
  return exec_cpu(r, t, worker, tid);
}

/* exec_cpu, then the reads of t's inputs dropped and the progress counted. */
static inline int cpu_body(run *r, rtask *t, int worker, int tid) {
  int outcome = exec_cpu(r, t, worker, tid);
  dtxi_run_release_inputs(r, t);
  if (r->watch != NULL) dtxi_watch_task(r->watch, worker, r->g->tasks[t->gid].prefix, t->err != NULL);
  return outcome;
}

int dtxi_cpu_task(run *r, rtask *t, int worker, int tid) { return cpu_body(r, t, worker, tid); }

/* ---- jobs on the workers ---------------------------------------------------- */

/* What one job (a range of roots, or a task and its depth-first successors)
 * accumulates: tasks done, decrements owed to one dependent, and the ready
 * dependent it runs next (the ones made ready before it are pushed on the
 * worker's deque, where thieves see them). The job
 * subtracts `done` from the run's `remaining` as its very last touch of the
 * run. */
typedef struct jobacc {
  dtxi_worker *w;
  int32_t done;
  rtask *owed; /* dependent whose pending we owe `nowed` decrements */
  int32_t nowed;
  rtask *next; /* a ready CPU dependent of the range's roots, run after the root */
} jobacc;

static void count_task(dtxi_worker *w, int outcome) {
  if (outcome == DTXI_SKIPPED) return;
  atomic_store_explicit(&w->tasks_run, atomic_load_explicit(&w->tasks_run, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  if (outcome == DTXI_RAN_FAILED)
    atomic_store_explicit(&w->tasks_failed, atomic_load_explicit(&w->tasks_failed, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Runs t on the job's worker; returns the dependent to run next (depth first). */
static rtask *exec_threads(jobacc *j, rtask *t) {
  run *r = t->run;
  dtxi_worker *w = j->w;
  count_task(w, cpu_body(r, t, w->index, w->index + 1));
  j->done++;
  rtask *next = NULL;
  const uint8_t cpu = r->cpu;
  const uint32_t *deps = r->deps + t->dep_off;
  for (uint32_t k = t->ndeps; k-- > 0;) {
    rtask *d = &r->rt[deps[k]];
    if (atomic_fetch_sub_explicit(&d->pending, 1, memory_order_acq_rel) == 1) {
      if (d->exec != cpu) {
        dtxi_run_ready(r, d);
        continue;
      }
      if (next != NULL) dtxi_worker_push(w, task_job(next));
      next = d;
    }
  }
  return next;
}

static void run_chain(jobacc *j, rtask *t) {
  while (t != NULL) t = exec_threads(j, t);
}

static void settle_owed(jobacc *j) {
  rtask *d = j->owed;
  int32_t k = j->nowed;
  if (d == NULL) return;
  j->owed = NULL;
  j->nowed = 0;
  if (atomic_fetch_sub_explicit(&d->pending, k, memory_order_acq_rel) != k) return;
  if (d->exec != d->run->cpu) {
    dtxi_run_ready(d->run, d);
    return;
  }
  /* One held, the others out for thieves: a root with many dependents
   * (one chunk feeding a product per row block) must not run them all here
   * one after another while the other workers sleep. */
  if (j->next != NULL) dtxi_worker_push(j->w, task_job(j->next));
  j->next = d;
}

/* Runs the held dependent, depth first. */
static void run_next(jobacc *j) {
  rtask *n = j->next;
  j->next = NULL;
  run_chain(j, n);
}

static void job_end(jobacc *j, run *r) {
  /* A job that ran nothing here (it only handed tasks to other executors)
   * must not touch the run: those tasks may already have finished it. */
  if (j->done == 0) return;
  dtxi_run_count_done(r, j->done);
}

static void exec_range(dtxi_worker *w, range *rg) {
  run *r = rg->run;
  uint32_t lo = rg->lo, hi = rg->hi;
  /* Split off upper halves for thieves down to a grain of ~1/8 of a worker's share. */
  uint32_t grain = r->nroots / (8u * (uint32_t)w->pool->n);
  if (grain < 1) grain = 1;
  while (hi - lo > grain) {
    uint32_t mid = lo + (hi - lo) / 2;
    uint32_t slot = atomic_fetch_add_explicit(&r->nranges, 1, memory_order_relaxed);
    range *half = &r->ranges[slot];
    half->run = r;
    half->lo = mid;
    half->hi = hi;
    dtxi_worker_push(w, (dtxi_job)half | DTXI_JOB_RANGE);
    hi = mid;
  }
  jobacc j = {w, 0, NULL, 0, NULL};
  const uint8_t cpu = r->cpu;
  for (uint32_t i = lo; i < hi; i++) {
    rtask *t = &r->rt[r->roots[i]];
    if (t->exec != cpu) {
      const dtxi_executor *e = r->exec[t->exec];
      e->start_root(e, r, t);
      continue;
    }
    count_task(w, cpu_body(r, t, w->index, w->index + 1));
    j.done++;
    const uint32_t *deps = r->deps + t->dep_off;
    for (uint32_t k = 0; k < t->ndeps; k++) {
      rtask *d = &r->rt[deps[k]];
      if (d == j.owed) {
        j.nowed++;
      } else {
        settle_owed(&j);
        j.owed = d;
        j.nowed = 1;
      }
    }
    if (j.next != NULL) run_next(&j);
  }
  settle_owed(&j);
  if (j.next != NULL) run_next(&j);
  job_end(&j, r);
}

void dtxi_job_exec(dtxi_worker *w, dtxi_job job) {
  void *p = (void *)(job & ~DTXI_JOB_TAG_MASK);
  switch (job & DTXI_JOB_TAG_MASK) {
    case DTXI_JOB_TASK: {
      jobacc j = {w, 0, NULL, 0, NULL};
      run *r = ((rtask *)p)->run;
      run_chain(&j, p);
      job_end(&j, r);
      break;
    }
    case DTXI_JOB_RANGE:
      exec_range(w, p);
      break;
    case DTXI_JOB_FUTURE:
      dtxi_future_exec(w, p);
      break;
    default:
      DTX_ASSERT(!"unknown job tag");
  }
}

void dtxi_cpu_start(run *r) {
  atomic_init(&r->nranges, 1);
  r->ranges[0].run = r;
  r->ranges[0].lo = 0;
  r->ranges[0].hi = r->nroots;
  dtxi_pool_submit(dtxi_sched_of(r->cl)->pool, (dtxi_job)&r->ranges[0] | DTXI_JOB_RANGE);
}

/* ---- the executor ----------------------------------------------------------- */

static int cpu_can_run(const dtxi_executor *self, const run *r, const rtask *t) {
  (void)self;
  (void)r;
  (void)t;
  return 1; /* the fallback: whatever no other executor took */
}

/* From a thread that is not running t's chain: queue t on the pool. */
static void cpu_dispatch(const dtxi_executor *self, run *r, rtask *t) {
  (void)self;
  dtxi_pool_submit(dtxi_sched_of(r->cl)->pool, task_job(t));
}

const dtxi_executor dtxi_exec_cpu = {
    .name = "cpu",
    .can_run = cpu_can_run,
    .start_root = cpu_dispatch,
    .dispatch = cpu_dispatch,
};
