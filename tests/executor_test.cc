/*
 * tests/executor_test.cc - a new executor plugs into the engine through the
 * executor table alone (scheduler/executor.h).
 *
 * The test executor claims the tasks of one name ("x") and runs them on a
 * thread of its own, completing them through dtxi_run_task_done. Random DAGs
 * mixing its tasks with CPU-thread tasks (and, on simulated GPUs, GPU tasks)
 * must give `sync`'s results, failures must cross between executors, and
 * the executor must really have run every task it claimed (and nobody else
 * any of them).
 */
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "dtx/dtx.h"
#include "scheduler/executor.h"
#include "test_util.h"

using namespace dtxt;

namespace {

/* ---- the test executor -------------------------------------------------------- */

class TestExec {
 public:
  explicit TestExec(const char *prefix) : prefix_(prefix) {
    std::memset(&table_, 0, sizeof table_);
    table_.name = "test";
    table_.state = this;
    table_.can_run = CanRun;
    table_.start_root = Queue;
    table_.dispatch = Queue;
    thread_ = std::thread([this] { Loop(); });
    id_ = thread_.get_id();
  }
  ~TestExec() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  const dtxi_executor *table() const { return &table_; }
  std::thread::id thread_id() const { return id_; }
  /* Tasks it said yes to at plan time, ran, and marked failed from an input. */
  int64_t claimed() const { return claimed_.load(); }
  int64_t ran() const { return ran_.load(); }
  int64_t skipped() const { return skipped_.load(); }
  void Reset() {
    claimed_ = 0;
    ran_ = 0;
    skipped_ = 0;
  }

 private:
  static TestExec *Self(const dtxi_executor *e) { return static_cast<TestExec *>(e->state); }

  static int CanRun(const dtxi_executor *self, const run *r, const rtask *t) {
    TestExec *x = Self(self);
    if (std::strcmp(dtxi_run_task_prefix(r, t), x->prefix_) != 0) return 0;
    x->claimed_++;
    return 1;
  }

  /* Any thread: queue the task for the executor's thread. */
  static void Queue(const dtxi_executor *self, run *r, rtask *t) {
    TestExec *x = Self(self);
    {
      std::lock_guard<std::mutex> lk(x->mu_);
      x->queue_.emplace_back(r, t);
    }
    x->cv_.notify_one();
  }

  void Loop() {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      std::pair<run *, rtask *> job = queue_.front();
      queue_.pop_front();
      lk.unlock();
      int outcome = dtxi_run_exec_cpu(job.first, job.second, -1);
      (outcome == DTXI_SKIPPED ? skipped_ : ran_)++;
      /* The task's one report; after it neither the run nor the task is ours. */
      dtxi_run_task_done(job.first, job.second, outcome != DTXI_SKIPPED);
      lk.lock();
    }
  }

  const char *prefix_;
  dtxi_executor table_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<run *, rtask *>> queue_;
  bool stop_ = false;
  std::atomic<int64_t> claimed_{0}, ran_{0}, skipped_{0};
  std::thread thread_;
  std::thread::id id_;
};

/* ---- the tasks -------------------------------------------------------------- */

struct WorkArgs {
  int64_t index;
  int32_t fail;    /* fails with "boom <key>" */
  int32_t claimed; /* an "x" task: must run on the test executor's thread */
};

/* Which thread "x" tasks must run on (set before each compute). */
std::thread::id g_exec_thread;
std::atomic<int> g_x_on_exec{0}, g_x_elsewhere{0}, g_on_gpu{0};

/* out = hash(index, inputs...) as one uint64. */
int Work(dtx_task_ctx *ctx) {
  WorkArgs a = Arg<WorkArgs>(ctx);
  if (dtx_task_device(ctx) >= 0) g_on_gpu++;
  if (a.claimed) {
    bool mine = std::this_thread::get_id() == g_exec_thread && dtx_task_worker(ctx) == -1;
    (mine ? g_x_on_exec : g_x_elsewhere)++;
  }
  if (a.fail) return dtx_task_fail(ctx, "boom %s", TaskKey(ctx).c_str());
  uint64_t h = Mix(static_cast<uint64_t>(a.index));
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) {
    size_t n = 0;
    const void *p = dtx_task_input(ctx, i, &n);
    if (n != sizeof(uint64_t)) return dtx_task_fail(ctx, "input %d has %zu bytes", i, n);
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    h = Combine(h, v);
  }
  void *o = dtx_task_output(ctx, sizeof h);
  if (o == nullptr) return dtx_task_fail(ctx, "no memory for the output");
  std::memcpy(o, &h, sizeof h);
  return 0;
}

