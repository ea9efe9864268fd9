/*
 * tests/array_dtype_test.cc - the dtypes of issue 11 (int8 .. uint64,
 * float16): NumPy 2's promotion of every pair and with Python scalars (a
 * table NumPy wrote, tests/array_dtype_table.py), the float16 conversions
 * (all 65536 bit patterns, rounding to nearest even against an independent
 * reference), wrapping integer arithmetic, reductions of the new dtypes,
 * arange of bool and of integers from float bounds, bool ** bool, matmul,
 * and .npy round trips. Values that NumPy 2.4 gives are written beside them.
 */
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "array_util.h"
#include "kernels/elem.h"

using namespace dtxa_test;

namespace {

struct DtypePair {
  dtx_dtype a, b, want;
};
struct DtypeRules {
  dtx_dtype t, with_int, with_float, exp, div, sum, mean;
};
#include "array_dtype_table.inc"

const dtx_dtype kAll[] = {DTX_BOOL, DTX_I8,  DTX_I16, DTX_I32, DTX_I64, DTX_U8,
                          DTX_U16,  DTX_U32, DTX_U64, DTX_F16, DTX_F32, DTX_F64};

const char *Name(dtx_dtype t) { return dtx_dtype_name(t) != nullptr ? dtx_dtype_name(t) : "(none)"; }

class ArrayDtype : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
  dtx_array *Vec(dtx_dtype t, const std::vector<double> &v, int64_t chunk = 2) {
    Nd x;
    x.shape = {static_cast<int64_t>(v.size())};
    x.t = t;
    x.v = v;
    return Put(cl(), x, {chunk});
  }
  /* raw bytes of a computed array */
  std::vector<unsigned char> Raw(const dtx_array *a) {
    std::vector<unsigned char> b(a != nullptr ? dtx_array_nbytes(a) : 0);
    if (a == nullptr) {
      ADD_FAILURE() << "array is NULL: " << dtx_last_error();
      return b;
    }
    EXPECT_EQ(dtx_array_compute_as(a, dtx_array_dtype(a), b.data(), b.size()), DTX_OK) << dtx_last_error();
    return b;
  }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayDtype, ::testing::ValuesIn(AllScheds()), SchedName());

/* ---- the rules, against NumPy's table --------------------------------------------------------- */

TEST(ArrayDtypeRules, PromotionOfEveryPairIsNumpys) {
  dtx_cluster *cl = ClusterFor(AllScheds()[0]);
  Scope scope;
  int64_t one = 1;
  for (const DtypePair &p : kPromote) {
    dtx_array *x = dtx_zeros(cl, 1, &one, nullptr, p.a), *y = dtx_zeros(cl, 1, &one, nullptr, p.b);
    dtx_array *r = dtx_maximum(x, y);
    ASSERT_NE(r, nullptr) << Name(p.a) << ", " << Name(p.b) << ": " << dtx_last_error();
    EXPECT_EQ(dtx_array_dtype(r), p.want) << "maximum(" << Name(p.a) << ", " << Name(p.b) << ") is "
                                          << Name(dtx_array_dtype(r)) << ", NumPy " << Name(p.want);
    /* concatenate promotes the same way */
    dtx_array *both[2] = {x, y};
    dtx_array *c = dtx_concatenate(both, 2, 0);
    ASSERT_NE(c, nullptr) << dtx_last_error();
    EXPECT_EQ(dtx_array_dtype(c), p.want) << Name(p.a) << ", " << Name(p.b);
  }
  EXPECT_EQ(sizeof kPromote / sizeof kPromote[0], 144u);
}

TEST(ArrayDtypeRules, ScalarsFunctionsAndReductionsAreNumpys) {
  dtx_cluster *cl = ClusterFor(AllScheds()[0]);
  Scope scope;
  int64_t two = 2;
  for (const DtypeRules &r : kRules) {
    dtx_array *x = dtx_ones(cl, 1, &two, nullptr, r.t);
    SCOPED_TRACE(Name(r.t));
    EXPECT_EQ(dtx_array_dtype(dtx_add(x, dtx_scalar_int(cl, 1))), r.with_int);
    EXPECT_EQ(dtx_array_dtype(dtx_add(dtx_scalar_int(cl, 1), x)), r.with_int);
    EXPECT_EQ(dtx_array_dtype(dtx_mul(x, dtx_scalar(cl, 1.0))), r.with_float);
    EXPECT_EQ(dtx_array_dtype(dtx_exp(x)), r.exp);
    EXPECT_EQ(dtx_array_dtype(dtx_div(x, x)), r.div);
    EXPECT_EQ(dtx_array_dtype(dtx_sum(x, nullptr, 0)), r.sum);
    EXPECT_EQ(dtx_array_dtype(dtx_prod(x, nullptr, 0)), r.sum);
    EXPECT_EQ(dtx_array_dtype(dtx_mean(x, nullptr, 0)), r.mean);
    EXPECT_EQ(dtx_array_dtype(dtx_min(x, nullptr, 0)), r.t);
  }
}

