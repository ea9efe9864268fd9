/*
 * kernels/fused.c - the CPU implementation of fused tasks and reduction
 * combine tasks.
 *
 * A fused task runs its program (kernels/program.h) over each sub-rectangle
 * of its region, in strips of up to DTXK_STRIP elements of the innermost
 * dimension: each instruction is one tight loop over a strip (the loops are
 * generated from the element functions in kernels/elem.h, and vectorise),
 * registers are strip buffers, and a leaf read with unit stride in its own
 * dtype is used in place. The result strip is written to the output chunk,
 * to host memory, or folded into the partial states of a reduction. The next
 * strip of each streamed leaf is prefetched meanwhile. A leaf read across its
 * rows (a transpose) is copied in DTXK_TR x DTXK_TC tiles along its own rows,
 * the next tile prefetched, so its cache lines serve a whole tile. Mean folds
 * as sums (counts added at the end). Three kinds of program skip the strip
 * machinery: one float64 leaf summed (x.sum(), x.mean(axis=0)) folds its
 * rows straight from memory, the same through a few scalar +, -, *, /
 * ((x * 2 + 1).sum(), or a strided read: x[::3, ::3].sum()) takes blocks
 * through them in registers, and a float64 leaf plus a transposed one
 * (x + x.T) runs in 8 x 8 blocks transposed in registers; all add in the
 * order of the general path, so results are the same bit for bit. The strip
 * loops are also built for x86-64-v3/v4, chosen at load time.
 * Runs on a worker thread (or a simulated GPU's stream thread); touches only
 * its inputs, its output and its own scratch.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/program.h"
#include "kernels/reduce.h"

/* ---- strip loops generated from the element functions ------------------------------ */

/* The strip loops are built for the baseline ISA and, on x86-64 with GCC, also
 * for x86-64-v3 (AVX2) and v4 (AVX-512), picked at load time by the CPU. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define HOT __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define HOT
#endif

typedef void (*cv_fn)(void *d, const void *s, int64_t ss, int n);
typedef void (*bin_fn)(void *d, const void *a, const void *b, int n);
typedef void (*un_fn)(void *d, const void *a, int n);
typedef void (*wh_fn)(void *d, const void *c, const void *a, const void *b, int n);

#define CVF(DS, DT, SS, ST)                                                              \
  HOT static void cv_##DS##_##SS(void *d, const void *s, int64_t ss, int n) {            \
    DT *o = (DT *)d;                                                                     \
    const ST *x = (const ST *)s;                                                         \
    if (ss == 1) {                                                                       \
      for (int i = 0; i < n; i++) o[i] = DTXK_CV_##DS(x[i], DTXK_SF_##SS);               \
    } else {                                                                             \
      for (int i = 0; i < n; i++) o[i] = DTXK_CV_##DS(x[(int64_t)i * ss], DTXK_SF_##SS); \
    }                                                                                    \
  }
#define CV_FROM(SS, ST, SID) \
  CVF(b, dtxk_b, SS, ST)     \
  CVF(i32, int32_t, SS, ST) CVF(i64, int64_t, SS, ST) CVF(f32, float, SS, ST) CVF(f64, double, SS, ST)
DTXK_TYPES(CV_FROM)
#define CVT_ROW(DS) \
  { 0, cv_##DS##_b, cv_##DS##_i32, cv_##DS##_i64, cv_##DS##_f32, cv_##DS##_f64 }
static const cv_fn cvt[DTXK_NTYPES][DTXK_NTYPES] = {{0},          CVT_ROW(b),   CVT_ROW(i32),
                                                    CVT_ROW(i64), CVT_ROW(f32), CVT_ROW(f64)};

#define BINF(OP, S, T, R)                                                        \
  HOT static void bin_##OP##_##S(void *d, const void *a, const void *b, int n) { \
    R *o = (R *)d;                                                               \
    const T *x = (const T *)a, *y = (const T *)b;                                \
    for (int i = 0; i < n; i++) o[i] = dtxk_##OP##_##S(x[i], y[i]);              \
  }
#define BIN_TYPES(S, T, ID)                                                                              \
  BINF(add, S, T, T)                                                                                     \
  BINF(sub, S, T, T)                                                                                     \
  BINF(mul, S, T, T) BINF(div, S, T, T) BINF(pow, S, T, T) BINF(minimum, S, T, T) BINF(maximum, S, T, T) \
      BINF(eq, S, T, dtxk_b) BINF(ne, S, T, dtxk_b) BINF(lt, S, T, dtxk_b) BINF(le, S, T, dtxk_b)        \
          BINF(gt, S, T, dtxk_b) BINF(ge, S, T, dtxk_b)
DTXK_TYPES(BIN_TYPES)
#define BIN_ROW(OP) \
  { 0, bin_##OP##_b, bin_##OP##_i32, bin_##OP##_i64, bin_##OP##_f32, bin_##OP##_f64 }
static const bin_fn bint[14][DTXK_NTYPES] = {{0},          BIN_ROW(add), BIN_ROW(sub),     BIN_ROW(mul),
                                             BIN_ROW(div), BIN_ROW(pow), BIN_ROW(minimum), BIN_ROW(maximum),
                                             BIN_ROW(eq),  BIN_ROW(ne),  BIN_ROW(lt),      BIN_ROW(le),
                                             BIN_ROW(gt),  BIN_ROW(ge)};

#define UNF(OP, S, T)                                            \
  HOT static void un_##OP##_##S(void *d, const void *a, int n) { \
    T *o = (T *)d;                                               \
    const T *x = (const T *)a;                                   \
    for (int i = 0; i < n; i++) o[i] = dtxk_##OP##_##S(x[i]);    \
  }
#define UN_FLOAT(S, T) \
  UNF(neg, S, T)       \
  UNF(abs, S, T) UNF(exp, S, T) UNF(log, S, T) UNF(sqrt, S, T) UNF(sin, S, T) UNF(cos, S, T) UNF(tanh, S, T)
UN_FLOAT(f32, float)
UN_FLOAT(f64, double)
UNF(neg, i32, int32_t)
UNF(abs, i32, int32_t)
UNF(neg, i64, int64_t)
UNF(abs, i64, int64_t)
UNF(abs, b, dtxk_b)
static const un_fn unt[9][DTXK_NTYPES] = {
    {0},
    {0, 0, un_neg_i32, un_neg_i64, un_neg_f32, un_neg_f64},
    {0, un_abs_b, un_abs_i32, un_abs_i64, un_abs_f32, un_abs_f64},
    {0, 0, 0, 0, un_exp_f32, un_exp_f64},
    {0, 0, 0, 0, un_log_f32, un_log_f64},
    {0, 0, 0, 0, un_sqrt_f32, un_sqrt_f64},
    {0, 0, 0, 0, un_sin_f32, un_sin_f64},
    {0, 0, 0, 0, un_cos_f32, un_cos_f64},
    {0, 0, 0, 0, un_tanh_f32, un_tanh_f64},
};

#define WHF(S, T, ID)                                                                   \
  HOT static void wh_##S(void *d, const void *c, const void *a, const void *b, int n) { \
    T *o = (T *)d;                                                                      \
    const dtxk_b *k = (const dtxk_b *)c;                                                \
    const T *x = (const T *)a, *y = (const T *)b;                                       \
    for (int i = 0; i < n; i++) o[i] = k[i] ? x[i] : y[i];                              \
  }
DTXK_TYPES(WHF)
static const wh_fn wht[DTXK_NTYPES] = {0, wh_b, wh_i32, wh_i64, wh_f32, wh_f64};

/* Uniform float64 from consecutive counters: a plain loop the compiler can vectorise. */
HOT static void uniform_f64_strip(uint64_t seed, int64_t flat, double *dst, int n) {
  for (int i = 0; i < n; i++) dst[i] = dtxk_uniform_f64(seed, (uint64_t)(flat + i));
}

