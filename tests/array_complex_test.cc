/*
 * tests/array_complex_test.cc - complex64 / complex128 arrays (dtx/complex.h)
 * against std::complex loops: making them (from host data, .npy files, parts,
 * scalars), elementwise arithmetic with NumPy 2's dtypes, views and joins,
 * sums and means, products, astype both ways, and the refusal of every
 * operation that does not take them. Random values from printed seeds;
 * ragged chunks; under sync, threads and the cluster scheduler on two
 * simulated GPUs.
 */
#include <gtest/gtest.h>

#include <complex>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "array_util.h"
#include "dtx/complex.h"
#include "dtx/index.h"
#include "dtx/scan.h"
#include "dtx/sort.h"
#include "dtx/stats.h"

using namespace dtxa_test;
using cd = std::complex<double>;
using cf = std::complex<float>;

namespace {

class ArrayComplex : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayComplex, ::testing::ValuesIn(CoreScheds()), SchedName());

void Near(const std::vector<cd> &got, const std::vector<cd> &want, double tol, const std::string &what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); i++) {
    double scale = std::max(1.0, std::abs(want[i]));
    ASSERT_NEAR(got[i].real(), want[i].real(), tol * scale) << what << " at " << i;
    ASSERT_NEAR(got[i].imag(), want[i].imag(), tol * scale) << what << " at " << i;
  }
}

TEST_P(ArrayComplex, RoundTripsAndDtypes) {
  Scope s;
  auto rng = Rng("RoundTrips");
  std::vector<cd> v = RandC(rng, 7 * 5);
  dtx_array *a = FromC(cl(), {7, 5}, {3, 2}, v);
  ASSERT_NE(a, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_nbytes(a), 7u * 5u * 16u);
  EXPECT_EQ(dtx_array_chunk(a, 0), 3);
  EXPECT_EQ(dtx_array_numblocks(a, 1), 3);
  EXPECT_STREQ(dtx_dtype_name(DTX_C64), "complex64");
  EXPECT_EQ(dtx_dtype_size(DTX_C128), 16u);
  EXPECT_EQ(GetC(a), v);
  /* to complex64 and back: each part rounded to float */
  dtx_array *b = dtx_astype(a, DTX_C64);
  ASSERT_NE(b, nullptr) << dtx_last_error();
  std::vector<cf> f(v.size());
  ASSERT_EQ(dtx_array_compute_as(b, DTX_C64, f.data(), f.size() * sizeof(cf)), DTX_OK) << dtx_last_error();
  for (size_t i = 0; i < v.size(); i++) EXPECT_EQ(f[i], cf(static_cast<cd>(v[i])));
  /* a buffer of the wrong dtype is refused */
  std::vector<double> d(v.size() * 2);
  EXPECT_EQ(dtx_array_compute_as(a, DTX_F64, d.data(), d.size() * sizeof(double)), DTX_EINVAL);
  /* parts and conj */
  dtx_array *re = dtx_real(a), *im = dtx_imag(a), *cj = dtx_conj(a);
  ASSERT_TRUE(re && im && cj) << dtx_last_error();
  EXPECT_EQ(dtx_array_dtype(re), DTX_F64);
  std::vector<double> r(v.size()), m(v.size());
  ASSERT_EQ(dtx_array_compute(re, r.data(), r.size() * 8), DTX_OK);
  ASSERT_EQ(dtx_array_compute(im, m.data(), m.size() * 8), DTX_OK);
  std::vector<cd> c = GetC(cj);
  for (size_t i = 0; i < v.size(); i++) {
    EXPECT_EQ(r[i], v[i].real());
    EXPECT_EQ(m[i], v[i].imag());
    EXPECT_EQ(c[i], std::conj(v[i]));
  }
  /* dtx_complex of two reals, and back to real (the real part) and bool */
  dtx_array *z = dtx_complex(re, im);
  ASSERT_NE(z, nullptr) << dtx_last_error();
  EXPECT_EQ(GetC(z), v);
  dtx_array *rr = dtx_astype(a, DTX_F32);
  std::vector<float> rf(v.size());
  ASSERT_EQ(dtx_array_compute(rr, rf.data(), rf.size() * 4), DTX_OK);
  for (size_t i = 0; i < v.size(); i++) EXPECT_EQ(rf[i], static_cast<float>(v[i].real()));
  std::vector<cd> w = {cd(0, 0), cd(0, -0.0), cd(0, 2), cd(-1, 0), cd(NAN, 0)};
  dtx_array *wb = dtx_astype(FromC(cl(), {5}, {2}, w), DTX_BOOL);
  bool got[5];
  ASSERT_EQ(dtx_array_compute(wb, got, sizeof got), DTX_OK) << dtx_last_error();
  EXPECT_EQ(std::vector<bool>(got, got + 5), (std::vector<bool>{false, false, true, true, true}));
}

