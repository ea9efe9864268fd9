/*
 * kernels/program.h - the argument blobs of the array tasks, written by the
 * graph builder (array/build.c) and read by the CPU kernels (the .c files here) and
 * the CUDA kernels (the .cu files).
 *
 * A fused task (dtxk_prog) computes one rectangular region of an array whose
 * elements are a small program over leaves. A leaf is an array the program
 * reads: the chunks of another task (TASK: inputs of this task), host memory
 * read in place (EXT), a generator of values from the global element index
 * (GEN), or a concatenation of leaves (PIECE). Each leaf dimension maps from
 * the region's dimensions affinely: index = off + step * out[src] (src -1:
 * the constant off), then a boundary mode for the halos of map_overlap.
 * The region is cut into sub-rectangles in which every leaf reads one chunk
 * with fixed strides; the program runs over each in strips of the innermost
 * dimension. The result is stored as a chunk, into host memory (compute), or
 * reduced into partial states (the first stage of a reduction).
 *
 * Layout: the header, then nleaves dtxk_leaf, ninstr dtxk_instr, nconst
 * dtxk_const and npool int64 values, every part 8-byte aligned. No pointers
 * inside (host addresses travel as uint64), so a blob is copied as bytes.
 */
#ifndef DTXK_PROGRAM_H
#define DTXK_PROGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/elem.h"

#define DTXK_MAX_DIMS 8
/* The kernels see a region padded on the left to DTXK_MAX_DIMS dims: the
 * last two are its rows and columns (DTXK_DR, DTXK_DC), the ones before are
 * outer planes walked in C order. */
#define DTXK_DR (DTXK_MAX_DIMS - 2)
#define DTXK_DC (DTXK_MAX_DIMS - 1)
#define DTXK_MAX_REGS 32
#define DTXK_MAX_INSTR 160
#define DTXK_MAX_LEAVES 48
#define DTXK_STRIP 512 /* elements per strip of the CPU loops */
/* a leaf read across its rows is copied in tiles of DTXK_TR rows x DTXK_TC columns */
#ifndef DTXK_TR
#define DTXK_TR 64
#endif
#ifndef DTXK_TC
#define DTXK_TC 64
#endif

enum { DTXK_LEAF_TASK = 1, DTXK_LEAF_EXT = 2, DTXK_LEAF_GEN = 3, DTXK_LEAF_PIECE = 4 };
enum { DTXK_MODE_NONE = 0, DTXK_MODE_PERIODIC = 1, DTXK_MODE_CONSTANT = 2, DTXK_MODE_NEAREST = 3 };

/* leaf index along one of its dimensions = off + step * out[src] */
typedef struct dtxk_dimmap {
  int32_t src; /* region dimension, or -1: constant */
  int32_t mode;
  int64_t step, off;
} dtxk_dimmap;

typedef struct dtxk_leaf {
  int32_t kind;
  int32_t dtype;
  int32_t ndim;
  int32_t first_input; /* TASK: task input of the first touched chunk */
  int32_t sub;         /* PIECE: the first of npieces sub-leaves (leaf indices) */
  int32_t npieces;
  int32_t piece_dim; /* PIECE: the leaf dimension that is concatenated */
  int32_t pool;      /* PIECE: pool[pool .. pool + npieces] piece starts */
  int32_t is_sub;    /* a piece of a PIECE leaf: resolved through it only */
  int32_t pad;
  int32_t tb_off[DTXK_MAX_DIMS]; /* TASK: touched chunk indices of dim d at pool[tb_off[d] ..] */
  int32_t tb_n[DTXK_MAX_DIMS];   /*       and their number */
  int64_t shape[DTXK_MAX_DIMS];
  int64_t chunk[DTXK_MAX_DIMS]; /* TASK: chunk lengths */
  dtxk_dimmap map[DTXK_MAX_DIMS];
  uint64_t ext;                   /* EXT: address of element 0 */
  int64_t estride[DTXK_MAX_DIMS]; /* EXT: element strides */
  double fill;                    /* CONSTANT mode: the value beyond the edges */
  dtxk_gen gen;                   /* GEN */
} dtxk_leaf;

