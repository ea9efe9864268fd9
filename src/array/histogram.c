/*
 * array/histogram.c - dtx_histogram and dtx_histogram_edges (dtx/stats.h):
 * a DTXA_BLOCKS node (array/blocks.h) of one chunk, made by
 *   .part[b]   the counts of chunk b of a (and its weights, read in a's chunks)
 *   .sum<L>[g] level L of a tree adding up to FANIN counts
 * (kernels/hist.h, CPU tasks), then the density as ordinary array
 * operations. The building thread only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/blocks.h"
#include "base/error.h"
#include "dtx/stats.h"
#include "kernels/hist.h"

#define FANIN 8

/* The node's data: the blob header and the edges (a PART blob). */
static dtx_status add(dtxa_emit *e, const dtxk_hist *h, const char *suffix, int64_t idx,
                      const dtx_task_id *in, int nin, dtx_task_id *id) {
  dtxa_task t = dtxa_task_make(suffix, 1, &idx, in, nin, h,
                               sizeof *h + (size_t)(h->nbins + 1) * sizeof(double), dtxk_hist_cpu);
  t.output_size = (size_t)h->nbins * 8;
  return dtxa_emit_task(e, &t, id);
}

static dtx_status hist_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  const dtxk_hist *tmpl = data;
  size_t hsz = sizeof *tmpl + (size_t)(tmpl->nbins + 1) * sizeof(double);
  const dtx_array *a = node->in[0];
  int64_t nb = dtxa_nblocks(a);
  dtxk_hist *h = malloc(hsz);
  dtx_task_id *ids = calloc((size_t)(nb > 0 ? nb : 1), sizeof *ids);
  dtx_status rc = h != NULL && ids != NULL ? DTX_OK : dtxi_fail(DTX_ENOMEM, "histogram: out of memory");
  if (rc == DTX_OK) memcpy(h, tmpl, hsz);
  for (int64_t b = 0; b < nb && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS];
    h->count = 1;
    dtxa_block_index(a, b, idx);
    for (int d = 0; d < a->ndim; d++) h->count *= dtxa_chunk_len(a, d, idx[d]);
    dtx_task_id in[2];
    rc = dtxa_emit_input(e, 0, NULL, idx, &in[0]);
    if (rc == DTX_OK && h->wdtype != 0) rc = dtxa_emit_input(e, 1, a->chunk, idx, &in[1]);
    h->mode = DTXK_HIST_PART;
    if (rc == DTX_OK) rc = add(e, h, ".part", b, in, h->wdtype != 0 ? 2 : 1, &ids[b]);
  }
  /* the tree of sums (one task with no inputs, zeros, for an empty array) */
  int64_t n = nb;
  for (int level = 0; rc == DTX_OK && (n > 1 || nb == 0); level++) {
    int64_t groups = (n + FANIN - 1) / FANIN;
    char suffix[16];
    snprintf(suffix, sizeof suffix, ".sum%d", level);
    if (nb == 0) groups = 1;
    for (int64_t g = 0; g < groups && rc == DTX_OK; g++) {
      int m = (int)(n - g * FANIN < FANIN ? n - g * FANIN : FANIN);
      h->mode = DTXK_HIST_SUM;
      h->count = m;
      rc = add(e, h, suffix, g, ids + g * FANIN, m, &ids[g]);
    }
    n = groups;
    nb = n; /* no more empty */
  }
  if (rc == DTX_OK) dtxa_emit_set(e, 0, ids[0]);
  free(h);
  free(ids);
  return rc;
}

static dtx_status check_in(const char *fn, const dtx_array *a, const dtx_array *w) {
  if (dtx_dtype_size(a->dtype) == 0 || a->dtype > DTX_F16) /* the real dtypes */
    return dtxi_fail(DTX_EINVAL, "%s: a's dtype %s is not counted in bins", fn, dtx_dtype_name(a->dtype));
  if (w == NULL) return DTX_OK;
  int same = w->ndim == a->ndim;
  for (int d = 0; same && d < a->ndim; d++) same = w->shape[d] == a->shape[d];
  if (!same) return dtxi_fail(DTX_EINVAL, "%s: weights must have a's shape", fn);
  if (w->dtype > DTX_F16) return dtxi_fail(DTX_EINVAL, "%s: weights must be bool, integer or float", fn);
  return DTX_OK;
}

