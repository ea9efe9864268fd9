/*
 * array/take.c - dtx_take and dtx_take_array (dtx/index.h) as DTXA_BLOCKS
 * nodes (array/blocks.h), one gather task (kernels/take.h) per output chunk.
 *   dtx_take:       output chunk j along the axis holds indices
 *                   [j * c, (j + 1) * c) (c: a's chunk length there) and
 *                   reads only the input chunks those indices fall in.
 *   dtx_take_array: output chunk j holds index chunk j; it reads that
 *                   chunk and every input chunk along the axis, and checks
 *                   the indices as it runs.
 *   axis None (DTX_NO_AXIS, the flattened array): dtx_take's output is
 *                   1-d in chunks of as many elements as a chunk of a, each
 *                   reading the chunks its indices fall in; dtx_take_array's
 *                   has the indices' shape and chunks, each chunk reading
 *                   its index chunk and every chunk of a (checked as it
 *                   runs). Both are the 1-d gathers above over elements
 *                   numbered within their chunk (kernels/take.h).
 * The node's data is the op and, for dtx_take, the indices (made
 * non-negative). The building thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "array/blocks.h"
#include "array/complex.h"
#include "base/error.h"
#include "dtx/complex.h"
#include "dtx/index.h"
#include "kernels/take.h"

#define FLAT (-1) /* take_op.axis: axis None */

typedef struct take_op {
  int32_t axis, array; /* axis, or FLAT; array: the indices are input 1 (dtx_take_array) */
  int64_t n;
  /* dtx_take: int64_t idx[n] follow */
} take_op;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Block b's index along every axis; outer / inner lengths around axis of the
 * chunk of `x`'s grid at that index. */
static void block_of(const dtx_array *node, int64_t b, int ax, int64_t *idx, int64_t *outer, int64_t *inner) {
  *outer = *inner = 1;
  for (int d = node->ndim - 1; d >= 0; d--) {
    idx[d] = b % dtxa_nb(node, d);
    b /= dtxa_nb(node, d);
    int64_t len = min64(node->chunk[d], node->shape[d] - idx[d] * node->chunk[d]);
    if (d < ax) *outer *= len;
    if (d > ax) *inner *= len;
  }
}

static dtx_status add(dtxa_emit *e, const dtx_array *node, int64_t b, const dtx_task_id *in, int nin,
                      const dtxk_take *p, size_t psize, dtx_task_id *id) {
  dtxa_task t = dtxa_task_make(NULL, 1, &b, in, nin, p, psize, dtxk_take_cpu);
  t.output_size = (size_t)(p->outer * p->n * p->inner * p->esz);
  return dtxa_emit_task(e, &t, id);
}

/* dtx_take: the chunks its indices touch, in order, and each index's slot. */
static dtx_status list_task(dtxa_emit *e, const dtx_array *node, const take_op *op, int64_t b,
                            int64_t *slot_of, dtx_task_id *in, dtx_task_id *id) {
  const dtx_array *a = node->in[0];
  int ax = op->axis;
  int64_t idx[DTX_ARRAY_MAX_DIMS], outer, inner, ca = a->chunk[ax], J = dtxa_nb(a, ax);
  block_of(node, b, ax, idx, &outer, &inner);
  int64_t lo = idx[ax] * node->chunk[ax], n = min64(node->chunk[ax], node->shape[ax] - lo);
  const int64_t *ix = (const int64_t *)(const void *)(op + 1) + lo;
  for (int64_t j = 0; j < J; j++) slot_of[j] = -1;
  for (int64_t k = 0; k < n; k++) slot_of[ix[k] / ca] = 0;
  int nin = 0;
  dtx_status rc = DTX_OK;
  for (int64_t j = 0; j < J && rc == DTX_OK; j++) {
    if (slot_of[j] < 0) continue;
    slot_of[j] = nin;
    int64_t bidx[DTX_ARRAY_MAX_DIMS];
    memcpy(bidx, idx, sizeof bidx);
    bidx[ax] = j;
    rc = dtxa_emit_input(e, 0, NULL, bidx, &in[nin++]);
  }
  size_t psize = dtxk_take_size(nin, n);
  dtxk_take *p = rc == DTX_OK ? calloc(1, psize) : NULL;
  if (rc == DTX_OK && p == NULL) rc = dtxi_fail(DTX_ENOMEM, "take: out of memory");
  if (rc != DTX_OK) return rc;
  *p = (dtxk_take){.mode = DTXK_TAKE_LIST,
                   .esz = (int32_t)dtx_dtype_size(a->dtype),
                   .nin = nin,
                   .axis = ax,
                   .outer = outer,
                   .inner = inner,
                   .n = n,
                   .chunk = ca,
                   .axis_len = a->shape[ax]};
  int64_t *len = (int64_t *)(void *)(p + 1), *off = len + nin;
  int32_t *slot = (int32_t *)(void *)(off + n);
  for (int64_t j = 0; j < J; j++)
    if (slot_of[j] >= 0) len[slot_of[j]] = min64(ca, a->shape[ax] - j * ca);
  for (int64_t k = 0; k < n; k++) {
    slot[k] = (int32_t)slot_of[ix[k] / ca];
    off[k] = ix[k] % ca;
  }
  rc = add(e, node, b, in, nin, p, psize, id);
  free(p);
  return rc;
}

