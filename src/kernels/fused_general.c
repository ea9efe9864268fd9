/*
 * kernels/fused_general.c - the general path of the CPU fused tasks: a
 * program interpreted over one sub-rectangle in strips.
 *
 * The sub-rectangle runs in strips of up to DTXK_STRIP elements of the
 * innermost dimension: each instruction is one tight loop over a strip (the
 * loops are generated from the element functions in kernels/elem.h, and
 * vectorise), registers are strip buffers, and a leaf read with unit stride
 * in its own dtype is used in place. The result strip is written to the
 * output chunk, to host memory, or folded into the partial states of a
 * reduction. The next strip of each streamed leaf is prefetched meanwhile.
 * A leaf read across its rows (a transpose) is copied in DTXK_TR x DTXK_TC
 * tiles along its own rows, the next tile prefetched, so its cache lines
 * serve a whole tile. The order of every addition here is the one the fast
 * paths (kernels/fused_path.h) reproduce. The strip loops are also built for
 * x86-64-v3/v4, chosen at load time.
 * Runs on the task's thread; touches its inputs, its output and the exec's
 * registers and tiles, which it owns (dtxi_general_setup .. _free).
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/fused_path.h"
#include "kernels/reduce.h"
#include "kernels/vmath.h"

/* ---- strip loops generated from the element functions ------------------------------ */

typedef void (*cv_fn)(void *d, const void *s, int64_t ss, int n);
typedef void (*bin_fn)(void *d, const void *a, const void *b, int n);
typedef void (*un_fn)(void *d, const void *a, int n);
typedef void (*wh_fn)(void *d, const void *c, const void *a, const void *b, int n);

#define CVF(DS, DT, SS, ST)                                                        \
  HOT static void cv_##DS##_##SS(void *d, const void *s, int64_t ss, int n) {      \
    DT *o = (DT *)d;                                                               \
    const ST *x = (const ST *)s;                                                   \
    if (ss == 1) {                                                                 \
      for (int i = 0; i < n; i++) o[i] = DTXK_CONVERT(DS, SS, x[i]);               \
    } else {                                                                       \
      for (int i = 0; i < n; i++) o[i] = DTXK_CONVERT(DS, SS, x[(int64_t)i * ss]); \
    }                                                                              \
  }
/* One entry a line, by hand: clang-format cannot lay out this X-macro list stably. */
/* clang-format off */
#define CV_FROM(SS, ST, SID)  \
  CVF(b, dtxk_b, SS, ST)      \
  CVF(i32, int32_t, SS, ST)   \
  CVF(i64, int64_t, SS, ST)   \
  CVF(f32, float, SS, ST)     \
  CVF(f64, double, SS, ST)    \
  CVF(i8, int8_t, SS, ST)     \
  CVF(i16, int16_t, SS, ST)   \
  CVF(u8, uint8_t, SS, ST)    \
  CVF(u16, uint16_t, SS, ST)  \
  CVF(u32, uint32_t, SS, ST)  \
  CVF(u64, uint64_t, SS, ST)  \
  CVF(f16, dtxk_f16, SS, ST)
/* clang-format on */
DTXK_TYPES(CV_FROM)
#define CVT_ROW(DS)                                                                     \
  {                                                                                     \
    [DTXK_BOOL] = cv_##DS##_b, [DTXK_I32] = cv_##DS##_i32, [DTXK_I64] = cv_##DS##_i64,  \
    [DTXK_F32] = cv_##DS##_f32, [DTXK_F64] = cv_##DS##_f64, [DTXK_I8] = cv_##DS##_i8,   \
    [DTXK_I16] = cv_##DS##_i16, [DTXK_U8] = cv_##DS##_u8, [DTXK_U16] = cv_##DS##_u16,   \
    [DTXK_U32] = cv_##DS##_u32, [DTXK_U64] = cv_##DS##_u64, [DTXK_F16] = cv_##DS##_f16, \
  }
#define CVT_ENTRY(S, T, ID) [ID] = CVT_ROW(S),
static const cv_fn cvt[DTXK_NTYPES][DTXK_NTYPES] = {DTXK_TYPES(CVT_ENTRY)};

#define BINF(OP, S, T, R)                                                        \
  HOT static void bin_##OP##_##S(void *d, const void *a, const void *b, int n) { \
    R *o = (R *)d;                                                               \
    const T *x = (const T *)a, *y = (const T *)b;                                \
    for (int i = 0; i < n; i++) o[i] = dtxk_##OP##_##S(x[i], y[i]);              \
  }
