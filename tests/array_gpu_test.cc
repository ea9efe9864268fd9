/*
 * tests/array_gpu_test.cc - CPU against CUDA: the array kernels computed on
 * real GPUs (every task with a CUDA implementation pinned to one) against the
 * same arrays computed by `sync` on the CPU. Elementwise programs of every
 * operation and dtype (all 12, float16 and the small and unsigned integers
 * included; floor_divide, mod, isnan, isinf, isfinite, rint and round too),
 * every cast, generators, reductions of every dtype, products,
 * slices, halos, scans, sorts and FFTs (cuFFT against FFTW). Skips,
 * saying so, without a GPU (and in builds without CUDA).
 */
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>

extern "C" int dtxa_pin_gpus; /* array/array.h (C only): pin CUDA-capable tasks to GPUs */
#include "array_util.h"
#include "dtx/complex.h"

using namespace dtxa_test;

namespace {

struct Pin {
  Pin() { dtxa_pin_gpus = 1; }
  ~Pin() { dtxa_pin_gpus = 0; }
};

/* Computes a under the cluster scheduler (GPUs) and under sync (CPU). */
void Parity(dtx_cluster *gpu, dtx_cluster *cpu, const std::function<dtx_array *(dtx_cluster *)> &make,
            double rtol, const char *what) {
  SCOPED_TRACE(what);
  Nd on_cpu = Get(make(cpu));
  Nd on_gpu;
  {
    Pin pin;
    on_gpu = Get(make(gpu));
  }
  EXPECT_TRUE(SameNd(on_gpu, on_cpu, rtol, rtol));
}

/* The cluster a parity test runs on GPUs (DTX_ARRAY_GPU_TEST_GPUS=sim:N:
 * simulated ones, CPU against CPU; default all), or null with *why saying
 * why the test is skipped. */
dtxt::ClusterPtr GpuCluster(std::string *why) {
#if !defined(DTX_HAVE_CUDA)
  if (std::getenv("DTX_ARRAY_GPU_TEST_GPUS") == nullptr) {
    *why = "built without CUDA";
    return nullptr;
  }
#endif
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  const char *spec = std::getenv("DTX_ARRAY_GPU_TEST_GPUS");
  cfg.gpus = spec != nullptr ? spec : "all";
  cfg.scheduler = DTX_SCHED_CLUSTER;
  cfg.log_level = DTX_LOG_NONE;
  dtx_cluster *raw = nullptr;
  if (dtx_cluster_create(&cfg, &raw) != DTX_OK) {
    ADD_FAILURE() << dtx_last_error();
    *why = "the cluster failed to start";
    return nullptr;
  }
  dtxt::ClusterPtr gpu(raw);
  if (dtx_cluster_num_gpus(gpu.get()) == 0) {
    *why = "no GPU on this machine";
    return nullptr;
  }
  return gpu;
}

/* Whether this build's linalg has LAPACKE (else dtx_linalg_* are DTX_ENOTSUP). */
bool HasLapacke(dtx_cluster *cpu) {
  Scope sc;
  dtx_array *q = nullptr, *r = nullptr;
  return dtx_linalg_tsqr(dtx_ones(cpu, 2, (const int64_t[]){4, 2}, nullptr, DTX_F64), &q, &r) != DTX_ENOTSUP;
}

}  // namespace

