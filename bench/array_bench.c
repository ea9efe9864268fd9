/*
 * bench/array_bench.c - chunked arrays (BENCHMARKS.md section 2).
 *
 * x = N x N float64 (default 8192 x 8192; --dtype f32 for float32) in C x C
 * chunks (default 1024), uniform random, persisted before timing: in host
 * memory on CPU threads, in device memory (spread block-cyclically) on a
 * cluster with GPUs.
 * Cases, each computed into a host buffer:
 *   transpose-sum   (x + x.T).sum()
 *   sum             x.sum()
 *   mean-axis0      x.mean(axis=0)
 *   elementwise     (x * 2 + 1).sum()
 *   slice           x[::3, ::3].sum()
 *   matmul          (x[:N/2, :N/2] @ x[:N/2, :N/2]).sum()
 *   stencil         the 5-point Laplacian of x with a periodic halo of 1 (map_overlap),
 *                   computed into an N x N host buffer
 * and, only when named in --cases (their own inputs, persisted before timing):
 *   tsqr            Q of the tall-and-skinny QR of a 1,000,000 x 64 float64 array in
 *                   100,000-row chunks (dtx_linalg_tsqr), into a host buffer
 *   svd_compressed  U of the rank-32 randomized SVD (n_power_iter 0, 10 oversamples,
 *                   as Dask's defaults) of a 20,000 x 2,000 float64 array of rank 32
 *                   in 2,000 x 2,000 chunks
 *   cumsum-axis0    x.cumsum(axis=0) into an N x N host buffer (dtx_cumsum)
 *   sort-axis1      x sorted along axis 1 into an N x N host buffer (dtx_sort: x is
 *                   rechunked to whole rows first, inside the timed region)
 *   exp-sin         (exp(x) + sin(x)).sum(): transcendental functions in the fused strips
 *   pow2            (x ** 2).sum(): a float power by the constant 2 (compiled to x * x)
 *   max-axis0       x.max(axis=0)
 *   argmax-axis0    x.argmax(axis=0)
 *   matmul-1chunk   (y @ y).sum() for y = an N/2 x N/2 float64 array in one chunk
 *                   (persisted): one output chunk, its rows split over the workers
 *   max-axis1       x.max(axis=1)
 *   argmax-axis1    x.argmax(axis=1)
 *   max             x.max()
 *   argmax          x.argmax() (the index into the flattened x)
 *   fft2            the 2-d FFT of an N x N complex128 array held in chunks of whole
 *                   rows (C rows each, persisted): an FFT along the rows, a rechunk to
 *                   whole columns, an FFT along the columns (dtx/fft.h; each FFT's axis
 *                   in one chunk, Dask's rule), into an N x N complex128 host buffer
 * The timed region is dtx_array_compute of the case's expression (graph
 * building included); the expression is built once, outside it. One warm-up,
 * then --reps R runs (default 5); the median, min and max are reported, and
 * `busy`: the process's CPU time over the wall time of those runs (the cores
 * kept busy on average; at most the worker threads).
 * Host memory, after the table: the peak resident set from persisting x on
 * (VmHWM, reset after the floors are measured), the host limit
 * (DTX_HOST_MEMORY_LIMIT) and the chunks spilled to disk and read back, and
 * the sum case's result to the last bit (run once with a limit and once
 * without, it must not change).
 *
 * Floors, measured in the same run: the memory bandwidth of a large parallel
 * copy (bytes read + written per second, one thread per worker), giving for
 * each case the time to read and write the bytes it must touch (x once; x
 * twice for transpose-sum, which reads x and x.T; every third row for slice;
 * x and the result for stencil); and for
 * matmul, the BLAS's own time for the same product on all cores (one call).
 * With CUDA GPUs the floors are the bytes over the sum of the GPUs' own
 * device-to-device copy bandwidth (measured on each), and the stencil runs a
 * CUDA kernel (array_gpu.cu); the host copy bandwidth is printed beside.
 * Results print as a table naming the machine, or one JSON object per line
 * with --json (bench/run_array_peers.sh reads those).
 */
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "dtx/dtx.h"

