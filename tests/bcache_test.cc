/*
 * tests/bcache_test.cc - the cache of freed large chunk blocks (data/bcache.h)
 * and what rides on it: dtx_task_scratch, and chunks reusing the blocks of
 * freed ones across computations.
 */
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "data/bcache.h"
#include "dtx/dtx.h"
#include "test_util.h"

using namespace dtxt;

namespace {

constexpr size_t kMiB = 1024 * 1024;

TEST(Bcache, GivesBackTheBestFitAndEvictsTheOldestPastTheCap) {
  dtxi_bcache c;
  dtxi_bcache_init(&c, 8 * kMiB);
  size_t got = 0;
  void *a = dtxi_bcache_get(&c, 1 * kMiB, &got);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(got, 1 * kMiB);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 4096, 0u) << "blocks are page-aligned";
  void *b = dtxi_bcache_get(&c, 2 * kMiB, &got);
  void *d = dtxi_bcache_get(&c, 5 * kMiB / 4, &got);
  memset(a, 1, kMiB); /* the memory is real */
  dtxi_bcache_put(&c, a, 1 * kMiB, 1);
  dtxi_bcache_put(&c, b, 2 * kMiB, 1);
  dtxi_bcache_put(&c, d, 5 * kMiB / 4, 1);
  EXPECT_EQ(c.n, 3);
  EXPECT_EQ(c.held, 1 * kMiB + 2 * kMiB + 5 * kMiB / 4);
  /* 1 MiB fits a (exact) and d (a quarter more): the smaller one, a */
  EXPECT_EQ(dtxi_bcache_get(&c, 1 * kMiB, &got), a);
  EXPECT_EQ(got, 1 * kMiB);
  /* 1.5 MiB: b is a third larger, too large; a fresh block */
  void *e = dtxi_bcache_get(&c, 3 * kMiB / 2, &got);
  EXPECT_NE(e, b);
  EXPECT_EQ(got, 3 * kMiB / 2);
  EXPECT_EQ(c.hits, 1);
  EXPECT_EQ(c.misses, 4);
  /* 6 MiB more: past the 8 MiB cap, so b (the oldest) goes, d stays */
  void *f = dtxi_bcache_get(&c, 6 * kMiB, &got);
  dtxi_bcache_put(&c, f, 6 * kMiB, 1);
  EXPECT_EQ(c.n, 2);
  EXPECT_EQ(c.held, 5 * kMiB / 4 + 6 * kMiB);
  /* larger than the cap, or keep 0: freed at once */
  dtxi_bcache_put(&c, e, 3 * kMiB / 2, 0);
  void *g = dtxi_bcache_get(&c, 9 * kMiB, &got);
  dtxi_bcache_put(&c, g, 9 * kMiB, 1);
  dtxi_bcache_put(&c, a, 1 * kMiB, 1); /* d goes to make room */
  EXPECT_EQ(c.n, 2);
  EXPECT_EQ(c.held, 7 * kMiB);
  dtxi_bcache_drain(&c);
  EXPECT_EQ(c.n, 0);
  EXPECT_EQ(c.held, 0u);
  dtxi_bcache_destroy(&c);
}

TEST(Bcache, CapZeroHoldsNothing) {
  dtxi_bcache c;
  dtxi_bcache_init(&c, 0);
  size_t got = 0;
  void *a = dtxi_bcache_get(&c, kMiB, &got);
  dtxi_bcache_put(&c, a, got, 1);
  EXPECT_EQ(c.n, 0);
  dtxi_bcache_destroy(&c);
}

/* A task that writes a pattern into DTX_TASK_SCRATCH scratch buffers, checks
 * one more is refused, and outputs the first buffer's address and a checksum. */
int UseScratch(dtx_task_ctx *ctx) {
  size_t bytes = Arg<size_t>(ctx);
  uint64_t sum = 0;
  uintptr_t first = 0;
  for (int i = 0; i < DTX_TASK_SCRATCH; i++) {
    auto *p = static_cast<uint64_t *>(dtx_task_scratch(ctx, bytes));
    if (p == nullptr) return dtx_task_fail(ctx, "scratch %d refused", i);
    if (reinterpret_cast<uintptr_t>(p) % 64 != 0) return dtx_task_fail(ctx, "scratch %d misaligned", i);
    if (i == 0) first = reinterpret_cast<uintptr_t>(p);
    for (size_t k = 0; k < bytes / 8; k++) p[k] = k * (uint64_t)(i + 1);
    for (size_t k = 0; k < bytes / 8; k++) sum += p[k];
  }
  if (dtx_task_scratch(ctx, 8) != nullptr)
    return dtx_task_fail(ctx, "a scratch past DTX_TASK_SCRATCH was given");
  auto *out = static_cast<uint64_t *>(dtx_task_output(ctx, 16));
  if (out == nullptr) return dtx_task_fail(ctx, "no output");
  out[0] = first;
  out[1] = sum;
  return 0;
}

class TaskScratch : public ::testing::TestWithParam<dtx_scheduler> {};

TEST_P(TaskScratch, BuffersAreUsableFreedAfterTheTaskAndReused) {
  ClusterPtr cl = MakeCluster(GetParam(), 2);
  ASSERT_NE(cl, nullptr);
  for (size_t bytes : {size_t{4096}, 3 * kMiB}) {
    SCOPED_TRACE(bytes);
    uint64_t n = bytes / 8, want = 0;
    for (uint64_t i = 1; i <= DTX_TASK_SCRATCH; i++) want += i * (n * (n - 1) / 2);
    std::vector<uint64_t> firsts;
    for (int run = 0; run < 3; run++) {
      GraphPtr g = MakeGraph();
      dtx_task_desc d = Desc("scratch", UseScratch);
      d.args = &bytes;
      d.args_size = sizeof bytes;
      dtx_task_id id = 0;
      ASSERT_EQ(dtx_graph_add(g.get(), &d, &id), DTX_OK) << dtx_last_error();
      Results r(1);
      dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
      o.scheduler = GetParam();
      ASSERT_EQ(dtx_compute(cl.get(), g.get(), &id, 1, r.data(), &o), DTX_OK) << dtx_last_error();
      const auto *v = static_cast<const uint64_t *>(dtx_chunk_data(r[0]));
      EXPECT_EQ(v[1], want);
      firsts.push_back(v[0]);
    }
    /* large scratch buffers come back from the cache on the next run */
    if (bytes >= DTXI_BCACHE_MIN) {
      EXPECT_EQ(firsts[1], firsts[0]);
      EXPECT_EQ(firsts[2], firsts[0]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Schedulers, TaskScratch, ::testing::Values(DTX_SCHED_SYNC, DTX_SCHED_THREADS),
                         [](const ::testing::TestParamInfo<dtx_scheduler> &i) {
                           return std::string(i.param == DTX_SCHED_SYNC ? "sync" : "threads");
                         });

}  // namespace