TEST(ArrayGpu, CudaKernelsMatchTheCpu) {
  {
    std::string why;
    dtxt::ClusterPtr gpu = GpuCluster(&why);
    if (gpu == nullptr) GTEST_SKIP() << why;
    dtxt::ClusterPtr cpu = dtxt::MakeCluster(DTX_SCHED_SYNC, 1);
    Scope sc;
    std::mt19937_64 rng(6000);
    std::vector<int64_t> shape = {37, 53}, ch = {16, 20};
    /* float16 results: transcendental functions may round to the neighbouring half */
    auto tol = [](dtx_dtype t) { return t == DTX_F16 ? 1e-3 : 1e-6; };
    for (dtx_dtype ta : EveryDtype())
      for (dtx_dtype tb : EveryDtype()) {
        Nd a = RandNd(rng, shape, ta), b = RandNd(rng, shape, tb);
        for (int op = DTX_ADD; op <= DTX_MOD; op++) {
          if (op == DTX_POW && (ta != tb || ta == DTX_BOOL)) continue;
          std::string what = std::string("binary ") + std::to_string(op) + " " + dtx_dtype_name(ta) + " " +
                             dtx_dtype_name(tb);
          auto make = [&](dtx_cluster *cl) {
            dtx_array *r = dtx_binary(static_cast<dtx_binary_op>(op), Put(cl, a, ch),
                                      dtx_transpose(dtx_transpose(Put(cl, b, ch), nullptr), nullptr));
            return r != nullptr ? r : dtx_zeros(cl, 1, shape.data(), nullptr, DTX_BOOL);
          };
          Parity(gpu.get(), cpu.get(), make, tol(ta) > tol(tb) ? tol(ta) : tol(tb), what.c_str());
        }
      }
    for (int op = DTX_NEG; op <= DTX_RINT; op++)
      for (dtx_dtype t : EveryDtype()) {
        if (op == DTX_NEG && t == DTX_BOOL) continue;
        Nd a = RandNd(rng, shape, t);
        std::string what = std::string("unary ") + std::to_string(op) + " " + dtx_dtype_name(t);
        Parity(
            gpu.get(), cpu.get(),
            [&](dtx_cluster *cl) { return dtx_unary(static_cast<dtx_unary_op>(op), Put(cl, a, ch)); },
            op > DTX_ABS && (t == DTX_BOOL || t == DTX_I8 || t == DTX_U8 || t == DTX_F16) ? 1e-3 : 1e-6,
            what.c_str());
      }
    /* round: multiply, rint, divide in the dtype; integers through float64 and back */
    for (dtx_dtype t : EveryDtype())
      for (int d : {0, 2, -1}) {
        if (t == DTX_BOOL && d != 0) continue;
        Nd a = RandNd(rng, shape, t);
        std::string what = std::string("round ") + std::to_string(d) + " " + dtx_dtype_name(t);
        Parity(
            gpu.get(), cpu.get(), [&](dtx_cluster *cl) { return dtx_round(Put(cl, a, ch), d); }, 0,
            what.c_str());
      }
    /* every cast, through a program that computes in the target dtype */
    for (dtx_dtype ta : EveryDtype())
      for (dtx_dtype tb : EveryDtype()) {
        Nd a = RandNd(rng, shape, ta);
        if (ta == DTX_F16 || ta == DTX_F32 || ta == DTX_F64) /* past the small integers: saturation */
          for (auto &e : a.v) e *= 1000;
        std::string what = std::string("astype ") + dtx_dtype_name(ta) + " " + dtx_dtype_name(tb);
        Parity(
            gpu.get(), cpu.get(), [&](dtx_cluster *cl) { return dtx_astype(Put(cl, a, ch), tb); }, 0,
            what.c_str());
      }
    /* the reductions of every dtype (uint64 min / max order as unsigned) */
    for (dtx_dtype t : EveryDtype()) {
      Nd a = RandNd(rng, shape, t);
      if (t == DTX_U64)
        for (size_t i = 0; i < a.v.size(); i += 7) a.v[i] = 1.8e19; /* above INT64_MAX */
      for (int red : {DTX_SUM, DTX_PROD, DTX_MEAN, DTX_MIN, DTX_MAX, DTX_ARGMIN, DTX_ARGMAX, DTX_ANY})
        for (int axis = -1; axis < 2; axis++) {
          std::string what = std::string("reduction ") + std::to_string(red) + " of " + dtx_dtype_name(t) +
                             " axis " + std::to_string(axis);
          Parity(
              gpu.get(), cpu.get(),
              [&](dtx_cluster *cl) {
                dtx_array *e = Put(cl, a, ch);
                return axis < 0 ? dtx_reduce(e, static_cast<dtx_reduction>(red), nullptr, 0, nullptr)
                                : dtx_reduce(e, static_cast<dtx_reduction>(red), &axis, 1, nullptr);
              },
              t == DTX_F16 ? 1e-3 : 1e-9, what.c_str());
        }
    }
    Parity(
        gpu.get(), cpu.get(),
        [&](dtx_cluster *cl) { return dtx_random_normal(cl, 2, shape.data(), ch.data(), DTX_F64, 3); }, 1e-12,
        "normal");
    Parity(
        gpu.get(), cpu.get(),
        [&](dtx_cluster *cl) { return dtx_random_uniform(cl, 2, shape.data(), ch.data(), DTX_F32, 3); }, 0,
        "uniform");
    Nd x = RandNd(rng, shape, DTX_F64);
    for (int red = DTX_SUM; red <= DTX_ALL; red++)
      for (int axis = -1; axis < 2; axis++) {
        std::string what = "reduction " + std::to_string(red) + " axis " + std::to_string(axis);
        Parity(
            gpu.get(), cpu.get(),
            [&](dtx_cluster *cl) {
              dtx_array *e = dtx_add(Put(cl, x, ch), dtx_scalar(cl, 0.25));
              return axis < 0 ? dtx_reduce(e, static_cast<dtx_reduction>(red), nullptr, 0, nullptr)
                              : dtx_reduce(e, static_cast<dtx_reduction>(red), &axis, 1, nullptr);
            },
            1e-9, what.c_str());
      }
    for (dtx_dtype t : EveryDtype()) {
      Nd a = RandNd(rng, {23, 31}, t), b = RandNd(rng, {31, 19}, t);
      Parity(
          gpu.get(), cpu.get(),
          [&](dtx_cluster *cl) {
            return dtx_matmul(Put(cl, a, {10, 7}), Put(cl, b, {9, 8}));
          },
          t == DTX_F16 ? 1e-3 : 1e-6, (std::string("matmul ") + dtx_dtype_name(t)).c_str());
    }
    dtx_index idx[2] = {{DTX_INDEX_SLICE, 30, 2, -3}, {DTX_INDEX_SLICE, 1, DTX_NONE, 2}};
    Parity(
        gpu.get(), cpu.get(), [&](dtx_cluster *cl) { return dtx_slice(Put(cl, x, ch), 2, idx); }, 0, "slice");
    /* halos assembled on the GPUs (fused copies with boundary rules), read by a CPU kernel */
    int64_t depth[2] = {2, 1};
    for (int bnd = 0; bnd < 3; bnd++)
      Parity(
          gpu.get(), cpu.get(),
          [&](dtx_cluster *cl) {
            auto window = [](dtx_task_ctx *, const dtx_block *in, int, dtx_block *out, const void *) -> int {
              const double *v = static_cast<const double *>(in[0].data);
              double *o = static_cast<double *>(out->data);
              for (int64_t i = 0; i < out->shape[0]; i++)
                for (int64_t j = 0; j < out->shape[1]; j++) {
                  double s = 0;
                  for (int64_t di = 0; di <= 2 * in[0].halo[0]; di++)
                    for (int64_t dj = 0; dj <= 2 * in[0].halo[1]; dj++)
                      s += v[(i + di) * in[0].stride[0] + (j + dj) * in[0].stride[1]] *
                           static_cast<double>(1 + di + 3 * dj);
                  o[i * out->stride[0] + j * out->stride[1]] = s;
                }
              return 0;
            };
            return dtx_map_overlap("window", window, nullptr, dtx_mul(Put(cl, x, ch), dtx_scalar(cl, 1.5)),
                                   depth, static_cast<dtx_boundary>(bnd), -2.0, DTX_F64, nullptr, 0);
          },
          1e-12, "map_overlap halos");
    Parity(
        gpu.get(), cpu.get(),
        [&](dtx_cluster *cl) {
          return dtx_sum(dtx_rechunk(Put(cl, x, ch), (const int64_t[]){9, 11}), nullptr, 0);
        },
        1e-12, "rechunk");
  }
}

