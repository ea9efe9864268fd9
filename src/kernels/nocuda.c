/*
 * kernels/nocuda.c - the CUDA task implementations of a build without CUDA.
 *
 * Such a build opens only simulated GPUs, where a task's CPU implementation
 * runs in place of its CUDA one, so these never run; they exist so that the
 * array tasks carry a CUDA slot and the cluster scheduler places them on
 * (simulated) GPUs just as in a CUDA build.
 */
#if !defined(DTX_HAVE_CUDA)
#include "kernels/fft.h"
#include "kernels/kernels.h"
#include "kernels/la.h"
#include "kernels/scan.h"
#include "kernels/sort.h"

static int no_cuda(dtx_task_ctx *ctx) {
  return dtx_task_fail(
      ctx, "this build of dtx has no CUDA kernels (configured with DTX_CUDA=OFF or without the toolkit)");
}
int dtxk_fused_cuda(dtx_task_ctx *ctx) { return no_cuda(ctx); }
int dtxk_combine_cuda(dtx_task_ctx *ctx) { return no_cuda(ctx); }
int dtxk_matmul_cuda(dtx_task_ctx *ctx) { return no_cuda(ctx); }
int dtxk_load_cuda(dtx_task_ctx *ctx) { return no_cuda(ctx); }
int dtxk_la_cuda(dtx_task_ctx *ctx) { return no_cuda(ctx); }
int dtxk_fft_cuda(dtx_task_ctx *ctx) { return no_cuda(ctx); }
int dtxk_scan_cuda(dtx_task_ctx *ctx) { return no_cuda(ctx); }
int dtxk_sort_cuda(dtx_task_ctx *ctx) { return no_cuda(ctx); }
#else
typedef int dtxk_nocuda_unused; /* ISO C wants something in a translation unit */
#endif
