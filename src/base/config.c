/*
 * base/config.c - the one table of DTX_* environment variables, and host facts
 * (cores, memory).
 *
 * Every variable is one row of `rows` below: name, kind (enum word, integer in
 * a range, real number in a range, string, size), default, range or allowed
 * words, help, and where its value goes in dtxi_env. Reading, range checks,
 * warnings, and the printed table (dtxi_env_print, behind `dtx info`) all come
 * from that table, so adding a variable is adding a row and a field.
 *
 * Owns the process's dtxi_env (`env`) and the copies of its strings (`owned`).
 * The environment is read once, on the first dtxi_env_get from any thread
 * (pthread_once), and then only read; dtxi_env_reload (tests) re-reads it and
 * must not race with other users. Reading applies DTX_LOG and DTX_LOG_FILE
 * with dtxi_log_configure before it warns about any bad value, so warnings go
 * where the user asked and DTX_LOG=none silences them. Each bad value gives
 * exactly one warning, and its field gets the default.
 *
 * Sizes (KIND_SIZE: memory limits) are checked with dtxi_parse_size and kept
 * as text, since "80%" means a different byte count on each device;
 * dtxi_env_limit_bytes turns the text into bytes against a given memory.
 */
#include "base/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/log.h"

_Static_assert(sizeof(dtx_scheduler) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(dtx_log_level) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(dtxi_p2p) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(dtxi_progress_mode) == sizeof(int), "enum fields are stored as int");

/* KIND_STRING: any non-empty text. KIND_SIZE: a size or percentage for
 * dtxi_parse_size, more than zero, or "none" where the row allows it. */
typedef enum kind { KIND_ENUM, KIND_INT, KIND_REAL, KIND_STRING, KIND_SIZE } kind;

typedef struct word {
  const char *text;
  int value;
} word; /* lists end with {NULL, 0} */

typedef struct row {
  const char *name;
  kind kind;
  const char *def;   /* the default as shown to users: a word, a number, "cores", "stderr" */
  int def_value;     /* KIND_ENUM, KIND_INT: the value stored when unset or bad */
  long min, max;     /* KIND_INT: accepted range */
  double rmin, rmax; /* KIND_REAL: accepted range; the default (def_real) is stored when unset or bad */
  double def_real;
  const word *words;    /* KIND_ENUM: accepted words */
  const char *help;     /* one line; the accepted words, range or syntax are appended when printed */
  size_t offset;        /* offsetof(dtxi_env, field): int for enums and ints, double for reals,
                           const char * for strings and sizes */
  int (*def_now)(void); /* KIND_INT, may be NULL: what def_value means on this machine (printed) */
  /* KIND_STRING, KIND_SIZE, may be NULL: the text stored (copied) when unset
   * or bad; NULL here or from the call stores NULL. */
  const char *(*def_text)(void);
  int none_ok; /* KIND_SIZE: "none" (case ignored) is accepted and stored as NULL */
} row;

static const word scheduler_words[] = {
    {"sync", DTX_SCHED_SYNC},
    {"threads", DTX_SCHED_THREADS},
    {"cluster", DTX_SCHED_CLUSTER},
    {NULL, 0},
};

static const word log_words[] = {
    {"none", DTX_LOG_NONE}, {"error", DTX_LOG_ERROR}, {"warn", DTX_LOG_WARN},
    {"info", DTX_LOG_INFO}, {"debug", DTX_LOG_DEBUG}, {NULL, 0},
};

static const word p2p_words[] = {
    {"auto", DTXI_P2P_AUTO},
    {"nccl", DTXI_P2P_NCCL},
    {"peer", DTXI_P2P_PEER},
    {NULL, 0},
};

static const word progress_words[] = {
    {"auto", DTXI_PROGRESS_AUTO},
    {"0", DTXI_PROGRESS_OFF},
    {"1", DTXI_PROGRESS_ON},
    {NULL, 0},
};

static const char *gpus_default(void) { return "all"; }
static const char *device_limit_default(void) { return "80%"; }

/* $TMPDIR when set and not empty, else /tmp: read when the table is. */
static const char *spill_dir_default(void) {
  const char *t = getenv("TMPDIR");
  return (t != NULL && t[0] != '\0') ? t : "/tmp";
}

/* DTX_LOG and DTX_LOG_FILE are applied before other rows warn; order here is
 * only the order of warnings and of the printed table. */
