/*
 * array/la.h - what the linalg files of the array layer share (la_util.c):
 * argument checks, float promotion, and one-task nodes over whole inputs.
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
/* a as float (float32 stays, anything else float64); in scope. */
dtx_array *dtxa_la_float(const dtx_array *a);

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

/* tsqr's Q and R over a float a (checked); in scope. */
dtx_status dtxa_tsqr(const dtx_array *a, dtx_array **q, dtx_array **r);
/* The SVD of a float a with one chunk, or one column (row) of chunks. */
dtx_status dtxa_svd(const dtx_array *a, dtx_array **u, dtx_array **s, dtx_array **vt);

/* Dask's svd_flip (v-based): flips the signs of u's columns and vt's rows
 * so that each row of vt sums to >= 0. */
void dtxa_svd_flip(dtx_array **u, dtx_array **vt);

/* Hands the outputs out of the function's scope: keeps each non-NULL
 * out[i] (else releases nothing), ends the scope, and enters the kept ones
 * in the caller's scope. Returns rc. */
dtx_status dtxa_la_finish(dtx_status rc, int n, dtx_array **const *out, dtx_array *const *val);

#endif /* DTXA_LA_H */
