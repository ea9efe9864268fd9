/*
 * dtx/graph.h - task graphs (Dask's delayed) and the task interface.
 *
 * A graph holds tasks. A task has a key (a name prefix plus up to four integer
 * indices, printed `load[3]` or `add[2,1]`), inputs given as the ids of other
 * tasks, an argument blob copied into the graph, and implementations: a CPU
 * function (and a slot for a CUDA one). dtx_compute runs just the ancestors of
 * the requested outputs and hands each output back as a dtx_chunk.
 *
 * A task's inputs may name ids that are added later; every id must exist by
 * the time the graph is computed. A graph is built by one thread at a time; a
 * built graph may be computed many times, by one computation at a time.
 */
#ifndef DTX_GRAPH_H
#define DTX_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "dtx/cluster.h"
#include "dtx/export.h"
#include "dtx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DTX_MAX_INDICES 4
#define DTX_MAX_KEY 192 /* room for the longest key (100-character name, 4 indices), with its NUL */

typedef struct dtx_graph dtx_graph;
typedef struct dtx_task_ctx dtx_task_ctx;
typedef uint32_t dtx_task_id;

/* A task implementation. Return 0 on success; on failure return
 * dtx_task_fail(ctx, "...") (or any nonzero value). */
typedef int (*dtx_task_fn)(dtx_task_ctx *ctx);

/* What a task is. Zero-initialise, then set what you need. */
/* Where a task may run (dtx_task_desc.where). The default, 0, lets the
 * scheduler choose. */
#define DTX_WHERE_ANY 0
#define DTX_WHERE_CPU (-1)         /* CPU threads only, even with a CUDA implementation */
#define DTX_WHERE_GPU(k) ((k) + 1) /* GPU k only (cluster scheduler) */

typedef struct dtx_task_desc {
  const char *name;             /* key prefix, required, copied */
  int nidx;                     /* 0..DTX_MAX_INDICES key indices */
  int64_t idx[DTX_MAX_INDICES]; /* the key's indices */
  const dtx_task_id *inputs;    /* graph tasks only: ids of the inputs */
  int ninputs;
  const void *args; /* copied; the task sees its own copy */
  size_t args_size;
  dtx_task_fn cpu;  /* CPU implementation */
  dtx_task_fn cuda; /* CUDA implementation (GPU clusters) */
  int priority;     /* higher runs earlier; 0 = static order */
  int retries;      /* futures: extra attempts after a failure */
  int where;        /* DTX_WHERE_ANY / _CPU / _GPU(k): a restriction that wins */
  /* A hint, 0 = unknown: the exact size of the task's output when known. On
   * GPUs (cluster scheduler) that much device memory is reserved for it
   * ahead, instead of the size tasks of its name made before (under a device
   * memory limit the first task of a name otherwise runs alone to tell it);
   * also weighed when placing its readers. Futures ignore it. */
  size_t output_size;
} dtx_task_desc;

DTX_API dtx_status dtx_graph_create(dtx_graph **out);
DTX_API void dtx_graph_destroy(dtx_graph *g);

/* Adds a task; writes its id to *id. A duplicate key, a missing name or
 * implementation, a bad index count or a NULL pointer with a nonzero count is
 * DTX_EINVAL and adds nothing. */
DTX_API dtx_status dtx_graph_add(dtx_graph *g, const dtx_task_desc *desc, dtx_task_id *id);

/* Number of tasks in the graph. */
DTX_API size_t dtx_graph_size(const dtx_graph *g);

/* Finds a task by its parts or by its printed key ("add[2,1]", "pi"). */
DTX_API dtx_status dtx_graph_find(const dtx_graph *g, const char *name, int nidx, const int64_t *idx,
                                  dtx_task_id *id);
DTX_API dtx_status dtx_graph_find_key(const dtx_graph *g, const char *key, dtx_task_id *id);

/* Prints the task's key into buf (at most n bytes, NUL-terminated). */
DTX_API dtx_status dtx_graph_key(const dtx_graph *g, dtx_task_id id, char *buf, size_t n);

/* ---- results ------------------------------------------------------------ */

/* A task's output: bytes owned by the runtime, reference counted. An output
 * whose task failed carries the error instead of data. */
