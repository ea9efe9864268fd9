/*
 * kernels/elem.h - the element functions of every array operation, shared by
 * the CPU loops (the .c files here, compiled as C) and the CUDA kernels
 * (the .cu files, compiled by nvcc), so both compute the same function.
 *
 * One row per operation in the tables below; the loops, the kernels and the
 * parity test are generated from the rows. Integer arithmetic wraps (as in
 * NumPy), done in unsigned types so it is defined behaviour in C. Float to
 * integer conversion saturates and maps NaN to 0 (the same on both sides,
 * where a bare C cast would be undefined). No VLAs, restrict or _Atomic here:
 * nvcc reads this file as C++.
 */
#ifndef DTXK_ELEM_H
#define DTXK_ELEM_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define DTX_HD __host__ __device__ __forceinline__
#else
#define DTX_HD static inline
#endif

/* dtypes: the values of dtx_dtype (dtx/array.h). */
enum {
  DTXK_BOOL = 1,
  DTXK_I32 = 2,
  DTXK_I64 = 3,
  DTXK_F32 = 4,
  DTXK_F64 = 5,
  DTXK_I8 = 6,
  DTXK_I16 = 7,
  DTXK_U8 = 8,
  DTXK_U16 = 9,
  DTXK_U32 = 10,
  DTXK_U64 = 11,
  DTXK_F16 = 12,
  DTXK_NTYPES = 13
};

typedef uint8_t dtxk_b;
/* IEEE 754 binary16, kept as its bits: computed in float32 (as NumPy does),
 * stored rounded to nearest even by dtxk_f64_to_f16. */
typedef uint16_t dtxk_f16;

/* X(suffix, C type, dtype id), in the order of the ids */
/* clang-format off */
#define DTXK_TYPES(X)       \
  X(b, dtxk_b, DTXK_BOOL)   \
  X(i32, int32_t, DTXK_I32) \
  X(i64, int64_t, DTXK_I64) \
  X(f32, float, DTXK_F32)   \
  X(f64, double, DTXK_F64)  \
  X(i8, int8_t, DTXK_I8)    \
  X(i16, int16_t, DTXK_I16) \
  X(u8, uint8_t, DTXK_U8)   \
  X(u16, uint16_t, DTXK_U16) \
  X(u32, uint32_t, DTXK_U32) \
  X(u64, uint64_t, DTXK_U64) \
  X(f16, dtxk_f16, DTXK_F16)
/* clang-format on */

DTX_HD int dtxk_size(int t) {
  switch (t) {
    case DTXK_BOOL:
    case DTXK_I8:
    case DTXK_U8:
      return 1;
    case DTXK_I16:
    case DTXK_U16:
    case DTXK_F16:
      return 2;
    case DTXK_I32:
    case DTXK_U32:
    case DTXK_F32:
      return 4;
    default:
      return 8;
  }
}
DTX_HD int dtxk_is_float(int t) { return t == DTXK_F32 || t == DTXK_F64 || t == DTXK_F16; }
DTX_HD int dtxk_is_uint(int t) { return t == DTXK_U8 || t == DTXK_U16 || t == DTXK_U32 || t == DTXK_U64; }

/* ---- float16 --------------------------------------------------------------------- */

