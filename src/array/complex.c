/*
 * array/complex.c - complex64 / complex128 arrays (dtx/complex.h) built from
 * real ones.
 *
 * A complex array is a DTXA_CPLX node over its pairs: a real array of the
 * part dtype (float32 / float64) shaped (shape..., 2), one chunk along that
 * last axis, so a chunk of the pairs is a chunk of interleaved complex
 * values. Each operation here takes the real and imaginary parts as real
 * arrays (views of the pairs), combines them with the real operations (which
 * fuse into one task per chunk as usual) and stacks the two results back
 * into pairs. Nothing below build.c ever sees a complex node: build.c's
 * entry points unwrap it, and dtxa_node refuses it as the input of any other
 * node (so an operation not listed in dtx/complex.h fails with DTX_ENOTSUP).
 *
 * Each function works in a private array scope: the intermediate arrays are
 * released at its end; the result is taken out of it and returned to the
 * caller (array.c), who owns it. The caller's thread only; nodes are
 * immutable.
 */
#include "array/complex.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "dtx/scan.h"

/* comparisons (dtx/array.h has them as dtx_binary ops only) */
static dtx_array *eq(const dtx_array *a, const dtx_array *b) { return dtx_binary(DTX_EQ, a, b); }
static dtx_array *ne(const dtx_array *a, const dtx_array *b) { return dtx_binary(DTX_NE, a, b); }
static dtx_array *ge(const dtx_array *a, const dtx_array *b) { return dtx_binary(DTX_GE, a, b); }

/* ---- the private scope ------------------------------------------------------------------------ */

static int open_scope(void) {
  if (dtxa_scope_begin() == 0) return 1;
  dtxi_fail(DTX_ENOMEM, "out of memory");
  return 0;
}
/* Ends the private scope, keeping r (NULL stays NULL, its error kept). */
static dtx_array *close_scope(dtx_array *r) {
  if (r != NULL) dtx_array_keep(r);
  dtx_array_scope_end();
  return r;
}

dtx_status dtxa_cx_refuse(const char *op) {
  return dtxi_fail(DTX_ENOTSUP,
                   "%s does not take complex arrays (yet); dtx/complex.h lists the operations that do "
                   "(take the parts with dtx_real / dtx_imag)",
                   op);
}

/* ---- dtypes ----------------------------------------------------------------------------------- */

static dtx_dtype cx_of(dtx_dtype part) { return part == DTX_F64 ? DTX_C128 : DTX_C64; }

/* The real dtype standing for x in a promotion: its part when complex. */
static dtx_dtype real_side(const dtx_array *x) { return dtxa_cx_in(x) ? dtxa_cx_part(x->dtype) : x->dtype; }

/* NumPy 2's result dtype (NEP 50) of an operation on a and b, one of them
 * complex (or a weak complex scalar): its part dtype. A Python scalar
 * (weak) takes the other operand's precision; two Python scalars give
 * complex128. */
static dtx_dtype part_for(const dtx_array *a, const dtx_array *b) {
  if (a->weak && b->weak) return DTX_F64;
  if (a->weak || b->weak) {
    const dtx_array *s = a->weak ? b : a; /* a Python complex with a real array: float16 / float32 */
    if (dtxa_cx_in(s)) return dtxa_cx_part(s->dtype);
    return s->dtype == DTX_F16 || s->dtype == DTX_F32 ? DTX_F32 : DTX_F64;
  }
  dtx_dtype p = dtxa_float_for(dtxa_promote2(real_side(a), real_side(b)));
  return p == DTX_F64 ? DTX_F64 : DTX_F32;
}

/* ---- parts and pairs -------------------------------------------------------------------------- */

/* Pairs axis k (0 re, 1 im) of a complex array: a real view. */
static dtx_array *part_view(const dtx_array *a, int k) {
  dtx_index idx[DTX_ARRAY_MAX_DIMS];
  const dtx_array *p = dtxa_cx_pairs(a);
  for (int d = 0; d < p->ndim; d++)
    idx[d] = d == p->ndim - 1 ? (dtx_index){DTX_INDEX_INT, k, 0, 0}
                              : (dtx_index){DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1};
  return dtx_slice(p, p->ndim, idx);
}

/* x's real and imaginary parts as arrays of part dtype t (in the private
 * scope); a real x has a 0-d zero as its imaginary part. 0 on failure. */
static int parts(const dtx_array *x, dtx_dtype t, dtx_array **re, dtx_array **im) {
  if (dtxa_cx_in(x)) {
    *re = dtx_astype(part_view(x, 0), t);
    *im = dtx_astype(part_view(x, 1), t);
  } else {
    *re = dtx_astype(x, t);
    *im = dtx_zeros(x->cl, 0, NULL, NULL, t);
  }
  return *re != NULL && *im != NULL;
}