/* dtx/linalg.h's block tasks on GPUs (kernels/la.cu: cuSOLVER, cuBLAS)
 * against LAPACK on the CPU: values that do not depend on sign conventions. */
TEST(ArrayGpu, LinalgMatchesTheCpu) {
  std::string why;
  dtxt::ClusterPtr gpu = GpuCluster(&why);
  if (gpu == nullptr) GTEST_SKIP() << why;
  dtxt::ClusterPtr cpu = dtxt::MakeCluster(DTX_SCHED_SYNC, 1);
  if (!HasLapacke(cpu.get())) GTEST_SKIP() << "no LAPACKE in this build";
  Scope sc;
  std::mt19937_64 rng(6100);
  for (dtx_dtype t : {DTX_F64, DTX_F32}) {
    double tol = t == DTX_F64 ? 1e-9 : 2e-3;
    Nd tall = RandNd(rng, {203, 6}, t), wide = RandNd(rng, {6, 90}, t), sq = RandNd(rng, {29, 29}, t);
    for (int64_t i = 0; i < 29; i++) sq.v[static_cast<size_t>(i * 29 + i)] += 30; /* well conditioned */
    Nd rhs = RandNd(rng, {203}, t);
    std::string dt = dtx_dtype_name(t);
    auto qr = [&](dtx_cluster *cl, int which) {
      dtx_array *q = nullptr, *r = nullptr;
      EXPECT_EQ(dtx_linalg_tsqr(Put(cl, tall, {20, 6}), &q, &r), DTX_OK) << dtx_last_error();
      /* Q R and R^T R do not depend on the signs of R's rows */
      return which == 0 ? dtx_matmul(q, r) : dtx_matmul(dtx_transpose(r, nullptr), r);
    };
    Parity(
        gpu.get(), cpu.get(), [&](dtx_cluster *cl) { return qr(cl, 0); }, tol, ("tsqr Q R " + dt).c_str());
    Parity(
        gpu.get(), cpu.get(), [&](dtx_cluster *cl) { return qr(cl, 1); }, tol, ("tsqr R^T R " + dt).c_str());
    for (const Nd *x : {&tall, &wide, &sq}) {
      auto s = [&](dtx_cluster *cl) {
        dtx_array *sv = nullptr;
        std::vector<int64_t> ch = {x->shape[0] > 100 ? 20 : x->shape[0], x->shape[1] > 60 ? 30 : x->shape[1]};
        EXPECT_EQ(dtx_linalg_svd(Put(cl, *x, ch), nullptr, &sv, nullptr), DTX_OK) << dtx_last_error();
        return sv;
      };
      Parity(gpu.get(), cpu.get(), s, tol, ("svd S " + dt + " " + ShapeStr(x->shape)).c_str());
    }
    Parity(
        gpu.get(), cpu.get(),
        [&](dtx_cluster *cl) {
          dtx_array *a = Put(cl, sq, {8, 8});
          return dtx_linalg_cholesky(dtx_matmul(a, dtx_transpose(a, nullptr)), 0);
        },
        tol, ("cholesky " + dt).c_str());
    Parity(
        gpu.get(), cpu.get(),
        [&](dtx_cluster *cl) {
          return dtx_linalg_solve(Put(cl, sq, {8, 8}), Put(cl, sq, {8, 5}));
        },
        tol, ("solve " + dt).c_str());
    Parity(
        gpu.get(), cpu.get(),
        [&](dtx_cluster *cl) {
          return dtx_linalg_inv(Put(cl, sq, {10, 10}));
        },
        tol, ("inv " + dt).c_str());
    Parity(
        gpu.get(), cpu.get(),
        [&](dtx_cluster *cl) {
          dtx_array *x = nullptr;
          EXPECT_EQ(
              dtx_linalg_lstsq(Put(cl, tall, {50, 6}), Put(cl, rhs, {64}), &x, nullptr, nullptr, nullptr),
              DTX_OK)
              << dtx_last_error();
          return x;
        },
        tol * 10, ("lstsq " + dt).c_str());
  }
}

