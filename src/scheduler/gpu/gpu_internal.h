/*
 * scheduler/gpu/gpu_internal.h - the state shared by the files of the GPU
 * executor (src/scheduler/gpu/), and their internal functions.
 *
 * gpus.c starts and stops it; place.c chooses devices (the model in place.h);
 * admit.c admits root tasks; dispatch.c places and enqueues a task; job.c is
 * one job's lifetime and the task's view of it; transfer.c moves data to a
 * device; complete.c is the progress thread; keep.c runs the tasks that keep
 * and lend persisted chunks (whose slots the chunk store, data/store.h,
 * holds); residency.c tracks device copies and memory; gtrace.c writes the
 * trace; check.c checks the invariants stated here.
 *
 * Locks, in the order they are taken: the chunk store's lock (data/store.c:
 * the persisted arrays' keepers of every cluster), a device's feed lock gdev.mu (its
 * streams are fed under it), then dtxi_gpus.nccl_mu (the NCCL streams of
 * every device), then dtxi_gpus.res_mu (every device copy, pin, LRU, device
 * memory counter and parked task), then the host memory lock inside mem.c.
 * res_mu is never held while waiting on a stream.
 */
#ifndef DTXI_GPU_INTERNAL_H
#define DTXI_GPU_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "data/store.h"
#include "device/backend.h"
#include "scheduler/gpu.h"
#include "scheduler/gpu/place.h"
#include "scheduler/run.h"

/* One device's copy of a task output. Under res_mu. */
typedef struct gcopy {
  void *ptr;                 /* NULL: no copy on this device */
  dtxi_event *ready;         /* completes when ptr holds the data */
  int32_t pins;              /* jobs in flight reading it */
  struct gcopy *prev, *next; /* the device's LRU while resident and unpinned */
  uint8_t in_lru;
  uint8_t dev;
  uint8_t kept;           /* ptr belongs to a persisted array (dtxi_kept): not
                           * freed, spilled or uncharged with the output */
  struct dtxi_kept *slot; /* that array's slot, when kept */
  struct gres *owner;
} gcopy;

/* Where a task output lives on the GPUs: a copy per device (the one made by
 * the producing task on its `home` device, replicas fetched by readers on
 * other devices, all reused by later readers there), plus, when the last
 * device copy of an output without a host copy was spilled, that spilled host
 * copy. Lives until its last read (refs, like rtask.nrefs). */
typedef struct gres {
  _Atomic int32_t refs;
  _Atomic uint32_t resident; /* bit d: copy[d].ptr != NULL (read without the lock for placement) */
  size_t size;
  int home;               /* the device that made it; -1: made on the host */
  int has_host;           /* the task keeps a host copy (rtask.out) */
  dtx_chunk *host;        /* spilled copy when there was no host copy (res_mu) */
  dtxi_event *host_ready; /* completes when `host` holds the data */
  struct dtxi_gpus *g;
  run *r;
  rtask *t;
  struct gres *live_prev, *live_next; /* every record alive (dtxi_gpus.live, res_mu) */
  gcopy copy[];                       /* g->ndev entries */
} gres;

/* A task dispatched again because its output outgrew its reservation
 * (gjob.regrow): the size to reserve for it. Under res_mu. */
typedef struct gregrow {
  struct gregrow *next;
  const run *r;
  const rtask *t;
  size_t size;
} gregrow;

/* A task waiting for room on a device. */
typedef struct parked {
  struct parked *next;
  run *r;
  rtask *t;
} parked;

/* A pinned host buffer that host-to-device moves go through: a host
 * function fills it from the (pageable) chunk in stream order, the copy to
 * the device reads it, a second host function gives it back. */
typedef struct gstage {
  struct gstage *next;
  struct gdev *dev;
  void *buf;       /* DTXI_STAGE_BYTES of pinned memory (host_alloc) */
  const void *src; /* what the next fill copies, set when it is taken */
  size_t len;
} gstage;

