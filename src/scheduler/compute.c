/*
 * scheduler/compute.c - running a graph: plan, then `sync` or `threads`.
 *
 * dtx_compute plans a run over the ancestors of the requested outputs (cull,
 * check, order, wire dependents), executes it, hands the outputs back and
 * frees the run. Owns: the run state (struct run) for the duration of one call.
 *
 * Order. The plan numbers tasks in the post-order of a depth-first walk from
 * the outputs that visits a task's inputs deepest first (critical path first)
 * and finishes each branch before the next one (so branches free their memory
 * early, in the spirit of Dask's `order`). User priorities, where given, then
 * reorder ready tasks (higher first). `sync` runs tasks in that order on the
 * calling thread. `threads` starts from the root tasks in that order and,
 * when a task completes, runs its first newly ready dependent next on the
 * same worker (depth first) and pushes the others on its deque.
 *
 * Threads: the caller plans and waits; workers execute. Per task, `pending`
 * counts inputs not yet done (an atomic; the worker that brings it to zero
 * runs the task), the output chunk's reference count covers the dependents
 * still to read it plus the caller's handles, and `remaining` counts tasks not
 * yet done; the worker that brings it to zero wakes the caller.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scheduler/sched.h"
#include "base/error.h"
#include "scheduler/progress.h"
#include "scheduler/gpu.h"
#include "scheduler/run.h"
#include "scheduler/task.h"

#define WHITE UINT32_MAX
#define GREY (UINT32_MAX - 1)



/* ---- the task context ----------------------------------------------------- */

int dtx_task_num_inputs(const dtx_task_ctx *ctx) {
  if (ctx == NULL) return 0;
  if (ctx->fut != NULL) return dtxi_future_ninputs(ctx->fut);
  return (int)ctx->gt->ninputs;
}

const void *dtx_task_input(const dtx_task_ctx *ctx, int i, size_t *size) {
  const dtx_chunk *c = NULL;
  if (ctx != NULL && ctx->gpu != NULL) return dtxi_gpu_input(ctx->gpu, i, size);
  if (ctx != NULL && i >= 0) {
    if (ctx->fut != NULL) {
      c = dtxi_future_input(ctx->fut, i);
    } else if ((uint32_t)i < ctx->gt->ninputs) {
      c = ctx->run->rt[ctx->run->map[dtxi_gt_inputs(ctx->gt)[i]]].out;
    }
  }
  if (size != NULL) *size = c != NULL ? c->size : 0;
  return c != NULL ? c->data : NULL;
}

const void *dtx_task_args(const dtx_task_ctx *ctx, size_t *size) {
  if (ctx == NULL) {
    if (size != NULL) *size = 0;
    return NULL;
  }
  if (ctx->fut != NULL) return dtxi_future_args(ctx->fut, size);
  if (size != NULL) *size = ctx->gt->args_size;
  return dtxi_gt_args(ctx->gt);
}

static void drop_output(dtx_task_ctx *ctx) {
  if (ctx->out == NULL) return;
  atomic_store_explicit(&ctx->out->refs, 1, memory_order_relaxed);
  dtxi_chunk_unref(ctx->out);
  ctx->out = NULL;
}

void *dtx_task_output(dtx_task_ctx *ctx, size_t size) {
  if (ctx == NULL) return NULL;
  if (ctx->gpu != NULL) return dtxi_gpu_output(ctx->gpu, size);
  drop_output(ctx);
  /* Graph outputs may spill to disk past the host limit (pinned until made). */
  ctx->out = ctx->fut == NULL ? dtxi_chunk_new_spillable(dtxi_sched_of(ctx->cl)->mem, size, ctx->out_refs)
                              : dtxi_chunk_new(dtxi_sched_of(ctx->cl)->mem, size, ctx->out_refs);
  return ctx->out != NULL ? ctx->out->data : NULL;
}

