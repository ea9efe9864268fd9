/*
 * scheduler/gpu/keep.c - persisted chunks on the GPUs: the two task
 * implementations that keep a chunk and lend it back, their dispatch, and
 * the callbacks through which the chunk store (data/store.h, which holds the
 * slots and their per-device lists) has the executor give device memory back.
 *
 * Owns: the device memory the store's slots hold (charged to the device, its
 * bytes counted by the store's list of the device, under res_mu; residency.c
 * spills them).
 * Threads: dtxi_keep_task / dtxi_kept_source run on a CPU worker or in a GPU
 * job (dispatch thread on CUDA, stream thread on sim); dtxi_kept_dispatch on
 * the dispatching thread; dtxi_keep_input_done on the progress thread; the
 * store's callbacks on the thread releasing an array (the store lock held).
 * Invariants: the store's (data/store.h); slot->users counts the residency
 * copies and jobs referring to its device memory now.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "scheduler/gpu/gpu_internal.h"
#include "scheduler/task.h"

/* ---- the tasks ----------------------------------------------------------------------------- */

/* On a GPU: once the task has succeeded, the copy of input i it read there
 * goes to *slot instead of being freed with the output's other copies. */
static dtx_status keep_input_later(gjob *j, int i, dtxi_kept *slot) {
  if (i < 0 || i >= j->ninputs || j->in_size[i] == 0)
    return dtxi_fail(DTX_EINVAL, "keeping input %d on gpu %d: the task has no such input with data", i,
                     j->dev->index);
  j->keep_slot = slot;
  j->keep_in = i;
  if (j->temp[i]) { /* its own buffer (no residency record): not freed with the inputs */
    j->temp[i] = 0;
    j->keep_temp = 1;
  }
  return DTX_OK;
}

int dtxi_keep_task(dtx_task_ctx *ctx) {
  dtxi_kept *slot = *(dtxi_kept *const *)dtx_task_args(ctx, NULL);
  if (ctx->gpu != NULL)
    return keep_input_later(ctx->gpu, 0, slot) == DTX_OK ? 0 : dtx_task_fail(ctx, "%s", dtx_last_error());
  dtx_chunk *in = dtxi_task_input_chunk(ctx, 0);
  if (in == NULL) return dtx_task_fail(ctx, "keeping a chunk: the task has no input");
  if (dtxi_kept_hold(slot, dtxi_sched_of(dtx_task_cluster(ctx))->mem, in) != DTX_OK)
    return dtx_task_fail(ctx, "%s", dtx_last_error());
  return 0;
}

static int unpin_host(void *arg, char *err, size_t errlen) {
  (void)err;
  (void)errlen;
  dtxi_chunk_unpin(arg);
  return 0;
}

int64_t dtxi_kept_dispatch(dtxi_gpus *g, gjob *j, gdev *d, dtxi_kept *ks) {
  int64_t out = 0;
  pthread_mutex_lock(&g->res_mu);
  if (ks->dev == d->index && ks->ptr != NULL) {
    j->borrow_slot = ks;
    j->kept_ptr = dtxi_kept_use(g->store, ks);
  } else if (ks->dev == d->index && ks->spill != NULL) {
    dtxi_kspill_ref(ks->spill);
    j->unspill = ks->spill;
    out = (int64_t)ks->size;
  }
  pthread_mutex_unlock(&g->res_mu);
  return out;
}

void dtxi_kept_undispatch(dtxi_gpus *g, gjob *j) {
  if (j->borrow_slot == NULL) return;
  pthread_mutex_lock(&g->res_mu);
  dtxi_kept_unuse(j->borrow_slot);
  pthread_mutex_unlock(&g->res_mu);
  j->borrow_slot = NULL;
}

/* A spilled chunk back to the GPU as the job's output (room reserved at
 * dispatch), kept there again once done. */
static int kept_read_back(dtx_task_ctx *ctx, gjob *j, dtxi_kept *slot, dtxi_kspill *sp) {
  void *out = dtxi_gpu_output(j, slot->size);
  if (out == NULL)
    return dtx_task_fail(ctx, "no room on gpu %d to read a persisted chunk back", j->dev->index);
  if (dtxi_chunk_pin(sp->host) != DTX_OK) return dtx_task_fail(ctx, "%s", dtx_last_error());
  gdev *d = j->dev;
  if (j->on_stream) { /* sim: the task runs in stream order on the stream's thread */
    if (sp->ready != NULL) dtxi_event_sync(sp->ready);
    memcpy(out, sp->host->data, slot->size);
    dtxi_chunk_unpin(sp->host);
  } else {
    int copied = 0;
    dtx_status rc = sp->ready != NULL ? dtxi_stream_wait(j->s, sp->ready) : DTX_OK;
    if (rc == DTX_OK)
      copied = (rc = dtxi_copy_async(j->s, out, d->index, sp->host->data, DTXI_HOST, slot->size)) == DTX_OK;
    if (rc == DTX_OK) rc = dtxi_host_fn(j->s, unpin_host, sp->host);
    if (rc != DTX_OK) {
      if (!copied) dtxi_chunk_unpin(sp->host);
      return dtx_task_fail(ctx, "%s", dtx_last_error());
    }
  }
  pthread_mutex_lock(&dtxi_sched_of(j->r->cl)->gpus->res_mu);
  d->unspills++;
  d->unspilled_bytes += (int64_t)slot->size;
  pthread_mutex_unlock(&dtxi_sched_of(j->r->cl)->gpus->res_mu);
  j->rekeep = slot;
  return 0;
}

