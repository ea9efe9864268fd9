/*
 * scheduler/gpu.c - running graph tasks on GPUs for the cluster scheduler.
 *
 * Owns: per device, its compute streams and its device-to-host stream; the
 * progress thread and its list of jobs in flight.
 * Threads: any thread dispatches (a CPU worker finishing a producer, the
 * progress thread finishing a GPU producer); a device's streams are fed
 * under that device's mutex. Only the progress thread polls events and
 * completes GPU tasks; no worker ever blocks on a stream.
 *
 * A GPU task runs in two phases. Dispatch: pick the device holding most of
 * the task's input bytes (owner computes), else the one with the least work
 * in flight; inputs already on that device are used in place (the stream
 * waits on their ready event), the others are copied from their host chunk;
 * enqueue the implementation (the CUDA one; on simulated GPUs the CPU one in
 * its place, run in stream order); record the output's ready event. When it
 * completes: copy the output to a host chunk on the device's d2h stream and
 * record a second event; its completion finishes the task. The device copy
 * stays (struct gres) until every reader is done, so GPU consumers on the
 * same device reuse it, while CPU tasks and other devices read the host copy.
 */
#include "scheduler/gpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/config.h"
#include "host/error.h"
#include "scheduler/run.h"
#include "scheduler/task.h"

typedef struct gdev {
  int index;
  pthread_mutex_t mu; /* feeds this device's streams */
  dtxi_stream **compute;
  int ncompute;
  unsigned next;
  dtxi_stream *d2h;
  _Atomic int64_t inflight;
  _Atomic int64_t queued_ns; /* estimated work in flight: where its queue ends */
  /* trace tracks (tids), and where the last slice on each ended, so slices
   * on a track never overlap; touched by the progress thread only */
  int *compute_tid;
  uint64_t *compute_end;
  int d2h_tid;
  uint64_t d2h_end;
  /* Device memory held by dtx, guarded by mem_mu (a leaf lock: taken last,
   * nothing taken under it). Invariants, with limit > 0:
   *   used = bytes reserved by jobs in flight + bytes of resident outputs;
   *   used <= limit (a job is parked rather than pass it);
   *   lru holds exactly the resident outputs with pins == 0, least recently
   *   used first: the ones that may be spilled to host. */
  pthread_mutex_t mem_mu;
  int64_t limit; /* bytes; 0: no limit */
  int64_t used, peak;
  struct gres *lru_head, *lru_tail;
  struct parked *parked; /* tasks waiting for room on this device */
  int64_t spills, spilled_bytes, unspills, unspilled_bytes;
} gdev;

/* A task that could not get room on a device yet: dispatched again when
 * memory is given back there. */
typedef struct parked {
  struct parked *next;
  run *r;
  rtask *t;
} parked;

/* A task output kept on the GPU that produced it. */
typedef struct gres {
  struct gdev *dev;
  dtxi_stream *home; /* the stream that allocated ptr: it frees it too, so the
                      * free can never overtake the allocation */
  void *ptr;         /* the device copy; NULL once spilled (under dev->mem_mu) */
  _Atomic int resident; /* ptr != NULL, readable without the lock (placement) */
  size_t size;
  dtxi_event *ready; /* completes when ptr holds the output */
  _Atomic int32_t refs;
  /* under dev->mem_mu */
  int32_t pins;               /* jobs in flight using ptr */
  struct gres *prev, *next;   /* LRU links while resident and unpinned */
  int in_lru;
  int has_host;               /* the task keeps a host copy too (rtask.out) */
  dtx_chunk *host;            /* the copy spilled to host when there was none */
  dtxi_event *host_ready;     /* completes when host holds the data */
  run *r;                     /* for the key in the trace */
  rtask *t;
} gres;

typedef struct gjob {
  struct gjob *next;
  run *r;
  rtask *t;
  gdev *dev;
  dtxi_stream *s; /* compute stream */
  dtxi_event *ev;  /* after the task: the output's ready event */
  dtxi_event *ev2; /* after the copy home */
  int phase;       /* 1: task enqueued; 2: copy home enqueued */
  int ninputs;
  char *borrowed; /* in_ptr[i] is another task's device copy */
  gres **pinned;  /* the device copy input i reads in place or from a peer, pinned until done */
  dtx_chunk **hpinned; /* the host chunk input i is copied from, pinned in memory until done */
  int64_t in_charged;  /* device bytes reserved for the inputs copied in */
  int64_t out_charged; /* device bytes reserved for the output */
  dtxi_event *room_ev; /* spills made to fit this job */
  int on_stream;       /* the task runs now on its stream's own thread (sim) */
  int probe_slot;      /* 1 + the est slot this job probes the output size of */
  void **in_ptr;
  size_t *in_size;
  void *out_ptr;
  size_t out_size;
  int has_out;
  char *err;       /* the implementation's failure, "key: message" */
  char *alloc_err; /* why its output allocation failed, if it did */
  dtx_chunk *host_out;
  int64_t est_ns; /* added to the device's queued_ns at dispatch */
  int stream_index;
  uint64_t t_dispatch, t_run0, t_run1, t_done1; /* host clock, for the trace */
} gjob;

struct dtxi_gpus {
  dtx_cluster *cl;
  dtxi_backend *b;
  int sim;
  int ndev;
  gdev dev[DTXI_MAX_GPUS];
  pthread_t thread;
  int started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  gjob *incoming; /* handed over by dispatchers, guarded by mu */
  int kicked;     /* a stream reached a completion point, guarded by mu */
  int stop;
  /* learned durations: open addressing on the prefix's hash */
  struct {
    _Atomic uint64_t hash;
    _Atomic int64_t ns[2]; /* [0] CPU, [1] GPU */
    _Atomic int64_t out_bytes; /* 1 + the largest output seen; 0: none yet */
    _Atomic int probing;       /* a task of this name runs to learn its output size */
  } est[512];
};

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