enum { DTXK_I_LOAD = 1, DTXK_I_CONST, DTXK_I_CAST, DTXK_I_UN, DTXK_I_BIN, DTXK_I_WHERE };

/* dst = op(a, b, c) in dtype (UN / BIN: the operands' dtype, comparisons and
 * the isnan family give bool (dtxk_instr_dtype);
 * CAST: dtype is the target, sub the source; LOAD: a is the leaf; CONST: a
 * indexes the constants; UN/BIN: sub is the dtx_unary_op / dtx_binary_op). */
typedef struct dtxk_instr {
  uint8_t op, dtype, dst, a, b, c, sub, pad;
} dtxk_instr;

/* The dtype of an instruction's value: its dtype, but bool for the
 * comparisons and for isnan / isinf / isfinite (whose dtype is the operand's). */
DTX_HD int dtxk_instr_dtype(const dtxk_instr *in) {
  if (in->op == DTXK_I_BIN && DTXK_BIN_IS_BOOL(in->sub)) return DTXK_BOOL;
  if (in->op == DTXK_I_UN && DTXK_UN_IS_BOOL(in->sub)) return DTXK_BOOL;
  return in->dtype;
}

typedef union dtxk_const {
  double f;
  int64_t i;
} dtxk_const;

enum { DTXK_OUT_CHUNK = 1, DTXK_OUT_EXT = 2, DTXK_OUT_REDUCE = 3 };

/* reductions: the values of dtx_reduction (dtx/array.h) */
enum {
  DTXK_R_SUM = 1,
  DTXK_R_PROD,
  DTXK_R_MEAN,
  DTXK_R_MIN,
  DTXK_R_MAX,
  DTXK_R_VAR,
  DTXK_R_STD,
  DTXK_R_ARGMIN,
  DTXK_R_ARGMAX,
  DTXK_R_ANY,
  DTXK_R_ALL
};

typedef struct dtxk_prog {
  int32_t ndim; /* region dimensions, 0..DTXK_MAX_DIMS */
  int32_t nleaves, ninstr, nconst, npool, nregs;
  int32_t result; /* register holding the value */
  int32_t out_kind;
  int32_t out_dtype; /* CHUNK / EXT: dtype written */
  int32_t red;       /* REDUCE: the reduction */
  int32_t acc;       /* REDUCE: DTXK_F64 or DTXK_I64, what the states accumulate */
  int32_t red_mask;  /* REDUCE: bit k set = region dim k is reduced */
  int32_t finalize;  /* REDUCE: write final values of fin_dtype instead of states */
  int32_t fin_dtype;
  int32_t ddof;
  int32_t pad;
  int64_t lo[DTXK_MAX_DIMS], hi[DTXK_MAX_DIMS]; /* the region, global coordinates */
  uint64_t out_ext;                             /* EXT: address of element 0 */
  int64_t out_stride[DTXK_MAX_DIMS];            /* EXT: element strides */
  int64_t arg_stride[DTXK_MAX_DIMS];            /* ARGMIN/MAX: index = sum(arg_stride * global) */
} dtxk_prog;

static inline dtxk_leaf *dtxk_prog_leaves(const dtxk_prog *p) {
  return (dtxk_leaf *)(void *)((char *)p + sizeof *p);
}
static inline dtxk_instr *dtxk_prog_instr(const dtxk_prog *p) {
  return (dtxk_instr *)(void *)((char *)dtxk_prog_leaves(p) + (size_t)p->nleaves * sizeof(dtxk_leaf));
}
static inline dtxk_const *dtxk_prog_consts(const dtxk_prog *p) {
  size_t n = ((size_t)p->ninstr * sizeof(dtxk_instr) + 7) & ~(size_t)7;
  return (dtxk_const *)(void *)((char *)dtxk_prog_instr(p) + n);
}
static inline int64_t *dtxk_prog_pool(const dtxk_prog *p) {
  return (int64_t *)(void *)((char *)dtxk_prog_consts(p) + (size_t)p->nconst * sizeof(dtxk_const));
}
static inline size_t dtxk_prog_size(const dtxk_prog *p) {
  return (size_t)((char *)(dtxk_prog_pool(p) + p->npool) - (const char *)p);
}

