/*
 * kernels/la_complex.cu - the complex64 / complex128 cuSOLVER and cuBLAS
 * calls of the GPU linalg tasks (kernels/la_gpu.h): the Z / C functions,
 * looked up once in the libraries kernels/la.cu opened, each pair behind
 * one wrapper. A complex element is the (re, im) pair of the chunk layout,
 * which is cuDoubleComplex / cuFloatComplex.
 *
 * The table is written once under la.cu's pthread_once and read after it;
 * the calls run under la.cu's mutex on the task's stream.
 */
#include <cuComplex.h>
#include <dlfcn.h>
#include <stdio.h>

#include "kernels/la_gpu.h"

namespace {

struct cxlibs {
  decltype(&cublasZgemm_v2) zgemm;
  decltype(&cublasCgemm_v2) cgemm;
  decltype(&cublasZtrsm_v2) ztrsm;
  decltype(&cublasCtrsm_v2) ctrsm;
  decltype(&cublasZherk_v2) zherk;
  decltype(&cublasCherk_v2) cherk;
  decltype(&cusolverDnZgeqrf_bufferSize) zgeqrf_bs;
  decltype(&cusolverDnCgeqrf_bufferSize) cgeqrf_bs;
  decltype(&cusolverDnZgeqrf) zgeqrf;
  decltype(&cusolverDnCgeqrf) cgeqrf;
  decltype(&cusolverDnZungqr_bufferSize) zungqr_bs;
  decltype(&cusolverDnCungqr_bufferSize) cungqr_bs;
  decltype(&cusolverDnZungqr) zungqr;
  decltype(&cusolverDnCungqr) cungqr;
  decltype(&cusolverDnZgesvd_bufferSize) zgesvd_bs;
  decltype(&cusolverDnCgesvd_bufferSize) cgesvd_bs;
  decltype(&cusolverDnZgesvd) zgesvd;
  decltype(&cusolverDnCgesvd) cgesvd;
  decltype(&cusolverDnZpotrf_bufferSize) zpotrf_bs;
  decltype(&cusolverDnCpotrf_bufferSize) cpotrf_bs;
  decltype(&cusolverDnZpotrf) zpotrf;
  decltype(&cusolverDnCpotrf) cpotrf;
  decltype(&cusolverDnZgetrf_bufferSize) zgetrf_bs;
  decltype(&cusolverDnCgetrf_bufferSize) cgetrf_bs;
  decltype(&cusolverDnZgetrf) zgetrf;
  decltype(&cusolverDnCgetrf) cgetrf;
  decltype(&cusolverDnZgetrs) zgetrs;
  decltype(&cusolverDnCgetrs) cgetrs;
};

cxlibs X;

typedef cuDoubleComplex Z;
typedef cuFloatComplex C;

#define Zp(p) ((Z *)(p))
#define Cp(p) ((C *)(p))

template <typename T>
__global__ void spread_k(T *dst, const T *s, int k) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < k; i += gridDim.x * blockDim.x) {
    dst[2 * i] = s[i];
    dst[2 * i + 1] = T(0);
  }
}

}  // namespace

#define XSYM(lib, field, name)                                                            \
  do {                                                                                    \
    X.field = (decltype(X.field))dlsym(lib, name);                                        \
    if (X.field == NULL && rc == 0) {                                                     \
      snprintf(why, n, "%s lacks %s", lib == cublas ? "libcublas" : "libcusolver", name); \
      rc = -1;                                                                            \
    }                                                                                     \
  } while (0)

