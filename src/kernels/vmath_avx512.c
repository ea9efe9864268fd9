/*
 * kernels/vmath_avx512.c - the strips of kernels/vmath.h for avx512f (made by
 * kernels/vmath_isa.h): SLEEF's d8 / f16 functions. Compiled for that
 * instruction set alone; kernels/vmath.c calls them only on a CPU that has
 * it. No state.
 */
#if defined(DTX_HAVE_SLEEF) && defined(__x86_64__)
#pragma GCC target("avx512f")
#include <immintrin.h>
#include <sleef.h>

#define VD __m512d
#define VF __m512
#define WD 8
#define WF 16
#define LDD _mm512_loadu_pd
#define STD _mm512_storeu_pd
#define LDF _mm512_loadu_ps
#define STF _mm512_storeu_ps
#define SD(fn, acc) Sleef_##fn##d8_##acc##avx512f
#define SF(fn, acc) Sleef_##fn##f16_##acc##avx512f
#define SQRTD _mm512_sqrt_pd
#define SQRTF _mm512_sqrt_ps
#define TABLE dtxk_vm_avx512
#define ISA "avx512f"
#include "kernels/vmath_isa.h"
#else
typedef int dtxk_vmath_avx512_unused; /* no SLEEF: kernels/vmath.c does not ask for these */
#endif
