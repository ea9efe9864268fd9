/*
 * data/bcache.h - a cache of freed large chunk blocks, so that a chunk made
 * again soon after one of its size was freed reuses those pages instead of
 * new ones from the kernel.
 *
 * Why: a large allocation is a fresh mmap, and the first touch of each page
 * faults and zeroes it. Repeated array computations (the same shapes, run
 * after run, and the intermediates inside one run) paid that on every chunk:
 * 30-40% of the cycles of tsqr, sort and fft2 (bench/RESULTS.md).
 *
 * A block is page-aligned, `bytes` long (a multiple of the page), as
 * posix_memalign gives it; the cache hands back a held block at least as
 * large and at most a quarter larger (the smallest such), and holds at most
 * `cap` bytes, dropping the least recently cached blocks past it. Owned by
 * a dtxi_mem (one per cluster), which drains it when the cluster goes. Any
 * thread; the state is under mu, the system calls outside it.
 */
#ifndef DTXI_BCACHE_H
#define DTXI_BCACHE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks below this go to malloc as before (its arenas reuse them already). */
#define DTXI_BCACHE_MIN ((size_t)256 * 1024)
#define DTXI_BCACHE_SLOTS 64

typedef struct dtxi_bcache {
  pthread_mutex_t mu;
  size_t cap, held; /* bytes allowed, bytes held */
  int n;            /* blocks held, in slot[0 .. n), least recently cached first */
  struct {
    void *base;
    size_t bytes;
  } slot[DTXI_BCACHE_SLOTS];
  int64_t hits, misses; /* blocks given from the cache / newly allocated */
} dtxi_bcache;

/* cap 0: the cache holds nothing (every block is allocated and freed). */
void dtxi_bcache_init(dtxi_bcache *p, size_t cap);
/* Frees every held block; the cache can be used again. */
void dtxi_bcache_drain(dtxi_bcache *p);
void dtxi_bcache_destroy(dtxi_bcache *p);
/* A page-aligned block of at least `bytes` (a multiple of the page); its
 * size in *got. NULL when out of memory. */
void *dtxi_bcache_get(dtxi_bcache *p, size_t bytes, size_t *got);
/* Gives back a block from dtxi_bcache_get (`bytes` as *got said); keep 0:
 * free it now (its owner is going away). */
void dtxi_bcache_put(dtxi_bcache *p, void *base, size_t bytes, int keep);

#ifdef __cplusplus
}
#endif

#endif /* DTXI_BCACHE_H */
