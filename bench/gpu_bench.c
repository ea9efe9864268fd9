/*
 * bench/gpu_bench.c - cost per GPU task through the cluster scheduler
 * (issue 3 section 8, the part that runs without a GPU).
 *
 * Graphs of tiny tasks (8-byte output each) with a CUDA implementation run by
 * the cluster scheduler on simulated GPUs (DTX_GPUS=sim:N: each stream is a
 * host thread, the task's CPU implementation stands in for the CUDA one),
 * next to the same graphs with CPU-only tasks under the threads scheduler, in
 * the same run. Timed: graph build + dtx_compute + release. Prints µs per
 * task (median of R runs after a warm-up) and the ratio GPU path / CPU path.
 *
 *   dtx-bench-gpu [--tasks N] [--reps R] [--gpus 1,4] [--json]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtx/dtx.h"

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int tiny(dtx_task_ctx *ctx) {
  int64_t v = 1;
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) {
    const int64_t *p = dtx_task_input(ctx, i, NULL);
    if (p != NULL) v += *p;
  }
  int64_t *o = dtx_task_output(ctx, sizeof *o);
  if (o == NULL) return dtx_task_fail(ctx, "no memory");
  *o = v;
  return 0;
}

/* Stands for a CUDA implementation; simulated GPUs run `tiny` in its place. */
static int tiny_cuda(dtx_task_ctx *ctx) {
  return dtx_task_fail(ctx, "dtx-bench-gpu runs on simulated GPUs only");
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Builds and runs one graph; returns µs per task, or -1 on failure. */
/* ngpu > 0: GPU tasks, placed on the GPUs (round robin for wide, gpu 0 for
 * the chain), so that what is timed is the GPU path, not the choice of the
 * faster side that dual tasks get. */
static double run_case(dtx_cluster *cl, const char *kase, int n, int ngpu, dtx_scheduler s) {
  double t0 = now_us();
  dtx_graph *g = NULL;
  if (dtx_graph_create(&g) != DTX_OK) return -1;
  dtx_task_id prev = 0, sink = 0;
  dtx_task_id *ids = malloc((size_t)n * sizeof *ids);
  if (ids == NULL) return -1;
  int wide = strcmp(kase, "wide") == 0;
  for (int i = 0; i < n; i++) {
    dtx_task_desc d;
    memset(&d, 0, sizeof d);
    d.name = "t";
    d.nidx = 1;
    d.idx[0] = i;
    d.cpu = tiny;
    d.cuda = ngpu > 0 ? tiny_cuda : NULL;
    if (ngpu > 0) d.where = DTX_WHERE_GPU(wide ? i % ngpu : 0);
    if (!wide && i > 0) {
      d.inputs = &prev;
      d.ninputs = 1;
    }
    if (dtx_graph_add(g, &d, &ids[i]) != DTX_OK) return -1;
    prev = ids[i];
  }
  sink = prev;
  if (wide) {
    dtx_task_desc d;
    memset(&d, 0, sizeof d);
    d.name = "sink";
    d.cpu = tiny;
    d.inputs = ids;
    d.ninputs = n;
    if (dtx_graph_add(g, &d, &sink) != DTX_OK) return -1;
  }
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = s;
  dtx_chunk *c = NULL;
  dtx_status rc = dtx_compute(cl, g, &sink, 1, &c, &o);
  int64_t want = wide ? n + 1 : n;
  int ok = rc == DTX_OK && dtx_chunk_size(c) == 8 && *(const int64_t *)dtx_chunk_data(c) == want;
  if (!ok)
    fprintf(stderr, "dtx-bench-gpu: %s failed: %s\n", kase, rc != DTX_OK ? dtx_last_error() : "wrong result");
  dtx_chunk_release(c);
  dtx_graph_destroy(g);
  free(ids);
  double t1 = now_us();
  return ok ? (t1 - t0) / (wide ? n + 1 : n) : -1;
}

static double median_case(dtx_cluster *cl, const char *kase, int n, int ngpu, dtx_scheduler s, int reps) {
  double *v = malloc((size_t)reps * sizeof *v);
  if (v == NULL || run_case(cl, kase, n, ngpu, s) < 0) return -1; /* warm-up */
  for (int r = 0; r < reps; r++)
    if ((v[r] = run_case(cl, kase, n, ngpu, s)) < 0) return -1;
  qsort(v, (size_t)reps, sizeof *v, cmp);
  double m = v[reps / 2];
  free(v);
  return m;
}

int main(int argc, char **argv) {
  int n = 20000, reps = 5, json = 0;
  const char *gpus_list = "1,4";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--tasks") == 0 && i + 1 < argc) {
      n = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--gpus") == 0 && i + 1 < argc) {
      gpus_list = argv[++i];
    } else if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else {
      fprintf(stderr, "usage: dtx-bench-gpu [--tasks N] [--reps R] [--gpus 1,4] [--json]\n");
      return 2;
    }
  }
  if (n < 1 || reps < 1) {
    fprintf(stderr, "dtx-bench-gpu: --tasks and --reps must be at least 1\n");
    return 2;
  }
  /* The CPU reference: the same graphs, CPU-only tasks, threads scheduler. */
  dtx_cluster *cpu = NULL;
  dtx_cluster_config cc = DTX_CLUSTER_CONFIG_INIT;
  cc.gpus = "none";
  if (dtx_cluster_create(&cc, &cpu) != DTX_OK) {
    fprintf(stderr, "dtx-bench-gpu: %s\n", dtx_last_error());
    return 1;
  }
  const char *cases[2] = {"chain", "wide"};
  double cpu_us[2];
  for (int k = 0; k < 2; k++) cpu_us[k] = median_case(cpu, cases[k], n, 0, DTX_SCHED_THREADS, reps);
  int threads = dtx_cluster_num_threads(cpu);
  dtx_cluster_destroy(cpu);
  if (!json) {
    printf(
        "# dtx-bench-gpu: GPU tasks through the cluster scheduler on simulated GPUs vs CPU tasks on "
        "threads\n");
    const char *w = getenv("DTX_GPU_WINDOW");
    printf(
        "# %d tasks, median of %d runs after a warm-up; timed: build + compute + release; %d worker threads;"
        " DTX_GPU_WINDOW=%s\n",
        n, reps, threads, w != NULL ? w : "(default)");
    printf("%-6s %-22s %10s %10s %8s\n", "case", "path", "us/task", "cpu us", "ratio");
  }
  char list[64];
  snprintf(list, sizeof list, "%s", gpus_list);
  for (char *tok = strtok(list, ","); tok != NULL; tok = strtok(NULL, ",")) {
    int ng = atoi(tok);
    char spec[32];
    snprintf(spec, sizeof spec, "sim:%d", ng);
    dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
    cfg.scheduler = DTX_SCHED_CLUSTER;
    cfg.gpus = spec;
    dtx_cluster *cl = NULL;
    if (dtx_cluster_create(&cfg, &cl) != DTX_OK) {
      fprintf(stderr, "dtx-bench-gpu: %s: %s\n", spec, dtx_last_error());
      return 1;
    }
    for (int k = 0; k < 2; k++) {
      double us = median_case(cl, cases[k], n, ng, DTX_SCHED_CLUSTER, reps);
      if (us < 0) return 1;
      if (json)
        printf(
            "{\"case\":\"%s\",\"scheduler\":\"cluster\",\"gpus\":\"%s\",\"tasks\":%d,\"us_per_task\":%.4f,"
            "\"cpu_us_per_task\":%.4f}\n",
            cases[k], spec, n, us, cpu_us[k]);
      else
        printf("%-6s cluster, %-13s %10.3f %10.4f %7.1fx\n", cases[k], spec, us, cpu_us[k], us / cpu_us[k]);
    }
    dtx_cluster_destroy(cl);
  }
  return 0;
}
