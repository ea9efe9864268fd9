/*
 * tests/kernels_path_test.cc - the fast paths of the CPU fused tasks
 * (src/kernels/fused_*.c) against the general strip path, bit for bit.
 *
 * Each case computes an expression once as the selector chooses and once
 * with every sub-rectangle forced through the general path
 * (dtxi_kernels_force_general), and compares the results bit for bit (NaN
 * equal to NaN). The path counters (dtxi_kernels_path_runs) show that the
 * fast path under test ran in the first computation (so a path that silently
 * stopped being chosen fails here) and that none ran in the second. Inputs
 * are random from printed seeds, over shapes with ragged chunks, odd sizes,
 * strips and tiles cut short, host data copied or read in place, and strided
 * views (sliced, stepped and reversed rows and columns). Runs under the sync
 * and threads schedulers.
 */
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <string>
#include <vector>

#include "array_util.h"
#include "dtx/complex.h"
#include "kernels/kernels.h"

using namespace dtxa_test;

namespace {

const char *PathName(dtxi_fused_path p) {
  switch (p) {
    case DTXI_PATH_TRANSPOSE:
      return "transpose";
    case DTXI_PATH_SUM:
      return "sum";
    case DTXI_PATH_COLSUM:
      return "colsum";
    case DTXI_PATH_COLARG:
      return "colarg";
    case DTXI_PATH_CHAIN:
      return "chain";
    case DTXI_PATH_COPY:
      return "copy";
    default:
      return "general";
  }
}

std::vector<Sched> CpuScheds() {
  std::vector<Sched> v;
  for (const Sched &s : AllScheds())
    if (s.gpus == 0) v.push_back(s);
  return v;
}

/* x[i0:i1:i2, j0:j1:j2] (DTX_NONE for defaults). */
dtx_array *Slice2(const dtx_array *a, int64_t i0, int64_t i1, int64_t i2, int64_t j0, int64_t j1,
                  int64_t j2) {
  dtx_index idx[2] = {{DTX_INDEX_SLICE, i0, i1, i2}, {DTX_INDEX_SLICE, j0, j1, j2}};
  return dtx_slice(a, 2, idx);
}

/* The bytes of a computed; empty (and a test failure) on error. */
std::vector<unsigned char> Raw(const dtx_array *a) {
  if (a == nullptr) {
    ADD_FAILURE() << "array is NULL: " << dtx_last_error();
    return {};
  }
  std::vector<unsigned char> buf(dtx_array_nbytes(a));
  dtx_status rc = dtx_array_compute(a, buf.data(), buf.size());
  if (rc != DTX_OK) {
    ADD_FAILURE() << "compute: " << dtx_status_name(rc) << ": " << dtx_last_error();
    return {};
  }
  return buf;
}

/* got and want, float64 arrays, equal bit for bit (any NaN equal to any NaN). */
::testing::AssertionResult SameBits(const std::vector<unsigned char> &got,
                                    const std::vector<unsigned char> &want) {
  if (got.size() != want.size() || got.size() % 8 != 0)
    return ::testing::AssertionFailure() << "sizes " << got.size() << " and " << want.size();
  for (size_t i = 0; i < got.size() / 8; i++) {
    double g, w;
    std::memcpy(&g, &got[i * 8], 8);
    std::memcpy(&w, &want[i * 8], 8);
    if (std::isnan(g) && std::isnan(w)) continue;
    if (std::memcmp(&g, &w, 8) != 0)
      return ::testing::AssertionFailure() << "element " << i << ": fast path " << g << ", general path " << w
                                           << " (differ by " << g - w << ")";
  }
  return ::testing::AssertionSuccess();
}

/* Leaves the general path unforced however a test ends. */
struct ForceGuard {
  ~ForceGuard() { dtxi_kernels_force_general(0); }
};

class KernelsPath : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }

  /* A float64 host array (n0 x n1, or 1-d when n1 is 0) of uniform values
   * in [-4, 4), in chunks c0 x c1: copied in, or read in place (the buffer
   * kept until the test ends). */
  dtx_array *Host(std::mt19937_64 &rng, int64_t n0, int64_t n1, int64_t c0, int64_t c1, bool wrap) {
    std::vector<int64_t> shape = {n0}, chunks = {c0};
    if (n1 > 0) {
      shape.push_back(n1);
      chunks.push_back(c1);
    }
    Nd x = RandNd(rng, shape, DTX_F64);
    return Wrap(x, chunks, wrap);
  }
  dtx_array *Wrap(const Nd &x, const std::vector<int64_t> &chunks, bool wrap) {
    if (!wrap) return Put(cl(), x, chunks);
    kept_.push_back(Bytes(x));
    return dtx_from_host(cl(), x.ndim(), x.shape.data(), chunks.data(), DTX_F64, kept_.back().data(),
                         DTX_HOST_WRAP);
  }

  /* Computes e through the paths the selector chooses and through the
   * general path only: the same bits; path ran (when expected) in the first
   * and no fast path in the second. */
  void Parity(const dtx_array *e, dtxi_fused_path path, const std::string &what, bool expect_fast = true) {
    SCOPED_TRACE(what + " (" + PathName(path) + " path)");
    ForceGuard guard;
    int64_t before = dtxi_kernels_path_runs(path);
    std::vector<unsigned char> fast = Raw(e);
    int64_t after = dtxi_kernels_path_runs(path);
    if (expect_fast) {
      EXPECT_GT(after, before) << "the selector no longer picks the " << PathName(path) << " path";
    }
    dtxi_kernels_force_general(1);
    int64_t general_before = dtxi_kernels_path_runs(DTXI_PATH_GENERAL);
    std::vector<int64_t> fast_before;
    for (int p = 1; p < DTXI_PATH_COUNT; p++)
      fast_before.push_back(dtxi_kernels_path_runs((dtxi_fused_path)p));
    std::vector<unsigned char> general = Raw(e);
    dtxi_kernels_force_general(0);
    EXPECT_GT(dtxi_kernels_path_runs(DTXI_PATH_GENERAL), general_before)
        << "the forced run used no general path";
    for (int p = 1; p < DTXI_PATH_COUNT; p++)
      EXPECT_EQ(dtxi_kernels_path_runs((dtxi_fused_path)p), fast_before[p - 1])
          << "the forced run used the " << PathName((dtxi_fused_path)p) << " path";
    ASSERT_FALSE(fast.empty());
    EXPECT_TRUE(SameBits(fast, general));
  }

  std::deque<std::vector<unsigned char>> kept_;
};

