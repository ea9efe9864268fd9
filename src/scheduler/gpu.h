/*
 * scheduler/gpu.h - running graph tasks on GPUs (the cluster scheduler).
 */
#ifndef DTXI_GPU_H
#define DTXI_GPU_H

#include "device/backend.h"
#include "dtx/cluster.h"
#include "dtx/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

struct run;
struct rtask;
struct gres;

typedef struct dtxi_gpus dtxi_gpus;
struct gjob;

/* The cluster's settings the GPU executor runs by, resolved at the cluster's
 * creation and fixed for its life (kept in dtxi_gpus). */
typedef struct dtxi_gpu_settings {
  int streams_per_gpu; /* compute streams per GPU, >= 1 (DTX_STREAMS_PER_GPU) */
  int window;          /* tasks enqueued behind unfinished inputs, and roots in flight,
                          per GPU; 0: no running ahead (DTX_GPU_WINDOW) */
  dtx_p2p p2p;         /* DTX_P2P_AUTO, _NCCL or _PEER (DTX_P2P) */
} dtxi_gpu_settings;

/* Creates each device's streams and starts the progress thread; limits[i]:
 * device i's memory limit in bytes (0: none). */
dtx_status dtxi_gpus_start(dtx_cluster *cl, dtxi_backend *b, const dtxi_gpu_settings *set,
                           const size_t *limits, dtxi_gpus **out);
/* Stops the progress thread (no work may be in flight) and frees the streams. */
void dtxi_gpus_stop(dtxi_gpus *g);
int dtxi_gpus_count(const dtxi_gpus *g);
/* True for simulated GPUs (CPU implementations stand in for CUDA ones). */
int dtxi_gpus_sim(const dtxi_gpus *g);

/* Fills the memory counters of device i. */
void dtxi_gpus_stats(dtxi_gpus *g, int i, dtx_device_stats *out);

/* Checks the executor's invariants (device memory accounting, the LRU of
 * device copies, persisted chunks' lists, no pins or reservations when idle;
 * gpu/check.c lists them): 0 when they hold, else -1 with what does not in
 * why (n bytes). Any thread holding no executor lock; g may be NULL. */
int dtxi_gpus_check(dtxi_gpus *g, char *why, size_t n);
/* Aborts with dtxi_gpus_check's message when the invariants do not hold. */
void dtxi_gpus_assert_consistent(dtxi_gpus *g);
/* Builds with DTX_CHECK_INVARIANTS (CMake option, on for Debug and sanitizer
 * builds) check after every graph computation of the cluster scheduler. */
#ifdef DTX_CHECK_INVARIANTS
#define DTXI_GPUS_CHECK(g) dtxi_gpus_assert_consistent(g)
#else
#define DTXI_GPUS_CHECK(g) ((void)(g))
#endif

/* Learned durations per kind of task (its name without the serial numbers
 * after dashes: "add-17" and "add-18" are one kind) and size of its inputs (four classes,
 * 16x apart): what a task of this name took on a GPU and on a CPU thread
 * (EWMA, ns; the nearest class measured, scaled, when its own was not; 0 when
 * never seen). Any thread. */
int64_t dtxi_gpus_estimate(dtxi_gpus *g, const char *prefix, int on_gpu, size_t input_bytes);
void dtxi_gpus_learn(dtxi_gpus *g, const char *prefix, int on_gpu, size_t input_bytes, int64_t ns);
/* The largest output a task of this exact name made: device memory reserved
 * ahead for tasks of the name that carry no output_size hint (the dispatch
 * learns it as outputs are made). */
void dtxi_gpus_learn_output(dtxi_gpus *g, const char *prefix, size_t bytes);
/* The size of what tasks of this name give their readers, when that is not
 * memory they allocate: weighed when choosing between a CPU thread and a GPU
 * for the readers of tasks without an output_size hint (the chunk store's
 * lending tasks carry theirs as the hint). */
void dtxi_gpus_learn_data(dtxi_gpus *g, const char *prefix, size_t bytes);
/* Plan time: for each dual task of run r, decide CPU or GPU, whichever the
 * learned durations say finishes first (exploring a side never measured). */
void dtxi_gpu_plan(struct run *r);

/* Root-task queuing: starts root task t on a GPU now, or queues it while
 * DTX_GPU_WINDOW roots per GPU are in flight, or while host memory is past
 * its limit (the pause threshold) and roots are in flight; queued roots start
 * as those finish. Any thread. */
void dtxi_gpu_root(struct run *r, struct rtask *t);
/* Frees what dtxi_gpu_plan set up for r (after the run). */
void dtxi_gpu_run_free(struct run *r);

/* True when t should run on a GPU in run r. */
int dtxi_gpu_eligible(const struct run *r, const struct rtask *t);
/* Places t on a GPU and enqueues it; completion comes back through
 * dtxi_run_task_done on the progress thread. Any thread. */
void dtxi_gpu_dispatch(struct run *r, struct rtask *t);

/* A CPU task made t's output: when a GPU task reads it, track its copies on
 * the GPUs (t->res) so that they are fetched once per device. */
void dtxi_gpu_host_output(struct run *r, struct rtask *t);
/* Drops one read of an output's GPU copies; the last one frees them. */
void dtxi_gres_release(struct gres *res);
/* For dtx_task_input / dtx_task_output inside a GPU task. */
const void *dtxi_gpu_input(const struct gjob *j, int i, size_t *size);
void *dtxi_gpu_output(struct gjob *j, size_t size);
int dtxi_gpu_device(const struct gjob *j);

/* The two task implementations (CPU and CUDA alike) of persisted chunks,
 * whose argument is a dtxi_kept pointer (data/store.h) and whose tasks are
 * added with the matching flag (scheduler/graph.h), which tells the GPU
 * dispatch what they need.
 * dtxi_keep_task (DTXI_TASK_KEEPS_INPUT) keeps its one input in the slot: on
 * a GPU the copy it read there is handed over once the task succeeded (no
 * copy made); on a CPU thread the slot holds the input's chunk itself (dev
 * -1; a copy only when another slot holds that chunk already).
 * dtxi_kept_source (DTXI_TASK_LENDS_STORED) outputs the slot's chunk: on its
 * GPU the kept buffer itself, read in place (a spilled one is read back there
 * and kept again); a chunk kept in host memory is lent as the output (read
 * back from disk first if it spilled), never copied. */
int dtxi_keep_task(dtx_task_ctx *ctx);
int dtxi_kept_source(dtx_task_ctx *ctx);
void *dtxi_gpu_native_stream(const struct gjob *j);

#ifdef __cplusplus
}
#endif

#endif /* DTXI_GPU_H */
