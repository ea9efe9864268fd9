// A cluster's settings (src/base/config.c, src/runtime/cluster.c): every
// DTX_* variable is also a field of dtx_cluster_config; each setting resolves
// once, at dtx_cluster_create, as the field if set, else the environment, else
// the default; a bad field is DTX_EINVAL naming the field; fields past
// cfg->size read as unset; and nothing reads the environment after creation,
// which computations on simulated GPUs show by following the values of
// creation time when the environment changes afterwards.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "base/config.h"
#include "runtime/runtime.h"
#include "scheduler/progress.h"
#include "test_util.h"

using namespace dtxt;

namespace {

void UnsetAll() {
  for (int v = 0; v < DTXI_NVARS; v++) unsetenv(dtxi_var_name(static_cast<dtxi_var>(v)));
}

// Every test starts and ends with no DTX_* setting in the environment.
class Settings : public ::testing::Test {
 protected:
  void SetUp() override {
    UnsetAll();
    dtxi_env_reload();
  }
  void TearDown() override {
    UnsetAll();
    dtxi_env_reload();  // logging back to the environment's settings too
  }
};

std::string Temp(const char *stem) { return ::testing::TempDir() + stem + std::to_string(::getpid()); }

std::string Str(const char *s) { return s != nullptr ? s : "(null)"; }

// A resolved value as text, whatever its type.
std::string Value(const dtxi_env &v, dtxi_var var) {
  std::ostringstream o;
  switch (var) {
    case DTXI_VAR_SCHEDULER:
      o << Str(dtx_scheduler_name(v.scheduler));
      break;
    case DTXI_VAR_NUM_THREADS:
      o << v.num_threads;
      break;
    case DTXI_VAR_LOG:
      o << Str(dtxi_log_level_name(v.log_level));
      break;
    case DTXI_VAR_LOG_FILE:
      o << Str(v.log_file);
      break;
    case DTXI_VAR_TRACE:
      o << Str(v.trace_path);
      break;
    case DTXI_VAR_TRACE_MAX_EVENTS:
      o << v.trace_max_events;
      break;
    case DTXI_VAR_REPORT:
      o << Str(v.report_path);
      break;
    case DTXI_VAR_PROGRESS:
      o << static_cast<int>(v.progress);
      break;
    case DTXI_VAR_GPUS:
      o << Str(v.gpus);
      break;
    case DTXI_VAR_STREAMS_PER_GPU:
      o << v.streams_per_gpu;
      break;
    case DTXI_VAR_GPU_WINDOW:
      o << v.gpu_window;
      break;
    case DTXI_VAR_DEVICE_MEMORY_LIMIT:
      o << Str(v.device_memory_limit);
      break;
    case DTXI_VAR_HOST_MEMORY_LIMIT:
      o << Str(v.host_memory_limit);
      break;
    case DTXI_VAR_SPILL_DIR:
      o << Str(v.spill_dir);
      break;
    case DTXI_VAR_P2P:
      o << static_cast<int>(v.p2p);
      break;
    case DTXI_VAR_SIM_BANDWIDTH:
      o << v.sim_bandwidth;
      break;
    case DTXI_NVARS:
      break;
  }
  return o.str();
}

std::string SettingsText(const dtx_cluster *cl) {
  char *text = nullptr;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  if (out == nullptr) return "";
  EXPECT_EQ(dtx_cluster_report_settings(cl, out), DTX_OK) << dtx_last_error();
  fclose(out);
  std::string s(text, size);
  free(text);
  return s;
}

// The report's line of setting `field` (empty if there is none).
std::string LineOf(const std::string &text, const std::string &field) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.rfind(field + " ", 0) == 0) return l;
  return "";
}

