/*
 * kernels/la.cu - the CUDA implementation of linalg block tasks
 * (kernels/la.h): cuSOLVER (geqrf/orgqr, gesvd, potrf, getrf/getrs) and
 * cuBLAS (gemm, trsm, syrk), both opened with dlopen at the first linalg
 * task on a GPU (as fused.cu opens cuBLAS), so the library links neither.
 *
 * Blobs are row-major (C order) like every chunk; cuSOLVER and cuBLAS are
 * column-major. A row-major r x c matrix with row stride ld is the
 * column-major c x r matrix with leading dimension ld, so products and
 * triangular solves swap sides instead of moving data (see each op); QR,
 * SVD of tall inputs and solve transpose into scratch first.
 *
 * Runs on the dispatching thread and enqueues on the task's stream; potrf
 * and getrf are followed by one stream synchronization to read their info
 * (a matrix not positive definite or singular fails the task as on CPU).
 * Handles are per device, used under a mutex (one task at a time per
 * process, as fused.cu's cuBLAS handles).
 *
 * Complex64 / complex128 blobs take the same paths with the Z / C functions
 * (kernels/la_complex.cu behind kernels/la_gpu.h): the copy kernels move
 * float2 / double2 pairs, a transpose of the blob (flags TRANS_A / TRANS_B)
 * is CUBLAS_OP_C, syrk is herk, and the SVD's real S is spread into the
 * packed output's complex slots. The layout swaps above hold unchanged: a
 * row-major complex matrix read column-major is its plain transpose, and
 * for Hermitian input potrf(UPPER) of that, read back row-major, is L with
 * L L^H = A.
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "kernels/elem.h"
#include "kernels/la.h"
#include "kernels/la_gpu.h"

namespace {

struct libs {
  pthread_once_t once;
  void *cublas, *cusolver;
  char why[256];
  pthread_mutex_t mu;
  cublasHandle_t bh[64];
  cusolverDnHandle_t sh[64];
  decltype(&cublasCreate_v2) b_create;
  decltype(&cublasSetStream_v2) b_stream;
  decltype(&cublasDgemm_v2) dgemm;
  decltype(&cublasSgemm_v2) sgemm;
  decltype(&cublasDtrsm_v2) dtrsm;
  decltype(&cublasStrsm_v2) strsm;
  decltype(&cublasDsyrk_v2) dsyrk;
  decltype(&cublasSsyrk_v2) ssyrk;
  decltype(&cusolverDnCreate) s_create;
  decltype(&cusolverDnSetStream) s_stream;
  decltype(&cusolverDnDgeqrf_bufferSize) dgeqrf_bs;
  decltype(&cusolverDnSgeqrf_bufferSize) sgeqrf_bs;
  decltype(&cusolverDnDgeqrf) dgeqrf;
  decltype(&cusolverDnSgeqrf) sgeqrf;
  decltype(&cusolverDnDorgqr_bufferSize) dorgqr_bs;
  decltype(&cusolverDnSorgqr_bufferSize) sorgqr_bs;
  decltype(&cusolverDnDorgqr) dorgqr;
  decltype(&cusolverDnSorgqr) sorgqr;
  decltype(&cusolverDnDgesvd_bufferSize) dgesvd_bs;
  decltype(&cusolverDnSgesvd_bufferSize) sgesvd_bs;
  decltype(&cusolverDnDgesvd) dgesvd;
  decltype(&cusolverDnSgesvd) sgesvd;
  decltype(&cusolverDnDpotrf_bufferSize) dpotrf_bs;
  decltype(&cusolverDnSpotrf_bufferSize) spotrf_bs;
  decltype(&cusolverDnDpotrf) dpotrf;
  decltype(&cusolverDnSpotrf) spotrf;
  decltype(&cusolverDnDgetrf_bufferSize) dgetrf_bs;
  decltype(&cusolverDnSgetrf_bufferSize) sgetrf_bs;
  decltype(&cusolverDnDgetrf) dgetrf;
  decltype(&cusolverDnSgetrf) sgetrf;
  decltype(&cusolverDnDgetrs) dgetrs;
  decltype(&cusolverDnSgetrs) sgetrs;
};

libs L = {PTHREAD_ONCE_INIT, NULL, NULL, "", PTHREAD_MUTEX_INITIALIZER};

void *open_lib(const char *base, int major) {
  char name[64];
  snprintf(name, sizeof name, "%s.so.%d", base, major);
  void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    snprintf(name, sizeof name, "%s.so", base);
    h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  }
  return h;
}

#define SYM(lib, field, name)                                                                          \
  do {                                                                                                 \
    L.field = (decltype(L.field))dlsym(lib, name);                                                     \
    if (L.field == NULL && L.why[0] == '\0') snprintf(L.why, sizeof L.why, "%s lacks %s", #lib, name); \
  } while (0)

void libs_open(void) {
  L.cublas = open_lib("libcublas", CUDART_VERSION / 1000);
  L.cusolver = open_lib("libcusolver", CUSOLVER_VER_MAJOR);
  if (L.cublas == NULL || L.cusolver == NULL) {
    snprintf(L.why, sizeof L.why, "%s could not be opened: install the CUDA toolkit's libraries",
             L.cublas == NULL ? "libcublas" : "libcusolver");
    return;
  }
  void *b = L.cublas, *s = L.cusolver;
  SYM(b, b_create, "cublasCreate_v2");
  SYM(b, b_stream, "cublasSetStream_v2");
  SYM(b, dgemm, "cublasDgemm_v2");
  SYM(b, sgemm, "cublasSgemm_v2");
  SYM(b, dtrsm, "cublasDtrsm_v2");
  SYM(b, strsm, "cublasStrsm_v2");
  SYM(b, dsyrk, "cublasDsyrk_v2");
  SYM(b, ssyrk, "cublasSsyrk_v2");
  SYM(s, s_create, "cusolverDnCreate");
  SYM(s, s_stream, "cusolverDnSetStream");
  SYM(s, dgeqrf_bs, "cusolverDnDgeqrf_bufferSize");
  SYM(s, sgeqrf_bs, "cusolverDnSgeqrf_bufferSize");
  SYM(s, dgeqrf, "cusolverDnDgeqrf");
  SYM(s, sgeqrf, "cusolverDnSgeqrf");
  SYM(s, dorgqr_bs, "cusolverDnDorgqr_bufferSize");
  SYM(s, sorgqr_bs, "cusolverDnSorgqr_bufferSize");
  SYM(s, dorgqr, "cusolverDnDorgqr");
  SYM(s, sorgqr, "cusolverDnSorgqr");
  SYM(s, dgesvd_bs, "cusolverDnDgesvd_bufferSize");
  SYM(s, sgesvd_bs, "cusolverDnSgesvd_bufferSize");
  SYM(s, dgesvd, "cusolverDnDgesvd");
  SYM(s, sgesvd, "cusolverDnSgesvd");
  SYM(s, dpotrf_bs, "cusolverDnDpotrf_bufferSize");
  SYM(s, spotrf_bs, "cusolverDnSpotrf_bufferSize");
  SYM(s, dpotrf, "cusolverDnDpotrf");
  SYM(s, spotrf, "cusolverDnSpotrf");
  SYM(s, dgetrf_bs, "cusolverDnDgetrf_bufferSize");
  SYM(s, sgetrf_bs, "cusolverDnSgetrf_bufferSize");
  SYM(s, dgetrf, "cusolverDnDgetrf");
  SYM(s, sgetrf, "cusolverDnSgetrf");
  SYM(s, dgetrs, "cusolverDnDgetrs");
  SYM(s, sgetrs, "cusolverDnSgetrs");
  if (L.why[0] == '\0') dtxk_la_cx_open(b, s, L.why, sizeof L.why);
}

/* What one task works with. */
struct job {
  dtx_task_ctx *ctx;
  const dtxk_la *a;
  cudaStream_t s;
  cublasHandle_t b;
  cusolverDnHandle_t h;
  int f64, cx, esz; /* f64: double parts (complex128 when cx) */
  void *scratch[8];
  int nscratch;
};

