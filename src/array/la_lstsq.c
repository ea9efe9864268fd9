/*
 * array/la_lstsq.c - least squares (via tsqr) and the randomized SVD
 * (svd_compressed, Halko et al. 2011 as Dask's), composed of tsqr, svd,
 * matmul and elementwise operations plus one triangular-solve task.
 * Complex operands: transposes are conjugate transposes (Q^H b, a^H in the
 * power iterations), residuals the real sums of |b - a x|^2; the test
 * matrix of svd_compressed is real (Gaussian of the part dtype, as Dask
 * draws it for complex arrays too). The calling thread only.
 */
#include <float.h>
#include <math.h>

#include "array/complex.h"
#include "array/la.h"
#include "base/error.h"

static dtx_index full_slice(void) { return (dtx_index){DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1}; }

static dtx_status lstsq_build(const char *fn, const dtx_array *a, const dtx_array *b, dtx_array **x,
                              dtx_array **res, dtx_array **rank, dtx_array **s) {
  int64_t m = a->shape[0], n = a->shape[1];
  if (b->ndim != 1 && b->ndim != 2)
    return dtxi_fail(DTX_EINVAL, "%s: b is %d-d; it must be (m,) or (m, k)", fn, b->ndim);
  if (b->shape[0] != m)
    return dtxi_fail(DTX_EINVAL, "%s: b has %lld rows and a %lld; they must agree", fn,
                     (long long)b->shape[0], (long long)m);
  if (m < n)
    return dtxi_fail(DTX_EINVAL, "%s: a is %lldx%lld; tsqr's least squares needs m >= n", fn, (long long)m,
                     (long long)n);
  if (dtxa_nb(a, 1) != 1)
    return dtxi_fail(DTX_EINVAL, "%s needs a with one column of chunks: rechunk to (%lld, %lld)", fn,
                     (long long)a->chunk[0], (long long)n);
  dtx_array *af = dtxa_la_float(a), *bf = (dtx_array *)b;
  if (af == NULL) return DTX_EINVAL;
  dtx_dtype t = dtxa_la_result(af->dtype, b->dtype);
  if (af->dtype != t) af = dtx_astype(af, t);
  if (b->dtype != t) bf = dtx_astype(b, t);
  dtx_index ix[2] = {full_slice(), {DTX_INDEX_NEWAXIS, 0, 0, 0}};
  dtx_array *b2 = b->ndim == 1 ? dtx_slice(bf, 2, ix) : bf;
  if (af == NULL || b2 == NULL) return DTX_EINVAL;
  int64_t k = b2->shape[1];
  dtx_array *q, *r;
  dtx_status rc = dtxa_tsqr(af, &q, &r);
  if (rc != DTX_OK) return rc;
  dtx_array *qtb = dtx_matmul(dtxa_la_ct(q), b2);
  if (qtb == NULL) return DTX_EINVAL;
  dtxk_la tr = {DTXK_LA_TRSM,
                (int32_t)t,
                DTXK_LA_UPPER,
                2,
                n,
                k,
                {dtxa_la_piece(0, 0, n, k, k), dtxa_la_piece(1, 0, n, n, n)}};
  dtx_array *in[2] = {qtb, r};
  dtx_array *x2 = dtxa_la1("lstsq", 0, 2, (int64_t[]){n, k}, t, 2, in, NULL, &tr);
  if (x2 == NULL) return DTX_EINVAL;
  dtx_array *d = dtx_sub(b2, dtx_matmul(af, x2));
  dtx_array *d2 = dtxa_cx_in(d)
                      ? dtx_add(dtx_mul(dtx_real(d), dtx_real(d)), dtx_mul(dtx_imag(d), dtx_imag(d)))
                      : dtx_mul(d, d);
  *res = dtx_sum(d2, (int[]){0}, 1);
  dtx_index i0[2] = {full_slice(), {DTX_INDEX_INT, 0, 0, 0}};
  *x = b->ndim == 1 ? dtx_slice(x2, 2, i0) : x2;
  dtx_array *u, *vt;
  rc = dtxa_svd(r, &u, s, &vt);
  if (rc != DTX_OK) return rc;
  double eps = t == DTX_F64 || t == DTX_C128 ? DBL_EPSILON : FLT_EPSILON;
  dtx_array *tol = dtx_binary_scalar(DTX_MUL, dtx_max(*s, NULL, 0), eps * (double)(m > n ? m : n));
  *rank = dtx_sum(dtx_binary(DTX_GT, *s, tol), NULL, 0);
  return DTX_OK;
}

