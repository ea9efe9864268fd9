/*
 * tools/dtx.c - the `dtx` program: the cluster report and a demo workload.
 *
 *   dtx info      the default cluster's report (Dask's LocalCluster summary) and
 *                 its settings, each with where its value came from
 *   dtx demo      a Monte Carlo estimate of pi over many tasks, computed twice on
 *                 the default cluster: as futures with a tree of reduction
 *                 futures, then as a task graph; both must count the same hits
 *   dtx version   the program's and the linked library's versions
 *   dtx help      the usage text
 *
 * The random numbers are counter based (splitmix64 of seed, task and sample
 * index), so the hit counts do not depend on scheduler, thread count or the
 * order tasks run in. Exit status: 0 success, 1 a dtx call or a task failed
 * (the message comes from dtx_last_error()), 2 bad usage.
 */
#define _POSIX_C_SOURCE 200809L

#include "dtx/dtx.h"
#include "demo_array.h"
#include "trace_cmd.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const double kPi = 3.14159265358979323846;

/* ---- small helpers ---------------------------------------------------------- */

static void usage(FILE *out) {
  fputs(
      "usage: dtx <command> [options]\n"
      "\n"
      "commands:\n"
      "  info       print the cluster report: scheduler, workers, threads, memory,\n"
      "             GPUs, trace target; every setting with its value and where it\n"
      "             came from; and the DTX_* variables set\n"
      "  demo       estimate pi by Monte Carlo on the local cluster, as futures and\n"
      "             as a task graph, then a chunked-array workload (transpose-sum, stencil)\n"
      "               --small        64 tasks x 100,000 samples (a quick check)\n"
      "               --tasks N      leaf tasks (default 512)\n"
      "               --samples N    samples per task (default 2,000,000)\n"
      "               --seed N       random seed (default 42)\n"
      "               --fail-task I  make leaf task I fail (shows the error path)\n"
      "  version    print the program and library versions\n"
      "  help       print this message\n",
      out);
  trace_usage(out);
  fputs(
      "\n"
      "The cluster reads DTX_SCHEDULER (sync|threads), DTX_NUM_THREADS, DTX_TRACE\n"
      "(Chrome trace JSON path), DTX_REPORT (HTML report path), DTX_PROGRESS (0|1),\n"
      "DTX_LOG and DTX_LOG_FILE; `dtx info` lists every setting.\n",
      out);
}

static int usage_error(const char *fmt, const char *arg) {
  fputs("dtx: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\n\n", stderr);
  usage(stderr);
  return EXIT_USAGE;
}

/* Prints "dtx: <what> failed: <status> (<last error>)" to stderr. Call it right
 * after the failing dtx call: the last error is kept only until the next one. */
static void report_failure(const char *what, dtx_status rc) {
  const char *detail = dtx_last_error();
  fprintf(stderr, "dtx: %s failed: %s", what, dtx_strerror(rc));
  if (detail != NULL && detail[0] != '\0') fprintf(stderr, " (%s)", detail);
  fputc('\n', stderr);
}

#define CHECK(call, what)                \
  do {                                   \
    dtx_status check_rc_ = (call);       \
    if (check_rc_ != DTX_OK) {           \
      report_failure((what), check_rc_); \
      goto fail;                         \
    }                                    \
  } while (0)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Formats v >= 0 with thousands separators: 1024000000 -> "1,024,000,000". */
static const char *group_digits(int64_t v, char buf[32]) {
  char digits[24];
  int n = snprintf(digits, sizeof digits, "%" PRId64, v);
  int o = 0;
  for (int i = 0; i < n; i++) {
    if (i > 0 && (n - i) % 3 == 0) buf[o++] = ',';
    buf[o++] = digits[i];
  }
  buf[o] = '\0';
  return buf;
}

/* Parses a whole decimal integer in [lo, hi]; 0 on success. */
static int parse_int64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
  char *end = NULL;
  if (s == NULL || *s == '\0') return -1;
  long long v = strtoll(s, &end, 10);
  if (*end != '\0' || v < lo || v > hi) return -1;
  *out = (int64_t)v;
  return 0;
}

/* ---- dtx version / dtx info ------------------------------------------------------ */

