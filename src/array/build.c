/*
 * array/build.c - turning array nodes into task graphs, and running them.
 *
 * materialize(node, chunks) gives the tasks whose outputs are the node's
 * chunks (memoised per build). Elementwise nodes, views, generators and
 * concatenations are compiled into one fused program (kernels/program.h) per
 * consumer: a tree walk that pushes views down to the leaves (composing their
 * affine index maps), turns generators into leaves or constants, and stops at
 * sources (reductions, products, user kernels), at host data read in place
 * and at expressions too big to fuse; those become leaves read from their own
 * tasks' chunks. One task per output chunk then runs the program over its
 * region. Reductions add a first stage (the fused program folding into
 * partial states per chunk) and a tree of combine tasks with fan-in
 * split_every per reduced axis. Matrix products take one task per output
 * chunk, reading host data in place when the operand is a strided view of it.
 * User kernels (map_blocks / map_overlap) read host data in place where they
 * can; on CPU threads a halo'd block that needs assembling is assembled by the
 * user task itself (an embedded fused program), and a computed user-kernel
 * array is written straight into the caller's buffer. Before anything is
 * compiled, a pre-pass builds, children first, every node computed by its own
 * tasks, so the compiling walk never recurses deeper than one fused expression.
 *
 * Task keys: `<op>-<serial>[block]` for a node's own chunks (`@<chunks>`
 * appended for other chunkings), `.p` / `.c<level>` for reduction stages,
 * `store-<serial>` for writing into the caller's buffer, `load-<serial>` for
 * host data turned into chunks.
 *
 * GPU builds (cluster scheduler with GPUs): every task that can has a CUDA
 * implementation; host data enters through load tasks placed block-cyclically
 * (or where persist was told), and the results are copied out by CPU tasks.
 * The caller's thread only; a build owns its graph until it is destroyed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/array.h"
#include "array/blocks.h"
#include "base/error.h"
#include "data/store.h"
#include "kernels/kernels.h"
#include "kernels/program.h"
#include "scheduler/gpu.h"
#include "scheduler/graph.h"

typedef struct msrc {
  const dtx_array *node;
  int64_t chunk[DTX_ARRAY_MAX_DIMS];
  int64_t nb[DTX_ARRAY_MAX_DIMS];
  int64_t n;
  dtx_task_id *ids;
  struct msrc *next;
} msrc;

typedef struct bctx {
  dtx_cluster *cl;
  dtx_graph *g;
  int gpu, ngpu, fuse;
  int workers; /* threads the computation runs on (1 under sync) */
  msrc *memo;
  int64_t pinned; /* tasks placed round-robin so far (dtxa_pin_gpus) */
  int depth;      /* materializations in progress (each may need its inputs') */
  /* dtxa_compute_into of a BLOCKS node on CPU threads: its tasks may write
   * straight into the caller's buffer (dtxa_build_dest) */
  const dtx_array *dest_node;
  char *dest;
  int dest_used;
} bctx;

int dtxa_pin_gpus = 0;

static int is_source(const dtx_array *a) {
  return a->kind == DTXA_REDUCE || a->kind == DTXA_MATMUL || a->kind == DTXA_MAP || a->kind == DTXA_OVERLAP ||
         a->kind == DTXA_KEPT || a->kind == DTXA_BLOCKS;
}

static void c_strides(int nd, const int64_t *shape, int64_t *st) {
  int64_t s = 1;
  for (int d = nd - 1; d >= 0; d--) {
    st[d] = s;
    s *= shape[d];
  }
}

static int same_chunk(const dtx_array *a, const int64_t *chunk) {
  for (int d = 0; d < a->ndim; d++)
    if (a->chunk[d] != chunk[d]) return 0;
  return 1;
}

static void task_name(const dtx_array *a, const int64_t *chunk, const char *suffix, char *buf, size_t n) {
  const char *op = (a->kind == DTXA_MAP || a->kind == DTXA_OVERLAP) && a->name != NULL ? a->name : a->opname;
  size_t k =
      (size_t)snprintf(buf, n, "%s-%llu%s", op, (unsigned long long)a->serial, suffix != NULL ? suffix : "");
  if (chunk != NULL && !same_chunk(a, chunk)) {
    for (int d = 0; d < a->ndim && k < n; d++)
      k += (size_t)snprintf(buf + k, n - k, d == 0 ? "@%lld" : "x%lld", (long long)chunk[d]);
  }
}

/* What the scheduler may know of a task ahead: its output's exact size (0:
 * unknown) and internal flags (DTXI_TASK_*). */
typedef struct hints {
  size_t output_size;
  unsigned flags;
} hints;

/* A task key holds at most DTX_MAX_INDICES indices (a scheduler task fills
 * one cache line): the key of a block of an array of more dimensions folds
 * the leading ones into its first index, their C-order index in grid nb
 * (`<op>-<serial>[i,j,k,l]` for a 5-d block (h, i', j, k, l) of grid nb is
 * i = h * nb[1] + i'). Writes key; returns its number of indices. */
static int key_fold(int nidx, const int64_t *idx, const int64_t *nb, int64_t *key) {
  if (nidx <= DTX_MAX_INDICES) {
    for (int d = 0; d < nidx; d++) key[d] = idx[d];
    return nidx;
  }
  int lead = nidx - (DTX_MAX_INDICES - 1);
  int64_t l = 0;
  for (int d = 0; d < lead; d++) l = l * nb[d] + idx[d];
  key[0] = l;
  for (int d = lead; d < nidx; d++) key[d - lead + 1] = idx[d];
  return DTX_MAX_INDICES;
}

static dtx_status add_hinted(bctx *bc, const char *name, int nidx, const int64_t *idx, const dtx_task_id *in,
                             int nin, const void *args, size_t args_size, dtx_task_fn cpu, dtx_task_fn cuda,
                             int where, hints h, dtx_task_id *id) {
  dtx_task_desc d;
  memset(&d, 0, sizeof d);
  d.name = name;
  d.nidx = nidx;
  for (int i = 0; i < nidx; i++) d.idx[i] = idx[i];
  d.inputs = in;
  d.ninputs = nin;
  d.args = args;
  d.args_size = args_size;
  d.cpu = cpu;
  d.cuda = bc->gpu ? cuda : NULL;
  d.where = d.cuda == NULL && where > 0 ? DTX_WHERE_ANY : where;
  if (dtxa_pin_gpus && d.cuda != NULL && d.where == DTX_WHERE_ANY)
    d.where = DTX_WHERE_GPU((int)(bc->pinned++ % bc->ngpu));
  d.output_size = h.output_size;
  return dtxi_graph_add_ex(bc->g, &d, h.flags, id);
}

static dtx_status add_task(bctx *bc, const char *name, int nidx, const int64_t *idx, const dtx_task_id *in,
                           int nin, const void *args, size_t args_size, dtx_task_fn cpu, dtx_task_fn cuda,
                           int where, dtx_task_id *id) {
  return add_hinted(bc, name, nidx, idx, in, nin, args, args_size, cpu, cuda, where, (hints){0, 0}, id);
}

static msrc *materialize(bctx *bc, const dtx_array *a, const int64_t *chunk);

/* ---- compiling fused programs ------------------------------------------------------------- */

#define POOL_STATIC 512

typedef struct val {
  dtxk_instr ins; /* a, b, c: value ids (LOAD: leaf; CONST: constant) */
  int last;       /* last instruction reading it */
} val;

typedef struct tmpl {
  bctx *bc;
  const dtx_array *root;
  int root_leaf; /* read the root as a leaf (copy a source's chunks) */
  dtxk_leaf leaves[DTXK_MAX_LEAVES];
  msrc *lsrc[DTXK_MAX_LEAVES];
  int nl;
  val v[DTXK_MAX_INSTR];
  int nv;
  dtxk_const consts[DTXK_MAX_INSTR];
  int nc;
  int64_t pool[POOL_STATIC];
  int npool;
  struct {
    const dtx_array *node;
    dtxk_dimmap map[DTX_ARRAY_MAX_DIMS];
    int val;
  } memo[DTXK_MAX_INSTR];
  int nmemo;
  const dtx_array *forced[64];
  int nforced;
  const dtx_array *biggest; /* the largest fused expression below the root, for retries */
  int overflow;
  dtx_status err; /* a materialization failed */
  int ext_ok;     /* host memory may be a leaf (CPU builds, and load tasks) */
  int result, result_val, nregs;
  dtxk_instr ins[DTXK_MAX_INSTR];
} tmpl;

static int forced(const tmpl *t, const dtx_array *a) {
  for (int i = 0; i < t->nforced; i++)
    if (t->forced[i] == a) return 1;
  return 0;
}

static int new_leaf(tmpl *t) {
  if (t->nl == DTXK_MAX_LEAVES) {
    t->overflow = 1;
    return -1;
  }
  memset(&t->leaves[t->nl], 0, sizeof t->leaves[0]);
  t->lsrc[t->nl] = NULL;
  return t->nl++;
}

static int emit(tmpl *t, int op, int dtype, int a, int b, int c, int sub);

/* A float power by a constant exponent, as NumPy's fast scalar power:
 * x ** 2 is x * x, x ** 0.5 is sqrt(x) (so -0.0 ** 0.5 is -0.0 and
 * -inf ** 0.5 is nan, as NumPy's), and x ** 3 is x * x * x; the value, or
 * -2 when pow stays (any other operation or exponent). */
static int power_by_const(tmpl *t, const dtx_array *a, int x, int y) {
  int ft = a->in[0]->dtype;
  if (a->kind != DTXA_BINARY || a->op != DTX_POW || dtxa_dkind((dtx_dtype)ft) != 2 ||
      t->v[y].ins.op != DTXK_I_CONST)
    return -2;
  double c = t->consts[t->v[y].ins.a].f;
  if (c == 2) return emit(t, DTXK_I_BIN, ft, x, x, 0, DTX_MUL);
  if (c == 0.5) return emit(t, DTXK_I_UN, ft, x, 0, 0, DTX_SQRT);
  if (c != 3) return -2;
  int sq = emit(t, DTXK_I_BIN, ft, x, x, 0, DTX_MUL);
  return sq < 0 ? -1 : emit(t, DTXK_I_BIN, ft, sq, x, 0, DTX_MUL);
}

static int emit(tmpl *t, int op, int dtype, int a, int b, int c, int sub) {
  if (t->nv == DTXK_MAX_INSTR) {
    t->overflow = 1;
    return -1;
  }
  val *v = &t->v[t->nv];
  memset(v, 0, sizeof *v);
  v->ins.op = (uint8_t)op;
  v->ins.dtype = (uint8_t)dtype;
  v->ins.a = (uint8_t)a;
  v->ins.b = (uint8_t)b;
  v->ins.c = (uint8_t)c;
  v->ins.sub = (uint8_t)sub;
  return t->nv++;
}

