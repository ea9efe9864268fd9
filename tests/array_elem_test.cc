/*
 * tests/array_elem_test.cc - isnan, isinf, isfinite, rint, round(decimals),
 * floor_divide and mod (dtx/array.h) against plain C++ loops with NumPy 2's
 * rules, for every dtype: random values with NaN, +-inf, -0.0 and the
 * integer extremes (INT_MIN // -1, zero divisors), ragged chunks, transposed
 * and broadcast operands, empty arrays, the result dtypes (bool // bool is
 * int8, Python scalars weak), a few values NumPy 2.4 printed, and bad input.
 * Values are compared bit for bit (any NaN matches any NaN). Runs under sync,
 * threads and the cluster scheduler on 2 simulated GPUs. Seeds printed.
 */
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>

#include "array_util.h"

using namespace dtxa_test;

namespace {

class ArrayElem : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayElem,
                         ::testing::Values(AllScheds()[0], AllScheds()[1], AllScheds()[3]), SchedName());

/* float16 as its bits, for dispatch */
struct Half {
  uint16_t h;
};

/* Calls f with a value of the C type of t (Half for float16). */
template <typename F>
void WithType(dtx_dtype t, F &&f) {
  switch (t) {
    case DTX_BOOL:
      return f(bool{});
    case DTX_I8:
      return f(int8_t{});
    case DTX_I16:
      return f(int16_t{});
    case DTX_I32:
      return f(int32_t{});
    case DTX_I64:
      return f(int64_t{});
    case DTX_U8:
      return f(uint8_t{});
    case DTX_U16:
      return f(uint16_t{});
    case DTX_U32:
      return f(uint32_t{});
    case DTX_U64:
      return f(uint64_t{});
    case DTX_F16:
      return f(Half{});
    case DTX_F32:
      return f(float{});
    default:
      return f(double{});
  }
}

/* A typed host array: C-order elements of dtype t. */
struct Raw {
  dtx_dtype t = DTX_F64;
  std::vector<int64_t> shape;
  std::vector<unsigned char> b;
  int64_t n() const {
    int64_t k = 1;
    for (int64_t s : shape) k *= s;
    return k;
  }
  template <typename T>
  T at(int64_t i) const {
    T v;
    std::memcpy(&v, b.data() + i * sizeof(T), sizeof(T));
    return v;
  }
  template <typename T>
  void set(int64_t i, T v) {
    std::memcpy(b.data() + i * sizeof(T), &v, sizeof(T));
  }
};

Raw MakeRaw(dtx_dtype t, const std::vector<int64_t> &shape) {
  Raw r;
  r.t = t;
  r.shape = shape;
  r.b.assign(static_cast<size_t>(r.n()) * dtx_dtype_size(t) + 1, 0);
  return r;
}

double Special(std::mt19937_64 &rng) {
  const double s[] = {0.0, -0.0, NAN, INFINITY, -INFINITY, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5, 3.0, -3.0, 6.0};
  return s[rng() % (sizeof s / sizeof s[0])];
}

/* Random values of t: small ones, integer-valued floats (exact remainders
 * of 0), and 15% specials (integer extremes, nan, inf, -0.0, halves). */
template <typename T>
T RandOf(std::mt19937_64 &rng) {
  bool special = rng() % 100 < 15;
  if constexpr (std::is_same_v<T, bool>) {
    return rng() % 2;
  } else if constexpr (std::is_integral_v<T>) {
    using L = std::numeric_limits<T>;
    if (special) {
      const T s[] = {L::min(), L::max(), T(0), T(1), T(L::max() - 1), T(L::min() + 1), T(-1), T(2)};
      return s[rng() % 8];
    }
    int64_t lo = L::is_signed ? -20 : 0;
    return static_cast<T>(lo + static_cast<int64_t>(rng() % 41));
  } else {
    double v = special ? Special(rng) : std::uniform_real_distribution<double>(-8, 8)(rng);
    if (!special && rng() % 3 == 0) v = std::round(v * 2) / 2;
    if constexpr (std::is_same_v<T, Half>) {
      if (special && rng() % 4 == 0) v = rng() % 2 ? 65504.0 : -6e-8;
      return Half{DoubleToHalfBits(v)};
    } else {
      return static_cast<T>(v);
    }
  }
}

Raw RandRaw(std::mt19937_64 &rng, dtx_dtype t, const std::vector<int64_t> &shape) {
  Raw r = MakeRaw(t, shape);
  WithType(t, [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < r.n(); i++) r.set<T>(i, RandOf<T>(rng));
  });
  return r;
}

dtx_array *PutRaw(dtx_cluster *cl, const Raw &r, const std::vector<int64_t> &chunks) {
  return dtx_from_host(cl, static_cast<int>(r.shape.size()), r.shape.data(), chunks.data(), r.t, r.b.data(),
                       DTX_HOST_COPY);
}

/* Computes a into a Raw; fails the test (empty shape, dtype 0) on error. */
Raw GetRaw(const dtx_array *a) {
  Raw r;
  r.t = DTX_ANY_DTYPE;
  if (a == nullptr) {
    ADD_FAILURE() << "array is NULL: " << dtx_last_error();
    return r;
  }
  Raw out = MakeRaw(dtx_array_dtype(a), Shape(a));
  dtx_status rc = dtx_array_compute_as(a, out.t, out.b.data(), dtx_array_nbytes(a));
  if (rc != DTX_OK) {
    ADD_FAILURE() << "compute: " << dtx_status_name(rc) << ": " << dtx_last_error();
    return r;
  }
  return out;
}

