/*
 * kernels/fft.c - the CPU implementation of FFT tasks (kernels/fft.h) with
 * FFTW 3 (Debian libfftw3-dev): one guru plan per chunk layout, executed on
 * the task's own input and output with FFTW's new-array functions.
 *
 * Threads: any worker thread runs tasks. FFTW's planner is not thread-safe,
 * so planning (and destroying) holds plan_lock; executing a plan is, and runs
 * unlocked. Plans are cached by layout (kinds, shapes, the alignment FFTW
 * saw) for the life of the process, at most PLAN_CACHE of them; past that a
 * task plans, runs and destroys its own. Cached plans are never destroyed, so
 * a thread executing one never races its removal.
 * Invariants: the input chunk is never written (C2R, which FFTW lets destroy
 * its input, works on a scratch copy); without FFTW at build time the task
 * fails saying what to install.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/fft.h"
#include "kernels/kernels.h"

#if defined(DTX_HAVE_FFTW)
#include <fftw3.h>
#endif

/* ---- the blob ------------------------------------------------------------------ */

static int64_t prod(const int64_t *s, int n) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) p *= s[i];
  return p;
}

static int is_axis(const dtxk_fft *f, int d) {
  for (int i = 0; i < f->naxes; i++)
    if (f->axes[i] == d) return 1;
  return 0;
}

int64_t dtxk_fft_len(const dtxk_fft *f, int i) {
  return f->kind == DTXK_FFT_C2R ? f->out_shape[f->axes[i]] : f->in_shape[f->axes[i]];
}

int64_t dtxk_fft_in_bytes(const dtxk_fft *f) {
  return prod(f->in_shape, f->ndim) * f->prec * (f->kind == DTXK_FFT_R2C ? 1 : 2);
}

int64_t dtxk_fft_out_bytes(const dtxk_fft *f) {
  return prod(f->out_shape, f->ndim) * f->prec * (f->kind == DTXK_FFT_C2R ? 1 : 2);
}

const char *dtxk_fft_check(const dtxk_fft *f) {
  if (f->kind < DTXK_FFT_C2C || f->kind > DTXK_FFT_C2R) return "unknown FFT kind";
  if (f->prec != 4 && f->prec != 8) return "FFT precision must be single or double";
  if (f->ndim < 1 || f->ndim > DTXK_MAX_DIMS || f->naxes < 1 || f->naxes > f->ndim)
    return "FFT dimensions out of range";
  if (f->kind == DTXK_FFT_C2C && f->sign != -1 && f->sign != 1) return "FFT sign must be -1 or +1";
  for (int i = 0; i < f->naxes; i++) {
    if (f->axes[i] < 0 || f->axes[i] >= f->ndim) return "FFT axis out of range";
    for (int j = 0; j < i; j++)
      if (f->axes[j] == f->axes[i]) return "FFT axis repeated";
  }
  if (f->npieces != 0) {
    if (f->kind != DTXK_FFT_C2C || f->ndim != 2 || f->naxes != 1 || f->axes[0] != 0)
      return "FFT pieces are for a 2-d C2C transform along axis 0";
    if (f->piece_rows < 1 || f->npieces != (f->in_shape[0] + f->piece_rows - 1) / f->piece_rows)
      return "FFT pieces do not cover the rows";
    if (f->piece_coff < 0 || f->piece_coff + f->in_shape[1] > f->piece_stride)
      return "FFT piece columns out of range";
  }
  int last = f->axes[f->naxes - 1];
  for (int d = 0; d < f->ndim; d++) {
    int64_t in = f->in_shape[d], out = f->out_shape[d];
    if (in < 0 || out < 0) return "negative FFT chunk length";
    if (f->kind == DTXK_FFT_R2C && d == last) {
      if (out != in / 2 + 1) return "R2C output must hold n/2+1 values along the last axis";
    } else if (f->kind == DTXK_FFT_C2R && d == last) {
      if (in != out / 2 + 1) return "C2R input must hold n/2+1 values along the last axis";
    } else if (in != out) {
      return "FFT input and output chunks differ on an axis";
    }
    if (is_axis(f, d) && (f->kind == DTXK_FFT_C2R ? out : in) < 1) return "an FFT length is 0";
  }
  return NULL;
}