static void compose(const dtxk_dimmap *vm, int nin_dims, const dtxk_dimmap *map, dtxk_dimmap *out) {
  for (int e = 0; e < nin_dims; e++) {
    if (vm[e].src < 0) {
      out[e] = (dtxk_dimmap){-1, DTXK_MODE_NONE, 0, vm[e].off};
    } else {
      const dtxk_dimmap *m = &map[vm[e].src];
      out[e] = (dtxk_dimmap){m->src, DTXK_MODE_NONE, m->src < 0 ? 0 : vm[e].step * m->step,
                             vm[e].off + vm[e].step * m->off};
    }
  }
}

/* The map of an input broadcast to node's shape. */
static void bmap(const dtx_array *node, const dtx_array *in, const dtxk_dimmap *map, dtxk_dimmap *out) {
  int sh = node->ndim - in->ndim;
  for (int e = 0; e < in->ndim; e++) {
    if (in->shape[e] == 1 && node->shape[e + sh] != 1)
      out[e] = (dtxk_dimmap){-1, DTXK_MODE_NONE, 0, 0};
    else
      out[e] = map[e + sh];
  }
}

static void leaf_common(dtxk_leaf *l, const dtx_array *a, const dtxk_dimmap *map) {
  l->dtype = (int32_t)a->dtype;
  l->ndim = a->ndim;
  for (int d = 0; d < a->ndim; d++) {
    l->shape[d] = a->shape[d];
    l->chunk[d] = a->chunk[d];
    l->map[d] = map[d];
  }
}

/* Fills leaf slot li with a leaf reading node a through map. */
static void leaf_into(tmpl *t, int li, const dtx_array *a, const dtxk_dimmap *map) {
  bctx *bc = t->bc;
  if (t->overflow || t->err != DTX_OK) return;
  dtxk_leaf *l = &t->leaves[li];
  int inline_ok = !forced(t, a) && (bc->fuse || a == t->root);
  if (a->kind == DTXA_VIEW && inline_ok && !(a->mat & 1)) {
    dtxk_dimmap m2[DTX_ARRAY_MAX_DIMS];
    compose(a->vmap, a->in[0]->ndim, map, m2);
    if (a->in[0]->dtype == a->dtype) {
      leaf_into(t, li, a->in[0], m2);
      return;
    }
  }
  if (a->kind == DTXA_CONCAT && inline_ok && a->nin <= 64) {
    if (t->npool + a->nin + 1 > POOL_STATIC) {
      t->overflow = 1;
      return;
    }
    int first = t->nl;
    for (int i = 0; i < a->nin; i++)
      if (new_leaf(t) < 0) return;
    for (int i = 0; i < a->nin; i++) t->leaves[first + i].is_sub = 1;
    l = &t->leaves[li];
    leaf_common(l, a, map);
    l->kind = DTXK_LEAF_PIECE;
    l->sub = first;
    l->npieces = a->nin;
    l->piece_dim = a->axis;
    l->pool = t->npool;
    for (int i = 0; i <= a->nin; i++) t->pool[t->npool++] = a->offs[i];
    for (int i = 0; i < a->nin; i++) {
      dtxk_dimmap m2[DTX_ARRAY_MAX_DIMS];
      memcpy(m2, map, sizeof m2);
      m2[a->axis].off -= a->offs[i];
      leaf_into(t, first + i, a->in[i], m2);
    }
    return;
  }
  if (a->kind == DTXA_GEN && inline_ok) {
    leaf_common(l, a, map);
    l->kind = DTXK_LEAF_GEN;
    l->gen = a->gen;
    return;
  }
  if (a->kind == DTXA_EXT && t->ext_ok) {
    leaf_common(l, a, map);
    l->kind = DTXK_LEAF_EXT;
    l->ext = (uint64_t)(uintptr_t)a->data;
    for (int d = 0; d < a->ndim; d++) l->estride[d] = a->estride[d];
    return;
  }
  msrc *m = materialize(bc, a, a->chunk);
  if (m == NULL) {
    t->err = DTX_EINVAL;
    return;
  }
  l = &t->leaves[li];
  leaf_common(l, a, map);
  l->kind = DTXK_LEAF_TASK;
  t->lsrc[li] = m;
}

static int load_leaf(tmpl *t, const dtx_array *a, const dtxk_dimmap *map) {
  int li = new_leaf(t);
  if (li < 0) return -1;
  leaf_into(t, li, a, map);
  if (t->overflow || t->err != DTX_OK) return -1;
  return emit(t, DTXK_I_LOAD, a->dtype, li, 0, 0, 0);
}

static int compile(tmpl *t, const dtx_array *a, const dtxk_dimmap *map, int mat);

static int compile_in(tmpl *t, const dtx_array *a, int i, const dtxk_dimmap *map) {
  dtxk_dimmap m2[DTX_ARRAY_MAX_DIMS];
  bmap(a, a->in[i], map, m2);
  return compile(t, a->in[i], m2, i < 32 && ((a->mat >> i) & 1));
}

/* Compiles node a read through map; returns its value, or -1. */
static int compile(tmpl *t, const dtx_array *a, const dtxk_dimmap *map, int mat) {
  if (t->overflow || t->err != DTX_OK) return -1;
  for (int i = 0; i < t->nmemo; i++)
    if (t->memo[i].node == a && memcmp(t->memo[i].map, map, (size_t)a->ndim * sizeof *map) == 0)
      return t->memo[i].val;
  int root = a == t->root;
  int boundary = a->kind == DTXA_EXT || is_source(a) || mat || forced(t, a) || (root && t->root_leaf) ||
                 (!t->bc->fuse && !root);
  if (!root && !boundary && (t->biggest == NULL || a->nops > t->biggest->nops) && a->kind != DTXA_GEN)
    t->biggest = a;
  int v = -1;
  if (boundary) {
    v = load_leaf(t, a, map);
  } else {
    switch (a->kind) {
      case DTXA_GEN:
        if (a->gen.kind == DTXK_GEN_CONST) {
          if (t->nc == DTXK_MAX_INSTR) {
            t->overflow = 1;
            return -1;
          }
          if (dtxa_dkind(a->dtype) == 2)
            t->consts[t->nc].f = a->gen.g0;
          else
            t->consts[t->nc].i = a->gen.i0;
          v = emit(t, DTXK_I_CONST, a->dtype, t->nc++, 0, 0, 0);
        } else {
          v = load_leaf(t, a, map);
        }
        break;
      case DTXA_VIEW: {
        dtxk_dimmap m2[DTX_ARRAY_MAX_DIMS];
        compose(a->vmap, a->in[0]->ndim, map, m2);
        int x = compile(t, a->in[0], m2, a->mat & 1);
        v = x < 0 || a->in[0]->dtype == a->dtype ? x
                                                 : emit(t, DTXK_I_CAST, a->dtype, x, 0, 0, a->in[0]->dtype);
        break;
      }
      case DTXA_CONCAT:
        v = load_leaf(t, a, map);
        break;
      case DTXA_CAST: {
        int x = compile_in(t, a, 0, map);
        v = x < 0 ? -1 : emit(t, DTXK_I_CAST, a->dtype, x, 0, 0, a->in[0]->dtype);
        break;
      }
      case DTXA_UNARY: {
        int x = compile_in(t, a, 0, map);
        v = x < 0 ? -1 : emit(t, DTXK_I_UN, a->in[0]->dtype, x, 0, 0, a->op);
        break;
      }
      case DTXA_BINARY: {
        int x = compile_in(t, a, 0, map), y = x < 0 ? -1 : compile_in(t, a, 1, map);
        v = y < 0 ? -1 : power_by_const(t, a, x, y);
        if (v == -2) v = emit(t, DTXK_I_BIN, a->in[0]->dtype, x, y, 0, a->op);
        break;
      }
      case DTXA_WHERE: {
        int c = compile_in(t, a, 0, map), x = c < 0 ? -1 : compile_in(t, a, 1, map),
            y = x < 0 ? -1 : compile_in(t, a, 2, map);
        v = y < 0 ? -1 : emit(t, DTXK_I_WHERE, a->dtype, c, x, y, 0);
        break;
      }
      default:
        v = load_leaf(t, a, map);
        break;
    }
  }
  if (v >= 0 && t->nmemo < DTXK_MAX_INSTR) {
    t->memo[t->nmemo].node = a;
    memset(t->memo[t->nmemo].map, 0, sizeof t->memo[0].map);
    memcpy(t->memo[t->nmemo].map, map, (size_t)a->ndim * sizeof *map);
    t->memo[t->nmemo++].val = v;
  }
  return v;
}

/* Registers for the values: linear scan; constants keep theirs. 0 or -1 (too many). */
static int regalloc(tmpl *t, int result) {
  int n = t->nv;
  for (int i = 0; i < n; i++) t->v[i].last = t->v[i].ins.op == DTXK_I_CONST ? n + 1 : i;
  for (int i = 0; i < n; i++) {
    const dtxk_instr *in = &t->v[i].ins;
    int nops = in->op == DTXK_I_CAST || in->op == DTXK_I_UN ? 1
               : in->op == DTXK_I_BIN                       ? 2
               : in->op == DTXK_I_WHERE                     ? 3
                                                            : 0;
    const uint8_t ops[3] = {in->a, in->b, in->c};
    for (int k = 0; k < nops; k++)
      if (t->v[ops[k]].last < i) t->v[ops[k]].last = i;
  }
  t->v[result].last = n + 1;
  int reg_of[DTXK_MAX_INSTR];
  int busy_until[DTXK_MAX_REGS];
  int nregs = 0;
  /* constants first: filled once per task, their registers are never reused */
  for (int i = 0; i < n; i++) {
    if (t->v[i].ins.op != DTXK_I_CONST) continue;
    if (nregs == DTXK_MAX_REGS) return -1;
    busy_until[nregs] = n + 1;
    reg_of[i] = nregs;
    t->ins[i] = t->v[i].ins;
    t->ins[i].dst = (uint8_t)nregs++;
  }
  for (int i = 0; i < n; i++) {
    if (t->v[i].ins.op == DTXK_I_CONST) continue;
    /* a register whose value died before this instruction (not at it: an
     * instruction never writes over its own operands, whose element sizes
     * may differ from its result's) */
    int r = -1;
    for (int k = 0; k < nregs; k++)
      if (busy_until[k] < i) {
        r = k;
        break;
      }
    if (r < 0) {
      if (nregs == DTXK_MAX_REGS) return -1;
      r = nregs++;
    }
    busy_until[r] = t->v[i].last;
    reg_of[i] = r;
    t->ins[i] = t->v[i].ins;
    t->ins[i].dst = (uint8_t)r;
    int op = t->v[i].ins.op;
    if (op == DTXK_I_CAST || op == DTXK_I_UN || op == DTXK_I_BIN || op == DTXK_I_WHERE)
      t->ins[i].a = (uint8_t)reg_of[t->v[i].ins.a];
    if (op == DTXK_I_BIN || op == DTXK_I_WHERE) t->ins[i].b = (uint8_t)reg_of[t->v[i].ins.b];
    if (op == DTXK_I_WHERE) t->ins[i].c = (uint8_t)reg_of[t->v[i].ins.c];
  }
  t->result = reg_of[result];
  t->result_val = result;
  t->nregs = nregs;
  return 0;
}

