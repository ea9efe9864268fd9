/*
 * array/dtype.c - NumPy 2's dtype rules for the array operations: names and
 * sizes (one table, DTYPES), the promotion of two dtypes (np.result_type over
 * bool, signed and unsigned integers of 8 to 64 bits and float16 .. float64)
 * and of a Python scalar with a dtype (NEP 50), Python ints that an integer
 * dtype does not hold, the dtypes of float functions and reductions, and the
 * integer constants an operation can see when the array is made (integers to
 * negative powers).
 *
 * Pure functions of immutable nodes; any thread. The rules, and where dtx
 * deviates from NumPy, are stated in dtx/array.h; tests/array_conformance
 * checks them against NumPy itself.
 */
#include <stdint.h>

#include "array/array.h"
#include "base/error.h"

/* X(dtype, name, enum name, kind, bits): kind 0 bool, 1 signed, 2 unsigned, 3 float,
 * 4 complex (array/complex.c handles those: no rule below sees them) */
#define DTYPES(X)                           \
  X(DTX_BOOL, "bool", "DTX_BOOL", 0, 8)     \
  X(DTX_I8, "int8", "DTX_I8", 1, 8)         \
  X(DTX_I16, "int16", "DTX_I16", 1, 16)     \
  X(DTX_I32, "int32", "DTX_I32", 1, 32)     \
  X(DTX_I64, "int64", "DTX_I64", 1, 64)     \
  X(DTX_U8, "uint8", "DTX_U8", 2, 8)        \
  X(DTX_U16, "uint16", "DTX_U16", 2, 16)    \
  X(DTX_U32, "uint32", "DTX_U32", 2, 32)    \
  X(DTX_U64, "uint64", "DTX_U64", 2, 64)    \
  X(DTX_F16, "float16", "DTX_F16", 3, 16)   \
  X(DTX_F32, "float32", "DTX_F32", 3, 32)   \
  X(DTX_F64, "float64", "DTX_F64", 3, 64)   \
  X(DTX_C64, "complex64", "DTX_C64", 4, 64) \
  X(DTX_C128, "complex128", "DTX_C128", 4, 128)

const char *dtx_dtype_name(dtx_dtype t) {
  switch (t) {
#define NAME_CASE(T, N, E, K, B) \
  case T:                        \
    return N;
    DTYPES(NAME_CASE)
#undef NAME_CASE
  }
  return NULL;
}

size_t dtx_dtype_size(dtx_dtype t) {
  if (t == DTX_C64 || t == DTX_C128) return t == DTX_C64 ? 8 : 16;
  return dtx_dtype_name(t) != NULL ? (size_t)dtxk_size((int)t) : 0;
}

/* "DTX_F64" for DTX_F64, for messages. */
const char *dtxa_dtype_enum_name(dtx_dtype t) {
  switch (t) {
#define ENUM_CASE(T, N, E, K, B) \
  case T:                        \
    return E;
    DTYPES(ENUM_CASE)
#undef ENUM_CASE
  }
  return "?";
}

/* 0 bool, 1 signed, 2 unsigned, 3 float; -1 for no dtype. */
static int kind_of(dtx_dtype t) {
  switch (t) {
#define KIND_CASE(T, N, E, K, B) \
  case T:                        \
    return K;
    DTYPES(KIND_CASE)
#undef KIND_CASE
  }
  return -1;
}
static int bits_of(dtx_dtype t) { return (int)dtx_dtype_size(t) * 8; }
static dtx_dtype sint_of(int bits) {
  return bits <= 8 ? DTX_I8 : bits <= 16 ? DTX_I16 : bits <= 32 ? DTX_I32 : DTX_I64;
}
static dtx_dtype float_of(int bits) { return bits <= 16 ? DTX_F16 : bits <= 32 ? DTX_F32 : DTX_F64; }

int dtxa_dkind(dtx_dtype t) {
  int k = kind_of(t);
  return k == 0 ? 0 : k == 3 ? 2 : k == 4 ? 3 : 1;
}
int dtxa_is_unsigned(dtx_dtype t) { return kind_of(t) == 2; }

/* The smallest float that holds every value of integer or bool t exactly
 * (NumPy: int8/uint8 -> float16, 16-bit -> float32, wider -> float64). */
dtx_dtype dtxa_float_for(dtx_dtype t) {
  if (kind_of(t) == 3) return t;
  return t == DTX_BOOL ? DTX_F16 : float_of(bits_of(t) * 2);
}

