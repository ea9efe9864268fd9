/*
 * array/complex.h - complex arrays inside (array/complex.c): a DTXA_CPLX
 * node whose one input is a real array of the part dtype with the shape
 * (shape..., 2), chunked (chunk..., 2). The array operations that take
 * complex arrays hand them here (array.c calls the dtxa_cx_* functions when
 * an operand is complex); everything they return is a new node the caller
 * owns (not entered in any scope), or NULL with the error set, as array.c's
 * own *_node functions.
 */
#ifndef DTXA_COMPLEX_H
#define DTXA_COMPLEX_H

#include "array/array.h"
#include "dtx/complex.h"

static inline int dtxa_is_cx(dtx_dtype t) { return t == DTX_C64 || t == DTX_C128; }
static inline int dtxa_cx_in(const dtx_array *a) { return a != NULL && dtxa_is_cx(a->dtype); }
/* The part dtype: float32 for complex64, float64 for complex128. */
static inline dtx_dtype dtxa_cx_part(dtx_dtype t) { return t == DTX_C64 ? DTX_F32 : DTX_F64; }
/* The real array of pairs behind a complex array. */
static inline const dtx_array *dtxa_cx_pairs(const dtx_array *a) { return a->in[0]; }

/* A complex node over pairs ((shape..., 2) of float32 / float64, rechunked
 * to one chunk along the last axis when it is not). */
dtx_array *dtxa_cx_wrap(const dtx_array *pairs);

dtx_array *dtxa_cx_full(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks, dtx_dtype t,
                        double v);
dtx_array *dtxa_cx_from_host(dtx_cluster *cl, int ndim, const int64_t *shape, const int64_t *chunks,
                             dtx_dtype t, const void *data, dtx_host_mode mode);
dtx_array *dtxa_cx_unary(int op, const dtx_array *a);
dtx_array *dtxa_cx_binary(int op, const dtx_array *a, const dtx_array *b);
/* dtx_clip of complex a: minimum(maximum(a, lo), hi) with NumPy's complex
 * order and NaN rules. */
dtx_array *dtxa_cx_clip(const dtx_array *a, double lo, double hi);
dtx_array *dtxa_cx_where(const dtx_array *c, const dtx_array *a, const dtx_array *b);
dtx_array *dtxa_cx_astype(const dtx_array *a, dtx_dtype t);
dtx_array *dtxa_cx_transpose(const dtx_array *a, const int *perm);
dtx_array *dtxa_cx_slice(const dtx_array *a, int n, const dtx_index *idx);
dtx_array *dtxa_cx_broadcast(const dtx_array *a, int ndim, const int64_t *shape);
dtx_array *dtxa_cx_rechunk(const dtx_array *a, const int64_t *chunks);
dtx_array *dtxa_cx_concat(dtx_array *const *arrays, int n, int axis);
dtx_array *dtxa_cx_reduce(const dtx_array *a, int r, const int *axes, int naxes, const dtx_reduce_opts *opts);
/* The reduced axes axes[0..naxes) (NULL or 0: all) of a, made
 * non-negative and checked (fn names the operation in the messages), into
 * ax[0..*n). */
dtx_status dtxa_cx_axes(const char *fn, const dtx_array *a, const int *axes, int naxes, int *ax, int *n);
/* array/cextreme.c: min / max / argmin / argmax (r) of complex a over
 * axes[0..naxes) (NULL or 0: all), NumPy's lexicographic order; nanmode 0:
 * the first NaN wins (as np.min), 1: NaN skipped (np.nanmin / nanmax: all
 * NaN gives the first element), 2: NaN skipped for nanargmin / nanargmax
 * (NaN is inf + 0j, -inf + 0j for argmax; all NaN gives -1). */
dtx_array *dtxa_cx_extreme(const dtx_array *a, int r, const int *axes, int naxes, int keepdims, int nanmode);
/* kind: 0 matmul, 1 dot, 2 tensordot (axes_a, axes_b, n) */
dtx_array *dtxa_cx_product(int kind, const dtx_array *a, const dtx_array *b, const int *axes_a,
                           const int *axes_b, int n);
/* dtx_cumulative (dtx/scan.h) of a complex array */
dtx_array *dtxa_cx_cumulative(const dtx_array *a, int op, int axis);
/* array/scan.c: the running complex product along axis (in range, not the
 * last) of the pairs of a complex array: a scan node over the pairs, the
 * caller's (not in a scope). */
dtx_array *dtxa_cx_cumprod(const dtx_array *pairs, int axis);
dtx_status dtxa_cx_persist(const dtx_array *a, const int *where, dtx_array **out);
/* array/cmath.c, array/cprod.c: called inside complex.c's private scope,
 * their results entered in it. exp, log, sqrt, sin, cos, tanh of complex a
 * (op: DTX_EXP .. DTX_TANH); a ** b of two complex arrays of one dtype and
 * shape, in chunk (NULL: a's); the product over axes[0..naxes) (distinct,
 * in range) of complex a. */
dtx_array *dtxa_cx_func(int op, const dtx_array *a);
dtx_array *dtxa_cx_pow(const dtx_array *a, const dtx_array *b, const int64_t *chunk);
dtx_array *dtxa_cx_prod(const dtx_array *a, const int *axes, int naxes, int keepdims, int split_every);
/* dtx_round of complex a: each part rounded (NumPy's way); entered in the
 * thread's scope, as the public functions' results. */
dtx_array *dtxa_cx_round(const dtx_array *a, int decimals);
/* The refusal of an operation that does not take complex arrays. */
dtx_status dtxa_cx_refuse(const char *op);

#endif /* DTXA_COMPLEX_H */
