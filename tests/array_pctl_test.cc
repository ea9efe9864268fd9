/*
 * tests/array_pctl_test.cc - dtx_percentile (dtx/stats.h): with one chunk
 * against NumPy's linear percentile (the textbook definition on the sorted
 * values); with several against a second implementation of dask.array's
 * merge_percentiles written here from its definition (q sorted first, which
 * Dask's merge assumes; q is given unsorted), and within the range
 * of the chunks' own percentiles; NaN in the data, empty chunks' arrays,
 * every dtype, and bad input. Runs under sync, threads and the cluster
 * scheduler on simulated GPUs. Seeds are printed.
 */
#include <gtest/gtest.h>

#include <algorithm>
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

class ArrayPctl : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayPctl,
                         ::testing::Values(AllScheds()[0], AllScheds()[1], AllScheds()[3]), SchedName());

double Linear(std::vector<double> x, double q) {
  std::sort(x.begin(), x.end());
  double h = static_cast<double>(x.size() - 1) * q / 100.0;
  size_t lo = static_cast<size_t>(std::floor(h)), hi = std::min(lo + 1, x.size() - 1);
  return x[lo] + (h - std::floor(h)) * (x[hi] - x[lo]);
}

/* dask.array.percentile's merge, from its definition */
double DaskMerge(const std::vector<std::vector<double>> &chunks, const std::vector<double> &cq, double q) {
  std::vector<std::pair<double, double>> vc;
  double total = 0;
  for (const auto &c : chunks) {
    double n = static_cast<double>(c.size());
    total += n;
    for (size_t k = 0; k < cq.size(); k++)
      vc.push_back({Linear(c, cq[k]), (k ? cq[k] - cq[k - 1] : cq[0]) * n});
  }
  std::stable_sort(vc.begin(), vc.end(), [](auto &a, auto &b) { return a.first < b.first; });
  std::vector<double> xp, fp;
  double acc = 0;
  for (auto &p : vc) {
    acc += p.second;
    xp.push_back(acc);
    fp.push_back(p.first);
  }
  double x = q * total;
  if (x < xp[0]) return fp[0];
  if (x >= xp.back()) return fp.back();
  size_t j = std::upper_bound(xp.begin(), xp.end(), x) - xp.begin() - 1;
  if (xp[j] == x) return fp[j];
  return (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]) * (x - xp[j]) + fp[j];
}

TEST_P(ArrayPctl, OneChunkIsNumpysAndSeveralAreDasks) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  for (int it = 0; it < 20; it++) {
    Scope sc;
    Nd x;
    x.shape = {1 + static_cast<int64_t>(rng() % 700)};
    x.t = EveryDtype()[rng() % EveryDtype().size()];
    std::normal_distribution<double> nd(3.0, 10.0);
    for (int64_t i = 0; i < x.shape[0]; i++) {
      double v = x.t == DTX_BOOL ? static_cast<double>(rng() % 2) : nd(rng);
      v = Fit(v, x.t);
      x.v.push_back(v);
    }
    std::vector<double> q = {0, 100, 50, static_cast<double>(rng() % 1001) / 10.0, 12.5};
    int64_t chunk = it % 2 ? x.shape[0] : 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(x.shape[0]));
    std::string what = "n " + std::to_string(x.shape[0]) + " chunk " + std::to_string(chunk) + " dtype " +
                       dtx_dtype_name(x.t);
    dtx_array *r = dtx_percentile(Put(cl(), x, {chunk}), q.data(), static_cast<int64_t>(q.size()));
    ASSERT_NE(r, nullptr) << what << ": " << dtx_last_error();
    EXPECT_EQ(dtx_array_dtype(r), DTX_F64);
    Nd got = Get(r);
    std::vector<std::vector<double>> chunks;
    for (int64_t s = 0; s < x.shape[0]; s += chunk)
      chunks.emplace_back(x.v.begin() + s, x.v.begin() + std::min(s + chunk, x.shape[0]));
    std::vector<double> cq = {0};  // Dask's calc_q, with q sorted
    cq.insert(cq.end(), q.begin(), q.end());
    std::sort(cq.begin() + 1, cq.end());
    cq.push_back(100);
    for (size_t k = 0; k < q.size(); k++) {
      double want = chunks.size() == 1 ? Linear(x.v, q[k]) : DaskMerge(chunks, cq, q[k]);
      EXPECT_NEAR(got.v[k], want, 1e-9 * std::max(1.0, std::fabs(want))) << what << " q " << q[k];
      double lo = *std::min_element(x.v.begin(), x.v.end()), hi = *std::max_element(x.v.begin(), x.v.end());
      EXPECT_GE(got.v[k], lo) << what;
      EXPECT_LE(got.v[k], hi) << what;
    }
  }
}

TEST_P(ArrayPctl, NanGivesNanAndErrors) {
  Scope sc;
  std::vector<double> v = {1, 2, std::numeric_limits<double>::quiet_NaN(), 4};
  dtx_array *a =
      dtx_from_host(cl(), 1, (const int64_t[]){4}, (const int64_t[]){2}, DTX_F64, v.data(), DTX_HOST_COPY);
  double q[2] = {10, 90}, got[2];
  ASSERT_EQ(dtx_array_compute(dtx_percentile(a, q, 2), got, sizeof got), DTX_OK) << dtx_last_error();
  EXPECT_TRUE(std::isnan(got[0]) && std::isnan(got[1]));
  double bad = 101;
  EXPECT_EQ(dtx_percentile(a, &bad, 1), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("outside [0, 100]"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_percentile(a, q, 0), nullptr);
  dtx_array *m = dtx_ones(cl(), 2, (const int64_t[]){3, 4}, nullptr, DTX_F64);
  EXPECT_EQ(dtx_percentile(m, q, 2), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("1-d"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_percentile(nullptr, q, 2), nullptr);
}

}  // namespace
