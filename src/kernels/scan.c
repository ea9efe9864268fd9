/*
 * kernels/scan.c - the CPU implementation of scan tasks (kernels/scan.h).
 *
 * Rows of a chunk (all lanes at one position k of the scanned axis) are
 * processed together: y[k] = y[k-1] op x[k] over a whole row, which
 * vectorises and streams memory once, and adds in each lane exactly the
 * order of the lane loops in scan.h (the CUDA side), so both give the same
 * bits. Complex products (cplx) go a lane (pair) at a time through
 * scan.h's dtxk_scan_cstep, as the CUDA threads do. Runs on the task's
 * thread; touches its inputs (read only) and its output.
 */
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/scan.h"

const char *dtxk_scan_check(const dtxk_scan *p, int ninputs) {
  if (p->mode < DTXK_SCAN_TOTAL || p->mode > DTXK_SCAN_SCAN) return "unknown scan mode";
  if (p->op != DTXK_SCAN_SUM && p->op != DTXK_SCAN_PROD) return "unknown scan operation";
  if (p->dtype != DTXK_I64 && p->dtype != DTXK_U64 && p->dtype != DTXK_F32 && p->dtype != DTXK_F64)
    return "scan dtype must be int64, uint64, float32 or float64";
  if (p->outer < 0 || p->n < 0 || p->inner < 0) return "negative scan extent";
  if (p->cplx && (p->op != DTXK_SCAN_PROD || p->nan || (p->dtype != DTXK_F32 && p->dtype != DTXK_F64) ||
                  p->inner % 2 != 0))
    return "a complex scan is a float32 / float64 product of pairs without nan";
  int want = p->mode == DTXK_SCAN_TOTAL ? 1 : 1 + p->has_carry;
  if (ninputs != want) return "wrong number of scan inputs";
  return NULL;
}

#define CPU_SCAN(S, T)                                                                                    \
  static void total_##S(const dtxk_scan *p, const T *x, T *t) {                                           \
    for (int64_t o = 0; o < p->outer; o++) {                                                              \
      T *to = t + o * p->inner;                                                                           \
      for (int64_t i = 0; i < p->inner; i++)                                                              \
        to[i] = p->n > 0 ? dtxk_scan_first_##S(p->op, p->nan, x[o * p->n * p->inner + i])                 \
                         : dtxk_scan_id_##S(p->op);                                                       \
      for (int64_t k = 1; k < p->n; k++) {                                                                \
        const T *xr = x + (o * p->n + k) * p->inner;                                                      \
        for (int64_t i = 0; i < p->inner; i++) to[i] = dtxk_scan_ap_##S(p->op, p->nan, to[i], xr[i]);     \
      }                                                                                                   \
    }                                                                                                     \
  }                                                                                                       \
  static void carry_##S(const dtxk_scan *p, const T *a, const T *b, T *y) {                               \
    int64_t m = p->outer * p->inner;                                                                      \
    for (int64_t i = 0; i < m; i++) y[i] = a != NULL ? dtxk_scan_ap_##S(p->op, 0, a[i], b[i]) : b[i];     \
  }                                                                                                       \
  static void scan_##S(const dtxk_scan *p, const T *x, const T *c, T *y) {                                \
    for (int64_t o = 0; o < p->outer; o++) {                                                              \
      for (int64_t k = 0; k < p->n; k++) {                                                                \
        const T *xr = x + (o * p->n + k) * p->inner;                                                      \
        T *yr = y + (o * p->n + k) * p->inner;                                                            \
        const T *prev = k > 0 ? yr - p->inner : (c != NULL ? c + o * p->inner : NULL);                    \
        if (prev != NULL) {                                                                               \
          for (int64_t i = 0; i < p->inner; i++) yr[i] = dtxk_scan_ap_##S(p->op, p->nan, prev[i], xr[i]); \
        } else {                                                                                          \
          for (int64_t i = 0; i < p->inner; i++) yr[i] = dtxk_scan_first_##S(p->op, p->nan, xr[i]);       \
        }                                                                                                 \
      }                                                                                                   \
    }                                                                                                     \
  }
CPU_SCAN(i64, int64_t)
CPU_SCAN(u64, uint64_t)
CPU_SCAN(f32, float)
CPU_SCAN(f64, double)

#define DISPATCH(FN, ...)       \
  switch (p->dtype) {           \
    case DTXK_I64:              \
      FN##_i64(p, __VA_ARGS__); \
      break;                    \
    case DTXK_U64:              \
      FN##_u64(p, __VA_ARGS__); \
      break;                    \
    case DTXK_F32:              \
      FN##_f32(p, __VA_ARGS__); \
      break;                    \
    default:                    \
      FN##_f64(p, __VA_ARGS__); \
      break;                    \
  }

int dtxk_scan_cpu(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_scan *p = (const dtxk_scan *)dtx_task_args(ctx, &asz);
  if (p == NULL || asz != sizeof *p) return dtx_task_fail(ctx, "malformed scan-task arguments");
  const char *why = dtxk_scan_check(p, dtx_task_num_inputs(ctx));
  if (why != NULL) return dtx_task_fail(ctx, "bad scan task: %s", why);
  int64_t esz = dtxk_size(p->dtype);
  int64_t lanes = p->outer * p->inner, full = lanes * p->n;
  size_t out = (size_t)((p->mode == DTXK_SCAN_SCAN ? full : lanes) * esz);
  void *y = dtx_task_output(ctx, out);
  if (y == NULL && out > 0) return dtx_task_fail(ctx, "out of memory for a scan output of %zu bytes", out);
  if (out == 0) return 0;
  const void *in0 = dtx_task_input(ctx, 0, NULL);
  const void *in1 = dtx_task_num_inputs(ctx) > 1 ? dtx_task_input(ctx, 1, NULL) : NULL;
  if (p->cplx) { /* complex products, a pair at a time */
    int64_t pairs = p->outer * (p->inner / 2);
    for (int64_t l = 0; l < pairs; l++) {
      if (p->dtype == DTXK_F32)
        dtxk_scan_cstep_f32(p, l, (const float *)in0, (const float *)in1, (float *)y);
      else
        dtxk_scan_cstep_f64(p, l, (const double *)in0, (const double *)in1, (double *)y);
    }
    return 0;
  }
  switch (p->mode) {
    case DTXK_SCAN_TOTAL:
      DISPATCH(total, in0, y);
      break;
    case DTXK_SCAN_CARRY:
      if (p->has_carry) {
        DISPATCH(carry, in0, in1, y);
      } else {
        DISPATCH(carry, NULL, in0, y);
      }
      break;
    default:
      DISPATCH(scan, in0, p->has_carry ? in1 : NULL, y);
      break;
  }
  return 0;
}