/* Never called on simulated GPUs: the CPU implementation stands in. */
int NotOnSim(dtx_task_ctx *ctx) {
  return dtx_task_fail(ctx, "the CUDA implementation ran on a simulated GPU");
}

struct Dag {
  GraphPtr g;
  std::vector<dtx_task_id> outs;
  int x_in_run = 0; /* "x" tasks among the outputs' ancestors */
  int failing = 0;  /* failing tasks among them */
};

/* Random DAG of n tasks named a, b and x (about a third each), each reading
 * 0..3 earlier ones; fail_rate of them fail; with `dual`, about half have a
 * CUDA implementation too (x ones included). */
Dag RandomDag(uint64_t seed, int n, double fail_rate, bool dual) {
  std::mt19937_64 rng(seed);
  Dag d;
  d.g = MakeGraph();
  std::vector<std::vector<dtx_task_id>> inputs;
  std::vector<bool> is_x, fails;
  static const char *const names[] = {"a", "b", "x"};
  for (int i = 0; i < n; i++) {
    const char *name = names[rng() % 3];
    WorkArgs a{i, std::uniform_real_distribution<double>(0, 1)(rng) < fail_rate ? 1 : 0, name[0] == 'x'};
    dtx_task_desc t = Desc(name, Work, {i});
    t.args = &a;
    t.args_size = sizeof a;
    if (dual && rng() % 2 == 0) t.cuda = NotOnSim;
    std::vector<dtx_task_id> in;
    if (i > 0)
      for (int k = static_cast<int>(rng() % 4); k > 0; k--) in.push_back(static_cast<dtx_task_id>(rng() % i));
    t.inputs = in.data();
    t.ninputs = static_cast<int>(in.size());
    dtx_task_id id = 0;
    EXPECT_EQ(dtx_graph_add(d.g.get(), &t, &id), DTX_OK) << dtx_last_error();
    inputs.push_back(in);
    is_x.push_back(a.claimed != 0);
    fails.push_back(a.fail != 0);
  }
  for (int k = 0; k < 5; k++) d.outs.push_back(static_cast<dtx_task_id>(rng() % n));
  d.outs.push_back(static_cast<dtx_task_id>(n - 1));
  /* The run: the outputs' ancestors. */
  std::set<dtx_task_id> seen;
  std::vector<dtx_task_id> stack(d.outs.begin(), d.outs.end());
  while (!stack.empty()) {
    dtx_task_id v = stack.back();
    stack.pop_back();
    if (!seen.insert(v).second) continue;
    d.x_in_run += is_x[v];
    d.failing += fails[v];
    for (dtx_task_id u : inputs[v]) stack.push_back(u);
  }
  return d;
}

/* Each output as its bytes or "error: <message>". */
std::vector<std::string> Compute(dtx_cluster *cl, const Dag &d, dtx_scheduler s, dtx_status *rc) {
  Results res(d.outs.size());
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = s;
  *rc = dtx_compute(cl, d.g.get(), d.outs.data(), static_cast<int>(d.outs.size()), res.data(), &o);
  std::vector<std::string> out;
  for (size_t i = 0; i < res.size(); i++) {
    dtx_chunk *c = res[i];
    if (c == nullptr)
      out.push_back("<null>");
    else if (dtx_chunk_status(c) != DTX_OK)
      out.push_back(std::string("error: ") + dtx_chunk_error(c));
    else
      out.push_back(std::string(static_cast<const char *>(dtx_chunk_data(c)), dtx_chunk_size(c)));
  }
  return out;
}

ClusterPtr ClusterWith(int threads, const char *gpus) {
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.scheduler = DTX_SCHED_CLUSTER;
  cfg.num_threads = threads;
  cfg.gpus = gpus;
  cfg.log_level = DTX_LOG_NONE;
  dtx_cluster *cl = nullptr;
  EXPECT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  return ClusterPtr(cl);
}

