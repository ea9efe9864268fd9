// tests/deque_test.cc - the Chase-Lev work-stealing deque (scheduler/deque.c),
// through tests/sched_shim.h: single-threaded order (pop LIFO, steal FIFO),
// empty behaviour, growth (also with the live range wrapped around the
// array), and a seeded concurrent property: one owner pushing and popping
// while thieves steal, every pushed item taken exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "sched_shim.h"
#include "test_util.h"

namespace {

struct DequeDeleter {
  void operator()(dtxt_deque *d) const { dtxt_deque_free(d); }
};
using DequePtr = std::unique_ptr<dtxt_deque, DequeDeleter>;

DequePtr MakeDeque(int64_t capacity) {
  DequePtr d(dtxt_deque_new(capacity));
  EXPECT_NE(d, nullptr) << "dtxi_deque_init(" << capacity << ") failed";
  return d;
}

TEST(Deque, CapacityIsAPowerOfTwoAtLeast64) {
  for (int64_t want : {0, 1, 63, 64, 65, 100, 1000, 1024}) {
    DequePtr d = MakeDeque(want);
    ASSERT_NE(d, nullptr);
    int64_t cap = dtxt_deque_capacity(d.get());
    EXPECT_GE(cap, want) << "asked for " << want;
    EXPECT_GE(cap, 64) << "asked for " << want;
    EXPECT_EQ(cap & (cap - 1), 0) << "capacity " << cap << " for " << want;
    EXPECT_LT(cap, 2 * (want > 64 ? want : 64)) << "asked for " << want;
  }
}

TEST(Deque, EmptyPopAndStealGiveZero) {
  DequePtr d = MakeDeque(1);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(dtxt_deque_size(d.get()), 0);
  // Pops on an empty deque dip bottom below top and put it back: repeat them
  // and check that the deque still works afterwards.
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(dtxt_deque_pop(d.get()), 0u);
    EXPECT_EQ(dtxt_deque_steal(d.get()), 0u);
    EXPECT_EQ(dtxt_deque_size(d.get()), 0);
  }
  ASSERT_EQ(dtxt_deque_push(d.get(), 7), 0);
  EXPECT_EQ(dtxt_deque_size(d.get()), 1);
  EXPECT_EQ(dtxt_deque_pop(d.get()), 7u);
  EXPECT_EQ(dtxt_deque_pop(d.get()), 0u);
  ASSERT_EQ(dtxt_deque_push(d.get(), 8), 0);
  EXPECT_EQ(dtxt_deque_steal(d.get()), 8u);
  EXPECT_EQ(dtxt_deque_steal(d.get()), 0u);
  EXPECT_EQ(dtxt_deque_pop(d.get()), 0u);
  EXPECT_EQ(dtxt_deque_size(d.get()), 0);
}

TEST(Deque, PopTakesNewest) {
  DequePtr d = MakeDeque(64);
  ASSERT_NE(d, nullptr);
  for (uintptr_t i = 1; i <= 50; i++) ASSERT_EQ(dtxt_deque_push(d.get(), i), 0);
  EXPECT_EQ(dtxt_deque_size(d.get()), 50);
  for (uintptr_t i = 50; i >= 1; i--) ASSERT_EQ(dtxt_deque_pop(d.get()), i);
  EXPECT_EQ(dtxt_deque_pop(d.get()), 0u);
}

TEST(Deque, StealTakesOldest) {
  DequePtr d = MakeDeque(64);
  ASSERT_NE(d, nullptr);
  for (uintptr_t i = 1; i <= 50; i++) ASSERT_EQ(dtxt_deque_push(d.get(), i), 0);
  for (uintptr_t i = 1; i <= 50; i++) {
    ASSERT_EQ(dtxt_deque_steal(d.get()), i);
    EXPECT_EQ(dtxt_deque_size(d.get()), static_cast<int64_t>(50 - i));
  }
  EXPECT_EQ(dtxt_deque_steal(d.get()), 0u);
}

