/*
 * tests/cluster_test.cc - the cluster scheduler on simulated GPUs: tasks with
 * a CUDA implementation run on the GPUs (their CPU implementation standing in
 * for the CUDA one), CPU-only tasks on the worker threads, dependencies
 * crossing between them, and the results equal `sync`'s.
 */
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/config.h"
#include "device/backend.h"
#include "dtx/dtx.h"
#include "runtime/runtime.h"
#include "test_util.h"

using namespace dtxt;

namespace {

std::atomic<int> g_on_gpu{0};

/* out = hash(key index, inputs...) as one uint64; counts runs on a GPU. */
int Mix(dtx_task_ctx *ctx) {
  if (dtx_task_device(ctx) >= 0) g_on_gpu.fetch_add(1);
  uint64_t h = static_cast<uint64_t>(Arg<int64_t>(ctx)) * 0x9E3779B97F4A7C15ull + 1;
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) {
    size_t n = 0;
    const void *p = dtx_task_input(ctx, i, &n);
    if (n != sizeof(uint64_t)) return dtx_task_fail(ctx, "input %d has %zu bytes", i, n);
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    h = (h ^ v) * 0xff51afd7ed558ccdull;
    h ^= h >> 29;
  }
  void *o = dtx_task_output(ctx, sizeof h);
  if (o == nullptr) return dtx_task_fail(ctx, "no memory for the output");
  std::memcpy(o, &h, sizeof h);
  return 0;
}

/* Never called on simulated GPUs: the CPU implementation stands in. */
int NotOnSim(dtx_task_ctx *ctx) {
  return dtx_task_fail(ctx, "the CUDA implementation ran on a simulated GPU");
}

int FailOnGpu(dtx_task_ctx *ctx) {
  if (dtx_task_device(ctx) >= 0) return dtx_task_fail(ctx, "boom on gpu %d", dtx_task_device(ctx));
  return Mix(ctx);
}

ClusterPtr SimCluster(int ngpu, int threads) {
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.scheduler = DTX_SCHED_CLUSTER;
  cfg.num_threads = threads;
  std::string spec = "sim:" + std::to_string(ngpu);
  cfg.gpus = spec.c_str();
  dtx_cluster *cl = nullptr;
  EXPECT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  return ClusterPtr(cl);
}

struct Dag {
  GraphPtr g;
  std::vector<dtx_task_id> outs;
};

/* Random DAG: each task takes 0..3 earlier tasks; about half run on GPUs. */
Dag RandomDag(uint32_t seed, int n, dtx_task_fn gpu_cpu_impl = Mix) {
  std::mt19937 rng(seed);
  Dag d{MakeGraph(), {}};
  std::vector<dtx_task_id> ids;
  for (int i = 0; i < n; i++) {
    dtx_task_desc t{};
    t.name = "t";
    t.nidx = 1;
    t.idx[0] = i;
    int64_t arg = i;
    t.args = &arg;
    t.args_size = sizeof arg;
    bool gpu = rng() % 2 == 0;
    t.cpu = gpu ? gpu_cpu_impl : Mix;
    t.cuda = gpu ? NotOnSim : nullptr;
    std::vector<dtx_task_id> in;
    if (!ids.empty())
      for (int k = static_cast<int>(rng() % 4); k > 0; k--) in.push_back(ids[rng() % ids.size()]);
    t.inputs = in.data();
    t.ninputs = static_cast<int>(in.size());
    dtx_task_id id;
    EXPECT_EQ(dtx_graph_add(d.g.get(), &t, &id), DTX_OK) << dtx_last_error();
    ids.push_back(id);
  }
  for (int k = 0; k < 5; k++) d.outs.push_back(ids[rng() % ids.size()]);
  d.outs.push_back(ids.back());
  return d;
}

std::vector<std::string> Compute(dtx_cluster *cl, const Dag &d, dtx_scheduler s, dtx_status *rc) {
  std::vector<dtx_chunk *> res(d.outs.size(), nullptr);
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = s;
  *rc = dtx_compute(cl, d.g.get(), d.outs.data(), static_cast<int>(d.outs.size()), res.data(), &o);
  std::vector<std::string> out;
  for (dtx_chunk *c : res) {
    if (c == nullptr) {
      out.push_back("<null>");
      continue;
    }
    if (dtx_chunk_status(c) != DTX_OK)
      out.push_back(std::string("error: ") + dtx_chunk_error(c));
    else
      out.push_back(std::string(static_cast<const char *>(dtx_chunk_data(c)), dtx_chunk_size(c)));
    dtx_chunk_release(c);
  }
  return out;
}

}  // namespace

TEST(ClusterSim, ReportsSimulatedGpus) {
  ClusterPtr cl = SimCluster(3, 2);
  ASSERT_NE(cl, nullptr);
  EXPECT_EQ(dtx_cluster_num_gpus(cl.get()), 3);
  char *buf = nullptr;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ASSERT_EQ(dtx_cluster_report(cl.get(), f), DTX_OK);
  fclose(f);
  std::string report(buf, len);
  free(buf);
  EXPECT_NE(report.find("sim gpu 2"), std::string::npos) << report;
}

