/*
 * array/cextreme.c - min, max, argmin, argmax of complex arrays
 * (dtx/complex.h) and their NaN-skipping forms (dtx/stats.h), in NumPy's
 * lexicographic order, composed from real reductions of the parts: per
 * slice, the real parts' extreme, the imaginary parts' extreme among the
 * elements holding it, then the least C-order position (an arange per
 * reduced axis, broadcast) of the elements holding both, or of the NaN
 * elements where NaN wins, and the parts at that position (a max over
 * where(position == p, part, -inf), exact, signs of zero and NaN payloads
 * kept). So the first of equal values and the first NaN come out, as
 * NumPy's sequential loops give them, and all of it fuses into the usual
 * reduction tasks; no node kind or kernel of its own.
 *
 * Works in a private array scope (released at its end); the result is the
 * caller's (array/complex.c, array/nanred.c). The caller's thread only.
 */
#include <math.h>
#include <stdint.h>

#include "array/complex.h"
#include "base/error.h"

static dtx_array *eq(const dtx_array *a, const dtx_array *b) { return dtx_binary(DTX_EQ, a, b); }
/* logical and of bool arrays */
static dtx_array *and2(const dtx_array *a, const dtx_array *b) { return dtx_minimum(a, b); }

/* The C-order position of each element of a (shape, chunks) among the
 * reduced axes ax[0..n): an int64 array broadcasting against a (a sum of
 * aranges along those axes, chunked as a, times their strides). */
static dtx_array *positions(const dtx_array *a, const int *ax, int n) {
  dtx_array *pos = dtx_astype(dtx_scalar_int(a->cl, 0), DTX_I64);
  int64_t stride = 1;
  for (int k = n - 1; k >= 0 && pos != NULL; k--) {
    dtx_index idx[DTX_ARRAY_MAX_DIMS];
    for (int d = 0; d < a->ndim; d++)
      idx[d] = d == ax[k] ? (dtx_index){DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1}
                          : (dtx_index){DTX_INDEX_NEWAXIS, 0, 0, 0};
    int64_t len = a->shape[ax[k]];
    dtx_array *r =
        dtx_arange(a->cl, 0.0, (double)len, 1.0, a->chunk[ax[k]] > 0 ? a->chunk[ax[k]] : 1, DTX_I64);
    pos = dtx_add(pos, dtx_mul(dtx_slice(r, a->ndim, idx), dtx_scalar_int(a->cl, stride)));
    stride *= len;
  }
  return pos;
}

/* The elements among those not skip (NULL: all) that are the lexicographic
 * extreme (low: least) of their slice, keepdims reductions kd over ax. */
static dtx_array *lex_hit(dtx_array *re, dtx_array *im, dtx_array *skip, int low, const int *ax, int n,
                          const dtx_reduce_opts *kd) {
  dtx_array *fill = dtx_scalar(re->cl, low ? INFINITY : -INFINITY);
  dtx_reduction m = low ? DTX_MIN : DTX_MAX;
  dtx_array *mr = dtx_reduce(skip != NULL ? dtx_where(skip, fill, re) : re, m, ax, n, kd);
  dtx_array *cand = eq(re, mr);
  if (skip != NULL) cand = dtx_where(skip, dtx_zeros(re->cl, 0, NULL, NULL, DTX_BOOL), cand);
  dtx_array *mi = dtx_reduce(dtx_where(cand, im, fill), m, ax, n, kd);
  return and2(cand, eq(im, mi));
}

/* The value at position p (keepdims) of each slice of the real x. */
static dtx_array *at(dtx_array *x, dtx_array *pos, dtx_array *p, const int *ax, int n,
                     const dtx_reduce_opts *o) {
  return dtx_reduce(dtx_where(eq(pos, p), x, dtx_scalar(x->cl, -INFINITY)), DTX_MAX, ax, n, o);
}

/* Drops the (length 1) axes ax[0..n) of a keepdims result. */
static dtx_array *squeeze(dtx_array *x, const int *ax, int n) {
  dtx_index idx[DTX_ARRAY_MAX_DIMS];
  if (x == NULL) return NULL;
  for (int d = 0; d < x->ndim; d++) idx[d] = (dtx_index){DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1};
  for (int k = 0; k < n; k++) idx[ax[k]] = (dtx_index){DTX_INDEX_INT, 0, 0, 0};
  return dtx_slice(x, x->ndim, idx);
}