/* One entry a line, by hand: clang-format cannot lay out this X-macro list stably. */
/* clang-format off */
#define BIN_TYPES(S, T, ID) \
  BINF(add, S, T, T)        \
  BINF(sub, S, T, T)        \
  BINF(mul, S, T, T)        \
  BINF(div, S, T, T)        \
  BINF(pow, S, T, T)        \
  BINF(minimum, S, T, T)    \
  BINF(maximum, S, T, T)    \
  BINF(eq, S, T, dtxk_b)    \
  BINF(ne, S, T, dtxk_b)    \
  BINF(lt, S, T, dtxk_b)    \
  BINF(le, S, T, dtxk_b)    \
  BINF(gt, S, T, dtxk_b)    \
  BINF(ge, S, T, dtxk_b)    \
  BINF(floor_divide, S, T, T) \
  BINF(mod, S, T, T)
/* clang-format on */
DTXK_TYPES(BIN_TYPES)
#define BIN_ROW(OP)                                                                        \
  {                                                                                        \
    [DTXK_BOOL] = bin_##OP##_b, [DTXK_I32] = bin_##OP##_i32, [DTXK_I64] = bin_##OP##_i64,  \
    [DTXK_F32] = bin_##OP##_f32, [DTXK_F64] = bin_##OP##_f64, [DTXK_I8] = bin_##OP##_i8,   \
    [DTXK_I16] = bin_##OP##_i16, [DTXK_U8] = bin_##OP##_u8, [DTXK_U16] = bin_##OP##_u16,   \
    [DTXK_U32] = bin_##OP##_u32, [DTXK_U64] = bin_##OP##_u64, [DTXK_F16] = bin_##OP##_f16, \
  }
#define BIN_OP_ENTRY(OP, ID) [ID] = BIN_ROW(OP),
static const bin_fn bint[DTXK_NBINARY][DTXK_NTYPES] = {DTXK_BINARY_OPS(BIN_OP_ENTRY)};

#define UNR(OP, S, T, R)                                         \
  HOT static void un_##OP##_##S(void *d, const void *a, int n) { \
    R *o = (R *)d;                                               \
    const T *x = (const T *)a;                                   \
    for (int i = 0; i < n; i++) o[i] = dtxk_##OP##_##S(x[i]);    \
  }
#define UNF(OP, S, T) UNR(OP, S, T, T)
/* One entry a line, by hand: clang-format cannot lay out this X-macro list stably. */
/* clang-format off */
#define UN_FLOAT(S, T) \
  UNF(neg, S, T)       \
  UNF(abs, S, T)       \
  UNF(exp, S, T)       \
  UNF(log, S, T)       \
  UNF(sqrt, S, T)      \
  UNF(sin, S, T)       \
  UNF(cos, S, T)       \
  UNF(tanh, S, T)      \
  UNF(rint, S, T)
/* clang-format on */
UN_FLOAT(f32, float)
UN_FLOAT(f64, double)
UN_FLOAT(f16, dtxk_f16)
#define UN_INT(S, T) UNF(neg, S, T) UNF(abs, S, T)
UN_INT(i8, int8_t)
UN_INT(i16, int16_t)
UN_INT(i32, int32_t)
UN_INT(i64, int64_t)
UN_INT(u8, uint8_t)
UN_INT(u16, uint16_t)
UN_INT(u32, uint32_t)
UN_INT(u64, uint64_t)
UNF(abs, b, dtxk_b)
/* isnan, isinf, isfinite: every dtype, a bool result */
#define UN_CLASS(S, T, ID) UNR(isnan, S, T, dtxk_b) UNR(isinf, S, T, dtxk_b) UNR(isfinite, S, T, dtxk_b)
DTXK_TYPES(UN_CLASS)
#define UN_INTS(OP)                                                                 \
  [DTXK_I8] = un_##OP##_i8, [DTXK_I16] = un_##OP##_i16, [DTXK_I32] = un_##OP##_i32, \
  [DTXK_I64] = un_##OP##_i64, [DTXK_U8] = un_##OP##_u8, [DTXK_U16] = un_##OP##_u16, \
  [DTXK_U32] = un_##OP##_u32, [DTXK_U64] = un_##OP##_u64
#define UN_FLOATS(OP) [DTXK_F16] = un_##OP##_f16, [DTXK_F32] = un_##OP##_f32, [DTXK_F64] = un_##OP##_f64
#define UN_ALL(OP) [DTXK_BOOL] = un_##OP##_b, UN_INTS(OP), UN_FLOATS(OP)
static const un_fn unt[DTXK_NUNARY][DTXK_NTYPES] = {
    {0},
    {UN_INTS(neg), UN_FLOATS(neg)},
    {[DTXK_BOOL] = un_abs_b, UN_INTS(abs), UN_FLOATS(abs)},
    {UN_FLOATS(exp)},
    {UN_FLOATS(log)},
    {UN_FLOATS(sqrt)},
    {UN_FLOATS(sin)},
    {UN_FLOATS(cos)},
    {UN_FLOATS(tanh)},
    {UN_ALL(isnan)},
    {UN_ALL(isinf)},
    {UN_ALL(isfinite)},
    {UN_FLOATS(rint)},
};

