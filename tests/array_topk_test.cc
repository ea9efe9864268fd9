/*
 * tests/array_topk_test.cc - dtx_topk and dtx_argtopk (dtx/sort.h) against a
 * stable sort of each lane (NaN largest, ties to the smaller index): random
 * arrays of 1 to 3 dimensions, every axis, k positive and negative up to the
 * axis length, one chunk and many along the axis (one merge level and
 * several), every dtype, NaNs, and bad input; complex64 and complex128 in
 * NumPy's order of complex values (a comparison written from NumPy's
 * CLT: lexicographic, then imaginary NaN, real NaN, both NaN) with NaN, inf,
 * -0.0 and tied parts, and a fixed case checked against dask.array.topk /
 * argtopk. Runs under sync, threads and the cluster scheduler on simulated
 * GPUs. Seeds are printed.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <limits>
#include <numeric>
#include <random>

#include "array_util.h"
#include "dtx/complex.h"
#include "dtx/sort.h"

using namespace dtxa_test;

namespace {

/* v made exact in dtype t (small values; unsigned ones not negative). */
double Fit(double v, dtx_dtype t) {
  std::string n = dtx_dtype_name(t);
  if (t == DTX_BOOL) return v != 0;
  if (n[0] == 'u') return std::fabs(std::trunc(v));
  if (n[0] == 'i') return std::trunc(v);
  if (t == DTX_F16) return std::round(v * 8) / 8;
  if (t == DTX_F32) return static_cast<float>(v);
  return v;
}

class ArrayTopk : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayTopk, ::testing::ValuesIn(CoreScheds()), SchedName());

/* The reference: values (or indices) of the |k| best per lane. */
Nd Reference(const Nd &x, int axis, int64_t k, bool arg) {
  int64_t kk = k < 0 ? -k : k;
  Nd r;
  r.shape = x.shape;
  r.shape[axis] = kk;
  r.t = arg ? DTX_I64 : x.t;
  r.v.assign(static_cast<size_t>(r.size()), 0.0);
  std::vector<int64_t> st = x.strides(), rst = r.strides();
  for (int64_t i = 0; i < x.size(); i++) {
    std::vector<int64_t> m = x.unflat(i);
    if (m[axis] != 0) continue;
    std::vector<int64_t> order(static_cast<size_t>(x.shape[axis]));
    std::iota(order.begin(), order.end(), 0);
    auto val = [&](int64_t q) { return x.v[i + q * st[axis]]; };
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      double va = val(a), vb = val(b);
      bool na = std::isnan(va), nb = std::isnan(vb);
      if (na != nb) return k > 0 ? na : nb;
      if (na) return false;
      return k > 0 ? va > vb : va < vb;
    });
    int64_t base = r.flat(m);
    for (int64_t q = 0; q < kk; q++)
      r.v[base + q * rst[axis]] = arg ? static_cast<double>(order[q]) : val(order[q]);
  }
  return r;
}

TEST_P(ArrayTopk, RandomShapesAxesKAndDtypes) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  for (int it = 0; it < 30; it++) {
    Scope sc;
    int nd = 1 + static_cast<int>(rng() % 3);
    Nd x;
    x.shape = RandShape(rng, nd, 3000);
    x.t = EveryDtype()[rng() % EveryDtype().size()];
    int axis = static_cast<int>(rng() % static_cast<uint64_t>(nd));
    std::vector<int64_t> ch(nd);
    for (int d = 0; d < nd; d++) ch[d] = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(x.shape[d]));
    if (rng() % 2) ch[axis] = 1 + x.shape[axis] / 12;  // many chunks: several merge levels
    x.v.resize(static_cast<size_t>(x.size()));
    for (auto &v : x.v) v = Fit(static_cast<double>(rng() % 41) - 20, x.t);
    if (std::string(dtx_dtype_name(x.t))[0] == 'f')
      for (auto &v : x.v)
        if (rng() % 13 == 0) v = std::numeric_limits<double>::quiet_NaN();
    int64_t k = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(x.shape[axis]));
    if (rng() % 2) k = -k;
    bool arg = rng() % 2;
    std::string what = "shape " + ShapeStr(x.shape) + " chunks " + ShapeStr(ch) + " dtype " +
                       dtx_dtype_name(x.t) + " axis " + std::to_string(axis) + " k " + std::to_string(k) +
                       (arg ? " argtopk" : " topk");
    dtx_array *a = Put(cl(), x, ch);
    dtx_array *r = arg ? dtx_argtopk(a, k, axis) : dtx_topk(a, k, axis);
    ASSERT_NE(r, nullptr) << what << ": " << dtx_last_error();
    Nd got = Get(r), want = Reference(x, axis, k, arg);
    ASSERT_EQ(got.shape, want.shape) << what;
    EXPECT_EQ(got.t, want.t) << what;
    for (int64_t i = 0; i < want.size(); i++) {
      if (std::isnan(want.v[i]))
        ASSERT_TRUE(std::isnan(got.v[i])) << what << " at " << i;
      else
        ASSERT_EQ(got.v[i], want.v[i]) << what << " at " << i;
    }
  }
}