/* min / max / argmin / argmax (r) of complex a over ax[0..n) (distinct, in
 * range, none of length 0), NumPy's: lexicographic order, the first of
 * equal values; plain (nanmode 0): the first element that is NaN (either part)
 * when there is one; nanmode 1 (nanmin / nanmax, numpy.fmin / fmax reduce): the
 * NaN elements skipped, the first element when all are NaN; nanmode 2
 * (nanargmin / nanargmax): NaN counts as inf + 0j (-inf + 0j for
 * nanargmax), -1 when all are NaN. "First": in C order over the reduced
 * axes. */
static dtx_array *cx_extreme(const dtx_array *a, int r, const int *ax, int n, int keepdims, int nanmode) {
  dtx_cluster *cl = a->cl;
  int low = r == DTX_MIN || r == DTX_ARGMIN, arg = r == DTX_ARGMIN || r == DTX_ARGMAX;
  dtx_reduce_opts kd = DTX_REDUCE_OPTS_INIT, o = DTX_REDUCE_OPTS_INIT;
  kd.keepdims = 1;
  o.keepdims = keepdims;
  dtx_array *re = dtx_real(a), *im = dtx_imag(a), *isn = dtx_isnan(a), *hit, *pos = positions(a, ax, n);
  if (re == NULL || im == NULL || isn == NULL || pos == NULL) return NULL;
  dtx_array *all = dtx_reduce(isn, DTX_ALL, ax, n, &kd);
  if (nanmode == 2) {
    dtx_array *zero = dtx_scalar(cl, 0.0);
    hit = lex_hit(dtx_where(isn, dtx_scalar(cl, low ? INFINITY : -INFINITY), re), dtx_where(isn, zero, im),
                  NULL, low, ax, n, &kd);
  } else if (nanmode == 1) {
    hit = dtx_where(all, isn, lex_hit(re, im, isn, low, ax, n, &kd));
  } else {
    hit = dtx_where(dtx_reduce(isn, DTX_ANY, ax, n, &kd), isn, lex_hit(re, im, isn, low, ax, n, &kd));
  }
  dtx_array *p = dtx_reduce(dtx_where(hit, pos, dtx_scalar_int(cl, INT64_MAX)), DTX_MIN, ax, n, &kd);
  if (arg) {
    if (nanmode == 2) p = dtx_where(all, dtx_astype(dtx_scalar_int(cl, -1), DTX_I64), p);
    return keepdims ? p : squeeze(p, ax, n);
  }
  return dtx_complex(at(re, pos, p, ax, n, &o), at(im, pos, p, ax, n, &o));
}

/* Checks for cx_extreme: argmin / argmax over one axis or all, no empty
 * slice (NumPy's ValueError), lengths known. */
static dtx_status extreme_ok(const char *fn, const dtx_array *a, int r, const int *ax, int n) {
  if ((r == DTX_ARGMIN || r == DTX_ARGMAX) && n > 1 && n < a->ndim)
    return dtxi_fail(DTX_EINVAL, "%s: takes one axis or all of them (%d of %d given)", fn, n, a->ndim);
  if (a->deferred)
    return dtxi_fail(DTX_EINVAL, "%s: a complex array of a length unknown until computed; compute it first",
                     fn);
  for (int k = 0; k < n; k++)
    if (a->shape[ax[k]] == 0)
      return dtxi_fail(DTX_EINVAL,
                       "%s: the reduced axis %d is empty and the reduction has no identity (as NumPy's "
                       "ValueError)",
                       fn, ax[k]);
  return DTX_OK;
}

dtx_array *dtxa_cx_extreme(const dtx_array *a, int r, const int *axes, int naxes, int keepdims, int nanmode) {
  static const char *names[3][4] = {{"dtx_min", "dtx_max", "dtx_argmin", "dtx_argmax"},
                                    {"dtx_nanmin", "dtx_nanmax", "dtx_nanargmin", "dtx_nanargmax"},
                                    {"dtx_nanmin", "dtx_nanmax", "dtx_nanargmin", "dtx_nanargmax"}};
  const char *fn = names[nanmode][r == DTX_MIN ? 0 : r == DTX_MAX ? 1 : r == DTX_ARGMIN ? 2 : 3];
  int ax[DTX_ARRAY_MAX_DIMS], n = 0;
  if (dtxa_cx_axes(fn, a, axes, naxes, ax, &n) != DTX_OK || extreme_ok(fn, a, r, ax, n) != DTX_OK)
    return NULL;
  if (dtxa_scope_begin() != 0) {
    dtxi_fail(DTX_ENOMEM, "out of memory");
    return NULL;
  }
  dtx_array *out = cx_extreme(a, r, ax, n, keepdims, nanmode);
  if (out != NULL) dtx_array_keep(out);
  dtx_array_scope_end();
  return out;
}