static int cmd_version(void) {
  printf("dtx %s (library %s)\n", DTX_VERSION_STRING, dtx_version());
  return 0;
}

/* Lists the DTX_* variables set in this process's environment. */
static void print_dtx_environment(FILE *out) {
  int n = 0;
  fputs("environment (DTX_* set):\n", out);
  for (char **e = environ; e != NULL && *e != NULL; e++) {
    if (strncmp(*e, "DTX_", 4) != 0) continue;
    fprintf(out, "  %s\n", *e);
    n++;
  }
  if (n == 0) fputs("  (none: defaults in use)\n", out);
}

static int cmd_info(int argc, char **argv) {
  dtx_cluster *cl = NULL;
  if (argc > 0) return usage_error("info takes no arguments (got '%s')", argv[0]);
  CHECK(dtx_cluster_create(NULL, &cl), "dtx_cluster_create");
  CHECK(dtx_cluster_report(cl, stdout), "dtx_cluster_report");
  fputs("\nsettings (each a field of dtx_cluster_config; from: field, env (DTX_...) or default):\n", stdout);
  CHECK(dtx_cluster_report_settings(cl, stdout), "dtx_cluster_report_settings");
  fputc('\n', stdout);
  print_dtx_environment(stdout);
  dtx_cluster_destroy(cl);
  return 0;
fail:
  dtx_cluster_destroy(cl);
  return EXIT_FAIL;
}

/* ---- the pi workload: tasks ------------------------------------------------------ */

/* What every task returns: points inside the quarter circle, points drawn. */
typedef struct tally {
  int64_t hits;
  int64_t samples;
} tally;

typedef struct leaf_args {
  uint64_t seed;
  int64_t index;   /* the task's index: picks its random stream */
  int64_t samples; /* points to draw */
  int64_t fail;    /* nonzero: fail instead (--fail-task, to test error paths) */
} leaf_args;

#define GOLDEN_GAMMA 0x9E3779B97F4A7C15ULL

/* The splitmix64 output function (Stafford's mix13): a bijection of 64 bits. */
static inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/*
 * Counts draws that land inside the quarter circle. Draw i of task t is
 * mix64(key(seed, t) + (i + 1) * gamma): a pure function of (seed, t, i). Its
 * two 32-bit halves are a point (x, y) on a 2^32 x 2^32 grid, inside when
 * x^2 + y^2 < 2^64, tested exactly in integers (x^2 <= 2^64 - 1 - y^2).
 */
static int64_t count_hits(uint64_t seed, int64_t task, int64_t samples) {
  const uint64_t key = mix64(seed ^ mix64((uint64_t)task + GOLDEN_GAMMA));
  int64_t hits = 0;
  for (int64_t i = 0; i < samples; i++) {
    uint64_t r = mix64(key + (uint64_t)(i + 1) * GOLDEN_GAMMA);
    uint64_t x = r >> 32, y = r & 0xFFFFFFFFu;
    hits += x * x <= UINT64_MAX - y * y;
  }
  return hits;
}

static int leaf_task(dtx_task_ctx *ctx) {
  size_t size = 0;
  const void *raw = dtx_task_args(ctx, &size);
  leaf_args a;
  if (raw == NULL || size != sizeof a)
    return dtx_task_fail(ctx, "expected %zu bytes of arguments, got %zu", sizeof a, size);
  memcpy(&a, raw, sizeof a);
  if (a.fail) return dtx_task_fail(ctx, "failure injected by --fail-task %" PRId64, a.index);
  tally t = {count_hits(a.seed, a.index, a.samples), a.samples};
  void *out = dtx_task_output(ctx, sizeof t);
  if (out == NULL) return dtx_task_fail(ctx, "out of memory for the output");
  memcpy(out, &t, sizeof t);
  return 0;
}

/* Adds up the tallies of all inputs. */
static int sum_task(dtx_task_ctx *ctx) {
  tally total = {0, 0};
  int n = dtx_task_num_inputs(ctx);
  for (int i = 0; i < n; i++) {
    size_t size = 0;
    const void *in = dtx_task_input(ctx, i, &size);
    tally t;
    if (in == NULL || size != sizeof t)
      return dtx_task_fail(ctx, "input %d has %zu bytes, expected %zu", i, size, sizeof t);
    memcpy(&t, in, sizeof t);
    total.hits += t.hits;
    total.samples += t.samples;
  }
  void *out = dtx_task_output(ctx, sizeof total);
  if (out == NULL) return dtx_task_fail(ctx, "out of memory for the output");
  memcpy(out, &total, sizeof total);
  return 0;
}

