/*
 * tests/future_test.cc - futures: submit, wait, result, chains, gather,
 * wait_any, as_completed, cancel, retries, error propagation, submission from
 * many host threads and from inside tasks (nested waits), timeouts, release
 * and cluster destruction with work pending.
 *
 * No test sleeps to wait for something: tasks block on Gates the test opens,
 * and every wait has a deadline so a deadlock fails instead of hanging.
 */
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dtx/dtx.h"
#include "test_util.h"

using namespace dtxt;

namespace {

/* ---- tasks --------------------------------------------------------------------- */

/* out = args (int64) + sum of inputs. */
int AddUp(dtx_task_ctx *ctx) {
  int64_t s = Arg<int64_t>(ctx);
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) s += InputI64(ctx, i);
  return OutputI64(ctx, s);
}

/* out = k * 1000^n + inputs in order, base 1000: order-sensitive. */
int Digits(dtx_task_ctx *ctx) {
  int64_t s = Arg<int64_t>(ctx);
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) s = s * 1000 + InputI64(ctx, i);
  return OutputI64(ctx, s);
}

/* Blocks on a gate, then outputs value; counts runs. */
struct GateArgs {
  Gate *gate;
  int64_t value;
  std::atomic<int> *runs;
};
int Gated(dtx_task_ctx *ctx) {
  GateArgs a = Arg<GateArgs>(ctx);
  if (a.runs != nullptr) a.runs->fetch_add(1);
  if (!a.gate->Pass()) return dtx_task_fail(ctx, "gate never opened");
  int64_t s = a.value;
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) s += InputI64(ctx, i);
  return OutputI64(ctx, s);
}

/* Counts its runs; out = args.value + sum of inputs. */
struct CountArgs {
  std::atomic<int> *runs;
  int64_t value;
};
int Counted(dtx_task_ctx *ctx) {
  CountArgs a = Arg<CountArgs>(ctx);
  if (a.runs != nullptr) a.runs->fetch_add(1);
  int64_t s = a.value;
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) s += InputI64(ctx, i);
  return OutputI64(ctx, s);
}

/* Fails while dtx_task_attempt < fail_until. */
struct FlakyArgs {
  std::atomic<int> *runs;
  int fail_until;
};
int Flaky(dtx_task_ctx *ctx) {
  FlakyArgs a = Arg<FlakyArgs>(ctx);
  a.runs->fetch_add(1);
  int at = dtx_task_attempt(ctx);
  if (at < a.fail_until) return dtx_task_fail(ctx, "attempt %d", at);
  return OutputI64(ctx, 100 + at);
}

int Boom(dtx_task_ctx *ctx) { return dtx_task_fail(ctx, "kaput"); }

double CpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

template <typename A>
dtx_future *Submit(dtx_cluster *cl, const char *name, std::initializer_list<int64_t> idx, dtx_task_fn fn,
                   const A &args, std::vector<dtx_future *> in = {}, int retries = 0) {
  dtx_task_desc d = Desc(name, fn, idx);
  d.args = &args;
  d.args_size = sizeof args;
  d.retries = retries;
  dtx_future *f = nullptr;
  dtx_status rc = dtx_submit(cl, &d, in.empty() ? nullptr : in.data(), static_cast<int>(in.size()), &f);
  EXPECT_EQ(rc, DTX_OK) << dtx_last_error();
  return rc == DTX_OK ? f : nullptr;
}

dtx_future *SubmitValue(dtx_cluster *cl, const char *name, std::initializer_list<int64_t> idx, int64_t v,
                        std::vector<dtx_future *> in = {}) {
  return Submit(cl, name, idx, AddUp, v, in);
}

/* Waits with the deadline, then reads an int64 result. */
int64_t ResultI64(dtx_future *f) {
  EXPECT_NE(f, nullptr);
  if (f == nullptr) return -1;
  EXPECT_EQ(dtx_future_wait(f, kDeadlineMs), DTX_OK) << "deadline passed";
  const void *p = nullptr;
  size_t n = 0;
  dtx_status rc = dtx_future_result(f, &p, &n);
  EXPECT_EQ(rc, DTX_OK) << dtx_last_error();
  int64_t v = -1;
  if (rc == DTX_OK && p != nullptr && n == sizeof v) std::memcpy(&v, p, sizeof v);
  EXPECT_EQ(n, sizeof v);
  return v;
}

class Futures : public ::testing::Test {
 protected:
  void SetUp() override {
    cl_ = MakeCluster(DTX_SCHED_THREADS, 2);
    ASSERT_NE(cl_, nullptr);
  }
  dtx_cluster *cl() { return cl_.get(); }
  ClusterPtr cl_;
};

}  // namespace

/* ---- basics ------------------------------------------------------------------------ */

TEST_F(Futures, SubmitWaitResult) {
  dtx_future *f = SubmitValue(cl(), "val", {}, 41);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(dtx_future_wait(f, kDeadlineMs), DTX_OK);
  EXPECT_TRUE(dtx_future_done(f));
  EXPECT_EQ(dtx_future_status(f), DTX_OK);
  EXPECT_EQ(dtx_future_error(f), nullptr);
  EXPECT_EQ(ResultI64(f), 41);
  /* Waiting again on a finished future is immediate. */
  EXPECT_EQ(dtx_future_wait(f, 0), DTX_OK);
  dtx_future_release(f);
  dtx_future_release(nullptr);
}

TEST_F(Futures, ResultWaits) {
  /* dtx_future_result waits by itself. */
  Gate gate;
  GateArgs ga{&gate, 5, nullptr};
  FuturePtr f(Submit(cl(), "gated", {}, Gated, ga));
  ASSERT_TRUE(f);
  ASSERT_TRUE(gate.WaitStarted(1));
  std::thread opener([&] { gate.Open(); });
  const void *p = nullptr;
  size_t n = 0;
  ASSERT_EQ(dtx_future_result(f.get(), &p, &n), DTX_OK) << dtx_last_error();
  opener.join();
  ASSERT_EQ(n, sizeof(int64_t));
  EXPECT_EQ(*static_cast<const int64_t *>(p), 5);
}