double AsDouble(const Raw &r, int64_t i) {
  double v = 0;
  WithType(r.t, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, Half>)
      v = HalfBitsToDouble(r.at<Half>(i).h);
    else
      v = static_cast<double>(r.at<T>(i));
  });
  return v;
}

/* Same dtype, shape and bits (NaN matches NaN, whatever its sign). */
::testing::AssertionResult SameRaw(const Raw &got, const Raw &want) {
  if (got.t != want.t)
    return ::testing::AssertionFailure() << "dtype " << (dtx_dtype_name(got.t) ? dtx_dtype_name(got.t) : "?")
                                         << " != " << dtx_dtype_name(want.t);
  if (got.shape != want.shape)
    return ::testing::AssertionFailure() << "shape " << ShapeStr(got.shape) << " != " << ShapeStr(want.shape);
  size_t sz = dtx_dtype_size(got.t);
  for (int64_t i = 0; i < want.n(); i++) {
    double g = AsDouble(got, i), w = AsDouble(want, i);
    bool nan = (got.t == DTX_F16 || got.t == DTX_F32 || got.t == DTX_F64) && std::isnan(g) && std::isnan(w);
    if (!nan && std::memcmp(got.b.data() + i * sz, want.b.data() + i * sz, sz) != 0)
      return ::testing::AssertionFailure()
             << "element " << i << ": got " << g << (std::signbit(g) ? " (-)" : "") << ", want " << w
             << (std::signbit(w) ? " (-)" : "");
  }
  return ::testing::AssertionSuccess();
}

/* ---- the references: NumPy's rules, written out ---------------------------------- */

/* Python's float divmod (CPython float_divmod, which npy_divmod copies). */
template <typename F>
F RefFloorDivF(F a, F b) {
  if (b == 0) return a / b;
  F m = std::fmod(a, b), div = (a - m) / b;
  if (m != 0 && ((b < 0) != (m < 0))) div -= 1;
  if (div == 0) return std::copysign(F(0), a / b);
  F fl = std::floor(div);
  return div - fl > F(0.5) ? fl + 1 : fl;
}
template <typename F>
F RefModF(F a, F b) {
  F m = std::fmod(a, b);
  if (b == 0) return m;
  if (m == 0) return std::copysign(F(0), b);
  return (b < 0) != (m < 0) ? m + b : m;
}
/* Integers: exact in 128 bits, then wrapped to T; a zero divisor gives 0. */
template <typename T>
T RefFloorDivI(T a, T b) {
  if (b == 0) return 0;
  __int128 x = a, y = b, q = x / y;
  if (x % y != 0 && ((x < 0) != (y < 0))) q--;
  return static_cast<T>(static_cast<unsigned __int128>(q));
}
template <typename T>
T RefModI(T a, T b) {
  if (b == 0) return 0;
  __int128 x = a, y = b, q = x / y;
  if (x % y != 0 && ((x < 0) != (y < 0))) q--;
  return static_cast<T>(static_cast<unsigned __int128>(x - q * y));
}

enum RefOp { kFloorDiv, kMod };

/* a op b elementwise (same shape, same dtype t; bool computes in int8). */
Raw RefBinary(RefOp op, const Raw &a, const Raw &b) {
  Raw r = MakeRaw(a.t == DTX_BOOL ? DTX_I8 : a.t, a.shape);
  WithType(a.t, [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < a.n(); i++) {
      T x = a.at<T>(i), y = b.at<T>(i);
      if constexpr (std::is_same_v<T, bool>) {
        int8_t p = x, q = y;
        r.set<int8_t>(i, op == kFloorDiv ? RefFloorDivI(p, q) : RefModI(p, q));
      } else if constexpr (std::is_same_v<T, Half>) {
        float p = static_cast<float>(HalfBitsToDouble(x.h)), q = static_cast<float>(HalfBitsToDouble(y.h));
        float v = op == kFloorDiv ? RefFloorDivF(p, q) : RefModF(p, q);
        r.set<Half>(i, Half{DoubleToHalfBits(v)});
      } else if constexpr (std::is_floating_point_v<T>) {
        r.set<T>(i, op == kFloorDiv ? RefFloorDivF(x, y) : RefModF(x, y));
      } else {
        r.set<T>(i, op == kFloorDiv ? RefFloorDivI(x, y) : RefModI(x, y));
      }
    }
  });
  return r;
}

/* The float dtype NumPy's float functions give t (rint). */
dtx_dtype FloatFor(dtx_dtype t) {
  switch (t) {
    case DTX_BOOL:
    case DTX_I8:
    case DTX_U8:
    case DTX_F16:
      return DTX_F16;
    case DTX_I16:
    case DTX_U16:
    case DTX_F32:
      return DTX_F32;
    default:
      return DTX_F64;
  }
}

void StoreFloat(Raw &r, int64_t i, double v) {
  if (r.t == DTX_F16)
    r.set<Half>(i, Half{DoubleToHalfBits(v)});
  else if (r.t == DTX_F32)
    r.set<float>(i, static_cast<float>(v));
  else
    r.set<double>(i, v);
}

enum RefUn { kIsNan, kIsInf, kIsFinite, kRint };

