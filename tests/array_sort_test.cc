/*
 * tests/array_sort_test.cc - dtx_sort (dtx/sort.h) and the CPU lane sort
 * (kernels/sort.c) against std::sort with NumPy's order (NaN last): lanes
 * short and long (insertion and radix paths), every dtype, extremes (inf,
 * -inf, subnormals, -0.0, INT_MIN / INT_MAX, NaNs with payloads and signs),
 * bit-identical values out; random arrays of 1 to 4 dimensions sorted along
 * every axis with ragged chunks, the rechunk of a split axis, and bad input.
 * Runs under sync, threads and the cluster scheduler on simulated GPUs.
 * Seeds are printed.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>

#include "array_util.h"
#include "dtx/scan.h"
#include "dtx/sort.h"
#include "kernels/sort.h"

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

/* NumPy's order: NaN after everything; returns the sorted copy. */
template <typename T>
std::vector<T> Sorted(std::vector<T> v) {
  std::stable_sort(v.begin(), v.end(), [](T a, T b) {
    if (a != a) return false;
    if (b != b) return true;
    return a < b;
  });
  return v;
}

/* Equal as NumPy would show them: NaN equals NaN, -0.0 equals 0.0. */
template <typename T>
void ExpectSame(const std::vector<T> &got, const std::vector<T> &want, const std::string &what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); i++) {
    if (want[i] != want[i]) {
      ASSERT_TRUE(got[i] != got[i]) << what << " at " << i;
    } else {
      ASSERT_EQ(got[i], want[i]) << what << " at " << i;
    }
  }
}

template <typename T>
std::vector<T> RandLane(std::mt19937_64 &rng, size_t n, bool specials) {
  std::vector<T> v(n);
  std::uniform_int_distribution<int> small(-50, 50);
  for (auto &x : v) x = static_cast<T>(small(rng));
  if (std::is_floating_point<T>::value) {
    std::normal_distribution<double> nd(0.0, 1e3);
    for (auto &x : v)
      if (rng() % 2) x = static_cast<T>(nd(rng));
  }
  if (specials && n > 8) {
    const T lows[] = {std::numeric_limits<T>::lowest(), std::numeric_limits<T>::max(), T(0)};
    for (T s : lows) v[rng() % n] = s;
    if (std::is_floating_point<T>::value) {
      v[rng() % n] = std::numeric_limits<T>::infinity();
      v[rng() % n] = -std::numeric_limits<T>::infinity();
      v[rng() % n] = -T(0);
      v[rng() % n] = std::numeric_limits<T>::denorm_min();
      v[rng() % n] = -std::numeric_limits<T>::quiet_NaN();
      v[rng() % n] = std::numeric_limits<T>::quiet_NaN();
    }
  }
  return v;
}

template <typename T>
void LaneCase(int dtype, std::mt19937_64 &rng) {
  for (size_t n :
       {size_t(0), size_t(1), size_t(2), size_t(7), size_t(48), size_t(49), size_t(500), size_t(5000)}) {
    std::vector<T> v = RandLane<T>(rng, n, true);
    std::vector<T> want = Sorted(v), got = v;
    ASSERT_EQ(dtxk_sort_lane(dtype, got.data(), static_cast<int64_t>(n), nullptr), 0);
    ExpectSame(got, want, "lane of " + std::to_string(n) + " dtype " + std::to_string(dtype));
    // the same multiset of bit patterns comes out (payloads and signs kept)
    std::vector<T> a = v, b = got;
    auto bits_less = [](T x, T y) { return std::memcmp(&x, &y, sizeof(T)) < 0; };
    std::sort(a.begin(), a.end(), bits_less);
    std::sort(b.begin(), b.end(), bits_less);
    ASSERT_TRUE(n == 0 || std::memcmp(a.data(), b.data(), n * sizeof(T)) == 0) << "bits changed, n " << n;
  }
}

TEST(SortLane, EveryDtypeShortAndLongWithSpecials) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  LaneCase<int32_t>(DTX_I32, rng);
  LaneCase<int64_t>(DTX_I64, rng);
  LaneCase<float>(DTX_F32, rng);
  LaneCase<double>(DTX_F64, rng);
  std::vector<uint8_t> b = {1, 0, 1, 1, 0, 0, 1};
  ASSERT_EQ(dtxk_sort_lane(DTX_BOOL, b.data(), 7, nullptr), 0);
  EXPECT_EQ(b, (std::vector<uint8_t>{0, 0, 0, 1, 1, 1, 1}));
}

