/*
 * device/backend_sim.c - the sim backend: N simulated GPUs in host memory.
 *
 * What it is for: every scheduling, placement, transfer, spill and error path
 * runs on machines without a GPU against the same contract as the cuda
 * backend (device/backend.h).
 *
 * What it owns:
 *   - per simulated device: the bytes charged (`used`) against its capacity
 *     and the armed fault countdowns, both under the device's mutex;
 *   - per stream: one host thread and its FIFO queue of operations (record,
 *     wait, alloc, free, copy, host_fn, reset) under the stream's mutex; the
 *     thread sleeps on a condvar when the queue is empty (no polling);
 *   - per event: a pointer to its latest mark, under the event's mutex. A
 *     mark is one recording: a refcounted object completed once, by the
 *     recording stream's thread, as DONE or FAILED (with the message). A wait
 *     captures the mark current at enqueue time, so re-recording never moves
 *     a wait already enqueued. Marks have their own mutex and condvar, so a
 *     completion wakes only those blocked on that mark;
 *   - every device block handed out, on one list, so destroy frees what
 *     callers leaked (a CUDA context teardown does the same);
 *   - per p2p group (dtxi_p2p_group, dtxi_broadcast): the items, who has
 *     arrived and how many moves each device still has, under the group's
 *     mutex; one reference per stream that takes part.
 *
 * Threads: any thread enqueues (one feeder per stream at a time, as the
 * contract says, though enqueueing is locked anyway); each stream's thread runs
 * its own operations; any thread polls or syncs events and reads mem_usage.
 * A stream's error state (failed, err) is touched only by its own thread:
 * stream_reset is itself a queued operation, so work enqueued before the reset
 * is still skipped and work enqueued after it runs.
 *
 * Invariants:
 *   used(dev) = sum of bytes of the charged blocks of dev <= capacity(dev);
 *   a mark's state goes PENDING -> DONE | FAILED once and never back;
 *   mark refs = (event points at it) + (record op queued) + (wait ops queued)
 *               + (syncs in progress);
 *   group refs = group ops not yet finished; left[d] = moves of the group
 *               that touch device d and are not done (a move touching d
 *               twice cannot exist: src_dev != dst_dev).
 *
 * Device memory: alloc_async hands the pointer back at once (like
 * cudaMallocAsync, so work enqueued right after can use it); the device is
 * charged when the alloc reaches the head of its stream, which is where it
 * fails as out of memory. A skipped or failed allocation charges nothing, and
 * nothing touches its memory since the stream skips work until reset; free it
 * with free_async like any other. Requests larger than the whole device get no
 * host memory behind them at all.
 *
 * Faults are counted when an operation is enqueued (deterministic for one
 * feeder): the nth alloc_async / copy_async / host_fn enqueued on a stream of
 * that device after dtxi_sim_inject_fault fails when it runs. A copy counts on
 * the device of the stream it is enqueued on.
 *
 * Bandwidth: a throttled copy takes bytes / bandwidth + latency from the start
 * of its memcpy; the stream thread sleeps (clock_nanosleep, absolute deadline)
 * for whatever the memcpy did not use. Concurrent copies do not share a link's
 * bandwidth: each stream is modelled as if alone on it.
 *
 * P2p groups (NCCL's grouped send/recv, and broadcast built from it): one
 * group op is queued on the stream of every device the group touches, all
 * under the backend's group_mu, so every stream holds the groups in the same
 * order (two groups can never wait on each other crosswise). When a stream's
 * thread reaches its group op it marks the device arrived; then, as the
 * receiver, it waits for each of its senders to arrive and copies that move
 * (throttled at the device-to-device bandwidth; the receiver pulls); then it
 * waits until every move it sends is done too. So a send and its receive each
 * wait for both sides, and both streams go on only once the bytes are there.
 * A stream that reaches the group in the error state still arrives (its peers
 * would hang otherwise) but moves nothing; a device receiving from it fails
 * with its message. An nccl fault fails the whole group at enqueue (DTX_EDEVICE
 * naming ncclGroupEnd) and queues a failure op on each of its streams, so
 * events recorded after it fail with the same message.
 *
 * Timed events: every mark notes dtxi_now_ns() when its stream passes it;
 * event_host_time hands that out for events made by event_create_timed.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "device/backend.h"
#include "trace/trace.h"

#define SIM_ALIGN 64
#define SIM_DEFAULT_CAPACITY ((size_t)1 << 30)
#define SIM_ERR_MAX DTXI_LAST_ERROR_MAX
#define SIM_BLOCK_MAGIC 0x73696d626c6f636bull /* "simblock" */

typedef struct sim_backend sim_backend;

/* ---- structures ---------------------------------------------------------- */

typedef struct sim_device {
  pthread_mutex_t mu; /* guards used and fault */
  size_t used;
  size_t capacity;
  int fault[4]; /* per dtxi_fault_kind: operations left until the fault; 0 = none armed */
} sim_device;

/* One recording of an event. */
typedef struct sim_mark {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* broadcast when state leaves PENDING */
  atomic_int state;  /* dtxi_event_state */
  atomic_int refs;
  char *err;     /* when FAILED; written before state is stored */
  uint64_t t_ns; /* dtxi_now_ns() when the stream passed it; written before state */
} sim_mark;

/* Header in front of every device block; the caller's pointer is hdr + SIM_ALIGN. */
typedef struct sim_block {
  struct sim_block *prev, *next; /* the backend's list, under blocks_mu */
  uint64_t magic;
  size_t bytes;
  int dev;
  atomic_bool charged; /* set by the alloc op, cleared by the free op */
} sim_block;
_Static_assert(sizeof(sim_block) <= SIM_ALIGN, "sim_block must fit in front of the block");

