/*
 * array/mask.c - dtx_mask_select (dtx/index.h), x[mask]: a source of
 * unknown length (array/unknown.c), a DTXA_BLOCKS node whose pieces are one
 * select task (kernels/mask.h) per band of chunks (one block index along
 * axis 0, every chunk along the others), so the pieces joined in order are
 * the selection in C order of the array, as NumPy's. The mask is read in
 * a's chunks. A complex a is selected from its pairs (a chunk of the pairs
 * is a chunk of complex values), the pieces pairs of its part dtype: a
 * complex array of unknown length (dtxa_unknown_complex). The building
 * thread only.
 */
#include <string.h>

#include "array/blocks.h"
#include "array/complex.h"
#include "base/error.h"
#include "dtx/index.h"
#include "kernels/mask.h"

#define MAXIN 1024 /* inputs of one band task: rechunk wider arrays first */

static dtx_status band_task(dtxa_emit *e, const dtx_array *node, const dtxk_mask *tmpl, int64_t band,
                            dtx_task_id *in) {
  (void)node;
  dtxk_mask p = *tmpl; /* the geometry of the (complex) elements: a 0-d array as (1,) */
  int nd = p.ndim;
  p.rows = p.shape[0] - band * p.chunk[0] < p.chunk[0] ? p.shape[0] - band * p.chunk[0] : p.chunk[0];
  dtx_status rc = DTX_OK;
  for (int64_t c = 0; c < p.nchunks && rc == DTX_OK; c++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS] = {0}, r = c; /* a pairs' last axis: block 0 */
    for (int d = nd - 1; d >= 1; d--) {
      int64_t nb = (p.shape[d] + p.chunk[d] - 1) / p.chunk[d];
      idx[d] = r % nb;
      r /= nb;
    }
    idx[0] = band; /* 0 for a 0-d array */
    rc = dtxa_emit_input(e, 0, NULL, idx, &in[c]);
    if (rc == DTX_OK) rc = dtxa_emit_input(e, 1, p.chunk, idx, &in[p.nchunks + c]);
  }
  dtxa_task t = dtxa_task_make(NULL, 1, &band, in, (int)(2 * p.nchunks), &p, sizeof p, dtxk_mask_cpu);
  dtx_task_id id;
  if (rc == DTX_OK) rc = dtxa_emit_task(e, &t, &id);
  if (rc == DTX_OK) dtxa_emit_set(e, band, id);
  return rc;
}

static dtx_status mask_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  const dtxk_mask *tmpl = data;
  dtx_task_id in[2 * MAXIN];
  dtx_status rc = DTX_OK;
  for (int64_t band = 0; band < node->shape[0] && rc == DTX_OK; band++)
    rc = band_task(e, node, tmpl, band, in);
  return rc;
}

dtx_array *dtx_mask_select(const dtx_array *a, const dtx_array *mask) {
  if (a == NULL || mask == NULL) return NULL;
  dtx_array *in[2] = {(dtx_array *)a, (dtx_array *)mask};
  int unknown, deferred;
  if (dtxa_deferred_inputs(DTXA_BLOCKS, "dtx_mask_select", 2, in, &unknown, &deferred) != DTX_OK) return NULL;
  int same = a->ndim == mask->ndim;
  for (int d = 0; d < a->ndim && same; d++) same = a->shape[d] == mask->shape[d];
  if (mask->dtype != DTX_BOOL || !same || a->cl != mask->cl) {
    dtxi_fail(DTX_EINVAL,
              "dtx_mask_select: the mask must be a bool array of a's shape and cluster (a: %d-d, mask: "
              "%d-d %s%s); make one with a comparison or dtx_astype(m, DTX_BOOL)",
              a->ndim, mask->ndim, dtx_dtype_name(mask->dtype), a->cl != mask->cl ? ", another cluster" : "");
    return NULL;
  }
  if (dtx_array_size(a) == 0) { /* nothing to select: known empty */
    int64_t zero = 0, one = 1;
    return dtx_zeros(a->cl, 1, &zero, &one, a->dtype);
  }
  int cx = dtxa_cx_in(a);
  if (cx) in[0] = (dtx_array *)dtxa_cx_pairs(a);
  dtxk_mask p;
  memset(&p, 0, sizeof p);
  p.esz = (int32_t)dtx_dtype_size(a->dtype); /* a complex value: its pair */
  p.ndim = a->ndim > 0 ? a->ndim : 1;        /* 0-d: one element, as shape (1,) */
  p.nchunks = 1;
  for (int d = 0; d < p.ndim; d++) {
    p.shape[d] = a->ndim > 0 ? a->shape[d] : 1;
    p.chunk[d] = a->ndim > 0 ? a->chunk[d] : 1;
    if (d > 0) p.nchunks *= dtxa_nb(a, d);
  }
  if (p.nchunks > MAXIN) {
    dtxi_fail(DTX_EINVAL,
              "dtx_mask_select: a has %lld chunks across axis 0 (at most %d); rechunk it with longer "
              "chunks along the other axes",
              (long long)p.nchunks, MAXIN);
    return NULL;
  }
  int64_t pieces = a->ndim > 0 ? dtxa_nb(a, 0) : 1, one = 1;
  dtx_dtype t = cx ? dtxa_cx_part(a->dtype) : a->dtype;
  dtx_array *r = dtxa_unknown_source(
      dtxa_blocks(a->cl, "mask_select", 1, &pieces, &one, t, 2, in, mask_emit, &p, sizeof p));
  if (!cx || r == NULL) return dtxa_ret(r);
  dtx_array *z = dtxa_unknown_complex(r, a->dtype);
  dtx_array_release(r);
  return dtxa_ret(z);
}
