// The DTX_* environment table (src/host/config.c) and logging (src/host/log.c).
//
// Warnings are captured by pointing DTX_LOG_FILE at a temporary file and
// reading it back after dtxi_env_reload().
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "host/config.h"
#include "host/log.h"

namespace {

const char *const kVars[] = {"DTX_SCHEDULER", "DTX_NUM_THREADS", "DTX_LOG", "DTX_LOG_FILE", "DTX_TRACE"};

void UnsetAll() {
  for (const char *v : kVars) unsetenv(v);
}

std::string TempPath(const char *stem) {
  std::string path = ::testing::TempDir() + stem + "XXXXXX";
  std::vector<char> buf(path.begin(), path.end());
  buf.push_back('\0');
  int fd = mkstemp(buf.data());
  EXPECT_GE(fd, 0) << "mkstemp " << path;
  if (fd >= 0) close(fd);
  return std::string(buf.data());
}

std::vector<std::string> ReadLines(const std::string &path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> WarnLines(const std::string &path) {
  std::vector<std::string> warns;
  for (const std::string &l : ReadLines(path))
    if (l.rfind("dtx WARN ", 0) == 0) warns.push_back(l);
  return warns;
}

// Checks that line is "dtx <level> YYYY-MM-DDTHH:MM:SS.mmm: <message>" and
// returns the message in *message. (No std::regex: GCC 12 warns inside it.)
bool ParseLogLine(const std::string &line, const std::string &level, std::string *message) {
  const std::string head = "dtx " + level + " ";
  const char *const stamp = "dddd-dd-ddTdd:dd:dd.ddd: ";
  const size_t n = std::strlen(stamp);
  if (line.compare(0, head.size(), head) != 0 || line.size() < head.size() + n) return false;
  for (size_t i = 0; i < n; i++) {
    char c = line[head.size() + i];
    if (stamp[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(c)) : c != stamp[i]) return false;
  }
  *message = line.substr(head.size() + n);
  return true;
}

void Truncate(const std::string &path) { std::ofstream(path, std::ios::trunc); }

bool Contains(const std::string &s, const std::string &part) { return s.find(part) != std::string::npos; }

// Every test starts with no DTX_* variable set except DTX_LOG_FILE, which
// points at a fresh empty file; every test ends with logging back on stderr.
class Config : public ::testing::Test {
 protected:
  void SetUp() override {
    UnsetAll();
    log_path_ = TempPath("dtx_config_log_");
    setenv("DTX_LOG_FILE", log_path_.c_str(), 1);
  }
  void TearDown() override {
    UnsetAll();
    dtxi_env_reload();
    std::remove(log_path_.c_str());
  }
  // Truncates the log, sets name=value, re-reads the environment.
  const dtxi_env *ReloadWith(const char *name, const char *value) {
    Truncate(log_path_);
    setenv(name, value, 1);
    dtxi_env_reload();
    return dtxi_env_get();
  }
  std::vector<std::string> Warnings() const { return WarnLines(log_path_); }

  std::string log_path_;
};

}  // namespace

// ---- defaults and valid values ---------------------------------------------

TEST_F(Config, DefaultsWhenUnset) {
  UnsetAll();
  dtxi_env_reload();
  const dtxi_env *e = dtxi_env_get();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->scheduler, DTX_SCHED_THREADS);
  EXPECT_EQ(e->num_threads, 0);
  EXPECT_EQ(e->log_level, DTX_LOG_WARN);
  EXPECT_EQ(e->log_file, nullptr);
  EXPECT_EQ(e->trace_path, nullptr);
  EXPECT_EQ(dtxi_log_threshold, DTX_LOG_WARN);
}

