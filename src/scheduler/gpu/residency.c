/*
 * scheduler/gpu/residency.c - where task outputs live on the GPUs, and device
 * memory under its limit.
 *
 * Owns: the copies of each output (struct gres: one per device at most, made
 * by the producing task or fetched by a reader and then reused by later
 * readers there), the per-device LRU of copies no job is using, the device
 * memory counters, spilling (persisted chunks too: the chunk store,
 * data/store.c, keeps their slots and per-device lists), the tasks parked
 * for room, and the output sizes of tasks dispatched again because their
 * outputs outgrew their reservations (dtxi_gpus.regrow).
 * Threads: any dispatcher, the progress thread, CPU workers releasing a read;
 * everything here is under dtxi_gpus.res_mu (see gpu_internal.h for the lock
 * order). Frees and spill copies go on the device's d2h stream, so callers
 * that spill hold that device's feed lock.
 *
 * Spilling a copy: if the output has another copy (on the host, or on another
 * device) the device memory is just given back; otherwise it is first copied
 * to a new host chunk (which may in turn spill to disk, mem.c), and readers
 * fetch it from there once `host_ready` completes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "scheduler/gpu/gpu_internal.h"
#include "scheduler/task.h"

void dtxi_gpu_key(const run *r, const rtask *t, char *buf, size_t n) {
  const gtask *gt = &r->g->tasks[t->gid];
  dtxi_key_format(r->g->prefixes[gt->prefix], gt->nidx, gt->idx, buf, n);
}

char *dtxi_gpu_task_error(const run *r, const rtask *t, const char *what) {
  char key[DTX_MAX_KEY], buf[1024];
  dtxi_gpu_key(r, t, key, sizeof key);
  snprintf(buf, sizeof buf, "%s: %s", key, what);
  return strdup(buf);
}

int dtxi_gpu_to_cpu(run *r, rtask *t) {
  const gtask *gt = &r->g->tasks[t->gid];
  if (gt->where != DTX_WHERE_ANY || r->g->impls[gt->impl].cpu == NULL) return 0;
  const uint32_t *ins = dtxi_gt_inputs(gt);
  for (uint32_t i = 0; i < gt->ninputs; i++) {
    const rtask *in = &r->rt[r->map[ins[i]]];
    if (in->out == NULL && in->res != NULL) return 0; /* only on a GPU */
  }
  dtxi_gpu_root_done(r, t);
  dtxi_run_on_cpu(r, t);
  return 1;
}

void dtxi_gpu_fail_now(run *r, rtask *t, char *msg) {
  dtxi_run_fail(r, t, msg);
  dtxi_gpu_root_done(r, t);
  dtxi_run_task_done(r, t, 0);
}

gres *dtxi_gres_new(dtxi_gpus *g, run *r, rtask *t, int home, size_t size, int has_host) {
  gres *res = calloc(1, sizeof *res + (size_t)g->ndev * sizeof(gcopy));
  if (res == NULL) return NULL;
  atomic_init(&res->refs, t->nrefs);
  atomic_init(&res->resident, 0);
  res->size = size;
  res->home = home;
  res->has_host = has_host;
  res->g = g;
  res->r = r;
  res->t = t;
  for (int d = 0; d < g->ndev; d++) {
    res->copy[d].dev = (uint8_t)d;
    res->copy[d].owner = res;
  }
  pthread_mutex_lock(&g->res_mu);
  res->live_next = g->live;
  if (g->live != NULL) g->live->live_prev = res;
  g->live = res;
  pthread_mutex_unlock(&g->res_mu);
  return res;
}

/* ---- the LRU (res_mu held) ------------------------------------------------------- */

static void lru_remove(gdev *d, gcopy *c) {
  if (!c->in_lru) return;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    d->lru_head = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  else
    d->lru_tail = c->prev;
  c->prev = c->next = NULL;
  c->in_lru = 0;
}

static void lru_push(gdev *d, gcopy *c) {
  if (c->in_lru || c->ptr == NULL) return;
  c->prev = d->lru_tail;
  c->next = NULL;
  if (d->lru_tail != NULL)
    d->lru_tail->next = c;
  else
    d->lru_head = c;
  d->lru_tail = c;
  c->in_lru = 1;
}

void dtxi_copy_pin(gcopy *c) {
  if (c->pins++ == 0) lru_remove(&c->owner->g->dev[c->dev], c);
}

