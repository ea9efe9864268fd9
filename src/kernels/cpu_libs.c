/*
 * kernels/cpu_libs.c - kernels/cpu_libs.h: asks OpenBLAS (when this build
 * links it) for its configuration, kernel and threads, and the CPU for its
 * vector instructions. Any thread; no state.
 */
#include "kernels/cpu_libs.h"

#include <string.h>

#include "kernels/kernels.h"
#include "kernels/vmath.h"

#if defined(DTX_HAVE_OPENBLAS)
char *openblas_get_config(void);
char *openblas_get_corename(void);
int openblas_get_num_threads(void);

/* Whether OpenBLAS's kernel `core` makes use of the CPU's widest vectors. */
static int core_fits(const char *core) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
  static const char *const avx2[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"};
  const char *const *ok = __builtin_cpu_supports("avx512f") ? avx512 : avx2;
  int n = __builtin_cpu_supports("avx512f") ? 3 : 5;
  if (!__builtin_cpu_supports("avx2")) return 1; /* nothing better to ask for */
  for (int i = 0; i < n; i++)
    if (strcmp(core, ok[i]) == 0) return 1;
  return 0;
#else
  (void)core;
  return 1;
#endif
}

static void blas_line(FILE *out) {
  (void)dtxk_blas_name(); /* sets OpenBLAS to one thread of its own: the workers are the parallelism */
  const char *cfg = openblas_get_config(), *core = openblas_get_corename();
  char version[64] = "OpenBLAS";
  const char *sp = cfg != NULL ? strchr(cfg, ' ') : NULL;
  if (sp != NULL) snprintf(version, sizeof version, "OpenBLAS %.*s", (int)strcspn(sp + 1, " "), sp + 1);
  fprintf(out, "  BLAS          %s, %s kernels, %d thread%s per call (one call per worker at once)\n",
          version, core != NULL ? core : "unknown", openblas_get_num_threads(),
          openblas_get_num_threads() == 1 ? "" : "s");
  if (core != NULL && !core_fits(core))
    fprintf(out,
            "  note          OpenBLAS runs its generic %s kernels on this CPU, whose vectors are wider: set "
            "OPENBLAS_CORETYPE=%s in the environment before the program starts (OpenBLAS reads it when it "
            "loads), and check a product against a reference once\n",
            core, __builtin_cpu_supports("avx512f") ? "SkylakeX" : "Haswell");
}
#else
static void blas_line(FILE *out) {
  fprintf(out, "  BLAS          %s (not OpenBLAS: its kernel and threads are not reported)\n",
          dtxk_blas_name());
}
#endif

void dtxk_cpu_libs_report(FILE *out) {
  blas_line(out);
  const char *isa = dtxk_vmath_isa();
  if (strcmp(isa, "none") == 0)
    fputs("  vector math   libm per element (no SLEEF in this build)\n", out);
  else
    fprintf(out, "  vector math   SLEEF, %s strips (exp, log, sin, cos, tanh, pow; within 1 ULP)\n", isa);
}
