/*
 * kernels/unique.c - the CPU implementation of unique tasks
 * (kernels/unique.h): widen, sort (dtxk_sort_lane; complex values
 * dtxk_sort_pairs), drop repeats; records by a binary search of each
 * element among the sorted distinct values. Runs on the task's thread; the
 * scratch buffers are its own.
 */
#include <stdlib.h>
#include <string.h>

#include "dtx/array.h"
#include "kernels/elem.h"
#include "kernels/sort.h"
#include "kernels/unique.h"

/* complex values: pairs; their dtypes are dtx/array.h's */
enum { DTXK_C64 = DTX_C64, DTXK_C128 = DTX_C128 };
typedef struct cf32 {
  float re, im;
} cf32;
typedef struct cf64 {
  double re, im;
} cf64;

/* NumPy's order: NaN after everything, NaNs equal (SAME). */
#define LESS(a, b) ((a) < (b) || ((b) != (b) && (a) == (a)))
#define SAME(a, b) ((a) == (b) || ((a) != (a) && (b) != (b)))
/* Of two occurrences of one value, the one kept: the first. */
#define EARLIER(v, iv, u, iu) ((iv) < (iu))

/* Complex: lexicographic, a value with a NaN part after every other and
 * all those one value; of those the one kept is the least in NumPy's sort
 * order (kernels/sort.c's categories: (x, nan) by x, (nan, y) by y, then
 * (nan, nan)), then the first, as numpy.unique's sorting path. */
#define CNAN(a) ((a).re != (a).re || (a).im != (a).im)
#define CLESS(a, b) (!CNAN(a) && (CNAN(b) || (a).re < (b).re || ((a).re == (b).re && (a).im < (b).im)))
#define CSAME(a, b) ((CNAN(a) && CNAN(b)) || ((a).re == (b).re && (a).im == (b).im))
#define NANCAT(a) ((a).im != (a).im ? ((a).re != (a).re ? 3 : 1) : 2)
#define NANKEY(a) (NANCAT(a) == 1 ? (a).re : (a).im)
#define NANBEFORE(v, u) \
  (NANCAT(v) < NANCAT(u) || (NANCAT(v) == NANCAT(u) && NANCAT(v) < 3 && NANKEY(v) < NANKEY(u)))
#define CEARLIER(v, iv, u, iu) \
  (CNAN(v) && CNAN(u) ? NANBEFORE(v, u) || (!NANBEFORE(u, v) && (iv) < (iu)) : (iv) < (iu))

/* The dtypes tasks sort in, as (suffix, C type, order, one value, kept). */
/* clang-format off */
#define SORTED_TYPES(X)                  \
  X(u8, uint8_t, LESS, SAME, EARLIER)    \
  X(i32, int32_t, LESS, SAME, EARLIER)   \
  X(i64, int64_t, LESS, SAME, EARLIER)   \
  X(u64, uint64_t, LESS, SAME, EARLIER)  \
  X(f32, float, LESS, SAME, EARLIER)     \
  X(f64, double, LESS, SAME, EARLIER)    \
  X(c64, cf32, CLESS, CSAME, CEARLIER)   \
  X(c128, cf64, CLESS, CSAME, CEARLIER)
/* clang-format on */

/*
 * dedup_S: keeps the first of each run of equal values in x[0..n); the count kept.
 * lower_S: the first position in sorted distinct u[0..n) not less than v.
 * tally_S: adds m elements v (at flat index ix[i], cnt[i] of each, or 1) to
 *   distinct u[0..nu) with first[] and count[]; the value of the occurrence
 *   KEEP prefers is kept (0.0 or -0.0: the first).
 * search_S: out[i] = the position of v[i] in u.
 */