bool EndsWith(const std::string &s, const std::string &tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// One setting: a value for its variable, another for its field, and what
// each (and the default) resolves to, as Value() writes it.
struct Case {
  dtxi_var var;
  std::string env;
  std::function<void(dtx_cluster_config &)> set_field;
  std::string want_default, want_env, want_field;
};

std::vector<Case> Cases(const std::string &a, const std::string &b) {
  const dtxi_env *e = dtxi_env_get();  // for the default spill dir ($TMPDIR, else /tmp)
  std::string tmp = e->tmp_dir;
  auto i = [](int v) { return std::to_string(v); };
  return {
      {DTXI_VAR_SCHEDULER, "sync", [](dtx_cluster_config &c) { c.scheduler = DTX_SCHED_THREADS; }, "threads",
       "sync", "threads"},
      {DTXI_VAR_NUM_THREADS, "3", [](dtx_cluster_config &c) { c.num_threads = 5; }, i(dtxi_num_cores()), "3",
       "5"},
      {DTXI_VAR_LOG, "error", [](dtx_cluster_config &c) { c.log_level = DTX_LOG_INFO; }, "warn", "error",
       "info"},
      {DTXI_VAR_LOG_FILE, a + ".log",
       [b](dtx_cluster_config &c) { c.log_file = strdup((b + ".log").c_str()); }, "(null)", a + ".log",
       b + ".log"},
      {DTXI_VAR_TRACE, a + ".json",
       [b](dtx_cluster_config &c) { c.trace_path = strdup((b + ".json").c_str()); }, "(null)", a + ".json",
       b + ".json"},
      {DTXI_VAR_TRACE_MAX_EVENTS, "1000", [](dtx_cluster_config &c) { c.trace_max_events = 0; }, "10000000",
       "1000", "0"},
      {DTXI_VAR_REPORT, a + ".html",
       [b](dtx_cluster_config &c) { c.report_path = strdup((b + ".html").c_str()); }, "(null)", a + ".html",
       b + ".html"},
      {DTXI_VAR_PROGRESS, "1", [](dtx_cluster_config &c) { c.progress = DTX_PROGRESS_OFF; },
       i(DTX_PROGRESS_AUTO), i(DTX_PROGRESS_ON), i(DTX_PROGRESS_OFF)},
      {DTXI_VAR_GPUS, "sim:1", [](dtx_cluster_config &c) { c.gpus = "sim:2"; }, "all", "sim:1", "sim:2"},
      {DTXI_VAR_STREAMS_PER_GPU, "2", [](dtx_cluster_config &c) { c.streams_per_gpu = 3; }, "4", "2", "3"},
      {DTXI_VAR_GPU_WINDOW, "0", [](dtx_cluster_config &c) { c.gpu_window = 17; }, "256", "0", "17"},
      {DTXI_VAR_DEVICE_MEMORY_LIMIT, "12GiB", [](dtx_cluster_config &c) { c.device_memory_limit = "none"; },
       "80%", "12GiB", "(null)"},
      {DTXI_VAR_HOST_MEMORY_LIMIT, "64MiB", [](dtx_cluster_config &c) { c.host_memory_limit = "1GiB"; },
       "(null)", "64MiB", "1GiB"},
      {DTXI_VAR_SPILL_DIR, "/var/tmp", [](dtx_cluster_config &c) { c.spill_dir = "/tmp/dtx-field"; }, tmp,
       "/var/tmp", "/tmp/dtx-field"},
      {DTXI_VAR_P2P, "peer", [](dtx_cluster_config &c) { c.p2p = DTX_P2P_NCCL; }, i(DTX_P2P_AUTO),
       i(DTX_P2P_PEER), i(DTX_P2P_NCCL)},
      {DTXI_VAR_SIM_BANDWIDTH, "2.5", [](dtx_cluster_config &c) { c.sim_bandwidth = 7; }, "0", "2.5", "7"},
  };
}

void FreeOwned(dtx_cluster_config &c, dtxi_var var) {
  // The path cases strdup their field; free it.
  if (var == DTXI_VAR_LOG_FILE) free(const_cast<char *>(c.log_file));
  if (var == DTXI_VAR_TRACE) free(const_cast<char *>(c.trace_path));
  if (var == DTXI_VAR_REPORT) free(const_cast<char *>(c.report_path));
}

// Creates a cluster (2 threads, no GPUs unless the case is about GPUs) with
// the case's field set or not, checks the resolved value, its source and its
// report line, and destroys it.
void Check(const Case &k, bool field, const std::string &want, dtxi_from from) {
  const char *name = dtxi_var_name(k.var), *fname = dtxi_var_field(k.var);
  SCOPED_TRACE(std::string(name) + (field ? " with its field set" : ""));
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  if (k.var != DTXI_VAR_NUM_THREADS) cfg.num_threads = 2;
  if (k.var != DTXI_VAR_GPUS) cfg.gpus = "none";
  if (field) k.set_field(cfg);
  dtx_cluster *cl = nullptr;
  dtx_status rc = dtx_cluster_create(&cfg, &cl);
  if (field) FreeOwned(cfg, k.var);
  ASSERT_EQ(rc, DTX_OK) << dtx_last_error();
  const dtxi_settings *s = dtxi_cluster_settings(cl);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Value(s->v, k.var), want);
  EXPECT_EQ(s->from[k.var], from);
  std::string line = LineOf(SettingsText(cl), fname);
  const std::string src = from == DTXI_FROM_FIELD ? "field"
                          : from == DTXI_FROM_ENV ? "env (" + std::string(name) + ")"
                                                  : "default";
  EXPECT_TRUE(EndsWith(line, "  " + src)) << "'" << line << "'";
  // What the setting drives follows it.
  if (k.var == DTXI_VAR_NUM_THREADS) {
    EXPECT_EQ(std::to_string(dtx_cluster_num_threads(cl)), want);
  }
  if (k.var == DTXI_VAR_SCHEDULER) {
    EXPECT_EQ(dtx_scheduler_name(dtx_cluster_scheduler(cl)), want);
  }
  if (k.var == DTXI_VAR_GPUS && want != "all") {
    EXPECT_EQ("sim:" + std::to_string(dtx_cluster_num_gpus(cl)), want);
  }
  if (k.var == DTXI_VAR_HOST_MEMORY_LIMIT) {
    dtx_cluster_stats st = DTX_CLUSTER_STATS_INIT;
    ASSERT_EQ(dtx_cluster_get_stats(cl, &st), DTX_OK);
    EXPECT_EQ(st.host_limit, want == "64MiB" ? 64ll << 20 : want == "1GiB" ? 1ll << 30 : 0);
  }
  dtx_cluster_destroy(cl);
  dtxi_env_reload();  // a log field changed the process's log: back to the environment's
}

}  // namespace