/* Flat element i of a: its chunk (C order of the grid) and place in it. */
static void flat_place(const dtx_array *a, int64_t i, int64_t *block, int64_t *off) {
  int64_t m[DTX_ARRAY_MAX_DIMS], b = 0, o = 0;
  for (int d = a->ndim - 1; d >= 0; d--) {
    m[d] = i % a->shape[d];
    i /= a->shape[d];
  }
  for (int d = 0; d < a->ndim; d++) {
    int64_t blk = m[d] / a->chunk[d], lo = blk * a->chunk[d];
    b = b * dtxa_nb(a, d) + blk;
    o = o * min64(a->chunk[d], a->shape[d] - lo) + (m[d] - lo);
  }
  *block = b;
  *off = o;
}

/* The block index along every axis of chunk b (C order of a's grid). */
static void grid_index(const dtx_array *a, int64_t b, int64_t *idx) {
  for (int d = a->ndim - 1; d >= 0; d--) {
    idx[d] = b % dtxa_nb(a, d);
    b /= dtxa_nb(a, d);
  }
}

/* dtx_take, axis None: output chunk b reads the chunks of a its indices fall in. */
static dtx_status flat_list_task(dtxa_emit *e, const dtx_array *node, const take_op *op, int64_t b,
                                 int64_t *slot_of, dtx_task_id *in, dtx_task_id *id) {
  const dtx_array *a = node->in[0];
  int64_t lo = b * node->chunk[0], n = min64(node->chunk[0], node->shape[0] - lo), J = dtxa_nblocks(a);
  const int64_t *ix = (const int64_t *)(const void *)(op + 1) + lo;
  size_t psize = dtxk_take_size(J, n);
  dtxk_take *p = calloc(1, psize);
  if (p == NULL) return dtxi_fail(DTX_ENOMEM, "take: out of memory");
  int64_t *len = (int64_t *)(void *)(p + 1), *off = len + J; /* len: never read (outer is 1) */
  int32_t *slot = (int32_t *)(void *)(off + n);
  for (int64_t j = 0; j < J; j++) slot_of[j] = -1;
  int nin = 0;
  dtx_status rc = DTX_OK;
  for (int64_t k = 0; k < n && rc == DTX_OK; k++) {
    int64_t blk;
    flat_place(a, ix[k], &blk, &off[k]);
    if (slot_of[blk] < 0) {
      int64_t bidx[DTX_ARRAY_MAX_DIMS];
      grid_index(a, blk, bidx);
      slot_of[blk] = nin;
      rc = dtxa_emit_input(e, 0, NULL, bidx, &in[nin++]);
    }
    slot[k] = (int32_t)slot_of[blk];
  }
  *p = (dtxk_take){.mode = DTXK_TAKE_LIST,
                   .esz = (int32_t)dtx_dtype_size(a->dtype),
                   .nin = nin,
                   .axis = 0,
                   .outer = 1,
                   .inner = 1,
                   .n = n,
                   .chunk = 0,
                   .axis_len = dtx_array_size(a)};
  /* the blob is read as len[nin], off[n], slot[n]: move off and slot down to nin */
  if (nin < J) {
    memmove(len + nin, off, (size_t)n * sizeof *off);
    memmove((int64_t *)(void *)(p + 1) + nin + n, slot, (size_t)n * sizeof *slot);
  }
  if (rc == DTX_OK) rc = add(e, node, b, in, nin, p, dtxk_take_size(nin, n), id);
  free(p);
  return rc;
}