/* Exact: every binary16 value (subnormals, infinities, NaN payloads) is a float32. */
DTX_HD float dtxk_f16_to_f32(dtxk_f16 h) {
  uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
  if (e == 0x1f) {
    bits = s | 0x7f800000u | (m << 13);
  } else if (e != 0) {
    bits = s | ((e + 112) << 23) | (m << 13);
  } else if (m == 0) {
    bits = s;
  } else { /* subnormal: m * 2^-24, normalised */
    e = 113;
    while (!(m & 0x400u)) {
      m <<= 1;
      e--;
    }
    bits = s | (e << 23) | ((m & 0x3ffu) << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* Rounds to nearest, ties to even, once (float32 converts through here
 * exactly, so there is no double rounding); beyond 65520 gives inf; NaN stays
 * NaN (quiet, sign and top payload bits kept). */
DTX_HD dtxk_f16 dtxk_f64_to_f16(double x) {
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  uint32_t s = (uint32_t)(b >> 48) & 0x8000u;
  int e = (int)((b >> 52) & 0x7ff);
  uint64_t m = b & 0xfffffffffffffull;
  if (e == 0x7ff) return (dtxk_f16)(m ? (s | 0x7e00u | (uint32_t)(m >> 42)) : (s | 0x7c00u));
  int ue = e - 1023;
  if (ue > 15) return (dtxk_f16)(s | 0x7c00u);
  if (ue >= -14) {
    uint64_t rest = m & ((1ull << 42) - 1), half = 1ull << 41;
    uint32_t r = ((uint32_t)(ue + 15) << 10) | (uint32_t)(m >> 42);
    if (rest > half || (rest == half && (r & 1))) r++; /* a carry moves into the exponent: right */
    return (dtxk_f16)(s | r);
  }
  if (ue < -25) return (dtxk_f16)s;
  int shift = 52 - 24 - ue; /* 43 .. 53: to units of 2^-24 */
  uint64_t full = (1ull << 52) | m, q = full >> shift, rest = full & ((1ull << shift) - 1),
           half = 1ull << (shift - 1);
  if (rest > half || (rest == half && (q & 1))) q++;
  return (dtxk_f16)(s | (uint32_t)q);
}
DTX_HD dtxk_f16 dtxk_f32_to_f16(float x) { return dtxk_f64_to_f16((double)x); }

/* ---- conversions --------------------------------------------------------------- */

/* float to integer: truncates toward zero, saturates, NaN gives 0 */
#define DTXK_F2I(S, T, LO, HI)    \
  DTX_HD T dtxk_f2##S(double x) { \
    if (x != x) return 0;         \
    if (x >= HI) return (T)HI;    \
    if (x <= LO) return (T)LO;    \
    return (T)x;                  \
  }
DTXK_F2I(i8, int8_t, -128.0, 127.0)
DTXK_F2I(i16, int16_t, -32768.0, 32767.0)
DTXK_F2I(i32, int32_t, -2147483648.0, 2147483647.0)
DTXK_F2I(u8, uint8_t, 0.0, 255.0)
DTXK_F2I(u16, uint16_t, 0.0, 65535.0)
DTXK_F2I(u32, uint32_t, 0.0, 4294967295.0)
DTX_HD int64_t dtxk_f2i64(double x) {
  if (x != x) return 0;
  if (x >= 9223372036854775807.0) return INT64_MAX;
  if (x <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)x;
}
DTX_HD uint64_t dtxk_f2u64(double x) {
  if (x != x || x <= 0) return 0;
  if (x >= 18446744073709551615.0) return UINT64_MAX;
  return (uint64_t)x;
}
/* DTXK_LD_<from>(x): a stored value as it computes (float16: as float32). */
#define DTXK_LD_b(x) (x)
#define DTXK_LD_i32(x) (x)
#define DTXK_LD_i64(x) (x)
#define DTXK_LD_f32(x) (x)
#define DTXK_LD_f64(x) (x)
#define DTXK_LD_i8(x) (x)
#define DTXK_LD_i16(x) (x)
#define DTXK_LD_u8(x) (x)
#define DTXK_LD_u16(x) (x)
#define DTXK_LD_u32(x) (x)
#define DTXK_LD_u64(x) (x)
#define DTXK_LD_f16(x) dtxk_f16_to_f32(x)
/* DTXK_CV_<to>(x, from_float): x (loaded) converted to the type <to>;
 * from_float is a constant saying whether x has a float type. Integers wrap
 * (as NumPy), NaN converts to true. */
#define DTXK_CV_b(x, SF) ((dtxk_b)((x) != 0))
#define DTXK_CV_i8(x, SF) ((SF) ? dtxk_f2i8((double)(x)) : (int8_t)(x))
#define DTXK_CV_i16(x, SF) ((SF) ? dtxk_f2i16((double)(x)) : (int16_t)(x))
#define DTXK_CV_i32(x, SF) ((SF) ? dtxk_f2i32((double)(x)) : (int32_t)(x))
#define DTXK_CV_i64(x, SF) ((SF) ? dtxk_f2i64((double)(x)) : (int64_t)(x))
#define DTXK_CV_u8(x, SF) ((SF) ? dtxk_f2u8((double)(x)) : (uint8_t)(x))
#define DTXK_CV_u16(x, SF) ((SF) ? dtxk_f2u16((double)(x)) : (uint16_t)(x))
#define DTXK_CV_u32(x, SF) ((SF) ? dtxk_f2u32((double)(x)) : (uint32_t)(x))
#define DTXK_CV_u64(x, SF) ((SF) ? dtxk_f2u64((double)(x)) : (uint64_t)(x))
#define DTXK_CV_f16(x, SF) dtxk_f64_to_f16((double)(x))
#define DTXK_CV_f32(x, SF) ((float)(x))
#define DTXK_CV_f64(x, SF) ((double)(x))
#define DTXK_SF_b 0
#define DTXK_SF_i32 0
#define DTXK_SF_i64 0
#define DTXK_SF_f32 1
#define DTXK_SF_f64 1
#define DTXK_SF_i8 0
#define DTXK_SF_i16 0
#define DTXK_SF_u8 0
#define DTXK_SF_u16 0
#define DTXK_SF_u32 0
#define DTXK_SF_u64 0
#define DTXK_SF_f16 1
/* x of type <from> (stored) as type <to> */
#define DTXK_CONVERT(TO, FROM, x) DTXK_CV_##TO(DTXK_LD_##FROM(x), DTXK_SF_##FROM)

/* ---- integer arithmetic that wraps -------------------------------------------- */

DTX_HD int32_t dtxk_wrap32(uint32_t x) { return (int32_t)x; }
DTX_HD int64_t dtxk_wrap64(uint64_t x) { return (int64_t)x; }

DTX_HD int64_t dtxk_ipow64(int64_t b, int64_t e) {
  if (e < 0) return b == 1 ? 1 : b == -1 ? ((e & 1) ? -1 : 1) : 0;
  uint64_t r = 1, x = (uint64_t)b;
  while (e > 0) {
    if (e & 1) r *= x;
    x *= x;
    e >>= 1;
  }
  return (int64_t)r;
}
DTX_HD uint64_t dtxk_upow64(uint64_t b, uint64_t e) {
  uint64_t r = 1;
  while (e > 0) {
    if (e & 1) r *= b;
    b *= b;
    e >>= 1;
  }
  return r;
}

/* ---- binary operations ----------------------------------------------------------
 * X(name, id) with elementwise definitions per type class below:
 *   dtxk_<name>_<suffix>(a, b) for suffix in b i32 i64 f32 f64 where defined. */

/* One entry a line, by hand: clang-format cannot lay out this X-macro list stably. */
/* clang-format off */
#define DTXK_BINARY_OPS(X) \
  X(add, 1)                \
  X(sub, 2)                \
  X(mul, 3)                \
  X(div, 4)                \
  X(pow, 5)                \
  X(minimum, 6)            \
  X(maximum, 7)            \
  X(eq, 8)                 \
  X(ne, 9)                 \
  X(lt, 10)                \
  X(le, 11)                \
  X(gt, 12)                \
  X(ge, 13)                \
  X(floor_divide, 14)      \
  X(mod, 15)
/* clang-format on */
#define DTXK_NBINARY 16    /* table rows: the ids above and 0 */
enum { DTXK_BIN_POW = 5 }; /* (kernels/vmath.h) */
/* whether binary op `op` gives bool (the comparisons, eq .. ge) */
#define DTXK_BIN_IS_BOOL(op) ((op) >= 8 && (op) <= 13)

/* floats */
#define DTXK_FLOAT_BIN(S, T, POW)                                           \
  DTX_HD T dtxk_add_##S(T a, T b) { return a + b; }                         \
  DTX_HD T dtxk_sub_##S(T a, T b) { return a - b; }                         \
  DTX_HD T dtxk_mul_##S(T a, T b) { return a * b; }                         \
  DTX_HD T dtxk_div_##S(T a, T b) { return a / b; }                         \
  DTX_HD T dtxk_pow_##S(T a, T b) { return POW(a, b); }                     \
  DTX_HD T dtxk_minimum_##S(T a, T b) { return (a < b || a != a) ? a : b; } \
  DTX_HD T dtxk_maximum_##S(T a, T b) { return (a > b || a != a) ? a : b; }
DTXK_FLOAT_BIN(f32, float, powf)
DTXK_FLOAT_BIN(f64, double, pow)

/* floor_divide and mod of floats: NumPy's npy_divmod (npymath), so every
 * corner is NumPy's: mod takes the divisor's sign (a zero result too),
 * mod(x, +-inf) is x or +-inf, floor_divide snaps to the integer nearest
 * (a - mod) / b; a zero divisor gives a / b and fmod(a, 0) (inf or nan). */
#define DTXK_FLOAT_DIVMOD(S, T, SUF)           \
  DTX_HD T dtxk_divmod_##S(T a, T b, T *mod) { \
    T m = fmod##SUF(a, b);                     \
    if (!b) {                                  \
      *mod = m;                                \
      return a / b;                            \
    }                                          \
    T div = (a - m) / b;                       \
    if (m) {                                   \
      if ((b < 0) != (m < 0)) {                \
        m += b;                                \
        div -= 1;                              \
      }                                        \
    } else {                                   \
      m = copysign##SUF((T)0, b);              \
    }                                          \
    T fd;                                      \
    if (div) {                                 \
      fd = floor##SUF(div);                    \
      if (div - fd > (T)0.5) fd += 1;          \
    } else {                                   \
      fd = copysign##SUF((T)0, a / b);         \
    }                                          \
    *mod = m;                                  \
    return fd;                                 \
  }                                            \
  DTX_HD T dtxk_floor_divide_##S(T a, T b) {   \
    T m;                                       \
    return dtxk_divmod_##S(a, b, &m);          \
  }                                            \
  DTX_HD T dtxk_mod_##S(T a, T b) {            \
    T m;                                       \
    if (!b) return fmod##SUF(a, b);            \
    dtxk_divmod_##S(a, b, &m);                 \
    return m;                                  \
  }
