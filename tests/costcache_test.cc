// tests/costcache_test.cc - the learned-cost cache (base/costcache.c).
//
// Durations are learned per kind of name ("add-17" and "add-18" are one
// kind), per side and per size class (the nearest measured class stands in,
// scaled 16x per class); sizes per exact name (the largest output, the data
// lent, the probe that keeps an entry from eviction). Full tables evict: a new
// name replaces an old one, except a size entry whose probe runs. Concurrent
// learners (run under TSan: label sched) keep every estimate within the range
// of what was learned, and the largest output is exact.
#include "base/costcache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace {

struct CacheDeleter {
  void operator()(dtxi_costcache *c) const { dtxi_costcache_free(c); }
};
using CachePtr = std::unique_ptr<dtxi_costcache, CacheDeleter>;

CachePtr MakeCache(int kinds, int names) {
  dtxi_costcache *c = dtxi_costcache_new(kinds, names);
  EXPECT_NE(c, nullptr);
  return CachePtr(c);
}

constexpr size_t kSmall = 1000;                // class 0 (< 64 KiB)
constexpr size_t kMedium = size_t{100} << 10;  // class 1 (< 1 MiB)
constexpr size_t kLarge = size_t{4} << 20;     // class 2 (< 16 MiB)
constexpr size_t kHuge = size_t{64} << 20;     // class 3

TEST(CostCache, SizeClassesAre16xApart) {
  EXPECT_EQ(dtxi_costcache_size_class(0), 0);
  EXPECT_EQ(dtxi_costcache_size_class((size_t{64} << 10) - 1), 0);
  EXPECT_EQ(dtxi_costcache_size_class(size_t{64} << 10), 1);
  EXPECT_EQ(dtxi_costcache_size_class(size_t{1} << 20), 2);
  EXPECT_EQ(dtxi_costcache_size_class(size_t{16} << 20), 3);
  EXPECT_EQ(dtxi_costcache_size_class(kHuge), 3);
}

TEST(CostCache, LearnThenEstimate) {
  CachePtr c = MakeCache(64, 64);
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "add-1", 1, kSmall), 0) << "never seen";
  dtxi_costcache_learn(c.get(), "add-1", 1, kSmall, 1000);
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "add-1", 1, kSmall), 1000) << "the first sample is taken as is";
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "add-1", 0, kSmall), 0) << "the other side was never measured";
  dtxi_costcache_learn(c.get(), "add-1", 1, kSmall, 2000);
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "add-1", 1, kSmall), 1250) << "EWMA: a quarter of the way";
  dtxi_costcache_learn(c.get(), "add-1", 1, kSmall, 0);
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "add-1", 1, kSmall), 1250 + (1 - 1250) / 4) << "ns counts as 1";
  // Sides are separate.
  dtxi_costcache_learn(c.get(), "add-1", 0, kSmall, 77);
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "add-1", 0, kSmall), 77);
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "mul-1", 0, kSmall), 0) << "another kind";
}

TEST(CostCache, NearestMeasuredClassIsScaled) {
  CachePtr c = MakeCache(64, 64);
  dtxi_costcache_learn(c.get(), "f", 0, kMedium, 3200);
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "f", 0, kMedium), 3200);
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "f", 0, kSmall), 200) << "one class down: / 16";
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "f", 0, kLarge), 3200 * 16) << "one class up: x 16";
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "f", 0, kHuge), 3200 * 256);
  // The nearest class wins, the smaller one first on a tie.
  dtxi_costcache_learn(c.get(), "f", 0, kHuge, 5);
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "f", 0, kLarge), 3200 * 16) << "class 1 and 3 tie: 1 first";
  dtxi_costcache_learn(c.get(), "g", 0, kHuge, 16 * 16 * 16);
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "g", 0, kSmall), 1);
  dtxi_costcache_learn(c.get(), "h", 0, kLarge, 3);
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "h", 0, kSmall), 1) << "never below 1 once measured";
}

