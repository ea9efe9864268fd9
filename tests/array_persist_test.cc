/*
 * tests/array_persist_test.cc - persisted arrays on a cluster with GPUs
 * (simulated, sim:N): chunks stay in device memory between computations,
 * spread block-cyclically or where they are put, are read there without
 * being loaded or recomputed, move when persisted again elsewhere, go back
 * when the array is released, and feed stencils and rechunks across GPUs.
 * Checked with the device counters and against plain loops here.
 */
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "array_util.h"

using namespace dtxa_test;

namespace {

dtxt::ClusterPtr SimCluster(int gpus) {
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.scheduler = DTX_SCHED_CLUSTER;
  cfg.num_threads = 2;
  cfg.log_level = DTX_LOG_NONE;
  std::string g = "sim:" + std::to_string(gpus);
  cfg.gpus = g.c_str();
  dtx_cluster *cl = nullptr;
  EXPECT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  return dtxt::ClusterPtr(cl);
}

dtx_device_stats Stats(dtx_cluster *cl, int k) {
  dtx_device_stats s = DTX_DEVICE_STATS_INIT;
  EXPECT_EQ(dtx_cluster_get_device_stats(cl, k, &s), DTX_OK) << dtx_last_error();
  return s;
}

/* A counter summed over the GPUs. */
int64_t Total(dtx_cluster *cl, int ngpu, int64_t dtx_device_stats::*field) {
  int64_t n = 0;
  for (int k = 0; k < ngpu; k++) n += Stats(cl, k).*field;
  return n;
}

/* x + dt * (5-point periodic Laplacian of x), for a 2-d field. */
Nd PeriodicStep(const Nd &x, double dt) {
  int64_t n = x.shape[0], m = x.shape[1];
  auto at = [&](int64_t a, int64_t b) { return x.v[static_cast<size_t>(((a + n) % n) * m + (b + m) % m)]; };
  Nd r = x;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < m; j++)
      r.v[static_cast<size_t>(i * m + j)] =
          at(i, j) + dt * (at(i - 1, j) + at(i + 1, j) + at(i, j - 1) + at(i, j + 1) - 4 * at(i, j));
  return r;
}

/* Bytes of chunk b (C order of the chunk grid) of a shape in chunks. */
int64_t ChunkBytes(const std::vector<int64_t> &shape, const std::vector<int64_t> &ch, int64_t b, size_t esz) {
  int64_t n = 1;
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; d--) {
    int64_t nb = (shape[d] + ch[d] - 1) / ch[d], i = b % nb;
    b /= nb;
    n *= std::min(ch[d], shape[d] - i * ch[d]);
  }
  return n * static_cast<int64_t>(esz);
}

int64_t Blocks(const std::vector<int64_t> &shape, const std::vector<int64_t> &ch) {
  int64_t n = 1;
  for (size_t d = 0; d < shape.size(); d++) n *= (shape[d] + ch[d] - 1) / ch[d];
  return n;
}

double SumOf(const Nd &x, double mul, double add) {
  double s = 0;
  for (double v : x.v) s += v * mul + add;
  return s;
}

class Persist : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Gpus, Persist, ::testing::Values(1, 2, 3, 4),
                         [](const ::testing::TestParamInfo<int> &i) {
                           return "sim" + std::to_string(i.param);
                         });

/* Block-cyclic by default; loaded from the host once; later computations
 * read the chunks where they are. */
