/*
 * array/cmath.c - complex exp, log, sqrt, sin, cos, tanh and power
 * (dtx/complex.h) as DTXA_BLOCKS nodes (array/blocks.h) over the pairs:
 * one task per chunk (kernels/cmath.h), reading the operands' chunks in the
 * node's chunking and writing the result's pairs.
 *
 * Why tasks of their own and not real operations on the parts: C99's cexp,
 * clog, ... (which NumPy calls) get the special values right (inf and nan
 * parts, signed zeros, branch cuts, no overflow for large parts), which a
 * composition of real operations does not without many branches. The
 * price: these nodes do not fuse with their neighbours, and their tasks run
 * on CPU threads (no CUDA implementation; on GPU clusters their inputs come
 * to host memory).
 *
 * Called by array/complex.c inside its private scope; the results are
 * entered in that scope. The building thread only; no state outside the
 * nodes.
 */
#include <string.h>

#include "array/blocks.h"
#include "array/complex.h"
#include "base/error.h"
#include "kernels/cmath.h"

/* The callback: one task per chunk; every input read in the node's chunking. */
static dtx_status cmath_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  const dtxk_cmath *c0 = data;
  int64_t n = dtxa_nblocks(node);
  int nin = c0->mode == DTXK_CMATH_POW ? 2 : 1;
  dtx_status rc = DTX_OK;
  for (int64_t b = 0; b < n && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS] = {0}, r = b, count = 1;
    for (int d = node->ndim - 1; d >= 0; d--) {
      idx[d] = r % dtxa_nb(node, d);
      r /= dtxa_nb(node, d);
      int64_t lo = idx[d] * node->chunk[d];
      count *= node->shape[d] - lo < node->chunk[d] ? node->shape[d] - lo : node->chunk[d];
    }
    dtxk_cmath c = *c0;
    c.n = count / 2; /* the last axis is the pair */
    dtx_task_id x[2], id;
    for (int i = 0; i < nin && rc == DTX_OK; i++) rc = dtxa_emit_input(e, i, node->chunk, idx, &x[i]);
    if (rc != DTX_OK) break;
    dtxa_task t = dtxa_task_make(NULL, node->ndim, idx, x, nin, &c, sizeof c, dtxk_cmath_cpu);
    t.output_size = (size_t)dtxk_cmath_out_bytes(&c);
    if ((rc = dtxa_emit_task(e, &t, &id)) == DTX_OK) dtxa_emit_set(e, b, id);
  }
  return rc;
}

/* The complex node of a BLOCKS node over pairs in[0..nin) (same shape) in chunk. */
static dtx_array *cmath_node(const char *opname, int nin, const dtx_array *const *in, const int64_t *chunk,
                             const dtxk_cmath *c) {
  const dtx_array *p = dtxa_cx_pairs(in[0]);
  dtx_array *pairs[2] = {(dtx_array *)p, nin > 1 ? (dtx_array *)dtxa_cx_pairs(in[1]) : NULL};
  int64_t ch[DTX_ARRAY_MAX_DIMS];
  memcpy(ch, chunk != NULL ? chunk : p->chunk, sizeof(int64_t) * (size_t)(p->ndim - 1));
  ch[p->ndim - 1] = 2;
  dtx_array *node =
      dtxa_blocks(p->cl, opname, p->ndim, p->shape, ch, p->dtype, nin, pairs, cmath_emit, c, sizeof *c);
  if (node == NULL) return NULL;
  dtx_array *r = dtxa_cx_wrap(node);
  dtx_array_release(node);
  return dtxa_ret(r);
}

dtx_array *dtxa_cx_func(int op, const dtx_array *a) {
  static const char *names[] = {"cexp", "clog", "csqrt", "csin", "ccos", "ctanh"};
  if (op < DTXK_CMATH_EXP || op > DTXK_CMATH_TANH) {
    dtxi_fail(DTX_EINVAL, "internal: complex function %d", op);
    return NULL;
  }
  dtxk_cmath c;
  memset(&c, 0, sizeof c);
  c.mode = DTXK_CMATH_FUNC;
  c.func = op;
  c.prec = c.out_prec = a->dtype == DTX_C64 ? 4 : 8;
  return cmath_node(names[op - DTXK_CMATH_EXP], 1, &a, NULL, &c);
}

dtx_array *dtxa_cx_pow(const dtx_array *a, const dtx_array *b, const int64_t *chunk) {
  DTX_ASSERT(a->dtype == b->dtype && a->ndim == b->ndim);
  dtxk_cmath c;
  memset(&c, 0, sizeof c);
  c.mode = DTXK_CMATH_POW;
  c.prec = c.out_prec = a->dtype == DTX_C64 ? 4 : 8;
  const dtx_array *in[2] = {a, b};
  return cmath_node("cpow", 2, in, chunk, &c);
}
