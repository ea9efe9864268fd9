/*
 * scheduler/gpu.c - running graph tasks on GPUs for the cluster scheduler.
 *
 * Owns: per device, its compute streams, its device-to-host stream and its
 * NCCL stream; the progress thread and its list of jobs in flight; the
 * learned durations and output sizes per task name.
 * Threads: any thread dispatches (a CPU worker finishing a producer, the
 * progress thread finishing a GPU producer); a device's streams are fed
 * under that device's mutex (the NCCL streams under nccl_mu). Only the
 * progress thread polls events and completes GPU tasks; no worker ever
 * blocks on a stream.
 *
 * A GPU task runs in two phases. Dispatch: pick the device holding most of
 * the task's input bytes (owner computes), else the one where it would finish
 * first (queued work plus moving the inputs over the measured links); reserve
 * device memory for the inputs it must fetch and its output (spilling least
 * recently used copies, residency.c); inputs with a copy on that device are
 * used in place (the stream waits on their ready event); the others are
 * fetched from their cheapest copy (the host, or another GPU by peer copy or
 * NCCL) and the fetched copy stays there for later readers; enqueue the
 * implementation (the CUDA one; on simulated GPUs the CPU one in its place,
 * run in stream order); record the output's ready event. When it completes:
 * if a CPU task or the caller reads the output, copy it to a host chunk on
 * the d2h stream and record a second event, whose completion finishes the
 * task. The device copy stays until every reader is done.
 */
#include "scheduler/gpu.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "scheduler/gpu_internal.h"
#include "scheduler/task.h"

/* Enqueued behind each event the progress thread waits for: wakes it as soon
 * as the stream gets there, so it need not poll on a timer. */
static int kick(void *arg, char *err, size_t errlen) {
  dtxi_gpus *g = arg;
  (void)err;
  (void)errlen;
  pthread_mutex_lock(&g->mu);
  g->kicked = 1;
  pthread_cond_signal(&g->cv);
  pthread_mutex_unlock(&g->mu);
  return 0;
}

int dtxi_gpus_count(const dtxi_gpus *g) { return g != NULL ? g->ndev : 0; }
int dtxi_gpus_sim(const dtxi_gpus *g) { return g != NULL && g->sim; }

/* ---- learned durations and output sizes --------------------------------------------- */

static uint64_t name_hash(const char *s, int kind) {
  uint64_t h = 1469598103934665603ull;
  for (const char *p = s; *p; p++) {
    if (kind && p > s && p[-1] == '-')
      while (*p >= '0' && *p <= '9') p++; /* a serial: the kind is the same */
    if (*p == '\0') break;
    h = (h ^ (unsigned char)*p) * 1099511628211ull;
  }
  return h | 1;
}

/* A key looks this many places from its home; a new key finding them all
 * taken replaces the one at home (the tables are caches: programs that keep
 * making names, like arrays, never fill them up). */
#define DTXI_PROBES 16

/* Keys are odd (name_hash); a slot being taken over holds this even value
 * until its fields are cleared, so nobody reads them meanwhile. */
#define DTXI_KEY_BUSY 2u

/* The slot of hash h in a table of n entries whose hash field is at
 * (char *)base + i * stride, claiming one when `claim`; -1 if none. A full
 * window gives up the first entry `evictable` allows (clear(i) empties its
 * fields before the new key shows). */
static int table_slot(void *base, size_t stride, int n, uint64_t h, int claim, int (*evictable)(void *, int),
                      void (*clear)(void *, int)) {
  int home = (int)(h % (uint64_t)n);
  for (int k = 0, i = home; k < DTXI_PROBES && k < n; k++, i = (i + 1) % n) {
    _Atomic uint64_t *hp = (_Atomic uint64_t *)((char *)base + (size_t)i * stride);
    uint64_t cur = atomic_load(hp);
    if (cur == h) return i;
    if (cur == 0) {
      if (!claim) return -1;
      uint64_t zero = 0;
      if (atomic_compare_exchange_strong(hp, &zero, h) || zero == h) return i;
    }
  }
  if (!claim) return -1;
  for (int k = 0, i = home; k < DTXI_PROBES && k < n; k++, i = (i + 1) % n) {
    _Atomic uint64_t *hp = (_Atomic uint64_t *)((char *)base + (size_t)i * stride);
    uint64_t cur = atomic_load(hp);
    if (cur == DTXI_KEY_BUSY || !evictable(base, i)) continue;
    if (!atomic_compare_exchange_strong(hp, &cur, DTXI_KEY_BUSY)) {
      if (cur == h) return i; /* another thread took it for this key */
      continue;
    }
    if (!evictable(base, i)) { /* a probe started meanwhile: the key stays */
      atomic_store(hp, cur);
      continue;
    }
    clear(base, i);
    atomic_store(hp, h);
    return i;
  }
  return -1;
}

static int est_evictable(void *base, int i) {
  (void)base;
  (void)i;
  return 1;
}
static void est_clear(void *base, int i) {
  struct dtxi_gpus *g = (struct dtxi_gpus *)((char *)base - offsetof(struct dtxi_gpus, est));
  for (int a = 0; a < 2; a++)
    for (int c = 0; c < 4; c++) atomic_store_explicit(&g->est[i].ns[a][c], 0, memory_order_relaxed);
}
static int out_evictable(void *base, int i) {
  struct dtxi_gpus *g = (struct dtxi_gpus *)((char *)base - offsetof(struct dtxi_gpus, outs));
  return atomic_load(&g->outs[i].probing) == 0; /* a probe running keeps its name */
}
static void out_clear(void *base, int i) {
  struct dtxi_gpus *g = (struct dtxi_gpus *)((char *)base - offsetof(struct dtxi_gpus, outs));
  atomic_store_explicit(&g->outs[i].out_bytes, 0, memory_order_relaxed);
  atomic_store_explicit(&g->outs[i].data_bytes, 0, memory_order_relaxed);
  atomic_store_explicit(&g->outs[i].probing, 0, memory_order_relaxed);
}

/* The durations slot of a task name's kind; the output slot of the name. */
static int est_slot(dtxi_gpus *g, const char *prefix, int claim) {
  return table_slot(g->est, sizeof g->est[0], (int)(sizeof g->est / sizeof g->est[0]), name_hash(prefix, 1),
                    claim, est_evictable, est_clear);
}
static int out_slot(dtxi_gpus *g, const char *prefix, int claim) {
  return table_slot(g->outs, sizeof g->outs[0], (int)(sizeof g->outs / sizeof g->outs[0]), name_hash(prefix, 0),
                    claim, out_evictable, out_clear);
}

/* Size classes of a task's input bytes: < 64 KiB, < 1 MiB, < 16 MiB, more. */
static int size_class(size_t bytes) {
  return bytes < ((size_t)64 << 10) ? 0 : bytes < ((size_t)1 << 20) ? 1 : bytes < ((size_t)16 << 20) ? 2 : 3;
}

int64_t dtxi_gpus_estimate(dtxi_gpus *g, const char *prefix, int on_gpu, size_t bytes) {
  int i = g != NULL ? est_slot(g, prefix, 0) : -1;
  if (i < 0) return 0;
  int c = size_class(bytes);
  /* The class itself, else the nearest class measured, scaled by size. */
  for (int k = 0; k < 4; k++)
    for (int s = -1; s <= 1; s += 2) {
      int cc = c + s * k;
      if (cc < 0 || cc > 3 || (k == 0 && s == 1)) continue;
      int64_t ns = atomic_load_explicit(&g->est[i].ns[on_gpu != 0][cc], memory_order_relaxed);
      if (ns == 0) continue;
      for (int step = cc; step < c; step++) ns *= 16; /* the classes are 16x apart */
      for (int step = c; step < cc; step++) ns /= 16;
      return ns > 0 ? ns : 1;
    }
  return 0;
}

void dtxi_gpus_learn(dtxi_gpus *g, const char *prefix, int on_gpu, size_t bytes, int64_t ns) {
  int i = g != NULL ? est_slot(g, prefix, 1) : -1;
  if (i < 0) return;
  if (ns < 1) ns = 1;
  _Atomic int64_t *e = &g->est[i].ns[on_gpu != 0][size_class(bytes)];
  int64_t old = atomic_load_explicit(e, memory_order_relaxed);
  /* A racing update may be lost; an estimate, not an account. */
  atomic_store_explicit(e, old == 0 ? ns : old + (ns - old) / 4, memory_order_relaxed);
}

void dtxi_gpus_learn_output(dtxi_gpus *g, const char *prefix, size_t bytes) {
  int i = g != NULL ? out_slot(g, prefix, 1) : -1;
  if (i < 0) return;
  int64_t old = atomic_load_explicit(&g->outs[i].out_bytes, memory_order_relaxed);
  while ((int64_t)bytes + 1 > old && !atomic_compare_exchange_weak_explicit(&g->outs[i].out_bytes, &old,
                                                                            (int64_t)bytes + 1, memory_order_relaxed,
                                                                            memory_order_relaxed)) {
  }
}

void dtxi_gpus_learn_data(dtxi_gpus *g, const char *prefix, size_t bytes) {
  int i = g != NULL ? out_slot(g, prefix, 1) : -1;
  if (i >= 0) atomic_store_explicit(&g->outs[i].data_bytes, (int64_t)bytes, memory_order_relaxed);
}

/* Bytes a task of this name gives its readers, as far as is known. */
static size_t data_bytes(dtxi_gpus *g, const char *prefix) {
  int i = out_slot(g, prefix, 0);
  if (i < 0) return 0;
  int64_t d = atomic_load_explicit(&g->outs[i].data_bytes, memory_order_relaxed);
  int64_t o = atomic_load_explicit(&g->outs[i].out_bytes, memory_order_relaxed) - 1;
  return (size_t)(d > o ? d : o > 0 ? o : 0);
}

static void rootq_new(run *r);

void dtxi_gpu_plan(run *r) {
  dtxi_gpus *g = dtxi_sched_of(r->cl)->gpus;
  const dtx_graph *gr = r->g;
  uint8_t explored_cpu[64] = {0}; /* per prefix id (first 64): one CPU sample per run */
  for (uint32_t i = 0; i < r->m; i++) {
    rtask *t = &r->rt[i];
    const gtask *gt = &gr->tasks[t->gid];
    const gimpl *im = &gr->impls[gt->impl];
    if (gt->where != DTX_WHERE_ANY || im->cpu == NULL || im->cuda == NULL) continue;
    const char *prefix = gr->prefixes[gt->prefix];
    /* Input sizes are not known yet: the size this name's outputs had stands in. */
    int slot = out_slot(g, prefix, 0);
    int64_t ob = slot >= 0 ? atomic_load_explicit(&g->outs[slot].out_bytes, memory_order_relaxed) : 0;
    size_t bytes = ob > 0 ? (size_t)(ob - 1) * (gt->ninputs > 0 ? gt->ninputs : 1) : 0;
    int64_t cpu = dtxi_gpus_estimate(g, prefix, 0, bytes), gpu = dtxi_gpus_estimate(g, prefix, 1, bytes);
    if (cpu == 0) {
      /* Never seen on a CPU: run one of this prefix there to learn. */
      if (gt->prefix < 64 && !explored_cpu[gt->prefix]) {
        explored_cpu[gt->prefix] = 1;
        t->on_cpu = 1;
      }
      continue;
    }
    /* Its inputs move to where it runs: those GPU tasks make go to the host
     * for a CPU thread, the others to a GPU (priced on gpu 0's links). */
    double to_host = 0, to_gpu = 0;
    const uint32_t *ins = dtxi_gt_inputs(gt);
    for (uint32_t k = 0; k < gt->ninputs; k++) {
      const rtask *in = &r->rt[r->map[ins[k]]];
      size_t n = data_bytes(g, gr->prefixes[gr->tasks[in->gid].prefix]);
      if (n == 0) continue;
      if (dtxi_gpu_eligible(r, in))
        to_host += dtxi_links_cost_ns(&dtxi_sched_of(r->cl)->links, 0, DTXI_HOST, n);
      else
        to_gpu += dtxi_links_cost_ns(&dtxi_sched_of(r->cl)->links, DTXI_HOST, 0, n);
    }
    t->on_cpu = gpu != 0 && (double)cpu + to_host < (double)gpu + to_gpu;
  }
  rootq_new(r);
}

