// tests/diag_summary_test.cc - reading traces back (diag/view.c) and their
// summary (diag/summary.c): every number against a trace written by hand
// whose answers are worked out in the comments, the 80-column text, odd
// inputs (a bare event array, a file cut short, no dependencies, not a
// trace), and a real run's dependencies.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/config.h"
#include "diag/summary.h"
#include "diag/view.h"
#include "dtx/cluster.h"
#include "dtx/graph.h"
#include "dtx/trace.h"

#define NEED_JANSSON()                                                                                 \
  do {                                                                                                 \
    if (!dtxi_diag_available())                                                                        \
      GTEST_SKIP() << "this build has no libjansson (apt-get install libjansson-dev), so it reads no " \
                      "traces";                                                                        \
  } while (0)

namespace {

std::string TempPath(const std::string &tag, const char *ext) {
  return ::testing::TempDir() + "dtx_diag_" + tag + "_" + std::to_string(::getpid()) + ext;
}

void WriteFile(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// The hand-written trace. Times are microseconds. Tracks:
//   (1,1) worker 0:   load[0] 0-10, load[1] 10-30, square[0] 40-45, total 75-80
//   (1,2) worker 1:   load[2] 0-30, square[1] 35-50, bad[0] 60-62 (failed);
//                     an error instant "oom" at 50
//   (100,1) compute-0: gsq[2] 30-70 (device 0); a spill instant at 70 (1000 bytes)
//   (100,1001) h2d:    an unspill slice 76-78 (1000 bytes)
//   (100,1002) d2h:    copy gsq[2] 70-74, 4000 bytes over gpu0->host
// Dependencies: square[i] <- load[i]; gsq[2] <- load[2];
//   total <- square[0], square[1], gsq[2]; and flow 7: gsq[2] -> copy -> total.
// Memory counter of pid 100: 1000 at 30, 5000 at 70, 2000 at 80.
const char *const kHandTrace = R"({"traceEvents":[
{"ph":"M","pid":1,"tid":0,"name":"process_name","args":{"name":"dtx host"}},
{"ph":"M","pid":1,"tid":1,"name":"thread_name","args":{"name":"worker 0"}},
{"ph":"M","pid":1,"tid":2,"name":"thread_name","args":{"name":"worker 1"}},
{"ph":"M","pid":100,"tid":0,"name":"process_name","args":{"name":"gpu 0: sim"}},
{"ph":"M","pid":100,"tid":0,"name":"process_sort_index","args":{"sort_index":100}},
{"ph":"M","pid":100,"tid":1,"name":"thread_name","args":{"name":"compute-0"}},
{"ph":"M","pid":100,"tid":1001,"name":"thread_name","args":{"name":"h2d"}},
{"ph":"M","pid":100,"tid":1002,"name":"thread_name","args":{"name":"d2h"}},
{"ph":"X","pid":1,"tid":1,"name":"load[0]","cat":"task","ts":0,"dur":10,"args":{"key":"load[0]","prefix":"load"}},
{"ph":"X","pid":1,"tid":1,"name":"load[1]","cat":"task","ts":10,"dur":20,"args":{"key":"load[1]","prefix":"load"}},
{"ph":"X","pid":1,"tid":2,"name":"load[2]","cat":"task","ts":0,"dur":30,"args":{"key":"load[2]","prefix":"load"}},
{"ph":"X","pid":1,"tid":1,"name":"square[0]","cat":"task","ts":40,"dur":5,"args":{"inputs":["load[0]"]}},
{"ph":"X","pid":1,"tid":2,"name":"square[1]","cat":"task","ts":35,"dur":15,"args":{"inputs":["load[1]"]}},
{"ph":"X","pid":100,"tid":1,"name":"gsq[2]","cat":"task","ts":30,"dur":40,"args":{"key":"gsq[2]","prefix":"gsq","device":0,"inputs":["load[2]"]}},
{"ph":"s","pid":100,"tid":1,"name":"dataflow","cat":"dataflow","id":7,"ts":30},
{"ph":"X","pid":100,"tid":1002,"name":"copy gsq[2]","cat":"transfer","ts":70,"dur":4,"args":{"key":"gsq[2]","bytes":4000,"link":"gpu0->host","via":"d2h","gbps":1.000}},
{"ph":"t","pid":100,"tid":1002,"name":"dataflow","cat":"dataflow","id":7,"ts":70},
{"ph":"i","pid":100,"tid":1,"name":"spill gsq[2]","cat":"spill","ts":70,"s":"t","args":{"bytes":1000}},
{"ph":"X","pid":100,"tid":1001,"name":"unspill gsq[2]","cat":"unspill","ts":76,"dur":2,"args":{"key":"gsq[2]","bytes":1000}},
{"ph":"X","pid":1,"tid":1,"name":"total","cat":"task","ts":75,"dur":5,"args":{"key":"total","prefix":"total","inputs":["square[0]","square[1]","gsq[2]"]}},
{"ph":"f","pid":1,"tid":1,"name":"dataflow","cat":"dataflow","id":7,"ts":75,"bp":"e"},
{"ph":"i","pid":1,"tid":2,"name":"oom","cat":"error","ts":50,"s":"t","args":{"message":"device out of memory"}},
{"ph":"X","pid":1,"tid":2,"name":"bad[0]","cat":"task","ts":60,"dur":2,"args":{"key":"bad[0]","prefix":"bad","error":"bad[0]: boom"}},
{"ph":"C","pid":100,"tid":0,"name":"device memory","ts":30,"args":{"used":1000}},
{"ph":"C","pid":100,"tid":0,"name":"device memory","ts":70,"args":{"used":5000}},
{"ph":"C","pid":100,"tid":0,"name":"device memory","ts":80,"args":{"used":2000}}
],"displayTimeUnit":"ns","otherData":{"producer":"dtx","version":"0.1.0"}}
)";

