/*
 * tests/array_take_test.cc - dtx_take and dtx_take_array (dtx/index.h)
 * against a plain loop: random arrays of 1 to 3 dimensions, every axis and
 * dtype, ragged chunks, random indices (negative, repeated, unsorted, none),
 * index arrays of several integer dtypes and chunkings, empty arrays, and
 * bad input (out-of-range indices named in the message); axis None
 * (DTX_NO_AXIS: the flattened array, 0-d too) with lists and index arrays of
 * any shape. Runs under sync,
 * threads and the cluster scheduler on simulated GPUs. Seeds are printed.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>

#include "array_util.h"
#include "dtx/index.h"

using namespace dtxa_test;

namespace {

class ArrayTake : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayTake,
                         ::testing::Values(AllScheds()[0], AllScheds()[1], AllScheds()[3]), SchedName());

/* x.take(idx, axis) by a loop. */
Nd Reference(const Nd &x, const std::vector<int64_t> &idx, int axis) {
  Nd r;
  r.shape = x.shape;
  r.shape[axis] = static_cast<int64_t>(idx.size());
  r.t = x.t;
  r.v.resize(static_cast<size_t>(r.size()));
  for (int64_t i = 0; i < r.size(); i++) {
    std::vector<int64_t> m = r.unflat(i);
    int64_t k = idx[m[axis]];
    m[axis] = k < 0 ? k + x.shape[axis] : k;
    r.v[i] = x.v[x.flat(m)];
  }
  return r;
}

std::vector<int64_t> RandIndices(std::mt19937_64 &rng, int64_t len, int64_t n) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (auto &i : idx) {
    i = static_cast<int64_t>(rng() % static_cast<uint64_t>(len));
    if (rng() % 3 == 0) i -= len; /* the same element, counted from the end */
  }
  return idx;
}

TEST_P(ArrayTake, RandomShapesAxesIndicesAndDtypes) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  for (int it = 0; it < 48; it++) {
    Scope sc;
    int nd = 1 + static_cast<int>(rng() % 3);
    dtx_dtype t = EveryDtype()[static_cast<size_t>(it) % EveryDtype().size()];
    Nd x = RandNd(rng, RandShape(rng, nd, 400), t);
    std::vector<int64_t> ch = RandChunks(rng, x.shape);
    int axis = static_cast<int>(rng() % static_cast<uint64_t>(nd));
    int64_t n = static_cast<int64_t>(rng() % 25);
    std::vector<int64_t> idx = RandIndices(rng, x.shape[axis], n);
    if (it % 5 == 0) std::sort(idx.begin(), idx.end());
    dtx_array *a = Put(cl(), x, ch);
    dtx_array *r = dtx_take(a, idx.data(), n, it % 2 ? axis - nd : axis);
    ASSERT_NE(r, nullptr) << dtx_last_error();
    EXPECT_EQ(dtx_array_dtype(r), t);
    if (n > 0) {
      EXPECT_EQ(dtx_array_chunk(r, axis), std::min<int64_t>(ch[axis], n));
    }
    ASSERT_TRUE(SameNd(Get(r), Reference(x, idx, axis), 0))
        << "it " << it << " shape " << ShapeStr(x.shape) << " chunks " << ShapeStr(ch) << " axis " << axis
        << " dtype " << dtx_dtype_name(t);
    /* the same through an index array of some integer dtype, in its own chunks */
    if (n == 0) continue;
    const dtx_dtype its[] = {DTX_I64, DTX_I32, DTX_I8, DTX_I16};
    dtx_dtype it_t = its[static_cast<size_t>(it) % 4];
    Nd ix;
    ix.shape = {n};
    ix.t = it_t;
    for (int64_t i : idx) ix.v.push_back(static_cast<double>(i));
    if (it_t == DTX_I8) /* int8 holds the small ones only */
      for (auto &v : ix.v) v = std::max(-128.0, std::min(127.0, v));
    std::vector<int64_t> want_idx;
    for (double v : ix.v) want_idx.push_back(static_cast<int64_t>(v));
    dtx_array *ia = Put(cl(), ix, {1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(n))});
    bool ok = true;
    for (int64_t i : want_idx) ok &= i >= -x.shape[axis] && i < x.shape[axis];
    if (!ok) continue;
    dtx_array *ra = dtx_take_array(a, ia, axis);
    ASSERT_NE(ra, nullptr) << dtx_last_error();
    ASSERT_TRUE(SameNd(Get(ra), Reference(x, want_idx, axis), 0)) << "take_array, it " << it;
  }
}