/* ---- root-task queuing ------------------------------------------------------------ */

struct dtxi_rootq {
  pthread_mutex_t mu;
  rtask **q; /* a ring of roots waiting to start */
  uint32_t head, len, cap;
  int64_t inflight; /* roots started and not finished */
  int64_t limit;    /* roots in flight at most */
};

static int host_paused(const run *r) {
  const dtxi_mem *m = dtxi_sched_of(r->cl)->mem;
  return m->limit > 0 && dtxi_mem_used(m) > m->limit;
}

void dtxi_gpu_root(run *r, rtask *t) {
  struct dtxi_rootq *q = r->rootq;
  if (q == NULL) {
    dtxi_gpu_dispatch(r, t);
    return;
  }
  pthread_mutex_lock(&q->mu);
  int go = q->len == 0 && q->inflight < q->limit && (q->inflight == 0 || !host_paused(r));
  if (go) {
    q->inflight++;
  } else if (q->len < q->cap) {
    q->q[(q->head + q->len++) % q->cap] = t;
  } else {
    go = 1; /* cannot happen: the ring holds every root */
    q->inflight++;
  }
  pthread_mutex_unlock(&q->mu);
  if (go) dtxi_gpu_dispatch(r, t);
}

/* A root task t finished (or failed to start): start queued ones while
 * there is room. No-op for other tasks. */