dtx_status dtx_linalg_lstsq(const dtx_array *a, const dtx_array *b, dtx_array **x, dtx_array **residuals,
                            dtx_array **rank, dtx_array **s) {
  const char *fn = "dtx_linalg_lstsq";
  dtx_status rc = dtxa_la_check(fn, a, 1);
  if (rc != DTX_OK) return rc;
  if (b == NULL) return DTX_EINVAL;
  dtx_array_scope_begin();
  dtx_array *xx = NULL, *rr = NULL, *kk = NULL, *ss = NULL;
  rc = lstsq_build(fn, a, b, &xx, &rr, &kk, &ss);
  return dtxa_la_finish(rc, 4, (dtx_array * *const[]){x, residuals, rank, s},
                        (dtx_array *const[]){xx, rr, kk, ss});
}

/* Dask's compression_matrix: Q^T of the range finder (l x m). */
static dtx_array *compression(const dtx_array *a, int64_t l, int iters, uint64_t seed) {
  int64_t n = a->shape[1];
  dtx_dtype rt = dtxa_cx_in(a) ? dtxa_cx_part(a->dtype) : a->dtype;
  dtx_array *omega = dtx_random_normal(a->cl, 2, (int64_t[]){n, l}, (int64_t[]){a->chunk[1], l}, rt, seed);
  dtx_array *h = dtx_matmul(a, omega), *q, *r;
  dtx_array *at = dtxa_la_ct(a);
  for (int i = 0; i < iters && h != NULL; i++) {
    if (dtxa_tsqr(h, &q, &r) != DTX_OK) return NULL;
    h = dtx_matmul(at, q);
    if (h == NULL || dtxa_tsqr(h, &q, &r) != DTX_OK) return NULL;
    h = dtx_matmul(a, q);
  }
  if (h == NULL || dtxa_tsqr(h, &q, &r) != DTX_OK) return NULL;
  return dtxa_la_ct(q);
}

static dtx_status svdc_build(const dtx_array *a, int64_t k, int iters, int64_t over, uint64_t seed,
                             dtx_array **u, dtx_array **s, dtx_array **vt) {
  int64_t m = a->shape[0], n = a->shape[1], mn = m < n ? m : n;
  int64_t l = k + over > 20 ? k + over : 20;
  if (l > mn) l = mn;
  dtx_array *comp = compression(a, l, iters, seed);
  dtx_array *ac = dtx_matmul(comp, a); /* l x n */
  if (ac == NULL) return DTX_EINVAL;
  dtx_array *act = dtxa_la_ct(ac); /* n x l in (a's column chunks) x l: tall */
  dtx_array *v1, *s1, *u1t;
  if (act == NULL) return DTX_EINVAL;
  dtx_status rc = dtxa_svd(act, &v1, &s1, &u1t); /* ac^H = v1 s1 u1t */
  if (rc != DTX_OK) return rc;
  /* ac = u1t^H s1 v1^H: a ~ comp^H u1t^H s1 v1^H */
  dtx_array *uu = dtx_matmul(dtxa_la_ct(comp), dtxa_la_ct(u1t));
  dtx_array *vv = dtxa_la_ct(v1);
  dtx_index cu[2] = {full_slice(), {DTX_INDEX_SLICE, 0, k, 1}},
            rv[2] = {{DTX_INDEX_SLICE, 0, k, 1}, full_slice()};
  dtx_index sk[1] = {{DTX_INDEX_SLICE, 0, k, 1}};
  *u = dtx_slice(uu, 2, cu);
  *s = dtx_slice(s1, 1, sk);
  *vt = dtx_slice(vv, 2, rv);
  if (*u != NULL && *vt != NULL) dtxa_svd_flip(u, vt);
  return *u != NULL && *s != NULL && *vt != NULL ? DTX_OK : DTX_EINVAL;
}

dtx_status dtx_linalg_svd_compressed(const dtx_array *a, int64_t k, int n_power_iter, int64_t n_oversamples,
                                     uint64_t seed, dtx_array **u, dtx_array **s, dtx_array **vt) {
  const char *fn = "dtx_linalg_svd_compressed";
  dtx_status rc = dtxa_la_check(fn, a, 1);
  if (rc != DTX_OK) return rc;
  int64_t mn = a->shape[0] < a->shape[1] ? a->shape[0] : a->shape[1];
  if (k < 1 || k > mn)
    return dtxi_fail(DTX_EINVAL, "%s: k is %lld; it must be in 1..min(m, n) = %lld", fn, (long long)k,
                     (long long)mn);
  if (n_power_iter < 0 || n_oversamples < 0)
    return dtxi_fail(DTX_EINVAL, "%s: n_power_iter (%d) and n_oversamples (%lld) must be >= 0", fn,
                     n_power_iter, (long long)n_oversamples);
  dtx_array_scope_begin();
  dtx_array *uu = NULL, *ss = NULL, *vv = NULL, *f = dtxa_la_float(a);
  rc = f != NULL ? svdc_build(f, k, n_power_iter, n_oversamples, seed, &uu, &ss, &vv) : DTX_EINVAL;
  return dtxa_la_finish(rc, 3, (dtx_array * *const[]){u, s, vt}, (dtx_array *const[]){uu, ss, vv});
}