INSTANTIATE_TEST_SUITE_P(Schedulers, KernelsPath, ::testing::ValuesIn(CpuScheds()), SchedName());

const int kAxis0[1] = {0}, kAxis1[1] = {1}, kAxis2[1] = {2}, kAxes01[2] = {0, 1};

/* Copies its block (a C-ordered float64 output) from the input, whatever its
 * strides: map_blocks over x + x.T makes x + x.T's chunks as tasks. */
int CopyBlock(dtx_task_ctx *, const dtx_block *in, int, dtx_block *out, const void *) {
  const double *src = static_cast<const double *>(in[0].data);
  double *dst = static_cast<double *>(out->data);
  for (int64_t i = 0; i < out->shape[0]; i++)
    for (int64_t j = 0; j < out->shape[1]; j++)
      dst[i * out->stride[0] + j * out->stride[1]] = src[i * in[0].stride[0] + j * in[0].stride[1]];
  return 0;
}

TEST_P(KernelsPath, TransposeMatchesGeneral) {
  /* x + x.T and x.T + x: summed (one state per row, per column, or one),
   * averaged, and stored as chunks; tiles of 64, of other multiples of 8 and
   * cut short (the general tile inside the path); x sliced out of a wider or
   * taller host array */
  Scope sc;
  struct Case {
    int64_t n, c0, c1;
    int view; /* 0: x itself, 1: x = X[:, 3:n+3] of an n x (n+7) X, 2: x = X[::2, :] of a 2n x n X */
    bool wrap;
  };
  const Case cases[] = {{200, 96, 96, 0, false}, {203, 64, 64, 0, true}, {136, 64, 72, 0, false},
                        {77, 40, 77, 0, true},   {160, 64, 64, 1, true}, {131, 48, 56, 1, false},
                        {120, 64, 64, 2, true},  {97, 50, 97, 2, false}};
  for (const Case &k : cases) {
    uint64_t seed = 7100 + static_cast<uint64_t>(k.n);
    std::mt19937_64 rng(seed);
    std::string what = "seed " + std::to_string(seed) + " n " + std::to_string(k.n) + " chunks " +
                       std::to_string(k.c0) + "x" + std::to_string(k.c1) + " view " + std::to_string(k.view) +
                       (k.wrap ? " wrapped" : " copied");
    std::printf("[ seed     ] %s\n", what.c_str());
    dtx_array *x = nullptr;
    if (k.view == 0) x = Host(rng, k.n, k.n, k.c0, k.c1, k.wrap);
    if (k.view == 1)
      x = Slice2(Host(rng, k.n, k.n + 7, k.c0, k.c1, k.wrap), DTX_NONE, DTX_NONE, 1, 3, k.n + 3, 1);
    if (k.view == 2)
      x = Slice2(Host(rng, 2 * k.n, k.n, k.c0, k.c1, k.wrap), DTX_NONE, DTX_NONE, 2, DTX_NONE, DTX_NONE, 1);
    ASSERT_NE(x, nullptr) << dtx_last_error();
    dtx_array *xt = dtx_transpose(x, nullptr);
    dtx_array *zs[2] = {dtx_add(x, xt), dtx_add(xt, x)};
    for (int o = 0; o < 2; o++) {
      dtx_array *z = zs[o];
      std::string w = what + (o ? " x.T + x" : " x + x.T");
      Parity(dtx_sum(z, nullptr, 0), DTXI_PATH_TRANSPOSE, w + " .sum()");
      Parity(dtx_sum(z, kAxis0, 1), DTXI_PATH_TRANSPOSE, w + " .sum(axis=0)");
      Parity(dtx_sum(z, kAxis1, 1), DTXI_PATH_TRANSPOSE, w + " .sum(axis=1)");
      Parity(dtx_mean(z, kAxis0, 1), DTXI_PATH_TRANSPOSE, w + " .mean(axis=0)");
      dtx_array *in[1] = {z};
      Parity(dtx_map_blocks("copy", CopyBlock, nullptr, in, 1, DTX_F64, nullptr, 0), DTXI_PATH_TRANSPOSE,
             w + " as chunks");
    }
  }
}