struct Loaded {
  dtxi_view *v = nullptr;
  dtxi_summary *s = nullptr;
  ~Loaded() {
    dtxi_summary_free(s);
    dtxi_view_free(v);
  }
};

void LoadText(const std::string &text, Loaded *l) {
  ASSERT_EQ(dtxi_view_load_text(text.data(), text.size(), "test trace", &l->v), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtxi_summary_make(l->v, &l->s), DTX_OK) << dtx_last_error();
}

std::string Label(const dtxi_view *v, uint32_t track) {
  char buf[256];
  dtxi_view_track_label(v, track, buf, sizeof buf);
  return buf;
}

const dtxi_sprefix *Prefix(const dtxi_summary *s, const char *name) {
  for (size_t i = 0; i < s->nprefixes; i++)
    if (std::string(s->prefixes[i].prefix) == name) return &s->prefixes[i];
  return nullptr;
}

std::string Print(const dtxi_summary *s) {
  char *text = nullptr;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  dtxi_summary_print(s, "hand.json", out);
  fclose(out);
  std::string r(text, size);
  free(text);
  return r;
}

}  // namespace

TEST(DiagView, ReadsEveryKindOfEvent) {
  NEED_JANSSON();
  Loaded l;
  LoadText(kHandTrace, &l);
  const dtxi_view *v = l.v;
  EXPECT_EQ(v->nslices, 10u);
  EXPECT_EQ(v->ninstants, 2u);
  EXPECT_EQ(v->ncounters, 3u);
  EXPECT_EQ(v->nflows, 3u);
  EXPECT_EQ(v->ntracks, 5u);
  EXPECT_FALSE(v->truncated);
  EXPECT_FALSE(v->capped);
  // Names from metadata; prefixes from args or from the name up to '['.
  bool saw_square = false, saw_copy = false;
  for (size_t i = 0; i < v->nslices; i++) {
    const dtxi_vslice &x = v->slices[i];
    if (std::string(x.name) == "square[1]") {
      saw_square = true;
      EXPECT_STREQ(x.prefix, "square");
      EXPECT_STREQ(x.key, "square[1]");
      ASSERT_EQ(x.nin, 1u);
      EXPECT_STREQ(v->inputs[x.in_off], "load[1]");
      EXPECT_EQ(Label(v, x.track), "dtx host / worker 1");
    }
    if (std::string(x.name) == "copy gsq[2]") {
      saw_copy = true;
      EXPECT_EQ(x.kind, DTXI_VK_TRANSFER);
      EXPECT_EQ(x.bytes, 4000);
      EXPECT_STREQ(x.link, "gpu0->host");
      EXPECT_EQ(Label(v, x.track), "gpu 0: sim / d2h");
    }
    if (std::string(x.name) == "gsq[2]") {
      EXPECT_EQ(x.device, 0);
    }
    if (std::string(x.name) == "unspill gsq[2]") {
      EXPECT_EQ(x.kind, DTXI_VK_UNSPILL);
    }
  }
  EXPECT_TRUE(saw_square);
  EXPECT_TRUE(saw_copy);
}