/* One grouped send/recv (or broadcast) shared by the streams taking part. */
typedef struct sim_group {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* broadcast on every arrival and every move done */
  atomic_int refs;   /* group ops not yet finished */
  int n;
  dtxi_p2p_item *items;
  /* Under mu: */
  bool arrived[DTXI_MAX_GPUS];
  bool failed[DTXI_MAX_GPUS]; /* the device's stream was in the error state on arrival */
  char *err[DTXI_MAX_GPUS];   /* its message (may be NULL if strdup failed) */
  int left[DTXI_MAX_GPUS];    /* moves touching the device not yet done */
} sim_group;

typedef enum op_type {
  OP_RECORD,
  OP_WAIT,
  OP_ALLOC,
  OP_FREE,
  OP_COPY,
  OP_HOST_FN,
  OP_RESET,
  OP_GROUP, /* this device's part of a p2p group */
  OP_FAIL,  /* fails the stream with msg (an enqueue that failed across streams) */
} op_type;

typedef struct sim_op {
  struct sim_op *next;
  op_type type;
  bool fault; /* an injected fault fires when this op runs */
  union {
    sim_mark *mark;   /* OP_RECORD, OP_WAIT: one reference held */
    sim_block *block; /* OP_ALLOC, OP_FREE */
    struct {
      void *dst;
      const void *src;
      size_t bytes;
      int dst_dev, src_dev;
    } copy;
    struct {
      dtxi_stream_fn fn;
      void *arg;
    } fn;
    sim_group *group; /* OP_GROUP: one reference held */
    char *msg;        /* OP_FAIL: owned */
  } u;
} sim_op;

typedef struct sim_stream {
  dtxi_stream base; /* first: the contract's header */
  sim_backend *sb;
  struct sim_stream *prev, *next; /* the backend's list, under sb->mu */
  pthread_t thread;
  pthread_mutex_t mu; /* guards head, tail, stopping */
  pthread_cond_t cv;  /* signalled on enqueue and stop */
  sim_op *head, *tail;
  bool stopping;
  /* The stream thread's own: */
  bool failed;
  char err[SIM_ERR_MAX];
} sim_stream;

typedef struct sim_event {
  dtxi_event base;               /* first: the contract's header */
  struct sim_event *prev, *next; /* the backend's list, under sb->mu */
  pthread_mutex_t mu;            /* guards mark */
  sim_mark *mark;                /* latest recording; NULL = never recorded (counts as DONE) */
  bool timed;                    /* made by event_create_timed: event_host_time answers */
} sim_event;

struct sim_backend {
  dtxi_backend base; /* first: the contract's header */
  dtxi_sim_config cfg;
  sim_device dev[DTXI_MAX_GPUS];
  pthread_mutex_t mu; /* guards streams, events */
  sim_stream *streams;
  sim_event *events;
  pthread_mutex_t blocks_mu;
  sim_block *blocks;
  pthread_mutex_t group_mu; /* held while a group's ops are queued on its streams */
};

static const dtxi_backend_ops sim_ops;

static inline sim_backend *sim_of(dtxi_backend *b) { return (sim_backend *)b; }
static inline sim_stream *stream_of(dtxi_stream *s) { return (sim_stream *)s; }
static inline sim_event *event_of(dtxi_event *e) { return (sim_event *)e; }

/* ---- marks ----------------------------------------------------------------- */

static sim_mark *mark_new(void) {
  sim_mark *m = calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->cv, NULL);
  atomic_init(&m->state, DTXI_EVENT_PENDING);
  atomic_init(&m->refs, 1);
  return m;
}

static void mark_ref(sim_mark *m) { atomic_fetch_add(&m->refs, 1); }

static void mark_unref(sim_mark *m) {
  if (m == NULL || atomic_fetch_sub(&m->refs, 1) != 1) return;
  pthread_cond_destroy(&m->cv);
  pthread_mutex_destroy(&m->mu);
  free(m->err);
  free(m);
}

/* Completes m as DONE (err NULL) or FAILED with a copy of err. */
static void mark_complete(sim_mark *m, const char *err) {
  pthread_mutex_lock(&m->mu);
  m->t_ns = dtxi_now_ns();
  if (err != NULL) {
    m->err = strdup(err);
    atomic_store(&m->state, DTXI_EVENT_FAILED);
  } else {
    atomic_store(&m->state, DTXI_EVENT_DONE);
  }
  pthread_cond_broadcast(&m->cv);
  pthread_mutex_unlock(&m->mu);
}

static dtxi_event_state mark_wait(sim_mark *m) {
  dtxi_event_state st = (dtxi_event_state)atomic_load(&m->state);
  if (st != DTXI_EVENT_PENDING) return st;
  pthread_mutex_lock(&m->mu);
  while ((st = (dtxi_event_state)atomic_load(&m->state)) == DTXI_EVENT_PENDING)
    pthread_cond_wait(&m->cv, &m->mu);
  pthread_mutex_unlock(&m->mu);
  return st;
}

static const char *mark_error(sim_mark *m) {
  if (atomic_load(&m->state) != DTXI_EVENT_FAILED) return "";
  return m->err != NULL ? m->err : "sim: a stream failed (out of memory copying its message)";
}

/* The event's current mark with a reference taken, or NULL if never recorded. */
static sim_mark *event_mark(sim_event *e) {
  pthread_mutex_lock(&e->mu);
  sim_mark *m = e->mark;
  if (m != NULL) mark_ref(m);
  pthread_mutex_unlock(&e->mu);
  return m;
}

/* ---- blocks -------------------------------------------------------------- */

static inline void *block_ptr(sim_block *k) { return (char *)k + SIM_ALIGN; }

static sim_block *block_of(void *ptr) {
  sim_block *k = (sim_block *)((char *)ptr - SIM_ALIGN);
  DTX_ASSERT(k->magic == SIM_BLOCK_MAGIC); /* a pointer alloc_async did not hand out */
  return k;
}

