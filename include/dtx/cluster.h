/*
 * dtx/cluster.h - the local cluster: worker threads, schedulers, memory, trace.
 *
 * A dtx_cluster is Dask's LocalCluster and Client in one: it owns the worker
 * threads and the settings every computation on it uses. Create it with a
 * config (or NULL: environment variables, else defaults), submit graphs and
 * futures to it from any number of threads, destroy it when done.
 */
#ifndef DTX_CLUSTER_H
#define DTX_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dtx/export.h"
#include "dtx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dtx_cluster dtx_cluster;

/* Which engine runs a computation. DEFAULT means: the cluster's setting, which
 * is DTX_SCHEDULER, else `cluster` when the cluster has GPUs, else `threads`. */
typedef enum dtx_scheduler {
  DTX_SCHED_DEFAULT = 0,
  DTX_SCHED_SYNC = 1,    /* the calling thread, deterministic static order */
  DTX_SCHED_THREADS = 2, /* the cluster's CPU worker threads, work stealing */
  DTX_SCHED_CLUSTER = 3, /* CPU worker threads and every GPU (DTX_GPUS) */
} dtx_scheduler;

/* "sync", "threads", "cluster"; NULL for an unknown value. */
DTX_API const char *dtx_scheduler_name(dtx_scheduler s);

typedef enum dtx_log_level {
  DTX_LOG_DEFAULT = 0, /* DTX_LOG, else warn */
  DTX_LOG_NONE = 1,
  DTX_LOG_ERROR = 2,
  DTX_LOG_WARN = 3,
  DTX_LOG_INFO = 4,
  DTX_LOG_DEBUG = 5,
} dtx_log_level;

/* Whether computations draw a progress bar on stderr. */
typedef enum dtx_progress {
  DTX_PROGRESS_DEFAULT = 0, /* DTX_PROGRESS, else auto */
  DTX_PROGRESS_AUTO = 1,    /* when stderr is a terminal */
  DTX_PROGRESS_OFF = 2,
  DTX_PROGRESS_ON = 3,
} dtx_progress;

/* How a chunk moves between two GPUs. */
typedef enum dtx_p2p {
  DTX_P2P_DEFAULT = 0, /* DTX_P2P, else auto */
  DTX_P2P_AUTO = 1,    /* from the cheapest copy, by measured bandwidth */
  DTX_P2P_NCCL = 2,    /* from another GPU over NCCL (peer copies when NCCL is missing) */
  DTX_P2P_PEER = 3,    /* from another GPU by CUDA peer copy */
} dtx_p2p;

/*
 * Cluster settings: one field per DTX_* environment variable. Initialise with
 * DTX_CLUSTER_CONFIG_INIT, which leaves every field unset; an unset field
 * means "the environment variable, else the default". Each field says which
 * value is "unset" (0, NULL or -1: whichever is not a valid setting). The
 * cluster resolves every setting once, at dtx_cluster_create, and never reads
 * the environment afterwards; a field set to a value out of range makes
 * dtx_cluster_create fail with DTX_EINVAL naming the field.
 *
 * `size` versions the struct: fields are only ever appended, and fields past
 * a caller's `size` (a program built against an older header) read as unset.
 */
typedef struct dtx_cluster_config {
  size_t size;             /* sizeof(dtx_cluster_config), set by the INIT macro */
  dtx_scheduler scheduler; /* DTX_SCHEDULER: sync | threads | cluster; DTX_SCHED_DEFAULT: unset */
  int num_threads;         /* DTX_NUM_THREADS: worker threads, 1..1024; 0: unset (default: cores) */
  const char *trace_path;  /* DTX_TRACE: Chrome trace JSON written here; NULL: unset; "": no trace */
  dtx_log_level log_level; /* DTX_LOG: none | error | warn | info | debug; DTX_LOG_DEFAULT: unset.
                            * The log is the process's: setting it here changes it for all */
  const char *log_file;    /* DTX_LOG_FILE: log here instead of stderr; NULL: unset; "": stderr */
  const char *gpus;        /* DTX_GPUS: all | none | 0,2 | sim:N; NULL: unset (default all); "": all */
  const char *report_path; /* DTX_REPORT: each computation writes an HTML performance
                            * report (task stream, summary) here; NULL: unset; "": none */
  /* Appended after report_path (older programs' `size` ends before them). */
  int trace_max_events;            /* DTX_TRACE_MAX_EVENTS: events a trace file holds at most,
                                    * 0..2147483647, 0 = no cap; -1: unset (default 10000000) */
  dtx_progress progress;           /* DTX_PROGRESS; DTX_PROGRESS_DEFAULT: unset (default auto) */
  int streams_per_gpu;             /* DTX_STREAMS_PER_GPU: compute streams per GPU, 1..64;
                                    * 0: unset (default 4) */
  int gpu_window;                  /* DTX_GPU_WINDOW: GPU tasks enqueued behind unfinished inputs,
                                    * and roots in flight, per GPU, 0..100000, 0 = none;
                                    * -1: unset (default 256) */
  const char *device_memory_limit; /* DTX_DEVICE_MEMORY_LIMIT: per GPU, a size ("12GiB",
                                    * "500MB"), a percentage of the card ("80%") or "none";
                                    * NULL: unset (default 80%) */
  const char *host_memory_limit;   /* DTX_HOST_MEMORY_LIMIT: task outputs in host memory
                                    * before spilling to disk: a size, a percentage of RAM or
                                    * "none"; NULL: unset (default none) */
  const char *spill_dir;           /* DTX_SPILL_DIR: where spilled chunks go; NULL: unset
                                    * (default $TMPDIR, else /tmp) */
  dtx_p2p p2p;                     /* DTX_P2P; DTX_P2P_DEFAULT: unset (default auto) */
  double sim_bandwidth;            /* DTX_SIM_BANDWIDTH: GB/s of simulated GPU links, 0..1e6,
                                    * 0 = unthrottled; -1: unset (default 0) */
} dtx_cluster_config;

