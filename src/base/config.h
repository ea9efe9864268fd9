/*
 * base/config.h - the one table of DTX_* environment variables.
 *
 * Each variable is one row in config.c (name, kind, default, range, help).
 * The environment is read once per process (and again on dtxi_env_reload,
 * used by tests); each bad value logs one warning naming the variable, the
 * value and the default used instead.
 *
 * Strings in dtxi_env are the table's own copies: valid until the next
 * dtxi_env_reload. Sizes (memory limits) stay text ("80%", "12GiB") because a
 * percentage means something only against a device: resolve them with
 * dtxi_env_limit_bytes.
 */
#ifndef DTXI_CONFIG_H
#define DTXI_CONFIG_H

#include <stdio.h>

#include "dtx/cluster.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a chunk moves between two GPUs (DTX_P2P). */
typedef enum dtxi_p2p {
  DTXI_P2P_AUTO = 0, /* whichever the measured bandwidth favours */
  DTXI_P2P_NCCL = 1,
  DTXI_P2P_PEER = 2, /* CUDA peer copies */
} dtxi_p2p;

/* Whether computations draw a progress bar (DTX_PROGRESS). */
typedef enum dtxi_progress_mode {
  DTXI_PROGRESS_AUTO = -1, /* when stderr is a terminal */
  DTXI_PROGRESS_OFF = 0,
  DTXI_PROGRESS_ON = 1,
} dtxi_progress_mode;

/* DTX_TRACE_MAX_EVENTS when unset: about 1.5 GB of JSON, more than Perfetto's
 * web UI loads comfortably, well under what fills a disk. */
#define DTXI_TRACE_MAX_EVENTS_DEFAULT 10000000

typedef struct dtxi_env {
  dtx_scheduler scheduler;         /* DTX_SCHEDULER; DTX_SCHED_THREADS when unset */
  int scheduler_given;             /* DTX_SCHEDULER was set to a valid value */
  int num_threads;                 /* DTX_NUM_THREADS; 0 when unset (= cores) */
  dtx_log_level log_level;         /* DTX_LOG; DTX_LOG_WARN when unset */
  const char *log_file;            /* DTX_LOG_FILE; NULL when unset */
  const char *trace_path;          /* DTX_TRACE; NULL when unset */
  int trace_max_events;            /* DTX_TRACE_MAX_EVENTS; 0 = no cap; DTXI_TRACE_MAX_EVENTS_DEFAULT when unset */
  const char *report_path;         /* DTX_REPORT: HTML performance report path; NULL when unset */
  dtxi_progress_mode progress;     /* DTX_PROGRESS; DTXI_PROGRESS_AUTO when unset */
  const char *gpus;                /* DTX_GPUS; "all" when unset; checked by dtxi_backend_open */
  int streams_per_gpu;             /* DTX_STREAMS_PER_GPU; 4 when unset */
  int gpu_window;                  /* DTX_GPU_WINDOW: tasks enqueued ahead per GPU; 256 when unset */
  const char *device_memory_limit; /* DTX_DEVICE_MEMORY_LIMIT: size text; "80%" when unset, NULL = none */
  const char *host_memory_limit;   /* DTX_HOST_MEMORY_LIMIT: size text; NULL (none) when unset */
  const char *spill_dir;           /* DTX_SPILL_DIR; $TMPDIR, else /tmp, when unset */
  dtxi_p2p p2p;                    /* DTX_P2P; DTXI_P2P_AUTO when unset */
  double sim_bandwidth;            /* DTX_SIM_BANDWIDTH in GB/s; 0 (unthrottled) when unset */
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

/* Parses a size: a byte count with an optional suffix (K, M, G, T and KiB,
 * MiB, GiB, TiB are powers of 1024; B is bytes; KB, MB, GB, TB are powers of
 * 1000, as in Dask; case ignored; blanks allowed before the suffix; a decimal
 * fraction allowed, rounded down to whole bytes), or a percentage 0..100 of
 * `whole` ("80%", "12.5%"). Writes the byte count to *out and returns 0, or
 * returns -1 (*out untouched) for anything else: junk, a sign, a percentage
 * over 100, a count over LLONG_MAX, a negative whole with a percentage. */
int dtxi_parse_size(const char *s, long long whole, long long *out);
/* A memory limit in bytes from a size text of dtxi_env (see dtxi_parse_size)
 * against a memory of `whole` bytes. 0 means no limit: text NULL ("none"),
 * not a size, or a percentage of a memory of unknown size (whole 0). A limit
 * above `whole` is kept as given: the user may know better than the probe. */
size_t dtxi_env_limit_bytes(const char *text, size_t whole);

/* Number of online CPU cores (at least 1). */
int dtxi_num_cores(void);
/* Physical host memory in bytes (0 if unknown). */
long long dtxi_host_memory(void);

#ifdef __cplusplus
}
#endif
#endif /* DTXI_CONFIG_H */
