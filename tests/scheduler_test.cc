/*
 * tests/scheduler_test.cc - the sync and threads schedulers: results on known
 * graphs, random DAGs checked against an independent reference (and so sync
 * against threads with 1, 2 and 4 workers, bit for bit), random failures,
 * a million-task stress graph, memory release, idle workers, sync's
 * deterministic order and memory-friendly order, user priority, DTX_SCHEDULER.
 */
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/config.h" /* dtxi_env_reload */
#include "dtx/dtx.h"
#include "test_util.h"

using namespace dtxt;

namespace {

/* ---- simple tasks ------------------------------------------------------------ */

int Leaf(dtx_task_ctx *ctx) { return OutputI64(ctx, Arg<int64_t>(ctx)); }

int Inc(dtx_task_ctx *ctx) {
  if (dtx_task_num_inputs(ctx) != 1) return dtx_task_fail(ctx, "want 1 input");
  return OutputI64(ctx, InputI64(ctx, 0) + 1);
}

int Sum(dtx_task_ctx *ctx) {
  int64_t s = 0;
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) s += InputI64(ctx, i);
  return OutputI64(ctx, s);
}

/* out = k; for each input: out = out * mul + input. args: {k, mul}. */
struct LinArgs {
  int64_t k, mul;
};
int Lin(dtx_task_ctx *ctx) {
  LinArgs a = Arg<LinArgs>(ctx);
  uint64_t v = static_cast<uint64_t>(a.k); /* wraps mod 2^64 */
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++)
    v = v * static_cast<uint64_t>(a.mul) + static_cast<uint64_t>(InputI64(ctx, i));
  return OutputI64(ctx, static_cast<int64_t>(v));
}

dtx_task_id AddTask(dtx_graph *g, const char *name, std::initializer_list<int64_t> idx, dtx_task_fn fn,
                    const std::vector<dtx_task_id> &in, const void *args = nullptr, size_t args_size = 0,
                    int priority = 0) {
  dtx_task_desc d = Desc(name, fn, idx);
  d.inputs = in.empty() ? nullptr : in.data();
  d.ninputs = static_cast<int>(in.size());
  d.args = args;
  d.args_size = args_size;
  d.priority = priority;
  dtx_task_id id = 0;
  dtx_status rc = dtx_graph_add(g, &d, &id);
  EXPECT_EQ(rc, DTX_OK) << dtx_last_error();
  return id;
}

dtx_task_id AddLeaf(dtx_graph *g, const char *name, std::initializer_list<int64_t> idx, int64_t v) {
  return AddTask(g, name, idx, Leaf, {}, &v, sizeof v);
}

/* Pairwise reduction of ids with task `name`; returns the root. */
dtx_task_id Reduce(dtx_graph *g, const char *name, std::vector<dtx_task_id> level, dtx_task_fn fn) {
  int depth = 0;
  while (level.size() > 1) {
    std::vector<dtx_task_id> next;
    for (size_t i = 0; i < level.size(); i += 2) {
      if (i + 1 < level.size())
        next.push_back(AddTask(g, name, {depth, static_cast<int64_t>(i / 2)}, fn, {level[i], level[i + 1]}));
      else
        next.push_back(level[i]);
    }
    level.swap(next);
    depth++;
  }
  return level[0];
}

dtx_compute_opts Opts(dtx_scheduler s) {
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = s;
  return o;
}

dtx_cluster_stats Stats(dtx_cluster *cl) {
  dtx_cluster_stats s = DTX_CLUSTER_STATS_INIT;
  EXPECT_EQ(dtx_cluster_get_stats(cl, &s), DTX_OK) << dtx_last_error();
  return s;
}

/* ---- engines under test: sync and threads with 1, 2, 4 workers ----------------- */

struct Engine {
  dtx_scheduler sched;
  int threads;
};

std::string EngineName(const ::testing::TestParamInfo<Engine> &info) {
  return info.param.sched == DTX_SCHED_SYNC ? "Sync" : "Threads" + std::to_string(info.param.threads);
}

class Known : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    cl_ = MakeCluster(GetParam().sched, GetParam().threads);
    ASSERT_NE(cl_, nullptr);
    ASSERT_EQ(dtx_cluster_scheduler(cl_.get()), GetParam().sched);
    if (GetParam().sched == DTX_SCHED_THREADS) {
      ASSERT_EQ(dtx_cluster_num_threads(cl_.get()), GetParam().threads);
    }
  }
  int64_t Compute1(dtx_graph *g, dtx_task_id out) {
    Results r(1);
    dtx_compute_opts o = Opts(GetParam().sched);
    dtx_status rc = dtx_compute(cl_.get(), g, &out, 1, r.data(), &o);
    EXPECT_EQ(rc, DTX_OK) << dtx_last_error();
    EXPECT_NE(r[0], nullptr);
    if (r[0] != nullptr) {
      EXPECT_EQ(dtx_chunk_status(r[0]), DTX_OK);
    }
    return ChunkI64(r[0]);
  }
  ClusterPtr cl_;
};

}  // namespace

/* ---- known graphs ------------------------------------------------------------- */

TEST_P(Known, SumTrees) {
  for (int n : {1, 2, 3, 7, 64, 999, 1000, 4097}) {
    SCOPED_TRACE(n);
    GraphPtr g = MakeGraph();
    std::vector<dtx_task_id> leaves;
    for (int i = 0; i < n; i++) leaves.push_back(AddLeaf(g.get(), "leaf", {i}, i));
    dtx_task_id root = Reduce(g.get(), "sum", leaves, Sum);
    EXPECT_EQ(Compute1(g.get(), root), int64_t(n) * (n - 1) / 2);
  }
}

TEST_P(Known, Chains) {
  for (int n : {1, 2, 100, 20000 / kScale}) {
    SCOPED_TRACE(n);
    GraphPtr g = MakeGraph();
    dtx_task_id prev = AddLeaf(g.get(), "start", {}, 1000);
    for (int i = 1; i < n; i++) prev = AddTask(g.get(), "inc", {i}, Inc, {prev});
    EXPECT_EQ(Compute1(g.get(), prev), 1000 + n - 1);
  }
}