int dtxk_fft_cuda_supported(const dtxk_fft *f) {
  if (f->naxes > 3 || f->npieces != 0) return 0;
  int lo = f->axes[0], hi = f->axes[0];
  for (int i = 1; i < f->naxes; i++) {
    if (f->axes[i] <= f->axes[i - 1]) return 0;
    hi = f->axes[i];
  }
  return hi - lo + 1 == f->naxes;
}

/* Multiplies n reals (complex values count twice) by s. */
static void scale_out(void *out, int64_t n, int prec, double s) {
  if (s == 1.0) return;
  if (prec == 8) {
    double *o = out;
    for (int64_t i = 0; i < n; i++) o[i] *= s;
  } else {
    float *o = out;
    float sf = (float)s;
    for (int64_t i = 0; i < n; i++) o[i] *= sf;
  }
}

#if defined(DTX_HAVE_FFTW)

/* ---- plans ------------------------------------------------------------------- */

#define PLAN_CACHE 256

typedef struct plan_key {
  dtxk_fft f; /* scale zeroed: it does not change the plan */
  int in_align, out_align;
} plan_key;

static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;
static plan_key cache_key[PLAN_CACHE];
static void *cache_plan[PLAN_CACHE];
static int cache_n;

/* C-order strides of a shape, in elements. */
static void strides(const int64_t *shape, int n, int64_t *st) {
  int64_t s = 1;
  for (int d = n - 1; d >= 0; d--) {
    st[d] = s;
    s *= shape[d];
  }
}

/* The guru dimensions: the transformed axes in order, then the others. */
static void iodims(const dtxk_fft *f, fftw_iodim64 *dims, fftw_iodim64 *many, int *nmany) {
  int64_t is[DTXK_MAX_DIMS], os[DTXK_MAX_DIMS];
  strides(f->in_shape, f->ndim, is);
  strides(f->out_shape, f->ndim, os);
  for (int i = 0; i < f->naxes; i++) {
    int d = f->axes[i];
    dims[i] = (fftw_iodim64){dtxk_fft_len(f, i), is[d], os[d]};
  }
  *nmany = 0;
  for (int d = 0; d < f->ndim; d++)
    if (!is_axis(f, d)) many[(*nmany)++] = (fftw_iodim64){f->in_shape[d], is[d], os[d]};
}

/* A new plan for f on these arrays (plan_lock held); NULL when FFTW cannot. */
static void *make_plan(const dtxk_fft *f, void *in, void *out) {
  fftw_iodim64 dims[DTXK_MAX_DIMS], many[DTXK_MAX_DIMS];
  int nmany;
  iodims(f, dims, many, &nmany);
  unsigned flags = FFTW_ESTIMATE;
  if (f->prec == 8) {
    switch (f->kind) {
      case DTXK_FFT_C2C:
        return fftw_plan_guru64_dft(f->naxes, dims, nmany, many, in, out, f->sign, flags);
      case DTXK_FFT_R2C:
        return fftw_plan_guru64_dft_r2c(f->naxes, dims, nmany, many, in, out, flags);
      default:
        return fftw_plan_guru64_dft_c2r(f->naxes, dims, nmany, many, in, out, flags);
    }
  }
  /* fftwf_iodim64 is fftw_iodim64 under another name */
  const fftwf_iodim64 *fdims = (const fftwf_iodim64 *)(const void *)dims;
  const fftwf_iodim64 *fmany = (const fftwf_iodim64 *)(const void *)many;
  switch (f->kind) {
    case DTXK_FFT_C2C:
      return fftwf_plan_guru64_dft(f->naxes, fdims, nmany, fmany, in, out, f->sign, flags);
    case DTXK_FFT_R2C:
      return fftwf_plan_guru64_dft_r2c(f->naxes, fdims, nmany, fmany, in, out, flags);
    default:
      return fftwf_plan_guru64_dft_c2r(f->naxes, fdims, nmany, fmany, in, out, flags);
  }
}

