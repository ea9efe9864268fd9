/*
 * runtime/cluster.c - the local cluster: settings, worker pool, memory, trace.
 *
 * Owns: the resolved settings, the worker pool, the memory accounting, the
 * trace file. Created and destroyed by one thread; everything else on it may
 * be called from any thread. Every setting resolves once, here at creation:
 * the config field if set, else the DTX_* environment variable, else the
 * default (dtxi_settings_resolve); the layers below get the values as
 * arguments and never read the environment. The one variable read here
 * besides is NVTX_INJECTION64_PATH (the NVTX tool's own, see below).
 */
#include "runtime/cluster.h"
#include "kernels/cpu_libs.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/config.h"
#include "base/error.h"
#include "device/backend.h"
#include "device/device.h"
#include "dtx/version.h"
#include "scheduler/gpu.h"
#include "scheduler/task.h"

/* Resolves every setting into cl->set and hands the scheduler its part. The
 * log is the process's: a log field set in the config reconfigures it, as
 * DTX_LOG and DTX_LOG_FILE did when the environment was read. */
static dtx_status resolve(dtx_cluster *cl, const dtx_cluster_config *cfg) {
  dtx_status rc = dtxi_settings_resolve(cfg, "dtx_cluster_create", &cl->set);
  if (rc != DTX_OK) return rc;
  const dtxi_env *v = &cl->set.v;
  if (cl->set.from[DTXI_VAR_LOG] == DTXI_FROM_FIELD || cl->set.from[DTXI_VAR_LOG_FILE] == DTXI_FROM_FIELD)
    dtxi_log_configure(v->log_level, v->log_file);
  cl->s.scheduler = v->scheduler;
  cl->s.nthreads = v->num_threads;
  cl->s.report_path = v->report_path;
  cl->s.progress = v->progress;
  return DTX_OK;
}

/* Opens the GPUs the gpus setting names; none found is not an error. */
static dtx_status open_gpus(dtx_cluster *cl) {
  const dtxi_env *v = &cl->set.v;
  dtxi_sim_config sim = {0, 0, v->sim_bandwidth, v->sim_bandwidth, 0};
  dtxi_backend *b = NULL;
  dtx_status rc = dtxi_backend_open(v->gpus, &sim, &b, cl->gpu_why, sizeof cl->gpu_why);
  if (rc == DTX_EINVAL && cl->set.from[DTXI_VAR_GPUS] == DTXI_FROM_FIELD) {
    char why[512];
    snprintf(why, sizeof why, "%s", dtx_last_error());
    return dtxi_fail(rc, "dtx_cluster_create: config gpus is not valid: %s", why);
  }
  if (rc != DTX_OK || b == NULL) return rc;
  cl->backend = b;
  for (int i = 0; i < b->ndev; i++)
    cl->gpu_limits[i] = dtxi_env_limit_bytes(v->device_memory_limit, b->info[i].total_memory);
  rc = dtxi_links_measure(b, &cl->s.links);
  if (rc != DTX_OK) DTXI_LOG(DTX_LOG_INFO, "link measurement incomplete: %s", dtx_last_error());
  dtxi_gpu_settings gs = {v->streams_per_gpu, v->gpu_window, v->p2p};
  return dtxi_gpus_start(cl, b, &gs, cl->gpu_limits, &cl->s.gpus);
}

/* The trace (trace_path), or a temporary one for the reports (report_path). */
static dtx_status open_trace(dtx_cluster *cl) {
  const dtxi_env *v = &cl->set.v;
  if (v->trace_path == NULL && v->report_path == NULL) return DTX_OK;
  dtx_status rc = v->trace_path != NULL ? dtxi_trace_open(v->trace_path, &cl->s.trace)
                                        : dtxi_trace_open_temp(v->tmp_dir, &cl->s.trace);
  if (rc != DTX_OK) return rc;
  dtxi_trace_set_max_events(cl->s.trace, (uint64_t)v->trace_max_events);
  for (int i = 0; i < cl->s.nthreads; i++) {
    char name[32];
    snprintf(name, sizeof name, "worker %d", i);
    dtxi_trace_thread_name(cl->s.trace, 1, i + 1, name);
  }
  if (cl->s.mem->limit > 0) {
    /* Disk spills are marked on a track of their own. */
    dtxi_trace_thread_name(cl->s.trace, 1, DTXI_MEM_TRACE_TID, "host memory (spills to disk)");
    cl->s.mem->trace = cl->s.trace;
  }
  return DTX_OK;
}