void dtxi_gpus_stats(dtxi_gpus *g, int i, dtx_device_stats *out) {
  gdev *d = &g->dev[i];
  pthread_mutex_lock(&d->mem_mu);
  out->bytes_in_use = d->used;
  out->bytes_peak = d->peak;
  out->bytes_limit = d->limit;
  out->spills = d->spills;
  out->bytes_spilled = d->spilled_bytes;
  out->unspills = d->unspills;
  out->bytes_unspilled = d->unspilled_bytes;
  pthread_mutex_unlock(&d->mem_mu);
}
int dtxi_gpus_sim(const dtxi_gpus *g) { return g != NULL && g->sim; }

/* ---- the task's view ---------------------------------------------------------- */

const void *dtxi_gpu_input(const gjob *j, int i, size_t *size) {
  if (i < 0 || i >= j->ninputs) {
    if (size != NULL) *size = 0;
    return NULL;
  }
  if (size != NULL) *size = j->in_size[i];
  return j->in_ptr[i];
}

static int reserve(struct dtxi_gpus *g, gdev *d, int64_t bytes, dtxi_event **room_ev);
static void charge_locked(gdev *d, int64_t n);

/* Device memory for an output larger than reserved at dispatch: spill to make
 * room. On sim the task runs on its stream's own thread, which waits for the
 * spills here; on CUDA it runs at dispatch (d->mu held), and the stream waits. */
