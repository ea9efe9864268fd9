/*
 * kernels/unique.h - the argument blob of unique tasks (dtx_unique), written
 * by array/unique.c and run by kernels/unique.c on CPU threads.
 *
 * A unique task concatenates its inputs (chunks of the array, or outputs of
 * earlier unique tasks: whole buffers of elements of dtype), sorts them and
 * keeps one of each run of equal values: its output is the sorted distinct
 * values, NaN last and all NaNs as one (NumPy 2's np.unique, equal_nan).
 * dtype is one the sort tasks take (kernels/sort.h: bool, int32, int64,
 * uint64, float32, float64); its length is known only when it ran.
 */
#ifndef DTXK_UNIQUE_H
#define DTXK_UNIQUE_H

#include <stdint.h>

#include "dtx/graph.h"

typedef struct dtxk_unique {
  int32_t dtype, pad;
} dtxk_unique;

#ifdef __cplusplus
extern "C" {
#endif

int dtxk_unique_cpu(dtx_task_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* DTXK_UNIQUE_H */
