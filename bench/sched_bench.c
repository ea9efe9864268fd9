/*
 * bench/sched_bench.c - scheduler cost per no-op task (BENCHMARKS.md section 1).
 *
 * Cases, each over --tasks N (default 100,000):
 *   wide    N independent tasks feeding one sink            (N + 1 tasks)
 *   chain   N tasks, each depending on the previous one     (N tasks)
 *   tree    a binary reduction tree over N leaves           (about 2N tasks)
 * run by the `sync` and `threads` schedulers (dtx_compute_opts.scheduler; `cluster`
 * too when asked with --schedulers: on the GPUs DTX_GPUS names, if any), and
 *   futures        --futures M (default 20,000) times: dtx_submit, dtx_future_wait,
 *                  dtx_future_release, one at a time from the main thread
 *   futures-batch  M dtx_submit, then wait for all, then release all.
 *
 * The timed region of a graph case is everything a user pays for: graph create,
 * every dtx_graph_add, dtx_compute of the sink, release of the result chunk and
 * graph destroy. Only the cluster (created once) and a scratch array for task ids
 * (filled inside the timed region) live outside it. Tasks are no-op CPU functions
 * (return 0, no output).
 *
 * Each case/scheduler pair first runs once untimed with a counting task (a relaxed
 * atomic add) to prove every task ran, then once as a warm-up, then --reps R times
 * (default 7). The runtime's own tasks_run counter must also advance by the task
 * count over the timed runs. The program prints the median, min and max µs per task
 * as an aligned table (with the machine) or, with --json, one JSON object per line.
 *
 * Single-threaded: only the main thread calls dtx; the cluster's workers run tasks.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dtx/dtx.h"

#ifndef DTX_BENCH_BUILD_TYPE
#define DTX_BENCH_BUILD_TYPE "unknown"
#endif

/* Targets (BENCHMARKS.md: at or under Taskflow's 0.07-0.2 µs/task). */
#define TARGET_THREADS_US 0.25
#define TARGET_SYNC_US 0.10
#define TARGET_FUTURES_US 2.0

typedef enum bench_case {
  CASE_WIDE,
  CASE_CHAIN,
  CASE_TREE,
  CASE_FUTURES,
  CASE_FUTURES_BATCH,
  CASE_COUNT
} bench_case;

static const char *const case_names[CASE_COUNT] = {"wide", "chain", "tree", "futures", "futures-batch"};

typedef struct options {
  int64_t tasks;   /* N for the graph cases */
  int64_t futures; /* M for the futures cases */
  int reps;        /* timed repetitions */
  int threads;     /* worker threads, 0 = the cluster's default (cores) */
  int json;        /* one JSON object per line instead of the table */
  int verify;      /* run the counting pass first */
  int cases[CASE_COUNT];
  int sched_sync, sched_threads, sched_cluster;
} options;

/* Everything one run needs; built once, outside the timed region. */
typedef struct bench {
  dtx_cluster *cl;
  dtx_task_fn fn;    /* noop for timed runs, count_task for the verification run */
  dtx_task_id *ids;  /* scratch, tasks entries */
  dtx_future **futs; /* scratch, futures entries */
  int64_t tasks;
  int64_t futures;
  int64_t future_epoch; /* makes each futures run's keys new: key = f[epoch, i] */
  double build_us;      /* last graph run: graph create + adds */
} bench;

typedef struct result {
  bench_case c;
  const char *sched;
  int64_t tasks;        /* tasks per run */
  int threads;          /* threads that ran tasks */
  double med, min, max; /* µs per task */
  double build;         /* median µs per task of the build phase (graph cases) */
  double target;
} result;

static atomic_llong task_count;

static int noop_task(dtx_task_ctx *ctx) {
  (void)ctx;
  return 0;
}

