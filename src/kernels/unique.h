/*
 * kernels/unique.h - the argument blob of unique tasks (dtx_unique,
 * dtx_unique_all), written by array/unique.c and run by kernels/unique.c on
 * CPU threads.
 *
 * dtype is the dtype the tasks sort in, one kernels/sort.h takes (bool,
 * int32, int64, uint64, float32, float64), or complex64 / complex128
 * (DTX_C64 / DTX_C128: pairs, sorted in NumPy's order of complex values;
 * every value with a NaN part is one value, the one kept the least of them
 * in that order, as numpy.unique's sorting path); in_dtype is the dtype of the
 * array's chunks, which a task reading them widens to dtype first (exactly:
 * float16 to float32, small integers to int32, uint32 to int64). NumPy's
 * order: NaN last and all NaNs one value (NumPy 2's equal_nan); -0.0 and
 * 0.0 one value. Every output's length is known only when it ran.
 *
 *   VALUES   concatenate the inputs (chunks, or outputs of VALUES tasks),
 *            sort, keep one of each run: the sorted distinct values.
 *   REC      one chunk's *record*: its distinct values, each with the flat
 *            index (C order) of its first occurrence and its count. global:
 *            the index in the whole array, from the chunk's start and len
 *            in an array of shape (ndim axes); else the index in the chunk.
 *   MERGE    records of consecutive parts merged into one: counts add, the
 *            first index is the least; a non-global input's indices are
 *            shifted by the spans of the inputs before it.
 *   FIELD    one field of a record (field: 0 values, 1 index, 2 counts).
 *   INVERSE  inputs: a chunk, a record of every value; output: each
 *            element's position among the record's values (int64).
 * A record is int64 n, span (elements it covers), index[n], count[n], then
 * n values of dtype, sorted. The value kept for 0.0 and -0.0 (one value) is
 * the first occurring, as numpy.unique with return_index.
 */
#ifndef DTXK_UNIQUE_H
#define DTXK_UNIQUE_H

#include <stdint.h>

#include "dtx/graph.h"

enum { DTXK_UNIQUE_VALUES = 0, DTXK_UNIQUE_REC, DTXK_UNIQUE_MERGE, DTXK_UNIQUE_FIELD, DTXK_UNIQUE_INVERSE };

#define DTXK_UNIQUE_MAX_DIMS 8

typedef struct dtxk_unique {
  int32_t dtype, mode;
  int32_t in_dtype, field;
  int32_t ndim, global;
  int64_t shape[DTXK_UNIQUE_MAX_DIMS], start[DTXK_UNIQUE_MAX_DIMS], len[DTXK_UNIQUE_MAX_DIMS];
} dtxk_unique;

#ifdef __cplusplus
extern "C" {
#endif

int dtxk_unique_cpu(dtx_task_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* DTXK_UNIQUE_H */
