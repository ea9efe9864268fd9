/*
 * array/array.c - dtx_array handles and the operations that make arrays:
 * creation, elementwise operations with broadcasting and NumPy type
 * promotion (the rules in dtype.c), views, concatenation, reductions,
 * products and user kernels.
 *
 * Every operation checks its input here (DTX_EINVAL naming the shapes, axes,
 * dtypes or values) and makes one immutable node (array/array.h); nothing
 * runs until build.c turns nodes into tasks. Owns the nodes (reference
 * counted, atomic) and the per-thread scope stacks. Any thread.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "array/array.h"
#include "array/complex.h"
#include "base/error.h"
#include "base/log.h"
#include "data/store.h"
#include "scheduler/sched.h"

static _Atomic uint64_t next_serial = 1;

void *dtxa_alloc_host(size_t bytes) {
  const size_t huge = (size_t)2 << 20;
  if (bytes < 2 * huge) return aligned_alloc(64, bytes > 0 ? (bytes + 63) & ~(size_t)63 : 64);
  /* big arrays on transparent huge pages where the system allows it (as
   * NumPy does): tasks read them chunk by chunk, across rows too */
  void *p = aligned_alloc(huge, (bytes + huge - 1) & ~(huge - 1));
#if defined(MADV_HUGEPAGE)
  if (p != NULL) madvise(p, (bytes + huge - 1) & ~(huge - 1), MADV_HUGEPAGE);
#endif
  return p;
}

/* ---- nodes ---------------------------------------------------------------------------- */

int64_t dtxa_nblocks(const dtx_array *a) {
  int64_t n = 1;
  for (int d = 0; d < a->ndim; d++) n *= dtxa_nb(a, d);
  return n;
}

dtx_array *dtxa_node(dtx_cluster *cl, int kind, const char *opname, int ndim, const int64_t *shape,
                     const int64_t *chunk, dtx_dtype t, int nin, dtx_array *const *in) {
  DTX_ASSERT(ndim >= 0 && ndim <= DTX_ARRAY_MAX_DIMS);
  /* complex arrays: only their own node holds them (array/complex.c) */
  if (kind != DTXA_CPLX) {
    int cx = dtxa_is_cx(t);
    for (int i = 0; i < nin; i++) cx |= dtxa_cx_in(in[i]);
    if (cx) {
      dtxa_cx_refuse(opname);
      return NULL;
    }
  }
  int unknown, deferred; /* lengths unknown until computed: unknown.c */
  if (dtxa_deferred_inputs(kind, opname, nin, in, &unknown, &deferred) != DTX_OK) return NULL;
  dtx_array *a = calloc(1, sizeof *a);
  dtx_array **ins = nin > 0 ? calloc((size_t)nin, sizeof *ins) : NULL;
  if (a == NULL || (nin > 0 && ins == NULL)) {
    free(a);
    free(ins);
    dtxi_fail(DTX_ENOMEM, "out of memory making an array");
    return NULL;
  }
  atomic_init(&a->refs, 1);
  a->kind = kind;
  a->cl = cl;
  a->serial = atomic_fetch_add(&next_serial, 1);
  a->opname = opname;
  a->ndim = ndim;
  a->dtype = t;
  for (int d = 0; d < ndim; d++) {
    a->shape[d] = shape[d];
    a->chunk[d] = chunk[d] < shape[d] ? chunk[d]
                  : shape[d] > 0      ? shape[d]
                                      : 1; /* >= 1: an empty axis has no chunks */
  }
  a->nin = nin;
  a->in = ins;
  for (int i = 0; i < nin; i++) ins[i] = dtx_array_retain(in[i]);
  for (int d = 0; d < DTX_ARRAY_MAX_DIMS; d++) a->vmap[d].src = -1;
  a->unknown = unknown;
  a->deferred = deferred;
  return a;
}

dtx_array *dtx_array_retain(dtx_array *a) {
  if (a != NULL) atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
  return a;
}

/* Frees a node whose last reference went, handing its inputs to drop. */
static void node_free(dtx_array *a) {
  dtxi_keeper_free(a->keeper);
  free(a->in);
  free(a->offs);
  free(a->owned);
  free(a->where);
  free(a->user);
  free(a->name);
  free(a);
}

void dtx_array_release(dtx_array *a) {
  /* a worklist, not recursion: expressions may be chains of any length */
  dtx_array *small[64], **st = small;
  size_t n = 0, cap = 64;
  st[n++] = a;
  while (n > 0) {
    dtx_array *x = st[--n];
    if (x == NULL || atomic_fetch_sub_explicit(&x->refs, 1, memory_order_acq_rel) != 1) continue;
    for (int i = 0; i < x->nin; i++) {
      if (n == cap) {
        size_t nc = cap * 2;
        dtx_array **ns = malloc(nc * sizeof *ns);
        if (ns == NULL) {
          dtx_array_release(x->in[i]); /* no memory for the list: recurse for this one */
          continue;
        }
        memcpy(ns, st, n * sizeof *ns);
        if (st != small) free(st);
        st = ns;
        cap = nc;
      }
      st[n++] = x->in[i];
    }
    node_free(x);
  }
  if (st != small) free(st);
}

/* ---- scopes --------------------------------------------------------------------------- */

typedef struct scope {
  struct scope *up;
  dtx_array **v;
  size_t n, cap;
} scope;

static _Thread_local scope *scopes;

int dtxa_scope_begin(void) {
  scope *s = calloc(1, sizeof *s);
  if (s == NULL) return -1; /* arrays then stay with the caller */
  s->up = scopes;
  scopes = s;
  return 0;
}
void dtx_array_scope_begin(void) { (void)dtxa_scope_begin(); }

void dtx_array_scope_end(void) {
  scope *s = scopes;
  if (s == NULL) return;
  scopes = s->up;
  for (size_t i = s->n; i > 0; i--) dtx_array_release(s->v[i - 1]);
  free(s->v);
  free(s);
}

dtx_array *dtx_array_keep(dtx_array *a) {
  if (a == NULL) return NULL;
  for (scope *s = scopes; s != NULL; s = s->up)
    for (size_t i = s->n; i > 0; i--)
      if (s->v[i - 1] == a) {
        memmove(&s->v[i - 1], &s->v[i], (s->n - i) * sizeof *s->v);
        s->n--;
        return a;
      }
  return a;
}

dtx_array *dtxa_ret(dtx_array *a) {
  scope *s = scopes;
  if (a == NULL || s == NULL) return a;
  if (s->n == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 32;
    dtx_array **nv = realloc(s->v, nc * sizeof *nv);
    if (nv == NULL) return a; /* stays with the caller */
    s->v = nv;
    s->cap = nc;
  }
  s->v[s->n++] = a;
  return a;
}

/* ---- what an array is ------------------------------------------------------------------ */

static int norm_axis(const dtx_array *a, int axis) {
  if (a == NULL) return -1;
  if (axis < 0) axis += a->ndim;
  return axis >= 0 && axis < a->ndim ? axis : -1;
}

int dtx_array_ndim(const dtx_array *a) { return a != NULL ? a->ndim : 0; }
dtx_dtype dtx_array_dtype(const dtx_array *a) { return a != NULL ? a->dtype : (dtx_dtype)0; }
int64_t dtx_array_dim(const dtx_array *a, int axis) {
  int d = norm_axis(a, axis);
  return d < 0 || a->unknown ? -1 : a->shape[d];
}
int64_t dtx_array_chunk(const dtx_array *a, int axis) {
  int d = norm_axis(a, axis);
  return d < 0 || a->unknown ? -1 : a->chunk[d];
}
int64_t dtx_array_numblocks(const dtx_array *a, int axis) {
  int d = norm_axis(a, axis);
  return d < 0 ? -1 : dtxa_nb(a, d);
}
int64_t dtx_array_size(const dtx_array *a) {
  if (a == NULL) return 0;
  if (a->unknown) return -1;
  int64_t n = 1;
  for (int d = 0; d < a->ndim; d++) n *= a->shape[d];
  return n;
}
size_t dtx_array_nbytes(const dtx_array *a) {
  return a != NULL && !a->unknown ? (size_t)dtx_array_size(a) * dtx_dtype_size(a->dtype) : 0;
}
dtx_cluster *dtx_array_cluster(const dtx_array *a) { return a != NULL ? a->cl : NULL; }

/* "(3, 4)" into buf. */
static const char *shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
  size_t k = (size_t)snprintf(buf, n, "(");
  for (int d = 0; d < ndim && k < n; d++)
    k += (size_t)snprintf(buf + k, n - k, d == 0 ? "%lld" : ", %lld", (long long)shape[d]);
  if (k < n) snprintf(buf + k, n - k, ndim == 1 ? ",)" : ")");
  return buf;
}
#define SHAPE(a) shape_str((a)->ndim, (a)->shape, (char[192]){0}, 192)

/* ---- creation --------------------------------------------------------------------------- */

dtx_status dtxa_check_shape(const char *fn, int ndim, const int64_t *shape, const int64_t *chunks,
                            dtx_dtype t, int64_t *chunk) {
  if (ndim < 0 || ndim > DTX_ARRAY_MAX_DIMS)
    return dtxi_fail(DTX_EINVAL, "%s: ndim is %d; arrays have 0 to %d dimensions", fn, ndim,
                     DTX_ARRAY_MAX_DIMS);
  if (ndim > 0 && shape == NULL) return dtxi_fail(DTX_EINVAL, "%s: shape is NULL", fn);
  if (dtx_dtype_name(t) == NULL)
    return dtxi_fail(DTX_EINVAL, "%s: dtype %d is not a dtx_dtype (DTX_BOOL .. DTX_F16)", fn, (int)t);
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0)
      return dtxi_fail(DTX_EINVAL, "%s: shape[%d] is %lld; lengths must not be negative", fn, d,
                       (long long)shape[d]);
    if (chunks != NULL && chunks[d] < 1)
      return dtxi_fail(DTX_EINVAL, "%s: chunks[%d] is %lld; chunk lengths must be at least 1", fn, d,
                       (long long)chunks[d]);
  }
  int64_t total = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] > 0 && shape[d] > INT64_MAX / 16 / total)
      return dtxi_fail(DTX_EINVAL, "%s: the shape has more elements than an int64 counts", fn);
    if (shape[d] > 0) total *= shape[d];
  }
  /* a chunk length is at least 1 even along an empty axis (which has no chunks) */
  if (chunks != NULL) {
    for (int d = 0; d < ndim; d++) chunk[d] = chunks[d] < shape[d] ? chunks[d] : shape[d] > 0 ? shape[d] : 1;
    return DTX_OK;
  }
  /* automatic: halve the longest chunk until one is at most 64 MiB */
  for (int d = 0; d < ndim; d++) chunk[d] = shape[d] > 0 ? shape[d] : 1;
  for (;;) {
    int64_t bytes = (int64_t)dtx_dtype_size(t);
    int big = -1;
    for (int d = 0; d < ndim; d++) {
      bytes *= chunk[d];
      if (big < 0 || chunk[d] > chunk[big]) big = d;
    }
    if (bytes <= ((int64_t)64 << 20) || big < 0 || chunk[big] == 1) break;
    chunk[big] = (chunk[big] + 1) / 2;
  }
  return DTX_OK;
}

static dtx_array *gen_node(dtx_cluster *cl, const char *fn, const char *opname, int ndim,
                           const int64_t *shape, const int64_t *chunks, dtx_dtype t, const dtxk_gen *g) {
  int64_t chunk[DTX_ARRAY_MAX_DIMS];
  if (cl == NULL) {
    dtxi_fail(DTX_EINVAL, "%s: cluster is NULL", fn);
    return NULL;
  }
  if (dtxa_check_shape(fn, ndim, shape, chunks, t, chunk) != DTX_OK) return NULL;
  dtx_array *a = dtxa_node(cl, DTXA_GEN, opname, ndim, shape, chunk, t, 0, NULL);
  if (a == NULL) return NULL;
  a->gen = *g;
  a->nops = 1;
  return a;
}

