/*
 * tests/array_la_complex_test.cc - dtx/linalg.h on complex64 / complex128
 * matrices against NumPy's semantics, checked with std::complex loops:
 * ||A - QR|| and ||Q^H Q - I|| (tall with several row chunks, square, wide,
 * ill-conditioned), ||A - U S V^H|| with S real and descending and equal to
 * the singular values of the real embedding [[Re, -Im], [Im, Re]] (each
 * twice; computed by dtx's float64 SVD), svd_flip's half-space, the
 * randomized SVD of a low-rank matrix, lstsq against the complex normal
 * equations, ||L L^H - A|| (blocked), ||A X - B|| and ||A inv(A) - I||,
 * NumPy's result dtypes with mixed real / complex operands, the nuclear and
 * 2-norms, and the errors of bad input (NaN included). Seeds are printed (fixed per case);
 * under sync, threads and the cluster scheduler on two simulated GPUs.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <complex>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "array_util.h"
#include "dtx/complex.h"
#include "dtx/linalg.h"

using namespace dtxa_test;
using cd = std::complex<double>;
using cf = std::complex<float>;

namespace {

struct CMat {
  int64_t m = 0, n = 0;
  std::vector<cd> v;
  cd &at(int64_t i, int64_t j) { return v[static_cast<size_t>(i * n + j)]; }
  cd at(int64_t i, int64_t j) const { return v[static_cast<size_t>(i * n + j)]; }
};

CMat Zeros(int64_t m, int64_t n) {
  CMat a;
  a.m = m;
  a.n = n;
  a.v.assign(static_cast<size_t>(m * n), cd(0, 0));
  return a;
}

CMat Randn(std::mt19937_64 &rng, int64_t m, int64_t n) {
  std::normal_distribution<double> d;
  CMat a = Zeros(m, n);
  for (auto &e : a.v) e = cd(d(rng), d(rng));
  return a;
}

/* op(a) op(b), op the conjugate transpose where ha / hb */
CMat Mul(const CMat &a, const CMat &b, bool ha = false, bool hb = false) {
  int64_t m = ha ? a.n : a.m, k = ha ? a.m : a.n, n = hb ? b.m : b.n;
  CMat c = Zeros(m, n);
  for (int64_t i = 0; i < m; i++)
    for (int64_t p = 0; p < k; p++) {
      cd x = ha ? std::conj(a.at(p, i)) : a.at(i, p);
      for (int64_t j = 0; j < n; j++) c.at(i, j) += x * (hb ? std::conj(b.at(j, p)) : b.at(p, j));
    }
  return c;
}

double Fro(const CMat &a) {
  double s = 0;
  for (cd x : a.v) s += std::norm(x);
  return std::sqrt(s);
}

CMat Sub(const CMat &a, const CMat &b) {
  CMat c = a;
  for (size_t i = 0; i < c.v.size(); i++) c.v[i] -= b.v[i];
  return c;
}

CMat Eye(int64_t n) {
  CMat a = Zeros(n, n);
  for (int64_t i = 0; i < n; i++) a.at(i, i) = 1;
  return a;
}

/* Gram-Schmidt twice: m x n (m >= n) with orthonormal columns. */
CMat Orth(std::mt19937_64 &rng, int64_t m, int64_t n) {
  CMat a = Randn(rng, m, n);
  for (int pass = 0; pass < 2; pass++)
    for (int64_t j = 0; j < n; j++) {
      for (int64_t p = 0; p < j; p++) {
        cd d = 0;
        for (int64_t i = 0; i < m; i++) d += std::conj(a.at(i, p)) * a.at(i, j);
        for (int64_t i = 0; i < m; i++) a.at(i, j) -= d * a.at(i, p);
      }
      double nr = 0;
      for (int64_t i = 0; i < m; i++) nr += std::norm(a.at(i, j));
      nr = std::sqrt(nr);
      for (int64_t i = 0; i < m; i++) a.at(i, j) /= nr;
    }
  return a;
}

/* U diag(s) V^H with singular values from 1 down to 1/cond. */
CMat WithCond(std::mt19937_64 &rng, int64_t m, int64_t n, double cond) {
  CMat u = Orth(rng, m, n), v = Orth(rng, n, n);
  for (int64_t j = 0; j < n; j++) {
    double s = n > 1 ? std::pow(cond, -static_cast<double>(j) / static_cast<double>(n - 1)) : 1.0;
    for (int64_t i = 0; i < m; i++) u.at(i, j) *= s;
  }
  return Mul(u, v, false, true);
}

CMat Round32(CMat a) {
  for (auto &e : a.v) e = cd(static_cast<float>(e.real()), static_cast<float>(e.imag()));
  return a;
}

