/*
 * tests/array_linalg_test.cc - matmul, dot, tensordot and transpose of
 * chunked arrays against plain triple loops in double precision, on random
 * shapes, chunkings (mismatched contraction chunks included) and dtypes,
 * with operands that are views of host data, under sync, threads and the
 * cluster scheduler on sim:1..4.
 */
#include <gtest/gtest.h>

#include "array_util.h"

using namespace dtxa_test;

namespace {

class ArrayLinalg : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
  int Rounds(int n) const { return dtxt::kSanitized ? std::max(2, n / 4) : n; }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayLinalg, ::testing::ValuesIn(AllScheds()), SchedName());

dtx_dtype Promote(dtx_dtype a, dtx_dtype b) {
  static const dtx_dtype tab[5][5] = {
      {DTX_BOOL, DTX_I32, DTX_I64, DTX_F32, DTX_F64}, {DTX_I32, DTX_I32, DTX_I64, DTX_F64, DTX_F64},
      {DTX_I64, DTX_I64, DTX_I64, DTX_F64, DTX_F64},  {DTX_F32, DTX_F64, DTX_F64, DTX_F32, DTX_F64},
      {DTX_F64, DTX_F64, DTX_F64, DTX_F64, DTX_F64},
  };
  return tab[a - 1][b - 1];
}

Nd Transpose2(const Nd &x) {
  Nd r;
  r.t = x.t;
  r.shape = {x.shape[1], x.shape[0]};
  for (int64_t i = 0; i < r.shape[0]; i++)
    for (int64_t j = 0; j < r.shape[1]; j++) r.v.push_back(x.v[static_cast<size_t>(j * x.shape[1] + i)]);
  return r;
}

Nd RefMatmul(const Nd &a, const Nd &b) {
  Nd r;
  r.t = Promote(a.t, b.t);
  int64_t m = a.shape[0], k = a.shape[1], n = b.shape[1];
  r.shape = {m, n};
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t p = 0; p < k; p++)
        s += a.v[static_cast<size_t>(i * k + p)] * b.v[static_cast<size_t>(p * n + j)];
      r.v.push_back(r.t == DTX_BOOL ? (s != 0) : As(r.t, s));
    }
  return r;
}

double Tol(dtx_dtype t) { return t == DTX_F32 ? 1e-5 : t == DTX_F64 ? 1e-12 : 0; }

}  // namespace

TEST_P(ArrayLinalg, MatmulMatchesLoops) {
  Scope sc;
  for (int r = 0; r < Rounds(20); r++) {
    uint64_t seed = 3000 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int64_t m = 1 + static_cast<int64_t>(rng() % 30), k = 1 + static_cast<int64_t>(rng() % 30),
            n = 1 + static_cast<int64_t>(rng() % 30);
    dtx_dtype ta = AllTypes()[rng() % 5], tb = rng() % 2 ? ta : AllTypes()[rng() % 5];
    Nd a = RandNd(rng, {m, k}, ta), b = RandNd(rng, {k, n}, tb);
    /* chunks of a's columns and b's rows differ in general */
    dtx_array *xa = Put(cl(), a, RandChunks(rng, a.shape)), *xb = Put(cl(), b, RandChunks(rng, b.shape));
    Nd want = RefMatmul(a, b);
    Nd got = Get(dtx_matmul(xa, xb));
    EXPECT_TRUE(SameNd(got, want, Tol(want.t), Tol(want.t) * static_cast<double>(k) * 16))
        << dtx_dtype_name(ta) << " (" << m << "x" << k << ") @ " << dtx_dtype_name(tb) << " (" << k << "x"
        << n << ")";
    /* operands that are transposed views (of host data read in place, or of expressions) */
    dtx_array *at = Put(cl(), Transpose2(a), RandChunks(rng, {k, m}));
    dtx_array *bt = Put(cl(), Transpose2(b), RandChunks(rng, {n, k}));
    EXPECT_TRUE(SameNd(Get(dtx_matmul(dtx_transpose(at, nullptr), dtx_transpose(bt, nullptr))), want,
                       Tol(want.t), Tol(want.t) * static_cast<double>(k) * 16))
        << "transposed operands";
    /* matmul of products feeds reductions and elementwise ops */
    dtx_array *c = dtx_matmul(xa, xb);
    if (want.t != DTX_BOOL) {
      Nd w2 = want;
      for (auto &e : w2.v) e = As(want.t, e * 2);
      EXPECT_TRUE(SameNd(Get(dtx_add(c, c)), w2, Tol(want.t), Tol(want.t) * static_cast<double>(k) * 32));
    }
  }
}

