/*
 * kernels/vmath.c - chooses the strips of kernels/vmath.h for the CPU the
 * process runs on, once: AVX-512F, else AVX2 with FMA, else SSE2 (every
 * x86-64). Any thread; the choice is made under pthread_once.
 */
#include "kernels/vmath.h"

#include <pthread.h>

#include "kernels/elem.h"

static const dtxk_vm_table *chosen;
static pthread_once_t once = PTHREAD_ONCE_INIT;

const dtxk_vm_table *dtxk_vmath_table(int k) {
#if defined(DTX_HAVE_SLEEF) && defined(__x86_64__)
  __builtin_cpu_init();
  if (k == 0 && __builtin_cpu_supports("avx512f")) return &dtxk_vm_avx512;
  if (k == 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &dtxk_vm_avx2;
  if (k == 2) return &dtxk_vm_sse2;
#endif
  (void)k;
  return NULL;
}

static void choose(void) {
  for (int k = 0; k < 3 && chosen == NULL; k++) chosen = dtxk_vmath_table(k);
}

static const dtxk_vm_table *table(void) {
  pthread_once(&once, choose);
  return chosen;
}

static int slot(int dtype) { return dtype == DTXK_F32 ? 0 : dtype == DTXK_F64 ? 1 : -1; }

dtxk_vm_un dtxk_vmath_unary(int op, int dtype) {
  const dtxk_vm_table *t = table();
  int s = slot(dtype);
  if (t == NULL || s < 0 || op < DTXK_UN_EXP || op > DTXK_UN_TANH) return NULL;
  return t->un[op - DTXK_UN_EXP][s];
}

dtxk_vm_bin dtxk_vmath_pow(int dtype) {
  const dtxk_vm_table *t = table();
  int s = slot(dtype);
  return t == NULL || s < 0 ? NULL : t->pow[s];
}

const char *dtxk_vmath_isa(void) {
  const dtxk_vm_table *t = table();
  return t == NULL ? "none" : t->isa;
}
