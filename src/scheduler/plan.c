/*
 * scheduler/plan.c - planning a graph computation: cull, check, order, wire.
 *
 * dtxi_plan fills a run with the ancestors of the requested outputs (the
 * rest of the graph is culled), checks them (ids, cycles, placement
 * restrictions against what the run's executors offer), orders them and
 * wires each task to its dependents. Owner: the thread calling dtx_compute;
 * nothing runs yet, so nothing here is shared.
 *
 * Order. Tasks are numbered in the post-order of a depth-first walk from the
 * outputs that visits a task's inputs deepest first (critical path first)
 * and finishes each branch before the next one (so branches free their memory
 * early, in the spirit of Dask's `order`). User priorities, where given, then
 * reorder the run: Kahn's algorithm taking the highest priority first, ties
 * in walk order. `sync` runs tasks in this order; the executors start from
 * the roots in this order.
 *
 * Invariants after a plan: map[rt[i].gid] = i; every input of rt[i] has a
 * smaller index; rt[i].nrefs = its dependents + the times it is requested;
 * with `full` wiring (threads, cluster, priorities) rt[i].pending = its
 * inputs and deps[dep_off .. dep_off + ndeps) lists its dependents.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "scheduler/engine.h"

#define WHITE UINT32_MAX
#define GREY (UINT32_MAX - 1)

/* ---- planning ------------------------------------------------------------------ */

typedef struct frame {
  uint32_t gid, k;
} frame;

static dtx_status cycle_error(const dtx_graph *g, const frame *stack, size_t top, uint32_t back) {
  char msg[1024], key[DTX_MAX_KEY];
  size_t from = top;
  while (from > 0 && stack[from].gid != back) from--;
  size_t len = (size_t)snprintf(msg, sizeof msg, "the graph has a cycle: ");
  size_t count = 0;
  for (size_t i = from; i <= top && len < sizeof msg; i++, count++) {
    if (count == 8 && top - i > 1) {
      len += (size_t)snprintf(msg + len, sizeof msg - len, "... -> ");
      i = top - 1;
      continue;
    }
    dtxi_run_key(g, stack[i].gid, key, sizeof key);
    len += (size_t)snprintf(msg + len, sizeof msg - len, "%s -> ", key);
  }
  dtxi_run_key(g, back, key, sizeof key);
  if (len < sizeof msg) snprintf(msg + len, sizeof msg - len, "%s (each needs the next as an input)", key);
  return dtxi_fail_msg(DTX_EINVAL, msg);
}

/* Task gid asks for a GPU, or has no CPU implementation: fails unless one of
 * the run's executors offers what it needs (r->ndevices, r->cuda). */
static dtx_status check_placement(const run *r, uint32_t gid) {
  const dtx_graph *g = r->g;
  const gtask *t = &g->tasks[gid];
  char key[DTX_MAX_KEY];
  dtxi_run_key(g, gid, key, sizeof key);
  if (t->where > r->ndevices)
    return dtxi_fail(DTX_EINVAL,
                     "task '%s' asks for GPU %d, but this computation has %d GPU%s (cluster scheduler "
                     "with DTX_GPUS)",
                     key, t->where - 1, r->ndevices, r->ndevices == 1 ? "" : "s");
  if (g->impls[t->impl].cpu == NULL && !r->cuda) {
    if (r->ndevices > 0)
      return dtxi_fail(DTX_EINVAL,
                       "task '%s' has only a CUDA implementation; simulated GPUs run a task's CPU "
                       "implementation in its place: give it one (desc.cpu)",
                       key);
    return dtxi_fail(DTX_EINVAL,
                     "task '%s' has only a CUDA implementation and this computation runs on CPU threads; "
                     "give it a CPU implementation (desc.cpu), or compute with the cluster scheduler on a "
                     "cluster with GPUs",
                     key);
  }
  return DTX_OK;
}

/* Depth-first post-order from the outputs over `kids` lists (graph inputs
 * when kids is NULL). Pass 1 (check != 0) also detects cycles and unknown ids
 * and computes heights. Fills post[0..m) and map[gid] = post-order position. */
