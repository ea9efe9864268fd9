/*
 * tests/array_numpy_test.cc - the NumPy 2 rules that are easy to get wrong:
 * Python scalars weak only as direct operands (NEP 50), Python ints that
 * int32 does not hold, integers to negative powers, dot's dtypes, slice steps
 * near 2**63, the dtype of a compute buffer (checked from C and C++), and
 * float32 reductions accumulating in float64. Each expected value is what
 * NumPy 2.4 gives (written next to it), or the deviation dtx/array.h
 * documents. Every case runs under sync, threads and the cluster scheduler
 * on sim:1..4. tests/array_conformance/ checks the same against NumPy itself.
 */
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "array_util.h"

using namespace dtxa_test;

extern "C" {
/* tests/array_numpy_helper.c: dtx_array_compute called from C (the _Generic macro). */
dtx_status dtxt_compute_c_double(const dtx_array *a, double *out);
dtx_status dtxt_compute_c_int64(const dtx_array *a, int64_t *out);
dtx_status dtxt_compute_c_void(const dtx_array *a, void *out, size_t size);
dtx_status dtxt_compute_c_unchecked(const dtx_array *a, double *out);
}

namespace {

class ArrayNumpy : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
  dtx_array *I(int64_t v) { return dtx_scalar_int(cl(), v); }
  dtx_array *F(double v) { return dtx_scalar(cl(), v); }
  dtx_array *Vec(dtx_dtype t, const std::vector<double> &v, int64_t chunk = 2) {
    Nd x;
    x.shape = {static_cast<int64_t>(v.size())};
    x.t = t;
    x.v = v;
    return Put(cl(), x, {chunk});
  }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayNumpy, ::testing::ValuesIn(AllScheds()), SchedName());

::testing::AssertionResult FailsWith(dtx_array *a, const std::string &needle) {
  if (a != nullptr)
    return ::testing::AssertionFailure() << "made an array; expected an error with '" << needle << "'";
  std::string e = dtx_last_error();
  if (e.find(needle) == std::string::npos)
    return ::testing::AssertionFailure() << "error '" << e << "' does not mention '" << needle << "'";
  return ::testing::AssertionSuccess();
}

Nd Want(dtx_dtype t, std::vector<int64_t> shape, std::vector<double> v) {
  Nd x;
  x.t = t;
  x.shape = std::move(shape);
  x.v = std::move(v);
  return x;
}

/* ---- 1. Python scalars are weak only as direct operands ------------------------------------ */

