/*
 * base/config.c - the one table of settings: each is a DTX_* environment
 * variable and a field of dtx_cluster_config.
 *
 * Every setting is one row of `dtxi_rows` below (types in config_table.h):
 * name, kind (enum word, integer in a range, real number in a range, string,
 * size), default, range or allowed words, help, where its value goes in
 * dtxi_env, and its config field. Reading the environment, range checks,
 * warnings and the printed table (dtxi_env_print) live here; resolving a
 * cluster's settings (field, else environment, else default) and printing
 * them lives in settings.c; all of it comes from the table, so adding a
 * setting is adding a row, a dtxi_var, a dtxi_env field and a
 * dtx_cluster_config field at its end.
 *
 * Owns the process's dtxi_env (`env`) and the copies of its strings (`owned`).
 * The environment is read once, on the first dtxi_env_get from any thread
 * (pthread_once), and then only read; dtxi_env_reload (tests) re-reads it and
 * must not race with other users. Reading applies DTX_LOG and DTX_LOG_FILE
 * with dtxi_log_configure before it warns about any bad value, so warnings go
 * where the user asked and DTX_LOG=none silences them. Each bad value gives
 * exactly one warning, and its field gets the default.
 *
 * Sizes (DTXI_KIND_SIZE: memory limits) are checked with dtxi_parse_size and
 * kept as text, since "80%" means a different byte count on each device;
 * dtxi_env_limit_bytes turns the text into bytes against a given memory.
 */
#include "base/config_table.h"

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

static const dtxi_word scheduler_words[] = {
    {"sync", DTX_SCHED_SYNC, "DTX_SCHED_SYNC"},
    {"threads", DTX_SCHED_THREADS, "DTX_SCHED_THREADS"},
    {"cluster", DTX_SCHED_CLUSTER, "DTX_SCHED_CLUSTER"},
    {NULL, 0, NULL},
};

static const dtxi_word log_words[] = {
    {"none", DTX_LOG_NONE, "DTX_LOG_NONE"},    {"error", DTX_LOG_ERROR, "DTX_LOG_ERROR"},
    {"warn", DTX_LOG_WARN, "DTX_LOG_WARN"},    {"info", DTX_LOG_INFO, "DTX_LOG_INFO"},
    {"debug", DTX_LOG_DEBUG, "DTX_LOG_DEBUG"}, {NULL, 0, NULL},
};

static const dtxi_word p2p_words[] = {
    {"auto", DTX_P2P_AUTO, "DTX_P2P_AUTO"},
    {"nccl", DTX_P2P_NCCL, "DTX_P2P_NCCL"},
    {"peer", DTX_P2P_PEER, "DTX_P2P_PEER"},
    {NULL, 0, NULL},
};