static dtx_status walk(run *r, const dtx_task_id *outs, int nout, frame *stack, uint32_t *post,
                       uint32_t *height, const uint32_t *const *kids, int check, int *nonuniform) {
  const dtx_graph *g = r->g;
  uint32_t n = g->n, m = 0, *map = r->map;
  for (int j = 0; j < nout; j++) {
    uint32_t o = outs[j];
    if (map[o] != WHITE) continue;
    size_t top = 0;
    stack[0].gid = o;
    stack[0].k = 0;
    map[o] = GREY;
    for (;;) {
      frame *f = &stack[top];
      const gtask *t = &g->tasks[f->gid];
      if (f->k < t->ninputs) {
        uint32_t in = kids != NULL ? kids[f->gid][f->k] : dtxi_gt_inputs(t)[f->k];
        f->k++;
        if (check && in >= n) {
          char key[DTX_MAX_KEY];
          dtxi_run_key(g, f->gid, key, sizeof key);
          return dtxi_fail(
              DTX_EINVAL,
              "task '%s' has input %u = id %u, which is not a task of this graph (it has %u tasks)", key,
              f->k - 1, in, n);
        }
        if (map[in] == WHITE) {
          map[in] = GREY;
          top++;
          stack[top].gid = in;
          stack[top].k = 0;
        } else if (check && map[in] == GREY) {
          return cycle_error(g, stack, top, in);
        }
        continue;
      }
      if (check) {
        uint32_t h = 0, first = UINT32_MAX;
        for (uint32_t i = 0; i < t->ninputs; i++) {
          uint32_t hi = height[dtxi_gt_inputs(t)[i]];
          if (first == UINT32_MAX) first = hi;
          if (hi != first) *nonuniform = 1;
          if (hi + 1 > h) h = hi + 1;
        }
        height[f->gid] = h;
        if (t->where > 0 || g->impls[t->impl].cpu == NULL) {
          dtx_status rc = check_placement(r, f->gid);
          if (rc != DTX_OK) return rc;
        }
      }
      map[f->gid] = m;
      post[m++] = f->gid;
      if (top == 0) break;
      top--;
    }
  }
  r->m = m;
  return DTX_OK;
}

/* Heap of run positions ordered by (priority desc, position asc). */
static int heap_less(const gtask *tasks, const uint32_t *post, uint32_t a, uint32_t b) {
  int32_t pa = tasks[post[a]].priority, pb = tasks[post[b]].priority;
  return pa != pb ? pa > pb : a < b;
}

static void heap_push(uint32_t *h, uint32_t *n, uint32_t v, const gtask *tasks, const uint32_t *post) {
  uint32_t i = (*n)++;
  h[i] = v;
  while (i > 0 && heap_less(tasks, post, h[i], h[(i - 1) / 2])) {
    uint32_t p = (i - 1) / 2, tmp = h[p];
    h[p] = h[i];
    h[i] = tmp;
    i = p;
  }
}

static uint32_t heap_pop(uint32_t *h, uint32_t *n, const gtask *tasks, const uint32_t *post) {
  uint32_t v = h[0], i = 0;
  h[0] = h[--(*n)];
  for (;;) {
    uint32_t l = 2 * i + 1, rr = l + 1, s = i;
    if (l < *n && heap_less(tasks, post, h[l], h[s])) s = l;
    if (rr < *n && heap_less(tasks, post, h[rr], h[s])) s = rr;
    if (s == i) break;
    uint32_t tmp = h[s];
    h[s] = h[i];
    h[i] = tmp;
    i = s;
  }
  return v;
}

/* Counts each task's dependents (its output's readers) and, with `full`,
 * builds the dependents lists (CSR over run positions), the roots and the
 * pending counts the threads scheduler needs; `sync` needs only the counts. */