static void block_release(sim_backend *sb, sim_block *k) {
  if (atomic_exchange(&k->charged, false)) {
    sim_device *d = &sb->dev[k->dev];
    pthread_mutex_lock(&d->mu);
    DTX_ASSERT(d->used >= k->bytes);
    d->used -= k->bytes;
    pthread_mutex_unlock(&d->mu);
  }
  pthread_mutex_lock(&sb->blocks_mu);
  if (k->prev != NULL)
    k->prev->next = k->next;
  else
    sb->blocks = k->next;
  if (k->next != NULL) k->next->prev = k->prev;
  pthread_mutex_unlock(&sb->blocks_mu);
  k->magic = 0;
  free(k);
}

/* ---- running operations (on the stream's thread) ------------------------- */

static void stream_fail(sim_stream *s, const char *msg) {
  if (s->failed) return; /* the first error is the one reported */
  s->failed = true;
  snprintf(s->err, sizeof s->err, "%s", (msg != NULL && msg[0] != '\0') ? msg : "sim: operation failed");
  DTXI_LOG(DTX_LOG_DEBUG, "sim stream %s (gpu %d) failed: %s", s->base.label, s->base.dev, s->err);
}

static double copy_seconds(const dtxi_sim_config *cfg, int dst_dev, int src_dev, size_t bytes) {
  double gbps;
  if (dst_dev == DTXI_HOST && src_dev == DTXI_HOST) return 0.0;
  gbps = (dst_dev == DTXI_HOST || src_dev == DTXI_HOST) ? cfg->h2d_gbps : cfg->d2d_gbps;
  if (gbps <= 0.0) return 0.0;
  return (double)bytes / (gbps * 1e9) + cfg->latency_us * 1e-6;
}

static void sleep_until(const struct timespec *deadline) {
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, deadline, NULL) == EINTR) {
  }
}

/* memmove, then sleep out the rest of the modelled time (when throttled). */
static void throttled_copy(const dtxi_sim_config *cfg, void *dst, int dst_dev, const void *src, int src_dev,
                           size_t bytes) {
  struct timespec t0;
  double secs = copy_seconds(cfg, dst_dev, src_dev, bytes);
  if (secs > 0.0) clock_gettime(CLOCK_MONOTONIC, &t0);
  if (bytes > 0 && dst != src) memmove(dst, src, bytes);
  if (secs > 0.0) {
    double whole = floor(secs);
    struct timespec end = t0;
    end.tv_sec += (time_t)whole;
    end.tv_nsec += (long)((secs - whole) * 1e9);
    while (end.tv_nsec >= 1000000000L) end.tv_sec++, end.tv_nsec -= 1000000000L;
    sleep_until(&end);
  }
}

static void run_copy(sim_stream *s, sim_op *op) {
  throttled_copy(&s->sb->cfg, op->u.copy.dst, op->u.copy.dst_dev, op->u.copy.src, op->u.copy.src_dev,
                 op->u.copy.bytes);
}

/* ---- p2p groups ------------------------------------------------------------ */

static void group_unref(sim_group *g) {
  if (g == NULL || atomic_fetch_sub(&g->refs, 1) != 1) return;
  for (int i = 0; i < DTXI_MAX_GPUS; i++) free(g->err[i]);
  pthread_cond_destroy(&g->cv);
  pthread_mutex_destroy(&g->mu);
  free(g->items);
  free(g);
}

/* This device's part of g, on its stream's thread: arrive, pull every move
 * this device receives once its sender has arrived, then wait for the moves
 * it sends to be pulled. */
static void run_group(sim_stream *s, sim_group *g) {
  int d = s->base.dev;
  char msg[SIM_ERR_MAX];
  pthread_mutex_lock(&g->mu);
  g->arrived[d] = true;
  if (s->failed) {
    g->failed[d] = true;
    g->err[d] = strdup(s->err);
  }
  pthread_cond_broadcast(&g->cv);
  for (int k = 0; k < g->n; k++) {
    const dtxi_p2p_item *it = &g->items[k];
    if (it->dst_dev != d) continue;
    while (!g->arrived[it->src_dev]) pthread_cond_wait(&g->cv, &g->mu);
    if (g->failed[it->src_dev]) {
      snprintf(msg, sizeof msg,
               "sim gpu %d: ncclRecv of %zu bytes from gpu %d: the sending stream had failed: %s", d,
               it->bytes, it->src_dev,
               g->err[it->src_dev] != NULL ? g->err[it->src_dev] : "(message lost: out of host memory)");
      stream_fail(s, msg);
    } else if (!s->failed) {
      pthread_mutex_unlock(&g->mu);
      throttled_copy(&s->sb->cfg, it->dst, it->dst_dev, it->src, it->src_dev, it->bytes);
      pthread_mutex_lock(&g->mu);
    }
    g->left[it->src_dev]--;
    g->left[d]--;
    pthread_cond_broadcast(&g->cv);
  }
  while (g->left[d] > 0) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}

static void run_alloc(sim_stream *s, sim_op *op) {
  sim_block *k = op->u.block;
  sim_device *d = &s->sb->dev[k->dev];
  char msg[256];
  if (op->fault) {
    snprintf(msg, sizeof msg, "sim gpu %d: injected alloc fault (out of memory allocating %zu bytes)", k->dev,
             k->bytes);
    stream_fail(s, msg);
    return;
  }
  pthread_mutex_lock(&d->mu);
  size_t used = d->used, cap = d->capacity;
  bool fits = k->bytes <= cap - used;
  if (fits) d->used += k->bytes;
  pthread_mutex_unlock(&d->mu);
  if (!fits) {
    snprintf(msg, sizeof msg, "sim gpu %d: out of memory allocating %zu bytes (in use %zu of %zu)", k->dev,
             k->bytes, used, cap);
    stream_fail(s, msg);
    return;
  }
  atomic_store(&k->charged, true);
}

