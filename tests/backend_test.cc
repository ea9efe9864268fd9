// tests/backend_test.cc - the sim device backend (device/backend_sim.c) and
// DTX_GPUS parsing (device/backend.c), through the contract in device/backend.h.
//
// Streams run in order; record/wait order work across streams and devices;
// re-recording leaves earlier waits on the earlier mark; copies carry the
// right bytes and take the modelled time; device memory is charged and freed
// in stream order; out of memory and injected faults fail the stream, fail
// its later events with a message naming the cause, and flow to streams that
// wait on them; stream_reset recovers; idle streams use no CPU; destroy
// drains. Grouped p2p moves and broadcasts between 2..4 devices carry their
// bytes, are ordered on their streams (a send and its receive meet), take the
// modelled time, fail as a whole on an injected nccl fault and reject bad
// arguments; timed events report host times between enqueue and observation,
// never decreasing along a stream. Every wait has a deadline: a hang is a
// failure, not a stuck run.
#include "device/backend.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
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

#include "device/device.h"
#include "test_util.h"
#include "trace/trace.h"

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
      case DTXI_FAULT_NCCL:  // its own test: InjectedNcclFaultFailsTheGroup
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

// ---- GPU-to-GPU transfers: grouped p2p moves and broadcast -------------------------

namespace {

// One stream of kind nccl per device (what dtxi_p2p_group takes), freed at scope end.
struct NcclStreams {
  Backend &B;
  std::vector<dtxi_stream *> s;
  explicit NcclStreams(Backend &b) : B(b) {
    for (int d = 0; d < B.b->ndev; d++) s.push_back(B.Stream(d, DTXI_STREAM_NCCL));
  }
  ~NcclStreams() {
    for (dtxi_stream *x : s) dtxi_stream_destroy(x);
  }
  dtxi_stream *const *data() const { return s.data(); }
  dtxi_stream *operator[](int d) const { return s[d]; }
};

// Device buffer of n bytes on dev filled from host bytes (stream-ordered on s).
void *DeviceCopyOf(dtxi_stream *s, const std::vector<unsigned char> &host) {
  void *d = nullptr;
  EXPECT_EQ(dtxi_alloc_async(s, host.size(), &d), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtxi_copy_async(s, d, s->dev, host.data(), DTXI_HOST, host.size()), DTX_OK) << dtx_last_error();
  return d;
}

std::vector<unsigned char> RandomBytes(std::mt19937_64 &rng, size_t n) {
  std::vector<unsigned char> v(n);
  for (auto &c : v) c = static_cast<unsigned char>(rng());
  return v;
}

// Host functions that log a tag (under a mutex) in stream order.
struct Log {
  std::mutex m;
  std::vector<std::string> tags;
};
struct Tag {
  Log *log;
  std::string tag;
};
int TagFn(void *arg, char *, size_t) {
  auto *t = static_cast<Tag *>(arg);
  std::lock_guard<std::mutex> lk(t->log->m);
  t->log->tags.push_back(t->tag);
  return 0;
}

}  // namespace

TEST(Backend, SimHasNccl) {
  Backend B(2);
  EXPECT_TRUE(dtxi_nccl_available(B.b)) << dtx_last_error();
  EXPECT_FALSE(dtxi_nccl_available(nullptr));
}

