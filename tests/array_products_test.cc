/*
 * tests/array_products_test.cc - products of n-d operands (issue 11):
 * matmul with batch dims (NumPy's rules: batch dims broadcast, 1-d operands
 * promoted and the axis removed), np.dot of n-d operands and tensordot over
 * any axes, against a plain tensordot written here in double precision, on
 * random shapes, chunkings and float dtypes from printed seeds, under sync,
 * threads and the cluster scheduler on sim:1..4.
 */
#include <gtest/gtest.h>

#include <algorithm>

#include "array_util.h"

using namespace dtxa_test;

namespace {

class ArrayProducts : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
  int Rounds(int n) const { return dtxt::kSanitized ? std::max(2, n / 4) : n; }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayProducts, ::testing::ValuesIn(AllScheds()), SchedName());

/* np.tensordot(a, b, (aa, ab)): a's free axes, then b's, in order. */
Nd RefTensordot(const Nd &a, const Nd &b, const std::vector<int> &aa, const std::vector<int> &ab,
                dtx_dtype t) {
  std::vector<int> fa, fb;
  for (int d = 0; d < a.ndim(); d++)
    if (std::find(aa.begin(), aa.end(), d) == aa.end()) fa.push_back(d);
  for (int d = 0; d < b.ndim(); d++)
    if (std::find(ab.begin(), ab.end(), d) == ab.end()) fb.push_back(d);
  Nd r;
  r.t = t;
  for (int d : fa) r.shape.push_back(a.shape[d]);
  for (int d : fb) r.shape.push_back(b.shape[d]);
  Nd kshape;
  for (int d : aa) kshape.shape.push_back(a.shape[d]);
  r.v.assign(static_cast<size_t>(r.size()), 0.0);
  for (int64_t o = 0; o < r.size(); o++) {
    auto m = r.unflat(o);
    std::vector<int64_t> ia(a.ndim()), ib(b.ndim());
    for (size_t i = 0; i < fa.size(); i++) ia[fa[i]] = m[i];
    for (size_t i = 0; i < fb.size(); i++) ib[fb[i]] = m[fa.size() + i];
    double s = 0;
    for (int64_t k = 0; k < kshape.size(); k++) {
      auto km = kshape.unflat(k);
      for (size_t i = 0; i < aa.size(); i++) {
        ia[aa[i]] = km[i];
        ib[ab[i]] = km[i];
      }
      s += a.v[static_cast<size_t>(a.flat(ia))] * b.v[static_cast<size_t>(b.flat(ib))];
    }
    r.v[static_cast<size_t>(o)] = s;
  }
  return r;
}

/* np.matmul by the definition: 1-d operands promoted, batch dims broadcast. */
Nd RefMatmul(Nd a, Nd b, dtx_dtype t) {
  bool a1 = a.ndim() == 1, b1 = b.ndim() == 1;
  if (a1) a.shape.insert(a.shape.begin(), 1);
  if (b1) b.shape.push_back(1);
  int nbt = std::max(a.ndim(), b.ndim()) - 2;
  Nd r;
  r.t = t;
  for (int d = 0; d < nbt; d++) {
    int da = d - (nbt - (a.ndim() - 2)), db = d - (nbt - (b.ndim() - 2));
    int64_t sa = da >= 0 ? a.shape[da] : 1, sb = db >= 0 ? b.shape[db] : 1;
    r.shape.push_back(sa == 1 ? sb : sa);
  }
  int64_t m = a.shape[a.ndim() - 2], k = a.shape[a.ndim() - 1], n = b.shape[b.ndim() - 1];
  r.shape.push_back(m);
  r.shape.push_back(n);
  for (int64_t o = 0; o < r.size(); o++) {
    auto idx = r.unflat(o);
    std::vector<int64_t> ia(a.ndim()), ib(b.ndim());
    for (int d = 0; d < a.ndim() - 2; d++) {
      int od = d + (nbt - (a.ndim() - 2));
      ia[d] = a.shape[d] == 1 ? 0 : idx[od];
    }
    for (int d = 0; d < b.ndim() - 2; d++) {
      int od = d + (nbt - (b.ndim() - 2));
      ib[d] = b.shape[d] == 1 ? 0 : idx[od];
    }
    double s = 0;
    for (int64_t kk = 0; kk < k; kk++) {
      ia[a.ndim() - 2] = idx[nbt];
      ia[a.ndim() - 1] = kk;
      ib[b.ndim() - 2] = kk;
      ib[b.ndim() - 1] = idx[nbt + 1];
      s += a.v[static_cast<size_t>(a.flat(ia))] * b.v[static_cast<size_t>(b.flat(ib))];
    }
    r.v.push_back(s);
  }
  if (b1) r.shape.pop_back();
  if (a1) r.shape.erase(r.shape.end() - (b1 ? 1 : 2));
  return r;
}

