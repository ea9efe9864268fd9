/*
 * scheduler/executor.h - the one interface through which the engine hands
 * tasks to whatever runs them: CPU threads (exec_cpu.c), GPUs (exec_gpu.c),
 * later worker processes or MPI ranks.
 *
 * A computation (struct run) holds an ordered table of executors, chosen per
 * scheduler by compute.c: `threads` has the CPU threads only; `cluster` has
 * the executors registered on the cluster (dtxi_sched_add_executor), then the
 * GPUs, then the CPU threads; `sync` is the engine with no pool: the calling
 * thread runs every task in plan order and no executor is asked. At plan time
 * each task goes to the first executor whose `can_run` accepts it, and the
 * choice is stored in the task: nothing is decided per task again while the
 * run goes. The CPU threads come last and take whatever nobody claimed; they
 * are also the run's host: their workers walk the root tasks (calling the
 * `start_root` of each root's executor), run the tasks of their own choice
 * directly (no indirect call on that path), and the engine hands them the
 * tasks it has to mark failed (dtxi_run_skip).
 *
 * Adding an executor is writing one of these tables and registering it: the
 * engine (engine.c), the plan (plan.c) and the CPU executor need no edit (nor
 * compute.c, unless a new scheduler kind, `processes` say, gets a row in its
 * table). tests/executor_test.cc has one. The contract:
 *
 * Threads. `begin`, `plan`, `can_run`, `placed` and `run_free` run on the
 * thread calling dtx_compute, before any task starts (run_free: after every
 * task finished); they need no locking against the run. `start_root` and
 * `dispatch` run on any thread (a CPU worker, another executor's thread, the
 * engine completing a task), concurrently with each other and with the
 * executor's own threads: they must be thread-safe and quick (queue the task;
 * never run it inline, the caller may be a worker in the middle of a chain).
 * `host_done` runs on the thread that ran a task's CPU implementation.
 *
 * Ownership. From `start_root` or `dispatch` until the executor reports the
 * task complete, the task is the executor's. Its inputs are all done (their
 * outputs and errors are final) and each holds one read for the task, which
 * dtxi_run_task_done drops. The executor leaves the task's output in the run
 * (struct rtask.out, a chunk starting with rtask.nrefs references), or lets
 * dtxi_run_exec_cpu do all of that. An executor may take a dependent of its
 * own task before that one completes (a GPU queues it behind its input):
 * it sets rtask.ahead first, and the engine does not hand it over again.
 *
 * Completion. Exactly once per task handed over, from any thread, the
 * executor calls dtxi_run_task_done(r, t, ran): `ran` 1 when the task's
 * implementation ran (succeeded or failed), 0 when it failed before it could
 * start. The engine then drops the inputs' reads, readies the dependents
 * (handing each to its own executor) and counts the task; the last task
 * done wakes the caller, who may free the run at once: after the call the
 * executor touches neither the task nor the run.
 *
 * Failure. A task whose implementation failed: dtxi_run_fail(r, t, msg), then
 * dtxi_run_task_done(r, t, 1). A task with a failed input (dtxi_run_input_failed says
 * so) is not run: either mark it (dtxi_run_input_failed did) and call
 * dtxi_run_task_done(r, t, 0), or hand it to dtxi_run_skip, which does both
 * on a CPU worker. dtxi_run_on_cpu gives a task back to the CPU threads
 * instead of running it (the CPU threads complete it). Each of these counts
 * as the executor's one report.
 */
#ifndef DTXI_EXECUTOR_H
#define DTXI_EXECUTOR_H

#include <stdint.h>

#include "dtx/cluster.h"
#include "dtx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct run;
struct rtask;
struct gres;

/* Executors a run holds at most (the CPU threads included). */
#define DTXI_MAX_EXECUTORS 8
/* Executors a cluster may have registered (dtxi_sched_add_executor). */
#define DTXI_MAX_REGISTERED 4

