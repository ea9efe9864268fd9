// tests/gpu_check_test.cc - the GPU executor's invariant checker
// (scheduler/gpu/check.c) on simulated GPUs.
//
// Real computations (spills under a memory limit, moves between GPUs,
// broadcasts, run-ahead chains) leave a consistent state, and the accounting
// holds at every moment while they run (a thread checks all along). Every
// corruption made on purpose through the internal header (gpu_check_hook.c)
// is reported, naming what broke, and undoing it makes the state consistent
// again. In DTX_CHECK_INVARIANTS builds a computation over a corrupted state
// aborts with the checker's message.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "dtx/dtx.h"
#include "scheduler/gpu.h"
#include "test_util.h"

extern "C" {
int gct_check(dtx_cluster *cl, char *why, size_t n);
void gct_assert(dtx_cluster *cl);
void *gct_copy_new(dtx_cluster *cl, int dev, size_t size, int pins);
void gct_copy_pin(dtx_cluster *cl, void *h, int dev);
void gct_copy_unpin(dtx_cluster *cl, void *h, int dev);
void gct_copy_free(dtx_cluster *cl, void *h, int dev);
void *gct_kept_new(dtx_cluster *cl, int dev, size_t size);
void gct_kept_free(dtx_cluster *cl, void *h, int dev);
void gct_add_used(dtx_cluster *cl, int dev, int64_t delta);
void gct_add_kept(dtx_cluster *cl, int dev, int64_t delta);
int64_t gct_set_limit(dtx_cluster *cl, int dev, int64_t limit);
void gct_charge(dtx_cluster *cl, int dev, int64_t bytes);
void gct_add_inflight(dtx_cluster *cl, int dev, int delta);
void gct_flip_in_lru(dtx_cluster *cl, void *h, int dev);
void gct_flip_resident(dtx_cluster *cl, void *h, int dev);
void gct_swap_lru_ends(dtx_cluster *cl, int dev);
void gct_flip_listed(dtx_cluster *cl, void *h);
}

