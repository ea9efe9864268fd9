/*
 * tests/array_complex_order_test.cc - NumPy's order of complex values
 * (dtx/complex.h) against plain loops written from NumPy's C loops:
 * lt / le / gt / ge (lexicographic, false when a part is NaN but for equal
 * real parts), minimum / maximum (the first operand when it is NaN or wins),
 * clip, and the reductions min / max / argmin / argmax (the first NaN, else
 * the first extreme) over each axis and all of them, keepdims; complex64 and
 * complex128, values with ties in the real part, NaN and inf in either
 * part, ragged chunks, empty and 0-d arrays; and the NaN-skipping
 * reductions (nansum .. nanargmax, NumPy's nanfunctions: a NaN element has
 * either part NaN) and scans (cumprod, a running complex product, nancumsum,
 * nancumprod) against loops; under sync, threads and the
 * cluster scheduler on two simulated GPUs. Random values from printed seeds.
 * NumPy itself is the oracle of tests/array_conformance (complex_cases.py).
 */
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "array_util.h"
#include "dtx/complex.h"
#include "dtx/scan.h"
#include "dtx/stats.h"

using namespace dtxa_test;
using cd = std::complex<double>;
using cf = std::complex<float>;

namespace {

class ArrayComplexOrder : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayComplexOrder, ::testing::ValuesIn(CoreScheds()), SchedName());

const double kNan = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

std::vector<int64_t> GetI(const dtx_array *a) {
  EXPECT_NE(a, nullptr) << dtx_last_error();
  if (a == nullptr) return {};
  EXPECT_EQ(dtx_array_dtype(a), DTX_I64);
  std::vector<int64_t> v(static_cast<size_t>(dtx_array_size(a)));
  EXPECT_EQ(dtx_array_compute_as(a, DTX_I64, v.data(), v.size() * sizeof(int64_t)), DTX_OK)
      << dtx_last_error();
  return v;
}

std::vector<uint8_t> GetB(const dtx_array *a) {
  EXPECT_NE(a, nullptr) << dtx_last_error();
  if (a == nullptr) return {};
  EXPECT_EQ(dtx_array_dtype(a), DTX_BOOL);
  std::vector<uint8_t> v(static_cast<size_t>(dtx_array_size(a)));
  EXPECT_EQ(dtx_array_compute_as(a, DTX_BOOL, v.data(), v.size()), DTX_OK) << dtx_last_error();
  return v;
}

/* the same double: NaN as NaN, zeros with their signs */
bool Same(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

void Exact(const std::vector<cd> &got, const std::vector<cd> &want, const std::string &what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); i++)
    ASSERT_TRUE(Same(got[i].real(), want[i].real()) && Same(got[i].imag(), want[i].imag()))
        << what << " at " << i << ": " << got[i] << " vs " << want[i];
}

/* NumPy's loops (numpy/_core/src/umath/loops.c.src: CLT .. CGE, and the
 * complex minimum / maximum; arraytypes.c.src: argmin / argmax) */
bool IsNan(cd z) { return std::isnan(z.real()) || std::isnan(z.imag()); }
bool Cmp(int op, cd x, cd y) {
  double xr = x.real(), xi = x.imag(), yr = y.real(), yi = y.imag();
  bool ok = !std::isnan(xi) && !std::isnan(yi);
  switch (op) {
    case DTX_LT:
      return (xr < yr && ok) || (xr == yr && xi < yi);
    case DTX_LE:
      return (xr < yr && ok) || (xr == yr && xi <= yi);
    case DTX_GT:
      return (xr > yr && ok) || (xr == yr && xi > yi);
    default:
      return (xr > yr && ok) || (xr == yr && xi >= yi);
  }
}
cd MinMax(int op, cd a, cd b) { return IsNan(a) || Cmp(op == DTX_MINIMUM ? DTX_LE : DTX_GE, a, b) ? a : b; }
/* argmin / argmax of v[0], v[step], ... (n values) */
int64_t Arg(bool low, const cd *v, int64_t n, int64_t step) {
  cd m = v[0];
  int64_t at = 0;
  if (IsNan(m)) return 0;
  for (int64_t i = 1; i < n; i++) {
    cd x = v[i * step];
    bool better = low ? (x.real() < m.real() || (x.real() == m.real() && x.imag() < m.imag()))
                      : (x.real() > m.real() || (x.real() == m.real() && x.imag() > m.imag()));
    if (better || IsNan(x)) {
      m = x;
      at = i;
      if (IsNan(x)) break;
    }
  }
  return at;
}

