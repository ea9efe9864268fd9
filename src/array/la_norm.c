/*
 * array/la_norm.c - numpy.linalg.norm over the array layer's reductions:
 * vector norms (2, 1, inf, -inf, 0, any p) along one axis, matrix norms
 * (fro, 1, -1, inf, -inf from sums of |x| then max / min; 2, -2, nuc from
 * the singular values) over two. Reductions keep their axes (so the axes
 * never shift) and the reduced ones are dropped at the end unless keepdims.
 * A complex x: the singular-value norms from its (complex) SVD, every other
 * norm the same norm of |x|. The calling thread only.
 */
#include <math.h>

#include "array/complex.h"
#include "array/la.h"
#include "base/error.h"

static dtx_array *red(dtx_reduction r, const dtx_array *x, const int *axes, int n) {
  dtx_reduce_opts o = DTX_REDUCE_OPTS_INIT;
  o.keepdims = 1;
  return dtx_reduce(x, r, axes, n, &o);
}

/* Drops the axes flagged in mask (each of length 1 now). */
static dtx_array *drop(dtx_array *x, unsigned mask) {
  if (x == NULL) return NULL;
  dtx_index ix[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++)
    ix[d] = (mask >> d) & 1 ? (dtx_index){DTX_INDEX_INT, 0, 0, 0}
                            : (dtx_index){DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1};
  return dtx_slice(x, x->ndim, ix);
}

static dtx_array *vector_norm(const char *fn, dtx_array *x, dtx_norm_ord ord, double p, int ax) {
  dtx_array *ab = dtx_abs(x);
  switch (ord) {
    case DTX_NORM_INF:
      return red(DTX_MAX, ab, &ax, 1);
    case DTX_NORM_NEG_INF:
      return red(DTX_MIN, ab, &ax, 1);
    case DTX_NORM_DEFAULT:
      p = 2;
      break;
    case DTX_NORM_P:
      break;
    default:
      dtxi_fail(DTX_EINVAL, "%s: invalid norm order for vectors (fro and nuc are for matrices)", fn);
      return NULL;
  }
  if (isinf(p)) return red(p > 0 ? DTX_MAX : DTX_MIN, ab, &ax, 1);
  if (p == 0) return red(DTX_SUM, dtx_astype(dtx_binary_scalar(DTX_NE, x, 0.0), x->dtype), &ax, 1);
  if (p == 1) return red(DTX_SUM, ab, &ax, 1);
  if (p == 2) return dtx_sqrt(red(DTX_SUM, dtx_mul(x, x), &ax, 1));
  return dtx_binary_scalar(DTX_POW, red(DTX_SUM, dtx_binary_scalar(DTX_POW, ab, p), &ax, 1), 1.0 / p);
}

static dtx_array *sv_norm(const char *fn, dtx_array *x, dtx_reduction r) {
  if (x->ndim != 2) {
    dtxi_fail(DTX_EINVAL, "%s: 2, -2 and nuc norms take 2-d matrices (x is %d-d)", fn, x->ndim);
    return NULL;
  }
  dtx_array *u, *s, *vt;
  if (dtxa_svd(x, &u, &s, &vt) != DTX_OK) return NULL;
  return r == DTX_SUM ? dtx_sum(s, NULL, 0) : r == DTX_MAX ? dtx_max(s, NULL, 0) : dtx_min(s, NULL, 0);
}

static dtx_array *matrix_norm(const char *fn, dtx_array *x, dtx_norm_ord ord, double p, int r, int c) {
  int both[2] = {r, c};
  switch (ord) {
    case DTX_NORM_DEFAULT:
    case DTX_NORM_FRO:
      return dtx_sqrt(red(DTX_SUM, dtx_mul(x, x), both, 2));
    case DTX_NORM_NUC:
      return sv_norm(fn, x, DTX_SUM);
    case DTX_NORM_INF:
      return red(DTX_MAX, red(DTX_SUM, dtx_abs(x), &c, 1), &r, 1);
    case DTX_NORM_NEG_INF:
      return red(DTX_MIN, red(DTX_SUM, dtx_abs(x), &c, 1), &r, 1);
    case DTX_NORM_P:
      if (p == 1 || p == -1) return red(p > 0 ? DTX_MAX : DTX_MIN, red(DTX_SUM, dtx_abs(x), &r, 1), &c, 1);
      if (p == 2 || p == -2) return sv_norm(fn, x, p > 0 ? DTX_MAX : DTX_MIN);
      if (isinf(p)) return matrix_norm(fn, x, p > 0 ? DTX_NORM_INF : DTX_NORM_NEG_INF, 0, r, c);
      break;
  }
  dtxi_fail(DTX_EINVAL, "%s: invalid norm order %g for matrices (fro, nuc, inf, -inf, 1, -1, 2, -2)", fn, p);
  return NULL;
}

