/*
 * tests/array_complex_math_test.cc - the math of complex arrays
 * (dtx/complex.h): exp, log, sqrt, sin, cos, tanh bit for bit against C99's
 * functions of the same libm (what NumPy calls), special values included
 * (inf and nan parts, signed zeros, branch cuts, huge parts); power against
 * std::pow and NumPy's special cases; rint, isnan, isinf, isfinite; prod,
 * var, std, any, all against plain loops. complex64 and complex128, ragged
 * chunks, empty and 0-d arrays, under sync, threads and the cluster
 * scheduler on two simulated GPUs. Random values from printed seeds.
 * NumPy itself is the oracle of tests/array_conformance (complex_cases.py).
 */
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "array_util.h"
#include "dtx/complex.h"
#include "dtx/sort.h"

using namespace dtxa_test;
using cd = std::complex<double>;
using cf = std::complex<float>;

namespace {

class ArrayComplexMath : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayComplexMath, ::testing::ValuesIn(CoreScheds()), SchedName());

const double kInf = std::numeric_limits<double>::infinity();
const double kNan = std::numeric_limits<double>::quiet_NaN();

/* Every pair of the special parts, then random values of several scales. */
std::vector<cd> Specials(std::mt19937_64 &rng, size_t nrand) {
  const double sp[] = {0.0,   -0.0,   1.0,    -1.0,  0.5,    -2.5, kInf, -kInf, kNan,
                       1e308, -1e308, 1e-310, 710.0, -710.0, 89.0, 3e38, 1e30,  3.0};
  std::vector<cd> v;
  for (double a : sp)
    for (double b : sp) v.emplace_back(a, b);
  std::normal_distribution<double> g(0.0, 1.0);
  const double scale[] = {1e-3, 1.0, 10.0, 100.0};
  for (size_t i = 0; i < nrand; i++) v.emplace_back(g(rng) * scale[i % 4], g(rng) * scale[(i / 4) % 4]);
  return v;
}

template <typename T>
dtx_dtype DtypeOf() {
  return sizeof(T) == 4 ? DTX_C64 : DTX_C128;
}

template <typename T>
dtx_array *From(dtx_cluster *cl, const std::vector<int64_t> &shape, const std::vector<int64_t> &chunks,
                const std::vector<std::complex<T>> &v) {
  return dtx_from_host(cl, static_cast<int>(shape.size()), shape.data(), chunks.data(), DtypeOf<T>(),
                       v.data(), DTX_HOST_COPY);
}

template <typename T>
std::vector<std::complex<T>> Get(const dtx_array *a) {
  EXPECT_EQ(dtx_array_dtype(a), DtypeOf<T>());
  std::vector<std::complex<T>> v(static_cast<size_t>(dtx_array_size(a)));
  EXPECT_EQ(dtx_array_compute_as(a, DtypeOf<T>(), v.data(), v.size() * sizeof v[0]), DTX_OK)
      << dtx_last_error();
  return v;
}

template <typename T>
std::vector<T> GetReal(const dtx_array *a) {
  std::vector<T> v(static_cast<size_t>(dtx_array_size(a)));
  EXPECT_EQ(dtx_array_dtype(a), sizeof(T) == 4 ? DTX_F32 : DTX_F64);
  EXPECT_EQ(dtx_array_compute(a, v.data(), v.size() * sizeof(T)), DTX_OK) << dtx_last_error();
  return v;
}

std::vector<bool> GetBool(const dtx_array *a) {
  EXPECT_EQ(dtx_array_dtype(a), DTX_BOOL);
  std::vector<char> v(static_cast<size_t>(dtx_array_size(a)));
  EXPECT_EQ(dtx_array_compute(a, v.data(), v.size()), DTX_OK) << dtx_last_error();
  return std::vector<bool>(v.begin(), v.end());
}

/* Same value: equal with the same sign (zeros), or both NaN. */
template <typename T>
bool Same(T g, T w) {
  if (std::isnan(w)) return std::isnan(g);
  return g == w && std::signbit(g) == std::signbit(w);
}

/* The C99 function of a complex value (libstdc++ calls __builtin_cexp, ...: glibc's cexp, as NumPy). */
template <typename T>
std::complex<T> Func(dtx_unary_op op, std::complex<T> z) {
  switch (op) {
    case DTX_EXP:
      return std::exp(z);
    case DTX_LOG:
      return std::log(z);
    case DTX_SQRT:
      return std::sqrt(z);
    case DTX_SIN:
      return std::sin(z);
    case DTX_COS:
      return std::cos(z);
    default:
      return std::tanh(z);
  }
}