namespace {

using dtxt::ClusterPtr;
using dtxt::GraphPtr;
using dtxt::MakeGraph;
using dtxt::ScopedEnv;

ClusterPtr SimCluster(int ngpu) {
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.scheduler = DTX_SCHED_CLUSTER;
  cfg.num_threads = 2;
  cfg.log_level = DTX_LOG_NONE;
  std::string spec = "sim:" + std::to_string(ngpu);
  cfg.gpus = spec.c_str();
  dtx_cluster *cl = nullptr;
  EXPECT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  return ClusterPtr(cl);
}

// What the checker says now ("" when consistent).
std::string Check(dtx_cluster *cl) {
  char why[512];
  int rc = gct_check(cl, why, sizeof why);
  EXPECT_EQ(rc != 0, why[0] != '\0') << "a failed check says why; a passing one says nothing";
  return rc == 0 ? std::string() : std::string(why);
}

constexpr size_t kChunk = 16 << 10;

constexpr size_t kElems = kChunk / 8;

int Src(dtx_task_ctx *ctx) {
  int64_t base = *static_cast<const int64_t *>(dtx_task_args(ctx, nullptr));
  auto *o = static_cast<int64_t *>(dtx_task_output(ctx, kChunk));
  if (o == nullptr) return dtx_task_fail(ctx, "no output");
  for (size_t i = 0; i < kElems; i++) o[i] = base + (int64_t)i;
  return 0;
}
int Sum(dtx_task_ctx *ctx) {
  auto *o = static_cast<int64_t *>(dtx_task_output(ctx, kChunk));
  if (o == nullptr) return dtx_task_fail(ctx, "no output");
  std::memset(o, 0, kChunk);
  for (int k = 0; k < dtx_task_num_inputs(ctx); k++) {
    size_t n = 0;
    auto *in = static_cast<const int64_t *>(dtx_task_input(ctx, k, &n));
    if (n != kChunk) return dtx_task_fail(ctx, "input %d has %zu bytes", k, n);
    for (size_t i = 0; i < kElems; i++) o[i] += in[i];
  }
  return 0;
}

dtx_task_id Add(dtx_graph *g, const char *name, int64_t idx, dtx_task_fn fn, std::vector<dtx_task_id> ins,
                int where, int64_t arg = 0) {
  dtx_task_desc t{};
  t.name = name;
  t.nidx = 1;
  t.idx[0] = idx;
  t.args = &arg;
  t.args_size = sizeof arg;
  t.cpu = fn;
  t.cuda = fn;
  t.where = where;
  t.inputs = ins.data();
  t.ninputs = (int)ins.size();
  dtx_task_id id = 0;
  EXPECT_EQ(dtx_graph_add(g, &t, &id), DTX_OK) << dtx_last_error();
  return id;
}

// Layers of sums over 3 GPUs: chains (run ahead), fan-in across GPUs (peer
// moves), one output read on two other GPUs by placement (a broadcast), and
// enough bytes to spill under the limit set by the caller. Checks the values
// against the same sums done here.
void ComputeMix(dtx_cluster *cl, int64_t seed) {
  GraphPtr g = MakeGraph();
  const int width = 12, depth = 5;
  std::vector<dtx_task_id> prev;
  std::vector<std::vector<int64_t>> ref(width, std::vector<int64_t>(kElems));
  for (int i = 0; i < width; i++) {
    prev.push_back(Add(g.get(), "src", i, Src, {}, DTX_WHERE_GPU(i % 3), seed + i));
    for (size_t e = 0; e < kElems; e++) ref[i][e] = seed + i + (int64_t)e;
  }
  for (int l = 1; l < depth; l++) {
    std::vector<dtx_task_id> cur;
    std::vector<std::vector<int64_t>> next = ref;
    for (int i = 0; i < width; i++) {
      std::vector<dtx_task_id> ins = {prev[i]};
      if (l % 2 == 0) {
        ins.push_back(prev[(i + 1) % width]);
        for (size_t e = 0; e < kElems; e++) next[i][e] += ref[(i + 1) % width][e];
      }
      cur.push_back(Add(g.get(), ("sum" + std::to_string(l)).c_str(), i, Sum, ins, DTX_WHERE_ANY));
    }
    prev = cur;
    ref = next;
  }

  // A copy of prev[0] made on GPU 0 and read on GPUs 1 and 2: a broadcast.
  std::vector<dtx_task_id> outs = prev;
  dtx_task_id root = Add(g.get(), "bcroot", 0, Sum, {prev[0]}, DTX_WHERE_GPU(0));
  for (int d = 1; d < 3; d++) {
    outs.push_back(Add(g.get(), "bc", d, Sum, {root}, DTX_WHERE_GPU(d)));
    ref.push_back(ref[0]);
  }
  std::vector<dtx_chunk *> res(outs.size(), nullptr);
  ASSERT_EQ(dtx_compute(cl, g.get(), outs.data(), (int)outs.size(), res.data(), nullptr), DTX_OK)
      << dtx_last_error();
  for (size_t k = 0; k < res.size(); k++) {
    ASSERT_NE(res[k], nullptr);
    ASSERT_EQ(dtx_chunk_size(res[k]), kChunk) << k;
    EXPECT_EQ(std::memcmp(dtx_chunk_data(res[k]), ref[k].data(), kChunk), 0) << "output " << k;
    dtx_chunk_release(res[k]);
  }
}

TEST(GpuCheck, ConsistentAfterAndDuringComputations) {
  ScopedEnv lim("DTX_DEVICE_MEMORY_LIMIT", "200KiB");
  ClusterPtr cl = SimCluster(3);
  ASSERT_NE(cl, nullptr);
  EXPECT_EQ(Check(cl.get()), "") << "a fresh executor";
  std::atomic<bool> stop{false};
  std::atomic<int> checks{0};
  std::string first_bad;
  std::thread checker([&] {
    while (!stop.load()) {
      std::string why = Check(cl.get());
      if (!why.empty() && first_bad.empty()) first_bad = why;
      checks++;
    }
  });
  for (int k = 0; k < 6 / (dtxt::kSanitized ? 2 : 1); k++) {
    ComputeMix(cl.get(), 100 * k);
    EXPECT_EQ(Check(cl.get()), "") << "after computation " << k;
  }
  stop = true;
  checker.join();
  EXPECT_EQ(first_bad, "") << "the accounting broke while computations ran";
  EXPECT_GT(checks.load(), 0);
  int64_t spills = 0, broadcasts = 0;
  for (int d = 0; d < 3; d++) {
    dtx_device_stats st = DTX_DEVICE_STATS_INIT;
    ASSERT_EQ(dtx_cluster_get_device_stats(cl.get(), d, &st), DTX_OK);
    EXPECT_EQ(st.bytes_in_use, 0) << "gpu " << d << ": every copy given back";
    spills += st.spills;
    broadcasts += st.broadcasts;
  }
  EXPECT_GT(spills, 0) << "the limit made it spill";
  EXPECT_GT(broadcasts, 0) << "an output went to two GPUs at once";
}

TEST(GpuCheck, UsedOffTheBooksIsReported) {
  ClusterPtr cl = SimCluster(2);
  ASSERT_NE(cl, nullptr);
  void *c = gct_copy_new(cl.get(), 1, 4096, 0);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Check(cl.get()), "") << "an unpinned copy in the LRU, its bytes used";
  gct_add_used(cl.get(), 1, 100);
  std::string why = Check(cl.get());
  EXPECT_NE(why.find("gpu 1: used 4196 != reserved 0 + copies 4096 + kept 0"), std::string::npos) << why;
  gct_add_used(cl.get(), 1, -100);
  EXPECT_EQ(Check(cl.get()), "");
  gct_add_used(cl.get(), 1, -5000);
  EXPECT_NE(Check(cl.get()).find("negative memory counter"), std::string::npos);
  gct_add_used(cl.get(), 1, 5000);
  gct_copy_free(cl.get(), c, 1);
  EXPECT_EQ(Check(cl.get()), "");
}