static void destroy_plan(const dtxk_fft *f, void *p) {
  if (f->prec == 8)
    fftw_destroy_plan(p);
  else
    fftwf_destroy_plan(p);
}

/* The cached plan for this layout, made when missing; *owned set when the
 * cache is full and the caller must destroy it (under plan_lock). */
static void *get_plan(const dtxk_fft *f, void *in, void *out, int *owned) {
  plan_key k;
  memset(&k, 0, sizeof k);
  k.f = *f;
  k.f.scale = 0;
  k.in_align = fftw_alignment_of(in);
  k.out_align = fftw_alignment_of(out);
  *owned = 0;
  pthread_mutex_lock(&plan_lock);
  void *p = NULL;
  for (int i = 0; i < cache_n && p == NULL; i++)
    if (memcmp(&cache_key[i], &k, sizeof k) == 0) p = cache_plan[i];
  if (p == NULL) {
    p = make_plan(f, in, out);
    if (p != NULL && cache_n < PLAN_CACHE) {
      cache_key[cache_n] = k;
      cache_plan[cache_n++] = p;
    } else if (p != NULL) {
      *owned = 1;
    }
  }
  pthread_mutex_unlock(&plan_lock);
  return p;
}

static void execute(const dtxk_fft *f, void *p, void *in, void *out) {
  if (f->prec == 8) {
    if (f->kind == DTXK_FFT_C2C)
      fftw_execute_dft(p, in, out);
    else if (f->kind == DTXK_FFT_R2C)
      fftw_execute_dft_r2c(p, in, out);
    else
      fftw_execute_dft_c2r(p, in, out);
  } else {
    if (f->kind == DTXK_FFT_C2C)
      fftwf_execute_dft(p, in, out);
    else if (f->kind == DTXK_FFT_R2C)
      fftwf_execute_dft_r2c(p, in, out);
    else
      fftwf_execute_dft_c2r(p, in, out);
  }
}

/* ---- one axis that is not the innermost: blocks of lanes ---------------------------- */

/* A C2C transform along an axis that is not the innermost reads its points
 * `inner` elements apart, and FFTW's loop over the lanes then misses the
 * caches: 8192-point columns of a 1024-wide chunk take 5.7x the time of the
 * same rows (0.318 s against 0.056 s, measured here). So, as pocketfft does,
 * blocks of up to LANES lanes are gathered into contiguous rows of a scratch
 * buffer, transformed there, and scattered into the output: 0.123 s. */
#define LANES 16

static void copy_el(char *dst, const char *src, size_t esz) {
  if (esz == 16)
    memcpy(dst, src, 16);
  else
    memcpy(dst, src, 8);
}

static int lanes_wanted(const dtxk_fft *f) {
  return f->kind == DTXK_FFT_C2C && f->naxes == 1 && f->axes[0] < f->ndim - 1 &&
         prod(f->in_shape + f->axes[0] + 1, f->ndim - f->axes[0] - 1) > 1;
}

/* Transforms w lanes gathered in a (w rows of n) into b, with the cached plan. */
static int run_block(const dtxk_fft *f, int64_t n, int64_t w, void *a, void *b) {
  dtxk_fft g;
  memset(&g, 0, sizeof g);
  g.kind = DTXK_FFT_C2C;
  g.sign = f->sign;
  g.prec = f->prec;
  g.ndim = 2;
  g.naxes = 1;
  g.axes[0] = 1;
  g.in_shape[0] = g.out_shape[0] = w;
  g.in_shape[1] = g.out_shape[1] = n;
  int owned;
  void *p = get_plan(&g, a, b, &owned);
  if (p == NULL) return -1;
  execute(&g, p, a, b);
  if (owned) {
    pthread_mutex_lock(&plan_lock);
    destroy_plan(&g, p);
    pthread_mutex_unlock(&plan_lock);
  }
  return 0;
}