static void run_op(sim_stream *s, sim_op *op) {
  char msg[SIM_ERR_MAX];
  switch (op->type) {
    case OP_RECORD:
      mark_complete(op->u.mark, s->failed ? s->err : NULL);
      mark_unref(op->u.mark);
      break;
    case OP_WAIT:
      /* Waits even when failed, so work enqueued after a later reset stays
       * ordered behind the event. */
      if (mark_wait(op->u.mark) == DTXI_EVENT_FAILED) stream_fail(s, mark_error(op->u.mark));
      mark_unref(op->u.mark);
      break;
    case OP_ALLOC:
      if (!s->failed) run_alloc(s, op);
      break;
    case OP_FREE:
      block_release(s->sb, op->u.block); /* frees run even after a failure */
      break;
    case OP_COPY:
      if (s->failed) break;
      if (op->fault) {
        snprintf(msg, sizeof msg, "sim gpu %d: injected copy fault (%zu bytes on stream %s)", s->base.dev,
                 op->u.copy.bytes, s->base.label);
        stream_fail(s, msg);
        break;
      }
      run_copy(s, op);
      break;
    case OP_HOST_FN:
      if (s->failed) break;
      if (op->fault) {
        snprintf(msg, sizeof msg, "sim gpu %d: injected kernel fault (stream %s)", s->base.dev,
                 s->base.label);
        stream_fail(s, msg);
        break;
      }
      msg[0] = '\0';
      int rc = op->u.fn.fn(op->u.fn.arg, msg, sizeof msg);
      if (rc != 0) {
        msg[sizeof msg - 1] = '\0';
        if (msg[0] == '\0')
          snprintf(msg, sizeof msg, "sim gpu %d: host function failed (returned %d) on stream %s",
                   s->base.dev, rc, s->base.label);
        stream_fail(s, msg);
      }
      break;
    case OP_RESET:
      s->failed = false;
      s->err[0] = '\0';
      break;
    case OP_GROUP:
      run_group(s, op->u.group); /* even when failed: the peers wait for this device */
      group_unref(op->u.group);
      break;
    case OP_FAIL:
      stream_fail(
          s, op->u.msg != NULL ? op->u.msg : "sim: an operation failed (out of host memory copying why)");
      free(op->u.msg);
      break;
  }
}

