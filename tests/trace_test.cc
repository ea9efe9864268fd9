// tests/trace_test.cc - the Chrome trace writer (trace/trace.c) and the traces
// the schedulers write through it.
//
// Every test parses the written file with nlohmann::json: the file must be
// valid JSON, each event must appear exactly once, names must round-trip
// through the escaping, and every track a slice uses must be named. Without
// nlohmann::json (DTX_HAVE_NLOHMANN_JSON undefined) the tests skip, saying so.
#include "trace/trace.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/config.h"
#include "dtx/cluster.h"
#include "dtx/graph.h"
#include "dtx/status.h"

#ifdef DTX_HAVE_NLOHMANN_JSON
#include <nlohmann/json.hpp>
using json = nlohmann::json;
#define NEED_JSON() (void)0
#else
#define NEED_JSON() \
  GTEST_SKIP() << "nlohmann::json not found at configure time (apt-get install nlohmann-json3-dev)"
#endif

namespace {

// A trace file path unique to this process and test, removed on destruction.
class TempTrace {
 public:
  explicit TempTrace(const char *tag) {
    path_ = ::testing::TempDir() + "dtx_trace_" + tag + "_" + std::to_string(::getpid()) + ".json";
    std::remove(path_.c_str());
  }
  ~TempTrace() { std::remove(path_.c_str()); }
  const char *c_str() const { return path_.c_str(); }

 private:
  std::string path_;
};

std::string ReadFile(const char *path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

#ifdef DTX_HAVE_NLOHMANN_JSON

// Parses the file; fails the test (and returns null) when it is not valid JSON.
json ParseTrace(const char *path) {
  std::string text = ReadFile(path);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not valid JSON: " << path << "\n" << text.substr(0, 2000);
  if (j.is_discarded()) return json();
  EXPECT_TRUE(j.is_object());
  EXPECT_TRUE(j.contains("traceEvents") && j["traceEvents"].is_array());
  EXPECT_EQ(j.value("displayTimeUnit", ""), "ns");
  EXPECT_TRUE(j.contains("otherData") && j["otherData"].is_object());
  return j;
}

std::vector<json> EventsWithPh(const json &j, const char *ph) {
  std::vector<json> out;
  if (!j.contains("traceEvents")) return out;
  for (const json &e : j["traceEvents"]) {
    if (e.value("ph", "") == ph) out.push_back(e);
  }
  return out;
}

using Track = std::pair<int, int>;  // (pid, tid)

Track TrackOf(const json &e) { return {e.at("pid").get<int>(), e.at("tid").get<int>()}; }

// thread_name metadata: (pid, tid) -> name.
std::map<Track, std::string> ThreadNames(const json &j) {
  std::map<Track, std::string> names;
  for (const json &e : EventsWithPh(j, "M")) {
    if (e.value("name", "") == "thread_name") names[TrackOf(e)] = e.at("args").at("name").get<std::string>();
  }
  return names;
}

// Slices on each track must nest properly (Chrome trace rule): sorted by start,
// each slice either ends before the next one starts or encloses it. Times are
// microseconds with three decimals; eps absorbs double rounding.
void ExpectProperNesting(const std::vector<json> &slices) {
  const double eps = 1e-4;
  std::map<Track, std::vector<std::pair<double, double>>> by_track;
  for (const json &e : slices) {
    double ts = e.at("ts").get<double>(), dur = e.at("dur").get<double>();
    EXPECT_GE(ts, 0.0);
    EXPECT_GE(dur, 0.0);
    by_track[TrackOf(e)].push_back({ts, ts + dur});
  }
  for (auto &kv : by_track) {
    auto &v = kv.second;
    std::sort(v.begin(), v.end(), [](auto &a, auto &b) {
      return a.first < b.first || (a.first == b.first && a.second > b.second);
    });
    std::vector<double> open_ends;  // ends of the enclosing slices
    for (auto &s : v) {
      while (!open_ends.empty() && open_ends.back() <= s.first + eps) open_ends.pop_back();
      if (!open_ends.empty()) {
        EXPECT_LE(s.second, open_ends.back() + eps)
            << "slice [" << s.first << ", " << s.second << "] partly overlaps an enclosing one on track ("
            << kv.first.first << "," << kv.first.second << ")";
      }
      open_ends.push_back(s.second);
    }
  }
}

// Slices on one track never overlap at all.
void ExpectNoOverlap(const std::vector<json> &slices) {
  const double eps = 1e-4;
  std::map<Track, std::vector<std::pair<double, double>>> by_track;
  for (const json &e : slices) {
    double ts = e.at("ts").get<double>();
    by_track[TrackOf(e)].push_back({ts, ts + e.at("dur").get<double>()});
  }
  for (auto &kv : by_track) {
    auto &v = kv.second;
    std::sort(v.begin(), v.end());
    for (size_t i = 1; i < v.size(); i++) {
      EXPECT_LE(v[i - 1].second, v[i].first + eps)
          << "slices overlap on track (" << kv.first.first << "," << kv.first.second << "): ["
          << v[i - 1].first << ", " << v[i - 1].second << "] and [" << v[i].first << ", " << v[i].second
          << "]";
    }
  }
}

// Metadata events named `what` ("process_name", ...) per pid, in file order.
std::map<int, std::vector<json>> ProcessMeta(const json &j, const std::string &what) {
  std::map<int, std::vector<json>> out;
  for (const json &e : EventsWithPh(j, "M")) {
    if (e.value("name", "") == what) out[e.at("pid").get<int>()].push_back(e.at("args"));
  }
  return out;
}

// Metadata events named `what` per track, in file order.
std::map<Track, std::vector<json>> TrackMeta(const json &j, const std::string &what) {
  std::map<Track, std::vector<json>> out;
  for (const json &e : EventsWithPh(j, "M")) {
    if (e.value("name", "") == what) out[TrackOf(e)].push_back(e.at("args"));
  }
  return out;
}

// Flow events ("s", "t", "f") grouped by id, in file order.
std::map<uint64_t, std::vector<json>> FlowsById(const json &j) {
  std::map<uint64_t, std::vector<json>> out;
  for (const json &e : j["traceEvents"]) {
    std::string ph = e.value("ph", "");
    if (ph == "s" || ph == "t" || ph == "f") out[e.at("id").get<uint64_t>()].push_back(e);
  }
  return out;
}

// Every flow event lies inside (ends included) a slice on its own track, so
// Perfetto and chrome://tracing can bind it; the events of one id share cat and
// name, run s, t..., f in time order, and only "f" carries "bp":"e".
void ExpectFlowsBound(const json &j) {
  const double eps = 1e-4;
  std::map<Track, std::vector<std::pair<double, double>>> slices;
  for (const json &e : EventsWithPh(j, "X")) {
    double ts = e.at("ts").get<double>();
    slices[TrackOf(e)].push_back({ts, ts + e.at("dur").get<double>()});
  }
  for (auto &kv : FlowsById(j)) {
    const std::vector<json> &ev = kv.second;
    ASSERT_GE(ev.size(), 2u) << "flow " << kv.first << " has one event";
    EXPECT_EQ(ev.front().value("ph", ""), "s") << "flow " << kv.first;
    EXPECT_EQ(ev.back().value("ph", ""), "f") << "flow " << kv.first;
    for (size_t i = 0; i < ev.size(); i++) {
      const json &e = ev[i];
      std::string ph = e.value("ph", "");
      if (i > 0 && i + 1 < ev.size()) {
        EXPECT_EQ(ph, "t") << "flow " << kv.first;
      }
      EXPECT_EQ(e.value("cat", ""), ev[0].value("cat", "")) << "flow " << kv.first;
      EXPECT_EQ(e.value("name", ""), ev[0].value("name", "")) << "flow " << kv.first;
      EXPECT_EQ(e.contains("bp"), ph == "f") << "flow " << kv.first << " " << ph;
      if (ph == "f") {
        EXPECT_EQ(e.value("bp", ""), "e");
      }
      double ts = e.at("ts").get<double>();
      if (i > 0) {
        EXPECT_GE(ts + eps, ev[i - 1].at("ts").get<double>()) << "flow " << kv.first << " goes back";
      }
      bool inside = false;
      for (auto &sl : slices[TrackOf(e)]) inside = inside || (sl.first <= ts + eps && ts <= sl.second + eps);
      EXPECT_TRUE(inside) << "flow " << kv.first << " '" << ph << "' at " << ts << " outside every slice of ("
                          << e.at("pid") << "," << e.at("tid") << ")";
    }
  }
}

#endif  // DTX_HAVE_NLOHMANN_JSON

}  // namespace

// ---- the writer ----------------------------------------------------------------

TEST(Trace, EmptyTraceIsValidJson) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  TempTrace path("empty");
  dtxi_trace *t = nullptr;
  ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK) << dtx_last_error();
  ASSERT_NE(t, nullptr);
  EXPECT_STREQ(dtxi_trace_path(t), path.c_str());
  dtxi_trace_flush(t);
  dtxi_trace_close(t);
  json j = ParseTrace(path.c_str());
  EXPECT_TRUE(j["traceEvents"].empty());
  EXPECT_EQ(j["otherData"].value("producer", ""), "dtx");
