/*
 * device/cuda/backend_cuda.c - the cuda backend: the contract of device/backend.h
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
 *   - per stream: a non-blocking cudaStream_t and its error state; the copy
 *     kinds (h2d, d2h, peer, nccl) get the device's greatest stream
 *     priority, so a transfer is not stuck behind a queue of kernels;
 *   - per event: a cudaEvent_t (without timing unless made timed) and what it
 *     saw at its last record (below);
 *   - per device, for timed events: a calibration stream and the current
 *     calibration (below);
 *   - the NCCL state (device/cuda/nccl_lib.c): libnccl.so.2 loaded at first use
 *     and one communicator per device, destroyed with the backend.
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
 * NCCL. dtxi_p2p_group becomes one NCCL group: ncclSend on the source's
 * communicator and stream, ncclRecv on the destination's; dtxi_broadcast is
 * ncclBroadcast on every communicator when every device receives, else a
 * group of sends from the root (and a cudaMemcpyAsync for the root's own
 * copy). Each stream taking part takes a sequence number like any enqueue; a
 * failed NCCL call (or NCCL missing) marks every one of them failed with the
 * message naming the call. NCCL kernels of one group wait for each other
 * across devices: while a group is in flight, a device-wide synchronization
 * (cudaDeviceSynchronize, cudaFreeHost, cudaMalloc) waits for the whole group,
 * so the caller must not make one that the group's other side waits for.
 *
 * Timed events and the host clock. A timed event is a CUDA timing event; its
 * host time is calibration.host + cudaEventElapsedTime(calibration, event).
 * A calibration is a timing event recorded on an idle stream of its own (the
 * device's calibration stream) and synchronized; its host time is the middle
 * of [before record, after synchronize], the best of up to three tries, so
 * its error is at most half that window (typically a few microseconds). The
 * first is taken at open. GPU and host clocks drift apart (parts per million,
 * and NTP slews CLOCK_MONOTONIC), and cudaEventElapsedTime's float loses
 * precision over long spans (about 1 us at 10 s), so a timed record renews
 * its device's calibration once it is older than CAL_REFRESH_NS (1 s): a
 * short blocking round trip on the calibration stream, once a second at most.
 * Each event keeps the calibration current at its record.
 *   Monotonic along a stream: consecutive calibrations disagree by their
 * errors, so a later event mapped through a newer calibration could land
 * before an earlier one. Each stream therefore has an era per calibration it
 * used: when a timed record on the stream finds a newer calibration, a
 * boundary timing event is recorded on the stream first and the new era's
 * times are held at or above the previous era's mapping of that boundary
 * (H_new(g) = max(g + off_new, H_prev(g_boundary))). Every earlier event of
 * the stream has g <= g_boundary, so it maps at or below that floor. Floors
 * are computed at the first query and then drop the previous era. Eras whose
 * calibrations are more than CAL_CHAIN_NS (10 s) apart are not chained: the
 * stream was idle in between.
 *
 * Every call that creates or enqueues makes the stream's (or event's) device
 * current on the calling thread first (cudaSetDevice, skipped when it already
 * is), so no thread quietly creates a context on device 0; a copy to or from
 * host memory makes the device side's device current instead, which pool
 * memory needs. open leaves devs[0] current. Queries (event_query, sync,
 * mem_usage) never change the current device.
 */
#include <cuda_runtime_api.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "device/backend.h"
#include "device/cuda/nccl_lib.h"
#include "trace/trace.h"

#if defined(DTX_HAVE_NVTX) && DTX_HAVE_NVTX
/* NVTX's loader casts dlsym's void * to a function pointer, which ISO C flags. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <nvtx3/nvToolsExtCudaRt.h>
#pragma GCC diagnostic pop
#endif

#define MSG_MAX 512 /* a stream's or event's failure message, with its NUL */

#define CAL_REFRESH_NS 1000000000ull /* a calibration older than this is renewed at the next timed record */
#define CAL_CHAIN_NS 10000000000ull  /* eras with calibrations further apart are not chained */
#define CAL_TRIES 3                  /* records per calibration; the narrowest window wins */
#define CAL_GOOD_NS 20000ull         /* a window this narrow ends the tries early */