int fail(job *j, const char *what, int code) {
  return dtx_task_fail(j->ctx, "linalg: %s failed with status %d", what, code);
}

void *scratch(job *j, size_t bytes) {
  void *p = NULL;
  if (j->nscratch == 8 || cudaMallocAsync(&p, bytes > 0 ? bytes : 1, j->s) != cudaSuccess) return NULL;
  j->scratch[j->nscratch++] = p;
  return p;
}

const char *piece(job *j, int i) {
  const dtxk_la_piece *p = &j->a->p[i];
  size_t size = 0;
  const char *base = (const char *)dtx_task_input(j->ctx, p->input, &size);
  if (base == NULL) return NULL;
  if (p->rows > 0 && (size_t)((p->off + (p->rows - 1) * p->ld + p->cols) * j->esz) > size) return NULL;
  return base + p->off * j->esz;
}

int blocks(int64_t n) { return (int)((n + 255) / 256 < 65535 ? (n + 255) / 256 : 65535); }

/* Elements: float, double, and the complex pairs float2, double2. */
template <typename T>
__device__ __forceinline__ T conj_v(T x) {
  return x;
}
__device__ __forceinline__ float2 conj_v(float2 x) { return make_float2(x.x, -x.y); }
__device__ __forceinline__ double2 conj_v(double2 x) { return make_double2(x.x, -x.y); }
template <typename T>
__device__ __forceinline__ T one_v() {
  return T(1);
}
template <>
__device__ __forceinline__ float2 one_v<float2>() {
  return make_float2(1, 0);
}
template <>
__device__ __forceinline__ double2 one_v<double2>() {
  return make_double2(1, 0);
}