dtx_array *dtxa_cx_wrap(const dtx_array *pairs) {
  if (pairs == NULL) return NULL;
  int nd = pairs->ndim - 1;
  DTX_ASSERT(nd >= 0 && pairs->shape[nd] == 2 && (pairs->dtype == DTX_F32 || pairs->dtype == DTX_F64));
  dtx_array *in = (dtx_array *)pairs, *owned = NULL;
  if (pairs->chunk[nd] != 2) {
    int64_t ch[DTX_ARRAY_MAX_DIMS];
    memcpy(ch, pairs->chunk, sizeof ch);
    ch[nd] = 2;
    if (!open_scope()) return NULL;
    owned = close_scope(dtx_rechunk(pairs, ch));
    if (owned == NULL) return NULL;
    in = owned;
  }
  dtx_array *r = dtxa_node(in->cl, DTXA_CPLX, "complex", nd, in->shape, in->chunk, cx_of(in->dtype), 1, &in);
  dtx_array_release(owned);
  return r;
}

/* dtxa_cx_wrap's node entered in the (private) scope, as the public
 * functions' results are, so close_scope treats every result alike. */
static dtx_array *wrapped(const dtx_array *pairs) { return dtxa_ret(dtxa_cx_wrap(pairs)); }
/* A dtxa_cx_* result (owned by the caller) entered in the scope. */
static dtx_array *scoped(dtx_array *a) { return dtxa_ret(a); }

/* The common shape of n operands (NumPy's broadcasting) and the chunks of
 * the first that is not stretched along each axis. */
static dtx_status common_shape(const char *fn, dtx_array *const *x, int n, int *nd, int64_t *shape,
                               int64_t *chunk) {
  *nd = 0;
  for (int i = 0; i < n; i++)
    if (x[i]->ndim > *nd) *nd = x[i]->ndim;
  for (int d = 0; d < *nd; d++) {
    shape[d] = 1;
    chunk[d] = 0;
    for (int i = 0; i < n; i++) {
      int di = d - (*nd - x[i]->ndim);
      if (di < 0 || x[i]->shape[di] == 1) continue;
      if (shape[d] != 1 && shape[d] != x[i]->shape[di])
        return dtxi_fail(DTX_EINVAL, "%s: operands do not broadcast together (axis %d: %lld vs %lld)", fn, d,
                         (long long)shape[d], (long long)x[i]->shape[di]);
      shape[d] = x[i]->shape[di];
      if (chunk[d] == 0) chunk[d] = x[i]->chunk[di];
    }
    if (chunk[d] == 0) chunk[d] = 1;
  }
  return DTX_OK;
}

/* re + 1j * im, both real of one part dtype, broadcast to shape (chunk). */
static dtx_array *join(dtx_array *re, dtx_array *im, int nd, const int64_t *shape, const int64_t *chunk) {
  if (re == NULL || im == NULL) return NULL;
  dtx_array *two[2] = {dtx_broadcast_to(re, nd, shape), dtx_broadcast_to(im, nd, shape)};
  if (two[0] == NULL || two[1] == NULL) return NULL;
  dtx_array *pairs = dtx_stack(two, 2, nd);
  if (pairs == NULL) return NULL;
  int64_t ch[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < nd; d++) ch[d] = chunk[d];
  ch[nd] = 2;
  return wrapped(dtx_rechunk(pairs, ch));
}

/* join over the shape of one of the operands' results */
static dtx_array *join_like(dtx_array *re, dtx_array *im) {
  if (re == NULL || im == NULL) return NULL;
  dtx_array *both[2] = {re, im};
  int nd;
  int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
  if (common_shape("complex", both, 2, &nd, shape, chunk) != DTX_OK) return NULL;
  return join(re, im, nd, shape, chunk);
}

/* ---- making complex arrays ------------------------------------------------------------------- */

dtx_array *dtx_complex(const dtx_array *re, const dtx_array *im) {
  if (re == NULL || im == NULL) return NULL;
  if (dtxa_cx_in(re) || dtxa_cx_in(im)) {
    dtxi_fail(DTX_EINVAL, "dtx_complex: re and im must be real arrays (this one is %s)",
              dtx_dtype_name(dtxa_cx_in(re) ? re->dtype : im->dtype));
    return NULL;
  }
  if (re->cl != im->cl) {
    dtxi_fail(DTX_EINVAL, "dtx_complex: re and im belong to different clusters");
    return NULL;
  }
  /* as re + 1j * im: integers (and bool) make complex128 */
  dtx_dtype t = dtxa_promote(re, im);
  t = t == DTX_F16 || t == DTX_F32 ? DTX_F32 : DTX_F64;
  if (!open_scope()) return NULL;
  dtx_array *r = join_like(dtx_astype(re, t), dtx_astype(im, t));
  return dtxa_ret(close_scope(r));
}