// Random groups over 2..4 devices: every device sends and receives (a ring),
// plus random extra moves (pairs repeated, sizes down to 0). Every destination
// must hold its source's bytes, read back through the host.
TEST(Backend, P2pGroupMovesCarryBytes) {
  const uint64_t seed = 20240611;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  for (int ndev = 2; ndev <= 4; ndev++) {
    SCOPED_TRACE("ndev " + std::to_string(ndev));
    Backend B(ndev);
    NcclStreams S(B);
    std::vector<dtxi_p2p_item> items;
    std::vector<std::vector<unsigned char>> want;
    for (int d = 0; d < ndev; d++) {  // the ring: d -> d + 1
      size_t n = 1 + rng() % (kMiB / kScale);
      want.push_back(RandomBytes(rng, n));
      items.push_back({d, nullptr, (d + 1) % ndev, nullptr, n});
    }
    for (int k = 0; k < 6; k++) {  // extras, between any two devices
      int a = static_cast<int>(rng() % ndev), c = static_cast<int>(rng() % (ndev - 1));
      if (c >= a) c++;
      size_t n = k == 0 ? 0 : 1 + rng() % (256 * 1024);
      want.push_back(RandomBytes(rng, n));
      items.push_back({a, nullptr, c, nullptr, n});
    }
    std::vector<void *> srcs, dsts;
    for (size_t k = 0; k < items.size(); k++) {
      void *src = DeviceCopyOf(S[items[k].src_dev], want[k]);
      void *dst = nullptr;
      ASSERT_EQ(dtxi_alloc_async(S[items[k].dst_dev], want[k].size(), &dst), DTX_OK);
      items[k].src = src;
      items[k].dst = dst;
      srcs.push_back(src);
      dsts.push_back(dst);
    }
    ASSERT_EQ(dtxi_p2p_group(B.b, items.data(), static_cast<int>(items.size()), S.data()), DTX_OK)
        << dtx_last_error();
    std::vector<std::vector<unsigned char>> got(items.size());
    for (size_t k = 0; k < items.size(); k++) {
      got[k].assign(want[k].size(), 0);
      ASSERT_EQ(dtxi_copy_async(S[items[k].dst_dev], got[k].data(), DTXI_HOST, dsts[k], items[k].dst_dev,
                                got[k].size()),
                DTX_OK);
    }
    for (int d = 0; d < ndev; d++) {
      std::string err;
      ASSERT_EQ(Drain(B, S[d], &err), DTXI_EVENT_DONE) << err;
    }
    for (size_t k = 0; k < items.size(); k++)
      EXPECT_EQ(got[k], want[k]) << "item " << k << ": gpu " << items[k].src_dev << " -> gpu "
                                 << items[k].dst_dev;
    for (size_t k = 0; k < items.size(); k++) {
      dtxi_free_async(S[items[k].src_dev], srcs[k]);
      dtxi_free_async(S[items[k].dst_dev], dsts[k]);
    }
    for (int d = 0; d < ndev; d++) ASSERT_EQ(Drain(B, S[d]), DTXI_EVENT_DONE);
    for (int d = 0; d < ndev; d++) EXPECT_EQ(B.Used(d), 0u) << "gpu " << d;
  }
}

// A swap (0 <-> 1) and a chain (1 -> 2 -> 3) in one group: a device that both
// sends and receives sends what it held before the group, whatever order the
// streams reach it in.
TEST(Backend, P2pGroupSendAndReceiveOnOneDevice) {
  Backend B(4);
  NcclStreams S(B);
  const size_t n = 64 * 1024;
  std::vector<std::vector<unsigned char>> v(4);
  std::mt19937_64 rng(77);
  std::printf("seed 77\n");
  std::vector<void *> a(4), b(4);
  for (int d = 0; d < 4; d++) {
    v[d] = RandomBytes(rng, n);
    a[d] = DeviceCopyOf(S[d], v[d]);
    ASSERT_EQ(dtxi_alloc_async(S[d], n, &b[d]), DTX_OK);
  }
  // Stagger arrival: gpu 2 reaches the group late, behind a gate.
  dtxt::Gate gate;
  ASSERT_EQ(dtxi_host_fn(S[2], GatePassFn, &gate), DTX_OK);
  dtxi_p2p_item items[] = {
      {0, a[0], 1, b[1], n},  // swap
      {1, a[1], 0, b[0], n},
      {1, a[1], 2, b[2], n},  // chain: 1 sends twice
      {2, a[2], 3, b[3], n},
  };
  ASSERT_EQ(dtxi_p2p_group(B.b, items, 4, S.data()), DTX_OK) << dtx_last_error();
  dtxi_event *e3 = B.Event(3);
  ASSERT_EQ(dtxi_event_record(e3, S[3]), DTX_OK);
  dtxi_event *e0 = B.Event(0);
  ASSERT_EQ(dtxi_event_record(e0, S[0]), DTX_OK);
  // 0 and 1 only meet each other and can finish; 3 waits for 2, which waits at the gate.
  EXPECT_EQ(Await(e0), DTXI_EVENT_DONE);
  EXPECT_FALSE(dtxt::WaitUntil([&] { return dtxi_event_query(e3) != DTXI_EVENT_PENDING; }, 50))
      << "gpu 3 received before its sender reached the group";
  gate.Open();
  EXPECT_EQ(Await(e3), DTXI_EVENT_DONE);
  for (int d = 0; d < 4; d++) ASSERT_EQ(Drain(B, S[d]), DTXI_EVENT_DONE);
  auto bytes = [&](void *p) {
    return std::vector<unsigned char>(static_cast<unsigned char *>(p), static_cast<unsigned char *>(p) + n);
  };
  EXPECT_EQ(bytes(b[1]), v[0]);
  EXPECT_EQ(bytes(b[0]), v[1]);
  EXPECT_EQ(bytes(b[2]), v[1]);
  EXPECT_EQ(bytes(b[3]), v[2]);
  for (int d = 0; d < 4; d++) {
    dtxi_free_async(S[d], a[d]);
    dtxi_free_async(S[d], b[d]);
  }
  dtxi_event_destroy(e0);
  dtxi_event_destroy(e3);
}

