/*
 * tests/gpu_reserve_stress_test.cc - device memory reservation under a tight
 * DTX_DEVICE_MEMORY_LIMIT on simulated GPUs, run many times: a task that fits
 * alone in an empty device waits for room, whatever other jobs hold at the
 * moment (inputs in flight, outputs reserved, copies pinned); a task that can
 * never fit fails at once, naming its size and the limit.
 *
 * The race this guards against: a task without an output-size hint reserves
 * the largest output its name made so far; when its output turns out larger
 * (ragged chunks; a name probed again after its learned size was evicted),
 * the rest is reserved while the task runs, and when jobs in flight held
 * that room the task used to fail ("out of memory for a 41x37 chunk") instead
 * of waiting.
 */
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dtx/array.h"
#include "test_util.h"

using namespace dtxt;

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kSlow = 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr int kSlow = 1;
#else
constexpr int kSlow = 0;
#endif
#else
constexpr int kSlow = 0;
#endif

/* Rounds of a stress loop: fewer under the sanitizers (TSan is ~10x slower). */
int Rounds(int n) { return kSlow ? n / 5 : n; }

ClusterPtr Sim2(int64_t limit, int threads, int streams) {
  std::string lim = std::to_string(limit);
  std::string st = std::to_string(streams);
  ScopedEnv env("DTX_STREAMS_PER_GPU", st);
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.scheduler = DTX_SCHED_CLUSTER;
  cfg.num_threads = threads;
  cfg.gpus = "sim:2";
  cfg.device_memory_limit = lim.c_str();
  cfg.log_level = DTX_LOG_NONE;
  dtx_cluster *cl = nullptr;
  EXPECT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  return ClusterPtr(cl);
}

void ExpectIdle(dtx_cluster *cl, int64_t limit) {
  for (int d = 0; d < 2; d++) {
    dtx_device_stats st = DTX_DEVICE_STATS_INIT;
    ASSERT_EQ(dtx_cluster_get_device_stats(cl, d, &st), DTX_OK) << dtx_last_error();
    EXPECT_EQ(st.bytes_limit, limit) << "gpu " << d;
    EXPECT_LE(st.bytes_peak, limit) << "gpu " << d;
    EXPECT_EQ(st.bytes_in_use, 0) << "gpu " << d << ": everything is given back after the run";
  }
}

struct Scope {
  Scope() { dtx_array_scope_begin(); }
  ~Scope() { dtx_array_scope_end(); }
};

std::vector<double> Compute(const dtx_array *a, int64_t n) {
  std::vector<double> v(static_cast<size_t>(n));
  dtx_status rc = dtx_array_compute(a, v.data(), v.size() * sizeof(double));
  EXPECT_EQ(rc, DTX_OK) << dtx_last_error();
  if (rc != DTX_OK) v.clear();
  return v;
}

}  // namespace

/* The case of issue 11: float64 (~150x130) @ (130x170) in small ragged chunks,
 * two simulated GPUs with 150-200 KB each. Every round on a fresh cluster,
 * so the output sizes are learned anew while the chunks' sizes vary. */
