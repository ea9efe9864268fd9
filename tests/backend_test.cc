// tests/backend_test.cc - the sim device backend (host/backend_sim.c) and
// DTX_GPUS parsing (host/backend.c), through the contract in host/backend.h.
//
// Streams run in order; record/wait order work across streams and devices;
// re-recording leaves earlier waits on the earlier mark; copies carry the
// right bytes and take the modelled time; device memory is charged and freed
// in stream order; out of memory and injected faults fail the stream, fail
// its later events with a message naming the cause, and flow to streams that
// wait on them; stream_reset recovers; idle streams use no CPU; destroy
// drains. Every wait has a deadline: a hang is a failure, not a stuck run.
#include "host/backend.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "host/device.h"
#include "test_util.h"

namespace {

using dtxt::kDeadlineMs;
using dtxt::kScale;

constexpr size_t kMiB = size_t{1} << 20;

struct Backend {
  dtxi_backend *b = nullptr;
  explicit Backend(int ndev, size_t capacity = 0, double h2d = 0, double d2d = 0, double lat = 0) {
    dtxi_sim_config cfg;
    std::memset(&cfg, 0, sizeof cfg);
    cfg.ndev = ndev;
    cfg.mem_capacity = capacity;
    cfg.h2d_gbps = h2d;
    cfg.d2d_gbps = d2d;
    cfg.latency_us = lat;
    EXPECT_EQ(dtxi_sim_open(&cfg, &b), DTX_OK) << dtx_last_error();
  }
  ~Backend() {
    if (b != nullptr) b->ops->destroy(b);
  }
  dtxi_stream *Stream(int dev, dtxi_stream_kind k = DTXI_STREAM_COMPUTE, const char *label = nullptr) {
    dtxi_stream *s = nullptr;
    EXPECT_EQ(dtxi_stream_create(b, dev, k, label, &s), DTX_OK) << dtx_last_error();
    return s;
  }
  dtxi_event *Event(int dev) {
    dtxi_event *e = nullptr;
    EXPECT_EQ(dtxi_event_create(b, dev, &e), DTX_OK) << dtx_last_error();
    return e;
  }
  size_t Used(int dev) {
    size_t u = 0, c = 0;
    b->ops->mem_usage(b, dev, &u, &c);
    return u;
  }
};

// Waits (with the deadline) until e leaves PENDING, polling.
dtxi_event_state Await(dtxi_event *e, int64_t ms = kDeadlineMs) {
  dtxi_event_state st = DTXI_EVENT_PENDING;
  dtxt::WaitUntil([&] { return (st = dtxi_event_query(e)) != DTXI_EVENT_PENDING; }, ms);
  return st;
}

// event_sync under a watchdog: a hang aborts the test run instead of sticking.
dtxi_event_state SyncWithDeadline(dtxi_event *e) {
  auto f = std::async(std::launch::async, [e] { return dtxi_event_sync(e); });
  if (f.wait_for(std::chrono::milliseconds(kDeadlineMs)) != std::future_status::ready) {
    ADD_FAILURE() << "event_sync did not return within " << kDeadlineMs << " ms";
    std::fprintf(stderr, "event_sync hang: aborting\n");
    std::abort();
  }
  return f.get();
}

// Records a fresh event on s and waits for it; returns its state and message.
dtxi_event_state Drain(Backend &B, dtxi_stream *s, std::string *err = nullptr) {
  dtxi_event *e = B.Event(s->dev);
  EXPECT_EQ(dtxi_event_record(e, s), DTX_OK);
  dtxi_event_state st = Await(e);
  if (err != nullptr) *err = dtxi_event_error(e);
  dtxi_event_destroy(e);
  return st;
}

// A host function: pushes a value onto a vector (owned by the stream thread
// until the test has synced).
struct Append {
  std::vector<int> *out;
  int v;
};
int AppendFn(void *arg, char *, size_t) {
  auto *a = static_cast<Append *>(arg);
  a->out->push_back(a->v);
  return 0;
}

int SetFlagFn(void *arg, char *, size_t) {
  static_cast<std::atomic<int> *>(arg)->fetch_add(1);
  return 0;
}

int GatePassFn(void *arg, char *err, size_t errlen) {
  if (static_cast<dtxt::Gate *>(arg)->Pass()) return 0;
  std::snprintf(err, errlen, "gate deadline");
  return 1;
}

int FailFn(void *arg, char *err, size_t errlen) {
  std::snprintf(err, errlen, "task %s failed: bad input", static_cast<const char *>(arg));
  return 7;
}

}  // namespace

// ---- open and validation ------------------------------------------------------