void dtxi_copy_unpin(dtxi_gpus *g, gcopy *c) {
  pthread_mutex_lock(&g->res_mu);
  if (--c->pins == 0) lru_push(&g->dev[c->dev], c);
  pthread_mutex_unlock(&g->res_mu);
}

void dtxi_copy_add(dtxi_gpus *g, gres *res, int d, void *ptr, dtxi_event *ready, int pins) {
  gcopy *c = &res->copy[d];
  c->ptr = ptr;
  c->ready = ready;
  c->pins = pins;
  atomic_fetch_or_explicit(&res->resident, 1u << d, memory_order_relaxed);
  if (pins == 0) lru_push(&g->dev[d], c);
}

/* ---- persisted chunks (res_mu held) --------------------------------------------------- */

static int unpin_landed(void *arg, char *err, size_t errlen);

int dtxi_copy_keep(dtxi_gpus *g, gcopy *c, dtxi_kept *slot) {
  if (c->ptr == NULL || c->kept) return 0;
  gdev *d = &g->dev[c->dev];
  lru_remove(d, c);
  c->kept = 1;
  c->slot = slot;
  dtxi_kept_set(g->store, slot, d->index, c->ptr, c->owner->size, 1);
  return 1;
}

/* Copies kept chunk s to a new host chunk on d2h, behind `after` (res_mu
 * held): s->spill. 0 when that cannot be done now (logged). */
static int kspill_make(dtxi_gpus *g, gdev *d, dtxi_kept *s, dtxi_event *after) {
  dtx_chunk *host = dtxi_chunk_new_spillable(dtxi_sched_of(g->cl)->mem, s->size, 1);
  dtxi_event *hr = NULL;
  dtx_status rc = host != NULL ? DTX_OK
                               : dtxi_fail(DTX_ENOMEM, "out of host memory spilling %zu bytes from gpu %d",
                                           s->size, d->index);
  if (rc == DTX_OK && after != NULL) rc = dtxi_stream_wait(d->d2h, after);
  if (rc == DTX_OK) rc = dtxi_event_create(g->b, d->index, &hr);
  if (rc == DTX_OK) rc = dtxi_copy_async(d->d2h, host->data, DTXI_HOST, s->ptr, d->index, s->size);
  if (rc == DTX_OK && host->spillable) rc = dtxi_host_fn(d->d2h, unpin_landed, host);
  if (rc == DTX_OK) rc = dtxi_event_record(hr, d->d2h);
  dtxi_kspill *ks = rc == DTX_OK ? dtxi_kspill_new(host, hr) : NULL;
  if (rc == DTX_OK && ks == NULL) {
    /* the copy is enqueued: let it land before its chunk goes */
    dtxi_event_sync(hr);
    rc = dtxi_fail(DTX_ENOMEM, "out of memory spilling %zu bytes from gpu %d", s->size, d->index);
  }
  if (rc != DTX_OK) {
    DTXI_LOG(DTX_LOG_WARN, "gpu %d: cannot spill a persisted %zu-byte chunk: %s", d->index, s->size,
             dtx_last_error());
    dtxi_stream_reset(d->d2h);
    dtxi_chunk_unref(host);
    dtxi_event_destroy(hr);
    return 0;
  }
  s->spill = ks;
  return 1;
}

/* Gives kept chunk s's device memory back once nothing refers to it any
 * more (its spilled copy holds the data; res_mu held). */
static void kept_release_device(dtxi_gpus *g, gdev *d, dtxi_kept *s) {
  if (s->users > 0 || s->ptr == NULL || s->spill == NULL) return;
  dtxi_free_async(d->d2h, dtxi_kept_release(g->store, s));
  d->used -= (int64_t)s->size;
  d->spills++;
  d->spilled_bytes += (int64_t)s->size;
  if (dtxi_sched_of(g->cl)->trace != NULL) {
    char args[96];
    snprintf(args, sizeof args, "{\"bytes\":%zu,\"device\":%d,\"to\":\"host\"}", s->size, d->index);
    dtxi_trace_instant(dtxi_sched_of(g->cl)->trace, DTXI_TRACE_GPU_PID(d->index), d->d2h_tid,
                       "spill persisted chunk", "spill", dtxi_now_ns(), args);
  }
}

/* Spills the least recently used kept chunk of d that no computation refers
 * to: copied to a host chunk on d2h, its device memory freed behind the copy.
 * 1 when one went. */