#define UNIQUE_FNS(S, T, LT, EQ, KEEP)                                                                  \
  static int64_t dedup_##S(T *x, int64_t n) {                                                           \
    int64_t k = 0;                                                                                      \
    for (int64_t i = 0; i < n; i++) {                                                                   \
      T v = x[i];                                                                                       \
      if (k > 0 && EQ(x[k - 1], v)) continue;                                                           \
      x[k++] = v;                                                                                       \
    }                                                                                                   \
    return k;                                                                                           \
  }                                                                                                     \
  static int64_t lower_##S(const T *u, int64_t n, T v) {                                                \
    int64_t lo = 0, hi = n;                                                                             \
    while (lo < hi) {                                                                                   \
      int64_t mid = lo + (hi - lo) / 2;                                                                 \
      if (LT(u[mid], v))                                                                                \
        lo = mid + 1;                                                                                   \
      else                                                                                              \
        hi = mid;                                                                                       \
    }                                                                                                   \
    return lo;                                                                                          \
  }                                                                                                     \
  static void tally_##S(T *u, int64_t nu, const T *v, int64_t m, const int64_t *ix, const int64_t *cnt, \
                        int64_t *first, int64_t *count) {                                               \
    for (int64_t i = 0; i < m; i++) {                                                                   \
      int64_t j = lower_##S(u, nu, v[i]);                                                               \
      count[j] += cnt != NULL ? cnt[i] : 1;                                                             \
      if (first[j] < 0 || KEEP(v[i], ix[i], u[j], first[j])) {                                          \
        first[j] = ix[i];                                                                               \
        u[j] = v[i];                                                                                    \
      }                                                                                                 \
    }                                                                                                   \
  }                                                                                                     \
  static void search_##S(const T *u, int64_t nu, const T *v, int64_t m, int64_t *out) {                 \
    for (int64_t i = 0; i < m; i++) out[i] = lower_##S(u, nu, v[i]);                                    \
  }
SORTED_TYPES(UNIQUE_FNS)

static int64_t dedup(int dtype, void *x, int64_t n) {
  switch (dtype) {
#define CASE(E, S) \
  case DTXK_##E:   \
    return dedup_##S(x, n);
    CASE(I32, i32)
    CASE(I64, i64)
    CASE(U64, u64)
    CASE(F32, f32)
    CASE(F64, f64)
    CASE(C64, c64)
    CASE(C128, c128)
#undef CASE
    default:
      return dedup_u8(x, n);
  }
}

static void tally(int dtype, void *u, int64_t nu, const void *v, int64_t m, const int64_t *ix,
                  const int64_t *cnt, int64_t *first, int64_t *count) {
  switch (dtype) {
#define CASE(E, S)                                 \
  case DTXK_##E:                                   \
    tally_##S(u, nu, v, m, ix, cnt, first, count); \
    return;
    CASE(I32, i32)
    CASE(I64, i64)
    CASE(U64, u64)
    CASE(F32, f32)
    CASE(F64, f64)
    CASE(C64, c64)
    CASE(C128, c128)
#undef CASE
    default:
      tally_u8(u, nu, v, m, ix, cnt, first, count);
  }
}

static void search(int dtype, const void *u, int64_t nu, const void *v, int64_t m, int64_t *out) {
  switch (dtype) {
#define CASE(E, S)                \
  case DTXK_##E:                  \
    search_##S(u, nu, v, m, out); \
    return;
    CASE(I32, i32)
    CASE(I64, i64)
    CASE(U64, u64)
    CASE(F32, f32)
    CASE(F64, f64)
    CASE(C64, c64)
    CASE(C128, c128)
#undef CASE
    default:
      search_u8(u, nu, v, m, out);
  }
}

/* m elements of dtype `from` at src widened (exactly) to `to` at dst. */
static void widen(int from, int to, const void *src, int64_t m, void *dst) {
#define LOOP(TI, TO)                                                         \
  for (int64_t i = 0; i < m; i++) ((TO *)dst)[i] = (TO)((const TI *)src)[i]; \
  return;
  if (from == to) {
    if (m > 0) memcpy(dst, src, (size_t)m * dtx_dtype_size((dtx_dtype)to));
    return;
  }
  switch (from) {
    case DTXK_I8:
      LOOP(int8_t, int32_t)
    case DTXK_I16:
      LOOP(int16_t, int32_t)
    case DTXK_U8:
      LOOP(uint8_t, int32_t)
    case DTXK_U16:
      LOOP(uint16_t, int32_t)
    case DTXK_U32:
      LOOP(uint32_t, int64_t)
    default: /* float16 */
      for (int64_t i = 0; i < m; i++) ((float *)dst)[i] = dtxk_f16_to_f32(((const dtxk_f16 *)src)[i]);
  }
#undef LOOP
}

/* Inputs [i0, i1) of in_dtype concatenated and widened to dtype: a new
 * buffer of *n elements (*n + 1 room), or NULL when out of memory. */
static void *load(dtx_task_ctx *ctx, const dtxk_unique *p, int i0, int i1, int64_t *n) {
  size_t isz = dtx_dtype_size((dtx_dtype)p->in_dtype), esz = dtx_dtype_size((dtx_dtype)p->dtype), sz;
  int64_t total = 0;
  for (int i = i0; i < i1; i++) {
    dtx_task_input(ctx, i, &sz);
    total += (int64_t)(sz / isz);
  }
  char *x = malloc((size_t)(total + 1) * esz);
  int64_t at = 0;
  for (int i = i0; i < i1 && x != NULL; i++) {
    const void *in = dtx_task_input(ctx, i, &sz);
    widen(p->in_dtype, p->dtype, in, (int64_t)(sz / isz), x + (size_t)at * esz);
    at += (int64_t)(sz / isz);
  }
  *n = total;
  return x;
}