TEST(CostCache, KindNamesAreSharedSizesAreNot) {
  CachePtr c = MakeCache(64, 64);
  EXPECT_EQ(dtxi_costcache_hash("add-17", 1), dtxi_costcache_hash("add-18", 1));
  EXPECT_NE(dtxi_costcache_hash("add-17", 0), dtxi_costcache_hash("add-18", 0));
  EXPECT_EQ(dtxi_costcache_hash("x-1-2", 1), dtxi_costcache_hash("x-30-40", 1));
  EXPECT_NE(dtxi_costcache_hash("add17", 1), dtxi_costcache_hash("add18", 1)) << "no dash: not a serial";
  EXPECT_NE(dtxi_costcache_hash("add-17", 1), dtxi_costcache_hash("sub-17", 1));
  EXPECT_EQ(dtxi_costcache_hash("add-17", 0) & 1, 1u) << "keys are odd";

  dtxi_costcache_learn(c.get(), "add-17", 1, kSmall, 500);
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "add-18", 1, kSmall), 500);
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "add-x", 1, kSmall), 0);

  dtxi_costcache_learn_output(c.get(), "add-17", 4096);
  EXPECT_EQ(dtxi_costcache_output(c.get(), "add-17"), 4097);
  EXPECT_EQ(dtxi_costcache_output(c.get(), "add-18"), 0) << "sizes are per exact name";
}

TEST(CostCache, OutputKeepsTheLargestDataTheLatest) {
  CachePtr c = MakeCache(8, 8);
  EXPECT_EQ(dtxi_costcache_data_bytes(c.get(), "k"), 0u);
  dtxi_costcache_learn_output(c.get(), "k", 100);
  dtxi_costcache_learn_output(c.get(), "k", 50);
  EXPECT_EQ(dtxi_costcache_output(c.get(), "k"), 101);
  EXPECT_EQ(dtxi_costcache_data_bytes(c.get(), "k"), 100u);
  dtxi_costcache_learn_data(c.get(), "k", 300);
  EXPECT_EQ(dtxi_costcache_data_bytes(c.get(), "k"), 300u) << "data lent beyond the output";
  dtxi_costcache_learn_data(c.get(), "k", 10);
  EXPECT_EQ(dtxi_costcache_data_bytes(c.get(), "k"), 100u) << "the larger of the two";
  dtxi_costcache_learn_output(c.get(), "zero", 0);
  EXPECT_EQ(dtxi_costcache_output(c.get(), "zero"), 1) << "an empty output is known";
  EXPECT_EQ(dtxi_costcache_data_bytes(c.get(), "zero"), 0u);
  int s = dtxi_costcache_slot(c.get(), "k", 0);
  ASSERT_GE(s, 0);
  EXPECT_EQ(dtxi_costcache_output_at(c.get(), s), 101);
  EXPECT_EQ(dtxi_costcache_output_at(c.get(), -1), 0);
  EXPECT_EQ(dtxi_costcache_slot(c.get(), "never", 0), -1) << "no claim: no entry";
}

TEST(CostCache, FullTableReplacesAnEntry) {
  CachePtr c = MakeCache(4, 4);
  const char *names[] = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; i++) dtxi_costcache_learn(c.get(), names[i], 0, kSmall, 100 + i);
  for (int i = 0; i < 4; i++) EXPECT_EQ(dtxi_costcache_estimate(c.get(), names[i], 0, kSmall), 100 + i);
  dtxi_costcache_learn(c.get(), "e", 1, kSmall, 999);
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "e", 1, kSmall), 999) << "a full table still learns";
  EXPECT_EQ(dtxi_costcache_estimate(c.get(), "e", 0, kSmall), 0) << "the replaced entry's values are cleared";
  int kept = 0;
  for (int i = 0; i < 4; i++) {
    int64_t v = dtxi_costcache_estimate(c.get(), names[i], 0, kSmall);
    EXPECT_TRUE(v == 0 || v == 100 + i) << names[i] << ": " << v;
    kept += v != 0;
  }
  EXPECT_EQ(kept, 3) << "exactly one old name gave its entry up";

  // Many more names than entries: the last one learned is always there.
  for (int i = 0; i < 200; i++) {
    std::string n = "name" + std::to_string(i);
    dtxi_costcache_learn(c.get(), n.c_str(), 0, kSmall, 1000 + i);
    dtxi_costcache_learn_output(c.get(), n.c_str(), 10 * i);
    ASSERT_EQ(dtxi_costcache_estimate(c.get(), n.c_str(), 0, kSmall), 1000 + i) << n;
    ASSERT_EQ(dtxi_costcache_output(c.get(), n.c_str()), 10 * i + 1) << n;
  }
}