DTXK_FLOAT_DIVMOD(f32, float, f)
DTXK_FLOAT_DIVMOD(f64, double, )

/* integers: wrap on overflow, computed in U (an unsigned type at least as
 * wide as int, so no promotion to int can overflow); div never reaches
 * integers (true division promotes to float), it is defined for completeness
 * as C division with a zero divisor giving 0 */
#define DTXK_INT_BIN(S, T, U)                                                        \
  DTX_HD T dtxk_add_##S(T a, T b) { return (T)(U)((U)a + (U)b); }                    \
  DTX_HD T dtxk_sub_##S(T a, T b) { return (T)(U)((U)a - (U)b); }                    \
  DTX_HD T dtxk_mul_##S(T a, T b) { return (T)(U)((U)a * (U)b); }                    \
  DTX_HD T dtxk_div_##S(T a, T b) {                                                  \
    return b == 0 || (b == -1 && a == (T)((U)1 << (sizeof(T) * 8 - 1))) ? 0 : a / b; \
  }                                                                                  \
  DTX_HD T dtxk_pow_##S(T a, T b) { return (T)(U)(uint64_t)dtxk_ipow64(a, b); }      \
  DTX_HD T dtxk_minimum_##S(T a, T b) { return a < b ? a : b; }                      \
  DTX_HD T dtxk_maximum_##S(T a, T b) { return a > b ? a : b; }
