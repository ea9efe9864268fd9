/*
 * device/device.h - what GPUs this process can see.
 *
 * Built without CUDA, or with CUDA but no driver or no device, the probe finds
 * 0 GPUs and says why; it never fails.
 */
#ifndef DTXI_DEVICE_H
#define DTXI_DEVICE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DTXI_MAX_GPUS 16

typedef struct dtxi_gpu_info {
  char name[128];
  size_t total_memory;
  int cc_major, cc_minor;
} dtxi_gpu_info;

typedef struct dtxi_gpu_probe {
  int count;
  dtxi_gpu_info gpu[DTXI_MAX_GPUS];
  char why_none[256]; /* when count == 0: "built without CUDA", "no CUDA driver: ..." */
} dtxi_gpu_probe;

/* Fills *p; the result is cached after the first call. Thread safe. */
void dtxi_gpu_probe_run(dtxi_gpu_probe *p);

#ifdef DTX_HAVE_CUDA
/* The CUDA half (device/cuda/device_cuda.c): fills a zeroed *p from the CUDA
 * runtime, setting why_none when it finds no GPU. Called once by device.c. */
void dtxi_gpu_probe_cuda(dtxi_gpu_probe *p);
#endif

#ifdef __cplusplus
}
#endif
#endif /* DTXI_DEVICE_H */