const dtx_unary_op kFuncs[] = {DTX_EXP, DTX_LOG, DTX_SQRT, DTX_SIN, DTX_COS, DTX_TANH};

template <typename T>
void CheckFunctions(dtx_cluster *cl, const std::vector<cd> &vals) {
  std::vector<std::complex<T>> v(vals.begin(), vals.end());
  int64_t n = static_cast<int64_t>(v.size());
  dtx_array *a = From<T>(cl, {n}, {37}, v); /* ragged: 37 does not divide n */
  ASSERT_NE(a, nullptr) << dtx_last_error();
  for (dtx_unary_op op : kFuncs) {
    dtx_array *r = dtx_unary(op, a);
    ASSERT_NE(r, nullptr) << dtx_last_error();
    ASSERT_EQ(dtx_array_dtype(r), DtypeOf<T>());
    std::vector<std::complex<T>> got = Get<T>(r);
    ASSERT_EQ(got.size(), v.size());
    for (size_t i = 0; i < v.size(); i++) {
      std::complex<T> w = Func(op, v[i]);
      ASSERT_TRUE(Same(got[i].real(), w.real()) && Same(got[i].imag(), w.imag()))
          << "op " << op << " of (" << v[i].real() << ", " << v[i].imag() << "): got (" << got[i].real()
          << ", " << got[i].imag() << "), C99 (" << w.real() << ", " << w.imag() << ")";
    }
  }
}

TEST_P(ArrayComplexMath, FunctionsAreC99sBitForBit) {
  Scope s;
  auto rng = Rng("Functions");
  std::vector<cd> v = Specials(rng, 400);
  CheckFunctions<double>(cl(), v);
  CheckFunctions<float>(cl(), v);
}

TEST_P(ArrayComplexMath, FunctionsKeyValues) {
  Scope s;
  std::vector<cd> v = {cd(-1, -0.0), cd(-1, 0.0),      cd(-4, 0),      cd(0, 0),
                       cd(-0.0, 0),  cd(1e308, 1e308), cd(kInf, kNan), cd(0, kInf)};
  dtx_array *a = From<double>(cl(), {8}, {3}, v);
  std::vector<cd> sq = Get<double>(dtx_sqrt(a)), lg = Get<double>(dtx_log(a)), ex = Get<double>(dtx_exp(a));
  EXPECT_TRUE(Same(sq[0].real(), 0.0) && Same(sq[0].imag(), -1.0)); /* sqrt(-1-0j) = -1j: the branch cut */
  EXPECT_TRUE(Same(sq[1].imag(), 1.0));
  EXPECT_EQ(sq[2], cd(0, 2));
  EXPECT_TRUE(Same(lg[0].imag(), -M_PI) && Same(lg[1].imag(), M_PI));
  EXPECT_TRUE(std::isinf(lg[3].real()) && lg[3].real() < 0 && Same(lg[3].imag(), 0.0));
  EXPECT_TRUE(Same(lg[4].imag(), M_PI));
  /* no spurious overflow: log|1e308(1+j)| = log(1e308) + log(sqrt 2) */
  EXPECT_NEAR(lg[5].real(), std::log(1e308) + 0.5 * std::log(2.0), 1e-12);
  EXPECT_NEAR(lg[5].imag(), M_PI / 4, 1e-15);
  EXPECT_TRUE(std::isfinite(sq[5].real()) && std::isfinite(sq[5].imag()));
  EXPECT_TRUE(std::isinf(ex[6].real()) && std::isnan(ex[6].imag())); /* exp(inf + nan j) */
  EXPECT_TRUE(std::isnan(ex[7].real()) && std::isnan(ex[7].imag()));
}