TEST(ClusterSim, RandomDagsMatchSync) {
  const int rounds = kSanitized ? 8 : 40;
  for (int ngpu = 1; ngpu <= 4; ngpu++) {
    ClusterPtr cl = SimCluster(ngpu, 2);
    ASSERT_NE(cl, nullptr);
    for (int r = 0; r < rounds; r++) {
      uint32_t seed = 1000u * ngpu + r;
      SCOPED_TRACE(::testing::Message() << "sim:" << ngpu << " seed " << seed);
      Dag d = RandomDag(seed, 1 + static_cast<int>(seed % 120));
      dtx_status rs, rc;
      g_on_gpu = 0;
      std::vector<std::string> want = Compute(cl.get(), d, DTX_SCHED_SYNC, &rs);
      EXPECT_EQ(g_on_gpu.load(), 0) << "sync ran a task on a GPU";
      std::vector<std::string> got = Compute(cl.get(), d, DTX_SCHED_CLUSTER, &rc);
      ASSERT_EQ(rs, DTX_OK) << dtx_last_error();
      ASSERT_EQ(rc, DTX_OK) << dtx_last_error();
      EXPECT_EQ(got, want);
    }
  }
}

TEST(ClusterSim, GpuTasksRunOnGpus) {
  ClusterPtr cl = SimCluster(2, 2);
  ASSERT_NE(cl, nullptr);
  Dag d = RandomDag(7, 200);
  g_on_gpu = 0;
  dtx_status rc;
  Compute(cl.get(), d, DTX_SCHED_CLUSTER, &rc);
  ASSERT_EQ(rc, DTX_OK) << dtx_last_error();
  EXPECT_GT(g_on_gpu.load(), 0);
}

TEST(ClusterSim, FailureOnGpuNamesTaskAndSparesOthers) {
  ClusterPtr cl = SimCluster(2, 2);
  ASSERT_NE(cl, nullptr);
  Dag d = RandomDag(11, 150, FailOnGpu);
  dtx_status rc;
  std::vector<std::string> got = Compute(cl.get(), d, DTX_SCHED_CLUSTER, &rc);
  ASSERT_EQ(rc, DTX_ETASK);
  EXPECT_NE(std::string(dtx_last_error()).find("boom on gpu"), std::string::npos) << dtx_last_error();
  EXPECT_NE(std::string(dtx_last_error()).find("t["), std::string::npos) << dtx_last_error();
}

TEST(ClusterSim, WithoutGpusClusterRunsOnThreads) {
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.scheduler = DTX_SCHED_CLUSTER;
  cfg.num_threads = 2;
  cfg.gpus = "none";
  dtx_cluster *raw = nullptr;
  ASSERT_EQ(dtx_cluster_create(&cfg, &raw), DTX_OK) << dtx_last_error();
  ClusterPtr cl(raw);
  EXPECT_EQ(dtx_cluster_num_gpus(cl.get()), 0);
  Dag d = RandomDag(5, 50);
  dtx_status rs, rc;
  std::vector<std::string> want = Compute(cl.get(), d, DTX_SCHED_SYNC, &rs);
  std::vector<std::string> got = Compute(cl.get(), d, DTX_SCHED_CLUSTER, &rc);
  ASSERT_EQ(rc, DTX_OK) << dtx_last_error();
  EXPECT_EQ(got, want);
}

TEST(ClusterSim, BadGpuSpecIsAnError) {
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.gpus = "sim:0";
  dtx_cluster *cl = nullptr;
  EXPECT_EQ(dtx_cluster_create(&cfg, &cl), DTX_EINVAL);
  EXPECT_EQ(cl, nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("sim:0"), std::string::npos) << dtx_last_error();
}

namespace {
struct WhereArgs {
  std::atomic<int> *where; /* device each task ran on */
  int index;
};
int RecordDevice(dtx_task_ctx *ctx) {
  WhereArgs a = Arg<WhereArgs>(ctx);
  a.where[a.index].store(dtx_task_device(ctx));
  int64_t v = a.index;
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) {
    size_t n = 0;
    const void *p = dtx_task_input(ctx, i, &n);
    if (n != sizeof v) return dtx_task_fail(ctx, "input %d has %zu bytes", i, n);
    int64_t x;
    std::memcpy(&x, p, sizeof x);
    v += x;
  }
  void *o = dtx_task_output(ctx, sizeof v);
  if (o == nullptr) return dtx_task_fail(ctx, "no memory");
  std::memcpy(o, &v, sizeof v);
  return 0;
}
}  // namespace

TEST(ClusterSim, ChainStaysOnOneGpuAndFreesItsCopies) {
  /* Owner computes: each link's input lives on the GPU that made it, so the
   * whole chain runs there; afterwards no device memory is left in use. */
  ClusterPtr cl = SimCluster(3, 2);
  ASSERT_NE(cl, nullptr);
  const int n = 30;
  std::vector<std::atomic<int>> where(n);
  GraphPtr g = MakeGraph();
  dtx_task_id prev = 0;
  for (int i = 0; i < n; i++) {
    WhereArgs a{where.data(), i};
    dtx_task_desc t{};
    t.name = "link";
    t.nidx = 1;
    t.idx[0] = i;
    t.args = &a;
    t.args_size = sizeof a;
    t.cpu = RecordDevice;
    t.cuda = NotOnSim;
    t.inputs = &prev;
    t.ninputs = i > 0 ? 1 : 0;
    ASSERT_EQ(dtx_graph_add(g.get(), &t, &prev), DTX_OK) << dtx_last_error();
  }
  dtx_chunk *out = nullptr;
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = DTX_SCHED_CLUSTER;
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), &prev, 1, &out, &o), DTX_OK) << dtx_last_error();
  ChunkPtr hold(out);
  EXPECT_EQ(ChunkI64(out), int64_t(n) * (n - 1) / 2);
  /* One link of a new task name may run on a CPU thread first (the
   * scheduler measures both sides of dual tasks); the rest stay together. */
  int on_cpu = 0, first_gpu = -1;
  for (int i = 0; i < n; i++) {
    int w = where[i].load();
    if (w < 0) {
      on_cpu++;
      continue;
    }
    if (first_gpu < 0) first_gpu = w;
    EXPECT_EQ(w, first_gpu) << "link " << i << " moved to another GPU";
  }
  EXPECT_LE(on_cpu, 1);
  dtxi_backend *b = dtxi_cluster_backend(cl.get());
  ASSERT_NE(b, nullptr);
  for (int dev = 0; dev < b->ndev; dev++) {
    size_t used = 1, cap = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    do {
      b->ops->mem_usage(b, dev, &used, &cap);
      if (used == 0) break;
      std::this_thread::yield();
    } while (std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(used, 0u) << "gpu " << dev << " still holds device memory";
  }
}

