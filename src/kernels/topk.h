/*
 * kernels/topk.h - the argument blob of topk / argtopk tasks, written by
 * array/topk.c and run by kernels/topk.c on CPU threads.
 *
 * A task selects, in every lane (one (outer, inner) position of chunks seen
 * as outer x n x inner elements in C order), the kk best of the candidates
 * its inputs hold along the middle axis, in order: for k > 0 the largest
 * first, for k < 0 the smallest first; NaN counts as larger than
 * everything (NumPy's sort order), ties go to the smaller index. Complex
 * values (cplx: the chunks hold (re, im) pairs of float32 / float64, a
 * lane's element is a pair) are in NumPy's order: lexicographic among those
 * without a NaN part, then those with an imaginary NaN (by the real part),
 * a real NaN (by the imaginary part), both NaN (all equal); -0.0 and 0.0
 * are equal in either part, so the smaller index goes first. An input
 * is a chunk of the array (first stage: kind CHUNK, its global start along
 * the axis in starts[i]) or the output of an earlier task (kind PACKED).
 * A PACKED output holds outer x kk x inner values, then, with indices, as
 * many int64 global indices. The last stage writes values only (topk) or
 * indices only (argtopk), as the array's chunk.
 */
#ifndef DTXK_TOPK_H
#define DTXK_TOPK_H

#include <stdint.h>

#include "dtx/graph.h"

#define DTXK_TOPK_MAXIN 32

enum { DTXK_TOPK_CHUNK = 1, DTXK_TOPK_PACKED = 2 };
enum { DTXK_TOPK_OUT_PACKED = 1, DTXK_TOPK_OUT_VALUES = 2, DTXK_TOPK_OUT_INDICES = 3 };

typedef struct dtxk_topk {
  int32_t dtype;   /* of the values */
  int32_t largest; /* 1: k > 0, the largest first; 0: the smallest first */
  int32_t out;     /* DTXK_TOPK_OUT_* */
  int32_t indices; /* PACKED inputs and outputs carry indices (argtopk) */
  int32_t nin;
  int32_t cplx; /* 1: an element is a (re, im) pair of dtype (float32 / float64) */
  int64_t outer, inner, kk;
  int32_t kind[DTXK_TOPK_MAXIN];
  int64_t n[DTXK_TOPK_MAXIN];      /* candidates per lane in input i */
  int64_t starts[DTXK_TOPK_MAXIN]; /* CHUNK inputs: global index of element 0 along the axis */
} dtxk_topk;

#ifdef __cplusplus
extern "C" {
#endif

int dtxk_topk_cpu(dtx_task_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* DTXK_TOPK_H */
