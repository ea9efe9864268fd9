/*
 * kernels/matmul.c - the CPU implementation of matmul tasks: one output chunk
 * C (m x n, C order) = sum over the contracted chunks of A_kk B_kk.
 *
 * float32 / float64 go to the BLAS (OpenBLAS when the build found it, a CBLAS
 * otherwise, plain loops without either); an operand read in place with
 * unit column stride is passed as is, one with unit row stride as its
 * transpose, anything else is copied to a contiguous buffer first. Integer
 * and bool products are plain loops (bool: any of the ands, as NumPy;
 * integers wrap), float16 ones loops in float32 rounded once per chunk pair.
 * Each task runs one BLAS call at a time on its worker thread: the worker
 * threads are the parallelism, so OpenBLAS is set to one thread of its own
 * at the first product (as Dask users set OMP_NUM_THREADS=1). An output
 * chunk too big for one worker is computed in row blocks by several tasks
 * (an operand's ext is then a byte offset into its input chunk) and joined
 * by dtxk_rows_join_cpu (array/build.c decides).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/program.h"
#include "kernels/transpose.h"

#if defined(DTX_HAVE_CBLAS)
#include <cblas.h>
#endif
#if defined(DTX_HAVE_OPENBLAS)
void openblas_set_num_threads(int num_threads);
char *openblas_get_config(void);
#endif

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static char blas_name[160] = "plain loops (no BLAS found at build time)";

static void blas_init(void) {
#if defined(DTX_HAVE_OPENBLAS)
  openblas_set_num_threads(1);
  const char *cfg = openblas_get_config();
  snprintf(blas_name, sizeof blas_name, "%s", cfg != NULL ? cfg : "OpenBLAS");
#elif defined(DTX_HAVE_CBLAS)
  snprintf(blas_name, sizeof blas_name, "CBLAS");
#endif
}

const char *dtxk_blas_name(void) {
  pthread_once(&blas_once, blas_init);
  return blas_name;
}

/* A contiguous copy (r x c, C order) of a strided operand. */
static void *pack(const char *src, int64_t r, int64_t c, int64_t rs, int64_t cs, int esz) {
  char *dst = malloc((size_t)(r * c * esz > 0 ? r * c * esz : 1));
  if (dst == NULL) return NULL;
  for (int64_t i = 0; i < r; i++)
    for (int64_t j = 0; j < c; j++)
      memcpy(dst + (i * c + j) * esz, src + (i * rs + j * cs) * esz, (size_t)esz);
  return dst;
}

#define LOOPS(T, ACC)                                                                               \
  static void loops_##T(T *C, const T *A, const T *B, int64_t m, int64_t n, int64_t k, int64_t ars, \
                        int64_t acs, int64_t brs, int64_t bcs) {                                    \
    for (int64_t i = 0; i < m; i++)                                                                 \
      for (int64_t p = 0; p < k; p++) {                                                             \
        T a = A[i * ars + p * acs];                                                                 \
        for (int64_t j = 0; j < n; j++) C[i * n + j] = ACC;                                         \
      }                                                                                             \
  }
LOOPS(double, C[i * n + j] + a * B[p * brs + j * bcs])
LOOPS(float, C[i * n + j] + a * B[p * brs + j * bcs])
LOOPS(int64_t, (int64_t)((uint64_t)C[i * n + j] + (uint64_t)a * (uint64_t)B[p * brs + j * bcs]))
LOOPS(int32_t, (int32_t)((uint32_t)C[i * n + j] + (uint32_t)a * (uint32_t)B[p * brs + j * bcs]))
LOOPS(dtxk_b, (dtxk_b)(C[i * n + j] | (a & B[p * brs + j * bcs])))
/* the other integers wrap as the element functions do */
#define ELEM_LOOPS(S, T) LOOPS(T, dtxk_add_##S(C[i * n + j], dtxk_mul_##S(a, B[p * brs + j * bcs])))
ELEM_LOOPS(i8, int8_t)
ELEM_LOOPS(i16, int16_t)
ELEM_LOOPS(u8, uint8_t)
ELEM_LOOPS(u16, uint16_t)
ELEM_LOOPS(u32, uint32_t)
ELEM_LOOPS(u64, uint64_t)

/* float16, as NumPy: each contracted chunk summed in float32, then added to C
 * and rounded once (the same on GPUs) */
static void loops_f16(dtxk_f16 *C, const dtxk_f16 *A, const dtxk_f16 *B, int64_t m, int64_t n, int64_t k,
                      int64_t ars, int64_t acs, int64_t brs, int64_t bcs) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      float s = 0;
      for (int64_t p = 0; p < k; p++)
        s += dtxk_f16_to_f32(A[i * ars + p * acs]) * dtxk_f16_to_f32(B[p * brs + j * bcs]);
      C[i * n + j] = dtxk_f32_to_f16(dtxk_f16_to_f32(C[i * n + j]) + s);
    }
}