TEST_P(ArrayComplexMath, FunctionsOfEmptyZeroDAndNdArrays) {
  Scope s;
  int64_t shape[2] = {0, 3};
  dtx_array *e = dtx_zeros(cl(), 2, shape, nullptr, DTX_C64);
  dtx_array *r = dtx_exp(e);
  ASSERT_NE(r, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dtype(r), DTX_C64);
  EXPECT_EQ(dtx_array_dim(r, 0), 0);
  EXPECT_EQ(dtx_array_dim(r, 1), 3);
  EXPECT_EQ(Get<float>(r).size(), 0u);
  dtx_array *z = dtx_scalar_complex(cl(), 0.0, M_PI);
  std::vector<cd> ez = Get<double>(dtx_exp(z));
  ASSERT_EQ(ez.size(), 1u);
  EXPECT_EQ(ez[0], std::exp(cd(0.0, M_PI)));
  /* a transposed, sliced 3-d array (views read through the tasks' inputs), then more arithmetic */
  auto rng = Rng("Nd");
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<cd> v(5 * 4 * 3);
  for (auto &x : v) x = cd(g(rng), g(rng));
  dtx_array *a = From<double>(cl(), {5, 4, 3}, {2, 3, 2}, v);
  dtx_index idx[3] = {{DTX_INDEX_SLICE, 1, DTX_NONE, 1},
                      {DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, -1},
                      {DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1}};
  int perm[3] = {2, 0, 1};
  dtx_array *t = dtx_transpose(dtx_slice(a, 3, idx), perm); /* (3, 4, 4) */
  dtx_array *y = dtx_add(dtx_sqrt(t), dtx_scalar(cl(), 1.0));
  ASSERT_NE(y, nullptr) << dtx_last_error();
  std::vector<cd> got = Get<double>(y);
  ASSERT_EQ(got.size(), 48u);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++)
      for (int k = 0; k < 4; k++) {
        cd x = v[static_cast<size_t>(((j + 1) * 4 + (3 - k)) * 3 + i)];
        EXPECT_EQ(got[static_cast<size_t>((i * 4 + j) * 4 + k)], std::sqrt(x) + 1.0);
      }
}

TEST_P(ArrayComplexMath, PowerMatchesStdPowAndNumpysSpecialCases) {
  Scope s;
  auto rng = Rng("Power");
  std::normal_distribution<double> g(0.0, 1.0);
  std::uniform_int_distribution<int> k(-12, 12);
  size_t n = 200;
  std::vector<cd> x(n), y(n);
  for (size_t i = 0; i < n; i++) {
    x[i] = cd(g(rng), g(rng));
    y[i] = i % 2 ? cd(k(rng), 0) : cd(g(rng), g(rng)); /* integer and complex exponents */
  }
  dtx_array *a = From<double>(cl(), {static_cast<int64_t>(n)}, {33}, x);
  dtx_array *b = From<double>(cl(), {static_cast<int64_t>(n)}, {40}, y);
  std::vector<cd> got = Get<double>(dtx_pow(a, b));
  for (size_t i = 0; i < n; i++) {
    cd w = std::pow(x[i], y[i]);
    double tol = 1e-12 * std::max(1.0, std::abs(w));
    ASSERT_NEAR(got[i].real(), w.real(), tol) << x[i] << " ** " << y[i];
    ASSERT_NEAR(got[i].imag(), w.imag(), tol) << x[i] << " ** " << y[i];
  }
  /* NumPy: z ** 0 is 1 (even nan), 0 ** z is 0 when Re z > 0, else nan + nan j; z ** 1 is z */
  std::vector<cd> bs = {cd(kNan, 1), cd(0, 0), cd(0, 0), cd(0, 0), cd(kInf, 2), cd(0, -0.0)};
  std::vector<cd> es = {cd(0, 0), cd(2, 5), cd(-1, 0), cd(0, 1), cd(1, 0), cd(0, 0)};
  std::vector<cd> sp =
      Get<double>(dtx_pow(From<double>(cl(), {6}, {4}, bs), From<double>(cl(), {6}, {5}, es)));
  EXPECT_EQ(sp[0], cd(1, 0));
  EXPECT_EQ(sp[1], cd(0, 0));
  EXPECT_TRUE(std::isnan(sp[2].real()) && std::isnan(sp[2].imag()));
  EXPECT_TRUE(std::isnan(sp[3].real()) && std::isnan(sp[3].imag()));
  EXPECT_TRUE(sp[4].real() == kInf && sp[4].imag() == 2);
  EXPECT_EQ(sp[5], cd(1, 0));
}

