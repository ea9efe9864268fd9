/*
 * tests/array_map_test.cc - user kernels over chunks: map_blocks (several
 * inputs, the block index and start it is told, user arguments) and
 * map_overlap (halo depth per axis, periodic / constant / nearest boundaries,
 * the halos taken from neighbouring chunks), against loops here, on random
 * shapes and chunkings from printed seeds, under sync, threads and the
 * cluster scheduler on sim:1..4.
 */
#include <gtest/gtest.h>

#include "array_util.h"

using namespace dtxa_test;

namespace {

class ArrayMap : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
  int Rounds(int n) const { return dtxt::kSanitized ? std::max(2, n / 4) : n; }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayMap, ::testing::ValuesIn(AllScheds()), SchedName());

struct Coef {
  double a, b;
};

/* Visits every element of an n-d shape, calling f(multi-index). */
template <typename F>
void Each(int nd, const int64_t *shape, F f) {
  int64_t m[DTX_ARRAY_MAX_DIMS] = {0, 0, 0, 0};
  for (int d = 0; d < nd; d++)
    if (shape[d] == 0) return;
  for (;;) {
    f(m);
    int d = nd - 1;
    while (d >= 0 && ++m[d] == shape[d]) {
      m[d] = 0;
      d--;
    }
    if (d < 0) return;
  }
}
int64_t Off(const dtx_block &b, const int64_t *m, const int64_t *shift = nullptr) {
  int64_t o = 0;
  for (int d = 0; d < b.ndim; d++) o += (m[d] + (shift != nullptr ? shift[d] : 0)) * b.stride[d];
  return o;
}

/* out = a * in0 + b * in1 + 1000 * block index[0] + start[last] (float64 inputs) */
int Affine(dtx_task_ctx *ctx, const dtx_block *in, int nin, dtx_block *out, const void *user) {
  const Coef *c = static_cast<const Coef *>(user);
  if (nin != 2 || in[0].dtype != DTX_F64 || in[1].dtype != DTX_F64 || out->dtype != DTX_F64)
    return dtx_task_fail(ctx, "unexpected inputs");
  for (int d = 0; d < out->ndim; d++)
    if (in[0].shape[d] != out->shape[d] || in[0].halo[d] != 0) return dtx_task_fail(ctx, "bad block shape");
  const double *x = static_cast<const double *>(in[0].data), *y = static_cast<const double *>(in[1].data);
  double *o = static_cast<double *>(out->data);
  double extra = 1000.0 * static_cast<double>(out->index[0]) + static_cast<double>(out->start[out->ndim - 1]);
  Each(out->ndim, out->shape, [&](const int64_t *m) {
    o[Off(*out, m)] = c->a * x[Off(in[0], m)] + c->b * y[Off(in[1], m)] + extra;
  });
  return 0;
}

/* Box sum over the halo window: out[p] = sum of in[p + o] for |o_d| <= halo_d. */
int BoxSum(dtx_task_ctx *ctx, const dtx_block *in, int nin, dtx_block *out, const void *user) {
  (void)user;
  if (nin != 1 || in[0].dtype != DTX_F64) return dtx_task_fail(ctx, "unexpected inputs");
  int nd = out->ndim;
  for (int d = 0; d < nd; d++)
    if (in[0].shape[d] != out->shape[d] + 2 * in[0].halo[d])
      return dtx_task_fail(ctx, "halo'd block has the wrong shape");
  const double *x = static_cast<const double *>(in[0].data);
  double *o = static_cast<double *>(out->data);
  int64_t win[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < nd; d++) win[d] = 2 * in[0].halo[d] + 1;
  Each(nd, out->shape, [&](const int64_t *p) {
    double sum = 0;
    Each(nd, win, [&](const int64_t *w) { sum += x[Off(in[0], p, w)]; });
    o[Off(*out, p)] = sum;
  });
  return 0;
}