dtx_array *dtx_scalar_complex(dtx_cluster *cl, double re, double im) {
  if (cl == NULL) {
    dtxi_fail(DTX_EINVAL, "dtx_scalar_complex: cluster is NULL");
    return NULL;
  }
  if (!open_scope()) return NULL;
  dtx_array *r =
      join(dtx_full(cl, 0, NULL, NULL, DTX_F64, re), dtx_full(cl, 0, NULL, NULL, DTX_F64, im), 0, NULL, NULL);
  if (r != NULL) r->weak = DTXA_WEAK_COMPLEX;
  return dtxa_ret(close_scope(r));
}

dtx_array *dtxa_cx_full(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks, dtx_dtype t,
                        double v) {
  int64_t ch[DTX_ARRAY_MAX_DIMS];
  if (chunks == NULL) { /* automatic chunks of the complex element size */
    if (dtxa_check_shape("dtx_full", ndim, shape, NULL, t, ch) != DTX_OK) return NULL;
    chunks = ch;
  }
  if (!open_scope()) return NULL;
  dtx_array *re = dtx_full(cl, ndim, shape, chunks, dtxa_cx_part(t), v);
  dtx_array *r = re != NULL ? scoped(dtxa_cx_astype(re, t)) : NULL;
  return close_scope(r);
}

dtx_array *dtxa_cx_from_host(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks,
                             dtx_dtype t, const void *data, dtx_host_mode mode) {
  int64_t sh[DTX_ARRAY_MAX_DIMS + 1], ch[DTX_ARRAY_MAX_DIMS + 1];
  if (ndim < 0 || ndim > DTX_ARRAY_MAX_DIMS - 1 || (ndim > 0 && shape == NULL)) {
    dtxi_fail(DTX_EINVAL, "dtx_from_host: a complex array has 0 to %d dimensions (ndim is %d)",
              DTX_ARRAY_MAX_DIMS - 1, ndim);
    return NULL;
  }
  for (int d = 0; d < ndim; d++) {
    sh[d] = shape[d];
    ch[d] = chunks != NULL ? chunks[d] : 0;
  }
  sh[ndim] = ch[ndim] = 2;
  if (chunks == NULL) { /* automatic chunks of the complex shape */
    if (dtxa_check_shape("dtx_from_host", ndim, shape, NULL, t, ch) != DTX_OK) return NULL;
    ch[ndim] = 2;
  }
  if (!open_scope()) return NULL;
  return close_scope(wrapped(dtx_from_host(cl, ndim + 1, sh, ch, dtxa_cx_part(t), data, mode)));
}

dtx_array *dtx_real(const dtx_array *a) {
  if (a == NULL) return NULL;
  if (!dtxa_cx_in(a)) return dtx_astype(a, a->dtype);
  if (!open_scope()) return NULL;
  return dtxa_ret(close_scope(part_view(a, 0)));
}

dtx_array *dtx_imag(const dtx_array *a) {
  if (a == NULL) return NULL;
  if (!dtxa_cx_in(a) && a->deferred) /* a length unknown until computed: zeros element by element */
    return dtx_where(dtx_scalar(a->cl, 1.0), dtx_zeros(a->cl, 0, NULL, NULL, a->dtype), a);
  if (!dtxa_cx_in(a)) return dtx_zeros(a->cl, a->ndim, a->shape, a->chunk, a->dtype);
  if (!open_scope()) return NULL;
  return dtxa_ret(close_scope(part_view(a, 1)));
}

dtx_array *dtx_conj(const dtx_array *a) {
  if (a == NULL) return NULL;
  if (!dtxa_cx_in(a)) return dtx_astype(a, a->dtype);
  if (!open_scope()) return NULL;
  return dtxa_ret(close_scope(join(part_view(a, 0), dtx_neg(part_view(a, 1)), a->ndim, a->shape, a->chunk)));
}

/* ---- elementwise ------------------------------------------------------------------------------ */

/* |z| without overflow or underflow for large or tiny parts: in float64 for
 * complex64 (exact before the rounding to float32), scaled by the larger
 * part for complex128; infinite when either part is (also with a NaN), as
 * hypot. */
static dtx_array *cabs_of(const dtx_array *a) {
  dtx_dtype t = dtxa_cx_part(a->dtype);
  dtx_array *re = dtx_abs(dtx_astype(part_view(a, 0), DTX_F64)),
            *im = dtx_abs(dtx_astype(part_view(a, 1), DTX_F64));
  if (re == NULL || im == NULL) return NULL;
  dtx_array *m;
  if (t == DTX_F32) {
    m = dtx_sqrt(dtx_add(dtx_mul(re, re), dtx_mul(im, im)));
  } else {
    dtx_array *s = dtx_maximum(re, im), *u = dtx_div(re, s), *v = dtx_div(im, s);
    dtx_array *z = dtx_scalar(a->cl, 0.0);
    m = dtx_where(eq(s, z), z, dtx_mul(s, dtx_sqrt(dtx_add(dtx_mul(u, u), dtx_mul(v, v)))));
  }
  dtx_array *inf = dtx_scalar(a->cl, INFINITY);
  m = dtx_where(eq(re, inf), inf, dtx_where(eq(im, inf), inf, m));
  return dtx_astype(m, t);
}