TEST(Backend, SimOpenDescribesDevices) {
  Backend B(3, 256 * kMiB);
  ASSERT_NE(B.b, nullptr);
  EXPECT_STREQ(B.b->ops->name, "sim");
  EXPECT_EQ(B.b->ndev, 3);
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(std::string(B.b->info[i].name), "sim gpu " + std::to_string(i));
    EXPECT_EQ(B.b->info[i].total_memory, 256 * kMiB);
    EXPECT_EQ(B.b->info[i].cc_major, 0);
    size_t u = 1, c = 0;
    B.b->ops->mem_usage(B.b, i, &u, &c);
    EXPECT_EQ(u, 0u);
    EXPECT_EQ(c, 256 * kMiB);
  }
  dtxi_stream *s = B.Stream(0, DTXI_STREAM_H2D);
  EXPECT_EQ(B.b->ops->native_stream(s), nullptr);
  EXPECT_STREQ(s->label, "h2d");
  dtxi_stream_destroy(s);
  void *h = nullptr;
  ASSERT_EQ(B.b->ops->host_alloc(B.b, 1000, &h), DTX_OK);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(h) % 64, 0u);
  std::memset(h, 1, 1000);
  B.b->ops->host_free(B.b, h);
}

TEST(Backend, SimDefaultCapacityIsOneGiB) {
  Backend B(1);
  size_t u = 0, c = 0;
  B.b->ops->mem_usage(B.b, 0, &u, &c);
  EXPECT_EQ(c, size_t{1} << 30);
}

TEST(Backend, SimOpenRejectsBadConfig) {
  struct Case {
    int ndev;
    double h2d, d2d, lat;
    const char *want;
  } cases[] = {
      {0, 0, 0, 0, "1..16"},     {17, 0, 0, 0, "1..16"},     {-1, 0, 0, 0, "1..16"},
      {2, -1, 0, 0, "h2d_gbps"}, {2, 0, NAN, 0, "d2d_gbps"}, {2, 0, 0, -5, "latency_us"},
  };
  for (const auto &c : cases) {
    dtxi_sim_config cfg;
    std::memset(&cfg, 0, sizeof cfg);
    cfg.ndev = c.ndev;
    cfg.h2d_gbps = c.h2d;
    cfg.d2d_gbps = c.d2d;
    cfg.latency_us = c.lat;
    dtxi_backend *b = nullptr;
    EXPECT_EQ(dtxi_sim_open(&cfg, &b), DTX_EINVAL) << "ndev " << c.ndev;
    EXPECT_EQ(b, nullptr);
    EXPECT_NE(std::string(dtx_last_error()).find(c.want), std::string::npos) << dtx_last_error();
  }
  dtxi_backend *b = nullptr;
  EXPECT_EQ(dtxi_sim_open(nullptr, &b), DTX_EINVAL);
}

TEST(Backend, BadArgumentsAreRejected) {
  Backend B(2);
  dtxi_stream *s = nullptr;
  EXPECT_EQ(dtxi_stream_create(B.b, 2, DTXI_STREAM_COMPUTE, nullptr, &s), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("device 2"), std::string::npos) << dtx_last_error();
  dtxi_event *e = nullptr;
  EXPECT_EQ(dtxi_event_create(B.b, -1, &e), DTX_EINVAL);
  s = B.Stream(0);
  char buf[8];
  EXPECT_EQ(dtxi_copy_async(s, buf, 5, buf, DTXI_HOST, 8), DTX_EINVAL);
  EXPECT_EQ(dtxi_copy_async(s, nullptr, 0, buf, DTXI_HOST, 8), DTX_EINVAL);
  EXPECT_EQ(dtxi_host_fn(s, nullptr, nullptr), DTX_EINVAL);
  dtxi_stream_destroy(s);
}

// ---- ordering -------------------------------------------------------------------

TEST(Backend, OneStreamRunsInOrder) {
  Backend B(1);
  dtxi_stream *s = B.Stream(0);
  const int n = 10000;
  std::vector<int> got;
  std::vector<Append> args(n);
  for (int i = 0; i < n; i++) {
    args[i] = {&got, i};
    ASSERT_EQ(dtxi_host_fn(s, AppendFn, &args[i]), DTX_OK);
  }
  dtxi_event *e = B.Event(0);
  ASSERT_EQ(dtxi_event_record(e, s), DTX_OK);
  ASSERT_EQ(SyncWithDeadline(e), DTXI_EVENT_DONE);
  ASSERT_EQ(got.size(), size_t(n));
  for (int i = 0; i < n; i++) ASSERT_EQ(got[i], i) << "out of order at " << i;
  EXPECT_STREQ(dtxi_event_error(e), "");
  dtxi_event_destroy(e);
  dtxi_stream_destroy(s);
}