static int output_room(gjob *j, int64_t extra) {
  gdev *d = j->dev;
  dtxi_gpus *g = j->r->cl->gpus;
  dtxi_event *ev = NULL;
  if (j->on_stream) pthread_mutex_lock(&d->mu);
  int ok = reserve(g, d, extra, &ev);
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
  if (j->has_out && j->out_ptr != NULL) dtxi_free_async(j->s, j->out_ptr);
  j->out_ptr = NULL;
  j->out_size = size;
  j->has_out = 1;
  int64_t extra = (int64_t)size - j->out_charged;
  if (extra > 0 && j->dev->limit > 0 && !output_room(j, extra)) {
    char buf[240];
    snprintf(buf, sizeof buf, "its %zu-byte output does not fit under gpu %d's memory limit of %lld bytes%s; "
             "raise DTX_DEVICE_MEMORY_LIMIT or use smaller chunks", size, j->dev->index, (long long)j->dev->limit,
             (int64_t)size > j->dev->limit ? "" : " (the rest is held by data in use)");
    j->has_out = 0;
    free(j->alloc_err);
    j->alloc_err = strdup(buf);
    return NULL;
  }
  if (extra > 0 && j->dev->limit == 0) {
    pthread_mutex_lock(&j->dev->mem_mu);
    charge_locked(j->dev, extra);
    pthread_mutex_unlock(&j->dev->mem_mu);
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
  dtxi_gpus_learn_output(j->r->cl->gpus, j->r->g->prefixes[gt->prefix], size);
  return j->out_ptr;
}

int dtxi_gpu_device(const gjob *j) { return j->dev->index; }
void *dtxi_gpu_native_stream(const gjob *j) { return j->s->b->ops->native_stream(j->s); }

/* ---- device memory: reservations, the LRU, spilling to host --------------------- */

static void lru_remove(gdev *d, gres *v) {
  if (!v->in_lru) return;
  if (v->prev != NULL) v->prev->next = v->next; else d->lru_head = v->next;
  if (v->next != NULL) v->next->prev = v->prev; else d->lru_tail = v->prev;
  v->prev = v->next = NULL;
  v->in_lru = 0;
}

static void lru_push(gdev *d, gres *v) {
  if (v->in_lru || v->ptr == NULL) return;
  v->prev = d->lru_tail;
  v->next = NULL;
  if (d->lru_tail != NULL) d->lru_tail->next = v; else d->lru_head = v;
  d->lru_tail = v;
  v->in_lru = 1;
}

static void charge_locked(gdev *d, int64_t n) {
  d->used += n;
  if (d->used > d->peak) d->peak = d->used;
}

static void uncharge(gdev *d, int64_t n) {
  if (n == 0) return;
  pthread_mutex_lock(&d->mem_mu);
  d->used -= n;
  pthread_mutex_unlock(&d->mem_mu);
}

/* With v->dev->mem_mu held: a job reads v's device copy; it may not be spilled. */
static void pin_locked(gres *v) {
  if (v->pins++ == 0) lru_remove(v->dev, v);
}

static void unpin(gres *v) {
  gdev *d = v->dev;
  pthread_mutex_lock(&d->mem_mu);
  if (--v->pins == 0) lru_push(d, v);
  pthread_mutex_unlock(&d->mem_mu);
}

static void key_of(const run *r, const rtask *t, char *buf, size_t n) {
  const gtask *gt = &r->g->tasks[t->gid];
  dtxi_key_format(r->g->prefixes[gt->prefix], gt->nidx, gt->idx, buf, n);
}

static void trace_mem_event(dtxi_gpus *g, gdev *d, const gres *v, const char *what, size_t bytes) {
  dtxi_trace *tr = g->cl->trace;
  if (tr == NULL || v->r == NULL || !v->r->trace) return;
  char key[DTX_MAX_KEY], name[DTX_MAX_KEY + 16], args[DTX_MAX_KEY + 96];
  key_of(v->r, v->t, key, sizeof key);
  snprintf(name, sizeof name, "%s %s", what, key);
  snprintf(args, sizeof args, "{\"key\":\"%s\",\"bytes\":%zu,\"device\":%d}", key, bytes, d->index);
  if (strchr(key, '"') != NULL || strchr(key, '\\') != NULL) snprintf(args, sizeof args, "{\"bytes\":%zu,\"device\":%d}", bytes, d->index);
  dtxi_trace_instant(tr, DTXI_TRACE_GPU_PID(d->index), d->d2h_tid, name, what, dtxi_now_ns(), args);
}

/* Run on d2h once a spill copy has landed in its host chunk. */
static int unpin_landed(void *arg, char *err, size_t errlen) {
  (void)err;
  (void)errlen;
  dtxi_chunk_unpin(arg);
  return 0;
}

/* Spills the least recently used outputs of d until `bytes` more fit under its
 * limit. With d->mu (its streams are fed) and d->mem_mu held. An output that
 * also has a host copy just gives its device memory back; one that has none is
 * first copied to a new host chunk on the d2h stream (readers then fetch it
 * from there once host_ready completes). The frees are queued on d2h after
 * the copies; *room_ev (created when NULL) is recorded behind them, so work
 * that waits on it allocates only once the memory is really back. Returns 1
 * when `bytes` fit now; 0 when not even spilling every unpinned output makes
 * room, or when a spill cannot be queued. */
static int spill_locked(dtxi_gpus *g, gdev *d, int64_t bytes, dtxi_event **room_ev) {
  int spilled = 0;
  while (d->used + bytes > d->limit && d->lru_head != NULL) {
    gres *v = d->lru_head;
    lru_remove(d, v);
    dtx_chunk *host = NULL;
    dtxi_event *hr = NULL;
    dtx_status rc = dtxi_stream_wait(d->d2h, v->ready);
    if (rc == DTX_OK && !v->has_host) {
      /* Pinned until the copy lands; then it may go on to disk. */
      host = dtxi_chunk_new_spillable(g->cl->mem, v->size, 1);
      if (host == NULL) rc = dtxi_fail(DTX_ENOMEM, "out of host memory spilling %zu bytes from gpu %d", v->size, d->index);
      if (rc == DTX_OK) rc = dtxi_event_create(g->b, d->index, &hr);
      if (rc == DTX_OK) rc = dtxi_copy_async(d->d2h, host->data, DTXI_HOST, v->ptr, d->index, v->size);
      if (rc == DTX_OK && host->spillable) rc = dtxi_host_fn(d->d2h, unpin_landed, host);
      if (rc == DTX_OK) rc = dtxi_event_record(hr, d->d2h);
    }
    if (rc != DTX_OK) {
      DTXI_LOG(DTX_LOG_WARN, "gpu %d: cannot spill %zu bytes: %s", d->index, v->size, dtx_last_error());
      dtxi_stream_reset(d->d2h);
      dtxi_chunk_unref(host);
      dtxi_event_destroy(hr);
      lru_push(d, v);
      break;
    }
    dtxi_free_async(d->d2h, v->ptr);
    v->ptr = NULL;
    atomic_store_explicit(&v->resident, 0, memory_order_relaxed);
    v->host = host;
    v->host_ready = hr;
    d->used -= (int64_t)v->size;
    d->spills++;
    d->spilled_bytes += (int64_t)v->size;
    trace_mem_event(g, d, v, "spill", v->size);
    spilled = 1;
  }
  if (spilled) {
    dtx_status rc = *room_ev != NULL ? DTX_OK : dtxi_event_create(g->b, d->index, room_ev);
    if (rc == DTX_OK) rc = dtxi_event_record(*room_ev, d->d2h);
    if (rc != DTX_OK) return 0;
  }
  return d->used + bytes <= d->limit;
}

/* Reserves `bytes` of d's memory for job j, spilling to make room. With d->mu
 * held. 1: reserved (j's stream must wait on j->room_ev when set); 0: no room
 * now (the device holds that much data that jobs in flight are using). */
static int reserve(dtxi_gpus *g, gdev *d, int64_t bytes, dtxi_event **room_ev) {
  pthread_mutex_lock(&d->mem_mu);
  int ok = d->limit == 0 || d->used + bytes <= d->limit || spill_locked(g, d, bytes, room_ev);
  if (ok) charge_locked(d, bytes);
  pthread_mutex_unlock(&d->mem_mu);
  return ok;
}

static int64_t total_inflight(dtxi_gpus *g) {
  int64_t n = 0;
  for (int i = 0; i < g->ndev; i++) n += atomic_load(&g->dev[i].inflight);
  return n;
}

static void dispatch(run *r, rtask *t);

/* Dispatches again the tasks parked for room on any device: called whenever
 * device memory is given back or unpinned. No lock held. */
static void retry_parked(dtxi_gpus *g) {
  for (int i = 0; i < g->ndev; i++) {
    gdev *d = &g->dev[i];
    pthread_mutex_lock(&d->mem_mu);
    parked *p = d->parked;
    d->parked = NULL;
    pthread_mutex_unlock(&d->mem_mu);
    while (p != NULL) {
      parked *next = p->next;
      run *r = p->r;
      rtask *t = p->t;
      free(p);
      dispatch(r, t);
      p = next;
    }
  }
}

/* ---- choosing and dispatching ---------------------------------------------------- */

int dtxi_gpu_eligible(const run *r, const rtask *t) {
  const gtask *gt = &r->g->tasks[t->gid];
  return r->gpu && !t->on_cpu && gt->where != DTX_WHERE_CPU && r->g->impls[gt->impl].cuda != NULL;
}

static uint64_t name_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h | 1;
}

