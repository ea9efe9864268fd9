/*
 * array/la_qr.c - tall-and-skinny QR (tsqr), qr and svd of chunked arrays.
 *
 * tsqr (Benson, Gleich, Demmel 2013; Dask's tsqr) over a with one column of
 * chunks, m x n in nb row chunks, k = min(m, n):
 *   leaves   a QR task per row chunk i: packed Q_i (m_i x k_i), R_i (k_i x n)
 *   tree     groups of up to FAN consecutive nodes: their R's stacked and
 *            factored by one QR task (packed Q_g, R_g), until one is left
 *   down     each node's W (k_node x k): the root's is the identity, a
 *            child's is its rows of the parent's Q times the parent's W (a
 *            piece of the root's Q directly under the root)
 *   outputs  Q chunk i = Q_i W_i (a GEMM task), R = the root's R (a copy)
 * One task-list node holds all of them (tasks 0..nb-1 the Q chunks, nb the
 * R); the Q and R arrays are BLOCKS nodes aliasing its tasks, so computing
 * both runs the factorization once.
 *
 * svd: tsqr, the SVD of R (one gesdd task), U = Q U_R (a matmul); a row of
 * chunks goes through the (conjugate) transpose; a one-chunk matrix
 * directly. Signs as Dask's svd_flip.
 *
 * Complex a: the same graph over its pairs (array/la.h), the blobs complex
 * (zgeqrf / zungqr, zgesdd, zgemm), Q^H Q = I; S is the real part of the
 * SVD task's complex S. The calling thread builds; callbacks run in builds.
 */
#include <stdlib.h>
#include <string.h>

#include "array/complex.h"
#include "array/la.h"
#include "base/error.h"

#define FAN 16

typedef struct tsqr_op {
  int64_t m, n, rc, nb;
  int32_t dtype, pad;
} tsqr_op;

typedef struct tnode {
  dtx_task_id id;
  int64_t m, k;     /* rows stacked at this node; k = min(m, n) */
  int64_t parent;   /* -1: the root */
  int64_t rowoff;   /* first row of this node's R in the parent's stack */
  int level, index; /* key of its QR task */
  dtx_task_id w;    /* W task (internal nodes below the root's children) */
  int has_w;
} tnode;

static dtx_status add_la(dtxa_emit *e, const char *suffix, int64_t i0, int64_t i1, const dtx_task_id *in,
                         int nin, const dtxk_la *args, size_t out, dtx_task_id *id) {
  dtxa_task t = {.suffix = suffix,
                 .nidx = 2,
                 .idx = {i0, i1},
                 .in = in,
                 .nin = nin,
                 .args = args,
                 .args_size = sizeof *args,
                 .cpu = dtxk_la_cpu,
                 .cuda = dtxk_la_cuda,
                 .output_size = out};
  return dtxa_emit_task(e, &t, id);
}

/* The stacked QR of nodes [first, first + cnt) into node p. */
static dtx_status tree_qr(dtxa_emit *e, const tsqr_op *op, tnode *nd, int64_t first, int64_t cnt, tnode *p) {
  dtxk_la *a = calloc(1, DTXK_LA_SIZE(cnt));
  dtx_task_id *in = calloc((size_t)cnt, sizeof *in);
  if (a == NULL || in == NULL) {
    free(a);
    free(in);
    return dtxi_fail(DTX_ENOMEM, "tsqr: out of memory building the graph");
  }
  a->op = DTXK_LA_QR;
  a->dtype = op->dtype;
  a->npieces = (int32_t)cnt;
  a->n = op->n;
  for (int64_t j = 0; j < cnt; j++) {
    tnode *c = &nd[first + j];
    in[j] = c->id;
    a->p[j] = dtxa_la_piece((int)j, c->m * c->k, c->k, op->n, op->n);
    c->rowoff = a->m;
    a->m += c->k;
  }
  p->m = a->m;
  p->k = p->m < op->n ? p->m : op->n;
  int esz = dtxk_la_esz(op->dtype);
  dtx_status rc = add_la(e, ".qr", p->level, p->index, in, (int)cnt, a,
                         (size_t)((p->m * p->k + p->k * op->n) * esz), &p->id);
  free(a);
  free(in);
  return rc;
}