#endif
}

TEST(Trace, CloseAndFlushAcceptNull) {
  dtxi_trace_close(nullptr);
  dtxi_trace_flush(nullptr);
  dtxi_trace_slice(nullptr, 1, 1, "k", "task", "p", 0, 1);
  dtxi_trace_thread_name(nullptr, 1, 1, "worker 0");
  dtxi_trace_gpu_process(nullptr, 0, "gpu");
  EXPECT_EQ(dtxi_trace_stream_track(nullptr, 0, "h2d"), 0);
  dtxi_trace_slice_args(nullptr, 100, 1, "k", "task", "p", 0, 1, "{}");
  dtxi_trace_transfer(nullptr, 100, 1001, "k", "host->gpu0", "h2d", 8, 0, 1, 1);
  dtxi_trace_flow(nullptr, 100, 1, 0, 1, 's');
  dtxi_trace_counter(nullptr, 100, "memory", 0, "used", 1.0);
  dtxi_trace_instant(nullptr, 100, 1, "spill", "spill", 0, nullptr);
  SUCCEED();
}

TEST(Trace, UnwritablePathGivesEio) {
  const char *path = "/nonexistent-dtx-dir/sub/trace.json";
  dtxi_trace *t = reinterpret_cast<dtxi_trace *>(0x1);
  EXPECT_EQ(dtxi_trace_open(path, &t), DTX_EIO);
  EXPECT_EQ(t, reinterpret_cast<dtxi_trace *>(0x1)) << "*out must be written only on success";
  EXPECT_NE(std::string(dtx_last_error()).find(path), std::string::npos) << dtx_last_error();
}

TEST(Trace, SlicesFromFourThreadsAllAppearOnce) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  TempTrace path("threads");
  dtxi_trace *t = nullptr;
  ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK) << dtx_last_error();
  const int kThreads = 4, kPerThread = 5000;  // ~3 MB: the 64 KiB buffer fills many times
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; w++) {
    threads.emplace_back([t, w] {
      dtxi_trace_thread_name(t, 1, w + 1, ("worker " + std::to_string(w)).c_str());
      for (int i = 0; i < kPerThread; i++) {
        uint64_t t0 = dtxi_now_ns();
        uint64_t t1 = dtxi_now_ns();
        std::string key = "slice[" + std::to_string(w) + "," + std::to_string(i) + "]";
        dtxi_trace_slice(t, 1, w + 1, key.c_str(), "task", "slice", t0, t1);
        if (i % 1000 == 999) dtxi_trace_flush(t);
      }
    });
  }
  for (auto &th : threads) th.join();
  dtxi_trace_close(t);

  json j = ParseTrace(path.c_str());
  std::vector<json> slices = EventsWithPh(j, "X");
  ASSERT_EQ(slices.size(), size_t(kThreads * kPerThread));
  std::map<std::string, int> seen;
  for (const json &e : slices) {
    std::string name = e.at("name").get<std::string>();
    seen[name]++;
    int w = -1, i = -1;
    ASSERT_EQ(std::sscanf(name.c_str(), "slice[%d,%d]", &w, &i), 2) << name;
    EXPECT_EQ(e.at("tid").get<int>(), w + 1) << name;
    EXPECT_EQ(e.at("pid").get<int>(), 1);
    EXPECT_EQ(e.at("cat").get<std::string>(), "task");
    EXPECT_EQ(e.at("args").at("key").get<std::string>(), name);
    EXPECT_EQ(e.at("args").at("prefix").get<std::string>(), "slice");
  }
  EXPECT_EQ(seen.size(), size_t(kThreads * kPerThread));
  for (auto &kv : seen) EXPECT_EQ(kv.second, 1) << kv.first;
  ExpectNoOverlap(slices);
  auto names = ThreadNames(j);
  for (int w = 0; w < kThreads; w++) EXPECT_EQ(names[Track(1, w + 1)], "worker " + std::to_string(w));
#endif
}

TEST(Trace, OddNamesRoundTrip) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  std::vector<std::string> names = {
      "plain[1,2]",
      "quote\"inside",
      "back\\slash\\",
      "new\nline",
      "tab\tand\rreturn",
      std::string("ctl\x01\x02\x1f\x7f", 7),
      "bell\b form\f",
      "utf8 \xc3\xa9 \xe6\xbc\xa2 \xf0\x9f\x99\x82",
      "",
      "{\"looks\":[\"like\",\"json\"]}",
      "</script>",
      std::string(3000, 'x') + "\"",      // longer than the writer's stack buffer
      std::string(100000, '\\') + "end",  // escaped, longer than the 64 KiB buffer
  };
  TempTrace path("escape");
  dtxi_trace *t = nullptr;
  ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK) << dtx_last_error();
  dtxi_trace_thread_name(t, 1, 7, "odd \"track\"\n\\name");
  uint64_t now = dtxi_now_ns();
  for (size_t i = 0; i < names.size(); i++) {
    std::string prefix = "p\"" + std::to_string(i) + "\t";
    dtxi_trace_slice(t, 1, 7, names[i].c_str(), "cat\"x", prefix.c_str(), now + 10 * i, now + 10 * i + 5);
  }
  dtxi_trace_close(t);

  json j = ParseTrace(path.c_str());
  std::vector<json> slices = EventsWithPh(j, "X");
  ASSERT_EQ(slices.size(), names.size());
  for (size_t i = 0; i < names.size(); i++) {
    // Events keep their order within one thread.
    EXPECT_EQ(slices[i].at("name").get<std::string>(), names[i]) << "slice " << i;
    EXPECT_EQ(slices[i].at("args").at("key").get<std::string>(), names[i]);
    EXPECT_EQ(slices[i].at("args").at("prefix").get<std::string>(), "p\"" + std::to_string(i) + "\t");
    EXPECT_EQ(slices[i].at("cat").get<std::string>(), "cat\"x");
  }
  EXPECT_EQ(ThreadNames(j)[Track(1, 7)], "odd \"track\"\n\\name");
  // Control bytes use \uXXXX (or the short escapes), never raw bytes.
  std::string text = ReadFile(path.c_str());
  EXPECT_NE(text.find("\\u0001"), std::string::npos);
  EXPECT_NE(text.find("\\u001f"), std::string::npos);
  size_t raw_controls = std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) < 0x20 && c != '\n') || c == 0x7f;
  });
  EXPECT_EQ(raw_controls, 0u) << "control bytes written unescaped";
#endif
}

TEST(Trace, TimesAreMicrosecondsWithNsPrecision) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  TempTrace path("times");
  dtxi_trace *t = nullptr;
  ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK) << dtx_last_error();
  uint64_t now = dtxi_now_ns();
  dtxi_trace_slice(t, 1, 1, "before-open", "task", "a", 0, 1234);  // starts before the trace: ts clamps to 0
  dtxi_trace_slice(t, 1, 1, "later", "task", "a", now + 1000000, now + 1000000 + 2000005);
  dtxi_trace_slice(t, 1, 1, "backwards", "task", "a", now + 5000000, now + 4000000);  // dur clamps to 0
  dtxi_trace_close(t);

  std::string text = ReadFile(path.c_str());
  EXPECT_NE(text.find("\"ts\":0.000,\"dur\":1.234"), std::string::npos) << text;
  EXPECT_NE(text.find("\"dur\":2000.005"), std::string::npos) << text;
  json j = ParseTrace(path.c_str());
  std::vector<json> s = EventsWithPh(j, "X");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_DOUBLE_EQ(s[0]["ts"].get<double>(), 0.0);
  EXPECT_NEAR(s[0]["dur"].get<double>(), 1.234, 1e-9);
  EXPECT_GE(s[1]["ts"].get<double>(), 1000.0);  // relative to open, which came before `now`
  EXPECT_LT(s[1]["ts"].get<double>(), 1000.0 + 60e6);
  EXPECT_NEAR(s[1]["dur"].get<double>(), 2000.005, 1e-9);
  EXPECT_DOUBLE_EQ(s[2]["dur"].get<double>(), 0.0);