TEST_P(ArrayTake, TouchesOnlyTheChunksItsIndicesFallIn) {
  Scope sc;
  std::mt19937_64 rng(1);
  Nd x = RandNd(rng, {100}, DTX_F64);
  dtx_array *a = Put(cl(), x, {10});
  std::vector<int64_t> idx = {95, 3, 3, -1, 42, 0, 99, 15};
  dtx_array *r = dtx_take(a, idx.data(), static_cast<int64_t>(idx.size()), 0);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(dtx_array_chunk(r, 0), 8); /* a's chunk length, clamped to the 8 indices */
  ASSERT_TRUE(SameNd(Get(r), Reference(x, idx, 0), 0));
  /* repeated and unsorted across several output chunks */
  std::vector<int64_t> many;
  for (int i = 0; i < 37; i++) many.push_back((i * 53) % 100 - (i % 2 ? 100 : 0));
  dtx_array *m = dtx_take(a, many.data(), static_cast<int64_t>(many.size()), 0);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(dtx_array_numblocks(m, 0), 4);
  ASSERT_TRUE(SameNd(Get(m), Reference(x, many, 0), 0));
}

TEST_P(ArrayTake, EmptyIndicesAndEmptyArrays) {
  Scope sc;
  int64_t shape[2] = {5, 4}, chunks[2] = {2, 3};
  dtx_array *a = dtx_ones(cl(), 2, shape, chunks, DTX_I32);
  dtx_array *r = dtx_take(a, nullptr, 0, 1);
  ASSERT_NE(r, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dim(r, 0), 5);
  EXPECT_EQ(dtx_array_dim(r, 1), 0);
  EXPECT_EQ(dtx_array_compute(r, static_cast<int32_t *>(nullptr), 0), DTX_OK) << dtx_last_error();
  int64_t eshape[2] = {0, 3};
  dtx_array *e = dtx_zeros(cl(), 2, eshape, chunks, DTX_F32);
  int64_t one = 1;
  dtx_array *er = dtx_take(e, &one, 1, 1); /* empty along the other axis */
  ASSERT_NE(er, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dim(er, 0), 0);
  EXPECT_EQ(dtx_array_dim(er, 1), 1);
  EXPECT_EQ(dtx_take(e, &one, 1, 0), nullptr); /* nothing to take from */
  EXPECT_NE(std::string(dtx_last_error()).find("out of bounds for axis 0 with size 0"), std::string::npos);
}