/* The complex64 / complex128 linalg tasks on GPUs (kernels/la_complex.cu:
 * the Z / C functions) against LAPACK's z / c ones on the CPU: sign- and
 * phase-free values (Q R, R^H R, S, L, solve, inv, lstsq), compared part by
 * part. */
TEST(ArrayGpu, ComplexLinalgMatchesTheCpu) {
  std::string why;
  dtxt::ClusterPtr gpu = GpuCluster(&why);
  if (gpu == nullptr) GTEST_SKIP() << why;
  dtxt::ClusterPtr cpu = dtxt::MakeCluster(DTX_SCHED_SYNC, 1);
  if (!HasLapacke(cpu.get())) GTEST_SKIP() << "no LAPACKE in this build";
  Scope sc;
  std::mt19937_64 rng(6150);
  for (dtx_dtype t : {DTX_C128, DTX_C64}) {
    dtx_dtype pt = t == DTX_C128 ? DTX_F64 : DTX_F32;
    double tol = t == DTX_C128 ? 1e-9 : 2e-3;
    std::string dt = dtx_dtype_name(t);
    Nd parts[8];
    const std::vector<int64_t> shapes[4] = {{203, 6}, {6, 90}, {29, 29}, {203, 1}};
    for (int i = 0; i < 8; i++) parts[i] = RandNd(rng, shapes[i / 2], pt);
    for (int64_t i = 0; i < 29; i++) parts[4].v[static_cast<size_t>(i * 29 + i)] += 30;
    auto cx = [&](dtx_cluster *cl, int which, std::vector<int64_t> ch) {
      return dtx_complex(Put(cl, parts[2 * which], ch), Put(cl, parts[2 * which + 1], ch));
    };
    auto both = [&](const std::function<dtx_array *(dtx_cluster *)> &make, double tl,
                    const std::string &what) {
      Parity(
          gpu.get(), cpu.get(), [&](dtx_cluster *cl) { return dtx_real(make(cl)); }, tl,
          (what + " re").c_str());
      Parity(
          gpu.get(), cpu.get(), [&](dtx_cluster *cl) { return dtx_imag(make(cl)); }, tl,
          (what + " im").c_str());
    };
    auto qr = [&](dtx_cluster *cl, int which) {
      dtx_array *q = nullptr, *r = nullptr;
      EXPECT_EQ(dtx_linalg_tsqr(cx(cl, 0, {20, 6}), &q, &r), DTX_OK) << dtx_last_error();
      return which == 0 ? dtx_matmul(q, r) : dtx_matmul(dtx_conj(dtx_transpose(r, nullptr)), r);
    };
    both([&](dtx_cluster *cl) { return qr(cl, 0); }, tol, "tsqr Q R " + dt);
    both([&](dtx_cluster *cl) { return qr(cl, 1); }, tol, "tsqr R^H R " + dt);
    for (int w = 0; w < 3; w++) {
      Parity(
          gpu.get(), cpu.get(),
          [&](dtx_cluster *cl) {
            dtx_array *sv = nullptr;
            std::vector<int64_t> ch = {w == 0 ? 20 : shapes[w][0], w == 1 ? 30 : shapes[w][1]};
            EXPECT_EQ(dtx_linalg_svd(cx(cl, w, ch), nullptr, &sv, nullptr), DTX_OK) << dtx_last_error();
            return sv;
          },
          tol, ("svd S " + dt + " " + ShapeStr(shapes[w])).c_str());
    }
    both(
        [&](dtx_cluster *cl) {
          dtx_array *a = cx(cl, 2, {8, 8});
          return dtx_linalg_cholesky(dtx_matmul(a, dtx_conj(dtx_transpose(a, nullptr))), 0);
        },
        tol, "cholesky " + dt);
    both(
        [&](dtx_cluster *cl) {
          return dtx_linalg_solve(cx(cl, 2, {8, 8}), cx(cl, 2, {8, 5}));
        },
        tol, "solve " + dt);
    both([&](dtx_cluster *cl) { return dtx_linalg_inv(cx(cl, 2, {10, 10})); }, tol, "inv " + dt);
    both(
        [&](dtx_cluster *cl) {
          dtx_array *x = nullptr;
          EXPECT_EQ(dtx_linalg_lstsq(cx(cl, 0, {50, 6}), cx(cl, 3, {64, 1}), &x, nullptr, nullptr, nullptr),
                    DTX_OK)
              << dtx_last_error();
          return x;
        },
        tol * 10, "lstsq " + dt);
  }
}