TEST_P(Known, Diamonds) {
  GraphPtr g = MakeGraph();
  LinArgs la{3, 0}, lb{0, 2}, lc{5, 1}, ld{0, 1000};
  dtx_task_id a = AddTask(g.get(), "a", {}, Lin, {}, &la, sizeof la);
  dtx_task_id b = AddTask(g.get(), "b", {}, Lin, {a}, &lb, sizeof lb); /* 3 */
  dtx_task_id c = AddTask(g.get(), "c", {}, Lin, {a}, &lc, sizeof lc); /* 5*1+3 = 8 */
  dtx_task_id d = AddTask(g.get(), "d", {}, Lin, {b, c}, &ld, sizeof ld);
  EXPECT_EQ(Compute1(g.get(), d), 3 * 1000 + 8);

  /* A stack of 200 diamonds: x_{k+1} = (x_k + 1) + (x_k + 6) = 2 x_k + 7 (mod 2^64). */
  GraphPtr h = MakeGraph();
  dtx_task_id x = AddLeaf(h.get(), "x", {0}, 1);
  uint64_t want = 1;
  LinArgs l1{1, 1}, l2{3, 2}, sum{0, 1};
  for (int k = 0; k < 200; k++) {
    dtx_task_id p = AddTask(h.get(), "p", {k}, Lin, {x}, &l1, sizeof l1);
    dtx_task_id q = AddTask(h.get(), "q", {k}, Lin, {x}, &l2, sizeof l2);
    x = AddTask(h.get(), "x", {k + 1}, Lin, {p, q}, &sum, sizeof sum);
    want = (want + 1) + (want + 6);
  }
  EXPECT_EQ(static_cast<uint64_t>(Compute1(h.get(), x)), want);
}

TEST_P(Known, WideFanIn) {
  GraphPtr g = MakeGraph();
  std::vector<dtx_task_id> in;
  for (int i = 0; i < 5000; i++) in.push_back(AddLeaf(g.get(), "w", {i}, i * 3));
  dtx_task_id s = AddTask(g.get(), "all", {}, Sum, in);
  EXPECT_EQ(Compute1(g.get(), s), int64_t(3) * 4999 * 5000 / 2);
}

