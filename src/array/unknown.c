/*
 * array/unknown.c - arrays whose length is unknown until computed (Dask's
 * nan chunks): the results of dtx_mask_select and dtx_unique, and what the
 * few operations that accept them make of them.
 *
 * A *source* of unknown length is a 1-d DTXA_BLOCKS node whose chunks are
 * "pieces": shape[0] counts the pieces (chunk[0] is 1) and each piece is a
 * task output of any length, known when it ran. Nodes carry two flags:
 * `unknown` (this 1-d array's length is unknown: a source, or an
 * elementwise operation over one) and `deferred` (it or an input is
 * unknown). dtxa_node asks dtxa_deferred_inputs, so every operation is
 * checked in one place: elementwise operations (unary, astype, binary and
 * where with the other operands 0-d) and reductions take unknown inputs;
 * everything else is DTX_EINVAL saying to call dtx_array_compute_chunk_sizes.
 *
 * Resolving (dtxa_resolve, before any computation of a deferred array):
 * one graph computes every source's pieces (a task-list node aliasing
 * them, so shared inputs are computed once); each source becomes a host
 * array of its pieces joined (regular chunks of the longest piece); the
 * operations above them are made again over those (the public
 * constructors, so shapes, dtypes and errors are exactly those of known
 * arrays, e.g. max of an empty selection is NumPy's ValueError). The
 * calling thread only; the resolved arrays are the caller's.
 *
 * A complex array of unknown length (a mask selection or the unique values
 * of a complex array) is a DTXA_CPLX node over a source whose pieces are
 * pairs (cx_pieces); resolved, the source becomes the (n, 2) pairs array
 * and the node its complex array. The complex operations, built from views
 * of the parts, are not elementwise nodes over it, so they ask for the
 * array to be resolved first.
 */
#include <stdlib.h>
#include <string.h>

#include "array/array.h"
#include "array/blocks.h"
#include "array/complex.h"
#include "base/error.h"

static const char *const kHow =
    "its length is unknown until computed (it comes from dtx_mask_select or dtx_unique[_all]); call "
    "dtx_array_compute_chunk_sizes on it first";

static int elementwise(int kind, const char *opname) {
  return kind == DTXA_CPLX || kind == DTXA_UNARY || kind == DTXA_BINARY || kind == DTXA_WHERE ||
         kind == DTXA_CAST || (kind == DTXA_VIEW && strcmp(opname, "astype") == 0); /* a same-dtype astype */
}

dtx_status dtxa_deferred_inputs(int kind, const char *opname, int nin, dtx_array *const *in, int *unknown,
                                int *deferred) {
  int unk = 0, dfr = 0, known_nd = 0;
  for (int i = 0; i < nin; i++) {
    if (in[i]->cx_pieces && kind != DTXA_CPLX) /* only its complex node reads a source of pairs */
      return dtxi_fail(DTX_EINVAL,
                       "%s: a complex array whose length is unknown until computed (from dtx_mask_select or "
                       "dtx_unique of a complex array) is only computed, persisted, saved or made unique as "
                       "it is; call dtx_array_compute_chunk_sizes on it first for anything else",
                       opname);
    unk |= in[i]->unknown;
    dfr |= in[i]->deferred;
    if (!in[i]->unknown && in[i]->ndim > 0) known_nd = 1;
  }
  *unknown = *deferred = 0;
  if (!dfr) return DTX_OK;
  if (kind == DTXA_REDUCE || (elementwise(kind, opname) && !unk)) {
    *deferred = 1;
    return DTX_OK;
  }
  if (!elementwise(kind, opname))
    return dtxi_fail(DTX_EINVAL, "%s: an operand of unknown length cannot be used here: %s", opname, kHow);
  if (known_nd)
    return dtxi_fail(DTX_EINVAL,
                     "%s: an operand of unknown length combines only with 0-d operands (scalars): %s "
                     "(then the lengths are known and broadcast as usual)",
                     opname, kHow);
  *unknown = *deferred = 1;
  return DTX_OK;
}

dtx_array *dtxa_unknown_source(dtx_array *a) {
  if (a != NULL) a->unknown = a->deferred = 1;
  return a;
}