TEST_F(Config, ValidValuesParsed) {
  setenv("DTX_SCHEDULER", "sync", 1);
  setenv("DTX_NUM_THREADS", "4", 1);
  setenv("DTX_LOG", "info", 1);
  setenv("DTX_TRACE", "/tmp/run.json", 1);
  dtxi_env_reload();
  const dtxi_env *e = dtxi_env_get();
  EXPECT_EQ(e->scheduler, DTX_SCHED_SYNC);
  EXPECT_EQ(e->num_threads, 4);
  EXPECT_EQ(e->log_level, DTX_LOG_INFO);
  ASSERT_NE(e->log_file, nullptr);
  EXPECT_EQ(std::string(e->log_file), log_path_);
  ASSERT_NE(e->trace_path, nullptr);
  EXPECT_STREQ(e->trace_path, "/tmp/run.json");
  EXPECT_EQ(dtxi_log_threshold, DTX_LOG_INFO);
  EXPECT_TRUE(Warnings().empty());
}

TEST_F(Config, EveryLogLevelWordParsed) {
  const std::pair<const char *, dtx_log_level> cases[] = {{"none", DTX_LOG_NONE},   {"error", DTX_LOG_ERROR},
                                                          {"warn", DTX_LOG_WARN},   {"info", DTX_LOG_INFO},
                                                          {"debug", DTX_LOG_DEBUG}, {"DEBUG", DTX_LOG_DEBUG}};
  for (const auto &c : cases) {
    EXPECT_EQ(ReloadWith("DTX_LOG", c.first)->log_level, c.second) << c.first;
    EXPECT_TRUE(Warnings().empty()) << c.first;
  }
}

TEST_F(Config, SchedulerWordsIgnoreCase) {
  EXPECT_EQ(ReloadWith("DTX_SCHEDULER", "THREADS")->scheduler, DTX_SCHED_THREADS);
  EXPECT_EQ(ReloadWith("DTX_SCHEDULER", "Sync")->scheduler, DTX_SCHED_SYNC);
  EXPECT_TRUE(Warnings().empty());
}

TEST_F(Config, ThreadsRangeEdgesAccepted) {
  EXPECT_EQ(ReloadWith("DTX_NUM_THREADS", "1")->num_threads, 1);
  EXPECT_TRUE(Warnings().empty());
  EXPECT_EQ(ReloadWith("DTX_NUM_THREADS", "1024")->num_threads, 1024);
  EXPECT_TRUE(Warnings().empty());
}

// ---- bad values: the default and exactly one warning each -----------------

TEST_F(Config, BadThreadsWarnsOnce) {
  EXPECT_EQ(ReloadWith("DTX_NUM_THREADS", "abc")->num_threads, 0);
  std::vector<std::string> w = Warnings();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_TRUE(
      Contains(w[0], "DTX_NUM_THREADS=\"abc\" is not an integer in 1..1024; using the default (cores)"))
      << w[0];
}

TEST_F(Config, ThreadsOutsideRangeRejected) {
  for (const char *v : {"0", "1025", "-3", "99999999999999999999", "-99999999999999999999"}) {
    EXPECT_EQ(ReloadWith("DTX_NUM_THREADS", v)->num_threads, 0) << v;
    std::vector<std::string> w = Warnings();
    ASSERT_EQ(w.size(), 1u) << v;
    EXPECT_TRUE(Contains(w[0], std::string("DTX_NUM_THREADS=\"") + v + "\"")) << w[0];
  }
}

TEST_F(Config, ThreadsNotANumberRejected) {
  for (const char *v : {"4x", "", " 4", "4 ", "0x10", "4.0", "+", "-", "four"}) {
    EXPECT_EQ(ReloadWith("DTX_NUM_THREADS", v)->num_threads, 0) << "'" << v << "'";
    std::vector<std::string> w = Warnings();
    ASSERT_EQ(w.size(), 1u) << "'" << v << "'";
    EXPECT_TRUE(Contains(w[0], std::string("DTX_NUM_THREADS=\"") + v + "\"")) << w[0];
    EXPECT_TRUE(Contains(w[0], "using the default (cores)")) << w[0];
  }
}