TEST_P(Persist, ChunksStayOnTheirGpus) {
  int ngpu = GetParam();
  auto cl = SimCluster(ngpu);
  ASSERT_NE(cl, nullptr);
  Scope sc;
  std::mt19937_64 rng(7100 + ngpu);
  std::vector<int64_t> shape = {53, 40}, ch = {16, 12};
  Nd x = RandNd(rng, shape, DTX_F64);
  /* read in place from a buffer scribbled over once persisted: later
   * computations must read the kept chunks, not this */
  std::vector<double> host = x.v;
  dtx_array *a = dtx_from_host(cl.get(), 2, shape.data(), ch.data(), DTX_F64, host.data(), DTX_HOST_WRAP);
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(a, nullptr, &p), DTX_OK) << dtx_last_error();
  std::fill(host.begin(), host.end(), -1.0);

  int64_t nb = Blocks(shape, ch);
  std::vector<int64_t> want(static_cast<size_t>(ngpu), 0);
  for (int64_t b = 0; b < nb; b++) want[static_cast<size_t>(b % ngpu)] += ChunkBytes(shape, ch, b, 8);
  std::vector<dtx_device_stats> before;
  for (int k = 0; k < ngpu; k++) {
    dtx_device_stats s = Stats(cl.get(), k);
    EXPECT_EQ(s.bytes_persisted, want[static_cast<size_t>(k)]) << "gpu " << k;
    EXPECT_EQ(s.bytes_in_use, s.bytes_persisted) << "gpu " << k << ": only the persisted chunks are held";
    before.push_back(s);
  }

  /* (p * 2 + 1).sum() twice, and p itself, from the kept chunks (the host
   * buffer holds -1 now: a chunk read from there would show) */
  for (int round = 0; round < 2; round++) {
    double s = 0;
    dtx_array *e = dtx_sum(dtx_binary_scalar(DTX_ADD, dtx_binary_scalar(DTX_MUL, p, 2), 1), nullptr, 0);
    ASSERT_EQ(dtx_array_compute(e, &s, sizeof s), DTX_OK) << dtx_last_error();
    EXPECT_NEAR(s, SumOf(x, 2, 1), 1e-9 * x.v.size());
  }
  EXPECT_TRUE(SameNd(Get(p), x, 0));
  for (int k = 0; k < ngpu; k++) {
    dtx_device_stats s = Stats(cl.get(), k);
    EXPECT_EQ(s.bytes_persisted, want[static_cast<size_t>(k)]) << "gpu " << k;
    /* read in place: from the copy there, or enqueued right behind its source task */
    EXPECT_GT(s.copies_reused + s.run_ahead,
              before[static_cast<size_t>(k)].copies_reused + before[static_cast<size_t>(k)].run_ahead)
        << "gpu " << k;
  }

  /* released: the device memory goes back */
  dtx_array_scope_end();
  dtx_array_scope_begin();
  for (int k = 0; k < ngpu; k++) {
    dtx_device_stats s = Stats(cl.get(), k);
    EXPECT_EQ(s.bytes_persisted, 0) << "gpu " << k;
    EXPECT_EQ(s.bytes_in_use, 0) << "gpu " << k;
  }
}

/* Placed by hand (GPU k, or host memory), then persisted again elsewhere. */
TEST_P(Persist, PlacedAndMoved) {
  int ngpu = GetParam();
  auto cl = SimCluster(ngpu);
  ASSERT_NE(cl, nullptr);
  Scope sc;
  std::vector<int64_t> shape = {30, 21}, ch = {7, 8};
  int64_t nb = Blocks(shape, ch);
  dtx_array *r = dtx_random_normal(cl.get(), 2, shape.data(), ch.data(), DTX_F32, 99);
  ASSERT_NE(r, nullptr) << dtx_last_error();
  Nd want = Get(r);

  std::vector<int> where(static_cast<size_t>(nb));
  std::vector<int64_t> bytes(static_cast<size_t>(ngpu), 0);
  for (int64_t b = 0; b < nb; b++) {
    where[static_cast<size_t>(b)] = b % 5 == 4 ? DTX_WHERE_CPU : DTX_WHERE_GPU(ngpu - 1);
    if (b % 5 != 4) bytes[static_cast<size_t>(ngpu - 1)] += ChunkBytes(shape, ch, b, 4);
  }
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(r, where.data(), &p), DTX_OK) << dtx_last_error();
  for (int k = 0; k < ngpu; k++) EXPECT_EQ(Stats(cl.get(), k).bytes_persisted, bytes[static_cast<size_t>(k)]);
  EXPECT_TRUE(SameNd(Get(p), want, 0));

  /* persisting a persisted array again keeps it as it is */
  dtx_array *same = nullptr;
  ASSERT_EQ(dtx_array_persist(p, nullptr, &same), DTX_OK) << dtx_last_error();
  EXPECT_EQ(same, p);
  for (int k = 0; k < ngpu; k++) EXPECT_EQ(Stats(cl.get(), k).bytes_persisted, bytes[static_cast<size_t>(k)]);

  /* ... or moves a copy of it where asked: every chunk on GPU 0 */
  std::vector<int> all0(static_cast<size_t>(nb), DTX_WHERE_GPU(0));
  dtx_array *q = nullptr;
  ASSERT_EQ(dtx_array_persist(p, all0.data(), &q), DTX_OK) << dtx_last_error();
  int64_t all = static_cast<int64_t>(want.v.size() * 4);
  EXPECT_EQ(Stats(cl.get(), 0).bytes_persisted, all + (ngpu == 1 ? bytes[0] : 0));
  EXPECT_TRUE(SameNd(Get(q), want, 0));
  EXPECT_TRUE(SameNd(Get(p), want, 0));

  /* q goes with the scope; p's chunks stay while a reference holds it */
  dtx_array *hold = dtx_array_retain(p);
  dtx_array_scope_end();
  dtx_array_scope_begin();
  EXPECT_EQ(Stats(cl.get(), ngpu - 1).bytes_persisted, bytes[static_cast<size_t>(ngpu - 1)]);
  if (ngpu > 1) {
    EXPECT_EQ(Stats(cl.get(), 0).bytes_persisted, 0);
  }
  EXPECT_TRUE(SameNd(Get(hold), want, 0));
  dtx_array_release(hold);
  for (int k = 0; k < ngpu; k++) {
    EXPECT_EQ(Stats(cl.get(), k).bytes_persisted, 0) << "gpu " << k;
    EXPECT_EQ(Stats(cl.get(), k).bytes_in_use, 0) << "gpu " << k;
  }
}

