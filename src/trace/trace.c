/*
 * trace/trace.c - the profile trace: a Chrome trace JSON writer (Perfetto,
 * chrome://tracing), in the "JSON Object Format":
 *
 *   {"traceEvents":[
 *   {"ph":"M","pid":1,"tid":0,"name":"process_name","args":{"name":"dtx host"}},
 *   {"ph":"X","pid":1,"tid":1,"name":"add[2,1]","cat":"task","ts":12.345,"dur":0.250,
 *    "args":{"key":"add[2,1]","prefix":"add"}},
 *   ...
 *   ],"displayTimeUnit":"ns","otherData":{"producer":"dtx","version":"0.1.0"}}
 *
 * "ts" and "dur" are microseconds with three decimals (ns precision); ts is
 * relative to the moment the trace was opened (earlier times clamp to 0).
 *
 * Owns: one dtxi_trace per open trace file (the FILE, a 64 KiB buffer, the
 * counters below). Threads: any thread may emit. Each event is formatted on the
 * emitting thread's stack (no lock held), then appended to the buffer under
 * `mu`; the buffer goes to the FILE when full, on dtxi_trace_flush and on
 * dtxi_trace_close. Close must not race with emitters (the owner stops them
 * first).
 *
 * Invariants (under mu): 0 <= len <= DTXI_TRACE_BUF; nevents = number of events
 * appended so far, and every event but the first is preceded by ",\n", so the
 * closed file is valid JSON whatever nevents is (0 included). written + len =
 * bytes of events text after the header (the file offset of the end is
 * header + written + len).
 *
 * Memory is bounded whatever the run's length: the buffer, the named stream
 * tracks, and a copy of the metadata events (process and track names, a few
 * per track), which dtxi_trace_read_since puts in front of the events it
 * returns so that a part of the trace still names its tracks.
 *
 * Cap: at most max_events events other than metadata ("M") are written
 * (DTX_TRACE_MAX_EVENTS; 0 = no cap). The first event over the cap is replaced
 * by a global instant "trace capped after N events" (cat "dtx"; N = the events
 * written), it and every later one are only counted (dropped), and the footer's otherData says
 * "capped":{"max_events":N,"dropped_events":D}. Metadata is never dropped, so
 * a capped file still names every track and is still valid JSON. An event
 * that writes several events (a transfer and its flow step) is kept or dropped
 * whole.
 *
 * Track ids: workers use their index + 1 (named by the scheduler); any other
 * thread asks dtxi_trace_caller_tid, which hands out 1000 + n ("caller n") and
 * remembers it in a thread-local cache keyed by (trace pointer, trace serial),
 * so a new trace allocated at an old trace's address never reuses stale ids.
 *
 * GPUs: GPU g is pid 100 + g. Its process is named once ("gpu g: <device>")
 * by dtxi_trace_gpu_process, or "gpu g" before its first event if that came
 * first (then renamed once by a later dtxi_trace_gpu_process). Stream tracks
 * are kept in `streams` (gpu, label, tid), one entry per named track, so each
 * is named exactly once; tids follow from the label (see trace.h).
 *
 * More events: transfers are "X" slices (cat "transfer") optionally followed
 * by a flow step; flows are v1 "s"/"t"/"f" events with a fixed name and cat;
 * counters "C"; instants "i" with thread scope. Caller-supplied args text is
 * checked to be one JSON object (json_object_members) before it is copied in,
 * so whatever callers pass, the file stays valid JSON.
 *
 * More invariants (under mu): bit g of gpu_named is set iff a process_name for
 * pid 100 + g was written; bit g of gpu_explicit is set iff
 * dtxi_trace_gpu_process(g) has run; no two entries of streams share
 * (gpu, label) or (gpu, tid).
 */
#include "trace/trace.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "base/error.h"
#include "dtx/version.h"

#define DTXI_TRACE_BUF (64 * 1024)
#define CALLER_TID_BASE 1000
#define CALLER_CACHE 4 /* traces a thread remembers its caller id for */
#define HOST_PID DTXI_TRACE_HOST_PID
#define GPU_PID_BASE DTXI_TRACE_GPU_PID_BASE
#define MAX_GPUS DTXI_TRACE_MAX_GPUS
#define OTHER_STREAM_TID_BASE 2000 /* tids of stream labels without a fixed tid */
#define JSON_MAX_DEPTH 32          /* nesting accepted in caller-supplied args */
#define FLOW_NAME "dataflow"       /* name and cat of every flow event */
#define TRACE_HEAD "{\"traceEvents\":[\n"

/* A named GPU stream track. */
typedef struct stream_entry {
  int gpu;
  int tid;
  char *label;
} stream_entry;

struct dtxi_trace {
  pthread_mutex_t mu;
  FILE *f;
  char *path;
  uint64_t t0_ns;      /* dtxi_now_ns() at open; ts are relative to it */
  uint64_t serial;     /* unique per opened trace (process-wide counter) */
  atomic_int ncallers; /* caller tracks handed out so far */
  /* Under mu: */
  bool host_named;                      /* process_name of pid 1 written */
  bool io_error;                        /* a write failed; later writes are dropped */
  uint64_t gpu_named[MAX_GPUS / 64];    /* bit g: pid 100 + g has a process_name */
  uint64_t gpu_explicit[MAX_GPUS / 64]; /* bit g: named by dtxi_trace_gpu_process */
  stream_entry *streams;                /* named stream tracks */
  size_t nstreams, cap_streams;
  uint64_t nevents;
  uint64_t ndata;      /* events other than metadata, dropped ones excluded */
  uint64_t max_events; /* cap on ndata; 0 = none */
  uint64_t dropped;    /* events not written because of the cap */
  uint64_t written;    /* bytes of events text written to the file */
  char *meta;          /* the metadata events so far, joined by ",\n" */
  size_t meta_len, meta_cap;
  bool temporary; /* an unlinked scratch file (dtxi_trace_open_temp) */
  size_t len;
  char buf[DTXI_TRACE_BUF];
};

static atomic_uint_fast64_t trace_serial;

uint64_t dtxi_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- event text: a growable string that starts on the caller's stack ---------- */