TEST_P(ArrayComplexOrder, ComparisonsMinimumMaximumAndClip) {
  Scope s;
  auto rng = Rng("Comparisons");
  std::vector<cd> x = CxVals(rng, 9 * 7, 0.08), y = CxVals(rng, 9 * 7, 0.08);
  for (size_t i = 0; i < x.size(); i += 3) y[i] = cd(x[i].real(), y[i].imag()); /* ties in the real part */
  dtx_array *a = FromC(cl(), {9, 7}, {4, 3}, x), *b = FromC(cl(), {9, 7}, {2, 5}, y);
  ASSERT_TRUE(a != nullptr && b != nullptr) << dtx_last_error();
  for (int op : {DTX_LT, DTX_LE, DTX_GT, DTX_GE}) {
    std::vector<uint8_t> got = GetB(dtx_binary(static_cast<dtx_binary_op>(op), a, b));
    std::vector<uint8_t> sc = GetB(dtx_binary_scalar(static_cast<dtx_binary_op>(op), a, 1.0));
    ASSERT_EQ(got.size(), x.size());
    for (size_t i = 0; i < x.size(); i++) {
      ASSERT_EQ(got[i] != 0, Cmp(op, x[i], y[i]))
          << "op " << op << " at " << i << ": " << x[i] << " " << y[i];
      ASSERT_EQ(sc[i] != 0, Cmp(op, x[i], cd(1.0, 0.0))) << "op " << op << " with 1.0 at " << i;
    }
  }
  for (int op : {DTX_MINIMUM, DTX_MAXIMUM}) {
    std::vector<cd> want(x.size());
    for (size_t i = 0; i < x.size(); i++) want[i] = MinMax(op, x[i], y[i]);
    Exact(GetC(dtx_binary(static_cast<dtx_binary_op>(op), a, b)), want, "minimum / maximum");
  }
  const double bounds[][2] = {{0.5, 2.0}, {-1.0, 1.0}, {kNan, 2.0}, {1.0, kNan}, {3.0, 1.0}};
  for (const auto &lh : bounds) {
    std::vector<cd> want(x.size());
    for (size_t i = 0; i < x.size(); i++)
      want[i] = MinMax(DTX_MINIMUM, MinMax(DTX_MAXIMUM, x[i], cd(lh[0], 0.0)), cd(lh[1], 0.0));
    Exact(GetC(dtx_clip(a, lh[0], lh[1])), want,
          "clip " + std::to_string(lh[0]) + " " + std::to_string(lh[1]));
  }
  /* complex64 stays complex64 with Python floats; with float64 it is complex128 */
  dtx_array *a64 = dtx_astype(a, DTX_C64);
  EXPECT_EQ(dtx_array_dtype(dtx_clip(a64, 0.0, 1.0)), DTX_C64);
  EXPECT_EQ(dtx_array_dtype(dtx_maximum(a64, dtx_scalar(cl(), 1.0))), DTX_C64);
  EXPECT_EQ(dtx_array_dtype(dtx_maximum(a64, dtx_real(a))), DTX_C128);
  EXPECT_EQ(dtx_array_dtype(dtx_binary(DTX_LT, a64, a)), DTX_BOOL);
  /* NumPy has no complex floor_divide or remainder */
  EXPECT_EQ(dtx_floor_divide(a, b), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("floor_divide"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_mod(a, b), nullptr);
}

/* The reduction of x (shape sh, C order) along axis ax by the loops. */
void Along(const std::vector<cd> &x, const std::vector<int64_t> &sh, int ax, int r, std::vector<cd> *val,
           std::vector<int64_t> *arg) {
  int64_t outer = 1, inner = 1, n = sh[static_cast<size_t>(ax)];
  for (int d = 0; d < ax; d++) outer *= sh[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(ax) + 1; d < sh.size(); d++) inner *= sh[d];
  val->clear();
  arg->clear();
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const cd *p = x.data() + o * n * inner + i;
      cd m = p[0];
      for (int64_t k = 1; k < n; k++) m = MinMax(r == DTX_MIN ? DTX_MINIMUM : DTX_MAXIMUM, m, p[k * inner]);
      val->push_back(m);
      arg->push_back(Arg(r == DTX_MIN, p, n, inner));
    }
}