/* Lanes dense in the values a vectorised sort gets wrong: zeros of both
 * signs, infinities, NaNs with distinct payloads. Every -0.0 comes before
 * every 0.0, the NaNs come last in their input order, and the bits are the
 * input's (a permutation). */
template <typename T, typename U>
void SpecialsCase(int dtype, std::mt19937_64 &rng) {
  for (size_t n : {size_t(49), size_t(300), size_t(4096)}) {
    std::vector<T> v(n);
    std::vector<U> nan_bits;
    for (size_t i = 0; i < n; i++) {
      switch (rng() % 6) {
        case 0:
          v[i] = -T(0);
          break;
        case 1:
          v[i] = T(0);
          break;
        case 2:
          v[i] = std::numeric_limits<T>::infinity() * (rng() % 2 ? 1 : -1);
          break;
        case 3: {
          U b;
          T q = std::numeric_limits<T>::quiet_NaN();
          std::memcpy(&b, &q, sizeof b);
          b |= static_cast<U>(i + 1); /* a payload */
          if (rng() % 2) b |= static_cast<U>(U(1) << (8 * sizeof(U) - 1));
          std::memcpy(&v[i], &b, sizeof b);
          nan_bits.push_back(b);
          break;
        }
        default:
          v[i] = static_cast<T>(static_cast<int>(rng() % 7) - 3);
      }
    }
    std::vector<T> got = v;
    ASSERT_EQ(dtxk_sort_lane(dtype, got.data(), static_cast<int64_t>(n), nullptr), 0);
    ExpectSame(got, Sorted(v), "specials lane of " + std::to_string(n));
    size_t k = n - nan_bits.size();
    for (size_t i = 0; i < nan_bits.size(); i++) {
      U b;
      std::memcpy(&b, &got[k + i], sizeof b);
      ASSERT_EQ(b, nan_bits[i]) << "NaN " << i << " of " << nan_bits.size() << ", n " << n;
    }
    bool pos_zero_seen = false;
    for (size_t i = 0; i < k; i++)
      if (got[i] == 0) {
        if (!std::signbit(got[i])) pos_zero_seen = true;
        ASSERT_FALSE(pos_zero_seen && std::signbit(got[i])) << "-0.0 after 0.0 at " << i << ", n " << n;
      }
    std::vector<T> a = v, b = got;
    auto bits_less = [](T x, T y) { return std::memcmp(&x, &y, sizeof(T)) < 0; };
    std::sort(a.begin(), a.end(), bits_less);
    std::sort(b.begin(), b.end(), bits_less);
    ASSERT_EQ(std::memcmp(a.data(), b.data(), n * sizeof(T)), 0) << "bits changed, n " << n;
  }
}

TEST(SortLane, ZerosInfinitiesAndNanPayloads) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  SpecialsCase<float, uint32_t>(DTX_F32, rng);
  SpecialsCase<double, uint64_t>(DTX_F64, rng);
}

class ArraySort : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArraySort,
                         ::testing::Values(AllScheds()[0], AllScheds()[1], AllScheds()[3]), SchedName());

/* x sorted along axis with std::sort (values as doubles: exact for the dtypes used). */
Nd Reference(const Nd &x, int axis) {
  Nd r = x;
  std::vector<int64_t> st = x.strides();
  for (int64_t i = 0; i < x.size(); i++) {
    std::vector<int64_t> m = x.unflat(i);
    if (m[axis] != 0) continue;
    std::vector<double> lane;
    for (int64_t k = 0; k < x.shape[axis]; k++) lane.push_back(x.v[i + k * st[axis]]);
    lane = Sorted(lane);
    for (int64_t k = 0; k < x.shape[axis]; k++) r.v[i + k * st[axis]] = lane[k];
  }
  return r;
}

