/*
 * tests/array_hist_test.cc - dtx_histogram and dtx_histogram_edges
 * (dtx/stats.h) against brute-force interval membership over the same edges
 * (numpy.linspace's, bins [left, right), the last closed): random arrays of
 * every dtype and 1 to 3 dimensions with ragged chunks, values on the edges,
 * outside the range and NaN, weights in other chunks, density, explicit
 * (also repeated) edges, a degenerate range, and bad input. Runs under
 * sync, threads and the cluster scheduler on simulated GPUs. Seeds printed.
 */
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "array_util.h"
#include "dtx/stats.h"

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

class ArrayHist : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayHist,
                         ::testing::Values(AllScheds()[0], AllScheds()[1], AllScheds()[3]), SchedName());

std::vector<double> Reference(const Nd &x, const std::vector<double> &e, const Nd *w) {
  size_t n = e.size() - 1;
  std::vector<double> c(n, 0.0);
  for (int64_t i = 0; i < x.size(); i++) {
    double v = x.v[i];
    for (size_t b = 0; b < n; b++) {
      bool in = v >= e[b] && (b + 1 == n ? v <= e[b + 1] : v < e[b + 1]);
      if (in) {
        c[b] += w != nullptr ? w->v[i] : 1.0;
        break;
      }
    }
  }
  return c;
}

TEST_P(ArrayHist, RandomUniformBinsMatchIntervals) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  for (int it = 0; it < 20; it++) {
    Scope sc;
    int nd = 1 + static_cast<int>(rng() % 3);
    Nd x;
    x.shape = RandShape(rng, nd, 2000);
    x.t = EveryDtype()[rng() % EveryDtype().size()];
    std::vector<int64_t> ch(nd);
    for (int d = 0; d < nd; d++) ch[d] = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(x.shape[d]));
    x.v.resize(static_cast<size_t>(x.size()));
    std::uniform_real_distribution<double> u(-3.0, 13.0);
    for (auto &v : x.v) {
      v = x.t == DTX_BOOL ? static_cast<double>(rng() % 2) : rng() % 3 == 0 ? std::floor(u(rng)) : u(rng);
      v = Fit(v, x.t);
      if (std::string(dtx_dtype_name(x.t))[0] == 'f' && rng() % 17 == 0)
        v = std::numeric_limits<double>::quiet_NaN();
    }
    int64_t nbins = 1 + static_cast<int64_t>(rng() % 12);
    double lo = static_cast<double>(rng() % 3), hi = lo + 0.7 * static_cast<double>(1 + rng() % 12);
    bool weighted = rng() % 3 == 0, density = rng() % 4 == 0;
    Nd w;
    w.shape = x.shape;
    w.t = DTX_F64;
    for (int64_t i = 0; i < x.size(); i++) w.v.push_back(static_cast<double>(rng() % 5) * 0.25);
    std::vector<int64_t> wch(nd, 1 + static_cast<int64_t>(rng() % 5));
    std::string what = "shape " + ShapeStr(x.shape) + " dtype " + dtx_dtype_name(x.t) + " bins " +
                       std::to_string(nbins) + " range " + std::to_string(lo) + ".." + std::to_string(hi);
    std::vector<double> edges(static_cast<size_t>(nbins + 1));
    dtx_array *h = dtx_histogram(Put(cl(), x, ch), nbins, lo, hi, weighted ? Put(cl(), w, wch) : nullptr,
                                 density, edges.data());
    ASSERT_NE(h, nullptr) << what << ": " << dtx_last_error();
    EXPECT_EQ(dtx_array_dtype(h), weighted || density ? DTX_F64 : DTX_I64) << what;
    for (int64_t i = 0; i <= nbins; i++)  // numpy.linspace's edges
      ASSERT_EQ(edges[i], i == nbins ? hi : static_cast<double>(i) * ((hi - lo) / nbins) + lo) << what;
    std::vector<double> want = Reference(x, edges, weighted ? &w : nullptr);
    if (density) {
      double tot = 0;
      for (double c : want) tot += c;
      for (size_t b = 0; b < want.size(); b++) want[b] /= tot * (edges[b + 1] - edges[b]);
    }
    Nd got = Get(h);
    ASSERT_EQ(got.shape, (std::vector<int64_t>{nbins})) << what;
    for (int64_t b = 0; b < nbins; b++) {
      if (std::isnan(want[b]))
        EXPECT_TRUE(std::isnan(got.v[b])) << what << " bin " << b;
      else
        EXPECT_NEAR(got.v[b], want[b], 1e-12 * std::max(1.0, std::fabs(want[b]))) << what << " bin " << b;
    }
  }
}

TEST_P(ArrayHist, ExplicitEdgesAndDegenerateRange) {
  Scope sc;
  std::vector<double> v = {0, 1, 1, 2, 2, 2, 3, 5, 5.5, 7, -1, 8};
  dtx_array *a =
      dtx_from_host(cl(), 1, (const int64_t[]){12}, (const int64_t[]){5}, DTX_F64, v.data(), DTX_HOST_COPY);
  const double e[] = {0, 1, 2, 2, 5, 7};
  std::vector<int64_t> got(5);
  ASSERT_EQ(dtx_array_compute(dtx_histogram_edges(a, e, 6, nullptr, 0), got.data(), 40), DTX_OK)
      << dtx_last_error();
  // [0,1): 0  [1,2): 1 1  [2,2): -  [2,5): 2 2 2 3  [5,7]: 5 5.5 7
  EXPECT_EQ(got, (std::vector<int64_t>{1, 2, 0, 4, 3}));
  std::vector<int64_t> one(3);
  double ed[4];
  ASSERT_EQ(dtx_array_compute(dtx_histogram(a, 3, 2.0, 2.0, nullptr, 0, ed), one.data(), 24), DTX_OK)
      << dtx_last_error();
  EXPECT_EQ(ed[0], 1.5);  // widened by 0.5 each way, as NumPy
  EXPECT_EQ(ed[3], 2.5);
  EXPECT_EQ(one, (std::vector<int64_t>{0, 3, 0}));
}

TEST_P(ArrayHist, BadInputIsRefused) {
  Scope sc;
  dtx_array *a = dtx_ones(cl(), 2, (const int64_t[]){3, 4}, nullptr, DTX_F64);
  EXPECT_EQ(dtx_histogram(a, 0, 0, 1, nullptr, 0, nullptr), nullptr);
  EXPECT_EQ(dtx_histogram(a, 3, 1, 0, nullptr, 0, nullptr), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("lo <= hi"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_histogram(a, 3, 0, std::numeric_limits<double>::infinity(), nullptr, 0, nullptr), nullptr);
  const double bad[] = {0, 2, 1};
  EXPECT_EQ(dtx_histogram_edges(a, bad, 3, nullptr, 0), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("must not decrease"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_histogram_edges(a, bad, 1, nullptr, 0), nullptr);
  dtx_array *w = dtx_ones(cl(), 2, (const int64_t[]){4, 3}, nullptr, DTX_F64);
  EXPECT_EQ(dtx_histogram(a, 3, 0, 1, w, 0, nullptr), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("weights must have a's shape"), std::string::npos);
  EXPECT_EQ(dtx_histogram(nullptr, 3, 0, 1, nullptr, 0, nullptr), nullptr);
}

}  // namespace
