/*
 * device/backend.h - device backends (cuda | sim) behind one interface.
 *
 * A backend drives N devices. Per device it offers streams (in-order queues
 * of work), events (markers recorded on a stream, waited on by other streams,
 * polled by the host), stream-ordered memory, asynchronous copies (host <->
 * device, device <-> device) and host functions run in stream order. The
 * scheduler never blocks on a stream: it enqueues, records an event, and its
 * progress thread polls the event.
 *
 * Two implementations:
 *   cuda  (device/cuda/backend_cuda.c): non-blocking streams, events without
 *         timing, cudaMallocAsync pools with a raised release threshold, peer
 *         access where the topology allows, cudaMemcpyAsync / PeerAsync.
 *   sim   (device/backend_sim.c): N simulated devices in host memory with the
 *         same semantics: each stream is a host thread running its queue in
 *         order; copies are memcpy, optionally throttled to a modelled
 *         bandwidth and latency; a memory limit per device; fault injection.
 *
 * Errors: a failed operation (allocation, copy, kernel) puts its stream into
 * an error state carrying a message that names the call; every event recorded
 * on that stream afterwards completes as failed with that message, until
 * dtxi_stream_reset. Enqueue calls themselves fail for bad arguments, when
 * host memory runs out, and for allocations refused at once: cudaMallocAsync
 * out of memory, or on sim an allocation made by work running on that same
 * stream (a task allocating its output), which is charged immediately.
 *
 * Threads: any thread may enqueue on any stream, but one stream is fed by one
 * thread at a time (the scheduler's dispatch). Events may be polled from any
 * thread. The calls that enqueue on several streams at once (dtxi_p2p_group,
 * dtxi_broadcast) are serialized inside the backend, so every stream sees
 * the groups in one order, as NCCL requires of its communicators.
 *
 * GPU-to-GPU transfers (NCCL): dtxi_p2p_group moves any number of chunks
 * between pairs of devices as one group (cuda: ncclGroupStart, ncclSend on
 * the source's communicator and stream, ncclRecv on the destination's,
 * ncclGroupEnd); dtxi_broadcast sends one chunk from a root to many devices.
 * Each device's part is ordered on the stream the caller gives for it (kind
 * DTXI_STREAM_NCCL): events recorded on that stream before the call complete
 * before the device's part starts, events recorded after complete after it.
 * A device's part of a group ends when all its sends and receives are done;
 * a send and its receive meet (neither finishes before both streams have got
 * to the group), so a cycle of waits between the streams of one group
 * deadlocks here as it does in NCCL. Sim moves the bytes with the same
 * rendezvous (throttled like peer copies). The cuda backend loads NCCL with
 * dlopen("libnccl.so.2") at first use: without it dtxi_nccl_available says
 * no (and why) and these calls fail; use peer copies (copy_async) then.
 *
 * Timed events: dtxi_event_create_timed makes an event whose completion time
 * dtxi_event_host_time reports on the host clock (dtxi_now_ns), for the
 * trace. Sim: when the stream passed it. Cuda: the GPU timestamp converted
 * through a per-device calibration (see backend_cuda.c), good to a few
 * microseconds.
 */
#ifndef DTXI_BACKEND_H
#define DTXI_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device/device.h"
#include "dtx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DTXI_HOST (-1) /* device index meaning host memory in copies */

typedef struct dtxi_backend dtxi_backend;
typedef struct dtxi_stream dtxi_stream;
typedef struct dtxi_event dtxi_event;

typedef enum dtxi_stream_kind {
  DTXI_STREAM_COMPUTE = 0,
  DTXI_STREAM_H2D = 1,
  DTXI_STREAM_D2H = 2,
  DTXI_STREAM_PEER = 3,
  DTXI_STREAM_NCCL = 4,
} dtxi_stream_kind;

/* "compute", "h2d", "d2h", "peer", "nccl": default stream labels. */
static inline const char *dtxi_stream_kind_name(dtxi_stream_kind k) {
  switch (k) {
    case DTXI_STREAM_COMPUTE:
      return "compute";
    case DTXI_STREAM_H2D:
      return "h2d";
    case DTXI_STREAM_D2H:
      return "d2h";
    case DTXI_STREAM_PEER:
      return "peer";
    case DTXI_STREAM_NCCL:
      return "nccl";
  }
  return "stream";
}