TEST(ArrayDtypeRules, NamesAndSizes) {
  const char *names[] = {"bool",   "int8",   "int16",  "int32",   "int64",   "uint8",
                         "uint16", "uint32", "uint64", "float16", "float32", "float64"};
  const size_t sizes[] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8};
  for (int i = 0; i < 12; i++) {
    EXPECT_STREQ(dtx_dtype_name(kAll[i]), names[i]);
    EXPECT_EQ(dtx_dtype_size(kAll[i]), sizes[i]) << names[i];
  }
  EXPECT_STREQ(dtx_dtype_name(DTX_C64), "complex64");
  EXPECT_STREQ(dtx_dtype_name(DTX_C128), "complex128");
  EXPECT_EQ(dtx_dtype_size(DTX_C64), 8u);
  EXPECT_EQ(dtx_dtype_size(DTX_C128), 16u);
  EXPECT_EQ(dtx_dtype_name(static_cast<dtx_dtype>(15)), nullptr);
  EXPECT_EQ(dtx_dtype_size(static_cast<dtx_dtype>(0)), 0u);
}

/* ---- float16 conversions ------------------------------------------------------------------------ */

TEST(ArrayDtypeHalf, EveryBitPatternDecodesExactlyAndRoundTrips) {
  int nans = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    uint16_t b = static_cast<uint16_t>(h);
    float f = dtxk_f16_to_f32(b);
    double want = HalfBitsToDouble(b);
    if (std::isnan(want)) {
      nans++;
      ASSERT_TRUE(std::isnan(f)) << std::hex << h;
      ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << h;
      uint16_t back = dtxk_f32_to_f16(f);
      ASSERT_EQ(back & 0x7c00, 0x7c00) << std::hex << h;
      ASSERT_NE(back & 0x3ff, 0) << std::hex << h; /* still NaN */
      if (h & 0x200) {
        ASSERT_EQ(back, b) << std::hex << h; /* quiet NaNs keep their bits */
      }
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), want) << std::hex << h;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << h; /* -0 stays -0 */
    ASSERT_EQ(dtxk_f32_to_f16(f), b) << std::hex << h;
    ASSERT_EQ(dtxk_f64_to_f16(want), b) << std::hex << h;
  }
  EXPECT_EQ(nans, 2 * 1023);
}

TEST(ArrayDtypeHalf, RoundsToNearestEvenAtEveryMidpoint) {
  for (uint16_t h = 0; h < 0x7c00; h++) {
    double lo = HalfBitsToDouble(h),
           hi = h == 0x7bff ? 65536.0 : HalfBitsToDouble(static_cast<uint16_t>(h + 1));
    double mid = (lo + hi) / 2; /* exact in double */
    uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : h;
    ASSERT_EQ(dtxk_f64_to_f16(mid), even) << std::hex << h;
    ASSERT_EQ(dtxk_f64_to_f16(-mid), even | 0x8000) << std::hex << h;
    ASSERT_EQ(dtxk_f64_to_f16(std::nextafter(mid, 0.0)), h) << std::hex << h;
    ASSERT_EQ(dtxk_f64_to_f16(std::nextafter(mid, 1e9)), h + 1) << std::hex << h;
  }
  EXPECT_EQ(dtxk_f64_to_f16(65519.99), 0x7bff);
  EXPECT_EQ(dtxk_f64_to_f16(65520.0), 0x7c00);
  EXPECT_EQ(dtxk_f64_to_f16(1e300), 0x7c00);
  EXPECT_EQ(dtxk_f64_to_f16(-INFINITY), 0xfc00);
  EXPECT_EQ(dtxk_f64_to_f16(std::ldexp(1.0, -25)), 0x0000);    /* a tie to 0 */
  EXPECT_EQ(dtxk_f64_to_f16(std::ldexp(1.0001, -25)), 0x0001); /* above the tie */
  EXPECT_EQ(dtxk_f64_to_f16(-std::ldexp(1.0, -30)), 0x8000);   /* -0 */
  EXPECT_EQ(dtxk_f64_to_f16(std::ldexp(1023.5, -24)), 0x0400); /* subnormal rounds up to normal */
  EXPECT_EQ(dtxk_f64_to_f16(4.9406564584124654e-324), 0x0000); /* double subnormal */
}