#if defined(DTX_HAVE_NLOHMANN_JSON)
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

TEST(ClusterSim, TraceShowsGpuTasksOnStreamTracks) {
  std::string path = ::testing::TempDir() + "dtx_cluster_trace_" + std::to_string(::getpid()) + ".json";
  Dag d = RandomDag(21, 120);
  {
    dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
    cfg.scheduler = DTX_SCHED_CLUSTER;
    cfg.num_threads = 2;
    cfg.gpus = "sim:2";
    cfg.trace_path = path.c_str();
    dtx_cluster *raw = nullptr;
    ASSERT_EQ(dtx_cluster_create(&cfg, &raw), DTX_OK) << dtx_last_error();
    ClusterPtr cl(raw);
    dtx_status rc;
    Compute(cl.get(), d, DTX_SCHED_CLUSTER, &rc);
    ASSERT_EQ(rc, DTX_OK) << dtx_last_error();
  }
  std::ifstream in(path);
  nlohmann::json j = nlohmann::json::parse(in);
  std::remove(path.c_str());
  std::map<std::string, int> seen;
  std::map<std::pair<int, int>, std::vector<std::pair<double, double>>> tracks;
  std::map<std::pair<int, int>, std::string> names;
  int gpu_slices = 0, transfers = 0;
  for (const auto &e : j["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name") names[{e["pid"], e["tid"]}] = e["args"]["name"];
    if (e["ph"] != "X") continue;
    tracks[{e["pid"], e["tid"]}].push_back(
        {e["ts"].get<double>(), e["ts"].get<double>() + e["dur"].get<double>()});
    if (e["cat"] == "task") {
      seen[e["name"]]++;
      if (e["pid"].get<int>() >= 100) gpu_slices++;
    }
    if (e["cat"] == "transfer") transfers++;
  }
  EXPECT_GT(gpu_slices, 0);
  EXPECT_GT(transfers, 0);
  for (const auto &kv : seen) EXPECT_EQ(kv.second, 1) << kv.first << " appears " << kv.second << " times";
  for (auto &kv : tracks) {
    EXPECT_TRUE(names.count(kv.first))
        << "unnamed track pid " << kv.first.first << " tid " << kv.first.second;
    std::sort(kv.second.begin(), kv.second.end());
    for (size_t i = 1; i < kv.second.size(); i++)
      EXPECT_LE(kv.second[i - 1].second, kv.second[i].first + 1e-3) << "overlap on pid " << kv.first.first;
  }
}
#endif

TEST(ClusterSim, InjectedDeviceFaultsNameTheTask) {
  /* A failing allocation, copy or kernel on a simulated GPU becomes an error
   * naming the task and the fault; the computation ends (no hang) and the
   * cluster keeps working for the next one. */
  for (dtxi_fault_kind kind : {DTXI_FAULT_ALLOC, DTXI_FAULT_COPY, DTXI_FAULT_KERNEL}) {
    SCOPED_TRACE(::testing::Message() << "fault kind " << static_cast<int>(kind));
    ClusterPtr cl = SimCluster(1, 2);
    ASSERT_NE(cl, nullptr);
    Dag d = RandomDag(31, 60);
    dtx_status rc;
    /* The third allocation or copy; the first kernel (later host functions
     * may be the scheduler's own wake-ups, which carry no task). */
    dtxi_sim_inject_fault(dtxi_cluster_backend(cl.get()), 0, kind, kind == DTXI_FAULT_KERNEL ? 1 : 3);
    std::vector<std::string> got = Compute(cl.get(), d, DTX_SCHED_CLUSTER, &rc);
    ASSERT_EQ(rc, DTX_ETASK);
    std::string err = dtx_last_error();
    EXPECT_NE(err.find("injected"), std::string::npos) << err;
    EXPECT_NE(err.find("t["), std::string::npos) << err;
    /* The next computation on the same cluster succeeds and matches sync. */
    dtx_status rs;
    std::vector<std::string> want = Compute(cl.get(), d, DTX_SCHED_SYNC, &rs);
    got = Compute(cl.get(), d, DTX_SCHED_CLUSTER, &rc);
    ASSERT_EQ(rc, DTX_OK) << dtx_last_error();
    EXPECT_EQ(got, want);
  }
}