TEST_P(ArrayComplexOrder, MinMaxArgminArgmaxOverAxes) {
  Scope s;
  auto rng = Rng("MinMax");
  const std::vector<int64_t> sh = {5, 6, 4};
  for (double pnan : {0.0, 0.02, 0.3}) {
    std::vector<cd> x = CxVals(rng, 5 * 6 * 4, pnan);
    dtx_array *a = FromC(cl(), sh, {2, 4, 3}, x);
    ASSERT_NE(a, nullptr) << dtx_last_error();
    for (int r : {DTX_MIN, DTX_MAX}) {
      std::vector<cd> val;
      std::vector<int64_t> arg;
      for (int ax = 0; ax < 3; ax++) {
        Along(x, sh, ax, r, &val, &arg);
        std::string what = std::string(r == DTX_MIN ? "min" : "max") + " axis " + std::to_string(ax) +
                           " nan " + std::to_string(pnan);
        dtx_reduce_opts o = DTX_REDUCE_OPTS_INIT;
        o.keepdims = ax == 1;
        dtx_array *m = dtx_reduce(a, static_cast<dtx_reduction>(r), &ax, 1, &o);
        Exact(GetC(m), val, what);
        EXPECT_EQ(dtx_array_ndim(m), ax == 1 ? 3 : 2) << what;
        dtx_array *i = r == DTX_MIN ? dtx_argmin(a, ax) : dtx_argmax(a, ax);
        EXPECT_EQ(GetI(i), arg) << what;
      }
      /* all axes: the flattened array */
      std::vector<int64_t> flat = {5 * 6 * 4};
      Along(x, flat, 0, r, &val, &arg);
      Exact(GetC(r == DTX_MIN ? dtx_min(a, nullptr, 0) : dtx_max(a, nullptr, 0)), val, "over all");
      EXPECT_EQ(GetI(r == DTX_MIN ? dtx_argmin(a, DTX_NO_AXIS) : dtx_argmax(a, DTX_NO_AXIS)), arg)
          << "arg all";
      /* two axes: (0, 2) by moving axis 1 first */
      std::vector<cd> t(x.size());
      for (int i = 0; i < 5; i++)
        for (int j = 0; j < 6; j++)
          for (int k = 0; k < 4; k++)
            t[static_cast<size_t>((j * 5 + i) * 4 + k)] = x[static_cast<size_t>((i * 6 + j) * 4 + k)];
      Along(t, {6, 20}, 1, r, &val, &arg);
      int two[2] = {0, 2};
      Exact(GetC(dtx_reduce(a, static_cast<dtx_reduction>(r), two, 2, nullptr)), val, "over axes 0, 2");
    }
  }
  /* complex64 keeps its dtype; empty axes have no identity; argmin over two of three axes is refused */
  std::vector<cd> x = CxVals(rng, 13, 0.1);
  dtx_array *a64 = dtx_astype(FromC(cl(), {13}, {5}, x), DTX_C64);
  dtx_array *m64 = dtx_max(a64, nullptr, 0);
  EXPECT_EQ(dtx_array_dtype(m64), DTX_C64);
  std::vector<cd> v64 = GetC(dtx_astype(a64, DTX_C128));
  std::vector<cd> val;
  std::vector<int64_t> arg;
  Along(v64, {13}, 0, DTX_MAX, &val, &arg);
  Exact(GetC(dtx_astype(m64, DTX_C128)), val, "complex64 max");
  dtx_array *e = dtx_zeros(cl(), 2, std::vector<int64_t>{0, 3}.data(), nullptr, DTX_C128);
  EXPECT_EQ(dtx_min(e, std::vector<int>{0}.data(), 1), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("empty"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_argmax(e, 0), nullptr);
  EXPECT_EQ(dtx_array_size(dtx_max(e, std::vector<int>{1}.data(), 1)), 0);
  dtx_array *c3 = dtx_zeros(cl(), 3, std::vector<int64_t>{2, 3, 4}.data(), nullptr, DTX_C64);
  EXPECT_EQ(dtx_reduce(c3, DTX_ARGMIN, std::vector<int>{0, 1}.data(), 2, nullptr), nullptr);
  /* a 0-d array */
  cd z(2.0, kNan);
  dtx_array *z0 = dtx_from_host(cl(), 0, nullptr, nullptr, DTX_C128, &z, DTX_HOST_COPY);
  Exact(GetC(dtx_max(z0, nullptr, 0)), {z}, "0-d max");
  EXPECT_EQ(GetI(dtx_argmin(z0, DTX_NO_AXIS)), std::vector<int64_t>{0});
}

/* NumPy's nanfunctions over axis 1 of x (rows x cols), by loops: sums and
 * products with NaN replaced, the mean over the count, var with ddof,
 * fmin / fmax (nanmin / nanmax), nanargmin with NaN as inf + 0j. */
TEST_P(ArrayComplexOrder, NanReductionsMatchNumpysNanfunctions) {
  Scope s;
  auto rng = Rng("NanReductions");
  const int rows = 6, cols = 7;
  std::vector<cd> x = CxVals(rng, rows * cols, 0.15);
  for (int j = 0; j < cols; j++) x[static_cast<size_t>(2 * cols + j)] = cd(kNan, j); /* an all-NaN row */
  dtx_array *a = FromC(cl(), {rows, cols}, {4, 3}, x);
  ASSERT_NE(a, nullptr) << dtx_last_error();
  int ax = 1;
  std::vector<cd> sum(rows), prod(rows), mean(rows), mn(rows), mx(rows);
  std::vector<double> var(rows);
  std::vector<int64_t> amin(rows), amax(rows);
  for (int i = 0; i < rows; i++) {
    const cd *r = x.data() + i * cols;
    cd sm = 0, pr = 1;
    int64_t cnt = 0;
    std::vector<cd> lo(r, r + cols), hi(r, r + cols);
    for (int j = 0; j < cols; j++) {
      if (IsNan(r[j])) {
        lo[static_cast<size_t>(j)] = cd(kInf, 0.0);
        hi[static_cast<size_t>(j)] = cd(-kInf, 0.0);
        continue;
      }
      sm += r[j];
      pr = cd(pr.real() * r[j].real() - pr.imag() * r[j].imag(),
              pr.real() * r[j].imag() + pr.imag() * r[j].real());
      cnt++;
    }
    sum[static_cast<size_t>(i)] = sm;
    prod[static_cast<size_t>(i)] = pr;
    /* NumPy divides by the count as a complex (Smith's method): (a + b * 0) / c, (b - a * 0) / c */
    double c = static_cast<double>(cnt), sc = 1.0 / c;
    mean[static_cast<size_t>(i)] =
        cnt == 0 ? cd(kNan, kNan)
                 : cd((sm.real() + sm.imag() * (0.0 / c)) * sc, (sm.imag() - sm.real() * (0.0 / c)) * sc);
    double ss = 0;
    for (int j = 0; j < cols; j++)
      if (!IsNan(r[j])) ss += std::norm(r[j] - mean[static_cast<size_t>(i)]);
    var[static_cast<size_t>(i)] = cnt - 1 > 0 ? ss / static_cast<double>(cnt - 1) : kNan;
    cd fmin = r[0], fmax = r[0]; /* numpy.fmin.reduce: the NaN accumulator gives way */
    for (int j = 1; j < cols; j++) {
      if (!(IsNan(r[j]) || Cmp(DTX_LE, fmin, r[j]))) fmin = r[j];
      if (!(IsNan(r[j]) || Cmp(DTX_GE, fmax, r[j]))) fmax = r[j];
    }
    mn[static_cast<size_t>(i)] = fmin;
    mx[static_cast<size_t>(i)] = fmax;
    amin[static_cast<size_t>(i)] = cnt == 0 ? -1 : Arg(true, lo.data(), cols, 1);
    amax[static_cast<size_t>(i)] = cnt == 0 ? -1 : Arg(false, hi.data(), cols, 1);
  }
  auto near = [](const std::vector<cd> &got, const std::vector<cd> &want, const char *what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t i = 0; i < got.size(); i++) {
      double tol = 1e-12 * std::max(1.0, std::abs(want[i]));
      for (int k = 0; k < 2; k++) {
        double g = k ? got[i].imag() : got[i].real(), w = k ? want[i].imag() : want[i].real();
        if (std::isnan(w) || std::isinf(w))
          ASSERT_TRUE(Same(g, w)) << what << " at " << i << ": " << got[i] << " vs " << want[i];
        else
          ASSERT_NEAR(g, w, tol) << what << " at " << i;
      }
    }
  };
  near(GetC(dtx_nansum(a, &ax, 1)), sum, "nansum");
  near(GetC(dtx_nanmean(a, &ax, 1)), mean, "nanmean");
  Exact(GetC(dtx_nanmin(a, &ax, 1)), mn, "nanmin");
  Exact(GetC(dtx_nanmax(a, &ax, 1)), mx, "nanmax");
  EXPECT_EQ(GetI(dtx_nanargmin(a, 1)), amin);
  EXPECT_EQ(GetI(dtx_nanargmax(a, 1)), amax);
  dtx_reduce_opts o = DTX_REDUCE_OPTS_INIT;
  o.ddof = 1;
  dtx_array *v = dtx_nanreduce(a, DTX_VAR, &ax, 1, &o);
  ASSERT_NE(v, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dtype(v), DTX_F64);
  std::vector<double> got(rows);
  ASSERT_EQ(dtx_array_compute_as(v, DTX_F64, got.data(), got.size() * sizeof(double)), DTX_OK);
  for (int i = 0; i < rows; i++)
    if (std::isnan(var[static_cast<size_t>(i)]))
      EXPECT_TRUE(std::isnan(got[static_cast<size_t>(i)])) << "nanvar row " << i;
    else
      EXPECT_NEAR(got[static_cast<size_t>(i)], var[static_cast<size_t>(i)],
                  1e-12 * std::max(1.0, var[static_cast<size_t>(i)]))
          << "nanvar row " << i;
  /* nanprod of finite values (products of infinities depend on the order) */
  std::vector<cd> f = CxVals(rng, rows * cols, 0.15);
  for (auto &z : f)
    if (std::isinf(z.real()) || std::isinf(z.imag())) z = cd(0.5, -1.0);
  std::vector<cd> fp(rows, cd(1.0, 0.0));
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++) {
      cd z = f[static_cast<size_t>(i * cols + j)];
      if (!IsNan(z)) fp[static_cast<size_t>(i)] *= z;
    }
  near(GetC(dtx_nanprod(FromC(cl(), {rows, cols}, {4, 3}, f), &ax, 1)), fp, "nanprod");
  EXPECT_EQ(dtx_array_dtype(dtx_nanstd(dtx_astype(a, DTX_C64), nullptr, 0)), DTX_F32);
  EXPECT_EQ(dtx_array_dtype(dtx_nanmean(dtx_astype(a, DTX_C64), nullptr, 0)), DTX_C64);
}