/* The chunk (or external buffer) an operand of a step reads. */
static const char *step_operand(dtx_task_ctx *ctx, const dtxk_mref *op) {
  if (op->input < 0) return (const char *)(uintptr_t)op->ext;
  const char *in = dtx_task_input(ctx, op->input, NULL);
  return in != NULL ? in + op->ext : NULL; /* a row block of the chunk starts ext bytes in */
}

#if defined(DTX_HAVE_CBLAS)
/* The operand of a step as the BLAS takes it: the buffer, its leading
 * dimension and whether it is the transpose of its row-major reading; a copy
 * (*pk, freed by the caller) when neither stride is 1. NULL: out of memory. */
static const char *blas_operand(const char *x, int64_t r, int64_t c, int64_t rs, int64_t cs, int esz,
                                enum CBLAS_TRANSPOSE *t, int64_t *ld, void **pk) {
  *t = CblasNoTrans;
  *pk = NULL;
  if (cs == 1 && rs >= (c > 1 ? c : 1)) {
    *ld = rs;
    return x;
  }
  if (rs == 1 && cs >= (r > 1 ? r : 1)) {
    *t = CblasTrans;
    *ld = cs;
    return x;
  }
  *ld = c;
  return *pk = pack(x, r, c, rs, cs, esz);
}

static enum CBLAS_TRANSPOSE flip(enum CBLAS_TRANSPOSE t) {
  return t == CblasTrans ? CblasNoTrans : CblasTrans;
}

/* acc += A B for one step. Row-major C (m x n, ldc n) when T is NULL; else
 * the column-major T (m x n, ld m): then the BLAS's own M is m, the larger
 * side, which OpenBLAS runs at 1.6x the speed of the row-major call when n
 * is small (50 against 31 GFlop/s for 2000 x 2000 times 2000 x 42, one core
 * of an AVX-512 Xeon: its M side is the one packed for the wide kernel). */
static void blas_step(int f64, int64_t m, int64_t n, int64_t k, const char *A, enum CBLAS_TRANSPOSE ta,
                      int64_t lda, const char *B, enum CBLAS_TRANSPOSE tb, int64_t ldb, char *C, char *T) {
  if (T != NULL && f64)
    cblas_dgemm(CblasColMajor, flip(ta), flip(tb), (int)m, (int)n, (int)k, 1.0, (const double *)A, (int)lda,
                (const double *)B, (int)ldb, 1.0, (double *)T, (int)m);
  else if (T != NULL)
    cblas_sgemm(CblasColMajor, flip(ta), flip(tb), (int)m, (int)n, (int)k, 1.0f, (const float *)A, (int)lda,
                (const float *)B, (int)ldb, 1.0f, (float *)T, (int)m);
  else if (f64)
    cblas_dgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, 1.0, (const double *)A, (int)lda,
                (const double *)B, (int)ldb, 1.0, (double *)C, (int)n);
  else
    cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, 1.0f, (const float *)A, (int)lda,
                (const float *)B, (int)ldb, 1.0f, (float *)C, (int)n);
}

/* Every step of a float32 / float64 product through the BLAS into the
 * zeroed C. Taller than wide (m > n) with enough contraction to pay for one
 * transpose of C (k >= 16 in all): summed column-major in scratch T, then
 * transposed into C. 0, or the task's failure. */
static int blas_steps(dtx_task_ctx *ctx, const dtxk_matmul *mm, const dtxk_mstep *st, char *C) {
  int esz = dtxk_size(mm->dtype), f64 = mm->dtype == DTXK_F64;
  int64_t m = mm->m, n = mm->n, ktot = 0;
  for (int s = 0; s < mm->nk; s++) ktot += st[s].k;
  char *T = NULL;
  if (m > n && n > 0 && ktot >= 16) {
    T = dtx_task_scratch(ctx, (size_t)(m * n * esz));
    if (T == NULL)
      return dtx_task_fail(ctx, "out of memory for a %lldx%lld product", (long long)m, (long long)n);
    memset(T, 0, (size_t)(m * n * esz));
  }
  for (int s = 0; s < mm->nk; s++) {
    int64_t k = st[s].k, lda, ldb;
    const char *A = step_operand(ctx, &st[s].a), *B = step_operand(ctx, &st[s].b);
    if (A == NULL || B == NULL) return dtx_task_fail(ctx, "an operand chunk is missing");
    enum CBLAS_TRANSPOSE ta, tb;
    void *pa, *pb;
    A = blas_operand(A, m, k, st[s].a.rs, st[s].a.cs, esz, &ta, &lda, &pa);
    B = blas_operand(B, k, n, st[s].b.rs, st[s].b.cs, esz, &tb, &ldb, &pb);
    if (A != NULL && B != NULL) blas_step(f64, m, n, k, A, ta, lda, B, tb, ldb, C, T);
    free(pa);
    free(pb);
    if (A == NULL || B == NULL) return dtx_task_fail(ctx, "out of memory packing an operand");
  }
  if (T != NULL) dtxk_transpose(C, n, T, m, n, m, esz);
  return 0;
}
#endif

