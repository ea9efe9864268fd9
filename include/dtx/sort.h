/*
 * dtx/sort.h - sorting a chunked array along an axis (numpy.sort).
 *
 * dtx_sort sorts every lane along axis in ascending order, NaN last (as
 * NumPy); -0.0 and 0.0 compare equal. The result has a's shape and dtype.
 * A lane must be in one chunk to be sorted by one task: when a has several
 * chunks along axis, dtx rechunks it first so the axis is whole, shrinking
 * the other axes' chunks in proportion (a chunk keeps about its bytes), and
 * the result has those chunks (dask.array offers no sort; its users
 * map_blocks np.sort over such chunks). CPU tasks radix-sort each lane;
 * GPU tasks use CUB's segmented sort.
 * Errors: NULL with DTX_EINVAL for a NULL or 0-d array or a bad axis.
 */
#ifndef DTX_SORT_H
#define DTX_SORT_H

#include "dtx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

/* a sorted along axis (negative counts from the end). */
DTX_API dtx_array *dtx_sort(const dtx_array *a, int axis);

#ifdef __cplusplus
}
#endif

#endif /* DTX_SORT_H */