static const row rows[] = {
    {.name = "DTX_SCHEDULER",
     .kind = KIND_ENUM,
     .def = "threads",
     .def_value = DTX_SCHED_THREADS,
     .words = scheduler_words,
     .help = "engine that runs computations",
     .offset = offsetof(dtxi_env, scheduler)},
    {.name = "DTX_NUM_THREADS",
     .kind = KIND_INT,
     .def = "cores",
     .def_value = 0,
     .min = 1,
     .max = 1024,
     .help = "CPU worker threads",
     .offset = offsetof(dtxi_env, num_threads),
     .def_now = dtxi_num_cores},
    {.name = "DTX_LOG",
     .kind = KIND_ENUM,
     .def = "warn",
     .def_value = DTX_LOG_WARN,
     .words = log_words,
     .help = "log level",
     .offset = offsetof(dtxi_env, log_level)},
    {.name = "DTX_LOG_FILE",
     .kind = KIND_STRING,
     .def = "stderr",
     .help = "append log lines to this file",
     .offset = offsetof(dtxi_env, log_file)},
    {.name = "DTX_TRACE",
     .kind = KIND_STRING,
     .def = "none",
     .help = "write a Chrome trace JSON (Perfetto) of computations to this path",
     .offset = offsetof(dtxi_env, trace_path)},
    {.name = "DTX_TRACE_MAX_EVENTS",
     .kind = KIND_INT,
     .def = "10000000",
     .def_value = DTXI_TRACE_MAX_EVENTS_DEFAULT,
     .min = 0,
     .max = INT_MAX,
     .help = "events a trace file holds at most, then it says it was capped (0 = no cap)",
     .offset = offsetof(dtxi_env, trace_max_events)},
    {.name = "DTX_REPORT",
     .kind = KIND_STRING,
     .def = "none",
     .help = "each computation writes an HTML performance report (task stream, summary) to this path",
     .offset = offsetof(dtxi_env, report_path)},
    {.name = "DTX_PROGRESS",
     .kind = KIND_ENUM,
     .def = "auto",
     .def_value = DTXI_PROGRESS_AUTO,
     .words = progress_words,
     .help = "progress bar of computations on stderr (auto: when stderr is a terminal)",
     .offset = offsetof(dtxi_env, progress)},
    {.name = "DTX_GPUS",
     .kind = KIND_STRING,
     .def = "all",
     .help = "GPUs to use: all, none, a list of indices such as 0,2, or sim:N simulated GPUs",
     .offset = offsetof(dtxi_env, gpus),
     .def_text = gpus_default},
    {.name = "DTX_STREAMS_PER_GPU",
     .kind = KIND_INT,
     .def = "4",
     .def_value = 4,
     .min = 1,
     .max = 64,
     .help = "compute streams per GPU",
     .offset = offsetof(dtxi_env, streams_per_gpu)},
    {.name = "DTX_GPU_WINDOW",
     .kind = KIND_INT,
     .def = "256",
     .def_value = 256,
     .min = 0,
     .max = 100000,
     .help = "GPU tasks enqueued behind unfinished inputs per GPU (0: none)",
     .offset = offsetof(dtxi_env, gpu_window)},
    {.name = "DTX_DEVICE_MEMORY_LIMIT",
     .kind = KIND_SIZE,
     .def = "80%",
     .help = "device memory per GPU before spilling to host (N% of the card)",
     .offset = offsetof(dtxi_env, device_memory_limit),
     .def_text = device_limit_default,
     .none_ok = 1},
    {.name = "DTX_HOST_MEMORY_LIMIT",
     .kind = KIND_SIZE,
     .def = "none",
     .help = "host memory for chunks before spilling to disk (N% of the host's)",
     .offset = offsetof(dtxi_env, host_memory_limit),
     .none_ok = 1},
    {.name = "DTX_SPILL_DIR",
     .kind = KIND_STRING,
     .def = "$TMPDIR or /tmp",
     .help = "directory for chunks spilled to disk",
     .offset = offsetof(dtxi_env, spill_dir),
     .def_text = spill_dir_default},
    {.name = "DTX_P2P",
     .kind = KIND_ENUM,
     .def = "auto",
     .def_value = DTXI_P2P_AUTO,
     .words = p2p_words,
     .help = "GPU-to-GPU transport (auto: by measured bandwidth)",
     .offset = offsetof(dtxi_env, p2p)},
    {.name = "DTX_SIM_BANDWIDTH",
     .kind = KIND_REAL,
     .def = "0",
     .def_real = 0.0,
     .rmin = 0.0,
     .rmax = 1e6,
     .help = "GB/s of simulated links (0 = unthrottled)",
     .offset = offsetof(dtxi_env, sim_bandwidth)},
};