int dtx_task_fail(dtx_task_ctx *ctx, const char *fmt, ...) {
  if (ctx == NULL) return -1;
  free(ctx->error);
  ctx->error = NULL;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt != NULL ? fmt : "(no message)", ap);
  va_end(ap);
  ctx->error = strdup(buf);
  return -1;
}

void dtx_task_key(const dtx_task_ctx *ctx, char *buf, size_t n) {
  if (ctx == NULL || buf == NULL || n == 0) return;
  if (ctx->fut != NULL) {
    dtxi_future_key(ctx->fut, buf, n);
    return;
  }
  dtxi_key_format(ctx->run->g->prefixes[ctx->gt->prefix], ctx->gt->nidx, ctx->gt->idx, buf, n);
}

int dtx_task_worker(const dtx_task_ctx *ctx) { return ctx != NULL ? ctx->worker : -1; }
int dtx_task_device(const dtx_task_ctx *ctx) { return ctx != NULL && ctx->gpu != NULL ? dtxi_gpu_device(ctx->gpu) : -1; }
void *dtx_task_stream(const dtx_task_ctx *ctx) {
  return ctx != NULL && ctx->gpu != NULL ? dtxi_gpu_native_stream(ctx->gpu) : NULL;
}
dtx_cluster *dtx_task_cluster(const dtx_task_ctx *ctx) { return ctx != NULL ? ctx->cl : NULL; }
int dtx_task_attempt(const dtx_task_ctx *ctx) { return ctx != NULL ? ctx->attempt : 0; }

int dtxi_task_invoke(dtx_task_ctx *ctx, dtx_task_fn fn, const char *prefix, int nidx, const int64_t *idx,
                     char **msg) {
  *msg = NULL;
  int rc = fn(ctx);
  if (rc == 0) {
    free(ctx->error);
    ctx->error = NULL;
    return 0;
  }
  char key[DTX_MAX_KEY];
  dtxi_key_format(prefix, nidx, idx, key, sizeof key);
  char tail[80];
  snprintf(tail, sizeof tail, "task returned %d without a message (use dtx_task_fail)", rc);
  const char *text = ctx->error != NULL ? ctx->error : tail;
  size_t len = strlen(key) + strlen(text) + 3;
  char *s = malloc(len);
  if (s != NULL) snprintf(s, len, "%s: %s", key, text);
  *msg = s;
  free(ctx->error);
  ctx->error = NULL;
  drop_output(ctx);
  return 1;
}

int dtxi_current_worker(dtx_cluster *cl) {
  dtxi_worker *w = dtxi_sched_of(cl)->pool != NULL ? dtxi_pool_self(dtxi_sched_of(cl)->pool) : NULL;
  return w != NULL ? w->index : -1;
}

/* ---- executing one task ------------------------------------------------------ */

void dtxi_run_fail(run *r, rtask *t, char *msg) {
  size_t len = msg != NULL ? strlen(msg) : 0;
  rerr *e = malloc(sizeof *e + len + 1);
  if (e == NULL) {
    /* Keep the failure even without memory for its message. */
    static const char oom[] = "task failed (out of memory recording its message)";
    t->err = oom;
  } else {
    memcpy(e->msg, msg != NULL ? msg : "", len + 1);
    rerr *head = atomic_load_explicit(&r->errors, memory_order_relaxed);
    do e->next = head;
    while (!atomic_compare_exchange_weak_explicit(&r->errors, &head, e, memory_order_acq_rel, memory_order_relaxed));
    rerr *none = NULL;
    atomic_compare_exchange_strong(&r->first, &none, e);
    t->err = e->msg;
  }
  free(msg);
  atomic_store_explicit(&r->any_error, 1, memory_order_relaxed);
}

enum { RAN_OK, RAN_FAILED, SKIPPED };

/* Runs t (or marks it failed when an input failed), then drops its reads of
 * its inputs. Returns RAN_OK, RAN_FAILED, or SKIPPED (an input had failed). */