enum { CONJ = 4 }; /* copy's tri flag: conjugate the values (complex) */

/* dst (r x c, row-major, row stride ldd; or column-major when cm: dst[i + j
 * * ldd]) = src (r x c, row-major, row stride lds; transposed when ts: src
 * is c x r and element (i, j) is src[j * lds + i]); tri 1 zeroes below the
 * diagonal, 2 above; with CONJ, conjugated. */
template <typename T>
__global__ void copy_k(T *dst, int64_t ldd, int cm, const T *src, int64_t lds, int ts, int64_t r, int64_t c,
                       int tri) {
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < r * c;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t i = e / c, jj = e % c;
    T v = src != NULL ? src[ts ? jj * lds + i : i * lds + jj] : T();
    if (((tri & 3) == 1 && jj < i) || ((tri & 3) == 2 && jj > i)) v = T();
    if (tri & CONJ) v = conj_v(v);
    dst[cm ? i + jj * ldd : i * ldd + jj] = v;
  }
}

template <typename T>
__global__ void eye_k(T *dst, int64_t m, int64_t n) {
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < m * n;
       e += (int64_t)gridDim.x * blockDim.x)
    dst[e] = e / n == e % n ? one_v<T>() : T();
}

int copy(job *j, void *dst, int64_t ldd, int cm, const void *src, int64_t lds, int ts, int64_t r, int64_t c,
         int tri) {
  if (r * c == 0) return 0;
  if (j->cx && j->f64)
    copy_k<double2>
        <<<blocks(r * c), 256, 0, j->s>>>((double2 *)dst, ldd, cm, (const double2 *)src, lds, ts, r, c, tri);
  else if (j->cx)
    copy_k<float2>
        <<<blocks(r * c), 256, 0, j->s>>>((float2 *)dst, ldd, cm, (const float2 *)src, lds, ts, r, c, tri);
  else if (j->f64)
    copy_k<double>
        <<<blocks(r * c), 256, 0, j->s>>>((double *)dst, ldd, cm, (const double *)src, lds, ts, r, c, tri);
  else
    copy_k<float>
        <<<blocks(r * c), 256, 0, j->s>>>((float *)dst, ldd, cm, (const float *)src, lds, ts, r, c, tri);
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess
             ? 0
             : dtx_task_fail(j->ctx, "linalg: a copy kernel failed to launch: %s", cudaGetErrorString(e));
}

/* Reads the device int at info after the stream's work so far. */
int read_info(job *j, const int *info, int *out) {
  cudaError_t e = cudaMemcpyAsync(out, info, sizeof *out, cudaMemcpyDeviceToHost, j->s);
  if (e == cudaSuccess) e = cudaStreamSynchronize(j->s);
  return e == cudaSuccess
             ? 0
             : dtx_task_fail(j->ctx, "linalg: reading cuSOLVER's info: %s", cudaGetErrorString(e));
}

#define SOLVE(st, what) ((st) == CUSOLVER_STATUS_SUCCESS ? 0 : fail(j, "cuSOLVER " what, (int)(st)))
#define BLAS(st, what) ((st) == CUBLAS_STATUS_SUCCESS ? 0 : fail(j, "cuBLAS " what, (int)(st)))

