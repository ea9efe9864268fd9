// tests/gpu_backend_test.cc - the cuda device backend (device/cuda/backend_cuda.c)
// against the contract of device/backend.h, on real GPUs.
//
// Every test asks the GPU probe first and skips, saying why, where it finds no
// GPU (CI, a machine without a driver) or fewer GPUs than it needs; built
// without CUDA, the one test here skips. Without a GPU, the argument checks of
// dtxi_cuda_open and its failure with a reason still run. With GPUs: copies
// host -> device -> host carry the right bytes; record/wait order work across
// streams and devices (host functions observe the order, and a copy chain
// reads what its producer wrote); stream-ordered allocations show in
// mem_usage and leave it when freed; a failing host function or allocation
// fails the events after it (and streams waiting on them) with its message,
// until stream_reset; peer copies between two devices; every stream kind.
// NCCL: the loader finds libnccl.so.2 or says why (without a GPU too: there
// creating communicators fails, naming ncclCommInitAll); with two or more GPUs
// and NCCL, grouped moves (a ring, a swap) and broadcasts (to all, to a
// subset) carry the right bytes and are ordered on their streams; without
// NCCL the calls fail and fail their streams with the reason. Timed events:
// host times between enqueue and observation, never decreasing along a stream
// across a calibration renewal. No test sleeps to wait: every wait has a
// deadline.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "device/backend.h"
#include "device/device.h"
#include "dtx/status.h"
#include "trace/trace.h"
#ifdef DTX_HAVE_CUDA
#include "device/cuda/nccl_lib.h"
#endif

#ifndef DTX_HAVE_CUDA

TEST(BackendGpu, BuiltWithoutCuda) {
  GTEST_SKIP() << "no GPU: built without CUDA (the cuda backend is not compiled)";
}

#else

namespace {

// Sanitizers make everything slower: give waits more time.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int64_t kDeadlineMs = 120000;
#else
constexpr int64_t kDeadlineMs = 30000;
#endif

// Empty when the machine has at least n GPUs, else why not.
std::string MissingGpus(int n) {
  dtxi_gpu_probe p;
  dtxi_gpu_probe_run(&p);
  if (p.count == 0) return std::string("no GPU: ") + p.why_none;
  if (p.count < n) return "needs " + std::to_string(n) + " GPUs, this machine has " + std::to_string(p.count);
  return "";
}

#define REQUIRE_GPUS(n)                      \
  do {                                       \
    std::string why_ = MissingGpus(n);       \
    if (!why_.empty()) GTEST_SKIP() << why_; \
  } while (0)

struct BackendDeleter {
  void operator()(dtxi_backend *b) const {
    if (b != nullptr) b->ops->destroy(b);
  }
};
struct StreamDeleter {
  void operator()(dtxi_stream *s) const { dtxi_stream_destroy(s); }
};
struct EventDeleter {
  void operator()(dtxi_event *e) const { dtxi_event_destroy(e); }
};
using BackendPtr = std::unique_ptr<dtxi_backend, BackendDeleter>;
using StreamPtr = std::unique_ptr<dtxi_stream, StreamDeleter>;
using EventPtr = std::unique_ptr<dtxi_event, EventDeleter>;

// The cuda backend on CUDA devices 0..n-1 (null, with a failure, if it does not open).
BackendPtr Open(int n) {
  std::vector<int> devs(n);
  for (int i = 0; i < n; i++) devs[i] = i;
  dtxi_backend *b = nullptr;
  dtx_status rc = dtxi_cuda_open(devs.data(), n, &b);
  EXPECT_EQ(rc, DTX_OK) << dtx_last_error();
  if (rc == DTX_OK) {
    EXPECT_STREQ(b->ops->name, "cuda");
    EXPECT_EQ(b->ndev, n);
  }
  return BackendPtr(rc == DTX_OK ? b : nullptr);
}

StreamPtr Stream(dtxi_backend *b, int dev, dtxi_stream_kind kind = DTXI_STREAM_COMPUTE,
                 const char *label = nullptr) {
  dtxi_stream *s = nullptr;
  dtx_status rc = dtxi_stream_create(b, dev, kind, label, &s);
  EXPECT_EQ(rc, DTX_OK) << dtx_last_error();
  return StreamPtr(rc == DTX_OK ? s : nullptr);
}

EventPtr Event(dtxi_backend *b, int dev) {
  dtxi_event *e = nullptr;
  dtx_status rc = dtxi_event_create(b, dev, &e);
  EXPECT_EQ(rc, DTX_OK) << dtx_last_error();
  return EventPtr(rc == DTX_OK ? e : nullptr);
}

// Polls e until it is no longer pending, or the deadline (then PENDING).
dtxi_event_state Await(dtxi_event *e, int64_t ms = kDeadlineMs) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  dtxi_event_state st;
  while ((st = dtxi_event_query(e)) == DTXI_EVENT_PENDING) {
    if (std::chrono::steady_clock::now() > end) break;
    std::this_thread::yield();
  }
  return st;
}

// Records a fresh event on s and waits for it: everything enqueued so far is done.
dtxi_event_state Drain(dtxi_backend *b, dtxi_stream *s) {
  EventPtr e = Event(b, s->dev);
  if (!e) return DTXI_EVENT_FAILED;
  EXPECT_EQ(dtxi_event_record(e.get(), s), DTX_OK) << dtx_last_error();
  dtxi_event_state st = Await(e.get());
  EXPECT_NE(st, DTXI_EVENT_PENDING) << "stream " << s->label << " did not drain within the deadline";
  return st;
}

// A byte pattern that differs per seed and position.
std::vector<unsigned char> Pattern(size_t n, uint64_t seed) {
  std::vector<unsigned char> v(n);
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    v[i] = static_cast<unsigned char>(x >> 24);
  }
  return v;
}

// Index of the first differing byte, or -1.
int64_t FirstDiff(const unsigned char *a, const unsigned char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i]) return static_cast<int64_t>(i);
  return -1;
}

// Pinned host memory from the backend, freed by the backend.
struct Pinned {
  dtxi_backend *b;
  void *p = nullptr;
  Pinned(dtxi_backend *b_, size_t n) : b(b_) {
    EXPECT_EQ(b->ops->host_alloc(b, n, &p), DTX_OK) << dtx_last_error();
  }
  ~Pinned() { b->ops->host_free(b, p); }
  unsigned char *bytes() const { return static_cast<unsigned char *>(p); }
};

