/*
 * kernels/hist.h - the argument blob of histogram tasks, written by
 * array/histogram.c and run by kernels/hist.c on CPU threads.
 *
 * PART tasks count one chunk of the values (input 0; weights, when given,
 * input 1 in the same chunking) into nbins counts: int64 without weights,
 * float64 sums of the weights with them. Values are read as float64, as
 * NumPy does; NaN and values outside [edges[0], edges[nbins]] are not
 * counted; the last bin includes its right edge. Uniform bins find the bin
 * as numpy.histogram does (scaled offset, then corrected against the
 * edges); explicit edges by binary search. SUM tasks add their inputs'
 * counts. The nbins + 1 edges follow the header.
 */
#ifndef DTXK_HIST_H
#define DTXK_HIST_H

#include <stdint.h>

#include "dtx/graph.h"

enum { DTXK_HIST_PART = 1, DTXK_HIST_SUM = 2 };

typedef struct dtxk_hist {
  int32_t mode;    /* DTXK_HIST_* */
  int32_t dtype;   /* PART: of the values */
  int32_t wdtype;  /* PART: of the weights, 0 without */
  int32_t uniform; /* equal bins from edges[0] to edges[nbins] */
  int64_t nbins;
  int64_t count; /* PART: values in the chunk; SUM: inputs */
  /* then nbins + 1 doubles: the edges */
} dtxk_hist;

static inline const double *dtxk_hist_edges(const dtxk_hist *h) {
  return (const double *)(const void *)(h + 1);
}

#ifdef __cplusplus
extern "C" {
#endif

int dtxk_hist_cpu(dtx_task_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* DTXK_HIST_H */
