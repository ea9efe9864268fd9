/*
 * array/cprod.c - dtx_prod of complex arrays (dtx/complex.h): one axis at a
 * time, a DTXA_BLOCKS node (array/blocks.h) over the pairs whose chunks are
 * length 1 along the axis. Per output chunk:
 *   .part[b]   the product along the axis of input chunk b (kernels/cmath.h
 *              PART: in order, starting from the first value, as NumPy)
 *   .m<L>[b]   level L of a tree of products of up to split_every inputs
 * Partial products are complex128 (complex64 rounds once, at the end, as
 * dtx's float32 reductions do). Tasks run on CPU threads.
 *
 * Called by array/complex.c inside its private scope; the results are
 * entered in that scope. The building thread only; no state outside the
 * nodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/blocks.h"
#include "array/complex.h"
#include "base/error.h"
#include "kernels/cmath.h"

typedef struct cprod_op {
  int32_t axis;  /* of the pairs */
  int32_t fanin; /* split_every */
  int32_t prec;  /* of the input and the result: 4 or 8 */
  int32_t pad;
} cprod_op;

/* Extent of block i of x along d. */
static int64_t extent(const dtx_array *x, int d, int64_t i) {
  int64_t lo = i * x->chunk[d];
  return x->shape[d] - lo < x->chunk[d] ? x->shape[d] - lo : x->chunk[d];
}

static dtx_status add_task(dtxa_emit *e, const char *suffix, const int64_t *idx, int nidx,
                           const dtx_task_id *in, int nin, const dtxk_cmath *c, dtx_task_id *id) {
  dtxa_task t = dtxa_task_make(suffix, nidx, idx, in, nin, c, sizeof *c, dtxk_cmath_cpu);
  t.output_size = (size_t)dtxk_cmath_out_bytes(c);
  return dtxa_emit_task(e, &t, id);
}

/* The tasks of output chunk b (block index idx, idx[axis] 0). */
static dtx_status chunk_tasks(dtxa_emit *e, const dtx_array *node, const cprod_op *op, int64_t *idx,
                              int64_t b) {
  const dtx_array *x = node->in[0];
  int ax = op->axis, nd = node->ndim;
  int64_t J = dtxa_nb(x, ax), outer = 1, inner = 1;
  for (int d = 0; d < nd - 1; d++) {
    if (d < ax) outer *= extent(x, d, idx[d]);
    if (d > ax) inner *= extent(x, d, idx[d]);
  }
  dtx_task_id *ids = calloc((size_t)J, sizeof *ids);
  if (ids == NULL) return dtxi_fail(DTX_ENOMEM, "dtx_prod: out of memory");
  dtx_status rc = DTX_OK;
  dtxk_cmath c;
  memset(&c, 0, sizeof c);
  c.mode = DTXK_CMATH_PART;
  c.prec = op->prec;
  c.out_prec = J == 1 ? op->prec : 8;
  c.n = outer;
  c.inner = inner;
  for (int64_t j = 0; j < J && rc == DTX_OK; j++) {
    int64_t bidx[DTX_ARRAY_MAX_DIMS];
    memcpy(bidx, idx, sizeof bidx);
    bidx[ax] = j;
    dtx_task_id in;
    c.len = extent(x, ax, j);
    if ((rc = dtxa_emit_input(e, 0, NULL, bidx, &in)) == DTX_OK)
      rc = add_task(e, ".part", bidx, nd, &in, 1, &c, &ids[j]);
  }
  /* products of fanin partials until one is left */
  int64_t n = J;
  for (int level = 0; rc == DTX_OK && n > 1; level++) {
    int64_t groups = (n + op->fanin - 1) / op->fanin;
    char suffix[16];
    snprintf(suffix, sizeof suffix, ".m%d", level);
    dtxk_cmath m;
    memset(&m, 0, sizeof m);
    m.mode = DTXK_CMATH_MUL;
    m.prec = 8;
    m.out_prec = groups == 1 ? op->prec : 8;
    m.n = outer * inner;
    for (int64_t g = 0; g < groups && rc == DTX_OK; g++) {
      int k = (int)(n - g * op->fanin < op->fanin ? n - g * op->fanin : op->fanin);
      int64_t kidx[DTX_ARRAY_MAX_DIMS];
      memcpy(kidx, idx, sizeof kidx);
      kidx[ax] = g;
      rc = add_task(e, suffix, kidx, nd, ids + g * op->fanin, k, &m, &ids[g]);
    }
    n = groups;
  }
  if (rc == DTX_OK) dtxa_emit_set(e, b, ids[0]);
  free(ids);
  return rc;
}

static dtx_status cprod_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  int64_t n = dtxa_nblocks(node);
  dtx_status rc = DTX_OK;
  for (int64_t b = 0; b < n && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS] = {0}, r = b;
    for (int d = node->ndim - 1; d >= 0; d--) {
      idx[d] = r % dtxa_nb(node, d);
      r /= dtxa_nb(node, d);
    }
    rc = chunk_tasks(e, node, data, idx, b);
  }
  return rc;
}

/* The product of complex a along axis ax, kept with length 1 (in the caller's scope). */
static dtx_array *prod_axis(const dtx_array *a, int ax, int fanin) {
  const dtx_array *p = dtxa_cx_pairs(a);
  int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
  memcpy(shape, p->shape, sizeof shape);
  memcpy(chunk, p->chunk, sizeof chunk);
  shape[ax] = chunk[ax] = 1;
  cprod_op op = {ax, fanin, a->dtype == DTX_C64 ? 4 : 8, 0};
  dtx_array *in = (dtx_array *)p;
  dtx_array *node =
      dtxa_blocks(p->cl, "cprod", p->ndim, shape, chunk, p->dtype, 1, &in, cprod_emit, &op, sizeof op);
  if (node == NULL) return NULL;
  dtx_array *r = dtxa_cx_wrap(node);
  dtx_array_release(node);
  return dtxa_ret(r);
}

dtx_array *dtxa_cx_prod(const dtx_array *a, const int *axes, int naxes, int keepdims, int split_every) {
  int red[DTX_ARRAY_MAX_DIMS] = {0};
  int64_t shape[DTX_ARRAY_MAX_DIMS];
  int empty = 0, nd = 0;
  for (int i = 0; i < naxes; i++) red[axes[i]] = 1;
  for (int d = 0; d < a->ndim; d++) {
    if (red[d] && a->shape[d] == 0) empty = 1;
    if (!red[d] || keepdims) shape[nd++] = red[d] ? 1 : a->shape[d];
  }
  if (empty) { /* the product of nothing: 1 (NumPy), in the result's shape */
    int64_t chunk[DTX_ARRAY_MAX_DIMS];
    for (int d = 0, k = 0; d < a->ndim; d++)
      if (!red[d] || keepdims) chunk[k++] = red[d] ? 1 : a->chunk[d];
    return dtx_ones(a->cl, nd, shape, chunk, a->dtype);
  }
  const dtx_array *x = a;
  for (int d = 0; d < a->ndim && x != NULL; d++)
    if (red[d]) x = prod_axis(x, d, split_every);
  if (x == NULL || keepdims) return (dtx_array *)x;
  dtx_index idx[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < a->ndim; d++)
    idx[d] =
        red[d] ? (dtx_index){DTX_INDEX_INT, 0, 0, 0} : (dtx_index){DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1};
  return dtx_slice(x, a->ndim, idx);
}
