/*
 * tests/array_test.cc - chunked arrays: creation, random numbers, host
 * buffers, persist, .npy files, elementwise operations with broadcasting and
 * type promotion, fusion, and errors. Every case runs under sync, threads
 * and the cluster scheduler on sim:1..4, against plain loops in double
 * precision written here, on random shapes and chunkings from printed seeds.
 */
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include <set>

#include "array_util.h"
#include "kernels/elem.h"

using namespace dtxa_test;

namespace {

class Array : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
  int Rounds(int n) const { return dtxt::kSanitized ? std::max(2, n / 4) : n; }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, Array, ::testing::ValuesIn(AllScheds()), SchedName());

/* ---- an independent Philox4x32-10 ----------------------------------------------------------- */

void Philox(uint32_t ctr[4], uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; r++) {
    uint64_t p0 = uint64_t{0xD2511F53} * ctr[0], p1 = uint64_t{0xCD9E8D57} * ctr[2];
    uint32_t n[4] = {static_cast<uint32_t>(p1 >> 32) ^ ctr[1] ^ k0, static_cast<uint32_t>(p1),
                     static_cast<uint32_t>(p0 >> 32) ^ ctr[3] ^ k1, static_cast<uint32_t>(p0)};
    std::memcpy(ctr, n, sizeof n);
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

double RefUniform(uint64_t seed, uint64_t i, dtx_dtype t) {
  uint32_t c[4] = {static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32), 0, 0};
  Philox(c, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  if (t == DTX_F32) return static_cast<float>(c[0] >> 8) / 16777216.0f;
  uint64_t x = (uint64_t{c[1]} << 32) | c[0];
  return static_cast<double>(x >> 11) / 9007199254740992.0;
}

double RefNormal(uint64_t seed, uint64_t i) {
  uint32_t c[4] = {static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32), 0, 0};
  Philox(c, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  uint64_t a = (uint64_t{c[1]} << 32) | c[0], b = (uint64_t{c[3]} << 32) | c[2];
  double u1 = static_cast<double>((a >> 11) + 1) / 9007199254740992.0,
         u2 = static_cast<double>(b >> 11) / 9007199254740992.0;
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
}

}  // namespace

TEST(ArrayPhilox, KnownAnswers) {
  /* Random123's kat_vectors for philox4x32-10 */
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  } kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat &k : kats) {
    dtxk_u32x4 r = dtxk_philox(k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3], k.key[0], k.key[1]);
    uint32_t mine[4] = {k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]};
    Philox(mine, k.key[0], k.key[1]);
    for (int i = 0; i < 4; i++) {
      EXPECT_EQ(r.v[i], k.out[i]) << "word " << i;
      EXPECT_EQ(mine[i], k.out[i]) << "word " << i << " (the test's own Philox)";
    }
  }
}

TEST(ArrayDtype, NamesAndSizes) {
  EXPECT_STREQ(dtx_dtype_name(DTX_F64), "float64");
  EXPECT_STREQ(dtx_dtype_name(DTX_BOOL), "bool");
  EXPECT_EQ(dtx_dtype_size(DTX_I32), 4u);
  EXPECT_EQ(dtx_dtype_size(DTX_BOOL), 1u);
  EXPECT_EQ(dtx_dtype_name(static_cast<dtx_dtype>(15)), nullptr); /* past DTX_C128 */
  EXPECT_EQ(dtx_dtype_size(static_cast<dtx_dtype>(0)), 0u);
}

/* ---- creation ------------------------------------------------------------------------------ */

TEST_P(Array, FullZerosOnesEveryDtype) {
  Scope sc;
  for (int r = 0; r < Rounds(12); r++) {
    uint64_t seed = 100 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int nd = static_cast<int>(rng() % 9);
    auto shape = RandShape(rng, nd, 300);
    auto ch = RandChunks(rng, shape);
    for (dtx_dtype t : AllTypes()) {
      double v = RandValue(rng, DTX_F64);
      Nd want;
      want.shape = shape;
      want.t = t;
      want.v.assign(static_cast<size_t>(want.size()), 0.0);
      EXPECT_TRUE(SameNd(Get(dtx_zeros(cl(), nd, shape.data(), ch.data(), t)), want, 0));
      for (auto &e : want.v) e = 1;
      EXPECT_TRUE(SameNd(Get(dtx_ones(cl(), nd, shape.data(), ch.data(), t)), want, 0));
      double tv = t == DTX_BOOL ? (v != 0) : t == DTX_I32 || t == DTX_I64 ? std::trunc(v) : As(t, v);
      for (auto &e : want.v) e = tv;
      EXPECT_TRUE(SameNd(Get(dtx_full(cl(), nd, shape.data(), ch.data(), t, v)), want, 0));
    }
  }
}

TEST_P(Array, ArangeLinspaceEye) {
  Scope sc;
  struct R {
    double a, b, s;
    dtx_dtype t;
  } ranges[] = {{0, 10, 1, DTX_I64},
                {3, -7, -2, DTX_I32},
                {0.5, 3.2, 0.25, DTX_F64},
                {-1, 1, 0.1, DTX_F32},
                {5, 6, 3, DTX_F64}};
  for (const R &r : ranges) {
    for (int64_t chunk : {1, 3, 1000}) {
      SCOPED_TRACE(::testing::Message()
                   << "arange(" << r.a << ", " << r.b << ", " << r.s << ") chunk " << chunk);
      Nd want;
      want.t = r.t;
      int64_t n = static_cast<int64_t>(std::ceil((r.b - r.a) / r.s));
      want.shape = {n};
      for (int64_t i = 0; i < n; i++) want.v.push_back(As(r.t, r.a + r.s * static_cast<double>(i)));
      EXPECT_TRUE(SameNd(Get(dtx_arange(cl(), r.a, r.b, r.s, chunk, r.t)), want, 0));
    }
  }
  for (int endpoint : {0, 1}) {
    for (dtx_dtype t : {DTX_F64, DTX_F32, DTX_I64}) {
      SCOPED_TRACE(::testing::Message() << "linspace endpoint " << endpoint << " " << dtx_dtype_name(t));
      const int64_t num = 13;
      double a = -2.5, b = 7.25, step = (b - a) / static_cast<double>(endpoint ? num - 1 : num);
      Nd want;
      want.t = t;
      want.shape = {num};
      for (int64_t i = 0; i < num; i++) {
        double x = (endpoint && i == num - 1) ? b : a + step * static_cast<double>(i);
        want.v.push_back(t == DTX_I64 ? std::floor(x) : As(t, x));
      }
      EXPECT_TRUE(SameNd(Get(dtx_linspace(cl(), a, b, num, endpoint, 4, t)), want, 0));
    }
  }
  for (int64_t k : {-2, 0, 1, 5}) {
    SCOPED_TRACE(::testing::Message() << "eye k " << k);
    int64_t ch[2] = {2, 3};
    Nd want;
    want.t = DTX_F32;
    want.shape = {5, 7};
    for (int64_t i = 0; i < 5; i++)
      for (int64_t j = 0; j < 7; j++) want.v.push_back(j - i == k ? 1 : 0);
    EXPECT_TRUE(SameNd(Get(dtx_eye(cl(), 5, 7, k, ch, DTX_F32)), want, 0));
  }
}

