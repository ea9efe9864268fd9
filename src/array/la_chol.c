/*
 * array/la_chol.c - Cholesky (blockwise), solve and inv.
 *
 * cholesky: blocked right-looking over the chunk grid of an n x n matrix in
 * nb x nb square chunks. For k = 0..nb-1:
 *   L_kk = potrf(A_kk)                          (task .potrf[k])
 *   L_ik = A_ik L_kk^-T for i > k               (task .trsm[i,k])
 *   A_ij -= L_ik L_jk^T for k < j <= i          (task .upd[i,j,k]: syrk on
 *                                                the diagonal, gemm below)
 * where A_ij is the latest update of that chunk; the chunks above the
 * diagonal are zero tasks (.z[i,j]). nb^3/6 update tasks, each on a chunk.
 * Complex (Hermitian) a: the same over its pairs, ^T read as ^H (zpotrf,
 * ztrsm with L_kk^-H, zherk / zgemm with L_jk^H), L L^H = a.
 *
 * solve / inv: one getrf + getrs task over a read as one chunk (n at most
 * DTX_LINALG_ONE_CHUNK_MAX); the result is rechunked to b's chunks.
 * Operands promote as NumPy's (dtxa_la_result): complex with a complex one.
 * The calling thread builds; the callback runs in builds.
 */
#include <stdlib.h>

#include "array/complex.h"
#include "array/la.h"
#include "base/error.h"

typedef struct chol_op {
  int64_t n, c, nb;
  int32_t dtype, pad;
} chol_op;

static int64_t bs(const chol_op *op, int64_t i) {
  return op->n - i * op->c < op->c ? op->n - i * op->c : op->c;
}

static dtx_status chol_task(dtxa_emit *e, const chol_op *op, const char *suffix, int nidx, int64_t i,
                            int64_t j, int64_t k, int la_op, int flags, const dtx_task_id *in, int nin,
                            int64_t m, int64_t n, const dtxk_la_piece *p, int np, dtx_task_id *id) {
  dtxk_la g = {la_op, op->dtype, flags, np, m, n, {{0}}};
  for (int q = 0; q < np; q++) g.p[q] = p[q];
  size_t esz = (size_t)dtxk_la_esz(op->dtype);
  dtxa_task t = {suffix,      nidx,         {i, j, k, 0},         in, nin, &g, DTXK_LA_SIZE(np),
                 dtxk_la_cpu, dtxk_la_cuda, (size_t)(m * n) * esz};
  return dtxa_emit_task(e, &t, id);
}

static dtx_status chol_steps(dtxa_emit *e, const chol_op *op, dtx_task_id *cur, dtx_task_id *L) {
  int64_t nb = op->nb;
  dtx_status rc = DTX_OK;
  for (int64_t k = 0; k < nb && rc == DTX_OK; k++) {
    int64_t bk = bs(op, k);
    dtxk_la_piece pk = dtxa_la_piece(0, 0, bk, bk, bk);
    rc = chol_task(e, op, ".potrf", 1, k, 0, 0, DTXK_LA_POTRF, 0, &cur[k * nb + k], 1, bk, bk, &pk, 1,
                   &L[k * nb + k]);
    for (int64_t i = k + 1; i < nb && rc == DTX_OK; i++) {
      int64_t bi = bs(op, i);
      dtx_task_id in[2] = {cur[i * nb + k], L[k * nb + k]};
      dtxk_la_piece p[2] = {dtxa_la_piece(0, 0, bi, bk, bk), dtxa_la_piece(1, 0, bk, bk, bk)};
      rc = chol_task(e, op, ".trsm", 2, i, k, 0, DTXK_LA_TRSM, DTXK_LA_RIGHT | DTXK_LA_TRANS_A, in, 2, bi, bk,
                     p, 2, &L[i * nb + k]);
    }
    for (int64_t j = k + 1; j < nb && rc == DTX_OK; j++)
      for (int64_t i = j; i < nb && rc == DTX_OK; i++) {
        int64_t bi = bs(op, i), bj = bs(op, j);
        int syrk = i == j;
        dtx_task_id in[3] = {cur[i * nb + j], L[i * nb + k], L[j * nb + k]};
        dtxk_la_piece p[3] = {dtxa_la_piece(0, 0, bi, bj, bj), dtxa_la_piece(1, 0, bi, bk, bk),
                              dtxa_la_piece(syrk ? 1 : 2, 0, bj, bk, bk)};
        rc = chol_task(e, op, ".upd", 3, i, j, k, DTXK_LA_UPDATE, syrk ? DTXK_LA_SYRK : 0, in, syrk ? 2 : 3,
                       bi, bj, p, 3, &cur[i * nb + j]);
      }
  }
  return rc;
}

