/*
 * array/fft.c - the FFTs of dtx/fft.h as a DTXA_BLOCKS node (array/blocks.h)
 * with one task per chunk (kernels/fft.h: FFTW on CPU threads, cuFFT on
 * GPUs).
 *
 * The operand is first brought to what the tasks read: converted to the
 * transform's precision (complex, or real for rfft), each transformed axis
 * cropped or zero-padded to its length (views and a concatenation, which
 * fuse into the tasks making the input chunks) and kept in one chunk. The
 * node's chunks are then the input's, with the transformed axes at their new
 * lengths, and chunk b of the result is the transform of chunk b of the
 * input: a complex result's node is the pairs (array/complex.h) the tasks
 * write as interleaved complex values.
 * The building thread runs the callback; no state outside the node.
 */
#include "dtx/fft.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "array/blocks.h"
#include "array/complex.h"
#include "base/error.h"
#include "kernels/fft.h"

/* The node's data: the task blob's fields common to every chunk (kind,
 * sign, prec, ndim, axes, scale) and whether the input may be read from the
 * chunks it was rechunked from (node->in[1]; see direct_source). */
typedef struct fft_blob {
  dtxk_fft f;
  int32_t direct, pad;
} fft_blob;

/* Whether y is what x (the pairs the tasks read) was rechunked from and a
 * 2-d C2C transform along axis 0 can read y's chunks in place (kernels/fft.h
 * pieces): x an identity view of y, and each of x's column chunks inside
 * one of y's. Saves the copy of the whole operand that the rechunk between
 * the two passes of an fft2 made. */
static const dtx_array *direct_source(const dtxk_fft *f, const dtx_array *x) {
  if (f->kind != DTXK_FFT_C2C || f->ndim != 2 || f->naxes != 1 || f->axes[0] != 0 || x->kind != DTXA_VIEW ||
      x->nin != 1)
    return NULL;
  const dtx_array *y = x->in[0];
  if (y->ndim != x->ndim || y->dtype != x->dtype) return NULL;
  for (int d = 0; d < x->ndim; d++) {
    const dtxk_dimmap *m = &x->vmap[d];
    if (y->shape[d] != x->shape[d] || m->src != d || m->mode != DTXK_MODE_NONE || m->step != 1 || m->off != 0)
      return NULL;
  }
  for (int64_t j = 0; j < dtxa_nb(x, 1); j++) {
    int64_t c0 = j * x->chunk[1], c1 = c0 + dtxa_chunk_len(x, 1, j);
    if (c0 / y->chunk[1] != (c1 - 1) / y->chunk[1]) return NULL;
  }
  return x->shape[0] > 0 && x->shape[1] > 0 ? y : NULL;
}

/* The task of column chunk j of a direct transform: its rows from every row
 * chunk of y (node->in[1]) in place. */
static dtx_status emit_direct(dtxa_emit *e, const dtx_array *node, dtxk_fft *f, const int64_t *idx,
                              dtx_task_id *id) {
  const dtx_array *y = node->in[1];
  int64_t c0 = idx[1] * node->chunk[1], jy = c0 / y->chunk[1], np = dtxa_nb(y, 0);
  f->npieces = np;
  f->piece_rows = y->chunk[0];
  f->piece_stride = dtxa_chunk_len(y, 1, jy);
  f->piece_coff = c0 - jy * y->chunk[1];
  dtx_task_id *in = malloc((size_t)np * sizeof *in);
  if (in == NULL) return dtxi_fail(DTX_ENOMEM, "out of memory");
  dtx_status rc = DTX_OK;
  for (int64_t p = 0; p < np && rc == DTX_OK; p++)
    rc = dtxa_emit_input(e, 1, NULL, (int64_t[]){p, jy, 0}, &in[p]);
  if (rc == DTX_OK) {
    dtxa_task t = dtxa_task_make(NULL, node->ndim, idx, in, (int)np, f, sizeof *f,
                                 dtxk_fft_cpu); /* pieces are CPU-only (dtxk_fft_cuda_supported) */
    t.output_size = (size_t)dtxk_fft_out_bytes(f);
    rc = dtxa_emit_task(e, &t, id);
  }
  free(in);
  return rc;
}