/* Compiles root (read through the identity map) into t, retrying with the
 * biggest fused sub-expression computed by its own tasks while the program
 * does not fit. extra: called after compiling to append instructions (the
 * bool conversion of any/all); returns the final value. */
static dtx_status compile_root(bctx *bc, const dtx_array *root, int root_leaf, int to_bool, tmpl **out) {
  tmpl *t = calloc(1, sizeof *t);
  if (t == NULL) return dtxi_fail(DTX_ENOMEM, "out of memory compiling a fused program");
  for (int attempt = 0; attempt < 64; attempt++) {
    const dtx_array *keep[64];
    int nk = t->nforced;
    memcpy(keep, t->forced, sizeof keep);
    memset(t, 0, sizeof *t);
    memcpy(t->forced, keep, sizeof keep);
    t->nforced = nk;
    t->bc = bc;
    t->root = root;
    t->root_leaf = root_leaf;
    t->err = DTX_OK;
    t->ext_ok = !bc->gpu || (root_leaf && root->kind == DTXA_EXT);
    if (root_leaf && !forced(t, root)) t->forced[t->nforced++] = root;
    dtxk_dimmap id[DTX_ARRAY_MAX_DIMS];
    for (int d = 0; d < DTX_ARRAY_MAX_DIMS; d++) id[d] = (dtxk_dimmap){d, DTXK_MODE_NONE, 1, 0};
    int v = compile(t, root, id, 0);
    if (t->err != DTX_OK) {
      free(t);
      return DTX_EINVAL;
    }
    if (v >= 0 && to_bool && root->dtype != DTX_BOOL)
      v = emit(t, DTXK_I_CAST, DTX_BOOL, v, 0, 0, root->dtype);
    if (!t->overflow && v >= 0 && regalloc(t, v) == 0) {
      *out = t;
      return DTX_OK;
    }
    if (t->biggest == NULL || t->nforced == 64) break;
    t->forced[t->nforced++] = t->biggest;
  }
  free(t);
  return dtxi_fail(
      DTX_EINVAL,
      "an elementwise expression (%s-%llu) is too big to compute: split it with dtx_array_persist",
      root->opname, (unsigned long long)root->serial);
}

/* ---- one fused task ------------------------------------------------------------------------ */

typedef struct outspec {
  int kind;
  int dtype;
  uint64_t ext;
  int64_t stride[DTX_ARRAY_MAX_DIMS];
  int red, acc, finalize, fin_dtype, ddof;
  uint32_t red_mask;
  int64_t arg_stride[DTX_ARRAY_MAX_DIMS];
} outspec;

static int result_dtype(const tmpl *t) { return dtxk_instr_dtype(&t->v[t->result_val].ins); }

/* Adds a task running t over [lo, hi) (ndim of t's root, or the given nd). */
/* The blob and the inputs of a task running t over [lo, hi); the caller frees both. */
static dtx_status instantiate(const tmpl *t, int nd, const int64_t *lo, const int64_t *hi, const outspec *os,
                              const char *name, char **blob_out, size_t *size_out, dtx_task_id **in_out,
                              int *nin_out) {
  /* per task: touched chunks of each TASK leaf, and the inputs */
  int np = t->npool, pcap = t->npool + 64;
  int64_t *pool = malloc((size_t)pcap * sizeof *pool);
  dtxk_leaf *leaves = malloc((size_t)(t->nl > 0 ? t->nl : 1) * sizeof *leaves);
  dtx_task_id *in = NULL;
  int nin = 0, cap = 0;
  dtx_status rc = DTX_OK;
  if (pool == NULL || leaves == NULL)
    rc = dtxi_fail(DTX_ENOMEM, "out of memory");
  else {
    memcpy(pool, t->pool, (size_t)np * sizeof *pool);
    memcpy(leaves, t->leaves, (size_t)t->nl * sizeof *leaves);
  }
  for (int li = 0; li < t->nl && rc == DTX_OK; li++) {
    dtxk_leaf *l = &leaves[li];
    if (l->kind != DTXK_LEAF_TASK) continue;
    const msrc *m = t->lsrc[li];
    int64_t total = 1;
    for (int d = 0; d < l->ndim; d++) {
      int src = l->map[d].src;
      int64_t dlo = src < 0 ? 0 : lo[src], dhi = src < 0 ? 1 : hi[src];
      int cnt = dtxk_touched(l, d, dlo, dhi, pool + np, pcap - np);
      if (cnt > pcap - np) {
        int nc = np + cnt + 64;
        int64_t *p2 = realloc(pool, (size_t)nc * sizeof *p2);
        if (p2 == NULL) {
          rc = dtxi_fail(DTX_ENOMEM, "out of memory");
          break;
        }
        pool = p2;
        pcap = nc;
        cnt = dtxk_touched(l, d, dlo, dhi, pool + np, pcap - np);
      }
      l->tb_off[d] = np;
      l->tb_n[d] = cnt;
      np += cnt;
      total *= cnt;
    }
    if (rc != DTX_OK) break;
    if (total > (1 << 20)) {
      rc =
          dtxi_fail(DTX_EINVAL, "%s: one output chunk would read %lld input chunks; rechunk to larger chunks",
                    name, (long long)total);
      break;
    }
    l->first_input = nin;
    if (nin + total > cap) {
      int nc = (int)(nin + total) * 2 + 8;
      dtx_task_id *ni = realloc(in, (size_t)nc * sizeof *ni);
      if (ni == NULL) {
        rc = dtxi_fail(DTX_ENOMEM, "out of memory");
        break;
      }
      in = ni;
      cap = nc;
    }
    /* C order over the touched lists */
    int64_t pos[DTX_ARRAY_MAX_DIMS] = {0};
    for (int64_t k = 0; k < total; k++) {
      int64_t lin = 0;
      for (int d = 0; d < l->ndim; d++) lin = lin * m->nb[d] + pool[l->tb_off[d] + pos[d]];
      in[nin++] = m->ids[lin];
      for (int d = l->ndim - 1; d >= 0; d--) {
        if (++pos[d] < l->tb_n[d]) break;
        pos[d] = 0;
      }
    }
  }
  if (rc != DTX_OK) {
    free(in);
    free(pool);
    free(leaves);
    return rc;
  }
  dtxk_prog h;
  memset(&h, 0, sizeof h);
  h.ndim = nd;
  h.nleaves = t->nl;
  h.ninstr = t->nv;
  h.nconst = t->nc;
  h.npool = np;
  h.nregs = t->nregs;
  h.result = t->result;
  h.out_kind = os->kind;
  h.out_dtype = os->dtype;
  h.red = os->red;
  h.acc = os->acc;
  h.red_mask = (int32_t)os->red_mask;
  h.finalize = os->finalize;
  h.fin_dtype = os->fin_dtype;
  h.ddof = os->ddof;
  for (int k = 0; k < nd; k++) {
    h.lo[k] = lo[k];
    h.hi[k] = hi[k];
    h.out_stride[k] = os->stride[k];
    h.arg_stride[k] = os->arg_stride[k];
  }
  h.out_ext = os->ext;
  size_t isz = ((size_t)t->nv * sizeof(dtxk_instr) + 7) & ~(size_t)7;
  size_t total = sizeof h + (size_t)t->nl * sizeof(dtxk_leaf) + isz + (size_t)t->nc * sizeof(dtxk_const) +
                 (size_t)np * sizeof(int64_t);
  char *blob = calloc(1, total);
  if (blob == NULL) {
    free(in);
    free(pool);
    free(leaves);
    return dtxi_fail(DTX_ENOMEM, "out of memory");
  }
  memcpy(blob, &h, sizeof h);
  const dtxk_prog *p = (const dtxk_prog *)(void *)blob;
  memcpy(dtxk_prog_leaves(p), leaves, (size_t)t->nl * sizeof(dtxk_leaf));
  memcpy(dtxk_prog_instr(p), t->ins, (size_t)t->nv * sizeof(dtxk_instr));
  memcpy(dtxk_prog_consts(p), t->consts, (size_t)t->nc * sizeof(dtxk_const));
  memcpy(dtxk_prog_pool(p), pool, (size_t)np * sizeof(int64_t));
  DTX_ASSERT(dtxk_prog_size(p) == total);
  free(pool);
  free(leaves);
  *blob_out = blob;
  *size_out = total;
  *in_out = in;
  *nin_out = nin;
  return DTX_OK;
}

/* Adds a task running t over [lo, hi) (ndim nd). */
static dtx_status emit_fused(bctx *bc, const tmpl *t, int nd, const int64_t *lo, const int64_t *hi,
                             const outspec *os, const char *name, int nidx, const int64_t *idx,
                             dtx_task_fn cuda, int where, dtx_task_id *id) {
  char *blob;
  size_t size;
  dtx_task_id *in;
  int nin;
  dtx_status rc = instantiate(t, nd, lo, hi, os, name, &blob, &size, &in, &nin);
  if (rc != DTX_OK) return rc;
  hints h = {0, 0};
  if (os->kind == DTXK_OUT_CHUNK) {
    /* Its output's size is known: the GPU scheduler reserves that much
     * rather than learning it from a first task run alone. */
    h.output_size = dtx_dtype_size((dtx_dtype)os->dtype);
    for (int d = 0; d < nd; d++) h.output_size *= (size_t)(hi[d] - lo[d]);
  }
  rc = add_hinted(bc, name, nidx, idx, in, nin, blob, size, dtxk_fused_cpu, cuda, where, h, id);
  free(blob);
  free(in);
  return rc;
}

/* ---- materializing ---------------------------------------------------------------------------- */

static msrc *msrc_new(bctx *bc, const dtx_array *a, const int64_t *chunk) {
  msrc *m = calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  m->node = a;
  m->n = 1;
  for (int d = 0; d < a->ndim; d++) {
    m->chunk[d] = chunk[d] < a->shape[d] ? chunk[d] : a->shape[d] > 0 ? a->shape[d] : 1;
    m->nb[d] = (a->shape[d] + m->chunk[d] - 1) / m->chunk[d];
    m->n *= m->nb[d];
  }
  m->ids = calloc((size_t)m->n, sizeof *m->ids);
  if (m->ids == NULL) {
    free(m);
    return NULL;
  }
  m->next = bc->memo;
  bc->memo = m;
  return m;
}

/* Block b (C order) of grid nb: its index and region. */
static void block_region(int nd, const int64_t *nb, const int64_t *chunk, const int64_t *shape, int64_t b,
                         int64_t *idx, int64_t *lo, int64_t *hi) {
  for (int d = nd - 1; d >= 0; d--) {
    idx[d] = b % nb[d];
    b /= nb[d];
    lo[d] = idx[d] * chunk[d];
    hi[d] = lo[d] + chunk[d] < shape[d] ? lo[d] + chunk[d] : shape[d];
  }
}

