/*
 * kernels/fused_colarg.c - the fast path of the CPU fused tasks for the
 * rows of a float64 or float32 leaf reduced by ARGMAX / ARGMIN into
 * per-column states: x.argmax(axis=0), x.argmin(axis=-2), any argmax whose
 * axis is the one before the innermost.
 *
 * The general path folds each element into its column's (value, index)
 * state (fold_each), one compare and branch per element. Here the columns of
 * a plane go in blocks of COLARG_BLOCK: the block keeps its winners apart,
 * values in one array and row numbers in another (held as the leaf's dtype
 * and a same-width integer), so that the compare and the two selects of a
 * row vectorise across the columns; the leaf's rows are read in place, four
 * at a time. After the last row the block's winners are merged into the
 * task's states as fold_each would fold them (dtxk_arg_better_f).
 *
 * Invariant of a block after rows 0..i2 of the plane: for each column, the
 * value and row of NumPy's winner among those rows: the first NaN if there
 * is one, else the first of the greatest (ARGMAX) or least. Rows come in
 * increasing index order, so a later row wins only when strictly better or
 * the first NaN; the merge with the states breaks ties by index, so the
 * result is the general path's whatever the sub-rectangles and chunks.
 * Runs on the task's thread, over the exec the driver gives it; the blocks
 * live on its stack (COLARG_BLOCK values and rows: 8 KiB for float64).
 */
#include <stdint.h>

#include "kernels/fused_path.h"
#include "kernels/reduce.h"

#define COLARG_BLOCK 512 /* columns kept apart at once */

/* ---- the rows of one block ------------------------------------------------------------- */

/* Whether x wins over the winner v so far for a later row: strictly
 * better, or the first NaN (v not NaN). */
#define ARG_TAKES(mn, x, v) (((mn) ? (x) < (v) : (x) > (v)) || ((x) != (x) && (v) == (v)))

/* Folds rows q .. q + 3 (x, x + rs, ...), in order, into the winners (v, w)
 * of n columns, each winner read and written once. Plain loops that GCC
 * vectorises (the selects become masked moves); GCC 12 lowers comparisons
 * of vector-extension types to scalars inside target_clones functions, so
 * these are not written with v8d. */
#define ARG_ROWS4(mn, T, I, x, rs, q, n, v, w)                       \
  do {                                                               \
    const T *x1_ = (x) + (rs), *x2_ = x1_ + (rs), *x3_ = x2_ + (rs); \
    for (int64_t c = 0; c < (n); c++) {                              \
      T b = (v)[c];                                                  \
      I r = (w)[c];                                                  \
      int t = ARG_TAKES(mn, (x)[c], b);                              \
      b = t ? (x)[c] : b;                                            \
      r = t ? (q) : r;                                               \
      t = ARG_TAKES(mn, x1_[c], b);                                  \
      b = t ? x1_[c] : b;                                            \
      r = t ? (q) + 1 : r;                                           \
      t = ARG_TAKES(mn, x2_[c], b);                                  \
      b = t ? x2_[c] : b;                                            \
      r = t ? (q) + 2 : r;                                           \
      t = ARG_TAKES(mn, x3_[c], b);                                  \
      b = t ? x3_[c] : b;                                            \
      r = t ? (q) + 3 : r;                                           \
      (v)[c] = b;                                                    \
      (w)[c] = r;                                                    \
    }                                                                \
  } while (0)

/* Row q (values x) into the winners. */
#define ARG_ROW(mn, T, x, q, n, v, w)  \
  for (int64_t c = 0; c < (n); c++) {  \
    T y_ = (x)[c];                     \
    int t = ARG_TAKES(mn, y_, (v)[c]); \
    (v)[c] = t ? y_ : (v)[c];          \
    (w)[c] = t ? (q) : (w)[c];         \
  }

/* Rows q0 .. e2 of the plane whose row 0 is x0 (row stride rs) into the
 * winners v, w of n columns: four at a time, then one by one. */