/* The callback: one task per chunk of the node. */
static dtx_status fft_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  const fft_blob *bl = data;
  const dtxk_fft *f0 = &bl->f;
  const dtx_array *in = node->in[0];
  int nd = f0->ndim;
  int64_t n = dtxa_nblocks(node);
  int direct = bl->direct && !dtxa_emit_gpu(e); /* GPU builds: cuFFT reads one chunk */
  dtx_status rc = DTX_OK;
  for (int64_t b = 0; b < n && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS] = {0};
    dtxa_block_index(node, b, idx);
    dtxk_fft f = *f0;
    for (int d = 0; d < nd; d++) { /* input and output agree on the block index */
      int64_t lo = idx[d] * node->chunk[d], li = idx[d] * in->chunk[d];
      f.out_shape[d] = node->shape[d] - lo < node->chunk[d] ? node->shape[d] - lo : node->chunk[d];
      f.in_shape[d] = in->shape[d] - li < in->chunk[d] ? in->shape[d] - li : in->chunk[d];
    }
    const char *why = dtxk_fft_check(&f);
    if (why != NULL)
      return dtxi_fail(DTX_EINVAL, "internal: %s chunk %lld: %s", node->opname, (long long)b, why);
    dtx_task_id x, id;
    if (direct) {
      if ((rc = emit_direct(e, node, &f, idx, &id)) == DTX_OK) dtxa_emit_set(e, b, id);
      continue;
    }
    if ((rc = dtxa_emit_input(e, 0, NULL, idx, &x)) != DTX_OK) break; /* idx[nd] is 0 for pairs */
    dtxa_task t = dtxa_task_make(NULL, node->ndim, idx, &x, 1, &f, sizeof f, dtxk_fft_cpu);
    t.cuda = dtxk_fft_cuda_supported(&f) ? dtxk_fft_cuda : NULL;
    t.output_size = (size_t)dtxk_fft_out_bytes(&f);
    if ((rc = dtxa_emit_task(e, &t, &id)) == DTX_OK) dtxa_emit_set(e, b, id);
  }
  return rc;
}

/* x with axis ax cropped or zero-padded to len, in one chunk along it (in
 * the caller's scope). */
