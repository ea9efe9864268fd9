// Status codes, dtx_last_error and the error helpers (src/base/error.c).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "dtx/status.h"
#include "dtx/version.h"

namespace {

struct Row {
  dtx_status code;
  int value;
  const char *name;
  const char *text;
};

// The table as the header states it, built independently of error.c.
const Row kRows[] = {
#define ROW_(name, value, text) {DTX_##name, value, "DTX_" #name, text},
    DTX_STATUS_MAP(ROW_)
#undef ROW_
};

// Two steps under DTX_CHECK_GOTO; *reached counts the steps that ran.
dtx_status TwoSteps(dtx_status first, int *reached) {
  dtx_status rc;
  *reached = 0;
  DTX_CHECK_GOTO(first, rc, fail);
  *reached = 1;
  DTX_CHECK_GOTO(DTX_OK, rc, fail);
  *reached = 2;
  return DTX_OK;
fail:
  return rc;
}

// The last error as seen from a brand-new thread.
std::string LastErrorOnNewThread() {
  std::string seen;
  std::thread t([&] { seen = dtx_last_error(); });
  t.join();
  return seen;
}

}  // namespace

TEST(Status, NameAndTextForEveryRow) {
  for (const Row &r : kRows) {
    EXPECT_EQ(static_cast<int>(r.code), r.value) << r.name;
    EXPECT_STREQ(dtx_status_name(r.code), r.name);
    EXPECT_STREQ(dtx_strerror(r.code), r.text) << r.name;
  }
}

TEST(Status, KnownValuesSpelledOut) {
  EXPECT_STREQ(dtx_status_name(DTX_OK), "DTX_OK");
  EXPECT_STREQ(dtx_status_name(DTX_EINVAL), "DTX_EINVAL");
  EXPECT_STREQ(dtx_strerror(DTX_EINVAL), "invalid argument");
  EXPECT_STREQ(dtx_strerror(DTX_ENOMEM), "out of memory");
}

TEST(Status, UnknownValueHasAName) {
  EXPECT_STREQ(dtx_status_name(static_cast<dtx_status>(42)), "DTX_UNKNOWN");
  EXPECT_STREQ(dtx_status_name(static_cast<dtx_status>(-1000)), "DTX_UNKNOWN");
  ASSERT_NE(dtx_strerror(static_cast<dtx_status>(42)), nullptr);
  EXPECT_GT(std::strlen(dtx_strerror(static_cast<dtx_status>(42))), 0u);
}

TEST(Status, LastErrorEmptyOnFreshThread) {
  dtxi_fail(DTX_EINVAL, "set on the main thread");
  EXPECT_EQ(LastErrorOnNewThread(), "");
}

TEST(Status, FailFormatsAndReturnsStatus) {
  EXPECT_EQ(dtxi_fail(DTX_EINVAL, "dtx_graph_add: %s is %d", "n", -3), DTX_EINVAL);
  EXPECT_STREQ(dtx_last_error(), "dtx_graph_add: n is -3");
  EXPECT_EQ(dtxi_fail(DTX_ETASK, "task %s[%d,%d] failed", "add", 2, 1), DTX_ETASK);
  EXPECT_STREQ(dtx_last_error(), "task add[2,1] failed");
}

TEST(Status, FailMsgCopiesWithoutFormatting) {
  EXPECT_EQ(dtxi_fail_msg(DTX_EIO, "100% sure: %s %d"), DTX_EIO);
  EXPECT_STREQ(dtx_last_error(), "100% sure: %s %d");
  EXPECT_EQ(dtxi_fail_msg(DTX_EIO, nullptr), DTX_EIO);
  EXPECT_STREQ(dtx_last_error(), "");
}

TEST(Status, ClearErrorEmptiesMessage) {
  dtxi_fail(DTX_EBUSY, "busy");
  dtxi_clear_error();
  EXPECT_STREQ(dtx_last_error(), "");
}

TEST(Status, FailMayQuoteTheLastError) {
  dtxi_fail(DTX_EDEVICE, "cudaMalloc: out of memory");
  dtxi_fail(DTX_ETASK, "task mul[0]: %s", dtx_last_error());
  EXPECT_STREQ(dtx_last_error(), "task mul[0]: cudaMalloc: out of memory");
  dtxi_fail_msg(DTX_ETASK, dtx_last_error());
  EXPECT_STREQ(dtx_last_error(), "task mul[0]: cudaMalloc: out of memory");
}

