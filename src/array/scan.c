/*
 * array/scan.c - cumsum / cumprod and their NaN forms (dtx/scan.h) as a
 * DTXA_BLOCKS node (array/blocks.h) with three kinds of tasks
 * (kernels/scan.h):
 *   .tot[b]    the total of chunk b along the axis (every chunk but the
 *              last of its row along the axis)
 *   .carry[b]  the total of all chunks before b in its row: .carry of the
 *              chunk before plus its .tot (a chain per row)
 *   [b]        chunk b scanned from its carry: the result's chunk
 * Rows along the axis are independent; within one, only the carries are
 * sequential, and they are one value per lane. The cumprod of a complex
 * array (dtxa_cx_cumprod) is such a node over its pairs with complex lanes
 * (kernels/scan.h: cplx).
 * The building thread runs the callback; no state outside the node.
 */
#include <stdlib.h>
#include <string.h>

#include "array/blocks.h"
#include "array/complex.h"
#include "base/error.h"
#include "dtx/scan.h"
#include "kernels/scan.h"

typedef struct scan_op {
  int32_t axis, op, nan, cplx;
} scan_op;

/* The blob for chunk bidx of node in mode. */
static dtxk_scan blob_for(const dtx_array *node, const scan_op *so, const int64_t *bidx, int mode,
                          int carry) {
  dtxk_scan p;
  memset(&p, 0, sizeof p);
  p.mode = mode;
  p.op = so->op;
  p.nan = so->nan;
  p.dtype = (int32_t)node->dtype;
  p.has_carry = carry;
  p.cplx = so->cplx;
  p.outer = p.inner = 1;
  for (int d = 0; d < node->ndim; d++) {
    int64_t lo = bidx[d] * node->chunk[d];
    int64_t len = node->shape[d] - lo < node->chunk[d] ? node->shape[d] - lo : node->chunk[d];
    if (d < so->axis) p.outer *= len;
    if (d == so->axis) p.n = len;
    if (d > so->axis) p.inner *= len;
  }
  return p;
}

static dtx_status add(dtxa_emit *e, const char *suffix, const dtx_array *node, const int64_t *bidx,
                      const dtxk_scan *p, const dtx_task_id *in, int nin, dtx_task_id *id) {
  int64_t lanes = p->outer * p->inner;
  dtxa_task t = dtxa_task_make(suffix, node->ndim, bidx, in, nin, p, sizeof *p, dtxk_scan_cpu);
  t.cuda = dtxk_scan_cuda;
  t.output_size = (size_t)((p->mode == DTXK_SCAN_SCAN ? lanes * p->n : lanes) * dtxk_size(p->dtype));
  return dtxa_emit_task(e, &t, id);
}

static dtx_status scan_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  const scan_op *so = data;
  int ax = so->axis;
  int64_t n = dtxa_nblocks(node), nba = dtxa_nb(node, ax), step = 1;
  for (int d = ax + 1; d < node->ndim; d++) step *= dtxa_nb(node, d);
  dtx_task_id *carry = calloc((size_t)(n > 0 ? n : 1), sizeof *carry);
  dtx_task_id *tot = calloc((size_t)(n > 0 ? n : 1), sizeof *tot);
  dtx_status rc = carry != NULL && tot != NULL ? DTX_OK : dtxi_fail(DTX_ENOMEM, "cumulative: out of memory");
  /* C order of the chunk grid visits chunk b - step (the one before along
   * the axis) before chunk b */
  for (int64_t b = 0; b < n && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS];
    dtxa_block_index(node, b, idx);
    dtx_task_id x;
    if ((rc = dtxa_emit_input(e, 0, NULL, idx, &x)) != DTX_OK) break;
    int j = (int)idx[ax] > 0;
    if (j) {
      dtx_task_id cin[2] = {carry[b - step], tot[b - step]};
      int has = idx[ax] > 1;
      dtxk_scan c = blob_for(node, so, idx, DTXK_SCAN_CARRY, has);
      if ((rc = add(e, ".carry", node, idx, &c, has ? cin : cin + 1, has ? 2 : 1, &carry[b])) != DTX_OK)
        break;
    }
    if (idx[ax] < nba - 1) {
      dtxk_scan t = blob_for(node, so, idx, DTXK_SCAN_TOTAL, 0);
      if ((rc = add(e, ".tot", node, idx, &t, &x, 1, &tot[b])) != DTX_OK) break;
    }
    dtx_task_id sin[2] = {x, carry[b]};
    dtxk_scan s = blob_for(node, so, idx, DTXK_SCAN_SCAN, j);
    dtx_task_id out;
    if ((rc = add(e, NULL, node, idx, &s, sin, j ? 2 : 1, &out)) != DTX_OK) break;
    dtxa_emit_set(e, b, out);
  }
  free(carry);
  free(tot);
  return rc;
}