TEST_P(ArrayComplexMath, PowerDtypesAndBroadcasting) {
  Scope s;
  std::vector<cf> x = {cf(1, 2), cf(-3, 0.5f), cf(0.25f, -1), cf(2, 2)};
  dtx_array *a = From<float>(cl(), {4, 1}, {3, 1}, x);
  /* a Python float exponent keeps complex64 */
  dtx_array *sq = dtx_binary_scalar(DTX_POW, a, 2.0);
  ASSERT_NE(sq, nullptr) << dtx_last_error();
  std::vector<cf> g2 = Get<float>(sq);
  for (size_t i = 0; i < 4; i++)
    EXPECT_EQ(g2[i], cf(x[i].real() * x[i].real() - x[i].imag() * x[i].imag(),
                        x[i].real() * x[i].imag() + x[i].imag() * x[i].real()));
  /* (4, 1) complex64 ** (3,) float64: (4, 3) complex128 */
  double e[3] = {0.5, -2, 3};
  int64_t three = 3, one = 2;
  dtx_array *b = dtx_from_host(cl(), 1, &three, &one, DTX_F64, e, DTX_HOST_COPY);
  dtx_array *r = dtx_pow(a, b);
  ASSERT_NE(r, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_ndim(r), 2);
  std::vector<cd> got = Get<double>(r);
  for (size_t i = 0; i < 4; i++)
    for (size_t j = 0; j < 3; j++) {
      cd w = std::pow(cd(x[i]), cd(e[j], 0));
      EXPECT_NEAR(std::abs(got[i * 3 + j] - w), 0.0, 1e-12 * std::max(1.0, std::abs(w))) << i << "," << j;
    }
  /* a real base with a complex scalar exponent: 2 ** 1j */
  dtx_array *two = dtx_full(cl(), 1, &three, nullptr, DTX_F32, 2.0);
  std::vector<cf> t = Get<float>(dtx_pow(two, dtx_scalar_complex(cl(), 0, 1)));
  for (const cf &v : t) EXPECT_NEAR(std::abs(v - cf(std::pow(cd(2, 0), cd(0, 1)))), 0.0f, 1e-6f);
}

TEST_P(ArrayComplexMath, RintRoundAndClassification) {
  Scope s;
  auto rng = Rng("Classify");
  std::vector<cd> v = Specials(rng, 20);
  int64_t n = static_cast<int64_t>(v.size());
  dtx_array *a = From<double>(cl(), {n}, {29}, v);
  std::vector<bool> isn = GetBool(dtx_isnan(a)), isi = GetBool(dtx_isinf(a)), isf = GetBool(dtx_isfinite(a));
  std::vector<cd> ri = Get<double>(dtx_rint(a)), ro = Get<double>(dtx_round(a, 2));
  for (size_t i = 0; i < v.size(); i++) {
    double re = v[i].real(), im = v[i].imag();
    /* round: each part as NumPy rounds a float64 (rint(x * 100) / 100) */
    EXPECT_TRUE(Same(ro[i].real(), std::nearbyint(re * 100) / 100) &&
                Same(ro[i].imag(), std::nearbyint(im * 100) / 100))
        << i;
    EXPECT_EQ(isn[i], std::isnan(re) || std::isnan(im)) << i;
    EXPECT_EQ(isi[i], std::isinf(re) || std::isinf(im)) << i;
    EXPECT_EQ(isf[i], std::isfinite(re) && std::isfinite(im)) << i;
    EXPECT_TRUE(Same(ri[i].real(), std::nearbyint(re)) && Same(ri[i].imag(), std::nearbyint(im))) << i;
  }
  /* complex64 too */
  std::vector<cf> f = {cf(1, NAN), cf(INFINITY, 0), cf(2, 3)};
  std::vector<bool> fn = GetBool(dtx_isnan(From<float>(cl(), {3}, {2}, f)));
  EXPECT_EQ(fn, (std::vector<bool>{true, false, false}));
}

/* The naive complex product (NumPy's multiply loop) in order. */
cd Mul(cd a, cd b) {
  return cd(a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real());
}