dtx_dtype FloatType(std::mt19937_64 &rng) { return rng() % 2 ? DTX_F64 : DTX_F32; }
dtx_dtype Promoted(dtx_dtype a, dtx_dtype b) { return a == DTX_F64 || b == DTX_F64 ? DTX_F64 : DTX_F32; }
double Tol(dtx_dtype t) { return t == DTX_F32 ? 1e-4 : 1e-11; }

std::vector<int64_t> Dims(std::mt19937_64 &rng, int n, int64_t max) {
  std::vector<int64_t> s(n);
  for (auto &x : s) x = 1 + static_cast<int64_t>(rng() % max);
  return s;
}

}  // namespace

TEST_P(ArrayProducts, BatchedMatmulBroadcastsAndPromotes) {
  Scope sc;
  for (int r = 0; r < Rounds(16); r++) {
    uint64_t seed = 9100 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    auto batch = Dims(rng, static_cast<int>(rng() % 4), 3);
    int64_t m = 1 + rng() % 9, k = 1 + rng() % 9, n = 1 + rng() % 9;
    auto part = [&](bool tail_m) {
      std::vector<int64_t> s(batch.begin() + static_cast<long>(rng() % (batch.size() + 1)), batch.end());
      for (auto &x : s)
        if (rng() % 3 == 0) x = 1; /* broadcast */
      if (tail_m) {
        s.push_back(m);
        s.push_back(k);
      } else {
        s.push_back(k);
        s.push_back(n);
      }
      return s;
    };
    std::vector<int64_t> sa = rng() % 6 == 0 ? std::vector<int64_t>{k} : part(true);
    std::vector<int64_t> sb = rng() % 6 == 0 ? std::vector<int64_t>{k} : part(false);
    dtx_dtype ta = FloatType(rng), tb = FloatType(rng);
    Nd a = RandNd(rng, sa, ta), b = RandNd(rng, sb, tb);
    dtx_array *xa = Put(cl(), a, RandChunks(rng, sa)), *xb = Put(cl(), b, RandChunks(rng, sb));
    /* an operand computed by tasks, not read in place, half of the time */
    if (rng() % 2) xa = dtx_add(xa, dtx_zeros(cl(), 1, &k, nullptr, ta));
    dtx_dtype t = Promoted(ta, tb);
    Nd want = RefMatmul(a, b, t);
    dtx_array *p = dtx_matmul(xa, xb);
    ASSERT_NE(p, nullptr) << dtx_last_error() << " " << ShapeStr(sa) << " @ " << ShapeStr(sb);
    EXPECT_TRUE(SameNd(Get(p), want, Tol(t), Tol(t))) << ShapeStr(sa) << " @ " << ShapeStr(sb);
  }
}

TEST_P(ArrayProducts, DotAndTensordotOfNdOperands) {
  Scope sc;
  for (int r = 0; r < Rounds(16); r++) {
    uint64_t seed = 9200 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    /* np.dot: last axis of a with the second-to-last of b (its only one when 1-d) */
    int64_t k = 1 + rng() % 6;
    auto sa = Dims(rng, static_cast<int>(rng() % 3), 4);
    sa.push_back(k);
    std::vector<int64_t> sb = Dims(rng, static_cast<int>(rng() % 3), 4);
    if (rng() % 4 == 0) {
      sb = {k};
    } else {
      sb.push_back(k);
      sb.push_back(1 + rng() % 5);
    }
    if (sa.size() <= 2 && sb.size() <= 2) sa.insert(sa.begin(), 2); /* n-d for certain */
    dtx_dtype ta = FloatType(rng), tb = FloatType(rng), t = Promoted(ta, tb);
    Nd a = RandNd(rng, sa, ta), b = RandNd(rng, sb, tb);
    dtx_array *xa = Put(cl(), a, RandChunks(rng, sa)), *xb = Put(cl(), b, RandChunks(rng, sb));
    int bk = sb.size() >= 2 ? static_cast<int>(sb.size()) - 2 : 0;
    Nd want = RefTensordot(a, b, {static_cast<int>(sa.size()) - 1}, {bk}, t);
    EXPECT_TRUE(SameNd(Get(dtx_dot(xa, xb)), want, Tol(t), Tol(t))) << ShapeStr(sa) << " . " << ShapeStr(sb);
    /* tensordot over 1..3 random axis pairs */
    int na = 1 + static_cast<int>(rng() % 4), nb = 1 + static_cast<int>(rng() % 4);
    int np = 1 + static_cast<int>(rng() % static_cast<uint64_t>(std::min({na, nb, 3})));
    auto ua = Dims(rng, na, 4), ub = Dims(rng, nb, 4);
    std::vector<int> pa(na), pb(nb);
    for (int d = 0; d < na; d++) pa[d] = d;
    for (int d = 0; d < nb; d++) pb[d] = d;
    std::shuffle(pa.begin(), pa.end(), rng);
    std::shuffle(pb.begin(), pb.end(), rng);
    std::vector<int> aa(pa.begin(), pa.begin() + np), ab(pb.begin(), pb.begin() + np);
    for (int i = 0; i < np; i++) ub[ab[i]] = ua[aa[i]];
    Nd c = RandNd(rng, ua, ta), e = RandNd(rng, ub, tb);
    dtx_array *xc = Put(cl(), c, RandChunks(rng, ua)), *xe = Put(cl(), e, RandChunks(rng, ub));
    std::vector<int> neg(aa); /* negative axes count from the end */
    for (auto &x : neg)
      if (rng() % 2) x -= na;
    Nd wt = RefTensordot(c, e, aa, ab, t);
    dtx_array *td = dtx_tensordot(xc, xe, neg.data(), ab.data(), np);
    ASSERT_NE(td, nullptr) << dtx_last_error();
    EXPECT_TRUE(SameNd(Get(td), wt, Tol(t), Tol(t)))
        << ShapeStr(ua) << " x " << ShapeStr(ub) << " over " << np;
  }
}

