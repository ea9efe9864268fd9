/*
 * kernels/fused.c - the CPU implementation of fused tasks and reduction
 * combine tasks: the driver that runs a fused program over its region.
 *
 * The driver sets up the output addressing (a chunk, host memory, or partial
 * states; MEAN folds as sums, counts added at the end), cuts the region into
 * sub-rectangles in which every leaf reads one chunk with fixed strides
 * (kernels/plan.c), and hands each sub-rectangle to one path
 * (kernels/fused_path.h). Which fast paths the program's shape allows is
 * found once per task; the selector then picks, once per sub-rectangle from
 * its resolved leaves, the first fast path that fits, in the order
 *   transpose  x + x.T in 8 x 8 register blocks          (fused_transpose.c)
 *   sum        a float64 leaf summed along its rows      (fused_sum.c)
 *   colsum     float64 rows summed into column states    (fused_colsum.c)
 *   colarg     float rows argmax'd into column states    (fused_colarg.c)
 *   chain      a float64 leaf through scalar + - * /     (fused_chain.c)
 *   copy       one leaf stored as it is, memcpy runs     (fused_copy.c)
 * else the general strip interpreter (fused_general.c). All paths add in
 * the same order, so results are the same bit for bit whichever runs;
 * dtxi_kernels_force_general and dtxi_kernels_path_runs (kernels/kernels.h)
 * let the tests check both.
 * Runs on a worker thread (or a simulated GPU's stream thread); touches only
 * its inputs, its output and its own scratch. The path counters are atomic.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/fused_path.h"
#include "kernels/kernels.h"
#include "kernels/reduce.h"

/* ---- test hooks -------------------------------------------------------------------------- */

static atomic_int force_general;
static atomic_llong path_runs[DTXI_PATH_COUNT];

void dtxi_kernels_force_general(int on) {
  atomic_store_explicit(&force_general, on != 0, memory_order_relaxed);
}

int64_t dtxi_kernels_path_runs(dtxi_fused_path path) {
  if ((int)path < 0 || path >= DTXI_PATH_COUNT) return 0;
  return (int64_t)atomic_load_explicit(&path_runs[path], memory_order_relaxed);
}

/* ---- choosing a path -------------------------------------------------------------------- */

/* The fast paths, in the order the selector tries them (indexed by dtxi_fused_path). */
static const dtxi_path_ops *const fast_paths[DTXI_PATH_COUNT] = {
    [DTXI_PATH_TRANSPOSE] = &dtxi_path_transpose, [DTXI_PATH_SUM] = &dtxi_path_sum,
    [DTXI_PATH_COLSUM] = &dtxi_path_colsum,       [DTXI_PATH_COLARG] = &dtxi_path_colarg,
    [DTXI_PATH_CHAIN] = &dtxi_path_chain,         [DTXI_PATH_COPY] = &dtxi_path_copy,
};

/* Which fast paths the program allows: how[k] (the row delivery, 0: not
 * path k) and their arguments; found once per task. */
typedef struct path_plan {
  int how[DTXI_PATH_COUNT];
  dtxi_path_args args[DTXI_PATH_COUNT];
} path_plan;

static void plan_paths(const dtxi_exec *e, path_plan *pl) {
  memset(pl, 0, sizeof *pl);
  if (atomic_load_explicit(&force_general, memory_order_relaxed)) return;
  for (int k = 1; k < DTXI_PATH_COUNT; k++) {
    pl->how[k] = fast_paths[k]->match(e, &pl->args[k]);
    pl->args[k].how = pl->how[k];
  }
}

/* The path for the sub-rectangle r (e->rl resolved there, tiles planned):
 * the first fast path the program allows that fits r, its arguments in *a;
 * else the general path. */
static dtxi_fused_path select_path(const dtxi_exec *e, const path_plan *pl, const dtxi_rect *r,
                                   dtxi_path_args *a) {
  for (int k = 1; k < DTXI_PATH_COUNT; k++) {
    if (!pl->how[k]) continue;
    *a = pl->args[k];
    if (fast_paths[k]->fits(e, r, a)) return (dtxi_fused_path)k;
  }
  return DTXI_PATH_GENERAL;
}