enum { N_ROWS = sizeof rows / sizeof rows[0], SHOWN_MAX = 80 };

static pthread_once_t once = PTHREAD_ONCE_INIT;
static dtxi_env env;
static char *owned[N_ROWS]; /* owned[i]: the copy a KIND_STRING row's field points to, or NULL */
static unsigned generation; /* how many times the environment has been read */

/* ---- words -------------------------------------------------------------- */

static int word_parse(const word *w, const char *s, int *out) {
  if (s == NULL) return -1;
  for (; w->text != NULL; w++) {
    if (strcasecmp(w->text, s) == 0) {
      *out = w->value;
      return 0;
    }
  }
  return -1;
}

static const char *word_name(const word *w, int value) {
  for (; w->text != NULL; w++)
    if (w->value == value) return w->text;
  return NULL;
}

/* "sync|threads" */
static void word_list(const word *w, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = '\0';
  for (const word *p = w; p->text != NULL && n < size; p++)
    n += (size_t)snprintf(buf + n, size - n, "%s%s", p == w ? "" : "|", p->text);
}

int dtxi_parse_scheduler(const char *s, dtx_scheduler *out) {
  int v;
  if (word_parse(scheduler_words, s, &v) != 0) return -1;
  *out = (dtx_scheduler)v;
  return 0;
}

int dtxi_parse_log_level(const char *s, dtx_log_level *out) {
  int v;
  if (word_parse(log_words, s, &v) != 0) return -1;
  *out = (dtx_log_level)v;
  return 0;
}

const char *dtx_scheduler_name(dtx_scheduler s) { return word_name(scheduler_words, (int)s); }

const char *dtxi_log_level_name(dtx_log_level level) { return word_name(log_words, (int)level); }

/* ---- reading one row ---------------------------------------------------- */

/* Decimal digits with an optional sign, nothing else (no spaces, no "4x"),
 * within [min, max]. */
static int parse_int(const char *s, long min, long max, int *out) {
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  if (!isdigit((unsigned char)*p)) return -1;
  errno = 0;
  char *end;
  long v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max || v < INT_MIN || v > INT_MAX) return -1;
  *out = (int)v;
  return 0;
}

/* A decimal real number (digits, '.', an exponent; an optional sign), finite,
 * within [min, max]; nothing else (no spaces, "inf", "nan", hex). */
static int parse_real(const char *s, double min, double max, double *out) {
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  if (!isdigit((unsigned char)*p) && *p != '.') return -1;
  for (const char *q = p; *q != '\0'; q++)
    if (!isdigit((unsigned char)*q) && strchr(".eE+-", *q) == NULL) return -1;
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < min || v > max) return -1;
  *out = v;
  return 0;
}

/* The multiplier of a size suffix (case ignored): "" and B are bytes; K, KI,
 * KIB powers of 1024; KB powers of 1000; likewise M, G, T. 0 if unknown. */
static long long size_unit(const char *u) {
  static const char letters[] = "kmgt";
  if (u[0] == '\0' || strcasecmp(u, "b") == 0) return 1;
  const char *at = strchr(letters, tolower((unsigned char)u[0]));
  if (at == NULL) return 0;
  int power = (int)(at - letters) + 1;
  long long binary = 1LL << (10 * power), decimal = 1;
  for (int i = 0; i < power; i++) decimal *= 1000;
  const char *rest = u + 1;
  if (rest[0] == '\0' || strcasecmp(rest, "i") == 0 || strcasecmp(rest, "ib") == 0) return binary;
  if (strcasecmp(rest, "b") == 0) return decimal;
  return 0;
}

/* See config.h. The integer part is read exactly (a count up to LLONG_MAX
 * loses nothing to floating point); only a fraction goes through double. */
