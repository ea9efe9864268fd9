/*
 * kernels/sort.h - the argument blob of sort tasks, written by array/sort.c
 * and run by kernels/sort.c (CPU) and kernels/sort.cu (CUDA).
 *
 * A sort task sorts every lane of one chunk along an axis the chunk holds
 * whole: the chunk is outer x n x inner elements in C order, a lane is one
 * (outer, inner) position, and the output chunk has the same layout with
 * each lane ascending. NaN sorts after everything (NumPy's order); -0.0 and
 * 0.0 are equal, so either may come first. bool, int32, int64, uint64,
 * float32 and float64 (the array layer sorts other dtypes as one of these),
 * and complex values as pairs of float32 / float64 in NumPy's order:
 * lexicographic, then the values with a NaN part after all others (a real
 * part and an imaginary NaN, by the real part; a real NaN, by the
 * imaginary part; both NaN), -0.0 before 0.0 in either part.
 *
 * The lanes come from the task's one input chunk, or (ext non-zero; CPU
 * tasks only, no inputs) from host memory read in place: element k of lane
 * (o, i) at ext + (o so + k sk + i si) elements. They go to the task's
 * output chunk, or (out_ext non-zero; CPU tasks only, no output) straight
 * into the caller's buffer: element k of lane (o, i) at out_ext + (o oso +
 * k osk + i osi) elements.
 */
#ifndef DTXK_SORT_H
#define DTXK_SORT_H

#include <stdint.h>

#include "dtx/graph.h"

typedef struct dtxk_sort {
  int32_t dtype, cplx; /* cplx: an element is a (re, im) pair of dtype (float32 / float64; CPU only) */
  int64_t outer, n, inner;
  uint64_t ext;          /* 0: the input chunk */
  int64_t so, sk, si;    /* ext's strides (elements) for o, k, i */
  uint64_t out_ext;      /* 0: the output chunk */
  int64_t oso, osk, osi; /* out_ext's strides */
} dtxk_sort;

#ifdef __cplusplus
extern "C" {
#endif

/* Whether tasks sort dtype. */
int dtxk_sort_dtype(int dtype);
/* Sorts n elements of dtype in place (host memory); scratch holds n
 * elements (or is NULL: then allocated). 0, or -1 when out of memory or
 * dtype is not one sort tasks take. */
int dtxk_sort_lane(int dtype, void *x, int64_t n, void *scratch);
/* The same for n complex values, pairs of dtype (float32 / float64);
 * scratch holds n pairs and n bytes more (or is NULL). */
int dtxk_sort_pairs(int dtype, void *x, int64_t n, void *scratch);
int dtxk_sort_cpu(dtx_task_ctx *ctx);
/* GPU builds: kernels/sort.cu; nocuda.c otherwise. */
int dtxk_sort_cuda(dtx_task_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* DTXK_SORT_H */
