/*
 * scheduler/gpu/check.c - the GPU executor's invariant checker.
 *
 * dtxi_gpus_check walks the state gpu_internal.h states equations about and
 * says which one does not hold: per device, with res_mu held,
 *   used = reserved + the bytes of the copies there that are not persisted
 *          chunks (every residency record alive, g->live) + kept;
 *   kept = the bytes of the persisted chunks on the chunk store's list of
 *          the device, each listed once, with device memory, the list
 *          linked both ways (dtxi_store_check);
 *   the LRU holds exactly the copies there with pins == 0 (walked both ways,
 *          in_lru flags and counts agree), each with device memory;
 *   a copy has memory exactly when its bit of `resident` is set; a copy
 *          lent from a persisted chunk points at its slot's memory;
 *   used <= limit when there is a limit; peak >= used; nothing negative;
 *   when idle (no job in flight, no broadcast under way): reserved = 0 and
 *          no copy is pinned.
 * It only reads (a snapshot under res_mu: cheap, but walks every record),
 * so it is always compiled; builds with DTX_CHECK_INVARIANTS run it after
 * every graph computation of the cluster scheduler and abort on a violation
 * (dtxi_gpus_assert_consistent, called by compute.c).
 *
 * Owns nothing. Threads: any thread holding no executor lock.
 */
#include <stdarg.h>
#include <stdio.h>

#include "base/error.h"
#include "scheduler/gpu/gpu_internal.h"

/* Walks stop after this many steps: a corrupted list may loop. */
#define WALK_MAX ((int64_t)1 << 26)

static int say(char *why, size_t n, const gdev *d, const char *fmt, ...) DTX_PRINTF(4, 5);
static int say(char *why, size_t n, const gdev *d, const char *fmt, ...) {
  if (why != NULL && n > 0) {
    int k = snprintf(why, n, "gpu %d: ", d->index);
    if (k >= 0 && (size_t)k < n) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(why + k, n - (size_t)k, fmt, ap);
      va_end(ap);
    }
  }
  return -1;
}

/* The LRU walked from the head and from the tail: *count entries. */
static int check_lru(const gdev *d, int64_t *count, char *why, size_t n) {
  int64_t fwd = 0, back = 0;
  const gcopy *prev = NULL;
  for (const gcopy *c = d->lru_head; c != NULL; prev = c, c = c->next) {
    if (++fwd > WALK_MAX) return say(why, n, d, "the LRU loops (walked from its head)");
    if (!c->in_lru) return say(why, n, d, "LRU entry %lld is not flagged in_lru", (long long)fwd - 1);
    if (c->prev != prev) return say(why, n, d, "LRU entry %lld: prev link broken", (long long)fwd - 1);
    if (c->dev != d->index)
      return say(why, n, d, "LRU entry %lld is a copy on gpu %d", (long long)fwd - 1, c->dev);
    if (c->ptr == NULL) return say(why, n, d, "LRU entry %lld has no device memory", (long long)fwd - 1);
    if (c->pins != 0) return say(why, n, d, "LRU entry %lld is pinned %d times", (long long)fwd - 1, c->pins);
  }
  if (d->lru_tail != prev) return say(why, n, d, "the LRU's tail is not its last entry");
  const gcopy *next = NULL;
  for (const gcopy *c = d->lru_tail; c != NULL; next = c, c = c->prev) {
    if (++back > WALK_MAX) return say(why, n, d, "the LRU loops (walked from its tail)");
    if (c->next != next)
      return say(why, n, d, "LRU entry %lld from the tail: next link broken", (long long)back - 1);
  }
  if (d->lru_head != next) return say(why, n, d, "the LRU's head is not its first entry walked back");
  if (fwd != back)
    return say(why, n, d, "the LRU has %lld entries forwards, %lld backwards", (long long)fwd,
               (long long)back);
  *count = fwd;
  return 0;
}

/* The chunk store's list of d (data/store.c checks it): *bytes, their sizes. */
static int check_kept(dtxi_gpus *g, const gdev *d, int64_t *bytes, char *why, size_t n) {
  char what[256];
  if (dtxi_store_check(g->store, d->index, what, sizeof what) != 0) return say(why, n, d, "%s", what);
  *bytes = dtxi_store_bytes(g->store, d->index);
  return 0;
}

/* What the residency records hold on d. */
typedef struct copies {
  int64_t bytes;  /* of the copies with memory that are not persisted chunks */
  int64_t in_lru; /* copies flagged in_lru */
  int64_t pinned; /* copies pinned */
} copies;