/* Sorts n elements of dtype (a complex dtype: its pairs) in place. */
static int sort_any(int dtype, void *x, int64_t n) {
  if (dtype == DTXK_C64 || dtype == DTXK_C128)
    return dtxk_sort_pairs(dtype == DTXK_C64 ? DTXK_F32 : DTXK_F64, x, n, NULL);
  return dtxk_sort_lane(dtype, x, n, NULL);
}

/* x[0..n) sorted, repeats dropped, copied to a new buffer u (*nu of them). */
static void *distinct(const dtxk_unique *p, const void *x, int64_t n, int64_t *nu) {
  size_t esz = dtx_dtype_size((dtx_dtype)p->dtype);
  char *u = malloc((size_t)(n + 1) * esz);
  if (u == NULL) return NULL;
  if (n > 0) memcpy(u, x, (size_t)n * esz);
  if (sort_any(p->dtype, u, n) != 0) {
    free(u);
    return NULL;
  }
  *nu = dedup(p->dtype, u, n);
  return u;
}

static int values_task(dtx_task_ctx *ctx, const dtxk_unique *p) {
  size_t esz = dtx_dtype_size((dtx_dtype)p->dtype);
  int64_t n = 0;
  char *x = load(ctx, p, 0, dtx_task_num_inputs(ctx), &n);
  if (x == NULL) return dtx_task_fail(ctx, "unique: out of memory for %lld elements", (long long)n);
  if (sort_any(p->dtype, x, n) != 0) {
    free(x);
    return dtx_task_fail(ctx, "unique: cannot sort %lld elements of dtype %d", (long long)n, p->dtype);
  }
  n = dedup(p->dtype, x, n);
  void *out = dtx_task_output(ctx, (size_t)n * esz);
  int rc = out == NULL && n > 0 ? dtx_task_fail(ctx, "unique: out of memory") : 0;
  if (rc == 0 && n > 0) memcpy(out, x, (size_t)n * esz);
  free(x);
  return rc;
}

/* ---- records --------------------------------------------------------------------------------- */

typedef struct rec {
  int64_t n, span;
  int64_t *index, *count;
  char *values;
} rec;

static rec rec_view(const void *buf) {
  const int64_t *h = buf;
  rec r = {h[0], h[1], (int64_t *)(uintptr_t)(h + 2), (int64_t *)(uintptr_t)(h + 2 + h[0]),
           (char *)(uintptr_t)(h + 2 + 2 * h[0])};
  return r;
}

/* Writes the record of distinct u[0..nu) with first/count as the task's output. */
static int rec_out(dtx_task_ctx *ctx, const dtxk_unique *p, const void *u, int64_t nu, int64_t span,
                   const int64_t *first, const int64_t *count) {
  size_t esz = dtx_dtype_size((dtx_dtype)p->dtype);
  int64_t *h = dtx_task_output(ctx, (size_t)(2 + 2 * nu) * 8 + (size_t)nu * esz);
  if (h == NULL)
    return dtx_task_fail(ctx, "unique: out of memory for a record of %lld values", (long long)nu);
  h[0] = nu;
  h[1] = span;
  if (nu > 0) {
    memcpy(h + 2, first, (size_t)nu * 8);
    memcpy(h + 2 + nu, count, (size_t)nu * 8);
    memcpy(h + 2 + 2 * nu, u, (size_t)nu * esz);
  }
  return 0;
}

/* Tallies m values x with indices ix (and counts cnt) into a record. */
static int rec_make(dtx_task_ctx *ctx, const dtxk_unique *p, const void *x, int64_t m, const int64_t *ix,
                    const int64_t *cnt, int64_t span) {
  int64_t nu = 0;
  char *u = distinct(p, x, m, &nu);
  int64_t *fc = u != NULL ? malloc((size_t)(2 * nu + 1) * sizeof *fc) : NULL;
  int rc = 0;
  if (fc == NULL) {
    rc = dtx_task_fail(ctx, "unique: out of memory for %lld elements", (long long)m);
  } else {
    for (int64_t j = 0; j < nu; j++) fc[j] = -1, fc[nu + j] = 0;
    tally(p->dtype, u, nu, x, m, ix, cnt, fc, fc + nu);
    rc = rec_out(ctx, p, u, nu, span, fc, fc + nu);
  }
  free(fc);
  free(u);
  return rc;
}

