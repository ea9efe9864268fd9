/*
 * kernels/topk.c - the CPU implementation of topk / argtopk tasks
 * (kernels/topk.h), real and complex (pairs; the same lists, a comparison in
 * NumPy's complex order). Each lane keeps its kk best candidates so far in order
 * (insertion into a sorted list: a candidate worse than the last kept one,
 * the common case once the list is full, costs one comparison). Runs on
 * the task's thread; the lists are its own.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/elem.h"
#include "kernels/kernels.h"
#include "kernels/topk.h"

/* Bytes before the indices of a PACKED block of count values of esz bytes. */
static int64_t idx_off(int64_t count, int esz) { return (count * esz + 7) & ~(int64_t)7; }

#define NAN_NEVER(x) ((void)(x), 0)
#define NAN_FLOAT(x) ((x) != (x))

/* before_S: whether a (index ia) goes before b (index ib) in the kept list. */
#define BEFORE(S, T, ISNAN)                                              \
  static int before_##S(int largest, T a, int64_t ia, T b, int64_t ib) { \
    int na = ISNAN(a), nb = ISNAN(b);                                    \
    if (na != nb) return largest ? na : nb;                              \
    if (!na && a != b) return largest ? a > b : a < b;                   \
    return ia < ib;                                                      \
  }
/* lane_S: the kept list of lane (o, i); run_S: every lane of the task. */
#define LANES(S, T)                                                                                         \
  static void lane_##S(const dtxk_topk *p, const void *const *in, int64_t o, int64_t i, T *bv, int64_t *bi, \
                       int64_t *c) {                                                                        \
    *c = 0;                                                                                                 \
    for (int j = 0; j < p->nin; j++) {                                                                      \
      const T *v = (const T *)in[j];                                                                        \
      int64_t nj = p->n[j], count = p->outer * nj * p->inner;                                               \
      const int64_t *ix =                                                                                   \
          p->kind[j] == DTXK_TOPK_PACKED && p->indices                                                      \
              ? (const int64_t *)(const void *)((const char *)in[j] + idx_off(count, (int)sizeof(T)))       \
              : NULL;                                                                                       \
      for (int64_t q = 0; q < nj; q++) {                                                                    \
        int64_t at = (o * nj + q) * p->inner + i;                                                           \
        T x = v[at];                                                                                        \
        int64_t xi = p->kind[j] == DTXK_TOPK_CHUNK ? p->starts[j] + q : (ix != NULL ? ix[at] : 0);          \
        if (*c == p->kk && !before_##S(p->largest, x, xi, bv[*c - 1], bi[*c - 1])) continue;                \
        int64_t r = *c < p->kk ? (*c)++ : *c - 1;                                                           \
        for (; r > 0 && before_##S(p->largest, x, xi, bv[r - 1], bi[r - 1]); r--) {                         \
          bv[r] = bv[r - 1];                                                                                \
          bi[r] = bi[r - 1];                                                                                \
        }                                                                                                   \
        bv[r] = x;                                                                                          \
        bi[r] = xi;                                                                                         \
      }                                                                                                     \
    }                                                                                                       \
  }                                                                                                         \
  static void run_##S(const dtxk_topk *p, const void *const *in, char *out, void *scratch) {                \
    T *bv = (T *)scratch;                                                                                   \
    int64_t *bi = (int64_t *)(void *)((char *)scratch + idx_off(p->kk, (int)sizeof(T)));                    \
    int64_t count = p->outer * p->kk * p->inner;                                                            \
    T *ov = p->out == DTXK_TOPK_OUT_INDICES ? NULL : (T *)(void *)out;                                      \
    int64_t *oi = p->out == DTXK_TOPK_OUT_INDICES ? (int64_t *)(void *)out                                  \
                  : p->out == DTXK_TOPK_OUT_PACKED && p->indices                                            \
                      ? (int64_t *)(void *)(out + idx_off(count, (int)sizeof(T)))                           \
                      : NULL;                                                                               \
    for (int64_t o = 0; o < p->outer; o++)                                                                  \
      for (int64_t i = 0; i < p->inner; i++) {                                                              \
        int64_t c;                                                                                          \
        lane_##S(p, in, o, i, bv, bi, &c);                                                                  \
        for (int64_t r = 0; r < c; r++) {                                                                   \
          int64_t at = (o * p->kk + r) * p->inner + i;                                                      \
          if (ov != NULL) ov[at] = bv[r];                                                                   \
          if (oi != NULL) oi[at] = bi[r];                                                                   \
        }                                                                                                   \
      }                                                                                                     \
  }
#define TOPK(S, T, ISNAN) BEFORE(S, T, ISNAN) LANES(S, T)
TOPK(b, dtxk_b, NAN_NEVER)
TOPK(i32, int32_t, NAN_NEVER)
TOPK(i64, int64_t, NAN_NEVER)
TOPK(i8, int8_t, NAN_NEVER)
TOPK(i16, int16_t, NAN_NEVER)
TOPK(u8, uint8_t, NAN_NEVER)
TOPK(u16, uint16_t, NAN_NEVER)
TOPK(u32, uint32_t, NAN_NEVER)
TOPK(u64, uint64_t, NAN_NEVER)
TOPK(f32, float, NAN_FLOAT)
TOPK(f64, double, NAN_FLOAT)