TEST_P(ArrayComplex, ArithmeticMatchesStdComplexWithNumpysDtypes) {
  Scope s;
  auto rng = Rng("Arithmetic");
  std::vector<cd> x = RandC(rng, 6 * 4), y = RandC(rng, 4);
  dtx_array *a = FromC(cl(), {6, 4}, {4, 3}, x), *b = FromC(cl(), {4}, {3}, y);
  struct Op {
    dtx_binary_op op;
    cd (*f)(cd, cd);
  } ops[] = {{DTX_ADD, [](cd p, cd q) { return p + q; }},
             {DTX_SUB, [](cd p, cd q) { return p - q; }},
             {DTX_MUL, [](cd p, cd q) { return p * q; }},
             {DTX_DIV, [](cd p, cd q) { return p / q; }}};
  for (const Op &o : ops) {
    dtx_array *r = dtx_binary(o.op, a, b);
    ASSERT_NE(r, nullptr) << dtx_last_error();
    ASSERT_EQ(dtx_array_ndim(r), 2);
    std::vector<cd> want(x.size());
    for (size_t i = 0; i < x.size(); i++) want[i] = o.f(x[i], y[i % 4]);
    Near(GetC(r), want, 1e-14, "op " + std::to_string(o.op));
  }
  /* with reals, ints and Python scalars: NEP 50 */
  int32_t iv[4] = {1, -2, 3, 40000};
  dtx_array *i32 =
      dtx_from_host(cl(), 1, std::vector<int64_t>{4}.data(), nullptr, DTX_I32, iv, DTX_HOST_COPY);
  dtx_array *a64 = dtx_astype(a, DTX_C64);
  EXPECT_EQ(dtx_array_dtype(dtx_add(a64, i32)), DTX_C128);
  EXPECT_EQ(dtx_array_dtype(dtx_add(a64, dtx_astype(i32, DTX_I16))), DTX_C64);
  EXPECT_EQ(dtx_array_dtype(dtx_binary_scalar(DTX_MUL, a64, 2.5)), DTX_C64);
  dtx_array *j = dtx_scalar_complex(cl(), 0.0, 1.0);
  EXPECT_EQ(dtx_array_dtype(dtx_mul(dtx_astype(i32, DTX_F32), j)), DTX_C64);
  EXPECT_EQ(dtx_array_dtype(dtx_mul(i32, j)), DTX_C128);
  EXPECT_EQ(dtx_array_dtype(dtx_mul(a64, j)), DTX_C64);
  std::vector<cd> ij = GetC(dtx_mul(i32, j));
  for (int k = 0; k < 4; k++) EXPECT_EQ(ij[k], cd(0, iv[k]));
  std::vector<cd> plus = GetC(dtx_add(b, i32));
  for (int k = 0; k < 4; k++) EXPECT_EQ(plus[k], y[k] + cd(iv[k], 0));
  /* neg, abs (finite, huge, inf with NaN), eq / ne */
  std::vector<cd> e = {cd(3, 4),   cd(-1e300, 1e300), cd(INFINITY, NAN),
                       cd(NAN, 1), cd(0, -0.0),       cd(1e-300, 1e-300)};
  dtx_array *ea = FromC(cl(), {6}, {4}, e);
  std::vector<double> ab(6);
  ASSERT_EQ(dtx_array_compute(dtx_abs(ea), ab.data(), 48), DTX_OK) << dtx_last_error();
  EXPECT_EQ(ab[0], 5.0);
  EXPECT_NEAR(ab[1], std::hypot(1e300, 1e300), 1e285);
  EXPECT_EQ(ab[2], INFINITY);
  EXPECT_TRUE(std::isnan(ab[3]));
  EXPECT_EQ(ab[4], 0.0);
  EXPECT_NEAR(ab[5], std::hypot(1e-300, 1e-300), 1e-315);
  std::vector<cd> ng = GetC(dtx_neg(ea));
  EXPECT_EQ(ng[0], cd(-3, -4));
  bool eqv[6], nev[6];
  ASSERT_EQ(dtx_array_compute(dtx_binary(DTX_EQ, ea, ea), eqv, sizeof eqv), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtx_array_compute(dtx_binary(DTX_NE, ea, ea), nev, sizeof nev), DTX_OK);
  for (int k = 0; k < 6; k++) {
    bool has_nan = std::isnan(e[k].real()) || std::isnan(e[k].imag());
    EXPECT_EQ(eqv[k], !has_nan) << k;
    EXPECT_EQ(nev[k], has_nan) << k;
  }
  /* where picks whole values */
  bool cv[4] = {true, false, false, true};
  dtx_array *c = dtx_from_host(cl(), 1, std::vector<int64_t>{4}.data(), nullptr, DTX_BOOL, cv, DTX_HOST_COPY);
  std::vector<cd> wh = GetC(dtx_where(c, b, dtx_scalar(cl(), 7.0)));
  for (int k = 0; k < 4; k++) EXPECT_EQ(wh[k], cv[k] ? y[k] : cd(7, 0));
}

