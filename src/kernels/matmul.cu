/*
 * kernels/matmul.cu - the CUDA implementation of matmul tasks (the CPU one is
 * kernels/matmul.c): float32 / float64 through cuBLAS, opened with dlopen at
 * the first product on a GPU (like NCCL), so the library neither links it nor
 * needs it for anything else; integers, bool and float16 (and every product
 * when cuBLAS is missing) by plain kernels over the element functions of
 * kernels/elem.h. Runs on the dispatching thread and only enqueues work on the
 * task's stream; a cuBLAS handle per device is used under its lock.
 */
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/elem.h"
#include "kernels/kernels.h"
#include "kernels/program.h"

static int blocks_for(int64_t n) {
  int64_t b = (n + 255) / 256;
  return (int)(b < 1 ? 1 : b > 4096 ? 4096 : b);
}

static int cuda_fail(dtx_task_ctx *ctx, const char *what, cudaError_t e) {
  return dtx_task_fail(ctx, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

typedef int (*cublas_create_t)(void **);
typedef int (*cublas_set_stream_t)(void *, cudaStream_t);
typedef int (*cublas_dgemm_t)(void *, int, int, int, int, int, const double *, const double *, int,
                              const double *, int, const double *, double *, int);
typedef int (*cublas_sgemm_t)(void *, int, int, int, int, int, const float *, const float *, int,
                              const float *, int, const float *, float *, int);

static struct {
  pthread_once_t once;
  void *lib;
  cublas_create_t create;
  cublas_set_stream_t set_stream;
  cublas_dgemm_t dgemm;
  cublas_sgemm_t sgemm;
  char why[256];
  pthread_mutex_t mu;
  void *handle[64];
} cublas = {PTHREAD_ONCE_INIT, NULL, NULL, NULL, NULL, NULL, "", PTHREAD_MUTEX_INITIALIZER, {NULL}};

static void cublas_open(void) {
  char name[64];
  snprintf(name, sizeof name, "libcublas.so.%d", CUDART_VERSION / 1000);
  const char *names[] = {name, "libcublas.so"};
  for (int i = 0; i < 2 && cublas.lib == NULL; i++) cublas.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
  if (cublas.lib == NULL) {
    snprintf(cublas.why, sizeof cublas.why,
             "cuBLAS could not be opened (%s): install the CUDA toolkit's libcublas", name);
    return;
  }
  cublas.create = (cublas_create_t)dlsym(cublas.lib, "cublasCreate_v2");
  cublas.set_stream = (cublas_set_stream_t)dlsym(cublas.lib, "cublasSetStream_v2");
  cublas.dgemm = (cublas_dgemm_t)dlsym(cublas.lib, "cublasDgemm_v2");
  cublas.sgemm = (cublas_sgemm_t)dlsym(cublas.lib, "cublasSgemm_v2");
  if (cublas.create == NULL || cublas.set_stream == NULL || cublas.dgemm == NULL || cublas.sgemm == NULL)
    snprintf(cublas.why, sizeof cublas.why, "%s lacks cublasCreate_v2 / cublasSetStream_v2 / cublasDgemm_v2",
             name);
}

enum { CUBLAS_OP_N_ = 0, CUBLAS_OP_T_ = 1 };

#define INT_MM(T, NAME, ACC)                                                                              \
  __global__ static void NAME(T *C, const T *A, const T *B, int64_t m, int64_t n, int64_t k, int64_t ars, \
                              int64_t acs, int64_t brs, int64_t bcs) {                                    \
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < m * n;                           \
         e += (int64_t)gridDim.x * blockDim.x) {                                                          \
      int64_t i = e / n, j = e % n;                                                                       \
      T s = C[e];                                                                                         \
      for (int64_t p = 0; p < k; p++) {                                                                   \
        T a = A[i * ars + p * acs], b = B[p * brs + j * bcs];                                             \
        s = ACC;                                                                                          \
      }                                                                                                   \
      C[e] = s;                                                                                           \
    }                                                                                                     \
  }
INT_MM(int64_t, mm_i64, (int64_t)((uint64_t)s + (uint64_t)a * (uint64_t)b))
INT_MM(int32_t, mm_i32, (int32_t)((uint32_t)s + (uint32_t)a * (uint32_t)b))
INT_MM(dtxk_b, mm_b, (dtxk_b)(s | (a & b)))
INT_MM(double, mm_f64, s + a * b)
INT_MM(float, mm_f32, s + a * b)
#define ELEM_MM(S, T) INT_MM(T, mm_##S, dtxk_add_##S(s, dtxk_mul_##S(a, b)))
ELEM_MM(i8, int8_t)
ELEM_MM(i16, int16_t)
ELEM_MM(u8, uint8_t)
ELEM_MM(u16, uint16_t)
ELEM_MM(u32, uint32_t)
ELEM_MM(u64, uint64_t)
/* float16: as kernels/matmul.c, summed in float32, added to C and rounded once */
__global__ static void mm_f16(dtxk_f16 *C, const dtxk_f16 *A, const dtxk_f16 *B, int64_t m, int64_t n,
                              int64_t k, int64_t ars, int64_t acs, int64_t brs, int64_t bcs) {
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < m * n;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t i = e / n, j = e % n;
    float s = 0;
    for (int64_t p = 0; p < k; p++)
      s += dtxk_f16_to_f32(A[i * ars + p * acs]) * dtxk_f16_to_f32(B[p * brs + j * bcs]);
    C[e] = dtxk_f32_to_f16(dtxk_f16_to_f32(C[e]) + s);
  }
}

