/*
 * scheduler/gpu/transfer.c - moving task data to a GPU: host-to-device moves
 * through pinned staging buffers, peer copies, a job's NCCL inputs as one
 * group, and broadcasting an output to the GPUs that will read it.
 *
 * Owns: each device's staging buffers (DTXI_STAGE_COUNT pinned buffers of
 * DTXI_STAGE_BYTES, allocated at first use, freed at stop), and the events a
 * move records (handed to the job, xev, freed with it).
 * Threads: the dispatching thread, with the destination device's feed lock
 * (d->mu) held; the NCCL streams of every device under nccl_mu. A staging
 * buffer is filled and given back by host functions on the h2d stream's own
 * thread; stage_mu guards the free list (a leaf lock).
 * Invariants: a staging buffer is either on its device's free list or has a
 * fill, a copy and a give-back queued, in that order, on the h2d stream; a
 * job's compute stream waits for every move into its buffers before the task.
 */
#include <string.h>

#include "scheduler/gpu/gpu_internal.h"

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

/* Queues the move of n bytes on copy stream cs, through staging buffers
 * while there are free ones (host sources of DTXI_STAGE_MIN bytes or more). */
static dtx_status move_chunks(dtxi_gpus *g, gdev *d, dtxi_stream *cs, void *dst, const void *src, int src_dev,
                              size_t n, size_t *staged) {
  dtx_status rc = DTX_OK;
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
  return rc;
}

dtx_status dtxi_move_in(dtxi_gpus *g, gjob *j, void *dst, const void *src, int src_dev, size_t n,
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
  if (rc == DTX_OK) rc = move_chunks(g, d, cs, dst, src, src_dev, n, staged);
  if (rc == DTX_OK) rc = dtxi_event_create(g->b, d->index, &b);
  if (rc == DTX_OK) {
    j->xev[j->nxev++] = b;
    rc = dtxi_event_record(b, cs);
  }
  if (rc == DTX_OK) rc = dtxi_stream_wait(j->s, b);
  dtxi_stream_reset(cs); /* a fault fails this move only (its event), not the next one */
  return rc;
}

/* ---- NCCL -------------------------------------------------------------------------- */

/* The compute stream goes on when the receives are done: it waits on an
 * event behind each NCCL stream that took part (nccl_mu held). */
static dtx_status nccl_join(dtxi_gpus *g, gjob *j, const int *srcs) {
  dtx_status rc = DTX_OK;
  for (int e = 0; e < g->ndev && rc == DTX_OK; e++) {
    if (e != j->dev->index && !srcs[e]) continue;
    dtxi_event *ev = NULL;
    rc = dtxi_event_create(g->b, e, &ev);
    if (rc == DTX_OK) {
      j->xev[j->nxev++] = ev;
      rc = dtxi_event_record(ev, g->dev[e].nccl);
    }
    if (rc == DTX_OK) rc = dtxi_stream_wait(j->s, ev);
  }
  return rc;
}

dtx_status dtxi_nccl_inputs(dtxi_gpus *g, gjob *j, const source *src) {
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
  /* The sources' copies stay pinned until the job ends, which is after the sends. */
  if (rc == DTX_OK) rc = nccl_join(g, j, srcs);
  if (rc != DTX_OK)
    for (int e = 0; e < g->ndev; e++) dtxi_stream_reset(g->dev[e].nccl);
  pthread_mutex_unlock(&g->nccl_mu);
  return rc;
}

/* ---- broadcast ------------------------------------------------------------------------ */

/* One broadcast of an output from its home device. */
typedef struct bcast {
  int want[DTXI_MAX_GPUS];
  void *dst[DTXI_MAX_GPUS];
  dtxi_event *room[DTXI_MAX_GPUS], *ready[DTXI_MAX_GPUS];
  int64_t charged[DTXI_MAX_GPUS];
  dtxi_event *sent; /* on the home's NCCL stream after the sends */
  int n;            /* receivers */
} bcast;

/* The devices other than its home that dependents of t are placed on by the
 * user (b->want); how many. */
static int bcast_targets(const run *r, const rtask *t, const gres *res, bcast *b) {
  int count = 0;
  const uint32_t *deps = r->deps + t->dep_off;
  for (uint32_t k = 0; k < t->ndeps; k++) {
    const rtask *dep = &r->rt[deps[k]];
    int where = r->g->tasks[dep->gid].where;
    if (where > 0 && where - 1 != res->home && dtxi_gpu_eligible(r, dep) && !b->want[where - 1]) {
      b->want[where - 1] = 1;
      count++;
    }
  }
  return count;
}

/* Allocates the receivers' buffers on their NCCL streams and broadcasts from
 * the home copy (home->mu and nccl_mu held). */