#define WHF(S, T, ID)                                                                   \
  HOT static void wh_##S(void *d, const void *c, const void *a, const void *b, int n) { \
    T *o = (T *)d;                                                                      \
    const dtxk_b *k = (const dtxk_b *)c;                                                \
    const T *x = (const T *)a, *y = (const T *)b;                                       \
    for (int i = 0; i < n; i++) o[i] = k[i] ? x[i] : y[i];                              \
  }
DTXK_TYPES(WHF)
#define WH_ENTRY(S, T, ID) [ID] = wh_##S,
static const wh_fn wht[DTXK_NTYPES] = {DTXK_TYPES(WH_ENTRY)};

/* Uniform float64 from consecutive counters: a plain loop the compiler can vectorise. */
HOT static void uniform_f64_strip(uint64_t seed, int64_t flat, double *dst, int n) {
  for (int i = 0; i < n; i++) dst[i] = dtxk_uniform_f64(seed, (uint64_t)(flat + i));
}

/* n values of a generator (of type gt) starting at flat, flat stepping by fs:
 * computed as float64 (float dtypes, bool) or int64 (integers), then converted. */
static void gen_strip(const dtxk_gen *g, int gt, int64_t flat, int64_t fs, void *dst, int n) {
  if (g->kind == DTXK_GEN_UNIFORM && gt == DTXK_F64 && fs == 1) {
    uniform_f64_strip(g->seed, flat, (double *)dst, n);
    return;
  }
  switch (gt) {
    case DTXK_F64:
      for (int i = 0; i < n; i++) ((double *)dst)[i] = dtxk_gen_f64(g, flat + i * fs, gt);
      break;
    case DTXK_F32:
      for (int i = 0; i < n; i++) ((float *)dst)[i] = (float)dtxk_gen_f64(g, flat + i * fs, gt);
      break;
    case DTXK_I64:
      for (int i = 0; i < n; i++) ((int64_t *)dst)[i] = dtxk_gen_i64(g, flat + i * fs);
      break;
    case DTXK_I32:
      for (int i = 0; i < n; i++) ((int32_t *)dst)[i] = (int32_t)dtxk_gen_i64(g, flat + i * fs);
      break;
    case DTXK_BOOL:
      for (int i = 0; i < n; i++) ((dtxk_b *)dst)[i] = dtxk_gen_f64(g, flat + i * fs, gt) != 0;
      break;
    default: {
      int fl = dtxk_is_float(gt);
      for (int i0 = 0; i0 < n; i0 += 64) {
        union {
          double f[64];
          int64_t i[64];
        } tmp;
        int m = n - i0 < 64 ? n - i0 : 64;
        for (int i = 0; i < m; i++) {
          if (fl)
            tmp.f[i] = dtxk_gen_f64(g, flat + (i0 + i) * fs, gt);
          else
            tmp.i[i] = dtxk_gen_i64(g, flat + (i0 + i) * fs);
        }
        cvt[gt][fl ? DTXK_F64 : DTXK_I64]((char *)dst + (size_t)i0 * dtxk_size(gt), &tmp, 1, m);
      }
      break;
    }
  }
}

void dtxi_fill_strip(double v, int t, void *dst, int n) {
  double tmp = v;
  cvt[t][DTXK_F64](dst, &tmp, 0, n);
}

/* ---- reductions over strips ---------------------------------------------------------- */

#ifndef ALWAYS
#define ALWAYS static inline
#endif

/* The rule of ARGMAX (mn 0) / ARGMIN for a later element y against the
 * winner v so far: strictly better, or the first NaN. */
#define ARG_TAKES(mn, y, v) (((mn) ? (y) < (v) : (y) > (v)) | (((y) != (y)) & ((v) == (v))))

#define ARG_LANES 32

/* ARGMAX / ARGMIN of x[0..n) (flat index ix0 + i ixs, ixs > 0) into the
 * state s, as dtxk_red_add_f element by element would: lane k of
 * ARG_LANES keeps the winner of the elements i = k mod ARG_LANES (value and
 * position; a loop over the lanes that GCC vectorises: 32 lanes so that it
 * is not unrolled before, which would leave the selects scalar), then the
 * lanes' winners and the tail fold into s by dtxk_arg_better_f, which breaks
 * ties by index. */
