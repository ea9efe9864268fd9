/*
 * runtime/cluster.h - the cluster: the one place that knows every layer.
 *
 * A dtx_cluster begins with the scheduler's state (dtxi_sched), which the
 * scheduler layer reaches through dtxi_sched_of; the rest is what only the
 * runtime needs (the device backend it opened, why there are no GPUs, the
 * resolved limits). Created and destroyed by one thread.
 */
#ifndef DTXI_CLUSTER_H
#define DTXI_CLUSTER_H

#include <stddef.h>

#include "device/backend.h"
#include "device/device.h"
#include "dtx/cluster.h"
#include "runtime/runtime.h"
#include "scheduler/sched.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dtx_cluster {
  dtxi_sched s; /* first: dtxi_sched_of casts a dtx_cluster to it */
  int scheduler_given; /* by the config (not the default) */
  char *trace_path;
  struct dtxi_backend *backend; /* NULL without GPUs */
  char gpu_why[256];            /* why there are none */
  size_t gpu_limits[DTXI_MAX_GPUS];
  int streams_per_gpu;
};

#ifndef __cplusplus
_Static_assert(offsetof(struct dtx_cluster, s) == 0, "dtxi_sched_of needs the scheduler state first");
#endif

#ifdef __cplusplus
}
#endif

#endif /* DTXI_CLUSTER_H */