Raw RefUnary(RefUn op, const Raw &a) {
  Raw r = MakeRaw(op == kRint ? FloatFor(a.t) : DTX_BOOL, a.shape);
  for (int64_t i = 0; i < a.n(); i++) {
    double v = AsDouble(a, i);
    switch (op) {
      case kIsNan:
        r.set<uint8_t>(i, std::isnan(v));
        break;
      case kIsInf:
        r.set<uint8_t>(i, std::isinf(v));
        break;
      case kIsFinite:
        r.set<uint8_t>(i, std::isfinite(v));
        break;
      case kRint: /* exact for every source value: the nearest integer is representable */
        StoreFloat(r, i, std::nearbyint(v));
        break;
    }
  }
  return r;
}

/* NumPy's power_of_ten */
double PowerOfTen(int n) {
  double r = 1;
  if (n < 9) {
    for (int k = 0; k < n; k++) r *= 10;
    return r;
  }
  r = 1e9;
  for (int k = 9; k < n; k++) r *= 10;
  return r;
}

/* What NumPy's float64-to-T cast gives on x86-64 (cvttsd2si): through int32
 * for the types up to 32 bits but uint32 (INT32_MIN outside its range and
 * for NaN), through int64 for uint32 and int64, uint64 by halves. */
template <typename T>
T X86Cast(double v) {
  if constexpr (std::is_same_v<T, uint64_t>) {
    const double p63 = 9223372036854775808.0;
    if (v < p63) return static_cast<uint64_t>(static_cast<int64_t>(v));
    double w = v - p63;
    int64_t k = (w >= -p63 && w < p63) ? static_cast<int64_t>(w) : INT64_MIN;
    return static_cast<uint64_t>(k) ^ (1ull << 63);
  } else if constexpr (sizeof(T) == 8 || std::is_same_v<T, uint32_t>) {
    const double p63 = 9223372036854775808.0;
    int64_t k = (v >= -p63 && v < p63) ? static_cast<int64_t>(v) : INT64_MIN;
    return static_cast<T>(k);
  } else {
    const double p31 = 2147483648.0;
    int32_t k = (v >= -p31 && v < p31) ? static_cast<int32_t>(v) : INT32_MIN;
    return static_cast<T>(k);
  }
}

/* numpy.round(a, d) as PyArray_Round computes it, step by step in the dtype. */
Raw RefRound(const Raw &a, int d) {
  if (a.t == DTX_BOOL) return RefUnary(kRint, a);
  Raw r = MakeRaw(a.t, a.shape);
  WithType(a.t, [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < a.n(); i++) {
      if constexpr (std::is_integral_v<T>) {
        T x = a.at<T>(i);
        if (d >= 0) {
          r.set<T>(i, x);
        } else {
          double f = PowerOfTen(-d);
          r.set<T>(i, X86Cast<T>(std::nearbyint(static_cast<double>(x) / f) * f));
        }
      } else if constexpr (std::is_same_v<T, Half>) {
        auto h = [](double v) { return HalfBitsToDouble(DoubleToHalfBits(v)); };
        double x = HalfBitsToDouble(a.at<Half>(i).h), f = h(PowerOfTen(d < 0 ? -d : d));
        double v = d == 0  ? std::nearbyint(x)
                   : d > 0 ? h(std::nearbyint(h(static_cast<float>(x) * static_cast<float>(f))) / f)
                           : h(std::nearbyint(h(static_cast<float>(x) / static_cast<float>(f))) * f);
        r.set<Half>(i, Half{DoubleToHalfBits(v)});
      } else {
        T x = a.at<T>(i), f = static_cast<T>(PowerOfTen(d < 0 ? -d : d));
        T v = d == 0 ? std::nearbyint(x) : d > 0 ? std::nearbyint(x * f) / f : std::nearbyint(x / f) * f;
        r.set<T>(i, v);
      }
    }
  });
  return r;
}

/* a transposed (2-d). */
Raw Transposed(const Raw &a) {
  Raw r = MakeRaw(a.t, {a.shape[1], a.shape[0]});
  size_t sz = dtx_dtype_size(a.t);
  for (int64_t i = 0; i < a.shape[0]; i++)
    for (int64_t j = 0; j < a.shape[1]; j++)
      std::memcpy(r.b.data() + (j * a.shape[0] + i) * sz, a.b.data() + (i * a.shape[1] + j) * sz, sz);
  return r;
}

const char *Name(dtx_dtype t) { return dtx_dtype_name(t); }

}  // namespace

/* ---- floor_divide and mod ----------------------------------------------------------- */

TEST_P(ArrayElem, FloorDivideAndModEveryDtype) {
  Scope sc;
  uint64_t seed = 7100 + static_cast<uint64_t>(GetParam().gpus);
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  for (dtx_dtype t : EveryDtype())
    for (int rep = 0; rep < 2; rep++) {
      std::vector<int64_t> shape = {1 + static_cast<int64_t>(rng() % 23),
                                    1 + static_cast<int64_t>(rng() % 19)};
      Raw a = RandRaw(rng, t, shape), b = RandRaw(rng, t, shape);
      std::vector<int64_t> ca = RandChunks(rng, shape), cb = RandChunks(rng, shape);
      for (RefOp op : {kFloorDiv, kMod}) {
        SCOPED_TRACE(std::string(op == kFloorDiv ? "floor_divide " : "mod ") + Name(t) + " " +
                     ShapeStr(shape));
        Raw want = RefBinary(op, a, b);
        auto f = op == kFloorDiv ? dtx_floor_divide : dtx_mod;
        EXPECT_TRUE(SameRaw(GetRaw(f(PutRaw(cl(), a, ca), PutRaw(cl(), b, cb))), want));
        /* b read transposed twice (strided leaves), and through dtx_binary */
        dtx_array *bt = dtx_transpose(PutRaw(cl(), Transposed(b), {cb[1], cb[0]}), nullptr);
        EXPECT_TRUE(SameRaw(
            GetRaw(dtx_binary(op == kFloorDiv ? DTX_FLOOR_DIVIDE : DTX_MOD, PutRaw(cl(), a, ca), bt)), want));
      }
    }
}

