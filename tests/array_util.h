/*
 * tests/array_util.h - helpers shared by the array tests: the schedulers
 * every test runs under (sync, threads, cluster on sim:1..4), a plain
 * double-precision n-d array (Nd) used as the independent reference, random
 * shapes / chunkings / values from printed seeds, and comparison.
 */
#ifndef DTX_TESTS_ARRAY_UTIL_H
#define DTX_TESTS_ARRAY_UTIL_H

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dtx/dtx.h"
#include "test_util.h"

namespace dtxa_test {

/* ---- schedulers ------------------------------------------------------------------- */

struct Sched {
  const char *name;
  dtx_scheduler s;
  int gpus; /* simulated GPUs (cluster scheduler) */
};

inline const std::vector<Sched> &AllScheds() {
  static const std::vector<Sched> v = {{"sync", DTX_SCHED_SYNC, 0},    {"threads", DTX_SCHED_THREADS, 0},
                                       {"sim1", DTX_SCHED_CLUSTER, 1}, {"sim2", DTX_SCHED_CLUSTER, 2},
                                       {"sim3", DTX_SCHED_CLUSTER, 3}, {"sim4", DTX_SCHED_CLUSTER, 4}};
  return v;
}

/* One cluster per scheduler for the whole test program, destroyed when the
 * tests end (a gtest environment). */
inline std::map<std::string, dtxt::ClusterPtr> &Clusters() {
  static std::map<std::string, dtxt::ClusterPtr> clusters;
  return clusters;
}
struct ClusterEnv : ::testing::Environment {
  void TearDown() override { Clusters().clear(); }
};
static const bool kClusterEnv = (::testing::AddGlobalTestEnvironment(new ClusterEnv), true);
inline dtx_cluster *ClusterFor(const Sched &s) {
  (void)kClusterEnv;
  auto &clusters = Clusters();
  auto it = clusters.find(s.name);
  if (it != clusters.end()) return it->second.get();
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.scheduler = s.s;
  cfg.num_threads = 2;
  cfg.log_level = DTX_LOG_NONE;
  std::string gpus = s.gpus > 0 ? "sim:" + std::to_string(s.gpus) : "none";
  cfg.gpus = gpus.c_str();
  dtx_cluster *cl = nullptr;
  EXPECT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  clusters[s.name] = dtxt::ClusterPtr(cl);
  return cl;
}

/* The schedulers most array tests run under: sync, threads, cluster on sim:2. */
inline std::vector<Sched> CoreScheds() { return {AllScheds()[0], AllScheds()[1], AllScheds()[3]}; }

struct SchedName {
  std::string operator()(const ::testing::TestParamInfo<Sched> &i) const { return i.param.name; }
};

/* A scope for the arrays a test makes. */
struct Scope {
  Scope() { dtx_array_scope_begin(); }
  ~Scope() { dtx_array_scope_end(); }
};

/* ---- the reference: a plain n-d array of doubles --------------------------------------- */

struct Nd {
  std::vector<int64_t> shape;
  std::vector<double> v;
  dtx_dtype t = DTX_F64;
  int64_t size() const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
  }
  int ndim() const { return static_cast<int>(shape.size()); }
  std::vector<int64_t> strides() const {
    std::vector<int64_t> st(shape.size());
    int64_t s = 1;
    for (int d = ndim() - 1; d >= 0; d--) {
      st[d] = s;
      s *= shape[d];
    }
    return st;
  }
  /* multi-index of flat i */
  std::vector<int64_t> unflat(int64_t i) const {
    std::vector<int64_t> m(shape.size());
    for (int d = ndim() - 1; d >= 0; d--) {
      m[d] = i % shape[d];
      i /= shape[d];
    }
    return m;
  }
  int64_t flat(const std::vector<int64_t> &m) const {
    int64_t f = 0;
    for (int d = 0; d < ndim(); d++) f = f * shape[d] + m[d];
    return f;
  }
};

