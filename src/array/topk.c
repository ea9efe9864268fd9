/*
 * array/topk.c - dtx_topk and dtx_argtopk (dtx/sort.h) as a DTXA_BLOCKS node
 * (array/blocks.h) whose chunks are one along the axis. Per output chunk:
 *   .part[b]     a chunk of the input along the axis: its |k| best per lane
 *   .m<L>[b]     level L of the merge tree: the |k| best of up to FANIN
 *                inputs (parts or merges below)
 * and the last task writes the chunk (values or indices). Tasks run on CPU
 * threads (kernels/topk.c). A complex array's node is over its pairs
 * (array/complex.h; elements are the pairs, the values' node wrapped back as
 * complex). The building thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/blocks.h"
#include "array/complex.h"
#include "base/error.h"
#include "dtx/sort.h"
#include "kernels/topk.h"

#define FANIN 8

typedef struct topk_op {
  int32_t axis, largest, argtopk, cplx; /* cplx: the input is a complex array's pairs (last axis 2) */
  int64_t k;                            /* |k| */
} topk_op;

typedef struct cand {
  dtx_task_id id;
  int64_t n; /* candidates per lane */
  int chunk; /* 1: an input chunk; 0: a packed output */
  int64_t start;
} cand;

/* Adds one select task over c[0..m) (the last stage when final). */
static dtx_status select_task(dtxa_emit *e, const dtx_array *node, const topk_op *op, const dtxk_topk *base,
                              const cand *c, int m, int final, const char *suffix, int64_t *idx, cand *out) {
  dtxk_topk p = *base;
  dtx_task_id in[DTXK_TOPK_MAXIN];
  int64_t total = 0;
  p.nin = m;
  for (int j = 0; j < m; j++) {
    in[j] = c[j].id;
    p.kind[j] = c[j].chunk ? DTXK_TOPK_CHUNK : DTXK_TOPK_PACKED;
    p.n[j] = c[j].n;
    p.starts[j] = c[j].start;
    total += c[j].n;
  }
  p.kk = total < op->k ? total : op->k;
  p.out = !final ? DTXK_TOPK_OUT_PACKED : op->argtopk ? DTXK_TOPK_OUT_INDICES : DTXK_TOPK_OUT_VALUES;
  int64_t count = p.outer * p.kk * p.inner,
          esz = (int64_t)dtx_dtype_size((dtx_dtype)p.dtype) * (p.cplx ? 2 : 1);
  dtxa_task t = dtxa_task_make(suffix, node->ndim, idx, in, m, &p, sizeof p, dtxk_topk_cpu);
  t.output_size = (size_t)(p.out == DTXK_TOPK_OUT_VALUES    ? count * esz
                           : p.out == DTXK_TOPK_OUT_INDICES ? count * 8
                           : p.indices                      ? ((count * esz + 7) & ~(int64_t)7) + count * 8
                                                            : count * esz);
  out->n = p.kk;
  out->chunk = 0;
  out->start = 0;
  return dtxa_emit_task(e, &t, &out->id);
}

/* The tasks of output chunk b (block index idx, idx[axis] 0). */
static dtx_status chunk_tasks(dtxa_emit *e, const dtx_array *node, const topk_op *op, int64_t *idx,
                              int64_t b) {
  const dtx_array *a = node->in[0];
  int ax = op->axis;
  int64_t J = dtxa_nb(a, ax);
  dtxk_topk base;
  memset(&base, 0, sizeof base);
  base.dtype = (int32_t)a->dtype;
  base.largest = op->largest;
  base.indices = op->argtopk;
  base.outer = base.inner = 1;
  for (int d = 0; d < a->ndim; d++) {
    if (d == ax) continue;
    int64_t lo = idx[d] * a->chunk[d], len = a->shape[d] - lo < a->chunk[d] ? a->shape[d] - lo : a->chunk[d];
    if (d < ax) base.outer *= len;
    if (d > ax) base.inner *= len;
  }
  if (op->cplx) { /* elements are the (re, im) pairs: the last axis of 2 */
    base.inner /= 2;
    base.cplx = 1;
  }
  cand *c = calloc((size_t)J, sizeof *c);
  if (c == NULL) return dtxi_fail(DTX_ENOMEM, "topk: out of memory");
  dtx_status rc = DTX_OK;
  for (int64_t j = 0; j < J && rc == DTX_OK; j++) {
    int64_t bidx[DTX_ARRAY_MAX_DIMS];
    memcpy(bidx, idx, sizeof bidx);
    bidx[ax] = j;
    c[j].chunk = 1;
    c[j].start = j * a->chunk[ax];
    c[j].n = a->shape[ax] - c[j].start < a->chunk[ax] ? a->shape[ax] - c[j].start : a->chunk[ax];
    rc = dtxa_emit_input(e, 0, NULL, bidx, &c[j].id);
  }
  /* merge levels until one task is left (a lone input chunk is selected once) */
  int64_t n = J;
  for (int level = 0; rc == DTX_OK && (n > 1 || c[0].chunk); level++) {
    int64_t groups = (n + FANIN - 1) / FANIN;
    char suffix[16];
    snprintf(suffix, sizeof suffix, level == 0 && c[0].chunk ? ".part" : ".m%d", level);
    for (int64_t g = 0; g < groups && rc == DTX_OK; g++) {
      int m = (int)(n - g * FANIN < FANIN ? n - g * FANIN : FANIN);
      int64_t kidx[DTX_ARRAY_MAX_DIMS];
      memcpy(kidx, idx, sizeof kidx);
      kidx[ax] = g;
      rc = select_task(e, node, op, &base, c + g * FANIN, m, groups == 1, suffix, kidx, &c[g]);
    }
    n = groups;
  }
  if (rc == DTX_OK) dtxa_emit_set(e, b, c[0].id);
  free(c);
  return rc;
}