/* Tall-and-skinny products (m > n, contraction of 16 or more: the kernel sums
 * them column-major and transposes once) and products with fewer output
 * chunks than workers (split into partial products over groups of the
 * contracted chunks, then summed), with operands read in place, transposed
 * views and computed chunks. */
TEST_P(ArrayProducts, TallAndSplitProductsMatchTheDefinition) {
  Scope sc;
  for (int r = 0; r < Rounds(16); r++) {
    uint64_t seed = 9300 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int64_t m = 20 + rng() % 120, k = 1 + rng() % 90, n = 1 + rng() % 12;
    bool wide = rng() % 4 == 0; /* n > m: the row-major call */
    if (wide) std::swap(m, n);
    dtx_dtype t = FloatType(rng);
    std::vector<int64_t> sa = {m, k}, sb = {k, n};
    bool ta = rng() % 3 == 0; /* a given as the transpose of a stored (k, m) */
    Nd a = RandNd(rng, ta ? std::vector<int64_t>{k, m} : sa, t), b = RandNd(rng, sb, t);
    /* one output chunk half of the time: the contraction splits */
    std::vector<int64_t> ca = {rng() % 2 ? m : 1 + static_cast<int64_t>(rng() % m),
                               1 + static_cast<int64_t>(rng() % k)};
    dtx_array *xa = ta ? dtx_transpose(Put(cl(), a, {ca[1], ca[0]}), nullptr) : Put(cl(), a, ca);
    dtx_array *xb = Put(cl(), b, RandChunks(rng, sb));
    if (rng() % 2) xb = dtx_add(xb, dtx_zeros(cl(), 2, sb.data(), nullptr, t));
    Nd at = a;
    if (ta) { /* the definition's a: a.T */
      at.shape = sa;
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++)
          at.v[static_cast<size_t>(i * k + j)] = a.v[static_cast<size_t>(j * m + i)];
    }
    dtx_array *p = dtx_matmul(xa, xb);
    ASSERT_NE(p, nullptr) << dtx_last_error();
    EXPECT_TRUE(SameNd(Get(p), RefMatmul(at, b, t), Tol(t), Tol(t)))
        << ShapeStr(sa) << " @ " << ShapeStr(sb) << (ta ? " (a transposed)" : "");
  }
}

/* A product of one output chunk over 6 contracted chunks, on a cluster of
 * two workers: two partial products (one per worker) and their sum. */
TEST_P(ArrayProducts, OneOutputChunkSplitsItsContraction) {
  Scope sc;
  const int64_t sa[2] = {8, 60}, sb[2] = {60, 5};
  dtx_array *a = dtx_ones(cl(), 2, sa, (const int64_t[]){8, 10}, DTX_F64);
  dtx_array *b = dtx_ones(cl(), 2, sb, (const int64_t[]){60, 5}, DTX_F64);
  dtx_array *p = dtx_matmul(a, b);
  ASSERT_NE(p, nullptr) << dtx_last_error();
  dtx_graph *g = nullptr;
  ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
  dtx_task_id id = 0;
  ASSERT_EQ(dtx_array_graph(p, g, &id, 1, nullptr), DTX_OK) << dtx_last_error();
  int products = 0;
  for (size_t i = 0; i < dtx_graph_size(g); i++) {
    char key[DTX_MAX_KEY];
    ASSERT_EQ(dtx_graph_key(g, static_cast<dtx_task_id>(i), key, sizeof key), DTX_OK);
    if (std::string(key).find("matmul-") == 0) products++;
  }
  dtx_graph_destroy(g);
  int workers = dtx_cluster_num_threads(cl()) + dtx_cluster_num_gpus(cl());
  EXPECT_EQ(products, std::min(workers, 6));
  Nd got = Get(p);
  for (double v : got.v) EXPECT_EQ(v, 60.0);
}

