/*
 * scheduler/progress.c - watching computations: the progress bar and the hook that
 * writes the performance report.
 *
 * Owns: each computation's dtxi_watch (created by dtxi_watch_begin, freed by
 * dtxi_watch_end) and the process's one progress thread with its list of
 * watches being drawn (`active`), guarded by `pmu`.
 *
 * Counting. A watch keeps, per slot and per task prefix of the graph, two
 * counters (done, failed). Slot 0 is shared by threads that are not the run's
 * workers nor its caller (GPU progress threads) and takes atomic adds; slot 1
 * is the calling thread's (it runs the tasks under `sync`) and slot k + 2
 * worker k's: those have one writer each, which adds with a relaxed load and
 * store (no locked instruction, as the workers' own task counters). Rows are
 * padded to a cache line, so workers finishing tasks do not share lines. The
 * drawer sums them with relaxed loads: a frame may lag by a task or two, and
 * the final frame is drawn after the run completed (the caller saw `done`,
 * which orders every count before it).
 *
 * Beginning a watch costs a few allocations, never a pass over the run's
 * tasks: the tasks per prefix (and the prefixes' names) are counted by the
 * first frame, which comes only after DTXI_PROGRESS_MIN_NS.
 *
 * Drawing. The progress thread sleeps on `pcv` (CLOCK_MONOTONIC) between
 * frames, 100 ms on a terminal and 1 s otherwise, and leaves after 1 s with no
 * watch to draw (a later computation starts it again). On a terminal the
 * frames of all live watches form the "live area" at the bottom of the screen:
 * each frame moves the cursor up over it and rewrites it (ANSI CUU, EL, ED).
 * Elsewhere (DTX_PROGRESS=1 into a file or pipe) each frame is one plain line.
 * A watch is drawn once it has run DTXI_PROGRESS_MIN_NS; dtxi_watch_end draws
 * its last frame, above the live area, only if it was drawn before.
 *
 * Invariants (under pmu): a watch is on `active` iff it draws a bar and has
 * not ended; live_lines = the lines of the live area now on screen (tty);
 * thread_state is NONE, RUNNING, or EXITED (a thread to join).
 */
#include "scheduler/progress.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "diag/report.h"
#include "scheduler/graph.h"
#include "scheduler/run.h"
#include "scheduler/sched.h"
#include "trace/trace.h"

#define PERIOD_TTY_NS 100000000ull    /* 10 frames a second on a terminal */
#define PERIOD_PLAIN_NS 1000000000ull /* 1 line a second elsewhere */
#define LINGER_NS 1000000000ull       /* the thread leaves after this long idle */
#define MAX_PREFIX_LINES 8            /* prefixes shown under a bar */
#define FRAME_CAP 8192

struct dtxi_watch {
  dtx_cluster *cl;
  uint64_t t0;       /* dtxi_now_ns() at begin */
  char *report_path; /* NULL: no report */
  uint64_t mark;     /* the trace's mark at begin (for the report) */
  /* the bar */
  bool bar;
  const run *r;     /* the run, alive until dtxi_watch_end */
  pthread_t caller; /* the thread that began it: slot 1 */
  uint32_t nprefix; /* prefixes in the graph */
  int nslots;
  size_t stride;          /* counters per slot: 2 * nprefix, rounded up to a cache line */
  _Atomic int64_t *count; /* [slot * stride + 2 * prefix] done, [.. + 1] failed */
  /* under pmu; filled by the first frame (prepare_locked) */
  bool ready;
  uint32_t nlocal; /* prefixes in the run */
  uint32_t *order; /* local index -> graph prefix id, in the run's order */
  char **names;    /* local index -> prefix (a copy) */
  int64_t *total;  /* local index -> tasks in the run */
  int64_t ntotal;
  struct dtxi_watch *next;
  bool shown;
  uint64_t last_plain; /* when its last plain line was written */
};

enum { THREAD_NONE, THREAD_RUNNING, THREAD_EXITED };

static pthread_mutex_t pmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pcv;
static pthread_once_t pcv_once = PTHREAD_ONCE_INIT;
static dtxi_watch *active;
static int thread_state = THREAD_NONE;
static pthread_t thread;
static bool stopping;
static int live_lines;
/* configuration (dtxi_progress_configure); read under pmu or at begin */
static int cfg_fd = -1, cfg_tty = -1, cfg_width = 0, cfg_force = -1;
static uint64_t cfg_min_ns = DTXI_PROGRESS_MIN_NS;
static _Atomic int tty_cache = -1; /* isatty(out fd), learned once */
static _Atomic uint64_t frames;