TEST(GpuReserveStress, RaggedMatmulUnderATightLimitWaitsForRoom) {
  const int rounds = Rounds(400);
  for (int round = 0; round < rounds; round++) {
    uint64_t seed = 1100 + static_cast<uint64_t>(round);
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    auto pick = [&](int lo, int hi) {
      return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
    };
    int64_t m = pick(120, 160), k = pick(110, 140), n = pick(150, 180);
    int64_t cm = pick(33, 45), ck = pick(30, 40), cn = pick(36, 46);
    int64_t limit = pick(150, 200) * 1000;
    ClusterPtr cl = Sim2(limit, 2, static_cast<int>(pick(2, 4)));
    ASSERT_NE(cl, nullptr);
    Scope sc;
    int64_t sa[2] = {m, k}, ca[2] = {cm, ck}, sb[2] = {k, n}, cb[2] = {ck, cn};
    dtx_array *a = dtx_random_uniform(cl.get(), 2, sa, ca, DTX_F64, seed);
    dtx_array *b = dtx_random_uniform(cl.get(), 2, sb, cb, DTX_F64, seed + 7);
    ASSERT_NE(a, nullptr) << dtx_last_error();
    ASSERT_NE(b, nullptr) << dtx_last_error();
    std::vector<double> av = Compute(a, m * k), bv = Compute(b, k * n);
    ASSERT_FALSE(av.empty());
    ASSERT_FALSE(bv.empty());
    dtx_array *c = dtx_matmul(a, b);
    ASSERT_NE(c, nullptr) << dtx_last_error();
    std::vector<double> cv = Compute(c, m * n);
    ASSERT_FALSE(cv.empty()) << m << "x" << k << " @ " << k << "x" << n << " in " << cm << "x" << ck << " / "
                             << ck << "x" << cn << " chunks, limit " << limit;
    double worst = 0;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int64_t p = 0; p < k; p++)
          s += av[static_cast<size_t>(i * k + p)] * bv[static_cast<size_t>(p * n + j)];
        worst = std::max(worst, std::fabs(s - cv[static_cast<size_t>(i * n + j)]));
      }
    EXPECT_LT(worst, 1e-9);
    ExpectIdle(cl.get(), limit);
  }
}

namespace {

/* A source on the CPU, and GPU tasks of one name with outputs of growing
 * sizes and no hint: each one's output is larger than any its name made
 * before, so each reserves the rest while it runs, while the others hold
 * theirs. */
int Src(dtx_task_ctx *ctx) {
  void *o = dtx_task_output(ctx, 512);
  if (o == nullptr) return dtx_task_fail(ctx, "no output");
  std::memset(o, 1, 512);
  return 0;
}

int Grow(dtx_task_ctx *ctx) {
  int64_t bytes = Arg<int64_t>(ctx);
  std::this_thread::sleep_for(std::chrono::microseconds(200));
  auto *o = static_cast<unsigned char *>(dtx_task_output(ctx, static_cast<size_t>(bytes)));
  if (o == nullptr) return dtx_task_fail(ctx, "out of memory for %lld bytes", static_cast<long long>(bytes));
  std::memset(o, static_cast<int>(bytes & 0xff), static_cast<size_t>(bytes));
  return 0;
}

}  // namespace

TEST(GpuReserveStress, OutputsLargerThanLearnedWaitForRoomInsteadOfFailing) {
  const int rounds = Rounds(400);
  for (int round = 0; round < rounds; round++) {
    uint64_t seed = 2200 + static_cast<uint64_t>(round);
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int64_t limit = (150 + static_cast<int64_t>(rng() % 51)) * 1000;
    ClusterPtr cl = Sim2(limit, 2, 4);
    ASSERT_NE(cl, nullptr);
    GraphPtr g = MakeGraph();
    dtx_task_desc s = Desc("src", Src);
    s.where = DTX_WHERE_CPU;
    dtx_task_id sid;
    ASSERT_EQ(dtx_graph_add(g.get(), &s, &sid), DTX_OK) << dtx_last_error();
    std::vector<dtx_task_id> outs;
    std::vector<int64_t> sizes;
    int ntasks = 12 + static_cast<int>(rng() % 12);
    for (int i = 0; i < ntasks; i++) {
      /* 20-60% of the limit: two or three fit at once, never all */
      int64_t bytes = limit / 5 + static_cast<int64_t>(rng() % static_cast<uint64_t>(limit * 2 / 5));
      sizes.push_back(bytes);
      dtx_task_desc t = Desc("grow", Grow, {i});
      t.cuda = Grow;
      t.args = &sizes.back();
      t.args_size = sizeof(int64_t);
      t.inputs = &sid;
      t.ninputs = 1;
      dtx_task_id id;
      ASSERT_EQ(dtx_graph_add(g.get(), &t, &id), DTX_OK) << dtx_last_error();
      outs.push_back(id);
    }
    dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
    o.scheduler = DTX_SCHED_CLUSTER;
    Results res(outs.size());
    ASSERT_EQ(dtx_compute(cl.get(), g.get(), outs.data(), static_cast<int>(outs.size()), res.data(), &o),
              DTX_OK)
        << dtx_last_error();
    for (size_t i = 0; i < outs.size(); i++) {
      ASSERT_EQ(dtx_chunk_size(res[i]), static_cast<size_t>(sizes[i])) << "grow[" << i << "]";
      const auto *p = static_cast<const unsigned char *>(dtx_chunk_data(res[i]));
      EXPECT_EQ(p[0], static_cast<unsigned char>(sizes[i] & 0xff));
      EXPECT_EQ(p[sizes[i] - 1], static_cast<unsigned char>(sizes[i] & 0xff));
    }
    ExpectIdle(cl.get(), limit);
  }
}