// ---- field beats environment beats default -----------------------------------

TEST_F(Settings, EveryVariableHasAField) {
  for (int v = 0; v < DTXI_NVARS; v++) {
    ASSERT_NE(dtxi_var_name(static_cast<dtxi_var>(v)), nullptr) << v;
    ASSERT_NE(dtxi_var_field(static_cast<dtxi_var>(v)), nullptr) << dtxi_var_name(static_cast<dtxi_var>(v));
  }
  EXPECT_STREQ(dtxi_var_name(DTXI_VAR_GPU_WINDOW), "DTX_GPU_WINDOW");
  EXPECT_STREQ(dtxi_var_field(DTXI_VAR_GPU_WINDOW), "gpu_window");
  EXPECT_EQ(Cases("a", "b").size(), static_cast<size_t>(DTXI_NVARS)) << "a case per setting";
}

TEST_F(Settings, FieldBeatsEnvironmentBeatsDefault) {
  const std::string a = Temp("dtx_settings_env_"), b = Temp("dtx_settings_field_");
  for (const Case &k : Cases(a, b)) {
    Check(k, false, k.want_default, DTXI_FROM_DEFAULT);
    {
      ScopedEnv env(dtxi_var_name(k.var), k.env);
      Check(k, false, k.want_env, DTXI_FROM_ENV);
      Check(k, true, k.want_field, DTXI_FROM_FIELD);
    }
    Check(k, true, k.want_field, DTXI_FROM_FIELD);
  }
  for (const char *ext : {".log", ".json", ".html"}) {
    std::remove((a + ext).c_str());
    std::remove((b + ext).c_str());
  }
}

