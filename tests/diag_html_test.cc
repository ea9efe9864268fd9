// tests/diag_html_test.cc - the HTML page of a trace (diag/html.c): one slice
// rectangle per slice with the right colour (a colour per task prefix,
// transfers red, spills orange, errors black), tooltip data, a
// self-contained page, merging of sub-pixel slices in huge traces, and the
// page written through dtx_trace_html. Headless Chromium's check that the page
// loads and draws lives in diag_browser.cmake.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "diag/report.h"
#include "diag/summary.h"
#include "diag/view.h"
#include "dtx/trace.h"

#define NEED_JANSSON()                                                                                 \
  do {                                                                                                 \
    if (!dtxi_diag_available())                                                                        \
      GTEST_SKIP() << "this build has no libjansson (apt-get install libjansson-dev), so it reads no " \
                      "traces";                                                                        \
  } while (0)

namespace {

// Two prefixes (load: 3 slices, 60 us in all; sq: 1 slice, 5 us), a transfer, a
// spill slice, an unspill instant, a failed task, an error instant, and a
// memory counter on GPU 0.
const char *const kTrace = R"({"traceEvents":[
{"ph":"M","pid":1,"tid":1,"name":"thread_name","args":{"name":"worker 0"}},
{"ph":"M","pid":100,"tid":1,"name":"thread_name","args":{"name":"compute-0"}},
{"ph":"M","pid":100,"tid":1002,"name":"thread_name","args":{"name":"d2h"}},
{"ph":"X","pid":1,"tid":1,"name":"load[0]","cat":"task","ts":0,"dur":10,"args":{"key":"load[0]","prefix":"load"}},
{"ph":"X","pid":1,"tid":1,"name":"load[1]","cat":"task","ts":10,"dur":20,"args":{"key":"load[1]","prefix":"load"}},
{"ph":"X","pid":100,"tid":1,"name":"load[2]","cat":"task","ts":0,"dur":30,"args":{"key":"load[2]","prefix":"load","device":0}},
{"ph":"X","pid":1,"tid":1,"name":"sq<&>[0]","cat":"task","ts":40,"dur":5,"args":{"key":"sq<&>[0]","prefix":"sq<&>","inputs":["load[0]"]}},
{"ph":"X","pid":100,"tid":1002,"name":"copy load[2]","cat":"transfer","ts":30,"dur":4,"args":{"key":"load[2]","bytes":4096,"link":"gpu0->host"}},
{"ph":"X","pid":100,"tid":1002,"name":"spill load[2]","cat":"spill","ts":35,"dur":2,"args":{"bytes":4096}},
{"ph":"i","pid":100,"tid":1,"name":"unspill load[2]","cat":"unspill","ts":38,"s":"t"},
{"ph":"X","pid":1,"tid":1,"name":"bad[1]","cat":"task","ts":46,"dur":1,"args":{"key":"bad[1]","prefix":"bad","error":"bad[1]: it \"broke\""}},
{"ph":"i","pid":1,"tid":1,"name":"oom","cat":"error","ts":47,"s":"t"},
{"ph":"C","pid":100,"tid":0,"name":"device memory","ts":0,"args":{"used":0}},
{"ph":"C","pid":100,"tid":0,"name":"device memory","ts":30,"args":{"used":4096}}
]})";

struct Rect {
  std::string cls, fill, key, where, dur, bytes, err;
};

std::string Attr(const std::string &tag, const char *name) {
  std::string pat = std::string(" ") + name + "=\"";
  size_t at = tag.find(pat);
  if (at == std::string::npos) return "";
  at += pat.size();
  return tag.substr(at, tag.find('"', at) - at);
}

// Every <rect class="s ..."> (slices) or <rect class="i ..."> (instants).
std::vector<Rect> Rects(const std::string &html, const char *kind) {
  std::vector<Rect> out;
  std::string open = std::string("<rect class=\"") + kind + " ";
  for (size_t at = html.find(open); at != std::string::npos; at = html.find(open, at + 1)) {
    std::string tag = html.substr(at, html.find("/>", at) - at);
    Rect r;
    r.cls = Attr(tag, "class");
    r.fill = Attr(tag, "fill");
    r.key = Attr(tag, "data-k");
    r.where = Attr(tag, "data-v");
    r.dur = Attr(tag, "data-d");
    r.bytes = Attr(tag, "data-b");
    r.err = Attr(tag, "data-e");
    out.push_back(r);
  }
  return out;
}