/* The slot for a prefix, claiming an empty one when `claim`; -1 if none. */
static int est_slot(dtxi_gpus *g, const char *prefix, int claim) {
  uint64_t h = name_hash(prefix);
  int n = (int)(sizeof g->est / sizeof g->est[0]);
  for (int k = 0, i = (int)(h % (uint64_t)n); k < n; k++, i = (i + 1) % n) {
    uint64_t cur = atomic_load(&g->est[i].hash);
    if (cur == h) return i;
    if (cur == 0) {
      if (!claim) return -1;
      uint64_t zero = 0;
      if (atomic_compare_exchange_strong(&g->est[i].hash, &zero, h) || zero == h) return i;
    }
  }
  return -1;
}

int64_t dtxi_gpus_estimate(dtxi_gpus *g, const char *prefix, int on_gpu) {
  int i = g != NULL ? est_slot(g, prefix, 0) : -1;
  return i < 0 ? 0 : atomic_load_explicit(&g->est[i].ns[on_gpu != 0], memory_order_relaxed);
}

void dtxi_gpus_learn(dtxi_gpus *g, const char *prefix, int on_gpu, int64_t ns) {
  int i = g != NULL ? est_slot(g, prefix, 1) : -1;
  if (i < 0) return;
  if (ns < 1) ns = 1;
  _Atomic int64_t *e = &g->est[i].ns[on_gpu != 0];
  int64_t old = atomic_load_explicit(e, memory_order_relaxed);
  /* A racing update may be lost; an estimate, not an account. */
  atomic_store_explicit(e, old == 0 ? ns : old + (ns - old) / 4, memory_order_relaxed);
}

void dtxi_gpus_learn_output(dtxi_gpus *g, const char *prefix, size_t bytes) {
  int i = g != NULL ? est_slot(g, prefix, 1) : -1;
  if (i < 0) return;
  int64_t old = atomic_load_explicit(&g->est[i].out_bytes, memory_order_relaxed);
  while ((int64_t)bytes + 1 > old && !atomic_compare_exchange_weak_explicit(&g->est[i].out_bytes, &old, (int64_t)bytes + 1,
                                                                        memory_order_relaxed, memory_order_relaxed)) {
  }
}

void dtxi_gpu_plan(run *r) {
  dtxi_gpus *g = r->cl->gpus;
  const dtx_graph *gr = r->g;
  uint8_t explored_cpu[64] = {0}; /* per prefix id (first 64): one CPU sample per run */
  for (uint32_t i = 0; i < r->m; i++) {
    rtask *t = &r->rt[i];
    const gtask *gt = &gr->tasks[t->gid];
    const gimpl *im = &gr->impls[gt->impl];
    if (gt->where != DTX_WHERE_ANY || im->cpu == NULL || im->cuda == NULL) continue;
    const char *prefix = gr->prefixes[gt->prefix];
    int64_t cpu = dtxi_gpus_estimate(g, prefix, 0), gpu = dtxi_gpus_estimate(g, prefix, 1);
    if (cpu == 0) {
      /* Never seen on a CPU: run one of this prefix there to learn. */
      if (gt->prefix < 64 && !explored_cpu[gt->prefix]) {
        explored_cpu[gt->prefix] = 1;
        t->on_cpu = 1;
      }
      continue;
    }
    t->on_cpu = gpu != 0 && cpu < gpu;
  }
}

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
    if (j->has_out && j->out_ptr != NULL) dtxi_free_async(j->s, j->out_ptr);
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
  invoke(j, j->r->g->impls[j->r->g->tasks[j->t->gid].impl].cpu);
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

/* Owner computes: the device holding most input bytes; else least busy. */
static gdev *choose(dtxi_gpus *g, const run *r, const gtask *gt) {
  if (gt->where > 0) return &g->dev[gt->where - 1]; /* checked against ndev at plan */
  size_t bytes[DTXI_MAX_GPUS] = {0}, most = 0;
  gdev *best = NULL;
  const uint32_t *ins = dtxi_gt_inputs(gt);
  for (uint32_t i = 0; i < gt->ninputs; i++) {
    const gres *res = r->rt[r->map[ins[i]]].res;
    if (res == NULL || !atomic_load_explicit(&res->resident, memory_order_relaxed)) continue;
    bytes[res->dev->index] += res->size;
    if (bytes[res->dev->index] > most) {
      most = bytes[res->dev->index];
      best = res->dev;
    }
  }
  if (best != NULL) return best;
  /* Earliest estimated finish: where the device's queue ends, plus moving
   * the inputs there over the measured links (the task's own duration is
   * the same on every device of a node). Ties go to the least busy. */
  double best_cost = 0;
  for (int d = 0; d < g->ndev; d++) {
    double cost = (double)atomic_load(&g->dev[d].queued_ns);
    for (uint32_t i = 0; i < gt->ninputs; i++) {
      const rtask *in = &r->rt[r->map[ins[i]]];
      size_t n = in->out != NULL ? in->out->size : in->res != NULL ? in->res->size : 0;
      if (n > 0) cost += dtxi_links_cost_ns(&r->cl->links, DTXI_HOST, d, n);
    }
    if (best == NULL || cost < best_cost ||
        (cost == best_cost && atomic_load(&g->dev[d].inflight) < atomic_load(&best->inflight))) {
      best = &g->dev[d];
      best_cost = cost;
    }
  }
  return best;
}

void dtxi_gres_release(gres *res) {
  if (atomic_fetch_sub_explicit(&res->refs, 1, memory_order_acq_rel) != 1) return;
  gdev *d = res->dev;
  dtxi_gpus *g = res->r != NULL ? res->r->cl->gpus : NULL;
  pthread_mutex_lock(&d->mu);
  pthread_mutex_lock(&d->mem_mu);
  lru_remove(d, res);
  int had = res->ptr != NULL;
  if (had) {
    dtxi_free_async(res->home, res->ptr);
    d->used -= (int64_t)res->size;
  }
  pthread_mutex_unlock(&d->mem_mu);
  pthread_mutex_unlock(&d->mu);
  if (res->host_ready != NULL) {
    /* Its readers waited for the spill copy; one that never came (failed
     * upstream) did not, so make sure it is over before the chunk goes. */
    dtxi_event_sync(res->host_ready);
    dtxi_event_destroy(res->host_ready);
  }
  dtxi_chunk_unref(res->host);
  dtxi_event_destroy(res->ready);
  free(res);
  if (had && g != NULL) retry_parked(g);
}