TEST_P(ArrayComplexOrder, CumprodAndNanScans) {
  Scope s;
  auto rng = Rng("Scans");
  const int rows = 7, cols = 5;
  std::vector<cd> x = CxVals(rng, rows * cols, 0.1);
  for (auto &z : x)
    if (std::isinf(z.real()) || std::isinf(z.imag())) z = cd(1.5, 0.25); /* see NanReductions */
  dtx_array *a = FromC(cl(), {rows, cols}, {3, 2}, x);
  ASSERT_NE(a, nullptr) << dtx_last_error();
  for (int op : {DTX_CUMPROD, DTX_NANCUMPROD, DTX_NANCUMSUM}) {
    for (int ax : {0, 1}) {
      std::vector<cd> want = x;
      for (auto &z : want)
        if (op != DTX_CUMPROD && IsNan(z)) z = op == DTX_NANCUMSUM ? cd(0, 0) : cd(1, 0);
      for (int i = 0; i < rows; i++)
        for (int k = 0; k < cols; k++) {
          if (ax == 0 ? i == 0 : k == 0) continue;
          cd p = want[static_cast<size_t>(ax == 0 ? (i - 1) * cols + k : i * cols + k - 1)],
             &y = want[static_cast<size_t>(i * cols + k)];
          y = op == DTX_NANCUMSUM
                  ? p + y
                  : cd(p.real() * y.real() - p.imag() * y.imag(), p.real() * y.imag() + p.imag() * y.real());
        }
      std::vector<cd> got = GetC(dtx_cumulative(a, static_cast<dtx_scan_op>(op), ax));
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); i++) {
        double tol = 1e-12 * std::max(1.0, std::abs(want[i]));
        if (IsNan(want[i])) {
          ASSERT_TRUE(IsNan(got[i])) << "op " << op << " axis " << ax << " at " << i;
        } else {
          ASSERT_NEAR(got[i].real(), want[i].real(), tol) << "op " << op << " axis " << ax << " at " << i;
          ASSERT_NEAR(got[i].imag(), want[i].imag(), tol) << "op " << op << " axis " << ax << " at " << i;
        }
      }
    }
  }
  /* complex64 stays complex64; a scan of an empty array is empty; a 0-d array has no axis */
  EXPECT_EQ(dtx_array_dtype(dtx_cumprod(dtx_astype(a, DTX_C64), 0)), DTX_C64);
  dtx_array *e = dtx_zeros(cl(), 2, std::vector<int64_t>{0, 3}.data(), nullptr, DTX_C128);
  EXPECT_EQ(GetC(dtx_cumprod(e, 0)).size(), 0u);
  cd z(1, 2);
  EXPECT_EQ(dtx_cumprod(dtx_from_host(cl(), 0, nullptr, nullptr, DTX_C128, &z, DTX_HOST_COPY), 0), nullptr);
  EXPECT_EQ(dtx_cumprod(a, 2), nullptr);
}

