/*
 * trace/trace.h - the profile trace: Chrome trace JSON for Perfetto, plus NVTX.
 *
 * A dtxi_trace writes events to a file as they are handed in (complete slices
 * "X", metadata "M", flows "s"/"t"/"f", counters "C", instants "i"); the
 * writer holds a mutex per call, so any thread may emit. The file is valid
 * JSON after dtxi_trace_close writes the closing bracket.
 *
 * Processes and tracks: pid 1 (DTXI_TRACE_HOST_PID) is the host; its tracks
 * are workers (index + 1) and callers (dtxi_trace_caller_tid, 1000 + n).
 * GPU g is pid 100 + g (DTXI_TRACE_GPU_PID), named by dtxi_trace_gpu_process;
 * its tracks are streams, one tid per label from dtxi_trace_stream_track.
 *
 * Times are dtxi_now_ns() values (host CLOCK_MONOTONIC); GPU times must be
 * converted to host time before they are handed in.
 */
#ifndef DTXI_TRACE_H
#define DTXI_TRACE_H

#include <stddef.h>
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

/* ---- GPUs, transfers, flows, counters, instants ------------------------------
 *
 * The "args" text taken by dtxi_trace_slice_args and dtxi_trace_instant must be
 * one JSON object, e.g. {"device":0,"bytes":4096}; it is checked (full JSON
 * grammar, nesting depth <= 32) and dropped, with a debug log, when it is not,
 * so a bad argument never breaks the file. The event itself is still written.
 */

#define DTXI_TRACE_HOST_PID 1
#define DTXI_TRACE_GPU_PID_BASE 100
#define DTXI_TRACE_MAX_GPUS 256 /* GPUs 0 .. 255 */
#define DTXI_TRACE_GPU_PID(gpu) (DTXI_TRACE_GPU_PID_BASE + (gpu))

/* Names GPU gpu's process (pid 100 + gpu) "gpu N: <device_name>" ("gpu N" when
 * device_name is NULL or empty), with process_sort_index 100 + gpu so GPUs sort
 * after the host, in device order. The first call per GPU writes; later ones do
 * nothing. Call it at start-up, before any event on that GPU: an event on an
 * unnamed GPU pid (0 <= gpu < DTXI_TRACE_MAX_GPUS) names it "gpu N" first, and
 * a later dtxi_trace_gpu_process then renames it once (the last name wins in
 * Perfetto and chrome://tracing). */
void dtxi_trace_gpu_process(dtxi_trace *t, int gpu, const char *device_name);

/* The tid of GPU gpu's stream track `label`, named `label` (thread_name +
 * thread_sort_index = tid) on first use; later calls with the same (gpu, label)
 * return the same tid and write nothing. Tids are fixed by the label, so they
 * do not depend on call order:
 *   "compute-K" (0 <= K < 1000) -> 1 + K
 *   "h2d" 1001, "d2h" 1002, "peer" 1003, "peer-in" 1004, "peer-out" 1005, "nccl" 1006
 *   any other label             -> 2000 + n (the n-th other label of that GPU)
 * so tracks sort compute streams first, then copies, then NCCL. Names the GPU
 * process "gpu N" if dtxi_trace_gpu_process was not called first. Returns 0
 * (and writes nothing) for a NULL trace, a NULL or empty label or a gpu outside
 * [0, DTXI_TRACE_MAX_GPUS). Takes the lock and scans the GPU's tracks: call it
 * once per stream at start-up and keep the tid. */
int dtxi_trace_stream_track(dtxi_trace *t, int gpu, const char *label);

/* A complete slice like dtxi_trace_slice, with the members of extra_args_json
 * (one JSON object, or NULL) added to args after "key" and "prefix", e.g.
 * {"device":0,"bytes":4096}. Do not repeat "key" or "prefix" in it. With NULL,
 * "{}" or an invalid object the output is exactly dtxi_trace_slice's. GPU task
 * slices go on pid DTXI_TRACE_GPU_PID(gpu) and a dtxi_trace_stream_track tid. */
void dtxi_trace_slice_args(dtxi_trace *t, int pid, int tid, const char *name, const char *cat,
                           const char *prefix, uint64_t t0_ns, uint64_t t1_ns, const char *extra_args_json);

/* A transfer: an "X" slice [t0_ns, t1_ns] on track (pid, tid), cat "transfer",
 * named "copy <what>" (what = the chunk key), args {"key": what, "bytes": bytes,
 * "link": link ("host->gpu1", "gpu0->gpu1"), "via": via ("h2d", "peer",
 * "nccl"), "gbps": bytes / duration in GB/s (1e9 bytes/s, three decimals)};
 * "gbps" is left out when the duration is 0, "link" and "via" when NULL.
 * With flow_id != 0 a flow step ("t") for flow_id follows at t0_ns on the same
 * track, in the same locked write, so the transfer sits on the arrow from the
 * producer's "s" to the consumer's "f" (see dtxi_trace_flow). */
void dtxi_trace_transfer(dtxi_trace *t, int pid, int tid, const char *what, const char *link, const char *via,
                         uint64_t bytes, uint64_t t0_ns, uint64_t t1_ns, uint64_t flow_id);

