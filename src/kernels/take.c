/*
 * kernels/take.c - the CPU implementation of take tasks (kernels/take.h):
 * a gather of rows of inner elements, copied as bytes, so every dtype is
 * one loop. Runs on the task's thread; no state.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/take.h"

/* Copies the n rows of every outer block; row k comes from in[slot[k]] at off[k]. */
static void gather(const dtxk_take *p, const void *const *in, const int64_t *len, const int64_t *off,
                   const int32_t *slot, char *out) {
  size_t row = (size_t)(p->inner * p->esz);
  for (int64_t o = 0; o < p->outer; o++)
    for (int64_t k = 0; k < p->n; k++) {
      int32_t s = slot[k];
      const char *src = (const char *)in[s] + (size_t)((o * len[s] + off[k]) * p->inner * p->esz);
      memcpy(out + (size_t)(o * p->n + k) * row, src, row);
    }
}

/* ARRAY mode: turns the index chunk into slots and offsets, checking each. */
static int resolve(dtx_task_ctx *ctx, const dtxk_take *p, const int64_t *ix, int64_t *len, int64_t *off,
                   int32_t *slot) {
  for (int j = 0; j < p->nin; j++) {
    int64_t lo = (int64_t)j * p->chunk;
    len[j] = p->axis_len - lo < p->chunk ? p->axis_len - lo : p->chunk;
  }
  for (int64_t k = 0; k < p->n; k++) {
    int64_t i = ix[k] < 0 ? ix[k] + p->axis_len : ix[k];
    if (i < 0 || i >= p->axis_len)
      return dtx_task_fail(ctx, "index %lld is out of bounds for axis %d with size %lld", (long long)ix[k],
                           p->axis, (long long)p->axis_len);
    slot[k] = (int32_t)(i / p->chunk);
    off[k] = i % p->chunk;
  }
  return 0;
}

/* FLAT mode: the same for indices into the flattened array. */
static int resolve_flat(dtx_task_ctx *ctx, const dtxk_take *p, const int64_t *ix, int64_t *len, int64_t *off,
                        int32_t *slot) {
  for (int j = 0; j < p->nin; j++) len[j] = 0; /* outer is 1: never read */
  for (int64_t k = 0; k < p->n; k++) {
    int64_t i = ix[k] < 0 ? ix[k] + p->axis_len : ix[k], b = 0, o = 0;
    if (i < 0 || i >= p->axis_len)
      return dtx_task_fail(ctx, "index %lld is out of bounds for axis 0 with size %lld (the flattened array)",
                           (long long)ix[k], (long long)p->axis_len);
    int64_t rest = i, m[DTXK_TAKE_MAX_DIMS];
    for (int d = p->ndim - 1; d >= 0; d--) {
      m[d] = rest % p->shape[d];
      rest /= p->shape[d];
    }
    for (int d = 0; d < p->ndim; d++) {
      int64_t blk = m[d] / p->chunks[d], lo = blk * p->chunks[d];
      int64_t nbd = (p->shape[d] + p->chunks[d] - 1) / p->chunks[d];
      int64_t ld = p->shape[d] - lo < p->chunks[d] ? p->shape[d] - lo : p->chunks[d];
      b = b * nbd + blk;
      o = o * ld + (m[d] - lo);
    }
    slot[k] = (int32_t)b;
    off[k] = o;
  }
  return 0;
}

int dtxk_take_cpu(dtx_task_ctx *ctx) {
  const dtxk_take *p = dtx_task_args(ctx, NULL);
  size_t bytes = (size_t)(p->outer * p->n * p->inner * p->esz);
  const void *small[16], **in = p->nin <= 16 ? small : malloc((size_t)p->nin * sizeof *in);
  int64_t *buf = NULL;
  int rc = 0;
  if (in == NULL) return dtx_task_fail(ctx, "take: out of memory");
  int first = p->mode != DTXK_TAKE_LIST ? 1 : 0;
  for (int j = 0; j < p->nin; j++) in[j] = dtx_task_input(ctx, first + j, NULL);
  const int64_t *len, *off;
  const int32_t *slot;
  if (p->mode == DTXK_TAKE_LIST) {
    len = (const int64_t *)(const void *)(p + 1);
    off = len + p->nin;
    slot = (const int32_t *)(const void *)(off + p->n);
  } else {
    buf = malloc((size_t)(p->nin + 2 * p->n + 1) * sizeof *buf);
    if (buf == NULL) rc = dtx_task_fail(ctx, "take: out of memory");
    int64_t *l = buf, *o = buf + p->nin;
    int32_t *s = (int32_t *)(void *)(o + p->n);
    const int64_t *ix = dtx_task_input(ctx, 0, NULL);
    if (rc == 0)
      rc = p->mode == DTXK_TAKE_FLAT ? resolve_flat(ctx, p, ix, l, o, s) : resolve(ctx, p, ix, l, o, s);
    len = l;
    off = o;
    slot = s;
  }
  char *out = rc == 0 ? dtx_task_output(ctx, bytes) : NULL;
  if (rc == 0 && out == NULL && bytes > 0)
    rc = dtx_task_fail(ctx, "take: out of memory for %zu bytes", bytes);
  if (rc == 0) gather(p, in, len, off, slot, out);
  free(buf);
  if (in != small) free(in);
  return rc;
}
