/*
 * tests/kernels_vmath_test.cc - the vectorised strips of kernels/vmath.h
 * (SLEEF) against glibc's scalar functions, for every instruction set this
 * build has and this CPU runs: random arguments over each function's range
 * (printed seeds), every strip length 0..70 (tails), and the special values
 * (inf, nan, signed zeros, overflow, domain errors), which must be C99's
 * exactly; elsewhere within 2 ULP of glibc (both within 1 ULP of the exact
 * value), sqrt exact. Then the fused path end to end: dtx_exp / sin / pow
 * of an array equal the strips' values. Skipped (visibly) without SLEEF.
 */
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "dtx/dtx.h"
#include "kernels/elem.h"
#include "kernels/vmath.h"

namespace {

/* ULPs between a and b of one type (same sign and finite). */
template <typename T>
double Ulps(T a, T b) {
  if (a == b) return 0;
  T lo = std::fmin(std::fabs(a), std::fabs(b));
  T ulp = std::nextafter(lo, std::numeric_limits<T>::infinity()) - lo;
  return std::fabs(static_cast<double>(a) - static_cast<double>(b)) / static_cast<double>(ulp);
}

/* The same value as C99 gives it: both nan, or equal with the sign of zero. */
template <typename T>
bool Same(T a, T b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

struct Fn {
  const char *name;
  int op; /* kernels/elem.h's unary id, or 0: pow */
  double lo, hi, maxulp;
  double (*d)(double);
  float (*f)(float);
};

const Fn kFns[] = {
    {"exp", 3, -745, 709, 2, [](double x) { return std::exp(x); }, [](float x) { return std::exp(x); }},
    {"log", 4, 1e-300, 1e300, 2, [](double x) { return std::log(x); }, [](float x) { return std::log(x); }},
    {"sqrt", 5, 0, 1e300, 0, [](double x) { return std::sqrt(x); }, [](float x) { return std::sqrt(x); }},
    {"sin", 6, -1e6, 1e6, 2, [](double x) { return std::sin(x); }, [](float x) { return std::sin(x); }},
    {"cos", 7, -1e6, 1e6, 2, [](double x) { return std::cos(x); }, [](float x) { return std::cos(x); }},
    {"tanh", 8, -25, 25, 2, [](double x) { return std::tanh(x); }, [](float x) { return std::tanh(x); }},
};

template <typename T>
std::vector<T> Specials() {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  return {0,
          -T(0),
          inf,
          -inf,
          nan,
          1,
          -1,
          T(0.5),
          T(-0.5),
          T(2),
          T(100),
          T(-100),
          T(1000),
          T(-1000),
          std::numeric_limits<T>::denorm_min(),
          std::numeric_limits<T>::max(),
          -std::numeric_limits<T>::max()};
}

/* Random arguments: uniform in [lo, hi] clamped to T's range, and log-uniform magnitudes. */
template <typename T>
std::vector<T> Randoms(std::mt19937_64 &rng, double lo, double hi, size_t n) {
  double tmax = static_cast<double>(std::numeric_limits<T>::max());
  lo = std::fmax(lo, -tmax);
  hi = std::fmin(hi, tmax);
  std::uniform_real_distribution<double> u(lo, hi),
      e(-30, std::log10(std::fmax(std::fabs(lo), std::fabs(hi))));
  std::vector<T> v(n);
  for (size_t i = 0; i < n; i++) {
    double x = i % 2 ? u(rng) : std::pow(10.0, e(rng)) * (lo < 0 && rng() % 2 ? -1 : 1);
    v[i] = static_cast<T>(std::fmin(std::fmax(x, lo), hi));
  }
  return v;
}

template <typename T>
void CheckUnary(const dtxk_vm_table *t, const Fn &f, std::mt19937_64 &rng) {
  const int s = sizeof(T) == 4 ? 0 : 1;
  dtxk_vm_un strip = t->un[f.op - DTXK_UN_EXP][s];
  ASSERT_NE(strip, nullptr);
  auto ref = [&](T x) {
    return sizeof(T) == 4 ? static_cast<T>(f.f(static_cast<float>(x))) : static_cast<T>(f.d(x));
  };
  std::vector<T> x = Specials<T>(), r = Randoms<T>(rng, f.lo, f.hi, 4000);
  size_t nspecial = x.size();
  x.insert(x.end(), r.begin(), r.end());
  std::vector<T> y(x.size());
  strip(y.data(), x.data(), static_cast<int>(x.size()));
  double worst = 0;
  for (size_t i = 0; i < x.size(); i++) {
    T want = ref(x[i]);
    if (!std::isfinite(x[i]) || x[i] == 0 || !std::isfinite(want)) {
      EXPECT_TRUE(Same(y[i], want)) << t->isa << " " << f.name << "(" << x[i] << ") = " << y[i] << ", C99 "
                                    << want;
      continue;
    }
    if (want == 0) continue; /* an underflow to zero: no ULP scale */
    double u = Ulps(y[i], want);
    worst = std::fmax(worst, u);
    EXPECT_LE(u, f.maxulp) << t->isa << " " << f.name << "(" << x[i] << "): " << y[i] << " vs " << want;
  }
  std::printf("  %-7s %-4s %s: worst %.2f ulp from glibc\n", t->isa, sizeof(T) == 4 ? "f32" : "f64", f.name,
              worst);
  /* every strip length: the tails (a lane's value may change by an ULP with
   * its neighbours: SLEEF's sin and cos reduce a vector with a large
   * argument the slow way) */
  for (int n = 0; n <= 70; n++) {
    std::vector<T> o(n + 1, T(-7));
    strip(o.data(), r.data(), n);
    for (int i = 0; i < n; i++)
      EXPECT_TRUE(Same(o[i], y[nspecial + i]) || Ulps(o[i], y[nspecial + i]) <= 1)
          << f.name << " n " << n << " i " << i;
    EXPECT_EQ(o[n], T(-7)) << f.name << ": wrote past n = " << n;
  }
}

template <typename T>
void CheckPow(const dtxk_vm_table *t, std::mt19937_64 &rng) {
  dtxk_vm_bin strip = t->pow[sizeof(T) == 4 ? 0 : 1];
  std::vector<T> sp = Specials<T>(), a, b;
  for (T u : sp)
    for (T v : sp) a.push_back(u), b.push_back(v);
  std::uniform_real_distribution<double> base(0, 50), ex(-20, 20);
  for (int i = 0; i < 4000; i++) {
    a.push_back(static_cast<T>(i % 7 == 0 ? -std::floor(base(rng)) : base(rng)));
    b.push_back(static_cast<T>(i % 7 == 0 ? std::floor(ex(rng)) : ex(rng)));
  }
  std::vector<T> y(a.size());
  strip(y.data(), a.data(), b.data(), static_cast<int>(a.size()));
  for (size_t i = 0; i < a.size(); i++) {
    T want = static_cast<T>(sizeof(T) == 4 ? std::pow(static_cast<float>(a[i]), static_cast<float>(b[i]))
                                           : std::pow(static_cast<double>(a[i]), static_cast<double>(b[i])));
    bool exact = !std::isfinite(a[i]) || !std::isfinite(b[i]) || a[i] == 0 || b[i] == 0 || a[i] == 1 ||
                 !std::isfinite(want);
    if (exact || !std::isnormal(want)) { /* C99's special cases; subnormal results within 2 of their ulps */
      EXPECT_TRUE(Same(y[i], want) ||
                  (!exact && std::fabs(y[i] - want) <= 2 * std::numeric_limits<T>::denorm_min()))
          << t->isa << " pow(" << a[i] << ", " << b[i] << ") = " << y[i] << ", C99 " << want;
      continue;
    }
    EXPECT_LE(Ulps(y[i], want), 2) << t->isa << " pow(" << a[i] << ", " << b[i] << "): " << y[i] << " vs "
                                   << want;
  }
}

TEST(KernelsVmath, EveryStripAgreesWithLibm) {
  if (std::strcmp(dtxk_vmath_isa(), "none") == 0)
    GTEST_SKIP() << "this build has no SLEEF (apt-get install libsleef-dev): strips call libm";
  uint64_t seed = std::random_device{}();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  int tables = 0;
  for (int k = 0; k < 3; k++) {
    const dtxk_vm_table *t = dtxk_vmath_table(k);
    if (t == nullptr) continue;
    tables++;
    std::mt19937_64 rng(seed + k);
    for (const Fn &f : kFns) {
      CheckUnary<double>(t, f, rng);
      CheckUnary<float>(t, f, rng);
    }
    CheckPow<double>(t, rng);
    CheckPow<float>(t, rng);
  }
  EXPECT_GE(tables, 1);
}

/* The fused strips call the chosen table: dtx_exp, dtx_sin, dtx_pow of an array equal it. */
TEST(KernelsVmath, FusedTasksUseTheStrips) {
  if (std::strcmp(dtxk_vmath_isa(), "none") == 0) GTEST_SKIP() << "this build has no SLEEF";
  dtx_cluster *cl = nullptr;
  ASSERT_EQ(dtx_cluster_create(nullptr, &cl), DTX_OK) << dtx_last_error();
  std::mt19937_64 rng(5);
  std::vector<double> x = Randoms<double>(rng, -50, 50, 3001), e(x.size()), want(x.size());
  int64_t n = static_cast<int64_t>(x.size()), ch = 1000;
  dtx_array_scope_begin();
  dtx_array *a = dtx_from_host(cl, 1, &n, &ch, DTX_F64, x.data(), DTX_HOST_COPY);
  dtx_array *r = dtx_add(dtx_exp(a), dtx_pow(a, dtx_scalar(cl, 1.5)));
  ASSERT_EQ(dtx_array_compute(r, e.data(), e.size() * sizeof(double)), DTX_OK) << dtx_last_error();
  const dtxk_vm_un ex = dtxk_vmath_unary(DTXK_UN_EXP, DTXK_F64);
  const dtxk_vm_bin pw = dtxk_vmath_pow(DTXK_F64);
  std::vector<double> p(x.size()), y(x.size(), 1.5);
  ex(want.data(), x.data(), static_cast<int>(n));
  pw(p.data(), x.data(), y.data(), static_cast<int>(n));
  for (size_t i = 0; i < x.size(); i++) {
    double w = want[i] + p[i];
    EXPECT_TRUE(Same(e[i], w)) << "x " << x[i] << ": " << e[i] << " vs " << w;
  }
  dtx_array_scope_end();
  dtx_cluster_destroy(cl);
}

}  // namespace