TEST(ArrayDtypeHalf, RandomDoublesMatchTheReference) {
  const uint64_t seed = 20261207;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 200000; i++) {
    double x =
        std::ldexp(std::uniform_real_distribution<double>(-1, 1)(rng), static_cast<int>(rng() % 46) - 28);
    ASSERT_EQ(dtxk_f64_to_f16(x), DoubleToHalfBits(x)) << x;
  }
}

TEST_P(ArrayDtype, HalfThroughTasksMatchesReference) {
  Scope scope;
  /* every bit pattern: float16 -> float32 -> float16 and float16 -> float64 */
  std::vector<uint16_t> bits(65536);
  for (uint32_t h = 0; h < 65536; h++) bits[h] = static_cast<uint16_t>(h);
  int64_t n = 65536, ch = 5000;
  dtx_array *h = dtx_from_host(cl(), 1, &n, &ch, DTX_F16, bits.data(), DTX_HOST_COPY);
  ASSERT_NE(h, nullptr) << dtx_last_error();
  std::vector<double> d(65536);
  ASSERT_EQ(dtx_array_compute(dtx_astype(h, DTX_F64), d.data(), d.size() * 8), DTX_OK) << dtx_last_error();
  std::vector<uint16_t> back(65536);
  ASSERT_EQ(
      dtx_array_compute_as(dtx_astype(dtx_astype(h, DTX_F32), DTX_F16), DTX_F16, back.data(), 2 * 65536),
      DTX_OK)
      << dtx_last_error();
  for (uint32_t i = 0; i < 65536; i++) {
    double want = HalfBitsToDouble(static_cast<uint16_t>(i));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(d[i])) << std::hex << i;
      ASSERT_TRUE((back[i] & 0x7c00) == 0x7c00 && (back[i] & 0x3ff) != 0) << std::hex << i;
    } else {
      ASSERT_EQ(d[i], want) << std::hex << i;
      ASSERT_EQ(back[i], i) << std::hex << i;
    }
  }
  /* arithmetic: computed in float32, rounded once */
  std::vector<double> a = {1.0, 0.1, 65504, -2.5, 6e-8, 1e-4, -0.0, 3.0},
                      b = {2.0, 0.2, 32, 1.5, 6e-8, 3.0, 0.0, 7.0};
  dtx_array *x = Vec(DTX_F16, a, 3), *y = Vec(DTX_F16, b, 2);
  struct {
    dtx_array *r;
    float (*f)(float, float);
  } ops[] = {{dtx_add(x, y), [](float p, float q) { return p + q; }},
             {dtx_sub(x, y), [](float p, float q) { return p - q; }},
             {dtx_mul(x, y), [](float p, float q) { return p * q; }},
             {dtx_div(x, y), [](float p, float q) { return p / q; }}};
  for (auto &op : ops) {
    ASSERT_NE(op.r, nullptr) << dtx_last_error();
    ASSERT_EQ(dtx_array_dtype(op.r), DTX_F16);
    std::vector<unsigned char> got = Raw(op.r);
    for (size_t i = 0; i < a.size(); i++) {
      float p = static_cast<float>(HalfBitsToDouble(DoubleToHalfBits(a[i]))),
            q = static_cast<float>(HalfBitsToDouble(DoubleToHalfBits(b[i])));
      uint16_t g;
      std::memcpy(&g, got.data() + 2 * i, 2);
      EXPECT_EQ(g, DoubleToHalfBits(op.f(p, q))) << i;
    }
  }
  /* float16 * 2.0 stays float16 and overflows to inf, -0 survives neg */
  Nd m = Get(dtx_mul(x, dtx_scalar(cl(), 2.0)));
  EXPECT_EQ(m.t, DTX_F16);
  EXPECT_TRUE(std::isinf(m.v[2]) && m.v[2] > 0);
  Nd ng = Get(dtx_neg(Vec(DTX_F16, {0.0, -0.0})));
  EXPECT_TRUE(std::signbit(ng.v[0]) && !std::signbit(ng.v[1]));
}

/* ---- integers --------------------------------------------------------------------------------- */

