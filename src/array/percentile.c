/*
 * array/percentile.c - dtx_percentile (dtx/stats.h): a DTXA_BLOCKS node
 * (array/blocks.h) of one chunk made by a .chunk[i] task per chunk of the
 * 1-d input and one merge task (kernels/pctl.h, CPU tasks), as
 * dask.array.percentile's graph. The building thread only.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "array/blocks.h"
#include "base/error.h"
#include "dtx/stats.h"
#include "kernels/pctl.h"

static dtx_status add(dtxa_emit *e, const dtxk_pctl *p, const char *suffix, int64_t idx,
                      const dtx_task_id *in, int nin, size_t out_size, dtx_task_id *id) {
  dtxa_task t = dtxa_task_make(suffix, 1, &idx, in, nin, p, DTXK_PCTL_SIZE(p->nq), dtxk_pctl_cpu);
  t.output_size = out_size;
  return dtxa_emit_task(e, &t, id);
}

static dtx_status pctl_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  const dtxk_pctl *tmpl = data;
  size_t psz = DTXK_PCTL_SIZE(tmpl->nq);
  const dtx_array *a = node->in[0];
  int64_t nb = dtxa_nblocks(a);
  dtxk_pctl *p = malloc(psz);
  dtx_task_id *ids = calloc((size_t)(nb > 0 ? nb : 1), sizeof *ids);
  dtx_status rc = p != NULL && ids != NULL ? DTX_OK : dtxi_fail(DTX_ENOMEM, "percentile: out of memory");
  if (rc == DTX_OK) memcpy(p, tmpl, psz);
  for (int64_t b = 0; b < nb && rc == DTX_OK; b++) {
    dtx_task_id x;
    if ((rc = dtxa_emit_input(e, 0, NULL, &b, &x)) != DTX_OK) break;
    p->mode = DTXK_PCTL_CHUNK;
    p->n = a->shape[0] - b * a->chunk[0] < a->chunk[0] ? a->shape[0] - b * a->chunk[0] : a->chunk[0];
    rc = add(e, p, ".chunk", b, &x, 1, (size_t)(p->nq + 2) * sizeof(double), &ids[b]);
  }
  dtx_task_id out;
  if (rc == DTX_OK) {
    p->mode = DTXK_PCTL_MERGE;
    p->n = nb;
    rc = add(e, p, NULL, 0, ids, (int)nb, (size_t)(p->nq - 2) * sizeof(double), &out);
  }
  if (rc == DTX_OK) dtxa_emit_set(e, 0, out);
  free(p);
  free(ids);
  return rc;
}

dtx_array *dtx_percentile(const dtx_array *a, const double *q, int64_t nq) {
  const char *fn = "dtx_percentile";
  if (a == NULL) return NULL;
  if (a->ndim != 1) {
    dtxi_fail(DTX_EINVAL, "%s: a is %d-d; percentiles are taken of 1-d arrays (as dask.array's)", fn,
              a->ndim);
    return NULL;
  }
  if (dtx_dtype_size(a->dtype) == 0 || a->dtype > DTX_F16) { /* the real dtypes */
    dtxi_fail(DTX_EINVAL,
              "%s: a's dtype %s is not real; percentiles are of real numbers (NumPy's "
              "percentile refuses complex too): take dtx_real or dtx_abs of it first",
              fn, dtx_dtype_name(a->dtype));
    return NULL;
  }
  if (q == NULL || nq < 1) {
    dtxi_fail(DTX_EINVAL, "%s: give at least one q", fn);
    return NULL;
  }
  for (int64_t k = 0; k < nq; k++)
    if (!(q[k] >= 0 && q[k] <= 100)) {
      dtxi_fail(DTX_EINVAL, "%s: q[%lld] = %g is outside [0, 100]", fn, (long long)k, q[k]);
      return NULL;
    }
  if (a->chunk[0] > 0 && dtxa_nblocks(a) > INT32_MAX) {
    dtxi_fail(DTX_EINVAL, "%s: too many chunks; rechunk a", fn);
    return NULL;
  }
  size_t psz = DTXK_PCTL_SIZE(nq + 2);
  dtxk_pctl *p = calloc(1, psz);
  if (p == NULL) {
    dtxi_fail(DTX_ENOMEM, "%s: out of memory", fn);
    return NULL;
  }
  p->dtype = (int32_t)a->dtype;
  p->nq = nq + 2;
  /* Dask's calc_q, [0, q..., 100], with q sorted (Dask's merge assumes it;
   * dask.array.percentile itself gives wrong values for unsorted q) */
  double *cq = (double *)(void *)(p + 1), *pos = cq + nq + 2;
  cq[0] = 0;
  cq[nq + 1] = 100;
  for (int64_t k = 0; k < nq; k++) { /* insertion: q is short */
    int64_t j = k;
    for (; j > 0 && cq[j] > q[k]; j--) cq[j + 1] = cq[j];
    cq[j + 1] = q[k];
  }
  for (int64_t k = 0; k < nq; k++) /* where q[k] went (any of equal ones) */
    for (int64_t j = 0; j < nq; j++)
      if (cq[1 + j] == q[k]) {
        pos[k] = (double)j;
        break;
      }
  dtx_array *in = (dtx_array *)a;
  dtx_array *r = dtxa_blocks(a->cl, "percentile", 1, &nq, &nq, DTX_F64, 1, &in, pctl_emit, p, psz);
  free(p);
  return dtxa_ret(r);
}
