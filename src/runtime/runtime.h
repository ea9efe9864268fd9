/*
 * runtime/runtime.h - what the layers above the runtime (collections, tools,
 * tests) may ask of a cluster beyond the public API: its device backend, its
 * GPU executor and its settings. Any thread; all are set at creation and fixed
 * after.
 */
#ifndef DTXI_RUNTIME_H
#define DTXI_RUNTIME_H

#include "dtx/cluster.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dtxi_backend;
struct dtxi_gpus;
struct dtxi_settings;

/* The backend the cluster opened (NULL when it has no GPUs). */
struct dtxi_backend *dtxi_cluster_backend(const dtx_cluster *cl);
/* The cluster's GPU executor (NULL when it has no GPUs). */
struct dtxi_gpus *dtxi_cluster_gpus(const dtx_cluster *cl);
/* The cluster's settings as resolved at its creation (base/config.h); NULL
 * for a NULL cluster. Fixed for the cluster's life. */
const struct dtxi_settings *dtxi_cluster_settings(const dtx_cluster *cl);

#ifdef __cplusplus
}
#endif

#endif /* DTXI_RUNTIME_H */