/* Node c's W: *id and the piece of it (k_c x k); identity (*eye) at the root. */
static dtx_status node_w(dtxa_emit *e, const tsqr_op *op, tnode *nd, int64_t c, dtx_task_id *id,
                         dtxk_la_piece *pc, int *eye) {
  int64_t k = op->m < op->n ? op->m : op->n;
  tnode *x = &nd[c];
  *eye = 0;
  if (x->parent < 0) {
    *eye = 1;
    return DTX_OK;
  }
  tnode *p = &nd[x->parent];
  if (p->parent < 0) { /* the root's Q rows directly */
    *id = p->id;
    *pc = dtxa_la_piece(0, x->rowoff * p->k, x->k, k, p->k);
    return DTX_OK;
  }
  if (!x->has_w) {
    dtx_task_id pid;
    dtxk_la_piece pp;
    int peye;
    dtx_status rc = node_w(e, op, nd, x->parent, &pid, &pp, &peye);
    if (rc != DTX_OK) return rc;
    dtxk_la g = {
        DTXK_LA_GEMM, op->dtype, 0, 2, x->k, k, {dtxa_la_piece(0, x->rowoff * p->k, x->k, p->k, p->k), pp}};
    g.p[1].input = 1;
    dtx_task_id in[2] = {p->id, pid};
    int esz = dtxk_la_esz(op->dtype);
    rc = add_la(e, ".w", x->level, x->index, in, 2, &g, (size_t)(x->k * k * esz), &x->w);
    if (rc != DTX_OK) return rc;
    x->has_w = 1;
  }
  *id = x->w;
  *pc = dtxa_la_piece(0, 0, x->k, k, k);
  return DTX_OK;
}

static dtx_status tsqr_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  (void)node;
  const tsqr_op *op = data;
  int64_t nb = op->nb, n = op->n, k = op->m < n ? op->m : n;
  int esz = dtxk_la_esz(op->dtype);
  tnode *nd = calloc((size_t)(2 * nb + 64), sizeof *nd); /* < 2 nb + levels */
  if (nd == NULL) return dtxi_fail(DTX_ENOMEM, "tsqr: out of memory building the graph");
  dtx_status rc = DTX_OK;
  int64_t cnt = 0;
  for (int64_t i = 0; i < nb && rc == DTX_OK; i++) { /* leaves */
    int64_t lo = i * op->rc, hi = lo + op->rc < op->m ? lo + op->rc : op->m;
    dtx_task_id a;
    rc = dtxa_emit_input(e, 0, NULL, (int64_t[]){i, 0, 0}, &a);
    if (rc != DTX_OK) break;
    dtxk_la q = {DTXK_LA_QR, op->dtype, 0, 1, hi - lo, n, {dtxa_la_piece(0, 0, hi - lo, n, n)}};
    tnode *x = &nd[cnt++];
    x->m = hi - lo;
    x->k = x->m < n ? x->m : n;
    x->parent = -1;
    x->index = (int)i;
    rc = add_la(e, ".qr", 0, i, &a, 1, &q, (size_t)((x->m * x->k + x->k * n) * esz), &x->id);
  }
  int64_t lvl_first = 0, lvl_n = nb;
  for (int level = 1; rc == DTX_OK && lvl_n > 1; level++) { /* the tree */
    int64_t next_first = cnt, groups = (lvl_n + FAN - 1) / FAN;
    for (int64_t g = 0; g < groups && rc == DTX_OK; g++) {
      int64_t f = lvl_first + g * FAN, c = lvl_n - g * FAN < FAN ? lvl_n - g * FAN : FAN;
      tnode *p = &nd[cnt];
      p->parent = -1;
      p->level = level;
      p->index = (int)g;
      for (int64_t j = 0; j < c; j++) nd[f + j].parent = cnt;
      cnt++;
      rc = tree_qr(e, op, nd, f, c, p);
    }
    lvl_first = next_first;
    lvl_n = groups;
  }
  for (int64_t i = 0; i < nb && rc == DTX_OK; i++) { /* Q chunks */
    dtx_task_id wid = 0, id;
    dtxk_la_piece wp;
    int eye;
    rc = node_w(e, op, nd, i, &wid, &wp, &eye);
    if (rc != DTX_OK) break;
    tnode *x = &nd[i];
    dtxk_la g = {DTXK_LA_GEMM, op->dtype, 0, 2, x->m, k, {dtxa_la_piece(0, 0, x->m, x->k, x->k), wp}};
    g.p[1].input = eye ? -1 : 1;
    dtx_task_id in[2] = {x->id, wid};
    dtxa_task t = {".q",
                   2,
                   {i, 0},
                   in,
                   eye ? 1 : 2,
                   &g,
                   sizeof(dtxk_la),
                   dtxk_la_cpu,
                   dtxk_la_cuda,
                   (size_t)(x->m * k * esz)};
    rc = dtxa_emit_task(e, &t, &id);
    if (rc == DTX_OK) dtxa_emit_set(e, i, id);
  }
  if (rc == DTX_OK) { /* R */
    tnode *root = &nd[cnt - 1];
    dtxk_la c = {DTXK_LA_COPY, op->dtype, 0, 1, k, n, {dtxa_la_piece(0, root->m * root->k, k, n, n)}};
    dtx_task_id id;
    dtxa_task t = {
        ".r", 0, {0}, &root->id, 1, &c, sizeof(dtxk_la), dtxk_la_cpu, dtxk_la_cuda, (size_t)(k * n * esz)};
    rc = dtxa_emit_task(e, &t, &id);
    if (rc == DTX_OK) dtxa_emit_set(e, nb, id);
  }
  free(nd);
  return rc;
}