TEST(DiagSummary, HandTraceNumbers) {
  NEED_JANSSON();
  Loaded l;
  LoadText(kHandTrace, &l);
  const dtxi_summary *s = l.s;
  EXPECT_DOUBLE_EQ(s->t0, 0);
  EXPECT_DOUBLE_EQ(s->wall, 80);
  EXPECT_EQ(s->nslices, 10u);

  // Tracks in display order: host pid 1 (tids 1, 2), then gpu pid 100 (tids 1, 1001, 1002).
  ASSERT_EQ(s->ntracks, 5u);
  const char *names[] = {"dtx host / worker 0", "dtx host / worker 1", "gpu 0: sim / compute-0",
                         "gpu 0: sim / h2d", "gpu 0: sim / d2h"};
  // busy: w0 10+20+5+5; w1 30+15+2; compute 40; h2d 2; d2h 4.
  const double busy[] = {40, 47, 40, 2, 4};
  // gaps of at least 1% of 80 us: w0 30-40, 45-75; w1 30-35, 50-60, 62-80; compute 0-30, 70-80;
  // h2d 0-76, 78-80; d2h 0-70, 74-80.
  const size_t gaps[] = {2, 3, 2, 2, 2};
  const double longest[] = {30, 18, 30, 76, 70}, at[] = {45, 62, 0, 0, 0};
  for (size_t i = 0; i < 5; i++) {
    EXPECT_EQ(Label(l.v, s->tracks[i].track), names[i]);
    EXPECT_NEAR(s->tracks[i].busy, busy[i], 1e-9) << names[i];
    EXPECT_NEAR(s->tracks[i].util, busy[i] / 80, 1e-12) << names[i];
    EXPECT_EQ(s->tracks[i].gaps, gaps[i]) << names[i];
    EXPECT_NEAR(s->tracks[i].longest_gap, longest[i], 1e-9) << names[i];
    EXPECT_NEAR(s->tracks[i].gap_at, at[i], 1e-9) << names[i];
  }

  // Prefixes (tasks only), by total time: load 60, gsq 40, square 20, total 5, bad 2.
  ASSERT_EQ(s->nprefixes, 5u);
  const char *order[] = {"load", "gsq", "square", "total", "bad"};
  for (size_t i = 0; i < 5; i++) EXPECT_STREQ(s->prefixes[i].prefix, order[i]);
  const dtxi_sprefix *load = Prefix(s, "load"), *square = Prefix(s, "square"), *bad = Prefix(s, "bad");
  ASSERT_TRUE(load && square && bad);
  EXPECT_EQ(load->count, 3u);
  EXPECT_DOUBLE_EQ(load->total, 60);
  EXPECT_DOUBLE_EQ(load->mean, 20);
  EXPECT_DOUBLE_EQ(load->max, 30);
  EXPECT_STREQ(load->max_key, "load[2]");
  EXPECT_EQ(square->count, 2u);
  EXPECT_DOUBLE_EQ(square->mean, 10);
  EXPECT_STREQ(square->max_key, "square[1]");
  EXPECT_EQ(bad->failed, 1u);
  EXPECT_EQ(load->failed, 0u);

  // Critical path: load[2] 30 + gsq[2] 40 + copy 4 (flow) + total 5 = 79; the
  // other chains are shorter (load[1] 20 + square[1] 15 + total 5 = 40).
  EXPECT_TRUE(s->has_deps);
  EXPECT_NEAR(s->critical, 79, 1e-9);
  ASSERT_EQ(s->npath, 4u);
  const char *path[] = {"load[2]", "gsq[2]", "copy gsq[2]", "total"};
  for (size_t i = 0; i < 4; i++) EXPECT_STREQ(l.v->slices[s->path[i]].name, path[i]);
  // Edges: 6 input keys (square[0], square[1] and gsq[2] one each, total
  // three) + 2 flow hops (gsq[2] -> copy, copy -> total).
  EXPECT_EQ(s->nedges, 8u);

  // Links: 4000 bytes in 4 us = 1 GB/s.
  ASSERT_EQ(s->nlinks, 1u);
  EXPECT_STREQ(s->links[0].link, "gpu0->host");
  EXPECT_EQ(s->links[0].count, 1u);
  EXPECT_EQ(s->links[0].bytes, 4000);
  EXPECT_NEAR(s->links[0].gbps, 1.0, 1e-12);

  EXPECT_EQ(s->spills, 1u);
  EXPECT_EQ(s->spill_bytes, 1000);
  EXPECT_EQ(s->unspills, 1u);
  EXPECT_EQ(s->unspill_bytes, 1000);

  // Errors in time order: the instant at 50, the failed slice at 60.
  ASSERT_EQ(s->nerrors, 2u);
  EXPECT_STREQ(s->errors[0].key, "oom");
  EXPECT_STREQ(s->errors[0].msg, "device out of memory");
  EXPECT_STREQ(s->errors[1].key, "bad[0]");
  EXPECT_STREQ(s->errors[1].msg, "bad[0]: boom");

  ASSERT_EQ(s->nmemory, 1u);
  EXPECT_STREQ(s->memory[0].name, "device memory used");
  EXPECT_STREQ(s->memory[0].process, "gpu 0: sim");
  EXPECT_DOUBLE_EQ(s->memory[0].peak, 5000);
  EXPECT_DOUBLE_EQ(s->memory[0].last, 2000);
}

