/*
 * kernels/sort.c - the CPU implementation of sort tasks (kernels/sort.h):
 * each lane is copied from the input chunk or the host memory it is read
 * from in place to the output (gathered when strided), sorted there, and
 * scattered back when strided.
 *
 * With Highway (Debian libhwy-dev) the lane goes to its vqsort, a
 * vectorised quicksort (kernels/sort_vqsort.cc): floats as values (NaN and
 * +inf moved to the end first, the signs of zeros put back after: VQ_FLOAT),
 * integers as they are; without it, to the radix sort here. The radix sort is an LSD radix sort on
 * order-preserving unsigned keys (integers with the sign bit flipped; floats with every bit flipped when
 * negative, the sign bit set otherwise), 8-bit digits, all histograms counted in one pass and digits on which
 * every key agrees skipped; NaNs are moved to the end first (payloads kept) and short lanes use insertion
 * sort. The keys are turned back into values at the end, so every value comes out bit-identical. Runs on the
 * task's thread; scratch is its own.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/elem.h"
#include "kernels/kernels.h"
#include "kernels/sort.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define SHORT 48

#define RADIX(K, BITS)                                                                   \
  /* sorts keys k[0..n) using tmp[0..n); the result is in k */                           \
  static void radix_##K(K *k, K *tmp, int64_t n) {                                       \
    enum { D = BITS / 8 };                                                               \
    int64_t cnt[D][256];                                                                 \
    memset(cnt, 0, sizeof cnt);                                                          \
    for (int64_t i = 0; i < n; i++)                                                      \
      for (int d = 0; d < D; d++) cnt[d][(k[i] >> (8 * d)) & 255]++;                     \
    K *src = k, *dst = tmp;                                                              \
    for (int d = 0; d < D; d++) {                                                        \
      if (cnt[d][(k[0] >> (8 * d)) & 255] == n) continue; /* every key has this digit */ \
      int64_t pos[256], s = 0;                                                           \
      for (int b = 0; b < 256; b++) {                                                    \
        pos[b] = s;                                                                      \
        s += cnt[d][b];                                                                  \
      }                                                                                  \
      for (int64_t i = 0; i < n; i++) dst[pos[(src[i] >> (8 * d)) & 255]++] = src[i];    \
      K *t = src;                                                                        \
      src = dst;                                                                         \
      dst = t;                                                                           \
    }                                                                                    \
    if (src != k) memcpy(k, src, (size_t)n * sizeof(K));                                 \
  }                                                                                      \
  static void insertion_##K(K *k, int64_t n) {                                           \
    for (int64_t i = 1; i < n; i++) {                                                    \
      K v = k[i];                                                                        \
      int64_t j = i;                                                                     \
      for (; j > 0 && k[j - 1] > v; j--) k[j] = k[j - 1];                                \
      k[j] = v;                                                                          \
    }                                                                                    \
  }
RADIX(uint32_t, 32)
RADIX(uint64_t, 64)

#if defined(DTX_HAVE_VQSORT)
/* keys (integers; floats when VQ_FLOAT below does not take them) go to
 * vqsort as unsigned integers */
enum { DTXK_U32_KEYS = -32, DTXK_U64_KEYS = -64 };
int dtxk_vqsort(int dtype, void *x, int64_t n);
#define VQSORT(dtype, x, n)                                         \
  do {                                                              \
    if ((n) > SHORT && dtxk_vqsort((dtype), (x), (n)) == 0) return; \
  } while (0)
#else
#define VQSORT(dtype, x, n) (void)0
#endif

static void sort_keys32(uint32_t *k, uint32_t *tmp, int64_t n) {
  VQSORT(DTXK_U32_KEYS, k, n);
  if (n <= SHORT)
    insertion_uint32_t(k, n);
  else
    radix_uint32_t(k, tmp, n);
}
static void sort_keys64(uint64_t *k, uint64_t *tmp, int64_t n) {
  VQSORT(DTXK_U64_KEYS, k, n);
  if (n <= SHORT)
    insertion_uint64_t(k, n);
  else
    radix_uint64_t(k, tmp, n);
}

/* Moves the NaNs of a float lane to its end (payloads kept, using tmp);
 * returns how many values are not NaN. */