TEST(Backend, NeverRecordedEventIsDone) {
  Backend B(1);
  dtxi_event *e = B.Event(0);
  EXPECT_EQ(dtxi_event_query(e), DTXI_EVENT_DONE);
  EXPECT_EQ(SyncWithDeadline(e), DTXI_EVENT_DONE);
  dtxi_stream *s = B.Stream(0);
  std::atomic<int> ran{0};
  ASSERT_EQ(dtxi_stream_wait(s, e), DTX_OK);  // waits for nothing
  ASSERT_EQ(dtxi_host_fn(s, SetFlagFn, &ran), DTX_OK);
  EXPECT_EQ(Drain(B, s), DTXI_EVENT_DONE);
  EXPECT_EQ(ran.load(), 1);
  dtxi_event_destroy(e);
  dtxi_stream_destroy(s);
}

namespace {
struct Shared {
  int value = 0;  // plain int: ordering comes from the events alone
  int seen = -1;
  std::atomic<bool> consumed{false};
};
int ProduceFn(void *arg, char *, size_t) {
  static_cast<Shared *>(arg)->value = 42;
  return 0;
}
int ConsumeFn(void *arg, char *, size_t) {
  auto *sh = static_cast<Shared *>(arg);
  sh->seen = sh->value;
  sh->consumed = true;
  return 0;
}
}  // namespace

// The consumer stream (another device) is gated behind a producer that blocks
// on a gate the test holds: it must not run until the gate opens.
TEST(Backend, CrossDeviceWaitOrdersWork) {
  Backend B(2);
  dtxi_stream *prod = B.Stream(0);
  dtxi_stream *cons = B.Stream(1, DTXI_STREAM_PEER);
  dtxi_event *done = B.Event(0), *cons_done = B.Event(1);
  dtxt::Gate gate, reached;
  Shared sh;
  ASSERT_EQ(dtxi_host_fn(prod, GatePassFn, &gate), DTX_OK);
  ASSERT_EQ(dtxi_host_fn(prod, ProduceFn, &sh), DTX_OK);
  ASSERT_EQ(dtxi_event_record(done, prod), DTX_OK);
  // The consumer shows it is running (reached), then waits on the producer.
  reached.Open();
  ASSERT_EQ(dtxi_host_fn(cons, GatePassFn, &reached), DTX_OK);
  ASSERT_EQ(dtxi_stream_wait(cons, done), DTX_OK);
  ASSERT_EQ(dtxi_host_fn(cons, ConsumeFn, &sh), DTX_OK);
  ASSERT_EQ(dtxi_event_record(cons_done, cons), DTX_OK);

  ASSERT_TRUE(gate.WaitStarted(1)) << "producer never reached its gate";
  ASSERT_TRUE(reached.WaitPassed(1)) << "consumer stream never ran";
  EXPECT_EQ(dtxi_event_query(done), DTXI_EVENT_PENDING);
  EXPECT_EQ(dtxi_event_query(cons_done), DTXI_EVENT_PENDING);
  EXPECT_FALSE(sh.consumed.load()) << "consumer ran while the producer was blocked";
  gate.Open();
  ASSERT_EQ(Await(cons_done), DTXI_EVENT_DONE);
  EXPECT_EQ(dtxi_event_query(done), DTXI_EVENT_DONE);
  EXPECT_TRUE(sh.consumed.load());
  EXPECT_EQ(sh.seen, 42);
  dtxi_event_destroy(done);
  dtxi_event_destroy(cons_done);
  dtxi_stream_destroy(prod);
  dtxi_stream_destroy(cons);
}

namespace {
struct PingPong {
  int x = 0, y = 0;  // plain ints, each step reads the other stream's write
  bool bad = false;
  int i = 0;
};
int PingFn(void *arg, char *, size_t) {
  auto *p = static_cast<PingPong *>(arg);
  if (p->y != p->x) p->bad = true;
  p->x++;
  return 0;
}
int PongFn(void *arg, char *, size_t) {
  auto *p = static_cast<PingPong *>(arg);
  if (p->y + 1 != p->x) p->bad = true;
  p->y++;
  return 0;
}
}  // namespace