TEST_P(Array, RandomIsTheSameWhateverTheChunks) {
  Scope sc;
  for (int r = 0; r < Rounds(8); r++) {
    uint64_t seed = 300 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int nd = 1 + static_cast<int>(rng() % 8);
    auto shape = RandShape(rng, nd, 500);
    for (dtx_dtype t : {DTX_F64, DTX_F32}) {
      Nd uni, nor;
      uni.shape = nor.shape = shape;
      uni.t = nor.t = t;
      int64_t n = uni.size();
      for (int64_t i = 0; i < n; i++) {
        uni.v.push_back(RefUniform(seed * 7, static_cast<uint64_t>(i), t));
        nor.v.push_back(As(t, RefNormal(seed * 7, static_cast<uint64_t>(i))));
      }
      for (int c = 0; c < 3; c++) {
        auto ch = RandChunks(rng, shape);
        Nd got = Get(dtx_random_uniform(cl(), nd, shape.data(), ch.data(), t, seed * 7));
        EXPECT_TRUE(SameNd(got, uni, 0)) << "uniform chunks " << ShapeStr(ch);
        for (double x : got.v) EXPECT_TRUE(x >= 0 && x < 1) << x;
        EXPECT_TRUE(
            SameNd(Get(dtx_random_normal(cl(), nd, shape.data(), ch.data(), t, seed * 7)), nor, 1e-15))
            << "normal chunks " << ShapeStr(ch);
      }
    }
  }
}

TEST_P(Array, RandomStatistics) {
  Scope sc;
  int64_t shape[1] = {200000 / dtxt::kScale}, ch[1] = {7000};
  double n = static_cast<double>(shape[0]);
  dtx_array *u = dtx_random_uniform(cl(), 1, shape, ch, DTX_F64, 11);
  dtx_array *z = dtx_random_normal(cl(), 1, shape, ch, DTX_F64, 12);
  double mu, vu, mz, vz;
  ASSERT_EQ(dtx_array_compute(dtx_mean(u, nullptr, 0), &mu, sizeof mu), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtx_array_compute(dtx_var(u, nullptr, 0), &vu, sizeof vu), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtx_array_compute(dtx_mean(z, nullptr, 0), &mz, sizeof mz), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtx_array_compute(dtx_var(z, nullptr, 0), &vz, sizeof vz), DTX_OK) << dtx_last_error();
  /* five standard errors */
  EXPECT_NEAR(mu, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(vu, 1.0 / 12, 5 * 0.075 / std::sqrt(n));
  EXPECT_NEAR(mz, 0, 5 / std::sqrt(n));
  EXPECT_NEAR(vz, 1, 5 * std::sqrt(2 / n));
}

/* ---- host data, persist, npy ---------------------------------------------------------------- */

TEST_P(Array, HostCopyWrapPersist) {
  Scope sc;
  for (int r = 0; r < Rounds(10); r++) {
    uint64_t seed = 500 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int nd = static_cast<int>(rng() % 9);
    auto shape = RandShape(rng, nd, 400);
    auto ch = RandChunks(rng, shape);
    dtx_dtype t = AllTypes()[rng() % 5];
    Nd x = RandNd(rng, shape, t);
    std::vector<unsigned char> b = Bytes(x);
    dtx_array *c = dtx_from_host(cl(), nd, shape.data(), ch.data(), t, b.data(), DTX_HOST_COPY);
    dtx_array *w = dtx_from_host(cl(), nd, shape.data(), ch.data(), t, b.data(), DTX_HOST_WRAP);
    ASSERT_NE(c, nullptr) << dtx_last_error();
    ASSERT_NE(w, nullptr) << dtx_last_error();
    EXPECT_TRUE(SameNd(Get(c), x, 0));
    EXPECT_TRUE(SameNd(Get(w), x, 0));
    /* a copy does not see later writes; a wrapped buffer does */
    Nd x2 = x;
    if (x.size() > 0) {
      x2.v[0] = t == DTX_BOOL ? 1 - x.v[0] : x.v[0] + 1;
      Write(b.data(), t, 0, x2.v[0]);
      x2.v[0] = Read(b.data(), t, 0); /* as stored (float32 rounds) */
    }
    EXPECT_TRUE(SameNd(Get(c), x, 0));
    EXPECT_TRUE(SameNd(Get(w), x2, 0));
    /* persist an expression; the persisted array computes without it */
    dtx_array *e = dtx_add(w, w);
    dtx_array *p = nullptr;
    ASSERT_EQ(dtx_array_persist(e, nullptr, &p), DTX_OK) << dtx_last_error();
    Nd want = Get(e);
    EXPECT_TRUE(SameNd(Get(p), want, 0));
    EXPECT_TRUE(
        SameNd(Get(dtx_mul(p, dtx_scalar_int(cl(), 3))), Get(dtx_mul(e, dtx_scalar_int(cl(), 3))), 0));
    EXPECT_EQ(dtx_array_ndim(p), nd);
    for (int d = 0; d < nd; d++) EXPECT_EQ(dtx_array_chunk(p, d), ch[d]);
  }
}

TEST_P(Array, PersistPlacesChunksWhereAsked) {
  Scope sc;
  int ngpu = GetParam().gpus;
  int64_t shape[2] = {9, 8}, ch[2] = {4, 3};
  dtx_array *x = dtx_random_uniform(cl(), 2, shape, ch, DTX_F64, 5);
  std::vector<int> where(9);
  for (int b = 0; b < 9; b++) where[b] = ngpu > 0 ? DTX_WHERE_GPU((b * 7) % ngpu) : DTX_WHERE_CPU;
  dtx_array *p = nullptr;
  ASSERT_EQ(dtx_array_persist(x, where.data(), &p), DTX_OK) << dtx_last_error();
  EXPECT_TRUE(SameNd(Get(dtx_sum(p, nullptr, 0)), Get(dtx_sum(x, nullptr, 0)), 1e-12));
  where[3] = DTX_WHERE_GPU(ngpu); /* one past the last GPU */
  EXPECT_EQ(dtx_array_persist(x, where.data(), &p), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("where[3]"), std::string::npos) << dtx_last_error();
}

TEST_P(Array, NpyRoundTrip) {
  Scope sc;
  std::string path =
      ::testing::TempDir() + "dtx_array_" + std::to_string(getpid()) + "_" + GetParam().name + ".npy";
  for (int r = 0; r < Rounds(8); r++) {
    uint64_t seed = 700 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int nd = static_cast<int>(rng() % 9);
    auto shape = RandShape(rng, nd, 300);
    dtx_dtype t = AllTypes()[r % 5];
    Nd x = RandNd(rng, shape, t);
    dtx_array *a = Put(cl(), x, RandChunks(rng, shape));
    ASSERT_EQ(dtx_save_npy(dtx_transpose(a, nullptr), path.c_str()), DTX_OK) << dtx_last_error();
    std::ifstream f(path, std::ios::binary);
    std::string head(10, '\0');
    f.read(&head[0], 10);
    ASSERT_EQ(head.substr(0, 6), "\x93NUMPY");
    size_t hlen = static_cast<unsigned char>(head[8]) | static_cast<unsigned char>(head[9]) << 8;
    EXPECT_EQ((10 + hlen) % 64, 0u);
    dtx_array *b = nullptr;
    auto ch = RandChunks(rng, shape);
    std::reverse(ch.begin(), ch.end());
    ASSERT_EQ(dtx_load_npy(cl(), path.c_str(), ch.data(), &b), DTX_OK) << dtx_last_error();
    EXPECT_EQ(dtx_array_dtype(b), t);
    EXPECT_TRUE(SameNd(Get(b), Get(dtx_transpose(a, nullptr)), 0));
  }
  std::remove(path.c_str());
}

namespace {
void WriteNpy(const std::string &path, const std::string &dict, const void *data, size_t n) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  char len[2] = {static_cast<char>(h.size() & 0xff), static_cast<char>(h.size() >> 8)};
  f.write(len, 2);
  f.write(h.data(), static_cast<std::streamsize>(h.size()));
  f.write(static_cast<const char *>(data), static_cast<std::streamsize>(n));
}
}  // namespace