static char *enqueue_error(const run *r, const rtask *t, const char *what) {
  char key[DTX_MAX_KEY], buf[1024];
  const gtask *gt = &r->g->tasks[t->gid];
  dtxi_key_format(r->g->prefixes[gt->prefix], gt->nidx, gt->idx, key, sizeof key);
  snprintf(buf, sizeof buf, "%s: %s", key, what);
  return strdup(buf);
}

static void free_inputs(gjob *j, dtxi_stream *s);

/* Drops the job's pins of the device copies it read. */
static void unpin_inputs(gjob *j) {
  for (int i = 0; i < j->ninputs; i++) {
    if (j->pinned[i] != NULL) {
      unpin(j->pinned[i]);
      j->pinned[i] = NULL;
    }
    if (j->hpinned[i] != NULL) {
      dtxi_chunk_unpin(j->hpinned[i]);
      j->hpinned[i] = NULL;
    }
  }
}

static void free_job(gjob *j) {
  if (j->probe_slot > 0) atomic_store(&j->r->cl->gpus->est[j->probe_slot - 1].probing, 0);
  dtxi_event_destroy(j->ev);
  dtxi_event_destroy(j->ev2);
  dtxi_event_destroy(j->room_ev);
  free(j->in_ptr);
  free(j->in_size);
  free(j->borrowed);
  free(j->pinned);
  free(j->hpinned);
  free(j->alloc_err);
  free(j);
}

/* Frees a job that never reached the progress thread. */
static void drop_job(gjob *j) {
  unpin_inputs(j);
  uncharge(j->dev, j->in_charged + j->out_charged);
  atomic_fetch_sub(&j->dev->inflight, 1);
  atomic_fetch_sub(&j->dev->queued_ns, j->est_ns);
  free_job(j);
}

/* A GPU-to-GPU copy beats going through the host copy when the measured
 * link says so (DTX_P2P=peer forces it; =nccl is not available yet and
 * behaves like auto). */
static int peer_is_cheaper(const dtx_cluster *cl, int from, int to, size_t bytes) {
  const dtxi_env *env = dtxi_env_get();
  if (env->p2p == DTXI_P2P_PEER) return 1;
  double peer = dtxi_links_cost_ns(&cl->links, from, to, bytes);
  double host = dtxi_links_cost_ns(&cl->links, DTXI_HOST, to, bytes);
  return peer < host;
}

/* How input i reaches the device. */
enum { IN_NONE, IN_BORROW, IN_PEER, IN_HOST };

static void fail_now(run *r, rtask *t, char *msg) {
  dtxi_run_fail(r, t, msg);
  dtxi_run_task_done(r, t, 0);
}

/* Parks t on d until memory there is given back. A job in flight retries it
 * when it ends; with none in flight (they all ended while t was being
 * dispatched) it is retried here at once: with nothing in flight nothing is
 * pinned, so everything may spill and it fits, unless spilling itself fails,
 * which the depth bound turns into an error instead of endless retries. */
static _Thread_local int park_depth;

static void park(dtxi_gpus *g, gdev *d, run *r, rtask *t) {
  parked *p = malloc(sizeof *p);
  if (p == NULL) {
    fail_now(r, t, enqueue_error(r, t, "out of memory waiting for device memory"));
    return;
  }
  p->r = r;
  p->t = t;
  pthread_mutex_lock(&d->mem_mu);
  p->next = d->parked;
  d->parked = p;
  pthread_mutex_unlock(&d->mem_mu);
  if (total_inflight(g) != 0) return;
  if (park_depth < 4) {
    park_depth++;
    retry_parked(g);
    park_depth--;
    return;
  }
  pthread_mutex_lock(&d->mem_mu);
  parked **pp = &d->parked;
  while (*pp != NULL && *pp != p) pp = &(*pp)->next;
  int mine = *pp == p; /* else a retry already took it and dispatches it */
  if (mine) *pp = p->next;
  pthread_mutex_unlock(&d->mem_mu);
  if (mine) {
    free(p);
    char msg[200];
    snprintf(msg, sizeof msg, "no room on gpu %d under its memory limit (%lld bytes): spilling to host failed (%s)",
             d->index, (long long)d->limit, dtx_last_error());
    fail_now(r, t, enqueue_error(r, t, msg));
  }
}

void dtxi_gpu_dispatch(run *r, rtask *t) { dispatch(r, t); }