/* A host function run in stream order. Return 0, or nonzero with a message
 * written into err (at most errlen bytes) to fail the stream. On sim, a
 * task's CPU implementation runs this way in place of its CUDA one. */
typedef int (*dtxi_stream_fn)(void *arg, char *err, size_t errlen);

/* Event state as seen by the host. */
typedef enum dtxi_event_state {
  DTXI_EVENT_PENDING = 0,
  DTXI_EVENT_DONE = 1,
  DTXI_EVENT_FAILED = 2, /* message from dtxi_event_error */
} dtxi_event_state;

/* One move of a grouped point-to-point transfer: `bytes` from src (memory of
 * device src_dev) to dst (memory of device dst_dev), two different devices. */
typedef struct dtxi_p2p_item {
  int src_dev;
  const void *src;
  int dst_dev;
  void *dst;
  size_t bytes;
} dtxi_p2p_item;

typedef struct dtxi_backend_ops {
  const char *name; /* "cuda" or "sim" */
  void (*destroy)(dtxi_backend *b);
  dtx_status (*stream_create)(dtxi_backend *b, int dev, dtxi_stream_kind kind, const char *label,
                              dtxi_stream **out);
  /* Waits for the stream's queued work, then frees it. */
  void (*stream_destroy)(dtxi_stream *s);
  void (*stream_reset)(dtxi_stream *s); /* clears the error state */
  dtx_status (*event_create)(dtxi_backend *b, int dev, dtxi_event **out);
  void (*event_destroy)(dtxi_event *e);
  /* Marks the point after everything enqueued on s so far. Re-recording an
   * event moves the mark; waits already enqueued keep the earlier one. */
  dtx_status (*event_record)(dtxi_event *e, dtxi_stream *s);
  /* Work enqueued on s after this waits for e's last recorded mark (also
   * across devices). A failed event fails s with the same message. */
  dtx_status (*stream_wait)(dtxi_stream *s, dtxi_event *e);
  dtxi_event_state (*event_query)(dtxi_event *e);
  /* Blocks the calling host thread until e completes (tests, shutdown). */
  dtxi_event_state (*event_sync)(dtxi_event *e);
  const char *(*event_error)(dtxi_event *e);
  /* Stream-ordered device memory: usable by work enqueued after the call;
   * freed once work enqueued before the free is done. */
  dtx_status (*alloc_async)(dtxi_stream *s, size_t bytes, void **ptr);
  void (*free_async)(dtxi_stream *s, void *ptr);
  /* Copies bytes in stream order; dev indices, DTXI_HOST for host memory. */
  dtx_status (*copy_async)(dtxi_stream *s, void *dst, int dst_dev, const void *src, int src_dev,
                           size_t bytes);
  dtx_status (*host_fn)(dtxi_stream *s, dtxi_stream_fn fn, void *arg);
  /* Pinned host memory for staging (plain host memory on sim). */
  dtx_status (*host_alloc)(dtxi_backend *b, size_t bytes, void **ptr);
  void (*host_free)(dtxi_backend *b, void *ptr);
  /* Bytes allocated on dev now, and the device's capacity (the simulated
   * limit on sim; the card's memory on cuda). */
  void (*mem_usage)(dtxi_backend *b, int dev, size_t *used, size_t *capacity);
  /* The native stream handle a CUDA implementation receives (cudaStream_t);
   * NULL on sim. */
  void *(*native_stream)(dtxi_stream *s);
  /* GPU-to-GPU transfers; called through dtxi_nccl_available, dtxi_p2p_group
   * and dtxi_broadcast below, which check the arguments first. */
  bool (*nccl_available)(dtxi_backend *b);
  dtx_status (*p2p_group)(dtxi_backend *b, const dtxi_p2p_item *items, int n, dtxi_stream *const *streams);
  dtx_status (*broadcast)(dtxi_backend *b, int root, const void *src, void *const *dsts, size_t bytes,
                          dtxi_stream *const *streams);
  /* Timed events: see dtxi_event_create_timed and dtxi_event_host_time. */
  dtx_status (*event_create_timed)(dtxi_backend *b, int dev, dtxi_event **out);
  dtx_status (*event_host_time)(dtxi_event *e, uint64_t *ns);
} dtxi_backend_ops;

