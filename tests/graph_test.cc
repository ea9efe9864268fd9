/*
 * tests/graph_test.cc - dtx_graph: keys, lookup, validation of bad input,
 * culling, argument copies and task outputs as seen through dtx_compute.
 */
#include <gtest/gtest.h>

#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dtx/dtx.h"
#include "test_util.h"

using namespace dtxt;

namespace {

/* ---- task implementations ------------------------------------------------- */

int Noop(dtx_task_ctx *) { return 0; }

/* Outputs its first int64 arg (args: int64). */
int Const(dtx_task_ctx *ctx) { return OutputI64(ctx, Arg<int64_t>(ctx)); }

/* Sum of inputs (as int64) plus 1. */
int SumPlusOne(dtx_task_ctx *ctx) {
  int64_t s = 1;
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) s += InputI64(ctx, i);
  return OutputI64(ctx, s);
}

/* Per-task execution counters: args = {counters pointer, index}. */
struct CountArgs {
  std::atomic<int> *counters;
  int index;
};
int Counted(dtx_task_ctx *ctx) {
  CountArgs a = Arg<CountArgs>(ctx);
  if (a.counters != nullptr) a.counters[a.index].fetch_add(1);
  int64_t s = a.index;
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) s = s * 31 + InputI64(ctx, i);
  return OutputI64(ctx, s);
}

/* Copies its args blob to its output. */
int EchoArgs(dtx_task_ctx *ctx) {
  size_t n = 0;
  const void *p = dtx_task_args(ctx, &n);
  if (n == 0) return 0;
  void *o = dtx_task_output(ctx, n);
  if (o == nullptr) return dtx_task_fail(ctx, "oom");
  std::memcpy(o, p, n);
  return 0;
}

/* Outputs args.size bytes, each byte = (i * 7 + args.seed) & 0xff; fails if
 * the output pointer is not 64-byte aligned. */
struct FillArgs {
  size_t size;
  int seed;
};
int Fill(dtx_task_ctx *ctx) {
  FillArgs a = Arg<FillArgs>(ctx);
  unsigned char *o = static_cast<unsigned char *>(dtx_task_output(ctx, a.size));
  if (o == nullptr) return dtx_task_fail(ctx, "oom");
  if (reinterpret_cast<uintptr_t>(o) % 64 != 0) return dtx_task_fail(ctx, "misaligned %p", (void *)o);
  for (size_t i = 0; i < a.size; i++) o[i] = static_cast<unsigned char>(i * 7 + a.seed);
  return 0;
}

/* Reports what it sees of its inputs: for each input, its size, and whether
 * its pointer is NULL, as int64 pairs. */
int DescribeInputs(dtx_task_ctx *ctx) {
  int n = dtx_task_num_inputs(ctx);
  int64_t *o = static_cast<int64_t *>(dtx_task_output(ctx, sizeof(int64_t) * 2 * (n > 0 ? n : 1)));
  if (o == nullptr) return dtx_task_fail(ctx, "oom");
  for (int i = 0; i < n; i++) {
    size_t sz = 12345;
    const void *p = dtx_task_input(ctx, i, &sz);
    o[2 * i] = static_cast<int64_t>(sz);
    o[2 * i + 1] = p == nullptr ? 1 : 0;
  }
  return 0;
}

/* Allocates two outputs; the second one must win. */
int OutputTwice(dtx_task_ctx *ctx) {
  int64_t *a = static_cast<int64_t *>(dtx_task_output(ctx, 64));
  if (a == nullptr) return dtx_task_fail(ctx, "oom");
  a[0] = 111;
  int64_t *b = static_cast<int64_t *>(dtx_task_output(ctx, 16));
  if (b == nullptr) return dtx_task_fail(ctx, "oom");
  b[0] = 222;
  b[1] = 333;
  return 0;
}

/* Outputs its own key as a string (with NUL). */
int KeyOut(dtx_task_ctx *ctx) {
  std::string k = TaskKey(ctx);
  char *o = static_cast<char *>(dtx_task_output(ctx, k.size() + 1));
  if (o == nullptr) return dtx_task_fail(ctx, "oom");
  std::memcpy(o, k.c_str(), k.size() + 1);
  return 0;
}

int FailBoom(dtx_task_ctx *ctx) { return dtx_task_fail(ctx, "boom %d", 42); }
int ReturnsSeven(dtx_task_ctx *) { return 7; }

std::string KeyOf(const dtx_graph *g, dtx_task_id id) {
  char buf[DTX_MAX_KEY];
  std::memset(buf, 'X', sizeof buf);
  dtx_status rc = dtx_graph_key(g, id, buf, sizeof buf);
  EXPECT_EQ(rc, DTX_OK) << dtx_last_error();
  return rc == DTX_OK ? std::string(buf) : std::string("<error>");
}

dtx_task_id Add(dtx_graph *g, const dtx_task_desc &d) {
  dtx_task_id id = 0xFFFFFFFFu;
  dtx_status rc = dtx_graph_add(g, &d, &id);
  EXPECT_EQ(rc, DTX_OK) << dtx_last_error();
  return id;
}

dtx_task_id AddConst(dtx_graph *g, const char *name, std::initializer_list<int64_t> idx, int64_t v) {
  dtx_task_desc d = Desc(name, Const, idx);
  d.args = &v;
  d.args_size = sizeof v;
  return Add(g, d);
}

dtx_task_id AddWithInputs(dtx_graph *g, const char *name, std::initializer_list<int64_t> idx, dtx_task_fn fn,
                          const std::vector<dtx_task_id> &in) {
  dtx_task_desc d = Desc(name, fn, idx);
  d.inputs = in.empty() ? nullptr : in.data();
  d.ninputs = static_cast<int>(in.size());
  return Add(g, d);
}