TEST_P(ArrayComplex, ViewsJoinsAndReductions) {
  Scope s;
  auto rng = Rng("Views");
  std::vector<cd> x = RandC(rng, 5 * 7);
  dtx_array *a = FromC(cl(), {5, 7}, {2, 3}, x);
  /* transpose and a strided slice */
  std::vector<cd> t = GetC(dtx_transpose(a, nullptr));
  for (int i = 0; i < 5; i++)
    for (int k = 0; k < 7; k++) EXPECT_EQ(t[k * 5 + i], x[i * 7 + k]);
  dtx_index idx[2] = {{DTX_INDEX_SLICE, 4, DTX_NONE, -2}, {DTX_INDEX_INT, -1, 0, 0}};
  std::vector<cd> sl = GetC(dtx_slice(a, 2, idx));
  ASSERT_EQ(sl.size(), 3u);
  for (int i = 0; i < 3; i++) EXPECT_EQ(sl[i], x[(4 - 2 * i) * 7 + 6]);
  /* concatenate with a real array (promoted), stack, broadcast, rechunk */
  std::vector<double> rv(2 * 7, 1.5);
  dtx_array *r =
      dtx_from_host(cl(), 2, std::vector<int64_t>{2, 7}.data(), nullptr, DTX_F64, rv.data(), DTX_HOST_COPY);
  dtx_array *parts[2] = {a, r};
  std::vector<cd> cc = GetC(dtx_concatenate(parts, 2, 0));
  ASSERT_EQ(cc.size(), 7u * 7u);
  EXPECT_EQ(cc[3], x[3]);
  EXPECT_EQ(cc[5 * 7 + 2], cd(1.5, 0));
  dtx_array *st2[2] = {a, a};
  dtx_array *st = dtx_stack(st2, 2, -1);
  ASSERT_NE(st, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dim(st, 2), 2);
  EXPECT_EQ(GetC(st)[1], x[0]);
  std::vector<cd> bc = GetC(dtx_broadcast_to(dtx_rechunk(a, std::vector<int64_t>{5, 1}.data()), 3,
                                             std::vector<int64_t>{2, 5, 7}.data()));
  EXPECT_EQ(bc[35 + 8], x[8]);
  /* sums and means over each axis and all, keepdims, empty */
  for (int ax : {0, 1, -1}) {
    std::vector<cd> got = GetC(dtx_sum(a, &ax, 1));
    int axp = ax < 0 ? ax + 2 : ax;
    std::vector<cd> want(axp == 0 ? 7 : 5);
    for (int i = 0; i < 5; i++)
      for (int k = 0; k < 7; k++) want[axp == 0 ? k : i] += x[i * 7 + k];
    Near(got, want, 1e-13, "sum axis " + std::to_string(ax));
  }
  cd total = 0;
  for (cd v : x) total += v;
  Near(GetC(dtx_mean(a, nullptr, 0)), {total / 35.0}, 1e-13, "mean");
  dtx_reduce_opts o = DTX_REDUCE_OPTS_INIT;
  o.keepdims = 1;
  dtx_array *kd = dtx_reduce(a, DTX_SUM, nullptr, 0, &o);
  ASSERT_NE(kd, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_ndim(kd), 2);
  dtx_array *empty = dtx_zeros(cl(), 2, std::vector<int64_t>{0, 3}.data(), nullptr, DTX_C64);
  ASSERT_NE(empty, nullptr) << dtx_last_error();
  std::vector<cf> es(3, cf(9, 9));
  ASSERT_EQ(
      dtx_array_compute_as(dtx_sum(empty, std::vector<int>{0}.data(), 1), DTX_C64, es.data(), 3 * sizeof(cf)),
      DTX_OK)
      << dtx_last_error();
  EXPECT_EQ(es[2], cf(0, 0));
  std::vector<cd> ones = GetC(dtx_full(cl(), 1, std::vector<int64_t>{3}.data(), nullptr, DTX_C128, 2.5));
  EXPECT_EQ(ones[1], cd(2.5, 0));
}