static dtx_status wire(run *r, int full) {
  const dtx_graph *g = r->g;
  uint32_t m = r->m;
  size_t edges = 0;
  for (uint32_t i = 0; i < m; i++) r->rt[i].ndeps = 0;
  r->nroots = 0;
  for (uint32_t i = 0; i < m; i++) {
    const gtask *t = &g->tasks[r->rt[i].gid];
    const uint32_t *in = dtxi_gt_inputs(t);
    for (uint32_t k = 0; k < t->ninputs; k++) r->rt[r->map[in[k]]].ndeps++;
    edges += t->ninputs;
    if (t->ninputs == 0 && full) r->roots[r->nroots++] = i;
  }
  if (!full) {
    for (uint32_t i = 0; i < m; i++) r->rt[i].nrefs = (int32_t)r->rt[i].ndeps;
    return DTX_OK;
  }
  r->deps = dtxi_scratch_get(r->scratch, S_DEPS, edges * sizeof *r->deps);
  if (r->deps == NULL) return dtxi_fail(DTX_ENOMEM, "dtx_compute: out of memory wiring %zu edges", edges);
  uint32_t off = 0;
  for (uint32_t i = 0; i < m; i++) {
    r->rt[i].dep_off = off;
    off += r->rt[i].ndeps;
    r->rt[i].nrefs = (int32_t)r->rt[i].ndeps;
    r->rt[i].ndeps = 0;
  }
  for (uint32_t i = 0; i < m; i++) {
    const gtask *t = &g->tasks[r->rt[i].gid];
    const uint32_t *in = dtxi_gt_inputs(t);
    for (uint32_t k = 0; k < t->ninputs; k++) {
      rtask *src = &r->rt[r->map[in[k]]];
      r->deps[src->dep_off + src->ndeps++] = i;
    }
    atomic_init(&r->rt[i].pending, (int32_t)t->ninputs);
  }
  return DTX_OK;
}