dtx_array *dtxa_unknown_complex(dtx_array *src, dtx_dtype cx) {
  if (src == NULL) return NULL;
  DTX_ASSERT(src->unknown && src->kind == DTXA_BLOCKS && src->dtype == dtxa_cx_part(cx));
  src->cx_pieces = 1;
  return dtxa_node(src->cl, DTXA_CPLX, "complex", 1, src->shape, src->chunk, cx, 1, &src);
}

int dtxa_unknown_pieces(const dtx_array *a) {
  if (a->kind == DTXA_CPLX && a->deferred) a = a->in[0];
  return a->kind == DTXA_BLOCKS && a->unknown;
}

/* ---- finding the sources ------------------------------------------------------------------ */

typedef struct plist {
  const dtx_array **v;
  dtx_array **to; /* resolve: what v[i] became */
  size_t n, cap;
} plist;

static int plist_find(const plist *l, const dtx_array *a) {
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i] == a) return (int)i;
  return -1;
}

static dtx_status plist_add(plist *l, const dtx_array *a, dtx_array *to) {
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 16;
    const dtx_array **nv = realloc(l->v, nc * sizeof *nv);
    if (nv != NULL) l->v = nv;
    dtx_array **nt = nv != NULL ? realloc(l->to, nc * sizeof *nt) : NULL;
    if (nt == NULL) return dtxi_fail(DTX_ENOMEM, "out of memory resolving unknown lengths");
    l->to = nt;
    l->cap = nc;
  }
  l->v[l->n] = a;
  l->to[l->n++] = to;
  return DTX_OK;
}

static void plist_free(plist *l) {
  free(l->v);
  free(l->to);
}

/* The unknown sources under a (each once), through deferred nodes only. */
static dtx_status find_sources(const dtx_array *a, plist *seen, plist *src) {
  if (!a->deferred || plist_find(seen, a) >= 0) return DTX_OK;
  dtx_status rc = plist_add(seen, a, NULL);
  if (rc != DTX_OK) return rc;
  if (a->kind == DTXA_BLOCKS && a->unknown) return plist_add(src, a, NULL);
  for (int i = 0; i < a->nin && rc == DTX_OK; i++) rc = find_sources(a->in[i], seen, src);
  return rc;
}

/* ---- computing them ------------------------------------------------------------------------ */

/* The task list: every piece of every input, in order. */
static dtx_status gather_emit(dtxa_emit *e, const dtx_array *node, const void *data) {
  (void)data;
  int64_t k = 0;
  for (int i = 0; i < node->nin; i++)
    for (int64_t p = 0; p < node->in[i]->shape[0]; p++) {
      dtx_task_id id;
      dtx_status rc = dtxa_emit_input(e, i, NULL, &p, &id);
      if (rc != DTX_OK) return rc;
      dtxa_emit_set(e, k++, id);
    }
  return DTX_OK;
}

/* A task-list node over the sources. Made with no inputs, then given
 * them: dtxa_node would (rightly) refuse inputs of unknown length. */
static dtx_array *gather_node(const plist *src, int64_t total) {
  dtx_array *g = dtxa_tasks(src->v[0]->cl, "resolve", total, DTX_U8, 0, NULL, gather_emit, NULL, 0);
  dtx_array **in = g != NULL ? calloc(src->n, sizeof *in) : NULL;
  if (in == NULL) {
    dtx_array_release(g);
    if (g != NULL) dtxi_fail(DTX_ENOMEM, "out of memory resolving unknown lengths");
    return NULL;
  }
  for (size_t i = 0; i < src->n; i++) in[i] = dtx_array_retain((dtx_array *)src->v[i]);
  g->in = in;
  g->nin = (int)src->n;
  return g;
}