static dtx_status topk_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  const topk_op *op = data;
  int64_t n = dtxa_nblocks(node);
  dtx_status rc = DTX_OK;
  for (int64_t b = 0; b < n && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS] = {0};
    dtxa_block_index(node, b, idx);
    rc = chunk_tasks(e, node, op, idx, b);
  }
  return rc;
}

/* topk / argtopk of complex a: the node over its pairs (values wrapped
 * back as complex; indices as they are). */
static dtx_array *cx_topk(const dtx_array *a, const topk_op *op) {
  const dtx_array *pr = dtxa_cx_pairs(a);
  int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
  memcpy(shape, pr->shape, sizeof shape);
  memcpy(chunk, pr->chunk, sizeof chunk);
  shape[op->axis] = chunk[op->axis] = op->k;
  int nd = op->argtopk ? a->ndim : pr->ndim; /* indices: no axis of 2 */
  dtx_array *r =
      dtxa_blocks(a->cl, op->argtopk ? "argtopk" : "topk", nd, shape, chunk,
                  op->argtopk ? DTX_I64 : pr->dtype, 1, (dtx_array *const *)&pr, topk_emit, op, sizeof *op);
  if (r == NULL || op->argtopk) return r != NULL ? dtxa_ret(r) : NULL;
  dtx_array *w = dtxa_cx_wrap(r); /* holds r */
  dtx_array_release(r);
  return w != NULL ? dtxa_ret(w) : NULL;
}

static dtx_array *topk(const char *fn, const dtx_array *a, int64_t k, int axis, int arg) {
  if (a == NULL) return NULL;
  if (a->ndim == 0) {
    dtxi_fail(DTX_EINVAL, "%s: a is 0-d; it needs an axis", fn);
    return NULL;
  }
  int ax = axis < 0 ? axis + a->ndim : axis;
  if (ax < 0 || ax >= a->ndim) {
    dtxi_fail(DTX_EINVAL, "%s: axis %d is out of range for a %d-d array", fn, axis, a->ndim);
    return NULL;
  }
  int64_t kk = k < 0 ? -k : k;
  if (k == 0 || kk > a->shape[ax]) {
    dtxi_fail(DTX_EINVAL, "%s: k = %lld must be nonzero and at most the axis length %lld in magnitude", fn,
              (long long)k, (long long)a->shape[ax]);
    return NULL;
  }
  topk_op op = {ax, k > 0, arg, dtxa_cx_in(a), kk};
  if (op.cplx) return cx_topk(a, &op);
  dtx_array_scope_begin();
  dtx_array *in = a->dtype == DTX_F16 ? dtx_astype(a, DTX_F32) : (dtx_array *)a, *r = NULL; /* exact */
  if (in != NULL) {
    int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
    memcpy(shape, in->shape, sizeof shape);
    memcpy(chunk, in->chunk, sizeof chunk);
    shape[ax] = chunk[ax] = kk;
    r = dtxa_blocks(in->cl, arg ? "argtopk" : "topk", in->ndim, shape, chunk, arg ? DTX_I64 : in->dtype, 1,
                    &in, topk_emit, &op, sizeof op);
  }
  if (r != NULL && !arg && a->dtype == DTX_F16) r = dtx_array_keep(dtx_astype(dtxa_ret(r), DTX_F16));
  dtx_array_scope_end();
  return r != NULL ? dtxa_ret(r) : NULL;
}

dtx_array *dtx_topk(const dtx_array *a, int64_t k, int axis) { return topk("dtx_topk", a, k, axis, 0); }
dtx_array *dtx_argtopk(const dtx_array *a, int64_t k, int axis) { return topk("dtx_argtopk", a, k, axis, 1); }