#if defined(DTX_HAVE_CBLAS)
#include <cblas.h>
#endif
#if defined(DTX_HAVE_OPENBLAS)
void openblas_set_num_threads(int num_threads);
#endif

#ifndef DTX_BENCH_BUILD_TYPE
#define DTX_BENCH_BUILD_TYPE "unknown"
#endif

enum {
  C_TSUM,
  C_SUM,
  C_MEAN0,
  C_ELEM,
  C_SLICE,
  C_MATMUL,
  C_STENCIL,
  C_TSQR,
  C_SVDC,
  C_CUMSUM0,
  C_SORT1,
  C_FFT2,
  C_EXPSIN,
  C_POW2,
  C_MAX0,
  C_ARGMAX0,
  C_MATMUL1,
  C_MAX1,
  C_ARGMAX1,
  C_MAXALL,
  C_ARGMAXALL,
  C_COUNT
};
static const char *const case_names[] = {
    "transpose-sum", "sum",  "mean-axis0",     "elementwise",  "slice",         "matmul",
    "stencil",       "tsqr", "svd_compressed", "cumsum-axis0", "sort-axis1",    "fft2",
    "exp-sin",       "pow2", "max-axis0",      "argmax-axis0", "matmul-1chunk", "max-axis1",
    "argmax-axis1",  "max",  "argmax"};
_Static_assert(sizeof case_names / sizeof case_names[0] == C_COUNT, "every case has its name");
/* the linalg cases' inputs (fixed; see the top) */
#define TSQR_M 1000000
#define TSQR_N 64
#define TSQR_CHUNK 100000
#define SVDC_M 20000
#define SVDC_N 2000
#define SVDC_K 32
#define SVDC_CHUNK 2000

#if defined(DTX_BENCH_CUDA)
double bench_device_copy_gbps(int dev, size_t bytes);
double bench_gpu_gemm_s(int dev, int64_t n, int f32);
int bench_laplace_cuda(dtx_task_ctx *ctx, const dtx_block *in, int nin, dtx_block *out, const void *user);
#endif

typedef struct options {
  int64_t n, chunk;
  int reps, threads, json;
  dtx_dtype dtype;
  int cases[C_COUNT];
} options;

static void die(const char *what);

/* The inputs (persisted) and expressions of the linalg cases; their floors
 * are the bytes they must read and write (tsqr: x and Q; svd_compressed: x
 * twice, once per product). */
static void linalg_cases(dtx_cluster *cl, const options *o, dtx_array **expr, size_t *out_bytes,
                         double *floor) {
  dtx_array *x = NULL, *u = NULL;
  if (o->cases[C_TSQR]) {
    int64_t shape[2] = {TSQR_M, TSQR_N}, chunks[2] = {TSQR_CHUNK, TSQR_N};
    if (dtx_array_persist(dtx_random_uniform(cl, 2, shape, chunks, DTX_F64, 7), NULL, &x) != DTX_OK)
      die("persist the tsqr input");
    if (dtx_linalg_tsqr(x, &expr[C_TSQR], NULL) != DTX_OK) die("tsqr");
    size_t b = dtx_array_nbytes(x);
    floor[0] = 2.0 * (double)b;
    if (b > *out_bytes) *out_bytes = b;
  }
  if (o->cases[C_SVDC]) {
    dtx_array *l = dtx_random_normal(cl, 2, (const int64_t[]){SVDC_M, SVDC_K},
                                     (const int64_t[]){SVDC_CHUNK, SVDC_K}, DTX_F64, 8);
    dtx_array *r = dtx_random_normal(cl, 2, (const int64_t[]){SVDC_K, SVDC_N},
                                     (const int64_t[]){SVDC_K, SVDC_CHUNK}, DTX_F64, 9);
    if (dtx_array_persist(dtx_matmul(l, r), NULL, &x) != DTX_OK) die("persist the svd_compressed input");
    if (dtx_linalg_svd_compressed(x, SVDC_K, 0, 10, 0, &u, NULL, NULL) != DTX_OK) die("svd_compressed");
    expr[C_SVDC] = u;
    floor[1] = 2.0 * (double)dtx_array_nbytes(x);
  }
}