#define DTXI_STAGE_BYTES ((size_t)4 << 20)
#define DTXI_STAGE_COUNT 4
#define DTXI_STAGE_MIN ((size_t)64 << 10) /* smaller moves go straight from the chunk */

typedef struct gdev {
  int index;
  pthread_mutex_t mu; /* feeds this device's streams (not the NCCL one) */
  dtxi_stream **compute;
  int ncompute;
  unsigned next;
  dtxi_stream *d2h;
  dtxi_stream *nccl;        /* fed under dtxi_gpus.nccl_mu */
  dtxi_stream *h2d;         /* host-to-device moves through the staging buffers */
  dtxi_stream *peer;        /* device-to-device peer copies into this device */
  pthread_mutex_t stage_mu; /* stage_free (a leaf lock; given back on the h2d stream's thread) */
  gstage stage[DTXI_STAGE_COUNT];
  gstage *stage_free;
  int nstage; /* buffers allocated (lazily) */
  _Atomic int64_t inflight;
  _Atomic int64_t queued_ns; /* estimated work in flight: where its queue ends */
  _Atomic int64_t ahead;     /* jobs enqueued behind unfinished producers (DTX_GPU_WINDOW caps it) */
  /* trace tracks (tids), and where the last slice on each ended, so slices
   * on a track never overlap; touched by the progress thread only */
  int *compute_tid;
  uint64_t *compute_end;
  int d2h_tid, h2d_tid, peer_tid, nccl_tid;
  uint64_t d2h_end, in_end[3];
  /* Device memory held by dtx, under res_mu (check.c verifies all this):
   *   used = reserved + bytes of the copies here that are not persisted
   *          chunks + kept (the bytes of the persisted chunks here: the
   *          chunk store's list of this device, g->store->dev[index]);
   *   reserved = bytes reserved for jobs in flight (and broadcasts under
   *          way) not yet held by a copy or a persisted chunk: 0 when idle;
   *   with limit > 0, used <= limit (a job is parked rather than pass it);
   *   lru = exactly the copies here with pins == 0, least recently used
   *   first: the ones that may be spilled; when idle no copy is pinned. */
  int64_t limit; /* bytes; 0: no limit */
  int64_t used, peak;
  int64_t reserved;
  gcopy *lru_head, *lru_tail;
  parked *parked;
  int64_t spills, spilled_bytes, unspills, unspilled_bytes;
  int64_t bytes_from_host, bytes_to_host, bytes_peer, bytes_nccl, reused, broadcasts, run_ahead, bytes_staged;
} gdev;

/* How input i of a job reaches its device. */
enum { IN_NONE, IN_BORROW, IN_HOST, IN_PEER, IN_NCCL, IN_AHEAD };

/* Where input i comes from when it is not on the job's device. */
typedef struct source {
  const void *ptr;
  int dev;          /* DTXI_HOST or a device */
  dtxi_event *wait; /* to wait on before reading it; NULL: ready */
  gres *res;        /* the output's residency (replica registered there), or NULL */
} source;

/* The output of a job that readers were enqueued behind before it finished
 * (run ahead): where it is, once known. On CUDA it is known when the job is
 * enqueued; on sim the job's own run writes it, before its ready event. */
typedef struct gahead {
  _Atomic int32_t refs; /* the producing job + each reader job */
  void *ptr;
  size_t size;
  int failed;  /* the producing task failed: readers must not run */
  int readers; /* reader jobs enqueued behind it (producer's dispatch and progress threads) */
} gahead;