TEST_P(ArrayDtype, IntegersWrapAsNumpy) {
  Scope scope;
  dtx_array *i8 = Vec(DTX_I8, {-128, -1, 0, 1, 127});
  dtx_array *u8 = Vec(DTX_U8, {0, 1, 200, 255, 7});
  /* np.int8 + 1: [-127, 0, 1, 2, -128]; np.uint8 - 7: [249, 250, 193, 248, 0] */
  Nd a = Get(dtx_add(i8, dtx_scalar_int(cl(), 1)));
  EXPECT_EQ(a.t, DTX_I8);
  EXPECT_EQ(a.v, (std::vector<double>{-127, 0, 1, 2, -128}));
  Nd s = Get(dtx_sub(u8, dtx_scalar_int(cl(), 7)));
  EXPECT_EQ(s.t, DTX_U8);
  EXPECT_EQ(s.v, (std::vector<double>{249, 250, 193, 248, 0}));
  EXPECT_EQ(Get(dtx_neg(u8)).v, (std::vector<double>{0, 255, 56, 1, 249}));
  EXPECT_EQ(Get(dtx_abs(i8)).v, (std::vector<double>{-128, 1, 0, 1, 127}));
  EXPECT_EQ(Get(dtx_mul(u8, u8)).v, (std::vector<double>{0, 1, 64, 1, 49}));
  /* uint16 * uint16 past INT_MAX (no signed overflow on the way) */
  Nd m16 = Get(dtx_mul(Vec(DTX_U16, {65535, 40000}), Vec(DTX_U16, {65535, 40000})));
  EXPECT_EQ(m16.v, (std::vector<double>{1, 4096}));
  /* Python ints out of range: an error in arithmetic, a value in comparisons */
  EXPECT_EQ(dtx_add(u8, dtx_scalar_int(cl(), 300)), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("out of bounds for uint8"), std::string::npos)
      << dtx_last_error();
  EXPECT_EQ(dtx_add(u8, dtx_scalar_int(cl(), -1)), nullptr);
  EXPECT_EQ(Get(dtx_binary(DTX_EQ, u8, dtx_scalar_int(cl(), 300))).v, (std::vector<double>{0, 0, 0, 0, 0}));
  EXPECT_EQ(Get(dtx_binary(DTX_GT, u8, dtx_scalar_int(cl(), -1))).v, (std::vector<double>{1, 1, 1, 1, 1}));
  /* int8 + 1.5 is float64; uint64 with int64 float64 */
  EXPECT_EQ(dtx_array_dtype(dtx_add(i8, dtx_scalar(cl(), 1.5))), DTX_F64);
  EXPECT_EQ(dtx_array_dtype(dtx_add(Vec(DTX_U64, {1}), Vec(DTX_I64, {1}))), DTX_F64);
  /* int8 ** 3 wraps: [0, -1, 0, 1, 127] */
  EXPECT_EQ(Get(dtx_pow(i8, dtx_scalar_int(cl(), 3))).v, (std::vector<double>{0, -1, 0, 1, 127}));
  /* bool ** bool is int8: [[T,F,T,F] ** [T,T,F,F]] = [1, 0, 1, 1] */
  dtx_array *bp = dtx_pow(Vec(DTX_BOOL, {1, 0, 1, 0}), Vec(DTX_BOOL, {1, 1, 0, 0}));
  Nd p = Get(bp);
  EXPECT_EQ(p.t, DTX_I8);
  EXPECT_EQ(p.v, (std::vector<double>{1, 0, 1, 1}));
}

