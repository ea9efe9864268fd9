/*
 * tests/array_la_helper.c - ops on the DTXA_BLOCKS primitive (array/blocks.h)
 * for array_la_test, in C (the array layer's internal header uses C11
 * atomics): an alias of every chunk, a flip whose output chunks read the one
 * or two input chunks they need, and an op that leaves its chunks unset.
 */
#include <stdlib.h>

#include "array/blocks.h"

/* Output chunk b is input chunk b: no task of its own. */
static dtx_status alias_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  (void)data;
  for (int64_t b = 0; b < dtxa_nblocks(node); b++) {
    dtx_task_id id;
    dtx_status rc = dtxa_emit_input(e, 0, NULL, (int64_t[]){b}, &id);
    if (rc != DTX_OK) return rc;
    dtxa_emit_set(e, b, id);
  }
  return DTX_OK;
}

typedef struct flip_args {
  int64_t lo, hi, n, c, q0; /* output [lo, hi); input chunk length c; first input chunk read */
} flip_args;

static int flip_cpu(dtx_task_ctx *ctx) {
  size_t sz = 0;
  const flip_args *a = dtx_task_args(ctx, &sz);
  if (a == NULL || sz != sizeof *a) return dtx_task_fail(ctx, "flip: bad arguments");
  double *out = dtx_task_output(ctx, (size_t)(a->hi - a->lo) * sizeof(double));
  if (out == NULL) return dtx_task_fail(ctx, "flip: out of memory");
  for (int64_t i = a->lo; i < a->hi; i++) {
    int64_t j = a->n - 1 - i, q = j / a->c;
    const double *in = dtx_task_input(ctx, (int)(q - a->q0), NULL);
    if (in == NULL) return dtx_task_fail(ctx, "flip: input chunk %lld missing", (long long)q);
    out[i - a->lo] = in[j - q * a->c];
  }
  return 0;
}

/* Output chunk b holds x[n-1-i] for its i: input chunks q0..q1. */
static dtx_status flip_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  (void)data;
  const dtx_array *x = node->in[0];
  int64_t n = x->shape[0], c = x->chunk[0], oc = node->chunk[0];
  for (int64_t b = 0; b < dtxa_nblocks(node); b++) {
    int64_t lo = b * oc, hi = lo + oc < n ? lo + oc : n;
    int64_t q0 = (n - hi) / c, q1 = (n - 1 - lo) / c;
    dtx_task_id *in = calloc((size_t)(q1 - q0 + 1), sizeof *in);
    if (in == NULL) return DTX_ENOMEM;
    for (int64_t q = q0; q <= q1; q++) {
      dtx_status rc = dtxa_emit_input(e, 0, NULL, (int64_t[]){q}, &in[q - q0]);
      if (rc != DTX_OK) {
        free(in);
        return rc;
      }
    }
    flip_args a = {lo, hi, n, c, q0};
    dtxa_task t = {.suffix = NULL,
                   .nidx = 1,
                   .idx = {b},
                   .in = in,
                   .nin = (int)(q1 - q0 + 1),
                   .args = &a,
                   .args_size = sizeof a,
                   .cpu = flip_cpu,
                   .cuda = NULL,
                   .output_size = (size_t)(hi - lo) * sizeof(double)};
    dtx_task_id id;
    dtx_status rc = dtxa_emit_task(e, &t, &id);
    free(in);
    if (rc != DTX_OK) return rc;
    dtxa_emit_set(e, b, id);
  }
  return DTX_OK;
}

static dtx_status forgetful_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  (void)e;
  (void)node;
  (void)data;
  return DTX_OK;
}

/* which: 0 alias, 1 flip (float64 1-d, output chunks of oc), 2 forgetful. */
dtx_array *la_helper_blocks(dtx_array *x, int which, int64_t oc) {
  static const dtxa_emit_fn fns[3] = {alias_emit, flip_emit, forgetful_emit};
  static const char *const names[3] = {"alias", "flip", "forgetful"};
  int64_t chunk = which == 1 ? oc : x->chunk[0];
  return dtxa_ret(
      dtxa_blocks(x->cl, names[which], 1, x->shape, &chunk, x->dtype, 1, &x, fns[which], NULL, 0));
}
