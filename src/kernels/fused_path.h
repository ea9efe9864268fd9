/*
 * kernels/fused_path.h - how the CPU fused-task driver (kernels/fused.c)
 * hands one sub-rectangle of a region to a path that runs it: the general
 * strip interpreter (fused_general.c) or a fast path for a program of a
 * known shape (fused_transpose.c: x + x.T in 8 x 8 register blocks;
 * fused_sum.c: a float64 leaf summed along its rows; fused_colsum.c: the
 * rows of a float64 leaf summed into per-column states; fused_colarg.c: the
 * rows of a float64 or float32 leaf into per-column argmax / argmin states;
 * fused_chain.c: a float64 leaf through scalar + - * / in registers;
 * fused_copy.c: one leaf stored as it is, in runs of memcpy). Internal to
 * those files.
 *
 * A fast path is three functions (dtxi_path_ops): match, once per task, says
 * whether the program has the path's shape and fills its arguments; fits,
 * once per sub-rectangle, looks at the resolved leaves (in memory, float64,
 * the strides the path needs); run runs the whole sub-rectangle. The
 * driver's selector asks the paths in a fixed order and runs the first that
 * fits, else the general path; nothing inside a path's loops re-chooses.
 * Invariant: every fast path adds in the order of the general path (the
 * strips of DTXK_STRIP elements, 8 lanes added as a tree, rows in order), so
 * results are the same bit for bit whichever path runs.
 * Runs on the thread of the task; the exec is that task's own.
 */
#ifndef DTXK_FUSED_PATH_H
#define DTXK_FUSED_PATH_H

#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/program.h"

/* The hot loops: also built for AVX2 and AVX-512 (kernels.h). */
#define HOT DTXK_HOT

/* A strip register: where its values are (buf, or a leaf read in place). */
typedef struct dtxi_reg {
  const void *p;
  char *buf;
} dtxi_reg;

/* A task's program being run over its region. */
typedef struct dtxi_exec {
  const dtxk_prog *p;
  const dtxk_leaf *leaves;
  const dtxk_instr *ins;
  const dtxk_const *consts;
  dtxi_reg regs[DTXK_MAX_REGS];
  char *regmem; /* owns the register buffers and acc_buf */
  char *acc_buf;
  dtxk_rleaf rl[DTXK_MAX_LEAVES]; /* the leaves resolved at the current sub-rectangle */
  int64_t lo[DTXK_MAX_DIMS], ostride[DTXK_MAX_DIMS], astride[DTXK_MAX_DIMS];
  char *out; /* chunk, host memory (element 0), or states */
  int osize; /* bytes per output element / state */
  int inner_reduced;
  int red; /* the reduction folded per strip (MEAN folds as SUM) */
  /* leaves read across their rows, copied tile by tile into contiguous rows:
   * tile[l] is leaf l's copy of the current tile (or NULL), in tile_buf[l] */
  char *tile[DTXK_MAX_LEAVES];
  char *tile_buf[DTXK_MAX_LEAVES];
  int64_t tile_r0, tile_c0;
  /* the plane being run (dtxi_enter_plane): its part of the output slot and
   * of the argmin/max index, and each resolved leaf's offset there */
  int64_t plane_slot, plane_ix;
  int64_t plane_off[DTXK_MAX_LEAVES];
} dtxi_exec;

/* One sub-rectangle: every leaf reads one chunk with fixed strides there. */
typedef struct dtxi_rect {
  int64_t s[DTXK_MAX_DIMS]; /* its first element, global coordinates of the padded dims */
  int64_t n[DTXK_MAX_DIMS]; /* its extents */
  int tiled;                /* some leaf is read across its rows (dtxi_general_plan_tiles) */
} dtxi_rect;

/* How a fast path delivers a row of values: folded into the row's one state
 * (as fold_one), into one state per element (as fold_each), or stored. */
enum { DTXI_ROW_FOLD_ONE = 1, DTXI_ROW_FOLD_EACH, DTXI_ROW_STORE };

/* A chain of scalar float64 operations (fused_chain.c) */
#define DTXI_CHAIN_MAX 8
enum { DTXI_CH_VC = 0, DTXI_CH_CV, DTXI_CH_VV }; /* v op c, c op v, v op v */
typedef struct dtxi_chain {
  int n;
  uint8_t op[DTXI_CHAIN_MAX]; /* add .. div: 1 .. 4 as in DTXK_BINARY_OPS */
  uint8_t how[DTXI_CHAIN_MAX];
  double c[DTXI_CHAIN_MAX];
} dtxi_chain;

/* What a fast path runs with. */
typedef struct dtxi_path_args {
  int how;       /* DTXI_ROW_* */
  int la;        /* the leaf read (TRANSPOSE: the one read along the rows) */
  int lb;        /* TRANSPOSE: the one read across them */
  dtxi_chain ch; /* CHAIN */
} dtxi_path_args;

typedef struct dtxi_path_ops {
  /* Once per task: the row delivery (DTXI_ROW_*) when the program has the
   * path's shape, its arguments in *a; else 0. */
  int (*match)(const dtxi_exec *e, dtxi_path_args *a);
  /* Once per sub-rectangle, e->rl resolved there: whether the path can run
   * it; may adjust *a (a copy of what match gave). */
  int (*fits)(const dtxi_exec *e, const dtxi_rect *r, dtxi_path_args *a);
  void (*run)(dtxi_exec *e, const dtxi_rect *r, const dtxi_path_args *a);
} dtxi_path_ops;

extern const dtxi_path_ops dtxi_path_transpose; /* fused_transpose.c */
extern const dtxi_path_ops dtxi_path_sum;       /* fused_sum.c */
extern const dtxi_path_ops dtxi_path_colsum;    /* fused_colsum.c */
extern const dtxi_path_ops dtxi_path_colarg;    /* fused_colarg.c */
extern const dtxi_path_ops dtxi_path_chain;     /* fused_chain.c */
extern const dtxi_path_ops dtxi_path_copy;      /* fused_copy.c */

