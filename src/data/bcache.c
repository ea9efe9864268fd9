/*
 * data/bcache.c - the cache of freed large chunk blocks (see bcache.h).
 *
 * The slots are a small array kept in the order blocks were cached: a get
 * scans it for the best fit (64 entries at most, for chunks of 256 KiB and
 * more: nothing next to the work on them), a put appends and evicts from the
 * front. Any thread; frees of evicted blocks happen after mu is released.
 */
#include "data/bcache.h"

#include <stdlib.h>
#include <string.h>

#define PAGE ((size_t)4096)

/* Under AddressSanitizer a held block is poisoned, so that a use of a freed
 * chunk's data is still reported while its block waits here. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define HIDE(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define SHOW(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define HIDE(p, n) ((void)(p), (void)(n))
#define SHOW(p, n) ((void)(p), (void)(n))
#endif

void dtxi_bcache_init(dtxi_bcache *p, size_t cap) {
  memset(p, 0, sizeof *p);
  pthread_mutex_init(&p->mu, NULL);
  p->cap = cap;
}

/* Removes slot i (p->mu held) and returns its block. */
static void *take(dtxi_bcache *p, int i) {
  void *base = p->slot[i].base;
  p->held -= p->slot[i].bytes;
  memmove(&p->slot[i], &p->slot[i + 1], (size_t)(p->n - i - 1) * sizeof p->slot[0]);
  p->n--;
  return base;
}

void dtxi_bcache_drain(dtxi_bcache *p) {
  void *out[DTXI_BCACHE_SLOTS];
  pthread_mutex_lock(&p->mu);
  int n = p->n;
  for (int i = 0; i < n; i++) {
    out[i] = p->slot[i].base;
    SHOW(out[i], p->slot[i].bytes);
  }
  p->n = 0;
  p->held = 0;
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < n; i++) free(out[i]);
}

void dtxi_bcache_destroy(dtxi_bcache *p) {
  dtxi_bcache_drain(p);
  pthread_mutex_destroy(&p->mu);
}

void *dtxi_bcache_get(dtxi_bcache *p, size_t bytes, size_t *got) {
  void *base = NULL;
  pthread_mutex_lock(&p->mu);
  int best = -1;
  for (int i = 0; i < p->n; i++) {
    size_t b = p->slot[i].bytes;
    if (b >= bytes && b - bytes <= bytes / 4 && (best < 0 || b < p->slot[best].bytes)) best = i;
  }
  if (best >= 0) {
    *got = p->slot[best].bytes;
    base = take(p, best);
    SHOW(base, *got);
    p->hits++;
  } else {
    p->misses++;
  }
  pthread_mutex_unlock(&p->mu);
  if (base != NULL) return base;
  *got = bytes;
  return posix_memalign(&base, PAGE, bytes) == 0 ? base : NULL;
}

void dtxi_bcache_put(dtxi_bcache *p, void *base, size_t bytes, int keep) {
  void *out[DTXI_BCACHE_SLOTS + 1];
  int nout = 0;
  pthread_mutex_lock(&p->mu);
  if (!keep || bytes > p->cap) {
    out[nout++] = base;
  } else {
    while (p->n > 0 && (p->n == DTXI_BCACHE_SLOTS || p->held + bytes > p->cap)) {
      size_t b = p->slot[0].bytes;
      out[nout] = take(p, 0);
      SHOW(out[nout], b);
      nout++;
    }
    HIDE(base, bytes);
    p->slot[p->n].base = base;
    p->slot[p->n].bytes = bytes;
    p->n++;
    p->held += bytes;
  }
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < nout; i++) free(out[i]);
}