typedef struct dtx_chunk dtx_chunk;

DTX_API const void *dtx_chunk_data(const dtx_chunk *c);
DTX_API size_t dtx_chunk_size(const dtx_chunk *c);
/* DTX_OK, DTX_ETASK (the task or an input failed) or DTX_ECANCEL. */
DTX_API dtx_status dtx_chunk_status(const dtx_chunk *c);
/* "key: message" of the failure this output carries; NULL when it is data. */
DTX_API const char *dtx_chunk_error(const dtx_chunk *c);
DTX_API void dtx_chunk_release(dtx_chunk *c);

typedef struct dtx_compute_opts {
  size_t size;             /* sizeof(dtx_compute_opts) */
  dtx_scheduler scheduler; /* DEFAULT: the cluster's */
} dtx_compute_opts;

#define DTX_COMPUTE_OPTS_INIT \
  { sizeof(dtx_compute_opts), DTX_SCHED_DEFAULT }

/*
 * Runs the tasks the requested outputs need, and only those. results (may be
 * NULL) receives one chunk per output, in order, each to be released by the
 * caller. Bad graphs (a cycle, an unknown id, a task without implementation)
 * are DTX_EINVAL before anything runs. If a task fails, every task depending
 * on it is marked with the same error, unrelated branches still complete,
 * results still holds a chunk per output (data or error), and the return is
 * DTX_ETASK with dtx_last_error() naming the first failing key and message.
 * opts may be NULL.
 */
DTX_API dtx_status dtx_compute(dtx_cluster *cl, dtx_graph *g, const dtx_task_id *outputs, int noutputs,
                               dtx_chunk **results, const dtx_compute_opts *opts);

/* ---- inside a task -------------------------------------------------------- */

DTX_API int dtx_task_num_inputs(const dtx_task_ctx *ctx);
/* Input i's bytes (NULL when the input produced none); its size in *size. */
DTX_API const void *dtx_task_input(const dtx_task_ctx *ctx, int i, size_t *size);
/* The task's copy of its argument blob; its size in *size (may be NULL). */
DTX_API const void *dtx_task_args(const dtx_task_ctx *ctx, size_t *size);
/* Allocates the task's output (64-byte aligned, runtime-owned). Calling it
 * again replaces the earlier output. NULL when out of memory. */
DTX_API void *dtx_task_output(dtx_task_ctx *ctx, size_t size);
/* Host memory for the task's own use (64-byte aligned, contents undefined),
 * freed when the implementation returns; up to DTX_TASK_SCRATCH buffers per
 * run. Large ones come from the cluster's cache of freed chunk blocks, so a
 * task run again does not fault in fresh pages. Counted in the host memory
 * use (DTX_HOST_MEMORY_LIMIT). NULL when out of memory or past the count. */
#define DTX_TASK_SCRATCH 4
DTX_API void *dtx_task_scratch(dtx_task_ctx *ctx, size_t size);
/* Records why the task failed; returns -1 so `return dtx_task_fail(...)` reads well. */
DTX_API int dtx_task_fail(dtx_task_ctx *ctx, const char *fmt, ...) DTX_PRINTF(2, 3);
/* The running task's key. */
DTX_API void dtx_task_key(const dtx_task_ctx *ctx, char *buf, size_t n);
/* Worker index running the task (0..threads-1), or -1 on a non-worker thread. */
DTX_API int dtx_task_worker(const dtx_task_ctx *ctx);
/* The cluster running the task (for submitting futures from inside a task). */
DTX_API dtx_cluster *dtx_task_cluster(const dtx_task_ctx *ctx);
/* The GPU running the task (0..), or -1 when it runs on a CPU thread. On a
 * GPU, dtx_task_input gives device pointers and dtx_task_output allocates
 * device memory in stream order. */
DTX_API int dtx_task_device(const dtx_task_ctx *ctx);
/* The stream a CUDA implementation enqueues its work on (a cudaStream_t);
 * NULL on CPU threads and on simulated GPUs. */
DTX_API void *dtx_task_stream(const dtx_task_ctx *ctx);
/* How many times this task has been attempted before (futures with retries). */
DTX_API int dtx_task_attempt(const dtx_task_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif /* DTX_GRAPH_H */
