/*
 * tests/movement_test.cc - chunk movement between the host and simulated
 * GPUs: copies fetched to a GPU are reused by later readers there; GPU to GPU
 * moves go by peer copy or by NCCL (DTX_P2P); one chunk needed on several
 * GPUs is broadcast once; the runtime's byte counters match what moved; the
 * trace shows each move as a slice on the arrow from producer to consumer.
 */
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/config.h"
#include "dtx/dtx.h"
#include "runtime/runtime.h"
#include "scheduler/gpu.h"
#include "test_util.h"

#ifdef DTX_HAVE_NLOHMANN_JSON
#include <nlohmann/json.hpp>
#endif

using namespace dtxt;

namespace {

constexpr size_t kBytes = 64 * 1024;
constexpr size_t kWords = kBytes / sizeof(uint64_t);

/* src[i]: kWords words from its index. */
int Src(dtx_task_ctx *ctx) {
  int64_t i = Arg<int64_t>(ctx);
  uint64_t *o = static_cast<uint64_t *>(dtx_task_output(ctx, kBytes));
  if (o == nullptr) return dtx_task_fail(ctx, "no memory");
  for (size_t k = 0; k < kWords; k++) o[k] = Mix(static_cast<uint64_t>(i) * 7919u + k);
  return 0;
}

/* A hash of its inputs' words and its own index. */
int Use(dtx_task_ctx *ctx) {
  uint64_t h = static_cast<uint64_t>(Arg<int64_t>(ctx));
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) {
    size_t n = 0;
    const uint64_t *p = static_cast<const uint64_t *>(dtx_task_input(ctx, i, &n));
    for (size_t k = 0; k < n / sizeof(uint64_t); k++) h = Combine(h, p[k]);
  }
  return OutputI64(ctx, static_cast<int64_t>(h));
}

int64_t UseExpected(int64_t self, const std::vector<int64_t> &srcs) {
  uint64_t h = static_cast<uint64_t>(self);
  for (int64_t i : srcs)
    for (size_t k = 0; k < kWords; k++) h = Combine(h, Mix(static_cast<uint64_t>(i) * 7919u + k));
  return static_cast<int64_t>(h);
}

ClusterPtr Sim(int n, const char *trace = nullptr) {
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.scheduler = DTX_SCHED_CLUSTER;
  cfg.num_threads = 2;
  std::string spec = "sim:" + std::to_string(n);
  cfg.gpus = spec.c_str();
  cfg.trace_path = trace;
  dtx_cluster *cl = nullptr;
  EXPECT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  return ClusterPtr(cl);
}

dtx_device_stats Stats(dtx_cluster *cl, int d) {
  dtx_device_stats s = DTX_DEVICE_STATS_INIT;
  EXPECT_EQ(dtx_cluster_get_device_stats(cl, d, &s), DTX_OK) << dtx_last_error();
  return s;
}

/* src (made where `src_where` says) read by one task per entry of `readers`
 * (a DTX_WHERE_* each); returns the readers' ids. */
std::vector<dtx_task_id> Fan(dtx_graph *g, int src_where, bool src_on_gpu, const std::vector<int> &readers) {
  int64_t zero = 0;
  dtx_task_desc s = Desc("src", Src, {0});
  if (src_on_gpu) s.cuda = Src;
  s.where = src_where;
  s.args = &zero;
  s.args_size = sizeof zero;
  dtx_task_id sid;
  EXPECT_EQ(dtx_graph_add(g, &s, &sid), DTX_OK) << dtx_last_error();
  std::vector<dtx_task_id> out;
  for (size_t k = 0; k < readers.size(); k++) {
    int64_t self = static_cast<int64_t>(k) + 1;
    dtx_task_desc u = Desc("use", Use, {self});
    u.cuda = Use;
    u.where = readers[k];
    u.inputs = &sid;
    u.ninputs = 1;
    u.args = &self;
    u.args_size = sizeof self;
    dtx_task_id id;
    EXPECT_EQ(dtx_graph_add(g, &u, &id), DTX_OK) << dtx_last_error();
    out.push_back(id);
  }
  return out;
}

