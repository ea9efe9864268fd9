/*
 * kernels/fused_chain.c - the fast path of the CPU fused tasks for a float64
 * leaf through a chain of scalar + - * /, summed: (x * 2 + 1).sum(),
 * ((2 - x * 3) / 3).mean(axis=0), and strided reads such as x[::3, ::3].sum() (a
 * chain of no operations).
 *
 * A program that loads one float64 leaf and applies a short chain of
 * float64 +, -, *, / with constants (or the value itself) to it, reduced by
 * SUM (or MEAN): each block of 64 elements is loaded into registers and
 * taken through the chain there, then folded, in the strips and order of the
 * general path. Each operation rounds on its own as the strip loops do (no
 * contraction: -std=c11, one statement per operation), so results do not
 * change. The leaf may be read with any stride along the rows.
 * Runs on the task's thread, over the exec the driver gives it.
 */
#include "kernels/fused_path.h"

#if VEC8

#define CH_CASE(ID, SYM)                               \
  case ID * 4 + DTXI_CH_VC:                            \
    for (int j = 0; j < nv; j++) v[j] = v[j] SYM c;    \
    break;                                             \
  case ID * 4 + DTXI_CH_CV:                            \
    for (int j = 0; j < nv; j++) v[j] = c SYM v[j];    \
    break;                                             \
  case ID * 4 + DTXI_CH_VV:                            \
    for (int j = 0; j < nv; j++) v[j] = v[j] SYM v[j]; \
    break;

/* The chain over nv vectors (a constant once inlined). */
ALWAYS void chain_v(const dtxi_chain *ch, v8d *v, int nv) {
  for (int t = 0; t < ch->n; t++) {
    v8d c = (v8d){0, 0, 0, 0, 0, 0, 0, 0} + ch->c[t];
    switch (ch->op[t] * 4 + ch->how[t]) {
      CH_CASE(1, +)
      CH_CASE(2, -)
      CH_CASE(3, *)
      CH_CASE(4, /)
    }
  }
}
/* ... and over one value */
ALWAYS double chain_s(const dtxi_chain *ch, double x) {
  v8d v = (v8d){0, 0, 0, 0, 0, 0, 0, 0} + x;
  chain_v(ch, &v, 1);
  return v[0];
}
#undef CH_CASE

ALWAYS void ld8s(v8d *v, const double *p, int64_t s, int unit) {
  if (unit) {
    ld8(v, p);
  } else {
    double t[8];
    for (int k = 0; k < 8; k++) t[k] = p[k * s];
    ld8(v, t);
  }
}

/* The row x[0], x[xs], .. (n values, unit: xs is 1) through the chain,
 * folded into st as fold_one (FOLD_ONE: st is the row's state) or fold_each
 * (FOLD_EACH: st[c] takes value c) would, strip by strip. FOLD_ONE
 * prefetches a strip ahead (into the row at next), one block per block
 * folded: prefetching each next strip in one burst, as sum_row does
 * (fused_sum.c), stalls on the full line-fill buffers and leaves the chain's
 * arithmetic unoverlapped ((x * 2 + 1).sum(), 8192^2 on 2 cores: 0.74 against 0.58 ms
 * a chunk, 0.55 for x.sum(); no software prefetch: 0.66). */
ALWAYS void chain_row_at(int how, const dtxi_chain *ch, const double *x, int64_t xs, int unit, int64_t n,
                         const double *next, double *st) {
  if (unit) xs = 1;
  for (int64_t j = 0; j < n; j += DTXK_STRIP) {
    int64_t m = n - j < DTXK_STRIP ? n - j : DTXK_STRIP;
    const double *y = x + j * xs;
    int64_t i = 0;
    if (how == DTXI_ROW_FOLD_ONE) {
      v8d acc = {0, 0, 0, 0, 0, 0, 0, 0};
      for (; i + 64 <= m; i += 64) {
        v8d v[8];
        if (xs > 0) {
          /* the block a strip ahead (a row ahead in rows shorter than a strip) */
          int64_t q = j + i + (n < DTXK_STRIP ? n : DTXK_STRIP);
          uintptr_t a = q < n          ? (uintptr_t)x + (uintptr_t)(q * xs * 8)
                        : next != NULL ? (uintptr_t)next + (uintptr_t)((q - n) * xs * 8)
                                       : 0;
          if (a != 0)
            for (int64_t b = 0; b < 64 * xs * 8; b += 64)
              __builtin_prefetch((const void *)(a + (uintptr_t)b));
        }
        for (int k = 0; k < 8; k++) ld8s(&v[k], y + (i + 8 * k) * xs, xs, unit);
        chain_v(ch, v, 8);
        for (int k = 0; k < 8; k++) acc += v[k];
      }
      for (; i + 8 <= m; i += 8) {
        v8d v;
        ld8s(&v, y + i * xs, xs, unit);
        chain_v(ch, &v, 1);
        acc += v;
      }
      double t = hsum8(&acc);
      for (; i < m; i++) t += chain_s(ch, y[i * xs]);
      *st += t;
    } else {
      double *o = st + j;
      for (; i + 64 <= m; i += 64) {
        v8d v[8];
        for (int k = 0; k < 8; k++) ld8s(&v[k], y + (i + 8 * k) * xs, xs, unit);
        chain_v(ch, v, 8);
        for (int k = 0; k < 8; k++) {
          v8d w;
          ld8(&w, o + i + 8 * k);
          w += v[k];
          st8(o + i + 8 * k, &w);
        }
      }
      for (; i < m; i++) o[i] += chain_s(ch, y[i * xs]);
    }
  }
}