TEST(CostCache, ProbeKeepsItsEntry) {
  CachePtr c = MakeCache(4, 4);
  const char *names[] = {"p0", "p1", "p2", "p3"};
  int slots[4];
  for (int i = 0; i < 4; i++) {
    slots[i] = dtxi_costcache_slot(c.get(), names[i], 1);
    ASSERT_GE(slots[i], 0);
    int64_t out = -1;
    EXPECT_EQ(dtxi_costcache_probe_begin(c.get(), slots[i], names[i], &out), DTXI_COSTCACHE_PROBE_STARTED);
    EXPECT_EQ(out, -1) << "untouched unless known";
  }
  int64_t out = 0;
  EXPECT_EQ(dtxi_costcache_probe_begin(c.get(), slots[0], names[0], &out), DTXI_COSTCACHE_PROBE_BUSY);
  EXPECT_EQ(dtxi_costcache_slot(c.get(), "newcomer", 1), -1) << "every entry has a probe running";
  dtxi_costcache_learn_output(c.get(), "newcomer", 5);
  EXPECT_EQ(dtxi_costcache_output(c.get(), "newcomer"), 0);

  // p2's probe learns its size and ends: p2 may be evicted now, by the newcomer.
  dtxi_costcache_learn_output(c.get(), "p2", 64);
  dtxi_costcache_probe_end(c.get(), slots[2], "p2");
  int s = dtxi_costcache_slot(c.get(), "newcomer", 1);
  EXPECT_EQ(s, slots[2]);
  EXPECT_EQ(dtxi_costcache_output(c.get(), "p2"), 0) << "evicted";
  EXPECT_EQ(dtxi_costcache_output_at(c.get(), s), 0) << "cleared for the newcomer";
  // p2's slot belongs to the newcomer: p2 may neither probe nor end a probe there.
  EXPECT_EQ(dtxi_costcache_probe_begin(c.get(), s, "p2", &out), DTXI_COSTCACHE_PROBE_LOST);
  EXPECT_EQ(dtxi_costcache_probe_begin(c.get(), s, "newcomer", &out), DTXI_COSTCACHE_PROBE_STARTED)
      << "a lost probe leaves the entry free";
  dtxi_costcache_probe_end(c.get(), s, "p2");
  EXPECT_EQ(dtxi_costcache_probe_begin(c.get(), s, "newcomer", &out), DTXI_COSTCACHE_PROBE_BUSY)
      << "ending under another name is a no-op";
  dtxi_costcache_probe_end(c.get(), s, "newcomer");

  // A size learned while the probe was waiting: known at once.
  dtxi_costcache_probe_end(c.get(), slots[1], "p1");
  dtxi_costcache_learn_output(c.get(), "p1", 300);
  out = 0;
  EXPECT_EQ(dtxi_costcache_probe_begin(c.get(), slots[1], "p1", &out), DTXI_COSTCACHE_PROBE_KNOWN);
  EXPECT_EQ(out, 301);
  EXPECT_EQ(dtxi_costcache_probe_begin(c.get(), slots[1], "p1", &out), DTXI_COSTCACHE_PROBE_KNOWN)
      << "a known size starts no probe";
}