typedef struct gjob {
  struct gjob *next;
  run *r;
  rtask *t;
  gdev *dev;
  dtxi_stream *s;  /* compute stream */
  dtxi_event *ev;  /* after the task: the output's ready event */
  dtxi_event *ev2; /* after the copy home */
  int phase;       /* 1: task enqueued; 2: copy home enqueued */
  int ninputs;
  void **in_ptr;
  size_t *in_size;
  uint8_t *how;   /* IN_* per input */
  gcopy **pinned; /* the device copy input i reads (here, or the peer source), pinned until done */
  gcopy **made;   /* the copy of input i this job fetched here (kept for later readers), pinned until done */
  dtx_chunk **hpinned; /* the host chunk input i is copied from, held in memory until done */
  char *temp;          /* in_ptr[i] is this job's own buffer, freed when done */
  dtxi_event **tev;    /* tracing: timed events before the inputs ([0]) and after input i ([i + 1]) */
  dtxi_event **xev;    /* NCCL moves: events the compute stream waited on */
  int nxev;
  void *out_ptr;
  size_t out_size;
  int has_out;
  char *err;       /* the implementation's failure, "key: message" */
  char *alloc_err; /* why its output allocation failed, if it did */
  dtx_chunk *host_out;
  int64_t est_ns;      /* added to the device's queued_ns at dispatch */
  int64_t in_charged;  /* device bytes reserved for this job's own input buffers */
  int64_t out_charged; /* device bytes reserved for the output */
  size_t regrow;       /* its output outgrew out_charged while others held the room: the size to
                        * reserve when the task is dispatched again (complete.c) */
  int stale;           /* run ahead behind a job given back to be dispatched again (complete.c):
                        * dropped once its events complete, its task dispatched the usual way */
  int64_t staged;      /* input bytes moved through staging buffers */
  dtxi_event *room_ev; /* spills made to fit this job */
  int on_stream;       /* the task runs now on its stream's own thread (sim) */
  int probe_slot;      /* 1 + the outs slot this job probes the output size of */
  gahead *slot;        /* its output, for readers run ahead (NULL: none yet) */
  gahead *ahead_src;   /* run ahead: the output of the job this one was enqueued behind */
  rtask *after;        /* run ahead: that job's task, which must finish first */
  int ahead_in;        /* run ahead: the input index it is; -1 otherwise */
  int stream_index;
  struct dtxi_kept *keep_slot; /* dtxi_task_keep_input: where input keep_in goes once done */
  int keep_in;
  int keep_temp;                 /* that input is this job's own buffer (not a residency copy) */
  int borrowed;                  /* out_ptr is a kept buffer (dtxi_task_output_kept): never freed here */
  struct dtxi_kept *borrow_slot; /* a kept chunk it lends (one user counted for this job) */
  void *kept_ptr;                /* that chunk's device memory, taken at dispatch */
  struct dtxi_kept *rekeep;      /* the output brings a spilled kept chunk back: kept again when done */
  struct dtxi_kspill *unspill;   /* the spilled copy it reads back (a reference) */
  uint64_t t_dispatch, t_run0, t_run1, t_done1; /* host clock, for the trace */
} gjob;

struct dtxi_gpus {
  dtx_cluster *cl;
  dtxi_backend *b;
  int sim;
  int ndev;
  int nccl;              /* NCCL moves asked for (DTX_P2P=nccl) and available */
  dtxi_gpu_settings set; /* fixed at dtxi_gpus_start */
  gdev dev[DTXI_MAX_GPUS];
  pthread_t thread;
  int started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  gjob *incoming; /* handed over by dispatchers, guarded by mu */
  int kicked;     /* a stream reached a completion point, guarded by mu */
  int stop;
  pthread_mutex_t nccl_mu;
  pthread_mutex_t res_mu;
  dtxi_store *store;         /* the cluster's chunk store, attached while running (its lists under res_mu) */
  _Atomic uint64_t flow_ids; /* trace arrows */
  /* Learned durations per kind of task and output sizes per name
   * (base/costcache.h: 512 kinds, 1024 names). */
  struct dtxi_costcache *cost;
  gres *live;          /* every residency record alive, under res_mu (for check.c) */
  _Atomic int bcasts;  /* broadcasts under way: their reservations are in flight too */
  gjob *pending;       /* jobs in flight the progress thread waits on (that thread only) */
  gregrow *regrow;     /* tasks to dispatch again with their outputs' sizes (res_mu) */
  _Atomic int nregrow; /* entries in regrow (read without the lock: none, nothing to look up) */
};

