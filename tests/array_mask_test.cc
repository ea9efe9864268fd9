/*
 * tests/array_mask_test.cc - boolean-mask selection x[mask] (dtx_mask_select)
 * and arrays of unknown length (dtx/array.h "unknown lengths") against plain
 * loops: random arrays of 0 to 3 dimensions, every dtype, ragged chunks, a
 * mask in other chunks, empty and full masks, empty arrays; shape queries;
 * computing into a buffer, a new buffer, persist and .npy; the operations
 * that accept unknown lengths (elementwise with scalars, reductions, both
 * mixed with known arrays) and the ones that refuse them, with the message;
 * dtx_array_compute_chunk_sizes; complex selections (computed, resolved,
 * persisted, saved, made unique; other operations ask for them resolved).
 * Runs under sync, threads and the cluster scheduler on simulated GPUs.
 * Seeds are printed.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "array_util.h"
#include "dtx/complex.h"
#include "dtx/index.h"
#include "dtx/scan.h"
#include "dtx/sort.h"
#include "dtx/stats.h"

using namespace dtxa_test;

namespace {

class ArrayMask : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayMask,
                         ::testing::Values(AllScheds()[0], AllScheds()[1], AllScheds()[3]), SchedName());

/* Computes a (of any length) into a new buffer: a 1-d Nd when unknown. */
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
  if (dtx_array_shape_known(a))
    r.shape = Shape(a);
  else
    r.shape = {n};
  EXPECT_EQ(r.size(), n);
  for (int64_t i = 0; i < n; i++) r.v.push_back(Read(buf, r.t, i));
  std::free(buf);
  return r;
}

Nd Select(const Nd &x, const Nd &m) {
  Nd r;
  r.t = x.t;
  for (int64_t i = 0; i < x.size(); i++)
    if (m.v[i] != 0) r.v.push_back(x.v[i]);
  r.shape = {static_cast<int64_t>(r.v.size())};
  return r;
}

int Identity(dtx_task_ctx *, const dtx_block *, int, dtx_block *, const void *) { return 0; }

bool Mentions(const char *what) { return std::string(dtx_last_error()).find(what) != std::string::npos; }

TEST_P(ArrayMask, RandomSelectionsInNumPyOrder) {
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  for (int it = 0; it < 48; it++) {
    Scope sc;
    int nd = static_cast<int>(rng() % 4);
    dtx_dtype t = EveryDtype()[static_cast<size_t>(it) % EveryDtype().size()];
    Nd x = RandNd(rng, RandShape(rng, nd, 300), t);
    Nd m;
    m.shape = x.shape;
    m.t = DTX_BOOL;
    int density = it % 6; /* 0: none selected, 5: all */
    for (int64_t i = 0; i < x.size(); i++) m.v.push_back(static_cast<int>(rng() % 5) < density ? 1 : 0);
    std::vector<int64_t> ch = RandChunks(rng, x.shape), mch = RandChunks(rng, x.shape);
    dtx_array *a = Put(cl(), x, ch), *ma = Put(cl(), m, mch);
    dtx_array *s = dtx_mask_select(a, ma);
    ASSERT_NE(s, nullptr) << dtx_last_error();
    EXPECT_EQ(dtx_array_ndim(s), 1);
    EXPECT_EQ(dtx_array_dtype(s), t);
    EXPECT_EQ(dtx_array_shape_known(s), 0);
    EXPECT_EQ(dtx_array_dim(s, 0), -1);
    EXPECT_EQ(dtx_array_chunk(s, 0), -1);
    EXPECT_EQ(dtx_array_size(s), -1);
    EXPECT_EQ(dtx_array_nbytes(s), 0u);
    EXPECT_EQ(dtx_array_numblocks(s, 0), nd == 0 ? 1 : (x.shape[0] + ch[0] - 1) / ch[0]);
    Nd want = Select(x, m);
    ASSERT_TRUE(SameNd(GetAlloc(s), want, 0)) << "it " << it << " shape " << ShapeStr(x.shape) << " chunks "
                                              << ShapeStr(ch) << " dtype " << dtx_dtype_name(t);
    /* into a buffer of the right size; of the wrong one, an error giving the length */
    std::vector<unsigned char> buf(want.v.size() * dtx_dtype_size(t) + 1);
    EXPECT_EQ(dtx_array_compute(s, static_cast<void *>(buf.data()), want.v.size() * dtx_dtype_size(t)),
              DTX_OK)
        << dtx_last_error();
    EXPECT_EQ(dtx_array_compute(s, static_cast<void *>(buf.data()), want.v.size() * dtx_dtype_size(t) + 1),
              DTX_EINVAL);
    EXPECT_TRUE(Mentions(("has " + std::to_string(want.v.size()) + " elements").c_str())) << dtx_last_error();
  }
}