TEST(Deque, OwnerAndThiefMeetInTheMiddle) {
  DequePtr d = MakeDeque(64);
  ASSERT_NE(d, nullptr);
  for (uintptr_t i = 1; i <= 9; i++) ASSERT_EQ(dtxt_deque_push(d.get(), i), 0);
  // steal 1, pop 9, steal 2, pop 8, ... ; 5 is the last one, taken by the pop.
  for (uintptr_t k = 0; k < 4; k++) {
    EXPECT_EQ(dtxt_deque_steal(d.get()), 1 + k);
    EXPECT_EQ(dtxt_deque_pop(d.get()), 9 - k);
  }
  EXPECT_EQ(dtxt_deque_size(d.get()), 1);
  EXPECT_EQ(dtxt_deque_pop(d.get()), 5u);
  EXPECT_EQ(dtxt_deque_steal(d.get()), 0u);
  EXPECT_EQ(dtxt_deque_pop(d.get()), 0u);
}

// Pushing past the capacity doubles the array and keeps every item in order,
// also when the live range [top, bottom) wraps around the end of the array.
TEST(Deque, GrowsAndKeepsOrderAcrossTheWrap) {
  for (int64_t shift : {0, 1, 37, 63, 64, 100}) {
    SCOPED_TRACE("top advanced by " + std::to_string(shift));
    DequePtr d = MakeDeque(64);
    ASSERT_NE(d, nullptr);
    ASSERT_EQ(dtxt_deque_capacity(d.get()), 64);
    // Advance top (and bottom) so the next items start at slot shift % 64.
    for (int64_t i = 0; i < shift; i++) {
      ASSERT_EQ(dtxt_deque_push(d.get(), 1000000 + i), 0);
      ASSERT_EQ(dtxt_deque_steal(d.get()), static_cast<uintptr_t>(1000000 + i));
    }
    const uintptr_t n = 64 * 8 + 3;
    for (uintptr_t i = 1; i <= n; i++) ASSERT_EQ(dtxt_deque_push(d.get(), i), 0);
    EXPECT_EQ(dtxt_deque_size(d.get()), static_cast<int64_t>(n));
    EXPECT_EQ(dtxt_deque_capacity(d.get()), 1024);
    // The oldest half by stealing, the newest half by popping.
    for (uintptr_t i = 1; i <= n / 2; i++) ASSERT_EQ(dtxt_deque_steal(d.get()), i);
    for (uintptr_t i = n; i > n / 2; i--) ASSERT_EQ(dtxt_deque_pop(d.get()), i);
    EXPECT_EQ(dtxt_deque_pop(d.get()), 0u);
    EXPECT_EQ(dtxt_deque_steal(d.get()), 0u);
  }
}

// A full array grows when the next push needs the slot: 64 items fit in 64.
TEST(Deque, GrowsOnlyWhenFull) {
  DequePtr d = MakeDeque(64);
  ASSERT_NE(d, nullptr);
  for (uintptr_t i = 1; i <= 64; i++) ASSERT_EQ(dtxt_deque_push(d.get(), i), 0);
  EXPECT_EQ(dtxt_deque_capacity(d.get()), 64);
  ASSERT_EQ(dtxt_deque_push(d.get(), 65), 0);
  EXPECT_EQ(dtxt_deque_capacity(d.get()), 128);
  for (uintptr_t i = 65; i >= 1; i--) ASSERT_EQ(dtxt_deque_pop(d.get()), i);
}

// ---- concurrent: one owner, several thieves --------------------------------

struct RoundResult {
  std::vector<uintptr_t> owner;               // items the owner popped
  std::vector<std::vector<uintptr_t>> thief;  // items each thief stole
};

