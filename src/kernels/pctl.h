/*
 * kernels/pctl.h - the argument blob of percentile tasks (Dask's
 * approximate method), written by array/percentile.c and run by
 * kernels/pctl.c on CPU threads.
 *
 * CHUNK tasks sort a copy of one chunk of a 1-d array and write, as
 * float64, numpy.percentile(chunk, calc_q, method='linear') for the nq
 * values of calc_q = [0, q..., 100], then the chunk's length (as a float64)
 * and whether it held a NaN. MERGE tasks read every chunk's output and
 * write the nq - 2 requested percentiles as dask.array's merge_percentiles
 * does: each chunk's percentiles weighted by the observations between
 * them, sorted, accumulated, and interpolated as numpy.interp at q times
 * the total length; NaN when any chunk held a NaN (NumPy's answer). The
 * calc_q values follow the header, ascending (Dask's merge needs them so),
 * then nq - 2 doubles: for each requested percentile in the caller's
 * order, its position among the sorted ones (calc_q[1 + pos]).
 */
#ifndef DTXK_PCTL_H
#define DTXK_PCTL_H

#include <stdint.h>

#include "dtx/graph.h"

enum { DTXK_PCTL_CHUNK = 1, DTXK_PCTL_MERGE = 2 };

typedef struct dtxk_pctl {
  int32_t mode, dtype; /* CHUNK: the values' dtype */
  int64_t nq;          /* calc_q values, the requested ones plus 0 and 100 */
  int64_t n;           /* CHUNK: values in the chunk; MERGE: chunks */
  /* then nq doubles: calc_q */
} dtxk_pctl;

static inline const double *dtxk_pctl_q(const dtxk_pctl *p) { return (const double *)(const void *)(p + 1); }
static inline const double *dtxk_pctl_pos(const dtxk_pctl *p) { return dtxk_pctl_q(p) + p->nq; }
/* Bytes of a blob. */
#define DTXK_PCTL_SIZE(nq) (sizeof(dtxk_pctl) + (size_t)(2 * (nq)-2) * sizeof(double))

#ifdef __cplusplus
extern "C" {
#endif

int dtxk_pctl_cpu(dtx_task_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* DTXK_PCTL_H */