TEST_P(ArrayNumpy, FunctionsOfPythonScalarsAreStrong) {
  Scope sc;
  const std::vector<double> xs = {0, 1, 2, -3, 4};
  dtx_array *i32 = Vec(DTX_I32, xs), *i64 = Vec(DTX_I64, xs), *f32 = Vec(DTX_F32, xs);
  dtx_array *b = Vec(DTX_BOOL, {1, 0, 1, 1, 0});
  auto scaled = [&](double k, dtx_dtype t) {
    Nd w = Want(t, {5}, {});
    for (double x : xs) w.v.push_back(k * x);
    return w;
  };
  /* (7/2) * x: float64 3.5 * x (it was int32 3 * x) */
  dtx_array *half7 = dtx_div(I(7), I(2));
  EXPECT_EQ(dtx_array_dtype(half7), DTX_F64);
  EXPECT_TRUE(SameNd(Get(dtx_mul(half7, i32)), scaled(3.5, DTX_F64), 0));
  /* np.exp(1) * i32, np.sqrt(2) * i64: float64 */
  EXPECT_TRUE(SameNd(Get(dtx_mul(dtx_exp(I(1)), i32)), scaled(std::exp(1.0), DTX_F64), 1e-15));
  EXPECT_TRUE(SameNd(Get(dtx_mul(dtx_sqrt(I(2)), i64)), scaled(std::sqrt(2.0), DTX_F64), 1e-15));
  /* np.log(10) + bool: float64 */
  Nd lb = Get(dtx_add(dtx_log(I(10)), b));
  EXPECT_TRUE(SameNd(
      lb,
      Want(DTX_F64, {5},
           {std::log(10.0) + 1, std::log(10.0), std::log(10.0) + 1, std::log(10.0) + 1, std::log(10.0)}),
      1e-15));
  /* np.where(c, 7/2, i32): float64 */
  Nd wh = Get(dtx_where(b, dtx_div(I(7), I(2)), i32));
  EXPECT_TRUE(SameNd(wh, Want(DTX_F64, {5}, {3.5, 1, 3.5, 3.5, 4}), 0));
  /* ... also after astype(F64) or persist */
  EXPECT_TRUE(SameNd(Get(dtx_mul(dtx_astype(half7, DTX_F64), i32)), scaled(3.5, DTX_F64), 0));
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(dtx_exp(I(1)), nullptr, &p), DTX_OK) << dtx_last_error();
  EXPECT_TRUE(SameNd(Get(dtx_mul(p, i32)), scaled(std::exp(1.0), DTX_F64), 1e-15));
  /* np.exp(2.0) * f32 and np.float64(2.5) * f32: float64 */
  EXPECT_EQ(dtx_array_dtype(dtx_mul(dtx_exp(F(2.0)), f32)), DTX_F64);
  EXPECT_TRUE(SameNd(Get(dtx_mul(dtx_astype(F(2.5), DTX_F64), f32)), scaled(2.5, DTX_F64), 0));
  EXPECT_EQ(dtx_array_dtype(dtx_mul(dtx_neg(F(2.5)), f32)), DTX_F64);     /* np.negative(2.5) */
  EXPECT_EQ(dtx_array_dtype(dtx_mul(dtx_add(I(7), I(2)), i32)), DTX_I64); /* np.add(7, 2) */
  /* np.where(c, 1, 2.5) is a float64 array */
  EXPECT_EQ(dtx_array_dtype(dtx_mul(dtx_where(b, I(1), F(2.5)), f32)), DTX_F64);
  EXPECT_EQ(dtx_array_dtype(dtx_mul(dtx_where(I(1), I(1), I(2)), i32)), DTX_I64);
  /* np.dot(2.5, f32), np.dot(f32, 2.5): float64 (np.dot takes arrays) */
  EXPECT_TRUE(SameNd(Get(dtx_dot(F(2.5), f32)), scaled(2.5, DTX_F64), 0));
  EXPECT_TRUE(SameNd(Get(dtx_dot(f32, F(2.5))), scaled(2.5, DTX_F64), 0));
  EXPECT_EQ(dtx_array_dtype(dtx_dot(I(2), i32)), DTX_I64);
  /* a persisted Python scalar is an array */
  ASSERT_EQ(dtx_array_persist(F(2.5), nullptr, &p), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtx_array_dtype(dtx_mul(p, f32)), DTX_F64);
  /* the scalars themselves stay weak */
  EXPECT_EQ(dtx_array_dtype(dtx_mul(F(2.5), f32)), DTX_F32);
  EXPECT_EQ(dtx_array_dtype(dtx_mul(i32, I(7))), DTX_I32);
  EXPECT_EQ(dtx_array_dtype(dtx_where(b, F(2.5), f32)), DTX_F32);
  EXPECT_EQ(dtx_array_dtype(dtx_clip(f32, 0.5, 1.5)), DTX_F32);
}

/* ---- 2. Python ints that int32 does not hold ---------------------------------------------- */