typedef struct sbuf {
  char *p;
  size_t len, cap;
  bool heap, oom;
  char stack[512];
} sbuf;

static void sb_init(sbuf *s) {
  s->p = s->stack;
  s->len = 0;
  s->cap = sizeof s->stack;
  s->heap = false;
  s->oom = false;
}

static void sb_free(sbuf *s) {
  if (s->heap) free(s->p);
}

/* Makes room for n more bytes; false (and sets oom) when it cannot. */
static bool sb_reserve(sbuf *s, size_t n) {
  if (s->oom) return false;
  if (s->len + n <= s->cap) return true;
  size_t cap = s->cap * 2;
  while (cap < s->len + n) cap *= 2;
  char *p = s->heap ? realloc(s->p, cap) : malloc(cap);
  if (p == NULL) {
    s->oom = true;
    return false;
  }
  if (!s->heap) memcpy(p, s->stack, s->len);
  s->p = p;
  s->cap = cap;
  s->heap = true;
  return true;
}

static void sb_put(sbuf *s, const char *str, size_t n) {
  if (!sb_reserve(s, n)) return;
  memcpy(s->p + s->len, str, n);
  s->len += n;
}

static void sb_puts(sbuf *s, const char *str) { sb_put(s, str, strlen(str)); }

static void sb_printf(sbuf *s, const char *fmt, ...) DTX_PRINTF(2, 3);
static void sb_printf(sbuf *s, const char *fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  /* Only short numeric fragments are formatted this way. */
  if (n > 0) sb_put(s, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/*
 * Appends the characters of str escaped for a JSON string literal, without the
 * quotes. Quote and backslash are escaped, control bytes (< 0x20, and DEL)
 * become \u00XX (\n, \t, \r, \b, \f use their short forms); other bytes,
 * UTF-8 included, pass through as is. NULL appends nothing.
 */
static void sb_json_chars(sbuf *s, const char *str) {
  static const char hex[] = "0123456789abcdef";
  if (str != NULL) {
    const char *run = str; /* start of bytes that need no escaping */
    for (const char *c = str;; c++) {
      unsigned char b = (unsigned char)*c;
      if (b != 0 && b >= 0x20 && b != '"' && b != '\\' && b != 0x7f) continue;
      sb_put(s, run, (size_t)(c - run));
      if (b == 0) break;
      char esc[6] = {'\\', 0, 0, 0, 0, 0};
      size_t n = 2;
      switch (b) {
        case '"':
          esc[1] = '"';
          break;
        case '\\':
          esc[1] = '\\';
          break;
        case '\n':
          esc[1] = 'n';
          break;
        case '\t':
          esc[1] = 't';
          break;
        case '\r':
          esc[1] = 'r';
          break;
        case '\b':
          esc[1] = 'b';
          break;
        case '\f':
          esc[1] = 'f';
          break;
        default:
          esc[1] = 'u';
          esc[2] = '0';
          esc[3] = '0';
          esc[4] = hex[b >> 4];
          esc[5] = hex[b & 0xf];
          n = 6;
      }
      sb_put(s, esc, n);
      run = c + 1;
    }
  }
}

/* Appends str as a JSON string literal, quotes included; NULL is written as "". */
static void sb_json_str(sbuf *s, const char *str) {
  sb_put(s, "\"", 1);
  sb_json_chars(s, str);
  sb_put(s, "\"", 1);
}

/* Appends ns as microseconds with three decimals: 12345 -> 12.345. */
static void sb_us(sbuf *s, uint64_t ns) {
  sb_printf(s, "%" PRIu64 ".%03u", ns / 1000u, (unsigned)(ns % 1000u));
}

/* Appends bytes / dur_ns (bytes per ns = GB/s) with three decimals, rounded
 * down. dur_ns > 0. Printed as two integers, so no locale can change the text. */
static void sb_gbps(sbuf *s, uint64_t bytes, uint64_t dur_ns) {
  uint64_t whole = bytes / dur_ns, rem = bytes % dur_ns;
  unsigned milli = (unsigned)((double)rem * 1000.0 / (double)dur_ns);
  if (milli > 999) milli = 999; /* rem < dur_ns; only rounding could reach 1000 */
  sb_printf(s, "%" PRIu64 ".%03u", whole, milli);
}

/*
 * Appends v as a JSON number: an integer when v is integral and |v| <= 2^53,
 * else 17 significant digits (%.17g, which round-trips). A decimal separator
 * other than '.' (the host program may have called setlocale) becomes '.'.
 * Returns false, appending nothing, for NaN and infinities.
 */
static bool sb_double(sbuf *s, double v) {
  if (!isfinite(v)) return false;
  if (v >= -9007199254740992.0 && v <= 9007199254740992.0 && v == (double)(int64_t)v) {
    sb_printf(s, "%" PRId64, (int64_t)v);
    return true;
  }
  char tmp[64], out[64];
  int n = snprintf(tmp, sizeof tmp, "%.17g", v);
  if (n <= 0 || (size_t)n >= sizeof tmp) return false;
  size_t m = 0;
  for (int i = 0; i < n; i++) {
    char c = tmp[i];
    bool numeric = (c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E';
    if (numeric) {
      out[m++] = c;
    } else if (m == 0 || out[m - 1] != '.') {
      out[m++] = '.'; /* the decimal separator, one byte or several */
    }
  }
  sb_put(s, out, m);
  return true;
}

/* ---- checking caller-supplied JSON -------------------------------------------- */

static bool js_is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static bool js_is_digit(char c) { return c >= '0' && c <= '9'; }
static bool js_is_hex(char c) { return js_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

static const char *js_ws(const char *p) {
  while (js_is_ws(*p)) p++;
  return p;
}

/* Each js_ function checks one JSON token or value starting at p (a NUL-
 * terminated text) and returns the position after it, or NULL if invalid. */

static const char *js_string(const char *p) {
  for (p++;; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '"') return p + 1;
    if (c < 0x20) return NULL; /* raw control byte, or the text ended (NUL) */
    if (c != '\\') continue;
    p++;
    if (*p == 'u') {
      for (int i = 1; i <= 4; i++) {
        if (!js_is_hex(p[i])) return NULL;
      }
      p += 4;
    } else if (*p == '\0' || strchr("\"\\/bfnrt", *p) == NULL) {
      return NULL;
    }
  }
}

static const char *js_digits(const char *p) {
  if (!js_is_digit(*p)) return NULL;
  while (js_is_digit(*p)) p++;
  return p;
}

static const char *js_number(const char *p) {
  if (*p == '-') p++;
  if (*p == '0') {
    p++;
  } else if ((p = js_digits(p)) == NULL) {
    return NULL;
  }
  if (*p == '.' && (p = js_digits(p + 1)) == NULL) return NULL;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    if ((p = js_digits(p)) == NULL) return NULL;
  }
  return p;
}

static const char *js_value(const char *p, int depth) {
  p = js_ws(p);
  switch (*p) {
    case '"':
      return js_string(p);
    case '{':
    case '[': {
      bool object = *p == '{';
      char close = object ? '}' : ']';
      if (depth >= JSON_MAX_DEPTH) return NULL;
      p = js_ws(p + 1);
      if (*p == close) return p + 1;
      for (;;) {
        if (object) {
          if (*p != '"' || (p = js_string(p)) == NULL) return NULL;
          p = js_ws(p);
          if (*p++ != ':') return NULL;
        }
        if ((p = js_value(p, depth + 1)) == NULL) return NULL;
        p = js_ws(p);
        if (*p == close) return p + 1;
        if (*p != ',') return NULL;
        p = js_ws(p + 1);
      }
    }
    case 't':
      return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f':
      return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n':
      return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
    default:
      return *p == '-' || js_is_digit(*p) ? js_number(p) : NULL;
  }
}

/*
 * If text is exactly one JSON object (whitespace around it allowed; nesting at
 * most JSON_MAX_DEPTH deep), points [*members, *members + *n) at its members
 * without the braces and surrounding whitespace (n = 0 for {}) and returns
 * true. False for NULL and for anything else. Linear in the text's length.
 */
static bool json_object_members(const char *text, const char **members, size_t *n) {
  if (text == NULL) return false;
  const char *p = js_ws(text);
  if (*p != '{') return false;
  const char *end = js_value(p, 0);
  if (end == NULL || *js_ws(end) != '\0') return false;
  const char *a = js_ws(p + 1), *b = end - 1; /* b: the closing brace */
  while (b > a && js_is_ws(b[-1])) b--;
  *members = a;
  *n = (size_t)(b - a);
  return true;
}

/* json_object_members for optional args: NULL gives false quietly, anything
 * else that is not an object gives false and a debug log naming the event. */
static bool args_members(const dtxi_trace *t, const char *text, const char *event, const char **members,
                         size_t *n) {
  if (text == NULL) return false;
  if (json_object_members(text, members, n)) return true;
  DTXI_LOG(DTX_LOG_DEBUG, "trace '%s': args of '%s' dropped: not one JSON object", t->path,
           event != NULL ? event : "");
  return false;
}

static uint64_t rel_ns(const dtxi_trace *t, uint64_t ns) { return ns > t->t0_ns ? ns - t->t0_ns : 0; }

static bool bit_get(const uint64_t *bits, int i) { return (bits[i / 64] >> (i % 64)) & 1u; }
static void bit_set(uint64_t *bits, int i) { bits[i / 64] |= (uint64_t)1 << (i % 64); }
static bool gpu_in_range(int gpu) { return gpu >= 0 && gpu < MAX_GPUS; }

/* ---- the file ---------------------------------------------------------------- */

/* Writes the buffer to the file. Caller holds mu. */
static void flush_locked(dtxi_trace *t) {
  if (t->len > 0 && !t->io_error) {
    if (fwrite(t->buf, 1, t->len, t->f) != t->len) {
      t->io_error = true;
      DTXI_LOG(DTX_LOG_WARN, "trace '%s': write failed (%s); the rest of the trace is dropped", t->path,
               strerror(errno));
    }
  }
  t->written += t->len;
  t->len = 0;
}

/* Appends n bytes of text. Caller holds mu. */
static void append_locked(dtxi_trace *t, const char *p, size_t n) {
  if (t->len + n > sizeof t->buf) flush_locked(t);
  if (n > sizeof t->buf) {
    if (!t->io_error && fwrite(p, 1, n, t->f) != n) {
      t->io_error = true;
      DTXI_LOG(DTX_LOG_WARN, "trace '%s': write failed (%s); the rest of the trace is dropped", t->path,
               strerror(errno));
    }
    t->written += n;
    return;
  }
  memcpy(t->buf + t->len, p, n);
  t->len += n;
}

/* Appends text holding `count` events (JSON objects joined by ",\n"), preceded
 * by the separator unless they are the first. Caller holds mu. */
static void text_locked(dtxi_trace *t, const char *p, size_t n, unsigned count) {
  if (t->nevents > 0) append_locked(t, ",\n", 2);
  append_locked(t, p, n);
  t->nevents += count;
}

/* Appends `count` data events (not metadata) unless the cap is reached: the
 * first event over it writes the "trace capped" instant instead; every event
 * over it is counted in `dropped`. Caller holds mu. */
static void events_locked(dtxi_trace *t, const char *p, size_t n, unsigned count) {
  if (t->max_events == 0 || (t->dropped == 0 && t->ndata + count <= t->max_events)) {
    text_locked(t, p, n, count);
    t->ndata += count;
    return;
  }
  if (t->dropped == 0) {
    sbuf s;
    sb_init(&s);
    sb_printf(&s, "{\"ph\":\"i\",\"pid\":%d,\"tid\":0,\"name\":\"trace capped after %" PRIu64 " events\"",
              HOST_PID, t->ndata);
    sb_puts(&s, ",\"cat\":\"dtx\",\"s\":\"g\",\"ts\":");
    sb_us(&s, rel_ns(t, dtxi_now_ns()));
    sb_printf(&s, ",\"args\":{\"max_events\":%" PRIu64 "}}", t->max_events);
    if (!s.oom) text_locked(t, s.p, s.len, 1);
    sb_free(&s);
    DTXI_LOG(DTX_LOG_WARN,
             "trace '%s': capped after %" PRIu64 " events (DTX_TRACE_MAX_EVENTS); later events are dropped",
             t->path, t->ndata);
  }
  t->dropped += count;
}

/* Appends `count` metadata events and keeps a copy of them for
 * dtxi_trace_read_since (a failed copy only loses names there). Caller holds mu. */
static void meta_locked(dtxi_trace *t, const char *p, size_t n, unsigned count) {
  text_locked(t, p, n, count);
  size_t need = t->meta_len + n + 2;
  if (need > t->meta_cap) {
    size_t cap = t->meta_cap ? t->meta_cap : 4096;
    while (cap < need) cap *= 2;
    char *grown = realloc(t->meta, cap);
    if (grown == NULL) return;
    t->meta = grown;
    t->meta_cap = cap;
  }
  if (t->meta_len > 0) {
    memcpy(t->meta + t->meta_len, ",\n", 2);
    t->meta_len += 2;
  }
  memcpy(t->meta + t->meta_len, p, n);
  t->meta_len += n;
}

/* Formats a metadata event {"ph":"M","pid":..,"tid":..,"name":what,"args":{"name"|"sort_index":..}}. */
static void meta_event(sbuf *s, int pid, int tid, const char *what, const char *name, int sort_index) {
  sb_printf(s, "{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":", pid, tid);
  sb_json_str(s, what);
  if (name != NULL) {
    sb_puts(s, ",\"args\":{\"name\":");
    sb_json_str(s, name);
    sb_puts(s, "}}");
  } else {
    sb_printf(s, ",\"args\":{\"sort_index\":%d}}", sort_index);
  }
}

/* Writes the process_name ("gpu N" or "gpu N: <device_name>") and
 * process_sort_index (100 + N) of GPU gpu's pid. Caller holds mu. */
static void gpu_name_locked(dtxi_trace *t, int gpu, const char *device_name) {
  sbuf name, s;
  sb_init(&name);
  sb_init(&s);
  sb_printf(&name, "gpu %d", gpu);
  if (device_name != NULL && device_name[0] != '\0') {
    sb_puts(&name, ": ");
    sb_puts(&name, device_name);
  }
  sb_put(&name, "", 1); /* the terminating NUL */
  if (!name.oom) {
    int pid = GPU_PID_BASE + gpu;
    meta_event(&s, pid, 0, "process_name", name.p, 0);
    sb_puts(&s, ",\n");
    meta_event(&s, pid, 0, "process_sort_index", NULL, pid);
  }
  if (!name.oom && !s.oom) {
    meta_locked(t, s.p, s.len, 2);
    bit_set(t->gpu_named, gpu);
  }
  sb_free(&s);
  sb_free(&name);
}

/* Names pid 1 "dtx host", or a GPU pid "gpu N", before its first event, unless
 * someone named it. Caller holds mu. */
static void host_name_locked(dtxi_trace *t, int pid) {
  if (pid >= GPU_PID_BASE && pid - GPU_PID_BASE < MAX_GPUS) {
    if (!bit_get(t->gpu_named, pid - GPU_PID_BASE)) gpu_name_locked(t, pid - GPU_PID_BASE, NULL);
    return;
  }
  if (pid != HOST_PID || t->host_named) return;
  t->host_named = true;
  sbuf s;
  sb_init(&s);
  meta_event(&s, HOST_PID, 0, "process_name", "dtx host", 0);
  if (!s.oom) meta_locked(t, s.p, s.len, 1);
  sb_free(&s);
}

/* Emits `count` formatted events of process pid (metadata when `meta`),
 * naming pid 1 (or a GPU pid) first if needed; drops them (with a debug log)
 * if formatting ran out of memory. */
static void emit_kind(dtxi_trace *t, int pid, sbuf *s, unsigned count, bool meta) {
  if (s->oom) {
    DTXI_LOG(DTX_LOG_DEBUG, "trace '%s': event dropped (out of memory)", t->path);
    return;
  }
  pthread_mutex_lock(&t->mu);
  host_name_locked(t, pid);
  if (meta)
    meta_locked(t, s->p, s->len, count);
  else
    events_locked(t, s->p, s->len, count);
  pthread_mutex_unlock(&t->mu);
}

static void emit(dtxi_trace *t, int pid, sbuf *s, unsigned count) { emit_kind(t, pid, s, count, false); }

/* A trace writing to f (opened for writing and reading), named path. */
static dtx_status trace_new(FILE *f, const char *path, dtxi_trace **out) {
  dtxi_trace *t = calloc(1, sizeof *t);
  size_t plen = strlen(path) + 1;
  if (t == NULL || (t->path = malloc(plen)) == NULL) {
    free(t);
    fclose(f);
    return dtxi_fail(DTX_ENOMEM, "dtxi_trace_open: out of memory");
  }
  memcpy(t->path, path, plen);
  t->f = f;
  t->max_events = DTXI_TRACE_MAX_EVENTS_DEFAULT; /* the cluster sets its own (dtxi_trace_set_max_events) */
  pthread_mutex_init(&t->mu, NULL);
  atomic_init(&t->ncallers, 0);
  t->serial = atomic_fetch_add(&trace_serial, 1) + 1;
  t->t0_ns = dtxi_now_ns();
  /* Written at once, outside `written`, which counts events text only. */
  if (fwrite(TRACE_HEAD, 1, sizeof TRACE_HEAD - 1, f) != sizeof TRACE_HEAD - 1) {
    dtx_status rc = dtxi_fail(DTX_EIO, "cannot write trace file '%s': %s", path, strerror(errno));
    dtxi_trace_close(t);
    return rc;
  }
  *out = t;
  return DTX_OK;
}

/*
 * Opens (truncates) path and writes the header. The event cap is
 * DTXI_TRACE_MAX_EVENTS_DEFAULT (dtxi_trace_set_max_events changes it: the
 * cluster sets its trace_max_events setting). On failure
 * *out is untouched and the status is DTX_EIO with the path and the reason in
 * dtx_last_error().
 */
dtx_status dtxi_trace_open(const char *path, dtxi_trace **out) {
  if (path == NULL || out == NULL) return dtxi_fail(DTX_EINVAL, "dtxi_trace_open: path or out is NULL");
  FILE *f = fopen(path, "w+");         /* read back by dtxi_trace_read_since */
  if (f == NULL) f = fopen(path, "w"); /* a write-only target: no read back */
  if (f == NULL) return dtxi_fail(DTX_EIO, "cannot open trace file '%s': %s", path, strerror(errno));
  return trace_new(f, path, out);
}

/* Opens a trace in a temporary file in dir (NULL or "": /tmp) that is
 * unlinked at once: it lives while the trace is open and is never seen by
 * anyone but dtxi_trace_read_since. */
dtx_status dtxi_trace_open_temp(const char *dir, dtxi_trace **out) {
  if (out == NULL) return dtxi_fail(DTX_EINVAL, "dtxi_trace_open_temp: out is NULL");
  if (dir == NULL || dir[0] == '\0') dir = "/tmp";
  char path[4096];
  int n = snprintf(path, sizeof path, "%s/dtx-trace-XXXXXX", dir);
  if (n <= 0 || (size_t)n >= sizeof path) return dtxi_fail(DTX_EINVAL, "TMPDIR '%s' is too long", dir);
  int fd = mkstemp(path);
  if (fd < 0)
    return dtxi_fail(DTX_EIO, "cannot create a temporary trace file in '%s': %s", dir, strerror(errno));
  unlink(path);
  FILE *f = fdopen(fd, "w+");
  if (f == NULL) {
    dtx_status rc =
        dtxi_fail(DTX_EIO, "cannot open a temporary trace file in '%s': %s", dir, strerror(errno));
    close(fd);
    return rc;
  }
  dtx_status rc = trace_new(f, "(temporary trace)", out);
  if (rc == DTX_OK) (*out)->temporary = true;
  return rc;
}

/* Writes the footer, flushes and closes the file, frees t. Accepts NULL. No
 * thread may emit into t during or after this call. */
void dtxi_trace_close(dtxi_trace *t) {
  if (t == NULL) return;
  sbuf s;
  sb_init(&s);
  pthread_mutex_lock(&t->mu);
  sb_puts(&s, "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{\"producer\":\"dtx\",\"version\":");
  sb_json_str(&s, DTX_VERSION_STRING);
  if (t->dropped > 0)
    sb_printf(&s, ",\"capped\":{\"max_events\":%" PRIu64 ",\"dropped_events\":%" PRIu64 "}", t->max_events,
              t->dropped);
  sb_puts(&s, "}}\n");
  if (!s.oom) append_locked(t, s.p, s.len);
  flush_locked(t);
  pthread_mutex_unlock(&t->mu);
  sb_free(&s);
  if (fclose(t->f) != 0 && !t->io_error) {
    DTXI_LOG(DTX_LOG_WARN, "trace '%s': close failed (%s)", t->path, strerror(errno));
  }
  pthread_mutex_destroy(&t->mu);
  for (size_t i = 0; i < t->nstreams; i++) free(t->streams[i].label);
  free(t->streams);
  free(t->meta);
  free(t->path);
  free(t);
}

/* Writes what is buffered to the file and flushes the FILE. Accepts NULL. */
void dtxi_trace_flush(dtxi_trace *t) {
  if (t == NULL) return;
  pthread_mutex_lock(&t->mu);
  flush_locked(t);
  if (!t->io_error) fflush(t->f);
  pthread_mutex_unlock(&t->mu);
}

/* Names process pid (process_name metadata) and orders it by sort_index. */
void dtxi_trace_process_name(dtxi_trace *t, int pid, const char *name, int sort_index) {
  if (t == NULL) return;
  sbuf s;
  sb_init(&s);
  meta_event(&s, pid, 0, "process_name", name, 0);
  sb_puts(&s, ",\n");
  meta_event(&s, pid, 0, "process_sort_index", NULL, sort_index);
  if (!s.oom) {
    pthread_mutex_lock(&t->mu);
    if (pid == HOST_PID) t->host_named = true;
    meta_locked(t, s.p, s.len, 2);
    pthread_mutex_unlock(&t->mu);
  }
  sb_free(&s);
}

/* Names track (pid, tid) (thread_name metadata) and sorts tracks by tid. */
void dtxi_trace_thread_name(dtxi_trace *t, int pid, int tid, const char *name) {
  if (t == NULL) return;
  sbuf s;
  sb_init(&s);
  meta_event(&s, pid, tid, "thread_name", name, 0);
  sb_puts(&s, ",\n");
  meta_event(&s, pid, tid, "thread_sort_index", NULL, tid);
  emit_kind(t, pid, &s, 2, true);
  sb_free(&s);
}

/* Formats the head of a complete slice, up to and including `"args":{`:
 * {"ph":"X","pid":..,"tid":..,"name":"<name_prefix><name>","cat":..,"ts":..,"dur":..,"args":{
 * ts is t0_ns relative to the trace's start (clamped at 0); t1_ns < t0_ns gives dur 0. */
static void slice_head(const dtxi_trace *t, sbuf *s, int pid, int tid, const char *name_prefix,
                       const char *name, const char *cat, uint64_t t0_ns, uint64_t t1_ns) {
  uint64_t ts = rel_ns(t, t0_ns);
  uint64_t dur = t1_ns > t0_ns ? t1_ns - t0_ns : 0;
  sb_printf(s, "{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"name\":", pid, tid);
  if (name_prefix != NULL) {
    sb_put(s, "\"", 1);
    sb_puts(s, name_prefix);
    sb_json_chars(s, name);
    sb_put(s, "\"", 1);
  } else {
    sb_json_str(s, name);
  }
  sb_puts(s, ",\"cat\":");
  sb_json_str(s, cat);
  sb_puts(s, ",\"ts\":");
  sb_us(s, ts);
  sb_puts(s, ",\"dur\":");
  sb_us(s, dur);
  sb_puts(s, ",\"args\":{");
}

/* A complete slice [t0_ns, t1_ns] on track (pid, tid); t1_ns < t0_ns gives dur 0. */
void dtxi_trace_slice(dtxi_trace *t, int pid, int tid, const char *name, const char *cat, const char *prefix,
                      uint64_t t0_ns, uint64_t t1_ns) {
  dtxi_trace_slice_args(t, pid, tid, name, cat, prefix, t0_ns, t1_ns, NULL);
}

/* dtxi_trace_slice with the members of extra_args_json (if it is one JSON
 * object) appended to args. */
void dtxi_trace_slice_args(dtxi_trace *t, int pid, int tid, const char *name, const char *cat,
                           const char *prefix, uint64_t t0_ns, uint64_t t1_ns, const char *extra_args_json) {
  if (t == NULL) return;
  const char *extra = NULL;
  size_t nextra = 0;
  if (!args_members(t, extra_args_json, name, &extra, &nextra)) nextra = 0;
  sbuf s;
  sb_init(&s);
  slice_head(t, &s, pid, tid, NULL, name, cat != NULL ? cat : "task", t0_ns, t1_ns);
  sb_puts(&s, "\"key\":");
  sb_json_str(&s, name);
  if (prefix != NULL) {
    sb_puts(&s, ",\"prefix\":");
    sb_json_str(&s, prefix);
  }
  if (nextra > 0) {
    sb_put(&s, ",", 1);
    sb_put(&s, extra, nextra);
  }
  sb_puts(&s, "}}");
  emit(t, pid, &s, 1);
  sb_free(&s);
}

/* One thread's remembered caller ids, most recent traces first. */
typedef struct caller_entry {
  const dtxi_trace *t;
  uint64_t serial;
  int tid;
} caller_entry;

static _Thread_local caller_entry caller_cache[CALLER_CACHE];

/*
 * The calling thread's track id in t: 1000 + n, the n-th thread to ask, named
 * "caller n" (pid 1) on first use. Stable for the life of the trace as long as
 * the thread uses fewer than CALLER_CACHE traces at once.
 */
int dtxi_trace_caller_tid(dtxi_trace *t) {
  if (t == NULL) return CALLER_TID_BASE;
  for (int i = 0; i < CALLER_CACHE; i++) {
    if (caller_cache[i].t == t && caller_cache[i].serial == t->serial) {
      caller_entry hit = caller_cache[i];
      memmove(&caller_cache[1], &caller_cache[0], (size_t)i * sizeof caller_cache[0]);
      caller_cache[0] = hit;
      return hit.tid;
    }
  }
  int n = atomic_fetch_add(&t->ncallers, 1);
  int tid = CALLER_TID_BASE + n;
  memmove(&caller_cache[1], &caller_cache[0], (CALLER_CACHE - 1) * sizeof caller_cache[0]);
  caller_cache[0] = (caller_entry){t, t->serial, tid};
  char name[32];
  snprintf(name, sizeof name, "caller %d", n);
  dtxi_trace_thread_name(t, HOST_PID, tid, name);
  return tid;
}

const char *dtxi_trace_path(const dtxi_trace *t) { return t != NULL ? t->path : NULL; }

/* ---- GPUs -------------------------------------------------------------------- */

/* Names GPU gpu's process; the first call per GPU writes, later ones do nothing. */
void dtxi_trace_gpu_process(dtxi_trace *t, int gpu, const char *device_name) {
  if (t == NULL) return;
  if (!gpu_in_range(gpu)) {
    DTXI_LOG(DTX_LOG_DEBUG, "trace '%s': gpu %d out of range [0, %d); not named", t->path, gpu, MAX_GPUS);
    return;
  }
  pthread_mutex_lock(&t->mu);
  if (!bit_get(t->gpu_explicit, gpu)) {
    bit_set(t->gpu_explicit, gpu);
    gpu_name_locked(t, gpu, device_name);
  }
  pthread_mutex_unlock(&t->mu);
}

/* The fixed tid of a stream label, or 0 if it has none: "compute-K" (K in
 * 0..999 written without leading zeros) -> 1 + K, then the copy and NCCL
 * streams from 1001 on. */
static int stream_fixed_tid(const char *label) {
  static const char *const fixed[] = {"h2d", "d2h", "peer", "peer-in", "peer-out", "nccl"};
  static const char compute[] = "compute-";
  if (strncmp(label, compute, sizeof compute - 1) == 0) {
    const char *d = label + sizeof compute - 1;
    int k = 0, n = 0;
    for (; js_is_digit(d[n]) && n < 4; n++) k = 10 * k + (d[n] - '0');
    if (n == 0 || n > 3 || d[n] != '\0' || (d[0] == '0' && n > 1)) return 0;
    return 1 + k;
  }
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    if (strcmp(label, fixed[i]) == 0) return 1001 + (int)i;
  }
  return 0;
}

/* The tid of GPU gpu's stream track `label`, naming it on first use. */
int dtxi_trace_stream_track(dtxi_trace *t, int gpu, const char *label) {
  if (t == NULL || label == NULL || label[0] == '\0') return 0;
  if (!gpu_in_range(gpu)) {
    DTXI_LOG(DTX_LOG_DEBUG, "trace '%s': gpu %d out of range [0, %d); no track '%s'", t->path, gpu, MAX_GPUS,
             label);
    return 0;
  }
  int pid = GPU_PID_BASE + gpu, tid = 0, others = 0;
  pthread_mutex_lock(&t->mu);
  for (size_t i = 0; i < t->nstreams && tid == 0; i++) {
    const stream_entry *e = &t->streams[i];
    if (e->gpu != gpu) continue;
    if (strcmp(e->label, label) == 0) tid = e->tid;
    if (e->tid >= OTHER_STREAM_TID_BASE) others++;
  }
  if (tid == 0) {
    /* A new track: remember it, then name it (and its GPU, if unnamed). */
    int new_tid = stream_fixed_tid(label);
    if (new_tid == 0) new_tid = OTHER_STREAM_TID_BASE + others;
    size_t len = strlen(label) + 1;
    char *copy = malloc(len);
    if (copy != NULL && t->nstreams == t->cap_streams) {
      size_t cap = t->cap_streams ? 2 * t->cap_streams : 16;
      stream_entry *grown = realloc(t->streams, cap * sizeof *grown);
      if (grown != NULL) {
        t->streams = grown;
        t->cap_streams = cap;
      }
    }
    sbuf s;
    sb_init(&s);
    meta_event(&s, pid, new_tid, "thread_name", label, 0);
    sb_puts(&s, ",\n");
    meta_event(&s, pid, new_tid, "thread_sort_index", NULL, new_tid);
    if (copy != NULL && t->nstreams < t->cap_streams && !s.oom) {
      memcpy(copy, label, len);
      t->streams[t->nstreams++] = (stream_entry){gpu, new_tid, copy};
      host_name_locked(t, pid);
      meta_locked(t, s.p, s.len, 2);
      tid = new_tid;
    } else {
      free(copy);
      DTXI_LOG(DTX_LOG_DEBUG, "trace '%s': track '%s' of gpu %d not named (out of memory)", t->path, label,
               gpu);
    }
    sb_free(&s);
  }
  pthread_mutex_unlock(&t->mu);
  return tid;
}

/* ---- transfers and flows ------------------------------------------------------- */

/* Formats a flow event of phase 's', 't' or 'f' (the last binds to its
 * enclosing slice: "bp":"e"). ts_ns is absolute. */
static void flow_event(const dtxi_trace *t, sbuf *s, int pid, int tid, uint64_t ts_ns, uint64_t flow_id,
                       char phase) {
  sb_printf(s, "{\"ph\":\"%c\",\"pid\":%d,\"tid\":%d,", phase, pid, tid);
  sb_printf(s, "\"name\":\"" FLOW_NAME "\",\"cat\":\"" FLOW_NAME "\",\"id\":%" PRIu64 ",\"ts\":", flow_id);
  sb_us(s, rel_ns(t, ts_ns));
  if (phase == 'f') sb_puts(s, ",\"bp\":\"e\"");
  sb_put(s, "}", 1);
}

/* A transfer slice, then (flow_id != 0) a flow step at its start. */
void dtxi_trace_transfer(dtxi_trace *t, int pid, int tid, const char *what, const char *link, const char *via,
                         uint64_t bytes, uint64_t t0_ns, uint64_t t1_ns, uint64_t flow_id) {
  if (t == NULL) return;
  uint64_t dur = t1_ns > t0_ns ? t1_ns - t0_ns : 0;
  sbuf s;
  sb_init(&s);
  slice_head(t, &s, pid, tid, "copy ", what, "transfer", t0_ns, t1_ns);
  sb_puts(&s, "\"key\":");
  sb_json_str(&s, what);
  sb_printf(&s, ",\"bytes\":%" PRIu64, bytes);
  if (link != NULL) {
    sb_puts(&s, ",\"link\":");
    sb_json_str(&s, link);
  }
  if (via != NULL) {
    sb_puts(&s, ",\"via\":");
    sb_json_str(&s, via);
  }
  if (dur > 0) {
    sb_puts(&s, ",\"gbps\":");
    sb_gbps(&s, bytes, dur);
  }
  sb_puts(&s, "}}");
  unsigned count = 1;
  if (flow_id != 0) {
    sb_puts(&s, ",\n");
    flow_event(t, &s, pid, tid, t0_ns, flow_id, 't');
    count = 2;
  }
  emit(t, pid, &s, count);
  sb_free(&s);
}

/* A flow event of phase 's', 't' or 'f' at ts_ns on track (pid, tid). */
void dtxi_trace_flow(dtxi_trace *t, int pid, int tid, uint64_t ts_ns, uint64_t flow_id, char phase) {
  if (t == NULL) return;
  if ((phase != 's' && phase != 't' && phase != 'f') || flow_id == 0) {
    DTXI_LOG(DTX_LOG_DEBUG, "trace '%s': flow event dropped (phase %d, id %" PRIu64 ")", t->path, phase,
             flow_id);
    return;
  }
  sbuf s;
  sb_init(&s);
  flow_event(t, &s, pid, tid, ts_ns, flow_id, phase);
  emit(t, pid, &s, 1);
  sb_free(&s);
}

/* ---- counters and instants ------------------------------------------------------ */

/* A counter sample {series: value} of counter `name` in process pid. */
void dtxi_trace_counter(dtxi_trace *t, int pid, const char *name, uint64_t ts_ns, const char *series,
                        double value) {
  if (t == NULL) return;
  sbuf s;
  sb_init(&s);
  sb_printf(&s, "{\"ph\":\"C\",\"pid\":%d,\"tid\":0,\"name\":", pid);
  sb_json_str(&s, name != NULL ? name : "counter");
  sb_puts(&s, ",\"ts\":");
  sb_us(&s, rel_ns(t, ts_ns));
  sb_puts(&s, ",\"args\":{");
  sb_json_str(&s, series != NULL ? series : "value");
  sb_put(&s, ":", 1);
  if (!sb_double(&s, value)) {
    DTXI_LOG(DTX_LOG_DEBUG, "trace '%s': counter '%s' sample dropped (not a finite number)", t->path,
             name != NULL ? name : "counter");
    sb_free(&s);
    return;
  }
  sb_puts(&s, "}}");
  emit(t, pid, &s, 1);
  sb_free(&s);
}

/* A thread-scoped instant event with optional args (one JSON object). */
void dtxi_trace_instant(dtxi_trace *t, int pid, int tid, const char *name, const char *cat, uint64_t ts_ns,
                        const char *args_json) {
  if (t == NULL) return;
  const char *members = NULL;
  size_t n = 0;
  bool has_args = args_members(t, args_json, name, &members, &n);
  sbuf s;
  sb_init(&s);
  sb_printf(&s, "{\"ph\":\"i\",\"pid\":%d,\"tid\":%d,\"name\":", pid, tid);
  sb_json_str(&s, name);
  sb_puts(&s, ",\"cat\":");
  sb_json_str(&s, cat != NULL ? cat : "instant");
  sb_puts(&s, ",\"ts\":");
  sb_us(&s, rel_ns(t, ts_ns));
  sb_puts(&s, ",\"s\":\"t\"");
  if (has_args) {
    sb_puts(&s, ",\"args\":{");
    sb_put(&s, members, n);
    sb_put(&s, "}", 1);
  }
  sb_put(&s, "}", 1);
  emit(t, pid, &s, 1);
  sb_free(&s);
}

/* ---- tasks with their inputs ---------------------------------------------------- */

/* A task slice whose args carry its inputs' keys and its error (see trace.h). */
void dtxi_trace_task(dtxi_trace *t, int pid, int tid, const char *key, const char *cat, const char *prefix,
                     uint64_t t0_ns, uint64_t t1_ns, uint32_t ninputs, dtxi_trace_key_fn input_key, void *ctx,
                     const char *error, const char *extra_args_json) {
  if (t == NULL) return;
  const char *extra = NULL;
  size_t nextra = 0;
  if (!args_members(t, extra_args_json, key, &extra, &nextra)) nextra = 0;
  sbuf s;
  sb_init(&s);
  slice_head(t, &s, pid, tid, NULL, key, cat != NULL ? cat : "task", t0_ns, t1_ns);
  sb_puts(&s, "\"key\":");
  sb_json_str(&s, key);
  if (prefix != NULL) {
    sb_puts(&s, ",\"prefix\":");
    sb_json_str(&s, prefix);
  }
  if (nextra > 0) {
    sb_put(&s, ",", 1);
    sb_put(&s, extra, nextra);
  }
  if (ninputs > 0 && input_key != NULL) {
    uint32_t listed = ninputs < DTXI_TRACE_MAX_INPUTS ? ninputs : DTXI_TRACE_MAX_INPUTS;
    sb_puts(&s, ",\"inputs\":[");
    for (uint32_t i = 0; i < listed; i++) {
      char in[256];
      in[0] = '\0';
      input_key(ctx, i, in, sizeof in);
      in[sizeof in - 1] = '\0';
      if (i > 0) sb_put(&s, ",", 1);
      sb_json_str(&s, in);
    }
    sb_put(&s, "]", 1);
    if (listed < ninputs) sb_printf(&s, ",\"ninputs\":%" PRIu32, ninputs);
  }
  if (error != NULL) {
    sb_puts(&s, ",\"error\":");
    sb_json_str(&s, error);
  }
  sb_puts(&s, "}}");
  emit(t, pid, &s, 1);
  sb_free(&s);
}

/* ---- the cap, and reading the trace back ------------------------------------------ */

void dtxi_trace_set_max_events(dtxi_trace *t, uint64_t max_events) {
  if (t == NULL) return;
  pthread_mutex_lock(&t->mu);
  t->max_events = max_events;
  pthread_mutex_unlock(&t->mu);
}

uint64_t dtxi_trace_dropped(dtxi_trace *t) {
  if (t == NULL) return 0;
  pthread_mutex_lock(&t->mu);
  uint64_t d = t->dropped;
  pthread_mutex_unlock(&t->mu);
  return d;
}

uint64_t dtxi_trace_mark(dtxi_trace *t) {
  if (t == NULL) return 0;
  pthread_mutex_lock(&t->mu);
  uint64_t m = t->written + t->len;
  pthread_mutex_unlock(&t->mu);
  return m;
}

/*
 * The trace's metadata, then its events from `mark` (a dtxi_trace_mark) to
 * now, as one Chrome trace JSON document. Flushes the buffer, then reads the
 * file back with pread (other threads may go on emitting: the bytes read
 * were written before and are never rewritten).
 */
char *dtxi_trace_read_since(dtxi_trace *t, uint64_t mark, size_t *len) {
  static const char head[] = TRACE_HEAD;
  const long header = (long)(sizeof head - 1); /* where events text starts in the file */
  if (t == NULL) {
    dtxi_fail(DTX_EINVAL, "dtxi_trace_read_since: no trace");
    return NULL;
  }
  pthread_mutex_lock(&t->mu);
  flush_locked(t);
  bool bad = t->io_error || fflush(t->f) != 0;
  uint64_t end = t->written, dropped = t->dropped, max = t->max_events;
  size_t meta_len = t->meta_len;
  size_t cap = sizeof head + meta_len + (size_t)(end > mark ? end - mark : 0) + 256;
  char *out = bad ? NULL : malloc(cap);
  if (out != NULL) {
    memcpy(out, head, sizeof head - 1);
    if (meta_len > 0) memcpy(out + sizeof head - 1, t->meta, meta_len);
  }
  pthread_mutex_unlock(&t->mu);
  if (bad) {
    dtxi_fail(DTX_EIO, "trace '%s': cannot read it back (an earlier write failed)", t->path);
    return NULL;
  }
  if (out == NULL) {
    dtxi_fail(DTX_ENOMEM, "trace '%s': out of memory reading it back", t->path);
    return NULL;
  }
  size_t n = sizeof head - 1 + meta_len;
  if (mark < end) {
    size_t want = (size_t)(end - mark), got = 0;
    char *dst = out + n + 2; /* room for a ",\n" before the events */
    while (got < want) {
      ssize_t r = pread(fileno(t->f), dst + got, want - got, (off_t)(header + (long)mark + (long)got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        dtxi_fail(DTX_EIO, "trace '%s': cannot read it back: %s", t->path,
                  r < 0 ? strerror(errno) : "short file");
        free(out);
        return NULL;
      }
      got += (size_t)r;
    }
    /* The events text at a mark may start with the separator. */
    size_t skip = (want >= 2 && dst[0] == ',' && dst[1] == '\n') ? 2 : 0;
    if (meta_len > 0) {
      out[n++] = ',';
      out[n++] = '\n';
    }
    memmove(out + n, dst + skip, want - skip);
    n += want - skip;
  }
  int k = snprintf(out + n, cap - n, "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{\"producer\":\"dtx\"");
  n += (size_t)k;
  if (dropped > 0) {
    k = snprintf(out + n, cap - n, ",\"capped\":{\"max_events\":%" PRIu64 ",\"dropped_events\":%" PRIu64 "}",
                 max, dropped);
    n += (size_t)k;
  }
  k = snprintf(out + n, cap - n, "}}\n");
  n += (size_t)k;
  if (len != NULL) *len = n;
  return out;
}