/* A big buffer as NumPy makes one: on transparent huge pages where allowed. */
/* CPU time of the process so far (all threads, user + system), seconds. */
static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* Resets the peak resident set (VmHWM) to the current one (Linux 4.0 on; a
 * no-op elsewhere). */
static void reset_peak_rss(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (f == NULL) return;
  fputs("5", f);
  fclose(f);
}

/* The peak resident set in MB since the last reset, or -1 when unknown. */
static double peak_rss_mb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL) return -1;
  char line[256];
  double kb = -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "VmHWM: %lf kB", &kb) == 1) break;
  fclose(f);
  return kb >= 0 ? kb / 1024.0 : -1;
}

static void *big_alloc(size_t bytes) {
  size_t huge = (size_t)2 << 20, n = (bytes + huge - 1) & ~(huge - 1);
  void *p = aligned_alloc(huge, n);
#if defined(MADV_HUGEPAGE)
  if (p != NULL) madvise(p, n, MADV_HUGEPAGE);
#endif
  return p;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Bytes moved to, from and between the GPUs so far: [0] host -> GPU,
 * [1] GPU -> host, [2] GPU -> GPU. */
static void moved(dtx_cluster *cl, int ngpu, double *b) {
  b[0] = b[1] = b[2] = 0;
  for (int k = 0; k < ngpu; k++) {
    dtx_device_stats st = DTX_DEVICE_STATS_INIT;
    if (dtx_cluster_get_device_stats(cl, k, &st) != DTX_OK) continue;
    b[0] += (double)st.bytes_from_host;
    b[1] += (double)st.bytes_to_host;
    b[2] += (double)(st.bytes_peer + st.bytes_nccl);
  }
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void die(const char *what) {
  fprintf(stderr, "dtx-bench-array: %s: %s\n", what, dtx_last_error());
  exit(1);
}

/* ---- the bandwidth floor: a parallel copy ------------------------------------------------ */

typedef struct copy_part {
  char *dst;
  const char *src;
  size_t n;
} copy_part;

static void *copy_worker(void *arg) {
  copy_part *p = arg;
  memcpy(p->dst, p->src, p->n);
  return NULL;
}

/* GB/s of bytes read + written, best of 5 copies of `bytes`, `threads` at once. */
static double copy_bandwidth(size_t bytes, int threads) {
  char *a = big_alloc(bytes), *b = big_alloc(bytes);
  if (a == NULL || b == NULL) {
    fprintf(stderr, "dtx-bench-array: out of memory for the copy\n");
    exit(1);
  }
  memset(a, 1, bytes);
  memset(b, 2, bytes);
  double best = 1e30;
  for (int r = 0; r < 5; r++) {
    pthread_t th[64];
    copy_part parts[64];
    int t = threads < 64 ? threads : 64;
    size_t per = (bytes / (size_t)t) & ~(size_t)63;
    double t0 = now_s();
    for (int i = 0; i < t; i++) {
      parts[i].dst = b + per * (size_t)i;
      parts[i].src = a + per * (size_t)i;
      parts[i].n = i == t - 1 ? bytes - per * (size_t)i : per;
      pthread_create(&th[i], NULL, copy_worker, &parts[i]);
    }
    for (int i = 0; i < t; i++) pthread_join(th[i], NULL);
    double dt = now_s() - t0;
    if (dt < best) best = dt;
  }
  free(a);
  free(b);
  return 2.0 * (double)bytes / best / 1e9;
}

/* ---- the stencil kernel ---------------------------------------------------------------------- */

static int laplace(dtx_task_ctx *ctx, const dtx_block *in, int nin, dtx_block *out, const void *user) {
  (void)user;
  (void)nin;
  if (in[0].halo[0] != 1 || in[0].halo[1] != 1 || in[0].stride[1] != 1 || out->stride[1] != 1)
    return dtx_task_fail(ctx, "the Laplacian needs a halo of 1 and unit column strides");
  int64_t w = in[0].stride[0], ow = out->stride[0], m = out->shape[0], n = out->shape[1];
#define LAPLACE_ROWS(T)                                                                    \
  for (int64_t i = 0; i < m; i++) {                                                        \
    const T *restrict c = (const T *)in[0].data + (i + 1) * w + 1, *restrict up = c - w,   \
                      *restrict dn = c + w;                                                \
    T *restrict r = (T *)out->data + i * ow;                                               \
    for (int64_t j = 0; j < n; j++) r[j] = up[j] + dn[j] + c[j - 1] + c[j + 1] - 4 * c[j]; \
  }
  if (out->dtype == DTX_F32) {
    LAPLACE_ROWS(float)
  } else {
    LAPLACE_ROWS(double)
  }
#undef LAPLACE_ROWS
  return 0;
}

/* ---- machine --------------------------------------------------------------------------------- */

static void cpu_model(char *buf, size_t n) {
  snprintf(buf, n, "unknown CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f == NULL) return;
  char line[512];
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "model name", 10) != 0) continue;
    char *p = strchr(line, ':');
    if (p == NULL) break;
    p++;
    while (*p == ' ') p++;
    p[strcspn(p, "\n")] = '\0';
    snprintf(buf, n, "%s", p);
    break;
  }
  fclose(f);
}

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: dtx-bench-array [--json] [--n N] [--chunk C] [--dtype f64|f32] [--reps R] [--threads T]\n"
      "                       [--cases a,b,...]\n"
      "  --n N          x is N x N (default 8192)\n"
      "  --dtype T      f64 (default) or f32\n"
      "  --chunk C      chunks of C x C (default 1024)\n"
      "  --reps R       timed runs per case after a warm-up (default 5)\n"
      "  --threads T    worker threads (default: the cluster's, one per core)\n"
      "  --cases LIST   of transpose-sum,sum,mean-axis0,elementwise,slice,matmul,stencil (default: these),\n"
      "                 tsqr,svd_compressed,cumsum-axis0,sort-axis1,fft2,exp-sin,pow2,\n"
      "                 max-axis0,argmax-axis0,matmul-1chunk,max-axis1,argmax-axis1,max,argmax\n"
      "                 (only when named)\n"
      "  --json         one JSON object per line instead of the table\n");
}

