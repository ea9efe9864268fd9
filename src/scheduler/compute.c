/*
 * scheduler/compute.c - dtx_compute: plan a graph, run it on the
 * scheduler's executors, hand the outputs back.
 *
 * The pipeline: the scheduler picks the executor table (compute.c), the plan
 * culls, checks, orders and wires the run (plan.c), the engine gives each
 * task its executor, runs the tasks and completes them (engine.c), the
 * executors run them (exec_cpu.c, exec_gpu.c, any registered one). Owns: the
 * run state (struct run) for the duration of one call. Threads: the caller
 * plans, waits and takes the outputs; executors run the tasks.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "scheduler/engine.h"
#include "scheduler/progress.h"

/* The executors of a scheduler, in the order they claim tasks. `sync` and
 * `threads` have the CPU threads only (under `sync`: the calling thread);
 * `cluster` has the executors registered on the cluster, then the GPUs
 * (which sit out a cluster without any), then the CPU threads, which take
 * the rest. */
static void choose_executors(run *r, dtx_scheduler sched) {
  const dtxi_sched *s = dtxi_sched_of(r->cl);
  if (sched == DTX_SCHED_CLUSTER) {
    for (int i = 0; i < s->nexecutors; i++) dtxi_engine_add(r, s->executors[i]);
    dtxi_engine_add(r, &dtxi_exec_gpu);
  }
  dtxi_engine_add(r, &dtxi_exec_cpu);
}

/* The key of input i of task ctx (a gtask of graph run->g): for the trace. */
static void input_key(void *ctx, uint32_t i, char *buf, size_t n) {
  const rtask *t = ctx;
  dtxi_run_key(t->run->g, dtxi_gt_inputs(&t->run->g->tasks[t->gid])[i], buf, n);
}

static void emit_trace(run *r) {
  dtxi_trace *tr = dtxi_sched_of(r->cl)->trace;
  char key[DTX_MAX_KEY];
  for (uint32_t i = 0; i < r->m; i++) {
    rtask *t = &r->rt[i];
    if (t->t0 == 0 || t->pid != 0) continue; /* device slices are written as the tasks end */
    dtxi_run_key(r->g, t->gid, key, sizeof key);
    dtxi_trace_task(tr, 1, t->tid, key, "task", dtxi_graph_prefix(r->g, t->gid), t->t0, t->t1,
                    r->g->tasks[t->gid].ninputs, input_key, t, t->err, NULL);
  }
}

/* A resident copy of persisted chunk k for the caller (k stays its slot's,
 * free to spill); drops the caller's reference to k. */
static dtx_chunk *copy_kept(run *r, dtx_chunk *k) {
  dtx_chunk *c = NULL;
  if (dtxi_chunk_pin(k) != DTX_OK) {
    c = dtxi_chunk_new_error(DTX_ETASK, dtx_last_error(), 1);
  } else {
    c = dtxi_chunk_new(dtxi_sched_of(r->cl)->mem, k->size, 1);
    if (c != NULL && k->size > 0) memcpy(c->data, k->data, k->size);
    dtxi_chunk_unpin(k);
  }
  dtxi_chunk_unref(k);
  return c;
}

/* The caller's chunk for requested output t (its error, or its host data). */
static dtx_chunk *take_output(run *r, rtask *t) {
  dtx_chunk *c;
  if (t->res != NULL) r->release_copies(t->res); /* the caller reads the host copy */
  if (t->err != NULL) {
    c = dtxi_chunk_new_error(DTX_ETASK, t->err, 1);
  } else if (t->out != NULL && t->out->kept) {
    c = copy_kept(r, t->out);
  } else if (t->out != NULL) {
    c = t->out;
    if (dtxi_chunk_keep(c) != DTX_OK) { /* read back from disk for the caller */
      char *why = strdup(dtx_last_error());
      dtxi_chunk_unref(c);
      c = dtxi_chunk_new_error(DTX_ETASK, why != NULL ? why : "cannot read a spilled output back", 1);
      free(why);
    }
  } else {
    c = dtxi_chunk_new(NULL, 0, 1);
    if (c != NULL) c->data = NULL;
  }
  return c;
}