void Check(dtx_cluster *cl, dtx_graph *g, const std::vector<dtx_task_id> &outs) {
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = DTX_SCHED_CLUSTER;
  Results res(outs.size());
  ASSERT_EQ(dtx_compute(cl, g, outs.data(), static_cast<int>(outs.size()), res.data(), &o), DTX_OK)
      << dtx_last_error();
  for (size_t k = 0; k < outs.size(); k++)
    EXPECT_EQ(ChunkI64(res[k]), UseExpected(static_cast<int64_t>(k) + 1, {0})) << "reader " << k;
}

}  // namespace

TEST(Movement, AHostChunkIsFetchedOncePerGpuAndReused) {
  ClusterPtr cl = Sim(2);
  ASSERT_NE(cl, nullptr);
  GraphPtr g = MakeGraph();
  std::vector<int> readers = {DTX_WHERE_GPU(0), DTX_WHERE_GPU(0), DTX_WHERE_GPU(0), DTX_WHERE_GPU(1),
                              DTX_WHERE_GPU(1)};
  auto outs = Fan(g.get(), DTX_WHERE_CPU, false, readers);
  Check(cl.get(), g.get(), outs);
  dtx_device_stats s0 = Stats(cl.get(), 0), s1 = Stats(cl.get(), 1);
  /* Once per GPU: the first reader fetches, the others read that copy (or,
   * on gpu1, fetch it from gpu0 when the link there is cheaper). */
  EXPECT_EQ(s0.bytes_from_host, static_cast<int64_t>(kBytes));
  EXPECT_EQ(s0.copies_reused, 2);
  EXPECT_EQ(s1.bytes_from_host + s1.bytes_peer + s1.bytes_nccl, static_cast<int64_t>(kBytes));
  EXPECT_EQ(s1.copies_reused, 1);
  EXPECT_EQ(s0.bytes_in_use, 0);
  EXPECT_EQ(s1.bytes_in_use, 0);
}

TEST(Movement, GpuToGpuByPeerCopyOrNccl) {
  for (const char *p2p : {"peer", "nccl"}) {
    SCOPED_TRACE(p2p);
    ScopedEnv env;
    env.Set("DTX_P2P", p2p);
    ClusterPtr cl = Sim(2);
    ASSERT_NE(cl, nullptr);
    GraphPtr g = MakeGraph();
    auto outs = Fan(g.get(), DTX_WHERE_GPU(0), true, {DTX_WHERE_GPU(1), DTX_WHERE_GPU(1)});
    Check(cl.get(), g.get(), outs);
    dtx_device_stats s1 = Stats(cl.get(), 1);
    EXPECT_EQ(s1.bytes_from_host, 0);
    if (std::string(p2p) == "peer") {
      EXPECT_EQ(s1.bytes_peer, static_cast<int64_t>(kBytes));
      EXPECT_EQ(s1.bytes_nccl, 0);
    } else {
      EXPECT_EQ(s1.bytes_nccl, static_cast<int64_t>(kBytes));
      EXPECT_EQ(s1.bytes_peer, 0);
    }
    EXPECT_EQ(s1.copies_reused, 1);
    EXPECT_EQ(Stats(cl.get(), 0).bytes_to_host, 0) << "nothing on the host reads it";
  }
}

TEST(Movement, OneChunkNeededOnManyGpusIsBroadcastOnce) {
  ClusterPtr cl = Sim(4);
  ASSERT_NE(cl, nullptr);
  GraphPtr g = MakeGraph();
  auto outs = Fan(g.get(), DTX_WHERE_GPU(0), true,
                  {DTX_WHERE_GPU(1), DTX_WHERE_GPU(2), DTX_WHERE_GPU(3), DTX_WHERE_GPU(3)});
  Check(cl.get(), g.get(), outs);
  EXPECT_EQ(Stats(cl.get(), 0).broadcasts, 1);
  for (int d = 1; d < 4; d++) {
    dtx_device_stats s = Stats(cl.get(), d);
    EXPECT_EQ(s.bytes_nccl, static_cast<int64_t>(kBytes)) << "gpu " << d;
    EXPECT_EQ(s.bytes_peer + s.bytes_from_host, 0) << "gpu " << d;
    EXPECT_EQ(s.bytes_in_use, 0) << "gpu " << d;
  }
  EXPECT_EQ(Stats(cl.get(), 3).copies_reused, 2) << "both readers on gpu 3 read the broadcast copy";
}

