/*
 * device/cuda/nccl_lib.c - NCCL loaded with dlopen, its communicators, and
 * groups of send / recv / broadcast for the cuda backend.
 *
 * What it is for: GPU-to-GPU moves through NCCL (device/backend.h: p2p groups
 * and broadcast) without a link-time dependency: a machine without NCCL runs
 * the same binary, and dtxi_nccl_ready says why NCCL is not there.
 *
 * What it owns (one dtxi_nccl per cuda backend):
 *   - the handle of libnccl.so.2 and the functions taken from it, each typed
 *     from its prototype in nccl.h (__typeof__ of the declaration), so a
 *     mismatch with the header is a compile error, not a crash;
 *   - one communicator per backend device, ranks = backend device indices,
 *     from one ncclCommInitAll over the backend's CUDA ordinals, created at
 *     the first group (it allocates NCCL's buffers on every GPU, which a run
 *     that never moves data between GPUs should not pay for);
 *   - the state: untried -> loaded -> communicators made, or broken with the
 *     reason (kept: a failure is not retried on every call).
 * Built against a CUDA toolkit without nccl.h, the same functions exist and
 * say so.
 *
 * Threads: every entry point takes mu, which also serializes the groups: all
 * communicators see the groups in one order, and NCCL's per-thread group
 * state is opened and closed inside one call. A group call blocks only for
 * the enqueueing (ncclGroupEnd returns once the kernels are on the streams).
 *
 * Once communicators exist the library stays loaded for the process: NCCL
 * keeps process-wide state (threads, handlers) that unloading would pull out
 * from under it.
 */
#include "device/cuda/nccl_lib.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "device/device.h"

#if defined(__has_include)
#if __has_include(<nccl.h>)
#include <nccl.h>
#define HAVE_NCCL_H 1
#endif
#endif

#define WHY_MAX 512

typedef enum nccl_state { UNTRIED = 0, LOADED = 1, READY = 2, BROKEN = 3 } nccl_state;

#if HAVE_NCCL_H
/* Function pointer types straight from nccl.h's declarations. */
typedef __typeof__(&ncclGetVersion) get_version_fn;
typedef __typeof__(&ncclGetErrorString) error_string_fn;
typedef __typeof__(&ncclGetLastError) last_error_fn;
typedef __typeof__(&ncclCommInitAll) comm_init_all_fn;
typedef __typeof__(&ncclCommFinalize) comm_finalize_fn;
typedef __typeof__(&ncclCommDestroy) comm_destroy_fn;
typedef __typeof__(&ncclGroupStart) group_start_fn;
typedef __typeof__(&ncclGroupEnd) group_end_fn;
typedef __typeof__(&ncclSend) send_fn;
typedef __typeof__(&ncclRecv) recv_fn;
typedef __typeof__(&ncclBroadcast) broadcast_fn;

typedef struct nccl_fns {
  get_version_fn get_version;
  error_string_fn error_string;
  last_error_fn last_error; /* NCCL >= 2.13; NULL before */
  comm_init_all_fn comm_init_all;
  comm_finalize_fn comm_finalize; /* NCCL >= 2.14; NULL before */
  comm_destroy_fn comm_destroy;
  group_start_fn group_start;
  group_end_fn group_end;
  send_fn send;
  recv_fn recv;
  broadcast_fn broadcast;
} nccl_fns;
#endif

struct dtxi_nccl {
  pthread_mutex_t mu; /* guards everything below */
  int n;
  int ord[DTXI_MAX_GPUS];
  nccl_state state;
  char why[WHY_MAX]; /* when BROKEN */
  int version;       /* NCCL_VERSION_CODE of the loaded library */
#if HAVE_NCCL_H
  void *lib;
  nccl_fns fn;
  ncclComm_t comm[DTXI_MAX_GPUS];
#endif
};

dtx_status dtxi_nccl_create(const int *ord, int n, dtxi_nccl **out) {
  if (out == NULL || ord == NULL || n < 1 || n > DTXI_MAX_GPUS)
    return dtxi_fail(DTX_EINVAL, "dtxi_nccl_create: give 1..%d CUDA ordinals and an out pointer",
                     DTXI_MAX_GPUS);
  dtxi_nccl *nc = calloc(1, sizeof *nc);
  if (nc == NULL) return dtxi_fail(DTX_ENOMEM, "dtxi_nccl_create: out of host memory");
  pthread_mutex_init(&nc->mu, NULL);
  nc->n = n;
  memcpy(nc->ord, ord, (size_t)n * sizeof *ord);
  nc->state = UNTRIED;
  *out = nc;
  return DTX_OK;
}

#if !HAVE_NCCL_H

bool dtxi_nccl_ready(dtxi_nccl *nc) {
  (void)nc;
  dtxi_fail(DTX_EDEVICE, "NCCL is not available: this build found no nccl.h (NCCL's development header)");
  return false;
}

dtx_status dtxi_nccl_run(dtxi_nccl *nc, const dtxi_nccl_op *ops, int n) {
  (void)ops;
  (void)n;
  dtxi_nccl_ready(nc);
  return DTX_EDEVICE;
}

