/*
 * scheduler/graph.c - building task graphs: tasks, keys, lookup.
 *
 * Owns: the task array, the arena of argument copies and input lists, the
 * prefix table and the key table. One thread builds a graph at a time;
 * computing reads it and never changes it.
 * Invariant: every key is either in a row or in `slots` (never both) and
 * names a task in [0, n); keys are unique.
 */
#include "scheduler/graph.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define MAX_NAME 100
#define DTX_MAX_WHERE_GPU 1023
#define ARENA_BLOCK (64 * 1024)

/* ---- arena -------------------------------------------------------------- */

static void *arena_alloc(dtx_graph *g, size_t size) {
  size = (size + 15) & ~(size_t)15;
  garena_block *b = g->arena;
  if (b == NULL || b->cap - b->used < size) {
    size_t cap = size > ARENA_BLOCK / 4 ? size : ARENA_BLOCK;
    garena_block *nb = malloc(sizeof *nb + cap);
    if (nb == NULL) return NULL;
    nb->used = 0;
    nb->cap = cap;
    if (b != NULL && cap != ARENA_BLOCK) {
      /* A big one-off block goes behind the current one, which stays open. */
      nb->next = b->next;
      b->next = nb;
      nb->used = size;
      return nb->data;
    }
    nb->next = b;
    g->arena = b = nb;
  }
  void *p = b->data + b->used;
  b->used += size;
  return p;
}

/* ---- hashing ------------------------------------------------------------ */

static inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

static uint32_t key_hash(uint32_t prefix, int nidx, const int64_t *idx) {
  uint64_t h = mix64(((uint64_t)prefix << 3) ^ (uint64_t)nidx);
  for (int i = 0; i < nidx; i++) h = mix64(h ^ (uint64_t)idx[i]);
  return (uint32_t)h | 1u; /* never 0 */
}

static uint32_t str_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return (uint32_t)mix64(h);
}

/* ---- prefixes ----------------------------------------------------------- */

static int prefix_grow(dtx_graph *g) {
  uint32_t ncap = g->prefix_mask ? (g->prefix_mask + 1) * 2 : 64;
  uint32_t *ns = calloc(ncap, sizeof *ns);
  if (ns == NULL) return -1;
  for (uint32_t i = 0; i < g->nprefix; i++) {
    uint32_t k = str_hash(g->prefixes[i]) & (ncap - 1);
    while (ns[k] != 0) k = (k + 1) & (ncap - 1);
    ns[k] = i + 1;
  }
  free(g->prefix_slots);
  g->prefix_slots = ns;
  g->prefix_mask = ncap - 1;
  return 0;
}

static dtx_status check_name(const char *fn, const char *name);

/* The id of prefix `name` in *id, interning it (after checking it) when new. */
static dtx_status prefix_intern(dtx_graph *g, const char *name, uint32_t *id) {
  if (name == g->last_name && g->nprefix > 0 && strcmp(g->prefixes[g->last_prefix], name) == 0) {
    *id = g->last_prefix;
    return DTX_OK;
  }
  if (g->prefix_slots == NULL && prefix_grow(g) != 0)
    return dtxi_fail(DTX_ENOMEM, "dtx_graph_add: out of memory");
  uint32_t k = str_hash(name) & g->prefix_mask;
  for (; g->prefix_slots[k] != 0; k = (k + 1) & g->prefix_mask) {
    uint32_t found = g->prefix_slots[k] - 1;
    if (strcmp(g->prefixes[found], name) == 0) {
      g->last_name = name;
      g->last_prefix = *id = found;
      return DTX_OK;
    }
  }
  dtx_status rc = check_name("dtx_graph_add", name);
  if (rc != DTX_OK) return rc;
  if (g->nprefix == g->prefix_cap) {
    uint32_t ncap = g->prefix_cap ? g->prefix_cap * 2 : 16;
    char **np = realloc(g->prefixes, ncap * sizeof *np);
    if (np == NULL) return dtxi_fail(DTX_ENOMEM, "dtx_graph_add: out of memory");
    g->prefixes = np;
    g->prefix_cap = ncap;
  }
  char *copy = strdup(name);
  if (copy == NULL) return dtxi_fail(DTX_ENOMEM, "dtx_graph_add: out of memory");
  uint32_t nid = g->nprefix++;
  g->prefixes[nid] = copy;
  g->prefix_slots[k] = nid + 1;
  if (g->nprefix * 2 > g->prefix_mask + 1 && prefix_grow(g) != 0)
    return dtxi_fail(DTX_ENOMEM, "dtx_graph_add: out of memory");
  g->last_name = name;
  g->last_prefix = *id = nid;
  return DTX_OK;
}