TEST(DiagSummary, TextFitsEightyColumns) {
  NEED_JANSSON();
  Loaded l;
  LoadText(kHandTrace, &l);
  std::string text = Print(l.s);
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) EXPECT_LE(line.size(), 80u) << line;
  EXPECT_NE(text.find("wall time 80.0 us, 10 slices on 5 tracks, 5 task prefixes"), std::string::npos)
      << text;
  EXPECT_NE(text.find("Critical path 79.0 us over 4 slices; wall time 80.0 us = 1.01x the path"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("load[2] -> gsq[2] -> copy gsq[2] -> total"), std::string::npos) << text;
  EXPECT_NE(text.find("gpu0->host"), std::string::npos) << text;
  EXPECT_NE(text.find("1.000"), std::string::npos) << text;
  EXPECT_NE(text.find("Spills: 1 spilled (1000 B), 1 brought back (1000 B)"), std::string::npos) << text;
  EXPECT_NE(text.find("Errors: 2"), std::string::npos) << text;
  EXPECT_NE(text.find("  bad[0]: boom"), std::string::npos) << text;
  EXPECT_NE(text.find("  oom: device out of memory"), std::string::npos) << text;
  // Columns line up: the busy figures end where the header's "busy" ends.
  size_t header = text.find("\nTracks");
  ASSERT_NE(header, std::string::npos);
  std::string hl = text.substr(header + 1, text.find('\n', header + 1) - header - 1);
  size_t busy_end = hl.find("busy") + 4;
  size_t row = text.find("  dtx host / worker 0");
  std::string rl = text.substr(row, text.find('\n', row) - row);
  EXPECT_EQ(rl.substr(busy_end - 7, 7), "40.0 us") << hl << "\n" << rl;
  // Long names are cut with '~', not allowed to push columns out.
  std::string long_trace = std::string(kHandTrace);
  std::string long_name(120, 'x');
  size_t at = long_trace.find("\"worker 1\"");
  long_trace.replace(at, 10, "\"" + long_name + "\"");
  Loaded l2;
  LoadText(long_trace, &l2);
  std::string t2 = Print(l2.s);
  std::istringstream in2(t2);
  for (std::string line; std::getline(in2, line);) EXPECT_LE(line.size(), 80u) << line;
  EXPECT_NE(t2.find("~"), std::string::npos);
}