TEST_F(Settings, ReportListsEverySettingOnce) {
  ScopedEnv env("DTX_GPU_WINDOW", "9");
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.num_threads = 2;
  cfg.gpus = "none";
  dtx_cluster *cl = nullptr;
  ASSERT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  std::string text = SettingsText(cl);
  std::istringstream in(text);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 1u + DTXI_NVARS) << text;
  EXPECT_EQ(lines[0].rfind("setting ", 0), 0u) << lines[0];
  for (int v = 0; v < DTXI_NVARS; v++)
    EXPECT_EQ(lines[1 + v].rfind(std::string(dtxi_var_field(static_cast<dtxi_var>(v))) + " ", 0), 0u)
        << lines[1 + v];
  std::string w = LineOf(text, "gpu_window");
  EXPECT_NE(w.find(" 9 "), std::string::npos) << w;
  EXPECT_TRUE(EndsWith(w, "  env (DTX_GPU_WINDOW)")) << w;
  EXPECT_TRUE(EndsWith(LineOf(text, "num_threads"), "  field")) << text;
  EXPECT_NE(LineOf(text, "num_threads").find(" 2 "), std::string::npos) << text;
  EXPECT_TRUE(EndsWith(LineOf(text, "p2p"), "  default")) << text;
  EXPECT_EQ(dtx_cluster_report_settings(nullptr, stdout), DTX_EINVAL);
  EXPECT_EQ(dtx_cluster_report_settings(cl, nullptr), DTX_EINVAL);
  dtx_cluster_destroy(cl);
}

TEST_F(Settings, DefaultThreadCountShowsCores) {
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.gpus = "none";
  dtx_cluster *cl = nullptr;
  ASSERT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  std::string line = LineOf(SettingsText(cl), "num_threads");
  EXPECT_NE(line.find(std::to_string(dtxi_num_cores()) + " (cores)"), std::string::npos) << line;
  dtx_cluster_destroy(cl);
}

// ---- bad values -------------------------------------------------------------------