#define NAN_LAST(T)                                         \
  static int64_t nan_last_##T(T *x, int64_t n, T *tmp) {    \
    int64_t j = 0, nn = 0;                                  \
    for (int64_t i = 0; i < n; i++) {                       \
      if (x[i] != x[i])                                     \
        tmp[nn++] = x[i];                                   \
      else                                                  \
        x[j++] = x[i];                                      \
    }                                                       \
    if (nn > 0) memcpy(x + j, tmp, (size_t)nn * sizeof(T)); \
    return j;                                               \
  }
NAN_LAST(float)
NAN_LAST(double)

#if defined(DTX_HAVE_VQSORT)
/* A float lane straight to vqsort on the values (4.3 ns per element on
 * 4,096-element lanes of an AVX-512 Xeon, against 6.7 through unsigned
 * keys), around what vqsort 1.0 does not do for floats: +inf comes back as
 * the largest finite value, and zeros lose their signs (a min/max network:
 * -0.0 == 0.0). One counting pass (vectorised) finds out which lanes need
 * care: NaN and +inf are moved to the end first (+inf, then the NaNs with
 * their payloads, in order); the signs of the zeros are counted before and
 * written back after (every -0.0 before every 0.0, as the key order). 0, or
 * -1 when vqsort does not take the dtype. */
#define VQ_FLOAT(T, U, SIGN, DT)                                                            \
  /* the NaN / +inf and the zeros of x (vectorised: 1 ns a value before) */                 \
  DTXK_HOT static void count_##T(const T *x, int64_t n, int64_t *special, int64_t *zeros) { \
    int64_t s = 0, z = 0;                                                                   \
    for (int64_t i = 0; i < n; i++) {                                                       \
      s += !(x[i] < (T)INFINITY);                                                           \
      z += x[i] == 0;                                                                       \
    }                                                                                       \
    *special = s;                                                                           \
    *zeros = z;                                                                             \
  }                                                                                         \
  static int vq_##T(T *x, int64_t n, T *tmp) {                                              \
    int64_t special, zeros, negz = 0, m = n;                                                \
    count_##T(x, n, &special, &zeros);                                                      \
    if (zeros > 0)                                                                          \
      for (int64_t i = 0; i < n; i++) {                                                     \
        U k;                                                                                \
        memcpy(&k, x + i, sizeof k);                                                        \
        negz += k == (SIGN);                                                                \
      }                                                                                     \
    if (special > 0) {                                                                      \
      int64_t nn = 0, ninf = 0;                                                             \
      m = 0;                                                                                \
      for (int64_t i = 0; i < n; i++) {                                                     \
        if (x[i] < (T)INFINITY)                                                             \
          x[m++] = x[i];                                                                    \
        else if (x[i] == (T)INFINITY)                                                       \
          ninf++;                                                                           \
        else                                                                                \
          tmp[nn++] = x[i];                                                                 \
      }                                                                                     \
      for (int64_t i = 0; i < ninf; i++) x[m + i] = (T)INFINITY;                            \
      memcpy(x + m + ninf, tmp, (size_t)nn * sizeof(T));                                    \
    }                                                                                       \
    if (dtxk_vqsort((DT), x, m) != 0) return -1;                                            \
    if (zeros > 0) {                                                                        \
      int64_t lo = 0, hi = m; /* the first value >= 0: the zeros start there */             \
      while (lo < hi) {                                                                     \
        int64_t mid = lo + (hi - lo) / 2;                                                   \
        if (x[mid] < 0)                                                                     \
          lo = mid + 1;                                                                     \
        else                                                                                \
          hi = mid;                                                                         \
      }                                                                                     \
      for (int64_t i = 0; i < zeros; i++) x[lo + i] = i < negz ? -(T)0.0 : (T)0.0;          \
    }                                                                                       \
    return 0;                                                                               \
  }
