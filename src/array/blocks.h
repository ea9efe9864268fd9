/*
 * array/blocks.h - DTXA_BLOCKS: the one general node kind for operations
 * with tasks of their own whose output chunks are computed from arbitrary
 * input chunks by C functions (linalg today; cumsum, sort, topk, unique,
 * histogram, percentile, fft are meant to build on it too).
 *
 * A BLOCKS node carries an emit callback and a copy of per-op data. When a
 * build needs the node's chunks (in the node's own chunking), build.c calls
 * the callback once per build with a dtxa_emit handle; through it the
 * callback
 *   - reads the task of chunk bidx of input i in any chunking
 *     (dtxa_emit_input: materializes the input, memoised per build), or
 *     the host memory of an input read in place (dtxa_emit_ext),
 *   - reads every task of a task-list input (dtxa_emit_tasks, below),
 *   - may write its chunks straight into the caller's buffer when the node
 *     is what dtx_array_compute computes (dtxa_emit_dest, CPU builds),
 *   - adds tasks of its own (dtxa_emit_task: CPU function, optional CUDA
 *     function, argument blob, output size hint, inputs by id),
 *   - names the task that makes each of the node's chunks (dtxa_emit_set).
 *
 * Contract of the callback (checked where it can be):
 *   - every chunk of the node gets a task with dtxa_emit_set, whose output is
 *     that chunk: C order, the chunk's own shape (ragged at the ends), the
 *     node's dtype. Two chunks may share a task only if equal; a chunk may be
 *     a task of an input (aliasing, no copy).
 *   - internal tasks (not set as chunks) may output anything (packed blobs);
 *     only the tasks the op adds read them.
 *   - task keys are <opname>-<serial><suffix>[idx]: suffix and idx must keep
 *     the op's keys unique (dtx_graph_add rejects duplicates).
 *   - the callback runs in the building thread; it must not keep the handle.
 *     A CUDA function is used only on GPU builds (cluster scheduler with
 *     GPUs); on simulated GPUs a task's CPU function runs in its place, so
 *     both must agree. Without a CUDA function a task runs on CPU threads.
 *   - data is the op's copy (made by dtxa_blocks, freed with the node).
 *
 * Multi-output operations (QR's Q and R, SVD's U, S, V^T): a task-list node
 * (dtxa_tasks) is a BLOCKS node whose "chunks" are just tasks, numbered
 * 0..ntasks-1, with outputs of any layout; it is internal (never handed to
 * users: its shape {ntasks} and dtype mean nothing). Each user-visible
 * output is a BLOCKS node over it whose emit aliases or copies the tasks it
 * needs (dtxa_emit_tasks). The task-list node is built once per build
 * (memoised), so Q and R computed together share one factorization.
 */
#ifndef DTXA_BLOCKS_H
#define DTXA_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#include "array/array.h"
#include "dtx/graph.h"

typedef struct dtxa_emit dtxa_emit;
/* Adds the node's tasks; DTX_OK, or an error (message set). */
typedef dtx_status (*dtxa_emit_fn)(dtxa_emit *e, const dtx_array *node, const void *data);

/* A BLOCKS node over in[0..nin) (retained): shape, chunk (clamped), dtype t,
 * emit and a copy of data (size bytes). NULL with an error on bad input or
 * out of memory. Not entered in the thread's scope (dtxa_ret does that). */
dtx_array *dtxa_blocks(dtx_cluster *cl, const char *opname, int ndim, const int64_t *shape,
                       const int64_t *chunk, dtx_dtype t, int nin, dtx_array *const *in, dtxa_emit_fn emit,
                       const void *data, size_t size);
/* A task-list node: ntasks tasks of any output (see the top). */
dtx_array *dtxa_tasks(dtx_cluster *cl, const char *opname, int64_t ntasks, dtx_dtype t, int nin,
                      dtx_array *const *in, dtxa_emit_fn emit, const void *data, size_t size);

/* One task an emit callback adds. */
typedef struct dtxa_task {
  const char *suffix; /* appended to <opname>-<serial> (NULL: none) */
  int nidx;           /* key indices: at most DTX_MAX_INDICES, or the node's ndim when they are
                       * its chunk index (then the leading ones fold into the first) */
  int64_t idx[DTX_ARRAY_MAX_DIMS];
  const dtx_task_id *in;
  int nin;
  const void *args;
  size_t args_size;
  dtx_task_fn cpu, cuda; /* cuda may be NULL */
  size_t output_size;    /* exact output bytes when known, else 0 */
} dtxa_task;

/* A task keyed <opname>-<serial><suffix>[idx] (nidx indices; suffix may be
 * NULL) reading the nin inputs in, with the argument blob args (args_size
 * bytes, copied when the task is added) and CPU function cpu; no CUDA
 * function and no output size yet (set t.cuda and t.output_size after when
 * the op has them). */
dtxa_task dtxa_task_make(const char *suffix, int nidx, const int64_t *idx, const dtx_task_id *in, int nin,
                         const void *args, size_t args_size, dtx_task_fn cpu);
/* 1 on GPU builds (CUDA functions are used), else 0. */
int dtxa_emit_gpu(const dtxa_emit *e);
/* The task making chunk bidx (one index per dim) of input i in chunking
 * chunk (NULL: the input's own). */
dtx_status dtxa_emit_input(dtxa_emit *e, int i, const int64_t *chunk, const int64_t *bidx, dtx_task_id *id);
/* 1 when input i is host memory read in place (CPU builds; a persisted or
 * caller's array, or a view of one): *base is its element [0, ..., 0] and
 * strides[d] the elements between neighbours along dim d; else 0 (read it
 * with dtxa_emit_input). The memory outlives the computation. */
int dtxa_emit_ext(dtxa_emit *e, int i, const char **base, int64_t *strides);
/* 1 when the node is being computed straight into the caller's buffer
 * (dtx_array_compute of it, CPU builds): *base is the buffer (C order, the
 * node's shape and dtype) and strides its element strides; the tasks the op
 * sets as chunks then write their chunk there and output nothing (size 0).
 * 0: the tasks output their chunks as usual. */
int dtxa_emit_dest(dtxa_emit *e, char **base, int64_t *strides);
/* The tasks of task-list input i (*n of them; valid during the callback). */
const dtx_task_id *dtxa_emit_tasks(dtxa_emit *e, int i, int64_t *n);
dtx_status dtxa_emit_task(dtxa_emit *e, const dtxa_task *t, dtx_task_id *id);
/* Chunk b (C order of the node's chunk grid) is task id's output. */
void dtxa_emit_set(dtxa_emit *e, int64_t b, dtx_task_id id);

/* build.c's side. dtxa_blocks_build runs the node's callback and checks every
 * chunk was set; the two dtxa_build_* functions are build.c's bridge (bc is
 * its build context). */
dtx_status dtxa_blocks_build(void *bc, int gpu, const dtx_array *a, int64_t n, dtx_task_id *ids);
const dtx_task_id *dtxa_build_input(void *bc, const dtx_array *a, const int64_t *chunk, int64_t *nb);
int dtxa_build_ext(void *bc, const dtx_array *a, const char **base, int64_t *strides);
int dtxa_build_dest(void *bc, const dtx_array *a, char **base, int64_t *strides);
dtx_status dtxa_build_add(void *bc, const dtx_task_desc *d, dtx_task_id *id);

#endif /* DTXA_BLOCKS_H */
