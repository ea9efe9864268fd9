/*
 * diag/view.c - reading a Chrome trace JSON back (see view.h).
 *
 * The outer document ({"traceEvents":[...], "otherData":{...}, ...} or a bare
 * array of events) is walked by hand; each event object, and otherData, is
 * parsed by libjansson (json_loadb with JSON_DISABLE_EOF_CHECK, which stops
 * after one value and reports how many bytes it read) and turned into a
 * compact record at once. Owns: the view, its record arrays (grown by
 * doubling), its string arena and its (pid, tid) -> track hash. One thread.
 */
#include "diag/view.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

#ifdef DTX_HAVE_JANSSON
#include <jansson.h>
#endif

#define NO_JANSSON_MSG                                                                                   \
  "reading traces needs libjansson, which this build of dtx lacks: install it (Debian: apt-get install " \
  "libjansson-dev) and rebuild dtx"

int dtxi_diag_available(void) {
#ifdef DTX_HAVE_JANSSON
  return 1;
#else
  return 0;
#endif
}

/* ---- arena, growable arrays, track hash -------------------------------------------- */

typedef struct ablock {
  struct ablock *next;
  size_t used, cap;
  char data[];
} ablock;

typedef struct proc {
  int pid;
  const char *name;
  int sort;
  bool has_sort;
} proc;

typedef struct vpriv {
  ablock *arena;
  uint32_t *slots; /* track index + 1; 0 = empty */
  uint32_t mask;
  proc *procs;
  size_t nprocs, cap_procs;
  bool *has_sort; /* per track: thread_sort_index seen */
  size_t cap_tracks, cap_slices, cap_instants, cap_counters, cap_flows, cap_inputs;
  bool oom;
} vpriv;

#ifdef DTX_HAVE_JANSSON /* the helpers below serve the reader only */

static void *arena_alloc(vpriv *p, size_t n) {
  n = (n + 7) & ~(size_t)7;
  if (p->arena == NULL || p->arena->used + n > p->arena->cap) {
    size_t cap = n > 65536 ? n : 65536;
    ablock *b = malloc(sizeof *b + cap);
    if (b == NULL) {
      p->oom = true;
      return NULL;
    }
    b->next = p->arena;
    b->used = 0;
    b->cap = cap;
    p->arena = b;
  }
  void *r = p->arena->data + p->arena->used;
  p->arena->used += n;
  return r;
}

static const char *arena_str(vpriv *p, const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s) + 1;
  char *d = arena_alloc(p, n);
  if (d != NULL) memcpy(d, s, n);
  return d;
}

/* Makes room for one more element in *arr (count n, capacity *cap). */
static bool grow(vpriv *p, void **arr, size_t n, size_t *cap, size_t elem) {
  if (n < *cap) return true;
  size_t c = *cap ? *cap * 2 : 64;
  void *g = realloc(*arr, c * elem);
  if (g == NULL) {
    p->oom = true;
    return false;
  }
  *arr = g;
  *cap = c;
  return true;
}

static uint32_t hash2(int pid, int tid) {
  uint64_t h = ((uint64_t)(uint32_t)pid << 32) | (uint32_t)tid;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return (uint32_t)h;
}

/* The index of track (pid, tid), added on first sight; UINT32_MAX when out of memory. */
static uint32_t track_of(dtxi_view *v, int pid, int tid) {
  vpriv *p = v->priv;
  if (p->slots == NULL || 2 * (v->ntracks + 1) > p->mask + 1) {
    uint32_t size = p->slots == NULL ? 64 : 2 * (p->mask + 1);
    uint32_t *s = calloc(size, sizeof *s);
    if (s == NULL) {
      p->oom = true;
      return UINT32_MAX;
    }
    free(p->slots);
    p->slots = s;
    p->mask = size - 1;
    for (uint32_t i = 0; i < v->ntracks; i++) {
      uint32_t h = hash2(v->tracks[i].pid, v->tracks[i].tid) & p->mask;
      while (p->slots[h] != 0) h = (h + 1) & p->mask;
      p->slots[h] = i + 1;
    }
  }
  uint32_t h = hash2(pid, tid) & p->mask;
  while (p->slots[h] != 0) {
    const dtxi_vtrack *t = &v->tracks[p->slots[h] - 1];
    if (t->pid == pid && t->tid == tid) return p->slots[h] - 1;
    h = (h + 1) & p->mask;
  }
  if (!grow(p, (void **)&v->tracks, v->ntracks, &p->cap_tracks, sizeof *v->tracks)) return UINT32_MAX;
  size_t cap = p->cap_tracks;
  bool *hs = realloc(p->has_sort, cap * sizeof *hs);
  if (hs == NULL) {
    p->oom = true;
    return UINT32_MAX;
  }
  p->has_sort = hs;
  hs[v->ntracks] = false;
  v->tracks[v->ntracks] = (dtxi_vtrack){pid, tid, NULL, NULL, tid, pid};
  p->slots[h] = v->ntracks + 1;
  return v->ntracks++;
}