static dtxk_gen gconst(double v, dtx_dtype t) {
  dtxk_gen g;
  memset(&g, 0, sizeof g);
  g.kind = DTXK_GEN_CONST;
  g.g0 = t == DTX_BOOL ? (v != 0) : v;
  g.i0 = dtxa_int_of(v, t);
  if (dtxa_dkind(t) == 1) g.g0 = dtxa_is_unsigned(t) ? (double)(uint64_t)g.i0 : (double)g.i0;
  return g;
}

/* An array of shape / chunk holding v everywhere: what an operation on
 * empty operands makes (an empty array, or a reduction's identity). */
static dtx_array *const_node(dtx_cluster *cl, const char *fn, int ndim, const int64_t *shape,
                             const int64_t *chunk, dtx_dtype t, double v) {
  dtxk_gen g = gconst(v, t);
  return gen_node(cl, fn, "full", ndim, shape, chunk, t, &g);
}

dtx_array *dtx_zeros(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks, dtx_dtype t) {
  if (dtxa_is_cx(t)) return dtxa_ret(dtxa_cx_full(cl, ndim, shape, chunks, t, 0));
  dtxk_gen g = gconst(0, t);
  return dtxa_ret(gen_node(cl, "dtx_zeros", "zeros", ndim, shape, chunks, t, &g));
}
dtx_array *dtx_ones(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks, dtx_dtype t) {
  if (dtxa_is_cx(t)) return dtxa_ret(dtxa_cx_full(cl, ndim, shape, chunks, t, 1));
  dtxk_gen g = gconst(1, t);
  return dtxa_ret(gen_node(cl, "dtx_ones", "ones", ndim, shape, chunks, t, &g));
}
dtx_array *dtx_full(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks, dtx_dtype t,
                    double value) {
  if (dtxa_is_cx(t)) return dtxa_ret(dtxa_cx_full(cl, ndim, shape, chunks, t, value));
  dtxk_gen g = gconst(value, t);
  return dtxa_ret(gen_node(cl, "dtx_full", "full", ndim, shape, chunks, t, &g));
}

dtx_array *dtx_arange(dtx_cluster *cl, double start, double stop, double step, int64_t chunk, dtx_dtype t) {
  if (!(step != 0) || !isfinite(start) || !isfinite(stop) || !isfinite(step)) {
    dtxi_fail(DTX_EINVAL, "dtx_arange: start %g, stop %g, step %g: step must be finite and not 0", start,
              stop, step);
    return NULL;
  }
  double cnt = ceil((stop - start) / step);
  if (cnt > 9.2e18) {
    dtxi_fail(DTX_EINVAL, "dtx_arange: start %g, stop %g, step %g gives too many values", start, stop, step);
    return NULL;
  }
  int64_t n = cnt >= 1 ? (int64_t)cnt : 0; /* none: an empty array, as NumPy */
  dtxk_gen g;
  memset(&g, 0, sizeof g);
  g.kind = DTXK_GEN_ARANGE;
  g.g0 = start;
  g.g1 = step;
  /* integers as NumPy: the first two values truncated, then their difference */
  g.i0 = dtxk_f2i64(start);
  g.i1 = dtxk_f2i64(start + step) - g.i0;
  if (dtxa_dkind(t) == 1 && (dtxa_int_of((double)g.i0, t) != g.i0 ||
                             (n > 1 && dtxa_int_of((double)(g.i0 + g.i1), t) != g.i0 + g.i1))) {
    dtxi_fail(DTX_EINVAL, "dtx_arange: start %g or start + step %g is out of bounds for %s (as NumPy)", start,
              start + step, dtx_dtype_name(t));
    return NULL;
  }
  if (t == DTX_BOOL && n > 2) {
    dtxi_fail(DTX_EINVAL, "dtx_arange: a bool range has at most 2 values (as NumPy; this one has %lld)",
              (long long)n);
    return NULL;
  }
  return dtxa_ret(gen_node(cl, "dtx_arange", "arange", 1, &n, chunk > 0 ? &chunk : NULL, t, &g));
}

dtx_array *dtx_linspace(dtx_cluster *cl, double start, double stop, int64_t num, int endpoint, int64_t chunk,
                        dtx_dtype t) {
  if (num < 0) {
    dtxi_fail(DTX_EINVAL, "dtx_linspace: num is %lld; it must not be negative", (long long)num);
    return NULL;
  }
  dtxk_gen g;
  memset(&g, 0, sizeof g);
  g.kind = DTXK_GEN_LINSPACE;
  int64_t div = endpoint ? num - 1 : num;
  g.g0 = start;
  g.g1 = div > 0 ? (stop - start) / (double)div : 0.0;
  g.g2 = stop;
  g.i0 = num;
  g.i1 = endpoint && num > 1;
  return dtxa_ret(gen_node(cl, "dtx_linspace", "linspace", 1, &num, chunk > 0 ? &chunk : NULL, t, &g));
}

dtx_array *dtx_eye(dtx_cluster *cl, int64_t n, int64_t m, int64_t k, const int64_t *chunks, dtx_dtype t) {
  if (m <= 0) m = n;
  dtxk_gen g;
  memset(&g, 0, sizeof g);
  g.kind = DTXK_GEN_EYE;
  g.i0 = k;
  g.i1 = m;
  int64_t shape[2] = {n, m};
  return dtxa_ret(gen_node(cl, "dtx_eye", "eye", 2, shape, chunks, t, &g));
}

static dtx_array *random_node(dtx_cluster *cl, const char *fn, const char *opname, int kind, int ndim,
                              const int64_t *shape, const int64_t *chunks, dtx_dtype t, uint64_t seed) {
  if (t != DTX_F32 && t != DTX_F64) {
    dtxi_fail(DTX_EINVAL, "%s: dtype %s is not DTX_F32 or DTX_F64 (as NumPy's generators)", fn,
              dtx_dtype_name(t) != NULL ? dtx_dtype_name(t) : "(invalid)");
    return NULL;
  }
  dtxk_gen g;
  memset(&g, 0, sizeof g);
  g.kind = kind;
  g.seed = seed;
  return gen_node(cl, fn, opname, ndim, shape, chunks, t, &g);
}

dtx_array *dtx_random_uniform(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks,
                              dtx_dtype t, uint64_t seed) {
  return dtxa_ret(random_node(cl, "dtx_random_uniform", "random_uniform", DTXK_GEN_UNIFORM, ndim, shape,
                              chunks, t, seed));
}
dtx_array *dtx_random_normal(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks,
                             dtx_dtype t, uint64_t seed) {
  return dtxa_ret(
      random_node(cl, "dtx_random_normal", "random_normal", DTXK_GEN_NORMAL, ndim, shape, chunks, t, seed));
}

static dtx_array *scalar_node(dtx_cluster *cl, double v, int64_t iv, int is_int) {
  dtx_dtype t = is_int ? DTX_I64 : DTX_F64;
  dtxk_gen g = gconst(v, t);
  if (is_int) {
    g.i0 = iv;
    g.g0 = (double)iv;
  }
  dtx_array *a = gen_node(cl, is_int ? "dtx_scalar_int" : "dtx_scalar", "scalar", 0, NULL, NULL, t, &g);
  if (a != NULL) a->weak = is_int ? DTXA_WEAK_INT : DTXA_WEAK_FLOAT;
  return a;
}
dtx_array *dtx_scalar(dtx_cluster *cl, double v) { return dtxa_ret(scalar_node(cl, v, 0, 0)); }
dtx_array *dtx_scalar_int(dtx_cluster *cl, int64_t v) { return dtxa_ret(scalar_node(cl, (double)v, v, 1)); }

dtx_array *dtxa_ext(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunk, dtx_dtype t,
                    const void *data, const int64_t *strides, void *owned) {
  dtx_array *a = dtxa_node(cl, DTXA_EXT, "load", ndim, shape, chunk, t, 0, NULL);
  if (a == NULL) return NULL;
  a->data = data;
  a->owned = owned;
  int64_t s = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    a->estride[d] = strides != NULL ? strides[d] : s;
    s *= shape[d];
  }
  return a;
}

dtx_array *dtx_from_host(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks, dtx_dtype t,
                         const void *data, dtx_host_mode mode) {
  int64_t chunk[DTX_ARRAY_MAX_DIMS];
  if (cl == NULL) {
    dtxi_fail(DTX_EINVAL, "dtx_from_host: cluster is NULL");
    return NULL;
  }
  if (dtxa_is_cx(t)) return dtxa_ret(dtxa_cx_from_host(cl, ndim, shape, chunks, t, data, mode));
  if (dtxa_check_shape("dtx_from_host", ndim, shape, chunks, t, chunk) != DTX_OK) return NULL;
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  if (data == NULL && n > 0) {
    dtxi_fail(DTX_EINVAL, "dtx_from_host: data is NULL");
    return NULL;
  }
  if (mode != DTX_HOST_COPY && mode != DTX_HOST_WRAP) {
    dtxi_fail(DTX_EINVAL, "dtx_from_host: mode %d is neither DTX_HOST_COPY nor DTX_HOST_WRAP", (int)mode);
    return NULL;
  }
  size_t bytes = (size_t)n * dtx_dtype_size(t);
  void *owned = NULL;
  if (mode == DTX_HOST_COPY && n > 0) {
    owned = dtxa_alloc_host(bytes);
    if (owned == NULL) {
      dtxi_fail(DTX_ENOMEM, "dtx_from_host: out of memory copying %zu bytes", bytes);
      return NULL;
    }
    memcpy(owned, data, bytes);
  }
  dtx_array *a = dtxa_ext(cl, ndim, shape, chunk, t, owned != NULL ? owned : data, NULL, owned);
  if (a == NULL) free(owned);
  return dtxa_ret(a);
}

/* ---- elementwise ------------------------------------------------------------------------ */

/* Broadcast shape of n arrays; chunk from the first array not stretched along each axis. */
static dtx_status broadcast(const char *fn, dtx_array *const *in, int n, int *ndim, int64_t *shape,
                            int64_t *chunk) {
  int nd = 0;
  for (int i = 0; i < n; i++)
    if (in[i]->ndim > nd) nd = in[i]->ndim;
  for (int d = 0; d < nd; d++) {
    shape[d] = 1;
    chunk[d] = 1;
    int have = 0;
    for (int i = 0; i < n; i++) {
      int di = d - (nd - in[i]->ndim);
      if (di < 0) continue;
      int64_t s = in[i]->shape[di];
      if (s != 1 && shape[d] != 1 && s != shape[d]) {
        char msg[512];
        size_t k = 0;
        for (int j = 0; j < n; j++) k += (size_t)snprintf(msg + k, sizeof msg - k, " %s", SHAPE(in[j]));
        return dtxi_fail(DTX_EINVAL,
                         "%s: operands could not be broadcast together with shapes%s (axis %d: %lld vs %lld)",
                         fn, msg, d, (long long)shape[d], (long long)s);
      }
      if (s != 1) shape[d] = s;
      if (!have && (s == shape[d] && s != 1)) {
        chunk[d] = in[i]->chunk[di];
        have = 1;
      }
    }
  }
  *ndim = nd;
  return DTX_OK;
}

