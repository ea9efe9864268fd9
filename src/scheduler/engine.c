/*
 * scheduler/engine.c - the engine of a graph computation: it gives each task
 * its executor, starts the run, completes tasks (drops their inputs' reads,
 * readies their dependents, counts them done), records failures and frees
 * the run. It knows executors only through their table (executor.h).
 *
 * Threads: dtxi_engine_add, _place, _run and _free on the thread calling
 * dtx_compute; the completion calls (dtxi_run_task_done, _fail, _skip,
 * _on_cpu) on any thread. `sync` is the engine with no pool: the calling
 * thread runs the tasks in plan order, which is a topological order, so no
 * dependency counting is needed.
 *
 * Invariants: remaining = tasks of the run not yet counted done; the one
 * count that brings it to zero sets `done` under `mu` and wakes the caller.
 * Failure records form a lock-free list (`errors`), `first` is the first one
 * pushed; once any task failed `any_error` is 1.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "scheduler/engine.h"
#include "scheduler/progress.h"

/* ---- completing tasks --------------------------------------------------------- */

void dtxi_run_fail(run *r, rtask *t, char *msg) {
  size_t len = msg != NULL ? strlen(msg) : 0;
  rerr *e = malloc(sizeof *e + len + 1);
  if (e == NULL) {
    /* Keep the failure even without memory for its message. */
    static const char oom[] = "task failed (out of memory recording its message)";
    t->err = oom;
  } else {
    memcpy(e->msg, msg != NULL ? msg : "", len + 1);
    rerr *head = atomic_load_explicit(&r->errors, memory_order_relaxed);
    do e->next = head;
    while (!atomic_compare_exchange_weak_explicit(&r->errors, &head, e, memory_order_acq_rel,
                                                  memory_order_relaxed));
    rerr *none = NULL;
    atomic_compare_exchange_strong(&r->first, &none, e);
    t->err = e->msg;
  }
  free(msg);
  atomic_store_explicit(&r->any_error, 1, memory_order_relaxed);
}

int dtxi_run_input_failed(run *r, rtask *t) {
  if (!atomic_load_explicit(&r->any_error, memory_order_relaxed)) return 0;
  const gtask *gt = &r->g->tasks[t->gid];
  for (uint32_t i = 0; i < gt->ninputs; i++) {
    const rtask *in = &r->rt[r->map[dtxi_gt_inputs(gt)[i]]];
    if (in->err != NULL) {
      t->err = in->err;
      return 1;
    }
  }
  return 0;
}

