/*
 * kernels/la_complex.c - the complex64 / complex128 LAPACKE and CBLAS calls
 * of the CPU linalg tasks (kernels/la_cpu.h): zgeqrf + zungqr, zgesdd,
 * zpotrf, zgesv, zgemm, ztrsm, zherk and their c variants. A complex
 * element is the pair (re, im) of the chunk layout, which is LAPACK's
 * lapack_complex_double / _float; transposes of complex matrices are
 * conjugate transposes (Q^H, V^H, L^H).
 *
 * Any worker thread (kernels/la.c set OpenBLAS to one thread); no state.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/la_cpu.h"

#if defined(DTX_HAVE_LAPACKE) && defined(DTX_HAVE_CBLAS)
#include <cblas.h>
#include <lapacke.h>

#define ZP(x) ((lapack_complex_double *)(void *)(x))
#define CP(x) ((lapack_complex_float *)(void *)(x))
#define LI(x) ((lapack_int)(x))

/* The workspace zgeqrf and zungqr of an m x n A both fit in, malloc'd in
 * *work (*lwork elements). 0, LAPACK's info, or -1000 when out of memory. */
static lapack_int qr_work(char *A, char *tau, int64_t m, int64_t n, int c128, char **work,
                          lapack_int *lwork) {
  int64_t k = m < n ? m : n;
  lapack_complex_double z1 = 0, z2 = 0;
  lapack_complex_float c1 = 0, c2 = 0;
  lapack_int info = c128
                        ? LAPACKE_zgeqrf_work(LAPACK_COL_MAJOR, LI(m), LI(n), ZP(A), LI(m), ZP(tau), &z1, -1)
                        : LAPACKE_cgeqrf_work(LAPACK_COL_MAJOR, LI(m), LI(n), CP(A), LI(m), CP(tau), &c1, -1);
  if (info == 0)
    info = c128 ? LAPACKE_zungqr_work(LAPACK_COL_MAJOR, LI(m), LI(k), LI(k), ZP(A), LI(m), ZP(tau), &z2, -1)
                : LAPACKE_cungqr_work(LAPACK_COL_MAJOR, LI(m), LI(k), LI(k), CP(A), LI(m), CP(tau), &c2, -1);
  if (info != 0) return info;
  double q1 = c128 ? creal(z1) : crealf(c1), q2 = c128 ? creal(z2) : crealf(c2), q = q1 > q2 ? q1 : q2;
  *lwork = q > 1 ? (lapack_int)q : 1;
  *work = malloc((size_t)*lwork * (size_t)(c128 ? 16 : 8));
  return *work != NULL ? 0 : -1000;
}

int dtxk_la_cx_qr(dtx_task_ctx *ctx, char *A, char *R, int64_t m, int64_t n, int c128) {
  int64_t k = m < n ? m : n;
  int esz = c128 ? 16 : 8;
  char *tau = malloc((size_t)((k > 0 ? k : 1) * esz)), *work = NULL;
  if (tau == NULL) return dtx_task_fail(ctx, "qr: out of memory (%lldx%lld)", (long long)m, (long long)n);
  /* the _work calls: no NaN check, so NaN in A gives NaN in Q and R (NumPy's answer) */
  lapack_int lwork = 0, info = qr_work(A, tau, m, n, c128, &work, &lwork);
  if (info == 0)
    info = c128 ? LAPACKE_zgeqrf_work(LAPACK_COL_MAJOR, LI(m), LI(n), ZP(A), LI(m), ZP(tau), ZP(work), lwork)
                : LAPACKE_cgeqrf_work(LAPACK_COL_MAJOR, LI(m), LI(n), CP(A), LI(m), CP(tau), CP(work), lwork);
  int rc = info == -1000 ? dtx_task_fail(ctx, "qr: out of memory for LAPACK's workspace")
           : info != 0   ? dtx_task_fail(ctx, "qr: geqrf failed (info %d)", (int)info)
                         : 0;
  if (rc == 0) {
    dtxk_la_take_r(R, A, m, n, k, esz);
    info = c128 ? LAPACKE_zungqr_work(LAPACK_COL_MAJOR, LI(m), LI(k), LI(k), ZP(A), LI(m), ZP(tau), ZP(work),
                                      lwork)
                : LAPACKE_cungqr_work(LAPACK_COL_MAJOR, LI(m), LI(k), LI(k), CP(A), LI(m), CP(tau), CP(work),
                                      lwork);
    if (info != 0) rc = dtx_task_fail(ctx, "qr: ungqr failed (info %d)", (int)info);
  }
  free(work);
  free(tau);
  return rc;
}

