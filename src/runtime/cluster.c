/*
 * runtime/cluster.c - the local cluster: settings, worker pool, memory, trace.
 *
 * Owns: the resolved settings, the worker pool, the memory accounting, the
 * trace file. Created and destroyed by one thread; everything else on it may
 * be called from any thread. Settings resolve as: the config field if set,
 * else the DTX_* environment variable, else the default.
 */
#include "runtime/cluster.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtx/version.h"
#include "base/config.h"
#include "device/device.h"
#include "base/error.h"
#include "device/backend.h"
#include "scheduler/gpu.h"
#include "scheduler/task.h"

static dtx_status resolve(dtx_cluster *cl, const dtx_cluster_config *cfg) {
  const dtxi_env *env = dtxi_env_get();
  dtx_cluster_config c = DTX_CLUSTER_CONFIG_INIT;
  if (cfg != NULL) {
    if (cfg->size < sizeof(size_t) || cfg->size > sizeof c)
      return dtxi_fail(DTX_EINVAL,
                       "dtx_cluster_create: config size %zu is not valid; initialise it with DTX_CLUSTER_CONFIG_INIT",
                       cfg->size);
    memcpy(&c, cfg, cfg->size);
  }
  if (c.log_level != DTX_LOG_DEFAULT || c.log_file != NULL)
    dtxi_log_configure(c.log_level != DTX_LOG_DEFAULT ? c.log_level : env->log_level,
                       c.log_file != NULL ? c.log_file : env->log_file);
  if (c.scheduler != DTX_SCHED_DEFAULT && dtx_scheduler_name(c.scheduler) == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_cluster_create: config scheduler %d is not one of DTX_SCHED_SYNC, DTX_SCHED_THREADS",
                     (int)c.scheduler);
  cl->s.scheduler = c.scheduler != DTX_SCHED_DEFAULT ? c.scheduler : env->scheduler;
  cl->scheduler_given = c.scheduler != DTX_SCHED_DEFAULT;
  if (c.num_threads < 0 || c.num_threads > 1024)
    return dtxi_fail(DTX_EINVAL, "dtx_cluster_create: config num_threads %d is not in 1..1024 (0 = default)",
                     c.num_threads);
  cl->s.nthreads = c.num_threads > 0 ? c.num_threads : env->num_threads > 0 ? env->num_threads : dtxi_num_cores();
  const char *trace = c.trace_path != NULL ? c.trace_path : env->trace_path;
  if (trace != NULL && trace[0] != '\0') {
    cl->trace_path = strdup(trace);
    if (cl->trace_path == NULL) return dtxi_fail(DTX_ENOMEM, "dtx_cluster_create: out of memory");
  }
  const char *report = c.size >= offsetof(dtx_cluster_config, report_path) + sizeof c.report_path ? c.report_path : NULL;
  if (report == NULL) report = env->report_path;
  if (report != NULL && report[0] != '\0' && (cl->s.report_path = strdup(report)) == NULL)
    return dtxi_fail(DTX_ENOMEM, "dtx_cluster_create: out of memory");
  return DTX_OK;
}

/* Opens the GPUs DTX_GPUS (or cfg->gpus) names; none found is not an error. */
static dtx_status open_gpus(dtx_cluster *cl, const dtx_cluster_config *cfg) {
  const dtxi_env *env = dtxi_env_get();
  const char *spec = cfg != NULL && cfg->size >= offsetof(dtx_cluster_config, gpus) + sizeof cfg->gpus ? cfg->gpus : NULL;
  if (spec == NULL) spec = env->gpus;
  dtxi_sim_config sim = {0, 0, env->sim_bandwidth, env->sim_bandwidth, 0};
  dtxi_backend *b = NULL;
  dtx_status rc = dtxi_backend_open(spec, &sim, &b, cl->gpu_why, sizeof cl->gpu_why);
  if (rc != DTX_OK || b == NULL) return rc;
  cl->backend = b;
  cl->streams_per_gpu = env->streams_per_gpu > 0 ? env->streams_per_gpu : 4;
  for (int i = 0; i < b->ndev; i++)
    cl->gpu_limits[i] = dtxi_env_limit_bytes(env->device_memory_limit, b->info[i].total_memory);
  rc = dtxi_links_measure(b, &cl->s.links);
  if (rc != DTX_OK) DTXI_LOG(DTX_LOG_INFO, "link measurement incomplete: %s", dtx_last_error());
  return dtxi_gpus_start(cl, b, cl->streams_per_gpu, cl->gpu_limits, &cl->s.gpus);
}

