/*
 * dtx/stats.h - histograms of chunked arrays (numpy.histogram,
 * dask.array.histogram).
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
 * counts it; sum tasks (8 inputs each, a tree) add the counts.
 * Errors: NULL with DTX_EINVAL for nbins < 1, a range that is not finite or
 * has lo > hi, edges that decrease, weights of another shape, or a complex
 * dtype.
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

#ifdef __cplusplus
}
#endif

#endif /* DTX_STATS_H */
