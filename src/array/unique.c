/*
 * array/unique.c - dtx_unique and dtx_unique_all (dtx/index.h), as
 * dask.array.unique: a unique (or a record: distinct values, first index,
 * count) per chunk, then a tree merging up to FANIN (kernels/unique.h, CPU
 * tasks).
 *   dtx_unique       a source of unknown length (array/unknown.c): a
 *                    BLOCKS node of one piece, the root of the VALUES tree.
 *   dtx_unique_all   a task list of one task, the root of the REC / MERGE
 *                    tree; values, index and counts are sources of unknown
 *                    length, each one FIELD task over it; inverse is
 *                    chunked like a, an INVERSE task per chunk reading the
 *                    chunk and the root (so its shape is a's, known).
 * The tasks sort in a dtype kernels/sort.h takes, widening chunks of other
 * dtypes as they read them (float16 to float32, small integers to int32,
 * uint32 to int64); the values are cast back. An input may itself be of
 * unknown length when it is a source (a mask selection, a unique): its
 * pieces are read as chunks, and indices within them are made global by the
 * merges (each record knows the elements it spans). A complex a is read
 * from its pairs (or from the pieces of pairs of a complex mask selection),
 * its chunks as complex elements; the tasks sort the pairs (NumPy's order
 * of complex values), and the values are a complex array of unknown length
 * (dtxa_unknown_complex). The building thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/blocks.h"
#include "array/complex.h"
#include "base/error.h"
#include "dtx/index.h"
#include "kernels/unique.h"

#define FANIN 8

typedef struct tree_op {
  int32_t part, merge; /* DTXK_UNIQUE_VALUES, or REC then MERGE */
  int32_t k;           /* the dtype tasks sort in */
  int32_t in_dtype;    /* of the elements of input 0's chunks (complex: of its pairs' chunks) */
  int32_t ndim;        /* of those elements (input 0's, less a pairs' last axis) */
} tree_op;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static dtx_status add(dtxa_emit *e, const char *suffix, int64_t idx, const dtx_task_id *in, int nin,
                      const dtxk_unique *p, size_t output_size, dtx_task_id *id) {
  dtxa_task t = dtxa_task_make(suffix, 1, &idx, in, nin, p, sizeof *p, dtxk_unique_cpu);
  t.output_size = output_size;
  return dtxa_emit_task(e, &t, id);
}

/* Block b of x (C order of its grid; a piece of an unknown x): its index,
 * and in p its start and length along each of the elements' nd axes (a
 * complex array's pairs: the last axis, one block, left out). */
static void block_of(const dtx_array *x, int nd, int64_t b, int64_t *idx, dtxk_unique *p) {
  dtxa_block_index(x, b, idx);
  for (int d = 0; d < nd; d++) {
    p->shape[d] = x->shape[d];
    p->start[d] = idx[d] * x->chunk[d];
    p->len[d] = dtxa_chunk_len(x, d, idx[d]);
  }
}

/* A part per block of input 0, then merges of FANIN; sets piece 0 to the root. */
static dtx_status tree_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  const tree_op *op = data;
  const dtx_array *x = node->in[0];
  int64_t n = dtxa_nblocks(x);
  dtx_task_id *ids = calloc((size_t)n, sizeof *ids);
  dtx_status rc = ids != NULL ? DTX_OK : dtxi_fail(DTX_ENOMEM, "unique: out of memory");
  dtxk_unique p;
  memset(&p, 0, sizeof p);
  p.dtype = op->k;
  p.in_dtype = op->in_dtype;
  p.mode = op->part;
  p.ndim = op->ndim;
  p.global = !x->unknown; /* a piece's place in the whole is known only when computed */
  for (int64_t b = 0; b < n && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS];
    block_of(x, p.ndim, b, idx, &p);
    dtx_task_id in;
    rc = dtxa_emit_input(e, 0, NULL, idx, &in);
    if (rc == DTX_OK) rc = add(e, ".part", b, &in, 1, &p, 0, &ids[b]);
  }
  p.in_dtype = op->k;
  p.mode = op->merge;
  for (int level = 0; rc == DTX_OK && n > 1; level++) {
    int64_t groups = (n + FANIN - 1) / FANIN;
    char suffix[16];
    snprintf(suffix, sizeof suffix, ".m%d", level);
    for (int64_t g = 0; g < groups && rc == DTX_OK; g++) {
      int m = (int)min64(n - g * FANIN, FANIN);
      rc = add(e, suffix, g, ids + g * FANIN, m, &p, 0, &ids[g]);
    }
    n = groups;
  }
  if (rc == DTX_OK) dtxa_emit_set(e, 0, ids[0]);
  free(ids);
  return rc;
}

