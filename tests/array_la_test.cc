/*
 * tests/array_la_test.cc - dtx/linalg.h against NumPy's linalg semantics:
 * residual and orthogonality bounds (||A - QR|| / ||A|| and ||Q^T Q - I|| at
 * most c eps n, R upper triangular), singular values against a one-chunk
 * (plain LAPACK) reference, lstsq against the normal equations on
 * well-conditioned input, backward errors only on ill-conditioned input
 * (cond 1e10), Cholesky / solve / inv residuals, norms against direct sums;
 * tall, square and ragged chunkings, under sync, threads and the cluster
 * scheduler on simulated GPUs. Seeds are printed. Builds without LAPACKE
 * skip (the functions must then say DTX_ENOTSUP).
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <string>

#include "array_util.h"

using namespace dtxa_test;

/* tests/array_la_helper.c: ops on the DTXA_BLOCKS primitive (0 alias, 1 flip, 2 forgetful) */
extern "C" dtx_array *la_helper_blocks(dtx_array *x, int which, int64_t oc);

namespace {

struct Mat {
  int64_t m = 0, n = 0;
  std::vector<double> v;
  double &at(int64_t i, int64_t j) { return v[static_cast<size_t>(i * n + j)]; }
  double at(int64_t i, int64_t j) const { return v[static_cast<size_t>(i * n + j)]; }
};

Mat Zeros(int64_t m, int64_t n) {
  Mat a;
  a.m = m;
  a.n = n;
  a.v.assign(static_cast<size_t>(m * n), 0.0);
  return a;
}

Mat Randn(std::mt19937_64 &rng, int64_t m, int64_t n) {
  std::normal_distribution<double> d;
  Mat a = Zeros(m, n);
  for (auto &e : a.v) e = d(rng);
  return a;
}

Mat Mul(const Mat &a, const Mat &b, bool ta = false, bool tb = false) {
  int64_t m = ta ? a.n : a.m, k = ta ? a.m : a.n, n = tb ? b.m : b.n;
  Mat c = Zeros(m, n);
  for (int64_t i = 0; i < m; i++)
    for (int64_t p = 0; p < k; p++) {
      double x = ta ? a.at(p, i) : a.at(i, p);
      for (int64_t j = 0; j < n; j++) c.at(i, j) += x * (tb ? b.at(j, p) : b.at(p, j));
    }
  return c;
}

double Fro(const Mat &a) {
  double s = 0;
  for (double x : a.v) s += x * x;
  return std::sqrt(s);
}

Mat Sub(const Mat &a, const Mat &b) {
  Mat c = a;
  for (size_t i = 0; i < c.v.size(); i++) c.v[i] -= b.v[i];
  return c;
}

Mat Eye(int64_t n) {
  Mat a = Zeros(n, n);
  for (int64_t i = 0; i < n; i++) a.at(i, i) = 1;
  return a;
}

/* Modified Gram-Schmidt twice: an m x n (m >= n) matrix with orthonormal columns. */
Mat Orth(std::mt19937_64 &rng, int64_t m, int64_t n) {
  Mat a = Randn(rng, m, n);
  for (int pass = 0; pass < 2; pass++)
    for (int64_t j = 0; j < n; j++) {
      for (int64_t p = 0; p < j; p++) {
        double d = 0;
        for (int64_t i = 0; i < m; i++) d += a.at(i, p) * a.at(i, j);
        for (int64_t i = 0; i < m; i++) a.at(i, j) -= d * a.at(i, p);
      }
      double nr = 0;
      for (int64_t i = 0; i < m; i++) nr += a.at(i, j) * a.at(i, j);
      nr = std::sqrt(nr);
      for (int64_t i = 0; i < m; i++) a.at(i, j) /= nr;
    }
  return a;
}

/* U diag(s) V^T with singular values from 1 down to 1/cond, geometrically. */
Mat WithCond(std::mt19937_64 &rng, int64_t m, int64_t n, double cond) {
  Mat u = Orth(rng, m, n), v = Orth(rng, n, n);
  for (int64_t j = 0; j < n; j++) {
    double s = n > 1 ? std::pow(cond, -static_cast<double>(j) / static_cast<double>(n - 1)) : 1.0;
    for (int64_t i = 0; i < m; i++) u.at(i, j) *= s;
  }
  return Mul(u, v, false, true);
}

dtx_array *PutM(dtx_cluster *cl, const Mat &a, int64_t c0, int64_t c1, dtx_dtype t = DTX_F64) {
  Nd x;
  x.shape = {a.m, a.n};
  x.t = t;
  x.v = a.v;
  return Put(cl, x, {c0, c1});
}

Mat GetM(const dtx_array *a) {
  Nd x = Get(a);
  Mat r;
  if (x.shape.size() == 2) {
    r.m = x.shape[0];
    r.n = x.shape[1];
  } else if (x.shape.size() == 1) {
    r.m = x.shape[0];
    r.n = 1;
  } else {
    r.m = r.n = 1;
  }
  r.v = x.v;
  return r;
}

double Eps(dtx_dtype t) { return t == DTX_F32 ? FLT_EPSILON : DBL_EPSILON; }

class ArrayLa : public ::testing::TestWithParam<Sched> {
 protected:
  void SetUp() override {
    dtx_array *q = nullptr, *r = nullptr;
    Scope sc;
    dtx_array *z = dtx_ones(cl(), 2, (const int64_t[]){4, 2}, nullptr, DTX_F64);
    dtx_status rc = dtx_linalg_tsqr(z, &q, &r);
    if (rc == DTX_ENOTSUP) GTEST_SKIP() << "no LAPACKE in this build: " << dtx_last_error();
    ASSERT_EQ(rc, DTX_OK) << dtx_last_error();
  }
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayLa,
                         ::testing::Values(AllScheds()[0], AllScheds()[1], AllScheds()[3]), SchedName());

/* Checks a = QR: backward error, orthogonality, R upper triangular. */
void CheckQR(const Mat &a, const Mat &q, const Mat &r, double eps, double c) {
  int64_t k = std::min(a.m, a.n);
  ASSERT_EQ(q.m, a.m);
  ASSERT_EQ(q.n, k);
  ASSERT_EQ(r.m, k);
  ASSERT_EQ(r.n, a.n);
  double n = static_cast<double>(std::max(a.m, a.n));
  EXPECT_LE(Fro(Sub(a, Mul(q, r))) / Fro(a), c * eps * n) << "||A - QR|| / ||A||";
  EXPECT_LE(Fro(Sub(Mul(q, q, true), Eye(k))), c * eps * n) << "||Q^T Q - I||";
  for (int64_t i = 0; i < r.m; i++)
    for (int64_t j = 0; j < std::min(i, r.n); j++) EXPECT_EQ(r.at(i, j), 0.0) << "R[" << i << "," << j << "]";
}

}  // namespace