DTXK_INT_BIN(i8, int8_t, uint32_t)
DTXK_INT_BIN(i16, int16_t, uint32_t)
DTXK_INT_BIN(i32, int32_t, uint32_t)
DTXK_INT_BIN(i64, int64_t, uint64_t)
/* floor_divide and mod of integers, as NumPy (Python's signs): the quotient
 * rounds toward -inf, the remainder takes the divisor's sign; a zero divisor
 * gives 0 for both (NumPy also warns), INT_MIN // -1 wraps to INT_MIN and
 * INT_MIN % -1 is 0 (NumPy: the same values, with an overflow warning). */
#define DTXK_INT_DIVMOD(S, T, U)                                     \
  DTX_HD T dtxk_floor_divide_##S(T a, T b) {                         \
    if (b == 0) return 0;                                            \
    if (b == -1) return (T)(U)(0 - (U)a);                            \
    T q = (T)(a / b);                                                \
    return ((a > 0) != (b > 0)) && (T)(q * b) != a ? (T)(q - 1) : q; \
  }                                                                  \
  DTX_HD T dtxk_mod_##S(T a, T b) {                                  \
    if (b == 0 || b == -1) return 0;                                 \
    T r = (T)(a % b);                                                \
    return r != 0 && ((r < 0) != (b < 0)) ? (T)(r + b) : r;          \
  }