static proc *proc_of(dtxi_view *v, int pid) {
  vpriv *p = v->priv;
  for (size_t i = 0; i < p->nprocs; i++)
    if (p->procs[i].pid == pid) return &p->procs[i];
  if (!grow(p, (void **)&p->procs, p->nprocs, &p->cap_procs, sizeof *p->procs)) return NULL;
  p->procs[p->nprocs] = (proc){pid, NULL, pid, false};
  return &p->procs[p->nprocs++];
}

#endif /* DTX_HAVE_JANSSON */

void dtxi_view_free(dtxi_view *v) {
  if (v == NULL) return;
  vpriv *p = v->priv;
  if (p != NULL) {
    for (ablock *b = p->arena, *n; b != NULL; b = n) {
      n = b->next;
      free(b);
    }
    free(p->slots);
    free(p->procs);
    free(p->has_sort);
    free(p);
  }
  free(v->tracks);
  free(v->slices);
  free(v->instants);
  free(v->counters);
  free(v->flows);
  free(v->inputs);
  free(v);
}

void dtxi_view_track_label(const dtxi_view *v, uint32_t track, char *buf, size_t n) {
  if (n == 0) return;
  if (v == NULL || track >= v->ntracks) {
    snprintf(buf, n, "?");
    return;
  }
  const dtxi_vtrack *t = &v->tracks[track];
  snprintf(buf, n, "%s / %s", t->process, t->name);
}

#ifdef DTX_HAVE_JANSSON

/* ---- one event ------------------------------------------------------------------ */

static const char *jstr(json_t *o, const char *k) {
  json_t *x = json_object_get(o, k);
  return json_is_string(x) ? json_string_value(x) : NULL;
}

static bool jnum(json_t *o, const char *k, double *out) {
  json_t *x = json_object_get(o, k);
  if (!json_is_number(x)) return false;
  *out = json_number_value(x);
  return true;
}

static int jint(json_t *o, const char *k, int def) {
  double d;
  return jnum(o, k, &d) ? (int)d : def;
}

static bool starts(const char *s, const char *p) { return s != NULL && strncmp(s, p, strlen(p)) == 0; }

static dtxi_vkind kind_of(const char *cat, const char *name, bool instant) {
  if (cat != NULL && strcmp(cat, "transfer") == 0) return DTXI_VK_TRANSFER;
  if (starts(cat, "unspill") || starts(name, "unspill")) return DTXI_VK_UNSPILL;
  if (starts(cat, "spill") || starts(name, "spill")) return DTXI_VK_SPILL;
  if (instant) return cat != NULL && strcmp(cat, "error") == 0 ? DTXI_VK_ERROR : DTXI_VK_OTHER;
  return DTXI_VK_TASK;
}

static void meta(dtxi_view *v, json_t *e) {
  vpriv *p = v->priv;
  const char *what = jstr(e, "name");
  json_t *args = json_object_get(e, "args");
  int pid = jint(e, "pid", 0), tid = jint(e, "tid", 0);
  if (what == NULL || !json_is_object(args)) return;
  if (strcmp(what, "process_name") == 0 || strcmp(what, "process_sort_index") == 0) {
    proc *pr = proc_of(v, pid);
    if (pr == NULL) return;
    if (what[8] == 'n') {
      const char *n = jstr(args, "name");
      if (n != NULL) pr->name = arena_str(p, n);
    } else {
      pr->sort = jint(args, "sort_index", pid);
      pr->has_sort = true;
    }
  } else if (strcmp(what, "thread_name") == 0 || strcmp(what, "thread_sort_index") == 0) {
    uint32_t t = track_of(v, pid, tid);
    if (t == UINT32_MAX) return;
    if (what[7] == 'n') {
      const char *n = jstr(args, "name");
      if (n != NULL) v->tracks[t].name = arena_str(p, n);
    } else {
      v->tracks[t].sort = jint(args, "sort_index", tid);
      p->has_sort[t] = true;
    }
  }
}

