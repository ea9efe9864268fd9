/*
 * kernels/la.c - the CPU implementation of linalg block tasks (kernels/la.h):
 * LAPACKE (row-major interface) for geqrf/orgqr, gesdd, potrf, gesv; the
 * CBLAS for gemm, trsm, syrk. float32 and float64 here; complex64 and
 * complex128 share the gathering and layout code and call the z / c
 * variants in kernels/la_complex.c (kernels/la_cpu.h).
 *
 * Each task runs on one worker thread with OpenBLAS set to one thread (as
 * the matmul tasks, dtxk_blas_name): the workers are the parallelism.
 * Builds without LAPACKE (or without a CBLAS) fail every task saying so;
 * the array layer checks dtxk_la_available() first and returns DTX_ENOTSUP.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/elem.h"
#include "kernels/kernels.h"
#include "kernels/la.h"
#include "kernels/la_cpu.h"
#include "kernels/transpose.h"

#if defined(DTX_HAVE_LAPACKE) && defined(DTX_HAVE_CBLAS)
#include <cblas.h>
#include <lapacke.h>

int dtxk_la_available(void) { return 1; }

/* Piece p of the task: its first element, or NULL (failed, message set). */
static const char *piece(dtx_task_ctx *ctx, const dtxk_la_piece *p, int esz) {
  size_t size = 0;
  const char *base = dtx_task_input(ctx, p->input, &size);
  if (base == NULL) {
    dtx_task_fail(ctx, "linalg task: input %d is missing", (int)p->input);
    return NULL;
  }
  if (p->rows > 0 && (size_t)((p->off + (p->rows - 1) * p->ld + p->cols) * esz) > size) {
    dtx_task_fail(ctx, "linalg task: a %lldx%lld piece at %lld overruns input %d (%zu bytes)",
                  (long long)p->rows, (long long)p->cols, (long long)p->off, (int)p->input, size);
    return NULL;
  }
  return base + p->off * esz;
}

/* Copies piece p (rows x cols, row stride ld) to dst (row stride ldd). */
static void copy_rows(char *dst, int64_t ldd, const char *src, const dtxk_la_piece *p, int esz) {
  for (int64_t i = 0; i < p->rows; i++)
    memcpy(dst + i * ldd * esz, src + i * p->ld * esz, (size_t)(p->cols * esz));
}

/* Zeroes the strict upper (upper = 1) or lower triangle of an m x n matrix. */
static void zero_tri(char *a, int64_t m, int64_t n, int upper, int esz) {
  for (int64_t i = 0; i < m; i++) {
    if (upper && i + 1 < n) memset(a + (i * n + i + 1) * esz, 0, (size_t)((n - i - 1) * esz));
    if (!upper) memset(a + i * n * esz, 0, (size_t)((i < n ? i : n) * esz));
  }
}

/* The element type of a task: esz bytes; f64 double parts; cx complex. */
typedef struct ety {
  int esz, f64, cx;
} ety;

void dtxk_la_take_r(char *R, const char *A, int64_t m, int64_t n, int64_t k, int esz) {
  for (int64_t i = 0; i < k; i++)
    for (int64_t j = 0; j < n; j++) {
      if (j >= i)
        memcpy(R + (i * n + j) * esz, A + (i + j * m) * esz, (size_t)esz);
      else
        memset(R + (i * n + j) * esz, 0, (size_t)esz);
    }
}

/* The workspace geqrf and orgqr of an m x n A (column-major, lda m) both fit
 * in (their queries' larger answer), in *work (malloc'd) of *lwork elements.
 * 0, or LAPACK's info / -1000 when out of memory. */