static int parse(int argc, char **argv, options *o) {
  o->n = 8192;
  o->chunk = 1024;
  o->reps = 5;
  o->dtype = DTX_F64;
  for (int c = 0; c < C_COUNT; c++) o->cases[c] = c < C_TSQR;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--json") == 0) {
      o->json = 1;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if (v != NULL && strcmp(a, "--n") == 0) {
      o->n = atoll(v), i++;
    } else if (v != NULL && strcmp(a, "--chunk") == 0) {
      o->chunk = atoll(v), i++;
    } else if (v != NULL && strcmp(a, "--dtype") == 0) {
      if (strcmp(v, "f64") != 0 && strcmp(v, "f32") != 0) {
        fprintf(stderr, "dtx-bench-array: --dtype is f64 or f32, not '%s'\n", v);
        return 2;
      }
      o->dtype = strcmp(v, "f32") == 0 ? DTX_F32 : DTX_F64, i++;
    } else if (v != NULL && strcmp(a, "--reps") == 0) {
      o->reps = atoi(v), i++;
    } else if (v != NULL && strcmp(a, "--threads") == 0) {
      o->threads = atoi(v), i++;
    } else if (v != NULL && strcmp(a, "--cases") == 0) {
      for (int c = 0; c < C_COUNT; c++) o->cases[c] = 0;
      char *list = strdup(v), *save = NULL;
      for (char *t = strtok_r(list, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int c = 0; c < C_COUNT; c++)
          if (strcmp(t, case_names[c]) == 0) o->cases[c] = found = 1;
        if (!found) {
          fprintf(stderr, "dtx-bench-array: unknown case '%s'\n", t);
          free(list);
          return 2;
        }
      }
      free(list);
      i++;
    } else {
      fprintf(stderr, "dtx-bench-array: unknown option '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (o->n < 4 || o->chunk < 1 || o->reps < 1) {
    fprintf(stderr, "dtx-bench-array: --n must be at least 4, --chunk and --reps at least 1\n");
    return 2;
  }
  return 0;
}

/* The peak resident set, the host limit and the spills; the sum's bits. */
static void report_host_memory(dtx_cluster *cl, double sum, int have_sum) {
  dtx_cluster_stats st = DTX_CLUSTER_STATS_INIT;
  if (dtx_cluster_get_stats(cl, &st) != DTX_OK) die("stats");
  printf("\nhost memory: peak resident set %.0f MB from persisting x on; ", peak_rss_mb());
  if (st.host_limit > 0)
    printf("limit %.0f MB, %lld chunks spilled (%.0f MB), %lld read back (%.0f MB)", st.host_limit / 1e6,
           (long long)st.spills, st.bytes_spilled / 1e6, (long long)st.unspills, st.bytes_unspilled / 1e6);
  else
    printf("no limit");
  if (have_sum) printf("; sum = %a", sum);
  printf("\n");
}

int main(int argc, char **argv) {
  options o;
  memset(&o, 0, sizeof o);
  int prc = parse(argc, argv, &o);
  if (prc) return prc;
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.num_threads = o.threads;
  dtx_cluster *cl;
  if (dtx_cluster_create(&cfg, &cl) != DTX_OK) die("cluster");
  int threads = dtx_cluster_num_threads(cl);
  int64_t n = o.n, h = n / 2;
  size_t esz = dtx_dtype_size(o.dtype), xbytes = (size_t)(n * n) * esz;
  const char *tname = dtx_dtype_name(o.dtype);
  int ngpu = dtx_cluster_scheduler(cl) == DTX_SCHED_CLUSTER ? dtx_cluster_num_gpus(cl) : 0;
  const char *gpus_env = getenv("DTX_GPUS");
  int sim = gpus_env != NULL && strncmp(gpus_env, "sim", 3) == 0;

  /* floors first (the BLAS on all cores before the arrays set it to one thread) */
  double host_bw = copy_bandwidth(xbytes, threads), bw = host_bw, dev_bw = 0, gpu_gemm_s = 0;
#if defined(DTX_BENCH_CUDA)
  /* on GPUs: the sum of each one's own copy bandwidth (x is spread over them) */
  for (int k = 0; k < ngpu && !sim; k++) {
    size_t per = xbytes / (size_t)ngpu;
    dev_bw += bench_device_copy_gbps(k, per < ((size_t)1 << 30) ? per : (size_t)1 << 30);
  }
  if (dev_bw > 0) bw = dev_bw;
  /* on GPUs the matmul floor is cuBLAS's own product on one of them */
  if (dev_bw > 0 && o.cases[C_MATMUL]) gpu_gemm_s = bench_gpu_gemm_s(0, h, o.dtype == DTX_F32);
#endif
  double blas_s = 0;
#if defined(DTX_HAVE_CBLAS)
  if (o.cases[C_MATMUL] || o.cases[C_MATMUL1]) {
    double *a = malloc((size_t)(h * h) * 8), *c = malloc((size_t)(h * h) * 8);
    for (int64_t i = 0; i < h * h; i++) a[i] = (double)(i % 1000) / 1000.0;
    float *af = (float *)a, *cf = (float *)c;
    if (o.dtype == DTX_F32)
      for (int64_t i = 0; i < h * h; i++) af[i] = (float)(i % 1000) / 1000.0f;
#if defined(DTX_HAVE_OPENBLAS)
    openblas_set_num_threads(threads);
#endif
    blas_s = 1e30;
    for (int r = 0; r < 3; r++) {
      double t0 = now_s();
      if (o.dtype == DTX_F32)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)h, (int)h, (int)h, 1.0f, af, (int)h, af,
                    (int)h, 0.0f, cf, (int)h);
      else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)h, (int)h, (int)h, 1.0, a, (int)h, a,
                    (int)h, 0.0, c, (int)h);
      double dt = now_s() - t0;
      if (dt < blas_s) blas_s = dt;
    }
    free(a);
    free(c);
  }