TEST_P(ArrayElem, IntegerDivisionCorners) {
  Scope sc;
  /* zero divisors give 0, INT_MIN // -1 wraps to INT_MIN and its % is 0 (NumPy 2.4 printed these) */
  int8_t a8[] = {-7, 7, -128, 5, -128, 0, 127, -1};
  int8_t b8[] = {2, -2, -1, 0, 0, -3, -128, 3};
  int8_t fd8[] = {-4, -4, -128, 0, 0, 0, -1, -1};
  int8_t md8[] = {1, -1, 0, 0, 0, 0, -1, 2};
  int64_t n = 8, c = 3;
  dtx_array *x = dtx_from_host(cl(), 1, &n, &c, DTX_I8, a8, DTX_HOST_COPY);
  dtx_array *y = dtx_from_host(cl(), 1, &n, &c, DTX_I8, b8, DTX_HOST_COPY);
  int8_t got[8];
  ASSERT_EQ(dtx_array_compute(dtx_floor_divide(x, y), got, sizeof got), DTX_OK) << dtx_last_error();
  EXPECT_EQ(0, std::memcmp(got, fd8, sizeof got));
  ASSERT_EQ(dtx_array_compute(dtx_mod(x, y), got, sizeof got), DTX_OK) << dtx_last_error();
  EXPECT_EQ(0, std::memcmp(got, md8, sizeof got));
  int64_t a64[] = {INT64_MIN, INT64_MIN, INT64_MAX, -1, 9};
  int64_t b64[] = {-1, 0, INT64_MIN, INT64_MIN, -4};
  int64_t fd64[] = {INT64_MIN, 0, -1, 0, -3};
  int64_t md64[] = {0, 0, -1, -1, -3};
  int64_t n5 = 5, c2 = 2, g64[5];
  dtx_array *p = dtx_from_host(cl(), 1, &n5, &c2, DTX_I64, a64, DTX_HOST_COPY);
  dtx_array *q = dtx_from_host(cl(), 1, &n5, &c2, DTX_I64, b64, DTX_HOST_COPY);
  ASSERT_EQ(dtx_array_compute(dtx_floor_divide(p, q), g64, sizeof g64), DTX_OK) << dtx_last_error();
  EXPECT_EQ(0, std::memcmp(g64, fd64, sizeof g64));
  ASSERT_EQ(dtx_array_compute(dtx_mod(p, q), g64, sizeof g64), DTX_OK) << dtx_last_error();
  EXPECT_EQ(0, std::memcmp(g64, md64, sizeof g64));
  /* uint8: a zero divisor gives 0 */
  uint8_t u[] = {5, 255, 7}, v[] = {0, 16, 255}, gu[3];
  int64_t n3 = 3;
  dtx_array *ux = dtx_from_host(cl(), 1, &n3, &c2, DTX_U8, u, DTX_HOST_COPY);
  dtx_array *uy = dtx_from_host(cl(), 1, &n3, &c2, DTX_U8, v, DTX_HOST_COPY);
  ASSERT_EQ(dtx_array_compute_as(dtx_floor_divide(ux, uy), DTX_U8, gu, sizeof gu), DTX_OK);
  EXPECT_EQ(gu[0], 0);
  EXPECT_EQ(gu[1], 15);
  EXPECT_EQ(gu[2], 0);
  ASSERT_EQ(dtx_array_compute_as(dtx_mod(ux, uy), DTX_U8, gu, sizeof gu), DTX_OK);
  EXPECT_EQ(gu[0], 0);
  EXPECT_EQ(gu[1], 15);
  EXPECT_EQ(gu[2], 7);
}

TEST_P(ArrayElem, FloatDivisionCorners) {
  Scope sc;
  /* NumPy 2.4: np.mod / np.floor_divide of these float64 pairs */
  const double inf = INFINITY, nan = NAN;
  double a[] = {-7, 7, -0.0, 0.0, 5, inf, 3, -3, 0.0, 5, -5, 5, -5, nan, 6};
  double b[] = {2, -2, 3, -3, inf, 2, 0.0, 0.0, 0.0, -inf, -inf, inf, inf, 1, 3};
  double md[] = {1, -1, 0.0, -0.0, 5, nan, nan, nan, nan, -inf, -5, 5, inf, nan, 0.0};
  double fd[] = {-4, -4, -0.0, -0.0, 0.0, nan, inf, -inf, nan, -1, 0.0, 0.0, -1, nan, 2};
  int64_t n = 15, c = 4;
  dtx_array *x = dtx_from_host(cl(), 1, &n, &c, DTX_F64, a, DTX_HOST_COPY);
  dtx_array *y = dtx_from_host(cl(), 1, &n, &c, DTX_F64, b, DTX_HOST_COPY);
  double got[15];
  ASSERT_EQ(dtx_array_compute(dtx_mod(x, y), got, sizeof got), DTX_OK) << dtx_last_error();
  for (int i = 0; i < 15; i++) {
    EXPECT_TRUE(std::isnan(md[i]) ? std::isnan(got[i]) : std::memcmp(&got[i], &md[i], 8) == 0)
        << "mod " << a[i] << " " << b[i] << ": " << got[i];
  }
  ASSERT_EQ(dtx_array_compute(dtx_floor_divide(x, y), got, sizeof got), DTX_OK) << dtx_last_error();
  for (int i = 0; i < 15; i++) {
    EXPECT_TRUE(std::isnan(fd[i]) ? std::isnan(got[i]) : std::memcmp(&got[i], &fd[i], 8) == 0)
        << "floor_divide " << a[i] << " " << b[i] << ": " << got[i];
  }
  /* float16: [7.5, -7.5, 65504] % 2, 2, 3 is [1.5, 0.5, 2] */
  uint16_t h[] = {DoubleToHalfBits(7.5), DoubleToHalfBits(-7.5), DoubleToHalfBits(65504)};
  uint16_t k[] = {DoubleToHalfBits(2), DoubleToHalfBits(2), DoubleToHalfBits(3)}, gh[3];
  int64_t n3 = 3, c2 = 2;
  dtx_array *hx = dtx_from_host(cl(), 1, &n3, &c2, DTX_F16, h, DTX_HOST_COPY);
  dtx_array *hy = dtx_from_host(cl(), 1, &n3, &c2, DTX_F16, k, DTX_HOST_COPY);
  ASSERT_EQ(dtx_array_compute_as(dtx_mod(hx, hy), DTX_F16, gh, sizeof gh), DTX_OK) << dtx_last_error();
  EXPECT_EQ(HalfBitsToDouble(gh[0]), 1.5);
  EXPECT_EQ(HalfBitsToDouble(gh[1]), 0.5);
  EXPECT_EQ(HalfBitsToDouble(gh[2]), 2.0);
}