/* x = arange(n) as float64 in chunks of c, and x[x > thr]. */
struct Sel {
  dtx_array *x, *s;
  Nd xv, want;
};
Sel MakeSel(dtx_cluster *cl, int64_t n, int64_t c, double thr) {
  Sel r;
  r.x = dtx_arange(cl, 0, static_cast<double>(n), 1, c, DTX_F64);
  r.s = dtx_mask_select(r.x, dtx_binary_scalar(DTX_GT, r.x, thr));
  r.xv.shape = {n};
  for (int64_t i = 0; i < n; i++) r.xv.v.push_back(static_cast<double>(i));
  r.want.shape = {0};
  for (double v : r.xv.v)
    if (v > thr) r.want.v.push_back(v);
  r.want.shape[0] = static_cast<int64_t>(r.want.v.size());
  return r;
}

TEST_P(ArrayMask, ElementwiseAndReductionsAcceptUnknownLengths) {
  Scope sc;
  Sel q = MakeSel(cl(), 50, 7, 20.5);
  /* (x[x > 20.5] * 2 + 1) as float32, exp, comparisons, where with scalars */
  dtx_array *e = dtx_astype(dtx_binary_scalar(DTX_ADD, dtx_binary_scalar(DTX_MUL, q.s, 2), 1), DTX_F32);
  ASSERT_NE(e, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dim(e, 0), -1);
  Nd want = q.want;
  want.t = DTX_F32;
  for (auto &v : want.v) v = v * 2 + 1;
  ASSERT_TRUE(SameNd(GetAlloc(e), want, 0));
  dtx_array *w = dtx_where(dtx_binary_scalar(DTX_LT, q.s, 30), q.s, dtx_scalar(cl(), -1.0));
  ASSERT_NE(w, nullptr) << dtx_last_error();
  Nd ww = q.want;
  for (auto &v : ww.v) v = v < 30 ? v : -1;
  ASSERT_TRUE(SameNd(GetAlloc(w), ww, 0));
  dtx_array *sq = dtx_sqrt(dtx_neg(dtx_neg(q.s)));
  ASSERT_NE(sq, nullptr) << dtx_last_error();
  Nd sw = q.want;
  for (auto &v : sw.v) v = std::sqrt(v);
  ASSERT_TRUE(SameNd(GetAlloc(sq), sw, 1e-15));
  EXPECT_EQ(dtx_array_dim(dtx_add(q.s, q.s), 0), -1); /* two of unknown length: checked when computed */
  /* full reductions: known shapes */
  double sum = 0, mx = 0, mean = 0;
  for (double v : q.want.v) sum += v;
  mx = q.want.v.back();
  mean = sum / static_cast<double>(q.want.v.size());
  double got = 0;
  ASSERT_EQ(dtx_array_compute(dtx_sum(q.s, nullptr, 0), &got, sizeof got), DTX_OK) << dtx_last_error();
  EXPECT_EQ(got, sum);
  ASSERT_EQ(dtx_array_compute(dtx_max(q.s, nullptr, 0), &got, sizeof got), DTX_OK) << dtx_last_error();
  EXPECT_EQ(got, mx);
  int64_t count = 0;
  ASSERT_EQ(dtx_array_compute(dtx_sum(dtx_astype(dtx_binary_scalar(DTX_GE, q.s, 0), DTX_BOOL), nullptr, 0),
                              &count, sizeof count),
            DTX_OK)
      << dtx_last_error();
  EXPECT_EQ(count, static_cast<int64_t>(q.want.v.size()));
  /* x - mean(x[x > 20.5]): a known array beside a reduction of unknown length */
  dtx_array *c = dtx_sub(q.x, dtx_mean(q.s, nullptr, 0));
  ASSERT_NE(c, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dim(c, 0), 50);
  Nd cw = q.xv;
  for (auto &v : cw.v) v -= mean;
  ASSERT_TRUE(SameNd(Get(c), cw, 1e-12));
  ASSERT_EQ(dtx_array_compute(dtx_nansum(q.s, nullptr, 0), &got, sizeof got), DTX_OK) << dtx_last_error();
  EXPECT_EQ(got, sum);
  /* reductions of an empty selection, as NumPy */
  Sel none = MakeSel(cl(), 10, 3, 100);
  ASSERT_EQ(dtx_array_compute(dtx_sum(none.s, nullptr, 0), &got, sizeof got), DTX_OK) << dtx_last_error();
  EXPECT_EQ(got, 0);
  EXPECT_EQ(dtx_array_compute(dtx_max(none.s, nullptr, 0), &got, sizeof got), DTX_EINVAL);
  EXPECT_TRUE(Mentions("no identity")) << dtx_last_error();
  Nd empty = GetAlloc(none.s);
  EXPECT_EQ(empty.shape, std::vector<int64_t>{0});
}