TEST_F(Settings, BadFieldIsEinvalNamingTheFieldAndItsRange) {
  struct Bad {
    std::function<void(dtx_cluster_config &)> set;
    const char *says;  // what the message must contain
  };
  const Bad bad[] = {
      {[](dtx_cluster_config &c) { c.scheduler = static_cast<dtx_scheduler>(99); },
       "config scheduler 99 is not one of DTX_SCHED_SYNC, DTX_SCHED_THREADS, DTX_SCHED_CLUSTER"},
      {[](dtx_cluster_config &c) { c.num_threads = 1025; }, "config num_threads 1025 is not in 1..1024"},
      {[](dtx_cluster_config &c) { c.num_threads = -1; }, "config num_threads -1 is not in 1..1024"},
      {[](dtx_cluster_config &c) { c.log_level = static_cast<dtx_log_level>(42); },
       "config log_level 42 is not one of"},
      {[](dtx_cluster_config &c) { c.trace_max_events = -2; },
       "config trace_max_events -2 is not in 0..2147483647"},
      {[](dtx_cluster_config &c) { c.progress = static_cast<dtx_progress>(9); },
       "config progress 9 is not one of DTX_PROGRESS_AUTO, DTX_PROGRESS_OFF, DTX_PROGRESS_ON"},
      {[](dtx_cluster_config &c) { c.gpus = "lots"; },
       "config gpus is not valid: DTX_GPUS=lots is not understood"},
      {[](dtx_cluster_config &c) { c.streams_per_gpu = 65; }, "config streams_per_gpu 65 is not in 1..64"},
      {[](dtx_cluster_config &c) { c.streams_per_gpu = -1; }, "config streams_per_gpu -1 is not in 1..64"},
      {[](dtx_cluster_config &c) { c.gpu_window = 100001; }, "config gpu_window 100001 is not in 0..100000"},
      {[](dtx_cluster_config &c) { c.gpu_window = -2; },
       "config gpu_window -2 is not in 0..100000 (-1: DTX_GPU_WINDOW"},
      {[](dtx_cluster_config &c) { c.device_memory_limit = "0%"; },
       "config device_memory_limit \"0%\" is not a size above 0"},
      {[](dtx_cluster_config &c) { c.host_memory_limit = "lots"; },
       "config host_memory_limit \"lots\" is not a size above 0"},
      {[](dtx_cluster_config &c) { c.spill_dir = ""; }, "config spill_dir \"\" is empty"},
      {[](dtx_cluster_config &c) { c.p2p = static_cast<dtx_p2p>(7); },
       "config p2p 7 is not one of DTX_P2P_AUTO, DTX_P2P_NCCL, DTX_P2P_PEER"},
      {[](dtx_cluster_config &c) { c.sim_bandwidth = -3; },
       "config sim_bandwidth -3 is not a number in 0..1e+06"},
      {[](dtx_cluster_config &c) { c.sim_bandwidth = 1e7; },
       "config sim_bandwidth 1e+07 is not a number in 0..1e+06"},
      {[](dtx_cluster_config &c) { c.sim_bandwidth = std::nan(""); },
       "config sim_bandwidth nan is not a number"},
  };
  for (const Bad &b : bad) {
    SCOPED_TRACE(b.says);
    dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
    cfg.num_threads = 2;
    cfg.gpus = "none";
    b.set(cfg);
    dtx_cluster *cl = reinterpret_cast<dtx_cluster *>(0x1);
    EXPECT_EQ(dtx_cluster_create(&cfg, &cl), DTX_EINVAL);
    EXPECT_EQ(cl, reinterpret_cast<dtx_cluster *>(0x1)) << "*out written on failure";
    std::string err = dtx_last_error();
    EXPECT_EQ(err.rfind("dtx_cluster_create: ", 0), 0u) << err;
    EXPECT_NE(err.find(b.says), std::string::npos) << err;
  }
}

TEST_F(Settings, EmptyStringFieldsMeanTheDefault) {
  // "" in a path field: no trace, no report, the log on stderr; GPUs: all.
  ScopedEnv env;
  env.Set("DTX_TRACE", Temp("dtx_settings_unwanted_") + ".json");
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.num_threads = 2;
  cfg.gpus = "none";
  cfg.trace_path = "";
  cfg.report_path = "";
  dtx_cluster *cl = nullptr;
  ASSERT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  const dtxi_settings *s = dtxi_cluster_settings(cl);
  EXPECT_EQ(s->v.trace_path, nullptr);
  EXPECT_EQ(s->from[DTXI_VAR_TRACE], DTXI_FROM_FIELD);
  EXPECT_EQ(s->v.report_path, nullptr);
  dtx_cluster_destroy(cl);
  std::ifstream f(Temp("dtx_settings_unwanted_") + ".json");
  EXPECT_FALSE(f.good()) << "the field's \"\" wins over DTX_TRACE";
}

TEST_F(Settings, BadEnvironmentValueKeepsTheDefaultAndCreates) {
  // As before fields existed: a warning (tests/config_test.cc) and the default.
  ScopedEnv env;
  env.Set("DTX_LOG", "none");  // the warnings are expected
  env.Set("DTX_GPU_WINDOW", "lots");
  env.Set("DTX_HOST_MEMORY_LIMIT", "-1G");
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.num_threads = 2;
  cfg.gpus = "none";
  dtx_cluster *cl = nullptr;
  ASSERT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  const dtxi_settings *s = dtxi_cluster_settings(cl);
  EXPECT_EQ(s->v.gpu_window, 256);
  EXPECT_EQ(s->from[DTXI_VAR_GPU_WINDOW], DTXI_FROM_DEFAULT);
  EXPECT_EQ(s->v.host_memory_limit, nullptr);
  dtx_cluster_destroy(cl);
  // DTX_GPUS is judged when the GPUs open, as before: the cluster fails.
  env.Set("DTX_GPUS", "lots");
  cfg.gpus = nullptr;
  EXPECT_EQ(dtx_cluster_create(&cfg, &cl), DTX_EINVAL);
  EXPECT_NE(std::string(dtx_last_error()).find("DTX_GPUS=lots"), std::string::npos) << dtx_last_error();
}