TEST_P(ArrayLa, TsqrTallRaggedManyBlocks) {
  Scope sc;
  struct Case {
    int64_t m, n, c;
  } cases[] = {{100, 7, 13}, {64, 64, 16}, {50, 8, 3}, {200, 4, 5}, {1000, 3, 7}, {9, 12, 4}, {5, 5, 5}};
  for (const Case &cs : cases) {
    for (dtx_dtype t : {DTX_F64, DTX_F32}) {
      uint64_t seed = 7000 + static_cast<uint64_t>(cs.m * 31 + cs.n * 7 + cs.c) + (t == DTX_F32);
      SCOPED_TRACE(::testing::Message() << "seed " << seed << " " << cs.m << "x" << cs.n << " chunk " << cs.c
                                        << " " << dtx_dtype_name(t));
      std::mt19937_64 rng(seed);
      Mat a = Randn(rng, cs.m, cs.n);
      if (t == DTX_F32)
        for (auto &e : a.v) e = static_cast<float>(e);
      dtx_array *q = nullptr, *r = nullptr;
      ASSERT_EQ(dtx_linalg_qr(PutM(cl(), a, cs.c, cs.n, t), &q, &r), DTX_OK) << dtx_last_error();
      EXPECT_EQ(dtx_array_dtype(q), t);
      EXPECT_EQ(dtx_array_chunk(q, 0), std::min(cs.c, cs.m));
      CheckQR(a, GetM(q), GetM(r), Eps(t), 20);
    }
  }
}

