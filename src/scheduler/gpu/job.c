/*
 * scheduler/gpu/job.c - one GPU job (struct gjob): its lifetime, and what the
 * task running in it sees (dtx_task_input / dtx_task_output on a GPU).
 *
 * Owns: the job's arrays (per input: pointer, size, how it arrives, the
 * copies and host chunks it pins, its own buffers), its events and its
 * references to run-ahead slots and spilled persisted chunks.
 * Threads: a job is made and filled by one dispatching thread (under its
 * device's feed lock), then belongs to the progress thread (complete.c); on
 * simulated GPUs the task itself runs on the stream's own thread
 * (dtxi_job_sim_task), in stream order between the two.
 * Invariants: in_charged + out_charged = the device bytes reserved for this
 * job and not yet held by a copy or a persisted chunk (given back when it
 * ends); every pinned[i] / made[i] / hpinned[i] holds one pin until
 * dtxi_job_unpin_inputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/costcache.h"
#include "base/error.h"
#include "scheduler/gpu/gpu_internal.h"
#include "scheduler/task.h"

/* ---- lifetime -------------------------------------------------------------------------- */

void dtxi_gahead_unref(gahead *s) {
  if (s != NULL && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) free(s);
}

void dtxi_job_free(gjob *j) {
  if (j->probe_slot > 0) { /* the probe ends, if its name still has the slot */
    dtxi_gpus *g = dtxi_sched_of(j->r->cl)->gpus;
    const gtask *gt = &j->r->g->tasks[j->t->gid];
    dtxi_costcache_probe_end(g->cost, j->probe_slot - 1, j->r->g->prefixes[gt->prefix]);
  }
  dtxi_gahead_unref(j->slot);
  dtxi_gahead_unref(j->ahead_src);
  dtxi_kspill_unref(j->unspill);
  dtxi_event_destroy(j->ev);
  dtxi_event_destroy(j->ev2);
  dtxi_event_destroy(j->room_ev);
  for (int i = 0; j->tev != NULL && i <= j->ninputs; i++) dtxi_event_destroy(j->tev[i]);
  for (int i = 0; i < j->nxev; i++) dtxi_event_destroy(j->xev[i]);
  free(j->in_ptr);
  free(j->in_size);
  free(j->how);
  free(j->pinned);
  free(j->made);
  free(j->hpinned);
  free(j->temp);
  free(j->tev);
  free(j->xev);
  free(j->alloc_err);
  free(j);
}

void dtxi_job_unpin_inputs(gjob *j) {
  dtxi_gpus *g = dtxi_sched_of(j->r->cl)->gpus;
  for (int i = 0; i < j->ninputs; i++) {
    if (j->pinned[i] != NULL) {
      dtxi_copy_unpin(g, j->pinned[i]);
      j->pinned[i] = NULL;
    }
    if (j->made[i] != NULL) {
      dtxi_copy_unpin(g, j->made[i]);
      j->made[i] = NULL;
    }
    if (j->hpinned[i] != NULL) {
      dtxi_chunk_unpin(j->hpinned[i]);
      j->hpinned[i] = NULL;
    }
  }
}

void dtxi_job_free_inputs(gjob *j, dtxi_stream *s) {
  for (int i = 0; i < j->ninputs; i++)
    if (j->temp[i] && j->in_ptr[i] != NULL) {
      dtxi_free_async(s, j->in_ptr[i]);
      j->in_ptr[i] = NULL;
    }
}

void dtxi_job_drop(gjob *j) {
  dtxi_gpus *g = dtxi_sched_of(j->r->cl)->gpus;
  dtxi_kept_undispatch(g, j);
  if (j->ahead_src != NULL) {
    j->ahead_src->readers--; /* on the producer's dispatch thread, before it is handed off */
    atomic_fetch_sub(&j->dev->ahead, 1);
  }
  dtxi_job_unpin_inputs(j);
  dtxi_uncharge(g, j->dev, j->in_charged + j->out_charged);
  atomic_fetch_sub(&j->dev->inflight, 1);
  atomic_fetch_sub(&j->dev->queued_ns, j->est_ns);
  dtxi_job_free(j);
}

