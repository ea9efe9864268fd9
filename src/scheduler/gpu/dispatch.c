/*
 * scheduler/gpu/dispatch.c - placing a ready task on a GPU and enqueueing it.
 *
 * A dispatch goes through phases, each a function below, driven by
 * dispatch_job:
 *   begin    - a failed input fails the task at once; the job is made;
 *   place    - the device (place.c), the stream, the input sizes;
 *   sources  - where each input comes from: a copy already on the device
 *              (borrowed, pinned), else its cheapest copy elsewhere (the
 *              host, or another GPU by peer copy or NCCL; pinned too);
 *   reserve  - device memory for the inputs to fetch and the output (as
 *              large as its name's outputs were; a name never seen runs one
 *              at a time under a limit until one has told its size; a task
 *              dispatched again, its output's size as it turned out),
 *              spilling to make room, else parking the task (residency.c);
 *   chain    - run ahead: a reader enqueued behind its producer still
 *              running on the same device, as a CUDA graph would be;
 *   enqueue  - allocation and moves of the inputs (transfer.c);
 *   commit   - the fetched copies stay for later readers, counters;
 *   launch   - the implementation (the CUDA one; on simulated GPUs the CPU
 *              one in its place, run in stream order), the output's ready
 *              event, and the hand-over to the progress thread (complete.c).
 * Any phase may end the dispatch: the task then fails, is parked, goes to a
 * CPU thread, or (run ahead) is left to be dispatched the usual way.
 *
 * Owns: a dispatch's scratch arrays (per input: its source, the ready event
 * of a fetched copy, its placement view), freed before the launch.
 * Threads: any thread dispatches (a CPU worker finishing a producer, the
 * progress thread finishing a GPU producer, a thread retrying parked tasks);
 * the device's feed lock (d->mu) is held from `place` to `launch`, res_mu
 * only briefly inside it.
 * Invariants: a job handed to the progress thread has its ready event
 * recorded behind the task; a dispatch that ends early gives back everything
 * it took (pins, reservations, inflight, queued_ns).
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/costcache.h"
#include "base/error.h"
#include "scheduler/gpu/gpu_internal.h"
#include "scheduler/gpu/place.h"

/* A phase's result: go on with the next phase, or the dispatch's result. */
#define GO_ON (-1)

/* One dispatch in progress: what its phases hand on to each other. */
typedef struct dispatch {
  dtxi_gpus *g;
  run *r;
  rtask *t;
  const gtask *gt;
  const uint32_t *ins;
  const char *prefix;
  gjob *after; /* run ahead: the producer t goes behind, or NULL */
  gjob *j;
  gdev *d;
  source *src;            /* per input: the copy fetched, when not here */
  dtxi_event **rep;       /* per input: the fetched copy's ready event, for later readers */
  dtxi_place_input *view; /* per input: placement's view */
  int64_t need, here;     /* input bytes to allocate here; bytes already here */
  size_t largest;         /* the largest input */
  int64_t out_est;        /* bytes reserved for the output */
  int probe_busy;         /* the output size of this name is being learned by another task */
} dispatch;

static int dispatch_job(run *r, rtask *t, gjob *after);

void dtxi_gpu_dispatch(run *r, rtask *t) { (void)dispatch_job(r, t, NULL); }

/* Gives back what a dispatch that ends before the launch took: the feed
 * lock, the job (pins, reservation, counters) and the scratch arrays. */
static void abandon(dispatch *x) {
  pthread_mutex_unlock(&x->d->mu);
  for (uint32_t i = 0; i < x->gt->ninputs; i++) dtxi_event_destroy(x->rep[i]);
  dtxi_job_drop(x->j);
  free(x->src);
  free(x->rep);
  free(x->view);
}

/* Ends an abandoned dispatch with the task failed (msg taken); a run-ahead
 * one is declined instead. */
static int fail(dispatch *x, char *msg) {
  abandon(x);
  if (x->after != NULL) {
    free(msg);
    return 1;
  }
  dtxi_gpu_fail_now(x->r, x->t, msg);
  return 0;
}

/* ---- begin, place ---------------------------------------------------------------------- */