#endif
}

TEST(Trace, MetadataNamesPresent) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  TempTrace path("meta");
  dtxi_trace *t = nullptr;
  ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK) << dtx_last_error();
  dtxi_trace_thread_name(t, 1, 1, "worker 0");
  dtxi_trace_thread_name(t, 1, 2, "worker 1");
  dtxi_trace_process_name(t, 2, "gpu 0", 2);
  dtxi_trace_thread_name(t, 2, 1, "stream 0");
  dtxi_trace_close(t);

  json j = ParseTrace(path.c_str());
  std::map<Track, std::string> threads = ThreadNames(j);
  EXPECT_EQ(threads[Track(1, 1)], "worker 0");
  EXPECT_EQ(threads[Track(1, 2)], "worker 1");
  EXPECT_EQ(threads[Track(2, 1)], "stream 0");
  std::map<int, std::string> procs;
  std::map<Track, int> sort_index;
  for (const json &e : EventsWithPh(j, "M")) {
    std::string what = e.at("name").get<std::string>();
    if (what == "process_name") procs[e.at("pid").get<int>()] = e.at("args").at("name").get<std::string>();
    if (what == "thread_sort_index") sort_index[TrackOf(e)] = e.at("args").at("sort_index").get<int>();
  }
  EXPECT_EQ(procs[1], "dtx host");  // named automatically before pid 1's first event
  EXPECT_EQ(procs[2], "gpu 0");
  EXPECT_EQ(sort_index[Track(1, 1)], 1);
  EXPECT_EQ(sort_index[Track(1, 2)], 2);
#endif
}

TEST(Trace, CallerTidStablePerThreadAndTrace) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  TempTrace path_a("caller_a"), path_b("caller_b");
  dtxi_trace *a = nullptr;
  ASSERT_EQ(dtxi_trace_open(path_a.c_str(), &a), DTX_OK) << dtx_last_error();
  int mine = dtxi_trace_caller_tid(a);
  EXPECT_EQ(mine, 1000);
  EXPECT_EQ(dtxi_trace_caller_tid(a), mine);
  int other = -1;
  std::thread([&] { other = dtxi_trace_caller_tid(a); }).join();
  EXPECT_EQ(other, 1001);
  EXPECT_EQ(dtxi_trace_caller_tid(a), mine);
  dtxi_trace_close(a);
  json ja = ParseTrace(path_a.c_str());
  auto names_a = ThreadNames(ja);
  EXPECT_EQ(names_a[Track(1, 1000)], "caller 0");
  EXPECT_EQ(names_a[Track(1, 1001)], "caller 1");
  EXPECT_EQ(EventsWithPh(ja, "M").size(), 1u + 2u * 2u);  // process_name + (thread_name, sort index) x 2

  // A new trace (perhaps at the old one's address) names this thread again.
  dtxi_trace *b = nullptr;
  ASSERT_EQ(dtxi_trace_open(path_b.c_str(), &b), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtxi_trace_caller_tid(b), 1000);
  dtxi_trace_close(b);
  EXPECT_EQ(ThreadNames(ParseTrace(path_b.c_str()))[Track(1, 1000)], "caller 0");
#endif
}

TEST(Trace, FlushWritesWhatIsBuffered) {
  TempTrace path("flush");
  dtxi_trace *t = nullptr;
  ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK) << dtx_last_error();
  dtxi_trace_slice(t, 1, 1, "flushed[0]", "task", "flushed", 0, 1);
  EXPECT_EQ(ReadFile(path.c_str()).find("flushed[0]"), std::string::npos) << "buffered, not yet written";
  dtxi_trace_flush(t);
  EXPECT_NE(ReadFile(path.c_str()).find("flushed[0]"), std::string::npos);
  dtxi_trace_close(t);
}

TEST(Trace, NvtxCallsAreSafe) {
  // Without an NVTX tool attached (or built without NVTX) these do nothing.
  dtxi_nvtx_name_thread("dtx test");
  dtxi_nvtx_push("outer", 1);
  dtxi_nvtx_push("inner", -1);
  dtxi_nvtx_pop();
  dtxi_nvtx_pop();
  dtxi_nvtx_push(nullptr, 0);
  dtxi_nvtx_pop();
  SUCCEED();
}

// ---- GPUs, transfers, flows, counters, instants ------------------------------------

TEST(Trace, GpuProcessesAndStreamTracksNamedAndSorted) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  TempTrace path("gpu_tracks");
  dtxi_trace *t = nullptr;
  ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK) << dtx_last_error();
  uint64_t now = dtxi_now_ns();
  dtxi_trace_slice(t, 1, 1, "host[0]", "task", "host", now, now + 10);
  dtxi_trace_gpu_process(t, 0, "NVIDIA H100");
  dtxi_trace_gpu_process(t, 1, "NVIDIA H100");
  dtxi_trace_gpu_process(t, 0, "renamed");  // the first call per GPU wins
  const std::vector<std::pair<std::string, int>> labels = {
      {"compute-0", 1}, {"compute-1", 2}, {"compute-3", 4}, {"h2d", 1001},
      {"d2h", 1002},    {"peer", 1003},   {"nccl", 1006},
  };
  for (int gpu = 0; gpu < 2; gpu++) {
    for (int round = 0; round < 2; round++) {  // the second round names nothing
      for (auto &l : labels) EXPECT_EQ(dtxi_trace_stream_track(t, gpu, l.first.c_str()), l.second) << l.first;
    }
  }
  // A track before the GPU's name: "gpu 2" first, then renamed once.
  EXPECT_EQ(dtxi_trace_stream_track(t, 2, "compute-0"), 1);
  dtxi_trace_gpu_process(t, 2, "Sim GPU");
  dtxi_trace_gpu_process(t, 2, "Sim GPU again");
  // Labels without a fixed tid get 2000 + n per GPU, in order of first use.
  EXPECT_EQ(dtxi_trace_stream_track(t, 3, "custom"), 2000);
  EXPECT_EQ(dtxi_trace_stream_track(t, 3, "compute-01"), 2001);  // not compute-1
  EXPECT_EQ(dtxi_trace_stream_track(t, 3, "compute-1000"), 2002);
  EXPECT_EQ(dtxi_trace_stream_track(t, 3, "custom"), 2000);
  EXPECT_EQ(dtxi_trace_stream_track(t, 3, "compute-1"), 2);
  EXPECT_EQ(dtxi_trace_stream_track(t, 2, "custom"), 2000);
  // Nothing for bad arguments.
  EXPECT_EQ(dtxi_trace_stream_track(t, -1, "h2d"), 0);
  EXPECT_EQ(dtxi_trace_stream_track(t, DTXI_TRACE_MAX_GPUS, "h2d"), 0);
  EXPECT_EQ(dtxi_trace_stream_track(t, 0, nullptr), 0);
  EXPECT_EQ(dtxi_trace_stream_track(t, 0, ""), 0);
  dtxi_trace_gpu_process(t, -1, "bad");
  dtxi_trace_gpu_process(t, DTXI_TRACE_MAX_GPUS, "bad");
  // A GPU slice on a stream track.
  dtxi_trace_slice(t, DTXI_TRACE_GPU_PID(0), 1, "mul[0]", "task", "mul", now + 20, now + 30);
  dtxi_trace_close(t);

  json j = ParseTrace(path.c_str());
  auto procs = ProcessMeta(j, "process_name");
  auto psort = ProcessMeta(j, "process_sort_index");
  EXPECT_EQ(procs.size(), 5u) << "host and GPUs 0-3, nothing for bad GPUs";
  ASSERT_EQ(procs[1].size(), 1u);
  EXPECT_EQ(procs[1][0].value("name", ""), "dtx host");
  for (int gpu = 0; gpu < 2; gpu++) {
    ASSERT_EQ(procs[100 + gpu].size(), 1u) << "gpu " << gpu;
    EXPECT_EQ(procs[100 + gpu][0].value("name", ""), "gpu " + std::to_string(gpu) + ": NVIDIA H100");
  }
  ASSERT_EQ(procs[102].size(), 2u);
  EXPECT_EQ(procs[102][0].value("name", ""), "gpu 2");
  EXPECT_EQ(procs[102][1].value("name", ""), "gpu 2: Sim GPU");  // the last name wins in viewers
  ASSERT_EQ(procs[103].size(), 1u);
  EXPECT_EQ(procs[103][0].value("name", ""), "gpu 3");
  for (int gpu = 0; gpu < 4; gpu++) {
    ASSERT_FALSE(psort[100 + gpu].empty()) << "gpu " << gpu;
    for (const json &a : psort[100 + gpu]) EXPECT_EQ(a.value("sort_index", -1), 100 + gpu);
  }
  for (auto &kv : psort) EXPECT_TRUE(kv.first == 1 || kv.first >= 100) << "pid " << kv.first;

  auto tnames = TrackMeta(j, "thread_name");
  auto tsort = TrackMeta(j, "thread_sort_index");
  for (auto &kv : tnames) {
    EXPECT_EQ(kv.second.size(), 1u) << "track (" << kv.first.first << "," << kv.first.second
                                    << ") named twice";
    ASSERT_EQ(tsort[kv.first].size(), 1u);
    EXPECT_EQ(tsort[kv.first][0].value("sort_index", -1), kv.first.second);
  }
  for (int gpu = 0; gpu < 2; gpu++) {
    std::vector<std::pair<int, std::string>> order;  // (sort index, name) of this GPU's tracks
    for (auto &kv : tnames) {
      if (kv.first.first == 100 + gpu) order.push_back({kv.first.second, kv.second[0].value("name", "")});
    }
    std::sort(order.begin(), order.end());
    ASSERT_EQ(order.size(), labels.size());
    for (size_t i = 0; i < labels.size(); i++) EXPECT_EQ(order[i].second, labels[i].first) << "gpu " << gpu;
  }
  EXPECT_EQ(tnames[Track(103, 2000)][0].value("name", ""), "custom");
  EXPECT_EQ(tnames[Track(103, 2001)][0].value("name", ""), "compute-01");
  EXPECT_EQ(tnames[Track(103, 2)][0].value("name", ""), "compute-1");
  EXPECT_EQ(tnames[Track(102, 2000)][0].value("name", ""), "custom");
  // Process metadata comes before the GPU's track metadata.
  size_t first_track = 0, first_proc = 0, i = 0;
  for (const json &e : j["traceEvents"]) {
    i++;
    if (e.value("pid", 0) != 102 || e.value("ph", "") != "M") continue;
    if (e.value("name", "") == "process_name" && first_proc == 0) first_proc = i;
    if (e.value("name", "") == "thread_name" && first_track == 0) first_track = i;
  }
  EXPECT_LT(first_proc, first_track);
