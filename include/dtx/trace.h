/*
 * dtx/trace.h - reading a profile trace back: the text summary and the HTML
 * page (`dtx trace summary`, `dtx trace html`).
 *
 * A trace is the Chrome trace JSON a cluster writes with DTX_TRACE=path.json
 * (or any Chrome trace JSON file). Reading needs libjansson at build time;
 * without it these calls fail with DTX_EINVAL and a message saying so.
 */
#ifndef DTX_TRACE_H
#define DTX_TRACE_H

#include <stdio.h>

#include "dtx/export.h"
#include "dtx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Prints the summary of trace file trace_path to out, at most 80 columns
 * wide: utilisation and idle gaps per track (CPU worker, GPU stream), count and
 * total / mean / max duration per task prefix, the critical path against the
 * wall time, bytes and GB/s per link, spills, errors and peak memory. */
DTX_API dtx_status dtx_trace_summary(const char *trace_path, FILE *out);

/* Writes a self-contained HTML page of trace file trace_path to html_path:
 * the task stream (one row per CPU worker and GPU stream, a colour per task
 * prefix, transfers red, spills orange, errors black), a plot of memory per
 * device, and the summary tables. Needs no network and no server. */
DTX_API dtx_status dtx_trace_html(const char *trace_path, const char *html_path);

#ifdef __cplusplus
}
#endif
#endif /* DTX_TRACE_H */