static int is_expr(const dtx_array *a) {
  return a->kind == DTXA_GEN || a->kind == DTXA_UNARY || a->kind == DTXA_BINARY || a->kind == DTXA_WHERE ||
         a->kind == DTXA_CAST || a->kind == DTXA_VIEW || a->kind == DTXA_CONCAT;
}

/* Counts fused operations; past the limit, the biggest inputs get their own tasks. */
static void set_nops(dtx_array *a) {
  int total = 1;
  for (int i = 0; i < a->nin; i++) {
    int seen = 0; /* x + x computes x once */
    for (int j = 0; j < i; j++) seen |= a->in[j] == a->in[i];
    if (is_expr(a->in[i]) && !seen) total += a->in[i]->nops;
  }
  while (total > DTXA_FUSE_LIMIT) {
    int big = -1;
    for (int i = 0; i < a->nin && i < 32; i++)
      if (!((a->mat >> i) & 1) && is_expr(a->in[i]) && (big < 0 || a->in[i]->nops > a->in[big]->nops))
        big = i;
    if (big < 0) break;
    a->mat |= 1u << big;
    total -= a->in[big]->nops;
  }
  a->nops = total;
}

/* a as dtype t: a itself (one more reference) or a CAST node. */
static dtx_array *cast_node(const dtx_array *a, dtx_dtype t) {
  if (a->dtype == t) return dtx_array_retain((dtx_array *)a);
  dtx_array *in = (dtx_array *)a;
  dtx_array *c = dtxa_node(a->cl, DTXA_CAST, "astype", a->ndim, a->shape, a->chunk, t, 1, &in);
  if (c != NULL) set_nops(c);
  return c;
}

static const char *unary_name(int op) {
  static const char *names[] = {NULL,  "neg",  "abs",   "exp",   "log",      "sqrt", "sin",
                                "cos", "tanh", "isnan", "isinf", "isfinite", "rint"};
  return op >= 1 && op <= DTX_RINT ? names[op] : NULL;
}
static const char *binary_name(int op) {
  static const char *names[] = {NULL, "add", "sub", "mul", "div", "pow", "minimum",      "maximum",
                                "eq", "ne",  "lt",  "le",  "gt",  "ge",  "floor_divide", "mod"};
  return op >= 1 && op <= DTX_MOD ? names[op] : NULL;
}
static int is_cmp(int op) { return op >= DTX_EQ && op <= DTX_GE; }

static dtx_array *unary_node(int op, const dtx_array *a) {
  if (a == NULL) return NULL;
  if (dtxa_cx_in(a)) return dtxa_cx_unary(op, a);
  const char *name = unary_name(op);
  if (name == NULL) {
    dtxi_fail(DTX_EINVAL, "dtx_unary: op %d is not a dtx_unary_op", op);
    return NULL;
  }
  dtx_dtype t = a->dtype;
  if (op == DTX_NEG && t == DTX_BOOL) {
    dtxi_fail(
        DTX_EINVAL,
        "dtx_neg: negating a bool array is not supported (as in NumPy); use dtx_eq(x, false) or astype");
    return NULL;
  }
  /* isnan / isinf / isfinite read every dtype as it is and give bool (NumPy
   * has loops for all); the float functions (rint too) promote integers */
  int cls = op >= DTX_ISNAN && op <= DTX_ISFINITE;
  if (op >= DTX_EXP && !cls) t = dtxa_float_func_dtype(t);
  dtx_array *c = cast_node(a, t);
  if (c == NULL) return NULL;
  dtx_array *r = dtxa_node(a->cl, DTXA_UNARY, name, a->ndim, a->shape, a->chunk, cls ? DTX_BOOL : t, 1, &c);
  dtx_array_release(c);
  if (r != NULL) {
    r->op = op;
    set_nops(r);
  }
  return r;
}

static dtx_array *binary_node(int op, const dtx_array *a, const dtx_array *b) {
  if (a == NULL || b == NULL) return NULL;
  const char *name = binary_name(op);
  if (name == NULL) {
    dtxi_fail(DTX_EINVAL, "dtx_binary: op %d is not a dtx_binary_op", op);
    return NULL;
  }
  if (a->cl != b->cl) {
    dtxi_fail(DTX_EINVAL, "dtx_%s: the operands belong to different clusters", name);
    return NULL;
  }
  if (dtxa_cx_in(a) || dtxa_cx_in(b)) return dtxa_cx_binary(op, a, b);
  dtx_dtype t = dtxa_promote(a, b);
  /* NumPy: bool ** bool, bool // bool and bool % bool are int8 */
  if (t == DTX_BOOL && (op == DTX_POW || op == DTX_FLOOR_DIVIDE || op == DTX_MOD)) t = DTX_I8;
  if (t == DTX_BOOL && op == DTX_SUB) {
    dtxi_fail(DTX_EINVAL,
              "dtx_%s: not defined for two bool operands (as in NumPy); convert with dtx_astype first", name);
    return NULL;
  }
  if (dtxa_pyint_range(name, op, a, b, &t) != DTX_OK) return NULL;
  if (op == DTX_DIV && dtxa_dkind(t) != 2) t = DTX_F64;
  dtx_array *in[2] = {(dtx_array *)a, (dtx_array *)b};
  int ndim;
  int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
  char fn[32];
  snprintf(fn, sizeof fn, "dtx_%s", name);
  if (broadcast(fn, in, 2, &ndim, shape, chunk) != DTX_OK) return NULL;
  int64_t n = 1, e;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  /* NumPy checks the exponents it meets: an empty result meets none */
  if (op == DTX_POW && n > 0 && dtxa_dkind(t) == 1 && !dtxa_is_unsigned(t) && dtxa_int_const(b, &e) &&
      e < 0) {
    dtxi_fail(DTX_EINVAL,
              "dtx_pow: integers to negative integer powers are not allowed (exponent %lld; as NumPy); "
              "make the base a float with dtx_astype",
              (long long)e);
    return NULL;
  }
  dtx_array *ca = cast_node(a, t), *cb = ca != NULL ? cast_node(b, t) : NULL;
  dtx_array *r = NULL;
  if (cb != NULL) {
    dtx_array *cin[2] = {ca, cb};
    r = dtxa_node(a->cl, DTXA_BINARY, name, ndim, shape, chunk, is_cmp(op) ? DTX_BOOL : t, 2, cin);
  }
  dtx_array_release(ca);
  dtx_array_release(cb);
  if (r != NULL) {
    r->op = op;
    set_nops(r);
  }
  return r;
}

dtx_array *dtx_unary(dtx_unary_op op, const dtx_array *a) { return dtxa_ret(unary_node((int)op, a)); }
dtx_array *dtx_binary(dtx_binary_op op, const dtx_array *a, const dtx_array *b) {
  return dtxa_ret(binary_node((int)op, a, b));
}
dtx_array *dtx_binary_scalar(dtx_binary_op op, const dtx_array *a, double s) {
  if (a == NULL) return NULL;
  dtx_array *sc = scalar_node(a->cl, s, 0, 0);
  if (sc == NULL) return NULL;
  dtx_array *r = binary_node((int)op, a, sc);
  dtx_array_release(sc);
  return dtxa_ret(r);
}

dtx_array *dtx_add(const dtx_array *a, const dtx_array *b) { return dtx_binary(DTX_ADD, a, b); }
dtx_array *dtx_sub(const dtx_array *a, const dtx_array *b) { return dtx_binary(DTX_SUB, a, b); }
dtx_array *dtx_mul(const dtx_array *a, const dtx_array *b) { return dtx_binary(DTX_MUL, a, b); }
dtx_array *dtx_div(const dtx_array *a, const dtx_array *b) { return dtx_binary(DTX_DIV, a, b); }
dtx_array *dtx_pow(const dtx_array *a, const dtx_array *b) { return dtx_binary(DTX_POW, a, b); }
dtx_array *dtx_minimum(const dtx_array *a, const dtx_array *b) { return dtx_binary(DTX_MINIMUM, a, b); }
dtx_array *dtx_maximum(const dtx_array *a, const dtx_array *b) { return dtx_binary(DTX_MAXIMUM, a, b); }
dtx_array *dtx_neg(const dtx_array *a) { return dtx_unary(DTX_NEG, a); }
dtx_array *dtx_abs(const dtx_array *a) { return dtx_unary(DTX_ABS, a); }
dtx_array *dtx_exp(const dtx_array *a) { return dtx_unary(DTX_EXP, a); }
dtx_array *dtx_log(const dtx_array *a) { return dtx_unary(DTX_LOG, a); }
dtx_array *dtx_sqrt(const dtx_array *a) { return dtx_unary(DTX_SQRT, a); }
dtx_array *dtx_sin(const dtx_array *a) { return dtx_unary(DTX_SIN, a); }
dtx_array *dtx_cos(const dtx_array *a) { return dtx_unary(DTX_COS, a); }
dtx_array *dtx_tanh(const dtx_array *a) { return dtx_unary(DTX_TANH, a); }
dtx_array *dtx_isnan(const dtx_array *a) { return dtx_unary(DTX_ISNAN, a); }
dtx_array *dtx_isinf(const dtx_array *a) { return dtx_unary(DTX_ISINF, a); }
dtx_array *dtx_isfinite(const dtx_array *a) { return dtx_unary(DTX_ISFINITE, a); }
dtx_array *dtx_rint(const dtx_array *a) { return dtx_unary(DTX_RINT, a); }
dtx_array *dtx_floor_divide(const dtx_array *a, const dtx_array *b) {
  return dtx_binary(DTX_FLOOR_DIVIDE, a, b);
}
dtx_array *dtx_mod(const dtx_array *a, const dtx_array *b) { return dtx_binary(DTX_MOD, a, b); }

static dtx_array *where_node(const dtx_array *c, const dtx_array *a, const dtx_array *b) {
  if (c == NULL || a == NULL || b == NULL) return NULL;
  if (c->cl != a->cl || a->cl != b->cl) {
    dtxi_fail(DTX_EINVAL, "dtx_where: the operands belong to different clusters");
    return NULL;
  }
  if (dtxa_cx_in(c) || dtxa_cx_in(a) || dtxa_cx_in(b)) return dtxa_cx_where(c, a, b);
  dtx_dtype t = dtxa_promote(a, b);
  dtx_array *in[3] = {(dtx_array *)c, (dtx_array *)a, (dtx_array *)b};
  int ndim;
  int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
  if (broadcast("dtx_where", in, 3, &ndim, shape, chunk) != DTX_OK) return NULL;
  dtx_array *cc = cast_node(c, DTX_BOOL), *ca = cast_node(a, t), *cb = cast_node(b, t);
  dtx_array *r = NULL;
  if (cc != NULL && ca != NULL && cb != NULL) {
    dtx_array *cin[3] = {cc, ca, cb};
    r = dtxa_node(a->cl, DTXA_WHERE, "where", ndim, shape, chunk, t, 3, cin);
  }
  dtx_array_release(cc);
  dtx_array_release(ca);
  dtx_array_release(cb);
  if (r != NULL) set_nops(r);
  return r;
}
dtx_array *dtx_where(const dtx_array *cond, const dtx_array *a, const dtx_array *b) {
  return dtxa_ret(where_node(cond, a, b));
}

dtx_array *dtx_clip(const dtx_array *a, double lo, double hi) {
  if (a == NULL) return NULL;
  if (dtxa_cx_in(a)) return dtxa_ret(dtxa_cx_clip(a, lo, hi));
  dtx_array *l = scalar_node(a->cl, lo, 0, 0), *h = scalar_node(a->cl, hi, 0, 0);
  dtx_array *m = l != NULL && h != NULL ? binary_node(DTX_MAXIMUM, a, l) : NULL;
  dtx_array *r = m != NULL ? binary_node(DTX_MINIMUM, m, h) : NULL;
  dtx_array_release(l);
  dtx_array_release(h);
  dtx_array_release(m);
  return dtxa_ret(r);
}