TEST_P(ArrayComplexMath, ProdMatchesLoops) {
  Scope s;
  auto rng = Rng("Prod");
  std::uniform_real_distribution<double> th(-M_PI, M_PI), mag(0.8, 1.25);
  const int64_t R = 7, C = 11;
  std::vector<cd> v(R * C);
  for (auto &x : v) x = std::polar(mag(rng), th(rng));
  dtx_array *a = From<double>(cl(), {R, C}, {3, 4}, v);
  struct Case {
    std::vector<int> axes;
    int keepdims, split;
  } cases[] = {{{}, 0, 0}, {{0}, 0, 0}, {{1}, 1, 2}, {{0, 1}, 1, 0}, {{-1}, 0, 3}};
  for (const Case &c : cases) {
    dtx_reduce_opts o = DTX_REDUCE_OPTS_INIT;
    o.keepdims = c.keepdims;
    o.split_every = c.split;
    dtx_array *r = dtx_reduce(a, DTX_PROD, c.axes.empty() ? nullptr : c.axes.data(),
                              static_cast<int>(c.axes.size()), &o);
    ASSERT_NE(r, nullptr) << dtx_last_error();
    bool r0 = c.axes.empty() || c.axes[0] == 0 || c.axes.size() == 2;
    bool r1 = c.axes.empty() || c.axes[0] != 0 || c.axes.size() == 2;
    int64_t oR = r0 ? 1 : R, oC = r1 ? 1 : C;
    std::vector<cd> want(static_cast<size_t>(oR * oC), cd(1, 0));
    std::vector<bool> first(want.size(), true);
    for (int64_t i = 0; i < R; i++)
      for (int64_t j = 0; j < C; j++) {
        size_t o2 = static_cast<size_t>((r0 ? 0 : i) * oC + (r1 ? 0 : j));
        want[o2] =
            first[o2] ? v[static_cast<size_t>(i * C + j)] : Mul(want[o2], v[static_cast<size_t>(i * C + j)]);
        first[o2] = false;
      }
    int nd = c.keepdims ? 2 : 2 - static_cast<int>(c.axes.empty() ? 2 : c.axes.size());
    EXPECT_EQ(dtx_array_ndim(r), nd);
    std::vector<cd> got = Get<double>(r);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); i++)
      EXPECT_LT(std::abs(got[i] - want[i]), 1e-12 * std::abs(want[i])) << i;
  }
  /* complex64: accumulated in complex128, rounded once */
  std::vector<cf> f(v.begin(), v.end());
  dtx_array *af = From<float>(cl(), {R, C}, {2, 5}, f);
  int ax1 = 1;
  std::vector<cf> gf = Get<float>(dtx_prod(af, &ax1, 1));
  for (int64_t i = 0; i < R; i++) {
    cd w = cd(f[static_cast<size_t>(i * C)]);
    for (int64_t j = 1; j < C; j++) w = Mul(w, cd(f[static_cast<size_t>(i * C + j)]));
    EXPECT_EQ(gf[static_cast<size_t>(i)], cf(w)) << i;
  }
  /* NumPy starts from the first value: prod([inf + 1j]) is inf + 1j, not (1 + 0j)(inf + 1j) */
  dtx_array *one = From<double>(cl(), {1}, {1}, std::vector<cd>{cd(kInf, 1)});
  std::vector<cd> p1 = Get<double>(dtx_prod(one, nullptr, 0));
  EXPECT_TRUE(p1[0].real() == kInf && p1[0].imag() == 1);
  /* empty axis: 1; empty other axis: empty */
  int64_t es[2] = {0, 3};
  dtx_array *e = dtx_zeros(cl(), 2, es, nullptr, DTX_C64);
  int ax0 = 0;
  std::vector<cf> pe = Get<float>(dtx_prod(e, &ax0, 1));
  EXPECT_EQ(pe, (std::vector<cf>{cf(1, 0), cf(1, 0), cf(1, 0)}));
  EXPECT_EQ(Get<float>(dtx_prod(e, &ax1, 1)).size(), 0u);
  /* 0-d */
  std::vector<cd> p0 = Get<double>(dtx_prod(dtx_scalar_complex(cl(), 2, -3), nullptr, 0));
  EXPECT_EQ(p0, (std::vector<cd>{cd(2, -3)}));
}