#define DTX_CLUSTER_CONFIG_INIT                                                                    \
  {                                                                                                \
    sizeof(dtx_cluster_config), DTX_SCHED_DEFAULT, 0, NULL, DTX_LOG_DEFAULT, NULL, NULL, NULL, -1, \
        DTX_PROGRESS_DEFAULT, 0, -1, NULL, NULL, NULL, DTX_P2P_DEFAULT, -1.0                       \
  }

/* Creates a cluster and starts its worker threads. cfg may be NULL. Writes *out
 * only on success. */
DTX_API dtx_status dtx_cluster_create(const dtx_cluster_config *cfg, dtx_cluster **out);

/* Waits for running futures, cancels pending ones, stops the workers, closes
 * the trace. Accepts NULL. Outstanding dtx_future and dtx_chunk handles stay
 * valid and must still be released. */
DTX_API void dtx_cluster_destroy(dtx_cluster *cl);

/* The cluster report (Dask's LocalCluster summary): scheduler, workers,
 * threads, host memory, GPUs, trace target. */
DTX_API dtx_status dtx_cluster_report(const dtx_cluster *cl, FILE *out);
/* Every setting of the cluster as resolved at creation, one line each: the
 * config field, its value, and where the value came from: `field` (the
 * config), `env (DTX_...)` or `default`. */
DTX_API dtx_status dtx_cluster_report_settings(const dtx_cluster *cl, FILE *out);

DTX_API dtx_scheduler dtx_cluster_scheduler(const dtx_cluster *cl);
/* GPUs the cluster drives (real or simulated); 0 when it runs on CPU only. */
DTX_API int dtx_cluster_num_gpus(const dtx_cluster *cl);
DTX_API int dtx_cluster_num_threads(const dtx_cluster *cl);

/* Counters kept by the runtime. */
typedef struct dtx_cluster_stats {
  size_t size;          /* sizeof(dtx_cluster_stats), set by the caller */
  int64_t bytes_in_use; /* task outputs held by the runtime now */
  int64_t bytes_peak;   /* high-water mark of bytes_in_use */
  int64_t tasks_run;    /* task executions, retries included */
  int64_t tasks_failed; /* executions that failed */
  /* Spilling past the host memory limit (DTX_HOST_MEMORY_LIMIT, DTX_SPILL_DIR). */
  int64_t host_limit; /* bytes; 0: none */
  int64_t spills;     /* task outputs written to disk to make room */
  int64_t bytes_spilled;
  int64_t unspills; /* spilled outputs read back */
  int64_t bytes_unspilled;
  int64_t bytes_on_disk; /* spilled now */
} dtx_cluster_stats;

#define DTX_CLUSTER_STATS_INIT \
  { sizeof(dtx_cluster_stats), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

DTX_API dtx_status dtx_cluster_get_stats(const dtx_cluster *cl, dtx_cluster_stats *out);
/* Sets bytes_peak back to bytes_in_use. */
DTX_API void dtx_cluster_reset_peak(dtx_cluster *cl);

/* Counters of one GPU (real or simulated) kept by the cluster scheduler. */
typedef struct dtx_device_stats {
  size_t size;          /* sizeof(dtx_device_stats), set by the caller */
  int64_t bytes_in_use; /* device memory held by dtx now: outputs kept on the
                         * device plus what jobs in flight reserved */
  int64_t bytes_peak;   /* high-water mark of bytes_in_use */
  int64_t bytes_limit;  /* DTX_DEVICE_MEMORY_LIMIT on this device; 0: none */
  int64_t spills;       /* outputs moved to host memory to make room */
  int64_t bytes_spilled;
  int64_t unspills; /* spilled outputs read back by GPU tasks */
  int64_t bytes_unspilled;
  /* Data moved to and from this device, and copies reused in place. */
  int64_t bytes_from_host; /* host -> this device */
  int64_t bytes_to_host;   /* this device -> host (outputs CPU tasks or the caller read) */
  int64_t bytes_peer;      /* another GPU -> this device by peer copy */
  int64_t bytes_nccl;      /* another GPU -> this device by NCCL (send/recv or broadcast) */
  int64_t copies_reused;   /* inputs read from a copy already on this device */
  int64_t broadcasts;      /* outputs of this device broadcast to several others */
  int64_t run_ahead;       /* tasks enqueued behind an input still running (DTX_GPU_WINDOW) */
  int64_t bytes_staged;    /* of bytes_from_host, moved through pinned staging buffers */
  int64_t bytes_persisted; /* of bytes_in_use, chunks of persisted arrays kept here
                            * between computations (dtx_array_persist); spilled
                            * ones are counted in spills and not here */
} dtx_device_stats;

#define DTX_DEVICE_STATS_INIT \
  { sizeof(dtx_device_stats), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/* The counters of GPU `gpu` (0 .. dtx_cluster_num_gpus - 1). */
DTX_API dtx_status dtx_cluster_get_device_stats(const dtx_cluster *cl, int gpu, dtx_device_stats *out);

/* Writes what the trace has buffered so far to its file (the file becomes
 * valid JSON only at dtx_cluster_destroy). No-op without a trace. */
DTX_API dtx_status dtx_cluster_flush_trace(dtx_cluster *cl);

#ifdef __cplusplus
}
#endif
#endif /* DTX_CLUSTER_H */