int qr(job *j) {
  const dtxk_la *a = j->a;
  int m = (int)a->m, n = (int)a->n, k = m < n ? m : n, lw = 0, lw2 = 0;
  char *out = (char *)dtx_task_output(j->ctx, (size_t)(m * (int64_t)k + (int64_t)k * n) * j->esz);
  char *A = (char *)scratch(j, (size_t)m * n * j->esz), *tau = (char *)scratch(j, (size_t)k * j->esz);
  int *info = (int *)scratch(j, sizeof(int));
  if (out == NULL || A == NULL || tau == NULL || info == NULL)
    return dtx_task_fail(j->ctx, "qr: out of device memory");
  int64_t row = 0;
  for (int i = 0; i < a->npieces; i++) { /* stacked, column-major m x n */
    const char *src = piece(j, i);
    if (src == NULL) return dtx_task_fail(j->ctx, "qr: piece %d is missing or overruns its input", i);
    if (copy(j, A + row * j->esz, m, 1, src, a->p[i].ld, 0, a->p[i].rows, n, 0)) return -1;
    row += a->p[i].rows;
  }
  int rc = j->cx    ? SOLVE(dtxk_la_cx_geqrf_bs(j->h, j->f64, m, n, A, m, &lw), "geqrf_bufferSize")
           : j->f64 ? SOLVE(L.dgeqrf_bs(j->h, m, n, (double *)A, m, &lw), "geqrf_bufferSize")
                    : SOLVE(L.sgeqrf_bs(j->h, m, n, (float *)A, m, &lw), "geqrf_bufferSize");
  if (rc == 0)
    rc = j->cx    ? SOLVE(dtxk_la_cx_ungqr_bs(j->h, j->f64, m, k, k, A, m, tau, &lw2), "ungqr_bufferSize")
         : j->f64 ? SOLVE(L.dorgqr_bs(j->h, m, k, k, (double *)A, m, (double *)tau, &lw2), "orgqr_bufferSize")
                  : SOLVE(L.sorgqr_bs(j->h, m, k, k, (float *)A, m, (float *)tau, &lw2), "orgqr_bufferSize");
  if (rc) return rc;
  if (lw2 > lw) lw = lw2;
  char *w = (char *)scratch(j, (size_t)lw * j->esz);
  if (w == NULL) return dtx_task_fail(j->ctx, "qr: out of device memory for the workspace");
  rc = j->cx    ? SOLVE(dtxk_la_cx_geqrf(j->h, j->f64, m, n, A, m, tau, w, lw, info), "geqrf")
       : j->f64 ? SOLVE(L.dgeqrf(j->h, m, n, (double *)A, m, (double *)tau, (double *)w, lw, info), "geqrf")
                : SOLVE(L.sgeqrf(j->h, m, n, (float *)A, m, (float *)tau, (float *)w, lw, info), "geqrf");
  /* R (k x n, row-major): element (i, j) is A[i + j m], i.e. A read transposed with stride m */
  if (rc == 0) rc = copy(j, out + (int64_t)m * k * j->esz, n, 0, A, m, 1, k, n, 1);
  if (rc == 0)
    rc = j->cx ? SOLVE(dtxk_la_cx_ungqr(j->h, j->f64, m, k, k, A, m, tau, w, lw, info), "ungqr")
         : j->f64
             ? SOLVE(L.dorgqr(j->h, m, k, k, (double *)A, m, (double *)tau, (double *)w, lw, info), "orgqr")
             : SOLVE(L.sorgqr(j->h, m, k, k, (float *)A, m, (float *)tau, (float *)w, lw, info), "orgqr");
  if (rc == 0) rc = copy(j, out, k, 0, A, m, 1, m, k, 0); /* Q row-major m x k */
  return rc;
}

int svd(job *j) {
  const dtxk_la *a = j->a;
  int m = (int)a->m, n = (int)a->n, k = m < n ? m : n, lw = 0;
  char *out = (char *)dtx_task_output(j->ctx, (size_t)(m * (int64_t)k + k + (int64_t)k * n) * j->esz);
  const char *src = piece(j, 0);
  char *U = out, *S = out + (int64_t)m * k * j->esz, *VT = S + (int64_t)k * j->esz;
  char *A = (char *)scratch(j, (size_t)m * n * j->esz), *rw = (char *)scratch(j, (size_t)k * j->esz);
  int *info = (int *)scratch(j, sizeof(int));
  char *Sr = j->cx ? (char *)scratch(j, (size_t)k * j->esz) : S; /* complex: the real S, spread after */
  if (out == NULL || src == NULL || A == NULL || rw == NULL || info == NULL || Sr == NULL)
    return dtx_task_fail(j->ctx, "svd: out of device memory or a missing input");
  /* gesvd needs rows >= columns. Wide (n >= m): the row-major input is the
   * column-major n x m matrix a^T = U' S VT', so a's U is VT'^T, whose
   * row-major form is VT' column-major, and a's V^T is U' the same way. Tall:
   * transpose to column-major and transpose the factors back. */
  int wide = n >= m, r = wide ? n : m, c = wide ? m : n;
  if (copy(j, A, r, 1, src, a->p[0].ld, wide ? 1 : 0, wide ? n : m, wide ? m : n, 0)) return -1;
  int rc = j->cx    ? SOLVE(dtxk_la_cx_gesvd_bs(j->h, j->f64, r, c, &lw), "gesvd_bufferSize")
           : j->f64 ? SOLVE(L.dgesvd_bs(j->h, r, c, &lw), "gesvd_bufferSize")
                    : SOLVE(L.sgesvd_bs(j->h, r, c, &lw), "gesvd_bufferSize");
  char *w = rc == 0 ? (char *)scratch(j, (size_t)lw * j->esz) : NULL;
  char *Ut = wide ? VT : (char *)scratch(j, (size_t)m * k * j->esz);
  char *Vt = wide ? U : (char *)scratch(j, (size_t)k * n * j->esz);
  if (rc == 0 && (w == NULL || Ut == NULL || Vt == NULL))
    return dtx_task_fail(j->ctx, "svd: out of device memory");
  if (rc == 0 && j->cx)
    rc = SOLVE(dtxk_la_cx_gesvd(j->h, j->f64, r, c, A, r, Sr, Ut, r, Vt, k, w, lw, rw, info), "gesvd");
  else if (rc == 0)
    rc = j->f64 ? SOLVE(L.dgesvd(j->h, 'S', 'S', r, c, (double *)A, r, (double *)S, (double *)Ut, r,
                                 (double *)Vt, k, (double *)w, lw, (double *)rw, info),
                        "gesvd")
                : SOLVE(L.sgesvd(j->h, 'S', 'S', r, c, (float *)A, r, (float *)S, (float *)Ut, r, (float *)Vt,
                                 k, (float *)w, lw, (float *)rw, info),
                        "gesvd");
  if (rc == 0 && j->cx) {
    cudaError_t e = dtxk_la_cx_spread(S, Sr, k, j->f64, j->s);
    if (e != cudaSuccess)
      rc = dtx_task_fail(j->ctx, "svd: a kernel failed to launch: %s", cudaGetErrorString(e));
  }
  if (rc == 0 && !wide) { /* column-major U (m x k) and V^T (k x n) to row-major */
    rc = copy(j, U, k, 0, Ut, m, 1, m, k, 0);
    if (rc == 0) rc = copy(j, VT, n, 0, Vt, k, 1, k, n, 0);
  }
  return rc;
}