/* Blocks taller than 2 x max(1024, 8 n) rows go through LAPACK's
 * tall-skinny QR (latsqr / orgtsqr_row) inside the task, not geqrf. */
TEST_P(ArrayLa, TsqrTallBlocksUseTheTallSkinnyKernel) {
  Scope sc;
  struct Case {
    int64_t m, n, c;
    double cond;
  } cases[] = {{7000, 5, 7000, 1}, {9001, 33, 4500, 1}, {6000, 12, 2500, 1e9}, {5000, 64, 5000, 1}};
  for (const Case &cs : cases) {
    for (dtx_dtype t : {DTX_F64, DTX_F32}) {
      if (t == DTX_F32 && cs.cond > 1e6) continue; /* no float32 backward error to speak of */
      uint64_t seed = 7200 + static_cast<uint64_t>(cs.m + cs.n + cs.c) + (t == DTX_F32);
      SCOPED_TRACE(::testing::Message() << "seed " << seed << " " << cs.m << "x" << cs.n << " chunk " << cs.c
                                        << " cond " << cs.cond << " " << dtx_dtype_name(t));
      std::mt19937_64 rng(seed);
      Mat a = cs.cond > 1 ? WithCond(rng, cs.m, cs.n, cs.cond) : Randn(rng, cs.m, cs.n);
      if (t == DTX_F32)
        for (auto &e : a.v) e = static_cast<float>(e);
      dtx_array *q = nullptr, *r = nullptr;
      ASSERT_EQ(dtx_linalg_tsqr(PutM(cl(), a, cs.c, cs.n, t), &q, &r), DTX_OK) << dtx_last_error();
      CheckQR(a, GetM(q), GetM(r), Eps(t), 20);
    }
  }
}

TEST_P(ArrayLa, TsqrIllConditionedBackwardError) {
  Scope sc;
  uint64_t seed = 7101;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  Mat a = WithCond(rng, 120, 10, 1e10);
  dtx_array *q = nullptr, *r = nullptr;
  ASSERT_EQ(dtx_linalg_tsqr(PutM(cl(), a, 17, 10), &q, &r), DTX_OK) << dtx_last_error();
  CheckQR(a, GetM(q), GetM(r), DBL_EPSILON, 20);
  /* the SVD: backward error and orthogonality, not the small singular values */
  dtx_array *u = nullptr, *s = nullptr, *vt = nullptr;
  ASSERT_EQ(dtx_linalg_svd(PutM(cl(), a, 17, 10), &u, &s, &vt), DTX_OK) << dtx_last_error();
  Mat U = GetM(u), S = GetM(s), V = GetM(vt);
  Mat us = U;
  for (int64_t i = 0; i < us.m; i++)
    for (int64_t j = 0; j < us.n; j++) us.at(i, j) *= S.v[static_cast<size_t>(j)];
  EXPECT_LE(Fro(Sub(a, Mul(us, V))) / Fro(a), 20 * DBL_EPSILON * 120);
  EXPECT_LE(Fro(Sub(Mul(U, U, true), Eye(10))), 20 * DBL_EPSILON * 120);
  EXPECT_NEAR(S.v[0], 1.0, 1e-12);
}

