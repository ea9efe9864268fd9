/*
 * scheduler/gpu/complete.c - completing GPU jobs: the progress thread, which
 * waits for each job's events and moves it on (advance), brings outputs home
 * on the d2h stream, and finishes the task (finish).
 *
 * Owns: the progress thread, its list of jobs in flight (dtxi_gpus.pending,
 * touched by that thread only) and the hand-over list (dtxi_gpus.incoming,
 * under g->mu).
 * Threads: dispatchers hand jobs over (dtxi_gpus_handoff) from any thread;
 * streams wake the thread through dtxi_gpus_kick, a host function queued
 * behind every event it waits for. Only this thread polls events and
 * completes GPU tasks; no worker ever blocks on a stream.
 * A job's two phases: 1, the task is enqueued (event ev); 2, the copy home is
 * enqueued (event ev2), when a CPU task or the caller reads the output. A job
 * run ahead is finished only after the job it was enqueued behind. A job
 * whose output outgrew its reservation while other jobs held the room
 * (gjob.regrow) is not finished but given back, and its task dispatched
 * again (redo).
 * Invariants: a job is on exactly one of `incoming`, `pending`, or being
 * advanced; once finished, its device's inflight and queued_ns no longer
 * count it and its reservation is given back or held by the output's copy.
 */
#include <stdlib.h>
#include <time.h>

#include "base/error.h"
#include "scheduler/gpu/gpu_internal.h"

int dtxi_gpus_kick(void *arg, char *err, size_t errlen) {
  dtxi_gpus *g = arg;
  (void)err;
  (void)errlen;
  pthread_mutex_lock(&g->mu);
  g->kicked = 1;
  pthread_cond_signal(&g->cv);
  pthread_mutex_unlock(&g->mu);
  return 0;
}