/* n values of a generator (of type gt) starting at flat, flat stepping by fs. */
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
    default:
      for (int i = 0; i < n; i++) ((dtxk_b *)dst)[i] = dtxk_gen_f64(g, flat + i * fs, gt) != 0;
      break;
  }
}

static void fill_strip(double v, int t, void *dst, int n) {
  double tmp = v;
  cvt[t][DTXK_F64](dst, &tmp, 0, n);
}

/* ---- reductions over strips ---------------------------------------------------------- */

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
    for (int i = 0; i < n; i++) dtxk_red_add_f(red, st + (size_t)i * ssz, x[i], ix0 + i * ixs);
    return;
  }
  const int64_t *x = (const int64_t *)xv;
  for (int i = 0; i < n; i++) dtxk_red_add_i(red, st + (size_t)i * ssz, x[i], ix0 + i * ixs);
}

/* ---- the program over one region ------------------------------------------------------ */

typedef struct reg {
  const void *p;
  char *buf;
} reg;

typedef struct exec {
  const dtxk_prog *p;
  const dtxk_leaf *leaves;
  const dtxk_instr *ins;
  const dtxk_const *consts;
  reg regs[DTXK_MAX_REGS];
  char *acc_buf;
  dtxk_rleaf rl[DTXK_MAX_LEAVES];
  int64_t lo[4], ostride[4], astride[4];
  char *out; /* chunk, host memory (element 0), or states */
  int osize; /* bytes per output element / state */
  int inner_reduced;
  int red; /* the reduction folded per strip (MEAN folds as SUM) */
  /* leaves read across their rows, copied tile by tile into contiguous rows */
  char *tile[DTXK_MAX_LEAVES];
  int64_t tile_r0, tile_c0;
} exec;

/* Asks for the rh x cw tile of memory leaf r at base to be brought into the
 * cache, walking its contiguous axis (software prefetch: the hardware's
 * stream detectors do not catch tile-sized runs in time). */
static void tile_prefetch(const dtxk_rleaf *r, int64_t base, int64_t rh, int64_t cw) {
  int esz = dtxk_size(r->dtype);
  const char *src = r->ptr + base * esz;
  int64_t s2 = r->stride[2], s3 = r->stride[3];
  if (s3 == 1) {
    for (int64_t q = 0; q < rh; q++)
      for (int64_t c = 0; c < cw * esz; c += 64) __builtin_prefetch(src + q * s2 * esz + c);
  } else if (s2 == 1 || s2 == -1) {
    for (int64_t c = 0; c < cw; c++)
      for (int64_t q = 0; q < rh * esz; q += 64) __builtin_prefetch(src + c * s3 * esz + (s2 < 0 ? -q : q));
  }
}

/* Copies the rh x cw tile of leaf r at (i0, i1, r0, c0) into dst (rows of
 * DTXK_TC elements), reading along the leaf's contiguous axis. */
HOT static void tile_in(const dtxk_rleaf *r, int64_t base, int64_t rh, int64_t cw, char *dst) {
  int esz = dtxk_size(r->dtype);
  const char *src = r->ptr + base * esz;
  int64_t s2 = r->stride[2], s3 = r->stride[3];
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
  } else {
    for (int64_t c = 0; c < cw; c++)
      for (int64_t q = 0; q < rh; q++) dst[q * DTXK_TC + c] = src[q * s2 + c * s3];
  }
}

/* How a direct path (one that runs no strips) delivers a row of values: folded
 * into the row's one state (fold_one), into one state per element
 * (fold_each), or stored. */
enum { ROW_FOLD_ONE = 1, ROW_FOLD_EACH, ROW_STORE };
enum { BIN_ADD = 1 }; /* add's id in DTXK_BINARY_OPS */

/* A float64 memory leaf read in place. */
static int f64_in_place(const dtxk_rleaf *r, const dtxk_leaf *l) {
  return (r->kind == DTXK_LEAF_TASK || r->kind == DTXK_LEAF_EXT) && r->dtype == DTXK_F64 && !l->is_sub;
}

/* ---- vectors of 8 doubles -------------------------------------------------------------- */

/* GCC's vector extension: AVX-512 registers in the x86-64-v4 clone, pairs or
 * quads of narrower ones elsewhere. Vectors travel by pointer: no vector
 * crosses a function boundary, whose ABI would differ between the clones. */
#if defined(__GNUC__)
#define VEC8 1
typedef double v8d __attribute__((vector_size(64)));
#define ALWAYS __attribute__((always_inline)) static inline

ALWAYS void ld8(v8d *v, const double *p) { memcpy(v, p, sizeof *v); }
ALWAYS void st8(double *p, const v8d *v) { memcpy(p, v, sizeof *v); }
/* the lanes added as fold_one adds its 8 partial sums */
ALWAYS double hsum8(const v8d *v) {
  return (((*v)[0] + (*v)[1]) + ((*v)[2] + (*v)[3])) + (((*v)[4] + (*v)[5]) + ((*v)[6] + (*v)[7]));
}
#else
#define VEC8 0
#endif

/* ---- a leaf plus the transpose of another, in 8 x 8 blocks ---------------------------- */

/* The program `LOAD a; LOAD b; ADD` over float64 leaves, reduced by SUM (or
 * MEAN, which folds as SUM) or written as a chunk, where one leaf is read
 * along the region's rows and the other across them (x + x.T): each 8 x 8
 * block of the transposed leaf is loaded as 8 contiguous runs and transposed
 * in registers, so no tile is copied and no strip is interpreted. The sums
 * are formed in exactly the order fold_one / fold_each use on the strips of
 * a DTXK_TR x DTXK_TC tile (8 lanes per row of the tile, the lanes added as
 * a tree, rows in order), so results do not change. */

#if VEC8 && (defined(__clang__) || __GNUC__ >= 12) /* __builtin_shufflevector */
#define PAIR_VEC 1