#endif
}

TEST(Trace, TransferSlicesCarryBytesLinkViaGbps) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  TempTrace path("transfer");
  dtxi_trace *t = nullptr;
  ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK) << dtx_last_error();
  int pid = DTXI_TRACE_GPU_PID(1), peer = dtxi_trace_stream_track(t, 1, "peer");
  int h2d = dtxi_trace_stream_track(t, 1, "h2d");
  uint64_t now = dtxi_now_ns();
  const uint64_t big = 5000000000ull;  // past 2^32
  dtxi_trace_transfer(t, pid, peer, "load[3]", "gpu0->gpu1", "peer", 1ull << 30, now, now + 100000, 0);
  dtxi_trace_transfer(t, pid, h2d, "x\"y[1]", "host->gpu1", "h2d", big, now + 200000,
                      now + 200000 + 100000000, 7);  // 5e9 bytes in 0.1 s: 50 GB/s
  dtxi_trace_transfer(t, pid, peer, "zero[0]", nullptr, nullptr, 64, now + 400000, now + 400000, 0);
  dtxi_trace_close(t);

  json j = ParseTrace(path.c_str());
  std::vector<json> x = EventsWithPh(j, "X");
  ASSERT_EQ(x.size(), 3u);
  for (const json &e : x) {
    EXPECT_EQ(e.value("cat", ""), "transfer");
    EXPECT_EQ(e.at("pid").get<int>(), pid);
  }
  EXPECT_EQ(x[0].value("name", ""), "copy load[3]");
  EXPECT_EQ(x[0].at("tid").get<int>(), peer);
  const json &a0 = x[0].at("args");
  EXPECT_EQ(a0.value("key", ""), "load[3]");
  EXPECT_EQ(a0.at("bytes").get<uint64_t>(), 1ull << 30);
  EXPECT_EQ(a0.value("link", ""), "gpu0->gpu1");
  EXPECT_EQ(a0.value("via", ""), "peer");
  ASSERT_TRUE(a0.contains("gbps") && a0.at("gbps").is_number());
  EXPECT_NEAR(a0.at("gbps").get<double>(), double(1ull << 30) / 100000.0, 0.001);
  EXPECT_NEAR(x[0].at("dur").get<double>(), 100.0, 1e-9);

  EXPECT_EQ(x[1].value("name", ""), "copy x\"y[1]");
  EXPECT_EQ(x[1].at("args").value("key", ""), "x\"y[1]");
  EXPECT_EQ(x[1].at("args").at("bytes").get<uint64_t>(), big);
  EXPECT_NEAR(x[1].at("args").at("gbps").get<double>(), 50.0, 0.001);
  EXPECT_EQ(x[1].at("args").value("via", ""), "h2d");

  const json &a2 = x[2].at("args");  // zero duration: no rate; no link or via given
  EXPECT_FALSE(a2.contains("gbps"));
  EXPECT_FALSE(a2.contains("link"));
  EXPECT_FALSE(a2.contains("via"));
  EXPECT_EQ(a2.at("bytes").get<uint64_t>(), 64u);

  // Only the transfer with a flow id steps a flow, at its own start, on its own track.
  std::vector<json> steps = EventsWithPh(j, "t");
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].at("id").get<uint64_t>(), 7u);
  EXPECT_EQ(TrackOf(steps[0]), TrackOf(x[1]));
  EXPECT_DOUBLE_EQ(steps[0].at("ts").get<double>(), x[1].at("ts").get<double>());
  EXPECT_TRUE(EventsWithPh(j, "s").empty());
#endif
}

