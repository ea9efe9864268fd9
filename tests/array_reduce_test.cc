/*
 * tests/array_reduce_test.cc - reductions of chunked arrays (sum, prod, mean,
 * min, max, var, std, argmin, argmax, any, all) over every axis or a chosen
 * set, with keepdims and split_every, against plain loops in double
 * precision, on random shapes, chunkings and values from printed seeds, under
 * sync, threads and the cluster scheduler on sim:1..4; the shape of the
 * reduction tree; numerical stability of var.
 */
#include <gtest/gtest.h>

#include <cmath>

#include "array_util.h"

using namespace dtxa_test;

namespace {

class ArrayReduce : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
  int Rounds(int n) const { return dtxt::kSanitized ? std::max(2, n / 4) : n; }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayReduce, ::testing::ValuesIn(AllScheds()), SchedName());

bool IsFloat(dtx_dtype t) { return t == DTX_F32 || t == DTX_F64; }

dtx_dtype ResultType(dtx_reduction r, dtx_dtype t) {
  switch (r) {
    case DTX_SUM:
    case DTX_PROD:
      return IsFloat(t) ? t : DTX_I64;
    case DTX_MEAN:
    case DTX_VAR:
    case DTX_STD:
      return t == DTX_F32 ? DTX_F32 : DTX_F64;
    case DTX_ARGMIN:
    case DTX_ARGMAX:
      return DTX_I64;
    case DTX_ANY:
    case DTX_ALL:
      return DTX_BOOL;
    default:
      return t;
  }
}

/* The reference: reduce x over the axes in mask. */
Nd RefReduce(const Nd &x, dtx_reduction r, unsigned mask, bool keepdims, int ddof, double *scale) {
  int nd = x.ndim();
  Nd out;
  out.t = ResultType(r, x.t);
  std::vector<int64_t> kept_shape;
  for (int d = 0; d < nd; d++) {
    if ((mask >> d) & 1) {
      if (keepdims) out.shape.push_back(1);
    } else {
      out.shape.push_back(x.shape[d]);
      kept_shape.push_back(x.shape[d]);
    }
  }
  Nd kept;
  kept.shape = kept_shape;
  int64_t nout = kept.size();
  std::vector<std::vector<std::pair<double, int64_t>>> groups(static_cast<size_t>(nout));
  int nred = 0;
  for (int d = 0; d < nd; d++) nred += (mask >> d) & 1;
  for (int64_t i = 0; i < x.size(); i++) {
    auto m = x.unflat(i);
    std::vector<int64_t> km;
    int64_t along = 0;
    for (int d = 0; d < nd; d++) {
      if ((mask >> d) & 1)
        along = m[d];
      else
        km.push_back(m[d]);
    }
    int64_t idx = nred == 1 ? along : i; /* argmin/argmax: along the axis, or flat */
    groups[static_cast<size_t>(kept.flat(km))].push_back({x.v[static_cast<size_t>(i)], idx});
  }
  *scale = 0;
  for (auto &g : groups) {
    double v = 0, s = 0;
    for (auto &e : g) {
      s += e.first;
      *scale = std::max(*scale, std::fabs(e.first) * static_cast<double>(g.size()));
    }
    double n = static_cast<double>(g.size());
    switch (r) {
      case DTX_SUM:
        v = s;
        break;
      case DTX_PROD:
        v = 1;
        for (auto &e : g) v *= e.first;
        break;
      case DTX_MEAN:
        v = s / n;
        break;
      case DTX_MIN:
        v = g[0].first;
        for (auto &e : g) v = std::min(v, e.first);
        break;
      case DTX_MAX:
        v = g[0].first;
        for (auto &e : g) v = std::max(v, e.first);
        break;
      case DTX_VAR:
      case DTX_STD: {
        double mean = s / n, m2 = 0;
        for (auto &e : g) m2 += (e.first - mean) * (e.first - mean);
        v = m2 / std::max(0.0, n - ddof);
        if (r == DTX_STD) v = std::sqrt(v);
        break;
      }
      case DTX_ARGMIN:
      case DTX_ARGMAX: {
        size_t best = 0;
        for (size_t k = 1; k < g.size(); k++)
          if (r == DTX_ARGMIN ? g[k].first < g[best].first : g[k].first > g[best].first) best = k;
        v = static_cast<double>(g[best].second);
        break;
      }
      case DTX_ANY:
        v = 0;
        for (auto &e : g) v = v || e.first != 0;
        break;
      default:
        v = 1;
        for (auto &e : g) v = v && e.first != 0;
        break;
    }
    out.v.push_back(As(out.t, v));
  }
  return out;
}