static int64_t prefix_find(const dtx_graph *g, const char *name) {
  if (g->prefix_slots == NULL) return -1;
  for (uint32_t k = str_hash(name) & g->prefix_mask; g->prefix_slots[k] != 0; k = (k + 1) & g->prefix_mask) {
    uint32_t id = g->prefix_slots[k] - 1;
    if (strcmp(g->prefixes[id], name) == 0) return id;
  }
  return -1;
}

/* ---- implementations ------------------------------------------------------ */

static dtx_status impl_intern(dtx_graph *g, dtx_task_fn cpu, dtx_task_fn cuda, uint32_t *id) {
  if (g->nimpl > 0 && g->impls[g->last_impl].cpu == cpu && g->impls[g->last_impl].cuda == cuda) {
    *id = g->last_impl;
    return DTX_OK;
  }
  for (uint32_t i = 0; i < g->nimpl; i++) {
    if (g->impls[i].cpu == cpu && g->impls[i].cuda == cuda) {
      g->last_impl = *id = i;
      return DTX_OK;
    }
  }
  if (g->nimpl == g->impl_cap) {
    uint32_t ncap = g->impl_cap ? g->impl_cap * 2 : 8;
    gimpl *ni = realloc(g->impls, ncap * sizeof *ni);
    if (ni == NULL) return dtxi_fail(DTX_ENOMEM, "dtx_graph_add: out of memory");
    g->impls = ni;
    g->impl_cap = ncap;
  }
  g->impls[g->nimpl].cpu = cpu;
  g->impls[g->nimpl].cuda = cuda;
  g->last_impl = *id = g->nimpl++;
  return DTX_OK;
}

/* ---- keys --------------------------------------------------------------- */

static int key_equal(const gtask *t, uint32_t prefix, int nidx, const int64_t *idx) {
  if (t->prefix != prefix || t->nidx != nidx) return 0;
  for (int i = 0; i < nidx; i++)
    if (t->idx[i] != idx[i]) return 0;
  return 1;
}

static int keys_grow(dtx_graph *g) {
  uint32_t ncap = g->slot_mask ? (g->slot_mask + 1) * 2 : 1024;
  uint32_t *ns = calloc((size_t)ncap * 2, sizeof *ns);
  if (ns == NULL) return -1;
  for (uint32_t i = 0; g->slots != NULL && i <= g->slot_mask; i++) {
    if (g->slots[2 * i] == 0) continue;
    uint32_t k = g->slots[2 * i + 1] & (ncap - 1);
    while (ns[2 * k] != 0) k = (k + 1) & (ncap - 1);
    ns[2 * k] = g->slots[2 * i];
    ns[2 * k + 1] = g->slots[2 * i + 1];
  }
  free(g->slots);
  g->slots = ns;
  g->slot_mask = ncap - 1;
  return 0;
}

/* Finds the slot for a key: returns the task id, or UINT32_MAX with *slot at
 * the empty slot where the key would go. */
static uint32_t key_lookup(const dtx_graph *g, uint32_t prefix, int nidx, const int64_t *idx, uint32_t h,
                           uint32_t *slot) {
  uint32_t k = h & g->slot_mask;
  for (; g->slots[2 * k] != 0; k = (k + 1) & g->slot_mask) {
    if (g->slots[2 * k + 1] != h) continue;
    uint32_t id = g->slots[2 * k] - 1;
    if (key_equal(&g->tasks[id], prefix, nidx, idx)) return id;
  }
  if (slot != NULL) *slot = k;
  return UINT32_MAX;
}

/* ---- rows ------------------------------------------------------------------ */

#define MAX_ROWS 4096 /* past this, new keys go to the hash table */

