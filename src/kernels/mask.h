/*
 * kernels/mask.h - the argument blob of boolean-mask selection tasks
 * (dtx_mask_select), written by array/mask.c and run by kernels/mask.c on
 * CPU threads.
 *
 * A task selects from one band of the array: the chunks whose block index
 * along axis 0 is `band`, every chunk along the other axes. Its inputs are
 * those chunks in C order of the chunk grid over axes 1.., then the mask's
 * chunks (bool, the same chunking) in the same order. Its output is the
 * selected elements (esz bytes each) in C order of the array, which is
 * NumPy's order for x[mask]; its length is known only when it ran.
 */
#ifndef DTXK_MASK_H
#define DTXK_MASK_H

#include <stdint.h>

#include "dtx/array.h"
#include "dtx/graph.h"

typedef struct dtxk_mask {
  int32_t esz, ndim; /* ndim >= 1 (a 0-d array is selected as shape (1,)) */
  int64_t rows;      /* the band's length along axis 0 */
  int64_t nchunks;   /* chunks in the band (inputs: as many values then masks) */
  int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
} dtxk_mask;

#ifdef __cplusplus
extern "C" {
#endif

int dtxk_mask_cpu(dtx_task_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* DTXK_MASK_H */
