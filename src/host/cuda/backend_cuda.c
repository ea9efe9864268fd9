/*
 * host/cuda/backend_cuda.c - the cuda backend: the contract of host/backend.h
 * on real GPUs through the CUDA runtime.
 *
 * What it is for: the scheduler enqueues work on CUDA streams, orders streams
 * with events, and polls events from its progress thread; this file is the
 * thin layer that turns those calls into CUDA runtime calls and turns CUDA
 * errors into dtx errors that name the call ("cuda gpu 1: cudaMemcpyPeerAsync
 * failed: ..."). Compiled only when the CUDA toolkit is found (C, linked to
 * cudart_static); without a driver dtxi_cuda_open fails with the reason.
 *
 * What it owns:
 *   - per device (index i of the backend, CUDA ordinal ord[i]): the default
 *     memory pool with its release threshold raised to UINT64_MAX (memory
 *     stays in the pool across synchronizations; no cudaMalloc/cudaFree in
 *     steady state), peer access to every device cudaDeviceCanAccessPeer
 *     allows (cudaDeviceEnablePeerAccess for ordinary allocations and
 *     cudaMemPoolSetAccess for pool allocations, which do not follow it; a
 *     refusal is logged and only costs speed: the driver stages such copies),
 *     and the card's memory (cudaMemGetInfo's total, read once);
 *   - per stream: a non-blocking cudaStream_t and its error state;
 *   - per event: a cudaEvent_t without timing and what it saw at its last
 *     record (below).
 * Nothing is reset at destroy: peer access and the pool settings stay as they
 * are for the rest of the process (never cudaDeviceReset).
 *
 * Errors. CUDA reports a failing kernel through every later query (a sticky
 * context error), so cudaEventQuery covers those. What CUDA cannot know about
 * is tracked here, per stream: a host function that returned nonzero, and an
 * enqueue call whose CUDA call failed at once (out of memory in
 * cudaMallocAsync, a bad copy). Every operation enqueued on a stream takes the
 * next sequence number seq = ++enq; a failure stores the earliest failing seq
 * (fail_seq) and its message. An event recorded on the stream remembers the
 * window (base, rec] of the operations before it: rec = enq and base =
 * reset_seq at record time. When cudaEventQuery says the event is done, it is
 * FAILED iff base < fail_seq <= rec. Host functions run in stream order and
 * block the work after them until they return, so by the time an event after
 * a host function completes, that function's failure is recorded.
 *   stream_wait(s, e) also fails s when e's window failed: at once when e's
 * window is already final (every host function in it has run: fn_done >= the
 * fn_seq e saw at record), else through a small host function enqueued on s
 * behind the wait, which checks e's window once e is done.
 *   A host function enqueued behind a failure (since the last reset) is
 * skipped, as on sim; copies and kernels already enqueued still run (CUDA
 * cannot skip them) but every event after the failure reports it.
 * stream_reset sets reset_seq = enq: events recorded afterwards no longer see
 * failures at or before it, while events recorded before still do, unless a
 * newer failure after the reset has replaced the stored one (one slot per
 * stream; the scheduler queries a failed stream's events before resetting).
 *   An enqueue call whose CUDA call fails returns DTX_EDEVICE (DTX_ENOMEM when
 * cudaMallocAsync is out of memory, so a caller can spill and retry; the
 * message is the thread's last error either way) and fails the stream too, so
 * later events on it fail even if the caller ignores the status. alloc_async
 * in particular cannot hand back a usable pointer, so it must report at once.
 *
 * Threads: any thread may call; one stream is fed by one thread at a time (the
 * contract), and events are polled from any thread. The CUDA runtime runs host
 * functions on its own threads. Stream error state (fail_seq, msg) is guarded
 * by the stream's mutex; enq, fn_last, fn_done, reset_seq and refs are atomics.
 * An event's fields are guarded by the event's mutex. Lock order: event, then
 * stream; never two streams at once. A stream is freed when its last reference
 * goes: stream_destroy drops one, each event recorded on it and each host
 * function enqueued on it holds one, so an event may be polled after its
 * stream is gone.
 *
 * Every call that creates or enqueues makes the stream's (or event's) device
 * current on the calling thread first (cudaSetDevice, skipped when it already
 * is), so no thread quietly creates a context on device 0; a copy to or from
 * host memory makes the device side's device current instead, which pool
 * memory needs. open leaves devs[0] current. Queries (event_query, sync,
 * mem_usage) never change the current device.
 */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/backend.h"
#include "host/error.h"
#include "host/log.h"

#if defined(DTX_HAVE_NVTX) && DTX_HAVE_NVTX
/* NVTX's loader casts dlsym's void * to a function pointer, which ISO C flags. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <nvtx3/nvToolsExtCudaRt.h>
#pragma GCC diagnostic pop
#endif

#define MSG_MAX 512 /* a stream's or event's failure message, with its NUL */