ALWAYS void fold_one_arg(int mn, dtxk_arg_st *s, const double *x, int n, int64_t ix0, int64_t ixs) {
  int i = 0;
  if (n >= 2 * ARG_LANES) {
    double v[ARG_LANES];
    int64_t w[ARG_LANES];
    for (int k = 0; k < ARG_LANES; k++) {
      v[k] = x[k];
      w[k] = k;
    }
    for (i = ARG_LANES; i + ARG_LANES <= n; i += ARG_LANES)
      for (int k = 0; k < ARG_LANES; k++) {
        double y = x[i + k];
        int t = ARG_TAKES(mn, y, v[k]);
        v[k] = t ? y : v[k];
        w[k] = t ? i + k : w[k];
      }
    for (int k = 0; k < ARG_LANES; k++)
      if (dtxk_arg_better_f(mn, v[k], ix0 + w[k] * ixs, s->v.f, s->idx)) {
        s->v.f = v[k];
        s->idx = ix0 + w[k] * ixs;
      }
  }
  for (; i < n; i++)
    if (dtxk_arg_better_f(mn, x[i], ix0 + i * ixs, s->v.f, s->idx)) {
      s->v.f = x[i];
      s->idx = ix0 + i * ixs;
    }
}

#define EXT_LANES 32 /* as ARG_LANES: fewer lanes get unrolled first, and the selects stay scalar */

/* MAX (mn 0) / MIN of x[0..n) into *st as dtxk_red_add_f element by element
 * would: NaN when any element is NaN, else the greatest (least). Lane k of
 * EXT_LANES keeps the extreme of the elements i = k mod EXT_LANES by the
 * same rule (a later element wins when greater, or NaN), a loop GCC
 * vectorises; then the lanes and the tail fold into *st. The lanes change
 * only which of equal values is kept (-0.0 or 0.0) and which NaN. */
ALWAYS void fold_one_ext(int mn, double *st, const double *x, int n) {
  int red = mn ? DTXK_R_MIN : DTXK_R_MAX, i = 0;
  if (n >= 2 * EXT_LANES) {
    double v[EXT_LANES];
    for (int k = 0; k < EXT_LANES; k++) v[k] = x[k];
    for (i = EXT_LANES; i + EXT_LANES <= n; i += EXT_LANES)
      for (int k = 0; k < EXT_LANES; k++) {
        double y = x[i + k];
        int t = (mn ? y < v[k] : y > v[k]) | (y != y);
        v[k] = t ? y : v[k];
      }
    for (int k = 0; k < EXT_LANES; k++) dtxk_red_add_f(red, st, v[k], 0);
  }
  for (; i < n; i++) dtxk_red_add_f(red, st, x[i], 0);
}

/* Folds x[0..n) (acc type) into one state; ix0 / ixs: flat index of x[0] and its step. */
HOT static void fold_one(int red, int acc, void *st, const void *xv, int n, int64_t ix0, int64_t ixs) {
  if (acc == DTXK_F64) {
    const double *x = (const double *)xv;
    switch (red) {
      case DTXK_R_SUM:
      case DTXK_R_MEAN: {
        double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int i = 0;
        for (; i + 8 <= n; i += 8)
          for (int k = 0; k < 8; k++) s[k] += x[i + k];
        double t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
        for (; i < n; i++) t += x[i];
        if (red == DTXK_R_SUM) {
          *(double *)st += t;
        } else {
          ((dtxk_mean_st *)st)->s += t;
          ((dtxk_mean_st *)st)->n += n;
        }
        return;
      }
      case DTXK_R_VAR:
      case DTXK_R_STD: {
        double s = 0;
        for (int i = 0; i < n; i++) s += x[i];
        double m = s / n, m2 = 0;
        for (int i = 0; i < n; i++) m2 += (x[i] - m) * (x[i] - m);
        dtxk_var_st part = {(double)n, m, m2};
        dtxk_red_merge(red, acc, st, &part);
        return;
      }
      case DTXK_R_ARGMAX:
        fold_one_arg(0, (dtxk_arg_st *)st, x, n, ix0, ixs);
        return;
      case DTXK_R_ARGMIN:
        fold_one_arg(1, (dtxk_arg_st *)st, x, n, ix0, ixs);
        return;
      case DTXK_R_MAX:
        fold_one_ext(0, (double *)st, x, n);
        return;
      case DTXK_R_MIN:
        fold_one_ext(1, (double *)st, x, n);
        return;
      default:
        for (int i = 0; i < n; i++) dtxk_red_add_f(red, st, x[i], ix0 + i * ixs);
        return;
    }
  }
  const int64_t *x = (const int64_t *)xv;
  if (red == DTXK_R_SUM) {
    uint64_t s = 0;
    for (int i = 0; i < n; i++) s += (uint64_t)x[i];
    *(int64_t *)st = (int64_t)((uint64_t) * (int64_t *)st + s);
    return;
  }
  for (int i = 0; i < n; i++) dtxk_red_add_i(red, st, x[i], ix0 + i * ixs);
}