TEST_P(Array, NpyFortranOrderBigEndianAndBadFiles) {
  Scope sc;
  std::string path =
      ::testing::TempDir() + "dtx_array_f_" + std::to_string(getpid()) + "_" + GetParam().name + ".npy";
  /* a 3 x 4 int32 array written in Fortran order: element (i, j) at j * 3 + i */
  int32_t f[12];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++) f[j * 3 + i] = 10 * i + j;
  WriteNpy(path, "{'descr': '<i4', 'fortran_order': True, 'shape': (3, 4), }", f, sizeof f);
  dtx_array *a = nullptr;
  int64_t ch[2] = {2, 3};
  ASSERT_EQ(dtx_load_npy(cl(), path.c_str(), ch, &a), DTX_OK) << dtx_last_error();
  Nd want;
  want.shape = {3, 4};
  want.t = DTX_I32;
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++) want.v.push_back(10 * i + j);
  EXPECT_TRUE(SameNd(Get(a), want, 0));
  EXPECT_TRUE(SameNd(Get(dtx_add(a, a)), Get(dtx_mul(a, dtx_scalar_int(cl(), 2))), 0));
  /* big endian float64 */
  double be[3] = {1.5, -2.25, 1e300};
  unsigned char raw[24];
  for (int i = 0; i < 3; i++) {
    uint64_t u;
    std::memcpy(&u, &be[i], 8);
    for (int k = 0; k < 8; k++) raw[i * 8 + k] = static_cast<unsigned char>(u >> (56 - 8 * k));
  }
  WriteNpy(path, "{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }", raw, sizeof raw);
  ASSERT_EQ(dtx_load_npy(cl(), path.c_str(), nullptr, &a), DTX_OK) << dtx_last_error();
  want.shape = {3};
  want.t = DTX_F64;
  want.v = {1.5, -2.25, 1e300};
  EXPECT_TRUE(SameNd(Get(a), want, 0));
  /* errors name what is wrong */
  WriteNpy(path, "{'descr': '<M8[s]', 'fortran_order': False, 'shape': (3,), }", raw, sizeof raw);
  EXPECT_EQ(dtx_load_npy(cl(), path.c_str(), nullptr, &a), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("<M8[s]"), std::string::npos) << dtx_last_error();
  WriteNpy(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (30,), }", raw, sizeof raw);
  EXPECT_EQ(dtx_load_npy(cl(), path.c_str(), nullptr, &a), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("truncated"), std::string::npos) << dtx_last_error();
  {
    std::ofstream bad(path, std::ios::binary);
    bad << "hello, not numpy";
  }
  EXPECT_EQ(dtx_load_npy(cl(), path.c_str(), nullptr, &a), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("magic"), std::string::npos) << dtx_last_error();
  std::remove(path.c_str());
  EXPECT_EQ(dtx_load_npy(cl(), path.c_str(), nullptr, &a), DTX_EIO);
}