// Streams on two devices alternate through recycled events; plain ints shared
// between them must be ordered by the events alone (TSan checks this).
TEST(Backend, PingPongAcrossDevicesWithRecycledEvents) {
  Backend B(2);
  dtxi_stream *a = B.Stream(0), *b = B.Stream(1);
  dtxi_event *ea = B.Event(0), *eb = B.Event(1);
  PingPong p;
  const int n = 2000 / kScale;
  for (int i = 0; i < n; i++) {
    ASSERT_EQ(dtxi_stream_wait(a, eb), DTX_OK);
    ASSERT_EQ(dtxi_host_fn(a, PingFn, &p), DTX_OK);
    ASSERT_EQ(dtxi_event_record(ea, a), DTX_OK);
    ASSERT_EQ(dtxi_stream_wait(b, ea), DTX_OK);
    ASSERT_EQ(dtxi_host_fn(b, PongFn, &p), DTX_OK);
    ASSERT_EQ(dtxi_event_record(eb, b), DTX_OK);
  }
  ASSERT_EQ(SyncWithDeadline(eb), DTXI_EVENT_DONE);
  EXPECT_FALSE(p.bad);
  EXPECT_EQ(p.x, n);
  EXPECT_EQ(p.y, n);
  dtxi_event_destroy(ea);
  dtxi_event_destroy(eb);
  dtxi_stream_destroy(a);
  dtxi_stream_destroy(b);
}

// A wait enqueued before a re-record keeps the earlier mark: it does not run
// early when the new mark completes at once.
TEST(Backend, ReRecordKeepsEarlierWaits) {
  Backend B(1);
  dtxi_stream *slow = B.Stream(0), *idle = B.Stream(0), *waiter = B.Stream(0);
  dtxi_event *e = B.Event(0), *wdone = B.Event(0);
  dtxt::Gate gate;
  std::atomic<int> ran{0};
  ASSERT_EQ(dtxi_host_fn(slow, GatePassFn, &gate), DTX_OK);
  ASSERT_EQ(dtxi_event_record(e, slow), DTX_OK);   // mark 1: behind the gate
  ASSERT_EQ(dtxi_stream_wait(waiter, e), DTX_OK);  // waits for mark 1
  ASSERT_EQ(dtxi_host_fn(waiter, SetFlagFn, &ran), DTX_OK);
  ASSERT_EQ(dtxi_event_record(wdone, waiter), DTX_OK);
  ASSERT_EQ(dtxi_event_record(e, idle), DTX_OK);  // mark 2: completes at once
  ASSERT_EQ(Await(e), DTXI_EVENT_DONE) << "the query follows the latest mark";
  ASSERT_TRUE(gate.WaitStarted(1));
  EXPECT_EQ(ran.load(), 0) << "the waiter followed the re-record";
  EXPECT_EQ(dtxi_event_query(wdone), DTXI_EVENT_PENDING);
  gate.Open();
  ASSERT_EQ(Await(wdone), DTXI_EVENT_DONE);
  EXPECT_EQ(ran.load(), 1);

  // A failed mark is replaced by a later good one.
  dtxi_stream *bad = B.Stream(0);
  ASSERT_EQ(dtxi_host_fn(bad, FailFn, const_cast<char *>("x")), DTX_OK);
  ASSERT_EQ(dtxi_event_record(e, bad), DTX_OK);
  ASSERT_EQ(Await(e), DTXI_EVENT_FAILED);
  ASSERT_EQ(dtxi_event_record(e, idle), DTX_OK);
  ASSERT_EQ(Await(e), DTXI_EVENT_DONE);
  EXPECT_STREQ(dtxi_event_error(e), "");
  dtxi_event_destroy(e);
  dtxi_event_destroy(wdone);
  for (dtxi_stream *s : {slow, idle, waiter, bad}) dtxi_stream_destroy(s);
}

// ---- copies ------------------------------------------------------------------

TEST(Backend, CopiesCarryBytesHostDevDevHost) {
  Backend B(2);
  dtxi_stream *h2d = B.Stream(0, DTXI_STREAM_H2D), *peer = B.Stream(1, DTXI_STREAM_PEER);
  dtxi_event *on0 = B.Event(0);
  const size_t n = 3 * kMiB + 17;
  std::mt19937_64 rng(12345);
  std::printf("seed 12345\n");
  std::vector<unsigned char> src(n), dst(n, 0);
  for (auto &c : src) c = static_cast<unsigned char>(rng());
  void *d0 = nullptr, *d1 = nullptr;
  ASSERT_EQ(dtxi_alloc_async(h2d, n, &d0), DTX_OK);
  ASSERT_EQ(dtxi_copy_async(h2d, d0, 0, src.data(), DTXI_HOST, n), DTX_OK);
  ASSERT_EQ(dtxi_event_record(on0, h2d), DTX_OK);
  ASSERT_EQ(dtxi_alloc_async(peer, n, &d1), DTX_OK);
  ASSERT_EQ(dtxi_stream_wait(peer, on0), DTX_OK);
  ASSERT_EQ(dtxi_copy_async(peer, d1, 1, d0, 0, n), DTX_OK);
  ASSERT_EQ(dtxi_copy_async(peer, dst.data(), DTXI_HOST, d1, 1, n), DTX_OK);
  ASSERT_EQ(Drain(B, peer), DTXI_EVENT_DONE);
  EXPECT_EQ(std::memcmp(src.data(), dst.data(), n), 0);
  EXPECT_EQ(B.Used(0), n);
  EXPECT_EQ(B.Used(1), n);
  dtxi_free_async(peer, d0);  // peer is ordered after the h2d work
  dtxi_free_async(peer, d1);
  ASSERT_EQ(Drain(B, peer), DTXI_EVENT_DONE);
  EXPECT_EQ(B.Used(0), 0u);
  EXPECT_EQ(B.Used(1), 0u);
  dtxi_event_destroy(on0);
  dtxi_stream_destroy(h2d);
  dtxi_stream_destroy(peer);
}