dtx_array *dtx_astype(const dtx_array *a, dtx_dtype t) {
  if (a == NULL) return NULL;
  if (dtx_dtype_name(t) == NULL) {
    dtxi_fail(DTX_EINVAL, "dtx_astype: dtype %d is not a dtx_dtype (DTX_BOOL .. DTX_C128)", (int)t);
    return NULL;
  }
  if (dtxa_cx_in(a) || dtxa_is_cx(t)) return dtxa_ret(dtxa_cx_astype(a, t));
  dtx_array *r = cast_node(a, t);
  if (r != NULL && r == a) {
    /* a new handle all the same, so scopes and releases stay simple */
    dtx_array *in = r;
    r = dtxa_node(a->cl, DTXA_VIEW, "astype", a->ndim, a->shape, a->chunk, t, 1, &in);
    dtx_array_release(in);
    if (r != NULL) {
      for (int d = 0; d < a->ndim; d++) r->vmap[d] = (dtxk_dimmap){d, DTXK_MODE_NONE, 1, 0};
      set_nops(r);
    }
  }
  return dtxa_ret(r);
}

/* ---- views ---------------------------------------------------------------------------------- */

static dtx_array *view_node(const dtx_array *a, const char *opname, int ndim, const int64_t *shape,
                            const int64_t *chunk, const dtxk_dimmap *vmap) {
  dtx_array *in = (dtx_array *)a;
  dtx_array *r = dtxa_node(a->cl, DTXA_VIEW, opname, ndim, shape, chunk, a->dtype, 1, &in);
  if (r == NULL) return NULL;
  for (int d = 0; d < a->ndim; d++) r->vmap[d] = vmap[d];
  set_nops(r);
  return r;
}

static dtx_array *transpose_node(const dtx_array *a, const int *perm) {
  if (a == NULL) return NULL;
  if (dtxa_cx_in(a)) return dtxa_cx_transpose(a, perm);
  int p[DTX_ARRAY_MAX_DIMS], seen[DTX_ARRAY_MAX_DIMS] = {0};
  for (int i = 0; i < a->ndim; i++) {
    int v = perm != NULL ? perm[i] : a->ndim - 1 - i;
    if (v < 0) v += a->ndim;
    if (v < 0 || v >= a->ndim || seen[v]) {
      dtxi_fail(DTX_EINVAL, "dtx_transpose: perm[%d] = %d is not a fresh axis of a %d-d array", i,
                perm != NULL ? perm[i] : v, a->ndim);
      return NULL;
    }
    seen[v] = 1;
    p[i] = v;
  }
  int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
  dtxk_dimmap vm[DTX_ARRAY_MAX_DIMS];
  for (int i = 0; i < a->ndim; i++) {
    shape[i] = a->shape[p[i]];
    chunk[i] = a->chunk[p[i]];
    vm[p[i]] = (dtxk_dimmap){i, DTXK_MODE_NONE, 1, 0};
  }
  return view_node(a, "transpose", a->ndim, shape, chunk, vm);
}
dtx_array *dtx_transpose(const dtx_array *a, const int *perm) { return dtxa_ret(transpose_node(a, perm)); }

/* A slice start or stop v on an axis of length len: dflt for DTX_NONE,
 * negative counts from the end, then clamped to [lo, hi]. */
static int64_t clamp_pos(int64_t v, int64_t dflt, int64_t len, int64_t lo, int64_t hi) {
  if (v == DTX_NONE) return dflt;
  if (v < 0) v = v < -len ? lo : v + len;
  return v < lo ? lo : v > hi ? hi : v;
}

static dtx_array *slice_node(const dtx_array *a, int n, const dtx_index *idx) {
  if (a == NULL) return NULL;
  if (dtxa_cx_in(a)) return dtxa_cx_slice(a, n, idx);
  if (n < 0 || (n > 0 && idx == NULL)) {
    dtxi_fail(DTX_EINVAL, "dtx_slice: %d index entries at %p", n, (const void *)idx);
    return NULL;
  }
  int nreal = 0;
  for (int i = 0; i < n; i++) nreal += idx[i].kind != DTX_INDEX_NEWAXIS;
  if (nreal > a->ndim) {
    dtxi_fail(DTX_EINVAL, "dtx_slice: %d indices for a %d-d array of shape %s", nreal, a->ndim, SHAPE(a));
    return NULL;
  }
  int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
  dtxk_dimmap vm[DTX_ARRAY_MAX_DIMS];
  int od = 0, id = 0;
  for (int i = 0; i < n || id < a->ndim; i++) {
    dtx_index e;
    if (i < n) {
      e = idx[i];
    } else {
      memset(&e, 0, sizeof e);
      e.kind = DTX_INDEX_SLICE;
      e.start = e.stop = DTX_NONE;
      e.step = 1;
    }
    if (e.kind != DTX_INDEX_SLICE && e.kind != DTX_INDEX_INT && e.kind != DTX_INDEX_NEWAXIS) {
      dtxi_fail(DTX_EINVAL, "dtx_slice: index %d has kind %d (SLICE, INT or NEWAXIS)", i, (int)e.kind);
      return NULL;
    }
    if (e.kind != DTX_INDEX_INT && od == DTX_ARRAY_MAX_DIMS) {
      dtxi_fail(DTX_EINVAL, "dtx_slice: the result would have more than %d dimensions", DTX_ARRAY_MAX_DIMS);
      return NULL;
    }
    if (e.kind == DTX_INDEX_NEWAXIS) {
      shape[od] = 1;
      chunk[od] = 1;
      od++;
      continue;
    }
    int64_t len = a->shape[id];
    if (e.kind == DTX_INDEX_INT) {
      int64_t v = e.start;
      if (v < -len || v >= len) {
        dtxi_fail(DTX_EINVAL, "dtx_slice: index %lld is out of range for axis %d of length %lld (shape %s)",
                  (long long)e.start, id, (long long)len, SHAPE(a));
        return NULL;
      }
      if (v < 0) v += len;
      vm[id] = (dtxk_dimmap){-1, DTXK_MODE_NONE, 0, v};
      id++;
      continue;
    }
    if (e.step == 0) {
      dtxi_fail(DTX_EINVAL, "dtx_slice: slice step cannot be zero (index %d, axis %d)", i, id);
      return NULL;
    }
    int64_t step = e.step, start, stop, cnt;
    /* |step| without overflow (INT64_MIN included); counts in unsigned
     * arithmetic, so a step near 2**63 selects one element, as in NumPy */
    uint64_t mag = step > 0 ? (uint64_t)step : (uint64_t)0 - (uint64_t)step;
    /* Python's slice.indices: negative positions count from the end, then
     * both are clamped to the axis (-1 .. len - 1 going backwards) */
    if (step > 0) {
      start = clamp_pos(e.start, 0, len, 0, len);
      stop = clamp_pos(e.stop, len, len, 0, len);
      cnt = stop > start ? (int64_t)((uint64_t)(stop - start - 1) / mag) + 1 : 0;
    } else {
      start = clamp_pos(e.start, len - 1, len, -1, len - 1);
      stop = clamp_pos(e.stop, -1, len, -1, len - 1);
      cnt = start > stop ? (int64_t)((uint64_t)(start - stop - 1) / mag) + 1 : 0;
    }
    if (cnt <= 1) step = 1; /* one element: its step is never used, and a huge one must not be */
    if (cnt == 0) start = 0;
    shape[od] = cnt;
    chunk[od] = cnt <= 1 ? 1 : (int64_t)((uint64_t)(a->chunk[id] - 1) / mag) + 1;
    vm[id] = (dtxk_dimmap){od, DTXK_MODE_NONE, step, start};
    od++;
    id++;
  }
  return view_node(a, "getitem", od, shape, chunk, vm);
}
dtx_array *dtx_slice(const dtx_array *a, int n, const dtx_index *idx) {
  return dtxa_ret(slice_node(a, n, idx));
}

static dtx_array *broadcast_node(const dtx_array *a, int ndim, const int64_t *shape) {
  if (a == NULL) return NULL;
  if (dtxa_cx_in(a)) return dtxa_cx_broadcast(a, ndim, shape);
  if (ndim < a->ndim || ndim > DTX_ARRAY_MAX_DIMS || (ndim > 0 && shape == NULL)) {
    dtxi_fail(DTX_EINVAL, "dtx_broadcast_to: cannot broadcast shape %s to %d dimensions", SHAPE(a), ndim);
    return NULL;
  }
  int64_t chunk[DTX_ARRAY_MAX_DIMS], big = 1;
  dtxk_dimmap vm[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < a->ndim; d++)
    if (a->chunk[d] > big && a->shape[d] > 1) big = a->chunk[d];
  for (int d = 0; d < ndim; d++) {
    int di = d - (ndim - a->ndim);
    if (shape[d] < 0) {
      dtxi_fail(DTX_EINVAL, "dtx_broadcast_to: shape[%d] is %lld", d, (long long)shape[d]);
      return NULL;
    }
    chunk[d] = big;
    if (di < 0) continue;
    if (a->shape[di] == shape[d]) {
      chunk[d] = a->chunk[di];
      vm[di] = (dtxk_dimmap){d, DTXK_MODE_NONE, 1, 0};
    } else if (a->shape[di] == 1) {
      vm[di] = (dtxk_dimmap){-1, DTXK_MODE_NONE, 0, 0};
    } else {
      char want[96];
      dtxi_fail(DTX_EINVAL, "dtx_broadcast_to: cannot broadcast shape %s to %s (axis %d: %lld vs %lld)",
                SHAPE(a), shape_str(ndim, shape, want, sizeof want), d, (long long)a->shape[di],
                (long long)shape[d]);
      return NULL;
    }
  }
  return view_node(a, "broadcast_to", ndim, shape, chunk, vm);
}
dtx_array *dtx_broadcast_to(const dtx_array *a, int ndim, const int64_t *shape) {
  return dtxa_ret(broadcast_node(a, ndim, shape));
}

dtx_array *dtx_rechunk(const dtx_array *a, const int64_t *chunks) {
  if (a == NULL) return NULL;
  if (dtxa_cx_in(a)) return dtxa_ret(dtxa_cx_rechunk(a, chunks));
  int64_t chunk[DTX_ARRAY_MAX_DIMS];
  if (a->ndim > 0 && chunks == NULL) {
    dtxi_fail(DTX_EINVAL, "dtx_rechunk: chunks is NULL");
    return NULL;
  }
  if (dtxa_check_shape("dtx_rechunk", a->ndim, a->shape, chunks, a->dtype, chunk) != DTX_OK) return NULL;
  dtxk_dimmap vm[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < a->ndim; d++) vm[d] = (dtxk_dimmap){d, DTXK_MODE_NONE, 1, 0};
  return dtxa_ret(view_node(a, "rechunk", a->ndim, a->shape, chunk, vm));
}