/* ---- elementwise ------------------------------------------------------------------------------ */

namespace {

/* NumPy's promotion, written out as a table (bool, i32, i64, f32, f64). */
dtx_dtype Promote(dtx_dtype a, dtx_dtype b) {
  static const dtx_dtype tab[5][5] = {
      {DTX_BOOL, DTX_I32, DTX_I64, DTX_F32, DTX_F64}, {DTX_I32, DTX_I32, DTX_I64, DTX_F64, DTX_F64},
      {DTX_I64, DTX_I64, DTX_I64, DTX_F64, DTX_F64},  {DTX_F32, DTX_F64, DTX_F64, DTX_F32, DTX_F64},
      {DTX_F64, DTX_F64, DTX_F64, DTX_F64, DTX_F64},
  };
  return tab[a - 1][b - 1];
}
bool IsFloat(dtx_dtype t) { return t == DTX_F32 || t == DTX_F64; }

double RefBinary(dtx_binary_op op, double a, double b, dtx_dtype t) {
  switch (op) {
    case DTX_ADD:
      return t == DTX_BOOL ? (a != 0 || b != 0) : a + b;
    case DTX_SUB:
      return a - b;
    case DTX_MUL:
      return t == DTX_BOOL ? (a != 0 && b != 0) : a * b;
    case DTX_DIV:
      return a / b;
    case DTX_POW:
      return std::pow(a, b);
    case DTX_MINIMUM:
      return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b);
    case DTX_MAXIMUM:
      return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b);
    case DTX_EQ:
      return a == b;
    case DTX_NE:
      return a != b;
    case DTX_LT:
      return a < b;
    case DTX_LE:
      return a <= b;
    case DTX_GT:
      return a > b;
    default:
      return a >= b;
  }
}

/* Broadcast two shapes (NumPy rules). */
std::vector<int64_t> BShape(const std::vector<int64_t> &a, const std::vector<int64_t> &b) {
  size_t n = std::max(a.size(), b.size());
  std::vector<int64_t> r(n);
  for (size_t i = 0; i < n; i++) {
    int64_t x = i + a.size() >= n ? a[i + a.size() - n] : 1, y = i + b.size() >= n ? b[i + b.size() - n] : 1;
    r[i] = std::max(x, y);
  }
  return r;
}
double At(const Nd &x, const std::vector<int64_t> &m) {
  int64_t f = 0;
  size_t sh = m.size() - x.shape.size();
  for (size_t d = 0; d < x.shape.size(); d++) f = f * x.shape[d] + (x.shape[d] == 1 ? 0 : m[d + sh]);
  return x.v[static_cast<size_t>(f)];
}

/* A random shape that broadcasts with s: drop leading axes, set some to 1. */
std::vector<int64_t> Broadcastable(std::mt19937_64 &rng, const std::vector<int64_t> &s) {
  std::vector<int64_t> r(s.begin() + static_cast<long>(rng() % (s.size() + 1)), s.end());
  for (auto &e : r)
    if (rng() % 3 == 0) e = 1;
  return r;
}

}  // namespace

TEST_P(Array, BinaryOpsBroadcastAndPromote) {
  Scope sc;
  const dtx_binary_op ops[] = {DTX_ADD, DTX_SUB, DTX_MUL, DTX_DIV, DTX_POW, DTX_MINIMUM, DTX_MAXIMUM,
                               DTX_EQ,  DTX_NE,  DTX_LT,  DTX_LE,  DTX_GT,  DTX_GE};
  for (int r = 0; r < Rounds(25); r++) {
    uint64_t seed = 900 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int nd = 1 + static_cast<int>(rng() % 8);
    auto sa = RandShape(rng, nd, 200);
    auto sb = Broadcastable(rng, sa);
    if (rng() % 2) std::swap(sa, sb);
    dtx_dtype ta = AllTypes()[rng() % 5], tb = AllTypes()[rng() % 5];
    Nd a = RandNd(rng, sa, ta), b = RandNd(rng, sb, tb);
    dtx_array *xa = Put(cl(), a, RandChunks(rng, sa)), *xb = Put(cl(), b, RandChunks(rng, sb));
    for (dtx_binary_op op : ops) {
      SCOPED_TRACE(::testing::Message() << "op " << op << " " << dtx_dtype_name(ta) << ShapeStr(sa)
                                        << " with " << dtx_dtype_name(tb) << ShapeStr(sb));
      dtx_dtype t = Promote(ta, tb);
      Nd bb = b;
      if (op == DTX_POW && !IsFloat(t))
        for (auto &e : bb.v) e = std::fabs(e) > 3 ? 2 : std::fabs(e); /* small exponents: no overflow */
      dtx_array *yb = op == DTX_POW ? Put(cl(), bb, RandChunks(rng, sb)) : xb;
      dtx_array *y = dtx_binary(op, xa, yb);
      if (t == DTX_BOOL && op == DTX_SUB) {
        EXPECT_EQ(y, nullptr);
        EXPECT_NE(std::string(dtx_last_error()).find("bool"), std::string::npos) << dtx_last_error();
        continue;
      }
      if (t == DTX_BOOL && op == DTX_POW) { /* NumPy: bool ** bool is int8, x or not y */
        ASSERT_NE(y, nullptr) << dtx_last_error();
        Nd want;
        want.shape = BShape(sa, sb);
        want.t = DTX_I8;
        for (int64_t i = 0; i < want.size(); i++) {
          auto m = want.unflat(i);
          want.v.push_back(At(a, m) != 0 || At(bb, m) == 0 ? 1 : 0);
        }
        EXPECT_TRUE(SameNd(Get(y), want, 0));
        continue;
      }
      ASSERT_NE(y, nullptr) << dtx_last_error();
      dtx_dtype rt = op >= DTX_EQ ? DTX_BOOL : op == DTX_DIV && !IsFloat(t) ? DTX_F64 : t;
      dtx_dtype ct = op == DTX_DIV && !IsFloat(t) ? DTX_F64 : t; /* computed in */
      Nd want;
      want.shape = BShape(sa, sb);
      want.t = rt;
      for (int64_t i = 0; i < want.size(); i++) {
        auto m = want.unflat(i);
        want.v.push_back(As(rt, RefBinary(op, As(ct, At(a, m)), As(ct, At(bb, m)), t)));
      }
      double tol = op == DTX_POW || op == DTX_DIV ? (ct == DTX_F32 ? 1e-6 : 1e-14) : 0;
      EXPECT_TRUE(SameNd(Get(y), want, tol));
    }
  }
}