/* Places t and enqueues it (or parks it until there is room). */
static void dispatch(run *r, rtask *t) {
  dtxi_gpus *g = r->cl->gpus;
  const gtask *gt = &r->g->tasks[t->gid];
  const uint32_t *ins = dtxi_gt_inputs(gt);
  if (atomic_load_explicit(&r->any_error, memory_order_relaxed)) {
    for (uint32_t i = 0; i < gt->ninputs; i++) {
      const rtask *in = &r->rt[r->map[ins[i]]];
      if (in->err != NULL) {
        /* Marked failed by a CPU worker, which handles its dependents in a
         * loop (no recursion down long chains of failed GPU tasks). */
        dtxi_run_skip(r, t);
        return;
      }
    }
  }
  size_t nin = gt->ninputs ? gt->ninputs : 1;
  gjob *j = calloc(1, sizeof *j);
  void **in_ptr = calloc(nin, sizeof *in_ptr);
  size_t *in_size = calloc(nin, sizeof *in_size);
  char *borrowed = calloc(nin, 1);
  gres **pinned = calloc(nin, sizeof *pinned);
  dtx_chunk **hpinned = calloc(nin, sizeof *hpinned);
  const void **src = calloc(nin, sizeof *src);
  uint8_t *how = calloc(nin, 1);
  dtxi_event **wait = calloc(nin, sizeof *wait);
  if (j == NULL || in_ptr == NULL || in_size == NULL || borrowed == NULL || pinned == NULL || hpinned == NULL ||
      src == NULL || how == NULL || wait == NULL) {
    free(j);
    free(hpinned);
    free(in_ptr);
    free(in_size);
    free(borrowed);
    free(pinned);
    free(src);
    free(how);
    free(wait);
    fail_now(r, t, enqueue_error(r, t, "out of memory dispatching to a GPU"));
    return;
  }
  j->r = r;
  j->t = t;
  j->in_ptr = in_ptr;
  j->in_size = in_size;
  j->borrowed = borrowed;
  j->pinned = pinned;
  j->hpinned = hpinned;
  j->ninputs = (int)gt->ninputs;
  j->phase = 1;
  const char *prefix = r->g->prefixes[gt->prefix];
  gdev *d = j->dev = choose(g, r, gt);
  atomic_fetch_add(&d->inflight, 1);
  j->est_ns = dtxi_gpus_estimate(g, prefix, 1);
  atomic_fetch_add(&d->queued_ns, j->est_ns);
  pthread_mutex_lock(&d->mu);
  j->stream_index = (int)(d->next++ % (unsigned)d->ncompute);
  j->s = d->compute[j->stream_index];
  j->t_dispatch = dtxi_now_ns();

  /* Where each input comes from, pinning the device copies read so that no
   * spill takes them away while this job needs them. */
  int64_t need = 0, here = 0; /* bytes to allocate here; bytes already here */
  size_t largest = 0;
  for (uint32_t i = 0; i < gt->ninputs; i++) {
    rtask *in = &r->rt[r->map[ins[i]]];
    gres *res = in->res;
    size_t n = in->out != NULL ? in->out->size : res != NULL ? res->size : 0;
    in_size[i] = n;
    if (n > largest) largest = n;
    if (n == 0) continue;
    if (res != NULL) {
      pthread_mutex_lock(&res->dev->mem_mu);
      if (res->ptr != NULL && res->dev == d) {
        how[i] = IN_BORROW;
        pin_locked(res);
        pinned[i] = res;
        in_ptr[i] = res->ptr;
        borrowed[i] = 1;
        here += (int64_t)n;
      } else if (res->ptr != NULL &&
                 (in->out == NULL || peer_is_cheaper(r->cl, res->dev->index, d->index, n))) {
        how[i] = IN_PEER;
        pin_locked(res);
        pinned[i] = res;
        src[i] = res->ptr;
      } else {
        how[i] = IN_HOST;
        src[i] = in->out != NULL ? in->out->data : res->host->data;
        wait[i] = in->out != NULL ? NULL : res->host_ready;
        if (in->out == NULL) {
          res->dev->unspills++;
          res->dev->unspilled_bytes += (int64_t)n;
        }
      }
      pthread_mutex_unlock(&res->dev->mem_mu);
    } else {
      how[i] = IN_HOST;
      src[i] = in->out->data;
    }
    if (how[i] != IN_BORROW) need += (int64_t)n;
  }
  /* Host chunks copied from stay in memory (not spilled to disk) until done. */
  for (uint32_t i = 0; i < gt->ninputs; i++) {
    const rtask *in = &r->rt[r->map[ins[i]]];
    dtx_chunk *c = in->out != NULL ? in->out : in->res != NULL ? in->res->host : NULL;
    if (how[i] != IN_HOST || c == NULL || !c->spillable) continue;
    if (dtxi_chunk_pin(c) != DTX_OK) {
      char *msg = enqueue_error(r, t, dtx_last_error());
      pthread_mutex_unlock(&d->mu);
      drop_job(j);
      free(src);
      free(how);
      free(wait);
      fail_now(r, t, msg);
      return;
    }
    hpinned[i] = c;
  }
  /* The output: as large as this task's name made before. Under a limit, a
   * name never seen runs one task at a time until one has told its size. */
  int64_t limit = d->limit;
  int slot = est_slot(g, prefix, limit > 0);
  int64_t out_est = slot >= 0 ? atomic_load_explicit(&g->est[slot].out_bytes, memory_order_relaxed) : 0;
  int fits = 1, probe_busy = 0;
  if (out_est > 0) {
    out_est--;
  } else {
    out_est = (int64_t)largest;
    if (limit > 0 && slot >= 0) {
      int idle = 0;
      if (!atomic_compare_exchange_strong(&g->est[slot].probing, &idle, 1)) {
        probe_busy = 1;
      } else if ((out_est = atomic_load(&g->est[slot].out_bytes)) > 0) {
        /* learned by the probe that just ended */
        atomic_store(&g->est[slot].probing, 0);
        out_est--;
      } else {
        out_est = (int64_t)largest;
        j->probe_slot = slot + 1;
      }
    }
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
    free(how);
    free(wait);
    fail_now(r, t, enqueue_error(r, t, msg));
    return;
  }
  if (!probe_busy) fits = reserve(g, d, need + out_est, &j->room_ev);
  if (!fits || probe_busy) {
    /* Everything spillable is spilled and the rest is in use (or the size
     * of this name's output is being learned): wait until jobs in flight
     * finish. */
    pthread_mutex_unlock(&d->mu);
    drop_job(j);
    free(src);
    free(how);
    free(wait);
    park(g, d, r, t);
    return;
  }
  j->in_charged = need;
  j->out_charged = out_est;

  /* The event first: once the task is enqueued the job must reach the
   * progress thread, which needs the event to know when it may let go. */
  dtx_status rc = dtxi_event_create(g->b, d->index, &j->ev);
  if (rc == DTX_OK && j->room_ev != NULL) rc = dtxi_stream_wait(j->s, j->room_ev);
  for (uint32_t i = 0; i < gt->ninputs && rc == DTX_OK; i++) {
    rtask *in = &r->rt[r->map[ins[i]]];
    size_t n = in_size[i];
    switch (how[i]) {
      case IN_BORROW: /* reuse the copy already here: wait for it, don't fetch it */
        rc = dtxi_stream_wait(j->s, in->res->ready);
        break;
      case IN_PEER: /* straight from the GPU that holds it, once it is ready there */
        rc = dtxi_alloc_async(j->s, n, &in_ptr[i]);
        if (rc == DTX_OK) rc = dtxi_stream_wait(j->s, in->res->ready);
        if (rc == DTX_OK) rc = dtxi_copy_async(j->s, in_ptr[i], d->index, src[i], in->res->dev->index, n);
        break;
      case IN_HOST:
        rc = dtxi_alloc_async(j->s, n, &in_ptr[i]);
        if (rc == DTX_OK && wait[i] != NULL) rc = dtxi_stream_wait(j->s, wait[i]);
        if (rc == DTX_OK) rc = dtxi_copy_async(j->s, in_ptr[i], d->index, src[i], DTXI_HOST, n);
        break;
      default:
        break;
    }
  }
  free(src);
  free(how);
  free(wait);
  if (rc != DTX_OK) {
    /* Nothing of the task itself was enqueued: fail it here. Buffers already
     * enqueued are freed in stream order behind what used them. */
    char *msg = enqueue_error(r, t, dtx_last_error());
    free_inputs(j, j->s);
    dtxi_stream_reset(j->s);
    pthread_mutex_unlock(&d->mu);
    drop_job(j);
    fail_now(r, t, msg);
    return;
  }
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
    char *msg = enqueue_error(r, t, dtx_last_error());
    dtxi_stream_reset(j->s);
    pthread_mutex_unlock(&d->mu);
    DTXI_LOG(DTX_LOG_ERROR, "%s (a GPU job is abandoned)", msg);
    atomic_fetch_sub(&d->inflight, 1);
    atomic_fetch_sub(&d->queued_ns, j->est_ns);
    fail_now(r, t, msg);
    return;
  }
  if (rc != DTX_OK && j->err == NULL) j->err = enqueue_error(r, t, dtx_last_error());
  /* A device fault fails only the work up to here on this stream. */
  dtxi_stream_reset(j->s);
  pthread_mutex_unlock(&d->mu);
  handoff(g, j);
}