DTXK_INT_DIVMOD(i8, int8_t, uint32_t)
DTXK_INT_DIVMOD(i16, int16_t, uint32_t)
DTXK_INT_DIVMOD(i32, int32_t, uint32_t)
DTXK_INT_DIVMOD(i64, int64_t, uint64_t)
#define DTXK_UINT_BIN(S, T, U)                                                         \
  DTX_HD T dtxk_add_##S(T a, T b) { return (T)((U)a + (U)b); }                         \
  DTX_HD T dtxk_sub_##S(T a, T b) { return (T)((U)a - (U)b); }                         \
  DTX_HD T dtxk_mul_##S(T a, T b) { return (T)((U)a * (U)b); }                         \
  DTX_HD T dtxk_div_##S(T a, T b) { return b == 0 ? 0 : (T)(a / b); }                  \
  DTX_HD T dtxk_pow_##S(T a, T b) { return (T)dtxk_upow64((uint64_t)a, (uint64_t)b); } \
  DTX_HD T dtxk_minimum_##S(T a, T b) { return a < b ? a : b; }                        \
  DTX_HD T dtxk_maximum_##S(T a, T b) { return a > b ? a : b; }
DTXK_UINT_BIN(u8, uint8_t, uint32_t)
DTXK_UINT_BIN(u16, uint16_t, uint32_t)
DTXK_UINT_BIN(u32, uint32_t, uint32_t)
DTXK_UINT_BIN(u64, uint64_t, uint64_t)
#define DTXK_UINT_DIVMOD(S, T)                                                 \
  DTX_HD T dtxk_floor_divide_##S(T a, T b) { return b == 0 ? 0 : (T)(a / b); } \
  DTX_HD T dtxk_mod_##S(T a, T b) { return b == 0 ? 0 : (T)(a % b); }
DTXK_UINT_DIVMOD(u8, uint8_t)
DTXK_UINT_DIVMOD(u16, uint16_t)
DTXK_UINT_DIVMOD(u32, uint32_t)
DTXK_UINT_DIVMOD(u64, uint64_t)

/* float16: computed in float32, rounded once (as NumPy's half loops) */
#define DTXK_F16_BIN(OP)                                                             \
  DTX_HD dtxk_f16 dtxk_##OP##_f16(dtxk_f16 a, dtxk_f16 b) {                          \
    return dtxk_f32_to_f16(dtxk_##OP##_f32(dtxk_f16_to_f32(a), dtxk_f16_to_f32(b))); \
  }
DTXK_F16_BIN(add)
DTXK_F16_BIN(sub)
DTXK_F16_BIN(mul)
DTXK_F16_BIN(div)
DTXK_F16_BIN(pow)
DTXK_F16_BIN(floor_divide)
DTXK_F16_BIN(mod)
/* as the float32 ones, returning the operands' own bits */
DTX_HD dtxk_f16 dtxk_minimum_f16(dtxk_f16 a, dtxk_f16 b) {
  float x = dtxk_f16_to_f32(a), y = dtxk_f16_to_f32(b);
  return (x < y || x != x) ? a : b;
}
DTX_HD dtxk_f16 dtxk_maximum_f16(dtxk_f16 a, dtxk_f16 b) {
  float x = dtxk_f16_to_f32(a), y = dtxk_f16_to_f32(b);
  return (x > y || x != x) ? a : b;
}

/* bool: + is or, * is and (NumPy); sub, div, pow are refused when the graph is built */
DTX_HD dtxk_b dtxk_add_b(dtxk_b a, dtxk_b b) { return (dtxk_b)(a | b); }
DTX_HD dtxk_b dtxk_sub_b(dtxk_b a, dtxk_b b) { return (dtxk_b)(a ^ b); }
DTX_HD dtxk_b dtxk_mul_b(dtxk_b a, dtxk_b b) { return (dtxk_b)(a & b); }
DTX_HD dtxk_b dtxk_div_b(dtxk_b a, dtxk_b b) {
  (void)b;
  return a;
}
DTX_HD dtxk_b dtxk_pow_b(dtxk_b a, dtxk_b b) { return (dtxk_b)(a | !b); }
/* never reached: bool // bool and bool % bool compute in int8 (NumPy) */
DTX_HD dtxk_b dtxk_floor_divide_b(dtxk_b a, dtxk_b b) { return (dtxk_b)(a & b); }
DTX_HD dtxk_b dtxk_mod_b(dtxk_b a, dtxk_b b) {
  (void)a;
  (void)b;
  return 0;
}
DTX_HD dtxk_b dtxk_minimum_b(dtxk_b a, dtxk_b b) { return (dtxk_b)(a & b); }
DTX_HD dtxk_b dtxk_maximum_b(dtxk_b a, dtxk_b b) { return (dtxk_b)(a | b); }