TEST_P(Array, UnaryOps) {
  Scope sc;
  const dtx_unary_op ops[] = {DTX_NEG, DTX_ABS, DTX_EXP, DTX_LOG, DTX_SQRT, DTX_SIN, DTX_COS, DTX_TANH};
  for (int r = 0; r < Rounds(10); r++) {
    uint64_t seed = 1100 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    auto shape = RandShape(rng, 1 + static_cast<int>(rng() % 8), 200);
    for (dtx_dtype t : AllTypes()) {
      Nd x = RandNd(rng, shape, t);
      dtx_array *a = Put(cl(), x, RandChunks(rng, shape));
      for (dtx_unary_op op : ops) {
        SCOPED_TRACE(::testing::Message() << "op " << op << " on " << dtx_dtype_name(t));
        dtx_array *y = dtx_unary(op, a);
        if (op == DTX_NEG && t == DTX_BOOL) {
          EXPECT_EQ(y, nullptr);
          continue;
        }
        /* NumPy: float functions of bool give float16 */
        dtx_dtype rt = op <= DTX_ABS ? t : t == DTX_BOOL ? DTX_F16 : IsFloat(t) ? t : DTX_F64;
        Nd want;
        want.shape = shape;
        want.t = rt;
        for (double v : x.v) {
          double w;
          switch (op) {
            case DTX_NEG:
              w = -v;
              break;
            case DTX_ABS:
              w = std::fabs(v);
              break;
            case DTX_EXP:
              w = std::exp(v);
              break;
            case DTX_LOG:
              w = std::log(v);
              break;
            case DTX_SQRT:
              w = std::sqrt(v);
              break;
            case DTX_SIN:
              w = std::sin(v);
              break;
            case DTX_COS:
              w = std::cos(v);
              break;
            default:
              w = std::tanh(v);
              break;
          }
          want.v.push_back(As(rt, w));
        }
        EXPECT_TRUE(SameNd(Get(y), want,
                           rt == DTX_F16   ? 1e-3
                           : rt == DTX_F32 ? 1e-6
                                           : 1e-15,
                           rt == DTX_F16   ? 1e-4
                           : rt == DTX_F32 ? 1e-7
                                           : 0));
      }
    }
  }
}

TEST_P(Array, ScalarsAreWeaklyTyped) {
  Scope sc;
  int64_t shape[1] = {5}, ch[1] = {2};
  dtx_array *f = dtx_ones(cl(), 1, shape, ch, DTX_F32);
  dtx_array *i = dtx_ones(cl(), 1, shape, ch, DTX_I32);
  dtx_array *b = dtx_ones(cl(), 1, shape, ch, DTX_BOOL);
  EXPECT_EQ(dtx_array_dtype(dtx_mul(f, dtx_scalar(cl(), 2.5))), DTX_F32);
  EXPECT_EQ(dtx_array_dtype(dtx_mul(i, dtx_scalar(cl(), 2.5))), DTX_F64);
  EXPECT_EQ(dtx_array_dtype(dtx_mul(i, dtx_scalar_int(cl(), 7))), DTX_I32);
  EXPECT_EQ(dtx_array_dtype(dtx_add(b, dtx_scalar_int(cl(), 7))), DTX_I64);
  EXPECT_EQ(dtx_array_dtype(dtx_div(i, dtx_scalar_int(cl(), 2))), DTX_F64);
  EXPECT_EQ(dtx_array_dtype(dtx_add(dtx_scalar(cl(), 1), dtx_scalar_int(cl(), 1))), DTX_F64);
  Nd got = Get(dtx_binary_scalar(DTX_SUB, i, 0.5));
  for (double v : got.v) EXPECT_EQ(v, 0.5);
  EXPECT_EQ(got.t, DTX_F64);
}

