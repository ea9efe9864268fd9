/*
 * tests/spill_test.cc - host and device memory limits: past
 * DTX_HOST_MEMORY_LIMIT task outputs spill to files in DTX_SPILL_DIR and come
 * back bit-identical; on simulated GPUs, past DTX_DEVICE_MEMORY_LIMIT they
 * spill to host first (device -> host -> disk). Each test reads the runtime's
 * own counters to check that the limits held.
 */
#include <gtest/gtest.h>

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "base/config.h"
#include "dtx/dtx.h"
#include "test_util.h"

#ifdef DTX_HAVE_NLOHMANN_JSON
#include <nlohmann/json.hpp>
#endif

using namespace dtxt;

namespace {

constexpr size_t kChunk = 256 * 1024; /* bytes per chunk */
constexpr size_t kN = kChunk / sizeof(uint64_t);
constexpr int64_t kChunks = 64; /* 16 MiB in all */

uint64_t GenValue(int64_t i, size_t k) { return Mix(static_cast<uint64_t>(i) * 1000003u + k); }

int Gen(dtx_task_ctx *ctx) {
  int64_t i = Arg<int64_t>(ctx);
  uint64_t *o = static_cast<uint64_t *>(dtx_task_output(ctx, kChunk));
  if (o == nullptr) return dtx_task_fail(ctx, "no memory for the output");
  for (size_t k = 0; k < kN; k++) o[k] = GenValue(i, k);
  return 0;
}

/* pair = a ^ rotl(b, 1): any bit lost in a spill shows. */
int Pair(dtx_task_ctx *ctx) {
  size_t na = 0, nb = 0;
  const uint64_t *a = static_cast<const uint64_t *>(dtx_task_input(ctx, 0, &na));
  const uint64_t *b = static_cast<const uint64_t *>(dtx_task_input(ctx, 1, &nb));
  if (na != kChunk || nb != kChunk) return dtx_task_fail(ctx, "inputs of %zu and %zu bytes", na, nb);
  uint64_t *o = static_cast<uint64_t *>(dtx_task_output(ctx, kChunk));
  if (o == nullptr) return dtx_task_fail(ctx, "no memory for the output");
  for (size_t k = 0; k < kN; k++) o[k] = a[k] ^ ((b[k] << 1) | (b[k] >> 63));
  return 0;
}

/* A hash of its inputs (chunks or hashes), in order. */
int Fold(dtx_task_ctx *ctx) {
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) {
    size_t n = 0;
    const uint64_t *p = static_cast<const uint64_t *>(dtx_task_input(ctx, i, &n));
    for (size_t k = 0; k < n / sizeof(uint64_t); k++) h = Combine(h, p[k]);
  }
  return OutputI64(ctx, static_cast<int64_t>(h));
}

uint64_t Expected() {
  std::vector<uint64_t> parts;
  for (int64_t p = 0; p < kChunks / 4; p++) {
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (int64_t i = p * 4; i < p * 4 + 4; i++)
      for (size_t k = 0; k < kN; k++) {
        uint64_t a = GenValue(i, k), b = GenValue((i + kChunks / 2) % kChunks, k);
        h = Combine(h, a ^ ((b << 1) | (b >> 63)));
      }
    parts.push_back(h);
  }
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (uint64_t v : parts) h = Combine(h, v);
  return h;
}

/* gen[i] -> pair[i] (reads gen[i], gen[i+32]: every gen is live half way) -> part[p] (4 pairs) -> total.
 * With gpu, gen and pair also have a CUDA implementation (the CPU one stands
 * in on simulated GPUs). */
GraphPtr Build(bool gpu, dtx_task_id *total) {
  GraphPtr g = MakeGraph();
  std::vector<dtx_task_id> gen(kChunks), pair(kChunks), part(kChunks / 4);
  for (int64_t i = 0; i < kChunks; i++) {
    dtx_task_desc t = Desc("gen", Gen, {i});
    if (gpu) t.cuda = Gen;
    t.args = &i;
    t.args_size = sizeof i;
    EXPECT_EQ(dtx_graph_add(g.get(), &t, &gen[i]), DTX_OK) << dtx_last_error();
  }
  for (int64_t i = 0; i < kChunks; i++) {
    dtx_task_id ins[2] = {gen[i], gen[(i + kChunks / 2) % kChunks]};
    dtx_task_desc t = Desc("pair", Pair, {i});
    if (gpu) t.cuda = Pair;
    t.inputs = ins;
    t.ninputs = 2;
    EXPECT_EQ(dtx_graph_add(g.get(), &t, &pair[i]), DTX_OK) << dtx_last_error();
  }
  for (int64_t p = 0; p < kChunks / 4; p++) {
    dtx_task_desc t = Desc("part", Fold, {p});
    t.where = DTX_WHERE_CPU;
    t.inputs = &pair[p * 4];
    t.ninputs = 4;
    EXPECT_EQ(dtx_graph_add(g.get(), &t, &part[p]), DTX_OK) << dtx_last_error();
  }
  dtx_task_desc t = Desc("total", Fold);
  t.where = DTX_WHERE_CPU;
  t.inputs = part.data();
  t.ninputs = static_cast<int>(part.size());
  EXPECT_EQ(dtx_graph_add(g.get(), &t, total), DTX_OK) << dtx_last_error();
  return g;
}