static dtx_array *concat_node(dtx_array *const *arrays, int n, int axis) {
  if (arrays == NULL || n < 1) {
    dtxi_fail(DTX_EINVAL, "dtx_concatenate: needs at least one array (n = %d)", n);
    return NULL;
  }
  int cx = 0;
  for (int i = 0; i < n; i++) {
    if (arrays[i] == NULL) return NULL;
    cx |= dtxa_cx_in(arrays[i]);
  }
  int unknown, deferred; /* before the empty operands are dropped (unknown.c) */
  if (dtxa_deferred_inputs(DTXA_CONCAT, "dtx_concatenate", n, arrays, &unknown, &deferred) != DTX_OK)
    return NULL;
  const dtx_array *a0 = arrays[0];
  if (cx && a0->ndim > 0) return dtxa_cx_concat(arrays, n, axis);
  if (a0->ndim == 0) {
    dtxi_fail(DTX_EINVAL, "dtx_concatenate: 0-d arrays cannot be concatenated");
    return NULL;
  }
  int ax = axis < 0 ? axis + a0->ndim : axis;
  if (ax < 0 || ax >= a0->ndim) {
    dtxi_fail(DTX_EINVAL, "dtx_concatenate: axis %d is out of range for %d-d arrays", axis, a0->ndim);
    return NULL;
  }
  dtx_dtype t = a0->dtype;
  int64_t shape[DTX_ARRAY_MAX_DIMS];
  memcpy(shape, a0->shape, sizeof shape);
  shape[ax] = 0;
  for (int i = 0; i < n; i++) {
    const dtx_array *x = arrays[i];
    int bad = x->ndim != a0->ndim || x->cl != a0->cl;
    for (int d = 0; d < a0->ndim && !bad; d++) bad = d != ax && x->shape[d] != a0->shape[d];
    if (bad) {
      dtxi_fail(DTX_EINVAL,
                "dtx_concatenate: array %d has shape %s, array 0 has %s; all but axis %d must agree", i,
                SHAPE(x), SHAPE(a0), ax);
      return NULL;
    }
    t = dtxa_promote2(t, x->dtype);
    shape[ax] += x->shape[ax];
  }
  if (n == 1) return dtx_array_retain((dtx_array *)a0);
  /* empty arrays add nothing but their dtype: the result is made of the others */
  dtx_array *keep[64], **kept = n <= 64 ? keep : malloc((size_t)n * sizeof *kept);
  if (kept == NULL) {
    dtxi_fail(DTX_ENOMEM, "out of memory");
    return NULL;
  }
  int nk = 0;
  for (int i = 0; i < n; i++)
    if (dtx_array_size(arrays[i]) > 0) kept[nk++] = arrays[i];
  dtx_array *r = NULL;
  if (nk == 0)
    r = const_node(a0->cl, "dtx_concatenate", a0->ndim, shape, a0->chunk, t, 0);
  else if (nk == 1)
    r = cast_node(kept[0], t);
  else if (nk < n)
    r = concat_node(kept, nk, axis);
  if (kept != keep) free(kept);
  if (nk < n) {
    if (r != NULL && r->dtype != t) { /* the dropped ones promote the dtype */
      dtx_array *c = cast_node(r, t);
      dtx_array_release(r);
      r = c;
    }
    return r;
  }
  int64_t *offs = malloc((size_t)(n + 1) * sizeof *offs);
  if (offs == NULL) {
    dtxi_fail(DTX_ENOMEM, "out of memory");
    return NULL;
  }
  offs[0] = 0;
  for (int i = 0; i < n; i++) offs[i + 1] = offs[i] + arrays[i]->shape[ax];
  r = dtxa_node(a0->cl, DTXA_CONCAT, "concatenate", a0->ndim, shape, a0->chunk, t, n, arrays);
  if (r == NULL) {
    free(offs);
    return NULL;
  }
  r->axis = ax;
  r->offs = offs;
  set_nops(r);
  return r;
}
dtx_array *dtx_concatenate(dtx_array *const *arrays, int n, int axis) {
  return dtxa_ret(concat_node(arrays, n, axis));
}

dtx_array *dtx_stack(dtx_array *const *arrays, int n, int axis) {
  if (arrays == NULL || n < 1) {
    dtxi_fail(DTX_EINVAL, "dtx_stack: needs at least one array (n = %d)", n);
    return NULL;
  }
  for (int i = 0; i < n; i++)
    if (arrays[i] == NULL) return NULL;
  int nd = arrays[0]->ndim + 1;
  int ax = axis < 0 ? axis + nd : axis;
  if (ax < 0 || ax >= nd || nd > DTX_ARRAY_MAX_DIMS) {
    dtxi_fail(DTX_EINVAL, "dtx_stack: axis %d is out of range for stacking %d-d arrays", axis, nd - 1);
    return NULL;
  }
  for (int i = 1; i < n; i++) {
    int bad = arrays[i]->ndim != arrays[0]->ndim;
    for (int d = 0; d < arrays[0]->ndim && !bad; d++) bad = arrays[i]->shape[d] != arrays[0]->shape[d];
    if (bad) {
      dtxi_fail(DTX_EINVAL, "dtx_stack: array %d has shape %s, array 0 has %s; they must be equal", i,
                SHAPE(arrays[i]), SHAPE(arrays[0]));
      return NULL;
    }
  }
  dtx_array **ex = calloc((size_t)n, sizeof *ex);
  if (ex == NULL) {
    dtxi_fail(DTX_ENOMEM, "out of memory");
    return NULL;
  }
  dtx_index idx[DTX_ARRAY_MAX_DIMS];
  memset(idx, 0, sizeof idx);
  for (int d = 0; d < nd; d++) {
    idx[d].kind = d == ax ? DTX_INDEX_NEWAXIS : DTX_INDEX_SLICE;
    idx[d].start = idx[d].stop = DTX_NONE;
    idx[d].step = 1;
  }
  dtx_array *r = NULL;
  int ok = 1;
  for (int i = 0; i < n && ok; i++) ok = (ex[i] = slice_node(arrays[i], nd, idx)) != NULL;
  if (ok) r = concat_node(ex, n, ax);
  for (int i = 0; i < n; i++) dtx_array_release(ex[i]);
  free(ex);
  return dtxa_ret(r);
}

/* ---- reductions -------------------------------------------------------------------------- */

static const char *red_name(int r) {
  static const char *names[] = {NULL,  "sum", "prod",   "mean",   "min", "max",
                                "var", "std", "argmin", "argmax", "any", "all"};
  return r >= 1 && r <= 11 ? names[r] : NULL;
}

/* The reduction r over the axes in mask of an empty a, as NumPy: over an
 * empty axis sum / any give 0, prod / all 1, mean / var / std NaN (NumPy
 * warns "Mean of empty slice" / "Degrees of freedom <= 0 for slice"; logged
 * here once, at warning level), min / max / argmin / argmax are an error
 * (NumPy's ValueError); over non-empty axes of an array empty elsewhere, the
 * result is empty. */
static dtx_array *reduce_empty(const dtx_array *a, int r, uint32_t mask, int nd, const int64_t *shape,
                               const int64_t *chunk, dtx_dtype t) {
  static atomic_int warned;
  const char *name = red_name(r);
  int over_empty = 0;
  for (int d = 0; d < a->ndim; d++) over_empty |= ((mask >> d) & 1) && a->shape[d] == 0;
  double v = 0;
  if (over_empty) {
    switch (r) {
      case DTX_PROD:
      case DTX_ALL:
        v = 1;
        break;
      case DTX_MEAN:
      case DTX_VAR:
      case DTX_STD:
        v = NAN;
        if (!atomic_exchange(&warned, 1))
          DTXI_LOG(DTX_LOG_WARN, "dtx_%s of an empty array (shape %s) is NaN (NumPy warns: %s)", name,
                   SHAPE(a), r == DTX_MEAN ? "Mean of empty slice" : "Degrees of freedom <= 0 for slice");
        break;
      case DTX_MIN:
      case DTX_MAX:
      case DTX_ARGMIN:
      case DTX_ARGMAX:
        dtxi_fail(DTX_EINVAL,
                  "dtx_%s: the array of shape %s is empty along a reduced axis, and %s has no identity "
                  "(NumPy raises ValueError)",
                  name, SHAPE(a), name);
        return NULL;
      default:
        break;
    }
  }
  return const_node(a->cl, name, nd, shape, chunk, t, v);
}

static dtx_array *reduce_node(const dtx_array *a, int r, const int *axes, int naxes,
                              const dtx_reduce_opts *o) {
  if (a == NULL) return NULL;
  if (dtxa_cx_in(a)) return dtxa_cx_reduce(a, r, axes, naxes, o);
  const char *name = red_name(r);
  if (name == NULL) {
    dtxi_fail(DTX_EINVAL, "dtx_reduce: reduction %d is not a dtx_reduction", r);
    return NULL;
  }
  dtx_reduce_opts opts = DTX_REDUCE_OPTS_INIT;
  if (o != NULL) {
    if (o->size < sizeof(size_t) || o->size > sizeof opts) {
      dtxi_fail(DTX_EINVAL, "dtx_%s: opts->size is %zu; initialise opts with DTX_REDUCE_OPTS_INIT", name,
                o->size);
      return NULL;
    }
    memcpy(&opts, o, o->size);
  }
  if (opts.split_every == 0) opts.split_every = 4;
  if (opts.split_every < 2) {
    dtxi_fail(DTX_EINVAL, "dtx_%s: split_every is %d; it must be at least 2", name, opts.split_every);
    return NULL;
  }
  if (opts.ddof < 0) {
    dtxi_fail(DTX_EINVAL, "dtx_%s: ddof is %d; it must not be negative", name, opts.ddof);
    return NULL;
  }
  uint32_t mask = 0;
  if (axes == NULL || naxes == 0) {
    mask = (1u << a->ndim) - 1;
  } else {
    if (naxes < 0 || naxes > a->ndim) {
      dtxi_fail(DTX_EINVAL, "dtx_%s: %d axes for a %d-d array", name, naxes, a->ndim);
      return NULL;
    }
    for (int i = 0; i < naxes; i++) {
      int ax = axes[i] < 0 ? axes[i] + a->ndim : axes[i];
      if (ax < 0 || ax >= a->ndim || ((mask >> ax) & 1)) {
        dtxi_fail(DTX_EINVAL, "dtx_%s: axis %d is %s for an array of shape %s", name, axes[i],
                  ax >= 0 && ax < a->ndim ? "repeated" : "out of range", SHAPE(a));
        return NULL;
      }
      mask |= 1u << ax;
    }
  }
  int nred = 0;
  for (int d = 0; d < a->ndim; d++) nred += (mask >> d) & 1;
  if ((r == DTX_ARGMIN || r == DTX_ARGMAX) && nred > 1 && nred != a->ndim) {
    dtxi_fail(DTX_EINVAL, "dtx_%s: takes one axis or all of them (got %d of %d)", name, nred, a->ndim);
    return NULL;
  }
  dtx_dtype t = dtxa_reduce_dtype(r, a->dtype);
  int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < a->ndim; d++) {
    if ((mask >> d) & 1) {
      if (!opts.keepdims) continue;
      shape[nd] = 1;
      chunk[nd++] = 1;
    } else {
      shape[nd] = a->shape[d];
      chunk[nd++] = a->chunk[d];
    }
  }
  if (dtx_array_size(a) == 0) return reduce_empty(a, r, mask, nd, shape, chunk, t);
  dtx_array *in = (dtx_array *)a;
  dtx_array *n = dtxa_node(a->cl, DTXA_REDUCE, name, nd, shape, chunk, t, 1, &in);
  if (n == NULL) return NULL;
  n->op = r;
  n->red_mask = mask;
  n->keepdims = opts.keepdims != 0;
  n->split_every = opts.split_every;
  n->ddof = opts.ddof;
  return n;
}

