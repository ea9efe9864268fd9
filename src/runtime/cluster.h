/*
 * runtime/cluster.h - the cluster: the one place that knows every layer.
 *
 * A dtx_cluster begins with the scheduler's state (dtxi_sched), which the
 * scheduler layer reaches through dtxi_sched_of; the rest is what only the
 * runtime needs (its settings as resolved at creation, the device backend it
 * opened, why there are no GPUs, the limits in bytes). Created and destroyed
 * by one thread; read-only in between.
 */
#ifndef DTXI_CLUSTER_H
#define DTXI_CLUSTER_H

#include <stddef.h>

#include "base/config.h"
#include "device/backend.h"
#include "device/device.h"
#include "dtx/cluster.h"
#include "runtime/runtime.h"
#include "scheduler/sched.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dtx_cluster {
  dtxi_sched s;      /* first: dtxi_sched_of casts a dtx_cluster to it */
  dtxi_settings set; /* every setting, resolved once at creation (set.v.trace_path: NULL without a trace) */
  struct dtxi_backend *backend;     /* NULL without GPUs */
  char gpu_why[256];                /* why there are none */
  size_t gpu_limits[DTXI_MAX_GPUS]; /* device_memory_limit of each GPU in bytes; 0: none */
};

#ifndef __cplusplus
_Static_assert(offsetof(struct dtx_cluster, s) == 0, "dtxi_sched_of needs the scheduler state first");
#endif

#ifdef __cplusplus
}
#endif

#endif /* DTXI_CLUSTER_H */