/* dtx_sort of complex arrays: NumPy's order (lexicographic; then a real part
 * with an imaginary NaN, by the real part; a real NaN, by the imaginary part;
 * both NaN), -0.0 before 0.0 in either part (equal for NumPy, either may
 * come first), along every axis of 2-d and 3-d arrays with ragged chunks,
 * complex64 and complex128. */
uint64_t OrderKey(double v) {
  uint64_t k;
  std::memcpy(&k, &v, sizeof k);
  return (k >> 63) ? ~k : k | (uint64_t{1} << 63);
}
int Category(cd z) {
  bool rn = std::isnan(z.real()), in = std::isnan(z.imag());
  return in ? (rn ? 3 : 1) : (rn ? 2 : 0);
}
bool SortsBefore(cd a, cd b) {
  int ca = Category(a), cb = Category(b);
  if (ca != cb) return ca < cb;
  uint64_t ar = OrderKey(a.real()), ai = OrderKey(a.imag()), br = OrderKey(b.real()), bi = OrderKey(b.imag());
  if (ca == 0) return ar != br ? ar < br : ai < bi;
  if (ca == 1) return ar < br;
  if (ca == 2) return ai < bi;
  return false;
}

TEST_P(ArrayComplexOrder, SortIsNumpysOrder) {
  std::mt19937_64 rng = Rng("complex sort");
  for (int it = 0; it < 12; it++) {
    Scope sc;
    std::vector<int64_t> sh = {1 + static_cast<int64_t>(rng() % 40), 1 + static_cast<int64_t>(rng() % 40)};
    if (it % 3 == 2) sh.push_back(1 + static_cast<int64_t>(rng() % 5));
    size_t n = 1;
    for (int64_t d : sh) n *= static_cast<size_t>(d);
    std::vector<cd> x = CxVals(rng, n, it % 2 ? 0.15 : 0.0);
    for (auto &z : x)
      if (rng() % 8 == 0) z = cd(rng() % 2 ? -0.0 : 0.0, rng() % 2 ? -0.0 : z.imag());
    std::vector<int64_t> ch;
    for (int64_t d : sh) ch.push_back(1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(d)));
    int ax = static_cast<int>(rng() % sh.size());
    bool c64 = rng() % 3 == 0;
    dtx_array *a = FromC(cl(), sh, ch, x);
    if (c64) { /* the values the complex64 array holds are the reference's input */
      a = dtx_astype(a, DTX_C64);
      x = GetC(dtx_astype(a, DTX_C128));
    }
    dtx_array *r = dtx_sort(a, ax);
    ASSERT_NE(r, nullptr) << dtx_last_error();
    EXPECT_EQ(dtx_array_dtype(r), c64 ? DTX_C64 : DTX_C128);
    /* the reference: each lane stably sorted by SortsBefore */
    std::vector<cd> want = x;
    std::vector<int64_t> st(sh.size(), 1);
    for (int d = static_cast<int>(sh.size()) - 2; d >= 0; d--) st[d] = st[d + 1] * sh[d + 1];
    for (size_t i = 0; i < n; i++) {
      if ((static_cast<int64_t>(i) / st[ax]) % sh[ax] != 0) continue; /* lane starts only */
      std::vector<cd> lane;
      for (int64_t k = 0; k < sh[ax]; k++) lane.push_back(x[i + static_cast<size_t>(k * st[ax])]);
      std::stable_sort(lane.begin(), lane.end(), SortsBefore);
      for (int64_t k = 0; k < sh[ax]; k++)
        want[i + static_cast<size_t>(k * st[ax])] = lane[static_cast<size_t>(k)];
    }
    std::string what = std::string(c64 ? "complex64" : "complex128") + " axis " + std::to_string(ax) +
                       " of " + std::to_string(sh.size()) + "-d";
    Exact(GetC(c64 ? dtx_astype(r, DTX_C128) : r), want, what);
  }
}