struct Tally {
  int dags = 0, tasks_claimed = 0, errors = 0;
};

/* Computes d with `sync` and with the cluster scheduler on cl (whose
 * registered executor is ex) and checks that they agree and that ex ran
 * exactly its tasks. */
void CheckAgainstSync(dtx_cluster *cl, TestExec &ex, const Dag &d, Tally &tally) {
  dtx_status rs, rc;
  g_exec_thread = ex.thread_id();
  ex.Reset();
  g_x_on_exec = 0;
  g_x_elsewhere = 0;
  std::vector<std::string> want = Compute(cl, d, DTX_SCHED_SYNC, &rs);
  EXPECT_EQ(ex.claimed(), 0) << "sync offered tasks to an executor";
  EXPECT_EQ(g_x_on_exec.load(), 0);
  g_x_elsewhere = 0;
  std::vector<std::string> got = Compute(cl, d, DTX_SCHED_CLUSTER, &rc);
  EXPECT_EQ(rc, rs) << dtx_last_error();
  EXPECT_EQ(got, want);
  EXPECT_EQ(ex.claimed(), d.x_in_run);
  EXPECT_EQ(ex.ran() + ex.skipped(), d.x_in_run);
  EXPECT_EQ(g_x_on_exec.load(), ex.ran()) << "x tasks the executor ran";
  EXPECT_EQ(g_x_elsewhere.load(), 0) << "x tasks run by another executor";
  if (d.failing == 0) {
    EXPECT_EQ(ex.skipped(), 0);
  }
  tally.dags++;
  tally.tasks_claimed += d.x_in_run;
  for (const std::string &s : got) tally.errors += s.rfind("error: ", 0) == 0;
}

}  // namespace

TEST(Executor, RandomDagsMatchSync) {
  const int rounds = kSanitized ? 40 : 80;
  for (int threads : {1, 3}) {
    TestExec ex("x");
    ClusterPtr cl = ClusterWith(threads, "none");
    ASSERT_NE(cl, nullptr);
    ASSERT_EQ(dtxi_sched_add_executor(cl.get(), ex.table()), DTX_OK) << dtx_last_error();
    Tally tally;
    const uint64_t base = 7000 + 1000 * static_cast<uint64_t>(threads);
    for (int i = 0; i < rounds; i++) {
      uint64_t seed = base + static_cast<uint64_t>(i);
      SCOPED_TRACE(::testing::Message() << "threads " << threads << " seed " << seed);
      Dag d = RandomDag(seed, 1 + static_cast<int>(seed * 37 % 200), 0, false);
      CheckAgainstSync(cl.get(), ex, d, tally);
      if (HasFailure()) break;
    }
    std::printf("threads %d: %d DAGs from seed %llu, %d tasks run by the test executor\n", threads,
                tally.dags, static_cast<unsigned long long>(base), tally.tasks_claimed);
    EXPECT_GT(tally.tasks_claimed, rounds);
  }
}

TEST(Executor, FailuresCrossExecutors) {
  const int rounds = kSanitized ? 40 : 80;
  TestExec ex("x");
  ClusterPtr cl = ClusterWith(2, "none");
  ASSERT_NE(cl, nullptr);
  ASSERT_EQ(dtxi_sched_add_executor(cl.get(), ex.table()), DTX_OK) << dtx_last_error();
  Tally tally;
  int x_failed_downstream = 0, cpu_failed_into_x = 0;
  /* At least `rounds` DAGs, and on until failures have crossed both ways
   * (which DAGs show it depends on their sizes, smaller in sanitizer builds). */
  for (int i = 0; i < 20 * rounds && (i < rounds || x_failed_downstream == 0 || cpu_failed_into_x == 0);
       i++) {
    uint64_t seed = 90000 + static_cast<uint64_t>(i);
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    Dag d = RandomDag(seed, 20 + static_cast<int>(seed * 37 % 150), 0.05, false);
    CheckAgainstSync(cl.get(), ex, d, tally);
    if (HasFailure()) break;
    /* Which way failures went: an output of another kind naming an x task,
     * an x output naming another kind ("error: <failing key>: boom ..."). */
    dtx_status rc;
    std::vector<std::string> got = Compute(cl.get(), d, DTX_SCHED_CLUSTER, &rc);
    for (size_t j = 0; j < got.size(); j++) {
      char key[DTX_MAX_KEY];
      ASSERT_EQ(dtx_graph_key(d.g.get(), d.outs[j], key, sizeof key), DTX_OK);
      bool out_x = key[0] == 'x';
      if (got[j].rfind("error: ", 0) != 0) continue;
      EXPECT_NE(got[j].find(": boom "), std::string::npos) << got[j];
      bool from_x = got[j].rfind("error: x", 0) == 0;
      if (from_x && !out_x) x_failed_downstream++;
      if (!from_x && out_x) cpu_failed_into_x++;
    }
  }
  std::printf(
      "%d DAGs from seed 90000: %d outputs erred, %d from an x task into another, %d into an x task\n",
      tally.dags, tally.errors, x_failed_downstream, cpu_failed_into_x);
  EXPECT_GT(x_failed_downstream, 0);
  EXPECT_GT(cpu_failed_into_x, 0);
}