/* A 5-point Laplacian over a persisted field whose chunks sit on different
 * GPUs: halos come from the neighbours' GPUs. */
int Laplace(dtx_task_ctx *ctx, const dtx_block *in, int nin, dtx_block *out, const void *) {
  if (nin != 1 || in[0].ndim != 2 || in[0].halo[0] != 1 || in[0].halo[1] != 1)
    return dtx_task_fail(ctx, "unexpected input");
  const double *x = static_cast<const double *>(in[0].data);
  double *o = static_cast<double *>(out->data);
  int64_t s0 = in[0].stride[0];
  for (int64_t i = 0; i < out->shape[0]; i++)
    for (int64_t j = 0; j < out->shape[1]; j++) {
      const double *c = x + (i + 1) * s0 + (j + 1);
      o[i * out->stride[0] + j] = c[-s0] + c[s0] + c[-1] + c[1] - 4 * c[0];
    }
  return 0;
}

TEST_P(Persist, HalosAcrossGpus) {
  int ngpu = GetParam();
  auto cl = SimCluster(ngpu);
  ASSERT_NE(cl, nullptr);
  Scope sc;
  std::mt19937_64 rng(7300 + ngpu);
  int64_t n = 36, m = 27;
  Nd x = RandNd(rng, {n, m}, DTX_F64);
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(Put(cl.get(), x, {9, 9}), nullptr, &p), DTX_OK) << dtx_last_error();
  int64_t peer0 = Total(cl.get(), ngpu, &dtx_device_stats::bytes_peer);
  int64_t depth[2] = {1, 1};
  /* on simulated GPUs the CPU kernel stands in for the CUDA one */
  dtx_array *lap =
      dtx_map_overlap("laplace", Laplace, Laplace, p, depth, DTX_BOUNDARY_PERIODIC, 0, DTX_F64, nullptr, 0);
  ASSERT_NE(lap, nullptr) << dtx_last_error();
  dtx_array *step = nullptr; /* one explicit time step, kept on the GPUs too */
  ASSERT_EQ(dtx_array_persist(dtx_add(p, dtx_binary_scalar(DTX_MUL, lap, 0.1)), nullptr, &step), DTX_OK)
      << dtx_last_error();
  EXPECT_TRUE(SameNd(Get(step), PeriodicStep(x, 0.1), 0, 1e-12));
  int64_t peer = Total(cl.get(), ngpu, &dtx_device_stats::bytes_peer);
  if (ngpu > 1) {
    EXPECT_GT(peer, peer0) << "neighbouring chunks on other GPUs are read from there";
  } else {
    EXPECT_EQ(peer, 0);
  }
}

