/*
 * kernels/scan.h - the argument blob and element code of scan tasks
 * (cumsum, cumprod and their NaN-skipping forms), written by array/scan.c
 * and run by kernels/scan.c (CPU) and kernels/scan.cu (CUDA): both include
 * the lane loops below, so they compute the same values in the same order.
 *
 * A chunk is seen as outer x n x inner elements in C order, n along the
 * scanned axis; a lane is one (outer, inner) position. Three modes:
 *   TOTAL  x (outer, n, inner) -> t (outer, inner): each lane reduced
 *   CARRY  a, b (outer, inner) -> a op b  (a missing: b)
 *   SCAN   x (outer, n, inner), c (outer, inner) or none -> y (outer, n,
 *          inner): y[k] = c op x[0] op ... op x[k], accumulated in order
 * Everything is in one dtype (the result's: the array layer converts the
 * input first, as NumPy accumulates in it). nan: NaN counts as the identity
 * (0 for sums, 1 for products), as nancumsum / nancumprod.
 * cplx (float32 / float64 products only, nan 0): the elements are complex,
 * the (re, im) pairs of the last axis of a complex array's pairs (inner
 * counts both parts, so it is even and a lane is a pair): each step is
 * NumPy's complex multiply, acc * x = (ar xr - ai xi, ar xi + ai xr), as
 * the cumprod of complex arrays (array/complex.c).
 */
#ifndef DTXK_SCAN_H
#define DTXK_SCAN_H

#include <stdint.h>

#include "dtx/graph.h"
#include "kernels/elem.h"

enum { DTXK_SCAN_TOTAL = 1, DTXK_SCAN_CARRY = 2, DTXK_SCAN_SCAN = 3 };
enum { DTXK_SCAN_SUM = 1, DTXK_SCAN_PROD = 2 };

typedef struct dtxk_scan {
  int32_t mode, op, nan, dtype; /* dtype: DTXK_I64, DTXK_U64, DTXK_F32 or DTXK_F64 */
  int32_t has_carry;            /* SCAN: input 1 is the carry; CARRY: input 0 is a */
  int32_t cplx;                 /* complex pairs (see above) */
  int64_t outer, n, inner;
} dtxk_scan;

/* x op y, NaN skipped when nan (floats only). Integers wrap. */
#define DTXK_SCAN_OPS(S, T, ISNAN)                                                                          \
  DTX_HD T dtxk_scan_id_##S(int op) { return op == DTXK_SCAN_SUM ? (T)0 : (T)1; }                           \
  DTX_HD T dtxk_scan_ap_##S(int op, int nan, T acc, T x) {                                                  \
    if (nan && ISNAN(x)) return acc;                                                                        \
    return op == DTXK_SCAN_SUM ? dtxk_add_##S(acc, x) : dtxk_mul_##S(acc, x);                               \
  }                                                                                                         \
  /* the first element of a scan without carry: x itself (so -0.0 stays) */                                 \
  DTX_HD T dtxk_scan_first_##S(int op, int nan, T x) { return nan && ISNAN(x) ? dtxk_scan_id_##S(op) : x; } \
  /* the lane starting at x (stride inner) */                                                               \
  DTX_HD T dtxk_scan_total_##S(const dtxk_scan *p, const T *x) {                                            \
    T acc = p->n > 0 ? dtxk_scan_first_##S(p->op, p->nan, x[0]) : dtxk_scan_id_##S(p->op);                  \
    for (int64_t k = 1; k < p->n; k++) acc = dtxk_scan_ap_##S(p->op, p->nan, acc, x[k * p->inner]);         \
    return acc;                                                                                             \
  }                                                                                                         \
  DTX_HD void dtxk_scan_lane_##S(const dtxk_scan *p, const T *x, T *y, const T *carry) {                    \
    T acc = carry != NULL ? *carry : dtxk_scan_id_##S(p->op);                                               \
    for (int64_t k = 0; k < p->n; k++) {                                                                    \
      T v = x[k * p->inner];                                                                                \
      acc = k == 0 && carry == NULL ? dtxk_scan_first_##S(p->op, p->nan, v)                                 \
                                    : dtxk_scan_ap_##S(p->op, p->nan, acc, v);                              \
      y[k * p->inner] = acc;                                                                                \
    }                                                                                                       \
  }
