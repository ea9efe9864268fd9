/*
 * data/store.c - the chunk store: persisted arrays' keepers, their slots'
 * state, the per-device least-recently-used lists of chunks held on GPUs, and
 * the spilled copies' references (store.h states the rules).
 *
 * Owns: every store's keepers list (under store_mu, one lock for the
 * process: a keeper may outlive the cluster whose store it was made in, and
 * its release must then learn so safely) and one reference to each host
 * slot's chunk.
 * Device memory belongs to the attached executor, which gives it back
 * through its ops.
 * Threads: keepers are made and freed on the threads making and releasing
 * arrays; slot transitions run on the executor's threads under its lock.
 */
#include "data/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

/* Every store's keepers list, owner and ops; taken before an owner's locks. */
static pthread_mutex_t store_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- spilled copies --------------------------------------------------------------------------- */

dtxi_kspill *dtxi_kspill_new(dtx_chunk *host, dtxi_event *ready) {
  dtxi_kspill *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  atomic_init(&s->refs, 1);
  s->host = host;
  s->ready = ready;
  return s;
}

void dtxi_kspill_ref(dtxi_kspill *s) { atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed); }

void dtxi_kspill_unref(dtxi_kspill *s) {
  if (s == NULL || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
  if (s->ready != NULL) {
    dtxi_event_sync(s->ready); /* the copy to host is over before its chunk goes */
    dtxi_event_destroy(s->ready);
  }
  dtxi_chunk_unref(s->host);
  free(s);
}

/* ---- the per-device lists (the owner's lock) -------------------------------------------------- */

static void unlist(dtxi_store *st, dtxi_kept *s) {
  if (!s->listed) return;
  dtxi_kept_list *l = &st->dev[s->dev];
  if (s->prev != NULL)
    s->prev->next = s->next;
  else
    l->head = s->next;
  if (s->next != NULL)
    s->next->prev = s->prev;
  else
    l->tail = s->prev;
  s->prev = s->next = NULL;
  s->listed = 0;
  l->bytes -= (int64_t)s->size;
}

/* At the most recently used end. */
static void list(dtxi_store *st, dtxi_kept *s) {
  dtxi_kept_list *l = &st->dev[s->dev];
  s->prev = l->tail;
  s->next = NULL;
  if (l->tail != NULL)
    l->tail->next = s;
  else
    l->head = s;
  l->tail = s;
  s->listed = 1;
  l->bytes += (int64_t)s->size;
}

/* ---- slot state ------------------------------------------------------------------------------- */

/* A copy of c in m in *out (made pinned when spillable: unpinned once written). */
static dtx_status copy_chunk(dtxi_mem *m, dtx_chunk *c, dtx_chunk **out) {
  dtx_status rc = dtxi_chunk_pin(c); /* reads it back if it was spilled */
  if (rc != DTX_OK) return rc;
  dtx_chunk *k = dtxi_chunk_new_spillable(m, c->size, 1);
  if (k != NULL) {
    if (c->size > 0) memcpy(k->data, c->data, c->size);
    dtxi_chunk_unpin(k);
  }
  dtxi_chunk_unpin(c);
  if (k == NULL) return dtxi_fail(DTX_ENOMEM, "out of memory keeping a %zu-byte chunk", c->size);
  *out = k;
  return DTX_OK;
}

dtx_status dtxi_kept_hold(dtxi_kept *s, dtxi_mem *m, dtx_chunk *c) {
  dtx_chunk *k = c;
  if (c->kept || c->mem != m) { /* another slot's, or outside m's accounting */
    dtx_status rc = copy_chunk(m, c, &k);
    if (rc != DTX_OK) return rc;
  } else {
    dtxi_chunk_ref(c, 1);
  }
  k->kept = 1;
  s->dev = -1;
  s->chunk = k;
  s->size = k->size;
  return DTX_OK;
}

void dtxi_kept_set(dtxi_store *st, dtxi_kept *s, int dev, void *ptr, size_t size, int32_t users) {
  DTX_ASSERT(dev >= 0 && dev < DTXI_MAX_GPUS && !s->listed);
  s->dev = dev;
  s->size = size;
  s->ptr = ptr;
  s->users = users;
  list(st, s);
}

dtxi_kspill *dtxi_kept_back(dtxi_store *st, dtxi_kept *s, void *ptr, int32_t users) {
  DTX_ASSERT(s->dev >= 0 && s->ptr == NULL && !s->listed);
  dtxi_kspill *old = s->spill;
  s->spill = NULL;
  s->ptr = ptr;
  s->users = users;
  list(st, s);
  return old;
}

void *dtxi_kept_use(dtxi_store *st, dtxi_kept *s) {
  s->users++;
  dtxi_kept_touch(st, s);
  return s->ptr;
}

void dtxi_kept_unuse(dtxi_kept *s) {
  DTX_ASSERT(s->users > 0);
  s->users--;
}

void dtxi_kept_touch(dtxi_store *st, dtxi_kept *s) {
  if (!s->listed) return;
  unlist(st, s);
  list(st, s);
}

void *dtxi_kept_release(dtxi_store *st, dtxi_kept *s) {
  void *ptr = s->ptr;
  if (s->dev >= 0) unlist(st, s);
  s->ptr = NULL;
  return ptr;
}

dtxi_kept *dtxi_store_idle(dtxi_store *st, int dev) {
  dtxi_kept *s = st->dev[dev].head;
  while (s != NULL && (s->users > 0 || s->ptr == NULL)) s = s->next;
  return s;
}

/* Walks stop after this many steps: a corrupted list may loop. */
#define WALK_MAX ((int64_t)1 << 26)

#define SAY(...) (snprintf(why, n, __VA_ARGS__), -1)

int dtxi_store_check(const dtxi_store *st, int dev, char *why, size_t n) {
  const dtxi_kept_list *l = &st->dev[dev];
  int64_t fwd = 0, back = 0, sum = 0;
  const dtxi_kept *prev = NULL;
  for (const dtxi_kept *s = l->head; s != NULL; prev = s, s = s->next) {
    long long i = (long long)fwd;
    if (++fwd > WALK_MAX) return SAY("the persisted chunks' list loops");
    if (!s->listed) return SAY("persisted chunk %lld is not flagged listed", i);
    if (s->prev != prev) return SAY("persisted chunk %lld: prev link broken", i);
    if (s->dev != dev) return SAY("persisted chunk %lld belongs to gpu %d", i, s->dev);
    if (s->ptr == NULL) return SAY("persisted chunk %lld is listed without device memory", i);
    if (s->users < 0) return SAY("persisted chunk %lld has %d users", i, (int)s->users);
    sum += (int64_t)s->size;
  }
  if (l->tail != prev) return SAY("the persisted chunks' tail is not their last");
  const dtxi_kept *next = NULL;
  for (const dtxi_kept *s = l->tail; s != NULL; next = s, s = s->prev) {
    if (++back > WALK_MAX) return SAY("the persisted chunks' list loops backwards");
    if (s->next != next)
      return SAY("persisted chunk %lld from the tail: next link broken", (long long)back - 1);
  }
  if (l->head != next || fwd != back)
    return SAY("the persisted chunks' list has %lld entries forwards, %lld backwards", (long long)fwd,
               (long long)back);
  if (l->bytes < 0) return SAY("negative kept bytes %lld", (long long)l->bytes);
  if (sum != l->bytes)
    return SAY("kept counts %lld bytes but its persisted chunks hold %lld", (long long)l->bytes,
               (long long)sum);
  return 0;
}

/* ---- the store and its keepers ---------------------------------------------------------------- */

void dtxi_store_init(dtxi_store *st) { memset(st, 0, sizeof *st); }

void dtxi_store_attach(dtxi_store *st, const dtxi_store_ops *ops, void *owner) {
  pthread_mutex_lock(&store_mu);
  st->ops = ops;
  st->owner = owner;
  pthread_mutex_unlock(&store_mu);
}

/* Gives back what device slot s holds (store_mu held). */
static void give_back(dtxi_store *st, dtxi_kept *s) {
  if (s->dev >= 0 && st != NULL && st->ops != NULL) st->ops->give_back(st->owner, s);
}

void dtxi_store_detach(dtxi_store *st) {
  pthread_mutex_lock(&store_mu);
  for (dtxi_keeper *k = st->keepers, *next; k != NULL; k = next) {
    next = k->next;
    for (int64_t b = 0; b < k->n; b++) give_back(st, &k->slot[b]);
    k->st = NULL;
    k->prev = k->next = NULL;
  }
  st->keepers = NULL;
  st->ops = NULL;
  st->owner = NULL;
  pthread_mutex_unlock(&store_mu);
}

dtxi_keeper *dtxi_keeper_new(dtxi_store *st, int64_t n) {
  dtxi_keeper *k = n >= 0 ? calloc(1, sizeof *k + (size_t)n * sizeof(dtxi_kept)) : NULL;
  if (k == NULL) {
    dtxi_fail(DTX_ENOMEM, "out of memory for %lld persisted chunks", (long long)n);
    return NULL;
  }
  k->n = n;
  for (int64_t b = 0; b < n; b++) k->slot[b].dev = -1;
  pthread_mutex_lock(&store_mu);
  if (st != NULL && st->ops != NULL) {
    k->st = st;
    k->next = st->keepers;
    if (k->next != NULL) k->next->prev = k;
    st->keepers = k;
  }
  pthread_mutex_unlock(&store_mu);
  return k;
}

void dtxi_keeper_clear(dtxi_keeper *k) {
  int gave = 0;
  pthread_mutex_lock(&store_mu);
  for (int64_t b = 0; b < k->n; b++) {
    dtxi_kept *s = &k->slot[b];
    if (s->dev < 0) {
      dtxi_chunk_unref(s->chunk);
    } else if (k->st != NULL) {
      gave |= s->ptr != NULL;
      give_back(k->st, s);
    }
    *s = (dtxi_kept){.dev = -1};
  }
  /* work may have waited for that room (under the lock: the executor cannot
   * detach meanwhile) */
  if (gave && k->st != NULL && k->st->ops->room != NULL) k->st->ops->room(k->st->owner);
  pthread_mutex_unlock(&store_mu);
}

void dtxi_keeper_free(dtxi_keeper *k) {
  if (k == NULL) return;
  dtxi_keeper_clear(k);
  pthread_mutex_lock(&store_mu);
  if (k->st != NULL) {
    if (k->prev != NULL)
      k->prev->next = k->next;
    else
      k->st->keepers = k->next;
    if (k->next != NULL) k->next->prev = k->prev;
  }
  pthread_mutex_unlock(&store_mu);
  free(k);
}