dtx_array *dtxa_cx_unary(int op, const dtx_array *a) {
  if (!open_scope()) return NULL;
  dtx_array *r = NULL;
  if (op == DTX_NEG)
    r = wrapped(dtx_neg(dtxa_cx_pairs(a)));
  else if (op == DTX_ABS)
    r = cabs_of(a);
  else if (op >= DTX_EXP && op <= DTX_TANH) /* C99's functions, in tasks of their own (cmath.c) */
    r = dtxa_cx_func(op, a);
  else if (op == DTX_ISNAN || op == DTX_ISINF) /* either part */
    r = dtx_maximum(dtx_unary((dtx_unary_op)op, part_view(a, 0)),
                    dtx_unary((dtx_unary_op)op, part_view(a, 1)));
  else if (op == DTX_ISFINITE) /* both parts */
    r = dtx_minimum(dtx_isfinite(part_view(a, 0)), dtx_isfinite(part_view(a, 1)));
  else if (op == DTX_RINT) /* each part */
    r = wrapped(dtx_rint(dtxa_cx_pairs(a)));
  else
    dtxa_cx_refuse("this unary operation");
  return close_scope(r);
}

dtx_array *dtxa_cx_round(const dtx_array *a, int decimals) {
  if (!open_scope()) return NULL;
  return dtxa_ret(close_scope(wrapped(dtx_round(dtxa_cx_pairs(a), decimals))));
}

/* a / b as NumPy's complex division (Smith's method, its branches and
 * roundings: loops of numpy/_core/src/umath). */
static dtx_array *cdiv(dtx_array *ar, dtx_array *ai, dtx_array *br, dtx_array *bi, dtx_array **im) {
  dtx_cluster *cl = ar->cl;
  dtx_array *one = dtx_scalar(cl, 1.0), *bra = dtx_abs(br), *bia = dtx_abs(bi);
  /* |br| >= |bi|: rat = bi / br, scl = 1 / (br + bi rat) */
  dtx_array *rat1 = dtx_div(bi, br), *scl1 = dtx_div(one, dtx_add(br, dtx_mul(bi, rat1)));
  dtx_array *re1 = dtx_mul(dtx_add(ar, dtx_mul(ai, rat1)), scl1);
  dtx_array *im1 = dtx_mul(dtx_sub(ai, dtx_mul(ar, rat1)), scl1);
  /* b == 0: a / |br|, infinities or NaN */
  dtx_array *re0 = dtx_div(ar, bra), *im0 = dtx_div(ai, bra);
  /* else (and NaN): rat = br / bi, scl = 1 / (bi + br rat) */
  dtx_array *rat2 = dtx_div(br, bi), *scl2 = dtx_div(one, dtx_add(bi, dtx_mul(br, rat2)));
  dtx_array *re2 = dtx_mul(dtx_add(dtx_mul(ar, rat2), ai), scl2);
  dtx_array *im2 = dtx_mul(dtx_sub(dtx_mul(ai, rat2), ar), scl2);
  dtx_array *first = ge(bra, bia), *zero = eq(bra, dtx_scalar(cl, 0.0));
  *im = dtx_where(first, dtx_where(zero, im0, im1), im2);
  return dtx_where(first, dtx_where(zero, re0, re1), re2);
}

/* Logical and / or of bool arrays. */
static dtx_array *and2(const dtx_array *a, const dtx_array *b) { return dtx_minimum(a, b); }
static dtx_array *or2(const dtx_array *a, const dtx_array *b) { return dtx_maximum(a, b); }
/* "either part is NaN": NumPy's isnan of a complex */
static dtx_array *nan_of(dtx_array *re, dtx_array *im) { return or2(ne(re, re), ne(im, im)); }

/* NumPy's order of complex values (the CLT, CLE, CGT, CGE macros of its
 * loops): a < b is (ar < br and neither imaginary part NaN) or (ar == br
 * and ai < bi), lexicographic, and false whenever a part is NaN.
 * op: DTX_LT .. DTX_GE. */
static dtx_array *lex(int op, dtx_array *ar, dtx_array *ai, dtx_array *br, dtx_array *bi) {
  dtx_array *first = dtx_binary((dtx_binary_op)(op == DTX_LT || op == DTX_LE ? DTX_LT : DTX_GT), ar, br);
  dtx_array *then = dtx_binary((dtx_binary_op)op, ai, bi);
  return or2(and2(first, and2(eq(ai, ai), eq(bi, bi))), and2(eq(ar, br), then));
}