/* comparisons, every type: result bool (float16 compared as float32) */
#define DTXK_CMP(S, T)                                                                       \
  DTX_HD dtxk_b dtxk_eq_##S(T a, T b) { return (dtxk_b)(DTXK_LD_##S(a) == DTXK_LD_##S(b)); } \
  DTX_HD dtxk_b dtxk_ne_##S(T a, T b) { return (dtxk_b)(DTXK_LD_##S(a) != DTXK_LD_##S(b)); } \
  DTX_HD dtxk_b dtxk_lt_##S(T a, T b) { return (dtxk_b)(DTXK_LD_##S(a) < DTXK_LD_##S(b)); }  \
  DTX_HD dtxk_b dtxk_le_##S(T a, T b) { return (dtxk_b)(DTXK_LD_##S(a) <= DTXK_LD_##S(b)); } \
  DTX_HD dtxk_b dtxk_gt_##S(T a, T b) { return (dtxk_b)(DTXK_LD_##S(a) > DTXK_LD_##S(b)); }  \
  DTX_HD dtxk_b dtxk_ge_##S(T a, T b) { return (dtxk_b)(DTXK_LD_##S(a) >= DTXK_LD_##S(b)); }
#define DTXK_CMP_T(S, T, ID) DTXK_CMP(S, T)
DTXK_TYPES(DTXK_CMP_T)

/* ---- unary operations ----------------------------------------------------------- */

/* One entry a line, by hand: clang-format cannot lay out this X-macro list stably. */
/* clang-format off */
#define DTXK_UNARY_OPS(X) \
  X(neg, 1)               \
  X(abs, 2)               \
  X(exp, 3)               \
  X(log, 4)               \
  X(sqrt, 5)              \
  X(sin, 6)               \
  X(cos, 7)               \
  X(tanh, 8)              \
  X(isnan, 9)             \
  X(isinf, 10)            \
  X(isfinite, 11)         \
  X(rint, 12)
/* clang-format on */
#define DTXK_NUNARY 13                      /* table rows: the ids above and 0 */
enum { DTXK_UN_EXP = 3, DTXK_UN_TANH = 8 }; /* exp, log, sqrt, sin, cos, tanh (kernels/vmath.h) */
/* whether unary op `op` gives bool (isnan, isinf, isfinite: every dtype) */
#define DTXK_UN_IS_BOOL(op) ((op) >= 9 && (op) <= 11)

#define DTXK_FLOAT_UN(S, T, SUF)                       \
  DTX_HD T dtxk_neg_##S(T a) { return -a; }            \
  DTX_HD T dtxk_abs_##S(T a) { return fabs##SUF(a); }  \
  DTX_HD T dtxk_exp_##S(T a) { return exp##SUF(a); }   \
  DTX_HD T dtxk_log_##S(T a) { return log##SUF(a); }   \
  DTX_HD T dtxk_sqrt_##S(T a) { return sqrt##SUF(a); } \
  DTX_HD T dtxk_sin_##S(T a) { return sin##SUF(a); }   \
  DTX_HD T dtxk_cos_##S(T a) { return cos##SUF(a); }   \
  DTX_HD T dtxk_tanh_##S(T a) { return tanh##SUF(a); }
DTXK_FLOAT_UN(f32, float, f)
DTXK_FLOAT_UN(f64, double, )

/* rint: to the nearest integer, ties to even (the default rounding mode, as
 * NumPy's npy_rint); the classes of a value as bool */
#define DTXK_FLOAT_CLASS(S, T, SUF, MAX)                                     \
  DTX_HD T dtxk_rint_##S(T a) { return rint##SUF(a); }                       \
  DTX_HD dtxk_b dtxk_isnan_##S(T a) { return (dtxk_b)(a != a); }             \
  DTX_HD dtxk_b dtxk_isinf_##S(T a) { return (dtxk_b)(fabs##SUF(a) > MAX); } \
  DTX_HD dtxk_b dtxk_isfinite_##S(T a) { return (dtxk_b)(fabs##SUF(a) <= MAX); }
