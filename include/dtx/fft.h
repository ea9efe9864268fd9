/*
 * dtx/fft.h - discrete Fourier transforms of arrays, as numpy.fft and
 * dask.array.fft: fft / ifft, rfft / irfft, fft2 / ifft2, fftn / ifftn,
 * rfftn / irfftn.
 *
 * Dask's rule: every transformed axis must be in one chunk (rechunk it
 * first, e.g. dtx_rechunk with that axis's full length); the other axes keep
 * their chunks and each chunk is one task (FFTW on CPU threads, cuFFT on
 * GPUs, where a chunk's transformed axes are at most 3 and consecutive;
 * other FFT tasks run on CPU threads). Otherwise NumPy 2's answers:
 *   - dtypes: float32, float16 and complex64 give complex64 (rfft: float32
 *     into irfft), everything else complex128 (irfft: float64); rfft /
 *     rfftn of a complex array is DTX_EINVAL (NumPy's TypeError).
 *   - n (or s[i]): the length the axis is cropped or zero-padded to before
 *     the transform; 0 keeps the axis's length (NumPy's None); irfft's
 *     default is 2 (m - 1) for an axis of m values. A length that leaves no
 *     points is DTX_EINVAL ("Invalid number of FFT data points").
 *   - norm: DTX_FFT_BACKWARD (NumPy's default: the inverse divides by the
 *     number of points), DTX_FFT_ORTHO (both by its square root),
 *     DTX_FFT_FORWARD (the forward transform divides).
 *   - axes (fftn family): naxes distinct axes, negative counting from the
 *     end; axes NULL: the last naxes axes (naxes 0 with axes NULL: every
 *     axis). s NULL: the axes' lengths. The last of the axes is the halved
 *     one of rfftn / irfftn.
 * Results are complex (dtx/complex.h) but irfft's and irfftn's, which are
 * real.
 */
#ifndef DTX_FFT_H
#define DTX_FFT_H

#include "dtx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dtx_fft_norm {
  DTX_FFT_BACKWARD = 0,
  DTX_FFT_ORTHO = 1,
  DTX_FFT_FORWARD = 2,
} dtx_fft_norm;

DTX_API dtx_array *dtx_fft(const dtx_array *a, int64_t n, int axis, dtx_fft_norm norm);
DTX_API dtx_array *dtx_ifft(const dtx_array *a, int64_t n, int axis, dtx_fft_norm norm);
DTX_API dtx_array *dtx_rfft(const dtx_array *a, int64_t n, int axis, dtx_fft_norm norm);
DTX_API dtx_array *dtx_irfft(const dtx_array *a, int64_t n, int axis, dtx_fft_norm norm);
/* Over axes (NULL: the last two) with lengths s (NULL: as they are). */
DTX_API dtx_array *dtx_fft2(const dtx_array *a, const int64_t *s, const int *axes, dtx_fft_norm norm);
DTX_API dtx_array *dtx_ifft2(const dtx_array *a, const int64_t *s, const int *axes, dtx_fft_norm norm);
DTX_API dtx_array *dtx_fftn(const dtx_array *a, int naxes, const int64_t *s, const int *axes,
                            dtx_fft_norm norm);
DTX_API dtx_array *dtx_ifftn(const dtx_array *a, int naxes, const int64_t *s, const int *axes,
                             dtx_fft_norm norm);
DTX_API dtx_array *dtx_rfftn(const dtx_array *a, int naxes, const int64_t *s, const int *axes,
                             dtx_fft_norm norm);
DTX_API dtx_array *dtx_irfftn(const dtx_array *a, int naxes, const int64_t *s, const int *axes,
                              dtx_fft_norm norm);

#ifdef __cplusplus
}
#endif

#endif /* DTX_FFT_H */