const dtx_reduction kAll[] = {DTX_SUM, DTX_PROD,   DTX_MEAN,   DTX_MIN, DTX_MAX, DTX_VAR,
                              DTX_STD, DTX_ARGMIN, DTX_ARGMAX, DTX_ANY, DTX_ALL};

}  // namespace

TEST_P(ArrayReduce, EveryReductionMatchesPlainLoops) {
  Scope sc;
  for (int r = 0; r < Rounds(30); r++) {
    uint64_t seed = 2000 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int nd = 1 + static_cast<int>(rng() % 8);
    auto shape = RandShape(rng, nd, 700);
    auto ch = RandChunks(rng, shape);
    dtx_dtype t = AllTypes()[rng() % 5];
    Nd x = RandNd(rng, shape, t);
    Nd xp = x; /* for prod: values that neither overflow nor vanish */
    for (auto &e : xp.v)
      e = t == DTX_BOOL ? e : IsFloat(t) ? As(t, 0.9 + 0.2 * std::fabs(e) / 4) : (e < 0 ? -1 : 1);
    dtx_array *a = Put(cl(), x, ch), *ap = Put(cl(), xp, ch);
    /* the axes: all (NULL), or a random non-empty subset */
    std::vector<int> axes;
    unsigned mask = 0;
    if (rng() % 3 != 0) {
      for (int d = 0; d < nd; d++)
        if (rng() % 2) {
          axes.push_back(rng() % 2 ? d : d - nd); /* negative axes too */
          mask |= 1u << d;
        }
    }
    if (mask == 0) {
      axes.clear();
      mask = (1u << nd) - 1;
    }
    dtx_reduce_opts o = DTX_REDUCE_OPTS_INIT;
    o.keepdims = static_cast<int>(rng() % 2);
    o.split_every = (const int[]){0, 2, 3, 4, 7}[rng() % 5];
    o.ddof = static_cast<int>(rng() % 2);
    int nred = __builtin_popcount(mask);
    for (dtx_reduction red : kAll) {
      SCOPED_TRACE(::testing::Message()
                   << "reduction " << red << " of " << dtx_dtype_name(t) << ShapeStr(shape) << " chunks "
                   << ShapeStr(ch) << " axes mask " << mask << " keepdims " << o.keepdims << " split_every "
                   << o.split_every << " ddof " << o.ddof);
      if ((red == DTX_ARGMIN || red == DTX_ARGMAX) && nred != 1 && nred != nd) {
        EXPECT_EQ(dtx_reduce(a, red, axes.data(), static_cast<int>(axes.size()), &o), nullptr);
        continue;
      }
      const Nd &src = red == DTX_PROD ? xp : x;
      dtx_array *y = dtx_reduce(red == DTX_PROD ? ap : a, red, axes.empty() ? nullptr : axes.data(),
                                static_cast<int>(axes.size()), &o);
      ASSERT_NE(y, nullptr) << dtx_last_error();
      double scale;
      Nd want = RefReduce(src, red, mask, o.keepdims != 0, o.ddof, &scale);
      Nd got = Get(y);
      double rtol = want.t == DTX_F32 ? 1e-5 : want.t == DTX_F64 ? 1e-10 : 0;
      double atol = IsFloat(want.t) && (red == DTX_SUM || red == DTX_MEAN || red == DTX_VAR || red == DTX_STD)
                        ? scale * (want.t == DTX_F32 ? 1e-6 : 1e-13)
                        : 0;
      EXPECT_TRUE(SameNd(got, want, rtol, atol));
    }
  }
}