TEST_P(ArrayMask, OtherOperationsRefuseUnknownLengths) {
  Scope sc;
  Sel q = MakeSel(cl(), 30, 4, 10);
  int64_t ten = 10, two = 2;
  dtx_array *known = dtx_ones(cl(), 1, &ten, &two, DTX_F64);
  dtx_index ix = {DTX_INDEX_SLICE, 1, 5, 1};
  int64_t idx[1] = {0};
  int64_t ch[1] = {5};
  dtx_array *both[2] = {q.s, known};
  dtx_array *sum = dtx_sum(q.s, nullptr, 0);
  double pct = 50;
  struct Case {
    const char *what;
    dtx_array *r;
  } cases[] = {
      {"slice", dtx_slice(q.s, 1, &ix)},
      {"rechunk", dtx_rechunk(q.s, ch)},
      {"concatenate", dtx_concatenate(both, 2, 0)},
      {"binary with a known 1-d array", dtx_add(q.s, known)},
      {"matmul", dtx_matmul(q.s, q.s)},
      {"sort", dtx_sort(q.s, 0)},
      {"take", dtx_take(q.s, idx, 1, 0)},
      {"mask_select", dtx_mask_select(q.s, dtx_binary_scalar(DTX_GT, q.s, 0))},
      /* unique reads a selection's pieces (array_unique_test), not an operation over one */
      {"unique of an operation over one", dtx_unique(dtx_binary_scalar(DTX_MUL, q.s, 2))},
      {"broadcast_to", dtx_broadcast_to(q.s, 1, &ten)},
      {"transpose of a reduction", dtx_transpose(dtx_sum(q.s, nullptr, 0), nullptr)},
      {"cumsum", dtx_cumsum(q.s, 0)},
      {"topk", dtx_topk(q.s, 2, 0)},
      {"histogram", dtx_histogram(q.s, 4, 0, 30, nullptr, 0, nullptr)},
      {"percentile", dtx_percentile(q.s, &pct, 1)},
      {"map_blocks", dtx_map_blocks(nullptr, Identity, nullptr, &q.s, 1, DTX_F64, nullptr, 0)},
  };
  for (const Case &c : cases) {
    EXPECT_EQ(c.r, nullptr) << c.what;
    EXPECT_TRUE(Mentions("dtx_array_compute_chunk_sizes")) << c.what << ": " << dtx_last_error();
  }
  dtx_graph *g = nullptr;
  ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
  dtx_task_id id;
  EXPECT_EQ(dtx_array_graph(sum, g, &id, 1, nullptr), DTX_EINVAL);
  EXPECT_TRUE(Mentions("dtx_array_compute_chunk_sizes")) << dtx_last_error();
  dtx_graph_destroy(g);
}