/* Rechunking a persisted array across GPUs with NCCL send/recv. */
TEST_P(Persist, RechunkOverNccl) {
  int ngpu = GetParam();
  dtxt::ScopedEnv env("DTX_P2P", "nccl");
  auto cl = SimCluster(ngpu);
  ASSERT_NE(cl, nullptr);
  Scope sc;
  std::mt19937_64 rng(7500 + ngpu);
  Nd x = RandNd(rng, {40, 33}, DTX_F64);
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(Put(cl.get(), x, {10, 11}), nullptr, &p), DTX_OK) << dtx_last_error();
  int64_t nccl0 = Total(cl.get(), ngpu, &dtx_device_stats::bytes_nccl);
  int64_t ch[2] = {13, 33};
  dtx_array *q = nullptr;
  ASSERT_EQ(dtx_array_persist(dtx_rechunk(p, ch), nullptr, &q), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtx_array_chunk(q, 0), 13);
  EXPECT_TRUE(SameNd(Get(q), x, 0));
  int64_t nccl = Total(cl.get(), ngpu, &dtx_device_stats::bytes_nccl);
  if (ngpu > 1) {
    EXPECT_GT(nccl, nccl0) << "pieces of the old chunks move between GPUs over NCCL";
  } else {
    EXPECT_EQ(nccl, 0);
  }
}

/* Under a device memory limit, persisted chunks stay and the work around
 * them spills or waits; a failing persist leaves nothing behind. */
TEST(PersistLimits, UnderALimitAndOnFailure) {
  dtxt::ScopedEnv env("DTX_DEVICE_MEMORY_LIMIT", "64KiB");
  auto cl = SimCluster(2);
  ASSERT_NE(cl, nullptr);
  Scope sc;
  std::mt19937_64 rng(7700);
  std::vector<int64_t> shape = {64, 64}, ch = {16, 16}; /* 16 chunks of 2 KiB: 16 KiB per GPU */
  Nd x = RandNd(rng, shape, DTX_F64);
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(Put(cl.get(), x, ch), nullptr, &p), DTX_OK) << dtx_last_error();
  for (int k = 0; k < 2; k++) EXPECT_EQ(Stats(cl.get(), k).bytes_persisted, 16 << 10);
  /* six steps, each persisted and the one before released: twice the
   * persisted data goes through, under the limit */
  dtx_array *cur = dtx_array_retain(p);
  for (int i = 0; i < 6; i++) {
    dtx_array_scope_begin();
    dtx_array *f = nullptr;
    dtx_status rc = dtx_array_persist(dtx_binary_scalar(DTX_ADD, cur, 1), nullptr, &f);
    dtx_array *next = rc == DTX_OK ? dtx_array_retain(f) : nullptr;
    dtx_array_scope_end();
    ASSERT_EQ(rc, DTX_OK) << "step " << i << ": " << dtx_last_error();
    dtx_array_release(cur);
    cur = next;
  }
  Nd want = x;
  for (double &v : want.v) v += 6;
  EXPECT_TRUE(SameNd(Get(cur), want, 1e-15));
  for (int k = 0; k < 2; k++) {
    dtx_device_stats s = Stats(cl.get(), k);
    EXPECT_EQ(s.bytes_persisted, 32 << 10) << "gpu " << k << ": p and the last step";
    EXPECT_LE(s.bytes_peak, 64 << 10) << "gpu " << k;
  }

  /* persisting more than the GPUs hold spills the least recently used kept
   * chunks to host memory; reading them brings them back */
  std::vector<dtx_device_stats> s0v = {Stats(cl.get(), 0), Stats(cl.get(), 1)};
  std::vector<dtx_array *> held;
  for (int i = 0; i < 4; i++) {
    dtx_array *f = nullptr;
    ASSERT_EQ(dtx_array_persist(dtx_binary_scalar(DTX_MUL, cur, i + 2), nullptr, &f), DTX_OK)
        << "array " << i << ": " << dtx_last_error();
    held.push_back(f);
  }
  for (int k = 0; k < 2; k++) {
    dtx_device_stats st = Stats(cl.get(), k);
    EXPECT_GT(st.spills, s0v[static_cast<size_t>(k)].spills) << "gpu " << k;
    EXPECT_LE(st.bytes_persisted, 64 << 10) << "gpu " << k;
    EXPECT_LE(st.bytes_peak, 64 << 10) << "gpu " << k;
  }
  for (int round = 0; round < 2; round++)
    for (size_t i = 0; i < held.size(); i++) {
      Nd w = want;
      for (double &v : w.v) v *= static_cast<double>(i + 2);
      EXPECT_TRUE(SameNd(Get(held[i]), w, 1e-15)) << "array " << i << ", round " << round;
    }
  EXPECT_TRUE(SameNd(Get(p), x, 0));
  for (int k = 0; k < 2; k++) {
    dtx_device_stats st = Stats(cl.get(), k);
    EXPECT_GT(st.unspills, s0v[static_cast<size_t>(k)].unspills)
        << "gpu " << k << ": spilled chunks read back";
    EXPECT_LE(st.bytes_peak, 64 << 10) << "gpu " << k;
  }
  for (dtx_array *h : held) dtx_array_release(dtx_array_keep(h));
  dtx_array_release(cur);

  /* a persist whose computation fails keeps nothing */
  dtx_device_stats s0 = Stats(cl.get(), 0), s1 = Stats(cl.get(), 1);
  auto fail = [](dtx_task_ctx *ctx, const dtx_block *in, int, dtx_block *out, const void *) {
    if (in[0].index[0] == 2 && in[0].index[1] == 1) return dtx_task_fail(ctx, "no good");
    const double *src = static_cast<const double *>(in[0].data);
    double *dst = static_cast<double *>(out->data);
    for (int64_t i = 0; i < out->shape[0]; i++)
      for (int64_t j = 0; j < out->shape[1]; j++)
        dst[i * out->stride[0] + j * out->stride[1]] = src[i * in[0].stride[0] + j * in[0].stride[1]];
    return 0;
  };
  dtx_array *in0 = Put(cl.get(), x, ch);
  dtx_array *bad = dtx_map_blocks("bad", fail, fail, &in0, 1, DTX_F64, nullptr, 0);
  ASSERT_NE(bad, nullptr) << dtx_last_error();
  dtx_array *none = nullptr;
  EXPECT_EQ(dtx_array_persist(bad, nullptr, &none), DTX_ETASK);
  EXPECT_EQ(none, nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("no good"), std::string::npos) << dtx_last_error();
  for (int k = 0; k < 2; k++) {
    dtx_device_stats s = Stats(cl.get(), k);
    EXPECT_EQ(s.bytes_persisted, (k == 0 ? s0 : s1).bytes_persisted) << "gpu " << k;
    EXPECT_EQ(s.bytes_in_use, s.bytes_persisted) << "gpu " << k << ": nothing else held";
  }
}

}  // namespace