/* Source i's pieces res[0..np) joined into a host array (src->to[i]). */
static dtx_status join(plist *src, size_t i, dtx_chunk *const *res) {
  const dtx_array *s = src->v[i];
  size_t esz = dtx_dtype_size(s->dtype), bytes = 0, longest = 0;
  for (int64_t p = 0; p < s->shape[0]; p++) {
    size_t b = dtx_chunk_size(res[p]);
    bytes += b;
    if (b > longest) longest = b;
  }
  char *data = dtxa_alloc_host(bytes > 0 ? bytes : 1);
  if (data == NULL)
    return dtxi_fail(DTX_ENOMEM, "out of memory for %zu bytes resolving %s", bytes, s->opname);
  size_t at = 0;
  for (int64_t p = 0; p < s->shape[0]; p++) {
    size_t b = dtx_chunk_size(res[p]);
    if (b > 0) memcpy(data + at, dtx_chunk_data(res[p]), b);
    at += b;
  }
  if (s->cx_pieces) esz *= 2; /* (n, 2) pairs */
  int64_t len[2] = {(int64_t)(bytes / esz), 2},
          chunk[2] = {longest / esz > 0 ? (int64_t)(longest / esz) : 1, 2};
  dtx_array *x = dtxa_ext(s->cl, s->cx_pieces ? 2 : 1, len, chunk, s->dtype, data, NULL, data);
  if (x == NULL) {
    free(data);
    return DTX_ENOMEM;
  }
  src->to[i] = dtxa_ret(x); /* the replay's scope holds it */
  return DTX_OK;
}

/* Computes every source in one graph; src->to[i] receives each as a host array. */
static dtx_status compute_sources(plist *src) {
  int64_t total = 0;
  for (size_t i = 0; i < src->n; i++) total += src->v[i]->shape[0];
  dtx_array *g = gather_node(src, total);
  dtx_graph *graph = NULL;
  dtx_task_id *ids = calloc((size_t)total, sizeof *ids);
  dtx_chunk **res = calloc((size_t)total, sizeof *res);
  dtx_status rc = g == NULL ? DTX_ENOMEM : DTX_OK;
  if (rc == DTX_OK && (ids == NULL || res == NULL))
    rc = dtxi_fail(DTX_ENOMEM, "out of memory resolving unknown lengths");
  if (rc == DTX_OK) rc = dtx_graph_create(&graph);
  if (rc == DTX_OK) rc = dtx_array_graph(g, graph, ids, (size_t)total, NULL);
  if (rc == DTX_OK) rc = dtx_compute(g->cl, graph, ids, (int)total, res, NULL);
  int64_t at = 0;
  for (size_t i = 0; i < src->n && rc == DTX_OK; i++) {
    rc = join(src, i, res + at);
    at += src->v[i]->shape[0];
  }
  for (int64_t k = 0; res != NULL && k < total; k++) dtx_chunk_release(res[k]);
  free(res);
  free(ids);
  dtx_graph_destroy(graph);
  dtx_array_release(g);
  return rc;
}

/* ---- making the operations again ------------------------------------------------------------- */

/* What node a becomes over the resolved sources (a borrowed reference
 * held by the open scope or by a); NULL with the error set. */
static dtx_array *replay(const dtx_array *a, plist *done) {
  if (!a->deferred) return (dtx_array *)a;
  int k = plist_find(done, a);
  if (k >= 0) return done->to[k];
  dtx_array *x[3] = {NULL, NULL, NULL}, *r = NULL;
  for (int i = 0; i < a->nin && i < 3; i++)
    if ((x[i] = replay(a->in[i], done)) == NULL) return NULL;
  switch (a->kind) {
    case DTXA_UNARY:
      r = dtx_unary((dtx_unary_op)a->op, x[0]);
      break;
    case DTXA_BINARY:
      r = dtx_binary((dtx_binary_op)a->op, x[0], x[1]);
      break;
    case DTXA_WHERE:
      r = dtx_where(x[0], x[1], x[2]);
      break;
    case DTXA_CPLX: /* over a source of pairs, now the (n, 2) pairs */
      r = dtxa_ret(dtxa_cx_wrap(x[0]));
      break;
    case DTXA_CAST:
    case DTXA_VIEW: /* a same-dtype astype: dtxa_deferred_inputs lets no other view through */
      r = dtx_astype(x[0], a->dtype);
      break;
    case DTXA_REDUCE: {
      int axes[DTX_ARRAY_MAX_DIMS], n = 0;
      for (int d = 0; d < x[0]->ndim; d++)
        if ((a->red_mask >> d) & 1) axes[n++] = d;
      dtx_reduce_opts o = DTX_REDUCE_OPTS_INIT;
      o.keepdims = a->keepdims;
      o.split_every = a->split_every;
      o.ddof = a->ddof;
      r = dtx_reduce(x[0], (dtx_reduction)a->op, axes, n, &o);
      break;
    }
    default:
      dtxi_fail(DTX_EINVAL, "internal: %s-%llu (kind %d) over an unknown length", a->opname,
                (unsigned long long)a->serial, a->kind);
      return NULL;
  }
  if (r != NULL && plist_add(done, a, r) != DTX_OK) return NULL;
  return r;
}