TEST_P(ArrayMask, ComputeChunkSizesPersistAndSave) {
  Scope sc;
  Sel q = MakeSel(cl(), 40, 6, 12.5);
  dtx_array *k = nullptr;
  ASSERT_EQ(dtx_array_compute_chunk_sizes(q.s, &k), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtx_array_shape_known(k), 1);
  EXPECT_EQ(dtx_array_dim(k, 0), static_cast<int64_t>(q.want.v.size()));
  ASSERT_TRUE(SameNd(Get(k), q.want, 0));
  dtx_index ix = {DTX_INDEX_SLICE, 1, 5, 1};
  Nd sl = Get(dtx_slice(k, 1, &ix));
  ASSERT_EQ(sl.v.size(), 4u);
  EXPECT_EQ(sl.v[0], q.want.v[1]);
  /* of an expression: known after */
  dtx_array *k2 = nullptr;
  ASSERT_EQ(dtx_array_compute_chunk_sizes(dtx_binary_scalar(DTX_MUL, q.s, 3), &k2), DTX_OK);
  EXPECT_EQ(dtx_array_dim(k2, 0), static_cast<int64_t>(q.want.v.size()));
  dtx_array *same = nullptr;
  ASSERT_EQ(dtx_array_compute_chunk_sizes(q.x, &same), DTX_OK);
  EXPECT_EQ(same, q.x);
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(q.s, nullptr, &p), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtx_array_dim(p, 0), static_cast<int64_t>(q.want.v.size()));
  ASSERT_TRUE(SameNd(Get(p), q.want, 0));
  std::string path = ::testing::TempDir() + "mask_" + GetParam().name + ".npy";
  ASSERT_EQ(dtx_save_npy(q.s, path.c_str()), DTX_OK) << dtx_last_error();
  dtx_array *l = nullptr;
  ASSERT_EQ(dtx_load_npy(cl(), path.c_str(), nullptr, &l), DTX_OK) << dtx_last_error();
  ASSERT_TRUE(SameNd(Get(l), q.want, 0));
  std::remove(path.c_str());
}

TEST_P(ArrayMask, BadInput) {
  Scope sc;
  int64_t shape[2] = {4, 5}, chunks[2] = {2, 2};
  dtx_array *a = dtx_ones(cl(), 2, shape, chunks, DTX_F32);
  EXPECT_EQ(dtx_mask_select(a, a), nullptr);
  EXPECT_TRUE(Mentions("bool")) << dtx_last_error();
  int64_t other[2] = {5, 4};
  EXPECT_EQ(dtx_mask_select(a, dtx_ones(cl(), 2, other, chunks, DTX_BOOL)), nullptr);
  EXPECT_EQ(dtx_mask_select(nullptr, a), nullptr);
  EXPECT_EQ(dtx_array_compute_alloc(a, DTX_F64, reinterpret_cast<void **>(&shape), nullptr), DTX_EINVAL);
  EXPECT_EQ(dtx_array_compute_alloc(nullptr, DTX_F64, nullptr, nullptr), DTX_EINVAL);
  EXPECT_EQ(dtx_array_compute_chunk_sizes(nullptr, nullptr), DTX_EINVAL);
}

using cd = std::complex<double>;

/* A complex128 array of unknown length computed into a vector. */
std::vector<cd> GetComplex(const dtx_array *a) {
  void *buf = nullptr;
  int64_t n = -1;
  dtx_status rc = dtx_array_compute_alloc(a, DTX_C128, &buf, &n);
  if (rc != DTX_OK) {
    ADD_FAILURE() << "compute_alloc: " << dtx_status_name(rc) << ": " << dtx_last_error();
    return {};
  }
  std::vector<cd> r(static_cast<cd *>(buf), static_cast<cd *>(buf) + n);
  std::free(buf);
  return r;
}

