/*
 * tests/array_spill_test.cc - persisted arrays on CPU threads under the host
 * memory limit (DTX_HOST_MEMORY_LIMIT): their chunks are chunks of the host
 * accounting that spill to disk least recently used first and come back
 * bit-identical when read; computations borrow them in place and a caller
 * gets copies; the limit holds while persisting an array four times its
 * size, and the process's peak resident set stays near it (measured in a
 * child process). Under sync, threads and the cluster scheduler without GPUs.
 */
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "array_util.h"

using namespace dtxa_test;

namespace {

constexpr int64_t kLimit = 1 << 20; /* "1MiB" */

dtxt::ClusterPtr Limited(const Sched &s, const std::string &dir, const char *limit) {
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.scheduler = s.s;
  cfg.num_threads = 2;
  cfg.log_level = DTX_LOG_NONE;
  cfg.gpus = "none";
  cfg.host_memory_limit = limit;
  cfg.spill_dir = dir.c_str();
  dtx_cluster *cl = nullptr;
  EXPECT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  return dtxt::ClusterPtr(cl);
}

dtx_cluster_stats HostStats(dtx_cluster *cl) {
  dtx_cluster_stats s = DTX_CLUSTER_STATS_INIT;
  EXPECT_EQ(dtx_cluster_get_stats(cl, &s), DTX_OK) << dtx_last_error();
  return s;
}

double SumOf(dtx_array *a) {
  double s = 0;
  EXPECT_EQ(dtx_array_compute(dtx_sum(a, nullptr, 0), &s, sizeof s), DTX_OK) << dtx_last_error();
  return s;
}

dtx_index Sl(int64_t start, int64_t stop, int64_t step) { return {DTX_INDEX_SLICE, start, stop, step}; }

/* y = x * 3 + 1 over 32 chunks of 128 KiB (4 MiB: four times the limit). */
struct Field {
  std::vector<int64_t> shape = {1024, 512}, ch = {128, 128};
  Nd x, y;
  explicit Field(const char *seed_name) {
    auto rng = Rng(seed_name);
    x = RandNd(rng, shape, DTX_F64);
    y = x;
    for (double &v : y.v) v = v * 3 + 1;
  }
  dtx_array *Expr(dtx_cluster *cl) const {
    return dtx_binary_scalar(DTX_ADD, dtx_binary_scalar(DTX_MUL, Put(cl, x, ch), 3), 1);
  }
};

/* f's array persisted on an unlimited cluster (*ref) and on a limited one (*p). */
void PersistBoth(const Field &f, dtx_cluster *free_cl, dtx_cluster *cl, dtx_array **ref, dtx_array **p) {
  ASSERT_TRUE(free_cl != nullptr && cl != nullptr);
  ASSERT_EQ(dtx_array_persist(f.Expr(free_cl), nullptr, ref), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtx_array_persist(f.Expr(cl), nullptr, p), DTX_OK) << dtx_last_error();
}

class HostLimit : public ::testing::TestWithParam<Sched> {};

INSTANTIATE_TEST_SUITE_P(Scheds, HostLimit,
                         ::testing::Values(Sched{"sync", DTX_SCHED_SYNC, 0},
                                           Sched{"threads", DTX_SCHED_THREADS, 0},
                                           Sched{"cluster", DTX_SCHED_CLUSTER, 0}),
                         SchedName());

TEST_P(HostLimit, PersistedChunksSpillAndComeBackIdentical) {
  dtxt::TempDir dir;
  Field f("persisted under a host limit");
  auto free_cl = Limited(GetParam(), dir.path, "none");
  auto cl = Limited(GetParam(), dir.path, "1MiB");
  Scope sc;
  dtx_array *ref = nullptr, *p = nullptr;
  ASSERT_NO_FATAL_FAILURE(PersistBoth(f, free_cl.get(), cl.get(), &ref, &p));
  dtx_cluster_stats s = HostStats(cl.get());
  EXPECT_GT(s.spills, 0) << "4 MiB persisted under 1 MiB: chunks went to disk";
  EXPECT_GT(dir.Files(), 0);
  EXPECT_LE(s.bytes_peak, kLimit) << "the limit held while persisting";
  EXPECT_LE(s.bytes_in_use, kLimit);

  EXPECT_TRUE(SameNd(Get(p), f.y, 0)) << "read back bit-identical";
  EXPECT_TRUE(SameNd(Get(ref), f.y, 0));
  double a = SumOf(p), b = SumOf(ref);
  EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << a << " against the unlimited cluster's " << b;
  EXPECT_GT(HostStats(cl.get()).unspills, 0);

  /* reads across chunks, and two regions of p in one program */
  dtx_index ix[2] = {Sl(3, 1000, 7), Sl(5, 500, 3)};
  Nd got = Get(dtx_slice(p, 2, ix));
  ASSERT_EQ(got.shape, (std::vector<int64_t>{143, 165}));
  for (int64_t i = 0; i < 143; i++)
    for (int64_t j = 0; j < 165; j++)
      ASSERT_EQ(got.v[static_cast<size_t>(i * 165 + j)],
                f.y.v[static_cast<size_t>((3 + 7 * i) * 512 + 5 + 3 * j)])
          << i << "," << j;
  dtx_index top = Sl(0, 512, 1), bottom = Sl(512, 1024, 1);
  Nd both = Get(dtx_add(dtx_slice(p, 1, &top), dtx_slice(p, 1, &bottom)));
  for (int64_t k = 0; k < 512 * 512; k++)
    ASSERT_EQ(both.v[static_cast<size_t>(k)],
              f.y.v[static_cast<size_t>(k)] + f.y.v[static_cast<size_t>(k + 512 * 512)])
        << k;
  /* persisted again from the persisted one: its chunks are borrowed, the new ones kept */
  dtx_array *q = nullptr;
  ASSERT_EQ(dtx_array_persist(dtx_binary_scalar(DTX_MUL, p, 2), nullptr, &q), DTX_OK) << dtx_last_error();
  Nd want2 = f.y;
  for (double &v : want2.v) v *= 2;
  EXPECT_TRUE(SameNd(Get(q), want2, 0));
  EXPECT_TRUE(SameNd(Get(p), f.y, 0)) << "p is unchanged";
  EXPECT_LE(HostStats(cl.get()).bytes_peak, kLimit) << "the limit held through every read";
  dtx_array_release(dtx_array_keep(q));
  dtx_array *same = nullptr;
  ASSERT_EQ(dtx_array_persist(p, nullptr, &same), DTX_OK);
  EXPECT_EQ(same, p) << "persisting a persisted array keeps it as it is";
}

/* The chunks a caller asks for (dtx_array_graph + dtx_compute) are copies:
 * they stay valid after the array goes, and the persisted ones still spill. */
TEST_P(HostLimit, ACallerGetsCopiesOfPersistedChunks) {
  dtxt::TempDir dir;
  Field f("a caller's chunks of a persisted array");
  auto cl = Limited(GetParam(), dir.path, "1MiB");
  ASSERT_NE(cl, nullptr);
  dtx_array_scope_begin();
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(f.Expr(cl.get()), nullptr, &p), DTX_OK) << dtx_last_error();
  dtxt::GraphPtr g = dtxt::MakeGraph();
  std::vector<dtx_task_id> ids(32);
  ASSERT_EQ(dtx_array_graph(p, g.get(), ids.data(), ids.size(), nullptr), DTX_OK) << dtx_last_error();
  std::vector<int> pick = {0, 9, 31};
  std::vector<dtx_task_id> want_ids;
  for (int b : pick) want_ids.push_back(ids[static_cast<size_t>(b)]);
  dtxt::Results out(pick.size());
  ASSERT_EQ(
      dtx_compute(cl.get(), g.get(), want_ids.data(), static_cast<int>(pick.size()), out.data(), nullptr),
      DTX_OK)
      << dtx_last_error();
  int64_t spills = HostStats(cl.get()).spills;
  EXPECT_TRUE(SameNd(Get(p), f.y, 0))
      << "reading all of p again spills the chunks the caller holds copies of";
  EXPECT_GT(HostStats(cl.get()).spills, spills);
  dtx_array_scope_end(); /* p goes; the caller's chunks stay */
  for (size_t k = 0; k < pick.size(); k++) {
    int64_t b = pick[k], bi = b / 4, bj = b % 4;
    ASSERT_EQ(dtx_chunk_size(out[k]), static_cast<size_t>(128 * 128 * 8));
    const double *c = static_cast<const double *>(dtx_chunk_data(out[k]));
    for (int64_t i = 0; i < 128; i++)
      for (int64_t j = 0; j < 128; j++)
        ASSERT_EQ(c[i * 128 + j], f.y.v[static_cast<size_t>((bi * 128 + i) * 512 + bj * 128 + j)]) << b;
  }
}

