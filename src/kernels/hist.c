/*
 * kernels/hist.c - the CPU implementation of histogram tasks
 * (kernels/hist.h). Runs on the task's thread; no state.
 */
#include <math.h>
#include <string.h>

#include "kernels/elem.h"
#include "kernels/hist.h"
#include "kernels/kernels.h"

/* Element i of a chunk of dtype t, as float64. */
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

/* The bin of x, or -1 when it is not counted. */
static int64_t bin_of(const dtxk_hist *h, const double *e, double x) {
  int64_t n = h->nbins;
  if (!(x >= e[0] && x <= e[n])) return -1; /* NaN too */
  if (h->uniform) {                         /* numpy.histogram's arithmetic */
    int64_t i = (int64_t)((x - e[0]) / (e[n] - e[0]) * (double)n);
    if (i >= n) i = n - 1;
    if (x < e[i]) i--;
    if (i < n - 1 && x >= e[i + 1]) i++;
    return i;
  }
  int64_t lo = 0, hi = n; /* the last edge <= x, among e[0..n-1] */
  while (hi - lo > 1) {
    int64_t mid = (lo + hi) / 2;
    if (e[mid] <= x)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

static void part(const dtxk_hist *h, const void *v, const void *w, void *out) {
  const double *e = dtxk_hist_edges(h);
  int64_t *ci = out;
  double *cf = out;
  for (int64_t i = 0; i < h->count; i++) {
    int64_t b = bin_of(h, e, value(v, h->dtype, i));
    if (b < 0) continue;
    if (w == NULL)
      ci[b]++;
    else
      cf[b] += value(w, h->wdtype, i);
  }
}

int dtxk_hist_cpu(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_hist *h = (const dtxk_hist *)dtx_task_args(ctx, &asz);
  if (h == NULL || asz < sizeof *h || h->nbins < 1 ||
      asz != sizeof *h + (size_t)(h->nbins + 1) * sizeof(double) || h->count < 0)
    return dtx_task_fail(ctx, "malformed histogram-task arguments");
  int nin = dtx_task_num_inputs(ctx);
  size_t ob = (size_t)h->nbins * 8;
  char *out = dtx_task_output(ctx, ob);
  if (out == NULL) return dtx_task_fail(ctx, "out of memory for %lld histogram bins", (long long)h->nbins);
  memset(out, 0, ob);
  if (h->mode == DTXK_HIST_PART) {
    if (nin != (h->wdtype != 0 ? 2 : 1)) return dtx_task_fail(ctx, "bad histogram task: wrong inputs");
    part(h, dtx_task_input(ctx, 0, NULL), h->wdtype != 0 ? dtx_task_input(ctx, 1, NULL) : NULL, out);
    return 0;
  }
  if (nin != h->count) return dtx_task_fail(ctx, "bad histogram task: wrong inputs");
  for (int j = 0; j < nin; j++) {
    const char *in = dtx_task_input(ctx, j, NULL);
    if (h->wdtype != 0) {
      for (int64_t b = 0; b < h->nbins; b++)
        ((double *)(void *)out)[b] += ((const double *)(const void *)in)[b];
    } else {
      for (int64_t b = 0; b < h->nbins; b++)
        ((int64_t *)(void *)out)[b] += ((const int64_t *)(const void *)in)[b];
    }
  }
  return 0;
}