/* Expects a bad add: EINVAL, nothing added, a message. */
void ExpectBadAdd(dtx_graph *g, const dtx_task_desc *d, const char *what) {
  SCOPED_TRACE(what);
  size_t before = dtx_graph_size(g);
  dtx_task_id id = 777777;
  EXPECT_EQ(dtx_graph_add(g, d, &id), DTX_EINVAL);
  EXPECT_STRNE(dtx_last_error(), "");
  EXPECT_EQ(dtx_graph_size(g), before);
  EXPECT_EQ(id, 777777u) << "id written on failure";
}

class GraphCompute : public ::testing::TestWithParam<dtx_scheduler> {
 protected:
  void SetUp() override {
    cl_ = MakeCluster(GetParam(), 2);
    ASSERT_NE(cl_, nullptr);
    g_ = MakeGraph();
    ASSERT_NE(g_, nullptr);
  }
  ClusterPtr cl_;
  GraphPtr g_;
};

std::string SchedName(const ::testing::TestParamInfo<dtx_scheduler> &info) {
  return info.param == DTX_SCHED_SYNC ? "Sync" : "Threads";
}

}  // namespace

/* ---- keys, lookup, size ----------------------------------------------------- */

TEST(Graph, CreateDestroy) {
  EXPECT_EQ(dtx_graph_create(nullptr), DTX_EINVAL);
  dtx_graph_destroy(nullptr);
  GraphPtr g = MakeGraph();
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(dtx_graph_size(g.get()), 0u);
}

TEST(Graph, AddFindByPartsAndKey) {
  GraphPtr g = MakeGraph();
  dtx_task_id a = AddConst(g.get(), "add", {2, 1}, 1);
  dtx_task_id pi = AddConst(g.get(), "pi", {}, 2);
  dtx_task_id xm = AddConst(g.get(), "x", {-1}, 3);
  dtx_task_id x0 = AddConst(g.get(), "x", {0}, 4);
  dtx_task_id xb = AddConst(g.get(), "x", {}, 5);
  dtx_task_id a3 = AddConst(g.get(), "add", {2, 1, 0}, 6);
  dtx_task_id a12 = AddConst(g.get(), "add", {1, 2}, 7);
  EXPECT_EQ(dtx_graph_size(g.get()), 7u);
  std::vector<dtx_task_id> ids = {a, pi, xm, x0, xb, a3, a12};
  for (size_t i = 0; i < ids.size(); i++)
    for (size_t j = i + 1; j < ids.size(); j++) EXPECT_NE(ids[i], ids[j]);

  struct Case {
    const char *name;
    std::vector<int64_t> idx;
    const char *key;
    dtx_task_id id;
  } cases[] = {
      {"add", {2, 1}, "add[2,1]", a},   {"pi", {}, "pi", pi}, {"x", {-1}, "x[-1]", xm},
      {"x", {0}, "x[0]", x0},           {"x", {}, "x", xb},   {"add", {2, 1, 0}, "add[2,1,0]", a3},
      {"add", {1, 2}, "add[1,2]", a12},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.key);
    dtx_task_id got = 999;
    ASSERT_EQ(dtx_graph_find(g.get(), c.name, static_cast<int>(c.idx.size()), c.idx.data(), &got), DTX_OK)
        << dtx_last_error();
    EXPECT_EQ(got, c.id);
    got = 999;
    ASSERT_EQ(dtx_graph_find_key(g.get(), c.key, &got), DTX_OK) << dtx_last_error();
    EXPECT_EQ(got, c.id);
    EXPECT_EQ(KeyOf(g.get(), c.id), c.key);
  }

  /* Not there. */
  dtx_task_id got = 999;
  int64_t one = 1, two[2] = {1, 1};
  EXPECT_NE(dtx_graph_find(g.get(), "add", 1, &one, &got), DTX_OK);
  EXPECT_NE(dtx_graph_find(g.get(), "add", 2, two, &got), DTX_OK);
  EXPECT_NE(dtx_graph_find(g.get(), "nope", 0, nullptr, &got), DTX_OK);
  EXPECT_NE(dtx_graph_find_key(g.get(), "add[2]", &got), DTX_OK);
  EXPECT_NE(dtx_graph_find_key(g.get(), "x[1]", &got), DTX_OK);
  EXPECT_NE(dtx_graph_find_key(g.get(), "p", &got), DTX_OK);
  EXPECT_EQ(got, 999u);
  /* Malformed keys are errors, not crashes. */
  for (const char *bad : {"", "add[", "add[2,", "add[2,1", "add[x]", "[1]", "add[2,1]]", "add[2,,1]"}) {
    SCOPED_TRACE(bad);
    EXPECT_NE(dtx_graph_find_key(g.get(), bad, &got), DTX_OK);
  }
  EXPECT_NE(dtx_graph_find_key(g.get(), nullptr, &got), DTX_OK);
  EXPECT_NE(dtx_graph_find(g.get(), nullptr, 0, nullptr, &got), DTX_OK);
}

TEST(Graph, IdsAreDenseInAddOrder) {
  /* Inputs may name ids added later, so ids must be predictable: 0, 1, 2... */
  GraphPtr g = MakeGraph();
  for (int i = 0; i < 100; i++) {
    EXPECT_EQ(AddConst(g.get(), "t", {i}, i), static_cast<dtx_task_id>(i));
    EXPECT_EQ(dtx_graph_size(g.get()), static_cast<size_t>(i + 1));
  }
}