dtx_status dtxa_resolve(const dtx_array *a, dtx_array **out) {
  plist seen = {0}, src = {0};
  dtx_status rc = find_sources(a, &seen, &src);
  plist_free(&seen);
  dtx_array_scope_begin(); /* the resolved sources and the remade operations */
  if (rc == DTX_OK && src.n > 0) rc = compute_sources(&src);
  dtx_array *r = NULL;
  if (rc == DTX_OK && (r = replay(a, &src)) == NULL) rc = DTX_EINVAL; /* message set */
  if (r != NULL) dtx_array_retain(r);
  dtx_array_scope_end();
  plist_free(&src);
  if (rc == DTX_OK) *out = r;
  return rc;
}

/* ---- computing arrays of unknown length ------------------------------------------------------ */

dtx_status dtxa_compute_deferred(const dtx_array *a, dtx_dtype dtype, void *buf, size_t size) {
  if (!a->unknown && ((buf == NULL && size > 0) || size != dtx_array_nbytes(a)))
    return dtxi_fail(DTX_EINVAL, "dtx_array_compute: the buffer has %zu bytes at %p; the array needs %zu",
                     buf == NULL ? (size_t)0 : size, buf, dtx_array_nbytes(a));
  dtx_array *r = NULL;
  dtx_status rc = dtxa_resolve(a, &r);
  if (rc != DTX_OK) return rc;
  size_t need = dtx_array_nbytes(r);
  if ((buf == NULL && size > 0) || size != need)
    rc = dtxi_fail(DTX_EINVAL,
                   "dtx_array_compute: the buffer has %zu bytes; the array, whose length was unknown until "
                   "computed, has %lld elements (%zu bytes): compute it with dtx_array_compute_alloc, or "
                   "size the buffer from dtx_array_compute_chunk_sizes",
                   buf == NULL ? (size_t)0 : size, (long long)dtx_array_size(r), need);
  else
    rc = dtx_array_compute_as(r, dtype, buf, size);
  dtx_array_release(r);
  return rc;
}

dtx_status dtxa_persist_deferred(const dtx_array *a, const int *where, dtx_array **out) {
  dtx_array *r = NULL;
  dtx_status rc = dtxa_resolve(a, &r);
  if (rc != DTX_OK) return rc;
  rc = dtx_array_persist(r, where, out);
  dtx_array_release(r);
  return rc;
}

int dtx_array_shape_known(const dtx_array *a) { return a != NULL && !a->unknown; }

dtx_status dtx_array_compute_chunk_sizes(const dtx_array *a, dtx_array **out) {
  if (a == NULL || out == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_array_compute_chunk_sizes: %s is NULL", a == NULL ? "array" : "out");
  if (!a->deferred) {
    *out = dtxa_ret(dtx_array_retain((dtx_array *)a));
    return DTX_OK;
  }
  dtx_array *r = NULL;
  dtx_status rc = dtxa_resolve(a, &r);
  if (rc == DTX_OK) *out = dtxa_ret(r);
  return rc;
}

dtx_status dtx_array_compute_alloc(const dtx_array *a, dtx_dtype dtype, void **buf, int64_t *n) {
  if (a == NULL || buf == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_array_compute_alloc: %s is NULL", a == NULL ? "array" : "buf");
  dtx_array *r = NULL;
  dtx_status rc = a->deferred ? dtxa_resolve(a, &r) : DTX_OK;
  if (rc != DTX_OK) return rc;
  const dtx_array *x = r != NULL ? r : a;
  size_t bytes = dtx_array_nbytes(x);
  void *p = malloc(bytes > 0 ? bytes : 1);
  if (p == NULL)
    rc = dtxi_fail(DTX_ENOMEM, "dtx_array_compute_alloc: out of memory for %zu bytes", bytes);
  else
    rc = dtx_array_compute_as(x, dtype, p, bytes);
  if (rc == DTX_OK) {
    *buf = p;
    if (n != NULL) *n = dtx_array_size(x);
  } else {
    free(p);
  }
  dtx_array_release(r);
  return rc;
}
