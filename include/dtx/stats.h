/*
 * dtx/stats.h - histograms, percentiles and NaN-skipping reductions of
 * chunked arrays (numpy.histogram, dask.array.histogram,
 * dask.array.percentile, numpy.nansum and the other nan* reductions).
 *
 * dtx_histogram counts a's values (every element, any shape) in nbins
 * equal bins over [lo, hi], edges as numpy.linspace(lo, hi, nbins + 1)
 * (lo == hi widens the range by 0.5 each way, as NumPy); dtx_histogram_edges
 * in the bins between given edges, which must not decrease. A bin holds [left, right),
 * the last [left, right]; NaN and values outside are not counted. Values
 * are compared as float64 and uniform bins found with numpy.histogram's
 * arithmetic, so counts agree with NumPy's exactly. weights (NULL, or an
 * array of a's shape) make the counts sums of the weights of the values in
 * each bin, computed in float64. density 1 divides by the total and the bin
 * widths (a probability density, float64). The result is a 1-d array of
 * nbins in one chunk: int64 counts, or float64 with weights or density.
 * edges_out, when not NULL, receives the nbins + 1 edges. A task per chunk
 * counts it; sum tasks (8 inputs each, a tree) add the counts. All are CPU
 * tasks.
 *
 * dtx_percentile: the q[0..nq) percentiles (0 <= q <= 100) of a 1-d array
 * by Dask's approximate method (dask.array.percentile, method 'linear'):
 * a task per chunk takes NumPy's linear percentiles of the chunk at
 * [0, q..., 100]; one task merges them, each weighted by the number of
 * values between its neighbours, interpolating at q times the length. With
 * one chunk the result is numpy.percentile's exactly; with several it is
 * an approximation (it lies between the chunks' own percentiles). q need
 * not be sorted (dask.array.percentile's merge assumes it is). Any NaN
 * in a gives NaN, as NumPy. The result is float64, of length nq, one chunk;
 * an empty a gives NaN. CPU tasks.
 *
 * dtx_nanreduce and its shorthands: the reductions of dtx/array.h with NaN
 * values left out (NaN never appears in bool or integer arrays, where they
 * are the plain reductions). nansum / nanprod count NaN as 0 / 1; nanmean,
 * nanvar, nanstd divide by the number of values that are not NaN (minus
 * ddof); nanmin / nanmax skip NaN. A lane of NaNs only gives what NumPy
 * gives: sum 0, prod 1, NaN for mean, var, std, min and max (NumPy warns),
 * and -1 from nanargmin / nanargmax, where NumPy raises ValueError ("All-NaN
 * slice encountered"). Dtypes are those of the plain reductions (nanmean of
 * float32 is float32). Each is built from the plain reductions over
 * `where(x != x, identity, x)` (one fused pass per reduction; nanmean,
 * nanvar and nanstd also count, min and max also check for all-NaN lanes,
 * nanvar reads x twice, as a two-pass variance). Complex arrays as NumPy's
 * nanfunctions take them (dtx/complex.h): an element is NaN when either
 * part is; nanmin / nanmax are numpy.fmin / fmax reduced (a lane of NaNs
 * gives its first element, whole), nanargmin / nanargmax count NaN as
 * inf + 0j / -inf + 0j (-1 for a lane of NaNs), nanvar / nanstd are real.
 *
 * Errors: NULL with DTX_EINVAL for nbins < 1, a range that is not finite or
 * has lo > hi, edges that decrease, weights of another shape, a complex
 * dtype; for percentiles, a that is not 1-d, nq < 1 or q outside [0, 100].
 */
#ifndef DTX_STATS_H
#define DTX_STATS_H

#include "dtx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

DTX_API dtx_array *dtx_histogram(const dtx_array *a, int64_t nbins, double lo, double hi,
                                 const dtx_array *weights, int density, double *edges_out);
DTX_API dtx_array *dtx_histogram_edges(const dtx_array *a, const double *edges, int64_t nedges,
                                       const dtx_array *weights, int density);
DTX_API dtx_array *dtx_percentile(const dtx_array *a, const double *q, int64_t nq);

/* r: DTX_SUM, PROD, MEAN, MIN, MAX, VAR, STD, ARGMIN, ARGMAX (ANY / ALL have
 * no NaN form: DTX_EINVAL); axes and opts as dtx_reduce. */
DTX_API dtx_array *dtx_nanreduce(const dtx_array *a, dtx_reduction r, const int *axes, int naxes,
                                 const dtx_reduce_opts *opts);
DTX_API dtx_array *dtx_nansum(const dtx_array *a, const int *axes, int naxes);
DTX_API dtx_array *dtx_nanprod(const dtx_array *a, const int *axes, int naxes);
DTX_API dtx_array *dtx_nanmean(const dtx_array *a, const int *axes, int naxes);
DTX_API dtx_array *dtx_nanmin(const dtx_array *a, const int *axes, int naxes);
DTX_API dtx_array *dtx_nanmax(const dtx_array *a, const int *axes, int naxes);
DTX_API dtx_array *dtx_nanvar(const dtx_array *a, const int *axes, int naxes);
DTX_API dtx_array *dtx_nanstd(const dtx_array *a, const int *axes, int naxes);
/* axis: one axis, or DTX_NO_AXIS for the index into the flattened array. */
DTX_API dtx_array *dtx_nanargmin(const dtx_array *a, int axis);
DTX_API dtx_array *dtx_nanargmax(const dtx_array *a, int axis);

#ifdef __cplusplus
}
#endif

#endif /* DTX_STATS_H */
