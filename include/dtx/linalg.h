/*
 * dtx/linalg.h - dense linear algebra on chunked arrays (dask.array.linalg).
 *
 * Inputs are 2-d float32, float64, complex64 or complex128 arrays (integers
 * and bool are promoted to float64, as NumPy); results have the input's
 * dtype, singular values, residuals and norms its real (part) dtype. Two
 * operands (solve, lstsq) promote as NumPy's result_type: complex when
 * either is, complex64 / float32 only when both are single precision
 * (float32 with complex64 gives complex64, float64 with complex64
 * complex128). For complex arrays every transpose below is the conjugate
 * transpose: Q^H Q = I, a = U diag(S) V^H with V^H returned (NumPy's Vh),
 * L L^H = a, Q^H b. Everything is
 * lazy like the rest of dtx/array.h: the functions build arrays, tasks run at
 * compute. Multi-output functions hand the caller one reference per output
 * they were asked for (pointers may be NULL for outputs not wanted), entered
 * in the thread's scope like any other array; they return DTX_OK, DTX_EINVAL
 * (shapes, chunks or dtypes that do not fit, with what to fix in
 * dtx_last_error()), or DTX_ENOTSUP in builds without LAPACKE. Functions
 * returning a dtx_array * return NULL for those. Numerical failures (a
 * matrix not positive definite, a singular matrix) are task failures at
 * compute time: DTX_ETASK naming the task. NaN input gives NumPy's answers:
 * NaN out of qr, solve, inv and cholesky (LAPACK's _work calls, no NaN
 * check; a tall-skinny QR spreads a NaN of column j to columns j.. of every
 * row of R, as Dask's tsqr, where NumPy's one QR keeps the rows above
 * finite), and a failure from svd / svd_compressed / lstsq / the 2-norms
 * ("the matrix holds NaN"; NumPy raises "SVD did not converge").
 *
 * How each runs:
 *   tsqr / qr   tall-and-skinny (one column of chunks; Benson, Gleich,
 *               Demmel 2013, as Dask's tsqr): a QR per row chunk, the R's
 *               stacked and factored again in a tree (fan-in 16), Q = each
 *               chunk's Q times its piece of the tree's Q's. A one-row-of-
 *               chunks (short-and-fat) array is DTX_EINVAL: rechunk it.
 *   svd         one column of chunks: tsqr, then the SVD of R (gesdd);
 *               one row of chunks: the same on the transpose; a one-chunk
 *               array directly. Signs are made deterministic as Dask's
 *               svd_flip (each row of V^T sums to >= 0; for complex a, >= 0
 *               in NumPy's order of complex values, the real part first,
 *               which is what Dask's svd_flip computes given complex
 *               arrays: a factor of -1, not a phase, so a complex singular
 *               vector keeps the phase LAPACK gave it).
 *   svd_compressed  randomized (Halko, Martinsson, Tropp 2011), as
 *               dask.array.linalg.svd_compressed: a Gaussian test matrix of
 *               max(20, k + n_oversamples) columns (at most min(m, n)) drawn
 *               from seed (real, of the part dtype, for a complex a too, as
 *               Dask's), n_power_iter power iterations with a tsqr between
 *               each product, then the svd of the compressed array; a needs
 *               whole rows in few enough column chunks for matmul.
 *   lstsq       via tsqr: x = R^-1 (Q^T b); residuals are the squared
 *               column norms of b - a x (real: sums of |.|^2) (shape (k,), (1,) for a 1-d b, as
 *               Dask: always given, where NumPy gives none when rank < n);
 *               rank counts the singular values of R above
 *               max(s) * max(m, n) * eps (NumPy's matrix_rank); s as NumPy.
 *   cholesky    blocked right-looking over the chunk grid (potrf on diagonal
 *               chunks, trsm on the panels, syrk / gemm updates of the
 *               trailing chunks): square chunks required. Reads the lower
 *               triangle. upper = 1 gives U = L^T (A = U^T U). A complex a
 *               is Hermitian positive definite (herk for syrk): L L^H = a,
 *               upper = 1 gives L^H.
 *   solve / inv a is read as ONE chunk and factored by LAPACK getrf/getrs
 *               (partial pivoting) in one task: n is limited to
 *               DTX_LINALG_ONE_CHUNK_MAX (16384, 2 GiB of float64); past it
 *               DTX_EINVAL. b's chunks are kept (the result of solve has b's
 *               chunks, inv a's).
 *   norm        from reductions (sum, max, min of |x|, x^2, |x|^p); matrix
 *               2, -2 and nuc from the singular values (svd: its chunking
 *               rules apply), of complex matrices too.
 * Complex arrays run the same task graphs over their (re, im) pairs with
 * LAPACK's / cuSOLVER's z and c functions (zgeqrf + zungqr, zgesdd / gesvd,
 * zpotrf, ztrsm, zherk, zgemm, zgesv / getrf + getrs); a tall complex block
 * always goes through geqrf (the tall-skinny latsqr is used for real blocks
 * only).
 */
