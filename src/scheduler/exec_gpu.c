/*
 * scheduler/exec_gpu.c - the GPUs as an executor: a thin adapter from the
 * executor table (executor.h) to the GPU scheduler (gpu.h).
 *
 * It joins cluster-scheduler runs on a cluster with GPUs; its plan decides
 * CPU or GPU for each dual (CPU + CUDA) task from learned durations; it takes
 * the tasks the GPU executor (gpu/) calls eligible; roots start through its root queue,
 * ready tasks through its dispatch, and completion comes back through
 * dtxi_run_task_done on the progress thread. From tasks that ran on a host
 * thread it learns their CPU durations (placement) and tracks their outputs'
 * copies on the devices (rtask.res, released through dtxi_gres_release).
 *
 * Threads: as executor.h says. Owns nothing beyond what gpu/ sets up per
 * run (the root queue), freed by its run_free.
 */
#include "scheduler/gpu.h"
#include "scheduler/run.h"

static int gpu_begin(const dtxi_executor *self, run *r) {
  (void)self;
  dtxi_gpus *g = dtxi_sched_of(r->cl)->gpus;
  if (g == NULL) return 0;
  r->gpu = 1;
  r->ndevices = dtxi_gpus_count(g);
  r->cuda = !dtxi_gpus_sim(g);
  return 1;
}

/* A dual task is timed when it runs on a host thread: its CPU duration
 * weighs in the next placement (gpu_host_done). Without any task that has a
 * CUDA implementation, the GPUs take none. */
static int gpu_plan(const dtxi_executor *self, run *r) {
  (void)self;
  dtxi_gpu_plan(r);
  const dtx_graph *g = r->g;
  uint8_t any = 0;
  for (uint32_t i = 0; i < r->m; i++) {
    rtask *t = &r->rt[i];
    t->time_host = g->impls[g->tasks[t->gid].impl].cuda != NULL;
    any |= t->time_host;
  }
  return any;
}

static int gpu_can_run(const dtxi_executor *self, const run *r, const rtask *t) {
  (void)self;
  return dtxi_gpu_eligible(r, t);
}

/* Tasks an earlier executor took are off the GPUs: the GPU executor, which also looks
 * at eligibility on its own (running dependents ahead), must see them so. */
static void gpu_placed(const dtxi_executor *self, run *r) {
  int me = 0;
  while (r->exec[me] != self) me++;
  if (me == 0) return; /* the GPUs were asked first: none was taken */
  for (uint32_t i = 0; i < r->m; i++) {
    rtask *t = &r->rt[i];
    if (t->exec < me && dtxi_gpu_eligible(r, t)) t->on_cpu = 1;
  }
}

static void gpu_start_root(const dtxi_executor *self, run *r, rtask *t) {
  (void)self;
  dtxi_gpu_root(r, t);
}

static void gpu_dispatch(const dtxi_executor *self, run *r, rtask *t) {
  (void)self;
  dtxi_gpu_dispatch(r, t);
}

/* Learns the CPU duration of dual task t (ns) for placement. Out of line:
 * gpu_host_done, called for every task on a host thread, stays a leaf. */
__attribute__((noinline)) static void learn_cpu_time(run *r, const rtask *t, int64_t ns) {
  const dtx_graph *g = r->g;
  const gtask *gt = &g->tasks[t->gid];
  size_t bytes = 0;
  for (uint32_t i = 0; i < gt->ninputs; i++) {
    const dtx_chunk *c = r->rt[r->map[dtxi_gt_inputs(gt)[i]]].out;
    bytes += c != NULL ? c->size : 0;
  }
  dtxi_gpus_learn(dtxi_sched_of(r->cl)->gpus, g->prefixes[gt->prefix], 0, bytes, ns);
}

static void gpu_host_done(const dtxi_executor *self, run *r, rtask *t, int64_t ns) {
  (void)self;
  if (__builtin_expect(t->time_host && ns >= 0, 0)) learn_cpu_time(r, t, ns);
  dtxi_gpu_host_output(r, t);
}

static void gpu_run_free(const dtxi_executor *self, run *r) {
  (void)self;
  dtxi_gpu_run_free(r);
  DTXI_GPUS_CHECK(dtxi_sched_of(r->cl)->gpus); /* DTX_CHECK_INVARIANTS builds: after every computation */
}

const dtxi_executor dtxi_exec_gpu = {
    .name = "gpu",
    .begin = gpu_begin,
    .plan = gpu_plan,
    .can_run = gpu_can_run,
    .placed = gpu_placed,
    .start_root = gpu_start_root,
    .dispatch = gpu_dispatch,
    .host_done = gpu_host_done,
    .release_copies = dtxi_gres_release,
    .run_free = gpu_run_free,
};