VQ_FLOAT(double, uint64_t, (uint64_t)1 << 63, DTXK_F64)
VQ_FLOAT(float, uint32_t, (uint32_t)1 << 31, DTXK_F32)
#define VQ_VALUES(T, x, n, tmp)                                           \
  do {                                                                    \
    if ((n) > SHORT && vq_##T((x), (n), (T *)(void *)(tmp)) == 0) return; \
  } while (0)
#else
#define VQ_VALUES(T, x, n, tmp) (void)0
#endif

/* Order-preserving unsigned keys of floats (every bit flipped when
 * negative, the sign bit set otherwise), from the bits or the value, and
 * back. */
static uint64_t key64_bits(uint64_t k) { return (k >> 63) ? ~k : k | (uint64_t)1 << 63; }
static uint64_t unkey64_bits(uint64_t k) { return (k >> 63) ? k & ~((uint64_t)1 << 63) : ~k; }
static uint32_t key32_bits(uint32_t k) { return (k >> 31) ? ~k : k | (uint32_t)1 << 31; }
static uint32_t unkey32_bits(uint32_t k) { return (k >> 31) ? k & ~((uint32_t)1 << 31) : ~k; }
static uint64_t key64(double v) {
  uint64_t k;
  memcpy(&k, &v, sizeof k);
  return key64_bits(k);
}
static double unkey64(uint64_t k) {
  k = unkey64_bits(k);
  double v;
  memcpy(&v, &k, sizeof v);
  return v;
}
static uint32_t key32(float v) {
  uint32_t k;
  memcpy(&k, &v, sizeof k);
  return key32_bits(k);
}
static float unkey32(uint32_t k) {
  k = unkey32_bits(k);
  float v;
  memcpy(&v, &k, sizeof v);
  return v;
}

static void sort_f64(double *x, int64_t n, uint64_t *tmp) {
  VQ_VALUES(double, x, n, tmp);
  n = nan_last_double(x, n, (double *)(void *)tmp);
  uint64_t *k = (uint64_t *)(void *)x;
  for (int64_t i = 0; i < n; i++) k[i] = key64_bits(k[i]);
  sort_keys64(k, tmp, n);
  for (int64_t i = 0; i < n; i++) k[i] = unkey64_bits(k[i]);
}
static void sort_f32(float *x, int64_t n, uint32_t *tmp) {
  VQ_VALUES(float, x, n, tmp);
  n = nan_last_float(x, n, (float *)(void *)tmp);
  uint32_t *k = (uint32_t *)(void *)x;
  for (int64_t i = 0; i < n; i++) k[i] = key32_bits(k[i]);
  sort_keys32(k, tmp, n);
  for (int64_t i = 0; i < n; i++) k[i] = unkey32_bits(k[i]);
}
static void sort_i64(int64_t *x, int64_t n, uint64_t *tmp) {
  uint64_t *k = (uint64_t *)(void *)x, sign = (uint64_t)1 << 63;
  for (int64_t i = 0; i < n; i++) k[i] ^= sign;
  sort_keys64(k, tmp, n);
  for (int64_t i = 0; i < n; i++) k[i] ^= sign;
}
static void sort_i32(int32_t *x, int64_t n, uint32_t *tmp) {
  uint32_t *k = (uint32_t *)(void *)x, sign = (uint32_t)1 << 31;
  for (int64_t i = 0; i < n; i++) k[i] ^= sign;
  sort_keys32(k, tmp, n);
  for (int64_t i = 0; i < n; i++) k[i] ^= sign;
}
static void sort_u64(uint64_t *x, int64_t n, uint64_t *tmp) { sort_keys64(x, tmp, n); }
static void sort_b(dtxk_b *x, int64_t n) {
  int64_t ones = 0;
  for (int64_t i = 0; i < n; i++) ones += x[i] != 0;
  memset(x, 0, (size_t)(n - ones));
  memset(x + (n - ones), 1, (size_t)ones);
}

int dtxk_sort_dtype(int dtype) {
  return dtype == DTXK_BOOL || dtype == DTXK_I32 || dtype == DTXK_I64 || dtype == DTXK_U64 ||
         dtype == DTXK_F32 || dtype == DTXK_F64;
}

int dtxk_sort_lane(int dtype, void *x, int64_t n, void *scratch) {
  if (!dtxk_sort_dtype(dtype)) return -1;
  void *own = NULL;
  if (scratch == NULL && dtype != DTXK_BOOL && n > 0) {
    scratch = own = malloc((size_t)n * (size_t)dtxk_size(dtype));
    if (own == NULL) return -1;
  }
  switch (dtype) {
    case DTXK_BOOL:
      sort_b(x, n);
      break;
    case DTXK_I32:
      sort_i32(x, n, scratch);
      break;
    case DTXK_I64:
      sort_i64(x, n, scratch);
      break;
    case DTXK_U64:
      sort_u64(x, n, scratch);
      break;
    case DTXK_F32:
      sort_f32(x, n, scratch);
      break;
    default:
      sort_f64(x, n, scratch);
      break;
  }
  free(own);
  return 0;
}

/* ---- complex lanes ---------------------------------------------------------------------------- */

/* NumPy's categories of complex values, sorted in this order: no NaN part,
 * imaginary NaN, real NaN (imaginary not), both NaN. */
static int cx_category(double re, double im) { return im != im ? (re != re ? 3 : 1) : (re != re ? 2 : 0); }

/* 128-bit keys, stored as {lo, hi} words: the order of (hi, lo). */
static int cmp128(const void *a, const void *b) {
  const uint64_t *x = a, *y = b;
  if (x[1] != y[1]) return x[1] < y[1] ? -1 : 1;
  return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* The category of pair i of x (pairs of esz bytes: 16 complex128, 8
 * complex64). */
static int pair_category(const char *x, int64_t i, int esz) {
  const char *v = x + i * esz;
  if (esz == 16) {
    double re, im;
    memcpy(&re, v, 8);
    memcpy(&im, v + 8, 8);
    return cx_category(re, im);
  }
  float re, im;
  memcpy(&re, v, 4);
  memcpy(&im, v + 4, 4);
  return cx_category(re, im);
}

/* Moves the pairs of x (n pairs of esz bytes each) into category order
 * (stable, through tmp: n pairs, then cat: n bytes, each pair's category);
 * writes the four counts. */
static void cx_partition(char *x, int64_t n, int esz, char *tmp, unsigned char *cat, int64_t *cnt) {
  int64_t pos[4] = {0, 0, 0, 0};
  for (int c = 0; c < 4; c++) cnt[c] = 0;
  for (int64_t i = 0; i < n; i++) cnt[cat[i] = (unsigned char)pair_category(x, i, esz)]++;
  if (cnt[0] == n) return; /* no NaN part: in order already */
  for (int c = 1; c < 4; c++) pos[c] = pos[c - 1] + cnt[c - 1];
  for (int64_t i = 0; i < n; i++) memcpy(tmp + pos[cat[i]]++ * esz, x + i * esz, (size_t)esz);
  memcpy(x, tmp, (size_t)(n * esz));
}

/* The two key words of a pair of category cat (0 .. 2), hi ordering first:
 * the keys of re and im for 0; re's key and im's bits for 1; im's key and
 * re's bits for 2; and the pair back from them. */
#define CX_KEYS(S, T, U, KEY, UNKEY)                            \
  static void cx_key_##S(int cat, T re, T im, U *hi, U *lo) {   \
    U rb, ib;                                                   \
    memcpy(&rb, &re, sizeof rb);                                \
    memcpy(&ib, &im, sizeof ib);                                \
    *hi = cat == 2 ? KEY(im) : KEY(re);                         \
    *lo = cat == 0 ? KEY(im) : cat == 1 ? ib : rb;              \
  }                                                             \
  static void cx_unkey_##S(int cat, U hi, U lo, T *re, T *im) { \
    if (cat == 2) {                                             \
      *im = UNKEY(hi);                                          \
      memcpy(re, &lo, sizeof lo);                               \
      return;                                                   \
    }                                                           \
    *re = UNKEY(hi);                                            \
    if (cat == 0)                                               \
      *im = UNKEY(lo);                                          \
    else                                                        \
      memcpy(im, &lo, sizeof lo);                               \
  }