TEST(Trace, FlowsLinkProducerTransferConsumer) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  TempTrace path("flows");
  dtxi_trace *t = nullptr;
  ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK) << dtx_last_error();
  dtxi_trace_gpu_process(t, 0, "Sim");
  dtxi_trace_gpu_process(t, 1, "Sim");
  const int g0 = DTXI_TRACE_GPU_PID(0), g1 = DTXI_TRACE_GPU_PID(1);
  int c0[2] = {dtxi_trace_stream_track(t, 0, "compute-0"), dtxi_trace_stream_track(t, 0, "compute-1")};
  int c1 = dtxi_trace_stream_track(t, 1, "compute-0"), peer = dtxi_trace_stream_track(t, 1, "peer");
  const int kChains = 20;
  uint64_t base = dtxi_now_ns();
  for (int i = 0; i < kChains; i++) {
    uint64_t t0 = base + uint64_t(i) * 10000, id = uint64_t(i) + 1;
    std::string key = "x[" + std::to_string(i) + "]";
    dtxi_trace_slice_args(t, g0, c0[i % 2], key.c_str(), "task", "x", t0, t0 + 5000, "{\"device\":0}");
    dtxi_trace_flow(t, g0, c0[i % 2], t0, id, 's');
    dtxi_trace_transfer(t, g1, peer, key.c_str(), "gpu0->gpu1", "peer", 4096, t0 + 6000, t0 + 7000, id);
    std::string use = "y[" + std::to_string(i) + "]";
    dtxi_trace_slice(t, g1, c1, use.c_str(), "task", "y", t0 + 8000, t0 + 9000);
    dtxi_trace_flow(t, g1, c1, t0 + 8000, id, 'f');
  }
  // Host -> GPU without a transfer slice: s and f only, f strictly inside.
  dtxi_trace_slice(t, 1, 1, "h[0]", "task", "h", base + 300000, base + 301000);
  dtxi_trace_flow(t, 1, 1, base + 300000, 1000, 's');
  dtxi_trace_slice(t, g0, c0[0], "k[0]", "task", "k", base + 302000, base + 303000);
  dtxi_trace_flow(t, g0, c0[0], base + 302500, 1000, 'f');
  // Ignored: bad phase, id 0.
  dtxi_trace_flow(t, g0, c0[0], base + 302000, 1001, 'x');
  dtxi_trace_flow(t, g0, c0[0], base + 302000, 0, 's');
  dtxi_trace_close(t);

  json j = ParseTrace(path.c_str());
  ExpectFlowsBound(j);
  auto flows = FlowsById(j);
  ASSERT_EQ(flows.size(), size_t(kChains + 1));
  for (int i = 0; i < kChains; i++) {
    const std::vector<json> &ev = flows[uint64_t(i) + 1];
    ASSERT_EQ(ev.size(), 3u) << "chain " << i;
    EXPECT_EQ(ev[0].value("ph", ""), "s");
    EXPECT_EQ(ev[1].value("ph", ""), "t");
    EXPECT_EQ(ev[2].value("ph", ""), "f");
    EXPECT_EQ(TrackOf(ev[0]), Track(g0, c0[i % 2]));
    EXPECT_EQ(TrackOf(ev[1]), Track(g1, peer));
    EXPECT_EQ(TrackOf(ev[2]), Track(g1, c1));
    EXPECT_EQ(ev[0].value("cat", ""), "dataflow");
  }
  ASSERT_EQ(flows[1000].size(), 2u);
  std::vector<json> x = EventsWithPh(j, "X");
  ExpectNoOverlap(x);
  EXPECT_EQ(x[0].at("args").value("device", -1), 0);
#endif
}

TEST(Trace, CountersAreNumbers) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  TempTrace path("counters");
  dtxi_trace *t = nullptr;
  ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK) << dtx_last_error();
  const std::vector<double> good = {0.0,    1073741824.0,       0.1,  -5.0, 1e300,
                                    2.5e-7, 9007199254740994.0, -0.0, 80e9, 1e-320 /* subnormal */};
  const double bad[] = {std::nan(""), std::numeric_limits<double>::infinity(),
                        -std::numeric_limits<double>::infinity()};
  uint64_t now = dtxi_now_ns();
  int pid = DTXI_TRACE_GPU_PID(0);
  for (size_t i = 0; i < good.size(); i++) dtxi_trace_counter(t, pid, "memory", now + i, "used", good[i]);
  for (double v : bad) dtxi_trace_counter(t, pid, "memory", now, "used", v);
  dtxi_trace_counter(t, 1, "ready", now, "tasks", 3);
  dtxi_trace_close(t);

  json j = ParseTrace(path.c_str());
  std::vector<json> c = EventsWithPh(j, "C");
  ASSERT_EQ(c.size(), good.size() + 1);
  for (size_t i = 0; i < good.size(); i++) {
    EXPECT_EQ(c[i].value("name", ""), "memory");
    EXPECT_EQ(c[i].at("pid").get<int>(), pid);
    EXPECT_EQ(c[i].at("tid").get<int>(), 0);
    ASSERT_TRUE(c[i].at("args").at("used").is_number()) << c[i].dump();
    EXPECT_EQ(c[i].at("args").at("used").get<double>(), good[i]) << c[i].dump();
  }
  EXPECT_TRUE(c.back().at("args").at("tasks").is_number_integer());
  EXPECT_EQ(c.back().at("args").at("tasks").get<int>(), 3);
  // A counter on an unnamed GPU pid names it.
  EXPECT_EQ(ProcessMeta(j, "process_name")[pid].at(0).value("name", ""), "gpu 0");
#endif
}

TEST(Trace, InstantsAreThreadScopedAndBadArgsDropped) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  std::string deep_ok, deep_bad;
  for (int i = 0; i < 31; i++) deep_ok += "{\"a\":";
  deep_ok += "1" + std::string(31, '}');
  for (int i = 0; i < 40; i++) deep_bad += "[";
  deep_bad = "{\"a\":" + deep_bad + std::string(40, ']') + "}";
  const std::vector<std::string> good = {
      "{\"chunk\":\"x[1]\",\"bytes\":4096,\"from\":\"gpu0\",\"to\":\"host\"}",
      "{}",
      "  {\n\t\"a\" : [1, 2.5e3, -0.5, 0, 1E-2, true, false, null, {\"b\":\"}{\\\"\\u00e9\\n\"}] }  ",
      deep_ok,
  };
  const std::vector<std::string> bad = {
      "",
      "not json",
      "{",
      "{\"a\":1",
      "\"str\"",
      "[1,2]",
      "{\"a\":1}, {\"b\":2}",
      "{\"a\":1}}",
      "{\"a\":}",
      "{\"a\":01}",
      "{\"a\":1.}",
      "{\"a\":-}",
      "{\"a\":\"raw\nnewline\"}",
      "{\"a\":\"\\x\"}",
      "{\"a\":\"\\u12g4\"}",
      "{\"a\":\"open}",
      "{a:1}",
      "{\"a\":1,}",
      "{\"a\":tru}",
      "{\"a\" 1}",
      "{\"a\":1} x",
      "{\"a\":1}\"],\"x\":{\"",
      deep_bad,
  };
  TempTrace path("instants");
  dtxi_trace *t = nullptr;
  ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK) << dtx_last_error();
  int pid = DTXI_TRACE_GPU_PID(0), tid = dtxi_trace_stream_track(t, 0, "d2h");
  uint64_t now = dtxi_now_ns();
  for (size_t i = 0; i < good.size(); i++) {
    dtxi_trace_instant(t, pid, tid, ("good" + std::to_string(i)).c_str(), "spill", now, good[i].c_str());
  }
  for (size_t i = 0; i < bad.size(); i++) {
    dtxi_trace_instant(t, pid, tid, ("bad" + std::to_string(i)).c_str(), "spill", now, bad[i].c_str());
    dtxi_trace_slice_args(t, 1, 1, ("bad" + std::to_string(i)).c_str(), "task", "bad", now, now + 1,
                          bad[i].c_str());
  }
  dtxi_trace_instant(t, 1, 1, "no-args", nullptr, now, nullptr);
  dtxi_trace_close(t);

  json j = ParseTrace(path.c_str());
  std::vector<json> in = EventsWithPh(j, "i");
  ASSERT_EQ(in.size(), good.size() + bad.size() + 1);
  for (const json &e : in) {
    EXPECT_EQ(e.value("s", ""), "t") << e.dump();
    EXPECT_TRUE(e.contains("tid") && e.contains("ts")) << e.dump();
  }
  for (size_t i = 0; i < good.size(); i++) {
    EXPECT_EQ(in[i].value("name", ""), "good" + std::to_string(i));
    EXPECT_EQ(in[i].value("cat", ""), "spill");
    EXPECT_EQ(TrackOf(in[i]), Track(pid, tid));
    ASSERT_TRUE(in[i].contains("args")) << good[i];
    EXPECT_EQ(in[i].at("args"), json::parse(good[i])) << good[i];
  }
  for (size_t i = 0; i < bad.size(); i++) {
    const json &e = in[good.size() + i];
    EXPECT_EQ(e.value("name", ""), "bad" + std::to_string(i));
    EXPECT_FALSE(e.contains("args")) << "args kept from '" << bad[i] << "'";
  }
  EXPECT_FALSE(in.back().contains("args"));
  EXPECT_EQ(in.back().value("cat", ""), "instant");
  std::vector<json> x = EventsWithPh(j, "X");
  ASSERT_EQ(x.size(), bad.size());
  for (const json &e : x) EXPECT_EQ(e.at("args").size(), 2u) << "only key and prefix: " << e.dump();
#endif
}

