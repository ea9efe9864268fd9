/*
 * scheduler/engine.h - what the parts of a graph computation call of each
 * other: the plan (plan.c), the engine (engine.c) and the CPU threads
 * (exec_cpu.c), driven by dtx_compute (compute.c). Executors see
 * executor.h only.
 */
#ifndef DTXI_ENGINE_H
#define DTXI_ENGINE_H

#include "scheduler/run.h"

/* ---- plan.c -------------------------------------------------------------------- */

/* Culls the graph to the ancestors of outs, checks it (ids, cycles, what
 * the executors offer), orders it and wires the dependents: fills r's tasks,
 * map, roots and dependents. */
dtx_status dtxi_plan(run *r, const dtx_task_id *outs, int nout);

/* ---- engine.c ------------------------------------------------------------------ */

/* Adds executor e to r's table unless its begin hook declines; the last one
 * added is the CPU threads. Before dtxi_plan. */
void dtxi_engine_add(run *r, const dtxi_executor *e);
/* After dtxi_plan: runs the executors' plan hooks and gives each task its
 * executor (the first whose can_run accepts it). */
void dtxi_engine_place(run *r);
/* Runs every task of r and returns when all are done: `sync` on the calling
 * thread in plan order, else on the executors. */
void dtxi_engine_run(run *r);
/* Frees what the run holds (after the outputs are taken). */
void dtxi_engine_free(run *r);
/* Wakes the caller waiting for r: its last task is done. */
void dtxi_run_finish(run *r);
/* Calls the executors' host_done hooks for t. */
static inline void dtxi_run_host_done(run *r, rtask *t, int64_t ns) {
  for (int i = 0; i < r->nhost; i++) r->host[i]->host_done(r->host[i], r, t, ns);
}

/* Counts n tasks done; the last one wakes the caller. It is the caller's
 * last touch of the run. */
static inline void dtxi_run_count_done(run *r, int32_t n) {
  if (atomic_fetch_sub_explicit(&r->remaining, n, memory_order_acq_rel) == n) dtxi_run_finish(r);
}

/* ---- exec_cpu.c ---------------------------------------------------------------- */

/* Runs t on the calling thread (worker index or -1, trace track tid) and
 * drops its reads of its inputs; does not ready its dependents (sync needs
 * none). Returns DTXI_RAN_OK, DTXI_RAN_FAILED or DTXI_SKIPPED. */
int dtxi_cpu_task(run *r, rtask *t, int worker, int tid);
/* Starts r's roots on the CPU workers (which hand other executors theirs). */
void dtxi_cpu_start(run *r);

#endif /* DTXI_ENGINE_H */