#ifndef DTX_LINALG_H
#define DTX_LINALG_H

#include <stdint.h>

#include "dtx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DTX_LINALG_ONE_CHUNK_MAX 16384

/* a (m x n, one column of chunks) = Q R: Q m x k with a's row chunks, R k x
 * n (one chunk), k = min(m, n). Q has orthonormal columns; R is upper
 * triangular (signs as LAPACK's geqrf gives them: not unique). */
DTX_API dtx_status dtx_linalg_tsqr(const dtx_array *a, dtx_array **q, dtx_array **r);
/* numpy.linalg.qr(a, mode="reduced") for the arrays tsqr takes. */
DTX_API dtx_status dtx_linalg_qr(const dtx_array *a, dtx_array **q, dtx_array **r);
/* a = U diag(S) V^T (V^H for complex a), reduced (k = min(m, n)): U m x k,
 * S (k,) descending (the real part dtype), V^T k x n. */
DTX_API dtx_status dtx_linalg_svd(const dtx_array *a, dtx_array **u, dtx_array **s, dtx_array **vt);
/* The rank-k approximation: U m x k, S (k,), V^T k x n. k in 1..min(m, n);
 * n_power_iter >= 0; n_oversamples >= 0 (Dask's default 10); the random
 * test matrix comes from seed. */
DTX_API dtx_status dtx_linalg_svd_compressed(const dtx_array *a, int64_t k, int n_power_iter,
                                             int64_t n_oversamples, uint64_t seed, dtx_array **u,
                                             dtx_array **s, dtx_array **vt);
/* Least squares min ||a x - b|| for a m x n (m >= n, one column of chunks)
 * and b (m,) or (m, k): x (n,) or (n, k), residuals, rank (0-d int64) and the
 * singular values s (n,) of a. */
DTX_API dtx_status dtx_linalg_lstsq(const dtx_array *a, const dtx_array *b, dtx_array **x,
                                    dtx_array **residuals, dtx_array **rank, dtx_array **s);
/* x with a x = b: a n x n, b (n,) or (n, k). */
DTX_API dtx_array *dtx_linalg_solve(const dtx_array *a, const dtx_array *b);
/* The inverse of a (n x n). */
DTX_API dtx_array *dtx_linalg_inv(const dtx_array *a);
/* L lower with L L^T = a (upper 0), or U = L^T (upper 1); a n x n with
 * square chunks, symmetric positive definite (its lower triangle is read);
 * complex a: Hermitian, L L^H = a, U = L^H. */
DTX_API dtx_array *dtx_linalg_cholesky(const dtx_array *a, int upper);

typedef enum dtx_norm_ord {
  DTX_NORM_DEFAULT = 0, /* NumPy's ord=None: 2-norm of a vector, Frobenius of a matrix */
  DTX_NORM_FRO,         /* matrices */
  DTX_NORM_NUC,         /* matrices: sum of singular values */
  DTX_NORM_INF,         /* vectors: max |x|; matrices: max row sum of |x| */
  DTX_NORM_NEG_INF,     /* vectors: min |x|; matrices: min row sum of |x| */
  DTX_NORM_P,           /* the number p: vectors any p (0 counts non-zeros); matrices 1, -1, 2, -2 */
} dtx_norm_ord;

/* numpy.linalg.norm(x, ord, axis, keepdims): axes NULL / naxes 0 takes a 1-d
 * or 2-d x whole (with DTX_NORM_DEFAULT any x, flattened); naxes 1 gives
 * vector norms along that axis, naxes 2 matrix norms over those two axes.
 * p is read for DTX_NORM_P only. Float results (float32 stays float32).
 * A complex x: the same norm of |x| (real, of x's part dtype), as NumPy's;
 * the nuclear and 2-norms of a complex matrix from its singular values. */
DTX_API dtx_array *dtx_linalg_norm(const dtx_array *x, dtx_norm_ord ord, double p, const int *axes, int naxes,
                                   int keepdims);

#ifdef __cplusplus
}
#endif
#endif /* DTX_LINALG_H */