TEST(Movement, AFailedFetchIsNotReusedByLaterReaders) {
  /* The first copy to gpu 0 fails: its reader fails, naming it; the next
   * computation fetches again instead of reading a broken copy. */
  ClusterPtr cl = Sim(1);
  ASSERT_NE(cl, nullptr);
  GraphPtr g = MakeGraph();
  auto outs = Fan(g.get(), DTX_WHERE_CPU, false, {DTX_WHERE_GPU(0)});
  dtxi_sim_inject_fault(dtxi_cluster_backend(cl.get()), 0, DTXI_FAULT_COPY, 1);
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = DTX_SCHED_CLUSTER;
  Results res(1);
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), outs.data(), 1, res.data(), &o), DTX_ETASK);
  EXPECT_NE(std::string(dtx_last_error()).find("use[1]"), std::string::npos) << dtx_last_error();
  Check(cl.get(), g.get(), outs);
}

TEST(Movement, LearnedDurationsDependOnInputSize) {
  ClusterPtr cl = Sim(1);
  ASSERT_NE(cl, nullptr);
  dtxi_gpus *g = dtxi_cluster_gpus(cl.get());
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(dtxi_gpus_estimate(g, "k", 1, 1000), 0) << "never seen";
  dtxi_gpus_learn(g, "k", 1, 1000, 5000);          /* small inputs: 5 us */
  dtxi_gpus_learn(g, "k", 1, 100 << 20, 90000000); /* 100 MiB: 90 ms */
  EXPECT_EQ(dtxi_gpus_estimate(g, "k", 1, 2000), 5000);
  EXPECT_EQ(dtxi_gpus_estimate(g, "k", 1, 200 << 20), 90000000);
  /* 256 KiB has no sample of its own: the nearest class, scaled by 16. */
  EXPECT_EQ(dtxi_gpus_estimate(g, "k", 1, 256 << 10), 5000 * 16);
  EXPECT_EQ(dtxi_gpus_estimate(g, "k", 0, 1000), 0) << "the CPU side is learned apart";
}

/* Durations are learned per kind of name (serials after dashes left out),
 * however many names a program makes; output sizes per exact name. */
TEST(Movement, DurationsAreLearnedPerKindOfName) {
  ClusterPtr cl = Sim(1);
  ASSERT_NE(cl, nullptr);
  dtxi_gpus *g = dtxi_cluster_gpus(cl.get());
  ASSERT_NE(g, nullptr);
  dtxi_gpus_learn(g, "add-17", 1, 1000, 5000);
  EXPECT_EQ(dtxi_gpus_estimate(g, "add-18", 1, 1000), 5000) << "the same kind";
  EXPECT_EQ(dtxi_gpus_estimate(g, "add-18.c2", 1, 1000), 0) << "another stage";
  EXPECT_EQ(dtxi_gpus_estimate(g, "addx-18", 1, 1000), 0) << "another kind";
  EXPECT_EQ(dtxi_gpus_estimate(g, "add", 1, 1000), 0) << "another kind";
  /* thousands of distinct names fill the output-size table, not this one */
  for (int i = 0; i < 5000; i++) dtxi_gpus_learn_output(g, ("mul-" + std::to_string(i)).c_str(), 64);
  dtxi_gpus_learn(g, "late-5", 1, 10, 700);
  EXPECT_EQ(dtxi_gpus_estimate(g, "late-6", 1, 10), 700);
}

namespace {
std::atomic<int> reader_device{-2};
int RecordReader(dtx_task_ctx *ctx) {
  reader_device = dtx_task_device(ctx);
  return Use(ctx);
}
}  // namespace

/* Choosing between a CPU thread and a GPU for a task with both weighs moving
 * its inputs: a reader of a big chunk held on a GPU stays on a GPU though
 * the CPU runs it a little faster; with nothing to move it goes to the CPU. */