std::string Page(const std::string &text) {
  dtxi_view *v = nullptr;
  dtxi_summary *s = nullptr;
  EXPECT_EQ(dtxi_view_load_text(text.data(), text.size(), "test", &v), DTX_OK) << dtx_last_error();
  if (v == nullptr) return "";
  EXPECT_EQ(dtxi_summary_make(v, &s), DTX_OK) << dtx_last_error();
  char *buf = nullptr;
  size_t size = 0;
  FILE *out = open_memstream(&buf, &size);
  EXPECT_EQ(dtxi_html_write(v, s, "test <page>", out), DTX_OK) << dtx_last_error();
  fclose(out);
  std::string html(buf, size);
  free(buf);
  dtxi_summary_free(s);
  dtxi_view_free(v);
  return html;
}

}  // namespace

TEST(DiagHtml, OneRectanglePerSliceWithItsColour) {
  NEED_JANSSON();
  std::string html = Page(kTrace);
  std::vector<Rect> slices = Rects(html, "s");
  ASSERT_EQ(slices.size(), 7u) << "7 X events";
  std::map<std::string, int> by_class;
  for (const Rect &r : slices) by_class[r.cls]++;
  EXPECT_EQ(by_class["s task"], 4);
  EXPECT_EQ(by_class["s xfer"], 1);
  EXPECT_EQ(by_class["s spill"], 1);
  EXPECT_EQ(by_class["s err"], 1);
  // The largest prefix by time (load) takes the palette's first colour, sq the second.
  for (const Rect &r : slices) {
    if (r.key.rfind("load[", 0) == 0 && r.cls == "s task") {
      EXPECT_EQ(r.fill, dtxi_html_prefix_colour(0)) << r.key;
    }
    if (r.cls == "s xfer") {
      EXPECT_EQ(r.fill, DTXI_HTML_TRANSFER);
      EXPECT_EQ(r.bytes, "4.00 KiB, gpu0-&gt;host");
      EXPECT_EQ(r.dur, "4.00 us");
    }
    if (r.cls == "s spill") {
      EXPECT_EQ(r.fill, DTXI_HTML_SPILL);
    }
    if (r.cls == "s err") {
      EXPECT_EQ(r.fill, DTXI_HTML_ERROR);
      EXPECT_EQ(r.err, "bad[1]: it &quot;broke&quot;");
    }
  }
  int sq = 0;
  for (const Rect &r : slices) {
    if (r.key == "sq&lt;&amp;&gt;[0]") {
      sq++;
      EXPECT_EQ(r.fill, dtxi_html_prefix_colour(1));
      EXPECT_EQ(r.where, "pid 1 / worker 0");
    }
    if (r.key == "load[2]" && r.cls == "s task") {
      EXPECT_EQ(r.where, "pid 100 / compute-0 (device 0)");
    }
  }
  EXPECT_EQ(sq, 1) << "keys are escaped";
  // No palette colour is red, orange or black.
  for (size_t i = 0; i < 24; i++) {
    std::string c = dtxi_html_prefix_colour(i);
    EXPECT_NE(c, DTXI_HTML_TRANSFER);
    EXPECT_NE(c, DTXI_HTML_SPILL);
    EXPECT_NE(c, DTXI_HTML_ERROR);
  }
  // Instants: the unspill (orange) and the error (black).
  std::vector<Rect> marks = Rects(html, "i");
  ASSERT_EQ(marks.size(), 2u);
  EXPECT_EQ(marks[0].fill, DTXI_HTML_SPILL);
  EXPECT_EQ(marks[1].fill, DTXI_HTML_ERROR);
}