DTXK_FLOAT_CLASS(f32, float, f, 3.40282346638528859812e+38f)
DTXK_FLOAT_CLASS(f64, double, , 1.79769313486231570815e+308)
/* integers and bool hold no nan or inf (NumPy: isnan false, isfinite true) */
#define DTXK_INT_CLASS(S, T, ID)         \
  DTX_HD dtxk_b dtxk_isnan_##S(T a) {    \
    (void)a;                             \
    return 0;                            \
  }                                      \
  DTX_HD dtxk_b dtxk_isinf_##S(T a) {    \
    (void)a;                             \
    return 0;                            \
  }                                      \
  DTX_HD dtxk_b dtxk_isfinite_##S(T a) { \
    (void)a;                             \
    return 1;                            \
  }
DTXK_INT_CLASS(b, dtxk_b, DTXK_BOOL)
DTXK_INT_CLASS(i8, int8_t, DTXK_I8)
DTXK_INT_CLASS(i16, int16_t, DTXK_I16)
DTXK_INT_CLASS(i32, int32_t, DTXK_I32)
DTXK_INT_CLASS(i64, int64_t, DTXK_I64)
DTXK_INT_CLASS(u8, uint8_t, DTXK_U8)
DTXK_INT_CLASS(u16, uint16_t, DTXK_U16)
DTXK_INT_CLASS(u32, uint32_t, DTXK_U32)
DTXK_INT_CLASS(u64, uint64_t, DTXK_U64)

/* integers: neg and abs only (the float functions promote to float);
 * neg of an unsigned integer wraps, as NumPy */
#define DTXK_INT_UN(S, T, U)                              \
  DTX_HD T dtxk_neg_##S(T a) { return (T)(U)(0 - (U)a); } \
  DTX_HD T dtxk_abs_##S(T a) { return a < 0 ? (T)(U)(0 - (U)a) : a; }
DTXK_INT_UN(i8, int8_t, uint32_t)
DTXK_INT_UN(i16, int16_t, uint32_t)
DTXK_INT_UN(i32, int32_t, uint32_t)
DTXK_INT_UN(i64, int64_t, uint64_t)
#define DTXK_UINT_UN(S, T, U)                             \
  DTX_HD T dtxk_neg_##S(T a) { return (T)(U)(0 - (U)a); } \
  DTX_HD T dtxk_abs_##S(T a) { return a; }
DTXK_UINT_UN(u8, uint8_t, uint32_t)
DTXK_UINT_UN(u16, uint16_t, uint32_t)
DTXK_UINT_UN(u32, uint32_t, uint32_t)
DTXK_UINT_UN(u64, uint64_t, uint64_t)
DTX_HD dtxk_b dtxk_abs_b(dtxk_b a) { return a; }

/* float16: neg and abs on the sign bit, the rest in float32 */
DTX_HD dtxk_f16 dtxk_neg_f16(dtxk_f16 a) { return (dtxk_f16)(a ^ 0x8000u); }
DTX_HD dtxk_f16 dtxk_abs_f16(dtxk_f16 a) { return (dtxk_f16)(a & 0x7fffu); }
#define DTXK_F16_UN(OP) \
  DTX_HD dtxk_f16 dtxk_##OP##_f16(dtxk_f16 a) { return dtxk_f32_to_f16(dtxk_##OP##_f32(dtxk_f16_to_f32(a))); }
DTXK_F16_UN(exp)
DTXK_F16_UN(log)
DTXK_F16_UN(sqrt)
DTXK_F16_UN(sin)
DTXK_F16_UN(cos)
DTXK_F16_UN(tanh)
DTXK_F16_UN(rint)
/* float16 classes on the bits: exponent all ones is inf (mantissa 0) or nan */
DTX_HD dtxk_b dtxk_isnan_f16(dtxk_f16 a) { return (dtxk_b)((a & 0x7fffu) > 0x7c00u); }
DTX_HD dtxk_b dtxk_isinf_f16(dtxk_f16 a) { return (dtxk_b)((a & 0x7fffu) == 0x7c00u); }
DTX_HD dtxk_b dtxk_isfinite_f16(dtxk_f16 a) { return (dtxk_b)((a & 0x7c00u) != 0x7c00u); }

/* ---- Philox4x32-10 (Salmon et al., SC'11), counter-based random numbers --------- */

typedef struct dtxk_u32x4 {
  uint32_t v[4];
} dtxk_u32x4;