TEST(Movement, CpuOrGpuWeighsMovingTheInputs) {
  ClusterPtr cl = Sim(1);
  ASSERT_NE(cl, nullptr);
  dtxi_gpus *g = dtxi_cluster_gpus(cl.get());
  ASSERT_NE(g, nullptr);
  dtxi_gpus_learn(g, "reader", 0, 0, 1000);     /* 1 us on a CPU thread */
  dtxi_gpus_learn(g, "reader", 1, 0, 2000);     /* 2 us on a GPU */
  dtxi_gpus_learn_data(g, "bigsrc", 256 << 20); /* lends 256 MiB chunks */
  for (const char *src : {"bigsrc", "smallsrc"}) {
    GraphPtr gr = MakeGraph();
    int64_t i = 3;
    dtx_task_desc s = Desc(src, Src, {i});
    s.cuda = Src;
    s.where = DTX_WHERE_GPU(0);
    s.args = &i;
    s.args_size = sizeof i;
    dtx_task_id sid, rid;
    ASSERT_EQ(dtx_graph_add(gr.get(), &s, &sid), DTX_OK) << dtx_last_error();
    dtx_task_desc u = Desc("reader", RecordReader, {i});
    u.cuda = RecordReader;
    u.inputs = &sid;
    u.ninputs = 1;
    u.args = &i;
    u.args_size = sizeof i;
    ASSERT_EQ(dtx_graph_add(gr.get(), &u, &rid), DTX_OK) << dtx_last_error();
    dtx_chunk *out = nullptr;
    reader_device = -2;
    ASSERT_EQ(dtx_compute(cl.get(), gr.get(), &rid, 1, &out, nullptr), DTX_OK) << dtx_last_error();
    ChunkPtr hold(out);
    EXPECT_EQ(ChunkI64(out), UseExpected(i, {i}));
    if (std::string(src) == "bigsrc") {
      EXPECT_EQ(reader_device.load(), 0) << "moving 256 MiB home costs more than the GPU's extra 1 us";
    } else {
      EXPECT_EQ(reader_device.load(), -1) << "nothing known to move: the faster CPU";
    }
  }
}

namespace {
constexpr size_t kHinted = 24 << 10;
std::atomic<int> hint_started{0};
std::atomic<int> hint_tasks{1};       /* how many tasks wait for each other inside */
std::atomic<int> hint_saw_all{0};     /* tasks that saw them all inside at once */
std::atomic<int64_t> hint_in_use{-1}; /* the most device bytes in use seen from inside, before the output */

/* Waits (bounded) until hint_tasks tasks are inside, reads the device's
 * memory in use, then makes a kHinted-byte output. */
int HintedTask(dtx_task_ctx *ctx) {
  int n = hint_tasks.load();
  hint_started.fetch_add(1);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDeadlineMs / 4);
  while (hint_started.load() < n && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (hint_started.load() >= n) hint_saw_all.fetch_add(1);
  dtx_device_stats st = DTX_DEVICE_STATS_INIT;
  if (dtx_cluster_get_device_stats(dtx_task_cluster(ctx), dtx_task_device(ctx), &st) != DTX_OK)
    return dtx_task_fail(ctx, "%s", dtx_last_error());
  for (int64_t seen = hint_in_use.load(); st.bytes_in_use > seen;) /* the most seen */
    if (hint_in_use.compare_exchange_weak(seen, st.bytes_in_use)) break;
  void *o = dtx_task_output(ctx, kHinted);
  if (o == nullptr) return dtx_task_fail(ctx, "no output");
  std::memset(o, 5, kHinted);
  return 0;
}

ClusterPtr TightSim() {
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.scheduler = DTX_SCHED_CLUSTER;
  cfg.num_threads = 2;
  cfg.gpus = "sim:1";
  cfg.streams_per_gpu = 2;
  cfg.gpu_window = 4;
  cfg.device_memory_limit = "64KiB";
  dtx_cluster *cl = nullptr;
  EXPECT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  return ClusterPtr(cl);
}

/* n tasks "name[i]" on gpu 0 running HintedTask, with output_size `hint`. */
std::vector<dtx_task_id> AddHinted(dtx_graph *g, const char *name, int n, size_t hint) {
  std::vector<dtx_task_id> ids(n);
  for (int i = 0; i < n; i++) {
    dtx_task_desc t{};
    t.name = name;
    t.nidx = 1;
    t.idx[0] = i;
    t.cpu = HintedTask;
    t.cuda = HintedTask;
    t.where = DTX_WHERE_GPU(0);
    t.output_size = hint;
    EXPECT_EQ(dtx_graph_add(g, &t, &ids[i]), DTX_OK) << dtx_last_error();
  }
  return ids;
}
}  // namespace