TEST_P(ArrayComplex, CumsumAndUnknownLengths) {
  Scope s;
  auto rng = Rng("Cumsum");
  std::vector<cd> x = RandC(rng, 7 * 3);
  dtx_array *a = FromC(cl(), {7, 3}, {3, 2}, x);
  for (int ax : {0, 1}) {
    std::vector<cd> want = x;
    for (int i = 0; i < 7; i++)
      for (int k = 0; k < 3; k++)
        if (ax == 0 ? i > 0 : k > 0) want[i * 3 + k] += want[ax == 0 ? (i - 1) * 3 + k : i * 3 + k - 1];
    Near(GetC(dtx_cumsum(a, ax)), want, 1e-13, "cumsum axis " + std::to_string(ax));
  }
  EXPECT_EQ(dtx_cumsum(a, 2), nullptr);
  /* the imaginary part of a real array of unknown length: zeros of its length */
  double v[6] = {1, -2, 3, -4, 5, -6};
  dtx_array *r = dtx_from_host(cl(), 1, std::vector<int64_t>{6}.data(), std::vector<int64_t>{4}.data(),
                               DTX_F64, v, DTX_HOST_COPY);
  dtx_array *m = dtx_mask_select(r, dtx_binary_scalar(DTX_GT, r, 0.0));
  ASSERT_NE(m, nullptr) << dtx_last_error();
  void *buf = nullptr;
  int64_t n = -1;
  ASSERT_EQ(dtx_array_compute_alloc(dtx_imag(m), DTX_F64, &buf, &n), DTX_OK) << dtx_last_error();
  EXPECT_EQ(n, 3);
  for (int64_t i = 0; i < n; i++) EXPECT_EQ(static_cast<double *>(buf)[i], 0.0);
  std::free(buf);
}

