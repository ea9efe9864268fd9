/*
 * device/links.h - the link-bandwidth table measured at start-up, and the GPU
 * part of the cluster report (`dtx info`).
 *
 * One timed copy per link (host->gpu i, gpu i->host, gpu i->gpu j for every
 * ordered pair), best of three, through the backend interface only, so the
 * same code measures real and simulated GPUs. Placement reads the table with
 * dtxi_links_cost_ns; `dtx info` prints it.
 *
 * A dtxi_links is plain data: filled once by dtxi_links_measure on one
 * thread, then only read (from any thread).
 */
#ifndef DTXI_LINKS_H
#define DTXI_LINKS_H

#include <stddef.h>
#include <stdio.h>

#include "device/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Table index of a device index or DTXI_HOST: 0 = host, i + 1 = gpu i. */
#define DTXI_LINK_INDEX(dev) ((dev) + 1)

typedef struct dtxi_links {
  int ndev;          /* devices measured */
  size_t copy_bytes; /* size of each timed copy */
  /* gbps[from][to] in GB/s (1e9 bytes per second), indexed by
   * DTXI_LINK_INDEX; 0 where not measured: the diagonal, and links whose copy
   * failed. */
  double gbps[DTXI_MAX_GPUS + 1][DTXI_MAX_GPUS + 1];
} dtxi_links;

/* Default size of a timed copy: on real GPUs, and on sim. */
#define DTXI_LINKS_COPY_BYTES ((size_t)8 << 20)
#define DTXI_LINKS_SIM_COPY_BYTES ((size_t)1 << 20)

/* Measures every link of b with the default copy size (8 MiB on real GPUs,
 * 1 MiB on sim). Never fails for a failed copy or allocation: that link stays
 * 0 and the reason is logged at info level. DTX_EINVAL for NULL arguments,
 * DTX_ENOMEM when the host buffer cannot be had. b may have 0 devices. */
dtx_status dtxi_links_measure(dtxi_backend *b, dtxi_links *out);
/* The same with copies of `bytes` (at least 1; capped at 1/8 of each
 * device's capacity so a small simulated device can still be measured). */
dtx_status dtxi_links_measure_size(dtxi_backend *b, size_t bytes, dtxi_links *out);

/* Estimated nanoseconds to move `bytes` from `from` to `to` (device indices
 * or DTXI_HOST): bytes / bandwidth. 0 when from == to; INFINITY when the link
 * was not measured or failed, or an index is out of range. */
double dtxi_links_cost_ns(const dtxi_links *l, int from, int to, size_t bytes);

/* Prints the matrix, rows = from, columns = to, one header line then ndev + 1
 * rows (host first), columns aligned:
 *   GB/s   host  gpu0  gpu1
 *   host      X  12.1  12.0
 *   gpu0   13.1     X  48.7
 * "X" on the diagonal; "-" for a link that failed. */
void dtxi_links_print(const dtxi_links *l, int ndev, FILE *out);

/* The GPU part of the cluster report: each GPU (name, memory, limit,
 * streams), the link table, and on CUDA builds the NCCL version found by
 * dlopen("libnccl.so.2") ("NCCL: not found" otherwise; nothing about NCCL on
 * builds without CUDA). limits[i] is gpu i's memory limit in bytes, 0 = none;
 * limits may be NULL (no limits); links may be NULL (not measured). Prints
 * nothing when b is NULL: the caller says why there is no GPU. */
void dtxi_report_gpus(FILE *out, const dtxi_backend *b, const dtxi_links *links, int streams_per_gpu,
                      const size_t *limits);

#ifdef __cplusplus
}
#endif
#endif /* DTXI_LINKS_H */