TEST(ArrayGpu, ScansAndSortsMatchTheCpu) {
  std::string why;
  dtxt::ClusterPtr gpu = GpuCluster(&why);
  if (gpu == nullptr) GTEST_SKIP() << why;
  dtxt::ClusterPtr cpu = dtxt::MakeCluster(DTX_SCHED_SYNC, 1);
  Scope sc;
  std::mt19937_64 rng(6200);
  for (dtx_dtype t : EveryDtype()) {
    Nd x = RandNd(rng, {37, 23, 5}, t);
    std::string dt = dtx_dtype_name(t);
    for (int axis = 0; axis < 3; axis++) {
      std::string ax = " axis " + std::to_string(axis);
      /* the CUDA scan adds each lane in the CPU rows' order: the same bits */
      for (dtx_scan_op op : {DTX_CUMSUM, DTX_CUMPROD, DTX_NANCUMSUM}) {
        Parity(
            gpu.get(), cpu.get(),
            [&](dtx_cluster *cl) {
              return dtx_cumulative(Put(cl, x, {10, 7, 2}), op, axis);
            },
            0, ("scan " + std::to_string(op) + " " + dt + ax).c_str());
      }
      /* CUB's segmented sort against the CPU's radix sort / vqsort */
      Parity(
          gpu.get(), cpu.get(),
          [&](dtx_cluster *cl) {
            return dtx_sort(Put(cl, x, {10, 7, 2}), axis);
          },
          0, ("sort " + dt + ax).c_str());
    }
  }
}