// One round: the owner pushes items 1..n in random bursts and pops a random
// number after each burst, then pops until empty; the thieves steal all the
// while. Starts from a small array so the owner grows it under the thieves.
RoundResult RunRound(uint64_t seed, int thieves, uintptr_t n) {
  RoundResult r;
  r.thief.resize(thieves);
  DequePtr d = MakeDeque(1);
  if (d == nullptr) return r;
  std::atomic<bool> done{false};
  std::atomic<int> ready{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < thieves; t++) {
    ts.emplace_back([&, t] {
      std::vector<uintptr_t> &mine = r.thief[t];
      ready.fetch_add(1);
      for (;;) {
        // Read done before stealing: once done is set the deque stays empty,
        // so a steal that then finds nothing is the last one needed.
        bool last = done.load();
        uintptr_t x = dtxt_deque_steal(d.get());
        if (x != 0) {
          mine.push_back(x);
        } else if (last) {
          break;
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  while (ready.load() < thieves) std::this_thread::yield();

  std::mt19937_64 rng(seed);
  uintptr_t next = 1;
  while (next <= n) {
    uintptr_t burst = 1 + rng() % 200;
    for (uintptr_t k = 0; k < burst && next <= n; k++) {
      if (dtxt_deque_push(d.get(), next) != 0) {
        ADD_FAILURE() << "push failed (out of memory?)";
        next = n + 1;
        break;
      }
      next++;
    }
    uintptr_t pops = rng() % (burst + 1);
    for (uintptr_t k = 0; k < pops; k++) {
      uintptr_t x = dtxt_deque_pop(d.get());
      if (x == 0) break;  // empty: the thieves took the rest
      r.owner.push_back(x);
    }
  }
  for (uintptr_t x; (x = dtxt_deque_pop(d.get())) != 0;) r.owner.push_back(x);
  EXPECT_EQ(dtxt_deque_size(d.get()), 0);
  done.store(true);
  for (auto &t : ts) t.join();
  return r;
}

TEST(Deque, ConcurrentEveryItemTakenExactlyOnce) {
  const int rounds = dtxt::kSanitized ? 200 : 500;
  const uintptr_t n = dtxt::kSanitized ? 3000 : 20000;
  const uint64_t base_seed = 0x5eed0de9e0ull;
  std::printf("Deque.ConcurrentEveryItemTakenExactlyOnce: seed 0x%" PRIx64 ", %d rounds of %zu items\n",
              base_seed, rounds, static_cast<size_t>(n));
  int64_t stolen_total = 0;
  for (int round = 0; round < rounds; round++) {
    const uint64_t seed = base_seed + static_cast<uint64_t>(round);
    const int thieves = 1 + round % 4;
    RoundResult r = RunRound(seed, thieves, n);
    std::vector<int> seen(n + 1, 0);
    int64_t bad = 0;
    auto take = [&](uintptr_t x) {
      if (x < 1 || x > n)
        bad++;
      else
        seen[x]++;
    };
    for (uintptr_t x : r.owner) take(x);
    for (auto &v : r.thief) {
      stolen_total += static_cast<int64_t>(v.size());
      for (uintptr_t x : v) take(x);
    }
    ASSERT_EQ(bad, 0) << "items outside 1.." << n << " (seed 0x" << std::hex << seed << ")";
    for (uintptr_t x = 1; x <= n; x++)
      ASSERT_EQ(seen[x], 1) << "item " << x << " taken " << seen[x] << " times; round " << round << ", "
                            << thieves << " thieves, seed 0x" << std::hex << seed;
    // Each thief steals in order: the items it got are increasing.
    for (size_t t = 0; t < r.thief.size(); t++)
      for (size_t i = 1; i < r.thief[t].size(); i++)
        ASSERT_LT(r.thief[t][i - 1], r.thief[t][i]) << "thief " << t << ", seed 0x" << std::hex << seed;
  }
  // Not a correctness property, but the test means little if nothing was stolen.
  EXPECT_GT(stolen_total, 0) << "the thieves never stole anything";
  std::printf("  %" PRId64 " items stolen over all rounds\n", stolen_total);
}

}  // namespace