CX_KEYS(c128, double, uint64_t, key64, unkey64)
CX_KEYS(c64, float, uint32_t, key32, unkey32)

/* Sorts the complex128 pairs of one category by 128-bit keys (cx_key). */
static void sort_c128_cat(double *x, int64_t n, int cat) {
  uint64_t *w = (uint64_t *)(void *)x; /* pair i: w[2i] lo, w[2i + 1] hi */
  for (int64_t i = 0; i < n; i++) {
    uint64_t hi, lo;
    cx_key_c128(cat, x[2 * i], x[2 * i + 1], &hi, &lo);
    w[2 * i + 1] = hi;
    w[2 * i] = lo;
  }
  qsort(w, (size_t)n, 16, cmp128);
  for (int64_t i = 0; i < n; i++) {
    double re, im;
    cx_unkey_c128(cat, w[2 * i + 1], w[2 * i], &re, &im);
    x[2 * i] = re;
    x[2 * i + 1] = im;
  }
}

/* The same for complex64, by 64-bit keys (the radix / vqsort of the keys). */
static void sort_c64_cat(float *x, int64_t n, int cat, uint64_t *tmp) {
  uint64_t *w = (uint64_t *)(void *)x;
  for (int64_t i = 0; i < n; i++) {
    uint32_t hi, lo;
    cx_key_c64(cat, x[2 * i], x[2 * i + 1], &hi, &lo);
    w[i] = (uint64_t)hi << 32 | lo;
  }
  if (n <= SHORT)
    insertion_uint64_t(w, n);
  else
    sort_keys64(w, tmp, n);
  for (int64_t i = 0; i < n; i++) {
    float re, im;
    cx_unkey_c64(cat, (uint32_t)(w[i] >> 32), (uint32_t)w[i], &re, &im);
    x[2 * i] = re;
    x[2 * i + 1] = im;
  }
}