static void slice(dtxi_view *v, json_t *e) {
  vpriv *p = v->priv;
  double ts = 0, dur = 0;
  jnum(e, "ts", &ts);
  jnum(e, "dur", &dur);
  if (dur < 0) dur = 0;
  uint32_t t = track_of(v, jint(e, "pid", 0), jint(e, "tid", 0));
  if (t == UINT32_MAX || !grow(p, (void **)&v->slices, v->nslices, &p->cap_slices, sizeof *v->slices)) return;
  const char *name = jstr(e, "name"), *cat = jstr(e, "cat");
  json_t *args = json_object_get(e, "args");
  dtxi_vslice s = {.track = t, .ts = ts, .dur = dur, .device = -1, .bytes = -1};
  s.kind = kind_of(cat, name, false);
  s.name = arena_str(p, name != NULL ? name : "");
  s.key = s.name;
  if (json_is_object(args)) {
    const char *key = jstr(args, "key"), *prefix = jstr(args, "prefix"), *link = jstr(args, "link");
    const char *err = jstr(args, "error");
    double d;
    if (key != NULL) s.key = arena_str(p, key);
    if (prefix != NULL) s.prefix = arena_str(p, prefix);
    if (link != NULL) s.link = arena_str(p, link);
    if (err != NULL) s.error = arena_str(p, err);
    if (jnum(args, "device", &d)) s.device = (int)d;
    if (jnum(args, "bytes", &d)) s.bytes = (int64_t)d;
    json_t *in = json_object_get(args, "inputs");
    if (json_is_array(in)) {
      s.in_off = (uint32_t)v->ninputs;
      for (size_t i = 0; i < json_array_size(in); i++) {
        json_t *k = json_array_get(in, i);
        if (!json_is_string(k)) continue;
        if (!grow(p, (void **)&v->inputs, v->ninputs, &p->cap_inputs, sizeof *v->inputs)) break;
        v->inputs[v->ninputs++] = arena_str(p, json_string_value(k));
        s.nin++;
      }
    }
  }
  if (cat != NULL && strcmp(cat, "error") == 0 && s.error == NULL) s.error = s.name;
  if (s.prefix == NULL) {
    const char *br = strchr(s.key, '[');
    if (br == NULL) {
      s.prefix = s.key;
    } else {
      size_t n = (size_t)(br - s.key);
      char *pf = arena_alloc(p, n + 1);
      if (pf != NULL) {
        memcpy(pf, s.key, n);
        pf[n] = '\0';
      }
      s.prefix = pf != NULL ? pf : s.key;
    }
  }
  v->slices[v->nslices++] = s;
}

static void instant(dtxi_view *v, json_t *e) {
  vpriv *p = v->priv;
  const char *name = jstr(e, "name"), *cat = jstr(e, "cat");
  json_t *args = json_object_get(e, "args");
  if (starts(name, "trace capped after")) {
    v->capped = 1;
    double d;
    if (json_is_object(args) && jnum(args, "max_events", &d)) v->max_events = (uint64_t)d;
    return;
  }
  double ts = 0;
  jnum(e, "ts", &ts);
  uint32_t t = track_of(v, jint(e, "pid", 0), jint(e, "tid", 0));
  if (t == UINT32_MAX || !grow(p, (void **)&v->instants, v->ninstants, &p->cap_instants, sizeof *v->instants))
    return;
  dtxi_vinstant in = {.track = t, .ts = ts, .bytes = -1, .kind = kind_of(cat, name, true)};
  in.name = arena_str(p, name != NULL ? name : "");
  if (json_is_object(args)) {
    const char *m = jstr(args, "error");
    if (m == NULL) m = jstr(args, "message");
    in.msg = arena_str(p, m);
    double d;
    if (jnum(args, "bytes", &d)) in.bytes = (int64_t)d;
  }
  v->instants[v->ninstants++] = in;
}

static void counter(dtxi_view *v, json_t *e) {
  vpriv *p = v->priv;
  json_t *args = json_object_get(e, "args");
  const char *name = jstr(e, "name");
  double ts = 0;
  jnum(e, "ts", &ts);
  if (!json_is_object(args)) return;
  const char *k;
  json_t *x;
  json_object_foreach(args, k, x) {
    if (!json_is_number(x)) continue;
    if (!grow(p, (void **)&v->counters, v->ncounters, &p->cap_counters, sizeof *v->counters)) return;
    size_t n = strlen(name != NULL ? name : "counter") + strlen(k) + 2;
    char *full = arena_alloc(p, n);
    if (full == NULL) return;
    snprintf(full, n, "%s %s", name != NULL ? name : "counter", k);
    v->counters[v->ncounters++] = (dtxi_vcounter){jint(e, "pid", 0), full, ts, json_number_value(x)};
  }
}