extern "C" int dtxk_matmul_cuda(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_matmul *mm = (const dtxk_matmul *)dtx_task_args(ctx, &asz);
  if (mm == NULL || asz != sizeof *mm + (size_t)mm->nk * sizeof(dtxk_mstep))
    return dtx_task_fail(ctx, "malformed matmul-task arguments");
  cudaStream_t s = (cudaStream_t)dtx_task_stream(ctx);
  int dev = dtx_task_device(ctx), esz = dtxk_size(mm->dtype);
  int64_t m = mm->m, n = mm->n;
  char *C = (char *)dtx_task_output(ctx, (size_t)(m * n * esz));
  if (C == NULL)
    return dtx_task_fail(ctx, "out of device memory for a %lldx%lld chunk", (long long)m, (long long)n);
  cudaError_t e = cudaMemsetAsync(C, 0, (size_t)(m * n * esz), s);
  if (e != cudaSuccess) return cuda_fail(ctx, "clearing the output", e);
  int blas = mm->dtype == DTXK_F64 || mm->dtype == DTXK_F32;
  void *h = NULL;
  if (blas) {
    pthread_once(&cublas.once, cublas_open);
    if (cublas.why[0] == '\0' && dev >= 0 && dev < 64) {
      pthread_mutex_lock(&cublas.mu);
      if (cublas.handle[dev] == NULL) {
        int cur = 0;
        cudaGetDevice(&cur);
        cudaSetDevice(dev);
        if (cublas.create(&cublas.handle[dev]) != 0) cublas.handle[dev] = NULL;
        cudaSetDevice(cur);
      }
      h = cublas.handle[dev];
      if (h == NULL) pthread_mutex_unlock(&cublas.mu);
    }
    if (h == NULL) blas = 0; /* the plain kernel below */
  }
  const dtxk_mstep *st = dtxk_matmul_steps(mm);
  int rc = 0;
  for (int q = 0; q < mm->nk && rc == 0; q++) {
    int64_t k = st[q].k;
    const char *A = (const char *)dtx_task_input(ctx, st[q].a.input, NULL);
    const char *B = (const char *)dtx_task_input(ctx, st[q].b.input, NULL);
    if (A == NULL || B == NULL || st[q].a.input < 0 || st[q].b.input < 0) {
      rc = dtx_task_fail(ctx, "an operand chunk is missing (host operands are not read on GPUs)");
      break;
    }
    int64_t ars = st[q].a.rs, acs = st[q].a.cs, brs = st[q].b.rs, bcs = st[q].b.cs;
    if (blas && acs == 1 && bcs == 1 && ars >= k && brs >= n) {
      /* row-major C = A B is column-major C^T = B^T A^T */
      cublas.set_stream(h, s);
      int st2;
      if (mm->dtype == DTXK_F64) {
        double one = 1.0;
        st2 = cublas.dgemm(h, CUBLAS_OP_N_, CUBLAS_OP_N_, (int)n, (int)m, (int)k, &one, (const double *)B,
                           (int)brs, (const double *)A, (int)ars, &one, (double *)C, (int)n);
      } else {
        float one = 1.0f;
        st2 = cublas.sgemm(h, CUBLAS_OP_N_, CUBLAS_OP_N_, (int)n, (int)m, (int)k, &one, (const float *)B,
                           (int)brs, (const float *)A, (int)ars, &one, (float *)C, (int)n);
      }
      if (st2 != 0) rc = dtx_task_fail(ctx, "cuBLAS gemm failed with status %d", st2);
      continue;
    }
    int g = blocks_for(m * n);
    switch (mm->dtype) {
      case DTXK_F64:
        mm_f64<<<g, 256, 0, s>>>((double *)C, (const double *)A, (const double *)B, m, n, k, ars, acs, brs,
                                 bcs);
        break;
      case DTXK_F32:
        mm_f32<<<g, 256, 0, s>>>((float *)C, (const float *)A, (const float *)B, m, n, k, ars, acs, brs, bcs);
        break;
      case DTXK_I64:
        mm_i64<<<g, 256, 0, s>>>((int64_t *)C, (const int64_t *)A, (const int64_t *)B, m, n, k, ars, acs, brs,
                                 bcs);
        break;
      case DTXK_I32:
        mm_i32<<<g, 256, 0, s>>>((int32_t *)C, (const int32_t *)A, (const int32_t *)B, m, n, k, ars, acs, brs,
                                 bcs);
        break;
#define ELEM_CASE(ID, S, T)                                                                    \
  case ID:                                                                                     \
    mm_##S<<<g, 256, 0, s>>>((T *)C, (const T *)A, (const T *)B, m, n, k, ars, acs, brs, bcs); \
    break;
        ELEM_CASE(DTXK_I8, i8, int8_t)
        ELEM_CASE(DTXK_I16, i16, int16_t)
        ELEM_CASE(DTXK_U8, u8, uint8_t)
        ELEM_CASE(DTXK_U16, u16, uint16_t)
        ELEM_CASE(DTXK_U32, u32, uint32_t)
        ELEM_CASE(DTXK_U64, u64, uint64_t)
        ELEM_CASE(DTXK_F16, f16, dtxk_f16)
#undef ELEM_CASE
      default:
        mm_b<<<g, 256, 0, s>>>((dtxk_b *)C, (const dtxk_b *)A, (const dtxk_b *)B, m, n, k, ars, acs, brs,
                               bcs);
        break;
    }
    e = cudaGetLastError();
    if (e != cudaSuccess) rc = cuda_fail(ctx, "launching the product kernel", e);
  }
  if (h != NULL) pthread_mutex_unlock(&cublas.mu);
  return rc;
}