TEST(Trace, SliceArgsMergesExtraArgs) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  TempTrace path("slice_args");
  dtxi_trace *t = nullptr;
  ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK) << dtx_last_error();
  int pid = DTXI_TRACE_GPU_PID(1), tid = dtxi_trace_stream_track(t, 1, "compute-2");
  uint64_t now = dtxi_now_ns();
  dtxi_trace_slice_args(t, pid, tid, "mul[0,1]", "task", "mul", now, now + 100,
                        " {\"device\":1,\"bytes\":8388608,\"nested\":{\"k\":[1,2]}} ");
  dtxi_trace_slice_args(t, pid, tid, "mul[0,2]", nullptr, nullptr, now + 200, now + 300, "{\"device\":1}");
  // With NULL, {} or junk the text is exactly dtxi_trace_slice's.
  dtxi_trace_slice(t, pid, tid, "same[0]", "task", "same", now + 400, now + 500);
  dtxi_trace_slice_args(t, pid, tid, "same[0]", "task", "same", now + 400, now + 500, nullptr);
  dtxi_trace_slice_args(t, pid, tid, "same[0]", "task", "same", now + 400, now + 500, " { } ");
  dtxi_trace_slice_args(t, pid, tid, "same[0]", "task", "same", now + 400, now + 500, "{oops}");
  dtxi_trace_close(t);

  json j = ParseTrace(path.c_str());
  std::vector<json> x = EventsWithPh(j, "X");
  ASSERT_EQ(x.size(), 6u);
  const json &a = x[0].at("args");
  EXPECT_EQ(a.value("key", ""), "mul[0,1]");
  EXPECT_EQ(a.value("prefix", ""), "mul");
  EXPECT_EQ(a.value("device", -1), 1);
  EXPECT_EQ(a.at("bytes").get<uint64_t>(), 8388608u);
  EXPECT_EQ(a.at("nested"), json::parse("{\"k\":[1,2]}"));
  EXPECT_EQ(x[1].value("cat", ""), "task");
  EXPECT_FALSE(x[1].at("args").contains("prefix"));
  EXPECT_EQ(x[1].at("args").value("device", -1), 1);

  std::string text = ReadFile(path.c_str());
  std::vector<std::string> same;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("same[0]") != std::string::npos) same.push_back(line.back() == ',' ? line : line + ",");
  }
  ASSERT_EQ(same.size(), 4u);
  for (size_t i = 1; i < same.size(); i++) EXPECT_EQ(same[i], same[0]);
#endif
}

TEST(Trace, GpuEventsFromManyThreadsAllAppearOnce) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  TempTrace path("gpu_threads");
  dtxi_trace *t = nullptr;
  ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK) << dtx_last_error();
  const int kThreads = 4, kPerThread = 1500, kGpus = 2;
  const uint64_t base = dtxi_now_ns();
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; w++) {
    threads.emplace_back([t, w, base] {
      int gpu = w % kGpus, other = (gpu + 1) % kGpus;
      int pid = DTXI_TRACE_GPU_PID(gpu), opid = DTXI_TRACE_GPU_PID(other);
      dtxi_trace_gpu_process(t, gpu, "Sim GPU");  // two threads race per GPU
      // Each thread has its own compute stream; "peer" and "nccl" are shared by two threads.
      int mine = dtxi_trace_stream_track(t, gpu, ("compute-" + std::to_string(w)).c_str());
      int use = dtxi_trace_stream_track(t, other, ("compute-" + std::to_string(w)).c_str());
      int peer = dtxi_trace_stream_track(t, other, "peer");
      int nccl = dtxi_trace_stream_track(t, gpu, "nccl");
      for (int i = 0; i < kPerThread; i++) {
        uint64_t n = uint64_t(w) * kPerThread + uint64_t(i), id = n + 1;
        uint64_t t0 = base + n * 10000;  // disjoint in time across threads
        std::string k = std::to_string(w) + "," + std::to_string(i) + "]";
        dtxi_trace_slice_args(t, pid, mine, ("p[" + k).c_str(), "task", "p", t0, t0 + 2000, "{\"device\":1}");
        dtxi_trace_flow(t, pid, mine, t0, id, 's');
        dtxi_trace_transfer(t, opid, peer, ("p[" + k).c_str(), "gpu->gpu", "peer", 4096, t0 + 3000, t0 + 4000,
                            id);
        dtxi_trace_slice(t, opid, use, ("c[" + k).c_str(), "task", "c", t0 + 5000, t0 + 6000);
        dtxi_trace_flow(t, opid, use, t0 + 5000, id, 'f');
        dtxi_trace_counter(t, pid, "memory", t0, "used", double(n));
        if (i % 10 == 0) dtxi_trace_instant(t, pid, nccl, ("spill " + k).c_str(), "spill", t0, "{\"n\":1}");
        if (i % 500 == 499) dtxi_trace_flush(t);
      }
    });
  }
  for (auto &th : threads) th.join();
  dtxi_trace_close(t);

  json j = ParseTrace(path.c_str());
  const size_t n = size_t(kThreads) * kPerThread;
  std::vector<json> x = EventsWithPh(j, "X");
  ASSERT_EQ(x.size(), 3 * n);
  std::map<std::string, int> seen;
  for (const json &e : x) seen[e.value("cat", "") + " " + e.value("name", "")]++;
  EXPECT_EQ(seen.size(), 3 * n);
  for (auto &kv : seen) EXPECT_EQ(kv.second, 1) << kv.first;
  ExpectNoOverlap(x);
  auto flows = FlowsById(j);
  ASSERT_EQ(flows.size(), n);
  for (auto &kv : flows) EXPECT_EQ(kv.second.size(), 3u) << "flow " << kv.first;
  ExpectFlowsBound(j);
  std::vector<json> c = EventsWithPh(j, "C");
  ASSERT_EQ(c.size(), n);
  std::set<double> values;
  for (const json &e : c) values.insert(e.at("args").at("used").get<double>());
  EXPECT_EQ(values.size(), n);
  EXPECT_EQ(EventsWithPh(j, "i").size(), size_t(kThreads) * (kPerThread / 10));
  // Each track named once; each GPU's explicit name written once and last.
  auto tnames = TrackMeta(j, "thread_name");
  EXPECT_EQ(tnames.size(), size_t(kThreads) * 2 + 2 * kGpus);
  for (auto &kv : tnames) EXPECT_EQ(kv.second.size(), 1u) << kv.first.first << "," << kv.first.second;
  auto procs = ProcessMeta(j, "process_name");
  for (int g = 0; g < kGpus; g++) {
    const std::vector<json> &names = procs[100 + g];
    ASSERT_FALSE(names.empty());
    EXPECT_EQ(names.back().value("name", ""), "gpu " + std::to_string(g) + ": Sim GPU");
    EXPECT_EQ(std::count_if(names.begin(), names.end(), [&](const json &a) { return a == names.back(); }), 1);
  }
  for (const json &e : x) {
    EXPECT_TRUE(tnames.count(TrackOf(e))) << "slice on unnamed track " << e.dump();
  }
#endif
}

// ---- what the schedulers write ---------------------------------------------------
//
// A binary reduction tree: 256 leaves leaf[i] = i, then sum[level,i] adding two
// inputs, 511 tasks in all; the root holds 0 + 1 + ... + 255.

