/*
 * host/config.h - the one table of DTX_* environment variables.
 *
 * Each variable is one row in config.c (name, kind, default, range, help).
 * The environment is read once per process (and again on dtxi_env_reload,
 * used by tests); each bad value logs one warning naming the variable, the
 * value and the default used instead.
 */
#ifndef DTXI_CONFIG_H
#define DTXI_CONFIG_H

#include <stdio.h>

#include "dtx/cluster.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dtxi_env {
  dtx_scheduler scheduler; /* DTX_SCHEDULER; DTX_SCHED_THREADS when unset */
  int num_threads;         /* DTX_NUM_THREADS; 0 when unset (= cores) */
  dtx_log_level log_level; /* DTX_LOG; DTX_LOG_WARN when unset */
  const char *log_file;    /* DTX_LOG_FILE; NULL when unset */
  const char *trace_path;  /* DTX_TRACE; NULL when unset */
} dtxi_env;

/* The environment as read (once) by this process. Never NULL. */
const dtxi_env *dtxi_env_get(void);
/* Reads the environment again (tests). Not thread safe against dtxi_env_get. */
void dtxi_env_reload(void);
/* Prints the table: name, current value, default, help. */
void dtxi_env_print(FILE *out);

/* Parses a scheduler word ("sync", "threads"; case ignored) into *out.
 * Returns 0, or -1 for an unknown word (*out untouched). DTX_SCHEDULER and
 * the cluster config both use it, so they accept the same words. */
int dtxi_parse_scheduler(const char *s, dtx_scheduler *out);
/* Parses "none" | "error" | "warn" | "info" | "debug" (case ignored) into
 * *out. Returns 0, or -1 for an unknown word (*out untouched). */
int dtxi_parse_log_level(const char *s, dtx_log_level *out);
/* "none", "error", "warn", "info", "debug"; NULL for another value. */
const char *dtxi_log_level_name(dtx_log_level level);

/* Number of online CPU cores (at least 1). */
int dtxi_num_cores(void);
/* Physical host memory in bytes (0 if unknown). */
long long dtxi_host_memory(void);

#ifdef __cplusplus
}
#endif
#endif /* DTXI_CONFIG_H */