TEST_P(ArrayElem, DivisionDtypes) {
  Scope sc;
  int64_t n = 4, c = 3;
  auto arr = [&](dtx_dtype t) { return dtx_ones(cl(), 1, &n, &c, t); };
  /* NumPy 2: bool // bool and bool % bool are int8; Python scalars are weak */
  EXPECT_EQ(dtx_array_dtype(dtx_floor_divide(arr(DTX_BOOL), arr(DTX_BOOL))), DTX_I8);
  EXPECT_EQ(dtx_array_dtype(dtx_mod(arr(DTX_BOOL), arr(DTX_BOOL))), DTX_I8);
  EXPECT_EQ(dtx_array_dtype(dtx_floor_divide(arr(DTX_I32), dtx_scalar(cl(), 2.5))), DTX_F64);
  EXPECT_EQ(dtx_array_dtype(dtx_floor_divide(arr(DTX_I32), dtx_scalar_int(cl(), 2))), DTX_I32);
  EXPECT_EQ(dtx_array_dtype(dtx_mod(arr(DTX_F16), dtx_scalar_int(cl(), 2))), DTX_F16);
  EXPECT_EQ(dtx_array_dtype(dtx_mod(arr(DTX_U8), arr(DTX_I8))), DTX_I16);
  EXPECT_EQ(dtx_array_dtype(dtx_mod(arr(DTX_U64), arr(DTX_I64))), DTX_F64);
  EXPECT_EQ(dtx_array_dtype(dtx_floor_divide(arr(DTX_BOOL), dtx_scalar_int(cl(), 3))), DTX_I64);
  /* a Python int the dtype does not hold: OverflowError in NumPy */
  EXPECT_EQ(dtx_mod(arr(DTX_I8), dtx_scalar_int(cl(), 300)), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("out of bounds"), std::string::npos) << dtx_last_error();
  /* mixed values: u8 % i8 computed in int16 */
  uint8_t u[] = {200, 7, 0, 255};
  int8_t s[] = {-7, -2, -1, 16};
  int16_t g[4], w[4];
  for (int i = 0; i < 4; i++) w[i] = RefModI<int16_t>(u[i], s[i]);
  dtx_array *x = dtx_from_host(cl(), 1, &n, &c, DTX_U8, u, DTX_HOST_COPY);
  dtx_array *y = dtx_from_host(cl(), 1, &n, &c, DTX_I8, s, DTX_HOST_COPY);
  ASSERT_EQ(dtx_array_compute(dtx_mod(x, y), g, sizeof g), DTX_OK) << dtx_last_error();
  EXPECT_EQ(0, std::memcmp(g, w, sizeof g));
}

/* a == (a // b) * b + a % b for integers, fused into one expression with a
 * broadcast row; the same chunks with every operation in tasks of its own. */
TEST_P(ArrayElem, DivmodIdentityFusedAndNot) {
  Scope sc;
  std::mt19937_64 rng(7200);
  std::vector<int64_t> shape = {17, 13}, row = {13};
  Nd a = RandNd(rng, shape, DTX_I32), b = RandNd(rng, row, DTX_I32);
  for (auto &v : b.v)
    if (v == 0) v = 3;
  dtx_array *x = Put(cl(), a, {5, 4}), *y = Put(cl(), b, {6});
  dtx_array *back = dtx_add(dtx_mul(dtx_floor_divide(x, y), y), dtx_mod(x, y));
  EXPECT_TRUE(SameNd(Get(back), a, 0));
  size_t nb = static_cast<size_t>(dtx_array_numblocks(back, 0) * dtx_array_numblocks(back, 1));
  std::vector<std::vector<int32_t>> outs(2);
  for (int nofuse = 0; nofuse < 2; nofuse++) {
    dtxt::GraphPtr g = dtxt::MakeGraph();
    std::vector<dtx_task_id> ids(nb);
    dtx_array_graph_opts o = DTX_ARRAY_GRAPH_OPTS_INIT;
    o.no_fusion = nofuse;
    ASSERT_EQ(dtx_array_graph(back, g.get(), ids.data(), ids.size(), &o), DTX_OK) << dtx_last_error();
    dtxt::Results res(ids.size());
    ASSERT_EQ(dtx_compute(cl(), g.get(), ids.data(), static_cast<int>(ids.size()), res.data(), nullptr),
              DTX_OK)
        << dtx_last_error();
    for (size_t k = 0; k < ids.size(); k++) {
      const int32_t *p = static_cast<const int32_t *>(dtx_chunk_data(res[k]));
      outs[nofuse].insert(outs[nofuse].end(), p, p + dtx_chunk_size(res[k]) / 4);
    }
  }
  EXPECT_EQ(outs[0], outs[1]) << "fusion changed the results";
}