/* Folds x[t] into state t, for t in 0..n (states contiguous, ssz bytes each). */
HOT static void fold_each(int red, int acc, char *st, int ssz, const void *xv, int n, int64_t ix0,
                          int64_t ixs) {
  if (acc == DTXK_F64) {
    const double *x = (const double *)xv;
    if (red == DTXK_R_SUM) {
      double *s = (double *)(void *)st;
      for (int i = 0; i < n; i++) s[i] += x[i];
      return;
    }
    if (red == DTXK_R_MEAN) {
      dtxk_mean_st *s = (dtxk_mean_st *)(void *)st;
      for (int i = 0; i < n; i++) {
        s[i].s += x[i];
        s[i].n += 1;
      }
      return;
    }
    if (red == DTXK_R_ARGMAX || red == DTXK_R_ARGMIN) { /* dtxk_red_add_f's rule, without its switch */
      dtxk_arg_st *s = (dtxk_arg_st *)(void *)st;
      int mn = red == DTXK_R_ARGMIN;
      for (int i = 0; i < n; i++) {
        int64_t ix = ix0 + i * ixs;
        if (dtxk_arg_better_f(mn, x[i], ix, s[i].v.f, s[i].idx)) { /* rarely taken: a branch beats a blend */
          s[i].v.f = x[i];
          s[i].idx = ix;
        }
      }
      return;
    }
    for (int i = 0; i < n; i++) dtxk_red_add_f(red, st + (size_t)i * ssz, x[i], ix0 + i * ixs);
    return;
  }
  const int64_t *x = (const int64_t *)xv;
  for (int i = 0; i < n; i++) dtxk_red_add_i(red, st + (size_t)i * ssz, x[i], ix0 + i * ixs);
}

/* Asks for the rh x cw tile of memory leaf r at base to be brought into the
 * cache, walking its contiguous axis (software prefetch: the hardware's
 * stream detectors do not catch tile-sized runs in time). */
static void tile_prefetch(const dtxk_rleaf *r, int64_t base, int64_t rh, int64_t cw) {
  int esz = dtxk_size(r->dtype);
  const char *src = r->ptr + base * esz;
  int64_t s2 = r->stride[DTXK_DR], s3 = r->stride[DTXK_DC];
  if (s3 == 1) {
    for (int64_t q = 0; q < rh; q++)
      for (int64_t c = 0; c < cw * esz; c += 64) __builtin_prefetch(src + q * s2 * esz + c);
  } else if (s2 == 1 || s2 == -1) {
    for (int64_t c = 0; c < cw; c++)
      for (int64_t q = 0; q < rh * esz; q += 64) __builtin_prefetch(src + c * s3 * esz + (s2 < 0 ? -q : q));
  }
}

/* Copies the rh x cw tile of leaf r at element offset base into dst (rows
 * of DTXK_TC elements), reading along the leaf's contiguous axis. */
HOT static void tile_in(const dtxk_rleaf *r, int64_t base, int64_t rh, int64_t cw, char *dst) {
  int esz = dtxk_size(r->dtype);
  const char *src = r->ptr + base * esz;
  int64_t s2 = r->stride[DTXK_DR], s3 = r->stride[DTXK_DC];
  if (esz == 8 && s2 == 1) {
    /* the common case: contiguous runs of the source, vector loads */
    double *t = (double *)(void *)dst;
    for (int64_t c = 0; c < cw; c++) {
      const double *row = (const double *)(const void *)src + c * s3;
      for (int64_t q = 0; q < rh; q++) t[q * DTXK_TC + c] = row[q];
    }
  } else if (esz == 8) {
    const double *x = (const double *)(const void *)src;
    double *t = (double *)(void *)dst;
    for (int64_t c = 0; c < cw; c++)
      for (int64_t q = 0; q < rh; q++) t[q * DTXK_TC + c] = x[q * s2 + c * s3];
  } else if (esz == 4) {
    const float *x = (const float *)(const void *)src;
    float *t = (float *)(void *)dst;
    for (int64_t c = 0; c < cw; c++)
      for (int64_t q = 0; q < rh; q++) t[q * DTXK_TC + c] = x[q * s2 + c * s3];
  } else if (esz == 2) {
    const uint16_t *x = (const uint16_t *)(const void *)src;
    uint16_t *t = (uint16_t *)(void *)dst;
    for (int64_t c = 0; c < cw; c++)
      for (int64_t q = 0; q < rh; q++) t[q * DTXK_TC + c] = x[q * s2 + c * s3];
  } else {
    for (int64_t c = 0; c < cw; c++)
      for (int64_t q = 0; q < rh; q++) dst[q * DTXK_TC + c] = src[q * s2 + c * s3];
  }
}

/* ---- the program over one strip ----------------------------------------------------- */

/* The element offset of leaf li at position i (sub-rectangle relative, in
 * the plane entered last). */
static inline int64_t strip_off(const dtxi_exec *e, int li, const int64_t *i) {
  const int64_t *stride = e->rl[li].stride;
  return e->plane_off[li] + i[DTXK_DR] * stride[DTXK_DR] + i[DTXK_DC] * stride[DTXK_DC];
}