// Every thread learns names of one kind family with values in a range of its
// own; no eviction (big tables): each estimate stays in its name's range and
// the largest output is exact.
TEST(CostCache, ConcurrentLearnersStayInRange) {
  CachePtr c = MakeCache(512, 1024);
  const int threads = 8, rounds = 20000 / dtxt::kScale, kinds = 16;
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&, t] {
      std::mt19937 rng(1234 + t);
      for (int i = 0; i < rounds; i++) {
        int k = (int)(rng() % kinds);
        std::string name = "kind" + std::to_string(k) + "-" + std::to_string(i);
        int64_t lo = 1000 * (k + 1);
        dtxi_costcache_learn(c.get(), name.c_str(), t & 1, kSmall, lo + (int64_t)(rng() % 500));
        dtxi_costcache_learn_output(c.get(), ("out" + std::to_string(k)).c_str(), (size_t)(rng() % 100000));
        int64_t e = dtxi_costcache_estimate(c.get(), name.c_str(), t & 1, kSmall);
        if (e < lo || e >= lo + 500) bad++;
      }
    });
  for (auto &th : ts) th.join();
  EXPECT_EQ(bad.load(), 0);
  for (int k = 0; k < kinds; k++) {
    int64_t o = dtxi_costcache_output(c.get(), ("out" + std::to_string(k)).c_str());
    EXPECT_GE(o, 1);
    EXPECT_LE(o, 100000);
  }
  // The largest of many concurrent outputs is exact.
  std::vector<std::thread> ws;
  for (int t = 0; t < threads; t++)
    ws.emplace_back([&, t] {
      for (int i = 0; i < rounds; i++) dtxi_costcache_learn_output(c.get(), "max", (size_t)(i * threads + t));
    });
  for (auto &th : ws) th.join();
  EXPECT_EQ(dtxi_costcache_output(c.get(), "max"), (int64_t)rounds * threads);
}

// Tiny tables, many names, probes starting and ending: entries are evicted
// and taken over all the time. Whatever is read is 0 or some value learned.
TEST(CostCache, ConcurrentEvictionsKeepValuesSane) {
  CachePtr c = MakeCache(8, 8);
  const int threads = 8, rounds = 20000 / dtxt::kScale;
  std::atomic<int> bad{0}, probes{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&, t] {
      std::mt19937 rng(99 + t);
      for (int i = 0; i < rounds; i++) {
        std::string name = "n" + std::to_string(rng() % 64);
        dtxi_costcache_learn(c.get(), name.c_str(), 0, kSmall, 1000 + (int64_t)(rng() % 1000));
        int64_t e = dtxi_costcache_estimate(c.get(), name.c_str(), 0, kSmall);
        if (e != 0 && (e < 1000 || e >= 2000)) bad++;
        int s = dtxi_costcache_slot(c.get(), name.c_str(), 1);
        if (s < 0) continue;
        int64_t out = 0;
        int st = dtxi_costcache_probe_begin(c.get(), s, name.c_str(), &out);
        if (st == DTXI_COSTCACHE_PROBE_KNOWN && (out < 1 || out > 4097)) bad++;
        if (st == DTXI_COSTCACHE_PROBE_STARTED) {
          probes++;
          dtxi_costcache_learn_output(c.get(), name.c_str(), 1 + rng() % 4096);
          dtxi_costcache_probe_end(c.get(), s, name.c_str());
        }
        size_t d = dtxi_costcache_data_bytes(c.get(), name.c_str());
        if (d > 4097) bad++;
      }
    });
  for (auto &th : ts) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(probes.load(), 0);
  // Every probe ended: every entry can be taken over again.
  for (int i = 0; i < 8; i++) {
    std::string n = "fresh" + std::to_string(i);
    EXPECT_GE(dtxi_costcache_slot(c.get(), n.c_str(), 1), 0) << n;
  }
}

}  // namespace