/* Keys of g's tasks whose name starts with prefix and contains part. */
int CountKeys(dtx_graph *g, const std::string &prefix, const std::string &part) {
  int n = 0;
  for (size_t i = 0; i < dtx_graph_size(g); i++) {
    char key[DTX_MAX_KEY];
    EXPECT_EQ(dtx_graph_key(g, static_cast<dtx_task_id>(i), key, sizeof key), DTX_OK);
    std::string k(key);
    n += k.rfind(prefix, 0) == 0 && k.find(part) != std::string::npos;
  }
  return n;
}

/* One big output chunk from single-chunk operands (nothing to split in the
 * contraction) on CPU threads: its rows go to one task per worker and are
 * joined after; right for ragged row counts, float32, a transposed operand
 * and one read in place from host memory. Under sync (one worker) and with
 * GPUs it stays one task. */
TEST_P(ArrayProducts, OneBigOutputChunkSplitsItsRows) {
  Scope sc;
  std::mt19937_64 rng(9401);
  for (int r = 0; r < 4; r++) {
    SCOPED_TRACE(::testing::Message() << "round " << r << ", seed 9401");
    int64_t m = 300 + r * 37, k = 200, n = 260;
    dtx_dtype t = r % 2 ? DTX_F32 : DTX_F64;
    Nd a = RandNd(rng, {m, k}, t), b = RandNd(rng, {k, n}, t);
    dtx_array *xa = Put(cl(), a, {m, k});
    if (r == 2) xa = dtx_add(xa, dtx_zeros(cl(), 2, a.shape.data(), nullptr, t)); /* a computed chunk */
    if (r == 3) { /* a.T.T: a transposed view */
      Nd at = a;
      at.shape = {k, m};
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++)
          at.v[static_cast<size_t>(j * m + i)] = a.v[static_cast<size_t>(i * k + j)];
      xa = dtx_transpose(Put(cl(), at, {k, m}), nullptr);
    }
    dtx_array *p = dtx_matmul(xa, Put(cl(), b, {k, n}));
    ASSERT_NE(p, nullptr) << dtx_last_error();
    dtx_graph *g = nullptr;
    ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
    dtx_task_id id = 0;
    ASSERT_EQ(dtx_array_graph(p, g, &id, 1, nullptr), DTX_OK) << dtx_last_error();
    int rows = CountKeys(g, "matmul-", "-rows");
    dtx_graph_destroy(g);
    bool split = GetParam().gpus == 0 && GetParam().s != DTX_SCHED_SYNC;
    EXPECT_EQ(rows, split ? dtx_cluster_num_threads(cl()) : 0) << "row tasks of the one output chunk";
    EXPECT_TRUE(SameNd(Get(p), RefMatmul(a, b, t), Tol(t), Tol(t)));
  }
}

TEST_P(ArrayProducts, ErrorsNameTheShapes) {
  Scope sc;
  dtx_array *a = dtx_ones(cl(), 3, (const int64_t[]){2, 3, 4}, nullptr, DTX_F64);
  dtx_array *b = dtx_ones(cl(), 3, (const int64_t[]){3, 4, 5}, nullptr, DTX_F64);
  dtx_array *c = dtx_ones(cl(), 2, (const int64_t[]){5, 6}, nullptr, DTX_F64);
  EXPECT_EQ(dtx_matmul(a, b), nullptr); /* batch 2 vs 3 */
  EXPECT_NE(std::string(dtx_last_error()).find("do not broadcast"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_matmul(a, c), nullptr); /* 4 vs 5 */
  EXPECT_NE(std::string(dtx_last_error()).find("not aligned"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_matmul(a, dtx_scalar(cl(), 2.0)), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("at least 1 dimension"), std::string::npos)
      << dtx_last_error();
  /* 1-d @ 1-d is the inner product, a 0-d array */
  dtx_array *v = dtx_arange(cl(), 0, 4, 1, 3, DTX_F64);
  Nd iv = Get(dtx_matmul(v, v));
  EXPECT_EQ(iv.shape, std::vector<int64_t>{});
  ASSERT_EQ(iv.v.size(), 1u);
  EXPECT_EQ(iv.v[0], 14.0);
  /* batch dims are chunked by 1: one task (a 2-d product) per batch index and block */
  dtx_array *p = dtx_matmul(a, dtx_ones(cl(), 2, (const int64_t[]){4, 5}, nullptr, DTX_F64));
  ASSERT_NE(p, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_chunk(p, 0), 1);
  EXPECT_EQ(Shape(p), (std::vector<int64_t>{2, 3, 5}));
}