/* ---- isnan, isinf, isfinite, rint ----------------------------------------------------- */

TEST_P(ArrayElem, ClassesAndRintEveryDtype) {
  Scope sc;
  uint64_t seed = 7300 + static_cast<uint64_t>(GetParam().gpus);
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  for (dtx_dtype t : EveryDtype()) {
    std::vector<int64_t> shape = {1 + static_cast<int64_t>(rng() % 29), 1 + static_cast<int64_t>(rng() % 17)};
    Raw a = RandRaw(rng, t, shape);
    std::vector<int64_t> ch = RandChunks(rng, shape);
    const dtx_unary_op ops[] = {DTX_ISNAN, DTX_ISINF, DTX_ISFINITE, DTX_RINT};
    const RefUn refs[] = {kIsNan, kIsInf, kIsFinite, kRint};
    for (int k = 0; k < 4; k++) {
      SCOPED_TRACE(std::string("unary ") + std::to_string(ops[k]) + " " + Name(t));
      Raw want = RefUnary(refs[k], a);
      EXPECT_TRUE(SameRaw(GetRaw(dtx_unary(ops[k], PutRaw(cl(), a, ch))), want));
      /* read through a transpose and fused with a later operation */
      dtx_array *tt = dtx_transpose(dtx_transpose(PutRaw(cl(), a, ch), nullptr), nullptr);
      dtx_array *e = dtx_unary(ops[k], tt);
      EXPECT_TRUE(SameRaw(GetRaw(dtx_astype(e, dtx_array_dtype(e))), want));
    }
  }
  /* the named forms; a float input's classes counted by a fused sum */
  double v[] = {0.0, -0.0, NAN, INFINITY, -INFINITY, 1.5, -2.5, 0.5, -0.5, 1e308};
  int64_t n = 10, c = 3;
  dtx_array *x = dtx_from_host(cl(), 1, &n, &c, DTX_F64, v, DTX_HOST_COPY);
  int64_t cnt = 0;
  ASSERT_EQ(dtx_array_compute(dtx_sum(dtx_isnan(x), nullptr, 0), &cnt, sizeof cnt), DTX_OK);
  EXPECT_EQ(cnt, 1);
  ASSERT_EQ(dtx_array_compute(dtx_sum(dtx_isinf(x), nullptr, 0), &cnt, sizeof cnt), DTX_OK);
  EXPECT_EQ(cnt, 2);
  ASSERT_EQ(dtx_array_compute(dtx_sum(dtx_isfinite(x), nullptr, 0), &cnt, sizeof cnt), DTX_OK);
  EXPECT_EQ(cnt, 7);
  double r[10];
  ASSERT_EQ(dtx_array_compute(dtx_rint(x), r, sizeof r), DTX_OK);
  EXPECT_EQ(r[5], 2.0);
  EXPECT_EQ(r[6], -2.0);
  EXPECT_TRUE(r[7] == 0.0 && !std::signbit(r[7]));
  EXPECT_TRUE(r[8] == 0.0 && std::signbit(r[8]));
  EXPECT_TRUE(std::isnan(r[2]));
  /* dtypes: rint promotes as a float function, the classes give bool */
  EXPECT_EQ(dtx_array_dtype(dtx_rint(dtx_ones(cl(), 1, &n, &c, DTX_BOOL))), DTX_F16);
  EXPECT_EQ(dtx_array_dtype(dtx_rint(dtx_ones(cl(), 1, &n, &c, DTX_I16))), DTX_F32);
  EXPECT_EQ(dtx_array_dtype(dtx_rint(dtx_ones(cl(), 1, &n, &c, DTX_U32))), DTX_F64);
  EXPECT_EQ(dtx_array_dtype(dtx_isnan(dtx_ones(cl(), 1, &n, &c, DTX_U64))), DTX_BOOL);
  EXPECT_EQ(dtx_array_dtype(dtx_isfinite(dtx_scalar(cl(), 2.0))), DTX_BOOL);
  EXPECT_EQ(dtx_unary(static_cast<dtx_unary_op>(DTX_RINT + 1), x), nullptr);
  EXPECT_EQ(dtx_binary(static_cast<dtx_binary_op>(DTX_MOD + 1), x, x), nullptr);
}

/* ---- round ----------------------------------------------------------------------------- */

TEST_P(ArrayElem, RoundEveryDtype) {
  Scope sc;
  uint64_t seed = 7400 + static_cast<uint64_t>(GetParam().gpus);
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  for (dtx_dtype t : EveryDtype()) {
    std::vector<int64_t> shape = {1 + static_cast<int64_t>(rng() % 31)};
    Raw a = RandRaw(rng, t, shape);
    if (t == DTX_F32 || t == DTX_F64) /* digits to round at */
      for (int64_t i = 0; i < a.n(); i += 2) StoreFloat(a, i, AsDouble(a, i) * 1234.5678);
    std::vector<int64_t> ch = RandChunks(rng, shape);
    for (int d : {0, 1, 2, 3, 7, 12, -1, -2, -3, -5, -19, -20, -400}) {
      if (t == DTX_BOOL && d != 0) continue;
      SCOPED_TRACE(std::string("round ") + Name(t) + " decimals " + std::to_string(d));
      EXPECT_TRUE(SameRaw(GetRaw(dtx_round(PutRaw(cl(), a, ch), d)), RefRound(a, d)));
    }
  }
}

