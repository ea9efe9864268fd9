/*
 * tests/fft_kernel_test.cc - the CPU FFT kernel (src/kernels/fft.c) against a
 * plain O(n^2) discrete Fourier transform, on random chunks from printed
 * seeds: complex-to-complex forward and backward over one, two and three
 * axes in any order, real-to-complex and complex-to-real over the last
 * listed axis, single and double precision, odd and prime lengths, scaling,
 * and the checks of a malformed blob.
 */
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/fft.h"

namespace {

using cd = std::complex<double>;

int64_t Prod(const int64_t *s, int n) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) p *= s[i];
  return p;
}

void Unravel(int64_t flat, const int64_t *shape, int n, int64_t *idx) {
  for (int d = n - 1; d >= 0; d--) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
}

int64_t Ravel(const int64_t *idx, const int64_t *shape, int n) {
  int64_t f = 0;
  for (int d = 0; d < n; d++) f = f * shape[d] + idx[d];
  return f;
}

// One 1-d DFT along axis `ax` of a complex C-ordered array (in place).
void Dft1(std::vector<cd> &x, const int64_t *shape, int n, int ax, int sign) {
  std::vector<cd> y(x.size());
  int64_t len = shape[ax];
  int64_t idx[DTXK_MAX_DIMS];
  for (int64_t f = 0; f < (int64_t)x.size(); f++) {
    Unravel(f, shape, n, idx);
    int64_t k = idx[ax];
    cd s = 0;
    for (int64_t j = 0; j < len; j++) {
      idx[ax] = j;
      double ang = sign * 2.0 * M_PI * (double)((j * k) % len) / (double)len;
      s += x[Ravel(idx, shape, n)] * cd(std::cos(ang), std::sin(ang));
    }
    y[f] = s;
  }
  x.swap(y);
}

struct Case {
  int kind, sign, prec, ndim, naxes;
  std::vector<int> axes;
  std::vector<int64_t> shape;  // logical (real lengths for R2C / C2R)
  double scale;
};

dtxk_fft Blob(const Case &c) {
  dtxk_fft f{};
  f.kind = c.kind;
  f.sign = c.sign;
  f.prec = c.prec;
  f.ndim = c.ndim;
  f.naxes = c.naxes;
  for (int i = 0; i < c.naxes; i++) f.axes[i] = c.axes[i];
  int last = c.axes[c.naxes - 1];
  for (int d = 0; d < c.ndim; d++) {
    f.in_shape[d] = f.out_shape[d] = c.shape[d];
    if (d == last && c.kind == DTXK_FFT_R2C) f.out_shape[d] = c.shape[d] / 2 + 1;
    if (d == last && c.kind == DTXK_FFT_C2R) f.in_shape[d] = c.shape[d] / 2 + 1;
  }
  f.scale = c.scale;
  return f;
}

// Runs the case on random input and compares with the plain DFT.
void Check(const Case &c, unsigned seed) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " kind " + std::to_string(c.kind) + " prec " +
               std::to_string(c.prec));
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd;
  dtxk_fft f = Blob(c);
  ASSERT_EQ(dtxk_fft_check(&f), nullptr) << dtxk_fft_check(&f);
  const int64_t *full = c.shape.data();
  int64_t nfull = Prod(full, c.ndim);
  // A Hermitian-consistent spectrum for C2R: the forward transform of reals.
  std::vector<cd> ref(nfull);
  for (auto &v : ref) v = c.kind == DTXK_FFT_C2C ? cd(nd(rng), nd(rng)) : cd(nd(rng), 0.0);
  std::vector<cd> spec = ref;
  if (c.kind == DTXK_FFT_C2R)
    for (int i = 0; i < c.naxes; i++) Dft1(spec, full, c.ndim, c.axes[i], -1);
  // The input in the kernel's layout.
  int64_t nin = Prod(f.in_shape, c.ndim);
  std::vector<double> in64(nin * (c.kind == DTXK_FFT_R2C ? 1 : 2));
  int64_t idx[DTXK_MAX_DIMS];
  for (int64_t q = 0; q < nin; q++) {
    Unravel(q, f.in_shape, c.ndim, idx);
    cd v = c.kind == DTXK_FFT_C2R ? spec[Ravel(idx, full, c.ndim)] : ref[Ravel(idx, full, c.ndim)];
    if (c.kind == DTXK_FFT_R2C) {
      in64[q] = v.real();
    } else {
      in64[2 * q] = v.real();
      in64[2 * q + 1] = v.imag();
    }
  }
  // The expected result.
  std::vector<cd> want = ref;
  if (c.kind == DTXK_FFT_C2R) {  // the unnormalised inverse of the forward transform
    int64_t n = 1;
    for (int i = 0; i < c.naxes; i++) n *= full[c.axes[i]];
    for (auto &v : want) v *= (double)n;
  } else {
    for (int i = 0; i < c.naxes; i++)
      Dft1(want, full, c.ndim, c.axes[i], c.kind == DTXK_FFT_C2C ? c.sign : -1);
  }
  int64_t nout = Prod(f.out_shape, c.ndim);
  int oreal = c.kind == DTXK_FFT_C2R ? 1 : 2;
  std::vector<double> out64(nout * oreal, -7.0);
  std::vector<float> in32(in64.begin(), in64.end()), out32(out64.size(), -7.0f);
  const char *why = nullptr;
  int rc = c.prec == 8 ? dtxk_fft_run(&f, in64.data(), out64.data(), &why)
                       : dtxk_fft_run(&f, in32.data(), out32.data(), &why);
  ASSERT_EQ(rc, 0) << (why ? why : "");
  double tol = (c.prec == 8 ? 1e-10 : 2e-4) * std::sqrt((double)nfull) * 4;
  double scale_ref = 0;
  for (auto &v : want) scale_ref = std::max(scale_ref, std::abs(v));
  for (int64_t q = 0; q < nout; q++) {
    Unravel(q, f.out_shape, c.ndim, idx);
    cd w = want[Ravel(idx, full, c.ndim)] * c.scale;
    double re = c.prec == 8 ? out64[oreal * q] : out32[oreal * q];
    double im = oreal == 1 ? 0.0 : (c.prec == 8 ? out64[2 * q + 1] : out32[2 * q + 1]);
    ASSERT_NEAR(re, w.real(), tol * std::max(1.0, scale_ref) * std::abs(c.scale)) << "at " << q;
    ASSERT_NEAR(im, w.imag(), tol * std::max(1.0, scale_ref) * std::abs(c.scale)) << "at " << q;
  }
}