TEST_P(KernelsPath, SumMatchesGeneral) {
  /* a float64 leaf summed along its rows: x.sum(), x.mean(), x.sum(axis=-1),
   * rows longer than a strip and not a multiple of 8, sliced and reversed
   * views, NaN and infinities in some rows */
  Scope sc;
  uint64_t seed = 7200;
  std::printf("[ seed     ] %llu\n", static_cast<unsigned long long>(seed));
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  dtx_array *v = Host(rng, 5003, 0, 777, 0, false);
  Parity(dtx_sum(v, nullptr, 0), DTXI_PATH_SUM, "1-d 5003 / 777 .sum()");
  Parity(dtx_mean(v, nullptr, 0), DTXI_PATH_SUM, "1-d 5003 / 777 .mean()");
  for (bool wrap : {false, true}) {
    std::string how = wrap ? " wrapped" : " copied";
    dtx_array *x = Host(rng, 37, 1100, 13, 600, wrap);
    Parity(dtx_sum(x, nullptr, 0), DTXI_PATH_SUM, "37x1100 .sum()" + how);
    Parity(dtx_sum(x, kAxis1, 1), DTXI_PATH_SUM, "37x1100 .sum(axis=1)" + how);
    Parity(dtx_mean(x, kAxis1, 1), DTXI_PATH_SUM, "37x1100 .mean(axis=1)" + how);
    Parity(dtx_sum(Slice2(x, 2, -1, 1, 3, -2, 1), nullptr, 0), DTXI_PATH_SUM, "x[2:-1, 3:-2].sum()" + how);
    Parity(dtx_sum(Slice2(x, DTX_NONE, DTX_NONE, -1, 5, DTX_NONE, 1), kAxis1, 1), DTXI_PATH_SUM,
           "x[::-1, 5:].sum(axis=1)" + how);
    Parity(dtx_sum(Slice2(x, DTX_NONE, DTX_NONE, 3, DTX_NONE, DTX_NONE, 1), nullptr, 0), DTXI_PATH_SUM,
           "x[::3, :].sum()" + how);
  }
  std::vector<int64_t> shape3 = {5, 7, 531};
  Nd y = RandNd(rng, shape3, DTX_F64);
  dtx_array *y3 = Put(cl(), y, {2, 4, 200});
  Parity(dtx_sum(y3, kAxis2, 1), DTXI_PATH_SUM, "5x7x531 .sum(axis=2)");
  Parity(dtx_mean(y3, nullptr, 0), DTXI_PATH_SUM, "5x7x531 .mean()");
  /* NaN and infinities in a few rows: the rows without them must still match bit for bit */
  Nd z = RandNd(rng, {41, 515}, DTX_F64);
  z.v[3 * 515 + 17] = std::numeric_limits<double>::quiet_NaN();
  z.v[9 * 515 + 500] = std::numeric_limits<double>::infinity();
  z.v[20 * 515 + 2] = -std::numeric_limits<double>::infinity();
  z.v[20 * 515 + 3] = std::numeric_limits<double>::infinity();
  Parity(dtx_sum(Put(cl(), z, {10, 300}), kAxis1, 1), DTXI_PATH_SUM, "41x515 with NaN .sum(axis=1)");
}

