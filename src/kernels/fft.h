/*
 * kernels/fft.h - the argument blob of an FFT task, written by the array
 * layer (array/fft.c) and read by the CPU implementation (kernels/fft.c, FFTW)
 * and the CUDA one (kernels/fft.cu, cuFFT).
 *
 * An FFT task transforms one chunk that holds the whole of every transformed
 * axis (Dask's rule): input and output are C-ordered chunks of the shapes
 * below, which agree on every axis that is not transformed. Complex elements
 * are pairs (re, im) of float or double, as NumPy's complex64 / complex128.
 *   C2C  complex -> complex, every transformed axis of length n on both sides
 *   R2C  real -> complex, the last transformed axis n reals -> n/2+1 values
 *   C2R  complex -> real, the last transformed axis n/2+1 values -> n reals
 * The output is multiplied by scale (NumPy's norm: 1, 1/n or 1/sqrt(n)).
 * No pointers inside: the blob is copied as bytes.
 */
#ifndef DTXK_FFT_H
#define DTXK_FFT_H

#include <stdint.h>

#include "dtx/graph.h"
#include "kernels/program.h"

enum { DTXK_FFT_C2C = 1, DTXK_FFT_R2C = 2, DTXK_FFT_C2R = 3 };

typedef struct dtxk_fft {
  int32_t kind;                /* DTXK_FFT_* */
  int32_t sign;                /* C2C: -1 forward, +1 backward (FFTW's sign) */
  int32_t prec;                /* 4: single (float, complex64), 8: double */
  int32_t ndim;                /* of the chunks, 1..DTXK_MAX_DIMS */
  int32_t naxes;               /* transformed axes, 1..ndim */
  int32_t axes[DTXK_MAX_DIMS]; /* distinct; for R2C / C2R the last one is halved */
  int64_t in_shape[DTXK_MAX_DIMS];
  int64_t out_shape[DTXK_MAX_DIMS];
  double scale;
  /* 0: the input is one chunk (in_shape). Else (CPU tasks only) the input
   * is npieces task inputs, the chunks of the array the operand was
   * rechunked from, read in place instead of a materialized rechunk: a 2-d
   * C2C transform along axis 0 whose rows [p * piece_rows, ..) are in piece
   * p, a C-ordered chunk piece_stride elements wide of which columns
   * piece_coff .. piece_coff + in_shape[1] are this task's. */
  int64_t npieces, piece_rows, piece_stride, piece_coff;
} dtxk_fft;

#ifdef __cplusplus
extern "C" {
#endif

/* Whether the blob is consistent (axes in range and distinct, shapes that
 * agree as said above, every transformed length >= 1); NULL when it is, else
 * what is wrong. */
const char *dtxk_fft_check(const dtxk_fft *f);
/* Bytes of the input and output chunks. */
int64_t dtxk_fft_in_bytes(const dtxk_fft *f);
int64_t dtxk_fft_out_bytes(const dtxk_fft *f);
/* The transformed (logical) length of axis axes[i]: for C2R the real length. */
int64_t dtxk_fft_len(const dtxk_fft *f, int i);

/* Transforms one chunk: in (dtxk_fft_in_bytes) into out (dtxk_fft_out_bytes),
 * host memory; f must pass dtxk_fft_check. 0, or -1 with *why set. */
int dtxk_fft_run(const dtxk_fft *f, const void *in, void *out, const char **why);
/* The FFT library the CPU tasks use ("fftw-3.3.10"), NULL without one. */
const char *dtxk_fft_library(void);
/* Whether the CUDA implementation handles f: at most 3 transformed axes,
 * consecutive and in increasing order (cuFFT's layouts); the array layer
 * gives other FFT tasks no CUDA implementation, so they run on CPU threads. */
int dtxk_fft_cuda_supported(const dtxk_fft *f);
/* The task implementations: CPU (FFTW) and CUDA (cuFFT; in builds without
 * CUDA a function that fails saying so). */
int dtxk_fft_cpu(dtx_task_ctx *ctx);
int dtxk_fft_cuda(dtx_task_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* DTXK_FFT_H */