int dtxk_la_cx_open(void *cublas, void *cusolver, char *why, size_t n) {
  int rc = 0;
  void *b = cublas, *s = cusolver;
  XSYM(b, zgemm, "cublasZgemm_v2");
  XSYM(b, cgemm, "cublasCgemm_v2");
  XSYM(b, ztrsm, "cublasZtrsm_v2");
  XSYM(b, ctrsm, "cublasCtrsm_v2");
  XSYM(b, zherk, "cublasZherk_v2");
  XSYM(b, cherk, "cublasCherk_v2");
  XSYM(s, zgeqrf_bs, "cusolverDnZgeqrf_bufferSize");
  XSYM(s, cgeqrf_bs, "cusolverDnCgeqrf_bufferSize");
  XSYM(s, zgeqrf, "cusolverDnZgeqrf");
  XSYM(s, cgeqrf, "cusolverDnCgeqrf");
  XSYM(s, zungqr_bs, "cusolverDnZungqr_bufferSize");
  XSYM(s, cungqr_bs, "cusolverDnCungqr_bufferSize");
  XSYM(s, zungqr, "cusolverDnZungqr");
  XSYM(s, cungqr, "cusolverDnCungqr");
  XSYM(s, zgesvd_bs, "cusolverDnZgesvd_bufferSize");
  XSYM(s, cgesvd_bs, "cusolverDnCgesvd_bufferSize");
  XSYM(s, zgesvd, "cusolverDnZgesvd");
  XSYM(s, cgesvd, "cusolverDnCgesvd");
  XSYM(s, zpotrf_bs, "cusolverDnZpotrf_bufferSize");
  XSYM(s, cpotrf_bs, "cusolverDnCpotrf_bufferSize");
  XSYM(s, zpotrf, "cusolverDnZpotrf");
  XSYM(s, cpotrf, "cusolverDnCpotrf");
  XSYM(s, zgetrf_bs, "cusolverDnZgetrf_bufferSize");
  XSYM(s, cgetrf_bs, "cusolverDnCgetrf_bufferSize");
  XSYM(s, zgetrf, "cusolverDnZgetrf");
  XSYM(s, cgetrf, "cusolverDnCgetrf");
  XSYM(s, zgetrs, "cusolverDnZgetrs");
  XSYM(s, cgetrs, "cusolverDnCgetrs");
  return rc;
}

int dtxk_la_cx_geqrf_bs(cusolverDnHandle_t h, int c128, int m, int n, void *A, int lda, int *lw) {
  return c128 ? X.zgeqrf_bs(h, m, n, Zp(A), lda, lw) : X.cgeqrf_bs(h, m, n, Cp(A), lda, lw);
}

int dtxk_la_cx_geqrf(cusolverDnHandle_t h, int c128, int m, int n, void *A, int lda, void *tau, void *w,
                     int lw, int *info) {
  return c128 ? X.zgeqrf(h, m, n, Zp(A), lda, Zp(tau), Zp(w), lw, info)
              : X.cgeqrf(h, m, n, Cp(A), lda, Cp(tau), Cp(w), lw, info);
}

int dtxk_la_cx_ungqr_bs(cusolverDnHandle_t h, int c128, int m, int n, int k, void *A, int lda, void *tau,
                        int *lw) {
  return c128 ? X.zungqr_bs(h, m, n, k, Zp(A), lda, Zp(tau), lw)
              : X.cungqr_bs(h, m, n, k, Cp(A), lda, Cp(tau), lw);
}

int dtxk_la_cx_ungqr(cusolverDnHandle_t h, int c128, int m, int n, int k, void *A, int lda, void *tau,
                     void *w, int lw, int *info) {
  return c128 ? X.zungqr(h, m, n, k, Zp(A), lda, Zp(tau), Zp(w), lw, info)
              : X.cungqr(h, m, n, k, Cp(A), lda, Cp(tau), Cp(w), lw, info);
}

int dtxk_la_cx_gesvd_bs(cusolverDnHandle_t h, int c128, int m, int n, int *lw) {
  return c128 ? X.zgesvd_bs(h, m, n, lw) : X.cgesvd_bs(h, m, n, lw);
}

int dtxk_la_cx_gesvd(cusolverDnHandle_t h, int c128, int m, int n, void *A, int lda, void *S, void *U,
                     int ldu, void *VT, int ldvt, void *w, int lw, void *rw, int *info) {
  return c128 ? X.zgesvd(h, 'S', 'S', m, n, Zp(A), lda, (double *)S, Zp(U), ldu, Zp(VT), ldvt, Zp(w), lw,
                         (double *)rw, info)
              : X.cgesvd(h, 'S', 'S', m, n, Cp(A), lda, (float *)S, Cp(U), ldu, Cp(VT), ldvt, Cp(w), lw,
                         (float *)rw, info);
}

int dtxk_la_cx_potrf_bs(cusolverDnHandle_t h, int c128, cublasFillMode_t uplo, int n, void *A, int lda,
                        int *lw) {
  return c128 ? X.zpotrf_bs(h, uplo, n, Zp(A), lda, lw) : X.cpotrf_bs(h, uplo, n, Cp(A), lda, lw);
}

