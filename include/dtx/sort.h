/*
 * dtx/sort.h - sorting a chunked array along an axis (numpy.sort), and the
 * k largest or smallest values or their indices (dask.array.topk, argtopk).
 *
 * dtx_sort sorts every lane along axis in ascending order, NaN last (as
 * NumPy); -0.0 and 0.0 compare equal. The result has a's shape and dtype.
 * A lane must be in one chunk to be sorted by one task: when a has several
 * chunks along axis, dtx rechunks it first so the axis is whole, shrinking
 * the other axes' chunks in proportion (a chunk keeps about its bytes), and
 * the result has those chunks (dask.array offers no sort; its users
 * map_blocks np.sort over such chunks). CPU tasks radix-sort each lane;
 * GPU tasks use CUB's segmented sort.
 *
 * dtx_topk / dtx_argtopk (dask.array.topk / argtopk): the k largest values
 * along axis, largest first, for k > 0; the |k| smallest, smallest first,
 * for k < 0; argtopk gives their int64 indices along the axis instead. NaN
 * counts as larger than everything (NumPy's order); of equal values the
 * one with the smaller index comes first (dask.array's order of equal
 * values depends on its partition and the chunks, so its indices of ties
 * may differ). Complex arrays in NumPy's order of complex values
 * (dtx/complex.h). The result has a's shape with
 * |k| along axis, in one chunk there, and a's chunks elsewhere. Each chunk
 * keeps its |k| best per lane, then merge tasks (8 inputs each, a tree)
 * keep the |k| best of those: CPU tasks (on a GPU cluster too).
 *
 * Errors: NULL with DTX_EINVAL for a NULL or 0-d array, a bad axis, k 0 or
 * |k| longer than the axis.
 */
#ifndef DTX_SORT_H
#define DTX_SORT_H

#include "dtx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

/* a sorted along axis (negative counts from the end). */
DTX_API dtx_array *dtx_sort(const dtx_array *a, int axis);
DTX_API dtx_array *dtx_topk(const dtx_array *a, int64_t k, int axis);
DTX_API dtx_array *dtx_argtopk(const dtx_array *a, int64_t k, int axis);

#ifdef __cplusplus
}
#endif

#endif /* DTX_SORT_H */