static const dtxi_word progress_words[] = {
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
const dtxi_row dtxi_rows[DTXI_NVARS] = {
    [DTXI_VAR_SCHEDULER] = {.name = "DTX_SCHEDULER",
                            .kind = DTXI_KIND_ENUM,
                            .def = "threads",
                            .def_value = DTX_SCHED_THREADS,
                            .words = scheduler_words,
                            .help = "engine that runs computations",
                            .offset = offsetof(dtxi_env, scheduler),
                            .field = "scheduler",
                            .cfg_offset = offsetof(dtx_cluster_config, scheduler)},
    [DTXI_VAR_NUM_THREADS] = {.name = "DTX_NUM_THREADS",
                              .kind = DTXI_KIND_INT,
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
                      .kind = DTXI_KIND_ENUM,
                      .def = "warn",
                      .def_value = DTX_LOG_WARN,
                      .words = log_words,
                      .help = "log level",
                      .offset = offsetof(dtxi_env, log_level),
                      .field = "log_level",
                      .cfg_offset = offsetof(dtx_cluster_config, log_level)},
    [DTXI_VAR_LOG_FILE] = {.name = "DTX_LOG_FILE",
                           .kind = DTXI_KIND_STRING,
                           .def = "stderr",
                           .help = "append log lines to this file",
                           .offset = offsetof(dtxi_env, log_file),
                           .field = "log_file",
                           .cfg_offset = offsetof(dtx_cluster_config, log_file),
                           .field_empty_ok = 1},
    [DTXI_VAR_TRACE] = {.name = "DTX_TRACE",
                        .kind = DTXI_KIND_STRING,
                        .def = "none",
                        .help = "write a Chrome trace JSON (Perfetto) of computations to this path",
                        .offset = offsetof(dtxi_env, trace_path),
                        .field = "trace_path",
                        .cfg_offset = offsetof(dtx_cluster_config, trace_path),
                        .field_empty_ok = 1},
    [DTXI_VAR_TRACE_MAX_EVENTS] =
        {.name = "DTX_TRACE_MAX_EVENTS",
         .kind = DTXI_KIND_INT,
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
         .kind = DTXI_KIND_STRING,
         .def = "none",
         .help = "each computation writes an HTML performance report (task stream, summary) to this path",
         .offset = offsetof(dtxi_env, report_path),
         .field = "report_path",
         .cfg_offset = offsetof(dtx_cluster_config, report_path),
         .field_empty_ok = 1},
    [DTXI_VAR_PROGRESS] = {.name = "DTX_PROGRESS",
                           .kind = DTXI_KIND_ENUM,
                           .def = "auto",
                           .def_value = DTX_PROGRESS_AUTO,
                           .words = progress_words,
                           .help = "progress bar of computations on stderr (auto: when stderr is a terminal)",
                           .offset = offsetof(dtxi_env, progress),
                           .field = "progress",
                           .cfg_offset = offsetof(dtx_cluster_config, progress)},
    [DTXI_VAR_GPUS] = {.name = "DTX_GPUS",
                       .kind = DTXI_KIND_STRING,
                       .def = "all",
                       .help =
                           "GPUs to use: all, none, a list of indices such as 0,2, or sim:N simulated GPUs",
                       .offset = offsetof(dtxi_env, gpus),
                       .def_text = gpus_default,
                       .field = "gpus",
                       .cfg_offset = offsetof(dtx_cluster_config, gpus),
                       .field_empty_ok = 1},
    [DTXI_VAR_STREAMS_PER_GPU] = {.name = "DTX_STREAMS_PER_GPU",
                                  .kind = DTXI_KIND_INT,
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
                             .kind = DTXI_KIND_INT,
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
                                      .kind = DTXI_KIND_SIZE,
                                      .def = "80%",
                                      .help =
                                          "device memory per GPU before spilling to host (N% of the card)",
                                      .offset = offsetof(dtxi_env, device_memory_limit),
                                      .def_text = device_limit_default,
                                      .none_ok = 1,
                                      .field = "device_memory_limit",
                                      .cfg_offset = offsetof(dtx_cluster_config, device_memory_limit)},
    [DTXI_VAR_HOST_MEMORY_LIMIT] = {.name = "DTX_HOST_MEMORY_LIMIT",
                                    .kind = DTXI_KIND_SIZE,
                                    .def = "none",
                                    .help =
                                        "host memory for chunks before spilling to disk (N% of the host's)",
                                    .offset = offsetof(dtxi_env, host_memory_limit),
                                    .none_ok = 1,
                                    .field = "host_memory_limit",
                                    .cfg_offset = offsetof(dtx_cluster_config, host_memory_limit)},
    [DTXI_VAR_SPILL_DIR] = {.name = "DTX_SPILL_DIR",
                            .kind = DTXI_KIND_STRING,
                            .def = "$TMPDIR or /tmp",
                            .help = "directory for chunks spilled to disk",
                            .offset = offsetof(dtxi_env, spill_dir),
                            .def_text = spill_dir_default,
                            .field = "spill_dir",
                            .cfg_offset = offsetof(dtx_cluster_config, spill_dir)},
    [DTXI_VAR_P2P] = {.name = "DTX_P2P",
                      .kind = DTXI_KIND_ENUM,
                      .def = "auto",
                      .def_value = DTX_P2P_AUTO,
                      .words = p2p_words,
                      .help = "GPU-to-GPU transport (auto: by measured bandwidth)",
                      .offset = offsetof(dtxi_env, p2p),
                      .field = "p2p",
                      .cfg_offset = offsetof(dtx_cluster_config, p2p)},
    [DTXI_VAR_SIM_BANDWIDTH] = {.name = "DTX_SIM_BANDWIDTH",
                                .kind = DTXI_KIND_REAL,
                                .def = "0",
                                .def_real = 0.0,
                                .rmin = 0.0,
                                .rmax = 1e6,
                                .help = "GB/s of simulated links (0 = unthrottled)",
                                .offset = offsetof(dtxi_env, sim_bandwidth),
                                .field = "sim_bandwidth",
                                .cfg_offset = offsetof(dtx_cluster_config, sim_bandwidth)},
};

enum { N_ROWS = DTXI_NVARS, SHOWN_MAX = DTXI_SHOWN_MAX };

static pthread_once_t once = PTHREAD_ONCE_INIT;
static dtxi_env env;
static char *owned[N_ROWS + 1]; /* owned[i]: the copy row i's string points to, or NULL; [N_ROWS]: tmp_dir */
static unsigned generation;     /* how many times the environment has been read */

/* ---- words -------------------------------------------------------------- */

static int word_parse(const dtxi_word *w, const char *s, int *out) {
  if (s == NULL) return -1;
  for (; w->text != NULL; w++) {
    if (strcasecmp(w->text, s) == 0) {
      *out = w->value;
      return 0;
    }
  }
  return -1;
}

const char *dtxi_word_name(const dtxi_word *w, int value) {
  for (; w->text != NULL; w++)
    if (w->value == value) return w->text;
  return NULL;
}

/* "sync|threads" */
static void word_list(const dtxi_word *w, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = '\0';
  for (const dtxi_word *p = w; p->text != NULL && n < size; p++)
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

const char *dtx_scheduler_name(dtx_scheduler s) { return dtxi_word_name(scheduler_words, (int)s); }

const char *dtxi_log_level_name(dtx_log_level level) { return dtxi_word_name(log_words, (int)level); }

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

/* DTXI_KIND_SIZE: a size dtxi_parse_size accepts that is more than 0 bytes (checked
 * against the largest memory, so any percentage above 0% passes). */
int dtxi_size_ok(const char *s) {
  long long v;
  return dtxi_parse_size(s, LLONG_MAX, &v) == 0 && v > 0;
}

/* Stores the row's value for text s (NULL = unset) into e; a string value is
 * copied into *copy. Returns 0, or -1 for a bad value (the default is stored). */
static int read_row(const dtxi_row *r, const char *s, dtxi_env *e, char **copy) {
  int v = r->def_value;
  double d = r->def_real;
  const char *text = r->def_text != NULL ? r->def_text() : NULL; /* the default */
  int rc = 0;
  switch (r->kind) {
    case DTXI_KIND_ENUM:
      if (s != NULL && word_parse(r->words, s, &v) != 0) v = r->def_value, rc = -1;
      store_int(e, r, v);
      break;
    case DTXI_KIND_INT:
      if (s != NULL && parse_int(s, r->min, r->max, &v) != 0) v = r->def_value, rc = -1;
      store_int(e, r, v);
      break;
    case DTXI_KIND_REAL:
      if (s != NULL && parse_real(s, r->rmin, r->rmax, &d) != 0) d = r->def_real, rc = -1;
      store_real(e, r, d);
      break;
    case DTXI_KIND_STRING:
      if (s != NULL && s[0] == '\0') rc = -1;
      if (s != NULL && s[0] != '\0') text = s;
      *copy = text != NULL ? strdup(text) : NULL;
      store_string(e, r, *copy);
      break;
    case DTXI_KIND_SIZE:
      if (s != NULL && r->none_ok && strcasecmp(s, "none") == 0)
        text = NULL;
      else if (s != NULL && dtxi_size_ok(s))
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
void dtxi_show_value(const char *s, char *buf, size_t size) {
  size_t n = 0, limit = size - 4;
  for (; s[n] != '\0' && n < limit; n++) buf[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
  if (s[n] != '\0') {
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* s[n] starts the first byte left out */
    memcpy(buf + n, "...", 3);
    n += 3;
  }
  buf[n] = '\0';
}

static void warn_bad(const dtxi_row *r, const char *shown) {
  char allowed[128];
  switch (r->kind) {
    case DTXI_KIND_ENUM:
      word_list(r->words, allowed, sizeof allowed);
      DTXI_LOG(DTX_LOG_WARN, "%s=\"%s\" is not one of %s; using the default (%s)", r->name, shown, allowed,
               r->def);
      break;
    case DTXI_KIND_INT:
      DTXI_LOG(DTX_LOG_WARN, "%s=\"%s\" is not an integer in %ld..%ld; using the default (%s)", r->name,
               shown, r->min, r->max, r->def);
      break;
    case DTXI_KIND_REAL:
      DTXI_LOG(DTX_LOG_WARN, "%s=\"%s\" is not a number in %g..%g; using the default (%s)", r->name, shown,
               r->rmin, r->rmax, r->def);
      break;
    case DTXI_KIND_STRING:
      DTXI_LOG(DTX_LOG_WARN, "%s=\"%s\" is empty; using the default (%s)", r->name, shown, r->def);
      break;
    case DTXI_KIND_SIZE:
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
    const char *s = getenv(dtxi_rows[i].name);
    if (read_row(&dtxi_rows[i], s, &next, &copies[i]) != 0) {
      bad[i] = 1;
      dtxi_show_value(s, shown[i], sizeof shown[i]);
    } else if (s != NULL) {
      next.given[i] = 1;
    }
  }
  next.scheduler_given = next.given[DTXI_VAR_SCHEDULER];
  next.tmp_dir = copies[N_ROWS] = strdup(spill_dir_default());

  dtxi_log_configure(next.log_level, next.log_file);
  for (size_t i = 0; i < N_ROWS; i++)
    if (bad[i]) warn_bad(&dtxi_rows[i], shown[i]);

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
const char *dtxi_row_value_text(const dtxi_env *e, const dtxi_row *r, char *buf, size_t size) {
  switch (r->kind) {
    case DTXI_KIND_ENUM: {
      const char *w = dtxi_word_name(r->words, load_int(e, r));
      return w != NULL ? w : "?";
    }
    case DTXI_KIND_INT: {
      int v = load_int(e, r);
      if (v != r->def_value)
        snprintf(buf, size, "%d", v);
      else if (r->def_now != NULL)
        snprintf(buf, size, "%d (%s)", r->def_now(), r->def);
      else
        snprintf(buf, size, "%s", r->def);
      return buf;
    }
    case DTXI_KIND_REAL: {
      double v = load_real(e, r);
      if (v != r->def_real)
        snprintf(buf, size, "%g", v);
      else
        snprintf(buf, size, "%s", r->def);
      return buf;
    }
    case DTXI_KIND_STRING: {
      const char *s = load_string(e, r);
      return s != NULL ? s : r->def;
    }
    case DTXI_KIND_SIZE: {
      const char *s = load_string(e, r);
      return s != NULL ? s : "none";
    }
  }
  return "?";
}

static void help_text(const dtxi_row *r, char *buf, size_t size) {
  char allowed[128];
  switch (r->kind) {
    case DTXI_KIND_ENUM:
      word_list(r->words, allowed, sizeof allowed);
      snprintf(buf, size, "%s: %s", r->help, allowed);
      break;
    case DTXI_KIND_INT:
      snprintf(buf, size, "%s: %ld..%ld", r->help, r->min, r->max);
      break;
    case DTXI_KIND_REAL:
      snprintf(buf, size, "%s: %g..%g", r->help, r->rmin, r->rmax);
      break;
    case DTXI_KIND_STRING:
      snprintf(buf, size, "%s", r->help);
      break;
    case DTXI_KIND_SIZE:
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
    value[i] = dtxi_row_value_text(&env, &dtxi_rows[i], buf[i], sizeof buf[i]);
    int n = (int)strlen(dtxi_rows[i].name), v = (int)strlen(value[i]), d = (int)strlen(dtxi_rows[i].def);
    if (n > wname) wname = n;
    if (v > wvalue) wvalue = v;
    if (d > wdef) wdef = d;
  }
  fprintf(out, "%-*s  %-*s  %-*s  %s\n", wname, "variable", wvalue, "value", wdef, "default", "meaning");
  for (size_t i = 0; i < N_ROWS; i++) {
    char help[256];
    help_text(&dtxi_rows[i], help, sizeof help);
    fprintf(out, "%-*s  %-*s  %-*s  %s\n", wname, dtxi_rows[i].name, wvalue, value[i], wdef, dtxi_rows[i].def,
            help);
  }
}