static lapack_int la_work(int f64, char **work, lapack_int *lwork, lapack_int M, lapack_int N, char *A,
                          char *tau) {
  lapack_int K = M < N ? M : N, info;
  double q1 = 0, q2 = 0;
  float f1 = 0, f2 = 0;
  if (f64) {
    info =
        LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, M, N, (double *)(void *)A, M, (double *)(void *)tau, &q1, -1);
    if (info == 0)
      info = LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, M, K, K, (double *)(void *)A, M, (double *)(void *)tau,
                                 &q2, -1);
  } else {
    info = LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, M, N, (float *)(void *)A, M, (float *)(void *)tau, &f1, -1);
    if (info == 0)
      info = LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, M, K, K, (float *)(void *)A, M, (float *)(void *)tau, &f2,
                                 -1);
    q1 = f1;
    q2 = f2;
  }
  if (info != 0) return info;
  double q = q1 > q2 ? q1 : q2;
  *lwork = q > 1 ? (lapack_int)q : 1;
  *work = malloc((size_t)*lwork * (f64 ? sizeof(double) : sizeof(float)));
  return *work != NULL ? 0 : -1000;
}

/* Householder QR of A (m x n, m >= n or not) with geqrf / orgqr: R out to
 * R, the first k columns of Q left in A. 0 or -1 (failed, message set). */
static int qr_geqrf(dtx_task_ctx *ctx, char *A, char *R, int64_t m, int64_t n, int esz, int f64) {
  int64_t k = m < n ? m : n;
  char *tau = malloc((size_t)((k > 0 ? k : 1) * esz));
  if (tau == NULL) return dtx_task_fail(ctx, "qr: out of memory (%lldx%lld)", (long long)m, (long long)n);
  lapack_int M = (lapack_int)m, N = (lapack_int)n, K = (lapack_int)k;
  /* the _work calls: no NaN check, so NaN in A gives NaN in Q and R (NumPy's answer) */
  char *work = NULL;
  lapack_int lwork = 0, info = la_work(f64, &work, &lwork, M, N, A, tau);
  if (info == 0)
    info = f64 ? LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, M, N, (double *)(void *)A, M, (double *)(void *)tau,
                                     (double *)(void *)work, lwork)
               : LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, M, N, (float *)(void *)A, M, (float *)(void *)tau,
                                     (float *)(void *)work, lwork);
  int rc = info == -1000 ? dtx_task_fail(ctx, "qr: out of memory for LAPACK's workspace")
           : info != 0   ? dtx_task_fail(ctx, "qr: geqrf failed (info %d)", (int)info)
                         : 0;
  if (rc == 0) {
    dtxk_la_take_r(R, A, m, n, k, esz);
    info = f64 ? LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, M, K, K, (double *)(void *)A, M,
                                     (const double *)(void *)tau, (double *)(void *)work, lwork)
               : LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, M, K, K, (float *)(void *)A, M,
                                     (const float *)(void *)tau, (float *)(void *)work, lwork);
    if (info != 0) rc = dtx_task_fail(ctx, "qr: orgqr failed (info %d)", (int)info);
  }
  free(work);
  free(tau);
  return rc;
}

#if defined(DTX_HAVE_LATSQR)
/* LAPACK's tall-skinny QR (dlatsqr: Householder QR of row blocks of MB rows,
 * merged in a flat tree, all level 3) and its explicit Q (dorgtsqr_row).
 * Not in lapack.h; the reference LAPACK's interface (CMake checked it
 * links). On a 100,000 x 64 block it takes 85 ms where geqrf + orgqr take
 * 330 ms (geqrf factors such a panel with the level-2 geqr2). */
void dlatsqr_(const lapack_int *m, const lapack_int *n, const lapack_int *mb, const lapack_int *nb, double *a,
              const lapack_int *lda, double *t, const lapack_int *ldt, double *work, const lapack_int *lwork,
              lapack_int *info);
void slatsqr_(const lapack_int *m, const lapack_int *n, const lapack_int *mb, const lapack_int *nb, float *a,
              const lapack_int *lda, float *t, const lapack_int *ldt, float *work, const lapack_int *lwork,
              lapack_int *info);

enum { TS_MB_MIN = 1024, TS_NB = 32 };

static lapack_int ts_mb(int64_t n) { return (lapack_int)(8 * n > TS_MB_MIN ? 8 * n : TS_MB_MIN); }
static int ts_applies(int64_t m, int64_t n) { return n > 0 && n <= 512 && m > 2 * (int64_t)ts_mb(n); }