static void flow(dtxi_view *v, json_t *e, char ph) {
  vpriv *p = v->priv;
  double ts = 0, id = 0;
  jnum(e, "ts", &ts);
  json_t *jid = json_object_get(e, "id");
  if (json_is_number(jid)) {
    id = json_number_value(jid);
  } else if (json_is_string(jid)) {
    id = strtod(json_string_value(jid), NULL); /* "0x1f" and "31" alike */
    if (id == 0) id = (double)strtoull(json_string_value(jid), NULL, 0);
  }
  if (id <= 0) return;
  uint32_t t = track_of(v, jint(e, "pid", 0), jint(e, "tid", 0));
  if (t == UINT32_MAX || !grow(p, (void **)&v->flows, v->nflows, &p->cap_flows, sizeof *v->flows)) return;
  v->flows[v->nflows++] = (dtxi_vflow){t, ts, (uint64_t)id, ph};
}

static void event(dtxi_view *v, json_t *e) {
  if (!json_is_object(e)) return;
  const char *ph = jstr(e, "ph");
  if (ph == NULL || ph[0] == '\0' || ph[1] != '\0') return;
  v->events++;
  switch (ph[0]) {
    case 'M':
      meta(v, e);
      break;
    case 'X':
      slice(v, e);
      break;
    case 'i':
    case 'I':
      instant(v, e);
      break;
    case 'C':
      counter(v, e);
      break;
    case 's':
    case 't':
    case 'f':
      flow(v, e, ph[0]);
      break;
    default:
      break; /* B/E pairs, async and object events: not drawn */
  }
}

static void other_data(dtxi_view *v, json_t *o) {
  json_t *c = json_object_get(o, "capped");
  if (!json_is_object(c)) return;
  double d;
  v->capped = 1;
  if (jnum(c, "max_events", &d)) v->max_events = (uint64_t)d;
  if (jnum(c, "dropped_events", &d)) v->dropped = (uint64_t)d;
}

/* ---- the outer document -------------------------------------------------------------- */

typedef struct cursor {
  const char *p, *end;
} cursor;