TEST_P(Known, WorkerIndex) {
  /* Tasks record dtx_task_worker and their thread; sync runs on the caller. */
  struct Rec {
    std::atomic<int> bad{0};
    std::atomic<int> on_caller{0};
    std::thread::id caller;
    int threads;
    bool sync;
  } rec;
  rec.caller = std::this_thread::get_id();
  rec.threads = GetParam().threads;
  rec.sync = GetParam().sched == DTX_SCHED_SYNC;
  auto fn = [](dtx_task_ctx *ctx) -> int {
    Rec *r = Arg<Rec *>(ctx);
    int w = dtx_task_worker(ctx);
    bool caller = std::this_thread::get_id() == r->caller;
    if (caller) r->on_caller++;
    if (r->sync ? w != -1 : (w < 0 || w >= r->threads)) r->bad++;
    if (dtx_task_cluster(ctx) == nullptr) r->bad++;
    return 0;
  };
  GraphPtr g = MakeGraph();
  Rec *p = &rec;
  std::vector<dtx_task_id> ids;
  for (int i = 0; i < 200; i++) ids.push_back(AddTask(g.get(), "w", {i}, fn, {}, &p, sizeof p));
  dtx_compute_opts o = Opts(GetParam().sched);
  ASSERT_EQ(dtx_compute(cl_.get(), g.get(), ids.data(), 200, nullptr, &o), DTX_OK) << dtx_last_error();
  EXPECT_EQ(rec.bad.load(), 0);
  if (rec.sync) {
    EXPECT_EQ(rec.on_caller.load(), 200);
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, Known,
                         ::testing::Values(Engine{DTX_SCHED_SYNC, 0}, Engine{DTX_SCHED_THREADS, 1},
                                           Engine{DTX_SCHED_THREADS, 2}, Engine{DTX_SCHED_THREADS, 4}),
                         EngineName);

/* ---- random DAGs ---------------------------------------------------------------- */

namespace {

/* Records the order tasks ran in. */
struct Recorder {
  std::atomic<int> next{0};
  std::vector<int> order; /* position -> task index */
  explicit Recorder(size_t n) : order(n, -1) {}
  void Record(int id) {
    int pos = next.fetch_add(1);
    if (pos >= 0 && static_cast<size_t>(pos) < order.size()) order[pos] = id;
  }
};

struct RandArgs {
  uint32_t id;
  uint8_t fail;
  uint8_t zero; /* produces no output */
  uint8_t nwords;
  Recorder *rec;
};

/* h = hash(key); per input: size then words (or a marker for none); outputs
 * nwords words Mix(h + j). */
int RandTask(dtx_task_ctx *ctx) {
  RandArgs a = Arg<RandArgs>(ctx);
  if (a.rec != nullptr) a.rec->Record(static_cast<int>(a.id));
  std::string key = TaskKey(ctx);
  if (a.fail) return dtx_task_fail(ctx, "boom %s", key.c_str());
  uint64_t h = HashStr(key);
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) {
    size_t sz = 0;
    const void *p = dtx_task_input(ctx, i, &sz);
    if (p == nullptr || sz == 0) {
      h = Combine(h, 0xdeadbeefull);
      continue;
    }
    if (sz % 8 != 0) return dtx_task_fail(ctx, "odd input size %zu", sz);
    h = Combine(h, sz);
    for (size_t w = 0; w < sz / 8; w++) {
      uint64_t v;
      std::memcpy(&v, static_cast<const char *>(p) + 8 * w, 8);
      h = Combine(h, v);
    }
  }
  if (a.zero) return 0;
  uint64_t *o = static_cast<uint64_t *>(dtx_task_output(ctx, 8u * a.nwords));
  if (o == nullptr) return dtx_task_fail(ctx, "oom");
  for (int j = 0; j < a.nwords; j++) o[j] = Mix(h + static_cast<uint64_t>(j));
  return 0;
}

const char *const kNames[] = {"load", "add", "mul", "sum", "x", "getitem"};

struct Dag {
  uint64_t seed = 0;
  int n = 0;
  std::vector<std::vector<dtx_task_id>> in;
  std::vector<const char *> name;
  std::vector<std::vector<int64_t>> idx;
  std::vector<std::string> key;
  std::vector<RandArgs> args;
  std::vector<int> topo; /* a topological order of ids (the generator's) */
  std::vector<dtx_task_id> outputs;
  /* reference */
  std::vector<std::vector<uint64_t>> value;
  std::vector<bool> erred;
  std::vector<std::set<int>> failing_anc; /* failing tasks among ancestors-or-self */
  GraphPtr graph;
};

std::string FormatKey(const char *name, const std::vector<int64_t> &idx) {
  std::string s = name;
  if (!idx.empty()) {
    s += '[';
    for (size_t i = 0; i < idx.size(); i++) {
      if (i) s += ',';
      s += std::to_string(idx[i]);
    }
    s += ']';
  }
  return s;
}

/* A random DAG: ids are a random permutation of a topological order, so
 * inputs often name ids added later. fail_rate 0: no failures. */
void MakeDag(Dag &d, uint64_t seed, int max_n, double fail_rate, Recorder *rec = nullptr) {
  std::mt19937_64 rng(seed);
  auto uni = [&](int lo, int hi) {
    return lo + static_cast<int>(rng() % static_cast<uint64_t>(hi - lo + 1));
  };
  d.seed = seed;
  d.n = uni(1, max_n);
  int n = d.n;
  std::vector<int> perm(n);
  for (int i = 0; i < n; i++) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  d.topo = perm;
  d.in.assign(n, {});
  d.name.assign(n, nullptr);
  d.idx.assign(n, {});
  d.key.assign(n, "");
  d.args.assign(n, RandArgs{});
  for (int p = 0; p < n; p++) {
    int id = perm[p];
    int k = p == 0 ? 0 : uni(0, std::min(5, p));
    for (int j = 0; j < k; j++) d.in[id].push_back(static_cast<dtx_task_id>(perm[uni(0, p - 1)]));
    d.name[id] = kNames[uni(0, 5)];
    int nidx = uni(1, 4);
    d.idx[id].push_back(id);
    for (int j = 1; j < nidx; j++) d.idx[id].push_back(uni(-5, 5));
    d.key[id] = FormatKey(d.name[id], d.idx[id]);
    RandArgs &a = d.args[id];
    a.id = static_cast<uint32_t>(id);
    a.fail = fail_rate > 0 && (rng() % 10000) < static_cast<uint64_t>(fail_rate * 10000) ? 1 : 0;
    a.zero = uni(0, 19) == 0 ? 1 : 0;
    a.nwords = static_cast<uint8_t>(uni(1, 4));
    a.rec = rec;
  }
  int nout = uni(1, std::min(n, 10));
  for (int j = 0; j < nout; j++) d.outputs.push_back(static_cast<dtx_task_id>(uni(0, n - 1)));

  /* Reference, in topological order. */
  d.value.assign(n, {});
  d.erred.assign(n, false);
  d.failing_anc.assign(n, {});
  for (int p = 0; p < n; p++) {
    int id = perm[p];
    bool err = d.args[id].fail != 0;
    if (err) d.failing_anc[id].insert(id);
    for (dtx_task_id i : d.in[id]) {
      if (d.erred[i]) err = true;
      d.failing_anc[id].insert(d.failing_anc[i].begin(), d.failing_anc[i].end());
    }
    d.erred[id] = err;
    if (err) continue;
    uint64_t h = HashStr(d.key[id]);
    for (dtx_task_id i : d.in[id]) {
      const std::vector<uint64_t> &v = d.value[i];
      if (v.empty()) {
        h = Combine(h, 0xdeadbeefull);
        continue;
      }
      h = Combine(h, 8 * v.size());
      for (uint64_t w : v) h = Combine(h, w);
    }
    if (!d.args[id].zero)
      for (int j = 0; j < d.args[id].nwords; j++) d.value[id].push_back(Mix(h + static_cast<uint64_t>(j)));
  }

  /* The graph, added in id order. */
  d.graph = MakeGraph();
  for (int id = 0; id < n; id++) {
    dtx_task_desc desc;
    std::memset(&desc, 0, sizeof desc);
    desc.name = d.name[id];
    desc.nidx = static_cast<int>(d.idx[id].size());
    for (int j = 0; j < desc.nidx; j++) desc.idx[j] = d.idx[id][j];
    desc.inputs = d.in[id].empty() ? nullptr : d.in[id].data();
    desc.ninputs = static_cast<int>(d.in[id].size());
    desc.args = &d.args[id];
    desc.args_size = sizeof(RandArgs);
    desc.cpu = RandTask;
    dtx_task_id got = 0;
    ASSERT_EQ(dtx_graph_add(d.graph.get(), &desc, &got), DTX_OK) << d.key[id] << ": " << dtx_last_error();
    ASSERT_EQ(got, static_cast<dtx_task_id>(id));
  }
}

/* What a run gave for one output. */
struct Got {
  dtx_status status;
  std::vector<uint64_t> words;
  std::string error;
};

/* Runs d on cl with sched and checks every output against the reference. */
std::vector<Got> RunAndCheck(dtx_cluster *cl, Dag &d, dtx_scheduler sched, const char *label) {
  SCOPED_TRACE(label);
  std::vector<Got> got;
  int nout = static_cast<int>(d.outputs.size());
  Results r(nout);
  dtx_compute_opts o = Opts(sched);
  dtx_status rc = dtx_compute(cl, d.graph.get(), d.outputs.data(), nout, r.data(), &o);
  std::string msg = dtx_last_error();
  bool any_err = false;
  std::set<int> failing;
  for (dtx_task_id out : d.outputs) {
    if (d.erred[out]) any_err = true;
    failing.insert(d.failing_anc[out].begin(), d.failing_anc[out].end());
  }
  EXPECT_EQ(rc, any_err ? DTX_ETASK : DTX_OK) << msg;
  if (any_err) {
    bool named = false;
    for (int f : failing)
      if (msg.find(d.key[f] + ": boom " + d.key[f]) != std::string::npos) named = true;
    EXPECT_TRUE(named) << "last error does not name a failing key and its message: " << msg;
  }
  for (int j = 0; j < nout; j++) {
    dtx_task_id out = d.outputs[j];
    SCOPED_TRACE("output " + std::to_string(j) + " = " + d.key[out]);
    Got g{DTX_EINVAL, {}, ""};
    if (r[j] == nullptr) {
      ADD_FAILURE() << "no chunk";
      got.push_back(g);
      continue;
    }
    g.status = dtx_chunk_status(r[j]);
    const char *e = dtx_chunk_error(r[j]);
    if (e != nullptr) g.error = e;
    size_t sz = dtx_chunk_size(r[j]);
    const void *p = dtx_chunk_data(r[j]);
    if (p != nullptr)
      for (size_t w = 0; w < sz / 8; w++) {
        uint64_t v;
        std::memcpy(&v, static_cast<const char *>(p) + 8 * w, 8);
        g.words.push_back(v);
      }
    if (d.erred[out]) {
      EXPECT_EQ(g.status, DTX_ETASK);
      EXPECT_EQ(p, nullptr);
      bool ok = false;
      for (int f : d.failing_anc[out])
        if (g.error == d.key[f] + ": boom " + d.key[f]) ok = true;
      EXPECT_TRUE(ok) << "chunk error does not name a failing ancestor: '" << g.error << "'";
    } else {
      EXPECT_EQ(g.status, DTX_OK) << g.error;
      EXPECT_EQ(e, nullptr);
      EXPECT_EQ(sz, 8 * d.value[out].size());
      if (d.value[out].empty()) {
        EXPECT_EQ(p, nullptr);
      }
      EXPECT_TRUE(g.words == d.value[out]) << "value differs from the reference";
    }
    got.push_back(g);
  }
  return got;
}

class RandomDags : public ::testing::Test {
 protected:
  void SetUp() override {
    sync_ = MakeCluster(DTX_SCHED_SYNC, 1);
    t1_ = MakeCluster(DTX_SCHED_THREADS, 1);
    t2_ = MakeCluster(DTX_SCHED_THREADS, 2);
    t4_ = MakeCluster(DTX_SCHED_THREADS, 4);
    ASSERT_TRUE(sync_ && t1_ && t2_ && t4_);
  }
  /* Checks `count` DAGs; returns {outputs that succeeded, outputs that erred}. */
  std::pair<int, int> RunMany(uint64_t base_seed, int count, double fail_rate) {
    int ok = 0, err = 0;
    long tasks = 0;
    for (int i = 0; i < count; i++) {
      uint64_t seed = base_seed + static_cast<uint64_t>(i);
      SCOPED_TRACE("seed " + std::to_string(seed));
      Dag d;
      double rate = fail_rate > 0 ? fail_rate * (1 + static_cast<int>(seed % 4)) / 4.0 : 0;
      MakeDag(d, seed, 300, rate);
      if (::testing::Test::HasFatalFailure()) break;
      tasks += d.n;
      for (dtx_task_id o : d.outputs) (d.erred[o] ? err : ok)++;
      std::vector<Got> s = RunAndCheck(sync_.get(), d, DTX_SCHED_SYNC, "sync");
      std::vector<Got> r1 = RunAndCheck(t1_.get(), d, DTX_SCHED_THREADS, "threads x1");
      std::vector<Got> r2 = RunAndCheck(t2_.get(), d, DTX_SCHED_THREADS, "threads x2");
      std::vector<Got> r4 = RunAndCheck(t4_.get(), d, DTX_SCHED_THREADS, "threads x4");
      /* The per-call override: sync on a threads cluster, threads on the sync one. */
      std::vector<Got> o1 = RunAndCheck(t2_.get(), d, DTX_SCHED_SYNC, "sync via opts");
      std::vector<Got> o2 =
          RunAndCheck(sync_.get(), d, DTX_SCHED_THREADS, "threads via opts on a sync cluster");
      for (size_t j = 0; j < s.size(); j++) {
        for (const std::vector<Got> *other : {&r1, &r2, &r4, &o1, &o2}) {
          if (j >= other->size()) continue;
          EXPECT_EQ((*other)[j].status, s[j].status) << "output " << j;
          EXPECT_TRUE((*other)[j].words == s[j].words) << "output " << j;
        }
      }
      if (::testing::Test::HasFailure()) {
        std::printf("random DAG failed: seed %" PRIu64 " (%d tasks)\n", seed, d.n);
        break;
      }
    }
    std::printf("%d DAGs from seed %" PRIu64 ", %ld tasks, %d outputs with data, %d erred\n", count,
                base_seed, tasks, ok, err);
    return {ok, err};
  }
  ClusterPtr sync_, t1_, t2_, t4_;
};

}  // namespace

