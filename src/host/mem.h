/*
 * host/mem.h - chunks (task outputs) and the accounting of runtime memory.
 *
 * A chunk is one allocation: a 64-byte header followed by the data, 64-byte
 * aligned. Its reference count covers the dependents that still have to read
 * it plus the handles given to the user; the last unref frees it.
 *
 * dtxi_mem counts the bytes of live chunks. Its `used` field carries a bias of
 * DTXI_MEM_BIAS while the owning cluster lives, so the struct itself is freed
 * by whoever brings `used` to zero: the cluster at destroy when no chunk is
 * left, or else the last chunk's unref. User handles may outlive the cluster.
 */
#ifndef DTXI_MEM_H
#define DTXI_MEM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dtx/graph.h"

#define DTXI_MEM_BIAS ((int64_t)1 << 60)

typedef struct dtxi_mem {
  _Atomic int64_t used; /* live chunk bytes + DTXI_MEM_BIAS while the cluster lives */
  _Atomic int64_t peak; /* high-water mark of live chunk bytes */
} dtxi_mem;

struct dtx_chunk {
  _Atomic int32_t refs;
  int32_t status;  /* dtx_status */
  size_t size;     /* data bytes */
  dtxi_mem *mem;   /* accounting; NULL for error and empty chunks */
  char *error;     /* "key: message" for failed outputs */
  void *data;
};

dtxi_mem *dtxi_mem_create(void);
/* Drops the cluster's bias; frees the struct now or when the last chunk goes. */
void dtxi_mem_release(dtxi_mem *m);
int64_t dtxi_mem_used(const dtxi_mem *m);

/* A data chunk of `size` bytes holding `refs` references. NULL when out of memory. */
dtx_chunk *dtxi_chunk_new(dtxi_mem *m, size_t size, int32_t refs);
/* A chunk carrying an error (status ETASK or ECANCEL) and a copy of msg. */
dtx_chunk *dtxi_chunk_new_error(dtx_status status, const char *msg, int32_t refs);
static inline void dtxi_chunk_ref(dtx_chunk *c, int32_t n) {
  atomic_fetch_add_explicit(&c->refs, n, memory_order_relaxed);
}
void dtxi_chunk_unref(dtx_chunk *c);

#endif /* DTXI_MEM_H */
