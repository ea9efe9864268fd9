/*
 * kernels/take.h - the argument blob of take tasks (dtx_take, dtx_take_array),
 * written by array/take.c and run by kernels/take.c on CPU threads.
 *
 * A take task gathers one output chunk, outer x n x inner elements of esz
 * bytes in C order, from input chunks of outer x len[j] x inner (all along
 * the taken axis, the other axes' block indices fixed). Element k of the
 * output along the axis is element off[k] of input slot[k].
 *   LIST:  the blob holds len[nin], off[n] and slot[n] (int32) after the
 *          header; the indices were checked when the array was made.
 *   ARRAY: input 0 holds n int64 indices (any value: checked here, negative
 *          ones count from the end of an axis of length axis_len); inputs
 *          1..nin are every chunk along the axis, regular chunks of chunk.
 *   FLAT:  as ARRAY, but the indices (any shape: the output has the index
 *          chunk's) are into the flattened array (axis None): inputs 1..nin
 *          are every chunk of an array of ndim axes of shape, chunk (C order
 *          of the chunk grid); outer = inner = 1. (dtx_take's LIST serves
 *          axis None too: offsets within a chunk's elements, outer = inner = 1.)
 * Output: outer x n x inner elements; a failing index fails the task with
 * NumPy's IndexError message.
 */
#ifndef DTXK_TAKE_H
#define DTXK_TAKE_H

#include <stdint.h>

#include "dtx/graph.h"

enum { DTXK_TAKE_LIST = 1, DTXK_TAKE_ARRAY = 2, DTXK_TAKE_FLAT = 3 };

#define DTXK_TAKE_MAX_DIMS 8

typedef struct dtxk_take {
  int32_t mode, esz;
  int32_t nin, axis; /* data inputs; the axis (for messages) */
  int64_t outer, inner, n;
  int64_t chunk, axis_len; /* ARRAY: the input's chunk and length along the axis; FLAT: axis_len its size */
  int32_t ndim, pad;       /* FLAT: the input's shape and chunks */
  int64_t shape[DTXK_TAKE_MAX_DIMS], chunks[DTXK_TAKE_MAX_DIMS];
  /* LIST: int64_t len[nin], int64_t off[n], int32_t slot[n] follow */
} dtxk_take;

/* Bytes of a LIST blob. */
static inline size_t dtxk_take_size(int64_t nin, int64_t n) {
  return sizeof(dtxk_take) + (size_t)(nin + n) * sizeof(int64_t) + (size_t)n * sizeof(int32_t);
}

#ifdef __cplusplus
extern "C" {
#endif

int dtxk_take_cpu(dtx_task_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* DTXK_TAKE_H */