static int count_task(dtx_task_ctx *ctx) {
  (void)ctx;
  atomic_fetch_add_explicit(&task_count, 1, memory_order_relaxed);
  return 0;
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static void die(const char *what, dtx_status rc) {
  fprintf(stderr, "dtx-bench-sched: %s: %s (%s)%s%s\n", what, dtx_status_name(rc), dtx_strerror(rc),
          dtx_last_error()[0] ? ": " : "", dtx_last_error());
  exit(1);
}

#define CHECK(call)                \
  do {                             \
    dtx_status rc_ = (call);       \
    if (rc_ != DTX_OK) return rc_; \
  } while (0)

/* ---- graphs ------------------------------------------------------------------ */

/* wide: leaf[i] for i < N, then sink with all N leaves as inputs. */
static dtx_status build_wide(bench *b, dtx_graph *g, dtx_task_id *sink) {
  dtx_task_desc d = {0};
  d.name = "leaf";
  d.nidx = 1;
  d.cpu = b->fn;
  for (int64_t i = 0; i < b->tasks; i++) {
    d.idx[0] = i;
    CHECK(dtx_graph_add(g, &d, &b->ids[i]));
  }
  dtx_task_desc s = {0};
  s.name = "sink";
  s.cpu = b->fn;
  s.inputs = b->ids;
  s.ninputs = (int)b->tasks;
  return dtx_graph_add(g, &s, sink);
}

/* chain: chain[0] <- chain[1] <- ... <- chain[N-1], the last one is the sink. */
static dtx_status build_chain(bench *b, dtx_graph *g, dtx_task_id *sink) {
  dtx_task_desc d = {0};
  dtx_task_id prev = 0;
  d.name = "chain";
  d.nidx = 1;
  d.cpu = b->fn;
  for (int64_t i = 0; i < b->tasks; i++) {
    d.idx[0] = i;
    d.inputs = i > 0 ? &prev : NULL;
    d.ninputs = i > 0 ? 1 : 0;
    CHECK(dtx_graph_add(g, &d, &prev));
  }
  *sink = prev;
  return DTX_OK;
}

/*
 * tree: tree[0,i] for the N leaves; tree[l,j] reduces tree[l-1,2j] and
 * tree[l-1,2j+1] (just the first when the level below has an odd count), until
 * one task is left. ids[] holds the level below; ids[j] is overwritten only after
 * ids[2j] and ids[2j+1] were read, and j <= 2j, so one array serves every level.
 */
static dtx_status build_tree(bench *b, dtx_graph *g, dtx_task_id *sink) {
  dtx_task_desc d = {0};
  d.name = "tree";
  d.nidx = 2;
  d.cpu = b->fn;
  for (int64_t i = 0; i < b->tasks; i++) {
    d.idx[1] = i;
    CHECK(dtx_graph_add(g, &d, &b->ids[i]));
  }
  int64_t m = b->tasks;
  for (int64_t level = 1; m > 1; level++) {
    int64_t half = (m + 1) / 2;
    for (int64_t j = 0; j < half; j++) {
      dtx_task_id in[2] = {b->ids[2 * j], 2 * j + 1 < m ? b->ids[2 * j + 1] : 0};
      d.idx[0] = level;
      d.idx[1] = j;
      d.inputs = in;
      d.ninputs = 2 * j + 1 < m ? 2 : 1;
      CHECK(dtx_graph_add(g, &d, &b->ids[j]));
    }
    m = half;
  }
  *sink = b->ids[0];
  return DTX_OK;
}

/* One timed graph run: create, build, compute the sink, release, destroy. */
static dtx_status run_graph(bench *b, bench_case c, dtx_scheduler sched, int64_t *ntasks) {
  dtx_graph *g = NULL;
  dtx_chunk *res = NULL;
  dtx_task_id sink = 0;
  double t0 = now_us();
  dtx_status rc = dtx_graph_create(&g);
  if (rc != DTX_OK) return rc;
  switch (c) {
    case CASE_WIDE:
      rc = build_wide(b, g, &sink);
      break;
    case CASE_CHAIN:
      rc = build_chain(b, g, &sink);
      break;
    default:
      rc = build_tree(b, g, &sink);
      break;
  }
  b->build_us = now_us() - t0;
  if (rc == DTX_OK) {
    dtx_compute_opts opts = DTX_COMPUTE_OPTS_INIT;
    opts.scheduler = sched;
    rc = dtx_compute(b->cl, g, &sink, 1, &res, &opts);
    if (rc == DTX_OK) rc = dtx_chunk_status(res);
    if (res != NULL) dtx_chunk_release(res);
  }
  *ntasks = (int64_t)dtx_graph_size(g);
  dtx_graph_destroy(g);
  return rc;
}

/* futures: submit, wait, release, one at a time. */
static dtx_status run_futures_serial(bench *b, int64_t *ntasks) {
  dtx_task_desc d = {0};
  d.name = "f";
  d.nidx = 2;
  d.idx[0] = b->future_epoch++;
  d.cpu = b->fn;
  for (int64_t i = 0; i < b->futures; i++) {
    dtx_future *f = NULL;
    d.idx[1] = i;
    CHECK(dtx_submit(b->cl, &d, NULL, 0, &f));
    dtx_status rc = dtx_future_wait(f, -1);
    if (rc == DTX_OK) rc = dtx_future_status(f);
    dtx_future_release(f);
    if (rc != DTX_OK) return rc;
  }
  *ntasks = b->futures;
  return DTX_OK;
}

/* futures-batch: submit all, then wait for each, then release all. */
static dtx_status run_futures_batch(bench *b, int64_t *ntasks) {
  dtx_task_desc d = {0};
  dtx_status rc = DTX_OK;
  int64_t n = 0;
  d.name = "f";
  d.nidx = 2;
  d.idx[0] = b->future_epoch++;
  d.cpu = b->fn;
  for (; n < b->futures; n++) {
    d.idx[1] = n;
    if ((rc = dtx_submit(b->cl, &d, NULL, 0, &b->futs[n])) != DTX_OK) break;
  }
  for (int64_t i = 0; i < n && rc == DTX_OK; i++) {
    rc = dtx_future_wait(b->futs[i], -1);
    if (rc == DTX_OK) rc = dtx_future_status(b->futs[i]);
  }
  for (int64_t i = 0; i < n; i++) dtx_future_release(b->futs[i]);
  *ntasks = b->futures;
  return rc;
}

static dtx_status run_once(bench *b, bench_case c, dtx_scheduler sched, int64_t *ntasks) {
  switch (c) {
    case CASE_FUTURES:
      return run_futures_serial(b, ntasks);
    case CASE_FUTURES_BATCH:
      return run_futures_batch(b, ntasks);
    default:
      return run_graph(b, c, sched, ntasks);
  }
}

/* ---- measuring --------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int64_t tasks_run(const dtx_cluster *cl) {
  dtx_cluster_stats st = DTX_CLUSTER_STATS_INIT;
  if (dtx_cluster_get_stats(cl, &st) != DTX_OK) return -1;
  return st.tasks_run;
}

/* Verification pass, warm-up, then reps timed runs of one case under one scheduler. */
static result measure(bench *b, const options *o, bench_case c, dtx_scheduler sched) {
  char what[96];
  int64_t n = 0;
  dtx_status rc;
  const char *sname = c >= CASE_FUTURES ? "threads" : dtx_scheduler_name(sched);
  snprintf(what, sizeof what, "%s/%s", case_names[c], sname);

  if (o->verify) {
    int64_t before = tasks_run(b->cl);
    atomic_store(&task_count, 0);
    b->fn = count_task;
    if ((rc = run_once(b, c, sched, &n)) != DTX_OK) die(what, rc);
    long long ran = atomic_load(&task_count);
    if (ran != n) {
      fprintf(stderr, "dtx-bench-sched: %s: %lld of %lld tasks ran\n", what, ran, (long long)n);
      exit(1);
    }
    int64_t counted = tasks_run(b->cl) - before;
    if (counted != n)
      fprintf(stderr, "dtx-bench-sched: warning: %s: stats.tasks_run advanced by %lld, expected %lld\n", what,
              (long long)counted, (long long)n);
  }

  b->fn = noop_task;
  if ((rc = run_once(b, c, sched, &n)) != DTX_OK) die(what, rc); /* warm-up */

  double *us = calloc((size_t)o->reps, sizeof *us), *build = calloc((size_t)o->reps, sizeof *build);
  if (us == NULL || build == NULL) die("calloc", DTX_ENOMEM);
  int64_t before = tasks_run(b->cl);
  for (int r = 0; r < o->reps; r++) {
    double t0 = now_us();
    rc = run_once(b, c, sched, &n);
    double t1 = now_us();
    if (rc != DTX_OK) die(what, rc);
    us[r] = (t1 - t0) / (double)n;
    build[r] = c < CASE_FUTURES ? b->build_us / (double)n : 0.0;
  }
  int64_t counted = tasks_run(b->cl) - before;
  if (counted != n * o->reps)
    fprintf(
        stderr,
        "dtx-bench-sched: warning: %s: stats.tasks_run advanced by %lld over %d timed runs, expected %lld\n",
        what, (long long)counted, o->reps, (long long)(n * o->reps));

  qsort(us, (size_t)o->reps, sizeof *us, cmp_double);
  qsort(build, (size_t)o->reps, sizeof *build, cmp_double);
  result res = {0};
  res.c = c;
  res.sched = sname;
  res.tasks = n;
  res.threads = (c < CASE_FUTURES && sched == DTX_SCHED_SYNC) ? 1 : dtx_cluster_num_threads(b->cl);
  res.min = us[0];
  res.max = us[o->reps - 1];
  res.med = o->reps % 2 ? us[o->reps / 2] : 0.5 * (us[o->reps / 2 - 1] + us[o->reps / 2]);
  res.build = o->reps % 2 ? build[o->reps / 2] : 0.5 * (build[o->reps / 2 - 1] + build[o->reps / 2]);
  res.target = c >= CASE_FUTURES         ? TARGET_FUTURES_US
               : sched == DTX_SCHED_SYNC ? TARGET_SYNC_US
                                         : TARGET_THREADS_US;
  free(us);
  free(build);
  return res;
}

/* ---- output ------------------------------------------------------------------ */

static void cpu_model(char *buf, size_t n) {
  snprintf(buf, n, "unknown CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f == NULL) return;
  char line[512];
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "model name", 10) != 0) continue;
    char *p = strchr(line, ':');
    if (p == NULL) continue;
    for (p++; *p == ' ' || *p == '\t'; p++) {
    }
    p[strcspn(p, "\n")] = '\0';
    snprintf(buf, n, "%s", p);
    break;
  }
  fclose(f);
}

