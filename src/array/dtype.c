/*
 * array/dtype.c - NumPy 2's dtype rules for the array operations: names and
 * sizes, the promotion of two dtypes and of a Python scalar with a dtype
 * (NEP 50), Python ints that int32 does not hold, and the integer constants
 * an operation can see when the array is made (integers to negative powers).
 *
 * Pure functions of immutable nodes; any thread. The rules, and where dtx
 * deviates from NumPy, are stated in dtx/array.h; tests/array_conformance
 * checks them against NumPy itself.
 */
#include <stdint.h>

#include "array/array.h"
#include "base/error.h"

const char *dtx_dtype_name(dtx_dtype t) {
  switch (t) {
    case DTX_BOOL:
      return "bool";
    case DTX_I32:
      return "int32";
    case DTX_I64:
      return "int64";
    case DTX_F32:
      return "float32";
    case DTX_F64:
      return "float64";
  }
  return NULL;
}

size_t dtx_dtype_size(dtx_dtype t) { return dtx_dtype_name(t) != NULL ? (size_t)dtxk_size((int)t) : 0; }

/* "DTX_F64" for DTX_F64, for messages. */
const char *dtxa_dtype_enum_name(dtx_dtype t) {
  static const char *names[] = {NULL, "DTX_BOOL", "DTX_I32", "DTX_I64", "DTX_F32", "DTX_F64"};
  return t >= DTX_BOOL && t <= DTX_F64 ? names[t] : "?";
}

int dtxa_dkind(dtx_dtype t) { return t == DTX_BOOL ? 0 : (t == DTX_I32 || t == DTX_I64) ? 1 : 2; }

/* NumPy's promotion of two strong dtypes. */
dtx_dtype dtxa_promote2(dtx_dtype a, dtx_dtype b) {
  if (a == b) return a;
  if (a == DTX_BOOL) return b;
  if (b == DTX_BOOL) return a;
  if (dtxa_dkind(a) == 1 && dtxa_dkind(b) == 1) return DTX_I64;
  if (dtxa_dkind(a) == 2 && dtxa_dkind(b) == 2) return DTX_F64;
  /* int with float: float32 holds int32 only approximately, NumPy gives float64 */
  return DTX_F64;
}

/* NumPy 2's promotion (NEP 50) of two operands, either of which may be a
 * Python scalar (a->weak: a dtx_scalar / dtx_scalar_int node itself). A
 * Python scalar takes the other operand's dtype when that is of its kind or
 * higher (int with an int or float array, float with a float array); two
 * Python scalars give the default dtype (int64, or float64 when either is a
 * float), as np.add(7, 2.5) gives an np.float64. Results are never Python
 * scalars: whatever an operation makes is strongly typed. */
dtx_dtype dtxa_promote(const dtx_array *a, const dtx_array *b) {
  if (a->weak && b->weak)
    return (a->weak == DTXA_WEAK_FLOAT || b->weak == DTXA_WEAK_FLOAT) ? DTX_F64 : DTX_I64;
  if (a->weak || b->weak) {
    const dtx_array *w = a->weak ? a : b, *s = a->weak ? b : a;
    if (w->weak == DTXA_WEAK_INT) return s->dtype == DTX_BOOL ? DTX_I64 : s->dtype;
    return dtxa_dkind(s->dtype) == 2 ? s->dtype : DTX_F64;
  }
  return dtxa_promote2(a->dtype, b->dtype);
}

/* A Python int beside an int32 array (NumPy 2): a comparison sees its true
 * value (computed in int64); arithmetic with a value int32 does not hold is
 * an error, as NumPy's OverflowError, not a wrapped value. *t: the operands'
 * dtype, widened for such a comparison. */
dtx_status dtxa_pyint_range(const char *name, int op, const dtx_array *a, const dtx_array *b, dtx_dtype *t) {
  const dtx_array *w = a->weak == DTXA_WEAK_INT && !b->weak   ? a
                       : b->weak == DTXA_WEAK_INT && !a->weak ? b
                                                              : NULL;
  if (w == NULL || *t != DTX_I32 || op == DTX_DIV) return DTX_OK;
  int64_t v = w->gen.i0;
  if (v >= INT32_MIN && v <= INT32_MAX) return DTX_OK;
  if (op >= DTX_EQ) {
    *t = DTX_I64;
    return DTX_OK;
  }
  return dtxi_fail(DTX_EINVAL,
                   "dtx_%s: Python integer %lld is out of bounds for int32 (NumPy raises OverflowError); "
                   "convert the int32 operand with dtx_astype(x, DTX_I64) first",
                   name, (long long)v);
}

/* Whether x is an integer constant known when the graph is built (zeros,
 * ones, full or a scalar, seen through casts and views): its value in *v. */
int dtxa_int_const(const dtx_array *x, int64_t *v) {
  int narrow = 0;
  for (; x->kind == DTXA_VIEW || x->kind == DTXA_CAST; x = x->in[0]) {
    if (dtxa_dkind(x->dtype) == 2) return 0;
    narrow |= x->dtype == DTX_I32;
  }
  if (x->kind != DTXA_GEN || x->gen.kind != DTXK_GEN_CONST || dtxa_dkind(x->dtype) == 2) return 0;
  *v = narrow ? (int64_t)(int32_t)(uint32_t)(uint64_t)x->gen.i0 : x->gen.i0;
  return 1;
}
