/*
 * array/la_util.c - shared pieces of the array layer's linalg (array/la.h):
 * argument checks, float promotion, one-task nodes over whole inputs, and
 * handing multi-output results to the caller's scope.
 *
 * The calling thread only (building arrays); the emit callback runs in the
 * building thread of a later computation.
 */
#include <stdlib.h>
#include <string.h>

#include "array/complex.h"
#include "array/la.h"
#include "base/error.h"

dtx_status dtxa_la_check(const char *fn, const dtx_array *a, int need2d) {
  if (a == NULL) return DTX_EINVAL; /* the earlier message stays */
  if (!dtxk_la_available())
    return dtxi_fail(DTX_ENOTSUP, "%s: this build of dtx has no LAPACKE (install liblapacke-dev and rebuild)",
                     fn);
  if (need2d && a->ndim != 2)
    return dtxi_fail(DTX_EINVAL, "%s: a is %d-d; it must be a 2-d matrix", fn, a->ndim);
  return DTX_OK;
}

dtx_array *dtxa_la_float(const dtx_array *a) {
  if (a->dtype == DTX_F32 || a->dtype == DTX_F64 || dtxa_cx_in(a)) return (dtx_array *)a;
  return dtx_astype(a, DTX_F64);
}

dtx_array *dtxa_la_ct(const dtx_array *a) {
  dtx_array *t = dtx_transpose(a, NULL);
  return dtxa_cx_in(a) ? dtx_conj(t) : t;
}

dtx_dtype dtxa_la_result(dtx_dtype a, dtx_dtype b) {
  int cx = dtxa_is_cx(a) || dtxa_is_cx(b);
  int single = (a == DTX_F32 || a == DTX_C64) && (b == DTX_F32 || b == DTX_C64);
  return cx ? (single ? DTX_C64 : DTX_C128) : (single ? DTX_F32 : DTX_F64);
}

/* The real arrays a node reads for in[0..nin): complex ones' pairs. */
static void la_ins(int nin, dtx_array *const *in, dtx_array **out) {
  for (int i = 0; i < nin; i++) out[i] = (dtx_array *)(dtxa_cx_in(in[i]) ? dtxa_cx_pairs(in[i]) : in[i]);
}

dtx_array *dtxa_la_blocks(dtx_cluster *cl, const char *opname, int ndim, const int64_t *shape,
                          const int64_t *chunk, dtx_dtype t, int nin, dtx_array *const *in, dtxa_emit_fn emit,
                          const void *data, size_t size) {
  dtx_array *ins[8];
  if (nin > 8 || ndim + 1 > DTX_ARRAY_MAX_DIMS) {
    dtxi_fail(DTX_EINVAL, "internal: %s has %d inputs and %d dims", opname, nin, ndim);
    return NULL;
  }
  la_ins(nin, in, ins);
  if (!dtxa_is_cx(t))
    return dtxa_ret(dtxa_blocks(cl, opname, ndim, shape, chunk, t, nin, ins, emit, data, size));
  int64_t sh[DTX_ARRAY_MAX_DIMS], ch[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < ndim; d++) {
    sh[d] = shape[d];
    ch[d] = chunk[d];
  }
  sh[ndim] = ch[ndim] = 2;
  dtx_array *p = dtxa_blocks(cl, opname, ndim + 1, sh, ch, dtxa_cx_part(t), nin, ins, emit, data, size);
  dtx_array *w = dtxa_cx_wrap(p);
  dtx_array_release(p);
  return dtxa_ret(w);
}

dtx_array *dtxa_la_tasks(dtx_cluster *cl, const char *opname, int64_t ntasks, dtx_dtype t, int nin,
                         dtx_array *const *in, dtxa_emit_fn emit, const void *data, size_t size) {
  dtx_array *ins[8];
  if (nin > 8) {
    dtxi_fail(DTX_EINVAL, "internal: %s has %d inputs", opname, nin);
    return NULL;
  }
  la_ins(nin, in, ins);
  dtx_dtype pt = dtxa_is_cx(t) ? dtxa_cx_part(t) : t;
  return dtxa_ret(dtxa_tasks(cl, opname, ntasks, pt, nin, ins, emit, data, size));
}