dtx_status dtx_cluster_create(const dtx_cluster_config *cfg, dtx_cluster **out) {
  if (out == NULL) return dtxi_fail(DTX_EINVAL, "dtx_cluster_create: out is NULL");
  dtx_cluster *cl = calloc(1, sizeof *cl);
  if (cl == NULL) return dtxi_fail(DTX_ENOMEM, "dtx_cluster_create: out of memory");
  dtx_status rc;
  dtxi_sched_init(&cl->s);
  DTX_CHECK_GOTO(resolve(cl, cfg), rc, fail);
  cl->s.mem = dtxi_mem_create();
  if (cl->s.mem == NULL) {
    rc = dtxi_fail(DTX_ENOMEM, "dtx_cluster_create: out of memory");
    goto fail;
  }
  if (cl->trace_path != NULL || cl->s.report_path != NULL) {
    DTX_CHECK_GOTO(cl->trace_path != NULL ? dtxi_trace_open(cl->trace_path, &cl->s.trace) : dtxi_trace_open_temp(&cl->s.trace),
                   rc, fail);
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
  }
  cl->s.nvtx = cl->s.trace != NULL || getenv("NVTX_INJECTION64_PATH") != NULL;
  DTX_CHECK_GOTO(dtxi_pool_create(cl->s.nthreads, cl, &cl->s.pool), rc, fail);
  DTX_CHECK_GOTO(open_gpus(cl, cfg), rc, fail);
  /* The default local cluster uses its GPUs: with GPUs and no scheduler
   * asked for (config or DTX_SCHEDULER), computations run on `cluster`. */
  if (cl->s.gpus != NULL && !cl->scheduler_given && !dtxi_env_get()->scheduler_given)
    cl->s.scheduler = DTX_SCHED_CLUSTER;
  DTXI_LOG(DTX_LOG_INFO, "cluster up: scheduler %s, %d worker threads%s%s", dtx_scheduler_name(cl->s.scheduler),
           cl->s.nthreads, cl->trace_path ? ", trace " : "", cl->trace_path ? cl->trace_path : "");
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
  free(cl->trace_path);
  free(cl->s.report_path);
  dtxi_sched_fini(&cl->s);
  free(cl);
}

dtx_scheduler dtx_cluster_scheduler(const dtx_cluster *cl) { return cl != NULL ? cl->s.scheduler : DTX_SCHED_DEFAULT; }
int dtx_cluster_num_threads(const dtx_cluster *cl) { return cl != NULL ? cl->s.nthreads : 0; }
dtxi_backend *dtxi_cluster_backend(const dtx_cluster *cl) { return cl != NULL ? cl->backend : NULL; }
dtxi_gpus *dtxi_cluster_gpus(const dtx_cluster *cl) { return cl != NULL ? cl->s.gpus : NULL; }
int dtx_cluster_num_gpus(const dtx_cluster *cl) { return cl != NULL ? dtxi_gpus_count(cl->s.gpus) : 0; }

dtx_status dtx_cluster_get_stats(const dtx_cluster *cl, dtx_cluster_stats *out) {
  if (cl == NULL || out == NULL) return dtxi_fail(DTX_EINVAL, "dtx_cluster_get_stats: cluster or out is NULL");
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
  if (cl == NULL || out == NULL) return dtxi_fail(DTX_EINVAL, "dtx_cluster_get_device_stats: cluster or out is NULL");
  if (out->size < offsetof(dtx_device_stats, bytes_unspilled) + sizeof out->bytes_unspilled)
    return dtxi_fail(DTX_EINVAL, "dtx_cluster_get_device_stats: initialise out with DTX_DEVICE_STATS_INIT");
  int n = dtxi_gpus_count(cl->s.gpus);
  if (gpu < 0 || gpu >= n)
    return dtxi_fail(DTX_EINVAL, "dtx_cluster_get_device_stats: gpu %d does not exist (the cluster has %d GPU%s)", gpu,
                     n, n == 1 ? "" : "s");
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
  fprintf(out, "  workers       1 process, %d worker thread%s (%d cores)\n", cl->s.nthreads, cl->s.nthreads == 1 ? "" : "s",
          dtxi_num_cores());
  fprintf(out, "  host memory   %s\n", mem);
  const dtxi_backend *b = cl->backend;
  if (b == NULL)
    fprintf(out, "  GPUs          none (%s)\n", cl->gpu_why[0] ? cl->gpu_why : "none found");
  else
    dtxi_report_gpus(out, b, &cl->s.links, cl->streams_per_gpu, cl->gpu_limits);
  fprintf(out, "  trace         %s\n", cl->trace_path != NULL ? cl->trace_path : "off (set DTX_TRACE=path.json)");
  return DTX_OK;
}
