/*
 * data/mem.c - chunk allocation, runtime memory accounting, and spilling
 * chunks to disk past the host memory limit (see mem.h for the rules).
 *
 * Any thread allocates and frees chunks. The counters are atomics; the peak
 * is raised with a compare-and-swap loop only when `used` grows past it. The
 * spill state (LRU, pins, files) is under m->mu. Spilling and reading back
 * drop it for their file I/O, so several threads write and read at once: the
 * chunk is flagged `io` meanwhile (off the LRU, its bytes already counted as
 * they will be after), a pinner of an io chunk waits on io_cv, and the
 * writer holds a reference so the chunk outlives its last reader.
 */
#include "data/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "trace/trace.h"

#define HEADER 64
#define PAGE ((size_t)4096)

_Static_assert(sizeof(struct dtx_chunk) <= HEADER, "chunk header must fit in 64 bytes");

dtxi_mem *dtxi_mem_create(int64_t limit, const char *spill_dir) {
  dtxi_mem *m = calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  atomic_init(&m->used, DTXI_MEM_BIAS);
  atomic_init(&m->peak, 0);
  atomic_init(&m->ndisk, 0);
  m->limit = limit > 0 ? limit : 0;
  m->spill_dir = strdup(spill_dir != NULL && spill_dir[0] != '\0' ? spill_dir : "/tmp");
  if (m->spill_dir == NULL) {
    free(m);
    return NULL;
  }
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->io_cv, NULL);
  dtxi_bcache_init(&m->cache, 0);
  return m;
}

void dtxi_mem_set_cache(dtxi_mem *m, size_t cap) { m->cache.cap = cap; }

static void mem_free(dtxi_mem *m) {
  dtxi_bcache_destroy(&m->cache);
  pthread_cond_destroy(&m->io_cv);
  pthread_mutex_destroy(&m->mu);
  free(m->spill_dir);
  free(m);
}

void dtxi_mem_release(dtxi_mem *m) {
  if (m == NULL) return;
  dtxi_bcache_drain(&m->cache); /* nothing more will be made: give the cached blocks back now */
  if (atomic_fetch_sub_explicit(&m->used, DTXI_MEM_BIAS, memory_order_acq_rel) == DTXI_MEM_BIAS) mem_free(m);
}

int64_t dtxi_mem_used(const dtxi_mem *m) {
  dtxi_mem *mm = (dtxi_mem *)m;
  int64_t u = atomic_load_explicit(&mm->used, memory_order_relaxed);
  u -= atomic_load_explicit(&mm->ndisk, memory_order_relaxed); /* the spilled chunks' tokens */
  return u >= DTXI_MEM_BIAS ? u - DTXI_MEM_BIAS : u;
}

void dtxi_mem_spill_stats_get(dtxi_mem *m, dtxi_mem_spill_stats *out) {
  pthread_mutex_lock(&m->mu);
  out->limit = m->limit;
  out->spills = m->spills;
  out->spilled_bytes = m->spilled_bytes;
  out->unspills = m->unspills;
  out->unspilled_bytes = m->unspilled_bytes;
  out->on_disk = m->on_disk;
  pthread_mutex_unlock(&m->mu);
}

static void account(dtxi_mem *m, int64_t bytes) {
  int64_t now = atomic_fetch_add_explicit(&m->used, bytes, memory_order_relaxed) + bytes - DTXI_MEM_BIAS -
                atomic_load_explicit(&m->ndisk, memory_order_relaxed); /* less the spilled chunks' tokens */
  int64_t peak = atomic_load_explicit(&m->peak, memory_order_relaxed);
  while (now > peak && !atomic_compare_exchange_weak_explicit(&m->peak, &peak, now, memory_order_relaxed,
                                                              memory_order_relaxed)) {
  }
}

/* ---- the LRU and the spill files (m->mu held) -------------------------------- */

static void lru_remove(dtxi_mem *m, dtx_chunk *c) {
  if (!c->in_lru) return;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    m->lru_head = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  else
    m->lru_tail = c->prev;
  c->prev = c->next = NULL;
  c->in_lru = 0;
}

static void lru_push(dtxi_mem *m, dtx_chunk *c) {
  if (c->in_lru) return;
  c->prev = m->lru_tail;
  c->next = NULL;
  if (m->lru_tail != NULL)
    m->lru_tail->next = c;
  else
    m->lru_head = c;
  m->lru_tail = c;
  c->in_lru = 1;
}