/* ---- the general path (fused_general.c) ---------------------------------------------- */

/* Allocates the strip registers and fills the constants, once per task.
 * 0, or -1 with *why set. */
int dtxi_general_setup(dtxi_exec *e, const char **why);
/* Frees what the general path allocated (registers, tiles). */
void dtxi_general_free(dtxi_exec *e);
/* Fills a strip of n values of dtype t with v (CONSTANT-mode fill, constants). */
void dtxi_fill_strip(double v, int t, void *dst, int n);
/* Finds the leaves read across their rows at r (e->rl resolved) and makes
 * sure each has a tile buffer: 1 if there are any, 0 if not, -1 (*why set)
 * when out of memory. */
int dtxi_general_plan_tiles(dtxi_exec *e, const dtxi_rect *r, const char **why);
/* Runs the sub-rectangle through the strip interpreter (tile by tile when
 * r->tiled). */
void dtxi_general_run(dtxi_exec *e, const dtxi_rect *r);
/* One tile of a tiled sub-rectangle: the tile at rows r0.., columns c0.. of
 * the plane whose outer coordinates are pl[0 .. DTXK_DR), its leaves copied
 * and its rows run as strips. */
void dtxi_general_tile(dtxi_exec *e, const dtxi_rect *r, const int64_t *pl, int64_t r0, int64_t c0);

/* ---- shared by the fast paths ----------------------------------------------------------- */

/* A float64 memory leaf read in place. */
static inline int dtxi_f64_in_place(const dtxi_exec *e, int l) {
  const dtxk_rleaf *r = &e->rl[l];
  return (r->kind == DTXK_LEAF_TASK || r->kind == DTXK_LEAF_EXT) && r->dtype == DTXK_F64 &&
         !e->leaves[l].is_sub;
}

/* Where element i (relative to the sub-rectangle at s) goes: its output
 * element or state. */
static inline char *dtxi_out_at(const dtxi_exec *e, const int64_t *s, const int64_t *i) {
  int64_t off = 0;
  for (int k = 0; k < DTXK_MAX_DIMS; k++) off += (s[k] + i[k] - e->lo[k]) * e->ostride[k];
  return e->out + off * e->osize;
}

/* The planes of a sub-rectangle: its extents before the rows and columns
 * (1 for the padding), walked in C order by an odometer. */
static inline int64_t dtxi_planes(const dtxi_rect *r) {
  int64_t n = 1;
  for (int k = 0; k < DTXK_DR; k++) n *= r->n[k];
  return n;
}
static inline void dtxi_plane_next(const dtxi_rect *r, int64_t *i) {
  for (int k = DTXK_DR - 1; k >= 0; k--) {
    if (++i[k] < r->n[k]) return;
    i[k] = 0;
  }
}
/* Offset (elements) of plane i[0 .. DTXK_DR) along the given strides. */
static inline int64_t dtxi_plane_off(const int64_t *stride, const int64_t *i) {
  int64_t off = 0;
  for (int k = 0; k < DTXK_DR; k++) off += i[k] * stride[k];
  return off;
}

/* Where row i2 of the plane whose row 0 goes to base (dtxi_out_at of it)
 * goes. */
static inline char *dtxi_out_row(const dtxi_exec *e, char *base, int64_t i2) {
  return base + i2 * e->ostride[DTXK_DR] * e->osize;
}

/* Leaf l's row i2 of plane pl at the current sub-rectangle (a float64 leaf). */
static inline const double *dtxi_f64_row(const dtxi_exec *e, int l, const int64_t *pl, int64_t i2) {
  const dtxk_rleaf *r = &e->rl[l];
  return (const double *)(const void *)r->ptr + dtxi_plane_off(r->stride, pl) + i2 * r->stride[DTXK_DR];
}

/* The leaf of a program that only loads a float64 leaf, reduced by SUM (or
 * MEAN, which folds as SUM) into float64 states; -1 for other programs. */
static inline int dtxi_one_leaf_summed(const dtxi_exec *e) {
  const dtxk_prog *p = e->p;
  const dtxk_instr *in = e->ins;
  if (p->ninstr != 1 || in[0].op != DTXK_I_LOAD || in[0].dtype != DTXK_F64 || p->result != in[0].dst ||
      p->out_kind != DTXK_OUT_REDUCE || e->red != DTXK_R_SUM || p->acc != DTXK_F64 ||
      p->out_dtype != DTXK_F64)
    return -1;
  return in[0].a;
}

/* ---- vectors of 8 doubles -------------------------------------------------------------- */

/* GCC's vector extension: AVX-512 registers in the x86-64-v4 clone, pairs or
 * quads of narrower ones elsewhere. Vectors travel by pointer: no vector
 * crosses a function boundary, whose ABI would differ between the clones. */
#if defined(__GNUC__)
#define VEC8 1
typedef double v8d __attribute__((vector_size(64)));
#define ALWAYS __attribute__((always_inline)) static inline

ALWAYS void ld8(v8d *v, const double *p) { memcpy(v, p, sizeof *v); }
ALWAYS void st8(double *p, const v8d *v) { memcpy(p, v, sizeof *v); }
/* the lanes added as fold_one adds its 8 partial sums */
ALWAYS double hsum8(const v8d *v) {
  return (((*v)[0] + (*v)[1]) + ((*v)[2] + (*v)[3])) + (((*v)[4] + (*v)[5]) + ((*v)[6] + (*v)[7]));
}
#else
#define VEC8 0
#endif

#endif /* DTXK_FUSED_PATH_H */
