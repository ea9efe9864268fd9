/*
 * data/mem.h - chunks (task outputs) and the accounting of runtime memory,
 * with spilling to disk past the host memory limit.
 *
 * A chunk is one allocation: a 64-byte header followed by the data, 64-byte
 * aligned. Its reference count covers the dependents that still have to read
 * it plus the handles given to the user; the last unref frees it.
 *
 * dtxi_mem counts the bytes of live chunks held in memory. Its `used` field
 * carries a bias of DTXI_MEM_BIAS while the owning cluster lives, so the
 * struct itself is freed by whoever brings `used` to zero: the cluster at
 * destroy when no chunk is left, or else the last chunk's unref. User handles
 * may outlive the cluster.
 *
 * Spilling (only with a host limit, DTX_HOST_MEMORY_LIMIT): chunks made by
 * graph tasks of at least DTXI_SPILL_MIN bytes are spillable: their data
 * starts on a page boundary. When a new chunk would take `used` past the
 * limit, the least recently used spillable chunks that nobody pins are written
 * to a file in DTX_SPILL_DIR and their pages given back to the system
 * (madvise); pinning one reads it back, bit-identical, and removes the file.
 * The file I/O runs with m->mu dropped (the chunk flagged io), so threads
 * spill and read back at once; a chunk's bytes leave the count when its write
 * starts, so the resident set may pass the limit by the writes in flight.
 * Whoever reads a spillable chunk's data pins it first: the task that makes
 * it (created pinned), the tasks reading it, a GPU copy from it, the caller
 * receiving it (dtxi_chunk_keep). A chunk a persisted array's slot holds
 * (`kept`, data/store.h) stays spillable for the slot's whole life: it is
 * lent to the computations that read it, and copied for a caller.
 * Invariants, under m->mu:
 *   lru = the spillable chunks with pins == 0, refs > 0 and no io in flight,
 *     least recent first;
 *   a spilled chunk has pins == 0 and its bytes are not in `used`; each
 *   keeps one byte there instead (a token, counted in `ndisk`), so the
 *   accounting outlives a spilled chunk that outlives the cluster.
 */
#ifndef DTXI_MEM_H
#define DTXI_MEM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "data/bcache.h"
#include "dtx/graph.h"

#define DTXI_MEM_BIAS ((int64_t)1 << 60)
#define DTXI_SPILL_MIN ((size_t)64 * 1024)

typedef struct dtxi_mem {
  _Atomic int64_t used;  /* in-memory chunk bytes + DTXI_MEM_BIAS while the cluster lives */
  _Atomic int64_t peak;  /* high-water mark of in-memory chunk bytes */
  _Atomic int64_t ndisk; /* spilled chunks, each holding a one-byte token in `used` (written under mu) */
  int64_t limit;         /* host_memory_limit (DTX_HOST_MEMORY_LIMIT) in bytes; 0: none (nothing spills) */
  char *spill_dir;
  pthread_mutex_t mu;   /* the LRU, spill state and counters below */
  pthread_cond_t io_cv; /* a chunk's file write or read ended (its io flag cleared) */
  struct dtx_chunk *lru_head, *lru_tail;
  int64_t spills, spilled_bytes, unspills, unspilled_bytes, on_disk;
  uint64_t next_file;
  struct dtxi_trace *trace; /* spills and reads back are marked here (track DTXI_MEM_TRACE_TID of pid 1) */
  dtxi_bcache cache;        /* freed blocks of chunks of DTXI_BCACHE_MIN bytes and more, for reuse */
} dtxi_mem;

#define DTXI_MEM_TRACE_TID 9999

struct dtx_chunk {
  _Atomic int32_t refs;
  int32_t status; /* dtx_status */
  size_t size;    /* data bytes */
  dtxi_mem *mem;  /* accounting; NULL for error and empty chunks */
  char *error;    /* "key: message" for failed outputs */
  void *data;
  struct dtx_chunk *prev, *next; /* the LRU, under mem->mu */
  int16_t pins;                  /* under mem->mu; at most one per thread reading it now */
  uint8_t spillable;             /* set at creation; cleared by dtxi_chunk_keep once no task reads it */
  uint8_t spilled;               /* under mem->mu: the data is in a file, its pages given back */
  uint8_t in_lru;                /* under mem->mu */
  uint8_t paged;                 /* data on its own pages, the header just before them, in a block
                                    from m->cache whose size is stored at its start */
  uint8_t kept;                  /* held by a persisted array's slot (set once, by the task keeping
                                    it, before any later computation reads it) */
  uint8_t io;                    /* under mem->mu: its file is being written or read, the lock
                                    dropped; off the LRU; pinners wait on mem->io_cv */
};