static int spill_kept_locked(dtxi_gpus *g, gdev *d) {
  dtxi_kept *s = dtxi_store_idle(g->store, d->index);
  if (s == NULL) return 0;
  if (s->spill == NULL && !kspill_make(g, d, s, NULL)) return 0;
  kept_release_device(g, d, s);
  return 1;
}

/* A computation's copy of a kept chunk that no job is reading (from the
 * LRU): the chunk goes to host memory (once), this copy lets go of it, and
 * the output reads from that host copy from now on; the device memory goes
 * when no other computation still refers to it. 1 when done. */
static int spill_lent_locked(dtxi_gpus *g, gdev *d, gcopy *c) {
  dtxi_kept *s = c->slot;
  gres *res = c->owner;
  if (s->spill == NULL && !kspill_make(g, d, s, c->ready)) return 0;
  uint32_t others = atomic_load_explicit(&res->resident, memory_order_relaxed) & ~(1u << d->index);
  if (!res->has_host && res->host == NULL && others == 0) {
    /* readers to come fetch it from the host copy, once it is there */
    dtxi_event *hr = NULL;
    if (dtxi_event_create(g->b, d->index, &hr) != DTX_OK || dtxi_event_record(hr, d->d2h) != DTX_OK) {
      dtxi_stream_reset(d->d2h);
      dtxi_event_destroy(hr);
      return 0;
    }
    dtxi_chunk_ref(s->spill->host, 1);
    res->host = s->spill->host;
    res->host_ready = hr;
  }
  c->ptr = NULL;
  dtxi_event_destroy(c->ready);
  c->ready = NULL;
  c->kept = 0;
  c->slot = NULL;
  atomic_fetch_and_explicit(&res->resident, ~(1u << d->index), memory_order_relaxed);
  dtxi_kept_unuse(s);
  kept_release_device(g, d, s);
  return 1;
}

void dtxi_copy_drop(dtxi_gpus *g, gcopy *c) {
  gres *res = c->owner;
  gdev *d = &g->dev[c->dev];
  pthread_mutex_lock(&g->res_mu);
  void *ptr = NULL;
  dtxi_event *ready = NULL;
  if (c->pins == 0 && c->ptr != NULL && !c->kept) {
    lru_remove(d, c);
    ptr = c->ptr;
    ready = c->ready;
    c->ptr = NULL;
    c->ready = NULL;
    atomic_fetch_and_explicit(&res->resident, ~(1u << c->dev), memory_order_relaxed);
    d->used -= (int64_t)res->size;
  }
  pthread_mutex_unlock(&g->res_mu);
  if (ptr != NULL) dtxi_free_async(d->d2h, ptr);
  dtxi_event_destroy(ready);
}

static void charge_locked(gdev *d, int64_t n) {
  d->used += n;
  d->reserved += n;
  if (d->used > d->peak) d->peak = d->used;
}

void dtxi_charge(dtxi_gpus *g, gdev *d, int64_t n) {
  pthread_mutex_lock(&g->res_mu);
  charge_locked(d, n);
  pthread_mutex_unlock(&g->res_mu);
}

void dtxi_uncharge(dtxi_gpus *g, gdev *d, int64_t n) {
  if (n == 0) return;
  pthread_mutex_lock(&g->res_mu);
  d->used -= n;
  d->reserved -= n;
  pthread_mutex_unlock(&g->res_mu);
}

/* ---- spilling ---------------------------------------------------------------------- */

static void trace_spill(dtxi_gpus *g, gdev *d, const gres *res, size_t bytes, int to_host) {
  dtxi_trace *tr = dtxi_sched_of(g->cl)->trace;
  if (tr == NULL || res->r == NULL || !res->r->trace) return;
  char key[DTX_MAX_KEY], name[DTX_MAX_KEY + 16], args[DTX_MAX_KEY + 96];
  dtxi_gpu_key(res->r, res->t, key, sizeof key);
  snprintf(name, sizeof name, "spill %s", key);
  if (strchr(key, '"') != NULL || strchr(key, '\\') != NULL) key[0] = '\0';
  snprintf(args, sizeof args, "{\"key\":\"%s\",\"bytes\":%zu,\"device\":%d,\"to\":\"%s\"}", key, bytes,
           d->index, to_host ? "host" : "nowhere (another copy exists)");
  dtxi_trace_instant(tr, DTXI_TRACE_GPU_PID(d->index), d->d2h_tid, name, "spill", dtxi_now_ns(), args);
}