TEST(GpuCheck, PastTheLimitIsReported) {
  ClusterPtr cl = SimCluster(1);
  ASSERT_NE(cl, nullptr);
  void *c = gct_copy_new(cl.get(), 0, 4096, 0);
  int64_t old = gct_set_limit(cl.get(), 0, 4096);
  EXPECT_EQ(Check(cl.get()), "") << "at the limit is fine";
  gct_set_limit(cl.get(), 0, 4095);
  EXPECT_NE(Check(cl.get()).find("used 4096 bytes, past its limit of 4095"), std::string::npos);
  gct_set_limit(cl.get(), 0, old);
  gct_copy_free(cl.get(), c, 0);
  EXPECT_EQ(Check(cl.get()), "");
}

TEST(GpuCheck, LruFlagsLinksAndResidencyAreChecked) {
  ClusterPtr cl = SimCluster(2);
  ASSERT_NE(cl, nullptr);
  void *a = gct_copy_new(cl.get(), 0, 1000, 0);
  void *b = gct_copy_new(cl.get(), 0, 2000, 0);
  void *p = gct_copy_new(cl.get(), 0, 3000, 1); /* pinned: not in the LRU */
  gct_add_inflight(cl.get(), 0, 1);             /* a job holds the pin */
  EXPECT_EQ(Check(cl.get()), "");

  gct_flip_in_lru(cl.get(), a, 0);
  EXPECT_NE(Check(cl.get()).find("is not flagged in_lru"), std::string::npos);
  gct_flip_in_lru(cl.get(), a, 0);
  gct_flip_in_lru(cl.get(), p, 0); /* flagged, but not on the list */
  EXPECT_NE(Check(cl.get()).find("pinned 1 times is in the LRU"), std::string::npos);
  gct_flip_in_lru(cl.get(), p, 0);
  gct_swap_lru_ends(cl.get(), 0);
  EXPECT_NE(Check(cl.get()).find("prev link broken"), std::string::npos);
  gct_swap_lru_ends(cl.get(), 0);
  gct_flip_resident(cl.get(), b, 0);
  EXPECT_NE(Check(cl.get()).find("has device memory but its resident bit is clear"), std::string::npos);
  gct_flip_resident(cl.get(), b, 0);
  gct_flip_resident(cl.get(), b, 1);
  EXPECT_NE(Check(cl.get()).find("gpu 1: a copy has no device memory but its resident bit is set"),
            std::string::npos);
  gct_flip_resident(cl.get(), b, 1);
  EXPECT_EQ(Check(cl.get()), "");

  // Pins move copies on and off the LRU the proper way: still consistent.
  gct_copy_pin(cl.get(), a, 0);
  gct_copy_unpin(cl.get(), p, 0);
  EXPECT_EQ(Check(cl.get()), "");
  gct_add_inflight(cl.get(), 0, -1);
  EXPECT_NE(Check(cl.get()).find("1 copies pinned with no job in flight"), std::string::npos);
  gct_copy_unpin(cl.get(), a, 0);
  EXPECT_EQ(Check(cl.get()), "");
  for (void *c : {a, b, p}) gct_copy_free(cl.get(), c, 0);
  EXPECT_EQ(Check(cl.get()), "");
}

