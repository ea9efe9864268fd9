/*
 * kernels/la_cpu.h - what the CPU linalg kernels share: kernels/la.c (the
 * tasks: pieces gathered, outputs laid out, float32 / float64 LAPACK and
 * BLAS calls) calls kernels/la_complex.c for the complex64 / complex128
 * calls (the z / c variants). Builds with LAPACKE and a CBLAS only. Any
 * worker thread; no state.
 *
 * Matrices are row-major (C order) with the row stride given, but for the
 * QR's A (column-major, lda m, as LAPACK's own layout). c128 1: complex128
 * (double pairs), else complex64 (float pairs). Each returns 0, or the
 * LAPACK info (the caller words the failure).
 */
#ifndef DTXK_LA_CPU_H
#define DTXK_LA_CPU_H

#include <stdint.h>

#include "dtx/graph.h"

/* The failure of a LAPACKE call whose info names its matrix argument:
 * LAPACKE's high-level calls check their inputs for NaN and refuse them.
 * QR, solve / inv and Cholesky call the _work variants, which do not, so NaN
 * gives NumPy's answers there (NaN out; Cholesky: not positive definite);
 * the SVD keeps the check (NumPy raises "SVD did not converge"). */
#define DTXK_LA_NAN_MSG "the matrix holds NaN (LAPACKE refuses NaN input; NumPy raises: SVD did not converge)"

/* R (k x n, row-major) from the upper triangle of the factored A (m x n,
 * column-major, lda m); esz the element size. */
void dtxk_la_take_r(char *R, const char *A, int64_t m, int64_t n, int64_t k, int esz);

/* The QR of A (m x n, column-major): R to R (k x n), the first k columns of
 * Q left in A (zgeqrf + zungqr). 0 or -1 (failed, message set). */
int dtxk_la_cx_qr(dtx_task_ctx *ctx, char *A, char *R, int64_t m, int64_t n, int c128);
/* A (m x n) = U diag(S) V^H (zgesdd, A destroyed): U m x k, V^H k x n, S
 * written as k complex values (s, 0). LAPACK's info. */
int dtxk_la_cx_gesdd(char *A, char *U, char *S, char *VH, int64_t m, int64_t n, int c128);
/* out (m x n, ldc n) = beta out + alpha op(A) op(B), op the conjugate
 * transpose where ta / tb; k the inner length; alpha, beta real. */
void dtxk_la_cx_gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha, const char *A,
                     int64_t lda, const char *B, int64_t ldb, double beta, char *out, int c128);
/* L (n x n) with L L^H = the lower triangle of out, in place (zpotrf). */
int dtxk_la_cx_potrf(char *out, int64_t n, int c128);
/* out (m x n) = out op(T)^-1 (right) or op(T)^-1 out; op: ^H where ta. */
void dtxk_la_cx_trsm(int right, int upper, int ta, int64_t m, int64_t n, const char *T, int64_t ldt,
                     char *out, int c128);
/* The lower triangle of out (n x n) -= A A^H (zherk; A n x k). */
void dtxk_la_cx_herk(int64_t n, int64_t k, const char *A, int64_t lda, char *out, int c128);
/* out (n x k) = LU^-1 out (zgesv; LU n x n destroyed). */
int dtxk_la_cx_gesv(char *LU, int64_t n, int64_t k, char *out, void *piv, int c128);
/* The conjugate of n complex values in place. */
void dtxk_la_cx_conj(char *x, int64_t n, int c128);

#endif /* DTXK_LA_CPU_H */