// Stream order around a group: work before it on either side is done before
// the bytes move; the sender may overwrite its buffer right after the group
// (the receiver still gets the old bytes); the receiver's work after the group
// sees the new bytes; events recorded before the group complete without it.
TEST(Backend, P2pGroupIsOrderedOnItsStreams) {
  Backend B(2);
  NcclStreams S(B);
  const size_t n = 4096;
  std::vector<unsigned char> first(n, 0x11), second(n, 0x22), old(n, 0x33), seen_before(n, 0),
      seen_after(n, 0);
  void *src = DeviceCopyOf(S[0], first);
  void *dst = DeviceCopyOf(S[1], old);
  Log log;
  Tag t0b{&log, "send-before"}, t1b{&log, "recv-before"}, t0a{&log, "send-after"}, t1a{&log, "recv-after"};
  dtxt::Gate gate;  // holds the receiver before the group
  ASSERT_EQ(dtxi_host_fn(S[0], TagFn, &t0b), DTX_OK);
  dtxi_event *before0 = B.Event(0), *before1 = B.Event(1), *after0 = B.Event(0), *after1 = B.Event(1);
  ASSERT_EQ(dtxi_event_record(before0, S[0]), DTX_OK);
  ASSERT_EQ(dtxi_host_fn(S[1], TagFn, &t1b), DTX_OK);
  ASSERT_EQ(dtxi_copy_async(S[1], seen_before.data(), DTXI_HOST, dst, 1, n), DTX_OK);
  ASSERT_EQ(dtxi_host_fn(S[1], GatePassFn, &gate), DTX_OK);
  ASSERT_EQ(dtxi_event_record(before1, S[1]), DTX_OK);
  dtxi_p2p_item it = {0, src, 1, dst, n};
  ASSERT_EQ(dtxi_p2p_group(B.b, &it, 1, S.data()), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtxi_copy_async(S[0], src, 0, second.data(), DTXI_HOST, n), DTX_OK);  // overwrite after the send
  ASSERT_EQ(dtxi_host_fn(S[0], TagFn, &t0a), DTX_OK);
  ASSERT_EQ(dtxi_event_record(after0, S[0]), DTX_OK);
  ASSERT_EQ(dtxi_host_fn(S[1], TagFn, &t1a), DTX_OK);
  ASSERT_EQ(dtxi_copy_async(S[1], seen_after.data(), DTXI_HOST, dst, 1, n), DTX_OK);
  ASSERT_EQ(dtxi_event_record(after1, S[1]), DTX_OK);

  EXPECT_EQ(Await(before0), DTXI_EVENT_DONE);
  EXPECT_FALSE(dtxt::WaitUntil([&] { return dtxi_event_query(after0) != DTXI_EVENT_PENDING; }, 50))
      << "the send finished before its receiver reached the group";
  EXPECT_EQ(dtxi_event_query(before1), DTXI_EVENT_PENDING);
  gate.Open();
  EXPECT_EQ(Await(after0), DTXI_EVENT_DONE);
  EXPECT_EQ(Await(after1), DTXI_EVENT_DONE);
  EXPECT_EQ(Await(before1), DTXI_EVENT_DONE);
  EXPECT_EQ(seen_before, old) << "the receive wrote before the receiver's earlier work ran";
  EXPECT_EQ(seen_after, first) << "the receiver got the bytes written after the send";
  {
    std::lock_guard<std::mutex> lk(log.m);
    auto pos = [&](const std::string &t) {
      return std::find(log.tags.begin(), log.tags.end(), t) - log.tags.begin();
    };
    ASSERT_EQ(log.tags.size(), 4u);
    // Both "before" tags precede both "after" tags: the group joins the streams.
    EXPECT_LT(pos("send-before"), pos("recv-after"));
    EXPECT_LT(pos("recv-before"), pos("send-after"));
  }
  dtxi_free_async(S[0], src);
  dtxi_free_async(S[1], dst);
  for (dtxi_event *e : {before0, before1, after0, after1}) dtxi_event_destroy(e);
}

