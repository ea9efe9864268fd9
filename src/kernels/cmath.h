/*
 * kernels/cmath.h - the argument blob of complex math tasks, written by
 * array/cmath.c (elementwise functions, power) and array/cprod.c (the
 * product reduction), run by kernels/cmath.c on CPU threads (no CUDA
 * implementation: these tasks run on CPU threads on GPU clusters too).
 *
 * Complex values are pairs (re, im) of float (prec 4, complex64) or double
 * (prec 8, complex128), interleaved, as NumPy's.
 *   FUNC  one input chunk of n values -> f(z) for each, f one of exp, log,
 *         sqrt, sin, cos, tanh: C99's cexp, clog, ... (cexpf, ... for
 *         complex64), which NumPy 2 calls too (npy_cexp is cexp), so the
 *         special values (inf and nan parts, signed zeros, branch cuts) and
 *         the roundings are NumPy's with the same libm.
 *   POW   two input chunks of n values (base, exponent) -> base ** exponent
 *         as NumPy's complex power: 1 for a zero exponent, 0 for a zero base
 *         and an exponent with a positive real part (else nan + nan j),
 *         repeated multiplication for integer real exponents in (-100, 100),
 *         C99's cpow otherwise.
 *   PART  one input chunk (outer, len, inner) of prec -> the products along
 *         len, (outer, inner) values of out_prec: z0 * z1 * ... in order
 *         (NumPy's reduce: it starts from the first value; the product of
 *         nothing is 1).
 *   MUL   nin input blocks of n values of prec -> their product, in order,
 *         as out_prec.
 * Products are the plain formula (re = ar br - ai bi, im = ar bi + ai br),
 * as NumPy's multiply loops; the reciprocal of negative powers is NumPy's
 * Smith division.
 */
#ifndef DTXK_CMATH_H
#define DTXK_CMATH_H

#include <stdint.h>

#include "dtx/graph.h"

enum { DTXK_CMATH_FUNC = 1, DTXK_CMATH_POW = 2, DTXK_CMATH_PART = 3, DTXK_CMATH_MUL = 4 };
/* FUNC's functions: dtx_unary_op's values (dtx/array.h) */
enum {
  DTXK_CMATH_EXP = 3,
  DTXK_CMATH_LOG = 4,
  DTXK_CMATH_SQRT = 5,
  DTXK_CMATH_SIN = 6,
  DTXK_CMATH_COS = 7,
  DTXK_CMATH_TANH = 8
};

typedef struct dtxk_cmath {
  int32_t mode;     /* DTXK_CMATH_FUNC .. MUL */
  int32_t func;     /* FUNC: DTXK_CMATH_EXP .. TANH */
  int32_t prec;     /* of the inputs: 4 or 8 */
  int32_t out_prec; /* of the output: 4 or 8 (FUNC, POW: prec) */
  int64_t n;        /* FUNC, POW, MUL: values per input; PART: outer */
  int64_t len;      /* PART: the length reduced */
  int64_t inner;    /* PART */
} dtxk_cmath;

#ifdef __cplusplus
extern "C" {
#endif

/* Output bytes of a task. */
int64_t dtxk_cmath_out_bytes(const dtxk_cmath *c);
int dtxk_cmath_cpu(dtx_task_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* DTXK_CMATH_H */
