/*
 * device/cuda/device_cuda.c - the CUDA half of the GPU probe (device/device.c).
 *
 * Compiled only when the CUDA toolkit is found; links cudart_static, so a
 * binary built here runs on machines with no driver and reports why it sees
 * no GPU instead of failing. Owns nothing: device.c calls it once, under its
 * pthread_once, and caches the result. Any CUDA error leaves count 0 and a
 * why_none naming the call and the runtime's message; it never fails.
 */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <string.h>

#include "device/device.h"

void dtxi_gpu_probe_cuda(dtxi_gpu_probe *p) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    const char *what = e == cudaErrorInsufficientDriver
                           ? "no CUDA driver found, or it is older than the runtime"
                       : e == cudaErrorNoDevice ? "no CUDA device found"
                                                : "CUDA is unavailable";
    snprintf(p->why_none, sizeof p->why_none, "%s (cudaGetDeviceCount: %s)", what, cudaGetErrorString(e));
    (void)cudaGetLastError(); /* leave no sticky error behind for later callers */
    p->count = 0;
    return;
  }
  if (n == 0) {
    snprintf(p->why_none, sizeof p->why_none, "no CUDA device found (cudaGetDeviceCount returned 0)");
    p->count = 0;
    return;
  }
  if (n > DTXI_MAX_GPUS) n = DTXI_MAX_GPUS;
  int count = 0;
  for (int i = 0; i < n; i++) {
    struct cudaDeviceProp prop;
    memset(&prop, 0, sizeof prop);
    if ((e = cudaGetDeviceProperties(&prop, i)) != cudaSuccess) {
      /* Report the devices before it; a failing device is not usable. */
      if (count == 0) {
        snprintf(p->why_none, sizeof p->why_none, "cudaGetDeviceProperties(%d): %s", i,
                 cudaGetErrorString(e));
      }
      (void)cudaGetLastError();
      break;
    }
    dtxi_gpu_info *g = &p->gpu[count++];
    const char *name = prop.name[0] != '\0' ? prop.name : "unnamed CUDA device";
    size_t len = strnlen(name, sizeof g->name - 1); /* names longer than 127 bytes are cut */
    memcpy(g->name, name, len);
    g->name[len] = '\0';
    g->total_memory = prop.totalGlobalMem;
    g->cc_major = prop.major;
    g->cc_minor = prop.minor;
  }
  p->count = count;
}