/* ---- completion (progress thread) ------------------------------------------------- */

static void free_inputs(gjob *j, dtxi_stream *s) {
  for (int i = 0; i < j->ninputs; i++)
    if (j->in_ptr[i] != NULL && !j->borrowed[i]) dtxi_free_async(s, j->in_ptr[i]);
  memset(j->in_ptr, 0, (size_t)j->ninputs * sizeof *j->in_ptr);
}

/* Slices for the task (on its compute stream's track) and the copy home
 * (on the d2h track). On simulated GPUs the task's times are exact; on CUDA
 * they are the host's view (dispatch to observed completion), clipped so
 * slices on one track never overlap. */
static void trace_job(gjob *j) {
  run *r = j->r;
  dtxi_trace *tr = r->cl->trace;
  gdev *d = j->dev;
  const gtask *gt = &r->g->tasks[j->t->gid];
  char key[DTX_MAX_KEY], args[64];
  dtxi_key_format(r->g->prefixes[gt->prefix], gt->nidx, gt->idx, key, sizeof key);
  int pid = DTXI_TRACE_GPU_PID(d->index);
  uint64_t t0 = j->t_run0 ? j->t_run0 : j->t_dispatch, t1 = j->t_run1 ? j->t_run1 : j->t_done1;
  uint64_t *end = &d->compute_end[j->stream_index];
  if (t0 < *end) t0 = *end;
  if (t1 < t0) t1 = t0;
  *end = t1;
  snprintf(args, sizeof args, "{\"device\":%d}", d->index);
  dtxi_trace_slice_args(tr, pid, d->compute_tid[j->stream_index], key, "task", r->g->prefixes[gt->prefix], t0, t1, args);
  if (j->host_out != NULL && j->host_out->size > 0 && j->t_done1 != 0) {
    uint64_t c0 = j->t_done1 > d->d2h_end ? j->t_done1 : d->d2h_end, c1 = dtxi_now_ns();
    if (c1 < c0) c1 = c0;
    d->d2h_end = c1;
    char link[32];
    snprintf(link, sizeof link, "gpu%d->host", d->index);
    dtxi_trace_transfer(tr, pid, d->d2h_tid, key, link, "d2h", j->host_out->size, c0, c1, 0);
  }
  size_t used = 0, cap = 0;
  r->cl->gpus->b->ops->mem_usage(r->cl->gpus->b, d->index, &used, &cap);
  dtxi_trace_counter(tr, pid, "device memory", dtxi_now_ns(), "used", (double)used);
}