void dtxi_nccl_destroy(dtxi_nccl *nc) {
  if (nc == NULL) return;
  pthread_mutex_destroy(&nc->mu);
  free(nc);
}

#else /* HAVE_NCCL_H */

/* dlsym into a function pointer (ISO C has no object-to-function cast). */
static bool take(void *lib, const char *name, void *fnptr, size_t size) {
  void *sym = dlsym(lib, name);
  if (sym == NULL) return false;
  memcpy(fnptr, &sym, size);
  return true;
}

#define TAKE(nc, field, name) take((nc)->lib, name, &(nc)->fn.field, sizeof(nc)->fn.field)

/* Marks nc broken with a reason (printf-style), logged at info level. */
static void broken(dtxi_nccl *nc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void broken(dtxi_nccl *nc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(nc->why, sizeof nc->why, fmt, ap);
  va_end(ap);
  nc->state = BROKEN;
  DTXI_LOG(DTX_LOG_INFO, "%s; GPU-to-GPU moves use peer copies", nc->why);
}

/* "2.21.5" from a version code (the encoding changed at 2.9). */
static void version_text(int code, char *buf, size_t size) {
  if (code >= 10000)
    snprintf(buf, size, "%d.%d.%d", code / 10000, code % 10000 / 100, code % 100);
  else
    snprintf(buf, size, "%d.%d.%d", code / 1000, code % 1000 / 100, code % 100);
}

/* UNTRIED -> LOADED or BROKEN. With mu held. */
static void load_locked(dtxi_nccl *nc) {
  nc->lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
  if (nc->lib == NULL) {
    const char *e = dlerror();
    broken(nc, "NCCL is not available: dlopen(libnccl.so.2) failed: %s", e != NULL ? e : "not found");
    return;
  }
  static const char *const required[] = {"ncclGetVersion",  "ncclGetErrorString", "ncclCommInitAll",
                                         "ncclCommDestroy", "ncclGroupStart",     "ncclGroupEnd",
                                         "ncclSend",        "ncclRecv",           "ncclBroadcast"};
  bool ok[9] = {
      TAKE(nc, get_version, required[0]),   TAKE(nc, error_string, required[1]),
      TAKE(nc, comm_init_all, required[2]), TAKE(nc, comm_destroy, required[3]),
      TAKE(nc, group_start, required[4]),   TAKE(nc, group_end, required[5]),
      TAKE(nc, send, required[6]),          TAKE(nc, recv, required[7]),
      TAKE(nc, broadcast, required[8]),
  };
  _Static_assert(sizeof ok / sizeof ok[0] == sizeof required / sizeof required[0], "one flag per symbol");
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    if (ok[i]) continue;
    broken(nc, "NCCL is not available: libnccl.so.2 has no %s (NCCL 2.7 or later is needed)", required[i]);
    dlclose(nc->lib);
    nc->lib = NULL;
    return;
  }
  if (!TAKE(nc, last_error, "ncclGetLastError")) nc->fn.last_error = NULL;
  if (!TAKE(nc, comm_finalize, "ncclCommFinalize")) nc->fn.comm_finalize = NULL;
  int code = 0;
  ncclResult_t r = nc->fn.get_version(&code);
  char v[32];
  version_text(code, v, sizeof v);
  if (r != ncclSuccess || code < 2700) {
    broken(nc,
           "NCCL is not available: libnccl.so.2 is version %s (ncclGetVersion: %s); 2.7 or later is needed",
           r == ncclSuccess ? v : "unknown", nc->fn.error_string(r));
    dlclose(nc->lib);
    nc->lib = NULL;
    return;
  }
  nc->version = code;
  nc->state = LOADED;
  DTXI_LOG(DTX_LOG_INFO, "NCCL %s loaded (libnccl.so.2)", v);
}

/* NCCL's message for r, with the detail of ncclGetLastError where there is
 * one, into buf. */
static const char *nccl_error(dtxi_nccl *nc, ncclResult_t r, char *buf, size_t size) {
  const char *detail = nc->fn.last_error != NULL ? nc->fn.last_error(NULL) : NULL;
  if (detail != NULL && detail[0] != '\0')
    snprintf(buf, size, "%s (%s)", nc->fn.error_string(r), detail);
  else
    snprintf(buf, size, "%s", nc->fn.error_string(r));
  return buf;
}

/* LOADED -> READY or BROKEN: one communicator per device. With mu held. The
 * calling thread's current device is put back afterwards. */