static uint32_t row_hash(uint32_t prefix, uint32_t nidx, const int64_t *idx) {
  uint64_t h = mix64(((uint64_t)prefix << 3) ^ nidx ^ 0x5bd1e995u);
  for (uint32_t i = 0; i + 1 < nidx; i++) h = mix64(h ^ (uint64_t)idx[i]);
  return (uint32_t)h;
}

static int row_matches(const krow *r, uint32_t prefix, uint32_t nidx, const int64_t *idx) {
  if (r->prefix != prefix || r->nidx != nidx) return 0;
  for (uint32_t i = 0; i + 1 < nidx; i++)
    if (r->lead[i] != idx[i]) return 0;
  return 1;
}

static int rows_grow(dtx_graph *g) {
  uint32_t ncap = g->row_mask ? (g->row_mask + 1) * 2 : 64;
  uint32_t *ns = calloc(ncap, sizeof *ns);
  if (ns == NULL) return -1;
  for (uint32_t i = 0; i < g->nrows; i++) {
    const krow *r = &g->rows[i];
    uint32_t k = row_hash(r->prefix, r->nidx, r->lead) & (ncap - 1);
    while (ns[k] != 0) k = (k + 1) & (ncap - 1);
    ns[k] = i + 1;
  }
  free(g->row_slots);
  g->row_slots = ns;
  g->row_mask = ncap - 1;
  return 0;
}

/* The row of a key (nidx >= 1), creating it when `create` and there is room;
 * NULL when there is none. */
static krow *row_find(dtx_graph *g, uint32_t prefix, uint32_t nidx, const int64_t *idx, int create) {
  if (g->nrows > 0 && row_matches(&g->rows[g->last_row], prefix, nidx, idx)) return &g->rows[g->last_row];
  if (g->row_slots == NULL) {
    if (!create || rows_grow(g) != 0) return NULL;
  }
  uint32_t k = row_hash(prefix, nidx, idx) & g->row_mask;
  for (; g->row_slots[k] != 0; k = (k + 1) & g->row_mask) {
    uint32_t i = g->row_slots[k] - 1;
    if (row_matches(&g->rows[i], prefix, nidx, idx)) {
      g->last_row = i;
      return &g->rows[i];
    }
  }
  if (!create || g->nrows >= MAX_ROWS) return NULL;
  if (g->nrows == g->rows_cap) {
    uint32_t ncap = g->rows_cap ? g->rows_cap * 2 : 16;
    krow *nr = realloc(g->rows, ncap * sizeof *nr);
    if (nr == NULL) return NULL;
    g->rows = nr;
    g->rows_cap = ncap;
  }
  krow *r = &g->rows[g->nrows];
  memset(r, 0, sizeof *r);
  r->prefix = prefix;
  r->nidx = nidx;
  for (uint32_t i = 0; i + 1 < nidx; i++) r->lead[i] = idx[i];
  r->base = idx[nidx - 1];
  g->row_slots[k] = g->nrows + 1;
  g->last_row = g->nrows++;
  if (g->nrows * 2 > g->row_mask + 1 && rows_grow(g) != 0) {
    g->nrows--; /* keep the table consistent: forget the new row */
    g->row_slots[k] = 0;
    return NULL;
  }
  return r;
}

/* The row's cell for last index v, growing the row when `grow` and the keys
 * stay dense (the span at most about twice the keys held); else NULL. */
static uint32_t *row_cell(krow *r, int64_t v, int grow) {
  /* Differences in uint64: exact for any two int64 values. */
  uint64_t above = (uint64_t)v - (uint64_t)r->base; /* v - base when v >= base */
  if (r->ids != NULL && v >= r->base && above < r->cap) return &r->ids[above];
  if (!grow) return NULL;
  uint64_t span, shift = 0; /* shift: how far the old cells move up */
  if (r->ids == NULL) {
    span = 1;
    r->base = v;
  } else if (v < r->base) {
    shift = (uint64_t)r->base - (uint64_t)v;
    if (shift > (1u << 30)) return NULL;
    span = shift + r->cap;
  } else {
    if (above > (1u << 30)) return NULL;
    span = above + 1;
  }
  if (span > 2 * (uint64_t)r->count + 64 || span > (1u << 30)) return NULL;
  uint32_t ncap = r->cap ? r->cap : 64;
  while (ncap < span) ncap *= 2;
  uint32_t *nids = calloc(ncap, sizeof *nids);
  if (nids == NULL) return NULL;
  if (r->ids != NULL) memcpy(nids + shift, r->ids, (size_t)r->cap * sizeof *nids);
  free(r->ids);
  r->ids = nids;
  r->cap = ncap;
  if (shift > 0) r->base = v;
  return &r->ids[(uint64_t)v - (uint64_t)r->base];
}