dtx_status dtx_cluster_create(const dtx_cluster_config *cfg, dtx_cluster **out) {
  if (out == NULL) return dtxi_fail(DTX_EINVAL, "dtx_cluster_create: out is NULL");
  dtx_cluster *cl = calloc(1, sizeof *cl);
  if (cl == NULL) return dtxi_fail(DTX_ENOMEM, "dtx_cluster_create: out of memory");
  dtx_status rc;
  dtxi_sched_init(&cl->s);
  DTX_CHECK_GOTO(resolve(cl, cfg), rc, fail);
  const dtxi_env *v = &cl->set.v;
  cl->s.mem = dtxi_mem_create((int64_t)dtxi_env_limit_bytes(v->host_memory_limit, (size_t)dtxi_host_memory()),
                              v->spill_dir);
  if (cl->s.mem == NULL) {
    rc = dtxi_fail(DTX_ENOMEM, "dtx_cluster_create: out of memory");
    goto fail;
  }
  /* Freed large chunks kept for reuse: an eighth of the host limit, or of RAM. */
  dtxi_mem_set_cache(cl->s.mem,
                     (size_t)(cl->s.mem->limit > 0 ? cl->s.mem->limit : (int64_t)dtxi_host_memory()) / 8);
  DTX_CHECK_GOTO(open_trace(cl), rc, fail);
  /* NVTX_INJECTION64_PATH is the NVTX tool's variable (Nsight Systems sets
   * it), not a dtx setting: read once, here, like the settings. */
  cl->s.nvtx = cl->s.trace != NULL || getenv("NVTX_INJECTION64_PATH") != NULL;
  DTX_CHECK_GOTO(dtxi_pool_create(cl->s.nthreads, cl, &cl->s.pool), rc, fail);
  DTX_CHECK_GOTO(open_gpus(cl), rc, fail);
  /* The default local cluster uses its GPUs: with GPUs and no scheduler
   * asked for (config or DTX_SCHEDULER), computations run on `cluster`. */
  if (cl->s.gpus != NULL && cl->set.from[DTXI_VAR_SCHEDULER] == DTXI_FROM_DEFAULT)
    cl->s.scheduler = cl->set.v.scheduler = DTX_SCHED_CLUSTER;
  DTXI_LOG(DTX_LOG_INFO, "cluster up: scheduler %s, %d worker threads%s%s",
           dtx_scheduler_name(cl->s.scheduler), cl->s.nthreads, v->trace_path ? ", trace " : "",
           v->trace_path ? v->trace_path : "");
  *out = cl;
  return DTX_OK;
fail:
  dtx_cluster_destroy(cl);
  return rc;
}

void dtx_cluster_destroy(dtx_cluster *cl) {
  if (cl == NULL) return;
  if (cl->s.pool != NULL) {
    dtxi_futures_shutdown(cl);
    dtxi_pool_destroy(cl->s.pool);
  }
  dtxi_gpus_stop(cl->s.gpus);
  if (cl->backend != NULL) cl->backend->ops->destroy(cl->backend);
  dtxi_trace_close(cl->s.trace);
  dtxi_mem_release(cl->s.mem);
  dtxi_sched_fini(&cl->s);
  dtxi_settings_free(&cl->set);
  free(cl);
}

dtx_scheduler dtx_cluster_scheduler(const dtx_cluster *cl) {
  return cl != NULL ? cl->s.scheduler : DTX_SCHED_DEFAULT;
}
int dtx_cluster_num_threads(const dtx_cluster *cl) { return cl != NULL ? cl->s.nthreads : 0; }
dtxi_backend *dtxi_cluster_backend(const dtx_cluster *cl) { return cl != NULL ? cl->backend : NULL; }
dtxi_gpus *dtxi_cluster_gpus(const dtx_cluster *cl) { return cl != NULL ? cl->s.gpus : NULL; }
const dtxi_settings *dtxi_cluster_settings(const dtx_cluster *cl) { return cl != NULL ? &cl->set : NULL; }
int dtx_cluster_num_gpus(const dtx_cluster *cl) { return cl != NULL ? dtxi_gpus_count(cl->s.gpus) : 0; }

