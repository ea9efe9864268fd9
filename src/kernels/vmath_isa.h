/*
 * kernels/vmath_isa.h - the strips of kernels/vmath.h for one instruction
 * set, included once by each of kernels/vmath_avx512.c, vmath_avx2.c and
 * vmath_sse2.c after they set the target and define:
 *   VD, VF          the vector types of double and float
 *   WD, WF          their lanes
 *   LDD, STD, LDF, STF   unaligned loads and stores
 *   SD(fn, acc), SF(fn, acc)   the SLEEF function of that width and set
 *   SQRTD, SQRTF    the square-root instructions (correctly rounded, as IEEE
 *                   754 requires; SLEEF's SSE2 u05 sqrt is not at DBL_MAX)
 *   TABLE           the name of the dtxk_vm_table to define, ISA its name
 * A strip runs whole vectors, then the tail (fewer than a vector's lanes)
 * through one vector padded with ones (a value every function takes). Then
 * a result that is not finite from finite operands is taken again from
 * libm: SLEEF overflows within an ULP of the largest double (pow(DBL_MAX,
 * 1) is inf), and libm's inf, nan and -inf (log(0)) are C99's anyway.
 */
#include <math.h>
#include <string.h>

#include "kernels/vmath.h"

#define VM_UN(NAME, SFX, T, V, W, LD, ST, FN, LIBM)                                  \
  static void NAME##_##SFX(void *d, const void *a, int n) {                          \
    T *o = (T *)d;                                                                   \
    const T *x = (const T *)a;                                                       \
    int i = 0;                                                                       \
    for (; i + W <= n; i += W) ST(o + i, FN(LD(x + i)));                             \
    if (i < n) {                                                                     \
      T t[W];                                                                        \
      for (int k = 0; k < W; k++) t[k] = 1;                                          \
      memcpy(t, x + i, (size_t)(n - i) * sizeof(T));                                 \
      ST(t, FN(LD(t)));                                                              \
      memcpy(o + i, t, (size_t)(n - i) * sizeof(T));                                 \
    }                                                                                \
    for (i = 0; i < n; i++)                                                          \
      if (__builtin_expect(!isfinite(o[i]) && isfinite(x[i]), 0)) o[i] = LIBM(x[i]); \
  }

#define VM_BIN(NAME, SFX, T, V, W, LD, ST, FN, LIBM)                                                         \
  static void NAME##_##SFX(void *d, const void *a, const void *b, int n) {                                   \
    T *o = (T *)d;                                                                                           \
    const T *x = (const T *)a, *y = (const T *)b;                                                            \
    int i = 0;                                                                                               \
    for (; i + W <= n; i += W) ST(o + i, FN(LD(x + i), LD(y + i)));                                          \
    if (i < n) {                                                                                             \
      T t[W], u[W];                                                                                          \
      for (int k = 0; k < W; k++) t[k] = u[k] = 1;                                                           \
      memcpy(t, x + i, (size_t)(n - i) * sizeof(T));                                                         \
      memcpy(u, y + i, (size_t)(n - i) * sizeof(T));                                                         \
      ST(t, FN(LD(t), LD(u)));                                                                               \
      memcpy(o + i, t, (size_t)(n - i) * sizeof(T));                                                         \
    }                                                                                                        \
    for (i = 0; i < n; i++)                                                                                  \
      if (__builtin_expect(!isfinite(o[i]) && isfinite(x[i]) && isfinite(y[i]), 0)) o[i] = LIBM(x[i], y[i]); \
  }

#define VM_BOTH(NAME, ACC)                                          \
  VM_UN(NAME, f32, float, VF, WF, LDF, STF, SF(NAME, ACC), NAME##f) \
  VM_UN(NAME, f64, double, VD, WD, LDD, STD, SD(NAME, ACC), NAME)

VM_BOTH(exp, u10)
VM_BOTH(log, u10)
VM_UN(sqrt, f32, float, VF, WF, LDF, STF, SQRTF, sqrtf)
VM_UN(sqrt, f64, double, VD, WD, LDD, STD, SQRTD, sqrt)
VM_BOTH(sin, u10)
VM_BOTH(cos, u10)
VM_BOTH(tanh, u10)
VM_BIN(pow, f32, float, VF, WF, LDF, STF, SF(pow, u10), powf)
VM_BIN(pow, f64, double, VD, WD, LDD, STD, SD(pow, u10), pow)

const dtxk_vm_table TABLE = {
    ISA,
    {{exp_f32, exp_f64},
     {log_f32, log_f64},
     {sqrt_f32, sqrt_f64},
     {sin_f32, sin_f64},
     {cos_f32, cos_f64},
     {tanh_f32, tanh_f64}},
    {pow_f32, pow_f64},
};
