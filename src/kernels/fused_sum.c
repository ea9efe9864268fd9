/*
 * kernels/fused_sum.c - the fast path of the CPU fused tasks for a float64
 * leaf summed along its rows: x.sum(), x.mean(), x.sum(axis=-1).
 *
 * A program that only loads a float64 leaf, reduced by SUM (or MEAN, which
 * folds as SUM) over its innermost dimension: each row of the leaf (unit
 * stride, read in place) is folded into its one state straight from memory,
 * in the strips and order of the general path's fold_one (8 lanes added as a
 * tree per strip, strips in order), so sums do not change, without
 * interpreting each strip.
 * Runs on the task's thread, over the exec the driver gives it.
 */
#include "kernels/fused_path.h"

/* Folds the row x[0..n) into *st as fold_one would, strip by strip,
 * prefetching the next strip (of this row, else of the row at next, or
 * nothing when next is NULL). */
HOT static void sum_row(const double *x, int64_t n, const double *next, double *st) {
  for (int64_t j = 0; j < n; j += DTXK_STRIP) {
    int64_t m = n - j < DTXK_STRIP ? n - j : DTXK_STRIP;
    const char *q = j + DTXK_STRIP < n ? (const char *)(x + j + DTXK_STRIP) : (const char *)next;
    int64_t qn = j + DTXK_STRIP < n ? (n - j - DTXK_STRIP < DTXK_STRIP ? n - j - DTXK_STRIP : DTXK_STRIP)
                                    : (next != NULL ? (n < DTXK_STRIP ? n : DTXK_STRIP) : 0);
    for (int64_t b = 0; b < qn * 8; b += 64) __builtin_prefetch(q + b);
    const double *y = x + j;
    double s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= m; i += 8)
      for (int k = 0; k < 8; k++) s8[k] += y[i + k];
    double t = ((s8[0] + s8[1]) + (s8[2] + s8[3])) + ((s8[4] + s8[5]) + (s8[6] + s8[7]));
    for (; i < m; i++) t += y[i];
    *st += t;
  }
}

/* One float64 leaf summed over the innermost dimension (each row into one state). */
static int sum_match(const dtxi_exec *e, dtxi_path_args *a) {
  a->la = dtxi_one_leaf_summed(e);
  return a->la >= 0 && e->inner_reduced ? DTXI_ROW_FOLD_ONE : 0;
}

/* The leaf is float64 memory with unit stride along the rows (not tiled). */
static int sum_fits(const dtxi_exec *e, const dtxi_rect *r, dtxi_path_args *a) {
  return !r->tiled && dtxi_f64_in_place(e, a->la) && e->rl[a->la].stride[DTXK_DC] == 1;
}

static void sum_run(dtxi_exec *e, const dtxi_rect *r, const dtxi_path_args *a) {
  int64_t rs = e->rl[a->la].stride[DTXK_DR], e2 = r->n[DTXK_DR];
  int64_t i[DTXK_MAX_DIMS] = {0};
  for (int64_t t = 0, np = dtxi_planes(r); t < np; t++, dtxi_plane_next(r, i)) {
    i[DTXK_DR] = 0;
    const double *x0 = dtxi_f64_row(e, a->la, i, 0);
    char *o0 = dtxi_out_at(e, r->s, i);
    for (int64_t i2 = 0; i2 < e2; i2++) {
      const double *x = x0 + i2 * rs;
      sum_row(x, r->n[DTXK_DC], i2 + 1 < e2 ? x + rs : NULL, (double *)(void *)dtxi_out_row(e, o0, i2));
    }
  }
}

const dtxi_path_ops dtxi_path_sum = {sum_match, sum_fits, sum_run};