/* Enters the plane pl of sub-rectangle r: what run_strip and load_strip add
 * up over the outer dims is done here once. */
static void enter_plane(dtxi_exec *e, const dtxi_rect *r, const int64_t *pl) {
  e->plane_slot = 0;
  e->plane_ix = 0;
  for (int k = 0; k < DTXK_DR; k++) {
    e->plane_slot += (r->s[k] + pl[k] - e->lo[k]) * e->ostride[k];
    e->plane_ix += (r->s[k] + pl[k]) * e->astride[k];
  }
  for (int li = 0; li < e->p->nleaves; li++) e->plane_off[li] = dtxi_plane_off(e->rl[li].stride, pl);
}

/* Points d at the strip of n values of leaf in->a at i (sub-rectangle
 * relative) in dtype in->dtype: in place when the leaf is memory read with
 * unit stride in that dtype (or its tile copy), else converted into d->buf. */
static void load_strip(const dtxi_exec *e, const dtxk_instr *in, dtxi_reg *d, const int64_t *i, int n) {
  const dtxk_rleaf *r = &e->rl[in->a];
  if (r->kind == 0) {
    dtxi_fill_strip(r->fill, in->dtype, d->buf, n);
    d->p = d->buf;
  } else if (r->kind == DTXK_LEAF_GEN) {
    int64_t flat = r->flat0 + strip_off(e, in->a, i);
    if (r->dtype == in->dtype) {
      gen_strip(r->gen, r->dtype, flat, r->stride[DTXK_DC], d->buf, n);
    } else {
      char tmp[DTXK_STRIP * 8];
      gen_strip(r->gen, r->dtype, flat, r->stride[DTXK_DC], tmp, n);
      cvt[in->dtype][r->dtype](d->buf, tmp, 1, n);
    }
    d->p = d->buf;
  } else if (e->tile[in->a] != NULL) {
    const char *src = e->tile[in->a] +
                      ((i[DTXK_DR] - e->tile_r0) * DTXK_TC + (i[DTXK_DC] - e->tile_c0)) * dtxk_size(r->dtype);
    if (r->dtype == in->dtype) {
      d->p = src;
    } else {
      cvt[in->dtype][r->dtype](d->buf, src, 1, n);
      d->p = d->buf;
    }
  } else {
    const char *src = r->ptr + strip_off(e, in->a, i) * dtxk_size(r->dtype);
    if (r->stride[DTXK_DC] == 1 && r->dtype == in->dtype) {
      d->p = src;
    } else {
      cvt[in->dtype][r->dtype](d->buf, src, r->stride[DTXK_DC], n);
      d->p = d->buf;
    }
  }
}

/* Runs the program over the strip of n elements at i (relative to the
 * sub-rectangle, in the plane entered last; g: the same in global
 * coordinates) and delivers the result. */
static void run_strip(dtxi_exec *e, const int64_t *i, const int64_t *g, int n) {
  const dtxk_prog *p = e->p;
  for (int k = 0; k < p->ninstr; k++) {
    const dtxk_instr *in = &e->ins[k];
    dtxi_reg *d = &e->regs[in->dst];
    switch (in->op) {
      case DTXK_I_LOAD:
        load_strip(e, in, d, i, n);
        break;
      case DTXK_I_CONST:
        break; /* filled once per task */
      case DTXK_I_CAST:
        cvt[in->dtype][in->sub](d->buf, e->regs[in->a].p, 1, n);
        d->p = d->buf;
        break;
      case DTXK_I_UN: {
        dtxk_vm_un f = dtxk_vmath_unary(in->sub, in->dtype); /* SIMD exp, log, ... */
        (f != NULL ? f : unt[in->sub][in->dtype])(d->buf, e->regs[in->a].p, n);
        d->p = d->buf;
        break;
      }
      case DTXK_I_BIN: {
        dtxk_vm_bin f = in->sub == DTXK_BIN_POW ? dtxk_vmath_pow(in->dtype) : NULL;
        (f != NULL ? f : bint[in->sub][in->dtype])(d->buf, e->regs[in->a].p, e->regs[in->b].p, n);
        d->p = d->buf;
        break;
      }
      case DTXK_I_WHERE:
        wht[in->dtype](d->buf, e->regs[in->a].p, e->regs[in->b].p, e->regs[in->c].p, n);
        d->p = d->buf;
        break;
    }
  }
  const void *res = e->regs[p->result].p;
  if (p->out_kind == DTXK_OUT_REDUCE) {
    const void *x = res; /* out_dtype: the result register's dtype */
    if (p->acc == DTXK_U64) {
      const uint64_t *u = (const uint64_t *)res;
      int64_t *f = (int64_t *)(void *)e->acc_buf;
      for (int k = 0; k < n; k++) f[k] = dtxk_acc_flip((int64_t)u[k]);
      x = e->acc_buf;
    } else if (p->out_dtype != p->acc) {
      cvt[p->acc][p->out_dtype](e->acc_buf, res, 1, n);
      x = e->acc_buf;
    }
    int64_t slot = e->plane_slot, ix = e->plane_ix;
    for (int k = DTXK_DR; k < DTXK_MAX_DIMS; k++) {
      slot += (g[k] - e->lo[k]) * e->ostride[k];
      ix += g[k] * e->astride[k];
    }
    char *st = e->out + slot * e->osize;
    if (e->inner_reduced)
      fold_one(e->red, p->acc, st, x, n, ix, e->astride[DTXK_DC]);
    else
      fold_each(e->red, p->acc, st, e->osize, x, n, ix, e->astride[DTXK_DC]);
    return;
  }
  int64_t off = e->plane_slot;
  for (int k = DTXK_DR; k < DTXK_MAX_DIMS; k++) off += (g[k] - e->lo[k]) * e->ostride[k];
  memcpy(e->out + off * e->osize, res, (size_t)n * e->osize);
}