int dtxi_parse_size(const char *s, long long whole, long long *out) {
  if (s == NULL) return -1;
  const char *p = s;
  unsigned long long ip = 0;
  int digits = 0, fdigits = 0;
  double frac = 0.0, scale = 0.1;
  for (; isdigit((unsigned char)*p); p++, digits++) {
    unsigned d = (unsigned)(*p - '0');
    if (ip > (ULLONG_MAX - d) / 10) return -1;
    ip = ip * 10 + d;
  }
  if (*p == '.') {
    for (p++; isdigit((unsigned char)*p); p++, fdigits++, scale /= 10) frac += (*p - '0') * scale;
    if (fdigits == 0) return -1; /* "5." */
  }
  if (digits + fdigits == 0 || ip > (unsigned long long)LLONG_MAX) return -1;
  while (*p == ' ' || *p == '\t') p++;

  long long v;
  if (*p == '%') {
    if (p[1] != '\0' || whole < 0 || ip > 100 || (ip == 100 && frac > 0.0)) return -1;
    if (frac == 0.0) {
      /* whole * ip / 100 without overflow: ip <= 100. */
      v = whole / 100 * (long long)ip + whole % 100 * (long long)ip / 100;
    } else {
      long double x = floorl((long double)whole * ((long double)ip + frac) / 100.0L);
      v = x >= (long double)whole ? whole : (long long)x;
    }
  } else {
    if (strlen(p) > 3) return -1;
    long long unit = size_unit(p);
    if (unit == 0 || (long long)ip > LLONG_MAX / unit) return -1;
    v = (long long)ip * unit;
    long long part = (long long)(frac * (double)unit); /* < unit: frac < 1 */
    if (v > LLONG_MAX - part) return -1;
    v += part;
  }
  *out = v;
  return 0;
}

size_t dtxi_env_limit_bytes(const char *text, size_t whole) {
  long long v;
  if (text == NULL) return 0;
  if (dtxi_parse_size(text, whole > (size_t)LLONG_MAX ? LLONG_MAX : (long long)whole, &v) != 0 || v <= 0)
    return 0;
  return (size_t)v;
}

/* KIND_SIZE: a size dtxi_parse_size accepts that is more than 0 bytes (checked
 * against the largest memory, so any percentage above 0% passes). */
static int size_ok(const char *s) {
  long long v;
  return dtxi_parse_size(s, LLONG_MAX, &v) == 0 && v > 0;
}

static void store_int(dtxi_env *e, const row *r, int v) { memcpy((char *)e + r->offset, &v, sizeof v); }

static int load_int(const dtxi_env *e, const row *r) {
  int v;
  memcpy(&v, (const char *)e + r->offset, sizeof v);
  return v;
}

static void store_real(dtxi_env *e, const row *r, double v) { memcpy((char *)e + r->offset, &v, sizeof v); }

static double load_real(const dtxi_env *e, const row *r) {
  double v;
  memcpy(&v, (const char *)e + r->offset, sizeof v);
  return v;
}

static void store_string(dtxi_env *e, const row *r, const char *s) {
  memcpy((char *)e + r->offset, &s, sizeof s);
}

static const char *load_string(const dtxi_env *e, const row *r) {
  const char *s;
  memcpy(&s, (const char *)e + r->offset, sizeof s);
  return s;
}

/* Stores the row's value for text s (NULL = unset) into e; a string value is
 * copied into *copy. Returns 0, or -1 for a bad value (the default is stored). */
static int read_row(const row *r, const char *s, dtxi_env *e, char **copy) {
  int v = r->def_value;
  double d = r->def_real;
  const char *text = r->def_text != NULL ? r->def_text() : NULL; /* the default */
  int rc = 0;
  switch (r->kind) {
    case KIND_ENUM:
      if (s != NULL && word_parse(r->words, s, &v) != 0) v = r->def_value, rc = -1;
      store_int(e, r, v);
      break;
    case KIND_INT:
      if (s != NULL && parse_int(s, r->min, r->max, &v) != 0) v = r->def_value, rc = -1;
      store_int(e, r, v);
      break;
    case KIND_REAL:
      if (s != NULL && parse_real(s, r->rmin, r->rmax, &d) != 0) d = r->def_real, rc = -1;
      store_real(e, r, d);
      break;
    case KIND_STRING:
      if (s != NULL && s[0] == '\0') rc = -1;
      if (s != NULL && s[0] != '\0') text = s;
      *copy = text != NULL ? strdup(text) : NULL;
      store_string(e, r, *copy);
      break;
    case KIND_SIZE:
      if (s != NULL && r->none_ok && strcasecmp(s, "none") == 0)
        text = NULL;
      else if (s != NULL && size_ok(s))
        text = s;
      else if (s != NULL)
        rc = -1;
      *copy = text != NULL ? strdup(text) : NULL;
      store_string(e, r, *copy);
      break;
  }
  return rc;
}