TEST_P(KernelsPath, ColsumMatchesGeneral) {
  /* float64 rows summed into column states: x.sum(axis=0), x.mean(axis=0),
   * four rows at a time with the leftover rows one by one, 3-d reductions
   * that keep the rows apart, sliced, stepped and reversed views */
  Scope sc;
  uint64_t seed = 7300;
  std::printf("[ seed     ] %llu\n", static_cast<unsigned long long>(seed));
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  for (bool wrap : {false, true}) {
    std::string how = wrap ? " wrapped" : " copied";
    dtx_array *x = Host(rng, 1031, 517, 250, 300, wrap);
    Parity(dtx_sum(x, kAxis0, 1), DTXI_PATH_COLSUM, "1031x517 .sum(axis=0)" + how);
    Parity(dtx_mean(x, kAxis0, 1), DTXI_PATH_COLSUM, "1031x517 .mean(axis=0)" + how);
    Parity(dtx_mean(Slice2(x, 1, -1, 1, 2, -3, 1), kAxis0, 1), DTXI_PATH_COLSUM,
           "x[1:-1, 2:-3].mean(axis=0)" + how);
    Parity(dtx_sum(Slice2(x, DTX_NONE, DTX_NONE, 2, DTX_NONE, DTX_NONE, 1), kAxis0, 1), DTXI_PATH_COLSUM,
           "x[::2, :].sum(axis=0)" + how);
    Parity(dtx_sum(Slice2(x, DTX_NONE, DTX_NONE, -3, 7, DTX_NONE, 1), kAxis0, 1), DTXI_PATH_COLSUM,
           "x[::-3, 7:].sum(axis=0)" + how);
  }
  std::vector<int64_t> shape3 = {9, 6, 203};
  Nd y = RandNd(rng, shape3, DTX_F64);
  dtx_array *y3 = Put(cl(), y, {4, 5, 100});
  Parity(dtx_sum(y3, kAxis0, 1), DTXI_PATH_COLSUM, "9x6x203 .sum(axis=0)");
  Parity(dtx_mean(y3, kAxes01, 2), DTXI_PATH_COLSUM, "9x6x203 .mean(axis=(0, 1))");
  Parity(dtx_sum(y3, kAxis1, 1), DTXI_PATH_COLSUM, "9x6x203 .sum(axis=1)");
}