static dtx_status chol_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  (void)node;
  const chol_op *op = data;
  int64_t nb = op->nb;
  dtx_task_id *cur = calloc((size_t)(nb * nb), sizeof *cur), *L = calloc((size_t)(nb * nb), sizeof *L);
  dtx_status rc = cur != NULL && L != NULL ? DTX_OK : dtxi_fail(DTX_ENOMEM, "cholesky: out of memory");
  for (int64_t i = 0; i < nb && rc == DTX_OK; i++)
    for (int64_t j = 0; j <= i && rc == DTX_OK; j++)
      rc = dtxa_emit_input(e, 0, NULL, (int64_t[]){i, j, 0}, &cur[i * nb + j]);
  if (rc == DTX_OK) rc = chol_steps(e, op, cur, L);
  for (int64_t i = 0; i < nb && rc == DTX_OK; i++)
    for (int64_t j = i + 1; j < nb && rc == DTX_OK; j++) {
      dtxk_la_piece z = dtxa_la_piece(-1, 0, 0, 0, 0);
      rc = chol_task(e, op, ".z", 2, i, j, 0, DTXK_LA_COPY, 0, NULL, 0, bs(op, i), bs(op, j), &z, 1,
                     &L[i * nb + j]);
    }
  for (int64_t b = 0; b < nb * nb && rc == DTX_OK; b++) dtxa_emit_set(e, b, L[b]);
  free(cur);
  free(L);
  return rc;
}

dtx_array *dtx_linalg_cholesky(const dtx_array *a, int upper) {
  const char *fn = "dtx_linalg_cholesky";
  if (dtxa_la_check(fn, a, 1) != DTX_OK) return NULL;
  if (a->shape[0] != a->shape[1]) {
    dtxi_fail(DTX_EINVAL, "%s: a is %lldx%lld; it must be square", fn, (long long)a->shape[0],
              (long long)a->shape[1]);
    return NULL;
  }
  if (a->chunk[0] != a->chunk[1]) {
    dtxi_fail(DTX_EINVAL, "%s needs square chunks: a's are %lldx%lld; rechunk to (%lld, %lld)", fn,
              (long long)a->chunk[0], (long long)a->chunk[1], (long long)a->chunk[0], (long long)a->chunk[0]);
    return NULL;
  }
  dtx_array_scope_begin();
  dtx_array *f = dtxa_la_float(a), *l = NULL;
  if (f != NULL) {
    chol_op op = {f->shape[0], f->chunk[0], dtxa_nb(f, 0), (int32_t)f->dtype, 0};
    l = dtxa_la_blocks(f->cl, "cholesky", 2, f->shape, f->chunk, f->dtype, 1, &f, chol_emit, &op, sizeof op);
    if (l != NULL && upper) l = dtxa_la_ct(l);
  }
  dtx_array *out = NULL;
  dtx_status rc = dtxa_la_finish(l != NULL ? DTX_OK : DTX_EINVAL, 1, (dtx_array * *const[]){&out},
                                 (dtx_array *const[]){l});
  return rc == DTX_OK ? out : NULL;
}

/* x = a^-1 b for a (n x n) and b2 (n x k) of float or complex dtype t;
 * b2's chunks. */