#ifdef DTX_HAVE_NLOHMANN_JSON
namespace {

constexpr int kLeaves = 256;

int LeafFn(dtx_task_ctx *ctx) {
  size_t n = 0;
  const int64_t *v = static_cast<const int64_t *>(dtx_task_args(ctx, &n));
  if (v == nullptr || n != sizeof(int64_t)) return dtx_task_fail(ctx, "leaf: bad args (%zu bytes)", n);
  int64_t *out = static_cast<int64_t *>(dtx_task_output(ctx, sizeof(int64_t)));
  if (out == nullptr) return dtx_task_fail(ctx, "leaf: out of memory");
  *out = *v;
  return 0;
}

int SumFn(dtx_task_ctx *ctx) {
  int64_t s = 0;
  for (int i = 0; i < dtx_task_num_inputs(ctx); i++) {
    size_t n = 0;
    const int64_t *v = static_cast<const int64_t *>(dtx_task_input(ctx, i, &n));
    if (v == nullptr || n != sizeof(int64_t)) return dtx_task_fail(ctx, "sum: input %d has %zu bytes", i, n);
    s += *v;
  }
  int64_t *out = static_cast<int64_t *>(dtx_task_output(ctx, sizeof(int64_t)));
  if (out == nullptr) return dtx_task_fail(ctx, "sum: out of memory");
  *out = s;
  return 0;
}

struct TreeRun {
  std::vector<std::string> keys;  // every task's key, as dtx_graph_key prints it
  std::map<std::string, std::string> prefix;
};

// Builds the tree, computes its root with `sched` on a 2-thread cluster that
// traces to path, checks the sum, and destroys everything (closing the trace).
void RunTree(const char *path, dtx_scheduler sched, TreeRun *run) {
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.num_threads = 2;
  cfg.scheduler = DTX_SCHED_THREADS;
  cfg.trace_path = path;
  dtx_cluster *cl = nullptr;
  ASSERT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  dtx_graph *g = nullptr;
  ASSERT_EQ(dtx_graph_create(&g), DTX_OK) << dtx_last_error();

  std::vector<dtx_task_id> level;
  for (int i = 0; i < kLeaves; i++) {
    int64_t v = i;
    dtx_task_desc d = {};
    d.name = "leaf";
    d.nidx = 1;
    d.idx[0] = i;
    d.args = &v;
    d.args_size = sizeof v;
    d.cpu = LeafFn;
    dtx_task_id id = 0;
    ASSERT_EQ(dtx_graph_add(g, &d, &id), DTX_OK) << dtx_last_error();
    level.push_back(id);
  }
  for (int depth = 1; level.size() > 1; depth++) {
    std::vector<dtx_task_id> next;
    for (size_t i = 0; i < level.size(); i += 2) {
      dtx_task_id in[2] = {level[i], level[i + 1]};
      dtx_task_desc d = {};
      d.name = "sum";
      d.nidx = 2;
      d.idx[0] = depth;
      d.idx[1] = int64_t(i / 2);
      d.inputs = in;
      d.ninputs = 2;
      d.cpu = SumFn;
      dtx_task_id id = 0;
      ASSERT_EQ(dtx_graph_add(g, &d, &id), DTX_OK) << dtx_last_error();
      next.push_back(id);
    }
    level = next;
  }
  ASSERT_EQ(dtx_graph_size(g), size_t(2 * kLeaves - 1));
  for (dtx_task_id id = 0; id < dtx_task_id(dtx_graph_size(g)); id++) {
    char key[DTX_MAX_KEY];
    ASSERT_EQ(dtx_graph_key(g, id, key, sizeof key), DTX_OK) << dtx_last_error();
    run->keys.push_back(key);
    run->prefix[key] = std::string(key).substr(0, std::string(key).find('['));
  }

  dtx_compute_opts opts = DTX_COMPUTE_OPTS_INIT;
  opts.scheduler = sched;
  dtx_chunk *root = nullptr;
  ASSERT_EQ(dtx_compute(cl, g, &level[0], 1, &root, &opts), DTX_OK) << dtx_last_error();
  ASSERT_NE(root, nullptr);
  ASSERT_EQ(dtx_chunk_size(root), sizeof(int64_t));
  EXPECT_EQ(*static_cast<const int64_t *>(dtx_chunk_data(root)), int64_t(kLeaves) * (kLeaves - 1) / 2);
  dtx_chunk_release(root);
  dtx_graph_destroy(g);
  dtx_cluster_destroy(cl);
}

// The checks both schedulers' traces pass; returns the task slices.
std::vector<json> CheckTreeTrace(const json &j, const TreeRun &run) {
  std::vector<json> all = EventsWithPh(j, "X");
  std::set<std::string> keys(run.keys.begin(), run.keys.end());
  std::map<std::string, int> seen;
  std::vector<json> tasks;
  for (const json &e : all) {
    std::string name = e.at("name").get<std::string>();
    if (!keys.count(name)) continue;
    seen[name]++;
    tasks.push_back(e);
    EXPECT_EQ(e.value("cat", ""), "task") << name;
    EXPECT_EQ(e.at("args").value("key", ""), name);
    EXPECT_EQ(e.at("args").value("prefix", ""), run.prefix.at(name)) << name;
  }
  for (const std::string &k : run.keys) EXPECT_EQ(seen[k], 1) << "task " << k << " slices";
  ExpectNoOverlap(tasks);    // tasks on one track never overlap
  ExpectProperNesting(all);  // and anything else there nests properly
  std::map<Track, std::string> names = ThreadNames(j);
  for (const json &e : all) {
    EXPECT_TRUE(names.count(TrackOf(e)))
        << "slice " << e.at("name") << " on unnamed track (" << e.at("pid") << "," << e.at("tid") << ")";
  }
  return tasks;
}

}  // namespace
#endif  // DTX_HAVE_NLOHMANN_JSON

TEST(Trace, ThreadsSchedulerTraceHasEveryTaskOnceOnWorkerTracks) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  TempTrace path("sched_threads");
  TreeRun run;
  RunTree(path.c_str(), DTX_SCHED_THREADS, &run);
  if (HasFatalFailure()) return;
  json j = ParseTrace(path.c_str());
  std::vector<json> tasks = CheckTreeTrace(j, run);
  std::map<Track, std::string> names = ThreadNames(j);
  for (const json &e : tasks) {
    int tid = e.at("tid").get<int>();
    EXPECT_EQ(e.at("pid").get<int>(), 1);
    EXPECT_TRUE(tid >= 1 && tid <= 2)
        << "task " << e.at("name") << " on tid " << tid << ", not a worker track";
    EXPECT_EQ(names[TrackOf(e)], "worker " + std::to_string(tid - 1));
  }
#endif
}

TEST(Trace, SyncSchedulerTraceUsesCallerTrack) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  TempTrace path("sched_sync");
  TreeRun run;
  RunTree(path.c_str(), DTX_SCHED_SYNC, &run);
  if (HasFatalFailure()) return;
  json j = ParseTrace(path.c_str());
  std::vector<json> tasks = CheckTreeTrace(j, run);
  std::map<Track, std::string> names = ThreadNames(j);
  std::set<int> tids;
  for (const json &e : tasks) {
    tids.insert(e.at("tid").get<int>());
    EXPECT_GE(e.at("tid").get<int>(), 1000) << "task " << e.at("name");
    EXPECT_EQ(names[TrackOf(e)].rfind("caller ", 0), 0u) << "track name '" << names[TrackOf(e)] << "'";
  }
  EXPECT_EQ(tids.size(), 1u) << "one calling thread, one caller track";
#endif
}

// ---- the cap, task inputs, reading back ------------------------------------------

namespace {

void KeyOf(void *ctx, uint32_t i, char *buf, size_t n) {
  snprintf(buf, n, "%s[%u]", static_cast<const char *>(ctx), i);
}

}  // namespace

TEST(Trace, CapKeepsValidJsonNamesEveryTrackAndSaysSo) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  TempTrace path("capped");
  dtxi_trace *t = nullptr;
  ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK) << dtx_last_error();
  dtxi_trace_set_max_events(t, 5);
  dtxi_trace_thread_name(t, 1, 1, "worker 0");
  uint64_t now = dtxi_now_ns();
  for (int i = 0; i < 4; i++)
    dtxi_trace_slice(t, 1, 1, ("a" + std::to_string(i)).c_str(), "task", "a", now, now + 10);
  // A transfer and its flow step are two events: over the cap together, dropped
  // together; from then on everything is dropped, even an event that would fit.
  int tid = dtxi_trace_stream_track(t, 0, "d2h");
  dtxi_trace_transfer(t, DTXI_TRACE_GPU_PID(0), tid, "a0", "gpu0->host", "d2h", 64, now, now + 5, 9);
  dtxi_trace_slice(t, 1, 1, "a4", "task", "a", now + 20, now + 30);
  for (int i = 5; i < 12; i++)
    dtxi_trace_slice(t, 1, 1, ("a" + std::to_string(i)).c_str(), "task", "a", now, now + 1);
  // Tracks named after the cap are still named.
  int late = dtxi_trace_stream_track(t, 1, "compute-0");
  dtxi_trace_thread_name(t, 1, 2, "worker 1");
  EXPECT_EQ(dtxi_trace_dropped(t), 2u + 1u + 7u);
  dtxi_trace_close(t);
  json j = ParseTrace(path.c_str());
  std::vector<json> x = EventsWithPh(j, "X");
  ASSERT_EQ(x.size(), 4u);
  EXPECT_EQ(x.back().value("name", ""), "a3");
  EXPECT_TRUE(EventsWithPh(j, "t").empty()) << "the flow step went with its transfer";
  std::vector<json> in = EventsWithPh(j, "i");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].value("name", ""), "trace capped after 4 events");
  EXPECT_EQ(in[0].value("s", ""), "g");
  EXPECT_EQ(in[0]["args"]["max_events"], 5);
  ASSERT_TRUE(j["otherData"].contains("capped"));
  EXPECT_EQ(j["otherData"]["capped"]["max_events"], 5);
  EXPECT_EQ(j["otherData"]["capped"]["dropped_events"], 10);
  std::map<Track, std::string> names = ThreadNames(j);
  EXPECT_EQ(names[Track(1, 1)], "worker 0");
  EXPECT_EQ(names[Track(1, 2)], "worker 1");
  EXPECT_EQ(names[Track(DTXI_TRACE_GPU_PID(1), late)], "compute-0");