TEST_P(ArrayReduce, ReductionsOfExpressionsAndViews) {
  Scope sc;
  for (int r = 0; r < Rounds(10); r++) {
    uint64_t seed = 2200 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int64_t n = 3 + static_cast<int64_t>(rng() % 20);
    std::vector<int64_t> shape = {n, n};
    Nd x = RandNd(rng, shape, DTX_F64);
    dtx_array *a = Put(cl(), x, RandChunks(rng, shape));
    /* (x + x.T).sum() and (x * 2 + 1).mean(axis=0) and x[::3, ::-2].max() */
    double s, want = 0;
    ASSERT_EQ(dtx_array_compute(dtx_sum(dtx_add(a, dtx_transpose(a, nullptr)), nullptr, 0), &s, sizeof s),
              DTX_OK)
        << dtx_last_error();
    for (double v : x.v) want += 2 * v;
    EXPECT_NEAR(s, want, 1e-10 * static_cast<double>(n * n));
    Nd m = Get(dtx_mean(dtx_add(dtx_mul(a, dtx_scalar(cl(), 2)), dtx_scalar(cl(), 1)), (const int[]){0}, 1));
    for (int64_t j = 0; j < n; j++) {
      double w = 0;
      for (int64_t i = 0; i < n; i++) w += x.v[static_cast<size_t>(i * n + j)] * 2 + 1;
      EXPECT_NEAR(m.v[static_cast<size_t>(j)], w / static_cast<double>(n), 1e-12);
    }
    dtx_index idx[2] = {{DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 3}, {DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, -2}};
    double mx;
    ASSERT_EQ(dtx_array_compute(dtx_max(dtx_slice(a, 2, idx), nullptr, 0), &mx, sizeof mx), DTX_OK)
        << dtx_last_error();
    double wm = -1e300;
    for (int64_t i = 0; i < n; i += 3)
      for (int64_t j = n - 1; j >= 0; j -= 2) wm = std::max(wm, x.v[static_cast<size_t>(i * n + j)]);
    EXPECT_EQ(mx, wm);
  }
}

TEST_P(ArrayReduce, TreeFanInIsSplitEvery) {
  Scope sc;
  int64_t shape[1] = {64}, ch[1] = {1};
  dtx_array *x = dtx_random_uniform(cl(), 1, shape, ch, DTX_F64, 9);
  for (int se : {2, 4, 8, 64, 1000}) {
    dtx_reduce_opts o = DTX_REDUCE_OPTS_INIT;
    o.split_every = se;
    dtx_array *s = dtx_reduce(x, DTX_SUM, nullptr, 0, &o);
    dtxt::GraphPtr g = dtxt::MakeGraph();
    dtx_task_id id;
    ASSERT_EQ(dtx_array_graph(s, g.get(), &id, 1, nullptr), DTX_OK) << dtx_last_error();
    size_t want = 64, level = 64;
    while (level > 1) {
      level = (level + static_cast<size_t>(se) - 1) / static_cast<size_t>(se);
      want += level;
    }
    EXPECT_EQ(dtx_graph_size(g.get()), want) << "split_every " << se;
    double total, ref;
    ASSERT_EQ(dtx_array_compute(s, &total, sizeof total), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtx_array_compute(dtx_sum(x, nullptr, 0), &ref, sizeof ref), DTX_OK) << dtx_last_error();
    EXPECT_NEAR(total, ref, 1e-12);
  }
  /* a fan-in wider than any fixed buffer: 300 partials into one combine task */
  {
    int64_t s300[1] = {300}, c1[1] = {1};
    dtx_array *z = dtx_arange(cl(), 0, 300, 1, 1, DTX_I64);
    (void)s300;
    (void)c1;
    dtx_reduce_opts o = DTX_REDUCE_OPTS_INIT;
    o.split_every = 400;
    int64_t total = 0;
    ASSERT_EQ(dtx_array_compute(dtx_reduce(z, DTX_SUM, nullptr, 0, &o), &total, sizeof total), DTX_OK)
        << dtx_last_error();
    EXPECT_EQ(total, 299 * 300 / 2);
  }
  /* two reduced axes: the fan-in per axis is floor(sqrt(4)) = 2 */
  int64_t s2[2] = {8, 8}, c2[2] = {1, 1};
  dtx_array *y = dtx_random_uniform(cl(), 2, s2, c2, DTX_F64, 10);
  dtxt::GraphPtr g = dtxt::MakeGraph();
  dtx_task_id id;
  ASSERT_EQ(dtx_array_graph(dtx_sum(y, nullptr, 0), g.get(), &id, 1, nullptr), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtx_graph_size(g.get()), 64u + 16u + 4u + 1u);
}