/* A value fit to quote in a one-line warning: control characters become '?',
 * long values are cut (never inside a UTF-8 character) and end in "...". */
static void show_value(const char *s, char *buf, size_t size) {
  size_t n = 0, limit = size - 4;
  for (; s[n] != '\0' && n < limit; n++) buf[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
  if (s[n] != '\0') {
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* s[n] starts the first byte left out */
    memcpy(buf + n, "...", 3);
    n += 3;
  }
  buf[n] = '\0';
}

static void warn_bad(const row *r, const char *shown) {
  char allowed[128];
  switch (r->kind) {
    case KIND_ENUM:
      word_list(r->words, allowed, sizeof allowed);
      DTXI_LOG(DTX_LOG_WARN, "%s=\"%s\" is not one of %s; using the default (%s)", r->name, shown, allowed,
               r->def);
      break;
    case KIND_INT:
      DTXI_LOG(DTX_LOG_WARN, "%s=\"%s\" is not an integer in %ld..%ld; using the default (%s)", r->name,
               shown, r->min, r->max, r->def);
      break;
    case KIND_REAL:
      DTXI_LOG(DTX_LOG_WARN, "%s=\"%s\" is not a number in %g..%g; using the default (%s)", r->name, shown,
               r->rmin, r->rmax, r->def);
      break;
    case KIND_STRING:
      DTXI_LOG(DTX_LOG_WARN, "%s=\"%s\" is empty; using the default (%s)", r->name, shown, r->def);
      break;
    case KIND_SIZE:
      DTXI_LOG(
          DTX_LOG_WARN,
          "%s=\"%s\" is not a size above 0 (such as 12GiB, 512M, 1000000 or 80%%)%s; using the default (%s)",
          r->name, shown, r->none_ok ? " nor none" : "", r->def);
      break;
  }
}

/* ---- the whole environment ---------------------------------------------- */

/* Reads every row into a fresh dtxi_env, applies the log settings, warns
 * about bad values, then replaces env (freeing the strings it owned). */
static void env_load(void) {
  dtxi_env next;
  char *copies[N_ROWS] = {0};
  char shown[N_ROWS][SHOWN_MAX];
  int bad[N_ROWS] = {0};

  memset(&next, 0, sizeof next);
  for (size_t i = 0; i < N_ROWS; i++) {
    const char *s = getenv(rows[i].name);
    if (read_row(&rows[i], s, &next, &copies[i]) != 0) {
      bad[i] = 1;
      show_value(s, shown[i], sizeof shown[i]);
    } else if (s != NULL && rows[i].offset == offsetof(dtxi_env, scheduler)) {
      next.scheduler_given = 1;
    }
  }

  dtxi_log_configure(next.log_level, next.log_file);
  for (size_t i = 0; i < N_ROWS; i++)
    if (bad[i]) warn_bad(&rows[i], shown[i]);

  for (size_t i = 0; i < N_ROWS; i++) {
    free(owned[i]);
    owned[i] = copies[i];
  }
  env = next;
  generation++;
  DTXI_LOG(
      DTX_LOG_DEBUG,
      "environment read: DTX_SCHEDULER=%s DTX_NUM_THREADS=%d DTX_LOG=%s DTX_GPUS=%s DTX_STREAMS_PER_GPU=%d "
      "DTX_DEVICE_MEMORY_LIMIT=%s DTX_HOST_MEMORY_LIMIT=%s",
      dtx_scheduler_name(env.scheduler), env.num_threads, dtxi_log_level_name(env.log_level),
      env.gpus != NULL ? env.gpus : "all", env.streams_per_gpu,
      env.device_memory_limit != NULL ? env.device_memory_limit : "none",
      env.host_memory_limit != NULL ? env.host_memory_limit : "none");
}

const dtxi_env *dtxi_env_get(void) {
  pthread_once(&once, env_load);
  return &env;
}

void dtxi_env_reload(void) {
  unsigned before = generation;
  pthread_once(&once, env_load);
  if (generation == before) env_load(); /* the first read was earlier: read again */
}

/* The row's current value as text: buf, or a string of env. */
static const char *value_text(const row *r, char *buf, size_t size) {
  switch (r->kind) {
    case KIND_ENUM: {
      const char *w = word_name(r->words, load_int(&env, r));
      return w != NULL ? w : "?";
    }
    case KIND_INT: {
      int v = load_int(&env, r);
      if (v != r->def_value)
        snprintf(buf, size, "%d", v);
      else if (r->def_now != NULL)
        snprintf(buf, size, "%d (%s)", r->def_now(), r->def);
      else
        snprintf(buf, size, "%s", r->def);
      return buf;
    }
    case KIND_REAL: {
      double v = load_real(&env, r);
      if (v != r->def_real)
        snprintf(buf, size, "%g", v);
      else
        snprintf(buf, size, "%s", r->def);
      return buf;
    }
    case KIND_STRING: {
      const char *s = load_string(&env, r);
      return s != NULL ? s : r->def;
    }
    case KIND_SIZE: {
      const char *s = load_string(&env, r);
      return s != NULL ? s : "none";
    }
  }
  return "?";
}

static void help_text(const row *r, char *buf, size_t size) {
  char allowed[128];
  switch (r->kind) {
    case KIND_ENUM:
      word_list(r->words, allowed, sizeof allowed);
      snprintf(buf, size, "%s: %s", r->help, allowed);
      break;
    case KIND_INT:
      snprintf(buf, size, "%s: %ld..%ld", r->help, r->min, r->max);
      break;
    case KIND_REAL:
      snprintf(buf, size, "%s: %g..%g", r->help, r->rmin, r->rmax);
      break;
    case KIND_STRING:
      snprintf(buf, size, "%s", r->help);
      break;
    case KIND_SIZE:
      snprintf(buf, size, "%s: such as 12GiB, 512M (K..T = 1024^n; KB..TB = 1000^n), N%%%s", r->help,
               r->none_ok ? ", or none" : "");
      break;
  }
}

/*
 * Prints one line per variable, columns aligned:
 *   variable         value        default  meaning
 *   DTX_SCHEDULER    threads      threads  engine that runs computations: sync|threads
 */
void dtxi_env_print(FILE *out) {
  char buf[N_ROWS][64];
  const char *value[N_ROWS];
  int wname = (int)strlen("variable"), wvalue = (int)strlen("value"), wdef = (int)strlen("default");

  dtxi_env_get();
  for (size_t i = 0; i < N_ROWS; i++) {
    value[i] = value_text(&rows[i], buf[i], sizeof buf[i]);
    int n = (int)strlen(rows[i].name), v = (int)strlen(value[i]), d = (int)strlen(rows[i].def);
    if (n > wname) wname = n;
    if (v > wvalue) wvalue = v;
    if (d > wdef) wdef = d;
  }
  fprintf(out, "%-*s  %-*s  %-*s  %s\n", wname, "variable", wvalue, "value", wdef, "default", "meaning");
  for (size_t i = 0; i < N_ROWS; i++) {
    char help[256];
    help_text(&rows[i], help, sizeof help);
    fprintf(out, "%-*s  %-*s  %-*s  %s\n", wname, rows[i].name, wvalue, value[i], wdef, rows[i].def, help);
  }
}

/* ---- host facts ----------------------------------------------------------- */

/* Online cores, or the number this process may run on when its affinity mask
 * (taskset, cgroup cpusets, MPI binding) allows fewer; at least 1. */
int dtxi_num_cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) n = 1;
#if defined(__linux__) && defined(CPU_ALLOC)
  long conf = sysconf(_SC_NPROCESSORS_CONF);
  int ncpu = conf > 1024 ? (int)conf : 1024;
  for (int attempt = 0; attempt < 8; attempt++, ncpu *= 2) {
    cpu_set_t *set = CPU_ALLOC(ncpu);
    if (set == NULL) break;
    size_t size = CPU_ALLOC_SIZE(ncpu);
    int rc = sched_getaffinity(0, size, set);
    int err = errno;
    if (rc == 0) {
      long c = CPU_COUNT_S(size, set);
      if (c >= 1 && c < n) n = c;
    }
    CPU_FREE(set);
    if (rc == 0 || err != EINVAL) break; /* EINVAL: the kernel's mask is larger than ours */
  }
#endif
  return n > INT_MAX ? INT_MAX : (int)n;
}

long long dtxi_host_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  if ((long long)pages > LLONG_MAX / page) return LLONG_MAX;
  return (long long)pages * page;
}