#endif
  if (gpu_gemm_s > 0) blas_s = gpu_gemm_s;

  dtx_array_scope_begin();
  int64_t shape[2] = {n, n}, chunks[2] = {o.chunk, o.chunk};
  dtx_array *x = NULL;
  reset_peak_rss(); /* the floors' buffers are given back by now */
  double t0 = now_s();
  if (dtx_array_persist(dtx_random_uniform(cl, 2, shape, chunks, o.dtype, 42), NULL, &x) != DTX_OK)
    die("persist x");
  double persist_s = now_s() - t0;

  dtx_array *expr[C_COUNT] = {0};
  expr[C_TSUM] = dtx_sum(dtx_add(x, dtx_transpose(x, NULL)), NULL, 0);
  expr[C_SUM] = dtx_sum(x, NULL, 0);
  expr[C_MEAN0] = dtx_mean(x, (const int[]){0}, 1);
  expr[C_ELEM] = dtx_sum(dtx_add(dtx_mul(x, dtx_scalar(cl, 2)), dtx_scalar(cl, 1)), NULL, 0);
  dtx_index every3[2] = {{DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 3}, {DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 3}};
  expr[C_SLICE] = dtx_sum(dtx_slice(x, 2, every3), NULL, 0);
  dtx_index half[2] = {{DTX_INDEX_SLICE, DTX_NONE, h, 1}, {DTX_INDEX_SLICE, DTX_NONE, h, 1}};
  dtx_array *xh = dtx_slice(x, 2, half);
  expr[C_MATMUL] = dtx_sum(dtx_matmul(xh, xh), NULL, 0);
  int64_t depth[2] = {1, 1};
  /* simulated GPUs run the CPU kernel in place of the CUDA one */
  dtx_block_fn laplace_gpu = ngpu > 0 && sim ? laplace : NULL;