/* Flat indices (C order) of a chunk's m elements: global or in the chunk. */
static void flat_indices(const dtxk_unique *p, int64_t m, int64_t *ix) {
  if (!p->global) {
    for (int64_t i = 0; i < m; i++) ix[i] = i;
    return;
  }
  int64_t l[DTXK_UNIQUE_MAX_DIMS] = {0};
  for (int64_t i = 0; i < m; i++) {
    int64_t f = 0;
    for (int d = 0; d < p->ndim; d++) f = f * p->shape[d] + p->start[d] + l[d];
    ix[i] = f;
    for (int d = p->ndim - 1; d >= 0; d--) { /* the next element of the chunk */
      if (++l[d] < p->len[d]) break;
      l[d] = 0;
    }
  }
}

static int rec_task(dtx_task_ctx *ctx, const dtxk_unique *p) {
  int64_t m = 0;
  char *x = load(ctx, p, 0, 1, &m);
  int64_t *ix = x != NULL ? malloc((size_t)(m + 1) * sizeof *ix) : NULL;
  int rc;
  if (ix == NULL) {
    rc = dtx_task_fail(ctx, "unique: out of memory for %lld elements", (long long)m);
  } else {
    flat_indices(p, m, ix);
    rc = rec_make(ctx, p, x, m, ix, NULL, m);
  }
  free(ix);
  free(x);
  return rc;
}

static int merge_task(dtx_task_ctx *ctx, const dtxk_unique *p) {
  size_t esz = dtx_dtype_size((dtx_dtype)p->dtype);
  int nin = dtx_task_num_inputs(ctx);
  int64_t m = 0, span = 0;
  for (int i = 0; i < nin; i++) m += rec_view(dtx_task_input(ctx, i, NULL)).n;
  char *x = malloc((size_t)(m + 1) * esz);
  int64_t *ic = malloc((size_t)(2 * m + 1) * sizeof *ic);
  if (x == NULL || ic == NULL) {
    free(x);
    free(ic);
    return dtx_task_fail(ctx, "unique: out of memory merging %lld values", (long long)m);
  }
  int64_t at = 0;
  for (int i = 0; i < nin; i++) {
    rec r = rec_view(dtx_task_input(ctx, i, NULL));
    if (r.n > 0) memcpy(x + (size_t)at * esz, r.values, (size_t)r.n * esz);
    for (int64_t j = 0; j < r.n; j++) {
      ic[at + j] = r.index[j] + (p->global ? 0 : span);
      ic[m + at + j] = r.count[j];
    }
    at += r.n;
    span += r.span;
  }
  int rc = rec_make(ctx, p, x, m, ic, ic + m, span);
  free(ic);
  free(x);
  return rc;
}

static int field_task(dtx_task_ctx *ctx, const dtxk_unique *p) {
  rec r = rec_view(dtx_task_input(ctx, 0, NULL));
  size_t esz = p->field == 0 ? dtx_dtype_size((dtx_dtype)p->dtype) : 8;
  const void *src = p->field == 0 ? (const void *)r.values : p->field == 1 ? (const void *)r.index : r.count;
  void *out = dtx_task_output(ctx, (size_t)r.n * esz);
  if (out == NULL && r.n > 0) return dtx_task_fail(ctx, "unique: out of memory");
  if (r.n > 0) memcpy(out, src, (size_t)r.n * esz);
  return 0;
}

static int inverse_task(dtx_task_ctx *ctx, const dtxk_unique *p) {
  int64_t m = 0;
  char *x = load(ctx, p, 0, 1, &m);
  if (x == NULL) return dtx_task_fail(ctx, "unique: out of memory for %lld elements", (long long)m);
  rec r = rec_view(dtx_task_input(ctx, 1, NULL));
  int64_t *out = dtx_task_output(ctx, (size_t)m * 8);
  int rc = out == NULL && m > 0 ? dtx_task_fail(ctx, "unique: out of memory") : 0;
  if (rc == 0) search(p->dtype, r.values, r.n, x, m, out);
  free(x);
  return rc;
}

int dtxk_unique_cpu(dtx_task_ctx *ctx) {
  const dtxk_unique *p = dtx_task_args(ctx, NULL);
  switch (p->mode) {
    case DTXK_UNIQUE_REC:
      return rec_task(ctx, p);
    case DTXK_UNIQUE_MERGE:
      return merge_task(ctx, p);
    case DTXK_UNIQUE_FIELD:
      return field_task(ctx, p);
    case DTXK_UNIQUE_INVERSE:
      return inverse_task(ctx, p);
    default:
      return values_task(ctx, p);
  }
}