/* cuFFT against FFTW: every kind, single and double precision, one to three
 * consecutive axes (what the CUDA tasks take) and non-consecutive axes
 * (which run on CPU threads even on a GPU cluster); parts compared. */
TEST(ArrayGpu, FftsMatchTheCpu) {
  std::string why;
  dtxt::ClusterPtr gpu = GpuCluster(&why);
  if (gpu == nullptr) GTEST_SKIP() << why;
  dtxt::ClusterPtr cpu = dtxt::MakeCluster(DTX_SCHED_SYNC, 1);
  Scope sc;
  std::mt19937_64 rng(6300);
  for (dtx_dtype t : {DTX_F64, DTX_F32}) {
    Nd re = RandNd(rng, {12, 10, 6}, t), im = RandNd(rng, {12, 10, 6}, t);
    double tol = t == DTX_F64 ? 1e-12 : 2e-5;
    auto in = [&](dtx_cluster *cl) { return dtx_complex(Put(cl, re, {5, 10, 6}), Put(cl, im, {5, 10, 6})); };
    using Fn = std::function<dtx_array *(dtx_cluster *)>;
    std::vector<std::pair<std::string, Fn>> cases = {
        {"fft axis 1", [&](dtx_cluster *cl) { return dtx_fft(in(cl), 0, 1, DTX_FFT_BACKWARD); }},
        {"ifft axis 2 n 9", [&](dtx_cluster *cl) { return dtx_ifft(in(cl), 9, 2, DTX_FFT_ORTHO); }},
        {"fft2", [&](dtx_cluster *cl) { return dtx_fft2(in(cl), nullptr, nullptr, DTX_FFT_BACKWARD); }},
        {"rfft",
         [&](dtx_cluster *cl) {
           return dtx_rfft(Put(cl, re, {5, 10, 6}), 0, 2, DTX_FFT_FORWARD);
         }},
        {"irfft n 11", [&](dtx_cluster *cl) { return dtx_irfft(in(cl), 11, 1, DTX_FFT_BACKWARD); }},
        {"rfftn 2 axes",
         [&](dtx_cluster *cl) {
           return dtx_rfftn(Put(cl, re, {5, 10, 6}), 2, nullptr, nullptr, DTX_FFT_BACKWARD);
         }},
        {"axes 2, 1 (CPU threads)", [&](dtx_cluster *cl) {
           static const int axes[2] = {2, 1};
           return dtx_fftn(in(cl), 2, nullptr, axes, DTX_FFT_BACKWARD);
         }}};
    for (auto &c : cases) {
      std::string what = c.first + " " + dtx_dtype_name(t);
      Fn part = [&](dtx_cluster *cl) {
        dtx_array *r = c.second(cl);
        return dtx_array_dtype(r) == DTX_C64 || dtx_array_dtype(r) == DTX_C128 ? dtx_real(r) : r;
      };
      Parity(gpu.get(), cpu.get(), part, tol, (what + " real").c_str());
      Parity(
          gpu.get(), cpu.get(), [&](dtx_cluster *cl) { return dtx_imag(c.second(cl)); }, tol,
          (what + " imag").c_str());
    }
  }
}