/* The 5-point Laplacian of a 2-d block with a halo of 1. */
int Laplace(dtx_task_ctx *ctx, const dtx_block *in, int nin, dtx_block *out, const void *user) {
  (void)user;
  (void)nin;
  if (in[0].halo[0] != 1 || in[0].halo[1] != 1) return dtx_task_fail(ctx, "needs a halo of 1");
  int64_t w = in[0].stride[0], s1 = in[0].stride[1];
  const double *x = static_cast<const double *>(in[0].data);
  double *o = static_cast<double *>(out->data);
  for (int64_t i = 0; i < out->shape[0]; i++)
    for (int64_t j = 0; j < out->shape[1]; j++) {
      const double *c = x + (i + 1) * w + (j + 1) * s1;
      o[i * out->stride[0] + j * out->stride[1]] = c[-w] + c[w] + c[-s1] + c[s1] - 4 * c[0];
    }
  return 0;
}

}  // namespace

TEST_P(ArrayMap, MapBlocksSeesItsBlock) {
  Scope sc;
  for (int r = 0; r < Rounds(12); r++) {
    uint64_t seed = 5000 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int nd = 1 + static_cast<int>(rng() % 4);
    auto shape = RandShape(rng, nd, 600);
    auto ch = RandChunks(rng, shape);
    Nd x = RandNd(rng, shape, DTX_F64), y = RandNd(rng, shape, DTX_F64);
    /* the second input in other chunks, and an expression: both are brought to the first's chunks */
    dtx_array *in[2] = {Put(cl(), x, ch), dtx_mul(Put(cl(), y, RandChunks(rng, shape)), dtx_scalar(cl(), 1))};
    Coef c{2.0, -0.5};
    dtx_array *out = dtx_map_blocks("affine", Affine, nullptr, in, 2, DTX_F64, &c, sizeof c);
    ASSERT_NE(out, nullptr) << dtx_last_error();
    Nd want;
    want.shape = shape;
    want.t = DTX_F64;
    for (int64_t i = 0; i < x.size(); i++) {
      auto m = x.unflat(i);
      double extra = 1000.0 * static_cast<double>(m[0] / ch[0]) +
                     static_cast<double>(m[nd - 1] / ch[nd - 1] * ch[nd - 1]);
      want.v.push_back(2.0 * x.v[static_cast<size_t>(i)] - 0.5 * y.v[static_cast<size_t>(i)] + extra);
    }
    EXPECT_TRUE(SameNd(Get(out), want, 1e-15));
    /* and it composes: a reduction of the kernel's output */
    double s = 0, got;
    for (double v : want.v) s += v;
    ASSERT_EQ(dtx_array_compute(dtx_sum(out, nullptr, 0), &got, sizeof got), DTX_OK) << dtx_last_error();
    EXPECT_NEAR(got, s, 1e-9 * std::max(1.0, std::fabs(s)));
  }
  int64_t s1[1] = {4}, s2[1] = {5};
  dtx_array *bad[2] = {dtx_ones(cl(), 1, s1, s1, DTX_F64), dtx_ones(cl(), 1, s2, s2, DTX_F64)};
  EXPECT_EQ(dtx_map_blocks(nullptr, Affine, nullptr, bad, 2, DTX_F64, nullptr, 0), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("(5,)"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_map_blocks(nullptr, nullptr, nullptr, bad, 1, DTX_F64, nullptr, 0), nullptr);
}

TEST_P(ArrayMap, MapOverlapHalosAndBoundaries) {
  Scope sc;
  for (int r = 0; r < Rounds(18); r++) {
    uint64_t seed = 5200 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int nd = 1 + static_cast<int>(rng() % 3);
    auto shape = RandShape(rng, nd, 500);
    auto ch = RandChunks(rng, shape);
    std::vector<int64_t> depth(nd);
    for (int d = 0; d < nd; d++) depth[d] = static_cast<int64_t>(rng() % std::min<int64_t>(3, shape[d] + 1));
    dtx_boundary bnd = static_cast<dtx_boundary>(rng() % 3);
    double cval = -7.5;
    Nd x = RandNd(rng, shape, DTX_F64);
    /* the input is host data (read in place) or an expression computed by tasks */
    dtx_array *a = Put(cl(), x, ch);
    if (rng() % 2) a = dtx_add(a, dtx_scalar(cl(), 0.0));
    dtx_array *y = dtx_map_overlap("box", BoxSum, nullptr, a, depth.data(), bnd, cval, DTX_F64, nullptr, 0);
    ASSERT_NE(y, nullptr) << dtx_last_error();
    Nd want;
    want.shape = shape;
    want.t = DTX_F64;
    for (int64_t i = 0; i < x.size(); i++) {
      auto p = x.unflat(i);
      std::vector<int64_t> off(nd);
      for (int d = 0; d < nd; d++) off[d] = -depth[d];
      double sum = 0;
      for (;;) {
        std::vector<int64_t> q(nd);
        bool outside = false;
        for (int d = 0; d < nd; d++) {
          int64_t v = p[d] + off[d], n = shape[d];
          if (v < 0 || v >= n) {
            if (bnd == DTX_BOUNDARY_PERIODIC)
              v = ((v % n) + n) % n;
            else if (bnd == DTX_BOUNDARY_NEAREST)
              v = v < 0 ? 0 : n - 1;
            else
              outside = true;
          }
          q[d] = v;
        }
        sum += outside ? cval : x.v[static_cast<size_t>(x.flat(q))];
        int d = nd - 1;
        while (d >= 0 && ++off[d] > depth[d]) {
          off[d] = -depth[d];
          d--;
        }
        if (d < 0) break;
      }
      want.v.push_back(sum);
    }
    EXPECT_TRUE(SameNd(Get(y), want, 1e-13, 1e-12))
        << "shape " << ShapeStr(shape) << " chunks " << ShapeStr(ch) << " depth " << ShapeStr(depth)
        << " boundary " << bnd;
  }
}

TEST_P(ArrayMap, StencilOnPersistedData) {
  Scope sc;
  std::mt19937_64 rng(5400);
  int64_t n = 37, m = 29;
  Nd x = RandNd(rng, {n, m}, DTX_F64);
  dtx_array *a = Put(cl(), x, {8, 6});
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(a, nullptr, &p), DTX_OK) << dtx_last_error();
  int64_t depth[2] = {1, 1};
  dtx_array *lap =
      dtx_map_overlap("laplace", Laplace, nullptr, p, depth, DTX_BOUNDARY_PERIODIC, 0, DTX_F64, nullptr, 0);
  Nd got = Get(lap);
  ASSERT_EQ(got.shape, (std::vector<int64_t>{n, m}));
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < m; j++) {
      auto at = [&](int64_t a2, int64_t b2) {
        return x.v[static_cast<size_t>(((a2 + n) % n) * m + (b2 + m) % m)];
      };
      double w = at(i - 1, j) + at(i + 1, j) + at(i, j - 1) + at(i, j + 1) - 4 * at(i, j);
      EXPECT_NEAR(got.v[static_cast<size_t>(i * m + j)], w, 1e-12) << i << "," << j;
    }
  /* the Laplacian of a periodic field sums to zero */
  double s;
  ASSERT_EQ(dtx_array_compute(dtx_sum(lap, nullptr, 0), &s, sizeof s), DTX_OK) << dtx_last_error();
  EXPECT_NEAR(s, 0, 1e-9);
  int64_t too_deep[2] = {38, 1};
  EXPECT_EQ(
      dtx_map_overlap(nullptr, Laplace, nullptr, p, too_deep, DTX_BOUNDARY_PERIODIC, 0, DTX_F64, nullptr, 0),
      nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("depth[0] is 38"), std::string::npos) << dtx_last_error();
}