HOT static void chain_row(int how, const dtxi_chain *ch, const double *x, int64_t xs, int64_t n,
                          const double *next, double *st) {
  if (xs == 1)
    chain_row_at(how, ch, x, xs, 1, n, next, st);
  else
    chain_row_at(how, ch, x, xs, 0, n, next, st);
}

/* How the program is one float64 leaf through a chain chain_row can run
 * (DTXI_ROW_FOLD_ONE / _EACH), or 0; *l: the leaf, *ch: the chain. */
static int chain_kind(const dtxi_exec *e, int *l, dtxi_chain *ch) {
  const dtxk_prog *p = e->p;
  const dtxk_instr *in = e->ins;
  if (p->out_kind != DTXK_OUT_REDUCE || e->red != DTXK_R_SUM || p->acc != DTXK_F64 ||
      p->out_dtype != DTXK_F64 || p->ninstr > 2 * DTXI_CHAIN_MAX + 1)
    return 0;
  /* what each register holds: the chain step whose value it has (the load is
   * step 1), -1 a
   * constant (filled once per task, the last CONST to it winning), 0 nothing */
  int held[DTXK_MAX_REGS] = {0};
  double cval[DTXK_MAX_REGS];
  for (int k = 0; k < p->ninstr; k++) {
    if (in[k].op != DTXK_I_CONST) continue;
    if (in[k].dtype != DTXK_F64 || in[k].dst >= DTXK_MAX_REGS || in[k].a >= p->nconst) return 0;
    held[in[k].dst] = -1;
    cval[in[k].dst] = e->consts[in[k].a].f;
  }
  int step = 0, leaf = -1;
  ch->n = 0;
  for (int k = 0; k < p->ninstr; k++) {
    const dtxk_instr *q = &in[k];
    if (q->op == DTXK_I_CONST) continue;
    if (q->dst >= DTXK_MAX_REGS || held[q->dst] < 0 || q->dtype != DTXK_F64) return 0;
    if (q->op == DTXK_I_LOAD) {
      if (leaf >= 0) return 0;
      leaf = q->a;
    } else if (q->op == DTXK_I_BIN && q->sub >= 1 && q->sub <= 4 && leaf >= 0 && ch->n < DTXI_CHAIN_MAX &&
               q->a < DTXK_MAX_REGS && q->b < DTXK_MAX_REGS) {
      int va = held[q->a] == step, vb = held[q->b] == step;
      int ca = held[q->a] < 0, cb = held[q->b] < 0;
      if (va && vb) {
        ch->how[ch->n] = DTXI_CH_VV;
        ch->c[ch->n] = 0;
      } else if (va && cb) {
        ch->how[ch->n] = DTXI_CH_VC;
        ch->c[ch->n] = cval[q->b];
      } else if (ca && vb) {
        ch->how[ch->n] = DTXI_CH_CV;
        ch->c[ch->n] = cval[q->a];
      } else {
        return 0;
      }
      ch->op[ch->n++] = q->sub;
    } else {
      return 0;
    }
    held[q->dst] = ++step;
  }
  if (leaf < 0 || held[p->result] != step) return 0;
  *l = leaf;
  if (e->inner_reduced) return DTXI_ROW_FOLD_ONE;
  return e->ostride[DTXK_DC] == 1 ? DTXI_ROW_FOLD_EACH : 0;
}

static int chain_match(const dtxi_exec *e, dtxi_path_args *a) { return chain_kind(e, &a->la, &a->ch); }

/* The leaf is float64 memory read in place (any strides; not tiled). */
static int chain_fits(const dtxi_exec *e, const dtxi_rect *r, dtxi_path_args *a) {
  return !r->tiled && dtxi_f64_in_place(e, a->la);
}

static void chain_run(dtxi_exec *e, const dtxi_rect *r, const dtxi_path_args *a) {
  int64_t rs = e->rl[a->la].stride[DTXK_DR], xs = e->rl[a->la].stride[DTXK_DC], e2 = r->n[DTXK_DR];
  int64_t i[DTXK_MAX_DIMS] = {0};
  for (int64_t t = 0, np = dtxi_planes(r); t < np; t++, dtxi_plane_next(r, i)) {
    i[DTXK_DR] = 0;
    const double *x0 = dtxi_f64_row(e, a->la, i, 0);
    char *o0 = dtxi_out_at(e, r->s, i);
    for (int64_t i2 = 0; i2 < e2; i2++) {
      const double *x = x0 + i2 * rs;
      chain_row(a->how, &a->ch, x, xs, r->n[DTXK_DC], i2 + 1 < e2 ? x + rs : NULL,
                (double *)(void *)dtxi_out_row(e, o0, i2));
    }
  }
}

const dtxi_path_ops dtxi_path_chain = {chain_match, chain_fits, chain_run};

#else

static int chain_never(const dtxi_exec *e, dtxi_path_args *a) { return 0; }
const dtxi_path_ops dtxi_path_chain = {chain_never, NULL, NULL};

#endif