TEST_F(Futures, BadSubmitRejected) {
  dtx_future *f = reinterpret_cast<dtx_future *>(0x1);
  dtx_task_desc d = Desc("x", AddUp);
  EXPECT_EQ(dtx_submit(cl(), nullptr, nullptr, 0, &f), DTX_EINVAL);
  EXPECT_EQ(dtx_submit(nullptr, &d, nullptr, 0, &f), DTX_EINVAL);
  EXPECT_EQ(dtx_submit(cl(), &d, nullptr, 2, &f), DTX_EINVAL);
  EXPECT_EQ(dtx_submit(cl(), &d, nullptr, -1, &f), DTX_EINVAL);
  dtx_task_id ids[1] = {0};
  dtx_task_desc withids = d;
  withids.inputs = ids;
  withids.ninputs = 1;
  EXPECT_EQ(dtx_submit(cl(), &withids, nullptr, 0, &f), DTX_EINVAL);
  dtx_task_desc noimpl = Desc("x", nullptr);
  EXPECT_EQ(dtx_submit(cl(), &noimpl, nullptr, 0, &f), DTX_EINVAL);
  dtx_task_desc noname = Desc(nullptr, AddUp);
  EXPECT_EQ(dtx_submit(cl(), &noname, nullptr, 0, &f), DTX_EINVAL);
  dtx_future *nullin[1] = {nullptr};
  EXPECT_EQ(dtx_submit(cl(), &d, nullin, 1, &f), DTX_EINVAL);
  EXPECT_EQ(f, reinterpret_cast<dtx_future *>(0x1)) << "*out written on failure";
  EXPECT_STRNE(dtx_last_error(), "");
}

TEST_F(Futures, ChainsViaInputs) {
  /* x0 = 1; x_{i+1} = x_i + i; handles released as soon as the next is submitted. */
  const int n = 500;
  dtx_future *prev = SubmitValue(cl(), "c", {0}, 1);
  int64_t want = 1;
  for (int i = 1; i < n; i++) {
    dtx_future *next = SubmitValue(cl(), "c", {i}, i, {prev});
    ASSERT_NE(next, nullptr);
    dtx_future_release(prev);
    prev = next;
    want += i;
  }
  EXPECT_EQ(ResultI64(prev), want);
  dtx_future_release(prev);
}

TEST_F(Futures, InputOrderAndDiamond) {
  FuturePtr a(SubmitValue(cl(), "a", {}, 7));
  FuturePtr b(Submit(cl(), "b", {}, Digits, int64_t(1), {a.get()})); /* 1007 */
  FuturePtr c(Submit(cl(), "c", {}, Digits, int64_t(2), {a.get()})); /* 2007 */
  FuturePtr d(Submit(cl(), "d", {}, Digits, int64_t(0), {c.get(), b.get(), a.get()}));
  /* ((0*1000 + 2007)*1000 + 1007)*1000 + 7 */
  EXPECT_EQ(ResultI64(d.get()), (int64_t(2007) * 1000 + 1007) * 1000 + 7);
  FuturePtr e(Submit(cl(), "e", {}, Digits, int64_t(0), {a.get(), a.get()}));
  EXPECT_EQ(ResultI64(e.get()), 7007);
}

TEST_F(Futures, Gather) {
  const int n = 64;
  std::vector<dtx_future *> fs;
  for (int i = 0; i < n; i++) fs.push_back(SubmitValue(cl(), "g", {i}, int64_t(i) * i));
  std::vector<const void *> data(n, nullptr);
  std::vector<size_t> sizes(n, 0);
  ASSERT_EQ(dtx_gather(fs.data(), n, data.data(), sizes.data(), kDeadlineMs), DTX_OK) << dtx_last_error();
  for (int i = 0; i < n; i++) {
    ASSERT_EQ(sizes[i], sizeof(int64_t)) << i;
    ASSERT_NE(data[i], nullptr);
    EXPECT_EQ(*static_cast<const int64_t *>(data[i]), int64_t(i) * i) << i;
    EXPECT_TRUE(dtx_future_done(fs[i]));
  }
  EXPECT_EQ(dtx_gather(fs.data(), n, nullptr, nullptr, kDeadlineMs), DTX_OK);
  EXPECT_EQ(dtx_gather(fs.data(), 0, nullptr, nullptr, kDeadlineMs), DTX_OK);

  /* One failure: gather returns it (after waiting for all). */
  dtx_task_desc d = Desc("broken", Boom, {3});
  dtx_future *bad = nullptr;
  ASSERT_EQ(dtx_submit(cl(), &d, nullptr, 0, &bad), DTX_OK);
  std::vector<dtx_future *> mixed = {fs[0], bad, fs[1]};
  std::vector<const void *> md(3, nullptr);
  std::vector<size_t> ms(3, 99);
  EXPECT_EQ(dtx_gather(mixed.data(), 3, md.data(), ms.data(), kDeadlineMs), DTX_ETASK);
  EXPECT_NE(std::string(dtx_last_error()).find("broken[3]"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(*static_cast<const int64_t *>(md[2]), 1);
  dtx_future_release(bad);
  for (dtx_future *f : fs) dtx_future_release(f);
}

TEST_F(Futures, WaitAny) {
  Gate gate;
  GateArgs ga{&gate, 1, nullptr};
  FuturePtr blocked(Submit(cl(), "blocked", {}, Gated, ga));
  ASSERT_TRUE(gate.WaitStarted(1));
  int idx = -1;
  dtx_future *one[1] = {blocked.get()};
  EXPECT_EQ(dtx_wait_any(one, 1, 20, &idx), DTX_ETIMEDOUT);
  FuturePtr free_(SubmitValue(cl(), "free", {}, 2));
  dtx_future *fs[2] = {blocked.get(), free_.get()};
  ASSERT_EQ(dtx_wait_any(fs, 2, kDeadlineMs, &idx), DTX_OK);
  EXPECT_EQ(idx, 1);
  EXPECT_FALSE(dtx_future_done(blocked.get()));
  gate.Open();
  EXPECT_EQ(ResultI64(blocked.get()), 1);
  ASSERT_EQ(dtx_wait_any(one, 1, kDeadlineMs, &idx), DTX_OK);
  EXPECT_EQ(idx, 0);
}

/* ---- as_completed -------------------------------------------------------------------- */

TEST(FutureAsCompleted, YieldsInCompletionOrder) {
  const int n = 6;
  /* One worker per gated task so opening any gate lets its task finish. */
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, n);
  ASSERT_NE(cl, nullptr);
  std::vector<Gate> gates(n);
  std::vector<dtx_future *> fs;
  for (int i = 0; i < n; i++) {
    GateArgs ga{&gates[i], i, nullptr};
    fs.push_back(Submit(cl.get(), "ac", {i}, Gated, ga));
  }
  dtx_as_completed *it = nullptr;
  ASSERT_EQ(dtx_as_completed_create(fs.data(), n, &it), DTX_OK) << dtx_last_error();
  dtx_future *f = nullptr;
  EXPECT_EQ(dtx_as_completed_next(it, 10, &f), DTX_ETIMEDOUT);
  const int order[n] = {3, 0, 5, 1, 4, 2};
  for (int k = 0; k < n; k++) {
    gates[order[k]].Open();
    ASSERT_EQ(dtx_future_wait(fs[order[k]], kDeadlineMs), DTX_OK);
  }
  /* All finished before we ask: still in the order they finished. */
  for (int k = 0; k < n; k++) {
    f = nullptr;
    ASSERT_EQ(dtx_as_completed_next(it, kDeadlineMs, &f), DTX_OK);
    EXPECT_EQ(f, fs[order[k]]) << "position " << k;
  }
  f = fs[0];
  EXPECT_EQ(dtx_as_completed_next(it, kDeadlineMs, &f), DTX_EINVAL);
  EXPECT_EQ(f, nullptr);
  dtx_as_completed_destroy(it);
  dtx_as_completed_destroy(nullptr);
  for (dtx_future *x : fs) dtx_future_release(x);
}

TEST(FutureAsCompleted, InterleavedWithCompletion) {
  const int n = 5;
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, n);
  ASSERT_NE(cl, nullptr);
  std::vector<Gate> gates(n);
  std::vector<dtx_future *> fs;
  for (int i = 0; i < n; i++) {
    GateArgs ga{&gates[i], i, nullptr};
    fs.push_back(Submit(cl.get(), "ac", {i}, Gated, ga));
  }
  dtx_as_completed *it = nullptr;
  ASSERT_EQ(dtx_as_completed_create(fs.data(), n, &it), DTX_OK);
  const int order[n] = {4, 2, 0, 3, 1};
  std::vector<int> seen(n, 0);
  for (int k = 0; k < n; k++) {
    /* Open from another thread while next() is waiting. */
    std::thread opener([&, k] { gates[order[k]].Open(); });
    dtx_future *f = nullptr;
    ASSERT_EQ(dtx_as_completed_next(it, kDeadlineMs, &f), DTX_OK);
    opener.join();
    EXPECT_EQ(f, fs[order[k]]) << "position " << k;
    for (int i = 0; i < n; i++)
      if (f == fs[i]) seen[i]++;
    EXPECT_TRUE(dtx_future_done(f));
  }
  for (int i = 0; i < n; i++) EXPECT_EQ(seen[i], 1) << i;
  dtx_future *f = nullptr;
  EXPECT_EQ(dtx_as_completed_next(it, 0, &f), DTX_EINVAL);
  dtx_as_completed_destroy(it);
  for (dtx_future *x : fs) dtx_future_release(x);
}