TEST_P(ArrayLa, SvdTallWideAndOneChunkMatchLapack) {
  Scope sc;
  struct Case {
    int64_t m, n, c0, c1;
  } cases[] = {{90, 6, 11, 6}, {6, 90, 6, 11}, {30, 20, 30, 20}, {40, 40, 9, 40}};
  for (const Case &cs : cases) {
    uint64_t seed = 7200 + static_cast<uint64_t>(cs.m + cs.c0);
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " " << cs.m << "x" << cs.n);
    std::mt19937_64 rng(seed);
    Mat a = Randn(rng, cs.m, cs.n);
    int64_t k = std::min(cs.m, cs.n);
    dtx_array *u = nullptr, *s = nullptr, *vt = nullptr, *s1 = nullptr;
    ASSERT_EQ(dtx_linalg_svd(PutM(cl(), a, cs.c0, cs.c1), &u, &s, &vt), DTX_OK) << dtx_last_error();
    /* reference: the same matrix as one chunk (one gesdd) */
    ASSERT_EQ(dtx_linalg_svd(PutM(cl(), a, cs.m, cs.n), nullptr, &s1, nullptr), DTX_OK) << dtx_last_error();
    Mat U = GetM(u), S = GetM(s), V = GetM(vt), S1 = GetM(s1);
    ASSERT_EQ(U.m, cs.m);
    ASSERT_EQ(U.n, k);
    ASSERT_EQ(V.m, k);
    ASSERT_EQ(V.n, cs.n);
    for (int64_t j = 0; j < k; j++) {
      EXPECT_NEAR(S.v[j], S1.v[j], 1e-12 * S1.v[0] * 100) << "sigma " << j;
      if (j > 0) {
        EXPECT_LE(S.v[j], S.v[j - 1]);
      }
    }
    Mat us = U;
    for (int64_t i = 0; i < us.m; i++)
      for (int64_t j = 0; j < us.n; j++) us.at(i, j) *= S.v[static_cast<size_t>(j)];
    EXPECT_LE(Fro(Sub(a, Mul(us, V))) / Fro(a), 1e-13 * 100);
    EXPECT_LE(Fro(Sub(Mul(V, V, false, true), Eye(k))), 1e-13 * 100);
    for (int64_t i = 0; i < k; i++) { /* svd_flip: each row of V^T sums to >= 0 */
      double rs = 0;
      for (int64_t j = 0; j < cs.n; j++) rs += V.at(i, j);
      EXPECT_GE(rs, 0.0) << "row " << i;
    }
  }
}

TEST_P(ArrayLa, SvdCompressedFindsLowRank) {
  Scope sc;
  for (int iters : {0, 2}) {
    uint64_t seed = 7300 + static_cast<uint64_t>(iters);
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " n_power_iter " << iters);
    std::mt19937_64 rng(seed);
    int64_t m = 200, n = 60, r = 5;
    Mat a = Mul(Randn(rng, m, r), Randn(rng, r, n));
    dtx_array *x = PutM(cl(), a, 45, 25);
    dtx_array *u = nullptr, *s = nullptr, *vt = nullptr, *s1 = nullptr;
    ASSERT_EQ(dtx_linalg_svd_compressed(x, r, iters, 10, 42, &u, &s, &vt), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtx_linalg_svd(PutM(cl(), a, m, n), nullptr, &s1, nullptr), DTX_OK) << dtx_last_error();
    Mat U = GetM(u), S = GetM(s), V = GetM(vt), S1 = GetM(s1);
    ASSERT_EQ(U.m, m);
    ASSERT_EQ(U.n, r);
    ASSERT_EQ(V.m, r);
    ASSERT_EQ(V.n, n);
    for (int64_t j = 0; j < r; j++) EXPECT_NEAR(S.v[j], S1.v[j], 1e-9 * S1.v[0]) << "sigma " << j;
    Mat us = U;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < r; j++) us.at(i, j) *= S.v[static_cast<size_t>(j)];
    EXPECT_LE(Fro(Sub(a, Mul(us, V))) / Fro(a), 1e-10);
  }
  dtx_array *u = nullptr;
  EXPECT_EQ(dtx_linalg_svd_compressed(dtx_ones(cl(), 2, (const int64_t[]){10, 5}, nullptr, DTX_F64), 6, 0, 10,
                                      1, &u, nullptr, nullptr),
            DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("k is 6"), std::string::npos) << dtx_last_error();
}

