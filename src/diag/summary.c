/*
 * diag/summary.c - the numbers of a trace summary (see summary.h for what
 * each one means) and their 80-column text form.
 *
 * Owns the summary's arrays; borrows the view's strings (a summary must not
 * outlive its view). One thread. Costs O(n log n) in the slices, plus the
 * input keys and flow events once each.
 */
#include "diag/summary.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define EPS_US 0.0015 /* a trace's times have ns precision (3 decimals of us) */

/* ---- a string -> index map (FNV-1a, open addressing) -------------------------------- */

typedef struct smap {
  const char **keys;
  size_t *vals;
  size_t mask, n;
} smap;

static uint64_t fnv(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static bool smap_init(smap *m, size_t expect) {
  size_t size = 16;
  while (size < 2 * expect + 2) size *= 2;
  m->keys = calloc(size, sizeof *m->keys);
  m->vals = malloc(size * sizeof *m->vals);
  m->mask = size - 1;
  m->n = 0;
  return m->keys != NULL && m->vals != NULL;
}

static void smap_free(smap *m) {
  free(m->keys);
  free(m->vals);
}

/* The slot of key (empty when absent). */
static size_t smap_slot(const smap *m, const char *key) {
  size_t h = (size_t)fnv(key) & m->mask;
  while (m->keys[h] != NULL && strcmp(m->keys[h], key) != 0) h = (h + 1) & m->mask;
  return h;
}

static bool smap_get(const smap *m, const char *key, size_t *val) {
  size_t h = smap_slot(m, key);
  if (m->keys[h] == NULL) return false;
  *val = m->vals[h];
  return true;
}

/* Sets key -> val; the map was sized for every key it will hold. */
static void smap_put(smap *m, const char *key, size_t val) {
  size_t h = smap_slot(m, key);
  if (m->keys[h] == NULL) {
    m->keys[h] = key;
    m->n++;
  }
  m->vals[h] = val;
}

/* ---- formatting ------------------------------------------------------------------------ */

void dtxi_fmt_time(double us, char *buf, size_t n) {
  double a = fabs(us);
  if (a < 1.0)
    snprintf(buf, n, "%.0f ns", us * 1e3);
  else if (a < 1e3)
    snprintf(buf, n, "%.*f us", a < 10 ? 2 : a < 100 ? 1 : 0, us);
  else if (a < 1e6)
    snprintf(buf, n, "%.*f ms", a < 1e4 ? 2 : a < 1e5 ? 1 : 0, us / 1e3);
  else
    snprintf(buf, n, "%.*f s", a < 1e7 ? 2 : a < 1e8 ? 1 : 0, us / 1e6);
}

void dtxi_fmt_bytes(double b, char *buf, size_t n) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (fabs(b) >= 1024 && u < 4) {
    b /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(buf, n, "%.0f B", b);
  else
    snprintf(buf, n, "%.*f %s", fabs(b) < 10 ? 2 : 1, b, units[u]);
}

static void fmt_count(size_t v, char *buf, size_t n) {
  char raw[32];
  int len = snprintf(raw, sizeof raw, "%zu", v), o = 0;
  for (int i = 0; i < len && (size_t)o + 2 < n; i++) {
    buf[o++] = raw[i];
    if ((len - i - 1) % 3 == 0 && i < len - 1) buf[o++] = ',';
  }
  buf[o] = '\0';
}

/* ---- building ---------------------------------------------------------------------------- */

static const dtxi_view *sort_view; /* qsort has no context argument; one thread */

static int by_start(const void *a, const void *b) {
  const dtxi_vslice *x = &sort_view->slices[*(const size_t *)a], *y = &sort_view->slices[*(const size_t *)b];
  if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
  if (x->dur != y->dur) return x->dur > y->dur ? -1 : 1; /* enclosing first */
  return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static int by_display(const void *a, const void *b) {
  const dtxi_vtrack *x = &sort_view->tracks[*(const uint32_t *)a],
                    *y = &sort_view->tracks[*(const uint32_t *)b];
  if (x->psort != y->psort) return x->psort < y->psort ? -1 : 1;
  if (x->pid != y->pid) return x->pid < y->pid ? -1 : 1;
  if (x->sort != y->sort) return x->sort < y->sort ? -1 : 1;
  return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static int prefix_cmp(const void *a, const void *b) {
  const dtxi_sprefix *x = a, *y = b;
  if (x->total != y->total) return x->total > y->total ? -1 : 1;
  return strcmp(x->prefix, y->prefix);
}

static int link_cmp(const void *a, const void *b) {
  const dtxi_slink *x = a, *y = b;
  if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
  return strcmp(x->link, y->link);
}

static int error_cmp(const void *a, const void *b) {
  const dtxi_serror *x = a, *y = b;
  return x->ts < y->ts ? -1 : x->ts > y->ts;
}

typedef struct edge {
  size_t from, to; /* positions in start order */
} edge;

static int edge_cmp(const void *a, const void *b) {
  const edge *x = a, *y = b;
  if (x->to != y->to) return x->to < y->to ? -1 : 1;
  return x->from < y->from ? -1 : x->from > y->from;
}

static int flow_cmp(const void *a, const void *b) {
  const dtxi_vflow *x = *(const dtxi_vflow *const *)a, *y = *(const dtxi_vflow *const *)b;
  if (x->id != y->id) return x->id < y->id ? -1 : 1;
  if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
  int rx = x->ph == 's' ? 0 : x->ph == 't' ? 1 : 2, ry = y->ph == 's' ? 0 : y->ph == 't' ? 1 : 2;
  return rx - ry;
}

typedef struct ctx {
  const dtxi_view *v;
  size_t *order;     /* slice indices by start */
  size_t *pos;       /* slice index -> position in order */
  size_t *track_off; /* per track: its slices in tsort[track_off[t] .. track_off[t + 1]) */
  size_t *tsort;     /* slice indices grouped by track, by start within */
  edge *edges;
  size_t nedges, cap_edges;
  bool oom;
} ctx;

static void add_edge(ctx *c, size_t from_slice, size_t to_slice) {
  size_t a = c->pos[from_slice], b = c->pos[to_slice];
  if (a >= b) return; /* not earlier: no arrow back in time */
  if (c->nedges == c->cap_edges) {
    size_t cap = c->cap_edges ? 2 * c->cap_edges : 256;
    edge *e = realloc(c->edges, cap * sizeof *e);
    if (e == NULL) {
      c->oom = true;
      return;
    }
    c->edges = e;
    c->cap_edges = cap;
  }
  c->edges[c->nedges++] = (edge){a, b};
}

/* The innermost slice on `track` whose span holds ts, or SIZE_MAX. */
static size_t slice_at(const ctx *c, uint32_t track, double ts) {
  size_t lo = c->track_off[track], hi = c->track_off[track + 1];
  /* last slice with start <= ts */
  size_t a = lo, b = hi;
  while (a < b) {
    size_t mid = a + (b - a) / 2;
    if (c->v->slices[c->tsort[mid]].ts <= ts + EPS_US)
      a = mid + 1;
    else
      b = mid;
  }
  for (size_t k = a, steps = 0; k > lo && steps < 16; k--, steps++) {
    const dtxi_vslice *s = &c->v->slices[c->tsort[k - 1]];
    if (ts <= s->ts + s->dur + EPS_US) return c->tsort[k - 1];
  }
  return SIZE_MAX;
}

static void input_edges(ctx *c) {
  const dtxi_view *v = c->v;
  smap m;
  if (!smap_init(&m, v->nslices)) {
    c->oom = true;
    return;
  }
  for (size_t k = 0; k < v->nslices && !c->oom; k++) {
    size_t i = c->order[k];
    const dtxi_vslice *s = &v->slices[i];
    for (uint32_t j = 0; j < s->nin; j++) {
      size_t src;
      if (smap_get(&m, v->inputs[s->in_off + j], &src) && src != i) add_edge(c, src, i);
    }
    if (s->kind == DTXI_VK_TASK) smap_put(&m, s->key, i);
  }
  smap_free(&m);
}

static void flow_edges(ctx *c) {
  const dtxi_view *v = c->v;
  if (v->nflows == 0) return;
  const dtxi_vflow **f = malloc(v->nflows * sizeof *f);
  if (f == NULL) {
    c->oom = true;
    return;
  }
  for (size_t i = 0; i < v->nflows; i++) f[i] = &v->flows[i];
  qsort(f, v->nflows, sizeof *f, flow_cmp);
  size_t prev = SIZE_MAX;
  for (size_t i = 0; i < v->nflows; i++) {
    if (i > 0 && f[i]->id != f[i - 1]->id) prev = SIZE_MAX;
    size_t s = slice_at(c, f[i]->track, f[i]->ts);
    if (s == SIZE_MAX) continue;
    if (prev != SIZE_MAX && prev != s) add_edge(c, prev, s);
    prev = s;
  }
  free(f);
}

/* Longest chain by summed durations over the edges (a DAG: edges go forward in start order). */
static dtx_status critical_path(ctx *c, dtxi_summary *s) {
  const dtxi_view *v = c->v;
  size_t n = v->nslices;
  if (n == 0) return DTX_OK;
  if (c->nedges > 1) qsort(c->edges, c->nedges, sizeof *c->edges, edge_cmp);
  size_t u = 0;
  for (size_t i = 0; i < c->nedges; i++) /* drop duplicates */
    if (u == 0 || c->edges[i].from != c->edges[u - 1].from || c->edges[i].to != c->edges[u - 1].to)
      c->edges[u++] = c->edges[i];
  c->nedges = u;
  double *cp = malloc(n * sizeof *cp);
  size_t *best = malloc(n * sizeof *best);
  if (cp == NULL || best == NULL) {
    free(cp);
    free(best);
    return dtxi_fail(DTX_ENOMEM, "trace summary: out of memory");
  }
  size_t e = 0, end = 0;
  for (size_t k = 0; k < n; k++) {
    double base = 0;
    best[k] = SIZE_MAX;
    for (; e < c->nedges && c->edges[e].to == k; e++) {
      if (cp[c->edges[e].from] > base) {
        base = cp[c->edges[e].from];
        best[k] = c->edges[e].from;
      }
    }
    cp[k] = base + v->slices[c->order[k]].dur;
    if (cp[k] > cp[end]) end = k;
  }
  s->critical = cp[end];
  s->has_deps = c->nedges > 0;
  s->nedges = c->nedges;
  size_t len = 0;
  for (size_t k = end; k != SIZE_MAX; k = best[k]) len++;
  s->path = malloc(len * sizeof *s->path);
  if (s->path != NULL) {
    s->npath = len;
    for (size_t k = end, i = len; k != SIZE_MAX; k = best[k]) s->path[--i] = c->order[k];
  }
  free(cp);
  free(best);
  return s->path != NULL ? DTX_OK : dtxi_fail(DTX_ENOMEM, "trace summary: out of memory");
}

static dtx_status tracks_and_gaps(ctx *c, dtxi_summary *s) {
  const dtxi_view *v = c->v;
  s->track_order = malloc(((size_t)v->ntracks + 1) * sizeof *s->track_order);
  s->tracks = calloc((size_t)v->ntracks + 1, sizeof *s->tracks);
  if (s->track_order == NULL || s->tracks == NULL)
    return dtxi_fail(DTX_ENOMEM, "trace summary: out of memory");
  for (uint32_t t = 0; t < v->ntracks; t++) s->track_order[t] = t;
  sort_view = v;
  qsort(s->track_order, v->ntracks, sizeof *s->track_order, by_display);
  for (uint32_t k = 0; k < v->ntracks; k++) {
    uint32_t t = s->track_order[k];
    size_t lo = c->track_off[t], hi = c->track_off[t + 1];
    if (lo == hi) continue;
    dtxi_strack *st = &s->tracks[s->ntracks++];
    st->track = t;
    st->slices = hi - lo;
    double busy = 0, at = s->t0, cur_a = 0, cur_b = -INFINITY;
    double min_gap = DTXI_GAP_FRACTION * s->wall;
    st->longest_gap = 0;
    st->gap_at = s->t0;
    for (size_t k2 = lo; k2 <= hi; k2++) {
      double a, b;
      if (k2 < hi) {
        const dtxi_vslice *x = &v->slices[c->tsort[k2]];
        a = x->ts;
        b = x->ts + x->dur;
        if (a <= cur_b) { /* overlaps the current busy stretch */
          if (b > cur_b) cur_b = b;
          continue;
        }
      } else {
        a = s->t1;
        b = s->t1;
      }
      if (cur_b > -INFINITY) {
        busy += cur_b - cur_a;
        at = cur_b;
      }
      double gap = a - at;
      if (gap > st->longest_gap) {
        st->longest_gap = gap;
        st->gap_at = at;
      }
      if (gap > 0 && gap >= min_gap) st->gaps++;
      cur_a = a;
      cur_b = b;
    }
    st->busy = busy;
    st->util = s->wall > 0 ? busy / s->wall : 0;
  }
  return DTX_OK;
}

static dtx_status prefixes(const dtxi_view *v, dtxi_summary *s) {
  smap m;
  if (!smap_init(&m, v->nslices)) return dtxi_fail(DTX_ENOMEM, "trace summary: out of memory");
  s->prefixes = calloc(v->nslices + 1, sizeof *s->prefixes);
  if (s->prefixes == NULL) {
    smap_free(&m);
    return dtxi_fail(DTX_ENOMEM, "trace summary: out of memory");
  }
  for (size_t i = 0; i < v->nslices; i++) {
    const dtxi_vslice *x = &v->slices[i];
    if (x->kind != DTXI_VK_TASK) continue;
    size_t k;
    if (!smap_get(&m, x->prefix, &k)) {
      k = s->nprefixes++;
      smap_put(&m, x->prefix, k);
      s->prefixes[k].prefix = x->prefix;
    }
    dtxi_sprefix *p = &s->prefixes[k];
    p->count++;
    p->failed += x->error != NULL;
    p->total += x->dur;
    if (p->max_key == NULL || x->dur > p->max) {
      p->max = x->dur;
      p->max_key = x->key;
    }
  }
  for (size_t k = 0; k < s->nprefixes; k++)
    s->prefixes[k].mean = s->prefixes[k].total / (double)s->prefixes[k].count;
  qsort(s->prefixes, s->nprefixes, sizeof *s->prefixes, prefix_cmp);
  smap_free(&m);
  return DTX_OK;
}

static dtx_status links_spills_errors(const dtxi_view *v, dtxi_summary *s) {
  smap m;
  size_t nerr = v->ninstants;
  for (size_t i = 0; i < v->nslices; i++) nerr += v->slices[i].error != NULL;
  s->links = calloc(v->nslices + 1, sizeof *s->links);
  s->errors = calloc(nerr + 1, sizeof *s->errors);
  if (s->links == NULL || s->errors == NULL || !smap_init(&m, v->nslices))
    return dtxi_fail(DTX_ENOMEM, "trace summary: out of memory");
  dtx_status rc = DTX_OK;
  for (size_t i = 0; i < v->nslices; i++) {
    const dtxi_vslice *x = &v->slices[i];
    if (x->error != NULL) s->errors[s->nerrors++] = (dtxi_serror){x->key, x->error, x->ts};
    if (x->kind == DTXI_VK_SPILL || x->kind == DTXI_VK_UNSPILL) {
      bool sp = x->kind == DTXI_VK_SPILL;
      *(sp ? &s->spills : &s->unspills) += 1;
      if (x->bytes > 0) *(sp ? &s->spill_bytes : &s->unspill_bytes) += x->bytes;
    }
    if (x->kind != DTXI_VK_TRANSFER) continue;
    char label[256];
    const char *link = x->link;
    if (link == NULL) { /* no link named: the track stands for it */
      dtxi_view_track_label(v, x->track, label, sizeof label);
      link = label;
    }
    size_t k;
    if (!smap_get(&m, link, &k)) {
      char *own = strdup(link); /* links own their names (freed with the summary) */
      if (own == NULL) {
        rc = dtxi_fail(DTX_ENOMEM, "trace summary: out of memory");
        break;
      }
      k = s->nlinks++;
      s->links[k].link = own;
      smap_put(&m, own, k);
    }
    dtxi_slink *l = &s->links[k];
    l->count++;
    if (x->bytes > 0) l->bytes += x->bytes;
    l->time += x->dur;
  }
  for (size_t i = 0; i < v->ninstants; i++) {
    const dtxi_vinstant *x = &v->instants[i];
    if (x->kind == DTXI_VK_ERROR) s->errors[s->nerrors++] = (dtxi_serror){x->name, x->msg, x->ts};
    if (x->kind == DTXI_VK_SPILL || x->kind == DTXI_VK_UNSPILL) {
      bool sp = x->kind == DTXI_VK_SPILL;
      *(sp ? &s->spills : &s->unspills) += 1;
      if (x->bytes > 0) *(sp ? &s->spill_bytes : &s->unspill_bytes) += x->bytes;
    }
  }
  for (size_t k = 0; k < s->nlinks; k++) {
    dtxi_slink *l = &s->links[k];
    l->gbps = l->time > 0 ? (double)l->bytes / (l->time * 1e3) : 0; /* bytes per ns = GB/s */
  }
  smap_free(&m);
  qsort(s->links, s->nlinks, sizeof *s->links, link_cmp);
  qsort(s->errors, s->nerrors, sizeof *s->errors, error_cmp);
  return rc;
}

static dtx_status memory(const dtxi_view *v, dtxi_summary *s) {
  s->memory = calloc(v->ncounters + 1, sizeof *s->memory);
  if (s->memory == NULL) return dtxi_fail(DTX_ENOMEM, "trace summary: out of memory");
  double *last_ts = calloc(v->ncounters + 1, sizeof *last_ts); /* per entry of s->memory */
  if (last_ts == NULL) return dtxi_fail(DTX_ENOMEM, "trace summary: out of memory");
  for (size_t i = 0; i < v->ncounters; i++) {
    const dtxi_vcounter *x = &v->counters[i];
    size_t k = 0;
    while (k < s->nmemory && !(s->memory[k].pid == x->pid && strcmp(s->memory[k].name, x->name) == 0)) k++;
    if (k == s->nmemory) {
      const char *proc = "?";
      for (uint32_t t = 0; t < v->ntracks; t++)
        if (v->tracks[t].pid == x->pid) proc = v->tracks[t].process;
      s->memory[s->nmemory++] = (dtxi_smem){x->pid, proc, x->name, x->value, x->value};
      last_ts[k] = x->ts;
      continue;
    }
    if (x->value > s->memory[k].peak) s->memory[k].peak = x->value;
    if (x->ts >= last_ts[k]) {
      last_ts[k] = x->ts;
      s->memory[k].last = x->value;
    }
  }
  free(last_ts);
  return DTX_OK;
}

void dtxi_summary_free(dtxi_summary *s) {
  if (s == NULL) return;
  for (size_t k = 0; k < s->nlinks; k++) free((char *)s->links[k].link);
  free(s->tracks);
  free(s->prefixes);
  free(s->path);
  free(s->links);
  free(s->errors);
  free(s->memory);
  free(s->track_order);
  free(s);
}

dtx_status dtxi_summary_make(const dtxi_view *v, dtxi_summary **out) {
  if (v == NULL || out == NULL) return dtxi_fail(DTX_EINVAL, "dtxi_summary_make: view or out is NULL");
  dtxi_summary *s = calloc(1, sizeof *s);
  ctx c = {.v = v};
  size_t n = v->nslices;
  c.order = malloc((n + 1) * sizeof *c.order);
  c.pos = malloc((n + 1) * sizeof *c.pos);
  c.tsort = malloc((n + 1) * sizeof *c.tsort);
  c.track_off = calloc((size_t)v->ntracks + 2, sizeof *c.track_off);
  dtx_status rc = DTX_OK;
  if (s == NULL || c.order == NULL || c.pos == NULL || c.tsort == NULL || c.track_off == NULL) {
    rc = dtxi_fail(DTX_ENOMEM, "trace summary: out of memory");
    goto out;
  }
  s->view = v;
  s->nslices = n;
  s->t0 = n > 0 ? INFINITY : 0;
  s->t1 = n > 0 ? -INFINITY : 0;
  for (size_t i = 0; i < n; i++) {
    const dtxi_vslice *x = &v->slices[i];
    if (x->ts < s->t0) s->t0 = x->ts;
    if (x->ts + x->dur > s->t1) s->t1 = x->ts + x->dur;
    c.order[i] = i;
  }
  s->wall = s->t1 - s->t0;
  sort_view = v;
  qsort(c.order, n, sizeof *c.order, by_start);
  for (size_t k = 0; k < n; k++) c.pos[c.order[k]] = k;
  /* group by track, keeping start order within each */
  for (size_t i = 0; i < n; i++) c.track_off[v->slices[i].track + 1]++;
  for (uint32_t t = 0; t < v->ntracks; t++) c.track_off[t + 1] += c.track_off[t];
  {
    size_t *fill = calloc((size_t)v->ntracks + 1, sizeof *fill);
    if (fill == NULL) {
      rc = dtxi_fail(DTX_ENOMEM, "trace summary: out of memory");
      goto out;
    }
    for (size_t k = 0; k < n; k++) {
      uint32_t t = v->slices[c.order[k]].track;
      c.tsort[c.track_off[t] + fill[t]++] = c.order[k];
    }
    free(fill);
  }
  DTX_CHECK_GOTO(tracks_and_gaps(&c, s), rc, out);
  DTX_CHECK_GOTO(prefixes(v, s), rc, out);
  input_edges(&c);
  flow_edges(&c);
  if (c.oom) {
    rc = dtxi_fail(DTX_ENOMEM, "trace summary: out of memory");
    goto out;
  }
  DTX_CHECK_GOTO(critical_path(&c, s), rc, out);
  DTX_CHECK_GOTO(links_spills_errors(v, s), rc, out);
  DTX_CHECK_GOTO(memory(v, s), rc, out);
out:
  free(c.order);
  free(c.pos);
  free(c.tsort);
  free(c.track_off);
  free(c.edges);
  if (rc != DTX_OK) {
    dtxi_summary_free(s);
    return rc;
  }
  *out = s;
  return DTX_OK;
}

/* ---- printing ------------------------------------------------------------------------------ */

/* Copies s into buf cut to `cols` display columns (bytes; a cut ends in "~"). */
static const char *cut(const char *s, int cols, char *buf, size_t n) {
  size_t len = strlen(s);
  if ((int)len <= cols || cols < 2) {
    snprintf(buf, n, "%s", s);
    return buf;
  }
  size_t keep = (size_t)cols - 1;
  while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80) keep--; /* not inside a UTF-8 character */
  snprintf(buf, n, "%.*s~", (int)keep, s);
  return buf;
}

void dtxi_summary_print(const dtxi_summary *s, const char *title, FILE *out) {
  const dtxi_view *v = s->view;
  char a[64], b[64], c[64], d[64], e[64], name[256], lab[256];
  fprintf(out, "dtx trace summary: %s\n", cut(title != NULL ? title : "trace", 60, name, sizeof name));
  dtxi_fmt_time(s->wall, a, sizeof a);
  fmt_count(s->nslices, b, sizeof b);
  fprintf(out, "wall time %s, %s slices on %zu tracks, %zu task prefixes\n", a, b, s->ntracks, s->nprefixes);
  if (v->capped) {
    fmt_count((size_t)v->max_events, a, sizeof a);
    fmt_count((size_t)v->dropped, b, sizeof b);
    if (v->dropped > 0)
      fprintf(out, "note: the trace was capped after %s events (%s dropped): it covers the start\n", a, b);
    else
      fprintf(out, "note: the trace was capped after %s events: it covers the start only\n", a);
  }
  if (v->truncated)
    fprintf(out, "note: the trace file ends early (not closed?): these are the events read\n");

  fprintf(out, "\nTracks %34s %9s %6s %5s %11s\n", "slices", "busy", "util", "gaps", "longest gap");
  for (size_t i = 0; i < s->ntracks; i++) {
    const dtxi_strack *t = &s->tracks[i];
    dtxi_view_track_label(v, t->track, lab, sizeof lab);
    fmt_count(t->slices, a, sizeof a);
    dtxi_fmt_time(t->busy, b, sizeof b);
    dtxi_fmt_time(t->longest_gap, c, sizeof c);
    fprintf(out, "  %-30s %8s %9s %5.1f%% %5zu %11s\n", cut(lab, 30, name, sizeof name), a, b,
            100.0 * t->util, t->gaps, c);
  }
  fprintf(out, "  (gaps: idle stretches of at least %.0f%% of the wall time)\n", 100.0 * DTXI_GAP_FRACTION);

  if (s->nprefixes > 0) {
    fprintf(out, "\nTask prefixes %21s %10s %10s %10s %6s\n", "count", "total", "mean", "max", "failed");
    for (size_t i = 0; i < s->nprefixes; i++) {
      const dtxi_sprefix *p = &s->prefixes[i];
      fmt_count(p->count, a, sizeof a);
      dtxi_fmt_time(p->total, b, sizeof b);
      dtxi_fmt_time(p->mean, c, sizeof c);
      dtxi_fmt_time(p->max, d, sizeof d);
      fmt_count(p->failed, e, sizeof e);
      fprintf(out, "  %-24s %8s %10s %10s %10s %6s\n", cut(p->prefix, 24, name, sizeof name), a, b, c, d, e);
    }
  }

  fputc('\n', out);
  if (s->nslices == 0) {
    fprintf(out, "Critical path: no slices\n");
  } else if (!s->has_deps) {
    dtxi_fmt_time(s->critical, a, sizeof a);
    fprintf(out, "Critical path: unknown, the trace records no dependencies (task inputs or\n");
    fprintf(out, "  flow arrows); the longest slice takes %s\n", a);
  } else {
    dtxi_fmt_time(s->critical, a, sizeof a);
    dtxi_fmt_time(s->wall, b, sizeof b);
    fprintf(out, "Critical path %s over %zu slices; wall time %s = %.2fx the path\n", a, s->npath, b,
            s->critical > 0 ? s->wall / s->critical : 0.0);
    int col = 2;
    fputs("  ", out);
    for (size_t i = 0; i < s->npath; i++) {
      if (s->npath > 8 && i == 4) {
        i = s->npath - 3;
        fputs("... -> ", out);
        col += 7;
      }
      const char *k = cut(v->slices[s->path[i]].name, 40, name, sizeof name);
      int w = (int)strlen(k) + (i + 1 < s->npath ? 4 : 0);
      if (col + w > 78 && col > 2) {
        fputs("\n  ", out);
        col = 2;
      }
      fprintf(out, "%s%s", k, i + 1 < s->npath ? " -> " : "");
      col += w;
    }
    fputc('\n', out);
  }

  if (s->nlinks > 0) {
    fprintf(out, "\nTransfers by link %21s %10s %10s %9s\n", "count", "bytes", "time", "GB/s");
    for (size_t i = 0; i < s->nlinks; i++) {
      const dtxi_slink *l = &s->links[i];
      fmt_count(l->count, a, sizeof a);
      dtxi_fmt_bytes((double)l->bytes, b, sizeof b);
      dtxi_fmt_time(l->time, c, sizeof c);
      fprintf(out, "  %-28s %8s %10s %10s %9.3f\n", cut(l->link, 28, name, sizeof name), a, b, c, l->gbps);
    }
  } else {
    fprintf(out, "\nTransfers: none\n");
  }

  dtxi_fmt_bytes((double)s->spill_bytes, a, sizeof a);
  dtxi_fmt_bytes((double)s->unspill_bytes, b, sizeof b);
  fprintf(out, "Spills: %zu spilled (%s), %zu brought back (%s)\n", s->spills, a, s->unspills, b);

  fprintf(out, "Errors: %zu\n", s->nerrors);
  for (size_t i = 0; i < s->nerrors && i < 5; i++) {
    char line[512];
    const dtxi_serror *er = &s->errors[i];
    /* A task's message usually starts with its key already. */
    if (er->msg != NULL && strncmp(er->msg, er->key, strlen(er->key)) == 0)
      snprintf(line, sizeof line, "%s", er->msg);
    else
      snprintf(line, sizeof line, "%s: %s", er->key, er->msg != NULL ? er->msg : "(no message)");
    for (char *p = line; *p; p++)
      if (*p == '\n' || *p == '\t') *p = ' ';
    fprintf(out, "  %s\n", cut(line, 76, name, sizeof name));
  }
  if (s->nerrors > 5) fprintf(out, "  ... and %zu more\n", s->nerrors - 5);

  if (s->nmemory > 0) {
    fprintf(out, "\nMemory counters %39s %10s\n", "peak", "last");
    for (size_t i = 0; i < s->nmemory; i++) {
      const dtxi_smem *m = &s->memory[i];
      char both[512];
      snprintf(both, sizeof both, "%s / %s", m->process, m->name);
      bool bytes = strstr(m->name, "memory") != NULL || strstr(m->name, "bytes") != NULL;
      if (bytes) {
        dtxi_fmt_bytes(m->peak, a, sizeof a);
        dtxi_fmt_bytes(m->last, b, sizeof b);
      } else {
        snprintf(a, sizeof a, "%.6g", m->peak);
        snprintf(b, sizeof b, "%.6g", m->last);
      }
      fprintf(out, "  %-42s %10s %10s\n", cut(both, 42, name, sizeof name), a, b);
    }
  }
}
