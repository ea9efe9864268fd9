// tests/gpu_place_test.cc - the GPU executor's choices (scheduler/gpu/place.h)
// on made-up link tables, queues and learned costs.
//
// Owner computes picks the GPU holding most of a task's input bytes; else the
// earliest finish weighs each GPU's queue end against moving the inputs it
// lacks over the link table (cheapest copy, host or peer); a `where` wins
// over both. For tasks with CPU and CUDA implementations, the side that
// finishes first by the learned durations (base/costcache.h) plus moving the
// inputs there is taken, and a side never measured is explored.
#include "scheduler/gpu/place.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "base/costcache.h"
#include "dtx/graph.h"

namespace {

constexpr size_t kMB = 1000 * 1000;
constexpr int kHost = DTXI_HOST;

// A link table for ndev GPUs: every link `gbps` unless set otherwise.
dtxi_links Links(int ndev, double gbps) {
  dtxi_links l;
  std::memset(&l, 0, sizeof l);
  l.ndev = ndev;
  for (int a = kHost; a < ndev; a++)
    for (int b = kHost; b < ndev; b++)
      if (a != b) l.gbps[DTXI_LINK_INDEX(a)][DTXI_LINK_INDEX(b)] = gbps;
  return l;
}
void SetLink(dtxi_links *l, int from, int to, double gbps) {
  l->gbps[DTXI_LINK_INDEX(from)][DTXI_LINK_INDEX(to)] = gbps;
}

dtxi_place_input OnGpus(size_t bytes, uint32_t mask) { return dtxi_place_input{bytes, mask, 0}; }
dtxi_place_input OnHost(size_t bytes) { return dtxi_place_input{bytes, 0, 1}; }

TEST(GpuPlace, OwnerComputesPicksTheGpuWithMostInputBytes) {
  dtxi_links l = Links(3, 10);
  dtxi_place_dev dev[3] = {{0, 0}, {0, 0}, {1000000000, 50}}; /* gpu 2 is very busy */
  dtxi_place_input in[3] = {OnGpus(100, 1u << 2), OnGpus(50, 1u << 1), OnHost(30)};
  EXPECT_EQ(dtxi_place_owner(3, in, 3), 2) << "100 of 180 bytes are on gpu 2";
  EXPECT_EQ(dtxi_place_choose(&l, 3, dev, DTX_WHERE_ANY, in, 3), 2) << "owner computes, however busy it is";
  // A copy on two GPUs counts for both: gpu 1 holds 150 bytes now.
  in[0].resident |= 1u << 1;
  EXPECT_EQ(dtxi_place_owner(3, in, 3), 1);
  // Less than half of the bytes on any one GPU: nobody owns it.
  dtxi_place_input spread[3] = {OnGpus(80, 1u << 2), OnGpus(50, 1u << 1), OnHost(51)};
  EXPECT_EQ(dtxi_place_owner(3, spread, 3), -1) << "80 of 181 bytes";
  spread[2].bytes = 30;
  EXPECT_EQ(dtxi_place_owner(3, spread, 3), 2) << "80 of 160 bytes: half is enough";
  dtxi_place_input none[2] = {OnHost(10), OnGpus(0, 1u)};
  EXPECT_EQ(dtxi_place_owner(3, none, 2), -1) << "an empty copy owns nothing";
  EXPECT_EQ(dtxi_place_owner(3, none, 0), -1) << "no inputs";
}

TEST(GpuPlace, EarliestFinishWeighsQueueAndTransfer) {
  dtxi_links l = Links(2, 10);
  SetLink(&l, kHost, 0, 1);  /* 1 MB: 1e6 ns to gpu 0 */
  SetLink(&l, kHost, 1, 10); /* 1 MB: 1e5 ns to gpu 1 */
  dtxi_place_input in[1] = {OnHost(kMB)};
  EXPECT_DOUBLE_EQ(dtxi_place_move_cost(&l, 2, &in[0], 0), 1e6);
  EXPECT_DOUBLE_EQ(dtxi_place_move_cost(&l, 2, &in[0], 1), 1e5);
  dtxi_place_dev dev[2] = {{0, 0}, {500000, 0}};
  EXPECT_EQ(dtxi_place_choose(&l, 2, dev, DTX_WHERE_ANY, in, 1), 1) << "queue 5e5 + move 1e5 < move 1e6";
  dev[1].queued_ns = 2000000;
  EXPECT_EQ(dtxi_place_choose(&l, 2, dev, DTX_WHERE_ANY, in, 1), 0) << "queue 2e6 + move 1e5 > move 1e6";
  // Without inputs to move, the shorter queue wins.
  EXPECT_EQ(dtxi_place_earliest(&l, 2, dev, in, 0), 0);
}

TEST(GpuPlace, MovesTakeTheCheapestCopy) {
  dtxi_links l = Links(3, 1);
  SetLink(&l, 2, 0, 20); /* a fast peer link gpu 2 -> gpu 0 */
  SetLink(&l, kHost, 1, 4);
  // Held by gpu 2 only (2 MB, 40% of the task's bytes): no owner.
  dtxi_place_input in[2] = {OnGpus(2 * kMB, 1u << 2), OnHost(3 * kMB)};
  EXPECT_DOUBLE_EQ(dtxi_place_move_cost(&l, 3, &in[0], 2), 0) << "already there";
  EXPECT_DOUBLE_EQ(dtxi_place_move_cost(&l, 3, &in[0], 0), 1e5) << "peer 2 -> 0 at 20 GB/s";
  EXPECT_DOUBLE_EQ(dtxi_place_move_cost(&l, 3, &in[0], 1), 2e6) << "peer 2 -> 1 at 1 GB/s; no host copy";
  in[0].host = 1;
  EXPECT_DOUBLE_EQ(dtxi_place_move_cost(&l, 3, &in[0], 1), 5e5) << "the host copy is cheaper: 4 GB/s";
  in[0].host = 0;
  EXPECT_DOUBLE_EQ(dtxi_place_move_cost(&l, 3, &in[1], 0), 3e6);
  // gpu 0: 1e5 + 3e6; gpu 1: 2e6 + 7.5e5; gpu 2: 0 + 3e6 -> gpu 1, unless it is busy.
  dtxi_place_dev dev[3] = {{0, 0}, {0, 0}, {0, 0}};
  EXPECT_EQ(dtxi_place_choose(&l, 3, dev, DTX_WHERE_ANY, in, 2), 1);
  dev[1].queued_ns = 400000;
  EXPECT_EQ(dtxi_place_choose(&l, 3, dev, DTX_WHERE_ANY, in, 2), 2) << "2.75e6 + 4e5 > 3e6";
  // A link never measured (or failed) prices its move at 0.
  SetLink(&l, kHost, 0, 0);
  EXPECT_DOUBLE_EQ(dtxi_place_move_cost(&l, 3, &in[1], 0), 0);
  EXPECT_DOUBLE_EQ(dtxi_place_move_cost(&l, 3, &in[1], 1), 7.5e5);
}

TEST(GpuPlace, TiesGoToTheLeastBusyThenTheFirst) {
  dtxi_links l = Links(3, 10);
  dtxi_place_input in[1] = {OnHost(kMB)};
  dtxi_place_dev dev[3] = {{100, 5}, {100, 2}, {100, 2}};
  EXPECT_EQ(dtxi_place_choose(&l, 3, dev, DTX_WHERE_ANY, in, 1), 1);
  dev[0].inflight = 1;
  EXPECT_EQ(dtxi_place_choose(&l, 3, dev, DTX_WHERE_ANY, in, 1), 0);
}

TEST(GpuPlace, WhereWins) {
  dtxi_links l = Links(3, 10);
  dtxi_place_input in[1] = {OnGpus(kMB, 1u << 0)};
  dtxi_place_dev dev[3] = {{0, 0}, {1000000000, 99}, {0, 0}};
  EXPECT_EQ(dtxi_place_choose(&l, 3, dev, DTX_WHERE_ANY, in, 1), 0) << "its input is on gpu 0";
  EXPECT_EQ(dtxi_place_choose(&l, 3, dev, DTX_WHERE_GPU(1), in, 1), 1)
      << "placed by the user on the busy gpu 1";
  EXPECT_EQ(dtxi_place_choose(&l, 3, dev, DTX_WHERE_GPU(2), in, 1), 2);
}

TEST(GpuPlace, PlanBytesComeFromTheLearnedOutputs) {
  EXPECT_EQ(dtxi_place_plan_bytes(0, 3), 0u) << "unknown";
  EXPECT_EQ(dtxi_place_plan_bytes(1001, 3), 3000u) << "1 + 1000 learned, three inputs";
  EXPECT_EQ(dtxi_place_plan_bytes(1001, 0), 1000u) << "a root counts once";
}

// CPU or GPU for a task with both implementations, from durations learned in
// a cost cache (as the executor does) and the cost of moving its inputs.
struct GpuPlaceSide : ::testing::Test {
  dtxi_costcache *c = dtxi_costcache_new(64, 64);
  dtxi_links l = Links(2, 1); /* 1 GB/s: 1 MB moves in 1e6 ns */
  ~GpuPlaceSide() override { dtxi_costcache_free(c); }
  int Decide(const char *name, size_t bytes, double to_host, double to_gpu) {
    return dtxi_place_side(dtxi_costcache_estimate(c, name, 0, bytes),
                           dtxi_costcache_estimate(c, name, 1, bytes), to_host, to_gpu);
  }
};

TEST_F(GpuPlaceSide, FollowsLearnedDurations) {
  dtxi_costcache_learn(c, "mul-1", 0, kMB, 1000);
  dtxi_costcache_learn(c, "mul-1", 1, kMB, 400);
  EXPECT_EQ(Decide("mul-7", kMB, 0, 0), DTXI_PLACE_GPU) << "400 ns on a GPU beats 1000 on a CPU";
  // Faster CPU runs move the estimate: 775, 607, 481, then 386 ns.
  for (int k = 0; k < 3; k++) dtxi_costcache_learn(c, "mul-2", 0, kMB, 100);
  EXPECT_EQ(dtxi_costcache_estimate(c, "mul-3", 0, kMB), 481);
  EXPECT_EQ(Decide("mul-3", kMB, 0, 0), DTXI_PLACE_GPU) << "481 ns still loses to 400";
  dtxi_costcache_learn(c, "mul-2", 0, kMB, 100);
  EXPECT_EQ(dtxi_costcache_estimate(c, "mul-3", 0, kMB), 386);
  EXPECT_EQ(Decide("mul-3", kMB, 0, 0), DTXI_PLACE_CPU) << "386 ns beats 400 now";
  EXPECT_EQ(Decide("mul-3", 200000, 0, 0), DTXI_PLACE_CPU) << "the same size class";
  EXPECT_EQ(Decide("mul-3", 4 * kMB, 0, 0), DTXI_PLACE_CPU) << "another class: both sides scaled alike";
}

TEST_F(GpuPlaceSide, CountsMovingTheInputs) {
  dtxi_costcache_learn(c, "f", 0, kMB, 300000);
  dtxi_costcache_learn(c, "f", 1, kMB, 800000);
  double to_host = 0, to_gpu = 0;
  EXPECT_EQ(Decide("f", kMB, to_host, to_gpu), DTXI_PLACE_CPU);
  // One 1 MB input made on a GPU: 1e6 ns to bring it to the host.
  dtxi_place_price_input(&l, kMB, 1, &to_host, &to_gpu);
  EXPECT_DOUBLE_EQ(to_host, 1e6);
  EXPECT_DOUBLE_EQ(to_gpu, 0);
  EXPECT_EQ(Decide("f", kMB, to_host, to_gpu), DTXI_PLACE_GPU) << "3e5 + 1e6 > 8e5";
  // Two inputs made on the host: 2e6 ns to take them to a GPU.
  dtxi_place_price_input(&l, kMB, 0, &to_host, &to_gpu);
  dtxi_place_price_input(&l, kMB, 0, &to_host, &to_gpu);
  EXPECT_DOUBLE_EQ(to_gpu, 2e6);
  EXPECT_EQ(Decide("f", kMB, to_host, to_gpu), DTXI_PLACE_CPU) << "3e5 + 1e6 < 8e5 + 2e6";
  // Nothing known of an input's size: free to move.
  dtxi_place_price_input(&l, 0, 1, &to_host, &to_gpu);
  EXPECT_DOUBLE_EQ(to_host, 1e6);
}

TEST_F(GpuPlaceSide, AnUnmeasuredSideIsExplored) {
  EXPECT_EQ(Decide("g", kMB, 0, 0), DTXI_PLACE_EXPLORE_CPU) << "never run anywhere: try a CPU first";
  dtxi_costcache_learn(c, "g", 1, kMB, 10);
  EXPECT_EQ(Decide("g", kMB, 0, 0), DTXI_PLACE_EXPLORE_CPU) << "however fast the GPU was";
  dtxi_costcache_learn(c, "h", 0, kMB, 1);
  EXPECT_EQ(Decide("h", kMB, 0, 5e6), DTXI_PLACE_GPU)
      << "never on a GPU: it goes there, however slow the move";
  dtxi_costcache_learn(c, "h", 1, kMB, 1000);
  EXPECT_EQ(Decide("h", kMB, 0, 0), DTXI_PLACE_CPU) << "measured on both now";
}

}  // namespace