TEST(Graph, KeyFormatting) {
  GraphPtr g = MakeGraph();
  dtx_task_id four = AddConst(g.get(), "load", {1, -2, 3, -4}, 0);
  dtx_task_id ext = AddConst(g.get(), "ext", {INT64_MIN, INT64_MAX, 0, -1}, 0);
  EXPECT_EQ(KeyOf(g.get(), four), "load[1,-2,3,-4]");
  char want[DTX_MAX_KEY];
  snprintf(want, sizeof want, "ext[%" PRId64 ",%" PRId64 ",0,-1]", INT64_MIN, INT64_MAX);
  EXPECT_EQ(KeyOf(g.get(), ext), want);
  dtx_task_id got = 999;
  EXPECT_EQ(dtx_graph_find_key(g.get(), want, &got), DTX_OK) << dtx_last_error();
  EXPECT_EQ(got, ext);

  /* Small buffers: NUL-terminated prefix, no overflow. */
  for (size_t n = 1; n < 12; n++) {
    char buf[32];
    std::memset(buf, 'Z', sizeof buf);
    dtx_graph_key(g.get(), four, buf, n);
    SCOPED_TRACE(n);
    ASSERT_LT(std::strlen(buf), n);
    EXPECT_EQ(std::string("load[1,-2,3,-4]").compare(0, std::strlen(buf), buf), 0);
    EXPECT_EQ(buf[n], 'Z') << "wrote past n";
  }
  /* Unknown id. */
  char buf[DTX_MAX_KEY];
  EXPECT_EQ(dtx_graph_key(g.get(), 12345, buf, sizeof buf), DTX_EINVAL);
}

TEST(Graph, DuplicateKeyRejected) {
  GraphPtr g = MakeGraph();
  AddConst(g.get(), "dupkey", {3, 4}, 1);
  AddConst(g.get(), "solo", {}, 1);
  dtx_task_desc d = Desc("dupkey", Const, {3, 4});
  int64_t v = 2;
  d.args = &v;
  d.args_size = sizeof v;
  ExpectBadAdd(g.get(), &d, "dupkey[3,4]");
  EXPECT_NE(std::string(dtx_last_error()).find("dupkey[3,4]"), std::string::npos) << dtx_last_error();
  dtx_task_desc s = Desc("solo", Const);
  ExpectBadAdd(g.get(), &s, "solo");
  EXPECT_NE(std::string(dtx_last_error()).find("solo"), std::string::npos) << dtx_last_error();
  /* Same name, other indices: fine. */
  AddConst(g.get(), "dupkey", {4, 3}, 1);
  EXPECT_EQ(dtx_graph_size(g.get()), 3u);
}

/* Keys are indexed two ways (dense rows for runs of last indices, a hash
 * table for the rest). Mix dense runs, far-apart values, negatives, extremes
 * and re-adds in a random order, and check every add and find against a
 * std::map reference. */
TEST(Graph, KeyIndexMatchesReference) {
  for (uint32_t seed : {1u, 2u, 3u, 4u}) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    GraphPtr g = MakeGraph();
    std::map<std::vector<int64_t>, dtx_task_id> ref; /* {prefix, nidx, idx...} */
    const char *names[3] = {"a", "bb", "c"};
    const int64_t extremes[4] = {INT64_MIN, INT64_MAX, -1, 1 << 30};
    for (int step = 0; step < 20000; step++) {
      int p = static_cast<int>(rng() % 3);
      int nidx = static_cast<int>(rng() % 5);
      int64_t idx[DTX_MAX_INDICES] = {0, 0, 0, 0};
      for (int i = 0; i < nidx; i++) idx[i] = static_cast<int64_t>(rng() % 3);
      uint64_t mode = rng() % 10;
      if (nidx > 0) {
        if (mode < 6)
          idx[nidx - 1] = step / 3; /* dense runs */
        else if (mode < 8)
          idx[nidx - 1] = static_cast<int64_t>(rng() % 1000000) - 500000; /* scattered */
        else
          idx[nidx - 1] = extremes[rng() % 4];
      }
      std::vector<int64_t> k{p, nidx};
      for (int i = 0; i < nidx; i++) k.push_back(idx[i]);
      dtx_task_desc d{};
      d.name = names[p];
      d.nidx = nidx;
      for (int i = 0; i < nidx; i++) d.idx[i] = idx[i];
      d.cpu = Noop;
      dtx_task_id id = 0;
      dtx_status rc = dtx_graph_add(g.get(), &d, &id);
      if (ref.count(k)) {
        ASSERT_EQ(rc, DTX_EINVAL) << "duplicate accepted at step " << step;
      } else {
        ASSERT_EQ(rc, DTX_OK) << dtx_last_error();
        ASSERT_EQ(id, static_cast<dtx_task_id>(ref.size()));
        ref[k] = id;
      }
    }
    for (const auto &kv : ref) {
      const std::vector<int64_t> &k = kv.first;
      int nidx = static_cast<int>(k[1]);
      dtx_task_id id = UINT32_MAX;
      ASSERT_EQ(dtx_graph_find(g.get(), names[k[0]], nidx, k.data() + 2, &id), DTX_OK) << dtx_last_error();
      ASSERT_EQ(id, kv.second);
      char key[DTX_MAX_KEY];
      ASSERT_EQ(dtx_graph_key(g.get(), id, key, sizeof key), DTX_OK);
      dtx_task_id again = UINT32_MAX;
      ASSERT_EQ(dtx_graph_find_key(g.get(), key, &again), DTX_OK) << key;
      ASSERT_EQ(again, kv.second) << key;
    }
    /* Keys never added are not found, inside and outside the dense runs. */
    int64_t missing[2] = {0, 123456789};
    dtx_task_id id;
    EXPECT_NE(dtx_graph_find(g.get(), "a", 2, missing, &id), DTX_OK);
    EXPECT_NE(dtx_graph_find(g.get(), "zz", 0, nullptr, &id), DTX_OK);
  }
}