static void pcv_init(void) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(&pcv, &a);
  pthread_condattr_destroy(&a);
}

static int out_fd(void) { return cfg_fd >= 0 ? cfg_fd : STDERR_FILENO; }

static bool out_tty(void) {
  if (cfg_tty >= 0) return cfg_tty != 0;
  int c = atomic_load_explicit(&tty_cache, memory_order_relaxed);
  if (c < 0) {
    c = isatty(out_fd()) ? 1 : 0;
    atomic_store_explicit(&tty_cache, c, memory_order_relaxed);
  }
  return c != 0;
}

static int out_width(void) {
  if (cfg_width > 0) return cfg_width;
  struct winsize ws;
  if (ioctl(out_fd(), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col > 300 ? 300 : ws.ws_col;
  return 80;
}

void dtxi_progress_configure(int fd, int tty, int width, uint64_t min_ns, int force) {
  pthread_mutex_lock(&pmu);
  cfg_fd = fd;
  cfg_tty = tty;
  cfg_width = width;
  cfg_min_ns = min_ns == UINT64_MAX ? DTXI_PROGRESS_MIN_NS : min_ns;
  __atomic_store_n(&cfg_force, force, __ATOMIC_RELAXED);
  atomic_store(&tty_cache, -1);
  pthread_mutex_unlock(&pmu);
}

uint64_t dtxi_progress_frames(void) { return atomic_load(&frames); }

/* Whether a computation on s draws a bar: the test override, else the
 * cluster's progress setting (DTX_PROGRESS; auto: the output is a terminal). */
static bool bar_wanted(const dtxi_sched *s) {
  int force = __atomic_load_n(&cfg_force, __ATOMIC_RELAXED);
  if (force >= 0) return force != 0;
  if (s->progress != DTX_PROGRESS_AUTO) return s->progress == DTX_PROGRESS_ON;
  return out_tty();
}

/* ---- text --------------------------------------------------------------------- */

typedef struct text {
  char *p;
  size_t len, cap;
} text;

static void put(text *t, const char *s, size_t n) {
  if (t->len + n >= t->cap) n = t->cap > t->len + 1 ? t->cap - t->len - 1 : 0;
  memcpy(t->p + t->len, s, n);
  t->len += n;
  t->p[t->len] = '\0';
}

static void putf(text *t, const char *fmt, ...) DTX_PRINTF(2, 3);
static void putf(text *t, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) put(t, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* 1234567 -> "1,234,567" */
static const char *group(int64_t v, char buf[32]) {
  char raw[24];
  int n = snprintf(raw, sizeof raw, "%" PRId64, v < 0 ? -v : v), o = 0;
  if (v < 0) buf[o++] = '-';
  for (int i = 0; i < n; i++) {
    buf[o++] = raw[i];
    if ((n - i - 1) % 3 == 0 && i < n - 1) buf[o++] = ',';
  }
  buf[o] = '\0';
  return buf;
}

/* "0.4s", "12.3s", "2m05s", "1h02m" */
static void elapsed(uint64_t ns, char buf[32]) {
  double s = (double)ns / 1e9;
  if (s < 60)
    snprintf(buf, 32, "%.1fs", s);
  else if (s < 3600)
    snprintf(buf, 32, "%dm%02ds", (int)(s / 60), (int)s % 60);
  else
    snprintf(buf, 32, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

static void bar_text(text *t, int64_t done, int64_t total, int width) {
  int fill = total > 0 ? (int)((double)done * width / (double)total) : width;
  if (fill > width) fill = width;
  put(t, "[", 1);
  for (int i = 0; i < width; i++) put(t, i < fill ? "#" : "-", 1);
  put(t, "]", 1);
}

/* Sums a watch's counters per local prefix into done[] and failed[]. */
static void sum_counts(const dtxi_watch *w, int64_t *done, int64_t *failed) {
  for (uint32_t i = 0; i < w->nlocal; i++) done[i] = failed[i] = 0;
  for (int s = 0; s < w->nslots; s++) {
    _Atomic int64_t *row = w->count + (size_t)s * w->stride;
    for (uint32_t i = 0; i < w->nlocal; i++) {
      done[i] += atomic_load_explicit(&row[2 * w->order[i]], memory_order_relaxed);
      failed[i] += atomic_load_explicit(&row[2 * w->order[i] + 1], memory_order_relaxed);
    }
  }
}

/* Counts the run's tasks per prefix and copies the prefixes' names, once,
 * before w's first frame. False when out of memory (w is not drawn). Caller
 * holds pmu. */
static bool prepare_locked(dtxi_watch *w) {
  if (w->ready) return true;
  const run *r = w->r;
  const dtx_graph *g = r->g;
  uint32_t *local = malloc(((size_t)w->nprefix + 1) * sizeof *local);
  w->order = malloc(((size_t)w->nprefix + 1) * sizeof *w->order);
  if (local == NULL || w->order == NULL) {
    free(local);
    return false;
  }
  for (uint32_t p = 0; p < w->nprefix; p++) local[p] = UINT32_MAX;
  for (uint32_t i = 0; i < r->m; i++) {
    uint32_t p = g->tasks[r->rt[i].gid].prefix;
    if (local[p] == UINT32_MAX) {
      local[p] = w->nlocal;
      w->order[w->nlocal++] = p;
    }
  }
  w->names = calloc((size_t)w->nlocal + 1, sizeof *w->names);
  w->total = calloc((size_t)w->nlocal + 1, sizeof *w->total);
  bool ok = w->names != NULL && w->total != NULL;
  for (uint32_t i = 0; ok && i < w->nlocal; i++)
    ok = (w->names[i] = strdup(g->prefixes[w->order[i]])) != NULL;
  if (ok) {
    for (uint32_t i = 0; i < r->m; i++) w->total[local[g->tasks[r->rt[i].gid].prefix]]++;
    w->ntotal = r->m;
  }
  free(local);
  w->ready = ok;
  return ok;
}

/* The frame of w: a bar line, then one line per prefix (at most
 * MAX_PREFIX_LINES). plain: one line instead. Returns the line count. */
static int render(const dtxi_watch *w, uint64_t now, bool final, bool plain, int width, text *t) {
  int64_t *done = calloc(2 * (size_t)w->nlocal + 2, sizeof *done);
  if (done == NULL) return 0;
  int64_t *failed = done + w->nlocal + 1;
  sum_counts(w, done, failed);
  int64_t all = 0, bad = 0;
  for (uint32_t i = 0; i < w->nlocal; i++) {
    all += done[i];
    bad += failed[i];
  }
  char a[32], b[32], e[32], tail[160];
  elapsed(now > w->t0 ? now - w->t0 : 0, e);
  int pct = w->ntotal > 0 ? (int)(100.0 * (double)all / (double)w->ntotal) : 100;
  if (final && all == w->ntotal) pct = 100;
  int n = snprintf(tail, sizeof tail, " %3d%% | %s/%s tasks", pct, group(all, a), group(w->ntotal, b));
  if (bad > 0) n += snprintf(tail + n, sizeof tail - (size_t)n, ", %s failed", group(bad, a));
  snprintf(tail + n, sizeof tail - (size_t)n, " | %s", e);
  int lines = 1;
  if (plain) {
    putf(t, "dtx:%s |", tail);
    for (uint32_t i = 0; i < w->nlocal && i < MAX_PREFIX_LINES; i++)
      putf(t, "%s %s %s/%s", i > 0 ? "," : "", w->names[i], group(done[i], a), group(w->total[i], b));
    if (w->nlocal > MAX_PREFIX_LINES) putf(t, ", %u more prefixes", w->nlocal - MAX_PREFIX_LINES);
    put(t, "\n", 1);
  } else {
    int bw = width - 2 - (int)strlen(tail) - 1;
    if (bw > 40) bw = 40;
    if (bw < 10) bw = 10;
    bar_text(t, all, w->ntotal, bw);
    putf(t, "%s\n", tail);
    int namew = 4;
    for (uint32_t i = 0; i < w->nlocal; i++) {
      int l = (int)strlen(w->names[i]);
      if (l > namew) namew = l;
    }
    if (namew > 32) namew = 32;
    uint32_t show = w->nlocal <= MAX_PREFIX_LINES ? w->nlocal : MAX_PREFIX_LINES - 1;
    for (uint32_t i = 0; i < show; i++) {
      char cnt[80];
      int cn = snprintf(cnt, sizeof cnt, "%s/%s", group(done[i], a), group(w->total[i], b));
      if (failed[i] > 0) snprintf(cnt + cn, sizeof cnt - (size_t)cn, " (%s failed)", group(failed[i], a));
      putf(t, "  %-*.*s  %-24s ", namew, namew, w->names[i], cnt);
      int rest = width - 2 - namew - 2 - 24 - 1 - 2;
      if (rest > 20) rest = 20;
      if (rest >= 5) bar_text(t, done[i], w->total[i], rest);
      put(t, "\n", 1);
      lines++;
    }
    if (show < w->nlocal) {
      int64_t d = 0, tot = 0;
      for (uint32_t i = show; i < w->nlocal; i++) {
        d += done[i];
        tot += w->total[i];
      }
      putf(t, "  ... %u more prefixes: %s/%s\n", w->nlocal - show, group(d, a), group(tot, b));
      lines++;
    }
  }
  free(done);
  return lines;
}

int dtxi_progress_render(dtxi_watch *w, int final, int width, char *buf, size_t cap) {
  if (w == NULL || buf == NULL || cap == 0) return 0;
  text t = {buf, 0, cap};
  buf[0] = '\0';
  if (!w->bar) return 0;
  pthread_mutex_lock(&pmu);
  int lines = prepare_locked(w) ? render(w, dtxi_now_ns(), final != 0, false, width > 0 ? width : 80, &t) : 0;
  pthread_mutex_unlock(&pmu);
  return lines;
}

/* Writes all of t to the output (a frame is one write where the kernel allows). */
static void out_write(const text *t) {
  size_t off = 0;
  while (off < t->len) {
    ssize_t n = write(out_fd(), t->p + off, t->len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += (size_t)n;
  }
}

/* Appends frame's lines to t, each followed by "clear to end of line". */
static void put_lines_el(text *t, const char *frame) {
  for (const char *line = frame, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
    put(t, line, (size_t)(nl - line));
    put(t, "\033[K\n", 4);
  }
}

/* Draws a frame: `ending` (may be NULL) for the last time if it was shown,
 * then every active watch old enough. Caller holds pmu. */
static void draw_locked(uint64_t now, dtxi_watch *ending) {
  char *buf = malloc(2 * FRAME_CAP);
  if (buf == NULL) return;
  char *fb = buf + FRAME_CAP; /* one watch's frame */
  text t = {buf, 0, FRAME_CAP};
  buf[0] = '\0';
  bool tty = out_tty(), any = false;
  int width = out_width();
  if (tty && live_lines > 0) {
    putf(&t, "\033[%dA\r", live_lines);
    any = true;
  }
  if (ending != NULL && ending->shown && prepare_locked(ending)) {
    text frame = {fb, 0, FRAME_CAP};
    fb[0] = '\0';
    render(ending, now, true, !tty, width, &frame);
    if (tty)
      put_lines_el(&t, fb);
    else
      put(&t, fb, frame.len);
    any = true;
  }
  int lines = 0;
  for (dtxi_watch *w = active; w != NULL; w = w->next) {
    if (w == ending || now - w->t0 < cfg_min_ns) continue;
    if (!tty && w->shown && now - w->last_plain < PERIOD_PLAIN_NS) continue;
    if (!prepare_locked(w)) continue;
    w->shown = true;
    w->last_plain = now;
    text frame = {fb, 0, FRAME_CAP};
    fb[0] = '\0';
    lines += render(w, now, false, !tty, width, &frame);
    if (tty)
      put_lines_el(&t, fb);
    else
      put(&t, fb, frame.len);
    any = true;
  }
  if (tty) {
    if (any) put(&t, "\033[J", 3);
    live_lines = lines;
  }
  if (any && t.len > 0) {
    out_write(&t);
    atomic_fetch_add(&frames, 1);
  }
  free(buf);
}

/* Waits on pcv until `deadline` (monotonic ns) or a signal. Caller holds pmu. */
static void wait_until(uint64_t deadline) {
  struct timespec ts = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
  pthread_cond_timedwait(&pcv, &pmu, &ts);
}

static void *progress_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&pmu);
  uint64_t idle_since = dtxi_now_ns();
  while (!stopping) {
    uint64_t now = dtxi_now_ns();
    if (active == NULL) {
      if (now - idle_since >= LINGER_NS) break;
      wait_until(idle_since + LINGER_NS);
      continue;
    }
    draw_locked(now, NULL);
    idle_since = now;
    wait_until(now + (out_tty() ? PERIOD_TTY_NS : PERIOD_PLAIN_NS / 4));
    if (active == NULL) idle_since = dtxi_now_ns();
  }
  thread_state = THREAD_EXITED;
  pthread_mutex_unlock(&pmu);
  return NULL;
}

/* Joins the progress thread when the library is unloaded or the process exits. */
__attribute__((destructor)) static void progress_stop(void) {
  pthread_mutex_lock(&pmu);
  if (thread_state == THREAD_NONE) {
    pthread_mutex_unlock(&pmu);
    return;
  }
  stopping = true;
  pthread_once(&pcv_once, pcv_init);
  pthread_cond_broadcast(&pcv);
  pthread_mutex_unlock(&pmu);
  pthread_join(thread, NULL);
  pthread_mutex_lock(&pmu);
  thread_state = THREAD_NONE;
  stopping = false;
  pthread_mutex_unlock(&pmu);
}

/* ---- the watch ------------------------------------------------------------------- */

static void watch_free(dtxi_watch *w) {
  if (w == NULL) return;
  if (w->names != NULL)
    for (uint32_t i = 0; i < w->nlocal; i++) free(w->names[i]);
  free(w->names);
  free(w->order);
  free(w->total);
  free(w->count);
  free(w->report_path);
  free(w);
}

/* Sets up the bar's counters for run r: no pass over its tasks. Returns
 * false when out of memory. */
static bool bar_setup(dtxi_watch *w, const run *r) {
  w->r = r;
  w->caller = pthread_self();
  w->nprefix = r->g->nprefix;
  w->nslots = (dtxi_sched_of(r->cl)->pool != NULL ? dtxi_sched_of(r->cl)->pool->n : 0) + 2;
  w->stride = (2 * (size_t)w->nprefix + 7) & ~(size_t)7; /* 8 counters = 64 bytes */
  size_t bytes = (size_t)w->nslots * w->stride * sizeof *w->count;
  w->count = aligned_alloc(64, bytes);
  if (w->count == NULL) return false;
  memset((void *)w->count, 0, bytes); /* all-zero bytes are atomic zeros on every target dtx builds for */
  return true;
}

dtxi_watch *dtxi_watch_begin(run *r) {
  dtx_cluster *cl = r->cl;
  const char *report = dtxi_sched_of(cl)->report_path;
  bool bar = bar_wanted(dtxi_sched_of(cl));
  if (!bar && report == NULL) return NULL;
  dtxi_watch *w = calloc(1, sizeof *w);
  if (w == NULL) return NULL;
  w->cl = cl;
  w->t0 = dtxi_now_ns();
  if (report != NULL && dtxi_sched_of(cl)->trace != NULL) {
    w->report_path = strdup(report);
    w->mark = dtxi_trace_mark(dtxi_sched_of(cl)->trace);
  }
  if (bar) {
    if (!bar_setup(w, r)) {
      watch_free(w);
      return NULL;
    }
    w->bar = true;
    pthread_once(&pcv_once, pcv_init);
    pthread_mutex_lock(&pmu);
    w->next = active;
    active = w;
    if (thread_state != THREAD_RUNNING && !stopping) {
      if (thread_state == THREAD_EXITED) pthread_join(thread, NULL);
      thread_state = pthread_create(&thread, NULL, progress_main, NULL) == 0 ? THREAD_RUNNING : THREAD_NONE;
    }
    pthread_mutex_unlock(&pmu);
  }
  return w;
}

/* One writer per slot but 0: add without a locked instruction. */
static inline void bump(_Atomic int64_t *c) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

void dtxi_watch_task(dtxi_watch *w, int worker, uint32_t prefix, int failed) {
  if (!w->bar || prefix >= w->nprefix) return;
  _Atomic int64_t *c;
  if (worker >= 0 && worker + 2 < w->nslots) {
    c = w->count + (size_t)(worker + 2) * w->stride + 2 * (size_t)prefix;
  } else if (pthread_equal(pthread_self(), w->caller)) {
    c = w->count + w->stride + 2 * (size_t)prefix;
  } else {
    c = w->count + 2 * (size_t)prefix;
    atomic_fetch_add_explicit(&c[0], 1, memory_order_relaxed);
    if (failed) atomic_fetch_add_explicit(&c[1], 1, memory_order_relaxed);
    return;
  }
  bump(&c[0]);
  if (failed) bump(&c[1]);
}

void dtxi_watch_end(dtxi_watch *w) {
  if (w == NULL) return;
  if (w->bar) {
    pthread_mutex_lock(&pmu);
    dtxi_watch **pp = &active;
    while (*pp != NULL && *pp != w) pp = &(*pp)->next;
    uint64_t now = dtxi_now_ns();
    /* Shown once before: draw its last frame; long but never shown (the
     * thread had no turn yet): show it now. */
    if (!w->shown && now - w->t0 >= cfg_min_ns) w->shown = true;
    draw_locked(now, w);
    if (*pp == w) *pp = w->next;
    pthread_cond_broadcast(&pcv);
    pthread_mutex_unlock(&pmu);
  }
  if (w->report_path != NULL) {
    dtx_status rc = dtxi_report_write(dtxi_sched_of(w->cl)->trace, w->mark, w->report_path);
    if (rc != DTX_OK)
      DTXI_LOG(DTX_LOG_WARN, "performance report '%s' not written: %s", w->report_path, dtx_last_error());
  }
  watch_free(w);
}
