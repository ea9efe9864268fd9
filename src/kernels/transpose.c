/*
 * kernels/transpose.c - the tiled transpose of kernels/transpose.h.
 *
 * The copy runs in tiles of TILE source rows, so that the writes go along
 * TILE consecutive elements of each destination column and the tile's reads
 * stay in L1 (a row at a time wrote each element to another page: 15% of a
 * tall QR's time). Any thread; no state.
 */
#include "kernels/transpose.h"

#define TILE 32
#define TRANSPOSE(T)                                                       \
  do {                                                                     \
    T *d = (T *)(void *)dst;                                               \
    const T *s = (const T *)(const void *)src;                             \
    for (int64_t i0 = 0; i0 < r; i0 += TILE) {                             \
      int64_t i1 = i0 + TILE < r ? i0 + TILE : r;                          \
      for (int64_t j = 0; j < c; j++)                                      \
        for (int64_t i = i0; i < i1; i++) d[i + j * ldd] = s[i * lds + j]; \
    }                                                                      \
  } while (0)

typedef struct pair64 {
  double re, im;
} pair64;

void dtxk_transpose(char *dst, int64_t ldd, const char *src, int64_t lds, int64_t r, int64_t c, int esz) {
  if (esz == 16)
    TRANSPOSE(pair64);
  else if (esz == 8)
    TRANSPOSE(double);
  else
    TRANSPOSE(float);
}