/* ---- residency.c ---------------------------------------------------------------- */

/* A new residency record for t's output (`home` device or -1), no copies. */
gres *dtxi_gres_new(struct dtxi_gpus *g, run *r, rtask *t, int home, size_t size, int has_host);
/* With res_mu held. */
void dtxi_copy_pin(gcopy *c);
/* Takes res_mu. */
void dtxi_copy_unpin(struct dtxi_gpus *g, gcopy *c);
/* Adds copy `ptr` (ready after `ready`, which it takes) on device d to res,
 * pinned `pins` times; with res_mu held. */
void dtxi_copy_add(struct dtxi_gpus *g, gres *res, int d, void *ptr, dtxi_event *ready, int pins);
/* Reserves `bytes` of d's memory, spilling to make room (d->mu held). 1:
 * reserved (work needing the room waits on *room_ev when set); 0: no room now. */
int dtxi_reserve(struct dtxi_gpus *g, gdev *d, int64_t bytes, dtxi_event **room_ev);
void dtxi_charge(struct dtxi_gpus *g, gdev *d, int64_t bytes);
void dtxi_uncharge(struct dtxi_gpus *g, gdev *d, int64_t bytes);
/* Hands copy c to a persisted array's slot (res_mu held): 1 done, 0 when
 * there is no copy or it is kept already. */
int dtxi_copy_keep(struct dtxi_gpus *g, gcopy *c, struct dtxi_kept *slot);
/* Drops copy c (its device's feed lock held) unless a job still reads it: it
 * was fetched by a job that failed, so it may not hold the data. */
void dtxi_copy_drop(struct dtxi_gpus *g, gcopy *c);
/* A task whose output outgrew its reservation is dispatched again: the
 * output size its next dispatch reserves (kept until taken, or until its run
 * ends). dtxi_regrow_size: that size, 0 when none; `take` forgets it. */
void dtxi_regrow_note(struct dtxi_gpus *g, const run *r, const rtask *t, size_t size);
size_t dtxi_regrow_size(struct dtxi_gpus *g, const run *r, const rtask *t, int take);
void dtxi_regrow_forget_run(struct dtxi_gpus *g, const run *r);
/* Parks t on d until memory is given back there; see residency.c. */
void dtxi_park(struct dtxi_gpus *g, gdev *d, run *r, rtask *t);
/* Dispatches the parked tasks again (no lock held). */
void dtxi_retry_parked(struct dtxi_gpus *g);
int64_t dtxi_total_inflight(struct dtxi_gpus *g);
char *dtxi_gpu_task_error(const run *r, const rtask *t, const char *what);
void dtxi_gpu_fail_now(run *r, rtask *t, char *msg);
/* A task with a CPU implementation that no GPU has room for runs on the CPU
 * threads instead, when nothing ties it to a GPU (no `where`) and its inputs
 * can be read there (host copies). 1 when handed over. */
int dtxi_gpu_to_cpu(run *r, rtask *t);
void dtxi_gpu_key(const run *r, const rtask *t, char *buf, size_t n);

/* ---- place.c ------------------------------------------------------------------------- */

/* The size of an input's output as known now (host chunk, else device copy). */
size_t dtxi_gpu_input_size(const rtask *in);
/* The device for gt's task: `where`, else the model (place.h) on a snapshot
 * of the inputs' residency (buf: gt->ninputs entries) and the devices' queues. */
gdev *dtxi_gpu_choose(struct dtxi_gpus *g, const run *r, const gtask *gt, dtxi_place_input *buf);

/* ---- admit.c ------------------------------------------------------------------------- */

/* Sets up r->rootq when r has more GPU roots than may start at once. */
void dtxi_gpu_rootq_new(run *r);
void dtxi_gpu_root_done(run *r, rtask *t);

/* ---- job.c --------------------------------------------------------------------------- */

gjob *dtxi_job_new(run *r, rtask *t, int ninputs);
void dtxi_job_free(gjob *j);
/* Frees a job that never reached the progress thread, giving back its pins,
 * reservation and counters. */
