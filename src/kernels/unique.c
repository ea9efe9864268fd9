/*
 * kernels/unique.c - the CPU implementation of unique tasks
 * (kernels/unique.h): concatenate, sort (dtxk_sort_lane), drop repeats.
 * Runs on the task's thread; the scratch buffer is its own.
 */
#include <stdlib.h>
#include <string.h>

#include "dtx/array.h"
#include "kernels/sort.h"
#include "kernels/unique.h"

/* Keeps the first of each run of equal values (NaNs equal) in x[0..n); returns the count kept. */
#define DEDUP(S, T)                                                               \
  static int64_t dedup_##S(T *x, int64_t n) {                                     \
    int64_t k = 0;                                                                \
    for (int64_t i = 0; i < n; i++) {                                             \
      T v = x[i];                                                                 \
      if (k > 0 && (x[k - 1] == v || (v != v && x[k - 1] != x[k - 1]))) continue; \
      x[k++] = v;                                                                 \
    }                                                                             \
    return k;                                                                     \
  }
DEDUP(u8, uint8_t)
DEDUP(i32, int32_t)
DEDUP(i64, int64_t)
DEDUP(u64, uint64_t)
DEDUP(f32, float)
DEDUP(f64, double)

static int64_t dedup(int dtype, void *x, int64_t n) {
  switch (dtype) {
    case DTX_BOOL:
      return dedup_u8(x, n);
    case DTX_I32:
      return dedup_i32(x, n);
    case DTX_I64:
      return dedup_i64(x, n);
    case DTX_U64:
      return dedup_u64(x, n);
    case DTX_F32:
      return dedup_f32(x, n);
    default:
      return dedup_f64(x, n);
  }
}

int dtxk_unique_cpu(dtx_task_ctx *ctx) {
  const dtxk_unique *p = dtx_task_args(ctx, NULL);
  size_t esz = dtx_dtype_size((dtx_dtype)p->dtype), total = 0, sz;
  int nin = dtx_task_num_inputs(ctx);
  for (int i = 0; i < nin; i++) {
    dtx_task_input(ctx, i, &sz);
    total += sz;
  }
  char *x = malloc(total > 0 ? total : 1);
  if (x == NULL) return dtx_task_fail(ctx, "unique: out of memory for %zu bytes", total);
  size_t at = 0;
  for (int i = 0; i < nin; i++) {
    const void *in = dtx_task_input(ctx, i, &sz);
    if (sz > 0) memcpy(x + at, in, sz);
    at += sz;
  }
  int64_t n = (int64_t)(total / esz);
  if (dtxk_sort_lane(p->dtype, x, n, NULL) != 0) {
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
