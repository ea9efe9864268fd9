/*
 * tests/test_util.h - small helpers shared by the graph, scheduler and future
 * tests: sanitizer scale factor, RAII wrappers for clusters / graphs / chunks,
 * a gate a task can block on until the test opens it, argument-blob helpers
 * and a 64-bit mixing hash used to build independent references.
 */
#ifndef DTX_TESTS_TEST_UTIL_H
#define DTX_TESTS_TEST_UTIL_H

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <cstdlib>

#include <dirent.h>
#include <unistd.h>

#include "base/config.h"
#include "dtx/dtx.h"

/* ---- sanitizers: shrink big cases ------------------------------------------- */

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define DTX_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define DTX_TEST_SANITIZED 1
#endif
#endif
#ifndef DTX_TEST_SANITIZED
#define DTX_TEST_SANITIZED 0
#endif

namespace dtxt {

/* Big cases are divided by this under sanitizers. */
constexpr int kScale = DTX_TEST_SANITIZED ? 10 : 1;
constexpr bool kSanitized = DTX_TEST_SANITIZED != 0;
/* Every wait in a test has a deadline: a hang becomes a failure. */
constexpr int64_t kDeadlineMs = DTX_TEST_SANITIZED ? 120000 : 30000;

/* ---- RAII ---------------------------------------------------------------- */

struct ClusterDeleter {
  void operator()(dtx_cluster *c) const { dtx_cluster_destroy(c); }
};
struct GraphDeleter {
  void operator()(dtx_graph *g) const { dtx_graph_destroy(g); }
};
struct ChunkDeleter {
  void operator()(dtx_chunk *c) const { dtx_chunk_release(c); }
};
struct FutureDeleter {
  void operator()(dtx_future *f) const { dtx_future_release(f); }
};
using ClusterPtr = std::unique_ptr<dtx_cluster, ClusterDeleter>;
using GraphPtr = std::unique_ptr<dtx_graph, GraphDeleter>;
using ChunkPtr = std::unique_ptr<dtx_chunk, ChunkDeleter>;
using FuturePtr = std::unique_ptr<dtx_future, FutureDeleter>;

/* A cluster with the given scheduler and worker count (0: default). */
inline ClusterPtr MakeCluster(dtx_scheduler s, int threads) {
  dtx_cluster_config cfg = DTX_CLUSTER_CONFIG_INIT;
  cfg.scheduler = s;
  cfg.num_threads = threads;
  cfg.log_level = DTX_LOG_NONE;
  dtx_cluster *cl = nullptr;
  dtx_status rc = dtx_cluster_create(&cfg, &cl);
  EXPECT_EQ(rc, DTX_OK) << dtx_last_error();
  return ClusterPtr(rc == DTX_OK ? cl : nullptr);
}

inline GraphPtr MakeGraph() {
  dtx_graph *g = nullptr;
  dtx_status rc = dtx_graph_create(&g);
  EXPECT_EQ(rc, DTX_OK) << dtx_last_error();
  return GraphPtr(rc == DTX_OK ? g : nullptr);
}

/* Releases every chunk of a results vector. */
struct Results {
  std::vector<dtx_chunk *> c;
  explicit Results(size_t n) : c(n, nullptr) {}
  ~Results() { clear(); }
  void clear() {
    for (auto &x : c) {
      if (x != nullptr) dtx_chunk_release(x);
      x = nullptr;
    }
  }
  dtx_chunk **data() { return c.data(); }
  dtx_chunk *operator[](size_t i) const { return c[i]; }
  size_t size() const { return c.size(); }
};

/* ---- task descriptions and args ------------------------------------------- */

inline dtx_task_desc Desc(const char *name, dtx_task_fn fn, std::initializer_list<int64_t> idx = {}) {
  dtx_task_desc d;
  std::memset(&d, 0, sizeof d);
  d.name = name;
  d.cpu = fn;
  d.nidx = static_cast<int>(idx.size());
  int i = 0;
  for (int64_t v : idx) d.idx[i++] = v;
  return d;
}

/* Reads the task's args blob as one T (the blob must hold exactly a T). */
template <typename T>
inline T Arg(const dtx_task_ctx *ctx) {
  size_t n = 0;
  const void *p = dtx_task_args(ctx, &n);
  T v;
  std::memset(&v, 0, sizeof v);
  if (p != nullptr && n == sizeof(T)) std::memcpy(&v, p, sizeof v);
  return v;
}

/* Reads input i as an int64 (0 when it has fewer bytes). */
inline int64_t InputI64(const dtx_task_ctx *ctx, int i) {
  size_t n = 0;
  const void *p = dtx_task_input(ctx, i, &n);
  int64_t v = 0;
  if (p != nullptr && n >= sizeof v) std::memcpy(&v, p, sizeof v);
  return v;
}

/* Writes one int64 output; returns 0 or a failure. */
inline int OutputI64(dtx_task_ctx *ctx, int64_t v) {
  void *p = dtx_task_output(ctx, sizeof v);
  if (p == nullptr) return dtx_task_fail(ctx, "out of memory");
  std::memcpy(p, &v, sizeof v);
  return 0;
}

inline int64_t ChunkI64(const dtx_chunk *c) {
  int64_t v = 0;
  if (c != nullptr && dtx_chunk_data(c) != nullptr && dtx_chunk_size(c) >= sizeof v)
    std::memcpy(&v, dtx_chunk_data(c), sizeof v);
  return v;
}

inline std::string TaskKey(const dtx_task_ctx *ctx) {
  char buf[DTX_MAX_KEY];
  buf[0] = '\0';
  dtx_task_key(ctx, buf, sizeof buf);
  return buf;
}

/* ---- hashing (the reference for random DAGs) ------------------------------ */

inline uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
/* Order-sensitive combination. */
inline uint64_t Combine(uint64_t h, uint64_t v) { return Mix(h ^ Mix(v + 0x632be59bd9b4e019ull)); }
inline uint64_t HashStr(const std::string &s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : s) h = (h ^ ch) * 0x100000001b3ull;
  return Mix(h);
}