TEST_F(Config, BadSchedulerWarnsOnce) {
  // processes is planned but not built yet.
  for (const char *v : {"processes", "fast", ""}) {
    EXPECT_EQ(ReloadWith("DTX_SCHEDULER", v)->scheduler, DTX_SCHED_THREADS) << v;
    std::vector<std::string> w = Warnings();
    ASSERT_EQ(w.size(), 1u) << v;
    EXPECT_TRUE(Contains(w[0], std::string("DTX_SCHEDULER=\"") + v +
                                   "\" is not one of sync|threads|cluster; using the default (threads)"))
        << w[0];
  }
}

TEST_F(Config, BadLogLevelWarnsIntoLogFile) {
  EXPECT_EQ(ReloadWith("DTX_LOG", "loud")->log_level, DTX_LOG_WARN);
  EXPECT_EQ(dtxi_log_threshold, DTX_LOG_WARN);
  std::vector<std::string> w = Warnings();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_TRUE(
      Contains(w[0], "DTX_LOG=\"loud\" is not one of none|error|warn|info|debug; using the default (warn)"))
      << w[0];
}

TEST_F(Config, EmptyTracePathWarnsOnce) {
  EXPECT_EQ(ReloadWith("DTX_TRACE", "")->trace_path, nullptr);
  std::vector<std::string> w = Warnings();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_TRUE(Contains(w[0], "DTX_TRACE=\"\" is empty; using the default (none)")) << w[0];
}

TEST_F(Config, EachBadValueWarnsOnce) {
  setenv("DTX_SCHEDULER", "bogus", 1);
  setenv("DTX_NUM_THREADS", "4x", 1);
  setenv("DTX_LOG", "chatty", 1);
  setenv("DTX_TRACE", "", 1);
  dtxi_env_reload();
  std::vector<std::string> w = Warnings();
  ASSERT_EQ(w.size(), 4u);
  for (const char *name : {"DTX_SCHEDULER=", "DTX_NUM_THREADS=", "DTX_LOG=", "DTX_TRACE="}) {
    int n = 0;
    for (const std::string &l : w) n += Contains(l, name) ? 1 : 0;
    EXPECT_EQ(n, 1) << name;
  }
  // Reading again warns again, once each.
  Truncate(log_path_);
  dtxi_env_reload();
  EXPECT_EQ(Warnings().size(), 4u);
}

TEST_F(Config, LogNoneSilences) {
  setenv("DTX_LOG", "none", 1);
  setenv("DTX_NUM_THREADS", "abc", 1);
  setenv("DTX_SCHEDULER", "bogus", 1);
  dtxi_env_reload();
  const dtxi_env *e = dtxi_env_get();
  EXPECT_EQ(e->log_level, DTX_LOG_NONE);
  EXPECT_EQ(e->num_threads, 0);
  EXPECT_EQ(e->scheduler, DTX_SCHED_THREADS);
  EXPECT_TRUE(ReadLines(log_path_).empty());
}

TEST_F(Config, LogErrorHidesWarnings) {
  setenv("DTX_LOG", "error", 1);
  setenv("DTX_NUM_THREADS", "abc", 1);
  dtxi_env_reload();
  EXPECT_TRUE(ReadLines(log_path_).empty());
}

TEST_F(Config, ValueWithNewlineStaysOneLine) {
  ReloadWith("DTX_NUM_THREADS", "4\nx\ty");
  std::vector<std::string> lines = ReadLines(log_path_);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(Contains(lines[0], "DTX_NUM_THREADS=\"4?x?y\"")) << lines[0];
}

TEST_F(Config, LongValueCutInWarning) {
  std::string value(500, '7');
  ReloadWith("DTX_NUM_THREADS", value.c_str());
  std::vector<std::string> w = Warnings();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_TRUE(Contains(w[0], "777...\" is not an integer")) << w[0];
  EXPECT_LT(w[0].size(), 250u);
}