TEST(FutureAsCompleted, ManyFuturesEachOnce) {
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, 4);
  ASSERT_NE(cl, nullptr);
  const int n = 2000 / kScale;
  std::vector<dtx_future *> fs;
  for (int i = 0; i < n; i++) fs.push_back(SubmitValue(cl.get(), "m", {i}, i));
  dtx_as_completed *it = nullptr;
  ASSERT_EQ(dtx_as_completed_create(fs.data(), n, &it), DTX_OK);
  std::vector<int> seen(n, 0);
  dtx_future *f = nullptr;
  int got = 0;
  while (dtx_as_completed_next(it, kDeadlineMs, &f) == DTX_OK) {
    auto pos = std::find(fs.begin(), fs.end(), f);
    ASSERT_NE(pos, fs.end());
    seen[pos - fs.begin()]++;
    EXPECT_TRUE(dtx_future_done(f));
    got++;
    ASSERT_LE(got, n);
  }
  EXPECT_EQ(got, n);
  for (int i = 0; i < n; i++) EXPECT_EQ(seen[i], 1) << i;
  dtx_as_completed_destroy(it);
  for (dtx_future *x : fs) dtx_future_release(x);
}

/* ---- cancel --------------------------------------------------------------------------- */

TEST_F(Futures, CancelPendingAndDependents) {
  Gate gate;
  std::atomic<int> runs{0};
  GateArgs ga{&gate, 10, nullptr};
  FuturePtr blocker(Submit(cl(), "blocker", {}, Gated, ga));
  ASSERT_TRUE(gate.WaitStarted(1));
  CountArgs c1{&runs, 1}, c2{&runs, 2}, c3{&runs, 1000};
  FuturePtr f(Submit(cl(), "victim", {}, Counted, c1, {blocker.get()}));
  FuturePtr g(Submit(cl(), "downstream", {}, Counted, c2, {f.get()}));
  FuturePtr h(Submit(cl(), "bystander", {}, Counted, c3, {blocker.get()}));
  ASSERT_TRUE(f && g && h);

  EXPECT_EQ(dtx_future_cancel(f.get()), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtx_future_wait(f.get(), kDeadlineMs), DTX_OK);
  EXPECT_EQ(dtx_future_status(f.get()), DTX_ECANCEL);
  EXPECT_EQ(dtx_future_wait(g.get(), kDeadlineMs), DTX_OK);
  EXPECT_EQ(dtx_future_status(g.get()), DTX_ECANCEL);
  const void *p = nullptr;
  size_t n = 0;
  EXPECT_EQ(dtx_future_result(g.get(), &p, &n), DTX_ECANCEL);
  EXPECT_STRNE(dtx_last_error(), "");
  EXPECT_EQ(dtx_future_result(f.get(), &p, &n), DTX_ECANCEL);
  /* Cancelling what is already finished (cancelled) is EBUSY. */
  EXPECT_EQ(dtx_future_cancel(f.get()), DTX_EBUSY);
  EXPECT_EQ(dtx_future_cancel(g.get()), DTX_EBUSY);

  /* The blocker is running: EBUSY, and it is not disturbed. */
  EXPECT_EQ(dtx_future_cancel(blocker.get()), DTX_EBUSY);
  gate.Open();
  EXPECT_EQ(ResultI64(blocker.get()), 10);
  EXPECT_EQ(ResultI64(h.get()), 1010);
  EXPECT_EQ(dtx_future_status(h.get()), DTX_OK);
  EXPECT_EQ(runs.load(), 1) << "a cancelled task ran";
  EXPECT_EQ(dtx_future_cancel(blocker.get()), DTX_EBUSY) << "finished";
  /* Submitting on top of a cancelled future gives a cancelled future. */
  FuturePtr late(Submit(cl(), "late", {}, Counted, c2, {f.get()}));
  ASSERT_TRUE(late);
  EXPECT_EQ(dtx_future_wait(late.get(), kDeadlineMs), DTX_OK);
  EXPECT_EQ(dtx_future_status(late.get()), DTX_ECANCEL);
  EXPECT_EQ(runs.load(), 1);
}

TEST_F(Futures, CancelQueuedRoot) {
  /* Both workers blocked; a queued root (no inputs) is cancellable. */
  Gate gate;
  GateArgs ga{&gate, 0, nullptr};
  FuturePtr b1(Submit(cl(), "b", {1}, Gated, ga));
  FuturePtr b2(Submit(cl(), "b", {2}, Gated, ga));
  ASSERT_TRUE(gate.WaitStarted(2));
  std::atomic<int> runs{0};
  CountArgs c{&runs, 5};
  FuturePtr q(Submit(cl(), "queued", {}, Counted, c));
  FuturePtr dep(Submit(cl(), "dep", {}, Counted, c, {q.get()}));
  EXPECT_EQ(dtx_future_cancel(q.get()), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtx_future_status(q.get()), DTX_ECANCEL);
  gate.Open();
  EXPECT_EQ(dtx_future_wait(dep.get(), kDeadlineMs), DTX_OK);
  EXPECT_EQ(dtx_future_status(dep.get()), DTX_ECANCEL);
  EXPECT_EQ(ResultI64(b1.get()), 0);
  EXPECT_EQ(ResultI64(b2.get()), 0);
  /* After the workers are free, a new task still runs: cancel left no mess. */
  FuturePtr after(Submit(cl(), "after", {}, Counted, c));
  EXPECT_EQ(ResultI64(after.get()), 5);
  EXPECT_EQ(runs.load(), 1);
}

