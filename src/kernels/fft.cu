/*
 * kernels/fft.cu - the CUDA implementation of FFT tasks (kernels/fft.h) with
 * cuFFT, opened with dlopen as cuBLAS is (kernels/fused.cu), so a build
 * links no cuFFT and a machine without it fails only the FFT tasks, saying so.
 *
 * The transformed axes are consecutive (dtxk_fft_cuda_supported): a chunk is
 * outer x (the transformed block) x inner elements in C order. One cuFFT plan
 * covers the inner elements as its batch (stride inner, distance 1), or,
 * when inner is 1, the outer ones (stride 1, distance the block); otherwise
 * the plan runs once per outer index.
 * Threads: any GPU worker thread. Plans are cached per (device, stream,
 * layout) for the life of the process, bound to that stream, so two streams
 * never share a plan's work area; the cache is guarded by a mutex and its
 * plans are never destroyed (at most PLAN_CACHE; past that a task makes,
 * runs and destroys its own, after synchronising its stream).
 * Memory: cuFFT's work areas and C2R's scratch copy of its input (cuFFT
 * overwrites a C2R input) are allocated outside dtx's device accounting.
 */
#include <cuda_runtime.h>
#include <cufft.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "kernels/fft.h"

#define PLAN_CACHE 256

static struct {
  pthread_once_t once;
  void *lib;
  char why[256];
  decltype(&cufftCreate) create;
  decltype(&cufftMakePlanMany64) make;
  decltype(&cufftSetStream) set_stream;
  decltype(&cufftDestroy) destroy;
  decltype(&cufftExecZ2Z) z2z;
  decltype(&cufftExecD2Z) d2z;
  decltype(&cufftExecZ2D) z2d;
  decltype(&cufftExecC2C) c2c;
  decltype(&cufftExecR2C) r2c;
  decltype(&cufftExecC2R) c2r;
} cufft = {PTHREAD_ONCE_INIT};

static void cufft_open(void) {
  const char *names[] = {"libcufft.so.12", "libcufft.so.11", "libcufft.so"};
  for (int i = 0; i < 3 && cufft.lib == NULL; i++) cufft.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
  if (cufft.lib == NULL) {
    snprintf(cufft.why, sizeof cufft.why, "cuFFT could not be opened: install the CUDA toolkit's libcufft");
    return;
  }
#define SYM(field, name) cufft.field = (decltype(cufft.field))dlsym(cufft.lib, name)
  SYM(create, "cufftCreate");
  SYM(make, "cufftMakePlanMany64");
  SYM(set_stream, "cufftSetStream");
  SYM(destroy, "cufftDestroy");
  SYM(z2z, "cufftExecZ2Z");
  SYM(d2z, "cufftExecD2Z");
  SYM(z2d, "cufftExecZ2D");
  SYM(c2c, "cufftExecC2C");
  SYM(r2c, "cufftExecR2C");
  SYM(c2r, "cufftExecC2R");
#undef SYM
  if (!cufft.create || !cufft.make || !cufft.set_stream || !cufft.destroy || !cufft.z2z || !cufft.d2z ||
      !cufft.z2d || !cufft.c2c || !cufft.r2c || !cufft.c2r)
    snprintf(cufft.why, sizeof cufft.why, "the cuFFT library found lacks the functions dtx calls");
}

/* How a chunk splits around the transformed axes. */
typedef struct layout {
  long long n[3], inembed[3], onembed[3];
  long long outer, inner, istride, ostride, idist, odist, batch;
  long long iblock, oblock; /* elements of one outer slice */
} layout;

static void make_layout(const dtxk_fft *f, layout *L) {
  int r = f->naxes, a0 = f->axes[0];
  L->outer = L->inner = 1;
  for (int d = 0; d < a0; d++) L->outer *= f->in_shape[d];
  for (int d = a0 + r; d < f->ndim; d++) L->inner *= f->in_shape[d];
  L->iblock = L->oblock = L->inner;
  for (int i = 0; i < r; i++) {
    L->n[i] = dtxk_fft_len(f, i);
    L->inembed[i] = f->in_shape[a0 + i];
    L->onembed[i] = f->out_shape[a0 + i];
    L->iblock *= L->inembed[i];
    L->oblock *= L->onembed[i];
  }
  if (L->inner > 1) {
    L->istride = L->ostride = L->inner;
    L->idist = L->odist = 1;
    L->batch = L->inner;
  } else {
    L->istride = L->ostride = 1;
    L->idist = L->iblock;
    L->odist = L->oblock;
    L->batch = L->outer;
    L->outer = 1;
  }
}

static cufftType plan_type(const dtxk_fft *f) {
  if (f->prec == 8)
    return f->kind == DTXK_FFT_C2C ? CUFFT_Z2Z : f->kind == DTXK_FFT_R2C ? CUFFT_D2Z : CUFFT_Z2D;
  return f->kind == DTXK_FFT_C2C ? CUFFT_C2C : f->kind == DTXK_FFT_R2C ? CUFFT_R2C : CUFFT_C2R;
}

typedef struct plan_key {
  dtxk_fft f;
  int dev;
  cudaStream_t stream;
} plan_key;

static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;
static plan_key cache_key[PLAN_CACHE];
static cufftHandle cache_plan[PLAN_CACHE];
static int cache_n;

/* The plan for f on this stream: 0 with *h set (and *owned when the caller
 * must destroy it), or a cuFFT status. */
