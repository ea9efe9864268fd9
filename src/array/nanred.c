/*
 * array/nanred.c - the NaN-skipping reductions (dtx/stats.h: nansum,
 * nanprod, nanmean, nanmin, nanmax, nanvar, nanstd, nanargmin, nanargmax),
 * composed from the plain reductions and elementwise operations of
 * dtx/array.h: NaN is found as x != x and replaced by the reduction's
 * identity with where, which fuses into the reductions' first stage. No
 * node kind and no kernel of their own. Complex arrays as NumPy's
 * nanfunctions treat them (nan_complex; min, max and their args in
 * array/complex.c). The calling thread only.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "array/array.h"
#include "array/complex.h"
#include "base/error.h"
#include "dtx/stats.h"

/* x with NaN replaced by v (a Python float: x keeps its dtype). */
static dtx_array *fill(dtx_array *x, dtx_array *isnan, double v) {
  return dtx_where(isnan, dtx_scalar(x->cl, v), x);
}

/* opts with keepdims set. */
static dtx_reduce_opts with_keepdims(const dtx_reduce_opts *o, int keepdims) {
  dtx_reduce_opts k = DTX_REDUCE_OPTS_INIT;
  if (o != NULL && o->size >= sizeof(size_t) && o->size <= sizeof k) memcpy(&k, o, o->size);
  k.size = sizeof k;
  k.keepdims = keepdims;
  return k;
}

/* The reduction of the floating x (in the caller's scope); t: the plain
 * reduction's dtype. */
static dtx_array *nan_float(dtx_array *x, dtx_reduction r, const int *axes, int naxes,
                            const dtx_reduce_opts *o, dtx_dtype t) {
  dtx_cluster *cl = x->cl;
  dtx_array *isnan = dtx_binary(DTX_NE, x, x);
  dtx_reduce_opts k =
      with_keepdims(o, o != NULL && o->size > offsetof(dtx_reduce_opts, keepdims) ? o->keepdims : 0);
  switch (r) {
    case DTX_SUM:
      return dtx_reduce(fill(x, isnan, 0.0), DTX_SUM, axes, naxes, o);
    case DTX_PROD:
      return dtx_reduce(fill(x, isnan, 1.0), DTX_PROD, axes, naxes, o);
    case DTX_MIN:
    case DTX_MAX:
    case DTX_ARGMIN:
    case DTX_ARGMAX: {
      int low = r == DTX_MIN || r == DTX_ARGMIN;
      dtx_array *m = dtx_reduce(fill(x, isnan, low ? INFINITY : -INFINITY), r, axes, naxes, o);
      dtx_array *all = dtx_reduce(isnan, DTX_ALL, axes, naxes, &k);
      dtx_array *none = r == DTX_MIN || r == DTX_MAX ? dtx_scalar(cl, NAN) : dtx_scalar_int(cl, -1);
      return dtx_where(all, none, m);
    }
    default:
      break;
  }
  /* mean, var, std: sums over the values that are not NaN, and their count */
  dtx_array *count = dtx_reduce(dtx_binary(DTX_EQ, x, x), DTX_SUM, axes, naxes, o);
  if (r == DTX_MEAN)
    return dtx_astype(dtx_div(dtx_reduce(fill(x, isnan, 0.0), DTX_SUM, axes, naxes, o), count), t);
  dtx_reduce_opts kd = with_keepdims(o, 1);
  dtx_array *mean = dtx_div(dtx_reduce(fill(x, isnan, 0.0), DTX_SUM, axes, naxes, &kd),
                            dtx_reduce(dtx_binary(DTX_EQ, x, x), DTX_SUM, axes, naxes, &kd));
  dtx_array *d = dtx_where(isnan, dtx_scalar(cl, 0.0), dtx_sub(x, mean));
  dtx_array *ss = dtx_reduce(dtx_mul(d, d), DTX_SUM, axes, naxes, o);
  int ddof = o != NULL && o->size > offsetof(dtx_reduce_opts, ddof) ? o->ddof : 0;
  dtx_array *dof = dtx_sub(count, dtx_scalar_int(cl, ddof));
  dtx_array *var =
      dtx_where(dtx_binary(DTX_LE, dof, dtx_scalar_int(cl, 0)), dtx_scalar(cl, NAN), dtx_div(ss, dof));
  var = dtx_astype(var, t);
  return r == DTX_STD ? dtx_sqrt(var) : var;
}

/* The reduction of the complex x (in the caller's scope), NumPy's
 * nanfunctions: NaN is an element with either part NaN; sums and products
 * replace it by 0 and 1; mean is that sum over the count of the others (a
 * complex division by it, in complex128 for complex64, as NumPy's
 * _divide_by_count); var / std the sum of |x - mean|^2 over the others by
 * their count less ddof, a real array of the part dtype (NaN where that is
 * not positive); min / max and their args dtxa_cx_extreme's. t: the plain
 * reduction's dtype. */