TEST(Backend, CopyTakesModelledTime) {
  Backend B(2, 0, /*h2d*/ 2.0, /*d2d*/ 0.0, /*lat*/ 10.0);
  dtxi_stream *s = B.Stream(0, DTXI_STREAM_H2D);
  const size_t n = 64 * kMiB;  // 67 MB at 2 GB/s: 33.6 ms
  std::vector<unsigned char> src(n, 7);
  void *d = nullptr;
  ASSERT_EQ(dtxi_alloc_async(s, n, &d), DTX_OK);
  ASSERT_EQ(Drain(B, s), DTXI_EVENT_DONE);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(dtxi_copy_async(s, d, 0, src.data(), DTXI_HOST, n), DTX_OK);
  ASSERT_EQ(Drain(B, s), DTXI_EVENT_DONE);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("64 MiB at 2 GB/s: %.1f ms\n", ms);
  EXPECT_GE(ms, 30.0);
  EXPECT_LT(ms, 5000.0);
  EXPECT_EQ(static_cast<unsigned char *>(d)[n - 1], 7);
  dtxi_free_async(s, d);
  ASSERT_EQ(Drain(B, s), DTXI_EVENT_DONE);
  dtxi_stream_destroy(s);
}

// ---- memory --------------------------------------------------------------------

TEST(Backend, OutOfMemoryFailsStreamUntilReset) {
  const size_t cap = 64 * kMiB;
  Backend B(2, cap);
  dtxi_stream *s = B.Stream(1);
  void *a = nullptr, *big = nullptr, *c = nullptr;
  ASSERT_EQ(dtxi_alloc_async(s, 48 * kMiB, &a), DTX_OK);
  ASSERT_EQ(Drain(B, s), DTXI_EVENT_DONE);
  EXPECT_EQ(B.Used(1), 48 * kMiB);
  EXPECT_EQ(B.Used(0), 0u);

  std::atomic<int> ran{0};
  ASSERT_EQ(dtxi_alloc_async(s, 32 * kMiB, &big), DTX_OK) << "enqueue fails only for bad arguments";
  ASSERT_EQ(dtxi_host_fn(s, SetFlagFn, &ran), DTX_OK);
  std::string err;
  ASSERT_EQ(Drain(B, s, &err), DTXI_EVENT_FAILED);
  EXPECT_EQ(err, "sim gpu 1: out of memory allocating 33554432 bytes (in use 50331648 of 67108864)");
  EXPECT_EQ(ran.load(), 0) << "work after a failure must be skipped";
  EXPECT_EQ(B.Used(1), 48 * kMiB);
  // Still failed: every later event carries the first error.
  ASSERT_EQ(dtxi_host_fn(s, SetFlagFn, &ran), DTX_OK);
  ASSERT_EQ(Drain(B, s, &err), DTXI_EVENT_FAILED);
  EXPECT_NE(err.find("out of memory allocating 33554432"), std::string::npos) << err;

  dtxi_stream_reset(s);
  dtxi_free_async(s, big);  // never charged: frees the host side only
  dtxi_free_async(s, a);
  ASSERT_EQ(dtxi_alloc_async(s, 32 * kMiB, &c), DTX_OK);
  ASSERT_EQ(dtxi_host_fn(s, SetFlagFn, &ran), DTX_OK);
  ASSERT_EQ(Drain(B, s, &err), DTXI_EVENT_DONE) << err;
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(B.Used(1), 32 * kMiB);
  dtxi_free_async(s, c);
  ASSERT_EQ(Drain(B, s), DTXI_EVENT_DONE);
  EXPECT_EQ(B.Used(1), 0u);

  // A request larger than the whole device.
  void *huge = nullptr;
  ASSERT_EQ(dtxi_alloc_async(s, size_t{1} << 40, &huge), DTX_OK);
  ASSERT_EQ(Drain(B, s, &err), DTXI_EVENT_FAILED);
  EXPECT_NE(err.find("sim gpu 1: out of memory allocating 1099511627776 bytes (in use 0 of 67108864)"),
            std::string::npos)
      << err;
  dtxi_stream_reset(s);
  dtxi_free_async(s, huge);
  ASSERT_EQ(Drain(B, s), DTXI_EVENT_DONE);
  dtxi_stream_destroy(s);
}