namespace {

/* A GPU reader of a grow output: 16 bytes, its input's size and last byte
 * (run ahead behind its producer when it is the last input to finish). */
int Peek(dtx_task_ctx *ctx) {
  size_t n = 0;
  const auto *in = static_cast<const unsigned char *>(dtx_task_input(ctx, 0, &n));
  if (in == nullptr) return dtx_task_fail(ctx, "no input");
  auto *o = static_cast<int64_t *>(dtx_task_output(ctx, 2 * sizeof(int64_t)));
  if (o == nullptr) return dtx_task_fail(ctx, "no output");
  o[0] = static_cast<int64_t>(n);
  o[1] = n > 0 ? in[n - 1] : -1;
  return 0;
}

/* Its input, copied. */
int Copy(dtx_task_ctx *ctx) {
  size_t n = 0;
  const void *in = dtx_task_input(ctx, 0, &n);
  if (in == nullptr) return dtx_task_fail(ctx, "no input");
  void *o = dtx_task_output(ctx, n);
  if (o == nullptr) return dtx_task_fail(ctx, "no output");
  std::memcpy(o, in, n);
  return 0;
}

}  // namespace

/* The same with chains of GPU readers behind each growing output: on
 * simulated GPUs they are enqueued behind it before it runs, so when it has
 * to be dispatched again they wait for it again too. */
TEST(GpuReserveStress, ReadersRunAheadOfAnOutgrownOutputWaitForItToo) {
  const int rounds = Rounds(300);
  for (int round = 0; round < rounds; round++) {
    uint64_t seed = 3300 + static_cast<uint64_t>(round);
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int64_t limit = (150 + static_cast<int64_t>(rng() % 51)) * 1000;
    ClusterPtr cl = Sim2(limit, 2, 4);
    ASSERT_NE(cl, nullptr);
    GraphPtr g = MakeGraph();
    dtx_task_desc s = Desc("src", Src);
    s.where = DTX_WHERE_CPU;
    dtx_task_id sid;
    ASSERT_EQ(dtx_graph_add(g.get(), &s, &sid), DTX_OK) << dtx_last_error();
    std::vector<dtx_task_id> outs;
    std::vector<int64_t> sizes;
    int ntasks = 8 + static_cast<int>(rng() % 8);
    sizes.reserve(static_cast<size_t>(ntasks));
    for (int i = 0; i < ntasks; i++) {
      int64_t bytes = limit / 5 + static_cast<int64_t>(rng() % static_cast<uint64_t>(limit * 2 / 5));
      sizes.push_back(bytes);
      dtx_task_desc t = Desc("grow", Grow, {i});
      t.cuda = Grow;
      t.args = &sizes.back();
      t.args_size = sizeof(int64_t);
      t.inputs = &sid;
      t.ninputs = 1;
      dtx_task_id id;
      ASSERT_EQ(dtx_graph_add(g.get(), &t, &id), DTX_OK) << dtx_last_error();
      for (int k = 0; k < 2; k++) { /* peek[i], then copy[i] of it */
        dtx_task_desc p = Desc(k == 0 ? "peek" : "copy", k == 0 ? Peek : Copy, {i});
        p.cuda = p.cpu;
        p.output_size = 2 * sizeof(int64_t); /* (without, its first task would reserve its input's size) */
        p.inputs = &id;
        p.ninputs = 1;
        ASSERT_EQ(dtx_graph_add(g.get(), &p, &id), DTX_OK) << dtx_last_error();
      }
      outs.push_back(id);
    }
    dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
    o.scheduler = DTX_SCHED_CLUSTER;
    Results res(outs.size());
    ASSERT_EQ(dtx_compute(cl.get(), g.get(), outs.data(), static_cast<int>(outs.size()), res.data(), &o),
              DTX_OK)
        << dtx_last_error();
    for (size_t i = 0; i < outs.size(); i++) {
      ASSERT_EQ(dtx_chunk_size(res[i]), 2 * sizeof(int64_t)) << "copy[" << i << "]";
      int64_t got[2];
      std::memcpy(got, dtx_chunk_data(res[i]), sizeof got);
      EXPECT_EQ(got[0], sizes[i]) << "copy[" << i << "]: the size grow[" << i << "] made";
      EXPECT_EQ(got[1], sizes[i] & 0xff) << "copy[" << i << "]: grow[" << i << "]'s last byte";
    }
    ExpectIdle(cl.get(), limit);
  }
}