dtx_array *PutC(dtx_cluster *cl, const CMat &a, int64_t c0, int64_t c1, dtx_dtype t = DTX_C128) {
  const int64_t shape[2] = {a.m, a.n}, ch[2] = {c0, c1};
  if (t == DTX_C128) return dtx_from_host(cl, 2, shape, ch, t, a.v.data(), DTX_HOST_COPY);
  std::vector<cf> f(a.v.begin(), a.v.end());
  return dtx_from_host(cl, 2, shape, ch, t, f.data(), DTX_HOST_COPY);
}

dtx_array *PutV(dtx_cluster *cl, const std::vector<cd> &v, int64_t c) {
  const int64_t shape[1] = {static_cast<int64_t>(v.size())};
  return dtx_from_host(cl, 1, shape, &c, DTX_C128, v.data(), DTX_HOST_COPY);
}

/* A complex array's values (as complex128), a 1-d one as a column. */
CMat GetMat(const dtx_array *a) {
  CMat r;
  EXPECT_NE(a, nullptr) << dtx_last_error();
  if (a == nullptr) return r;
  int nd = dtx_array_ndim(a);
  r.m = nd >= 1 ? dtx_array_dim(a, 0) : 1;
  r.n = nd == 2 ? dtx_array_dim(a, 1) : 1;
  r.v.resize(static_cast<size_t>(r.m * r.n));
  EXPECT_EQ(dtx_array_compute(dtx_astype(a, DTX_C128), r.v.data(), r.v.size() * sizeof(cd)), DTX_OK)
      << dtx_last_error();
  return r;
}

std::vector<double> GetR(const dtx_array *a) {
  std::vector<double> v;
  EXPECT_NE(a, nullptr) << dtx_last_error();
  if (a == nullptr) return v;
  v.resize(static_cast<size_t>(dtx_array_size(a)));
  EXPECT_EQ(dtx_array_compute(dtx_astype(a, DTX_F64), v.data(), v.size() * sizeof(double)), DTX_OK)
      << dtx_last_error();
  return v;
}

/* The singular values of a from dtx's float64 SVD of [[Re, -Im], [Im, Re]]
 * (each of a's twice there), descending. */
std::vector<double> EmbeddedSv(dtx_cluster *cl, const CMat &a) {
  Nd e;
  e.t = DTX_F64;
  e.shape = {2 * a.m, 2 * a.n};
  e.v.assign(static_cast<size_t>(4 * a.m * a.n), 0.0);
  for (int64_t i = 0; i < a.m; i++)
    for (int64_t j = 0; j < a.n; j++) {
      cd x = a.at(i, j);
      e.v[static_cast<size_t>(i * 2 * a.n + j)] = x.real();
      e.v[static_cast<size_t>(i * 2 * a.n + a.n + j)] = -x.imag();
      e.v[static_cast<size_t>((a.m + i) * 2 * a.n + j)] = x.imag();
      e.v[static_cast<size_t>((a.m + i) * 2 * a.n + a.n + j)] = x.real();
    }
  dtx_array *s = nullptr;
  EXPECT_EQ(dtx_linalg_svd(Put(cl, e, {2 * a.m, 2 * a.n}), nullptr, &s, nullptr), DTX_OK) << dtx_last_error();
  std::vector<double> all = GetR(s), r;
  for (size_t i = 0; i < all.size(); i += 2) r.push_back(all[i]);
  r.resize(static_cast<size_t>(std::min(a.m, a.n)));
  return r;
}

bool IsCx(dtx_dtype t) { return t == DTX_C64 || t == DTX_C128; }
double Eps(dtx_dtype t) { return t == DTX_C64 ? FLT_EPSILON : DBL_EPSILON; }
dtx_dtype Part(dtx_dtype t) { return t == DTX_C64 ? DTX_F32 : DTX_F64; }

class ArrayLaComplex : public ::testing::TestWithParam<Sched> {
 protected:
  void SetUp() override {
    Scope sc;
    dtx_array *q = nullptr, *r = nullptr;
    dtx_status rc = dtx_linalg_tsqr(dtx_ones(cl(), 2, (const int64_t[]){4, 2}, nullptr, DTX_C128), &q, &r);
    if (rc == DTX_ENOTSUP) GTEST_SKIP() << "no LAPACKE in this build: " << dtx_last_error();
    ASSERT_EQ(rc, DTX_OK) << dtx_last_error();
  }
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayLaComplex,
                         ::testing::Values(AllScheds()[0], AllScheds()[1], AllScheds()[3]), SchedName());

std::mt19937_64 Seeded(uint64_t seed, const std::string &what) {
  std::printf("%s: seed %llu\n", what.c_str(), static_cast<unsigned long long>(seed));
  return std::mt19937_64(seed);
}