// Broadcast from gpu 1 of 4: to everyone (the root into a buffer of its own
// too), then to a subset; devices left out keep their bytes.
TEST(Backend, BroadcastToAllAndToSubset) {
  Backend B(4);
  NcclStreams S(B);
  const size_t n = 300 * 1000 + 3;
  std::mt19937_64 rng(4242);
  std::printf("seed 4242\n");
  std::vector<unsigned char> chunk = RandomBytes(rng, n), fill(n, 0xee);
  const int root = 1;
  void *src = DeviceCopyOf(S[root], chunk);
  std::vector<void *> buf(4);
  for (int d = 0; d < 4; d++) buf[d] = DeviceCopyOf(S[d], fill);
  auto bytes = [&](void *p) {
    return std::vector<unsigned char>(static_cast<unsigned char *>(p), static_cast<unsigned char *>(p) + n);
  };

  std::vector<void *> all = buf;  // every device, the root into buf[root]
  ASSERT_EQ(dtxi_broadcast(B.b, root, src, all.data(), n, S.data()), DTX_OK) << dtx_last_error();
  for (int d = 0; d < 4; d++) ASSERT_EQ(Drain(B, S[d]), DTXI_EVENT_DONE);
  for (int d = 0; d < 4; d++) EXPECT_EQ(bytes(buf[d]), chunk) << "gpu " << d;

  for (int d = 0; d < 4; d++) ASSERT_EQ(dtxi_copy_async(S[d], buf[d], d, fill.data(), DTXI_HOST, n), DTX_OK);
  std::vector<void *> some = {nullptr, nullptr, buf[2], nullptr};  // only gpu 2; the root keeps src only
  ASSERT_EQ(dtxi_broadcast(B.b, root, src, some.data(), n, S.data()), DTX_OK) << dtx_last_error();
  for (int d = 0; d < 4; d++) ASSERT_EQ(Drain(B, S[d]), DTXI_EVENT_DONE);
  EXPECT_EQ(bytes(buf[2]), chunk);
  for (int d : {0, 1, 3}) EXPECT_EQ(bytes(buf[d]), fill) << "gpu " << d << " is not a receiver";

  // Receivers 0 and 3 with no stream for gpu 2 (it takes no part); the root in place.
  std::vector<dtxi_stream *> part = {S[0], S[1], nullptr, S[3]};
  std::vector<void *> two = {buf[0], src, nullptr, buf[3]};
  ASSERT_EQ(dtxi_broadcast(B.b, root, src, two.data(), n, part.data()), DTX_OK) << dtx_last_error();
  for (int d = 0; d < 4; d++) ASSERT_EQ(Drain(B, S[d]), DTXI_EVENT_DONE);
  EXPECT_EQ(bytes(buf[0]), chunk);
  EXPECT_EQ(bytes(buf[3]), chunk);
  EXPECT_EQ(bytes(src), chunk);
  dtxi_free_async(S[root], src);
  for (int d = 0; d < 4; d++) dtxi_free_async(S[d], buf[d]);
}

// Throttled: a receiver pulls its moves one after another at the modelled
// device-to-device bandwidth; timed events around the group on the receiver's
// stream see the same span.
TEST(Backend, P2pGroupTakesModelledTime) {
  Backend B(3, 0, /*h2d*/ 0.0, /*d2d*/ 1.0, /*lat*/ 100.0);
  NcclStreams S(B);
  const size_t n = 16 * kMiB;  // 16.8 MB at 1 GB/s: 16.8 ms (+0.1 ms latency), twice into gpu 1
  std::vector<unsigned char> host(n, 5);
  void *s0 = DeviceCopyOf(S[0], host), *s2 = DeviceCopyOf(S[2], host);
  void *d1a = nullptr, *d1b = nullptr;
  ASSERT_EQ(dtxi_alloc_async(S[1], n, &d1a), DTX_OK);
  ASSERT_EQ(dtxi_alloc_async(S[1], n, &d1b), DTX_OK);
  for (int d = 0; d < 3; d++) ASSERT_EQ(Drain(B, S[d]), DTXI_EVENT_DONE);
  dtxi_event *t0 = nullptr, *t1 = nullptr;
  ASSERT_EQ(dtxi_event_create_timed(B.b, 1, &t0), DTX_OK);
  ASSERT_EQ(dtxi_event_create_timed(B.b, 1, &t1), DTX_OK);
  auto w0 = std::chrono::steady_clock::now();
  ASSERT_EQ(dtxi_event_record(t0, S[1]), DTX_OK);
  dtxi_p2p_item items[] = {{0, s0, 1, d1a, n}, {2, s2, 1, d1b, n}};
  ASSERT_EQ(dtxi_p2p_group(B.b, items, 2, S.data()), DTX_OK);
  ASSERT_EQ(dtxi_event_record(t1, S[1]), DTX_OK);
  ASSERT_EQ(Await(t1), DTXI_EVENT_DONE);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - w0).count();
  uint64_t h0 = 0, h1 = 0;
  ASSERT_EQ(dtxi_event_host_time(t0, &h0), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtxi_event_host_time(t1, &h1), DTX_OK) << dtx_last_error();
  double model_ms = 2 * (static_cast<double>(n) / 1e9 * 1e3 + 0.1);
  std::printf(
      "two 16 MiB moves into gpu 1 at 1 GB/s: %.1f ms wall, %.1f ms between timed events (model %.1f)\n", ms,
      (h1 - h0) / 1e6, model_ms);
  EXPECT_GE(ms, model_ms * 0.95);
  EXPECT_GE((h1 - h0) / 1e6, model_ms * 0.95);
  EXPECT_LT(ms, model_ms + 5000.0);
  EXPECT_EQ(static_cast<unsigned char *>(d1b)[n - 1], 5);
  dtxi_free_async(S[0], s0);
  dtxi_free_async(S[2], s2);
  dtxi_free_async(S[1], d1a);
  dtxi_free_async(S[1], d1b);
  dtxi_event_destroy(t0);
  dtxi_event_destroy(t1);
}