/* Run on d2h once a spill copy has landed in its host chunk. */
static int unpin_landed(void *arg, char *err, size_t errlen) {
  (void)err;
  (void)errlen;
  dtxi_chunk_unpin(arg);
  return 0;
}

/* Spills the least recently used copies on d until `bytes` more fit under its
 * limit. With d->mu and res_mu held. The frees are queued on d2h (after the
 * copies to host where needed) and *room_ev (created when NULL) is recorded
 * behind them, so work that waits on it allocates once the memory is back.
 * Returns 1 when `bytes` fit now. */
static int spill_locked(dtxi_gpus *g, gdev *d, int64_t bytes, dtxi_event **room_ev) {
  int spilled = 0;
  for (gcopy *c = d->lru_head, *next; c != NULL && d->used + bytes > d->limit; c = next) {
    next = c->next;
    gres *res = c->owner;
    /* a persisted chunk lent to several computations frees nothing yet */
    if (c->kept && c->slot->users > 1) continue;
    lru_remove(d, c);
    if (c->kept) { /* a persisted chunk lent to a computation, not read now */
      if (!spill_lent_locked(g, d, c)) {
        lru_push(d, c);
        break;
      }
      spilled = 1;
      continue;
    }
    uint32_t others = atomic_load_explicit(&res->resident, memory_order_relaxed) & ~(1u << d->index);
    int to_host = !res->has_host && res->host == NULL && others == 0;
    dtx_chunk *host = NULL;
    dtxi_event *hr = NULL;
    dtx_status rc = dtxi_stream_wait(d->d2h, c->ready);
    if (rc == DTX_OK && to_host) {
      /* Pinned until the copy lands; then it may go on to disk. */
      host = dtxi_chunk_new_spillable(dtxi_sched_of(g->cl)->mem, res->size, 1);
      if (host == NULL)
        rc = dtxi_fail(DTX_ENOMEM, "out of host memory spilling %zu bytes from gpu %d", res->size, d->index);
      if (rc == DTX_OK) rc = dtxi_event_create(g->b, d->index, &hr);
      if (rc == DTX_OK) rc = dtxi_copy_async(d->d2h, host->data, DTXI_HOST, c->ptr, d->index, res->size);
      if (rc == DTX_OK && host->spillable) rc = dtxi_host_fn(d->d2h, unpin_landed, host);
      if (rc == DTX_OK) rc = dtxi_event_record(hr, d->d2h);
    }
    if (rc != DTX_OK) {
      DTXI_LOG(DTX_LOG_WARN, "gpu %d: cannot spill %zu bytes: %s", d->index, res->size, dtx_last_error());
      dtxi_stream_reset(d->d2h);
      dtxi_chunk_unref(host);
      dtxi_event_destroy(hr);
      lru_push(d, c);
      break;
    }
    dtxi_free_async(d->d2h, c->ptr);
    c->ptr = NULL;
    dtxi_event_destroy(c->ready); /* waits already queued hold on to it */
    c->ready = NULL;
    atomic_fetch_and_explicit(&res->resident, ~(1u << d->index), memory_order_relaxed);
    if (to_host) {
      res->host = host;
      res->host_ready = hr;
    }
    d->used -= (int64_t)res->size;
    d->spills++;
    d->spilled_bytes += (int64_t)res->size;
    trace_spill(g, d, res, res->size, to_host);
    spilled = 1;
  }
  /* then persisted chunks no computation refers to */
  while (d->used + bytes > d->limit && spill_kept_locked(g, d)) spilled = 1;
  if (spilled) {
    dtx_status rc = *room_ev != NULL ? DTX_OK : dtxi_event_create(g->b, d->index, room_ev);
    if (rc == DTX_OK) rc = dtxi_event_record(*room_ev, d->d2h);
    if (rc != DTX_OK) return 0;
  }
  return d->used + bytes <= d->limit;
}

int dtxi_reserve(dtxi_gpus *g, gdev *d, int64_t bytes, dtxi_event **room_ev) {
  pthread_mutex_lock(&g->res_mu);
  int ok = d->limit == 0 || d->used + bytes <= d->limit || spill_locked(g, d, bytes, room_ev);
  if (ok) charge_locked(d, bytes);
  pthread_mutex_unlock(&g->res_mu);
  return ok;
}

/* ---- release ------------------------------------------------------------------------- */

