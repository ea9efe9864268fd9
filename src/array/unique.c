/*
 * array/unique.c - dtx_unique (dtx/index.h): a source of unknown length
 * (array/unknown.c), a DTXA_BLOCKS node of one piece made by
 *   .part[b]   the sorted distinct values of chunk b
 *   .m<L>[g]   level L of a tree merging up to FANIN of those
 * (kernels/unique.h, CPU tasks), as dask.array.unique. Dtypes the sort
 * tasks do not take are made unique as one that holds them exactly
 * (float16 as float32, small integers as int32, uint32 as int64) and cast
 * back. The building thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/blocks.h"
#include "base/error.h"
#include "dtx/index.h"
#include "kernels/unique.h"

#define FANIN 8

static dtx_status add(dtxa_emit *e, const dtx_array *node, const char *suffix, int64_t idx,
                      const dtx_task_id *in, int nin, dtx_task_id *id) {
  dtxk_unique p = {(int32_t)node->dtype, 0};
  dtxa_task t;
  memset(&t, 0, sizeof t);
  t.suffix = suffix;
  t.nidx = 1;
  t.idx[0] = idx;
  t.in = in;
  t.nin = nin;
  t.args = &p;
  t.args_size = sizeof p;
  t.cpu = dtxk_unique_cpu;
  return dtxa_emit_task(e, &t, id);
}

static dtx_status unique_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  (void)data;
  const dtx_array *a = node->in[0];
  int64_t n = dtxa_nblocks(a);
  dtx_task_id *ids = calloc((size_t)n, sizeof *ids);
  dtx_status rc = ids != NULL ? DTX_OK : dtxi_fail(DTX_ENOMEM, "unique: out of memory");
  for (int64_t b = 0; b < n && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS], r = b;
    for (int d = a->ndim - 1; d >= 0; d--) {
      idx[d] = r % dtxa_nb(a, d);
      r /= dtxa_nb(a, d);
    }
    dtx_task_id x;
    rc = dtxa_emit_input(e, 0, NULL, idx, &x);
    if (rc == DTX_OK) rc = add(e, node, ".part", b, &x, 1, &ids[b]);
  }
  for (int level = 0; rc == DTX_OK && n > 1; level++) {
    int64_t groups = (n + FANIN - 1) / FANIN;
    char suffix[16];
    snprintf(suffix, sizeof suffix, ".m%d", level);
    for (int64_t g = 0; g < groups && rc == DTX_OK; g++) {
      int m = (int)(n - g * FANIN < FANIN ? n - g * FANIN : FANIN);
      rc = add(e, node, suffix, g, ids + g * FANIN, m, &ids[g]);
    }
    n = groups;
  }
  if (rc == DTX_OK) dtxa_emit_set(e, 0, ids[0]);
  free(ids);
  return rc;
}

dtx_array *dtx_unique(const dtx_array *a) {
  if (a == NULL) return NULL;
  dtx_array *x = (dtx_array *)a, *r = NULL;
  int unknown, deferred;
  if (dtxa_deferred_inputs(DTXA_BLOCKS, "dtx_unique", 1, &x, &unknown, &deferred) != DTX_OK) return NULL;
  if (dtx_array_size(a) == 0) { /* nothing to make unique: known empty */
    int64_t zero = 0, one = 1;
    return dtx_zeros(a->cl, 1, &zero, &one, a->dtype);
  }
  dtx_dtype t = a->dtype, k = t; /* the sort tasks' dtypes, as dtx_sort */
  if (t == DTX_F16) k = DTX_F32;
  if (t == DTX_I8 || t == DTX_I16 || t == DTX_U8 || t == DTX_U16) k = DTX_I32;
  if (t == DTX_U32) k = DTX_I64;
  dtx_array_scope_begin();
  if (k != t) x = dtx_astype(a, k);
  int64_t one = 1;
  if (x != NULL)
    r = dtxa_unknown_source(dtxa_blocks(x->cl, "unique", 1, &one, &one, k, 1, &x, unique_emit, NULL, 0));
  if (r != NULL && k != t) r = dtx_array_keep(dtx_astype(dtxa_ret(r), t));
  dtx_array_scope_end();
  return r != NULL ? dtxa_ret(r) : NULL;
}