int dtxi_kept_source(dtx_task_ctx *ctx) {
  dtxi_kept *slot = *(dtxi_kept *const *)dtx_task_args(ctx, NULL);
  gjob *j = ctx->gpu;
  if (j == NULL) {
    if (slot->dev >= 0)
      return dtx_task_fail(ctx,
                           "a chunk persisted on gpu %d is read on a CPU thread; compute it with the cluster "
                           "scheduler that persisted it",
                           slot->dev);
    if (slot->chunk == NULL) return dtx_task_fail(ctx, "a persisted chunk was released while read");
    /* lent in place, read back from disk first if it spilled */
    return dtxi_task_lend(ctx, slot->chunk) == DTX_OK ? 0 : dtx_task_fail(ctx, "%s", dtx_last_error());
  }
  if (j->borrow_slot == slot) { /* lent in place */
    if (j->has_out && j->out_ptr != NULL && !j->borrowed) dtxi_free_async(j->s, j->out_ptr);
    j->out_ptr = j->kept_ptr;
    j->out_size = slot->size;
    j->has_out = 1;
    j->borrowed = 1;
    return 0;
  }
  dtxi_kspill *sp = j->unspill;
  if (sp == NULL)
    return dtx_task_fail(ctx, "a chunk persisted on gpu %d has no data there (read on gpu %d)", slot->dev,
                         j->dev->index);
  return kept_read_back(ctx, j, slot, sp);
}

/* The job asked to keep an input (dtxi_task_keep_input): once it succeeded
 * (ok), that input's copy here goes to the slot, charged to the device from
 * now on as a persisted chunk. */
void dtxi_keep_input_done(gjob *j, int ok) {
  dtxi_gpus *g = dtxi_sched_of(j->r->cl)->gpus;
  gdev *d = j->dev;
  dtxi_kept *slot = j->keep_slot;
  int i = j->keep_in;
  size_t n = j->in_size[i];
  j->keep_slot = NULL;
  if (j->keep_temp) {
    void *p = j->in_ptr[i];
    j->in_ptr[i] = NULL;
    j->keep_temp = 0;
    if (ok && p != NULL) {
      j->in_charged -= (int64_t)n; /* held by the slot now */
      pthread_mutex_lock(&g->res_mu);
      d->reserved -= (int64_t)n;
      dtxi_kept_set(g->store, slot, d->index, p, n, 0);
      pthread_mutex_unlock(&g->res_mu);
    } else if (p != NULL) {
      pthread_mutex_lock(&d->mu);
      dtxi_free_async(j->s, p);
      pthread_mutex_unlock(&d->mu);
    }
    return;
  }
  if (!ok) return;
  const gtask *gt = &j->r->g->tasks[j->t->gid];
  const rtask *in = &j->r->rt[j->r->map[dtxi_gt_inputs(gt)[i]]];
  gres *res = in->res;
  int kept = 0;
  pthread_mutex_lock(&g->res_mu);
  if (res != NULL && dtxi_copy_keep(g, &res->copy[d->index], slot)) kept = 1;
  pthread_mutex_unlock(&g->res_mu);
  if (!kept) {
    char msg[96];
    snprintf(msg, sizeof msg, "input %d has no copy of its own on gpu %d to keep", i, d->index);
    j->err = dtxi_gpu_task_error(j->r, j->t, msg);
  }
}

/* ---- the store's callbacks ---------------------------------------------------------------------- */

/* Gives back slot's device memory and its spilled copy (the store lock held,
 * taken before the device's feed lock). */
static void give_back(void *owner, dtxi_kept *slot) {
  dtxi_gpus *g = owner;
  if (slot->dev < 0 || slot->dev >= g->ndev) return;
  gdev *d = &g->dev[slot->dev];
  pthread_mutex_lock(&d->mu);
  pthread_mutex_lock(&g->res_mu);
  void *ptr = dtxi_kept_release(g->store, slot);
  dtxi_kspill *sp = slot->spill;
  slot->spill = NULL;
  if (ptr != NULL) d->used -= (int64_t)slot->size;
  pthread_mutex_unlock(&g->res_mu);
  if (ptr != NULL) dtxi_free_async(d->d2h, ptr);
  pthread_mutex_unlock(&d->mu);
  dtxi_kspill_unref(sp);
}

/* Tasks may have waited for the room given back (the store lock held: the
 * executor cannot stop meanwhile). */
static void room(void *owner) { dtxi_retry_parked(owner); }

static const dtxi_store_ops store_ops = {give_back, room};

void dtxi_gpu_store_attach(dtxi_gpus *g, dtxi_store *st) {
  g->store = st;
  dtxi_store_attach(st, &store_ops, g);
}