void dtxi_run_finish(run *r) {
  pthread_mutex_lock(&r->mu);
  atomic_store(&r->done, 1);
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

void dtxi_run_task_done(run *r, rtask *t, int ran) {
  const gtask *gt = &r->g->tasks[t->gid];
  dtxi_run_release_inputs(r, t);
  if (ran) dtxi_sched_count(dtxi_sched_of(r->cl), 1, t->err != NULL);
  if (r->watch != NULL) dtxi_watch_task(r->watch, -1, gt->prefix, t->err != NULL);
  const uint32_t *deps = r->deps + t->dep_off;
  for (uint32_t k = 0; k < t->ndeps; k++) {
    rtask *d = &r->rt[deps[k]];
    if (atomic_fetch_sub_explicit(&d->pending, 1, memory_order_acq_rel) != 1) continue;
    if (d->ahead) continue; /* its executor took it already */
    dtxi_run_ready(r, d);
  }
  dtxi_run_count_done(r, 1);
}

/* The CPU threads mark t failed (its input failed) and complete it, handling
 * its dependents in a loop (no recursion down long chains of failed tasks). */
void dtxi_run_skip(run *r, rtask *t) {
  const dtxi_executor *cpu = r->exec[r->cpu];
  cpu->dispatch(cpu, r, t);
}

void dtxi_run_on_cpu(run *r, rtask *t) {
  const dtxi_executor *cpu = r->exec[r->cpu];
  t->on_cpu = 1;
  cpu->dispatch(cpu, r, t);
}

/* ---- the executor table ----------------------------------------------------- */

void dtxi_engine_add(run *r, const dtxi_executor *e) {
  DTX_ASSERT(r->nexec < DTXI_MAX_EXECUTORS);
  DTX_ASSERT(e->can_run != NULL && e->start_root != NULL && e->dispatch != NULL);
  if (e->begin != NULL && !e->begin(e, r)) return;
  r->exec[r->nexec] = e;
  r->cpu = r->nexec++; /* the CPU threads come last */
  if (e->host_done != NULL) r->host[r->nhost++] = e;
  if (e->release_copies != NULL) {
    DTX_ASSERT(r->release_copies == NULL);
    r->release_copies = e->release_copies;
  }
}

void dtxi_engine_place(run *r) {
  const int n = r->nexec, cpu = r->cpu;
  const dtxi_executor *const *exec = r->exec;
  /* The executors before the CPU threads that may take tasks of r. */
  const dtxi_executor *ask[DTXI_MAX_EXECUTORS];
  uint8_t idx[DTXI_MAX_EXECUTORS];
  int nask = 0;
  for (int i = 0; i < n; i++) {
    int may = exec[i]->plan != NULL ? exec[i]->plan(exec[i], r) : 1;
    if (may && i < cpu) {
      ask[nask] = exec[i];
      idx[nask++] = (uint8_t)i;
    }
  }
  /* Each task to the first executor that takes it; the plan gave every task
   * the CPU threads, which take the rest. */
  if (nask > 0) {
    rtask *rt = r->rt;
    for (uint32_t i = 0, m = r->m; i < m; i++)
      for (int k = 0; k < nask; k++)
        if (ask[k]->can_run(ask[k], r, &rt[i])) {
          rt[i].exec = idx[k];
          break;
        }
  }
  for (int i = 0; i < n; i++)
    if (exec[i]->placed != NULL) exec[i]->placed(exec[i], r);
  r->plain = !r->trace && !r->nvtx && r->nhost == 0;
}

const dtxi_executor *dtxi_run_executor(const run *r, const rtask *t) { return r->exec[t->exec]; }

const char *dtxi_run_task_prefix(const run *r, const rtask *t) { return dtxi_graph_prefix(r->g, t->gid); }

dtx_cluster *dtxi_run_cluster(const run *r) { return r->cl; }

/* ---- running ---------------------------------------------------------------- */

static void run_sync(run *r) {
  dtx_cluster *cl = r->cl;
  dtxi_worker *w = dtxi_sched_of(cl)->pool != NULL ? dtxi_pool_self(dtxi_sched_of(cl)->pool) : NULL;
  int worker = w != NULL ? w->index : -1;
  int tid = w != NULL ? w->index + 1 : (r->trace ? dtxi_trace_caller_tid(dtxi_sched_of(cl)->trace) : 0);
  int64_t ran = 0, failed = 0;
  for (uint32_t i = 0; i < r->m; i++) {
    int outcome = dtxi_cpu_task(r, &r->rt[i], worker, tid);
    ran += outcome != DTXI_SKIPPED;
    failed += outcome == DTXI_RAN_FAILED;
  }
  dtxi_sched_count(dtxi_sched_of(cl), ran, failed);
}

/* Waits for the last task; a worker computing a graph (from inside a task)
 * lends itself to the pool meanwhile. */
static void wait_done(run *r) {
  dtxi_worker *w = dtxi_pool_self(dtxi_sched_of(r->cl)->pool);
  for (;;) {
    if (atomic_load(&r->done)) break;
    if (w != NULL && dtxi_pool_help(dtxi_sched_of(r->cl)->pool, w)) continue;
    pthread_mutex_lock(&r->mu);
    if (!atomic_load(&r->done)) {
      if (w == NULL) {
        pthread_cond_wait(&r->cv, &r->mu);
      } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 1000000;
        if (ts.tv_nsec >= 1000000000) {
          ts.tv_sec++;
          ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
      }
    }
    pthread_mutex_unlock(&r->mu);
  }
  /* The finisher sets `done` under the mutex: taking it once more makes sure
   * it has let go before the run (and its mutex) is torn down. */
  pthread_mutex_lock(&r->mu);
  pthread_mutex_unlock(&r->mu);
}

void dtxi_engine_run(run *r) {
  if (!r->threads) {
    run_sync(r);
    return;
  }
  atomic_init(&r->remaining, (int32_t)r->m);
  dtxi_cpu_start(r);
  wait_done(r);
}

void dtxi_engine_free(run *r) {
  for (int i = 0; i < r->nexec; i++)
    if (r->exec[i]->run_free != NULL) r->exec[i]->run_free(r->exec[i], r);
  for (rerr *e = atomic_load(&r->errors), *next; e != NULL; e = next) {
    next = e->next;
    free(e);
  }
  dtxi_scratch_give(dtxi_sched_of(r->cl), r->scratch);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
}
