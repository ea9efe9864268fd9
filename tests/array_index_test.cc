/*
 * tests/array_index_test.cc - slicing with steps (negative too), integer
 * indexing, new axes, concatenate, stack, rechunk and broadcast_to of chunked
 * arrays, against index arithmetic done here, on random shapes and chunkings
 * from printed seeds, under sync, threads and the cluster scheduler on
 * sim:1..4.
 */
#include <gtest/gtest.h>

#include "array_util.h"

using namespace dtxa_test;

namespace {

class ArrayIndex : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
  int Rounds(int n) const { return dtxt::kSanitized ? std::max(2, n / 4) : n; }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayIndex, ::testing::ValuesIn(AllScheds()), SchedName());

/* Python's slice.indices(len) for one bound: default, from the end, clamped. */
int64_t ClampPos(int64_t v, int64_t dflt, int64_t len, int64_t lo, int64_t hi) {
  if (v == DTX_NONE) return dflt;
  if (v < 0) v += len;
  return v < lo ? lo : v > hi ? hi : v;
}

/* A random valid index entry for an axis of length len, and the positions it
 * selects: bounds may lie past the axis (clamped, as in Python) and the
 * selection may be empty. */
dtx_index RandIndex(std::mt19937_64 &rng, int64_t len, std::vector<int64_t> *pos, bool *drops) {
  dtx_index e;
  std::memset(&e, 0, sizeof e);
  *drops = false;
  pos->clear();
  if (len > 0 && rng() % 5 == 0) {
    e.kind = DTX_INDEX_INT;
    int64_t i = static_cast<int64_t>(rng() % static_cast<uint64_t>(len));
    e.start = rng() % 2 ? i : i - len;
    pos->push_back(i);
    *drops = true;
    return e;
  }
  e.kind = DTX_INDEX_SLICE;
  int64_t step = 1 + static_cast<int64_t>(rng() % 4);
  if (rng() % 2) step = -step;
  if (rng() % 4 == 0) step = 1;
  e.step = step;
  auto pick = [&]() -> int64_t {
    if (rng() % 3 == 0) return DTX_NONE;
    /* mostly inside the axis, sometimes up to 3 past either end */
    int64_t v = static_cast<int64_t>(rng() % static_cast<uint64_t>(len + 1));
    if (rng() % 5 == 0) v = len + static_cast<int64_t>(rng() % 4);
    return rng() % 2 ? v : v - len - (rng() % 5 == 0 ? 3 : 0);
  };
  e.start = pick();
  e.stop = pick();
  int64_t st, sp;
  if (step > 0) {
    st = ClampPos(e.start, 0, len, 0, len);
    sp = ClampPos(e.stop, len, len, 0, len);
    for (int64_t i = st; i < sp; i += step) pos->push_back(i);
  } else {
    st = ClampPos(e.start, len - 1, len, -1, len - 1);
    sp = ClampPos(e.stop, -1, len, -1, len - 1);
    for (int64_t i = st; i > sp; i += step) pos->push_back(i);
  }
  return e;
}

}  // namespace

TEST_P(ArrayIndex, SlicesAndIntegersMatchIndexArithmetic) {
  Scope sc;
  for (int r = 0; r < Rounds(40); r++) {
    uint64_t seed = 4000 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int nd = 1 + static_cast<int>(rng() % 7);
    auto shape = RandShape(rng, nd, 800);
    Nd x = RandNd(rng, shape, AllTypes()[rng() % 5]);
    dtx_array *a = Put(cl(), x, RandChunks(rng, shape));
    int nidx = static_cast<int>(rng() % (nd + 1));
    std::vector<dtx_index> idx;
    std::vector<std::vector<int64_t>> pos(nd);
    std::vector<bool> drop(nd, false);
    std::vector<int> newaxis_before(nd + 1, 0);
    for (int d = 0; d < nd; d++) {
      bool dr = false;
      if (d < nidx) {
        idx.push_back(RandIndex(rng, shape[d], &pos[d], &dr));
      } else {
        for (int64_t i = 0; i < shape[d]; i++) pos[d].push_back(i);
      }
      drop[d] = dr;
    }
    /* maybe a new axis in front (keeps the result within 8 dims) */
    int kept = 0;
    for (int d = 0; d < nd; d++) kept += !drop[d];
    bool lead_new = kept < 8 && rng() % 3 == 0 && !idx.empty();
    if (lead_new) {
      dtx_index na;
      std::memset(&na, 0, sizeof na);
      na.kind = DTX_INDEX_NEWAXIS;
      idx.insert(idx.begin(), na);
    }
    dtx_array *y = dtx_slice(a, static_cast<int>(idx.size()), idx.data());
    ASSERT_NE(y, nullptr) << dtx_last_error();
    Nd want;
    want.t = x.t;
    if (lead_new) want.shape.push_back(1);
    for (int d = 0; d < nd; d++)
      if (!drop[d]) want.shape.push_back(static_cast<int64_t>(pos[d].size()));
    /* iterate over the selected positions in C order */
    std::vector<size_t> c(nd, 0);
    bool any = true;
    for (int d = 0; d < nd; d++) any = any && !pos[d].empty();
    while (any) {
      std::vector<int64_t> m(nd);
      for (int d = 0; d < nd; d++) m[d] = pos[d][c[d]];
      want.v.push_back(x.v[static_cast<size_t>(x.flat(m))]);
      int d = nd - 1;
      while (d >= 0 && ++c[d] == pos[d].size()) c[d--] = 0;
      any = d >= 0;
    }
    Nd got = Get(y);
    EXPECT_TRUE(SameNd(got, want, 0));
    /* the view composes with elementwise ops and a second slice */
    if (want.size() > 0 && want.t != DTX_BOOL) {
      Nd w2 = want;
      for (auto &e : w2.v) e = As(want.t, e * 3);
      EXPECT_TRUE(SameNd(Get(dtx_add(y, dtx_add(y, y))), w2, 0));
    }
  }
}

