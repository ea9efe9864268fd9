/*
 * dtx/stats.h - histograms and percentiles of chunked arrays
 * (numpy.histogram, dask.array.histogram, dask.array.percentile).
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

#ifdef __cplusplus
}
#endif

#endif /* DTX_STATS_H */