/* ---- the registers ------------------------------------------------------------------- */

int dtxi_general_setup(dtxi_exec *e, const char **why) {
  const dtxk_prog *p = e->p;
  size_t rb = (size_t)DTXK_STRIP * 8;
  char *mem = aligned_alloc(64, rb * (size_t)(p->nregs + 1));
  if (mem == NULL) {
    *why = "out of memory for the strip registers";
    return -1;
  }
  e->regmem = mem;
  for (int r = 0; r < p->nregs; r++) e->regs[r].buf = mem + rb * (size_t)r;
  e->acc_buf = mem + rb * (size_t)p->nregs;
  /* constants, once */
  for (int k = 0; k < p->ninstr; k++) {
    const dtxk_instr *in = &e->ins[k];
    if (in->op != DTXK_I_CONST) continue;
    dtxi_reg *d = &e->regs[in->dst];
    if (dtxk_is_float(in->dtype))
      dtxi_fill_strip(e->consts[in->a].f, in->dtype, d->buf, DTXK_STRIP);
    else
      cvt[in->dtype][DTXK_I64](d->buf, &e->consts[in->a].i, 0, DTXK_STRIP);
    d->p = d->buf;
  }
  return 0;
}

void dtxi_general_free(dtxi_exec *e) {
  for (int li = 0; li < DTXK_MAX_LEAVES; li++) {
    free(e->tile_buf[li]);
    e->tile_buf[li] = NULL;
  }
  free(e->regmem);
  e->regmem = NULL;
}

/* ---- the strips of a sub-rectangle ----------------------------------------------------- */

/* Leaf li, resolved at the current sub-rectangle, is memory read across its
 * rows: it is copied tile by tile. */
static int across_rows(const dtxi_exec *e, int li) {
  const dtxk_rleaf *r = &e->rl[li];
  return (r->kind == DTXK_LEAF_TASK || r->kind == DTXK_LEAF_EXT) &&
         (r->stride[DTXK_DR] == 1 || r->stride[DTXK_DR] == -1) &&
         (r->stride[DTXK_DC] > 1 || r->stride[DTXK_DC] < -1) && !e->leaves[li].is_sub;
}

int dtxi_general_plan_tiles(dtxi_exec *e, const dtxi_rect *r, const char **why) {
  int tiled = 0;
  for (int li = 0; li < e->p->nleaves; li++) {
    e->tile[li] = NULL;
    if (!(across_rows(e, li) && r->n[DTXK_DR] > 1 && r->n[DTXK_DC] > 1)) continue;
    if (e->tile_buf[li] == NULL &&
        (e->tile_buf[li] = aligned_alloc(64, (size_t)DTXK_TR * DTXK_TC * 8)) == NULL) {
      *why = "out of memory for a tile";
      return -1;
    }
    tiled = 1;
  }
  return tiled;
}

/* Asks for the next strip (after the one at i) of each leaf streamed from
 * memory to be brought into the cache. */
static void prefetch_next_strip(const dtxi_exec *e, const dtxi_rect *r, const int64_t *i) {
  int64_t e2 = r->n[DTXK_DR], e3 = r->n[DTXK_DC];
  int64_t nx2 = i[DTXK_DC] + DTXK_STRIP < e3 ? i[DTXK_DR] : i[DTXK_DR] + 1,
          nx3 = i[DTXK_DC] + DTXK_STRIP < e3 ? i[DTXK_DC] + DTXK_STRIP : 0;
  if (nx2 >= e2) return;
  int64_t nn = e3 - nx3 < DTXK_STRIP ? e3 - nx3 : DTXK_STRIP;
  for (int li = 0; li < e->p->nleaves; li++) {
    const dtxk_rleaf *q = &e->rl[li];
    if ((q->kind != DTXK_LEAF_TASK && q->kind != DTXK_LEAF_EXT) || q->stride[DTXK_DC] != 1) continue;
    int esz = dtxk_size(q->dtype);
    const char *a = q->ptr + (dtxi_plane_off(q->stride, i) + nx2 * q->stride[DTXK_DR] + nx3) * esz;
    for (int64_t b = 0; b < nn * esz; b += 64) __builtin_prefetch(a + b);
  }
}