struct dtxi_backend {
  const dtxi_backend_ops *ops;
  int ndev;
  dtxi_gpu_info info[DTXI_MAX_GPUS];
};

/* Every backend's stream and event structs begin with these headers. */
struct dtxi_stream {
  dtxi_backend *b;
  int dev;
  dtxi_stream_kind kind;
  char label[32]; /* "compute-0", "h2d", ...: trace track and NVTX name */
};

struct dtxi_event {
  dtxi_backend *b;
  int dev;
};

/* Convenience calls through the ops table. */
static inline dtx_status dtxi_stream_create(dtxi_backend *b, int dev, dtxi_stream_kind k, const char *label,
                                            dtxi_stream **out) {
  return b->ops->stream_create(b, dev, k, label, out);
}
static inline void dtxi_stream_destroy(dtxi_stream *s) {
  if (s != NULL) s->b->ops->stream_destroy(s);
}
static inline void dtxi_stream_reset(dtxi_stream *s) { s->b->ops->stream_reset(s); }
static inline dtx_status dtxi_event_create(dtxi_backend *b, int dev, dtxi_event **out) {
  return b->ops->event_create(b, dev, out);
}
static inline void dtxi_event_destroy(dtxi_event *e) {
  if (e != NULL) e->b->ops->event_destroy(e);
}
static inline dtx_status dtxi_event_record(dtxi_event *e, dtxi_stream *s) {
  return s->b->ops->event_record(e, s);
}
static inline dtx_status dtxi_stream_wait(dtxi_stream *s, dtxi_event *e) {
  return s->b->ops->stream_wait(s, e);
}
static inline dtxi_event_state dtxi_event_query(dtxi_event *e) { return e->b->ops->event_query(e); }
static inline dtxi_event_state dtxi_event_sync(dtxi_event *e) { return e->b->ops->event_sync(e); }
static inline const char *dtxi_event_error(dtxi_event *e) { return e->b->ops->event_error(e); }
static inline dtx_status dtxi_alloc_async(dtxi_stream *s, size_t bytes, void **ptr) {
  return s->b->ops->alloc_async(s, bytes, ptr);
}
static inline void dtxi_free_async(dtxi_stream *s, void *ptr) { s->b->ops->free_async(s, ptr); }
static inline dtx_status dtxi_copy_async(dtxi_stream *s, void *dst, int dst_dev, const void *src, int src_dev,
                                         size_t bytes) {
  return s->b->ops->copy_async(s, dst, dst_dev, src, src_dev, bytes);
}
static inline dtx_status dtxi_host_fn(dtxi_stream *s, dtxi_stream_fn fn, void *arg) {
  return s->b->ops->host_fn(s, fn, arg);
}

/* ---- GPU-to-GPU transfers ------------------------------------------------------
 *
 * streams has b->ndev entries: streams[d] is the stream (kind
 * DTXI_STREAM_NCCL, created by the caller on device d) on which device d's
 * part is ordered; entries of devices with no part may be NULL.
 *
 * Errors: DTX_EINVAL for bad arguments, with a message naming the argument
 * (which item, which device), before anything is enqueued. DTX_EDEVICE when
 * NCCL is not there or one of its calls fails ("cuda: ncclGroupEnd failed:
 * unhandled cuda error ..."; the message names the call and carries
 * ncclGetErrorString); then every stream of the call is put into the error
 * state with that message, so events recorded on them afterwards fail with it
 * (until dtxi_stream_reset), as for any other failed enqueue. A stream already
 * in the error state still takes part (its peers must not hang): on sim its
 * receives are skipped and a device receiving from it fails with its message;
 * on cuda the bytes move as they are. Order receivers behind the producer's
 * event (dtxi_stream_wait) to pass failures on, as for copies. */

/* Whether b can run dtxi_p2p_group and dtxi_broadcast: true on sim; on cuda
 * when libnccl.so.2 (2.7 or later) loads and creating the communicators has
 * not failed. The communicators are made by the first group (ncclCommInitAll:
 * it takes a while and NCCL's buffers on every GPU), whose failure makes this
 * false from then on. When false, dtx_last_error() says why. Cheap after the
 * first call (which loads the library). */
