/*
 * bench/array_gpu.cu - the GPU parts of dtx-bench-array (CUDA builds): the
 * device copy bandwidth the GPU floors are measured with, and the 5-point
 * Laplacian as a CUDA user kernel for the stencil case.
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "dtx/dtx.h"

extern "C" double bench_device_copy_gbps(int dev, size_t bytes);
extern "C" double bench_gpu_gemm_s(int dev, int64_t n, int f32);
extern "C" int bench_laplace_cuda(dtx_task_ctx *ctx, const dtx_block *in, int nin, dtx_block *out,
                                  const void *user);

/* GB/s of bytes read + written by a device-to-device copy of `bytes` on GPU
 * dev, best of 5 after a warm-up; 0 when the GPU cannot be used. */
double bench_device_copy_gbps(int dev, size_t bytes) {
  void *a = nullptr, *b = nullptr;
  cudaEvent_t e0 = nullptr, e1 = nullptr;
  double best = 0;
  if (cudaSetDevice(dev) != cudaSuccess || cudaMalloc(&a, bytes) != cudaSuccess ||
      cudaMalloc(&b, bytes) != cudaSuccess || cudaEventCreate(&e0) != cudaSuccess ||
      cudaEventCreate(&e1) != cudaSuccess)
    goto out;
  cudaMemset(a, 1, bytes);
  cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
  for (int r = 0; r < 5; r++) {
    cudaEventRecord(e0);
    cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(e1);
    if (cudaEventSynchronize(e1) != cudaSuccess) goto out;
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    double gbps = ms > 0 ? 2.0 * (double)bytes / (ms * 1e-3) / 1e9 : 0;
    if (gbps > best) best = gbps;
  }
out:
  if (e0 != nullptr) cudaEventDestroy(e0);
  if (e1 != nullptr) cudaEventDestroy(e1);
  cudaFree(a);
  cudaFree(b);
  cudaGetLastError();
  return best;
}

/* Seconds cuBLAS takes for one n x n product on GPU dev, best of 3 after a
 * warm-up; 0 when it cannot run. */
double bench_gpu_gemm_s(int dev, int64_t n, int f32) {
  size_t esz = f32 ? 4 : 8, bytes = (size_t)(n * n) * esz;
  void *a = nullptr, *c = nullptr;
  cublasHandle_t h = nullptr;
  cudaEvent_t e0 = nullptr, e1 = nullptr;
  double best = 0;
  const float f1 = 1, f0 = 0;
  const double d1 = 1, d0 = 0;
  if (cudaSetDevice(dev) != cudaSuccess || cudaMalloc(&a, bytes) != cudaSuccess ||
      cudaMalloc(&c, bytes) != cudaSuccess || cublasCreate(&h) != CUBLAS_STATUS_SUCCESS ||
      cudaEventCreate(&e0) != cudaSuccess || cudaEventCreate(&e1) != cudaSuccess)
    goto out;
  cudaMemset(a, 0, bytes);
  for (int r = -1; r < 3; r++) {
    cudaEventRecord(e0);
    cublasStatus_t st =
        f32 ? cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)n, (int)n, (int)n, &f1, (const float *)a, (int)n,
                          (const float *)a, (int)n, &f0, (float *)c, (int)n)
            : cublasDgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)n, (int)n, (int)n, &d1, (const double *)a, (int)n,
                          (const double *)a, (int)n, &d0, (double *)c, (int)n);
    cudaEventRecord(e1);
    if (st != CUBLAS_STATUS_SUCCESS || cudaEventSynchronize(e1) != cudaSuccess) {
      best = 0;
      goto out;
    }
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    if (r >= 0 && (best == 0 || ms * 1e-3 < best)) best = ms * 1e-3;
  }
out:
  if (e0 != nullptr) cudaEventDestroy(e0);
  if (e1 != nullptr) cudaEventDestroy(e1);
  if (h != nullptr) cublasDestroy(h);
  cudaFree(a);
  cudaFree(c);
  cudaGetLastError();
  return best;
}

template <typename T>
__global__ void laplace_kernel(const T *__restrict__ x, int64_t w, T *__restrict__ o, int64_t ow, int64_t m,
                               int64_t n) {
  int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y;
  for (; i < m; i += gridDim.y) {
    if (j >= n) return;
    const T *c = x + (i + 1) * w + 1 + j;
    o[i * ow + j] = c[-w] + c[w] + c[-1] + c[1] - T(4) * c[0];
  }
}

int bench_laplace_cuda(dtx_task_ctx *ctx, const dtx_block *in, int nin, dtx_block *out, const void *user) {
  (void)nin;
  (void)user;
  if (in[0].halo[0] != 1 || in[0].halo[1] != 1 || in[0].stride[1] != 1 || out->stride[1] != 1)
    return dtx_task_fail(ctx, "the Laplacian needs a halo of 1 and unit column strides");
  cudaStream_t s = (cudaStream_t)dtx_task_stream(ctx);
  int64_t m = out->shape[0], n = out->shape[1];
  dim3 block(256), grid((unsigned)((n + 255) / 256), (unsigned)(m < 65535 ? m : 65535));
  if (out->dtype == DTX_F32)
    laplace_kernel<float><<<grid, block, 0, s>>>((const float *)in[0].data, in[0].stride[0],
                                                 (float *)out->data, out->stride[0], m, n);
  else
    laplace_kernel<double><<<grid, block, 0, s>>>((const double *)in[0].data, in[0].stride[0],
                                                  (double *)out->data, out->stride[0], m, n);
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? 0 : dtx_task_fail(ctx, "laplace kernel: %s", cudaGetErrorString(e));
}