TEST_P(ArraySort, RandomShapesAxesChunksAndDtypes) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  for (int it = 0; it < 20; it++) {
    Scope sc;
    int nd = 1 + static_cast<int>(rng() % 4);
    Nd x;
    x.shape = RandShape(rng, nd, 800);
    x.t = EveryDtype()[rng() % EveryDtype().size()];
    std::vector<int64_t> ch(nd);
    for (int d = 0; d < nd; d++) ch[d] = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(x.shape[d]));
    x.v.resize(static_cast<size_t>(x.size()));
    for (auto &v : x.v) v = Fit(static_cast<double>(rng() % 201) - 100, x.t);
    if (x.t == DTX_U64)  // above 2**63 too (multiples of 2**11: exact in double)
      for (auto &v : x.v)
        if (rng() % 5 == 0) v = 18446744073709549568.0 - v * 2048.0;
    if (std::string(dtx_dtype_name(x.t))[0] == 'f')
      for (auto &v : x.v)
        if (rng() % 10 == 0) v = std::numeric_limits<double>::quiet_NaN();
    int axis = static_cast<int>(rng() % static_cast<uint64_t>(nd));
    std::string what = "shape " + ShapeStr(x.shape) + " chunks " + ShapeStr(ch) + " dtype " +
                       dtx_dtype_name(x.t) + " axis " + std::to_string(axis);
    dtx_array *r = dtx_sort(Put(cl(), x, ch), axis - (rng() % 2 ? nd : 0));
    ASSERT_NE(r, nullptr) << dtx_last_error();
    EXPECT_EQ(dtx_array_dtype(r), x.t) << what;
    EXPECT_EQ(dtx_array_numblocks(r, axis), 1) << what;
    Nd got = Get(r), want = Reference(x, axis);
    ASSERT_EQ(got.shape, want.shape) << what;
    for (int64_t i = 0; i < want.size(); i++) {
      if (std::isnan(want.v[i]))
        ASSERT_TRUE(std::isnan(got.v[i])) << what << " at " << i;
      else
        ASSERT_EQ(got.v[i], want.v[i]) << what << " at " << i;
    }
  }
}

TEST_P(ArraySort, SplitAxisIsRechunkedKeepingChunkSize) {
  Scope sc;
  dtx_array *x =
      dtx_random_uniform(cl(), 2, (const int64_t[]){400, 300}, (const int64_t[]){100, 50}, DTX_F64, 3);
  dtx_array *r = dtx_sort(x, 1);
  ASSERT_NE(r, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_chunk(r, 1), 300);
  EXPECT_EQ(dtx_array_chunk(r, 0), 16);  // 100 * 50 / 300, rounded down
  Nd want = Reference(Get(x), 1);
  Nd got = Get(r);
  ASSERT_EQ(got.v, want.v);
  // sorting along axis 0 of (400, 300) chunked (100, 50): axis 0 whole
  dtx_array *c = dtx_sort(x, 0);
  ASSERT_NE(c, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_chunk(c, 0), 400);
  EXPECT_EQ(dtx_array_chunk(c, 1), 12);
  ASSERT_EQ(Get(c).v, Reference(Get(x), 0).v);
}

/* Host arrays (a caller's buffer, and views of it: transposed, stepped)
 * sorted along either axis: the sort tasks read their lanes in place, so
 * the graph holds sort tasks only (no rechunk, no loads), and the answers
 * are the reference's. Ragged chunks. */
TEST_P(ArraySort, HostOperandsAreReadInPlace) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  for (int it = 0; it < 12; it++) {
    Scope sc;
    Nd x;
    x.shape = {1 + static_cast<int64_t>(rng() % 90), 1 + static_cast<int64_t>(rng() % 90)};
    x.t = rng() % 2 ? DTX_F64 : DTX_F32;
    x.v.resize(static_cast<size_t>(x.size()));
    for (auto &v : x.v) v = Fit(static_cast<double>(rng() % 2001) - 1000, x.t) / 8;
    std::vector<int64_t> ch = {1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(x.shape[0])),
                               1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(x.shape[1]))};
    dtx_array *a = Put(cl(), x, ch);
    Nd want_x = x;
    int view = static_cast<int>(rng() % 3);
    if (view == 1) { /* a.T */
      a = dtx_transpose(a, nullptr);
      want_x.shape = {x.shape[1], x.shape[0]};
      for (int64_t i = 0; i < x.shape[0]; i++)
        for (int64_t j = 0; j < x.shape[1]; j++)
          want_x.v[static_cast<size_t>(j * x.shape[0] + i)] = x.v[static_cast<size_t>(i * x.shape[1] + j)];
    } else if (view == 2) { /* a[::2, ::-1] */
      dtx_index ix[2] = {{DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 2}, {DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, -1}};
      a = dtx_slice(a, 2, ix);
      want_x.shape = {(x.shape[0] + 1) / 2, x.shape[1]};
      want_x.v.clear();
      for (int64_t i = 0; i < x.shape[0]; i += 2)
        for (int64_t j = x.shape[1] - 1; j >= 0; j--)
          want_x.v.push_back(x.v[static_cast<size_t>(i * x.shape[1] + j)]);
    }
    int axis = static_cast<int>(rng() % 2);
    std::string what = "shape " + ShapeStr(x.shape) + " chunks " + ShapeStr(ch) + " view " +
                       std::to_string(view) + " axis " + std::to_string(axis);
    dtx_array *r = dtx_sort(a, axis);
    ASSERT_NE(r, nullptr) << dtx_last_error();
    Nd got = Get(r), want = Reference(want_x, axis);
    ASSERT_EQ(got.shape, want.shape) << what;
    ASSERT_EQ(got.v, want.v) << what;
    if (GetParam().gpus > 0) continue; /* GPU builds: one chunk per CUDA sort, as before */
    dtx_graph *g = nullptr;
    ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
    int64_t nb = dtx_array_numblocks(r, 0) * dtx_array_numblocks(r, 1);
    std::vector<dtx_task_id> ids(static_cast<size_t>(nb));
    ASSERT_EQ(dtx_array_graph(r, g, ids.data(), ids.size(), nullptr), DTX_OK) << dtx_last_error();
    for (size_t i = 0; i < dtx_graph_size(g); i++) {
      char key[DTX_MAX_KEY];
      ASSERT_EQ(dtx_graph_key(g, static_cast<dtx_task_id>(i), key, sizeof key), DTX_OK);
      EXPECT_EQ(std::string(key).find("sort-"), 0u) << what << ": task " << key;
    }
    EXPECT_EQ(dtx_graph_size(g), static_cast<size_t>(nb)) << what;
    dtx_graph_destroy(g);
  }
}