/* ---- retries and errors ------------------------------------------------------------------ */

TEST(FutureRetries, SucceedsWithinRetries) {
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, 2);
  ASSERT_NE(cl, nullptr);
  std::atomic<int> runs{0};
  FlakyArgs fa{&runs, 2};
  dtx_cluster_stats before = DTX_CLUSTER_STATS_INIT;
  ASSERT_EQ(dtx_cluster_get_stats(cl.get(), &before), DTX_OK);
  FuturePtr f(Submit(cl.get(), "flaky", {1}, Flaky, fa, {}, 2));
  EXPECT_EQ(ResultI64(f.get()), 102);
  EXPECT_EQ(dtx_future_status(f.get()), DTX_OK);
  EXPECT_EQ(runs.load(), 3);
  dtx_cluster_stats after = DTX_CLUSTER_STATS_INIT;
  ASSERT_EQ(dtx_cluster_get_stats(cl.get(), &after), DTX_OK);
  EXPECT_EQ(after.tasks_run - before.tasks_run, 3);
  EXPECT_EQ(after.tasks_failed - before.tasks_failed, 2);
}

TEST(FutureRetries, FailsPastRetries) {
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, 2);
  ASSERT_NE(cl, nullptr);
  std::atomic<int> runs{0};
  FlakyArgs fa{&runs, 2};
  FuturePtr f(Submit(cl.get(), "flaky", {2}, Flaky, fa, {}, 1));
  ASSERT_EQ(dtx_future_wait(f.get(), kDeadlineMs), DTX_OK);
  EXPECT_EQ(dtx_future_status(f.get()), DTX_ETASK);
  const void *p = reinterpret_cast<const void *>(0x1);
  size_t n = 0;
  EXPECT_EQ(dtx_future_result(f.get(), &p, &n), DTX_ETASK);
  std::string msg = dtx_last_error();
  EXPECT_NE(msg.find("flaky[2]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("attempt 1"), std::string::npos) << msg;
  ASSERT_NE(dtx_future_error(f.get()), nullptr);
  EXPECT_STREQ(dtx_future_error(f.get()), "flaky[2]: attempt 1");
  EXPECT_EQ(runs.load(), 2);

  /* No retries: one attempt, attempt index 0. */
  std::atomic<int> runs0{0};
  FlakyArgs f0{&runs0, 1};
  FuturePtr g(Submit(cl.get(), "once", {}, Flaky, f0));
  ASSERT_EQ(dtx_future_wait(g.get(), kDeadlineMs), DTX_OK);
  EXPECT_STREQ(dtx_future_error(g.get()), "once: attempt 0");
  EXPECT_EQ(runs0.load(), 1);
}

TEST_F(Futures, ErrorsPropagateToDependents) {
  std::atomic<int> runs{0};
  dtx_task_desc d = Desc("root", Boom, {4, 2});
  dtx_future *bad = nullptr;
  ASSERT_EQ(dtx_submit(cl(), &d, nullptr, 0, &bad), DTX_OK);
  FuturePtr badp(bad);
  FuturePtr ok(SubmitValue(cl(), "ok", {}, 3));
  CountArgs c{&runs, 1};
  FuturePtr mid(Submit(cl(), "mid", {}, Counted, c, {ok.get(), bad}));
  FuturePtr leaf(Submit(cl(), "leaf", {}, Counted, c, {mid.get()}));
  FuturePtr unrelated(Submit(cl(), "unrelated", {}, Counted, c, {ok.get()}));
  ASSERT_EQ(dtx_future_wait(leaf.get(), kDeadlineMs), DTX_OK);
  EXPECT_EQ(dtx_future_status(leaf.get()), DTX_ETASK);
  EXPECT_EQ(dtx_future_status(mid.get()), DTX_ETASK);
  EXPECT_EQ(dtx_future_status(bad), DTX_ETASK);
  ASSERT_NE(dtx_future_error(leaf.get()), nullptr);
  EXPECT_STREQ(dtx_future_error(leaf.get()), "root[4,2]: kaput");
  EXPECT_STREQ(dtx_future_error(mid.get()), "root[4,2]: kaput");
  const void *p = nullptr;
  size_t n = 0;
  EXPECT_EQ(dtx_future_result(leaf.get(), &p, &n), DTX_ETASK);
  EXPECT_NE(std::string(dtx_last_error()).find("root[4,2]"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(ResultI64(unrelated.get()), 4);
  EXPECT_EQ(runs.load(), 1) << "only `unrelated` runs";
}

/* ---- timeouts ------------------------------------------------------------------------------ */

TEST_F(Futures, Timeouts) {
  Gate gate;
  GateArgs ga{&gate, 9, nullptr};
  FuturePtr f(Submit(cl(), "slow", {}, Gated, ga));
  ASSERT_TRUE(gate.WaitStarted(1));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(dtx_future_wait(f.get(), 50), DTX_ETIMEDOUT);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(ms, 40) << "returned too early";
  EXPECT_EQ(dtx_future_wait(f.get(), 0), DTX_ETIMEDOUT);
  EXPECT_FALSE(dtx_future_done(f.get()));
  EXPECT_EQ(dtx_future_status(f.get()), DTX_EBUSY);
  EXPECT_EQ(dtx_future_error(f.get()), nullptr);
  dtx_future *fs[1] = {f.get()};
  EXPECT_EQ(dtx_gather(fs, 1, nullptr, nullptr, 10), DTX_ETIMEDOUT);
  int idx = -1;
  EXPECT_EQ(dtx_wait_any(fs, 1, 10, &idx), DTX_ETIMEDOUT);
  dtx_as_completed *it = nullptr;
  ASSERT_EQ(dtx_as_completed_create(fs, 1, &it), DTX_OK);
  dtx_future *got = nullptr;
  EXPECT_EQ(dtx_as_completed_next(it, 10, &got), DTX_ETIMEDOUT);
  gate.Open();
  EXPECT_EQ(dtx_as_completed_next(it, kDeadlineMs, &got), DTX_OK);
  EXPECT_EQ(got, f.get());
  dtx_as_completed_destroy(it);
  EXPECT_EQ(ResultI64(f.get()), 9);
}

TEST_F(Futures, ManyWaitersOnOneFuture) {
  Gate gate;
  GateArgs ga{&gate, 77, nullptr};
  FuturePtr f(Submit(cl(), "shared", {}, Gated, ga));
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 6; i++)
    ts.emplace_back([&] {
      if (ResultI64(f.get()) == 77) ok++;
    });
  gate.Open();
  for (auto &t : ts) t.join();
  EXPECT_EQ(ok.load(), 6);
}

/* ---- release ------------------------------------------------------------------------------- */

TEST_F(Futures, ReleaseBeforeFinish) {
  Gate gate;
  std::atomic<int> runs{0};
  GateArgs ga{&gate, 20, &runs};
  dtx_future *a = Submit(cl(), "a", {}, Gated, ga);
  ASSERT_NE(a, nullptr);
  FuturePtr b(SubmitValue(cl(), "b", {}, 1, {a}));
  dtx_future_release(a); /* b still needs it */
  /* A future nobody holds or needs: it still runs. */
  GateArgs ga2{&gate, 0, &runs};
  dtx_future *orphan = Submit(cl(), "orphan", {}, Gated, ga2);
  ASSERT_NE(orphan, nullptr);
  dtx_future_release(orphan);
  gate.Open();
  EXPECT_EQ(ResultI64(b.get()), 21);
  EXPECT_TRUE(gate.WaitPassed(2)) << "the released task did not run";
  EXPECT_EQ(runs.load(), 2);
}

/* ---- many host threads ---------------------------------------------------------------------- */

TEST(FutureThreads, SubmitFromEightHostThreads) {
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, 4);
  ASSERT_NE(cl, nullptr);
  const int nthreads = 8, per = 10000 / nthreads / kScale;
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < nthreads; t++) {
    ts.emplace_back([&, t] {
      std::vector<dtx_future *> fs;
      std::vector<int64_t> want;
      for (int i = 0; i < per; i++) {
        int64_t v = int64_t(t) * 1000003 + int64_t(i) * i;
        std::vector<dtx_future *> in;
        int64_t w = v;
        if (i % 5 == 1) {
          in.push_back(fs.back());
          w += want.back();
        }
        dtx_task_desc d = Desc("sq", AddUp, {t, i});
        d.args = &v;
        d.args_size = sizeof v;
        dtx_future *f = nullptr;
        if (dtx_submit(cl.get(), &d, in.empty() ? nullptr : in.data(), static_cast<int>(in.size()), &f) !=
            DTX_OK) {
          failed++;
          return;
        }
        fs.push_back(f);
        want.push_back(w);
      }
      std::vector<const void *> data(fs.size());
      std::vector<size_t> sizes(fs.size());
      if (dtx_gather(fs.data(), static_cast<int>(fs.size()), data.data(), sizes.data(), kDeadlineMs) !=
          DTX_OK)
        failed++;
      else
        for (size_t i = 0; i < fs.size(); i++)
          if (sizes[i] != 8 || *static_cast<const int64_t *>(data[i]) != want[i]) wrong++;
      for (dtx_future *f : fs) dtx_future_release(f);
    });
  }
  for (auto &t : ts) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
}