TEST(Status, LastErrorIsPerThread) {
  dtxi_fail(DTX_EINVAL, "main thread message");
  std::string in_a, in_b_before, in_b_after;
  std::thread a([&] {
    dtxi_fail(DTX_ETASK, "thread a message %d", 1);
    in_a = dtx_last_error();
  });
  a.join();
  std::thread b([&] {
    in_b_before = dtx_last_error();
    dtxi_fail(DTX_EIO, "thread b message");
    in_b_after = dtx_last_error();
  });
  b.join();
  EXPECT_EQ(in_a, "thread a message 1");
  EXPECT_EQ(in_b_before, "");  // a's message is not seen on b
  EXPECT_EQ(in_b_after, "thread b message");
  EXPECT_STREQ(dtx_last_error(), "main thread message");  // nor on the main thread
}

TEST(Status, ManyThreadsKeepTheirOwnMessages) {
  constexpr int kThreads = 8, kRounds = 2000;
  std::vector<std::thread> threads;
  std::vector<int> mismatches(kThreads, 0);
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([t, &mismatches] {
      for (int i = 0; i < kRounds; i++) {
        dtxi_fail(DTX_ETASK, "thread %d round %d", t, i);
        std::string want = "thread " + std::to_string(t) + " round " + std::to_string(i);
        if (want != dtx_last_error()) mismatches[t]++;
      }
    });
  }
  for (auto &th : threads) th.join();
  for (int t = 0; t < kThreads; t++) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST(Status, LongFormattedMessageTruncatedSafely) {
  std::string longer(5000, 'x');
  dtxi_fail(DTX_EINVAL, "head %s tail", longer.c_str());
  const char *msg = dtx_last_error();
  ASSERT_EQ(std::strlen(msg), static_cast<size_t>(DTXI_LAST_ERROR_MAX - 1));
  EXPECT_EQ(std::string(msg, 5), "head ");
  EXPECT_EQ(std::string(msg + 5), std::string(DTXI_LAST_ERROR_MAX - 1 - 5, 'x'));
}

TEST(Status, LongCopiedMessageTruncatedSafely) {
  std::string longer(3000, 'y');
  dtxi_fail_msg(DTX_EINVAL, longer.c_str());
  EXPECT_EQ(std::string(dtx_last_error()), std::string(DTXI_LAST_ERROR_MAX - 1, 'y'));
}

TEST(Status, TruncationNeverSplitsAUtf8Character) {
  // 1022 ASCII bytes, then a 3-byte character straddling byte 1023.
  std::string text(DTXI_LAST_ERROR_MAX - 2, 'a');
  text += "\xE2\x82\xAC and more";  // U+20AC EURO SIGN
  dtxi_fail(DTX_EINVAL, "%s", text.c_str());
  EXPECT_EQ(std::string(dtx_last_error()), std::string(DTXI_LAST_ERROR_MAX - 2, 'a'));
  dtxi_fail_msg(DTX_EINVAL, text.c_str());
  EXPECT_EQ(std::string(dtx_last_error()), std::string(DTXI_LAST_ERROR_MAX - 2, 'a'));

  // A character that ends exactly at the limit is kept whole.
  std::string fits(DTXI_LAST_ERROR_MAX - 4, 'b');
  fits += "\xE2\x82\xAC!";
  dtxi_fail(DTX_EINVAL, "%s", fits.c_str());
  EXPECT_EQ(std::string(dtx_last_error()), std::string(DTXI_LAST_ERROR_MAX - 4, 'b') + "\xE2\x82\xAC");
}

TEST(Status, MessageOfExactlyTheLimitMinusOneKept) {
  std::string text(DTXI_LAST_ERROR_MAX - 1, 'z');
  dtxi_fail(DTX_EINVAL, "%s", text.c_str());
  EXPECT_EQ(std::string(dtx_last_error()), text);
}

TEST(Status, CheckGotoJumpsOnFailure) {
  int reached = -1;
  EXPECT_EQ(TwoSteps(DTX_OK, &reached), DTX_OK);
  EXPECT_EQ(reached, 2);
  EXPECT_EQ(TwoSteps(DTX_ENOMEM, &reached), DTX_ENOMEM);
  EXPECT_EQ(reached, 0);
}

TEST(StatusDeathTest, AssertFailPrintsExpressionAndAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(dtxi_assert_fail("n > 0", "graph.c", 42), "dtx: assertion failed: n > 0 \\(graph.c:42\\)");
}

TEST(StatusDeathTest, AssertMacroFiresOnlyWhenFalse) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  int n = 0;
  DTX_ASSERT(n == 0);  // holds: nothing happens
  EXPECT_DEATH(DTX_ASSERT(n == 1), "dtx: assertion failed: n == 1 \\(.*status_test.cc:[0-9]+\\)");
}

TEST(Version, MatchesHeader) {
  EXPECT_STREQ(dtx_version(), DTX_VERSION_STRING);
  std::string v = std::to_string(DTX_VERSION_MAJOR) + "." + std::to_string(DTX_VERSION_MINOR) + "." +
                  std::to_string(DTX_VERSION_PATCH);
  EXPECT_EQ(v, dtx_version());
}