TEST_P(ArrayIndex, ConcatenateAndStack) {
  Scope sc;
  for (int r = 0; r < Rounds(20); r++) {
    uint64_t seed = 4200 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int nd = 1 + static_cast<int>(rng() % 3);
    auto shape = RandShape(rng, nd, 200);
    int axis = static_cast<int>(rng() % nd);
    int n = 1 + static_cast<int>(rng() % 4);
    std::vector<Nd> parts;
    std::vector<dtx_array *> arrs;
    dtx_dtype t = DTX_BOOL;
    for (int i = 0; i < n; i++) {
      auto s = shape;
      s[axis] = 1 + static_cast<int64_t>(rng() % 6);
      dtx_dtype ti = AllTypes()[rng() % 5];
      static const dtx_dtype tab[5][5] = {
          {DTX_BOOL, DTX_I32, DTX_I64, DTX_F32, DTX_F64}, {DTX_I32, DTX_I32, DTX_I64, DTX_F64, DTX_F64},
          {DTX_I64, DTX_I64, DTX_I64, DTX_F64, DTX_F64},  {DTX_F32, DTX_F64, DTX_F64, DTX_F32, DTX_F64},
          {DTX_F64, DTX_F64, DTX_F64, DTX_F64, DTX_F64},
      };
      t = i == 0 ? ti : tab[t - 1][ti - 1];
      parts.push_back(RandNd(rng, s, ti));
      /* some pieces are expressions, some host data */
      dtx_array *p = Put(cl(), parts.back(), RandChunks(rng, s));
      arrs.push_back(rng() % 2 ? p : dtx_transpose(dtx_transpose(p, nullptr), nullptr));
    }
    dtx_array *c = dtx_concatenate(arrs.data(), n, rng() % 2 ? axis : axis - nd);
    ASSERT_NE(c, nullptr) << dtx_last_error();
    Nd want;
    want.t = t;
    want.shape = shape;
    want.shape[axis] = 0;
    for (auto &p : parts) want.shape[axis] += p.shape[axis];
    for (int64_t i = 0; i < want.size(); i++) {
      auto m = want.unflat(i);
      int k = 0;
      while (m[axis] >= parts[k].shape[axis]) m[axis] -= parts[k++].shape[axis];
      want.v.push_back(As(t, parts[k].v[static_cast<size_t>(parts[k].flat(m))]));
    }
    EXPECT_TRUE(SameNd(Get(c), want, 0));
    /* reversed along the axis: a view of a concatenation */
    std::vector<dtx_index> rev(axis + 1);
    std::memset(rev.data(), 0, rev.size() * sizeof rev[0]);
    for (int d = 0; d <= axis; d++) {
      rev[d].kind = DTX_INDEX_SLICE;
      rev[d].start = rev[d].stop = DTX_NONE;
      rev[d].step = d == axis ? -1 : 1;
    }
    Nd wr = want;
    for (int64_t i = 0; i < want.size(); i++) {
      auto m = want.unflat(i);
      m[axis] = want.shape[axis] - 1 - m[axis];
      wr.v[static_cast<size_t>(i)] = want.v[static_cast<size_t>(want.flat(m))];
    }
    EXPECT_TRUE(SameNd(Get(dtx_slice(c, axis + 1, rev.data())), wr, 0));
  }
  /* stack of equal shapes along a new axis */
  std::mt19937_64 rng(4300);
  Nd a = RandNd(rng, {3, 4}, DTX_F64), b = RandNd(rng, {3, 4}, DTX_F64);
  dtx_array *ab[2] = {Put(cl(), a, {2, 3}), Put(cl(), b, {3, 1})};
  for (int axis = 0; axis < 3; axis++) {
    Nd got = Get(dtx_stack(ab, 2, axis));
    std::vector<int64_t> ws = {3, 4};
    ws.insert(ws.begin() + axis, 2);
    ASSERT_EQ(got.shape, ws) << "axis " << axis;
    for (int64_t i = 0; i < got.size(); i++) {
      auto m = got.unflat(i);
      int which = static_cast<int>(m[axis]);
      m.erase(m.begin() + axis);
      EXPECT_EQ(got.v[static_cast<size_t>(i)], (which ? b : a).v[static_cast<size_t>(m[0] * 4 + m[1])]);
    }
  }
  EXPECT_EQ(dtx_stack(ab, 2, 3), nullptr);
}