/* ---- the program over one region ------------------------------------------------------ */

/* The extents of the region over the padded dims; lo and the arg strides too. */
static void region_dims(dtxi_exec *e, int64_t *ext) {
  const dtxk_prog *p = e->p;
  int pad = DTXK_MAX_DIMS - p->ndim;
  for (int P = 0; P < DTXK_MAX_DIMS; P++) {
    int k = P - pad;
    e->lo[P] = k < 0 ? 0 : p->lo[k];
    ext[P] = k < 0 ? 1 : p->hi[k] - p->lo[k];
    e->astride[P] = k < 0 ? 0 : p->arg_stride[k];
  }
}

/* Output addressing of a reduction: states strided over the kept dims; a MEAN
 * folds into *mean_sums (*mean_slots of them, allocated here) as SUM. */
static int reduce_output(dtxi_exec *e, const int64_t *ext, char *out, double **mean_sums, int64_t *mean_slots,
                         const char **why) {
  const dtxk_prog *p = e->p;
  int pad = DTXK_MAX_DIMS - p->ndim;
  int64_t s = 1;
  for (int P = DTXK_MAX_DIMS - 1; P >= 0; P--) {
    int k = P - pad;
    int red = k >= 0 && (p->red_mask >> k) & 1;
    e->ostride[P] = red ? 0 : s;
    if (!red) s *= ext[P];
  }
  e->inner_reduced = p->ndim > 0 && (p->red_mask >> (p->ndim - 1)) & 1;
  e->red = p->red;
  e->osize = dtxk_state_size(p->red);
  e->out = out;
  if (p->red != DTXK_R_MEAN) return 0;
  /* sums per slot (contiguous doubles fold fastest), counts at the end */
  int64_t slots = 1;
  for (int P = 0; P < DTXK_MAX_DIMS; P++)
    if (e->ostride[P] != 0) slots *= ext[P];
  if ((*mean_sums = calloc((size_t)slots, sizeof **mean_sums)) == NULL) {
    *why = "out of memory for the partial sums";
    return -1;
  }
  e->red = DTXK_R_SUM;
  e->osize = 8;
  e->out = (char *)*mean_sums;
  *mean_slots = slots;
  return 0;
}

/* Output addressing of a chunk (C order, out) or host memory (EXT). */
static void store_output(dtxi_exec *e, const int64_t *ext, char *out) {
  const dtxk_prog *p = e->p;
  int pad = DTXK_MAX_DIMS - p->ndim;
  e->osize = dtxk_size(p->out_dtype);
  if (p->out_kind == DTXK_OUT_EXT) {
    for (int P = 0; P < DTXK_MAX_DIMS; P++) {
      int k = P - pad;
      e->ostride[P] = k < 0 ? 0 : p->out_stride[k];
    }
    /* address relative to lo */
    int64_t off = 0;
    for (int P = 0; P < DTXK_MAX_DIMS; P++) off += e->lo[P] * e->ostride[P];
    e->out = (char *)(uintptr_t)p->out_ext + off * e->osize;
    return;
  }
  int64_t s = 1;
  for (int P = DTXK_MAX_DIMS - 1; P >= 0; P--) {
    e->ostride[P] = s;
    s *= ext[P];
  }
  e->out = out;
}

/* Resolves the leaves at sub-rectangle r, plans its tiles, and runs it
 * through the path the selector picks. 0, or -1 with *why set. */
static int run_rect(dtxi_exec *e, const path_plan *pl, dtxi_rect *r, const void *const *inputs, int nin,
                    const char **why) {
  if (dtxk_resolve(e->p, inputs, nin, r->s, e->rl, why)) return -1;
  int tiled = dtxi_general_plan_tiles(e, r, why);
  if (tiled < 0) return -1;
  r->tiled = tiled;
  dtxi_path_args a;
  dtxi_fused_path path = select_path(e, pl, r, &a);
  atomic_fetch_add_explicit(&path_runs[path], 1, memory_order_relaxed);
  if (path == DTXI_PATH_GENERAL)
    dtxi_general_run(e, r);
  else
    fast_paths[path]->run(e, r, &a);
  return 0;
}