TEST_P(ArrayTopk, BadInputIsRefused) {
  Scope sc;
  dtx_array *a = dtx_ones(cl(), 2, (const int64_t[]){3, 4}, nullptr, DTX_F64);
  EXPECT_EQ(dtx_topk(a, 5, 1), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("at most the axis length 4"), std::string::npos)
      << dtx_last_error();
  EXPECT_EQ(dtx_topk(a, 0, 1), nullptr);
  EXPECT_EQ(dtx_argtopk(a, 2, 2), nullptr);
  EXPECT_EQ(dtx_topk(dtx_scalar(cl(), 1.0), 1, 0), nullptr);
  EXPECT_EQ(dtx_topk(nullptr, 1, 0), nullptr);
  dtx_array *t = dtx_topk(a, -4, -1);
  ASSERT_NE(t, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dim(t, 1), 4);
}

using cd = std::complex<double>;

/* NumPy's order of complex values (npysort's CLT): -1, 0, 1. Categories:
 * no NaN part, imaginary NaN, real NaN, both NaN; within them
 * lexicographic, by the real part, by the imaginary part, all equal. */
int CxCmp(cd a, cd b) {
  auto cat = [](cd z) {
    return std::isnan(z.imag()) ? (std::isnan(z.real()) ? 3 : 1) : std::isnan(z.real()) ? 2 : 0;
  };
  int ca = cat(a), cb = cat(b);
  if (ca != cb) return ca < cb ? -1 : 1;
  if ((ca == 0 || ca == 1) && a.real() != b.real()) return a.real() < b.real() ? -1 : 1;
  if ((ca == 0 || ca == 2) && a.imag() != b.imag()) return a.imag() < b.imag() ? -1 : 1;
  return 0;
}

/* The reference of complex x (shape): values and indices of the |k| best
 * per lane along axis, ties to the smaller index. */
void CxReference(const std::vector<cd> &x, const std::vector<int64_t> &shape, int axis, int64_t k,
                 std::vector<cd> *vals, std::vector<int64_t> *idx) {
  Nd shp;
  shp.shape = shape;
  int64_t kk = k < 0 ? -k : k, n = shape[axis];
  std::vector<int64_t> st = shp.strides(), rshape = shape;
  rshape[axis] = kk;
  Nd r;
  r.shape = rshape;
  std::vector<int64_t> rst = r.strides();
  vals->assign(static_cast<size_t>(r.size()), cd());
  idx->assign(static_cast<size_t>(r.size()), 0);
  for (int64_t i = 0; i < shp.size(); i++) {
    std::vector<int64_t> m = shp.unflat(i);
    if (m[axis] != 0) continue;
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      int c = CxCmp(x[i + a * st[axis]], x[i + b * st[axis]]);
      return k > 0 ? c > 0 : c < 0;
    });
    int64_t base = r.flat(m);
    for (int64_t q = 0; q < kk; q++) {
      (*vals)[base + q * rst[axis]] = x[i + order[q] * st[axis]];
      (*idx)[base + q * rst[axis]] = order[q];
    }
  }
}

/* v rounded to float. Through a volatile: GCC 12 at -O2 drops the round
 * trip double -> float -> double of a std::complex<double>'s parts (as in
 * cd(std::complex<float>(z))), leaving z as it was. */
double ToFloat(double v) {
  volatile float f = static_cast<float>(v);
  return f;
}