dtx_array *dtx_reduce(const dtx_array *a, dtx_reduction r, const int *axes, int naxes,
                      const dtx_reduce_opts *opts) {
  return dtxa_ret(reduce_node(a, (int)r, axes, naxes, opts));
}
dtx_array *dtx_sum(const dtx_array *a, const int *axes, int naxes) {
  return dtx_reduce(a, DTX_SUM, axes, naxes, NULL);
}
dtx_array *dtx_prod(const dtx_array *a, const int *axes, int naxes) {
  return dtx_reduce(a, DTX_PROD, axes, naxes, NULL);
}
dtx_array *dtx_mean(const dtx_array *a, const int *axes, int naxes) {
  return dtx_reduce(a, DTX_MEAN, axes, naxes, NULL);
}
dtx_array *dtx_min(const dtx_array *a, const int *axes, int naxes) {
  return dtx_reduce(a, DTX_MIN, axes, naxes, NULL);
}
dtx_array *dtx_max(const dtx_array *a, const int *axes, int naxes) {
  return dtx_reduce(a, DTX_MAX, axes, naxes, NULL);
}
dtx_array *dtx_var(const dtx_array *a, const int *axes, int naxes) {
  return dtx_reduce(a, DTX_VAR, axes, naxes, NULL);
}
dtx_array *dtx_std(const dtx_array *a, const int *axes, int naxes) {
  return dtx_reduce(a, DTX_STD, axes, naxes, NULL);
}
dtx_array *dtx_any(const dtx_array *a, const int *axes, int naxes) {
  return dtx_reduce(a, DTX_ANY, axes, naxes, NULL);
}
dtx_array *dtx_all(const dtx_array *a, const int *axes, int naxes) {
  return dtx_reduce(a, DTX_ALL, axes, naxes, NULL);
}
dtx_array *dtx_argmin(const dtx_array *a, int axis) {
  return dtx_reduce(a, DTX_ARGMIN, axis == DTX_NO_AXIS ? NULL : &axis, axis == DTX_NO_AXIS ? 0 : 1, NULL);
}
dtx_array *dtx_argmax(const dtx_array *a, int axis) {
  return dtx_reduce(a, DTX_ARGMAX, axis == DTX_NO_AXIS ? NULL : &axis, axis == DTX_NO_AXIS ? 0 : 1, NULL);
}

/* ---- linear algebra ------------------------------------------------------------------------ */

/* x with new axes: entry d of the result is a new axis where is_new[d],
 * else the next axis of x (taken whole). */
static dtx_array *insert_axes(const dtx_array *x, int nd, const int *is_new) {
  dtx_index idx[DTX_ARRAY_MAX_DIMS];
  if (nd > DTX_ARRAY_MAX_DIMS) {
    dtxi_fail(DTX_EINVAL, "the product would need %d dimensions; arrays have at most %d", nd,
              DTX_ARRAY_MAX_DIMS);
    return NULL;
  }
  for (int d = 0; d < nd; d++)
    idx[d] = (dtx_index){is_new[d] ? DTX_INDEX_NEWAXIS : DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1};
  return slice_node(x, nd, idx);
}

/* x without its axis ax (of length 1): x[..., 0, ...]. */
static dtx_array *drop_axis(const dtx_array *x, int ax) {
  dtx_index idx[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++)
    idx[d] =
        d == ax ? (dtx_index){DTX_INDEX_INT, 0, 0, 0} : (dtx_index){DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1};
  return slice_node(x, x->ndim, idx);
}

/* How many groups of contracted chunks a 2-d product x @ y (result shape,
 * chunk) splits into: a float product with fewer output chunks than the
 * cluster has workers (CPU threads and GPUs) makes one partial product per
 * group of x's column chunks and sums them (as Dask's matmul sums its
 * per-chunk products), so every worker has a share of the contraction;
 * 1 otherwise (one task per output chunk), and on a cluster without GPUs
 * when its output blocks have rows enough to split (dtxa_rows_split). */
static int64_t product_groups(const dtx_array *x, const dtx_array *y, const int64_t *shape,
                              const int64_t *chunk, dtx_dtype t) {
  if (x->ndim != 2 || y->ndim != 2 || (t != DTX_F64 && t != DTX_F32)) return 1;
  int ngpu = dtx_cluster_num_gpus(x->cl);
  if (ngpu == 0 && dtxa_rows_split(chunk[0] < shape[0] ? chunk[0] : shape[0]))
    return 1; /* CPU threads split its rows instead (build.c): no sum to add */
  int64_t workers = dtx_cluster_num_threads(x->cl) + ngpu;
  int64_t nout = ((shape[0] + chunk[0] - 1) / chunk[0]) * ((shape[1] + chunk[1] - 1) / chunk[1]);
  int64_t nk = (x->shape[1] + x->chunk[1] - 1) / x->chunk[1];
  if (nout >= workers || nk < 2) return 1;
  int64_t g = (workers + nout - 1) / nout;
  return g < nk ? g : nk;
}

/* x @ y as the sum of g partial products over consecutive groups of x's
 * column chunks (product_groups). */
static dtx_array *split_product(dtx_array *x, dtx_array *y, int64_t g, const int64_t *shape,
                                const int64_t *chunk, dtx_dtype t) {
  int64_t kc = x->chunk[1], nk = (x->shape[1] + kc - 1) / kc, k = x->shape[1];
  dtx_array *sum = NULL;
  for (int64_t i = 0; i < g; i++) {
    int64_t k0 = (nk * i / g) * kc, k1 = (nk * (i + 1) / g) * kc;
    if (k1 > k) k1 = k;
    dtx_index ix[2] = {{DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1}, {DTX_INDEX_SLICE, k0, k1, 1}};
    dtx_index iy[2] = {{DTX_INDEX_SLICE, k0, k1, 1}, {DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1}};
    dtx_array *in[2] = {slice_node(x, 2, ix), slice_node(y, 2, iy)};
    dtx_array *p = in[0] != NULL && in[1] != NULL
                       ? dtxa_node(x->cl, DTXA_MATMUL, "matmul", 2, shape, chunk, t, 2, in)
                       : NULL;
    dtx_array_release(in[0]);
    dtx_array_release(in[1]);
    dtx_array *s2 = sum == NULL ? p : binary_node(DTX_ADD, sum, p);
    if (sum != NULL) {
      dtx_array_release(sum);
      dtx_array_release(p);
    }
    sum = s2;
    if (sum == NULL) return NULL;
  }
  return sum;
}

/* x @ y for x, y of at least 2 dims (NumPy's matmul; a and b: what the
 * caller was given, for messages): the batch dims (all but the last two)
 * broadcast; a MATMUL node chunked by 1 along them, so each task is one 2-d
 * product of one batch index (the 2-d kernels, looped over the batch). */
static dtx_array *matmul_2d_or_more(const dtx_array *x, const dtx_array *y, const dtx_array *a,
                                    const dtx_array *b) {
  int na = x->ndim, nb = y->ndim;
  if (x->shape[na - 1] != y->shape[nb - 2]) {
    dtxi_fail(DTX_EINVAL,
              "dtx_matmul: shapes %s and %s are not aligned: %lld (last axis of a) != %lld (%s of b)",
              SHAPE(a), SHAPE(b), (long long)x->shape[na - 1], (long long)y->shape[nb - 2],
              b->ndim == 1 ? "the only axis" : "second-to-last axis");
    return NULL;
  }
  int nbt = (na > nb ? na : nb) - 2, nd = nbt + 2;
  int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < nbt; d++) {
    int dx = d - (nbt - (na - 2)), dy = d - (nbt - (nb - 2));
    int64_t sx = dx >= 0 ? x->shape[dx] : 1, sy = dy >= 0 ? y->shape[dy] : 1;
    if (sx != sy && sx != 1 && sy != 1) {
      dtxi_fail(DTX_EINVAL, "dtx_matmul: the batch dims of shapes %s and %s do not broadcast (%lld vs %lld)",
                SHAPE(a), SHAPE(b), (long long)sx, (long long)sy);
      return NULL;
    }
    shape[d] = sx == 1 ? sy : sx;
    chunk[d] = 1;
  }
  shape[nd - 2] = x->shape[na - 2];
  shape[nd - 1] = y->shape[nb - 1];
  chunk[nd - 2] = x->chunk[na - 2];
  chunk[nd - 1] = y->chunk[nb - 1];
  dtx_dtype t = dtxa_promote2(x->dtype, y->dtype);
  /* empty operands: an empty product, or zeros when only k is 0 (as NumPy) */
  if (dtx_array_size(x) == 0 || dtx_array_size(y) == 0)
    return const_node(x->cl, "dtx_matmul", nd, shape, chunk, t, 0);
  dtx_array *cx = cast_node(x, t), *cy = cx != NULL ? cast_node(y, t) : NULL;
  dtx_array *r = NULL;
  int64_t g = cy != NULL ? product_groups(cx, cy, shape, chunk, t) : 1;
  if (g > 1) {
    r = split_product(cx, cy, g, shape, chunk, t);
  } else if (cy != NULL) {
    dtx_array *in[2] = {cx, cy};
    r = dtxa_node(x->cl, DTXA_MATMUL, "matmul", nd, shape, chunk, t, 2, in);
  }
  dtx_array_release(cx);
  dtx_array_release(cy);
  return r;
}

static dtx_array *matmul_node(const dtx_array *a, const dtx_array *b) {
  if (a == NULL || b == NULL) return NULL;
  if (a->ndim == 0 || b->ndim == 0) {
    dtxi_fail(DTX_EINVAL,
              "dtx_matmul: operands need at least 1 dimension (got shapes %s and %s; NumPy's ValueError)",
              SHAPE(a), SHAPE(b));
    return NULL;
  }
  if (a->cl != b->cl) {
    dtxi_fail(DTX_EINVAL, "dtx_matmul: the operands belong to different clusters");
    return NULL;
  }
  if (dtxa_cx_in(a) || dtxa_cx_in(b)) return dtxa_cx_product(0, a, b, NULL, NULL, 0);
  /* 1-d operands: a row (a) or a column (b), the axis removed afterwards */
  const int row[2] = {1, 0}, col[2] = {0, 1};
  dtx_array *x = a->ndim == 1 ? insert_axes(a, 2, row) : dtx_array_retain((dtx_array *)a);
  dtx_array *y = x == NULL ? NULL : b->ndim == 1 ? insert_axes(b, 2, col) : dtx_array_retain((dtx_array *)b);
  dtx_array *r = y != NULL ? matmul_2d_or_more(x, y, a, b) : NULL;
  dtx_array_release(x);
  dtx_array_release(y);
  if (r != NULL && b->ndim == 1) {
    dtx_array *q = drop_axis(r, r->ndim - 1);
    dtx_array_release(r);
    r = q;
  }
  if (r != NULL && a->ndim == 1) {
    dtx_array *q = drop_axis(r, r->ndim - (b->ndim == 1 ? 1 : 2));
    dtx_array_release(r);
    r = q;
  }
  return r;
}
dtx_array *dtx_matmul(const dtx_array *a, const dtx_array *b) { return dtxa_ret(matmul_node(a, b)); }

/* x[:, None] (axis 1) or x[None, :] (axis 0) of a 1-d x; r[:, 0] / r[0] of a 2-d r. */
static dtx_array *newaxis(const dtx_array *x, int axis) {
  dtx_index idx[2];
  memset(idx, 0, sizeof idx);
  for (int d = 0; d < 2; d++) {
    idx[d].kind = d == axis ? DTX_INDEX_NEWAXIS : DTX_INDEX_SLICE;
    idx[d].start = idx[d].stop = DTX_NONE;
    idx[d].step = 1;
  }
  return slice_node(x, 2, idx);
}
static dtx_array *take0(const dtx_array *x, int axis) {
  dtx_index idx[2];
  memset(idx, 0, sizeof idx);
  for (int d = 0; d < 2; d++) {
    idx[d].kind = d == axis ? DTX_INDEX_INT : DTX_INDEX_SLICE;
    idx[d].start = d == axis ? 0 : DTX_NONE;
    idx[d].stop = DTX_NONE;
    idx[d].step = 1;
  }
  return slice_node(x, 2, idx);
}