TEST_P(ArrayReduce, VarianceIsStable) {
  Scope sc;
  /* 1e9 plus small noise: a one-pass sum of squares would lose every digit */
  const int64_t n = 20000 / dtxt::kScale;
  std::mt19937_64 rng(4242);
  std::vector<double> v(static_cast<size_t>(n));
  double mean = 0;
  for (auto &e : v) {
    e = 1e9 + std::uniform_real_distribution<double>(-1, 1)(rng);
    mean += e;
  }
  mean /= static_cast<double>(n);
  long double m2 = 0;
  for (double e : v) m2 += (static_cast<long double>(e) - mean) * (static_cast<long double>(e) - mean);
  double want = static_cast<double>(m2 / n);
  int64_t shape[1] = {n}, ch[1] = {777};
  dtx_array *x = dtx_from_host(cl(), 1, shape, ch, DTX_F64, v.data(), DTX_HOST_COPY);
  double got;
  ASSERT_EQ(dtx_array_compute(dtx_var(x, nullptr, 0), &got, sizeof got), DTX_OK) << dtx_last_error();
  EXPECT_NEAR(got, want, 1e-6 * want);
  ASSERT_EQ(dtx_array_compute(dtx_std(x, nullptr, 0), &got, sizeof got), DTX_OK) << dtx_last_error();
  EXPECT_NEAR(got, std::sqrt(want), 1e-6 * std::sqrt(want));
}

TEST_P(ArrayReduce, NanAndTies) {
  Scope sc;
  double v[8] = {3, 1, NAN, 1, 7, 7, NAN, 0};
  int64_t shape[1] = {8}, ch[1] = {3};
  dtx_array *x = dtx_from_host(cl(), 1, shape, ch, DTX_F64, v, DTX_HOST_COPY);
  double mn, mx;
  int64_t amin, amax;
  ASSERT_EQ(dtx_array_compute(dtx_min(x, nullptr, 0), &mn, sizeof mn), DTX_OK);
  ASSERT_EQ(dtx_array_compute(dtx_max(x, nullptr, 0), &mx, sizeof mx), DTX_OK);
  EXPECT_TRUE(std::isnan(mn));
  EXPECT_TRUE(std::isnan(mx));
  ASSERT_EQ(dtx_array_compute(dtx_argmin(x, DTX_NO_AXIS), &amin, sizeof amin), DTX_OK);
  ASSERT_EQ(dtx_array_compute(dtx_argmax(x, 0), &amax, sizeof amax), DTX_OK);
  EXPECT_EQ(amin, 2); /* the first NaN, as NumPy */
  EXPECT_EQ(amax, 2);
  int32_t t[6] = {5, 9, 9, 1, 1, 9};
  int64_t s6[1] = {6}, c2[1] = {2};
  dtx_array *y = dtx_from_host(cl(), 1, s6, c2, DTX_I32, t, DTX_HOST_COPY);
  ASSERT_EQ(dtx_array_compute(dtx_argmin(y, DTX_NO_AXIS), &amin, sizeof amin), DTX_OK);
  ASSERT_EQ(dtx_array_compute(dtx_argmax(y, DTX_NO_AXIS), &amax, sizeof amax), DTX_OK);
  EXPECT_EQ(amin, 3); /* the first of ties */
  EXPECT_EQ(amax, 1);
}

/* Along axis 0 of a float64 matrix (the column paths of the fused tasks):
 * min / max propagate NaN, argmin / argmax give the first NaN, else the
 * first of ties, per column, with several row chunks. */