int dtxk_la_cx_potrf(cusolverDnHandle_t h, int c128, cublasFillMode_t uplo, int n, void *A, int lda, void *w,
                     int lw, int *info) {
  return c128 ? X.zpotrf(h, uplo, n, Zp(A), lda, Zp(w), lw, info)
              : X.cpotrf(h, uplo, n, Cp(A), lda, Cp(w), lw, info);
}

int dtxk_la_cx_getrf_bs(cusolverDnHandle_t h, int c128, int n, void *A, int lda, int *lw) {
  return c128 ? X.zgetrf_bs(h, n, n, Zp(A), lda, lw) : X.cgetrf_bs(h, n, n, Cp(A), lda, lw);
}

int dtxk_la_cx_getrf(cusolverDnHandle_t h, int c128, int n, void *A, int lda, void *w, int *piv, int *info) {
  return c128 ? X.zgetrf(h, n, n, Zp(A), lda, Zp(w), piv, info)
              : X.cgetrf(h, n, n, Cp(A), lda, Cp(w), piv, info);
}

int dtxk_la_cx_getrs(cusolverDnHandle_t h, int c128, int n, int k, const void *A, int lda, const int *piv,
                     void *B, int ldb, int *info) {
  return c128 ? X.zgetrs(h, CUBLAS_OP_N, n, k, (const Z *)A, lda, piv, Zp(B), ldb, info)
              : X.cgetrs(h, CUBLAS_OP_N, n, k, (const C *)A, lda, piv, Cp(B), ldb, info);
}

int dtxk_la_cx_gemm(cublasHandle_t b, int c128, cublasOperation_t oa, cublasOperation_t ob, int m, int n,
                    int k, double alpha, const void *A, int lda, const void *B, int ldb, double beta,
                    void *C_, int ldc) {
  if (c128) {
    Z al = make_cuDoubleComplex(alpha, 0), be = make_cuDoubleComplex(beta, 0);
    return X.zgemm(b, oa, ob, m, n, k, &al, (const Z *)A, lda, (const Z *)B, ldb, &be, Zp(C_), ldc);
  }
  C al = make_cuFloatComplex((float)alpha, 0), be = make_cuFloatComplex((float)beta, 0);
  return X.cgemm(b, oa, ob, m, n, k, &al, (const C *)A, lda, (const C *)B, ldb, &be, Cp(C_), ldc);
}

int dtxk_la_cx_trsm(cublasHandle_t b, int c128, cublasSideMode_t side, cublasFillMode_t uplo,
                    cublasOperation_t op, int m, int n, const void *T, int ldt, void *B, int ldb) {
  if (c128) {
    Z one = make_cuDoubleComplex(1, 0);
    return X.ztrsm(b, side, uplo, op, CUBLAS_DIAG_NON_UNIT, m, n, &one, (const Z *)T, ldt, Zp(B), ldb);
  }
  C one = make_cuFloatComplex(1, 0);
  return X.ctrsm(b, side, uplo, op, CUBLAS_DIAG_NON_UNIT, m, n, &one, (const C *)T, ldt, Cp(B), ldb);
}

int dtxk_la_cx_herk(cublasHandle_t b, int c128, cublasFillMode_t uplo, cublasOperation_t op, int n, int k,
                    double alpha, const void *A, int lda, double beta, void *C_, int ldc) {
  if (c128) return X.zherk(b, uplo, op, n, k, &alpha, (const Z *)A, lda, &beta, Zp(C_), ldc);
  float al = (float)alpha, be = (float)beta;
  return X.cherk(b, uplo, op, n, k, &al, (const C *)A, lda, &be, Cp(C_), ldc);
}

cudaError_t dtxk_la_cx_spread(void *dst, const void *s, int k, int c128, cudaStream_t st) {
  if (k <= 0) return cudaSuccess;
  int g = (k + 255) / 256 < 1024 ? (k + 255) / 256 : 1024;
  if (c128)
    spread_k<double><<<g, 256, 0, st>>>((double *)dst, (const double *)s, k);
  else
    spread_k<float><<<g, 256, 0, st>>>((float *)dst, (const float *)s, k);
  return cudaGetLastError();
}