TEST_P(KernelsPath, ColargMatchesGeneral) {
  /* argmax / argmin of float64 and float32 rows into column states: the
   * indices (int64) the same as the general path's, on random values, on
   * values with ties everywhere and NaN in some columns (two in one chunk,
   * in different chunks, in the first and last rows), ragged chunks, column
   * blocks cut short, sliced, stepped and reversed rows, a 3-d reduction of
   * the rows of each plane; a column step or a reduction that keeps the
   * rows apart is not the colarg path (general both times) */
  Scope sc;
  uint64_t seed = 7350;
  std::printf("[ seed     ] %llu\n", static_cast<unsigned long long>(seed));
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  for (dtx_dtype t : {DTX_F64, DTX_F32}) {
    std::string ty = std::string(" ") + dtx_dtype_name(t);
    Nd x = RandNd(rng, {1031, 1100}, t), ties = RandNd(rng, {1031, 1100}, t);
    for (auto &e : ties.v) e = static_cast<double>(static_cast<int64_t>(e)); /* -3 .. 3 */
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (int64_t c = 0; c < 1100; c += 37) {
      ties.v[static_cast<size_t>(((c * 7) % 1031) * 1100 + c)] = nan;
      ties.v[static_cast<size_t>(((c * 13) % 1031) * 1100 + c)] = nan;
    }
    ties.v[1099] = nan;
    ties.v[1030 * 1100 + 1098] = nan;
    for (const Nd *v : {&x, &ties}) {
      std::string what = (v == &x ? " random" : " ties and NaN") + ty;
      for (auto ch : std::vector<std::vector<int64_t>>{{250, 600}, {1031, 1100}, {97, 45}}) {
        std::string w = what + " chunks " + std::to_string(ch[0]) + "x" + std::to_string(ch[1]);
        dtx_array *a = Put(cl(), *v, ch);
        Parity(dtx_argmax(a, 0), DTXI_PATH_COLARG, w + " .argmax(axis=0)");
        Parity(dtx_argmin(a, 0), DTXI_PATH_COLARG, w + " .argmin(axis=0)");
        Parity(dtx_argmax(Slice2(a, 3, -1, 1, 2, -5, 1), 0), DTXI_PATH_COLARG,
               w + " x[3:-1, 2:-5].argmax(axis=0)");
        Parity(dtx_argmin(Slice2(a, DTX_NONE, DTX_NONE, -3, 7, DTX_NONE, 1), 0), DTXI_PATH_COLARG,
               w + " x[::-3, 7:].argmin(axis=0)");
        Parity(dtx_argmax(Slice2(a, DTX_NONE, DTX_NONE, 2, DTX_NONE, DTX_NONE, 2), 0), DTXI_PATH_COLARG,
               w + " x[::2, ::2].argmax(axis=0) (not the colarg path)", false);
      }
    }
    Nd y = RandNd(rng, {9, 6, 203}, t);
    for (size_t k = 0; k < y.v.size(); k += 53) y.v[k] = std::numeric_limits<double>::quiet_NaN();
    dtx_array *y3 = Put(cl(), y, {4, 5, 100});
    Parity(dtx_argmax(y3, 1), DTXI_PATH_COLARG, "9x6x203 .argmax(axis=1)" + ty);
    Parity(dtx_argmin(y3, 1), DTXI_PATH_COLARG, "9x6x203 .argmin(axis=1)" + ty);
    Parity(dtx_argmax(y3, 0), DTXI_PATH_COLARG, "9x6x203 .argmax(axis=0) (not the colarg path)" + ty, false);
  }
}

