/*
 * host/trace.c - the profile trace: a Chrome trace JSON writer (Perfetto,
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
 * closed file is valid JSON whatever nevents is (0 included).
 *
 * Track ids: workers use their index + 1 (named by the scheduler); any other
 * thread asks dtxi_trace_caller_tid, which hands out 1000 + n ("caller n") and
 * remembers it in a thread-local cache keyed by (trace pointer, trace serial),
 * so a new trace allocated at an old trace's address never reuses stale ids.
 */
#include "host/trace.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtx/version.h"
#include "host/error.h"

#define DTXI_TRACE_BUF (64 * 1024)
#define CALLER_TID_BASE 1000
#define CALLER_CACHE 4 /* traces a thread remembers its caller id for */
#define HOST_PID 1

struct dtxi_trace {
  pthread_mutex_t mu;
  FILE *f;
  char *path;
  uint64_t t0_ns;      /* dtxi_now_ns() at open; ts are relative to it */
  uint64_t serial;     /* unique per opened trace (process-wide counter) */
  atomic_int ncallers; /* caller tracks handed out so far */
  /* Under mu: */
  bool host_named; /* process_name of pid 1 written */
  bool io_error;   /* a write failed; later writes are dropped */
  uint64_t nevents;
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
 * Appends str as a JSON string literal, quotes included. Quote and backslash
 * are escaped, control bytes (< 0x20, and DEL) become \u00XX (\n, \t, \r, \b,
 * \f use their short forms); other bytes, UTF-8 included, pass through as is.
 * NULL is written as "".
 */
static void sb_json_str(sbuf *s, const char *str) {
  static const char hex[] = "0123456789abcdef";
  sb_put(s, "\"", 1);
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
  sb_put(s, "\"", 1);
}

/* Appends ns as microseconds with three decimals: 12345 -> 12.345. */
static void sb_us(sbuf *s, uint64_t ns) {
  sb_printf(s, "%" PRIu64 ".%03u", ns / 1000u, (unsigned)(ns % 1000u));
}

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
    return;
  }
  memcpy(t->buf + t->len, p, n);
  t->len += n;
}

/* Appends text holding `count` events (JSON objects joined by ",\n"), preceded
 * by the separator unless they are the first. Caller holds mu. */
static void events_locked(dtxi_trace *t, const char *p, size_t n, unsigned count) {
  if (t->nevents > 0) append_locked(t, ",\n", 2);
  append_locked(t, p, n);
  t->nevents += count;
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

/* Names pid 1 "dtx host" before its first event, unless someone named it. Caller holds mu. */
static void host_name_locked(dtxi_trace *t, int pid) {
  if (pid != HOST_PID || t->host_named) return;
  t->host_named = true;
  sbuf s;
  sb_init(&s);
  meta_event(&s, HOST_PID, 0, "process_name", "dtx host", 0);
  if (!s.oom) events_locked(t, s.p, s.len, 1);
  sb_free(&s);
}

/* Emits `count` formatted events of process pid, naming pid 1 first if needed;
 * drops them (with a debug log) if formatting ran out of memory. */
static void emit(dtxi_trace *t, int pid, sbuf *s, unsigned count) {
  if (s->oom) {
    DTXI_LOG(DTX_LOG_DEBUG, "trace '%s': event dropped (out of memory)", t->path);
    return;
  }
  pthread_mutex_lock(&t->mu);
  host_name_locked(t, pid);
  events_locked(t, s->p, s->len, count);
  pthread_mutex_unlock(&t->mu);
}

/*
 * Opens (truncates) path and writes the header. On failure *out is untouched
 * and the status is DTX_EIO with the path and the reason in dtx_last_error().
 */
dtx_status dtxi_trace_open(const char *path, dtxi_trace **out) {
  if (path == NULL || out == NULL) return dtxi_fail(DTX_EINVAL, "dtxi_trace_open: path or out is NULL");
  dtxi_trace *t = calloc(1, sizeof *t);
  if (t == NULL) return dtxi_fail(DTX_ENOMEM, "dtxi_trace_open: out of memory");
  size_t plen = strlen(path) + 1;
  if ((t->path = malloc(plen)) == NULL) {
    free(t);
    return dtxi_fail(DTX_ENOMEM, "dtxi_trace_open: out of memory");
  }
  memcpy(t->path, path, plen);
  if ((t->f = fopen(path, "w")) == NULL) {
    dtx_status rc = dtxi_fail(DTX_EIO, "cannot open trace file '%s': %s", path, strerror(errno));
    free(t->path);
    free(t);
    return rc;
  }
  pthread_mutex_init(&t->mu, NULL);
  atomic_init(&t->ncallers, 0);
  t->serial = atomic_fetch_add(&trace_serial, 1) + 1;
  t->t0_ns = dtxi_now_ns();
  static const char header[] = "{\"traceEvents\":[\n";
  append_locked(t, header, sizeof header - 1);
  *out = t;
  return DTX_OK;
}

/* Writes the footer, flushes and closes the file, frees t. Accepts NULL. No
 * thread may emit into t during or after this call. */
void dtxi_trace_close(dtxi_trace *t) {
  if (t == NULL) return;
  sbuf s;
  sb_init(&s);
  sb_puts(&s, "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{\"producer\":\"dtx\",\"version\":");
  sb_json_str(&s, DTX_VERSION_STRING);
  sb_puts(&s, "}}\n");
  pthread_mutex_lock(&t->mu);
  if (!s.oom) append_locked(t, s.p, s.len);
  flush_locked(t);
  pthread_mutex_unlock(&t->mu);
  sb_free(&s);
  if (fclose(t->f) != 0 && !t->io_error) {
    DTXI_LOG(DTX_LOG_WARN, "trace '%s': close failed (%s)", t->path, strerror(errno));
  }
  pthread_mutex_destroy(&t->mu);
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
    events_locked(t, s.p, s.len, 2);
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
  emit(t, pid, &s, 2);
  sb_free(&s);
}

/* A complete slice [t0_ns, t1_ns] on track (pid, tid); t1_ns < t0_ns gives dur 0. */
void dtxi_trace_slice(dtxi_trace *t, int pid, int tid, const char *name, const char *cat, const char *prefix,
                      uint64_t t0_ns, uint64_t t1_ns) {
  if (t == NULL) return;
  uint64_t ts = t0_ns > t->t0_ns ? t0_ns - t->t0_ns : 0;
  uint64_t dur = t1_ns > t0_ns ? t1_ns - t0_ns : 0;
  sbuf s;
  sb_init(&s);
  sb_printf(&s, "{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"name\":", pid, tid);
  sb_json_str(&s, name);
  sb_puts(&s, ",\"cat\":");
  sb_json_str(&s, cat != NULL ? cat : "task");
  sb_puts(&s, ",\"ts\":");
  sb_us(&s, ts);
  sb_puts(&s, ",\"dur\":");
  sb_us(&s, dur);
  sb_puts(&s, ",\"args\":{\"key\":");
  sb_json_str(&s, name);
  if (prefix != NULL) {
    sb_puts(&s, ",\"prefix\":");
    sb_json_str(&s, prefix);
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