static void print_header(const bench *b, const options *o) {
  char cpu[256], date[64];
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
  cpu_model(cpu, sizeof cpu);
  printf("# dtx-bench-sched: dtx %s (%s build) on %s, %ld cores, %s\n", dtx_version(), DTX_BENCH_BUILD_TYPE,
         cpu, sysconf(_SC_NPROCESSORS_ONLN), date);
  printf("# threads scheduler and futures: %d worker threads; sync: the calling thread\n",
         dtx_cluster_num_threads(b->cl));
  printf(
      "# graph cases: N=%lld, timed = graph create + adds + dtx_compute(sink) + chunk release + graph "
      "destroy\n",
      (long long)o->tasks);
  printf(
      "# futures cases: M=%lld, timed = submit + wait + release (futures: one at a time; futures-batch: "
      "all)\n",
      (long long)o->futures);
  printf("# %d timed reps after 1 warm-up; us per task: median, min, max%s\n", o->reps,
         o->verify ? "; every task count checked in an untimed counting run" : "");
  printf("# targets: threads <= %.2f us/task, sync <= %.2f us/task, futures <= %.1f us per submit+wait\n",
         TARGET_THREADS_US, TARGET_SYNC_US, TARGET_FUTURES_US);
  printf("# build = the graph create + adds part of us/task (median alone, so build + run ~ us/task)\n");
  printf("%-14s %-9s %9s %10s %9s %9s %9s %10s %7s %5s\n", "case", "scheduler", "tasks", "us/task", "min",
         "max", "build", "ms/run", "target", "mark");
}