TEST_P(ArrayComplexMath, VarStdAnyAllMatchLoops) {
  Scope s;
  auto rng = Rng("Var");
  std::normal_distribution<double> g(1.0, 2.0);
  const int64_t R = 6, C = 9;
  std::vector<cd> v(R * C);
  for (auto &x : v) x = cd(g(rng), g(rng));
  dtx_array *a = From<double>(cl(), {R, C}, {4, 2}, v);
  for (int ddof : {0, 1}) {
    for (int axis : {-1, 0, 1}) {
      dtx_reduce_opts o = DTX_REDUCE_OPTS_INIT;
      o.ddof = ddof;
      o.keepdims = axis == 0;
      dtx_array *var = dtx_reduce(a, DTX_VAR, axis < 0 ? nullptr : &axis, axis < 0 ? 0 : 1, &o);
      dtx_array *sd = dtx_reduce(a, DTX_STD, axis < 0 ? nullptr : &axis, axis < 0 ? 0 : 1, &o);
      ASSERT_TRUE(var && sd) << dtx_last_error();
      EXPECT_EQ(dtx_array_ndim(var), axis < 0 ? 0 : axis == 0 ? 2 : 1);
      std::vector<double> gv = GetReal<double>(var), gs = GetReal<double>(sd);
      size_t nout = axis < 0 ? 1 : axis == 0 ? C : R;
      ASSERT_EQ(gv.size(), nout);
      for (size_t k = 0; k < nout; k++) {
        std::vector<cd> xs;
        for (int64_t i = 0; i < R; i++)
          for (int64_t j = 0; j < C; j++)
            if (axis < 0 || (axis == 0 && static_cast<size_t>(j) == k) ||
                (axis == 1 && static_cast<size_t>(i) == k))
              xs.push_back(v[static_cast<size_t>(i * C + j)]);
        cd m = 0;
        for (cd x : xs) m += x;
        m /= static_cast<double>(xs.size());
        double ss = 0;
        for (cd x : xs) ss += std::norm(x - m);
        double w = ss / static_cast<double>(xs.size() - ddof);
        EXPECT_NEAR(gv[k], w, 1e-12 * w) << "ddof " << ddof << " axis " << axis;
        EXPECT_NEAR(gs[k], std::sqrt(w), 1e-12 * std::sqrt(w));
      }
    }
  }
  /* complex64: a float32 result */
  std::vector<cf> f(v.begin(), v.end());
  dtx_array *vf = dtx_var(From<float>(cl(), {R, C}, {5, 5}, f), nullptr, 0);
  ASSERT_NE(vf, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_dtype(vf), DTX_F32);
  /* empty: NaN; 0-d: 0 (and NaN with ddof 1) */
  int64_t es[1] = {0};
  std::vector<double> ve = GetReal<double>(dtx_var(dtx_zeros(cl(), 1, es, nullptr, DTX_C128), nullptr, 0));
  EXPECT_TRUE(std::isnan(ve[0]));
  dtx_array *z = dtx_scalar_complex(cl(), 3, 4);
  EXPECT_EQ(GetReal<double>(dtx_std(z, nullptr, 0)), std::vector<double>{0.0});
  dtx_reduce_opts o1 = DTX_REDUCE_OPTS_INIT;
  o1.ddof = 1;
  EXPECT_TRUE(std::isnan(GetReal<double>(dtx_reduce(z, DTX_VAR, nullptr, 0, &o1))[0]));
  /* any / all: a value is true when either part is non-zero */
  std::vector<cd> b = {cd(0, 0), cd(0, -0.0), cd(0, 2), cd(0, 0), cd(kNan, 0), cd(1, 1)};
  dtx_array *ab = From<double>(cl(), {3, 2}, {2, 1}, b);
  int ax1 = 1;
  EXPECT_EQ(GetBool(dtx_any(ab, &ax1, 1)), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(GetBool(dtx_all(ab, &ax1, 1)), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(GetBool(dtx_all(ab, nullptr, 0)), std::vector<bool>{false});
  EXPECT_EQ(GetBool(dtx_any(ab, nullptr, 0)), std::vector<bool>{true});
}

TEST_P(ArrayComplexMath, RefusesWhatItDoesNotTake) {
  Scope s;
  dtx_array *a = dtx_zeros(cl(), 1, std::vector<int64_t>{4}.data(), nullptr, DTX_C128);
  EXPECT_EQ(dtx_histogram(a, 4, 0, 1, nullptr, 0, nullptr), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("complex"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_argmin(a, 1), nullptr); /* no axis 1 */
  int rep[2] = {0, 0};
  EXPECT_EQ(dtx_prod(a, rep, 2), nullptr);
  dtx_reduce_opts o = DTX_REDUCE_OPTS_INIT;
  o.split_every = 1;
  EXPECT_EQ(dtx_reduce(a, DTX_PROD, nullptr, 0, &o), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("split_every"), std::string::npos) << dtx_last_error();
}

}  // namespace
