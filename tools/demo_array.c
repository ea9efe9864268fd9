/*
 * tools/demo_array.c - the chunked-array part of `dtx demo` (Part 3): a
 * random N x N array persisted in chunks, then (x + x.T).sum() checked
 * against 2 * x.sum(), a 5-point Laplacian stencil with periodic halos
 * (map_overlap) whose sum must vanish, and a column mean, each with the
 * number of tasks its graph has and the time it took. The random numbers
 * depend only on the seed and the element, so the printed values are the
 * same under any scheduler, thread count or GPU count.
 */
#define _POSIX_C_SOURCE 200809L

#include "demo_array.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int failed(const char *what) {
  fprintf(stderr, "dtx demo: %s: %s\n", what, dtx_last_error());
  return 1;
}

/* Tasks in the graph computing a (its chunks). */
static size_t graph_tasks(const dtx_array *a) {
  size_t n = 1;
  for (int d = 0; d < dtx_array_ndim(a); d++) n *= (size_t)dtx_array_numblocks(a, d);
  dtx_graph *g = NULL;
  dtx_task_id *ids = calloc(n, sizeof *ids);
  size_t tasks = 0;
  if (ids != NULL && dtx_graph_create(&g) == DTX_OK && dtx_array_graph(a, g, ids, n, NULL) == DTX_OK)
    tasks = dtx_graph_size(g);
  dtx_graph_destroy(g);
  free(ids);
  return tasks;
}

/* The Laplacian of one chunk with a halo of 1 (strides in elements). */
static int laplace(dtx_task_ctx *ctx, const dtx_block *in, int nin, dtx_block *out, const void *user) {
  (void)nin;
  (void)user;
  if (in[0].halo[0] != 1 || in[0].halo[1] != 1) return dtx_task_fail(ctx, "the stencil needs a halo of 1");
  int64_t w = in[0].stride[0], s = in[0].stride[1];
  const double *x = in[0].data;
  double *o = out->data;
  for (int64_t i = 0; i < out->shape[0]; i++)
    for (int64_t j = 0; j < out->shape[1]; j++) {
      const double *c = x + (i + 1) * w + (j + 1) * s;
      o[i * out->stride[0] + j * out->stride[1]] = c[-w] + c[w] + c[-s] + c[s] - 4 * c[0];
    }
  return 0;
}

int demo_arrays(dtx_cluster *cl, int small, uint64_t seed) {
  int64_t n = small ? 1024 : 4096, c = n / 4;
  int64_t shape[2] = {n, n}, chunks[2] = {c, c};
  int rc = 1;
  printf("\nPart 3 (chunked arrays): x = %" PRId64 " x %" PRId64
         " float64, uniform on [0, 1) from seed %" PRIu64 ", in %" PRId64 " x %" PRId64 " chunks\n\n",
         n, n, seed, c, c);
  dtx_array_scope_begin();
  dtx_array *x = NULL;
  double t0 = now_s();
  if (dtx_array_persist(dtx_random_uniform(cl, 2, shape, chunks, DTX_F64, seed), NULL, &x) != DTX_OK) {
    failed("persisting x");
    goto done;
  }
  printf("  %-22s %9.1f ms %10s  %zu MiB", "persist x", (now_s() - t0) * 1e3, "", dtx_array_nbytes(x) >> 20);
  if (dtx_cluster_num_gpus(cl) > 0 && dtx_cluster_scheduler(cl) == DTX_SCHED_CLUSTER) {
    /* the chunks stay on the GPUs, spread block-cyclically */
    printf(" kept on");
    for (int k = 0; k < dtx_cluster_num_gpus(cl); k++) {
      dtx_device_stats st = DTX_DEVICE_STATS_INIT;
      if (dtx_cluster_get_device_stats(cl, k, &st) == DTX_OK)
        printf("%s gpu%d %lld MiB", k ? "," : "", k, (long long)(st.bytes_persisted >> 20));
    }
    printf("\n");
  } else {
    printf(" in host memory\n");
  }

  /* (x + x.T).sum(), fused: one task per chunk reads x and x.T, then a tree of sums */
  dtx_array *ts = dtx_sum(dtx_add(x, dtx_transpose(x, NULL)), NULL, 0);
  double tsum, xsum;
  t0 = now_s();
  if (dtx_array_compute(ts, &tsum, sizeof tsum) != DTX_OK) {
    failed("(x + x.T).sum()");
    goto done;
  }
  double t_ts = now_s() - t0;
  if (dtx_array_compute(dtx_sum(x, NULL, 0), &xsum, sizeof xsum) != DTX_OK) {
    failed("x.sum()");
    goto done;
  }
  printf("  %-22s %9.1f ms %4zu tasks  %.6f (2 * x.sum() = %.6f)\n", "(x + x.T).sum()", t_ts * 1e3,
         graph_tasks(ts), tsum, 2 * xsum);
  if (fabs(tsum - 2 * xsum) > 1e-9 * fabs(tsum)) {
    fprintf(stderr, "dtx demo: (x + x.T).sum() = %.17g differs from 2 * x.sum() = %.17g\n", tsum, 2 * xsum);
    goto done;
  }

  /* the 5-point Laplacian, halos from the neighbouring chunks (periodic) */
  int64_t depth[2] = {1, 1};
  dtx_array *lap =
      dtx_map_overlap("laplace", laplace, NULL, x, depth, DTX_BOUNDARY_PERIODIC, 0, DTX_F64, NULL, 0);
  dtx_array *lsum = dtx_sum(lap, NULL, 0), *lmax = dtx_max(dtx_abs(lap), NULL, 0);
  double ls, lm;
  t0 = now_s();
  if (dtx_array_compute(lsum, &ls, sizeof ls) != DTX_OK ||
      dtx_array_compute(lmax, &lm, sizeof lm) != DTX_OK) {
    failed("the Laplacian stencil");
    goto done;
  }
  double t_lap = now_s() - t0;
  printf("  %-22s %9.1f ms %4zu tasks  sum %.2e, max |.| %.6f\n", "laplacian(x) (stencil)", t_lap * 1e3,
         graph_tasks(lsum) + graph_tasks(lmax), ls, lm);
  if (fabs(ls) > 1e-6 * (double)(n * n)) {
    fprintf(stderr, "dtx demo: the periodic Laplacian sums to %g, not 0\n", ls);
    goto done;
  }

  /* column means: x.mean(axis=0), about 0.5 each */
  dtx_array *cm = dtx_mean(x, (const int[]){0}, 1);
  double *means = malloc(dtx_array_nbytes(cm));
  t0 = now_s();
  if (means == NULL || dtx_array_compute(cm, means, dtx_array_nbytes(cm)) != DTX_OK) {
    free(means);
    failed("x.mean(axis=0)");
    goto done;
  }
  double lo = 1, hi = 0;
  for (int64_t j = 0; j < n; j++) {
    if (means[j] < lo) lo = means[j];
    if (means[j] > hi) hi = means[j];
  }
  free(means);
  printf("  %-22s %9.1f ms %4zu tasks  in [%.4f, %.4f]\n", "x.mean(axis=0)", (now_s() - t0) * 1e3,
         graph_tasks(cm), lo, hi);
  rc = 0;
done:
  dtx_array_scope_end();
  return rc;
}
