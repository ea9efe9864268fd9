/*
 * scheduler/progress.h - watching one computation: the progress bar on stderr
 * (DTX_PROGRESS, like Dask's ProgressBar) and the performance report
 * (DTX_REPORT or dtx_cluster_config.report_path, like Dask's
 * performance_report).
 *
 * dtx_compute calls dtxi_watch_begin once after planning; it returns NULL
 * (the usual case, a check of settings read once) unless a bar or a report is
 * wanted. With a watch, every task that leaves the run (ran, failed, or was
 * skipped because an input failed) calls dtxi_watch_task from the thread that
 * finished it, and the caller ends with dtxi_watch_end after the run's trace
 * slices are written.
 *
 * The bar is drawn by one progress thread for the whole process, which sleeps
 * on a condition variable between redraws (at most 10 a second on a terminal,
 * 1 a second otherwise), and exits after a second with nothing to draw. A
 * computation shorter than DTXI_PROGRESS_MIN_NS draws nothing at all.
 */
#ifndef DTXI_PROGRESS_H
#define DTXI_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "dtx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct run;
typedef struct dtxi_watch dtxi_watch;

/* A computation draws its bar only once it has run this long. */
#define DTXI_PROGRESS_MIN_NS 250000000ull

/* Starts watching run r (planned, not started): NULL when neither a progress
 * bar nor a report is wanted, or when out of memory (the run goes on unwatched). */
dtxi_watch *dtxi_watch_begin(struct run *r);
/* A task of the run with prefix id `prefix` (the graph's) is done; failed when
 * it failed or was skipped. worker: the worker index of the calling thread
 * when it is a worker of the run's cluster, else -1. Any thread; lock free, and
 * without a locked instruction on the workers and the calling thread. */
void dtxi_watch_task(dtxi_watch *w, int worker, uint32_t prefix, int failed);
/* The run is over: draws the bar's last frame (if it was shown), writes the
 * report (a failure is logged as a warning, never returned), frees w. */
void dtxi_watch_end(dtxi_watch *w);

/* ---- for tests and benchmarks ------------------------------------------------ */

/* Where and how bars are drawn: fd (-1: stderr), tty (-1: isatty(fd)), width
 * in columns (0: the terminal's, else 80), min_ns (UINT64_MAX: the default
 * DTXI_PROGRESS_MIN_NS), force (-1: the cluster's progress setting, DTX_PROGRESS,
 * decides; 0 off; 1 on). */
void dtxi_progress_configure(int fd, int tty, int width, uint64_t min_ns, int force);
/* Renders w's frame as it stands (final: as the last frame) into buf (a NUL-
 * terminated text of whole lines, each ending in '\n'); returns its line count. */
int dtxi_progress_render(dtxi_watch *w, int final, int width, char *buf, size_t cap);
/* Frames drawn so far by the progress thread and by dtxi_watch_end. */
uint64_t dtxi_progress_frames(void);

#ifdef __cplusplus
}
#endif
#endif /* DTXI_PROGRESS_H */