/* ---- a gate a task blocks on ---------------------------------------------- */

struct Gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = false;
  int started = 0; /* tasks that reached the gate */
  int passed = 0;  /* tasks that went through */

  /* Called from a task: blocks until opened (or the deadline). Returns false
   * on the deadline. */
  bool Pass() {
    std::unique_lock<std::mutex> lk(m);
    started++;
    cv.notify_all();
    bool ok = cv.wait_for(lk, std::chrono::milliseconds(kDeadlineMs), [&] { return open; });
    if (ok) passed++;
    cv.notify_all();
    return ok;
  }
  void Open() {
    std::lock_guard<std::mutex> lk(m);
    open = true;
    cv.notify_all();
  }
  /* Waits until at least n tasks reached the gate. */
  bool WaitStarted(int n) {
    std::unique_lock<std::mutex> lk(m);
    return cv.wait_for(lk, std::chrono::milliseconds(kDeadlineMs), [&] { return started >= n; });
  }
  bool WaitPassed(int n) {
    std::unique_lock<std::mutex> lk(m);
    return cv.wait_for(lk, std::chrono::milliseconds(kDeadlineMs), [&] { return passed >= n; });
  }
};

/* Waits (with the deadline) until pred() holds, polling cheaply. */
template <typename Pred>
inline bool WaitUntil(Pred pred, int64_t ms = kDeadlineMs) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

/* Sets DTX_* variables for a scope (the table is read again) and unsets them,
 * reading it again, when the scope ends. */
struct ScopedEnv {
  std::vector<std::string> names;
  ScopedEnv() = default;
  ScopedEnv(const char *name, const std::string &value) { Set(name, value); }
  ScopedEnv(const ScopedEnv &) = delete;
  ScopedEnv &operator=(const ScopedEnv &) = delete;
  void Set(const char *name, const std::string &value) {
    setenv(name, value.c_str(), 1);
    names.push_back(name);
    dtxi_env_reload();
  }
  ~ScopedEnv() {
    for (auto &n : names) unsetenv(n.c_str());
    dtxi_env_reload();
  }
};

/* A fresh directory under /tmp (spill files go there), emptied and removed
 * at the end of the scope. */
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/dtx-spill-test-XXXXXX";
    char *p = mkdtemp(tmpl);
    if (p != nullptr) path = p;
  }
  int Files() const {
    int n = 0;
    DIR *d = opendir(path.c_str());
    if (d == nullptr) return -1;
    while (struct dirent *e = readdir(d))
      if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
  }
  ~TempDir() {
    if (path.empty()) return;
    DIR *d = opendir(path.c_str());
    if (d != nullptr) {
      while (struct dirent *e = readdir(d))
        if (e->d_name[0] != '.') unlink((path + "/" + e->d_name).c_str());
      closedir(d);
    }
    rmdir(path.c_str());
  }
};

}  // namespace dtxt

#endif /* DTX_TESTS_TEST_UTIL_H */
