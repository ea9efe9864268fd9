/*
 * array/round.c - dtx_round (numpy.round / around), composed as NumPy
 * composes it (numpy/_core/src/multiarray/calculation.c, PyArray_Round):
 *
 *   floats, decimals 0:    rint(x)
 *   floats, decimals > 0:  rint(x * f) / f        f = 10**decimals
 *   floats, decimals < 0:  rint(x / f) * f        f = 10**-decimals
 *   integers, decimals >= 0: x itself
 *   integers, decimals < 0: rint(float64(x) / f) * f, converted back
 *
 * f is a Python float (weak), so float16 and float32 multiply and divide in
 * their own dtype, rounding at each step, exactly as NumPy's loops; f is
 * NumPy's power_of_ten (10**9 times 10 repeatedly past 8, inf past ~308).
 * The conversion of the integer case back to the dtype repeats what NumPy's
 * float64-to-integer cast gives on x86-64 for values past the dtype's range
 * (undefined in C; the cvttsd2si instructions): int8, int16, uint8, uint16
 * and int32 go through int32 (INT32_MIN out of its range or for nan), then
 * wrap; uint32 goes through int64 likewise; int64 gives INT64_MIN out of
 * range; uint64 gives 0 for 2**64. So round(int8 127, -1) is -126, as NumPy
 * (whose vector cast loops, taken for longer arrays, differ there).
 * bool: decimals 0 is rint (float16), others DTX_EINVAL (NumPy cannot cast
 * the float64 product back to bool).
 * Everything is elementwise operations of dtx/array.h, which fuse into one
 * task per chunk: no node kind or kernel of its own. The calling thread only.
 */
#include <math.h>

#include "array/array.h"
#include "array/complex.h"
#include "base/error.h"

/* NumPy's power_of_ten(n), n >= 0 (past 400 the product is inf anyway). */
static double power_of_ten(int n) {
  static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
  if (n < 9) return p10[n];
  double r = 1e9;
  for (int k = 9; k < n && k < 400; k++) r *= 10.;
  return r;
}

/* v (float64) where lo <= v < hi, else `other` (nan too). */
static dtx_array *in_range_or(dtx_array *v, double lo, double hi, double other) {
  dtx_cluster *cl = v->cl;
  dtx_array *ok = dtx_mul(dtx_binary_scalar(DTX_GE, v, lo), dtx_binary_scalar(DTX_LT, v, hi));
  return dtx_where(ok, v, dtx_scalar(cl, other));
}

/* The float64 v converted to integer dtype t as NumPy on x86-64 does. */
static dtx_array *to_int_as_numpy(dtx_array *v, dtx_dtype t) {
  const double p31 = 2147483648.0, p63 = 9223372036854775808.0, p64 = 18446744073709551616.0;
  switch (t) {
    case DTX_I64:
      return dtx_astype(in_range_or(v, -p63, p63, -p63), DTX_I64);
    case DTX_U32:
      return dtx_astype(dtx_astype(in_range_or(v, -p63, p63, -p63), DTX_I64), DTX_U32);
    case DTX_U64: /* 0 <= v <= 2**64 here: only 2**64 leaves the range */
      return dtx_astype(dtx_where(dtx_binary_scalar(DTX_GE, v, p64), dtx_scalar(v->cl, 0.0), v), DTX_U64);
    default:
      return dtx_astype(dtx_astype(in_range_or(v, -p31, p31, -p31), DTX_I32), t);
  }
}

/* In the caller's scope. */
static dtx_array *round_in_scope(dtx_array *a, int decimals) {
  dtx_dtype t = a->dtype;
  int kind = dtxa_dkind(t);
  if (kind == 0 && decimals != 0) {
    dtxi_fail(DTX_EINVAL,
              "dtx_round: a bool array rounds only to 0 decimals (NumPy cannot cast the float64 "
              "product back to bool); convert it with dtx_astype first");
    return NULL;
  }
  if (kind == 1 && decimals >= 0) return dtx_astype(a, t);
  if (decimals == 0) return dtx_rint(a);
  int up = decimals > 0;
  dtx_array *f = dtx_scalar(a->cl, power_of_ten(up ? decimals : decimals < -400 ? 400 : -decimals));
  dtx_array *x = kind == 1 ? dtx_astype(a, DTX_F64) : a;
  dtx_array *r = up ? dtx_div(dtx_rint(dtx_mul(x, f)), f) : dtx_mul(dtx_rint(dtx_div(x, f)), f);
  return kind == 1 ? to_int_as_numpy(r, t) : r;
}

dtx_array *dtx_round(const dtx_array *a, int decimals) {
  if (a == NULL) return NULL;
  if (dtxa_cx_in(a)) return dtxa_cx_round(a, decimals); /* each part, as NumPy */
  dtx_array_scope_begin();
  dtx_array *r = dtx_array_keep(round_in_scope((dtx_array *)a, decimals));
  dtx_array_scope_end();
  return r != NULL ? dtxa_ret(r) : NULL;
}
