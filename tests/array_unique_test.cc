/*
 * tests/array_unique_test.cc - dtx_unique (dtx/index.h) against std::sort +
 * std::unique: random arrays of 0 to 3 dimensions, every dtype, ragged
 * chunks from one to many (one merge level and several), few and many
 * repeats, NaN (collapsed into one, last, as NumPy 2), -0.0 beside 0.0,
 * empty arrays, and what accepts the result. Runs under sync, threads and
 * the cluster scheduler on simulated GPUs. Seeds are printed.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>

#include "array_util.h"
#include "dtx/index.h"

using namespace dtxa_test;

namespace {

class ArrayUnique : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayUnique,
                         ::testing::Values(AllScheds()[0], AllScheds()[1], AllScheds()[3]), SchedName());

Nd Reference(const Nd &x) {
  Nd r;
  r.t = x.t;
  std::vector<double> v;
  bool nan = false;
  for (double e : x.v) {
    if (std::isnan(e))
      nan = true;
    else
      v.push_back(e);
  }
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  if (nan) v.push_back(std::numeric_limits<double>::quiet_NaN());
  r.v = v;
  r.shape = {static_cast<int64_t>(v.size())};
  return r;
}

Nd GetAlloc(const dtx_array *a) {
  Nd r;
  void *buf = nullptr;
  int64_t n = -1;
  dtx_status rc = dtx_array_compute_alloc(a, dtx_array_dtype(a), &buf, &n);
  if (rc != DTX_OK) {
    ADD_FAILURE() << "compute_alloc: " << dtx_status_name(rc) << ": " << dtx_last_error();
    return r;
  }
  r.t = dtx_array_dtype(a);
  r.shape = {n};
  for (int64_t i = 0; i < n; i++) r.v.push_back(Read(buf, r.t, i));
  std::free(buf);
  return r;
}

TEST_P(ArrayUnique, RandomArraysEveryDtype) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  for (int it = 0; it < 48; it++) {
    Scope sc;
    int nd = static_cast<int>(rng() % 4);
    dtx_dtype t = EveryDtype()[static_cast<size_t>(it) % EveryDtype().size()];
    Nd x = RandNd(rng, RandShape(rng, nd, 600), t);
    bool isfloat = t == DTX_F16 || t == DTX_F32 || t == DTX_F64;
    for (auto &v : x.v) {
      if (it % 3 == 0 && !isfloat) v = std::fmod(v, 3.0); /* many repeats */
      if (isfloat && rng() % 7 == 0) v = std::numeric_limits<double>::quiet_NaN();
      if (isfloat && rng() % 11 == 0) v = rng() % 2 ? 0.0 : -0.0;
      if (isfloat && it % 4 == 0) v = std::round(v); /* repeats */
    }
    std::vector<int64_t> ch = RandChunks(rng, x.shape);
    dtx_array *a = Put(cl(), x, ch);
    dtx_array *u = dtx_unique(a);
    ASSERT_NE(u, nullptr) << dtx_last_error();
    EXPECT_EQ(dtx_array_dtype(u), t);
    EXPECT_EQ(dtx_array_dim(u, 0), -1);
    EXPECT_EQ(dtx_array_shape_known(u), 0);
    ASSERT_TRUE(SameNd(GetAlloc(u), Reference(x), 0))
        << "it " << it << " shape " << ShapeStr(x.shape) << " chunks " << ShapeStr(ch) << " dtype "
        << dtx_dtype_name(t);
  }
}

TEST_P(ArrayUnique, ManyChunksSeveralMergeLevels) {
  Scope sc;
  std::mt19937_64 rng(7);
  Nd x = RandNd(rng, {5000}, DTX_I64);
  for (auto &v : x.v) v = static_cast<double>(rng() % 1500) - 700;
  dtx_array *u = dtx_unique(Put(cl(), x, {37})); /* 136 chunks: 3 merge levels */
  ASSERT_NE(u, nullptr);
  ASSERT_TRUE(SameNd(GetAlloc(u), Reference(x), 0));
  /* the result in elementwise operations and reductions */
  int64_t n = 0;
  ASSERT_EQ(dtx_array_compute(dtx_sum(dtx_astype(dtx_binary_scalar(DTX_EQ, u, 0), DTX_I64), nullptr, 0), &n,
                              sizeof n),
            DTX_OK)
      << dtx_last_error();
  EXPECT_EQ(n, 1);
}

TEST_P(ArrayUnique, NaNsCollapseAndEmptyArrays) {
  Scope sc;
  double nan = std::numeric_limits<double>::quiet_NaN();
  Nd x;
  x.shape = {7};
  x.t = DTX_F32;
  x.v = {nan, 1, nan, -0.0, 0.0, 1, nan};
  Nd got = GetAlloc(dtx_unique(Put(cl(), x, {2})));
  ASSERT_EQ(got.shape, std::vector<int64_t>{3});
  EXPECT_EQ(got.v[0], 0.0);
  EXPECT_EQ(got.v[1], 1.0);
  EXPECT_TRUE(std::isnan(got.v[2]));
  int64_t zero[2] = {0, 4}, ch[2] = {2, 2};
  dtx_array *e = dtx_unique(dtx_zeros(cl(), 2, zero, ch, DTX_U16));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(dtx_array_dim(e, 0), 0); /* known: nothing to make unique */
  EXPECT_EQ(dtx_array_dtype(e), DTX_U16);
  EXPECT_EQ(GetAlloc(e).v.size(), 0u);
  EXPECT_EQ(dtx_unique(nullptr), nullptr);
}

}  // namespace