void CheckQR(const CMat &a, const CMat &q, const CMat &r, double eps, double c) {
  int64_t k = std::min(a.m, a.n);
  ASSERT_EQ(q.m, a.m);
  ASSERT_EQ(q.n, k);
  ASSERT_EQ(r.m, k);
  ASSERT_EQ(r.n, a.n);
  double n = static_cast<double>(std::max(a.m, a.n));
  EXPECT_LE(Fro(Sub(a, Mul(q, r))) / Fro(a), c * eps * n) << "||A - QR|| / ||A||";
  EXPECT_LE(Fro(Sub(Mul(q, q, true), Eye(k))), c * eps * n) << "||Q^H Q - I||";
  for (int64_t i = 0; i < r.m; i++)
    for (int64_t j = 0; j < std::min(i, r.n); j++)
      EXPECT_EQ(r.at(i, j), cd(0, 0)) << "R[" << i << "," << j << "]";
}

/* ||A - U S V^H||, orthonormal U and V, S descending >= 0, svd_flip's rows. */
void CheckSvd(const CMat &a, const CMat &u, const std::vector<double> &s, const CMat &vh, double eps,
              double c) {
  int64_t k = std::min(a.m, a.n);
  ASSERT_EQ(u.m, a.m);
  ASSERT_EQ(u.n, k);
  ASSERT_EQ(static_cast<int64_t>(s.size()), k);
  ASSERT_EQ(vh.m, k);
  ASSERT_EQ(vh.n, a.n);
  double n = static_cast<double>(std::max(a.m, a.n));
  CMat us = u;
  for (int64_t i = 0; i < us.m; i++)
    for (int64_t j = 0; j < us.n; j++) us.at(i, j) *= s[static_cast<size_t>(j)];
  EXPECT_LE(Fro(Sub(a, Mul(us, vh))) / Fro(a), c * eps * n) << "||A - U S V^H|| / ||A||";
  EXPECT_LE(Fro(Sub(Mul(u, u, true), Eye(k))), c * eps * n) << "||U^H U - I||";
  EXPECT_LE(Fro(Sub(Mul(vh, vh, false, true), Eye(k))), c * eps * n) << "||V^H V - I||";
  for (int64_t j = 0; j < k; j++) {
    EXPECT_GE(s[static_cast<size_t>(j)], 0.0);
    if (j > 0) {
      EXPECT_LE(s[static_cast<size_t>(j)], s[static_cast<size_t>(j - 1)]) << "sigma " << j;
    }
    cd rs = 0; /* Dask's svd_flip: the row sum >= 0 in NumPy's complex order */
    for (int64_t p = 0; p < vh.n; p++) rs += vh.at(j, p);
    EXPECT_TRUE(rs.real() > 0 || (rs.real() == 0 && rs.imag() >= 0)) << "row " << j << " sums to " << rs;
  }
}

}  // namespace

TEST_P(ArrayLaComplex, QrTallSquareWideAndIllConditioned) {
  Scope sc;
  struct Case {
    int64_t m, n, c;
    double cond;
  } cases[] = {{100, 7, 13, 1}, {64, 64, 16, 1}, {50, 8, 3, 1},
               {9, 12, 4, 1},   {5, 5, 5, 1},    {120, 10, 17, 1e10}};
  for (const Case &cs : cases)
    for (dtx_dtype t : {DTX_C128, DTX_C64}) {
      if (t == DTX_C64 && cs.cond > 1e6) continue;
      uint64_t seed = 9100 + static_cast<uint64_t>(cs.m * 31 + cs.n * 7 + cs.c) + (t == DTX_C64);
      SCOPED_TRACE(::testing::Message() << "seed " << seed << " " << cs.m << "x" << cs.n << " chunk " << cs.c
                                        << " cond " << cs.cond << " " << dtx_dtype_name(t));
      std::mt19937_64 rng = Seeded(seed, "qr");
      CMat a = cs.cond > 1 ? WithCond(rng, cs.m, cs.n, cs.cond) : Randn(rng, cs.m, cs.n);
      if (t == DTX_C64) a = Round32(a);
      dtx_array *q = nullptr, *r = nullptr;
      ASSERT_EQ(dtx_linalg_qr(PutC(cl(), a, cs.c, cs.n, t), &q, &r), DTX_OK) << dtx_last_error();
      EXPECT_EQ(dtx_array_dtype(q), t);
      EXPECT_EQ(dtx_array_dtype(r), t);
      EXPECT_EQ(dtx_array_chunk(q, 0), std::min(cs.c, cs.m));
      CheckQR(a, GetMat(q), GetMat(r), Eps(t), 20);
    }
}

