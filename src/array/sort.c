/*
 * array/sort.c - dtx_sort (dtx/sort.h): a DTXA_BLOCKS node (array/blocks.h)
 * over the input rechunked so the sorted axis is whole, one sort task
 * (kernels/sort.h) per chunk; on CPU builds a task reads its lanes in place
 * when the operand is host memory (a persisted array, say), so the rechunk
 * is never made. The building thread only; no state outside
 * the node.
 */
#include <string.h>

#include "array/blocks.h"
#include "array/complex.h"
#include "base/error.h"
#include "dtx/sort.h"
#include "kernels/sort.h"

typedef struct sort_op {
  int32_t axis, cplx; /* cplx: the node is a complex array's pairs (last axis 2) */
} sort_op;

/* Whether the task of chunk idx reads its lanes from host memory in place
 * (CPU builds; the operand, rechunked or not, a view of a persisted or
 * caller's array of 1 or 2 dims): then p's ext and strides say where. Saves
 * the copy of the whole operand a rechunk makes, and the copy of each
 * chunk into the output (the task copies its rows straight from there). */
static int in_place(dtxa_emit *e, const dtx_array *node, int axis, const int64_t *idx, dtxk_sort *p) {
  const char *base;
  int64_t st[DTX_ARRAY_MAX_DIMS];
  if (node->ndim > 2 || !dtxa_emit_ext(e, 0, &base, st)) return 0;
  int esz = (int)dtx_dtype_size(node->dtype);
  for (int d = 0; d < node->ndim; d++) base += idx[d] * node->chunk[d] * st[d] * esz;
  p->ext = (uint64_t)(uintptr_t)base;
  p->sk = st[axis];
  p->so = axis == 1 ? st[0] : 0; /* 2-d along axis 1: a lane per row */
  p->si = axis == 0 && node->ndim == 2 ? st[1] : 0;
  return 1;
}

/* Whether the task of chunk idx writes its lanes straight into the
 * caller's buffer (the sort of a 1-d or 2-d array is what dtx_array_compute
 * computes, CPU builds): then p's out_ext and strides say where. Saves the
 * copy of every chunk into the buffer, and the task sorts its rows there. */
static int to_dest(dtxa_emit *e, const dtx_array *node, int axis, const int64_t *idx, dtxk_sort *p) {
  char *base;
  int64_t st[DTX_ARRAY_MAX_DIMS];
  if (node->ndim > 2 || !dtxa_emit_dest(e, &base, st)) return 0;
  int esz = (int)dtx_dtype_size(node->dtype);
  for (int d = 0; d < node->ndim; d++) base += idx[d] * node->chunk[d] * st[d] * esz;
  p->out_ext = (uint64_t)(uintptr_t)base;
  p->osk = st[axis];
  p->oso = axis == 1 ? st[0] : 0;
  p->osi = axis == 0 && node->ndim == 2 ? st[1] : 0;
  return 1;
}

static dtx_status sort_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  const sort_op *so = data;
  int64_t n = dtxa_nblocks(node);
  dtx_status rc = DTX_OK;
  for (int64_t b = 0; b < n && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS];
    dtxk_sort p;
    memset(&p, 0, sizeof p);
    p.dtype = (int32_t)node->dtype;
    p.outer = p.inner = 1;
    dtxa_block_index(node, b, idx);
    for (int d = node->ndim - 1; d >= 0; d--) {
      int64_t len = dtxa_chunk_len(node, d, idx[d]);
      if (d < so->axis) p.outer *= len;
      if (d == so->axis) p.n = len;
      if (d > so->axis) p.inner *= len;
    }
    if (so->cplx) { /* elements are the (re, im) pairs: the last axis of 2 */
      p.inner /= 2;
      p.cplx = 1;
    }
    dtx_task_id x, id;
    int ext = !so->cplx && in_place(e, node, so->axis, idx, &p);
    if (!ext && (rc = dtxa_emit_input(e, 0, NULL, idx, &x)) != DTX_OK) break;
    dtxa_task t =
        dtxa_task_make(NULL, node->ndim, idx, ext ? NULL : &x, ext ? 0 : 1, &p, sizeof p, dtxk_sort_cpu);
    int dest = !so->cplx && to_dest(e, node, so->axis, idx, &p);
    t.cuda = ext || dest || so->cplx ? NULL : dtxk_sort_cuda; /* complex: CPU tasks */
    t.output_size = dest ? 0 : (size_t)(p.outer * p.n * p.inner) * dtx_dtype_size(node->dtype);
    if ((rc = dtxa_emit_task(e, &t, &id)) == DTX_OK) dtxa_emit_set(e, b, id);
  }
  return rc;
}

dtx_array *dtx_sort(const dtx_array *a, int axis) {
  if (a == NULL) return NULL;
  if (a->ndim == 0) {
    dtxi_fail(DTX_EINVAL, "dtx_sort: a is 0-d; it needs an axis to sort along");
    return NULL;
  }
  int ax = axis < 0 ? axis + a->ndim : axis;
  if (ax < 0 || ax >= a->ndim) {
    dtxi_fail(DTX_EINVAL, "dtx_sort: axis %d is out of range for a %d-d array", axis, a->ndim);
    return NULL;
  }
  dtx_array_scope_begin(); /* the rechunked input lives as long as the node holds it */
  dtx_array *x = (dtx_array *)a, *r = NULL;
  if (a->chunk[ax] < a->shape[ax]) {
    /* the axis whole, the other axes' chunks shrunk so a chunk keeps about its size */
    int64_t ch[DTX_ARRAY_MAX_DIMS];
    double f = (double)a->chunk[ax] / (double)a->shape[ax]; /* the shrink still to apply */
    for (int d = 0; d < a->ndim; d++) {
      if (d == ax) {
        ch[d] = a->shape[d];
        continue;
      }
      double want = (double)a->chunk[d] * f;
      ch[d] = want < 1.0 ? 1 : (int64_t)want;
      f = want < 1.0 ? want : 1.0; /* what a chunk of 1 could not absorb goes to the next axis */
    }
    x = dtx_rechunk(a, ch);
  }
  /* sort keys: float16 as float32, small integers as int32, uint32 as
   * int64 (exact both ways); the others as they are */
  dtx_dtype t = a->dtype, k = t;
  if (t == DTX_F16) k = DTX_F32;
  if (t == DTX_I8 || t == DTX_I16 || t == DTX_U8 || t == DTX_U16) k = DTX_I32;
  if (t == DTX_U32) k = DTX_I64;
  if (x != NULL && k != t) x = dtx_astype(x, k);
  sort_op so = {ax, 0};
  if (x != NULL && dtxa_cx_in(x)) { /* over the pairs, the result wrapped back */
    so.cplx = 1;
    const dtx_array *pr = dtxa_cx_pairs(x);
    r = dtxa_blocks(x->cl, "sort", pr->ndim, pr->shape, pr->chunk, pr->dtype, 1, (dtx_array *const *)&pr,
                    sort_emit, &so, sizeof so);
    if (r != NULL) r = dtx_array_keep(dtxa_ret(dtxa_cx_wrap(dtxa_ret(r))));
  } else if (x != NULL) {
    r = dtxa_blocks(x->cl, "sort", x->ndim, x->shape, x->chunk, k, 1, &x, sort_emit, &so, sizeof so);
  }
  if (r != NULL && k != t) r = dtx_array_keep(dtx_astype(dtxa_ret(r), t));
  dtx_array_scope_end();
  return r != NULL ? dtxa_ret(r) : NULL;
}