/* Tasks with outputs of 1 MiB and more in lanes of 4 KiB and more sort each
 * lane in scratch and stream it out (non-temporal stores): into the
 * caller's buffer, and into output chunks read by a later expression. */
TEST_P(ArraySort, LargeLanesAreStreamedOut) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  Scope sc;
  for (dtx_dtype t : {DTX_F64, DTX_F32}) {
    Nd x;
    x.shape = {260, 2048};
    x.t = t;
    x.v.resize(static_cast<size_t>(x.size()));
    for (auto &v : x.v) v = Fit(static_cast<double>(rng() % 100001) / 64 - 700, t);
    for (int k = 0; k < 50; k++) x.v[rng() % x.v.size()] = std::numeric_limits<double>::quiet_NaN();
    dtx_array *a = Put(cl(), x, {260, 1024}); /* rechunked to 130 x 2048: 1 MiB and more */
    Nd want = Reference(x, 1);
    dtx_array *r = dtx_sort(a, 1);
    ASSERT_NE(r, nullptr) << dtx_last_error();
    for (dtx_array *y : {r, dtx_add(r, dtx_zeros(cl(), 2, x.shape.data(), nullptr, t))}) {
      Nd got = Get(y);
      ASSERT_EQ(got.shape, want.shape);
      for (int64_t i = 0; i < want.size(); i++) {
        if (std::isnan(want.v[i]))
          ASSERT_TRUE(std::isnan(got.v[i])) << dtx_dtype_name(t) << " at " << i;
        else
          ASSERT_EQ(got.v[i], want.v[i]) << dtx_dtype_name(t) << " at " << i;
      }
    }
  }
}

/* Six dimensions: the task keys hold four indices, the leading chunk indices fold into the first. */
TEST_P(ArraySort, SixDimensions) {
  Scope sc;
  const int64_t shape[6] = {2, 3, 2, 2, 3, 5}, chunks[6] = {1, 2, 1, 1, 2, 5};
  dtx_array *x = dtx_random_uniform(cl(), 6, shape, chunks, DTX_F64, 4);
  dtx_array *r = dtx_sort(x, 5);
  ASSERT_NE(r, nullptr) << dtx_last_error();
  ASSERT_EQ(Get(r).v, Reference(Get(x), 5).v);
  dtx_array *c = dtx_cumsum(x, 1);
  ASSERT_NE(c, nullptr) << dtx_last_error();
  Nd got = Get(c), xs = Get(x);
  std::vector<int64_t> st = xs.strides();
  for (int64_t i = 0; i < xs.size(); i++) {
    std::vector<int64_t> m = xs.unflat(i);
    double want = 0;
    for (int64_t k = 0; k <= m[1]; k++) want += xs.v[i + (k - m[1]) * st[1]];
    ASSERT_NEAR(got.v[i], want, 1e-12) << i;
  }
}

TEST_P(ArraySort, BadInputIsRefused) {
  Scope sc;
  dtx_array *a = dtx_ones(cl(), 2, (const int64_t[]){3, 4}, nullptr, DTX_F64);
  EXPECT_EQ(dtx_sort(a, 2), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("axis 2 is out of range"), std::string::npos)
      << dtx_last_error();
  EXPECT_EQ(dtx_sort(dtx_scalar(cl(), 1.0), 0), nullptr);
  EXPECT_EQ(dtx_sort(nullptr, 0), nullptr);
}

}  // namespace