TEST_P(KernelsPath, ChainMatchesGeneral) {
  /* a float64 leaf through scalar + - * / (constant on either side, or the
   * value with itself), summed along rows or into columns, read in place
   * with unit or any other stride */
  Scope sc;
  uint64_t seed = 7400;
  std::printf("[ seed     ] %llu\n", static_cast<unsigned long long>(seed));
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  for (bool wrap : {false, true}) {
    std::string how = wrap ? " wrapped" : " copied";
    dtx_array *x = Host(rng, 301, 1033, 128, 700, wrap);
    dtx_array *one = dtx_scalar(cl(), 1), *two = dtx_scalar(cl(), 2), *three = dtx_scalar(cl(), 3);
    dtx_array *affine = dtx_add(dtx_mul(x, two), one); /* x * 2 + 1 */
    Parity(dtx_sum(affine, nullptr, 0), DTXI_PATH_CHAIN, "(x * 2 + 1).sum()" + how);
    Parity(dtx_sum(affine, kAxis0, 1), DTXI_PATH_CHAIN, "(x * 2 + 1).sum(axis=0)" + how);
    Parity(dtx_mean(affine, kAxis1, 1), DTXI_PATH_CHAIN, "(x * 2 + 1).mean(axis=1)" + how);
    /* x read twice: no chain, the general path runs both times (parity only) */
    Parity(dtx_mean(dtx_sub(dtx_div(x, three), x), kAxis0, 1), DTXI_PATH_CHAIN,
           "(x / 3 - x).mean(axis=0)" + how, false);
    dtx_array *sq = dtx_sub(two, dtx_mul(dtx_sub(x, three), dtx_sub(x, three)));
    Parity(dtx_sum(sq, kAxis1, 1), DTXI_PATH_CHAIN, "(2 - (x - 3) * (x - 3)).sum(axis=1)" + how, false);
    dtx_array *c = dtx_div(dtx_sub(two, dtx_mul(x, three)), three); /* (2 - x * 3) / 3 */
    Parity(dtx_sum(c, kAxis1, 1), DTXI_PATH_CHAIN, "((2 - x * 3) / 3).sum(axis=1)" + how);
    Parity(dtx_sum(dtx_sub(dtx_mul(x, x), one), kAxis0, 1), DTXI_PATH_CHAIN, "(x * x - 1).sum(axis=0)" + how);
    dtx_array *s = Slice2(x, DTX_NONE, DTX_NONE, 3, DTX_NONE, DTX_NONE, 3);
    Parity(dtx_sum(s, nullptr, 0), DTXI_PATH_CHAIN, "x[::3, ::3].sum()" + how);
    Parity(dtx_mean(dtx_mul(Slice2(x, DTX_NONE, DTX_NONE, -2, 1, DTX_NONE, 3), two), kAxis0, 1),
           DTXI_PATH_CHAIN, "(x[::-2, 1::3] * 2).mean(axis=0)" + how);
    Parity(dtx_sum(dtx_add(Slice2(x, 4, DTX_NONE, 1, DTX_NONE, DTX_NONE, -1), three), kAxis1, 1),
           DTXI_PATH_CHAIN, "(x[4:, ::-1] + 3).sum(axis=1)" + how);
  }
}