/* A counter snapshot for dtx_cluster_get_stats. */
typedef struct dtxi_mem_spill_stats {
  int64_t limit, spills, spilled_bytes, unspills, unspilled_bytes, on_disk;
} dtxi_mem_spill_stats;

/* Host memory accounting with a limit in bytes (0 or less: none; the
 * cluster's host_memory_limit setting) and the directory spilled chunks go to
 * (its spill_dir setting; NULL or "": /tmp). NULL when out of memory. */
dtxi_mem *dtxi_mem_create(int64_t limit, const char *spill_dir);
/* Lets m keep up to cap bytes of freed large chunk blocks for reuse
 * (data/bcache.h; 0, the default: none). Before any chunk is made. */
void dtxi_mem_set_cache(dtxi_mem *m, size_t cap);
/* Drops the cluster's bias; frees the struct now or when the last chunk goes. */
void dtxi_mem_release(dtxi_mem *m);
int64_t dtxi_mem_used(const dtxi_mem *m);
void dtxi_mem_spill_stats_get(dtxi_mem *m, dtxi_mem_spill_stats *out);

/* A data chunk of `size` bytes holding `refs` references. NULL when out of memory. */
dtx_chunk *dtxi_chunk_new(dtxi_mem *m, size_t size, int32_t refs);
/* Like dtxi_chunk_new, but spillable when m has a limit and size >=
 * DTXI_SPILL_MIN; it comes pinned once (the maker writes it): unpin when made. */
dtx_chunk *dtxi_chunk_new_spillable(dtxi_mem *m, size_t size, int32_t refs);
/* A chunk carrying an error (status ETASK or ECANCEL) and a copy of msg. */
dtx_chunk *dtxi_chunk_new_error(dtx_status status, const char *msg, int32_t refs);
static inline void dtxi_chunk_ref(dtx_chunk *c, int32_t n) {
  atomic_fetch_add_explicit(&c->refs, n, memory_order_relaxed);
}
void dtxi_chunk_unref(dtx_chunk *c);

/* Pins c in memory (reading it back from disk if it was spilled). DTX_OK, or
 * DTX_EIO with a message naming the file when it cannot be read back. A no-op
 * for chunks that never spill. Any thread. */
dtx_status dtxi_chunk_pin_slow(dtx_chunk *c);
static inline dtx_status dtxi_chunk_pin(dtx_chunk *c) {
  return c != NULL && c->spillable ? dtxi_chunk_pin_slow(c) : DTX_OK;
}
void dtxi_chunk_unpin_slow(dtx_chunk *c);
static inline void dtxi_chunk_unpin(dtx_chunk *c) {
  if (c != NULL && c->spillable) dtxi_chunk_unpin_slow(c);
}
/* Makes c resident for good (handed to the caller, who reads data freely). */
dtx_status dtxi_chunk_keep(dtx_chunk *c);

/* Checks the invariants of m (mem_check.c): 0 when they hold, else 1 with
 * what broke written to why. cluster_alive: the cluster's bias is still in
 * `used`. Takes m->mu. */
int dtxi_mem_check(dtxi_mem *m, int cluster_alive, char *why, size_t n);
/* Aborts with what broke when the invariants of a cluster's m fail. */
void dtxi_mem_assert_consistent(dtxi_mem *m);
/* Builds with DTX_CHECK_INVARIANTS (Debug and sanitizer builds) check after
 * every computation; others compile the check away. */
#ifdef DTX_CHECK_INVARIANTS
#define DTXI_MEM_CHECK(m) dtxi_mem_assert_consistent(m)
#else
#define DTXI_MEM_CHECK(m) ((void)(m))
#endif

#endif /* DTXI_MEM_H */