TEST(Backend, FreeReturnsBytesInStreamOrder) {
  const size_t cap = 64 * kMiB;
  Backend B(1, cap);
  dtxi_stream *s = B.Stream(0);
  dtxt::Gate gate;
  void *a = nullptr;
  ASSERT_EQ(dtxi_alloc_async(s, 40 * kMiB, &a), DTX_OK);
  ASSERT_EQ(dtxi_host_fn(s, GatePassFn, &gate), DTX_OK);
  dtxi_free_async(s, a);
  dtxi_event *e = B.Event(0);
  ASSERT_EQ(dtxi_event_record(e, s), DTX_OK);
  ASSERT_TRUE(gate.WaitStarted(1));
  EXPECT_EQ(B.Used(0), 40 * kMiB) << "freed before the work enqueued ahead of the free";
  gate.Open();
  ASSERT_EQ(Await(e), DTXI_EVENT_DONE);
  EXPECT_EQ(B.Used(0), 0u);
  // Free then allocate again on the same stream: 2 x 40 MiB through 64 MiB.
  void *b1 = nullptr, *b2 = nullptr;
  ASSERT_EQ(dtxi_alloc_async(s, 40 * kMiB, &b1), DTX_OK);
  dtxi_free_async(s, b1);
  ASSERT_EQ(dtxi_alloc_async(s, 40 * kMiB, &b2), DTX_OK);
  std::string err;
  ASSERT_EQ(Drain(B, s, &err), DTXI_EVENT_DONE) << err;
  dtxi_free_async(s, b2);
  ASSERT_EQ(Drain(B, s), DTXI_EVENT_DONE);
  EXPECT_EQ(B.Used(0), 0u);
  dtxi_event_destroy(e);
  dtxi_stream_destroy(s);
}

// ---- errors and faults -----------------------------------------------------------

TEST(Backend, HostFnFailureFlowsToWaitingStream) {
  Backend B(2);
  dtxi_stream *s0 = B.Stream(0), *s1 = B.Stream(1);
  dtxi_event *e0 = B.Event(0);
  std::atomic<int> ran{0};
  ASSERT_EQ(dtxi_host_fn(s0, FailFn, const_cast<char *>("solve[3]")), DTX_OK);
  ASSERT_EQ(dtxi_host_fn(s0, SetFlagFn, &ran), DTX_OK);
  ASSERT_EQ(dtxi_event_record(e0, s0), DTX_OK);
  ASSERT_EQ(dtxi_stream_wait(s1, e0), DTX_OK);
  ASSERT_EQ(dtxi_host_fn(s1, SetFlagFn, &ran), DTX_OK);
  std::string err;
  ASSERT_EQ(Drain(B, s1, &err), DTXI_EVENT_FAILED);
  EXPECT_EQ(err, "task solve[3] failed: bad input");
  EXPECT_STREQ(dtxi_event_error(e0), "task solve[3] failed: bad input");
  EXPECT_EQ(ran.load(), 0);
  // Reset brings both back.
  dtxi_stream_reset(s0);
  dtxi_stream_reset(s1);
  ASSERT_EQ(dtxi_host_fn(s1, SetFlagFn, &ran), DTX_OK);
  ASSERT_EQ(Drain(B, s1), DTXI_EVENT_DONE);
  ASSERT_EQ(Drain(B, s0), DTXI_EVENT_DONE);
  EXPECT_EQ(ran.load(), 1);
  dtxi_event_destroy(e0);
  dtxi_stream_destroy(s0);
  dtxi_stream_destroy(s1);
}