/* r[j][k] <- r[k][j] */
ALWAYS void tr8x8(v8d *r) {
  v8d t[8], u[8];
  for (int k = 0; k < 8; k += 2) {
    t[k] = __builtin_shufflevector(r[k], r[k + 1], 0, 8, 2, 10, 4, 12, 6, 14);
    t[k + 1] = __builtin_shufflevector(r[k], r[k + 1], 1, 9, 3, 11, 5, 13, 7, 15);
  }
  for (int k = 0; k < 8; k += 4)
    for (int j = 0; j < 2; j++) {
      u[k + j] = __builtin_shufflevector(t[k + j], t[k + j + 2], 0, 1, 8, 9, 4, 5, 12, 13);
      u[k + j + 2] = __builtin_shufflevector(t[k + j], t[k + j + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    }
  for (int k = 0; k < 4; k++) {
    r[k] = __builtin_shufflevector(u[k], u[k + 4], 0, 1, 2, 3, 8, 9, 10, 11);
    r[k + 4] = __builtin_shufflevector(u[k], u[k + 4], 4, 5, 6, 7, 12, 13, 14, 15);
  }
}

/* The operands of one tile: a (rows as apart) and the transposed b (region
 * rows contiguous, columns bs apart), at the tile's first element; na / nb:
 * the same at the next tile (nrh x ncw), or NULL. */
typedef struct pair_ops {
  const double *a, *b, *na, *nb;
  int64_t as, bs, nrh, ncw;
} pair_ops;

/* The rh x cw tile (both multiples of 8) of a plus the transpose b. dst[q]:
 * where row q of the tile goes (its state for FOLD_ONE, its first state or
 * element otherwise). The next tile is prefetched a slice per 8 rows, so its
 * requests spread over this tile's work rather than stall in one burst. */
HOT static void pair_tile(int how, const pair_ops *o, int64_t rh, int64_t cw, double *const *dst) {
  const double *a = o->a, *b = o->b;
  int64_t as = o->as, bs = o->bs, groups = rh / 8;
  for (int64_t rg = 0; rg < rh; rg += 8) {
    if (o->na != NULL) {
      int64_t g = rg / 8;
      for (int64_t q = g * o->nrh / groups; q < (g + 1) * o->nrh / groups; q++)
        for (int64_t c = 0; c < o->ncw * 8; c += 64) __builtin_prefetch((const char *)(o->na + q * as) + c);
      for (int64_t c = g * o->ncw / groups; c < (g + 1) * o->ncw / groups; c++)
        for (int64_t q = 0; q < o->nrh * 8; q += 64) __builtin_prefetch((const char *)(o->nb + c * bs) + q);
    }
    v8d acc[8];
    for (int k = 0; k < 8; k++) acc[k] = (v8d){0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t cb = 0; cb < cw; cb += 8) {
      v8d t[8];
      for (int k = 0; k < 8; k++) ld8(&t[k], b + (cb + k) * bs + rg);
      tr8x8(t);
      for (int k = 0; k < 8; k++) {
        v8d x;
        ld8(&x, a + (rg + k) * as + cb);
        x += t[k];
        if (how == ROW_FOLD_ONE) {
          acc[k] += x;
        } else if (how == ROW_FOLD_EACH) {
          v8d y;
          ld8(&y, dst[rg + k] + cb);
          y += x;
          st8(dst[rg + k] + cb, &y);
        } else {
          st8(dst[rg + k] + cb, &x);
        }
      }
    }
    if (how == ROW_FOLD_ONE)
      for (int k = 0; k < 8; k++) *dst[rg + k] += hsum8(&acc[k]);
  }
}

/* How the program is a pair sum pair_tile can run (ROW_FOLD_ONE ..), or 0;
 * *la / *lb: the leaves of the two loads. */
static int pair_kind(const exec *e, int *la, int *lb) {
  const dtxk_prog *p = e->p;
  if (p->ninstr != 3) return 0;
  const dtxk_instr *in = e->ins;
  if (in[0].op != DTXK_I_LOAD || in[1].op != DTXK_I_LOAD || in[2].op != DTXK_I_BIN || in[2].sub != BIN_ADD ||
      in[0].dtype != DTXK_F64 || in[1].dtype != DTXK_F64 || in[2].dtype != DTXK_F64 ||
      in[0].dst == in[1].dst || p->result != in[2].dst || in[2].dst == in[0].dst || in[2].dst == in[1].dst)
    return 0;
  if (!((in[2].a == in[0].dst && in[2].b == in[1].dst) || (in[2].a == in[1].dst && in[2].b == in[0].dst)))
    return 0;
  *la = in[0].a;
  *lb = in[1].a;
  if (p->out_kind == DTXK_OUT_CHUNK) return p->out_dtype == DTXK_F64 ? ROW_STORE : 0;
  if (p->out_kind != DTXK_OUT_REDUCE || e->red != DTXK_R_SUM || p->acc != DTXK_F64 ||
      p->out_dtype != DTXK_F64)
    return 0;
  if (e->inner_reduced) return ROW_FOLD_ONE;
  return e->ostride[3] == 1 ? ROW_FOLD_EACH : 0;
}
#else
#define PAIR_VEC 0
#endif

/* ---- a memory leaf summed as it streams ---------------------------------------------- */

/* A program that only loads a float64 leaf, reduced by SUM (or MEAN, which
 * folds as SUM): its rows are folded straight from the leaf's memory, in the
 * strips and order of the general path (so sums do not change), without
 * interpreting each strip. */

/* Folds the row x[0..n) into st as fold_one (FOLD_ONE: st is the row's
 * state) or fold_each (FOLD_EACH: st[c] takes x[c]) would, strip by strip.
 * FOLD_ONE prefetches the next strip (of this row, else the row at next);
 * FOLD_EACH leaves the stream to the hardware prefetcher: with the
 * prefetches it measured slower (x.mean(axis=0), 8192^2 on 2 cores: 22.9
 * against 19.6 ms in alternating runs). */
HOT static void stream_row(int how, const double *x, int64_t n, const double *next, double *st) {
  for (int64_t j = 0; j < n; j += DTXK_STRIP) {
    int64_t m = n - j < DTXK_STRIP ? n - j : DTXK_STRIP;
    const char *q = j + DTXK_STRIP < n ? (const char *)(x + j + DTXK_STRIP) : (const char *)next;
    int64_t qn = j + DTXK_STRIP < n ? (n - j - DTXK_STRIP < DTXK_STRIP ? n - j - DTXK_STRIP : DTXK_STRIP)
                                    : (next != NULL ? (n < DTXK_STRIP ? n : DTXK_STRIP) : 0);
    if (how == ROW_FOLD_ONE)
      for (int64_t b = 0; b < qn * 8; b += 64) __builtin_prefetch(q + b);
    const double *y = x + j;
    if (how == ROW_FOLD_ONE) {
      double s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t i = 0;
      for (; i + 8 <= m; i += 8)
        for (int k = 0; k < 8; k++) s8[k] += y[i + k];
      double t = ((s8[0] + s8[1]) + (s8[2] + s8[3])) + ((s8[4] + s8[5]) + (s8[6] + s8[7]));
      for (; i < m; i++) t += y[i];
      *st += t;
    } else {
      double *o = st + j;
      for (int64_t i = 0; i < m; i++) o[i] += y[i];
    }
  }
}

/* Folds the rows x, x + rs, x + 2 rs, x + 3 rs into the states st[0..n) as
 * four fold_each calls in row order would: each state takes the four values
 * one after another, so it is read and written once instead of four times. */
HOT static void stream_rows4(const double *x, int64_t rs, int64_t n, double *st) {
  const double *x1 = x + rs, *x2 = x1 + rs, *x3 = x2 + rs;
  for (int64_t i = 0; i < n; i++) {
    double v = st[i];
    v += x[i];
    v += x1[i];
    v += x2[i];
    v += x3[i];
    st[i] = v;
  }
}

/* How the program is one float64 leaf summed (ROW_FOLD_ONE / ROW_FOLD_EACH)
 * that stream_row can run, or 0; *l: the leaf. */
static int stream_kind(const exec *e, int *l) {
  const dtxk_prog *p = e->p;
  const dtxk_instr *in = e->ins;
  if (p->ninstr != 1 || in[0].op != DTXK_I_LOAD || in[0].dtype != DTXK_F64 || p->result != in[0].dst ||
      p->out_kind != DTXK_OUT_REDUCE || e->red != DTXK_R_SUM || p->acc != DTXK_F64 ||
      p->out_dtype != DTXK_F64)
    return 0;
  *l = in[0].a;
  if (e->inner_reduced) return ROW_FOLD_ONE;
  return e->ostride[3] == 1 ? ROW_FOLD_EACH : 0;
}

/* ---- a memory leaf through scalar arithmetic, summed ---------------------------------- */

/* A program that loads one float64 leaf and applies a short chain of
 * float64 +, -, *, / with constants (or the value itself) to it, say
 * (x * 2 + 1).sum(), reduced by SUM (or MEAN): each block of 64 elements is
 * loaded into registers and taken through the chain there, then folded, in
 * the strips and order of the general path. Each operation rounds on its own
 * as the strip loops do (no contraction: -std=c11, one statement per
 * operation), so results do not change. The leaf may be read with any
 * stride along the rows (x[::3, ::3].sum(): a chain of no operations). */

#if VEC8
#define CHAIN_MAX 8
enum { CH_VC = 0, CH_CV, CH_VV }; /* v op c, c op v, v op v */

typedef struct chain {
  int n;
  uint8_t op[CHAIN_MAX]; /* BIN_ADD .. BIN_DIV */
  uint8_t how[CHAIN_MAX];
  double c[CHAIN_MAX];
} chain;

#define CH_CASE(ID, SYM)                               \
  case ID * 4 + CH_VC:                                 \
    for (int j = 0; j < nv; j++) v[j] = v[j] SYM c;    \
    break;                                             \
  case ID * 4 + CH_CV:                                 \
    for (int j = 0; j < nv; j++) v[j] = c SYM v[j];    \
    break;                                             \
  case ID * 4 + CH_VV:                                 \
    for (int j = 0; j < nv; j++) v[j] = v[j] SYM v[j]; \
    break;

/* The chain over nv vectors (a constant once inlined). */
ALWAYS void chain_v(const chain *ch, v8d *v, int nv) {
  for (int t = 0; t < ch->n; t++) {
    v8d c = (v8d){0, 0, 0, 0, 0, 0, 0, 0} + ch->c[t];
    switch (ch->op[t] * 4 + ch->how[t]) {
      CH_CASE(1, +)
      CH_CASE(2, -)
      CH_CASE(3, *)
      CH_CASE(4, /)
    }
  }
}
/* ... and over one value */
ALWAYS double chain_s(const chain *ch, double x) {
  v8d v = (v8d){0, 0, 0, 0, 0, 0, 0, 0} + x;
  chain_v(ch, &v, 1);
  return v[0];
}
#undef CH_CASE

ALWAYS void ld8s(v8d *v, const double *p, int64_t s, int unit) {
  if (unit) {
    ld8(v, p);
  } else {
    double t[8];
    for (int k = 0; k < 8; k++) t[k] = p[k * s];
    ld8(v, t);
  }
}

/* The row x[0], x[xs], .. (n values, unit: xs is 1) through the chain,
 * folded into st as fold_one (FOLD_ONE: st is the row's state) or fold_each
 * (FOLD_EACH: st[c] takes value c) would, strip by strip. FOLD_ONE
 * prefetches a strip ahead (into the row at next), one block per block
 * folded: prefetching each next strip in one burst, as stream_row does,
 * stalls on the full line-fill buffers and leaves the chain's arithmetic
 * unoverlapped ((x * 2 + 1).sum(), 8192^2 on 2 cores: 0.74 against 0.58 ms
 * a chunk, 0.55 for x.sum(); no software prefetch: 0.66). */
ALWAYS void chain_row_at(int how, const chain *ch, const double *x, int64_t xs, int unit, int64_t n,
                         const double *next, double *st) {
  if (unit) xs = 1;
  for (int64_t j = 0; j < n; j += DTXK_STRIP) {
    int64_t m = n - j < DTXK_STRIP ? n - j : DTXK_STRIP;
    const double *y = x + j * xs;
    int64_t i = 0;
    if (how == ROW_FOLD_ONE) {
      v8d acc = {0, 0, 0, 0, 0, 0, 0, 0};
      for (; i + 64 <= m; i += 64) {
        v8d v[8];
        if (xs > 0) {
          /* the block a strip ahead (a row ahead in rows shorter than a strip) */
          int64_t q = j + i + (n < DTXK_STRIP ? n : DTXK_STRIP);
          uintptr_t a = q < n          ? (uintptr_t)x + (uintptr_t)(q * xs * 8)
                        : next != NULL ? (uintptr_t)next + (uintptr_t)((q - n) * xs * 8)
                                       : 0;
          if (a != 0)
            for (int64_t b = 0; b < 64 * xs * 8; b += 64)
              __builtin_prefetch((const void *)(a + (uintptr_t)b));
        }
        for (int k = 0; k < 8; k++) ld8s(&v[k], y + (i + 8 * k) * xs, xs, unit);
        chain_v(ch, v, 8);
        for (int k = 0; k < 8; k++) acc += v[k];
      }
      for (; i + 8 <= m; i += 8) {
        v8d v;
        ld8s(&v, y + i * xs, xs, unit);
        chain_v(ch, &v, 1);
        acc += v;
      }
      double t = hsum8(&acc);
      for (; i < m; i++) t += chain_s(ch, y[i * xs]);
      *st += t;
    } else {
      double *o = st + j;
      for (; i + 64 <= m; i += 64) {
        v8d v[8];
        for (int k = 0; k < 8; k++) ld8s(&v[k], y + (i + 8 * k) * xs, xs, unit);
        chain_v(ch, v, 8);
        for (int k = 0; k < 8; k++) {
          v8d w;
          ld8(&w, o + i + 8 * k);
          w += v[k];
          st8(o + i + 8 * k, &w);
        }
      }
      for (; i < m; i++) o[i] += chain_s(ch, y[i * xs]);
    }
  }
}

HOT static void chain_row(int how, const chain *ch, const double *x, int64_t xs, int64_t n,
                          const double *next, double *st) {
  if (xs == 1)
    chain_row_at(how, ch, x, xs, 1, n, next, st);
  else
    chain_row_at(how, ch, x, xs, 0, n, next, st);
}

/* How the program is one float64 leaf through a chain chain_row can run
 * (ROW_FOLD_ONE / ROW_FOLD_EACH), or 0; *l: the leaf, *ch: the chain. */
static int chain_kind(const exec *e, int *l, chain *ch) {
  const dtxk_prog *p = e->p;
  const dtxk_instr *in = e->ins;
  if (p->out_kind != DTXK_OUT_REDUCE || e->red != DTXK_R_SUM || p->acc != DTXK_F64 ||
      p->out_dtype != DTXK_F64 || p->ninstr > 2 * CHAIN_MAX + 1)
    return 0;
  /* what each register holds: the chain step whose value it has (the load is
   * step 1), -1 a
   * constant (filled once per task, the last CONST to it winning), 0 nothing */
  int held[DTXK_MAX_REGS] = {0};
  double cval[DTXK_MAX_REGS];
  for (int k = 0; k < p->ninstr; k++) {
    if (in[k].op != DTXK_I_CONST) continue;
    if (in[k].dtype != DTXK_F64 || in[k].dst >= DTXK_MAX_REGS || in[k].a >= p->nconst) return 0;
    held[in[k].dst] = -1;
    cval[in[k].dst] = e->consts[in[k].a].f;
  }
  int step = 0, leaf = -1;
  ch->n = 0;
  for (int k = 0; k < p->ninstr; k++) {
    const dtxk_instr *q = &in[k];
    if (q->op == DTXK_I_CONST) continue;
    if (q->dst >= DTXK_MAX_REGS || held[q->dst] < 0 || q->dtype != DTXK_F64) return 0;
    if (q->op == DTXK_I_LOAD) {
      if (leaf >= 0) return 0;
      leaf = q->a;
    } else if (q->op == DTXK_I_BIN && q->sub >= 1 && q->sub <= 4 && leaf >= 0 && ch->n < CHAIN_MAX &&
               q->a < DTXK_MAX_REGS && q->b < DTXK_MAX_REGS) {
      int va = held[q->a] == step, vb = held[q->b] == step;
      int ca = held[q->a] < 0, cb = held[q->b] < 0;
      if (va && vb) {
        ch->how[ch->n] = CH_VV;
        ch->c[ch->n] = 0;
      } else if (va && cb) {
        ch->how[ch->n] = CH_VC;
        ch->c[ch->n] = cval[q->b];
      } else if (ca && vb) {
        ch->how[ch->n] = CH_CV;
        ch->c[ch->n] = cval[q->a];
      } else {
        return 0;
      }
      ch->op[ch->n++] = q->sub;
    } else {
      return 0;
    }
    held[q->dst] = ++step;
  }
  if (leaf < 0 || held[p->result] != step) return 0;
  *l = leaf;
  if (e->inner_reduced) return ROW_FOLD_ONE;
  return e->ostride[3] == 1 ? ROW_FOLD_EACH : 0;
}
#endif

static void run_strip(exec *e, const int64_t *i, const int64_t *g, int n) {
  const dtxk_prog *p = e->p;
  for (int k = 0; k < p->ninstr; k++) {
    const dtxk_instr *in = &e->ins[k];
    reg *d = &e->regs[in->dst];
    switch (in->op) {
      case DTXK_I_LOAD: {
        const dtxk_rleaf *r = &e->rl[in->a];
        if (r->kind == 0) {
          fill_strip(r->fill, in->dtype, d->buf, n);
          d->p = d->buf;
        } else if (r->kind == DTXK_LEAF_GEN) {
          int64_t flat = r->flat0 + i[0] * r->stride[0] + i[1] * r->stride[1] + i[2] * r->stride[2] +
                         i[3] * r->stride[3];
          if (r->dtype == in->dtype) {
            gen_strip(r->gen, r->dtype, flat, r->stride[3], d->buf, n);
          } else {
            char tmp[DTXK_STRIP * 8];
            gen_strip(r->gen, r->dtype, flat, r->stride[3], tmp, n);
            cvt[in->dtype][r->dtype](d->buf, tmp, 1, n);
          }
          d->p = d->buf;
        } else if (e->tile[in->a] != NULL) {
          const char *src =
              e->tile[in->a] + ((i[2] - e->tile_r0) * DTXK_TC + (i[3] - e->tile_c0)) * dtxk_size(r->dtype);
          if (r->dtype == in->dtype) {
            d->p = src;
          } else {
            cvt[in->dtype][r->dtype](d->buf, src, 1, n);
            d->p = d->buf;
          }
        } else {
          int64_t off = i[0] * r->stride[0] + i[1] * r->stride[1] + i[2] * r->stride[2] + i[3] * r->stride[3];
          const char *src = r->ptr + off * dtxk_size(r->dtype);
          if (r->stride[3] == 1 && r->dtype == in->dtype) {
            d->p = src;
          } else {
            cvt[in->dtype][r->dtype](d->buf, src, r->stride[3], n);
            d->p = d->buf;
          }
        }
        break;
      }
      case DTXK_I_CONST:
        break; /* filled once per task */
      case DTXK_I_CAST:
        cvt[in->dtype][in->sub](d->buf, e->regs[in->a].p, 1, n);
        d->p = d->buf;
        break;
      case DTXK_I_UN:
        unt[in->sub][in->dtype](d->buf, e->regs[in->a].p, n);
        d->p = d->buf;
        break;
      case DTXK_I_BIN:
        bint[in->sub][in->dtype](d->buf, e->regs[in->a].p, e->regs[in->b].p, n);
        d->p = d->buf;
        break;
      case DTXK_I_WHERE:
        wht[in->dtype](d->buf, e->regs[in->a].p, e->regs[in->b].p, e->regs[in->c].p, n);
        d->p = d->buf;
        break;
    }
  }
  const void *res = e->regs[p->result].p;
  if (p->out_kind == DTXK_OUT_REDUCE) {
    const void *x = res; /* out_dtype: the result register's dtype */
    if (p->out_dtype != p->acc) {
      cvt[p->acc][p->out_dtype](e->acc_buf, res, 1, n);
      x = e->acc_buf;
    }
    int64_t slot = 0, ix = 0;
    for (int k = 0; k < 4; k++) {
      slot += (g[k] - e->lo[k]) * e->ostride[k];
      ix += g[k] * e->astride[k];
    }
    char *st = e->out + slot * e->osize;
    if (e->inner_reduced)
      fold_one(e->red, p->acc, st, x, n, ix, e->astride[3]);
    else
      fold_each(e->red, p->acc, st, e->osize, x, n, ix, e->astride[3]);
    return;
  }
  int64_t off = 0;
  for (int k = 0; k < 4; k++) off += (g[k] - e->lo[k]) * e->ostride[k];
  memcpy(e->out + off * e->osize, res, (size_t)n * e->osize);
}

/* Runs the program over the region. out: CHUNK, states (REDUCE) or NULL (EXT). */
static int run_prog(const dtxk_prog *p, const void *const *inputs, int nin, char *out, const char **why) {
  exec e;
  memset(&e, 0, sizeof e);
  e.p = p;
  e.leaves = dtxk_prog_leaves(p);
  e.ins = dtxk_prog_instr(p);
  e.consts = dtxk_prog_consts(p);
  if (p->nregs > DTXK_MAX_REGS || p->nleaves > DTXK_MAX_LEAVES || p->result < 0 || p->result >= p->nregs) {
    *why = "malformed fused program";
    return -1;
  }
  size_t rb = (size_t)DTXK_STRIP * 8;
  char *mem = aligned_alloc(64, rb * (size_t)(p->nregs + 1));
  if (mem == NULL) {
    *why = "out of memory for the strip registers";
    return -1;
  }
  for (int r = 0; r < p->nregs; r++) e.regs[r].buf = mem + rb * (size_t)r;
  e.acc_buf = mem + rb * (size_t)p->nregs;
  /* constants, once */
  for (int k = 0; k < p->ninstr; k++) {
    const dtxk_instr *in = &e.ins[k];
    if (in->op != DTXK_I_CONST) continue;
    reg *d = &e.regs[in->dst];
    if (dtxk_is_float(in->dtype))
      fill_strip(e.consts[in->a].f, in->dtype, d->buf, DTXK_STRIP);
    else
      cvt[in->dtype][DTXK_I64](d->buf, &e.consts[in->a].i, 0, DTXK_STRIP);
    d->p = d->buf;
  }
  /* output addressing over the 4 padded dims */
  int pad = 4 - p->ndim;
  int64_t ext[4];
  double *mean_sums = NULL;
  int64_t mean_slots = 0;
  char *tiles[DTXK_MAX_LEAVES] = {0};
  for (int P = 0; P < 4; P++) {
    int k = P - pad;
    e.lo[P] = k < 0 ? 0 : p->lo[k];
    ext[P] = k < 0 ? 1 : p->hi[k] - p->lo[k];
    e.astride[P] = k < 0 ? 0 : p->arg_stride[k];
  }
  if (p->out_kind == DTXK_OUT_REDUCE) {
    int64_t s = 1;
    for (int P = 3; P >= 0; P--) {
      int k = P - pad;
      int red = k >= 0 && (p->red_mask >> k) & 1;
      e.ostride[P] = red ? 0 : s;
      if (!red) s *= ext[P];
    }
    e.inner_reduced = p->ndim > 0 && (p->red_mask >> (p->ndim - 1)) & 1;
    e.red = p->red;
    e.osize = dtxk_state_size(p->red);
    e.out = out;
    if (p->red == DTXK_R_MEAN) {
      /* sums per slot (contiguous doubles fold fastest), counts at the end */
      int64_t slots = 1;
      for (int P = 0; P < 4; P++)
        if (e.ostride[P] != 0) slots *= ext[P];
      mean_sums = calloc((size_t)slots, sizeof *mean_sums);
      if (mean_sums == NULL) {
        free(mem);
        *why = "out of memory for the partial sums";
        return -1;
      }
      e.red = DTXK_R_SUM;
      e.osize = 8;
      e.out = (char *)mean_sums;
      mean_slots = slots;
    }
  } else if (p->out_kind == DTXK_OUT_EXT) {
    for (int P = 0; P < 4; P++) {
      int k = P - pad;
      e.ostride[P] = k < 0 ? 0 : p->out_stride[k];
    }
    /* address relative to lo */
    int64_t off = 0;
    for (int P = 0; P < 4; P++) off += e.lo[P] * e.ostride[P];
    e.osize = dtxk_size(p->out_dtype);
    e.out = (char *)(uintptr_t)p->out_ext + off * e.osize;
  } else {
    int64_t s = 1;
    for (int P = 3; P >= 0; P--) {
      e.ostride[P] = s;
      s *= ext[P];
    }
    e.osize = dtxk_size(p->out_dtype);
    e.out = out;
  }
#if PAIR_VEC
  int pair_l0 = -1, pair_l1 = -1, pair = pair_kind(&e, &pair_l0, &pair_l1);
#endif
  int stream_l = -1, stream = stream_kind(&e, &stream_l);
#if VEC8
  chain ch;
  int chain_l = -1, chain_how = chain_kind(&e, &chain_l, &ch);
#endif
  dtxk_cuts cuts;
  if (dtxk_plan_cuts(p, &cuts)) {
    free(mem);
    *why = "out of memory planning the task";
    return -1;
  }
  int rc = 0;
  int64_t s[4], i[4], g[4];
  for (int a = 0; a + 1 < cuts.n[0] && rc == 0; a++)
    for (int b = 0; b + 1 < cuts.n[1] && rc == 0; b++)
      for (int c = 0; c + 1 < cuts.n[2] && rc == 0; c++)
        for (int d = 0; d + 1 < cuts.n[3] && rc == 0; d++) {
          s[0] = cuts.c[0][a];
          s[1] = cuts.c[1][b];
          s[2] = cuts.c[2][c];
          s[3] = cuts.c[3][d];
          int64_t e0 = cuts.c[0][a + 1] - s[0], e1 = cuts.c[1][b + 1] - s[1], e2 = cuts.c[2][c + 1] - s[2],
                  e3 = cuts.c[3][d + 1] - s[3];
          if (dtxk_resolve(p, inputs, nin, s, e.rl, why)) {
            rc = -1;
            break;
          }
          /* A leaf read across its rows (a transpose) is copied tile by tile
           * into contiguous rows, reading it along its own rows. */
          int tiled = 0;
          for (int li = 0; li < p->nleaves; li++) {
            const dtxk_rleaf *r = &e.rl[li];
            e.tile[li] = NULL;
            if ((r->kind == DTXK_LEAF_TASK || r->kind == DTXK_LEAF_EXT) &&
                (r->stride[2] == 1 || r->stride[2] == -1) && (r->stride[3] > 1 || r->stride[3] < -1) &&
                e2 > 1 && e3 > 1 && !e.leaves[li].is_sub) {
              if (tiles[li] == NULL &&
                  (tiles[li] = aligned_alloc(64, (size_t)DTXK_TR * DTXK_TC * 8)) == NULL) {
                *why = "out of memory for a tile";
                rc = -1;
                break;
              }
              tiled = 1;
            }
          }
          if (rc) break;
#if PAIR_VEC
          /* x + x.T: the leaf read along the rows and the one read across them */
          int pair_a = -1, pair_b = -1;
          if (tiled && pair) {
            const dtxk_rleaf *q0 = &e.rl[pair_l0], *q1 = &e.rl[pair_l1];
            int in_mem = f64_in_place(q0, &e.leaves[pair_l0]) && f64_in_place(q1, &e.leaves[pair_l1]);
            if (in_mem && q0->stride[3] == 1 && q1->stride[2] == 1 && q1->stride[3] > 1) {
              pair_a = pair_l0;
              pair_b = pair_l1;
            } else if (in_mem && q1->stride[3] == 1 && q0->stride[2] == 1 && q0->stride[3] > 1) {
              pair_a = pair_l1;
              pair_b = pair_l0;
            }
          }
#endif
          /* x.sum(), x.mean(axis=0): the leaf's rows folded as they stream */
          if (!tiled && stream && f64_in_place(&e.rl[stream_l], &e.leaves[stream_l]) &&
              e.rl[stream_l].stride[3] == 1) {
            const dtxk_rleaf *r = &e.rl[stream_l];
            const double *base = (const double *)(const void *)r->ptr;
            for (i[0] = 0; i[0] < e0; i[0]++)
              for (i[1] = 0; i[1] < e1; i[1]++)
                for (i[2] = 0; i[2] < e2;) {
                  i[3] = 0;
                  int64_t off = 0;
                  for (int k = 0; k < 4; k++) off += (s[k] + i[k] - e.lo[k]) * e.ostride[k];
                  const double *x = base + i[0] * r->stride[0] + i[1] * r->stride[1] + i[2] * r->stride[2];
                  double *st = (double *)(void *)(e.out + off * e.osize);
                  if (stream == ROW_FOLD_EACH && e.ostride[2] == 0 && e2 - i[2] >= 4) {
                    /* rows that fold into the same states, four at a time */
                    stream_rows4(x, r->stride[2], e3, st);
                    i[2] += 4;
                    continue;
                  }
                  stream_row(stream, x, e3, i[2] + 1 < e2 ? x + r->stride[2] : NULL, st);
                  i[2]++;
                }
            continue;
          }
#if VEC8
          /* (x * 2 + 1).sum(), x[::3, ::3].sum(): the chain applied in registers */
          if (!tiled && chain_how && f64_in_place(&e.rl[chain_l], &e.leaves[chain_l])) {
            const dtxk_rleaf *r = &e.rl[chain_l];
            const double *base = (const double *)(const void *)r->ptr;
            for (i[0] = 0; i[0] < e0; i[0]++)
              for (i[1] = 0; i[1] < e1; i[1]++)
                for (i[2] = 0; i[2] < e2; i[2]++) {
                  i[3] = 0;
                  int64_t off = 0;
                  for (int k = 0; k < 4; k++) off += (s[k] + i[k] - e.lo[k]) * e.ostride[k];
                  const double *x = base + i[0] * r->stride[0] + i[1] * r->stride[1] + i[2] * r->stride[2];
                  chain_row(chain_how, &ch, x, r->stride[3], e3, i[2] + 1 < e2 ? x + r->stride[2] : NULL,
                            (double *)(void *)(e.out + off * e.osize));
                }
            continue;
          }
#endif
          if (!tiled) {
            for (i[0] = 0; i[0] < e0; i[0]++)
              for (i[1] = 0; i[1] < e1; i[1]++)
                for (i[2] = 0; i[2] < e2; i[2]++)
                  for (i[3] = 0; i[3] < e3; i[3] += DTXK_STRIP) {
                    int n = (int)(e3 - i[3] < DTXK_STRIP ? e3 - i[3] : DTXK_STRIP);
                    /* the next strip of each streamed leaf, meanwhile */
                    int64_t nx2 = i[3] + DTXK_STRIP < e3 ? i[2] : i[2] + 1,
                            nx3 = i[3] + DTXK_STRIP < e3 ? i[3] + DTXK_STRIP : 0;
                    if (nx2 < e2) {
                      int64_t nn = e3 - nx3 < DTXK_STRIP ? e3 - nx3 : DTXK_STRIP;
                      for (int li = 0; li < p->nleaves; li++) {
                        const dtxk_rleaf *r = &e.rl[li];
                        if ((r->kind != DTXK_LEAF_TASK && r->kind != DTXK_LEAF_EXT) || r->stride[3] != 1)
                          continue;
                        int esz = dtxk_size(r->dtype);
                        const char *q =
                            r->ptr +
                            (i[0] * r->stride[0] + i[1] * r->stride[1] + nx2 * r->stride[2] + nx3) * esz;
                        for (int64_t b2 = 0; b2 < nn * esz; b2 += 64) __builtin_prefetch(q + b2);
                      }
                    }
                    for (int k = 0; k < 4; k++) g[k] = s[k] + i[k];
                    run_strip(&e, i, g, n);
                  }
            continue;
          }
          for (i[0] = 0; i[0] < e0; i[0]++)
            for (i[1] = 0; i[1] < e1; i[1]++)
              for (int64_t r0 = 0; r0 < e2; r0 += DTXK_TR)
                for (int64_t c0 = 0; c0 < e3; c0 += DTXK_TC) {
                  int64_t rh = e2 - r0 < DTXK_TR ? e2 - r0 : DTXK_TR,
                          cw = e3 - c0 < DTXK_TC ? e3 - c0 : DTXK_TC;
#if PAIR_VEC
                  if (pair_a >= 0 && rh % 8 == 0 && cw % 8 == 0) {
                    const dtxk_rleaf *ra = &e.rl[pair_a], *rt = &e.rl[pair_b];
                    double *dst[DTXK_TR];
                    for (int64_t q = 0; q < rh; q++) {
                      i[2] = r0 + q;
                      i[3] = c0;
                      int64_t off = 0;
                      for (int k = 0; k < 4; k++) off += (s[k] + i[k] - e.lo[k]) * e.ostride[k];
                      dst[q] = (double *)(void *)(e.out + off * e.osize);
                    }
                    const double *a0 = (const double *)(const void *)ra->ptr + i[0] * ra->stride[0] +
                                       i[1] * ra->stride[1],
                                 *b0 = (const double *)(const void *)rt->ptr + i[0] * rt->stride[0] +
                                       i[1] * rt->stride[1];
                    pair_ops o = {.a = a0 + r0 * ra->stride[2] + c0,
                                  .b = b0 + r0 + c0 * rt->stride[3],
                                  .as = ra->stride[2],
                                  .bs = rt->stride[3]};
                    /* the next tile: along the row, else the first of the next row of tiles */
                    int64_t nr = c0 + DTXK_TC < e3 ? r0 : r0 + DTXK_TR,
                            nc = c0 + DTXK_TC < e3 ? c0 + DTXK_TC : 0;
                    if (nr < e2) {
                      o.na = a0 + nr * o.as + nc;
                      o.nb = b0 + nr + nc * o.bs;
                      o.nrh = e2 - nr < DTXK_TR ? e2 - nr : DTXK_TR;
                      o.ncw = e3 - nc < DTXK_TC ? e3 - nc : DTXK_TC;
                    }
                    pair_tile(pair, &o, rh, cw, dst);
                    continue;
                  }
#endif
                  /* the next tile along the row first: its lines arrive while this one is copied */
                  if (c0 + DTXK_TC < e3) {
                    int64_t ncw = e3 - c0 - DTXK_TC < DTXK_TC ? e3 - c0 - DTXK_TC : DTXK_TC;
                    for (int li = 0; li < p->nleaves; li++) {
                      const dtxk_rleaf *r = &e.rl[li];
                      if ((r->kind == DTXK_LEAF_TASK || r->kind == DTXK_LEAF_EXT) && !e.leaves[li].is_sub)
                        tile_prefetch(r,
                                      i[0] * r->stride[0] + i[1] * r->stride[1] + r0 * r->stride[2] +
                                          (c0 + DTXK_TC) * r->stride[3],
                                      rh, ncw);
                    }
                  }
                  for (int li = 0; li < p->nleaves; li++) {
                    const dtxk_rleaf *r = &e.rl[li];
                    if (tiles[li] == NULL ||
                        !((r->kind == DTXK_LEAF_TASK || r->kind == DTXK_LEAF_EXT) &&
                          (r->stride[2] == 1 || r->stride[2] == -1) &&
                          (r->stride[3] > 1 || r->stride[3] < -1) && !e.leaves[li].is_sub)) {
                      e.tile[li] = NULL;
                      continue;
                    }
                    e.tile[li] = tiles[li];
                    tile_in(r,
                            i[0] * r->stride[0] + i[1] * r->stride[1] + r0 * r->stride[2] + c0 * r->stride[3],
                            rh, cw, tiles[li]);
                  }
                  e.tile_r0 = r0;
                  e.tile_c0 = c0;
                  for (i[2] = r0; i[2] < r0 + rh; i[2]++) {
                    i[3] = c0;
                    for (int k = 0; k < 4; k++) g[k] = s[k] + i[k];
                    run_strip(&e, i, g, (int)cw);
                  }
                }
        }
  dtxk_cuts_free(&cuts);
  for (int li = 0; li < p->nleaves; li++) free(tiles[li]);
  if (mean_sums != NULL) {
    int64_t count = 1;
    for (int k = 0; k < p->ndim; k++)
      if ((p->red_mask >> k) & 1) count *= p->hi[k] - p->lo[k];
    dtxk_mean_st *st = (dtxk_mean_st *)(void *)out;
    for (int64_t q = 0; q < mean_slots; q++) {
      st[q].s += mean_sums[q];
      st[q].n += (double)count;
    }
    free(mean_sums);
  }
  free(mem);
  return rc;
}

static int64_t region_elems(const dtxk_prog *p, int kept_only) {
  int64_t n = 1;
  for (int k = 0; k < p->ndim; k++)
    if (!kept_only || !((p->red_mask >> k) & 1)) n *= p->hi[k] - p->lo[k];
  return n;
}

int dtxk_run_chunk(const void *prog, const void *const *inputs, int nin, void *out, const char **why) {
  const dtxk_prog *p = (const dtxk_prog *)prog;
  if (p->out_kind != DTXK_OUT_CHUNK) {
    *why = "the embedded program does not make a chunk";
    return -1;
  }
  return run_prog(p, inputs, nin, (char *)out, why);
}

int dtxk_fused_cpu(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_prog *p = (const dtxk_prog *)dtx_task_args(ctx, &asz);
  if (p == NULL || asz < sizeof *p || dtxk_prog_size(p) != asz)
    return dtx_task_fail(ctx, "malformed fused-task arguments");
  int nin = dtx_task_num_inputs(ctx);
  const void **inputs = calloc((size_t)(nin > 0 ? nin : 1), sizeof *inputs);
  if (inputs == NULL) return dtx_task_fail(ctx, "out of memory");
  for (int i = 0; i < nin; i++) inputs[i] = dtx_task_input(ctx, i, NULL);
  const char *why = NULL;
  int rc = 0;
  if (p->out_kind == DTXK_OUT_CHUNK) {
    int64_t n = region_elems(p, 0);
    char *out = dtx_task_output(ctx, (size_t)n * (size_t)dtxk_size(p->out_dtype));
    if (out == NULL)
      rc = dtx_task_fail(ctx, "out of memory for a %lld-element chunk", (long long)n);
    else if (run_prog(p, inputs, nin, out, &why))
      rc = dtx_task_fail(ctx, "%s", why);
  } else if (p->out_kind == DTXK_OUT_EXT) {
    if (run_prog(p, inputs, nin, NULL, &why)) rc = dtx_task_fail(ctx, "%s", why);
  } else {
    int64_t slots = region_elems(p, 1);
    int ssz = dtxk_state_size(p->red);
    char *st =
        p->finalize ? malloc((size_t)slots * (size_t)ssz) : dtx_task_output(ctx, (size_t)slots * (size_t)ssz);
    if (st == NULL) {
      rc = dtx_task_fail(ctx, "out of memory for %lld reduction states", (long long)slots);
    } else {
      for (int64_t s = 0; s < slots; s++) dtxk_red_init(p->red, p->acc, st + s * ssz);
      if (run_prog(p, inputs, nin, st, &why)) {
        rc = dtx_task_fail(ctx, "%s", why);
      } else if (p->finalize) {
        int fsz = dtxk_size(p->fin_dtype);
        char *out = dtx_task_output(ctx, (size_t)slots * (size_t)fsz);
        if (out == NULL)
          rc = dtx_task_fail(ctx, "out of memory");
        else
          for (int64_t s = 0; s < slots; s++)
            dtxk_red_final(p->red, p->acc, p->fin_dtype, p->ddof, st + s * ssz, out + s * fsz);
      }
      if (p->finalize) free(st);
    }
  }
  free(inputs);
  return rc;
}

int dtxk_combine_cpu(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_combine *c = (const dtxk_combine *)dtx_task_args(ctx, &asz);
  if (c == NULL || asz != sizeof *c) return dtx_task_fail(ctx, "malformed combine-task arguments");
  int ssz = dtxk_state_size(c->red);
  size_t bytes = (size_t)c->nslots * (size_t)ssz;
  char *st = malloc(bytes > 0 ? bytes : 1);
  if (st == NULL) return dtx_task_fail(ctx, "out of memory");
  for (int64_t s = 0; s < c->nslots; s++) dtxk_red_init(c->red, c->acc, st + s * ssz);
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) {
    size_t n = 0;
    const char *in = dtx_task_input(ctx, i, &n);
    if (n != bytes) {
      free(st);
      return dtx_task_fail(ctx, "input %d holds %zu bytes of partial states, expected %zu", i, n, bytes);
    }
    for (int64_t s = 0; s < c->nslots; s++) dtxk_red_merge(c->red, c->acc, st + s * ssz, in + s * ssz);
  }
  int rc = 0;
  if (c->finalize) {
    int fsz = dtxk_size(c->fin_dtype);
    char *out = dtx_task_output(ctx, (size_t)c->nslots * (size_t)fsz);
    if (out == NULL)
      rc = dtx_task_fail(ctx, "out of memory");
    else
      for (int64_t s = 0; s < c->nslots; s++)
        dtxk_red_final(c->red, c->acc, c->fin_dtype, c->ddof, st + s * ssz, out + s * fsz);
  } else {
    char *out = dtx_task_output(ctx, bytes);
    if (out == NULL)
      rc = dtx_task_fail(ctx, "out of memory");
    else
      memcpy(out, st, bytes);
  }
  free(st);
  return rc;
}