/* A task's output_size hint is the device memory reserved for its output
 * before it runs, exactly; without one, the first task of a name under a
 * device limit is a probe that reserves only its largest input (here none). */
TEST(Movement, TheOutputSizeHintIsReservedAheadExactly) {
  for (size_t hint : {kHinted, size_t{0}}) {
    SCOPED_TRACE(::testing::Message() << "hint " << hint);
    ClusterPtr cl = TightSim();
    ASSERT_NE(cl, nullptr);
    GraphPtr g = MakeGraph();
    std::vector<dtx_task_id> ids = AddHinted(g.get(), "hinted", 1, hint);
    hint_tasks = 1;
    hint_started = 0;
    hint_in_use = -1;
    Results out(1);
    ASSERT_EQ(dtx_compute(cl.get(), g.get(), ids.data(), 1, out.data(), nullptr), DTX_OK) << dtx_last_error();
    EXPECT_EQ(dtx_chunk_size(out[0]), kHinted);
    EXPECT_EQ(hint_in_use.load(), static_cast<int64_t>(hint)) << "reserved for the output before it ran";
    dtx_device_stats st = Stats(cl.get(), 0);
    EXPECT_EQ(st.bytes_peak, static_cast<int64_t>(kHinted)) << "the output, never more";
    EXPECT_EQ(st.bytes_in_use, 0);
  }
}

/* Under a tight device limit, tasks of a name never seen run side by side
 * when their hint says what they need: no probe runs one alone first. Two
 * wait inside for each other, holding exactly their two hints. */
TEST(Movement, HintedTasksOfANewNameNeedNoProbeRun) {
  ClusterPtr cl = TightSim();
  ASSERT_NE(cl, nullptr);
  GraphPtr g = MakeGraph();
  std::vector<dtx_task_id> ids = AddHinted(g.get(), "fresh", 2, kHinted);
  hint_tasks = 2;
  hint_started = 0;
  hint_saw_all = 0;
  hint_in_use = -1;
  Results out(2);
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), ids.data(), 2, out.data(), nullptr), DTX_OK) << dtx_last_error();
  EXPECT_EQ(hint_saw_all.load(), 2) << "both ran at once";
  EXPECT_EQ(hint_in_use.load(), static_cast<int64_t>(2 * kHinted))
      << "two reservations of the hint, nothing else";
  dtx_device_stats st = Stats(cl.get(), 0);
  EXPECT_EQ(st.bytes_peak, static_cast<int64_t>(2 * kHinted));
  EXPECT_LE(st.bytes_peak, st.bytes_limit);
  EXPECT_EQ(st.bytes_in_use, 0);
}