/* dtx_take / dtx_take_array of complex arrays along each axis (the pairs
 * taken), and of the flattened array, with negative and repeated indices
 * over ragged chunks. */
/* dtx_linalg_norm of complex arrays: NumPy's norms of |z| (vector orders
 * along an axis and of the whole, Frobenius, 1 and inf matrix norms) against
 * plain loops; the singular-value norms between their bounds. */
TEST_P(ArrayComplexOrder, NormsAreNormsOfTheModuli) {
  std::mt19937_64 rng = Rng("complex norm");
  Scope sc;
  std::normal_distribution<double> g(0.0, 3.0);
  std::vector<cd> x(6 * 5);
  for (auto &z : x) z = cd(g(rng), g(rng));
  dtx_array *a = FromC(cl(), {6, 5}, {4, 2}, x);
  auto get = [](dtx_array *r) {
    EXPECT_NE(r, nullptr) << dtx_last_error();
    std::vector<double> v(r != nullptr ? static_cast<size_t>(dtx_array_size(r)) : 0);
    if (r != nullptr) {
      EXPECT_EQ(dtx_array_dtype(r), DTX_F64);
      EXPECT_EQ(dtx_array_compute_as(r, DTX_F64, v.data(), v.size() * sizeof(double)), DTX_OK)
          << dtx_last_error();
    }
    return v;
  };
  double fro = 0, one = 0, inf = 0;
  std::vector<double> col2(5, 0.0);
  for (int i = 0; i < 6; i++) {
    double row = 0;
    for (int j = 0; j < 5; j++) {
      double m = std::abs(x[static_cast<size_t>(i * 5 + j)]);
      fro += m * m;
      row += m;
      col2[static_cast<size_t>(j)] += m * m;
    }
    inf = std::max(inf, row);
  }
  for (int j = 0; j < 5; j++) {
    double col = 0;
    for (int i = 0; i < 6; i++) col += std::abs(x[static_cast<size_t>(i * 5 + j)]);
    one = std::max(one, col);
  }
  EXPECT_NEAR(get(dtx_linalg_norm(a, DTX_NORM_DEFAULT, 0, nullptr, 0, 0))[0], std::sqrt(fro), 1e-12 * fro);
  EXPECT_NEAR(get(dtx_linalg_norm(a, DTX_NORM_FRO, 0, nullptr, 0, 0))[0], std::sqrt(fro), 1e-12 * fro);
  EXPECT_NEAR(get(dtx_linalg_norm(a, DTX_NORM_P, 1, nullptr, 0, 0))[0], one, 1e-12 * one);
  EXPECT_NEAR(get(dtx_linalg_norm(a, DTX_NORM_INF, 0, nullptr, 0, 0))[0], inf, 1e-12 * inf);
  const int ax0[1] = {0};
  std::vector<double> cols = get(dtx_linalg_norm(a, DTX_NORM_DEFAULT, 0, ax0, 1, 0));
  ASSERT_EQ(cols.size(), 5u);
  for (int j = 0; j < 5; j++)
    EXPECT_NEAR(cols[static_cast<size_t>(j)], std::sqrt(col2[static_cast<size_t>(j)]), 1e-12 * fro);
  /* the singular-value norms (their values: array_la_complex_test.cc) under the svd's chunk rule */
  EXPECT_EQ(dtx_linalg_norm(a, DTX_NORM_NUC, 0, nullptr, 0, 0), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("one column or one row of chunks"), std::string::npos)
      << dtx_last_error();
  const int64_t whole[2] = {6, 5};
  double two = get(dtx_linalg_norm(dtx_rechunk(a, whole), DTX_NORM_P, 2, nullptr, 0, 0))[0];
  EXPECT_LE(two, std::sqrt(fro) * (1 + 1e-12));
  EXPECT_GE(two, std::sqrt(fro / 5) * (1 - 1e-12));
}