TEST(ClusterSim, PeerCopiesBetweenGpusGiveTheSameResults) {
  /* Inputs made on another GPU come straight from it (DTX_P2P=peer). */
  setenv("DTX_P2P", "peer", 1);
  dtxi_env_reload();
  {
    ClusterPtr cl = SimCluster(3, 2);
    ASSERT_NE(cl, nullptr);
    for (uint32_t seed = 50; seed < 50 + (kSanitized ? 4u : 20u); seed++) {
      SCOPED_TRACE(::testing::Message() << "seed " << seed);
      Dag d = RandomDag(seed, 100);
      dtx_status rs, rc;
      std::vector<std::string> want = Compute(cl.get(), d, DTX_SCHED_SYNC, &rs);
      std::vector<std::string> got = Compute(cl.get(), d, DTX_SCHED_CLUSTER, &rc);
      ASSERT_EQ(rc, DTX_OK) << dtx_last_error();
      EXPECT_EQ(got, want);
    }
  }
  unsetenv("DTX_P2P");
  dtxi_env_reload();
}

TEST(ClusterSim, UserPlacementWins) {
  ClusterPtr cl = SimCluster(3, 2);
  ASSERT_NE(cl, nullptr);
  for (int where : {DTX_WHERE_GPU(2), DTX_WHERE_GPU(0), DTX_WHERE_CPU}) {
    SCOPED_TRACE(::testing::Message() << "where " << where);
    const int n = 12;
    std::vector<std::atomic<int>> dev(n);
    GraphPtr g = MakeGraph();
    std::vector<dtx_task_id> ids;
    for (int i = 0; i < n; i++) {
      WhereArgs a{dev.data(), i};
      dtx_task_desc t{};
      t.name = "placed";
      t.nidx = 1;
      t.idx[0] = i;
      t.args = &a;
      t.args_size = sizeof a;
      t.cpu = RecordDevice;
      t.cuda = NotOnSim;
      t.where = where;
      dtx_task_id in = ids.empty() ? 0 : ids[ids.size() / 2];
      t.inputs = &in;
      t.ninputs = ids.empty() ? 0 : 1;
      dtx_task_id id;
      ASSERT_EQ(dtx_graph_add(g.get(), &t, &id), DTX_OK) << dtx_last_error();
      ids.push_back(id);
    }
    dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
    o.scheduler = DTX_SCHED_CLUSTER;
    ASSERT_EQ(dtx_compute(cl.get(), g.get(), ids.data(), n, nullptr, &o), DTX_OK) << dtx_last_error();
    for (int i = 0; i < n; i++) EXPECT_EQ(dev[i].load(), where > 0 ? where - 1 : -1) << "task " << i;
  }
}

TEST(ClusterSim, BadPlacementIsAnError) {
  ClusterPtr cl = SimCluster(2, 2);
  ASSERT_NE(cl, nullptr);
  GraphPtr g = MakeGraph();
  dtx_task_desc t{};
  t.name = "p";
  t.cpu = Mix;
  int64_t arg = 1;
  t.args = &arg;
  t.args_size = sizeof arg;
  dtx_task_id id;
  t.where = -2;
  EXPECT_EQ(dtx_graph_add(g.get(), &t, &id), DTX_EINVAL);
  t.where = DTX_WHERE_GPU(0); /* no CUDA implementation */
  EXPECT_EQ(dtx_graph_add(g.get(), &t, &id), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("no CUDA implementation"), std::string::npos)
      << dtx_last_error();
  t.cuda = NotOnSim;
  t.where = DTX_WHERE_GPU(5); /* the cluster has 2 */
  ASSERT_EQ(dtx_graph_add(g.get(), &t, &id), DTX_OK) << dtx_last_error();
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = DTX_SCHED_CLUSTER;
  EXPECT_EQ(dtx_compute(cl.get(), g.get(), &id, 1, nullptr, &o), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("asks for GPU 5"), std::string::npos) << dtx_last_error();
  o.scheduler = DTX_SCHED_THREADS; /* no GPUs there either */
  EXPECT_EQ(dtx_compute(cl.get(), g.get(), &id, 1, nullptr, &o), DTX_EINVAL);
}

namespace {
/* A dual task whose speed depends on where it runs: `slow_on_gpu` picks the
 * slow side. Sleeping stands in for work. */
struct DualArgs {
  std::atomic<int> *gpu_runs;
  std::atomic<int> *cpu_runs;
  int slow_on_gpu;
};
int Dual(dtx_task_ctx *ctx) {
  DualArgs a = Arg<DualArgs>(ctx);
  bool gpu = dtx_task_device(ctx) >= 0;
  (gpu ? a.gpu_runs : a.cpu_runs)->fetch_add(1);
  if (gpu == (a.slow_on_gpu != 0)) std::this_thread::sleep_for(std::chrono::milliseconds(3));
  void *o = dtx_task_output(ctx, 8);
  if (o == nullptr) return dtx_task_fail(ctx, "no memory");
  std::memset(o, 7, 8);
  return 0;
}
}  // namespace