static dtx_task_desc leaf_desc(const leaf_args *a) {
  dtx_task_desc d = {0};
  d.name = "hits";
  d.nidx = 1;
  d.idx[0] = a->index;
  d.args = a;
  d.args_size = sizeof *a;
  d.cpu = leaf_task;
  return d;
}

/* The reduction at `level` (1 = just above the leaves), position j: sum[level,j]. */
static dtx_task_desc sum_desc(int level, int j) {
  dtx_task_desc d = {0};
  d.name = "sum";
  d.nidx = 2;
  d.idx[0] = level;
  d.idx[1] = j;
  d.cpu = sum_task;
  return d;
}

/* ---- the pi workload: driver ------------------------------------------------------- */

typedef struct demo_opts {
  int64_t tasks;
  int64_t samples;
  uint64_t seed;
  int64_t fail_task; /* the leaf made to fail, or -1 */
} demo_opts;

/* Leaf completion lines: one per 10% crossed, at most one per task. On a
 * terminal the current line is also redrawn in place, at most every 0.1 s. */
typedef struct progress {
  int64_t total, done;
  int64_t next_tenth; /* the next 10% mark (1..10) that prints a line */
  int tty;
  double t0, last_draw;
} progress;

static void progress_step(progress *p) {
  double t = now_s();
  p->done++;
  int pct = (int)(p->done * 100 / p->total);
  if (p->done * 10 >= p->next_tenth * p->total) {
    while (p->next_tenth <= 10 && p->done * 10 >= p->next_tenth * p->total) p->next_tenth++;
    printf("%s[%3d%%] %" PRId64 "/%" PRId64 " tasks, %.1f s\n", p->tty ? "\r" : "", pct, p->done, p->total,
           t - p->t0);
  } else if (p->tty && t - p->last_draw >= 0.1) {
    printf("\r[%3d%%] %" PRId64 "/%" PRId64 " tasks, %.1f s", pct, p->done, p->total, t - p->t0);
    p->last_draw = t;
  } else {
    return;
  }
  fflush(stdout);
}

static void print_estimate(const tally *t, double secs) {
  char nbuf[32];
  double pi = 4.0 * (double)t->hits / (double)t->samples;
  printf("pi ~ %.7f (error %.1e, %s samples, %.2f s, %.0f M samples/s)\n", pi, fabs(pi - kPi),
         group_digits(t->samples, nbuf), secs, secs > 0 ? (double)t->samples / secs / 1e6 : 0.0);
}

/* A finished task's outcome: 0 when it produced data, else prints why not. */
static int check_task(dtx_status st, const char *error) {
  if (st == DTX_OK) return 0;
  fprintf(stderr, "dtx demo: %s: %s\n", dtx_strerror(st), error != NULL ? error : "(no message)");
  return -1;
}

/* Copies a finished tally out of a result buffer, checking its size. */
static int read_tally(const void *data, size_t size, tally *out) {
  if (data == NULL || size != sizeof *out) {
    fprintf(stderr, "dtx demo: the result has %zu bytes, expected %zu\n", size, sizeof *out);
    return -1;
  }
  memcpy(out, data, sizeof *out);
  return 0;
}

/*
 * Part 1: submits the leaves, then a binary tree of sum futures over them
 * (an odd one out moves up a level unchanged), prints progress as leaves
 * finish, and reads the root. Every future made is released here.
 */
