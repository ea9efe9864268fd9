/*
 * kernels/fused_transpose.c - the fast path of the CPU fused tasks for a
 * float64 leaf plus the transpose of another (x + x.T), summed, averaged or
 * stored as a chunk.
 *
 * The program `LOAD a; LOAD b; ADD` over float64 leaves, reduced by SUM (or
 * MEAN, which folds as SUM) or written as a chunk, where one leaf is read
 * along the region's rows and the other across them: each 8 x 8 block of the
 * transposed leaf is loaded as 8 contiguous runs and transposed in
 * registers, so no tile is copied and no strip is interpreted. The sub-
 * rectangle goes in the general path's DTXK_TR x DTXK_TC tiles, in its
 * order; a tile whose sides are not multiples of 8 goes through the general
 * path (dtxi_general_tile). The sums are formed in exactly the order
 * fold_one / fold_each use on the strips of a tile (8 lanes per row of the
 * tile, the lanes added as a tree, rows in order), so results do not change.
 * Needs __builtin_shufflevector (GCC 12, clang); elsewhere it never matches.
 * Runs on the task's thread, over the exec the driver gives it.
 */
#include "kernels/fused_path.h"

#if VEC8 && (defined(__clang__) || __GNUC__ >= 12) /* __builtin_shufflevector */

enum { BIN_ADD = 1 }; /* add's id in DTXK_BINARY_OPS */