TEST_P(ArrayLa, LstsqMatchesNormalEquations) {
  Scope sc;
  for (int nrhs : {0, 3}) { /* 0: a 1-d b */
    uint64_t seed = 7400 + static_cast<uint64_t>(nrhs);
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " nrhs " << nrhs);
    std::mt19937_64 rng(seed);
    int64_t m = 75, n = 6, k = nrhs == 0 ? 1 : nrhs;
    Mat a = Randn(rng, m, n), b = Randn(rng, m, k);
    /* normal equations by Gauss-Jordan: (A^T A) x = A^T b, well conditioned here */
    Mat g = Mul(a, a, true), h = Mul(a, b, true);
    for (int64_t c = 0; c < n; c++)
      for (int64_t i = 0; i < n; i++) {
        if (i == c) continue;
        double f = g.at(i, c) / g.at(c, c);
        for (int64_t j = 0; j < n; j++) g.at(i, j) -= f * g.at(c, j);
        for (int64_t j = 0; j < k; j++) h.at(i, j) -= f * h.at(c, j);
      }
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < k; j++) h.at(i, j) /= g.at(i, i);
    dtx_array *bx;
    if (nrhs == 0) {
      Nd bv;
      bv.shape = {m};
      bv.v = b.v;
      bx = Put(cl(), bv, {20});
    } else {
      bx = PutM(cl(), b, 20, 2);
    }
    dtx_array *x = nullptr, *res = nullptr, *rank = nullptr, *s = nullptr, *s1 = nullptr;
    ASSERT_EQ(dtx_linalg_lstsq(PutM(cl(), a, 20, n), bx, &x, &res, &rank, &s), DTX_OK) << dtx_last_error();
    EXPECT_EQ(dtx_array_ndim(x), nrhs == 0 ? 1 : 2);
    Mat X = GetM(x), R = GetM(res);
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < k; j++) EXPECT_NEAR(X.at(i, j), h.at(i, j), 1e-10) << i << "," << j;
    Mat d = Sub(b, Mul(a, X));
    ASSERT_EQ(R.v.size(), static_cast<size_t>(k));
    for (int64_t j = 0; j < k; j++) {
      double ss = 0;
      for (int64_t i = 0; i < m; i++) ss += d.at(i, j) * d.at(i, j);
      EXPECT_NEAR(R.v[j], ss, 1e-10 * ss);
    }
    int64_t rk = -1;
    ASSERT_EQ(dtx_array_compute(rank, &rk, sizeof rk), DTX_OK) << dtx_last_error();
    EXPECT_EQ(rk, n);
    ASSERT_EQ(dtx_linalg_svd(PutM(cl(), a, m, n), nullptr, &s1, nullptr), DTX_OK);
    Mat S = GetM(s), S1 = GetM(s1);
    for (int64_t j = 0; j < n; j++) EXPECT_NEAR(S.v[j], S1.v[j], 1e-12 * S1.v[0] * 10);
  }
}

TEST_P(ArrayLa, LstsqIllConditionedBackwardError) {
  Scope sc;
  uint64_t seed = 7450;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  int64_t m = 80, n = 8;
  Mat a = WithCond(rng, m, n, 1e10), b = Randn(rng, m, 1);
  dtx_array *x = nullptr, *rank = nullptr;
  ASSERT_EQ(dtx_linalg_lstsq(PutM(cl(), a, 25, n), PutM(cl(), b, 25, 1), &x, nullptr, &rank, nullptr), DTX_OK)
      << dtx_last_error();
  Mat X = GetM(x);
  /* the residual is orthogonal to a's range up to the backward error */
  Mat r = Sub(b, Mul(a, X));
  Mat atr = Mul(a, r, true);
  EXPECT_LE(Fro(atr) / (Fro(a) * (Fro(a) * Fro(X) + Fro(b))), 100 * DBL_EPSILON * m);
  int64_t rk = -1;
  ASSERT_EQ(dtx_array_compute(rank, &rk, sizeof rk), DTX_OK);
  EXPECT_EQ(rk, n); /* 1e-10 is above max(m, n) * eps */
}