TEST_P(ArrayIndex, RechunkAndBroadcastTo) {
  Scope sc;
  for (int r = 0; r < Rounds(15); r++) {
    uint64_t seed = 4400 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int nd = 1 + static_cast<int>(rng() % 8);
    auto shape = RandShape(rng, nd, 800);
    Nd x = RandNd(rng, shape, AllTypes()[rng() % 5]);
    dtx_array *a = Put(cl(), x, RandChunks(rng, shape));
    auto nc = RandChunks(rng, shape);
    dtx_array *b = dtx_rechunk(dtx_astype(dtx_mul(a, dtx_scalar_int(cl(), 1)), x.t), nc.data());
    ASSERT_NE(b, nullptr) << dtx_last_error();
    for (int d = 0; d < nd; d++) EXPECT_EQ(dtx_array_chunk(b, d), nc[d]);
    /* the chunks come out as asked: each output chunk of the graph has the chunk's shape */
    int64_t nb = 1;
    for (int d = 0; d < nd; d++) nb *= dtx_array_numblocks(b, d);
    dtxt::GraphPtr g = dtxt::MakeGraph();
    std::vector<dtx_task_id> ids(static_cast<size_t>(nb));
    ASSERT_EQ(dtx_array_graph(b, g.get(), ids.data(), ids.size(), nullptr), DTX_OK) << dtx_last_error();
    dtxt::Results res(ids.size());
    ASSERT_EQ(dtx_compute(cl(), g.get(), ids.data(), static_cast<int>(ids.size()), res.data(), nullptr),
              DTX_OK);
    Nd bx = Get(b);
    for (int64_t k = 0; k < nb; k++) {
      int64_t rem = k, elems = 1;
      std::vector<int64_t> lo(nd), ext(nd);
      for (int d = nd - 1; d >= 0; d--) {
        int64_t bi = rem % dtx_array_numblocks(b, d);
        rem /= dtx_array_numblocks(b, d);
        lo[d] = bi * nc[d];
        ext[d] = std::min(nc[d], shape[d] - lo[d]);
        elems *= ext[d];
      }
      ASSERT_EQ(dtx_chunk_size(res[static_cast<size_t>(k)]),
                static_cast<size_t>(elems) * dtx_dtype_size(x.t));
      const void *data = dtx_chunk_data(res[static_cast<size_t>(k)]);
      for (int64_t e = 0; e < elems; e++) {
        int64_t q = e;
        std::vector<int64_t> m(nd);
        for (int d = nd - 1; d >= 0; d--) {
          m[d] = lo[d] + q % ext[d];
          q /= ext[d];
        }
        ASSERT_EQ(Read(data, x.t, e), x.v[static_cast<size_t>(x.flat(m))])
            << "chunk " << k << " element " << e;
      }
    }
    EXPECT_TRUE(SameNd(bx, x, 0));
    /* broadcast_to one more leading axis and stretched length-1 axes */
    if (nd < 4) {
      std::vector<int64_t> bs = {3};
      bs.insert(bs.end(), shape.begin(), shape.end());
      Nd one = x;
      Nd want;
      want.t = x.t;
      want.shape = bs;
      for (int64_t i = 0; i < want.size(); i++) {
        auto m = want.unflat(i);
        m.erase(m.begin());
        want.v.push_back(x.v[static_cast<size_t>(x.flat(m))]);
      }
      EXPECT_TRUE(SameNd(Get(dtx_broadcast_to(a, nd + 1, bs.data())), want, 0));
    }
  }
  int64_t s2[2] = {2, 3}, bad[2] = {4, 3};
  EXPECT_EQ(dtx_broadcast_to(dtx_ones(cl(), 2, s2, nullptr, DTX_F64), 2, bad), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("(2, 3) to (4, 3)"), std::string::npos) << dtx_last_error();
}
