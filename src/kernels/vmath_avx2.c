/*
 * kernels/vmath_avx2.c - the strips of kernels/vmath.h for avx2 (made by
 * kernels/vmath_isa.h): SLEEF's d4 / f8 functions. Compiled for that
 * instruction set alone; kernels/vmath.c calls them only on a CPU that has
 * it. No state.
 */
#if defined(DTX_HAVE_SLEEF) && defined(__x86_64__)
#pragma GCC target("avx2,fma")
#include <immintrin.h>
#include <sleef.h>

#define VD __m256d
#define VF __m256
#define WD 4
#define WF 8
#define LDD _mm256_loadu_pd
#define STD _mm256_storeu_pd
#define LDF _mm256_loadu_ps
#define STF _mm256_storeu_ps
#define SD(fn, acc) Sleef_##fn##d4_##acc##avx2
#define SF(fn, acc) Sleef_##fn##f8_##acc##avx2
#define SQRTD _mm256_sqrt_pd
#define SQRTF _mm256_sqrt_ps
#define TABLE dtxk_vm_avx2
#define ISA "avx2"
#include "kernels/vmath_isa.h"
#else
typedef int dtxk_vmath_avx2_unused; /* no SLEEF: kernels/vmath.c does not ask for these */
#endif