typedef struct cuda_backend {
  dtxi_backend base; /* first: the ops table casts */
  int ord[DTXI_MAX_GPUS];
  cudaMemPool_t pool[DTXI_MAX_GPUS];
  size_t total[DTXI_MAX_GPUS];
  unsigned char peer[DTXI_MAX_GPUS][DTXI_MAX_GPUS]; /* peer[i][j]: i reads j's memory directly */
  atomic_int live_streams, live_events;
} cuda_backend;

typedef struct cuda_stream {
  struct dtxi_stream base; /* first: the ops table casts */
  cudaStream_t cs;
  int ord;                    /* CUDA ordinal of base.dev */
  _Atomic uint64_t enq;       /* operations enqueued; the k-th has seq k */
  _Atomic uint64_t fn_last;   /* seq of the last host function enqueued */
  _Atomic uint64_t fn_done;   /* seq of the last host function finished */
  _Atomic uint64_t reset_seq; /* enq at the last stream_reset */
  atomic_int refs;            /* 1 (until destroyed) + events + host functions */
  pthread_mutex_t mu;         /* guards fail_seq and msg */
  uint64_t fail_seq;          /* earliest failed op stored (0: none) */
  char msg[MSG_MAX];          /* its message */
} cuda_stream;

typedef struct cuda_event {
  struct dtxi_event base; /* first: the ops table casts */
  cudaEvent_t ev;
  int ord;
  pthread_mutex_t mu;     /* guards everything below */
  cuda_stream *src;       /* stream of the last record (one reference), or NULL */
  uint64_t rec, win_base; /* the window (win_base, rec] of src's operations */
  uint64_t fn_seq;        /* src's fn_last at record */
  dtxi_event_state state; /* DONE or FAILED once known, until re-recorded */
  char msg[MSG_MAX];
} cuda_event;

/* One host function (or failure propagation) in flight; freed when it runs. */
typedef struct host_call {
  cuda_stream *s; /* holds a reference */
  uint64_t seq, base;
  dtxi_stream_fn fn;
  void *arg;
  cuda_stream *src; /* propagation: fail s if src failed in (src_base, src_rec]; holds a reference */
  uint64_t src_base, src_rec;
} host_call;

static cuda_backend *backend_of(dtxi_backend *b) { return (cuda_backend *)b; }
static cuda_stream *stream_of(dtxi_stream *s) { return (cuda_stream *)s; }
static cuda_event *event_of(dtxi_event *e) { return (cuda_event *)e; }

/* ---- errors ---------------------------------------------------------------- */

/* Sets the thread's last error to "cuda gpu ORD: NAME failed: MESSAGE" (NAME:
 * the called function, cut from the call's text at its '('), clears the
 * runtime's own last error so unrelated CUDA code does not see it again, and
 * returns DTX_EDEVICE. */
static dtx_status cuda_fail(int ord, const char *call, cudaError_t err, const char *file, int line) {
  (void)cudaGetLastError();
  if (strncmp(call, "use_dev(", 8) == 0) call = "cudaSetDevice"; /* what use_dev's failure means */
  int n = (int)strcspn(call, "(");
  DTXI_LOG(DTX_LOG_DEBUG, "%s:%d: %.*s -> %s", file, line, n, call, cudaGetErrorName(err));
  return dtxi_fail(DTX_EDEVICE, "cuda gpu %d: %.*s failed: %s", ord, n, call, cudaGetErrorString(err));
}

/* NCCL's CUDACHECK in dtx's terms: runs a CUDA runtime call; on failure sets
 * rc to DTX_EDEVICE with a message naming the call and jumps to label. */