int dtxk_sort_pairs(int dtype, void *x, int64_t n, void *scratch) {
  if (dtype != DTXK_F64 && dtype != DTXK_F32) return -1;
  int esz = 2 * dtxk_size(dtype);
  void *own = NULL;
  if (scratch == NULL && n > 0) {
    scratch = own = malloc((size_t)n * (size_t)(esz + 1));
    if (own == NULL) return -1;
  }
  int64_t cnt[4], off = 0;
  if (n > 0) cx_partition(x, n, esz, scratch, (unsigned char *)scratch + n * esz, cnt);
  for (int c = 0; c < 3 && n > 0; c++) { /* both-NaN values keep their order */
    char *p = (char *)x + off * esz;
    if (dtype == DTXK_F64)
      sort_c128_cat((double *)(void *)p, cnt[c], c);
    else
      sort_c64_cat((float *)(void *)p, cnt[c], c, scratch);
    off += cnt[c];
  }
  free(own);
  return 0;
}

/* Where lanes are read or written: element k of lane (o, i) at base + (o so
 * + k sk + i si) elements. */
typedef struct lanes {
  char *base;
  int64_t so, sk, si;
} lanes;

static char *lane_at(const lanes *l, int64_t o, int64_t i, int esz) {
  return l->base + (o * l->so + i * l->si) * esz;
}
/* n elements from s (stride ss) to d (stride ds). */
static void copy_lane(char *d, int64_t ds, const char *s, int64_t ss, int64_t n, int esz) {
  if (ds == 1 && ss == 1) {
    memcpy(d, s, (size_t)(n * esz));
    return;
  }
  for (int64_t k = 0; k < n; k++) memcpy(d + k * ds * esz, s + k * ss * esz, (size_t)esz);
}

/* The task's lanes: from its input chunk or host memory read in place; to
 * its output chunk or the caller's buffer. 0, or -1 (failed, message set)
 * when the task is not what its arguments say. */
static int task_lanes(dtx_task_ctx *ctx, const dtxk_sort *p, size_t bytes, lanes *in, lanes *out) {
  if (p->ext != 0) {
    if (dtx_task_num_inputs(ctx) != 0) return dtx_task_fail(ctx, "a sort task reading in place has inputs");
    *in = (lanes){(char *)(uintptr_t)p->ext, p->so, p->sk, p->si};
  } else {
    size_t isz = 0;
    const char *x = dtx_task_input(ctx, 0, &isz);
    if (isz != bytes) return dtx_task_fail(ctx, "the sort's input chunk has %zu bytes, not %zu", isz, bytes);
    *in = (lanes){(char *)(uintptr_t)x, p->n * p->inner, p->inner, 1};
  }
  if (p->out_ext != 0) {
    *out = (lanes){(char *)(uintptr_t)p->out_ext, p->oso, p->osk, p->osi};
    return 0;
  }
  char *o = dtx_task_output(ctx, bytes);
  if (o == NULL && bytes > 0)
    return dtx_task_fail(ctx, "out of memory for a sort output of %zu bytes", bytes);
  *out = (lanes){o, p->n * p->inner, p->inner, 1};
  return 0;
}