void dtxi_gres_release(gres *res) {
  if (atomic_fetch_sub_explicit(&res->refs, 1, memory_order_acq_rel) != 1) return;
  dtxi_gpus *g = res->g;
  void *ptr[DTXI_MAX_GPUS];
  dtxi_event *ready[DTXI_MAX_GPUS];
  int freed = 0;
  pthread_mutex_lock(&g->res_mu);
  for (int i = 0; i < g->ndev; i++) {
    gcopy *c = &res->copy[i];
    lru_remove(&g->dev[i], c);
    ptr[i] = c->kept ? NULL : c->ptr; /* a persisted array's: it stays */
    if (c->kept && c->slot != NULL) dtxi_kept_unuse(c->slot);
    c->kept = 0;
    c->slot = NULL;
    ready[i] = c->ready;
    if (ptr[i] != NULL) g->dev[i].used -= (int64_t)res->size;
    c->ptr = NULL;
    c->ready = NULL;
  }
  if (res->live_prev != NULL)
    res->live_prev->live_next = res->live_next;
  else
    g->live = res->live_next;
  if (res->live_next != NULL) res->live_next->live_prev = res->live_prev;
  pthread_mutex_unlock(&g->res_mu);
  for (int i = 0; i < g->ndev; i++) {
    if (ptr[i] != NULL) {
      /* Every reader is done: nothing queued still uses it. */
      pthread_mutex_lock(&g->dev[i].mu);
      dtxi_free_async(g->dev[i].d2h, ptr[i]);
      pthread_mutex_unlock(&g->dev[i].mu);
      freed = 1;
    }
    dtxi_event_destroy(ready[i]);
  }
  if (res->host_ready != NULL) {
    /* Its readers waited for the spill copy; one that never came (failed
     * upstream) did not, so make sure it is over before the chunk goes. */
    dtxi_event_sync(res->host_ready);
    dtxi_event_destroy(res->host_ready);
  }
  dtxi_chunk_unref(res->host);
  free(res);
  if (freed) dtxi_retry_parked(g);
}

/* ---- tasks dispatched again with a larger output ------------------------------------- */

void dtxi_regrow_note(dtxi_gpus *g, const run *r, const rtask *t, size_t size) {
  pthread_mutex_lock(&g->res_mu);
  gregrow *e = g->regrow;
  while (e != NULL && (e->r != r || e->t != t)) e = e->next;
  if (e == NULL && (e = calloc(1, sizeof *e)) != NULL) {
    e->r = r;
    e->t = t;
    e->next = g->regrow;
    g->regrow = e;
    atomic_fetch_add(&g->nregrow, 1);
  }
  /* (without an entry, out of memory, its name's learned size stands in) */
  if (e != NULL && size > e->size) e->size = size;
  pthread_mutex_unlock(&g->res_mu);
}

size_t dtxi_regrow_size(dtxi_gpus *g, const run *r, const rtask *t, int take) {
  if (atomic_load(&g->nregrow) == 0) return 0;
  size_t size = 0;
  pthread_mutex_lock(&g->res_mu);
  for (gregrow **pp = &g->regrow; *pp != NULL; pp = &(*pp)->next) {
    gregrow *e = *pp;
    if (e->r != r || e->t != t) continue;
    size = e->size;
    if (take) {
      *pp = e->next;
      free(e);
      atomic_fetch_sub(&g->nregrow, 1);
    }
    break;
  }
  pthread_mutex_unlock(&g->res_mu);
  return size;
}

void dtxi_regrow_forget_run(dtxi_gpus *g, const run *r) {
  if (g == NULL || atomic_load(&g->nregrow) == 0) return;
  pthread_mutex_lock(&g->res_mu);
  for (gregrow **pp = &g->regrow; *pp != NULL;) {
    gregrow *e = *pp;
    if (e->r != r) {
      pp = &e->next;
      continue;
    }
    *pp = e->next;
    free(e);
    atomic_fetch_sub(&g->nregrow, 1);
  }
  pthread_mutex_unlock(&g->res_mu);
}

/* ---- parked tasks ----------------------------------------------------------------- */

int64_t dtxi_total_inflight(dtxi_gpus *g) {
  int64_t n = 0;
  for (int i = 0; i < g->ndev; i++) n += atomic_load(&g->dev[i].inflight);
  return n;
}