/* What a one-task node's callback reads: the input map, then the blob. */
typedef struct la1 {
  int32_t tasklist, nin;
  int64_t task_of[8];
  size_t args_size;
} la1;

static dtx_status la1_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  const la1 *d = data;
  const dtxk_la *args = (const dtxk_la *)(const void *)((const char *)data + sizeof *d);
  dtx_task_id in[8];
  for (int i = 0; i < d->nin; i++) {
    const dtx_array *x = node->in[i];
    if (d->task_of[i] >= 0) {
      int64_t n = 0;
      const dtx_task_id *t = dtxa_emit_tasks(e, i, &n);
      if (t == NULL) return DTX_EINVAL;
      if (d->task_of[i] >= n)
        return dtxi_fail(DTX_EINVAL, "internal: %s reads task %lld of %lld", node->opname,
                         (long long)d->task_of[i], (long long)n);
      in[i] = t[d->task_of[i]];
    } else {
      int64_t zero[DTX_ARRAY_MAX_DIMS] = {0};
      dtx_status rc = dtxa_emit_input(e, i, x->shape, zero, &in[i]);
      if (rc != DTX_OK) return rc;
    }
  }
  size_t out = 0;
  if (args->op == DTXK_LA_SVD) { /* packed U, S, V^T */
    int64_t m = args->m, n = args->n, k = m < n ? m : n;
    out = (size_t)(m * k + k + k * n) * (size_t)dtxk_la_esz(args->dtype);
  } else if (!d->tasklist) {
    out = dtx_dtype_size(node->dtype);
    for (int k = 0; k < node->ndim; k++) out *= (size_t)node->shape[k];
  }
  dtxa_task t = {.suffix = NULL,
                 .nidx = 0,
                 .in = in,
                 .nin = d->nin,
                 .args = args,
                 .args_size = d->args_size,
                 .cpu = dtxk_la_cpu,
                 .cuda = dtxk_la_cuda,
                 .output_size = out};
  dtx_task_id id;
  dtx_status rc = dtxa_emit_task(e, &t, &id);
  if (rc == DTX_OK) dtxa_emit_set(e, 0, id);
  return rc;
}

dtx_array *dtxa_la1(const char *opname, int tasklist, int ndim, const int64_t *shape, dtx_dtype t, int nin,
                    dtx_array *const *in, const int64_t *task_of, const dtxk_la *args) {
  size_t asz = DTXK_LA_SIZE(args->npieces);
  la1 *d = calloc(1, sizeof *d + asz);
  if (d == NULL || nin > 8) {
    free(d);
    dtxi_fail(DTX_ENOMEM, "%s: out of memory", opname);
    return NULL;
  }
  d->tasklist = tasklist;
  d->nin = nin;
  for (int i = 0; i < nin; i++) d->task_of[i] = task_of != NULL ? task_of[i] : -1;
  d->args_size = asz;
  memcpy((char *)d + sizeof *d, args, asz);
  dtx_cluster *cl = in[0] != NULL ? in[0]->cl : NULL;
  dtx_array *a =
      tasklist ? dtxa_la_tasks(cl, opname, 1, t, nin, in, la1_emit, d, sizeof *d + asz)
               : dtxa_la_blocks(cl, opname, ndim, shape, shape, t, nin, in, la1_emit, d, sizeof *d + asz);
  free(d);
  return a;
}

dtx_status dtxa_la_finish(dtx_status rc, int n, dtx_array **const *out, dtx_array *const *val) {
  if (rc == DTX_OK)
    for (int i = 0; i < n; i++)
      if (out[i] != NULL && val[i] == NULL) rc = DTX_EINVAL; /* its message is set */
  if (rc == DTX_OK)
    for (int i = 0; i < n; i++)
      if (out[i] != NULL) dtx_array_keep(val[i]);
  dtx_array_scope_end();
  if (rc == DTX_OK)
    for (int i = 0; i < n; i++)
      if (out[i] != NULL) *out[i] = dtxa_ret(val[i]);
  return rc;
}
