/*
 * kernels/reduce.h - partial states of the reductions and how they add an
 * element, merge and finish, shared by the CPU loops and the CUDA kernels.
 *
 * Values accumulate in one of two types (the prog's `acc`): float64 for float
 * inputs and for mean / var / std, int64 for integer and bool inputs (sums
 * and products wrap as in NumPy; uint64 ones keep their bits). acc DTXK_U64
 * (min, max, argmin, argmax of uint64) is int64 states holding x ^ 2^63,
 * which orders as x does: values are flipped on the way in
 * (dtxk_acc_flip) and the final min / max back. States:
 *   SUM, PROD, MIN, MAX, ANY, ALL  one accumulator (8 bytes)
 *   MEAN                           sum, count
 *   VAR, STD                       count, mean, M2 (Welford; merged with Chan et al.)
 *   ARGMIN, ARGMAX                 value, index (index -1: empty)
 * MIN / MAX propagate NaN; ARGMIN / ARGMAX take the first NaN, and on ties
 * the smaller index (so the order of merging does not matter).
 */
#ifndef DTXK_REDUCE_H
#define DTXK_REDUCE_H

#include "kernels/elem.h"
#include "kernels/program.h"

typedef struct dtxk_mean_st {
  double s, n;
} dtxk_mean_st;
typedef struct dtxk_var_st {
  double n, mean, m2;
} dtxk_var_st;
typedef struct dtxk_arg_st {
  dtxk_const v;
  int64_t idx;
} dtxk_arg_st;

/* uint64 as the int64 that orders the same (acc DTXK_U64), and back */
DTX_HD int64_t dtxk_acc_flip(int64_t x) { return (int64_t)((uint64_t)x ^ 0x8000000000000000ull); }

DTX_HD void dtxk_red_init(int red, int acc, void *st) {
  int f = acc == DTXK_F64;
  switch (red) {
    case DTXK_R_SUM:
    case DTXK_R_ANY:
      if (f)
        *(double *)st = 0.0;
      else
        *(int64_t *)st = 0;
      break;
    case DTXK_R_PROD:
    case DTXK_R_ALL:
      if (f)
        *(double *)st = 1.0;
      else
        *(int64_t *)st = 1;
      break;
    case DTXK_R_MIN:
      if (f)
        *(double *)st = INFINITY;
      else
        *(int64_t *)st = INT64_MAX;
      break;
    case DTXK_R_MAX:
      if (f)
        *(double *)st = -INFINITY;
      else
        *(int64_t *)st = INT64_MIN;
      break;
    case DTXK_R_MEAN: {
      dtxk_mean_st *m = (dtxk_mean_st *)st;
      m->s = 0;
      m->n = 0;
      break;
    }
    case DTXK_R_VAR:
    case DTXK_R_STD: {
      dtxk_var_st *v = (dtxk_var_st *)st;
      v->n = 0;
      v->mean = 0;
      v->m2 = 0;
      break;
    }
    default: {
      dtxk_arg_st *a = (dtxk_arg_st *)st;
      a->v.i = 0;
      a->idx = -1;
      break;
    }
  }
}

/* Does (x, ix) win over (cur, icur) for ARGMIN (min = 1) or ARGMAX? */
DTX_HD int dtxk_arg_better_f(int min, double x, int64_t ix, double cur, int64_t icur) {
  if (icur < 0) return 1;
  if (cur != cur) return x != x && ix < icur;
  if (x != x) return 1;
  if (min ? x < cur : x > cur) return 1;
  return x == cur && ix < icur;
}
DTX_HD int dtxk_arg_better_i(int min, int64_t x, int64_t ix, int64_t cur, int64_t icur) {
  if (icur < 0) return 1;
  if (min ? x < cur : x > cur) return 1;
  return x == cur && ix < icur;
}

/* Adds one element x (of type acc) with flat index ix. */
DTX_HD void dtxk_red_add_f(int red, void *st, double x, int64_t ix) {
  switch (red) {
    case DTXK_R_SUM:
      *(double *)st += x;
      break;
    case DTXK_R_PROD:
      *(double *)st *= x;
      break;
    case DTXK_R_MIN: {
      double c = *(double *)st;
      if (x < c || x != x) *(double *)st = x;
      break;
    }
    case DTXK_R_MAX: {
      double c = *(double *)st;
      if (x > c || x != x) *(double *)st = x;
      break;
    }
    case DTXK_R_ANY:
      if (x != 0) *(double *)st = 1.0;
      break;
    case DTXK_R_ALL:
      if (x == 0) *(double *)st = 0.0;
      break;
    case DTXK_R_MEAN: {
      dtxk_mean_st *m = (dtxk_mean_st *)st;
      m->s += x;
      m->n += 1;
      break;
    }
    case DTXK_R_VAR:
    case DTXK_R_STD: {
      dtxk_var_st *v = (dtxk_var_st *)st;
      v->n += 1;
      double d = x - v->mean;
      v->mean += d / v->n;
      v->m2 += d * (x - v->mean);
      break;
    }
    default: {
      dtxk_arg_st *a = (dtxk_arg_st *)st;
      if (dtxk_arg_better_f(red == DTXK_R_ARGMIN, x, ix, a->v.f, a->idx)) {
        a->v.f = x;
        a->idx = ix;
      }
      break;
    }
  }
}