static void ws(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

/* Skips a JSON string at c->p; false when it does not end. */
static bool skip_string(cursor *c) {
  for (c->p++; c->p < c->end; c->p++) {
    if (*c->p == '\\') {
      c->p++;
    } else if (*c->p == '"') {
      c->p++;
      return true;
    }
  }
  return false;
}

/* Parses one object or array with jansson; NULL (and c unchanged) on failure. */
static json_t *load_one(cursor *c, json_error_t *err) {
  json_t *j = json_loadb(c->p, (size_t)(c->end - c->p), JSON_DISABLE_EOF_CHECK, err);
  if (j != NULL) c->p += err->position;
  return j;
}

/* Skips any JSON value; false when it is not one. */
static bool skip_value(cursor *c) {
  ws(c);
  if (c->p >= c->end) return false;
  if (*c->p == '"') return skip_string(c);
  if (*c->p == '{' || *c->p == '[') {
    json_error_t err;
    json_t *j = load_one(c, &err);
    json_decref(j);
    return j != NULL;
  }
  const char *s = c->p;
  while (c->p < c->end && strchr(",}] \t\r\n", *c->p) == NULL) c->p++;
  return c->p > s;
}

/* Reads the events of the array at c->p ('['). Stops at its end, or sets
 * truncated where the text ends or breaks. */
static void events(dtxi_view *v, cursor *c) {
  c->p++;
  for (;;) {
    ws(c);
    if (c->p >= c->end) {
      v->truncated = 1;
      return;
    }
    if (*c->p == ']') {
      c->p++;
      return;
    }
    json_error_t err;
    json_t *e = load_one(c, &err);
    if (e == NULL) {
      v->truncated = 1;
      return;
    }
    event(v, e);
    json_decref(e);
    if (((vpriv *)v->priv)->oom) return;
    ws(c);
    if (c->p < c->end && *c->p == ',') c->p++;
  }
}

static void resolve_names(dtxi_view *v) {
  vpriv *p = v->priv;
  for (uint32_t i = 0; i < v->ntracks; i++) {
    dtxi_vtrack *t = &v->tracks[i];
    proc *pr = proc_of(v, t->pid);
    char buf[64];
    if (pr != NULL && pr->name == NULL) {
      snprintf(buf, sizeof buf, "pid %d", t->pid);
      pr->name = arena_str(p, buf);
    }
    t->process = pr != NULL && pr->name != NULL ? pr->name : "?";
    t->psort = pr != NULL ? pr->sort : t->pid;
    if (t->name == NULL) {
      snprintf(buf, sizeof buf, "tid %d", t->tid);
      t->name = arena_str(p, buf);
      if (t->name == NULL) t->name = "?";
    }
  }
}

dtx_status dtxi_view_load_text(const char *text, size_t len, const char *what, dtxi_view **out) {
  if (text == NULL || out == NULL) return dtxi_fail(DTX_EINVAL, "dtxi_view_load_text: text or out is NULL");
  if (what == NULL) what = "trace";
  dtxi_view *v = calloc(1, sizeof *v);
  vpriv *p = calloc(1, sizeof *p);
  if (v == NULL || p == NULL) {
    free(v);
    free(p);
    return dtxi_fail(DTX_ENOMEM, "%s: out of memory", what);
  }
  v->priv = p;
  cursor c = {text, text + len};
  ws(&c);
  dtx_status rc = DTX_OK;
  bool seen_events = false;
  if (c.p < c.end && *c.p == '[') {
    events(v, &c);
    seen_events = true;
  } else if (c.p < c.end && *c.p == '{') {
    c.p++;
    for (;;) {
      ws(&c);
      if (c.p >= c.end) {
        v->truncated = 1;
        break;
      }
      if (*c.p == '}') break;
      if (*c.p == ',') {
        c.p++;
        continue;
      }
      if (*c.p != '"') {
        rc = dtxi_fail(DTX_EINVAL, "%s is not a Chrome trace JSON: a member name was expected at byte %zu",
                       what, (size_t)(c.p - text));
        break;
      }
      const char *k = c.p + 1;
      if (!skip_string(&c)) {
        v->truncated = 1;
        break;
      }
      size_t klen = (size_t)(c.p - k - 1);
      ws(&c);
      if (c.p >= c.end || *c.p != ':') {
        v->truncated = c.p >= c.end;
        if (!v->truncated)
          rc = dtxi_fail(DTX_EINVAL, "%s is not a Chrome trace JSON: ':' was expected at byte %zu", what,
                         (size_t)(c.p - text));
        break;
      }
      c.p++;
      ws(&c);
      if (klen == 11 && memcmp(k, "traceEvents", 11) == 0 && c.p < c.end && *c.p == '[') {
        events(v, &c);
        seen_events = true;
        if (v->truncated) break;
      } else if (klen == 9 && memcmp(k, "otherData", 9) == 0 && c.p < c.end && *c.p == '{') {
        json_error_t err;
        json_t *o = load_one(&c, &err);
        if (o == NULL) {
          v->truncated = 1;
          break;
        }
        other_data(v, o);
        json_decref(o);
      } else if (!skip_value(&c)) {
        v->truncated = 1;
        break;
      }
    }
  } else {
    rc = dtxi_fail(DTX_EINVAL, "%s is not a Chrome trace JSON: it does not start with '{' or '['", what);
  }
  if (rc == DTX_OK && !seen_events)
    rc = dtxi_fail(DTX_EINVAL, "%s is not a Chrome trace JSON: it has no traceEvents array", what);
  if (rc == DTX_OK && p->oom) rc = dtxi_fail(DTX_ENOMEM, "%s: out of memory reading it", what);
  if (rc != DTX_OK) {
    dtxi_view_free(v);
    return rc;
  }
  resolve_names(v);
  *out = v;
  return DTX_OK;
}

#else /* no jansson */

dtx_status dtxi_view_load_text(const char *text, size_t len, const char *what, dtxi_view **out) {
  (void)text;
  (void)len;
  (void)what;
  (void)out;
  return dtxi_fail(DTX_EINVAL, NO_JANSSON_MSG);
}

#endif

dtx_status dtxi_view_load_file(const char *path, dtxi_view **out) {
  if (path == NULL || out == NULL) return dtxi_fail(DTX_EINVAL, "dtxi_view_load_file: path or out is NULL");
  if (!dtxi_diag_available()) return dtxi_fail(DTX_EINVAL, NO_JANSSON_MSG);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return dtxi_fail(DTX_EIO, "cannot open trace '%s': %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return dtxi_fail(DTX_EIO, "cannot read trace '%s': not a regular file", path);
  }
  if (st.st_size == 0) {
    close(fd);
    return dtxi_fail(DTX_EINVAL, "trace '%s' is empty", path);
  }
  void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return dtxi_fail(DTX_EIO, "cannot read trace '%s': %s", path, strerror(errno));
  char what[512];
  snprintf(what, sizeof what, "trace '%s'", path);
  dtx_status rc = dtxi_view_load_text(map, (size_t)st.st_size, what, out);
  munmap(map, (size_t)st.st_size);
  return rc;
}