/* Where the lanes' rows come from: row r (of every outer index's n rows,
 * in order) is row r - p rpp of base[p], p = r / rpp, whose first lane is
 * coff elements in and whose rows are stride elements apart. */
typedef struct lane_src {
  const char *const *base;
  int64_t rpp, stride, coff;
} lane_src;

static const char *lane_row(const lane_src *s, int64_t r, size_t esz) {
  int64_t p = r / s->rpp;
  return s->base[p] + (size_t)((r - p * s->rpp) * s->stride + s->coff) * esz;
}

static int run_lanes_from(const dtxk_fft *f, const lane_src *s, void *out, const char **why) {
  int ax = f->axes[0];
  int64_t n = f->in_shape[ax], outer = prod(f->in_shape, ax);
  int64_t inner = prod(f->in_shape + ax + 1, f->ndim - ax - 1);
  size_t esz = 2 * (size_t)f->prec;
  char *a = fftw_malloc((size_t)n * LANES * esz), *b = fftw_malloc((size_t)n * LANES * esz);
  int rc = a != NULL && b != NULL ? 0 : -1;
  if (rc != 0) *why = "out of memory for the FFT's lane buffers";
  for (int64_t o = 0; o < outer && rc == 0; o++)
    for (int64_t c0 = 0; c0 < inner && rc == 0; c0 += LANES) {
      int64_t w = inner - c0 < LANES ? inner - c0 : LANES;
      for (int64_t k = 0; k < n; k++) {
        const char *src = lane_row(s, o * n + k, esz) + (size_t)c0 * esz;
        for (int64_t j = 0; j < w; j++) copy_el(a + (size_t)(j * n + k) * esz, src + (size_t)j * esz, esz);
      }
      if ((rc = run_block(f, n, w, a, b)) != 0) {
        *why = "FFTW could not plan this transform";
        break;
      }
      for (int64_t k = 0; k < n; k++) {
        char *dst = (char *)out + (size_t)((o * n + k) * inner + c0) * esz;
        for (int64_t j = 0; j < w; j++) copy_el(dst + (size_t)j * esz, b + (size_t)(j * n + k) * esz, esz);
      }
    }
  fftw_free(a);
  fftw_free(b);
  if (rc == 0) scale_out(out, dtxk_fft_out_bytes(f) / f->prec, f->prec, f->scale);
  return rc;
}

static int run_lanes(const dtxk_fft *f, const void *in, void *out, const char **why) {
  const char *base = in;
  int ax = f->axes[0];
  lane_src s = {&base, prod(f->in_shape, ax + 1), prod(f->in_shape + ax + 1, f->ndim - ax - 1), 0};
  return run_lanes_from(f, &s, out, why);
}

int dtxk_fft_run(const dtxk_fft *f, const void *in, void *out, const char **why) {
  int64_t ibytes = dtxk_fft_in_bytes(f);
  if (dtxk_fft_out_bytes(f) > 0 && lanes_wanted(f)) return run_lanes(f, in, out, why);
  if (dtxk_fft_out_bytes(f) == 0) return 0; /* an empty chunk: nothing to transform */
  void *src = (void *)(uintptr_t)in, *scratch = NULL;
  if (f->kind == DTXK_FFT_C2R) { /* FFTW may overwrite a C2R input */
    scratch = fftw_malloc((size_t)ibytes);
    if (scratch == NULL) {
      *why = "out of memory for the FFT's scratch copy of its input";
      return -1;
    }
    memcpy(scratch, in, (size_t)ibytes);
    src = scratch;
  }
  int owned;
  void *p = get_plan(f, src, out, &owned);
  if (p == NULL) {
    fftw_free(scratch);
    *why = "FFTW could not plan this transform";
    return -1;
  }
  execute(f, p, src, out);
  if (owned) {
    pthread_mutex_lock(&plan_lock);
    destroy_plan(f, p);
    pthread_mutex_unlock(&plan_lock);
  }
  fftw_free(scratch);
  scale_out(out, dtxk_fft_out_bytes(f) / f->prec, f->prec, f->scale);
  return 0;
}