/* The workspace size a LAPACK query (lwork -1) reported in w. */
static size_t ts_lwork(const char *w, int f64) {
  double v = f64 ? *(const double *)(const void *)w : (double)*(const float *)(const void *)w;
  return v > 1 ? (size_t)v : 1;
}

static int ts_run(dtx_task_ctx *ctx, char *A, char *R, char *T, lapack_int M, lapack_int N, lapack_int ldt,
                  int esz, int f64) {
  lapack_int MB = ts_mb(N), NB = ldt, q = -1, info = 0;
  char w[8];
  if (f64)
    dlatsqr_(&M, &N, &MB, &NB, (double *)(void *)A, &M, (double *)(void *)T, &ldt, (double *)(void *)w, &q,
             &info);
  else
    slatsqr_(&M, &N, &MB, &NB, (float *)(void *)A, &M, (float *)(void *)T, &ldt, (float *)(void *)w, &q,
             &info);
  size_t n1 = ts_lwork(w, f64);
  if (f64)
    LAPACK_dorgtsqr_row(&M, &N, &MB, &NB, (double *)(void *)A, &M, (double *)(void *)T, &ldt,
                        (double *)(void *)w, &q, &info);
  else
    LAPACK_sorgtsqr_row(&M, &N, &MB, &NB, (float *)(void *)A, &M, (float *)(void *)T, &ldt,
                        (float *)(void *)w, &q, &info);
  size_t n2 = ts_lwork(w, f64);
  lapack_int lw = (lapack_int)(n1 > n2 ? n1 : n2);
  char *work = malloc((size_t)lw * (size_t)esz);
  if (work == NULL) return dtx_task_fail(ctx, "qr: out of memory (workspace of %d)", (int)lw);
  if (f64)
    dlatsqr_(&M, &N, &MB, &NB, (double *)(void *)A, &M, (double *)(void *)T, &ldt, (double *)(void *)work,
             &lw, &info);
  else
    slatsqr_(&M, &N, &MB, &NB, (float *)(void *)A, &M, (float *)(void *)T, &ldt, (float *)(void *)work, &lw,
             &info);
  int rc = info != 0 ? dtx_task_fail(ctx, "qr: latsqr failed (info %d)", (int)info) : 0;
  if (rc == 0) {
    dtxk_la_take_r(R, A, M, N, N, esz);
    if (f64)
      LAPACK_dorgtsqr_row(&M, &N, &MB, &NB, (double *)(void *)A, &M, (double *)(void *)T, &ldt,
                          (double *)(void *)work, &lw, &info);
    else
      LAPACK_sorgtsqr_row(&M, &N, &MB, &NB, (float *)(void *)A, &M, (float *)(void *)T, &ldt,
                          (float *)(void *)work, &lw, &info);
    if (info != 0) rc = dtx_task_fail(ctx, "qr: orgtsqr_row failed (info %d)", (int)info);
  }
  free(work);
  return rc;
}

/* QR of a tall A (m x n, m > 2 MB): as qr_geqrf. */
static int qr_tall(dtx_task_ctx *ctx, char *A, char *R, int64_t m, int64_t n, int esz, int f64) {
  lapack_int M = (lapack_int)m, N = (lapack_int)n, MB = ts_mb(n), ldt = (lapack_int)(n < TS_NB ? n : TS_NB);
  int64_t blocks = (m - n + (MB - n) - 1) / (MB - n) + 1; /* dlatsqr's row blocks, rounded up */
  char *T = malloc((size_t)(ldt * n * blocks) * (size_t)esz);
  if (T == NULL) return dtx_task_fail(ctx, "qr: out of memory (%lldx%lld)", (long long)m, (long long)n);
  int rc = ts_run(ctx, A, R, T, M, N, ldt, esz, f64);
  free(T);
  return rc;
}
#else
static int ts_applies(int64_t m, int64_t n) {
  (void)m;
  (void)n;
  return 0;
}
static int qr_tall(dtx_task_ctx *ctx, char *A, char *R, int64_t m, int64_t n, int esz, int f64) {
  return qr_geqrf(ctx, A, R, m, n, esz, f64);
}
#endif