static dtx_array *norm_build(const char *fn, const dtx_array *x0, dtx_norm_ord ord, double p, const int *axes,
                             int naxes, int keepdims) {
  dtx_array *x = dtxa_la_float(x0);
  if (x == NULL) return NULL;
  int nd = x->ndim, ax[2];
  for (int i = 0; i < naxes; i++) {
    ax[i] = axes[i] < 0 ? axes[i] + nd : axes[i];
    if (ax[i] < 0 || ax[i] >= nd) {
      dtxi_fail(DTX_EINVAL, "%s: axis %d is out of range for a %d-d array", fn, axes[i], nd);
      return NULL;
    }
  }
  if (naxes == 2 && ax[0] == ax[1]) {
    dtxi_fail(DTX_EINVAL, "%s: the two axes are the same (%d)", fn, ax[0]);
    return NULL;
  }
  dtx_array *r;
  unsigned mask;
  if (naxes == 0 && (ord == DTX_NORM_DEFAULT || nd == 0)) {
    r = dtx_sqrt(red(DTX_SUM, dtx_mul(x, x), NULL, 0));
    mask = (1u << nd) - 1;
  } else if (naxes == 1 || (naxes == 0 && nd == 1)) {
    int a = naxes == 1 ? ax[0] : 0;
    r = vector_norm(fn, x, ord, p, a);
    mask = 1u << a;
  } else if (naxes == 2 || (naxes == 0 && nd == 2)) {
    int a = naxes == 2 ? ax[0] : 0, b = naxes == 2 ? ax[1] : 1;
    r = matrix_norm(fn, x, ord, p, a, b);
    mask = (1u << a) | (1u << b);
    if (r != NULL && r->ndim == 0 && keepdims) { /* from the singular values: 0-d */
      dtx_index na[DTX_ARRAY_MAX_DIMS];
      for (int d = 0; d < nd; d++) na[d] = (dtx_index){DTX_INDEX_NEWAXIS, 0, 0, 0};
      return dtx_slice(r, nd, na);
    }
    if (r != NULL && r->ndim == 0) return r;
  } else {
    dtxi_fail(DTX_EINVAL, "%s: %s; give 1 axis (vector norms) or 2 (matrix norms)", fn,
              naxes > 2 ? "more than 2 axes" : "a >2-d array needs axes for this order");
    return NULL;
  }
  return keepdims ? r : drop(r, mask);
}

dtx_array *dtx_linalg_norm(const dtx_array *x, dtx_norm_ord ord, double p, const int *axes, int naxes,
                           int keepdims) {
  const char *fn = "dtx_linalg_norm";
  if (x == NULL) return NULL;
  if (naxes < 0 || (naxes > 0 && axes == NULL)) {
    dtxi_fail(DTX_EINVAL, "%s: naxes is %d with axes %s", fn, naxes, axes == NULL ? "NULL" : "given");
    return NULL;
  }
  int svd = ord == DTX_NORM_NUC ||
            (ord == DTX_NORM_P && (p == 2 || p == -2) && (naxes == 2 || (naxes == 0 && x->ndim == 2)));
  if (dtxa_cx_in(x) && !svd) { /* every norm but those of singular values is the same norm of |x| */
    dtx_array_scope_begin();
    dtx_array *r = dtx_linalg_norm(dtx_abs(x), ord, p, axes, naxes, keepdims);
    if (r != NULL) dtx_array_keep(r);
    dtx_array_scope_end();
    return r != NULL ? dtxa_ret(r) : NULL;
  }
  if (svd && dtxa_la_check(fn, x, 0) != DTX_OK) return NULL;
  dtx_array_scope_begin();
  dtx_array *r = norm_build(fn, x, ord, p, axes, naxes, keepdims), *out = NULL;
  dtx_status rc = dtxa_la_finish(r != NULL ? DTX_OK : DTX_EINVAL, 1, (dtx_array * *const[]){&out},
                                 (dtx_array *const[]){r});
  return rc == DTX_OK ? out : NULL;
}