// A gate a host function blocks on until the test opens it (with a deadline,
// so a broken test cannot hang the CUDA callback thread for ever).
struct Gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = false;
  bool reached = false;
  bool Pass() {
    std::unique_lock<std::mutex> lk(m);
    reached = true;
    cv.notify_all();
    return cv.wait_for(lk, std::chrono::milliseconds(kDeadlineMs), [&] { return open; });
  }
  void Open() {
    std::lock_guard<std::mutex> lk(m);
    open = true;
    cv.notify_all();
  }
  bool WaitReached() {
    std::unique_lock<std::mutex> lk(m);
    return cv.wait_for(lk, std::chrono::milliseconds(kDeadlineMs), [&] { return reached; });
  }
};
struct GateOpener {  // opens the gate on every way out of a test
  Gate &g;
  ~GateOpener() { g.Open(); }
};

// The order in which host functions ran.
struct Log {
  std::mutex m;
  std::vector<std::string> seen;
  void Add(const std::string &s) {
    std::lock_guard<std::mutex> lk(m);
    seen.push_back(s);
  }
  std::vector<std::string> Get() {
    std::lock_guard<std::mutex> lk(m);
    return seen;
  }
};

struct Step {
  Log *log;
  const char *name;
  Gate *gate;        // blocks here first when not null
  const char *fail;  // fails with this message when not null
};

int RunStep(void *arg, char *err, size_t errlen) {
  Step *st = static_cast<Step *>(arg);
  if (st->gate != nullptr && !st->gate->Pass()) {
    std::snprintf(err, errlen, "step %s: gate never opened", st->name);
    return 1;
  }
  if (st->log != nullptr) st->log->Add(st->name);
  if (st->fail != nullptr) {
    std::snprintf(err, errlen, "%s", st->fail);
    return 1;
  }
  return 0;
}

}  // namespace

// ---- without a GPU as well ----------------------------------------------------------