#define CUDA_CHECK_GOTO(ord, call, rc, label)                   \
  do {                                                          \
    cudaError_t err_ = (call);                                  \
    if (err_ != cudaSuccess) {                                  \
      (rc) = cuda_fail((ord), #call, err_, __FILE__, __LINE__); \
      goto label;                                               \
    }                                                           \
  } while (0)

/* Makes ord the calling thread's current device, if it is not already. */
static cudaError_t use_dev(int ord) {
  int cur = -1;
  if (cudaGetDevice(&cur) == cudaSuccess && cur == ord) return cudaSuccess;
  return cudaSetDevice(ord);
}

static void copy_msg(char *dst, const char *src) {
  size_t n = strnlen(src, MSG_MAX - 1);
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* ---- stream error state --------------------------------------------------- */

static uint64_t next_seq(cuda_stream *s) {
  return atomic_fetch_add_explicit(&s->enq, 1, memory_order_relaxed) + 1;
}

static void stream_ref(cuda_stream *s) { atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed); }

static void stream_unref(cuda_stream *s) {
  if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
  pthread_mutex_destroy(&s->mu);
  free(s);
}

/* Records that op seq of s failed with msg. The stored failure is the
 * earliest one after the last reset if there is one (what later events must
 * see), else the earliest one before it (what earlier events may still ask
 * about). */
static void stream_mark(cuda_stream *s, uint64_t seq, const char *msg) {
  pthread_mutex_lock(&s->mu);
  uint64_t reset = atomic_load_explicit(&s->reset_seq, memory_order_relaxed);
  int live = seq > reset, stored_live = s->fail_seq > reset;
  if (s->fail_seq == 0 || (live && !stored_live) || (live == stored_live && seq < s->fail_seq)) {
    s->fail_seq = seq;
    copy_msg(s->msg, msg != NULL && msg[0] != '\0' ? msg : "cuda: operation failed");
  }
  pthread_mutex_unlock(&s->mu);
  DTXI_LOG(DTX_LOG_DEBUG, "cuda stream %s (gpu %d) failed at op %llu: %s", s->base.label, s->ord,
           (unsigned long long)seq, msg != NULL ? msg : "");
}

/* A failed enqueue (op seq): the stream fails with the thread's last error. */
static dtx_status stream_fail_now(cuda_stream *s, uint64_t seq, dtx_status rc) {
  stream_mark(s, seq, dtx_last_error());
  return rc;
}

/* Whether s holds a failure in (base, rec]; if so and msg is not NULL, copies
 * its message there (MSG_MAX bytes). */
static int window_failed(cuda_stream *s, uint64_t base, uint64_t rec, char *msg) {
  pthread_mutex_lock(&s->mu);
  int failed = s->fail_seq != 0 && s->fail_seq > base && s->fail_seq <= rec;
  if (failed && msg != NULL) copy_msg(msg, s->msg);
  pthread_mutex_unlock(&s->mu);
  return failed;
}

/* ---- host functions ---------------------------------------------------------- */

/* Runs on a CUDA runtime thread, in stream order; makes no CUDA call. */
static void CUDART_CB host_call_run(void *p) {
  host_call *c = p;
  cuda_stream *s = c->s;
  char err[MSG_MAX];
  err[0] = '\0';
  int failed = 0;
  if (c->src != NULL) {
    failed = window_failed(c->src, c->src_base, c->src_rec, err);
    stream_unref(c->src);
  } else if (!window_failed(s, c->base, c->seq - 1, NULL)) {
    int rc = c->fn(c->arg, err, sizeof err);
    if (rc != 0) {
      failed = 1;
      err[sizeof err - 1] = '\0';
      if (err[0] == '\0')
        snprintf(err, sizeof err, "cuda gpu %d: host function failed (returned %d) on stream %s", s->ord, rc,
                 s->base.label);
    }
  }
  if (failed) stream_mark(s, c->seq, err);
  atomic_store_explicit(&s->fn_done, c->seq, memory_order_release);
  free(c);
  stream_unref(s);
}

/* Enqueues c (its fn or src set) on s behind everything enqueued so far;
 * takes c. */
static dtx_status host_call_enqueue(cuda_stream *s, host_call *c) {
  uint64_t seq = next_seq(s);
  c->s = s;
  c->seq = seq;
  c->base = atomic_load_explicit(&s->reset_seq, memory_order_relaxed);
  stream_ref(s);
  atomic_store_explicit(&s->fn_last, seq, memory_order_relaxed);
  const char *call = "cudaSetDevice";
  cudaError_t r = use_dev(s->ord);
  if (r == cudaSuccess) {
    call = "cudaLaunchHostFunc";
    r = cudaLaunchHostFunc(s->cs, host_call_run, c);
  }
  if (r == cudaSuccess) return DTX_OK;
  dtx_status rc = cuda_fail(s->ord, call, r, __FILE__, __LINE__);
  /* It never runs: count it done, or waits on this stream would wait for it. */
  atomic_store_explicit(&s->fn_done, seq, memory_order_release);
  if (c->src != NULL) stream_unref(c->src);
  free(c);
  stream_fail_now(s, seq, rc);
  stream_unref(s);
  return rc;
}

/* ---- backend ------------------------------------------------------------------ */

static void cuda_destroy(dtxi_backend *bb) {
  if (bb == NULL) return;
  cuda_backend *b = backend_of(bb);
  int ns = atomic_load(&b->live_streams), ne = atomic_load(&b->live_events);
  if (ns != 0 || ne != 0)
    DTXI_LOG(DTX_LOG_WARN, "cuda backend destroyed with %d stream(s) and %d event(s) still open", ns, ne);
  free(b);
}

static dtx_status cuda_stream_create(dtxi_backend *bb, int dev, dtxi_stream_kind kind, const char *label,
                                     dtxi_stream **out) {
  cuda_backend *b = backend_of(bb);
  if (out == NULL) return dtxi_fail(DTX_EINVAL, "cuda stream_create: out is NULL");
  if (dev < 0 || dev >= bb->ndev)
    return dtxi_fail(DTX_EINVAL, "cuda stream_create: device %d does not exist (the backend has %d: 0..%d)",
                     dev, bb->ndev, bb->ndev - 1);
  if ((int)kind < DTXI_STREAM_COMPUTE || (int)kind > DTXI_STREAM_NCCL)
    return dtxi_fail(DTX_EINVAL, "cuda stream_create: unknown stream kind %d", (int)kind);
  cuda_stream *s = calloc(1, sizeof *s);
  if (s == NULL) return dtxi_fail(DTX_ENOMEM, "cuda stream_create: out of host memory");
  dtx_status rc = DTX_OK;
  int ord = b->ord[dev];
  CUDA_CHECK_GOTO(ord, use_dev(ord), rc, fail);
  CUDA_CHECK_GOTO(ord, cudaStreamCreateWithFlags(&s->cs, cudaStreamNonBlocking), rc, fail);
  s->base.b = bb;
  s->base.dev = dev;
  s->base.kind = kind;
  const char *name = label != NULL && label[0] != '\0' ? label : dtxi_stream_kind_name(kind);
  size_t n = strnlen(name, sizeof s->base.label - 1);
  memcpy(s->base.label, name, n);
  s->base.label[n] = '\0';
  s->ord = ord;
  atomic_init(&s->enq, 0);
  atomic_init(&s->fn_last, 0);
  atomic_init(&s->fn_done, 0);
  atomic_init(&s->reset_seq, 0);
  atomic_init(&s->refs, 1);
  pthread_mutex_init(&s->mu, NULL);
#if defined(DTX_HAVE_NVTX) && DTX_HAVE_NVTX
  nvtxNameCudaStreamA(s->cs, s->base.label);
#endif
  atomic_fetch_add(&b->live_streams, 1);
  *out = &s->base;
  return DTX_OK;
fail:
  free(s);
  return rc;
}

/* Waits for the stream's work (host functions included), then destroys it. */
static void cuda_stream_destroy(dtxi_stream *st) {
  cuda_stream *s = stream_of(st);
  cuda_backend *b = backend_of(st->b);
  dtx_status rc = DTX_OK;
  CUDA_CHECK_GOTO(s->ord, use_dev(s->ord), rc, destroy);
  CUDA_CHECK_GOTO(s->ord, cudaStreamSynchronize(s->cs), rc, destroy);
destroy:
  if (rc != DTX_OK) DTXI_LOG(DTX_LOG_WARN, "cuda stream_destroy %s: %s", st->label, dtx_last_error());
  if (cudaStreamDestroy(s->cs) != cudaSuccess) (void)cudaGetLastError();
  atomic_fetch_sub(&b->live_streams, 1);
  stream_unref(s);
}

static void cuda_stream_reset(dtxi_stream *st) {
  cuda_stream *s = stream_of(st);
  pthread_mutex_lock(&s->mu);
  atomic_store_explicit(&s->reset_seq, atomic_load_explicit(&s->enq, memory_order_relaxed),
                        memory_order_relaxed);
  pthread_mutex_unlock(&s->mu);
}

/* ---- events ------------------------------------------------------------------- */

static dtx_status cuda_event_create(dtxi_backend *bb, int dev, dtxi_event **out) {
  cuda_backend *b = backend_of(bb);
  if (out == NULL) return dtxi_fail(DTX_EINVAL, "cuda event_create: out is NULL");
  if (dev < 0 || dev >= bb->ndev)
    return dtxi_fail(DTX_EINVAL, "cuda event_create: device %d does not exist (the backend has %d: 0..%d)",
                     dev, bb->ndev, bb->ndev - 1);
  cuda_event *e = calloc(1, sizeof *e);
  if (e == NULL) return dtxi_fail(DTX_ENOMEM, "cuda event_create: out of host memory");
  dtx_status rc = DTX_OK;
  int ord = b->ord[dev];
  CUDA_CHECK_GOTO(ord, use_dev(ord), rc, fail);
  CUDA_CHECK_GOTO(ord, cudaEventCreateWithFlags(&e->ev, cudaEventDisableTiming), rc, fail);
  e->base.b = bb;
  e->base.dev = dev;
  e->ord = ord;
  e->state = DTXI_EVENT_DONE; /* never recorded: done, as in CUDA */
  pthread_mutex_init(&e->mu, NULL);
  atomic_fetch_add(&b->live_events, 1);
  *out = &e->base;
  return DTX_OK;
fail:
  free(e);
  return rc;
}

static void cuda_event_destroy(dtxi_event *ee) {
  cuda_event *e = event_of(ee);
  cuda_backend *b = backend_of(ee->b);
  /* A pending event is released by CUDA once it completes; waits enqueued on
   * it are unaffected. */
  if (use_dev(e->ord) != cudaSuccess) (void)cudaGetLastError();
  if (cudaEventDestroy(e->ev) != cudaSuccess) (void)cudaGetLastError();
  if (e->src != NULL) stream_unref(e->src);
  pthread_mutex_destroy(&e->mu);
  atomic_fetch_sub(&b->live_events, 1);
  free(e);
}

static dtx_status cuda_event_record(dtxi_event *ee, dtxi_stream *st) {
  cuda_event *e = event_of(ee);
  cuda_stream *s = stream_of(st);
  if (ee->dev != st->dev)
    return dtxi_fail(DTX_EINVAL,
                     "cuda event_record: an event of gpu %d cannot be recorded on stream %s of gpu %d (CUDA "
                     "records an event only on a stream of its own device; create one per device)",
                     e->ord, st->label, s->ord);
  dtx_status rc = DTX_OK;
  cuda_stream *old = NULL;
  pthread_mutex_lock(&e->mu);
  CUDA_CHECK_GOTO(s->ord, use_dev(s->ord), rc, fail);
  CUDA_CHECK_GOTO(s->ord, cudaEventRecord(e->ev, s->cs), rc, fail);
  e->rec = atomic_load_explicit(&s->enq, memory_order_relaxed);
  e->win_base = atomic_load_explicit(&s->reset_seq, memory_order_relaxed);
  e->fn_seq = atomic_load_explicit(&s->fn_last, memory_order_relaxed);
  if (e->src != s) {
    stream_ref(s);
    old = e->src;
    e->src = s;
  }
  e->state = DTXI_EVENT_PENDING;
  e->msg[0] = '\0';
  pthread_mutex_unlock(&e->mu);
  if (old != NULL) stream_unref(old);
  return DTX_OK;
fail:
  pthread_mutex_unlock(&e->mu);
  return stream_fail_now(s, next_seq(s), rc);
}

/* cudaEventQuery's answer with e->mu held: DONE (or FAILED when the window
 * failed), PENDING, or FAILED with CUDA's error. Caches a final answer. */
static dtxi_event_state query_locked(cuda_event *e, cudaError_t r) {
  if (e->state != DTXI_EVENT_PENDING) return e->state;
  if (r == cudaErrorNotReady) {
    (void)cudaGetLastError(); /* not an error, but the runtime may keep it as the last one */
    return DTXI_EVENT_PENDING;
  }
  if (r == cudaSuccess) {
    e->state = window_failed(e->src, e->win_base, e->rec, e->msg) ? DTXI_EVENT_FAILED : DTXI_EVENT_DONE;
    return e->state;
  }
  (void)cudaGetLastError();
  snprintf(e->msg, sizeof e->msg, "cuda gpu %d: cudaEventQuery failed: %s", e->ord, cudaGetErrorString(r));
  e->state = DTXI_EVENT_FAILED;
  return e->state;
}

static dtxi_event_state cuda_event_query(dtxi_event *ee) {
  cuda_event *e = event_of(ee);
  pthread_mutex_lock(&e->mu);
  dtxi_event_state st = e->state;
  if (st == DTXI_EVENT_PENDING) st = query_locked(e, cudaEventQuery(e->ev));
  pthread_mutex_unlock(&e->mu);
  return st;
}

static dtxi_event_state cuda_event_sync(dtxi_event *ee) {
  cuda_event *e = event_of(ee);
  for (;;) {
    pthread_mutex_lock(&e->mu);
    dtxi_event_state st = e->state;
    pthread_mutex_unlock(&e->mu);
    if (st != DTXI_EVENT_PENDING) return st;
    /* Without the lock, so pollers of this event are not held up; a record
     * in between only sends us round again. */
    cudaError_t r = cudaEventSynchronize(e->ev);
    pthread_mutex_lock(&e->mu);
    if (r != cudaSuccess && r != cudaErrorNotReady && e->state == DTXI_EVENT_PENDING) {
      (void)cudaGetLastError();
      snprintf(e->msg, sizeof e->msg, "cuda gpu %d: cudaEventSynchronize failed: %s", e->ord,
               cudaGetErrorString(r));
      e->state = DTXI_EVENT_FAILED;
    }
    st = e->state == DTXI_EVENT_PENDING ? query_locked(e, cudaEventQuery(e->ev)) : e->state;
    pthread_mutex_unlock(&e->mu);
    if (st != DTXI_EVENT_PENDING) return st;
  }
}

static const char *cuda_event_error(dtxi_event *ee) {
  cuda_event *e = event_of(ee);
  pthread_mutex_lock(&e->mu);
  const char *m = e->state == DTXI_EVENT_FAILED ? e->msg : "";
  pthread_mutex_unlock(&e->mu);
  return m;
}

/* Orders s behind e's last record, and fails s (from this point) if e's window
 * failed: decided now when the window is final, else by a host function on s
 * that runs once e is done. */
static dtx_status cuda_stream_wait(dtxi_stream *st, dtxi_event *ee) {
  cuda_stream *s = stream_of(st);
  cuda_event *e = event_of(ee);
  dtx_status rc = DTX_OK;
  uint64_t seq = next_seq(s);
  pthread_mutex_lock(&e->mu);
  cuda_stream *src = e->src;
  uint64_t base = e->win_base, rec = e->rec, fn_seq = e->fn_seq;
  dtxi_event_state known = src != NULL ? e->state : DTXI_EVENT_DONE;
  char known_msg[MSG_MAX];
  if (known == DTXI_EVENT_FAILED) copy_msg(known_msg, e->msg);
  if (src != NULL) stream_ref(src);
  const char *call = "cudaSetDevice";
  cudaError_t r = cudaSuccess;
  if (src != NULL && (r = use_dev(s->ord)) == cudaSuccess) {
    call = "cudaStreamWaitEvent";
    r = cudaStreamWaitEvent(s->cs, e->ev, 0);
  }
  pthread_mutex_unlock(&e->mu);
  if (src == NULL) return DTX_OK; /* never recorded: nothing to wait for */
  if (r != cudaSuccess) {
    rc = cuda_fail(s->ord, call, r, __FILE__, __LINE__);
    stream_unref(src);
    return stream_fail_now(s, seq, rc);
  }
  if (known != DTXI_EVENT_PENDING) { /* already answered; FAILED includes CUDA's own errors */
    if (known == DTXI_EVENT_FAILED) stream_mark(s, seq, known_msg);
    stream_unref(src);
    return DTX_OK;
  }
  char msg[MSG_MAX];
  if (atomic_load_explicit(&src->fn_done, memory_order_acquire) >= fn_seq) {
    if (window_failed(src, base, rec, msg)) stream_mark(s, seq, msg);
    stream_unref(src);
    return DTX_OK;
  }
  host_call *c = calloc(1, sizeof *c);
  if (c == NULL) {
    stream_unref(src);
    rc = dtxi_fail(DTX_ENOMEM, "cuda stream_wait: out of host memory");
    return stream_fail_now(s, seq, rc);
  }
  c->src = src; /* the reference passes to c */
  c->src_base = base;
  c->src_rec = rec;
  return host_call_enqueue(s, c);
}

/* ---- memory and copies ------------------------------------------------------- */

static dtx_status cuda_alloc_async(dtxi_stream *st, size_t bytes, void **ptr) {
  cuda_stream *s = stream_of(st);
  if (ptr == NULL) return dtxi_fail(DTX_EINVAL, "cuda alloc_async: ptr is NULL");
  *ptr = NULL;
  if (bytes == 0) return DTX_OK;
  dtx_status rc = DTX_OK;
  uint64_t seq = next_seq(s);
  CUDA_CHECK_GOTO(s->ord, use_dev(s->ord), rc, fail);
  cudaError_t r = cudaMallocAsync(ptr, bytes, s->cs);
  if (r == cudaSuccess) return DTX_OK;
  rc = cuda_fail(s->ord, "cudaMallocAsync", r, __FILE__, __LINE__);
  if (r == cudaErrorMemoryAllocation) rc = DTX_ENOMEM; /* the caller may spill and retry */
fail:
  *ptr = NULL;
  {
    char more[MSG_MAX];
    snprintf(more, sizeof more, "%s (allocating %zu bytes on stream %s)", dtx_last_error(), bytes, st->label);
    dtxi_fail_msg(rc, more);
  }
  return stream_fail_now(s, seq, rc);
}

static void cuda_free_async(dtxi_stream *st, void *ptr) {
  if (ptr == NULL) return;
  cuda_stream *s = stream_of(st);
  dtx_status rc;
  uint64_t seq = next_seq(s);
  CUDA_CHECK_GOTO(s->ord, use_dev(s->ord), rc, fail);
  CUDA_CHECK_GOTO(s->ord, cudaFreeAsync(ptr, s->cs), rc, fail);
  return;
fail:
  DTXI_LOG(DTX_LOG_WARN, "%s", dtx_last_error());
  stream_fail_now(s, seq, rc);
}

static dtx_status cuda_copy_async(dtxi_stream *st, void *dst, int dst_dev, const void *src, int src_dev,
                                  size_t bytes) {
  cuda_stream *s = stream_of(st);
  cuda_backend *b = backend_of(st->b);
  int n = st->b->ndev;
  if (dst_dev < DTXI_HOST || dst_dev >= n || src_dev < DTXI_HOST || src_dev >= n)
    return dtxi_fail(DTX_EINVAL, "cuda copy_async: device %d does not exist (use DTXI_HOST or 0..%d)",
                     dst_dev < DTXI_HOST || dst_dev >= n ? dst_dev : src_dev, n - 1);
  if (bytes == 0) return DTX_OK;
  if (dst == NULL || src == NULL)
    return dtxi_fail(DTX_EINVAL, "cuda copy_async: %s is NULL for a copy of %zu bytes",
                     dst == NULL ? "dst" : "src", bytes);
  dtx_status rc = DTX_OK;
  uint64_t seq = next_seq(s);
  if (dst_dev != DTXI_HOST && src_dev != DTXI_HOST && dst_dev != src_dev) {
    /* Between devices always through cudaMemcpyPeerAsync: cudaMemcpyAsync on
     * cudaMallocAsync memory of another device fails (NVIDIA bug 3446335).
     * Direct over NVLink/PCIe where peer access is on; staged by the driver
     * otherwise. */
    CUDA_CHECK_GOTO(s->ord, use_dev(s->ord), rc, fail);
    CUDA_CHECK_GOTO(s->ord, cudaMemcpyPeerAsync(dst, b->ord[dst_dev], src, b->ord[src_dev], bytes, s->cs), rc,
                    fail);
  } else {
    /* Host <-> device, within a device, host <-> host: unified addressing
     * tells the runtime which. The memory's device must be current for pool
     * memory (same bug); the stream may belong to another device. */
    int mem = dst_dev != DTXI_HOST ? b->ord[dst_dev] : src_dev != DTXI_HOST ? b->ord[src_dev] : s->ord;
    CUDA_CHECK_GOTO(mem, use_dev(mem), rc, fail);
    CUDA_CHECK_GOTO(mem, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, s->cs), rc, fail);
  }
  return DTX_OK;
fail:
  return stream_fail_now(s, seq, rc);
}