/* What can never fit still fails at once, with its size and the limit: an
 * output larger than the device, and an output that fits only without its
 * inputs. Each found out while the task runs (its name learned smaller). */
TEST(GpuReserveStress, AnOutputThatCanNeverFitFailsAtOnceNamingItsSize) {
  const int64_t limit = 160000;
  struct Case {
    int64_t in_bytes, out_bytes;
    const char *want;
  } cases[] = {
      {512, 200000, "its 200000-byte output does not fit under gpu"},
      {90000, 100000, "its 100000-byte output and its 90000 bytes of inputs do not fit at once under gpu"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.want);
    ClusterPtr cl = Sim2(limit, 2, 2);
    ASSERT_NE(cl, nullptr);
    GraphPtr g = MakeGraph();
    dtx_task_desc s = Desc("src", Src);
    s.where = DTX_WHERE_CPU;
    dtx_task_id small_src, big_src;
    ASSERT_EQ(dtx_graph_add(g.get(), &s, &small_src), DTX_OK) << dtx_last_error();
    dtx_task_desc bs = Desc("bigsrc", Grow, {0});
    bs.where = DTX_WHERE_CPU;
    bs.args = &c.in_bytes;
    bs.args_size = sizeof(int64_t);
    ASSERT_EQ(dtx_graph_add(g.get(), &bs, &big_src), DTX_OK) << dtx_last_error();
    /* grow[0] teaches the name a small output; grow[1] then outgrows it */
    int64_t small = 1000;
    dtx_task_desc t0 = Desc("grow", Grow, {0});
    t0.cuda = Grow;
    t0.where = DTX_WHERE_GPU(0);
    t0.args = &small;
    t0.args_size = sizeof small;
    t0.inputs = &small_src;
    t0.ninputs = 1;
    dtx_task_id first;
    ASSERT_EQ(dtx_graph_add(g.get(), &t0, &first), DTX_OK) << dtx_last_error();
    dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
    o.scheduler = DTX_SCHED_CLUSTER;
    ASSERT_EQ(dtx_compute(cl.get(), g.get(), &first, 1, nullptr, &o), DTX_OK) << dtx_last_error();
    dtx_task_desc t1 = t0;
    t1.idx[0] = 1;
    t1.args = &c.out_bytes;
    t1.inputs = &big_src;
    dtx_task_id big;
    ASSERT_EQ(dtx_graph_add(g.get(), &t1, &big), DTX_OK) << dtx_last_error();
    auto t_start = std::chrono::steady_clock::now();
    ASSERT_EQ(dtx_compute(cl.get(), g.get(), &big, 1, nullptr, &o), DTX_ETASK);
    std::string err = dtx_last_error();
    EXPECT_LT(std::chrono::steady_clock::now() - t_start, std::chrono::seconds(20))
        << "it failed, not waited";
    EXPECT_NE(err.find("grow[1]"), std::string::npos) << err;
    EXPECT_NE(err.find(c.want), std::string::npos) << err;
    EXPECT_NE(err.find("limit of " + std::to_string(limit) + " bytes"), std::string::npos) << err;
    EXPECT_EQ(err.find("held by data in use"), std::string::npos) << err;
    ExpectIdle(cl.get(), limit);
  }
}