TEST_F(RandomDags, ThreadsMatchSync) {
  const int n = kSanitized ? 60 : 400;
  std::pair<int, int> r = RunMany(1000, n, 0);
  EXPECT_EQ(r.second, 0);
}

TEST_F(RandomDags, RandomFailuresAgree) {
  const int n = kSanitized ? 60 : 300;
  std::pair<int, int> r = RunMany(50000, n, 0.08);
  /* The mix exercises both outcomes. */
  EXPECT_GT(r.first, n / 2);
  EXPECT_GT(r.second, n / 2);
}

TEST(Scheduler, ConcurrentComputesOnOneCluster) {
  /* Several host threads compute their own graphs on one cluster at once. */
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, 2);
  ASSERT_NE(cl, nullptr);
  const int nthreads = 4, per = kSanitized ? 8 : 40;
  std::vector<std::thread> ts;
  for (int t = 0; t < nthreads; t++) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per; i++) {
        uint64_t seed = 900000 + static_cast<uint64_t>(t * 1000 + i);
        SCOPED_TRACE("seed " + std::to_string(seed));
        Dag d;
        MakeDag(d, seed, 300, (i % 2) ? 0.05 : 0);
        RunAndCheck(cl.get(), d, DTX_SCHED_THREADS, "threads, concurrent");
      }
    });
  }
  for (auto &t : ts) t.join();
}