/* The record's root task (input 1 of node, a task list). */
static dtx_status root_of(dtxa_emit *e, int i, dtx_task_id *id) {
  int64_t n = 0;
  const dtx_task_id *ids = dtxa_emit_tasks(e, i, &n);
  if (ids == NULL) return DTX_EINVAL;
  *id = ids[0];
  return DTX_OK;
}

/* values / index / counts: one FIELD task over the record (input 0). */
static dtx_status field_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  dtx_task_id root, id;
  dtx_status rc = root_of(e, 0, &root);
  if (rc == DTX_OK) rc = add(e, NULL, 0, &root, 1, data, 0, &id);
  if (rc == DTX_OK) dtxa_emit_set(e, 0, id);
  return rc;
}

/* inverse: per block of input 0 (a's), an INVERSE task reading it and the record (input 1). */
static dtx_status inverse_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  const dtx_array *x = node->in[0];
  dtxk_unique p = *(const dtxk_unique *)data;
  dtx_task_id in[2];
  dtx_status rc = root_of(e, 1, &in[1]);
  for (int64_t b = 0; b < dtxa_nblocks(x) && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS], m = 1;
    block_of(x, p.ndim, b, idx, &p);
    for (int d = 0; d < p.ndim; d++) m *= p.len[d];
    rc = dtxa_emit_input(e, 0, NULL, idx, &in[0]);
    dtx_task_id id;
    if (rc == DTX_OK) rc = add(e, NULL, b, in, 2, &p, x->unknown ? 0 : (size_t)m * 8, &id);
    if (rc == DTX_OK) dtxa_emit_set(e, b, id);
  }
  return rc;
}

/* node (NULL: error set) given the inputs in[0..nin), which may be of
 * unknown length: dtxa_node refuses those for every other op (rightly:
 * their chunks are not known), so unique's nodes are made with none. */
static dtx_array *over(dtx_array *node, int nin, dtx_array *const *in) {
  dtx_array **v = node != NULL ? calloc((size_t)nin, sizeof *v) : NULL;
  if (v == NULL) {
    if (node != NULL) dtxi_fail(DTX_ENOMEM, "unique: out of memory");
    dtx_array_release(node);
    return NULL;
  }
  for (int i = 0; i < nin; i++) v[i] = dtx_array_retain(in[i]);
  node->in = v;
  node->nin = nin;
  return node;
}

/* Whether unique tasks read a's chunks: known, or an unknown source (or
 * a complex array over one). */
static dtx_status check(const char *fn, const dtx_array *a) {
  if (!a->deferred || dtxa_unknown_pieces(a)) return DTX_OK;
  return dtxi_fail(DTX_EINVAL,
                   "%s: a's length is unknown until computed, and a is not itself a mask selection or a "
                   "unique (an operation over one); call dtx_array_compute_chunk_sizes on it first",
                   fn);
}

/* The dtype unique tasks sort a's dtype in (as dtx_sort). */
static dtx_dtype sort_dtype(dtx_dtype t) {
  if (t == DTX_F16) return DTX_F32;
  if (t == DTX_I8 || t == DTX_I16 || t == DTX_U8 || t == DTX_U16) return DTX_I32;
  if (t == DTX_U32) return DTX_I64;
  return t;
}