/* x as np.asarray(x): a Python scalar becomes a strongly typed 0-d array
 * (np.dot(2.5, x) of a float32 x is float64); anything else is x. */
static dtx_array *as_array(const dtx_array *x) {
  if (!x->weak) return dtx_array_retain((dtx_array *)x);
  return view_node(x, "asarray", 0, x->shape, x->chunk, x->vmap);
}

/* sum(a * b) over every axis, as np.dot of 1-d operands: the dtype is the
 * promoted one (int32 stays int32, wrapping as NumPy's does) and bools give
 * any(a & b), True or False. */
static dtx_array *inner_node(const dtx_array *a, const dtx_array *b) {
  dtx_dtype t = dtxa_promote2(a->dtype, b->dtype);
  dtx_array *p = binary_node(DTX_MUL, a, b);
  dtx_array *s = p != NULL ? reduce_node(p, t == DTX_BOOL ? DTX_ANY : DTX_SUM, NULL, 0, NULL) : NULL;
  dtx_array_release(p);
  if (s == NULL || s->dtype == t) return s;
  dtx_array *r = cast_node(s, t);
  dtx_array_release(s);
  return r;
}

static dtx_array *tensordot_node(const dtx_array *a, const dtx_array *b, const int *axes_a, const int *axes_b,
                                 int n);

/* tensordot over n >= 1 axis pairs (ca[i] of a with cb[i] of b, checked)
 * of operands with more than 2 dims, through the batched product: with A, B
 * the free axes of a and b but their last (m and n), C the contracted ones
 * but the last (k), a becomes (A, 1.., C, m, k) and b (1.., B, C, k, n),
 * their product (A, B, C, m, n) is summed over C and transposed to
 * (A, m, B, n). A missing m or n is a length-1 axis dropped at the end. */
static dtx_array *contract_nd(const dtx_array *a, const dtx_array *b, const int *ca, const int *cb, int n,
                              int used_a, int used_b) {
  int fa = 0, fb = 0, freea[DTX_ARRAY_MAX_DIMS], freeb[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < a->ndim; d++)
    if (!((used_a >> d) & 1)) freea[fa++] = d;
  for (int d = 0; d < b->ndim; d++)
    if (!((used_b >> d) & 1)) freeb[fb++] = d;
  int nA = fa > 0 ? fa - 1 : 0, nB = fb > 0 ? fb - 1 : 0, nC = n - 1, nd = nA + nB + nC + 2;
  if (nd > DTX_ARRAY_MAX_DIMS) {
    dtxi_fail(DTX_EINVAL, "dtx_tensordot: contracting shapes %s and %s needs %d dimensions; at most %d",
              SHAPE(a), SHAPE(b), nd, DTX_ARRAY_MAX_DIMS);
    return NULL;
  }
  dtx_dtype t = dtxa_promote2(a->dtype, b->dtype);
  /* a: (A, C, m, k) by a transpose, then new axes for B (and m) */
  int pa[DTX_ARRAY_MAX_DIMS], pb[DTX_ARRAY_MAX_DIMS], k = 0, newa[DTX_ARRAY_MAX_DIMS] = {0},
                                                      newb[DTX_ARRAY_MAX_DIMS] = {0};
  for (int i = 0; i < nA; i++) pa[k++] = freea[i];
  for (int i = 0; i < nC; i++) pa[k++] = ca[i];
  if (fa > 0) pa[k++] = freea[fa - 1];
  pa[k++] = ca[n - 1];
  for (int d = nA; d < nA + nB; d++) newa[d] = 1;
  if (fa == 0) newa[nd - 2] = 1;
  /* b: (B, C, k, n) by a transpose, then new axes for A (and n) */
  k = 0;
  for (int i = 0; i < nB; i++) pb[k++] = freeb[i];
  for (int i = 0; i < nC; i++) pb[k++] = cb[i];
  pb[k++] = cb[n - 1];
  if (fb > 0) pb[k++] = freeb[fb - 1];
  for (int d = 0; d < nA; d++) newb[d] = 1;
  if (fb == 0) newb[nd - 1] = 1;
  dtx_array *ta = transpose_node(a, pa), *tb = ta != NULL ? transpose_node(b, pb) : NULL;
  dtx_array *x = tb != NULL ? insert_axes(ta, nd, newa) : NULL,
            *y = x != NULL ? insert_axes(tb, nd, newb) : NULL;
  dtx_array *p = y != NULL ? matmul_2d_or_more(x, y, a, b) : NULL;
  dtx_array_release(ta);
  dtx_array_release(tb);
  dtx_array_release(x);
  dtx_array_release(y);
  if (p != NULL && nC > 0) { /* summed over C, in the product's dtype (bools: any) */
    int axes[DTX_ARRAY_MAX_DIMS];
    for (int i = 0; i < nC; i++) axes[i] = nA + nB + i;
    dtx_array *s = reduce_node(p, t == DTX_BOOL ? DTX_ANY : DTX_SUM, axes, nC, NULL);
    dtx_array_release(p);
    p = s != NULL && s->dtype != t ? cast_node(s, t) : s != NULL ? dtx_array_retain(s) : NULL;
    dtx_array_release(s);
  }
  if (p == NULL) return NULL;
  /* (A, B, m, n) to (A, m, B, n), then the missing m / n dropped */
  int perm[DTX_ARRAY_MAX_DIMS], q = 0;
  for (int i = 0; i < nA; i++) perm[q++] = i;
  perm[q++] = nA + nB;
  for (int i = 0; i < nB; i++) perm[q++] = nA + i;
  perm[q++] = nA + nB + 1;
  dtx_array *r = transpose_node(p, perm);
  dtx_array_release(p);
  if (r != NULL && fb == 0) {
    dtx_array *w = drop_axis(r, r->ndim - 1);
    dtx_array_release(r);
    r = w;
  }
  if (r != NULL && fa == 0) {
    dtx_array *w = drop_axis(r, nA);
    dtx_array_release(r);
    r = w;
  }
  return r;
}

static dtx_array *dot_node(const dtx_array *a, const dtx_array *b) {
  if (a == NULL || b == NULL) return NULL;
  if (a->ndim == 0 || b->ndim == 0) {
    dtx_array *x = as_array(a), *y = x != NULL ? as_array(b) : NULL;
    dtx_array *r = y != NULL ? binary_node(DTX_MUL, x, y) : NULL;
    dtx_array_release(x);
    dtx_array_release(y);
    return r;
  }
  if (dtxa_cx_in(a) || dtxa_cx_in(b)) return dtxa_cx_product(1, a, b, NULL, NULL, 0);
  int64_t ka = a->shape[a->ndim - 1], kb = b->shape[b->ndim >= 2 ? b->ndim - 2 : 0];
  if (ka != kb) {
    dtxi_fail(DTX_EINVAL,
              "dtx_dot: shapes %s and %s are not aligned: %lld (last axis of a) != %lld (%s of b)", SHAPE(a),
              SHAPE(b), (long long)ka, (long long)kb, b->ndim >= 2 ? "second-to-last axis" : "the only axis");
    return NULL;
  }
  if (a->ndim > 2 || b->ndim > 2) {
    /* np.dot: the last axis of a with the second-to-last of b (its only one when 1-d) */
    int aa = a->ndim - 1, ab = b->ndim >= 2 ? b->ndim - 2 : 0;
    return tensordot_node(a, b, &aa, &ab, 1);
  }
  if (a->ndim == 2 && b->ndim == 2) return matmul_node(a, b);
  if (a->ndim == 1 && b->ndim == 1) return inner_node(a, b);
  dtx_array *x = a->ndim == 1 ? newaxis(a, 0) : dtx_array_retain((dtx_array *)a);
  dtx_array *y = b->ndim == 1 ? newaxis(b, 1) : dtx_array_retain((dtx_array *)b);
  dtx_array *m = x != NULL && y != NULL ? matmul_node(x, y) : NULL;
  dtx_array *r = m != NULL ? take0(m, a->ndim == 1 ? 0 : 1) : NULL;
  dtx_array_release(x);
  dtx_array_release(y);
  dtx_array_release(m);
  return r;
}
dtx_array *dtx_dot(const dtx_array *a, const dtx_array *b) { return dtxa_ret(dot_node(a, b)); }

static dtx_array *tensordot_node(const dtx_array *a, const dtx_array *b, const int *axes_a, const int *axes_b,
                                 int n) {
  if (a == NULL || b == NULL) return NULL;
  if (n < 0 || n > a->ndim || n > b->ndim || (n > 0 && (axes_a == NULL || axes_b == NULL))) {
    dtxi_fail(DTX_EINVAL, "dtx_tensordot: %d axis pairs for shapes %s and %s", n, SHAPE(a), SHAPE(b));
    return NULL;
  }
  if (dtxa_cx_in(a) || dtxa_cx_in(b)) return dtxa_cx_product(2, a, b, axes_a, axes_b, n);
  int ca[DTX_ARRAY_MAX_DIMS], cb[DTX_ARRAY_MAX_DIMS], used_a = 0, used_b = 0;
  for (int i = 0; i < n; i++) {
    ca[i] = axes_a[i] < 0 ? axes_a[i] + a->ndim : axes_a[i];
    cb[i] = axes_b[i] < 0 ? axes_b[i] + b->ndim : axes_b[i];
    if (ca[i] < 0 || ca[i] >= a->ndim || ((used_a >> ca[i]) & 1) || cb[i] < 0 || cb[i] >= b->ndim ||
        ((used_b >> cb[i]) & 1)) {
      dtxi_fail(DTX_EINVAL,
                "dtx_tensordot: axis pair %d (%d, %d) is out of range or repeated for shapes %s and %s", i,
                axes_a[i], axes_b[i], SHAPE(a), SHAPE(b));
      return NULL;
    }
    used_a |= 1 << ca[i];
    used_b |= 1 << cb[i];
    if (a->shape[ca[i]] != b->shape[cb[i]]) {
      dtxi_fail(
          DTX_EINVAL,
          "dtx_tensordot: shape mismatch for axis pair %d: %lld (axis %d of %s) != %lld (axis %d of %s)", i,
          (long long)a->shape[ca[i]], ca[i], SHAPE(a), (long long)b->shape[cb[i]], cb[i], SHAPE(b));
      return NULL;
    }
  }
  if (n > 0 && (a->ndim > 2 || b->ndim > 2)) return contract_nd(a, b, ca, cb, n, used_a, used_b);
  /* a with its free axes first then the contracted ones in pair order; b with
   * the contracted ones first in pair order then its free axes */
  int pa[DTX_ARRAY_MAX_DIMS], pb[DTX_ARRAY_MAX_DIMS], k = 0;
  for (int d = 0; d < a->ndim; d++)
    if (!((used_a >> d) & 1)) pa[k++] = d;
  for (int i = 0; i < n; i++) pa[k++] = ca[i];
  k = 0;
  for (int i = 0; i < n; i++) pb[k++] = cb[i];
  for (int d = 0; d < b->ndim; d++)
    if (!((used_b >> d) & 1)) pb[k++] = d;
  dtx_array *x = transpose_node(a, pa), *y = x != NULL ? transpose_node(b, pb) : NULL;
  dtx_array *r = NULL;
  int fa = a->ndim - n, fb = b->ndim - n;
  if (y == NULL) {
    r = NULL;
  } else if (n == 0) {
    /* outer product: x[..., None, None] * y */
    dtx_index idx[DTX_ARRAY_MAX_DIMS];
    memset(idx, 0, sizeof idx);
    for (int d = 0; d < a->ndim + b->ndim; d++) {
      idx[d].kind = d < a->ndim ? DTX_INDEX_SLICE : DTX_INDEX_NEWAXIS;
      idx[d].start = idx[d].stop = DTX_NONE;
      idx[d].step = 1;
    }
    dtx_array *xe = slice_node(x, a->ndim + b->ndim, idx);
    r = xe != NULL ? binary_node(DTX_MUL, xe, y) : NULL;
    dtx_array_release(xe);
  } else if (fa == 0 && fb == 0) {
    r = inner_node(x, y);
  } else {
    r = dot_node(x, y); /* n == 1 here with at least one free axis */
  }
  dtx_array_release(x);
  dtx_array_release(y);
  return r;
}
dtx_array *dtx_tensordot(const dtx_array *a, const dtx_array *b, const int *axes_a, const int *axes_b,
                         int n) {
  return dtxa_ret(tensordot_node(a, b, axes_a, axes_b, n));
}