TEST_P(ArrayLa, CholeskyBlockedMatchesOneChunk) {
  Scope sc;
  for (int64_t c : {37, 8, 5}) {
    uint64_t seed = 7500 + static_cast<uint64_t>(c);
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " chunk " << c);
    std::mt19937_64 rng(seed);
    int64_t n = 37;
    Mat b = Randn(rng, n, n), a = Mul(b, b, true);
    for (int64_t i = 0; i < n; i++) a.at(i, i) += n;
    dtx_array *l = dtx_linalg_cholesky(PutM(cl(), a, c, c), 0);
    ASSERT_NE(l, nullptr) << dtx_last_error();
    Mat L = GetM(l);
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = i + 1; j < n; j++) EXPECT_EQ(L.at(i, j), 0.0);
    EXPECT_LE(Fro(Sub(a, Mul(L, L, false, true))) / Fro(a), 100 * DBL_EPSILON * n);
    Mat L1 = GetM(dtx_linalg_cholesky(PutM(cl(), a, n, n), 0));
    EXPECT_LE(Fro(Sub(L, L1)) / Fro(L1), 1e-12);
    Mat U = GetM(dtx_linalg_cholesky(PutM(cl(), a, c, c), 1));
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n; j++) EXPECT_EQ(U.at(i, j), L.at(j, i));
  }
  /* float32 */
  std::mt19937_64 rng(7590);
  Mat b = Randn(rng, 20, 20), a = Mul(b, b, true);
  for (int64_t i = 0; i < 20; i++) a.at(i, i) += 20;
  for (auto &e : a.v) e = static_cast<float>(e);
  dtx_array *l = dtx_linalg_cholesky(PutM(cl(), a, 6, 6, DTX_F32), 0);
  ASSERT_NE(l, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dtype(l), DTX_F32);
  Mat L = GetM(l);
  EXPECT_LE(Fro(Sub(a, Mul(L, L, false, true))) / Fro(a), 100 * FLT_EPSILON * 20);
}

TEST_P(ArrayLa, CholeskyErrors) {
  Scope sc;
  Mat a = Eye(10);
  a.at(7, 7) = -1;
  dtx_array *l = dtx_linalg_cholesky(PutM(cl(), a, 4, 4), 0);
  ASSERT_NE(l, nullptr);
  std::vector<double> buf(100);
  EXPECT_EQ(dtx_array_compute(l, buf.data(), buf.size() * sizeof(double)), DTX_ETASK);
  EXPECT_NE(std::string(dtx_last_error()).find("not positive definite"), std::string::npos)
      << dtx_last_error();
  EXPECT_EQ(dtx_linalg_cholesky(PutM(cl(), Eye(10), 4, 5), 0), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("rechunk to (4, 4)"), std::string::npos) << dtx_last_error();
}

TEST_P(ArrayLa, SolveAndInv) {
  Scope sc;
  uint64_t seed = 7600;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  int64_t n = 23;
  Mat a = Randn(rng, n, n), b = Randn(rng, n, 4);
  for (int64_t i = 0; i < n; i++) a.at(i, i) += 5;
  dtx_array *x = dtx_linalg_solve(PutM(cl(), a, 7, 7), PutM(cl(), b, 7, 3));
  ASSERT_NE(x, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_chunk(x, 0), 7);
  Mat X = GetM(x);
  EXPECT_LE(Fro(Sub(Mul(a, X), b)) / (Fro(a) * Fro(X)), 100 * DBL_EPSILON * n);
  Nd bv;
  bv.shape = {n};
  for (int64_t i = 0; i < n; i++) bv.v.push_back(b.at(i, 0));
  Mat x1 = GetM(dtx_linalg_solve(PutM(cl(), a, 7, 7), Put(cl(), bv, {5})));
  for (int64_t i = 0; i < n; i++) EXPECT_NEAR(x1.v[i], X.at(i, 0), 1e-12);
  dtx_array *ai = dtx_linalg_inv(PutM(cl(), a, 7, 7));
  ASSERT_NE(ai, nullptr) << dtx_last_error();
  Mat AI = GetM(ai);
  EXPECT_LE(Fro(Sub(Mul(a, AI), Eye(n))), 100 * DBL_EPSILON * n * 10);
  /* integers promote to float64 */
  Nd ia;
  ia.shape = {2, 2};
  ia.t = DTX_I32;
  ia.v = {2, 1, 1, 3};
  dtx_array *ii = dtx_linalg_inv(Put(cl(), ia, {1, 2}));
  ASSERT_NE(ii, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dtype(ii), DTX_F64);
  Mat I2 = GetM(ii);
  EXPECT_NEAR(I2.at(0, 0), 0.6, 1e-15);
  EXPECT_NEAR(I2.at(0, 1), -0.2, 1e-15);
  /* singular */
  Mat z = Zeros(3, 3);
  std::vector<double> buf(9);
  EXPECT_EQ(dtx_array_compute(dtx_linalg_inv(PutM(cl(), z, 2, 2)), buf.data(), 9 * sizeof(double)),
            DTX_ETASK);
  EXPECT_NE(std::string(dtx_last_error()).find("singular"), std::string::npos) << dtx_last_error();
}