/* The id of a key, or UINT32_MAX. */
static uint32_t key_find(dtx_graph *g, uint32_t prefix, int nidx, const int64_t *idx) {
  if (nidx > 0) {
    krow *r = row_find(g, prefix, (uint32_t)nidx, idx, 0);
    uint32_t *cell = r != NULL ? row_cell(r, idx[nidx - 1], 0) : NULL;
    if (cell != NULL && *cell != 0) return *cell - 1;
  }
  if (g->nhashed == 0) return UINT32_MAX;
  return key_lookup(g, prefix, nidx, idx, key_hash(prefix, nidx, idx), NULL);
}

size_t dtxi_key_format(const char *prefix, int nidx, const int64_t *idx, char *buf, size_t n) {
  if (n == 0) return 0;
  size_t len = (size_t)snprintf(buf, n, "%s", prefix);
  for (int i = 0; i < nidx && len < n; i++)
    len += (size_t)snprintf(buf + len, n - len, "%c%" PRId64, i == 0 ? '[' : ',', idx[i]);
  if (nidx > 0 && len < n) len += (size_t)snprintf(buf + len, n - len, "]");
  return len < n ? len : n - 1;
}

/* ---- public ------------------------------------------------------------- */

dtx_status dtx_graph_create(dtx_graph **out) {
  if (out == NULL) return dtxi_fail(DTX_EINVAL, "dtx_graph_create: out is NULL");
  dtx_graph *g = calloc(1, sizeof *g);
  if (g == NULL) return dtxi_fail(DTX_ENOMEM, "dtx_graph_create: out of memory");
  atomic_init(&g->busy, 0);
  *out = g;
  return DTX_OK;
}

void dtx_graph_destroy(dtx_graph *g) {
  if (g == NULL) return;
  for (garena_block *b = g->arena, *next; b != NULL; b = next) {
    next = b->next;
    free(b);
  }
  for (uint32_t i = 0; i < g->nprefix; i++) free(g->prefixes[i]);
  free(g->impls);
  free(g->prefixes);
  free(g->prefix_slots);
  for (uint32_t i = 0; i < g->nrows; i++) free(g->rows[i].ids);
  free(g->rows);
  free(g->row_slots);
  free(g->slots);
  free(g->out_size);
  free(g->tasks);
  free(g);
}

size_t dtx_graph_size(const dtx_graph *g) { return g != NULL ? g->n : 0; }

static dtx_status check_name(const char *fn, const char *name) {
  if (name == NULL) return dtxi_fail(DTX_EINVAL, "%s: desc->name is NULL; every task needs a name", fn);
  size_t len = strnlen(name, MAX_NAME + 1);
  if (len == 0) return dtxi_fail(DTX_EINVAL, "%s: desc->name is empty; every task needs a name", fn);
  if (len > MAX_NAME)
    return dtxi_fail(DTX_EINVAL, "%s: name '%.40s...' is longer than %d characters", fn, name, MAX_NAME);
  for (size_t i = 0; i < len; i++)
    if (name[i] == '[' || name[i] == ']' || (unsigned char)name[i] < 0x20)
      return dtxi_fail(DTX_EINVAL,
                       "%s: name '%s' contains '%c' (brackets and control characters are not allowed)", fn,
                       name, name[i] < 0x20 ? '?' : name[i]);
  return DTX_OK;
}

static dtx_status desc_fail(const char *fn, const dtx_task_desc *d, const char *what) {
  char key[DTX_MAX_KEY];
  int nidx = d->nidx < 0 ? 0 : (d->nidx > DTX_MAX_INDICES ? DTX_MAX_INDICES : d->nidx);
  dtxi_key_format(d->name, nidx, d->idx, key, sizeof key);
  return dtxi_fail(DTX_EINVAL, "%s: task '%s' %s", fn, key, what);
}