TEST(ClusterSim, DualTasksGoWhereTheyFinishFirst) {
  /* Tasks with both implementations: after a first computation has measured
   * both sides, the next one puts them on the faster side. */
  for (int slow_on_gpu : {1, 0}) {
    SCOPED_TRACE(slow_on_gpu ? "GPU slower" : "CPU slower");
    ClusterPtr cl = SimCluster(1, 2);
    ASSERT_NE(cl, nullptr);
    std::atomic<int> gpu_runs{0}, cpu_runs{0};
    GraphPtr g = MakeGraph();
    std::vector<dtx_task_id> ids;
    for (int i = 0; i < 16; i++) {
      DualArgs a{&gpu_runs, &cpu_runs, slow_on_gpu};
      dtx_task_desc t{};
      t.name = slow_on_gpu ? "dual_g" : "dual_c";
      t.nidx = 1;
      t.idx[0] = i;
      t.args = &a;
      t.args_size = sizeof a;
      t.cpu = Dual;
      t.cuda = NotOnSim;
      dtx_task_id id;
      ASSERT_EQ(dtx_graph_add(g.get(), &t, &id), DTX_OK) << dtx_last_error();
      ids.push_back(id);
    }
    dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
    o.scheduler = DTX_SCHED_CLUSTER;
    ASSERT_EQ(dtx_compute(cl.get(), g.get(), ids.data(), 16, nullptr, &o), DTX_OK) << dtx_last_error();
    EXPECT_GE(cpu_runs.load(), 1) << "the first computation explores the CPU side";
    EXPECT_GE(gpu_runs.load(), 1);
    gpu_runs = 0;
    cpu_runs = 0;
    ASSERT_EQ(dtx_compute(cl.get(), g.get(), ids.data(), 16, nullptr, &o), DTX_OK) << dtx_last_error();
    if (slow_on_gpu) {
      EXPECT_EQ(cpu_runs.load(), 16);
    } else {
      EXPECT_EQ(gpu_runs.load(), 16);
    }
  }
}

TEST(ClusterSim, IndependentWorkSpreadsOverGpus) {
  /* Earliest finish: with one GPU's queue full of slow tasks, the next ones
   * go to the other GPU. */
  ClusterPtr cl = SimCluster(2, 2);
  ASSERT_NE(cl, nullptr);
  const int n = 12;
  std::vector<std::atomic<int>> dev(n);
  std::atomic<int> gpu_runs{0}, cpu_runs{0};
  GraphPtr g = MakeGraph();
  std::vector<dtx_task_id> ids;
  for (int i = 0; i < n; i++) {
    WhereArgs a{dev.data(), i};
    dtx_task_desc t{};
    t.name = "spread";
    t.nidx = 1;
    t.idx[0] = i;
    t.args = &a;
    t.args_size = sizeof a;
    t.cpu = RecordDevice;
    t.cuda = NotOnSim;
    dtx_task_id id;
    ASSERT_EQ(dtx_graph_add(g.get(), &t, &id), DTX_OK) << dtx_last_error();
    ids.push_back(id);
  }
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = DTX_SCHED_CLUSTER;
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), ids.data(), n, nullptr, &o), DTX_OK) << dtx_last_error();
  std::set<int> used;
  for (int i = 0; i < n; i++)
    if (dev[i].load() >= 0) used.insert(dev[i].load());
  EXPECT_EQ(used.size(), 2u) << "all GPU tasks went to one GPU";
}

namespace {
int HugeOutput(dtx_task_ctx *ctx) {
  void *o = dtx_task_output(ctx, size_t(8) << 30); /* more than a simulated GPU holds */
  if (o == nullptr) return dtx_task_fail(ctx, "no memory for the output");
  std::memset(o, 0, 64);
  return 0;
}
int AlwaysFail(dtx_task_ctx *ctx) { return dtx_task_fail(ctx, "first link fails"); }
}  // namespace

TEST(ClusterSim, OutputTooBigForTheGpuIsAnErrorNamingIt) {
  ClusterPtr cl = SimCluster(1, 2);
  ASSERT_NE(cl, nullptr);
  GraphPtr g = MakeGraph();
  dtx_task_desc t{};
  t.name = "huge";
  t.cpu = HugeOutput;
  t.cuda = NotOnSim;
  t.where = DTX_WHERE_GPU(0);
  dtx_task_id id;
  ASSERT_EQ(dtx_graph_add(g.get(), &t, &id), DTX_OK) << dtx_last_error();
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = DTX_SCHED_CLUSTER;
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), &id, 1, nullptr, &o), DTX_ETASK);
  std::string err = dtx_last_error();
  EXPECT_NE(err.find("huge"), std::string::npos) << err;
  EXPECT_NE(err.find("8589934592-byte output does not fit under gpu 0's memory limit"), std::string::npos)
      << err;
}

namespace {
std::atomic<int> big_on_gpu{0}, big_on_cpu{0};
int BigSource(dtx_task_ctx *ctx) {
  auto *o = static_cast<double *>(dtx_task_output(ctx, 6144 * sizeof(double)));
  if (o == nullptr) return dtx_task_fail(ctx, "no memory");
  for (int i = 0; i < 6144; i++) o[i] = i;
  return 0;
}
int BigDouble(dtx_task_ctx *ctx) {
  (dtx_task_device(ctx) >= 0 ? big_on_gpu : big_on_cpu)++;
  size_t n = 0;
  auto *in = static_cast<const double *>(dtx_task_input(ctx, 0, &n));
  auto *o = static_cast<double *>(dtx_task_output(ctx, n));
  if (o == nullptr) return dtx_task_fail(ctx, "no memory for %zu bytes", n);
  for (size_t i = 0; i < n / sizeof(double); i++) o[i] = 2 * in[i];
  return 0;
}
}  // namespace

/* A task with both implementations that no GPU has room for (48 KiB in and
 * out under a 64 KiB limit) runs on a CPU thread; placed on the GPU by the
 * user, it is an error saying so. */