static dtx_status emit_blocks(bctx *bc, const dtx_array *a, msrc *m, int root_leaf) {
  tmpl *t;
  dtx_status rc = compile_root(bc, a, root_leaf, 0, &t);
  if (rc != DTX_OK) return rc;
  char name[DTX_MAX_KEY];
  task_name(a, m->chunk, NULL, name, sizeof name);
  outspec os;
  memset(&os, 0, sizeof os);
  os.kind = DTXK_OUT_CHUNK;
  os.dtype = result_dtype(t);
  for (int64_t b = 0; b < m->n && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS], lo[DTX_ARRAY_MAX_DIMS], hi[DTX_ARRAY_MAX_DIMS];
    block_region(a->ndim, m->nb, m->chunk, a->shape, b, idx, lo, hi);
    int where = DTX_WHERE_ANY;
    dtx_task_fn cuda = dtxk_fused_cuda;
    if (a->kind == DTXA_EXT) {
      cuda = dtxk_load_cuda;
      if (bc->gpu)
        where =
            a->where != NULL && same_chunk(a, m->chunk) ? a->where[b] : DTX_WHERE_GPU((int)(b % bc->ngpu));
    }
    int64_t key[DTX_MAX_INDICES];
    int nk = key_fold(a->ndim, idx, m->nb, key);
    rc = emit_fused(bc, t, a->ndim, lo, hi, &os, name, nk, key, cuda, where, &m->ids[b]);
  }
  free(t);
  return rc;
}

static dtx_status emit_reduce(bctx *bc, const dtx_array *r, msrc *m);
static dtx_status emit_matmul(bctx *bc, const dtx_array *r, msrc *m);
static dtx_status emit_user(bctx *bc, const dtx_array *r, msrc *m, char *dest, const int64_t *dstride);
static dtx_status emit_kept(bctx *bc, const dtx_array *a, msrc *m);

static msrc *materialize(bctx *bc, const dtx_array *a, const int64_t *chunk) {
  for (msrc *m = bc->memo; m != NULL; m = m->next) {
    if (m->node != a) continue;
    int same = 1;
    for (int d = 0; d < a->ndim; d++)
      same &= m->chunk[d] == (chunk[d] < a->shape[d] ? chunk[d] : a->shape[d]);
    if (same) return m;
  }
  if (bc->depth >= 1000) {
    dtxi_fail(DTX_EINVAL,
              "%s-%llu: the expression is nested over 1000 computed steps deep; persist an "
              "intermediate result (dtx_array_persist) and build on that",
              a->opname, (unsigned long long)a->serial);
    return NULL;
  }
  msrc *m = msrc_new(bc, a, chunk);
  if (m == NULL) {
    dtxi_fail(DTX_ENOMEM, "out of memory building the graph");
    return NULL;
  }
  bc->depth++;
  dtx_status rc;
  if (is_source(a) && !same_chunk(a, m->chunk)) {
    rc = emit_blocks(bc, a, m, 1); /* copies of the source's own chunks */
  } else {
    switch (a->kind) {
      case DTXA_REDUCE:
        rc = emit_reduce(bc, a, m);
        break;
      case DTXA_MATMUL:
        rc = emit_matmul(bc, a, m);
        break;
      case DTXA_MAP:
      case DTXA_OVERLAP:
        rc = emit_user(bc, a, m, NULL, NULL);
        break;
      case DTXA_EXT:
        rc = emit_blocks(bc, a, m, 1);
        break;
      case DTXA_KEPT:
        rc = emit_kept(bc, a, m);
        break;
      case DTXA_BLOCKS:
        rc = dtxa_blocks_build(bc, bc->gpu, a, m->n, m->ids);
        break;
      default:
        rc = emit_blocks(bc, a, m, 0);
        break;
    }
  }
  bc->depth--;
  if (rc != DTX_OK) {
    /* leave it in the memo (freed with the build) but report failure */
    return NULL;
  }
  return m;
}

/* The bridge array/blocks.c builds through (blocks.h). */
const dtx_task_id *dtxa_build_input(void *bcv, const dtx_array *a, const int64_t *chunk, int64_t *nb) {
  msrc *m = materialize(bcv, a, chunk);
  if (m == NULL) return NULL;
  for (int d = 0; d < a->ndim; d++) nb[d] = m->nb[d];
  return m->ids;
}

static int as_ext(const bctx *bc, const dtx_array *a, const char **base, int64_t *strides);
int dtxa_build_ext(void *bcv, const dtx_array *a, const char **base, int64_t *strides) {
  return as_ext(bcv, a, base, strides);
}

int dtxa_build_dest(void *bcv, const dtx_array *a, char **base, int64_t *strides) {
  bctx *bc = bcv;
  if (bc->dest_node == NULL || a != bc->dest_node) return 0;
  *base = bc->dest;
  c_strides(a->ndim, a->shape, strides);
  bc->dest_used = 1;
  return 1;
}

dtx_status dtxa_build_add(void *bcv, const dtx_task_desc *d, dtx_task_id *id) {
  bctx *bc = bcv;
  return add_hinted(bc, d->name, d->nidx, d->idx, d->inputs, d->ninputs, d->args, d->args_size, d->cpu,
                    d->cuda, d->where, (hints){d->output_size, 0}, id);
}

/* ---- reductions ------------------------------------------------------------------------------- */

static dtx_status emit_reduce(bctx *bc, const dtx_array *r, msrc *m) {
  const dtx_array *e = r->in[0];
  int nd = e->ndim, red = r->op;
  uint32_t mask = r->red_mask;
  int any_all = red == DTX_ANY || red == DTX_ALL;
  tmpl *t;
  dtx_status rc = compile_root(bc, e, 0, any_all, &t);
  if (rc != DTX_OK) return rc;
  outspec os;
  memset(&os, 0, sizeof os);
  os.kind = DTXK_OUT_REDUCE;
  os.dtype = result_dtype(t);
  os.red = red;
  int fl = dtxa_dkind(os.dtype) == 2;
  os.acc = (red == DTX_MEAN || red == DTX_VAR || red == DTX_STD || fl) && !any_all ? DTXK_F64 : DTXK_I64;
  if (os.dtype == DTX_U64 && (red == DTX_MIN || red == DTX_MAX || red == DTX_ARGMIN || red == DTX_ARGMAX))
    os.acc = DTXK_U64; /* ordered as uint64 (kernels/reduce.h) */
  os.red_mask = mask;
  os.fin_dtype = r->dtype;
  os.ddof = r->ddof;
  int nred = 0;
  for (int d = 0; d < nd; d++) nred += (mask >> d) & 1;
  if (red == DTX_ARGMIN || red == DTX_ARGMAX) {
    if (nred == 1) {
      for (int d = 0; d < nd; d++) os.arg_stride[d] = (mask >> d) & 1;
    } else {
      c_strides(nd, e->shape, os.arg_stride);
    }
  }
  int64_t nb[DTX_ARRAY_MAX_DIMS], cnt[DTX_ARRAY_MAX_DIMS], f[DTX_ARRAY_MAX_DIMS];
  int final1 = 1;
  int fan = 2;
  while (nred > 0) {
    int64_t p = 1;
    for (int i = 0; i < nred; i++) p *= fan + 1;
    if (p > r->split_every) break;
    fan++;
  }
  for (int d = 0; d < nd; d++) {
    nb[d] = dtxa_nb(e, d);
    cnt[d] = nb[d];
    f[d] = (mask >> d) & 1 ? fan : 1;
    if (((mask >> d) & 1) && nb[d] > 1) final1 = 0;
  }
  os.finalize = final1;
  char name[DTX_MAX_KEY], pname[DTX_MAX_KEY];
  task_name(r, NULL, NULL, name, sizeof name);
  task_name(r, NULL, ".p", pname, sizeof pname);
  int64_t ne = 1;
  for (int d = 0; d < nd; d++) ne *= nb[d];
  dtx_task_id *level = calloc((size_t)ne, sizeof *level);
  if (level == NULL) {
    free(t);
    return dtxi_fail(DTX_ENOMEM, "out of memory");
  }
  /* the output block of an input-grid index (kept dims only, or reduced ones at 0 with keepdims) */
#define OUT_BLOCK(gidx, outlin)                     \
  do {                                              \
    int64_t _l = 0;                                 \
    int _k = 0;                                     \
    for (int _d = 0; _d < nd; _d++) {               \
      if ((mask >> _d) & 1) {                       \
        if (r->keepdims) _l = _l * m->nb[_k++] + 0; \
      } else {                                      \
        _l = _l * m->nb[_k++] + (gidx)[_d];         \
      }                                             \
    }                                               \
    (outlin) = _l;                                  \
  } while (0)
  for (int64_t b = 0; b < ne && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS], lo[DTX_ARRAY_MAX_DIMS], hi[DTX_ARRAY_MAX_DIMS];
    block_region(nd, nb, e->chunk, e->shape, b, idx, lo, hi);
    if (final1) {
      int64_t ol, oidx[DTX_ARRAY_MAX_DIMS];
      OUT_BLOCK(idx, ol);
      int k = 0;
      for (int d = 0; d < nd; d++)
        if (!((mask >> d) & 1))
          oidx[k++] = idx[d];
        else if (r->keepdims)
          oidx[k++] = 0;
      int64_t key[DTX_MAX_INDICES];
      int nk = key_fold(r->ndim, oidx, m->nb, key);
      rc = emit_fused(bc, t, nd, lo, hi, &os, name, nk, key, dtxk_fused_cuda, DTX_WHERE_ANY, &m->ids[ol]);
    } else {
      int64_t key[DTX_MAX_INDICES];
      int nk = key_fold(nd, idx, nb, key);
      rc = emit_fused(bc, t, nd, lo, hi, &os, pname, nk, key, dtxk_fused_cuda, DTX_WHERE_ANY, &level[b]);
    }
  }
  free(t);
  /* combine levels until every reduced axis has one block */
  for (int lev = 1; rc == DTX_OK && !final1; lev++) {
    int64_t nc[DTX_ARRAY_MAX_DIMS], nn = 1;
    int fin = 1;
    for (int d = 0; d < nd; d++) {
      nc[d] = (cnt[d] + f[d] - 1) / f[d];
      if (((mask >> d) & 1) && nc[d] > 1) fin = 0;
      nn *= nc[d];
    }
    dtx_task_id *next = calloc((size_t)nn, sizeof *next);
    if (next == NULL) {
      rc = dtxi_fail(DTX_ENOMEM, "out of memory");
      break;
    }
    char cname[DTX_MAX_KEY];
    char suffix[16];
    snprintf(suffix, sizeof suffix, ".c%d", lev);
    task_name(r, NULL, suffix, cname, sizeof cname);
    for (int64_t j = 0; j < nn && rc == DTX_OK; j++) {
      int64_t jidx[DTX_ARRAY_MAX_DIMS], rem = j;
      for (int d = nd - 1; d >= 0; d--) {
        jidx[d] = rem % nc[d];
        rem /= nc[d];
      }
      /* inputs: previous level cells in the fan-in box */
      int nins = 0;
      int64_t lo[DTX_ARRAY_MAX_DIMS], ext[DTX_ARRAY_MAX_DIMS], tot = 1;
      for (int d = 0; d < nd; d++) {
        lo[d] = jidx[d] * f[d];
        ext[d] = lo[d] + f[d] < cnt[d] ? f[d] : cnt[d] - lo[d];
        tot *= ext[d];
      }
      dtx_task_id *ins = malloc((size_t)tot * sizeof *ins);
      if (ins == NULL) {
        rc = dtxi_fail(DTX_ENOMEM, "out of memory");
        break;
      }
      for (int64_t k = 0; k < tot; k++) {
        int64_t r2 = k, lin = 0, pidx[DTX_ARRAY_MAX_DIMS];
        for (int d = nd - 1; d >= 0; d--) {
          pidx[d] = lo[d] + r2 % ext[d];
          r2 /= ext[d];
        }
        for (int d = 0; d < nd; d++) lin = lin * cnt[d] + pidx[d];
        ins[nins++] = level[lin];
      }
      dtxk_combine c;
      memset(&c, 0, sizeof c);
      c.red = red;
      c.acc = os.acc;
      c.finalize = fin;
      c.fin_dtype = r->dtype;
      c.ddof = r->ddof;
      c.nslots = 1;
      for (int d = 0; d < nd; d++)
        if (!((mask >> d) & 1)) {
          int64_t l0 = jidx[d] * e->chunk[d];
          c.nslots *= l0 + e->chunk[d] < e->shape[d] ? e->chunk[d] : e->shape[d] - l0;
        }
      if (fin) {
        int64_t ol, oidx[DTX_ARRAY_MAX_DIMS];
        OUT_BLOCK(jidx, ol);
        int k = 0;
        for (int d = 0; d < nd; d++)
          if (!((mask >> d) & 1))
            oidx[k++] = jidx[d];
          else if (r->keepdims)
            oidx[k++] = 0;
        int64_t key[DTX_MAX_INDICES];
        int nk = key_fold(r->ndim, oidx, m->nb, key);
        rc = add_task(bc, name, nk, key, ins, nins, &c, sizeof c, dtxk_combine_cpu, dtxk_combine_cuda,
                      DTX_WHERE_ANY, &m->ids[ol]);
      } else {
        int64_t key[DTX_MAX_INDICES];
        int nk = key_fold(nd, jidx, nc, key);
        rc = add_task(bc, cname, nk, key, ins, nins, &c, sizeof c, dtxk_combine_cpu, dtxk_combine_cuda,
                      DTX_WHERE_ANY, &next[j]);
      }
      free(ins);
    }
    free(level);
    level = next;
    for (int d = 0; d < nd; d++) cnt[d] = nc[d];
    if (fin) break;
  }