TEST(Graph, BadAddRejected) {
  GraphPtr g = MakeGraph();
  AddConst(g.get(), "root", {}, 1);
  dtx_task_id id = 0;
  EXPECT_EQ(dtx_graph_add(g.get(), nullptr, &id), DTX_EINVAL);
  EXPECT_STRNE(dtx_last_error(), "");
  dtx_task_desc ok = Desc("fine", Const);
  EXPECT_EQ(dtx_graph_add(nullptr, &ok, &id), DTX_EINVAL);

  dtx_task_desc d = Desc(nullptr, Const);
  ExpectBadAdd(g.get(), &d, "NULL name");

  d = Desc("noimpl", nullptr);
  ExpectBadAdd(g.get(), &d, "no implementation");
  EXPECT_NE(std::string(dtx_last_error()).find("noimpl"), std::string::npos) << dtx_last_error();

  d = Desc("nullinputs", Noop);
  d.ninputs = 2;
  d.inputs = nullptr;
  ExpectBadAdd(g.get(), &d, "NULL inputs with ninputs > 0");

  dtx_task_id in0 = 0;
  d = Desc("neginputs", Noop);
  d.ninputs = -1;
  d.inputs = &in0;
  ExpectBadAdd(g.get(), &d, "ninputs < 0");

  d = Desc("nidx", Noop);
  d.nidx = -1;
  ExpectBadAdd(g.get(), &d, "nidx -1");
  d.nidx = DTX_MAX_INDICES + 1;
  ExpectBadAdd(g.get(), &d, "nidx 5");

  d = Desc("nullargs", Noop);
  d.args = nullptr;
  d.args_size = 8;
  ExpectBadAdd(g.get(), &d, "NULL args with args_size > 0");

  /* The edge cases that are fine: nidx == 4, args with size 0. */
  d = Desc("four", Noop, {1, 2, 3, 4});
  EXPECT_EQ(dtx_graph_add(g.get(), &d, &id), DTX_OK) << dtx_last_error();
  int64_t x = 5;
  d = Desc("zeroargs", Noop);
  d.args = &x;
  d.args_size = 0;
  EXPECT_EQ(dtx_graph_add(g.get(), &d, &id), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtx_graph_size(g.get()), 3u);
}

TEST(Graph, BadAddThenGoodAddGetsNextId) {
  GraphPtr g = MakeGraph();
  EXPECT_EQ(AddConst(g.get(), "a", {}, 1), 0u);
  dtx_task_desc bad = Desc("a", Const);
  ExpectBadAdd(g.get(), &bad, "dup");
  EXPECT_EQ(AddConst(g.get(), "b", {}, 1), 1u);
}

/* ---- validation at compute ------------------------------------------------ */

TEST_P(GraphCompute, CycleRejectedNamingKeys) {
  std::atomic<int> counters[8] = {};
  dtx_graph *g = g_.get();
  /* root(0) -> alpha(1) <-> beta(2); ok(3) separate; out: beta and ok. */
  CountArgs ca{counters, 0};
  dtx_task_desc d = Desc("root", Counted);
  d.args = &ca;
  d.args_size = sizeof ca;
  ASSERT_EQ(Add(g, d), 0u);
  dtx_task_id ain[2] = {0, 2};
  CountArgs c1{counters, 1};
  d = Desc("alpha", Counted);
  d.inputs = ain;
  d.ninputs = 2;
  d.args = &c1;
  d.args_size = sizeof c1;
  ASSERT_EQ(Add(g, d), 1u);
  dtx_task_id bin[1] = {1};
  CountArgs c2{counters, 2};
  d = Desc("beta", Counted);
  d.inputs = bin;
  d.ninputs = 1;
  d.args = &c2;
  d.args_size = sizeof c2;
  ASSERT_EQ(Add(g, d), 2u);
  CountArgs c3{counters, 3};
  d = Desc("okay", Counted);
  d.args = &c3;
  d.args_size = sizeof c3;
  ASSERT_EQ(Add(g, d), 3u);

  dtx_task_id outs[2] = {3, 2};
  Results r(2);
  EXPECT_EQ(dtx_compute(cl_.get(), g, outs, 2, r.data(), nullptr), DTX_EINVAL);
  std::string msg = dtx_last_error();
  EXPECT_TRUE(msg.find("alpha") != std::string::npos || msg.find("beta") != std::string::npos) << msg;
  EXPECT_EQ(msg.find("okay"), std::string::npos) << "names a key not on the cycle: " << msg;
  for (auto &c : counters) EXPECT_EQ(c.load(), 0) << "a task ran before the cycle was reported";

  /* Self loop. */
  dtx_task_id self = 4;
  d = Desc("selfie", Noop);
  d.inputs = &self;
  d.ninputs = 1;
  ASSERT_EQ(Add(g, d), 4u);
  EXPECT_EQ(dtx_compute(cl_.get(), g, &self, 1, nullptr, nullptr), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("selfie"), std::string::npos) << dtx_last_error();
}

TEST_P(GraphCompute, LongCycleRejected) {
  /* cyc[0] -> cyc[1] -> ... -> cyc[9] -> cyc[0], fed by a chain of others. */
  dtx_graph *g = g_.get();
  const int n = 10;
  for (int i = 0; i < n; i++) {
    dtx_task_id in = static_cast<dtx_task_id>((i + n - 1) % n);
    AddWithInputs(g, "cyc", {i}, SumPlusOne, {in});
  }
  dtx_task_id tail = AddWithInputs(g, "tail", {}, SumPlusOne, {5});
  EXPECT_EQ(dtx_compute(cl_.get(), g, &tail, 1, nullptr, nullptr), DTX_EINVAL);
  std::string msg = dtx_last_error();
  EXPECT_NE(msg.find("cyc["), std::string::npos) << msg;
}

