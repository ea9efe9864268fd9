/*
 * kernels/scan.cu - the CUDA implementation of scan tasks (kernels/scan.h):
 * one thread per lane running the lane loops of scan.h, which add in the
 * order of the CPU rows (kernels/scan.c), so both give the same bits.
 * Consecutive threads take consecutive inner positions, so a scan along a
 * leading axis reads coalesced rows; along the last axis (inner 1) each
 * thread walks its own row; complex products (cplx) take one thread per
 * pair. Enqueued on the task's stream; no state.
 */
#include <cuda_runtime.h>

#include "kernels/scan.h"

#define GRID(n) ((int)(((n) + 255) / 256 < 1 ? 1 : ((n) + 255) / 256 > 65535 ? 65535 : ((n) + 255) / 256))

#define SCAN_KERNELS(S, T)                                                                  \
  __global__ static void total_##S(dtxk_scan p, const T *x, T *t) {                         \
    for (int64_t l = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; l < p.outer * p.inner; \
         l += (int64_t)gridDim.x * blockDim.x) {                                            \
      int64_t o = l / p.inner, i = l % p.inner;                                             \
      t[l] = dtxk_scan_total_##S(&p, x + o * p.n * p.inner + i);                            \
    }                                                                                       \
  }                                                                                         \
  __global__ static void carry_##S(dtxk_scan p, const T *a, const T *b, T *y) {             \
    for (int64_t l = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; l < p.outer * p.inner; \
         l += (int64_t)gridDim.x * blockDim.x)                                              \
      y[l] = a != NULL ? dtxk_scan_ap_##S(p.op, 0, a[l], b[l]) : b[l];                      \
  }                                                                                         \
  __global__ static void scan_##S(dtxk_scan p, const T *x, const T *c, T *y) {              \
    for (int64_t l = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; l < p.outer * p.inner; \
         l += (int64_t)gridDim.x * blockDim.x) {                                            \
      int64_t o = l / p.inner, i = l % p.inner, base = o * p.n * p.inner + i;               \
      dtxk_scan_lane_##S(&p, x + base, y + base, c != NULL ? c + l : NULL);                 \
    }                                                                                       \
  }
/* complex products: one thread per pair (kernels/scan.h) */
#define CSCAN_KERNEL(S, T)                                                                        \
  __global__ static void cscan_##S(dtxk_scan p, const T *in0, const T *in1, T *y) {               \
    for (int64_t l = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; l < p.outer * (p.inner / 2); \
         l += (int64_t)gridDim.x * blockDim.x)                                                    \
      dtxk_scan_cstep_##S(&p, l, in0, in1, y);                                                    \
  }
CSCAN_KERNEL(f32, float)
CSCAN_KERNEL(f64, double)
SCAN_KERNELS(i64, int64_t)
SCAN_KERNELS(u64, uint64_t)
SCAN_KERNELS(f32, float)
SCAN_KERNELS(f64, double)

/* Launches the mode's kernel for dtype T: in0, in1 as the mode reads them. */
#define RUN(S, T)                                                                             \
  static void run_##S(const dtxk_scan *p, const void *in0, const void *in1, void *y, int g,   \
                      cudaStream_t s) {                                                       \
    const T *a = (const T *)in0, *b = (const T *)in1;                                         \
    if (p->mode == DTXK_SCAN_TOTAL)                                                           \
      total_##S<<<g, 256, 0, s>>>(*p, a, (T *)y);                                             \
    else if (p->mode == DTXK_SCAN_CARRY)                                                      \
      carry_##S<<<g, 256, 0, s>>>(*p, p->has_carry ? a : NULL, p->has_carry ? b : a, (T *)y); \
    else                                                                                      \
      scan_##S<<<g, 256, 0, s>>>(*p, a, p->has_carry ? b : NULL, (T *)y);                     \
  }
RUN(i64, int64_t)
RUN(u64, uint64_t)
RUN(f32, float)
RUN(f64, double)

extern "C" int dtxk_scan_cuda(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_scan *p = (const dtxk_scan *)dtx_task_args(ctx, &asz);
  if (p == NULL || asz != sizeof *p) return dtx_task_fail(ctx, "malformed scan-task arguments");
  const char *why = dtxk_scan_check(p, dtx_task_num_inputs(ctx));
  if (why != NULL) return dtx_task_fail(ctx, "bad scan task: %s", why);
  int64_t esz = dtxk_size(p->dtype), lanes = p->outer * p->inner;
  size_t out = (size_t)((p->mode == DTXK_SCAN_SCAN ? lanes * p->n : lanes) * esz);
  void *y = dtx_task_output(ctx, out);
  if (out == 0) return 0;
  if (y == NULL) return dtx_task_fail(ctx, "out of device memory for a scan output of %zu bytes", out);
  const void *in0 = dtx_task_input(ctx, 0, NULL);
  const void *in1 = dtx_task_num_inputs(ctx) > 1 ? dtx_task_input(ctx, 1, NULL) : NULL;
  cudaStream_t s = (cudaStream_t)dtx_task_stream(ctx);
  int g = GRID(lanes);
  if (p->cplx && p->dtype == DTXK_F32)
    cscan_f32<<<g, 256, 0, s>>>(*p, (const float *)in0, (const float *)in1, (float *)y);
  else if (p->cplx)
    cscan_f64<<<g, 256, 0, s>>>(*p, (const double *)in0, (const double *)in1, (double *)y);
  else if (p->dtype == DTXK_I64)
    run_i64(p, in0, in1, y, g, s);
  else if (p->dtype == DTXK_U64)
    run_u64(p, in0, in1, y, g, s);
  else if (p->dtype == DTXK_F32)
    run_f32(p, in0, in1, y, g, s);
  else
    run_f64(p, in0, in1, y, g, s);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    return dtx_task_fail(ctx, "launching the scan kernel: %s (%s)", cudaGetErrorString(e),
                         cudaGetErrorName(e));
  return 0;
}