static int begin(dispatch *x) {
  run *r = x->r;
  if (atomic_load_explicit(&r->any_error, memory_order_relaxed)) {
    for (uint32_t i = 0; i < x->gt->ninputs; i++) {
      const rtask *in = &r->rt[r->map[x->ins[i]]];
      if (in->err != NULL) {
        if (x->after != NULL) return 1;
        /* Marked failed by a CPU worker, which handles its dependents in a
         * loop (no recursion down long chains of failed GPU tasks). */
        dtxi_run_skip(r, x->t);
        return 0;
      }
    }
  }
  size_t n = x->gt->ninputs ? x->gt->ninputs : 1;
  x->j = dtxi_job_new(r, x->t, (int)x->gt->ninputs);
  x->src = calloc(n, sizeof *x->src);
  x->rep = calloc(n, sizeof *x->rep);
  x->view = calloc(n, sizeof *x->view);
  if (x->j == NULL || x->src == NULL || x->rep == NULL || x->view == NULL) {
    if (x->j != NULL) dtxi_job_free(x->j);
    free(x->src);
    free(x->rep);
    free(x->view);
    if (x->after != NULL) return 1;
    dtxi_gpu_fail_now(r, x->t, dtxi_gpu_task_error(r, x->t, "out of memory dispatching to a GPU"));
    return 0;
  }
  return GO_ON;
}

/* The device, the input sizes, the device's counters, and a stream of it
 * (its feed lock taken). */
static void place(dispatch *x) {
  run *r = x->r;
  gjob *j = x->j, *after = x->after;
  gdev *d = x->d = j->dev = after != NULL ? after->dev : dtxi_gpu_choose(x->g, r, x->gt, x->view);
  size_t in_bytes = 0;
  j->ahead_in = -1;
  for (uint32_t i = 0; i < x->gt->ninputs; i++) {
    rtask *in = &r->rt[r->map[x->ins[i]]];
    if (after != NULL && in == after->t) {
      j->how[i] = IN_AHEAD;
      j->ahead_in = (int)i;
      /* CUDA: known now; sim: set when it runs (after's own run is writing it) */
      in_bytes += j->in_size[i] = !x->g->sim && after->has_out ? after->out_size : 0;
      continue;
    }
    in_bytes += j->in_size[i] = dtxi_gpu_input_size(in);
  }
  atomic_fetch_add(&d->inflight, 1);
  j->est_ns = dtxi_gpus_estimate(x->g, x->prefix, 1, in_bytes);
  atomic_fetch_add(&d->queued_ns, j->est_ns);
  pthread_mutex_lock(&d->mu);
  j->stream_index = (int)(d->next++ % (unsigned)d->ncompute);
  j->s = d->compute[j->stream_index];
  j->t_dispatch = dtxi_now_ns();
}

/* ---- sources --------------------------------------------------------------------------- */

/* The cheapest valid copy of `in` to move to device d (res_mu held); pins it
 * when it is on another GPU. */
static void pick_source(dtxi_gpus *g, gjob *j, int i, const rtask *in, gdev *d, source *src) {
  gres *res = in->res;
  size_t n = j->in_size[i];
  dtx_p2p p2p = g->set.p2p;
  const dtxi_links *links = &dtxi_sched_of(j->r->cl)->links;
  src->res = res;
  src->dev = DTXI_HOST;
  src->ptr = NULL;
  src->wait = NULL;
  double best = 1e300;
  if (in->out != NULL) {
    src->ptr = in->out->data;
    best = dtxi_links_cost_ns(links, DTXI_HOST, d->index, n);
  } else if (res != NULL && res->host != NULL) {
    src->ptr = res->host->data;
    src->wait = res->host_ready;
    best = dtxi_links_cost_ns(links, DTXI_HOST, d->index, n);
  }
  for (int e = 0; res != NULL && e < g->ndev; e++) {
    if (e == d->index || res->copy[e].ptr == NULL) continue;
    double c = dtxi_links_cost_ns(links, e, d->index, n);
    if (src->ptr == NULL || c < best || p2p != DTX_P2P_AUTO) {
      best = c;
      src->ptr = res->copy[e].ptr;
      src->dev = e;
      src->wait = res->copy[e].ready;
      if (p2p != DTX_P2P_AUTO) break; /* GPU to GPU asked for */
    }
  }
  if (src->dev == DTXI_HOST) {
    j->how[i] = IN_HOST;
  } else {
    j->how[i] = g->nccl ? IN_NCCL : IN_PEER;
    dtxi_copy_pin(&res->copy[src->dev]);
    j->pinned[i] = &res->copy[src->dev];
  }
}

/* Where each input comes from, pinning the copies read so that no spill
 * takes them away while this job needs them; host chunks copied from stay in
 * memory (not spilled to disk) until done. */