// ---- versions of the struct ------------------------------------------------------

TEST_F(Settings, FieldsPastSizeReadAsUnset) {
  ScopedEnv env("DTX_GPU_WINDOW", "7");
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.num_threads = 2;
  cfg.gpus = "none";
  // A program built before the fields after report_path: whatever lies past
  // its size (here values no field accepts) is not read.
  cfg.size = offsetof(dtx_cluster_config, report_path) + sizeof cfg.report_path;
  cfg.gpu_window = -99;
  cfg.streams_per_gpu = 1000;
  cfg.sim_bandwidth = -5;
  cfg.spill_dir = "";
  dtx_cluster *cl = nullptr;
  ASSERT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  const dtxi_settings *s = dtxi_cluster_settings(cl);
  EXPECT_EQ(s->v.gpu_window, 7);
  EXPECT_EQ(s->from[DTXI_VAR_GPU_WINDOW], DTXI_FROM_ENV);
  EXPECT_EQ(s->v.streams_per_gpu, 4);
  EXPECT_EQ(s->from[DTXI_VAR_STREAMS_PER_GPU], DTXI_FROM_DEFAULT);
  EXPECT_EQ(s->v.sim_bandwidth, 0.0);
  EXPECT_EQ(s->from[DTXI_VAR_NUM_THREADS], DTXI_FROM_FIELD) << "fields within size are read";
  dtx_cluster_destroy(cl);

  // A size that ends inside a field leaves that field unset too.
  cfg.size = offsetof(dtx_cluster_config, gpu_window) + 2;
  cfg.gpu_window = 3;
  cfg.streams_per_gpu = 2;
  ASSERT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  EXPECT_EQ(dtxi_cluster_settings(cl)->v.gpu_window, 7);
  EXPECT_EQ(dtxi_cluster_settings(cl)->v.streams_per_gpu, 2);
  dtx_cluster_destroy(cl);

  for (size_t size : {size_t{0}, sizeof cfg + 8}) {
    cfg.size = size;
    EXPECT_EQ(dtx_cluster_create(&cfg, &cl), DTX_EINVAL) << size;
    EXPECT_NE(std::string(dtx_last_error()).find("config size"), std::string::npos) << dtx_last_error();
  }
}

// ---- nothing reads the environment after creation ------------------------------