/*
 * A flow event (an arrow between slices): phase 's' starts flow flow_id, 't'
 * steps through, 'f' finishes it ("bp":"e"). All three carry the same "id",
 * "cat" and "name" ("dataflow"), so viewers match them.
 *
 * Binding rules (Perfetto and chrome://tracing bind a flow event to a slice on
 * its own track, never by id alone):
 *  - ts_ns must lie inside [t0, t1] of the slice the event belongs to, on the
 *    same (pid, tid). Use the slice's start t0: Perfetto sorts a slice before
 *    non-slice events of the same timestamp, so t0 always binds. Perfetto binds
 *    to the most recently started slice on the track, so a ts after that
 *    slice's end binds to it (wrong arrow) and a ts before any slice drops the
 *    event (stats: flow_no_enclosing_slice).
 *  - Along one flow, ts must not decrease: s.ts <= t.ts <= f.ts (events with a
 *    later ts are matched later); with equal ts, emit in order s, t, f.
 *  - flow_id: nonzero, unique per chain for the whole trace (Perfetto never
 *    forgets an id: a second 's' with an old id is dropped as a duplicate) and
 *    below 2^53 (chrome://tracing reads ids as JavaScript numbers). One producer
 *    feeding several consumers needs one id (one 's') per consumer.
 *  - Emit arrows only for edges that cross tracks, to keep the file small.
 * A phase other than 's', 't', 'f' or a flow_id of 0 writes nothing.
 *
 * Typical chain for a chunk made on gpu0 and used on gpu1:
 *   producer slice on (gpu0, compute-k), flow(gpu0 pid, compute tid, prod.t0, id, 's')
 *   dtxi_trace_transfer(gpu1 pid, peer tid, ..., id)      -- writes the 't'
 *   consumer slice on (gpu1, compute-j), flow(gpu1 pid, compute tid, cons.t0, id, 'f')
 */
void dtxi_trace_flow(dtxi_trace *t, int pid, int tid, uint64_t ts_ns, uint64_t flow_id, char phase);

/* A counter sample: {"ph":"C","pid":pid,"tid":0,"name":name,"ts":..,
 * "args":{series: value}}; Perfetto shows it as the process counter track
 * "<name> <series>" (e.g. "memory used"). Integral values print as integers,
 * others with 17 significant digits; NaN and infinities are dropped (JSON has
 * no such numbers). */
void dtxi_trace_counter(dtxi_trace *t, int pid, const char *name, uint64_t ts_ns, const char *series,
                        double value);

/* An instant event on track (pid, tid): {"ph":"i","s":"t",...} with cat (e.g.
 * "spill", "unspill", "error") and args_json (one JSON object, or NULL) as its
 * args. */
void dtxi_trace_instant(dtxi_trace *t, int pid, int tid, const char *name, const char *cat, uint64_t ts_ns,
                        const char *args_json);

/* ---- tasks with their inputs and errors ----------------------------------------
 *
 * A task slice that also says what the task read and how it failed, so that a
 * reader of the trace (dtx trace summary) can rebuild the graph and find the
 * critical path: args {"key", "prefix", <extra_args_json members>,
 * "inputs": [input keys], "error": error}. "inputs" lists at most
 * DTXI_TRACE_MAX_INPUTS keys (then "ninputs" gives the count) and is left out
 * for ninputs 0; "error" is left out for NULL. input_key(ctx, i, buf, n) writes
 * the key of input i (0 <= i < ninputs) into buf (n bytes); it is called on
 * the emitting thread before the trace's lock is taken. cat NULL means "task".
 */
#define DTXI_TRACE_MAX_INPUTS 4096
typedef void (*dtxi_trace_key_fn)(void *ctx, uint32_t i, char *buf, size_t n);
void dtxi_trace_task(dtxi_trace *t, int pid, int tid, const char *key, const char *cat, const char *prefix,
                     uint64_t t0_ns, uint64_t t1_ns, uint32_t ninputs, dtxi_trace_key_fn input_key, void *ctx,
                     const char *error, const char *extra_args_json);

/* ---- size cap, temporary traces, reading back -------------------------------------
 *
 * A trace writes at most max_events events besides metadata (process and track
 * names, never dropped): DTXI_TRACE_MAX_EVENTS_DEFAULT at open, then what the
 * cluster sets here (its trace_max_events setting), 0 = no cap. The first
 * event over the cap is replaced by a global instant named "trace capped after
 * N events" (cat "dtx", args {"max_events": N}); later events are dropped and
 * counted, and the closed file's otherData carries
 * "capped": {"max_events": N, "dropped_events": D}. The file stays valid JSON.
 */
void dtxi_trace_set_max_events(dtxi_trace *t, uint64_t max_events);
/* Events dropped so far because of the cap. */
uint64_t dtxi_trace_dropped(dtxi_trace *t);

/* A trace in an unlinked temporary file under dir (the cluster passes
 * $TMPDIR, else /tmp; NULL or "": /tmp): what a performance report reads back
 * when no trace file was asked for. Its path reads "(temporary trace)"; the
 * file disappears with the process. */
dtx_status dtxi_trace_open_temp(const char *dir, dtxi_trace **out);

/* A position in the trace: events emitted after this call lie after it. */
uint64_t dtxi_trace_mark(dtxi_trace *t);
/* Every metadata event so far and every event emitted since `mark`, as one
 * Chrome trace JSON document (malloc'ed; *len its length without a NUL, which
 * follows). Flushes the trace. Any thread, while others emit. NULL with
 * dtx_last_error() set when the file cannot be read back (opened write-only,
 * or a write failed). */
char *dtxi_trace_read_since(dtxi_trace *t, uint64_t mark, size_t *len);

/* NVTX ranges in the "dtx" domain (no-ops when built without NVTX). */
void dtxi_nvtx_push(const char *name, int64_t payload);
void dtxi_nvtx_pop(void);
void dtxi_nvtx_name_thread(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* DTXI_TRACE_H */