/* ---- stress: a million tasks ------------------------------------------------------ */

TEST(Scheduler, MillionTaskStress) {
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, 0);
  ASSERT_NE(cl, nullptr);
  const int chains = kSanitized ? 100 : 1000, len = 1000;
  GraphPtr g = MakeGraph();
  std::vector<dtx_task_id> ends;
  for (int c = 0; c < chains; c++) {
    dtx_task_id prev = AddLeaf(g.get(), "c", {c, 0}, c);
    for (int j = 1; j < len; j++) prev = AddTask(g.get(), "c", {c, j}, Inc, {prev});
    ends.push_back(prev);
  }
  dtx_task_id root = Reduce(g.get(), "tree", ends, Sum);
  size_t ntasks = dtx_graph_size(g.get());
  ASSERT_EQ(ntasks, static_cast<size_t>(chains) * len + chains - 1);
  dtx_cluster_stats before = Stats(cl.get());
  Results r(1);
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), &root, 1, r.data(), nullptr), DTX_OK) << dtx_last_error();
  int64_t want = int64_t(chains) * (chains - 1) / 2 + int64_t(chains) * (len - 1);
  EXPECT_EQ(ChunkI64(r[0]), want);
  dtx_cluster_stats after = Stats(cl.get());
  EXPECT_EQ(after.tasks_run - before.tasks_run, static_cast<int64_t>(ntasks));
  EXPECT_EQ(after.tasks_failed - before.tasks_failed, 0);
}

/* ---- memory ---------------------------------------------------------------------- */

namespace {

constexpr size_t kMiB = 1 << 20;

/* Outputs 1 MiB: word 0 = input's word 0 + 1 (or 0), one byte per page touched. */
int BigStep(dtx_task_ctx *ctx) {
  int64_t v = 0;
  if (dtx_task_num_inputs(ctx) > 0) {
    size_t sz = 0;
    const char *p = static_cast<const char *>(dtx_task_input(ctx, 0, &sz));
    if (p == nullptr || sz != kMiB) return dtx_task_fail(ctx, "input size %zu", sz);
    std::memcpy(&v, p, sizeof v);
    if (static_cast<unsigned char>(p[kMiB - 1]) != static_cast<unsigned char>(v))
      return dtx_task_fail(ctx, "tail");
    v++;
  }
  char *o = static_cast<char *>(dtx_task_output(ctx, kMiB));
  if (o == nullptr) return dtx_task_fail(ctx, "oom");
  for (size_t off = 0; off < kMiB; off += 4096) o[off] = 1;
  std::memcpy(o, &v, sizeof v);
  o[kMiB - 1] = static_cast<char>(v);
  return 0;
}

/* 1 MiB outputs; word 0 = args (leaves) or the sum of the inputs' word 0. */
int BigSum(dtx_task_ctx *ctx) {
  int64_t s = 0;
  int n = dtx_task_num_inputs(ctx);
  if (n == 0) s = Arg<int64_t>(ctx);
  for (int i = 0; i < n; i++) {
    size_t sz = 0;
    const void *p = dtx_task_input(ctx, i, &sz);
    if (p == nullptr || sz != kMiB) return dtx_task_fail(ctx, "input size %zu", sz);
    int64_t v;
    std::memcpy(&v, p, sizeof v);
    s += v;
  }
  char *o = static_cast<char *>(dtx_task_output(ctx, kMiB));
  if (o == nullptr) return dtx_task_fail(ctx, "oom");
  for (size_t off = 0; off < kMiB; off += 4096) o[off] = 1;
  std::memcpy(o, &s, sizeof s);
  return 0;
}

}  // namespace

class MemoryChain : public ::testing::TestWithParam<dtx_scheduler> {};

TEST_P(MemoryChain, PeakStaysAFewChunks) {
  ClusterPtr cl = MakeCluster(GetParam(), 2);
  ASSERT_NE(cl, nullptr);
  const int n = kSanitized ? 2000 : 100000;
  GraphPtr g = MakeGraph();
  dtx_task_id prev = AddTask(g.get(), "big", {0}, BigStep, {});
  for (int i = 1; i < n; i++) prev = AddTask(g.get(), "big", {i}, BigStep, {prev});
  dtx_cluster_reset_peak(cl.get());
  dtx_cluster_stats s0 = Stats(cl.get());
  EXPECT_EQ(s0.bytes_in_use, 0);
  {
    Results r(1);
    ASSERT_EQ(dtx_compute(cl.get(), g.get(), &prev, 1, r.data(), nullptr), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtx_chunk_size(r[0]), kMiB);
    EXPECT_EQ(ChunkI64(r[0]), n - 1);
    dtx_cluster_stats s1 = Stats(cl.get());
    EXPECT_GE(s1.bytes_in_use, static_cast<int64_t>(kMiB)) << "the result is held";
    EXPECT_LE(s1.bytes_in_use, static_cast<int64_t>(kMiB + 65536)) << "only the result should be held";
  }
  dtx_cluster_stats s = Stats(cl.get());
  EXPECT_GE(s.bytes_peak, static_cast<int64_t>(kMiB));
  EXPECT_LT(s.bytes_peak, static_cast<int64_t>(4 * kMiB + 65536))
      << "peak " << s.bytes_peak / double(kMiB) << " MiB";
  EXPECT_EQ(s.bytes_in_use, 0) << "released result still accounted";
}

INSTANTIATE_TEST_SUITE_P(Schedulers, MemoryChain, ::testing::Values(DTX_SCHED_SYNC, DTX_SCHED_THREADS),
                         [](const ::testing::TestParamInfo<dtx_scheduler> &i) {
                           return std::string(i.param == DTX_SCHED_SYNC ? "Sync" : "Threads");
                         });