TEST_P(Array, WhereClipAstype) {
  Scope sc;
  for (int r = 0; r < Rounds(10); r++) {
    uint64_t seed = 1300 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    auto shape = RandShape(rng, 1 + static_cast<int>(rng() % 8), 300);
    auto sc2 = Broadcastable(rng, shape);
    dtx_dtype ta = AllTypes()[rng() % 5], tb = AllTypes()[rng() % 5];
    Nd c = RandNd(rng, sc2, AllTypes()[rng() % 5]), a = RandNd(rng, shape, ta),
       b = RandNd(rng, Broadcastable(rng, shape), tb);
    dtx_array *xc = Put(cl(), c, RandChunks(rng, c.shape)), *xa = Put(cl(), a, RandChunks(rng, shape)),
              *xb = Put(cl(), b, RandChunks(rng, b.shape));
    dtx_dtype t = Promote(ta, tb);
    Nd want;
    want.shape = BShape(BShape(c.shape, a.shape), b.shape);
    want.t = t;
    for (int64_t i = 0; i < want.size(); i++) {
      auto m = want.unflat(i);
      want.v.push_back(As(t, At(c, m) != 0 ? At(a, m) : At(b, m)));
    }
    EXPECT_TRUE(SameNd(Get(dtx_where(xc, xa, xb)), want, 0));
    /* clip with float bounds */
    dtx_dtype ct = IsFloat(ta) ? ta : DTX_F64;
    if (ta != DTX_BOOL) {
      Nd cw;
      cw.shape = shape;
      cw.t = ct;
      for (double v : a.v) cw.v.push_back(As(ct, std::min(std::max(v, -1.5), 2.25)));
      EXPECT_TRUE(SameNd(Get(dtx_clip(xa, -1.5, 2.25)), cw, 0));
    }
    /* astype to each dtype */
    for (dtx_dtype to : AllTypes()) {
      Nd aw;
      aw.shape = shape;
      aw.t = to;
      for (double v : a.v)
        aw.v.push_back(to == DTX_BOOL ? (v != 0) : IsFloat(to) ? As(to, v) : std::trunc(v));
      EXPECT_TRUE(SameNd(Get(dtx_astype(xa, to)), aw, 0)) << "astype " << dtx_dtype_name(to);
    }
  }
  /* float to int saturates, NaN gives 0; int arithmetic wraps */
  double special[5] = {1e30, -1e30, NAN, 2.9, -2.9};
  int64_t n5[1] = {5};
  dtx_array *s = dtx_from_host(cl(), 1, n5, n5, DTX_F64, special, DTX_HOST_COPY);
  Nd i32 = Get(dtx_astype(s, DTX_I32));
  EXPECT_EQ(i32.v, (std::vector<double>{2147483647.0, -2147483648.0, 0, 2, -2}));
  Nd bo = Get(dtx_astype(s, DTX_BOOL));
  EXPECT_EQ(bo.v, (std::vector<double>{1, 1, 1, 1, 1}));
  int32_t big[2] = {INT32_MAX, INT32_MIN};
  int64_t n2[1] = {2};
  dtx_array *bi = dtx_from_host(cl(), 1, n2, n2, DTX_I32, big, DTX_HOST_COPY);
  EXPECT_EQ(Get(dtx_add(bi, dtx_scalar_int(cl(), 1))).v, (std::vector<double>{-2147483648.0, -2147483647.0}));
  EXPECT_EQ(Get(dtx_neg(bi)).v, (std::vector<double>{-2147483647.0, -2147483648.0}));
}

/* ---- fusion ------------------------------------------------------------------------------------- */

TEST_P(Array, FusionRunsAChainAsOneTaskPerChunk) {
  Scope sc;
  for (int r = 0; r < Rounds(6); r++) {
    uint64_t seed = 1500 + r;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int nd = 1 + static_cast<int>(rng() % 3);
    std::vector<int64_t> shape = RandShape(rng, nd, 400);
    shape.push_back(shape[0]); /* square in the last two: x + x.T works */
    nd++;
    auto ch = RandChunks(rng, shape);
    Nd xv = RandNd(rng, shape, DTX_F64);
    dtx_array *x = Put(cl(), xv, ch);
    std::vector<int> perm(nd);
    for (int d = 0; d < nd; d++) perm[d] = d;
    std::swap(perm[0], perm[nd - 1]);
    /* y = exp(x * 2 + 1) - x.T, then tanh(y) * 0.5 */
    dtx_array *y = dtx_sub(dtx_exp(dtx_add(dtx_mul(x, dtx_scalar(cl(), 2)), dtx_scalar(cl(), 1))),
                           dtx_transpose(x, perm.data()));
    dtx_array *z = dtx_mul(dtx_tanh(y), dtx_scalar(cl(), 0.5));
    ASSERT_NE(z, nullptr) << dtx_last_error();
    int64_t nb = 1;
    for (int d = 0; d < nd; d++) nb *= dtx_array_numblocks(z, d);
    size_t sizes[2];
    std::vector<std::vector<double>> outs(2);
    for (int nofuse = 0; nofuse < 2; nofuse++) {
      dtxt::GraphPtr g = dtxt::MakeGraph();
      std::vector<dtx_task_id> ids(static_cast<size_t>(nb));
      dtx_array_graph_opts o = DTX_ARRAY_GRAPH_OPTS_INIT;
      o.no_fusion = nofuse;
      ASSERT_EQ(dtx_array_graph(z, g.get(), ids.data(), ids.size(), &o), DTX_OK) << dtx_last_error();
      sizes[nofuse] = dtx_graph_size(g.get());
      dtxt::Results res(ids.size());
      ASSERT_EQ(dtx_compute(cl(), g.get(), ids.data(), static_cast<int>(ids.size()), res.data(), nullptr),
                DTX_OK)
          << dtx_last_error();
      for (size_t k = 0; k < ids.size(); k++) {
        const double *p = static_cast<const double *>(dtx_chunk_data(res[k]));
        outs[nofuse].insert(outs[nofuse].end(), p, p + dtx_chunk_size(res[k]) / 8);
      }
    }
    /* fused: one task per chunk (plus a load per chunk of x on GPUs); unfused: one per operation */
    int loads = GetParam().gpus > 0 ? static_cast<int>(nb) : 0;
    EXPECT_EQ(sizes[0], static_cast<size_t>(nb) + static_cast<size_t>(loads)) << "fused graph";
    EXPECT_GE(sizes[1], 6 * static_cast<size_t>(nb)) << "unfused graph";
    EXPECT_EQ(outs[0], outs[1]) << "fusion changed the results";
    /* and both match the reference (chunk by chunk order is C order of the blocks) */
    Nd want;
    want.shape = shape;
    want.t = DTX_F64;
    for (int64_t i = 0; i < xv.size(); i++) {
      auto m = xv.unflat(i), mt = m;
      std::swap(mt[0], mt[nd - 1]);
      want.v.push_back(std::tanh(std::exp(xv.v[i] * 2 + 1) - xv.v[static_cast<size_t>(xv.flat(mt))]) * 0.5);
    }
    EXPECT_TRUE(SameNd(Get(z), want, 1e-13));
  }
}

