/*
 * kernels/plan.c - cutting a fused task's region into sub-rectangles in which
 * every leaf reads one chunk with fixed strides, and resolving the leaves
 * there. Shared by the CPU kernels and the CUDA launchers (host code), and by
 * the graph builder (which chunks a region touches).
 *
 * Along one leaf dimension, index = off + step * o for region position o,
 * then the boundary mode: inside [0, n) the index is used as is; below or
 * above, PERIODIC wraps, NEAREST clamps to the edge, CONSTANT reads the fill
 * value (NONE never goes outside for a leaf that is read; sub-leaves of a
 * concatenation are only read inside their piece). A "run" is a range of o
 * over which the segment (below / inside / above) and the chunk stay the same.
 * Pure functions of the blob; no allocation except the cut arrays.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/program.h"

typedef struct runinfo {
  int64_t idx;  /* leaf index at o (after the mode) */
  int fill;     /* reads the fill value (CONSTANT, or NONE outside) */
  int clamped;  /* NEAREST outside: idx stays fixed */
  int64_t next; /* first position after o where the run ends (<= hi) */
} runinfo;

/* First o' > o with raw(o') >= v, for step > 0 and raw(o) < v. */
static int64_t cross_up(int64_t o, int64_t raw, int64_t step, int64_t v) {
  return o + (v - raw + step - 1) / step;
}
/* First o' > o with raw(o') < v, for step < 0 and raw(o) >= v. */
static int64_t cross_down(int64_t o, int64_t raw, int64_t step, int64_t v) {
  return o + (raw - v) / (-step) + 1;
}

static void leaf_run(const dtxk_leaf *l, int d, int64_t o, int64_t hi, runinfo *ri) {
  const dtxk_dimmap *m = &l->map[d];
  int64_t n = l->shape[d];
  int64_t step = m->src < 0 ? 0 : m->step;
  int64_t raw = m->off + step * o;
  int seg = raw < 0 ? -1 : raw >= n ? 1 : 0;
  ri->fill = 0;
  ri->clamped = 0;
  ri->idx = raw;
  int moving = 1; /* idx follows raw within the segment */
  if (seg != 0) {
    switch (m->mode) {
      case DTXK_MODE_PERIODIC:
        ri->idx = ((raw % n) + n) % n;
        break;
      case DTXK_MODE_NEAREST:
        ri->idx = seg < 0 ? 0 : n - 1;
        ri->clamped = 1;
        moving = 0;
        break;
      default:
        ri->fill = 1;
        ri->idx = 0;
        moving = 0;
        break;
    }
  }
  int64_t next = hi;
  if (step != 0) {
    /* the segment ends */
    if (step > 0) {
      if (seg < 0)
        next = cross_up(o, raw, step, 0);
      else if (seg == 0)
        next = cross_up(o, raw, step, n);
    } else {
      if (seg > 0)
        next = cross_down(o, raw, step, n);
      else if (seg == 0)
        next = cross_down(o, raw, step, 0);
    }
    /* the chunk ends (periodic wraps keep idx - raw fixed within a segment) */
    if (moving && l->kind == DTXK_LEAF_TASK) {
      int64_t c = l->chunk[d], b = ri->idx / c, shift = ri->idx - raw, e;
      if (step > 0) {
        e = cross_up(o, raw, step, (b + 1) * c - shift);
      } else {
        e = cross_down(o, raw, step, b * c - shift);
      }
      if (e < next) next = e;
    }
    /* a periodic wrap below 0 may pass more than one period: the segment
     * boundary at the next multiple of n */
    if (moving && seg != 0 && m->mode == DTXK_MODE_PERIODIC) {
      int64_t shift = ri->idx - raw, e;
      if (step > 0)
        e = cross_up(o, raw, step, n - shift);
      else
        e = cross_down(o, raw, step, -shift);
      if (e < next) next = e;
    }
  }
  if (next > hi) next = hi;
  if (next <= o) next = o + 1; /* never stall */
  ri->next = next;
}

/* Piece j of a PIECE leaf at concatenated position pos, and where it ends. */
static int piece_at(const int64_t *starts, int np, int64_t pos) {
  int j = 0;
  while (j + 1 < np && pos >= starts[j + 1]) j++;
  return j;
}