TEST(Scheduler, SyncTreeReductionPeakIsLogarithmic) {
  ClusterPtr cl = MakeCluster(DTX_SCHED_SYNC, 1);
  ASSERT_NE(cl, nullptr);
  const int n = kSanitized ? 128 : 1024;
  GraphPtr g = MakeGraph();
  /* All leaves first, then each level: an order by id would hold n chunks. */
  std::vector<dtx_task_id> leaves;
  for (int i = 0; i < n; i++) {
    int64_t v = i;
    leaves.push_back(AddTask(g.get(), "leaf", {i}, BigSum, {}, &v, sizeof v));
  }
  dtx_task_id root = Reduce(g.get(), "sum", leaves, BigSum);
  dtx_cluster_reset_peak(cl.get());
  Results r(1);
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), &root, 1, r.data(), nullptr), DTX_OK) << dtx_last_error();
  EXPECT_EQ(ChunkI64(r[0]), int64_t(n) * (n - 1) / 2);
  dtx_cluster_stats s = Stats(cl.get());
  int logn = static_cast<int>(std::lround(std::log2(n)));
  EXPECT_GE(s.bytes_peak, static_cast<int64_t>(2 * kMiB));
  EXPECT_LE(s.bytes_peak, static_cast<int64_t>((logn + 4) * kMiB + 65536))
      << "peak " << s.bytes_peak / double(kMiB) << " MiB for " << n << " leaves";
}

/* ---- idle workers sleep -------------------------------------------------------------- */

namespace {
double CpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}
}  // namespace

TEST(Scheduler, IdleWorkersDoNotSpin) {
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, 4);
  ASSERT_NE(cl, nullptr);
  GraphPtr g = MakeGraph();
  std::vector<dtx_task_id> leaves;
  for (int i = 0; i < 100; i++) leaves.push_back(AddLeaf(g.get(), "l", {i}, i));
  dtx_task_id root = Reduce(g.get(), "s", leaves, Sum);
  Results r(1);
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), &root, 1, r.data(), nullptr), DTX_OK) << dtx_last_error();
  EXPECT_EQ(ChunkI64(r[0]), 4950);
  /* Measuring idleness itself: sleeping is the point here. */
  double c0 = CpuSeconds();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  double used = CpuSeconds() - c0;
  EXPECT_LT(used, 0.1) << "idle cluster burned " << used << " s of CPU in 1 s";
}

/* A root feeding many dependents (one chunk feeding a product per row
 * block): the worker that ran the root keeps one dependent and leaves the
 * others where the idle worker steals them. Each dependent waits (bounded)
 * until it has seen two workers; run one after another on one worker they
 * would each time out. */
TEST(Scheduler, DependentsOfOneRootSpreadOverWorkers) {
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, 2);
  ASSERT_NE(cl, nullptr);
  struct Seen {
    std::atomic<int> mask{0};
    std::atomic<int> timeouts{0};
  } seen;
  auto dep = [](dtx_task_ctx *ctx) -> int {
    Seen *s = Arg<Seen *>(ctx);
    s->mask.fetch_or(1 << dtx_task_worker(ctx));
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    while (s->mask.load() != 3 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (s->mask.load() != 3) s->timeouts++;
    return OutputI64(ctx, 1);
  };
  GraphPtr g = MakeGraph();
  Seen *p = &seen;
  dtx_task_id root = AddLeaf(g.get(), "root", {0}, 7);
  std::vector<dtx_task_id> deps;
  for (int i = 0; i < 8; i++) deps.push_back(AddTask(g.get(), "dep", {i}, dep, {root}, &p, sizeof p));
  dtx_compute_opts o = Opts(DTX_SCHED_THREADS);
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), deps.data(), 8, nullptr, &o), DTX_OK) << dtx_last_error();
  EXPECT_EQ(seen.mask.load(), 3) << "the dependents ran on one worker only";
  EXPECT_EQ(seen.timeouts.load(), 0);
}

/* ---- sync: deterministic, topological order; priorities ---------------------------------- */

TEST(Scheduler, SyncOrderIsDeterministicAndTopological) {
  for (uint64_t seed : {7ull, 8ull, 9ull, 10ull, 11ull}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::vector<std::vector<int>> orders;
    for (int round = 0; round < 3; round++) {
      /* A fresh cluster every other round: the order is not cluster state. */
      ClusterPtr cl = MakeCluster(DTX_SCHED_SYNC, 1);
      ASSERT_NE(cl, nullptr);
      Dag d;
      Recorder rec(300);
      MakeDag(d, seed, 300, 0, &rec);
      ASSERT_FALSE(::testing::Test::HasFatalFailure());
      for (int twice = 0; twice < 2; twice++) {
        rec.next = 0;
        std::fill(rec.order.begin(), rec.order.end(), -1);
        Results r(d.outputs.size());
        ASSERT_EQ(dtx_compute(cl.get(), d.graph.get(), d.outputs.data(), static_cast<int>(d.outputs.size()),
                              r.data(), nullptr),
                  DTX_OK)
            << dtx_last_error();
        int ran = rec.next.load();
        std::vector<int> order(rec.order.begin(), rec.order.begin() + std::min(ran, 300));
        /* Exactly the ancestors of the outputs, each once, inputs first. */
        std::vector<bool> need(d.n, false);
        std::vector<int> stack(d.outputs.begin(), d.outputs.end());
        while (!stack.empty()) {
          int t = stack.back();
          stack.pop_back();
          if (need[t]) continue;
          need[t] = true;
          for (dtx_task_id i : d.in[t]) stack.push_back(static_cast<int>(i));
        }
        EXPECT_EQ(ran, static_cast<int>(std::count(need.begin(), need.end(), true)));
        std::vector<int> pos(d.n, -1);
        for (size_t k = 0; k < order.size(); k++) {
          ASSERT_GE(order[k], 0);
          EXPECT_EQ(pos[order[k]], -1) << d.key[order[k]] << " ran twice";
          pos[order[k]] = static_cast<int>(k);
        }
        for (int t = 0; t < d.n; t++) {
          if (!need[t]) {
            EXPECT_EQ(pos[t], -1) << d.key[t] << " ran but was not needed";
            continue;
          }
          ASSERT_GE(pos[t], 0) << d.key[t] << " did not run";
          for (dtx_task_id i : d.in[t]) EXPECT_LT(pos[i], pos[t]) << d.key[i] << " ran after " << d.key[t];
        }
        orders.push_back(order);
      }
    }
    for (size_t k = 1; k < orders.size(); k++) EXPECT_EQ(orders[k], orders[0]) << "run " << k << " differs";
  }
}

