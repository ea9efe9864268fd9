/*
 * scheduler/gpu/keep.c - chunks of persisted arrays (keepers) on the GPUs:
 * the two task implementations that keep a chunk and read it back, and the
 * keepers' lifetime.
 *
 * Owns: every cluster's keepers (their list under keepers_mu, a process-wide
 * lock taken before any device's feed lock), and the device memory their
 * slots hold (charged to the device as `kept`, under res_mu; residency.c
 * spills and lists them).
 * Threads: dtxi_keep_task / dtxi_kept_source run on a CPU worker or in a GPU
 * job (dispatch thread on CUDA, stream thread on sim); dtxi_kept_dispatch on
 * the dispatching thread; dtxi_keep_input_done on the progress thread; the
 * keepers' calls on the thread releasing an array.
 * Invariants: a slot's dev and size are set once; slot->users counts the
 * residency copies and jobs referring to its device memory now, which is not
 * freed or spilled while users > 0.
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
  size_t n = 0;
  const void *in = dtx_task_input(ctx, 0, &n);
  void *p = malloc(n > 0 ? n : 1);
  if (p == NULL) return dtx_task_fail(ctx, "out of memory keeping a %zu-byte chunk", n);
  if (n > 0) memcpy(p, in, n);
  slot->dev = -1;
  slot->ptr = p;
  slot->size = n;
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
    ks->users++;
    dtxi_kept_touch(d, ks);
    j->borrow_slot = ks;
    j->kept_ptr = ks->ptr;
  } else if (ks->dev == d->index && ks->spill != NULL) {
    atomic_fetch_add_explicit(&ks->spill->refs, 1, memory_order_relaxed);
    j->unspill = ks->spill;
    out = (int64_t)ks->size;
  }
  pthread_mutex_unlock(&g->res_mu);
  return out;
}

void dtxi_kept_undispatch(dtxi_gpus *g, gjob *j) {
  if (j->borrow_slot == NULL) return;
  pthread_mutex_lock(&g->res_mu);
  j->borrow_slot->users--;
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
    void *out = dtx_task_output(ctx, slot->size);
    if (out == NULL) return dtx_task_fail(ctx, "out of memory for a %zu-byte chunk", slot->size);
    memcpy(out, slot->ptr, slot->size);
    return 0;
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
      dtxi_kept_set(d, slot, p, n, 0);
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

/* ---- keepers -------------------------------------------------------------------------------- */

/* Keepers of every cluster; taken before any device's feed lock. */
static pthread_mutex_t keepers_mu = PTHREAD_MUTEX_INITIALIZER;

dtxi_keeper *dtxi_keeper_new(dtx_cluster *cl, int64_t n) {
  dtxi_keeper *k = calloc(1, sizeof *k + (size_t)n * sizeof(dtxi_kept));
  if (k == NULL) {
    dtxi_fail(DTX_ENOMEM, "out of memory for %lld persisted chunks", (long long)n);
    return NULL;
  }
  k->n = n;
  for (int64_t b = 0; b < n; b++) k->slot[b].dev = -1;
  pthread_mutex_lock(&keepers_mu);
  k->g = cl != NULL ? dtxi_sched_of(cl)->gpus : NULL;
  if (k->g != NULL) {
    k->next = k->g->keepers;
    if (k->next != NULL) k->next->prev = k;
    k->g->keepers = k;
  }
  pthread_mutex_unlock(&keepers_mu);
  return k;
}

/* Frees slot's device memory (keepers_mu held). */
static void kept_free(dtxi_gpus *g, dtxi_kept *slot) {
  if (slot->dev < 0 || slot->dev >= g->ndev) return;
  gdev *d = &g->dev[slot->dev];
  pthread_mutex_lock(&d->mu);
  pthread_mutex_lock(&g->res_mu);
  void *ptr = slot->ptr;
  dtxi_kspill *sp = slot->spill;
  dtxi_kept_unlist(d, slot);
  if (ptr != NULL) {
    d->used -= (int64_t)slot->size;
    d->kept -= (int64_t)slot->size;
  }
  slot->ptr = NULL;
  slot->spill = NULL;
  pthread_mutex_unlock(&g->res_mu);
  if (ptr != NULL) dtxi_free_async(d->d2h, ptr);
  pthread_mutex_unlock(&d->mu);
  dtxi_kspill_unref(sp);
}

void dtxi_keeper_clear(dtxi_keeper *k) {
  int gave = 0;
  pthread_mutex_lock(&keepers_mu);
  for (int64_t b = 0; b < k->n; b++) {
    dtxi_kept *slot = &k->slot[b];
    if (slot->dev < 0) {
      free(slot->ptr);
    } else if (k->g != NULL) {
      gave |= slot->ptr != NULL;
      kept_free(k->g, slot);
    }
    *slot = (dtxi_kept){.dev = -1};
  }
  /* tasks may have waited for that room (under the lock: the cluster cannot
   * be stopped meanwhile) */
  if (gave && k->g != NULL) dtxi_retry_parked(k->g);
  pthread_mutex_unlock(&keepers_mu);
}

void dtxi_keeper_free(dtxi_keeper *k) {
  if (k == NULL) return;
  dtxi_keeper_clear(k);
  pthread_mutex_lock(&keepers_mu);
  if (k->g != NULL) {
    if (k->prev != NULL)
      k->prev->next = k->next;
    else
      k->g->keepers = k->next;
    if (k->next != NULL) k->next->prev = k->prev;
  }
  pthread_mutex_unlock(&keepers_mu);
  free(k);
}

void dtxi_keepers_detach(dtxi_gpus *g) {
  pthread_mutex_lock(&keepers_mu);
  for (dtxi_keeper *k = g->keepers, *next; k != NULL; k = next) {
    next = k->next;
    for (int64_t b = 0; b < k->n; b++)
      if (k->slot[b].dev >= 0) kept_free(g, &k->slot[b]);
    k->g = NULL;
    k->prev = k->next = NULL;
  }
  g->keepers = NULL;
  pthread_mutex_unlock(&keepers_mu);
}