/* What the tasks of a's tree (part, then merge) read and how: the array
 * returned (a, or a complex a's pairs or pieces of pairs) as elements of
 * op->in_dtype in op->ndim axes, sorted in op->k. */
static dtx_array *elements(const dtx_array *a, int32_t part, int32_t merge, tree_op *op) {
  int cx = dtxa_cx_in(a);
  op->part = part;
  op->merge = merge;
  op->k = cx ? (int32_t)a->dtype : (int32_t)sort_dtype(a->dtype);
  op->in_dtype = (int32_t)a->dtype;
  op->ndim = a->ndim;
  return cx ? a->in[0] : (dtx_array *)a;
}

/* The values node over x (its one piece the values, of dtype op->k): a
 * source of unknown length; complex values wrapped. In scope. */
static dtx_array *values_of(dtx_array *node, dtx_dtype t) {
  dtx_array *r = dtxa_unknown_source(node);
  if (r == NULL || !dtxa_is_cx(t)) return dtxa_ret(r);
  dtx_array *z = dtxa_unknown_complex(r, t);
  dtx_array_release(r);
  return dtxa_ret(z);
}

static dtx_array *known_empty(const dtx_array *a, dtx_dtype t) {
  int64_t zero = 0, one = 1;
  return dtx_zeros(a->cl, 1, &zero, &one, t);
}

dtx_array *dtx_unique(const dtx_array *a) {
  if (a == NULL) return NULL;
  if (check("dtx_unique", a) != DTX_OK) return NULL;
  if (!a->unknown && dtx_array_size(a) == 0) return known_empty(a, a->dtype); /* nothing to make unique */
  dtx_dtype t = a->dtype;
  tree_op op;
  dtx_array *x = elements(a, DTXK_UNIQUE_VALUES, DTXK_UNIQUE_VALUES, &op), *r = NULL;
  dtx_dtype vt = dtxa_is_cx(t) ? dtxa_cx_part(t) : (dtx_dtype)op.k; /* complex: pieces of pairs */
  int64_t one = 1;
  dtx_array_scope_begin();
  r = values_of(
      over(dtxa_blocks(a->cl, "unique", 1, &one, &one, vt, 0, NULL, tree_emit, &op, sizeof op), 1, &x), t);
  if (r != NULL && !dtxa_is_cx(t) && (dtx_dtype)op.k != t) r = dtx_astype(r, t);
  dtx_array_keep(r);
  dtx_array_scope_end();
  return dtxa_ret(r);
}

/* values (cast back to t), index or counts: field f of the record, whose
 * values are of dtype k. */
static dtx_array *field(dtx_array *rec, int f, dtx_dtype t, dtx_dtype k) {
  dtxk_unique p;
  memset(&p, 0, sizeof p);
  p.dtype = (int32_t)k;
  p.mode = DTXK_UNIQUE_FIELD;
  p.field = f;
  static const char *const names[3] = {"unique_values", "unique_index", "unique_counts"};
  dtx_dtype ft = f != 0 ? DTX_I64 : dtxa_is_cx(k) ? dtxa_cx_part(k) : k; /* complex: pieces of pairs */
  int64_t one = 1;
  dtx_array *r =
      values_of(dtxa_blocks(rec->cl, names[f], 1, &one, &one, ft, 1, &rec, field_emit, &p, sizeof p),
                f == 0 ? k : DTX_I64);
  return r != NULL && !dtxa_is_cx(k) && k != t && f == 0 ? dtx_astype(r, t) : r;
}

/* Each element's position among the record's values (of dtype op->k),
 * over the elements of x as op says. */