TEST(Scheduler, SyncUserPriority) {
  ClusterPtr cl = MakeCluster(DTX_SCHED_SYNC, 1);
  ASSERT_NE(cl, nullptr);
  GraphPtr g = MakeGraph();
  const int prio[10] = {3, -2, 7, 0, 12, -9, 5, 1, 9, -4};
  Recorder rec(10);
  std::vector<dtx_task_id> ids;
  for (int i = 0; i < 10; i++) {
    RandArgs a{static_cast<uint32_t>(i), 0, 0, 1, &rec};
    ids.push_back(AddTask(g.get(), "root", {i}, RandTask, {}, &a, sizeof a, prio[i]));
  }
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), ids.data(), 10, nullptr, nullptr), DTX_OK) << dtx_last_error();
  ASSERT_EQ(rec.next.load(), 10);
  std::vector<int> want(10);
  for (int i = 0; i < 10; i++) want[i] = i;
  std::stable_sort(want.begin(), want.end(), [&](int a, int b) { return prio[a] > prio[b]; });
  EXPECT_EQ(rec.order, want);

  /* Reversed request order changes nothing: priority, not output order, decides. */
  rec.next = 0;
  std::vector<dtx_task_id> rev(ids.rbegin(), ids.rend());
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), rev.data(), 10, nullptr, nullptr), DTX_OK) << dtx_last_error();
  EXPECT_EQ(rec.order, want);
}

TEST(Scheduler, SyncPriorityNeverBreaksDependencies) {
  /* A high-priority task whose input has low priority still runs after it. */
  ClusterPtr cl = MakeCluster(DTX_SCHED_SYNC, 1);
  ASSERT_NE(cl, nullptr);
  GraphPtr g = MakeGraph();
  Recorder rec(3);
  RandArgs a0{0, 0, 0, 1, &rec}, a1{1, 0, 0, 1, &rec}, a2{2, 0, 0, 1, &rec};
  dtx_task_id low = AddTask(g.get(), "low", {}, RandTask, {}, &a0, sizeof a0, -100);
  dtx_task_id mid = AddTask(g.get(), "mid", {}, RandTask, {}, &a1, sizeof a1, 10);
  dtx_task_id high = AddTask(g.get(), "high", {}, RandTask, {low}, &a2, sizeof a2, 100);
  dtx_task_id outs[2] = {high, mid};
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), outs, 2, nullptr, nullptr), DTX_OK) << dtx_last_error();
  ASSERT_EQ(rec.next.load(), 3);
  std::vector<int> pos(3);
  for (int k = 0; k < 3; k++) pos[rec.order[k]] = k;
  EXPECT_LT(pos[0], pos[2]);
}

/* ---- stats ------------------------------------------------------------------------------- */

TEST(Scheduler, StatsCountRunsAndFailures) {
  for (dtx_scheduler s : {DTX_SCHED_SYNC, DTX_SCHED_THREADS}) {
    SCOPED_TRACE(dtx_scheduler_name(s));
    ClusterPtr cl = MakeCluster(s, 2);
    ASSERT_NE(cl, nullptr);
    GraphPtr g = MakeGraph();
    auto fail = [](dtx_task_ctx *ctx) -> int { return dtx_task_fail(ctx, "nope"); };
    dtx_task_id f1 = AddTask(g.get(), "f", {1}, fail, {});
    dtx_task_id f2 = AddTask(g.get(), "f", {2}, fail, {});
    dtx_task_id ok = AddLeaf(g.get(), "ok", {}, 1);
    dtx_task_id d1 = AddTask(g.get(), "d", {1}, Sum, {f1, ok});
    dtx_task_id d2 = AddTask(g.get(), "d", {2}, Sum, {d1, f2});
    dtx_task_id d3 = AddTask(g.get(), "d", {3}, Sum, {ok});
    dtx_task_id outs[2] = {d2, d3};
    dtx_cluster_stats b = Stats(cl.get());
    Results r(2);
    EXPECT_EQ(dtx_compute(cl.get(), g.get(), outs, 2, r.data(), nullptr), DTX_ETASK);
    dtx_cluster_stats a = Stats(cl.get());
    EXPECT_EQ(a.tasks_run - b.tasks_run, 4); /* f1, f2, ok, d3: d1 and d2 never run */
    EXPECT_EQ(a.tasks_failed - b.tasks_failed, 2);
    EXPECT_EQ(dtx_chunk_status(r[0]), DTX_ETASK);
    EXPECT_EQ(dtx_chunk_status(r[1]), DTX_OK);
    EXPECT_EQ(ChunkI64(r[1]), 1);
  }
}

/* ---- DTX_SCHEDULER --------------------------------------------------------------------------- */

namespace {
struct EnvGuard {
  std::string old;
  bool had;
  EnvGuard() {
    const char *v = std::getenv("DTX_SCHEDULER");
    had = v != nullptr;
    if (had) old = v;
  }
  ~EnvGuard() {
    if (had)
      setenv("DTX_SCHEDULER", old.c_str(), 1);
    else
      unsetenv("DTX_SCHEDULER");
    dtxi_env_reload();
  }
};

int RecordThread(dtx_task_ctx *ctx) {
  std::atomic<int> *on_caller = Arg<std::atomic<int> *>(ctx);
  if (dtx_task_worker(ctx) == -1) on_caller->fetch_add(1);
  return 0;
}
}  // namespace

