/*
 * tests/array_fft_test.cc - the array FFTs (dtx/fft.h) against a plain
 * O(n^2) DFT per axis in long double: fft / ifft / rfft / irfft along each
 * axis with cropping and zero padding, fft2 / fftn / rfftn / irfftn over
 * several axes, every norm, the dtypes NumPy 2 gives, round trips, the
 * one-chunk rule and bad input. Random values from printed seeds; ragged
 * chunks along the other axes; sync, threads and the cluster scheduler on two
 * simulated GPUs.
 */
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "array_util.h"
#include "dtx/complex.h"
#include "dtx/fft.h"

using namespace dtxa_test;
using cd = std::complex<double>;
using cl_ = std::complex<long double>;

namespace {

class ArrayFft : public ::testing::TestWithParam<Sched> {
 protected:
  dtx_cluster *cl() { return ClusterFor(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Schedulers, ArrayFft,
                         ::testing::Values(AllScheds()[0], AllScheds()[1], AllScheds()[3]), SchedName());

/* A complex n-d array in C order. */
struct Cx {
  std::vector<int64_t> shape;
  std::vector<cd> v;
  int64_t stride(int ax) const {
    int64_t s = 1;
    for (size_t d = static_cast<size_t>(ax) + 1; d < shape.size(); d++) s *= shape[d];
    return s;
  }
};

/* x cropped / zero-padded to len along ax */
Cx Fit(const Cx &x, int ax, int64_t len) {
  Cx r{x.shape, {}};
  r.shape[ax] = len;
  int64_t outer = 1, inner = x.stride(ax);
  for (int d = 0; d < ax; d++) outer *= x.shape[d];
  r.v.assign(static_cast<size_t>(outer * len * inner), cd(0, 0));
  for (int64_t o = 0; o < outer; o++)
    for (int64_t k = 0; k < std::min(len, x.shape[ax]); k++)
      for (int64_t i = 0; i < inner; i++)
        r.v[(o * len + k) * inner + i] = x.v[(o * x.shape[ax] + k) * inner + i];
  return r;
}

/* the DFT along ax (sign -1 forward), times scale */
Cx Dft(const Cx &x, int ax, int sign, long double scale) {
  Cx r = x;
  int64_t n = x.shape[ax], outer = 1, inner = x.stride(ax);
  for (int d = 0; d < ax; d++) outer *= x.shape[d];
  const long double pi = 3.141592653589793238462643383279502884L;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++)
      for (int64_t k = 0; k < n; k++) {
        cl_ s = 0;
        for (int64_t j = 0; j < n; j++) {
          long double ang =
              sign * 2 * pi * static_cast<long double>((j * k) % n) / static_cast<long double>(n);
          cd xv = x.v[(o * n + j) * inner + i];
          s += cl_(xv.real(), xv.imag()) * cl_(std::cos(ang), std::sin(ang));
        }
        s *= scale;
        r.v[(o * n + k) * inner + i] = cd(static_cast<double>(s.real()), static_cast<double>(s.imag()));
      }
  return r;
}

Cx Rand(std::mt19937_64 &rng, std::vector<int64_t> shape, bool real) {
  Cx x{shape, {}};
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::uniform_real_distribution<double> u(-1, 1);
  for (int64_t i = 0; i < n; i++) x.v.push_back(cd(u(rng), real ? 0.0 : u(rng)));
  return x;
}

dtx_array *Make(dtx_cluster *cl, const Cx &x, const std::vector<int64_t> &chunks, bool real) {
  int nd = static_cast<int>(x.shape.size());
  if (!real) return dtx_from_host(cl, nd, x.shape.data(), chunks.data(), DTX_C128, x.v.data(), DTX_HOST_COPY);
  std::vector<double> r;
  for (cd v : x.v) r.push_back(v.real());
  return dtx_from_host(cl, nd, x.shape.data(), chunks.data(), DTX_F64, r.data(), DTX_HOST_COPY);
}

std::vector<cd> Get(const dtx_array *a) {
  std::vector<cd> v(static_cast<size_t>(dtx_array_size(a)));
  if (dtx_array_dtype(a) == DTX_C128) {
    EXPECT_EQ(dtx_array_compute_as(a, DTX_C128, v.data(), v.size() * sizeof(cd)), DTX_OK) << dtx_last_error();
  } else {
    std::vector<double> r(v.size());
    EXPECT_EQ(dtx_array_compute_as(a, DTX_F64, r.data(), r.size() * 8), DTX_OK) << dtx_last_error();
    for (size_t i = 0; i < r.size(); i++) v[i] = cd(r[i], 0);
  }
  return v;
}

void Near(const dtx_array *a, const Cx &want, double tol, const std::string &what) {
  ASSERT_NE(a, nullptr) << what << ": " << dtx_last_error();
  ASSERT_EQ(dtx_array_ndim(a), static_cast<int>(want.shape.size())) << what;
  for (size_t d = 0; d < want.shape.size(); d++)
    ASSERT_EQ(dtx_array_dim(a, static_cast<int>(d)), want.shape[d]) << what;
  std::vector<cd> got = Get(a);
  ASSERT_EQ(got.size(), want.v.size()) << what;
  for (size_t i = 0; i < got.size(); i++) {
    ASSERT_NEAR(got[i].real(), want.v[i].real(), tol) << what << " at " << i;
    ASSERT_NEAR(got[i].imag(), want.v[i].imag(), tol) << what << " at " << i;
  }
}

long double Scale(dtx_fft_norm norm, bool inverse, long double n) {
  if (norm == DTX_FFT_ORTHO) return 1.0L / std::sqrt(n);
  return (norm == DTX_FFT_FORWARD) != inverse ? 1.0L / n : 1.0L;
}

TEST_P(ArrayFft, OneAxisEveryKindNormAndLength) {
  Scope s;
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  Cx x = Rand(rng, {5, 12}, false), xr = Rand(rng, {5, 12}, true);
  for (int ax : {1, 0, -1}) {
    int a = ax < 0 ? ax + 2 : ax;
    std::vector<int64_t> chunks = {a == 0 ? 5 : 2, a == 1 ? 12 : 3};
    dtx_array *c = Make(cl(), x, chunks, false), *r = Make(cl(), xr, chunks, true);
    for (dtx_fft_norm norm : {DTX_FFT_BACKWARD, DTX_FFT_ORTHO, DTX_FFT_FORWARD})
      for (int64_t n : {int64_t(0), int64_t(7), x.shape[a] + 3}) {
        int64_t len = n == 0 ? x.shape[a] : n;
        std::string what =
            "axis " + std::to_string(ax) + " norm " + std::to_string(norm) + " n " + std::to_string(n);
        Cx fx = Fit(x, a, len);
        Near(dtx_fft(c, n, ax, norm), Dft(fx, a, -1, Scale(norm, false, len)), 1e-12, "fft " + what);
        Near(dtx_ifft(c, n, ax, norm), Dft(fx, a, +1, Scale(norm, true, len)), 1e-12, "ifft " + what);
        /* rfft: the first len/2 + 1 values of the real input's DFT */
        Cx fr = Dft(Fit(xr, a, len), a, -1, Scale(norm, false, len));
        Near(dtx_rfft(r, n, ax, norm), Fit(fr, a, len / 2 + 1), 1e-12, "rfft " + what);
        /* irfft of the rfft gives the (fitted) real input back */
        dtx_array *back = dtx_irfft(dtx_rfft(r, n, ax, norm), len, ax, norm);
        Near(back, Fit(xr, a, len), 1e-12, "irfft(rfft) " + what);
      }
  }
}

TEST_P(ArrayFft, IrfftAgainstHermitianDft) {
  Scope s;
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  Cx h = Rand(rng, {3, 6}, false);
  dtx_array *a = Make(cl(), h, {2, 6}, false);
  for (int64_t n : {int64_t(0), int64_t(9), int64_t(10), int64_t(4)}) {
    int64_t len = n == 0 ? 2 * (6 - 1) : n, m = len / 2 + 1;
    /* the full Hermitian spectrum of the first m values (imaginary parts of
     * the DC and Nyquist terms ignored, as pocketfft / FFTW do) */
    Cx full{{3, len}, std::vector<cd>(static_cast<size_t>(3 * len))};
    Cx hm = Fit(h, 1, m);
    for (int64_t i = 0; i < 3; i++)
      for (int64_t k = 0; k < len; k++) {
        int64_t kk = k < m ? k : len - k;
        cd v = hm.v[i * m + kk];
        if (k >= m) v = std::conj(v);
        if (k == 0 || (len % 2 == 0 && k == len / 2)) v = cd(v.real(), 0);
        full.v[i * len + k] = v;
      }
    Near(dtx_irfft(a, n, -1, DTX_FFT_BACKWARD), Dft(full, 1, +1, 1.0L / len), 1e-12,
         "irfft n " + std::to_string(n));
  }
}

TEST_P(ArrayFft, SeveralAxes) {
  Scope s;
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  Cx x = Rand(rng, {4, 6, 5}, false), xr = Rand(rng, {4, 6, 5}, true);
  dtx_array *c = Make(cl(), x, {3, 6, 5}, false), *r = Make(cl(), xr, {3, 6, 5}, true);
  Cx f2 = Dft(Dft(x, 1, -1, 1), 2, -1, 1);
  Near(dtx_fft2(c, nullptr, nullptr, DTX_FFT_BACKWARD), f2, 1e-12, "fft2");
  Near(dtx_fftn(c, 2, nullptr, nullptr, DTX_FFT_BACKWARD), f2, 1e-12, "fftn last 2");
  Near(dtx_ifft2(dtx_fft2(c, nullptr, nullptr, DTX_FFT_ORTHO), nullptr, nullptr, DTX_FFT_ORTHO), x, 1e-12,
       "ifft2(fft2)");
  dtx_array *whole = dtx_rechunk(c, std::vector<int64_t>{4, 6, 5}.data());
  Cx fa = Dft(Dft(Dft(x, 0, -1, 1), 1, -1, 1), 2, -1, 1);
  Near(dtx_fftn(whole, 0, nullptr, nullptr, DTX_FFT_BACKWARD), fa, 1e-11, "fftn all");
  /* axes out of order and lengths: s = (4, 7) over axes (2, 1) */
  Cx fs = Dft(Dft(Fit(Fit(x, 2, 4), 1, 7), 2, -1, 1), 1, -1, 1);
  Near(dtx_fftn(c, 2, std::vector<int64_t>{4, 7}.data(), std::vector<int>{2, 1}.data(), DTX_FFT_BACKWARD), fs,
       1e-12, "fftn s axes");
  /* rfftn halves the last axis; irfftn brings the real input back */
  Cx rf = Fit(Dft(Dft(xr, 1, -1, 1), 2, -1, 1), 2, 3);
  dtx_array *rr = dtx_rfftn(r, 2, nullptr, nullptr, DTX_FFT_BACKWARD);
  Near(rr, rf, 1e-12, "rfftn");
  Near(dtx_irfftn(rr, 2, std::vector<int64_t>{6, 5}.data(), nullptr, DTX_FFT_BACKWARD), xr, 1e-12, "irfftn");
}

TEST_P(ArrayFft, FromAnNpyFile) {
  Scope s;
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  Cx x = Rand(rng, {4, 6, 5}, false);
  std::string path = ::testing::TempDir() + "/fft_" + GetParam().name + ".npy";
  ASSERT_EQ(dtx_save_npy(Make(cl(), x, {4, 6, 5}, false), path.c_str()), DTX_OK) << dtx_last_error();
  dtx_array *a = nullptr;
  ASSERT_EQ(dtx_load_npy(cl(), path.c_str(), std::vector<int64_t>{3, 6, 5}.data(), &a), DTX_OK)
      << dtx_last_error();
  std::remove(path.c_str());
  Near(dtx_fft2(a, nullptr, nullptr, DTX_FFT_BACKWARD), Dft(Dft(x, 1, -1, 1), 2, -1, 1), 1e-12,
       "fft2 of npy");
}

/* Along an axis that is not the innermost the CPU kernel transforms blocks of 16 lanes: more
 * lanes than a block, a ragged last block, several outer planes. */
TEST_P(ArrayFft, StridedAxisInLaneBlocks) {
  Scope s;
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  Cx x = Rand(rng, {13, 37}, false), y = Rand(rng, {3, 10, 21}, false);
  Near(dtx_fft(Make(cl(), x, {13, 8}, false), 0, 0, DTX_FFT_BACKWARD), Dft(x, 0, -1, 1), 1e-12, "fft axis 0");
  Near(dtx_ifft(Make(cl(), y, {2, 10, 21}, false), 0, 1, DTX_FFT_ORTHO),
       Dft(y, 1, +1, 1.0L / std::sqrt(10.0L)), 1e-12, "ifft axis 1 of 3");
  /* single precision */
  std::vector<std::complex<float>> xf;
  for (cd v : x.v) xf.push_back(std::complex<float>(v));
  dtx_array *a = dtx_from_host(cl(), 2, x.shape.data(), nullptr, DTX_C64, xf.data(), DTX_HOST_COPY);
  Near(dtx_astype(dtx_fft(a, 0, 0, DTX_FFT_BACKWARD), DTX_C128), Dft(x, 0, -1, 1), 2e-5, "complex64 axis 0");
}

size_t GraphSize(const dtx_array *a) {
  dtx_graph *g = nullptr;
  EXPECT_EQ(dtx_graph_create(&g), DTX_OK);
  int64_t nb = 1;
  for (int d = 0; d < dtx_array_ndim(a); d++) nb *= dtx_array_numblocks(a, d);
  std::vector<dtx_task_id> ids(static_cast<size_t>(nb));
  EXPECT_EQ(dtx_array_graph(a, g, ids.data(), ids.size(), nullptr), DTX_OK) << dtx_last_error();
  size_t n = dtx_graph_size(g);
  dtx_graph_destroy(g);
  return n;
}

/* fft2 as two passes with a rechunk between (Dask's way): on CPU threads the
 * column pass reads the row chunks in place (no rechunk tasks); ragged row
 * chunks, column chunks inside one chunk of the source at an offset, and
 * ones across two (then the rechunk is made as before). */
TEST_P(ArrayFft, ColumnPassReadsTheRowChunksInPlace) {
  Scope s;
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  Cx x = Rand(rng, {37, 53}, false);
  Cx want = Dft(Dft(x, 1, -1, 1), 0, -1, 1);
  dtx_array *f1 = dtx_fft(Make(cl(), x, {10, 53}, false), 0, 1, DTX_FFT_BACKWARD);
  size_t n1 = GraphSize(f1);
  for (int64_t c : {8, 53, 1}) {
    SCOPED_TRACE(c);
    dtx_array *f2 = dtx_fft(dtx_rechunk(f1, std::vector<int64_t>{37, c}.data()), 0, 0, DTX_FFT_BACKWARD);
    Near(f2, want, 1e-11, "fft(rechunk(fft(x, 1)), 0)");
    if (GetParam().gpus == 0) {
      EXPECT_EQ(GraphSize(f2), n1 + static_cast<size_t>((53 + c - 1) / c)) << "rechunk tasks made";
    }
  }
  /* the source in chunks of 20 columns: chunks of 10 lie inside one (at offsets 0 and 10),
   * chunks of 15 do not all (read through the rechunk) */
  Cx want0 = Dft(x, 0, +1, 1.0L / 37);
  dtx_array *src = Make(cl(), x, {10, 20}, false);
  for (int64_t c : {10, 15}) {
    SCOPED_TRACE(c);
    Near(dtx_ifft(dtx_rechunk(src, std::vector<int64_t>{37, c}.data()), 0, 0, DTX_FFT_BACKWARD), want0, 1e-12,
         "ifft(rechunk(x), 0)");
  }
  /* complex64 */
  std::vector<std::complex<float>> xf;
  for (cd v : x.v) xf.push_back(std::complex<float>(v));
  dtx_array *a = dtx_from_host(cl(), 2, x.shape.data(), std::vector<int64_t>{9, 53}.data(), DTX_C64,
                               xf.data(), DTX_HOST_COPY);
  dtx_array *g = dtx_fft(dtx_rechunk(dtx_fft(a, 0, 1, DTX_FFT_BACKWARD), std::vector<int64_t>{37, 16}.data()),
                         0, 0, DTX_FFT_BACKWARD);
  Near(dtx_astype(g, DTX_C128), want, 2e-4, "complex64 two passes");
}

TEST_P(ArrayFft, FiveDimensionsAndTheLimit) {
  Scope s;
  unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  /* 5-d: the pairs are 6-d, past the 4 indices of a task key (folded) */
  Cx x = Rand(rng, {2, 3, 2, 2, 6}, false);
  dtx_array *a = Make(cl(), x, {1, 2, 1, 2, 6}, false);
  Near(dtx_fft(a, 0, -1, DTX_FFT_BACKWARD), Dft(x, 4, -1, 1), 1e-12, "fft of 5-d");
  Cx xr = Rand(rng, {2, 3, 2, 2, 6}, true);
  Near(dtx_rfft(Make(cl(), xr, {1, 2, 1, 2, 6}, true), 0, -1, DTX_FFT_BACKWARD), Fit(Dft(xr, 4, -1, 1), 4, 4),
       1e-12, "rfft of 5-d");
  /* an 8-d real array: its complex result would need 9 dimensions */
  std::vector<int64_t> eight(8, 1);
  eight[7] = 4;
  EXPECT_EQ(dtx_rfft(dtx_zeros(cl(), 8, eight.data(), nullptr, DTX_F64), 0, -1, DTX_FFT_BACKWARD), nullptr);
  EXPECT_NE(std::string(dtx_last_error()).find("dimensions"), std::string::npos) << dtx_last_error();
}

TEST_P(ArrayFft, DtypesAsNumpy2) {
  Scope s;
  std::vector<float> f(8, 1.0f);
  std::vector<int32_t> i(8, 1);
  dtx_array *f32 =
      dtx_from_host(cl(), 1, std::vector<int64_t>{8}.data(), nullptr, DTX_F32, f.data(), DTX_HOST_COPY);
  dtx_array *i32 =
      dtx_from_host(cl(), 1, std::vector<int64_t>{8}.data(), nullptr, DTX_I32, i.data(), DTX_HOST_COPY);
  EXPECT_EQ(dtx_array_dtype(dtx_fft(f32, 0, -1, DTX_FFT_BACKWARD)), DTX_C64);
  EXPECT_EQ(dtx_array_dtype(dtx_fft(dtx_astype(f32, DTX_F16), 0, -1, DTX_FFT_BACKWARD)), DTX_C64);
  EXPECT_EQ(dtx_array_dtype(dtx_rfft(f32, 0, -1, DTX_FFT_BACKWARD)), DTX_C64);
  EXPECT_EQ(dtx_array_dtype(dtx_irfft(dtx_rfft(f32, 0, -1, DTX_FFT_BACKWARD), 0, -1, DTX_FFT_BACKWARD)),
            DTX_F32);
  EXPECT_EQ(dtx_array_dtype(dtx_fft(i32, 0, -1, DTX_FFT_BACKWARD)), DTX_C128);
  EXPECT_EQ(dtx_array_dtype(dtx_irfft(i32, 0, -1, DTX_FFT_BACKWARD)), DTX_F64);
  EXPECT_EQ(dtx_array_dtype(dtx_irfft(dtx_astype(f32, DTX_F16), 0, -1, DTX_FFT_BACKWARD)), DTX_F16);
  /* complex64 values: the sum of eight ones at 0, zeros elsewhere */
  std::vector<std::complex<float>> got(8);
  ASSERT_EQ(dtx_array_compute_as(dtx_fft(f32, 0, 0, DTX_FFT_BACKWARD), DTX_C64, got.data(), 64), DTX_OK)
      << dtx_last_error();
  EXPECT_EQ(got[0], std::complex<float>(8, 0));
  for (int k = 1; k < 8; k++) EXPECT_LT(std::abs(got[k]), 1e-6f);
  /* an array empty along another axis: an empty result */
  dtx_array *e = dtx_zeros(cl(), 2, std::vector<int64_t>{0, 4}.data(), nullptr, DTX_F64);
  dtx_array *fe = dtx_fft(e, 0, 1, DTX_FFT_BACKWARD);
  ASSERT_NE(fe, nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_array_size(fe), 0);
  EXPECT_EQ(dtx_array_compute_as(fe, DTX_C128, nullptr, 0), DTX_OK);
}

TEST_P(ArrayFft, BadInputIsAClearError) {
  Scope s;
  dtx_array *a =
      dtx_zeros(cl(), 2, std::vector<int64_t>{8, 6}.data(), std::vector<int64_t>{4, 6}.data(), DTX_C128);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(dtx_fft(a, 0, 0, DTX_FFT_BACKWARD), nullptr); /* two chunks along axis 0 */
  EXPECT_NE(std::string(dtx_last_error()).find("rechunk"), std::string::npos) << dtx_last_error();
  EXPECT_NE(dtx_fft(a, 0, 1, DTX_FFT_BACKWARD), nullptr) << dtx_last_error();
  EXPECT_EQ(dtx_fft(a, 0, 2, DTX_FFT_BACKWARD), nullptr);
  EXPECT_EQ(dtx_fft(a, -3, 1, DTX_FFT_BACKWARD), nullptr);
  EXPECT_EQ(dtx_fft(a, 0, 1, static_cast<dtx_fft_norm>(7)), nullptr);
  EXPECT_EQ(dtx_rfft(a, 0, 1, DTX_FFT_BACKWARD), nullptr); /* complex input */
  EXPECT_EQ(dtx_irfft(dtx_zeros(cl(), 1, std::vector<int64_t>{1}.data(), nullptr, DTX_C128), 0, 0,
                      DTX_FFT_BACKWARD),
            nullptr); /* 2 (1 - 1) = 0 points */
  EXPECT_EQ(dtx_fftn(a, 2, nullptr, std::vector<int>{1, -1}.data(), DTX_FFT_BACKWARD),
            nullptr); /* repeated */
  EXPECT_EQ(dtx_fft2(dtx_zeros(cl(), 1, std::vector<int64_t>{4}.data(), nullptr, DTX_F64), nullptr, nullptr,
                     DTX_FFT_BACKWARD),
            nullptr);
  EXPECT_EQ(dtx_fft(dtx_scalar(cl(), 1.0), 0, 0, DTX_FFT_BACKWARD), nullptr);
}

}  // namespace
