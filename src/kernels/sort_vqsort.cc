/*
 * kernels/sort_vqsort.cc - the CPU lane sort's fast path: Highway's vqsort
 * (Debian libhwy-dev; a vectorised quicksort chosen for the CPU at run
 * time: AVX-512, AVX2, ...), behind a C entry point. The one C++ file of
 * the library, because vqsort is a C++ API; no exceptions cross it.
 * Floats come as values: kernels/sort.c has moved NaN and +inf out of the
 * lane and puts the signs of zeros back after.
 * Threads: each calling thread has its own Sorter (thread_local), as vqsort
 * asks.
 */
#include <hwy/contrib/sort/vqsort.h>

#include <cstdint>

#include "kernels/elem.h"

extern "C" int dtxk_vqsort(int dtype, void *x, int64_t n) {
  static thread_local hwy::Sorter sorter;
  size_t m = static_cast<size_t>(n);
  switch (dtype) {
    case DTXK_F64: /* NaN, +inf and the signs of zeros handled by kernels/sort.c */
      sorter(static_cast<double *>(x), m, hwy::SortAscending());
      return 0;
    case DTXK_F32:
      sorter(static_cast<float *>(x), m, hwy::SortAscending());
      return 0;
    case DTXK_I32:
      sorter(static_cast<int32_t *>(x), m, hwy::SortAscending());
      return 0;
    case DTXK_I64:
      sorter(static_cast<int64_t *>(x), m, hwy::SortAscending());
      return 0;
    case -32: /* unsigned keys (kernels/sort.c: floats turned into ordered keys) */
      sorter(static_cast<uint32_t *>(x), m, hwy::SortAscending());
      return 0;
    case -64:
      sorter(static_cast<uint64_t *>(x), m, hwy::SortAscending());
      return 0;
    default:
      return -1;
  }
}