static int run_futures(dtx_cluster *cl, const demo_opts *o, tally *result, double *secs) {
  const int n = (int)o->tasks;
  dtx_future **all = calloc(2 * (size_t)n, sizeof *all); /* every future, for release */
  dtx_future **level = calloc((size_t)n, sizeof *level); /* the tree level being built */
  dtx_as_completed *it = NULL;
  int nall = 0, status = -1;
  if (all == NULL || level == NULL) {
    fputs("dtx demo: out of memory\n", stderr);
    goto fail;
  }
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    leaf_args a = {o->seed, i, o->samples, i == o->fail_task};
    dtx_task_desc d = leaf_desc(&a);
    CHECK(dtx_submit(cl, &d, NULL, 0, &all[nall]), "dtx_submit (hits)");
    level[i] = all[nall++];
  }
  for (int width = n, depth = 1; width > 1; width = (width + 1) / 2, depth++) {
    for (int j = 0; j < width / 2; j++) {
      dtx_task_desc d = sum_desc(depth, j);
      dtx_future *pair[2] = {level[2 * j], level[2 * j + 1]};
      CHECK(dtx_submit(cl, &d, pair, 2, &all[nall]), "dtx_submit (sum)");
      level[j] = all[nall++];
    }
    if (width % 2) level[width / 2] = level[width - 1];
  }
  printf("Part 1 (futures): %d tasks x %s samples, %d sum tasks in a binary tree\n", n,
         group_digits(o->samples, (char[32]){0}), nall - n);

  progress p = {n, 0, 1, isatty(fileno(stdout)), t0, t0};
  CHECK(dtx_as_completed_create(all, n, &it), "dtx_as_completed_create");
  for (int k = 0; k < n; k++) {
    dtx_future *f = NULL;
    CHECK(dtx_as_completed_next(it, -1, &f), "dtx_as_completed_next");
    if (check_task(dtx_future_status(f), dtx_future_error(f)) != 0) goto fail;
    progress_step(&p);
  }
  const void *data = NULL;
  size_t size = 0;
  CHECK(dtx_future_result(level[0], &data, &size), "dtx_future_result (root)");
  if (read_tally(data, size, result) != 0) goto fail;
  *secs = now_s() - t0;
  status = 0;
fail:
  dtx_as_completed_destroy(it);
  for (int i = 0; i < nall; i++) dtx_future_release(all[i]);
  free(level);
  free(all);
  return status;
}

/*
 * Part 2: the same tasks as a graph (hits[i] and sum[level,j]), computed with
 * dtx_compute under the cluster's scheduler. Times the compute call only.
 */
static int run_graph(dtx_cluster *cl, const demo_opts *o, tally *result, double *secs) {
  const int n = (int)o->tasks;
  dtx_graph *g = NULL;
  dtx_chunk *root = NULL;
  dtx_task_id *level = calloc((size_t)n, sizeof *level);
  int status = -1;
  if (level == NULL) {
    fputs("dtx demo: out of memory\n", stderr);
    goto fail;
  }
  CHECK(dtx_graph_create(&g), "dtx_graph_create");
  for (int i = 0; i < n; i++) {
    leaf_args a = {o->seed, i, o->samples, i == o->fail_task};
    dtx_task_desc d = leaf_desc(&a);
    CHECK(dtx_graph_add(g, &d, &level[i]), "dtx_graph_add (hits)");
  }
  for (int width = n, depth = 1; width > 1; width = (width + 1) / 2, depth++) {
    for (int j = 0; j < width / 2; j++) {
      dtx_task_desc d = sum_desc(depth, j);
      dtx_task_id pair[2] = {level[2 * j], level[2 * j + 1]};
      d.inputs = pair;
      d.ninputs = 2;
      CHECK(dtx_graph_add(g, &d, &level[j]), "dtx_graph_add (sum)");
    }
    if (width % 2) level[width / 2] = level[width - 1];
  }
  char key[DTX_MAX_KEY];
  CHECK(dtx_graph_key(g, level[0], key, sizeof key), "dtx_graph_key");
  printf("Part 2 (task graph): %zu tasks, output %s, scheduler %s\n", dtx_graph_size(g), key,
         dtx_scheduler_name(dtx_cluster_scheduler(cl)));

  double t0 = now_s();
  CHECK(dtx_compute(cl, g, &level[0], 1, &root, NULL), "dtx_compute");
  *secs = now_s() - t0;
  if (check_task(dtx_chunk_status(root), dtx_chunk_error(root)) != 0) goto fail;
  if (read_tally(dtx_chunk_data(root), dtx_chunk_size(root), result) != 0) goto fail;
  status = 0;
fail:
  dtx_chunk_release(root);
  dtx_graph_destroy(g);
  free(level);
  return status;
}