int dtxk_matmul_cpu(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_matmul *mm = (const dtxk_matmul *)dtx_task_args(ctx, &asz);
  if (mm == NULL || asz != sizeof *mm + (size_t)mm->nk * sizeof(dtxk_mstep))
    return dtx_task_fail(ctx, "malformed matmul-task arguments");
  pthread_once(&blas_once, blas_init);
  int esz = dtxk_size(mm->dtype);
  int64_t m = mm->m, n = mm->n;
  char *C = dtx_task_output(ctx, (size_t)(m * n * esz));
  if (C == NULL) return dtx_task_fail(ctx, "out of memory for a %lldx%lld chunk", (long long)m, (long long)n);
  memset(C, 0, (size_t)(m * n * esz));
  const dtxk_mstep *st = dtxk_matmul_steps(mm);
#if defined(DTX_HAVE_CBLAS)
  if (mm->dtype == DTXK_F64 || mm->dtype == DTXK_F32) return blas_steps(ctx, mm, st, C);
#endif
  for (int s = 0; s < mm->nk; s++) {
    int64_t k = st[s].k;
    const char *A = step_operand(ctx, &st[s].a), *B = step_operand(ctx, &st[s].b);
    if (A == NULL || B == NULL) return dtx_task_fail(ctx, "an operand chunk is missing");
    int64_t ars = st[s].a.rs, acs = st[s].a.cs, brs = st[s].b.rs, bcs = st[s].b.cs;
    switch (mm->dtype) {
      case DTXK_F64:
        loops_double((double *)(void *)C, (const double *)(const void *)A, (const double *)(const void *)B, m,
                     n, k, ars, acs, brs, bcs);
        break;
      case DTXK_F32:
        loops_float((float *)(void *)C, (const float *)(const void *)A, (const float *)(const void *)B, m, n,
                    k, ars, acs, brs, bcs);
        break;
      case DTXK_I64:
        loops_int64_t((int64_t *)(void *)C, (const int64_t *)(const void *)A,
                      (const int64_t *)(const void *)B, m, n, k, ars, acs, brs, bcs);
        break;
      case DTXK_I32:
        loops_int32_t((int32_t *)(void *)C, (const int32_t *)(const void *)A,
                      (const int32_t *)(const void *)B, m, n, k, ars, acs, brs, bcs);
        break;
#define ELEM_CASE(ID, T)                                                                                 \
  case ID:                                                                                               \
    loops_##T((T *)(void *)C, (const T *)(const void *)A, (const T *)(const void *)B, m, n, k, ars, acs, \
              brs, bcs);                                                                                 \
    break;
        ELEM_CASE(DTXK_I8, int8_t)
        ELEM_CASE(DTXK_I16, int16_t)
        ELEM_CASE(DTXK_U8, uint8_t)
        ELEM_CASE(DTXK_U16, uint16_t)
        ELEM_CASE(DTXK_U32, uint32_t)
        ELEM_CASE(DTXK_U64, uint64_t)
#undef ELEM_CASE
      case DTXK_F16:
        loops_f16((dtxk_f16 *)(void *)C, (const dtxk_f16 *)(const void *)A, (const dtxk_f16 *)(const void *)B,
                  m, n, k, ars, acs, brs, bcs);
        break;
      default:
        loops_dtxk_b((dtxk_b *)C, (const dtxk_b *)A, (const dtxk_b *)B, m, n, k, ars, acs, brs, bcs);
        break;
    }
  }
  return 0;
}

int dtxk_rows_join_cpu(dtx_task_ctx *ctx) {
  size_t total = 0, n = 0;
  int nin = dtx_task_num_inputs(ctx);
  for (int i = 0; i < nin; i++) {
    if (dtx_task_input(ctx, i, &n) == NULL && n > 0) return dtx_task_fail(ctx, "a row block is missing");
    total += n;
  }
  char *out = dtx_task_output(ctx, total);
  if (out == NULL) return dtx_task_fail(ctx, "out of memory for a %zu-byte chunk", total);
  for (int i = 0; i < nin; i++) {
    const void *in = dtx_task_input(ctx, i, &n);
    if (n > 0) memcpy(out, in, n);
    out += n;
  }
  return 0;
}