#define DTXK_SCAN_NAN_NEVER(x) ((void)(x), 0)
#define DTXK_SCAN_NAN_FLOAT(x) ((x) != (x))
DTXK_SCAN_OPS(i64, int64_t, DTXK_SCAN_NAN_NEVER)
DTXK_SCAN_OPS(u64, uint64_t, DTXK_SCAN_NAN_NEVER)
DTXK_SCAN_OPS(f32, float, DTXK_SCAN_NAN_FLOAT)
DTXK_SCAN_OPS(f64, double, DTXK_SCAN_NAN_FLOAT)

/* The complex lanes: x, y, t point at a lane's first pair (re, im); the
 * lane's pairs are inner apart. */
#define DTXK_SCAN_CPLX(S, T)                                                                         \
  DTX_HD void dtxk_scan_cmul_##S(T *acc, const T *x) {                                               \
    T re = acc[0] * x[0] - acc[1] * x[1], im = acc[0] * x[1] + acc[1] * x[0];                        \
    acc[0] = re;                                                                                     \
    acc[1] = im;                                                                                     \
  }                                                                                                  \
  DTX_HD void dtxk_scan_ctotal_##S(const dtxk_scan *p, const T *x, T *t) {                           \
    T acc[2] = {p->n > 0 ? x[0] : (T)1, p->n > 0 ? x[1] : (T)0};                                     \
    for (int64_t k = 1; k < p->n; k++) dtxk_scan_cmul_##S(acc, x + k * p->inner);                    \
    t[0] = acc[0];                                                                                   \
    t[1] = acc[1];                                                                                   \
  }                                                                                                  \
  DTX_HD void dtxk_scan_clane_##S(const dtxk_scan *p, const T *x, T *y, const T *carry) {            \
    T acc[2] = {carry != NULL ? carry[0] : (T)1, carry != NULL ? carry[1] : (T)0};                   \
    for (int64_t k = 0; k < p->n; k++) {                                                             \
      if (k == 0 && carry == NULL) {                                                                 \
        acc[0] = x[0];                                                                               \
        acc[1] = x[1];                                                                               \
      } else {                                                                                       \
        dtxk_scan_cmul_##S(acc, x + k * p->inner);                                                   \
      }                                                                                              \
      y[k * p->inner] = acc[0];                                                                      \
      y[k * p->inner + 1] = acc[1];                                                                  \
    }                                                                                                \
  }                                                                                                  \
  /* one lane (pair) l of the mode's output: l counts the (outer, inner / 2) pairs */                \
  DTX_HD void dtxk_scan_cstep_##S(const dtxk_scan *p, int64_t l, const T *in0, const T *in1, T *y) { \
    int64_t pairs = p->inner / 2, o = l / pairs, i = 2 * (l % pairs);                                \
    int64_t base = o * p->n * p->inner + i, lane = o * p->inner + i;                                 \
    if (p->mode == DTXK_SCAN_TOTAL) {                                                                \
      dtxk_scan_ctotal_##S(p, in0 + base, y + lane);                                                 \
    } else if (p->mode == DTXK_SCAN_CARRY) {                                                         \
      T acc[2] = {in0[lane], in0[lane + 1]};                                                         \
      if (p->has_carry) dtxk_scan_cmul_##S(acc, in1 + lane);                                         \
      y[lane] = acc[0];                                                                              \
      y[lane + 1] = acc[1];                                                                          \
    } else {                                                                                         \
      dtxk_scan_clane_##S(p, in0 + base, y + base, p->has_carry ? in1 + lane : NULL);                \
    }                                                                                                \
  }
DTXK_SCAN_CPLX(f32, float)
DTXK_SCAN_CPLX(f64, double)

#ifdef __cplusplus
extern "C" {
#endif

/* NULL when the blob is consistent, else what is wrong. */
const char *dtxk_scan_check(const dtxk_scan *p, int ninputs);
int dtxk_scan_cpu(dtx_task_ctx *ctx);
/* GPU builds: kernels/scan.cu; nocuda.c otherwise. */
int dtxk_scan_cuda(dtx_task_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* DTXK_SCAN_H */