#undef OUT_BLOCK
  free(level);
  return rc;
}

/* ---- matrix products ----------------------------------------------------------------------------- */

/* a as a strided view of host memory read in place (CPU builds): base and strides. */
static int as_ext(const bctx *bc, const dtx_array *a, const char **base, int64_t *strides) {
  if (bc->gpu) return 0;
  dtxk_dimmap map[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < DTX_ARRAY_MAX_DIMS; d++) map[d] = (dtxk_dimmap){d, DTXK_MODE_NONE, 1, 0};
  int nd = a->ndim;
  while (a->kind == DTXA_VIEW && a->in[0]->dtype == a->dtype) {
    dtxk_dimmap m2[DTX_ARRAY_MAX_DIMS];
    compose(a->vmap, a->in[0]->ndim, map, m2);
    memcpy(map, m2, sizeof map);
    a = a->in[0];
  }
  if (a->kind != DTXA_EXT) return 0;
  int64_t off = 0;
  for (int d = 0; d < nd; d++) strides[d] = 0;
  for (int e = 0; e < a->ndim; e++) {
    off += map[e].off * a->estride[e];
    if (map[e].src >= 0) strides[map[e].src] += map[e].step * a->estride[e];
  }
  *base = (const char *)a->data + off * (int64_t)dtx_dtype_size(a->dtype);
  return 1;
}

/* The output block b of a (batched) product: its index and region, and where
 * each operand's batch dims read (a length-1 batch dim broadcasts: index 0).
 * Batch dims are chunked by 1, so a block is one 2-d product. */
static void matmul_block(const dtx_array *r, const msrc *m, const dtx_array *x, int64_t b, int64_t *idx,
                         int64_t *lo, int64_t *hi, int64_t *xb) {
  int nd = r->ndim, nbt = nd - 2;
  block_region(nd, m->nb, m->chunk, r->shape, b, idx, lo, hi);
  int shift = nbt - (x->ndim - 2);
  for (int d = 0; d < x->ndim - 2; d++) xb[d] = x->shape[d] == 1 ? 0 : idx[d + shift];
}

/* The C-order index of operand block (xb batch..., i, j) in grid nb of x. */
static int64_t operand_block(const dtx_array *x, const int64_t *nb, const int64_t *xb, int64_t i, int64_t j) {
  int64_t l = 0;
  for (int d = 0; d < x->ndim - 2; d++) l = l * nb[d] + xb[d];
  return (l * nb[x->ndim - 2] + i) * nb[x->ndim - 1] + j;
}

/* Operand x's 2-d window at batch xb, rows r0.., columns c0.. read in place
 * (host memory at base with strides st). */
static dtxk_mref ext_ref(const dtx_array *x, const char *base, const int64_t *st, const int64_t *xb,
                         int64_t r0, int64_t c0, int esz) {
  int n = x->ndim;
  int64_t off = r0 * st[n - 2] + c0 * st[n - 1];
  for (int d = 0; d < n - 2; d++) off += xb[d] * st[d];
  return (dtxk_mref){-1, 0, (uint64_t)(uintptr_t)(base + off * esz), st[n - 2], st[n - 1]};
}

/* Rows per task of a product's output block (mm's m: the whole block, not
 * split). On CPU threads a float product with fewer output blocks than
 * workers would leave workers idle, each block one single-threaded BLAS
 * call: its rows go to several tasks instead (at least MIN_ROWS each, enough
 * for every worker), joined into the block after. Splitting rows, not the
 * contraction, keeps each element's sum as one BLAS call makes it, and the
 * join is a copy (Dask splits the contraction and adds the parts). */
#define MIN_ROWS 64
#define MIN_SPLIT_FLOPS ((int64_t)1 << 24)
int dtxa_rows_split(int64_t rows) { return rows >= 2 * MIN_ROWS; }

static int64_t product_rows(const bctx *bc, const dtx_array *r, int64_t nblocks, const dtxk_matmul *mm) {
  if (bc->ngpu > 0 || bc->workers <= 1 || nblocks >= bc->workers ||
      (r->dtype != DTX_F64 && r->dtype != DTX_F32))
    return mm->m;
  int64_t k = 0;
  const dtxk_mstep *st = dtxk_matmul_steps(mm);
  for (int s = 0; s < mm->nk; s++) k += st[s].k;
  if (!dtxa_rows_split(mm->m) || 2 * mm->m * mm->n * k < MIN_SPLIT_FLOPS) return mm->m;
  int64_t parts = (bc->workers + nblocks - 1) / nblocks;
  int64_t rows = (mm->m + parts - 1) / parts;
  rows = (rows + 7) & ~(int64_t)7; /* whole cache lines of a row's start where n allows */
  return rows < MIN_ROWS ? MIN_ROWS : rows;
}

/* Output block b of a product (its key, inputs and arguments) as row blocks
 * of `rows` rows, each a CPU task (`<name>-rows`, key (b, part)), and the
 * task joining them under the block's own key: its id in *id. */
static dtx_status add_row_blocks(bctx *bc, const char *name, int nkey, const int64_t *key, int64_t b,
                                 const dtx_task_id *in, int nin, const dtxk_matmul *mm, size_t asz,
                                 int64_t rows, dtx_task_id *id) {
  int64_t nparts = (mm->m + rows - 1) / rows;
  int esz = (int)dtx_dtype_size((dtx_dtype)mm->dtype);
  dtxk_matmul *part = malloc(asz);
  dtx_task_id *ids = calloc((size_t)nparts, sizeof *ids);
  dtx_status rc = part == NULL || ids == NULL ? dtxi_fail(DTX_ENOMEM, "out of memory") : DTX_OK;
  char pname[DTX_MAX_KEY + 8]; /* the graph refuses a name past DTX_MAX_KEY */
  snprintf(pname, sizeof pname, "%s-rows", name);
  for (int64_t q = 0; q < nparts && rc == DTX_OK; q++) {
    int64_t r0 = q * rows, r1 = r0 + rows < mm->m ? r0 + rows : mm->m;
    memcpy(part, mm, asz);
    part->m = r1 - r0;
    dtxk_mstep *st = dtxk_matmul_steps(part);
    for (int s = 0; s < part->nk; s++) st[s].a.ext += (uint64_t)(r0 * st[s].a.rs * esz); /* A's rows r0.. */
    int64_t pkey[2] = {b, q};
    rc = add_hinted(bc, pname, 2, pkey, in, nin, part, asz, dtxk_matmul_cpu, NULL, DTX_WHERE_CPU,
                    (hints){(size_t)(part->m * part->n) * esz, 0}, &ids[q]);
  }
  if (rc == DTX_OK)
    rc = add_hinted(bc, name, nkey, key, ids, (int)nparts, NULL, 0, dtxk_rows_join_cpu, NULL, DTX_WHERE_CPU,
                    (hints){(size_t)(mm->m * mm->n) * esz, 0}, id);
  free(part);
  free(ids);
  return rc;
}