int potrf(job *j) {
  int n = (int)j->a->n, lw = 0, bad = 0;
  char *out = (char *)dtx_task_output(j->ctx, (size_t)n * n * j->esz);
  const char *src = piece(j, 0);
  int *info = (int *)scratch(j, sizeof(int));
  if (out == NULL || src == NULL || info == NULL)
    return dtx_task_fail(j->ctx, "cholesky: out of device memory");
  if (copy(j, out, n, 0, src, j->a->p[0].ld, 0, n, n, 0)) return -1;
  /* the row-major lower triangle is the column-major upper one: potrf(UPPER)
   * gives U with A = U^T U, which read row-major is L = U^T */
  int rc =
      j->cx ? SOLVE(dtxk_la_cx_potrf_bs(j->h, j->f64, CUBLAS_FILL_MODE_UPPER, n, out, n, &lw),
                    "potrf_bufferSize")
      : j->f64
          ? SOLVE(L.dpotrf_bs(j->h, CUBLAS_FILL_MODE_UPPER, n, (double *)out, n, &lw), "potrf_bufferSize")
          : SOLVE(L.spotrf_bs(j->h, CUBLAS_FILL_MODE_UPPER, n, (float *)out, n, &lw), "potrf_bufferSize");
  char *w = rc == 0 ? (char *)scratch(j, (size_t)lw * j->esz) : NULL;
  if (rc == 0 && w == NULL) return dtx_task_fail(j->ctx, "cholesky: out of device memory");
  if (rc == 0 && j->cx)
    rc = SOLVE(dtxk_la_cx_potrf(j->h, j->f64, CUBLAS_FILL_MODE_UPPER, n, out, n, w, lw, info), "potrf");
  else if (rc == 0)
    rc = j->f64 ? SOLVE(L.dpotrf(j->h, CUBLAS_FILL_MODE_UPPER, n, (double *)out, n, (double *)w, lw, info),
                        "potrf")
                : SOLVE(L.spotrf(j->h, CUBLAS_FILL_MODE_UPPER, n, (float *)out, n, (float *)w, lw, info),
                        "potrf");
  if (rc == 0) rc = copy(j, out, n, 0, out, n, 0, n, n, 2); /* zero above the diagonal, in place */
  if (rc == 0) rc = read_info(j, info, &bad);
  if (rc == 0 && bad > 0)
    return dtx_task_fail(
        j->ctx, "cholesky: the matrix is not positive definite (leading minor %d of this block)", bad);
  return rc;
}