TEST(ClusterSim, DualTaskNoGpuCanHoldRunsOnTheCpu) {
  ScopedEnv lim("DTX_DEVICE_MEMORY_LIMIT", "64KiB");
  ClusterPtr cl = SimCluster(2, 2);
  ASSERT_NE(cl, nullptr);
  /* the first run of a name explores the CPU; the second tries the GPU */
  for (int round = 0; round < 3; round++) {
    int placed = round == 2;
    GraphPtr g = MakeGraph();
    dtx_task_desc src{}, dbl{};
    src.name = "bigsrc";
    src.cpu = BigSource;
    src.where = DTX_WHERE_CPU;
    dtx_task_id sid, did;
    ASSERT_EQ(dtx_graph_add(g.get(), &src, &sid), DTX_OK) << dtx_last_error();
    dbl.name = placed ? "bigdbl_placed" : "bigdbl";
    dbl.cpu = BigDouble;
    dbl.cuda = BigDouble;
    dbl.inputs = &sid;
    dbl.ninputs = 1;
    dbl.where = placed ? DTX_WHERE_GPU(1) : DTX_WHERE_ANY;
    ASSERT_EQ(dtx_graph_add(g.get(), &dbl, &did), DTX_OK) << dtx_last_error();
    big_on_gpu = big_on_cpu = 0;
    dtx_chunk *out = nullptr;
    dtx_status rc = dtx_compute(cl.get(), g.get(), &did, 1, &out, nullptr);
    ChunkPtr hold(out);
    if (!placed) {
      ASSERT_EQ(rc, DTX_OK) << "round " << round << ": " << dtx_last_error();
      EXPECT_EQ(big_on_cpu.load(), 1);
      EXPECT_EQ(big_on_gpu.load(), 0);
      const auto *o = static_cast<const double *>(dtx_chunk_data(out));
      ASSERT_EQ(dtx_chunk_size(out), 6144 * sizeof(double));
      for (int i = 0; i < 6144; i++) ASSERT_EQ(o[i], 2.0 * i);
    } else {
      EXPECT_EQ(rc, DTX_ETASK);
      std::string err = dtx_last_error();
      EXPECT_NE(err.find("bigdbl_placed"), std::string::npos) << err;
      EXPECT_NE(err.find("of gpu 1's memory at once"), std::string::npos) << err;
      EXPECT_EQ(big_on_cpu.load() + big_on_gpu.load(), 0);
    }
  }
}

TEST(ClusterSim, LongFailingGpuChainDoesNotRecurse) {
  /* The first link fails; every later GPU link is marked failed in turn. */
  ClusterPtr cl = SimCluster(1, 2);
  ASSERT_NE(cl, nullptr);
  const int n = kSanitized ? 20000 : 200000;
  GraphPtr g = MakeGraph();
  dtx_task_id prev = 0;
  for (int i = 0; i < n; i++) {
    dtx_task_desc t{};
    t.name = "fchain";
    t.nidx = 1;
    t.idx[0] = i;
    t.cpu = i == 0 ? static_cast<dtx_task_fn>(AlwaysFail) : static_cast<dtx_task_fn>(Mix);
    t.cuda = NotOnSim;
    t.where = DTX_WHERE_GPU(0);
    int64_t arg = i;
    t.args = &arg;
    t.args_size = sizeof arg;
    t.inputs = &prev;
    t.ninputs = i > 0 ? 1 : 0;
    ASSERT_EQ(dtx_graph_add(g.get(), &t, &prev), DTX_OK) << dtx_last_error();
  }
  dtx_chunk *out = nullptr;
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = DTX_SCHED_CLUSTER;
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), &prev, 1, &out, &o), DTX_ETASK);
  ChunkPtr hold(out);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(dtx_chunk_status(out), DTX_ETASK);
  EXPECT_NE(std::string(dtx_chunk_error(out)).find("fchain[0]: first link fails"), std::string::npos)
      << dtx_chunk_error(out);
}

TEST(ClusterSim, DefaultClusterWithGpusUsesThem) {
  if (std::getenv("DTX_SCHEDULER") != nullptr) GTEST_SKIP() << "DTX_SCHEDULER is set in the environment";
  for (const char *gpus : {"sim:2", "none"}) {
    dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
    cfg.gpus = gpus;
    dtx_cluster *raw = nullptr;
    ASSERT_EQ(dtx_cluster_create(&cfg, &raw), DTX_OK) << dtx_last_error();
    ClusterPtr cl(raw);
    EXPECT_EQ(dtx_cluster_scheduler(cl.get()),
              std::string(gpus) == "none" ? DTX_SCHED_THREADS : DTX_SCHED_CLUSTER)
        << gpus;
  }
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.gpus = "sim:1";
  cfg.scheduler = DTX_SCHED_THREADS; /* asked for: kept */
  dtx_cluster *raw = nullptr;
  ASSERT_EQ(dtx_cluster_create(&cfg, &raw), DTX_OK) << dtx_last_error();
  ClusterPtr cl(raw);
  EXPECT_EQ(dtx_cluster_scheduler(cl.get()), DTX_SCHED_THREADS);
}

/* ---- device memory limits and spilling ---------------------------------------------- */

