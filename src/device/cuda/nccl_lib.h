/*
 * device/cuda/nccl_lib.h - NCCL for the cuda backend, loaded at run time.
 *
 * The library never links NCCL: dtxi_nccl_ready dlopens libnccl.so.2 at first
 * use, so a machine without NCCL still runs (and the scheduler falls back to
 * peer copies). One communicator per backend device comes from
 * ncclCommInitAll over the backend's CUDA ordinals, created once, on the first
 * group, under the object's lock; dtxi_nccl_destroy frees them.
 *
 * Threads: any thread. One mutex serializes loading, communicator creation
 * and every group, so groups reach all communicators in one order (NCCL's
 * rule for communicators driven from several threads).
 */
#ifndef DTXI_NCCL_LIB_H
#define DTXI_NCCL_LIB_H

#include <stdbool.h>
#include <stddef.h>

#include "dtx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dtxi_nccl dtxi_nccl;

typedef enum dtxi_nccl_kind {
  DTXI_NCCL_SEND = 0,  /* ncclSend(send, bytes) to rank peer */
  DTXI_NCCL_RECV = 1,  /* ncclRecv(recv, bytes) from rank peer */
  DTXI_NCCL_BCAST = 2, /* ncclBroadcast(send, recv, bytes), root = peer */
} dtxi_nccl_kind;

/* One operation of a group, on the communicator of rank `rank` (a backend
 * device index), enqueued on `stream` (the cudaStream_t of a stream of that
 * device; void * so that code without CUDA's headers, tests, can include
 * this one). */
typedef struct dtxi_nccl_op {
  dtxi_nccl_kind kind;
  int rank;
  int peer;
  const void *send;
  void *recv;
  size_t bytes;
  void *stream;
} dtxi_nccl_op;

/* For a backend over CUDA ordinals ord[0..n); loads nothing yet. */
dtx_status dtxi_nccl_create(const int *ord, int n, dtxi_nccl **out);

/* Destroys the communicators (if any) and unloads the library. NULL is fine. */
void dtxi_nccl_destroy(dtxi_nccl *nc);

/* Whether NCCL can be used: libnccl.so.2 loads with every function used here,
 * and creating the communicators has not failed. When false, the thread's
 * last error says why (the answer is kept: later calls do not retry). */
bool dtxi_nccl_ready(dtxi_nccl *nc);

/* Runs ops[0..n) as one group (ncclGroupStart .. ncclGroupEnd), creating the
 * communicators first if needed. DTX_EDEVICE with "cuda: NCALL failed: ..."
 * naming the failing call and ncclGetErrorString when NCCL is missing or a
 * call fails; after a failed call inside the group ncclGroupEnd still runs so
 * the thread's group state is closed. */
dtx_status dtxi_nccl_run(dtxi_nccl *nc, const dtxi_nccl_op *ops, int n);

#ifdef __cplusplus
}
#endif
#endif /* DTXI_NCCL_LIB_H */