#ifdef DTX_HAVE_NLOHMANN_JSON
TEST(Movement, TheTraceShowsEachMoveOnTheArrowFromProducerToConsumer) {
  std::string path = ::testing::TempDir() + "dtx_movement_trace_" + std::to_string(::getpid()) + ".json";
  {
    ScopedEnv env;
    env.Set("DTX_P2P", "nccl");
    ClusterPtr cl = Sim(2, path.c_str());
    ASSERT_NE(cl, nullptr);
    GraphPtr g = MakeGraph();
    /* a host chunk read on gpu 0; a gpu 0 chunk read on gpu 1 */
    auto a = Fan(g.get(), DTX_WHERE_CPU, false, {DTX_WHERE_GPU(0)});
    int64_t i = 5;
    dtx_task_desc s = Desc("gsrc", Src, {i});
    s.cuda = Src;
    s.where = DTX_WHERE_GPU(0);
    s.args = &i;
    s.args_size = sizeof i;
    dtx_task_id sid, uid;
    ASSERT_EQ(dtx_graph_add(g.get(), &s, &sid), DTX_OK);
    dtx_task_desc u = Desc("guse", Use, {i});
    u.cuda = Use;
    u.where = DTX_WHERE_GPU(1);
    u.inputs = &sid;
    u.ninputs = 1;
    u.args = &i;
    u.args_size = sizeof i;
    ASSERT_EQ(dtx_graph_add(g.get(), &u, &uid), DTX_OK);
    std::vector<dtx_task_id> outs = {a[0], uid};
    dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
    o.scheduler = DTX_SCHED_CLUSTER;
    Results res(2);
    ASSERT_EQ(dtx_compute(cl.get(), g.get(), outs.data(), 2, res.data(), &o), DTX_OK) << dtx_last_error();
    EXPECT_EQ(ChunkI64(res[1]), UseExpected(5, {5}));
  }
  std::ifstream in(path);
  nlohmann::json j = nlohmann::json::parse(in);
  std::remove(path.c_str());
  std::map<std::pair<int, int>, std::string> track;
  for (const auto &e : j["traceEvents"])
    if (e["ph"] == "M" && e["name"] == "thread_name")
      track[std::pair<int, int>{e["pid"].get<int>(), e["tid"].get<int>()}] = e["args"]["name"];
  std::map<std::string, nlohmann::json> moves; /* by via */
  std::map<uint64_t, std::string> phases;
  for (const auto &e : j["traceEvents"]) {
    if (e["ph"] == "X" && e["cat"] == "transfer" && e["args"].contains("via")) {
      std::string via = e["args"]["via"];
      if (via == "d2h") continue;
      moves[via] = e;
      std::pair<int, int> where{e["pid"].get<int>(), e["tid"].get<int>()};
      EXPECT_EQ(track[where], via) << "a move sits on its own track";
      EXPECT_EQ(e["args"]["bytes"].get<uint64_t>(), kBytes);
    }
    if (e["ph"] == "s" || e["ph"] == "t" || e["ph"] == "f")
      phases[e["id"].get<uint64_t>()] += e["ph"].get<std::string>();
  }
  ASSERT_TRUE(moves.count("h2d")) << "the host chunk's move to gpu 0";
  ASSERT_TRUE(moves.count("nccl")) << "gpu 0 to gpu 1";
  EXPECT_EQ(moves["h2d"]["pid"].get<int>(), 100);
  EXPECT_EQ(moves["h2d"]["args"]["link"], "host->gpu0");
  EXPECT_EQ(moves["nccl"]["pid"].get<int>(), 101);
  EXPECT_EQ(moves["nccl"]["args"]["link"], "gpu0->gpu1");
  int whole = 0;
  for (auto &kv : phases) {
    std::multiset<char> got(kv.second.begin(), kv.second.end());
    if (got == std::multiset<char>{'s', 't', 'f'}) whole++;
  }
  EXPECT_EQ(whole, 2) << "one arrow producer -> move -> consumer per move";
}
#endif

namespace {

/* chain[i] = chain[i - 1] * 3 + i, one word, on the GPUs (a dual task). */
int Link(dtx_task_ctx *ctx) {
  int64_t i = Arg<int64_t>(ctx);
  int64_t prev = dtx_task_num_inputs(ctx) > 0 ? InputI64(ctx, 0) : 1;
  if (i == -7) return dtx_task_fail(ctx, "link %lld refuses", static_cast<long long>(i));
  return OutputI64(ctx, static_cast<int64_t>(static_cast<uint64_t>(prev) * 3u + static_cast<uint64_t>(i)));
}

GraphPtr Chain(int n, int fail_at, dtx_task_id *last) {
  GraphPtr g = MakeGraph();
  dtx_task_id prev = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t arg = i == fail_at ? -7 : i;
    dtx_task_desc t = Desc("link", Link, {i});
    t.cuda = Link;
    t.where = DTX_WHERE_GPU(0);
    t.args = &arg;
    t.args_size = sizeof arg;
    if (i > 0) {
      t.inputs = &prev;
      t.ninputs = 1;
    }
    EXPECT_EQ(dtx_graph_add(g.get(), &t, &prev), DTX_OK) << dtx_last_error();
  }
  *last = prev;
  return g;
}

}  // namespace