namespace {

constexpr size_t kSpillChunk = 256 * 1024; /* bytes per chunk */
constexpr size_t kSpillN = kSpillChunk / sizeof(double);

double GenValue(int64_t i, size_t k) {
  return static_cast<double>((i * 7919 + static_cast<int64_t>(k) * 31) % 1000003);
}

/* gen[i]: kSpillN doubles from (i, k). */
int SpillGen(dtx_task_ctx *ctx) {
  int64_t i = Arg<int64_t>(ctx);
  double *o = static_cast<double *>(dtx_task_output(ctx, kSpillChunk));
  if (o == nullptr) return dtx_task_fail(ctx, "no memory for the output");
  for (size_t k = 0; k < kSpillN; k++) o[k] = GenValue(i, k);
  return 0;
}

/* pair[i] = gen[i] + 2 * gen[i + 1]. */
int SpillPair(dtx_task_ctx *ctx) {
  size_t na = 0, nb = 0;
  const double *a = static_cast<const double *>(dtx_task_input(ctx, 0, &na));
  const double *b = static_cast<const double *>(dtx_task_input(ctx, 1, &nb));
  if (na != kSpillChunk || nb != kSpillChunk)
    return dtx_task_fail(ctx, "inputs of %zu and %zu bytes", na, nb);
  double *o = static_cast<double *>(dtx_task_output(ctx, kSpillChunk));
  if (o == nullptr) return dtx_task_fail(ctx, "no memory for the output");
  for (size_t k = 0; k < kSpillN; k++) o[k] = a[k] + 2 * b[k];
  return 0;
}

/* total = sum over its inputs of sum_k in[k] * (k + 1), on a CPU thread. */
int SpillTotal(dtx_task_ctx *ctx) {
  double s = 0;
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) {
    size_t n = 0;
    const double *p = static_cast<const double *>(dtx_task_input(ctx, i, &n));
    if (n != kSpillChunk) return dtx_task_fail(ctx, "input %d has %zu bytes", i, n);
    for (size_t k = 0; k < kSpillN; k++) s += p[k] * static_cast<double>(k + 1);
  }
  double *o = static_cast<double *>(dtx_task_output(ctx, sizeof s));
  if (o == nullptr) return dtx_task_fail(ctx, "no memory for the output");
  *o = s;
  return 0;
}

}  // namespace

TEST(ClusterSim, SpillsToHostWhenTheDataIsFourTimesTheDeviceLimit) {
  /* 64 chunks of 256 KiB made on the GPUs, each read by two GPU tasks: 16 MiB
   * live at once against a 4 MiB limit per GPU. The result must be right and
   * the device memory dtx holds must never pass the limit. */
  ScopedEnv lim("DTX_DEVICE_MEMORY_LIMIT", "4MiB");
  const int64_t n = 64;
  double want = 0;
  for (int64_t i = 0; i < n; i++)
    for (size_t k = 0; k < kSpillN; k++)
      want += (GenValue(i, k) + 2 * GenValue((i + 1) % n, k)) * static_cast<double>(k + 1);
  for (int ngpu : {1, 2}) {
    SCOPED_TRACE(::testing::Message() << "sim:" << ngpu);
    ClusterPtr cl = SimCluster(ngpu, 2);
    ASSERT_NE(cl, nullptr);
    GraphPtr g = MakeGraph();
    std::vector<dtx_task_id> gen(n), pair(n);
    for (int64_t i = 0; i < n; i++) {
      dtx_task_desc t = Desc("gen", SpillGen, {i});
      t.cuda = NotOnSim;
      t.args = &i;
      t.args_size = sizeof i;
      ASSERT_EQ(dtx_graph_add(g.get(), &t, &gen[i]), DTX_OK) << dtx_last_error();
    }
    for (int64_t i = 0; i < n; i++) {
      dtx_task_id ins[2] = {gen[i], gen[(i + 1) % n]};
      dtx_task_desc t = Desc("pair", SpillPair, {i});
      t.cuda = NotOnSim;
      t.inputs = ins;
      t.ninputs = 2;
      ASSERT_EQ(dtx_graph_add(g.get(), &t, &pair[i]), DTX_OK) << dtx_last_error();
    }
    dtx_task_desc t = Desc("total", SpillTotal);
    t.inputs = pair.data();
    t.ninputs = static_cast<int>(n);
    dtx_task_id total;
    ASSERT_EQ(dtx_graph_add(g.get(), &t, &total), DTX_OK) << dtx_last_error();
    for (int round = 0; round < 2; round++) { /* the second with learned sizes and durations */
      dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
      o.scheduler = DTX_SCHED_CLUSTER;
      Results out(1);
      ASSERT_EQ(dtx_compute(cl.get(), g.get(), &total, 1, out.data(), &o), DTX_OK) << dtx_last_error();
      ASSERT_EQ(dtx_chunk_size(out[0]), sizeof(double));
      double got;
      std::memcpy(&got, dtx_chunk_data(out[0]), sizeof got);
      EXPECT_EQ(got, want);
    }
    int64_t spills = 0, unspills = 0;
    for (int d = 0; d < ngpu; d++) {
      dtx_device_stats st = DTX_DEVICE_STATS_INIT;
      ASSERT_EQ(dtx_cluster_get_device_stats(cl.get(), d, &st), DTX_OK) << dtx_last_error();
      EXPECT_EQ(st.bytes_limit, 4 << 20);
      EXPECT_LE(st.bytes_peak, st.bytes_limit) << "gpu " << d;
      EXPECT_GT(st.bytes_peak, 0) << "gpu " << d;
      EXPECT_EQ(st.bytes_in_use, 0) << "gpu " << d << ": everything is given back after the run";
      spills += st.spills;
      unspills += st.unspills;
      EXPECT_EQ(st.bytes_spilled, st.spills * static_cast<int64_t>(kSpillChunk));
    }
    EXPECT_GT(spills, 0);
    EXPECT_GT(unspills, 0);
    dtx_device_stats bad = DTX_DEVICE_STATS_INIT;
    EXPECT_EQ(dtx_cluster_get_device_stats(cl.get(), ngpu, &bad), DTX_EINVAL);
    EXPECT_NE(std::string(dtx_last_error()).find("does not exist"), std::string::npos) << dtx_last_error();
  }
}