/* dtx_take_array, axis None: the index chunk, then every chunk of a. */
static dtx_status flat_array_task(dtxa_emit *e, const dtx_array *node, int64_t b, dtx_task_id *in,
                                  dtx_task_id *id) {
  const dtx_array *a = node->in[0];
  int64_t idx[DTX_ARRAY_MAX_DIMS], J = dtxa_nblocks(a), n = 1;
  grid_index(node, b, idx);
  for (int d = 0; d < node->ndim; d++) n *= min64(node->chunk[d], node->shape[d] - idx[d] * node->chunk[d]);
  dtx_status rc = dtxa_emit_input(e, 1, NULL, idx, &in[0]);
  for (int64_t j = 0; j < J && rc == DTX_OK; j++) {
    int64_t bidx[DTX_ARRAY_MAX_DIMS];
    grid_index(a, j, bidx);
    rc = dtxa_emit_input(e, 0, NULL, bidx, &in[1 + j]);
  }
  dtxk_take p;
  memset(&p, 0, sizeof p);
  p.mode = DTXK_TAKE_FLAT;
  p.esz = (int32_t)dtx_dtype_size(a->dtype);
  p.nin = (int32_t)J;
  p.outer = p.inner = 1;
  p.n = n;
  p.axis_len = dtx_array_size(a);
  p.ndim = a->ndim;
  for (int d = 0; d < a->ndim; d++) {
    p.shape[d] = a->shape[d];
    p.chunks[d] = a->chunk[d];
  }
  return rc == DTX_OK ? add(e, node, b, in, (int)(1 + J), &p, sizeof p, id) : rc;
}

/* dtx_take_array: the index chunk, then every chunk along the axis. */
static dtx_status array_task(dtxa_emit *e, const dtx_array *node, const take_op *op, int64_t b,
                             dtx_task_id *in, dtx_task_id *id) {
  const dtx_array *a = node->in[0];
  int ax = op->axis;
  int64_t idx[DTX_ARRAY_MAX_DIMS], outer, inner, J = dtxa_nb(a, ax);
  block_of(node, b, ax, idx, &outer, &inner);
  int64_t n = min64(node->chunk[ax], node->shape[ax] - idx[ax] * node->chunk[ax]);
  dtx_status rc = dtxa_emit_input(e, 1, NULL, &idx[ax], &in[0]);
  for (int64_t j = 0; j < J && rc == DTX_OK; j++) {
    int64_t bidx[DTX_ARRAY_MAX_DIMS];
    memcpy(bidx, idx, sizeof bidx);
    bidx[ax] = j;
    rc = dtxa_emit_input(e, 0, NULL, bidx, &in[1 + j]);
  }
  dtxk_take p = {DTXK_TAKE_ARRAY,
                 (int32_t)dtx_dtype_size(a->dtype),
                 (int32_t)J,
                 ax,
                 outer,
                 inner,
                 n,
                 a->chunk[ax],
                 a->shape[ax],
                 0,
                 0,
                 {0},
                 {0}};
  return rc == DTX_OK ? add(e, node, b, in, (int)(1 + J), &p, sizeof p, id) : rc;
}