TEST_P(ArrayLaComplex, SvdTallWideOneChunkMatchesTheRealEmbedding) {
  Scope sc;
  struct Case {
    int64_t m, n, c0, c1;
  } cases[] = {{90, 6, 11, 6}, {6, 90, 6, 11}, {30, 20, 30, 20}, {40, 40, 9, 40}, {1, 5, 1, 5}};
  for (const Case &cs : cases)
    for (dtx_dtype t : {DTX_C128, DTX_C64}) {
      uint64_t seed = 9200 + static_cast<uint64_t>(cs.m + cs.c0) + (t == DTX_C64);
      SCOPED_TRACE(::testing::Message()
                   << "seed " << seed << " " << cs.m << "x" << cs.n << " " << dtx_dtype_name(t));
      std::mt19937_64 rng = Seeded(seed, "svd");
      CMat a = Randn(rng, cs.m, cs.n);
      if (t == DTX_C64) a = Round32(a);
      dtx_array *u = nullptr, *s = nullptr, *vh = nullptr;
      ASSERT_EQ(dtx_linalg_svd(PutC(cl(), a, cs.c0, cs.c1, t), &u, &s, &vh), DTX_OK) << dtx_last_error();
      EXPECT_EQ(dtx_array_dtype(u), t);
      EXPECT_EQ(dtx_array_dtype(s), Part(t));
      EXPECT_EQ(dtx_array_dtype(vh), t);
      std::vector<double> S = GetR(s), want = EmbeddedSv(cl(), a);
      CheckSvd(a, GetMat(u), S, GetMat(vh), Eps(t), 40);
      for (size_t j = 0; j < want.size(); j++)
        EXPECT_NEAR(S[j], want[j], 100 * Eps(t) * want[0]) << "sigma " << j;
    }
}

TEST_P(ArrayLaComplex, SvdIllConditionedBackwardError) {
  Scope sc;
  std::mt19937_64 rng = Seeded(9250, "svd cond 1e10");
  CMat a = WithCond(rng, 120, 10, 1e10);
  dtx_array *u = nullptr, *s = nullptr, *vh = nullptr;
  ASSERT_EQ(dtx_linalg_svd(PutC(cl(), a, 17, 10), &u, &s, &vh), DTX_OK) << dtx_last_error();
  std::vector<double> S = GetR(s);
  CheckSvd(a, GetMat(u), S, GetMat(vh), DBL_EPSILON, 20);
  EXPECT_NEAR(S[0], 1.0, 1e-12);
  EXPECT_NEAR(S[9], 1e-10, 1e-12); /* absolute error eps ||A|| */
}

TEST_P(ArrayLaComplex, SvdCompressedFindsLowRank) {
  Scope sc;
  for (int iters : {0, 2}) {
    uint64_t seed = 9300 + static_cast<uint64_t>(iters);
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " n_power_iter " << iters);
    std::mt19937_64 rng = Seeded(seed, "svd_compressed");
    int64_t m = 200, n = 60, r = 5;
    CMat a = Mul(Randn(rng, m, r), Randn(rng, r, n));
    dtx_array *u = nullptr, *s = nullptr, *vh = nullptr;
    ASSERT_EQ(dtx_linalg_svd_compressed(PutC(cl(), a, 45, 25), r, iters, 10, 42, &u, &s, &vh), DTX_OK)
        << dtx_last_error();
    EXPECT_EQ(dtx_array_dtype(u), DTX_C128);
    EXPECT_EQ(dtx_array_dtype(s), DTX_F64);
    CMat U = GetMat(u), V = GetMat(vh);
    std::vector<double> S = GetR(s), want = EmbeddedSv(cl(), a);
    ASSERT_EQ(U.m, m);
    ASSERT_EQ(U.n, r);
    ASSERT_EQ(V.m, r);
    ASSERT_EQ(V.n, n);
    for (int64_t j = 0; j < r; j++) EXPECT_NEAR(S[j], want[j], 1e-9 * want[0]) << "sigma " << j;
    CMat us = U;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < r; j++) us.at(i, j) *= S[static_cast<size_t>(j)];
    EXPECT_LE(Fro(Sub(a, Mul(us, V))) / Fro(a), 1e-10);
  }
}

/* x from the normal equations (A^H A) x = A^H b by Gauss-Jordan. */
CMat NormalEquations(const CMat &a, const CMat &b) {
  CMat g = Mul(a, a, true), h = Mul(a, b, true);
  int64_t n = a.n, k = b.n;
  for (int64_t c = 0; c < n; c++)
    for (int64_t i = 0; i < n; i++) {
      if (i == c) continue;
      cd f = g.at(i, c) / g.at(c, c);
      for (int64_t j = 0; j < n; j++) g.at(i, j) -= f * g.at(c, j);
      for (int64_t j = 0; j < k; j++) h.at(i, j) -= f * h.at(c, j);
    }
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < k; j++) h.at(i, j) /= g.at(i, i);
  return h;
}