bool dtxi_nccl_available(dtxi_backend *b);

/* Enqueues items[0..n) as one group: item k's send on streams[src_dev], its
 * receive on streams[dst_dev]. n == 0 enqueues nothing. A device may send and
 * receive in the same group, and appear in many items; items between the same
 * pair are matched in order. */
dtx_status dtxi_p2p_group(dtxi_backend *b, const dtxi_p2p_item *items, int n, dtxi_stream *const *streams);

/* Enqueues one chunk, `bytes` at src on device root, to every device d with
 * dsts[d] != NULL (dsts has b->ndev entries). dsts[root] may name a buffer on
 * the root to copy into (src itself: nothing to do) or be NULL. When every
 * device but the root receives, cuda runs ncclBroadcast over all
 * communicators; otherwise one group of sends from the root. Streams: the
 * root's and every receiver's. */
dtx_status dtxi_broadcast(dtxi_backend *b, int root, const void *src, void *const *dsts, size_t bytes,
                          dtxi_stream *const *streams);

/* ---- timed events ----------------------------------------------------------- */

/* An event like dtxi_event_create's that also knows when it completed; it
 * costs a little more to record on cuda (a timing event). */
static inline dtx_status dtxi_event_create_timed(dtxi_backend *b, int dev, dtxi_event **out) {
  return b->ops->event_create_timed(b, dev, out);
}

/* The host time (dtxi_now_ns) at which e's last recorded mark completed, DONE
 * or FAILED. DTX_EINVAL when e was not created timed, was never recorded, or
 * has not completed yet (ask dtxi_event_query first); DTX_EDEVICE when CUDA
 * cannot say. Along one stream the times never decrease. */
static inline dtx_status dtxi_event_host_time(dtxi_event *e, uint64_t *ns) {
  return e->b->ops->event_host_time(e, ns);
}

/* ---- sim --------------------------------------------------------------------- */

typedef struct dtxi_sim_config {
  int ndev;            /* 1..DTXI_MAX_GPUS */
  size_t mem_capacity; /* bytes per simulated device (default 1 GiB when 0) */
  double h2d_gbps;     /* modelled bandwidth host<->device; 0 = unthrottled */
  double d2d_gbps;     /* modelled bandwidth device<->device; 0 = unthrottled */
  double latency_us;   /* added per copy when throttled */
} dtxi_sim_config;

dtx_status dtxi_sim_open(const dtxi_sim_config *cfg, dtxi_backend **out);

typedef enum dtxi_fault_kind {
  DTXI_FAULT_ALLOC = 0,  /* an alloc_async fails as out of memory */
  DTXI_FAULT_COPY = 1,   /* a copy_async fails */
  DTXI_FAULT_KERNEL = 2, /* a host_fn (standing in for a kernel) fails */
  DTXI_FAULT_NCCL = 3,   /* a p2p group or broadcast fails as if ncclGroupEnd had */
} dtxi_fault_kind;

/* sim only: the `nth` (1-based, counted from now) operation of `kind` on
 * device dev fails with a message naming the injected fault. An nccl fault
 * counts the groups (and broadcasts) that involve dev; the one it fires on
 * fails at enqueue, like a failing ncclGroupEnd: DTX_EDEVICE, and all its
 * streams in the error state from there. */
void dtxi_sim_inject_fault(dtxi_backend *b, int dev, dtxi_fault_kind kind, int nth);

/* ---- cuda ------------------------------------------------------------------- */

/* Opens the listed CUDA devices (devs[0..n)). Built without CUDA or without a
 * driver: DTX_EDEVICE with the reason. */
dtx_status dtxi_cuda_open(const int *devs, int n, dtxi_backend **out);

/* ---- choosing ---------------------------------------------------------------- */

/* Parses DTX_GPUS-style text: "all", "none", "0,2", "sim:N". For "all" with
 * no usable GPU, *out = NULL and DTX_OK (the cluster runs on CPU only), with
 * the reason in why (at least 256 bytes). "none" gives NULL as well. */
dtx_status dtxi_backend_open(const char *spec, const dtxi_sim_config *sim_defaults, dtxi_backend **out,
                             char *why, size_t whylen);

#ifdef __cplusplus
}
#endif
#endif /* DTXI_BACKEND_H */