/* A persisted array may outlive its cluster with chunks on disk: releasing
 * it then frees them and removes their files (ASan sees the rest). */
TEST_P(HostLimit, ClusterGoesFirstWithChunksOnDisk) {
  dtxt::TempDir dir;
  Field f("cluster goes first, chunks on disk");
  auto cl = Limited(GetParam(), dir.path, "1MiB");
  ASSERT_NE(cl, nullptr);
  dtx_array *p = nullptr;
  {
    Scope sc;
    ASSERT_EQ(dtx_array_persist(f.Expr(cl.get()), nullptr, &p), DTX_OK) << dtx_last_error();
    p = dtx_array_keep(p);
  }
  ASSERT_GT(dir.Files(), 0);
  cl.reset();
  dtx_array_release(p);
  EXPECT_EQ(dir.Files(), 0) << "the spill files went with the array";
}

/* Four caller threads read the same spilled chunks at once, twice each:
 * tasks of different computations pin one chunk while another reads it
 * back or writes it out (they wait for it), and every sum has the bits of
 * the unlimited cluster's. */
TEST_P(HostLimit, ConcurrentReadersOfSpilledChunks) {
  dtxt::TempDir dir;
  Field f("concurrent readers of spilled chunks");
  auto free_cl = Limited(GetParam(), dir.path, "none");
  auto cl = Limited(GetParam(), dir.path, "1MiB");
  Scope sc;
  dtx_array *ref = nullptr, *p = nullptr;
  ASSERT_NO_FATAL_FAILURE(PersistBoth(f, free_cl.get(), cl.get(), &ref, &p));
  double want = SumOf(ref);
  dtx_array *sums[4];
  for (int k = 0; k < 4; k++) {
    /* a different program each (the sum of p * 1, of p + 0, ...), all over p's chunks */
    sums[k] = dtx_array_keep(
        dtx_sum(k % 2 ? dtx_binary_scalar(DTX_MUL, p, 1) : dtx_binary_scalar(DTX_ADD, p, 0), nullptr, 0));
  }
  std::atomic<int> bad{0};
  std::vector<std::thread> th;
  for (int k = 0; k < 4; k++)
    th.emplace_back([&, k] {
      for (int r = 0; r < 2; r++) {
        double got = 0;
        if (dtx_array_compute(sums[k], &got, sizeof got) != DTX_OK ||
            std::memcmp(&got, &want, sizeof got) != 0)
          bad++;
      }
    });
  for (auto &t : th) t.join();
  for (auto *a : sums) dtx_array_release(a);
  EXPECT_EQ(bad.load(), 0) << "sums that failed or differ from the unlimited cluster's";
  dtx_cluster_stats st = HostStats(cl.get());
  EXPECT_GT(st.unspills, 0);
  EXPECT_LE(st.bytes_peak, kLimit);
}