TEST_P(ArrayLaComplex, LstsqMatchesNormalEquations) {
  Scope sc;
  for (int nrhs : {0, 3}) { /* 0: a 1-d b */
    uint64_t seed = 9400 + static_cast<uint64_t>(nrhs);
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " nrhs " << nrhs);
    std::mt19937_64 rng = Seeded(seed, "lstsq");
    int64_t m = 75, n = 6, k = nrhs == 0 ? 1 : nrhs;
    CMat a = Randn(rng, m, n), b = Randn(rng, m, k), want = NormalEquations(a, b);
    dtx_array *bx = nrhs == 0 ? PutV(cl(), b.v, 20) : PutC(cl(), b, 20, 2);
    dtx_array *x = nullptr, *res = nullptr, *rank = nullptr, *s = nullptr;
    ASSERT_EQ(dtx_linalg_lstsq(PutC(cl(), a, 20, n), bx, &x, &res, &rank, &s), DTX_OK) << dtx_last_error();
    EXPECT_EQ(dtx_array_ndim(x), nrhs == 0 ? 1 : 2);
    EXPECT_EQ(dtx_array_dtype(x), DTX_C128);
    EXPECT_EQ(dtx_array_dtype(res), DTX_F64);
    EXPECT_EQ(dtx_array_dtype(s), DTX_F64);
    CMat X = GetMat(x);
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < k; j++) EXPECT_LT(std::abs(X.at(i, j) - want.at(i, j)), 1e-10) << i << "," << j;
    CMat d = Sub(b, Mul(a, X));
    std::vector<double> R = GetR(res);
    ASSERT_EQ(R.size(), static_cast<size_t>(k));
    for (int64_t j = 0; j < k; j++) {
      double ss = 0;
      for (int64_t i = 0; i < m; i++) ss += std::norm(d.at(i, j));
      EXPECT_NEAR(R[static_cast<size_t>(j)], ss, 1e-10 * ss);
    }
    int64_t rk = -1;
    ASSERT_EQ(dtx_array_compute(rank, &rk, sizeof rk), DTX_OK) << dtx_last_error();
    EXPECT_EQ(rk, n);
    std::vector<double> S = GetR(s), sv = EmbeddedSv(cl(), a);
    for (int64_t j = 0; j < n; j++) EXPECT_NEAR(S[j], sv[j], 1e-12 * sv[0] * 10);
  }
}

TEST_P(ArrayLaComplex, LstsqIllConditionedBackwardError) {
  Scope sc;
  std::mt19937_64 rng = Seeded(9460, "lstsq cond 1e10");
  int64_t m = 80, n = 8;
  CMat a = WithCond(rng, m, n, 1e10), b = Randn(rng, m, 1);
  dtx_array *x = nullptr, *rank = nullptr;
  ASSERT_EQ(dtx_linalg_lstsq(PutC(cl(), a, 25, n), PutC(cl(), b, 25, 1), &x, nullptr, &rank, nullptr), DTX_OK)
      << dtx_last_error();
  CMat X = GetMat(x);
  /* the residual is orthogonal to a's range up to the backward error */
  CMat r = Sub(b, Mul(a, X));
  EXPECT_LE(Fro(Mul(a, r, true)) / (Fro(a) * (Fro(a) * Fro(X) + Fro(b))), 100 * DBL_EPSILON * m);
  int64_t rk = -1;
  ASSERT_EQ(dtx_array_compute(rank, &rk, sizeof rk), DTX_OK);
  EXPECT_EQ(rk, n);
  /* complex64: the residual's orthogonality in float32 */
  CMat a32 = Round32(Randn(rng, m, n)), b32 = Round32(b);
  ASSERT_EQ(dtx_linalg_lstsq(PutC(cl(), a32, 25, n, DTX_C64), PutC(cl(), b32, 25, 1, DTX_C64), &x, nullptr,
                             nullptr, nullptr),
            DTX_OK)
      << dtx_last_error();
  EXPECT_EQ(dtx_array_dtype(x), DTX_C64);
  X = GetMat(x);
  r = Sub(b32, Mul(a32, X));
  EXPECT_LE(Fro(Mul(a32, r, true)) / (Fro(a32) * (Fro(a32) * Fro(X) + Fro(b32))), 100 * FLT_EPSILON * m);
}