static dtx_array *cx_binary(int op, const dtx_array *a, const dtx_array *b) {
  if (op != DTX_ADD && op != DTX_SUB && op != DTX_MUL && op != DTX_DIV && op != DTX_EQ && op != DTX_NE &&
      op != DTX_POW && op != DTX_MINIMUM && op != DTX_MAXIMUM && !(op >= DTX_LT && op <= DTX_GE)) {
    const char *fn = op == DTX_FLOOR_DIVIDE ? "dtx_floor_divide" : "dtx_mod";
    dtxi_fail(DTX_ENOTSUP,
              "%s does not take complex arrays: NumPy defines no %s for complex numbers either "
              "(TypeError); apply it to the parts (dtx_real / dtx_imag) if that is what you mean",
              fn, op == DTX_FLOOR_DIVIDE ? "floor division" : "remainder");
    return NULL;
  }
  dtx_array *in[2] = {(dtx_array *)a, (dtx_array *)b};
  int nd;
  int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
  if (common_shape("complex operation", in, 2, &nd, shape, chunk) != DTX_OK) return NULL;
  dtx_dtype t = part_for(a, b);
  if (op == DTX_POW) { /* NumPy's complex power (cmath.c) over both operands made complex, broadcast */
    dtx_array *x = dtx_broadcast_to(scoped(dtxa_cx_astype(a, cx_of(t))), nd, shape);
    dtx_array *y = dtx_broadcast_to(scoped(dtxa_cx_astype(b, cx_of(t))), nd, shape);
    return x != NULL && y != NULL ? dtxa_cx_pow(x, y, chunk) : NULL;
  }
  dtx_array *ar, *ai, *br, *bi;
  if (!parts(a, t, &ar, &ai) || !parts(b, t, &br, &bi)) return NULL;
  switch (op) {
    case DTX_ADD:
      return join(dtx_add(ar, br), dtx_add(ai, bi), nd, shape, chunk);
    case DTX_SUB:
      return join(dtx_sub(ar, br), dtx_sub(ai, bi), nd, shape, chunk);
    case DTX_MUL:
      return join(dtx_sub(dtx_mul(ar, br), dtx_mul(ai, bi)), dtx_add(dtx_mul(ar, bi), dtx_mul(ai, br)), nd,
                  shape, chunk);
    case DTX_DIV: {
      dtx_array *im = NULL, *re = cdiv(ar, ai, br, bi, &im);
      return join(re, im, nd, shape, chunk);
    }
    case DTX_LT:
    case DTX_LE:
    case DTX_GT:
    case DTX_GE:
      return dtx_broadcast_to(lex(op, ar, ai, br, bi), nd, shape);
    case DTX_MINIMUM: /* NumPy's loop: a when a is NaN or a <= b (>= for maximum), else b */
    case DTX_MAXIMUM: {
      dtx_array *keep = or2(nan_of(ar, ai), lex(op == DTX_MINIMUM ? DTX_LE : DTX_GE, ar, ai, br, bi));
      return join(dtx_where(keep, ar, br), dtx_where(keep, ai, bi), nd, shape, chunk);
    }
    case DTX_EQ: /* both parts equal */
      return dtx_broadcast_to(dtx_minimum(eq(ar, br), eq(ai, bi)), nd, shape);
    default: /* DTX_NE: either part differs */
      return dtx_broadcast_to(dtx_maximum(ne(ar, br), ne(ai, bi)), nd, shape);
  }
}

dtx_array *dtxa_cx_binary(int op, const dtx_array *a, const dtx_array *b) {
  if (a->cl != b->cl) {
    dtxi_fail(DTX_EINVAL, "complex operation: the operands belong to different clusters");
    return NULL;
  }
  if (!open_scope()) return NULL;
  return close_scope(cx_binary(op, a, b));
}

dtx_array *dtxa_cx_clip(const dtx_array *a, double lo, double hi) {
  if (!open_scope()) return NULL; /* NumPy's clip of complex: minimum(maximum(a, lo), hi), as its ufuncs */
  return close_scope(dtx_minimum(dtx_maximum(a, dtx_scalar(a->cl, lo)), dtx_scalar(a->cl, hi)));
}

dtx_array *dtxa_cx_where(const dtx_array *c, const dtx_array *a, const dtx_array *b) {
  if (!open_scope()) return NULL;
  dtx_array *r = NULL, *in[3] = {(dtx_array *)c, (dtx_array *)a, (dtx_array *)b};
  int nd;
  int64_t shape[DTX_ARRAY_MAX_DIMS], chunk[DTX_ARRAY_MAX_DIMS];
  dtx_array *cb = dtxa_cx_in(c) ? dtx_astype(c, DTX_BOOL) : (dtx_array *)c;
  if (cb != NULL && common_shape("dtx_where", in, 3, &nd, shape, chunk) == DTX_OK) {
    if (!dtxa_cx_in(a) && !dtxa_cx_in(b)) {
      r = dtx_where(cb, a, b);
    } else {
      dtx_dtype t = part_for(a, b);
      dtx_array *ar, *ai, *br, *bi;
      if (parts(a, t, &ar, &ai) && parts(b, t, &br, &bi))
        r = join(dtx_where(cb, ar, br), dtx_where(cb, ai, bi), nd, shape, chunk);
    }
  }
  return close_scope(r);
}