TEST_P(ArrayReduce, ColumnsWithNanAndTies) {
  Scope sc;
  std::mt19937_64 rng(77);
  const int64_t R = 37, C = 29;
  std::vector<double> v(R * C);
  for (auto &e : v) e = static_cast<double>(rng() % 7) - 3; /* ties */
  for (int64_t c = 0; c < C; c += 3) v[((c * 5) % R) * C + c] = NAN;
  v[(R - 1) * C + 1] = NAN; /* a NaN in the last row */
  int64_t shape[2] = {R, C}, ch[2] = {8, 10};
  dtx_array *x = dtx_from_host(cl(), 2, shape, ch, DTX_F64, v.data(), DTX_HOST_COPY);
  const int ax[1] = {0};
  std::vector<double> mn(C), mx(C);
  std::vector<int64_t> amn(C), amx(C);
  ASSERT_EQ(dtx_array_compute(dtx_min(x, ax, 1), mn.data(), C * sizeof(double)), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtx_array_compute(dtx_max(x, ax, 1), mx.data(), C * sizeof(double)), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtx_array_compute(dtx_argmin(x, 0), amn.data(), C * sizeof(int64_t)), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtx_array_compute(dtx_argmax(x, 0), amx.data(), C * sizeof(int64_t)), DTX_OK) << dtx_last_error();
  for (int64_t c = 0; c < C; c++) {
    int64_t wmn = 0, wmx = 0, nan = -1;
    for (int64_t r = 0; r < R; r++) {
      double e = v[r * C + c];
      if (std::isnan(e) && nan < 0) nan = r;
      if (e < v[wmn * C + c]) wmn = r;
      if (e > v[wmx * C + c]) wmx = r;
    }
    if (nan >= 0) {
      EXPECT_TRUE(std::isnan(mn[c]) && std::isnan(mx[c])) << "column " << c;
      EXPECT_EQ(amn[c], nan) << "column " << c;
      EXPECT_EQ(amx[c], nan) << "column " << c;
    } else {
      EXPECT_EQ(mn[c], v[wmn * C + c]) << "column " << c;
      EXPECT_EQ(mx[c], v[wmx * C + c]) << "column " << c;
      EXPECT_EQ(amn[c], wmn) << "column " << c;
      EXPECT_EQ(amx[c], wmx) << "column " << c;
    }
  }
}

/* NumPy's argmax (min = false) or argmin of x (an outer x n x inner block
 * in C order) along its middle axis: the first NaN, else the first of the
 * extreme values. */
std::vector<int64_t> ArgOracle(const std::vector<double> &x, int64_t outer, int64_t n, int64_t inner,
                               bool min) {
  std::vector<int64_t> out(static_cast<size_t>(outer * inner));
  for (int64_t o = 0; o < outer; o++)
    for (int64_t c = 0; c < inner; c++) {
      int64_t best = 0;
      for (int64_t r = 0; r < n; r++) {
        double e = x[(o * n + r) * inner + c], b = x[(o * n + best) * inner + c];
        if (std::isnan(b)) break;
        if (std::isnan(e) || (min ? e < b : e > b)) best = r;
      }
      out[o * inner + c] = best;
    }
  return out;
}

/* Values in -2..2 (ties everywhere) with NaN, infinities and planted
 * winners where the column fast path (kernels/fused_colarg.c) could go
 * wrong: row 0, the last row (a row after the last group of four), two NaN
 * in one group of four rows and in different chunks, a column of equal
 * values, a planted maximum twice in different chunks, the last columns
 * (the loops' tails) and those past the first block of 512. */
Nd ArgColumns(uint64_t seed, int64_t R, int64_t C, dtx_dtype t) {
  std::mt19937_64 rng(seed);
  Nd x;
  x.shape = {R, C};
  x.t = t;
  x.v.resize(static_cast<size_t>(R * C));
  for (auto &e : x.v) e = static_cast<double>(static_cast<int64_t>(rng() % 5) - 2);
  auto at = [&](int64_t r, int64_t c) -> double & { return x.v[static_cast<size_t>(r * C + c)]; };
  at(0, 0) = NAN;
  at(R - 1, 1) = NAN;
  at(60, 2) = NAN;
  at(10, 2) = NAN;
  at(101, 3) = NAN;
  at(102, 3) = NAN;
  for (int64_t r = 0; r < R; r++) at(r, 5) = 1;
  at(120, 7) = 9;
  at(30, 7) = 9;
  at(40, 8) = INFINITY;
  at(90, 8) = INFINITY;
  at(41, 8) = -INFINITY;
  at(150, C - 1) = NAN;
  at(151, C - 1) = NAN;
  at(3, C - 2) = 9;
  at(R - 1, C - 3) = -9;
  return x;
}