TEST(DiagHtml, SelfContainedWithRowsPlotAndTables) {
  NEED_JANSSON();
  std::string html = Page(kTrace);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  // Nothing is fetched: no external scripts, styles, images or fonts.
  for (const char *bad :
       {" src=", "<link", "@import", "url(", "href=", "https://", "fetch(", "XMLHttpRequest"})
    EXPECT_EQ(html.find(bad), std::string::npos) << bad;
  // One row per track with slices, labelled.
  size_t rows = 0;
  for (size_t at = html.find("<rect class=\"row\""); at != std::string::npos;
       at = html.find("<rect class=\"row\"", at + 1))
    rows++;
  EXPECT_EQ(rows, 3u);
  EXPECT_NE(html.find(">pid 100 / d2h</text>"), std::string::npos);
  EXPECT_NE(html.find("<title>dtx: test &lt;page&gt;</title>"), std::string::npos);
  // The memory plot: one step line for GPU 0's counter, peak 4 KiB.
  EXPECT_NE(html.find("<svg id=\"memory\""), std::string::npos);
  EXPECT_NE(html.find("class=\"mem\""), std::string::npos);
  EXPECT_NE(html.find("device memory used (peak 4.00 KiB)"), std::string::npos);
  // The tables and the tooltip script.
  for (const char *part : {"<h2>Tracks</h2>", "<h2>Task prefixes</h2>", "<h2>Critical path</h2>",
                           "<h2>Transfers by link</h2>", "<h2>Spills and errors</h2>", "id=\"tip\"",
                           "id=\"drawn\"", "data-ready", "addEventListener('mousemove'"})
    EXPECT_NE(html.find(part), std::string::npos) << part;
  EXPECT_NE(html.find("1 spilled (4.00 KiB), 1 brought back (0 B); 2 errors."), std::string::npos);
}

TEST(DiagHtml, HugeTracesMergeSubPixelNeighbours) {
  NEED_JANSSON();
  // 60,000 back-to-back 1 us slices of one prefix on one track, plus one
  // transfer in the middle: far narrower than a pixel, so neighbours of the
  // same colour merge and the transfer stays its own rectangle.
  size_t n = DTXI_HTML_MERGE_ABOVE + 10000;
  std::string text = "{\"traceEvents\":[\n";
  for (size_t i = 0; i < n; i++) {
    text += "{\"ph\":\"X\",\"pid\":1,\"tid\":1,\"name\":\"t[" + std::to_string(i) +
            "]\",\"ts\":" + std::to_string(i) + ",\"dur\":1},\n";
  }
  text +=
      "{\"ph\":\"X\",\"pid\":1,\"tid\":1,\"name\":\"copy\",\"cat\":\"transfer\",\"ts\":30000.5,\"dur\":0.2}"
      "\n]}";
  std::string html = Page(text);
  std::vector<Rect> slices = Rects(html, "s");
  EXPECT_LT(slices.size(), 2000u);
  EXPECT_GE(slices.size(), 3u);  // before the transfer, the transfer, after it
  int xfer = 0;
  for (const Rect &r : slices) xfer += r.cls == "s xfer";
  EXPECT_EQ(xfer, 1);
  EXPECT_NE(html.find("drawn together"), std::string::npos);
  EXPECT_NE(html.find("data-n=\""), std::string::npos);
}

TEST(DiagHtml, WrittenThroughThePublicCall) {
  NEED_JANSSON();
  std::string dir = ::testing::TempDir() + "dtx_diag_html_" + std::to_string(::getpid());
  std::string json = dir + ".json", html = dir + ".html";
  {
    std::ofstream out(json);
    out << kTrace;
  }
  ASSERT_EQ(dtx_trace_html(json.c_str(), html.c_str()), DTX_OK) << dtx_last_error();
  std::ifstream in(html);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(Rects(ss.str(), "s").size(), 7u);
  EXPECT_NE(ss.str().find(json), std::string::npos) << "titled by the trace's path";
  // No temporary file left beside it.
  EXPECT_NE(access(html.c_str(), F_OK), -1);
  EXPECT_EQ(access((html + ".tmp." + std::to_string(::getpid())).c_str(), F_OK), -1);
  // A page into a directory that does not exist: a clear error.
  std::string nowhere = dir + "/no/such/dir/page.html";
  EXPECT_EQ(dtx_trace_html(json.c_str(), nowhere.c_str()), DTX_EIO);
  EXPECT_NE(std::string(dtx_last_error()).find(nowhere), std::string::npos) << dtx_last_error();
  EXPECT_EQ(dtx_trace_html(json.c_str(), nullptr), DTX_EINVAL);
  std::remove(json.c_str());
  std::remove(html.c_str());
}
