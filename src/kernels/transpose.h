/*
 * kernels/transpose.h - a tiled out-of-place transpose of a float32 / float64
 * (or complex64 / complex128: the pairs moved whole, not conjugated) matrix, for the kernels that hand LAPACK
 * / BLAS the other layout (la.c, matmul.c). Any thread; no state.
 */
#ifndef DTX_KERNELS_TRANSPOSE_H
#define DTX_KERNELS_TRANSPOSE_H

#include <stdint.h>

/* dst[i + j ldd] = src[i lds + j] for an r x c src of esz-byte elements (16:
 * complex128, 8: float64 or complex64, 4: float32): row-major to column-major, or back with the roles
 * swapped. */
void dtxk_transpose(char *dst, int64_t ldd, const char *src, int64_t lds, int64_t r, int64_t c, int esz);

#endif