static void *stream_main(void *arg) {
  sim_stream *s = arg;
  char name[16];
  snprintf(name, sizeof name, "dtx-sim%d-%.6s", s->base.dev, s->base.label);
  pthread_setname_np(pthread_self(), name);
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (s->head == NULL && !s->stopping) pthread_cond_wait(&s->cv, &s->mu);
    sim_op *batch = s->head;
    if (batch == NULL) break; /* stopping, and the queue is drained */
    s->head = s->tail = NULL;
    pthread_mutex_unlock(&s->mu);
    while (batch != NULL) {
      sim_op *next = batch->next;
      run_op(s, batch);
      free(batch);
      batch = next;
    }
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* ---- enqueueing ---------------------------------------------------------- */

static sim_op *op_new(op_type t) {
  sim_op *op = calloc(1, sizeof *op);
  if (op != NULL) op->type = t;
  return op;
}

static void enqueue(sim_stream *s, sim_op *op) {
  op->next = NULL;
  pthread_mutex_lock(&s->mu);
  bool was_empty = s->head == NULL;
  if (s->tail != NULL)
    s->tail->next = op;
  else
    s->head = op;
  s->tail = op;
  if (was_empty) pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* Counts one operation of kind on dev; true when an armed fault fires on it. */
static bool fault_fires(sim_backend *sb, int dev, dtxi_fault_kind kind) {
  sim_device *d = &sb->dev[dev];
  bool fire = false;
  pthread_mutex_lock(&d->mu);
  if (d->fault[kind] > 0) fire = --d->fault[kind] == 0;
  pthread_mutex_unlock(&d->mu);
  return fire;
}

static dtx_status no_memory(const char *what) {
  return dtxi_fail(DTX_ENOMEM, "sim %s: out of host memory", what);
}

/* ---- the ops table ------------------------------------------------------- */

static bool dev_ok(const sim_backend *sb, int dev) { return dev >= 0 && dev < sb->base.ndev; }

static dtx_status sim_stream_create(dtxi_backend *b, int dev, dtxi_stream_kind kind, const char *label,
                                    dtxi_stream **out) {
  sim_backend *sb = sim_of(b);
  if (out == NULL) return dtxi_fail(DTX_EINVAL, "sim stream_create: out is NULL");
  if (!dev_ok(sb, dev))
    return dtxi_fail(DTX_EINVAL, "sim stream_create: device %d does not exist (the backend has %d: 0..%d)",
                     dev, sb->base.ndev, sb->base.ndev - 1);
  if ((int)kind < DTXI_STREAM_COMPUTE || (int)kind > DTXI_STREAM_NCCL)
    return dtxi_fail(DTX_EINVAL, "sim stream_create: unknown stream kind %d", (int)kind);
  sim_stream *s = calloc(1, sizeof *s);
  if (s == NULL) return no_memory("stream_create");
  s->base.b = b;
  s->base.dev = dev;
  s->base.kind = kind;
  snprintf(s->base.label, sizeof s->base.label, "%s", label != NULL ? label : dtxi_stream_kind_name(kind));
  s->sb = sb;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  int rc = pthread_create(&s->thread, NULL, stream_main, s);
  if (rc != 0) {
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return dtxi_fail(DTX_EDEVICE, "sim gpu %d: cannot start the thread of stream %s: %s", dev,
                     label != NULL ? label : dtxi_stream_kind_name(kind), strerror(rc));
  }
  pthread_mutex_lock(&sb->mu);
  s->next = sb->streams;
  if (sb->streams != NULL) sb->streams->prev = s;
  sb->streams = s;
  pthread_mutex_unlock(&sb->mu);
  *out = &s->base;
  return DTX_OK;
}

/* Drains the queue, joins the thread, frees the stream. */
static void sim_stream_destroy(dtxi_stream *st) {
  sim_stream *s = stream_of(st);
  sim_backend *sb = s->sb;
  pthread_mutex_lock(&sb->mu);
  if (s->prev != NULL)
    s->prev->next = s->next;
  else
    sb->streams = s->next;
  if (s->next != NULL) s->next->prev = s->prev;
  pthread_mutex_unlock(&sb->mu);
  pthread_mutex_lock(&s->mu);
  s->stopping = true;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->thread, NULL);
  DTX_ASSERT(s->head == NULL);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static void sim_stream_reset(dtxi_stream *st) {
  sim_op *op = op_new(OP_RESET);
  DTX_ASSERT(op != NULL); /* no way to report it: the contract's reset cannot fail */
  enqueue(stream_of(st), op);
}

static dtx_status event_new(dtxi_backend *b, int dev, bool timed, dtxi_event **out) {
  sim_backend *sb = sim_of(b);
  const char *call = timed ? "event_create_timed" : "event_create";
  if (out == NULL) return dtxi_fail(DTX_EINVAL, "sim %s: out is NULL", call);
  if (!dev_ok(sb, dev))
    return dtxi_fail(DTX_EINVAL, "sim %s: device %d does not exist (the backend has %d: 0..%d)", call, dev,
                     sb->base.ndev, sb->base.ndev - 1);
  sim_event *e = calloc(1, sizeof *e);
  if (e == NULL) return no_memory(call);
  e->base.b = b;
  e->base.dev = dev;
  e->timed = timed;
  pthread_mutex_init(&e->mu, NULL);
  pthread_mutex_lock(&sb->mu);
  e->next = sb->events;
  if (sb->events != NULL) sb->events->prev = e;
  sb->events = e;
  pthread_mutex_unlock(&sb->mu);
  *out = &e->base;
  return DTX_OK;
}

static dtx_status sim_event_create(dtxi_backend *b, int dev, dtxi_event **out) {
  return event_new(b, dev, false, out);
}

static dtx_status sim_event_create_timed(dtxi_backend *b, int dev, dtxi_event **out) {
  return event_new(b, dev, true, out);
}

/* When the stream passed the event's last mark (DONE or FAILED). */
static dtx_status sim_event_host_time(dtxi_event *ev, uint64_t *ns) {
  sim_event *e = event_of(ev);
  if (ns == NULL) return dtxi_fail(DTX_EINVAL, "sim event_host_time: ns is NULL");
  if (!e->timed)
    return dtxi_fail(DTX_EINVAL,
                     "sim event_host_time: the event (gpu %d) was made without timing; create it with "
                     "dtxi_event_create_timed",
                     ev->dev);
  dtx_status rc = DTX_OK;
  pthread_mutex_lock(&e->mu);
  if (e->mark == NULL)
    rc = dtxi_fail(DTX_EINVAL, "sim event_host_time: the event (gpu %d) was never recorded", ev->dev);
  else if (atomic_load(&e->mark->state) == DTXI_EVENT_PENDING)
    rc =
        dtxi_fail(DTX_EINVAL,
                  "sim event_host_time: the event (gpu %d) has not completed yet; ask after event_query says "
                  "done or failed",
                  ev->dev);
  else
    *ns = e->mark->t_ns;
  pthread_mutex_unlock(&e->mu);
  return rc;
}

/* Frees the event; queued records and waits keep their marks alive. */
static void sim_event_destroy(dtxi_event *ev) {
  sim_event *e = event_of(ev);
  sim_backend *sb = sim_of(ev->b);
  pthread_mutex_lock(&sb->mu);
  if (e->prev != NULL)
    e->prev->next = e->next;
  else
    sb->events = e->next;
  if (e->next != NULL) e->next->prev = e->prev;
  pthread_mutex_unlock(&sb->mu);
  mark_unref(e->mark);
  pthread_mutex_destroy(&e->mu);
  free(e);
}

static dtx_status sim_event_record(dtxi_event *ev, dtxi_stream *st) {
  sim_event *e = event_of(ev);
  sim_op *op = op_new(OP_RECORD);
  sim_mark *m = mark_new();
  if (op == NULL || m == NULL) {
    free(op);
    free(m);
    return no_memory("event_record");
  }
  mark_ref(m); /* one for the event, one for the record op */
  op->u.mark = m;
  pthread_mutex_lock(&e->mu);
  sim_mark *old = e->mark;
  e->mark = m;
  pthread_mutex_unlock(&e->mu);
  mark_unref(old);
  enqueue(stream_of(st), op);
  return DTX_OK;
}

static dtx_status sim_stream_wait(dtxi_stream *st, dtxi_event *ev) {
  sim_mark *m = event_mark(event_of(ev));
  if (m == NULL) return DTX_OK; /* never recorded: complete */
  if (atomic_load(&m->state) == DTXI_EVENT_DONE) {
    mark_unref(m); /* already done: nothing to wait for */
    return DTX_OK;
  }
  sim_op *op = op_new(OP_WAIT);
  if (op == NULL) {
    mark_unref(m);
    return no_memory("stream_wait");
  }
  op->u.mark = m; /* the reference taken above */
  enqueue(stream_of(st), op);
  return DTX_OK;
}

static dtxi_event_state sim_event_query(dtxi_event *ev) {
  sim_event *e = event_of(ev);
  pthread_mutex_lock(&e->mu);
  dtxi_event_state st = e->mark != NULL ? (dtxi_event_state)atomic_load(&e->mark->state) : DTXI_EVENT_DONE;
  pthread_mutex_unlock(&e->mu);
  return st;
}

static dtxi_event_state sim_event_sync(dtxi_event *ev) {
  sim_mark *m = event_mark(event_of(ev));
  if (m == NULL) return DTXI_EVENT_DONE;
  dtxi_event_state st = mark_wait(m);
  mark_unref(m);
  return st;
}

/* The message of a FAILED event, "" otherwise. Valid until the event is
 * recorded again or destroyed. */
static const char *sim_event_error(dtxi_event *ev) {
  sim_event *e = event_of(ev);
  pthread_mutex_lock(&e->mu);
  const char *msg = e->mark != NULL ? mark_error(e->mark) : "";
  pthread_mutex_unlock(&e->mu);
  return msg;
}

static dtx_status sim_alloc_async(dtxi_stream *st, size_t bytes, void **ptr) {
  sim_stream *s = stream_of(st);
  sim_backend *sb = s->sb;
  int dev = st->dev;
  if (ptr == NULL) return dtxi_fail(DTX_EINVAL, "sim alloc_async: ptr is NULL");
  *ptr = NULL;
  /* Called by work running on this very stream (a task allocating its output
   * from inside a host function): charge the device now and report running
   * out at once, as cudaMallocAsync does, since an operation queued behind
   * the running one would come too late. */
  int inline_charge = pthread_equal(pthread_self(), s->thread);
  if (inline_charge) {
    if (fault_fires(sb, dev, DTXI_FAULT_ALLOC))
      return dtxi_fail(DTX_ENOMEM, "sim gpu %d: injected alloc fault (out of memory allocating %zu bytes)",
                       dev, bytes);
    sim_device *d = &sb->dev[dev];
    pthread_mutex_lock(&d->mu);
    size_t used = d->used, cap = d->capacity;
    int fits = bytes <= cap - used;
    if (fits) d->used += bytes;
    pthread_mutex_unlock(&d->mu);
    if (!fits)
      return dtxi_fail(DTX_ENOMEM, "sim gpu %d: out of memory allocating %zu bytes (in use %zu of %zu)", dev,
                       bytes, used, cap);
  }
  /* Host memory behind the block only if it could ever fit on the device. */
  size_t payload = bytes <= sb->dev[dev].capacity ? (bytes + SIM_ALIGN - 1) / SIM_ALIGN * SIM_ALIGN : 0;
  sim_op *op = op_new(OP_ALLOC);
  sim_block *k = aligned_alloc(SIM_ALIGN, SIM_ALIGN + payload);
  if (op == NULL || k == NULL) {
    free(op);
    free(k);
    if (inline_charge) {
      pthread_mutex_lock(&sb->dev[dev].mu);
      sb->dev[dev].used -= bytes;
      pthread_mutex_unlock(&sb->dev[dev].mu);
    }
    return dtxi_fail(DTX_ENOMEM, "sim alloc_async: out of host memory backing %zu bytes of sim gpu %d", bytes,
                     dev);
  }
  memset(k, 0, sizeof *k);
  k->magic = SIM_BLOCK_MAGIC;
  k->bytes = bytes;
  k->dev = dev;
  atomic_init(&k->charged, false);
  pthread_mutex_lock(&sb->blocks_mu);
  k->next = sb->blocks;
  if (sb->blocks != NULL) sb->blocks->prev = k;
  sb->blocks = k;
  pthread_mutex_unlock(&sb->blocks_mu);
  *ptr = block_ptr(k);
  if (inline_charge) {
    atomic_store(&k->charged, true);
    free(op);
    return DTX_OK;
  }
  op->u.block = k;
  op->fault = fault_fires(sb, dev, DTXI_FAULT_ALLOC);
  enqueue(s, op);
  return DTX_OK;
}

static void sim_free_async(dtxi_stream *st, void *ptr) {
  if (ptr == NULL) return;
  sim_op *op = op_new(OP_FREE);
  DTX_ASSERT(op != NULL); /* the contract's free cannot fail */
  op->u.block = block_of(ptr);
  enqueue(stream_of(st), op);
}

static dtx_status sim_copy_async(dtxi_stream *st, void *dst, int dst_dev, const void *src, int src_dev,
                                 size_t bytes) {
  sim_stream *s = stream_of(st);
  sim_backend *sb = s->sb;
  if ((dst_dev != DTXI_HOST && !dev_ok(sb, dst_dev)) || (src_dev != DTXI_HOST && !dev_ok(sb, src_dev)))
    return dtxi_fail(DTX_EINVAL, "sim copy_async: device %d does not exist (use DTXI_HOST or 0..%d)",
                     (dst_dev != DTXI_HOST && !dev_ok(sb, dst_dev)) ? dst_dev : src_dev, sb->base.ndev - 1);
  if (bytes > 0 && (dst == NULL || src == NULL))
    return dtxi_fail(DTX_EINVAL, "sim copy_async: %s is NULL for a copy of %zu bytes",
                     dst == NULL ? "dst" : "src", bytes);
  sim_op *op = op_new(OP_COPY);
  if (op == NULL) return no_memory("copy_async");
  op->u.copy.dst = dst;
  op->u.copy.src = src;
  op->u.copy.bytes = bytes;
  op->u.copy.dst_dev = dst_dev;
  op->u.copy.src_dev = src_dev;
  op->fault = fault_fires(sb, st->dev, DTXI_FAULT_COPY);
  enqueue(s, op);
  return DTX_OK;
}

static dtx_status sim_host_fn(dtxi_stream *st, dtxi_stream_fn fn, void *arg) {
  sim_stream *s = stream_of(st);
  if (fn == NULL) return dtxi_fail(DTX_EINVAL, "sim host_fn: fn is NULL");
  sim_op *op = op_new(OP_HOST_FN);
  if (op == NULL) return no_memory("host_fn");
  op->u.fn.fn = fn;
  op->u.fn.arg = arg;
  op->fault = fault_fires(s->sb, st->dev, DTXI_FAULT_KERNEL);
  enqueue(s, op);
  return DTX_OK;
}

static dtx_status sim_host_alloc(dtxi_backend *b, size_t bytes, void **ptr) {
  if (ptr == NULL) return dtxi_fail(DTX_EINVAL, "sim host_alloc: ptr is NULL");
  size_t n = bytes == 0 ? SIM_ALIGN : (bytes + SIM_ALIGN - 1) / SIM_ALIGN * SIM_ALIGN;
  if (n < bytes) return dtxi_fail(DTX_ENOMEM, "sim host_alloc: %zu bytes is too large", bytes);
  void *p = aligned_alloc(SIM_ALIGN, n);
  if (p == NULL)
    return dtxi_fail(DTX_ENOMEM, "sim host_alloc: out of host memory allocating %zu bytes", bytes);
  *ptr = p;
  return DTX_OK;
}

static void sim_host_free(dtxi_backend *b, void *ptr) { free(ptr); }

static void sim_mem_usage(dtxi_backend *b, int dev, size_t *used, size_t *capacity) {
  sim_backend *sb = sim_of(b);
  size_t u = 0, c = 0;
  if (dev_ok(sb, dev)) {
    pthread_mutex_lock(&sb->dev[dev].mu);
    u = sb->dev[dev].used;
    c = sb->dev[dev].capacity;
    pthread_mutex_unlock(&sb->dev[dev].mu);
  }
  if (used != NULL) *used = u;
  if (capacity != NULL) *capacity = c;
}

static void *sim_native_stream(dtxi_stream *s) { return NULL; }

/* ---- p2p groups: enqueueing ------------------------------------------------ */

static bool sim_nccl_available(dtxi_backend *b) { return true; }

/* Queues one group (items[0..n), n may be 0) on the streams of the devices it
 * touches, and first, when local is not NULL, the local copy *local on
 * streams[local->src_dev] (a broadcast root's own copy). The arguments were
 * checked by backend.c. All or nothing: on DTX_ENOMEM nothing is queued. */
static dtx_status enqueue_group(sim_backend *sb, const dtxi_p2p_item *items, int n,
                                dtxi_stream *const *streams, const dtxi_p2p_item *local) {
  bool part[DTXI_MAX_GPUS] = {false};
  sim_op *ops[DTXI_MAX_GPUS] = {NULL};
  sim_op *copy = NULL;
  sim_group *g = NULL;
  int nparts = 0;
  for (int k = 0; k < n; k++) part[items[k].src_dev] = part[items[k].dst_dev] = true;
  for (int d = 0; d < sb->base.ndev; d++) nparts += part[d];
  if (nparts > 0) {
    g = calloc(1, sizeof *g);
    if (g == NULL || (g->items = malloc((size_t)n * sizeof *items)) == NULL) goto no_memory;
    memcpy(g->items, items, (size_t)n * sizeof *items);
    g->n = n;
    for (int k = 0; k < n; k++) {
      g->left[items[k].src_dev]++;
      g->left[items[k].dst_dev]++;
    }
    for (int d = 0; d < sb->base.ndev; d++)
      if (part[d] && (ops[d] = op_new(OP_GROUP)) == NULL) goto no_memory;
  }
  if (local != NULL && (copy = op_new(OP_COPY)) == NULL) goto no_memory;

  pthread_mutex_lock(&sb->group_mu);
  bool fired = false;
  int fired_dev = -1;
  for (int d = 0; d < sb->base.ndev; d++)
    if (part[d] && fault_fires(sb, d, DTXI_FAULT_NCCL) && !fired) {
      fired = true;
      fired_dev = d;
    }
  if (fired) {
    char msg[SIM_ERR_MAX];
    snprintf(
        msg, sizeof msg,
        "sim gpu %d: ncclGroupEnd failed: unhandled cuda error (injected nccl fault, a group of %d move(s))",
        fired_dev, n);
    for (int d = 0; d < sb->base.ndev; d++) {
      if (!part[d]) continue;
      ops[d]->type = OP_FAIL;
      ops[d]->u.msg = strdup(msg);
      enqueue(stream_of(streams[d]), ops[d]);
    }
    pthread_mutex_unlock(&sb->group_mu);
    free(copy);
    if (g != NULL) {
      free(g->items);
      free(g);
    }
    return dtxi_fail(DTX_EDEVICE, "%s", msg);
  }
  if (copy != NULL) {
    copy->u.copy.dst = local->dst;
    copy->u.copy.src = local->src;
    copy->u.copy.bytes = local->bytes;
    copy->u.copy.dst_dev = local->dst_dev;
    copy->u.copy.src_dev = local->src_dev;
    enqueue(stream_of(streams[local->src_dev]), copy);
  }
  if (g != NULL) {
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    atomic_init(&g->refs, nparts);
    for (int d = 0; d < sb->base.ndev; d++) {
      if (!part[d]) continue;
      ops[d]->u.group = g;
      enqueue(stream_of(streams[d]), ops[d]);
    }
  }
  pthread_mutex_unlock(&sb->group_mu);
  return DTX_OK;

no_memory:
  for (int d = 0; d < DTXI_MAX_GPUS; d++) free(ops[d]);
  free(copy);
  if (g != NULL) free(g->items);
  free(g);
  return no_memory("p2p group");
}

static dtx_status sim_p2p_group(dtxi_backend *b, const dtxi_p2p_item *items, int n,
                                dtxi_stream *const *streams) {
  return enqueue_group(sim_of(b), items, n, streams, NULL);
}

/* A group of sends from the root, one per receiver, and the root's own copy
 * first when dsts[root] is another buffer. */
static dtx_status sim_broadcast(dtxi_backend *b, int root, const void *src, void *const *dsts, size_t bytes,
                                dtxi_stream *const *streams) {
  dtxi_p2p_item items[DTXI_MAX_GPUS], local;
  int n = 0;
  for (int d = 0; d < b->ndev; d++) {
    if (d == root || dsts[d] == NULL) continue;
    items[n].src_dev = root;
    items[n].src = src;
    items[n].dst_dev = d;
    items[n].dst = dsts[d];
    items[n].bytes = bytes;
    n++;
  }
  bool own = dsts[root] != NULL && dsts[root] != src && bytes > 0;
  if (own) {
    local.src_dev = local.dst_dev = root;
    local.src = src;
    local.dst = dsts[root];
    local.bytes = bytes;
  }
  return enqueue_group(sim_of(b), items, n, streams, own ? &local : NULL);
}

/* Destroys what callers left (streams drain first), then the backend. */
static void sim_destroy(dtxi_backend *b) {
  if (b == NULL) return;
  sim_backend *sb = sim_of(b);
  int left_streams = 0, left_events = 0, left_blocks = 0;
  for (;;) {
    pthread_mutex_lock(&sb->mu);
    sim_stream *s = sb->streams;
    pthread_mutex_unlock(&sb->mu);
    if (s == NULL) break;
    sim_stream_destroy(&s->base);
    left_streams++;
  }
  for (;;) {
    pthread_mutex_lock(&sb->mu);
    sim_event *e = sb->events;
    pthread_mutex_unlock(&sb->mu);
    if (e == NULL) break;
    sim_event_destroy(&e->base);
    left_events++;
  }
  while (sb->blocks != NULL) {
    block_release(sb, sb->blocks);
    left_blocks++;
  }
  if (left_streams + left_events + left_blocks > 0)
    DTXI_LOG(DTX_LOG_DEBUG,
             "sim backend destroyed with %d streams, %d events and %d device blocks still live", left_streams,
             left_events, left_blocks);
  for (int i = 0; i < DTXI_MAX_GPUS; i++) pthread_mutex_destroy(&sb->dev[i].mu);
  pthread_mutex_destroy(&sb->group_mu);
  pthread_mutex_destroy(&sb->blocks_mu);
  pthread_mutex_destroy(&sb->mu);
  free(sb);
}

static const dtxi_backend_ops sim_ops = {
    .name = "sim",
    .destroy = sim_destroy,
    .stream_create = sim_stream_create,
    .stream_destroy = sim_stream_destroy,
    .stream_reset = sim_stream_reset,
    .event_create = sim_event_create,
    .event_destroy = sim_event_destroy,
    .event_record = sim_event_record,
    .stream_wait = sim_stream_wait,
    .event_query = sim_event_query,
    .event_sync = sim_event_sync,
    .event_error = sim_event_error,
    .alloc_async = sim_alloc_async,
    .free_async = sim_free_async,
    .copy_async = sim_copy_async,
    .host_fn = sim_host_fn,
    .host_alloc = sim_host_alloc,
    .host_free = sim_host_free,
    .mem_usage = sim_mem_usage,
    .native_stream = sim_native_stream,
    .nccl_available = sim_nccl_available,
    .p2p_group = sim_p2p_group,
    .broadcast = sim_broadcast,
    .event_create_timed = sim_event_create_timed,
    .event_host_time = sim_event_host_time,
};

/* ---- public entry points ------------------------------------------------- */

static bool finite_nonneg(double x) { return x >= 0.0 && isfinite(x); }

/* Validates cfg and opens cfg->ndev simulated devices. */
dtx_status dtxi_sim_open(const dtxi_sim_config *cfg, dtxi_backend **out) {
  if (out == NULL) return dtxi_fail(DTX_EINVAL, "dtxi_sim_open: out is NULL");
  if (cfg == NULL)
    return dtxi_fail(DTX_EINVAL, "dtxi_sim_open: cfg is NULL; pass a dtxi_sim_config with ndev set");
  if (cfg->ndev < 1 || cfg->ndev > DTXI_MAX_GPUS)
    return dtxi_fail(DTX_EINVAL, "sim backend: %d simulated GPUs asked for; use 1..%d", cfg->ndev,
                     DTXI_MAX_GPUS);
  if (!finite_nonneg(cfg->h2d_gbps))
    return dtxi_fail(DTX_EINVAL,
                     "sim backend: h2d_gbps is %g; use a bandwidth in GB/s >= 0 (0 = unthrottled)",
                     cfg->h2d_gbps);
  if (!finite_nonneg(cfg->d2d_gbps))
    return dtxi_fail(DTX_EINVAL,
                     "sim backend: d2d_gbps is %g; use a bandwidth in GB/s >= 0 (0 = unthrottled)",
                     cfg->d2d_gbps);
  if (!finite_nonneg(cfg->latency_us))
    return dtxi_fail(DTX_EINVAL, "sim backend: latency_us is %g; use a latency in microseconds >= 0",
                     cfg->latency_us);
  size_t cap = cfg->mem_capacity != 0 ? cfg->mem_capacity : SIM_DEFAULT_CAPACITY;
  if (cap > SIZE_MAX / 2)
    return dtxi_fail(DTX_EINVAL, "sim backend: mem_capacity %zu bytes is too large; use at most %zu", cap,
                     SIZE_MAX / 2);
  sim_backend *sb = calloc(1, sizeof *sb);
  if (sb == NULL) return no_memory("open");
  sb->base.ops = &sim_ops;
  sb->base.ndev = cfg->ndev;
  sb->cfg = *cfg;
  sb->cfg.mem_capacity = cap;
  pthread_mutex_init(&sb->mu, NULL);
  pthread_mutex_init(&sb->blocks_mu, NULL);
  pthread_mutex_init(&sb->group_mu, NULL);
  for (int i = 0; i < DTXI_MAX_GPUS; i++) {
    pthread_mutex_init(&sb->dev[i].mu, NULL);
    sb->dev[i].capacity = cap;
  }
  for (int i = 0; i < cfg->ndev; i++) {
    snprintf(sb->base.info[i].name, sizeof sb->base.info[i].name, "sim gpu %d", i);
    sb->base.info[i].total_memory = cap;
    sb->base.info[i].cc_major = 0;
    sb->base.info[i].cc_minor = 0;
  }
  *out = &sb->base;
  return DTX_OK;
}

/* Arms a fault: the nth (1-based) operation of kind enqueued on dev from now
 * fails when it runs. nth <= 0 disarms. One armed fault per (dev, kind): a
 * second call replaces the first. */
void dtxi_sim_inject_fault(dtxi_backend *b, int dev, dtxi_fault_kind kind, int nth) {
  DTX_ASSERT(b != NULL && b->ops == &sim_ops);
  sim_backend *sb = sim_of(b);
  DTX_ASSERT(dev_ok(sb, dev));
  DTX_ASSERT((int)kind >= DTXI_FAULT_ALLOC && (int)kind <= DTXI_FAULT_NCCL);
  pthread_mutex_lock(&sb->dev[dev].mu);
  sb->dev[dev].fault[kind] = nth > 0 ? nth : 0;
  pthread_mutex_unlock(&sb->dev[dev].mu);
}