/* ---- user kernels --------------------------------------------------------------------------- */

static dtx_array *user_node(int kind, const char *fn, const char *name, dtx_block_fn cpu, dtx_block_fn cuda,
                            dtx_array *const *in, int nin, dtx_dtype t, const void *user, size_t user_size) {
  if (cpu == NULL && cuda == NULL) {
    dtxi_fail(DTX_EINVAL, "%s: give a CPU or a CUDA kernel (both are NULL)", fn);
    return NULL;
  }
  if (dtx_dtype_name(t) == NULL) {
    dtxi_fail(DTX_EINVAL, "%s: out_dtype %d is not a dtx_dtype (DTX_BOOL .. DTX_F16)", fn, (int)t);
    return NULL;
  }
  if (user_size > 0 && user == NULL) {
    dtxi_fail(DTX_EINVAL, "%s: user is NULL with user_size %zu", fn, user_size);
    return NULL;
  }
  if (name != NULL && (strlen(name) == 0 || strlen(name) > 60)) {
    dtxi_fail(DTX_EINVAL, "%s: name must have 1 to 60 characters", fn);
    return NULL;
  }
  const dtx_array *a0 = in[0];
  dtx_array *r = dtxa_node(a0->cl, kind, kind == DTXA_MAP ? "map_blocks" : "map_overlap", a0->ndim, a0->shape,
                           a0->chunk, t, nin, in);
  if (r == NULL) return NULL;
  r->fcpu = cpu;
  r->fcuda = cuda;
  if (user_size > 0) {
    r->user = malloc(user_size);
    if (r->user == NULL) {
      dtx_array_release(r);
      dtxi_fail(DTX_ENOMEM, "out of memory");
      return NULL;
    }
    memcpy(r->user, user, user_size);
    r->user_size = user_size;
  }
  if (name != NULL && (r->name = strdup(name)) == NULL) {
    dtx_array_release(r);
    dtxi_fail(DTX_ENOMEM, "out of memory");
    return NULL;
  }
  return r;
}

dtx_array *dtx_map_blocks(const char *name, dtx_block_fn cpu, dtx_block_fn cuda, dtx_array *const *in,
                          int nin, dtx_dtype out_dtype, const void *user, size_t user_size) {
  if (in == NULL || nin < 1) {
    dtxi_fail(DTX_EINVAL, "dtx_map_blocks: needs at least one input (nin = %d)", nin);
    return NULL;
  }
  for (int i = 0; i < nin; i++)
    if (in[i] == NULL) return NULL;
  for (int i = 1; i < nin; i++) {
    int bad = in[i]->ndim != in[0]->ndim || in[i]->cl != in[0]->cl;
    for (int d = 0; d < in[0]->ndim && !bad; d++) bad = in[i]->shape[d] != in[0]->shape[d];
    if (bad) {
      dtxi_fail(DTX_EINVAL, "dtx_map_blocks: input %d has shape %s, input 0 has %s; they must be equal", i,
                SHAPE(in[i]), SHAPE(in[0]));
      return NULL;
    }
  }
  return dtxa_ret(
      user_node(DTXA_MAP, "dtx_map_blocks", name, cpu, cuda, in, nin, out_dtype, user, user_size));
}

dtx_array *dtx_map_overlap(const char *name, dtx_block_fn cpu, dtx_block_fn cuda, const dtx_array *x,
                           const int64_t *depth, dtx_boundary boundary, double constant, dtx_dtype out_dtype,
                           const void *user, size_t user_size) {
  if (x == NULL) return NULL;
  if (x->ndim > 0 && depth == NULL) {
    dtxi_fail(DTX_EINVAL, "dtx_map_overlap: depth is NULL");
    return NULL;
  }
  for (int d = 0; d < x->ndim; d++)
    if (depth[d] < 0 || depth[d] > x->shape[d]) {
      dtxi_fail(DTX_EINVAL,
                "dtx_map_overlap: depth[%d] is %lld; it must be 0 to the axis length %lld (shape %s)", d,
                (long long)depth[d], (long long)x->shape[d], SHAPE(x));
      return NULL;
    }
  if (boundary != DTX_BOUNDARY_PERIODIC && boundary != DTX_BOUNDARY_CONSTANT &&
      boundary != DTX_BOUNDARY_NEAREST) {
    dtxi_fail(DTX_EINVAL, "dtx_map_overlap: boundary %d is not PERIODIC, CONSTANT or NEAREST", (int)boundary);
    return NULL;
  }
  dtx_array *in = (dtx_array *)x;
  dtx_array *r =
      user_node(DTXA_OVERLAP, "dtx_map_overlap", name, cpu, cuda, &in, 1, out_dtype, user, user_size);
  if (r == NULL) return NULL;
  for (int d = 0; d < x->ndim; d++) r->depth[d] = depth[d];
  r->boundary = (int)boundary;
  r->constant = constant;
  return dtxa_ret(r);
}

/* ---- running --------------------------------------------------------------------------------- */

dtx_status dtx_array_compute_as(const dtx_array *a, dtx_dtype dtype, void *buf, size_t size) {
  if (a == NULL) return dtxi_fail(DTX_EINVAL, "dtx_array_compute: array is NULL");
  if (dtype != DTX_ANY_DTYPE && dtx_dtype_name(dtype) == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_array_compute: dtype %d is not a dtx_dtype", (int)dtype);
  if (dtype != DTX_ANY_DTYPE && dtype != a->dtype)
    return dtxi_fail(DTX_EINVAL,
                     "dtx_array_compute: the buffer holds %s but the %s array is %s; compute into a "
                     "buffer of %s, or convert the array with dtx_astype(a, %s) first",
                     dtx_dtype_name(dtype), SHAPE(a), dtx_dtype_name(a->dtype), dtx_dtype_name(a->dtype),
                     dtxa_dtype_enum_name(dtype));
  if (a->deferred) return dtxa_compute_deferred(a, dtype, buf, size); /* unknown lengths */
  if ((buf == NULL && size > 0) || size != dtx_array_nbytes(a))
    return dtxi_fail(
        DTX_EINVAL, "dtx_array_compute: the buffer has %zu bytes at %p; the %s %s array needs %zu",
        buf == NULL ? (size_t)0 : size, buf, SHAPE(a), dtx_dtype_name(a->dtype), dtx_array_nbytes(a));
  if (size == 0) return DTX_OK; /* an empty array: nothing to compute */
  return dtxa_compute_into(a, buf);
}

/* In parentheses: dtx/array.h makes dtx_array_compute a macro that passes
 * the buffer's element type (C) or an overload set (C++). */
dtx_status(dtx_array_compute)(const dtx_array *a, void *buf, size_t size) {
  return dtx_array_compute_as(a, DTX_ANY_DTYPE, buf, size);
}

dtx_status dtx_array_persist(const dtx_array *a, const int *where, dtx_array **out) {
  if (a == NULL || out == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_array_persist: %s is NULL", a == NULL ? "array" : "out");
  if (a->deferred) return dtxa_persist_deferred(a, where, out); /* unknown lengths */
  if (dtxa_cx_in(a)) return dtxa_cx_persist(a, where, out);
  int64_t nb = dtxa_nblocks(a);
  int ngpu = dtx_cluster_num_gpus(a->cl);
  int *w = NULL;
  if (where != NULL) {
    for (int64_t b = 0; b < nb; b++)
      if (where[b] < DTX_WHERE_CPU || where[b] > ngpu)
        return dtxi_fail(DTX_EINVAL,
                         "dtx_array_persist: where[%lld] = %d; use DTX_WHERE_ANY, DTX_WHERE_CPU or "
                         "DTX_WHERE_GPU(k) with k < %d (the cluster's GPUs)",
                         (long long)b, where[b], ngpu);
    if ((w = malloc((size_t)(nb > 0 ? nb : 1) * sizeof *w)) == NULL)
      return dtxi_fail(DTX_ENOMEM, "out of memory");
    memcpy(w, where, (size_t)nb * sizeof *w);
  }
  if (dtx_array_size(a) == 0) { /* nothing to keep: an empty host array */
    dtx_array *p = dtxa_ext(a->cl, a->ndim, a->shape, a->chunk, a->dtype, NULL, NULL, NULL);
    if (p == NULL) {
      free(w);
      return DTX_ENOMEM;
    }
    p->where = w;
    *out = dtxa_ret(p);
    return DTX_OK;
  }
  int on_gpus = ngpu > 0 && dtx_cluster_scheduler(a->cl) == DTX_SCHED_CLUSTER;
  if (on_gpus || dtxi_sched_of(a->cl)->mem->limit > 0) {
    /* Chunks stay on the GPUs (or where `where` puts them); on CPU threads
     * under a host limit, each in host memory as a chunk that may spill. */
    free(w);
    if (a->kind == DTXA_KEPT && where == NULL) { /* kept already */
      *out = dtxa_ret(dtx_array_retain((dtx_array *)a));
      return DTX_OK;
    }
    dtx_array *src = (dtx_array *)a;
    if (a->kind == DTXA_KEPT) {
      /* moved through a copy: a chunk is kept by one array only */
      dtxk_dimmap id[DTX_ARRAY_MAX_DIMS];
      for (int d = 0; d < a->ndim; d++) id[d] = (dtxk_dimmap){d, DTXK_MODE_NONE, 1, 0};
      if ((src = view_node(a, "copy", a->ndim, a->shape, a->chunk, id)) == NULL) return DTX_ENOMEM;
    }
    dtxi_keeper *k = dtxi_keeper_new(dtxi_sched_store(a->cl), nb);
    dtx_status rc = k == NULL ? DTX_ENOMEM : dtxa_persist_kept(src, on_gpus ? where : NULL, k);
    dtx_array *p = NULL;
    if (rc == DTX_OK) {
      p = dtxa_node(a->cl, DTXA_KEPT, "persist", a->ndim, a->shape, a->chunk, a->dtype, 0, NULL);
      if (p == NULL) rc = DTX_ENOMEM;
    }
    if (src != a) dtx_array_release(src);
    if (rc != DTX_OK) {
      dtxi_keeper_free(k);
      return rc;
    }
    p->keeper = k;
    *out = dtxa_ret(p);
    return DTX_OK;
  }
  size_t bytes = dtx_array_nbytes(a);
  void *data = dtxa_alloc_host(bytes);
  if (data == NULL) {
    free(w);
    return dtxi_fail(DTX_ENOMEM, "dtx_array_persist: out of memory for %zu bytes", bytes);
  }
  dtx_status rc = dtxa_compute_into(a, data);
  if (rc != DTX_OK) {
    free(data);
    free(w);
    return rc;
  }
  dtx_array *p = dtxa_ext(a->cl, a->ndim, a->shape, a->chunk, a->dtype, data, NULL, data);
  if (p == NULL) {
    free(data);
    free(w);
    return DTX_ENOMEM;
  }
  p->where = w;
  *out = dtxa_ret(p);
  return DTX_OK;
}
