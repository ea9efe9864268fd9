/*
 * scheduler/gpu/gpus.c - the GPU executor of the cluster scheduler: its
 * start and stop, and the front doors of its learned costs.
 *
 * The executor runs graph tasks on GPUs. A GPU task runs in two phases.
 * Dispatch (dispatch.c): pick the device holding most of the task's input
 * bytes (owner computes), else the one where it would finish first (queued
 * work plus moving the inputs over the measured links; place.c); reserve
 * device memory for the inputs it must fetch and its output (spilling least
 * recently used copies, residency.c); inputs with a copy on that device are
 * used in place (the stream waits on their ready event); the others are
 * fetched from their cheapest copy (the host, or another GPU by peer copy or
 * NCCL; transfer.c) and the fetched copy stays there for later readers;
 * enqueue the implementation (the CUDA one; on simulated GPUs the CPU one in
 * its place, run in stream order; job.c); record the output's ready event.
 * Completion (complete.c, the progress thread): if a CPU task or the caller
 * reads the output, copy it to a host chunk on the d2h stream and record a
 * second event, whose completion finishes the task. The device copy stays
 * until every reader is done. Root tasks are admitted a window at a time
 * (admit.c); persisted arrays keep chunks on the GPUs (keep.c); the trace
 * shows every move and task (gtrace.c); check.c verifies the accounting.
 *
 * Owns: per device, its compute streams, its d2h, NCCL, h2d and peer streams
 * and their trace tracks; the progress thread; the learned durations and
 * output sizes per task name (a base/costcache.h cache). gpu_internal.h gives
 * the lock order.
 * Threads: start and stop on the thread creating / destroying the cluster;
 * the learned costs from any thread (lock-free).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/costcache.h"
#include "base/error.h"
#include "scheduler/gpu/gpu_internal.h"

int dtxi_gpus_count(const dtxi_gpus *g) { return g != NULL ? g->ndev : 0; }
int dtxi_gpus_sim(const dtxi_gpus *g) { return g != NULL && g->sim; }

/* ---- learned durations and output sizes --------------------------------------------- */

int64_t dtxi_gpus_estimate(dtxi_gpus *g, const char *prefix, int on_gpu, size_t bytes) {
  return g != NULL ? dtxi_costcache_estimate(g->cost, prefix, on_gpu, bytes) : 0;
}

void dtxi_gpus_learn(dtxi_gpus *g, const char *prefix, int on_gpu, size_t bytes, int64_t ns) {
  if (g != NULL) dtxi_costcache_learn(g->cost, prefix, on_gpu, bytes, ns);
}

void dtxi_gpus_learn_output(dtxi_gpus *g, const char *prefix, size_t bytes) {
  if (g != NULL) dtxi_costcache_learn_output(g->cost, prefix, bytes);
}

void dtxi_gpus_learn_data(dtxi_gpus *g, const char *prefix, size_t bytes) {
  if (g != NULL) dtxi_costcache_learn_data(g->cost, prefix, bytes);
}

/* ---- setup ------------------------------------------------------------------------ */

/* The trace's process and tracks of device i. */
static void dev_tracks(dtx_cluster *cl, dtxi_backend *b, gdev *d, int i) {
  dtxi_trace *tr = dtxi_sched_of(cl)->trace;
  dtxi_trace_gpu_process(tr, i, b->info[i].name);
  for (int k = 0; k < d->ncompute; k++)
    d->compute_tid[k] = dtxi_trace_stream_track(tr, i, d->compute[k]->label);
  d->h2d_tid = dtxi_trace_stream_track(tr, i, "h2d");
  d->d2h_tid = dtxi_trace_stream_track(tr, i, "d2h");
  d->peer_tid = dtxi_trace_stream_track(tr, i, "peer");
  d->nccl_tid = dtxi_trace_stream_track(tr, i, "nccl");
}

/* Device i's locks, counters, streams and trace tracks (g->ndev counts it
 * from the start, so that dtxi_gpus_stop undoes what was done). */
static dtx_status dev_start(dtxi_gpus *g, dtx_cluster *cl, int i, int streams_per_gpu, size_t limit) {
  dtxi_backend *b = g->b;
  gdev *d = &g->dev[i];
  d->index = i;
  pthread_mutex_init(&d->mu, NULL);
  pthread_mutex_init(&d->stage_mu, NULL);
  d->limit = (int64_t)limit;
  atomic_init(&d->inflight, 0);
  atomic_init(&d->queued_ns, 0);
  g->ndev = i + 1;
  d->compute = calloc((size_t)streams_per_gpu, sizeof *d->compute);
  if (d->compute == NULL) return dtxi_fail(DTX_ENOMEM, "out of memory creating streams");
  dtx_status rc = DTX_OK;
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
  if (rc == DTX_OK && dtxi_sched_of(cl)->trace != NULL) dev_tracks(cl, b, d, i);
  return rc;
}

dtx_status dtxi_gpus_start(dtx_cluster *cl, dtxi_backend *b, const dtxi_gpu_settings *set,
                           const size_t *limits, dtxi_gpus **out) {
  dtxi_gpus *g = calloc(1, sizeof *g);
  if (g == NULL) return dtxi_fail(DTX_ENOMEM, "out of memory starting the GPU scheduler");
  g->set = *set;
  int streams_per_gpu = set->streams_per_gpu;
  g->cl = cl;
  g->b = b;
  g->sim = strcmp(b->ops->name, "sim") == 0;
  g->cost = dtxi_costcache_new(512, 1024);
  if (g->cost == NULL) {
    free(g);
    return dtxi_fail(DTX_ENOMEM, "out of memory starting the GPU scheduler");
  }
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  pthread_mutex_init(&g->nccl_mu, NULL);
  pthread_mutex_init(&g->res_mu, NULL);
  atomic_init(&g->flow_ids, (uint64_t)1 << 40); /* clear of the ids the CPU side of the trace uses */
  atomic_init(&g->bcasts, 0);
  atomic_init(&g->nregrow, 0);
  if (set->p2p == DTX_P2P_NCCL) {
    g->nccl = b->ndev > 1 && dtxi_nccl_available(b);
    if (!g->nccl && b->ndev > 1)
      DTXI_LOG(DTX_LOG_WARN, "DTX_P2P=nccl: NCCL is not available (%s); GPUs exchange data by peer copies",
               dtx_last_error());
  }
  dtx_status rc = DTX_OK;
  for (int i = 0; i < b->ndev && rc == DTX_OK; i++) rc = dev_start(g, cl, i, streams_per_gpu, limits[i]);
  if (rc == DTX_OK && pthread_create(&g->thread, NULL, dtxi_gpus_progress_main, g) != 0)
    rc = dtxi_fail(DTX_ENOMEM, "cannot start the GPU progress thread");
  else if (rc == DTX_OK)
    g->started = 1;
  if (rc != DTX_OK) {
    dtxi_gpus_stop(g);
    return rc;
  }
  dtxi_gpu_store_attach(g, &dtxi_sched_of(cl)->store);
  *out = g;
  return DTX_OK;
}

void dtxi_gpus_stop(dtxi_gpus *g) {
  if (g == NULL) return;
  /* Persisted arrays still alive give their device memory back now; their
   * release later frees only what is theirs in host memory. */
  if (g->store != NULL) dtxi_store_detach(g->store);
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
  dtxi_costcache_free(g->cost);
  free(g);
}