/* ---- submission from inside tasks ------------------------------------------------------------ */

namespace {

std::atomic<int64_t> g_fib_uid{0};

int Fib(dtx_task_ctx *ctx) {
  int64_t n = Arg<int64_t>(ctx);
  if (n < 2) return OutputI64(ctx, n);
  dtx_cluster *cl = dtx_task_cluster(ctx);
  if (cl == nullptr) return dtx_task_fail(ctx, "no cluster");
  dtx_future *f[2] = {nullptr, nullptr};
  for (int k = 0; k < 2; k++) {
    int64_t m = n - 1 - k;
    dtx_task_desc d = Desc("fib", Fib, {m, g_fib_uid.fetch_add(1)});
    d.args = &m;
    d.args_size = sizeof m;
    if (dtx_submit(cl, &d, nullptr, 0, &f[k]) != DTX_OK) {
      if (k == 1) dtx_future_release(f[0]);
      return dtx_task_fail(ctx, "submit: %s", dtx_last_error());
    }
  }
  int64_t s = 0;
  int rc = 0;
  for (int k = 0; k < 2 && rc == 0; k++) {
    if (dtx_future_wait(f[k], kDeadlineMs) != DTX_OK) {
      rc = dtx_task_fail(ctx, "nested wait timed out");
      break;
    }
    const void *p = nullptr;
    size_t sz = 0;
    if (dtx_future_result(f[k], &p, &sz) != DTX_OK || sz != 8) {
      rc = dtx_task_fail(ctx, "child failed: %s", dtx_future_error(f[k]) ? dtx_future_error(f[k]) : "?");
      break;
    }
    int64_t v;
    std::memcpy(&v, p, 8);
    s += v;
  }
  dtx_future_release(f[0]);
  dtx_future_release(f[1]);
  return rc != 0 ? rc : OutputI64(ctx, s);
}

int64_t FibRef(int n) {
  int64_t a = 0, b = 1;
  for (int i = 0; i < n; i++) {
    int64_t t = a + b;
    a = b;
    b = t;
  }
  return a;
}

/* Gathers its children by dtx_gather and sums them (wide nesting). */
int Spread(dtx_task_ctx *ctx) {
  int64_t depth = Arg<int64_t>(ctx);
  if (depth == 0) return OutputI64(ctx, 1);
  dtx_cluster *cl = dtx_task_cluster(ctx);
  dtx_future *fs[4] = {};
  for (int k = 0; k < 4; k++) {
    int64_t m = depth - 1;
    dtx_task_desc d = Desc("spread", Spread, {m, g_fib_uid.fetch_add(1)});
    d.args = &m;
    d.args_size = sizeof m;
    if (dtx_submit(cl, &d, nullptr, 0, &fs[k]) != DTX_OK) {
      for (int j = 0; j < k; j++) dtx_future_release(fs[j]);
      return dtx_task_fail(ctx, "submit failed");
    }
  }
  const void *data[4];
  size_t sizes[4];
  dtx_status rc = dtx_gather(fs, 4, data, sizes, kDeadlineMs);
  int64_t s = 0;
  if (rc == DTX_OK)
    for (int k = 0; k < 4; k++) s += *static_cast<const int64_t *>(data[k]);
  for (int k = 0; k < 4; k++) dtx_future_release(fs[k]);
  if (rc != DTX_OK) return dtx_task_fail(ctx, "gather: %s", dtx_status_name(rc));
  return OutputI64(ctx, s);
}

}  // namespace

class NestedSubmit : public ::testing::TestWithParam<int> {};