TEST_P(Array, LongChainsAndSharedSubexpressionsStayCorrect) {
  Scope sc;
  int64_t shape[2] = {17, 9}, ch[2] = {5, 4};
  std::mt19937_64 rng(77);
  Nd xv = RandNd(rng, {17, 9}, DTX_F64);
  dtx_array *x = Put(cl(), xv, {5, 4});
  (void)shape;
  (void)ch;
  /* a chain longer than the fusion limit, and a doubling DAG (y = y + y) that a tree walk would blow up */
  dtx_array *c = x, *d = x;
  for (int k = 0; k < 150; k++) c = dtx_add(c, dtx_scalar(cl(), 0.01));
  for (int k = 0; k < 40; k++) d = dtx_mul(dtx_add(d, d), dtx_scalar(cl(), 0.5));
  Nd gc = Get(c), gd = Get(d);
  for (size_t i = 0; i < xv.v.size(); i++) {
    double w = xv.v[i];
    for (int k = 0; k < 150; k++) w += 0.01;
    EXPECT_NEAR(gc.v[i], w, 1e-12);
    EXPECT_DOUBLE_EQ(gd.v[i], xv.v[i]);
  }
}

/* ---- errors ---------------------------------------------------------------------------------------- */

namespace {
::testing::AssertionResult FailsWith(dtx_array *a, const std::string &needle) {
  if (a != nullptr)
    return ::testing::AssertionFailure() << "made an array; expected an error with '" << needle << "'";
  std::string e = dtx_last_error();
  if (e.find(needle) == std::string::npos)
    return ::testing::AssertionFailure() << "error '" << e << "' does not mention '" << needle << "'";
  return ::testing::AssertionSuccess();
}
}  // namespace

