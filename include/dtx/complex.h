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
 *   - views and joins: dtx_slice, dtx_transpose, dtx_broadcast_to,
 *     dtx_rechunk, dtx_concatenate, dtx_stack,
 *   - dtx_sum and dtx_mean over any axes (and dtx_reduce with those two),
 *     dtx_cumsum (dtx/scan.h),
 *   - dtx_matmul, dtx_dot, dtx_tensordot (four real products, or two when
 *     one operand is real),
 *   - dtx_array_compute / _as, dtx_array_persist, dtx_array_graph,
 *     dtx_save_npy / dtx_load_npy ('<c8', '<c16'),
 *   - the FFTs of dtx/fft.h.
 * Everything else given a complex array fails with DTX_ENOTSUP naming the
 * operation (for instance comparisons by order, exp, prod, var, sort,
 * cumprod, the NaN-skipping reductions, linalg, histogram: NumPy defines
 * some of them; dtx does not yet), never computing from the real part alone.
 *
 * Inside, a complex array is a real array of its part dtype with one more
 * axis of length 2 (in one chunk) at the end, so its chunks are the
 * interleaved pairs and every operation above is built from real ones that
 * fuse as usual.
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