void dtxi_retry_parked(dtxi_gpus *g) {
  for (int i = 0; i < g->ndev; i++) {
    gdev *d = &g->dev[i];
    pthread_mutex_lock(&g->res_mu);
    parked *p = d->parked;
    d->parked = NULL;
    pthread_mutex_unlock(&g->res_mu);
    while (p != NULL) {
      parked *next = p->next;
      run *r = p->r;
      rtask *t = p->t;
      free(p);
      dtxi_gpu_dispatch(r, t);
      p = next;
    }
  }
}

/* A job in flight retries parked tasks when it ends, and so does a broadcast
 * (whose reservations are in flight too: finish() broadcasts before it
 * retries); with neither (they all ended while t was being dispatched) t is
 * retried here at once: with nothing in flight nothing is pinned or
 * reserved, so everything may spill and it fits, unless spilling itself
 * fails, which the depth bound turns into an error instead of endless
 * retries. */
static _Thread_local int park_depth;

void dtxi_park(dtxi_gpus *g, gdev *d, run *r, rtask *t) {
  parked *p = malloc(sizeof *p);
  if (p == NULL) {
    dtxi_gpu_fail_now(r, t, dtxi_gpu_task_error(r, t, "out of memory waiting for device memory"));
    return;
  }
  p->r = r;
  p->t = t;
  pthread_mutex_lock(&g->res_mu);
  p->next = d->parked;
  d->parked = p;
  pthread_mutex_unlock(&g->res_mu);
  if (dtxi_total_inflight(g) != 0 || atomic_load(&g->bcasts) != 0) return;
  if (park_depth < 4) {
    park_depth++;
    dtxi_retry_parked(g);
    park_depth--;
    return;
  }
  pthread_mutex_lock(&g->res_mu);
  parked **pp = &d->parked;
  while (*pp != NULL && *pp != p) pp = &(*pp)->next;
  int mine = *pp == p; /* else a retry already took it and dispatches it */
  if (mine) *pp = p->next;
  pthread_mutex_unlock(&g->res_mu);
  if (mine) {
    free(p);
    if (dtxi_gpu_to_cpu(r, t)) return; /* a CPU thread can do it */
    char msg[320];
    pthread_mutex_lock(&g->res_mu);
    int64_t kept = dtxi_store_bytes(g->store, d->index);
    pthread_mutex_unlock(&g->res_mu);
    if (kept > 0)
      snprintf(
          msg, sizeof msg,
          "no room on gpu %d under its memory limit (%lld bytes): %lld bytes of it hold persisted arrays; "
          "release some (dtx_array_release), persist them elsewhere, or raise DTX_DEVICE_MEMORY_LIMIT",
          d->index, (long long)d->limit, (long long)kept);
    else
      snprintf(msg, sizeof msg,
               "no room on gpu %d under its memory limit (%lld bytes): spilling to host failed (%s)",
               d->index, (long long)d->limit, dtx_last_error());
    dtxi_gpu_fail_now(r, t, dtxi_gpu_task_error(r, t, msg));
  }
}

/* ---- counters ---------------------------------------------------------------------- */

void dtxi_gpus_stats(dtxi_gpus *g, int i, dtx_device_stats *out) {
  gdev *d = &g->dev[i];
  pthread_mutex_lock(&g->res_mu);
  out->bytes_in_use = d->used;
  out->bytes_peak = d->peak;
  out->bytes_limit = d->limit;
  out->spills = d->spills;
  out->bytes_spilled = d->spilled_bytes;
  out->unspills = d->unspills;
  out->bytes_unspilled = d->unspilled_bytes;
  if (out->size >= offsetof(dtx_device_stats, run_ahead) + sizeof out->run_ahead)
    out->run_ahead = d->run_ahead;
  if (out->size >= offsetof(dtx_device_stats, bytes_staged) + sizeof out->bytes_staged)
    out->bytes_staged = d->bytes_staged;
  if (out->size >= offsetof(dtx_device_stats, bytes_persisted) + sizeof out->bytes_persisted)
    out->bytes_persisted = dtxi_store_bytes(g->store, i);
  if (out->size >= offsetof(dtx_device_stats, broadcasts) + sizeof out->broadcasts) {
    out->bytes_from_host = d->bytes_from_host;
    out->bytes_to_host = d->bytes_to_host;
    out->bytes_peer = d->bytes_peer;
    out->bytes_nccl = d->bytes_nccl;
    out->copies_reused = d->reused;
    out->broadcasts = d->broadcasts;
  }
  pthread_mutex_unlock(&g->res_mu);
}