static void print_result(const result *r, const options *o) {
  int pass = r->med <= r->target;
  if (o->json) {
    printf(
        "{\"case\":\"%s\",\"scheduler\":\"%s\",\"tasks\":%lld,\"us_per_task\":%.4f,\"min\":%.4f,\"max\":%.4f,"
        "\"build_us_per_task\":%.4f,\"threads\":%d,\"reps\":%d,\"target\":%.2f,\"pass\":%s}\n",
        case_names[r->c], r->sched, (long long)r->tasks, r->med, r->min, r->max, r->build, r->threads,
        o->reps, r->target, pass ? "true" : "false");
  } else {
    char build[16] = "-";
    if (r->c < CASE_FUTURES) snprintf(build, sizeof build, "%.4f", r->build);
    printf("%-14s %-9s %9lld %10.4f %9.4f %9.4f %9s %10.2f %7.2f %5s\n", case_names[r->c], r->sched,
           (long long)r->tasks, r->med, r->min, r->max, build, r->med * (double)r->tasks / 1000.0, r->target,
           pass ? "PASS" : "MISS");
  }
  fflush(stdout);
}

/* ---- options ----------------------------------------------------------------- */

static void usage(FILE *f) {
  fprintf(f,
          "usage: dtx-bench-sched [--json] [--tasks N] [--futures M] [--reps R] [--threads T]\n"
          "                       [--cases wide,chain,tree,futures,futures-batch]\n"
          "                       [--schedulers sync,threads,cluster] [--no-verify]\n"
          "  --tasks N       graph size (default 100000; tree has about 2N tasks)\n"
          "  --futures M     futures per futures run (default 20000)\n"
          "  --reps R        timed repetitions after one warm-up (default 7)\n"
          "  --threads T     worker threads (default: DTX_NUM_THREADS, else all cores)\n"
          "  --schedulers L  for the graph cases (default sync,threads; cluster runs on DTX_GPUS's GPUs)\n"
          "  --json          one JSON object per line instead of the table\n"
          "  --no-verify     skip the untimed counting run that proves every task ran\n");
}