TEST_P(ArrayDtype, ReductionsOfTheNewDtypes) {
  Scope scope;
  const uint64_t big[] = {5, UINT64_MAX, 1ull << 63, 7, (1ull << 63) - 1};
  int64_t n = 5, ch = 2;
  dtx_array *u64 = dtx_from_host(cl(), 1, &n, &ch, DTX_U64, big, DTX_HOST_COPY);
  uint64_t v = 0;
  ASSERT_EQ(dtx_array_compute(dtx_max(u64, nullptr, 0), &v, 8), DTX_OK) << dtx_last_error();
  EXPECT_EQ(v, UINT64_MAX);
  ASSERT_EQ(dtx_array_compute(dtx_min(u64, nullptr, 0), &v, 8), DTX_OK);
  EXPECT_EQ(v, 5u);
  int64_t ix = -1;
  ASSERT_EQ(dtx_array_compute(dtx_argmax(u64, DTX_NO_AXIS), &ix, 8), DTX_OK);
  EXPECT_EQ(ix, 1);
  ASSERT_EQ(dtx_array_compute(dtx_argmin(u64, 0), &ix, 8), DTX_OK);
  EXPECT_EQ(ix, 0);
  /* sum wraps modulo 2**64: 5 + (2**64 - 1) + 2**63 + 7 + 2**63 - 1 = 10 */
  ASSERT_EQ(dtx_array_compute(dtx_sum(u64, nullptr, 0), &v, 8), DTX_OK);
  EXPECT_EQ(v, 10u);
  /* np.uint8 sum is uint64, int8 sum int64, mean float64; min / max keep the dtype */
  dtx_array *u8 = Vec(DTX_U8, {200, 255, 100});
  ASSERT_EQ(dtx_array_compute(dtx_sum(u8, nullptr, 0), &v, 8), DTX_OK);
  EXPECT_EQ(v, 555u);
  dtx_array *i8 = Vec(DTX_I8, {-128, -128, 5});
  int64_t s = 0;
  ASSERT_EQ(dtx_array_compute(dtx_sum(i8, nullptr, 0), &s, 8), DTX_OK);
  EXPECT_EQ(s, -251);
  double mean = 0;
  ASSERT_EQ(dtx_array_compute(dtx_mean(u8, nullptr, 0), &mean, 8), DTX_OK);
  EXPECT_DOUBLE_EQ(mean, 185.0);
  int8_t mx = 0;
  ASSERT_EQ(dtx_array_compute(dtx_max(i8, nullptr, 0), &mx, 1), DTX_OK);
  EXPECT_EQ(mx, 5);
  /* float16: sum in float64, rounded once; max keeps float16 */
  Nd hs = Get(dtx_sum(Vec(DTX_F16, {2048, 1, 1, 1, 1}), nullptr, 0));
  EXPECT_EQ(hs.t, DTX_F16);
  EXPECT_EQ(hs.v[0], 2052.0);
  Nd hm = Get(dtx_max(Vec(DTX_F16, {-1, 0.5, 65504}), nullptr, 0));
  EXPECT_EQ(hm.t, DTX_F16);
  EXPECT_EQ(hm.v[0], 65504.0);
}

TEST_P(ArrayDtype, MatmulOfSmallIntsWrapsAndFloat16SumsInFloat32) {
  Scope scope;
  /* np.int8 [[100, 100, 3]] @ [[2], [1], [1]] = 303 wraps to 47 */
  int64_t sa[2] = {1, 3}, sb[2] = {3, 1}, ca[2] = {1, 2}, cb[2] = {2, 1};
  const int8_t a[] = {100, 100, 3}, b[] = {2, 1, 1};
  dtx_array *x = dtx_from_host(cl(), 2, sa, ca, DTX_I8, a, DTX_HOST_COPY);
  dtx_array *y = dtx_from_host(cl(), 2, sb, cb, DTX_I8, b, DTX_HOST_COPY);
  Nd r = Get(dtx_matmul(x, y));
  EXPECT_EQ(r.t, DTX_I8);
  EXPECT_EQ(r.v, (std::vector<double>{47}));
  const uint16_t c[] = {40000, 2}, d[] = {3, 1};
  int64_t s1[2] = {1, 2}, s2[2] = {2, 1};
  Nd r16 = Get(dtx_matmul(dtx_from_host(cl(), 2, s1, nullptr, DTX_U16, c, DTX_HOST_COPY),
                          dtx_from_host(cl(), 2, s2, nullptr, DTX_U16, d, DTX_HOST_COPY)));
  EXPECT_EQ(r16.t, DTX_U16);
  EXPECT_EQ(r16.v, (std::vector<double>{static_cast<double>((120000 + 2) % 65536)}));
  /* float16: 2048 + 1 + 1 in float32 is 2050, rounded once (half steps of 2 there) */
  Nd h = Get(dtx_dot(Vec(DTX_F16, {2048, 1, 1}, 3), Vec(DTX_F16, {1, 1, 1}, 3)));
  EXPECT_EQ(h.t, DTX_F16);
  EXPECT_EQ(h.v[0], 2050.0);
}

/* ---- creation ----------------------------------------------------------------------------------- */