static int check_copy(const gdev *d, const gres *res, const gcopy *c, copies *sum, char *why, size_t n) {
  uint32_t bit = atomic_load_explicit(&res->resident, memory_order_relaxed) & (1u << d->index);
  if (c->owner != res || c->dev != d->index) return say(why, n, d, "a copy's owner or device is wrong");
  if ((c->ptr != NULL) != (bit != 0))
    return say(why, n, d, "a copy %s device memory but its resident bit is %s",
               c->ptr != NULL ? "has" : "has no", bit ? "set" : "clear");
  if (c->pins < 0) return say(why, n, d, "a copy is pinned %d times", c->pins);
  if (c->ptr == NULL) {
    if (c->in_lru || c->pins != 0 || c->kept)
      return say(why, n, d, "a copy without memory is %s",
                 c->in_lru ? "in the LRU"
                 : c->pins ? "pinned"
                           : "kept");
    return 0;
  }
  if ((c->pins == 0) != (c->in_lru != 0))
    return say(why, n, d, "a copy pinned %d times is %sin the LRU", c->pins, c->in_lru ? "" : "not ");
  if (c->kept &&
      (c->slot == NULL || c->slot->dev != d->index || c->slot->ptr != c->ptr || c->slot->users < 1))
    return say(why, n, d, "a copy lent from a persisted chunk does not match its slot");
  if (!c->kept) sum->bytes += (int64_t)res->size;
  sum->in_lru += c->in_lru != 0;
  sum->pinned += c->pins > 0;
  return 0;
}

/* One device (res_mu held); `idle`: no job in flight, no broadcast under way. */
static int check_dev(dtxi_gpus *g, gdev *d, int idle, char *why, size_t n) {
  if (d->used < 0 || d->reserved < 0)
    return say(why, n, d, "negative memory counter (used %lld, reserved %lld)", (long long)d->used,
               (long long)d->reserved);
  if (d->limit > 0 && d->used > d->limit)
    return say(why, n, d, "used %lld bytes, past its limit of %lld", (long long)d->used, (long long)d->limit);
  int64_t lru = 0, kept = 0;
  if (check_lru(d, &lru, why, n) || check_kept(g, d, &kept, why, n)) return -1;
  copies sum = {0, 0, 0};
  int64_t steps = 0;
  for (const gres *res = g->live; res != NULL; res = res->live_next) {
    if (++steps > WALK_MAX) return say(why, n, d, "the residency records' list loops");
    if (check_copy(d, res, &res->copy[d->index], &sum, why, n)) return -1;
  }
  if (sum.in_lru != lru)
    return say(why, n, d, "%lld copies are flagged in_lru but the LRU holds %lld", (long long)sum.in_lru,
               (long long)lru);
  if (d->used != d->reserved + sum.bytes + kept)
    return say(why, n, d, "used %lld != reserved %lld + copies %lld + kept %lld", (long long)d->used,
               (long long)d->reserved, (long long)sum.bytes, (long long)kept);
  if (d->peak < d->used)
    return say(why, n, d, "peak %lld below used %lld", (long long)d->peak, (long long)d->used);
  if (idle && d->reserved != 0)
    return say(why, n, d, "%lld bytes reserved with no job in flight", (long long)d->reserved);
  if (idle && sum.pinned != 0)
    return say(why, n, d, "%lld copies pinned with no job in flight", (long long)sum.pinned);
  return 0;
}

int dtxi_gpus_check(dtxi_gpus *g, char *why, size_t n) {
  if (why != NULL && n > 0) why[0] = '\0';
  if (g == NULL) return 0;
  int bad = 0;
  if (g->store == NULL) return 0; /* not started yet */
  pthread_mutex_lock(&g->res_mu);
  /* Under res_mu: a job reserves after it counts in inflight, and stops
   * counting after it gave its reservation back. */
  int idle = dtxi_total_inflight(g) == 0 && atomic_load(&g->bcasts) == 0;
  for (int i = 0; i < g->ndev && !bad; i++) bad = check_dev(g, &g->dev[i], idle, why, n) != 0;
  pthread_mutex_unlock(&g->res_mu);
  return bad ? -1 : 0;
}

void dtxi_gpus_assert_consistent(dtxi_gpus *g) {
  char why[512];
  if (dtxi_gpus_check(g, why, sizeof why) != 0) dtxi_assert_fail(why, __FILE__, __LINE__);
}
