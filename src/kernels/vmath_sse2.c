/*
 * kernels/vmath_sse2.c - the strips of kernels/vmath.h for sse2 (made by
 * kernels/vmath_isa.h): SLEEF's d2 / f4 functions. Compiled for that
 * instruction set alone; kernels/vmath.c calls them only on a CPU that has
 * it. No state.
 */
#if defined(DTX_HAVE_SLEEF) && defined(__x86_64__)
#pragma GCC target("sse2")
#include <immintrin.h>
#include <sleef.h>

#define VD __m128d
#define VF __m128
#define WD 2
#define WF 4
#define LDD _mm_loadu_pd
#define STD _mm_storeu_pd
#define LDF _mm_loadu_ps
#define STF _mm_storeu_ps
#define SD(fn, acc) Sleef_##fn##d2_##acc##sse2
#define SF(fn, acc) Sleef_##fn##f4_##acc##sse2
#define SQRTD _mm_sqrt_pd
#define SQRTF _mm_sqrt_ps
#define TABLE dtxk_vm_sse2
#define ISA "sse2"
#include "kernels/vmath_isa.h"
#else
typedef int dtxk_vmath_sse2_unused; /* no SLEEF: kernels/vmath.c does not ask for these */
#endif
