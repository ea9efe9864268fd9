/*
 * array/la.h - what the linalg files of the array layer share (la_util.c):
 * argument checks, float promotion, and one-task nodes over whole inputs.
 *
 * Complex arrays: a linalg node is built over the pairs of its complex
 * inputs ((..., 2) float arrays, array/complex.h; a chunk of them is the
 * interleaved complex values LAPACK takes) and, when its output is complex,
 * is itself such a pairs array wrapped back (dtxa_la_blocks, dtxa_la1).
 * The blobs then carry the complex dtype (kernels/la.h). Emit callbacks
 * read chunk (i, j) of an input as (i, j, 0): the pairs' last axis is one
 * chunk, and the chunk grids (so the chunk numbers) are the same.
 *
 * Every function here makes arrays inside the caller's open scope (the
 * public dtx_linalg_* functions open one, keep their outputs and close it).
 */
#ifndef DTXA_LA_H
#define DTXA_LA_H

#include "array/blocks.h"
#include "dtx/linalg.h"
#include "kernels/la.h"

/* Checks a is a 2-d (ndim2 1: 2-d; 0: any) non-NULL array in a build with
 * LAPACKE; DTX_OK or the error (message set, naming fn). */
dtx_status dtxa_la_check(const char *fn, const dtx_array *a, int need2d);
/* a as float or complex (float32, complex64 and complex128 stay, anything
 * else float64); in scope. */
dtx_array *dtxa_la_float(const dtx_array *a);
/* The conjugate transpose of 2-d a (the transpose of a real a); in scope. */
dtx_array *dtxa_la_ct(const dtx_array *a);
/* NumPy's linalg result dtype of two float / complex operands (integers
 * and bool count as float64): complex when either is, float32 parts only
 * when both are single precision. */
dtx_dtype dtxa_la_result(dtx_dtype a, dtx_dtype b);
/* dtxa_blocks for a linalg node of dtype t: for a complex t, the node over
 * the pairs of the inputs (shape and chunk (..., 2), the part dtype),
 * wrapped as a complex array. In scope. */
dtx_array *dtxa_la_blocks(dtx_cluster *cl, const char *opname, int ndim, const int64_t *shape,
                          const int64_t *chunk, dtx_dtype t, int nin, dtx_array *const *in, dtxa_emit_fn emit,
                          const void *data, size_t size);
/* dtxa_tasks over the inputs (the pairs of complex ones); in scope. */
dtx_array *dtxa_la_tasks(dtx_cluster *cl, const char *opname, int64_t ntasks, dtx_dtype t, int nin,
                         dtx_array *const *in, dtxa_emit_fn emit, const void *data, size_t size);

/* A node made by one linalg task over whole inputs: input i is read as one
 * chunk (its tasks assembled when chunked), or, for a task-list input
 * (dtxa_tasks), its task task_of[i]. tasklist 1: the node is itself a
 * one-task task list (its output any layout); else its one chunk is the
 * task's output (shape, dtype t). args: the task's blob (pieces name inputs
 * by index). In scope. */
dtx_array *dtxa_la1(const char *opname, int tasklist, int ndim, const int64_t *shape, dtx_dtype t, int nin,
                    dtx_array *const *in, const int64_t *task_of, const dtxk_la *args);
/* A contiguous piece of a task's output or an input: rows x cols at off. */
static inline dtxk_la_piece dtxa_la_piece(int input, int64_t off, int64_t rows, int64_t cols, int64_t ld) {
  dtxk_la_piece p = {input, 0, off, rows, cols, ld};
  return p;
}

/* tsqr's Q and R over a float or complex a (checked); in scope. */
dtx_status dtxa_tsqr(const dtx_array *a, dtx_array **q, dtx_array **r);
/* The SVD of a float or complex a with one chunk, or one column (row) of
 * chunks: S real (the part dtype), V^H for complex a. */
dtx_status dtxa_svd(const dtx_array *a, dtx_array **u, dtx_array **s, dtx_array **vt);

/* Dask's svd_flip (v-based): flips the signs of u's columns and vt's rows
 * so that each row of vt sums to >= 0 (for complex vt: >= 0 in NumPy's
 * order of complex values, the real part first, as Dask's code does given
 * complex arrays; a factor of -1 only, not a phase). */
void dtxa_svd_flip(dtx_array **u, dtx_array **vt);

/* Hands the outputs out of the function's scope: keeps each non-NULL
 * out[i] (else releases nothing), ends the scope, and enters the kept ones
 * in the caller's scope. Returns rc. */
dtx_status dtxa_la_finish(dtx_status rc, int n, dtx_array **const *out, dtx_array *const *val);

#endif /* DTXA_LA_H */