static dtx_array *fit_axis(dtx_array *x, int ax, int64_t len) {
  if (x == NULL || x->shape[ax] == len) return x;
  if (x->shape[ax] > len) {
    dtx_index idx[DTX_ARRAY_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
      idx[d] = (dtx_index){DTX_INDEX_SLICE, d == ax ? 0 : DTX_NONE, d == ax ? len : DTX_NONE, 1};
    return dtx_slice(x, x->ndim, idx);
  }
  int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  memcpy(chunk, x->chunk, sizeof chunk);
  shape[ax] = len - x->shape[ax];
  dtx_array *two[2] = {x, dtx_zeros(x->cl, x->ndim, shape, chunk, x->dtype)};
  if (two[1] == NULL) return NULL;
  chunk[ax] = len;
  return dtx_rechunk(dtx_concatenate(two, 2, ax), chunk);
}

typedef struct fft_req {
  const char *name; /* "dtx_fftn", ... */
  int kind;         /* DTXK_FFT_* */
  int sign;         /* C2C: -1 forward, +1 backward */
} fft_req;

/* The axes (normalised into ax[0..*na)) and the transformed lengths. */
static dtx_status fft_axes(const fft_req *q, const dtx_array *a, int naxes, const int64_t *s, const int *axes,
                           int *ax, int *na, int64_t *len) {
  if (naxes < 0 || naxes > a->ndim || (naxes == 0 && axes != NULL))
    return dtxi_fail(DTX_EINVAL, "%s: %d axes for a %d-d array", q->name, naxes, a->ndim);
  *na = naxes == 0 ? a->ndim : naxes;
  if (*na == 0) return dtxi_fail(DTX_EINVAL, "%s: a is 0-d; it has no axis to transform", q->name);
  for (int i = 0; i < *na; i++) {
    int v = axes != NULL ? axes[i] : a->ndim - *na + i;
    ax[i] = v < 0 ? v + a->ndim : v;
    if (ax[i] < 0 || ax[i] >= a->ndim)
      return dtxi_fail(DTX_EINVAL, "%s: axis %d is out of range for a %d-d array", q->name, v, a->ndim);
    for (int j = 0; j < i; j++)
      if (ax[j] == ax[i]) return dtxi_fail(DTX_EINVAL, "%s: axis %d is repeated", q->name, v);
    if (a->chunk[ax[i]] < a->shape[ax[i]])
      return dtxi_fail(DTX_EINVAL,
                       "%s: axis %d has %lld chunks; an FFT runs along axes held in one chunk (Dask's rule): "
                       "rechunk it first, e.g. dtx_rechunk with chunks[%d] = %lld",
                       q->name, v, (long long)dtxa_nb(a, ax[i]), ax[i], (long long)a->shape[ax[i]]);
    int64_t m = a->shape[ax[i]];
    len[i] = s != NULL && s[i] != 0 ? s[i] : (q->kind == DTXK_FFT_C2R && i == *na - 1 ? 2 * (m - 1) : m);
    if (len[i] < 1)
      return dtxi_fail(DTX_EINVAL, "%s: invalid number of FFT data points (%lld) along axis %d", q->name,
                       (long long)len[i], v);
  }
  return DTX_OK;
}

static double fft_scale(const fft_req *q, dtx_fft_norm norm, const int64_t *len, int na) {
  double n = 1;
  for (int i = 0; i < na; i++) n *= (double)len[i];
  int inverse = q->kind == DTXK_FFT_C2R || (q->kind == DTXK_FFT_C2C && q->sign > 0);
  if (norm == DTX_FFT_ORTHO) return 1.0 / sqrt(n);
  return (norm == DTX_FFT_FORWARD) != inverse ? 1.0 / n : 1.0;
}

/* The operand as the tasks read it (in the caller's scope): converted, each
 * axis fitted; for C2R the last axis to len/2 + 1 values. */
static dtx_array *fft_input(const fft_req *q, const dtx_array *a, dtx_dtype part, const int *ax, int na,
                            const int64_t *len) {
  dtx_dtype t = q->kind == DTXK_FFT_R2C ? part : part == DTX_F32 ? DTX_C64 : DTX_C128;
  dtx_array *x = a->dtype == t ? (dtx_array *)a : dtx_astype(a, t); /* no copy of a that is already t */
  for (int i = 0; i < na; i++)
    x = fit_axis(x, ax[i], q->kind == DTXK_FFT_C2R && i == na - 1 ? len[i] / 2 + 1 : len[i]);
  return x;
}

static dtx_array *fft_node(const fft_req *q, const dtx_array *a, int naxes, const int64_t *s, const int *axes,
                           dtx_fft_norm norm) {
  if (a == NULL) return NULL;
  if (norm != DTX_FFT_BACKWARD && norm != DTX_FFT_ORTHO && norm != DTX_FFT_FORWARD) {
    dtxi_fail(DTX_EINVAL, "%s: norm %d is not a dtx_fft_norm", q->name, (int)norm);
    return NULL;
  }
  if (q->kind == DTXK_FFT_R2C && dtxa_cx_in(a)) {
    dtxi_fail(DTX_EINVAL, "%s: a is %s; rfft takes real arrays (NumPy's TypeError): use dtx_fft, or dtx_real",
              q->name, dtx_dtype_name(a->dtype));
    return NULL;
  }
  int ax[DTX_ARRAY_MAX_DIMS], na;
  int64_t len[DTX_ARRAY_MAX_DIMS];
  if (fft_axes(q, a, naxes, s, axes, ax, &na, len) != DTX_OK) return NULL;
  dtx_dtype t = a->dtype, part = t == DTX_F16 || t == DTX_F32 || t == DTX_C64 ? DTX_F32 : DTX_F64;
  dtxk_fft f;
  memset(&f, 0, sizeof f);
  f.kind = q->kind;
  f.sign = q->sign;
  f.prec = part == DTX_F32 ? 4 : 8;
  f.ndim = a->ndim;
  f.naxes = na;
  memcpy(f.axes, ax, sizeof(int) * (size_t)na);
  f.scale = fft_scale(q, norm, len, na);
  if (dtxa_scope_begin() != 0) {
    dtxi_fail(DTX_ENOMEM, "out of memory");
    return NULL;
  }
  dtx_array *x = fft_input(q, a, part, ax, na, len), *r = NULL;
  if (x != NULL) {
    int64_t shape[DTX_ARRAY_MAX_DIMS + 1], chunk[DTX_ARRAY_MAX_DIMS + 1];
    memcpy(shape, x->shape, sizeof x->shape);
    memcpy(chunk, x->chunk, sizeof x->chunk);
    for (int i = 0; i < na; i++)
      shape[ax[i]] = chunk[ax[i]] = q->kind == DTXK_FFT_R2C && i == na - 1 ? len[i] / 2 + 1 : len[i];
    int cx_out = q->kind != DTXK_FFT_C2R, nd = a->ndim;
    if (nd + cx_out > DTX_ARRAY_MAX_DIMS) {
      dtxi_fail(DTX_EINVAL, "%s: a complex result has at most %d dimensions (a has %d)", q->name,
                DTX_ARRAY_MAX_DIMS - 1, nd);
      dtx_array_scope_end();
      return NULL;
    }
    shape[nd] = chunk[nd] = 2;
    dtx_array *in[2] = {dtxa_cx_in(x) ? (dtx_array *)dtxa_cx_pairs(x) : x, NULL};
    const char *op = q->name + 4; /* "fftn", ... */
    fft_blob bl;
    memset(&bl, 0, sizeof bl);
    bl.f = f;
    in[1] = (dtx_array *)direct_source(&f, in[0]);
    bl.direct = in[1] != NULL;
    dtx_array *node =
        dtxa_blocks(a->cl, op, nd + cx_out, shape, chunk, part, 1 + bl.direct, in, fft_emit, &bl, sizeof bl);
    r = cx_out && node != NULL ? dtxa_cx_wrap(node) : node;
    if (cx_out) dtx_array_release(node);
    if (!cx_out && r != NULL && t == DTX_F16) { /* NumPy: irfft of float16 is float16 */
      dtx_array *h = dtx_array_keep(dtx_astype(dtxa_ret(r), DTX_F16));
      r = h;
    }
  }
  dtx_array_scope_end();
  return r;
}

static const fft_req FFT = {"dtx_fft", DTXK_FFT_C2C, -1}, IFFT = {"dtx_ifft", DTXK_FFT_C2C, +1},
                     RFFT = {"dtx_rfft", DTXK_FFT_R2C, -1}, IRFFT = {"dtx_irfft", DTXK_FFT_C2R, +1};
static const fft_req FFTN = {"dtx_fftn", DTXK_FFT_C2C, -1}, IFFTN = {"dtx_ifftn", DTXK_FFT_C2C, +1},
                     RFFTN = {"dtx_rfftn", DTXK_FFT_R2C, -1}, IRFFTN = {"dtx_irfftn", DTXK_FFT_C2R, +1};
static const fft_req FFT2 = {"dtx_fft2", DTXK_FFT_C2C, -1}, IFFT2 = {"dtx_ifft2", DTXK_FFT_C2C, +1};

/* one axis: n 0 keeps its length */
static dtx_array *fft1(const fft_req *q, const dtx_array *a, int64_t n, int axis, dtx_fft_norm norm) {
  if (a != NULL && a->ndim == 0) {
    dtxi_fail(DTX_EINVAL, "%s: a is 0-d; it has no axis to transform", q->name);
    return NULL;
  }
  return dtxa_ret(fft_node(q, a, 1, &n, &axis, norm));
}

static dtx_array *fft2(const fft_req *q, const dtx_array *a, const int64_t *s, const int *axes,
                       dtx_fft_norm norm) {
  static const int last2[2] = {-2, -1};
  if (a != NULL && a->ndim < 2) {
    dtxi_fail(DTX_EINVAL, "%s: a is %d-d; it transforms two axes", q->name, a->ndim);
    return NULL;
  }
  return dtxa_ret(fft_node(q, a, 2, s, axes != NULL ? axes : last2, norm));
}

dtx_array *dtx_fft(const dtx_array *a, int64_t n, int axis, dtx_fft_norm norm) {
  return fft1(&FFT, a, n, axis, norm);
}
dtx_array *dtx_ifft(const dtx_array *a, int64_t n, int axis, dtx_fft_norm norm) {
  return fft1(&IFFT, a, n, axis, norm);
}
dtx_array *dtx_rfft(const dtx_array *a, int64_t n, int axis, dtx_fft_norm norm) {
  return fft1(&RFFT, a, n, axis, norm);
}
dtx_array *dtx_irfft(const dtx_array *a, int64_t n, int axis, dtx_fft_norm norm) {
  return fft1(&IRFFT, a, n, axis, norm);
}
dtx_array *dtx_fft2(const dtx_array *a, const int64_t *s, const int *axes, dtx_fft_norm norm) {
  return fft2(&FFT2, a, s, axes, norm);
}
dtx_array *dtx_ifft2(const dtx_array *a, const int64_t *s, const int *axes, dtx_fft_norm norm) {
  return fft2(&IFFT2, a, s, axes, norm);
}
dtx_array *dtx_fftn(const dtx_array *a, int naxes, const int64_t *s, const int *axes, dtx_fft_norm norm) {
  return dtxa_ret(fft_node(&FFTN, a, naxes, s, axes, norm));
}
dtx_array *dtx_ifftn(const dtx_array *a, int naxes, const int64_t *s, const int *axes, dtx_fft_norm norm) {
  return dtxa_ret(fft_node(&IFFTN, a, naxes, s, axes, norm));
}
dtx_array *dtx_rfftn(const dtx_array *a, int naxes, const int64_t *s, const int *axes, dtx_fft_norm norm) {
  return dtxa_ret(fft_node(&RFFTN, a, naxes, s, axes, norm));
}
dtx_array *dtx_irfftn(const dtx_array *a, int naxes, const int64_t *s, const int *axes, dtx_fft_norm norm) {
  return dtxa_ret(fft_node(&IRFFTN, a, naxes, s, axes, norm));
}