static dtx_status check_args(dtx_cluster *cl, dtx_graph *g, const dtx_task_id *outputs, int noutputs,
                             const dtx_compute_opts *opts, dtx_scheduler *sched) {
  if (cl == NULL) return dtxi_fail(DTX_EINVAL, "dtx_compute: cluster is NULL");
  if (g == NULL) return dtxi_fail(DTX_EINVAL, "dtx_compute: graph is NULL");
  if (noutputs < 0) return dtxi_fail(DTX_EINVAL, "dtx_compute: noutputs is %d; it must be >= 0", noutputs);
  if (noutputs > 0 && outputs == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_compute: outputs is NULL with noutputs %d", noutputs);
  if (opts != NULL && opts->size < sizeof(size_t))
    return dtxi_fail(DTX_EINVAL, "dtx_compute: opts->size is %zu; initialise opts with DTX_COMPUTE_OPTS_INIT",
                     opts->size);
  *sched = dtxi_sched_of(cl)->scheduler;
  if (opts != NULL && opts->size >= sizeof *opts && opts->scheduler != DTX_SCHED_DEFAULT)
    *sched = opts->scheduler;
  if (*sched != DTX_SCHED_SYNC && *sched != DTX_SCHED_THREADS && *sched != DTX_SCHED_CLUSTER)
    return dtxi_fail(
        DTX_EINVAL,
        "dtx_compute: unknown scheduler %d; use DTX_SCHED_SYNC, DTX_SCHED_THREADS or DTX_SCHED_CLUSTER",
        (int)*sched);
  return DTX_OK;
}

dtx_status dtx_compute(dtx_cluster *cl, dtx_graph *g, const dtx_task_id *outputs, int noutputs,
                       dtx_chunk **results, const dtx_compute_opts *opts) {
  dtx_scheduler sched = DTX_SCHED_DEFAULT;
  dtx_status rc = check_args(cl, g, outputs, noutputs, opts, &sched);
  if (rc != DTX_OK || noutputs == 0) return rc;
  int busy = 0;
  if (!atomic_compare_exchange_strong(&g->busy, &busy, 1))
    return dtxi_fail(DTX_EBUSY, "dtx_compute: the graph is already being computed by another call");

  run r;
  memset(&r, 0, sizeof r);
  r.cl = cl;
  r.g = g;
  r.trace = dtxi_sched_of(cl)->trace != NULL;
  r.nvtx = dtxi_sched_of(cl)->nvtx;
  r.threads = sched != DTX_SCHED_SYNC;
  pthread_mutex_init(&r.mu, NULL);
  pthread_cond_init(&r.cv, NULL);
  atomic_init(&r.done, 0);
  atomic_init(&r.any_error, 0);
  atomic_init(&r.errors, NULL);
  atomic_init(&r.first, NULL);
  choose_executors(&r, sched);
  r.scratch = dtxi_scratch_take(dtxi_sched_of(cl));
  rc = r.scratch != NULL ? dtxi_plan(&r, outputs, noutputs)
                         : dtxi_fail(DTX_ENOMEM, "dtx_compute: out of memory");
  if (rc == DTX_OK) {
    dtxi_engine_place(&r);
    r.watch = dtxi_watch_begin(&r);
    dtxi_engine_run(&r);
    if (r.trace) emit_trace(&r);
    for (int j = 0; j < noutputs; j++) {
      dtx_chunk *c = take_output(&r, &r.rt[r.map[outputs[j]]]);
      if (results != NULL)
        results[j] = c;
      else
        dtxi_chunk_unref(c);
    }
    DTXI_MEM_CHECK(dtxi_sched_of(cl)->mem); /* DTX_CHECK_INVARIANTS builds (the GPUs: exec_gpu.c) */
    if (r.watch != NULL) dtxi_watch_end(r.watch);
    rerr *first = atomic_load(&r.first);
    if (first != NULL) rc = dtxi_fail_msg(DTX_ETASK, first->msg);
  }
  dtxi_engine_free(&r);
  atomic_store(&g->busy, 0);
  return rc;
}
