// tests/trace_test.cc - the Chrome trace writer (host/trace.c) and the traces
// the schedulers write through it.
//
// Every test parses the written file with nlohmann::json: the file must be
// valid JSON, each event must appear exactly once, names must round-trip
// through the escaping, and every track a slice uses must be named. Without
// nlohmann::json (DTX_HAVE_NLOHMANN_JSON undefined) the tests skip, saying so.
#include "host/trace.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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