static dtx_array *nan_complex(dtx_array *x, dtx_reduction r, const int *axes, int naxes,
                              const dtx_reduce_opts *o, dtx_dtype t) {
  dtx_cluster *cl = x->cl;
  dtx_reduce_opts k =
      with_keepdims(o, o != NULL && o->size > offsetof(dtx_reduce_opts, keepdims) ? o->keepdims : 0);
  if (r == DTX_MIN || r == DTX_MAX || r == DTX_ARGMIN || r == DTX_ARGMAX)
    return dtxa_ret(
        dtxa_cx_extreme(x, r, axes, naxes, k.keepdims, r == DTX_ARGMIN || r == DTX_ARGMAX ? 2 : 1));
  dtx_array *isnan = dtx_isnan(x);
  if (r == DTX_SUM || r == DTX_PROD)
    return dtx_reduce(fill(x, isnan, r == DTX_SUM ? 0.0 : 1.0), r, axes, naxes, o);
  dtx_array *ok = dtx_binary(DTX_EQ, isnan, dtx_zeros(cl, 0, NULL, NULL, DTX_BOOL));
  dtx_array *count = dtx_reduce(ok, DTX_SUM, axes, naxes, o);
  if (r == DTX_MEAN)
    return dtx_astype(dtx_div(dtx_reduce(fill(x, isnan, 0.0), DTX_SUM, axes, naxes, o), count), t);
  dtx_reduce_opts kd = with_keepdims(o, 1);
  dtx_array *mean = dtx_astype(dtx_div(dtx_reduce(fill(x, isnan, 0.0), DTX_SUM, axes, naxes, &kd),
                                       dtx_reduce(ok, DTX_SUM, axes, naxes, &kd)),
                               x->dtype);
  dtx_array *d = fill(dtx_sub(x, mean), isnan, 0.0), *dr = dtx_real(d), *di = dtx_imag(d);
  dtx_array *ss = dtx_reduce(dtx_add(dtx_mul(dr, dr), dtx_mul(di, di)), DTX_SUM, axes, naxes, o);
  int ddof = o != NULL && o->size > offsetof(dtx_reduce_opts, ddof) ? o->ddof : 0;
  dtx_array *dof = dtx_sub(count, dtx_scalar_int(cl, ddof));
  dtx_array *var =
      dtx_where(dtx_binary(DTX_LE, dof, dtx_scalar_int(cl, 0)), dtx_scalar(cl, NAN), dtx_div(ss, dof));
  var = dtx_astype(var, t);
  return r == DTX_STD ? dtx_sqrt(var) : var;
}

dtx_array *dtx_nanreduce(const dtx_array *a, dtx_reduction r, const int *axes, int naxes,
                         const dtx_reduce_opts *opts) {
  if (a == NULL) return NULL;
  if (r == DTX_ANY || r == DTX_ALL || r < DTX_SUM || r > DTX_ALL) {
    dtxi_fail(DTX_EINVAL,
              "dtx_nanreduce: reduction %d has no NaN-skipping form (sum, prod, mean, min, max, var, "
              "std, argmin, argmax do)",
              (int)r);
    return NULL;
  }
  if (dtxa_dkind(a->dtype) < 2) return dtx_reduce(a, r, axes, naxes, opts); /* no NaN in bool or integers */
  /* check the arguments as the plain reduction does, with its messages */
  dtx_array_scope_begin();
  dtx_array *probe = dtx_reduce(a, r, axes, naxes, opts), *out = NULL;
  if (probe != NULL)
    out = dtx_array_keep(
        (dtxa_cx_in(a) ? nan_complex : nan_float)((dtx_array *)a, r, axes, naxes, opts, probe->dtype));
  dtx_array_scope_end();
  return out != NULL ? dtxa_ret(out) : NULL;
}

dtx_array *dtx_nansum(const dtx_array *a, const int *axes, int naxes) {
  return dtx_nanreduce(a, DTX_SUM, axes, naxes, NULL);
}
dtx_array *dtx_nanprod(const dtx_array *a, const int *axes, int naxes) {
  return dtx_nanreduce(a, DTX_PROD, axes, naxes, NULL);
}
dtx_array *dtx_nanmean(const dtx_array *a, const int *axes, int naxes) {
  return dtx_nanreduce(a, DTX_MEAN, axes, naxes, NULL);
}
dtx_array *dtx_nanmin(const dtx_array *a, const int *axes, int naxes) {
  return dtx_nanreduce(a, DTX_MIN, axes, naxes, NULL);
}
dtx_array *dtx_nanmax(const dtx_array *a, const int *axes, int naxes) {
  return dtx_nanreduce(a, DTX_MAX, axes, naxes, NULL);
}
dtx_array *dtx_nanvar(const dtx_array *a, const int *axes, int naxes) {
  return dtx_nanreduce(a, DTX_VAR, axes, naxes, NULL);
}
dtx_array *dtx_nanstd(const dtx_array *a, const int *axes, int naxes) {
  return dtx_nanreduce(a, DTX_STD, axes, naxes, NULL);
}
dtx_array *dtx_nanargmin(const dtx_array *a, int axis) {
  return dtx_nanreduce(a, DTX_ARGMIN, axis == DTX_NO_AXIS ? NULL : &axis, axis == DTX_NO_AXIS ? 0 : 1, NULL);
}
dtx_array *dtx_nanargmax(const dtx_array *a, int axis) {
  return dtx_nanreduce(a, DTX_ARGMAX, axis == DTX_NO_AXIS ? NULL : &axis, axis == DTX_NO_AXIS ? 0 : 1, NULL);
}
