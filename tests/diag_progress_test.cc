// tests/diag_progress_test.cc - the progress bar (scheduler/progress.c): frames
// per task prefix on a terminal and as plain lines elsewhere, at most about
// ten a second, the last frame at 100%, failures counted, nothing drawn when
// off or for short computations. Output goes to a temporary file through
// dtxi_progress_configure; waits are on conditions with deadlines.
#include "scheduler/progress.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dtx/cluster.h"
#include "dtx/graph.h"

namespace {

using Clock = std::chrono::steady_clock;

// A gate the "gate" task waits at until the test opens it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void Open() {
    std::lock_guard<std::mutex> l(mu);
    open = true;
    cv.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, std::chrono::seconds(30), [this] { return open; });
  }
};

Gate *g_gate;
std::atomic<int> g_fast_done;

int Fast(dtx_task_ctx *ctx) {
  double *out = static_cast<double *>(dtx_task_output(ctx, sizeof(double)));
  if (out == nullptr) return dtx_task_fail(ctx, "out of memory");
  *out = 1;
  g_fast_done++;
  return 0;
}

int GateTask(dtx_task_ctx *ctx) {
  g_gate->Wait();
  return Fast(ctx);
}

int Failing(dtx_task_ctx *ctx) { return dtx_task_fail(ctx, "planned failure"); }

int Sum(dtx_task_ctx *ctx) {
  double *out = static_cast<double *>(dtx_task_output(ctx, sizeof(double)));
  if (out == nullptr) return dtx_task_fail(ctx, "out of memory");
  *out = dtx_task_num_inputs(ctx);
  return 0;
}

class Progress : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "dtx_progress_" + std::to_string(::getpid()) + ".txt";
    fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd_, 0);
    dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
    cfg.num_threads = 2;
    cfg.gpus = "none";
    ASSERT_EQ(dtx_cluster_create(&cfg, &cl_), DTX_OK) << dtx_last_error();
    g_fast_done = 0;
  }
  void TearDown() override {
    dtxi_progress_configure(-1, -1, 0, UINT64_MAX, -1);
    dtx_cluster_destroy(cl_);
    close(fd_);
    std::remove(path_.c_str());
  }
  std::string Output() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // Waits (deadline 20 s) until the output contains `part`.
  bool WaitFor(const std::string &part) const {
    auto end = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < end) {
      if (Output().find(part) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
  // nfast "fast" tasks, one "gate" task (waits for the gate) or "bad" task
  // (fails), and "sum" of them all.
  dtx_task_id Build(dtx_graph *g, int nfast, bool gate, bool bad) {
    std::vector<dtx_task_id> ids;
    for (int i = 0; i < nfast; i++) {
      dtx_task_desc d = {};
      d.name = "fast";
      d.nidx = 1;
      d.idx[0] = i;
      d.cpu = Fast;
      dtx_task_id id;
      EXPECT_EQ(dtx_graph_add(g, &d, &id), DTX_OK);
      ids.push_back(id);
    }
    if (gate || bad) {
      dtx_task_desc d = {};
      d.name = gate ? "gate" : "bad";
      d.cpu = gate ? GateTask : Failing;
      dtx_task_id id;
      EXPECT_EQ(dtx_graph_add(g, &d, &id), DTX_OK);
      ids.push_back(id);
    }
    dtx_task_desc s = {};
    s.name = "sum";
    s.cpu = Sum;
    s.inputs = ids.data();
    s.ninputs = static_cast<int>(ids.size());
    dtx_task_id out;
    EXPECT_EQ(dtx_graph_add(g, &s, &out), DTX_OK);
    return out;
  }

  std::string path_;
  int fd_ = -1;
  dtx_cluster *cl_ = nullptr;
};

}  // namespace