dtx_array *dtxa_cx_astype(const dtx_array *a, dtx_dtype t) {
  if (!open_scope()) return NULL;
  dtx_array *r;
  if (dtxa_cx_in(a) && dtxa_is_cx(t)) /* complex to complex: the pairs converted */
    r = wrapped(dtx_astype(dtxa_cx_pairs(a), dtxa_cx_part(t)));
  else if (dtxa_cx_in(a) && t == DTX_BOOL) /* either part non-zero */
    r = dtx_maximum(dtx_astype(part_view(a, 0), DTX_BOOL), dtx_astype(part_view(a, 1), DTX_BOOL));
  else if (dtxa_cx_in(a)) /* to a real dtype: the real part (NumPy's ComplexWarning) */
    r = dtx_astype(part_view(a, 0), t);
  else /* real to complex: a zero imaginary part */
    r = join(dtx_astype(a, dtxa_cx_part(t)), dtx_zeros(a->cl, 0, NULL, NULL, dtxa_cx_part(t)), a->ndim,
             a->shape, a->chunk);
  return close_scope(r);
}

/* ---- views and joins -------------------------------------------------------------------------- */

dtx_array *dtxa_cx_transpose(const dtx_array *a, const int *perm) {
  int p[DTX_ARRAY_MAX_DIMS];
  for (int i = 0; i < a->ndim; i++) {
    int v = perm != NULL ? perm[i] : a->ndim - 1 - i;
    if (v < -a->ndim || v >= a->ndim) {
      dtxi_fail(DTX_EINVAL, "dtx_transpose: perm[%d] = %d is not an axis of a %d-d array", i, v, a->ndim);
      return NULL;
    }
    p[i] = v < 0 ? v + a->ndim : v;
  }
  p[a->ndim] = a->ndim;
  if (!open_scope()) return NULL;
  return close_scope(wrapped(dtx_transpose(dtxa_cx_pairs(a), p)));
}

dtx_array *dtxa_cx_slice(const dtx_array *a, int n, const dtx_index *idx) {
  dtx_index ix[DTX_ARRAY_MAX_DIMS];
  int used = 0;
  if (n < 0 || (n > 0 && idx == NULL)) {
    dtxi_fail(DTX_EINVAL, "dtx_slice: %d index entries at %p", n, (const void *)idx);
    return NULL;
  }
  for (int i = 0; i < n; i++) used += idx[i].kind != DTX_INDEX_NEWAXIS;
  int total = n + (a->ndim - used) + 1;
  if (used > a->ndim || total > DTX_ARRAY_MAX_DIMS) {
    dtxi_fail(DTX_EINVAL, "dtx_slice: %d indices for a %d-d complex array (at most %d dimensions in all)",
              used, a->ndim, DTX_ARRAY_MAX_DIMS - 1);
    return NULL;
  }
  if (n > 0) memcpy(ix, idx, (size_t)n * sizeof *ix);
  for (int i = n; i < total; i++) ix[i] = (dtx_index){DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1};
  if (!open_scope()) return NULL;
  return close_scope(wrapped(dtx_slice(dtxa_cx_pairs(a), total, ix)));
}

dtx_array *dtxa_cx_broadcast(const dtx_array *a, int ndim, const int64_t *shape) {
  int64_t sh[DTX_ARRAY_MAX_DIMS];
  if (ndim < a->ndim || ndim > DTX_ARRAY_MAX_DIMS - 1 || (ndim > 0 && shape == NULL)) {
    dtxi_fail(DTX_EINVAL, "dtx_broadcast_to: cannot broadcast a %d-d complex array to %d dimensions", a->ndim,
              ndim);
    return NULL;
  }
  if (ndim > 0) memcpy(sh, shape, (size_t)ndim * sizeof *sh);
  sh[ndim] = 2;
  if (!open_scope()) return NULL;
  return close_scope(wrapped(dtx_broadcast_to(dtxa_cx_pairs(a), ndim + 1, sh)));
}

dtx_array *dtxa_cx_rechunk(const dtx_array *a, const int64_t *chunks) {
  int64_t ch[DTX_ARRAY_MAX_DIMS];
  if (a->ndim > 0 && chunks == NULL) {
    dtxi_fail(DTX_EINVAL, "dtx_rechunk: chunks is NULL");
    return NULL;
  }
  if (a->ndim > 0) memcpy(ch, chunks, (size_t)a->ndim * sizeof *ch);
  ch[a->ndim] = 2;
  if (!open_scope()) return NULL;
  return close_scope(wrapped(dtx_rechunk(dtxa_cx_pairs(a), ch)));
}