static dtx_status emit_matmul(bctx *bc, const dtx_array *r, msrc *m) {
  const dtx_array *A = r->in[0], *B = r->in[1];
  int nd = r->ndim, na = A->ndim, nbd = B->ndim;
  int64_t kc = A->chunk[na - 1];
  int64_t nk = (A->shape[na - 1] + kc - 1) / kc;
  int64_t ca[DTX_ARRAY_MAX_DIMS], cb[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < na - 2; d++) ca[d] = 1;
  for (int d = 0; d < nbd - 2; d++) cb[d] = 1;
  ca[na - 2] = m->chunk[nd - 2];
  ca[na - 1] = kc;
  cb[nbd - 2] = kc;
  cb[nbd - 1] = m->chunk[nd - 1];
  const char *ea = NULL, *eb = NULL;
  int64_t sa[DTX_ARRAY_MAX_DIMS], sb[DTX_ARRAY_MAX_DIMS];
  int da = as_ext(bc, A, &ea, sa), db = as_ext(bc, B, &eb, sb);
  msrc *ma = da ? NULL : materialize(bc, A, ca), *mb = db ? NULL : materialize(bc, B, cb);
  if ((!da && ma == NULL) || (!db && mb == NULL)) return DTX_EINVAL;
  int esz = (int)dtx_dtype_size(r->dtype);
  size_t asz = sizeof(dtxk_matmul) + (size_t)nk * sizeof(dtxk_mstep);
  dtxk_matmul *args = calloc(1, asz);
  dtx_task_id *in = calloc((size_t)(2 * nk), sizeof *in);
  if (args == NULL || in == NULL) {
    free(args);
    free(in);
    return dtxi_fail(DTX_ENOMEM, "out of memory");
  }
  char name[DTX_MAX_KEY];
  task_name(r, NULL, NULL, name, sizeof name);
  dtx_status rc = DTX_OK;
  for (int64_t b = 0; b < m->n && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS], lo[DTX_ARRAY_MAX_DIMS], hi[DTX_ARRAY_MAX_DIMS];
    int64_t ab[DTX_ARRAY_MAX_DIMS], bb[DTX_ARRAY_MAX_DIMS];
    matmul_block(r, m, A, b, idx, lo, hi, ab);
    matmul_block(r, m, B, b, idx, lo, hi, bb);
    int64_t i = idx[nd - 2], j = idx[nd - 1], m0 = lo[nd - 2], n0 = lo[nd - 1];
    args->dtype = r->dtype;
    args->nk = (int32_t)nk;
    args->m = hi[nd - 2] - m0;
    args->n = hi[nd - 1] - n0;
    dtxk_mstep *st = dtxk_matmul_steps(args);
    int nin = 0;
    for (int64_t kk = 0; kk < nk; kk++) {
      int64_t k0 = kk * kc, k1 = k0 + kc < A->shape[na - 1] ? k0 + kc : A->shape[na - 1];
      st[kk].k = k1 - k0;
      if (da) {
        st[kk].a = ext_ref(A, ea, sa, ab, m0, k0, esz);
      } else {
        in[nin] = ma->ids[operand_block(A, ma->nb, ab, i, kk)];
        st[kk].a = (dtxk_mref){nin++, 0, 0, st[kk].k, 1};
      }
      if (db) {
        st[kk].b = ext_ref(B, eb, sb, bb, k0, n0, esz);
      } else {
        in[nin] = mb->ids[operand_block(B, mb->nb, bb, kk, j)];
        st[kk].b = (dtxk_mref){nin++, 0, 0, args->n, 1};
      }
    }
    int64_t key[DTX_MAX_INDICES];
    int nkey = key_fold(nd, idx, m->nb, key);
    int64_t rows = product_rows(bc, r, m->n, args);
    if (rows < args->m) {
      rc = add_row_blocks(bc, name, nkey, key, b, in, nin, args, asz, rows, &m->ids[b]);
      continue;
    }
    /* the exact output size: a GPU reserves it at dispatch, never tops it up */
    hints h = {(size_t)(args->m * args->n) * esz, 0};
    rc = add_hinted(bc, name, nkey, key, in, nin, args, asz, dtxk_matmul_cpu,
                    da || db ? NULL : dtxk_matmul_cuda, DTX_WHERE_ANY, h, &m->ids[b]);
  }
  free(args);
  free(in);
  return rc;
}

/* ---- user kernels ------------------------------------------------------------------------------- */

/* The argument blob of a map_blocks / map_overlap task: this, then nin
 * uin, then the user's bytes. An input (or the output) is a task's chunk, or
 * a window of host memory read (written) in place with its own strides. */
typedef struct ublob {
  dtx_block_fn cpu, cuda;
  int32_t nin, ndim, out_dtype, pad;
  int64_t index[DTX_ARRAY_MAX_DIMS], start[DTX_ARRAY_MAX_DIMS], shape[DTX_ARRAY_MAX_DIMS];
  int64_t halo[DTX_ARRAY_MAX_DIMS];
  uint64_t out_ext; /* 0: the task's output chunk */
  int64_t out_stride[DTX_ARRAY_MAX_DIMS];
  uint64_t user_size;
  uint64_t halo_size; /* bytes of the embedded halo program (0: none) */
} ublob;

typedef struct uin {
  int32_t dtype,
      input; /* input: task input, -1: host memory at ext, -2: the embedded halo program's result */
  uint64_t ext;
  int64_t stride[DTX_ARRAY_MAX_DIMS];
} uin;

/* A halo'd block assembled inside the user task (CPU builds): the fused
 * program after the user's bytes (8-aligned) reads the task's inputs into a
 * buffer the worker thread keeps for its next block. */
static pthread_key_t halo_key;
static pthread_once_t halo_once = PTHREAD_ONCE_INIT;
typedef struct halo_buf {
  void *p;
  size_t cap;
} halo_buf;
static void halo_free(void *b) {
  if (b != NULL) free(((halo_buf *)b)->p);
  free(b);
}
static void halo_key_make(void) { (void)pthread_key_create(&halo_key, halo_free); }
static void *halo_scratch(size_t bytes) {
  pthread_once(&halo_once, halo_key_make);
  halo_buf *b = pthread_getspecific(halo_key);
  if (b == NULL) {
    if ((b = calloc(1, sizeof *b)) == NULL) return NULL;
    if (pthread_setspecific(halo_key, b) != 0) {
      free(b);
      return NULL;
    }
  }
  if (b->cap < bytes) {
    free(b->p);
    b->p = malloc(bytes);
    b->cap = b->p != NULL ? bytes : 0;
  }
  return b->p;
}

static int user_call(dtx_task_ctx *ctx, int gpu) {
  size_t asz = 0;
  const ublob *u = (const ublob *)dtx_task_args(ctx, &asz);
  if (u == NULL || asz < sizeof *u ||
      asz != sizeof *u + (size_t)u->nin * sizeof(uin) + ((u->user_size + 7) & ~(uint64_t)7) + u->halo_size)
    return dtx_task_fail(ctx, "malformed map_blocks arguments");
  const uin *ins = (const uin *)(const void *)(u + 1);
  const void *user = ins + u->nin;
  const dtxk_prog *hp =
      u->halo_size > 0
          ? (const dtxk_prog *)(const void *)((const char *)user + ((u->user_size + 7) & ~(uint64_t)7))
          : NULL;
  dtx_block_fn fn = gpu ? u->cuda : u->cpu;
  if (fn == NULL)
    return dtx_task_fail(
        ctx,
        "no CPU kernel: a simulated GPU runs a task's CPU implementation in place of its CUDA "
        "one (give map_blocks a cpu kernel too)");
  dtx_block in[8], *inp = in;
  if (u->nin > 8 && (inp = calloc((size_t)u->nin, sizeof *inp)) == NULL)
    return dtx_task_fail(ctx, "out of memory");
  for (int i = 0; i < u->nin; i++) {
    dtx_block *b = &inp[i];
    memset(b, 0, sizeof *b);
    if (ins[i].input == -2 && hp != NULL) {
      int64_t n = 1;
      for (int d = 0; d < hp->ndim; d++) n *= hp->hi[d] - hp->lo[d];
      int nt = dtx_task_num_inputs(ctx);
      const void *tin[64];
      char *buf = halo_scratch((size_t)n * dtx_dtype_size((dtx_dtype)ins[i].dtype));
      const char *why = "too many inputs";
      if (buf == NULL || nt > 64) {
        if (inp != in) free(inp);
        return dtx_task_fail(ctx, "out of memory for a halo'd block");
      }
      for (int k = 0; k < nt; k++) tin[k] = dtx_task_input(ctx, k, NULL);
      if (dtxk_run_chunk(hp, tin, nt, buf, &why) != 0) {
        if (inp != in) free(inp);
        return dtx_task_fail(ctx, "assembling the halo'd block: %s", why);
      }
      b->data = buf;
    } else {
      b->data = ins[i].input >= 0 ? (void *)(uintptr_t)dtx_task_input(ctx, ins[i].input, NULL)
                                  : (void *)(uintptr_t)ins[i].ext;
    }
    b->dtype = (dtx_dtype)ins[i].dtype;
    b->ndim = u->ndim;
    for (int d = 0; d < u->ndim; d++) {
      b->index[d] = u->index[d];
      b->start[d] = u->start[d];
      b->halo[d] = u->halo[d];
      b->shape[d] = u->shape[d] + 2 * u->halo[d];
      b->stride[d] = ins[i].stride[d];
    }
  }
  dtx_block out;
  memset(&out, 0, sizeof out);
  out.dtype = (dtx_dtype)u->out_dtype;
  out.ndim = u->ndim;
  int64_t n = 1;
  for (int d = u->ndim - 1; d >= 0; d--) {
    out.index[d] = u->index[d];
    out.start[d] = u->start[d];
    out.shape[d] = u->shape[d];
    out.stride[d] = u->out_ext != 0 ? u->out_stride[d] : n;
    n *= u->shape[d];
  }
  out.data = u->out_ext != 0 ? (void *)(uintptr_t)u->out_ext
                             : dtx_task_output(ctx, (size_t)n * dtx_dtype_size(out.dtype));
  int rc;
  if (out.data == NULL)
    rc = dtx_task_fail(ctx, "out of memory for the output chunk");
  else
    rc = fn(ctx, inp, u->nin, &out, user);
  if (inp != in) free(inp);
  return rc;
}
static int user_cpu(dtx_task_ctx *ctx) { return user_call(ctx, 0); }
static int user_cuda(dtx_task_ctx *ctx) { return user_call(ctx, 1); }

/* The template copying the halo'd region of x (boundary rule beyond the edges). */
static dtx_status halo_template(bctx *bc, const dtx_array *r, tmpl **out) {
  const dtx_array *x = r->in[0];
  int nd = x->ndim;
  tmpl *t = calloc(1, sizeof *t);
  if (t == NULL) return dtxi_fail(DTX_ENOMEM, "out of memory");
  t->bc = bc;
  t->root = x;
  t->err = DTX_OK;
  t->ext_ok = !bc->gpu;
  t->forced[t->nforced++] = x; /* chunks of x, or host memory in place */
  int li = new_leaf(t);
  dtxk_dimmap id[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < nd; d++) id[d] = (dtxk_dimmap){d, DTXK_MODE_NONE, 1, 0};
  leaf_into(t, li, x, id);
  int mode = r->boundary == DTX_BOUNDARY_PERIODIC  ? DTXK_MODE_PERIODIC
             : r->boundary == DTX_BOUNDARY_NEAREST ? DTXK_MODE_NEAREST
                                                   : DTXK_MODE_CONSTANT;
  for (int d = 0; d < nd; d++) t->leaves[li].map[d].mode = mode;
  t->leaves[li].fill = r->constant;
  int v = emit(t, DTXK_I_LOAD, x->dtype, li, 0, 0, 0);
  if (t->err != DTX_OK || t->overflow || v < 0 || regalloc(t, v) != 0) {
    free(t);
    return DTX_EINVAL;
  }
  *out = t;
  return DTX_OK;
}

/* The tasks of a map_blocks / map_overlap node; with dest (host memory,
 * strides), the kernels write their blocks there instead of into chunks. */