TEST_P(NestedSubmit, FibRecursionDoesNotDeadlock) {
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, GetParam());
  ASSERT_NE(cl, nullptr);
  const int n = kSanitized ? 12 : 15;
  int64_t m = n;
  dtx_task_desc d = Desc("fib", Fib, {m, g_fib_uid.fetch_add(1)});
  d.args = &m;
  d.args_size = sizeof m;
  dtx_future *f = nullptr;
  ASSERT_EQ(dtx_submit(cl.get(), &d, nullptr, 0, &f), DTX_OK) << dtx_last_error();
  FuturePtr fp(f);
  ASSERT_EQ(dtx_future_wait(f, 2 * kDeadlineMs), DTX_OK) << "nested waits deadlocked";
  ASSERT_EQ(dtx_future_status(f), DTX_OK) << dtx_future_error(f);
  EXPECT_EQ(ResultI64(f), FibRef(n));
}

TEST_P(NestedSubmit, NestedGather) {
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, GetParam());
  ASSERT_NE(cl, nullptr);
  const int64_t depth = kSanitized ? 3 : 5; /* 4^depth leaves */
  dtx_task_desc d = Desc("spread", Spread, {depth, g_fib_uid.fetch_add(1)});
  d.args = &depth;
  d.args_size = sizeof depth;
  dtx_future *f = nullptr;
  ASSERT_EQ(dtx_submit(cl.get(), &d, nullptr, 0, &f), DTX_OK) << dtx_last_error();
  FuturePtr fp(f);
  ASSERT_EQ(dtx_future_wait(f, 2 * kDeadlineMs), DTX_OK) << "nested gathers deadlocked";
  ASSERT_EQ(dtx_future_status(f), DTX_OK) << dtx_future_error(f);
  EXPECT_EQ(ResultI64(f), int64_t(1) << (2 * depth));
}

INSTANTIATE_TEST_SUITE_P(Workers, NestedSubmit, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int> &i) {
                           return "Threads" + std::to_string(i.param);
                         });

TEST(FutureNested, WaitInsideGraphTask) {
  /* A graph task (threads scheduler) submits a future and waits on it. */
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, 1);
  ASSERT_NE(cl, nullptr);
  GraphPtr g = MakeGraph();
  auto fn = [](dtx_task_ctx *ctx) -> int {
    int64_t m = 10;
    dtx_task_desc d = Desc("fib", Fib, {m, g_fib_uid.fetch_add(1)});
    d.args = &m;
    d.args_size = sizeof m;
    dtx_future *f = nullptr;
    if (dtx_submit(dtx_task_cluster(ctx), &d, nullptr, 0, &f) != DTX_OK) return dtx_task_fail(ctx, "submit");
    const void *p = nullptr;
    size_t n = 0;
    int rc = 0;
    if (dtx_future_wait(f, kDeadlineMs) != DTX_OK || dtx_future_result(f, &p, &n) != DTX_OK || n != 8)
      rc = dtx_task_fail(ctx, "nested future failed");
    int64_t v = 0;
    if (rc == 0) std::memcpy(&v, p, 8);
    dtx_future_release(f);
    return rc != 0 ? rc : OutputI64(ctx, v + 1);
  };
  dtx_task_desc d = Desc("outer", fn);
  dtx_task_id id = 0;
  ASSERT_EQ(dtx_graph_add(g.get(), &d, &id), DTX_OK);
  Results r(1);
  ASSERT_EQ(dtx_compute(cl.get(), g.get(), &id, 1, r.data(), nullptr), DTX_OK) << dtx_last_error();
  EXPECT_EQ(ChunkI64(r[0]), FibRef(10) + 1);
}

/* ---- destroy with work pending ------------------------------------------------------------- */

TEST(FutureDestroy, DestroyWithPendingFuturesDoesNotHang) {
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, 1);
  ASSERT_NE(cl, nullptr);
  Gate gate;
  std::atomic<int> runs{0};
  GateArgs ga{&gate, 1, nullptr};
  dtx_future *running = Submit(cl.get(), "running", {}, Gated, ga);
  ASSERT_TRUE(gate.WaitStarted(1));
  std::vector<dtx_future *> pending;
  std::vector<int64_t> want;
  for (int i = 0; i < 50; i++) {
    CountArgs c{&runs, i};
    pending.push_back(Submit(cl.get(), "pending", {i}, Counted, c));
    want.push_back(i);
  }
  for (int i = 0; i < 10; i++) {
    CountArgs c{&runs, 100 + i};
    pending.push_back(Submit(cl.get(), "dep", {i}, Counted, c, {running}));
    want.push_back(101 + i);
  }
  /* Destroy on another thread; it must return once the running task ends. */
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  dtx_cluster *raw = cl.release();
  std::thread destroyer([&] {
    dtx_cluster_destroy(raw);
    std::lock_guard<std::mutex> lk(m);
    done = true;
    cv.notify_all();
  });
  gate.Open();
  {
    std::unique_lock<std::mutex> lk(m);
    if (!cv.wait_for(lk, std::chrono::milliseconds(kDeadlineMs), [&] { return done; })) {
      std::fprintf(stderr, "FAILED: dtx_cluster_destroy hung with pending futures\n");
      std::fflush(stderr);
      std::_Exit(1);
    }
  }
  destroyer.join();
  /* Every handle is still valid and finished: the running one done, the
   * others done or cancelled. */
  EXPECT_EQ(dtx_future_wait(running, 0), DTX_OK);
  EXPECT_EQ(dtx_future_status(running), DTX_OK);
  int cancelled = 0;
  for (size_t i = 0; i < pending.size(); i++) {
    SCOPED_TRACE(i);
    ASSERT_NE(pending[i], nullptr);
    EXPECT_EQ(dtx_future_wait(pending[i], kDeadlineMs), DTX_OK);
    dtx_status s = dtx_future_status(pending[i]);
    EXPECT_TRUE(s == DTX_OK || s == DTX_ECANCEL) << dtx_status_name(s);
    if (s == DTX_OK) {
      const void *p = nullptr;
      size_t n = 0;
      ASSERT_EQ(dtx_future_result(pending[i], &p, &n), DTX_OK);
      EXPECT_EQ(*static_cast<const int64_t *>(p), want[i]);
    } else {
      cancelled++;
    }
  }
  EXPECT_EQ(cancelled + runs.load(), static_cast<int>(pending.size()));
  for (dtx_future *f : pending) dtx_future_release(f);
  dtx_future_release(running);
}

TEST(FutureDestroy, ReleaseAfterDestroyAndUnreleasedResults) {
  /* Finished futures outlive their cluster. */
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, 2);
  ASSERT_NE(cl, nullptr);
  dtx_future *f = SubmitValue(cl.get(), "kept", {}, 12);
  ASSERT_EQ(dtx_future_wait(f, kDeadlineMs), DTX_OK);
  cl.reset();
  EXPECT_EQ(ResultI64(f), 12);
  dtx_future_release(f);
}