/* QR in LAPACK's own column-major layout (LAPACKE's row-major interface
 * transposes twice and costs 1.6x on tall blocks): the pieces are gathered
 * transposed into A (m x n, lda m), R and Q transposed back out. */
static int qr(dtx_task_ctx *ctx, const dtxk_la *a, ety y) {
  int esz = y.esz, f64 = y.f64;
  int64_t m = a->m, n = a->n, k = m < n ? m : n;
  char *A = dtx_task_scratch(ctx, (size_t)(m * n * esz));
  char *out = dtx_task_output(ctx, (size_t)((m * k + k * n) * esz));
  int rc = 0;
  if (A == NULL || out == NULL)
    rc = dtx_task_fail(ctx, "qr: out of memory (%lldx%lld)", (long long)m, (long long)n);
  int64_t row = 0;
  for (int i = 0; i < a->npieces && rc == 0; i++) {
    const dtxk_la_piece *p = &a->p[i];
    const char *src = piece(ctx, p, esz);
    if (src == NULL) {
      rc = -1;
      break;
    }
    if (row + p->rows <= m) dtxk_transpose(A + row * esz, m, src, p->ld, p->rows, n, esz);
    row += p->rows;
  }
  if (rc == 0 && row != m)
    rc = dtx_task_fail(ctx, "qr: pieces of %lld rows for %lld", (long long)row, (long long)m);
  char *R = out != NULL ? out + m * k * esz : NULL;
  if (rc == 0 && y.cx) /* no tall-skinny kernel: zlatsqr is not in every LAPACK */
    rc = dtxk_la_cx_qr(ctx, A, R, m, n, f64);
  else if (rc == 0)
    rc = ts_applies(m, n) ? qr_tall(ctx, A, R, m, n, esz, f64) : qr_geqrf(ctx, A, R, m, n, esz, f64);
  if (rc == 0) dtxk_transpose(out, k, A, m, k, m, esz);
  return rc;
}

static int svd(dtx_task_ctx *ctx, const dtxk_la *a, ety y) {
  int esz = y.esz, f64 = y.f64;
  int64_t m = a->m, n = a->n, k = m < n ? m : n;
  char *A = dtx_task_scratch(ctx, (size_t)(m * n * esz));
  char *out = dtx_task_output(ctx, (size_t)((m * k + k + k * n) * esz));
  const char *src = piece(ctx, &a->p[0], esz);
  if (src == NULL) return -1;
  if (A == NULL || out == NULL)
    return dtx_task_fail(ctx, "svd: out of memory (%lldx%lld)", (long long)m, (long long)n);
  copy_rows(A, n, src, &a->p[0], esz);
  char *U = out, *S = out + m * k * esz, *VT = S + k * esz;
  lapack_int info =
      y.cx  ? dtxk_la_cx_gesdd(A, U, S, VT, m, n, f64)
      : f64 ? LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', (lapack_int)m, (lapack_int)n, (double *)(void *)A,
                             (lapack_int)n, (double *)(void *)S, (double *)(void *)U, (lapack_int)k,
                             (double *)(void *)VT, (lapack_int)n)
            : LAPACKE_sgesdd(LAPACK_ROW_MAJOR, 'S', (lapack_int)m, (lapack_int)n, (float *)(void *)A,
                             (lapack_int)n, (float *)(void *)S, (float *)(void *)U, (lapack_int)k,
                             (float *)(void *)VT, (lapack_int)n);
  if (info == -5) return dtx_task_fail(ctx, "svd: " DTXK_LA_NAN_MSG);
  if (info != 0) return dtx_task_fail(ctx, "svd: gesdd did not converge (info %d)", (int)info);
  return 0;
}

#define CB(f64, d, s) ((f64) ? (d) : (s))