static void spill_path(const dtxi_mem *m, const dtx_chunk *c, char *buf, size_t n) {
  snprintf(buf, n, "%s/dtx-%ld-%lx.spill", m->spill_dir, (long)getpid(), (unsigned long)(uintptr_t)c);
}

static size_t paged_bytes(size_t size) { return (size + PAGE - 1) & ~(PAGE - 1); }

static void mark(const dtxi_mem *m, const char *name, const char *cat, size_t bytes) {
  if (m->trace == NULL) return;
  char args[64];
  snprintf(args, sizeof args, "{\"bytes\":%zu}", bytes);
  dtxi_trace_instant(m->trace, DTXI_TRACE_HOST_PID, DTXI_MEM_TRACE_TID, name, cat, dtxi_now_ns(), args);
}

/* Writes c to its file and gives its pages back; no lock held (c is the
 * caller's: off the LRU, io set, a reference taken). 0 on success. */
static int write_out(const dtxi_mem *m, dtx_chunk *c) {
  char path[4096];
  spill_path(m, c, path, sizeof path);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    DTXI_LOG(DTX_LOG_WARN, "cannot spill to %s: %s (set DTX_SPILL_DIR to a writable directory)", path,
             strerror(errno));
    return -1;
  }
  const char *p = c->data;
  size_t left = c->size;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      DTXI_LOG(DTX_LOG_WARN, "cannot spill to %s: %s", path, w < 0 ? strerror(errno) : "short write");
      close(fd);
      unlink(path);
      return -1;
    }
    p += w;
    left -= (size_t)w;
  }
  if (close(fd) != 0) {
    DTXI_LOG(DTX_LOG_WARN, "cannot spill to %s: %s", path, strerror(errno));
    unlink(path);
    return -1;
  }
  madvise(c->data, paged_bytes(c->size), MADV_DONTNEED); /* the pages come back zeroed on touch */
  return 0;
}

/* Reads c back from its file and removes the file; no lock held (c: io set,
 * the caller holds a reference). */
static dtx_status read_back(const dtxi_mem *m, dtx_chunk *c) {
  char path[4096];
  spill_path(m, c, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return dtxi_fail(DTX_EIO, "cannot read spilled chunk back from %s: %s", path, strerror(errno));
  char *p = c->data;
  size_t left = c->size;
  while (left > 0) {
    ssize_t r = read(fd, p, left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      close(fd);
      return dtxi_fail(DTX_EIO, "cannot read spilled chunk back from %s: %s", path,
                       r < 0 ? strerror(errno) : "the file is shorter than the chunk");
    }
    p += r;
    left -= (size_t)r;
  }
  close(fd);
  unlink(path);
  return DTX_OK;
}

/* The count moves as if c's bytes (but for a one-byte token) left memory
 * (out 1) or came back (out 0). m->mu held. */
static void count_disk(dtxi_mem *m, const dtx_chunk *c, int out) {
  int64_t n = (int64_t)c->size - 1;
  atomic_fetch_add_explicit(&m->ndisk, out ? 1 : -1, memory_order_relaxed);
  if (out)
    atomic_fetch_sub_explicit(&m->used, n, memory_order_relaxed);
  else
    account(m, n);
}

static void chunk_free(dtx_chunk *c);

/* One more reference to c unless its last one went already (a thread is
 * on its way to free it, and will take m->mu to take it off the LRU). */
static int ref_unless_gone(dtx_chunk *c) {
  int32_t r = atomic_load_explicit(&c->refs, memory_order_acquire);
  while (r > 0 && !atomic_compare_exchange_weak_explicit(&c->refs, &r, r + 1, memory_order_acq_rel,
                                                         memory_order_acquire)) {
  }
  return r > 0;
}

/* Spills c, the least recently used chunk (m->mu held on entry and exit,
 * dropped for the write: c is io meanwhile, its bytes already out of the
 * count so other makers go on). 0 on success, or when c was on its way out
 * (just taken off the LRU: its freer frees it). */
static int spill_one(dtxi_mem *m, dtx_chunk *c) {
  lru_remove(m, c);
  if (!ref_unless_gone(c)) return 0; /* alive while written, whatever its readers do */
  c->io = 1;
  count_disk(m, c, 1);
  pthread_mutex_unlock(&m->mu);
  int rc = write_out(m, c);
  pthread_mutex_lock(&m->mu);
  c->io = 0;
  if (rc == 0) {
    mark(m, "spill to disk", "spill", c->size);
    c->spilled = 1;
    m->spills++;
    m->spilled_bytes += (int64_t)c->size;
    m->on_disk += (int64_t)c->size;
  } else {
    count_disk(m, c, 0); /* in memory after all */
    if (c->pins == 0 && atomic_load_explicit(&c->refs, memory_order_acquire) > 1) lru_push(m, c);
  }
  pthread_cond_broadcast(&m->io_cv);
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) { /* the readers left meanwhile */
    pthread_mutex_unlock(&m->mu);
    chunk_free(c);
    pthread_mutex_lock(&m->mu);
  }
  return rc;
}