namespace {

// chain[i] = chain[i - 1] * 3 + i on GPU 0 (a dual task): each link can be
// enqueued behind the previous one (DTX_GPU_WINDOW).
int Link(dtx_task_ctx *ctx) {
  int64_t i = Arg<int64_t>(ctx);
  int64_t prev = dtx_task_num_inputs(ctx) > 0 ? InputI64(ctx, 0) : 1;
  return OutputI64(ctx, static_cast<int64_t>(static_cast<uint64_t>(prev) * 3u + static_cast<uint64_t>(i)));
}

ClusterPtr SimCluster(int gpus) {
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.scheduler = DTX_SCHED_CLUSTER;
  cfg.num_threads = 2;
  std::string spec = "sim:" + std::to_string(gpus);
  cfg.gpus = spec.c_str();
  dtx_cluster *cl = nullptr;
  EXPECT_EQ(dtx_cluster_create(&cfg, &cl), DTX_OK) << dtx_last_error();
  return ClusterPtr(cl);
}

// Runs a chain of n links twice (the first run learns the output size) and
// returns GPU 0's run_ahead count.
int64_t RunChain(dtx_cluster *cl, int n) {
  GraphPtr g = MakeGraph();
  dtx_task_id prev = 0;
  uint64_t want = 1;
  for (int64_t i = 0; i < n; i++) {
    dtx_task_desc t = Desc("link", Link, {i});
    t.cuda = Link;
    t.where = DTX_WHERE_GPU(0);
    t.args = &i;
    t.args_size = sizeof i;
    if (i > 0) {
      t.inputs = &prev;
      t.ninputs = 1;
    }
    EXPECT_EQ(dtx_graph_add(g.get(), &t, &prev), DTX_OK) << dtx_last_error();
    want = want * 3u + static_cast<uint64_t>(i);
  }
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = DTX_SCHED_CLUSTER;
  for (int round = 0; round < 2; round++) {
    Results res(1);
    EXPECT_EQ(dtx_compute(cl, g.get(), &prev, 1, res.data(), &o), DTX_OK) << dtx_last_error();
    EXPECT_EQ(ChunkI64(res[0]), static_cast<int64_t>(want));
  }
  dtx_device_stats s = DTX_DEVICE_STATS_INIT;
  EXPECT_EQ(dtx_cluster_get_device_stats(cl, 0, &s), DTX_OK) << dtx_last_error();
  return s.run_ahead;
}

constexpr size_t kBig = 256 * 1024;  // spillable (>= 64 KiB)

int Big(dtx_task_ctx *ctx) {
  int64_t i = Arg<int64_t>(ctx);
  auto *o = static_cast<int64_t *>(dtx_task_output(ctx, kBig));
  if (o == nullptr) return dtx_task_fail(ctx, "out of memory");
  for (size_t k = 0; k < kBig / sizeof(int64_t); k++) o[k] = i + static_cast<int64_t>(k);
  return 0;
}

int Count(dtx_task_ctx *ctx) { return OutputI64(ctx, dtx_task_num_inputs(ctx)); }

// 32 outputs of 256 KiB (8 MiB) all read by one task, on the CPU workers.
void RunBig(dtx_cluster *cl) {
  GraphPtr g = MakeGraph();
  std::vector<dtx_task_id> ids(32);
  for (int64_t i = 0; i < 32; i++) {
    dtx_task_desc t = Desc("big", Big, {i});
    t.args = &i;
    t.args_size = sizeof i;
    EXPECT_EQ(dtx_graph_add(g.get(), &t, &ids[static_cast<size_t>(i)]), DTX_OK) << dtx_last_error();
  }
  dtx_task_desc t = Desc("count", Count);
  t.inputs = ids.data();
  t.ninputs = 32;
  dtx_task_id out;
  EXPECT_EQ(dtx_graph_add(g.get(), &t, &out), DTX_OK) << dtx_last_error();
  dtx_compute_opts o = DTX_COMPUTE_OPTS_INIT;
  o.scheduler = DTX_SCHED_THREADS;
  Results res(1);
  EXPECT_EQ(dtx_compute(cl, g.get(), &out, 1, res.data(), &o), DTX_OK) << dtx_last_error();
  EXPECT_EQ(ChunkI64(res[0]), 32);
}

}  // namespace

TEST_F(Settings, GpuWindowIsTheOneOfCreation) {
  const int n = 200;
  {
    // Created with running ahead off; the environment turns it on afterwards.
    ScopedEnv env("DTX_GPU_WINDOW", "0");
    ClusterPtr cl = SimCluster(1);
    ASSERT_NE(cl, nullptr);
    env.Set("DTX_GPU_WINDOW", "256");
    EXPECT_EQ(RunChain(cl.get(), n), 0);
  }
  {
    // Created with the default window; the environment turns it off afterwards.
    ClusterPtr cl = SimCluster(1);
    ASSERT_NE(cl, nullptr);
    ScopedEnv env("DTX_GPU_WINDOW", "0");
    EXPECT_GT(RunChain(cl.get(), n), n / 2) << "most links went ahead in the second round";
  }
}