namespace {

/* A chunk larger than half the limit persists: keeping reserves nothing. */
TEST(PersistLimits, BigChunksUnderALimit) {
  dtxt::ScopedEnv env("DTX_DEVICE_MEMORY_LIMIT", "64KiB");
  auto cl = SimCluster(1);
  ASSERT_NE(cl, nullptr);
  Scope sc;
  int64_t shape[2] = {80, 128}, ch[2] = {40, 128}; /* two chunks of 40 KiB */
  dtx_array *r = dtx_random_uniform(cl.get(), 2, shape, ch, DTX_F64, 3);
  Nd want = Get(r);
  dtx_array *p = nullptr;
  int where[2] = {DTX_WHERE_GPU(0), DTX_WHERE_CPU};
  ASSERT_EQ(dtx_array_persist(r, where, &p), DTX_OK) << dtx_last_error();
  dtx_device_stats s = Stats(cl.get(), 0);
  /* kept on gpu 0, unless computing chunk 1 there spilled it to make room */
  EXPECT_TRUE(s.bytes_persisted == 40 << 10 || (s.bytes_persisted == 0 && s.spills > 0))
      << s.bytes_persisted << " bytes persisted, " << s.spills << " spills";
  EXPECT_LE(s.bytes_peak, 64 << 10);
  EXPECT_TRUE(SameNd(Get(p), want, 0));
}

/* The cluster may go before a persisted array: it gives the device memory
 * back, and the array's release later frees only its host chunks. */
TEST(PersistLimits, ClusterGoesFirst) {
  auto cl = SimCluster(2);
  ASSERT_NE(cl, nullptr);
  int64_t shape[2] = {20, 20}, ch[2] = {10, 10};
  dtx_array *r = dtx_random_uniform(cl.get(), 2, shape, ch, DTX_F64, 5);
  ASSERT_NE(r, nullptr) << dtx_last_error();
  int where[4] = {DTX_WHERE_GPU(0), DTX_WHERE_CPU, DTX_WHERE_GPU(1), DTX_WHERE_GPU(1)};
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(r, where, &p), DTX_OK) << dtx_last_error();
  EXPECT_EQ(Stats(cl.get(), 1).bytes_persisted, 2 * 800);
  dtx_array *sum = dtx_sum(p, nullptr, 0);
  cl.reset();
  dtx_array_release(sum);
  dtx_array_release(p);
  dtx_array_release(r);
}

}  // namespace

