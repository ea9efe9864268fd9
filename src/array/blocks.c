/*
 * array/blocks.c - DTXA_BLOCKS nodes: operations whose chunks are made by
 * tasks of their own, added by a C callback (contract in blocks.h).
 *
 * Owns the node's blob (the callback and a copy of the op's data, in
 * node->user, freed with the node) and the emit handle a callback sees
 * during one build. The building thread only; no state outlives a build
 * but what build.c memoises (each node's chunk tasks).
 * Invariant after a successful dtxa_blocks_build: every chunk of the node
 * names a task of the build's graph.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/blocks.h"
#include "base/error.h"

typedef struct blob {
  dtxa_emit_fn emit;
  int tasklist;
  size_t size;
  alignas(max_align_t) unsigned char data[];
} blob;

struct dtxa_emit {
  void *bc;
  int gpu;
  const dtx_array *node;
  int64_t n;
  dtx_task_id *ids;
  unsigned char *set;
};

static dtx_array *make(dtx_cluster *cl, const char *opname, int ndim, const int64_t *shape,
                       const int64_t *chunk, dtx_dtype t, int nin, dtx_array *const *in, dtxa_emit_fn emit,
                       const void *data, size_t size, int tasklist) {
  for (int i = 0; i < nin; i++)
    if (in[i] == NULL) return NULL;
  blob *b = malloc(sizeof *b + (size > 0 ? size : 1));
  if (b == NULL) {
    dtxi_fail(DTX_ENOMEM, "%s: out of memory", opname);
    return NULL;
  }
  b->emit = emit;
  b->tasklist = tasklist;
  b->size = size;
  if (size > 0) memcpy(b->data, data, size);
  dtx_array *a = dtxa_node(cl, DTXA_BLOCKS, opname, ndim, shape, chunk, t, nin, in);
  if (a == NULL) {
    free(b);
    return NULL;
  }
  a->user = b;
  a->user_size = sizeof *b + size;
  return a;
}

dtx_array *dtxa_blocks(dtx_cluster *cl, const char *opname, int ndim, const int64_t *shape,
                       const int64_t *chunk, dtx_dtype t, int nin, dtx_array *const *in, dtxa_emit_fn emit,
                       const void *data, size_t size) {
  return make(cl, opname, ndim, shape, chunk, t, nin, in, emit, data, size, 0);
}

dtx_array *dtxa_tasks(dtx_cluster *cl, const char *opname, int64_t ntasks, dtx_dtype t, int nin,
                      dtx_array *const *in, dtxa_emit_fn emit, const void *data, size_t size) {
  int64_t one = 1;
  return make(cl, opname, 1, &ntasks, &one, t, nin, in, emit, data, size, 1);
}

dtxa_task dtxa_task_make(const char *suffix, int nidx, const int64_t *idx, const dtx_task_id *in, int nin,
                         const void *args, size_t args_size, dtx_task_fn cpu) {
  dtxa_task t;
  memset(&t, 0, sizeof t);
  t.suffix = suffix;
  t.nidx = nidx;
  for (int d = 0; d < nidx && d < DTX_ARRAY_MAX_DIMS; d++) t.idx[d] = idx[d];
  t.in = in;
  t.nin = nin;
  t.args = args;
  t.args_size = args_size;
  t.cpu = cpu;
  return t;
}

int dtxa_emit_gpu(const dtxa_emit *e) { return e->gpu; }

int dtxa_emit_dest(dtxa_emit *e, char **base, int64_t *strides) {
  return dtxa_build_dest(e->bc, e->node, base, strides);
}

int dtxa_emit_ext(dtxa_emit *e, int i, const char **base, int64_t *strides) {
  if (i < 0 || i >= e->node->nin) return 0;
  return dtxa_build_ext(e->bc, e->node->in[i], base, strides);
}

dtx_status dtxa_emit_input(dtxa_emit *e, int i, const int64_t *chunk, const int64_t *bidx, dtx_task_id *id) {
  if (i < 0 || i >= e->node->nin)
    return dtxi_fail(DTX_EINVAL, "internal: %s has no input %d", e->node->opname, i);
  const dtx_array *a = e->node->in[i];
  int64_t nb[DTX_ARRAY_MAX_DIMS];
  const dtx_task_id *ids = dtxa_build_input(e->bc, a, chunk != NULL ? chunk : a->chunk, nb);
  if (ids == NULL) return DTX_EINVAL;
  int64_t b = 0;
  for (int d = 0; d < a->ndim; d++) {
    if (bidx[d] < 0 || bidx[d] >= nb[d])
      return dtxi_fail(DTX_EINVAL, "internal: %s reads chunk %lld of %lld along axis %d of its input %d",
                       e->node->opname, (long long)bidx[d], (long long)nb[d], d, i);
    b = b * nb[d] + bidx[d];
  }
  *id = ids[b];
  return DTX_OK;
}

const dtx_task_id *dtxa_emit_tasks(dtxa_emit *e, int i, int64_t *n) {
  if (i < 0 || i >= e->node->nin) {
    dtxi_fail(DTX_EINVAL, "internal: %s has no input %d", e->node->opname, i);
    return NULL;
  }
  const dtx_array *a = e->node->in[i];
  if (a->kind != DTXA_BLOCKS || !((const blob *)a->user)->tasklist) {
    dtxi_fail(DTX_EINVAL, "internal: input %d of %s is not a task list", i, e->node->opname);
    return NULL;
  }
  int64_t nb[DTX_ARRAY_MAX_DIMS];
  const dtx_task_id *ids = dtxa_build_input(e->bc, a, a->chunk, nb);
  if (ids != NULL) *n = nb[0];
  return ids;
}

dtx_status dtxa_emit_task(dtxa_emit *e, const dtxa_task *t, dtx_task_id *id) {
  char name[DTX_MAX_KEY];
  snprintf(name, sizeof name, "%s-%llu%s", e->node->opname, (unsigned long long)e->node->serial,
           t->suffix != NULL ? t->suffix : "");
  dtx_task_desc d;
  memset(&d, 0, sizeof d);
  d.name = name;
  if (t->nidx < 0 || t->nidx > DTX_ARRAY_MAX_DIMS || (t->nidx > DTX_MAX_INDICES && t->nidx != e->node->ndim))
    return dtxi_fail(DTX_EINVAL, "internal: %s adds a task with %d key indices", e->node->opname, t->nidx);
  if (t->nidx <= DTX_MAX_INDICES) {
    d.nidx = t->nidx;
    for (int i = 0; i < t->nidx; i++) d.idx[i] = t->idx[i];
  } else { /* a chunk index of more dims: the leading ones as one C-order index of the grid */
    int lead = t->nidx - (DTX_MAX_INDICES - 1);
    int64_t l = 0;
    for (int i = 0; i < lead; i++) l = l * dtxa_nb(e->node, i) + t->idx[i];
    d.nidx = DTX_MAX_INDICES;
    d.idx[0] = l;
    for (int i = lead; i < t->nidx; i++) d.idx[i - lead + 1] = t->idx[i];
  }
  d.inputs = t->in;
  d.ninputs = t->nin;
  d.args = t->args;
  d.args_size = t->args_size;
  d.cpu = t->cpu;
  d.cuda = e->gpu ? t->cuda : NULL;
  d.output_size = t->output_size;
  return dtxa_build_add(e->bc, &d, id);
}

void dtxa_emit_set(dtxa_emit *e, int64_t b, dtx_task_id id) {
  if (b < 0 || b >= e->n) return; /* caught as a chunk left unset */
  e->ids[b] = id;
  e->set[b] = 1;
}

dtx_status dtxa_blocks_build(void *bc, int gpu, const dtx_array *a, int64_t n, dtx_task_id *ids) {
  const blob *b = a->user;
  dtxa_emit e = {bc, gpu, a, n, ids, calloc((size_t)n, 1)};
  if (e.set == NULL) return dtxi_fail(DTX_ENOMEM, "out of memory building %s", a->opname);
  dtx_status rc = b->emit(&e, a, b->data);
  for (int64_t i = 0; i < n && rc == DTX_OK; i++)
    if (!e.set[i])
      rc = dtxi_fail(DTX_EINVAL, "internal: %s-%llu left its chunk %lld without a task", a->opname,
                     (unsigned long long)a->serial, (long long)i);
  free(e.set);
  return rc;
}