TEST_P(ArrayMask, ComplexSelections) {
  Scope sc;
  uint64_t seed = std::random_device{}();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> small(-3, 3);
  int64_t shape[2] = {9, 7}, chunks[2] = {4, 3};
  std::vector<cd> z(63);
  std::vector<uint8_t> m(63);
  for (size_t i = 0; i < z.size(); i++) {
    z[i] = cd(small(rng), small(rng)); /* repeats for unique */
    m[i] = static_cast<uint8_t>(rng() % 2);
  }
  dtx_array *za = dtx_from_host(cl(), 2, shape, chunks, DTX_C128, z.data(), DTX_HOST_COPY);
  dtx_array *ma = dtx_from_host(cl(), 2, shape, chunks, DTX_BOOL, m.data(), DTX_HOST_COPY);
  dtx_array *s = dtx_mask_select(za, ma);
  ASSERT_NE(s, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dtype(s), DTX_C128);
  EXPECT_EQ(dtx_array_shape_known(s), 0);
  std::vector<cd> want;
  for (size_t i = 0; i < z.size(); i++)
    if (m[i]) want.push_back(z[i]);
  EXPECT_EQ(GetComplex(s), want);
  /* resolved: every complex operation, e.g. the sum */
  dtx_array *k = nullptr;
  ASSERT_EQ(dtx_array_compute_chunk_sizes(s, &k), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtx_array_dim(k, 0), static_cast<int64_t>(want.size()));
  cd total = 0, got = 0;
  for (cd v : want) total += v;
  ASSERT_EQ(dtx_array_compute(dtx_sum(k, nullptr, 0), &got, sizeof got), DTX_OK) << dtx_last_error();
  EXPECT_EQ(got, total);
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(s, nullptr, &p), DTX_OK) << dtx_last_error();
  EXPECT_EQ(GetComplex(p), want);
  std::string path = ::testing::TempDir() + "cmask_" + GetParam().name + ".npy";
  ASSERT_EQ(dtx_save_npy(s, path.c_str()), DTX_OK) << dtx_last_error();
  dtx_array *l = nullptr;
  ASSERT_EQ(dtx_load_npy(cl(), path.c_str(), nullptr, &l), DTX_OK) << dtx_last_error();
  EXPECT_EQ(GetComplex(l), want);
  std::remove(path.c_str());
  /* unique of the selection: NumPy's order (lexicographic) */
  std::vector<cd> u = want;
  auto lex = [](cd a, cd b) { return a.real() < b.real() || (a.real() == b.real() && a.imag() < b.imag()); };
  std::sort(u.begin(), u.end(), lex);
  u.erase(std::unique(u.begin(), u.end()), u.end());
  EXPECT_EQ(GetComplex(dtx_unique(s)), u);
  /* complex64 */
  dtx_array *s64 = dtx_mask_select(dtx_astype(za, DTX_C64), ma);
  ASSERT_NE(s64, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dtype(s64), DTX_C64);
  void *buf = nullptr;
  int64_t n = -1;
  ASSERT_EQ(dtx_array_compute_alloc(s64, DTX_C64, &buf, &n), DTX_OK) << dtx_last_error();
  ASSERT_EQ(n, static_cast<int64_t>(want.size()));
  for (int64_t i = 0; i < n; i++) EXPECT_EQ(cd(static_cast<std::complex<float> *>(buf)[i]), want[i]);
  std::free(buf);
  /* other operations ask for the length first */
  dtx_array *refused[] = {dtx_add(s, s), dtx_binary_scalar(DTX_MUL, s, 2), dtx_sum(s, nullptr, 0),
                          dtx_real(s), dtx_abs(s)};
  for (dtx_array *r : refused) {
    EXPECT_EQ(r, nullptr);
    EXPECT_TRUE(Mentions("dtx_array_compute_chunk_sizes")) << dtx_last_error();
  }
}

}  // namespace