TEST_P(ArrayTake, BadInput) {
  Scope sc;
  int64_t shape[2] = {10, 4}, chunks[2] = {3, 4};
  dtx_array *a = dtx_ones(cl(), 2, shape, chunks, DTX_F64);
  int64_t idx[3] = {0, 10, 2};
  EXPECT_EQ(dtx_take(a, idx, 3, 0), nullptr);
  EXPECT_NE(
      std::string(dtx_last_error()).find("index 10 (indices[1]) is out of bounds for axis 0 with size 10"),
      std::string::npos)
      << dtx_last_error();
  idx[1] = -11;
  EXPECT_EQ(dtx_take(a, idx, 3, 0), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("index -11"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_take(a, idx, 1, 2), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("axis 2 is out of range"), std::string::npos);
  EXPECT_EQ(dtx_take(a, nullptr, 2, 0), nullptr);
  EXPECT_EQ(dtx_take(nullptr, idx, 1, 0), nullptr);
  EXPECT_EQ(dtx_take(dtx_scalar(cl(), 1.0), idx, 1, 0), nullptr);
  /* index arrays: integer, 1-d; out of range fails the computation */
  int64_t four = 4, two = 2;
  dtx_array *fi = dtx_zeros(cl(), 1, &four, &two, DTX_F64);
  EXPECT_EQ(dtx_take_array(a, fi, 0), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("integer"), std::string::npos);
  EXPECT_EQ(dtx_take_array(a, dtx_astype(fi, DTX_BOOL), 0), nullptr);
  dtx_array *big = dtx_full(cl(), 1, &four, &two, DTX_I32, 12);
  dtx_array *r = dtx_take_array(a, big, 0);
  ASSERT_NE(r, nullptr);
  std::vector<double> buf(16);
  EXPECT_EQ(dtx_array_compute(r, buf.data(), buf.size() * sizeof(double)), DTX_ETASK);
  EXPECT_NE(std::string(dtx_last_error()).find("index 12 is out of bounds for axis 0 with size 10"),
            std::string::npos)
      << dtx_last_error();
}

/* np.take(x, idx) (axis None): the flattened x at each index, in idx's shape. */
Nd ReferenceFlat(const Nd &x, const std::vector<int64_t> &idx, const std::vector<int64_t> &shape) {
  Nd r;
  r.shape = shape;
  r.t = x.t;
  for (int64_t k : idx) r.v.push_back(x.v[static_cast<size_t>(k < 0 ? k + x.size() : k)]);
  return r;
}

TEST_P(ArrayTake, FlatRandomShapesIndicesAndDtypes) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  const dtx_dtype ixt[] = {DTX_I64, DTX_I32, DTX_U8, DTX_I16, DTX_U64};
  for (int it = 0; it < 40; it++) {
    Scope sc;
    dtx_dtype t = EveryDtype()[static_cast<size_t>(it) % EveryDtype().size()];
    Nd x = RandNd(rng, RandShape(rng, static_cast<int>(rng() % 4), 400), t);
    std::vector<int64_t> ch = RandChunks(rng, x.shape);
    dtx_array *a = Put(cl(), x, ch);
    std::string what = "it " + std::to_string(it) + " shape " + ShapeStr(x.shape) + " chunks " + ShapeStr(ch);
    /* a list */
    std::vector<int64_t> idx = RandIndices(rng, x.size(), static_cast<int64_t>(rng() % 30));
    dtx_array *r = dtx_take(a, idx.data(), static_cast<int64_t>(idx.size()), DTX_NO_AXIS);
    ASSERT_NE(r, nullptr) << dtx_last_error();
    ASSERT_TRUE(SameNd(Get(r), ReferenceFlat(x, idx, {static_cast<int64_t>(idx.size())}), 0)) << what;
    /* an index array of 0 to 2 dimensions */
    dtx_dtype it_t = ixt[it % 5];
    Nd ix = RandNd(rng, RandShape(rng, static_cast<int>(rng() % 3), 40), it_t);
    std::vector<int64_t> iv = RandIndices(rng, x.size(), ix.size());
    for (size_t k = 0; k < iv.size(); k++) {
      if (it_t == DTX_U8 || it_t == DTX_U64) iv[k] = iv[k] < 0 ? iv[k] + x.size() : iv[k];
      if (it_t == DTX_U8) iv[k] %= 256;
      if (it_t == DTX_U8 && iv[k] >= x.size()) iv[k] = 0;
      ix.v[k] = static_cast<double>(iv[k]);
    }
    std::vector<int64_t> ich = RandChunks(rng, ix.shape);
    dtx_array *ra = dtx_take_array(a, Put(cl(), ix, ich), DTX_NO_AXIS);
    ASSERT_NE(ra, nullptr) << dtx_last_error();
    EXPECT_EQ(Shape(ra), ix.shape);
    for (int d = 0; d < ix.ndim(); d++) EXPECT_EQ(dtx_array_chunk(ra, d), ich[static_cast<size_t>(d)]);
    ASSERT_TRUE(SameNd(Get(ra), ReferenceFlat(x, iv, ix.shape), 0))
        << what << " indices " << ShapeStr(ix.shape);
  }
}