TEST_P(ArrayLinalg, SlicedOperandsOfPersistedData) {
  Scope sc;
  std::mt19937_64 rng(3100);
  Nd x = RandNd(rng, {24, 20}, DTX_F64);
  dtx_array *a = Put(cl(), x, {5, 7});
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(a, nullptr, &p), DTX_OK) << dtx_last_error();
  /* x[:16, :16] @ x[2:18:1, ::-1][:, :16] */
  dtx_index i1[2] = {{DTX_INDEX_SLICE, DTX_NONE, 16, 1}, {DTX_INDEX_SLICE, DTX_NONE, 16, 1}};
  dtx_index i2[2] = {{DTX_INDEX_SLICE, 2, 18, 1}, {DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, -1}};
  dtx_index i3[2] = {{DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1}, {DTX_INDEX_SLICE, DTX_NONE, 16, 1}};
  dtx_array *l = dtx_slice(p, 2, i1), *rr = dtx_slice(dtx_slice(p, 2, i2), 2, i3);
  Nd L, R;
  L.t = R.t = DTX_F64;
  L.shape = R.shape = {16, 16};
  for (int64_t i = 0; i < 16; i++)
    for (int64_t j = 0; j < 16; j++) {
      L.v.push_back(x.v[static_cast<size_t>(i * 20 + j)]);
      R.v.push_back(x.v[static_cast<size_t>((i + 2) * 20 + (19 - j))]);
    }
  EXPECT_TRUE(SameNd(Get(dtx_matmul(l, rr)), RefMatmul(L, R), 1e-12, 1e-12));
}