TEST(FutureDestroy, CreateDestroyLoop) {
  /* Quick create/submit/destroy cycles, with and without waiting. */
  for (int i = 0; i < 50 / (kSanitized ? 5 : 1); i++) {
    ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, 1 + i % 3);
    ASSERT_NE(cl, nullptr);
    std::vector<dtx_future *> fs;
    for (int j = 0; j < 20; j++) {
      std::vector<dtx_future *> in;
      if (j > 0) in.push_back(fs.back());
      fs.push_back(SubmitValue(cl.get(), "q", {j}, j, in));
    }
    if (i % 2 == 0) {
      EXPECT_EQ(ResultI64(fs.back()), 19 * 20 / 2);
    }
    cl.reset();
    for (dtx_future *f : fs) {
      EXPECT_EQ(dtx_future_wait(f, kDeadlineMs), DTX_OK);
      dtx_status s = dtx_future_status(f);
      EXPECT_TRUE(s == DTX_OK || s == DTX_ECANCEL) << dtx_status_name(s);
      dtx_future_release(f);
    }
  }
}

/* ---- memory, idleness, edge cases ----------------------------------------------------------- */

namespace {
int MiB(dtx_task_ctx *ctx) {
  char *o = static_cast<char *>(dtx_task_output(ctx, 1 << 20));
  if (o == nullptr) return dtx_task_fail(ctx, "oom");
  std::memset(o, 1, 1 << 20);
  return 0;
}
}  // namespace

TEST_F(Futures, ResultsFreedOnRelease) {
  dtx_cluster_stats s0 = DTX_CLUSTER_STATS_INIT;
  ASSERT_EQ(dtx_cluster_get_stats(cl(), &s0), DTX_OK);
  std::vector<dtx_future *> fs;
  for (int i = 0; i < 8; i++) fs.push_back(Submit(cl(), "mib", {i}, MiB, 0));
  ASSERT_EQ(dtx_gather(fs.data(), 8, nullptr, nullptr, kDeadlineMs), DTX_OK);
  dtx_cluster_stats s1 = DTX_CLUSTER_STATS_INIT;
  ASSERT_EQ(dtx_cluster_get_stats(cl(), &s1), DTX_OK);
  EXPECT_GE(s1.bytes_in_use - s0.bytes_in_use, 8 << 20) << "results are held while their futures are";
  for (dtx_future *f : fs) dtx_future_release(f);
  /* The worker that ran a future drops its own reference just after the
   * future is marked finished, so the bytes may lag the release briefly. */
  EXPECT_TRUE(WaitUntil([&] {
    dtx_cluster_stats s = DTX_CLUSTER_STATS_INIT;
    dtx_cluster_get_stats(cl(), &s);
    return s.bytes_in_use == s0.bytes_in_use;
  })) << "released results never freed";
}

TEST_F(Futures, IdleAfterFutures) {
  std::vector<dtx_future *> fs;
  for (int i = 0; i < 100; i++) fs.push_back(SubmitValue(cl(), "v", {i}, i));
  ASSERT_EQ(dtx_gather(fs.data(), 100, nullptr, nullptr, kDeadlineMs), DTX_OK);
  for (dtx_future *f : fs) dtx_future_release(f);
  /* Measuring idleness itself: sleeping is the point here. */
  double c0 = CpuSeconds();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  double used = CpuSeconds() - c0;
  EXPECT_LT(used, 0.1) << "idle cluster burned " << used << " s of CPU in 1 s";
}

TEST_F(Futures, EmptySets) {
  dtx_as_completed *it = nullptr;
  ASSERT_EQ(dtx_as_completed_create(nullptr, 0, &it), DTX_OK) << dtx_last_error();
  dtx_future *f = reinterpret_cast<dtx_future *>(0x1);
  EXPECT_EQ(dtx_as_completed_next(it, 0, &f), DTX_EINVAL);
  EXPECT_EQ(f, nullptr);
  dtx_as_completed_destroy(it);
  int idx = -1;
  EXPECT_EQ(dtx_wait_any(nullptr, 0, 0, &idx), DTX_EINVAL);
  EXPECT_EQ(dtx_gather(nullptr, 0, nullptr, nullptr, 0), DTX_OK);
}

/* ---- cancel racing with execution ------------------------------------------------------------ */

namespace {
struct RaceArgs {
  std::atomic<int> *runs;
  int64_t value;
};
int RaceTask(dtx_task_ctx *ctx) {
  RaceArgs a = Arg<RaceArgs>(ctx);
  a.runs->fetch_add(1);
  uint64_t h = static_cast<uint64_t>(a.value);
  for (int i = 0; i < 2000; i++) h = Mix(h); /* a little work so cancels land mid-run */
  int64_t s = a.value + static_cast<int64_t>(h & 1);
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) s += InputI64(ctx, i);
  return OutputI64(ctx, s);
}
}  // namespace