TEST(DiagSummary, NoDependenciesMeansNoCriticalPath) {
  NEED_JANSSON();
  // A bare array of events (the other form Chrome accepts), no inputs, no flows.
  std::string text = R"([
{"ph":"X","pid":1,"tid":1,"name":"a[0]","ts":0,"dur":7},
{"ph":"X","pid":1,"tid":1,"name":"a[1]","ts":10,"dur":3},
{"ph":"X","pid":1,"tid":2,"name":"b","ts":2,"dur":12}
])";
  Loaded l;
  LoadText(text, &l);
  EXPECT_EQ(l.v->nslices, 3u);
  EXPECT_FALSE(l.s->has_deps);
  EXPECT_DOUBLE_EQ(l.s->critical, 12);  // the longest slice
  EXPECT_DOUBLE_EQ(l.s->wall, 14);
  ASSERT_EQ(l.s->nprefixes, 2u);
  EXPECT_STREQ(l.s->prefixes[0].prefix, "b");  // 12 us against a's 10
  EXPECT_EQ(l.s->prefixes[1].count, 2u);
  // Unnamed tracks get "pid N / tid N".
  EXPECT_EQ(Label(l.v, l.s->tracks[0].track), "pid 1 / tid 1");
  std::string out = Print(l.s);
  EXPECT_NE(out.find("Critical path: unknown, the trace records no dependencies"), std::string::npos) << out;
}

TEST(DiagView, TraceCutShortStillReads) {
  NEED_JANSSON();
  // The file of a program that died before closing its trace, cut inside an event.
  std::string text(kHandTrace);
  size_t cut = text.find("{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"square[1]\"");
  ASSERT_NE(cut, std::string::npos);
  text.resize(cut + 30);
  Loaded l;
  LoadText(text, &l);
  EXPECT_TRUE(l.v->truncated);
  EXPECT_EQ(l.v->nslices, 4u);  // load[0..2], square[0]
  EXPECT_NE(Print(l.s).find("note: the trace file ends early"), std::string::npos);
  // Cut right after a separator: the same.
  std::string t2(kHandTrace);
  t2.resize(t2.find("{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"square[1]\""));
  Loaded l2;
  LoadText(t2, &l2);
  EXPECT_TRUE(l2.v->truncated);
  EXPECT_EQ(l2.v->nslices, 4u);
}

TEST(DiagView, CappedTraceSaysSo) {
  NEED_JANSSON();
  std::string text = R"({"traceEvents":[
{"ph":"X","pid":1,"tid":1,"name":"a","ts":0,"dur":1},
{"ph":"i","pid":1,"tid":0,"name":"trace capped after 1 events","cat":"dtx","s":"g","ts":1,"args":{"max_events":1}}
],"otherData":{"producer":"dtx","capped":{"max_events":1,"dropped_events":41}}})";
  Loaded l;
  LoadText(text, &l);
  EXPECT_TRUE(l.v->capped);
  EXPECT_EQ(l.v->max_events, 1u);
  EXPECT_EQ(l.v->dropped, 41u);
  EXPECT_EQ(l.v->ninstants, 0u) << "the cap marker is a note, not an event to draw";
  EXPECT_NE(Print(l.s).find("note: the trace was capped after 1 events (41 dropped)"), std::string::npos);
}

