/*
 * kernels/vmath.h - vectorised math for the CPU strip loops of fused tasks
 * (kernels/fused_general.c): exp, log, sqrt, sin, cos, tanh and pow of
 * float32 / float64 strips through SLEEF (Debian libsleef-dev), the
 * vector width chosen once for the CPU the process runs on (AVX-512F, AVX2
 * with FMA, else SSE2).
 *
 * Accuracy (SLEEF's bounds, of the exact result): exp, log, sin, cos, tanh
 * and pow within 1.0 ULP (SLEEF's u10 functions, which keep that bound for
 * trigonometric arguments of any size), sqrt the instruction (correctly
 * rounded);
 * special values (inf, nan, signed zeros) as C99's functions give them.
 * glibc's scalar functions, which the strips called before, are also within
 * 1 ULP, so the two agree within 2 ULP (tests/vmath_test.cc checks it).
 *
 * Without SLEEF (or off x86-64) dtxk_vmath_* return NULL and the strip
 * loops call libm per element, as before. Thread-safe: the tables are
 * chosen once (pthread_once) and read-only after.
 */
#ifndef DTXK_VMATH_H
#define DTXK_VMATH_H

#ifdef __cplusplus
extern "C" {
#endif

/* A strip: d[i] = f(a[i]) / f(a[i], b[i]) for i < n, of one dtype. */
typedef void (*dtxk_vm_un)(void *d, const void *a, int n);
typedef void (*dtxk_vm_bin)(void *d, const void *a, const void *b, int n);

/* The strip of unary op `op` (kernels/elem.h's ids: DTXK_UN_EXP ..
 * DTXK_UN_TANH) or of pow for dtype (DTXK_F32 / DTXK_F64), or NULL (no
 * vector version). */
dtxk_vm_un dtxk_vmath_unary(int op, int dtype);
dtxk_vm_bin dtxk_vmath_pow(int dtype);
/* The instruction set the strips use ("avx512f", "avx2", "sse2"), or
 * "none" (libm per element). */
const char *dtxk_vmath_isa(void);

/* One instruction set's strips (kernels/vmath_isa.h makes them). Index:
 * [op - DTXK_UN_EXP][0 float32, 1 float64] for exp, log, sqrt, sin, cos, tanh. */
typedef struct dtxk_vm_table {
  const char *isa;
  dtxk_vm_un un[6][2];
  dtxk_vm_bin pow[2];
} dtxk_vm_table;

extern const dtxk_vm_table dtxk_vm_avx512, dtxk_vm_avx2, dtxk_vm_sse2; /* with SLEEF only */
/* Instruction set k's table (0 AVX-512F, 1 AVX2 with FMA, 2 SSE2) when this
 * build has it and this CPU runs it, else NULL (the tests compare each). */
const dtxk_vm_table *dtxk_vmath_table(int k);

#ifdef __cplusplus
}
#endif

#endif /* DTXK_VMATH_H */