void dtxi_gpu_root_done(run *r, rtask *t) {
  struct dtxi_rootq *q = r->rootq;
  if (q == NULL || r->g->tasks[t->gid].ninputs != 0) return;
  pthread_mutex_lock(&q->mu);
  q->inflight--;
  for (;;) {
    if (q->len == 0 || q->inflight >= q->limit || (q->inflight > 0 && host_paused(r))) break;
    rtask *next = q->q[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    q->inflight++;
    pthread_mutex_unlock(&q->mu);
    dtxi_gpu_dispatch(r, next);
    pthread_mutex_lock(&q->mu);
  }
  pthread_mutex_unlock(&q->mu);
}

void dtxi_gpu_run_free(run *r) {
  struct dtxi_rootq *q = r->rootq;
  if (q == NULL) return;
  pthread_mutex_destroy(&q->mu);
  free(q->q);
  free(q);
  r->rootq = NULL;
}

static void rootq_new(run *r) {
  dtxi_gpus *g = dtxi_sched_of(r->cl)->gpus;
  uint32_t roots = 0;
  for (uint32_t i = 0; i < r->nroots; i++)
    if (dtxi_gpu_eligible(r, &r->rt[r->roots[i]])) roots++;
  int window = g->set.window;
  int64_t limit = (int64_t)(window > g->dev[0].ncompute ? window : g->dev[0].ncompute) * g->ndev;
  if (roots <= limit) return; /* they all start at once anyway */
  struct dtxi_rootq *q = calloc(1, sizeof *q);
  if (q == NULL || (q->q = malloc((size_t)roots * sizeof *q->q)) == NULL) {
    free(q); /* without it, roots all start at once */
    return;
  }
  pthread_mutex_init(&q->mu, NULL);
  q->cap = roots;
  q->limit = limit;
  r->rootq = q;
}

int dtxi_gpu_eligible(const run *r, const rtask *t) {
  const gtask *gt = &r->g->tasks[t->gid];
  return r->gpu && !t->on_cpu && gt->where != DTX_WHERE_CPU && r->g->impls[gt->impl].cuda != NULL;
}

/* ---- the task's view ---------------------------------------------------------- */

const void *dtxi_gpu_input(const gjob *j, int i, size_t *size) {
  if (i < 0 || i >= j->ninputs) {
    if (size != NULL) *size = 0;
    return NULL;
  }
  if (size != NULL) *size = j->in_size[i];
  return j->in_ptr[i];
}

/* Device memory for an output larger than reserved at dispatch: spill to make
 * room. On sim the task runs on its stream's own thread, which waits for the
 * spills here; on CUDA it runs at dispatch (d->mu held), and the stream waits. */
static int output_room(gjob *j, int64_t extra) {
  gdev *d = j->dev;
  dtxi_gpus *g = dtxi_sched_of(j->r->cl)->gpus;
  dtxi_event *ev = NULL;
  if (j->on_stream) pthread_mutex_lock(&d->mu);
  int ok = dtxi_reserve(g, d, extra, &ev);
  if (j->on_stream) pthread_mutex_unlock(&d->mu);
  if (ev != NULL) {
    if (j->on_stream)
      dtxi_event_sync(ev);
    else if (dtxi_stream_wait(j->s, ev) != DTX_OK)
      ok = 0; /* reserved all the same: given back with the job */
    dtxi_event_destroy(ev);
  }
  if (ok) j->out_charged += extra;
  return ok;
}

void *dtxi_gpu_output(gjob *j, size_t size) {
  if (j->has_out && j->out_ptr != NULL && !j->borrowed) dtxi_free_async(j->s, j->out_ptr);
  j->borrowed = 0;
  j->out_ptr = NULL;
  j->out_size = size;
  j->has_out = 1;
  int64_t extra = (int64_t)size - j->out_charged;
  if (extra > 0 && j->dev->limit > 0 && !output_room(j, extra)) {
    char buf[240];
    snprintf(buf, sizeof buf,
             "its %zu-byte output does not fit under gpu %d's memory limit of %lld bytes%s; "
             "raise DTX_DEVICE_MEMORY_LIMIT or use smaller chunks",
             size, j->dev->index, (long long)j->dev->limit,
             (int64_t)size > j->dev->limit ? "" : " (the rest is held by data in use)");
    j->has_out = 0;
    free(j->alloc_err);
    j->alloc_err = strdup(buf);
    return NULL;
  }
  if (extra > 0 && j->dev->limit == 0) {
    dtxi_charge(dtxi_sched_of(j->r->cl)->gpus, j->dev, extra);
    j->out_charged += extra;
  }
  if (dtxi_alloc_async(j->s, size > 0 ? size : 1, &j->out_ptr) != DTX_OK) {
    j->has_out = 0;
    j->out_ptr = NULL;
    free(j->alloc_err);
    j->alloc_err = strdup(dtx_last_error());
    return NULL;
  }
  /* Learnt once its room is had, so that tasks of the same name dispatched
   * meanwhile cannot take it first. */
  const gtask *gt = &j->r->g->tasks[j->t->gid];
  dtxi_gpus_learn_output(dtxi_sched_of(j->r->cl)->gpus, j->r->g->prefixes[gt->prefix], size);
  return j->out_ptr;
}

int dtxi_gpu_device(const gjob *j) { return j->dev->index; }

/* ---- persisted arrays' chunks ------------------------------------------------------------- */

/* On a GPU: once the task has succeeded, the copy of input i it read there
 * goes to *slot instead of being freed with the output's other copies. */
static dtx_status keep_input_later(gjob *j, int i, dtxi_kept *slot) {
  if (i < 0 || i >= j->ninputs || j->in_size[i] == 0)
    return dtxi_fail(DTX_EINVAL, "keeping input %d on gpu %d: the task has no such input with data", i,
                     j->dev->index);
  j->keep_slot = slot;
  j->keep_in = i;
  if (j->temp[i]) { /* its own buffer (no residency record): not freed with the inputs */
    j->temp[i] = 0;
    j->keep_temp = 1;
  }
  return DTX_OK;
}

int dtxi_keep_task(dtx_task_ctx *ctx) {
  dtxi_kept *slot = *(dtxi_kept *const *)dtx_task_args(ctx, NULL);
  if (ctx->gpu != NULL)
    return keep_input_later(ctx->gpu, 0, slot) == DTX_OK ? 0 : dtx_task_fail(ctx, "%s", dtx_last_error());
  size_t n = 0;
  const void *in = dtx_task_input(ctx, 0, &n);
  void *p = malloc(n > 0 ? n : 1);
  if (p == NULL) return dtx_task_fail(ctx, "out of memory keeping a %zu-byte chunk", n);
  if (n > 0) memcpy(p, in, n);
  slot->dev = -1;
  slot->ptr = p;
  slot->size = n;
  return 0;
}

static int unpin_host(void *arg, char *err, size_t errlen) {
  (void)err;
  (void)errlen;
  dtxi_chunk_unpin(arg);
  return 0;
}

/* At dispatch on device d (its feed lock held): a kept source lends the
 * chunk's device memory (one user counted for the job, so it cannot spill
 * meanwhile), or reads a spilled one back into an output of its size. The
 * bytes to reserve for the output. */
static int64_t kept_dispatch(dtxi_gpus *g, gjob *j, gdev *d, dtxi_kept *ks) {
  int64_t out = 0;
  pthread_mutex_lock(&g->res_mu);
  if (ks->dev == d->index && ks->ptr != NULL) {
    ks->users++;
    dtxi_kept_touch(d, ks);
    j->borrow_slot = ks;
    j->kept_ptr = ks->ptr;
  } else if (ks->dev == d->index && ks->spill != NULL) {
    atomic_fetch_add_explicit(&ks->spill->refs, 1, memory_order_relaxed);
    j->unspill = ks->spill;
    out = (int64_t)ks->size;
  }
  pthread_mutex_unlock(&g->res_mu);
  return out;
}

/* Gives back what kept_dispatch took for a job that will not run. */
static void kept_undispatch(dtxi_gpus *g, gjob *j) {
  if (j->borrow_slot == NULL) return;
  pthread_mutex_lock(&g->res_mu);
  j->borrow_slot->users--;
  pthread_mutex_unlock(&g->res_mu);
  j->borrow_slot = NULL;
}

int dtxi_kept_source(dtx_task_ctx *ctx) {
  dtxi_kept *slot = *(dtxi_kept *const *)dtx_task_args(ctx, NULL);
  gjob *j = ctx->gpu;
  if (j == NULL) {
    if (slot->dev >= 0)
      return dtx_task_fail(ctx, "a chunk persisted on gpu %d is read on a CPU thread; compute it with the cluster "
                                "scheduler that persisted it", slot->dev);
    void *out = dtx_task_output(ctx, slot->size);
    if (out == NULL) return dtx_task_fail(ctx, "out of memory for a %zu-byte chunk", slot->size);
    memcpy(out, slot->ptr, slot->size);
    return 0;
  }
  if (j->borrow_slot == slot) { /* lent in place */
    if (j->has_out && j->out_ptr != NULL && !j->borrowed) dtxi_free_async(j->s, j->out_ptr);
    j->out_ptr = j->kept_ptr;
    j->out_size = slot->size;
    j->has_out = 1;
    j->borrowed = 1;
    return 0;
  }
  dtxi_kspill *sp = j->unspill;
  if (sp == NULL)
    return dtx_task_fail(ctx, "a chunk persisted on gpu %d has no data there (read on gpu %d)", slot->dev,
                         j->dev->index);
  /* Spilled: back to the GPU as this task's output (room reserved at
   * dispatch), kept there again once done. */
  void *out = dtxi_gpu_output(j, slot->size);
  if (out == NULL) return dtx_task_fail(ctx, "no room on gpu %d to read a persisted chunk back", j->dev->index);
  if (dtxi_chunk_pin(sp->host) != DTX_OK) return dtx_task_fail(ctx, "%s", dtx_last_error());
  gdev *d = j->dev;
  if (j->on_stream) { /* sim: the task runs in stream order on the stream's thread */
    if (sp->ready != NULL) dtxi_event_sync(sp->ready);
    memcpy(out, sp->host->data, slot->size);
    dtxi_chunk_unpin(sp->host);
  } else {
    int copied = 0;
    dtx_status rc = sp->ready != NULL ? dtxi_stream_wait(j->s, sp->ready) : DTX_OK;
    if (rc == DTX_OK)
      copied = (rc = dtxi_copy_async(j->s, out, d->index, sp->host->data, DTXI_HOST, slot->size)) == DTX_OK;
    if (rc == DTX_OK) rc = dtxi_host_fn(j->s, unpin_host, sp->host);
    if (rc != DTX_OK) {
      if (!copied) dtxi_chunk_unpin(sp->host);
      return dtx_task_fail(ctx, "%s", dtx_last_error());
    }
  }
  pthread_mutex_lock(&dtxi_sched_of(j->r->cl)->gpus->res_mu);
  d->unspills++;
  d->unspilled_bytes += (int64_t)slot->size;
  pthread_mutex_unlock(&dtxi_sched_of(j->r->cl)->gpus->res_mu);
  j->rekeep = slot;
  return 0;
}

/* Keepers of every cluster; taken before any device's feed lock. */
static pthread_mutex_t keepers_mu = PTHREAD_MUTEX_INITIALIZER;

dtxi_keeper *dtxi_keeper_new(dtx_cluster *cl, int64_t n) {
  dtxi_keeper *k = calloc(1, sizeof *k + (size_t)n * sizeof(dtxi_kept));
  if (k == NULL) {
    dtxi_fail(DTX_ENOMEM, "out of memory for %lld persisted chunks", (long long)n);
    return NULL;
  }
  k->n = n;
  for (int64_t b = 0; b < n; b++) k->slot[b].dev = -1;
  pthread_mutex_lock(&keepers_mu);
  k->g = cl != NULL ? dtxi_sched_of(cl)->gpus : NULL;
  if (k->g != NULL) {
    k->next = k->g->keepers;
    if (k->next != NULL) k->next->prev = k;
    k->g->keepers = k;
  }
  pthread_mutex_unlock(&keepers_mu);
  return k;
}

/* Frees slot's device memory (keepers_mu held). */
static void kept_free(dtxi_gpus *g, dtxi_kept *slot) {
  if (slot->dev < 0 || slot->dev >= g->ndev) return;
  gdev *d = &g->dev[slot->dev];
  pthread_mutex_lock(&d->mu);
  pthread_mutex_lock(&g->res_mu);
  void *ptr = slot->ptr;
  dtxi_kspill *sp = slot->spill;
  dtxi_kept_unlist(d, slot);
  if (ptr != NULL) {
    d->used -= (int64_t)slot->size;
    d->kept -= (int64_t)slot->size;
  }
  slot->ptr = NULL;
  slot->spill = NULL;
  pthread_mutex_unlock(&g->res_mu);
  if (ptr != NULL) dtxi_free_async(d->d2h, ptr);
  pthread_mutex_unlock(&d->mu);
  dtxi_kspill_unref(sp);
}

void dtxi_keeper_clear(dtxi_keeper *k) {
  int gave = 0;
  pthread_mutex_lock(&keepers_mu);
  for (int64_t b = 0; b < k->n; b++) {
    dtxi_kept *slot = &k->slot[b];
    if (slot->dev < 0) {
      free(slot->ptr);
    } else if (k->g != NULL) {
      gave |= slot->ptr != NULL;
      kept_free(k->g, slot);
    }
    *slot = (dtxi_kept){.dev = -1};
  }
  /* tasks may have waited for that room (under the lock: the cluster cannot
   * be stopped meanwhile) */
  if (gave && k->g != NULL) dtxi_retry_parked(k->g);
  pthread_mutex_unlock(&keepers_mu);
}

void dtxi_keeper_free(dtxi_keeper *k) {
  if (k == NULL) return;
  dtxi_keeper_clear(k);
  pthread_mutex_lock(&keepers_mu);
  if (k->g != NULL) {
    if (k->prev != NULL) k->prev->next = k->next; else k->g->keepers = k->next;
    if (k->next != NULL) k->next->prev = k->prev;
  }
  pthread_mutex_unlock(&keepers_mu);
  free(k);
}

/* The job asked to keep an input (dtxi_task_keep_input): once it succeeded
 * (ok), that input's copy here goes to the slot, charged to the device from
 * now on as a persisted chunk. */
static void keep_input(gjob *j, int ok) {
  dtxi_gpus *g = dtxi_sched_of(j->r->cl)->gpus;
  gdev *d = j->dev;
  dtxi_kept *slot = j->keep_slot;
  int i = j->keep_in;
  size_t n = j->in_size[i];
  j->keep_slot = NULL;
  if (j->keep_temp) {
    void *p = j->in_ptr[i];
    j->in_ptr[i] = NULL;
    j->keep_temp = 0;
    if (ok && p != NULL) {
      j->in_charged -= (int64_t)n; /* held by the slot now */
      pthread_mutex_lock(&g->res_mu);
      dtxi_kept_set(d, slot, p, n, 0);
      pthread_mutex_unlock(&g->res_mu);
    } else if (p != NULL) {
      pthread_mutex_lock(&d->mu);
      dtxi_free_async(j->s, p);
      pthread_mutex_unlock(&d->mu);
    }
    return;
  }
  if (!ok) return;
  const gtask *gt = &j->r->g->tasks[j->t->gid];
  const rtask *in = &j->r->rt[j->r->map[dtxi_gt_inputs(gt)[i]]];
  gres *res = in->res;
  int kept = 0;
  pthread_mutex_lock(&g->res_mu);
  if (res != NULL && dtxi_copy_keep(g, &res->copy[d->index], slot)) kept = 1;
  pthread_mutex_unlock(&g->res_mu);
  if (!kept) {
    char msg[96];
    snprintf(msg, sizeof msg, "input %d has no copy of its own on gpu %d to keep", i, d->index);
    j->err = dtxi_gpu_task_error(j->r, j->t, msg);
  }
}
void *dtxi_gpu_native_stream(const gjob *j) { return j->s->b->ops->native_stream(j->s); }

static void invoke(gjob *j, dtx_task_fn fn) {
  run *r = j->r;
  const gtask *gt = &r->g->tasks[j->t->gid];
  dtx_task_ctx ctx = {.cl = r->cl, .worker = -1, .run = r, .rt = j->t, .gt = gt, .gpu = j};
  char *msg = NULL;
  if (dtxi_task_invoke(&ctx, fn, r->g->prefixes[gt->prefix], gt->nidx, gt->idx, &msg)) {
    if (msg != NULL && j->alloc_err != NULL) {
      /* Say why the output could not be had. */
      size_t len = strlen(msg) + strlen(j->alloc_err) + 4;
      char *both = malloc(len);
      if (both != NULL) {
        snprintf(both, len, "%s (%s)", msg, j->alloc_err);
        free(msg);
        msg = both;
      }
    }
    j->err = msg != NULL ? msg : strdup("task failed");
    if (j->has_out && j->out_ptr != NULL && !j->borrowed) dtxi_free_async(j->s, j->out_ptr);
    j->has_out = 0;
    j->out_ptr = NULL;
  }
}

/* Simulated GPUs run the CPU implementation in stream order. A task's own
 * failure is kept in the job (the stream stays healthy for others). */
static int sim_task(void *arg, char *err, size_t errlen) {
  gjob *j = arg;
  j->on_stream = 1;
  j->t_run0 = dtxi_now_ns();
  int skip = 0;
  if (j->ahead_src != NULL) {
    /* Its producer ran just before (this stream waited for it). */
    j->in_ptr[j->ahead_in] = j->ahead_src->ptr;
    j->in_size[j->ahead_in] = j->ahead_src->size;
    skip = j->ahead_src->failed; /* it fails with its input when done */
  }
  if (!skip) invoke(j, j->r->g->impls[j->r->g->tasks[j->t->gid].impl].cpu);
  if (j->slot != NULL) {
    j->slot->ptr = j->has_out ? j->out_ptr : NULL;
    j->slot->size = j->has_out ? j->out_size : 0;
    j->slot->failed = skip || j->err != NULL;
  }
  j->t_run1 = dtxi_now_ns();
  (void)err;
  (void)errlen;
  return 0;
}

static void handoff(dtxi_gpus *g, gjob *j) {
  pthread_mutex_lock(&g->mu);
  j->next = g->incoming;
  g->incoming = j;
  pthread_cond_signal(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

/* ---- placement ------------------------------------------------------------------------ */

static size_t input_size(const rtask *in) {
  return in->out != NULL ? in->out->size : in->res != NULL ? in->res->size : 0;
}

/* Owner computes: the device holding most input bytes; else the earliest
 * estimated finish. */
static gdev *choose(dtxi_gpus *g, const run *r, const gtask *gt) {
  if (gt->where > 0) return &g->dev[gt->where - 1]; /* checked against ndev at plan */
  size_t bytes[DTXI_MAX_GPUS] = {0}, most = 0, total = 0;
  gdev *best = NULL;
  const uint32_t *ins = dtxi_gt_inputs(gt);
  for (uint32_t i = 0; i < gt->ninputs; i++) {
    const rtask *in = &r->rt[r->map[ins[i]]];
    size_t n = input_size(in);
    total += n;
    if (in->res == NULL || n == 0) continue;
    uint32_t mask = atomic_load_explicit(&in->res->resident, memory_order_relaxed);
    for (int d = 0; d < g->ndev; d++)
      if (mask & (1u << d)) bytes[d] += n;
  }
  for (int d = 0; d < g->ndev; d++)
    if (bytes[d] > most) {
      most = bytes[d];
      best = &g->dev[d];
    }
  if (best != NULL && most * 2 >= total) return best; /* most of it is there */
  /* Earliest estimated finish: where the device's queue ends, plus moving
   * the inputs it lacks there over the measured links (the task's own
   * duration is the same on every device of a node). Ties go to the least
   * busy. */
  double best_cost = 0;
  best = NULL;
  for (int d = 0; d < g->ndev; d++) {
    double cost = (double)atomic_load(&g->dev[d].queued_ns);
    for (uint32_t i = 0; i < gt->ninputs; i++) {
      const rtask *in = &r->rt[r->map[ins[i]]];
      size_t n = input_size(in);
      uint32_t mask = in->res != NULL ? atomic_load_explicit(&in->res->resident, memory_order_relaxed) : 0;
      if (n == 0 || (mask & (1u << d))) continue;
      double c = in->out != NULL ? dtxi_links_cost_ns(&dtxi_sched_of(r->cl)->links, DTXI_HOST, d, n) : 1e30;
      for (int e = 0; e < g->ndev; e++)
        if (mask & (1u << e)) {
          double pc = dtxi_links_cost_ns(&dtxi_sched_of(r->cl)->links, e, d, n);
          if (pc < c) c = pc;
        }
      cost += c < 1e30 ? c : 0;
    }
    if (best == NULL || cost < best_cost ||
        (cost == best_cost && atomic_load(&g->dev[d].inflight) < atomic_load(&best->inflight))) {
      best = &g->dev[d];
      best_cost = cost;
    }
  }
  return best;
}

/* ---- dispatch ------------------------------------------------------------------------- */

static void slot_unref(gahead *s) {
  if (s != NULL && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) free(s);
}

static void free_job(gjob *j) {
  if (j->probe_slot > 0) { /* the probe ends, if its name still has the slot */
    dtxi_gpus *g = dtxi_sched_of(j->r->cl)->gpus;
    const gtask *gt = &j->r->g->tasks[j->t->gid];
    if (atomic_load(&g->outs[j->probe_slot - 1].hash) == name_hash(j->r->g->prefixes[gt->prefix], 0))
      atomic_store(&g->outs[j->probe_slot - 1].probing, 0);
  }
  slot_unref(j->slot);
  slot_unref(j->ahead_src);
  dtxi_kspill_unref(j->unspill);
  dtxi_event_destroy(j->ev);
  dtxi_event_destroy(j->ev2);
  dtxi_event_destroy(j->room_ev);
  for (int i = 0; j->tev != NULL && i <= j->ninputs; i++) dtxi_event_destroy(j->tev[i]);
  for (int i = 0; i < j->nxev; i++) dtxi_event_destroy(j->xev[i]);
  free(j->in_ptr);
  free(j->in_size);
  free(j->how);
  free(j->pinned);
  free(j->made);
  free(j->hpinned);
  free(j->temp);
  free(j->tev);
  free(j->xev);
  free(j->alloc_err);
  free(j);
}

/* Drops the job's pins of the copies and host chunks it read. */
static void unpin_inputs(gjob *j) {
  dtxi_gpus *g = dtxi_sched_of(j->r->cl)->gpus;
  for (int i = 0; i < j->ninputs; i++) {
    if (j->pinned[i] != NULL) {
      dtxi_copy_unpin(g, j->pinned[i]);
      j->pinned[i] = NULL;
    }
    if (j->made[i] != NULL) {
      dtxi_copy_unpin(g, j->made[i]);
      j->made[i] = NULL;
    }
    if (j->hpinned[i] != NULL) {
      dtxi_chunk_unpin(j->hpinned[i]);
      j->hpinned[i] = NULL;
    }
  }
}

/* Frees the job's own input buffers on stream s (in order behind their use). */
static void free_inputs(gjob *j, dtxi_stream *s) {
  for (int i = 0; i < j->ninputs; i++)
    if (j->temp[i] && j->in_ptr[i] != NULL) {
      dtxi_free_async(s, j->in_ptr[i]);
      j->in_ptr[i] = NULL;
    }
}

/* Frees a job that never reached the progress thread. */
static void kept_undispatch(dtxi_gpus *g, gjob *j);

static void drop_job(gjob *j) {
  dtxi_gpus *g = dtxi_sched_of(j->r->cl)->gpus;
  kept_undispatch(g, j);
  if (j->ahead_src != NULL) {
    j->ahead_src->readers--; /* on the producer's dispatch thread, before it is handed off */
    atomic_fetch_sub(&j->dev->ahead, 1);
  }
  unpin_inputs(j);
  dtxi_uncharge(g, j->dev, j->in_charged + j->out_charged);
  atomic_fetch_sub(&j->dev->inflight, 1);
  atomic_fetch_sub(&j->dev->queued_ns, j->est_ns);
  free_job(j);
}

static gjob *job_new(run *r, rtask *t, int ninputs) {
  size_t n = ninputs > 0 ? (size_t)ninputs : 1;
  gjob *j = calloc(1, sizeof *j);
  if (j == NULL) return NULL;
  j->in_ptr = calloc(n, sizeof *j->in_ptr);
  j->in_size = calloc(n, sizeof *j->in_size);
  j->how = calloc(n, 1);
  j->pinned = calloc(n, sizeof *j->pinned);
  j->made = calloc(n, sizeof *j->made);
  j->hpinned = calloc(n, sizeof *j->hpinned);
  j->temp = calloc(n, 1);
  j->xev = calloc(2 * n + DTXI_MAX_GPUS + 2, sizeof *j->xev);
  if (r->trace) j->tev = calloc(n + 1, sizeof *j->tev);
  j->r = r;
  j->t = t;
  j->ninputs = ninputs;
  j->phase = 1;
  if (j->in_ptr == NULL || j->in_size == NULL || j->how == NULL || j->pinned == NULL || j->made == NULL ||
      j->hpinned == NULL ||
      j->temp == NULL || j->xev == NULL || (r->trace && j->tev == NULL)) {
    free_job(j);
    return NULL;
  }
  return j;
}

/* Where input i comes from when it is not on the job's device. */
typedef struct source {
  const void *ptr;
  int dev;           /* DTXI_HOST or a device */
  dtxi_event *wait;  /* to wait on before reading it; NULL: ready */
  gres *res;         /* the output's residency (replica registered there), or NULL */
} source;

/* The cheapest valid copy of `in` to move to device d (res_mu held). */
static void pick_source(dtxi_gpus *g, gjob *j, int i, const rtask *in, gdev *d, source *src) {
  gres *res = in->res;
  size_t n = j->in_size[i];
  dtx_p2p p2p = g->set.p2p;
  src->res = res;
  src->dev = DTXI_HOST;
  src->ptr = NULL;
  src->wait = NULL;
  double best = 1e300;
  if (in->out != NULL) {
    src->ptr = in->out->data;
    best = dtxi_links_cost_ns(&dtxi_sched_of(j->r->cl)->links, DTXI_HOST, d->index, n);
  } else if (res != NULL && res->host != NULL) {
    src->ptr = res->host->data;
    src->wait = res->host_ready;
    best = dtxi_links_cost_ns(&dtxi_sched_of(j->r->cl)->links, DTXI_HOST, d->index, n);
  }
  for (int e = 0; res != NULL && e < g->ndev; e++) {
    if (e == d->index || res->copy[e].ptr == NULL) continue;
    double c = dtxi_links_cost_ns(&dtxi_sched_of(j->r->cl)->links, e, d->index, n);
    if (src->ptr == NULL || c < best || p2p != DTX_P2P_AUTO) {
      best = c;
      src->ptr = res->copy[e].ptr;
      src->dev = e;
      src->wait = res->copy[e].ready;
      if (p2p != DTX_P2P_AUTO) break; /* GPU to GPU asked for */
    }
  }
  if (src->dev == DTXI_HOST) {
    j->how[i] = IN_HOST;
  } else {
    j->how[i] = g->nccl ? IN_NCCL : IN_PEER;
    dtxi_copy_pin(&res->copy[src->dev]);
    j->pinned[i] = &res->copy[src->dev];
  }
}

/* ---- host-to-device moves through pinned staging buffers ------------------------- */

static int stage_fill(void *arg, char *err, size_t errlen) {
  gstage *st = arg;
  (void)err;
  (void)errlen;
  memcpy(st->buf, st->src, st->len);
  return 0;
}

static int stage_put(void *arg, char *err, size_t errlen) {
  gstage *st = arg;
  (void)err;
  (void)errlen;
  pthread_mutex_lock(&st->dev->stage_mu);
  st->next = st->dev->stage_free;
  st->dev->stage_free = st;
  pthread_mutex_unlock(&st->dev->stage_mu);
  return 0;
}

/* A free staging buffer of d (d->mu held), allocating the pool at first use;
 * NULL when all are in use (the move then goes straight from the chunk). A
 * buffer whose give-back was skipped by a stream fault stays out of the pool. */
static gstage *stage_get(dtxi_gpus *g, gdev *d) {
  if (d->nstage == 0) {
    for (int k = 0; k < DTXI_STAGE_COUNT; k++) {
      gstage *st = &d->stage[k];
      if (g->b->ops->host_alloc(g->b, DTXI_STAGE_BYTES, &st->buf) != DTX_OK) break;
      st->dev = d;
      pthread_mutex_lock(&d->stage_mu);
      st->next = d->stage_free;
      d->stage_free = st;
      pthread_mutex_unlock(&d->stage_mu);
      d->nstage = k + 1;
    }
    if (d->nstage == 0) d->nstage = -1; /* no pinned memory: never try again */
  }
  pthread_mutex_lock(&d->stage_mu);
  gstage *st = d->stage_free;
  if (st != NULL) d->stage_free = st->next;
  pthread_mutex_unlock(&d->stage_mu);
  return st;
}

/* Moves n bytes from src (host memory, or device src_dev) to dst (allocated
 * on j->s) on a copy stream of j's device, overlapped with the compute
 * streams: host moves on h2d through staging buffers, GPU moves on peer; the
 * job's stream waits for it. `wait`: an event the source needs first. d->mu
 * held. *staged: bytes that went through a staging buffer. */
static dtx_status move_in(dtxi_gpus *g, gjob *j, void *dst, const void *src, int src_dev, size_t n,
                          dtxi_event *wait, size_t *staged) {
  gdev *d = j->dev;
  dtxi_stream *cs = src_dev == DTXI_HOST ? d->h2d : d->peer;
  dtxi_event *a = NULL, *b = NULL;
  dtx_status rc = dtxi_event_create(g->b, d->index, &a);
  if (rc == DTX_OK) {
    j->xev[j->nxev++] = a;
    rc = dtxi_event_record(a, j->s); /* dst is allocated */
  }
  if (rc == DTX_OK) rc = dtxi_stream_wait(cs, a);
  if (rc == DTX_OK && wait != NULL) rc = dtxi_stream_wait(cs, wait);
  for (size_t off = 0; off < n && rc == DTX_OK;) {
    size_t len = n - off < DTXI_STAGE_BYTES ? n - off : DTXI_STAGE_BYTES;
    gstage *st = src_dev == DTXI_HOST && n >= DTXI_STAGE_MIN ? stage_get(g, d) : NULL;
    if (st == NULL) {
      rc = dtxi_copy_async(cs, (char *)dst + off, d->index, (const char *)src + off, src_dev, n - off);
      break;
    }
    st->src = (const char *)src + off;
    st->len = len;
    rc = dtxi_host_fn(cs, stage_fill, st);
    if (rc == DTX_OK) rc = dtxi_copy_async(cs, (char *)dst + off, d->index, st->buf, DTXI_HOST, len);
    if (rc == DTX_OK) rc = dtxi_host_fn(cs, stage_put, st);
    if (rc != DTX_OK) {
      stage_put(st, NULL, 0); /* not queued: give it back now */
      break;
    }
    *staged += len;
    off += len;
  }
  if (rc == DTX_OK) rc = dtxi_event_create(g->b, d->index, &b);
  if (rc == DTX_OK) {
    j->xev[j->nxev++] = b;
    rc = dtxi_event_record(b, cs);
  }
  if (rc == DTX_OK) rc = dtxi_stream_wait(j->s, b);
  dtxi_stream_reset(cs); /* a fault fails this move only (its event), not the next one */
  return rc;
}

static void trace_mark(gjob *j, int k) {
  if (j->tev == NULL) return;
  dtxi_gpus *g = dtxi_sched_of(j->r->cl)->gpus;
  if (dtxi_event_create_timed(g->b, j->dev->index, &j->tev[k]) == DTX_OK &&
      dtxi_event_record(j->tev[k], j->s) != DTX_OK) {
    dtxi_event_destroy(j->tev[k]);
    j->tev[k] = NULL;
  }
}

/* Moves the job's NCCL inputs as one group (d->mu held). The compute stream
 * waits for the moves; each source's NCCL stream first waits for its copy. */
static dtx_status nccl_inputs(dtxi_gpus *g, gjob *j, const source *src) {
  gdev *d = j->dev;
  dtxi_p2p_item items[64];
  int n = 0, srcs[DTXI_MAX_GPUS] = {0};
  dtxi_event *alloc_ev = NULL;
  dtx_status rc = dtxi_event_create(g->b, d->index, &alloc_ev);
  if (rc == DTX_OK) {
    j->xev[j->nxev++] = alloc_ev;
    rc = dtxi_event_record(alloc_ev, j->s); /* the destinations are allocated */
  }
  dtxi_stream *streams[DTXI_MAX_GPUS];
  for (int e = 0; e < g->ndev; e++) streams[e] = g->dev[e].nccl;
  pthread_mutex_lock(&g->nccl_mu);
  if (rc == DTX_OK) rc = dtxi_stream_wait(d->nccl, alloc_ev);
  for (int i = 0; i < j->ninputs && rc == DTX_OK; i++) {
    if (j->how[i] != IN_NCCL) continue;
    if (src[i].wait != NULL) rc = dtxi_stream_wait(g->dev[src[i].dev].nccl, src[i].wait);
    items[n] = (dtxi_p2p_item){src[i].dev, src[i].ptr, d->index, j->in_ptr[i], j->in_size[i]};
    srcs[src[i].dev] = 1;
    if (++n == (int)(sizeof items / sizeof items[0]) || i == j->ninputs - 1) {
      if (rc == DTX_OK) rc = dtxi_p2p_group(g->b, items, n, streams);
      n = 0;
    }
  }
  if (rc == DTX_OK && n > 0) rc = dtxi_p2p_group(g->b, items, n, streams);
  /* The compute stream goes on when the receives are done; the sources'
   * copies stay pinned until the job ends, which is after the sends. */
  for (int e = 0; e < g->ndev && rc == DTX_OK; e++) {
    if (e != d->index && !srcs[e]) continue;
    dtxi_event *ev = NULL;
    rc = dtxi_event_create(g->b, e, &ev);
    if (rc == DTX_OK) {
      j->xev[j->nxev++] = ev;
      rc = dtxi_event_record(ev, g->dev[e].nccl);
    }
    if (rc == DTX_OK) rc = dtxi_stream_wait(j->s, ev);
  }
  if (rc != DTX_OK)
    for (int e = 0; e < g->ndev; e++) dtxi_stream_reset(g->dev[e].nccl);
  pthread_mutex_unlock(&g->nccl_mu);
  return rc;
}

static int dispatch_job(run *r, rtask *t, gjob *after);

void dtxi_gpu_dispatch(run *r, rtask *t) { (void)dispatch_job(r, t, NULL); }

/* Run ahead: the GPU dependents of job p whose only unfinished input is p
 * are enqueued now on p's device, behind p's ready event, as a CUDA graph
 * would be, up to DTX_GPU_WINDOW of them per device. Called by p's
 * dispatcher before p is handed to the progress thread, so p cannot finish
 * meanwhile and no dependent can become ready by another path. */
static void run_ahead(dtxi_gpus *g, gjob *p) {
  run *r = p->r;
  rtask *t = p->t;
  if (p->slot == NULL || (!g->sim && p->err != NULL)) return; /* (sim: a failure shows in the slot) */
  int window = g->set.window;
  const uint32_t *deps = r->deps + t->dep_off;
  for (uint32_t k = 0; k < t->ndeps; k++) {
    rtask *c = &r->rt[deps[k]];
    int where = r->g->tasks[c->gid].where;
    if (c->ahead || !dtxi_gpu_eligible(r, c) || (where > 0 && where - 1 != p->dev->index)) continue;
    if (atomic_load_explicit(&c->pending, memory_order_acquire) != 1) continue;
    if (atomic_load(&p->dev->ahead) >= window) return;
    (void)dispatch_job(r, c, p); /* declines when it cannot go now */
  }
}

/* Places t and enqueues it. With `after` (run ahead), t's last unfinished
 * input is after's task: t goes on after's device behind after's ready
 * event, or, when that cannot be done at once (no room, sizes unknown, a
 * failed input), nothing happens and 1 is returned: t is dispatched the usual
 * way when its input finishes. */
static int dispatch_job(run *r, rtask *t, gjob *after) {
  dtxi_gpus *g = dtxi_sched_of(r->cl)->gpus;
  const gtask *gt = &r->g->tasks[t->gid];
  const uint32_t *ins = dtxi_gt_inputs(gt);
  if (atomic_load_explicit(&r->any_error, memory_order_relaxed)) {
    for (uint32_t i = 0; i < gt->ninputs; i++) {
      const rtask *in = &r->rt[r->map[ins[i]]];
      if (in->err != NULL) {
        if (after != NULL) return 1;
        /* Marked failed by a CPU worker, which handles its dependents in a
         * loop (no recursion down long chains of failed GPU tasks). */
        dtxi_run_skip(r, t);
        return 0;
      }
    }
  }
  gjob *j = job_new(r, t, (int)gt->ninputs);
  source *src = calloc(gt->ninputs ? gt->ninputs : 1, sizeof *src);
  dtxi_event **rep = calloc(gt->ninputs ? gt->ninputs : 1, sizeof *rep);
  if (j == NULL || src == NULL || rep == NULL) {
    if (j != NULL) free_job(j);
    free(src);
    free(rep);
    if (after != NULL) return 1;
    dtxi_gpu_fail_now(r, t, dtxi_gpu_task_error(r, t, "out of memory dispatching to a GPU"));
    return 0;
  }
  const char *prefix = r->g->prefixes[gt->prefix];
  gdev *d = j->dev = after != NULL ? after->dev : choose(g, r, gt);
  size_t in_bytes = 0;
  j->ahead_in = -1;
  for (uint32_t i = 0; i < gt->ninputs; i++) {
    rtask *in = &r->rt[r->map[ins[i]]];
    if (after != NULL && in == after->t) {
      j->how[i] = IN_AHEAD;
      j->ahead_in = (int)i;
      /* CUDA: known now; sim: set when it runs (after's own run is writing it) */
      in_bytes += j->in_size[i] = !g->sim && after->has_out ? after->out_size : 0;
      continue;
    }
    in_bytes += j->in_size[i] = input_size(in);
  }
  atomic_fetch_add(&d->inflight, 1);
  j->est_ns = dtxi_gpus_estimate(g, prefix, 1, in_bytes);
  atomic_fetch_add(&d->queued_ns, j->est_ns);
  pthread_mutex_lock(&d->mu);
  j->stream_index = (int)(d->next++ % (unsigned)d->ncompute);
  j->s = d->compute[j->stream_index];
  j->t_dispatch = dtxi_now_ns();

  /* Where each input comes from, pinning the copies read so that no spill
   * takes them away while this job needs them. */
  int64_t need = 0, here = 0; /* bytes to allocate here; bytes already here */
  size_t largest = 0;
  pthread_mutex_lock(&g->res_mu);
  for (uint32_t i = 0; i < gt->ninputs; i++) {
    rtask *in = &r->rt[r->map[ins[i]]];
    size_t n = j->in_size[i];
    if (n > largest) largest = n;
    if (n == 0 || j->how[i] == IN_AHEAD) continue;
    if (in->res != NULL && in->res->copy[d->index].ptr != NULL) {
      gcopy *c = &in->res->copy[d->index];
      j->how[i] = IN_BORROW;
      dtxi_copy_pin(c);
      j->pinned[i] = c;
      j->in_ptr[i] = c->ptr;
      here += (int64_t)n;
      continue;
    }
    pick_source(g, j, (int)i, in, d, &src[i]);
    need += (int64_t)n;
  }
  pthread_mutex_unlock(&g->res_mu);
  /* Host chunks copied from stay in memory (not spilled to disk) until done. */
  for (uint32_t i = 0; i < gt->ninputs; i++) {
    if (j->how[i] != IN_HOST) continue; /* its host copy, if any, is set for good then */
    const rtask *in = &r->rt[r->map[ins[i]]];
    dtx_chunk *c = in->out != NULL ? in->out : in->res != NULL ? in->res->host : NULL;
    if (c == NULL || !c->spillable) continue;
    if (dtxi_chunk_pin(c) != DTX_OK) {
      char *msg = dtxi_gpu_task_error(r, t, dtx_last_error());
      pthread_mutex_unlock(&d->mu);
      drop_job(j);
      free(src);
      free(rep);
      if (after != NULL) {
        free(msg);
        return 1;
      }
      dtxi_gpu_fail_now(r, t, msg);
      return 0;
    }
    j->hpinned[i] = c;
  }

  /* The output: as large as this task's name made before. Under a limit, a
   * name never seen runs one task at a time until one has told its size. */
  int64_t limit = d->limit;
  const gimpl *im = &r->g->impls[gt->impl];
  /* Persisted chunks' own tasks need exactly this much (no learning). */
  int known = im->cuda == dtxi_kept_source || im->cuda == dtxi_keep_task;
  int64_t known_out =
      im->cuda == dtxi_kept_source ? kept_dispatch(g, j, d, *(dtxi_kept *const *)dtxi_gt_args(gt)) : 0;
  int slot = known ? -1 : out_slot(g, prefix, limit > 0);
  int64_t out_est =
      known ? known_out + 1 : slot >= 0 ? atomic_load_explicit(&g->outs[slot].out_bytes, memory_order_relaxed) : 0;
  int fits = 1, probe_busy = 0;
  if (out_est > 0) {
    out_est--;
  } else if (after != NULL) {
    probe_busy = 1; /* run ahead only once the output's size is known */
  } else {
    out_est = (int64_t)largest;
    if (limit > 0 && slot >= 0) {
      int idle = 0;
      if (!atomic_compare_exchange_strong(&g->outs[slot].probing, &idle, 1)) {
        probe_busy = 1;
      } else if (atomic_load(&g->outs[slot].hash) != name_hash(prefix, 0)) {
        /* the slot went to another name meanwhile: no probe (the output's
         * size is had when it is made) */
        atomic_store(&g->outs[slot].probing, 0);
        out_est = (int64_t)largest;
      } else if ((out_est = atomic_load(&g->outs[slot].out_bytes)) > 0) {
        atomic_store(&g->outs[slot].probing, 0); /* learned by the probe that just ended */
        out_est--;
      } else {
        out_est = (int64_t)largest;
        j->probe_slot = slot + 1;
      }
    }
  }
  if (after != NULL && (probe_busy || (limit > 0 && need + here + out_est > limit))) {
    pthread_mutex_unlock(&d->mu);
    drop_job(j);
    free(src);
    free(rep);
    return 1;
  }
  if (limit > 0 && need + here + out_est > limit) {
    char msg[256];
    snprintf(msg, sizeof msg,
             "needs %lld bytes of gpu %d's memory at once (inputs %lld + output %lld) but its limit is %lld bytes;"
             " raise DTX_DEVICE_MEMORY_LIMIT or use smaller chunks",
             (long long)(need + here + out_est), d->index, (long long)(need + here), (long long)out_est,
             (long long)limit);
    pthread_mutex_unlock(&d->mu);
    drop_job(j);
    free(src);
    free(rep);
    if (!dtxi_gpu_to_cpu(r, t)) dtxi_gpu_fail_now(r, t, dtxi_gpu_task_error(r, t, msg));
    return 0;
  }
  if (!probe_busy) fits = dtxi_reserve(g, d, need + out_est, &j->room_ev);
  if (!fits || probe_busy) {
    /* Everything spillable is spilled and the rest is in use (or the size
     * of this name's output is being learned): wait until jobs in flight
     * finish. */
    pthread_mutex_unlock(&d->mu);
    drop_job(j);
    free(src);
    free(rep);
    if (after != NULL) return 1;
    dtxi_park(g, d, r, t);
    return 0;
  }
  if (after != NULL) {
    /* Committed: after's readers hold its output until they are done. */
    t->ahead = 1;
    atomic_fetch_add(&d->ahead, 1);
    atomic_fetch_add_explicit(&after->slot->refs, 1, memory_order_relaxed);
    after->slot->readers++;
    j->ahead_src = after->slot;
    j->after = after->t;
    if (!g->sim) j->in_ptr[j->ahead_in] = after->out_ptr; /* sim: set when it runs */
  }
  if (t->ndeps > 0 && g->set.window > 0) {
    /* Readers may be enqueued behind this job before it finishes. */
    j->slot = calloc(1, sizeof *j->slot);
    if (j->slot != NULL) atomic_init(&j->slot->refs, 1);
  }
  j->in_charged = need;
  j->out_charged = out_est;

  /* The event first: once the task is enqueued the job must reach the
   * progress thread, which needs the event to know when it may let go. */
  dtx_status rc = r->trace ? dtxi_event_create_timed(g->b, d->index, &j->ev) : dtxi_event_create(g->b, d->index, &j->ev);
  if (rc == DTX_OK && j->room_ev != NULL) rc = dtxi_stream_wait(j->s, j->room_ev);
  int any_nccl = 0;
  if (rc == DTX_OK && need > 0) trace_mark(j, 0);
  for (uint32_t i = 0; i < gt->ninputs && rc == DTX_OK; i++) {
    const rtask *in = &r->rt[r->map[ins[i]]];
    size_t n = j->in_size[i];
    switch (j->how[i]) {
      case IN_BORROW: /* reuse the copy already here: wait for it, don't fetch it */
        rc = dtxi_stream_wait(j->s, in->res->copy[d->index].ready);
        continue;
      case IN_AHEAD: /* behind the job still making it */
        rc = dtxi_stream_wait(j->s, after->ev);
        continue;
      case IN_HOST:
      case IN_PEER:
      case IN_NCCL:
        rc = dtxi_alloc_async(j->s, n, &j->in_ptr[i]);
        if (rc == DTX_OK) j->temp[i] = 1;
        break;
      default:
        continue;
    }
    if (rc != DTX_OK) break;
    if (j->how[i] == IN_NCCL) {
      any_nccl = 1;
      continue;
    }
    if (n >= DTXI_STAGE_MIN || j->how[i] == IN_PEER) {
      size_t staged = 0;
      rc = move_in(g, j, j->in_ptr[i], src[i].ptr, src[i].dev, n, src[i].wait, &staged);
      j->staged += (int64_t)staged;
    } else { /* small: in line on the compute stream, cheaper than a hand-off */
      if (src[i].wait != NULL) rc = dtxi_stream_wait(j->s, src[i].wait);
      if (rc == DTX_OK) rc = dtxi_copy_async(j->s, j->in_ptr[i], d->index, src[i].ptr, src[i].dev, n);
    }
    if (rc == DTX_OK) trace_mark(j, (int)i + 1);
    if (rc == DTX_OK && src[i].res != NULL && dtxi_event_create(g->b, d->index, &rep[i]) == DTX_OK &&
        dtxi_event_record(rep[i], j->s) != DTX_OK) {
      dtxi_event_destroy(rep[i]);
      rep[i] = NULL;
    }
  }
  if (rc == DTX_OK && any_nccl) {
    rc = nccl_inputs(g, j, src);
    for (uint32_t i = 0; i < gt->ninputs && rc == DTX_OK; i++) {
      if (j->how[i] != IN_NCCL) continue;
      trace_mark(j, (int)i + 1);
      if (src[i].res != NULL && dtxi_event_create(g->b, d->index, &rep[i]) == DTX_OK &&
          dtxi_event_record(rep[i], j->s) != DTX_OK) {
        dtxi_event_destroy(rep[i]);
        rep[i] = NULL;
      }
    }
  }
  if (rc != DTX_OK) {
    /* Nothing of the task itself was enqueued: fail it here. Buffers already
     * enqueued are freed in stream order behind what used them. */
    char *msg = dtxi_gpu_task_error(r, t, dtx_last_error());
    free_inputs(j, j->s);
    dtxi_stream_reset(j->s);
    pthread_mutex_unlock(&d->mu);
    for (uint32_t i = 0; i < gt->ninputs; i++) dtxi_event_destroy(rep[i]);
    drop_job(j);
    free(src);
    free(rep);
    dtxi_gpu_fail_now(r, t, msg);
    return 0;
  }
  /* The fetched copies stay here for later readers: they become the
   * output's copies on this device, pinned by this job until it ends. */
  pthread_mutex_lock(&g->res_mu);
  for (uint32_t i = 0; i < gt->ninputs; i++) {
    size_t n = j->in_size[i];
    if (j->how[i] == IN_HOST) d->bytes_from_host += (int64_t)n;
    if (j->how[i] == IN_HOST && src[i].wait != NULL) { /* from a copy spilled to host */
      d->unspills++;
      d->unspilled_bytes += (int64_t)n;
      if (r->trace && dtxi_sched_of(r->cl)->trace != NULL) {
        char key[DTX_MAX_KEY], name[DTX_MAX_KEY + 16], args[48];
        dtxi_gpu_key(r, &r->rt[r->map[ins[i]]], key, sizeof key);
        snprintf(name, sizeof name, "unspill %s", key);
        snprintf(args, sizeof args, "{\"bytes\":%zu,\"device\":%d}", n, d->index);
        dtxi_trace_instant(dtxi_sched_of(r->cl)->trace, DTXI_TRACE_GPU_PID(d->index), d->h2d_tid, name, "unspill", dtxi_now_ns(),
                           args);
      }
    }
    if (j->how[i] == IN_PEER) d->bytes_peer += (int64_t)n;
    if (j->how[i] == IN_NCCL) d->bytes_nccl += (int64_t)n;
    if (j->how[i] == IN_BORROW) d->reused++;
    if (j->how[i] == IN_AHEAD) d->run_ahead++;
  }
  d->bytes_staged += j->staged;
  for (uint32_t i = 0; i < gt->ninputs; i++) {
    size_t n = j->in_size[i];
    gres *res = src[i].res;
    if (rep[i] == NULL || res == NULL || res->copy[d->index].ptr != NULL) {
      if (rep[i] != NULL) dtxi_event_destroy(rep[i]);
      continue;
    }
    dtxi_copy_add(g, res, d->index, j->in_ptr[i], rep[i], 1);
    j->made[i] = &res->copy[d->index];
    j->temp[i] = 0;
    j->in_charged -= (int64_t)n; /* now held by the copy */
  }
  pthread_mutex_unlock(&g->res_mu);
  free(src);
  free(rep);
  int queued = 1;
  if (g->sim) {
    rc = dtxi_host_fn(j->s, sim_task, j);
    queued = rc == DTX_OK;
  } else {
    invoke(j, r->g->impls[gt->impl].cuda);
  }
  if (rc == DTX_OK) rc = dtxi_event_record(j->ev, j->s);
  if (rc == DTX_OK) rc = dtxi_host_fn(j->s, kick, g);
  if (rc != DTX_OK && queued && g->sim) {
    /* The task is queued but its completion cannot be observed: keep the job
     * alive (the task still writes into it) and fail the task. Only on host
     * memory exhaustion. */
    char *msg = dtxi_gpu_task_error(r, t, dtx_last_error());
    dtxi_stream_reset(j->s);
    pthread_mutex_unlock(&d->mu);
    DTXI_LOG(DTX_LOG_ERROR, "%s (a GPU job is abandoned)", msg);
    atomic_fetch_sub(&d->inflight, 1);
    atomic_fetch_sub(&d->queued_ns, j->est_ns);
    dtxi_gpu_fail_now(r, t, msg);
    return 0;
  }
  if (rc != DTX_OK && j->err == NULL) j->err = dtxi_gpu_task_error(r, t, dtx_last_error());
  if (j->slot != NULL && !g->sim) { /* CUDA: the output is allocated by now */
    j->slot->ptr = j->has_out ? j->out_ptr : NULL;
    j->slot->size = j->has_out ? j->out_size : 0;
    j->slot->failed = j->err != NULL;
  }
  /* A device fault fails only the work up to here on this stream. */
  dtxi_stream_reset(j->s);
  pthread_mutex_unlock(&d->mu);
  run_ahead(g, j);
  handoff(g, j);
  return 0;
}

/* ---- completion (progress thread) ------------------------------------------------- */

static uint64_t event_time(dtxi_event *e, uint64_t otherwise) {
  uint64_t ns = 0;
  return e != NULL && dtxi_event_host_time(e, &ns) == DTX_OK && ns != 0 ? ns : otherwise;
}

/* A slice on a track that never overlaps the previous one there. */
static void clip(uint64_t *end, uint64_t *t0, uint64_t *t1) {
  if (*t0 < *end) *t0 = *end;
  if (*t1 < *t0) *t1 = *t0;
  *end = *t1;
}

static void trace_input_key(void *ctx, uint32_t i, char *buf, size_t n) {
  const rtask *t = ctx;
  const run *r = t->run;
  dtxi_gpu_key(r, &r->rt[r->map[dtxi_gt_inputs(&r->g->tasks[t->gid])[i]]], buf, n);
}

/* Slices for the input moves (on the device's h2d, peer or nccl track, each
 * on the arrow from its producer to this task), the task (on its compute
 * stream's track) and the copy home (d2h). Times come from timed events on
 * the stream (GPU timestamps on CUDA; on sim the task's own run is exact). */
static void trace_job(gjob *j) {
  run *r = j->r;
  dtxi_gpus *g = dtxi_sched_of(r->cl)->gpus;
  dtxi_trace *tr = dtxi_sched_of(r->cl)->trace;
  gdev *d = j->dev;
  const gtask *gt = &r->g->tasks[j->t->gid];
  const uint32_t *ins = dtxi_gt_inputs(gt);
  char key[DTX_MAX_KEY], args[64];
  dtxi_key_format(r->g->prefixes[gt->prefix], gt->nidx, gt->idx, key, sizeof key);
  int pid = DTXI_TRACE_GPU_PID(d->index);
  uint64_t last = event_time(j->tev != NULL ? j->tev[0] : NULL, j->t_dispatch);
  uint64_t t0 = j->t_run0, t1 = j->t_run1;
  uint64_t moved_end = last;
  uint64_t flows[64];
  int nflows = 0;
  for (int i = 0; i < j->ninputs && j->tev != NULL; i++) {
    int how = j->how[i];
    if (how != IN_HOST && how != IN_PEER && how != IN_NCCL) continue;
    const rtask *in = &r->rt[r->map[ins[i]]];
    uint64_t m0 = last, m1 = event_time(j->tev[i + 1], m0);
    if (how == IN_NCCL) m0 = event_time(j->tev[0], m0);
    last = m1 > last ? m1 : last;
    if (m1 > moved_end) moved_end = m1;
    int k = how == IN_HOST ? 0 : how == IN_PEER ? 1 : 2;
    int tid = k == 0 ? d->h2d_tid : k == 1 ? d->peer_tid : d->nccl_tid;
    clip(&d->in_end[k], &m0, &m1);
    char ikey[DTX_MAX_KEY], link[40];
    dtxi_gpu_key(r, in, ikey, sizeof ikey);
    int from = j->pinned[i] != NULL ? j->pinned[i]->dev : -1;
    if (how == IN_HOST)
      snprintf(link, sizeof link, "host->gpu%d", d->index);
    else
      snprintf(link, sizeof link, "gpu%d->gpu%d", from, d->index);
    uint64_t id = 0;
    if (in->t0 != 0 && nflows < 64) {
      /* The arrow starts on the producer's slice. */
      id = atomic_fetch_add_explicit(&g->flow_ids, 1, memory_order_relaxed) + 1;
      int ppid = in->pid != 0 ? in->pid : DTXI_TRACE_HOST_PID;
      dtxi_trace_flow(tr, ppid, in->tid, in->t0, id, 's');
      flows[nflows++] = id;
    }
    dtxi_trace_transfer(tr, pid, tid, ikey, link, k == 0 ? "h2d" : k == 1 ? "peer" : "nccl", j->in_size[i], m0, m1,
                        id);
  }
  if (t0 == 0) { /* CUDA: from the inputs' arrival to the output's ready event */
    t0 = moved_end;
    t1 = event_time(j->ev != NULL ? j->ev : NULL, j->t_done1);
  }
  uint64_t *end = &d->compute_end[j->stream_index];
  clip(end, &t0, &t1);
  snprintf(args, sizeof args, "{\"device\":%d}", d->index);
  /* with its input keys, for the critical path of `dtx trace summary` */
  dtxi_trace_task(tr, pid, d->compute_tid[j->stream_index], key, "task", r->g->prefixes[gt->prefix], t0, t1,
                  gt->ninputs, trace_input_key, j->t, NULL, args);
  for (int k = 0; k < nflows; k++) dtxi_trace_flow(tr, pid, d->compute_tid[j->stream_index], t0, flows[k], 'f');
  /* Where its readers' arrows start. */
  j->t->t0 = t0;
  j->t->t1 = t1;
  j->t->tid = d->compute_tid[j->stream_index];
  j->t->pid = pid;
  if (j->host_out != NULL && j->host_out->size > 0 && j->t_done1 != 0) {
    uint64_t c0 = j->t_done1, c1 = dtxi_now_ns();
    clip(&d->d2h_end, &c0, &c1);
    char link[32];
    snprintf(link, sizeof link, "gpu%d->host", d->index);
    dtxi_trace_transfer(tr, pid, d->d2h_tid, key, link, "d2h", j->host_out->size, c0, c1, 0);
  }
  pthread_mutex_lock(&g->res_mu);
  int64_t used = d->used;
  pthread_mutex_unlock(&g->res_mu);
  dtxi_trace_counter(tr, pid, "device memory", dtxi_now_ns(), "used", (double)used);
}

/* One chunk needed on several other GPUs (dependents placed there by the
 * user): broadcast it once, over NCCL, instead of one move per reader. */
static void maybe_broadcast(dtxi_gpus *g, run *r, rtask *t, gres *res) {
  if (!dtxi_nccl_available(g->b) || res->home < 0 || res->size == 0) return;
  int want[DTXI_MAX_GPUS] = {0}, count = 0;
  const uint32_t *deps = r->deps + t->dep_off;
  for (uint32_t k = 0; k < t->ndeps; k++) {
    const rtask *dep = &r->rt[deps[k]];
    int where = r->g->tasks[dep->gid].where;
    if (where > 0 && where - 1 != res->home && dtxi_gpu_eligible(r, dep) && !want[where - 1]) {
      want[where - 1] = 1;
      count++;
    }
  }
  if (count < 2) return;
  void *dst[DTXI_MAX_GPUS] = {0};
  dtxi_event *room[DTXI_MAX_GPUS] = {0}, *ready[DTXI_MAX_GPUS] = {0};
  int64_t charged[DTXI_MAX_GPUS] = {0};
  for (int e = 0; e < g->ndev; e++) {
    if (!want[e]) continue;
    pthread_mutex_lock(&g->dev[e].mu);
    if (dtxi_reserve(g, &g->dev[e], (int64_t)res->size, &room[e])) charged[e] = (int64_t)res->size;
    pthread_mutex_unlock(&g->dev[e].mu);
  }
  gdev *home = &g->dev[res->home];
  dtxi_stream *streams[DTXI_MAX_GPUS];
  for (int e = 0; e < g->ndev; e++) streams[e] = g->dev[e].nccl;
  pthread_mutex_lock(&home->mu);
  pthread_mutex_lock(&g->nccl_mu);
  pthread_mutex_lock(&g->res_mu);
  gcopy *root = &res->copy[res->home];
  dtxi_event *root_ready = root->ready;
  const void *src = root->ptr;
  pthread_mutex_unlock(&g->res_mu);
  dtx_status rc = src != NULL ? dtxi_stream_wait(home->nccl, root_ready) : DTX_EINVAL;
  int n = 0;
  for (int e = 0; e < g->ndev && rc == DTX_OK; e++) {
    if (charged[e] == 0) continue;
    if (room[e] != NULL) rc = dtxi_stream_wait(g->dev[e].nccl, room[e]);
    if (rc == DTX_OK) rc = dtxi_alloc_async(g->dev[e].nccl, res->size, &dst[e]);
    if (rc == DTX_OK) n++;
  }
  if (rc == DTX_OK && n > 0) rc = dtxi_broadcast(g->b, res->home, src, dst, res->size, streams);
  dtxi_event *sent = NULL;
  for (int e = 0; e < g->ndev && rc == DTX_OK; e++) {
    if (dst[e] == NULL) continue;
    rc = dtxi_event_create(g->b, e, &ready[e]);
    if (rc == DTX_OK) rc = dtxi_event_record(ready[e], g->dev[e].nccl);
  }
  if (rc == DTX_OK) rc = dtxi_event_create(g->b, home->index, &sent);
  if (rc == DTX_OK) rc = dtxi_event_record(sent, home->nccl);
  /* Any later free of the root copy (on d2h) comes after the sends. */
  if (rc == DTX_OK) rc = dtxi_stream_wait(home->d2h, sent);
  if (rc != DTX_OK)
    for (int e = 0; e < g->ndev; e++) dtxi_stream_reset(g->dev[e].nccl);
  pthread_mutex_unlock(&g->nccl_mu);
  pthread_mutex_unlock(&home->mu);
  dtxi_event_destroy(sent);
  pthread_mutex_lock(&g->res_mu);
  for (int e = 0; e < g->ndev; e++) {
    if (charged[e] == 0) continue;
    if (rc == DTX_OK && dst[e] != NULL && res->copy[e].ptr == NULL) {
      dtxi_copy_add(g, res, e, dst[e], ready[e], 0);
      g->dev[e].bytes_nccl += (int64_t)res->size;
      ready[e] = NULL;
      dst[e] = NULL;
    } else {
      g->dev[e].used -= charged[e];
    }
  }
  if (rc == DTX_OK) home->broadcasts++;
  pthread_mutex_unlock(&g->res_mu);
  for (int e = 0; e < g->ndev; e++) {
    dtxi_event_destroy(room[e]);
    dtxi_event_destroy(ready[e]);
    if (dst[e] != NULL) {
      pthread_mutex_lock(&g->nccl_mu);
      dtxi_free_async(g->dev[e].nccl, dst[e]);
      pthread_mutex_unlock(&g->nccl_mu);
    }
  }
  if (rc == DTX_OK && r->trace && dtxi_sched_of(r->cl)->trace != NULL) {
    char key[DTX_MAX_KEY], name[DTX_MAX_KEY + 16], args[96];
    dtxi_gpu_key(r, t, key, sizeof key);
    snprintf(name, sizeof name, "broadcast %s", key);
    snprintf(args, sizeof args, "{\"bytes\":%zu,\"receivers\":%d}", res->size, n);
    dtxi_trace_instant(dtxi_sched_of(r->cl)->trace, DTXI_TRACE_GPU_PID(home->index), home->nccl_tid, name, "transfer", dtxi_now_ns(),
                       args);
  }
}

static int has_gpu_reader(const run *r, const rtask *t) {
  const uint32_t *deps = r->deps + t->dep_off;
  for (uint32_t k = 0; k < t->ndeps; k++)
    if (dtxi_gpu_eligible(r, &r->rt[deps[k]])) return 1;
  return 0;
}

static void finish(gjob *j) {
  run *r = j->r;
  gdev *d = j->dev;
  dtxi_gpus *g = dtxi_sched_of(r->cl)->gpus;
  int ran = 1;
  if (j->keep_slot != NULL) keep_input(j, j->err == NULL && (j->after == NULL || j->after->err == NULL));
  if (j->after != NULL) {
    /* Run ahead: its producer finished first (the progress thread sees to
     * that); the producer's copy it read was pinned for it. */
    atomic_fetch_sub(&d->ahead, 1);
    if (j->after->res != NULL && j->after->res->copy[d->index].owner != NULL)
      dtxi_copy_unpin(g, &j->after->res->copy[d->index]);
    if (j->after->err != NULL) {
      /* Its input failed: it fails with the same message, like any task
       * whose input failed (whatever it computed is dropped). */
      free(j->err);
      j->err = NULL;
      if (j->host_out != NULL) {
        atomic_store_explicit(&j->host_out->refs, 1, memory_order_relaxed);
        dtxi_chunk_unref(j->host_out);
        j->host_out = NULL;
      }
      if (j->out_ptr != NULL && !j->borrowed) {
        pthread_mutex_lock(&d->mu);
        dtxi_free_async(j->s, j->out_ptr);
        pthread_mutex_unlock(&d->mu);
      }
      j->out_ptr = NULL;
      j->has_out = 0;
      j->t->err = j->after->err;
      atomic_store_explicit(&r->any_error, 1, memory_order_relaxed);
      ran = 0;
    }
  }
  if (r->trace && j->err == NULL && ran) trace_job(j);
  if (j->err != NULL) {
    /* Copies this job fetched may not hold the data: drop them. */
    for (int i = 0; i < j->ninputs; i++)
      if (j->made[i] != NULL) {
        gcopy *c = j->made[i];
        j->made[i] = NULL;
        dtxi_copy_unpin(g, c);
        pthread_mutex_lock(&d->mu);
        dtxi_copy_drop(g, c);
        pthread_mutex_unlock(&d->mu);
      }
  }
  unpin_inputs(j);
  int64_t give_back = j->in_charged + j->out_charged; /* its own input buffers are freed by now */
  gres *made = NULL;
  if (j->err != NULL) {
    if (j->host_out != NULL) {
      /* Nobody has seen it: drop it whatever readers it was made for. */
      atomic_store_explicit(&j->host_out->refs, 1, memory_order_relaxed);
      dtxi_chunk_unref(j->host_out);
      j->host_out = NULL;
    }
    dtxi_run_fail(r, j->t, j->err);
    j->err = NULL;
    if (j->out_ptr != NULL && !j->borrowed) {
      pthread_mutex_lock(&d->mu);
      dtxi_free_async(j->s, j->out_ptr);
      pthread_mutex_unlock(&d->mu);
    }
  } else if (ran) {
    j->t->out = j->host_out;
    dtxi_chunk_unpin(j->host_out); /* here now: it may spill to disk */
    /* The device copy stays for GPU readers; with none (CPU tasks or the
     * caller read the host copy) it goes at once. */
    int keep = j->out_ptr != NULL && (j->host_out == NULL || has_gpu_reader(r, j->t));
    gres *res = keep ? dtxi_gres_new(g, r, j->t, d->index, j->out_size, j->host_out != NULL) : NULL;
    if (res != NULL) {
      dtxi_kspill *old_spill = NULL;
      pthread_mutex_lock(&g->res_mu);
      gcopy *c = &res->copy[d->index];
      if (j->borrowed) { /* a persisted chunk, charged to its array; the job's user count passes to the copy */
        c->kept = 1;
        c->slot = j->borrow_slot;
        j->borrow_slot = NULL;
      } else if (j->rekeep != NULL && j->rekeep->ptr == NULL && j->rekeep->spill == j->unspill) {
        /* a spilled persisted chunk back on its GPU: kept there again */
        c->kept = 1;
        c->slot = j->rekeep;
        old_spill = j->rekeep->spill;
        j->rekeep->spill = NULL;
        dtxi_kept_back(d, j->rekeep, j->out_ptr, 1);
      }
      /* pinned by the readers run ahead of it until they are done */
      dtxi_copy_add(g, res, d->index, j->out_ptr, j->ev, j->slot != NULL ? j->slot->readers : 0);
      pthread_mutex_unlock(&g->res_mu);
      j->ev = NULL;
      if (!j->borrowed) give_back -= (int64_t)res->size; /* held on by the copy */
      j->t->res = made = res;
      dtxi_kspill_unref(old_spill); /* the slot's reference; the job still holds its own */
    } else if (j->out_ptr != NULL) {
      if (!j->borrowed) {
        pthread_mutex_lock(&d->mu);
        dtxi_free_async(j->s, j->out_ptr);
        pthread_mutex_unlock(&d->mu);
      }
      if (j->host_out == NULL) /* the only copy is gone (out of memory for its record) */
        dtxi_run_fail(r, j->t, dtxi_gpu_task_error(r, j->t, "out of host memory keeping its output"));
    }
  }
  if (j->borrow_slot != NULL) { /* no copy of the output took its user count over */
    pthread_mutex_lock(&g->res_mu);
    j->borrow_slot->users--;
    pthread_mutex_unlock(&g->res_mu);
    j->borrow_slot = NULL;
  }
  dtxi_uncharge(g, d, give_back);
  atomic_fetch_sub(&d->inflight, 1);
  atomic_fetch_sub(&d->queued_ns, j->est_ns);
  rtask *t = j->t;
  t->gpu_done = 1;
  free_job(j);
  dtxi_gpu_root_done(r, t);
  if (made != NULL) maybe_broadcast(g, r, t, made);
  dtxi_retry_parked(g);
  dtxi_run_task_done(r, t, ran);
}

/* A host copy is needed when a CPU task reads the output or the caller asked
 * for it (references beyond the dependents' reads). */
static int needs_host_copy(const run *r, const rtask *t) {
  if (t->nrefs > (int32_t)t->ndeps) return 1;
  const uint32_t *deps = r->deps + t->dep_off;
  for (uint32_t k = 0; k < t->ndeps; k++)
    if (!dtxi_gpu_eligible(r, &r->rt[deps[k]])) return 1;
  return 0;
}

/* The event of phase 1 or 2 completed (or failed): move the job on. */
static void advance(dtxi_gpus *g, gjob *j, dtxi_event_state st) {
  gdev *d = j->dev;
  if (st == DTXI_EVENT_FAILED && j->err == NULL)
    j->err = dtxi_gpu_task_error(j->r, j->t, dtxi_event_error(j->phase == 1 ? j->ev : j->ev2));
  if (j->phase == 2 || j->err != NULL) {
    if (j->phase == 1) {
      pthread_mutex_lock(&d->mu);
      free_inputs(j, j->s);
      pthread_mutex_unlock(&d->mu);
    }
    finish(j);
    return;
  }
  j->t_done1 = dtxi_now_ns();
  {
    const gtask *gt = &j->r->g->tasks[j->t->gid];
    uint64_t t0 = j->t_run0 ? j->t_run0 : j->t_dispatch, t1 = j->t_run1 ? j->t_run1 : j->t_done1;
    size_t bytes = 0;
    for (int i = 0; i < j->ninputs; i++) bytes += j->in_size[i];
    dtxi_gpus_learn(g, j->r->g->prefixes[gt->prefix], 1, bytes, (int64_t)(t1 - t0));
  }
  if (!needs_host_copy(j->r, j->t)) {
    /* Only GPU tasks read it: it stays on the device, no copy home. */
    pthread_mutex_lock(&d->mu);
    free_inputs(j, j->s);
    pthread_mutex_unlock(&d->mu);
    finish(j);
    return;
  }
  /* Phase 1 done: bring the output home on the d2h stream. */
  dtx_status rc = DTX_OK;
  pthread_mutex_lock(&d->mu);
  rc = dtxi_event_create(g->b, d->index, &j->ev2); /* before anything is queued */
  if (rc == DTX_OK) rc = dtxi_stream_wait(d->d2h, j->ev);
  if (rc == DTX_OK && j->has_out && j->out_size > 0) {
    j->host_out = dtxi_chunk_new_spillable(dtxi_sched_of(j->r->cl)->mem, j->out_size, j->t->nrefs); /* pinned until done */
    if (j->host_out == NULL)
      rc = dtxi_fail(DTX_ENOMEM, "out of host memory for a %zu-byte output", j->out_size);
    else
      rc = dtxi_copy_async(d->d2h, j->host_out->data, DTXI_HOST, j->out_ptr, d->index, j->out_size);
    if (rc == DTX_OK) {
      pthread_mutex_lock(&g->res_mu);
      d->bytes_to_host += (int64_t)j->out_size;
      pthread_mutex_unlock(&g->res_mu);
    }
  } else if (rc == DTX_OK && j->has_out) {
    j->host_out = dtxi_chunk_new(dtxi_sched_of(j->r->cl)->mem, 0, j->t->nrefs);
    if (j->host_out == NULL) rc = dtxi_fail(DTX_ENOMEM, "out of host memory");
  }
  free_inputs(j, d->d2h);
  if (j->has_out && j->out_ptr != NULL && j->out_size == 0 && !j->borrowed) {
    dtxi_free_async(j->s, j->out_ptr);
    j->out_ptr = NULL;
  }
  if (rc == DTX_OK) rc = dtxi_event_record(j->ev2, d->d2h);
  if (rc == DTX_OK) rc = dtxi_host_fn(d->d2h, kick, g);
  if (rc != DTX_OK) j->err = dtxi_gpu_task_error(j->r, j->t, dtx_last_error());
  dtxi_stream_reset(d->d2h);
  pthread_mutex_unlock(&d->mu);
  if (j->err != NULL) {
    finish(j);
    return;
  }
  j->phase = 2;
  handoff(g, j);
}

/* A CPU task made t's output and a GPU task reads it: give it a residency
 * record, so that the copies fetched to GPUs are reused by later readers. */
void dtxi_gpu_host_output(run *r, rtask *t) {
  if (t->out == NULL || t->out->size == 0 || t->res != NULL) return;
  const uint32_t *deps = r->deps + t->dep_off;
  for (uint32_t k = 0; k < t->ndeps; k++)
    if (dtxi_gpu_eligible(r, &r->rt[deps[k]])) {
      t->res = dtxi_gres_new(dtxi_sched_of(r->cl)->gpus, r, t, -1, t->out->size, 1);
      return; /* without one (out of memory) readers fetch from the host each time */
    }
}

static void *progress_main(void *arg) {
  dtxi_gpus *g = arg;
  gjob *pending = NULL;
  int idle_rounds = 0;
  dtxi_nvtx_name_thread("dtx gpu progress");
  for (;;) {
    pthread_mutex_lock(&g->mu);
    while (g->incoming == NULL && pending == NULL && !g->stop) pthread_cond_wait(&g->cv, &g->mu);
    if (pending != NULL && g->incoming == NULL && !g->kicked && !g->stop && idle_rounds > 0) {
      /* Nothing new: sleep until a stream kicks, or poll again after a
       * while in case a kick was skipped (a failed stream skips it). */
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 1000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
    g->kicked = 0;
    gjob *in = g->incoming;
    g->incoming = NULL;
    int stop = g->stop;
    pthread_mutex_unlock(&g->mu);
    while (in != NULL) {
      gjob *next = in->next;
      in->next = pending;
      pending = in;
      in = next;
    }
    if (pending == NULL && stop) break;
    int progressed = 0;
    for (gjob **pp = &pending; *pp != NULL;) {
      gjob *j = *pp;
      dtxi_event_state st = dtxi_event_query(j->phase == 1 ? j->ev : j->ev2);
      if (st == DTXI_EVENT_PENDING || (j->after != NULL && !j->after->gpu_done)) {
        /* (a job run ahead finishes after the job it ran behind) */
        pp = &j->next;
        continue;
      }
      *pp = j->next;
      progressed = 1;
      advance(g, j, st);
    }
    idle_rounds = progressed ? 0 : idle_rounds + 1;
  }
  return NULL;
}


/* ---- setup ------------------------------------------------------------------------ */

dtx_status dtxi_gpus_start(dtx_cluster *cl, dtxi_backend *b, const dtxi_gpu_settings *set,
                           const size_t *limits, dtxi_gpus **out) {
  dtxi_gpus *g = calloc(1, sizeof *g);
  if (g == NULL) return dtxi_fail(DTX_ENOMEM, "out of memory starting the GPU scheduler");
  g->set = *set;
  int streams_per_gpu = set->streams_per_gpu;
  g->cl = cl;
  g->b = b;
  g->sim = strcmp(b->ops->name, "sim") == 0;
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  pthread_mutex_init(&g->nccl_mu, NULL);
  pthread_mutex_init(&g->res_mu, NULL);
  atomic_init(&g->flow_ids, (uint64_t)1 << 40); /* clear of the ids the CPU side of the trace uses */
  if (set->p2p == DTX_P2P_NCCL) {
    g->nccl = b->ndev > 1 && dtxi_nccl_available(b);
    if (!g->nccl && b->ndev > 1)
      DTXI_LOG(DTX_LOG_WARN, "DTX_P2P=nccl: NCCL is not available (%s); GPUs exchange data by peer copies",
               dtx_last_error());
  }
  dtx_status rc = DTX_OK;
  for (int i = 0; i < b->ndev && rc == DTX_OK; i++) {
    gdev *d = &g->dev[i];
    d->index = i;
    pthread_mutex_init(&d->mu, NULL);
    pthread_mutex_init(&d->stage_mu, NULL);
    d->limit = (int64_t)limits[i];
    atomic_init(&d->inflight, 0);
    atomic_init(&d->queued_ns, 0);
    g->ndev = i + 1;
    d->compute = calloc((size_t)streams_per_gpu, sizeof *d->compute);
    if (d->compute == NULL) {
      rc = dtxi_fail(DTX_ENOMEM, "out of memory creating streams");
      break;
    }
    for (int k = 0; k < streams_per_gpu && rc == DTX_OK; k++) {
      char label[32];
      snprintf(label, sizeof label, "compute-%d", k);
      rc = dtxi_stream_create(b, i, DTXI_STREAM_COMPUTE, label, &d->compute[k]);
      if (rc == DTX_OK) d->ncompute = k + 1;
    }
    if (rc == DTX_OK) rc = dtxi_stream_create(b, i, DTXI_STREAM_D2H, "d2h", &d->d2h);
    if (rc == DTX_OK) rc = dtxi_stream_create(b, i, DTXI_STREAM_NCCL, "nccl", &d->nccl);
    if (rc == DTX_OK) rc = dtxi_stream_create(b, i, DTXI_STREAM_H2D, "h2d", &d->h2d);
    if (rc == DTX_OK) rc = dtxi_stream_create(b, i, DTXI_STREAM_PEER, "peer", &d->peer);
    d->compute_tid = calloc((size_t)streams_per_gpu, sizeof *d->compute_tid);
    d->compute_end = calloc((size_t)streams_per_gpu, sizeof *d->compute_end);
    if (rc == DTX_OK && (d->compute_tid == NULL || d->compute_end == NULL))
      rc = dtxi_fail(DTX_ENOMEM, "out of memory creating streams");
    if (rc == DTX_OK && dtxi_sched_of(cl)->trace != NULL) {
      dtxi_trace_gpu_process(dtxi_sched_of(cl)->trace, i, b->info[i].name);
      for (int k = 0; k < d->ncompute; k++) d->compute_tid[k] = dtxi_trace_stream_track(dtxi_sched_of(cl)->trace, i, d->compute[k]->label);
      d->h2d_tid = dtxi_trace_stream_track(dtxi_sched_of(cl)->trace, i, "h2d");
      d->d2h_tid = dtxi_trace_stream_track(dtxi_sched_of(cl)->trace, i, "d2h");
      d->peer_tid = dtxi_trace_stream_track(dtxi_sched_of(cl)->trace, i, "peer");
      d->nccl_tid = dtxi_trace_stream_track(dtxi_sched_of(cl)->trace, i, "nccl");
    }
  }
  if (rc == DTX_OK && pthread_create(&g->thread, NULL, progress_main, g) != 0)
    rc = dtxi_fail(DTX_ENOMEM, "cannot start the GPU progress thread");
  else if (rc == DTX_OK)
    g->started = 1;
  if (rc != DTX_OK) {
    dtxi_gpus_stop(g);
    return rc;
  }
  *out = g;
  return DTX_OK;
}

void dtxi_gpus_stop(dtxi_gpus *g) {
  if (g == NULL) return;
  /* Persisted arrays still alive give their device memory back now; their
   * release later frees only what is theirs in host memory. */
  pthread_mutex_lock(&keepers_mu);
  for (dtxi_keeper *k = g->keepers, *next; k != NULL; k = next) {
    next = k->next;
    for (int64_t b = 0; b < k->n; b++)
      if (k->slot[b].dev >= 0) kept_free(g, &k->slot[b]);
    k->g = NULL;
    k->prev = k->next = NULL;
  }
  g->keepers = NULL;
  pthread_mutex_unlock(&keepers_mu);
  if (g->started) {
    pthread_mutex_lock(&g->mu);
    g->stop = 1;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
  }
  for (int i = 0; i < g->ndev; i++) {
    gdev *d = &g->dev[i];
    for (int k = 0; k < d->ncompute; k++) dtxi_stream_destroy(d->compute[k]);
    free(d->compute);
    free(d->compute_tid);
    free(d->compute_end);
    dtxi_stream_destroy(d->d2h);
    dtxi_stream_destroy(d->nccl);
    dtxi_stream_destroy(d->h2d); /* after its last give-back of a staging buffer */
    dtxi_stream_destroy(d->peer);
    for (int k = 0; k < d->nstage; k++) g->b->ops->host_free(g->b, d->stage[k].buf);
    pthread_mutex_destroy(&d->stage_mu);
    while (d->parked != NULL) { /* none unless a run was abandoned */
      parked *p = d->parked;
      d->parked = p->next;
      free(p);
    }
    pthread_mutex_destroy(&d->mu);
  }
  pthread_mutex_destroy(&g->nccl_mu);
  pthread_mutex_destroy(&g->res_mu);
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->cv);
  free(g);
}