static int sources(dispatch *x) {
  dtxi_gpus *g = x->g;
  run *r = x->r;
  gjob *j = x->j;
  gdev *d = x->d;
  pthread_mutex_lock(&g->res_mu);
  for (uint32_t i = 0; i < x->gt->ninputs; i++) {
    rtask *in = &r->rt[r->map[x->ins[i]]];
    size_t n = j->in_size[i];
    if (n > x->largest) x->largest = n;
    if (n == 0 || j->how[i] == IN_AHEAD) continue;
    if (in->res != NULL && in->res->copy[d->index].ptr != NULL) {
      gcopy *c = &in->res->copy[d->index];
      j->how[i] = IN_BORROW;
      dtxi_copy_pin(c);
      j->pinned[i] = c;
      j->in_ptr[i] = c->ptr;
      x->here += (int64_t)n;
      continue;
    }
    pick_source(g, j, (int)i, in, d, &x->src[i]);
    x->need += (int64_t)n;
  }
  pthread_mutex_unlock(&g->res_mu);
  for (uint32_t i = 0; i < x->gt->ninputs; i++) {
    if (j->how[i] != IN_HOST) continue; /* its host copy, if any, is set for good then */
    const rtask *in = &r->rt[r->map[x->ins[i]]];
    dtx_chunk *c = in->out != NULL ? in->out : in->res != NULL ? in->res->host : NULL;
    if (c == NULL || !c->spillable) continue;
    if (dtxi_chunk_pin(c) != DTX_OK) return fail(x, dtxi_gpu_task_error(r, x->t, dtx_last_error()));
    j->hpinned[i] = c;
  }
  return GO_ON;
}

/* ---- reserve --------------------------------------------------------------------------- */

/* The bytes to reserve for the output: what the task says (its flags: the
 * chunk store's tasks need exactly what their slot holds; its output_size
 * hint), else as large as this task's name made before. Under a limit, a
 * name never seen runs one task at a time until one has told its size
 * (x->probe_busy while another does). */
static void output_estimate(dispatch *x) {
  dtxi_gpus *g = x->g;
  gjob *j = x->j;
  unsigned flags = x->gt->flags;
  int64_t limit = x->d->limit;
  int64_t hint = (int64_t)dtxi_gt_output_size(x->r->g, x->t->gid);
  /* dispatched again: its output outgrew what was reserved (complete.c) */
  int64_t regrow = flags ? 0 : (int64_t)dtxi_regrow_size(g, x->r, x->t, 0);
  if (regrow > hint) hint = regrow;
  int known = (flags & (DTXI_TASK_KEEPS_INPUT | DTXI_TASK_LENDS_STORED)) != 0 || hint > 0;
  int64_t known_out = (flags & DTXI_TASK_LENDS_STORED)
                          ? dtxi_kept_dispatch(g, j, x->d, *(dtxi_kept *const *)dtxi_gt_args(x->gt))
                      : (flags & DTXI_TASK_KEEPS_INPUT) ? 0
                                                        : hint;
  int slot = known ? -1 : dtxi_costcache_slot(g->cost, x->prefix, limit > 0);
  int64_t out_est = known ? known_out + 1 : dtxi_costcache_output_at(g->cost, slot);
  if (out_est > 0) {
    out_est--;
  } else if (x->after != NULL) {
    x->probe_busy = 1; /* run ahead only once the output's size is known */
  } else {
    out_est = (int64_t)x->largest;
    int64_t learned = 0;
    switch (limit > 0 && slot >= 0 ? dtxi_costcache_probe_begin(g->cost, slot, x->prefix, &learned) : -1) {
      case DTXI_COSTCACHE_PROBE_BUSY:
        x->probe_busy = 1;
        break;
      case DTXI_COSTCACHE_PROBE_KNOWN: /* learned by the probe that just ended */
        out_est = learned - 1;
        break;
      case DTXI_COSTCACHE_PROBE_STARTED:
        j->probe_slot = slot + 1;
        break;
      default: /* no limit, or the slot went to another name meanwhile: no probe
                * (the output's size is had when it is made) */
        break;
    }
  }
  x->out_est = out_est;
}

/* Device memory for the inputs to fetch and the output, or the dispatch ends:
 * declined (run ahead), to a CPU thread or failed (it can never fit), parked
 * (no room now). */