static dtx_status cuda_host_fn(dtxi_stream *st, dtxi_stream_fn fn, void *arg) {
  if (fn == NULL) return dtxi_fail(DTX_EINVAL, "cuda host_fn: fn is NULL");
  host_call *c = calloc(1, sizeof *c);
  if (c == NULL) return dtxi_fail(DTX_ENOMEM, "cuda host_fn: out of host memory");
  c->fn = fn;
  c->arg = arg;
  return host_call_enqueue(stream_of(st), c);
}

/* Pinned, portable (usable by every device) host memory. cudaHostAlloc with
 * cudaHostAllocPortable is cudaMallocHost stated for several devices. Both
 * this and host_free synchronize: keep staging buffers, do not churn them. */
static dtx_status cuda_host_alloc(dtxi_backend *bb, size_t bytes, void **ptr) {
  cuda_backend *b = backend_of(bb);
  if (ptr == NULL) return dtxi_fail(DTX_EINVAL, "cuda host_alloc: ptr is NULL");
  *ptr = NULL;
  if (bytes == 0) return DTX_OK;
  dtx_status rc = DTX_OK;
  CUDA_CHECK_GOTO(b->ord[0], use_dev(b->ord[0]), rc, fail);
  CUDA_CHECK_GOTO(b->ord[0], cudaHostAlloc(ptr, bytes, cudaHostAllocPortable), rc, fail);
  return DTX_OK;
fail:
  *ptr = NULL;
  return rc;
}