inline std::string ShapeStr(const std::vector<int64_t> &s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

/* binary16 bits to a double (exact), independent of the library */
inline double HalfBitsToDouble(uint16_t h) {
  int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v = e == 0 ? std::ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : std::ldexp(1024 + m, e - 25);
  return (h & 0x8000) ? -v : v;
}
/* a double to binary16 bits, rounded to nearest even (through long double
 * arithmetic on the exact candidates: independent of the library) */
inline uint16_t DoubleToHalfBits(double x) {
  uint16_t s = std::signbit(x) ? 0x8000 : 0;
  if (std::isnan(x)) return static_cast<uint16_t>(s | 0x7e00);
  double a = std::fabs(x);
  uint16_t lo = 0, hi = 0x7c00;
  while (lo < hi) { /* the last half <= a */
    uint16_t mid = static_cast<uint16_t>((lo + hi + 1) / 2);
    if (HalfBitsToDouble(mid) <= a)
      lo = mid;
    else
      hi = static_cast<uint16_t>(mid - 1);
  }
  uint16_t best = lo;
  if (best == 0x7c00) return static_cast<uint16_t>(s | best);
  double below = HalfBitsToDouble(best), above = best == 0x7bff ? 65536.0 : HalfBitsToDouble(best + 1);
  double dl = a - below, du = above - a;
  uint16_t r = dl < du ? best : du < dl ? static_cast<uint16_t>(best + 1) : (best & 1) ? best + 1 : best;
  return static_cast<uint16_t>(s | r);
}

inline double Read(const void *p, dtx_dtype t, int64_t i) {
  switch (t) {
    case DTX_I8:
      return static_cast<const int8_t *>(p)[i];
    case DTX_I16:
      return static_cast<const int16_t *>(p)[i];
    case DTX_U8:
      return static_cast<const uint8_t *>(p)[i];
    case DTX_U16:
      return static_cast<const uint16_t *>(p)[i];
    case DTX_U32:
      return static_cast<const uint32_t *>(p)[i];
    case DTX_U64:
      return static_cast<double>(static_cast<const uint64_t *>(p)[i]);
    case DTX_F16:
      return HalfBitsToDouble(static_cast<const uint16_t *>(p)[i]);
    case DTX_BOOL:
      return static_cast<const uint8_t *>(p)[i];
    case DTX_I32:
      return static_cast<const int32_t *>(p)[i];
    case DTX_I64:
      return static_cast<double>(static_cast<const int64_t *>(p)[i]);
    case DTX_F32:
      return static_cast<const float *>(p)[i];
    default:
      return static_cast<const double *>(p)[i];
  }
}
inline void Write(void *p, dtx_dtype t, int64_t i, double x) {
  switch (t) {
    case DTX_I8:
      static_cast<int8_t *>(p)[i] = static_cast<int8_t>(x);
      break;
    case DTX_I16:
      static_cast<int16_t *>(p)[i] = static_cast<int16_t>(x);
      break;
    case DTX_U8:
      static_cast<uint8_t *>(p)[i] = static_cast<uint8_t>(x);
      break;
    case DTX_U16:
      static_cast<uint16_t *>(p)[i] = static_cast<uint16_t>(x);
      break;
    case DTX_U32:
      static_cast<uint32_t *>(p)[i] = static_cast<uint32_t>(x);
      break;
    case DTX_U64:
      static_cast<uint64_t *>(p)[i] = static_cast<uint64_t>(x);
      break;
    case DTX_F16:
      static_cast<uint16_t *>(p)[i] = DoubleToHalfBits(x);
      break;
    case DTX_BOOL:
      static_cast<uint8_t *>(p)[i] = x != 0;
      break;
    case DTX_I32:
      static_cast<int32_t *>(p)[i] = static_cast<int32_t>(x);
      break;
    case DTX_I64:
      static_cast<int64_t *>(p)[i] = static_cast<int64_t>(x);
      break;
    case DTX_F32:
      static_cast<float *>(p)[i] = static_cast<float>(x);
      break;
    default:
      static_cast<double *>(p)[i] = x;
      break;
  }
}

inline std::vector<int64_t> Shape(const dtx_array *a) {
  std::vector<int64_t> s;
  for (int d = 0; d < dtx_array_ndim(a); d++) s.push_back(dtx_array_dim(a, d));
  return s;
}

/* Computes a; fails the test (returns an empty Nd) on error. */
inline Nd Get(const dtx_array *a) {
  Nd r;
  if (a == nullptr) {
    ADD_FAILURE() << "array is NULL: " << dtx_last_error();
    return r;
  }
  r.shape = Shape(a);
  r.t = dtx_array_dtype(a);
  std::vector<unsigned char> buf(dtx_array_nbytes(a) + 1);
  dtx_status rc = dtx_array_compute(a, buf.data(), dtx_array_nbytes(a));
  if (rc != DTX_OK) {
    ADD_FAILURE() << "compute: " << dtx_status_name(rc) << ": " << dtx_last_error();
    r.shape.clear();
    return r;
  }
  r.v.resize(static_cast<size_t>(r.size()));
  for (int64_t i = 0; i < r.size(); i++) r.v[i] = Read(buf.data(), r.t, i);
  return r;
}

/* The host bytes of x in dtype x.t. */
inline std::vector<unsigned char> Bytes(const Nd &x) {
  std::vector<unsigned char> b(static_cast<size_t>(x.size()) * dtx_dtype_size(x.t) + 1);
  for (int64_t i = 0; i < x.size(); i++) Write(b.data(), x.t, i, x.v[i]);
  return b;
}

inline dtx_array *Put(dtx_cluster *cl, const Nd &x, const std::vector<int64_t> &chunks) {
  std::vector<unsigned char> b = Bytes(x);
  return dtx_from_host(cl, x.ndim(), x.shape.data(), chunks.data(), x.t, b.data(), DTX_HOST_COPY);
}

/* ---- random cases ------------------------------------------------------------------------ */

inline std::vector<int64_t> RandShape(std::mt19937_64 &rng, int ndim, int64_t max_elems) {
  std::vector<int64_t> s(ndim);
  int64_t total = 1;
  for (int d = 0; d < ndim; d++) {
    int64_t cap = std::max<int64_t>(1, std::min<int64_t>(13, max_elems / total));
    s[d] = 1 + static_cast<int64_t>(rng() % cap);
    total *= s[d];
  }
  return s;
}

/* Chunks from 1 to the length (ragged ends most of the time). */
inline std::vector<int64_t> RandChunks(std::mt19937_64 &rng, const std::vector<int64_t> &shape) {
  std::vector<int64_t> c(shape.size());
  for (size_t d = 0; d < shape.size(); d++) c[d] = 1 + static_cast<int64_t>(rng() % shape[d]);
  return c;
}

inline double RandValue(std::mt19937_64 &rng, dtx_dtype t) {
  switch (t) {
    case DTX_BOOL:
      return static_cast<double>(rng() % 2);
    case DTX_I8:
    case DTX_I16:
    case DTX_I32:
    case DTX_I64:
      return static_cast<double>(static_cast<int64_t>(rng() % 41) - 20);
    case DTX_U8:
    case DTX_U16:
    case DTX_U32:
    case DTX_U64:
      return static_cast<double>(rng() % 41);
    case DTX_F16:
      return HalfBitsToDouble(DoubleToHalfBits(std::uniform_real_distribution<double>(-4, 4)(rng)));
    case DTX_F32:
      return static_cast<float>(std::uniform_real_distribution<double>(-4, 4)(rng));
    default:
      return std::uniform_real_distribution<double>(-4, 4)(rng);
  }
}

inline Nd RandNd(std::mt19937_64 &rng, const std::vector<int64_t> &shape, dtx_dtype t) {
  Nd x;
  x.shape = shape;
  x.t = t;
  x.v.resize(static_cast<size_t>(x.size()));
  for (auto &e : x.v) e = RandValue(rng, t);
  return x;
}

inline const std::vector<dtx_dtype> &AllTypes() {
  static const std::vector<dtx_dtype> v = {DTX_BOOL, DTX_I32, DTX_I64, DTX_F32, DTX_F64};
  return v;
}
/* every dtype, those of issue 11 included */
inline const std::vector<dtx_dtype> &EveryDtype() {
  static const std::vector<dtx_dtype> v = {DTX_BOOL, DTX_I8,  DTX_I16, DTX_I32, DTX_I64, DTX_U8,
                                           DTX_U16,  DTX_U32, DTX_U64, DTX_F16, DTX_F32, DTX_F64};
  return v;
}

/* ---- complex arrays ---------------------------------------------------------------------- */

/* A generator from a fresh seed, printed with what it is for. */
inline std::mt19937_64 Rng(const char *what) {
  unsigned seed = std::random_device{}();
  std::printf("%s: seed %u\n", what, seed);
  return std::mt19937_64(seed);
}

/* n complex values with normal parts (sd 3). */
inline std::vector<std::complex<double>> RandC(std::mt19937_64 &rng, size_t n) {
  std::normal_distribution<double> g(0.0, 3.0);
  std::vector<std::complex<double>> v(n);
  for (auto &x : v) x = std::complex<double>(g(rng), g(rng));
  return v;
}

/* A part for order tests: small integers (ties), normal values, inf, -inf,
 * NaN (probability pnan). */
inline double CxPart(std::mt19937_64 &rng, double pnan) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> g(0.0, 2.0);
  double p = u(rng);
  if (p < pnan) return std::numeric_limits<double>::quiet_NaN();
  if (p < pnan + 0.04) return std::numeric_limits<double>::infinity();
  if (p < pnan + 0.08) return -std::numeric_limits<double>::infinity();
  if (p < pnan + 0.4) return g(rng);
  return static_cast<double>(std::uniform_int_distribution<int>(-2, 2)(rng));
}
inline std::vector<std::complex<double>> CxVals(std::mt19937_64 &rng, size_t n, double pnan) {
  std::vector<std::complex<double>> v(n);
  for (auto &x : v) x = std::complex<double>(CxPart(rng, pnan), CxPart(rng, pnan));
  return v;
}