static void init_comms_locked(dtxi_nccl *nc) {
  int cur = -1;
  if (cudaGetDevice(&cur) != cudaSuccess) {
    (void)cudaGetLastError();
    cur = -1;
  }
  ncclResult_t r = nc->fn.comm_init_all(nc->comm, nc->n, nc->ord);
  if (cur >= 0 && cudaSetDevice(cur) != cudaSuccess) (void)cudaGetLastError();
  if (r != ncclSuccess) {
    char err[256], gpus[DTXI_MAX_GPUS * 4 + 1] = "";
    size_t len = 0;
    for (int i = 0; i < nc->n; i++)
      len += (size_t)snprintf(gpus + len, sizeof gpus - len, i == 0 ? "%d" : ",%d", nc->ord[i]);
    broken(nc, "cuda: ncclCommInitAll failed over CUDA devices %s: %s", gpus,
           nccl_error(nc, r, err, sizeof err));
    memset(nc->comm, 0, sizeof nc->comm);
    return;
  }
  nc->state = READY;
  DTXI_LOG(DTX_LOG_INFO, "NCCL: %d communicator(s) created", nc->n);
}

bool dtxi_nccl_ready(dtxi_nccl *nc) {
  pthread_mutex_lock(&nc->mu);
  if (nc->state == UNTRIED) load_locked(nc);
  bool ok = nc->state != BROKEN;
  if (!ok) dtxi_fail(DTX_EDEVICE, "%s", nc->why);
  pthread_mutex_unlock(&nc->mu);
  return ok;
}

/* One operation; the name of the NCCL call in *call. */
static ncclResult_t issue(dtxi_nccl *nc, const dtxi_nccl_op *op, const char **call) {
  ncclComm_t comm = nc->comm[op->rank];
  switch (op->kind) {
    case DTXI_NCCL_SEND:
      *call = "ncclSend";
      return nc->fn.send(op->send, op->bytes, ncclUint8, op->peer, comm, (cudaStream_t)op->stream);
    case DTXI_NCCL_RECV:
      *call = "ncclRecv";
      return nc->fn.recv(op->recv, op->bytes, ncclUint8, op->peer, comm, (cudaStream_t)op->stream);
    case DTXI_NCCL_BCAST:
      *call = "ncclBroadcast";
      return nc->fn.broadcast(op->send, op->recv, op->bytes, ncclUint8, op->peer, comm,
                              (cudaStream_t)op->stream);
  }
  *call = "nccl (unknown operation)";
  return ncclInvalidArgument;
}

dtx_status dtxi_nccl_run(dtxi_nccl *nc, const dtxi_nccl_op *ops, int n) {
  char err[256];
  dtx_status rc = DTX_OK;
  pthread_mutex_lock(&nc->mu);
  if (nc->state == UNTRIED) load_locked(nc);
  if (nc->state == LOADED) init_comms_locked(nc);
  if (nc->state != READY) {
    rc = dtxi_fail(DTX_EDEVICE, "%s", nc->why);
    goto out;
  }
  ncclResult_t r = nc->fn.group_start();
  if (r != ncclSuccess) {
    rc = dtxi_fail(DTX_EDEVICE, "cuda: ncclGroupStart failed: %s", nccl_error(nc, r, err, sizeof err));
    goto out;
  }
  for (int k = 0; k < n && rc == DTX_OK; k++) {
    const char *call = NULL;
    r = issue(nc, &ops[k], &call);
    if (r != ncclSuccess)
      rc = dtxi_fail(DTX_EDEVICE, "cuda gpu %d: %s %s gpu %d (%zu bytes) failed: %s", nc->ord[ops[k].rank],
                     call,
                     ops[k].kind == DTXI_NCCL_RECV   ? "from"
                     : ops[k].kind == DTXI_NCCL_SEND ? "to"
                                                     : "with root",
                     nc->ord[ops[k].peer], ops[k].bytes, nccl_error(nc, r, err, sizeof err));
  }
  r = nc->fn.group_end(); /* always: closes this thread's group even after a failed call */
  if (r != ncclSuccess && rc == DTX_OK)
    rc = dtxi_fail(DTX_EDEVICE, "cuda: ncclGroupEnd failed: %s (a group of %d operation(s))",
                   nccl_error(nc, r, err, sizeof err), n);
out:
  pthread_mutex_unlock(&nc->mu);
  return rc;
}

void dtxi_nccl_destroy(dtxi_nccl *nc) {
  if (nc == NULL) return;
  if (nc->state == READY) {
    /* Several communicators driven by one thread finalize together. */
    if (nc->fn.comm_finalize != NULL && nc->fn.group_start() == ncclSuccess) {
      for (int i = 0; i < nc->n; i++) (void)nc->fn.comm_finalize(nc->comm[i]);
      if (nc->fn.group_end() != ncclSuccess)
        DTXI_LOG(DTX_LOG_WARN, "NCCL: finalizing the communicators failed");
    }
    for (int i = 0; i < nc->n; i++) {
      ncclResult_t r = nc->fn.comm_destroy(nc->comm[i]);
      if (r != ncclSuccess)
        DTXI_LOG(DTX_LOG_WARN, "NCCL: ncclCommDestroy (gpu %d) failed: %s", nc->ord[i],
                 nc->fn.error_string(r));
    }
  } else if (nc->state == LOADED) {
    dlclose(nc->lib); /* loaded, no communicator ever tried: nothing of NCCL's is running */
  }
  pthread_mutex_destroy(&nc->mu);
  free(nc);
}

#endif /* HAVE_NCCL_H */