static int add_cut(int64_t **v, int *n, int *cap, int64_t x) {
  if (*n == *cap) {
    int nc = *cap ? *cap * 2 : 16;
    int64_t *nv = realloc(*v, (size_t)nc * sizeof *nv);
    if (nv == NULL) return -1;
    *v = nv;
    *cap = nc;
  }
  (*v)[(*n)++] = x;
  return 0;
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* The cuts of a padding dim: [0, 1), shared (never freed). */
static int64_t unit_cuts[2] = {0, 1};

void dtxk_cuts_free(dtxk_cuts *cuts) {
  for (int k = 0; k < DTXK_MAX_DIMS; k++) {
    if (cuts->c[k] != unit_cuts) free(cuts->c[k]);
    cuts->c[k] = NULL;
    cuts->n[k] = 0;
  }
}

int dtxk_plan_cuts(const dtxk_prog *p, dtxk_cuts *cuts) {
  memset(cuts, 0, sizeof *cuts);
  const dtxk_leaf *leaves = dtxk_prog_leaves(p);
  const int64_t *pool = dtxk_prog_pool(p);
  int pad = DTXK_MAX_DIMS - p->ndim;
  for (int P = 0; P < DTXK_MAX_DIMS; P++) {
    int64_t *v = NULL;
    int n = 0, cap = 0;
    int k = P - pad;
    if (k < 0) {
      cuts->c[P] = unit_cuts;
      cuts->n[P] = 2;
      continue;
    }
    int64_t lo = k < 0 ? 0 : p->lo[k], hi = k < 0 ? 1 : p->hi[k];
    if (add_cut(&v, &n, &cap, lo)) goto oom;
    if (k >= 0) {
      for (int li = 0; li < p->nleaves; li++) {
        const dtxk_leaf *l = &leaves[li];
        for (int d = 0; d < l->ndim; d++) {
          if (l->map[d].src != k || l->map[d].step == 0) continue;
          if (l->kind == DTXK_LEAF_PIECE && d == l->piece_dim) {
            const int64_t *st = pool + l->pool;
            int64_t step = l->map[d].step;
            for (int64_t o = lo; o < hi;) {
              int64_t pos = l->map[d].off + step * o;
              int j = piece_at(st, l->npieces, pos);
              int64_t e = hi;
              if (step > 0 && j + 1 < l->npieces) e = cross_up(o, pos, step, st[j + 1]);
              if (step < 0 && j > 0) e = cross_down(o, pos, step, st[j]);
              if (e <= o) e = o + 1;
              if (e < hi && add_cut(&v, &n, &cap, e)) goto oom;
              o = e;
            }
            continue;
          }
          if (l->kind == DTXK_LEAF_GEN || l->kind == DTXK_LEAF_PIECE) continue;
          if (l->kind == DTXK_LEAF_EXT && l->map[d].mode == DTXK_MODE_NONE) continue;
          for (int64_t o = lo; o < hi;) {
            runinfo ri;
            leaf_run(l, d, o, hi, &ri);
            if (ri.next < hi && add_cut(&v, &n, &cap, ri.next)) goto oom;
            o = ri.next;
          }
        }
      }
    }
    if (add_cut(&v, &n, &cap, hi)) goto oom;
    qsort(v, (size_t)n, sizeof *v, cmp64);
    int u = 0;
    for (int i = 0; i < n; i++)
      if (u == 0 || v[i] != v[u - 1]) v[u++] = v[i];
    cuts->c[P] = v;
    cuts->n[P] = u;
    continue;
  oom:
    free(v);
    dtxk_cuts_free(cuts);
    return -1;
  }
  return 0;
}

int dtxk_touched(const dtxk_leaf *l, int d, int64_t lo, int64_t hi, int64_t *out, int max) {
  int n = 0;
  if (l->map[d].src < 0 || l->map[d].step == 0) {
    lo = 0;
    hi = 1;
  }
  for (int64_t o = lo; o < hi;) {
    runinfo ri;
    leaf_run(l, d, o, hi, &ri);
    if (!ri.fill) {
      int64_t b = ri.idx / l->chunk[d];
      int seen = 0;
      for (int i = 0; i < n && i < max; i++) seen |= out[i] == b;
      if (!seen) {
        if (n < max) out[n] = b;
        n++;
      }
    }
    o = ri.next;
  }
  return n;
}

static int resolve_one(const dtxk_prog *p, int li, const void *const *inputs, int ninputs,
                       const int64_t *start, dtxk_rleaf *r, const char **why) {
  const dtxk_leaf *leaves = dtxk_prog_leaves(p);
  const dtxk_leaf *l = &leaves[li];
  const int64_t *pool = dtxk_prog_pool(p);
  int pad = DTXK_MAX_DIMS - p->ndim;
  memset(r, 0, sizeof *r);
  r->dtype = l->dtype;
  if (l->kind == DTXK_LEAF_PIECE) {
    const dtxk_dimmap *m = &l->map[l->piece_dim];
    int64_t pos = m->off + (m->src < 0 ? 0 : m->step * start[m->src + pad]);
    int j = piece_at(pool + l->pool, l->npieces, pos);
    return resolve_one(p, l->sub + j, inputs, ninputs, start, r, why);
  }
  r->kind = l->kind;
  int64_t idx[DTXK_MAX_DIMS], ext[DTXK_MAX_DIMS], bs[DTXK_MAX_DIMS];
  int clamped[DTXK_MAX_DIMS];
  int64_t input = 0;
  for (int d = 0; d < l->ndim; d++) {
    const dtxk_dimmap *m = &l->map[d];
    int64_t o = m->src < 0 ? 0 : start[m->src + pad];
    runinfo ri;
    leaf_run(l, d, o, o + 1, &ri);
    if (ri.fill) {
      if (m->mode == DTXK_MODE_NONE) {
        *why = "a leaf index falls outside its array";
        return -1;
      }
      r->kind = 0;
      r->fill = l->fill;
      return 0;
    }
    idx[d] = ri.idx;
    clamped[d] = ri.clamped;
    ext[d] = l->shape[d];
    if (l->kind == DTXK_LEAF_TASK) {
      /* the chunk holding idx, its position among the touched ones */
      int64_t c = l->chunk[d], b = ri.idx / c;
      ext[d] = l->shape[d] - b * c < c ? l->shape[d] - b * c : c;
      idx[d] = ri.idx - b * c;
      int pos = -1;
      for (int i = 0; i < l->tb_n[d]; i++)
        if (pool[l->tb_off[d] + i] == b) pos = i;
      if (pos < 0) {
        *why = "a chunk the task reads is not among its inputs";
        return -1;
      }
      input = input * l->tb_n[d] + pos;
    }
  }
  /* strides: EXT its own; TASK C order of the chunk; GEN C order of the shape */
  int64_t s = 1;
  for (int d = l->ndim - 1; d >= 0; d--) {
    bs[d] = l->kind == DTXK_LEAF_EXT ? l->estride[d] : s;
    s *= ext[d];
  }
  int64_t off = 0;
  for (int d = 0; d < l->ndim; d++) off += idx[d] * bs[d];
  if (l->kind == DTXK_LEAF_TASK) {
    int64_t in = l->first_input + input;
    if (in < 0 || in >= ninputs || inputs[in] == NULL) {
      *why = "a task input is missing";
      return -1;
    }
    r->ptr = (const char *)inputs[in] + off * dtxk_size(l->dtype);
  } else if (l->kind == DTXK_LEAF_EXT) {
    r->ptr = (const char *)(uintptr_t)l->ext + off * dtxk_size(l->dtype);
  } else {
    r->gen = &l->gen;
    r->flat0 = off;
  }
  for (int d = 0; d < l->ndim; d++) {
    const dtxk_dimmap *m = &l->map[d];
    if (m->src < 0 || clamped[d]) continue;
    r->stride[m->src + pad] += m->step * bs[d];
  }
  return 0;
}

int dtxk_resolve(const dtxk_prog *p, const void *const *inputs, int ninputs, const int64_t *start,
                 dtxk_rleaf *out, const char **why) {
  const dtxk_leaf *leaves = dtxk_prog_leaves(p);
  for (int li = 0; li < p->nleaves; li++) {
    if (leaves[li].is_sub) continue;
    if (resolve_one(p, li, inputs, ninputs, start, &out[li], why)) return -1;
  }
  return 0;
}
