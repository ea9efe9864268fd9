/*
 * tests/array_scan_test.cc - cumsum, cumprod, nancumsum and nancumprod
 * (dtx/scan.h) against plain sequential loops: every axis of random 1- to
 * 4-d arrays with ragged chunks (one chunk and many along the axis), every
 * input dtype (bool and int32 accumulate in int64, as NumPy), integer
 * wrap-around, NaN (propagated, or skipped by the nan forms), -0.0 kept
 * as the first element, the task count (one carry chain per row), a
 * persisted input, and bad input. Runs under sync, threads and the
 * cluster scheduler on simulated GPUs. Seeds are printed.
 */
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "array_util.h"
#include "dtx/scan.h"

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

class ArrayScan : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayScan,
                         ::testing::Values(AllScheds()[0], AllScheds()[1], AllScheds()[3]), SchedName());

/* The sequential reference in double (exact for the integers used here). */
Nd Reference(const Nd &x, int axis, dtx_scan_op op) {
  Nd r = x;
  bool prod = op == DTX_CUMPROD || op == DTX_NANCUMPROD, nan = op == DTX_NANCUMSUM || op == DTX_NANCUMPROD;
  std::vector<int64_t> st = x.strides();
  for (int64_t i = 0; i < x.size(); i++) {
    std::vector<int64_t> m = x.unflat(i);
    double v = x.v[i];
    if (nan && std::isnan(v)) v = prod ? 1.0 : 0.0;
    if (m[axis] > 0) {
      double prev = r.v[i - st[axis]];
      v = prod ? prev * v : prev + v;
    }
    r.v[i] = v;
  }
  return r;
}

void Compare(const Nd &got, const Nd &want, double rtol, const std::string &what) {
  ASSERT_EQ(got.shape, want.shape) << what;
  for (int64_t i = 0; i < want.size(); i++) {
    double g = got.v[i], w = want.v[i];
    if (std::isnan(w)) {
      ASSERT_TRUE(std::isnan(g)) << what << " at " << i;
      continue;
    }
    ASSERT_NEAR(g, w, rtol * std::max(1.0, std::fabs(w))) << what << " at " << i;
  }
}

TEST_P(ArrayScan, RandomShapesAxesChunksAndDtypes) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  for (int it = 0; it < 24; it++) {
    Scope sc;
    int nd = 1 + static_cast<int>(rng() % 4);
    Nd x;
    x.shape = RandShape(rng, nd, 600);
    x.t = EveryDtype()[rng() % EveryDtype().size()];
    std::vector<int64_t> ch(nd);
    for (int d = 0; d < nd; d++) ch[d] = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(x.shape[d]));
    x.v.resize(static_cast<size_t>(x.size()));
    int axis = static_cast<int>(rng() % static_cast<uint64_t>(nd));
    dtx_scan_op op = static_cast<dtx_scan_op>(1 + rng() % 4);
    bool prod = op == DTX_CUMPROD || op == DTX_NANCUMPROD;  // values whose products stay exact
    for (auto &v : x.v)
      v = Fit(prod ? static_cast<double>(rng() % 3) - 1 : static_cast<double>(rng() % 7) - 3, x.t);
    std::string what = "shape " + ShapeStr(x.shape) + " chunks " + ShapeStr(ch) + " dtype " +
                       dtx_dtype_name(x.t) + " axis " + std::to_string(axis) + " op " + std::to_string(op);
    dtx_array *a = Put(cl(), x, ch);
    dtx_array *r = dtx_cumulative(a, op, axis - (rng() % 2 ? nd : 0));
    ASSERT_NE(r, nullptr) << dtx_last_error();
    std::string tn = dtx_dtype_name(x.t);
    dtx_dtype want_t = tn[0] == 'f' ? x.t : tn[0] == 'u' ? DTX_U64 : DTX_I64;
    EXPECT_EQ(dtx_array_dtype(r), want_t) << what;
    for (int d = 0; d < nd; d++) EXPECT_EQ(dtx_array_chunk(r, d), ch[d]) << what;
    // products of values in [-3, 3] stay exact in double for these sizes only
    // when short; compare relatively
    Compare(Get(r), Reference(x, axis, op), x.t == DTX_F32 ? 1e-4 : 1e-12, what);
  }
}

TEST_P(ArrayScan, IntegersWrapAndAccumulateInInt64) {
  Scope sc;
  std::vector<int32_t> v = {2147483647, 1, 2147483647, 5};
  dtx_array *a =
      dtx_from_host(cl(), 1, (const int64_t[]){4}, (const int64_t[]){3}, DTX_I32, v.data(), DTX_HOST_COPY);
  std::vector<int64_t> got(4);
  ASSERT_EQ(dtx_array_compute(dtx_cumsum(a, 0), got.data(), 32), DTX_OK) << dtx_last_error();
  EXPECT_EQ(got, (std::vector<int64_t>{2147483647, 2147483648LL, 4294967295LL, 4294967300LL}));
  std::vector<int64_t> big = {INT64_MAX, 1, 3};
  dtx_array *b =
      dtx_from_host(cl(), 1, (const int64_t[]){3}, (const int64_t[]){1}, DTX_I64, big.data(), DTX_HOST_COPY);
  ASSERT_EQ(dtx_array_compute(dtx_cumsum(b, 0), got.data(), 24), DTX_OK) << dtx_last_error();
  EXPECT_EQ(got[1], INT64_MIN);  // wraps as NumPy's int64
  EXPECT_EQ(got[2], INT64_MIN + 3);
}