/* Checks a task description; the name itself only when check_name_too. */
static dtx_status desc_check(const char *fn, const dtx_task_desc *d, int graph_task, int check_name_too) {
  if (d == NULL) return dtxi_fail(DTX_EINVAL, "%s: desc is NULL", fn);
  if (d->name == NULL) return dtxi_fail(DTX_EINVAL, "%s: desc->name is NULL; every task needs a name", fn);
  if (check_name_too) {
    dtx_status rc = check_name(fn, d->name);
    if (rc != DTX_OK) return rc;
  }
  char what[128];
  if (d->nidx < 0 || d->nidx > DTX_MAX_INDICES) {
    snprintf(what, sizeof what, "has nidx %d; a key has 0 to %d indices", d->nidx, DTX_MAX_INDICES);
    return desc_fail(fn, d, what);
  }
  if (d->ninputs < 0) {
    snprintf(what, sizeof what, "has ninputs %d < 0", d->ninputs);
    return desc_fail(fn, d, what);
  }
  if (graph_task && d->ninputs > 0 && d->inputs == NULL) {
    snprintf(what, sizeof what, "has ninputs %d but inputs is NULL", d->ninputs);
    return desc_fail(fn, d, what);
  }
  if (!graph_task && d->inputs != NULL)
    return desc_fail(
        fn, d, "sets desc->inputs; futures take their inputs as the inputs argument, so it must be NULL");
  if (d->args_size > UINT32_MAX)
    return desc_fail(fn, d, "has an argument blob over 4 GiB; pass a pointer to the data instead");
  if (d->args == NULL && d->args_size > 0) {
    snprintf(what, sizeof what, "has args_size %zu but args is NULL", d->args_size);
    return desc_fail(fn, d, what);
  }
  if (d->cpu == NULL && d->cuda == NULL)
    return desc_fail(fn, d, "has no implementation; set desc->cpu (or desc->cuda)");
  if (d->where < DTX_WHERE_CPU || d->where > DTX_WHERE_GPU(DTX_MAX_WHERE_GPU)) {
    snprintf(what, sizeof what, "has where %d; use DTX_WHERE_ANY, DTX_WHERE_CPU or DTX_WHERE_GPU(k)",
             d->where);
    return desc_fail(fn, d, what);
  }
  if (d->where > 0 && d->cuda == NULL)
    return desc_fail(fn, d, "asks for a GPU (DTX_WHERE_GPU) but has no CUDA implementation (desc->cuda)");
  if (d->where == DTX_WHERE_CPU && d->cpu == NULL)
    return desc_fail(fn, d, "asks for the CPU (DTX_WHERE_CPU) but has no CPU implementation (desc->cpu)");
  if (d->retries < 0) {
    snprintf(what, sizeof what, "has retries %d < 0", d->retries);
    return desc_fail(fn, d, what);
  }
  return DTX_OK;
}

dtx_status dtxi_desc_check(const char *fn, const dtx_task_desc *d, int graph_task) {
  return desc_check(fn, d, graph_task, 1);
}

/* The internal flags fit the task (desc checked). */
static dtx_status flags_check(const dtx_task_desc *d, unsigned flags) {
  const char *fn = "dtx_graph_add";
  if (flags & ~DTXI_TASK_FLAGS) return desc_fail(fn, d, "has unknown internal flags");
  if (flags == 0) return DTX_OK;
  if (flags == DTXI_TASK_FLAGS) return desc_fail(fn, d, "both keeps its input and lends a stored chunk");
  if (d->args_size != sizeof(void *))
    return desc_fail(fn, d, "is a chunk store task without its slot argument");
  if ((flags & DTXI_TASK_KEEPS_INPUT) && d->ninputs != 1)
    return desc_fail(fn, d, "keeps its input but does not have exactly one");
  if ((flags & DTXI_TASK_LENDS_STORED) && d->ninputs != 0)
    return desc_fail(fn, d, "lends a stored chunk but has inputs");
  return DTX_OK;
}

/* Room for the output_size hints of cap tasks, once any task has one. */
static int hints_grow(dtx_graph *g, uint32_t cap, int needed) {
  if (g->out_size == NULL && !needed) return 0;
  size_t *n = realloc(g->out_size, (size_t)cap * sizeof *n);
  if (n == NULL) return -1;
  uint32_t had = g->out_size != NULL ? g->n : 0; /* entries past n are set when their task is added */
  memset(n + had, 0, (size_t)(cap - had) * sizeof *n);
  g->out_size = n;
  return 0;
}

