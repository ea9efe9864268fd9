/*
 * host/mem.c - chunk allocation and runtime memory accounting.
 *
 * Any thread allocates and frees chunks. The counters are atomics; the peak
 * is raised with a compare-and-swap loop only when `used` grows past it.
 */
#include "host/mem.h"

#include <stdlib.h>
#include <string.h>

#define HEADER 64

_Static_assert(sizeof(struct dtx_chunk) <= HEADER, "chunk header must fit in 64 bytes");

dtxi_mem *dtxi_mem_create(void) {
  dtxi_mem *m = malloc(sizeof *m);
  if (m == NULL) return NULL;
  atomic_init(&m->used, DTXI_MEM_BIAS);
  atomic_init(&m->peak, 0);
  return m;
}

void dtxi_mem_release(dtxi_mem *m) {
  if (m == NULL) return;
  if (atomic_fetch_sub_explicit(&m->used, DTXI_MEM_BIAS, memory_order_acq_rel) == DTXI_MEM_BIAS) free(m);
}

int64_t dtxi_mem_used(const dtxi_mem *m) {
  int64_t u = atomic_load_explicit(&((dtxi_mem *)m)->used, memory_order_relaxed);
  return u >= DTXI_MEM_BIAS ? u - DTXI_MEM_BIAS : u;
}

static void account(dtxi_mem *m, int64_t bytes) {
  int64_t now = atomic_fetch_add_explicit(&m->used, bytes, memory_order_relaxed) + bytes - DTXI_MEM_BIAS;
  int64_t peak = atomic_load_explicit(&m->peak, memory_order_relaxed);
  while (now > peak &&
         !atomic_compare_exchange_weak_explicit(&m->peak, &peak, now, memory_order_relaxed, memory_order_relaxed)) {
  }
}

dtx_chunk *dtxi_chunk_new(dtxi_mem *m, size_t size, int32_t refs) {
  if (size > ((size_t)1 << 56)) return NULL;
  size_t total = HEADER + ((size + 63) & ~(size_t)63);
  dtx_chunk *c = aligned_alloc(64, total);
  if (c == NULL) return NULL;
  atomic_init(&c->refs, refs);
  c->status = DTX_OK;
  c->size = size;
  c->mem = m;
  c->error = NULL;
  c->data = (char *)c + HEADER;
  if (m != NULL && size > 0) account(m, (int64_t)size);
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

void dtxi_chunk_unref(dtx_chunk *c) {
  if (c == NULL) return;
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
  dtxi_mem *m = c->mem;
  int64_t size = (int64_t)c->size;
  free(c->error);
  free(c);
  if (m != NULL && size > 0 && atomic_fetch_sub_explicit(&m->used, size, memory_order_acq_rel) == size) free(m);
}

/* ---- public accessors ---------------------------------------------------- */

const void *dtx_chunk_data(const dtx_chunk *c) { return c != NULL ? c->data : NULL; }
size_t dtx_chunk_size(const dtx_chunk *c) { return c != NULL ? c->size : 0; }
dtx_status dtx_chunk_status(const dtx_chunk *c) { return c != NULL ? (dtx_status)c->status : DTX_EINVAL; }
const char *dtx_chunk_error(const dtx_chunk *c) { return c != NULL ? c->error : NULL; }
void dtx_chunk_release(dtx_chunk *c) { dtxi_chunk_unref(c); }