TEST(Movement, AGpuChainRunsAheadOfItsProducers) {
  /* Each link is enqueued behind the previous one's event before it has
   * finished, so the host is not in the loop between links. */
  const int n = 300;
  uint64_t want_u = 1;
  for (int64_t i = 0; i < n; i++) want_u = want_u * 3u + static_cast<uint64_t>(i);
  const int64_t want = static_cast<int64_t>(want_u);
  for (const char *window : {"256", "0"}) {
    SCOPED_TRACE(std::string("DTX_GPU_WINDOW=") + window);
    ScopedEnv env;
    env.Set("DTX_GPU_WINDOW", window);
    ClusterPtr cl = Sim(1);
    ASSERT_NE(cl, nullptr);
    dtx_task_id last;
    GraphPtr g = Chain(n, -1, &last);
    dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
    o.scheduler = DTX_SCHED_CLUSTER;
    for (int round = 0; round < 2; round++) { /* the first learns the output size */
      Results res(1);
      ASSERT_EQ(dtx_compute(cl.get(), g.get(), &last, 1, res.data(), &o), DTX_OK) << dtx_last_error();
      EXPECT_EQ(ChunkI64(res[0]), want);
    }
    dtx_device_stats s = Stats(cl.get(), 0);
    if (std::string(window) == "0")
      EXPECT_EQ(s.run_ahead, 0);
    else
      EXPECT_GT(s.run_ahead, n / 2) << "most links went ahead in the second round";
    EXPECT_EQ(s.bytes_in_use, 0);
  }
}

TEST(Movement, AFailureInAChainRunAheadFailsTheRestWithItsMessage) {
  const int n = 100;
  ClusterPtr cl = Sim(1);
  ASSERT_NE(cl, nullptr);
  dtx_task_id last;
  {
    GraphPtr ok = Chain(n, -1, &last); /* learn the size first */
    dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
    o.scheduler = DTX_SCHED_CLUSTER;
    Results res(1);
    ASSERT_EQ(dtx_compute(cl.get(), ok.get(), &last, 1, res.data(), &o), DTX_OK) << dtx_last_error();
  }
  GraphPtr g = Chain(n, 40, &last);
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = DTX_SCHED_CLUSTER;
  Results res(1);
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), &last, 1, res.data(), &o), DTX_ETASK);
  EXPECT_NE(std::string(dtx_last_error()).find("link[40]: link -7 refuses"), std::string::npos)
      << dtx_last_error();
  ASSERT_EQ(dtx_chunk_status(res[0]), DTX_ETASK);
  EXPECT_NE(std::string(dtx_chunk_error(res[0])).find("link[40]: link -7 refuses"), std::string::npos)
      << dtx_chunk_error(res[0]);
  EXPECT_GT(Stats(cl.get(), 0).run_ahead, 0);
  EXPECT_EQ(Stats(cl.get(), 0).bytes_in_use, 0);
}

int64_t RootsPeak(const char *window) {
  ScopedEnv env;
  env.Set("DTX_GPU_WINDOW", window);
  ClusterPtr cl = Sim(1);
  EXPECT_NE(cl, nullptr);
  GraphPtr g = MakeGraph();
  const int n = 200;
  std::vector<dtx_task_id> outs;
  if (cl == nullptr) return -1;
  for (int64_t i = 0; i < n; i++) {
    dtx_task_desc s = Desc("src", Src, {i});
    s.cuda = Src;
    s.where = DTX_WHERE_GPU(0);
    s.args = &i;
    s.args_size = sizeof i;
    dtx_task_id sid, uid;
    EXPECT_EQ(dtx_graph_add(g.get(), &s, &sid), DTX_OK);
    dtx_task_desc u = Desc("use", Use, {i});
    u.where = DTX_WHERE_CPU;
    u.inputs = &sid;
    u.ninputs = 1;
    u.args = &i;
    u.args_size = sizeof i;
    EXPECT_EQ(dtx_graph_add(g.get(), &u, &uid), DTX_OK);
    outs.push_back(uid);
  }
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = DTX_SCHED_CLUSTER;
  Results res(outs.size());
  EXPECT_EQ(dtx_compute(cl.get(), g.get(), outs.data(), n, res.data(), &o), DTX_OK) << dtx_last_error();
  for (int i = 0; i < n; i++) EXPECT_EQ(ChunkI64(res[i]), UseExpected(i, {i})) << i;
  dtx_device_stats s = Stats(cl.get(), 0);
  EXPECT_GT(s.bytes_peak, 0);
  EXPECT_EQ(s.bytes_in_use, 0);
  return s.bytes_peak;
}