/* A complex128 array of v (C order). */
inline dtx_array *FromC(dtx_cluster *cl, const std::vector<int64_t> &shape,
                        const std::vector<int64_t> &chunks, const std::vector<std::complex<double>> &v) {
  return dtx_from_host(cl, static_cast<int>(shape.size()), shape.data(), chunks.data(), DTX_C128, v.data(),
                       DTX_HOST_COPY);
}

/* The values of complex a (complex64 ones widened; empty, with a failure,
 * for NULL or a real array). */
inline std::vector<std::complex<double>> GetC(const dtx_array *a) {
  EXPECT_NE(a, nullptr) << dtx_last_error();
  if (a == nullptr) return {};
  dtx_dtype t = dtx_array_dtype(a);
  EXPECT_TRUE(t == DTX_C128 || t == DTX_C64) << dtx_dtype_name(t);
  std::vector<std::complex<double>> v(static_cast<size_t>(dtx_array_size(a)));
  if (t != DTX_C64) {
    EXPECT_EQ(dtx_array_compute_as(a, DTX_C128, v.data(), v.size() * sizeof v[0]), DTX_OK)
        << dtx_last_error();
    return v;
  }
  std::vector<std::complex<float>> f(v.size());
  EXPECT_EQ(dtx_array_compute_as(a, DTX_C64, f.data(), f.size() * sizeof f[0]), DTX_OK) << dtx_last_error();
  for (size_t i = 0; i < f.size(); i++) v[i] = std::complex<double>(f[i]);
  return v;
}