TEST_F(Settings, P2pAndLimitsAreTheOnesOfCreation) {
  ClusterPtr cl = SimCluster(2);
  ASSERT_NE(cl, nullptr);
  ScopedEnv env;
  env.Set("DTX_P2P", "nccl");
  env.Set("DTX_HOST_MEMORY_LIMIT", "1MiB");
  env.Set("DTX_DEVICE_MEMORY_LIMIT", "1MiB");
  env.Set("DTX_STREAMS_PER_GPU", "1");
  RunBig(cl.get());
  EXPECT_GT(RunChain(cl.get(), 50), 0);
  const dtxi_settings *s = dtxi_cluster_settings(cl.get());
  EXPECT_EQ(s->v.p2p, DTX_P2P_AUTO);
  EXPECT_EQ(s->v.host_memory_limit, nullptr);
  EXPECT_STREQ(s->v.device_memory_limit, "80%");
  EXPECT_EQ(s->v.streams_per_gpu, 4);
  dtx_cluster_stats st = DTX_CLUSTER_STATS_INIT;
  ASSERT_EQ(dtx_cluster_get_stats(cl.get(), &st), DTX_OK);
  EXPECT_EQ(st.host_limit, 0);
  EXPECT_EQ(st.spills, 0) << "no limit at creation: nothing spills";
  dtx_device_stats d = DTX_DEVICE_STATS_INIT;
  ASSERT_EQ(dtx_cluster_get_device_stats(cl.get(), 0, &d), DTX_OK);
  EXPECT_NE(d.bytes_limit, int64_t{1} << 20);
}

TEST_F(Settings, HostLimitOfCreationStillSpillsAfterTheEnvironmentDropsIt) {
  char dir[] = "/tmp/dtx-settings-spill-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  ClusterPtr cl;
  {
    ScopedEnv env;
    env.Set("DTX_HOST_MEMORY_LIMIT", "1MiB");
    env.Set("DTX_SPILL_DIR", dir);
    cl = SimCluster(1);
    ASSERT_NE(cl, nullptr);
  }  // unset again
  RunBig(cl.get());
  dtx_cluster_stats st = DTX_CLUSTER_STATS_INIT;
  ASSERT_EQ(dtx_cluster_get_stats(cl.get(), &st), DTX_OK);
  EXPECT_EQ(st.host_limit, int64_t{1} << 20);
  EXPECT_GT(st.spills, 0);
  EXPECT_EQ(st.bytes_on_disk, 0);
  cl.reset();
  EXPECT_EQ(rmdir(dir), 0) << "spill files left in " << dir;
}

TEST_F(Settings, ProgressIsTheOneOfCreation) {
  std::string path = Temp("dtx_settings_progress_") + ".txt";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  // Bars go to fd as plain lines, from the start; whether to draw at all is
  // the cluster's setting.
  dtxi_progress_configure(fd, 0, 80, 0, -1);
  auto output = [&] {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  {
    ScopedEnv env("DTX_PROGRESS", "0");
    ClusterPtr cl = SimCluster(1);
    ASSERT_NE(cl, nullptr);
    env.Set("DTX_PROGRESS", "1");
    uint64_t frames = dtxi_progress_frames();
    RunBig(cl.get());
    EXPECT_EQ(dtxi_progress_frames(), frames);
    EXPECT_EQ(output(), "") << "no bar: off at creation";
  }
  {
    ScopedEnv env("DTX_PROGRESS", "1");
    ClusterPtr cl = SimCluster(1);
    ASSERT_NE(cl, nullptr);
    env.Set("DTX_PROGRESS", "0");
    RunBig(cl.get());
    EXPECT_NE(output().find("100%"), std::string::npos) << "a bar: on at creation; got '" << output() << "'";
  }
  dtxi_progress_configure(-1, -1, 0, UINT64_MAX, -1);
  close(fd);
  std::remove(path.c_str());
}