TEST_P(ArrayElem, RoundAsNumpyPrinted) {
  Scope sc;
  /* NumPy 2.4: np.round(np.array([...], dtype), decimals) */
  int8_t i8[] = {15, 25, -15, -25, 127, -128}, g8[6];
  int8_t w8[] = {20, 20, -20, -20, -126, 126};
  int64_t n = 6, c = 4;
  ASSERT_EQ(dtx_array_compute(dtx_round(dtx_from_host(cl(), 1, &n, &c, DTX_I8, i8, DTX_HOST_COPY), -1), g8,
                              sizeof g8),
            DTX_OK)
      << dtx_last_error();
  EXPECT_EQ(0, std::memcmp(g8, w8, sizeof g8));
  int32_t i32[] = {INT32_MAX, INT32_MIN, 15}, g32[3];
  int64_t n3 = 3;
  ASSERT_EQ(dtx_array_compute(dtx_round(dtx_from_host(cl(), 1, &n3, &c, DTX_I32, i32, DTX_HOST_COPY), -1),
                              g32, sizeof g32),
            DTX_OK);
  EXPECT_EQ(g32[0], INT32_MIN);
  EXPECT_EQ(g32[1], INT32_MIN);
  EXPECT_EQ(g32[2], 20);
  ASSERT_EQ(dtx_array_compute(dtx_round(dtx_from_host(cl(), 1, &n3, &c, DTX_I32, i32, DTX_HOST_COPY), -400),
                              g32, sizeof g32),
            DTX_OK);
  EXPECT_EQ(g32[0], INT32_MIN); /* 0 * inf is nan: INT32_MIN */
  int64_t i64[] = {INT64_MAX, INT64_MIN, (int64_t{1} << 53) + 1}, g64[3];
  ASSERT_EQ(dtx_array_compute(dtx_round(dtx_from_host(cl(), 1, &n3, &c, DTX_I64, i64, DTX_HOST_COPY), -1),
                              g64, sizeof g64),
            DTX_OK);
  EXPECT_EQ(g64[0], INT64_MIN);
  EXPECT_EQ(g64[1], INT64_MIN);
  EXPECT_EQ(g64[2], 9007199254740990);
  uint8_t u8[] = {15, 25, 255}, gu[3];
  ASSERT_EQ(dtx_array_compute_as(dtx_round(dtx_from_host(cl(), 1, &n3, &c, DTX_U8, u8, DTX_HOST_COPY), -1),
                                 DTX_U8, gu, sizeof gu),
            DTX_OK);
  EXPECT_EQ(gu[0], 20);
  EXPECT_EQ(gu[1], 20);
  EXPECT_EQ(gu[2], 4);
  uint64_t u64[] = {UINT64_MAX, 0, 12345}, gq[3];
  ASSERT_EQ(dtx_array_compute(dtx_round(dtx_from_host(cl(), 1, &n3, &c, DTX_U64, u64, DTX_HOST_COPY), -1), gq,
                              sizeof gq),
            DTX_OK);
  EXPECT_EQ(gq[0], 0u);
  EXPECT_EQ(gq[2], 12340u);
  /* float32 multiplies in float32: round(1.2345678, 12) is 1.2345676 */
  float f[] = {1.2345678f, 2.5e-5f, 12345.678f}, gf[3];
  ASSERT_EQ(dtx_array_compute(dtx_round(dtx_from_host(cl(), 1, &n3, &c, DTX_F32, f, DTX_HOST_COPY), 12), gf,
                              sizeof gf),
            DTX_OK);
  EXPECT_EQ(gf[0], 1.2345676f);
  ASSERT_EQ(dtx_array_compute(dtx_round(dtx_from_host(cl(), 1, &n3, &c, DTX_F32, f, DTX_HOST_COPY), 3), gf,
                              sizeof gf),
            DTX_OK);
  EXPECT_EQ(gf[0], 1.235f);
  EXPECT_EQ(gf[1], 0.0f);
  /* float16 past 4 decimals: 10**5 is inf in float16, the result nan */
  uint16_t h[] = {DoubleToHalfBits(1.5), DoubleToHalfBits(2.5), DoubleToHalfBits(0.125)}, gh[3];
  ASSERT_EQ(dtx_array_compute_as(dtx_round(dtx_from_host(cl(), 1, &n3, &c, DTX_F16, h, DTX_HOST_COPY), 5),
                                 DTX_F16, gh, sizeof gh),
            DTX_OK);
  EXPECT_TRUE(std::isnan(HalfBitsToDouble(gh[0])));
  ASSERT_EQ(dtx_array_compute_as(dtx_round(dtx_from_host(cl(), 1, &n3, &c, DTX_F16, h, DTX_HOST_COPY), 2),
                                 DTX_F16, gh, sizeof gh),
            DTX_OK);
  EXPECT_EQ(HalfBitsToDouble(gh[2]), HalfBitsToDouble(DoubleToHalfBits(0.12)));
  /* half to even, -0.0 kept */
  double d[] = {-0.0, 0.5, 1.5, 2.5, -2.5, -0.4}, gd[6];
  ASSERT_EQ(dtx_array_compute(dtx_round(dtx_from_host(cl(), 1, &n, &c, DTX_F64, d, DTX_HOST_COPY), 0), gd,
                              sizeof gd),
            DTX_OK);
  EXPECT_TRUE(gd[0] == 0 && std::signbit(gd[0]));
  EXPECT_EQ(gd[1], 0.0);
  EXPECT_EQ(gd[2], 2.0);
  EXPECT_EQ(gd[3], 2.0);
  EXPECT_EQ(gd[4], -2.0);
  EXPECT_TRUE(gd[5] == 0 && std::signbit(gd[5]));
  double q[] = {0.25, 0.35, -14.0}, gq2[3];
  ASSERT_EQ(dtx_array_compute(dtx_round(dtx_from_host(cl(), 1, &n3, &c, DTX_F64, q, DTX_HOST_COPY), 1), gq2,
                              sizeof gq2),
            DTX_OK);
  EXPECT_EQ(gq2[0], 0.2);
  EXPECT_EQ(gq2[1], 0.4);
  ASSERT_EQ(dtx_array_compute(dtx_round(dtx_from_host(cl(), 1, &n3, &c, DTX_F64, q, DTX_HOST_COPY), -1), gq2,
                              sizeof gq2),
            DTX_OK);
  EXPECT_EQ(gq2[2], -10.0);
}