static int exec_body(run *r, rtask *t, int worker, int tid) {
  const dtx_graph *g = r->g;
  const gtask *gt = &g->tasks[t->gid];
  int outcome = SKIPPED;
  if (atomic_load_explicit(&r->any_error, memory_order_relaxed)) {
    for (uint32_t i = 0; i < gt->ninputs; i++) {
      const rtask *in = &r->rt[r->map[dtxi_gt_inputs(gt)[i]]];
      if (in->err != NULL) {
        t->err = in->err;
        break;
      }
    }
  }
  if (t->err == NULL) {
    dtx_task_ctx ctx = {.cl = r->cl, .worker = worker, .run = r, .rt = t, .gt = gt, .out_refs = t->nrefs};
    const char *prefix = g->prefixes[gt->prefix];
    if (r->nvtx) dtxi_nvtx_push(prefix, gt->nidx > 0 ? gt->idx[0] : 0);
    int timed = r->trace || (r->gpu && g->impls[gt->impl].cuda != NULL);
    if (timed) t->t0 = dtxi_now_ns();
    char *msg = NULL;
    /* Inputs spilled to disk come back first, and stay while it runs. */
    uint32_t npinned = 0;
    int bad = 0;
    if (dtxi_sched_of(r->cl)->mem->limit > 0)
      for (; npinned < gt->ninputs; npinned++)
        if (dtxi_chunk_pin(r->rt[r->map[dtxi_gt_inputs(gt)[npinned]]].out) != DTX_OK) {
          char key[DTX_MAX_KEY], buf[1024];
          dtxi_key_format(prefix, gt->nidx, gt->idx, key, sizeof key);
          snprintf(buf, sizeof buf, "%s: %s", key, dtx_last_error());
          msg = strdup(buf);
          bad = 1;
          break;
        }
    if (!bad) bad = dtxi_task_invoke(&ctx, g->impls[gt->impl].cpu, prefix, gt->nidx, gt->idx, &msg);
    for (uint32_t i = 0; i < npinned; i++) dtxi_chunk_unpin(r->rt[r->map[dtxi_gt_inputs(gt)[i]]].out);
    if (timed) {
      t->t1 = dtxi_now_ns();
      t->tid = tid;
      /* A dual task on a CPU thread: learn its CPU time for placement. */
      if (r->gpu && g->impls[gt->impl].cuda != NULL && !bad) {
        size_t bytes = 0;
        for (uint32_t i = 0; i < gt->ninputs; i++) {
          const dtx_chunk *c = r->rt[r->map[dtxi_gt_inputs(gt)[i]]].out;
          bytes += c != NULL ? c->size : 0;
        }
        dtxi_gpus_learn(dtxi_sched_of(r->cl)->gpus, prefix, 0, bytes, (int64_t)(t->t1 - t->t0));
      }
    }
    if (r->nvtx) dtxi_nvtx_pop();
    if (bad) {
      dtxi_run_fail(r, t, msg);
      outcome = RAN_FAILED;
    } else {
      t->out = ctx.out;
      dtxi_chunk_unpin(t->out); /* made: it may spill now */
      if (r->gpu) dtxi_gpu_host_output(r, t);
      outcome = RAN_OK;
    }
  }
  for (uint32_t i = 0; i < gt->ninputs; i++) dtxi_run_release_output(r, &r->rt[r->map[dtxi_gt_inputs(gt)[i]]]);
  if (r->watch != NULL) dtxi_watch_task(r->watch, worker, gt->prefix, t->err != NULL);
  return outcome;
}

void dtxi_run_release_output(run *r, rtask *t) {
  (void)r;
  if (t->out != NULL) dtxi_chunk_unref(t->out);
  if (t->res != NULL) dtxi_gres_release(t->res);
}