/* Bytes of one partial state of a reduction. */
DTX_HD int dtxk_state_size(int red) {
  switch (red) {
    case DTXK_R_MEAN:
    case DTXK_R_ARGMIN:
    case DTXK_R_ARGMAX:
      return 16;
    case DTXK_R_VAR:
    case DTXK_R_STD:
      return 24;
    default:
      return 8;
  }
}

/* A combine task: merges the partial states of its inputs slot by slot,
 * then writes states or (finalize) values of fin_dtype. */
typedef struct dtxk_combine {
  int32_t red, acc, finalize, fin_dtype, ddof, pad;
  int64_t nslots;
} dtxk_combine;

/* A matmul task: C[i, j] = sum over kk of A[i, kk] B[kk, j] for one output
 * chunk (m x n, contiguous). Operand chunks are task inputs or host memory
 * read in place, each with its own row and column strides (elements). */
typedef struct dtxk_mref {
  int32_t input; /* task input, or -1: host memory at ext */
  int32_t pad;
  uint64_t ext;   /* input -1: the address; else a byte offset into the input (0 on GPUs) */
  int64_t rs, cs; /* row and column strides */
} dtxk_mref;

typedef struct dtxk_matmul {
  int32_t dtype, nk;
  int64_t m, n;
  /* then nk entries: k extent, A ref, B ref */
} dtxk_matmul;

typedef struct dtxk_mstep {
  int64_t k;
  dtxk_mref a, b;
} dtxk_mstep;

static inline dtxk_mstep *dtxk_matmul_steps(const dtxk_matmul *m) {
  return (dtxk_mstep *)(void *)((char *)m + sizeof *m);
}

/* ---- planning: shared by the CPU and CUDA launchers (kernels/plan.c) ---------- */

#ifdef __cplusplus
extern "C" {
#endif

/* A leaf resolved for one sub-rectangle: where element (0,..,0) of the
 * sub-rectangle is and the strides along the DTXK_MAX_DIMS (padded) region dims. */
typedef struct dtxk_rleaf {
  const char *ptr; /* memory leaves */
  int64_t stride[DTXK_MAX_DIMS];
  int32_t kind;  /* DTXK_LEAF_TASK/EXT (memory), GEN, or 0: fill */
  int32_t dtype; /* of the memory or generator */
  double fill;
  const dtxk_gen *gen;
  int64_t flat0; /* GEN: C-order index at the start */
} dtxk_rleaf;

/* Sub-rectangles of the region: for each of the padded dims, the cut
 * positions (global coordinates, first = lo, last = hi). Owns its arrays. */
typedef struct dtxk_cuts {
  int64_t *c[DTXK_MAX_DIMS];
  int n[DTXK_MAX_DIMS]; /* number of cut positions (intervals + 1) */
} dtxk_cuts;

/* Computes the cuts of the region; 0, or -1 when out of memory. */
int dtxk_plan_cuts(const dtxk_prog *p, dtxk_cuts *cuts);
void dtxk_cuts_free(dtxk_cuts *cuts);
/* Resolves every leaf at the sub-rectangle starting at start (DTXK_MAX_DIMS padded
 * global coordinates). inputs[i] are the task's input base addresses.
 * Returns 0, or -1 with *why set when an input is missing. */
int dtxk_resolve(const dtxk_prog *p, const void *const *inputs, int ninputs, const int64_t *start,
                 dtxk_rleaf *out, const char **why);
/* The touched chunk indices of a TASK leaf along leaf dim d over the region
 * lo..hi (of the prog); used by the builder. Writes up to max indices to
 * out; returns how many there are, or -1 when the leaf reads nothing valid. */
int dtxk_touched(const dtxk_leaf *l, int d, int64_t lo, int64_t hi, int64_t *out, int max);

#ifdef __cplusplus
}
#endif

#endif /* DTXK_PROGRAM_H */