TEST_P(ArrayReduce, ArgAlongRowsOfFloatColumns) {
  /* argmax / argmin over axis 0 of float64 and float32 arrays (the column
   * fast path where it applies) against NumPy's rule: ragged chunks, one
   * chunk, a column count not a multiple of the vector width, reversed and
   * stepped rows, and the same over axis 1 of a 3-d array */
  Scope sc;
  const int64_t R = 203, C = 531;
  const std::vector<std::vector<int64_t>> chunkings = {{50, 531}, {64, 200}, {203, 531}, {7, 13}};
  for (dtx_dtype t : {DTX_F64, DTX_F32}) {
    uint64_t seed = 8800 + static_cast<uint64_t>(t);
    std::printf("[ seed     ] %llu\n", static_cast<unsigned long long>(seed));
    Nd x = ArgColumns(seed, R, C, t);
    std::vector<double> rev(x.v.size()), step;
    for (int64_t r = 0; r < R; r++)
      for (int64_t c = 0; c < C; c++) rev[(R - 1 - r) * C + c] = x.v[r * C + c];
    for (int64_t r = 0; r < R; r += 2)
      for (int64_t c = 0; c < C; c++) step.push_back(x.v[r * C + c]);
    for (const auto &ch : chunkings) {
      for (bool min : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "seed " << seed << " " << dtx_dtype_name(t) << " chunks "
                                          << ch[0] << "x" << ch[1] << (min ? " argmin" : " argmax"));
        dtx_array *a = Put(cl(), x, ch);
        dtx_index rv[1] = {{DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, -1}},
                  st[1] = {{DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 2}};
        struct View {
          dtx_array *a;
          const std::vector<double> *v;
          int64_t rows;
          const char *what;
        } views[] = {{a, &x.v, R, "x"},
                     {dtx_slice(a, 1, rv), &rev, R, "x[::-1]"},
                     {dtx_slice(a, 1, st), &step, (R + 1) / 2, "x[::2]"}};
        for (const View &w : views) {
          SCOPED_TRACE(w.what);
          std::vector<int64_t> got(C);
          dtx_array *r = min ? dtx_argmin(w.a, 0) : dtx_argmax(w.a, 0);
          ASSERT_EQ(dtx_array_compute(r, got.data(), got.size() * sizeof(int64_t)), DTX_OK)
              << dtx_last_error();
          std::vector<int64_t> want = ArgOracle(*w.v, 1, w.rows, C, min);
          for (int64_t c = 0; c < C; c++) ASSERT_EQ(got[c], want[c]) << "column " << c;
        }
      }
    }
    /* axis 1 of a 3-d array: planes of rows reduced into their own states */
    Nd y = ArgColumns(seed + 1, 3 * R, 77, t);
    y.shape = {3, R, 77};
    for (bool min : {false, true}) {
      SCOPED_TRACE(::testing::Message()
                   << "seed " << seed + 1 << " 3x203x77 axis 1" << (min ? " argmin" : " argmax"));
      dtx_array *a = Put(cl(), y, {2, 60, 40});
      std::vector<int64_t> got(3 * 77);
      dtx_array *r = min ? dtx_argmin(a, 1) : dtx_argmax(a, 1);
      ASSERT_EQ(dtx_array_compute(r, got.data(), got.size() * sizeof(int64_t)), DTX_OK) << dtx_last_error();
      std::vector<int64_t> want = ArgOracle(y.v, 3, R, 77, min);
      for (size_t k = 0; k < got.size(); k++) ASSERT_EQ(got[k], want[k]) << "output " << k;
    }
  }
}

