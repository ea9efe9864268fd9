/*
 * kernels/la_gpu.h - the complex64 / complex128 cuSOLVER and cuBLAS calls of
 * the GPU linalg tasks: kernels/la_complex.cu looks the Z / C functions up
 * in the libraries kernels/la.cu opened (dlopen, so the library links
 * neither) and wraps each pair in one call taking c128 (1: complex128,
 * cuDoubleComplex; 0: complex64, cuFloatComplex) and untyped pointers, so
 * la.cu's ops stay one code path for the four dtypes. CUDA builds only;
 * the calls run where la.cu runs them (under its mutex, on the task's
 * stream, device pointers). Each returns the library's status (0 success).
 */
#ifndef DTXK_LA_GPU_H
#define DTXK_LA_GPU_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>
#include <stddef.h>

/* Looks up the complex functions (once, under la.cu's once): 0, or -1 with
 * what is missing written to why. */
int dtxk_la_cx_open(void *cublas, void *cusolver, char *why, size_t n);

int dtxk_la_cx_geqrf_bs(cusolverDnHandle_t h, int c128, int m, int n, void *A, int lda, int *lw);
int dtxk_la_cx_geqrf(cusolverDnHandle_t h, int c128, int m, int n, void *A, int lda, void *tau, void *w,
                     int lw, int *info);
int dtxk_la_cx_ungqr_bs(cusolverDnHandle_t h, int c128, int m, int n, int k, void *A, int lda, void *tau,
                        int *lw);
int dtxk_la_cx_ungqr(cusolverDnHandle_t h, int c128, int m, int n, int k, void *A, int lda, void *tau,
                     void *w, int lw, int *info);
int dtxk_la_cx_gesvd_bs(cusolverDnHandle_t h, int c128, int m, int n, int *lw);
/* S: min(m, n) reals of the part type; rw: min(m, n) - 1 of them */
int dtxk_la_cx_gesvd(cusolverDnHandle_t h, int c128, int m, int n, void *A, int lda, void *S, void *U,
                     int ldu, void *VT, int ldvt, void *w, int lw, void *rw, int *info);
int dtxk_la_cx_potrf_bs(cusolverDnHandle_t h, int c128, cublasFillMode_t uplo, int n, void *A, int lda,
                        int *lw);
int dtxk_la_cx_potrf(cusolverDnHandle_t h, int c128, cublasFillMode_t uplo, int n, void *A, int lda, void *w,
                     int lw, int *info);
int dtxk_la_cx_getrf_bs(cusolverDnHandle_t h, int c128, int n, void *A, int lda, int *lw);
int dtxk_la_cx_getrf(cusolverDnHandle_t h, int c128, int n, void *A, int lda, void *w, int *piv, int *info);
int dtxk_la_cx_getrs(cusolverDnHandle_t h, int c128, int n, int k, const void *A, int lda, const int *piv,
                     void *B, int ldb, int *info);
/* alpha, beta real (as every use here) */
int dtxk_la_cx_gemm(cublasHandle_t b, int c128, cublasOperation_t oa, cublasOperation_t ob, int m, int n,
                    int k, double alpha, const void *A, int lda, const void *B, int ldb, double beta, void *C,
                    int ldc);
int dtxk_la_cx_trsm(cublasHandle_t b, int c128, cublasSideMode_t side, cublasFillMode_t uplo,
                    cublasOperation_t op, int m, int n, const void *T, int ldt, void *B, int ldb);
int dtxk_la_cx_herk(cublasHandle_t b, int c128, cublasFillMode_t uplo, cublasOperation_t op, int n, int k,
                    double alpha, const void *A, int lda, double beta, void *C, int ldc);
/* dst[i] = (s[i], 0) for i < k: the SVD's real S (its own buffer, not
 * overlapping dst) as the packed output's complex values. The launch's
 * error. */
cudaError_t dtxk_la_cx_spread(void *dst, const void *s, int k, int c128, cudaStream_t st);

#endif /* DTXK_LA_GPU_H */