DTX_HD dtxk_u32x4 dtxk_philox(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; r++) {
    if (r > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  dtxk_u32x4 out;
  out.v[0] = c0;
  out.v[1] = c1;
  out.v[2] = c2;
  out.v[3] = c3;
  return out;
}

DTX_HD dtxk_u32x4 dtxk_philox_at(uint64_t seed, uint64_t index) {
  return dtxk_philox((uint32_t)index, (uint32_t)(index >> 32), 0, 0, (uint32_t)seed, (uint32_t)(seed >> 32));
}
/* Uniform on [0, 1): 53 random bits for float64, 24 for float32. */
DTX_HD double dtxk_uniform_f64(uint64_t seed, uint64_t index) {
  dtxk_u32x4 r = dtxk_philox_at(seed, index);
  uint64_t x = ((uint64_t)r.v[1] << 32) | r.v[0];
  return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}
DTX_HD float dtxk_uniform_f32(uint64_t seed, uint64_t index) {
  dtxk_u32x4 r = dtxk_philox_at(seed, index);
  return (float)(r.v[0] >> 8) * (1.0f / 16777216.0f);
}
/* Standard normal by Box-Muller on the two 64-bit halves of one draw. */
DTX_HD double dtxk_normal_f64(uint64_t seed, uint64_t index) {
  dtxk_u32x4 r = dtxk_philox_at(seed, index);
  uint64_t a = ((uint64_t)r.v[1] << 32) | r.v[0], b = ((uint64_t)r.v[3] << 32) | r.v[2];
  double u1 = (double)((a >> 11) + 1) * (1.0 / 9007199254740992.0); /* (0, 1] */
  double u2 = (double)(b >> 11) * (1.0 / 9007199254740992.0);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

/* ---- generators: the value of element `flat` (C-order index) ---------------------- */

enum {
  DTXK_GEN_CONST = 1,    /* g0 (or i0 for integer dtypes) */
  DTXK_GEN_ARANGE = 2,   /* g0 + g1 * flat (integers: i0 + i1 * flat) */
  DTXK_GEN_LINSPACE = 3, /* g0 + g1 * flat; the last of i0 values is exactly g2 when i1 */
  DTXK_GEN_EYE = 4,      /* 1 where col - row == i0 (row = flat / i1) */
  DTXK_GEN_UNIFORM = 5,
  DTXK_GEN_NORMAL = 6,
};

typedef struct dtxk_gen {
  int32_t kind;
  int32_t pad;
  double g0, g1, g2;
  int64_t i0, i1;
  uint64_t seed;
} dtxk_gen;

/* The generator's value as a double (float dtypes, bool) ... */
DTX_HD double dtxk_gen_f64(const dtxk_gen *g, int64_t flat, int dtype) {
  switch (g->kind) {
    case DTXK_GEN_CONST:
      return g->g0;
    case DTXK_GEN_ARANGE:
      return g->g0 + g->g1 * (double)flat;
    case DTXK_GEN_LINSPACE:
      return (g->i1 && flat == g->i0 - 1) ? g->g2 : g->g0 + g->g1 * (double)flat;
    case DTXK_GEN_EYE:
      return (flat % g->i1) - (flat / g->i1) == g->i0 ? 1.0 : 0.0;
    case DTXK_GEN_UNIFORM:
      return dtype == DTXK_F32 ? (double)dtxk_uniform_f32(g->seed, (uint64_t)flat)
                               : dtxk_uniform_f64(g->seed, (uint64_t)flat);
    case DTXK_GEN_NORMAL:
      return dtxk_normal_f64(g->seed, (uint64_t)flat);
  }
  return 0.0;
}
/* ... and as an integer (integer dtypes: exact for const and arange). */
DTX_HD int64_t dtxk_gen_i64(const dtxk_gen *g, int64_t flat) {
  switch (g->kind) {
    case DTXK_GEN_CONST:
      return g->i0;
    case DTXK_GEN_ARANGE:
      return (int64_t)((uint64_t)g->i0 + (uint64_t)g->i1 * (uint64_t)flat);
    case DTXK_GEN_EYE:
      return (flat % g->i1) - (flat / g->i1) == g->i0 ? 1 : 0;
    case DTXK_GEN_LINSPACE: /* NumPy rounds integer linspace values towards -inf */
      return dtxk_f2i64(floor(dtxk_gen_f64(g, flat, DTXK_F64)));
    default:
      return dtxk_f2i64(dtxk_gen_f64(g, flat, DTXK_F64));
  }
}

#endif /* DTXK_ELEM_H */
