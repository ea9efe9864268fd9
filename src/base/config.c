/*
 * base/config.c - the one table of settings: each is a DTX_* environment
 * variable and a field of dtx_cluster_config.
 *
 * Every setting is one row of `rows` below: name, kind (enum word, integer in
 * a range, real number in a range, string, size), default, range or allowed
 * words, help, where its value goes in dtxi_env, and its config field.
 * Reading the environment, range checks, warnings, resolving a cluster's
 * settings (dtxi_settings_resolve: field, else environment, else default)
 * and the printed tables (dtxi_env_print; dtxi_settings_print, behind `dtx
 * info`) all come from that table, so adding a setting is adding a row, a
 * dtxi_var, a dtxi_env field and a dtx_cluster_config field at its end.
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
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "base/log.h"

_Static_assert(sizeof(dtx_scheduler) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(dtx_log_level) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(dtx_p2p) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(dtx_progress) == sizeof(int), "enum fields are stored as int");

/* KIND_STRING: any non-empty text. KIND_SIZE: a size or percentage for
 * dtxi_parse_size, more than zero, or "none" where the row allows it. */
typedef enum kind { KIND_ENUM, KIND_INT, KIND_REAL, KIND_STRING, KIND_SIZE } kind;

typedef struct word {
  const char *text;
  int value;
  const char *cname; /* the enum constant, for messages about config fields */
} word;              /* lists end with {NULL, 0, NULL} */

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
  /* The setting's field of dtx_cluster_config: its name, its offset, and the
   * value that means unset there (KIND_ENUM: always 0, the DEFAULT constant;
   * KIND_INT: unset; KIND_REAL: -1; KIND_STRING, KIND_SIZE: NULL). */
  const char *field;
  size_t cfg_offset;
  int unset;
  /* KIND_STRING: "" in the field is accepted and means the default (NULL:
   * none, stderr; or def_text). Otherwise "" there is DTX_EINVAL. */
  int field_empty_ok;
} row;

static const word scheduler_words[] = {
    {"sync", DTX_SCHED_SYNC, "DTX_SCHED_SYNC"},
    {"threads", DTX_SCHED_THREADS, "DTX_SCHED_THREADS"},
    {"cluster", DTX_SCHED_CLUSTER, "DTX_SCHED_CLUSTER"},
    {NULL, 0, NULL},
};

static const word log_words[] = {
    {"none", DTX_LOG_NONE, "DTX_LOG_NONE"},    {"error", DTX_LOG_ERROR, "DTX_LOG_ERROR"},
    {"warn", DTX_LOG_WARN, "DTX_LOG_WARN"},    {"info", DTX_LOG_INFO, "DTX_LOG_INFO"},
    {"debug", DTX_LOG_DEBUG, "DTX_LOG_DEBUG"}, {NULL, 0, NULL},
};

static const word p2p_words[] = {
    {"auto", DTX_P2P_AUTO, "DTX_P2P_AUTO"},
    {"nccl", DTX_P2P_NCCL, "DTX_P2P_NCCL"},
    {"peer", DTX_P2P_PEER, "DTX_P2P_PEER"},
    {NULL, 0, NULL},
};

static const word progress_words[] = {
    {"auto", DTX_PROGRESS_AUTO, "DTX_PROGRESS_AUTO"},
    {"0", DTX_PROGRESS_OFF, "DTX_PROGRESS_OFF"},
    {"1", DTX_PROGRESS_ON, "DTX_PROGRESS_ON"},
    {NULL, 0, NULL},
};

static const char *gpus_default(void) { return "all"; }
static const char *device_limit_default(void) { return "80%"; }

/*
 * $TMPDIR when set and not empty, else /tmp: read when the table is.
 *
 * The environment read outside the table (each on purpose):
 *   TMPDIR here: the system's scratch directory, the default of DTX_SPILL_DIR
 *     and where a report without a trace path keeps its temporary trace
 *     (dtxi_env.tmp_dir); read with the table, once per process.
 *   NVTX_INJECTION64_PATH in runtime/cluster.c: the NVTX tool's own variable
 *     (Nsight Systems sets it), not a dtx setting; read once per cluster, at
 *     creation, to decide whether tasks emit NVTX ranges.
 *   DTX_LOG and DTX_LOG_FILE apply to the whole process as soon as the table is
 *     read (warnings about other variables go there), before any cluster.
 */