#define ARG_ROWS(mn, T, I, x0, rs, q0, e2, n, v, w)                                     \
  do {                                                                                  \
    I q = (q0);                                                                         \
    for (; q + 4 <= (e2); q += 4) ARG_ROWS4(mn, T, I, (x0) + q * (rs), rs, q, n, v, w); \
    for (; q < (e2); q++) ARG_ROW(mn, T, (x0) + q * (rs), q, n, v, w);                  \
  } while (0)

/* float64 winners with int64 rows; float32 winners with int32 rows (one
 * lane width each, so the selects vectorise together). */
HOT static void rows_max_f64(const double *restrict x0, int64_t rs, int64_t q0, int64_t e2, int64_t n,
                             double *restrict v, int64_t *restrict w) {
  ARG_ROWS(0, double, int64_t, x0, rs, q0, e2, n, v, w);
}
HOT static void rows_min_f64(const double *restrict x0, int64_t rs, int64_t q0, int64_t e2, int64_t n,
                             double *restrict v, int64_t *restrict w) {
  ARG_ROWS(1, double, int64_t, x0, rs, q0, e2, n, v, w);
}
HOT static void rows_max_f32(const float *restrict x0, int64_t rs, int32_t q0, int32_t e2, int64_t n,
                             float *restrict v, int32_t *restrict w) {
  ARG_ROWS(0, float, int32_t, x0, rs, q0, e2, n, v, w);
}
HOT static void rows_min_f32(const float *restrict x0, int64_t rs, int32_t q0, int32_t e2, int64_t n,
                             float *restrict v, int32_t *restrict w) {
  ARG_ROWS(1, float, int32_t, x0, rs, q0, e2, n, v, w);
}

/* ---- a block into the states ------------------------------------------------------------- */

/* Folds the block's winners (value vf[c] or vs[c], row w) into the states
 * st[0..n) as fold_each would: index ix0 + row * ixr + c * ixc. */
static void merge_block(int mn, dtxk_arg_st *st, int64_t n, const double *vf, const float *vs,
                        const int64_t *wl, const int32_t *wi, int64_t ix0, int64_t ixr, int64_t ixc) {
  for (int64_t c = 0; c < n; c++) {
    double x = vf != NULL ? vf[c] : (double)vs[c];
    int64_t ix = ix0 + (wl != NULL ? wl[c] : (int64_t)wi[c]) * ixr + c * ixc;
    if (dtxk_arg_better_f(mn, x, ix, st[c].v.f, st[c].idx)) {
      st[c].v.f = x;
      st[c].idx = ix;
    }
  }
}

/* The columns c0 .. c0 + n of the plane whose row 0 is at x0 (row stride
 * rs) and whose states are st: every row, then the merge. */
static void colarg_block_f64(int mn, const double *x0, int64_t rs, int64_t e2, int64_t n, dtxk_arg_st *st,
                             int64_t ix0, int64_t ixr, int64_t ixc) {
  double v[COLARG_BLOCK];
  int64_t w[COLARG_BLOCK];
  for (int64_t c = 0; c < n; c++) {
    v[c] = x0[c];
    w[c] = 0;
  }
  (mn ? rows_min_f64 : rows_max_f64)(x0, rs, 1, e2, n, v, w);
  merge_block(mn, st, n, v, NULL, w, NULL, ix0, ixr, ixc);
}

static void colarg_block_f32(int mn, const float *x0, int64_t rs, int64_t e2, int64_t n, dtxk_arg_st *st,
                             int64_t ix0, int64_t ixr, int64_t ixc) {
  float v[COLARG_BLOCK];
  int32_t w[COLARG_BLOCK];
  for (int64_t c = 0; c < n; c++) {
    v[c] = x0[c];
    w[c] = 0;
  }
  (mn ? rows_min_f32 : rows_max_f32)(x0, rs, 1, (int32_t)e2, n, v, w);
  merge_block(mn, st, n, NULL, v, NULL, w, ix0, ixr, ixc);
}