const char *dtxk_fft_library(void) { return fftw_version; }

static int run_lanes_pieces(const dtxk_fft *f, const char *const *base, void *out, const char **why) {
  lane_src s = {base, f->piece_rows, f->piece_stride, f->piece_coff};
  return run_lanes_from(f, &s, out, why);
}

#else /* no FFTW */

int dtxk_fft_run(const dtxk_fft *f, const void *in, void *out, const char **why) {
  (void)f;
  (void)in;
  (void)out;
  (void)scale_out;
  *why = "dtx was built without FFTW: install it (Debian: apt-get install libfftw3-dev) and rebuild";
  return -1;
}

const char *dtxk_fft_library(void) { return NULL; }

static int run_lanes_pieces(const dtxk_fft *f, const char *const *base, void *out, const char **why) {
  return dtxk_fft_run(f, base, out, why);
}

#endif

/* The task of a transform whose input is pieces (kernels/fft.h). */
static int run_pieces(dtx_task_ctx *ctx, const dtxk_fft *f) {
  if (dtx_task_num_inputs(ctx) != f->npieces)
    return dtx_task_fail(ctx, "the FFT has %d input pieces, not %lld", dtx_task_num_inputs(ctx),
                         (long long)f->npieces);
  const char **base = malloc((size_t)f->npieces * sizeof *base);
  if (base == NULL) return dtx_task_fail(ctx, "out of memory");
  size_t esz = 2 * (size_t)f->prec;
  int rc = 0;
  for (int64_t p = 0; p < f->npieces && rc == 0; p++) {
    int64_t rows = f->in_shape[0] - p * f->piece_rows < f->piece_rows ? f->in_shape[0] - p * f->piece_rows
                                                                      : f->piece_rows;
    size_t isz = 0;
    base[p] = dtx_task_input(ctx, (int)p, &isz);
    if (base[p] == NULL || isz != (size_t)(rows * f->piece_stride) * esz)
      rc = dtx_task_fail(ctx, "the FFT's input piece %lld has %zu bytes, not %lld", (long long)p, isz,
                         (long long)((size_t)(rows * f->piece_stride) * esz));
  }
  void *out = rc == 0 ? dtx_task_output(ctx, (size_t)dtxk_fft_out_bytes(f)) : NULL;
  if (rc == 0 && out == NULL) rc = dtx_task_fail(ctx, "out of memory for the FFT's output chunk");
  const char *why = NULL;
  if (rc == 0 && run_lanes_pieces(f, base, out, &why) != 0) rc = dtx_task_fail(ctx, "%s", why);
  free((void *)base);
  return rc;
}

int dtxk_fft_cpu(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_fft *f = (const dtxk_fft *)dtx_task_args(ctx, &asz);
  if (f == NULL || asz != sizeof *f) return dtx_task_fail(ctx, "malformed FFT-task arguments");
  const char *why = dtxk_fft_check(f);
  if (why != NULL) return dtx_task_fail(ctx, "bad FFT task: %s", why);
  if (f->npieces != 0) return run_pieces(ctx, f);
  size_t isz = 0;
  const void *in = dtx_task_input(ctx, 0, &isz);
  if (in == NULL && dtxk_fft_in_bytes(f) > 0) return dtx_task_fail(ctx, "the FFT's input chunk is missing");
  if ((int64_t)isz != dtxk_fft_in_bytes(f))
    return dtx_task_fail(ctx, "the FFT's input chunk has %zu bytes, not %lld", isz,
                         (long long)dtxk_fft_in_bytes(f));
  void *out = dtx_task_output(ctx, (size_t)dtxk_fft_out_bytes(f));
  if (out == NULL && dtxk_fft_out_bytes(f) > 0)
    return dtx_task_fail(ctx, "out of memory for the FFT's output chunk");
  if (dtxk_fft_run(f, in, out, &why) != 0) return dtx_task_fail(ctx, "%s", why);
  return 0;
}
