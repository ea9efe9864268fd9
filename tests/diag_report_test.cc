// tests/diag_report_test.cc - the performance report (DTX_REPORT or
// dtx_cluster_config.report_path): each computation writes the HTML page of
// what ran during it, with or without a trace file, from the config field or
// the environment; a report that cannot be written never fails the compute.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/config.h"
#include "diag/view.h"
#include "dtx/cluster.h"
#include "dtx/graph.h"

#define NEED_JANSSON()                                                                                  \
  do {                                                                                                  \
    if (!dtxi_diag_available())                                                                         \
      GTEST_SKIP() << "this build has no libjansson (apt-get install libjansson-dev), so it writes no " \
                      "reports";                                                                        \
  } while (0)

namespace {

int One(dtx_task_ctx *ctx) {
  double *out = static_cast<double *>(dtx_task_output(ctx, sizeof(double)));
  if (out == nullptr) return dtx_task_fail(ctx, "out of memory");
  *out = 1;
  return 0;
}

std::string Read(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t Count(const std::string &s, const std::string &part) {
  size_t n = 0;
  for (size_t at = s.find(part); at != std::string::npos; at = s.find(part, at + 1)) n++;
  return n;
}

// Computes n tasks "<name>[i]" feeding one "<name>-sum": n + 1 task slices.
void RunGraph(dtx_cluster *cl, const char *name, int n) {
  dtx_graph *g = nullptr;
  ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
  std::vector<dtx_task_id> ids;
  for (int i = 0; i < n; i++) {
    dtx_task_desc d = {};
    d.name = name;
    d.nidx = 1;
    d.idx[0] = i;
    d.cpu = One;
    dtx_task_id id;
    ASSERT_EQ(dtx_graph_add(g, &d, &id), DTX_OK);
    ids.push_back(id);
  }
  std::string sum = std::string(name) + "-sum";
  dtx_task_desc s = {};
  s.name = sum.c_str();
  s.cpu = One;
  s.inputs = ids.data();
  s.ninputs = n;
  dtx_task_id out;
  ASSERT_EQ(dtx_graph_add(g, &s, &out), DTX_OK);
  dtx_chunk *c = nullptr;
  ASSERT_EQ(dtx_compute(cl, g, &out, 1, &c, nullptr), DTX_OK) << dtx_last_error();
  dtx_chunk_release(c);
  dtx_graph_destroy(g);
}

std::string Temp(const char *tag, const char *ext) {
  return ::testing::TempDir() + "dtx_report_" + tag + "_" + std::to_string(::getpid()) + ext;
}

}  // namespace

TEST(Report, EachComputationWritesItsOwnPage) {
  NEED_JANSSON();
  std::string page = Temp("field", ".html");
  std::remove(page.c_str());
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.report_path = page.c_str();
  cfg.num_threads = 2;
  cfg.gpus = "none";
  dtx_cluster *cl = nullptr;
  ASSERT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  RunGraph(cl, "first", 6);
  std::string html = Read(page);
  EXPECT_EQ(Count(html, "<rect class=\"s task\""), 7u) << "6 tasks and their sum";
  EXPECT_NE(html.find("first-sum"), std::string::npos);
  EXPECT_NE(html.find("performance report of a computation"), std::string::npos);
  EXPECT_NE(html.find(">dtx host / worker "), std::string::npos) << "tracks keep their names";
  RunGraph(cl, "second", 3);
  html = Read(page);
  EXPECT_EQ(Count(html, "<rect class=\"s task\""), 4u) << "only the second computation";
  EXPECT_EQ(html.find("first["), std::string::npos);
  EXPECT_EQ(html.find("first-sum"), std::string::npos);
  EXPECT_NE(html.find("Critical path</h2>\n<p>"), std::string::npos);
  dtx_cluster_destroy(cl);
  EXPECT_EQ(access((page + ".tmp." + std::to_string(::getpid())).c_str(), F_OK), -1);
  std::remove(page.c_str());
}

TEST(Report, WithATraceFileTheTraceKeepsEverything) {
  NEED_JANSSON();
  std::string page = Temp("traced", ".html"), trace = Temp("traced", ".json");
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.report_path = page.c_str();
  cfg.trace_path = trace.c_str();
  cfg.num_threads = 2;
  cfg.gpus = "none";
  dtx_cluster *cl = nullptr;
  ASSERT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  RunGraph(cl, "first", 4);
  RunGraph(cl, "second", 2);
  EXPECT_EQ(Count(Read(page), "<rect class=\"s task\""), 3u);
  dtx_cluster_destroy(cl);
  dtxi_view *v = nullptr;
  ASSERT_EQ(dtxi_view_load_file(trace.c_str(), &v), DTX_OK) << dtx_last_error();
  EXPECT_EQ(v->nslices, 8u);
  EXPECT_FALSE(v->truncated);
  dtxi_view_free(v);
  std::remove(page.c_str());
  std::remove(trace.c_str());
}

TEST(Report, FromTheEnvironment) {
  NEED_JANSSON();
  std::string page = Temp("env", ".html");
  std::remove(page.c_str());
  setenv("DTX_REPORT", page.c_str(), 1);
  dtxi_env_reload();
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.num_threads = 1;
  cfg.gpus = "none";
  dtx_cluster *cl = nullptr;
  dtx_status rc = dtx_cluster_create(&cfg, &cl);
  unsetenv("DTX_REPORT");
  dtxi_env_reload();
  ASSERT_EQ(rc, DTX_OK) << dtx_last_error();
  RunGraph(cl, "env", 2);
  dtx_cluster_destroy(cl);
  EXPECT_EQ(Count(Read(page), "<rect class=\"s task\""), 3u);
  std::remove(page.c_str());
}

TEST(Report, AnUnwritablePathDoesNotFailTheComputation) {
  NEED_JANSSON();
  std::string page = Temp("nowhere", "") + "/no/such/dir/report.html";
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.report_path = page.c_str();
  cfg.num_threads = 1;
  cfg.gpus = "none";
  cfg.log_level = DTX_LOG_NONE;
  dtx_cluster *cl = nullptr;
  ASSERT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  RunGraph(cl, "lost", 2);  // asserts DTX_OK inside
  dtx_cluster_destroy(cl);
  EXPECT_EQ(access(page.c_str(), F_OK), -1);
  dtxi_env_reload();  // logging back to the environment's settings
}