/* r[j][k] <- r[k][j] */
ALWAYS void tr8x8(v8d *r) {
  v8d t[8], u[8];
  for (int k = 0; k < 8; k += 2) {
    t[k] = __builtin_shufflevector(r[k], r[k + 1], 0, 8, 2, 10, 4, 12, 6, 14);
    t[k + 1] = __builtin_shufflevector(r[k], r[k + 1], 1, 9, 3, 11, 5, 13, 7, 15);
  }
  for (int k = 0; k < 8; k += 4)
    for (int j = 0; j < 2; j++) {
      u[k + j] = __builtin_shufflevector(t[k + j], t[k + j + 2], 0, 1, 8, 9, 4, 5, 12, 13);
      u[k + j + 2] = __builtin_shufflevector(t[k + j], t[k + j + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    }
  for (int k = 0; k < 4; k++) {
    r[k] = __builtin_shufflevector(u[k], u[k + 4], 0, 1, 2, 3, 8, 9, 10, 11);
    r[k + 4] = __builtin_shufflevector(u[k], u[k + 4], 4, 5, 6, 7, 12, 13, 14, 15);
  }
}

/* The operands of one tile: a (rows as apart) and the transposed b (region
 * rows contiguous, columns bs apart), at the tile's first element; na / nb:
 * the same at the next tile (nrh x ncw), or NULL. */
typedef struct pair_ops {
  const double *a, *b, *na, *nb;
  int64_t as, bs, nrh, ncw;
} pair_ops;

/* The rh x cw tile (both multiples of 8) of a plus the transpose b. dst[q]:
 * where row q of the tile goes (its state for FOLD_ONE, its first state or
 * element otherwise). The next tile is prefetched a slice per 8 rows, so its
 * requests spread over this tile's work rather than stall in one burst. */
HOT static void pair_tile(int how, const pair_ops *o, int64_t rh, int64_t cw, double *const *dst) {
  const double *a = o->a, *b = o->b;
  int64_t as = o->as, bs = o->bs, groups = rh / 8;
  for (int64_t rg = 0; rg < rh; rg += 8) {
    if (o->na != NULL) {
      int64_t g = rg / 8;
      for (int64_t q = g * o->nrh / groups; q < (g + 1) * o->nrh / groups; q++)
        for (int64_t c = 0; c < o->ncw * 8; c += 64) __builtin_prefetch((const char *)(o->na + q * as) + c);
      for (int64_t c = g * o->ncw / groups; c < (g + 1) * o->ncw / groups; c++)
        for (int64_t q = 0; q < o->nrh * 8; q += 64) __builtin_prefetch((const char *)(o->nb + c * bs) + q);
    }
    v8d acc[8];
    for (int k = 0; k < 8; k++) acc[k] = (v8d){0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t cb = 0; cb < cw; cb += 8) {
      v8d t[8];
      for (int k = 0; k < 8; k++) ld8(&t[k], b + (cb + k) * bs + rg);
      tr8x8(t);
      for (int k = 0; k < 8; k++) {
        v8d x;
        ld8(&x, a + (rg + k) * as + cb);
        x += t[k];
        if (how == DTXI_ROW_FOLD_ONE) {
          acc[k] += x;
        } else if (how == DTXI_ROW_FOLD_EACH) {
          v8d y;
          ld8(&y, dst[rg + k] + cb);
          y += x;
          st8(dst[rg + k] + cb, &y);
        } else {
          st8(dst[rg + k] + cb, &x);
        }
      }
    }
    if (how == DTXI_ROW_FOLD_ONE)
      for (int k = 0; k < 8; k++) *dst[rg + k] += hsum8(&acc[k]);
  }
}

/* The program is a pair sum pair_tile can run: the row delivery; a->la /
 * a->lb: the leaves of the two loads (either may be the transposed one). */
static int transpose_match(const dtxi_exec *e, dtxi_path_args *a) {
  const dtxk_prog *p = e->p;
  if (p->ninstr != 3) return 0;
  const dtxk_instr *in = e->ins;
  if (in[0].op != DTXK_I_LOAD || in[1].op != DTXK_I_LOAD || in[2].op != DTXK_I_BIN || in[2].sub != BIN_ADD ||
      in[0].dtype != DTXK_F64 || in[1].dtype != DTXK_F64 || in[2].dtype != DTXK_F64 ||
      in[0].dst == in[1].dst || p->result != in[2].dst || in[2].dst == in[0].dst || in[2].dst == in[1].dst)
    return 0;
  if (!((in[2].a == in[0].dst && in[2].b == in[1].dst) || (in[2].a == in[1].dst && in[2].b == in[0].dst)))
    return 0;
  a->la = in[0].a;
  a->lb = in[1].a;
  if (p->out_kind == DTXK_OUT_CHUNK) return p->out_dtype == DTXK_F64 ? DTXI_ROW_STORE : 0;
  if (p->out_kind != DTXK_OUT_REDUCE || e->red != DTXK_R_SUM || p->acc != DTXK_F64 ||
      p->out_dtype != DTXK_F64)
    return 0;
  if (e->inner_reduced) return DTXI_ROW_FOLD_ONE;
  return e->ostride[DTXK_DC] == 1 ? DTXI_ROW_FOLD_EACH : 0;
}

/* Both leaves float64 in memory, one read along the rows and the other
 * across them (in tiles): a->la becomes the former, a->lb the latter. */
static int transpose_fits(const dtxi_exec *e, const dtxi_rect *r, dtxi_path_args *a) {
  if (!r->tiled) return 0;
  int l0 = a->la, l1 = a->lb;
  const dtxk_rleaf *q0 = &e->rl[l0], *q1 = &e->rl[l1];
  if (!dtxi_f64_in_place(e, l0) || !dtxi_f64_in_place(e, l1)) return 0;
  if (q0->stride[DTXK_DC] == 1 && q1->stride[DTXK_DR] == 1 && q1->stride[DTXK_DC] > 1) return 1;
  if (q1->stride[DTXK_DC] == 1 && q0->stride[DTXK_DR] == 1 && q0->stride[DTXK_DC] > 1) {
    a->la = l1;
    a->lb = l0;
    return 1;
  }
  return 0;
}

/* The tile at rows r0.., columns c0.. of the plane i[0 .. DTXK_DR), both
 * sides multiples of 8, through pair_tile. */
static void transpose_tile(dtxi_exec *e, const dtxi_rect *r, const dtxi_path_args *a, const int64_t *i,
                           int64_t rh, int64_t cw) {
  const dtxk_rleaf *ra = &e->rl[a->la], *rt = &e->rl[a->lb];
  int64_t e2 = r->n[DTXK_DR], e3 = r->n[DTXK_DC], r0 = i[DTXK_DR], c0 = i[DTXK_DC];
  double *dst[DTXK_TR];
  int64_t iq[DTXK_MAX_DIMS];
  memcpy(iq, i, sizeof iq);
  for (int64_t q = 0; q < rh; q++) {
    iq[DTXK_DR] = r0 + q;
    dst[q] = (double *)(void *)dtxi_out_at(e, r->s, iq);
  }
  const double *a0 = (const double *)(const void *)ra->ptr + dtxi_plane_off(ra->stride, i),
               *b0 = (const double *)(const void *)rt->ptr + dtxi_plane_off(rt->stride, i);
  pair_ops o = {.a = a0 + r0 * ra->stride[DTXK_DR] + c0,
                .b = b0 + r0 + c0 * rt->stride[DTXK_DC],
                .as = ra->stride[DTXK_DR],
                .bs = rt->stride[DTXK_DC]};
  /* the next tile: along the row, else the first of the next row of tiles */
  int64_t nr = c0 + DTXK_TC < e3 ? r0 : r0 + DTXK_TR, nc = c0 + DTXK_TC < e3 ? c0 + DTXK_TC : 0;
  if (nr < e2) {
    o.na = a0 + nr * o.as + nc;
    o.nb = b0 + nr + nc * o.bs;
    o.nrh = e2 - nr < DTXK_TR ? e2 - nr : DTXK_TR;
    o.ncw = e3 - nc < DTXK_TC ? e3 - nc : DTXK_TC;
  }
  pair_tile(a->how, &o, rh, cw, dst);
}

/* The sub-rectangle tile by tile, in the general path's order. */
static void transpose_run(dtxi_exec *e, const dtxi_rect *r, const dtxi_path_args *a) {
  int64_t i[DTXK_MAX_DIMS] = {0};
  int64_t e2 = r->n[DTXK_DR], e3 = r->n[DTXK_DC];
  for (int64_t t = 0, np = dtxi_planes(r); t < np; t++, dtxi_plane_next(r, i))
    for (int64_t r0 = 0; r0 < e2; r0 += DTXK_TR)
      for (int64_t c0 = 0; c0 < e3; c0 += DTXK_TC) {
        int64_t rh = e2 - r0 < DTXK_TR ? e2 - r0 : DTXK_TR, cw = e3 - c0 < DTXK_TC ? e3 - c0 : DTXK_TC;
        i[DTXK_DR] = r0;
        i[DTXK_DC] = c0;
        if (rh % 8 == 0 && cw % 8 == 0)
          transpose_tile(e, r, a, i, rh, cw);
        else
          dtxi_general_tile(e, r, i, r0, c0);
      }
}

const dtxi_path_ops dtxi_path_transpose = {transpose_match, transpose_fits, transpose_run};

#else

static int transpose_never(const dtxi_exec *e, dtxi_path_args *a) { return 0; }
const dtxi_path_ops dtxi_path_transpose = {transpose_never, NULL, NULL};

#endif
