/*
 * kernels/kernels.h - the task implementations of the array layer: CPU ones
 * (the .c files here) and CUDA ones (the .cu files, in CUDA builds). Each reads its
 * argument blob (kernels/program.h) and inputs through the task interface.
 */
#ifndef DTXK_KERNELS_H
#define DTXK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "dtx/graph.h"

/* Hot loops are built for the baseline ISA and, on x86-64 with GCC, also for
 * x86-64-v3 (AVX2) and v4 (AVX-512), picked at load time by the CPU. Only
 * static functions carry it, each file's own. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define DTXK_HOT __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define DTXK_HOT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* fused elementwise programs: chunk, store into host memory, or the first
 * stage of a reduction (dtxk_prog) */
int dtxk_fused_cpu(dtx_task_ctx *ctx);
/* Runs a fused program whose output is a chunk (DTXK_OUT_CHUNK) over its
 * region into out (C order), reading inputs[0..nin); for tasks that embed
 * one. 0, or -1 with *why set. */
int dtxk_run_chunk(const void *prog, const void *const *inputs, int nin, void *out, const char **why);
/* merging partial reduction states (dtxk_combine) */
int dtxk_combine_cpu(dtx_task_ctx *ctx);
/* one output chunk of a matrix product (dtxk_matmul) */
int dtxk_matmul_cpu(dtx_task_ctx *ctx);
/* one output chunk from its row blocks (task inputs, in order): their bytes
 * one after another */
int dtxk_rows_join_cpu(dtx_task_ctx *ctx);

/* The CUDA implementations. In builds without CUDA these are one function
 * that fails saying so; it never runs, since such builds have only
 * simulated GPUs, where the CPU implementation stands in. */
int dtxk_fused_cuda(dtx_task_ctx *ctx);
int dtxk_combine_cuda(dtx_task_ctx *ctx);
int dtxk_matmul_cuda(dtx_task_ctx *ctx);
/* copying a region of host memory (an EXT leaf) to the GPU: the CUDA side of
 * loading a persisted or wrapped array's chunk (the CPU side is a fused copy) */
int dtxk_load_cuda(dtx_task_ctx *ctx);

/* Which BLAS the CPU matmul uses ("OpenBLAS 0.3.21", "reference loops"). */
const char *dtxk_blas_name(void);

/* The paths a CPU fused task runs a sub-rectangle of its region through
 * (kernels/fused_path.h): the general strip interpreter, or a fast path. */
typedef enum dtxi_fused_path {
  DTXI_PATH_GENERAL = 0,
  DTXI_PATH_TRANSPOSE, /* x + x.T in 8 x 8 register blocks (fused_transpose.c) */
  DTXI_PATH_SUM,       /* a float64 leaf summed along its rows (fused_sum.c) */
  DTXI_PATH_COLSUM,    /* float64 rows summed into column states (fused_colsum.c) */
  DTXI_PATH_COLARG,    /* float64 / float32 rows argmax'd into column states (fused_colarg.c) */
  DTXI_PATH_CHAIN,     /* a float64 leaf through scalar + - * /, summed (fused_chain.c) */
  DTXI_PATH_COPY,      /* one leaf stored as it is, in memcpy runs (fused_copy.c) */
  DTXI_PATH_COUNT
} dtxi_fused_path;

/* Test hooks. on != 0: every CPU fused task started from now on runs all of
 * its region through the general path (results must not change). */
void dtxi_kernels_force_general(int on);
/* How many sub-rectangles the given path has run, in this process. */
int64_t dtxi_kernels_path_runs(dtxi_fused_path path);

#ifdef __cplusplus
}
#endif
#endif /* DTXK_KERNELS_H */