int gemm(job *j) {
  const dtxk_la *a = j->a;
  int64_t m = a->m, n = a->n;
  int ta = (a->flags & DTXK_LA_TRANS_A) != 0, tb = (a->flags & DTXK_LA_TRANS_B) != 0;
  char *out = (char *)dtx_task_output(j->ctx, (size_t)(m * n) * j->esz);
  const char *A = piece(j, 0);
  if (out == NULL || A == NULL) return dtx_task_fail(j->ctx, "gemm: out of device memory or a missing input");
  if (a->p[1].input < 0) return copy(j, out, n, 0, A, a->p[0].ld, ta, m, n, ta && j->cx ? CONJ : 0);
  const char *B = piece(j, 1);
  if (B == NULL) return dtx_task_fail(j->ctx, "gemm: a missing input");
  int k = (int)(ta ? a->p[0].rows : a->p[0].cols);
  cublasOperation_t t = j->cx ? CUBLAS_OP_C : CUBLAS_OP_T;
  cublasOperation_t oa = ta ? t : CUBLAS_OP_N, ob = tb ? t : CUBLAS_OP_N;
  /* row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T */
  if (j->cx)
    return BLAS(dtxk_la_cx_gemm(j->b, j->f64, ob, oa, (int)n, (int)m, k, 1, B, (int)a->p[1].ld, A,
                                (int)a->p[0].ld, 0, out, (int)n),
                "gemm");
  if (j->f64) {
    double one = 1, zero = 0;
    return BLAS(L.dgemm(j->b, ob, oa, (int)n, (int)m, k, &one, (const double *)B, (int)a->p[1].ld,
                        (const double *)A, (int)a->p[0].ld, &zero, (double *)out, (int)n),
                "gemm");
  }
  float one = 1, zero = 0;
  return BLAS(L.sgemm(j->b, ob, oa, (int)n, (int)m, k, &one, (const float *)B, (int)a->p[1].ld,
                      (const float *)A, (int)a->p[0].ld, &zero, (float *)out, (int)n),
              "gemm");
}

int copy_op(job *j) {
  const dtxk_la *a = j->a;
  int64_t m = a->m, n = a->n;
  char *out = (char *)dtx_task_output(j->ctx, (size_t)(m * n) * j->esz);
  if (out == NULL) return dtx_task_fail(j->ctx, "copy: out of device memory");
  if (a->p[0].input < 0) {
    if (a->flags & DTXK_LA_EYE) {
      if (j->cx && j->f64)
        eye_k<double2><<<blocks(m * n), 256, 0, j->s>>>((double2 *)out, m, n);
      else if (j->cx)
        eye_k<float2><<<blocks(m * n), 256, 0, j->s>>>((float2 *)out, m, n);
      else if (j->f64)
        eye_k<double><<<blocks(m * n), 256, 0, j->s>>>((double *)out, m, n);
      else
        eye_k<float><<<blocks(m * n), 256, 0, j->s>>>((float *)out, m, n);
      return cudaGetLastError() == cudaSuccess ? 0
                                               : dtx_task_fail(j->ctx, "copy: the kernel failed to launch");
    }
    return copy(j, out, n, 0, NULL, 0, 0, m, n, 0);
  }
  const char *A = piece(j, 0);
  if (A == NULL) return dtx_task_fail(j->ctx, "copy: a missing input");
  int tri = (a->flags & DTXK_LA_UPPER) ? 1 : (a->flags & DTXK_LA_LOWER) ? 2 : 0;
  if (j->cx && (a->flags & DTXK_LA_TRANS_A)) tri |= CONJ; /* the conjugate transpose */
  return copy(j, out, n, 0, A, a->p[0].ld, (a->flags & DTXK_LA_TRANS_A) != 0, m, n, tri);
}

int trsm(job *j) {
  const dtxk_la *a = j->a;
  int64_t m = a->m, n = a->n;
  char *out = (char *)dtx_task_output(j->ctx, (size_t)(m * n) * j->esz);
  const char *B = piece(j, 0), *T = piece(j, 1);
  if (out == NULL || B == NULL || T == NULL)
    return dtx_task_fail(j->ctx, "trsm: out of device memory or a missing input");
  if (copy(j, out, n, 0, B, a->p[0].ld, 0, m, n, 0)) return -1;
  /* column-major view: sides and triangles swap, the transpose flag stays */
  cublasSideMode_t side = (a->flags & DTXK_LA_RIGHT) ? CUBLAS_SIDE_LEFT : CUBLAS_SIDE_RIGHT;
  cublasFillMode_t uplo = (a->flags & DTXK_LA_UPPER) ? CUBLAS_FILL_MODE_LOWER : CUBLAS_FILL_MODE_UPPER;
  cublasOperation_t tr = !(a->flags & DTXK_LA_TRANS_A) ? CUBLAS_OP_N : j->cx ? CUBLAS_OP_C : CUBLAS_OP_T;
  if (j->cx)
    return BLAS(
        dtxk_la_cx_trsm(j->b, j->f64, side, uplo, tr, (int)n, (int)m, T, (int)a->p[1].ld, out, (int)n),
        "trsm");
  if (j->f64) {
    double one = 1;
    return BLAS(L.dtrsm(j->b, side, uplo, tr, CUBLAS_DIAG_NON_UNIT, (int)n, (int)m, &one, (const double *)T,
                        (int)a->p[1].ld, (double *)out, (int)n),
                "trsm");
  }
  float one = 1;
  return BLAS(L.strsm(j->b, side, uplo, tr, CUBLAS_DIAG_NON_UNIT, (int)n, (int)m, &one, (const float *)T,
                      (int)a->p[1].ld, (float *)out, (int)n),
              "trsm");
}