static void cuda_host_free(dtxi_backend *bb, void *ptr) {
  cuda_backend *b = backend_of(bb);
  if (ptr == NULL) return;
  dtx_status rc;
  CUDA_CHECK_GOTO(b->ord[0], cudaFreeHost(ptr), rc, fail);
  return;
fail:
  (void)rc;
  DTXI_LOG(DTX_LOG_WARN, "%s", dtx_last_error());
}

static void cuda_mem_usage(dtxi_backend *bb, int dev, size_t *used, size_t *capacity) {
  cuda_backend *b = backend_of(bb);
  size_t u = 0, cap = 0;
  if (dev >= 0 && dev < bb->ndev) {
    uint64_t v = 0;
    cudaError_t r = cudaMemPoolGetAttribute(b->pool[dev], cudaMemPoolAttrUsedMemCurrent, &v);
    if (r == cudaSuccess) {
      u = (size_t)v;
    } else {
      (void)cudaGetLastError();
      DTXI_LOG(DTX_LOG_WARN, "cuda gpu %d: cudaMemPoolGetAttribute failed: %s", b->ord[dev],
               cudaGetErrorString(r));
    }
    cap = b->total[dev];
  }
  if (used != NULL) *used = u;
  if (capacity != NULL) *capacity = cap;
}