TEST_P(ArrayTake, FlatChunksZeroDEmptyAndErrors) {
  Scope sc;
  std::mt19937_64 rng(3);
  Nd x = RandNd(rng, {9, 7}, DTX_F64);
  dtx_array *a = Put(cl(), x, {4, 3});
  std::vector<int64_t> idx = {62, 0, -1, -63, 31, 31, 8, 20, 55, 4, 13, 40, 7};
  dtx_array *r = dtx_take(a, idx.data(), static_cast<int64_t>(idx.size()), DTX_NO_AXIS);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(dtx_array_chunk(r, 0), 12); /* as many elements as a chunk of a */
  ASSERT_TRUE(SameNd(Get(r), ReferenceFlat(x, idx, {13}), 0));
  /* 0-d: one element */
  int64_t z[2] = {0, -1};
  Nd one = Get(dtx_take(dtx_scalar(cl(), 4.5), z, 2, DTX_NO_AXIS));
  ASSERT_EQ(one.v.size(), 2u);
  EXPECT_EQ(one.v[0], 4.5);
  EXPECT_EQ(one.v[1], 4.5);
  /* empty: no indices, or none to take from */
  int64_t eshape[2] = {0, 3}, ech[2] = {1, 2};
  dtx_array *e = dtx_zeros(cl(), 2, eshape, ech, DTX_I8);
  dtx_array *none = dtx_take(e, nullptr, 0, DTX_NO_AXIS);
  ASSERT_NE(none, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dim(none, 0), 0);
  EXPECT_EQ(dtx_array_compute(none, static_cast<int8_t *>(nullptr), 0), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtx_take(e, z, 1, DTX_NO_AXIS), nullptr);
  EXPECT_NE(
      std::string(dtx_last_error()).find("index 0 (indices[0]) is out of bounds for axis 0 with size 0"),
      std::string::npos)
      << dtx_last_error();
  /* out of range: named with the bound */
  int64_t bad[2] = {5, 63};
  EXPECT_EQ(dtx_take(a, bad, 2, DTX_NO_AXIS), nullptr);
  EXPECT_NE(
      std::string(dtx_last_error()).find("index 63 (indices[1]) is out of bounds for axis 0 with size 63"),
      std::string::npos)
      << dtx_last_error();
  bad[0] = -64;
  EXPECT_EQ(dtx_take(a, bad, 1, DTX_NO_AXIS), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("index -64"), std::string::npos) << dtx_last_error();
  int64_t four = 4, two = 2;
  dtx_array *r2 = dtx_take_array(a, dtx_full(cl(), 1, &four, &two, DTX_I32, -64), DTX_NO_AXIS);
  ASSERT_NE(r2, nullptr);
  std::vector<double> buf(4);
  EXPECT_EQ(dtx_array_compute(r2, buf.data(), buf.size() * sizeof(double)), DTX_ETASK);
  EXPECT_NE(std::string(dtx_last_error()).find("index -64 is out of bounds for axis 0 with size 63"),
            std::string::npos)
      << dtx_last_error();
  /* an index array of unknown length is refused */
  dtx_array *ia =
      dtx_from_host(cl(), 1, &four, &two, DTX_I64, std::vector<int64_t>{1, 2, 3, 4}.data(), DTX_HOST_COPY);
  EXPECT_EQ(dtx_take_array(a, dtx_mask_select(ia, dtx_binary_scalar(DTX_GT, ia, 2)), DTX_NO_AXIS), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("dtx_array_compute_chunk_sizes"), std::string::npos);
}

}  // namespace