static dtx_status bcast_send(dtxi_gpus *g, gres *res, bcast *b) {
  gdev *home = &g->dev[res->home];
  dtxi_stream *streams[DTXI_MAX_GPUS];
  for (int e = 0; e < g->ndev; e++) streams[e] = g->dev[e].nccl;
  pthread_mutex_lock(&g->res_mu);
  gcopy *root = &res->copy[res->home];
  dtxi_event *root_ready = root->ready;
  const void *src = root->ptr;
  pthread_mutex_unlock(&g->res_mu);
  dtx_status rc = src != NULL ? dtxi_stream_wait(home->nccl, root_ready) : DTX_EINVAL;
  for (int e = 0; e < g->ndev && rc == DTX_OK; e++) {
    if (b->charged[e] == 0) continue;
    if (b->room[e] != NULL) rc = dtxi_stream_wait(g->dev[e].nccl, b->room[e]);
    if (rc == DTX_OK) rc = dtxi_alloc_async(g->dev[e].nccl, res->size, &b->dst[e]);
    if (rc == DTX_OK) b->n++;
  }
  if (rc == DTX_OK && b->n > 0) rc = dtxi_broadcast(g->b, res->home, src, b->dst, res->size, streams);
  for (int e = 0; e < g->ndev && rc == DTX_OK; e++) {
    if (b->dst[e] == NULL) continue;
    rc = dtxi_event_create(g->b, e, &b->ready[e]);
    if (rc == DTX_OK) rc = dtxi_event_record(b->ready[e], g->dev[e].nccl);
  }
  if (rc == DTX_OK) rc = dtxi_event_create(g->b, home->index, &b->sent);
  if (rc == DTX_OK) rc = dtxi_event_record(b->sent, home->nccl);
  /* Any later free of the root copy (on d2h) comes after the sends. */
  if (rc == DTX_OK) rc = dtxi_stream_wait(home->d2h, b->sent);
  if (rc != DTX_OK)
    for (int e = 0; e < g->ndev; e++) dtxi_stream_reset(g->dev[e].nccl);
  return rc;
}

/* The received buffers become the output's copies there; the room of those
 * that did not is given back (res_mu taken). */
static void bcast_settle(dtxi_gpus *g, gres *res, bcast *b, dtx_status rc) {
  pthread_mutex_lock(&g->res_mu);
  for (int e = 0; e < g->ndev; e++) {
    if (b->charged[e] == 0) continue;
    if (rc == DTX_OK && b->dst[e] != NULL && res->copy[e].ptr == NULL) {
      dtxi_copy_add(g, res, e, b->dst[e], b->ready[e], 0);
      g->dev[e].bytes_nccl += (int64_t)res->size;
      b->ready[e] = NULL;
      b->dst[e] = NULL;
    } else {
      g->dev[e].used -= b->charged[e];
    }
    g->dev[e].reserved -= b->charged[e]; /* held by the copy, or given back */
  }
  if (rc == DTX_OK) g->dev[res->home].broadcasts++;
  pthread_mutex_unlock(&g->res_mu);
  for (int e = 0; e < g->ndev; e++) {
    dtxi_event_destroy(b->room[e]);
    dtxi_event_destroy(b->ready[e]);
    if (b->dst[e] != NULL) {
      pthread_mutex_lock(&g->nccl_mu);
      dtxi_free_async(g->dev[e].nccl, b->dst[e]);
      pthread_mutex_unlock(&g->nccl_mu);
    }
  }
}

void dtxi_gpu_broadcast(dtxi_gpus *g, run *r, rtask *t, gres *res) {
  if (!dtxi_nccl_available(g->b) || res->home < 0 || res->size == 0) return;
  bcast b;
  memset(&b, 0, sizeof b);
  if (bcast_targets(r, t, res, &b) < 2) return;
  atomic_fetch_add(&g->bcasts, 1);
  for (int e = 0; e < g->ndev; e++) {
    if (!b.want[e]) continue;
    pthread_mutex_lock(&g->dev[e].mu);
    if (dtxi_reserve(g, &g->dev[e], (int64_t)res->size, &b.room[e])) b.charged[e] = (int64_t)res->size;
    pthread_mutex_unlock(&g->dev[e].mu);
  }
  gdev *home = &g->dev[res->home];
  pthread_mutex_lock(&home->mu);
  pthread_mutex_lock(&g->nccl_mu);
  dtx_status rc = bcast_send(g, res, &b);
  pthread_mutex_unlock(&g->nccl_mu);
  pthread_mutex_unlock(&home->mu);
  dtxi_event_destroy(b.sent);
  bcast_settle(g, res, &b, rc);
  atomic_fetch_sub(&g->bcasts, 1);
  if (rc == DTX_OK) dtxi_gtrace_broadcast(r, t, home, res->size, b.n);
}