/* The sub-rectangle plane by plane, row by row, each row in strips. */
static void run_strips(dtxi_exec *e, const dtxi_rect *r) {
  int64_t i[DTXK_MAX_DIMS] = {0}, g[DTXK_MAX_DIMS];
  for (int64_t t = 0, np = dtxi_planes(r); t < np; t++, dtxi_plane_next(r, i)) {
    enter_plane(e, r, i);
    for (int k = 0; k < DTXK_DR; k++) g[k] = r->s[k] + i[k];
    for (i[DTXK_DR] = 0; i[DTXK_DR] < r->n[DTXK_DR]; i[DTXK_DR]++)
      for (i[DTXK_DC] = 0; i[DTXK_DC] < r->n[DTXK_DC]; i[DTXK_DC] += DTXK_STRIP) {
        int n = (int)(r->n[DTXK_DC] - i[DTXK_DC] < DTXK_STRIP ? r->n[DTXK_DC] - i[DTXK_DC] : DTXK_STRIP);
        prefetch_next_strip(e, r, i); /* meanwhile */
        g[DTXK_DR] = r->s[DTXK_DR] + i[DTXK_DR];
        g[DTXK_DC] = r->s[DTXK_DC] + i[DTXK_DC];
        run_strip(e, i, g, n);
      }
  }
}

void dtxi_general_tile(dtxi_exec *e, const dtxi_rect *r, const int64_t *pl, int64_t r0, int64_t c0) {
  int64_t e2 = r->n[DTXK_DR], e3 = r->n[DTXK_DC];
  int64_t rh = e2 - r0 < DTXK_TR ? e2 - r0 : DTXK_TR, cw = e3 - c0 < DTXK_TC ? e3 - c0 : DTXK_TC;
  /* the next tile along the row first: its lines arrive while this one is copied */
  if (c0 + DTXK_TC < e3) {
    int64_t ncw = e3 - c0 - DTXK_TC < DTXK_TC ? e3 - c0 - DTXK_TC : DTXK_TC;
    for (int li = 0; li < e->p->nleaves; li++) {
      const dtxk_rleaf *q = &e->rl[li];
      if ((q->kind == DTXK_LEAF_TASK || q->kind == DTXK_LEAF_EXT) && !e->leaves[li].is_sub)
        tile_prefetch(
            q, dtxi_plane_off(q->stride, pl) + r0 * q->stride[DTXK_DR] + (c0 + DTXK_TC) * q->stride[DTXK_DC],
            rh, ncw);
    }
  }
  for (int li = 0; li < e->p->nleaves; li++) {
    const dtxk_rleaf *q = &e->rl[li];
    if (e->tile_buf[li] == NULL || !across_rows(e, li)) {
      e->tile[li] = NULL;
      continue;
    }
    e->tile[li] = e->tile_buf[li];
    tile_in(q, dtxi_plane_off(q->stride, pl) + r0 * q->stride[DTXK_DR] + c0 * q->stride[DTXK_DC], rh, cw,
            e->tile_buf[li]);
  }
  e->tile_r0 = r0;
  e->tile_c0 = c0;
  enter_plane(e, r, pl);
  int64_t i[DTXK_MAX_DIMS], g[DTXK_MAX_DIMS];
  for (int k = 0; k < DTXK_DR; k++) {
    i[k] = pl[k];
    g[k] = r->s[k] + i[k];
  }
  i[DTXK_DC] = c0;
  g[DTXK_DC] = r->s[DTXK_DC] + c0;
  for (i[DTXK_DR] = r0; i[DTXK_DR] < r0 + rh; i[DTXK_DR]++) {
    g[DTXK_DR] = r->s[DTXK_DR] + i[DTXK_DR];
    run_strip(e, i, g, (int)cw);
  }
}

void dtxi_general_run(dtxi_exec *e, const dtxi_rect *r) {
  if (!r->tiled) {
    run_strips(e, r);
    return;
  }
  int64_t pl[DTXK_MAX_DIMS] = {0};
  for (int64_t t = 0, np = dtxi_planes(r); t < np; t++, dtxi_plane_next(r, pl))
    for (int64_t r0 = 0; r0 < r->n[DTXK_DR]; r0 += DTXK_TR)
      for (int64_t c0 = 0; c0 < r->n[DTXK_DC]; c0 += DTXK_TC) dtxi_general_tile(e, r, pl, r0, c0);
}