dtx_status dtx_graph_add(dtx_graph *g, const dtx_task_desc *d, dtx_task_id *id) {
  return dtxi_graph_add_ex(g, d, 0, id);
}

dtx_status dtxi_graph_add_ex(dtx_graph *g, const dtx_task_desc *d, unsigned flags, dtx_task_id *id) {
  if (g == NULL) return dtxi_fail(DTX_EINVAL, "dtx_graph_add: graph is NULL");
  dtx_status rc = desc_check("dtx_graph_add", d, 1, 0);
  if (rc == DTX_OK) rc = flags_check(d, flags);
  if (rc != DTX_OK) return rc;
  if (atomic_load_explicit(&g->busy, memory_order_relaxed))
    return dtxi_fail(DTX_EBUSY, "dtx_graph_add: the graph is being computed; add tasks before or after");
  if (g->n == UINT32_MAX - 2)
    return dtxi_fail(DTX_ENOMEM, "dtx_graph_add: a graph holds at most %u tasks", g->n);
  uint32_t prefix = 0;
  rc = prefix_intern(g, d->name, &prefix);
  if (rc != DTX_OK) return rc;
  /* A row cell when the key fits one, else a hash slot. Either way the key
   * must not be anywhere yet. */
  krow *row = d->nidx > 0 ? row_find(g, prefix, (uint32_t)d->nidx, d->idx, 1) : NULL;
  uint32_t *cell = row != NULL ? row_cell(row, d->idx[d->nidx - 1], 1) : NULL;
  int dup = cell != NULL && *cell != 0;
  uint32_t h = 0, slot = 0;
  if (!dup && cell == NULL) {
    if (g->slots == NULL || (g->nhashed + 1) * 2 > g->slot_mask + 1) {
      if (keys_grow(g) != 0) return dtxi_fail(DTX_ENOMEM, "dtx_graph_add: out of memory");
    }
    h = key_hash(prefix, d->nidx, d->idx);
    dup = key_lookup(g, prefix, d->nidx, d->idx, h, &slot) != UINT32_MAX;
  } else if (!dup && g->nhashed > 0) {
    dup = key_lookup(g, prefix, d->nidx, d->idx, key_hash(prefix, d->nidx, d->idx), NULL) != UINT32_MAX;
  }
  if (dup) {
    char key[DTX_MAX_KEY];
    dtxi_key_format(d->name, d->nidx, d->idx, key, sizeof key);
    return dtxi_fail(DTX_EINVAL,
                     "dtx_graph_add: duplicate key '%s': a task with this key is already in the graph", key);
  }
  if (g->n == g->cap) {
    uint32_t ncap = g->cap ? g->cap * 2 : 256;
    gtask *nt = realloc(g->tasks, (size_t)ncap * sizeof *nt);
    if (nt == NULL) return dtxi_fail(DTX_ENOMEM, "dtx_graph_add: out of memory");
    g->tasks = nt;
    g->cap = ncap;
    if (hints_grow(g, ncap, 0) != 0) return dtxi_fail(DTX_ENOMEM, "dtx_graph_add: out of memory");
  }
  if (d->output_size > 0 && g->out_size == NULL && hints_grow(g, g->cap, 1) != 0)
    return dtxi_fail(DTX_ENOMEM, "dtx_graph_add: out of memory");
  uint32_t impl = 0;
  rc = impl_intern(g, d->cpu, d->cuda, &impl);
  if (rc != DTX_OK) return rc;
  gtask *t = &g->tasks[g->n];
  t->prefix = prefix;
  t->impl = impl;
  t->priority = d->priority;
  t->ninputs = (uint32_t)d->ninputs;
  t->args_size = (uint32_t)d->args_size;
  t->nidx = (uint8_t)d->nidx;
  t->flags = (uint8_t)flags;
  t->where = (int16_t)d->where;
  t->data = NULL;
  for (int i = 0; i < DTX_MAX_INDICES; i++) t->idx[i] = i < d->nidx ? d->idx[i] : 0;
  if (d->ninputs > 0 || d->args_size > 0) {
    size_t in_bytes = ((size_t)d->ninputs * 4 + 15) & ~(size_t)15;
    t->data = arena_alloc(g, in_bytes + d->args_size);
    if (t->data == NULL) return dtxi_fail(DTX_ENOMEM, "dtx_graph_add: out of memory");
    if (d->ninputs > 0) memcpy(t->data, d->inputs, (size_t)d->ninputs * 4);
    if (d->args_size > 0) memcpy((char *)t->data + in_bytes, d->args, d->args_size);
  }
  if (g->out_size != NULL) g->out_size[g->n] = d->output_size;
  if (d->priority != 0) g->has_priority = 1;
  if (cell != NULL) {
    *cell = g->n + 1;
    row->count++;
  } else {
    g->slots[2 * slot] = g->n + 1;
    g->slots[2 * slot + 1] = h;
    g->nhashed++;
  }
  if (id != NULL) *id = g->n;
  g->n++;
  return DTX_OK;
}

