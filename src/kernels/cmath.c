/*
 * kernels/cmath.c - the CPU implementation of complex math tasks
 * (kernels/cmath.h): C99 <complex.h> functions of glibc's libm, as NumPy
 * 2's npy_cexp etc. call them, and NumPy's complex power and products.
 * Runs on the task's thread; no state.
 */
#include "kernels/cmath.h"

#include <complex.h>
#include <math.h>
#include <string.h>

/* ---- one precision at a time: T the part type, S its suffix ----------------------------------- */

#define CMATH(T, S, CEXP, CLOG, CSQRT, CSIN, CCOS, CTANH, CPOW, MK)                      \
  static void mul_##S(T ar, T ai, T br, T bi, T *rr, T *ri) {                            \
    T r = ar * br - ai * bi, i = ar * bi + ai * br;                                      \
    *rr = r;                                                                             \
    *ri = i;                                                                             \
  }                                                                                      \
  /* NumPy's Smith division (as array/complex.c's) */                                    \
  static void div_##S(T ar, T ai, T br, T bi, T *rr, T *ri) {                            \
    T abr = br < 0 ? -br : br, abi = bi < 0 ? -bi : bi;                                  \
    if (abr >= abi) {                                                                    \
      if (abr == 0 && abi == 0) {                                                        \
        *rr = ar / abr;                                                                  \
        *ri = ai / abr;                                                                  \
        return;                                                                          \
      }                                                                                  \
      T rat = bi / br, scl = (T)1.0 / (br + bi * rat);                                   \
      *rr = (ar + ai * rat) * scl;                                                       \
      *ri = (ai - ar * rat) * scl;                                                       \
    } else {                                                                             \
      T rat = br / bi, scl = (T)1.0 / (bi + br * rat);                                   \
      *rr = (ar * rat + ai) * scl;                                                       \
      *ri = (ai * rat - ar) * scl;                                                       \
    }                                                                                    \
  }                                                                                      \
  /* numpy nc_pow: a ** b */                                                             \
  static void pow_##S(T ar, T ai, T br, T bi, T *rr, T *ri) {                            \
    if (br == 0 && bi == 0) {                                                            \
      *rr = 1;                                                                           \
      *ri = 0;                                                                           \
      return;                                                                            \
    }                                                                                    \
    if (ar == 0 && ai == 0) {                                                            \
      *rr = br > 0 ? (T)0 : (T)NAN;                                                      \
      *ri = br > 0 ? (T)0 : (T)NAN;                                                      \
      return;                                                                            \
    }                                                                                    \
    if (bi == 0 && br > -100 && br < 100 && br == (T)(int)br) {                          \
      int n = (int)br;                                                                   \
      if (n == 1) {                                                                      \
        *rr = ar;                                                                        \
        *ri = ai;                                                                        \
        return;                                                                          \
      }                                                                                  \
      if (n == 2 || n == 3) {                                                            \
        T sr, si;                                                                        \
        mul_##S(ar, ai, ar, ai, &sr, &si);                                               \
        if (n == 3) mul_##S(ar, ai, sr, si, &sr, &si);                                   \
        *rr = sr;                                                                        \
        *ri = si;                                                                        \
        return;                                                                          \
      }                                                                                  \
      /* binary powers, then 1 / that for a negative exponent */                         \
      int m = n < 0 ? -n : n, mask = 1;                                                  \
      T pr = ar, pi = ai, qr = 1, qi = 0;                                                \
      for (;;) {                                                                         \
        if (m & mask) mul_##S(qr, qi, pr, pi, &qr, &qi);                                 \
        mask <<= 1;                                                                      \
        if (m < mask) break;                                                             \
        mul_##S(pr, pi, pr, pi, &pr, &pi);                                               \
      }                                                                                  \
      if (n < 0)                                                                         \
        div_##S(1, 0, qr, qi, rr, ri);                                                   \
      else {                                                                             \
        *rr = qr;                                                                        \
        *ri = qi;                                                                        \
      }                                                                                  \
      return;                                                                            \
    }                                                                                    \
    T complex r = CPOW(MK(ar, ai), MK(br, bi));                                          \
    *rr = creal(r);                                                                      \
    *ri = cimag(r);                                                                      \
  }                                                                                      \
  static void func_##S(int f, const T *x, T *y, int64_t n) {                             \
    for (int64_t k = 0; k < n; k++) {                                                    \
      T complex z = MK(x[2 * k], x[2 * k + 1]), r;                                       \
      switch (f) {                                                                       \
        case DTXK_CMATH_EXP:                                                             \
          r = CEXP(z);                                                                   \
          break;                                                                         \
        case DTXK_CMATH_LOG:                                                             \
          r = CLOG(z);                                                                   \
          break;                                                                         \
        case DTXK_CMATH_SQRT:                                                            \
          r = CSQRT(z);                                                                  \
          break;                                                                         \
        case DTXK_CMATH_SIN:                                                             \
          r = CSIN(z);                                                                   \
          break;                                                                         \
        case DTXK_CMATH_COS:                                                             \
          r = CCOS(z);                                                                   \
          break;                                                                         \
        default:                                                                         \
          r = CTANH(z);                                                                  \
          break;                                                                         \
      }                                                                                  \
      y[2 * k] = creal(r);                                                               \
      y[2 * k + 1] = cimag(r);                                                           \
    }                                                                                    \
  }                                                                                      \
  static void powv_##S(const T *a, const T *b, T *y, int64_t n) {                        \
    for (int64_t k = 0; k < n; k++)                                                      \
      pow_##S(a[2 * k], a[2 * k + 1], b[2 * k], b[2 * k + 1], &y[2 * k], &y[2 * k + 1]); \
  }