static int reserve(dispatch *x) {
  gdev *d = x->d;
  output_estimate(x);
  int64_t limit = d->limit, total = x->need + x->here + x->out_est;
  if (x->after != NULL && (x->probe_busy || (limit > 0 && total > limit))) {
    abandon(x);
    return 1;
  }
  if (limit > 0 && total > limit) {
    char msg[256];
    snprintf(
        msg, sizeof msg,
        "needs %lld bytes of gpu %d's memory at once (inputs %lld + output %lld) but its limit is %lld bytes;"
        " raise DTX_DEVICE_MEMORY_LIMIT or use smaller chunks",
        (long long)total, d->index, (long long)(x->need + x->here), (long long)x->out_est, (long long)limit);
    abandon(x);
    (void)dtxi_regrow_size(x->g, x->r, x->t, 1);
    if (!dtxi_gpu_to_cpu(x->r, x->t)) dtxi_gpu_fail_now(x->r, x->t, dtxi_gpu_task_error(x->r, x->t, msg));
    return 0;
  }
  int fits = !x->probe_busy && dtxi_reserve(x->g, d, x->need + x->out_est, &x->j->room_ev);
  if (!fits) {
    /* Everything spillable is spilled and the rest is in use (or the size
     * of this name's output is being learned): wait until jobs in flight
     * finish. */
    abandon(x);
    if (x->after != NULL) return 1;
    dtxi_park(x->g, d, x->r, x->t);
    return 0;
  }
  x->j->in_charged = x->need;
  x->j->out_charged = x->out_est;
  if (x->after == NULL) (void)dtxi_regrow_size(x->g, x->r, x->t, 1); /* reserved: forgotten */
  return GO_ON;
}

/* ---- chain ----------------------------------------------------------------------------- */

/* Committed to run: behind `after` when run ahead (after's readers hold its
 * output until they are done), and with a slot for readers run ahead of this
 * job in turn. */
static void chain(dispatch *x) {
  gjob *j = x->j, *after = x->after;
  if (after != NULL) {
    x->t->ahead = 1;
    atomic_fetch_add(&x->d->ahead, 1);
    atomic_fetch_add_explicit(&after->slot->refs, 1, memory_order_relaxed);
    after->slot->readers++;
    j->ahead_src = after->slot;
    j->after = after->t;
    if (!x->g->sim) j->in_ptr[j->ahead_in] = after->out_ptr; /* sim: set when it runs */
  }
  if (x->t->ndeps > 0 && x->g->set.window > 0) {
    /* Readers may be enqueued behind this job before it finishes. */
    j->slot = calloc(1, sizeof *j->slot);
    if (j->slot != NULL) atomic_init(&j->slot->refs, 1);
  }
}

/* Runs p's GPU dependents whose only unfinished input is p ahead: enqueued
 * now on p's device behind p's ready event, up to DTX_GPU_WINDOW of them per
 * device. Called by p's dispatcher before p is handed to the progress thread,
 * so p cannot finish meanwhile and no dependent can become ready by another
 * path. */
static void run_ahead(dtxi_gpus *g, gjob *p) {
  run *r = p->r;
  rtask *t = p->t;
  if (p->slot == NULL || (!g->sim && p->err != NULL)) return; /* (sim: a failure shows in the slot) */
  int window = g->set.window;
  const uint32_t *deps = r->deps + t->dep_off;
  for (uint32_t k = 0; k < t->ndeps; k++) {
    rtask *c = &r->rt[deps[k]];
    int where = r->g->tasks[c->gid].where;
    if (c->ahead || !dtxi_gpu_eligible(r, c) || (where > 0 && where - 1 != p->dev->index)) continue;
    if (atomic_load_explicit(&c->pending, memory_order_acquire) != 1) continue;
    if (atomic_load(&p->dev->ahead) >= window) return;
    (void)dispatch_job(r, c, p); /* declines when it cannot go now */
  }
}

/* ---- enqueue --------------------------------------------------------------------------- */

/* After input i landed in its fetched buffer: a trace mark, and the event
 * that makes the buffer a copy later readers on this device may use. */
static void fetched(dispatch *x, uint32_t i) {
  dtxi_gtrace_mark(x->j, (int)i + 1);
  if (x->src[i].res != NULL && dtxi_event_create(x->g->b, x->d->index, &x->rep[i]) == DTX_OK &&
      dtxi_event_record(x->rep[i], x->j->s) != DTX_OK) {
    dtxi_event_destroy(x->rep[i]);
    x->rep[i] = NULL;
  }
}