TEST_P(ArrayLa, NormsMatchDirectSums) {
  Scope sc;
  uint64_t seed = 7700;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  Mat a = Randn(rng, 17, 9);
  dtx_array *x = PutM(cl(), a, 5, 9);
  auto scalar = [](dtx_array *r) {
    double v = NAN;
    EXPECT_NE(r, nullptr) << dtx_last_error();
    if (r != nullptr) {
      EXPECT_EQ(dtx_array_compute(r, &v, sizeof v), DTX_OK) << dtx_last_error();
    }
    return v;
  };
  double fro = Fro(a), one = 0, mone = 1e300, inf = 0, minf = 1e300;
  for (int64_t j = 0; j < a.n; j++) {
    double s = 0;
    for (int64_t i = 0; i < a.m; i++) s += std::fabs(a.at(i, j));
    one = std::max(one, s);
    mone = std::min(mone, s);
  }
  for (int64_t i = 0; i < a.m; i++) {
    double s = 0;
    for (int64_t j = 0; j < a.n; j++) s += std::fabs(a.at(i, j));
    inf = std::max(inf, s);
    minf = std::min(minf, s);
  }
  EXPECT_NEAR(scalar(dtx_linalg_norm(x, DTX_NORM_DEFAULT, 0, nullptr, 0, 0)), fro, 1e-12 * fro);
  EXPECT_NEAR(scalar(dtx_linalg_norm(x, DTX_NORM_FRO, 0, nullptr, 0, 0)), fro, 1e-12 * fro);
  EXPECT_NEAR(scalar(dtx_linalg_norm(x, DTX_NORM_P, 1, nullptr, 0, 0)), one, 1e-12 * one);
  EXPECT_NEAR(scalar(dtx_linalg_norm(x, DTX_NORM_P, -1, nullptr, 0, 0)), mone, 1e-12 * one);
  EXPECT_NEAR(scalar(dtx_linalg_norm(x, DTX_NORM_INF, 0, nullptr, 0, 0)), inf, 1e-12 * inf);
  EXPECT_NEAR(scalar(dtx_linalg_norm(x, DTX_NORM_NEG_INF, 0, nullptr, 0, 0)), minf, 1e-12 * inf);
  dtx_array *s1 = nullptr;
  ASSERT_EQ(dtx_linalg_svd(PutM(cl(), a, 17, 9), nullptr, &s1, nullptr), DTX_OK);
  Mat S = GetM(s1);
  double nuc = 0;
  for (double v : S.v) nuc += v;
  EXPECT_NEAR(scalar(dtx_linalg_norm(x, DTX_NORM_P, 2, nullptr, 0, 0)), S.v[0], 1e-12 * S.v[0]);
  EXPECT_NEAR(scalar(dtx_linalg_norm(x, DTX_NORM_P, -2, nullptr, 0, 0)), S.v.back(), 1e-12 * S.v[0]);
  EXPECT_NEAR(scalar(dtx_linalg_norm(x, DTX_NORM_NUC, 0, nullptr, 0, 0)), nuc, 1e-12 * nuc);
  /* vector norms along axis 1, with keepdims */
  for (double p : {1.0, 2.0, 3.5, 0.0, HUGE_VAL, -HUGE_VAL}) {
    SCOPED_TRACE(::testing::Message() << "p " << p);
    int ax = 1;
    dtx_array *r = dtx_linalg_norm(x, DTX_NORM_P, p, &ax, 1, 1);
    ASSERT_NE(r, nullptr) << dtx_last_error();
    ASSERT_EQ(dtx_array_ndim(r), 2);
    EXPECT_EQ(dtx_array_dim(r, 1), 1);
    Mat R = GetM(r);
    for (int64_t i = 0; i < a.m; i++) {
      double w = 0;
      if (std::isinf(p)) w = p > 0 ? 0 : 1e300;
      for (int64_t j = 0; j < a.n; j++) {
        double v = std::fabs(a.at(i, j));
        if (std::isinf(p))
          w = p > 0 ? std::max(w, v) : std::min(w, v);
        else if (p == 0)
          w += v != 0;
        else
          w += std::pow(v, p);
      }
      if (!std::isinf(p) && p != 0) w = std::pow(w, 1 / p);
      EXPECT_NEAR(R.v[i], w, 1e-12 * std::max(1.0, w)) << "row " << i;
    }
  }
  EXPECT_EQ(dtx_linalg_norm(x, DTX_NORM_P, 3, nullptr, 0, 0), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("invalid norm order"), std::string::npos) << dtx_last_error();
}