// An injected nccl fault: the armed group fails at enqueue naming
// ncclGroupEnd, moves nothing, and every stream of it fails from there (events
// before it still complete) until reset; the next group works.
TEST(Backend, InjectedNcclFaultFailsTheGroup) {
  Backend B(3);
  NcclStreams S(B);
  const size_t n = 1024;
  std::vector<unsigned char> data(n, 9), fill(n, 1);
  void *src = DeviceCopyOf(S[0], data), *dst = DeviceCopyOf(S[2], fill);
  dtxi_p2p_item it = {0, src, 2, dst, n};
  dtxi_sim_inject_fault(B.b, 2, DTXI_FAULT_NCCL, 2);  // the 2nd group touching gpu 2
  ASSERT_EQ(dtxi_p2p_group(B.b, &it, 1, S.data()), DTX_OK) << dtx_last_error();
  ASSERT_EQ(Drain(B, S[2]), DTXI_EVENT_DONE);
  EXPECT_EQ(static_cast<unsigned char *>(dst)[0], 9);

  ASSERT_EQ(dtxi_copy_async(S[2], dst, 2, fill.data(), DTXI_HOST, n), DTX_OK);
  dtxi_event *before = B.Event(2);
  ASSERT_EQ(dtxi_event_record(before, S[2]), DTX_OK);
  EXPECT_EQ(dtxi_p2p_group(B.b, &it, 1, S.data()), DTX_EDEVICE);
  std::string msg = dtx_last_error();
  EXPECT_NE(msg.find("ncclGroupEnd"), std::string::npos) << msg;
  EXPECT_NE(msg.find("injected nccl fault"), std::string::npos) << msg;
  std::string err0, err2, err1;
  EXPECT_EQ(Await(before), DTXI_EVENT_DONE);
  EXPECT_EQ(Drain(B, S[0], &err0), DTXI_EVENT_FAILED);
  EXPECT_EQ(Drain(B, S[2], &err2), DTXI_EVENT_FAILED);
  EXPECT_EQ(err0, msg);
  EXPECT_EQ(err2, msg);
  EXPECT_EQ(Drain(B, S[1], &err1), DTXI_EVENT_DONE) << "gpu 1 had no part in the group: " << err1;
  EXPECT_EQ(static_cast<unsigned char *>(dst)[0], 1) << "a failed group must not move bytes";

  for (int d : {0, 2}) dtxi_stream_reset(S[d]);
  ASSERT_EQ(dtxi_p2p_group(B.b, &it, 1, S.data()), DTX_OK) << dtx_last_error();
  std::string err;
  ASSERT_EQ(Drain(B, S[2], &err), DTXI_EVENT_DONE) << err;
  EXPECT_EQ(static_cast<unsigned char *>(dst)[n - 1], 9);

  // A broadcast counts as a group too.
  dtxi_sim_inject_fault(B.b, 1, DTXI_FAULT_NCCL, 1);
  std::vector<void *> dsts = {nullptr, nullptr, dst};
  EXPECT_EQ(dtxi_broadcast(B.b, 0, src, dsts.data(), n, S.data()), DTX_OK) << "gpu 1 takes no part";
  dsts[1] = dst;  // any buffer: the group fails before moving it
  EXPECT_EQ(dtxi_broadcast(B.b, 0, src, dsts.data(), n, S.data()), DTX_EDEVICE);
  EXPECT_EQ(Drain(B, S[1], &err), DTXI_EVENT_FAILED);
  EXPECT_NE(err.find("ncclGroupEnd"), std::string::npos) << err;
  for (int d = 0; d < 3; d++) dtxi_stream_reset(S[d]);
  dtxi_free_async(S[0], src);
  dtxi_free_async(S[2], dst);
  dtxi_event_destroy(before);
}

