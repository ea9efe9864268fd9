/*
 * tests/mem_check_test.cc - the host memory invariant checker
 * (data/mem_check.c) passes on sound state, including after real
 * computations that spilled, and names what broke when the state is
 * corrupted on purpose.
 */
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "dtx/dtx.h"

extern "C" {
struct dtxi_mem;
dtxi_mem *mch_make(int64_t limit, int n, size_t size, dtx_chunk **chunks);
int mch_listed(dtx_chunk *c);
int mch_spilled(dtx_chunk *c);
void mch_set_pins(dtx_chunk *c, int pins);
void mch_set_prev(dtx_chunk *c, dtx_chunk *prev);
dtx_chunk *mch_prev(dtx_chunk *c);
void mch_add_used(dtxi_mem *m, int64_t bytes);
void mch_add_unspills(dtxi_mem *m, int64_t n);
int mch_check(dtxi_mem *m, char *why, size_t n);
int mch_check_cluster(dtx_cluster *cl, char *why, size_t n);
void mch_free(dtxi_mem *m, int n, dtx_chunk **chunks);
}

namespace {

constexpr size_t kChunk = 256 << 10; /* spillable (>= 64 KiB) */

struct Mem {
  dtx_chunk *c[4] = {};
  dtxi_mem *m = nullptr;
  Mem() { m = mch_make(int64_t(1) << 40, 4, kChunk, c); }
  ~Mem() {
    if (m != nullptr) mch_free(m, 4, c);
  }
};

std::string Check(dtxi_mem *m) {
  char why[256] = "";
  return mch_check(m, why, sizeof why) ? std::string(why) : std::string();
}

}  // namespace

TEST(MemCheck, SoundStatePasses) {
  Mem mem;
  ASSERT_NE(mem.m, nullptr);
  for (auto *c : mem.c) EXPECT_TRUE(mch_listed(c));
  EXPECT_EQ(Check(mem.m), "");
}

TEST(MemCheck, APinnedChunkOnTheLruIsReported) {
  Mem mem;
  ASSERT_NE(mem.m, nullptr);
  mch_set_pins(mem.c[2], 1);
  EXPECT_NE(Check(mem.m).find("pins"), std::string::npos) << Check(mem.m);
  mch_set_pins(mem.c[2], 0);
  EXPECT_EQ(Check(mem.m), "");
}

TEST(MemCheck, ABrokenLinkIsReported) {
  Mem mem;
  ASSERT_NE(mem.m, nullptr);
  dtx_chunk *prev = mch_prev(mem.c[3]);
  mch_set_prev(mem.c[3], mem.c[0]);
  EXPECT_NE(Check(mem.m).find("prev link"), std::string::npos) << Check(mem.m);
  mch_set_prev(mem.c[3], prev);
  EXPECT_EQ(Check(mem.m), "");
}

TEST(MemCheck, UsedBelowTheListedBytesIsReported) {
  Mem mem;
  ASSERT_NE(mem.m, nullptr);
  mch_add_used(mem.m, -int64_t(3 * kChunk));
  EXPECT_NE(Check(mem.m).find("used counts"), std::string::npos) << Check(mem.m);
  mch_add_used(mem.m, int64_t(3 * kChunk));
  EXPECT_EQ(Check(mem.m), "");
}

TEST(MemCheck, MoreReadBacksThanSpillsIsReported) {
  Mem mem;
  ASSERT_NE(mem.m, nullptr);
  mch_add_unspills(mem.m, 1);
  EXPECT_NE(Check(mem.m).find("read back"), std::string::npos) << Check(mem.m);
  mch_add_unspills(mem.m, -1);
  EXPECT_EQ(Check(mem.m), "");
}

/* A real computation past the host limit spills and reads back; the state it
 * leaves behind is sound. */
static int make(dtx_task_ctx *ctx) {
  const int *i = static_cast<const int *>(dtx_task_args(ctx, nullptr));
  double *out = static_cast<double *>(dtx_task_output(ctx, kChunk));
  if (out == nullptr) return dtx_task_fail(ctx, "out of memory");
  for (size_t k = 0; k < kChunk / sizeof(double); k++) out[k] = *i + double(k);
  return 0;
}
static int total(dtx_task_ctx *ctx) {
  double s = 0;
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) {
    size_t n = 0;
    const double *x = static_cast<const double *>(dtx_task_input(ctx, i, &n));
    for (size_t k = 0; k < n / sizeof(double); k++) s += x[k];
  }
  double *out = static_cast<double *>(dtx_task_output(ctx, sizeof s));
  if (out == nullptr) return dtx_task_fail(ctx, "out of memory");
  *out = s;
  return 0;
}

TEST(MemCheck, StateAfterAComputationThatSpilledIsSound) {
  char dir[] = "/tmp/dtx-memcheck-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.num_threads = 2;
  cfg.scheduler = DTX_SCHED_THREADS;
  cfg.host_memory_limit = "1MB";
  cfg.spill_dir = dir;
  dtx_cluster *cl = nullptr;
  ASSERT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  dtx_graph *g = nullptr;
  ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
  const int n = 16; /* 4 MiB of chunks through a 1 MB limit */
  std::vector<dtx_task_id> ids(n);
  static int args[n];
  for (int i = 0; i < n; i++) {
    args[i] = i;
    dtx_task_desc d = {};
    d.name = "make";
    d.nidx = 1;
    d.idx[0] = i;
    d.cpu = make;
    d.args = &args[i];
    d.args_size = sizeof args[i];
    ASSERT_EQ(dtx_graph_add(g, &d, &ids[i]), DTX_OK) << dtx_last_error();
  }
  dtx_task_desc d = {};
  d.name = "total";
  d.cpu = total;
  d.inputs = ids.data();
  d.ninputs = n;
  dtx_task_id sum;
  ASSERT_EQ(dtx_graph_add(g, &d, &sum), DTX_OK) << dtx_last_error();
  dtx_chunk *out = nullptr;
  ASSERT_EQ(dtx_compute(cl, g, &sum, 1, &out, nullptr), DTX_OK) << dtx_last_error();
  dtx_cluster_stats st = DTX_CLUSTER_STATS_INIT;
  ASSERT_EQ(dtx_cluster_get_stats(cl, &st), DTX_OK);
  EXPECT_GT(st.spills, 0) << "the computation was meant to spill";
  char why[256] = "";
  EXPECT_EQ(mch_check_cluster(cl, why, sizeof why), 0) << why;
  dtx_chunk_release(out);
  dtx_graph_destroy(g);
  dtx_cluster_destroy(cl);
  rmdir(dir);
}