typedef struct dtxi_executor {
  const char *name;
  void *state; /* the executor's own (the built-ins keep theirs in the cluster: NULL) */
  /* Optional. Joins run r (1) or sits it out (0: no task is asked about).
   * May set what r offers tasks: r->ndevices, r->cuda (run.h). */
  int (*begin)(const struct dtxi_executor *self, struct run *r);
  /* Optional. Once r is ordered and wired, before any can_run. Returns 0
   * when it takes no task of r (then can_run is not asked), else 1. */
  int (*plan)(const struct dtxi_executor *self, struct run *r);
  /* Whether it takes task t. Asked only for tasks no earlier executor took. */
  int (*can_run)(const struct dtxi_executor *self, const struct run *r, const struct rtask *t);
  /* Optional. Once every task has its executor (dtxi_run_executor). */
  void (*placed)(const struct dtxi_executor *self, struct run *r);
  /* A root task (no inputs) to start; a task whose inputs are all done. */
  void (*start_root)(const struct dtxi_executor *self, struct run *r, struct rtask *t);
  void (*dispatch)(const struct dtxi_executor *self, struct run *r, struct rtask *t);
  /* Optional. Task t ran its CPU implementation and succeeded, on any
   * executor's thread; ns its duration when it was timed (rtask.time_host or
   * tracing), else -1. */
  void (*host_done)(const struct dtxi_executor *self, struct run *r, struct rtask *t, int64_t ns);
  /* Optional. Drops one read of the device copies this executor attached to
   * an output (rtask.res); one executor per run may attach them. */
  void (*release_copies)(struct gres *res);
  /* Optional. After the run: frees what begin and plan set up. */
  void (*run_free)(const struct dtxi_executor *self, struct run *r);
} dtxi_executor;

/* The built-ins (exec_cpu.c, exec_gpu.c). */
extern const dtxi_executor dtxi_exec_cpu;
extern const dtxi_executor dtxi_exec_gpu;

/* Registers e with cluster cl: every later computation under the cluster
 * scheduler offers it tasks before the GPUs and the CPU threads. e must
 * outlive the cluster. Not concurrently with a computation on cl. */
dtx_status dtxi_sched_add_executor(dtx_cluster *cl, const dtxi_executor *e);

/* ---- what the engine offers executors (engine.c, exec_cpu.c) ---------------- */

/* Task t is complete (see Completion above). Any thread. */
void dtxi_run_task_done(struct run *r, struct rtask *t, int ran);
/* Marks t failed with msg (taking ownership of msg; NULL: no message). */
void dtxi_run_fail(struct run *r, struct rtask *t, char *msg);
/* Hands t to the CPU workers to be marked failed (an input failed) and
 * completed. Any thread. */
void dtxi_run_skip(struct run *r, struct rtask *t);
/* Hands ready task t (not started) to the CPU workers to run its CPU
 * implementation and complete it. Any thread. */
void dtxi_run_on_cpu(struct run *r, struct rtask *t);
/* 1 when an input of t failed; then t is marked failed with that input's
 * message. Any thread, once t is ready. */
int dtxi_run_input_failed(struct run *r, struct rtask *t);

enum { DTXI_RAN_OK, DTXI_RAN_FAILED, DTXI_SKIPPED };
/* Runs t's CPU implementation on the calling thread, or marks it failed
 * when an input failed; records the output or the failure. Does not complete
 * t. Returns DTXI_RAN_OK, DTXI_RAN_FAILED or DTXI_SKIPPED (an input failed).
 * `worker` is what dtx_task_worker tells the task (-1: not a CPU worker). */
int dtxi_run_exec_cpu(struct run *r, struct rtask *t, int worker);

/* The executor that task t went to at plan time. */
const dtxi_executor *dtxi_run_executor(const struct run *r, const struct rtask *t);
/* The name of t's kind (its key's prefix: "add" for ("add", 3)). */
const char *dtxi_run_task_prefix(const struct run *r, const struct rtask *t);
dtx_cluster *dtxi_run_cluster(const struct run *r);

#ifdef __cplusplus
}
#endif

#endif /* DTXI_EXECUTOR_H */
