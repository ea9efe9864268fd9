/*
 * kernels/fused_copy.c - the fast path of the CPU fused tasks for a copy:
 * a program that loads one leaf and stores it as it is (same dtype, no
 * operation), which is what rechunk, concatenate, stack, slices with unit
 * steps along the rows and moving a chunk into the caller's buffer make.
 *
 * The general path moves such a copy strip by strip through a register; on
 * the pairs of complex arrays (rows of 2 values) that was a call per
 * element pair (fft2's rechunk: 26% of its cycles). Here the dims along
 * which both the leaf and the output are contiguous are merged from the
 * columns outward into one run, and each run is one memcpy: a row, a whole
 * plane, or the whole sub-rectangle. Any dtype; the leaf read in place with
 * unit stride along the columns (other strides, generated and filled leaves
 * go to the general path). Bits are copied, so the result is the general
 * path's.
 * Runs on the task's thread, over the exec the driver gives it.
 */
#include "kernels/fused_path.h"

static int copy_match(const dtxi_exec *e, dtxi_path_args *a) {
  const dtxk_prog *p = e->p;
  const dtxk_instr *in = e->ins;
  if (p->ninstr != 1 || in[0].op != DTXK_I_LOAD || p->result != in[0].dst || in[0].dtype != p->out_dtype ||
      (p->out_kind != DTXK_OUT_CHUNK && p->out_kind != DTXK_OUT_EXT) || e->ostride[DTXK_DC] != 1)
    return 0;
  a->la = in[0].a;
  return DTXI_ROW_STORE;
}

static int copy_fits(const dtxi_exec *e, const dtxi_rect *r, dtxi_path_args *a) {
  const dtxk_rleaf *q = &e->rl[a->la];
  return !r->tiled && (q->kind == DTXK_LEAF_TASK || q->kind == DTXK_LEAF_EXT) && !e->leaves[a->la].is_sub &&
         q->dtype == e->p->out_dtype && q->stride[DTXK_DC] == 1;
}

static void copy_run(dtxi_exec *e, const dtxi_rect *r, const dtxi_path_args *a) {
  const dtxk_rleaf *q = &e->rl[a->la];
  int64_t esz = dtxk_size(q->dtype);
  /* merge dims into the run while both sides stay contiguous: dims first..
   * DTXK_DC are one run of `run` elements */
  int first = DTXK_DC;
  int64_t run = r->n[DTXK_DC];
  while (first > 0 &&
         (r->n[first - 1] == 1 || (q->stride[first - 1] == run && e->ostride[first - 1] == run))) {
    first--;
    run *= r->n[first];
  }
  if (run == 0) return;
  int64_t i[DTXK_MAX_DIMS] = {0}, outer = 1;
  for (int k = 0; k < first; k++) outer *= r->n[k];
  for (int64_t t = 0; t < outer; t++) {
    int64_t src = 0;
    for (int k = 0; k < first; k++) src += i[k] * q->stride[k];
    memcpy(dtxi_out_at(e, r->s, i), q->ptr + src * esz, (size_t)(run * esz));
    for (int k = first - 1; k >= 0; k--) { /* odometer over dims 0 .. first */
      if (++i[k] < r->n[k]) break;
      i[k] = 0;
    }
  }
}

const dtxi_path_ops dtxi_path_copy = {copy_match, copy_fits, copy_run};