static dtx_status take_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  const take_op *op = data;
  int64_t J = op->axis == FLAT ? dtxa_nblocks(node->in[0]) : dtxa_nb(node->in[0], op->axis),
          nb = dtxa_nblocks(node);
  int64_t *slot_of = malloc((size_t)(J + 1) * sizeof *slot_of);
  dtx_task_id *in = malloc((size_t)(J + 1) * sizeof *in);
  dtx_status rc = slot_of != NULL && in != NULL ? DTX_OK : dtxi_fail(DTX_ENOMEM, "take: out of memory");
  for (int64_t b = 0; b < nb && rc == DTX_OK; b++) {
    dtx_task_id id;
    if (op->axis == FLAT)
      rc =
          op->array ? flat_array_task(e, node, b, in, &id) : flat_list_task(e, node, op, b, slot_of, in, &id);
    else
      rc = op->array ? array_task(e, node, op, b, in, &id) : list_task(e, node, op, b, slot_of, in, &id);
    if (rc == DTX_OK) dtxa_emit_set(e, b, id);
  }
  free(slot_of);
  free(in);
  return rc;
}

/* Checks a and axis; the axis made non-negative, FLAT for DTX_NO_AXIS, or
 * -2 (error set). */
static int check(const char *fn, const dtx_array *a, int axis) {
  int unknown, deferred;
  dtx_array *in = (dtx_array *)a;
  if (dtxa_deferred_inputs(DTXA_BLOCKS, fn, 1, &in, &unknown, &deferred) != DTX_OK) return -2;
  if (axis == DTX_NO_AXIS) return FLAT;
  if (a->ndim == 0) {
    dtxi_fail(DTX_EINVAL, "%s: a is 0-d; it needs an axis to take along (or DTX_NO_AXIS)", fn);
    return -2;
  }
  int ax = axis < 0 ? axis + a->ndim : axis;
  if (ax < 0 || ax >= a->ndim) {
    dtxi_fail(DTX_EINVAL, "%s: axis %d is out of range for a %d-d array (DTX_NO_AXIS: the flattened array)",
              fn, axis, a->ndim);
    return -2;
  }
  return ax;
}

/* One take of x (real): along ax, or of the flattened x (FLAT). */
static dtx_array *take_of(const dtx_array *x, int ax, const int64_t *indices, int64_t n,
                          const dtx_array *iarr) {
  int axis = ax == FLAT ? DTX_NO_AXIS : ax;
  return iarr != NULL ? dtx_take_array(x, iarr, axis) : dtx_take(x, indices, n, axis);
}

/* A complex array's take (NULL with the error set): along an axis the same
 * take of its pairs, wrapped back; of the flattened array (DTX_NO_AXIS)
 * the takes of its real and imaginary parts joined. */
static dtx_array *cx_take(const dtx_array *a, int ax, const int64_t *indices, int64_t n,
                          const dtx_array *iarr) {
  dtx_array_scope_begin();
  dtx_array *r = NULL;
  if (ax == FLAT) {
    r = dtx_complex(take_of(dtx_real(a), ax, indices, n, iarr), take_of(dtx_imag(a), ax, indices, n, iarr));
  } else {
    dtx_array *t = take_of(dtxa_cx_pairs(a), ax, indices, n, iarr);
    r = t != NULL ? dtxa_ret(dtxa_cx_wrap(t)) : NULL;
  }
  if (r != NULL) dtx_array_keep(r);
  dtx_array_scope_end();
  return r != NULL ? dtxa_ret(r) : NULL;
}