namespace {

/* The time-stepping loop of the README: each step persisted, the one before
 * released; the GPUs hold one field at a time, and the steps are right. */
TEST_P(Persist, TimeStepsKeepOneField) {
  int ngpu = GetParam();
  auto cl = SimCluster(ngpu);
  ASSERT_NE(cl, nullptr);
  Scope sc;
  int64_t n = 24, m = 18, shape[2] = {n, m}, chunks[2] = {8, 6};
  dtx_array *u = nullptr;
  ASSERT_EQ(dtx_array_persist(dtx_random_uniform(cl.get(), 2, shape, chunks, DTX_F64, 1), nullptr, &u),
            DTX_OK)
      << dtx_last_error();
  dtx_array_keep(u);
  Nd ref = Get(u);
  int64_t depth[2] = {1, 1};
  for (int step = 0; step < 4; step++) {
    dtx_array_scope_begin();
    dtx_array *lap =
        dtx_map_overlap("laplace", Laplace, Laplace, u, depth, DTX_BOUNDARY_PERIODIC, 0, DTX_F64, nullptr, 0);
    dtx_array *next = nullptr;
    dtx_status rc = dtx_array_persist(dtx_add(u, dtx_binary_scalar(DTX_MUL, lap, 0.1)), nullptr, &next);
    dtx_array_keep(next);
    dtx_array_scope_end();
    ASSERT_EQ(rc, DTX_OK) << "step " << step << ": " << dtx_last_error();
    dtx_array_release(u);
    u = next;
    EXPECT_EQ(Total(cl.get(), ngpu, &dtx_device_stats::bytes_persisted), n * m * 8)
        << "step " << step << ": one field on the GPUs";
    ref = PeriodicStep(ref, 0.1);
  }
  EXPECT_TRUE(SameNd(Get(u), ref, 1e-12, 1e-12));
  dtx_array_release(u);
  for (int k = 0; k < ngpu; k++) EXPECT_EQ(Stats(cl.get(), k).bytes_persisted, 0) << "gpu " << k;
}

}  // namespace