static void *cuda_native_stream(dtxi_stream *st) { return (void *)stream_of(st)->cs; }

static const dtxi_backend_ops cuda_ops = {
    .name = "cuda",
    .destroy = cuda_destroy,
    .stream_create = cuda_stream_create,
    .stream_destroy = cuda_stream_destroy,
    .stream_reset = cuda_stream_reset,
    .event_create = cuda_event_create,
    .event_destroy = cuda_event_destroy,
    .event_record = cuda_event_record,
    .stream_wait = cuda_stream_wait,
    .event_query = cuda_event_query,
    .event_sync = cuda_event_sync,
    .event_error = cuda_event_error,
    .alloc_async = cuda_alloc_async,
    .free_async = cuda_free_async,
    .copy_async = cuda_copy_async,
    .host_fn = cuda_host_fn,
    .host_alloc = cuda_host_alloc,
    .host_free = cuda_host_free,
    .mem_usage = cuda_mem_usage,
    .native_stream = cuda_native_stream,
};

/* ---- open -------------------------------------------------------------------- */

/* Device i: properties, pool support, the default pool with the release
 * threshold raised, and the card's memory. */
static dtx_status open_device(cuda_backend *b, int i) {
  dtx_status rc = DTX_OK;
  int ord = b->ord[i];
  struct cudaDeviceProp prop;
  memset(&prop, 0, sizeof prop);
  CUDA_CHECK_GOTO(ord, use_dev(ord), rc, out);
  CUDA_CHECK_GOTO(ord, cudaGetDeviceProperties(&prop, ord), rc, out);
  dtxi_gpu_info *g = &b->base.info[i];
  const char *name = prop.name[0] != '\0' ? prop.name : "unnamed CUDA device";
  size_t len = strnlen(name, sizeof g->name - 1);
  memcpy(g->name, name, len);
  g->name[len] = '\0';
  g->total_memory = prop.totalGlobalMem;
  g->cc_major = prop.major;
  g->cc_minor = prop.minor;
  int pools = 0;
  CUDA_CHECK_GOTO(ord, cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, ord), rc, out);
  if (!pools)
    return dtxi_fail(DTX_EDEVICE, "cuda gpu %d (%s): no stream-ordered memory pools (cudaMallocAsync) here",
                     ord, g->name);
  CUDA_CHECK_GOTO(ord, cudaDeviceGetDefaultMemPool(&b->pool[i], ord), rc, out);
  uint64_t keep = UINT64_MAX; /* never hand memory back at a synchronization */
  CUDA_CHECK_GOTO(ord, cudaMemPoolSetAttribute(b->pool[i], cudaMemPoolAttrReleaseThreshold, &keep), rc, out);
  size_t free_b = 0, total_b = 0;
  CUDA_CHECK_GOTO(ord, cudaMemGetInfo(&free_b, &total_b), rc, out);
  b->total[i] = total_b;
