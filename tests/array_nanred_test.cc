/*
 * tests/array_nanred_test.cc - the NaN-skipping reductions (dtx/stats.h)
 * against plain loops with NumPy's rules: random float32 / float64 arrays of
 * 1 to 3 dimensions with NaNs and lanes that are all NaN, every axis set,
 * keepdims and ddof, the argmin / argmax forms (-1 for an all-NaN lane),
 * integer arrays (the plain reductions), dtypes, and bad input. Runs under
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

class ArrayNan : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayNan,
                         ::testing::Values(AllScheds()[0], AllScheds()[1], AllScheds()[3]), SchedName());

/* NumPy's nan-reduction of the values of one lane (in order). */
double Lane(const std::vector<double> &v, dtx_reduction r, int ddof) {
  std::vector<double> k;
  for (double x : v)
    if (!std::isnan(x)) k.push_back(x);
  double nan = std::numeric_limits<double>::quiet_NaN();
  switch (r) {
    case DTX_SUM: {
      double s = 0;
      for (double x : k) s += x;
      return s;
    }
    case DTX_PROD: {
      double p = 1;
      for (double x : k) p *= x;
      return p;
    }
    case DTX_MIN:
    case DTX_MAX: {
      if (k.empty()) return nan;
      double m = k[0];
      for (double x : k) m = r == DTX_MIN ? std::min(m, x) : std::max(m, x);
      return m;
    }
    case DTX_ARGMIN:
    case DTX_ARGMAX: {
      int64_t best = -1;
      for (size_t i = 0; i < v.size(); i++) {
        if (std::isnan(v[i])) continue;
        if (best < 0 || (r == DTX_ARGMIN ? v[i] < v[best] : v[i] > v[best])) best = static_cast<int64_t>(i);
      }
      return static_cast<double>(best);
    }
    default: {
      if (k.empty()) return nan;
      double s = 0;
      for (double x : k) s += x;
      double m = s / static_cast<double>(k.size());
      if (r == DTX_MEAN) return m;
      double ss = 0;
      for (double x : k) ss += (x - m) * (x - m);
      double dof = static_cast<double>(k.size()) - ddof;
      if (dof <= 0) return nan;
      return r == DTX_VAR ? ss / dof : std::sqrt(ss / dof);
    }
  }
}

TEST_P(ArrayNan, RandomArraysAxesAndReductions) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  const dtx_reduction reds[] = {DTX_SUM, DTX_PROD, DTX_MEAN,   DTX_MIN,   DTX_MAX,
                                DTX_VAR, DTX_STD,  DTX_ARGMIN, DTX_ARGMAX};
  for (int it = 0; it < 40; it++) {
    Scope sc;
    int nd = 1 + static_cast<int>(rng() % 3);
    Nd x;
    x.shape = RandShape(rng, nd, 400);
    x.t = rng() % 2 ? DTX_F64 : DTX_F32;
    std::vector<int64_t> ch(nd);
    for (int d = 0; d < nd; d++) ch[d] = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(x.shape[d]));
    int nanlane = static_cast<int>(rng() % 3);  // 0: few NaN, 1: many, 2: a whole row of NaN
    std::uniform_real_distribution<double> u(0.5, 1.5);
    for (int64_t i = 0; i < x.size(); i++) {
      double v = static_cast<double>(static_cast<float>(u(rng)));
      if (rng() % (nanlane == 1 ? 2 : 9) == 0) v = std::numeric_limits<double>::quiet_NaN();
      if (nanlane == 2 && x.unflat(i)[0] == 0) v = std::numeric_limits<double>::quiet_NaN();
      x.v.push_back(v);
    }
    dtx_reduction r = reds[rng() % 9];
    bool arg = r == DTX_ARGMIN || r == DTX_ARGMAX;
    int axis = static_cast<int>(rng() % static_cast<uint64_t>(nd));
    dtx_reduce_opts o = DTX_REDUCE_OPTS_INIT;
    o.keepdims = static_cast<int>(rng() % 2);
    o.ddof = r == DTX_VAR || r == DTX_STD ? static_cast<int>(rng() % 3) : 0;
    std::string what = "shape " + ShapeStr(x.shape) + " chunks " + ShapeStr(ch) + " " + dtx_dtype_name(x.t) +
                       " r " + std::to_string(r) + " axis " + std::to_string(axis) + " keepdims " +
                       std::to_string(o.keepdims) + " ddof " + std::to_string(o.ddof);
    dtx_array *res = dtx_nanreduce(Put(cl(), x, ch), r, &axis, 1, &o);
    ASSERT_NE(res, nullptr) << what << ": " << dtx_last_error();
    dtx_dtype want_t = arg ? DTX_I64 : x.t;
    EXPECT_EQ(dtx_array_dtype(res), want_t) << what;
    Nd got = Get(res);
    std::vector<int64_t> st = x.strides();
    int64_t k = 0;
    for (int64_t i = 0; i < x.size(); i++) {
      if (x.unflat(i)[axis] != 0) continue;
      std::vector<double> lane;
      for (int64_t q = 0; q < x.shape[axis]; q++) lane.push_back(x.v[i + q * st[axis]]);
      double want = Lane(lane, r, o.ddof);
      double g = got.v[k++];
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(g)) << what << " lane " << k - 1 << " got " << g;
      } else {
        double tol = arg ? 0 : (x.t == DTX_F32 ? 2e-5 : 1e-12) * std::max(1.0, std::fabs(want));
        if (r == DTX_PROD) tol *= static_cast<double>(lane.size());
        ASSERT_NEAR(g, want, tol) << what << " lane " << k - 1;
      }
    }
    ASSERT_EQ(k, got.size()) << what;
  }
}

TEST_P(ArrayNan, IntegersArePlainAndAnyAllAreRefused) {
  Scope sc;
  std::vector<int32_t> v = {3, -1, 7, 2};
  dtx_array *a =
      dtx_from_host(cl(), 1, (const int64_t[]){4}, (const int64_t[]){3}, DTX_I32, v.data(), DTX_HOST_COPY);
  int64_t s = 0;
  ASSERT_EQ(dtx_array_compute(dtx_nansum(a, nullptr, 0), &s, sizeof s), DTX_OK) << dtx_last_error();
  EXPECT_EQ(s, 11);
  double m = 0;
  ASSERT_EQ(dtx_array_compute(dtx_nanmean(a, nullptr, 0), &m, sizeof m), DTX_OK) << dtx_last_error();
  EXPECT_EQ(m, 2.75);
  EXPECT_EQ(dtx_nanreduce(a, DTX_ANY, nullptr, 0, nullptr), nullptr);
  dtx_array *f = dtx_ones(cl(), 2, (const int64_t[]){2, 3}, nullptr, DTX_F64);
  EXPECT_EQ(dtx_nansum(f, (const int[]){2}, 1), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("out of range"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_nanmax(nullptr, nullptr, 0), nullptr);
}

}  // namespace