/* The same part: NaN as NaN, zeros with their signs. */
bool SamePart(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

std::vector<int64_t> GetIdx(const dtx_array *a) {
  EXPECT_EQ(dtx_array_dtype(a), DTX_I64);
  std::vector<int64_t> v(static_cast<size_t>(dtx_array_size(a)));
  EXPECT_EQ(dtx_array_compute(a, v.data(), v.size() * 8), DTX_OK) << dtx_last_error();
  return v;
}

TEST_P(ArrayTopk, ComplexAgainstNumpyOrder) {
  auto rng = Rng("ComplexAgainstNumpyOrder");
  for (int it = 0; it < 40; it++) {
    Scope sc;
    int nd = 1 + static_cast<int>(rng() % 3);
    std::vector<int64_t> shape = RandShape(rng, nd, 2000);
    int axis = static_cast<int>(rng() % static_cast<uint64_t>(nd));
    if (it % 4 == 0) shape[axis] = 20 + static_cast<int64_t>(rng() % 200);  // long lanes
    std::vector<int64_t> ch = RandChunks(rng, shape);
    if (rng() % 2) ch[axis] = 1 + shape[axis] / 12;  // many chunks: several merge levels
    int64_t size = 1;
    for (int64_t d : shape) size *= d;
    std::vector<cd> x = CxVals(rng, static_cast<size_t>(size), it % 3 == 0 ? 0.0 : 0.15);
    for (auto &z : x)  // signed zeros among the ties
      if (rng() % 9 == 0) z = cd(rng() % 2 ? -0.0 : 0.0, z.imag());
    bool c64 = it % 2 == 1;
    if (c64)
      for (auto &z : x) z = cd(ToFloat(z.real()), ToFloat(z.imag()));
    int64_t n = shape[axis], k = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(n));
    if (rng() % 5 == 0) k = n;
    if (rng() % 2) k = -k;
    bool arg = rng() % 2;
    std::string what = "shape " + ShapeStr(shape) + " chunks " + ShapeStr(ch) +
                       (c64 ? " complex64" : " complex128") + " axis " + std::to_string(axis) + " k " +
                       std::to_string(k) + (arg ? " argtopk" : " topk");
    dtx_array *a = FromC(cl(), shape, ch, x);
    if (c64) a = dtx_astype(a, DTX_C64);
    dtx_array *r = arg ? dtx_argtopk(a, k, axis) : dtx_topk(a, k, axis);
    ASSERT_NE(r, nullptr) << what << ": " << dtx_last_error();
    std::vector<int64_t> rshape = shape;
    rshape[axis] = k < 0 ? -k : k;
    ASSERT_EQ(Shape(r), rshape) << what;
    std::vector<cd> wv;
    std::vector<int64_t> wi;
    CxReference(x, shape, axis, k, &wv, &wi);
    if (arg) {
      EXPECT_EQ(GetIdx(r), wi) << what;
      continue;
    }
    EXPECT_EQ(dtx_array_dtype(r), c64 ? DTX_C64 : DTX_C128) << what;
    std::vector<cd> got = GetC(r);
    ASSERT_EQ(got.size(), wv.size()) << what;
    for (size_t i = 0; i < got.size(); i++)
      ASSERT_TRUE(SamePart(got[i].real(), wv[i].real()) && SamePart(got[i].imag(), wv[i].imag()))
          << what << " at " << i << ": " << got[i] << " vs " << wv[i];
  }
}

/* dask.array.topk / argtopk (dask 2025, NumPy 2.4) of these values gave the
 * same values and indices but for the order of equal values (dtx: the
 * smaller index first; dask: as its partition and sort leave them, which
 * changes with the chunks). */
TEST_P(ArrayTopk, ComplexFixedCaseAsDask) {
  Scope sc;
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  std::vector<cd> x = {cd(1, 2),    cd(nan, 0),  cd(0, nan),    cd(3, 0),    cd(nan, nan),
                       cd(1, 2),    cd(-0.0, 0), cd(0, 0),      cd(inf, -1), cd(inf, nan),
                       cd(1, -inf), cd(nan, -5), cd(-inf, inf), cd(3, 0),    cd(2, nan)};
  for (int64_t chunk : {15, 4, 3, 1}) {
    dtx_array *a = FromC(cl(), {15}, {chunk}, x);
    std::string what = "chunk " + std::to_string(chunk);
    EXPECT_EQ(GetIdx(dtx_argtopk(a, 5, 0)), (std::vector<int64_t>{4, 1, 11, 9, 14})) << what;
    EXPECT_EQ(GetIdx(dtx_argtopk(a, -5, 0)), (std::vector<int64_t>{12, 6, 7, 10, 0})) << what;
    EXPECT_EQ(GetIdx(dtx_argtopk(a, 15, 0)),
              (std::vector<int64_t>{4, 1, 11, 9, 14, 2, 8, 3, 13, 0, 5, 10, 6, 7, 12}))
        << what;
    std::vector<cd> t = GetC(dtx_topk(a, -3, 0));
    ASSERT_EQ(t.size(), 3u);
    EXPECT_EQ(t[0], cd(-inf, inf));
    EXPECT_TRUE(t[1] == cd(0, 0) && std::signbit(t[1].real())) << what << ": -0.0 (index 6) first";
    EXPECT_TRUE(t[2] == cd(0, 0) && !std::signbit(t[2].real())) << what;
    t = GetC(dtx_topk(a, 2, 0));
    ASSERT_EQ(t.size(), 2u);
    EXPECT_TRUE(std::isnan(t[0].real()) && std::isnan(t[0].imag())) << what;
    EXPECT_TRUE(std::isnan(t[1].real()) && t[1].imag() == 0) << what;
  }
}

TEST_P(ArrayTopk, ComplexBadInputIsRefused) {
  Scope sc;
  dtx_array *a = dtx_zeros(cl(), 2, (const int64_t[]){3, 4}, nullptr, DTX_C64);
  EXPECT_EQ(dtx_topk(a, 5, 1), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("at most the axis length 4"), std::string::npos)
      << dtx_last_error();
  EXPECT_EQ(dtx_argtopk(a, 0, 0), nullptr);
  EXPECT_EQ(dtx_argtopk(a, 1, 2), nullptr);
  EXPECT_EQ(dtx_topk(dtx_scalar_complex(cl(), 1, 2), 1, 0), nullptr);
  dtx_array *t = dtx_topk(a, -4, -1), *i = dtx_argtopk(a, 3, 0);
  ASSERT_TRUE(t && i) << dtx_last_error();
  EXPECT_EQ(Shape(t), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(Shape(i), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(dtx_array_dtype(i), DTX_I64);
}

}  // namespace