TEST(Scheduler, EnvSelectsScheduler) {
  EnvGuard guard;
  setenv("DTX_SCHEDULER", "sync", 1);
  dtxi_env_reload();
  {
    dtx_cluster *raw = nullptr;
    ASSERT_EQ(dtx_cluster_create(nullptr, &raw), DTX_OK) << dtx_last_error();
    ClusterPtr cl(raw);
    EXPECT_EQ(dtx_cluster_scheduler(cl.get()), DTX_SCHED_SYNC);
    /* And it is used: tasks run on the calling thread. */
    std::atomic<int> on_caller{0};
    std::atomic<int> *p = &on_caller;
    GraphPtr g = MakeGraph();
    std::vector<dtx_task_id> ids;
    for (int i = 0; i < 20; i++) ids.push_back(AddTask(g.get(), "t", {i}, RecordThread, {}, &p, sizeof p));
    ASSERT_EQ(dtx_compute(cl.get(), g.get(), ids.data(), 20, nullptr, nullptr), DTX_OK) << dtx_last_error();
    EXPECT_EQ(on_caller.load(), 20);
  }
  {
    /* An explicit config wins over the environment. */
    ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, 2);
    ASSERT_NE(cl, nullptr);
    EXPECT_EQ(dtx_cluster_scheduler(cl.get()), DTX_SCHED_THREADS);
  }
  setenv("DTX_SCHEDULER", "threads", 1);
  dtxi_env_reload();
  {
    dtx_cluster *raw = nullptr;
    ASSERT_EQ(dtx_cluster_create(nullptr, &raw), DTX_OK) << dtx_last_error();
    ClusterPtr cl(raw);
    EXPECT_EQ(dtx_cluster_scheduler(cl.get()), DTX_SCHED_THREADS);
  }
  unsetenv("DTX_SCHEDULER");
  dtxi_env_reload();
  {
    dtx_cluster *raw = nullptr;
    ASSERT_EQ(dtx_cluster_create(nullptr, &raw), DTX_OK) << dtx_last_error();
    ClusterPtr cl(raw);
    EXPECT_EQ(dtx_cluster_scheduler(cl.get()), DTX_SCHED_THREADS) << "default is threads";
  }
  EXPECT_STREQ(dtx_scheduler_name(DTX_SCHED_SYNC), "sync");
  EXPECT_STREQ(dtx_scheduler_name(DTX_SCHED_THREADS), "threads");
  EXPECT_EQ(dtx_scheduler_name(static_cast<dtx_scheduler>(42)), nullptr);
}

/* ---- many tiny computations ------------------------------------------------------------------ */

TEST(Scheduler, ManyTinyComputes) {
  /* The completion hand-off between the last worker and the waiting caller is
   * exercised once per compute: tiny graphs make that hand-off the hot path. */
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, 2);
  ASSERT_NE(cl, nullptr);
  GraphPtr g = MakeGraph();
  dtx_task_id a = AddLeaf(g.get(), "a", {}, 20);
  dtx_task_id b = AddTask(g.get(), "b", {}, Inc, {a});
  const int rounds = kSanitized ? 5000 : 50000;
  int wrong = 0;
  for (int i = 0; i < rounds; i++) {
    dtx_task_id out = (i % 2) ? a : b;
    Results r(1);
    if (dtx_compute(cl.get(), g.get(), &out, 1, r.data(), nullptr) != DTX_OK ||
        ChunkI64(r[0]) != ((i % 2) ? 20 : 21))
      wrong++;
  }
  EXPECT_EQ(wrong, 0);
}

/* ---- a graph computed from inside a task ------------------------------------------------------ */

namespace {
/* Builds and computes a sum tree of args leaves on the running task's cluster. */
int NestedTree(dtx_task_ctx *ctx) {
  int64_t n = Arg<int64_t>(ctx);
  dtx_graph *g = nullptr;
  if (dtx_graph_create(&g) != DTX_OK) return dtx_task_fail(ctx, "graph");
  std::vector<dtx_task_id> level;
  for (int64_t i = 0; i < n; i++) {
    dtx_task_desc d = Desc("nl", Leaf, {i});
    d.args = &i;
    d.args_size = sizeof i;
    dtx_task_id id = 0;
    dtx_graph_add(g, &d, &id);
    level.push_back(id);
  }
  int depth = 0;
  while (level.size() > 1) {
    std::vector<dtx_task_id> next;
    for (size_t i = 0; i + 1 < level.size(); i += 2) {
      dtx_task_desc d = Desc("ns", Sum, {depth, static_cast<int64_t>(i)});
      dtx_task_id in[2] = {level[i], level[i + 1]};
      d.inputs = in;
      d.ninputs = 2;
      dtx_task_id id = 0;
      dtx_graph_add(g, &d, &id);
      next.push_back(id);
    }
    if (level.size() % 2) next.push_back(level.back());
    level.swap(next);
    depth++;
  }
  dtx_chunk *c = nullptr;
  dtx_status rc = dtx_compute(dtx_task_cluster(ctx), g, &level[0], 1, &c, nullptr);
  int64_t v = rc == DTX_OK ? ChunkI64(c) : -1;
  dtx_chunk_release(c);
  dtx_graph_destroy(g);
  if (rc != DTX_OK) return dtx_task_fail(ctx, "nested compute: %s", dtx_status_name(rc));
  return OutputI64(ctx, v);
}
}  // namespace

TEST_P(Known, NestedComputeInsideTask) {
  /* Outer tasks each compute an inner graph on the same cluster: the worker
   * waiting on the inner graph must not deadlock the pool. */
  GraphPtr g = MakeGraph();
  std::vector<dtx_task_id> outs;
  int64_t want = 0;
  for (int64_t i = 0; i < 8; i++) {
    int64_t n = 50 + 10 * i;
    outs.push_back(AddTask(g.get(), "outer", {i}, NestedTree, {}, &n, sizeof n));
    want += n * (n - 1) / 2;
  }
  dtx_task_id total = AddTask(g.get(), "total", {}, Sum, outs);
  EXPECT_EQ(Compute1(g.get(), total), want);
}