/* Reads spilled c back (m->mu held on entry and exit, dropped for the read:
 * c is io meanwhile, its bytes counted already). */
static dtx_status unspill_one(dtxi_mem *m, dtx_chunk *c) {
  c->io = 1;
  count_disk(m, c, 0);
  pthread_mutex_unlock(&m->mu);
  dtx_status rc = read_back(m, c);
  pthread_mutex_lock(&m->mu);
  c->io = 0;
  if (rc == DTX_OK) {
    mark(m, "read back from disk", "unspill", c->size);
    c->spilled = 0;
    m->unspills++;
    m->unspilled_bytes += (int64_t)c->size;
    m->on_disk -= (int64_t)c->size;
  } else {
    count_disk(m, c, 1); /* still on disk */
  }
  pthread_cond_broadcast(&m->io_cv);
  return rc;
}

/* Spills least recently used chunks until `bytes` more fit under the limit.
 * m->mu held; each spill drops it for its write, so what the loop sees is
 * read again each time. */
static void spill_until_locked(dtxi_mem *m, size_t bytes) {
  while (dtxi_mem_used(m) + (int64_t)bytes > m->limit && m->lru_head != NULL)
    if (spill_one(m, m->lru_head) != 0) break; /* the disk refuses: stay over the limit */
}

/* ---- chunks ------------------------------------------------------------------------ */

static dtx_chunk *chunk_init(dtx_chunk *c, dtxi_mem *m, size_t size, int32_t refs, void *data) {
  memset(c, 0, sizeof *c);
  atomic_init(&c->refs, refs);
  c->status = DTX_OK;
  c->size = size;
  c->mem = m;
  c->data = data;
  return c;
}

/* Counts size more bytes in m, spilling first past its limit. */
static void count_new(dtxi_mem *m, size_t size) {
  if (m->limit > 0) {
    /* Room and the count in one step, so racing makers cannot both pass. */
    pthread_mutex_lock(&m->mu);
    spill_until_locked(m, size);
    account(m, (int64_t)size);
    pthread_mutex_unlock(&m->mu);
  } else {
    account(m, (int64_t)size);
  }
}

/* A chunk whose data starts on a page of a block from m->cache, the header
 * just before it, the block's size in its first word. */
static dtx_chunk *paged_new(dtxi_mem *m, size_t size, int32_t refs) {
  size_t got = 0;
  char *base = dtxi_bcache_get(&m->cache, PAGE + paged_bytes(size), &got);
  if (base == NULL) return NULL;
  memcpy(base, &got, sizeof got);
  dtx_chunk *c = chunk_init((dtx_chunk *)(void *)(base + PAGE - HEADER), m, size, refs, base + PAGE);
  c->paged = 1;
  return c;
}

static void paged_free(dtxi_mem *m, dtx_chunk *c) {
  char *base = (char *)c - (PAGE - HEADER);
  size_t bytes;
  memcpy(&bytes, base, sizeof bytes);
  /* A cluster still alive (its bias in `used`) may make chunks again. */
  int keep = atomic_load_explicit(&m->used, memory_order_relaxed) >= DTXI_MEM_BIAS;
  dtxi_bcache_put(&m->cache, base, bytes, keep);
}

dtx_chunk *dtxi_chunk_new(dtxi_mem *m, size_t size, int32_t refs) {
  if (size > ((size_t)1 << 56)) return NULL;
  dtx_chunk *c;
  if (m != NULL && size >= DTXI_BCACHE_MIN) {
    c = paged_new(m, size, refs);
  } else {
    size_t total = HEADER + ((size + 63) & ~(size_t)63);
    c = aligned_alloc(64, total);
    if (c != NULL) chunk_init(c, m, size, refs, (char *)c + HEADER);
  }
  if (c != NULL && m != NULL && size > 0) count_new(m, size);
  return c;
}