TEST(GpuCheck, ReservationsMustBeGoneWhenIdle) {
  ClusterPtr cl = SimCluster(2);
  ASSERT_NE(cl, nullptr);
  gct_add_inflight(cl.get(), 1, 1);
  gct_charge(cl.get(), 1, 512);
  EXPECT_EQ(Check(cl.get()), "") << "reserved by a job in flight";
  gct_add_inflight(cl.get(), 1, -1);
  EXPECT_NE(Check(cl.get()).find("gpu 1: 512 bytes reserved with no job in flight"), std::string::npos);
  gct_charge(cl.get(), 1, -512);
  EXPECT_EQ(Check(cl.get()), "");
}

TEST(GpuCheck, PersistedChunksAreChecked) {
  ClusterPtr cl = SimCluster(2);
  ASSERT_NE(cl, nullptr);
  void *k1 = gct_kept_new(cl.get(), 1, 8192);
  void *k2 = gct_kept_new(cl.get(), 1, 100);
  EXPECT_EQ(Check(cl.get()), "");
  gct_add_kept(cl.get(), 1, 1);
  EXPECT_NE(Check(cl.get()).find("kept counts 8293 bytes but its persisted chunks hold 8292"),
            std::string::npos);
  gct_add_kept(cl.get(), 1, -1);
  gct_flip_listed(cl.get(), k2);
  EXPECT_NE(Check(cl.get()).find("persisted chunk 1 is not flagged listed"), std::string::npos);
  gct_flip_listed(cl.get(), k2);
  EXPECT_EQ(Check(cl.get()), "");
  gct_kept_free(cl.get(), k1, 1);
  gct_kept_free(cl.get(), k2, 1);
  EXPECT_EQ(Check(cl.get()), "");
}

TEST(GpuCheck, ComputationAbortsOnCorruptionWhenChecking) {
#ifndef DTX_CHECK_INVARIANTS
  GTEST_SKIP() << "built without DTX_CHECK_INVARIANTS: computations do not check";
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        ClusterPtr cl = SimCluster(2);
        gct_add_used(cl.get(), 0, 64);
        GraphPtr g = MakeGraph();
        dtx_task_id s = Add(g.get(), "src", 0, Src, {}, DTX_WHERE_GPU(0));
        dtx_compute(cl.get(), g.get(), &s, 1, nullptr, nullptr);
      },
      "assertion failed: gpu 0: used 64 != reserved 0 \\+ copies 0 \\+ kept 0");
#endif
}

TEST(GpuCheck, NoGpusIsConsistent) {
  char why[8] = "x";
  EXPECT_EQ(dtxi_gpus_check(nullptr, why, sizeof why), 0);
  EXPECT_EQ(why[0], '\0');
}

}  // namespace