/* Peak resident set of a child that persists `mb` MB in 1 MiB chunks under
 * `limit` and sums it; the sum's bits in *sum. -1 when the child failed. */
double ChildPeakMb(const char *limit, int64_t mb, const std::string &dir, double *sum) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    auto cl = Limited(Sched{"threads", DTX_SCHED_THREADS, 0}, dir, limit);
    double s = -1;
    if (cl != nullptr) {
      dtx_array_scope_begin();
      int64_t shape[2] = {mb * 128, 1024}, ch[2] = {128, 1024};
      dtx_array *p = nullptr;
      if (dtx_array_persist(dtx_random_uniform(cl.get(), 2, shape, ch, DTX_F64, 11), nullptr, &p) == DTX_OK)
        dtx_array_compute(dtx_sum(p, nullptr, 0), &s, sizeof s);
      dtx_array_scope_end();
    }
    ssize_t w = write(fds[1], &s, sizeof s);
    _exit(w == sizeof s ? 0 : 1);
  }
  close(fds[1]);
  ssize_t r = pid > 0 ? read(fds[0], sum, sizeof *sum) : -1;
  close(fds[0]);
  int status = 0;
  if (pid <= 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
      r != sizeof *sum)
    return -1;
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru); /* the largest of the children waited for */
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

/* 192 MB persisted under a 32 MB limit: the child's peak resident set stays
 * within the limit plus what the process holds anyway (its code, the block
 * cache's eighth of the limit, a chunk per worker), and the sum is the one
 * an unlimited child gets, bit for bit. Run without limit last (getrusage
 * reports the largest child so far), which must pass 192 MB: the test sees
 * the difference the limit makes. */
TEST(HostLimitRss, PeakResidentSetStaysNearTheLimit) {
  if (dtxt::kSanitized)
    GTEST_SKIP() << "a sanitizer's shadow memory and quarantine make the resident set meaningless";
  dtxt::TempDir dir;
  double limited_sum = 0, free_sum = 0;
  double limited = ChildPeakMb("32MB", 192, dir.path, &limited_sum);
  ASSERT_GT(limited, 0) << "the limited child failed";
  printf("peak resident set: %.1f MB persisting 192 MiB under a 32 MB limit\n", limited);
  EXPECT_LE(limited, 32 + 16) << "MB resident at peak";
  EXPECT_EQ(dir.Files(), 0) << "the child's spill files went with its array";
  double unlimited = ChildPeakMb("none", 192, dir.path, &free_sum);
  ASSERT_GT(unlimited, 0) << "the unlimited child failed";
  printf("peak resident set: %.1f MB without a limit\n", unlimited);
  EXPECT_GT(unlimited, 192) << "MB: without a limit the whole array is resident";
  EXPECT_EQ(std::memcmp(&limited_sum, &free_sum, sizeof free_sum), 0) << limited_sum << " vs " << free_sum;
}

}  // namespace