TEST_P(Array, BadInputIsAnErrorNamingIt) {
  Scope sc;
  int64_t s34[2] = {3, 4}, s5[1] = {5}, c11[2] = {1, 1}, bad_shape[2] = {3, -1}, bad_chunk[2] = {2, -1};
  dtx_array *a = dtx_ones(cl(), 2, s34, c11, DTX_F64);
  dtx_array *b = dtx_ones(cl(), 1, s5, s5, DTX_F64);
  EXPECT_TRUE(FailsWith(dtx_add(a, b), "(3, 4) (5,)"));
  EXPECT_TRUE(FailsWith(dtx_zeros(cl(), 2, bad_shape, nullptr, DTX_F64), "shape[1] is -1"));
  EXPECT_TRUE(FailsWith(dtx_zeros(cl(), 2, s34, bad_chunk, DTX_F64), "chunks[1] is -1"));
  EXPECT_TRUE(FailsWith(dtx_zeros(cl(), 9, s34, nullptr, DTX_F64), "ndim is 9"));
  EXPECT_TRUE(FailsWith(dtx_zeros(cl(), 2, s34, nullptr, static_cast<dtx_dtype>(42)), "dtype 42"));
  EXPECT_TRUE(FailsWith(dtx_random_uniform(cl(), 2, s34, nullptr, DTX_I32, 1), "int32"));
  EXPECT_TRUE(FailsWith(dtx_neg(dtx_ones(cl(), 2, s34, nullptr, DTX_BOOL)), "bool"));
  EXPECT_TRUE(FailsWith(dtx_sum(a, (const int[]){2}, 1), "axis 2"));
  EXPECT_TRUE(FailsWith(dtx_sum(a, (const int[]){1, -1}, 2), "repeated"));
  EXPECT_TRUE(FailsWith(dtx_transpose(a, (const int[]){0, 0}), "perm[1]"));
  /* slice bounds past the axis are clamped, as in Python; a step of 0 is an error */
  dtx_index over = {DTX_INDEX_SLICE, 1, 9, 1};
  dtx_array *clamped = dtx_slice(a, 1, &over);
  ASSERT_NE(clamped, nullptr) << dtx_last_error();
  EXPECT_EQ(Shape(clamped), (std::vector<int64_t>{2, 4}));
  dtx_index zero_step = {DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 0};
  EXPECT_TRUE(FailsWith(dtx_slice(a, 1, &zero_step), "slice step cannot be zero"));
  dtx_index idx = {DTX_INDEX_INT, -4, 0, 0};
  EXPECT_TRUE(FailsWith(dtx_slice(a, 1, &idx), "index -4"));
  dtx_index empty = {DTX_INDEX_SLICE, 2, 2, 1};
  dtx_array *none = dtx_slice(a, 1, &empty);
  ASSERT_NE(none, nullptr) << dtx_last_error();
  EXPECT_EQ(Shape(none), (std::vector<int64_t>{0, 4}));
  EXPECT_TRUE(FailsWith(dtx_matmul(a, a), "not aligned"));
  EXPECT_TRUE(FailsWith(dtx_matmul(a, b), "not aligned")); /* (3, 4) @ (5,): 1-d b is a column */
  dtx_array *pair[2] = {a, b};
  EXPECT_TRUE(FailsWith(dtx_concatenate(pair, 2, 0), "shape (5,)"));
  EXPECT_TRUE(FailsWith(dtx_arange(cl(), 0, 10, 0, 3, DTX_F64), "step"));
  EXPECT_TRUE(FailsWith(dtx_rechunk(a, bad_chunk), "chunks[1]"));
  EXPECT_TRUE(
      FailsWith(dtx_argmin(dtx_ones(cl(), 3, (const int64_t[]){2, 2, 2}, nullptr, DTX_F64), 5), "axis 5"));
  /* a NULL input passes the first error through */
  EXPECT_TRUE(FailsWith(dtx_exp(dtx_add(a, b)), "(3, 4) (5,)"));
  double small[3];
  EXPECT_EQ(dtx_array_compute(a, small, sizeof small), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("96"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_array_compute(nullptr, small, sizeof small), DTX_EINVAL);
}

TEST_P(Array, FailingUserKernelNamesItsTask) {
  Scope sc;
  int64_t s[2] = {6, 6}, c[2] = {3, 3};
  dtx_array *x = dtx_ones(cl(), 2, s, c, DTX_F64);
  auto fail = [](dtx_task_ctx *ctx, const dtx_block *, int, dtx_block *out, const void *) -> int {
    if (out->index[0] == 1 && out->index[1] == 0) return dtx_task_fail(ctx, "block (1, 0) refuses");
    return 0;
  };
  dtx_array *y = dtx_map_blocks("refuser", fail, nullptr, &x, 1, DTX_F64, nullptr, 0);
  ASSERT_NE(y, nullptr) << dtx_last_error();
  double total;
  EXPECT_EQ(dtx_array_compute(dtx_sum(dtx_add(y, x), nullptr, 0), &total, sizeof total), DTX_ETASK);
  std::string e = dtx_last_error();
  EXPECT_NE(e.find("refuser-"), std::string::npos) << e;
  EXPECT_NE(e.find("[1,0]"), std::string::npos) << e;
  EXPECT_NE(e.find("block (1, 0) refuses"), std::string::npos) << e;
}

TEST(ArrayScope, VeryLongChainsBuildAndRelease) {
  dtxt::ClusterPtr cl = dtxt::MakeCluster(DTX_SCHED_THREADS, 2);
  int64_t s[1] = {6};
  /* 4000 steps: computes (fused in pieces); releasing it does not recurse down the chain */
  dtx_array *x = dtx_ones(cl.get(), 1, s, (const int64_t[]){4}, DTX_I64);
  dtx_array *one = dtx_ones(cl.get(), 1, s, (const int64_t[]){3}, DTX_I64);
  for (int k = 0; k < 4000; k++) {
    dtx_array *y = dtx_add(x, x);
    dtx_array_release(x);
    dtx_array *z = dtx_sub(y, one);
    dtx_array_release(y);
    x = z;
  }
  dtx_array_release(one);
  int64_t out[6];
  ASSERT_EQ(dtx_array_compute(x, out, sizeof out), DTX_OK) << dtx_last_error();
  for (int64_t v : out) EXPECT_EQ(v, 1);
  /* 50000 more steps: built children first (no deep recursion), computed, released without recursing */
  for (int k = 0; k < 50000 / dtxt::kScale; k++) {
    dtx_array *y = dtx_binary_scalar(DTX_MUL, x, 1.0);
    dtx_array_release(x);
    x = y;
  }
  double d[6];
  ASSERT_EQ(dtx_array_compute(x, d, sizeof d), DTX_OK) << dtx_last_error();
  for (double v : d) EXPECT_EQ(v, 1.0);
  dtx_array_release(x);
}

TEST(ArrayScope, ScopesReleaseAndKeep) {
  dtxt::ClusterPtr cl = dtxt::MakeCluster(DTX_SCHED_SYNC, 1);
  int64_t s[1] = {4};
  dtx_array *kept;
  dtx_array_scope_begin();
  {
    dtx_array *a = dtx_ones(cl.get(), 1, s, s, DTX_I64);
    dtx_array_scope_begin();
    dtx_array *b = dtx_add(a, a);
    kept = dtx_array_keep(dtx_mul(b, b));
    dtx_array_scope_end(); /* b released; kept survives, and keeps b alive through its inputs */
  }
  dtx_array_scope_end();
  int64_t out[4];
  ASSERT_EQ(dtx_array_compute(kept, out, sizeof out), DTX_OK) << dtx_last_error();
  for (int64_t v : out) EXPECT_EQ(v, 4);
  dtx_array_release(kept);
  dtx_array_scope_end(); /* no scope open: no-op */
}

TEST_P(Array, EightDimensionsComputeAndKeepKeysUnique) {
  /* an 8-d array in chunks along every axis: a fused expression of it and
   * its reversed transpose, a reduction over four axes, and the graph's
   * task keys (at most DTX_MAX_INDICES indices: the leading chunk indices
   * fold into the first) are one per chunk */
  Scope sc;
  std::mt19937_64 rng(880);
  std::vector<int64_t> shape = {2, 3, 2, 3, 2, 3, 2, 3}, ch = {1, 2, 1, 2, 1, 2, 1, 2};
  Nd x = RandNd(rng, shape, DTX_F64);
  dtx_array *a = Put(cl(), x, ch);
  ASSERT_NE(a, nullptr) << dtx_last_error();
  dtx_array *e = dtx_mul(dtx_add(a, dtx_scalar(cl(), 1.5)), dtx_scalar(cl(), 2.0));
  Nd want = x;
  for (auto &v : want.v) v = (v + 1.5) * 2.0;
  EXPECT_TRUE(SameNd(Get(e), want, 0));
  /* x.T reversed twice is x; x.T's element (i7..i0) is x's (i0..i7) */
  dtx_array *t = dtx_transpose(a, nullptr);
  ASSERT_EQ(dtx_array_ndim(t), 8);
  Nd tt = Get(t);
  ASSERT_EQ(tt.size(), x.size());
  for (int64_t i = 0; i < x.size(); i++) {
    auto m = x.unflat(i);
    std::vector<int64_t> rm(m.rbegin(), m.rend());
    ASSERT_EQ(tt.v[static_cast<size_t>(tt.flat(rm))], x.v[static_cast<size_t>(i)]) << "element " << i;
  }
  int axes[4] = {0, 3, 5, 7};
  Nd s = Get(dtx_sum(a, axes, 4));
  ASSERT_EQ(s.shape, (std::vector<int64_t>{3, 2, 2, 2}));
  std::vector<double> ws(static_cast<size_t>(s.size()), 0.0);
  for (int64_t i = 0; i < x.size(); i++) {
    auto m = x.unflat(i);
    ws[static_cast<size_t>(s.flat({m[1], m[2], m[4], m[6]}))] += x.v[static_cast<size_t>(i)];
  }
  for (int64_t i = 0; i < s.size(); i++)
    EXPECT_NEAR(s.v[static_cast<size_t>(i)], ws[static_cast<size_t>(i)], 1e-12);
  /* one task per chunk of e, each key distinct */
  dtx_graph *g = nullptr;
  ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
  int64_t nchunks = 1;
  for (int d = 0; d < 8; d++) nchunks *= dtx_array_numblocks(e, d);
  std::vector<dtx_task_id> ids(static_cast<size_t>(nchunks));
  EXPECT_EQ(dtx_array_graph(e, g, ids.data(), ids.size(), nullptr), DTX_OK) << dtx_last_error();
  std::set<dtx_task_id> distinct(ids.begin(), ids.end());
  EXPECT_EQ(static_cast<int64_t>(distinct.size()), nchunks);
  dtx_graph_destroy(g);
}