#endif
}

TEST(Trace, CapComesFromTheClusterSettings) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  // DTX_TRACE_MAX_EVENTS reaches a trace through the cluster that resolves it
  // at creation; changing the environment afterwards changes nothing.
  TempTrace path("capped_env");
  setenv("DTX_TRACE_MAX_EVENTS", "3", 1);
  dtxi_env_reload();
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.trace_path = path.c_str();
  cfg.num_threads = 1;
  cfg.gpus = "none";
  dtx_cluster *cl = nullptr;
  dtx_status rc = dtx_cluster_create(&cfg, &cl);
  unsetenv("DTX_TRACE_MAX_EVENTS");
  dtxi_env_reload();
  ASSERT_EQ(rc, DTX_OK) << dtx_last_error();
  dtx_graph *g = nullptr;
  ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
  std::vector<dtx_task_id> ids(10);
  for (int64_t i = 0; i < 10; i++) {
    dtx_task_desc d = {};
    d.name = "leaf";
    d.nidx = 1;
    d.idx[0] = i;
    d.args = &i;
    d.args_size = sizeof i;
    d.cpu = LeafFn;
    ASSERT_EQ(dtx_graph_add(g, &d, &ids[size_t(i)]), DTX_OK) << dtx_last_error();
  }
  std::vector<dtx_chunk *> out(10, nullptr);
  ASSERT_EQ(dtx_compute(cl, g, ids.data(), 10, out.data(), nullptr), DTX_OK) << dtx_last_error();
  for (dtx_chunk *c : out) dtx_chunk_release(c);
  dtx_graph_destroy(g);
  dtx_cluster_destroy(cl);
  json j = ParseTrace(path.c_str());
  EXPECT_EQ(EventsWithPh(j, "X").size(), 3u);
  EXPECT_EQ(j["otherData"]["capped"]["max_events"], 3);
  EXPECT_EQ(j["otherData"]["capped"]["dropped_events"], 7);
  dtxi_trace *t = nullptr;
  uint64_t now = dtxi_now_ns();
  // A trace opened by itself has the default cap whatever the environment says.
  setenv("DTX_TRACE_MAX_EVENTS", "3", 1);
  dtxi_env_reload();
  TempTrace own("own_cap");
  ASSERT_EQ(dtxi_trace_open(own.c_str(), &t), DTX_OK) << dtx_last_error();
  unsetenv("DTX_TRACE_MAX_EVENTS");
  dtxi_env_reload();
  for (int i = 0; i < 10; i++) dtxi_trace_counter(t, 1, "memory", now + i, "used", i);
  EXPECT_EQ(dtxi_trace_dropped(t), 0u);
  dtxi_trace_close(t);
  // Uncapped (0): everything, and no "capped" note.
  TempTrace all("uncapped");
  ASSERT_EQ(dtxi_trace_open(all.c_str(), &t), DTX_OK);
  dtxi_trace_set_max_events(t, 0);
  for (int i = 0; i < 10; i++) dtxi_trace_counter(t, 1, "memory", now + i, "used", i);
  dtxi_trace_close(t);
  json k = ParseTrace(all.c_str());
  EXPECT_EQ(EventsWithPh(k, "C").size(), 10u);
  EXPECT_FALSE(k["otherData"].contains("capped"));
#endif
}

TEST(Trace, TaskSlicesCarryInputsAndError) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  TempTrace path("task_inputs");
  dtxi_trace *t = nullptr;
  ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK);
  uint64_t now = dtxi_now_ns();
  char in[] = "in\"put";
  dtxi_trace_task(t, 1, 1, "sum", nullptr, "sum", now, now + 5, 3, KeyOf, in, nullptr, "{\"device\":2}");
  dtxi_trace_task(t, 1, 1, "bad[1]", "future", "bad", now, now + 5, 0, KeyOf, in, "bad[1]: \"no\"\n",
                  nullptr);
  dtxi_trace_task(t, 1, 1, "wide", "task", "wide", now, now + 5, DTXI_TRACE_MAX_INPUTS + 10, KeyOf, in,
                  nullptr, nullptr);
  dtxi_trace_close(t);
  json j = ParseTrace(path.c_str());
  std::vector<json> x = EventsWithPh(j, "X");
  ASSERT_EQ(x.size(), 3u);
  EXPECT_EQ(x[0]["cat"], "task");
  EXPECT_EQ(x[0]["args"]["device"], 2);
  EXPECT_EQ(x[0]["args"]["inputs"], json::parse(R"(["in\"put[0]","in\"put[1]","in\"put[2]"])"));
  EXPECT_FALSE(x[0]["args"].contains("error"));
  EXPECT_EQ(x[1]["cat"], "future");
  EXPECT_FALSE(x[1]["args"].contains("inputs"));
  EXPECT_EQ(x[1]["args"]["error"], "bad[1]: \"no\"\n");
  EXPECT_EQ(x[2]["args"]["inputs"].size(), static_cast<size_t>(DTXI_TRACE_MAX_INPUTS));
  EXPECT_EQ(x[2]["args"]["ninputs"], DTXI_TRACE_MAX_INPUTS + 10);
#endif
}

TEST(Trace, ReadSinceGivesMetadataAndNewEvents) {
  NEED_JSON();
#ifdef DTX_HAVE_NLOHMANN_JSON
  for (bool temp : {false, true}) {
    TempTrace path("read_since");
    dtxi_trace *t = nullptr;
    if (temp)
      ASSERT_EQ(dtxi_trace_open_temp(nullptr, &t), DTX_OK) << dtx_last_error();
    else
      ASSERT_EQ(dtxi_trace_open(path.c_str(), &t), DTX_OK) << dtx_last_error();
    dtxi_trace_thread_name(t, 1, 1, "worker 0");
    uint64_t now = dtxi_now_ns();
    // Enough events before the mark to go through the buffer to the file.
    for (int i = 0; i < 2000; i++) dtxi_trace_slice(t, 1, 1, "old", "task", "old", now, now + 1);
    uint64_t mark = dtxi_trace_mark(t);
    dtxi_trace_thread_name(t, 1, 2, "worker 1");
    for (int i = 0; i < 3; i++) dtxi_trace_slice(t, 1, 2, "new", "task", "new", now + 5, now + 6);
    size_t len = 0;
    char *text = dtxi_trace_read_since(t, mark, &len);
    ASSERT_NE(text, nullptr) << dtx_last_error();
    EXPECT_EQ(strlen(text), len);
    json j = json::parse(std::string(text, len), nullptr, false);
    free(text);
    ASSERT_FALSE(j.is_discarded());
    std::vector<json> x = EventsWithPh(j, "X");
    ASSERT_EQ(x.size(), 3u);
    for (const json &e : x) EXPECT_EQ(e["name"], "new");
    std::map<Track, std::string> names = ThreadNames(j);
    EXPECT_EQ(names[Track(1, 1)], "worker 0") << "metadata from before the mark";
    EXPECT_EQ(names[Track(1, 2)], "worker 1");
    // Nothing new: a valid document with only metadata.
    uint64_t end = dtxi_trace_mark(t);
    text = dtxi_trace_read_since(t, end, &len);
    ASSERT_NE(text, nullptr);
    json k = json::parse(std::string(text, len), nullptr, false);
    free(text);
    ASSERT_FALSE(k.is_discarded());
    EXPECT_TRUE(EventsWithPh(k, "X").empty());
    dtxi_trace_close(t);
    if (!temp) {
      json all = ParseTrace(path.c_str());
      EXPECT_EQ(EventsWithPh(all, "X").size(), 2003u) << "reading back leaves the file whole";
    }
  }
#endif
}