int update(job *j) {
  const dtxk_la *a = j->a;
  int64_t m = a->m, n = a->n;
  int k = (int)a->p[1].cols;
  char *out = (char *)dtx_task_output(j->ctx, (size_t)(m * n) * j->esz);
  const char *C = piece(j, 0), *A = piece(j, 1), *B = piece(j, 2);
  if (out == NULL || C == NULL || A == NULL || B == NULL)
    return dtx_task_fail(j->ctx, "cholesky update: out of device memory or a missing input");
  if (copy(j, out, n, 0, C, a->p[0].ld, 0, m, n, 0)) return -1;
  double mone = -1, one = 1;
  float fmone = -1, fone = 1;
  if (j->cx && (a->flags & DTXK_LA_SYRK)) /* as syrk below: C - A A^H, column-major C^T - (A^T)^H A^T */
    return BLAS(dtxk_la_cx_herk(j->b, j->f64, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_C, (int)n, k, -1, A,
                                (int)a->p[1].ld, 1, out, (int)n),
                "herk");
  if (j->cx) /* C - A B^H: column-major C^T - (B^T)^H A^T */
    return BLAS(dtxk_la_cx_gemm(j->b, j->f64, CUBLAS_OP_C, CUBLAS_OP_N, (int)n, (int)m, k, -1, B,
                                (int)a->p[2].ld, A, (int)a->p[1].ld, 1, out, (int)n),
                "gemm");
  if (a->flags & DTXK_LA_SYRK) /* row-major lower of C - A A^T: column-major upper of C - (A^T)^T A^T */
    return j->f64 ? BLAS(L.dsyrk(j->b, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_T, (int)n, k, &mone,
                                 (const double *)A, (int)a->p[1].ld, &one, (double *)out, (int)n),
                         "syrk")
                  : BLAS(L.ssyrk(j->b, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_T, (int)n, k, &fmone,
                                 (const float *)A, (int)a->p[1].ld, &fone, (float *)out, (int)n),
                         "syrk");
  /* row-major C - A B^T: column-major C^T - B A^T */
  return j->f64
             ? BLAS(L.dgemm(j->b, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)m, k, &mone, (const double *)B,
                            (int)a->p[2].ld, (const double *)A, (int)a->p[1].ld, &one, (double *)out, (int)n),
                    "gemm")
             : BLAS(L.sgemm(j->b, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)m, k, &fmone, (const float *)B,
                            (int)a->p[2].ld, (const float *)A, (int)a->p[1].ld, &fone, (float *)out, (int)n),
                    "gemm");
}