/* NumPy's result dtypes: complex64 with float32, complex128 otherwise. */
TEST_P(ArrayLaComplex, MixedRealAndComplexOperandsPromoteAsNumPy) {
  Scope sc;
  std::mt19937_64 rng = Seeded(9450, "promotion");
  int64_t n = 6;
  CMat a = Randn(rng, n, n), b = Randn(rng, n, 2);
  for (auto &e : a.v) e = cd(std::round(e.real() * 4), std::round(e.imag() * 4)); /* exact in any dtype */
  for (int64_t i = 0; i < n; i++) a.at(i, i) += 40;
  Nd ar;
  ar.t = DTX_F64;
  ar.shape = {n, n};
  for (cd x : a.v) ar.v.push_back(x.real());
  struct Case {
    dtx_dtype ta, tb, want;
  } cases[] = {{DTX_F32, DTX_C64, DTX_C64},   {DTX_F64, DTX_C64, DTX_C128}, {DTX_I32, DTX_C64, DTX_C128},
               {DTX_F32, DTX_C128, DTX_C128}, {DTX_C64, DTX_F32, DTX_C64},  {DTX_C64, DTX_F64, DTX_C128}};
  for (const Case &cs : cases) {
    SCOPED_TRACE(::testing::Message() << dtx_dtype_name(cs.ta) << " with " << dtx_dtype_name(cs.tb));
    dtx_array *xa = IsCx(cs.ta) ? PutC(cl(), a, 3, 3, cs.ta) : dtx_astype(Put(cl(), ar, {3, 3}), cs.ta);
    CMat bb = b;
    if (!IsCx(cs.tb))
      for (auto &e : bb.v) e = cd(std::round(e.real() * 4), 0);
    dtx_array *xb =
        IsCx(cs.tb) ? PutC(cl(), bb, 3, 2, cs.tb) : dtx_astype(dtx_real(PutC(cl(), bb, 3, 2)), cs.tb);
    dtx_array *x = dtx_linalg_solve(xa, xb);
    ASSERT_NE(x, nullptr) << dtx_last_error();
    EXPECT_EQ(dtx_array_dtype(x), cs.want);
    CMat A = GetMat(dtx_astype(xa, DTX_C128)), B = GetMat(dtx_astype(xb, DTX_C128)), X = GetMat(x);
    double eps = cs.want == DTX_C64 ? FLT_EPSILON : DBL_EPSILON;
    EXPECT_LE(Fro(Sub(Mul(A, X), B)) / (Fro(A) * Fro(X)), 100 * eps * n);
    /* lstsq (one column of chunks) of the same dtypes */
    dtx_array *xl = nullptr;
    const int64_t rows[2] = {3, n};
    ASSERT_EQ(dtx_linalg_lstsq(dtx_rechunk(xa, rows), xb, &xl, nullptr, nullptr, nullptr), DTX_OK)
        << dtx_last_error();
    EXPECT_EQ(dtx_array_dtype(xl), cs.want);
  }
}

TEST_P(ArrayLaComplex, CholeskyBlockedMatchesOneChunk) {
  Scope sc;
  for (int64_t c : {37, 8, 5}) {
    uint64_t seed = 9500 + static_cast<uint64_t>(c);
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " chunk " << c);
    std::mt19937_64 rng = Seeded(seed, "cholesky");
    int64_t n = 37;
    CMat b = Randn(rng, n, n), a = Mul(b, b, false, true);
    for (int64_t i = 0; i < n; i++) a.at(i, i) += static_cast<double>(n);
    dtx_array *l = dtx_linalg_cholesky(PutC(cl(), a, c, c), 0);
    ASSERT_NE(l, nullptr) << dtx_last_error();
    EXPECT_EQ(dtx_array_dtype(l), DTX_C128);
    CMat L = GetMat(l);
    for (int64_t i = 0; i < n; i++) {
      EXPECT_EQ(L.at(i, i).imag(), 0.0) << "L[" << i << "," << i << "] is real";
      for (int64_t j = i + 1; j < n; j++) EXPECT_EQ(L.at(i, j), cd(0, 0));
    }
    EXPECT_LE(Fro(Sub(a, Mul(L, L, false, true))) / Fro(a), 100 * DBL_EPSILON * n);
    CMat L1 = GetMat(dtx_linalg_cholesky(PutC(cl(), a, n, n), 0));
    EXPECT_LE(Fro(Sub(L, L1)) / Fro(L1), 1e-12);
    CMat U = GetMat(dtx_linalg_cholesky(PutC(cl(), a, c, c), 1)); /* L^H */
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n; j++) EXPECT_EQ(U.at(i, j), std::conj(L.at(j, i)));
  }
  std::mt19937_64 rng = Seeded(9590, "cholesky complex64");
  CMat b = Randn(rng, 20, 20), a = Mul(b, b, false, true);
  for (int64_t i = 0; i < 20; i++) a.at(i, i) += 20;
  a = Round32(a);
  for (int64_t i = 0; i < 20; i++) a.at(i, i) = a.at(i, i).real();
  dtx_array *l = dtx_linalg_cholesky(PutC(cl(), a, 6, 6, DTX_C64), 0);
  ASSERT_NE(l, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dtype(l), DTX_C64);
  CMat L = GetMat(l);
  EXPECT_LE(Fro(Sub(a, Mul(L, L, false, true))) / Fro(a), 100 * FLT_EPSILON * 20);
}