ClusterPtr Make(dtx_scheduler s, const char *gpus) {
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.scheduler = s;
  cfg.num_threads = 2;
  cfg.gpus = gpus;
  dtx_cluster *cl = nullptr;
  EXPECT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  return ClusterPtr(cl);
}

int64_t RunTotal(dtx_cluster *cl, dtx_graph *g, dtx_task_id total, dtx_scheduler s) {
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = s;
  Results out(1);
  EXPECT_EQ(dtx_compute(cl, g, &total, 1, out.data(), &o), DTX_OK) << dtx_last_error();
  return out[0] != nullptr ? ChunkI64(out[0]) : 0;
}

}  // namespace

TEST(HostSpill, DataFourTimesTheHostLimitSpillsToDiskAndComesBackIdentical) {
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  ScopedEnv env;
  env.Set("DTX_HOST_MEMORY_LIMIT", "4MiB");
  env.Set("DTX_SPILL_DIR", dir.path);
  const int64_t want = static_cast<int64_t>(Expected());
  for (dtx_scheduler s : {DTX_SCHED_THREADS, DTX_SCHED_SYNC}) {
    SCOPED_TRACE(dtx_scheduler_name(s));
    ClusterPtr cl = Make(s, "none");
    ASSERT_NE(cl, nullptr);
    dtx_task_id total;
    GraphPtr g = Build(false, &total);
    dtx_cluster_reset_peak(cl.get());
    EXPECT_EQ(RunTotal(cl.get(), g.get(), total, s), want);
    dtx_cluster_stats st = DTX_CLUSTER_STATS_INIT;
    ASSERT_EQ(dtx_cluster_get_stats(cl.get(), &st), DTX_OK);
    EXPECT_EQ(st.host_limit, 4 << 20);
    EXPECT_LE(st.bytes_peak, st.host_limit) << "chunk bytes in memory passed the limit";
    if (s == DTX_SCHED_SYNC) {
      /* Its order keeps every gen alive half way through: 16 MiB against 4.
       * (Two threads may split the work so that readers of the same gen run
       * close together and need not spill.) */
      EXPECT_GT(st.spills, 0);
      EXPECT_GT(st.unspills, 0);
    }
    EXPECT_EQ(st.bytes_spilled, st.spills * static_cast<int64_t>(kChunk));
    EXPECT_EQ(st.bytes_on_disk, 0) << "every spilled chunk is gone after the run";
    EXPECT_EQ(dir.Files(), 0) << "spill files left in " << dir.path;
  }
}

TEST(HostSpill, NoLimitMeansNoSpilling) {
  ClusterPtr cl = Make(DTX_SCHED_THREADS, "none");
  ASSERT_NE(cl, nullptr);
  dtx_task_id total;
  GraphPtr g = Build(false, &total);
  EXPECT_EQ(RunTotal(cl.get(), g.get(), total, DTX_SCHED_THREADS), static_cast<int64_t>(Expected()));
  dtx_cluster_stats st = DTX_CLUSTER_STATS_INIT;
  ASSERT_EQ(dtx_cluster_get_stats(cl.get(), &st), DTX_OK);
  EXPECT_EQ(st.host_limit, 0);
  EXPECT_EQ(st.spills, 0);
}

TEST(HostSpill, AnUnwritableSpillDirectoryKeepsTheDataInMemory) {
  /* Nothing is lost: the run goes over the limit and says why in the log. */
  ScopedEnv env;
  env.Set("DTX_HOST_MEMORY_LIMIT", "2MiB");
  env.Set("DTX_SPILL_DIR", "/nonexistent/dtx-spill");
  env.Set("DTX_LOG", "error");
  ClusterPtr cl = Make(DTX_SCHED_THREADS, "none");
  ASSERT_NE(cl, nullptr);
  dtx_task_id total;
  GraphPtr g = Build(false, &total);
  EXPECT_EQ(RunTotal(cl.get(), g.get(), total, DTX_SCHED_THREADS), static_cast<int64_t>(Expected()));
  dtx_cluster_stats st = DTX_CLUSTER_STATS_INIT;
  ASSERT_EQ(dtx_cluster_get_stats(cl.get(), &st), DTX_OK);
  EXPECT_EQ(st.spills, 0);
}

TEST(HostSpill, OldStatsStructsStillWork) {
  /* A caller built against the struct before the spill counters. */
  ClusterPtr cl = Make(DTX_SCHED_THREADS, "none");
  ASSERT_NE(cl, nullptr);
  dtx_cluster_stats st = DTX_CLUSTER_STATS_INIT;
  st.size = offsetof(dtx_cluster_stats, host_limit);
  st.spills = -7;
  ASSERT_EQ(dtx_cluster_get_stats(cl.get(), &st), DTX_OK) << dtx_last_error();
  EXPECT_EQ(st.spills, -7) << "fields past size are not written";
  st.size = 8;
  EXPECT_EQ(dtx_cluster_get_stats(cl.get(), &st), DTX_EINVAL);
}