#if defined(DTX_BENCH_CUDA)
  if (ngpu > 0 && !sim) laplace_gpu = bench_laplace_cuda;
#endif
  expr[C_STENCIL] =
      dtx_map_overlap("laplace", laplace, laplace_gpu, x, depth, DTX_BOUNDARY_PERIODIC, 0, o.dtype, NULL, 0);
  if (o.cases[C_CUMSUM0]) expr[C_CUMSUM0] = dtx_cumsum(x, 0);
  if (o.cases[C_SORT1]) expr[C_SORT1] = dtx_sort(x, 1);
  if (o.cases[C_EXPSIN]) expr[C_EXPSIN] = dtx_sum(dtx_add(dtx_exp(x), dtx_sin(x)), NULL, 0);
  if (o.cases[C_POW2]) expr[C_POW2] = dtx_sum(dtx_pow(x, dtx_scalar(cl, 2)), NULL, 0);
  if (o.cases[C_MAX0]) expr[C_MAX0] = dtx_max(x, (const int[]){0}, 1);
  if (o.cases[C_ARGMAX0]) expr[C_ARGMAX0] = dtx_argmax(x, 0);
  if (o.cases[C_MATMUL1]) {
    int64_t hs[2] = {h, h};
    dtx_array *y = NULL;
    if (dtx_array_persist(dtx_random_uniform(cl, 2, hs, hs, o.dtype, 45), NULL, &y) != DTX_OK)
      die("persist the matmul-1chunk input");
    expr[C_MATMUL1] = dtx_sum(dtx_matmul(y, y), NULL, 0);
  }
  if (o.cases[C_MAX1]) expr[C_MAX1] = dtx_max(x, (const int[]){1}, 1);
  if (o.cases[C_ARGMAX1]) expr[C_ARGMAX1] = dtx_argmax(x, 1);
  if (o.cases[C_MAXALL]) expr[C_MAXALL] = dtx_max(x, NULL, 0);
  if (o.cases[C_ARGMAXALL]) expr[C_ARGMAXALL] = dtx_argmax(x, DTX_NO_AXIS);
  size_t out_bytes = xbytes;
  if (o.cases[C_FFT2]) {
    dtx_array *z = NULL;
    int64_t rows[2] = {o.chunk, n}, cols[2] = {n, o.chunk};
    dtx_array *re = dtx_random_uniform(cl, 2, shape, rows, DTX_F64, 43);
    dtx_array *im = dtx_random_uniform(cl, 2, shape, rows, DTX_F64, 44);
    if (dtx_array_persist(dtx_complex(re, im), NULL, &z) != DTX_OK) die("persist the fft2 input");
    dtx_array *f1 = dtx_fft(z, 0, 1, DTX_FFT_BACKWARD);
    expr[C_FFT2] = dtx_fft(dtx_rechunk(f1, cols), 0, 0, DTX_FFT_BACKWARD);
    if (dtx_array_nbytes(z) > out_bytes) out_bytes = dtx_array_nbytes(z);
  }
  double la_floor[2] = {0, 0};
  if (o.cases[C_TSQR] || o.cases[C_SVDC]) linalg_cases(cl, &o, expr, &out_bytes, la_floor);
  for (int c = 0; c < C_COUNT; c++) {
    if (expr[c] == NULL && (c < C_TSQR || o.cases[c])) die(case_names[c]);
    if (expr[c] != NULL && o.cases[c] && dtx_array_nbytes(expr[c]) > out_bytes)
      out_bytes = dtx_array_nbytes(expr[c]); /* the output buffer holds every case's result */
  }

  /* bytes each case must read and write */
  double rows3 = (double)((n + 2) / 3);
  double floor_bytes[C_COUNT] = {
      2.0 * (double)xbytes, (double)xbytes, (double)xbytes, (double)xbytes, rows3 * (double)n * (double)esz,
      0, 2.0 * (double)xbytes, la_floor[0], la_floor[1], 2.0 * (double)xbytes, 2.0 * (double)xbytes,
      /* fft2: the complex128 array read and written by each pass */
      4.0 * 16.0 * (double)n * (double)n, (double)xbytes, (double)xbytes, (double)xbytes, (double)xbytes, 0,
      (double)xbytes, (double)xbytes, (double)xbytes, (double)xbytes};
  char cpu[256];
  cpu_model(cpu, sizeof cpu);
  char host[128] = "";
  gethostname(host, sizeof host - 1);
  if (!o.json) {
    printf("dtx-bench-array: x = %lld x %lld %s, chunks %lld x %lld, %d worker threads, %s scheduler",
           (long long)n, (long long)n, tname, (long long)o.chunk, (long long)o.chunk, threads,
           dtx_scheduler_name(dtx_cluster_scheduler(cl)));
    if (ngpu > 0) printf(", %d %sGPU%s (x kept on them)", ngpu, sim ? "simulated " : "", ngpu > 1 ? "s" : "");
    printf("\n");
    printf("machine: %s, %ld cores, %s; dtx %s (%s build)\n", cpu, sysconf(_SC_NPROCESSORS_ONLN), host,
           dtx_version(), DTX_BENCH_BUILD_TYPE);
    if (dev_bw > 0)
      printf("floors: device copy bandwidth %.1f GB/s (read + write, %d GPU%s); host copy %.2f GB/s", dev_bw,
             ngpu, ngpu > 1 ? "s together" : "", host_bw);
    else
      printf("floors: copy bandwidth %.2f GB/s (read + write, %d threads)", bw, threads);
    if (gpu_gemm_s > 0)
      printf("; cuBLAS %lldx%lld %cgemm %.1f ms (%.1f GFLOP/s, GPU 0)", (long long)h, (long long)h,
             o.dtype == DTX_F32 ? 's' : 'd', blas_s * 1e3,
             2.0 * (double)h * (double)h * (double)h / blas_s / 1e9);
    else if (blas_s > 0)
      printf("; BLAS %lldx%lld %cgemm %.1f ms (%.1f GFLOP/s, %d threads)", (long long)h, (long long)h,
             o.dtype == DTX_F32 ? 's' : 'd', blas_s * 1e3,
             2.0 * (double)h * (double)h * (double)h / blas_s / 1e9, threads);
    printf("; persisting x took %.0f ms\n\n", persist_s * 1e3);
    printf("%-14s %10s %10s %10s %10s %8s %10s %5s", "case", "ms", "min", "max", "floor ms", "x floor",
           "GB/s", "busy");
    if (ngpu > 0) printf("  %22s", "MB moved per run h2d/d2h/p2p");
    printf("\n");
  } else {
    printf(
        "{\"kind\":\"machine\",\"cpu\":\"%s\",\"cores\":%ld,\"threads\":%d,\"n\":%lld,\"chunk\":%lld,"
        "\"dtype\":\"%s\",\"copy_gbps\":%.3f,\"host_copy_gbps\":%.3f,\"device_copy_gbps\":%.3f,\"gpus\":%d,"
        "\"sim\":%d,\"blas_ms\":%.3f,\"scheduler\":\"%s\",\"build\":\"%s\"}\n",
        cpu, sysconf(_SC_NPROCESSORS_ONLN), threads, (long long)n, (long long)o.chunk, tname, bw, host_bw,
        dev_bw, ngpu, sim, blas_s * 1e3, dtx_scheduler_name(dtx_cluster_scheduler(cl)), DTX_BENCH_BUILD_TYPE);
  }
  fflush(stdout);

  void *out = big_alloc(out_bytes);
  double sum_check = 0;
  double *times = calloc((size_t)o.reps, sizeof *times);
  for (int c = 0; c < C_COUNT; c++) {
    if (!o.cases[c]) continue;
    size_t nb = dtx_array_nbytes(expr[c]);
    double check = 0, m0[3], m1[3], cpu0 = cpu_s(), wall = 0;
    moved(cl, ngpu, m0);
    for (int r = -1; r < o.reps; r++) {
      double s0 = now_s();
      if (dtx_array_compute(expr[c], out, nb) != DTX_OK) die(case_names[c]);
      double dt = now_s() - s0;
      if (r >= 0) times[r] = dt;
      wall += dt;
      check = o.dtype == DTX_F32 ? (double)((const float *)out)[0] : ((const double *)out)[0];
    }
    if (c == C_SUM) sum_check = check;
    double busy = (cpu_s() - cpu0) / wall; /* cores busy on average: CPU time / wall time */
    moved(cl, ngpu, m1);
    double per = 1e6 * (double)(o.reps + 1); /* MB per run */
    double mv[3] = {(m1[0] - m0[0]) / per, (m1[1] - m0[1]) / per, (m1[2] - m0[2]) / per};
    qsort(times, (size_t)o.reps, sizeof *times, cmp_d);
    int gemm = c == C_MATMUL || c == C_MATMUL1;
    double med = times[o.reps / 2], fl = gemm ? blas_s : floor_bytes[c] / (bw * 1e9);
    double gbps = gemm ? 0 : floor_bytes[c] / med / 1e9;
    if (o.json) {
      printf(
          "{\"kind\":\"case\",\"case\":\"%s\",\"ms\":%.3f,\"min_ms\":%.3f,\"max_ms\":%.3f,\"floor_ms\":%.3f,"
          "\"bytes\":%.0f,\"check\":%.17g,\"h2d_mb\":%.3f,\"d2h_mb\":%.3f,\"p2p_mb\":%.3f,\"busy\":%.3f}\n",
          case_names[c], med * 1e3, times[0] * 1e3, times[o.reps - 1] * 1e3, fl * 1e3, floor_bytes[c], check,
          mv[0], mv[1], mv[2], busy);
    } else {
      printf("%-14s %10.1f %10.1f %10.1f %10.1f %8.2f", case_names[c], med * 1e3, times[0] * 1e3,
             times[o.reps - 1] * 1e3, fl * 1e3, fl > 0 ? med / fl : 0);
      if (gbps > 0)
        printf(" %10.2f", gbps);
      else
        printf(" %10s", "");
      printf(" %5.2f", busy);
      if (ngpu > 0) printf("  %8.1f %6.1f %6.1f", mv[0], mv[1], mv[2]);
      printf("\n");
    }
    fflush(stdout);
  }
  if (!o.json) report_host_memory(cl, sum_check, o.cases[C_SUM]);
  free(times);
  free(out);
  dtx_array_scope_end();
  dtx_cluster_destroy(cl);
  return 0;
}