TEST(DiagView, BadInputIsAClearError) {
  NEED_JANSSON();
  dtxi_view *v = nullptr;
  EXPECT_EQ(dtxi_view_load_text("hello", 5, "x.json", &v), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("x.json is not a Chrome trace JSON"), std::string::npos)
      << dtx_last_error();
  EXPECT_EQ(dtxi_view_load_text("{\"a\":1}", 7, "y.json", &v), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("no traceEvents array"), std::string::npos)
      << dtx_last_error();
  EXPECT_EQ(v, nullptr);
  std::string missing = TempPath("missing", ".json");
  EXPECT_EQ(dtx_trace_summary(missing.c_str(), stdout), DTX_EIO);
  EXPECT_NE(std::string(dtx_last_error()).find(missing), std::string::npos) << dtx_last_error();
  std::string empty = TempPath("empty", ".json");
  WriteFile(empty, "");
  EXPECT_EQ(dtx_trace_summary(empty.c_str(), stdout), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("is empty"), std::string::npos) << dtx_last_error();
  std::remove(empty.c_str());
  EXPECT_EQ(dtx_trace_summary(nullptr, stdout), DTX_EINVAL);
}

TEST(DiagSummary, PublicSummaryOfAFile) {
  NEED_JANSSON();
  std::string path = TempPath("hand", ".json");
  WriteFile(path, kHandTrace);
  char *text = nullptr;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  ASSERT_EQ(dtx_trace_summary(path.c_str(), out), DTX_OK) << dtx_last_error();
  fclose(out);
  std::string s(text, size);
  free(text);
  EXPECT_NE(s.find("dtx trace summary: " + path.substr(0, 40)), std::string::npos) << s;
  EXPECT_NE(s.find("Critical path 79.0 us"), std::string::npos) << s;
  std::remove(path.c_str());
}

// ---- a real run -------------------------------------------------------------------

namespace {

// Spins for about `us` microseconds of CPU: a task with a known, nonzero length.
int Spin(dtx_task_ctx *ctx) {
  size_t n = 0;
  const int *us = static_cast<const int *>(dtx_task_args(ctx, &n));
  volatile double x = 0;
  for (long i = 0; i < 200L * *us; i++) x = x + 1.0;
  double *out = static_cast<double *>(dtx_task_output(ctx, sizeof(double)));
  if (out == nullptr) return dtx_task_fail(ctx, "out of memory");
  *out = x;
  return 0;
}

}  // namespace

TEST(DiagSummary, RealRunRecordsEveryEdge) {
  NEED_JANSSON();
  // A diamond a -> (b, c) -> d plus an unrelated e; d is the only output
  // besides e. Four edges; the critical path starts at a and ends at d.
  std::string path = TempPath("diamond", ".json");
  for (dtx_scheduler sched : {DTX_SCHED_SYNC, DTX_SCHED_THREADS}) {
    dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
    cfg.trace_path = path.c_str();
    cfg.num_threads = 2;
    cfg.scheduler = sched;
    cfg.gpus = "none";
    dtx_cluster *cl = nullptr;
    ASSERT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
    dtx_graph *g = nullptr;
    ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
    int us_a = 300, us_bc = 200, us_d = 100, us_e = 50;
    dtx_task_id a, b, c, d, e;
    dtx_task_desc da = {};
    da.name = "a";
    da.cpu = Spin;
    da.args = &us_a;
    da.args_size = sizeof us_a;
    ASSERT_EQ(dtx_graph_add(g, &da, &a), DTX_OK);
    dtx_task_desc db = da;
    db.name = "b";
    db.args = &us_bc;
    db.inputs = &a;
    db.ninputs = 1;
    ASSERT_EQ(dtx_graph_add(g, &db, &b), DTX_OK);
    db.name = "c";
    ASSERT_EQ(dtx_graph_add(g, &db, &c), DTX_OK);
    dtx_task_id bc[2] = {b, c};
    dtx_task_desc dd = da;
    dd.name = "d";
    dd.args = &us_d;
    dd.inputs = bc;
    dd.ninputs = 2;
    ASSERT_EQ(dtx_graph_add(g, &dd, &d), DTX_OK);
    dtx_task_desc de = da;
    de.name = "e";
    de.args = &us_e;
    ASSERT_EQ(dtx_graph_add(g, &de, &e), DTX_OK);
    dtx_task_id outs[2] = {d, e};
    dtx_chunk *res[2] = {nullptr, nullptr};
    ASSERT_EQ(dtx_compute(cl, g, outs, 2, res, nullptr), DTX_OK) << dtx_last_error();
    dtx_chunk_release(res[0]);
    dtx_chunk_release(res[1]);
    dtx_graph_destroy(g);
    dtx_cluster_destroy(cl);

    dtxi_view *v = nullptr;
    ASSERT_EQ(dtxi_view_load_file(path.c_str(), &v), DTX_OK) << dtx_last_error();
    dtxi_summary *s = nullptr;
    ASSERT_EQ(dtxi_summary_make(v, &s), DTX_OK) << dtx_last_error();
    EXPECT_EQ(v->nslices, 5u);
    EXPECT_TRUE(s->has_deps);
    EXPECT_EQ(s->nedges, 4u) << "scheduler " << dtx_scheduler_name(sched);
    ASSERT_GE(s->npath, 3u);
    EXPECT_STREQ(v->slices[s->path[0]].name, "a");
    EXPECT_STREQ(v->slices[s->path[s->npath - 1]].name, "d");
    EXPECT_EQ(s->npath, 3u);
    // The path is a's + the longer of b, c + d; never longer than the wall time.
    EXPECT_LE(s->critical, s->wall + 1e-3);
    EXPECT_EQ(s->nprefixes, 5u);
    dtxi_summary_free(s);
    dtxi_view_free(v);
  }
  std::remove(path.c_str());
}