static dtx_status emit_user(bctx *bc, const dtx_array *r, msrc *m, char *dest, const int64_t *dstride) {
  int nd = r->ndim;
  int nin = r->nin;
  int halo = 0;
  if (r->kind == DTXA_OVERLAP)
    for (int d = 0; d < nd; d++) halo |= r->depth[d] > 0;
  if (r->fcpu == NULL && !bc->gpu)
    return dtxi_fail(DTX_EINVAL,
                     "%s-%llu has only a CUDA kernel, and this cluster computes on CPU threads (no GPUs, "
                     "or not the cluster scheduler)",
                     r->name != NULL ? r->name : r->opname, (unsigned long long)r->serial);
  msrc **ms = calloc((size_t)nin, sizeof *ms);
  const char **ebase = calloc((size_t)nin, sizeof *ebase);
  int64_t(*estr)[DTX_ARRAY_MAX_DIMS] = calloc((size_t)nin, sizeof *estr);
  size_t ubytes = (r->user_size + 7) & ~(size_t)7;
  size_t asz = sizeof(ublob) + (size_t)nin * sizeof(uin) + ubytes;
  char *blob = calloc(1, asz);
  dtx_task_id *in = calloc((size_t)nin, sizeof *in);
  tmpl *t = NULL;
  dtx_status rc = DTX_OK;
  if (ms == NULL || ebase == NULL || estr == NULL || blob == NULL || in == NULL)
    rc = dtxi_fail(DTX_ENOMEM, "out of memory");
  /* inputs read in place where they are host memory (CPU builds) */
  for (int i = 0; i < nin && rc == DTX_OK; i++) {
    if (as_ext(bc, r->in[i], &ebase[i], estr[i])) continue;
    ebase[i] = NULL;
    if (!halo && (ms[i] = materialize(bc, r->in[i], r->chunk)) == NULL) rc = DTX_EINVAL;
  }
  char name[DTX_MAX_KEY], hname[DTX_MAX_KEY];
  task_name(r, NULL, NULL, name, sizeof name);
  snprintf(hname, sizeof hname, "overlap-%llu", (unsigned long long)r->serial);
  ublob *u = (ublob *)(void *)blob;
  uin *ui = (uin *)(void *)(u + 1);
  for (int64_t b = 0; b < m->n && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS], lo[DTX_ARRAY_MAX_DIMS], hi[DTX_ARRAY_MAX_DIMS];
    block_region(nd, m->nb, m->chunk, r->shape, b, idx, lo, hi);
    memset(u, 0, sizeof *u);
    u->cpu = r->fcpu;
    u->cuda = r->fcuda;
    u->nin = nin;
    u->ndim = nd;
    u->out_dtype = r->dtype;
    u->user_size = r->user_size;
    int64_t hlo[DTX_ARRAY_MAX_DIMS], hhi[DTX_ARRAY_MAX_DIMS];
    int inside = 1;
    for (int d = 0; d < nd; d++) {
      u->index[d] = idx[d];
      u->start[d] = lo[d];
      u->shape[d] = hi[d] - lo[d];
      u->halo[d] = halo ? r->depth[d] : 0;
      hlo[d] = lo[d] - u->halo[d];
      hhi[d] = hi[d] + u->halo[d];
      inside &= hlo[d] >= 0 && hhi[d] <= r->shape[d];
    }
    if (dest != NULL) {
      int64_t off = 0;
      for (int d = 0; d < nd; d++) {
        off += lo[d] * dstride[d];
        u->out_stride[d] = dstride[d];
      }
      u->out_ext = (uint64_t)(uintptr_t)(dest + off * (int64_t)dtx_dtype_size(r->dtype));
    }
    if (r->user_size > 0) memcpy(ui + nin, r->user, r->user_size);
    int ntask_in = 0;
    for (int i = 0; i < nin && rc == DTX_OK; i++) {
      ui[i].dtype = r->in[i]->dtype;
      if (ebase[i] != NULL && (!halo || inside)) {
        /* a window of host memory: no copy */
        int64_t off = 0;
        for (int d = 0; d < nd; d++) {
          off += hlo[d] * estr[i][d];
          ui[i].stride[d] = estr[i][d];
        }
        ui[i].input = -1;
        ui[i].ext = (uint64_t)(uintptr_t)(ebase[i] + off * (int64_t)dtx_dtype_size(r->in[i]->dtype));
        continue;
      }
      ui[i].input = ntask_in;
      int64_t s = 1;
      for (int d = nd - 1; d >= 0; d--) {
        ui[i].stride[d] = s;
        s *= hhi[d] - hlo[d];
      }
      if (halo) {
        if (t == NULL && (rc = halo_template(bc, r, &t)) != DTX_OK) break;
        outspec os;
        memset(&os, 0, sizeof os);
        os.kind = DTXK_OUT_CHUNK;
        os.dtype = r->in[0]->dtype;
        if (!bc->gpu) {
          /* CPU threads: the user task assembles its halo'd block itself, into a reused buffer */
          char *hb;
          size_t hs;
          dtx_task_id *hin;
          int hn;
          if ((rc = instantiate(t, nd, hlo, hhi, &os, name, &hb, &hs, &hin, &hn)) != DTX_OK) break;
          char *nb = realloc(blob, asz + hs);
          dtx_task_id *ni = realloc(in, (size_t)(hn > nin ? hn : nin) * sizeof *in);
          if (nb == NULL || ni == NULL) {
            free(nb != NULL ? nb : blob);
            blob = NULL;
            in = ni != NULL ? ni : in;
            free(hb);
            free(hin);
            rc = dtxi_fail(DTX_ENOMEM, "out of memory");
            break;
          }
          blob = nb;
          in = ni;
          u = (ublob *)(void *)blob;
          ui = (uin *)(void *)(u + 1);
          memcpy(blob + asz, hb, hs);
          u->halo_size = hs;
          if (hn > 0) memcpy(in, hin, (size_t)hn * sizeof *in);
          ntask_in = hn;
          ui[i].input = -2;
          free(hb);
          free(hin);
          continue;
        }
        int64_t key[DTX_MAX_INDICES];
        int nk = key_fold(nd, idx, m->nb, key);
        rc = emit_fused(bc, t, nd, hlo, hhi, &os, hname, nk, key, dtxk_fused_cuda, DTX_WHERE_ANY,
                        &in[ntask_in++]);
      } else {
        in[ntask_in++] = ms[i]->ids[b];
      }
    }
    int64_t key[DTX_MAX_INDICES];
    int nk = key_fold(nd, idx, m->nb, key);
    if (rc == DTX_OK)
      rc = add_task(bc, name, nk, key, in, ntask_in, blob, asz + (size_t)u->halo_size,
                    r->fcpu != NULL ? user_cpu : NULL, r->fcuda != NULL && dest == NULL ? user_cuda : NULL,
                    dest != NULL ? DTX_WHERE_CPU : DTX_WHERE_ANY, &m->ids[b]);
  }
  free(t);
  free(ms);
  free(ebase);
  free(estr);
  free(blob);
  free(in);
  return rc;
}

/* ---- deep expressions -------------------------------------------------------------------------- */

/* Materializes, children first, every node that will be computed by tasks of
 * its own (sources, inputs too big to fuse, everything when not fusing), so
 * that compiling any one of them finds its inputs already built: the build
 * then recurses at most one fused expression deep, however long the chain.
 * An explicit stack and a visited set (open addressing on the node address). */
static dtx_status prebuild(bctx *bc, const dtx_array *root) {
  size_t cap = 1024, used = 0;
  const dtx_array **seen = calloc(cap, sizeof *seen);
  struct frame {
    const dtx_array *a;
    int next;
  } *st = malloc(256 * sizeof *st);
  size_t n = 0, scap = 256;
  dtx_status rc = DTX_OK;
  if (seen == NULL || st == NULL) rc = dtxi_fail(DTX_ENOMEM, "out of memory");
  if (rc == DTX_OK) st[n++] = (struct frame){root, 0};
  while (rc == DTX_OK && n > 0) {
    struct frame *f = &st[n - 1];
    const dtx_array *a = f->a;
    if (f->next < a->nin) {
      const dtx_array *c = a->in[f->next++];
      /* visited? */
      size_t h = ((uintptr_t)c >> 4) * 0x9E3779B97F4A7C15ull & (cap - 1);
      while (seen[h] != NULL && seen[h] != c) h = (h + 1) & (cap - 1);
      if (seen[h] == c) continue;
      seen[h] = c;
      if (++used * 2 > cap) {
        size_t nc = cap * 2;
        const dtx_array **ns = calloc(nc, sizeof *ns);
        if (ns == NULL) {
          rc = dtxi_fail(DTX_ENOMEM, "out of memory");
          break;
        }
        for (size_t i = 0; i < cap; i++) {
          if (seen[i] == NULL) continue;
          size_t h2 = ((uintptr_t)seen[i] >> 4) * 0x9E3779B97F4A7C15ull & (nc - 1);
          while (ns[h2] != NULL) h2 = (h2 + 1) & (nc - 1);
          ns[h2] = seen[i];
        }
        free(seen);
        seen = ns;
        cap = nc;
      }
      if (n == scap) {
        struct frame *s2 = realloc(st, scap * 2 * sizeof *st);
        if (s2 == NULL) {
          rc = dtxi_fail(DTX_ENOMEM, "out of memory");
          break;
        }
        st = s2;
        scap *= 2;
      }
      st[n++] = (struct frame){c, 0};
      continue;
    }
    /* all inputs done: build what this node needs built */
    n--;
    for (int i = 0; i < a->nin && i < 32 && rc == DTX_OK; i++)
      if (((a->mat >> i) & 1) && materialize(bc, a->in[i], a->in[i]->chunk) == NULL) rc = DTX_EINVAL;
    int own = is_source(a) || (!bc->fuse && a->kind != DTXA_EXT && a->kind != DTXA_GEN);
    if (rc == DTX_OK && own && a != root && materialize(bc, a, a->chunk) == NULL) rc = DTX_EINVAL;
  }
  free(seen);
  free(st);
  return rc;
}

/* ---- builds and computations ---------------------------------------------------------------------- */

static void bctx_init(bctx *bc, dtx_cluster *cl, dtx_graph *g, int fuse) {
  memset(bc, 0, sizeof *bc);
  bc->cl = cl;
  bc->g = g;
  bc->fuse = fuse;
  bc->ngpu = dtx_cluster_num_gpus(cl);
  bc->gpu = bc->ngpu > 0 && dtx_cluster_scheduler(cl) == DTX_SCHED_CLUSTER;
  bc->workers = dtx_cluster_scheduler(cl) == DTX_SCHED_SYNC ? 1 : dtx_cluster_num_threads(cl);
}

static void bctx_free(bctx *bc) {
  for (msrc *m = bc->memo, *n; m != NULL; m = n) {
    n = m->next;
    free(m->ids);
    free(m);
  }
  bc->memo = NULL;
}