static int gemm(dtx_task_ctx *ctx, const dtxk_la *a, ety y) {
  int esz = y.esz, f64 = y.f64;
  const char *A = piece(ctx, &a->p[0], esz);
  if (A == NULL) return -1;
  int64_t m = a->m, n = a->n;
  char *out = dtx_task_output(ctx, (size_t)(m * n * esz));
  if (out == NULL) return dtx_task_fail(ctx, "gemm: out of memory");
  int ta = (a->flags & DTXK_LA_TRANS_A) != 0, tb = (a->flags & DTXK_LA_TRANS_B) != 0;
  if (a->p[1].input < 0) { /* op(p0) copied */
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++)
        memcpy(out + (i * n + j) * esz, A + (ta ? j * a->p[0].ld + i : i * a->p[0].ld + j) * esz,
               (size_t)esz);
    if (ta && y.cx) dtxk_la_cx_conj(out, m * n, f64);
    return 0;
  }
  const char *B = piece(ctx, &a->p[1], esz);
  if (B == NULL) return -1;
  int64_t k = ta ? a->p[0].rows : a->p[0].cols;
  if (y.cx) {
    dtxk_la_cx_gemm(ta, tb, m, n, k, 1, A, a->p[0].ld, B, a->p[1].ld, 0, out, f64);
    return 0;
  }
  enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  if (f64)
    cblas_dgemm(CblasRowMajor, TA, TB, (int)m, (int)n, (int)k, 1.0, (const double *)(const void *)A,
                (int)a->p[0].ld, (const double *)(const void *)B, (int)a->p[1].ld, 0.0, (double *)(void *)out,
                (int)n);
  else
    cblas_sgemm(CblasRowMajor, TA, TB, (int)m, (int)n, (int)k, 1.0f, (const float *)(const void *)A,
                (int)a->p[0].ld, (const float *)(const void *)B, (int)a->p[1].ld, 0.0f, (float *)(void *)out,
                (int)n);
  return 0;
}

static int copy(dtx_task_ctx *ctx, const dtxk_la *a, ety y) {
  int esz = y.esz, f64 = y.f64;
  int64_t m = a->m, n = a->n;
  char *out = dtx_task_output(ctx, (size_t)(m * n * esz));
  if (out == NULL) return dtx_task_fail(ctx, "copy: out of memory");
  if (a->p[0].input < 0) {
    memset(out, 0, (size_t)(m * n * esz));
    if (a->flags & DTXK_LA_EYE)
      for (int64_t i = 0; i < m && i < n; i++) {
        if (f64)
          ((double *)(void *)out)[(i * n + i) * (1 + y.cx)] = 1.0; /* (1, 0) when complex */
        else
          ((float *)(void *)out)[(i * n + i) * (1 + y.cx)] = 1.0f;
      }
    return 0;
  }
  const char *A = piece(ctx, &a->p[0], esz);
  if (A == NULL) return -1;
  if (a->flags & DTXK_LA_TRANS_A) {
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++)
        memcpy(out + (i * n + j) * esz, A + (j * a->p[0].ld + i) * esz, (size_t)esz);
    if (y.cx) dtxk_la_cx_conj(out, m * n, f64);
  } else {
    dtxk_la_piece p = a->p[0];
    p.rows = m;
    p.cols = n;
    copy_rows(out, n, A, &p, esz);
  }
  if (a->flags & (DTXK_LA_UPPER | DTXK_LA_LOWER)) zero_tri(out, m, n, (a->flags & DTXK_LA_LOWER) != 0, esz);
  return 0;
}