static int by_height(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Sorts each task's inputs by height, deepest first, ties in input order. */
static uint32_t **sorted_kids(const run *r, const uint32_t *post, const uint32_t *height, uint32_t **block) {
  const dtx_graph *g = r->g;
  size_t edges = 0;
  uint32_t widest = 0;
  for (uint32_t i = 0; i < r->m; i++) {
    uint32_t k = g->tasks[post[i]].ninputs;
    edges += k;
    if (k > widest) widest = k;
  }
  uint32_t **kids = calloc(g->n, sizeof *kids);
  uint32_t *store = malloc((edges ? edges : 1) * sizeof *store);
  uint64_t *tmp = malloc((widest ? widest : 1) * sizeof *tmp);
  if (kids == NULL || store == NULL || tmp == NULL) {
    free(kids);
    free(store);
    free(tmp);
    return NULL;
  }
  *block = store;
  uint32_t *p = store;
  for (uint32_t i = 0; i < r->m; i++) {
    const gtask *t = &g->tasks[post[i]];
    kids[post[i]] = p;
    if (t->ninputs <= 16) {
      for (uint32_t k = 0; k < t->ninputs; k++) {
        uint32_t v = dtxi_gt_inputs(t)[k], j = k;
        while (j > 0 && height[p[j - 1]] < height[v]) {
          p[j] = p[j - 1];
          j--;
        }
        p[j] = v;
      }
    } else {
      /* (inverted height, position) sorts deepest first, stably. */
      for (uint32_t k = 0; k < t->ninputs; k++)
        tmp[k] = ((uint64_t)(UINT32_MAX - height[dtxi_gt_inputs(t)[k]]) << 32) | k;
      qsort(tmp, t->ninputs, sizeof *tmp, by_height);
      for (uint32_t k = 0; k < t->ninputs; k++) p[k] = dtxi_gt_inputs(t)[(uint32_t)tmp[k]];
    }
    p += t->ninputs;
  }
  free(tmp);
  return kids;
}

/* Renumbers the run by user priority: Kahn's algorithm taking the highest
 * priority first, ties in walk order (post: the walk's order; heap and
 * order: scratch of r->m entries). Needs full wiring; rewires. */
static dtx_status priority_order(run *r, const uint32_t *post, uint32_t *heap, uint32_t *order) {
  const dtx_graph *g = r->g;
  uint32_t m = r->m, nheap = 0, norder = 0;
  int32_t *pend = malloc((size_t)m * sizeof *pend);
  if (pend == NULL) return dtxi_fail(DTX_ENOMEM, "dtx_compute: out of memory ordering %u tasks", m);
  for (uint32_t i = 0; i < m; i++) {
    pend[i] = (int32_t)g->tasks[post[i]].ninputs;
    if (pend[i] == 0) heap_push(heap, &nheap, i, g->tasks, post);
  }
  while (nheap > 0) {
    uint32_t i = heap_pop(heap, &nheap, g->tasks, post);
    order[norder++] = post[i];
    for (uint32_t k = 0; k < r->rt[i].ndeps; k++) {
      uint32_t d = r->deps[r->rt[i].dep_off + k];
      if (--pend[d] == 0) heap_push(heap, &nheap, d, g->tasks, post);
    }
  }
  free(pend);
  DTX_ASSERT(norder == m);
  for (uint32_t i = 0; i < m; i++) {
    r->rt[i].gid = order[i];
    r->map[order[i]] = i;
  }
  return wire(r, r->threads);
}

/* The run's tasks, blank, in the order post[0 .. m). */
static dtx_status init_tasks(run *r, const uint32_t *post) {
  uint32_t m = r->m;
  r->rt = dtxi_scratch_get(r->scratch, S_RT, (size_t)m * sizeof *r->rt);
  r->roots = dtxi_scratch_get(r->scratch, S_ROOTS, (size_t)m * sizeof *r->roots);
  r->ranges = dtxi_scratch_get(r->scratch, S_RANGES, (size_t)m * sizeof *r->ranges);
  if (r->rt == NULL || r->roots == NULL || r->ranges == NULL)
    return dtxi_fail(DTX_ENOMEM, "dtx_compute: out of memory for %u tasks", m);
  for (uint32_t i = 0; i < m; i++) {
    rtask *t = &r->rt[i];
    atomic_init(&t->pending, 0);
    t->gid = post[i];
    t->exec = r->cpu; /* until dtxi_engine_place says otherwise */
    t->time_host = 0;
    t->on_cpu = 0;
    t->ahead = t->gpu_done = 0;
    t->pid = 0;
    t->run = r;
    t->dep_off = t->ndeps = 0;
    t->nrefs = t->tid = 0;
    t->out = NULL;
    t->res = NULL;
    t->err = NULL;
    t->t0 = t->t1 = 0;
  }
  return DTX_OK;
}

dtx_status dtxi_plan(run *r, const dtx_task_id *outs, int nout) {
  const dtx_graph *g = r->g;
  uint32_t n = g->n;
  dtx_status rc = DTX_OK;
  for (int j = 0; j < nout; j++)
    if (outs[j] >= n)
      return dtxi_fail(DTX_EINVAL,
                       "dtx_compute: output %d is id %u, which is not a task of this graph (it has %u tasks)",
                       j, outs[j], n);
  r->map = dtxi_scratch_get(r->scratch, S_MAP, (size_t)n * sizeof *r->map);
  uint32_t *post = dtxi_scratch_get(r->scratch, S_POST, (size_t)n * sizeof *post);
  uint32_t *height = dtxi_scratch_get(r->scratch, S_HEIGHT, (size_t)n * sizeof *height);
  frame *stack = dtxi_scratch_get(r->scratch, S_STACK, (size_t)n * sizeof *stack);
  uint32_t **kids = NULL, *kids_block = NULL;
  if (r->map == NULL || post == NULL || height == NULL || stack == NULL) {
    rc = dtxi_fail(DTX_ENOMEM, "dtx_compute: out of memory planning %u tasks", n);
    goto out;
  }
  memset(r->map, 0xFF, (size_t)n * sizeof *r->map);
  int nonuniform = 0;
  DTX_CHECK_GOTO(walk(r, outs, nout, stack, post, height, NULL, 1, &nonuniform), rc, out);
  if (nonuniform) {
    /* Walk again, deepest input first: the critical path runs first. */
    kids = sorted_kids(r, post, height, &kids_block);
    if (kids == NULL) {
      rc = dtxi_fail(DTX_ENOMEM, "dtx_compute: out of memory ordering %u tasks", r->m);
      goto out;
    }
    for (uint32_t i = 0; i < r->m; i++) r->map[post[i]] = WHITE;
    DTX_CHECK_GOTO(walk(r, outs, nout, stack, post, height, (const uint32_t *const *)kids, 0, NULL), rc, out);
  }
  DTX_CHECK_GOTO(init_tasks(r, post), rc, out);
  DTX_CHECK_GOTO(wire(r, r->threads || g->has_priority), rc, out);
  /* (height and stack are free again: the priority order's heap and list.) */
  if (g->has_priority) DTX_CHECK_GOTO(priority_order(r, post, height, (uint32_t *)stack), rc, out);
  for (int j = 0; j < nout; j++) r->rt[r->map[outs[j]]].nrefs++;
out:
  free(kids_block);
  free(kids);
  return rc;
}