/* Complex values: (re, im) pairs in NumPy's order (kernels/topk.h). */
typedef struct cx32 {
  float re, im;
} cx32;
typedef struct cx64 {
  double re, im;
} cx64;
/* -1, 0, 1 as a is less than, equal to or greater than b in NumPy's order:
 * by category (none NaN, imaginary NaN, real NaN, both), then within it
 * lexicographic, by the real part, by the imaginary part, or equal. */
#define CX_CMP(S, T)                                                                      \
  static int cmp_##S(T a, T b) {                                                          \
    int ca = cx_cat(a.re != a.re, a.im != a.im), cb = cx_cat(b.re != b.re, b.im != b.im); \
    if (ca != cb) return ca < cb ? -1 : 1;                                                \
    if (ca != 2 && ca != 3 && a.re != b.re) return a.re < b.re ? -1 : 1;                  \
    if ((ca == 0 || ca == 2) && a.im != b.im) return a.im < b.im ? -1 : 1;                \
    return 0;                                                                             \
  }                                                                                       \
  static int before_##S(int largest, T a, int64_t ia, T b, int64_t ib) {                  \
    int c = cmp_##S(a, b);                                                                \
    return c != 0 ? (largest ? c > 0 : c < 0) : ia < ib;                                  \
  }
static int cx_cat(int re_nan, int im_nan) { return im_nan ? (re_nan ? 3 : 1) : (re_nan ? 2 : 0); }
CX_CMP(c64, cx32)
CX_CMP(c128, cx64)
LANES(c64, cx32)
LANES(c128, cx64)

/* Output bytes of the task. */
static int64_t out_bytes(const dtxk_topk *p) {
  int64_t count = p->outer * p->kk * p->inner;
  int esz = dtxk_size(p->dtype) * (p->cplx ? 2 : 1);
  if (p->out == DTXK_TOPK_OUT_VALUES) return count * esz;
  if (p->out == DTXK_TOPK_OUT_INDICES) return count * 8;
  return p->indices ? idx_off(count, esz) + count * 8 : count * esz;
}

static const char *check(const dtxk_topk *p, int ninputs) {
  if (p->dtype < DTXK_BOOL || p->dtype > DTXK_U64) return "unknown dtype (float16 is selected as float32)";
  if (p->cplx != 0 && (p->cplx != 1 || (p->dtype != DTXK_F32 && p->dtype != DTXK_F64)))
    return "complex values are pairs of float32 or float64";
  if (p->out < DTXK_TOPK_OUT_PACKED || p->out > DTXK_TOPK_OUT_INDICES) return "unknown output";
  if (p->nin < 1 || p->nin > DTXK_TOPK_MAXIN || p->nin != ninputs) return "wrong number of inputs";
  if (p->outer < 0 || p->inner < 0 || p->kk < 1) return "bad extents";
  int64_t total = 0;
  for (int j = 0; j < p->nin; j++) {
    if (p->kind[j] != DTXK_TOPK_CHUNK && p->kind[j] != DTXK_TOPK_PACKED) return "unknown input kind";
    if (p->n[j] < 0) return "bad input extent";
    total += p->n[j];
  }
  return total < p->kk ? "fewer candidates than kept values" : NULL;
}

int dtxk_topk_cpu(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_topk *p = (const dtxk_topk *)dtx_task_args(ctx, &asz);
  if (p == NULL || asz != sizeof *p) return dtx_task_fail(ctx, "malformed topk-task arguments");
  const char *why = check(p, dtx_task_num_inputs(ctx));
  if (why != NULL) return dtx_task_fail(ctx, "bad topk task: %s", why);
  const void *in[DTXK_TOPK_MAXIN];
  for (int j = 0; j < p->nin; j++) in[j] = dtx_task_input(ctx, j, NULL);
  size_t ob = (size_t)out_bytes(p);
  char *out = dtx_task_output(ctx, ob);
  if (ob == 0) return 0;
  if (out == NULL) return dtx_task_fail(ctx, "out of memory for a topk output of %zu bytes", ob);
  void *scratch = malloc((size_t)(idx_off(p->kk, dtxk_size(p->dtype) * (p->cplx ? 2 : 1)) + p->kk * 8));
  if (scratch == NULL) return dtx_task_fail(ctx, "out of memory for the topk lists");
  switch (p->cplx ? -p->dtype : p->dtype) {
    case -DTXK_F32:
      run_c64(p, in, out, scratch);
      break;
    case -DTXK_F64:
      run_c128(p, in, out, scratch);
      break;
    case DTXK_BOOL:
      run_b(p, in, out, scratch);
      break;
    case DTXK_I32:
      run_i32(p, in, out, scratch);
      break;
    case DTXK_I64:
      run_i64(p, in, out, scratch);
      break;
    case DTXK_F32:
      run_f32(p, in, out, scratch);
      break;
    case DTXK_I8:
      run_i8(p, in, out, scratch);
      break;
    case DTXK_I16:
      run_i16(p, in, out, scratch);
      break;
    case DTXK_U8:
      run_u8(p, in, out, scratch);
      break;
    case DTXK_U16:
      run_u16(p, in, out, scratch);
      break;
    case DTXK_U32:
      run_u32(p, in, out, scratch);
      break;
    case DTXK_U64:
      run_u64(p, in, out, scratch);
      break;
    default:
      run_f64(p, in, out, scratch);
      break;
  }
  free(scratch);
  return 0;
}