/* Input i reaches the job's stream: waited for when it is here or being
 * made, else allocated and moved (NCCL moves are left for one group, *nccl
 * set). */
static dtx_status enqueue_input(dispatch *x, uint32_t i, int *nccl) {
  gjob *j = x->j;
  const rtask *in = &x->r->rt[x->r->map[x->ins[i]]];
  size_t n = j->in_size[i];
  const source *src = &x->src[i];
  dtx_status rc;
  switch (j->how[i]) {
    case IN_BORROW: /* reuse the copy already here: wait for it, don't fetch it */
      return dtxi_stream_wait(j->s, in->res->copy[x->d->index].ready);
    case IN_AHEAD: /* behind the job still making it */
      return dtxi_stream_wait(j->s, x->after->ev);
    case IN_HOST:
    case IN_PEER:
    case IN_NCCL:
      rc = dtxi_alloc_async(j->s, n, &j->in_ptr[i]);
      if (rc == DTX_OK) j->temp[i] = 1;
      break;
    default:
      return DTX_OK;
  }
  if (rc != DTX_OK) return rc;
  if (j->how[i] == IN_NCCL) {
    *nccl = 1;
    return DTX_OK;
  }
  if (n >= DTXI_STAGE_MIN || j->how[i] == IN_PEER) {
    size_t staged = 0;
    rc = dtxi_move_in(x->g, j, j->in_ptr[i], src->ptr, src->dev, n, src->wait, &staged);
    j->staged += (int64_t)staged;
  } else { /* small: in line on the compute stream, cheaper than a hand-off */
    if (src->wait != NULL) rc = dtxi_stream_wait(j->s, src->wait);
    if (rc == DTX_OK) rc = dtxi_copy_async(j->s, j->in_ptr[i], x->d->index, src->ptr, src->dev, n);
  }
  if (rc == DTX_OK) fetched(x, i);
  return rc;
}

/* The job's ready event, then its inputs. On failure nothing of the task
 * itself was enqueued: it fails here, and buffers already enqueued are freed
 * in stream order behind what used them. */
static int enqueue(dispatch *x) {
  dtxi_gpus *g = x->g;
  gjob *j = x->j;
  /* The event first: once the task is enqueued the job must reach the
   * progress thread, which needs the event to know when it may let go. */
  dtx_status rc = x->r->trace ? dtxi_event_create_timed(g->b, x->d->index, &j->ev)
                              : dtxi_event_create(g->b, x->d->index, &j->ev);
  if (rc == DTX_OK && j->room_ev != NULL) rc = dtxi_stream_wait(j->s, j->room_ev);
  int any_nccl = 0;
  if (rc == DTX_OK && x->need > 0) dtxi_gtrace_mark(j, 0);
  for (uint32_t i = 0; i < x->gt->ninputs && rc == DTX_OK; i++) rc = enqueue_input(x, i, &any_nccl);
  if (rc == DTX_OK && any_nccl) {
    rc = dtxi_nccl_inputs(g, j, x->src);
    for (uint32_t i = 0; i < x->gt->ninputs && rc == DTX_OK; i++)
      if (j->how[i] == IN_NCCL) fetched(x, i);
  }
  if (rc == DTX_OK) return GO_ON;
  char *msg = dtxi_gpu_task_error(x->r, x->t, dtx_last_error());
  dtxi_job_free_inputs(j, j->s);
  dtxi_stream_reset(j->s);
  abandon(x);
  dtxi_gpu_fail_now(x->r, x->t, msg);
  return 0;
}

/* ---- commit, launch -------------------------------------------------------------------- */

/* The fetched copies stay here for later readers: they become the outputs'
 * copies on this device, pinned by this job until it ends. Counters. */
