/*
 * data/mem_check.c - checks the invariants of the host memory accounting
 * (mem.h) and says which one broke.
 *
 * Run by debug and sanitizer builds after every computation
 * (DTX_CHECK_INVARIANTS), and by the tests. Takes m->mu for the walk, so it
 * may run while other computations allocate; what it checks holds at every
 * moment the lock is free:
 *   the LRU is a well-formed list (prev/next agree, head and tail are its
 *   ends, forward and backward walks count the same chunks);
 *   every chunk on it is spillable, in memory (not spilled), has no pins,
 *   no file write or read in flight (io), references left and in_lru set;
 *   the in-memory bytes of the chunks on it fit in `used`, which never goes
 *   below the cluster's bias while the cluster lives (nor below zero after);
 *   the spill counters never run backwards (read backs <= spills, in bytes
 *   and in counts) and bytes on disk are not negative.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "base/error.h"
#include "data/mem.h"

static int broke(char *why, size_t n, const char *fmt, ...) {
  if (why != NULL && n > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
  }
  return 1;
}

static int check_chunk(const dtx_chunk *c, const dtx_chunk *prev, char *why, size_t n) {
  if (c->prev != prev)
    return broke(why, n, "host LRU: chunk %p's prev link is %p, not %p", (void *)c, (void *)c->prev,
                 (void *)prev);
  if (!c->in_lru) return broke(why, n, "host LRU: chunk %p is listed without in_lru", (void *)c);
  if (!c->spillable) return broke(why, n, "host LRU: chunk %p is listed but not spillable", (void *)c);
  if (c->spilled) return broke(why, n, "host LRU: chunk %p is listed but spilled", (void *)c);
  if (c->io)
    return broke(why, n, "host LRU: chunk %p is listed while its file is written or read", (void *)c);
  if (c->pins != 0)
    return broke(why, n, "host LRU: chunk %p is listed with %d pins", (void *)c, (int)c->pins);
  int32_t refs = atomic_load_explicit(&c->refs, memory_order_acquire);
  if (refs <= 0)
    return broke(why, n, "host LRU: chunk %p is listed with %d references", (void *)c, (int)refs);
  return 0;
}

static int check_lru(dtxi_mem *m, int64_t *bytes, char *why, size_t n) {
  int64_t count = 0;
  const dtx_chunk *prev = NULL;
  for (const dtx_chunk *c = m->lru_head; c != NULL; prev = c, c = c->next) {
    if (check_chunk(c, prev, why, n)) return 1;
    *bytes += (int64_t)c->size;
    count++;
  }
  if (m->lru_tail != prev)
    return broke(why, n, "host LRU: the tail %p is not the last chunk %p", (void *)m->lru_tail, (void *)prev);
  int64_t back = 0;
  for (const dtx_chunk *c = m->lru_tail; c != NULL; c = c->prev) back++;
  if (back != count)
    return broke(why, n, "host LRU: %" PRId64 " chunks forward, %" PRId64 " backward", count, back);
  return 0;
}

int dtxi_mem_check(dtxi_mem *m, int cluster_alive, char *why, size_t n) {
  if (m == NULL) return 0;
  pthread_mutex_lock(&m->mu);
  int64_t listed = 0;
  int bad = check_lru(m, &listed, why, n);
  int64_t used = atomic_load(&m->used) - (cluster_alive ? DTXI_MEM_BIAS : 0);
  if (!bad && used < 0) bad = broke(why, n, "host memory: used is %" PRId64 " bytes, below zero", used);
  if (!bad && listed > used)
    bad = broke(why, n, "host memory: the LRU holds %" PRId64 " bytes in memory but used counts %" PRId64,
                listed, used);
  if (!bad && (m->unspills > m->spills || m->unspilled_bytes > m->spilled_bytes))
    bad = broke(why, n, "host memory: %" PRId64 " chunks read back but %" PRId64 " spilled", m->unspills,
                m->spills);
  if (!bad && m->on_disk < 0) bad = broke(why, n, "host memory: %" PRId64 " bytes on disk", m->on_disk);
  pthread_mutex_unlock(&m->mu);
  return bad;
}

void dtxi_mem_assert_consistent(dtxi_mem *m) {
  char why[512];
  if (dtxi_mem_check(m, 1, why, sizeof why) != 0) dtxi_assert_fail(why, __FILE__, __LINE__);
}