static dtx_array *inverse_of(const dtx_array *a, dtx_array *x, dtx_array *rec, const tree_op *op) {
  dtxk_unique p;
  memset(&p, 0, sizeof p);
  p.dtype = op->k;
  p.in_dtype = op->in_dtype;
  p.mode = DTXK_UNIQUE_INVERSE;
  p.ndim = op->ndim;
  dtx_array *in[2] = {x, rec};
  dtx_array *r = over(dtxa_blocks(a->cl, "unique_inverse", a->ndim, a->shape, a->chunk, DTX_I64, 0, NULL,
                                  inverse_emit, &p, sizeof p),
                      2, in);
  return dtxa_ret(a->unknown ? dtxa_unknown_source(r) : r);
}

/* Every requested output of an empty a (known). */
static dtx_status all_empty(const dtx_array *a, dtx_array **out) {
  dtx_array_scope_begin();
  out[0] = known_empty(a, a->dtype);
  out[1] = known_empty(a, DTX_I64);
  out[2] = dtx_zeros(a->cl, a->ndim, a->shape, a->chunk, DTX_I64);
  out[3] = known_empty(a, DTX_I64);
  int ok = 1;
  for (int i = 0; i < 4; i++) ok &= out[i] != NULL;
  for (int i = 0; i < 4 && ok; i++) dtx_array_keep(out[i]);
  dtx_array_scope_end(); /* on failure, releases what was made */
  if (!ok) memset(out, 0, 4 * sizeof *out);
  return ok ? DTX_OK : DTX_ENOMEM;
}

static dtx_status all_lazy(const dtx_array *a, dtx_array **out) {
  tree_op op;
  dtx_array *x = elements(a, DTXK_UNIQUE_REC, DTXK_UNIQUE_MERGE, &op);
  dtx_dtype rt = dtxa_is_cx(a->dtype) ? DTX_U8 : (dtx_dtype)op.k; /* records: bytes, not complex values */
  dtx_array_scope_begin();
  dtx_array *rec =
      dtxa_ret(over(dtxa_tasks(a->cl, "unique_rec", 1, rt, 0, NULL, tree_emit, &op, sizeof op), 1, &x));
  int ok = rec != NULL;
  for (int f = 0; f < 3 && ok; f++)
    ok = (out[f == 2 ? 3 : f] = field(rec, f, f == 0 ? a->dtype : DTX_I64, (dtx_dtype)op.k)) != NULL;
  if (ok) ok = (out[2] = inverse_of(a, x, rec, &op)) != NULL;
  for (int i = 0; i < 4 && ok; i++) dtx_array_keep(out[i]);
  dtx_array_scope_end(); /* on failure, releases what was made */
  if (!ok) memset(out, 0, 4 * sizeof *out);
  return ok ? DTX_OK : DTX_EINVAL; /* message set */
}

dtx_status dtx_unique_all(const dtx_array *a, dtx_array **values, dtx_array **index, dtx_array **inverse,
                          dtx_array **counts) {
  if (a == NULL) return dtxi_fail(DTX_EINVAL, "dtx_unique_all: a is NULL");
  dtx_status rc = check("dtx_unique_all", a);
  if (rc != DTX_OK) return rc;
  dtx_array *out[4] = {NULL, NULL, NULL, NULL}, **want[4] = {values, index, inverse, counts};
  if (index == NULL && inverse == NULL && counts == NULL) { /* the values alone: no records */
    dtx_array *v = dtx_unique(a);
    if (v != NULL && values != NULL) *values = v;
    if (v != NULL && values == NULL) dtx_array_release(dtx_array_keep(v));
    return v != NULL ? DTX_OK : DTX_EINVAL;
  }
  rc = !a->unknown && dtx_array_size(a) == 0 ? all_empty(a, out) : all_lazy(a, out);
  for (int i = 0; i < 4; i++) {
    if (rc == DTX_OK && want[i] != NULL)
      *want[i] = dtxa_ret(out[i]);
    else
      dtx_array_release(out[i]);
  }
  return rc;
}