out:
  return rc;
}

/* Device i reads device j's memory directly, where the topology allows
 * (peer[i][j] = 1). A failure here leaves the pair without peer access. */
static dtx_status open_peer(cuda_backend *b, int i, int j) {
  dtx_status rc = DTX_OK;
  int oi = b->ord[i], oj = b->ord[j];
  int can = 0;
  CUDA_CHECK_GOTO(oi, cudaDeviceCanAccessPeer(&can, oi, oj), rc, out);
  if (!can) return DTX_OK;
  CUDA_CHECK_GOTO(oi, use_dev(oi), rc, out);
  cudaError_t r = cudaDeviceEnablePeerAccess(oj, 0);
  if (r == cudaErrorPeerAccessAlreadyEnabled) {
    (void)cudaGetLastError(); /* an earlier open in this process did it */
  } else if (r != cudaSuccess) {
    return cuda_fail(oi, "cudaDeviceEnablePeerAccess", r, __FILE__, __LINE__);
  }
  struct cudaMemAccessDesc d;
  memset(&d, 0, sizeof d);
  d.location.type = cudaMemLocationTypeDevice;
  d.location.id = oi;
  d.flags = cudaMemAccessFlagsProtReadWrite;
  CUDA_CHECK_GOTO(oj, cudaMemPoolSetAccess(b->pool[j], &d, 1), rc, out);
  b->peer[i][j] = 1;
out:
  return rc;
}