TEST_P(ArrayLaComplex, SolveAndInv) {
  Scope sc;
  for (dtx_dtype t : {DTX_C128, DTX_C64}) {
    uint64_t seed = 9600 + (t == DTX_C64);
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " " << dtx_dtype_name(t));
    std::mt19937_64 rng = Seeded(seed, "solve");
    int64_t n = 23;
    CMat a = Randn(rng, n, n), b = Randn(rng, n, 4);
    for (int64_t i = 0; i < n; i++) a.at(i, i) += 5;
    if (t == DTX_C64) {
      a = Round32(a);
      b = Round32(b);
    }
    double eps = Eps(t);
    dtx_array *x = dtx_linalg_solve(PutC(cl(), a, 7, 7, t), PutC(cl(), b, 7, 3, t));
    ASSERT_NE(x, nullptr) << dtx_last_error();
    EXPECT_EQ(dtx_array_dtype(x), t);
    EXPECT_EQ(dtx_array_chunk(x, 0), 7);
    CMat X = GetMat(x);
    EXPECT_LE(Fro(Sub(Mul(a, X), b)) / (Fro(a) * Fro(X)), 100 * eps * n);
    std::vector<cd> bv;
    for (int64_t i = 0; i < n; i++) bv.push_back(b.at(i, 0));
    dtx_array *b1 = dtx_astype(PutV(cl(), bv, 5), t);
    CMat x1 = GetMat(dtx_linalg_solve(PutC(cl(), a, 7, 7, t), b1));
    ASSERT_EQ(x1.v.size(), static_cast<size_t>(n));
    for (int64_t i = 0; i < n; i++) EXPECT_LT(std::abs(x1.v[i] - X.at(i, 0)), 1e3 * eps);
    dtx_array *ai = dtx_linalg_inv(PutC(cl(), a, 7, 7, t));
    ASSERT_NE(ai, nullptr) << dtx_last_error();
    EXPECT_EQ(dtx_array_dtype(ai), t);
    EXPECT_LE(Fro(Sub(Mul(a, GetMat(ai)), Eye(n))), 100 * eps * n * 10);
  }
}

TEST_P(ArrayLaComplex, NuclearAndTwoNormsFromSingularValues) {
  Scope sc;
  std::mt19937_64 rng = Seeded(9700, "norms");
  CMat a = Randn(rng, 17, 9);
  dtx_array *x = PutC(cl(), a, 5, 9);
  std::vector<double> sv = EmbeddedSv(cl(), a);
  double nuc = 0;
  for (double v : sv) nuc += v;
  auto scalar = [](dtx_array *r) {
    std::vector<double> v = GetR(r);
    return v.empty() ? NAN : v[0];
  };
  EXPECT_NEAR(scalar(dtx_linalg_norm(x, DTX_NORM_NUC, 0, nullptr, 0, 0)), nuc, 1e-12 * nuc);
  EXPECT_NEAR(scalar(dtx_linalg_norm(x, DTX_NORM_P, 2, nullptr, 0, 0)), sv[0], 1e-12 * sv[0]);
  EXPECT_NEAR(scalar(dtx_linalg_norm(x, DTX_NORM_P, -2, nullptr, 0, 0)), sv.back(), 1e-12 * sv[0]);
  const int ax[2] = {1, 0};
  dtx_array *k = dtx_linalg_norm(x, DTX_NORM_NUC, 0, ax, 2, 1);
  ASSERT_NE(k, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_ndim(k), 2);
  EXPECT_EQ(dtx_array_dtype(k), DTX_F64);
  EXPECT_NEAR(scalar(k), nuc, 1e-12 * nuc);
  dtx_array *f = dtx_linalg_norm(dtx_astype(x, DTX_C64), DTX_NORM_P, 2, nullptr, 0, 0);
  ASSERT_NE(f, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dtype(f), DTX_F32);
  EXPECT_NEAR(scalar(f), sv[0], 1e-5 * sv[0]);
}

