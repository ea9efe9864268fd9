/*
 * tests/install/consumer.c - a program outside the dtx tree, built against an
 * installed dtx (CMake package and pkg-config, shared and static).
 *
 * It prints the library version, creates a cluster from the environment and
 * defaults, computes a three-task graph  load[0] = 40, load[1] = 2,
 * sum = load[0] + load[1]  and checks the answer. Exit status 0 on success.
 */
#include <dtx/dtx.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Outputs the int64 given as its argument. */
static int load(dtx_task_ctx *ctx) {
  size_t n = 0;
  const int64_t *v = dtx_task_args(ctx, &n);
  int64_t *out;
  if (v == NULL || n != sizeof *v) return dtx_task_fail(ctx, "expected one int64 argument, got %zu bytes", n);
  if ((out = dtx_task_output(ctx, sizeof *out)) == NULL) return dtx_task_fail(ctx, "out of memory");
  *out = *v;
  return 0;
}

/* Outputs the sum of its int64 inputs. */
static int sum(dtx_task_ctx *ctx) {
  int64_t total = 0, *out;
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) {
    size_t n = 0;
    const int64_t *x = dtx_task_input(ctx, i, &n);
    if (x == NULL || n != sizeof *x)
      return dtx_task_fail(ctx, "input %d: expected one int64, got %zu bytes", i, n);
    total += *x;
  }
  if ((out = dtx_task_output(ctx, sizeof *out)) == NULL) return dtx_task_fail(ctx, "out of memory");
  *out = total;
  return 0;
}

int main(void) {
  dtx_cluster *cl = NULL;
  dtx_graph *g = NULL;
  dtx_chunk *result = NULL;
  dtx_task_id ids[2], total_id;
  const int64_t values[2] = {40, 2};
  dtx_status rc;
  int ok = 0;

  printf("dtx %s (header %s)\n", dtx_version(), DTX_VERSION_STRING);
  if (strcmp(dtx_version(), DTX_VERSION_STRING) != 0) {
    fprintf(stderr, "consumer: library version %s does not match header %s\n", dtx_version(),
            DTX_VERSION_STRING);
    return 1;
  }
  if ((rc = dtx_cluster_create(NULL, &cl)) != DTX_OK) {
    fprintf(stderr, "consumer: dtx_cluster_create: %s: %s\n", dtx_status_name(rc), dtx_last_error());
    return 1;
  }
  if ((rc = dtx_graph_create(&g)) != DTX_OK) goto fail;
  for (int i = 0; i < 2; i++) {
    dtx_task_desc d;
    memset(&d, 0, sizeof d);
    d.name = "load";
    d.nidx = 1;
    d.idx[0] = i;
    d.args = &values[i];
    d.args_size = sizeof values[i];
    d.cpu = load;
    if ((rc = dtx_graph_add(g, &d, &ids[i])) != DTX_OK) goto fail;
  }
  {
    dtx_task_desc d;
    memset(&d, 0, sizeof d);
    d.name = "sum";
    d.inputs = ids;
    d.ninputs = 2;
    d.cpu = sum;
    if ((rc = dtx_graph_add(g, &d, &total_id)) != DTX_OK) goto fail;
  }
  if ((rc = dtx_compute(cl, g, &total_id, 1, &result, NULL)) != DTX_OK) goto fail;
  if (dtx_chunk_status(result) != DTX_OK || dtx_chunk_size(result) != sizeof(int64_t)) {
    fprintf(stderr, "consumer: bad result chunk (status %s, %zu bytes)\n",
            dtx_status_name(dtx_chunk_status(result)), dtx_chunk_size(result));
  } else {
    int64_t got;
    memcpy(&got, dtx_chunk_data(result), sizeof got);
    printf("sum = %lld on %d threads (%s scheduler)\n", (long long)got, dtx_cluster_num_threads(cl),
           dtx_scheduler_name(dtx_cluster_scheduler(cl)));
    ok = got == 42;
    if (!ok) fprintf(stderr, "consumer: expected 42, got %lld\n", (long long)got);
  }
  dtx_chunk_release(result);
  dtx_graph_destroy(g);
  dtx_cluster_destroy(cl);
  return ok ? 0 : 1;

fail:
  fprintf(stderr, "consumer: %s: %s\n", dtx_status_name(rc), dtx_last_error());
  dtx_chunk_release(result);
  dtx_graph_destroy(g);
  dtx_cluster_destroy(cl);
  return 1;
}