TEST_P(ArrayLinalg, DotAndTensordot) {
  Scope sc;
  for (int r = 0; r < Rounds(10); r++) {
    uint64_t seed = 3200 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int64_t m = 1 + static_cast<int64_t>(rng() % 12), k = 1 + static_cast<int64_t>(rng() % 12);
    Nd a = RandNd(rng, {m, k}, DTX_F64), v = RandNd(rng, {k}, DTX_F64), w = RandNd(rng, {k}, DTX_F64);
    dtx_array *xa = Put(cl(), a, RandChunks(rng, a.shape)), *xv = Put(cl(), v, RandChunks(rng, v.shape)),
              *xw = Put(cl(), w, RandChunks(rng, w.shape));
    /* 1-d . 1-d */
    double s = 0;
    for (int64_t p = 0; p < k; p++) s += v.v[static_cast<size_t>(p)] * w.v[static_cast<size_t>(p)];
    Nd got = Get(dtx_dot(xv, xw));
    ASSERT_EQ(got.shape.size(), 0u);
    EXPECT_NEAR(got.v[0], s, 1e-12 * static_cast<double>(k) * 16);
    /* 2-d . 1-d and 1-d . 2-d (a.T) */
    Nd mv;
    mv.t = DTX_F64;
    mv.shape = {m};
    for (int64_t i = 0; i < m; i++) {
      double t = 0;
      for (int64_t p = 0; p < k; p++) t += a.v[static_cast<size_t>(i * k + p)] * v.v[static_cast<size_t>(p)];
      mv.v.push_back(t);
    }
    EXPECT_TRUE(SameNd(Get(dtx_dot(xa, xv)), mv, 1e-12, 1e-12));
    EXPECT_TRUE(SameNd(Get(dtx_dot(xv, dtx_transpose(xa, nullptr))), mv, 1e-12, 1e-12));
    /* tensordot: one pair (matmul), both pairs (full contraction), none (outer product) */
    int pa[1] = {0}, pb[1] = {1};
    Nd b = RandNd(rng, {m, k}, DTX_F64);
    dtx_array *xb = Put(cl(), b, RandChunks(rng, b.shape));
    /* contract axis 0 of a with axis 0 of b: a.T @ b, shape (k, k) */
    Nd want = RefMatmul(Transpose2(a), b);
    int z[1] = {0};
    EXPECT_TRUE(SameNd(Get(dtx_tensordot(xa, xb, z, z, 1)), want, 1e-12, 1e-12));
    /* contract axis 1 of a with axis 1 of b: a @ b.T */
    EXPECT_TRUE(SameNd(Get(dtx_tensordot(xa, xb, pb, pb, 1)), RefMatmul(a, Transpose2(b)), 1e-12, 1e-12));
    (void)pa;
    int both_a[2] = {0, 1}, both_b[2] = {0, 1};
    double full = 0;
    for (size_t i = 0; i < a.v.size(); i++) full += a.v[i] * b.v[i];
    Nd f = Get(dtx_tensordot(xa, xb, both_a, both_b, 2));
    EXPECT_NEAR(f.v[0], full, 1e-12 * static_cast<double>(a.v.size()) * 16);
    Nd outer = Get(dtx_tensordot(xv, xw, nullptr, nullptr, 0));
    ASSERT_EQ(outer.shape, (std::vector<int64_t>{k, k}));
    for (int64_t i = 0; i < k; i++)
      for (int64_t j = 0; j < k; j++)
        EXPECT_DOUBLE_EQ(outer.v[static_cast<size_t>(i * k + j)],
                         v.v[static_cast<size_t>(i)] * w.v[static_cast<size_t>(j)]);
  }
  int64_t s3[1] = {3}, s4[1] = {4};
  int one[1] = {0};
  EXPECT_EQ(
      dtx_tensordot(dtx_ones(cl(), 1, s3, s3, DTX_F64), dtx_ones(cl(), 1, s4, s4, DTX_F64), one, one, 1),
      nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("shape mismatch"), std::string::npos) << dtx_last_error();
}

TEST_P(ArrayLinalg, TransposeAnyPermutation) {
  Scope sc;
  for (int r = 0; r < Rounds(12); r++) {
    uint64_t seed = 3300 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int nd = 1 + static_cast<int>(rng() % 8);
    auto shape = RandShape(rng, nd, 500);
    Nd x = RandNd(rng, shape, AllTypes()[rng() % 5]);
    dtx_array *a = Put(cl(), x, RandChunks(rng, shape));
    std::vector<int> perm(nd);
    for (int d = 0; d < nd; d++) perm[d] = d;
    std::shuffle(perm.begin(), perm.end(), rng);
    Nd want;
    want.t = x.t;
    for (int d = 0; d < nd; d++) want.shape.push_back(shape[perm[d]]);
    for (int64_t i = 0; i < want.size(); i++) {
      auto m = want.unflat(i);
      std::vector<int64_t> src(nd);
      for (int d = 0; d < nd; d++) src[perm[d]] = m[d];
      want.v.push_back(x.v[static_cast<size_t>(x.flat(src))]);
    }
    dtx_array *t = dtx_transpose(a, perm.data());
    EXPECT_TRUE(SameNd(Get(t), want, 0)) << "perm " << perm[0];
    for (int d = 0; d < nd; d++) EXPECT_EQ(dtx_array_chunk(t, d), dtx_array_chunk(a, perm[d]));
  }
}