dtx_status dtx_graph_find(const dtx_graph *g, const char *name, int nidx, const int64_t *idx,
                          dtx_task_id *id) {
  if (g == NULL || name == NULL || id == NULL || (nidx > 0 && idx == NULL))
    return dtxi_fail(DTX_EINVAL, "dtx_graph_find: graph, name, id (and idx when nidx > 0) must not be NULL");
  if (nidx < 0 || nidx > DTX_MAX_INDICES)
    return dtxi_fail(DTX_EINVAL, "dtx_graph_find: nidx %d is not in 0..%d", nidx, DTX_MAX_INDICES);
  int64_t prefix = prefix_find(g, name);
  uint32_t found = prefix >= 0 ? key_find((dtx_graph *)g, (uint32_t)prefix, nidx, idx) : UINT32_MAX;
  if (found == UINT32_MAX) {
    char key[DTX_MAX_KEY];
    dtxi_key_format(name, nidx, idx, key, sizeof key);
    return dtxi_fail(DTX_EINVAL, "dtx_graph_find: no task with key '%s' in the graph", key);
  }
  *id = found;
  return DTX_OK;
}

dtx_status dtx_graph_find_key(const dtx_graph *g, const char *key, dtx_task_id *id) {
  if (g == NULL || key == NULL || id == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_graph_find_key: graph, key and id must not be NULL");
  const char *open = strchr(key, '[');
  char name[MAX_NAME + 1];
  int64_t idx[DTX_MAX_INDICES] = {0};
  int nidx = 0;
  size_t nlen = open != NULL ? (size_t)(open - key) : strlen(key);
  if (nlen == 0 || nlen > MAX_NAME)
    return dtxi_fail(DTX_EINVAL, "dtx_graph_find_key: '%s' is not a key", key);
  memcpy(name, key, nlen);
  name[nlen] = '\0';
  if (open != NULL) {
    const char *p = open + 1;
    for (;;) {
      char *end;
      if (nidx == DTX_MAX_INDICES)
        return dtxi_fail(DTX_EINVAL, "dtx_graph_find_key: '%s' has more than %d indices", key,
                         DTX_MAX_INDICES);
      long long v = strtoll(p, &end, 10);
      if (end == p) return dtxi_fail(DTX_EINVAL, "dtx_graph_find_key: '%s' is not a key like add[2,1]", key);
      idx[nidx++] = v;
      if (*end == ',') {
        p = end + 1;
        continue;
      }
      if (*end == ']' && end[1] == '\0') break;
      return dtxi_fail(DTX_EINVAL, "dtx_graph_find_key: '%s' is not a key like add[2,1]", key);
    }
  }
  return dtx_graph_find(g, name, nidx, idx, id);
}

dtx_status dtx_graph_key(const dtx_graph *g, dtx_task_id id, char *buf, size_t n) {
  if (g == NULL || buf == NULL || n == 0)
    return dtxi_fail(DTX_EINVAL, "dtx_graph_key: graph and buf must not be NULL");
  if (id >= g->n)
    return dtxi_fail(DTX_EINVAL, "dtx_graph_key: id %u is not in the graph (it has %u tasks)", id, g->n);
  const gtask *t = &g->tasks[id];
  dtxi_key_format(g->prefixes[t->prefix], t->nidx, t->idx, buf, n);
  return DTX_OK;
}
