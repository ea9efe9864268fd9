/*
 * tests/mem_check_helper.c - C side of mem_check_test.cc: the host memory
 * structs use C11 atomics, which the C++ test cannot include, so the test
 * builds and breaks them through these functions.
 */
#include <string.h>

#include "data/mem.h"
#include "scheduler/sched.h"

/* A memory with limit `limit` and n spillable chunks of `size` bytes, made
 * and unpinned (so they sit on the LRU); chunks[i] receives each. */
dtxi_mem *mch_make(int64_t limit, int n, size_t size, dtx_chunk **chunks) {
  dtxi_mem *m = dtxi_mem_create(limit, NULL);
  if (m == NULL) return NULL;
  for (int i = 0; i < n; i++) {
    chunks[i] = dtxi_chunk_new_spillable(m, size, 1);
    if (chunks[i] == NULL) return NULL;
    memset(chunks[i]->data, i + 1, size);
    dtxi_chunk_unpin(chunks[i]);
  }
  return m;
}

int mch_listed(dtx_chunk *c) { return c->in_lru; }
int mch_spilled(dtx_chunk *c) { return c->spilled; }
void mch_set_pins(dtx_chunk *c, int pins) { c->pins = pins; }
void mch_set_prev(dtx_chunk *c, dtx_chunk *prev) { c->prev = prev; }
dtx_chunk *mch_prev(dtx_chunk *c) { return c->prev; }
void mch_add_used(dtxi_mem *m, int64_t bytes) { atomic_fetch_add(&m->used, bytes); }
void mch_add_unspills(dtxi_mem *m, int64_t n) { m->unspills += n; }
int mch_check(dtxi_mem *m, char *why, size_t n) { return dtxi_mem_check(m, 1, why, n); }
int mch_check_cluster(dtx_cluster *cl, char *why, size_t n) {
  return dtxi_mem_check(dtxi_sched_of(cl)->mem, 1, why, n);
}
void mch_free(dtxi_mem *m, int n, dtx_chunk **chunks) {
  for (int i = 0; i < n; i++) dtxi_chunk_unref(chunks[i]);
  dtxi_mem_release(m);
}
