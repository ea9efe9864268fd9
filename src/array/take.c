/*
 * array/take.c - dtx_take and dtx_take_array (dtx/index.h) as DTXA_BLOCKS
 * nodes (array/blocks.h), one gather task (kernels/take.h) per output chunk.
 *   dtx_take:       output chunk j along the axis holds indices
 *                   [j * c, (j + 1) * c) (c: a's chunk length there) and
 *                   reads only the input chunks those indices fall in.
 *   dtx_take_array: output chunk j holds index chunk j; it reads that
 *                   chunk and every input chunk along the axis, and checks
 *                   the indices as it runs.
 * The node's data is the op and, for dtx_take, the indices (made
 * non-negative). The building thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "array/blocks.h"
#include "base/error.h"
#include "dtx/index.h"
#include "kernels/take.h"

typedef struct take_op {
  int32_t axis, array; /* array: the indices are input 1 (dtx_take_array) */
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
  dtxa_task t;
  memset(&t, 0, sizeof t);
  t.nidx = 1;
  t.idx[0] = b;
  t.in = in;
  t.nin = nin;
  t.args = p;
  t.args_size = psize;
  t.cpu = dtxk_take_cpu;
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
  *p = (dtxk_take){DTXK_TAKE_LIST, (int32_t)dtx_dtype_size(a->dtype), nin, ax, outer, inner, n, ca,
                   a->shape[ax]};
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
  dtxk_take p = {
      DTXK_TAKE_ARRAY, (int32_t)dtx_dtype_size(a->dtype), (int32_t)J, ax, outer, inner, n, a->chunk[ax],
      a->shape[ax]};
  return rc == DTX_OK ? add(e, node, b, in, (int)(1 + J), &p, sizeof p, id) : rc;
}

static dtx_status take_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  const take_op *op = data;
  int64_t J = dtxa_nb(node->in[0], op->axis), nb = dtxa_nblocks(node);
  int64_t *slot_of = malloc((size_t)(J + 1) * sizeof *slot_of);
  dtx_task_id *in = malloc((size_t)(J + 1) * sizeof *in);
  dtx_status rc = slot_of != NULL && in != NULL ? DTX_OK : dtxi_fail(DTX_ENOMEM, "take: out of memory");
  for (int64_t b = 0; b < nb && rc == DTX_OK; b++) {
    dtx_task_id id;
    rc = op->array ? array_task(e, node, op, b, in, &id) : list_task(e, node, op, b, slot_of, in, &id);
    if (rc == DTX_OK) dtxa_emit_set(e, b, id);
  }
  free(slot_of);
  free(in);
  return rc;
}

/* Checks a and axis; the axis made non-negative, or -1 (error set). */
static int check(const char *fn, const dtx_array *a, int axis) {
  int unknown, deferred;
  dtx_array *in = (dtx_array *)a;
  if (dtxa_deferred_inputs(DTXA_BLOCKS, fn, 1, &in, &unknown, &deferred) != DTX_OK) return -1;
  if (a->ndim == 0) {
    dtxi_fail(DTX_EINVAL, "%s: a is 0-d; it needs an axis to take along", fn);
    return -1;
  }
  int ax = axis < 0 ? axis + a->ndim : axis;
  if (ax < 0 || ax >= a->ndim) {
    dtxi_fail(DTX_EINVAL, "%s: axis %d is out of range for a %d-d array", fn, axis, a->ndim);
    return -1;
  }
  return ax;
}

dtx_array *dtx_take(const dtx_array *a, const int64_t *indices, int64_t n, int axis) {
  if (a == NULL) return NULL;
  int ax = check("dtx_take", a, axis);
  if (ax < 0) return NULL;
  if (n < 0 || (n > 0 && indices == NULL)) {
    dtxi_fail(DTX_EINVAL, "dtx_take: %lld indices at %p; give n >= 0 indices", (long long)n,
              (const void *)indices);
    return NULL;
  }
  int64_t len = a->shape[ax];
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
                "dtx_take: index %lld (indices[%lld]) is out of bounds for axis %d with size %lld",
                (long long)indices[k], (long long)k, ax, (long long)len);
      free(op);
      return NULL;
    }
    ix[k] = i;
  }
  int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
  memcpy(shape, a->shape, sizeof shape);
  memcpy(chunk, a->chunk, sizeof chunk);
  shape[ax] = n;
  dtx_array *in = (dtx_array *)a;
  dtx_array *r = dtxa_blocks(a->cl, "take", a->ndim, shape, chunk, a->dtype, 1, &in, take_emit, op,
                             sizeof *op + (size_t)n * sizeof(int64_t));
  free(op);
  return dtxa_ret(r);
}

dtx_array *dtx_take_array(const dtx_array *a, const dtx_array *indices, int axis) {
  if (a == NULL || indices == NULL) return NULL;
  int ax = check("dtx_take_array", a, axis);
  if (ax < 0) return NULL;
  if (indices->ndim != 1 || indices->dtype == DTX_BOOL || indices->dtype == DTX_F16 ||
      indices->dtype == DTX_F32 || indices->dtype == DTX_F64 || a->cl != indices->cl) {
    dtxi_fail(DTX_EINVAL,
              "dtx_take_array: the indices must be a 1-d integer array of a's cluster (got %d-d %s%s); "
              "a bool mask goes to dtx_mask_select",
              indices->ndim, dtx_dtype_name(indices->dtype), a->cl != indices->cl ? ", another cluster" : "");
    return NULL;
  }
  dtx_array_scope_begin();
  dtx_array *in[2] = {(dtx_array *)a, dtx_astype(indices, DTX_I64)}, *r = NULL;
  if (in[1] != NULL) {
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
