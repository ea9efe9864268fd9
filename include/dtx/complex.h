/*
 * dtx/complex.h - complex arrays: complex64 and complex128 (DTX_C64,
 * DTX_C128 in dtx/array.h), as NumPy's.
 *
 * Elements are pairs (re, im) of float or double, interleaved in C order: a
 * complex128 buffer is what `double _Complex *` or `std::complex<double> *`
 * points to, and what NumPy's complex128 arrays hold, so dtx_from_host,
 * dtx_array_compute, dtx_save_npy and dtx_load_npy take and give them as
 * they are.
 *
 * What takes complex arrays (NumPy's rules and dtypes, NEP 50 promotion;
 * complex64 with an integer wider than 16 bits, or with float64, is
 * complex128):
 *   - these functions, and dtx_zeros / dtx_ones / dtx_full (the value is the
 *     real part), dtx_from_host, dtx_astype both ways (complex to a real
 *     dtype keeps the real part, as NumPy does after its ComplexWarning;
 *     complex to bool is "either part non-zero"),
 *   - dtx_add, dtx_sub, dtx_mul, dtx_div (NumPy's division: Smith's method,
 *     the same formula, so the same roundings), dtx_eq, dtx_ne, dtx_neg,
 *     dtx_abs (|z| computed with scaling, as hypot: no overflow for large
 *     parts; within 2 ulp of NumPy's hypot), dtx_where, and dtx_binary_scalar
 *     with a real Python scalar,
 *   - dtx_exp, dtx_log, dtx_sqrt, dtx_sin, dtx_cos, dtx_tanh: C99's cexp,
 *     clog, csqrt, csin, ccos, ctanh (cexpf, ... for complex64), the
 *     functions NumPy 2 calls, so with the same libm the results are NumPy's
 *     bit for bit, special values included (inf and nan parts, signed zeros,
 *     the branch cuts: sqrt(-1 - 0j) is -1j, log(-1 - 0j) is -pi j; no
 *     spurious overflow: log(1e308 + 1e308j) is finite). These run as tasks
 *     of their own, one per chunk on CPU threads (also on GPU clusters: no
 *     CUDA implementation, the input chunks come to host memory), and do not
 *     fuse with the operations around them,
 *   - dtx_pow with a complex base or exponent (the other operand real, a
 *     Python scalar or complex; NumPy's dtypes): NumPy's complex power,
 *     z ** 0 is 1, 0 ** w is 0 when Re w > 0 else nan + nan j, integer real
 *     exponents in (-100, 100) by repeated multiplication (a negative one
 *     then 1 / that, Smith's division), others C99's cpow; tasks of their
 *     own on CPU threads as above,
 *   - dtx_rint and dtx_round (each part, as NumPy), dtx_isnan and dtx_isinf
 *     (either part), dtx_isfinite (both parts),
 *   - NumPy's order of complex values: lexicographic, the real parts first,
 *     then the imaginary ones. dtx_lt / le / gt / ge (dtx_binary, also with
 *     a real array or Python scalar, made complex with a zero imaginary
 *     part) are NumPy's CLT .. CGE: a < b is (ar < br and neither
 *     imaginary part NaN) or (ar == br and ai < bi), so false when a part
 *     is NaN. dtx_minimum / dtx_maximum give a when a is NaN (either part)
 *     or a <= b (>= for maximum), else b: NaN propagates, the first operand
 *     wins ties. dtx_clip (real bounds) is minimum(maximum(a, lo), hi) by
 *     those rules, as NumPy's clip of complex: a NaN bound gives nan + 0j
 *     for the non-NaN elements, lo > hi gives hi. dtx_min / dtx_max over any
 *     axes and dtx_argmin / dtx_argmax over one axis or all (dtx_reduce
 *     too, keepdims): the first element that is NaN when a slice has one,
 *     else the first lexicographic extreme ("first" in C order of the
 *     reduced axes; NumPy walks a non-contiguous input in memory order),
 *     built from real reductions of the parts and of each element's
 *     position; an empty reduced axis is DTX_EINVAL, as for real arrays,
 *   - the NaN-skipping reductions of dtx/stats.h, as NumPy's nanfunctions
 *     (an element is NaN when either part is): dtx_nansum / dtx_nanprod
 *     (NaN counts as 0 / 1), dtx_nanmean (that sum divided by the count as
 *     NumPy does, a complex division), dtx_nanvar / dtx_nanstd (the sum of
 *     |z - mean|^2 over the others by their count less ddof: real, of the
 *     part dtype), dtx_nanmin / dtx_nanmax (numpy.fmin / fmax reduced:
 *     NaN skipped, a lane of NaNs gives its first element as it is),
 *     dtx_nanargmin / dtx_nanargmax (NaN counts as inf + 0j, -inf + 0j for
 *     nanargmax, as NumPy replaces it; -1 for a lane of NaNs, where NumPy
 *     raises, as for real arrays),
 *   - dtx_cumsum, dtx_nancumsum (dtx/scan.h: each part's running sum, a NaN
 *     element counting as 0), dtx_cumprod, dtx_nancumprod (a NaN element
 *     counting as 1 + 0j): the running product by NumPy's complex multiply,
 *     (ar br - ai bi, ar bi + ai br), in the part dtype, a scan over the
 *     pairs (kernels/scan.h, CPU and CUDA). With several chunks along the
 *     axis each chunk's product is taken first (the carry), so values agree
 *     with NumPy to rounding, and with infinities among the factors inf * 0
 *     may meet in another order (nan where NumPy has inf, as for prod),
 *   - dtx_sort (dtx/sort.h) in NumPy's order of complex values: the values
 *     without a NaN part lexicographically, then those with a real part and
 *     an imaginary NaN (by the real part), then a real NaN and an imaginary
 *     part (by it), then both NaN; -0.0 sorts before 0.0 (NumPy: equal, so
 *     either order); sort tasks over the pairs on CPU threads (also on GPU
 *     clusters),
 *   - dtx_topk and dtx_argtopk (dtx/sort.h) in that order (NumPy's
 *     comparison: -0.0 and 0.0 equal, the values with a NaN part the
 *     largest, equal within a category as above but both-NaN ones all
 *     equal): the |k| largest, largest first, or smallest, smallest first;
 *     of equal values the one with the smaller index first (dask leaves
 *     equal values in the order its partition and sort leave them, which
 *     changes with the chunks: the values agree, their indices or the signs
 *     of zeros / NaN payloads among ties may not); topk tasks over the
 *     pairs on CPU threads (also on GPU clusters),
 *   - dtx_take and dtx_take_array (dtx/index.h): along an axis the same
 *     take of the pairs, of the flattened array (DTX_NO_AXIS) the takes of
 *     the two parts joined,
 *   - dtx_mask_select, dtx_unique and dtx_unique_all (dtx/index.h): the
 *     selection (or the distinct values, NumPy's order, NaNs one value) as
 *     a complex array of unknown length, which is computed, persisted,
 *     saved or made unique as it is; other operations on it ask for
 *     dtx_array_compute_chunk_sizes first,
 *   - dtx/linalg.h: dtx_linalg_tsqr, qr, svd, svd_compressed, lstsq,
 *     solve, inv, cholesky (NumPy's semantics with conjugate transposes:
 *     Q^H Q = I, a = U S V^H with S real, L L^H = a; solve and lstsq
 *     promote mixed real / complex operands as NumPy; block tasks over the
 *     pairs calling LAPACK's z / c functions, cuSOLVER's on GPUs), and
 *     dtx_linalg_norm: the norm of |x|, but the nuclear and 2-norms of a
 *     matrix from its singular values,
 *   - views and joins: dtx_slice, dtx_transpose, dtx_broadcast_to,
 *     dtx_rechunk, dtx_concatenate, dtx_stack,
 *   - reductions over any axes (dtx_reduce with these too): dtx_sum,
 *     dtx_mean; dtx_prod (per axis, a product along each chunk then a tree
 *     of products of split_every inputs, tasks on CPU threads; each product
 *     starts from the first value, as NumPy's, in complex128 for complex64
 *     too, rounded once, as dtx's float32 reductions); dtx_var and dtx_std
 *     (NumPy's: the mean of |z - mean|^2, a real array of the part dtype,
 *     ddof as for real arrays; computed as the sum of the parts' variances,
 *     in float64 for complex64 too); dtx_any and dtx_all (a value is true
 *     when either part is non-zero),
 *   - dtx_matmul, dtx_dot, dtx_tensordot (four real products, or two when
 *     one operand is real),
 *   - dtx_array_compute / _as, dtx_array_persist, dtx_array_graph,
 *     dtx_save_npy / dtx_load_npy ('<c8', '<c16'),
 *   - the FFTs of dtx/fft.h.
 * Everything else given a complex array fails with DTX_ENOTSUP naming the
 * operation (for instance floor_divide / mod and percentile, which NumPy
 * refuses too; histogram, which NumPy computes from the real parts with a
 * warning), never computing from the real part
 * alone.
 *
 * Inside, a complex array is a real array of its part dtype with one more
 * axis of length 2 (in one chunk) at the end, so its chunks are the
 * interleaved pairs and every operation above is built from real ones that
 * fuse as usual, but for the functions, power and prod, whose tasks call C
 * functions on the pairs, cumprod, a scan task over the pairs, sort and
 * topk, whose tasks compare the pairs, and the linalg decompositions, whose
 * block tasks read the pairs as LAPACK's complex matrices.
 */
#ifndef DTX_COMPLEX_H
#define DTX_COMPLEX_H

#include "dtx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

/* re + 1j * im: re and im real arrays, broadcast together (NumPy's rules);
 * the dtype is NumPy's for that expression: complex64 when their promoted
 * dtype is float16 or float32, else complex128 (integers and bool too). */
DTX_API dtx_array *dtx_complex(const dtx_array *re, const dtx_array *im);
/* A Python complex scalar (re + im*1j): like dtx_scalar, weakly typed, so
 * with a complex64 array it stays complex64, and with a float32 array it
 * makes complex64. */
DTX_API dtx_array *dtx_scalar_complex(dtx_cluster *cl, double re, double im);
/* The real part, the imaginary part (of a real array: zeros of its dtype),
 * the complex conjugate (of a real array: the array), as numpy.real, imag,
 * conj. */
DTX_API dtx_array *dtx_real(const dtx_array *a);
DTX_API dtx_array *dtx_imag(const dtx_array *a);
DTX_API dtx_array *dtx_conj(const dtx_array *a);

#ifdef __cplusplus
}
#endif

#endif /* DTX_COMPLEX_H */