static int potrf(dtx_task_ctx *ctx, const dtxk_la *a, ety y) {
  int esz = y.esz, f64 = y.f64;
  const char *A = piece(ctx, &a->p[0], esz);
  if (A == NULL) return -1;
  int64_t n = a->n;
  char *out = dtx_task_output(ctx, (size_t)(n * n * esz));
  if (out == NULL) return dtx_task_fail(ctx, "cholesky: out of memory");
  copy_rows(out, n, A, &a->p[0], esz);
  lapack_int info = y.cx ? dtxk_la_cx_potrf(out, n, f64)
                         : CB(f64,
                              LAPACKE_dpotrf_work(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, (double *)(void *)out,
                                                  (lapack_int)n),
                              LAPACKE_spotrf_work(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, (float *)(void *)out,
                                                  (lapack_int)n));
  if (info > 0)
    return dtx_task_fail(
        ctx, "cholesky: the matrix is not positive definite (leading minor %d of this block)", (int)info);
  if (info < 0) return dtx_task_fail(ctx, "cholesky: potrf argument %d is wrong", (int)-info);
  zero_tri(out, n, n, 1, esz);
  return 0;
}

static int trsm(dtx_task_ctx *ctx, const dtxk_la *a, ety y) {
  int esz = y.esz, f64 = y.f64;
  const char *B = piece(ctx, &a->p[0], esz), *T = piece(ctx, &a->p[1], esz);
  if (B == NULL || T == NULL) return -1;
  int64_t m = a->m, n = a->n;
  char *out = dtx_task_output(ctx, (size_t)(m * n * esz));
  if (out == NULL) return dtx_task_fail(ctx, "trsm: out of memory");
  copy_rows(out, n, B, &a->p[0], esz);
  if (y.cx) {
    dtxk_la_cx_trsm((a->flags & DTXK_LA_RIGHT) != 0, (a->flags & DTXK_LA_UPPER) != 0,
                    (a->flags & DTXK_LA_TRANS_A) != 0, m, n, T, a->p[1].ld, out, f64);
    return 0;
  }
  enum CBLAS_SIDE side = (a->flags & DTXK_LA_RIGHT) ? CblasRight : CblasLeft;
  enum CBLAS_UPLO uplo = (a->flags & DTXK_LA_UPPER) ? CblasUpper : CblasLower;
  enum CBLAS_TRANSPOSE tr = (a->flags & DTXK_LA_TRANS_A) ? CblasTrans : CblasNoTrans;
  if (f64)
    cblas_dtrsm(CblasRowMajor, side, uplo, tr, CblasNonUnit, (int)m, (int)n, 1.0,
                (const double *)(const void *)T, (int)a->p[1].ld, (double *)(void *)out, (int)n);
  else
    cblas_strsm(CblasRowMajor, side, uplo, tr, CblasNonUnit, (int)m, (int)n, 1.0f,
                (const float *)(const void *)T, (int)a->p[1].ld, (float *)(void *)out, (int)n);
  return 0;
}

static int update(dtx_task_ctx *ctx, const dtxk_la *a, ety y) {
  int esz = y.esz, f64 = y.f64;
  const char *C = piece(ctx, &a->p[0], esz), *A = piece(ctx, &a->p[1], esz), *B = piece(ctx, &a->p[2], esz);
  if (C == NULL || A == NULL || B == NULL) return -1;
  int64_t m = a->m, n = a->n, k = a->p[1].cols;
  char *out = dtx_task_output(ctx, (size_t)(m * n * esz));
  if (out == NULL) return dtx_task_fail(ctx, "cholesky update: out of memory");
  copy_rows(out, n, C, &a->p[0], esz);
  if (y.cx && (a->flags & DTXK_LA_SYRK)) {
    dtxk_la_cx_herk(n, k, A, a->p[1].ld, out, f64);
  } else if (y.cx) {
    dtxk_la_cx_gemm(0, 1, m, n, k, -1, A, a->p[1].ld, B, a->p[2].ld, 1, out, f64);
  } else if (a->flags & DTXK_LA_SYRK) {
    if (f64)
      cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)n, (int)k, -1.0,
                  (const double *)(const void *)A, (int)a->p[1].ld, 1.0, (double *)(void *)out, (int)n);
    else
      cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)n, (int)k, -1.0f,
                  (const float *)(const void *)A, (int)a->p[1].ld, 1.0f, (float *)(void *)out, (int)n);
  } else if (f64) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, -1.0,
                (const double *)(const void *)A, (int)a->p[1].ld, (const double *)(const void *)B,
                (int)a->p[2].ld, 1.0, (double *)(void *)out, (int)n);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, -1.0f,
                (const float *)(const void *)A, (int)a->p[1].ld, (const float *)(const void *)B,
                (int)a->p[2].ld, 1.0f, (float *)(void *)out, (int)n);
  }
  return 0;
}