TEST_P(ArrayNumpy, HugePythonIntsCompareByValueAndRefuseArithmetic) {
  Scope sc;
  const double lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
  dtx_array *x = Vec(DTX_I32, {0, 1, -1, hi, lo}, 3);
  const int64_t p32 = int64_t{1} << 32, p40 = int64_t{1} << 40, p31 = int64_t{1} << 31;
  Nd f5 = Want(DTX_BOOL, {5}, {0, 0, 0, 0, 0}), t5 = Want(DTX_BOOL, {5}, {1, 1, 1, 1, 1});
  EXPECT_TRUE(SameNd(Get(dtx_binary(DTX_EQ, x, I(p32))), f5, 0)); /* was true where x == 0 */
  EXPECT_TRUE(SameNd(Get(dtx_binary(DTX_LT, x, I(p40))), t5, 0));
  EXPECT_TRUE(SameNd(Get(dtx_binary(DTX_GT, x, I(-p40))), t5, 0));
  EXPECT_TRUE(SameNd(Get(dtx_binary(DTX_NE, I(p32), x)), t5, 0));
  EXPECT_TRUE(SameNd(Get(dtx_binary(DTX_GE, x, I(p31))), f5, 0));
  EXPECT_TRUE(SameNd(Get(dtx_binary(DTX_LE, x, I(-p31 - 1))), f5, 0));
  EXPECT_TRUE(SameNd(Get(dtx_binary(DTX_EQ, x, I(static_cast<int64_t>(hi)))),
                     Want(DTX_BOOL, {5}, {0, 0, 0, 1, 0}), 0));
  /* arithmetic: NumPy's OverflowError */
  EXPECT_TRUE(FailsWith(dtx_add(x, I(p40)), "Python integer 1099511627776 is out of bounds for int32"));
  EXPECT_TRUE(FailsWith(dtx_mul(x, I(p31)), "out of bounds for int32"));
  EXPECT_TRUE(FailsWith(dtx_sub(I(p40), x), "out of bounds for int32"));
  EXPECT_TRUE(FailsWith(dtx_maximum(x, I(p40)), "out of bounds for int32"));
  EXPECT_TRUE(FailsWith(dtx_pow(x, I(p31)), "out of bounds for int32"));
  /* in range, or another dtype: fine */
  EXPECT_TRUE(SameNd(Get(dtx_add(x, I(-p31))), Want(DTX_I32, {5}, {lo, lo + 1, hi, -1, 0}), 0));
  EXPECT_EQ(dtx_array_dtype(dtx_div(x, I(p40))), DTX_F64);
  dtx_array *b = Vec(DTX_BOOL, {1, 0});
  EXPECT_TRUE(SameNd(Get(dtx_add(b, I(p40))), Want(DTX_I64, {2}, {double(p40 + 1), double(p40)}), 0));
  EXPECT_TRUE(SameNd(Get(dtx_add(dtx_astype(x, DTX_I64), I(p40))),
                     Want(DTX_I64, {5}, {double(p40), double(p40 + 1), double(p40 - 1), p40 + hi, p40 + lo}),
                     0));
  /* np.where converts it as a cast does (wrapping), without an error */
  Nd w = Get(dtx_where(b, I(p40 + 5), Vec(DTX_I32, {1, 2})));
  EXPECT_TRUE(SameNd(w, Want(DTX_I32, {2}, {5, 2}), 0));
}

/* ---- 3. integers to negative integer powers ------------------------------------------------- */

TEST_P(ArrayNumpy, IntegersToNegativePowersAreAnError) {
  Scope sc;
  dtx_array *x = Vec(DTX_I32, {0, 1, 2, -2}), *b = Vec(DTX_BOOL, {1, 0});
  const char *msg = "integers to negative integer powers are not allowed";
  EXPECT_TRUE(FailsWith(dtx_pow(x, I(-1)), msg)); /* 0 ** -1 gave 0 */
  EXPECT_TRUE(FailsWith(dtx_pow(b, I(-1)), msg));
  EXPECT_TRUE(FailsWith(
      dtx_pow(dtx_astype(x, DTX_I64), dtx_full(cl(), 1, (const int64_t[]){4}, nullptr, DTX_I64, -2)), msg));
  EXPECT_TRUE(FailsWith(dtx_pow(x, dtx_astype(I(-3), DTX_I32)), msg));
  EXPECT_TRUE(FailsWith(dtx_pow(I(2), I(-1)), msg)); /* np.power(2, -1) */
  /* non-negative or float exponents are fine */
  EXPECT_TRUE(SameNd(Get(dtx_pow(x, I(0))), Want(DTX_I32, {4}, {1, 1, 1, 1}), 0));
  EXPECT_TRUE(SameNd(Get(dtx_pow(x, I(3))), Want(DTX_I32, {4}, {0, 1, 8, -8}), 0));
  EXPECT_TRUE(SameNd(Get(dtx_pow(x, F(-1.0))), Want(DTX_F64, {4}, {INFINITY, 1, 0.5, -0.5}), 0));
  EXPECT_TRUE(
      SameNd(Get(dtx_pow(dtx_astype(x, DTX_F32), I(-1))), Want(DTX_F32, {4}, {INFINITY, 1, 0.5, -0.5}), 0));
}

/* ---- 4. dot and tensordot dtypes ----------------------------------------------------------- */