dtx_status dtx_cluster_get_stats(const dtx_cluster *cl, dtx_cluster_stats *out) {
  if (cl == NULL || out == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_cluster_get_stats: cluster or out is NULL");
  if (out->size < offsetof(dtx_cluster_stats, tasks_failed) + sizeof out->tasks_failed)
    return dtxi_fail(DTX_EINVAL, "dtx_cluster_get_stats: initialise out with DTX_CLUSTER_STATS_INIT");
  dtx_cluster *c = (dtx_cluster *)cl;
  int64_t ran = atomic_load(&c->s.caller_tasks_run), failed = atomic_load(&c->s.caller_tasks_failed);
  for (int i = 0; i < c->s.pool->n; i++) {
    ran += atomic_load_explicit(&c->s.pool->workers[i].tasks_run, memory_order_relaxed);
    failed += atomic_load_explicit(&c->s.pool->workers[i].tasks_failed, memory_order_relaxed);
  }
  out->bytes_in_use = dtxi_mem_used(c->s.mem);
  out->bytes_peak = atomic_load(&c->s.mem->peak);
  out->tasks_run = ran;
  out->tasks_failed = failed;
  if (out->size >= offsetof(dtx_cluster_stats, bytes_on_disk) + sizeof out->bytes_on_disk) {
    dtxi_mem_spill_stats sp;
    dtxi_mem_spill_stats_get(c->s.mem, &sp);
    out->host_limit = sp.limit;
    out->spills = sp.spills;
    out->bytes_spilled = sp.spilled_bytes;
    out->unspills = sp.unspills;
    out->bytes_unspilled = sp.unspilled_bytes;
    out->bytes_on_disk = sp.on_disk;
  }
  return DTX_OK;
}

dtx_status dtx_cluster_get_device_stats(const dtx_cluster *cl, int gpu, dtx_device_stats *out) {
  if (cl == NULL || out == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_cluster_get_device_stats: cluster or out is NULL");
  if (out->size < offsetof(dtx_device_stats, bytes_unspilled) + sizeof out->bytes_unspilled)
    return dtxi_fail(DTX_EINVAL, "dtx_cluster_get_device_stats: initialise out with DTX_DEVICE_STATS_INIT");
  int n = dtxi_gpus_count(cl->s.gpus);
  if (gpu < 0 || gpu >= n)
    return dtxi_fail(DTX_EINVAL,
                     "dtx_cluster_get_device_stats: gpu %d does not exist (the cluster has %d GPU%s)", gpu, n,
                     n == 1 ? "" : "s");
  dtxi_gpus_stats(cl->s.gpus, gpu, out);
  return DTX_OK;
}

void dtx_cluster_reset_peak(dtx_cluster *cl) {
  if (cl != NULL) atomic_store(&cl->s.mem->peak, dtxi_mem_used(cl->s.mem));
}

dtx_status dtx_cluster_flush_trace(dtx_cluster *cl) {
  if (cl == NULL) return dtxi_fail(DTX_EINVAL, "dtx_cluster_flush_trace: cluster is NULL");
  if (cl->s.trace != NULL) dtxi_trace_flush(cl->s.trace);
  return DTX_OK;
}

static void human_bytes(long long b, char *buf, size_t n) {
  const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)b;
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  snprintf(buf, n, "%.1f %s", v, unit[u]);
}

dtx_status dtx_cluster_report(const dtx_cluster *cl, FILE *out) {
  if (cl == NULL || out == NULL) return dtxi_fail(DTX_EINVAL, "dtx_cluster_report: cluster or out is NULL");
  char mem[32];
  human_bytes(dtxi_host_memory(), mem, sizeof mem);
  fprintf(out, "dtx %s local cluster\n", dtx_version());
  fprintf(out, "  scheduler     %s\n", dtx_scheduler_name(cl->s.scheduler));
  fprintf(out, "  workers       1 process, %d worker thread%s (%d cores)\n", cl->s.nthreads,
          cl->s.nthreads == 1 ? "" : "s", dtxi_num_cores());
  fprintf(out, "  host memory   %s\n", mem);
  const dtxi_backend *b = cl->backend;
  if (b == NULL)
    fprintf(out, "  GPUs          none (%s)\n", cl->gpu_why[0] ? cl->gpu_why : "none found");
  else
    dtxi_report_gpus(out, b, &cl->s.links, cl->set.v.streams_per_gpu, cl->gpu_limits);
  dtxk_cpu_libs_report(out);
  fprintf(out, "  trace         %s\n",
          cl->set.v.trace_path != NULL ? cl->set.v.trace_path : "off (set DTX_TRACE=path.json)");
  return DTX_OK;
}

dtx_status dtx_cluster_report_settings(const dtx_cluster *cl, FILE *out) {
  if (cl == NULL || out == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_cluster_report_settings: cluster or out is NULL");
  dtxi_settings_print(&cl->set, out);
  return DTX_OK;
}