/* n bytes from s to d, past the caches where the ISA can (non-temporal
 * stores: a sorted lane of a large output is not read again soon, and the
 * destination's lines need not be read first): a third less memory traffic
 * than a copy. d and s 16-byte aligned for the streaming part. */
static void stream_out(char *d, const char *s, size_t n) {
#if defined(__SSE2__)
  if (((uintptr_t)d & 15) == 0 && ((uintptr_t)s & 15) == 0) {
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
      _mm_stream_si128((__m128i *)(void *)(d + i), _mm_load_si128((const __m128i *)(const void *)(s + i)));
      _mm_stream_si128((__m128i *)(void *)(d + i + 16),
                       _mm_load_si128((const __m128i *)(const void *)(s + i + 16)));
      _mm_stream_si128((__m128i *)(void *)(d + i + 32),
                       _mm_load_si128((const __m128i *)(const void *)(s + i + 32)));
      _mm_stream_si128((__m128i *)(void *)(d + i + 48),
                       _mm_load_si128((const __m128i *)(const void *)(s + i + 48)));
    }
    memcpy(d + i, s + i, n - i);
    return;
  }
#endif
  memcpy(d, s, n);
}

/* One lane of a task, in place (scratch: n elements, and n bytes more for
 * complex ones). */
static void sort_one(const dtxk_sort *p, char *x, char *scratch) {
  if (p->cplx)
    dtxk_sort_pairs(p->dtype, x, p->n, scratch);
  else
    dtxk_sort_lane(p->dtype, x, p->n, scratch);
}

int dtxk_sort_cpu(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_sort *p = (const dtxk_sort *)dtx_task_args(ctx, &asz);
  if (p == NULL || asz != sizeof *p || !dtxk_sort_dtype(p->dtype) || p->outer < 0 || p->n < 0 || p->inner < 0)
    return dtx_task_fail(ctx, "malformed sort-task arguments");
  if (p->cplx && p->dtype != DTXK_F64 && p->dtype != DTXK_F32)
    return dtx_task_fail(ctx, "malformed sort-task arguments (complex pairs of dtype %d)", (int)p->dtype);
  int esz = dtxk_size(p->dtype) * (p->cplx ? 2 : 1);
  size_t bytes = (size_t)(p->outer * p->n * p->inner * esz);
  lanes in = {NULL, 0, 0, 0}, out = {NULL, 0, 0, 0};
  if (task_lanes(ctx, p, bytes, &in, &out) != 0) return -1;
  if (bytes == 0) return 0;
  /* two lanes, and the categories of a complex one */
  char *buf = dtx_task_scratch(ctx, (size_t)(2 * p->n * esz + (p->cplx ? p->n : 0)));
  if (buf == NULL) return dtx_task_fail(ctx, "out of memory for the sort's scratch");
  /* outputs of 1 MiB and more, in lanes of 4 KiB and more, are streamed */
  int stream = bytes >= ((size_t)1 << 20) && p->n * esz >= 4096;
  for (int64_t o = 0; o < p->outer; o++)
    for (int64_t i = 0; i < p->inner; i++) {
      char *d = lane_at(&out, o, i, esz);
      const char *s = lane_at(&in, o, i, esz);
      if (out.sk == 1 && !stream) { /* a contiguous lane of the output: sorted there */
        copy_lane(d, 1, s, in.sk, p->n, esz);
        sort_one(p, d, buf);
        continue;
      }
      if (out.sk == 1) { /* sorted in cache, streamed out */
        copy_lane(buf, 1, s, in.sk, p->n, esz);
        sort_one(p, buf, buf + p->n * esz);
        stream_out(d, buf, (size_t)(p->n * esz));
        continue;
      }
      copy_lane(buf, 1, s, in.sk, p->n, esz);
      sort_one(p, buf, buf + p->n * esz);
      copy_lane(d, out.sk, buf, 1, p->n, esz);
    }
  return 0;
}