TEST_P(KernelsPath, CopyMatchesGeneral) {
  /* rechunk, concatenate, unit-step slices, outer transposes and complex
   * pairs: one leaf stored as it is, in memcpy runs; a column step is not a
   * copy path (general both times) */
  Scope sc;
  uint64_t seed = 7500;
  std::printf("[ seed     ] %llu\n", static_cast<unsigned long long>(seed));
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  const int64_t rc2[2] = {100, 333}, rc3[3] = {3, 17, 70};
  for (bool wrap : {false, true}) {
    std::string how = wrap ? " wrapped" : " copied";
    dtx_array *x = Host(rng, 301, 1033, 128, 700, wrap), *y = Host(rng, 301, 1033, 128, 700, wrap);
    Parity(dtx_rechunk(x, rc2), DTXI_PATH_COPY, "x.rechunk((100, 333))" + how);
    dtx_array *xy[2] = {x, y};
    Parity(dtx_rechunk(dtx_concatenate(xy, 2, 0), rc2), DTXI_PATH_COPY, "concatenate([x, y], 0)" + how);
    Parity(dtx_rechunk(dtx_concatenate(xy, 2, 1), rc2), DTXI_PATH_COPY, "concatenate([x, y], 1)" + how);
    Parity(dtx_rechunk(Slice2(x, 3, 250, 1, 5, 900, 1), rc2), DTXI_PATH_COPY, "x[3:250, 5:900]" + how);
    Parity(dtx_rechunk(Slice2(x, DTX_NONE, DTX_NONE, -2, DTX_NONE, DTX_NONE, 1), rc2), DTXI_PATH_COPY,
           "x[::-2, :]" + how);
    Parity(dtx_rechunk(Slice2(x, DTX_NONE, DTX_NONE, 1, DTX_NONE, DTX_NONE, 2), rc2), DTXI_PATH_COPY,
           "x[:, ::2] (not a copy path)" + how, false);
    Nd x3 = RandNd(rng, {9, 50, 140}, DTX_F64);
    dtx_array *a3 = Wrap(x3, {4, 25, 100}, wrap);
    const int perm[3] = {1, 0, 2};
    Parity(dtx_rechunk(a3, rc3), DTXI_PATH_COPY, "3-d rechunk" + how);
    Parity(dtx_rechunk(dtx_transpose(a3, perm), rc3), DTXI_PATH_COPY, "3-d transpose (1, 0, 2)" + how);
    /* complex pairs made by a task (persisted here): rows of 2 values merged into runs */
    dtx_array *z = nullptr;
    ASSERT_EQ(dtx_array_persist(dtx_complex(x, y), nullptr, &z), DTX_OK) << dtx_last_error();
    Parity(dtx_rechunk(z, rc2), DTXI_PATH_COPY, "complex rechunk" + how);
  }
}

TEST_P(KernelsPath, CopyOfEveryDtypeIsExact) {
  /* the copy path moves bytes of any dtype; compared byte for byte with the
   * general path */
  Scope sc;
  uint64_t seed = 7501;
  std::printf("[ seed     ] %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  const int64_t rc[2] = {7, 45};
  for (dtx_dtype t : {DTX_I8, DTX_U16, DTX_I32, DTX_F32, DTX_F16, DTX_I64, DTX_BOOL}) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " " << dtx_dtype_name(t));
    ForceGuard guard;
    Nd x = RandNd(rng, {33, 130}, t);
    dtx_array *r = dtx_rechunk(Put(cl(), x, {10, 64}), rc);
    ASSERT_NE(r, nullptr) << dtx_last_error();
    int64_t before = dtxi_kernels_path_runs(DTXI_PATH_COPY);
    std::vector<unsigned char> fast = Raw(r);
    EXPECT_GT(dtxi_kernels_path_runs(DTXI_PATH_COPY), before);
    dtxi_kernels_force_general(1);
    std::vector<unsigned char> general = Raw(r);
    dtxi_kernels_force_general(0);
    EXPECT_EQ(fast, general);
    std::vector<unsigned char> want = Bytes(x);
    want.pop_back(); /* Bytes' spare byte */
    EXPECT_EQ(fast, want);
  }
}

}  // namespace
