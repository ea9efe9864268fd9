/*
 * tests/array_unique_test.cc - dtx_unique (dtx/index.h) against std::sort +
 * std::unique: random arrays of 0 to 3 dimensions, every dtype, ragged
 * chunks from one to many (one merge level and several), few and many
 * repeats, NaN (collapsed into one, last, as NumPy 2), -0.0 beside 0.0,
 * empty arrays, and what accepts the result; dtx_unique_all (index, inverse,
 * counts) against a std::map over the flattened array, of known arrays and
 * of mask selections (unknown length). Runs under sync, threads and
 * the cluster scheduler on simulated GPUs. Seeds are printed.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
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

/* numpy.unique(x, return_index, return_inverse, return_counts) by a std::map
 * in flat order: -0.0 and 0.0 one key (the first occurring kept), NaNs one key, last. */
struct All {
  Nd values, index, inverse, counts;
};

All ReferenceAll(const Nd &x) {
  std::map<double, std::pair<int64_t, int64_t>> seen; /* value -> first index, count */
  std::map<double, double> firstval;
  int64_t nan_first = -1, nan_count = 0;
  for (int64_t i = 0; i < x.size(); i++) {
    double e = x.v[static_cast<size_t>(i)];
    if (std::isnan(e)) {
      if (nan_first < 0) nan_first = i;
      nan_count++;
      continue;
    }
    auto it = seen.find(e);
    if (it == seen.end()) {
      seen[e] = {i, 1};
      firstval[e] = e;
    } else {
      it->second.second++;
    }
  }
  All r;
  r.values.t = x.t;
  r.index.t = r.inverse.t = r.counts.t = DTX_I64;
  for (auto &kv : seen) {
    r.values.v.push_back(firstval[kv.first]);
    r.index.v.push_back(static_cast<double>(kv.second.first));
    r.counts.v.push_back(static_cast<double>(kv.second.second));
  }
  if (nan_count > 0) {
    r.values.v.push_back(std::numeric_limits<double>::quiet_NaN());
    r.index.v.push_back(static_cast<double>(nan_first));
    r.counts.v.push_back(static_cast<double>(nan_count));
  }
  int64_t n = static_cast<int64_t>(r.values.v.size());
  r.values.shape = r.index.shape = r.counts.shape = {n};
  r.inverse.shape = x.shape;
  for (double e : x.v) {
    int64_t k = std::isnan(e) ? n - 1 : static_cast<int64_t>(std::distance(seen.begin(), seen.find(e)));
    r.inverse.v.push_back(static_cast<double>(k));
  }
  return r;
}

/* Same values, with 0.0 and -0.0 told apart (the first occurring is kept). */
::testing::AssertionResult SameSigns(const Nd &got, const Nd &want) {
  if (got.v.size() != want.v.size()) return ::testing::AssertionFailure() << "lengths differ";
  for (size_t i = 0; i < got.v.size(); i++)
    if (got.v[i] == 0 && want.v[i] == 0 && std::signbit(got.v[i]) != std::signbit(want.v[i]))
      return ::testing::AssertionFailure() << "element " << i << ": " << got.v[i] << " for " << want.v[i];
  return ::testing::AssertionSuccess();
}

void CheckAll(const dtx_array *a, const Nd &x, const std::string &what) {
  dtx_array *v = nullptr, *ix = nullptr, *inv = nullptr, *c = nullptr;
  ASSERT_EQ(dtx_unique_all(a, &v, &ix, &inv, &c), DTX_OK) << dtx_last_error();
  All want = ReferenceAll(x);
  EXPECT_EQ(dtx_array_dtype(v), x.t);
  EXPECT_EQ(dtx_array_dtype(ix), DTX_I64);
  EXPECT_EQ(dtx_array_dtype(inv), DTX_I64);
  EXPECT_EQ(dtx_array_dtype(c), DTX_I64);
  Nd gv = GetAlloc(v);
  ASSERT_TRUE(SameNd(gv, want.values, 0)) << what;
  if (x.t == DTX_F16 || x.t == DTX_F32 || x.t == DTX_F64) {
    EXPECT_TRUE(SameSigns(gv, want.values)) << what;
  }
  ASSERT_TRUE(SameNd(GetAlloc(ix), want.index, 0)) << what;
  ASSERT_TRUE(SameNd(GetAlloc(c), want.counts, 0)) << what;
  if (dtx_array_shape_known(a)) {
    ASSERT_EQ(Shape(inv), x.shape) << what;
    for (int d = 0; d < dtx_array_ndim(a); d++) EXPECT_EQ(dtx_array_chunk(inv, d), dtx_array_chunk(a, d));
    ASSERT_TRUE(SameNd(Get(inv), want.inverse, 0)) << what;
  } else {
    EXPECT_EQ(dtx_array_shape_known(inv), 0);
    ASSERT_TRUE(SameNd(GetAlloc(inv), want.inverse, 0)) << what;
  }
}

TEST_P(ArrayUnique, AllRandomArraysEveryDtype) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  for (int it = 0; it < 36; it++) {
    Scope sc;
    int nd = static_cast<int>(rng() % 4);
    dtx_dtype t = EveryDtype()[static_cast<size_t>(it) % EveryDtype().size()];
    Nd x = RandNd(rng, RandShape(rng, nd, 500), t);
    bool isfloat = t == DTX_F16 || t == DTX_F32 || t == DTX_F64;
    for (auto &v : x.v) {
      if (it % 3 == 0 && !isfloat) v = std::fmod(v, 3.0);
      if (isfloat && rng() % 7 == 0) v = std::numeric_limits<double>::quiet_NaN();
      if (isfloat && rng() % 9 == 0) v = rng() % 2 ? 0.0 : -0.0;
      if (isfloat && it % 2 == 0) v = std::round(v);
    }
    std::vector<int64_t> ch = RandChunks(rng, x.shape);
    CheckAll(Put(cl(), x, ch), x,
             "it " + std::to_string(it) + " shape " + ShapeStr(x.shape) + " chunks " + ShapeStr(ch) +
                 " dtype " + dtx_dtype_name(t));
  }
}