static int parse_demo_opts(int argc, char **argv, demo_opts *o) {
  int small = 0;
  int64_t tasks = 0, samples = 0, seed = 42, fail_task = -1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--small") == 0) {
      small = 1;
    } else if (strcmp(a, "--tasks") == 0) {
      if (parse_int64(v, 1, 1000000, &tasks) != 0)
        return usage_error("--tasks wants 1..1000000 (got '%s')", v ? v : "");
      i++;
    } else if (strcmp(a, "--samples") == 0) {
      if (parse_int64(v, 1, 1000000000000LL, &samples) != 0)
        return usage_error("--samples wants 1..10^12 (got '%s')", v ? v : "");
      i++;
    } else if (strcmp(a, "--seed") == 0) {
      if (parse_int64(v, 0, INT64_MAX, &seed) != 0)
        return usage_error("--seed wants an integer >= 0 (got '%s')", v ? v : "");
      i++;
    } else if (strcmp(a, "--fail-task") == 0) {
      if (parse_int64(v, 0, INT64_MAX, &fail_task) != 0)
        return usage_error("--fail-task wants a task index (got '%s')", v ? v : "");
      i++;
    } else {
      return usage_error("demo: unknown option '%s'", a);
    }
  }
  o->tasks = tasks ? tasks : small ? 64 : 512;
  o->samples = samples ? samples : small ? 100000 : 2000000;
  o->seed = (uint64_t)seed;
  o->fail_task = fail_task;
  return 0;
}

/* Says where the trace went; call after dtx_cluster_destroy, which completes it. */
static void report_trace(const char *path) {
  if (path == NULL || path[0] == '\0') return;
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    printf("\nDTX_TRACE=%s is set, but no trace file is there\n", path);
    return;
  }
  fclose(f);
  printf("\ntrace written to %s (open it in https://ui.perfetto.dev or chrome://tracing)\n", path);
}

static int cmd_demo(int argc, char **argv) {
  demo_opts o = {0, 0, 0, -1};
  int rc = parse_demo_opts(argc, argv, &o);
  if (rc != 0) return rc;

  dtx_cluster *cl = NULL;
  tally by_futures, by_graph;
  double t_futures = 0, t_graph = 0;
  CHECK(dtx_cluster_create(NULL, &cl), "dtx_cluster_create");
  CHECK(dtx_cluster_report(cl, stdout), "dtx_cluster_report");
  printf("\nMonte Carlo pi: %" PRId64 " tasks, seed %" PRIu64 "\n\n", o.tasks, o.seed);

  if (run_futures(cl, &o, &by_futures, &t_futures) != 0) goto fail;
  print_estimate(&by_futures, t_futures);
  putchar('\n');
  if (run_graph(cl, &o, &by_graph, &t_graph) != 0) goto fail;
  print_estimate(&by_graph, t_graph);
  if (by_graph.hits != by_futures.hits || by_graph.samples != by_futures.samples) {
    fprintf(stderr,
            "dtx demo: the graph counted %" PRId64 "/%" PRId64 " hits, the futures %" PRId64 "/%" PRId64 "\n",
            by_graph.hits, by_graph.samples, by_futures.hits, by_futures.samples);
    goto fail;
  }
  char hbuf[32];
  printf("same counts as Part 1 (%s hits)\n", group_digits(by_graph.hits, hbuf));
  if (demo_arrays(cl, o.tasks <= 64, o.seed) != 0) goto fail;

  dtx_cluster_destroy(cl);
  report_trace(getenv("DTX_TRACE"));
  return 0;
fail:
  dtx_cluster_destroy(cl);
  return EXIT_FAIL;
}

/* ---- main ------------------------------------------------------------------- */

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) return cmd_version();
  if (strcmp(cmd, "info") == 0) return cmd_info(argc - 2, argv + 2);
  if (strcmp(cmd, "demo") == 0) return cmd_demo(argc - 2, argv + 2);
  if (strcmp(cmd, "trace") == 0) return cmd_trace(argc - 2, argv + 2);
  return usage_error("unknown command '%s'", cmd);
}