TEST_P(GraphCompute, DanglingInputRejected) {
  std::atomic<int> counters[2] = {};
  dtx_graph *g = g_.get();
  CountArgs c0{counters, 0};
  dtx_task_desc d = Desc("first", Counted);
  d.args = &c0;
  d.args_size = sizeof c0;
  dtx_task_id first = Add(g, d);
  dtx_task_id in[2] = {first, 4242};
  CountArgs c1{counters, 1};
  d = Desc("hangs", Counted, {7});
  d.inputs = in;
  d.ninputs = 2;
  d.args = &c1;
  d.args_size = sizeof c1;
  dtx_task_id h = Add(g, d);
  EXPECT_EQ(dtx_compute(cl_.get(), g, &h, 1, nullptr, nullptr), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("hangs[7]"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(counters[0].load(), 0);
  EXPECT_EQ(counters[1].load(), 0);
  /* Adding the missing ids (up to 4242) would make it valid; id 2 added later
   * is a legal forward reference. */
}

TEST_P(GraphCompute, ForwardReferenceResolvedLater) {
  dtx_graph *g = g_.get();
  /* Task 0 reads tasks 1 and 2, added after it. */
  dtx_task_id out = AddWithInputs(g, "late", {}, SumPlusOne, {1, 2});
  AddConst(g, "one", {}, 10);
  dtx_task_id in[1] = {3};
  dtx_task_desc d = Desc("two", SumPlusOne);
  d.inputs = in;
  d.ninputs = 1;
  Add(g, d);
  /* Not yet: id 3 does not exist. */
  EXPECT_EQ(dtx_compute(cl_.get(), g, &out, 1, nullptr, nullptr), DTX_EINVAL);
  AddConst(g, "three", {}, 100);
  Results r(1);
  ASSERT_EQ(dtx_compute(cl_.get(), g, &out, 1, r.data(), nullptr), DTX_OK) << dtx_last_error();
  /* two = 100 + 1; late = 10 + 101 + 1 */
  EXPECT_EQ(ChunkI64(r[0]), 112);
}

TEST_P(GraphCompute, BadComputeArguments) {
  dtx_graph *g = g_.get();
  dtx_task_id a = AddConst(g, "a", {}, 1);
  dtx_task_id unknown = a + 100;
  Results r(2);
  EXPECT_EQ(dtx_compute(cl_.get(), g, &unknown, 1, r.data(), nullptr), DTX_EINVAL);
  EXPECT_STRNE(dtx_last_error(), "");
  dtx_task_id two[2] = {a, unknown};
  EXPECT_EQ(dtx_compute(cl_.get(), g, two, 2, r.data(), nullptr), DTX_EINVAL);
  EXPECT_EQ(dtx_compute(cl_.get(), g, &a, -1, r.data(), nullptr), DTX_EINVAL);
  EXPECT_EQ(dtx_compute(cl_.get(), nullptr, &a, 1, r.data(), nullptr), DTX_EINVAL);
  EXPECT_EQ(dtx_compute(cl_.get(), g, nullptr, 1, r.data(), nullptr), DTX_EINVAL);
  for (size_t i = 0; i < r.size(); i++) EXPECT_EQ(r[i], nullptr);
  /* Zero outputs: nothing to do, nothing runs. */
  std::atomic<int> counters[1] = {};
  CountArgs c0{counters, 0};
  dtx_task_desc d = Desc("counted", Counted);
  d.args = &c0;
  d.args_size = sizeof c0;
  Add(g, d);
  EXPECT_EQ(dtx_compute(cl_.get(), g, nullptr, 0, nullptr, nullptr), DTX_OK) << dtx_last_error();
  EXPECT_EQ(counters[0].load(), 0);
  /* An unknown scheduler in opts. */
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = static_cast<dtx_scheduler>(99);
  EXPECT_EQ(dtx_compute(cl_.get(), g, &a, 1, nullptr, &o), DTX_EINVAL);
}

/* ---- culling ----------------------------------------------------------------- */

TEST_P(GraphCompute, CullingRunsOnlyAncestors) {
  /*   a -> b -> c        d -> e
   *        \-> f
   *   g (independent)  */
  std::atomic<int> counters[7] = {};
  dtx_graph *g = g_.get();
  auto add = [&](const char *name, int i, std::vector<dtx_task_id> in) {
    CountArgs ca{counters, i};
    dtx_task_desc d = Desc(name, Counted);
    d.args = &ca;
    d.args_size = sizeof ca;
    d.inputs = in.empty() ? nullptr : in.data();
    d.ninputs = static_cast<int>(in.size());
    return Add(g, d);
  };
  dtx_task_id a = add("a", 0, {});
  dtx_task_id b = add("b", 1, {a});
  dtx_task_id c = add("c", 2, {b});
  dtx_task_id dd = add("d", 3, {});
  dtx_task_id e = add("e", 4, {dd});
  dtx_task_id f = add("f", 5, {b});
  add("g", 6, {});
  (void)e;
  (void)f;
  Results r(1);
  ASSERT_EQ(dtx_compute(cl_.get(), g, &c, 1, r.data(), nullptr), DTX_OK) << dtx_last_error();
  int want[7] = {1, 1, 1, 0, 0, 0, 0};
  for (int i = 0; i < 7; i++) EXPECT_EQ(counters[i].load(), want[i]) << "task " << i;
  /* a = 0; b = 1*31 + 0; c = 2*31 + 31 */
  EXPECT_EQ(ChunkI64(r[0]), 2 * 31 + 31);

  /* Requesting an intermediate output: only it and its ancestors. */
  for (auto &x : counters) x.store(0);
  r.clear();
  ASSERT_EQ(dtx_compute(cl_.get(), g, &b, 1, r.data(), nullptr), DTX_OK) << dtx_last_error();
  int want2[7] = {1, 1, 0, 0, 0, 0, 0};
  for (int i = 0; i < 7; i++) EXPECT_EQ(counters[i].load(), want2[i]) << "task " << i;
  EXPECT_EQ(ChunkI64(r[0]), 31);

  /* Two outputs sharing an ancestor: the ancestor runs once. */
  for (auto &x : counters) x.store(0);
  Results r2(2);
  dtx_task_id outs[2] = {c, f};
  ASSERT_EQ(dtx_compute(cl_.get(), g, outs, 2, r2.data(), nullptr), DTX_OK) << dtx_last_error();
  int want3[7] = {1, 1, 1, 0, 0, 1, 0};
  for (int i = 0; i < 7; i++) EXPECT_EQ(counters[i].load(), want3[i]) << "task " << i;
  EXPECT_EQ(ChunkI64(r2[1]), 5 * 31 + 31);
}

/* ---- args ------------------------------------------------------------------ */

TEST_P(GraphCompute, ArgsAreCopied) {
  dtx_graph *g = g_.get();
  std::vector<unsigned char> buf(200);
  for (size_t i = 0; i < buf.size(); i++) buf[i] = static_cast<unsigned char>(i * 3 + 1);
  std::vector<unsigned char> want = buf;
  dtx_task_desc d = Desc("echo", EchoArgs);
  d.args = buf.data();
  d.args_size = buf.size();
  dtx_task_id id = Add(g, d);
  /* Mutate and free the caller's copy. */
  std::fill(buf.begin(), buf.end(), 0xEE);
  buf.clear();
  buf.shrink_to_fit();
  /* The name is copied too. */
  char name[16] = "nameX";
  dtx_task_desc d2 = Desc(name, EchoArgs);
  dtx_task_id id2 = Add(g, d2);
  std::strcpy(name, "garbage");
  EXPECT_EQ(KeyOf(g, id2), "nameX");

  dtx_task_id outs[2] = {id, id2};
  Results r(2);
  ASSERT_EQ(dtx_compute(cl_.get(), g, outs, 2, r.data(), nullptr), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtx_chunk_size(r[0]), want.size());
  EXPECT_EQ(std::memcmp(dtx_chunk_data(r[0]), want.data(), want.size()), 0);
  EXPECT_EQ(dtx_chunk_size(r[1]), 0u);
}

/* ---- outputs ---------------------------------------------------------------- */

TEST_P(GraphCompute, OutputsDataSizeAlignment) {
  dtx_graph *g = g_.get();
  std::vector<size_t> sizes = {1, 7, 64, 65, 1000, 4096, 100000};
  std::vector<dtx_task_id> ids;
  for (size_t i = 0; i < sizes.size(); i++) {
    FillArgs fa{sizes[i], static_cast<int>(i)};
    dtx_task_desc d = Desc("fill", Fill, {static_cast<int64_t>(i)});
    d.args = &fa;
    d.args_size = sizeof fa;
    ids.push_back(Add(g, d));
  }
  Results r(ids.size());
  ASSERT_EQ(dtx_compute(cl_.get(), g, ids.data(), static_cast<int>(ids.size()), r.data(), nullptr), DTX_OK)
      << dtx_last_error();
  for (size_t i = 0; i < sizes.size(); i++) {
    SCOPED_TRACE(sizes[i]);
    ASSERT_NE(r[i], nullptr);
    EXPECT_EQ(dtx_chunk_status(r[i]), DTX_OK);
    EXPECT_EQ(dtx_chunk_error(r[i]), nullptr);
    ASSERT_EQ(dtx_chunk_size(r[i]), sizes[i]);
    const unsigned char *p = static_cast<const unsigned char *>(dtx_chunk_data(r[i]));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
    size_t bad = 0;
    for (size_t k = 0; k < sizes[i]; k++)
      if (p[k] != static_cast<unsigned char>(k * 7 + i)) bad++;
    EXPECT_EQ(bad, 0u);
  }
}

TEST_P(GraphCompute, ZeroOutputTask) {
  dtx_graph *g = g_.get();
  dtx_task_id z = Add(g, Desc("nothing", Noop));
  dtx_task_id one = AddConst(g, "one", {}, 5);
  dtx_task_id reader = AddWithInputs(g, "reader", {}, DescribeInputs, {z, one, z});
  dtx_task_id outs[2] = {z, reader};
  Results r(2);
  ASSERT_EQ(dtx_compute(cl_.get(), g, outs, 2, r.data(), nullptr), DTX_OK) << dtx_last_error();
  ASSERT_NE(r[0], nullptr);
  EXPECT_EQ(dtx_chunk_status(r[0]), DTX_OK);
  EXPECT_EQ(dtx_chunk_size(r[0]), 0u);
  EXPECT_EQ(dtx_chunk_data(r[0]), nullptr);
  ASSERT_EQ(dtx_chunk_size(r[1]), 6 * sizeof(int64_t));
  const int64_t *v = static_cast<const int64_t *>(dtx_chunk_data(r[1]));
  EXPECT_EQ(v[0], 0); /* size of input 0 */
  EXPECT_EQ(v[1], 1); /* NULL */
  EXPECT_EQ(v[2], 8);
  EXPECT_EQ(v[3], 0);
  EXPECT_EQ(v[4], 0);
  EXPECT_EQ(v[5], 1);
}

TEST_P(GraphCompute, OutputCalledTwiceReplaces) {
  dtx_graph *g = g_.get();
  dtx_task_id id = Add(g, Desc("twice", OutputTwice));
  Results r(1);
  ASSERT_EQ(dtx_compute(cl_.get(), g, &id, 1, r.data(), nullptr), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtx_chunk_size(r[0]), 16u);
  const int64_t *v = static_cast<const int64_t *>(dtx_chunk_data(r[0]));
  EXPECT_EQ(v[0], 222);
  EXPECT_EQ(v[1], 333);
}

TEST_P(GraphCompute, InputOrderAndRepeatedInputs) {
  dtx_graph *g = g_.get();
  dtx_task_id a = AddConst(g, "a", {}, 1);
  dtx_task_id b = AddConst(g, "b", {}, 2);
  dtx_task_id c = AddConst(g, "c", {}, 3);
  /* Counted: s = index(0) then s = s*31 + input  -> order-sensitive. */
  std::vector<dtx_task_id> in = {c, a, b, a};
  CountArgs ca{nullptr, 0};
  dtx_task_desc d = Desc("ordered", Counted);
  d.args = &ca;
  d.args_size = sizeof ca;
  d.inputs = in.data();
  d.ninputs = 4;
  dtx_task_id o = Add(g, d);
  Results r(1);
  ASSERT_EQ(dtx_compute(cl_.get(), g, &o, 1, r.data(), nullptr), DTX_OK) << dtx_last_error();
  int64_t want = 0;
  for (int64_t x : {3, 1, 2, 1}) want = want * 31 + x;
  EXPECT_EQ(ChunkI64(r[0]), want);
}

TEST_P(GraphCompute, SameOutputTwiceAndComputeTwice) {
  dtx_graph *g = g_.get();
  std::atomic<int> counters[3] = {};
  std::vector<dtx_task_id> ids;
  for (int i = 0; i < 3; i++) {
    CountArgs ca{counters, i};
    dtx_task_desc d = Desc("n", Counted, {i});
    d.args = &ca;
    d.args_size = sizeof ca;
    std::vector<dtx_task_id> in;
    if (i > 0) in.push_back(ids.back());
    d.inputs = in.empty() ? nullptr : in.data();
    d.ninputs = static_cast<int>(in.size());
    ids.push_back(Add(g, d));
  }
  dtx_task_id outs[4] = {ids[2], ids[1], ids[2], ids[2]};
  int64_t want[4] = {2 * 31 + 31, 31, 2 * 31 + 31, 2 * 31 + 31};
  std::vector<int64_t> first;
  for (int round = 0; round < 3; round++) {
    SCOPED_TRACE(round);
    Results r(4);
    ASSERT_EQ(dtx_compute(cl_.get(), g, outs, 4, r.data(), nullptr), DTX_OK) << dtx_last_error();
    for (int i = 0; i < 4; i++) {
      ASSERT_NE(r[i], nullptr);
      EXPECT_EQ(ChunkI64(r[i]), want[i]);
    }
    /* Each handle is released independently: release one, others still valid. */
    dtx_chunk_release(r.c[0]);
    r.c[0] = nullptr;
    EXPECT_EQ(ChunkI64(r[2]), want[2]);
    EXPECT_EQ(ChunkI64(r[3]), want[3]);
    for (int i = 0; i < 3; i++) EXPECT_EQ(counters[i].load(), round + 1) << "each task once per compute";
  }
}

TEST_P(GraphCompute, ResultsOutliveGraphAndCluster) {
  dtx_graph *g = g_.get();
  dtx_task_id a = AddConst(g, "a", {}, 41);
  dtx_task_id b = AddWithInputs(g, "b", {}, SumPlusOne, {a});
  Results r(1);
  ASSERT_EQ(dtx_compute(cl_.get(), g, &b, 1, r.data(), nullptr), DTX_OK) << dtx_last_error();
  g_.reset();
  cl_.reset();
  EXPECT_EQ(ChunkI64(r[0]), 42);
}

TEST_P(GraphCompute, TaskKeyInsideTask) {
  dtx_graph *g = g_.get();
  dtx_task_id a = Add(g, Desc("keyed", KeyOut, {3, -9}));
  dtx_task_id b = Add(g, Desc("plain", KeyOut));
  dtx_task_id outs[2] = {a, b};
  Results r(2);
  ASSERT_EQ(dtx_compute(cl_.get(), g, outs, 2, r.data(), nullptr), DTX_OK) << dtx_last_error();
  EXPECT_STREQ(static_cast<const char *>(dtx_chunk_data(r[0])), "keyed[3,-9]");
  EXPECT_STREQ(static_cast<const char *>(dtx_chunk_data(r[1])), "plain");
}

TEST_P(GraphCompute, FailureCarriesKeyAndMessage) {
  dtx_graph *g = g_.get();
  dtx_task_id bad = Add(g, Desc("bad", FailBoom, {1}));
  dtx_task_id dep = AddWithInputs(g, "dep", {}, SumPlusOne, {bad});
  dtx_task_id fine = AddConst(g, "fine", {}, 9);
  dtx_task_id seven = Add(g, Desc("seven", ReturnsSeven));
  dtx_task_id outs[4] = {dep, fine, bad, seven};
  Results r(4);
  EXPECT_EQ(dtx_compute(cl_.get(), g, outs, 4, r.data(), nullptr), DTX_ETASK);
  std::string msg = dtx_last_error();
  EXPECT_TRUE(msg.find("bad[1]") != std::string::npos || msg.find("seven") != std::string::npos) << msg;
  for (int i = 0; i < 4; i++) ASSERT_NE(r[i], nullptr) << i;
  EXPECT_EQ(dtx_chunk_status(r[0]), DTX_ETASK);
  ASSERT_NE(dtx_chunk_error(r[0]), nullptr);
  EXPECT_STREQ(dtx_chunk_error(r[0]), "bad[1]: boom 42");
  EXPECT_EQ(dtx_chunk_data(r[0]), nullptr);
  EXPECT_EQ(dtx_chunk_status(r[1]), DTX_OK);
  EXPECT_EQ(ChunkI64(r[1]), 9);
  EXPECT_EQ(dtx_chunk_status(r[2]), DTX_ETASK);
  EXPECT_STREQ(dtx_chunk_error(r[2]), "bad[1]: boom 42");
  /* A nonzero return without dtx_task_fail is a failure too, with the key. */
  EXPECT_EQ(dtx_chunk_status(r[3]), DTX_ETASK);
  ASSERT_NE(dtx_chunk_error(r[3]), nullptr);
  EXPECT_EQ(std::string(dtx_chunk_error(r[3])).rfind("seven", 0), 0u) << dtx_chunk_error(r[3]);
}

INSTANTIATE_TEST_SUITE_P(Schedulers, GraphCompute, ::testing::Values(DTX_SCHED_SYNC, DTX_SCHED_THREADS),
                         SchedName);

/* ---- busy graphs, big graphs -------------------------------------------------------- */

namespace {
int GatedOne(dtx_task_ctx *ctx) {
  Gate *g = Arg<Gate *>(ctx);
  if (!g->Pass()) return dtx_task_fail(ctx, "gate never opened");
  return OutputI64(ctx, 1);
}
}  // namespace

TEST_P(GraphCompute, ComputeWhileBusyIsRejected) {
  /* One computation of a graph at a time; no adds while it runs. */
  dtx_graph *g = g_.get();
  Gate gate;
  Gate *gp = &gate;
  dtx_task_desc d = Desc("gated", GatedOne);
  d.args = &gp;
  d.args_size = sizeof gp;
  dtx_task_id id = Add(g, d);
  dtx_status first = DTX_EINVAL;
  int64_t v = 0;
  std::thread t([&] {
    Results r(1);
    first = dtx_compute(cl_.get(), g, &id, 1, r.data(), nullptr);
    v = ChunkI64(r[0]);
  });
  ASSERT_TRUE(gate.WaitStarted(1));
  EXPECT_EQ(dtx_compute(cl_.get(), g, &id, 1, nullptr, nullptr), DTX_EBUSY);
  dtx_task_desc more = Desc("more", Noop);
  dtx_task_id mid = 0;
  EXPECT_EQ(dtx_graph_add(g, &more, &mid), DTX_EBUSY);
  gate.Open();
  t.join();
  EXPECT_EQ(first, DTX_OK);
  EXPECT_EQ(v, 1);
  EXPECT_EQ(dtx_graph_size(g), 1u);
  /* Free again. */
  EXPECT_EQ(dtx_graph_add(g, &more, &mid), DTX_OK) << dtx_last_error();
  Results r(1);
  EXPECT_EQ(dtx_compute(cl_.get(), g, &id, 1, r.data(), nullptr), DTX_OK) << dtx_last_error();
}

TEST(Graph, LargeGraphLookup) {
  GraphPtr g = MakeGraph();
  const int n = 200000 / kScale;
  const char *names[3] = {"load", "x", "getitem"};
  for (int i = 0; i < n; i++) {
    dtx_task_desc d = Desc(names[i % 3], Noop, {i / 7, -(i % 7), i});
    dtx_task_id id = 0;
    ASSERT_EQ(dtx_graph_add(g.get(), &d, &id), DTX_OK) << i << ": " << dtx_last_error();
    ASSERT_EQ(id, static_cast<dtx_task_id>(i));
  }
  EXPECT_EQ(dtx_graph_size(g.get()), static_cast<size_t>(n));
  int bad = 0;
  for (int i = 0; i < n; i += 13) {
    char key[DTX_MAX_KEY];
    snprintf(key, sizeof key, "%s[%d,%d,%d]", names[i % 3], i / 7, -(i % 7), i);
    dtx_task_id id = 0;
    if (dtx_graph_find_key(g.get(), key, &id) != DTX_OK || id != static_cast<dtx_task_id>(i)) bad++;
    if (KeyOf(g.get(), static_cast<dtx_task_id>(i)) != key) bad++;
    int64_t idx[3] = {i / 7, -(i % 7), i + n}; /* not there */
    if (dtx_graph_find(g.get(), names[i % 3], 3, idx, &id) == DTX_OK) bad++;
  }
  EXPECT_EQ(bad, 0);
}

TEST(Graph, LongestKeysRoundTrip) {
  /* Whatever name length add accepts, the printed key fits DTX_MAX_KEY and
   * finds the task again. */
  GraphPtr g = MakeGraph();
  int accepted = 0;
  for (size_t len : {8, 32, 60, 64, 72, 80, 100, 120, 150, 200}) {
    std::string name(len, 'n');
    name += std::to_string(len);
    dtx_task_desc d = Desc(name.c_str(), Noop, {INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN});
    dtx_task_id id = 0;
    if (dtx_graph_add(g.get(), &d, &id) != DTX_OK) continue;
    accepted++;
    SCOPED_TRACE(name.size());
    char want[512];
    snprintf(want, sizeof want, "%s[%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "]", name.c_str(),
             INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN);
    char buf[DTX_MAX_KEY];
    ASSERT_EQ(dtx_graph_key(g.get(), id, buf, sizeof buf), DTX_OK);
    EXPECT_STREQ(buf, want) << "key of " << std::strlen(want) << " characters does not fit DTX_MAX_KEY ("
                            << DTX_MAX_KEY << ")";
    dtx_task_id got = 0;
    EXPECT_EQ(dtx_graph_find_key(g.get(), buf, &got), DTX_OK) << dtx_last_error();
    EXPECT_EQ(got, id);
  }
  EXPECT_GT(accepted, 0);
}

TEST_P(GraphCompute, InputIndexOutOfRange) {
  dtx_graph *g = g_.get();
  dtx_task_id a = AddConst(g, "a", {}, 1);
  auto fn = [](dtx_task_ctx *ctx) -> int {
    size_t sz = 99;
    if (dtx_task_input(ctx, -1, &sz) != nullptr || sz != 0) return dtx_task_fail(ctx, "input -1");
    sz = 99;
    if (dtx_task_input(ctx, 1, &sz) != nullptr || sz != 0) return dtx_task_fail(ctx, "input 1");
    if (dtx_task_num_inputs(ctx) != 1) return dtx_task_fail(ctx, "num inputs");
    return OutputI64(ctx, InputI64(ctx, 0));
  };
  dtx_task_id b = AddWithInputs(g, "b", {}, fn, {a});
  Results r(1);
  ASSERT_EQ(dtx_compute(cl_.get(), g, &b, 1, r.data(), nullptr), DTX_OK) << dtx_last_error();
  EXPECT_EQ(ChunkI64(r[0]), 1);
}