static const char *spill_dir_default(void) {
  const char *t = getenv("TMPDIR");
  return (t != NULL && t[0] != '\0') ? t : "/tmp";
}

/* DTX_LOG and DTX_LOG_FILE are applied before other rows warn; order here is
 * only the order of warnings and of the printed table. */
static const row rows[] = {
    [DTXI_VAR_SCHEDULER] = {.name = "DTX_SCHEDULER",
                            .kind = KIND_ENUM,
                            .def = "threads",
                            .def_value = DTX_SCHED_THREADS,
                            .words = scheduler_words,
                            .help = "engine that runs computations",
                            .offset = offsetof(dtxi_env, scheduler),
                            .field = "scheduler",
                            .cfg_offset = offsetof(dtx_cluster_config, scheduler)},
    [DTXI_VAR_NUM_THREADS] = {.name = "DTX_NUM_THREADS",
                              .kind = KIND_INT,
                              .def = "cores",
                              .def_value = 0,
                              .min = 1,
                              .max = 1024,
                              .help = "CPU worker threads",
                              .offset = offsetof(dtxi_env, num_threads),
                              .def_now = dtxi_num_cores,
                              .field = "num_threads",
                              .cfg_offset = offsetof(dtx_cluster_config, num_threads),
                              .unset = 0},
    [DTXI_VAR_LOG] = {.name = "DTX_LOG",
                      .kind = KIND_ENUM,
                      .def = "warn",
                      .def_value = DTX_LOG_WARN,
                      .words = log_words,
                      .help = "log level",
                      .offset = offsetof(dtxi_env, log_level),
                      .field = "log_level",
                      .cfg_offset = offsetof(dtx_cluster_config, log_level)},
    [DTXI_VAR_LOG_FILE] = {.name = "DTX_LOG_FILE",
                           .kind = KIND_STRING,
                           .def = "stderr",
                           .help = "append log lines to this file",
                           .offset = offsetof(dtxi_env, log_file),
                           .field = "log_file",
                           .cfg_offset = offsetof(dtx_cluster_config, log_file),
                           .field_empty_ok = 1},
    [DTXI_VAR_TRACE] = {.name = "DTX_TRACE",
                        .kind = KIND_STRING,
                        .def = "none",
                        .help = "write a Chrome trace JSON (Perfetto) of computations to this path",
                        .offset = offsetof(dtxi_env, trace_path),
                        .field = "trace_path",
                        .cfg_offset = offsetof(dtx_cluster_config, trace_path),
                        .field_empty_ok = 1},
    [DTXI_VAR_TRACE_MAX_EVENTS] =
        {.name = "DTX_TRACE_MAX_EVENTS",
         .kind = KIND_INT,
         .def = "10000000",
         .def_value = DTXI_TRACE_MAX_EVENTS_DEFAULT,
         .min = 0,
         .max = INT_MAX,
         .help = "events a trace file holds at most, then it says it was capped (0 = no cap)",
         .offset = offsetof(dtxi_env, trace_max_events),
         .field = "trace_max_events",
         .cfg_offset = offsetof(dtx_cluster_config, trace_max_events),
         .unset = -1},
    [DTXI_VAR_REPORT] =
        {.name = "DTX_REPORT",
         .kind = KIND_STRING,
         .def = "none",
         .help = "each computation writes an HTML performance report (task stream, summary) to this path",
         .offset = offsetof(dtxi_env, report_path),
         .field = "report_path",
         .cfg_offset = offsetof(dtx_cluster_config, report_path),
         .field_empty_ok = 1},
    [DTXI_VAR_PROGRESS] = {.name = "DTX_PROGRESS",
                           .kind = KIND_ENUM,
                           .def = "auto",
                           .def_value = DTX_PROGRESS_AUTO,
                           .words = progress_words,
                           .help = "progress bar of computations on stderr (auto: when stderr is a terminal)",
                           .offset = offsetof(dtxi_env, progress),
                           .field = "progress",
                           .cfg_offset = offsetof(dtx_cluster_config, progress)},
    [DTXI_VAR_GPUS] = {.name = "DTX_GPUS",
                       .kind = KIND_STRING,
                       .def = "all",
                       .help =
                           "GPUs to use: all, none, a list of indices such as 0,2, or sim:N simulated GPUs",
                       .offset = offsetof(dtxi_env, gpus),
                       .def_text = gpus_default,
                       .field = "gpus",
                       .cfg_offset = offsetof(dtx_cluster_config, gpus),
                       .field_empty_ok = 1},
    [DTXI_VAR_STREAMS_PER_GPU] = {.name = "DTX_STREAMS_PER_GPU",
                                  .kind = KIND_INT,
                                  .def = "4",
                                  .def_value = 4,
                                  .min = 1,
                                  .max = 64,
                                  .help = "compute streams per GPU",
                                  .offset = offsetof(dtxi_env, streams_per_gpu),
                                  .field = "streams_per_gpu",
                                  .cfg_offset = offsetof(dtx_cluster_config, streams_per_gpu),
                                  .unset = 0},
    [DTXI_VAR_GPU_WINDOW] = {.name = "DTX_GPU_WINDOW",
                             .kind = KIND_INT,
                             .def = "256",
                             .def_value = 256,
                             .min = 0,
                             .max = 100000,
                             .help = "GPU tasks enqueued behind unfinished inputs per GPU (0: none)",
                             .offset = offsetof(dtxi_env, gpu_window),
                             .field = "gpu_window",
                             .cfg_offset = offsetof(dtx_cluster_config, gpu_window),
                             .unset = -1},
    [DTXI_VAR_DEVICE_MEMORY_LIMIT] = {.name = "DTX_DEVICE_MEMORY_LIMIT",
                                      .kind = KIND_SIZE,
                                      .def = "80%",
                                      .help =
                                          "device memory per GPU before spilling to host (N% of the card)",
                                      .offset = offsetof(dtxi_env, device_memory_limit),
                                      .def_text = device_limit_default,
                                      .none_ok = 1,
                                      .field = "device_memory_limit",
                                      .cfg_offset = offsetof(dtx_cluster_config, device_memory_limit)},
    [DTXI_VAR_HOST_MEMORY_LIMIT] = {.name = "DTX_HOST_MEMORY_LIMIT",
                                    .kind = KIND_SIZE,
                                    .def = "none",
                                    .help =
                                        "host memory for chunks before spilling to disk (N% of the host's)",
                                    .offset = offsetof(dtxi_env, host_memory_limit),
                                    .none_ok = 1,
                                    .field = "host_memory_limit",
                                    .cfg_offset = offsetof(dtx_cluster_config, host_memory_limit)},
    [DTXI_VAR_SPILL_DIR] = {.name = "DTX_SPILL_DIR",
                            .kind = KIND_STRING,
                            .def = "$TMPDIR or /tmp",
                            .help = "directory for chunks spilled to disk",
                            .offset = offsetof(dtxi_env, spill_dir),
                            .def_text = spill_dir_default,
                            .field = "spill_dir",
                            .cfg_offset = offsetof(dtx_cluster_config, spill_dir)},
    [DTXI_VAR_P2P] = {.name = "DTX_P2P",
                      .kind = KIND_ENUM,
                      .def = "auto",
                      .def_value = DTX_P2P_AUTO,
                      .words = p2p_words,
                      .help = "GPU-to-GPU transport (auto: by measured bandwidth)",
                      .offset = offsetof(dtxi_env, p2p),
                      .field = "p2p",
                      .cfg_offset = offsetof(dtx_cluster_config, p2p)},
    [DTXI_VAR_SIM_BANDWIDTH] = {.name = "DTX_SIM_BANDWIDTH",
                                .kind = KIND_REAL,
                                .def = "0",
                                .def_real = 0.0,
                                .rmin = 0.0,
                                .rmax = 1e6,
                                .help = "GB/s of simulated links (0 = unthrottled)",
                                .offset = offsetof(dtxi_env, sim_bandwidth),
                                .field = "sim_bandwidth",
                                .cfg_offset = offsetof(dtx_cluster_config, sim_bandwidth)},
};