gjob *dtxi_job_new(run *r, rtask *t, int ninputs) {
  size_t n = ninputs > 0 ? (size_t)ninputs : 1;
  gjob *j = calloc(1, sizeof *j);
  if (j == NULL) return NULL;
  j->in_ptr = calloc(n, sizeof *j->in_ptr);
  j->in_size = calloc(n, sizeof *j->in_size);
  j->how = calloc(n, 1);
  j->pinned = calloc(n, sizeof *j->pinned);
  j->made = calloc(n, sizeof *j->made);
  j->hpinned = calloc(n, sizeof *j->hpinned);
  j->temp = calloc(n, 1);
  j->xev = calloc(2 * n + DTXI_MAX_GPUS + 2, sizeof *j->xev);
  if (r->trace) j->tev = calloc(n + 1, sizeof *j->tev);
  j->r = r;
  j->t = t;
  j->ninputs = ninputs;
  j->phase = 1;
  if (j->in_ptr == NULL || j->in_size == NULL || j->how == NULL || j->pinned == NULL || j->made == NULL ||
      j->hpinned == NULL || j->temp == NULL || j->xev == NULL || (r->trace && j->tev == NULL)) {
    dtxi_job_free(j);
    return NULL;
  }
  return j;
}

/* ---- the task's view ------------------------------------------------------------------- */

const void *dtxi_gpu_input(const gjob *j, int i, size_t *size) {
  if (i < 0 || i >= j->ninputs) {
    if (size != NULL) *size = 0;
    return NULL;
  }
  if (size != NULL) *size = j->in_size[i];
  return j->in_ptr[i];
}

/* Device memory for an output larger than reserved at dispatch: spill to make
 * room. On sim the task runs on its stream's own thread, which waits for the
 * spills here; on CUDA it runs at dispatch (d->mu held), and the stream waits. */
static int output_room(gjob *j, int64_t extra) {
  gdev *d = j->dev;
  dtxi_gpus *g = dtxi_sched_of(j->r->cl)->gpus;
  dtxi_event *ev = NULL;
  if (j->on_stream) pthread_mutex_lock(&d->mu);
  int ok = dtxi_reserve(g, d, extra, &ev);
  if (j->on_stream) pthread_mutex_unlock(&d->mu);
  if (ev != NULL) {
    if (j->on_stream)
      dtxi_event_sync(ev);
    else if (dtxi_stream_wait(j->s, ev) != DTX_OK)
      ok = 0; /* reserved all the same: given back with the job */
    dtxi_event_destroy(ev);
  }
  if (ok) j->out_charged += extra;
  return ok;
}

/* No room now for the rest of an output larger than reserved at dispatch:
 * why the task cannot have it. NULL when it would fit with its inputs in an
 * empty device: then it waits for room (j->regrow: the progress thread
 * dispatches it again, reserving the whole output up front, and parks it
 * until jobs in flight give back what they hold, residency.c). */
static char *no_room(gjob *j, size_t size) {
  int64_t limit = j->dev->limit, in = 0;
  for (int i = 0; i < j->ninputs; i++) in += (int64_t)j->in_size[i];
  char buf[320];
  if ((int64_t)size > limit)
    snprintf(buf, sizeof buf,
             "its %zu-byte output does not fit under gpu %d's memory limit of %lld bytes; "
             "raise DTX_DEVICE_MEMORY_LIMIT or use smaller chunks",
             size, j->dev->index, (long long)limit);
  else if (in + (int64_t)size > limit)
    snprintf(buf, sizeof buf,
             "its %zu-byte output and its %lld bytes of inputs do not fit at once under gpu %d's memory "
             "limit of %lld bytes; raise DTX_DEVICE_MEMORY_LIMIT or use smaller chunks",
             size, (long long)in, j->dev->index, (long long)limit);
  else
    return NULL;
  return strdup(buf);
}