DTX_HD void dtxk_red_add_i(int red, void *st, int64_t x, int64_t ix) {
  int64_t *s = (int64_t *)st;
  switch (red) {
    case DTXK_R_SUM:
      *s = (int64_t)((uint64_t)*s + (uint64_t)x);
      break;
    case DTXK_R_PROD:
      *s = (int64_t)((uint64_t)*s * (uint64_t)x);
      break;
    case DTXK_R_MIN:
      if (x < *s) *s = x;
      break;
    case DTXK_R_MAX:
      if (x > *s) *s = x;
      break;
    case DTXK_R_ANY:
      if (x != 0) *s = 1;
      break;
    case DTXK_R_ALL:
      if (x == 0) *s = 0;
      break;
    case DTXK_R_ARGMIN:
    case DTXK_R_ARGMAX: {
      dtxk_arg_st *a = (dtxk_arg_st *)st;
      if (dtxk_arg_better_i(red == DTXK_R_ARGMIN, x, ix, a->v.i, a->idx)) {
        a->v.i = x;
        a->idx = ix;
      }
      break;
    }
    default: /* MEAN / VAR / STD accumulate as float64 */
      dtxk_red_add_f(red, st, (double)x, ix);
      break;
  }
}

/* Merges state src into dst. */
DTX_HD void dtxk_red_merge(int red, int acc, void *dst, const void *src) {
  int f = acc == DTXK_F64;
  switch (red) {
    case DTXK_R_MEAN: {
      dtxk_mean_st *d = (dtxk_mean_st *)dst;
      const dtxk_mean_st *s = (const dtxk_mean_st *)src;
      d->s += s->s;
      d->n += s->n;
      break;
    }
    case DTXK_R_VAR:
    case DTXK_R_STD: {
      dtxk_var_st *d = (dtxk_var_st *)dst;
      const dtxk_var_st *s = (const dtxk_var_st *)src;
      if (s->n == 0) break;
      if (d->n == 0) {
        *d = *s;
        break;
      }
      double n = d->n + s->n, delta = s->mean - d->mean;
      d->mean += delta * (s->n / n);
      d->m2 += s->m2 + delta * delta * (d->n * s->n / n);
      d->n = n;
      break;
    }
    case DTXK_R_ARGMIN:
    case DTXK_R_ARGMAX: {
      dtxk_arg_st *d = (dtxk_arg_st *)dst;
      const dtxk_arg_st *s = (const dtxk_arg_st *)src;
      if (s->idx < 0) break;
      int better = f ? dtxk_arg_better_f(red == DTXK_R_ARGMIN, s->v.f, s->idx, d->v.f, d->idx)
                     : dtxk_arg_better_i(red == DTXK_R_ARGMIN, s->v.i, s->idx, d->v.i, d->idx);
      if (better) *d = *s;
      break;
    }
    default:
      if (f)
        dtxk_red_add_f(red, dst, *(const double *)src, 0);
      else
        dtxk_red_add_i(red, dst, *(const int64_t *)src, 0);
      break;
  }
}

/* Writes the final value of one state as fin (a dtype) into out. */
DTX_HD void dtxk_red_final(int red, int acc, int fin, int ddof, const void *st, void *out) {
  double fv = 0;
  int64_t iv = 0;
  int is_f = 1;
  switch (red) {
    case DTXK_R_MEAN: {
      const dtxk_mean_st *m = (const dtxk_mean_st *)st;
      fv = m->s / m->n;
      break;
    }
    case DTXK_R_VAR:
    case DTXK_R_STD: {
      const dtxk_var_st *v = (const dtxk_var_st *)st;
      double den = v->n - ddof;
      if (den < 0) den = 0;
      fv = v->m2 / den;
      if (red == DTXK_R_STD) fv = sqrt(fv);
      break;
    }
    case DTXK_R_ARGMIN:
    case DTXK_R_ARGMAX:
      iv = ((const dtxk_arg_st *)st)->idx;
      is_f = 0;
      break;
    default:
      if (acc == DTXK_F64) {
        fv = *(const double *)st;
      } else {
        iv = *(const int64_t *)st;
        if (acc == DTXK_U64 && (red == DTXK_R_MIN || red == DTXK_R_MAX)) iv = dtxk_acc_flip(iv);
        is_f = 0;
      }
      break;
  }
  switch (fin) {
#define DTXK_FIN_CASE_(S, T, ID)                                \
  case ID:                                                      \
    *(T *)out = is_f ? DTXK_CV_##S(fv, 1) : DTXK_CV_##S(iv, 0); \
    break;
    DTXK_TYPES(DTXK_FIN_CASE_)
#undef DTXK_FIN_CASE_
  }
}

#endif /* DTXK_REDUCE_H */