/* The histogram node over edges e[0..nbins], then the density. */
static dtx_array *build(const char *fn, const dtx_array *a, const double *e, int64_t nbins, int uniform,
                        const dtx_array *w, int density) {
  if (a == NULL || check_in(fn, a, w) != DTX_OK) return NULL;
  size_t hsz = sizeof(dtxk_hist) + (size_t)(nbins + 1) * sizeof(double);
  dtxk_hist *h = calloc(1, hsz);
  if (h == NULL) {
    dtxi_fail(DTX_ENOMEM, "%s: out of memory", fn);
    return NULL;
  }
  h->dtype = (int32_t)a->dtype;
  h->wdtype = w != NULL ? (int32_t)w->dtype : 0;
  h->uniform = uniform;
  h->nbins = nbins;
  memcpy(h + 1, e, (size_t)(nbins + 1) * sizeof(double));
  dtx_array *in[2] = {(dtx_array *)a, (dtx_array *)w};
  dtx_array_scope_begin();
  dtx_array *n = dtxa_ret(dtxa_blocks(a->cl, "histogram", 1, &nbins, &nbins, w != NULL ? DTX_F64 : DTX_I64,
                                      w != NULL ? 2 : 1, in, hist_emit, h, hsz));
  free(h);
  if (n != NULL && density) {
    double *widths = malloc((size_t)nbins * sizeof(double));
    if (widths != NULL) {
      for (int64_t i = 0; i < nbins; i++) widths[i] = e[i + 1] - e[i];
      dtx_array *wa = dtx_from_host(a->cl, 1, &nbins, &nbins, DTX_F64, widths, DTX_HOST_COPY);
      dtx_array *nf = dtx_astype(n, DTX_F64);
      n = dtx_div(nf, dtx_mul(dtx_sum(nf, NULL, 0), wa));
      free(widths);
    } else {
      n = NULL;
      dtxi_fail(DTX_ENOMEM, "%s: out of memory", fn);
    }
  }
  dtx_array_keep(n);
  dtx_array_scope_end();
  return n != NULL ? dtxa_ret(n) : NULL;
}

dtx_array *dtx_histogram(const dtx_array *a, int64_t nbins, double lo, double hi, const dtx_array *weights,
                         int density, double *edges_out) {
  const char *fn = "dtx_histogram";
  if (nbins < 1) {
    dtxi_fail(DTX_EINVAL, "%s: nbins = %lld; it must be at least 1", fn, (long long)nbins);
    return NULL;
  }
  if (!isfinite(lo) || !isfinite(hi) || lo > hi) {
    dtxi_fail(DTX_EINVAL, "%s: the range [%g, %g] must be finite with lo <= hi", fn, lo, hi);
    return NULL;
  }
  if (lo == hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  double *e = malloc((size_t)(nbins + 1) * sizeof(double));
  if (e == NULL) {
    dtxi_fail(DTX_ENOMEM, "%s: out of memory", fn);
    return NULL;
  }
  double step = (hi - lo) / (double)nbins; /* numpy.linspace's edges */
  for (int64_t i = 0; i < nbins; i++) e[i] = (double)i * step + lo;
  e[nbins] = hi;
  dtx_array *r = build(fn, a, e, nbins, 1, weights, density);
  if (r != NULL && edges_out != NULL) memcpy(edges_out, e, (size_t)(nbins + 1) * sizeof(double));
  free(e);
  return r;
}

dtx_array *dtx_histogram_edges(const dtx_array *a, const double *edges, int64_t nedges,
                               const dtx_array *weights, int density) {
  const char *fn = "dtx_histogram_edges";
  if (edges == NULL || nedges < 2) {
    dtxi_fail(DTX_EINVAL, "%s: give at least 2 edges", fn);
    return NULL;
  }
  for (int64_t i = 0; i + 1 < nedges; i++)
    if (!(edges[i] <= edges[i + 1])) {
      dtxi_fail(DTX_EINVAL, "%s: edges must not decrease (edges[%lld] = %g, edges[%lld] = %g)", fn,
                (long long)i, edges[i], (long long)(i + 1), edges[i + 1]);
      return NULL;
    }
  return build(fn, a, edges, nedges - 1, 0, weights, density);
}