enum { N_ROWS = sizeof rows / sizeof rows[0], SHOWN_MAX = 80 };
_Static_assert((int)N_ROWS == (int)DTXI_NVARS, "one row per dtxi_var");

static pthread_once_t once = PTHREAD_ONCE_INIT;
static dtxi_env env;
static char *owned[N_ROWS + 1]; /* owned[i]: the copy row i's string points to, or NULL; [N_ROWS]: tmp_dir */
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
  char *copies[N_ROWS + 1] = {0};
  char shown[N_ROWS][SHOWN_MAX];
  int bad[N_ROWS] = {0};

  memset(&next, 0, sizeof next);
  for (size_t i = 0; i < N_ROWS; i++) {
    const char *s = getenv(rows[i].name);
    if (read_row(&rows[i], s, &next, &copies[i]) != 0) {
      bad[i] = 1;
      show_value(s, shown[i], sizeof shown[i]);
    } else if (s != NULL) {
      next.given[i] = 1;
    }
  }
  next.scheduler_given = next.given[DTXI_VAR_SCHEDULER];
  next.tmp_dir = copies[N_ROWS] = strdup(spill_dir_default());

  dtxi_log_configure(next.log_level, next.log_file);
  for (size_t i = 0; i < N_ROWS; i++)
    if (bad[i]) warn_bad(&rows[i], shown[i]);

  for (size_t i = 0; i <= N_ROWS; i++) {
    free(owned[i]);
    owned[i] = copies[i];
  }
  if (next.tmp_dir == NULL) next.tmp_dir = "/tmp"; /* out of memory copying it */
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
static const char *value_text(const dtxi_env *e, const row *r, char *buf, size_t size) {
  switch (r->kind) {
    case KIND_ENUM: {
      const char *w = word_name(r->words, load_int(e, r));
      return w != NULL ? w : "?";
    }
    case KIND_INT: {
      int v = load_int(e, r);
      if (v != r->def_value)
        snprintf(buf, size, "%d", v);
      else if (r->def_now != NULL)
        snprintf(buf, size, "%d (%s)", r->def_now(), r->def);
      else
        snprintf(buf, size, "%s", r->def);
      return buf;
    }
    case KIND_REAL: {
      double v = load_real(e, r);
      if (v != r->def_real)
        snprintf(buf, size, "%g", v);
      else
        snprintf(buf, size, "%s", r->def);
      return buf;
    }
    case KIND_STRING: {
      const char *s = load_string(e, r);
      return s != NULL ? s : r->def;
    }
    case KIND_SIZE: {
      const char *s = load_string(e, r);
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
    value[i] = value_text(&env, &rows[i], buf[i], sizeof buf[i]);
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

/* ---- a cluster's settings: field, else environment, else default -------------- */

const char *dtxi_var_name(dtxi_var v) { return (unsigned)v < N_ROWS ? rows[v].name : NULL; }
const char *dtxi_var_field(dtxi_var v) { return (unsigned)v < N_ROWS ? rows[v].field : NULL; }

static size_t field_bytes(const row *r) {
  switch (r->kind) {
    case KIND_ENUM:
    case KIND_INT:
      return sizeof(int);
    case KIND_REAL:
      return sizeof(double);
    case KIND_STRING:
    case KIND_SIZE:
      break;
  }
  return sizeof(const char *);
}

/* "DTX_P2P_AUTO, DTX_P2P_NCCL, DTX_P2P_PEER" */
static void cname_list(const word *w, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = '\0';
  for (const word *p = w; p->text != NULL && n < size; p++)
    n += (size_t)snprintf(buf + n, size - n, "%s%s", p == w ? "" : ", ", p->cname);
}

/* DTX_EINVAL for row r's field set to a value it does not accept; `shown`
 * is that value as text. The message names the field, what it accepts, and
 * what leaving it unset means. */
static dtx_status bad_field(const char *who, const row *r, const char *shown) {
  char allowed[160];
  switch (r->kind) {
    case KIND_ENUM:
      cname_list(r->words, allowed, sizeof allowed);
      return dtxi_fail(DTX_EINVAL, "%s: config %s %s is not one of %s (0: %s, else %s)", who, r->field, shown,
                       allowed, r->name, r->def);
    case KIND_INT:
      return dtxi_fail(DTX_EINVAL, "%s: config %s %s is not in %ld..%ld (%d: %s, else %s)", who, r->field,
                       shown, r->min, r->max, r->unset, r->name, r->def);
    case KIND_REAL:
      return dtxi_fail(DTX_EINVAL, "%s: config %s %s is not a number in %g..%g (-1: %s, else %s)", who,
                       r->field, shown, r->rmin, r->rmax, r->name, r->def);
    case KIND_STRING:
      return dtxi_fail(DTX_EINVAL, "%s: config %s \"%s\" is empty; give a path, or NULL for %s, else %s", who,
                       r->field, shown, r->name, r->def);
    case KIND_SIZE:
      return dtxi_fail(DTX_EINVAL,
                       "%s: config %s \"%s\" is not a size above 0 (such as 12GiB, 512M, 1000000 or 80%%)%s "
                       "(NULL: %s, else %s)",
                       who, r->field, shown, r->none_ok ? " nor none" : "", r->name, r->def);
  }
  return DTX_EINVAL;
}

/* Row i from cfg's field (the caller checked that it lies within cfg->size).
 * Returns DTX_OK with *taken 0 when the field is unset, DTX_OK with *taken 1
 * when its value is stored in out, DTX_EINVAL for a value it does not accept. */
static dtx_status from_field(const char *who, size_t i, const dtx_cluster_config *cfg, dtxi_settings *out,
                             int *taken) {
  const row *r = &rows[i];
  const char *at = (const char *)cfg + r->cfg_offset;
  char shown[SHOWN_MAX];
  int v;
  double d;
  const char *s;
  *taken = 0;
  switch (r->kind) {
    case KIND_ENUM:
    case KIND_INT:
      memcpy(&v, at, sizeof v);
      if (v == (r->kind == KIND_ENUM ? 0 : r->unset)) return DTX_OK;
      snprintf(shown, sizeof shown, "%d", v);
      if (r->kind == KIND_ENUM ? word_name(r->words, v) == NULL : (v < r->min || v > r->max))
        return bad_field(who, r, shown);
      store_int(&out->v, r, v);
      break;
    case KIND_REAL:
      memcpy(&d, at, sizeof d);
      if (d == -1.0) return DTX_OK;
      snprintf(shown, sizeof shown, "%g", d);
      if (!isfinite(d) || d < r->rmin || d > r->rmax) return bad_field(who, r, shown);
      store_real(&out->v, r, d);
      break;
    case KIND_STRING:
    case KIND_SIZE:
      memcpy(&s, at, sizeof s);
      if (s == NULL) return DTX_OK;
      show_value(s, shown, sizeof shown);
      if (r->kind == KIND_STRING && s[0] == '\0' && !r->field_empty_ok) return bad_field(who, r, shown);
      if (r->kind == KIND_SIZE && !(r->none_ok && strcasecmp(s, "none") == 0) && !size_ok(s))
        return bad_field(who, r, shown);
      if (r->kind == KIND_SIZE && strcasecmp(s, "none") == 0)
        s = NULL;
      else if (s[0] == '\0')
        s = r->def_text != NULL ? r->def_text() : NULL; /* "" means the default */
      if (s != NULL && (out->owned[i] = strdup(s)) == NULL)
        return dtxi_fail(DTX_ENOMEM, "%s: out of memory", who);
      store_string(&out->v, r, out->owned[i]);
      break;
  }
  *taken = 1;
  return DTX_OK;
}

/* Row i from the environment as read (e), which says whether it was set. */
static dtx_status from_env(const char *who, size_t i, const dtxi_env *e, dtxi_settings *out) {
  const row *r = &rows[i];
  if (r->kind == KIND_STRING || r->kind == KIND_SIZE) {
    const char *s = load_string(e, r);
    if (s != NULL && (out->owned[i] = strdup(s)) == NULL)
      return dtxi_fail(DTX_ENOMEM, "%s: out of memory", who);
    store_string(&out->v, r, out->owned[i]);
  } else {
    memcpy((char *)&out->v + r->offset, (const char *)e + r->offset, field_bytes(r));
  }
  out->from[i] = e->given[i] ? DTXI_FROM_ENV : DTXI_FROM_DEFAULT;
  return DTX_OK;
}

dtx_status dtxi_settings_resolve(const dtx_cluster_config *cfg, const char *who, dtxi_settings *out) {
  const dtxi_env *e = dtxi_env_get();
  if (cfg != NULL && (cfg->size < sizeof(size_t) || cfg->size > sizeof *cfg))
    return dtxi_fail(DTX_EINVAL,
                     "%s: config size %zu is not valid; initialise it with DTX_CLUSTER_CONFIG_INIT", who,
                     cfg->size);
  memset(out, 0, sizeof *out);
  dtx_status rc = DTX_OK;
  for (size_t i = 0; i < N_ROWS && rc == DTX_OK; i++) {
    int taken = 0;
    /* A field past the caller's size (an older struct) reads as unset. */
    if (cfg != NULL && rows[i].cfg_offset + field_bytes(&rows[i]) <= cfg->size)
      rc = from_field(who, i, cfg, out, &taken);
    if (rc == DTX_OK && taken)
      out->from[i] = DTXI_FROM_FIELD;
    else if (rc == DTX_OK)
      rc = from_env(who, i, e, out);
  }
  if (rc == DTX_OK && (out->owned[N_ROWS] = strdup(e->tmp_dir)) == NULL)
    rc = dtxi_fail(DTX_ENOMEM, "%s: out of memory", who);
  if (rc != DTX_OK) {
    dtxi_settings_free(out);
    return rc;
  }
  out->v.tmp_dir = out->owned[N_ROWS];
  if (out->v.num_threads == 0) out->v.num_threads = dtxi_num_cores(); /* stored resolved */
  memset(out->v.given, 0, sizeof out->v.given);
  out->v.scheduler_given = out->from[DTXI_VAR_SCHEDULER] != DTXI_FROM_DEFAULT;
  return DTX_OK;
}

void dtxi_settings_free(dtxi_settings *s) {
  if (s == NULL) return;
  for (size_t i = 0; i <= N_ROWS; i++) free(s->owned[i]);
  memset(s, 0, sizeof *s);
}

/*
 *   setting              value       from
 *   scheduler            threads     default
 *   gpu_window           16          env (DTX_GPU_WINDOW)
 */
void dtxi_settings_print(const dtxi_settings *s, FILE *out) {
  char buf[N_ROWS][64], from[N_ROWS][48];
  const char *value[N_ROWS];
  int wfield = (int)strlen("setting"), wvalue = (int)strlen("value");
  for (size_t i = 0; i < N_ROWS; i++) {
    const row *r = &rows[i];
    if (r->kind == KIND_INT && r->def_now != NULL && s->from[i] == DTXI_FROM_DEFAULT)
      snprintf(buf[i], sizeof buf[i], "%d (%s)", load_int(&s->v, r), r->def); /* "8 (cores)" */
    else if (r->kind == KIND_INT)
      snprintf(buf[i], sizeof buf[i], "%d", load_int(&s->v, r));
    else if (r->kind == KIND_REAL)
      snprintf(buf[i], sizeof buf[i], "%g", load_real(&s->v, r));
    value[i] =
        r->kind == KIND_INT || r->kind == KIND_REAL ? buf[i] : value_text(&s->v, r, buf[i], sizeof buf[i]);
    if (s->from[i] == DTXI_FROM_ENV)
      snprintf(from[i], sizeof from[i], "env (%s)", r->name);
    else
      snprintf(from[i], sizeof from[i], "%s", s->from[i] == DTXI_FROM_FIELD ? "field" : "default");
    int f = (int)strlen(r->field), v = (int)strlen(value[i]);
    if (f > wfield) wfield = f;
    if (v > wvalue) wvalue = v;
  }
  fprintf(out, "%-*s  %-*s  %s\n", wfield, "setting", wvalue, "value", "from");
  for (size_t i = 0; i < N_ROWS; i++)
    fprintf(out, "%-*s  %-*s  %s\n", wfield, rows[i].field, wvalue, value[i], from[i]);
}