static void finish(gjob *j) {
  run *r = j->r;
  gdev *d = j->dev;
  dtxi_gpus *g = r->cl->gpus;
  if (r->trace && j->err == NULL) trace_job(j);
  unpin_inputs(j);
  int64_t give_back = j->in_charged + j->out_charged; /* the inputs are freed by now */
  if (j->err != NULL) {
    if (j->host_out != NULL) {
      /* Nobody has seen it: drop it whatever readers it was made for. */
      atomic_store_explicit(&j->host_out->refs, 1, memory_order_relaxed);
      dtxi_chunk_unref(j->host_out);
      j->host_out = NULL;
    }
    dtxi_run_fail(r, j->t, j->err);
    j->err = NULL;
    if (j->out_ptr != NULL) {
      pthread_mutex_lock(&d->mu);
      dtxi_free_async(j->s, j->out_ptr);
      pthread_mutex_unlock(&d->mu);
    }
  } else {
    j->t->out = j->host_out;
    dtxi_chunk_unpin(j->host_out); /* here now: it may spill to disk */
    gres *res = j->out_ptr != NULL ? calloc(1, sizeof *res) : NULL;
    if (res != NULL) {
      res->dev = d;
      res->home = j->s;
      res->ptr = j->out_ptr;
      atomic_init(&res->resident, 1);
      res->size = j->out_size;
      res->ready = j->ev;
      atomic_init(&res->refs, j->t->nrefs);
      res->has_host = j->host_out != NULL;
      res->r = r;
      res->t = j->t;
      j->ev = NULL;
      give_back -= (int64_t)res->size; /* held on by the output */
      pthread_mutex_lock(&d->mem_mu);
      lru_push(d, res);
      pthread_mutex_unlock(&d->mem_mu);
      j->t->res = res;
    } else if (j->out_ptr != NULL) {
      pthread_mutex_lock(&d->mu);
      dtxi_free_async(j->s, j->out_ptr);
      pthread_mutex_unlock(&d->mu);
      if (j->host_out == NULL) /* the only copy is gone */
        dtxi_run_fail(r, j->t, enqueue_error(r, j->t, "out of host memory keeping its output"));
    }
  }
  uncharge(d, give_back);
  atomic_fetch_sub(&d->inflight, 1);
  atomic_fetch_sub(&d->queued_ns, j->est_ns);
  rtask *t = j->t;
  free_job(j);
  retry_parked(g);
  dtxi_run_task_done(r, t, 1);
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
    j->err = enqueue_error(j->r, j->t, dtxi_event_error(j->phase == 1 ? j->ev : j->ev2));
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
    if (j->err == NULL) dtxi_gpus_learn(g, j->r->g->prefixes[gt->prefix], 1, (int64_t)(t1 - t0));
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
    j->host_out = dtxi_chunk_new_spillable(j->r->cl->mem, j->out_size, j->t->nrefs); /* pinned until done */
    if (j->host_out == NULL)
      rc = dtxi_fail(DTX_ENOMEM, "out of host memory for a %zu-byte output", j->out_size);
    else
      rc = dtxi_copy_async(d->d2h, j->host_out->data, DTXI_HOST, j->out_ptr, d->index, j->out_size);
  } else if (rc == DTX_OK && j->has_out) {
    j->host_out = dtxi_chunk_new(j->r->cl->mem, 0, j->t->nrefs);
    if (j->host_out == NULL) rc = dtxi_fail(DTX_ENOMEM, "out of host memory");
  }
  free_inputs(j, d->d2h);
  if (j->has_out && j->out_ptr != NULL && j->out_size == 0) {
    dtxi_free_async(j->s, j->out_ptr);
    j->out_ptr = NULL;
  }
  if (rc == DTX_OK) rc = dtxi_event_record(j->ev2, d->d2h);
  if (rc == DTX_OK) rc = dtxi_host_fn(d->d2h, kick, g);
  if (rc != DTX_OK) j->err = enqueue_error(j->r, j->t, dtx_last_error());
  dtxi_stream_reset(d->d2h);
  pthread_mutex_unlock(&d->mu);
  if (j->err != NULL) {
    finish(j);
    return;
  }
  j->phase = 2;
  handoff(g, j);
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
      if (st == DTXI_EVENT_PENDING) {
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

dtx_status dtxi_gpus_start(dtx_cluster *cl, dtxi_backend *b, int streams_per_gpu, dtxi_gpus **out) {
  dtxi_gpus *g = calloc(1, sizeof *g);
  if (g == NULL) return dtxi_fail(DTX_ENOMEM, "out of memory starting the GPU scheduler");
  g->cl = cl;
  g->b = b;
  g->sim = strcmp(b->ops->name, "sim") == 0;
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  dtx_status rc = DTX_OK;
  for (int i = 0; i < b->ndev && rc == DTX_OK; i++) {
    gdev *d = &g->dev[i];
    d->index = i;
    pthread_mutex_init(&d->mu, NULL);
    pthread_mutex_init(&d->mem_mu, NULL);
    d->limit = (int64_t)cl->gpu_limits[i];
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
    d->compute_tid = calloc((size_t)streams_per_gpu, sizeof *d->compute_tid);
    d->compute_end = calloc((size_t)streams_per_gpu, sizeof *d->compute_end);
    if (rc == DTX_OK && (d->compute_tid == NULL || d->compute_end == NULL))
      rc = dtxi_fail(DTX_ENOMEM, "out of memory creating streams");
    if (rc == DTX_OK && cl->trace != NULL) {
      dtxi_trace_gpu_process(cl->trace, i, b->info[i].name);
      for (int k = 0; k < d->ncompute; k++) d->compute_tid[k] = dtxi_trace_stream_track(cl->trace, i, d->compute[k]->label);
      d->d2h_tid = dtxi_trace_stream_track(cl->trace, i, "d2h");
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
    while (d->parked != NULL) { /* none unless a run was abandoned */
      parked *p = d->parked;
      d->parked = p->next;
      free(p);
    }
    pthread_mutex_destroy(&d->mu);
    pthread_mutex_destroy(&d->mem_mu);
  }
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->cv);
  free(g);
}