/* Q (which 0) or R (1) of a tsqr task list: aliases its tasks. */
static dtx_status alias_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  int64_t first = *(const int64_t *)data, n = 0;
  const dtx_task_id *t = dtxa_emit_tasks(e, 0, &n);
  if (t == NULL) return DTX_EINVAL;
  int64_t nch = dtxa_nblocks(node);
  for (int64_t b = 0; b < nch; b++) dtxa_emit_set(e, b, t[first + b]);
  return DTX_OK;
}

dtx_status dtxa_tsqr(const dtx_array *a, dtx_array **q, dtx_array **r) {
  int64_t m = a->shape[0], n = a->shape[1], k = m < n ? m : n;
  tsqr_op op = {m, n, a->chunk[0], dtxa_nb(a, 0), (int32_t)a->dtype, 0};
  dtx_array *in = (dtx_array *)a;
  dtx_array *p = dtxa_la_tasks(a->cl, "tsqr", op.nb + 1, a->dtype, 1, &in, tsqr_emit, &op, sizeof op);
  if (p == NULL) return DTX_ENOMEM;
  int64_t zero = 0, nb = op.nb;
  *q = dtxa_la_blocks(a->cl, "tsqr_q", 2, (int64_t[]){m, k}, (int64_t[]){a->chunk[0], k}, a->dtype, 1, &p,
                      alias_emit, &zero, sizeof zero);
  *r = dtxa_la_blocks(a->cl, "tsqr_r", 2, (int64_t[]){k, n}, (int64_t[]){k, n}, a->dtype, 1, &p, alias_emit,
                      &nb, sizeof nb);
  return *q != NULL && *r != NULL ? DTX_OK : DTX_ENOMEM;
}

static dtx_status tall_check(const char *fn, const dtx_array *a) {
  if (dtxa_nb(a, 1) != 1)
    return dtxi_fail(DTX_EINVAL,
                     "%s needs one column of chunks (tall-and-skinny): a is %lldx%lld in %lldx%lld chunks; "
                     "rechunk to (%lld, %lld)",
                     fn, (long long)a->shape[0], (long long)a->shape[1], (long long)a->chunk[0],
                     (long long)a->chunk[1], (long long)a->chunk[0], (long long)a->shape[1]);
  return DTX_OK;
}

static dtx_status qr_common(const char *fn, const dtx_array *a, dtx_array **q, dtx_array **r) {
  dtx_status rc = dtxa_la_check(fn, a, 1);
  if (rc != DTX_OK) return rc;
  rc = tall_check(fn, a);
  if (rc != DTX_OK) return rc;
  dtx_array_scope_begin();
  dtx_array *qq = NULL, *rr = NULL, *f = dtxa_la_float(a);
  rc = f != NULL ? dtxa_tsqr(f, &qq, &rr) : DTX_EINVAL;
  return dtxa_la_finish(rc, 2, (dtx_array * *const[]){q, r}, (dtx_array *const[]){qq, rr});
}

dtx_status dtx_linalg_tsqr(const dtx_array *a, dtx_array **q, dtx_array **r) {
  return qr_common("dtx_linalg_tsqr", a, q, r);
}

dtx_status dtx_linalg_qr(const dtx_array *a, dtx_array **q, dtx_array **r) {
  return qr_common("dtx_linalg_qr", a, q, r);
}