int solve(job *j) {
  const dtxk_la *a = j->a;
  int n = (int)a->m, k = (int)a->n, lw = 0, bad = 0;
  char *out = (char *)dtx_task_output(j->ctx, (size_t)n * k * j->esz);
  const char *A = piece(j, 0), *B = piece(j, 1);
  char *LU = (char *)scratch(j, (size_t)n * n * j->esz), *X = (char *)scratch(j, (size_t)n * k * j->esz);
  int *piv = (int *)scratch(j, (size_t)n * sizeof(int)), *info = (int *)scratch(j, sizeof(int));
  if (out == NULL || A == NULL || B == NULL || LU == NULL || X == NULL || piv == NULL || info == NULL)
    return dtx_task_fail(j->ctx, "solve: out of device memory or a missing input");
  /* LU of a column-major copy of a, X column-major n x k */
  if (copy(j, LU, n, 1, A, a->p[0].ld, 0, n, n, 0) || copy(j, X, n, 1, B, a->p[1].ld, 0, n, k, 0)) return -1;
  int rc = j->cx    ? SOLVE(dtxk_la_cx_getrf_bs(j->h, j->f64, n, LU, n, &lw), "getrf_bufferSize")
           : j->f64 ? SOLVE(L.dgetrf_bs(j->h, n, n, (double *)LU, n, &lw), "getrf_bufferSize")
                    : SOLVE(L.sgetrf_bs(j->h, n, n, (float *)LU, n, &lw), "getrf_bufferSize");
  char *w = rc == 0 ? (char *)scratch(j, (size_t)lw * j->esz) : NULL;
  if (rc == 0 && w == NULL) return dtx_task_fail(j->ctx, "solve: out of device memory");
  if (rc == 0 && j->cx)
    rc = SOLVE(dtxk_la_cx_getrf(j->h, j->f64, n, LU, n, w, piv, info), "getrf");
  else if (rc == 0)
    rc = j->f64 ? SOLVE(L.dgetrf(j->h, n, n, (double *)LU, n, (double *)w, piv, info), "getrf")
                : SOLVE(L.sgetrf(j->h, n, n, (float *)LU, n, (float *)w, piv, info), "getrf");
  if (rc == 0) rc = read_info(j, info, &bad);
  if (rc == 0 && bad > 0)
    return dtx_task_fail(j->ctx, "solve: singular matrix (U[%d,%d] is exactly zero)", bad - 1, bad - 1);
  if (rc == 0 && j->cx)
    rc = SOLVE(dtxk_la_cx_getrs(j->h, j->f64, n, k, LU, n, piv, X, n, info), "getrs");
  else if (rc == 0)
    rc = j->f64 ? SOLVE(L.dgetrs(j->h, CUBLAS_OP_N, n, k, (const double *)LU, n, piv, (double *)X, n, info),
                        "getrs")
                : SOLVE(L.sgetrs(j->h, CUBLAS_OP_N, n, k, (const float *)LU, n, piv, (float *)X, n, info),
                        "getrs");
  if (rc == 0) rc = copy(j, out, k, 0, X, n, 1, n, k, 0);
  return rc;
}

}  // namespace

extern "C" int dtxk_la_cuda(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_la *a = (const dtxk_la *)dtx_task_args(ctx, &asz);
  if (a == NULL || asz != sizeof *a) return dtx_task_fail(ctx, "malformed linalg-task arguments");
  if (dtxk_la_esz(a->dtype) == 0)
    return dtx_task_fail(ctx, "linalg task: dtype %d is not float32, float64, complex64 or complex128",
                         (int)a->dtype);
  pthread_once(&L.once, libs_open);
  if (L.why[0] != '\0') return dtx_task_fail(ctx, "linalg on a GPU: %s", L.why);
  int dev = dtx_task_device(ctx);
  if (dev < 0 || dev >= 64) return dtx_task_fail(ctx, "linalg on a GPU: device %d", dev);
  job j;
  memset(&j, 0, sizeof j);
  j.ctx = ctx;
  j.a = a;
  j.s = (cudaStream_t)dtx_task_stream(ctx);
  j.cx = dtxk_la_is_cx(a->dtype);
  j.f64 = a->dtype == DTXK_F64 || a->dtype == DTXK_LA_C128;
  j.esz = dtxk_la_esz(a->dtype);
  pthread_mutex_lock(&L.mu);
  if (L.bh[dev] == NULL || L.sh[dev] == NULL) {
    int cur = 0;
    cudaGetDevice(&cur);
    cudaSetDevice(dev);
    if (L.bh[dev] == NULL && L.b_create(&L.bh[dev]) != CUBLAS_STATUS_SUCCESS) L.bh[dev] = NULL;
    if (L.sh[dev] == NULL && L.s_create(&L.sh[dev]) != CUSOLVER_STATUS_SUCCESS) L.sh[dev] = NULL;
    cudaSetDevice(cur);
  }
  j.b = L.bh[dev];
  j.h = L.sh[dev];
  int rc;
  if (j.b == NULL || j.h == NULL) {
    rc = dtx_task_fail(ctx, "linalg on GPU %d: creating the cuBLAS / cuSOLVER handle failed", dev);
  } else {
    L.b_stream(j.b, j.s);
    L.s_stream(j.h, j.s);
    switch (a->op) {
      case DTXK_LA_QR:
        rc = qr(&j);
        break;
      case DTXK_LA_GEMM:
        rc = gemm(&j);
        break;
      case DTXK_LA_COPY:
        rc = copy_op(&j);
        break;
      case DTXK_LA_SVD:
        rc = svd(&j);
        break;
      case DTXK_LA_POTRF:
        rc = potrf(&j);
        break;
      case DTXK_LA_TRSM:
        rc = trsm(&j);
        break;
      case DTXK_LA_UPDATE:
        rc = update(&j);
        break;
      case DTXK_LA_SOLVE:
        rc = solve(&j);
        break;
      default:
        rc = dtx_task_fail(ctx, "linalg task: unknown op %d", (int)a->op);
        break;
    }
  }
  for (int i = 0; i < j.nscratch; i++) cudaFreeAsync(j.scratch[i], j.s);
  pthread_mutex_unlock(&L.mu);
  return rc;
}
