/*
 * dtx/scan.h - cumulative sums and products along an axis of a chunked
 * array (numpy.cumsum, cumprod, nancumsum, nancumprod; dask.array's blocked
 * scans).
 *
 * The result has a's shape and chunks. Its dtype is NumPy's: bool and
 * signed integers accumulate in int64, unsigned ones in uint64, floats in
 * their own dtype; float16 is accumulated in float32 and each result
 * rounded to float16 once (NumPy rounds every partial sum to float16, so
 * long float16 scans differ: dtx's are the more accurate). The NaN forms
 * count NaN as 0 (sums) or 1 (products). How it runs: a task per chunk
 * reduces the chunk along the axis (its total), a chain of small tasks per
 * row of chunks adds the totals of the chunks before each one (the carry),
 * and a task per chunk scans it starting from its carry: a reads twice,
 * the result written once, every chunk in parallel but the carries. Floats
 * are added in NumPy's order within a chunk and one carry per chunk, so
 * results agree with NumPy to rounding, not bit for bit, when there are
 * several chunks along the axis.
 * Errors: NULL with DTX_EINVAL for a NULL or 0-d array or a bad axis
 * (NumPy's axis=None, the flattened array, is not offered).
 */
#ifndef DTX_SCAN_H
#define DTX_SCAN_H

#include "dtx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dtx_scan_op {
  DTX_CUMSUM = 1,
  DTX_CUMPROD,
  DTX_NANCUMSUM,
  DTX_NANCUMPROD,
} dtx_scan_op;

/* The cumulative op of a along axis (negative counts from the end). */
DTX_API dtx_array *dtx_cumulative(const dtx_array *a, dtx_scan_op op, int axis);
DTX_API dtx_array *dtx_cumsum(const dtx_array *a, int axis);
DTX_API dtx_array *dtx_cumprod(const dtx_array *a, int axis);
DTX_API dtx_array *dtx_nancumsum(const dtx_array *a, int axis);
DTX_API dtx_array *dtx_nancumprod(const dtx_array *a, int axis);

#ifdef __cplusplus
}
#endif

#endif /* DTX_SCAN_H */