TEST_P(ArrayComplex, ProductsMatchLoops) {
  Scope s;
  auto rng = Rng("Products");
  const int m = 6, k = 5, n = 4;
  std::vector<cd> x = RandC(rng, m * k), y = RandC(rng, k * n);
  dtx_array *a = FromC(cl(), {m, k}, {4, 2}, x), *b = FromC(cl(), {k, n}, {2, 3}, y);
  std::vector<cd> want(m * n);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++)
      for (int q = 0; q < k; q++) want[i * n + j] += x[i * k + q] * y[q * n + j];
  Near(GetC(dtx_matmul(a, b)), want, 1e-13, "matmul");
  Near(GetC(dtx_dot(a, b)), want, 1e-13, "dot");
  Near(GetC(dtx_tensordot(a, b, std::vector<int>{1}.data(), std::vector<int>{0}.data(), 1)), want, 1e-13,
       "tensordot");
  /* with a real operand: two real products */
  std::vector<double> yr(k * n);
  for (size_t i = 0; i < yr.size(); i++) yr[i] = y[i].real();
  dtx_array *br =
      dtx_from_host(cl(), 2, std::vector<int64_t>{k, n}.data(), nullptr, DTX_F64, yr.data(), DTX_HOST_COPY);
  std::vector<cd> wr(m * n);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++)
      for (int q = 0; q < k; q++) wr[i * n + j] += x[i * k + q] * yr[q * n + j];
  Near(GetC(dtx_matmul(a, br)), wr, 1e-13, "matmul with a real b");
}

TEST_P(ArrayComplex, PersistAndNpy) {
  Scope s;
  auto rng = Rng("Persist");
  std::vector<cd> x = RandC(rng, 9 * 4);
  dtx_array *a = FromC(cl(), {9, 4}, {4, 4}, x), *p = nullptr;
  ASSERT_EQ(dtx_array_persist(dtx_mul(a, a), nullptr, &p), DTX_OK) << dtx_last_error();
  std::vector<cd> sq(x.size());
  for (size_t i = 0; i < x.size(); i++) sq[i] = x[i] * x[i];
  Near(GetC(p), sq, 1e-14, "persisted");
  Near(
      GetC(dtx_add(p, a)),
      [&] {
        std::vector<cd> w(x.size());
        for (size_t i = 0; i < x.size(); i++) w[i] = sq[i] + x[i];
        return w;
      }(),
      1e-14, "persisted + a");
  std::string path = ::testing::TempDir() + "/complex_" + GetParam().name + ".npy";
  ASSERT_EQ(dtx_save_npy(a, path.c_str()), DTX_OK) << dtx_last_error();
  dtx_array *l = nullptr;
  ASSERT_EQ(dtx_load_npy(cl(), path.c_str(), std::vector<int64_t>{3, 2}.data(), &l), DTX_OK)
      << dtx_last_error();
  EXPECT_EQ(dtx_array_dtype(l), DTX_C128);
  EXPECT_EQ(GetC(l), x);
  std::remove(path.c_str());
}

TEST_P(ArrayComplex, EveryOtherOperationRefusesClearly) {
  Scope s;
  dtx_array *a = dtx_zeros(cl(), 2, std::vector<int64_t>{4, 4}.data(), nullptr, DTX_C128);
  ASSERT_NE(a, nullptr) << dtx_last_error();
  dtx_array *refused[] = {dtx_arange(cl(), 0, 4, 1, 2, DTX_C64),
                          dtx_random_uniform(cl(), 1, std::vector<int64_t>{3}.data(), nullptr, DTX_C128, 1)};
  int i = 0;
  for (dtx_array *r : refused) {
    EXPECT_EQ(r, nullptr) << "operation " << i;
    i++;
  }
  /* the other headers' operations: none may take only the real part */
  const double q[1] = {50};
  dtx_array *more[] = {dtx_histogram(a, 4, 0, 1, nullptr, 0, nullptr), dtx_percentile(a, q, 1),
                       dtx_floor_divide(a, a), dtx_mod(a, a)};
  i = 0;
  for (dtx_array *r : more) {
    EXPECT_EQ(r, nullptr) << "other operation " << i;
    i++;
  }
  dtx_array *x = dtx_histogram(a, 4, 0, 1, nullptr, 0, nullptr);
  EXPECT_EQ(x, nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("complex"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_complex(a, a), nullptr);
}

}  // namespace
