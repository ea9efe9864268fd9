/*
 * kernels/pctl.c - the CPU implementation of percentile tasks
 * (kernels/pctl.h): NumPy's linear percentile of a sorted chunk, and
 * dask.array's merge_percentiles with numpy.interp. Runs on the task's
 * thread; its buffers are its own.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/elem.h"
#include "kernels/kernels.h"
#include "kernels/pctl.h"
#include "kernels/sort.h"

static double value(const void *p, int t, int64_t i) {
  switch (t) {
    case DTXK_BOOL:
      return ((const dtxk_b *)p)[i];
    case DTXK_I32:
      return ((const int32_t *)p)[i];
    case DTXK_I64:
      return (double)((const int64_t *)p)[i];
    case DTXK_F32:
      return ((const float *)p)[i];
    case DTXK_I8:
      return ((const int8_t *)p)[i];
    case DTXK_I16:
      return ((const int16_t *)p)[i];
    case DTXK_U8:
      return ((const uint8_t *)p)[i];
    case DTXK_U16:
      return ((const uint16_t *)p)[i];
    case DTXK_U32:
      return ((const uint32_t *)p)[i];
    case DTXK_U64:
      return (double)((const uint64_t *)p)[i];
    case DTXK_F16:
      return dtxk_f16_to_f32(((const dtxk_f16 *)p)[i]);
    default:
      return ((const double *)p)[i];
  }
}

/* numpy's _lerp: a + (b - a) t, from b's side when t >= 0.5 */
static double lerp(double a, double b, double t) {
  double d = b - a;
  return t >= 0.5 ? b - d * (1.0 - t) : a + d * t;
}

/* numpy.percentile(x, q, method='linear') of sorted x[0..n), n >= 1 */
static double linear(const double *x, int64_t n, double q) {
  double v = (double)(n - 1) * (q / 100.0);
  double lo = floor(v);
  int64_t i = (int64_t)lo, j = i + 1 < n ? i + 1 : n - 1;
  if (i > n - 1) i = n - 1;
  return lerp(x[i], x[j], v - lo);
}

static int chunk_task(dtx_task_ctx *ctx, const dtxk_pctl *p) {
  const double *q = dtxk_pctl_q(p);
  double *out = dtx_task_output(ctx, (size_t)(p->nq + 2) * sizeof(double));
  double *x = malloc((size_t)(p->n > 0 ? p->n : 1) * sizeof(double));
  if (out == NULL || x == NULL) {
    free(x);
    return dtx_task_fail(ctx, "out of memory for a percentile chunk of %lld values", (long long)p->n);
  }
  const void *in = dtx_task_input(ctx, 0, NULL);
  int nan = 0;
  for (int64_t i = 0; i < p->n; i++) {
    x[i] = value(in, p->dtype, i);
    nan |= x[i] != x[i];
  }
  if (p->n > 0 && dtxk_sort_lane(DTXK_F64, x, p->n, NULL) != 0) {
    free(x);
    return dtx_task_fail(ctx, "out of memory sorting a percentile chunk");
  }
  for (int64_t k = 0; k < p->nq; k++) out[k] = p->n > 0 && !nan ? linear(x, p->n, q[k]) : NAN;
  out[p->nq] = (double)p->n;
  out[p->nq + 1] = nan;
  free(x);
  return 0;
}

/* numpy.interp(x, xp, fp) for increasing xp[0..n) */
static double interp(double x, const double *xp, const double *fp, int64_t n) {
  if (x < xp[0]) return fp[0];
  if (x >= xp[n - 1]) return fp[n - 1];
  int64_t lo = 0, hi = n - 1; /* xp[lo] <= x < xp[hi]: lo ends as the last such index */
  while (hi - lo > 1) {
    int64_t mid = (lo + hi) / 2;
    if (xp[mid] <= x)
      lo = mid;
    else
      hi = mid;
  }
  if (xp[lo] == x) return fp[lo];
  double slope = (fp[lo + 1] - fp[lo]) / (xp[lo + 1] - xp[lo]);
  double r = slope * (x - xp[lo]) + fp[lo];
  if (r != r) {
    r = slope * (x - xp[lo + 1]) + fp[lo + 1];
    if (r != r && fp[lo] == fp[lo + 1]) r = fp[lo];
  }
  return r;
}

typedef struct vc {
  double v, c;
} vc;

static int by_value(const void *a, const void *b) {
  double x = ((const vc *)a)->v, y = ((const vc *)b)->v;
  return x < y ? -1 : x > y;
}

static int merge_task(dtx_task_ctx *ctx, const dtxk_pctl *p) {
  const double *q = dtxk_pctl_q(p);
  int64_t nr = p->nq - 2, m = 0;
  double *out = dtx_task_output(ctx, (size_t)(nr > 0 ? nr : 1) * sizeof(double));
  vc *all = malloc((size_t)(p->n * p->nq + 1) * sizeof *all);
  double *xp = malloc((size_t)(p->n * p->nq + 1) * sizeof *xp), *fp = malloc((size_t)(p->n * p->nq + 1) * 8);
  int rc = 0, nan = 0;
  double total = 0;
  if (out == NULL || all == NULL || xp == NULL || fp == NULL) {
    rc = dtx_task_fail(ctx, "out of memory merging percentiles");
    goto done;
  }
  for (int64_t c = 0; c < p->n; c++) {
    const double *r = dtx_task_input(ctx, (int)c, NULL);
    double n = r[p->nq];
    nan |= r[p->nq + 1] != 0;
    if (n == 0) continue; /* an empty chunk adds nothing */
    total += n;
    for (int64_t k = 0; k < p->nq; k++) all[m++] = (vc){r[k], (k == 0 ? q[0] : q[k] - q[k - 1]) * n};
  }
  if (m == 0 || nan) {
    for (int64_t k = 0; k < nr; k++) out[k] = NAN;
    goto done;
  }
  qsort(all, (size_t)m, sizeof *all, by_value);
  double acc = 0;
  for (int64_t i = 0; i < m; i++) {
    acc += all[i].c;
    xp[i] = acc;
    fp[i] = all[i].v;
  }
  const double *pos = dtxk_pctl_pos(p);
  for (int64_t k = 0; k < nr; k++) out[k] = interp(q[1 + (int64_t)pos[k]] * total, xp, fp, m);
done:
  free(all);
  free(xp);
  free(fp);
  return rc;
}

int dtxk_pctl_cpu(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_pctl *p = (const dtxk_pctl *)dtx_task_args(ctx, &asz);
  if (p == NULL || asz < sizeof *p || p->nq < 2 || asz != DTXK_PCTL_SIZE(p->nq) || p->n < 0)
    return dtx_task_fail(ctx, "malformed percentile-task arguments");
  if (p->mode == DTXK_PCTL_CHUNK) return chunk_task(ctx, p);
  if (dtx_task_num_inputs(ctx) != p->n) return dtx_task_fail(ctx, "bad percentile task: wrong inputs");
  return merge_task(ctx, p);
}