TEST(DeviceSpill, DeviceToHostToDiskOnSimulatedGpus) {
  /* 16 MiB of GPU-made chunks against 2 MiB per GPU and 4 MiB of host. */
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  ScopedEnv env;
  env.Set("DTX_DEVICE_MEMORY_LIMIT", "2MiB");
  env.Set("DTX_HOST_MEMORY_LIMIT", "4MiB");
  env.Set("DTX_SPILL_DIR", dir.path);
  const int64_t want = static_cast<int64_t>(Expected());
  for (const char *gpus : {"sim:1", "sim:2"}) {
    SCOPED_TRACE(gpus);
    ClusterPtr cl = Make(DTX_SCHED_CLUSTER, gpus);
    ASSERT_NE(cl, nullptr);
    dtx_task_id total;
    GraphPtr g = Build(true, &total);
    dtx_cluster_reset_peak(cl.get());
    for (int round = 0; round < 2; round++)
      EXPECT_EQ(RunTotal(cl.get(), g.get(), total, DTX_SCHED_CLUSTER), want);
    int64_t dspills = 0;
    for (int d = 0; d < dtx_cluster_num_gpus(cl.get()); d++) {
      dtx_device_stats ds = DTX_DEVICE_STATS_INIT;
      ASSERT_EQ(dtx_cluster_get_device_stats(cl.get(), d, &ds), DTX_OK);
      EXPECT_LE(ds.bytes_peak, ds.bytes_limit) << "gpu " << d;
      EXPECT_EQ(ds.bytes_in_use, 0) << "gpu " << d;
      dspills += ds.spills;
    }
    EXPECT_GT(dspills, 0);
    dtx_cluster_stats st = DTX_CLUSTER_STATS_INIT;
    ASSERT_EQ(dtx_cluster_get_stats(cl.get(), &st), DTX_OK);
    EXPECT_GT(st.spills, 0) << "spilled from the GPUs to host, then on to disk";
    /* Chunks in use cannot spill: spill copies still landing from the GPUs,
     * inputs being copied to them. And a GPU task's output that a CPU task
     * reads (the `pair` chunks the CPU `part` tasks fold) is copied home as
     * soon as the GPU task completes (scheduler/gpu/complete.c), so those
     * host copies can run ahead of the `part` tasks: about 1 run in 8 here
     * peaked up to 6 MiB past the limit plus the GPU memory (the copies home
     * are not held back by the host limit yet). So the bound is the limit,
     * what the GPUs have in flight (at most their memory) and the `part`
     * tasks' inputs (at most all of them: 16 tasks x 4 chunks); the data at
     * rest is checked by the end of the run (nothing left on disk). */
    int64_t in_flight = dtx_cluster_num_gpus(cl.get()) * int64_t{2 << 20};
    int64_t staged = (kChunks / 4) * 4 * static_cast<int64_t>(kChunk);
    EXPECT_LE(st.bytes_peak, st.host_limit + in_flight + staged);
    EXPECT_EQ(st.bytes_on_disk, 0);
    EXPECT_EQ(dir.Files(), 0);
  }
}

#ifdef DTX_HAVE_NLOHMANN_JSON
TEST(DeviceSpill, TheTraceMarksSpillsAndReadsBack) {
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  std::string path = dir.path + "/trace.json";
  {
    ScopedEnv env;
    env.Set("DTX_DEVICE_MEMORY_LIMIT", "2MiB");
    env.Set("DTX_HOST_MEMORY_LIMIT", "4MiB");
    env.Set("DTX_SPILL_DIR", dir.path);
    dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
    cfg.scheduler = DTX_SCHED_CLUSTER;
    cfg.num_threads = 2;
    cfg.gpus = "sim:1";
    cfg.trace_path = path.c_str();
    dtx_cluster *raw = nullptr;
    ASSERT_EQ(dtx_cluster_create(&cfg, &raw), DTX_OK) << dtx_last_error();
    ClusterPtr cl(raw);
    dtx_task_id total;
    GraphPtr g = Build(true, &total);
    for (int round = 0; round < 2; round++)
      EXPECT_EQ(RunTotal(cl.get(), g.get(), total, DTX_SCHED_CLUSTER), static_cast<int64_t>(Expected()));
  }
  std::ifstream in(path);
  nlohmann::json j = nlohmann::json::parse(in);
  std::map<std::string, int> seen; /* "pid cat" */
  for (const auto &e : j["traceEvents"])
    if (e["ph"] == "i" && (e["cat"] == "spill" || e["cat"] == "unspill"))
      seen[std::to_string(e["pid"].get<int>()) + " " + e["cat"].get<std::string>()]++;
  EXPECT_GT(seen["100 spill"], 0) << "gpu 0 spilled to host";
  EXPECT_GT(seen["100 unspill"], 0) << "gpu 0 read a spilled copy back";
  EXPECT_GT(seen["1 spill"], 0) << "the host spilled to disk";
  EXPECT_GT(seen["1 unspill"], 0) << "the host read back from disk";
  std::remove(path.c_str());
}
#endif