TEST_F(Progress, TerminalFramesPerPrefixAtMostTenASecond) {
  dtxi_progress_configure(fd_, 1, 80, 0, 1);
  dtx_graph *g = nullptr;
  ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
  dtx_task_id out = Build(g, 20, true, false);
  Gate gate;
  g_gate = &gate;
  uint64_t frames0 = dtxi_progress_frames();
  auto t0 = Clock::now();
  dtx_status rc = DTX_EINVAL;
  std::thread run([&] {
    dtx_chunk *c = nullptr;
    rc = dtx_compute(cl_, g, &out, 1, &c, nullptr);
    dtx_chunk_release(c);
  });
  // Mid-run: the fast tasks are all done, the gate and the sum are not.
  bool seen = WaitFor("20/20") && WaitFor("0/1");
  std::string mid = Output();
  // Redrawn on a timer, not busily: four frames take about 300 ms.
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (dtxi_progress_frames() < frames0 + 4 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  uint64_t frames = dtxi_progress_frames() - frames0;
  gate.Open();
  run.join();
  ASSERT_EQ(rc, DTX_OK) << dtx_last_error();
  dtx_graph_destroy(g);
  EXPECT_TRUE(seen) << mid;
  EXPECT_GE(frames, 4u);
  EXPECT_GE(took, 250) << frames << " frames in " << took << " ms";
  EXPECT_LE(frames, 2 + static_cast<uint64_t>(took) / 90) << frames << " frames in " << took << " ms";
  EXPECT_NE(mid.find("| 20/22 tasks |"), std::string::npos) << mid;
  EXPECT_NE(mid.find("  fast  20/20"), std::string::npos) << mid;
  EXPECT_NE(mid.find("  gate  0/1"), std::string::npos) << mid;
  EXPECT_NE(mid.find("  sum   0/1"), std::string::npos) << mid;
  std::string all = Output();
  EXPECT_NE(all.find("\033[4A"), std::string::npos) << "redrawn in place: up over the bar and three prefixes";
  EXPECT_NE(all.find("] 100% | 22/22 tasks |"), std::string::npos) << all;
  size_t last = all.rfind("100%");
  EXPECT_NE(all.find("  sum   1/1", last), std::string::npos) << all;
  // Every line of every frame fits 80 columns (escape sequences aside).
  std::istringstream in(all);
  for (std::string line; std::getline(in, line);) {
    std::string plain;
    for (size_t i = 0; i < line.size(); i++) {
      if (line[i] == '\033') {
        while (i < line.size() && !isalpha(static_cast<unsigned char>(line[i]))) i++;
        continue;
      }
      if (line[i] != '\r') plain += line[i];
    }
    EXPECT_LE(plain.size(), 80u) << plain;
  }
}

TEST_F(Progress, PlainLinesWhenNotATerminal) {
  dtxi_progress_configure(fd_, 0, 80, 0, 1);
  dtx_graph *g = nullptr;
  ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
  dtx_task_id out = Build(g, 5, false, true);
  dtx_chunk *c = nullptr;
  EXPECT_EQ(dtx_compute(cl_, g, &out, 1, &c, nullptr), DTX_ETASK);
  dtx_chunk_release(c);
  dtx_graph_destroy(g);
  std::string all = Output();
  EXPECT_EQ(all.find('\033'), std::string::npos) << "no escape sequences off a terminal";
  // The last line: everything done, the failed task and the sum it spoiled counted.
  EXPECT_NE(all.find("dtx: 100% | 7/7 tasks, 2 failed |"), std::string::npos) << all;
  EXPECT_NE(all.find("fast 5/5, bad 1/1, sum 1/1"), std::string::npos) << all;
}

TEST_F(Progress, OffOrShortDrawsNothing) {
  dtx_graph *g = nullptr;
  ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
  dtx_task_id out = Build(g, 5, false, false);
  uint64_t frames0 = dtxi_progress_frames();
  for (int force : {0, 1}) {
    // force 0: off; force 1 with the default minimum (250 ms): too short to show.
    dtxi_progress_configure(fd_, 1, 80, UINT64_MAX, force);
    dtx_chunk *c = nullptr;
    ASSERT_EQ(dtx_compute(cl_, g, &out, 1, &c, nullptr), DTX_OK) << dtx_last_error();
    dtx_chunk_release(c);
  }
  dtx_graph_destroy(g);
  EXPECT_EQ(Output(), "");
  EXPECT_EQ(dtxi_progress_frames(), frames0);
}

TEST_F(Progress, ConcurrentComputationsEachFinish) {
  dtxi_progress_configure(fd_, 1, 80, 0, 1);
  std::vector<std::thread> th;
  std::atomic<int> ok{0};
  for (int k = 0; k < 4; k++) {
    th.emplace_back([&] {
      dtx_graph *g = nullptr;
      if (dtx_graph_create(&g) != DTX_OK) return;
      dtx_task_id out = Build(g, 50, false, false);
      dtx_chunk *c = nullptr;
      if (dtx_compute(cl_, g, &out, 1, &c, nullptr) == DTX_OK) ok++;
      dtx_chunk_release(c);
      dtx_graph_destroy(g);
    });
  }
  for (auto &t : th) t.join();
  EXPECT_EQ(ok.load(), 4);
  std::string all = Output();
  size_t n = 0;
  for (size_t at = all.find("100% | 51/51 tasks"); at != std::string::npos;
       at = all.find("100% | 51/51 tasks", at + 1))
    n++;
  // Each computation's last frame (others may also show 100% while still live).
  EXPECT_GE(n, 4u) << all;
  // The live area is gone at the end: the last frame clears below itself.
  ASSERT_GE(all.size(), 3u);
  EXPECT_EQ(all.substr(all.size() - 3), "\033[J") << all;
}