TEST_F(Config, LogFileIsAppendedTo) {
  {
    std::ofstream out(log_path_, std::ios::trunc);
    out << "an earlier line\n";
  }
  setenv("DTX_NUM_THREADS", "abc", 1);
  dtxi_env_reload();
  std::vector<std::string> lines = ReadLines(log_path_);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "an earlier line");
  EXPECT_TRUE(Contains(lines[1], "DTX_NUM_THREADS=\"abc\"")) << lines[1];
}

// ---- reading once -------------------------------------------------------------

TEST_F(Config, ReadOnceUntilReload) {
  const dtxi_env *e = ReloadWith("DTX_NUM_THREADS", "4");
  setenv("DTX_NUM_THREADS", "8", 1);
  EXPECT_EQ(dtxi_env_get(), e);
  EXPECT_EQ(dtxi_env_get()->num_threads, 4);
  dtxi_env_reload();
  EXPECT_EQ(dtxi_env_get()->num_threads, 8);
}

TEST_F(Config, StringsCopiedNotBorrowed) {
  setenv("DTX_TRACE", "/tmp/first.json", 1);
  dtxi_env_reload();
  setenv("DTX_TRACE", "/tmp/second-and-longer.json", 1);
  unsetenv("DTX_TRACE");
  EXPECT_STREQ(dtxi_env_get()->trace_path, "/tmp/first.json");
}

TEST_F(Config, GetFromManyThreadsSeesOneTable) {
  dtxi_env_reload();
  std::vector<const dtxi_env *> seen(8, nullptr);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); i++) threads.emplace_back([i, &seen] { seen[i] = dtxi_env_get(); });
  for (auto &t : threads) t.join();
  for (const dtxi_env *p : seen) EXPECT_EQ(p, dtxi_env_get());
}

// ---- words ---------------------------------------------------------------------

TEST_F(Config, SchedulerNames) {
  EXPECT_STREQ(dtx_scheduler_name(DTX_SCHED_SYNC), "sync");
  EXPECT_STREQ(dtx_scheduler_name(DTX_SCHED_THREADS), "threads");
  EXPECT_EQ(dtx_scheduler_name(DTX_SCHED_DEFAULT), nullptr);
  EXPECT_EQ(dtx_scheduler_name(static_cast<dtx_scheduler>(99)), nullptr);

  dtx_scheduler s = DTX_SCHED_DEFAULT;
  EXPECT_EQ(dtxi_parse_scheduler("sync", &s), 0);
  EXPECT_EQ(s, DTX_SCHED_SYNC);
  EXPECT_EQ(dtxi_parse_scheduler("threads", &s), 0);
  EXPECT_EQ(s, DTX_SCHED_THREADS);
  for (const char *bad : {"processes", "", "sync ", "default"}) {
    s = DTX_SCHED_SYNC;
    EXPECT_EQ(dtxi_parse_scheduler(bad, &s), -1) << bad;
    EXPECT_EQ(s, DTX_SCHED_SYNC) << "untouched on failure";
  }
  EXPECT_EQ(dtxi_parse_scheduler(nullptr, &s), -1);
}

TEST_F(Config, LogLevelNamesRoundTrip) {
  for (dtx_log_level l : {DTX_LOG_NONE, DTX_LOG_ERROR, DTX_LOG_WARN, DTX_LOG_INFO, DTX_LOG_DEBUG}) {
    const char *name = dtxi_log_level_name(l);
    ASSERT_NE(name, nullptr);
    dtx_log_level back = DTX_LOG_DEFAULT;
    EXPECT_EQ(dtxi_parse_log_level(name, &back), 0) << name;
    EXPECT_EQ(back, l) << name;
  }
  EXPECT_EQ(dtxi_log_level_name(DTX_LOG_DEFAULT), nullptr);
  dtx_log_level l = DTX_LOG_INFO;
  EXPECT_EQ(dtxi_parse_log_level("verbose", &l), -1);
  EXPECT_EQ(l, DTX_LOG_INFO);
}