/* ---- the path ----------------------------------------------------------------------------- */

/* A program that only loads a float64 or float32 leaf, reduced by ARGMAX or
 * ARGMIN over the rows into float64 states; the leaf, or -1. */
static int one_leaf_arg(const dtxi_exec *e) {
  const dtxk_prog *p = e->p;
  const dtxk_instr *in = e->ins;
  if (p->ninstr != 1 || in[0].op != DTXK_I_LOAD || (in[0].dtype != DTXK_F64 && in[0].dtype != DTXK_F32) ||
      p->result != in[0].dst || p->out_kind != DTXK_OUT_REDUCE ||
      (e->red != DTXK_R_ARGMAX && e->red != DTXK_R_ARGMIN) || p->acc != DTXK_F64 ||
      p->out_dtype != in[0].dtype)
    return -1;
  return in[0].a;
}

/* The rows fold into the same contiguous states (the row dimension reduced,
 * the innermost kept), indices growing with the rows. */
static int colarg_match(const dtxi_exec *e, dtxi_path_args *a) {
  a->la = one_leaf_arg(e);
  return a->la >= 0 && !e->inner_reduced && e->ostride[DTXK_DC] == 1 && e->ostride[DTXK_DR] == 0 &&
                 e->astride[DTXK_DR] > 0
             ? DTXI_ROW_FOLD_EACH
             : 0;
}

/* The leaf is memory in the loaded dtype, read in place with unit stride
 * along the rows (not tiled); float32 row numbers fit an int32. */
static int colarg_fits(const dtxi_exec *e, const dtxi_rect *r, dtxi_path_args *a) {
  const dtxk_rleaf *q = &e->rl[a->la];
  return !r->tiled && (q->kind == DTXK_LEAF_TASK || q->kind == DTXK_LEAF_EXT) && !e->leaves[a->la].is_sub &&
         q->dtype == e->ins[0].dtype && q->stride[DTXK_DC] == 1 && r->n[DTXK_DR] < INT32_MAX;
}

/* Plane by plane, the columns in blocks. */
static void colarg_run(dtxi_exec *e, const dtxi_rect *r, const dtxi_path_args *a) {
  const dtxk_rleaf *q = &e->rl[a->la];
  int mn = e->red == DTXK_R_ARGMIN, f64 = q->dtype == DTXK_F64;
  int64_t rs = q->stride[DTXK_DR], e2 = r->n[DTXK_DR], e3 = r->n[DTXK_DC];
  int64_t ixr = e->astride[DTXK_DR], ixc = e->astride[DTXK_DC];
  int64_t i[DTXK_MAX_DIMS] = {0};
  if (e2 == 0) return;
  for (int64_t t = 0, np = dtxi_planes(r); t < np; t++, dtxi_plane_next(r, i)) {
    int64_t off = dtxi_plane_off(q->stride, i), ix0 = 0;
    for (int k = 0; k < DTXK_MAX_DIMS; k++) ix0 += (r->s[k] + i[k]) * e->astride[k];
    dtxk_arg_st *st = (dtxk_arg_st *)(void *)dtxi_out_at(e, r->s, i);
    for (int64_t c0 = 0; c0 < e3; c0 += COLARG_BLOCK) {
      int64_t n = e3 - c0 < COLARG_BLOCK ? e3 - c0 : COLARG_BLOCK;
      if (f64)
        colarg_block_f64(mn, (const double *)(const void *)q->ptr + off + c0, rs, e2, n, st + c0,
                         ix0 + c0 * ixc, ixr, ixc);
      else
        colarg_block_f32(mn, (const float *)(const void *)q->ptr + off + c0, rs, e2, n, st + c0,
                         ix0 + c0 * ixc, ixr, ixc);
    }
  }
}

const dtxi_path_ops dtxi_path_colarg = {colarg_match, colarg_fits, colarg_run};