void dtxi_gpus_handoff(dtxi_gpus *g, gjob *j) {
  pthread_mutex_lock(&g->mu);
  j->next = g->incoming;
  g->incoming = j;
  pthread_cond_signal(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

static int has_gpu_reader(const run *r, const rtask *t) {
  const uint32_t *deps = r->deps + t->dep_off;
  for (uint32_t k = 0; k < t->ndeps; k++)
    if (dtxi_gpu_eligible(r, &r->rt[deps[k]])) return 1;
  return 0;
}

/* Drops a host output nobody has seen, whatever readers it was made for. */
static void drop_host_out(gjob *j) {
  if (j->host_out == NULL) return;
  atomic_store_explicit(&j->host_out->refs, 1, memory_order_relaxed);
  dtxi_chunk_unref(j->host_out);
  j->host_out = NULL;
}

static void free_out(gjob *j) {
  if (j->out_ptr == NULL || j->borrowed) return;
  pthread_mutex_lock(&j->dev->mu);
  dtxi_free_async(j->s, j->out_ptr);
  pthread_mutex_unlock(&j->dev->mu);
}

/* Run ahead: its producer finished first (the progress thread sees to that);
 * the producer's copy it read was pinned for it. 0 when the producer failed:
 * then it fails with the same message, like any task whose input failed
 * (whatever it computed is dropped). */
static int finish_ahead(dtxi_gpus *g, gjob *j) {
  gdev *d = j->dev;
  atomic_fetch_sub(&d->ahead, 1);
  if (j->after->res != NULL && j->after->res->copy[d->index].owner != NULL)
    dtxi_copy_unpin(g, &j->after->res->copy[d->index]);
  if (j->after->err == NULL) return 1;
  free(j->err);
  j->err = NULL;
  drop_host_out(j);
  free_out(j);
  j->out_ptr = NULL;
  j->has_out = 0;
  j->t->err = j->after->err;
  atomic_store_explicit(&j->r->any_error, 1, memory_order_relaxed);
  return 0;
}

/* The job failed: copies it fetched may not hold the data: drop them. */
static void drop_fetched(dtxi_gpus *g, gjob *j) {
  for (int i = 0; i < j->ninputs; i++)
    if (j->made[i] != NULL) {
      gcopy *c = j->made[i];
      j->made[i] = NULL;
      dtxi_copy_unpin(g, c);
      pthread_mutex_lock(&j->dev->mu);
      dtxi_copy_drop(g, c);
      pthread_mutex_unlock(&j->dev->mu);
    }
}

/* The task succeeded: its host copy is its output; the device copy stays for
 * GPU readers (with none it goes at once). The output's residency record, or
 * NULL; *give_back loses what the copy holds on to. */
static gres *keep_output(dtxi_gpus *g, gjob *j, int64_t *give_back) {
  run *r = j->r;
  gdev *d = j->dev;
  j->t->out = j->host_out;
  dtxi_chunk_unpin(j->host_out); /* here now: it may spill to disk */
  int keep = j->out_ptr != NULL && (j->host_out == NULL || has_gpu_reader(r, j->t));
  gres *res = keep ? dtxi_gres_new(g, r, j->t, d->index, j->out_size, j->host_out != NULL) : NULL;
  if (res == NULL) {
    if (j->out_ptr != NULL) {
      free_out(j);
      if (j->host_out == NULL) /* the only copy is gone (out of memory for its record) */
        dtxi_run_fail(r, j->t, dtxi_gpu_task_error(r, j->t, "out of host memory keeping its output"));
    }
    return NULL;
  }
  dtxi_kspill *old_spill = NULL;
  pthread_mutex_lock(&g->res_mu);
  gcopy *c = &res->copy[d->index];
  if (j->borrowed) { /* a persisted chunk, charged to its array; the job's user count passes to the copy */
    c->kept = 1;
    c->slot = j->borrow_slot;
    j->borrow_slot = NULL;
  } else if (j->rekeep != NULL && j->rekeep->ptr == NULL && j->rekeep->spill == j->unspill) {
    /* a spilled persisted chunk back on its GPU: kept there again */
    c->kept = 1;
    c->slot = j->rekeep;
    old_spill = dtxi_kept_back(g->store, j->rekeep, j->out_ptr, 1);
  }
  /* pinned by the readers run ahead of it until they are done */
  dtxi_copy_add(g, res, d->index, j->out_ptr, j->ev, j->slot != NULL ? j->slot->readers : 0);
  if (!j->borrowed) d->reserved -= (int64_t)res->size; /* held on by the copy (or the chunk kept again) */
  pthread_mutex_unlock(&g->res_mu);
  j->ev = NULL;
  if (!j->borrowed) *give_back -= (int64_t)res->size; /* held on by the copy */
  j->t->res = res;
  dtxi_kspill_unref(old_spill); /* the slot's reference; the job still holds its own */
  return res;
}

/* Gives back what a job took (pins, fetched copies, reservation, counters)
 * and frees it, for a job that made nothing: its task is dispatched again. */
static void give_back_job(dtxi_gpus *g, gjob *j) {
  gdev *d = j->dev;
  if (j->keep_slot != NULL) dtxi_keep_input_done(j, 0);
  drop_fetched(g, j);
  dtxi_job_unpin_inputs(j);
  drop_host_out(j);
  free_out(j);
  free(j->err);
  j->err = NULL;
  if (j->borrow_slot != NULL) {
    pthread_mutex_lock(&g->res_mu);
    j->borrow_slot->users--;
    pthread_mutex_unlock(&g->res_mu);
    j->borrow_slot = NULL;
  }
  dtxi_uncharge(g, d, j->in_charged + j->out_charged);
  atomic_fetch_sub(&d->inflight, 1);
  atomic_fetch_sub(&d->queued_ns, j->est_ns);
  dtxi_job_free(j); /* (a probe of its name's output size ends) */
}

/* The readers run ahead behind t's job (simulated GPUs: they read its
 * failure and skipped), and those run ahead behind them: their jobs are
 * stale, dropped when their events complete; their tasks wait for their
 * inputs again and are handed over the usual way. Every one of those jobs
 * was handed over before t's job (its dispatch ran them ahead first), so
 * they are all on the pending list. 0 when out of memory (nothing done). */
static int unchain_readers(dtxi_gpus *g, rtask *t) {
  size_t n = 1, cap = 16;
  rtask **set = malloc(cap * sizeof *set);
  if (set == NULL) return 0;
  set[0] = t;
  for (int more = 1; more;) {
    more = 0;
    for (gjob *p = g->pending; p != NULL; p = p->next) {
      if (p->after == NULL || p->stale) continue;
      size_t k = 0;
      while (k < n && set[k] != p->after) k++;
      if (k == n) continue;
      if (n == cap) {
        rtask **bigger = realloc(set, 2 * cap * sizeof *set);
        if (bigger == NULL) {
          free(set);
          return 0; /* (jobs marked so far stay marked: they are stale anyway, since t's job failed) */
        }
        set = bigger;
        cap *= 2;
      }
      p->stale = 1;
      p->t->ahead = 0;
      set[n++] = p->t;
      more = 1;
    }
  }
  free(set);
  return 1;
}

/* The task failed only because its output outgrew what was reserved for it
 * while other jobs held the rest of the device (gjob.regrow; it fits with its
 * inputs in an empty device): it is dispatched again, reserving its whole
 * output up front, so that it waits, parked, until they give the room back,
 * as any task that does not fit now does. 1 when redone. */
static int redo(dtxi_gpus *g, gjob *j) {
  if (j->regrow == 0 || j->keep_slot != NULL || j->borrow_slot != NULL || j->rekeep != NULL || j->borrowed)
    return 0;
  if (j->slot != NULL && j->slot->readers > 0 && !unchain_readers(g, j->t)) return 0;
  run *r = j->r;
  rtask *t = j->t;
  dtxi_regrow_note(g, r, t, j->regrow);
  give_back_job(g, j);
  dtxi_gpu_dispatch(r, t);
  dtxi_retry_parked(g);
  return 1;
}

/* A stale job (see unchain_readers): nothing it did stands. */
static void drop_stale(dtxi_gpus *g, gjob *j) {
  atomic_fetch_sub(&j->dev->ahead, 1);
  if (j->phase == 1) {
    pthread_mutex_lock(&j->dev->mu);
    dtxi_job_free_inputs(j, j->s);
    pthread_mutex_unlock(&j->dev->mu);
  }
  give_back_job(g, j);
  dtxi_retry_parked(g);
}

static void finish(gjob *j) {
  run *r = j->r;
  gdev *d = j->dev;
  dtxi_gpus *g = dtxi_sched_of(r->cl)->gpus;
  int ran = 1;
  if (j->keep_slot != NULL)
    dtxi_keep_input_done(j, j->err == NULL && (j->after == NULL || j->after->err == NULL));
  if (j->after != NULL) ran = finish_ahead(g, j);
  if (j->err != NULL && ran && redo(g, j)) return;
  if (r->trace && j->err == NULL && ran) dtxi_gtrace_job(j);
  if (j->err != NULL) drop_fetched(g, j);
  dtxi_job_unpin_inputs(j);
  int64_t give_back = j->in_charged + j->out_charged; /* its own input buffers are freed by now */
  gres *made = NULL;
  if (j->err != NULL) {
    drop_host_out(j);
    dtxi_run_fail(r, j->t, j->err);
    j->err = NULL;
    free_out(j);
  } else if (ran) {
    made = keep_output(g, j, &give_back);
  }
  if (j->borrow_slot != NULL) { /* no copy of the output took its user count over */
    pthread_mutex_lock(&g->res_mu);
    j->borrow_slot->users--;
    pthread_mutex_unlock(&g->res_mu);
    j->borrow_slot = NULL;
  }
  /* A broadcast of the output counts as in flight before the job stops
   * counting (dtxi_park: a task parked meanwhile waits for it). */
  if (made != NULL) atomic_fetch_add(&g->bcasts, 1);
  dtxi_uncharge(g, d, give_back);
  atomic_fetch_sub(&d->inflight, 1);
  atomic_fetch_sub(&d->queued_ns, j->est_ns);
  rtask *t = j->t;
  t->gpu_done = 1;
  dtxi_job_free(j);
  dtxi_gpu_root_done(r, t);
  if (made != NULL) {
    dtxi_gpu_broadcast(g, r, t, made);
    atomic_fetch_sub(&g->bcasts, 1);
  }
  dtxi_retry_parked(g);
  dtxi_run_task_done(r, t, ran);
}

/* A host copy is needed when a CPU task reads the output or the caller asked
 * for it (references beyond the dependents' reads). */
static int needs_host_copy(const run *r, const rtask *t) {
  if (t->nrefs > (int32_t)t->ndeps) return 1;
  const uint32_t *deps = r->deps + t->dep_off;
  for (uint32_t k = 0; k < t->ndeps; k++)
    if (!dtxi_gpu_eligible(r, &r->rt[deps[k]])) return 1;
  return 0;
}

/* What the task took on the GPU, learned for its kind. */
static void learn_duration(dtxi_gpus *g, gjob *j) {
  const gtask *gt = &j->r->g->tasks[j->t->gid];
  uint64_t t0 = j->t_run0 ? j->t_run0 : j->t_dispatch, t1 = j->t_run1 ? j->t_run1 : j->t_done1;
  size_t bytes = 0;
  for (int i = 0; i < j->ninputs; i++) bytes += j->in_size[i];
  dtxi_gpus_learn(g, j->r->g->prefixes[gt->prefix], 1, bytes, (int64_t)(t1 - t0));
}

/* Phase 1 done: queues the output's way home on the d2h stream, and the
 * event (ev2) whose completion finishes the task. d->mu held. */
static dtx_status copy_home(dtxi_gpus *g, gjob *j) {
  gdev *d = j->dev;
  dtx_status rc = dtxi_event_create(g->b, d->index, &j->ev2); /* before anything is queued */
  if (rc == DTX_OK) rc = dtxi_stream_wait(d->d2h, j->ev);
  if (rc == DTX_OK && j->has_out && j->out_size > 0) {
    /* pinned until done */
    j->host_out = dtxi_chunk_new_spillable(dtxi_sched_of(j->r->cl)->mem, j->out_size, j->t->nrefs);
    if (j->host_out == NULL)
      rc = dtxi_fail(DTX_ENOMEM, "out of host memory for a %zu-byte output", j->out_size);
    else
      rc = dtxi_copy_async(d->d2h, j->host_out->data, DTXI_HOST, j->out_ptr, d->index, j->out_size);
    if (rc == DTX_OK) {
      pthread_mutex_lock(&g->res_mu);
      d->bytes_to_host += (int64_t)j->out_size;
      pthread_mutex_unlock(&g->res_mu);
    }
  } else if (rc == DTX_OK && j->has_out) {
    j->host_out = dtxi_chunk_new(dtxi_sched_of(j->r->cl)->mem, 0, j->t->nrefs);
    if (j->host_out == NULL) rc = dtxi_fail(DTX_ENOMEM, "out of host memory");
  }
  dtxi_job_free_inputs(j, d->d2h);
  if (j->has_out && j->out_ptr != NULL && j->out_size == 0 && !j->borrowed) {
    dtxi_free_async(j->s, j->out_ptr);
    j->out_ptr = NULL;
  }
  if (rc == DTX_OK) rc = dtxi_event_record(j->ev2, d->d2h);
  if (rc == DTX_OK) rc = dtxi_host_fn(d->d2h, dtxi_gpus_kick, g);
  return rc;
}

/* The event of phase 1 or 2 completed (or failed): move the job on. */
static void advance(dtxi_gpus *g, gjob *j, dtxi_event_state st) {
  gdev *d = j->dev;
  if (j->stale) {
    drop_stale(g, j);
    return;
  }
  if (st == DTXI_EVENT_FAILED && j->err == NULL)
    j->err = dtxi_gpu_task_error(j->r, j->t, dtxi_event_error(j->phase == 1 ? j->ev : j->ev2));
  if (j->phase == 2 || j->err != NULL) {
    if (j->phase == 1) {
      pthread_mutex_lock(&d->mu);
      dtxi_job_free_inputs(j, j->s);
      pthread_mutex_unlock(&d->mu);
    }
    finish(j);
    return;
  }
  j->t_done1 = dtxi_now_ns();
  learn_duration(g, j);
  if (!needs_host_copy(j->r, j->t)) {
    /* Only GPU tasks read it: it stays on the device, no copy home. */
    pthread_mutex_lock(&d->mu);
    dtxi_job_free_inputs(j, j->s);
    pthread_mutex_unlock(&d->mu);
    finish(j);
    return;
  }
  pthread_mutex_lock(&d->mu);
  if (copy_home(g, j) != DTX_OK) j->err = dtxi_gpu_task_error(j->r, j->t, dtx_last_error());
  dtxi_stream_reset(d->d2h);
  pthread_mutex_unlock(&d->mu);
  if (j->err != NULL) {
    finish(j);
    return;
  }
  j->phase = 2;
  dtxi_gpus_handoff(g, j);
}

/* A CPU task made t's output and a GPU task reads it: give it a residency
 * record, so that the copies fetched to GPUs are reused by later readers. */
void dtxi_gpu_host_output(run *r, rtask *t) {
  if (t->out == NULL || t->out->size == 0 || t->res != NULL) return;
  const uint32_t *deps = r->deps + t->dep_off;
  for (uint32_t k = 0; k < t->ndeps; k++)
    if (dtxi_gpu_eligible(r, &r->rt[deps[k]])) {
      t->res = dtxi_gres_new(dtxi_sched_of(r->cl)->gpus, r, t, -1, t->out->size, 1);
      return; /* without one (out of memory) readers fetch from the host each time */
    }
}

/* Waits for jobs to hand over or a stream to kick; with jobs pending and
 * nothing new, polls again after a millisecond in case a kick was skipped (a
 * failed stream skips it). g->mu held. */
static void progress_wait(dtxi_gpus *g, const gjob *pending, int idle_rounds) {
  while (g->incoming == NULL && pending == NULL && !g->stop) pthread_cond_wait(&g->cv, &g->mu);
  if (pending != NULL && g->incoming == NULL && !g->kicked && !g->stop && idle_rounds > 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 1000000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&g->cv, &g->mu, &ts);
  }
}

void *dtxi_gpus_progress_main(void *arg) {
  dtxi_gpus *g = arg;
  int idle_rounds = 0;
  dtxi_nvtx_name_thread("dtx gpu progress");
  for (;;) {
    pthread_mutex_lock(&g->mu);
    progress_wait(g, g->pending, idle_rounds);
    g->kicked = 0;
    gjob *in = g->incoming;
    g->incoming = NULL;
    int stop = g->stop;
    pthread_mutex_unlock(&g->mu);
    while (in != NULL) {
      gjob *next = in->next;
      in->next = g->pending;
      g->pending = in;
      in = next;
    }
    if (g->pending == NULL && stop) break;
    int progressed = 0;
    for (gjob **pp = &g->pending; *pp != NULL;) {
      gjob *j = *pp;
      dtxi_event_state st = dtxi_event_query(j->phase == 1 ? j->ev : j->ev2);
      if (st == DTXI_EVENT_PENDING || (j->after != NULL && !j->stale && !j->after->gpu_done)) {
        /* (a job run ahead finishes after the job it ran behind) */
        pp = &j->next;
        continue;
      }
      *pp = j->next;
      progressed = 1;
      advance(g, j, st);
    }
    idle_rounds = progressed ? 0 : idle_rounds + 1;
  }
  return NULL;
}