void *dtxi_gpu_output(gjob *j, size_t size) {
  if (j->has_out && j->out_ptr != NULL && !j->borrowed) dtxi_free_async(j->s, j->out_ptr);
  j->borrowed = 0;
  j->out_ptr = NULL;
  j->out_size = size;
  j->has_out = 1;
  int64_t extra = (int64_t)size - j->out_charged;
  if (extra > 0 && j->dev->limit > 0 && !output_room(j, extra)) {
    const gtask *gt = &j->r->g->tasks[j->t->gid];
    char *why = no_room(j, size);
    if (why == NULL) {
      /* Its name's later tasks reserve this much from now on. */
      dtxi_gpus_learn_output(dtxi_sched_of(j->r->cl)->gpus, j->r->g->prefixes[gt->prefix], size);
      j->regrow = size;
      char buf[240]; /* the reason given should it not be dispatched again after all */
      snprintf(buf, sizeof buf,
               "its %zu-byte output does not fit under gpu %d's memory limit of %lld bytes now (the rest "
               "is held by jobs in flight)",
               size, j->dev->index, (long long)j->dev->limit);
      why = strdup(buf);
    }
    j->has_out = 0;
    free(j->alloc_err);
    j->alloc_err = why;
    return NULL;
  }
  j->regrow = 0;
  if (extra > 0 && j->dev->limit == 0) {
    dtxi_charge(dtxi_sched_of(j->r->cl)->gpus, j->dev, extra);
    j->out_charged += extra;
  }
  if (dtxi_alloc_async(j->s, size > 0 ? size : 1, &j->out_ptr) != DTX_OK) {
    j->has_out = 0;
    j->out_ptr = NULL;
    free(j->alloc_err);
    j->alloc_err = strdup(dtx_last_error());
    return NULL;
  }
  /* Learnt once its room is had, so that tasks of the same name dispatched
   * meanwhile cannot take it first. */
  const gtask *gt = &j->r->g->tasks[j->t->gid];
  dtxi_gpus_learn_output(dtxi_sched_of(j->r->cl)->gpus, j->r->g->prefixes[gt->prefix], size);
  return j->out_ptr;
}

int dtxi_gpu_device(const gjob *j) { return j->dev->index; }

void *dtxi_gpu_native_stream(const gjob *j) { return j->s->b->ops->native_stream(j->s); }

/* ---- running the implementation ------------------------------------------------------------ */

void dtxi_job_invoke(gjob *j, dtx_task_fn fn) {
  run *r = j->r;
  const gtask *gt = &r->g->tasks[j->t->gid];
  dtx_task_ctx ctx = {.cl = r->cl, .worker = -1, .run = r, .rt = j->t, .gt = gt, .gpu = j};
  char *msg = NULL;
  if (dtxi_task_invoke(&ctx, fn, r->g->prefixes[gt->prefix], gt->nidx, gt->idx, &msg)) {
    if (msg != NULL && j->alloc_err != NULL) {
      /* Say why the output could not be had. */
      size_t len = strlen(msg) + strlen(j->alloc_err) + 4;
      char *both = malloc(len);
      if (both != NULL) {
        snprintf(both, len, "%s (%s)", msg, j->alloc_err);
        free(msg);
        msg = both;
      }
    }
    j->err = msg != NULL ? msg : strdup("task failed");
    if (j->has_out && j->out_ptr != NULL && !j->borrowed) dtxi_free_async(j->s, j->out_ptr);
    j->has_out = 0;
    j->out_ptr = NULL;
  }
}

int dtxi_job_sim_task(void *arg, char *err, size_t errlen) {
  gjob *j = arg;
  j->on_stream = 1;
  j->t_run0 = dtxi_now_ns();
  int skip = 0;
  if (j->ahead_src != NULL) {
    /* Its producer ran just before (this stream waited for it). */
    j->in_ptr[j->ahead_in] = j->ahead_src->ptr;
    j->in_size[j->ahead_in] = j->ahead_src->size;
    skip = j->ahead_src->failed; /* it fails with its input when done */
  }
  if (!skip) dtxi_job_invoke(j, j->r->g->impls[j->r->g->tasks[j->t->gid].impl].cpu);
  if (j->slot != NULL) {
    j->slot->ptr = j->has_out ? j->out_ptr : NULL;
    j->slot->size = j->has_out ? j->out_size : 0;
    j->slot->failed = skip || j->err != NULL;
  }
  j->t_run1 = dtxi_now_ns();
  (void)err;
  (void)errlen;
  return 0;
}
