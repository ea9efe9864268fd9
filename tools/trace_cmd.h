/*
 * tools/trace_cmd.h - `dtx trace`: reading a profile trace back.
 */
#ifndef DTX_TOOLS_TRACE_CMD_H
#define DTX_TOOLS_TRACE_CMD_H

#include <stdio.h>

/* Runs `dtx trace <argv...>` (argv without "dtx trace"). Exit status: 0
 * success, 1 the trace could not be read or the page written, 2 bad usage. */
int cmd_trace(int argc, char **argv);
/* The usage lines of `dtx trace`, for the program's usage text. */
void trace_usage(FILE *out);

#endif /* DTX_TOOLS_TRACE_CMD_H */