dtx_chunk *dtxi_chunk_new_spillable(dtxi_mem *m, size_t size, int32_t refs) {
  if (m == NULL || m->limit == 0 || size < DTXI_SPILL_MIN) return dtxi_chunk_new(m, size, refs);
  if (size > ((size_t)1 << 56)) return NULL;
  dtx_chunk *c = paged_new(m, size, refs);
  if (c == NULL) return NULL;
  c->spillable = 1;
  c->pins = 1; /* the maker's */
  count_new(m, size);
  return c;
}

dtx_chunk *dtxi_chunk_new_error(dtx_status status, const char *msg, int32_t refs) {
  dtx_chunk *c = dtxi_chunk_new(NULL, 0, refs);
  if (c == NULL) return NULL;
  c->status = status;
  c->data = NULL;
  c->error = strdup(msg != NULL ? msg : "unknown error");
  return c;
}

dtx_status dtxi_chunk_pin_slow(dtx_chunk *c) {
  dtxi_mem *m = c->mem;
  dtx_status rc = DTX_OK;
  pthread_mutex_lock(&m->mu);
  for (;;) {
    while (c->io) pthread_cond_wait(&m->io_cv, &m->mu); /* another thread writes or reads it */
    if (!c->spilled) break;
    spill_until_locked(m, c->size);     /* room first, for the bytes coming back */
    if (c->io || !c->spilled) continue; /* read back by another pinner meanwhile */
    rc = unspill_one(m, c);
    break;
  }
  if (rc == DTX_OK) {
    lru_remove(m, c);
    c->pins++;
  }
  pthread_mutex_unlock(&m->mu);
  return rc;
}

void dtxi_chunk_unpin_slow(dtx_chunk *c) {
  dtxi_mem *m = c->mem;
  pthread_mutex_lock(&m->mu);
  if (--c->pins == 0 && c->spillable && atomic_load_explicit(&c->refs, memory_order_acquire) > 0)
    lru_push(m, c);
  pthread_mutex_unlock(&m->mu);
}

dtx_status dtxi_chunk_keep(dtx_chunk *c) {
  if (c == NULL || !c->spillable) return DTX_OK;
  dtx_status rc = dtxi_chunk_pin_slow(c);
  if (rc != DTX_OK) return rc;
  pthread_mutex_lock(&c->mem->mu);
  c->pins--;
  c->spillable = 0; /* resident for good: never back in the LRU */
  pthread_mutex_unlock(&c->mem->mu);
  return DTX_OK;
}

void dtxi_chunk_unref(dtx_chunk *c) {
  if (c == NULL) return;
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
  chunk_free(c);
}

/* Frees c, whose last reference went (no lock held). */
static void chunk_free(dtx_chunk *c) {
  dtxi_mem *m = c->mem;
  int64_t size = (int64_t)c->size;
  if (c->paged) {
    pthread_mutex_lock(&m->mu);
    lru_remove(m, c);
    if (c->spilled) {
      char path[4096];
      spill_path(m, c, path, sizeof path);
      unlink(path);
      m->on_disk -= size;
      atomic_fetch_sub_explicit(&m->ndisk, 1, memory_order_relaxed);
      size = 1; /* only its token is in `used` while on disk */
    }
    pthread_mutex_unlock(&m->mu);
  }
  free(c->error);
  if (c->paged)
    paged_free(m, c);
  else
    free(c);
  if (m != NULL && size > 0 && atomic_fetch_sub_explicit(&m->used, size, memory_order_acq_rel) == size)
    mem_free(m);
}

/* ---- public accessors ---------------------------------------------------- */

const void *dtx_chunk_data(const dtx_chunk *c) { return c != NULL ? c->data : NULL; }
size_t dtx_chunk_size(const dtx_chunk *c) { return c != NULL ? c->size : 0; }
dtx_status dtx_chunk_status(const dtx_chunk *c) { return c != NULL ? (dtx_status)c->status : DTX_EINVAL; }
const char *dtx_chunk_error(const dtx_chunk *c) { return c != NULL ? c->error : NULL; }
void dtx_chunk_release(dtx_chunk *c) { dtxi_chunk_unref(c); }