TEST_P(ArrayComplexOrder, TakeAlongAxes) {
  std::mt19937_64 rng = Rng("complex take");
  Scope sc;
  const std::vector<int64_t> sh = {9, 7};
  std::vector<cd> x = CxVals(rng, 63, 0.1);
  dtx_array *a = FromC(cl(), sh, {4, 3}, x);
  for (int ax = 0; ax < 2; ax++) {
    std::vector<int64_t> idx = {-1, 0, 3, 3, static_cast<int64_t>(sh[ax]) - 2, -static_cast<int64_t>(sh[ax])};
    std::vector<cd> want;
    for (int64_t i = 0; i < (ax == 0 ? 6 : 9); i++)
      for (int64_t j = 0; j < (ax == 0 ? 7 : 6); j++) {
        int64_t k = idx[static_cast<size_t>(ax == 0 ? i : j)];
        if (k < 0) k += sh[ax];
        want.push_back(x[static_cast<size_t>(ax == 0 ? k * 7 + j : i * 7 + k)]);
      }
    Exact(GetC(dtx_take(a, idx.data(), 6, ax)), want, "take along " + std::to_string(ax));
    dtx_array *ia = dtx_from_host(cl(), 1, std::vector<int64_t>{6}.data(), std::vector<int64_t>{4}.data(),
                                  DTX_I64, idx.data(), DTX_HOST_COPY);
    Exact(GetC(dtx_take_array(a, ia, ax)), want, "take_array along " + std::to_string(ax));
  }
  /* the flattened array (DTX_NO_AXIS) */
  std::vector<int64_t> flat = {62, 0, -1, 30, 30, -63};
  std::vector<cd> want;
  for (int64_t k : flat) want.push_back(x[static_cast<size_t>(k < 0 ? k + 63 : k)]);
  Exact(GetC(dtx_take(a, flat.data(), 6, DTX_NO_AXIS)), want, "take of the flattened array");
}

}  // namespace