dtx_status dtxi_cuda_open(const int *devs, int n, dtxi_backend **out) {
  if (out == NULL) return dtxi_fail(DTX_EINVAL, "dtxi_cuda_open: out is NULL");
  if (devs == NULL || n < 1 || n > DTXI_MAX_GPUS)
    return dtxi_fail(DTX_EINVAL, "dtxi_cuda_open: give 1..%d CUDA device ordinals (got %d%s)", DTXI_MAX_GPUS,
                     n, devs == NULL ? ", devs NULL" : "");
  for (int i = 0; i < n; i++) {
    if (devs[i] < 0) return dtxi_fail(DTX_EINVAL, "dtxi_cuda_open: device ordinal %d is negative", devs[i]);
    for (int j = 0; j < i; j++)
      if (devs[j] == devs[i]) return dtxi_fail(DTX_EINVAL, "dtxi_cuda_open: GPU %d is listed twice", devs[i]);
  }
  int count = 0;
  cudaError_t r = cudaGetDeviceCount(&count);
  if (r != cudaSuccess) {
    (void)cudaGetLastError();
    return dtxi_fail(DTX_EDEVICE, "cuda backend: no usable GPU (cudaGetDeviceCount failed: %s)",
                     cudaGetErrorString(r));
  }
  for (int i = 0; i < n; i++)
    if (devs[i] >= count)
      return dtxi_fail(DTX_EINVAL, "cuda backend: GPU %d does not exist (this process sees %d GPU(s))",
                       devs[i], count);
  cuda_backend *b = calloc(1, sizeof *b);
  if (b == NULL) return dtxi_fail(DTX_ENOMEM, "dtxi_cuda_open: out of host memory");
  b->base.ops = &cuda_ops;
  b->base.ndev = n;
  atomic_init(&b->live_streams, 0);
  atomic_init(&b->live_events, 0);
  dtx_status rc = DTX_OK;
  for (int i = 0; i < n; i++) b->ord[i] = devs[i];
  for (int i = 0; i < n; i++) DTX_CHECK_GOTO(open_device(b, i), rc, fail);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      if (i != j && open_peer(b, i, j) != DTX_OK) /* not fatal: peer copies are then staged */
        DTXI_LOG(DTX_LOG_WARN, "%s; copies gpu %d -> gpu %d go through the host", dtx_last_error(), b->ord[j],
                 b->ord[i]);
  CUDA_CHECK_GOTO(b->ord[0], use_dev(b->ord[0]), rc, fail);
  for (int i = 0; i < n; i++) {
    char peers[DTXI_MAX_GPUS * 4 + 1] = "";
    size_t len = 0;
    for (int j = 0; j < n; j++)
      if (b->peer[i][j]) len += (size_t)snprintf(peers + len, sizeof peers - len, " %d", b->ord[j]);
    DTXI_LOG(DTX_LOG_INFO, "cuda gpu %d: %s, %zu MiB, cc %d.%d, reads peers:%s", b->ord[i],
             b->base.info[i].name, b->total[i] >> 20, b->base.info[i].cc_major, b->base.info[i].cc_minor,
             len > 0 ? peers : " none");
  }
  *out = &b->base;
  return DTX_OK;
fail:
  free(b);
  return rc;
}