/* A calibration: a timing event at a known host time (see the top). */
typedef struct calib {
  atomic_int refs;    /* the device's current slot + eras */
  cudaEvent_t ev;     /* recorded on the calibration stream, complete */
  uint64_t host_ns;   /* host time of ev: the middle of the window */
  uint64_t window_ns; /* width of the window: twice the error bound */
} calib;

/* A stretch of one stream's timed events mapped through one calibration. */
typedef struct era {
  atomic_int refs;    /* the stream's current slot + events recorded in it */
  calib *cal;         /* one reference */
  cudaEvent_t bnd;    /* timing event where the era begins on its stream, or NULL */
  pthread_mutex_t mu; /* guards prev, floor, floor_known */
  struct era *prev;   /* the era before (one reference) until the floor is known */
  int64_t floor;      /* host times in this era are >= floor (INT64_MIN: no floor) */
  int floor_known;
} era;

#define CUDA_SPARE_EVENTS 256

typedef struct cuda_backend {
  dtxi_backend base; /* first: the ops table casts */
  int ord[DTXI_MAX_GPUS];
  cudaMemPool_t pool[DTXI_MAX_GPUS];
  size_t total[DTXI_MAX_GPUS];
  unsigned char peer[DTXI_MAX_GPUS][DTXI_MAX_GPUS]; /* peer[i][j]: i reads j's memory directly */
  atomic_int live_streams, live_events;
  dtxi_nccl *nccl;
  cudaStream_t cal_stream[DTXI_MAX_GPUS]; /* NULL until created */
  pthread_mutex_t cal_mu[DTXI_MAX_GPUS];  /* guards cal[i] */
  calib *cal[DTXI_MAX_GPUS];              /* current calibration (one reference) */
  /* Recycled dependency events (no timing) per device: destroying one keeps
   * its cudaEvent_t here for the next event_create (re-recording an event is
   * legal whatever it was doing: waits already enqueued keep their record). */
  pthread_mutex_t spare_mu;
  cudaEvent_t spare[DTXI_MAX_GPUS][CUDA_SPARE_EVENTS];
  int nspare[DTXI_MAX_GPUS];
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
  pthread_mutex_t mu;         /* guards fail_seq, msg and era */
  uint64_t fail_seq;          /* earliest failed op stored (0: none) */
  char msg[MSG_MAX];          /* its message */
  era *era;                   /* of the last timed record (one reference), or NULL */
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
  int timed;        /* a timing event: event_host_time answers */
  era *era;         /* timed: the era of the last record (one reference) */
  int have_time;    /* host_ns computed for the last record */
  uint64_t host_ns; /* its host time */
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

/* ---- timed events: calibrations and eras ------------------------------------- */

/* cudaEventDestroy needs no particular current device: the event knows its
 * context. So calibrations and eras may be released from any thread. */
static void calib_unref(calib *c) {
  if (c == NULL || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
  if (cudaEventDestroy(c->ev) != cudaSuccess) (void)cudaGetLastError();
  free(c);
}

static void era_ref(era *er) { atomic_fetch_add_explicit(&er->refs, 1, memory_order_relaxed); }

static void era_unref(era *er) {
  while (er != NULL && atomic_fetch_sub_explicit(&er->refs, 1, memory_order_acq_rel) == 1) {
    era *prev = er->prev; /* no one else can reach er now */
    if (er->bnd != NULL && cudaEventDestroy(er->bnd) != cudaSuccess) (void)cudaGetLastError();
    calib_unref(er->cal);
    pthread_mutex_destroy(&er->mu);
    free(er);
    er = prev; /* drop the reference er held */
  }
}

/* A new calibration of device i (its ordinal current). */
static dtx_status calib_take(cuda_backend *b, int i, calib **out) {
  int ord = b->ord[i];
  dtx_status rc = DTX_OK;
  cudaEvent_t ev = NULL;
  calib *c = calloc(1, sizeof *c);
  if (c == NULL)
    return dtxi_fail(DTX_ENOMEM, "cuda gpu %d: out of host memory calibrating timed events", ord);
  c->window_ns = UINT64_MAX;
  for (int t = 0; t < CAL_TRIES && c->window_ns > CAL_GOOD_NS; t++) {
    CUDA_CHECK_GOTO(ord, cudaEventCreateWithFlags(&ev, cudaEventDefault), rc, fail);
    uint64_t t0 = dtxi_now_ns();
    CUDA_CHECK_GOTO(ord, cudaEventRecord(ev, b->cal_stream[i]), rc, fail);
    CUDA_CHECK_GOTO(ord, cudaEventSynchronize(ev), rc, fail);
    uint64_t t1 = dtxi_now_ns();
    if (t1 - t0 < c->window_ns) {
      if (c->ev != NULL && cudaEventDestroy(c->ev) != cudaSuccess) (void)cudaGetLastError();
      c->ev = ev;
      c->window_ns = t1 - t0;
      c->host_ns = t0 + (t1 - t0) / 2;
    } else if (cudaEventDestroy(ev) != cudaSuccess) {
      (void)cudaGetLastError();
    }
    ev = NULL;
  }
  atomic_init(&c->refs, 1);
  *out = c;
  return DTX_OK;
fail:
  if (ev != NULL && cudaEventDestroy(ev) != cudaSuccess) (void)cudaGetLastError();
  if (c->ev != NULL && cudaEventDestroy(c->ev) != cudaSuccess) (void)cudaGetLastError();
  free(c);
  return rc;
}

/* Device i's current calibration, renewed first when older than
 * CAL_REFRESH_NS (a failed renewal keeps the old one and logs why); with a
 * reference for the caller. Device i is current. */
static calib *calib_current(cuda_backend *b, int i) {
  pthread_mutex_lock(&b->cal_mu[i]);
  calib *c = b->cal[i];
  if (dtxi_now_ns() - c->host_ns > CAL_REFRESH_NS) {
    calib *n = NULL;
    if (calib_take(b, i, &n) == DTX_OK) {
      b->cal[i] = n;
      calib_unref(c);
      c = n;
    } else {
      DTXI_LOG(DTX_LOG_WARN, "timed events keep an older calibration: %s", dtx_last_error());
    }
  }
  atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  pthread_mutex_unlock(&b->cal_mu[i]);
  return c;
}

static cudaError_t era_floor(era *er, int64_t *floor);

/* H_er(ev): host time of the complete timing event ev, recorded on er's
 * stream in er (or at its boundary): through er's calibration, held at or
 * above er's floor. */
static cudaError_t era_map(era *er, cudaEvent_t ev, int64_t *out) {
  float ms = 0.0f;
  cudaError_t r = cudaEventElapsedTime(&ms, er->cal->ev, ev);
  if (r != cudaSuccess) return r;
  int64_t h = (int64_t)er->cal->host_ns + (int64_t)llround((double)ms * 1e6), f = INT64_MIN;
  if ((r = era_floor(er, &f)) != cudaSuccess) return r;
  *out = h > f ? h : f;
  return cudaSuccess;
}

/* er's floor: the previous era's mapping of er's boundary event, computed
 * once (the boundary is complete when any event of er is); then the previous
 * era is let go. Locks go from newer eras to older ones. */
static cudaError_t era_floor(era *er, int64_t *floor) {
  era *drop = NULL;
  cudaError_t r = cudaSuccess;
  pthread_mutex_lock(&er->mu);
  if (!er->floor_known) {
    int64_t f = INT64_MIN;
    r = era_map(er->prev, er->bnd, &f);
    if (r == cudaSuccess) {
      er->floor = f;
      er->floor_known = 1;
      drop = er->prev;
      er->prev = NULL;
    }
  }
  *floor = er->floor;
  pthread_mutex_unlock(&er->mu);
  era_unref(drop);
  return r;
}

/* The era a timed record on s falls in, with a reference for the caller:
 * s's current one while its device's calibration is the same, else a new one
 * that begins with a boundary event recorded on s now. s's device is current;
 * s is fed by this thread (the contract), so s->era changes only here. */
static dtx_status stream_era(cuda_backend *b, cuda_stream *s, era **out) {
  calib *c = calib_current(b, s->base.dev);
  pthread_mutex_lock(&s->mu);
  era *cur = s->era;
  if (cur != NULL) era_ref(cur);
  pthread_mutex_unlock(&s->mu);
  if (cur != NULL && cur->cal == c) {
    calib_unref(c);
    *out = cur;
    return DTX_OK;
  }
  era *er = calloc(1, sizeof *er);
  if (er == NULL) {
    calib_unref(c);
    era_unref(cur);
    return dtxi_fail(DTX_ENOMEM, "cuda event_record: out of host memory");
  }
  atomic_init(&er->refs, 2); /* the stream's slot and the caller */
  er->cal = c;               /* the reference taken above */
  pthread_mutex_init(&er->mu, NULL);
  er->floor = INT64_MIN;
  er->floor_known = 1;
  if (cur != NULL && c->host_ns - cur->cal->host_ns <= CAL_CHAIN_NS) {
    cudaError_t r = cudaEventCreateWithFlags(&er->bnd, cudaEventDefault);
    if (r == cudaSuccess && (r = cudaEventRecord(er->bnd, s->cs)) == cudaSuccess) {
      er->prev = cur; /* the reference taken above passes to er */
      cur = NULL;
      er->floor_known = 0;
    } else {
      (void)cudaGetLastError();
      DTXI_LOG(DTX_LOG_WARN,
               "cuda gpu %d: a boundary event for timed events failed (%s); times on stream %s may "
               "step back by a few microseconds here",
               s->ord, cudaGetErrorString(r), s->base.label);
      if (er->bnd != NULL && cudaEventDestroy(er->bnd) != cudaSuccess) (void)cudaGetLastError();
      er->bnd = NULL;
    }
  }
  pthread_mutex_lock(&s->mu);
  era *old = s->era;
  s->era = er;
  pthread_mutex_unlock(&s->mu);
  era_unref(old);
  era_unref(cur);
  *out = er;
  return DTX_OK;
}

/* ---- backend ------------------------------------------------------------------ */

/* Frees what open made: NCCL's communicators, the calibrations and their
 * streams. Copes with a half-opened backend. */
static void backend_free(cuda_backend *b) {
  dtxi_nccl_destroy(b->nccl);
  for (int i = 0; i < DTXI_MAX_GPUS; i++) {
    for (int k = 0; k < b->nspare[i]; k++)
      if (cudaEventDestroy(b->spare[i][k]) != cudaSuccess) (void)cudaGetLastError();
    calib_unref(b->cal[i]);
    if (b->cal_stream[i] != NULL) {
      if (use_dev(b->ord[i]) != cudaSuccess || cudaStreamDestroy(b->cal_stream[i]) != cudaSuccess)
        (void)cudaGetLastError();
    }
    pthread_mutex_destroy(&b->cal_mu[i]);
  }
  pthread_mutex_destroy(&b->spare_mu);
  free(b);
}

static void cuda_destroy(dtxi_backend *bb) {
  if (bb == NULL) return;
  cuda_backend *b = backend_of(bb);
  int ns = atomic_load(&b->live_streams), ne = atomic_load(&b->live_events);
  if (ns != 0 || ne != 0)
    DTXI_LOG(DTX_LOG_WARN, "cuda backend destroyed with %d stream(s) and %d event(s) still open", ns, ne);
  backend_free(b);
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
  int least = 0, greatest = 0;
  if (kind != DTXI_STREAM_COMPUTE && cudaDeviceGetStreamPriorityRange(&least, &greatest) != cudaSuccess) {
    (void)cudaGetLastError(); /* no priorities here: the default one */
    greatest = least = 0;
  }
  /* Copies get the greatest priority (the lowest number); kernels the default. */
  if (kind != DTXI_STREAM_COMPUTE && greatest != least)
    CUDA_CHECK_GOTO(ord, cudaStreamCreateWithPriority(&s->cs, cudaStreamNonBlocking, greatest), rc, fail);
  else
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
  pthread_mutex_lock(&s->mu);
  era *er = s->era;
  s->era = NULL;
  pthread_mutex_unlock(&s->mu);
  era_unref(er); /* events recorded in it keep it */
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

static dtx_status event_new(dtxi_backend *bb, int dev, int timed, dtxi_event **out) {
  cuda_backend *b = backend_of(bb);
  const char *call = timed ? "event_create_timed" : "event_create";
  if (out == NULL) return dtxi_fail(DTX_EINVAL, "cuda %s: out is NULL", call);
  if (dev < 0 || dev >= bb->ndev)
    return dtxi_fail(DTX_EINVAL, "cuda %s: device %d does not exist (the backend has %d: 0..%d)", call, dev,
                     bb->ndev, bb->ndev - 1);
  cuda_event *e = calloc(1, sizeof *e);
  if (e == NULL) return dtxi_fail(DTX_ENOMEM, "cuda %s: out of host memory", call);
  dtx_status rc = DTX_OK;
  int ord = b->ord[dev];
  if (!timed) {
    pthread_mutex_lock(&b->spare_mu);
    if (b->nspare[dev] > 0) e->ev = b->spare[dev][--b->nspare[dev]];
    pthread_mutex_unlock(&b->spare_mu);
  }
  if (e->ev == NULL) {
    CUDA_CHECK_GOTO(ord, use_dev(ord), rc, fail);
    CUDA_CHECK_GOTO(ord, cudaEventCreateWithFlags(&e->ev, timed ? cudaEventDefault : cudaEventDisableTiming),
                    rc, fail);
  }
  e->base.b = bb;
  e->base.dev = dev;
  e->ord = ord;
  e->timed = timed;
  e->state = DTXI_EVENT_DONE; /* never recorded: done, as in CUDA */
  pthread_mutex_init(&e->mu, NULL);
  atomic_fetch_add(&b->live_events, 1);
  *out = &e->base;
  return DTX_OK;
fail:
  free(e);
  return rc;
}

static dtx_status cuda_event_create(dtxi_backend *bb, int dev, dtxi_event **out) {
  return event_new(bb, dev, 0, out);
}

static dtx_status cuda_event_create_timed(dtxi_backend *bb, int dev, dtxi_event **out) {
  return event_new(bb, dev, 1, out);
}

static void cuda_event_destroy(dtxi_event *ee) {
  cuda_event *e = event_of(ee);
  cuda_backend *b = backend_of(ee->b);
  /* A pending event is released by CUDA once it completes; waits enqueued on
   * it are unaffected. */
  int kept = 0;
  if (!e->timed) {
    pthread_mutex_lock(&b->spare_mu);
    if (b->nspare[ee->dev] < CUDA_SPARE_EVENTS) {
      b->spare[ee->dev][b->nspare[ee->dev]++] = e->ev;
      kept = 1;
    }
    pthread_mutex_unlock(&b->spare_mu);
  }
  if (!kept) {
    if (use_dev(e->ord) != cudaSuccess) (void)cudaGetLastError();
    if (cudaEventDestroy(e->ev) != cudaSuccess) (void)cudaGetLastError();
  }
  if (e->src != NULL) stream_unref(e->src);
  era_unref(e->era);
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
  era *er = NULL, *old_era = NULL;
  if (e->timed) { /* the era first: it may record a boundary event on s */
    CUDA_CHECK_GOTO(s->ord, use_dev(s->ord), rc, fail_unlocked);
    if ((rc = stream_era(backend_of(st->b), s, &er)) != DTX_OK) goto fail_unlocked;
  }
  pthread_mutex_lock(&e->mu);
  CUDA_CHECK_GOTO(s->ord, use_dev(s->ord), rc, fail);
  CUDA_CHECK_GOTO(s->ord, cudaEventRecord(e->ev, s->cs), rc, fail);
  old_era = e->era;
  e->era = er; /* the reference stream_era gave */
  er = NULL;
  e->have_time = 0;
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
  era_unref(old_era);
  return DTX_OK;
fail:
  pthread_mutex_unlock(&e->mu);
fail_unlocked:
  era_unref(er);
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

/* The host time of a completed timed event, through its era (computed once
 * per record). Never changes the current device. */
static dtx_status cuda_event_host_time(dtxi_event *ee, uint64_t *ns) {
  cuda_event *e = event_of(ee);
  if (ns == NULL) return dtxi_fail(DTX_EINVAL, "cuda event_host_time: ns is NULL");
  if (!e->timed)
    return dtxi_fail(DTX_EINVAL,
                     "cuda event_host_time: the event (gpu %d) was made without timing; create it with "
                     "dtxi_event_create_timed",
                     e->ord);
  dtx_status rc = DTX_OK;
  pthread_mutex_lock(&e->mu);
  if (e->src == NULL || e->era == NULL) {
    rc = dtxi_fail(DTX_EINVAL, "cuda event_host_time: the event (gpu %d) was never recorded", e->ord);
  } else if (e->state == DTXI_EVENT_PENDING && query_locked(e, cudaEventQuery(e->ev)) == DTXI_EVENT_PENDING) {
    rc = dtxi_fail(
        DTX_EINVAL,
        "cuda event_host_time: the event (gpu %d) has not completed yet; ask after event_query says "
        "done or failed",
        e->ord);
  } else if (!e->have_time) {
    int64_t h = 0;
    cudaError_t r = era_map(e->era, e->ev, &h);
    if (r != cudaSuccess) {
      rc = cuda_fail(e->ord, "cudaEventElapsedTime", r, __FILE__, __LINE__);
    } else {
      e->host_ns = h > 0 ? (uint64_t)h : 0;
      e->have_time = 1;
    }
  }
  if (rc == DTX_OK) *ns = e->host_ns;
  pthread_mutex_unlock(&e->mu);
  return rc;
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

/* ---- GPU-to-GPU transfers (NCCL) ------------------------------------------------ */

static bool cuda_nccl_available(dtxi_backend *bb) { return dtxi_nccl_ready(backend_of(bb)->nccl); }

/* Runs ops as one NCCL group for the streams of the devices in part[]; a
 * failure (NCCL missing, a call failing) fails each of those streams with
 * the message, as a failed enqueue does. */
static dtx_status run_group(cuda_backend *b, const dtxi_nccl_op *ops, int nops, dtxi_stream *const *streams,
                            const bool *part) {
  uint64_t seq[DTXI_MAX_GPUS] = {0};
  for (int d = 0; d < b->base.ndev; d++)
    if (part[d]) seq[d] = next_seq(stream_of(streams[d]));
  dtx_status rc = dtxi_nccl_run(b->nccl, ops, nops);
  if (rc == DTX_OK) return DTX_OK;
  for (int d = 0; d < b->base.ndev; d++)
    if (part[d]) stream_fail_now(stream_of(streams[d]), seq[d], rc);
  return rc;
}

static dtx_status cuda_p2p_group(dtxi_backend *bb, const dtxi_p2p_item *items, int n,
                                 dtxi_stream *const *streams) {
  cuda_backend *b = backend_of(bb);
  bool part[DTXI_MAX_GPUS] = {false};
  dtxi_nccl_op *ops = calloc((size_t)n * 2, sizeof *ops);
  if (ops == NULL) return dtxi_fail(DTX_ENOMEM, "cuda p2p_group: out of host memory");
  for (int k = 0; k < n; k++) {
    const dtxi_p2p_item *it = &items[k];
    ops[2 * k] = (dtxi_nccl_op){.kind = DTXI_NCCL_SEND,
                                .rank = it->src_dev,
                                .peer = it->dst_dev,
                                .send = it->src,
                                .bytes = it->bytes,
                                .stream = (void *)stream_of(streams[it->src_dev])->cs};
    ops[2 * k + 1] = (dtxi_nccl_op){.kind = DTXI_NCCL_RECV,
                                    .rank = it->dst_dev,
                                    .peer = it->src_dev,
                                    .recv = it->dst,
                                    .bytes = it->bytes,
                                    .stream = (void *)stream_of(streams[it->dst_dev])->cs};
    part[it->src_dev] = part[it->dst_dev] = true;
  }
  dtx_status rc = run_group(b, ops, 2 * n, streams, part);
  free(ops);
  return rc;
}

/* ncclBroadcast on every communicator when every other device receives (the
 * root's own copy rides in its recvbuff); otherwise a group of sends from the
 * root, after a cudaMemcpyAsync for the root's own copy. */
static dtx_status cuda_broadcast(dtxi_backend *bb, int root, const void *src, void *const *dsts, size_t bytes,
                                 dtxi_stream *const *streams) {
  cuda_backend *b = backend_of(bb);
  int ndev = bb->ndev, receivers = 0;
  bool part[DTXI_MAX_GPUS] = {false};
  dtxi_nccl_op ops[2 * DTXI_MAX_GPUS];
  int nops = 0;
  for (int d = 0; d < ndev; d++) receivers += d != root && dsts[d] != NULL;
  void *own = dsts[root] != NULL && dsts[root] != src ? dsts[root] : NULL;
  if (receivers > 0 && receivers == ndev - 1) {
    for (int d = 0; d < ndev; d++) {
      void *recv = d != root ? dsts[d] : own != NULL ? own : (void *)src; /* in place on the root */
      ops[nops++] = (dtxi_nccl_op){.kind = DTXI_NCCL_BCAST,
                                   .rank = d,
                                   .peer = root,
                                   .send = d == root ? src : recv,
                                   .recv = recv,
                                   .bytes = bytes,
                                   .stream = (void *)stream_of(streams[d])->cs};
      part[d] = true;
    }
    return run_group(b, ops, nops, streams, part);
  }
  if (own != NULL) {
    dtx_status rc = cuda_copy_async(streams[root], own, root, src, root, bytes);
    if (rc != DTX_OK) return rc;
  }
  if (receivers == 0) return DTX_OK;
  for (int d = 0; d < ndev; d++) {
    if (d == root || dsts[d] == NULL) continue;
    ops[nops++] = (dtxi_nccl_op){.kind = DTXI_NCCL_SEND,
                                 .rank = root,
                                 .peer = d,
                                 .send = src,
                                 .bytes = bytes,
                                 .stream = (void *)stream_of(streams[root])->cs};
    ops[nops++] = (dtxi_nccl_op){.kind = DTXI_NCCL_RECV,
                                 .rank = d,
                                 .peer = root,
                                 .recv = dsts[d],
                                 .bytes = bytes,
                                 .stream = (void *)stream_of(streams[d])->cs};
    part[d] = true;
  }
  part[root] = true;
  return run_group(b, ops, nops, streams, part);
}

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
    .nccl_available = cuda_nccl_available,
    .p2p_group = cuda_p2p_group,
    .broadcast = cuda_broadcast,
    .event_create_timed = cuda_event_create_timed,
    .event_host_time = cuda_event_host_time,
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
  for (int i = 0; i < DTXI_MAX_GPUS; i++) pthread_mutex_init(&b->cal_mu[i], NULL);
  pthread_mutex_init(&b->spare_mu, NULL);
  dtx_status rc = DTX_OK;
  for (int i = 0; i < n; i++) b->ord[i] = devs[i];
  for (int i = 0; i < n; i++) DTX_CHECK_GOTO(open_device(b, i), rc, fail);
  DTX_CHECK_GOTO(dtxi_nccl_create(b->ord, n, &b->nccl), rc, fail);
  /* Timed events: a calibration stream per device and the first calibration. */
  for (int i = 0; i < n; i++) {
    CUDA_CHECK_GOTO(b->ord[i], use_dev(b->ord[i]), rc, fail);
    CUDA_CHECK_GOTO(b->ord[i], cudaStreamCreateWithFlags(&b->cal_stream[i], cudaStreamNonBlocking), rc, fail);
    DTX_CHECK_GOTO(calib_take(b, i, &b->cal[i]), rc, fail);
  }
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
  backend_free(b);
  return rc;
}