int dtxk_la_cx_gesdd(char *A, char *U, char *S, char *VH, int64_t m, int64_t n, int c128) {
  int64_t k = m < n ? m : n;
  /* the real singular values go to the first k slots of S's 2k parts, then
   * spread from the end down so none is overwritten before it is read */
  lapack_int info = c128 ? LAPACKE_zgesdd(LAPACK_ROW_MAJOR, 'S', LI(m), LI(n), ZP(A), LI(n),
                                          (double *)(void *)S, ZP(U), LI(k), ZP(VH), LI(n))
                         : LAPACKE_cgesdd(LAPACK_ROW_MAJOR, 'S', LI(m), LI(n), CP(A), LI(n),
                                          (float *)(void *)S, CP(U), LI(k), CP(VH), LI(n));
  for (int64_t i = k - 1; i >= 0; i--) {
    if (c128) {
      double *s = (double *)(void *)S;
      s[2 * i] = s[i];
      s[2 * i + 1] = 0;
    } else {
      float *s = (float *)(void *)S;
      s[2 * i] = s[i];
      s[2 * i + 1] = 0;
    }
  }
  return (int)info;
}

static enum CBLAS_TRANSPOSE ct(int t) { return t ? CblasConjTrans : CblasNoTrans; }

void dtxk_la_cx_gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha, const char *A,
                     int64_t lda, const char *B, int64_t ldb, double beta, char *out, int c128) {
  if (c128) {
    double al[2] = {alpha, 0}, be[2] = {beta, 0};
    cblas_zgemm(CblasRowMajor, ct(ta), ct(tb), (int)m, (int)n, (int)k, al, A, (int)lda, B, (int)ldb, be, out,
                (int)n);
  } else {
    float al[2] = {(float)alpha, 0}, be[2] = {(float)beta, 0};
    cblas_cgemm(CblasRowMajor, ct(ta), ct(tb), (int)m, (int)n, (int)k, al, A, (int)lda, B, (int)ldb, be, out,
                (int)n);
  }
}

int dtxk_la_cx_potrf(char *out, int64_t n, int c128) {
  return (int)(c128 ? LAPACKE_zpotrf_work(LAPACK_ROW_MAJOR, 'L', LI(n), ZP(out), LI(n))
                    : LAPACKE_cpotrf_work(LAPACK_ROW_MAJOR, 'L', LI(n), CP(out), LI(n)));
}

void dtxk_la_cx_trsm(int right, int upper, int ta, int64_t m, int64_t n, const char *T, int64_t ldt,
                     char *out, int c128) {
  enum CBLAS_SIDE side = right ? CblasRight : CblasLeft;
  enum CBLAS_UPLO uplo = upper ? CblasUpper : CblasLower;
  if (c128) {
    double one[2] = {1, 0};
    cblas_ztrsm(CblasRowMajor, side, uplo, ct(ta), CblasNonUnit, (int)m, (int)n, one, T, (int)ldt, out,
                (int)n);
  } else {
    float one[2] = {1, 0};
    cblas_ctrsm(CblasRowMajor, side, uplo, ct(ta), CblasNonUnit, (int)m, (int)n, one, T, (int)ldt, out,
                (int)n);
  }
}

void dtxk_la_cx_herk(int64_t n, int64_t k, const char *A, int64_t lda, char *out, int c128) {
  if (c128)
    cblas_zherk(CblasRowMajor, CblasLower, CblasNoTrans, (int)n, (int)k, -1.0, A, (int)lda, 1.0, out, (int)n);
  else
    cblas_cherk(CblasRowMajor, CblasLower, CblasNoTrans, (int)n, (int)k, -1.0f, A, (int)lda, 1.0f, out,
                (int)n);
}

int dtxk_la_cx_gesv(char *LU, int64_t n, int64_t k, char *out, void *piv, int c128) {
  lapack_int *p = piv;
  return (int)(c128 ? LAPACKE_zgesv_work(LAPACK_ROW_MAJOR, LI(n), LI(k), ZP(LU), LI(n), p, ZP(out), LI(k))
                    : LAPACKE_cgesv_work(LAPACK_ROW_MAJOR, LI(n), LI(k), CP(LU), LI(n), p, CP(out), LI(k)));
}

void dtxk_la_cx_conj(char *x, int64_t n, int c128) {
  for (int64_t i = 0; i < n; i++) {
    if (c128)
      ((double *)(void *)x)[2 * i + 1] = -((double *)(void *)x)[2 * i + 1];
    else
      ((float *)(void *)x)[2 * i + 1] = -((float *)(void *)x)[2 * i + 1];
  }
}

#endif