// ---- the printed table ----------------------------------------------------------

TEST_F(Config, PrintListsEveryVariableAligned) {
  setenv("DTX_SCHEDULER", "sync", 1);
  setenv("DTX_NUM_THREADS", "3", 1);
  dtxi_env_reload();
  char *text = nullptr;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  ASSERT_NE(out, nullptr);
  dtxi_env_print(out);
  fclose(out);
  std::string all(text, size);
  free(text);

  std::vector<std::string> lines;
  std::istringstream in(all);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 1u + std::size(kVars)) << all;
  const std::string &header = lines[0];
  size_t value_col = header.find("value"), default_col = header.find("default");
  ASSERT_NE(value_col, std::string::npos) << header;
  ASSERT_NE(default_col, std::string::npos) << header;
  for (size_t i = 0; i < std::size(kVars); i++) {
    const std::string &l = lines[i + 1];
    EXPECT_EQ(l.rfind(kVars[i], 0), 0u) << l;
    EXPECT_EQ(l[value_col - 1], ' ') << l;
    EXPECT_NE(l[value_col], ' ') << l;
  }
  EXPECT_EQ(lines[1].substr(value_col, 4), "sync") << lines[1];
  EXPECT_EQ(lines[1].substr(default_col, 7), "threads") << lines[1];
  EXPECT_EQ(lines[2].substr(value_col, 2), "3 ") << lines[2];
  EXPECT_EQ(lines[2].substr(default_col, 5), "cores") << lines[2];
  EXPECT_TRUE(Contains(lines[4], log_path_)) << lines[4];
}

TEST_F(Config, PrintShowsCoresWhenThreadsUnset) {
  dtxi_env_reload();
  char *text = nullptr;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  ASSERT_NE(out, nullptr);
  dtxi_env_print(out);
  fclose(out);
  std::string all(text, size);
  free(text);
  EXPECT_TRUE(Contains(all, std::to_string(dtxi_num_cores()) + " (cores)")) << all;
}

// ---- host facts -------------------------------------------------------------------

TEST(Host, NumCoresWithinOnlineCount) {
  int n = dtxi_num_cores();
  EXPECT_GE(n, 1);
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  if (online >= 1) {
    EXPECT_LE(n, online);
  }
}

TEST(Host, HostMemoryKnown) {
  long long bytes = dtxi_host_memory();
  EXPECT_GT(bytes, 64LL << 20);  // any machine that runs the tests has more than 64 MiB
}

// ---- logging ----------------------------------------------------------------------

namespace {

class Log : public ::testing::Test {
 protected:
  void SetUp() override { path_ = TempPath("dtx_log_"); }
  void TearDown() override {
    dtxi_log_configure(DTX_LOG_WARN, nullptr);
    std::remove(path_.c_str());
  }
  std::string path_;
};

}  // namespace

TEST_F(Log, LineFormat) {
  dtxi_log_configure(DTX_LOG_WARN, path_.c_str());
  dtxi_log(DTX_LOG_WARN, "hello %d", 7);
  std::vector<std::string> lines = ReadLines(path_);
  ASSERT_EQ(lines.size(), 1u);
  std::string message;
  ASSERT_TRUE(ParseLogLine(lines[0], "WARN", &message)) << lines[0];
  EXPECT_EQ(message, "hello 7");
  EXPECT_FALSE(ParseLogLine("dtx WARN 2024-05-01 12:34:56: x", "WARN", &message));
}

TEST_F(Log, LevelsBelowThresholdDropped) {
  dtxi_log_configure(DTX_LOG_INFO, path_.c_str());
  EXPECT_EQ(dtxi_log_threshold, DTX_LOG_INFO);
  DTXI_LOG(DTX_LOG_DEBUG, "not shown");
  dtxi_log(DTX_LOG_DEBUG, "not shown either");
  DTXI_LOG(DTX_LOG_INFO, "shown %s", "info");
  DTXI_LOG(DTX_LOG_ERROR, "shown %s", "error");
  std::vector<std::string> lines = ReadLines(path_);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("dtx INFO ", 0), 0u) << lines[0];
  EXPECT_TRUE(Contains(lines[0], ": shown info")) << lines[0];
  EXPECT_EQ(lines[1].rfind("dtx ERROR ", 0), 0u) << lines[1];
}