TEST(Backend, InjectedFaultsFailWithTheirNameAndFlow) {
  struct Case {
    dtxi_fault_kind kind;
    const char *want;
  } cases[] = {
      {DTXI_FAULT_ALLOC, "sim gpu 1: injected alloc fault"},
      {DTXI_FAULT_COPY, "sim gpu 1: injected copy fault"},
      {DTXI_FAULT_KERNEL, "sim gpu 1: injected kernel fault"},
  };
  for (const auto &c : cases) {
    SCOPED_TRACE(c.want);
    Backend B(2);
    dtxi_stream *s = B.Stream(1), *other = B.Stream(0);
    dtxi_event *e = B.Event(1);
    std::atomic<int> fn_ran{0}, other_ran{0};
    std::vector<unsigned char> buf(4096, 3), back(4096, 0);
    void *d = nullptr, *d2 = nullptr;
    ASSERT_EQ(dtxi_alloc_async(s, buf.size(), &d), DTX_OK);
    dtxi_sim_inject_fault(B.b, 1, c.kind, 2);  // the 2nd of its kind from now
    // One of each kind ahead: the first of its kind passes.
    ASSERT_EQ(dtxi_copy_async(s, d, 1, buf.data(), DTXI_HOST, buf.size()), DTX_OK);
    ASSERT_EQ(dtxi_host_fn(s, SetFlagFn, &fn_ran), DTX_OK);
    ASSERT_EQ(dtxi_alloc_async(s, 64, &d2), DTX_OK);
    std::string err;
    ASSERT_EQ(Drain(B, s, &err), DTXI_EVENT_DONE) << err;
    EXPECT_EQ(fn_ran.load(), 1);
    // The second of each kind: the armed one fails.
    void *d3 = nullptr;
    switch (c.kind) {
      case DTXI_FAULT_ALLOC:
        ASSERT_EQ(dtxi_alloc_async(s, 64, &d3), DTX_OK);
        break;
      case DTXI_FAULT_COPY:
        ASSERT_EQ(dtxi_copy_async(s, back.data(), DTXI_HOST, d, 1, back.size()), DTX_OK);
        break;
      case DTXI_FAULT_KERNEL:
        ASSERT_EQ(dtxi_host_fn(s, SetFlagFn, &fn_ran), DTX_OK);
        break;
    }
    ASSERT_EQ(dtxi_event_record(e, s), DTX_OK);
    ASSERT_EQ(Await(e), DTXI_EVENT_FAILED);
    EXPECT_NE(std::string(dtxi_event_error(e)).find(c.want), std::string::npos) << dtxi_event_error(e);
    EXPECT_EQ(fn_ran.load(), 1) << "a faulted kernel must not run";
    if (c.kind == DTXI_FAULT_COPY) {
      EXPECT_EQ(back[0], 0) << "a faulted copy must not copy";
    }
    // The error flows to a stream on another device that waits on it.
    ASSERT_EQ(dtxi_stream_wait(other, e), DTX_OK);
    ASSERT_EQ(dtxi_host_fn(other, SetFlagFn, &other_ran), DTX_OK);
    ASSERT_EQ(Drain(B, other, &err), DTXI_EVENT_FAILED);
    EXPECT_NE(err.find(c.want), std::string::npos) << err;
    EXPECT_EQ(other_ran.load(), 0);
    // The fault fired once: after reset, the same kind works again.
    dtxi_stream_reset(s);
    ASSERT_EQ(dtxi_host_fn(s, SetFlagFn, &fn_ran), DTX_OK);
    ASSERT_EQ(dtxi_copy_async(s, back.data(), DTXI_HOST, d, 1, back.size()), DTX_OK);
    ASSERT_EQ(Drain(B, s, &err), DTXI_EVENT_DONE) << err;
    EXPECT_EQ(back[4095], 3);
    dtxi_free_async(s, d);
    dtxi_free_async(s, d2);
    dtxi_free_async(s, d3);
    ASSERT_EQ(Drain(B, s), DTXI_EVENT_DONE);
    EXPECT_EQ(B.Used(1), 0u);
    dtxi_event_destroy(e);
    dtxi_stream_destroy(s);
    dtxi_stream_destroy(other);
  }
}

// ---- threads -----------------------------------------------------------------------

TEST(Backend, IdleStreamsUseNoCpu) {
  Backend B(4);
  std::vector<dtxi_stream *> streams;
  for (int d = 0; d < 4; d++)
    for (int k = 0; k < 5; k++) streams.push_back(B.Stream(d, static_cast<dtxi_stream_kind>(k)));
  for (dtxi_stream *s : streams) ASSERT_EQ(Drain(B, s), DTXI_EVENT_DONE);  // every thread started
  auto cpu_ms = [] {
    rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
  };
  double c0 = cpu_ms();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // measuring idleness, not waiting
  double used = cpu_ms() - c0;
  std::printf("20 idle streams: %.2f ms CPU in 300 ms\n", used);
  EXPECT_LT(used, 30.0);
  for (dtxi_stream *s : streams) dtxi_stream_destroy(s);
}

TEST(Backend, DestroyDrainsQueuedWork) {
  Backend B(1);
  dtxi_stream *s = B.Stream(0);
  dtxt::Gate gate;
  std::atomic<int> ran{0};
  ASSERT_EQ(dtxi_host_fn(s, GatePassFn, &gate), DTX_OK);
  const int n = 500;
  for (int i = 0; i < n; i++) ASSERT_EQ(dtxi_host_fn(s, SetFlagFn, &ran), DTX_OK);
  ASSERT_TRUE(gate.WaitStarted(1));
  std::thread opener([&] { gate.Open(); });
  dtxi_stream_destroy(s);  // returns after the gate opens and all n ran
  opener.join();
  EXPECT_EQ(ran.load(), n);
}