TEST_P(ArrayDtype, ArangeOfBoolAndOfIntegersFromFloats) {
  Scope scope;
  /* np.arange(0, 2, dtype=bool): [False, True]; length 3 raises */
  Nd b = Get(dtx_arange(cl(), 0, 2, 1, 1, DTX_BOOL));
  EXPECT_EQ(b.t, DTX_BOOL);
  EXPECT_EQ(b.v, (std::vector<double>{0, 1}));
  EXPECT_EQ(dtx_arange(cl(), 0, 3, 1, 0, DTX_BOOL), nullptr);
  /* np.arange(0.5, 5, 1.5, dtype=np.int8): [0, 2, 4]; (1, 3, 0.5): [1, 1, 1, 1];
   * (-2.5, 3, 1, int32): [-2 .. 3]; uint8 from -2.5 raises */
  EXPECT_EQ(Get(dtx_arange(cl(), 0.5, 5, 1.5, 2, DTX_I8)).v, (std::vector<double>{0, 2, 4}));
  EXPECT_EQ(Get(dtx_arange(cl(), 1, 3, 0.5, 3, DTX_U16)).v, (std::vector<double>{1, 1, 1, 1}));
  EXPECT_EQ(Get(dtx_arange(cl(), -2.5, 3, 1, 4, DTX_I32)).v, (std::vector<double>{-2, -1, 0, 1, 2, 3}));
  EXPECT_EQ(dtx_arange(cl(), -2.5, 3, 1, 0, DTX_U8), nullptr);
  /* full of a uint64 above INT64_MAX keeps its value */
  int64_t three = 3;
  uint64_t u[3] = {0, 0, 0};
  ASSERT_EQ(dtx_array_compute(dtx_full(cl(), 1, &three, nullptr, DTX_U64, 18446744073709549568.0), u, 24),
            DTX_OK)
      << dtx_last_error();
  EXPECT_EQ(u[2], 18446744073709549568ull);
  /* random numbers are float32 / float64 only, as NumPy's generators */
  EXPECT_EQ(dtx_random_uniform(cl(), 1, &three, nullptr, DTX_F16, 1), nullptr);
}

TEST_P(ArrayDtype, ComputeBufferTypesAreChecked) {
  Scope scope;
  dtx_array *x = Vec(DTX_U16, {1, 2});
  uint16_t u[2];
  int16_t i[2];
  EXPECT_EQ(dtx_array_compute(x, u, sizeof u), DTX_OK) << dtx_last_error();
  EXPECT_EQ(u[1], 2);
  EXPECT_EQ(dtx_array_compute(x, i, sizeof i), DTX_EINVAL);
  int8_t i8[2];
  EXPECT_EQ(dtx_array_compute(Vec(DTX_I8, {-1, 1}), i8, sizeof i8), DTX_OK);
  EXPECT_EQ(i8[0], -1);
  EXPECT_EQ(dtx_array_compute(Vec(DTX_U32, {1, 1}), i8, sizeof i8), DTX_EINVAL);
}

/* ---- .npy files ----------------------------------------------------------------------------------- */

TEST_P(ArrayDtype, NpyRoundTripsEveryDtype) {
  Scope scope;
  const char *descr[] = {"|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8"};
  for (int k = 0; k < 12; k++) {
    dtx_dtype t = kAll[k];
    SCOPED_TRACE(Name(t));
    std::vector<double> v = {0, 1, 7, 100, 1};
    if (t != DTX_BOOL && dtx_dtype_name(t)[0] != 'u') v[1] = -1;
    if (t == DTX_BOOL) v = {0, 1, 1, 0, 1};
    dtx_array *x = Vec(t, v, 3);
    std::string path = ::testing::TempDir() + "dtx_dtype_" + std::to_string(getpid()) + "_" +
                       GetParam().name + "_" + Name(t) + ".npy";
    ASSERT_EQ(dtx_save_npy(x, path.c_str()), DTX_OK) << dtx_last_error();
    FILE *f = std::fopen(path.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    char head[128] = {0};
    size_t got = std::fread(head, 1, sizeof head - 1, f);
    std::fclose(f);
    ASSERT_GT(got, 20u);
    EXPECT_NE(std::string(head + 10).find(std::string("'descr': '") + descr[k] + "'"), std::string::npos)
        << head + 10;
    dtx_array *y = nullptr;
    ASSERT_EQ(dtx_load_npy(cl(), path.c_str(), nullptr, &y), DTX_OK) << dtx_last_error();
    std::remove(path.c_str());
    EXPECT_EQ(dtx_array_dtype(y), t);
    EXPECT_EQ(Raw(y), Raw(x));
  }
}

}  // namespace