dtx_array *dtx_take(const dtx_array *a, const int64_t *indices, int64_t n, int axis) {
  if (a == NULL) return NULL;
  int ax = check("dtx_take", a, axis);
  if (ax == -2) return NULL;
  if (dtxa_cx_in(a)) return cx_take(a, ax, indices, n, NULL);
  if (n < 0 || (n > 0 && indices == NULL)) {
    dtxi_fail(DTX_EINVAL, "dtx_take: %lld indices at %p; give n >= 0 indices", (long long)n,
              (const void *)indices);
    return NULL;
  }
  int64_t len = ax == FLAT ? dtx_array_size(a) : a->shape[ax];
  take_op *op = malloc(sizeof *op + (size_t)n * sizeof(int64_t));
  if (op == NULL) {
    dtxi_fail(DTX_ENOMEM, "dtx_take: out of memory for %lld indices", (long long)n);
    return NULL;
  }
  *op = (take_op){ax, 0, n};
  int64_t *ix = (int64_t *)(void *)(op + 1);
  for (int64_t k = 0; k < n; k++) {
    int64_t i = indices[k] < 0 ? indices[k] + len : indices[k];
    if (i < 0 || i >= len) {
      dtxi_fail(DTX_EINVAL,
                "dtx_take: index %lld (indices[%lld]) is out of bounds for axis %d with size %lld%s",
                (long long)indices[k], (long long)k, ax == FLAT ? 0 : ax, (long long)len,
                ax == FLAT ? " (the flattened array: DTX_NO_AXIS)" : "");
      free(op);
      return NULL;
    }
    ix[k] = i;
  }
  int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
  memcpy(shape, a->shape, sizeof shape);
  memcpy(chunk, a->chunk, sizeof chunk);
  int nd = a->ndim;
  if (ax == FLAT) { /* 1-d, chunks of as many elements as a chunk of a */
    nd = 1;
    chunk[0] = 1;
    for (int d = 0; d < a->ndim; d++) chunk[0] *= min64(a->chunk[d], a->shape[d] > 0 ? a->shape[d] : 1);
    shape[0] = n;
  } else {
    shape[ax] = n;
  }
  dtx_array *in = (dtx_array *)a;
  dtx_array *r = dtxa_blocks(a->cl, "take", nd, shape, chunk, a->dtype, 1, &in, take_emit, op,
                             sizeof *op + (size_t)n * sizeof(int64_t));
  free(op);
  return dtxa_ret(r);
}

dtx_array *dtx_take_array(const dtx_array *a, const dtx_array *indices, int axis) {
  if (a == NULL || indices == NULL) return NULL;
  int ax = check("dtx_take_array", a, axis);
  if (ax == -2) return NULL;
  if (dtxa_cx_in(a)) return cx_take(a, ax, NULL, 0, indices);
  if ((indices->ndim != 1 && ax != FLAT) || indices->deferred || indices->dtype == DTX_BOOL ||
      indices->dtype == DTX_F16 || indices->dtype == DTX_F32 || indices->dtype == DTX_F64 ||
      a->cl != indices->cl) {
    dtxi_fail(DTX_EINVAL,
              "dtx_take_array: the indices must be a 1-d (any with DTX_NO_AXIS) integer array of known "
              "length of a's cluster (got %d-d %s%s%s); a bool mask goes to dtx_mask_select",
              indices->ndim, dtx_dtype_name(indices->dtype), a->cl != indices->cl ? ", another cluster" : "",
              indices->deferred ? ", of unknown length: call dtx_array_compute_chunk_sizes on it" : "");
    return NULL;
  }
  dtx_array_scope_begin();
  dtx_array *in[2] = {(dtx_array *)a, dtx_astype(indices, DTX_I64)}, *r = NULL;
  if (in[1] != NULL && ax == FLAT) { /* the indices' shape and chunks */
    take_op op = {FLAT, 1, dtx_array_size(in[1])};
    r = dtxa_blocks(a->cl, "take", in[1]->ndim, in[1]->shape, in[1]->chunk, a->dtype, 2, in, take_emit, &op,
                    sizeof op);
  } else if (in[1] != NULL) {
    int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    memcpy(chunk, a->chunk, sizeof chunk);
    shape[ax] = in[1]->shape[0];
    chunk[ax] = in[1]->chunk[0];
    take_op op = {ax, 1, shape[ax]};
    r = dtxa_blocks(a->cl, "take", a->ndim, shape, chunk, a->dtype, 2, in, take_emit, &op, sizeof op);
  }
  dtx_array_scope_end();
  return dtxa_ret(r);
}