TEST_P(ArrayReduce, ArgAlongLongRows) {
  /* argmax / argmin over axis 1 and over the flattened array of rows longer
   * than a strip (the general path's lanes, kernels/fused_general.c
   * fold_one_arg) against NumPy's rule: ties everywhere, a planted extreme
   * twice in one lane and in two lanes, NaN twice (the first wins), in the
   * first and last elements, ragged chunks, float16 / float32 / float64 */
  Scope sc;
  const int64_t R = 29, C = 1100;
  for (dtx_dtype t : {DTX_F64, DTX_F32, DTX_F16}) {
    uint64_t seed = 8900 + static_cast<uint64_t>(t);
    std::printf("[ seed     ] %llu\n", static_cast<unsigned long long>(seed));
    Nd x = ArgColumns(seed, C, R, t); /* C x R: its planted columns become rows here */
    Nd y;
    y.shape = {R, C};
    y.t = t;
    y.v.resize(x.v.size());
    for (int64_t r = 0; r < R; r++)
      for (int64_t c = 0; c < C; c++) y.v[r * C + c] = x.v[c * R + r];
    y.v[9 * C + 40] = y.v[9 * C + 7] = 9;       /* two lanes: 7 wins */
    y.v[10 * C + 33] = y.v[10 * C + 65] = -9;   /* one lane (33 = 65 mod 32): 33 wins argmin */
    y.v[11 * C + 134] = y.v[11 * C + 70] = NAN; /* one lane: 70 wins */
    y.v[14 * C + 700] = y.v[14 * C + 90] = NAN; /* two strips: 90 wins */
    y.v[12 * C] = y.v[13 * C + C - 1] = NAN;
    for (const auto &ch : std::vector<std::vector<int64_t>>{{8, 1100}, {5, 300}, {29, 77}}) {
      for (bool min : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "seed " << seed << " " << dtx_dtype_name(t) << " chunks "
                                          << ch[0] << "x" << ch[1] << (min ? " argmin" : " argmax"));
        dtx_array *a = Put(cl(), y, ch);
        std::vector<int64_t> got(R), all(1);
        ASSERT_EQ(
            dtx_array_compute(min ? dtx_argmin(a, 1) : dtx_argmax(a, 1), got.data(), R * sizeof(int64_t)),
            DTX_OK)
            << dtx_last_error();
        std::vector<int64_t> want = ArgOracle(y.v, R, C, 1, min);
        for (int64_t r = 0; r < R; r++) ASSERT_EQ(got[r], want[r]) << "row " << r;
        ASSERT_EQ(dtx_array_compute(min ? dtx_argmin(a, DTX_NO_AXIS) : dtx_argmax(a, DTX_NO_AXIS), all.data(),
                                    sizeof(int64_t)),
                  DTX_OK)
            << dtx_last_error();
        EXPECT_EQ(all[0], ArgOracle(y.v, 1, R * C, 1, min)[0]);
        /* max / min along the rows (their own lanes, fold_one_ext): the value
         * argmax / argmin points at, NaN where a row holds one */
        const int one[] = {1};
        Nd ext = Get(min ? dtx_min(a, one, 1) : dtx_max(a, one, 1));
        ASSERT_EQ(ext.v.size(), static_cast<size_t>(R));
        for (int64_t r = 0; r < R; r++) {
          double w = y.v[static_cast<size_t>(r * C + want[r])];
          EXPECT_TRUE(std::isnan(w) ? std::isnan(ext.v[r]) : ext.v[r] == w)
              << "row " << r << ": " << ext.v[r];
        }
        Nd e1 = Get(min ? dtx_min(a, nullptr, 0) : dtx_max(a, nullptr, 0));
        ASSERT_EQ(e1.v.size(), 1u);
        EXPECT_TRUE(std::isnan(e1.v[0])) << "NaN in rows 11-14: the maximum over all is NaN";
      }
    }
  }
}

TEST_P(ArrayReduce, ZeroDimensionalAndSingleChunk) {
  Scope sc;
  dtx_array *s = dtx_scalar(cl(), 2.5);
  double v;
  ASSERT_EQ(dtx_array_compute(dtx_sum(s, nullptr, 0), &v, sizeof v), DTX_OK) << dtx_last_error();
  EXPECT_EQ(v, 2.5);
  int64_t shape[3] = {2, 3, 4};
  dtx_array *x = dtx_ones(cl(), 3, shape, shape, DTX_I32);
  int64_t n;
  ASSERT_EQ(dtx_array_compute(dtx_sum(x, nullptr, 0), &n, sizeof n), DTX_OK) << dtx_last_error();
  EXPECT_EQ(n, 24);
  dtx_reduce_opts o = DTX_REDUCE_OPTS_INIT;
  o.split_every = 1;
  EXPECT_EQ(dtx_reduce(x, DTX_SUM, nullptr, 0, &o), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("split_every"), std::string::npos);
}