static void commit(dispatch *x) {
  dtxi_gpus *g = x->g;
  gjob *j = x->j;
  gdev *d = x->d;
  pthread_mutex_lock(&g->res_mu);
  for (uint32_t i = 0; i < x->gt->ninputs; i++) {
    size_t n = j->in_size[i];
    if (j->how[i] == IN_HOST) d->bytes_from_host += (int64_t)n;
    if (j->how[i] == IN_HOST && x->src[i].wait != NULL) { /* from a copy spilled to host */
      d->unspills++;
      d->unspilled_bytes += (int64_t)n;
      dtxi_gtrace_unspill(x->r, &x->r->rt[x->r->map[x->ins[i]]], d, n);
    }
    if (j->how[i] == IN_PEER) d->bytes_peer += (int64_t)n;
    if (j->how[i] == IN_NCCL) d->bytes_nccl += (int64_t)n;
    if (j->how[i] == IN_BORROW) d->reused++;
    if (j->how[i] == IN_AHEAD) d->run_ahead++;
  }
  d->bytes_staged += j->staged;
  for (uint32_t i = 0; i < x->gt->ninputs; i++) {
    size_t n = j->in_size[i];
    gres *res = x->src[i].res;
    if (x->rep[i] == NULL || res == NULL || res->copy[d->index].ptr != NULL) {
      if (x->rep[i] != NULL) dtxi_event_destroy(x->rep[i]);
      continue;
    }
    dtxi_copy_add(g, res, d->index, j->in_ptr[i], x->rep[i], 1);
    j->made[i] = &res->copy[d->index];
    j->temp[i] = 0;
    j->in_charged -= (int64_t)n; /* now held by the copy */
    d->reserved -= (int64_t)n;
  }
  pthread_mutex_unlock(&g->res_mu);
  free(x->src);
  free(x->rep);
  free(x->view);
}

/* Enqueues the implementation and the ready event, then hands the job to
 * the progress thread (running its readers ahead first). */
static int launch(dispatch *x) {
  dtxi_gpus *g = x->g;
  gjob *j = x->j;
  gdev *d = x->d;
  dtx_status rc = DTX_OK;
  int queued = 1;
  if (g->sim) {
    rc = dtxi_host_fn(j->s, dtxi_job_sim_task, j);
    queued = rc == DTX_OK;
  } else {
    dtxi_job_invoke(j, x->r->g->impls[x->gt->impl].cuda);
  }
  if (rc == DTX_OK) rc = dtxi_event_record(j->ev, j->s);
  if (rc == DTX_OK) rc = dtxi_host_fn(j->s, dtxi_gpus_kick, g);
  if (rc != DTX_OK && queued && g->sim) {
    /* The task is queued but its completion cannot be observed: keep the job
     * alive (the task still writes into it) and fail the task. Only on host
     * memory exhaustion. */
    char *msg = dtxi_gpu_task_error(x->r, x->t, dtx_last_error());
    dtxi_stream_reset(j->s);
    pthread_mutex_unlock(&d->mu);
    DTXI_LOG(DTX_LOG_ERROR, "%s (a GPU job is abandoned)", msg);
    atomic_fetch_sub(&d->inflight, 1);
    atomic_fetch_sub(&d->queued_ns, j->est_ns);
    dtxi_gpu_fail_now(x->r, x->t, msg);
    return 0;
  }
  if (rc != DTX_OK && j->err == NULL) j->err = dtxi_gpu_task_error(x->r, x->t, dtx_last_error());
  if (j->slot != NULL && !g->sim) { /* CUDA: the output is allocated by now */
    j->slot->ptr = j->has_out ? j->out_ptr : NULL;
    j->slot->size = j->has_out ? j->out_size : 0;
    j->slot->failed = j->err != NULL;
  }
  /* A device fault fails only the work up to here on this stream. */
  dtxi_stream_reset(j->s);
  pthread_mutex_unlock(&d->mu);
  run_ahead(g, j);
  dtxi_gpus_handoff(g, j);
  return 0;
}

/* ---- the driver ------------------------------------------------------------------------ */

/* Places t and enqueues it. With `after` (run ahead), t's last unfinished
 * input is after's task: t goes on after's device behind after's ready
 * event, or, when that cannot be done at once (no room, sizes unknown, a
 * failed input), nothing happens and 1 is returned: t is dispatched the usual
 * way when its input finishes. */
static int dispatch_job(run *r, rtask *t, gjob *after) {
  dispatch x = {.g = dtxi_sched_of(r->cl)->gpus, .r = r, .t = t, .after = after};
  x.gt = &r->g->tasks[t->gid];
  x.ins = dtxi_gt_inputs(x.gt);
  x.prefix = r->g->prefixes[x.gt->prefix];
  int rc = begin(&x);
  if (rc != GO_ON) return rc;
  place(&x);
  if ((rc = sources(&x)) != GO_ON) return rc;
  if ((rc = reserve(&x)) != GO_ON) return rc;
  chain(&x);
  if ((rc = enqueue(&x)) != GO_ON) return rc;
  commit(&x);
  return launch(&x);
}