TEST_P(ArrayElem, RoundDtypesAndErrors) {
  Scope sc;
  int64_t n = 3, c = 2;
  dtx_array *b = dtx_ones(cl(), 1, &n, &c, DTX_BOOL);
  EXPECT_EQ(dtx_array_dtype(dtx_round(b, 0)), DTX_F16);
  EXPECT_EQ(dtx_round(b, 1), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("bool"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_round(b, -1), nullptr);
  EXPECT_EQ(dtx_round(nullptr, 1), nullptr);
  for (dtx_dtype t : EveryDtype()) {
    if (t == DTX_BOOL) continue;
    dtx_array *x = dtx_ones(cl(), 1, &n, &c, t);
    EXPECT_EQ(dtx_array_dtype(dtx_round(x, 2)), t) << Name(t);
    EXPECT_EQ(dtx_array_dtype(dtx_round(x, -2)), t) << Name(t);
  }
  /* a Python scalar rounds to a strong float64 / int64 */
  EXPECT_EQ(
      dtx_array_dtype(dtx_mul(dtx_round(dtx_scalar(cl(), 2.25), 1), dtx_ones(cl(), 1, &n, &c, DTX_F32))),
      DTX_F64);
  EXPECT_EQ(
      dtx_array_dtype(dtx_mul(dtx_round(dtx_scalar_int(cl(), 7), -1), dtx_ones(cl(), 1, &n, &c, DTX_I8))),
      DTX_I64);
}

/* ---- empty arrays, and the GPU path's persisted inputs ----------------------------------- */

TEST_P(ArrayElem, EmptyArrays) {
  Scope sc;
  for (dtx_dtype t : EveryDtype()) {
    int64_t shape[2] = {3, 0}, ch[2] = {2, 1};
    dtx_array *e = dtx_zeros(cl(), 2, shape, ch, t);
    dtx_array *outs[] = {dtx_isnan(e),
                         dtx_isinf(e),
                         dtx_isfinite(e),
                         dtx_rint(e),
                         dtx_round(e, t == DTX_BOOL ? 0 : -2),
                         dtx_floor_divide(e, e),
                         dtx_mod(e, dtx_scalar_int(cl(), 0))};
    for (dtx_array *o : outs) {
      ASSERT_NE(o, nullptr) << Name(t) << ": " << dtx_last_error();
      EXPECT_EQ(dtx_array_size(o), 0);
      EXPECT_EQ(dtx_array_compute_as(o, DTX_ANY_DTYPE, nullptr, 0), DTX_OK) << dtx_last_error();
    }
  }
  /* NumPy: an empty integer array ** -1 is empty (no element meets the check) */
  int64_t z = 0, one = 1;
  dtx_array *p = dtx_pow(dtx_zeros(cl(), 1, &z, &one, DTX_I8), dtx_scalar_int(cl(), -1));
  ASSERT_NE(p, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dtype(p), DTX_I8);
  EXPECT_EQ(dtx_array_size(p), 0);
  EXPECT_EQ(dtx_pow(dtx_zeros(cl(), 1, &one, &one, DTX_I8), dtx_scalar_int(cl(), -1)), nullptr);
}

TEST_P(ArrayElem, PersistedOperands) {
  Scope sc;
  std::mt19937_64 rng(7500);
  std::vector<int64_t> shape = {19, 23};
  Raw a = RandRaw(rng, DTX_F32, shape), b = RandRaw(rng, DTX_F32, shape);
  dtx_array *pa = nullptr, *pb = nullptr;
  ASSERT_EQ(dtx_array_persist(PutRaw(cl(), a, {7, 6}), nullptr, &pa), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtx_array_persist(PutRaw(cl(), b, {7, 6}), nullptr, &pb), DTX_OK) << dtx_last_error();
  EXPECT_TRUE(SameRaw(GetRaw(dtx_mod(pa, pb)), RefBinary(kMod, a, b)));
  EXPECT_TRUE(SameRaw(GetRaw(dtx_isfinite(dtx_floor_divide(pa, pb))),
                      RefUnary(kIsFinite, RefBinary(kFloorDiv, a, b))));
}
