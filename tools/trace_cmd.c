/*
 * tools/trace_cmd.c - `dtx trace`: a profile trace (DTX_TRACE=path.json) read
 * back as text or as a picture.
 *
 *   dtx trace summary FILE.json             the summary on stdout, 80 columns
 *   dtx trace html FILE.json -o OUT.html    one self-contained HTML page
 *
 * Both go through the library (dtx/trace.h). Exit status: 0 success, 1 the
 * trace could not be read or the page written (the reason on stderr), 2 bad
 * usage.
 */
#include "trace_cmd.h"

#include <string.h>

#include "dtx/status.h"
#include "dtx/trace.h"

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

void trace_usage(FILE *out) {
  fputs(
      "  trace      read a profile trace back (write one with DTX_TRACE=path.json)\n"
      "               summary FILE.json           utilisation per track, idle gaps,\n"
      "                                           time per task prefix, critical path,\n"
      "                                           bytes per link, spills, errors\n"
      "               html FILE.json -o OUT.html  a self-contained page: task stream,\n"
      "                                           memory plot, the summary tables\n",
      out);
}

static int trace_usage_error(const char *fmt, const char *arg) {
  fputs("dtx trace: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\n\nusage:\n", stderr);
  trace_usage(stderr);
  return EXIT_USAGE;
}

static int failed(const char *what, dtx_status rc) {
  fprintf(stderr, "dtx trace %s: %s (%s)\n", what, dtx_last_error(), dtx_status_name(rc));
  return EXIT_FAIL;
}

int cmd_trace(int argc, char **argv) {
  if (argc < 1) return trace_usage_error("%s", "say what to do: summary or html");
  const char *what = argv[0];
  if (strcmp(what, "summary") == 0) {
    if (argc != 2) return trace_usage_error("%s", "summary takes one trace file");
    dtx_status rc = dtx_trace_summary(argv[1], stdout);
    if (fflush(stdout) != 0 && rc == DTX_OK) rc = DTX_EIO;
    return rc == DTX_OK ? 0 : failed("summary", rc);
  }
  if (strcmp(what, "html") == 0) {
    const char *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
      if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
        if (i + 1 >= argc) return trace_usage_error("%s", "-o wants the path of the page to write");
        out = argv[++i];
      } else if (in == NULL) {
        in = argv[i];
      } else {
        return trace_usage_error("unexpected argument '%s'", argv[i]);
      }
    }
    if (in == NULL) return trace_usage_error("%s", "html takes a trace file");
    if (out == NULL) return trace_usage_error("%s", "html needs -o OUT.html");
    dtx_status rc = dtx_trace_html(in, out);
    if (rc != DTX_OK) return failed("html", rc);
    printf("wrote %s\n", out);
    return 0;
  }
  return trace_usage_error("unknown trace command '%s' (summary or html)", what);
}