/* Every sub-rectangle of the cuts, in C order of the cut indices. */
static int run_rects(dtxi_exec *e, const path_plan *pl, const dtxk_cuts *cuts, const void *const *inputs,
                     int nin, const char **why) {
  int64_t total = 1;
  for (int k = 0; k < DTXK_MAX_DIMS; k++) total *= cuts->n[k] - 1;
  for (int64_t t = 0; t < total; t++) {
    dtxi_rect r;
    int64_t rest = t;
    for (int k = DTXK_MAX_DIMS - 1; k >= 0; k--) {
      int64_t c = rest % (cuts->n[k] - 1);
      rest /= cuts->n[k] - 1;
      r.s[k] = cuts->c[k][c];
      r.n[k] = cuts->c[k][c + 1] - r.s[k];
    }
    if (run_rect(e, pl, &r, inputs, nin, why)) return -1;
  }
  return 0;
}

/* Runs the program over the region. out: CHUNK, states (REDUCE) or NULL (EXT). */
static int run_prog(const dtxk_prog *p, const void *const *inputs, int nin, char *out, const char **why) {
  dtxi_exec e;
  memset(&e, 0, sizeof e);
  e.p = p;
  e.leaves = dtxk_prog_leaves(p);
  e.ins = dtxk_prog_instr(p);
  e.consts = dtxk_prog_consts(p);
  if (p->nregs > DTXK_MAX_REGS || p->nleaves > DTXK_MAX_LEAVES || p->result < 0 || p->result >= p->nregs) {
    *why = "malformed fused program";
    return -1;
  }
  if (dtxi_general_setup(&e, why)) return -1;
  int64_t ext[DTXK_MAX_DIMS], mean_slots = 0;
  double *mean_sums = NULL;
  region_dims(&e, ext);
  int rc = 0;
  if (p->out_kind == DTXK_OUT_REDUCE)
    rc = reduce_output(&e, ext, out, &mean_sums, &mean_slots, why);
  else
    store_output(&e, ext, out);
  dtxk_cuts cuts;
  if (rc == 0 && dtxk_plan_cuts(p, &cuts)) {
    *why = "out of memory planning the task";
    rc = -1;
  }
  if (rc == 0) {
    path_plan pl;
    plan_paths(&e, &pl);
    rc = run_rects(&e, &pl, &cuts, inputs, nin, why);
    dtxk_cuts_free(&cuts);
  }
  if (rc == 0 && mean_sums != NULL) {
    int64_t count = 1;
    for (int k = 0; k < p->ndim; k++)
      if ((p->red_mask >> k) & 1) count *= p->hi[k] - p->lo[k];
    dtxk_mean_st *st = (dtxk_mean_st *)(void *)out;
    for (int64_t q = 0; q < mean_slots; q++) {
      st[q].s += mean_sums[q];
      st[q].n += (double)count;
    }
  }
  free(mean_sums);
  dtxi_general_free(&e);
  return rc;
}

static int64_t region_elems(const dtxk_prog *p, int kept_only) {
  int64_t n = 1;
  for (int k = 0; k < p->ndim; k++)
    if (!kept_only || !((p->red_mask >> k) & 1)) n *= p->hi[k] - p->lo[k];
  return n;
}

int dtxk_run_chunk(const void *prog, const void *const *inputs, int nin, void *out, const char **why) {
  const dtxk_prog *p = (const dtxk_prog *)prog;
  if (p->out_kind != DTXK_OUT_CHUNK) {
    *why = "the embedded program does not make a chunk";
    return -1;
  }
  return run_prog(p, inputs, nin, (char *)out, why);
}