static void run_finish(run *r) {
  pthread_mutex_lock(&r->mu);
  atomic_store(&r->done, 1);
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

static inline dtxi_job task_job(rtask *t) { return (dtxi_job)t | DTXI_JOB_TASK; }

/* What one job (a range of roots, or a task and its depth-first successors)
 * accumulates: tasks done, and decrements owed to one dependent. Roots that
 * feed the same dependent (a wide fan-in) pay one atomic per job, not one
 * per root. The job subtracts `done` from the run's `remaining` as its very
 * last touch of the run. */
typedef struct jobacc {
  dtxi_worker *w;
  int32_t done;
  rtask *owed; /* dependent whose pending we owe `nowed` decrements */
  int32_t nowed;
} jobacc;

static void count_task(dtxi_worker *w, int outcome) {
  if (outcome == SKIPPED) return;
  int failed = outcome == RAN_FAILED;
  atomic_store_explicit(&w->tasks_run, atomic_load_explicit(&w->tasks_run, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  if (failed)
    atomic_store_explicit(&w->tasks_failed, atomic_load_explicit(&w->tasks_failed, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Runs t on the job's worker; returns the dependent to run next (depth first). */
static rtask *exec_threads(jobacc *j, rtask *t) {
  run *r = t->run;
  dtxi_worker *w = j->w;
  count_task(w, exec_body(r, t, w->index, w->index + 1));
  j->done++;
  rtask *next = NULL;
  const uint32_t *deps = r->deps + t->dep_off;
  for (uint32_t k = t->ndeps; k-- > 0;) {
    rtask *d = &r->rt[deps[k]];
    if (atomic_fetch_sub_explicit(&d->pending, 1, memory_order_acq_rel) == 1) {
      if (r->gpu && dtxi_gpu_eligible(r, d)) {
        dtxi_gpu_dispatch(r, d);
        continue;
      }
      if (next != NULL) dtxi_worker_push(w, task_job(next));
      next = d;
    }
  }
  return next;
}

void dtxi_run_skip(run *r, rtask *t) { dtxi_pool_submit(dtxi_sched_of(r->cl)->pool, task_job(t)); }

void dtxi_run_on_cpu(run *r, rtask *t) {
  t->on_cpu = 1;
  dtxi_pool_submit(dtxi_sched_of(r->cl)->pool, task_job(t));
}

void dtxi_run_task_done(run *r, rtask *t, int ran) {
  const gtask *gt = &r->g->tasks[t->gid];
  const uint32_t *in = dtxi_gt_inputs(gt);
  for (uint32_t i = 0; i < gt->ninputs; i++) dtxi_run_release_output(r, &r->rt[r->map[in[i]]]);
  if (ran) dtxi_sched_count(dtxi_sched_of(r->cl), 1, t->err != NULL);
  if (r->watch != NULL) dtxi_watch_task(r->watch, -1, gt->prefix, t->err != NULL);
  const uint32_t *deps = r->deps + t->dep_off;
  for (uint32_t k = 0; k < t->ndeps; k++) {
    rtask *d = &r->rt[deps[k]];
    if (atomic_fetch_sub_explicit(&d->pending, 1, memory_order_acq_rel) != 1) continue;
    if (d->ahead) continue; /* already enqueued on a GPU behind t */
    if (dtxi_gpu_eligible(r, d))
      dtxi_gpu_dispatch(r, d);
    else
      dtxi_pool_submit(dtxi_sched_of(r->cl)->pool, task_job(d));
  }
  if (atomic_fetch_sub_explicit(&r->remaining, 1, memory_order_acq_rel) == 1) run_finish(r);
}

static void run_chain(jobacc *j, rtask *t) {
  while (t != NULL) t = exec_threads(j, t);
}

static void settle_owed(jobacc *j) {
  rtask *d = j->owed;
  int32_t k = j->nowed;
  if (d == NULL) return;
  j->owed = NULL;
  j->nowed = 0;
  if (atomic_fetch_sub_explicit(&d->pending, k, memory_order_acq_rel) != k) return;
  if (d->run->gpu && dtxi_gpu_eligible(d->run, d))
    dtxi_gpu_dispatch(d->run, d);
  else
    run_chain(j, d);
}

static void job_end(jobacc *j, run *r) {
  /* A job that ran nothing on the CPU (it only handed tasks to GPUs) must not
   * touch the run: those tasks may already have finished it. */
  if (j->done == 0) return;
  if (atomic_fetch_sub_explicit(&r->remaining, j->done, memory_order_acq_rel) == j->done) run_finish(r);
}

static void exec_range(dtxi_worker *w, range *rg) {
  run *r = rg->run;
  uint32_t lo = rg->lo, hi = rg->hi;
  /* Split off upper halves for thieves down to a grain of ~1/8 of a worker's share. */
  uint32_t grain = r->nroots / (8u * (uint32_t)w->pool->n);
  if (grain < 1) grain = 1;
  while (hi - lo > grain) {
    uint32_t mid = lo + (hi - lo) / 2;
    uint32_t slot = atomic_fetch_add_explicit(&r->nranges, 1, memory_order_relaxed);
    range *half = &r->ranges[slot];
    half->run = r;
    half->lo = mid;
    half->hi = hi;
    dtxi_worker_push(w, (dtxi_job)half | DTXI_JOB_RANGE);
    hi = mid;
  }
  jobacc j = {w, 0, NULL, 0};
  for (uint32_t i = lo; i < hi; i++) {
    rtask *t = &r->rt[r->roots[i]];
    if (r->gpu && dtxi_gpu_eligible(r, t)) {
      dtxi_gpu_root(r, t);
      continue;
    }
    count_task(w, exec_body(r, t, w->index, w->index + 1));
    j.done++;
    const uint32_t *deps = r->deps + t->dep_off;
    for (uint32_t k = 0; k < t->ndeps; k++) {
      rtask *d = &r->rt[deps[k]];
      if (d == j.owed) {
        j.nowed++;
      } else {
        settle_owed(&j);
        j.owed = d;
        j.nowed = 1;
      }
    }
  }
  settle_owed(&j);
  job_end(&j, r);
}

void dtxi_job_exec(dtxi_worker *w, dtxi_job job) {
  void *p = (void *)(job & ~DTXI_JOB_TAG_MASK);
  switch (job & DTXI_JOB_TAG_MASK) {
    case DTXI_JOB_TASK: {
      jobacc j = {w, 0, NULL, 0};
      run *r = ((rtask *)p)->run;
      run_chain(&j, p);
      job_end(&j, r);
      break;
    }
    case DTXI_JOB_RANGE:
      exec_range(w, p);
      break;
    case DTXI_JOB_FUTURE:
      dtxi_future_exec(w, p);
      break;
    default:
      DTX_ASSERT(!"unknown job tag");
  }
}

/* ---- planning ------------------------------------------------------------------ */

typedef struct frame {
  uint32_t gid, k;
} frame;

static void key_of(const dtx_graph *g, uint32_t gid, char *buf, size_t n) {
  const gtask *t = &g->tasks[gid];
  dtxi_key_format(g->prefixes[t->prefix], t->nidx, t->idx, buf, n);
}

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
    key_of(g, stack[i].gid, key, sizeof key);
    len += (size_t)snprintf(msg + len, sizeof msg - len, "%s -> ", key);
  }
  key_of(g, back, key, sizeof key);
  if (len < sizeof msg) snprintf(msg + len, sizeof msg - len, "%s (each needs the next as an input)", key);
  return dtxi_fail_msg(DTX_EINVAL, msg);
}

/* Depth-first post-order from the outputs over `kids` lists (graph inputs
 * when kids is NULL). Pass 1 (check != 0) also detects cycles and unknown ids
 * and computes heights. Fills post[0..m) and map[gid] = post-order position. */
static dtx_status walk(run *r, const dtx_task_id *outs, int nout, frame *stack, uint32_t *post, uint32_t *height,
                       const uint32_t *const *kids, int check, int *nonuniform) {
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
          key_of(g, f->gid, key, sizeof key);
          return dtxi_fail(DTX_EINVAL,
                           "task '%s' has input %u = id %u, which is not a task of this graph (it has %u tasks)",
                           key, f->k - 1, in, n);
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
        if (t->where > 0 && (!r->gpu || t->where > dtxi_gpus_count(dtxi_sched_of(r->cl)->gpus))) {
          char key[DTX_MAX_KEY];
          key_of(g, f->gid, key, sizeof key);
          return dtxi_fail(DTX_EINVAL,
                           "task '%s' asks for GPU %d, but this computation has %d GPU%s (cluster scheduler "
                           "with DTX_GPUS)",
                           key, t->where - 1, r->gpu ? dtxi_gpus_count(dtxi_sched_of(r->cl)->gpus) : 0,
                           r->gpu && dtxi_gpus_count(dtxi_sched_of(r->cl)->gpus) == 1 ? "" : "s");
        }
        if (g->impls[t->impl].cpu == NULL && !(r->gpu && !dtxi_gpus_sim(dtxi_sched_of(r->cl)->gpus))) {
          char key[DTX_MAX_KEY];
          key_of(g, f->gid, key, sizeof key);
          if (r->gpu)
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

static dtx_status plan(run *r, const dtx_task_id *outs, int nout) {
  const dtx_graph *g = r->g;
  uint32_t n = g->n;
  dtx_status rc = DTX_OK;
  for (int j = 0; j < nout; j++)
    if (outs[j] >= n)
      return dtxi_fail(DTX_EINVAL, "dtx_compute: output %d is id %u, which is not a task of this graph (it has %u tasks)",
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
  uint32_t m = r->m;
  r->rt = dtxi_scratch_get(r->scratch, S_RT, (size_t)m * sizeof *r->rt);
  r->roots = dtxi_scratch_get(r->scratch, S_ROOTS, (size_t)m * sizeof *r->roots);
  r->ranges = dtxi_scratch_get(r->scratch, S_RANGES, (size_t)m * sizeof *r->ranges);
  if (r->rt == NULL || r->roots == NULL || r->ranges == NULL) {
    rc = dtxi_fail(DTX_ENOMEM, "dtx_compute: out of memory for %u tasks", m);
    goto out;
  }
  for (uint32_t i = 0; i < m; i++) {
    rtask *t = &r->rt[i];
    atomic_init(&t->pending, 0);
    t->gid = post[i];
    t->run = r;
    t->dep_off = t->ndeps = 0;
    t->nrefs = t->tid = 0;
    t->out = NULL;
    t->res = NULL;
    t->err = NULL;
    t->t0 = t->t1 = 0;
    t->on_cpu = 0;
    t->pid = 0;
    t->ahead = t->gpu_done = 0;
  }
  DTX_CHECK_GOTO(wire(r, r->threads || g->has_priority), rc, out);
  if (g->has_priority) {
    /* Kahn's algorithm taking the highest user priority first, ties in walk
     * order; then renumber the run in that order. */
    uint32_t *heap = height, nheap = 0, *order = (uint32_t *)stack, norder = 0;
    int32_t *pend = malloc((size_t)m * sizeof *pend);
    if (pend == NULL) {
      rc = dtxi_fail(DTX_ENOMEM, "dtx_compute: out of memory ordering %u tasks", m);
      goto out;
    }
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
    DTX_CHECK_GOTO(wire(r, r->threads), rc, out);
  }
  for (int j = 0; j < nout; j++) r->rt[r->map[outs[j]]].nrefs++;
  if (r->gpu) dtxi_gpu_plan(r);
out:
  free(kids_block);
  free(kids);
  return rc;
}

/* ---- running ---------------------------------------------------------------------- */

static void run_sync(run *r) {
  dtx_cluster *cl = r->cl;
  dtxi_worker *w = dtxi_sched_of(cl)->pool != NULL ? dtxi_pool_self(dtxi_sched_of(cl)->pool) : NULL;
  int worker = w != NULL ? w->index : -1;
  int tid = w != NULL ? w->index + 1 : (r->trace ? dtxi_trace_caller_tid(dtxi_sched_of(cl)->trace) : 0);
  int64_t ran = 0, failed = 0;
  for (uint32_t i = 0; i < r->m; i++) {
    int outcome = exec_body(r, &r->rt[i], worker, tid);
    ran += outcome != SKIPPED;
    failed += outcome == RAN_FAILED;
  }
  dtxi_sched_count(dtxi_sched_of(cl), ran, failed);
}

static void run_threads(run *r) {
  dtx_cluster *cl = r->cl;
  atomic_init(&r->remaining, (int32_t)r->m);
  atomic_init(&r->nranges, 1);
  r->ranges[0].run = r;
  r->ranges[0].lo = 0;
  r->ranges[0].hi = r->nroots;
  dtxi_pool_submit(dtxi_sched_of(cl)->pool, (dtxi_job)&r->ranges[0] | DTXI_JOB_RANGE);
  dtxi_worker *w = dtxi_pool_self(dtxi_sched_of(cl)->pool);
  for (;;) {
    if (atomic_load(&r->done)) break;
    /* A task computing a graph lends its worker to the pool while it waits. */
    if (w != NULL && dtxi_pool_help(dtxi_sched_of(cl)->pool, w)) continue;
    pthread_mutex_lock(&r->mu);
    if (!atomic_load(&r->done)) {
      if (w == NULL) {
        pthread_cond_wait(&r->cv, &r->mu);
      } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 1000000;
        if (ts.tv_nsec >= 1000000000) {
          ts.tv_sec++;
          ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
      }
    }
    pthread_mutex_unlock(&r->mu);
  }
  /* The finisher sets `done` under the mutex: taking it once more makes sure
   * it has let go before the run (and its mutex) is torn down. */
  pthread_mutex_lock(&r->mu);
  pthread_mutex_unlock(&r->mu);
}

/* The key of input i of task ctx (a gtask of graph run->g): for the trace. */
static void input_key(void *ctx, uint32_t i, char *buf, size_t n) {
  const rtask *t = ctx;
  key_of(t->run->g, dtxi_gt_inputs(&t->run->g->tasks[t->gid])[i], buf, n);
}

static void emit_trace(run *r) {
  dtxi_trace *tr = dtxi_sched_of(r->cl)->trace;
  char key[DTX_MAX_KEY];
  for (uint32_t i = 0; i < r->m; i++) {
    rtask *t = &r->rt[i];
    if (t->t0 == 0 || t->pid != 0) continue; /* GPU slices are written as the tasks end */
    key_of(r->g, t->gid, key, sizeof key);
    dtxi_trace_task(tr, 1, t->tid, key, "task", dtxi_graph_prefix(r->g, t->gid), t->t0, t->t1,
                    r->g->tasks[t->gid].ninputs, input_key, t, t->err, NULL);
  }
}

static void run_free(run *r) {
  if (r->gpu) dtxi_gpu_run_free(r);
  for (rerr *e = atomic_load(&r->errors), *next; e != NULL; e = next) {
    next = e->next;
    free(e);
  }
  dtxi_scratch_give(dtxi_sched_of(r->cl), r->scratch);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
}

dtx_status dtx_compute(dtx_cluster *cl, dtx_graph *g, const dtx_task_id *outputs, int noutputs, dtx_chunk **results,
                       const dtx_compute_opts *opts) {
  if (cl == NULL) return dtxi_fail(DTX_EINVAL, "dtx_compute: cluster is NULL");
  if (g == NULL) return dtxi_fail(DTX_EINVAL, "dtx_compute: graph is NULL");
  if (noutputs < 0) return dtxi_fail(DTX_EINVAL, "dtx_compute: noutputs is %d; it must be >= 0", noutputs);
  if (noutputs > 0 && outputs == NULL) return dtxi_fail(DTX_EINVAL, "dtx_compute: outputs is NULL with noutputs %d", noutputs);
  if (opts != NULL && opts->size < sizeof(size_t))
    return dtxi_fail(DTX_EINVAL, "dtx_compute: opts->size is %zu; initialise opts with DTX_COMPUTE_OPTS_INIT", opts->size);
  dtx_scheduler sched = dtxi_sched_of(cl)->scheduler;
  if (opts != NULL && opts->size >= sizeof *opts && opts->scheduler != DTX_SCHED_DEFAULT) sched = opts->scheduler;
  if (sched != DTX_SCHED_SYNC && sched != DTX_SCHED_THREADS && sched != DTX_SCHED_CLUSTER)
    return dtxi_fail(DTX_EINVAL,
                     "dtx_compute: unknown scheduler %d; use DTX_SCHED_SYNC, DTX_SCHED_THREADS or DTX_SCHED_CLUSTER",
                     (int)sched);
  if (noutputs == 0) return DTX_OK;
  int busy = 0;
  if (!atomic_compare_exchange_strong(&g->busy, &busy, 1))
    return dtxi_fail(DTX_EBUSY, "dtx_compute: the graph is already being computed by another call");

  run r;
  memset(&r, 0, sizeof r);
  r.cl = cl;
  r.g = g;
  r.trace = dtxi_sched_of(cl)->trace != NULL;
  r.nvtx = dtxi_sched_of(cl)->nvtx;
  r.threads = sched != DTX_SCHED_SYNC;
  r.gpu = sched == DTX_SCHED_CLUSTER && dtxi_sched_of(cl)->gpus != NULL;
  pthread_mutex_init(&r.mu, NULL);
  pthread_cond_init(&r.cv, NULL);
  atomic_init(&r.done, 0);
  atomic_init(&r.any_error, 0);
  atomic_init(&r.errors, NULL);
  atomic_init(&r.first, NULL);
  r.scratch = dtxi_scratch_take(dtxi_sched_of(cl));
  dtx_status rc = r.scratch != NULL ? plan(&r, outputs, noutputs)
                                    : dtxi_fail(DTX_ENOMEM, "dtx_compute: out of memory");
  if (rc == DTX_OK) {
    r.watch = dtxi_watch_begin(&r);
    if (sched == DTX_SCHED_SYNC)
      run_sync(&r);
    else
      run_threads(&r);
    if (r.trace) emit_trace(&r);
    for (int j = 0; j < noutputs; j++) {
      rtask *t = &r.rt[r.map[outputs[j]]];
      dtx_chunk *c;
      if (t->res != NULL) dtxi_gres_release(t->res); /* the caller reads the host copy */
      if (t->err != NULL) {
        c = dtxi_chunk_new_error(DTX_ETASK, t->err, 1);
      } else if (t->out != NULL) {
        c = t->out;
        if (dtxi_chunk_keep(c) != DTX_OK) { /* read back from disk for the caller */
          char *why = strdup(dtx_last_error());
          dtxi_chunk_unref(c);
          c = dtxi_chunk_new_error(DTX_ETASK, why != NULL ? why : "cannot read a spilled output back", 1);
          free(why);
        }
      } else {
        c = dtxi_chunk_new(NULL, 0, 1);
        if (c != NULL) c->data = NULL;
      }
      if (results != NULL)
        results[j] = c;
      else
        dtxi_chunk_unref(c);
    }
    if (r.gpu) DTXI_GPUS_CHECK(dtxi_sched_of(cl)->gpus); /* DTX_CHECK_INVARIANTS builds */
    if (r.watch != NULL) dtxi_watch_end(r.watch);
    rerr *first = atomic_load(&r.first);
    if (first != NULL) rc = dtxi_fail_msg(DTX_ETASK, first->msg);
  }
  run_free(&r);
  atomic_store(&g->busy, 0);
  return rc;
}