TEST_P(ArrayLinalg, PlusOwnTranspose) {
  /* x + x.T, x.T + x and their sums and means over every axis, on chunkings
   * that make tiles of 64, of other multiples of 8 (the blocked path for a
   * leaf plus a transposed leaf) and of other sizes (the general path) */
  Scope sc;
  std::mt19937_64 rng(3500);
  const int64_t n = 200;
  Nd x = RandNd(rng, {n, n}, DTX_F64);
  Nd want;
  want.t = DTX_F64;
  want.shape = {n, n};
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++)
      want.v.push_back(x.v[static_cast<size_t>(i * n + j)] + x.v[static_cast<size_t>(j * n + i)]);
  const std::vector<std::vector<int64_t>> chunkings = {{96, 72}, {200, 200}, {100, 50}, {64, 136}};
  for (const auto &ch : chunkings) {
    SCOPED_TRACE(::testing::Message() << "chunks " << ch[0] << "x" << ch[1]);
    dtx_array *a = Put(cl(), x, ch);
    dtx_array *at = dtx_transpose(a, nullptr);
    for (dtx_array *z : {dtx_add(a, at), dtx_add(at, a)}) {
      EXPECT_TRUE(SameNd(Get(z), want, 0));
      for (int axis = -1; axis < 2; axis++) {
        SCOPED_TRACE(::testing::Message() << "axis " << axis);
        int naxes = axis < 0 ? 0 : 1;
        const int *axes = axis < 0 ? nullptr : &axis;
        Nd s = Get(dtx_sum(z, axes, naxes)), m = Get(dtx_mean(z, axes, naxes));
        ASSERT_EQ(s.v.size(), axis < 0 ? 1u : static_cast<size_t>(n));
        int64_t cnt = axis < 0 ? n * n : n;
        for (size_t k = 0; k < s.v.size(); k++) {
          double w = 0;
          for (int64_t q = 0; q < cnt; q++)
            w += axis < 0    ? want.v[static_cast<size_t>(q)]
                 : axis == 0 ? want.v[static_cast<size_t>(q * n + static_cast<int64_t>(k))]
                             : want.v[static_cast<size_t>(static_cast<int64_t>(k) * n + q)];
          EXPECT_NEAR(s.v[k], w, 1e-9) << "index " << k;
          EXPECT_NEAR(m.v[k], w / static_cast<double>(cnt), 1e-12) << "index " << k;
        }
      }
    }
  }
}

TEST_P(ArrayLinalg, TransposedOperandsAcrossManyTiles) {
  /* big enough for several tiles of the transposed-read path, with partial tiles, reversed rows and casts */
  Scope sc;
  std::mt19937_64 rng(3400);
  const int64_t n = 150, m = 131;
  Nd x = RandNd(rng, {n, m}, DTX_F64), y = RandNd(rng, {m, n}, DTX_F32);
  dtx_array *a = Put(cl(), x, {67, 45}), *b = Put(cl(), y, {50, 80});
  dtx_index rev[2] = {{DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, -1}, {DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1}};
  /* z = x + y.T[::-1, :] (float32 promoted to float64) */
  dtx_array *z = dtx_add(a, dtx_slice(dtx_transpose(b, nullptr), 2, rev));
  Nd want;
  want.t = DTX_F64;
  want.shape = {n, m};
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < m; j++)
      want.v.push_back(x.v[static_cast<size_t>(i * m + j)] + y.v[static_cast<size_t>(j * n + (n - 1 - i))]);
  EXPECT_TRUE(SameNd(Get(z), want, 1e-15));
  for (int axis = 0; axis < 2; axis++) {
    Nd s = Get(dtx_sum(z, &axis, 1));
    for (int64_t k = 0; k < (axis == 0 ? m : n); k++) {
      double w = 0;
      for (int64_t q = 0; q < (axis == 0 ? n : m); q++)
        w += want.v[static_cast<size_t>(axis == 0 ? q * m + k : k * m + q)];
      EXPECT_NEAR(s.v[static_cast<size_t>(k)], w, 1e-10) << "axis " << axis << " index " << k;
    }
  }
}