/* ---- comparison ------------------------------------------------------------------------- */

inline bool Close(double got, double want, double rtol, double atol) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= atol + rtol * std::fabs(want);
}

/* Tolerance for results of dtype t computed through a few operations. */
inline double Rtol(dtx_dtype t) { return t == DTX_F32 ? 2e-5 : t == DTX_F64 ? 1e-11 : 0; }

inline ::testing::AssertionResult SameNd(const Nd &got, const Nd &want, double rtol, double atol = 0) {
  if (got.shape != want.shape)
    return ::testing::AssertionFailure() << "shape " << ShapeStr(got.shape) << " != " << ShapeStr(want.shape);
  if (got.t != want.t)
    return ::testing::AssertionFailure()
           << "dtype " << dtx_dtype_name(got.t) << " != " << dtx_dtype_name(want.t);
  for (int64_t i = 0; i < want.size(); i++)
    if (!Close(got.v[i], want.v[i], rtol, atol))
      return ::testing::AssertionFailure()
             << "element " << i << " " << ShapeStr(want.unflat(i)) << ": got " << got.v[i] << ", want "
             << want.v[i] << " (shape " << ShapeStr(want.shape) << ")";
  return ::testing::AssertionSuccess();
}

/* Rounds a double reference to what dtype t holds (the reference computes in
 * double; casting at the end is what the array does for exact operations). */
inline double As(dtx_dtype t, double x) {
  switch (t) {
    case DTX_BOOL:
      return x != 0;
    case DTX_I32:
      return static_cast<double>(static_cast<int32_t>(x));
    case DTX_I64:
      return static_cast<double>(static_cast<int64_t>(x));
    case DTX_F32:
      return static_cast<float>(x);
    case DTX_F16:
      return HalfBitsToDouble(DoubleToHalfBits(x));
    default:
      return x;
  }
}

}  // namespace dtxa_test

#endif /* DTX_TESTS_ARRAY_UTIL_H */
