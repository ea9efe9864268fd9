/*
 * kernels/sort.cu - the CUDA implementation of sort tasks (kernels/sort.h)
 * with CUB's segmented sort (CCCL, from the CUDA toolkit): the chunk's lanes
 * are copied into lane-contiguous order (a transpose when the axis is not
 * the last), NaNs given a clear sign bit so they sort after +inf as NumPy
 * puts them, sorted as segments of n, and copied back into the chunk's
 * layout. Work buffers come from the stream-ordered allocator, outside
 * dtx's device accounting. Enqueued on the task's stream; no state.
 */
#include <cuda_runtime.h>

#include <cub/device/device_segmented_sort.cuh>

#include "kernels/elem.h"
#include "kernels/sort.h"

template <typename T>
__device__ static T canon(T v) {
  return v;
}
template <>
__device__ float canon<float>(float v) {
  return v != v ? fabsf(v) : v;
}
template <>
__device__ double canon<double>(double v) {
  return v != v ? fabs(v) : v;
}

/* dst[lane * n + k] = canon(src[(o * n + k) * inner + i]), lane = o * inner + i (or back) */
template <typename T>
__global__ static void to_lanes(const T *src, T *dst, int64_t outer, int64_t n, int64_t inner, int back) {
  int64_t total = outer * n * inner;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t i = e % inner, k = (e / inner) % n, o = e / (inner * n);
    int64_t lane = (o * inner + i) * n + k;
    if (back)
      dst[e] = src[lane];
    else
      dst[lane] = canon(src[e]);
  }
}

__global__ static void offsets(int64_t *off, int64_t lanes, int64_t n) {
  for (int64_t l = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; l <= lanes;
       l += (int64_t)gridDim.x * blockDim.x)
    off[l] = l * n;
}

static int grid(int64_t n) {
  int64_t b = (n + 255) / 256;
  return (int)(b < 1 ? 1 : b > 65535 ? 65535 : b);
}

/* Sorts the chunk in into out; a CUDA error. */
template <typename T>
static cudaError_t run(const dtxk_sort *p, const T *in, T *out, cudaStream_t s) {
  int64_t lanes = p->outer * p->inner, total = lanes * p->n;
  T *a = NULL, *b = NULL;
  int64_t *off = NULL;
  void *tmp = NULL;
  size_t tmp_bytes = 0;
  cudaError_t e = cudaMallocAsync((void **)&a, (size_t)total * sizeof(T), s);
  if (e == cudaSuccess) e = cudaMallocAsync((void **)&b, (size_t)total * sizeof(T), s);
  if (e == cudaSuccess) e = cudaMallocAsync((void **)&off, (size_t)(lanes + 1) * sizeof(int64_t), s);
  if (e == cudaSuccess) {
    to_lanes<T><<<grid(total), 256, 0, s>>>(in, a, p->outer, p->n, p->inner, 0);
    offsets<<<grid(lanes + 1), 256, 0, s>>>(off, lanes, p->n);
    e = cub::DeviceSegmentedSort::SortKeys(NULL, tmp_bytes, a, b, total, lanes, off, off + 1, s);
  }
  if (e == cudaSuccess) e = cudaMallocAsync(&tmp, tmp_bytes > 0 ? tmp_bytes : 1, s);
  if (e == cudaSuccess)
    e = cub::DeviceSegmentedSort::SortKeys(tmp, tmp_bytes, a, b, total, lanes, off, off + 1, s);
  if (e == cudaSuccess) to_lanes<T><<<grid(total), 256, 0, s>>>(b, out, p->outer, p->n, p->inner, 1);
  if (e == cudaSuccess) e = cudaGetLastError();
  if (tmp != NULL) cudaFreeAsync(tmp, s);
  if (off != NULL) cudaFreeAsync(off, s);
  if (b != NULL) cudaFreeAsync(b, s);
  if (a != NULL) cudaFreeAsync(a, s);
  return e;
}

extern "C" int dtxk_sort_cuda(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_sort *p = (const dtxk_sort *)dtx_task_args(ctx, &asz);
  if (p == NULL || asz != sizeof *p || !dtxk_sort_dtype(p->dtype) || p->outer < 0 || p->n < 0 ||
      p->inner < 0 || p->ext != 0 || p->out_ext != 0 || p->cplx) /* CPU tasks' forms */
    return dtx_task_fail(ctx, "malformed sort-task arguments");
  size_t bytes = (size_t)(p->outer * p->n * p->inner * dtxk_size(p->dtype));
  void *out = dtx_task_output(ctx, bytes);
  if (bytes == 0) return 0;
  const void *in = dtx_task_input(ctx, 0, NULL);
  if (in == NULL || out == NULL) return dtx_task_fail(ctx, "the sort's input or output chunk is missing");
  cudaStream_t s = (cudaStream_t)dtx_task_stream(ctx);
  cudaError_t e;
  switch (p->dtype) {
    case DTXK_BOOL:
      e = run<uint8_t>(p, (const uint8_t *)in, (uint8_t *)out, s);
      break;
    case DTXK_I32:
      e = run<int32_t>(p, (const int32_t *)in, (int32_t *)out, s);
      break;
    case DTXK_I64:
      e = run<int64_t>(p, (const int64_t *)in, (int64_t *)out, s);
      break;
    case DTXK_U64:
      e = run<uint64_t>(p, (const uint64_t *)in, (uint64_t *)out, s);
      break;
    case DTXK_F32:
      e = run<float>(p, (const float *)in, (float *)out, s);
      break;
    default:
      e = run<double>(p, (const double *)in, (double *)out, s);
      break;
  }
  if (e != cudaSuccess)
    return dtx_task_fail(ctx, "sorting on the GPU: %s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
  return 0;
}