dtx_array *dtxa_cx_concat(dtx_array *const *arrays, int n, int axis) {
  dtx_dtype p = DTX_BOOL;
  for (int i = 0; i < n; i++) p = dtxa_promote2(p, real_side(arrays[i]));
  p = dtxa_float_for(p) == DTX_F64 ? DTX_F64 : DTX_F32;
  int nd = arrays[0]->ndim, ax = axis < 0 ? axis + nd : axis;
  if (ax < 0 || ax >= nd) {
    dtxi_fail(DTX_EINVAL, "dtx_concatenate: axis %d is out of range for %d-d arrays", axis, nd);
    return NULL;
  }
  if (!open_scope()) return NULL;
  dtx_array *pairs[64], **pp = pairs, *r = NULL;
  if (n > 64 && (pp = calloc((size_t)n, sizeof *pp)) == NULL) {
    dtxi_fail(DTX_ENOMEM, "out of memory");
    return close_scope(NULL);
  }
  int ok = 1;
  for (int i = 0; i < n && ok; i++) {
    dtx_array *c = scoped(dtxa_cx_astype(arrays[i], cx_of(p)));
    ok = c != NULL;
    if (ok) pp[i] = (dtx_array *)dtxa_cx_pairs(c);
  }
  if (ok) r = wrapped(dtx_concatenate(pp, n, ax));
  if (pp != pairs) free(pp);
  return close_scope(r);
}

/* ---- reductions and products ------------------------------------------------------------------ */

/* The last axis of real x, index k (a view). */
static dtx_array *last(const dtx_array *x, int k) {
  dtx_index idx[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++)
    idx[d] = d == x->ndim - 1 ? (dtx_index){DTX_INDEX_INT, k, 0, 0}
                              : (dtx_index){DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1};
  return dtx_slice(x, x->ndim, idx);
}

/* NumPy's var / std of complex a over ax[0..n): the mean of |z - mean|^2, a
 * real array of the part dtype. That is the sum of the parts' variances
 * (each the real, stable reduction, of the pairs at once), in float64 for
 * complex64 too (rounded once, as dtx's float32 reductions). A 0-d a (n 0):
 * |z - z|^2 / max(1 - ddof, 0). */
static dtx_array *cvar(const dtx_array *a, int r, const int *ax, int n, const dtx_reduce_opts *o) {
  dtx_array *p = dtx_astype(dtxa_cx_pairs(a), DTX_F64), *v;
  if (n == 0) {
    dtx_array *d = dtx_sub(p, p);
    double den = 1.0 - o->ddof > 0 ? 1.0 - o->ddof : 0.0;
    v = dtx_div(dtx_sum(dtx_mul(d, d), NULL, 0), dtx_scalar(a->cl, den));
  } else {
    dtx_array *w = dtx_reduce(p, DTX_VAR, ax, n, o);
    v = w != NULL ? dtx_add(last(w, 0), last(w, 1)) : NULL;
  }
  if (r == DTX_STD) v = dtx_sqrt(v);
  return dtx_astype(v, dtxa_cx_part(a->dtype));
}

dtx_status dtxa_cx_axes(const char *fn, const dtx_array *a, const int *axes, int naxes, int *ax, int *n) {
  int seen[DTX_ARRAY_MAX_DIMS] = {0};
  *n = 0;
  if (axes == NULL || naxes == 0) {
    for (int d = 0; d < a->ndim; d++) ax[(*n)++] = d;
    return DTX_OK;
  }
  if (naxes < 0 || naxes > a->ndim)
    return dtxi_fail(DTX_EINVAL, "%s: %d axes for a %d-d array", fn, naxes, a->ndim);
  for (int i = 0; i < naxes; i++) {
    int v = axes[i] < 0 ? axes[i] + a->ndim : axes[i];
    if (v < 0 || v >= a->ndim)
      return dtxi_fail(DTX_EINVAL, "%s: axis %d is out of range for a %d-d array", fn, axes[i], a->ndim);
    if (seen[v]++) return dtxi_fail(DTX_EINVAL, "%s: axis %d is repeated", fn, axes[i]);
    ax[(*n)++] = v;
  }
  return DTX_OK;
}