TEST(BackendGpu, OpenRejectsBadArguments) {
  dtxi_backend *b = nullptr;
  int devs[2] = {0, 0};
  EXPECT_EQ(dtxi_cuda_open(devs, 1, nullptr), DTX_EINVAL);
  EXPECT_EQ(dtxi_cuda_open(nullptr, 1, &b), DTX_EINVAL);
  EXPECT_EQ(dtxi_cuda_open(devs, 0, &b), DTX_EINVAL);
  EXPECT_EQ(dtxi_cuda_open(devs, DTXI_MAX_GPUS + 1, &b), DTX_EINVAL);
  EXPECT_EQ(dtxi_cuda_open(devs, 2, &b), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("twice"), std::string::npos) << dtx_last_error();
  int neg = -3;
  EXPECT_EQ(dtxi_cuda_open(&neg, 1, &b), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("-3"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(b, nullptr) << "out written on failure";
}

TEST(BackendGpu, OpenWithoutGpuSaysWhy) {
  dtxi_gpu_probe p;
  dtxi_gpu_probe_run(&p);
  if (p.count > 0) GTEST_SKIP() << "this machine has " << p.count << " GPU(s)";
  int dev = 0;
  dtxi_backend *b = nullptr;
  EXPECT_EQ(dtxi_cuda_open(&dev, 1, &b), DTX_EDEVICE);
  EXPECT_EQ(b, nullptr);
  std::string why = dtx_last_error();
  EXPECT_NE(why.find("cuda"), std::string::npos) << why;
  EXPECT_NE(why.find("cudaGetDeviceCount"), std::string::npos) << why;
  std::printf("without a GPU: %s\n", why.c_str());
}

// ---- with GPUs -------------------------------------------------------------------

TEST(BackendGpu, OpenNamesDevicesAndStreams) {
  REQUIRE_GPUS(1);
  dtxi_gpu_probe p;
  dtxi_gpu_probe_run(&p);
  BackendPtr b = Open(p.count);
  ASSERT_TRUE(b);
  for (int i = 0; i < p.count; i++) {
    EXPECT_STREQ(b->info[i].name, p.gpu[i].name);
    EXPECT_GT(b->info[i].total_memory, size_t(0));
    size_t used = 0, cap = 0;
    b->ops->mem_usage(b.get(), i, &used, &cap);
    EXPECT_GT(cap, size_t(0)) << "gpu " << i;
    EXPECT_LE(used, cap) << "gpu " << i;
  }
  StreamPtr a = Stream(b.get(), 0, DTXI_STREAM_COMPUTE, "compute-0");
  StreamPtr h = Stream(b.get(), 0, DTXI_STREAM_H2D, nullptr);
  ASSERT_TRUE(a && h);
  EXPECT_STREQ(a->label, "compute-0");
  EXPECT_STREQ(h->label, "h2d");
  EXPECT_EQ(a->dev, 0);
  EXPECT_EQ(h->kind, DTXI_STREAM_H2D);
  void *na = b->ops->native_stream(a.get()), *nh = b->ops->native_stream(h.get());
  EXPECT_NE(na, nullptr);
  EXPECT_NE(nh, nullptr);
  EXPECT_NE(na, nh);

  dtxi_stream *s = nullptr;
  EXPECT_EQ(dtxi_stream_create(b.get(), p.count, DTXI_STREAM_COMPUTE, "x", &s), DTX_EINVAL);
  EXPECT_EQ(dtxi_stream_create(b.get(), -1, DTXI_STREAM_COMPUTE, "x", &s), DTX_EINVAL);
  EXPECT_EQ(s, nullptr);
  dtxi_event *e = nullptr;
  EXPECT_EQ(dtxi_event_create(b.get(), p.count, &e), DTX_EINVAL);
  EXPECT_EQ(e, nullptr);

  // An event never recorded is done, and waiting on it is a no-op.
  EventPtr never = Event(b.get(), 0);
  ASSERT_TRUE(never);
  EXPECT_EQ(dtxi_event_query(never.get()), DTXI_EVENT_DONE);
  EXPECT_EQ(dtxi_stream_wait(a.get(), never.get()), DTX_OK) << dtx_last_error();
  EXPECT_EQ(Drain(b.get(), a.get()), DTXI_EVENT_DONE);
}

TEST(BackendGpu, CopiesCarryTheRightBytes) {
  REQUIRE_GPUS(1);
  dtxi_gpu_probe p;
  dtxi_gpu_probe_run(&p);
  BackendPtr b = Open(p.count);
  ASSERT_TRUE(b);
  for (size_t n : {size_t(1), size_t(4097), size_t(3) << 20}) {
    for (int d = 0; d < p.count; d++) {
      SCOPED_TRACE("gpu " + std::to_string(d) + ", " + std::to_string(n) + " bytes");
      StreamPtr s = Stream(b.get(), d);
      ASSERT_TRUE(s);
      std::vector<unsigned char> src = Pattern(n, n * 31 + d);
      std::vector<unsigned char> back(n, 0);
      Pinned pinned(b.get(), n);
      ASSERT_NE(pinned.p, nullptr);
      std::memset(pinned.p, 0, n);
      void *d1 = nullptr, *d2 = nullptr;
      ASSERT_EQ(dtxi_alloc_async(s.get(), n, &d1), DTX_OK) << dtx_last_error();
      ASSERT_EQ(dtxi_alloc_async(s.get(), n, &d2), DTX_OK) << dtx_last_error();
      ASSERT_NE(d1, nullptr);
      ASSERT_NE(d2, nullptr);
      // pageable -> device -> device -> pinned -> pageable, all in stream order
      ASSERT_EQ(dtxi_copy_async(s.get(), d1, d, src.data(), DTXI_HOST, n), DTX_OK) << dtx_last_error();
      ASSERT_EQ(dtxi_copy_async(s.get(), d2, d, d1, d, n), DTX_OK) << dtx_last_error();
      ASSERT_EQ(dtxi_copy_async(s.get(), pinned.p, DTXI_HOST, d2, d, n), DTX_OK) << dtx_last_error();
      ASSERT_EQ(dtxi_copy_async(s.get(), back.data(), DTXI_HOST, pinned.p, DTXI_HOST, n), DTX_OK)
          << dtx_last_error();
      dtxi_free_async(s.get(), d1);
      dtxi_free_async(s.get(), d2);
      ASSERT_EQ(Drain(b.get(), s.get()), DTXI_EVENT_DONE);
      EXPECT_EQ(FirstDiff(back.data(), src.data(), n), -1);
      EXPECT_EQ(FirstDiff(pinned.bytes(), src.data(), n), -1);
    }
  }
  // Bad arguments fail at once and leave the stream usable.
  StreamPtr s = Stream(b.get(), 0);
  ASSERT_TRUE(s);
  char x = 0;
  EXPECT_EQ(dtxi_copy_async(s.get(), &x, p.count, &x, DTXI_HOST, 1), DTX_EINVAL);
  EXPECT_EQ(dtxi_copy_async(s.get(), nullptr, DTXI_HOST, &x, DTXI_HOST, 1), DTX_EINVAL);
  EXPECT_EQ(Drain(b.get(), s.get()), DTXI_EVENT_DONE);
}

// Stream sb on device db waits for sa on device da: a host function on sb runs
// after one on sa (held at a gate), and a copy chain on sb reads what sa wrote.
static void CheckWaitOrders(dtxi_backend *b, int da, int db) {
  StreamPtr sa = Stream(b, da, DTXI_STREAM_COMPUTE, "producer");
  StreamPtr sb = Stream(b, db, DTXI_STREAM_COMPUTE, "consumer");
  ASSERT_TRUE(sa && sb);

  // Host functions observe the order.
  Log log;
  Gate gate;
  Step a{&log, "a", &gate, nullptr}, c{&log, "b", nullptr, nullptr};
  EventPtr ea = Event(b, da), eb = Event(b, db);
  ASSERT_TRUE(ea && eb);
  {
    GateOpener opener{gate};
    ASSERT_EQ(dtxi_host_fn(sa.get(), RunStep, &a), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtxi_event_record(ea.get(), sa.get()), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtxi_stream_wait(sb.get(), ea.get()), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtxi_host_fn(sb.get(), RunStep, &c), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtxi_event_record(eb.get(), sb.get()), DTX_OK) << dtx_last_error();
    ASSERT_TRUE(gate.WaitReached()) << "the producer's host function never ran";
    EXPECT_EQ(dtxi_event_query(ea.get()), DTXI_EVENT_PENDING);
    EXPECT_EQ(dtxi_event_query(eb.get()), DTXI_EVENT_PENDING) << "the consumer ran ahead of its wait";
    EXPECT_TRUE(log.Get().empty());
  }
  EXPECT_EQ(dtxi_event_sync(eb.get()), DTXI_EVENT_DONE) << dtxi_event_error(eb.get());
  EXPECT_EQ(dtxi_event_query(ea.get()), DTXI_EVENT_DONE);
  EXPECT_EQ(log.Get(), (std::vector<std::string>{"a", "b"}));

  // Device work: sa fills a buffer from pinned memory (large, so a consumer
  // that did not wait would read it half written); sb copies it to its own
  // device and back to the host. Repeated with a new pattern each round.
  const size_t n = size_t(64) << 20;
  Pinned in(b, n), out(b, n);
  ASSERT_TRUE(in.p != nullptr && out.p != nullptr);
  void *buf_a = nullptr, *buf_b = nullptr;
  ASSERT_EQ(dtxi_alloc_async(sa.get(), n, &buf_a), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtxi_alloc_async(sb.get(), n, &buf_b), DTX_OK) << dtx_last_error();
  // buf_b's allocation is ordered before everything later on sb; buf_a is
  // used by sb only behind ea, recorded after its allocation.
  for (int round = 0; round < 3; round++) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<unsigned char> want = Pattern(n, 1000 + round);
    std::memcpy(in.p, want.data(), n);
    std::memset(out.p, 0, n);
    ASSERT_EQ(dtxi_copy_async(sa.get(), buf_a, da, in.p, DTXI_HOST, n), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtxi_event_record(ea.get(), sa.get()), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtxi_stream_wait(sb.get(), ea.get()), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtxi_copy_async(sb.get(), buf_b, db, buf_a, da, n), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtxi_copy_async(sb.get(), out.p, DTXI_HOST, buf_b, db, n), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtxi_event_record(eb.get(), sb.get()), DTX_OK) << dtx_last_error();
    ASSERT_EQ(Await(eb.get()), DTXI_EVENT_DONE) << dtxi_event_error(eb.get());
    // sa must not overwrite buf_a (next round) before sb has read it.
    ASSERT_EQ(dtxi_stream_wait(sa.get(), eb.get()), DTX_OK) << dtx_last_error();
    EXPECT_EQ(FirstDiff(out.bytes(), want.data(), n), -1);
  }
  dtxi_free_async(sb.get(), buf_b);
  ASSERT_EQ(dtxi_event_record(eb.get(), sb.get()), DTX_OK);
  ASSERT_EQ(dtxi_stream_wait(sa.get(), eb.get()), DTX_OK);
  dtxi_free_async(sa.get(), buf_a);
  EXPECT_EQ(Drain(b, sa.get()), DTXI_EVENT_DONE);
}

TEST(BackendGpu, WaitOrdersStreamsOnOneDevice) {
  REQUIRE_GPUS(1);
  BackendPtr b = Open(1);
  ASSERT_TRUE(b);
  CheckWaitOrders(b.get(), 0, 0);
}

TEST(BackendGpu, WaitOrdersStreamsAcrossDevices) {
  REQUIRE_GPUS(2);
  BackendPtr b = Open(2);
  ASSERT_TRUE(b);
  CheckWaitOrders(b.get(), 0, 1);
  CheckWaitOrders(b.get(), 1, 0);
}

TEST(BackendGpu, AllocAndFreeShowInMemUsage) {
  REQUIRE_GPUS(1);
  BackendPtr b = Open(1);
  ASSERT_TRUE(b);
  StreamPtr s = Stream(b.get(), 0);
  ASSERT_TRUE(s);
  ASSERT_EQ(Drain(b.get(), s.get()), DTXI_EVENT_DONE);
  size_t used0 = 0, cap = 0;
  b->ops->mem_usage(b.get(), 0, &used0, &cap);
  EXPECT_GT(cap, size_t(0));
  const size_t n = std::min(size_t(256) << 20, cap / 16);
  void *ptrs[4] = {};
  for (void *&p : ptrs) ASSERT_EQ(dtxi_alloc_async(s.get(), n, &p), DTX_OK) << dtx_last_error();
  ASSERT_EQ(Drain(b.get(), s.get()), DTXI_EVENT_DONE);
  size_t used1 = 0;
  b->ops->mem_usage(b.get(), 0, &used1, nullptr);
  EXPECT_GE(used1, used0 + 4 * n) << "before " << used0 << ", after allocating " << 4 * n;
  EXPECT_LE(used1, cap);
  for (void *p : ptrs) dtxi_free_async(s.get(), p);
  ASSERT_EQ(Drain(b.get(), s.get()), DTXI_EVENT_DONE);
  size_t used2 = 0;
  b->ops->mem_usage(b.get(), 0, &used2, nullptr);
  EXPECT_LE(used2, used0) << "freed memory still counted as in use";
  // The pool keeps the memory (release threshold raised): the same sizes again
  // come back without growing the device's footprint; used returns to used1.
  for (void *&p : ptrs) ASSERT_EQ(dtxi_alloc_async(s.get(), n, &p), DTX_OK) << dtx_last_error();
  ASSERT_EQ(Drain(b.get(), s.get()), DTXI_EVENT_DONE);
  size_t used3 = 0;
  b->ops->mem_usage(b.get(), 0, &used3, nullptr);
  EXPECT_EQ(used3, used1);
  for (void *p : ptrs) dtxi_free_async(s.get(), p);
  ASSERT_EQ(Drain(b.get(), s.get()), DTXI_EVENT_DONE);
  size_t zero_used = 1;
  void *none = &zero_used;
  EXPECT_EQ(dtxi_alloc_async(s.get(), 0, &none), DTX_OK);
  EXPECT_EQ(none, nullptr);
  dtxi_free_async(s.get(), nullptr);  // tolerated
}

TEST(BackendGpu, FailingHostFnFailsLaterEventsUntilReset) {
  REQUIRE_GPUS(1);
  BackendPtr b = Open(1);
  ASSERT_TRUE(b);
  StreamPtr s = Stream(b.get(), 0, DTXI_STREAM_COMPUTE, "failing");
  StreamPtr w1 = Stream(b.get(), 0, DTXI_STREAM_COMPUTE, "waits-early");
  StreamPtr w2 = Stream(b.get(), 0, DTXI_STREAM_COMPUTE, "waits-late");
  ASSERT_TRUE(s && w1 && w2);
  const char *boom = "kernel stand-in exploded: code 42";
  Log log;
  Gate gate;
  Step ok_before{&log, "before", nullptr, nullptr};
  Step bad{&log, "bad", &gate, boom};
  Step after{&log, "after", nullptr, nullptr};
  Step waiter{&log, "waiter", nullptr, nullptr};
  EventPtr e0 = Event(b.get(), 0), e1 = Event(b.get(), 0), e2 = Event(b.get(), 0);
  EventPtr ew1 = Event(b.get(), 0), ew2 = Event(b.get(), 0);
  ASSERT_TRUE(e0 && e1 && e2 && ew1 && ew2);
  {
    GateOpener opener{gate};
    ASSERT_EQ(dtxi_host_fn(s.get(), RunStep, &ok_before), DTX_OK);
    ASSERT_EQ(dtxi_event_record(e0.get(), s.get()), DTX_OK);
    ASSERT_EQ(dtxi_host_fn(s.get(), RunStep, &bad), DTX_OK);
    ASSERT_EQ(dtxi_event_record(e1.get(), s.get()), DTX_OK);
    ASSERT_EQ(dtxi_host_fn(s.get(), RunStep, &after), DTX_OK);
    ASSERT_EQ(dtxi_event_record(e2.get(), s.get()), DTX_OK);
    // w1 waits while the failing function has not run yet: the failure must
    // still reach it once known.
    ASSERT_TRUE(gate.WaitReached());
    ASSERT_EQ(dtxi_stream_wait(w1.get(), e1.get()), DTX_OK) << dtx_last_error();
    ASSERT_EQ(dtxi_host_fn(w1.get(), RunStep, &waiter), DTX_OK);
    ASSERT_EQ(dtxi_event_record(ew1.get(), w1.get()), DTX_OK);
    EXPECT_EQ(dtxi_event_query(e0.get()), DTXI_EVENT_DONE);
    EXPECT_EQ(dtxi_event_query(e1.get()), DTXI_EVENT_PENDING);
  }
  EXPECT_EQ(dtxi_event_sync(e1.get()), DTXI_EVENT_FAILED);
  EXPECT_STREQ(dtxi_event_error(e1.get()), boom);
  EXPECT_EQ(Await(e2.get()), DTXI_EVENT_FAILED);
  EXPECT_STREQ(dtxi_event_error(e2.get()), boom);
  EXPECT_EQ(Await(ew1.get()), DTXI_EVENT_FAILED) << "a wait on a failed event did not fail the waiter";
  EXPECT_STREQ(dtxi_event_error(ew1.get()), boom);
  EXPECT_EQ(dtxi_event_query(e0.get()), DTXI_EVENT_DONE) << "an event before the failure reports it";
  EXPECT_STREQ(dtxi_event_error(e0.get()), "");
  // w2 waits after the failure is known.
  ASSERT_EQ(dtxi_stream_wait(w2.get(), e1.get()), DTX_OK);
  ASSERT_EQ(dtxi_event_record(ew2.get(), w2.get()), DTX_OK);
  EXPECT_EQ(Await(ew2.get()), DTXI_EVENT_FAILED);
  EXPECT_STREQ(dtxi_event_error(ew2.get()), boom);
  // Host functions behind a failure are skipped, as on sim.
  EXPECT_EQ(log.Get(), (std::vector<std::string>{"before", "bad"}));

  // After a reset the stream works again; old events keep their answer.
  dtxi_stream_reset(s.get());
  dtxi_stream_reset(w1.get());
  Step again{&log, "again", nullptr, nullptr};
  ASSERT_EQ(dtxi_host_fn(s.get(), RunStep, &again), DTX_OK);
  EXPECT_EQ(Drain(b.get(), s.get()), DTXI_EVENT_DONE);
  EXPECT_EQ(Drain(b.get(), w1.get()), DTXI_EVENT_DONE);
  EXPECT_EQ(log.Get(), (std::vector<std::string>{"before", "bad", "again"}));
  EXPECT_EQ(dtxi_event_query(e1.get()), DTXI_EVENT_FAILED);
  // Re-recording a failed event after the reset moves its mark: done.
  ASSERT_EQ(dtxi_event_record(e1.get(), s.get()), DTX_OK);
  EXPECT_EQ(Await(e1.get()), DTXI_EVENT_DONE) << dtxi_event_error(e1.get());

  // A failure without a message still fails, with one made up.
  Step silent{nullptr, "silent", nullptr, nullptr};
  auto fail_quietly = [](void *, char *, size_t) -> int { return 7; };
  ASSERT_EQ(dtxi_host_fn(s.get(), fail_quietly, &silent), DTX_OK);
  EventPtr e3 = Event(b.get(), 0);
  ASSERT_TRUE(e3);
  ASSERT_EQ(dtxi_event_record(e3.get(), s.get()), DTX_OK);
  EXPECT_EQ(Await(e3.get()), DTXI_EVENT_FAILED);
  EXPECT_NE(std::string(dtxi_event_error(e3.get())).find("returned 7"), std::string::npos)
      << dtxi_event_error(e3.get());
  dtxi_stream_reset(s.get());
}

TEST(BackendGpu, FailedAllocationFailsTheStream) {
  REQUIRE_GPUS(1);
  BackendPtr b = Open(1);
  ASSERT_TRUE(b);
  StreamPtr s = Stream(b.get(), 0);
  ASSERT_TRUE(s);
  size_t cap = 0;
  b->ops->mem_usage(b.get(), 0, nullptr, &cap);
  void *p = &cap;
  dtx_status rc = dtxi_alloc_async(s.get(), cap * 4, &p);  // never fits
  EXPECT_TRUE(rc == DTX_ENOMEM || rc == DTX_EDEVICE) << dtx_status_name(rc);
  EXPECT_EQ(p, nullptr);
  std::string msg = dtx_last_error();
  EXPECT_NE(msg.find("cudaMallocAsync"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cuda gpu 0"), std::string::npos) << msg;
  EventPtr e = Event(b.get(), 0);
  ASSERT_TRUE(e);
  ASSERT_EQ(dtxi_event_record(e.get(), s.get()), DTX_OK) << dtx_last_error();
  EXPECT_EQ(Await(e.get()), DTXI_EVENT_FAILED);
  EXPECT_NE(std::string(dtxi_event_error(e.get())).find("cudaMallocAsync"), std::string::npos)
      << dtxi_event_error(e.get());
  // Not a sticky error: after a reset, allocations and copies work again.
  dtxi_stream_reset(s.get());
  void *q = nullptr;
  ASSERT_EQ(dtxi_alloc_async(s.get(), 1 << 20, &q), DTX_OK) << dtx_last_error();
  std::vector<unsigned char> v = Pattern(1 << 20, 7), back(1 << 20);
  ASSERT_EQ(dtxi_copy_async(s.get(), q, 0, v.data(), DTXI_HOST, v.size()), DTX_OK);
  ASSERT_EQ(dtxi_copy_async(s.get(), back.data(), DTXI_HOST, q, 0, v.size()), DTX_OK);
  dtxi_free_async(s.get(), q);
  EXPECT_EQ(Drain(b.get(), s.get()), DTXI_EVENT_DONE);
  EXPECT_EQ(FirstDiff(back.data(), v.data(), v.size()), -1);
}

TEST(BackendGpu, EventsOnlyOnStreamsOfTheirDevice) {
  REQUIRE_GPUS(2);
  BackendPtr b = Open(2);
  ASSERT_TRUE(b);
  StreamPtr s1 = Stream(b.get(), 1);
  EventPtr e0 = Event(b.get(), 0);
  ASSERT_TRUE(s1 && e0);
  EXPECT_EQ(dtxi_event_record(e0.get(), s1.get()), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("gpu"), std::string::npos) << dtx_last_error();
  EXPECT_EQ(Drain(b.get(), s1.get()), DTXI_EVENT_DONE) << "a refused record failed the stream";
}

TEST(BackendGpu, PeerCopiesBetweenTwoDevices) {
  REQUIRE_GPUS(2);
  BackendPtr b = Open(2);
  ASSERT_TRUE(b);
  const size_t n = (size_t(32) << 20) + 5;
  std::vector<unsigned char> want = Pattern(n, 77), got(n, 0), got2(n, 0);
  StreamPtr s0 = Stream(b.get(), 0, DTXI_STREAM_PEER, "peer-0");
  StreamPtr s1 = Stream(b.get(), 1, DTXI_STREAM_PEER, "peer-1");
  ASSERT_TRUE(s0 && s1);
  void *a0 = nullptr, *a1 = nullptr, *c0 = nullptr;
  ASSERT_EQ(dtxi_alloc_async(s0.get(), n, &a0), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtxi_alloc_async(s0.get(), n, &c0), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtxi_alloc_async(s1.get(), n, &a1), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtxi_copy_async(s0.get(), a0, 0, want.data(), DTXI_HOST, n), DTX_OK) << dtx_last_error();
  EventPtr e0 = Event(b.get(), 0), e1 = Event(b.get(), 1);
  ASSERT_TRUE(e0 && e1);
  ASSERT_EQ(dtxi_event_record(e0.get(), s0.get()), DTX_OK);
  // 0 -> 1 on the destination's stream ("peer in")
  ASSERT_EQ(dtxi_stream_wait(s1.get(), e0.get()), DTX_OK);
  ASSERT_EQ(dtxi_copy_async(s1.get(), a1, 1, a0, 0, n), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtxi_copy_async(s1.get(), got.data(), DTXI_HOST, a1, 1, n), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtxi_event_record(e1.get(), s1.get()), DTX_OK);
  // 1 -> 0 on the destination's stream again, behind the first leg
  ASSERT_EQ(dtxi_stream_wait(s0.get(), e1.get()), DTX_OK);
  ASSERT_EQ(dtxi_copy_async(s0.get(), c0, 0, a1, 1, n), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtxi_copy_async(s0.get(), got2.data(), DTXI_HOST, c0, 0, n), DTX_OK) << dtx_last_error();
  dtxi_free_async(s0.get(), a0);
  dtxi_free_async(s0.get(), c0);
  EXPECT_EQ(Drain(b.get(), s0.get()), DTXI_EVENT_DONE);
  dtxi_free_async(s1.get(), a1);
  EXPECT_EQ(Drain(b.get(), s1.get()), DTXI_EVENT_DONE);
  EXPECT_EQ(FirstDiff(got.data(), want.data(), n), -1) << "gpu 0 -> gpu 1";
  EXPECT_EQ(FirstDiff(got2.data(), want.data(), n), -1) << "gpu 1 -> gpu 0";
}

// ---- stream kinds -------------------------------------------------------------------

TEST(BackendGpu, EveryStreamKindCanBeCreated) {
  REQUIRE_GPUS(1);
  BackendPtr b = Open(1);
  ASSERT_TRUE(b);
  for (int k = DTXI_STREAM_COMPUTE; k <= DTXI_STREAM_NCCL; k++) {
    StreamPtr s = Stream(b.get(), 0, static_cast<dtxi_stream_kind>(k));
    ASSERT_TRUE(s);
    EXPECT_STREQ(s->label, dtxi_stream_kind_name(static_cast<dtxi_stream_kind>(k)));
    EXPECT_NE(b->ops->native_stream(s.get()), nullptr);
    EXPECT_EQ(Drain(b.get(), s.get()), DTXI_EVENT_DONE);
  }
}

// ---- NCCL ------------------------------------------------------------------------------

// Without a GPU as well: the loader either finds libnccl.so.2 (and then, with
// no GPU, fails to make communicators, naming ncclCommInitAll) or says why not.
TEST(BackendGpu, NcclLoaderFindsTheLibraryOrSaysWhy) {
  dtxi_nccl *nc = nullptr;
  EXPECT_EQ(dtxi_nccl_create(nullptr, 1, &nc), DTX_EINVAL);
  int ord[1] = {0};
  ASSERT_EQ(dtxi_nccl_create(ord, 1, &nc), DTX_OK) << dtx_last_error();
  bool ready = dtxi_nccl_ready(nc);
  std::string why = ready ? "" : dtx_last_error();
  std::printf("NCCL: %s\n", ready ? "libnccl.so.2 loaded" : why.c_str());
  if (!ready) {
    EXPECT_NE(why.find("NCCL is not available"), std::string::npos) << why;
  }
  EXPECT_EQ(dtxi_nccl_ready(nc), ready) << "the answer is kept";
  dtxi_gpu_probe p;
  dtxi_gpu_probe_run(&p);
  if (ready && p.count == 0) {
    dtxi_nccl_op op = {DTXI_NCCL_SEND, 0, 0, ord, nullptr, 0, nullptr};
    EXPECT_EQ(dtxi_nccl_run(nc, &op, 1), DTX_EDEVICE);
    std::string err = dtx_last_error();
    std::printf("without a GPU: %s\n", err.c_str());
    EXPECT_NE(err.find("ncclCommInitAll failed"), std::string::npos) << err;
    EXPECT_FALSE(dtxi_nccl_ready(nc)) << "a failed ncclCommInitAll makes NCCL unavailable";
    EXPECT_NE(std::string(dtx_last_error()).find("ncclCommInitAll"), std::string::npos) << dtx_last_error();
  }
  dtxi_nccl_destroy(nc);
  dtxi_nccl_destroy(nullptr);
}

// One stream of kind nccl per device.
std::vector<StreamPtr> NcclStreams(dtxi_backend *b) {
  std::vector<StreamPtr> v;
  for (int d = 0; d < b->ndev; d++) v.push_back(Stream(b, d, DTXI_STREAM_NCCL));
  return v;
}
std::vector<dtxi_stream *> Raw(const std::vector<StreamPtr> &v) {
  std::vector<dtxi_stream *> r;
  for (const auto &s : v) r.push_back(s.get());
  return r;
}

#define REQUIRE_NCCL(b)                                                           \
  do {                                                                            \
    if (!dtxi_nccl_available(b)) GTEST_SKIP() << "no NCCL: " << dtx_last_error(); \
  } while (0)

// Device buffer of each device filled with a pattern, through the stream.
void *Filled(dtxi_backend *b, dtxi_stream *s, const std::vector<unsigned char> &v) {
  void *d = nullptr;
  EXPECT_EQ(dtxi_alloc_async(s, v.size(), &d), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtxi_copy_async(s, d, s->dev, v.data(), DTXI_HOST, v.size()), DTX_OK) << dtx_last_error();
  (void)b;
  return d;
}

TEST(BackendGpu, P2pGroupMovesBetweenDevices) {
  REQUIRE_GPUS(2);
  dtxi_gpu_probe p;
  dtxi_gpu_probe_run(&p);
  BackendPtr b = Open(p.count);
  ASSERT_TRUE(b);
  REQUIRE_NCCL(b.get());
  const int n = p.count;
  auto S = NcclStreams(b.get());
  auto streams = Raw(S);
  // A ring d -> d+1 and a swap 0 <-> 1 in one group: devices send and receive.
  std::vector<dtxi_p2p_item> items;
  std::vector<std::vector<unsigned char> > want;
  for (int d = 0; d < n; d++) {
    size_t bytes = (size_t(1) << 20) * (d + 1) + 13;
    want.push_back(Pattern(bytes, 500 + d));
    items.push_back({d, nullptr, (d + 1) % n, nullptr, bytes});
  }
  want.push_back(Pattern(4099, 600));
  items.push_back({1, nullptr, 0, nullptr, 4099});
  std::vector<void *> src, dst;
  for (size_t k = 0; k < items.size(); k++) {
    src.push_back(Filled(b.get(), streams[items[k].src_dev], want[k]));
    void *d = nullptr;
    ASSERT_EQ(dtxi_alloc_async(streams[items[k].dst_dev], want[k].size(), &d), DTX_OK) << dtx_last_error();
    dst.push_back(d);
    items[k].src = src[k];
    items[k].dst = d;
  }
  ASSERT_EQ(dtxi_p2p_group(b.get(), items.data(), static_cast<int>(items.size()), streams.data()), DTX_OK)
      << dtx_last_error();
  std::vector<std::vector<unsigned char> > got(items.size());
  for (size_t k = 0; k < items.size(); k++) {
    got[k].assign(want[k].size(), 0);
    ASSERT_EQ(dtxi_copy_async(streams[items[k].dst_dev], got[k].data(), DTXI_HOST, dst[k], items[k].dst_dev,
                              got[k].size()),
              DTX_OK);
  }
  for (int d = 0; d < n; d++)
    EXPECT_EQ(Drain(b.get(), streams[d]), DTXI_EVENT_DONE) << dtxi_stream_kind_name(DTXI_STREAM_NCCL) << d;
  for (size_t k = 0; k < items.size(); k++)
    EXPECT_EQ(FirstDiff(got[k].data(), want[k].data(), want[k].size()), -1)
        << "item " << k << ": gpu " << items[k].src_dev << " -> gpu " << items[k].dst_dev;
  for (size_t k = 0; k < items.size(); k++) {
    dtxi_free_async(streams[items[k].src_dev], src[k]);
    dtxi_free_async(streams[items[k].dst_dev], dst[k]);
  }
  for (int d = 0; d < n; d++) EXPECT_EQ(Drain(b.get(), streams[d]), DTXI_EVENT_DONE);
}

// The receiver's stream is held by a host function: the send cannot finish
// (NCCL's send and receive meet), events before the group complete, and once
// the gate opens the bytes arrive in order with the work around them.
TEST(BackendGpu, P2pGroupIsOrderedOnItsStreams) {
  REQUIRE_GPUS(2);
  BackendPtr b = Open(2);
  ASSERT_TRUE(b);
  REQUIRE_NCCL(b.get());
  auto S = NcclStreams(b.get());
  auto streams = Raw(S);
  const size_t n = 1 << 20;
  std::vector<unsigned char> first = Pattern(n, 1), second = Pattern(n, 2), old = Pattern(n, 3);
  std::vector<unsigned char> seen(n, 0);
  void *src = Filled(b.get(), streams[0], first), *dst = Filled(b.get(), streams[1], old);
  EXPECT_EQ(Drain(b.get(), streams[0]), DTXI_EVENT_DONE);
  EXPECT_EQ(Drain(b.get(), streams[1]), DTXI_EVENT_DONE);
  Gate gate;
  GateOpener opener{gate};
  Step hold{nullptr, "hold", &gate, nullptr};
  EventPtr before0 = Event(b.get(), 0), after0 = Event(b.get(), 0), after1 = Event(b.get(), 1);
  ASSERT_EQ(dtxi_event_record(before0.get(), streams[0]), DTX_OK);
  ASSERT_EQ(dtxi_host_fn(streams[1], RunStep, &hold), DTX_OK);
  dtxi_p2p_item it = {0, src, 1, dst, n};
  ASSERT_EQ(dtxi_p2p_group(b.get(), &it, 1, streams.data()), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtxi_copy_async(streams[0], src, 0, second.data(), DTXI_HOST, n), DTX_OK);  // after the send
  ASSERT_EQ(dtxi_event_record(after0.get(), streams[0]), DTX_OK);
  ASSERT_EQ(dtxi_copy_async(streams[1], seen.data(), DTXI_HOST, dst, 1, n), DTX_OK);
  ASSERT_EQ(dtxi_event_record(after1.get(), streams[1]), DTX_OK);
  EXPECT_EQ(Await(before0.get()), DTXI_EVENT_DONE);
  ASSERT_TRUE(gate.WaitReached());
  EXPECT_EQ(Await(after0.get(), 100), DTXI_EVENT_PENDING)
      << "the send finished before its receiver got there";
  gate.Open();
  EXPECT_EQ(Await(after0.get()), DTXI_EVENT_DONE) << dtxi_event_error(after0.get());
  EXPECT_EQ(Await(after1.get()), DTXI_EVENT_DONE) << dtxi_event_error(after1.get());
  EXPECT_EQ(FirstDiff(seen.data(), first.data(), n), -1) << "the receiver must get the bytes sent";
  dtxi_free_async(streams[0], src);
  dtxi_free_async(streams[1], dst);
  EXPECT_EQ(Drain(b.get(), streams[0]), DTXI_EVENT_DONE);
  EXPECT_EQ(Drain(b.get(), streams[1]), DTXI_EVENT_DONE);
}

TEST(BackendGpu, BroadcastToAllAndToSubset) {
  REQUIRE_GPUS(2);
  dtxi_gpu_probe p;
  dtxi_gpu_probe_run(&p);
  BackendPtr b = Open(p.count);
  ASSERT_TRUE(b);
  REQUIRE_NCCL(b.get());
  const int n = p.count, root = n - 1;
  auto S = NcclStreams(b.get());
  auto streams = Raw(S);
  const size_t bytes = (size_t(5) << 20) + 7;
  std::vector<unsigned char> chunk = Pattern(bytes, 9), fill(bytes, 0xee), got(bytes);
  void *src = Filled(b.get(), streams[root], chunk);
  std::vector<void *> buf;
  for (int d = 0; d < n; d++) buf.push_back(Filled(b.get(), streams[d], fill));
  auto check = [&](int d, const std::vector<unsigned char> &want) {
    std::fill(got.begin(), got.end(), 0);
    EXPECT_EQ(dtxi_copy_async(streams[d], got.data(), DTXI_HOST, buf[d], d, bytes), DTX_OK);
    EXPECT_EQ(Drain(b.get(), streams[d]), DTXI_EVENT_DONE);
    EXPECT_EQ(FirstDiff(got.data(), want.data(), bytes), -1) << "gpu " << d;
  };
  // Everyone, the root into a buffer of its own too: ncclBroadcast.
  ASSERT_EQ(dtxi_broadcast(b.get(), root, src, buf.data(), bytes, streams.data()), DTX_OK)
      << dtx_last_error();
  for (int d = 0; d < n; d++) check(d, chunk);
  // Only gpu 0 (with 2 GPUs: everyone but the root's own copy): grouped sends.
  for (int d = 0; d < n; d++)
    ASSERT_EQ(dtxi_copy_async(streams[d], buf[d], d, fill.data(), DTXI_HOST, bytes), DTX_OK);
  std::vector<void *> some(n, nullptr);
  some[0] = buf[0];
  ASSERT_EQ(dtxi_broadcast(b.get(), root, src, some.data(), bytes, streams.data()), DTX_OK)
      << dtx_last_error();
  check(0, chunk);
  for (int d = 1; d < n; d++) check(d, fill);
  dtxi_free_async(streams[root], src);
  for (int d = 0; d < n; d++) dtxi_free_async(streams[d], buf[d]);
  for (int d = 0; d < n; d++) EXPECT_EQ(Drain(b.get(), streams[d]), DTXI_EVENT_DONE);
}

// On a GPU machine without NCCL: the calls fail with the reason and fail the
// streams taking part, so the scheduler's events see it.
TEST(BackendGpu, WithoutNcclTheCallsFailAndSayWhy) {
  REQUIRE_GPUS(2);
  BackendPtr b = Open(2);
  ASSERT_TRUE(b);
  if (dtxi_nccl_available(b.get())) GTEST_SKIP() << "NCCL is here: nothing to check";
  std::string why = dtx_last_error();
  auto S = NcclStreams(b.get());
  auto streams = Raw(S);
  void *a = nullptr, *c = nullptr;
  ASSERT_EQ(dtxi_alloc_async(streams[0], 64, &a), DTX_OK);
  ASSERT_EQ(dtxi_alloc_async(streams[1], 64, &c), DTX_OK);
  dtxi_p2p_item it = {0, a, 1, c, 64};
  EXPECT_EQ(dtxi_p2p_group(b.get(), &it, 1, streams.data()), DTX_EDEVICE);
  EXPECT_EQ(std::string(dtx_last_error()), why);
  EXPECT_EQ(Drain(b.get(), streams[1]), DTXI_EVENT_FAILED);
  dtxi_stream_reset(streams[0]);
  dtxi_stream_reset(streams[1]);
  dtxi_free_async(streams[0], a);
  dtxi_free_async(streams[1], c);
}

TEST(BackendGpu, P2pBadArgumentsAreRejected) {
  REQUIRE_GPUS(1);
  BackendPtr b = Open(1);
  ASSERT_TRUE(b);
  auto S = NcclStreams(b.get());
  auto streams = Raw(S);
  char x[8];
  dtxi_p2p_item self = {0, x, 0, x, 8};
  EXPECT_EQ(dtxi_p2p_group(b.get(), &self, 1, streams.data()), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("both gpu 0"), std::string::npos) << dtx_last_error();
  dtxi_p2p_item far = {0, x, 1, x, 8};
  EXPECT_EQ(dtxi_p2p_group(b.get(), &far, 1, streams.data()), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("dst_dev 1 does not exist"), std::string::npos)
      << dtx_last_error();
  StreamPtr compute = Stream(b.get(), 0);
  dtxi_stream *wrong[1] = {compute.get()};
  void *dsts[1] = {nullptr};
  EXPECT_EQ(dtxi_broadcast(b.get(), 0, x, dsts, 8, wrong), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("compute stream"), std::string::npos) << dtx_last_error();
}

// ---- timed events ------------------------------------------------------------------------

// Host times lie between enqueue and observation (within the calibration's
// error) and never decrease along a stream, across a calibration renewal
// (the run spans more than CAL_REFRESH_NS).
TEST(BackendGpu, TimedEventsGiveHostTimes) {
  REQUIRE_GPUS(1);
  BackendPtr b = Open(1);
  ASSERT_TRUE(b);
  StreamPtr s = Stream(b.get(), 0, DTXI_STREAM_H2D);
  ASSERT_TRUE(s);
  const size_t bytes = size_t(1) << 20;
  std::vector<unsigned char> host = Pattern(bytes, 4);
  void *d = nullptr;
  ASSERT_EQ(dtxi_alloc_async(s.get(), bytes, &d), DTX_OK);
  const int64_t slack_ns = 1000000;  // 1 ms: far above the calibration's error
  uint64_t t_start = dtxi_now_ns(), prev = 0;
  int n = 0;
  std::vector<EventPtr> ev;
  for (int i = 0; i < 8; i++) {
    dtxi_event *e = nullptr;
    ASSERT_EQ(dtxi_event_create_timed(b.get(), 0, &e), DTX_OK) << dtx_last_error();
    ev.emplace_back(e);
  }
  // Rounds of 8 records until 1.5 s have passed.
  while (dtxi_now_ns() - t_start < 1500000000ull) {
    uint64_t enq[8];
    for (int i = 0; i < 8; i++) {
      ASSERT_EQ(dtxi_copy_async(s.get(), d, 0, host.data(), DTXI_HOST, bytes), DTX_OK);
      enq[i] = dtxi_now_ns();
      ASSERT_EQ(dtxi_event_record(ev[i].get(), s.get()), DTX_OK) << dtx_last_error();
    }
    for (int i = 0; i < 8; i++) {
      ASSERT_EQ(Await(ev[i].get()), DTXI_EVENT_DONE);
      uint64_t seen = dtxi_now_ns(), t = 0;
      ASSERT_EQ(dtxi_event_host_time(ev[i].get(), &t), DTX_OK) << dtx_last_error();
      EXPECT_GE(static_cast<int64_t>(t), static_cast<int64_t>(enq[i]) - slack_ns) << "record " << n;
      EXPECT_LE(static_cast<int64_t>(t), static_cast<int64_t>(seen) + slack_ns) << "record " << n;
      EXPECT_GE(t, prev) << "record " << n << " went back in time along its stream";
      prev = t;
      n++;
    }
  }
  std::printf("%d timed records over 1.5 s\n", n);
  uint64_t t = 0;
  EventPtr plain = Event(b.get(), 0);
  EXPECT_EQ(dtxi_event_host_time(plain.get(), &t), DTX_EINVAL);
  dtxi_event *never = nullptr;
  ASSERT_EQ(dtxi_event_create_timed(b.get(), 0, &never), DTX_OK);
  EventPtr never_p(never);
  EXPECT_EQ(dtxi_event_host_time(never, &t), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("never recorded"), std::string::npos) << dtx_last_error();
  dtxi_free_async(s.get(), d);
  EXPECT_EQ(Drain(b.get(), s.get()), DTXI_EVENT_DONE);
}

#endif  // DTX_HAVE_CUDA