void dtxi_job_drop(gjob *j);
/* Drops the job's pins of the copies and host chunks it read. */
void dtxi_job_unpin_inputs(gjob *j);
/* Frees the job's own input buffers on stream s (in order behind their use). */
void dtxi_job_free_inputs(gjob *j, dtxi_stream *s);
void dtxi_gahead_unref(gahead *s);
/* Runs implementation fn for the job; a failure is kept in j->err. */
void dtxi_job_invoke(gjob *j, dtx_task_fn fn);
/* Simulated GPUs run the CPU implementation in stream order (a host function
 * on the compute stream). A task's own failure is kept in the job (the
 * stream stays healthy for others). */
int dtxi_job_sim_task(void *arg, char *err, size_t errlen);

/* ---- transfer.c ---------------------------------------------------------------------- */

/* Moves n bytes from src (host memory, or device src_dev) to dst (allocated
 * on j->s) on a copy stream of j's device, overlapped with the compute
 * streams: host moves on h2d through staging buffers, GPU moves on peer; the
 * job's stream waits for it. `wait`: an event the source needs first. d->mu
 * held. *staged: bytes that went through a staging buffer. */
dtx_status dtxi_move_in(struct dtxi_gpus *g, gjob *j, void *dst, const void *src, int src_dev, size_t n,
                        dtxi_event *wait, size_t *staged);
/* Moves the job's NCCL inputs as one group (d->mu held). The compute stream
 * waits for the moves; each source's NCCL stream first waits for its copy. */
dtx_status dtxi_nccl_inputs(struct dtxi_gpus *g, gjob *j, const source *src);
/* One output needed on several other GPUs (dependents placed there by the
 * user): broadcast it once, over NCCL, instead of one move per reader. */
void dtxi_gpu_broadcast(struct dtxi_gpus *g, run *r, rtask *t, gres *res);

/* ---- complete.c ---------------------------------------------------------------------- */

/* Hands a dispatched job to the progress thread. */
void dtxi_gpus_handoff(struct dtxi_gpus *g, gjob *j);
/* Enqueued behind each event the progress thread waits for: wakes it as soon
 * as the stream gets there, so it need not poll on a timer. */
int dtxi_gpus_kick(void *arg, char *err, size_t errlen);
void *dtxi_gpus_progress_main(void *arg);

/* ---- keep.c -------------------------------------------------------------------------- */

/* At dispatch on device d (its feed lock held): a kept source lends the
 * chunk's device memory (one user counted for the job, so it cannot spill
 * meanwhile), or reads a spilled one back into an output of its size. The
 * bytes to reserve for the output. */
int64_t dtxi_kept_dispatch(struct dtxi_gpus *g, gjob *j, gdev *d, struct dtxi_kept *ks);
/* Gives back what dtxi_kept_dispatch took for a job that will not run. */
void dtxi_kept_undispatch(struct dtxi_gpus *g, gjob *j);
/* The job asked to keep an input: once it succeeded (ok), that input's copy
 * goes to the slot (progress thread). */
void dtxi_keep_input_done(gjob *j, int ok);
/* At start: the executor holds the device memory of the store's chunks (its
 * callbacks give it back when a keeper goes); at stop it detaches, and
 * persisted arrays still alive give their device memory back then. */
void dtxi_gpu_store_attach(struct dtxi_gpus *g, dtxi_store *st);

/* ---- gtrace.c ------------------------------------------------------------------------ */

/* Records timed event k of the job on its stream (0: before the inputs;
 * i + 1: after input i), when tracing. */
void dtxi_gtrace_mark(gjob *j, int k);
/* The job's slices and arrows (progress thread, when it succeeded). */
void dtxi_gtrace_job(gjob *j);
void dtxi_gtrace_broadcast(const run *r, const rtask *t, const gdev *home, size_t bytes, int receivers);
void dtxi_gtrace_unspill(const run *r, const rtask *in, const gdev *d, size_t bytes);

#endif /* DTXI_GPU_INTERNAL_H */