TEST_F(Log, NoneDropsEverything) {
  dtxi_log_configure(DTX_LOG_NONE, path_.c_str());
  DTXI_LOG(DTX_LOG_ERROR, "quiet");
  dtxi_log(DTX_LOG_NONE, "quiet");
  EXPECT_TRUE(ReadLines(path_).empty());
}

TEST_F(Log, DefaultLevelMeansWarn) {
  dtxi_log_configure(DTX_LOG_DEFAULT, path_.c_str());
  EXPECT_EQ(dtxi_log_threshold, DTX_LOG_WARN);
}

TEST_F(Log, TrailingNewlineNotDoubled) {
  dtxi_log_configure(DTX_LOG_WARN, path_.c_str());
  dtxi_log(DTX_LOG_WARN, "ends in newline\n");
  std::vector<std::string> lines = ReadLines(path_);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(Contains(lines[0], ": ends in newline")) << lines[0];
}

TEST_F(Log, LongMessageWrittenWhole) {
  dtxi_log_configure(DTX_LOG_WARN, path_.c_str());
  std::string body(5000, 'q');
  dtxi_log(DTX_LOG_WARN, "[%s]", body.c_str());
  std::vector<std::string> lines = ReadLines(path_);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(Contains(lines[0], "[" + body + "]"));
}

TEST_F(Log, ReconfigureSwitchesFile) {
  std::string other = TempPath("dtx_log_other_");
  dtxi_log_configure(DTX_LOG_WARN, path_.c_str());
  dtxi_log(DTX_LOG_WARN, "first");
  dtxi_log_configure(DTX_LOG_WARN, other.c_str());
  dtxi_log(DTX_LOG_WARN, "second");
  dtxi_log_configure(DTX_LOG_WARN, nullptr);
  std::vector<std::string> a = ReadLines(path_), b = ReadLines(other);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_TRUE(Contains(a[0], ": first"));
  EXPECT_TRUE(Contains(b[0], ": second"));
  std::remove(other.c_str());
}

TEST_F(Log, UnopenableFileFallsBackToStderr) {
  dtxi_log_configure(DTX_LOG_ERROR, "/nonexistent-dir/dtx.log");  // error level: the fallback is silent
  EXPECT_EQ(dtxi_log_threshold, DTX_LOG_ERROR);
}

TEST_F(Log, ConcurrentLinesStayWhole) {
  constexpr int kThreads = 8, kLines = 500;
  dtxi_log_configure(DTX_LOG_WARN, path_.c_str());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++)
    threads.emplace_back([t] {
      for (int i = 0; i < kLines; i++)
        dtxi_log(DTX_LOG_WARN, "thread %d line %d %s", t, i, "payload-payload");
    });
  for (auto &th : threads) th.join();

  std::vector<std::string> lines = ReadLines(path_);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
  std::vector<int> next(kThreads, 0);
  for (const std::string &l : lines) {
    std::string message;
    ASSERT_TRUE(ParseLogLine(l, "WARN", &message)) << l;
    int t = -1, i = -1, used = 0;
    ASSERT_EQ(std::sscanf(message.c_str(), "thread %d line %d payload-payload%n", &t, &i, &used), 2) << l;
    ASSERT_EQ(static_cast<size_t>(used), message.size()) << l;
    ASSERT_GE(t, 0);
    ASSERT_LT(t, kThreads);
    EXPECT_EQ(i, next[t]) << "thread " << t << " lines out of order";
    next[t] = i + 1;
  }
  for (int t = 0; t < kThreads; t++) EXPECT_EQ(next[t], kLines);
}