static int get_plan(const dtxk_fft *f, int dev, cudaStream_t s, const layout *L, cufftHandle *h, int *owned) {
  plan_key k;
  memset(&k, 0, sizeof k);
  k.f = *f;
  k.f.scale = 0;
  k.dev = dev;
  k.stream = s;
  *owned = 0;
  pthread_mutex_lock(&plan_lock);
  for (int i = 0; i < cache_n; i++)
    if (memcmp(&cache_key[i], &k, sizeof k) == 0) {
      *h = cache_plan[i];
      pthread_mutex_unlock(&plan_lock);
      return 0;
    }
  size_t work = 0;
  int st = cufft.create(h);
  if (st == 0)
    st = cufft.make(*h, f->naxes, (long long *)L->n, (long long *)L->inembed, L->istride, L->idist,
                    (long long *)L->onembed, L->ostride, L->odist, plan_type(f), L->batch, &work);
  if (st == 0) st = cufft.set_stream(*h, s);
  if (st == 0 && cache_n < PLAN_CACHE) {
    cache_key[cache_n] = k;
    cache_plan[cache_n++] = *h;
  } else if (st == 0) {
    *owned = 1;
  }
  pthread_mutex_unlock(&plan_lock);
  return st;
}

static int exec(const dtxk_fft *f, cufftHandle h, void *in, void *out) {
  if (f->prec == 8) {
    if (f->kind == DTXK_FFT_C2C)
      return cufft.z2z(h, (cufftDoubleComplex *)in, (cufftDoubleComplex *)out, f->sign);
    if (f->kind == DTXK_FFT_R2C) return cufft.d2z(h, (cufftDoubleReal *)in, (cufftDoubleComplex *)out);
    return cufft.z2d(h, (cufftDoubleComplex *)in, (cufftDoubleReal *)out);
  }
  if (f->kind == DTXK_FFT_C2C) return cufft.c2c(h, (cufftComplex *)in, (cufftComplex *)out, f->sign);
  if (f->kind == DTXK_FFT_R2C) return cufft.r2c(h, (cufftReal *)in, (cufftComplex *)out);
  return cufft.c2r(h, (cufftComplex *)in, (cufftReal *)out);
}

template <typename T>
__global__ static void scale_kernel(T *x, long long n, T s) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x)
    x[i] *= s;
}

static cudaError_t scale_out(const dtxk_fft *f, void *out, cudaStream_t s) {
  if (f->scale == 1.0) return cudaSuccess;
  long long n = dtxk_fft_out_bytes(f) / f->prec;
  long long b = (n + 255) / 256;
  int g = (int)(b < 1 ? 1 : b > 4096 ? 4096 : b);
  if (f->prec == 8)
    scale_kernel<double><<<g, 256, 0, s>>>((double *)out, n, f->scale);
  else
    scale_kernel<float><<<g, 256, 0, s>>>((float *)out, n, (float)f->scale);
  return cudaGetLastError();
}

/* Runs the plan over every outer slice; 0 or a cuFFT status. */
static int run_slices(const dtxk_fft *f, const layout *L, cufftHandle h, char *in, char *out) {
  long long isz = (long long)f->prec * (f->kind == DTXK_FFT_R2C ? 1 : 2);
  long long osz = (long long)f->prec * (f->kind == DTXK_FFT_C2R ? 1 : 2);
  int st = 0;
  for (long long o = 0; o < L->outer && st == 0; o++)
    st = exec(f, h, in + o * L->iblock * isz, out + o * L->oblock * osz);
  return st;
}

extern "C" int dtxk_fft_cuda(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_fft *f = (const dtxk_fft *)dtx_task_args(ctx, &asz);
  if (f == NULL || asz != sizeof *f) return dtx_task_fail(ctx, "malformed FFT-task arguments");
  const char *why = dtxk_fft_check(f);
  if (why != NULL) return dtx_task_fail(ctx, "bad FFT task: %s", why);
  if (!dtxk_fft_cuda_supported(f)) return dtx_task_fail(ctx, "this FFT layout has no CUDA implementation");
  pthread_once(&cufft.once, cufft_open);
  if (cufft.why[0] != '\0') return dtx_task_fail(ctx, "%s", cufft.why);
  cudaStream_t s = (cudaStream_t)dtx_task_stream(ctx);
  char *in = (char *)dtx_task_input(ctx, 0, NULL);
  char *out = (char *)dtx_task_output(ctx, (size_t)dtxk_fft_out_bytes(f));
  if (dtxk_fft_out_bytes(f) == 0) return 0;
  if (in == NULL) return dtx_task_fail(ctx, "the FFT's input chunk is missing");
  if (out == NULL) return dtx_task_fail(ctx, "out of device memory for the FFT's output chunk");
  layout L;
  make_layout(f, &L);
  void *scratch = NULL;
  cudaError_t e = cudaSuccess;
  if (f->kind == DTXK_FFT_C2R) {
    e = cudaMallocAsync(&scratch, (size_t)dtxk_fft_in_bytes(f), s);
    if (e == cudaSuccess)
      e = cudaMemcpyAsync(scratch, in, (size_t)dtxk_fft_in_bytes(f), cudaMemcpyDeviceToDevice, s);
    if (e != cudaSuccess)
      return dtx_task_fail(ctx, "copying the C2R input: %s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
    in = (char *)scratch;
  }
  cufftHandle h;
  int owned = 0;
  int st = get_plan(f, dtx_task_device(ctx), s, &L, &h, &owned);
  if (st == 0) st = run_slices(f, &L, h, in, out);
  if (owned) {
    cudaStreamSynchronize(s);
    cufft.destroy(h);
  }
  if (scratch != NULL) cudaFreeAsync(scratch, s);
  if (st != 0) return dtx_task_fail(ctx, "cuFFT failed with status %d", st);
  e = scale_out(f, out, s);
  if (e != cudaSuccess)
    return dtx_task_fail(ctx, "scaling the FFT's output: %s (%s)", cudaGetErrorString(e),
                         cudaGetErrorName(e));
  return 0;
}