// A sender whose stream failed before the group: no hang, nothing moves, and
// the receiver fails with the sender's message; a bystander pair in the same
// group is unaffected.
TEST(Backend, P2pGroupFromAFailedStreamFailsTheReceiver) {
  Backend B(4);
  NcclStreams S(B);
  const size_t n = 512;
  std::vector<unsigned char> data(n, 4), fill(n, 6);
  void *src0 = DeviceCopyOf(S[0], data), *dst1 = DeviceCopyOf(S[1], fill);
  void *src2 = DeviceCopyOf(S[2], data), *dst3 = DeviceCopyOf(S[3], fill);
  static char name[] = "produce[0]";
  ASSERT_EQ(dtxi_host_fn(S[0], FailFn, name), DTX_OK);
  dtxi_p2p_item items[] = {{0, src0, 1, dst1, n}, {2, src2, 3, dst3, n}};
  ASSERT_EQ(dtxi_p2p_group(B.b, items, 2, S.data()), DTX_OK);
  std::string err0, err1, err3;
  EXPECT_EQ(Drain(B, S[0], &err0), DTXI_EVENT_FAILED);
  EXPECT_NE(err0.find("task produce[0] failed"), std::string::npos) << err0;
  EXPECT_EQ(Drain(B, S[1], &err1), DTXI_EVENT_FAILED);
  EXPECT_NE(err1.find("ncclRecv"), std::string::npos) << err1;
  EXPECT_NE(err1.find("task produce[0] failed"), std::string::npos) << err1;
  EXPECT_EQ(Drain(B, S[3], &err3), DTXI_EVENT_DONE) << err3;
  EXPECT_EQ(static_cast<unsigned char *>(dst1)[0], 6);
  EXPECT_EQ(static_cast<unsigned char *>(dst3)[0], 4);
  for (int d : {0, 1}) dtxi_stream_reset(S[d]);
  dtxi_free_async(S[0], src0);
  dtxi_free_async(S[1], dst1);
  dtxi_free_async(S[2], src2);
  dtxi_free_async(S[3], dst3);
}

TEST(Backend, P2pBadArgumentsAreRejected) {
  Backend B(3);
  NcclStreams S(B);
  dtxi_stream *compute = B.Stream(1);
  char a[16], c[16];
  auto group = [&](dtxi_p2p_item it, dtxi_stream *const *streams) {
    return dtxi_p2p_group(B.b, &it, 1, streams);
  };
  auto expect = [&](dtx_status rc, const char *want) {
    EXPECT_EQ(rc, DTX_EINVAL) << want;
    EXPECT_NE(std::string(dtx_last_error()).find(want), std::string::npos)
        << "want '" << want << "': " << dtx_last_error();
  };
  dtxi_p2p_item ok = {0, a, 1, c, sizeof a};
  expect(dtxi_p2p_group(nullptr, &ok, 1, S.data()), "backend is NULL");
  expect(dtxi_p2p_group(B.b, &ok, -1, S.data()), "n is -1");
  expect(dtxi_p2p_group(B.b, nullptr, 1, S.data()), "items is NULL");
  expect(dtxi_p2p_group(B.b, &ok, 1, nullptr), "streams is NULL");
  EXPECT_EQ(dtxi_p2p_group(B.b, nullptr, 0, nullptr), DTX_OK) << "an empty group is nothing to do";
  expect(group({0, a, 3, c, 8}, S.data()), "item 0: dst_dev 3 does not exist");
  expect(group({-7, a, 1, c, 8}, S.data()), "item 0: src_dev -7 does not exist");
  expect(group({DTXI_HOST, a, 1, c, 8}, S.data()), "src_dev is the host");
  expect(group({1, a, 1, c, 8}, S.data()), "both gpu 1");
  expect(group({0, nullptr, 1, c, 8}, S.data()), "item 0: src is NULL");
  expect(group({0, a, 1, nullptr, 8}, S.data()), "item 0: dst is NULL");
  dtxi_p2p_item two[] = {ok, {2, a, 1, c, 8}};
  std::vector<dtxi_stream *> missing = {S[0], S[1], nullptr};
  expect(dtxi_p2p_group(B.b, two, 2, missing.data()), "streams[2] is NULL but item 1's source is on gpu 2");
  std::vector<dtxi_stream *> swapped = {S[1], S[0], S[2]};
  expect(group(ok, swapped.data()), "streams[0] (nccl) is a stream of gpu 1");
  std::vector<dtxi_stream *> wrong_kind = {S[0], compute, S[2]};
  expect(group(ok, wrong_kind.data()), "is a compute stream");
  Backend other(3);
  NcclStreams O(other);
  expect(group(ok, O.data()), "belongs to another backend");

  void *dsts[3] = {nullptr, c, nullptr};
  expect(dtxi_broadcast(nullptr, 0, a, dsts, 8, S.data()), "backend is NULL");
  expect(dtxi_broadcast(B.b, 3, a, dsts, 8, S.data()), "root 3");
  expect(dtxi_broadcast(B.b, 0, a, nullptr, 8, S.data()), "dsts is NULL");
  expect(dtxi_broadcast(B.b, 0, nullptr, dsts, 8, S.data()), "src is NULL");
  expect(dtxi_broadcast(B.b, 0, a, dsts, 8, nullptr), "streams is NULL");
  void *to2[3] = {nullptr, nullptr, c};
  expect(dtxi_broadcast(B.b, 0, a, to2, 8, missing.data()), "streams[2] is NULL but receiver 2 is on gpu 2");
  expect(dtxi_broadcast(B.b, 1, a, dsts, 8, wrong_kind.data()), "is a compute stream");
  dtxi_stream_destroy(compute);
}