static int64_t parse_count(const char *opt, const char *s, int64_t lo, int64_t hi) {
  char *end = NULL;
  errno = 0;
  long long v = s ? strtoll(s, &end, 10) : 0;
  if (s == NULL || errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "dtx-bench-sched: %s wants an integer in [%lld, %lld], got '%s'\n", opt, (long long)lo,
            (long long)hi, s ? s : "");
    exit(2);
  }
  return v;
}

/* Comma-separated names; sets flags[i] for each names[i] given. */
static void parse_list(const char *opt, const char *s, const char *const *names, int n, int *flags) {
  if (s == NULL) {
    fprintf(stderr, "dtx-bench-sched: %s wants a comma-separated list\n", opt);
    exit(2);
  }
  for (int i = 0; i < n; i++) flags[i] = 0;
  while (*s) {
    size_t len = strcspn(s, ",");
    int found = 0;
    for (int i = 0; i < n; i++) {
      if (strlen(names[i]) == len && strncmp(s, names[i], len) == 0) flags[i] = found = 1;
    }
    if (!found && len > 0) {
      fprintf(stderr, "dtx-bench-sched: %s: unknown name '%.*s'\n", opt, (int)len, s);
      exit(2);
    }
    s += len;
    if (*s == ',') s++;
  }
}

static void parse_options(int argc, char **argv, options *o) {
  static const char *const sched_names[] = {"sync", "threads", "cluster"};
  int sched[3] = {1, 1, 0};
  *o = (options){.tasks = 100000, .futures = 20000, .reps = 7, .verify = 1};
  for (int i = 0; i < CASE_COUNT; i++) o->cases[i] = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--json") == 0) {
      o->json = 1;
    } else if (strcmp(a, "--no-verify") == 0) {
      o->verify = 0;
    } else if (strcmp(a, "--tasks") == 0) {
      o->tasks = parse_count(a, v, 1, INT32_MAX / 4), i++;
    } else if (strcmp(a, "--futures") == 0) {
      o->futures = parse_count(a, v, 1, INT32_MAX / 4), i++;
    } else if (strcmp(a, "--reps") == 0) {
      o->reps = (int)parse_count(a, v, 1, 100000), i++;
    } else if (strcmp(a, "--threads") == 0) {
      o->threads = (int)parse_count(a, v, 1, 4096), i++;
    } else if (strcmp(a, "--cases") == 0) {
      parse_list(a, v, case_names, CASE_COUNT, o->cases), i++;
    } else if (strcmp(a, "--schedulers") == 0) {
      parse_list(a, v, sched_names, 3, sched), i++;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      exit(0);
    } else {
      fprintf(stderr, "dtx-bench-sched: unknown option '%s'\n", a);
      usage(stderr);
      exit(2);
    }
  }
  o->sched_sync = sched[0];
  o->sched_threads = sched[1];
  o->sched_cluster = sched[2];
}

int main(int argc, char **argv) {
  options o;
  parse_options(argc, argv, &o);

  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.scheduler = DTX_SCHED_THREADS; /* futures run on the workers whatever DTX_SCHEDULER says */
  cfg.num_threads = o.threads;
  bench b = {0};
  b.tasks = o.tasks;
  b.futures = o.futures;
  b.fn = noop_task;
  b.ids = malloc((size_t)o.tasks * sizeof *b.ids);
  b.futs = malloc((size_t)o.futures * sizeof *b.futs);
  if (b.ids == NULL || b.futs == NULL) die("malloc", DTX_ENOMEM);
  dtx_status rc = dtx_cluster_create(&cfg, &b.cl);
  if (rc != DTX_OK) die("dtx_cluster_create", rc);

  if (!o.json) print_header(&b, &o);
  for (int c = CASE_WIDE; c <= CASE_TREE; c++) {
    if (!o.cases[c]) continue;
    if (o.sched_sync) {
      result r = measure(&b, &o, (bench_case)c, DTX_SCHED_SYNC);
      print_result(&r, &o);
    }
    if (o.sched_threads) {
      result r = measure(&b, &o, (bench_case)c, DTX_SCHED_THREADS);
      print_result(&r, &o);
    }
    if (o.sched_cluster) {
      result r = measure(&b, &o, (bench_case)c, DTX_SCHED_CLUSTER);
      print_result(&r, &o);
    }
  }
  for (int c = CASE_FUTURES; c < CASE_COUNT; c++) {
    if (!o.cases[c]) continue;
    result r = measure(&b, &o, (bench_case)c, DTX_SCHED_THREADS);
    print_result(&r, &o);
  }

  dtx_cluster_destroy(b.cl);
  free(b.ids);
  free(b.futs);
  return 0;
}