namespace {
/* Several threads read persisted arrays whose chunks spill and come back. */
TEST(PersistStress, ConcurrentReadsOfSpilledChunks) {
  dtxt::ScopedEnv env("DTX_DEVICE_MEMORY_LIMIT", "64KiB");
  auto cl = SimCluster(2);
  ASSERT_NE(cl, nullptr);
  std::mt19937_64 rng(7701);
  std::vector<int64_t> shape = {64, 64}, ch = {16, 16};
  Nd x = RandNd(rng, shape, DTX_F64);
  std::vector<dtx_array *> held, exprs;
  std::vector<Nd> wants;
  {
    Scope sc;
    dtx_array *p = nullptr;
    ASSERT_EQ(dtx_array_persist(Put(cl.get(), x, ch), nullptr, &p), DTX_OK) << dtx_last_error();
    held.push_back(dtx_array_keep(p));
    for (int i = 0; i < 5; i++) {
      dtx_array *f = nullptr;
      ASSERT_EQ(dtx_array_persist(dtx_binary_scalar(DTX_MUL, p, i + 2), nullptr, &f), DTX_OK)
          << dtx_last_error();
      held.push_back(dtx_array_keep(f));
    }
    for (size_t i = 0; i < held.size(); i++) {
      for (int k = 0; k < 2; k++) {
        exprs.push_back(dtx_array_keep(dtx_binary_scalar(DTX_ADD, held[i], k + 1)));
        Nd w = x;
        for (double &v : w.v) v = v * (i == 0 ? 1.0 : double(i + 1)) + (k + 1);
        wants.push_back(w);
      }
    }
  }
  int nthreads = 4;
  int iters = dtxt::kSanitized ? 6 : 20;
  std::atomic<int> bad{0};
  std::vector<std::thread> th;
  for (int t = 0; t < nthreads; t++)
    th.emplace_back([&, t] {
      for (int it = 0; it < iters; it++) {
        size_t e = (size_t)((t * 7 + it * 3) % (int)exprs.size());
        if (!SameNd(Get(exprs[e]), wants[e], 1e-12)) bad++;
      }
    });
  for (auto &x2 : th) x2.join();
  EXPECT_EQ(bad.load(), 0);
  for (int k = 0; k < 2; k++) {
    dtx_device_stats s = Stats(cl.get(), k);
    EXPECT_GT(s.spills, 0) << "gpu " << k;
    EXPECT_LE(s.bytes_peak, 64 << 10) << "gpu " << k;
    EXPECT_EQ(s.bytes_in_use, s.bytes_persisted) << "gpu " << k;
  }
  for (auto *e : exprs) dtx_array_release(e);
  for (auto *h : held) dtx_array_release(h);
  for (int k = 0; k < 2; k++) {
    dtx_device_stats s = Stats(cl.get(), k);
    EXPECT_EQ(s.bytes_in_use, 0) << "gpu " << k;
    EXPECT_EQ(s.bytes_persisted, 0) << "gpu " << k;
  }
}
}  // namespace
namespace {
/* Thousands of task names later (a new name per array), sizes are still
 * learned and persisting still reserves nothing it does not need. */
TEST(PersistStress, BigChunksAfterManyNames) {
  dtxt::ScopedEnv env("DTX_DEVICE_MEMORY_LIMIT", "64KiB");
  auto cl = SimCluster(1);
  ASSERT_NE(cl, nullptr);
  int steps = dtxt::kSanitized ? 700 : 1500;
  int64_t s1[1] = {16}, c1[1] = {16};
  dtx_array *cur = nullptr;
  {
    Scope sc;
    ASSERT_EQ(dtx_array_persist(dtx_random_uniform(cl.get(), 1, s1, c1, DTX_F64, 1), nullptr, &cur), DTX_OK);
    dtx_array_keep(cur);
  }
  for (int i = 0; i < steps; i++) {
    dtx_array_scope_begin();
    dtx_array *f = nullptr;
    dtx_status rc = dtx_array_persist(dtx_binary_scalar(DTX_ADD, cur, 1), nullptr, &f);
    dtx_array *next = rc == DTX_OK ? dtx_array_retain(f) : nullptr;
    dtx_array_scope_end();
    ASSERT_EQ(rc, DTX_OK) << "step " << i << ": " << dtx_last_error();
    dtx_array_release(cur);
    cur = next;
  }
  dtx_array_release(cur);
  Scope sc;
  int64_t shape[2] = {80, 128}, ch[2] = {40, 128}; /* two chunks of 40 KiB */
  dtx_array *r = dtx_random_uniform(cl.get(), 2, shape, ch, DTX_F64, 3);
  Nd want = Get(r);
  dtx_array *p = nullptr;
  int where[2] = {DTX_WHERE_GPU(0), DTX_WHERE_CPU};
  ASSERT_EQ(dtx_array_persist(r, where, &p), DTX_OK) << dtx_last_error();
  EXPECT_TRUE(SameNd(Get(p), want, 0));
}
}  // namespace
namespace {
TEST(PersistStress, ClusterGoesFirstWithSpilled) {
  dtxt::ScopedEnv env("DTX_DEVICE_MEMORY_LIMIT", "32KiB");
  auto cl = SimCluster(2);
  ASSERT_NE(cl, nullptr);
  Scope sc; /* the expressions go at its end, after the cluster */
  std::mt19937_64 rng(7702);
  std::vector<int64_t> shape = {64, 64}, ch = {16, 16};
  Nd x = RandNd(rng, shape, DTX_F64);
  std::vector<dtx_array *> held;
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(Put(cl.get(), x, ch), nullptr, &p), DTX_OK) << dtx_last_error();
  held.push_back(dtx_array_keep(p));
  for (int i = 0; i < 3; i++) {
    dtx_array *f = nullptr;
    ASSERT_EQ(dtx_array_persist(dtx_binary_scalar(DTX_MUL, p, i + 2), nullptr, &f), DTX_OK)
        << dtx_last_error();
    held.push_back(dtx_array_keep(f));
  }
  EXPECT_GT(Stats(cl.get(), 0).spills, 0);
  cl.reset();
  for (auto *h : held) dtx_array_release(h);
}
}  // namespace
namespace {
/* A tight limit, one thread: three 16 KiB arrays on two GPUs of 20 KiB, so
 * kept chunks spill; reading them back waits for room like any task. */
TEST(PersistStress, TightLimitReadsBack) {
  dtxt::ScopedEnv env("DTX_DEVICE_MEMORY_LIMIT", "20KiB");
  auto cl = SimCluster(2);
  ASSERT_NE(cl, nullptr);
  std::mt19937_64 rng(7703);
  std::vector<int64_t> shape = {64, 32}, ch = {16, 8}; /* 16 chunks of 1 KiB */
  Nd x = RandNd(rng, shape, DTX_F64);
  for (int round = 0; round < 10; round++) {
    Scope sc;
    dtx_array *p = nullptr, *q = nullptr, *r = nullptr;
    ASSERT_EQ(dtx_array_persist(Put(cl.get(), x, ch), nullptr, &p), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtx_array_persist(dtx_binary_scalar(DTX_MUL, p, 2), nullptr, &q), DTX_OK)
        << round << ": " << dtx_last_error();
    ASSERT_EQ(dtx_array_persist(dtx_add(p, q), nullptr, &r), DTX_OK) << round << ": " << dtx_last_error();
    Nd w = x;
    for (double &v : w.v) v *= 3;
    EXPECT_TRUE(SameNd(Get(r), w, 1e-15)) << "round " << round;
    EXPECT_TRUE(SameNd(Get(p), x, 0)) << "round " << round;
  }
  int64_t unspills = 0;
  for (int k = 0; k < 2; k++) {
    dtx_device_stats s = Stats(cl.get(), k);
    EXPECT_LE(s.bytes_peak, 20 << 10) << "gpu " << k;
    EXPECT_EQ(s.bytes_in_use, 0) << "gpu " << k;
    unspills += s.unspills;
  }
  EXPECT_GT(unspills, 0) << "spilled persisted chunks were read back";
}
}  // namespace