TEST(FftKernel, ComplexOneAxisEachPosition) {
  if (dtxk_fft_library() == nullptr) GTEST_SKIP() << "built without FFTW";
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  for (int prec : {8, 4})
    for (int ax = 0; ax < 3; ax++)
      for (int sign : {-1, 1})
        Check({DTXK_FFT_C2C, sign, prec, 3, 1, {ax}, {5, 7, 6}, sign < 0 ? 1.0 : 1.0 / 7}, seed++);
}

TEST(FftKernel, ComplexSeveralAxesAnyOrder) {
  if (dtxk_fft_library() == nullptr) GTEST_SKIP() << "built without FFTW";
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  Check({DTXK_FFT_C2C, -1, 8, 2, 2, {0, 1}, {13, 8}, 1.0}, seed++);
  Check({DTXK_FFT_C2C, 1, 8, 3, 2, {2, 0}, {4, 3, 11}, 0.5}, seed++);
  Check({DTXK_FFT_C2C, -1, 4, 3, 3, {1, 2, 0}, {3, 5, 4}, 1.0}, seed++);
  Check({DTXK_FFT_C2C, -1, 8, 1, 1, {0}, {97}, 1.0 / std::sqrt(97.0)}, seed++);
}

TEST(FftKernel, RealToComplexAndBack) {
  if (dtxk_fft_library() == nullptr) GTEST_SKIP() << "built without FFTW";
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  for (int prec : {8, 4}) {
    Check({DTXK_FFT_R2C, 0, prec, 2, 1, {1}, {3, 10}, 1.0}, seed++);
    Check({DTXK_FFT_R2C, 0, prec, 2, 1, {0}, {9, 4}, 1.0}, seed++);
    Check({DTXK_FFT_R2C, 0, prec, 3, 2, {0, 2}, {6, 2, 7}, 1.0}, seed++);
    Check({DTXK_FFT_C2R, 0, prec, 2, 1, {1}, {3, 10}, 1.0 / 10}, seed++);
    Check({DTXK_FFT_C2R, 0, prec, 2, 1, {1}, {2, 9}, 1.0 / 9}, seed++);
    Check({DTXK_FFT_C2R, 0, prec, 3, 2, {2, 0}, {6, 2, 5}, 1.0 / 30}, seed++);
  }
}

TEST(FftKernel, MalformedBlobsAreRefused) {
  Case c{DTXK_FFT_R2C, 0, 8, 2, 1, {1}, {3, 10}, 1.0};
  dtxk_fft f = Blob(c);
  EXPECT_EQ(dtxk_fft_check(&f), nullptr);
  f.out_shape[1] = 5;
  EXPECT_NE(dtxk_fft_check(&f), nullptr);
  f = Blob(c);
  f.axes[0] = 2;
  EXPECT_NE(dtxk_fft_check(&f), nullptr);
  f = Blob(c);
  f.prec = 2;
  EXPECT_NE(dtxk_fft_check(&f), nullptr);
  Case d{DTXK_FFT_C2C, -1, 8, 2, 2, {0, 0}, {3, 3}, 1.0};
  f = Blob(d);
  EXPECT_NE(dtxk_fft_check(&f), nullptr);
  f.axes[1] = 1;
  EXPECT_EQ(dtxk_fft_check(&f), nullptr);
  f.sign = 0;
  EXPECT_NE(dtxk_fft_check(&f), nullptr);
  f.sign = 1;
  f.in_shape[0] = f.out_shape[0] = 0;
  EXPECT_NE(dtxk_fft_check(&f), nullptr);  // a transformed length of 0
}

TEST(FftKernel, CudaLayoutsAreConsecutiveAxes) {
  dtxk_fft f = Blob({DTXK_FFT_C2C, -1, 8, 3, 2, {1, 2}, {2, 3, 4}, 1.0});
  EXPECT_TRUE(dtxk_fft_cuda_supported(&f));
  f = Blob({DTXK_FFT_C2C, -1, 8, 3, 2, {0, 2}, {2, 3, 4}, 1.0});
  EXPECT_FALSE(dtxk_fft_cuda_supported(&f));
  f = Blob({DTXK_FFT_C2C, -1, 8, 3, 2, {2, 1}, {2, 3, 4}, 1.0});
  EXPECT_FALSE(dtxk_fft_cuda_supported(&f));
  f = Blob({DTXK_FFT_C2C, -1, 8, 1, 1, {0}, {8}, 1.0});
  EXPECT_TRUE(dtxk_fft_cuda_supported(&f));
}

}  // namespace