TEST_P(ArrayNumpy, DotKeepsInt32AndGivesBoolForBools) {
  Scope sc;
  const double big = double(int64_t{1} << 30);
  dtx_array *a = Vec(DTX_I32, {big, big, big, big}, 3), *c = Vec(DTX_I32, {4, 4, 4, 4}, 2);
  /* np.dot of int32 vectors is int32 and wraps: 4 * 2**32 is 0 */
  EXPECT_TRUE(SameNd(Get(dtx_dot(a, c)), Want(DTX_I32, {}, {0}), 0));
  dtx_array *u = Vec(DTX_I32, {1, -2, 3}), *v = Vec(DTX_I32, {4, 5, -6});
  EXPECT_TRUE(SameNd(Get(dtx_dot(u, v)), Want(DTX_I32, {}, {4 - 10 - 18}), 0));
  const int ax[1] = {0};
  EXPECT_TRUE(SameNd(Get(dtx_tensordot(u, v, ax, ax, 1)), Want(DTX_I32, {}, {-24}), 0));
  EXPECT_TRUE(SameNd(Get(dtx_dot(u, Vec(DTX_I64, {1, 1, 1}))), Want(DTX_I64, {}, {2}), 0));
  EXPECT_TRUE(SameNd(Get(dtx_dot(Vec(DTX_BOOL, {1, 0, 1}), u)), Want(DTX_I32, {}, {4}), 0));
  /* bools: any of the ands, as NumPy's True / False */
  dtx_array *p = Vec(DTX_BOOL, {1, 0, 1, 0, 0}), *q = Vec(DTX_BOOL, {0, 1, 1, 0, 1}),
            *r = Vec(DTX_BOOL, {0, 1, 0, 1, 1});
  EXPECT_TRUE(SameNd(Get(dtx_dot(p, q)), Want(DTX_BOOL, {}, {1}), 0));
  EXPECT_TRUE(SameNd(Get(dtx_dot(p, r)), Want(DTX_BOOL, {}, {0}), 0));
  EXPECT_TRUE(SameNd(Get(dtx_tensordot(p, q, ax, ax, 1)), Want(DTX_BOOL, {}, {1}), 0));
  /* 2-d contracted over both axes */
  int64_t s2[2] = {2, 2}, c2[2] = {1, 2};
  int32_t m[4] = {1, 2, 3, 4};
  dtx_array *mm = dtx_from_host(cl(), 2, s2, c2, DTX_I32, m, DTX_HOST_COPY);
  const int a2[2] = {0, 1};
  EXPECT_TRUE(SameNd(Get(dtx_tensordot(mm, mm, a2, a2, 2)), Want(DTX_I32, {}, {30}), 0));
  /* matrix products keep int32 and bool too */
  EXPECT_EQ(dtx_array_dtype(dtx_dot(mm, mm)), DTX_I32);
  EXPECT_EQ(dtx_array_dtype(dtx_dot(mm, Vec(DTX_I32, {1, 1}))), DTX_I32);
  dtx_array *bm = dtx_binary(DTX_GT, mm, I(2));
  EXPECT_TRUE(SameNd(Get(dtx_dot(bm, bm)), Want(DTX_BOOL, {2, 2}, {0, 0, 1, 1}), 0));
}

/* ---- 5. slice steps near 2**63 ------------------------------------------------------------ */

TEST_P(ArrayNumpy, HugeSliceStepsSelectOneElement) {
  Scope sc;
  dtx_array *x = dtx_arange(cl(), 0, 10, 1, 3, DTX_I64);
  const int64_t mx = std::numeric_limits<int64_t>::max(), mn = std::numeric_limits<int64_t>::min();
  struct Case {
    int64_t start, stop, step;
  } cases[] = {{0, 10, mx}, {DTX_NONE, DTX_NONE, mx}, {DTX_NONE, DTX_NONE, -mx}, {DTX_NONE, DTX_NONE, mn},
               {9, 0, -mx}, {3, DTX_NONE, mx - 1},    {-1, DTX_NONE, mn + 1},    {5, 6, int64_t{1} << 62}};
  double wants[] = {0, 0, 9, 9, 9, 3, 9, 5};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    Case c = cases[k];
    SCOPED_TRACE(::testing::Message() << c.start << ":" << c.stop << ":" << c.step);
    dtx_index idx = {DTX_INDEX_SLICE, c.start, c.stop, c.step};
    EXPECT_TRUE(SameNd(Get(dtx_slice(x, 1, &idx)), Want(DTX_I64, {1}, {wants[k]}), 0));
  }
  /* 2-d, one axis with a huge step, the other ordinary, then a slice of the slice */
  dtx_array *y = dtx_rechunk(dtx_broadcast_to(x, 2, (const int64_t[]){4, 10}), (const int64_t[]){3, 4});
  dtx_index two[2] = {{DTX_INDEX_SLICE, 1, DTX_NONE, mx}, {DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 3}};
  dtx_array *z = dtx_slice(y, 2, two);
  EXPECT_TRUE(SameNd(Get(z), Want(DTX_I64, {1, 4}, {0, 3, 6, 9}), 0));
  dtx_index again[2] = {{DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, mn},
                        {DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, -mx}};
  EXPECT_TRUE(SameNd(Get(dtx_slice(z, 2, again)), Want(DTX_I64, {1, 1}, {9}), 0));
}