/* ---- persisted chunks ----------------------------------------------------------------------------- */

static dtx_status emit_kept(bctx *bc, const dtx_array *a, msrc *m) {
  char name[DTX_MAX_KEY];
  task_name(a, m->chunk, NULL, name, sizeof name);
  dtx_status rc = DTX_OK;
  for (int64_t b = 0; b < m->n && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS], lo[DTX_ARRAY_MAX_DIMS], hi[DTX_ARRAY_MAX_DIMS];
    block_region(a->ndim, m->nb, m->chunk, a->shape, b, idx, lo, hi);
    dtxi_kept *slot = &a->keeper->slot[b];
    /* lent in place: its readers get the whole chunk (weighed when placing them) */
    hints h = {dtx_dtype_size(a->dtype), DTXI_TASK_LENDS_STORED};
    for (int d = 0; d < a->ndim; d++) h.output_size *= (size_t)(hi[d] - lo[d]);
    int64_t key[DTX_MAX_INDICES];
    int nk = key_fold(a->ndim, idx, m->nb, key);
    int w = slot->dev >= 0 ? DTX_WHERE_GPU(slot->dev) : bc->gpu ? DTX_WHERE_CPU : DTX_WHERE_ANY;
    rc = add_hinted(bc, name, nk, key, NULL, 0, &slot, sizeof slot, dtxi_kept_source, dtxi_kept_source, w, h,
                    &m->ids[b]);
  }
  return rc;
}

dtx_status dtxa_persist_kept(const dtx_array *a, const int *where, dtxi_keeper *k) {
  int64_t n = dtxa_nblocks(a), nb[DTX_ARRAY_MAX_DIMS];
  for (int d = 0; d < a->ndim; d++) nb[d] = dtxa_nb(a, d);
  dtx_graph *g = NULL;
  dtx_status rc = dtx_graph_create(&g);
  if (rc != DTX_OK) return rc;
  bctx bc;
  bctx_init(&bc, a->cl, g, 1);
  dtx_task_id *ids = calloc((size_t)n, sizeof *ids);
  if (ids == NULL) rc = dtxi_fail(DTX_ENOMEM, "out of memory");
  if (rc == DTX_OK) rc = prebuild(&bc, a);
  msrc *m = rc == DTX_OK ? materialize(&bc, a, a->chunk) : NULL;
  if (rc == DTX_OK && m == NULL) rc = DTX_EINVAL;
  char name[DTX_MAX_KEY];
  snprintf(name, sizeof name, "persist-%llu", (unsigned long long)a->serial);
  for (int64_t b = 0; b < n && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS], lo[DTX_ARRAY_MAX_DIMS], hi[DTX_ARRAY_MAX_DIMS];
    block_region(a->ndim, nb, a->chunk, a->shape, b, idx, lo, hi);
    dtxi_kept *slot = &k->slot[b];
    int w = where != NULL ? where[b] : bc.gpu ? DTX_WHERE_GPU((int)(b % bc.ngpu)) : DTX_WHERE_ANY;
    int64_t key[DTX_MAX_INDICES];
    int nk = key_fold(a->ndim, idx, nb, key);
    rc = add_hinted(&bc, name, nk, key, &m->ids[b], 1, &slot, sizeof slot, dtxi_keep_task, dtxi_keep_task, w,
                    (hints){0, DTXI_TASK_KEEPS_INPUT}, &ids[b]);
  }
  if (rc == DTX_OK) rc = dtx_compute(a->cl, g, ids, (int)n, NULL, NULL);
  if (rc != DTX_OK) dtxi_keeper_clear(k);
  free(ids);
  bctx_free(&bc);
  dtx_graph_destroy(g);
  return rc;
}

dtx_status dtx_array_graph(const dtx_array *a, dtx_graph *g, dtx_task_id *ids, size_t nids,
                           const dtx_array_graph_opts *opts) {
  if (a == NULL || g == NULL || ids == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_array_graph: %s is NULL",
                     a == NULL   ? "array"
                     : g == NULL ? "graph"
                                 : "ids");
  if (a->deferred)
    return dtxi_fail(DTX_EINVAL,
                     "dtx_array_graph: the array's chunks depend on lengths unknown until computed (from "
                     "dtx_mask_select or dtx_unique); call dtx_array_compute_chunk_sizes first");
  if (a->kind == DTXA_CPLX) a = a->in[0]; /* complex: its pairs, one task per chunk as well */
  if (nids != (size_t)dtxa_nblocks(a))
    return dtxi_fail(DTX_EINVAL, "dtx_array_graph: nids is %zu; the array has %lld chunks", nids,
                     (long long)dtxa_nblocks(a));
  dtx_array_graph_opts o = DTX_ARRAY_GRAPH_OPTS_INIT;
  if (opts != NULL) {
    if (opts->size < sizeof(size_t) || opts->size > sizeof o)
      return dtxi_fail(DTX_EINVAL, "dtx_array_graph: opts->size is %zu; use DTX_ARRAY_GRAPH_OPTS_INIT",
                       opts->size);
    memcpy(&o, opts, opts->size);
  }
  if (nids == 0) return DTX_OK; /* an empty array has no chunks, so no tasks */
  bctx bc;
  bctx_init(&bc, a->cl, g, !o.no_fusion);
  dtx_status rc = prebuild(&bc, a);
  msrc *m = rc == DTX_OK ? materialize(&bc, a, a->chunk) : NULL;
  if (rc == DTX_OK && m == NULL) rc = DTX_EINVAL;
  if (m != NULL) memcpy(ids, m->ids, nids * sizeof *ids);
  bctx_free(&bc);
  return rc;
}

/* Copies host array a (strided) into buf (C order). */
static void copy_ext(const dtx_array *a, void *buf) {
  int nd = a->ndim;
  size_t esz = dtx_dtype_size(a->dtype);
  int contiguous = 1;
  int64_t cs[DTX_ARRAY_MAX_DIMS];
  c_strides(nd, a->shape, cs);
  for (int d = 0; d < nd; d++) contiguous &= a->estride[d] == cs[d] || a->shape[d] == 1;
  int64_t n = dtx_array_size(a);
  if (contiguous) {
    memcpy(buf, a->data, (size_t)n * esz);
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    int64_t off = 0, r = i;
    for (int d = nd - 1; d >= 0; d--) {
      off += (r % a->shape[d]) * a->estride[d];
      r /= a->shape[d];
    }
    memcpy((char *)buf + i * esz, (const char *)a->data + off * (int64_t)esz, esz);
  }
}

dtx_status dtxa_compute_into(const dtx_array *a, void *buf) {
  if (a->deferred)
    return dtxi_fail(DTX_EINVAL, "internal: %s-%llu has unknown lengths", a->opname,
                     (unsigned long long)a->serial);
  if (dtx_array_size(a) == 0) return DTX_OK; /* empty: nothing to compute */
  if (a->kind == DTXA_CPLX) a = a->in[0];    /* complex: its pairs, the same bytes */
  if (a->kind == DTXA_EXT) {
    copy_ext(a, buf);
    return DTX_OK;
  }
  dtx_graph *g = NULL;
  dtx_status rc = dtx_graph_create(&g);
  if (rc != DTX_OK) return rc;
  bctx bc;
  bctx_init(&bc, a->cl, g, 1);
  tmpl *t = NULL;
  int64_t nb[DTX_ARRAY_MAX_DIMS], n = dtxa_nblocks(a);
  for (int d = 0; d < a->ndim; d++) nb[d] = dtxa_nb(a, d);
  dtx_task_id *ids = calloc((size_t)n, sizeof *ids);
  if (ids == NULL) rc = dtxi_fail(DTX_ENOMEM, "out of memory");
  if (rc == DTX_OK) rc = prebuild(&bc, a);
  if (rc == DTX_OK && !bc.gpu && (a->kind == DTXA_MAP || a->kind == DTXA_OVERLAP)) {
    /* user kernels write their blocks straight into buf */
    msrc *m = msrc_new(&bc, a, a->chunk);
    int64_t st[DTX_ARRAY_MAX_DIMS];
    c_strides(a->ndim, a->shape, st);
    if (m == NULL)
      rc = dtxi_fail(DTX_ENOMEM, "out of memory");
    else
      rc = emit_user(&bc, a, m, (char *)buf, st);
    if (rc == DTX_OK) rc = dtx_compute(a->cl, g, m->ids, (int)m->n, NULL, NULL);
    free(ids);
    bctx_free(&bc);
    dtx_graph_destroy(g);
    return rc;
  }
  if (rc == DTX_OK && !bc.gpu && a->kind == DTXA_BLOCKS) {
    /* an op whose tasks can write straight into buf does (dtxa_emit_dest) */
    bc.dest_node = a;
    bc.dest = buf;
    msrc *m = materialize(&bc, a, a->chunk);
    bc.dest_node = NULL;
    if (m == NULL) rc = DTX_EINVAL;
    if (rc == DTX_OK && bc.dest_used) {
      rc = dtx_compute(a->cl, g, m->ids, (int)m->n, NULL, NULL);
      free(ids);
      bctx_free(&bc);
      dtx_graph_destroy(g);
      return rc;
    }
  }
  /* on GPUs the chunks are computed there, then copied out by CPU tasks */
  if (rc == DTX_OK && bc.gpu && materialize(&bc, a, a->chunk) == NULL) rc = DTX_EINVAL;
  if (rc == DTX_OK) rc = compile_root(&bc, a, bc.gpu, 0, &t);
  outspec os;
  memset(&os, 0, sizeof os);
  os.kind = DTXK_OUT_EXT;
  os.ext = (uint64_t)(uintptr_t)buf;
  c_strides(a->ndim, a->shape, os.stride);
  if (t != NULL) os.dtype = result_dtype(t);
  char name[DTX_MAX_KEY];
  snprintf(name, sizeof name, "store-%llu", (unsigned long long)a->serial);
  for (int64_t b = 0; b < n && rc == DTX_OK; b++) {
    int64_t idx[DTX_ARRAY_MAX_DIMS], lo[DTX_ARRAY_MAX_DIMS], hi[DTX_ARRAY_MAX_DIMS];
    block_region(a->ndim, nb, a->chunk, a->shape, b, idx, lo, hi);
    int64_t key[DTX_MAX_INDICES];
    int nk = key_fold(a->ndim, idx, nb, key);
    rc = emit_fused(&bc, t, a->ndim, lo, hi, &os, name, nk, key, NULL, DTX_WHERE_CPU, &ids[b]);
  }
  free(t);
  if (rc == DTX_OK && os.dtype != (int)a->dtype)
    rc = dtxi_fail(DTX_EINVAL, "internal: program dtype %d for a %s array", os.dtype,
                   dtx_dtype_name(a->dtype));
  if (rc == DTX_OK) rc = dtx_compute(a->cl, g, ids, (int)n, NULL, NULL);
  free(ids);
  bctx_free(&bc);
  dtx_graph_destroy(g);
  return rc;
}