TEST_P(ArrayLa, ShapeErrorsSayWhatToFix) {
  Scope sc;
  dtx_array *x = dtx_ones(cl(), 2, (const int64_t[]){20, 6}, (const int64_t[]){5, 3}, DTX_F64), *q, *r;
  EXPECT_EQ(dtx_linalg_tsqr(x, &q, &r), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("rechunk to (5, 6)"), std::string::npos) << dtx_last_error();
  dtx_array *u;
  EXPECT_EQ(dtx_linalg_svd(x, &u, nullptr, nullptr), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("one column or one row of chunks"), std::string::npos);
  EXPECT_EQ(dtx_linalg_solve(x, x), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("square"), std::string::npos) << dtx_last_error();
  dtx_array *v = dtx_ones(cl(), 1, (const int64_t[]){6}, nullptr, DTX_F64);
  EXPECT_EQ(dtx_linalg_qr(v, &q, &r), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("2-d"), std::string::npos) << dtx_last_error();
}

/* The primitive under linalg (array/blocks.h): aliasing input chunks, output
 * chunks made from whichever input chunks they need, and a callback that
 * breaks the contract (a chunk without a task) caught at build time. */
TEST_P(ArrayLa, BlocksPrimitiveAliasesReadsAnyChunkAndChecksItsContract) {
  Scope sc;
  for (int r = 0; r < 6; r++) {
    uint64_t seed = 7800 + static_cast<uint64_t>(r);
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int64_t n = 1 + static_cast<int64_t>(rng() % 60), c = 1 + static_cast<int64_t>(rng() % n),
            oc = 1 + static_cast<int64_t>(rng() % n);
    Nd x = RandNd(rng, {n}, DTX_F64);
    Nd want = x;
    std::reverse(want.v.begin(), want.v.end());
    dtx_array *a = dtx_mul(Put(cl(), x, {c}), dtx_scalar(cl(), 1.0)); /* a fused input */
    EXPECT_TRUE(SameNd(Get(la_helper_blocks(a, 0, 0)), x, 0)) << "alias, chunk " << c;
    dtx_array *f = la_helper_blocks(a, 1, oc);
    EXPECT_EQ(dtx_array_chunk(f, 0), std::min(oc, n));
    EXPECT_TRUE(SameNd(Get(f), want, 0)) << "flip, chunks " << c << " -> " << oc;
    EXPECT_TRUE(SameNd(Get(dtx_add(la_helper_blocks(f, 1, c), dtx_scalar(cl(), 0.0))), x, 0)) << "flip twice";
  }
  std::vector<double> buf(10);
  dtx_array *bad =
      la_helper_blocks(dtx_ones(cl(), 1, (const int64_t[]){10}, (const int64_t[]){4}, DTX_F64), 2, 0);
  EXPECT_EQ(dtx_array_compute(bad, buf.data(), buf.size() * sizeof(double)), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("without a task"), std::string::npos) << dtx_last_error();
}