int dtxk_fused_cpu(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_prog *p = (const dtxk_prog *)dtx_task_args(ctx, &asz);
  if (p == NULL || asz < sizeof *p || dtxk_prog_size(p) != asz)
    return dtx_task_fail(ctx, "malformed fused-task arguments");
  int nin = dtx_task_num_inputs(ctx);
  const void **inputs = calloc((size_t)(nin > 0 ? nin : 1), sizeof *inputs);
  if (inputs == NULL) return dtx_task_fail(ctx, "out of memory");
  for (int i = 0; i < nin; i++) inputs[i] = dtx_task_input(ctx, i, NULL);
  const char *why = NULL;
  int rc = 0;
  if (p->out_kind == DTXK_OUT_CHUNK) {
    int64_t n = region_elems(p, 0);
    char *out = dtx_task_output(ctx, (size_t)n * (size_t)dtxk_size(p->out_dtype));
    if (out == NULL)
      rc = dtx_task_fail(ctx, "out of memory for a %lld-element chunk", (long long)n);
    else if (run_prog(p, inputs, nin, out, &why))
      rc = dtx_task_fail(ctx, "%s", why);
  } else if (p->out_kind == DTXK_OUT_EXT) {
    if (run_prog(p, inputs, nin, NULL, &why)) rc = dtx_task_fail(ctx, "%s", why);
  } else {
    int64_t slots = region_elems(p, 1);
    int ssz = dtxk_state_size(p->red);
    char *st =
        p->finalize ? malloc((size_t)slots * (size_t)ssz) : dtx_task_output(ctx, (size_t)slots * (size_t)ssz);
    if (st == NULL) {
      rc = dtx_task_fail(ctx, "out of memory for %lld reduction states", (long long)slots);
    } else {
      for (int64_t s = 0; s < slots; s++) dtxk_red_init(p->red, p->acc, st + s * ssz);
      if (run_prog(p, inputs, nin, st, &why)) {
        rc = dtx_task_fail(ctx, "%s", why);
      } else if (p->finalize) {
        int fsz = dtxk_size(p->fin_dtype);
        char *out = dtx_task_output(ctx, (size_t)slots * (size_t)fsz);
        if (out == NULL)
          rc = dtx_task_fail(ctx, "out of memory");
        else
          for (int64_t s = 0; s < slots; s++)
            dtxk_red_final(p->red, p->acc, p->fin_dtype, p->ddof, st + s * ssz, out + s * fsz);
      }
      if (p->finalize) free(st);
    }
  }
  free(inputs);
  return rc;
}

int dtxk_combine_cpu(dtx_task_ctx *ctx) {
  size_t asz = 0;
  const dtxk_combine *c = (const dtxk_combine *)dtx_task_args(ctx, &asz);
  if (c == NULL || asz != sizeof *c) return dtx_task_fail(ctx, "malformed combine-task arguments");
  int ssz = dtxk_state_size(c->red);
  size_t bytes = (size_t)c->nslots * (size_t)ssz;
  char *st = malloc(bytes > 0 ? bytes : 1);
  if (st == NULL) return dtx_task_fail(ctx, "out of memory");
  for (int64_t s = 0; s < c->nslots; s++) dtxk_red_init(c->red, c->acc, st + s * ssz);
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) {
    size_t n = 0;
    const char *in = dtx_task_input(ctx, i, &n);
    if (n != bytes) {
      free(st);
      return dtx_task_fail(ctx, "input %d holds %zu bytes of partial states, expected %zu", i, n, bytes);
    }
    for (int64_t s = 0; s < c->nslots; s++) dtxk_red_merge(c->red, c->acc, st + s * ssz, in + s * ssz);
  }
  int rc = 0;
  if (c->finalize) {
    int fsz = dtxk_size(c->fin_dtype);
    char *out = dtx_task_output(ctx, (size_t)c->nslots * (size_t)fsz);
    if (out == NULL)
      rc = dtx_task_fail(ctx, "out of memory");
    else
      for (int64_t s = 0; s < c->nslots; s++)
        dtxk_red_final(c->red, c->acc, c->fin_dtype, c->ddof, st + s * ssz, out + s * fsz);
  } else {
    char *out = dtx_task_output(ctx, bytes);
    if (out == NULL)
      rc = dtx_task_fail(ctx, "out of memory");
    else
      memcpy(out, st, bytes);
  }
  free(st);
  return rc;
}
