/*
 * tests/array_topk_test.cc - dtx_topk and dtx_argtopk (dtx/sort.h) against a
 * stable sort of each lane (NaN largest, ties to the smaller index): random
 * arrays of 1 to 3 dimensions, every axis, k positive and negative up to the
 * axis length, one chunk and many along the axis (one merge level and
 * several), every dtype, NaNs, and bad input. Runs under sync, threads and
 * the cluster scheduler on simulated GPUs. Seeds are printed.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <random>

#include "array_util.h"
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

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayTopk,
                         ::testing::Values(AllScheds()[0], AllScheds()[1], AllScheds()[3]), SchedName());

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

}  // namespace