TEST_P(ArrayScan, NanPropagatesOrIsSkippedAndNegativeZeroStays) {
  Scope sc;
  double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> v = {-0.0, 2.0, nan, 3.0, 4.0, nan, 1.0};
  dtx_array *a =
      dtx_from_host(cl(), 1, (const int64_t[]){7}, (const int64_t[]){2}, DTX_F64, v.data(), DTX_HOST_COPY);
  std::vector<double> s(7), ns(7), np(7);
  ASSERT_EQ(dtx_array_compute(dtx_cumsum(a, 0), s.data(), 56), DTX_OK) << dtx_last_error();
  EXPECT_TRUE(std::signbit(s[0]));
  EXPECT_EQ(s[1], 2.0);
  for (int i = 2; i < 7; i++) EXPECT_TRUE(std::isnan(s[i])) << i;
  ASSERT_EQ(dtx_array_compute(dtx_nancumsum(a, 0), ns.data(), 56), DTX_OK) << dtx_last_error();
  EXPECT_EQ(ns, (std::vector<double>{0.0, 2.0, 2.0, 5.0, 9.0, 9.0, 10.0}));
  EXPECT_TRUE(std::signbit(ns[0]));
  ASSERT_EQ(dtx_array_compute(dtx_nancumprod(a, 0), np.data(), 56), DTX_OK) << dtx_last_error();
  EXPECT_EQ(np[6], 0.0);
  std::vector<double> w = {nan, 2.0, 3.0};
  dtx_array *b =
      dtx_from_host(cl(), 1, (const int64_t[]){3}, (const int64_t[]){1}, DTX_F64, w.data(), DTX_HOST_COPY);
  ASSERT_EQ(dtx_array_compute(dtx_nancumprod(b, 0), np.data(), 24), DTX_OK) << dtx_last_error();
  EXPECT_EQ(np[0], 1.0);  // a leading NaN counts as 1
  EXPECT_EQ(np[2], 6.0);
}

TEST_P(ArrayScan, OneCarryChainPerRow) {
  Scope sc;
  // 3 x 4 chunks along axis 1: per row of chunks 4 scans, 3 totals, 3 carries
  dtx_array *a = dtx_ones(cl(), 2, (const int64_t[]){30, 40}, (const int64_t[]){10, 10}, DTX_F64);
  dtx_array *r = dtx_cumsum(a, 1);
  ASSERT_NE(r, nullptr) << dtx_last_error();
  dtx_graph *g = nullptr;
  ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
  std::vector<dtx_task_id> ids(12);
  ASSERT_EQ(dtx_array_graph(r, g, ids.data(), ids.size(), nullptr), DTX_OK) << dtx_last_error();
  size_t tot = 0, carry = 0, scan = 0;
  for (size_t t = 0; t < dtx_graph_size(g); t++) {
    char key[DTX_MAX_KEY];
    ASSERT_EQ(dtx_graph_key(g, static_cast<dtx_task_id>(t), key, sizeof key), DTX_OK);
    std::string k = key;
    if (k.find("cumsum-") != 0) continue;
    if (k.find(".tot") != std::string::npos)
      tot++;
    else if (k.find(".carry") != std::string::npos)
      carry++;
    else
      scan++;
  }
  dtx_graph_destroy(g);
  EXPECT_EQ(scan, 12u);
  EXPECT_EQ(tot, 9u);
  EXPECT_EQ(carry, 9u);
  std::vector<double> got(1200);
  ASSERT_EQ(dtx_array_compute(r, got.data(), got.size() * 8), DTX_OK) << dtx_last_error();
  for (int i = 0; i < 30; i++)
    for (int j = 0; j < 40; j++) ASSERT_EQ(got[i * 40 + j], j + 1.0);
}

TEST_P(ArrayScan, PersistedInputAndChains) {
  Scope sc;
  dtx_array *x = dtx_random_uniform(cl(), 2, (const int64_t[]){57, 33}, (const int64_t[]){8, 7}, DTX_F64, 7);
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(x, nullptr, &p), DTX_OK) << dtx_last_error();
  Nd xs = Get(x);
  // cumsum along 0, then its cumprod along 1 of (1 + x / 10), then a sum
  Nd want = Reference(xs, 0, DTX_CUMSUM);
  Compare(Get(dtx_cumsum(p, 0)), want, 1e-12, "persisted cumsum");
  dtx_array *y = dtx_cumprod(dtx_add(dtx_scalar(cl(), 1.0), dtx_div(p, dtx_scalar(cl(), 10.0))), -1);
  Nd base = xs;
  for (auto &v : base.v) v = 1.0 + v / 10.0;
  Compare(Get(y), Reference(base, 1, DTX_CUMPROD), 1e-12, "cumprod of an expression");
}

TEST_P(ArrayScan, BadInputIsRefused) {
  Scope sc;
  dtx_array *a = dtx_ones(cl(), 2, (const int64_t[]){3, 4}, nullptr, DTX_F64);
  EXPECT_EQ(dtx_cumsum(a, 2), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("axis 2 is out of range"), std::string::npos)
      << dtx_last_error();
  EXPECT_EQ(dtx_cumsum(a, -3), nullptr);
  EXPECT_EQ(dtx_cumsum(dtx_scalar(cl(), 1.0), 0), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("0-d"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_cumulative(a, static_cast<dtx_scan_op>(9), 0), nullptr);
  EXPECT_EQ(dtx_cumsum(nullptr, 0), nullptr);
}

}  // namespace
