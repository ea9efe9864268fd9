// tests/notifier_test.cc - the event count that idle workers sleep on
// (scheduler/notifier.h), through tests/sched_shim.h.
//
// Waiters follow the header's protocol: check the condition, prepare, check
// again, then cancel or commit; producers publish, then notify. The property
// is "no lost wake-up": every waiter whose condition becomes true wakes. A
// lost wake-up would hang, so every test runs its threads under a deadline:
// past it the test fails, and the notifiers are then broadcast until the
// threads return, so a failure never hangs the suite.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "sched_shim.h"
#include "test_util.h"

namespace {

struct NotifierDeleter {
  void operator()(dtxt_notifier *n) const { dtxt_notifier_free(n); }
};
using NotifierPtr = std::unique_ptr<dtxt_notifier, NotifierDeleter>;

// The waiter side of the protocol, as the pool's workers use it. Returns true
// once ready() holds, false when `abort` is set (the deadline passed).
bool WaitFor(dtxt_notifier *n, const std::function<bool()> &ready, const std::atomic<bool> &abort) {
  for (;;) {
    if (ready()) return true;
    if (abort.load()) return false;
    uint64_t epoch = dtxt_notifier_prepare(n);
    if (ready()) {
      dtxt_notifier_cancel(n);
      return true;
    }
    if (abort.load()) {
      dtxt_notifier_cancel(n);
      return false;
    }
    dtxt_notifier_commit(n, epoch);
  }
}

// Counts threads that returned; the monitor waits on it with a deadline.
struct Finished {
  std::mutex m;
  std::condition_variable cv;
  int n = 0;
  void Add() {
    std::lock_guard<std::mutex> lk(m);
    n++;
    cv.notify_all();
  }
  bool WaitFor(int want, std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lk(m);
    return cv.wait_for(lk, d, [&] { return n >= want; });
  }
};

// Runs fn(i, abort) for i in [0, nthreads) on threads and joins them. If they
// have not all returned by the deadline, the test fails (a lost wake-up), and
// `abort` is set and `ns` are broadcast until they do.
void RunWithDeadline(int nthreads, const std::function<void(int, const std::atomic<bool> &)> &fn,
                     const std::vector<dtxt_notifier *> &ns) {
  std::atomic<bool> abort{false};
  Finished fin;
  std::vector<std::thread> ts;
  for (int i = 0; i < nthreads; i++) {
    ts.emplace_back([&, i] {
      fn(i, abort);
      fin.Add();
    });
  }
  if (!fin.WaitFor(nthreads, std::chrono::milliseconds(dtxt::kDeadlineMs))) {
    ADD_FAILURE() << "threads still waiting after " << dtxt::kDeadlineMs << " ms: a lost wake-up";
    abort.store(true);
    bool back = false;
    for (int k = 0; k < 1000 && !back; k++) {  // about 10 s
      for (dtxt_notifier *n : ns) dtxt_notifier_notify(n, 1);
      back = fin.WaitFor(nthreads, std::chrono::milliseconds(10));
    }
    if (!back) {
      std::fprintf(stderr, "notifier_test: threads did not return even after broadcasts; aborting\n");
      std::abort();
    }
  }
  for (auto &t : ts) t.join();
}

TEST(Notifier, NotifyWithoutWaitersLeavesTheEpoch) {
  NotifierPtr n(dtxt_notifier_new());
  ASSERT_NE(n, nullptr);
  uint64_t e0 = dtxt_notifier_epoch(n.get());
  dtxt_notifier_notify(n.get(), 0);
  dtxt_notifier_notify(n.get(), 1);
  EXPECT_EQ(dtxt_notifier_epoch(n.get()), e0);
  EXPECT_EQ(dtxt_notifier_waiters(n.get()), 0);
  // A prepare then a cancel leaves no waiter behind.
  EXPECT_EQ(dtxt_notifier_prepare(n.get()), e0);
  EXPECT_EQ(dtxt_notifier_waiters(n.get()), 1);
  dtxt_notifier_cancel(n.get());
  EXPECT_EQ(dtxt_notifier_waiters(n.get()), 0);
  dtxt_notifier_notify(n.get(), 0);
  EXPECT_EQ(dtxt_notifier_epoch(n.get()), e0);
}

// A notify between prepare and commit moves the epoch, so the commit returns
// at once instead of sleeping (the window the protocol exists for).
TEST(Notifier, CommitAfterANotifyReturnsAtOnce) {
  NotifierPtr n(dtxt_notifier_new());
  ASSERT_NE(n, nullptr);
  std::atomic<int> committed{0};
  RunWithDeadline(1,
                  [&](int, const std::atomic<bool> &) {
                    for (int all = 0; all <= 1; all++) {
                      uint64_t e = dtxt_notifier_prepare(n.get());
                      dtxt_notifier_notify(n.get(), all);
                      EXPECT_EQ(dtxt_notifier_epoch(n.get()), e + 1);
                      dtxt_notifier_commit(n.get(), e);
                      committed.fetch_add(1);
                    }
                  },
                  {n.get()});
  EXPECT_EQ(committed.load(), 2);
  EXPECT_EQ(dtxt_notifier_waiters(n.get()), 0);
}

// Two threads pass a ball back and forth through one notifier with notify-one:
// each round, one side sleeps (or is about to) while the other publishes.
TEST(Notifier, PingPongLosesNoWakeup) {
  const int64_t rounds = dtxt::kSanitized ? 20000 : 50000;
  NotifierPtr n(dtxt_notifier_new());
  ASSERT_NE(n, nullptr);
  std::atomic<int64_t> ball{0};  // even: side 0 holds it, odd: side 1
  std::atomic<int64_t> passes{0};
  RunWithDeadline(2,
                  [&](int side, const std::atomic<bool> &abort) {
                    for (int64_t r = side; r < 2 * rounds; r += 2) {
                      if (!WaitFor(
                              n.get(), [&] { return ball.load() == r; }, abort))
                        return;
                      passes.fetch_add(1);
                      ball.store(r + 1);
                      dtxt_notifier_notify(n.get(), 0);
                    }
                  },
                  {n.get()});
  EXPECT_EQ(ball.load(), 2 * rounds);
  EXPECT_EQ(passes.load(), 2 * rounds);
  EXPECT_EQ(dtxt_notifier_waiters(n.get()), 0);
}

// Producers add tokens one at a time, each followed by a notify-one; waiters
// each take `per` tokens. Every token must reach a waiter: a lost wake-up
// leaves a token unclaimed and a waiter asleep, and the deadline fails.
TEST(Notifier, EveryTokenReachesAWaiter) {
  const int rounds = dtxt::kSanitized ? 12 : 20;
  const int per = dtxt::kSanitized ? 1000 : 2000;
  const uint64_t base_seed = 20240611;
  std::printf("Notifier.EveryTokenReachesAWaiter: seed %" PRIu64 ", %d rounds\n", base_seed, rounds);
  for (int round = 0; round < rounds; round++) {
    const uint64_t seed = base_seed + static_cast<uint64_t>(round);
    const int waiters = 1 + round % 4, producers = 1 + (round / 4) % 3;
    SCOPED_TRACE("round " + std::to_string(round) + ": " + std::to_string(waiters) + " waiters, " +
                 std::to_string(producers) + " producers, seed " + std::to_string(seed));
    NotifierPtr n(dtxt_notifier_new());
    ASSERT_NE(n, nullptr);
    const int64_t total = static_cast<int64_t>(waiters) * per;
    std::atomic<int64_t> tokens{0}, taken{0};
    auto take = [&] {
      int64_t t = tokens.load();
      while (t > 0)
        if (tokens.compare_exchange_weak(t, t - 1)) return true;
      return false;
    };
    RunWithDeadline(waiters + producers,
                    [&](int i, const std::atomic<bool> &abort) {
                      if (i < waiters) {
                        for (int k = 0; k < per; k++) {
                          if (!WaitFor(n.get(), take, abort)) return;
                          taken.fetch_add(1);
                        }
                        return;
                      }
                      // Producer p adds its share of the tokens, now and then yielding a
                      // little so the waiters go to sleep between tokens.
                      const int p = i - waiters;
                      std::mt19937_64 rng(seed * 31 + static_cast<uint64_t>(p));
                      for (int64_t k = p; k < total; k += producers) {
                        tokens.fetch_add(1);
                        dtxt_notifier_notify(n.get(), 0);
                        for (uint64_t y = rng() % 8; y > 4; y--) std::this_thread::yield();
                      }
                    },
                    {n.get()});
    EXPECT_EQ(taken.load(), total);
    EXPECT_EQ(tokens.load(), 0);
    EXPECT_EQ(dtxt_notifier_waiters(n.get()), 0);
    if (HasFailure()) return;
  }
}

// One notify(all) per round must wake every waiter, wherever each one is in
// its prepare/check/commit sequence. The round's producer waits for the
// waiters' acknowledgements on a second notifier, by the same protocol.
TEST(Notifier, NotifyAllWakesEveryWaiter) {
  const int waiters = 4;
  const int64_t rounds = dtxt::kSanitized ? 4000 : 10000;
  NotifierPtr go(dtxt_notifier_new()), ack(dtxt_notifier_new());
  ASSERT_NE(go, nullptr);
  ASSERT_NE(ack, nullptr);
  std::atomic<int64_t> gen{0}, arrived{0};
  RunWithDeadline(waiters + 1,
                  [&](int i, const std::atomic<bool> &abort) {
                    if (i < waiters) {
                      for (int64_t r = 1; r <= rounds; r++) {
                        if (!WaitFor(
                                go.get(), [&] { return gen.load() >= r; }, abort))
                          return;
                        arrived.fetch_add(1);
                        dtxt_notifier_notify(ack.get(), 0);
                      }
                      return;
                    }
                    for (int64_t r = 1; r <= rounds; r++) {
                      gen.store(r);
                      dtxt_notifier_notify(go.get(), 1);
                      if (!WaitFor(
                              ack.get(), [&] { return arrived.load() >= waiters * r; }, abort))
                        return;
                    }
                  },
                  {go.get(), ack.get()});
  EXPECT_EQ(gen.load(), rounds);
  EXPECT_EQ(arrived.load(), waiters * rounds);
  EXPECT_EQ(dtxt_notifier_waiters(go.get()), 0);
  EXPECT_EQ(dtxt_notifier_waiters(ack.get()), 0);
}

}  // namespace