// Many groups and broadcasts between random pairs of 4 devices, interleaved
// with cross-stream waits and host functions, complete within the deadline
// and carry their bytes (groups on shared streams are queued in one order).
TEST(Backend, ManyP2pGroupsDoNotDeadlock) {
  const uint64_t seed = 99;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  Backend B(4);
  NcclStreams S(B);
  std::vector<dtxi_stream *> compute;
  for (int d = 0; d < 4; d++) compute.push_back(B.Stream(d));
  const size_t n = 256;
  const int rounds = 400 / kScale;
  // buf[d]: one chunk per device; value[d]: what it should hold (host model).
  std::vector<void *> buf(4);
  std::vector<unsigned char> value(4);
  std::vector<std::vector<unsigned char>> init(4);
  for (int d = 0; d < 4; d++) {
    value[d] = static_cast<unsigned char>(d + 1);
    init[d].assign(n, value[d]);
    buf[d] = DeviceCopyOf(S[d], init[d]);
  }
  std::vector<dtxi_event *> ev;
  std::atomic<int> fns{0};
  for (int r = 0; r < rounds; r++) {
    if (rng() % 4 == 0) {  // a broadcast from a random root to a random subset
      int root = static_cast<int>(rng() % 4);
      std::vector<void *> dsts(4, nullptr);
      for (int d = 0; d < 4; d++)
        if (d != root && rng() % 2) {
          dsts[d] = buf[d];
          value[d] = value[root];
        }
      ASSERT_EQ(dtxi_broadcast(B.b, root, buf[root], dsts.data(), n, S.data()), DTX_OK) << dtx_last_error();
    } else {  // a move between two devices
      int a = static_cast<int>(rng() % 4), c = static_cast<int>(rng() % 3);
      if (c >= a) c++;
      dtxi_p2p_item it = {a, buf[a], c, buf[c], n};
      ASSERT_EQ(dtxi_p2p_group(B.b, &it, 1, S.data()), DTX_OK) << dtx_last_error();
      value[c] = value[a];
    }
    // Cross-stream traffic: a compute stream waits on a device's nccl stream.
    int d = static_cast<int>(rng() % 4);
    dtxi_event *e = B.Event(d);
    ASSERT_EQ(dtxi_event_record(e, S[d]), DTX_OK);
    ASSERT_EQ(dtxi_stream_wait(compute[(d + 1) % 4], e), DTX_OK);
    ASSERT_EQ(dtxi_host_fn(compute[(d + 1) % 4], SetFlagFn, &fns), DTX_OK);
    ev.push_back(e);
  }
  for (int d = 0; d < 4; d++) {
    std::string err;
    ASSERT_EQ(Drain(B, S[d], &err), DTXI_EVENT_DONE) << err;
    ASSERT_EQ(Drain(B, compute[d], &err), DTXI_EVENT_DONE) << err;
  }
  EXPECT_EQ(fns.load(), rounds);
  for (int d = 0; d < 4; d++) {
    const unsigned char *p = static_cast<const unsigned char *>(buf[d]);
    EXPECT_EQ(p[0], value[d]) << "gpu " << d;
    EXPECT_EQ(p[n - 1], value[d]) << "gpu " << d;
  }
  for (dtxi_event *e : ev) dtxi_event_destroy(e);
  for (int d = 0; d < 4; d++) {
    dtxi_free_async(S[d], buf[d]);
    dtxi_stream_destroy(compute[d]);
  }
}

// ---- timed events ------------------------------------------------------------------

