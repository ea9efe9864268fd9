/*
 * diag/report.h - the HTML page of a trace (task stream, memory plot,
 * summary tables) and the performance report a computation writes.
 *
 * The page is one self-contained file: inline CSS, inline SVG, a little
 * inline JavaScript for the hover tooltips; it fetches nothing. Rows: one per
 * track with slices (CPU workers, callers, GPU streams), in the trace's track
 * order. Colours: one per task prefix (a fixed palette that avoids the colours
 * below), transfers red (DTXI_HTML_TRANSFER), spills and unspills orange
 * (DTXI_HTML_SPILL), failed tasks and error instants black (DTXI_HTML_ERROR),
 * idle white. Every slice is one <rect class="s ..."> with its data in
 * data-* attributes, until DTXI_HTML_MERGE_ABOVE slices: then slices narrower
 * than a pixel that touch the previous one of the same colour on their row are
 * drawn as one rectangle (the page says how many). When its script has run,
 * the page writes the number of slice rectangles into #drawn and sets
 * data-ready="1" on <body>; a script error is shown in #errors.
 */
#ifndef DTXI_DIAG_REPORT_H
#define DTXI_DIAG_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "diag/summary.h"
#include "trace/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DTXI_HTML_TRANSFER "#d62728"
#define DTXI_HTML_SPILL "#ff7f0e"
#define DTXI_HTML_ERROR "#000000"
#define DTXI_HTML_MERGE_ABOVE 50000

/* The palette colour of the i-th task prefix (by total time, largest first). */
const char *dtxi_html_prefix_colour(size_t i);

/* Writes the page of view v (with its summary s) to out. `title` heads it. */
dtx_status dtxi_html_write(const dtxi_view *v, const dtxi_summary *s, const char *title, FILE *out);

/* Writes the page of trace file `trace_path` to html_path (through a
 * temporary file renamed into place). */
dtx_status dtxi_html_from_file(const char *trace_path, const char *html_path);

/* The performance report: the page of trace t's events since `mark` (and its
 * metadata), written to path. Serialised: computations ending together take
 * turns; the last one to finish leaves its report. */
dtx_status dtxi_report_write(dtxi_trace *t, uint64_t mark, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* DTXI_DIAG_REPORT_H */