TEST(Movement, RootTasksStartAWindowAtATime) {
  /* 200 GPU roots of 64 KiB each, each read by a CPU task: with a window of
   * 4 roots in flight per GPU, device memory holds a few chunks at a time
   * (Dask's root-task queuing); with a window past 200 they all start at
   * once. */
  int64_t capped = RootsPeak("4"), open = RootsPeak("1000");
  EXPECT_LE(capped, 8 * static_cast<int64_t>(kBytes)) << "roots started far ahead of their readers";
  EXPECT_GT(open, 2 * capped);
}

namespace {

/* big[i]: n bytes from i (n in the args after i). */
int Big(dtx_task_ctx *ctx) {
  int64_t a[2];
  size_t sz = 0;
  std::memcpy(a, dtx_task_args(ctx, &sz), sizeof a);
  uint64_t *o = static_cast<uint64_t *>(dtx_task_output(ctx, static_cast<size_t>(a[1])));
  if (o == nullptr) return dtx_task_fail(ctx, "no memory");
  for (size_t k = 0; k < static_cast<size_t>(a[1]) / 8; k++)
    o[k] = Mix(static_cast<uint64_t>(a[0]) * 31u + k);
  return 0;
}

uint64_t BigHash(int64_t i, size_t n) {
  uint64_t h = static_cast<uint64_t>(i);
  for (size_t k = 0; k < n / 8; k++) h = Combine(h, Mix(static_cast<uint64_t>(i) * 31u + k));
  return h;
}

}  // namespace

TEST(Movement, HostInputsReachTheGpuThroughPinnedStagingBuffers) {
  /* Chunks made on the host, from 64 KiB to 9 MiB (more than one 4 MiB
   * staging buffer), six read at once by GPU tasks (more than the four
   * buffers: the rest go straight from the chunk); all arrive intact. */
  ClusterPtr cl = Sim(1);
  ASSERT_NE(cl, nullptr);
  GraphPtr g = MakeGraph();
  const size_t sizes[] = {64 << 10, 1 << 20, 9 << 20, 3 << 20, 5 << 20, 2 << 20};
  std::vector<dtx_task_id> outs;
  size_t total = 0;
  for (int64_t i = 0; i < 6; i++) {
    int64_t a[2] = {i, static_cast<int64_t>(sizes[i])};
    total += sizes[i];
    dtx_task_desc b = Desc("big", Big, {i});
    b.where = DTX_WHERE_CPU;
    b.args = a;
    b.args_size = sizeof a;
    dtx_task_id bid, uid;
    ASSERT_EQ(dtx_graph_add(g.get(), &b, &bid), DTX_OK);
    dtx_task_desc u = Desc("use", Use, {i});
    u.cuda = Use;
    u.where = DTX_WHERE_GPU(0);
    u.inputs = &bid;
    u.ninputs = 1;
    u.args = &i;
    u.args_size = sizeof i;
    ASSERT_EQ(dtx_graph_add(g.get(), &u, &uid), DTX_OK);
    outs.push_back(uid);
  }
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = DTX_SCHED_CLUSTER;
  Results res(outs.size());
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), outs.data(), 6, res.data(), &o), DTX_OK) << dtx_last_error();
  for (int i = 0; i < 6; i++) EXPECT_EQ(static_cast<uint64_t>(ChunkI64(res[i])), BigHash(i, sizes[i])) << i;
  dtx_device_stats s = Stats(cl.get(), 0);
  EXPECT_EQ(s.bytes_from_host, static_cast<int64_t>(total));
  EXPECT_GT(s.bytes_staged, 0);
  EXPECT_LE(s.bytes_staged, s.bytes_from_host);
}