TEST(FutureCancel, CancelRacingWithExecution) {
  ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, 4);
  ASSERT_NE(cl, nullptr);
  const int rounds = kSanitized ? 4 : 30, n = 300;
  int total_ok = 0, total_cancelled = 0, cancel_ok = 0, cancel_busy = 0;
  for (int round = 0; round < rounds; round++) {
    uint64_t seed = 7000 + static_cast<uint64_t>(round);
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    std::vector<std::atomic<int>> runs(n);
    std::vector<std::vector<int>> in(n);
    std::vector<int64_t> own(n), want(n);
    std::vector<dtx_future *> fs(n, nullptr);
    /* Plug all workers until half the cancels are in: those certainly find
     * their futures pending; the rest race with execution. */
    Gate plug;
    std::vector<FuturePtr> plugs;
    for (int w = 0; w < 4; w++) {
      GateArgs ga{&plug, 0, nullptr};
      plugs.emplace_back(Submit(cl.get(), "plug", {round, w}, Gated, ga));
    }
    ASSERT_TRUE(plug.WaitStarted(4));
    for (int i = 0; i < n; i++) {
      runs[i] = 0;
      int k = i == 0 ? 0 : static_cast<int>(rng() % 3);
      for (int j = 0; j < k; j++) in[i].push_back(static_cast<int>(rng() % static_cast<uint64_t>(i)));
      own[i] = static_cast<int64_t>(rng() % 1000);
      uint64_t h = static_cast<uint64_t>(own[i]);
      for (int r = 0; r < 2000; r++) h = Mix(h);
      want[i] = own[i] + static_cast<int64_t>(h & 1);
      for (int j : in[i]) want[i] += want[j];
      std::vector<dtx_future *> inf;
      for (int j : in[i]) inf.push_back(fs[j]);
      RaceArgs a{&runs[i], own[i]};
      fs[i] = Submit(cl.get(), "race", {round, i}, RaceTask, a, inf);
      ASSERT_NE(fs[i], nullptr);
    }
    /* Cancel a random third, in random order, while the workers run. */
    std::vector<int> order(n);
    for (int i = 0; i < n; i++) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    order.resize(n / 3);
    std::vector<dtx_status> cancel_rc(n, DTX_EINVAL);
    std::thread canceller([&] {
      for (size_t k = 0; k < order.size(); k++) {
        if (k == order.size() / 2) plug.Open();
        cancel_rc[order[k]] = dtx_future_cancel(fs[order[k]]);
      }
    });
    canceller.join();
    /* Everything finishes (done or cancelled) within the deadline. */
    dtx_status g = dtx_gather(fs.data(), n, nullptr, nullptr, kDeadlineMs);
    ASSERT_NE(g, DTX_ETIMEDOUT);
    /* The plugs leave the gate before it goes out of scope. */
    for (FuturePtr &p : plugs) ASSERT_EQ(dtx_future_wait(p.get(), kDeadlineMs), DTX_OK);
    /* Which futures have a successfully cancelled ancestor-or-self. */
    std::vector<bool> doomed(n, false);
    for (int i = 0; i < n; i++) {
      doomed[i] = cancel_rc[i] == DTX_OK;
      for (int j : in[i]) doomed[i] = doomed[i] || doomed[j];
    }
    int ok = 0, cancelled = 0;
    for (int i = 0; i < n; i++) {
      SCOPED_TRACE("future " + std::to_string(i));
      ASSERT_TRUE(dtx_future_done(fs[i]));
      dtx_status s = dtx_future_status(fs[i]);
      EXPECT_TRUE(cancel_rc[i] == DTX_OK || cancel_rc[i] == DTX_EBUSY || cancel_rc[i] == DTX_EINVAL)
          << dtx_status_name(cancel_rc[i]);
      EXPECT_LE(runs[i].load(), 1) << "ran twice";
      if (cancel_rc[i] == DTX_OK) {
        EXPECT_EQ(s, DTX_ECANCEL);
      }
      if (s == DTX_OK) {
        ok++;
        EXPECT_EQ(runs[i].load(), 1);
        EXPECT_FALSE(doomed[i]) << "succeeded although it or an input was cancelled";
        const void *p = nullptr;
        size_t sz = 0;
        ASSERT_EQ(dtx_future_result(fs[i], &p, &sz), DTX_OK);
        ASSERT_EQ(sz, 8u);
        EXPECT_EQ(*static_cast<const int64_t *>(p), want[i]);
      } else {
        cancelled++;
        EXPECT_EQ(s, DTX_ECANCEL) << dtx_status_name(s);
        EXPECT_EQ(runs[i].load(), 0) << "cancelled but ran";
        EXPECT_TRUE(doomed[i]) << "cancelled without a cancelled ancestor";
      }
    }
    for (int i : order) (cancel_rc[i] == DTX_OK ? cancel_ok : cancel_busy)++;
    total_ok += ok;
    total_cancelled += cancelled;
    for (dtx_future *f : fs) dtx_future_release(f);
    if (::testing::Test::HasFailure()) break;
  }
  std::printf("%d rounds: %d done, %d cancelled; cancel gave OK %d times, EBUSY %d times\n", rounds, total_ok,
              total_cancelled, cancel_ok, cancel_busy);
  EXPECT_GT(cancel_ok, 0);
  EXPECT_GT(total_ok, 0);
}

TEST_F(Futures, WaitingSleeps) {
  /* A host thread waiting (gather, wait, wait_any) uses no CPU while the
   * futures it waits on are blocked. The timeout is the measuring window. */
  Gate gate;
  GateArgs ga{&gate, 1, nullptr};
  FuturePtr blocked(Submit(cl(), "blocked", {}, Gated, ga));
  FuturePtr quick(SubmitValue(cl(), "quick", {}, 2));
  ASSERT_TRUE(gate.WaitStarted(1));
  ASSERT_EQ(dtx_future_wait(quick.get(), kDeadlineMs), DTX_OK);
  struct Case {
    const char *what;
    std::vector<dtx_future *> fs;
  } cases[] = {{"gather(blocked, done)", {blocked.get(), quick.get()}},
               {"gather(done, blocked)", {quick.get(), blocked.get()}},
               {"gather(blocked)", {blocked.get()}}};
  for (Case &c : cases) {
    SCOPED_TRACE(c.what);
    double c0 = CpuSeconds();
    EXPECT_EQ(dtx_gather(c.fs.data(), static_cast<int>(c.fs.size()), nullptr, nullptr, 300), DTX_ETIMEDOUT);
    double used = CpuSeconds() - c0;
    EXPECT_LT(used, 0.05) << "burned " << used << " s of CPU waiting 0.3 s";
  }
  double c0 = CpuSeconds();
  EXPECT_EQ(dtx_future_wait(blocked.get(), 300), DTX_ETIMEDOUT);
  EXPECT_LT(CpuSeconds() - c0, 0.05) << "dtx_future_wait spins";
  gate.Open();
  EXPECT_EQ(ResultI64(blocked.get()), 1);
}

/* ---- idle workers take queued work ----------------------------------------------------------- */

namespace {
/* Each task waits until `n` tasks have started, up to a deadline. */
struct Meet {
  std::mutex m;
  std::condition_variable cv;
  int started = 0;
  int n = 0;
};
int MeetTask(dtx_task_ctx *ctx) {
  Meet *mt = Arg<Meet *>(ctx);
  std::unique_lock<std::mutex> lk(mt->m);
  mt->started++;
  mt->cv.notify_all();
  bool all = mt->cv.wait_for(lk, std::chrono::milliseconds(kSanitized ? 10000 : 2000),
                             [&] { return mt->started >= mt->n; });
  int got = mt->started;
  lk.unlock();
  return all ? 0 : dtx_task_fail(ctx, "only %d of %d tasks started while workers were free", got, mt->n);
}
}  // namespace

TEST(FutureThreads, IdleWorkersTakeQueuedWork) {
  /* N workers, N ready futures that all must run at once: no worker may stay
   * asleep while a job waits in a queue. */
  for (int nw : {2, 4}) {
    SCOPED_TRACE("workers " + std::to_string(nw));
    ClusterPtr cl = MakeCluster(DTX_SCHED_THREADS, nw);
    ASSERT_NE(cl, nullptr);
    int stalled = 0;
    const int rounds = kSanitized ? 30 : 300;
    for (int round = 0; round < rounds && stalled == 0; round++) {
      /* Let the pool go idle-polling first, as between bursts of work. */
      FuturePtr warm(SubmitValue(cl.get(), "warm", {round}, 0));
      ASSERT_EQ(dtx_future_wait(warm.get(), kDeadlineMs), DTX_OK);
      Meet mt;
      mt.n = nw;
      Meet *mp = &mt;
      std::vector<dtx_future *> fs;
      for (int i = 0; i < nw; i++) fs.push_back(Submit(cl.get(), "meet", {round, i}, MeetTask, mp));
      dtx_status rc = dtx_gather(fs.data(), nw, nullptr, nullptr, kDeadlineMs);
      if (rc != DTX_OK) {
        stalled++;
        ADD_FAILURE() << "round " << round << ": " << dtx_last_error();
      }
      for (dtx_future *f : fs) dtx_future_release(f);
    }
  }
}