CMATH(double, d, cexp, clog, csqrt, csin, ccos, ctanh, cpow, CMPLX)
CMATH(float, f, cexpf, clogf, csqrtf, csinf, ccosf, ctanhf, cpowf, CMPLXF)

/* ---- products: accumulated in double (complex64 rounds once at the end, as dtx's float32
 * reductions; NumPy accumulates complex64 in float32) -------------------------------------------- */

static void get(const void *p, int prec, int64_t k, double *re, double *im) {
  if (prec == 4) {
    *re = ((const float *)p)[2 * k];
    *im = ((const float *)p)[2 * k + 1];
  } else {
    *re = ((const double *)p)[2 * k];
    *im = ((const double *)p)[2 * k + 1];
  }
}
static void put(void *p, int prec, int64_t k, double re, double im) {
  if (prec == 4) {
    ((float *)p)[2 * k] = (float)re;
    ((float *)p)[2 * k + 1] = (float)im;
  } else {
    ((double *)p)[2 * k] = re;
    ((double *)p)[2 * k + 1] = im;
  }
}

/* The product along len of (outer, len, inner) values. */
static void part(const dtxk_cmath *c, const void *x, void *y) {
  for (int64_t o = 0; o < c->n; o++)
    for (int64_t i = 0; i < c->inner; i++) {
      double pr = 1, pi = 0;
      for (int64_t k = 0; k < c->len; k++) {
        double zr, zi;
        get(x, c->prec, (o * c->len + k) * c->inner + i, &zr, &zi);
        if (k == 0) {
          pr = zr;
          pi = zi;
        } else {
          mul_d(pr, pi, zr, zi, &pr, &pi);
        }
      }
      put(y, c->out_prec, o * c->inner + i, pr, pi);
    }
}

int64_t dtxk_cmath_out_bytes(const dtxk_cmath *c) {
  int64_t count = c->mode == DTXK_CMATH_PART ? c->n * c->inner : c->n;
  return count * 2 * c->out_prec;
}

static const char *check(const dtxk_cmath *c, int nin) {
  if ((c->prec != 4 && c->prec != 8) || (c->out_prec != 4 && c->out_prec != 8) || c->n < 0 || c->len < 0 ||
      c->inner < 0)
    return "malformed complex-math arguments";
  switch (c->mode) {
    case DTXK_CMATH_FUNC:
      if (c->func < DTXK_CMATH_EXP || c->func > DTXK_CMATH_TANH) return "unknown complex function";
      return nin == 1 && c->out_prec == c->prec ? NULL : "bad complex-function task";
    case DTXK_CMATH_POW:
      return nin == 2 && c->out_prec == c->prec ? NULL : "bad complex-power task";
    case DTXK_CMATH_PART:
      return nin == 1 ? NULL : "bad complex-product task";
    case DTXK_CMATH_MUL:
      return nin >= 1 ? NULL : "bad complex-product task";
  }
  return "unknown complex-math task";
}

int dtxk_cmath_cpu(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_cmath *c = (const dtxk_cmath *)dtx_task_args(ctx, &asz);
  if (c == NULL || asz != sizeof *c) return dtx_task_fail(ctx, "malformed complex-math arguments");
  int nin = dtx_task_num_inputs(ctx);
  const char *why = check(c, nin);
  if (why != NULL) return dtx_task_fail(ctx, "%s", why);
  int64_t in_vals = c->mode == DTXK_CMATH_PART ? c->n * c->len * c->inner : c->n;
  for (int j = 0; j < nin; j++) {
    size_t got = 0;
    if (dtx_task_input(ctx, j, &got) == NULL && in_vals > 0)
      return dtx_task_fail(ctx, "complex math: no input");
    if ((int64_t)got != in_vals * 2 * c->prec)
      return dtx_task_fail(ctx, "complex math: input %d has %zu bytes, not %lld", j, got,
                           (long long)(in_vals * 2 * c->prec));
  }
  int64_t ob = dtxk_cmath_out_bytes(c);
  void *y = dtx_task_output(ctx, (size_t)ob);
  if (y == NULL && ob > 0) return dtx_task_fail(ctx, "out of memory for %lld bytes", (long long)ob);
  const void *x = dtx_task_input(ctx, 0, NULL);
  switch (c->mode) {
    case DTXK_CMATH_FUNC:
      if (c->prec == 8)
        func_d(c->func, x, y, c->n);
      else
        func_f(c->func, x, y, c->n);
      break;
    case DTXK_CMATH_POW:
      if (c->prec == 8)
        powv_d(x, dtx_task_input(ctx, 1, NULL), y, c->n);
      else
        powv_f(x, dtx_task_input(ctx, 1, NULL), y, c->n);
      break;
    case DTXK_CMATH_PART:
      part(c, x, y);
      break;
    default: /* MUL */
      for (int64_t k = 0; k < c->n; k++) {
        double pr, pi;
        get(x, c->prec, k, &pr, &pi);
        for (int j = 1; j < nin; j++) {
          double zr, zi;
          get(dtx_task_input(ctx, j, NULL), c->prec, k, &zr, &zi);
          mul_d(pr, pi, zr, zi, &pr, &pi);
        }
        put(y, c->out_prec, k, pr, pi);
      }
      break;
  }
  return 0;
}
