/*
 * scheduler/graph.h - the graph's internal representation.
 *
 * Tasks live in one growing array indexed by id. Keys are (prefix id, indices):
 * prefixes are interned; an open-addressing table maps keys to ids. Argument
 * copies and input lists live in an arena freed with the graph.
 */
#ifndef DTXI_GRAPH_H
#define DTXI_GRAPH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dtx/graph.h"

/* 64 bytes: one cache line per task. */
typedef struct gtask {
  uint32_t prefix; /* index into prefixes */
  uint32_t impl;   /* index into impls */
  int32_t priority;
  uint32_t ninputs;
  uint32_t args_size;
  uint8_t nidx;
  uint8_t flags; /* DTXI_TASK_*: what the executors need to know of the task */
  int16_t where; /* DTX_WHERE_*: a user restriction */
  void *data;    /* the input ids (ninputs uint32), then the args at a 16-byte offset */
  int64_t idx[DTX_MAX_INDICES];
} gtask;

_Static_assert(sizeof(gtask) == 64, "a graph task is meant to fill one cache line");

typedef struct gimpl {
  dtx_task_fn cpu;
  dtx_task_fn cuda;
} gimpl;

/* Internal task flags (dtxi_graph_add_ex): tasks of the chunk store
 * (data/store.h) whose one argument is the dtxi_kept pointer of their slot.
 * The GPU dispatch reserves what they need from these, not from what tasks
 * of their name made before. */
#define DTXI_TASK_KEEPS_INPUT 0x1u /* keeps its one input in the slot; makes no output */
#define DTXI_TASK_LENDS_STORED                                          \
  0x2u /* no inputs; outputs the slot's chunk, lent in place on its GPU \
        * (output_size: that chunk's size, weighed when placing its     \
        * readers; not memory to reserve) */
#define DTXI_TASK_FLAGS (DTXI_TASK_KEEPS_INPUT | DTXI_TASK_LENDS_STORED)

static inline const uint32_t *dtxi_gt_inputs(const gtask *t) { return (const uint32_t *)t->data; }
static inline void *dtxi_gt_args(const gtask *t) {
  return t->args_size > 0 ? (char *)t->data + (((size_t)t->ninputs * 4 + 15) & ~(size_t)15) : NULL;
}

/* Keys that differ only in their last index (load[0], load[1], ... or
 * sum[3,0], sum[3,1], ...) share a row: an array indexed by that last index
 * holding id + 1. Rows serve keys added in nearly consecutive order without
 * hashing; everything else goes to the hash table. */
typedef struct krow {
  uint32_t prefix;
  uint32_t nidx; /* >= 1 */
  int64_t lead[DTX_MAX_INDICES - 1];
  int64_t base;  /* last index held by ids[0] */
  uint32_t *ids; /* id + 1; 0 = none */
  uint32_t cap, count;
} krow;

typedef struct garena_block {
  struct garena_block *next;
  size_t used, cap;
  _Alignas(16) char data[];
} garena_block;

struct dtx_graph {
  gtask *tasks;
  uint32_t n, cap;
  garena_block *arena;
  /* prefixes */
  char **prefixes;
  uint32_t nprefix, prefix_cap;
  uint32_t *prefix_slots; /* id + 1, 0 = empty */
  uint32_t prefix_mask;
  const char *last_name; /* the caller's pointer of the last add, and its id */
  uint32_t last_prefix;
  /* implementations: (cpu, cuda) pairs, few per graph */
  gimpl *impls;
  uint32_t nimpl, impl_cap, last_impl;
  /* keys: rows, and a hash table of pairs (id + 1, hash32) for the rest */
  krow *rows;
  uint32_t nrows, rows_cap, last_row;
  uint32_t *row_slots; /* row + 1, 0 = empty */
  uint32_t row_mask;
  uint32_t *slots;
  uint32_t slot_mask;
  uint32_t nhashed; /* keys in `slots` */
  size_t *out_size; /* output_size hint per task (cap entries); NULL while no task has one */
  int has_priority;
  _Atomic int busy;
};

static inline const char *dtxi_graph_prefix(const dtx_graph *g, uint32_t id) {
  return g->prefixes[g->tasks[id].prefix];
}
/* Task id's output_size hint (dtx_task_desc.output_size): its output's exact
 * size when its maker knew it; 0: unknown. */
static inline size_t dtxi_gt_output_size(const dtx_graph *g, uint32_t id) {
  return g->out_size != NULL ? g->out_size[id] : 0;
}
/* dtx_graph_add with internal flags (DTXI_TASK_*); a flag that does not fit
 * the task (unknown, both, the wrong inputs or argument) is DTX_EINVAL. */
dtx_status dtxi_graph_add_ex(dtx_graph *g, const dtx_task_desc *desc, unsigned flags, dtx_task_id *id);
/* Prints a key into buf; returns the length (truncated to n - 1). */
size_t dtxi_key_format(const char *prefix, int nidx, const int64_t *idx, char *buf, size_t n);

#endif /* DTXI_GRAPH_H */