/* On simulated GPUs the table is test executor, GPUs, CPU threads: x tasks
 * with a CUDA implementation still go to the test executor (first claim
 * wins), the other dual tasks to the GPUs. */
TEST(Executor, BesideSimulatedGpus) {
  const int rounds = kSanitized ? 20 : 40;
  TestExec ex("x");
  ClusterPtr cl = ClusterWith(2, "sim:2");
  ASSERT_NE(cl, nullptr);
  ASSERT_EQ(dtx_cluster_num_gpus(cl.get()), 2);
  ASSERT_EQ(dtxi_sched_add_executor(cl.get(), ex.table()), DTX_OK) << dtx_last_error();
  Tally tally;
  g_on_gpu = 0;
  for (int i = 0; i < rounds; i++) {
    uint64_t seed = 31000 + static_cast<uint64_t>(i);
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    Dag d = RandomDag(seed, 20 + static_cast<int>(seed * 37 % 150), i % 2 ? 0.03 : 0, true);
    CheckAgainstSync(cl.get(), ex, d, tally);
    if (HasFailure()) break;
  }
  std::printf("%d DAGs from seed 31000: %d tasks run by the test executor, %d on GPUs\n", tally.dags,
              tally.tasks_claimed, g_on_gpu.load());
  EXPECT_GT(g_on_gpu.load(), 0) << "no task ran on a GPU";
  EXPECT_GT(tally.tasks_claimed, rounds);
}

/* The threads scheduler is the CPU threads alone: registered executors are
 * not asked. */
TEST(Executor, ThreadsSchedulerDoesNotOfferTasks) {
  TestExec ex("x");
  ClusterPtr cl = ClusterWith(2, "none");
  ASSERT_NE(cl, nullptr);
  ASSERT_EQ(dtxi_sched_add_executor(cl.get(), ex.table()), DTX_OK) << dtx_last_error();
  Dag d = RandomDag(5, 150, 0, false);
  ASSERT_GT(d.x_in_run, 0);
  g_exec_thread = ex.thread_id();
  g_x_on_exec = 0;
  dtx_status rt, rs;
  std::vector<std::string> got = Compute(cl.get(), d, DTX_SCHED_THREADS, &rt);
  std::vector<std::string> want = Compute(cl.get(), d, DTX_SCHED_SYNC, &rs);
  ASSERT_EQ(rt, DTX_OK) << dtx_last_error();
  EXPECT_EQ(got, want);
  EXPECT_EQ(ex.claimed(), 0);
  EXPECT_EQ(g_x_on_exec.load(), 0);
}

TEST(Executor, RegistrationIsBounded) {
  ClusterPtr cl = ClusterWith(1, "none");
  ASSERT_NE(cl, nullptr);
  std::vector<std::unique_ptr<TestExec>> execs;
  for (int i = 0; i < DTXI_MAX_REGISTERED; i++) {
    execs.push_back(std::make_unique<TestExec>("x"));
    EXPECT_EQ(dtxi_sched_add_executor(cl.get(), execs.back()->table()), DTX_OK) << dtx_last_error();
  }
  TestExec extra("x");
  EXPECT_EQ(dtxi_sched_add_executor(cl.get(), extra.table()), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("at most"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtxi_sched_add_executor(nullptr, extra.table()), DTX_EINVAL);
  cl.reset(); /* before the executors it holds */
}
