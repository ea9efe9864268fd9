/*
 * kernels/la.h - the argument blob of dense linear-algebra block tasks
 * (array/la_*.c builds them; kernels/la.c runs them on CPU threads with
 * LAPACKE and the CBLAS, kernels/la.cu on GPUs with cuSOLVER and cuBLAS).
 *
 * A task reads matrix pieces: rows x cols elements of the dtype, C order
 * with row stride ld, starting off elements into one of its inputs (packed
 * outputs of other linalg tasks included). The blob's dtype is float32,
 * float64, complex64 or complex128 (DTXK_LA_C64 / _C128, dtx_dtype's
 * values): a complex element is one (re, im) pair of the part type, as the
 * pairs of a complex array's chunks and LAPACK's complex types lay it, and
 * rows, cols, ld and off count such elements (dtxk_la_esz bytes each).
 * For complex dtypes every transpose below (flags TRANS_A / TRANS_B, Q^T,
 * V^T, L^T) is the conjugate transpose, and the SVD's S is k complex
 * values (s, 0) so that the packed output stays one element type.
 *
 *   QR      pieces stacked vertically (m x n in all) -> packed Q (m x k) then
 *           R (k x n), k = min(m, n)           (geqrf + orgqr)
 *   GEMM    out (m x n) = op(p0) @ op(p1); flags TRANS_A / TRANS_B;
 *           p1.input -1: op(p0) itself (a copy of m x n of it)
 *   COPY    out (m x n) = p0, or zeros / the identity (p0.input -1, flags
 *           EYE); flags UPPER / LOWER zero the other triangle
 *   SVD     p0 (m x n) -> packed U (m x k), S (k), V^T (k x n)   (gesdd)
 *   POTRF   p0 (n x n, lower triangle read) -> L, upper triangle zeroed;
 *           fails when not positive definite
 *   TRSM    out = p0 op(T)^-1 (flags RIGHT) or op(T)^-1 p0, T = p1
 *           triangular: flags UPPER (else lower), TRANS_A (op = transpose)
 *   UPDATE  out (m x n) = p0 - p1 @ p2^T  (flags SYRK: p1 == p2, a diagonal
 *           block: only the lower triangle is made)
 *   SOLVE   out (n x k) = p0^-1 p1 (getrf + getrs); fails when singular
 */
#ifndef DTXK_LA_H
#define DTXK_LA_H

#include <stdint.h>

#include "dtx/graph.h"
#include "kernels/elem.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  DTXK_LA_QR = 1,
  DTXK_LA_GEMM,
  DTXK_LA_COPY,
  DTXK_LA_SVD,
  DTXK_LA_POTRF,
  DTXK_LA_TRSM,
  DTXK_LA_UPDATE,
  DTXK_LA_SOLVE,
};

/* The complex dtypes of a blob (dtx_dtype's DTX_C64, DTX_C128). */
enum { DTXK_LA_C64 = 13, DTXK_LA_C128 = 14 };

/* Bytes of one element of blob dtype t (0: not a linalg dtype). */
static inline int dtxk_la_esz(int32_t t) {
  return t == DTXK_F32 ? 4 : t == DTXK_F64 || t == DTXK_LA_C64 ? 8 : t == DTXK_LA_C128 ? 16 : 0;
}
static inline int dtxk_la_is_cx(int32_t t) { return t == DTXK_LA_C64 || t == DTXK_LA_C128; }

enum {
  DTXK_LA_TRANS_A = 1,
  DTXK_LA_TRANS_B = 2,
  DTXK_LA_UPPER = 4,
  DTXK_LA_LOWER = 8,
  DTXK_LA_EYE = 16,
  DTXK_LA_RIGHT = 32,
  DTXK_LA_SYRK = 64,
};

#define DTXK_LA_MAXP 16

typedef struct dtxk_la_piece {
  int32_t input; /* task input, -1: none */
  int32_t pad;
  int64_t off, rows, cols, ld; /* in elements */
} dtxk_la_piece;

typedef struct dtxk_la {
  int32_t op, dtype; /* DTXK_LA_*, DTXK_F32 / DTXK_F64 / DTXK_LA_C64 / DTXK_LA_C128 */
  int32_t flags, npieces;
  int64_t m, n; /* the output's (QR: stacked input's) rows and columns */
  dtxk_la_piece p[DTXK_LA_MAXP];
} dtxk_la;

/* Bytes of a blob (one size: at most DTXK_LA_MAXP pieces). */
#define DTXK_LA_SIZE(np) ((void)(np), sizeof(dtxk_la))

int dtxk_la_cpu(dtx_task_ctx *ctx);
/* GPU builds: cuSOLVER / cuBLAS (kernels/la.cu); nocuda.c otherwise. */
int dtxk_la_cuda(dtx_task_ctx *ctx);
/* 1 when the build has LAPACKE (the CPU side of every op), else 0. */
int dtxk_la_available(void);

#ifdef __cplusplus
}
#endif
#endif /* DTXK_LA_H */
