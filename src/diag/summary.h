/*
 * diag/summary.h - what a trace says at a glance: utilisation and idle gaps
 * per track, durations per task prefix, the critical path against the wall
 * time, bytes and GB/s per link, spills, errors and peak memory.
 *
 * Definitions (all times in microseconds, as in the trace):
 *  - wall: from the first slice's start to the last slice's end.
 *  - busy (per track): the length of the union of its slices; util = busy / wall.
 *  - idle gap: a stretch of the wall time with no slice on the track; `gaps`
 *    counts those of at least DTXI_GAP_FRACTION of the wall time, `longest_gap`
 *    is the longest of any length (with its start, `gap_at`).
 *  - prefix statistics cover task slices (not transfers or spills).
 *  - critical path: the longest chain of slices joined by dependencies, by
 *    the sum of their durations. A dependency is an input key in a slice's
 *    args.inputs (resolved to the latest slice with that key that started no
 *    later than the reader), or a flow arrow (its 's', 't' and 'f' events bind
 *    to the slices around them on their tracks). Without any dependency in the
 *    trace, `has_deps` is 0 and the path is the longest single slice.
 *  - links: transfer slices grouped by args.link (else by track); GB/s =
 *    bytes / the sum of their durations.
 */
#ifndef DTXI_DIAG_SUMMARY_H
#define DTXI_DIAG_SUMMARY_H

#include <stdio.h>

#include "diag/view.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DTXI_GAP_FRACTION 0.01

typedef struct dtxi_strack {
  uint32_t track;
  size_t slices;
  double busy, util, longest_gap, gap_at;
  size_t gaps;
} dtxi_strack;

typedef struct dtxi_sprefix {
  const char *prefix;
  size_t count, failed;
  double total, mean, max;
  const char *max_key;
} dtxi_sprefix;

typedef struct dtxi_slink {
  const char *link;
  size_t count;
  int64_t bytes;
  double time, gbps;
} dtxi_slink;

typedef struct dtxi_smem {
  int pid;
  const char *process, *name;
  double peak, last;
} dtxi_smem;

typedef struct dtxi_serror {
  const char *key, *msg;
  double ts;
} dtxi_serror;

typedef struct dtxi_summary {
  const dtxi_view *view;
  double t0, t1, wall;
  size_t nslices;
  dtxi_strack *tracks; /* tracks with slices, in display order (process sort, track sort) */
  size_t ntracks;
  dtxi_sprefix *prefixes; /* by total time, largest first */
  size_t nprefixes;
  int has_deps;
  size_t nedges;
  double critical; /* the critical path's length */
  size_t *path;    /* its slices (indices into view->slices), first to last */
  size_t npath;
  dtxi_slink *links; /* by bytes, largest first */
  size_t nlinks;
  size_t spills, unspills;
  int64_t spill_bytes, unspill_bytes;
  dtxi_serror *errors; /* failed slices and error instants, in time order */
  size_t nerrors;
  dtxi_smem *memory; /* per (process, counter) */
  size_t nmemory;
  uint32_t *track_order; /* every track of the view, in display order */
} dtxi_summary;

dtx_status dtxi_summary_make(const dtxi_view *v, dtxi_summary **out);
void dtxi_summary_free(dtxi_summary *s);
/* The summary as aligned text, at most 80 columns wide. `title` heads it. */
void dtxi_summary_print(const dtxi_summary *s, const char *title, FILE *out);

/* Time as text with a unit: "850 ns", "12.3 us", "4.56 ms", "1.23 s". */
void dtxi_fmt_time(double us, char *buf, size_t n);
/* Bytes as text: "512 B", "4.0 KiB", "12.5 MiB", "3.00 GiB". */
void dtxi_fmt_bytes(double bytes, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* DTXI_DIAG_SUMMARY_H */