/* NumPy's result dtype: unsigned integers accumulate in uint64, bool and
 * signed ones in int64, floats in their own dtype. */
static dtx_dtype acc_dtype(dtx_dtype t) {
  if (t == DTX_F16 || t == DTX_F32 || t == DTX_F64) return t;
  return t == DTX_U8 || t == DTX_U16 || t == DTX_U32 || t == DTX_U64 ? DTX_U64 : DTX_I64;
}

dtx_array *dtx_cumulative(const dtx_array *a, dtx_scan_op op, int axis) {
  static const char *names[] = {"", "cumsum", "cumprod", "nancumsum", "nancumprod"};
  if (a == NULL) return NULL;
  if (op < DTX_CUMSUM || op > DTX_NANCUMPROD) {
    dtxi_fail(DTX_EINVAL, "dtx_cumulative: op %d is not a dtx_scan_op", (int)op);
    return NULL;
  }
  const char *name = names[op];
  if (dtxa_cx_in(a)) return dtxa_ret(dtxa_cx_cumulative(a, (int)op, axis));
  if (a->ndim == 0) {
    dtxi_fail(DTX_EINVAL, "dtx_%s: a is 0-d; it needs an axis to accumulate along", name);
    return NULL;
  }
  int ax = axis < 0 ? axis + a->ndim : axis;
  if (ax < 0 || ax >= a->ndim) {
    dtxi_fail(DTX_EINVAL, "dtx_%s: axis %d is out of range for a %d-d array", name, axis, a->ndim);
    return NULL;
  }
  dtx_dtype t = acc_dtype(a->dtype), k = t == DTX_F16 ? DTX_F32 : t; /* float16 is scanned in float32 */
  scan_op so = {ax, op == DTX_CUMSUM || op == DTX_NANCUMSUM ? DTXK_SCAN_SUM : DTXK_SCAN_PROD,
                (op == DTX_NANCUMSUM || op == DTX_NANCUMPROD) && (k == DTX_F32 || k == DTX_F64), 0};
  dtx_array_scope_begin(); /* the converted input lives as long as the node holds it */
  dtx_array *x = a->dtype == k ? (dtx_array *)a : dtx_astype(a, k), *r = NULL;
  if (x != NULL)
    r = dtxa_blocks(x->cl, name, x->ndim, x->shape, x->chunk, k, 1, &x, scan_emit, &so, sizeof so);
  if (r != NULL && k != t) r = dtx_array_keep(dtx_astype(dtxa_ret(r), t)); /* back to float16 */
  dtx_array_scope_end();
  return r != NULL ? dtxa_ret(r) : NULL;
}

dtx_array *dtx_cumsum(const dtx_array *a, int axis) { return dtx_cumulative(a, DTX_CUMSUM, axis); }
dtx_array *dtx_cumprod(const dtx_array *a, int axis) { return dtx_cumulative(a, DTX_CUMPROD, axis); }
dtx_array *dtx_nancumsum(const dtx_array *a, int axis) { return dtx_cumulative(a, DTX_NANCUMSUM, axis); }
dtx_array *dtx_nancumprod(const dtx_array *a, int axis) { return dtx_cumulative(a, DTX_NANCUMPROD, axis); }

dtx_array *dtxa_cx_cumprod(const dtx_array *pairs, int axis) {
  scan_op so = {axis, DTXK_SCAN_PROD, 0, 1};
  return dtxa_blocks(pairs->cl, "cumprod", pairs->ndim, pairs->shape, pairs->chunk, pairs->dtype, 1,
                     (dtx_array **)&pairs, scan_emit, &so, sizeof so);
}
