/*
 * kernels/mask.c - the CPU implementation of boolean-mask selection tasks
 * (kernels/mask.h). Walks the band in C order of the array as runs along
 * the last axis (one run per chunk it crosses), first counting the selected
 * elements, then copying them as bytes, so every dtype is one loop. Runs
 * on the task's thread; no state.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/mask.h"

typedef struct walk {
  const dtxk_mask *p;
  const void *const *in; /* values then masks */
  char *out;             /* NULL: count only */
  int64_t count;
} walk;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* One run: positions [lo, hi) along the last axis, the other axes at pos. */
static void run(walk *w, const int64_t *pos, int64_t lo, int64_t hi) {
  const dtxk_mask *p = w->p;
  int nd = p->ndim, last = nd - 1;
  int64_t ci = 0, off = 0; /* the chunk (C order over axes 1..) and the offset of the run in it */
  for (int d = 0; d < nd; d++) {
    int64_t i = d == last ? lo : pos[d];
    int64_t g = d == 0 ? 0 : i / p->chunk[d], l = d == 0 ? i : i % p->chunk[d];
    int64_t len = d == 0 ? p->rows : min64(p->chunk[d], p->shape[d] - g * p->chunk[d]);
    int64_t nbd = d == 0 ? 1 : (p->shape[d] + p->chunk[d] - 1) / p->chunk[d];
    ci = ci * nbd + g;
    off = off * len + l;
  }
  const unsigned char *m = (const unsigned char *)w->in[p->nchunks + ci] + off;
  const char *v = (const char *)w->in[ci] + (size_t)off * (size_t)p->esz;
  for (int64_t k = 0; k < hi - lo; k++) {
    if (!m[k]) continue;
    if (w->out != NULL)
      memcpy(w->out + (size_t)w->count * (size_t)p->esz, v + (size_t)k * (size_t)p->esz, (size_t)p->esz);
    w->count++;
  }
}

/* Visits the band in C order: every position of axes 0..nd-2, then the
 * last axis chunk by chunk. */
static void visit(walk *w) {
  const dtxk_mask *p = w->p;
  int nd = p->ndim, last = nd - 1;
  int64_t pos[DTX_ARRAY_MAX_DIMS] = {0}, ext[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < nd; d++) ext[d] = d == 0 ? p->rows : p->shape[d];
  w->count = 0;
  for (;;) {
    for (int64_t lo = 0; lo < ext[last]; lo += last == 0 ? ext[0] : p->chunk[last]) {
      int64_t step = last == 0 ? ext[0] : p->chunk[last] - lo % p->chunk[last];
      run(w, pos, lo, min64(ext[last], lo + step));
    }
    int d = last - 1;
    for (; d >= 0; d--) {
      if (++pos[d] < ext[d]) break;
      pos[d] = 0;
    }
    if (d < 0) return;
  }
}

int dtxk_mask_cpu(dtx_task_ctx *ctx) {
  const dtxk_mask *p = dtx_task_args(ctx, NULL);
  int n = (int)(2 * p->nchunks);
  const void *small[32], **in = n <= 32 ? small : malloc((size_t)n * sizeof *in);
  if (in == NULL) return dtx_task_fail(ctx, "mask_select: out of memory");
  for (int i = 0; i < n; i++) in[i] = dtx_task_input(ctx, i, NULL);
  walk w = {p, in, NULL, 0};
  visit(&w);
  size_t bytes = (size_t)w.count * (size_t)p->esz;
  w.out = dtx_task_output(ctx, bytes);
  int rc = 0;
  if (w.out == NULL && bytes > 0)
    rc = dtx_task_fail(ctx, "mask_select: out of memory for %zu bytes", bytes);
  else if (bytes > 0)
    visit(&w);
  if (in != small) free(in);
  return rc;
}