TEST(ClusterSim, ATaskThatCannotFitAloneIsAnErrorNamingItsSizeAndTheLimit) {
  ScopedEnv lim("DTX_DEVICE_MEMORY_LIMIT", "384KiB");
  ClusterPtr cl = SimCluster(1, 2);
  ASSERT_NE(cl, nullptr);
  GraphPtr g = MakeGraph();
  int64_t a = 1, b = 2;
  dtx_task_desc t = Desc("gen", SpillGen, {a});
  t.cuda = NotOnSim;
  t.where = DTX_WHERE_GPU(0);
  t.args = &a;
  t.args_size = sizeof a;
  dtx_task_id ga, gb, p;
  ASSERT_EQ(dtx_graph_add(g.get(), &t, &ga), DTX_OK);
  t.idx[0] = b;
  t.args = &b;
  ASSERT_EQ(dtx_graph_add(g.get(), &t, &gb), DTX_OK);
  dtx_task_id ins[2] = {ga, gb};
  dtx_task_desc q = Desc("pair", SpillPair, {0});
  q.cuda = NotOnSim;
  q.where = DTX_WHERE_GPU(0);
  q.inputs = ins;
  q.ninputs = 2;
  ASSERT_EQ(dtx_graph_add(g.get(), &q, &p), DTX_OK);
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = DTX_SCHED_CLUSTER;
  Results out(1);
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), &p, 1, out.data(), &o), DTX_ETASK);
  std::string err = dtx_last_error();
  EXPECT_NE(err.find("pair[0]"), std::string::npos) << err;
  EXPECT_NE(err.find(std::to_string(3 * kSpillChunk) + " bytes of gpu 0's memory"), std::string::npos) << err;
  EXPECT_NE(err.find("limit is " + std::to_string(384 * 1024)), std::string::npos) << err;
  dtx_device_stats st = DTX_DEVICE_STATS_INIT;
  ASSERT_EQ(dtx_cluster_get_device_stats(cl.get(), 0, &st), DTX_OK);
  EXPECT_EQ(st.bytes_in_use, 0);
  EXPECT_LE(st.bytes_peak, st.bytes_limit);
}

namespace {
/* A name whose output size is being learned (one probe at a time under a
 * limit) keeps its table entry while names hashing near it come and go, so
 * the next task of that name waits for the probe instead of probing too. */
int Rv3Src(dtx_task_ctx *ctx) {
  void *o = dtx_task_output(ctx, 1024);
  if (o == nullptr) return dtx_task_fail(ctx, "oom");
  std::memset(o, 1, 1024);
  return 0;
}
int Rv3Grow(dtx_task_ctx *ctx) {
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  void *o = dtx_task_output(ctx, 60 << 10);
  if (o == nullptr) return dtx_task_fail(ctx, "no output");
  std::memset(o, 2, 60 << 10);
  return 0;
}
int Rv3Small(dtx_task_ctx *ctx) {
  void *o = dtx_task_output(ctx, 8);
  if (o == nullptr) return dtx_task_fail(ctx, "no output");
  std::memset(o, 3, 8);
  return 0;
}
TEST(ClusterSim, ProbeSerializationSurvivesTableEviction) {
  ScopedEnv lim("DTX_DEVICE_MEMORY_LIMIT", "100KiB");
  ScopedEnv st("DTX_STREAMS_PER_GPU", "8");
  ClusterPtr cl = SimCluster(1, 2);
  ASSERT_NE(cl, nullptr);
  const char *coll[] = {"c167",  "c268",  "c753",  "c1189", "c1289", "c1592", "c1707", "c1946",
                        "c2368", "c2994", "c3998", "c4134", "c4986", "c5069", "c5343", "c5858",
                        "c5977", "c6441", "c7328", "c7751", "c8487", "c8750"};
  GraphPtr g = MakeGraph();
  dtx_task_desc s{};
  s.name = "rv3src";
  s.cpu = Rv3Src;
  s.where = DTX_WHERE_CPU;
  dtx_task_id sid;
  ASSERT_EQ(dtx_graph_add(g.get(), &s, &sid), DTX_OK);
  std::vector<dtx_task_id> outs;
  int ci = 0, gi = 0;
  auto add = [&](const char *name, dtx_task_fn fn, int64_t idx) {
    dtx_task_desc t{};
    t.name = name;
    t.nidx = 1;
    t.idx[0] = idx;
    t.cpu = fn;
    t.cuda = fn;
    t.where = DTX_WHERE_GPU(0);
    t.inputs = &sid;
    t.ninputs = 1;
    dtx_task_id id;
    ASSERT_EQ(dtx_graph_add(g.get(), &t, &id), DTX_OK) << dtx_last_error();
    outs.push_back(id);
  };
  add("grow", Rv3Grow, gi++);
  for (int k = 0; k < 16; k++) add(coll[ci++], Rv3Small, 0);
  for (int k = 0; k < 3; k++) {
    add("grow", Rv3Grow, gi++);
    add(coll[ci++], Rv3Small, 0);
  }
  dtx_status rc = dtx_compute(cl.get(), g.get(), outs.data(), (int)outs.size(), nullptr, nullptr);
  EXPECT_EQ(rc, DTX_OK) << dtx_last_error();
}
}  // namespace
