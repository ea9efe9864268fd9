/*
 * base/config.h - the one table of settings: each is a DTX_* environment
 * variable and a field of dtx_cluster_config.
 *
 * Each setting is one row in config.c (name, field, kind, default, range,
 * help). The environment is read once per process (and again on
 * dtxi_env_reload, used by tests); each bad value logs one warning naming the
 * variable, the value and the default used instead. A cluster resolves its
 * settings once, at creation (dtxi_settings_resolve: field, else environment,
 * else default), and passes the values down; nothing else reads dtxi_env_get.
 *
 * Strings in dtxi_env are the table's own copies: valid until the next
 * dtxi_env_reload. Sizes (memory limits) stay text ("80%", "12GiB") because a
 * percentage means something only against a device: resolve them with
 * dtxi_env_limit_bytes.
 */
#ifndef DTXI_CONFIG_H
#define DTXI_CONFIG_H

#include <stdio.h>

#include "base/host.h" /* dtxi_num_cores, dtxi_host_memory */
#include "base/size.h" /* dtxi_parse_size, dtxi_env_limit_bytes */
#include "dtx/cluster.h"

#ifdef __cplusplus
extern "C" {
#endif

/* DTX_TRACE_MAX_EVENTS when unset: about 1.5 GB of JSON, more than Perfetto's
 * web UI loads comfortably, well under what fills a disk. */
#define DTXI_TRACE_MAX_EVENTS_DEFAULT 10000000

/* The settings, in the order of the table in config.c: each is one DTX_*
 * variable and one field of dtx_cluster_config. */
typedef enum dtxi_var {
  DTXI_VAR_SCHEDULER,
  DTXI_VAR_NUM_THREADS,
  DTXI_VAR_LOG,
  DTXI_VAR_LOG_FILE,
  DTXI_VAR_TRACE,
  DTXI_VAR_TRACE_MAX_EVENTS,
  DTXI_VAR_REPORT,
  DTXI_VAR_PROGRESS,
  DTXI_VAR_GPUS,
  DTXI_VAR_STREAMS_PER_GPU,
  DTXI_VAR_GPU_WINDOW,
  DTXI_VAR_DEVICE_MEMORY_LIMIT,
  DTXI_VAR_HOST_MEMORY_LIMIT,
  DTXI_VAR_SPILL_DIR,
  DTXI_VAR_P2P,
  DTXI_VAR_SIM_BANDWIDTH,
  DTXI_NVARS
} dtxi_var;

typedef struct dtxi_env {
  dtx_scheduler scheduler; /* DTX_SCHEDULER; DTX_SCHED_THREADS when unset */
  int scheduler_given;     /* DTX_SCHEDULER was set to a valid value */
  int num_threads;         /* DTX_NUM_THREADS; 0 when unset (= cores) */
  dtx_log_level log_level; /* DTX_LOG; DTX_LOG_WARN when unset */
  const char *log_file;    /* DTX_LOG_FILE; NULL when unset */
  const char *trace_path;  /* DTX_TRACE; NULL when unset */
  int trace_max_events;    /* DTX_TRACE_MAX_EVENTS; 0 = no cap; DTXI_TRACE_MAX_EVENTS_DEFAULT when unset */
  const char *report_path; /* DTX_REPORT: HTML performance report path; NULL when unset */
  dtx_progress progress;   /* DTX_PROGRESS; DTX_PROGRESS_AUTO when unset */
  const char *gpus;        /* DTX_GPUS; "all" when unset; checked by dtxi_backend_open */
  int streams_per_gpu;     /* DTX_STREAMS_PER_GPU; 4 when unset */
  int gpu_window;          /* DTX_GPU_WINDOW: tasks enqueued ahead per GPU; 256 when unset */
  const char *device_memory_limit; /* DTX_DEVICE_MEMORY_LIMIT: size text; "80%" when unset, NULL = none */
  const char *host_memory_limit;   /* DTX_HOST_MEMORY_LIMIT: size text; NULL (none) when unset */
  const char *spill_dir;           /* DTX_SPILL_DIR; $TMPDIR, else /tmp, when unset */
  dtx_p2p p2p;                     /* DTX_P2P; DTX_P2P_AUTO when unset */
  double sim_bandwidth;            /* DTX_SIM_BANDWIDTH in GB/s; 0 (unthrottled) when unset */
  unsigned char given[DTXI_NVARS]; /* given[v]: variable v was set to a valid value */
  const char *tmp_dir;             /* not a DTX_* setting: $TMPDIR when set and not empty, else /tmp */
} dtxi_env;

/* The environment as read (once) by this process. Never NULL. */
const dtxi_env *dtxi_env_get(void);
/* Reads the environment again (tests). Not thread safe against dtxi_env_get. */
void dtxi_env_reload(void);
/* Prints the table: name, current value, default, help. */
void dtxi_env_print(FILE *out);

/* Where a resolved setting came from. */
typedef enum dtxi_from {
  DTXI_FROM_DEFAULT = 0,
  DTXI_FROM_ENV = 1,   /* its DTX_* variable */
  DTXI_FROM_FIELD = 2, /* its field of dtx_cluster_config */
} dtxi_from;

/* A cluster's settings, resolved once at its creation (runtime/cluster.c).
 * Owns the strings in v (and tmp_dir): they live until dtxi_settings_free. */
typedef struct dtxi_settings {
  dtxi_env v;                 /* the values; v.given is all zero (see from) */
  dtxi_from from[DTXI_NVARS]; /* where each value came from */
  char *owned[DTXI_NVARS + 1];
} dtxi_settings;

/* Resolves every setting: cfg's field when cfg is not NULL, the field lies
 * within cfg->size and is set (not its unset value), else the environment as
 * dtxi_env_get read it, else the default. A field out of range is DTX_EINVAL
 * with a message that starts "<who>: config <field>" and says what the field
 * accepts; so is a cfg->size that no version of the struct had. On failure
 * *out holds nothing to free. */
dtx_status dtxi_settings_resolve(const dtx_cluster_config *cfg, const char *who, dtxi_settings *out);
/* Frees the strings of s (a zeroed or resolved s). */
void dtxi_settings_free(dtxi_settings *s);
/* Prints one line per setting, columns aligned: its config field, its value,
 * and where it came from: "field", "env (DTX_...)" or "default". */
void dtxi_settings_print(const dtxi_settings *s, FILE *out);
/* The variable's name ("DTX_GPU_WINDOW") and its field's ("gpu_window"). */
const char *dtxi_var_name(dtxi_var v);
const char *dtxi_var_field(dtxi_var v);

/* Parses a scheduler word ("sync", "threads"; case ignored) into *out.
 * Returns 0, or -1 for an unknown word (*out untouched). DTX_SCHEDULER and
 * the cluster config both use it, so they accept the same words. */
int dtxi_parse_scheduler(const char *s, dtx_scheduler *out);
/* Parses "none" | "error" | "warn" | "info" | "debug" (case ignored) into
 * *out. Returns 0, or -1 for an unknown word (*out untouched). */
int dtxi_parse_log_level(const char *s, dtx_log_level *out);
/* "none", "error", "warn", "info", "debug"; NULL for another value. */
const char *dtxi_log_level_name(dtx_log_level level);

#ifdef __cplusplus
}
#endif
#endif /* DTXI_CONFIG_H */
