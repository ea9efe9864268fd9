/*
 * diag/report.c - trace files in, summaries and pages out: the public
 * dtx_trace_summary / dtx_trace_html, and the performance report a
 * computation writes (DTX_REPORT).
 *
 * Pages are written to "<path>.tmp.<pid>" and renamed into place, so a reader
 * never sees half a page. Reports are serialised by `report_mu`: two
 * computations ending at once write one after the other.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "diag/report.h"
#include "dtx/trace.h"

static pthread_mutex_t report_mu = PTHREAD_MUTEX_INITIALIZER;

/* Writes the page of v to path through a temporary file. */
static dtx_status write_page(const dtxi_view *v, const char *title, const char *path) {
  dtxi_summary *s = NULL;
  dtx_status rc = dtxi_summary_make(v, &s);
  if (rc != DTX_OK) return rc;
  size_t n = strlen(path) + 32;
  char *tmp = malloc(n);
  if (tmp == NULL) {
    dtxi_summary_free(s);
    return dtxi_fail(DTX_ENOMEM, "out of memory writing '%s'", path);
  }
  snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (f == NULL) {
    rc = dtxi_fail(DTX_EIO, "cannot write '%s': %s", path, strerror(errno));
  } else {
    rc = dtxi_html_write(v, s, title, f);
    if (fclose(f) != 0 && rc == DTX_OK)
      rc = dtxi_fail(DTX_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (rc == DTX_OK && rename(tmp, path) != 0)
      rc = dtxi_fail(DTX_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (rc != DTX_OK) remove(tmp);
  }
  free(tmp);
  dtxi_summary_free(s);
  return rc;
}

dtx_status dtxi_html_from_file(const char *trace_path, const char *html_path) {
  if (trace_path == NULL || html_path == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_trace_html: trace_path or html_path is NULL");
  dtxi_view *v = NULL;
  dtx_status rc = dtxi_view_load_file(trace_path, &v);
  if (rc != DTX_OK) return rc;
  rc = write_page(v, trace_path, html_path);
  dtxi_view_free(v);
  return rc;
}

dtx_status dtxi_report_write(dtxi_trace *t, uint64_t mark, const char *path) {
  if (t == NULL || path == NULL) return dtxi_fail(DTX_EINVAL, "performance report: no trace to read");
  pthread_mutex_lock(&report_mu);
  size_t len = 0;
  char *text = dtxi_trace_read_since(t, mark, &len);
  dtx_status rc = DTX_OK;
  if (text == NULL) {
    rc = DTX_EIO;
  } else {
    dtxi_view *v = NULL;
    rc = dtxi_view_load_text(text, len, "the computation's trace", &v);
    free(text);
    if (rc == DTX_OK) rc = write_page(v, "performance report of a computation", path);
    dtxi_view_free(v);
  }
  pthread_mutex_unlock(&report_mu);
  return rc;
}

dtx_status dtx_trace_summary(const char *trace_path, FILE *out) {
  if (trace_path == NULL || out == NULL)
    return dtxi_fail(DTX_EINVAL, "dtx_trace_summary: trace_path or out is NULL");
  dtxi_view *v = NULL;
  dtx_status rc = dtxi_view_load_file(trace_path, &v);
  if (rc != DTX_OK) return rc;
  dtxi_summary *s = NULL;
  rc = dtxi_summary_make(v, &s);
  if (rc == DTX_OK) {
    dtxi_summary_print(s, trace_path, out);
    if (ferror(out)) rc = dtxi_fail(DTX_EIO, "dtx_trace_summary: write failed");
  }
  dtxi_summary_free(s);
  dtxi_view_free(v);
  return rc;
}

dtx_status dtx_trace_html(const char *trace_path, const char *html_path) {
  return dtxi_html_from_file(trace_path, html_path);
}