static int solve(dtx_task_ctx *ctx, const dtxk_la *a, ety y) {
  int esz = y.esz, f64 = y.f64;
  const char *A = piece(ctx, &a->p[0], esz), *B = piece(ctx, &a->p[1], esz);
  if (A == NULL || B == NULL) return -1;
  int64_t n = a->m, k = a->n;
  char *LU = malloc((size_t)(n * n * esz));
  lapack_int *piv = malloc((size_t)n * sizeof *piv);
  char *out = dtx_task_output(ctx, (size_t)(n * k * esz));
  int rc = 0;
  if (LU == NULL || piv == NULL || out == NULL) rc = dtx_task_fail(ctx, "solve: out of memory");
  if (rc == 0) {
    copy_rows(LU, n, A, &a->p[0], esz);
    copy_rows(out, k, B, &a->p[1], esz);
    lapack_int info =
        y.cx ? dtxk_la_cx_gesv(LU, n, k, out, piv, f64)
             : CB(f64,
                  LAPACKE_dgesv_work(LAPACK_ROW_MAJOR, (lapack_int)n, (lapack_int)k, (double *)(void *)LU,
                                     (lapack_int)n, piv, (double *)(void *)out, (lapack_int)k),
                  LAPACKE_sgesv_work(LAPACK_ROW_MAJOR, (lapack_int)n, (lapack_int)k, (float *)(void *)LU,
                                     (lapack_int)n, piv, (float *)(void *)out, (lapack_int)k));
    if (info > 0)
      rc = dtx_task_fail(ctx, "solve: singular matrix (U[%d,%d] is exactly zero)", (int)info - 1,
                         (int)info - 1);
    else if (info < 0)
      rc = dtx_task_fail(ctx, "solve: gesv argument %d is wrong", (int)-info);
  }
  free(LU);
  free(piv);
  return rc;
}

int dtxk_la_cpu(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_la *a = dtx_task_args(ctx, &asz);
  if (a == NULL || asz < sizeof *a || asz != DTXK_LA_SIZE(a->npieces))
    return dtx_task_fail(ctx, "malformed linalg-task arguments");
  int esz = dtxk_la_esz(a->dtype);
  if (esz == 0)
    return dtx_task_fail(ctx, "linalg task: dtype %d is not float32, float64, complex64 or complex128",
                         (int)a->dtype);
  (void)dtxk_blas_name(); /* OpenBLAS to one thread of its own */
  ety y = {esz, a->dtype == DTXK_F64 || a->dtype == DTXK_LA_C128, dtxk_la_is_cx(a->dtype)};
  switch (a->op) {
    case DTXK_LA_QR:
      return qr(ctx, a, y);
    case DTXK_LA_GEMM:
      return gemm(ctx, a, y);
    case DTXK_LA_COPY:
      return copy(ctx, a, y);
    case DTXK_LA_SVD:
      return svd(ctx, a, y);
    case DTXK_LA_POTRF:
      return potrf(ctx, a, y);
    case DTXK_LA_TRSM:
      return trsm(ctx, a, y);
    case DTXK_LA_UPDATE:
      return update(ctx, a, y);
    case DTXK_LA_SOLVE:
      return solve(ctx, a, y);
    default:
      return dtx_task_fail(ctx, "linalg task: unknown op %d", (int)a->op);
  }
}

#else /* no LAPACKE */

int dtxk_la_available(void) { return 0; }

int dtxk_la_cpu(dtx_task_ctx *ctx) {
  return dtx_task_fail(ctx, "this build of dtx has no LAPACKE (apt-get install liblapacke-dev and rebuild)");
}

#endif