dtx_array *dtxa_cx_reduce(const dtx_array *a, int r, const int *axes, int naxes,
                          const dtx_reduce_opts *opts) {
  static const char *names[] = {"",        "dtx_sum", "dtx_prod",   "dtx_mean",   "dtx_min", "dtx_max",
                                "dtx_var", "dtx_std", "dtx_argmin", "dtx_argmax", "dtx_any", "dtx_all"};
  if (r < DTX_SUM || r > DTX_ALL) {
    dtxi_fail(DTX_EINVAL, "dtx_reduce: reduction %d is not a dtx_reduction", r);
    return NULL;
  }
  dtx_reduce_opts o = DTX_REDUCE_OPTS_INIT;
  if (opts != NULL) {
    if (opts->size < sizeof(size_t) || opts->size > sizeof o) {
      dtxi_fail(DTX_EINVAL, "%s: opts->size is %zu; initialise opts with DTX_REDUCE_OPTS_INIT", names[r],
                opts->size);
      return NULL;
    }
    memcpy(&o, opts, opts->size);
  }
  int split = o.split_every == 0 ? 4 : o.split_every;
  if (split < 2) {
    dtxi_fail(DTX_EINVAL, "%s: split_every is %d; it must be at least 2", names[r], o.split_every);
    return NULL;
  }
  int ax[DTX_ARRAY_MAX_DIMS], n = 0;
  if (dtxa_cx_axes(names[r], a, axes, naxes, ax, &n) != DTX_OK) return NULL;
  if (r >= DTX_MIN && r <= DTX_ARGMAX && r != DTX_VAR && r != DTX_STD) /* array/cextreme.c */
    return dtxa_cx_extreme(a, r, n > 0 ? ax : NULL, n, o.keepdims, 0);
  if (!open_scope()) return NULL;
  if (r == DTX_ANY || r == DTX_ALL) /* of "either part non-zero" */
    return close_scope(dtx_reduce(dtx_astype(a, DTX_BOOL), (dtx_reduction)r, n > 0 ? ax : NULL, n, &o));
  if (r == DTX_VAR || r == DTX_STD) return close_scope(cvar(a, r, ax, n, &o));
  if (n == 0) /* a 0-d array: the reduction is the value (as a new array) */
    return close_scope(wrapped(dtx_astype(dtxa_cx_pairs(a), dtxa_cx_part(a->dtype))));
  if (r == DTX_PROD) return close_scope(dtxa_cx_prod(a, ax, n, o.keepdims, split));
  return close_scope(wrapped(dtx_reduce(dtxa_cx_pairs(a), (dtx_reduction)r, ax, n, &o)));
}

static dtx_array *prod_of(int kind, const dtx_array *x, const dtx_array *y, const int *axes_a,
                          const int *axes_b, int n) {
  if (kind == 0) return dtx_matmul(x, y);
  if (kind == 1) return dtx_dot(x, y);
  return dtx_tensordot(x, y, axes_a, axes_b, n);
}

dtx_array *dtxa_cx_product(int kind, const dtx_array *a, const dtx_array *b, const int *axes_a,
                           const int *axes_b, int n) {
  if (a->cl != b->cl) {
    dtxi_fail(DTX_EINVAL, "complex product: the operands belong to different clusters");
    return NULL;
  }
  if (!open_scope()) return NULL;
  dtx_dtype t = part_for(a, b);
  dtx_array *ar, *ai, *br, *bi, *re = NULL, *im = NULL;
  if (parts(a, t, &ar, &ai) && parts(b, t, &br, &bi)) {
    if (!dtxa_cx_in(b)) { /* (ar + i ai) y */
      re = prod_of(kind, ar, br, axes_a, axes_b, n);
      im = prod_of(kind, ai, br, axes_a, axes_b, n);
    } else if (!dtxa_cx_in(a)) {
      re = prod_of(kind, ar, br, axes_a, axes_b, n);
      im = prod_of(kind, ar, bi, axes_a, axes_b, n);
    } else {
      re = dtx_sub(prod_of(kind, ar, br, axes_a, axes_b, n), prod_of(kind, ai, bi, axes_a, axes_b, n));
      im = dtx_add(prod_of(kind, ar, bi, axes_a, axes_b, n), prod_of(kind, ai, br, axes_a, axes_b, n));
    }
  }
  return close_scope(join_like(re, im));
}

dtx_array *dtxa_cx_cumulative(const dtx_array *a, int op, int axis) {
  static const char *names[] = {"", "dtx_cumsum", "dtx_cumprod", "dtx_nancumsum", "dtx_nancumprod"};
  int ax = axis < 0 ? axis + a->ndim : axis;
  if (ax < 0 || ax >= a->ndim) {
    dtxi_fail(DTX_EINVAL, "%s: axis %d is out of range for a %d-d array", names[op], axis, a->ndim);
    return NULL;
  }
  if (!open_scope()) return NULL;
  const dtx_array *x = a;
  if (op == DTX_NANCUMSUM || op == DTX_NANCUMPROD) /* NumPy: a NaN element (either part) counts as 0 or 1 */
    x = dtx_where(dtx_isnan(a), dtx_scalar(a->cl, op == DTX_NANCUMSUM ? 0.0 : 1.0), a);
  if (x == NULL) return close_scope(NULL);
  if (op == DTX_CUMSUM || op == DTX_NANCUMSUM) /* each part's running sum */
    return close_scope(wrapped(dtx_cumsum(dtxa_cx_pairs(x), ax)));
  return close_scope(wrapped(dtxa_ret(dtxa_cx_cumprod(dtxa_cx_pairs(x), ax)))); /* kernels/scan.h: cplx */
}

dtx_status dtxa_cx_persist(const dtx_array *a, const int *where, dtx_array **out) {
  if (!open_scope()) return DTX_ENOMEM;
  dtx_array *p = NULL;
  dtx_status rc = dtx_array_persist(dtxa_cx_pairs(a), where, &p);
  dtx_array *r = close_scope(rc == DTX_OK ? wrapped(p) : NULL);
  if (r == NULL) return rc != DTX_OK ? rc : DTX_ENOMEM;
  *out = dtxa_ret(r);
  return DTX_OK;
}