/* ---- 6. the dtype of a compute buffer ----------------------------------------------------- */

TEST_P(ArrayNumpy, ComputeChecksTheBufferDtype) {
  Scope sc;
  dtx_array *x = Vec(DTX_I32, {1, 2, 3, 4, 5});
  dtx_array *s = dtx_sum(x, nullptr, 0); /* int64 */
  double d = -1;
  EXPECT_EQ(dtx_array_compute(s, &d, sizeof d), DTX_EINVAL); /* printed 2.4e-320 */
  std::string e = dtx_last_error();
  EXPECT_NE(e.find("float64"), std::string::npos) << e;
  EXPECT_NE(e.find("int64"), std::string::npos) << e;
  EXPECT_EQ(d, -1);
  int64_t n = 0;
  EXPECT_EQ(dtx_array_compute(s, &n, sizeof n), DTX_OK) << dtx_last_error();
  EXPECT_EQ(n, 15);
  /* explicit dtypes; DTX_ANY_DTYPE and untyped buffers are unchecked */
  EXPECT_EQ(dtx_array_compute_as(s, DTX_F64, &n, sizeof n), DTX_EINVAL);
  EXPECT_EQ(dtx_array_compute_as(s, DTX_I64, &n, sizeof n), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtx_array_compute_as(s, DTX_ANY_DTYPE, &n, sizeof n), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtx_array_compute_as(s, static_cast<dtx_dtype>(42), &n, sizeof n), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("42"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_array_compute(s, static_cast<void *>(&n), sizeof n), DTX_OK) << dtx_last_error();
  /* typed array buffers: float32 into double is refused, the matching one works */
  float f[5];
  int32_t i[5];
  bool bo[5];
  EXPECT_EQ(dtx_array_compute(x, f, sizeof f), DTX_EINVAL);
  EXPECT_EQ(dtx_array_compute(x, i, sizeof i), DTX_OK) << dtx_last_error();
  EXPECT_EQ(i[4], 5);
  EXPECT_EQ(dtx_array_compute(dtx_binary(DTX_GT, x, I(2)), bo, sizeof bo), DTX_OK) << dtx_last_error();
  EXPECT_TRUE(bo[4] && !bo[0]);
  EXPECT_EQ(dtx_array_compute(x, bo, sizeof bo), DTX_EINVAL);
  /* the same from C, where a _Generic macro reads the pointer type */
  EXPECT_EQ(dtxt_compute_c_double(s, &d), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("float64"), std::string::npos) << dtx_last_error();
  n = 0;
  EXPECT_EQ(dtxt_compute_c_int64(s, &n), DTX_OK) << dtx_last_error();
  EXPECT_EQ(n, 15);
  EXPECT_EQ(dtxt_compute_c_void(s, &n, sizeof n), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtxt_compute_c_unchecked(s, &d), DTX_OK) << dtx_last_error(); /* (dtx_array_compute)(...) */
}

/* ---- float32 reductions accumulate in float64 (documented) ------------------------------- */

TEST_P(ArrayNumpy, Float32SumsAreTheFloat64SumRounded) {
  Scope sc;
  /* NumPy: 3e38 + 3e38 overflows to inf in float32 and stays inf; dtx: 0 */
  dtx_array *x = Vec(DTX_F32, {3e38, 3e38, -3e38, -3e38}, 3);
  EXPECT_TRUE(SameNd(Get(dtx_sum(x, nullptr, 0)), Want(DTX_F32, {}, {0}), 0));
  EXPECT_TRUE(SameNd(Get(dtx_mean(x, nullptr, 0)), Want(DTX_F32, {}, {0}), 0));
  /* a total beyond float32's range is inf, as NumPy */
  dtx_array *y = Vec(DTX_F32, {3e38, 3e38, 3e38, 1}, 3);
  EXPECT_TRUE(SameNd(Get(dtx_sum(y, nullptr, 0)), Want(DTX_F32, {}, {INFINITY}), 0));
  /* and the rounding is once: 2**24 + 1 + 1 is 2**24 + 2, where float32 steps lose both ones */
  const double p24 = 16777216.0;
  dtx_array *z = Vec(DTX_F32, {p24, 1, 1}, 1);
  EXPECT_TRUE(SameNd(Get(dtx_sum(z, nullptr, 0)), Want(DTX_F32, {}, {p24 + 2}), 0));
}

}  // namespace