/* NumPy's promotion of two strong dtypes (np.result_type). */
dtx_dtype dtxa_promote2(dtx_dtype a, dtx_dtype b) {
  if (a == b) return a;
  if (a == DTX_BOOL) return b;
  if (b == DTX_BOOL) return a;
  int ka = kind_of(a), kb = kind_of(b), ba = bits_of(a), bb = bits_of(b);
  if (ka == kb) return ba >= bb ? a : b;
  if (ka == 3 || kb == 3) { /* an integer with a float */
    dtx_dtype f = ka == 3 ? a : b, i = ka == 3 ? b : a;
    dtx_dtype need = dtxa_float_for(i);
    return bits_of(need) > bits_of(f) ? need : f;
  }
  /* signed with unsigned: a signed type wider than the unsigned one;
   * uint64 with any signed type: float64 */
  int bs = ka == 1 ? ba : bb, bu = ka == 2 ? ba : bb;
  if (bs > bu) return sint_of(bs);
  return bu >= 64 ? DTX_F64 : sint_of(bu * 2);
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

/* Whether v is a value of integer dtype t. */
static int int_holds(dtx_dtype t, int64_t v) {
  switch (t) {
    case DTX_I8:
      return v >= INT8_MIN && v <= INT8_MAX;
    case DTX_I16:
      return v >= INT16_MIN && v <= INT16_MAX;
    case DTX_I32:
      return v >= INT32_MIN && v <= INT32_MAX;
    case DTX_U8:
      return v >= 0 && v <= UINT8_MAX;
    case DTX_U16:
      return v >= 0 && v <= UINT16_MAX;
    case DTX_U32:
      return v >= 0 && v <= UINT32_MAX;
    case DTX_U64:
      return v >= 0;
    default:
      return 1;
  }
}

/* A Python int beside an integer array (NumPy 2): a comparison sees its true
 * value (computed in int64, or float64 beside a uint64 array); arithmetic
 * with a value the array's dtype does not hold is an error, as NumPy's
 * OverflowError, not a wrapped value. *t: the operands' dtype, widened for
 * such a comparison. */
dtx_status dtxa_pyint_range(const char *name, int op, const dtx_array *a, const dtx_array *b, dtx_dtype *t) {
  const dtx_array *w = a->weak == DTXA_WEAK_INT && !b->weak   ? a
                       : b->weak == DTXA_WEAK_INT && !a->weak ? b
                                                              : NULL;
  if (w == NULL || dtxa_dkind(*t) != 1 || op == DTX_DIV) return DTX_OK;
  int64_t v = w->gen.i0;
  if (int_holds(*t, v)) return DTX_OK;
  if (op >= DTX_EQ && op <= DTX_GE) {
    *t = *t == DTX_U64 ? DTX_F64 : DTX_I64;
    return DTX_OK;
  }
  return dtxi_fail(DTX_EINVAL,
                   "dtx_%s: Python integer %lld is out of bounds for %s (NumPy raises OverflowError); "
                   "convert the %s operand with dtx_astype(x, DTX_I64) first",
                   name, (long long)v, dtx_dtype_name(*t), dtx_dtype_name(*t));
}

/* Integer dtype t's value nearest to v (truncated toward zero, saturated, NaN
 * 0), as the bits of an int64 (uint64 values above INT64_MAX wrap). */
int64_t dtxa_int_of(double v, dtx_dtype t) {
  switch (t) {
    case DTX_BOOL:
      return v != 0;
    case DTX_I8:
      return dtxk_f2i8(v);
    case DTX_I16:
      return dtxk_f2i16(v);
    case DTX_I32:
      return dtxk_f2i32(v);
    case DTX_U8:
      return dtxk_f2u8(v);
    case DTX_U16:
      return dtxk_f2u16(v);
    case DTX_U32:
      return dtxk_f2u32(v);
    case DTX_U64:
      return (int64_t)dtxk_f2u64(v);
    default:
      return dtxk_f2i64(v);
  }
}

/* The dtype of a float function (exp, sqrt, ...) of t: the smallest float
 * holding t (NumPy: bool, int8, uint8 -> float16; 16-bit -> float32). */
dtx_dtype dtxa_float_func_dtype(dtx_dtype t) { return dtxa_float_for(t); }

/* The dtype of reduction r of t (NumPy: sum / prod of bool and signed
 * integers give int64, of unsigned ones uint64; mean / var / std of integers
 * float64, of floats their own dtype). */
dtx_dtype dtxa_reduce_dtype(int r, dtx_dtype t) {
  switch (r) {
    case DTX_SUM:
    case DTX_PROD:
      return dtxa_dkind(t) == 2 ? t : dtxa_is_unsigned(t) ? DTX_U64 : DTX_I64;
    case DTX_MEAN:
    case DTX_VAR:
    case DTX_STD:
      return dtxa_dkind(t) == 2 ? t : DTX_F64;
    case DTX_ARGMIN:
    case DTX_ARGMAX:
      return DTX_I64;
    case DTX_ANY:
    case DTX_ALL:
      return DTX_BOOL;
    default:
      return t;
  }
}

/* v (an integer) converted to integer or bool dtype t: wraps, as NumPy's casts. */
static int64_t wrap_to(dtx_dtype t, int64_t v) {
  switch (t) {
    case DTX_BOOL:
      return v != 0;
    case DTX_I8:
      return (int8_t)(uint8_t)(uint64_t)v;
    case DTX_I16:
      return (int16_t)(uint16_t)(uint64_t)v;
    case DTX_I32:
      return (int32_t)(uint32_t)(uint64_t)v;
    case DTX_U8:
      return (uint8_t)(uint64_t)v;
    case DTX_U16:
      return (uint16_t)(uint64_t)v;
    case DTX_U32:
      return (uint32_t)(uint64_t)v;
    default:
      return v;
  }
}

/* Whether x is an integer constant known when the graph is built (zeros,
 * ones, full or a scalar, seen through casts and views): its value in *v (a
 * uint64 one above INT64_MAX is not taken as known). */
int dtxa_int_const(const dtx_array *x, int64_t *v) {
  if (dtxa_dkind(x->dtype) == 2) return 0;
  if (x->kind == DTXA_VIEW || x->kind == DTXA_CAST) {
    if (!dtxa_int_const(x->in[0], v)) return 0;
    *v = wrap_to(x->dtype, *v);
  } else if (x->kind == DTXA_GEN && x->gen.kind == DTXK_GEN_CONST) {
    *v = x->gen.i0;
  } else {
    return 0;
  }
  return x->dtype != DTX_U64 || *v >= 0;
}
