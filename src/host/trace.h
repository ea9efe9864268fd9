/*
 * host/trace.h - the profile trace: Chrome trace JSON for Perfetto, plus NVTX.
 *
 * A dtxi_trace writes events to a file as they are handed in (complete slices
 * "X", metadata "M"); the writer holds a mutex per call, so any thread may
 * emit. The file is valid JSON after dtxi_trace_close writes the closing
 * bracket. Track ids: workers use their index + 1; other threads (a `sync`
 * computation's caller) get ids from dtxi_trace_caller_tid.
 */
#ifndef DTXI_TRACE_H
#define DTXI_TRACE_H

#include <stdint.h>

#include "dtx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dtxi_trace dtxi_trace;

/* Monotonic clock in nanoseconds. */
uint64_t dtxi_now_ns(void);

dtx_status dtxi_trace_open(const char *path, dtxi_trace **out);
/* Writes the footer and closes the file. Accepts NULL. */
void dtxi_trace_close(dtxi_trace *t);
void dtxi_trace_flush(dtxi_trace *t);
/* Names a process (process_name metadata, pid 1 = host; pid 1 is named
 * "dtx host" automatically before its first event unless named here first) and
 * orders it among processes by sort_index (process_sort_index metadata). */
void dtxi_trace_process_name(dtxi_trace *t, int pid, const char *name, int sort_index);
/* Names a track (thread_name metadata) of process `pid` (1 = host); tracks are
 * ordered by tid (thread_sort_index metadata). */
void dtxi_trace_thread_name(dtxi_trace *t, int pid, int tid, const char *name);
/* A complete slice. name is a task key; cat e.g. "task"; prefix goes in args. */
void dtxi_trace_slice(dtxi_trace *t, int pid, int tid, const char *name, const char *cat, const char *prefix,
                      uint64_t t0_ns, uint64_t t1_ns);
/* The track id of the calling non-worker thread (named "caller N" on first use). */
int dtxi_trace_caller_tid(dtxi_trace *t);
const char *dtxi_trace_path(const dtxi_trace *t);

/* NVTX ranges in the "dtx" domain (no-ops when built without NVTX). */
void dtxi_nvtx_push(const char *name, int64_t payload);
void dtxi_nvtx_pop(void);
void dtxi_nvtx_name_thread(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* DTXI_TRACE_H */