TEST_P(ArrayUnique, AllOfMaskSelections) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  for (int it = 0; it < 12; it++) {
    Scope sc;
    dtx_dtype t = EveryDtype()[static_cast<size_t>(it * 5) % EveryDtype().size()];
    Nd x = RandNd(rng, RandShape(rng, 1 + static_cast<int>(rng() % 2), 300), t);
    for (auto &v : x.v)
      if (t != DTX_BOOL) v = std::fmod(v, 5.0);
    Nd m;
    m.t = DTX_BOOL;
    m.shape = x.shape;
    Nd sel;
    sel.t = t;
    for (int64_t i = 0; i < x.size(); i++) {
      bool keep = it % 4 == 3 ? false : rng() % 3 != 0; /* every 4th: nothing selected */
      m.v.push_back(keep);
      if (keep) sel.v.push_back(x.v[static_cast<size_t>(i)]);
    }
    sel.shape = {static_cast<int64_t>(sel.v.size())};
    std::vector<int64_t> ch = RandChunks(rng, x.shape);
    dtx_array *s = dtx_mask_select(Put(cl(), x, ch), Put(cl(), m, ch));
    ASSERT_NE(s, nullptr) << dtx_last_error();
    CheckAll(s, sel, "it " + std::to_string(it) + " shape " + ShapeStr(x.shape) + " chunks " + ShapeStr(ch));
    ASSERT_TRUE(SameNd(GetAlloc(dtx_unique(s)), Reference(sel), 0));
  }
}

TEST_P(ArrayUnique, AllManyChunksZeroDAndEmpty) {
  Scope sc;
  std::mt19937_64 rng(11);
  Nd x = RandNd(rng, {60, 70}, DTX_I16);
  for (auto &v : x.v) v = static_cast<double>(rng() % 900) - 450;
  CheckAll(Put(cl(), x, {7, 3}), x, "9x24 chunks: 3 merge levels");
  Nd z;
  z.t = DTX_F64;
  z.v = {2.5};
  CheckAll(Put(cl(), z, {}), z, "0-d");
  int64_t shape[2] = {3, 0}, ch[2] = {2, 1};
  dtx_array *v = nullptr, *ix = nullptr, *inv = nullptr, *c = nullptr;
  ASSERT_EQ(dtx_unique_all(dtx_zeros(cl(), 2, shape, ch, DTX_F16), &v, &ix, &inv, &c), DTX_OK);
  EXPECT_EQ(dtx_array_dim(v, 0), 0);
  EXPECT_EQ(dtx_array_dtype(v), DTX_F16);
  EXPECT_EQ(dtx_array_dim(ix, 0), 0);
  EXPECT_EQ(dtx_array_dim(c, 0), 0);
  EXPECT_EQ(Shape(inv), (std::vector<int64_t>{3, 0}));
  /* what is not asked for is not written; values and counts in one expression */
  dtx_array *a = Put(cl(), x, {16, 16});
  v = c = nullptr;
  ASSERT_EQ(dtx_unique_all(a, nullptr, nullptr, nullptr, &c), DTX_OK);
  ASSERT_EQ(dtx_unique_all(a, &v, nullptr, nullptr, nullptr), DTX_OK);
  int64_t total = 0;
  ASSERT_EQ(dtx_array_compute(dtx_sum(c, nullptr, 0), &total, sizeof total), DTX_OK) << dtx_last_error();
  EXPECT_EQ(total, 60 * 70);
  dtx_array *c2 = nullptr, *v2 = nullptr;
  ASSERT_EQ(dtx_unique_all(a, &v2, nullptr, nullptr, &c2), DTX_OK);
  double dot = 0, want = 0;
  All ref = ReferenceAll(x);
  for (size_t i = 0; i < ref.values.v.size(); i++) want += ref.values.v[i] * ref.counts.v[i];
  ASSERT_EQ(dtx_array_compute(dtx_sum(dtx_mul(dtx_astype(v2, DTX_F64), dtx_astype(c2, DTX_F64)), nullptr, 0),
                              &dot, sizeof dot),
            DTX_OK)
      << dtx_last_error();
  EXPECT_EQ(dot, want);
  /* values[inverse] is a */
  dtx_array *inv2 = nullptr;
  ASSERT_EQ(dtx_unique_all(a, nullptr, nullptr, &inv2, nullptr), DTX_OK);
  Nd gi = Get(inv2), gv = GetAlloc(v);
  ASSERT_EQ(gi.v.size(), x.v.size());
  for (size_t j = 0; j < gi.v.size(); j++) ASSERT_EQ(gv.v[static_cast<size_t>(gi.v[j])], x.v[j]) << j;
  /* errors */
  EXPECT_EQ(dtx_unique_all(nullptr, &v, nullptr, nullptr, nullptr), DTX_EINVAL);
  dtx_array *sel = dtx_mask_select(a, dtx_binary_scalar(DTX_GT, a, 0));
  EXPECT_EQ(dtx_unique_all(dtx_binary_scalar(DTX_MUL, sel, 2), &v, nullptr, &inv, nullptr), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("dtx_array_compute_chunk_sizes"), std::string::npos);
}

}  // namespace