TEST(DiagSummary, RealCappedTraceStillReads) {
  NEED_JANSSON();
  std::string path = TempPath("capped", ".json");
  setenv("DTX_TRACE_MAX_EVENTS", "10", 1);
  dtxi_env_reload();
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.trace_path = path.c_str();
  cfg.num_threads = 2;
  cfg.gpus = "none";
  cfg.log_level = DTX_LOG_ERROR;  // the cap's warning is expected
  dtx_cluster *cl = nullptr;
  dtx_status rc = dtx_cluster_create(&cfg, &cl);
  unsetenv("DTX_TRACE_MAX_EVENTS");
  dtxi_env_reload();
  ASSERT_EQ(rc, DTX_OK) << dtx_last_error();
  dtx_graph *g = nullptr;
  ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
  int us = 1;
  std::vector<dtx_task_id> ids(50);
  for (int i = 0; i < 50; i++) {
    dtx_task_desc d = {};
    d.name = "leaf";
    d.nidx = 1;
    d.idx[0] = i;
    d.cpu = Spin;
    d.args = &us;
    d.args_size = sizeof us;
    ASSERT_EQ(dtx_graph_add(g, &d, &ids[i]), DTX_OK);
  }
  std::vector<dtx_chunk *> res(50, nullptr);
  ASSERT_EQ(dtx_compute(cl, g, ids.data(), 50, res.data(), nullptr), DTX_OK) << dtx_last_error();
  for (dtx_chunk *c : res) dtx_chunk_release(c);
  dtx_graph_destroy(g);
  dtx_cluster_destroy(cl);
  Loaded l;
  ASSERT_EQ(dtxi_view_load_file(path.c_str(), &l.v), DTX_OK) << dtx_last_error();
  ASSERT_EQ(dtxi_summary_make(l.v, &l.s), DTX_OK);
  EXPECT_TRUE(l.v->capped);
  EXPECT_FALSE(l.v->truncated);
  EXPECT_EQ(l.v->max_events, 10u);
  EXPECT_EQ(l.v->nslices, 10u);
  EXPECT_EQ(l.v->dropped, 40u);
  EXPECT_NE(Print(l.s).find("note: the trace was capped after 10 events (40 dropped)"), std::string::npos)
      << Print(l.s);
  std::remove(path.c_str());
  dtxi_env_reload();
}