TEST_P(ArrayLaComplex, BadInputSaysWhatToFix) {
  Scope sc;
  dtx_array *x = dtx_ones(cl(), 2, (const int64_t[]){20, 6}, (const int64_t[]){5, 3}, DTX_C128), *q, *r;
  EXPECT_EQ(dtx_linalg_tsqr(x, &q, &r), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("rechunk to (5, 6)"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_linalg_inv(x), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("square"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_linalg_cholesky(x, 0), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("square"), std::string::npos) << dtx_last_error();
  /* not positive definite: a negative diagonal, and a Hermitian matrix with a negative eigenvalue */
  CMat a = Eye(10);
  a.at(7, 7) = -1;
  std::vector<cd> buf(100);
  EXPECT_EQ(dtx_array_compute(dtx_linalg_cholesky(PutC(cl(), a, 4, 4), 0), buf.data(), 100 * sizeof(cd)),
            DTX_ETASK);
  EXPECT_NE(std::string(dtx_last_error()).find("not positive definite"), std::string::npos)
      << dtx_last_error();
  CMat h = Eye(2);
  h.at(0, 1) = cd(0, 2);
  h.at(1, 0) = cd(0, -2); /* eigenvalues 3 and -1 */
  EXPECT_EQ(dtx_array_compute(dtx_linalg_cholesky(PutC(cl(), h, 1, 1), 0), buf.data(), 4 * sizeof(cd)),
            DTX_ETASK);
  EXPECT_NE(std::string(dtx_last_error()).find("not positive definite"), std::string::npos)
      << dtx_last_error();
  /* singular */
  CMat z = Zeros(3, 3);
  z.at(0, 0) = cd(1, 1);
  EXPECT_EQ(dtx_array_compute(dtx_linalg_inv(PutC(cl(), z, 2, 2)), buf.data(), 9 * sizeof(cd)), DTX_ETASK);
  EXPECT_NE(std::string(dtx_last_error()).find("singular"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_linalg_solve(PutC(cl(), Eye(3), 3, 3), PutC(cl(), Eye(4), 4, 4)), nullptr);
  /* NaN: NumPy's answers (LAPACK without LAPACKE's NaN check): NaN spreads
   * through inv, solve, cholesky and qr as the algorithms carry it; the SVD
   * fails (NumPy: "SVD did not converge") */
  CMat nan = Eye(3);
  nan.at(1, 2) = cd(0, NAN);
  auto isnan_c = [](cd z) { return std::isnan(z.real()) || std::isnan(z.imag()); };
  CMat inv_nan = GetMat(dtx_linalg_inv(PutC(cl(), nan, 3, 3)));
  ASSERT_EQ(inv_nan.v.size(), 9u) << dtx_last_error();
  EXPECT_TRUE(isnan_c(inv_nan.at(1, 2)) && isnan_c(inv_nan.at(2, 2))) << "inv: NaN where U holds it";
  CMat sol = GetMat(dtx_linalg_solve(PutC(cl(), Eye(3), 3, 3), PutC(cl(), nan, 3, 3)));
  ASSERT_EQ(sol.v.size(), 9u) << dtx_last_error();
  for (int64_t i = 0; i < 3; i++)
    for (int64_t j = 0; j < 3; j++)
      EXPECT_EQ(isnan_c(sol.at(i, j)), j == 2) << "solve with b's column 2 NaN: " << i << "," << j;
  EXPECT_EQ(sol.at(0, 0), cd(1, 0));
  nan.at(2, 1) = cd(0, NAN);
  CMat l = GetMat(dtx_linalg_cholesky(PutC(cl(), nan, 3, 3), 0));
  ASSERT_EQ(l.v.size(), 9u) << dtx_last_error();
  EXPECT_EQ(l.at(0, 0), cd(1, 0));
  EXPECT_EQ(l.at(1, 1), cd(1, 0));
  EXPECT_TRUE(isnan_c(l.at(2, 1)) && isnan_c(l.at(2, 2))) << "cholesky: the NaN row";
  dtx_array *s = nullptr;
  ASSERT_EQ(dtx_linalg_qr(PutC(cl(), nan, 3, 3), &q, &r), DTX_OK) << dtx_last_error();
  CMat rn = GetMat(r);
  ASSERT_EQ(rn.v.size(), 9u) << dtx_last_error();
  EXPECT_FALSE(isnan_c(rn.at(0, 0))) << "qr: the first column has no NaN";
  EXPECT_TRUE(isnan_c(rn.at(1, 1)) && isnan_c(rn.at(2, 2)));
  ASSERT_EQ(dtx_linalg_svd(PutC(cl(), nan, 3, 3), nullptr, &s, nullptr), DTX_OK) << dtx_last_error();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(dtx_array_compute(dtx_astype(s, DTX_F64), buf.data(), 3 * sizeof(double)), DTX_ETASK);
  EXPECT_NE(std::string(dtx_last_error()).find("holds NaN"), std::string::npos) << dtx_last_error();
  /* empty-free: a one-element matrix */
  CMat one = Zeros(1, 1);
  one.at(0, 0) = cd(0, 2);
  CMat inv1 = GetMat(dtx_linalg_inv(PutC(cl(), one, 1, 1)));
  ASSERT_EQ(inv1.v.size(), 1u);
  EXPECT_NEAR(inv1.v[0].imag(), -0.5, 1e-15);
}