TEST(Backend, BackendDestroyReclaimsWhatWasLeft) {
  Backend B(2, 16 * kMiB);
  dtxi_stream *s = B.Stream(0);
  B.Event(1);  // left for destroy
  std::atomic<int> ran{0};
  void *p = nullptr;
  ASSERT_EQ(dtxi_alloc_async(s, kMiB, &p), DTX_OK);
  for (int i = 0; i < 50; i++) ASSERT_EQ(dtxi_host_fn(s, SetFlagFn, &ran), DTX_OK);
  B.b->ops->destroy(B.b);  // the stream drains, the block and the event are freed (ASan checks)
  B.b = nullptr;
  EXPECT_EQ(ran.load(), 50);
}

// ---- DTX_GPUS -------------------------------------------------------------------------

TEST(Backend, OpenParsesGpusSpec) {
  dtxi_sim_config defaults;
  std::memset(&defaults, 0, sizeof defaults);
  defaults.mem_capacity = 8 * kMiB;
  char why[256];
  dtxi_backend *b = nullptr;

  ASSERT_EQ(dtxi_backend_open("sim:4", &defaults, &b, why, sizeof why), DTX_OK) << dtx_last_error();
  ASSERT_NE(b, nullptr);
  EXPECT_STREQ(b->ops->name, "sim");
  EXPECT_EQ(b->ndev, 4);
  EXPECT_EQ(b->info[3].total_memory, 8 * kMiB);
  b->ops->destroy(b);

  b = nullptr;
  ASSERT_EQ(dtxi_backend_open(" SIM:2 ", nullptr, &b, why, sizeof why), DTX_OK) << dtx_last_error();
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->ndev, 2);
  b->ops->destroy(b);

  b = reinterpret_cast<dtxi_backend *>(1);
  ASSERT_EQ(dtxi_backend_open("none", &defaults, &b, why, sizeof why), DTX_OK);
  EXPECT_EQ(b, nullptr);
  EXPECT_STREQ(why, "DTX_GPUS=none");

  struct Bad {
    const char *spec, *want;
  } bad[] = {
      {"sim:0", "1..16"},
      {"sim:17", "1..16"},
      {"sim:x", "sim:N"},
      {"sim:", "sim:N"},
      {"GPU", "DTX_GPUS=GPU is not understood"},
      {"0,,2", "empty entry"},
      {"0,a", "'a'"},
      {"1,1", "twice"},
  };
  for (const auto &c : bad) {
    b = reinterpret_cast<dtxi_backend *>(1);
    EXPECT_EQ(dtxi_backend_open(c.spec, &defaults, &b, why, sizeof why), DTX_EINVAL) << c.spec;
    EXPECT_EQ(b, reinterpret_cast<dtxi_backend *>(1)) << "out written on failure for " << c.spec;
    EXPECT_NE(std::string(dtx_last_error()).find(c.want), std::string::npos)
        << c.spec << ": " << dtx_last_error();
  }
  // An index list asks for CUDA devices: this build or machine has none to give.
  dtxi_gpu_probe probe;
  dtxi_gpu_probe_run(&probe);
  if (probe.count <= 2) {
    EXPECT_EQ(dtxi_backend_open("0,2", &defaults, &b, why, sizeof why), DTX_EINVAL);
#ifndef DTX_HAVE_CUDA
    EXPECT_NE(std::string(dtx_last_error()).find("no CUDA support"), std::string::npos) << dtx_last_error();
#else
    EXPECT_NE(std::string(dtx_last_error()).find("does not exist"), std::string::npos) << dtx_last_error();
#endif
  }
}

TEST(Backend, OpenAllWithoutGpuRunsOnCpu) {
  dtxi_gpu_probe probe;
  dtxi_gpu_probe_run(&probe);
  if (probe.count > 0) {
    GTEST_SKIP() << "this machine has " << probe.count << " GPU(s)";
  }
  for (const char *spec : {"all", "", static_cast<const char *>(nullptr)}) {
    char why[256] = "unset";
    dtxi_backend *b = reinterpret_cast<dtxi_backend *>(1);
    ASSERT_EQ(dtxi_backend_open(spec, nullptr, &b, why, sizeof why), DTX_OK) << dtx_last_error();
    EXPECT_EQ(b, nullptr);
    EXPECT_STREQ(why, probe.why_none);
    EXPECT_GT(std::strlen(why), 0u);
  }
}