namespace {
/* Three persisted arrays of half the device each; reading them at once
 * needs the lent chunks of some and read-backs of the others: lent chunks no
 * job is reading spill too, so the work goes on. */
TEST(PersistStress, ReadingMoreThanTheDeviceHolds) {
  dtxt::ScopedEnv env("DTX_DEVICE_MEMORY_LIMIT", "64KiB");
  auto cl = SimCluster(1);
  ASSERT_NE(cl, nullptr);
  std::mt19937_64 rng(42);
  std::vector<int64_t> shape = {64, 64}, ch = {16, 64}; /* 4 chunks of 8 KiB: 32 KiB */
  Nd x = RandNd(rng, shape, DTX_F64);
  for (int round = 0; round < (dtxt::kSanitized ? 6 : 20); round++) {
    Scope sc;
    dtx_array *p = nullptr, *q = nullptr, *q2 = nullptr;
    ASSERT_EQ(dtx_array_persist(Put(cl.get(), x, ch), nullptr, &p), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtx_array_persist(dtx_binary_scalar(DTX_MUL, p, 2), nullptr, &q), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtx_array_persist(dtx_binary_scalar(DTX_MUL, q, 2), nullptr, &q2), DTX_OK) << dtx_last_error();
    dtx_array *s = dtx_add(dtx_add(p, q), q2);
    Nd w = x;
    for (double &v : w.v) v *= 7;
    EXPECT_TRUE(SameNd(Get(s), w, 1e-12)) << "round " << round;
  }
  dtx_device_stats st = Stats(cl.get(), 0);
  EXPECT_EQ(st.bytes_in_use, 0);
}
}  // namespace