// The host time of a timed event lies between its enqueue and the moment the
// host sees it complete, and never decreases along a stream.
TEST(Backend, TimedEventsGiveHostTimes) {
  Backend B(2);
  dtxi_stream *s = B.Stream(1, DTXI_STREAM_H2D);
  const int n = 64;
  std::vector<dtxi_event *> ev(n);
  std::vector<uint64_t> enq(n);
  std::vector<unsigned char> host(64 * 1024, 1);
  void *d = nullptr;
  ASSERT_EQ(dtxi_alloc_async(s, host.size(), &d), DTX_OK);
  for (int i = 0; i < n; i++) {
    ASSERT_EQ(dtxi_event_create_timed(B.b, 1, &ev[i]), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtxi_copy_async(s, d, 1, host.data(), DTXI_HOST, host.size()), DTX_OK);
    enq[i] = dtxi_now_ns();
    ASSERT_EQ(dtxi_event_record(ev[i], s), DTX_OK);
  }
  uint64_t prev = 0;
  for (int i = 0; i < n; i++) {
    ASSERT_EQ(Await(ev[i]), DTXI_EVENT_DONE);
    uint64_t seen = dtxi_now_ns(), t = 0;
    ASSERT_EQ(dtxi_event_host_time(ev[i], &t), DTX_OK) << dtx_last_error();
    EXPECT_GE(t, enq[i]) << "event " << i << " completed before it was recorded";
    EXPECT_LE(t, seen) << "event " << i << " completed after the host saw it";
    EXPECT_GE(t, prev) << "event " << i << " went back in time along its stream";
    prev = t;
  }
  // Re-recording moves the time with the mark.
  uint64_t t_old = 0, t_new = 0;
  ASSERT_EQ(dtxi_event_host_time(ev[0], &t_old), DTX_OK);
  ASSERT_EQ(dtxi_event_record(ev[0], s), DTX_OK);
  ASSERT_EQ(Await(ev[0]), DTXI_EVENT_DONE);
  ASSERT_EQ(dtxi_event_host_time(ev[0], &t_new), DTX_OK);
  EXPECT_GE(t_new, prev);
  EXPECT_GT(t_new, t_old);
  dtxi_free_async(s, d);
  for (dtxi_event *e : ev) dtxi_event_destroy(e);
  dtxi_stream_destroy(s);
}

TEST(Backend, TimedEventsSayWhenThereIsNoTime) {
  Backend B(1);
  dtxi_stream *s = B.Stream(0);
  dtxi_event *plain = B.Event(0), *timed = nullptr;
  ASSERT_EQ(dtxi_event_create_timed(B.b, 0, &timed), DTX_OK);
  EXPECT_EQ(dtxi_event_create_timed(B.b, 1, &timed), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("device 1"), std::string::npos) << dtx_last_error();
  uint64_t t = 0;
  EXPECT_EQ(dtxi_event_host_time(timed, &t), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("never recorded"), std::string::npos) << dtx_last_error();
  ASSERT_EQ(dtxi_event_record(plain, s), DTX_OK);
  ASSERT_EQ(Await(plain), DTXI_EVENT_DONE);
  EXPECT_EQ(dtxi_event_host_time(plain, &t), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("dtxi_event_create_timed"), std::string::npos)
      << dtx_last_error();
  dtxt::Gate gate;
  ASSERT_EQ(dtxi_host_fn(s, GatePassFn, &gate), DTX_OK);
  ASSERT_EQ(dtxi_event_record(timed, s), DTX_OK);
  EXPECT_EQ(dtxi_event_host_time(timed, &t), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("not completed"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtxi_event_host_time(timed, nullptr), DTX_EINVAL);
  uint64_t opened = dtxi_now_ns();
  gate.Open();
  ASSERT_EQ(Await(timed), DTXI_EVENT_DONE);
  ASSERT_EQ(dtxi_event_host_time(timed, &t), DTX_OK);
  EXPECT_GE(t, opened);
  // A failed event still has its time.
  static char name[] = "t";
  ASSERT_EQ(dtxi_host_fn(s, FailFn, name), DTX_OK);
  uint64_t before = dtxi_now_ns();
  ASSERT_EQ(dtxi_event_record(timed, s), DTX_OK);
  ASSERT_EQ(Await(timed), DTXI_EVENT_FAILED);
  ASSERT_EQ(dtxi_event_host_time(timed, &t), DTX_OK);
  EXPECT_GE(t, before);
  dtxi_event_destroy(plain);
  dtxi_event_destroy(timed);
  dtxi_stream_destroy(s);
}

TEST(Backend, EveryStreamKindCanBeCreated) {
  Backend B(2);
  for (int k = DTXI_STREAM_COMPUTE; k <= DTXI_STREAM_NCCL; k++) {
    dtxi_stream *s = B.Stream(1, static_cast<dtxi_stream_kind>(k));
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->kind, k);
    EXPECT_STREQ(s->label, dtxi_stream_kind_name(static_cast<dtxi_stream_kind>(k)));
    EXPECT_EQ(Drain(B, s), DTXI_EVENT_DONE);
    dtxi_stream_destroy(s);
  }
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