static dtx_array *solve2(dtx_array *a, dtx_array *b2, dtx_dtype t) {
  if (a == NULL || b2 == NULL) return NULL; /* their error is set */
  int64_t n = a->shape[0], k = b2->shape[1];
  dtxk_la g = {
      DTXK_LA_SOLVE, (int32_t)t, 0, 2, n, k, {dtxa_la_piece(0, 0, n, n, n), dtxa_la_piece(1, 0, n, k, k)}};
  dtx_array *in[2] = {a, b2};
  dtx_array *x = dtxa_la1("solve", 0, 2, (int64_t[]){n, k}, t, 2, in, NULL, &g);
  return x != NULL ? dtx_rechunk(x, b2->chunk) : NULL;
}

static dtx_status square_check(const char *fn, const dtx_array *a) {
  if (a->shape[0] != a->shape[1])
    return dtxi_fail(DTX_EINVAL, "%s: a is %lldx%lld; it must be square", fn, (long long)a->shape[0],
                     (long long)a->shape[1]);
  if (a->shape[0] > DTX_LINALG_ONE_CHUNK_MAX)
    return dtxi_fail(
        DTX_EINVAL,
        "%s reads a as one chunk (LU in one LAPACK task; blockwise LU is not implemented): n = %lld "
        "is over the limit of %d",
        fn, (long long)a->shape[0], DTX_LINALG_ONE_CHUNK_MAX);
  return DTX_OK;
}

dtx_array *dtx_linalg_solve(const dtx_array *a, const dtx_array *b) {
  const char *fn = "dtx_linalg_solve";
  if (dtxa_la_check(fn, a, 1) != DTX_OK || b == NULL || square_check(fn, a) != DTX_OK) return NULL;
  if ((b->ndim != 1 && b->ndim != 2) || b->shape[0] != a->shape[0]) {
    dtxi_fail(DTX_EINVAL, "%s: b must be (%lld,) or (%lld, k)", fn, (long long)a->shape[0],
              (long long)a->shape[0]);
    return NULL;
  }
  dtx_array_scope_begin();
  dtx_dtype t = dtxa_la_result(a->dtype, b->dtype);
  dtx_array *af = a->dtype == t ? (dtx_array *)a : dtx_astype(a, t);
  dtx_array *bf = b->dtype == t ? (dtx_array *)b : dtx_astype(b, t), *x = NULL;
  dtx_index ix[2] = {{DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1}, {DTX_INDEX_NEWAXIS, 0, 0, 0}};
  dtx_index i0[2] = {{DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1}, {DTX_INDEX_INT, 0, 0, 0}};
  if (af != NULL && bf != NULL) {
    x = solve2(af, b->ndim == 1 ? dtx_slice(bf, 2, ix) : bf, t);
    if (x != NULL && b->ndim == 1) x = dtx_slice(x, 2, i0);
  }
  dtx_array *out = NULL;
  dtx_status rc = dtxa_la_finish(x != NULL ? DTX_OK : DTX_EINVAL, 1, (dtx_array * *const[]){&out},
                                 (dtx_array *const[]){x});
  return rc == DTX_OK ? out : NULL;
}

dtx_array *dtx_linalg_inv(const dtx_array *a) {
  const char *fn = "dtx_linalg_inv";
  if (dtxa_la_check(fn, a, 1) != DTX_OK || square_check(fn, a) != DTX_OK) return NULL;
  dtx_array_scope_begin();
  dtx_array *af = dtxa_la_float(a), *x = NULL;
  dtx_dtype t = af != NULL ? af->dtype : DTX_F64, rt = dtxa_cx_in(af) ? dtxa_cx_part(t) : t;
  dtx_array *eye = dtx_eye(a->cl, a->shape[0], 0, 0, a->chunk, rt);
  if (af != NULL && eye != NULL) x = solve2(af, rt != t ? dtx_astype(eye, t) : eye, t);
  dtx_array *out = NULL;
  dtx_status rc = dtxa_la_finish(x != NULL ? DTX_OK : DTX_EINVAL, 1, (dtx_array * *const[]){&out},
                                 (dtx_array *const[]){x});
  return rc == DTX_OK ? out : NULL;
}