/* The SVD of a one-chunk (as one chunk) float matrix x. */
static dtx_status svd1(dtx_array *x, dtx_array **u, dtx_array **s, dtx_array **vt) {
  int64_t m = x->shape[0], n = x->shape[1], k = m < n ? m : n;
  dtxk_la sv = {DTXK_LA_SVD, (int32_t)x->dtype, 0, 1, m, n, {dtxa_la_piece(0, 0, m, n, n)}};
  dtx_array *t = dtxa_la1("svd", 1, 0, NULL, x->dtype, 1, &x, NULL, &sv);
  if (t == NULL) return DTX_EINVAL;
  int64_t zero = 0;
  dtxk_la c = {DTXK_LA_COPY, (int32_t)x->dtype, 0, 1, m, k, {dtxa_la_piece(0, 0, m, k, k)}};
  *u = dtxa_la1("svd_u", 0, 2, (int64_t[]){m, k}, x->dtype, 1, &t, &zero, &c);
  c.m = 1;
  c.p[0] = dtxa_la_piece(0, m * k, 1, k, k);
  *s = dtxa_la1("svd_s", 0, 1, &k, x->dtype, 1, &t, &zero, &c);
  if (dtxa_cx_in(x)) *s = dtx_real(*s); /* (s, 0) pairs */
  c.m = k;
  c.n = n;
  c.p[0] = dtxa_la_piece(0, m * k + k, k, n, n);
  *vt = dtxa_la1("svd_vt", 0, 2, (int64_t[]){k, n}, x->dtype, 1, &t, &zero, &c);
  return *u != NULL && *s != NULL && *vt != NULL ? DTX_OK : DTX_EINVAL;
}

/* Dask's svd_flip (v-based): signs making each row of vt sum to >= 0 (in
 * NumPy's complex order for complex vt); the signs are real. */
void dtxa_svd_flip(dtx_array **u, dtx_array **vt) {
  if (*u == NULL || *vt == NULL) return;
  dtx_dtype rt = dtxa_cx_in(*vt) ? dtxa_cx_part((*vt)->dtype) : (*vt)->dtype;
  dtx_array *sg = dtx_binary(DTX_GE, dtx_sum(*vt, (int[]){1}, 1), dtx_scalar((*vt)->cl, 0.0));
  sg = dtx_binary_scalar(DTX_SUB, dtx_binary_scalar(DTX_MUL, dtx_astype(sg, rt), 2.0), 1.0);
  *u = dtx_mul(*u, sg);
  dtx_index ix[2] = {{DTX_INDEX_SLICE, DTX_NONE, DTX_NONE, 1}, {DTX_INDEX_NEWAXIS, 0, 0, 0}};
  *vt = dtx_mul(*vt, dtx_slice(sg, 2, ix));
}

dtx_status dtxa_svd(const dtx_array *a, dtx_array **u, dtx_array **s, dtx_array **vt) {
  dtx_status rc;
  dtx_array *x = (dtx_array *)a;
  if (dtxa_nblocks(a) == 1) {
    rc = svd1(x, u, s, vt);
  } else if (dtxa_nb(a, 1) == 1) {
    dtx_array *q, *r, *ur;
    rc = dtxa_tsqr(x, &q, &r);
    if (rc == DTX_OK) rc = svd1(r, &ur, s, vt);
    if (rc == DTX_OK) *u = dtx_matmul(q, ur);
  } else if (dtxa_nb(a, 0) == 1) {
    dtx_array *at = dtxa_la_ct(a), *q, *r, *ur, *s2, *vt2;
    rc = at != NULL ? dtxa_tsqr(at, &q, &r) : DTX_EINVAL;
    if (rc == DTX_OK) rc = svd1(r, &ur, &s2, &vt2);
    if (rc == DTX_OK) { /* a^H = (Q U_R) S V^H: a = V S (Q U_R)^H */
      *u = dtxa_la_ct(vt2);
      *s = s2;
      *vt = dtxa_la_ct(dtx_matmul(q, ur));
    }
  } else {
    return dtxi_fail(DTX_EINVAL,
                     "svd needs one column or one row of chunks: a is %lldx%lld in %lldx%lld chunks; rechunk "
                     "to (%lld, %lld)",
                     (long long)a->shape[0], (long long)a->shape[1], (long long)a->chunk[0],
                     (long long)a->chunk[1], (long long)a->chunk[0], (long long)a->shape[1]);
  }
  if (rc == DTX_OK) dtxa_svd_flip(u, vt);
  return rc == DTX_OK && *u != NULL && *vt != NULL ? DTX_OK : rc != DTX_OK ? rc : DTX_EINVAL;
}

dtx_status dtx_linalg_svd(const dtx_array *a, dtx_array **u, dtx_array **s, dtx_array **vt) {
  dtx_status rc = dtxa_la_check("dtx_linalg_svd", a, 1);
  if (rc != DTX_OK) return rc;
  dtx_array_scope_begin();
  dtx_array *uu = NULL, *ss = NULL, *vv = NULL, *f = dtxa_la_float(a);
  rc = f != NULL ? dtxa_svd(f, &uu, &ss, &vv) : DTX_EINVAL;
  return dtxa_la_finish(rc, 3, (dtx_array * *const[]){u, s, vt}, (dtx_array *const[]){uu, ss, vv});
}
